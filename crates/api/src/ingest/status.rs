//! `checkstatus`: the status of an asynchronous step, or the progress of an upload in
//! progress, for the current user's filekey.

use serde_json::{Map, Value};

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::response::wrap;
use crate::AppState;

/// The stored status of (user, key), if any.
pub async fn stored(app: &AppState, user: i64, key: &str) -> Result<Option<Value>, ApiError> {
    Ok(app
        .repo
        .status(user, key, Req::now())
        .await?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

/// Turns a stored failure into the error `checkstatus` answers with. The code stays
/// MediaWiki's `stashfailed`; the specific reason and its data are kept.
pub fn failure_error(v: &Value) -> ApiError {
    let err = &v["error"];
    let info = err["info"]
        .as_str()
        .unwrap_or("Internal error: Server failed to store temporary file.");
    let mut e = ApiError::new(Code::StashFailed, info);
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

/// `checkstatus=1&filekey=K`.
pub async fn check(req: &Req, key: &str) -> Result<Map<String, Value>, ApiError> {
    req.require_stash_user()?;
    // Asynchronous steps keep their status; then uploads in progress report theirs; a
    // finished or unknown key has none.
    if let Some(st) = stored(&req.app, req.user.id, key).await? {
        if st["result"] == "Failure" {
            return Err(failure_error(&st));
        }
        return Ok(wrap(st.as_object().cloned().unwrap_or_default()));
    }
    if let Some(e) = req.app.repo.stash_get(key).await? {
        if e.user_id == req.user.id
            && e.status == mwstore_storage::StashStatus::Chunks
            && e.expires > Req::now()
        {
            let mut out = Map::new();
            out.insert("result".into(), "Continue".into());
            out.insert("stage".into(), "uploading".into());
            out.insert("offset".into(), e.meta.size.into());
            return Ok(wrap(out));
        }
    }
    Err(ApiError::new(
        Code::MissingResult,
        "No result in status data.",
    ))
}
