//! The upload stash: new filekeys, storing a candidate (its blob, then its entry, one
//! transaction), and loading an entry for its owner with MediaWiki's stash errors.

use rand::Rng;
use serde_json::json;

use mwstore_domain::mime;
use mwstore_domain::title;
use mwstore_storage::coord::LockKey;
use mwstore_storage::{StashEntry, StashStatus};

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::inspect::Facts;
use crate::ingest::request::filekey_format_ok;
use crate::ingest::{Body, Candidate, Source};
use crate::AppState;

/// A new filekey: `<base36 time+µs>.<base36 random>.<user id>.<ext>`.
pub fn new_filekey(user_id: i64, ext: &str) -> String {
    let now = chrono::Utc::now();
    // Seconds followed by eight sub-second digits, as PHP's microtime() gives them.
    let t: u128 =
        now.timestamp().max(0) as u128 * 100_000_000 + now.timestamp_subsec_micros() as u128 * 100;
    let r: u32 = rand::thread_rng().gen_range(0..2_176_782_336);
    format!(
        "{}.{}.{}.{}",
        mwstore_domain::base36::to_base36_u128(t),
        mwstore_domain::base36::to_base36_u128(r as u128),
        user_id,
        ext
    )
}

/// The extension of a filekey for content of this MIME type: its first extension,
/// normalised, never a prohibited one (an empty one then).
pub fn filekey_ext(app: &AppState, file_mime: &str) -> String {
    key_ext_for(file_mime, &app.config.prohibited_file_extensions)
}

/// The extension of a filekey (`….png` → `png`).
pub fn key_ext(key: &str) -> &str {
    key.rsplit_once('.').map(|(_, e)| e).unwrap_or_default()
}

/// [`filekey_ext`] with the prohibited extensions given.
pub fn key_ext_for(file_mime: &str, prohibited: &[String]) -> String {
    mime::extensions_for_mime(file_mime)
        .first()
        .map(|e| title::normalize_extension(e))
        .filter(|e| !prohibited.contains(e))
        .unwrap_or_default()
}

/// What a stash entry records besides [`mwstore_storage::FileMeta`]: the content's own MIME
/// type, its metadata, and the extension it was verified for.
pub fn props_json(facts: &Facts) -> String {
    json!({
        "file_mime": facts.file_mime,
        "metadata_json": facts.meta.metadata,
        "verified_ext": facts.verified_ext,
    })
    .to_string()
}

/// A finished stash entry for content with these facts. `temp_base` names the server-side
/// file as MediaWiki would (`phpXXXXXX`, `chunkedupload_…`).
pub fn finished_entry(
    app: &AppState,
    user_id: i64,
    key: &str,
    facts: &Facts,
    source: Source,
    temp_base: &str,
) -> StashEntry {
    let now = chrono::Utc::now();
    let ext = key_ext(key);
    let temp_name = if ext.is_empty() {
        format!("{}!{temp_base}", mwstore_storage::ts14(now))
    } else {
        format!("{}!{temp_base}.{ext}", mwstore_storage::ts14(now))
    };
    StashEntry {
        id: 0,
        user_id,
        key: key.to_owned(),
        meta: facts.meta.clone(),
        source_type: Some(if source == Source::Url { "url" } else { "file" }.into()),
        timestamp: mwstore_storage::ts14(now),
        expires: now.timestamp() + app.config.upload_stash_max_age as i64,
        status: StashStatus::Finished,
        chunk_inx: None,
        props: props_json(facts),
        temp_name,
        hash_state: None,
    }
}

fn php_temp_base() -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..6)
        .map(|_| A[rng.gen_range(0..A.len())] as char)
        .collect();
    format!("php{tail}")
}

/// Stores a verified candidate in the requesting user's stash under a new key
/// (`stashnotloggedin` for anonymous users): its bytes become a blob, then one transaction
/// adds the entry. A candidate that already is a stashed blob gets a new entry for the same
/// blob.
pub async fn store(req: &Req, cand: Candidate, facts: &Facts) -> Result<StashEntry, ApiError> {
    req.require_stash_user()?;
    let (app, user_id) = (&req.app, req.user.id);
    // A URL upload's key has no extension (MediaWiki's quirk, kept).
    let ext = if cand.source == Source::Url {
        String::new()
    } else {
        filekey_ext(app, &facts.file_mime)
    };
    let key = new_filekey(user_id, &ext);
    let source = match &cand.body {
        Body::Stashed(e) if e.source_type.as_deref() == Some("url") => Source::Url,
        _ => cand.source,
    };
    let entry = finished_entry(app, user_id, &key, facts, source, &php_temp_base());
    let _gc = app.locks.shared(LockKey::BlobGc).await;
    if let Body::Staged(staged) = cand.body {
        app.spool.promote(staged).await?;
        crate::faults::point("staged-promoted").await;
    }
    let mut tx = app.repo.begin_write().await?;
    tx.stash_insert(&entry).await?;
    crate::faults::point("stash-before-commit").await;
    tx.commit().await?;
    crate::faults::point("stash-committed").await;
    Ok(entry)
}

/// For recoverable errors: stash the file and add `filekey`/`sessionkey` to the error (or
/// `stasherrors` when it cannot be stashed).
pub async fn stash_recoverable(req: &Req, cand: Candidate, facts: &Facts, err: &mut ApiError) {
    match store(req, cand, facts).await {
        Ok(entry) => {
            err.data.insert("filekey".into(), entry.key.clone().into());
            err.data.insert("sessionkey".into(), entry.key.into());
        }
        Err(e) => {
            err.data.insert(
                "stasherrors".into(),
                crate::ingest::response::stash_errors(&e),
            );
        }
    }
}

/// Loads a stash entry owned by the current user, with MediaWiki's stash errors. An expired
/// entry is gone, whether or not the sweeper got to it yet.
pub async fn load_owned(req: &Req, key: &str) -> Result<StashEntry, ApiError> {
    if !filekey_format_ok(key) {
        return Err(ApiError::new(
            Code::UploadstashBadPathBadFormat,
            format!("Key \"{key}\" is not in a proper format."),
        ));
    }
    let not_found = || ApiError::stash_not_found(key);
    let Some(e) = req.app.repo.stash_get(key).await? else {
        return Err(not_found());
    };
    if e.user_id != req.user.id {
        return Err(ApiError::new(
            Code::UploadstashWrongOwner,
            format!("This file ({key}) doesn't belong to the current user."),
        ));
    }
    if e.expires <= Req::now() {
        remove_entry(&req.app, &e).await?;
        return Err(not_found());
    }
    if e.status == StashStatus::Finished && req.app.blobs.head(&e.meta.sha1).await?.is_none() {
        return Err(ApiError::stash_bytes_missing());
    }
    Ok(e)
}

/// Removes a stash entry and whatever only it kept: the bytes of a chunked upload, or its
/// blob when nothing else refers to it.
pub async fn remove_entry(app: &AppState, e: &StashEntry) -> Result<(), ApiError> {
    let _upload = app.locks.exclusive(LockKey::Upload(e.key.clone())).await;
    if app.repo.stash_delete(&e.key).await? {
        if e.status.is_chunked() {
            app.spool.delete_upload(&e.key).await?;
        } else {
            app.collect_blob(&e.meta.sha1).await;
        }
    }
    Ok(())
}
