//! What a job carries and how one ends. A job is stored in the same transaction as the step
//! that needs it, claimed with a lease ([`mwstore_storage::JobRepo::claim_job`]), and removed
//! in the same transaction as its result, so a crash either runs it again or finds it done.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use mwstore_storage::{Job, StoreError};

use crate::context::Req;
use crate::AppState;

/// How long a claim holds before another worker may take the job over
/// (`job_lease_seconds`). A running job renews it every third of this.
pub fn lease_secs(app: &AppState) -> i64 {
    app.config.job_lease_seconds as i64
}

/// Assembling a chunked upload whose last chunk arrived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssembleJob {
    /// The name the client asked for (warnings are worked out for it).
    pub filename: String,
    pub grants: Option<Vec<String>>,
    /// The client polls `checkstatus` (otherwise it waits for the answer).
    pub async_mode: bool,
}

/// Publishing a stashed file (`async` commit by filekey).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishJob {
    pub filename: String,
    pub comment: String,
    pub page_text: String,
    pub watch: Option<bool>,
    pub ignorewarnings: bool,
    pub grants: Option<Vec<String>>,
}

/// A job's work.
#[derive(Debug, Clone)]
pub enum Work {
    Assemble(AssembleJob),
    Publish(PublishJob),
}

impl Work {
    /// The stage `checkstatus` names while and after this work runs.
    pub fn stage(&self) -> &'static str {
        match self {
            Work::Assemble(_) => "assembling",
            Work::Publish(_) => "publish",
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Work::Assemble(_) => "assemble",
            Work::Publish(_) => "publish",
        }
    }

    /// The work of a stored job.
    pub fn of(job: &Job) -> Result<Work, String> {
        let bad = |e: serde_json::Error| format!("unreadable {} job: {e}", job.job_type);
        match job.job_type.as_str() {
            "assemble" => Ok(Work::Assemble(
                serde_json::from_str(&job.params).map_err(bad)?,
            )),
            "publish" => Ok(Work::Publish(
                serde_json::from_str(&job.params).map_err(bad)?,
            )),
            other => Err(format!("unknown job type {other:?}")),
        }
    }

    /// A job row for this work on (user, key); `leased_to` claims it for a worker at once
    /// for `lease` seconds (the request that queues it runs it itself).
    pub fn to_job(&self, user_id: i64, key: &str, leased_to: Option<&str>, lease: i64) -> Job {
        let params = match self {
            Work::Assemble(a) => serde_json::to_string(a),
            Work::Publish(p) => serde_json::to_string(p),
        }
        .unwrap_or_default();
        let now = Req::now();
        Job {
            id: 0,
            job_type: self.type_name().into(),
            user_id,
            key: key.to_owned(),
            params,
            created: now,
            attempts: i64::from(leased_to.is_some()),
            owner: leased_to.map(str::to_owned),
            lease_until: if leased_to.is_some() { now + lease } else { 0 },
        }
    }
}

/// A claimed job: whose, on which key, held by which worker.
#[derive(Debug, Clone)]
pub struct JobRef {
    pub id: i64,
    pub worker: String,
    pub user_id: i64,
    /// The filekey the job works on (and its status is kept under).
    pub key: String,
}

/// Ends a job that did not record its own end: if this worker still holds it, removes it
/// and stores `status` (when given) in one transaction. Whether it did.
pub async fn finish(
    app: &AppState,
    job: &JobRef,
    status: Option<&Value>,
) -> Result<bool, StoreError> {
    let mut tx = app.repo.begin_write().await?;
    if !tx.complete_job(job.id, Some(&job.worker)).await? {
        return Ok(false);
    }
    if let Some(s) = status {
        tx.put_status(&crate::ingest::publish::status_record(
            job.user_id,
            &job.key,
            s,
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Whether a failure may pass on a later try (the database or the disk failed, not the
/// upload).
pub fn transient(e: &crate::error::ApiError) -> bool {
    e.code.starts_with("internal_api_error_") || e.code == "backend-fail-writetemp"
}

/// Gives a job back to be tried again `after` seconds from now.
pub async fn retry_later(app: &AppState, job: &JobRef, after: i64) -> Result<(), StoreError> {
    app.repo
        .release_job(job.id, &job.worker, Req::now() + after)
        .await
}

/// Keeps a job's lease while `work` runs.
pub async fn with_lease<F: std::future::Future>(
    app: &AppState,
    job: &JobRef,
    work: F,
) -> F::Output {
    let lease = lease_secs(app);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs((lease / 3).max(1) as u64));
    tick.tick().await;
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                if let Err(e) = app
                    .repo
                    .renew_job(job.id, &job.worker, Req::now(), lease)
                    .await
                {
                    tracing::warn!(job = job.id, error = %e, "could not renew a job's lease");
                }
            }
        }
    }
}
