//! `action=upload`: one ingest pipeline for every source of bytes.
//!
//! [`request`] parses the request into a typed mode. A source ([`sources`]) only produces a
//! [`Candidate`]: bytes that reached the server (staged in the spool, or already a blob in
//! the stash) with their size and SHA-1. [`pipeline`] then decides, in one place and once per
//! content: rights, size, content inspection ([`inspect`], with [`antivirus`]'s scan,
//! recorded with the stash entry so a later commit does not repeat it), name policy, and —
//! under the name's lock — title permissions, warnings ([`checks`]) and the publish
//! ([`publish`]). Chunked uploads ([`sources::chunks`]) append under their upload's lock and
//! are assembled by a job, which the final chunk runs itself when it is synchronous.
//! [`response`] turns the typed outcome into MediaWiki's JSON; [`status`] answers
//! `checkstatus`.

pub mod antivirus;
pub mod checks;
pub mod inspect;
pub mod pipeline;
pub mod publish;
pub mod request;
pub mod response;
pub mod sources;
pub mod stash;
pub mod status;

use serde_json::{Map, Value};

use mwstore_storage::{Staged, StashEntry};

use crate::context::Req;
use crate::error::ApiError;
use request::{Mode, UploadRequest};

/// Where the bytes of a candidate are.
#[derive(Debug)]
pub enum Body {
    /// Staged in the upload spool (a file part, a fetched URL): becomes a blob when stashed
    /// or published, and is dropped otherwise.
    Staged(Staged),
    /// A blob already, referred to by a stash entry (whose recorded facts come along).
    Stashed(Box<StashEntry>),
    /// A blob already, that nothing refers to yet (a publish promoted it, then stopped).
    Blob,
}

/// How a candidate arrived (it decides the key's extension and the stash's source type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Url,
    Stash,
}

/// Content that reached the server, before anything was decided about it.
#[derive(Debug)]
pub struct Candidate {
    pub body: Body,
    pub size: u64,
    /// 40-char hex SHA-1.
    pub sha1: String,
    pub source: Source,
    /// The part was over the size limit; its bytes were not kept.
    pub too_large: bool,
}

/// `action=upload`.
pub async fn execute(req: &mut Req, up: UploadRequest) -> Result<Map<String, Value>, ApiError> {
    let opts = up.opts;
    let outcome = match up.mode {
        Mode::CheckStatus { filekey } => return status::check(req, &filekey).await,
        Mode::Chunk { filename, chunk } => {
            sources::chunks::receive(req, &opts, &filename, chunk).await?
        }
        Mode::File { filename, file } => {
            let cand = sources::file::receive(file)?;
            pipeline::run(req, &opts, &filename, cand).await?
        }
        Mode::Url { filename, url } => {
            let cand = sources::url::receive(req, &url).await?;
            pipeline::run(req, &opts, &filename, cand).await?
        }
        Mode::Stashed { filename, filekey } => {
            let cand = sources::stashed::receive(req, &filekey).await?;
            pipeline::run(req, &opts, &filename, cand).await?
        }
    };
    Ok(outcome.into_response())
}
