//! Looking at content, once: sniffing, file properties and verification run together on a
//! blocking thread, and what they find ([`Facts`]) is recorded with the stash entry, so that
//! a commit by filekey under a name with the same extension does not look again.

use std::sync::Arc;

use serde_json::{json, Value};

use mwstore_domain::io::Content;
use mwstore_domain::title::{self, NameError, UploadName};
use mwstore_domain::verify::VerificationError;
use mwstore_domain::{mime, props, verify};
use mwstore_storage::{FileMeta, Staged, StashEntry};

use crate::error::{ApiError, Code};
use crate::ingest::{antivirus, Body, Candidate};
use crate::AppState;

/// What is known of a content after inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The properties stored with a version (size, dimensions, MIME, metadata, SHA-1).
    pub meta: FileMeta,
    /// The MIME type from the content alone.
    pub file_mime: String,
    /// The extension the content passed verification for.
    pub verified_ext: String,
}

impl Facts {
    /// The facts a stash entry recorded, if it recorded its verification.
    pub fn recorded(e: &StashEntry) -> Option<Facts> {
        let v: Value = serde_json::from_str(&e.props).ok()?;
        Some(Facts {
            meta: e.meta.clone(),
            file_mime: v.get("file_mime")?.as_str()?.to_owned(),
            verified_ext: v.get("verified_ext")?.as_str()?.to_owned(),
        })
    }
}

/// The facts and the name worked out for an upload.
#[derive(Debug)]
pub struct Inspection {
    pub facts: Facts,
    pub name: Result<UploadName, NameError>,
}

fn file_meta(p: &props::FileProps) -> FileMeta {
    FileMeta {
        size: p.size,
        width: p.width,
        height: p.height,
        bits: p.bits,
        metadata: json!({"metadata": p.metadata, "commonmetadata": p.common_metadata}).to_string(),
        media_type: p.media_type.clone(),
        major_mime: p.major_mime.clone(),
        minor_mime: p.minor_mime.clone(),
        sha1: p.sha1.clone(),
    }
}

/// The first extension of a MIME type (the guess for a name without one).
fn guess_ext(file_mime: &str) -> Option<String> {
    mime::extensions_for_mime(file_mime)
        .first()
        .map(|e| (*e).to_owned())
}

/// The extension verification works with: the final one of the (filtered) name.
fn verification_ext(
    requested: &str,
    name: &Result<UploadName, NameError>,
    guess: Option<&str>,
) -> String {
    match name {
        Ok(n) => n.final_ext.to_lowercase(),
        Err(_) => {
            let filtered = title::strip_illegal_filename_chars(requested);
            match filtered.rsplit_once('.') {
                Some((_, e)) => e.trim().to_lowercase(),
                None => guess.unwrap_or_default().to_owned(),
            }
        }
    }
}

/// `verification-error` for a failed check.
pub fn verification_error(v: &VerificationError) -> ApiError {
    let mut details = vec![Value::String(v.key.clone())];
    details.extend(v.params.iter().map(|p| Value::String(p.clone())));
    ApiError::new(Code::VerificationError, v.info()).with("details", details)
}

/// `empty-file` and `file-too-large`.
fn check_size(app: &AppState, size: u64, too_large: bool) -> Result<(), ApiError> {
    if size == 0 {
        return Err(ApiError::new(
            Code::EmptyFile,
            "The file you submitted was empty.",
        ));
    }
    if too_large || size > app.config.max_upload_size {
        return Err(crate::http::body::file_too_large(
            app.config.max_upload_size,
        ));
    }
    Ok(())
}

/// Size checks, content verification and the name, in MediaWiki's order (content errors
/// before name errors). A stashed candidate whose recorded verification covers the
/// extension of `requested` is not read again.
pub async fn inspect(
    app: &AppState,
    cand: &Candidate,
    requested: &str,
) -> Result<Inspection, ApiError> {
    check_size(app, cand.size, cand.too_large)?;
    let cfg = &app.config;
    if let Body::Stashed(e) = &cand.body {
        if let Some(facts) = Facts::recorded(e) {
            let guess = guess_ext(&facts.file_mime);
            let name = title::normalize_upload_name(requested, guess.as_deref(), cfg);
            if verification_ext(requested, &name, guess.as_deref()) == facts.verified_ext {
                return Ok(Inspection { facts, name });
            }
        }
    }
    let content: Box<dyn Content> = match &cand.body {
        Body::Staged(s) => app.spool.staged_content(s).await?,
        Body::Stashed(_) | Body::Blob => app
            .blobs
            .content(&cand.sha1)
            .await?
            .ok_or_else(ApiError::stash_bytes_missing)?,
    };
    examine(app, content, requested, cand.size, &cand.sha1).await
}

/// What the first look at a complete file found.
struct FirstLook {
    props: props::FileProps,
    name: Result<UploadName, NameError>,
    ext: String,
    /// The partial checks' verdict.
    partial: Result<(), VerificationError>,
    cfg: mwstore_domain::config::Config,
}

/// Sniffs, names, reads the properties of and verifies `content`, in SPEC §7.1's order: the
/// partial checks and the full checks on a blocking thread each, and between them the virus
/// scan ([`antivirus`]). Every complete file goes through here — a direct upload, one by
/// URL, an assembled chunked upload, a stashed file whose recorded verification does not
/// cover its new name — so every complete file is scanned.
async fn examine(
    app: &AppState,
    content: Box<dyn Content>,
    requested: &str,
    size: u64,
    sha1: &str,
) -> Result<Inspection, ApiError> {
    let content: Arc<dyn Content> = Arc::from(content);
    let cfg = app.config.clone();
    let requested = requested.to_owned();
    let hash = sha1.to_owned();
    let bytes = content.clone();
    let look = tokio::task::spawn_blocking(move || -> std::io::Result<FirstLook> {
        let file_mime = mime::sniff(&bytes)?;
        let guess = guess_ext(&file_mime);
        let name = title::normalize_upload_name(&requested, guess.as_deref(), &cfg);
        let ext = verification_ext(&requested, &name, guess.as_deref());
        let props = props::file_props(&bytes, Some(&ext), size, &hash)?;
        let partial = verify::verify_partial(&bytes, &ext, &props.file_mime, &cfg)?;
        Ok(FirstLook {
            props,
            name,
            ext,
            partial,
            cfg,
        })
    })
    .await
    .map_err(ApiError::task_failed)??;
    look.partial.map_err(|v| verification_error(&v))?;
    antivirus::scan_upload(app, content.clone(), sha1)
        .await?
        .map_err(|v| verification_error(&v))?;
    let FirstLook {
        props: fprops,
        name,
        ext,
        cfg,
        ..
    } = look;
    // A bounded number of files are decoded at once; the others wait their turn here.
    let slot = app
        .verifications
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| {
            ApiError::internal(
                "MWException",
                &crate::http::request_id::current_request_id(),
                &e,
            )
        })?;
    let (fprops, ext, verdict) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let _slot = slot;
        let verdict = verify::verify_full(&content, &ext, &fprops, &cfg)?;
        Ok((fprops, ext, verdict))
    })
    .await
    .map_err(ApiError::task_failed)??;
    verdict.map_err(|v| verification_error(&v))?;
    Ok(Inspection {
        facts: Facts {
            meta: file_meta(&fprops),
            file_mime: fprops.file_mime.clone(),
            verified_ext: ext,
        },
        name,
    })
}

/// What the partial checks found on one chunk.
#[derive(Debug)]
pub struct ChunkLook {
    /// The chunk's MIME type from its content.
    pub file_mime: String,
    /// The result of the partial checks, with the extension they ran with.
    pub verdict: Result<(), VerificationError>,
}

/// Sniffs a chunk and runs the partial checks on it, with the upload's key extension, or
/// (for a first chunk) the extension its content gives. Unlike MediaWiki, a chunk is not
/// virus-scanned: the assembled file is, which finds all a chunk's scan would and more
/// (see [`antivirus`]).
pub async fn look_at_chunk(
    app: &AppState,
    chunk: &Staged,
    key_ext: Option<String>,
) -> Result<ChunkLook, ApiError> {
    let content = app.spool.staged_content(chunk).await?;
    let cfg = app.config.clone();
    let prohibited = app.config.prohibited_file_extensions.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<ChunkLook> {
        let file_mime = mime::sniff(&content)?;
        // A first chunk is checked with the extension its new key will have.
        let ext =
            key_ext.unwrap_or_else(|| crate::ingest::stash::key_ext_for(&file_mime, &prohibited));
        let verdict = verify::verify_partial(&content, &ext, &file_mime, &cfg)?;
        Ok(ChunkLook { file_mime, verdict })
    })
    .await
    .map_err(ApiError::task_failed)?
    .map_err(ApiError::from)
}

/// Full inspection of an assembled upload (`content` is its bytes).
pub async fn inspect_assembled(
    app: &AppState,
    content: Box<dyn Content>,
    requested: &str,
    size: u64,
    sha1: &str,
) -> Result<Inspection, ApiError> {
    check_size(app, size, false)?;
    examine(app, content, requested, size, sha1).await
}
