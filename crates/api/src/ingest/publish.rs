//! The only publish. The synchronous path and the publish job both come here: the bytes
//! become a blob (if they are not one yet), then one transaction writes the version, its
//! page, log entry and watch, consumes the stash entry it came from, and — for a job —
//! records the job's status and removes the job. A crash leaves either nothing or all of it;
//! a blob written before a crash is collected later if nothing refers to it.

use serde_json::{Map, Value};

use mwstore_storage::coord::LockKey;
use mwstore_storage::{rules, PublishOutcome, PublishRequest, StatusRecord, StoreError};

use crate::context::{Req, UserCtx};
use crate::error::{ApiError, Code};
use crate::ingest::inspect::Facts;
use crate::ingest::request::Options;
use crate::ingest::response::{UploadOutcome, Warnings};
use crate::ingest::{Body, Candidate};
use crate::jobs::queue::{JobRef, PublishJob, Work};
use crate::query::{version_info, InfoProps};
use crate::AppState;

/// How long a status stays readable (MediaWiki keeps them a day).
pub const STATUS_TTL: i64 = 24 * 3600;

/// Why a publish did not happen.
#[derive(Debug)]
pub enum PublishError {
    /// The content is the current version's (`fileexists-no-change`).
    NoChange,
    Other(ApiError),
}

impl From<StoreError> for PublishError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoChange => PublishError::NoChange,
            other => PublishError::Other(other.into()),
        }
    }
}

impl From<ApiError> for PublishError {
    fn from(e: ApiError) -> Self {
        PublishError::Other(e)
    }
}

/// What a publish writes, from the request and the inspected content.
pub fn request(
    req: &Req,
    opts: &Options,
    name: &str,
    facts: &Facts,
    cand: &Candidate,
) -> PublishRequest {
    let watch = match (opts.watch, opts.watchlist.as_str()) {
        (true, _) | (_, "watch") => Some(true),
        (_, "nochange") => None,
        _ if req.user.can("bot") => None,
        _ => Some(true),
    };
    PublishRequest {
        name: name.to_owned(),
        meta: facts.meta.clone(),
        user_id: req.user.id,
        user_text: req.user.name.clone(),
        comment: opts.comment.chars().take(500).collect(),
        page_text: opts.text.clone().unwrap_or_else(|| opts.comment.clone()),
        timestamp: mwstore_storage::ts14(chrono::Utc::now()),
        consume_stash: match &cand.body {
            Body::Stashed(e) => Some(e.key.clone()),
            _ => None,
        },
        watch,
    }
}

/// The rate limit of uploads applies to this user (MediaWiki's default limits apply to
/// anonymous and new users).
fn limited(app: &AppState, user: &UserCtx) -> Option<(u32, u64)> {
    let rule = app.config.upload_rate_limit?;
    if user.can("noratelimit") || user.can("autoconfirmed") {
        return None;
    }
    Some((rule.count, rule.seconds))
}

fn rate_key(user: &UserCtx) -> String {
    format!("upload:{}:{}", user.id, user.name)
}

/// Seconds to wait when the user's upload rate limit is reached.
pub async fn rate_limited(app: &AppState, user: &UserCtx) -> Option<i64> {
    let (count, window) = limited(app, user)?;
    app.counters
        .over_limit(&rate_key(user), count, window, Req::now())
        .await
}

/// The Success result of a publish.
pub fn published(app: &AppState, outcome: &PublishOutcome, warnings: Warnings) -> UploadOutcome {
    let page_id = outcome.page_existed.then_some(outcome.page_id);
    UploadOutcome::Published {
        filename: outcome.version.name.clone(),
        warnings,
        imageinfo: version_info(
            app,
            &outcome.version,
            &InfoProps::all(),
            page_id,
            None,
            true,
        ),
    }
}

/// Publishes `cand` as `preq` describes. Staged bytes become a blob first (`cand.body` is
/// then [`Body::Blob`], so a caller can still stash it). With `job`, the job's status and
/// completion are written in the same transaction.
pub async fn publish(
    app: &AppState,
    user: &UserCtx,
    cand: &mut Candidate,
    preq: &PublishRequest,
    job: Option<&JobRef>,
) -> Result<PublishOutcome, PublishError> {
    let gc = app.locks.shared(LockKey::BlobGc).await;
    if matches!(cand.body, Body::Staged(_)) {
        if let Body::Staged(staged) = std::mem::replace(&mut cand.body, Body::Blob) {
            app.spool.promote(staged).await?;
            crate::faults::point("staged-promoted").await;
        }
    }
    let written = commit(app, preq, job).await;
    drop(gc);
    let outcome = match written {
        Ok(o) => o,
        Err(e) => {
            if matches!(cand.body, Body::Blob) && !matches!(e, PublishError::NoChange) {
                app.collect_blob(&preq.meta.sha1).await;
            }
            return Err(e);
        }
    };
    crate::faults::point("publish-committed").await;
    if let Some((_, window)) = limited(app, user) {
        app.counters
            .record(&rate_key(user), window, Req::now())
            .await;
    }
    Ok(outcome)
}

async fn commit(
    app: &AppState,
    preq: &PublishRequest,
    job: Option<&JobRef>,
) -> Result<PublishOutcome, PublishError> {
    let mut tx = app.repo.begin_write().await?;
    let outcome = rules::publish(tx.as_mut(), preq).await?;
    if let Some(job) = job {
        let status = published(app, &outcome, Map::new()).to_status("publish");
        tx.put_status(&status_record(job.user_id, &job.key, &status))
            .await?;
        if !tx.complete_job(job.id, Some(&job.worker)).await? {
            return Err(StoreError::LeaseLost(job.id).into());
        }
    }
    crate::faults::point("publish-before-commit").await;
    tx.commit().await?;
    Ok(outcome)
}

/// A status record for (user, key).
pub fn status_record(user_id: i64, key: &str, status: &Value) -> StatusRecord {
    StatusRecord {
        user_id,
        key: key.to_owned(),
        data: status.to_string(),
        expires: Req::now() + STATUS_TTL,
    }
}

/// An `async` commit by filekey: queues the publish (its checks run again in the job, under
/// the name's lock). Of two such commits of one key, exactly one is queued.
pub async fn queue_publish(
    req: &Req,
    key: &str,
    filename: &str,
    opts: &Options,
    preq: &PublishRequest,
    warnings: Warnings,
) -> Result<UploadOutcome, ApiError> {
    let app = &req.app;
    let _upload = app.locks.exclusive(LockKey::Upload(key.to_owned())).await;
    if let Some(st) = crate::ingest::status::stored(app, req.user.id, key).await? {
        if st["result"] == "Poll" {
            return Err(ApiError::new(
                Code::PublishFailed,
                "Upload from stash already in progress.",
            ));
        }
    }
    // A publish queued by another request may have finished meanwhile: the entry is
    // consumed then, and nothing is queued again.
    crate::ingest::stash::load_owned(req, key).await?;
    let work = Work::Publish(PublishJob {
        filename: filename.to_owned(),
        comment: preq.comment.clone(),
        page_text: preq.page_text.clone(),
        watch: preq.watch,
        ignorewarnings: opts.ignorewarnings,
        grants: req.grants(),
    });
    let mut tx = app.repo.begin_write().await?;
    tx.put_status(&status_record(
        req.user.id,
        key,
        &crate::ingest::response::queued_status(),
    ))
    .await?;
    tx.insert_job(&work.to_job(req.user.id, key, None, 0))
        .await?;
    tx.commit().await?;
    app.jobs_wake.notify_one();
    Ok(UploadOutcome::Poll {
        filekey: None,
        filename: Some(preq.name.clone()),
        warnings,
    })
}
