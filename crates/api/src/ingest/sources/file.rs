//! `file=`: a file part of the request body, staged while the body was read.

use crate::error::{ApiError, Code};
use crate::ingest::{Body, Candidate, Source};
use crate::params::UploadedFile;

/// The staged part as a candidate.
pub fn receive(file: UploadedFile) -> Result<Candidate, ApiError> {
    let Some(sha1) = file.staged.sha1.clone() else {
        return Err(ApiError::new(
            Code::BadUpload,
            "The file could not be read.",
        ));
    };
    Ok(Candidate {
        size: file.size,
        sha1,
        too_large: file.too_large,
        body: Body::Staged(file.staged),
        source: Source::File,
    })
}
