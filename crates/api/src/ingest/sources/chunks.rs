//! `chunk=`: MediaWiki's chunked uploads.
//!
//! Each chunk is looked at once (its type, MediaWiki's partial checks), then appended under
//! the upload's lock, in a task of its own that holds that lock: the append, the record of
//! the new offset with the running SHA-1, and — for the last chunk — the queuing of the
//! assembly happen whole even if the client goes away, and nothing else can write to the
//! upload meanwhile. The last chunk also closes the upload to further chunks in the same
//! transaction, so the bytes that are assembled are exactly the bytes that were hashed.
//!
//! Assembly ([`assemble`]) is a job. A synchronous final chunk runs it itself (the job is
//! claimed by its worker as it is queued); after a crash another worker takes it over.

use std::sync::Arc;

use mwstore_domain::mime;
use mwstore_domain::title;
use mwstore_storage::coord::LockKey;
use mwstore_storage::{
    ChunkProgress, FileMeta, RunningSha1, Staged, StashEntry, StashStatus, StoreError, WriteTx,
};

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::checks::{self, TitleState};
use crate::ingest::inspect::{self, ChunkLook};
use crate::ingest::publish::status_record;
use crate::ingest::request::{ChunkRequest, Options};
use crate::ingest::response::{self, UploadOutcome, Warnings};
use crate::ingest::{stash, Source};
use crate::jobs::queue::{self, AssembleJob, JobRef, Work};
use crate::query::{stash_info, InfoProps};
use crate::AppState;

fn offset_error(expected: u64) -> ApiError {
    // MediaWiki sends the expected offset as a string; clients read it with int().
    ApiError::new(Code::StashFailed, "Invalid chunk offset").with("offset", expected.to_string())
}

fn completed() -> ApiError {
    ApiError::new(
        Code::StashFailed,
        "Chunked upload is already completed, check status for details.",
    )
}

/// A new chunked upload's stash entry.
fn upload_entry(app: &AppState, user_id: i64, key: &str, progress: &ChunkProgress) -> StashEntry {
    let now = chrono::Utc::now();
    StashEntry {
        id: 0,
        user_id,
        key: key.to_owned(),
        meta: FileMeta::unknown(progress.size),
        source_type: Some("file".into()),
        timestamp: mwstore_storage::ts14(now),
        expires: now.timestamp() + app.config.upload_stash_max_age as i64,
        status: progress.status,
        chunk_inx: Some(progress.chunk_inx),
        props: "{}".into(),
        temp_name: String::new(),
        hash_state: Some(progress.hash_state.clone()),
    }
}

/// Where one chunk goes.
struct Append {
    user_id: i64,
    key: String,
    offset: u64,
    /// A new upload (the first chunk).
    first: bool,
    /// What the partial checks said (reported after the offset checks).
    verdict: Result<(), mwstore_domain::verify::VerificationError>,
    /// For the last chunk: the assembly it queues as it closes the upload.
    closes: Option<AssembleJob>,
}

/// What an append did.
enum Appended {
    /// The chunk is stored; the upload is at `size`.
    Stored {
        size: u64,
        /// The assembly job queued with the last chunk.
        job: Option<i64>,
    },
    /// The chunk was stored already (a resend); the upload is at `size`.
    Resent { size: u64 },
}

/// Appends a chunk. Runs holding the upload's lock, to its end.
async fn append(app: Arc<AppState>, chunk: Staged, a: Append) -> Result<Appended, ApiError> {
    let _upload = app.locks.exclusive(LockKey::Upload(a.key.clone())).await;
    let len = chunk.size;
    let (stored, chunk_inx, hash) = if a.first {
        (0, 0, RunningSha1::new())
    } else {
        let Some(entry) = app.repo.stash_get(&a.key).await? else {
            return Err(ApiError::stash_not_found(&a.key));
        };
        if entry.status != StashStatus::Chunks {
            return Err(completed());
        }
        let stored = entry.meta.size;
        if a.offset != stored {
            // A resend of bytes already stored (a client retrying after a lost answer) is
            // answered with the current state.
            let resend = a.offset < stored
                && a.offset + len <= stored
                && app
                    .spool
                    .matches(&a.key, a.offset, &chunk)
                    .await
                    .unwrap_or(false);
            if resend {
                return Ok(Appended::Resent { size: stored });
            }
            return Err(offset_error(stored));
        }
        if stored + len > app.config.max_upload_size {
            return Err(
                ApiError::new(Code::StashFailed, "The file you submitted was too large.")
                    .with("offset", stored.to_string()),
            );
        }
        if let Err(v) = &a.verdict {
            return Err(
                ApiError::new(Code::StashFailed, v.info()).with("offset", stored.to_string())
            );
        }
        let hash = match entry.hash_state.as_deref().map(RunningSha1::from_bytes) {
            Some(Ok(h)) if h.len() == stored => h,
            // An upload stored without its hash state: hash its bytes once.
            _ => app.spool.hash_prefix(&a.key, stored).await?,
        };
        (stored, entry.chunk_inx.unwrap_or(0) + 1, hash)
    };
    let hash = match app.spool.append(&a.key, stored, &chunk, hash).await {
        Ok(h) => h,
        Err(e) => {
            // Nothing past the acknowledged offset counts: the upload stays where it was and
            // the client can send the chunk again.
            let e: ApiError = e.into();
            return Err(ApiError::new(
                Code::StashFailed,
                format!("The chunk could not be stored ({}); send it again.", e.info),
            )
            .with("offset", stored.to_string()));
        }
    };
    crate::faults::point("chunk-appended").await;
    let size = hash.len();
    let progress = ChunkProgress {
        size,
        chunk_inx,
        hash_state: hash.to_bytes(),
        status: if a.closes.is_some() {
            StashStatus::Assembling
        } else {
            StashStatus::Chunks
        },
    };
    let mut tx = app.repo.begin_write().await?;
    if a.first {
        tx.stash_insert(&upload_entry(&app, a.user_id, &a.key, &progress))
            .await?;
    } else if !tx.stash_update_chunks(&a.key, stored, &progress).await? {
        // Only possible if something wrote to the upload without its lock.
        return Err(StoreError::Corrupt(format!("upload {} changed under its lock", a.key)).into());
    }
    let job = if let Some(assembly) = &a.closes {
        // The last chunk closes the upload and queues its assembly in the same step. A
        // synchronous upload's request claims the job for itself.
        let work = Work::Assemble(assembly.clone());
        let leased = (!assembly.async_mode).then_some(app.worker_id.as_str());
        let id = tx
            .insert_job(&work.to_job(a.user_id, &a.key, leased, queue::lease_secs(&app)))
            .await?;
        tx.put_status(&status_record(
            a.user_id,
            &a.key,
            &response::queued_status(),
        ))
        .await?;
        Some(id)
    } else {
        None
    };
    tx.commit().await?;
    crate::faults::point("chunk-recorded").await;
    if a.closes.as_ref().is_some_and(|j| j.async_mode) {
        app.jobs_wake.notify_one();
    }
    Ok(Appended::Stored { size, job })
}

/// One chunk request.
pub async fn receive(
    req: &mut Req,
    opts: &Options,
    filename: &str,
    c: ChunkRequest,
) -> Result<UploadOutcome, ApiError> {
    let app = req.app.clone();
    let cfg = &app.config;
    let session = match &c.filekey {
        Some(k) => {
            req.require_stash_user()?;
            Some(stash::load_owned(req, k).await?)
        }
        None => None,
    };
    req.require_upload_rights(&["upload", "edit"])?;
    // A declared size over the limit is refused up front (MediaWiki clamps it and fails only
    // at the end, after the client has sent everything).
    if c.chunk.too_large || c.declared_too_large {
        return Err(crate::http::body::file_too_large(cfg.max_upload_size));
    }
    let len = c.chunk.size;
    // One look at the chunk: its type (for the name and a new key) and the partial checks
    // (with the upload's key extension).
    let ChunkLook { file_mime, verdict } = inspect::look_at_chunk(
        &app,
        &c.chunk.staged,
        session.as_ref().map(|e| stash::key_ext(&e.key).to_owned()),
    )
    .await?;
    // Name: any problem is a plain illegal-filename for chunks.
    let guess = mime::extensions_for_mime(&file_mime)
        .first()
        .map(|e| (*e).to_owned());
    let name = title::normalize_upload_name(filename, guess.as_deref(), cfg)
        .map_err(|_| ApiError::new(Code::IllegalFilename, "The filename is not allowed."))?;
    let state = TitleState::load(req, &name.dbkey, None).await?;
    if !opts.stash {
        checks::title_permissions(req, &name.dbkey, &state).await?;
    }
    let warnings = checks::warnings(req, filename, &name, len, None, &state).await?;
    let new_key = || stash::new_filekey(req.user.id, &stash::filekey_ext(&app, &file_mime));
    if !warnings.is_empty() && !opts.ignorewarnings {
        // Like MediaWiki, a Warning keeps this chunk in the stash as an upload of its own
        // (unfinished: it can never be published as if it were whole).
        let key = new_key();
        let a = Append {
            user_id: req.user.id,
            key: key.clone(),
            offset: 0,
            first: true,
            verdict: Ok(()),
            closes: None,
        };
        let stashed = match tokio::spawn(append(app.clone(), c.chunk.staged, a)).await {
            Ok(Ok(_)) => Ok(key),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(ApiError::task_failed(e)),
        };
        return match stashed {
            Ok(key) => Ok(UploadOutcome::Warning {
                warnings,
                stashed: Ok(key),
            }),
            Err(e) => Err(e),
        };
    }
    let offset = c.offset;
    let filesize = match c.filesize {
        Some(fs) if offset + len <= fs => fs,
        _ => {
            return Err(ApiError::new(
                Code::InvalidChunk,
                "Offset plus current chunk is greater than claimed file size.",
            ))
        }
    };
    let last = offset + len == filesize;
    if !last && len < cfg.min_upload_chunk_size {
        return Err(ApiError::new(
            Code::ChunkTooSmall,
            format!(
                "Minimum chunk size is {} bytes for non-final chunks.",
                crate::params::format_num(cfg.min_upload_chunk_size as i64)
            ),
        ));
    }
    let key = match &session {
        Some(e) => e.key.clone(),
        None => {
            // The first chunk's partial checks refuse it with the check's own code.
            if let Err(v) = &verdict {
                return Err(ApiError::from_wire(v.key.clone(), v.info()));
            }
            new_key()
        }
    };
    let assembly = AssembleJob {
        filename: filename.to_owned(),
        grants: req.grants(),
        async_mode: opts.async_mode,
    };
    let a = Append {
        user_id: req.user.id,
        key: key.clone(),
        offset,
        first: session.is_none(),
        verdict,
        closes: last.then(|| assembly.clone()),
    };
    let appended = tokio::spawn(append(app.clone(), c.chunk.staged, a))
        .await
        .map_err(ApiError::task_failed)??;
    let (size, job) = match appended {
        Appended::Resent { size } => {
            return Ok(UploadOutcome::Continue {
                offset: size,
                filekey: key,
                warnings,
            })
        }
        Appended::Stored { size, job } => (size, job),
    };
    let Some(job) = job else {
        return Ok(UploadOutcome::Continue {
            offset: size,
            filekey: key,
            warnings,
        });
    };
    if opts.async_mode {
        return Ok(UploadOutcome::Poll {
            filekey: Some(key),
            filename: None,
            warnings,
        });
    }
    // Synchronous: this request runs the assembly it claimed, to its end even if the client
    // goes away.
    let job = JobRef {
        id: job,
        worker: app.worker_id.clone(),
        user_id: req.user.id,
        key,
    };
    let a = app.clone();
    tokio::spawn(async move {
        let out = queue::with_lease(&a, &job, assemble(&a, &job, &assembly, false)).await;
        if let Err(e) = &out {
            let ended = if queue::transient(e) {
                // The database or the disk failed: the job runner tries again, and records
                // the outcome for `checkstatus`.
                queue::retry_later(&a, &job, 0).await
            } else {
                // Whatever the assembly did not record itself ends the job here.
                queue::finish(&a, &job, None).await.map(|_| ())
            };
            if let Err(fe) = ended {
                tracing::error!(job = job.id, error = %fe, code = %e.code, "could not end a failed job");
            }
        }
        out
    })
    .await
    .map_err(ApiError::task_failed)?
}

/// Ends an assembly job inside the transaction of its outcome: the status `checkstatus`
/// reports is stored (`report`) or removed (a synchronous upload answered by its request),
/// and the job removed if this worker still holds it.
async fn end_job(
    tx: &mut dyn WriteTx,
    job: &JobRef,
    report: bool,
    status: &serde_json::Value,
) -> Result<(), ApiError> {
    if report {
        tx.put_status(&status_record(job.user_id, &job.key, status))
            .await?;
    } else {
        tx.delete_status(job.user_id, &job.key).await?;
    }
    if !tx.complete_job(job.id, Some(&job.worker)).await? {
        return Err(StoreError::LeaseLost(job.id).into());
    }
    Ok(())
}

/// The name of the server-side file MediaWiki gives an assembled upload.
fn chunked_temp_base() -> String {
    let r: u64 = rand::random();
    format!("chunkedupload_{:012x}", r & 0xffff_ffff_ffff)
}

/// Assembles a chunked upload whose last chunk arrived: verifies it whole (reading it where
/// it lies), makes it a blob named by the hash carried through its appends, and replaces its
/// stash entry with a finished one under a new key — one transaction, which also ends the
/// job and stores its status for `checkstatus` when `report` (a job the runner took, for an
/// asynchronous upload or one whose request is gone) or removes it (a synchronous upload
/// answered by its request).
pub async fn assemble(
    app: &Arc<AppState>,
    job: &JobRef,
    p: &AssembleJob,
    report: bool,
) -> Result<UploadOutcome, ApiError> {
    let key = &job.key;
    let _upload = app.locks.exclusive(LockKey::Upload(key.clone())).await;
    let entry = match app.repo.stash_get(key).await? {
        Some(e) if e.status == StashStatus::Assembling && e.user_id == job.user_id => e,
        _ => {
            return Err(ApiError::new(
                Code::StashFailed,
                "No chunked upload session with this key.",
            ))
        }
    };
    let size = entry.meta.size;
    let hash = match entry.hash_state.as_deref().map(RunningSha1::from_bytes) {
        Some(Ok(h)) if h.len() == size => h,
        _ => app.spool.hash_prefix(key, size).await?,
    };
    let sha1 = hash.hex();
    let req = Req::for_job(app.clone(), job.user_id, p.grants.clone()).await?;
    let content = app.spool.upload_content(key, size).await?;
    let inspected = inspect::inspect_assembled(app, content, &p.filename, size, &sha1).await;
    crate::faults::point("assembly-verified").await;
    let ins = match inspected {
        Ok(i) => i,
        Err(e) => {
            // Keep the specific reason, under the code clients expect at this step.
            let mut err = ApiError::new(Code::StashFailed, e.info.clone());
            for (k, v) in &e.data {
                err.data.insert(k.clone(), v.clone());
            }
            err.data
                .insert("verification".into(), e.code.clone().into());
            let mut tx = app.repo.begin_write().await?;
            tx.stash_delete(key).await?;
            end_job(
                tx.as_mut(),
                job,
                report,
                &response::failure_status("assembling", &err),
            )
            .await?;
            tx.commit().await?;
            app.spool.delete_upload(key).await?;
            return Err(err);
        }
    };
    let warnings: Warnings = match &ins.name {
        Ok(n) => {
            let state = TitleState::load(&req, &n.dbkey, Some(&sha1)).await?;
            checks::warnings(&req, &p.filename, n, size, Some(&sha1), &state).await?
        }
        Err(_) => Warnings::new(),
    };
    let new_key = stash::new_filekey(job.user_id, &stash::filekey_ext(app, &ins.facts.file_mime));
    let finished = stash::finished_entry(
        app,
        job.user_id,
        &new_key,
        &ins.facts,
        Source::File,
        &chunked_temp_base(),
    );
    let outcome = UploadOutcome::Assembled {
        filekey: new_key,
        warnings,
        imageinfo: stash_info(app, &finished, &InfoProps::all()),
    };
    {
        let _gc = app.locks.shared(LockKey::BlobGc).await;
        app.spool.promote_upload(key, &hash).await?;
        crate::faults::point("assembly-promoted").await;
        let mut tx = app.repo.begin_write().await?;
        if !tx.stash_delete(key).await? {
            return Err(ApiError::stash_not_found(key));
        }
        tx.stash_insert(&finished).await?;
        end_job(tx.as_mut(), job, report, &outcome.to_status("assembling")).await?;
        tx.commit().await?;
    }
    crate::faults::point("assembly-committed").await;
    app.spool.delete_upload(key).await?;
    Ok(outcome)
}
