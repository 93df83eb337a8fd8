//! `filekey=`: a file already in the user's stash (finished, verified, a blob).

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::{stash, Body, Candidate, Source};

/// The stashed file as a candidate, after MediaWiki's stash checks.
pub async fn receive(req: &Req, filekey: &str) -> Result<Candidate, ApiError> {
    req.require_stash_user()?;
    let e = stash::load_owned(req, filekey).await?;
    if e.status.is_chunked() {
        return Err(ApiError::new(
            Code::StashFailed,
            "This stashed file is an unfinished chunked upload; send its remaining chunks before publishing it.",
        ));
    }
    Ok(Candidate {
        size: e.meta.size,
        sha1: e.meta.sha1.clone(),
        too_large: false,
        body: Body::Stashed(Box::new(e)),
        source: Source::Stash,
    })
}
