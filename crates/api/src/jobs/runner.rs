//! The job runner: claims jobs with a lease (no two workers run one job; a job whose worker
//! died is taken over when its lease ends), runs each through the ingest pipeline with the
//! lease kept alive, and records how it ended. A job that fails or panics is recorded as
//! failed for `checkstatus`, and the runner goes on. The runner itself is supervised: if its
//! loop ever ends, it is started again.

use std::sync::Arc;
use std::time::Duration;

use mwstore_storage::Job;

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::pipeline::run_publish_job;
use crate::ingest::response::{failure_status, working_status, UploadOutcome};
use crate::ingest::sources::chunks::assemble;
use crate::jobs::queue::{self, JobRef, Work};
use crate::AppState;

/// A job claimed this often without ending is given up.
const MAX_ATTEMPTS: i64 = 5;

/// Starts the runner, supervised.
pub fn spawn(app: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let a = app.clone();
            match tokio::spawn(run(a)).await {
                Ok(()) => tracing::error!("the job runner stopped; starting it again"),
                Err(e) => tracing::error!(error = %e, "the job runner failed; starting it again"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn run(app: Arc<AppState>) {
    loop {
        let job = match app
            .repo
            .claim_job(&app.worker_id, Req::now(), queue::lease_secs(&app))
            .await
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim a job");
                None
            }
        };
        let Some(job) = job else {
            // Woken by a new job, or after a while for jobs whose lease ran out.
            let wait = tokio::time::sleep(Duration::from_secs(2));
            tokio::select! {
                _ = app.jobs_wake.notified() => {},
                _ = wait => {},
            }
            continue;
        };
        run_one(&app, job).await;
    }
}

/// Runs one claimed job to its end, whatever happens to it.
async fn run_one(app: &Arc<AppState>, job: Job) {
    let r = JobRef {
        id: job.id,
        worker: app.worker_id.clone(),
        user_id: job.user_id,
        key: job.key.clone(),
    };
    let work = match Work::of(&job) {
        Ok(w) => w,
        Err(why) => {
            let e = ApiError::new(Code::StashFailed, format!("Corrupt job: {why}"));
            end_failed(app, &r, "assembling", &e).await;
            return;
        }
    };
    let stage = work.stage();
    if job.attempts > MAX_ATTEMPTS {
        let e = ApiError::new(
            Code::StashFailed,
            "The upload step failed again and again; it was given up.",
        );
        end_failed(app, &r, stage, &e).await;
        return;
    }
    if let Err(e) = app
        .repo
        .put_status(&crate::ingest::publish::status_record(
            r.user_id,
            &r.key,
            &working_status(stage),
        ))
        .await
    {
        tracing::warn!(job = r.id, error = %e, "could not store a job's status");
    }
    let a = app.clone();
    let jr = r.clone();
    let request_id = format!("job-{}", job.id);
    // A task of its own: a panic ends the task, not the runner.
    let task = tokio::spawn(crate::http::request_id::with_request_id(
        request_id,
        async move {
            queue::with_lease(&a, &jr, async {
                match &work {
                    Work::Assemble(p) => assemble(&a, &jr, p, true).await,
                    Work::Publish(p) => run_publish_job(&a, &jr, p).await,
                }
            })
            .await
        },
    ));
    match task.await {
        // An outcome that changed nothing (a publish stopped by warnings) is recorded here;
        // every other step recorded its end in the transaction of its result.
        Ok(Ok(outcome @ UploadOutcome::Warning { .. })) => {
            if let Err(e) = queue::finish(app, &r, Some(&outcome.to_status(stage))).await {
                tracing::error!(job = r.id, error = %e, "could not end a job");
            }
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) if queue::transient(&e) && job.attempts < MAX_ATTEMPTS => {
            // The database or the disk failed: try again a little later.
            let after = 5 * job.attempts.max(1);
            tracing::warn!(job = r.id, code = %e.code, info = %e.info, after, "job failed; it will be tried again");
            if let Err(fe) = queue::retry_later(app, &r, after).await {
                tracing::error!(job = r.id, error = %fe, "could not give a job back");
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(job = r.id, code = %e.code, info = %e.info, "job failed");
            end_failed(app, &r, stage, &e).await;
        }
        Err(panic) => {
            tracing::error!(job = r.id, error = %panic, "job panicked");
            let e = ApiError::internal(
                "MWException",
                &format!("job-{}", r.id),
                &"the upload step failed",
            );
            end_failed(app, &r, stage, &e).await;
        }
    }
}

async fn end_failed(app: &AppState, job: &JobRef, stage: &str, e: &ApiError) {
    if let Err(fe) = queue::finish(app, job, Some(&failure_status(stage, e))).await {
        tracing::error!(job = job.id, error = %fe, "could not record a failed job");
    }
}
