//! The sweeper, run at start and then periodically: it removes what nothing refers to any
//! more — expired sessions, statuses and stash entries; staged files and chunked uploads
//! left behind (a crash, an abandoned request); and blobs that no version, deleted file or
//! stash entry refers to — once they are older than a grace period, and logs what it
//! removed. Blobs are collected under the exclusive blob lock, which every step that makes a
//! blob referenced holds shared, so a blob is never collected between its write and the
//! commit that refers to it. The sweeper is supervised: a failing round is logged and the
//! next one runs.

use std::sync::Arc;
use std::time::Duration;

use mwstore_storage::coord::LockKey;
use mwstore_storage::SpoolItem;

use crate::context::Req;
use crate::ingest::stash::remove_entry;
use crate::AppState;

/// Blobs listed per round (the listing goes on where the last round stopped).
const BLOBS_PER_ROUND: usize = 2000;

/// What one round removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub statuses: u64,
    pub stash_entries: u64,
    pub spool_items: u64,
    pub thumbnails: u64,
    pub blobs: u64,
}

/// Starts the sweeper: a round now, then one every `every`.
pub fn spawn(app: Arc<AppState>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut cursor: Option<String> = None;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let a = app.clone();
            let c = cursor.clone();
            match tokio::spawn(async move { sweep(&a, c).await }).await {
                Ok((swept, next)) => {
                    cursor = next;
                    if swept != Swept::default() {
                        tracing::info!(?swept, "sweeper removed what nothing refers to");
                    }
                }
                Err(e) => tracing::error!(error = %e, "a sweeper round failed"),
            }
        }
    })
}

/// One round; `cursor` is where the blob listing continues. Returns what was removed and
/// the next cursor.
pub async fn sweep(app: &AppState, cursor: Option<String>) -> (Swept, Option<String>) {
    let now = Req::now();
    let grace = app.config.sweep_grace_period as i64;
    let mut swept = Swept::default();
    match app.repo.delete_expired_sessions(now).await {
        Ok(n) => swept.sessions = n,
        Err(e) => tracing::warn!(error = %e, "session sweep failed"),
    }
    match app.repo.delete_expired_statuses(now).await {
        Ok(n) => swept.statuses = n,
        Err(e) => tracing::warn!(error = %e, "status sweep failed"),
    }
    match app.repo.stash_expired(now, 500).await {
        Ok(entries) => {
            for e in entries {
                match remove_entry(app, &e).await {
                    Ok(()) => {
                        swept.stash_entries += 1;
                        tracing::info!(key = %e.key, "removed an expired stash entry");
                    }
                    Err(err) => {
                        tracing::warn!(key = %e.key, code = %err.code, "could not remove an expired stash entry")
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "stash sweep failed"),
    }
    match app.spool.stale(now - grace, 1000).await {
        Ok(items) => {
            for item in items {
                if let SpoolItem::Upload(key) = &item {
                    let _upload = app.locks.exclusive(LockKey::Upload(key.clone())).await;
                    match app.repo.chunked_upload_exists(key).await {
                        Ok(false) => {}
                        Ok(true) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not check a chunked upload");
                            continue;
                        }
                    }
                    if let Err(e) = app.spool.remove(&item).await {
                        tracing::warn!(?item, error = %e, "could not remove a spool item");
                        continue;
                    }
                } else if let Err(e) = app.spool.remove(&item).await {
                    tracing::warn!(?item, error = %e, "could not remove a spool item");
                    continue;
                }
                swept.spool_items += 1;
                tracing::info!(?item, "removed a spool item nothing refers to");
            }
        }
        Err(e) => tracing::warn!(error = %e, "spool sweep failed"),
    }
    // Thumbnails of content no file version refers to any more go; their blobs are then
    // collected below like any unreferenced bytes.
    match app.repo.delete_orphan_thumbnails(1000).await {
        Ok(n) => swept.thumbnails = n,
        Err(e) => tracing::warn!(error = %e, "thumbnail sweep failed"),
    }
    let listed = match app.blobs.list(cursor.as_deref(), BLOBS_PER_ROUND).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "blob sweep failed");
            return (swept, None);
        }
    };
    let next = if listed.len() < BLOBS_PER_ROUND {
        None
    } else {
        listed.last().map(|b| b.sha1.clone())
    };
    for blob in listed.into_iter().filter(|b| b.modified < now - grace) {
        let _gc = app.locks.exclusive(LockKey::BlobGc).await;
        match app.repo.blob_referenced(&blob.sha1).await {
            Ok(false) => {}
            Ok(true) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not check blob references");
                continue;
            }
        }
        // Checked again under the lock: it may have been stored anew meanwhile.
        match app.blobs.head(&blob.sha1).await {
            Ok(Some(b)) if b.modified < now - grace => {}
            _ => continue,
        }
        match app.blobs.delete(&blob.sha1).await {
            Ok(()) => {
                swept.blobs += 1;
                tracing::info!(sha1 = %blob.sha1, size = blob.size, "removed a blob nothing refers to");
            }
            Err(e) => tracing::warn!(sha1 = %blob.sha1, error = %e, "could not remove a blob"),
        }
    }
    (swept, next)
}
