//! The one place an upload is decided, whatever its source: rights, inspection (size,
//! content, name), then — under the lock of the name, so that racing uploads see each other
//! — title permissions, warnings, the rate limit and the publish.

use mwstore_domain::config::Config;
use mwstore_domain::title::{self, NameError};
use mwstore_storage::coord::LockKey;
use serde_json::json;

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::checks::{self, TitleState};
use crate::ingest::inspect::{self, Facts, Inspection};
use crate::ingest::request::Options;
use crate::ingest::response::UploadOutcome;
use crate::ingest::{publish, stash, Body, Candidate};
use crate::query::{stash_info, InfoProps};

/// The API error of a name that cannot be used.
pub fn name_error(e: &NameError, cfg: &Config) -> ApiError {
    let mut err = ApiError::from_wire(e.code(), e.info(cfg));
    match e {
        NameError::Illegal { filtered } => {
            err.data.insert("filename".into(), filtered.clone().into());
        }
        NameError::Banned {
            filetype,
            blacklisted,
        } => {
            err.data.insert("filetype".into(), filetype.clone().into());
            err.data
                .insert("allowed".into(), json!(title::allowed_extensions(cfg)));
            if !blacklisted.is_empty() {
                err.data.insert("blacklisted".into(), json!(blacklisted));
            }
        }
        _ => {}
    }
    err
}

/// `fileexists-no-change`: the content is the current version's.
fn no_change(name: &str) -> ApiError {
    ApiError::new(
        Code::FileExistsNoChange,
        format!("The upload is an exact duplicate of the current version of [[:File:{name}]]."),
    )
}

/// Stashes the file for a recoverable error on the name or the title and marks the
/// `filename` parameter as the one to change.
async fn recoverable(req: &Req, cand: Candidate, facts: &Facts, mut err: ApiError) -> ApiError {
    stash::stash_recoverable(req, cand, facts, &mut err).await;
    err.data
        .insert("invalidparameter".into(), "filename".into());
    err
}

/// A Warning result: the file waits in the stash (or why it could not).
async fn warning_result(
    req: &Req,
    cand: Candidate,
    facts: &Facts,
    warnings: crate::ingest::response::Warnings,
) -> UploadOutcome {
    let stashed = stash::store(req, cand, facts).await.map(|e| e.key);
    UploadOutcome::Warning { warnings, stashed }
}

/// Runs the pipeline on a candidate from any source.
pub async fn run(
    req: &mut Req,
    opts: &Options,
    filename: &str,
    mut cand: Candidate,
) -> Result<UploadOutcome, ApiError> {
    let app = req.app.clone();
    req.require_upload_rights(&["upload", "edit"])?;
    let Inspection { facts, name } = inspect::inspect(&app, &cand, filename).await?;
    let name = match name {
        Ok(n) => n,
        Err(e @ NameError::Banned { .. }) => return Err(name_error(&e, &app.config)),
        Err(e) => {
            let err = name_error(&e, &app.config);
            return Err(recoverable(req, cand, &facts, err).await);
        }
    };

    if opts.stash {
        // Stashed, not published: no title permissions, and nothing to serialise with.
        let state = TitleState::load(req, &name.dbkey, Some(&facts.meta.sha1)).await?;
        let warnings = checks::content_warnings(req, filename, &name, &facts, &state).await?;
        if !warnings.is_empty() && !opts.ignorewarnings {
            return Ok(warning_result(req, cand, &facts, warnings).await);
        }
        let entry = stash::store(req, cand, &facts).await?;
        return Ok(UploadOutcome::Stashed {
            filekey: entry.key.clone(),
            warnings,
            imageinfo: stash_info(&app, &entry, &InfoProps::all()),
        });
    }

    // An asynchronous publish from the stash checks now, for the answer, and again in its
    // job under the lock; every other publish happens under the lock from here on.
    let async_key = match &cand.body {
        Body::Stashed(e) if opts.async_mode => Some(e.key.clone()),
        _ => None,
    };
    let _name_lock = match async_key {
        Some(_) => None,
        None => Some(
            app.locks
                .exclusive(LockKey::FileName(name.dbkey.clone()))
                .await,
        ),
    };
    let state = TitleState::load(req, &name.dbkey, Some(&facts.meta.sha1)).await?;
    if let Err(e) = checks::title_permissions(req, &name.dbkey, &state).await {
        return Err(recoverable(req, cand, &facts, e).await);
    }
    let warnings = checks::content_warnings(req, filename, &name, &facts, &state).await?;
    if !warnings.is_empty() && !opts.ignorewarnings {
        return Ok(warning_result(req, cand, &facts, warnings).await);
    }
    if let Some(wait) = publish::rate_limited(&app, &req.user).await {
        return Err(ApiError::new(
            Code::RateLimited,
            "You've exceeded your rate limit. Please wait some time and try again.",
        )
        .with("retry-after", wait));
    }
    let preq = publish::request(req, opts, &name.dbkey, &facts, &cand);
    if let Some(key) = async_key {
        return publish::queue_publish(req, &key, filename, opts, &preq, warnings).await;
    }
    match publish::publish(&app, &req.user, &mut cand, &preq, None).await {
        Ok(outcome) => Ok(publish::published(&app, &outcome, warnings)),
        Err(publish::PublishError::NoChange) => {
            let mut e = no_change(&name.dbkey);
            stash::stash_recoverable(req, cand, &facts, &mut e).await;
            Err(e)
        }
        Err(publish::PublishError::Other(e)) => Err(e),
    }
}

/// A publish job (an `async` commit by filekey): the same checks as a synchronous publish,
/// again, under the name's lock, then the publish, which records the job's end.
pub async fn run_publish_job(
    app: &std::sync::Arc<crate::AppState>,
    job: &crate::jobs::queue::JobRef,
    p: &crate::jobs::queue::PublishJob,
) -> Result<UploadOutcome, ApiError> {
    let req = Req::for_job(app.clone(), job.user_id, p.grants.clone()).await?;
    let entry = match app.repo.stash_get(&job.key).await? {
        Some(e) if e.user_id == job.user_id && !e.status.is_chunked() => e,
        _ => return Err(ApiError::new(Code::StashFailed, "Invalid stashed file.")),
    };
    let mut cand = Candidate {
        size: entry.meta.size,
        sha1: entry.meta.sha1.clone(),
        too_large: false,
        body: Body::Stashed(Box::new(entry)),
        source: crate::ingest::Source::Stash,
    };
    let Inspection { facts, name } = inspect::inspect(app, &cand, &p.filename).await?;
    let name = name.map_err(|e| name_error(&e, &app.config))?;
    let _name_lock = app
        .locks
        .exclusive(LockKey::FileName(name.dbkey.clone()))
        .await;
    let state = TitleState::load(&req, &name.dbkey, Some(&facts.meta.sha1)).await?;
    checks::title_permissions(&req, &name.dbkey, &state).await?;
    if !p.ignorewarnings {
        let warnings = checks::content_warnings(&req, &p.filename, &name, &facts, &state).await?;
        if !warnings.is_empty() {
            // What changed since the commit was queued: the file stays stashed.
            return Ok(UploadOutcome::Warning {
                warnings,
                stashed: Ok(job.key.clone()),
            });
        }
    }
    let preq = mwstore_storage::PublishRequest {
        name: name.dbkey.clone(),
        meta: facts.meta.clone(),
        user_id: req.user.id,
        user_text: req.user.name.clone(),
        comment: p.comment.clone(),
        page_text: p.page_text.clone(),
        timestamp: mwstore_storage::ts14(chrono::Utc::now()),
        consume_stash: Some(job.key.clone()),
        watch: p.watch,
    };
    match publish::publish(app, &req.user, &mut cand, &preq, Some(job)).await {
        Ok(outcome) => Ok(publish::published(app, &outcome, Default::default())),
        Err(publish::PublishError::NoChange) => Err(no_change(&name.dbkey)),
        Err(publish::PublishError::Other(e)) => Err(e),
    }
}
