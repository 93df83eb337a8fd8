//! Asynchronous upload steps (`async`): assembling a finished chunked upload and publishing
//! a stashed file run as durable jobs inside the server. A job is stored before the request
//! is answered and removed only after its result is stored, so a restart resumes it; what
//! `checkstatus` reports is kept by (user, filekey).
//!
//! Unlike MediaWiki, a job carries only the user id and the grants of the session that
//! queued it, never the request's cookies or headers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use mwstore_storage::{FileMeta, Job, PublishRequest, StoreError};

use crate::api::Req;
use crate::error::ApiError;
use crate::query::{self, InfoProps};
use crate::upload::wrap;
use crate::AppState;

/// How long a status stays readable (MediaWiki keeps them a day).
const STATUS_TTL: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct AssembleParams {
    filename: String,
    size: u64,
    grants: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct PublishParams {
    name: String,
    meta: FileMeta,
    user_text: String,
    comment: String,
    page_text: String,
    watch: Option<bool>,
    grants: Option<Vec<String>>,
}

async fn set_status(app: &AppState, user: i64, key: &str, v: &Value) -> Result<(), StoreError> {
    app.repo
        .put_status(user, key, &v.to_string(), Req::now() + STATUS_TTL)
        .await
}

/// The stored status of (user, key), if any.
pub async fn status(app: &AppState, user: i64, key: &str) -> Result<Option<Value>, ApiError> {
    Ok(app
        .repo
        .status(user, key, Req::now())
        .await?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

fn failure(stage: &str, e: &ApiError) -> Value {
    json!({"result": "Failure", "stage": stage, "error": {"code": e.code, "info": e.info, "data": Value::Object(e.data.clone())}})
}

/// Turns a stored failure into the error `checkstatus` answers with. The code stays
/// MediaWiki's `stashfailed`; the specific reason and its data are kept.
pub fn failure_error(v: &Value) -> ApiError {
    let err = &v["error"];
    let info = err["info"]
        .as_str()
        .unwrap_or("Internal error: Server failed to store temporary file.");
    let mut e = ApiError::new("stashfailed", info);
    if let Some(code) = err["code"].as_str() {
        if code != "stashfailed" {
            e = e.with("failedcode", code);
        }
    }
    if let Some(data) = err["data"].as_object() {
        for (k, v) in data {
            e.data.insert(k.clone(), v.clone());
        }
    }
    e
}

/// Stores a job and wakes the runner.
async fn enqueue(
    app: &AppState,
    job_type: &str,
    user_id: i64,
    key: &str,
    params: &impl Serialize,
) -> Result<(), ApiError> {
    let params = serde_json::to_string(params)
        .map_err(|e| ApiError::internal("MWException", &crate::output::current_request_id(), &e))?;
    app.repo
        .insert_job(&Job {
            id: 0,
            job_type: job_type.into(),
            user_id,
            key: key.to_owned(),
            params,
            created: Req::now(),
        })
        .await?;
    app.jobs_wake.notify_one();
    Ok(())
}

/// The last chunk of an `async` chunked upload: queue its assembly.
pub async fn queue_assemble(
    req: &mut Req,
    key: &str,
    filename: &str,
    warnings: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let app = req.app.clone();
    let size = app
        .repo
        .stash_get(key)
        .await?
        .map(|e| e.meta.size)
        .unwrap_or(0);
    set_status(
        &app,
        req.user.id,
        key,
        &json!({"result": "Poll", "stage": "queued"}),
    )
    .await?;
    let params = AssembleParams {
        filename: filename.to_owned(),
        size,
        grants: req.grants(),
    };
    enqueue(&app, "assemble", req.user.id, key, &params).await?;
    let mut out = Map::new();
    if !warnings.is_empty() {
        out.insert("warnings".into(), Value::Object(warnings));
    }
    out.insert("result".into(), "Poll".into());
    out.insert("stage".into(), "queued".into());
    out.insert("filekey".into(), key.into());
    Ok(wrap(out))
}

/// An `async` publish of a stashed file: queue it.
pub async fn queue_publish(
    req: &mut Req,
    preq: &PublishRequest,
    warnings: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let app = req.app.clone();
    let Some(key) = preq.consume_stash.clone() else {
        return Err(ApiError::new("stashfailed", "Invalid stashed file."));
    };
    // Check and set the status under the filekey's lock: of two publishes at once, exactly
    // one is queued.
    let lock = app.chunk_session(&key);
    let _guard = lock.lock().await;
    if let Some(st) = status(&app, req.user.id, &key).await? {
        if st["result"] == "Poll" {
            return Err(ApiError::new(
                "publishfailed",
                "Upload from stash already in progress.",
            ));
        }
    }
    // A publish queued by another request may have finished between this request's stash
    // lookup and taking the lock: the entry is consumed then, and nothing is queued again.
    crate::upload::load_stash(req, &key).await?;
    set_status(
        &app,
        req.user.id,
        &key,
        &json!({"result": "Poll", "stage": "queued"}),
    )
    .await?;
    let params = PublishParams {
        name: preq.name.clone(),
        meta: preq.meta.clone(),
        user_text: preq.user_text.clone(),
        comment: preq.comment.clone(),
        page_text: preq.page_text.clone(),
        watch: preq.watch,
        grants: req.grants(),
    };
    enqueue(&app, "publish", req.user.id, &key, &params).await?;
    let mut out = Map::new();
    out.insert("result".into(), "Poll".into());
    out.insert("stage".into(), "queued".into());
    out.insert("filename".into(), preq.name.clone().into());
    if !warnings.is_empty() {
        out.insert("warnings".into(), Value::Object(warnings));
    }
    Ok(wrap(out))
}

async fn run_assemble(app: Arc<AppState>, job: &Job) -> Result<(), ApiError> {
    let p: AssembleParams = serde_json::from_str(&job.params)
        .map_err(|e| ApiError::new("stashfailed", format!("Corrupt job: {e}")))?;
    if let Some(st) = status(&app, job.user_id, &job.key).await? {
        if st["result"] != "Poll" {
            return Ok(()); // already done before a restart
        }
    }
    set_status(
        &app,
        job.user_id,
        &job.key,
        &json!({"result": "Poll", "stage": "assembling"}),
    )
    .await?;
    let mut req = Req::for_job(app.clone(), job.user_id, p.grants).await?;
    let v = match app.repo.stash_get(&job.key).await? {
        Some(e) if e.status == "chunks" => {
            match crate::upload::finish_chunks(&mut req, &p.filename, &job.key, p.size).await {
                Ok(m) => {
                    let up = m.get("upload").cloned().unwrap_or(Value::Null);
                    let mut o = Map::new();
                    o.insert("result".into(), "Success".into());
                    o.insert("stage".into(), "assembling".into());
                    o.insert("filekey".into(), up["filekey"].clone());
                    if let Some(w) = up.get("warnings") {
                        o.insert("warnings".into(), w.clone());
                    }
                    o.insert("imageinfo".into(), up["imageinfo"].clone());
                    Value::Object(o)
                }
                Err(e) => failure("assembling", &e),
            }
        }
        _ => failure(
            "assembling",
            &ApiError::new("stashfailed", "No chunked upload session with this key."),
        ),
    };
    set_status(&app, job.user_id, &job.key, &v).await?;
    Ok(())
}

async fn run_publish(app: Arc<AppState>, job: &Job) -> Result<(), ApiError> {
    let p: PublishParams = serde_json::from_str(&job.params)
        .map_err(|e| ApiError::new("publishfailed", format!("Corrupt job: {e}")))?;
    if let Some(st) = status(&app, job.user_id, &job.key).await? {
        if st["result"] != "Poll" {
            return Ok(());
        }
    }
    set_status(
        &app,
        job.user_id,
        &job.key,
        &json!({"result": "Poll", "stage": "publish"}),
    )
    .await?;
    let stash = app.repo.stash_get(&job.key).await?;
    let outcome = if stash.is_some() {
        let preq = PublishRequest {
            name: p.name.clone(),
            meta: p.meta.clone(),
            user_id: job.user_id,
            user_text: p.user_text.clone(),
            comment: p.comment.clone(),
            page_text: p.page_text.clone(),
            timestamp: mwstore_storage::ts14(chrono::Utc::now()),
            consume_stash: Some(job.key.clone()),
            watch: p.watch,
        };
        let lock = app.name_lock(&p.name);
        let _g = lock.lock().await;
        match app.repo.publish(&preq).await {
            Ok(o) => Ok((o.page_existed.then_some(o.page_id), o.version)),
            Err(StoreError::NoChange) => Err(ApiError::new(
                "fileexists-no-change",
                format!(
                    "The upload is an exact duplicate of the current version of [[:File:{}]].",
                    p.name
                ),
            )),
            Err(e) => Err(e.into()),
        }
    } else {
        // The stash entry is gone: either this job published it before a restart, or it
        // expired.
        match app.repo.current_file(&p.name).await? {
            Some(v) if v.meta.sha1 == p.meta.sha1 => Ok((None, v)),
            _ => Err(ApiError::new("stashfailed", "Invalid stashed file.")),
        }
    };
    let v = match outcome {
        Ok((page, version)) => {
            let mut o = Map::new();
            o.insert("result".into(), "Success".into());
            o.insert("stage".into(), "publish".into());
            o.insert("filename".into(), p.name.clone().into());
            o.insert(
                "imageinfo".into(),
                Value::Object(query::version_info(
                    &app,
                    &version,
                    &InfoProps::all(),
                    page,
                    true,
                )),
            );
            Value::Object(o)
        }
        Err(e) => failure("publish", &e),
    };
    set_status(&app, job.user_id, &job.key, &v).await?;
    Ok(())
}

/// Runs queued jobs, oldest first, and again after every restart until each is done.
pub fn spawn_runner(app: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let jobs = match app.repo.pending_jobs(16).await {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the job queue");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                let wait = tokio::time::sleep(std::time::Duration::from_secs(5));
                tokio::select! {
                    _ = app.jobs_wake.notified() => {},
                    _ = wait => {},
                }
                continue;
            }
            for job in jobs {
                let request_id = format!("job-{}", job.id);
                let a = app.clone();
                let j = job.clone();
                let res = crate::output::with_request_id(request_id, async move {
                    match j.job_type.as_str() {
                        "assemble" => run_assemble(a, &j).await,
                        "publish" => run_publish(a, &j).await,
                        other => Err(ApiError::new(
                            "unknown-job",
                            format!("unknown job type {other}"),
                        )),
                    }
                })
                .await;
                match res {
                    Ok(()) => {
                        if let Err(e) = app.repo.delete_job(job.id).await {
                            tracing::error!(error = %e, job = job.id, "could not remove a finished job");
                        }
                    }
                    Err(e) => {
                        // A job that cannot run (e.g. its data is gone) records its failure
                        // and is dropped rather than retried forever.
                        tracing::warn!(job = job.id, code = %e.code, info = %e.info, "job failed");
                        let stage = if job.job_type == "publish" {
                            "publish"
                        } else {
                            "assembling"
                        };
                        let _ = set_status(&app, job.user_id, &job.key, &failure(stage, &e)).await;
                        let _ = app.repo.delete_job(job.id).await;
                    }
                }
            }
        }
    })
}
