//! Reading a request into [`Params`]: the query string, then an urlencoded or multipart body.
//! Multipart file parts are streamed into the upload spool and hashed on the way; nothing of
//! a file is held in memory.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::HeaderMap;
use futures_util::StreamExt;

use mwstore_multipart::{parse_boundary, Limits, MultipartReader};
use mwstore_storage::UploadSpool;

use crate::error::{ApiError, Code};
use crate::limits::{self, Share};
use crate::params::{Params, UploadedFile};

/// Limits on what a request may carry.
pub struct BodyLimits {
    /// Largest file part kept; larger ones are discarded and flagged.
    pub max_file: u64,
    /// Total bytes of text fields (urlencoded bodies included).
    pub max_fields: u64,
    /// Bytes read past `max_file` before the request is cut off.
    pub max_discard: u64,
    /// Parameters (query string and body together), as PHP's `max_input_vars`.
    pub max_vars: usize,
    /// Seconds the body may pause (for the 408 answer's text; the timer is the server's).
    pub body_timeout_secs: u64,
}

/// What a request may still send, counted down as it is read.
pub struct Budget {
    vars_left: usize,
    max_vars: usize,
}

impl Budget {
    pub fn new(limits: &BodyLimits) -> Budget {
        Budget {
            vars_left: limits.max_vars,
            max_vars: limits.max_vars,
        }
    }

    /// Counts one more parameter.
    fn var(&mut self) -> Result<(), ApiError> {
        match self.vars_left.checked_sub(1) {
            Some(n) => {
                self.vars_left = n;
                Ok(())
            }
            None => Err(too_many_params(self.max_vars)),
        }
    }
}

/// `toomanyparams`: more than `max` parameters.
fn too_many_params(max: usize) -> ApiError {
    ApiError::new(
        Code::TooManyParams,
        format!(
            "The request has more than the allowed {} parameters.",
            crate::params::format_num(i64::try_from(max).unwrap_or(i64::MAX))
        ),
    )
}

/// Whether the request may send file parts, decided from its headers and session before
/// its body is read.
pub struct FileGate {
    /// The answer for any file part, when none may come (an anonymous request where
    /// anonymous users may not upload).
    pub refusal: Option<ApiError>,
    /// The request's share of the upload spool, grown as file bytes are staged.
    pub share: Share,
}

fn file_part_refused(info: &str) -> ApiError {
    ApiError::new(Code::BadUpload, info.to_owned())
}

impl FileGate {
    /// Whether the file part `name` may be taken, given the parameters read so far and the
    /// file parts taken already.
    fn check(&mut self, name: &str, params: &Params, taken: usize) -> Result<(), ApiError> {
        if let Some(r) = self.refusal.take() {
            // MediaWiki checks the token before the rights: a client that sent its token
            // before the file gets that answer.
            if params
                .raw("token")
                .is_some_and(|t| t != crate::auth::session::ANON_TOKEN)
            {
                return Err(ApiError::new(Code::BadToken, "Invalid CSRF token."));
            }
            return Err(r);
        }
        if params.raw("action") != Some("upload") {
            return Err(file_part_refused(
                "A file part was sent before \"action=upload\" or for another action: files are accepted only for action=upload.",
            ));
        }
        if name != "file" && name != "chunk" {
            return Err(file_part_refused(&format!(
                "File parts are accepted only as \"file\" or \"chunk\" (got \"{name}\")."
            )));
        }
        if taken > 0 {
            return Err(file_part_refused(
                "Only one file part (\"file\" or \"chunk\") is accepted per request.",
            ));
        }
        Ok(())
    }

    fn grow(&mut self, n: u64) -> Result<(), ApiError> {
        self.share
            .grow(n)
            .map_err(|which| limits::busy("bytes of uploads are being received", which, 10))
    }
}

fn split_pairs(bytes: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    bytes
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|b| *b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &p[p.len()..]),
            };
            (form_decode(k), form_decode(v))
        })
}

fn form_decode(s: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = s
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus).collect()
}

/// Parses the query string into `params`.
pub fn read_query(
    params: &mut Params,
    query: Option<&str>,
    budget: &mut Budget,
) -> Result<(), ApiError> {
    if let Some(q) = query {
        for (k, v) in split_pairs(q.as_bytes()) {
            budget.var()?;
            params.push_query(&k, &v);
        }
    }
    Ok(())
}

/// The request's declared body length, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// A request body that notes when it has been read to its end.
pub struct EndNoted {
    inner: Body,
    finished: Arc<AtomicBool>,
}

/// Wraps `body`; the flag is set once its last frame has been read.
pub fn tracked(body: Body) -> (Body, Arc<AtomicBool>) {
    let finished = Arc::new(AtomicBool::new(false));
    let body = Body::new(EndNoted {
        inner: body,
        finished: finished.clone(),
    });
    (body, finished)
}

impl http_body::Body for EndNoted {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        let done = match &r {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            _ => false,
        };
        if done {
            self.finished.store(true, Ordering::Release);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Largest body of a kind the API does not read that is read and dropped (so that the
/// connection stays usable) rather than left unread.
const DISCARD_SMALL: u64 = 64 * 1024;

/// Reads and drops a body the API does not use when its declared length is small; returns
/// whether it was read to its end.
pub async fn discard_small(body: Body, declared: Option<u64>) -> bool {
    if declared.is_none_or(|n| n > DISCARD_SMALL) {
        return declared == Some(0);
    }
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                seen += c.len() as u64;
                if seen > DISCARD_SMALL {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// Maps a failure of the body stream: the idle timeout becomes 408.
fn stream_error(e: &(dyn std::error::Error + 'static), timeout_secs: u64) -> ApiError {
    if crate::http::server::is_body_timeout(e) {
        ApiError::new(
            Code::RequestTimeout,
            format!("No part of the request body arrived for {timeout_secs} seconds."),
        )
    } else {
        body_error("The request body could not be read.")
    }
}

/// What kind of body a request has.
pub enum BodyKind {
    None,
    UrlEncoded,
    Multipart(String),
    /// A body type the API does not read (e.g. JSON); it is ignored.
    Other,
    /// POST without Content-Type.
    Missing,
}

/// Classifies the body by its Content-Type.
pub fn body_kind(headers: &HeaderMap, is_post: bool) -> BodyKind {
    if !is_post {
        return BodyKind::None;
    }
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return BodyKind::Missing;
    };
    let lower = ct.to_ascii_lowercase();
    if lower.starts_with("application/x-www-form-urlencoded") {
        BodyKind::UrlEncoded
    } else if lower.starts_with("multipart/form-data") {
        match parse_boundary(ct) {
            Some(b) => BodyKind::Multipart(b),
            None => BodyKind::Other,
        }
    } else {
        BodyKind::Other
    }
}

fn body_error(info: &str) -> ApiError {
    ApiError::new(Code::BadUpload, info.to_owned())
}

pub fn fields_too_large(max: u64) -> ApiError {
    ApiError::new(
        Code::TooLarge,
        format!("The form fields of the request are larger than the allowed {max} bytes."),
    )
}

/// Reads an urlencoded body, counting parameters as they arrive so that a body with too
/// many is refused after reading no more than that.
pub async fn read_urlencoded(
    params: &mut Params,
    body: Body,
    limits: &BodyLimits,
    budget: &mut Budget,
) -> Result<(), ApiError> {
    let timeout_secs = limits.body_timeout_secs;
    let mut buf: Vec<u8> = Vec::new();
    let mut stream = body.into_data_stream();
    // Separators seen so far: a body of N parameters has at least N - 1 of them.
    let mut seps = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| stream_error(&e, timeout_secs))?;
        if (buf.len() + chunk.len()) as u64 > limits.max_fields {
            return Err(fields_too_large(limits.max_fields));
        }
        seps += memchr::memchr_iter(b'&', &chunk).count();
        if seps >= budget.vars_left.saturating_add(1) {
            return Err(too_many_params(budget.max_vars));
        }
        buf.extend_from_slice(&chunk);
    }
    for (k, v) in split_pairs(&buf) {
        budget.var()?;
        params.push_body(&k, &v);
    }
    Ok(())
}

/// Reads a multipart body, staging the one file part the request may send in the upload
/// spool. A file part that may not be taken ends the reading at once.
pub async fn read_multipart(
    params: &mut Params,
    body: Body,
    boundary: &str,
    spool: &dyn UploadSpool,
    limits: &BodyLimits,
    budget: &mut Budget,
    gate: &mut FileGate,
) -> Result<(), ApiError> {
    let timeout_secs = limits.body_timeout_secs;
    let stream = body.into_data_stream();
    let mut reader = MultipartReader::new(stream, boundary, Limits::default());
    let mut field_bytes = 0u64;
    let mut files = 0usize;
    let error = |e: &mwstore_multipart::MultipartError| match e {
        mwstore_multipart::MultipartError::Stream(inner) => {
            stream_error(inner.as_ref(), timeout_secs)
        }
        mwstore_multipart::MultipartError::TooManyParts => too_many_params(limits.max_vars),
        other => multipart_error(other),
    };
    loop {
        let part = match reader.next_part().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(error(&e)),
        };
        budget.var()?;
        match part.filename {
            Some(part_filename) => {
                gate.check(&part.name, params, files)?;
                files += 1;
                // A chunk's bytes are hashed as they are appended to their upload (the
                // running hash of the whole file); a hash of the chunk alone is never used.
                let mut staged = spool.stage(part.name != "chunk").await?;
                let mut size: u64 = 0;
                let mut too_large = false;
                loop {
                    let chunk = match reader.read_chunk().await {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(e) => return Err(error(&e)),
                    };
                    size += chunk.len() as u64;
                    if size > limits.max_file {
                        too_large = true;
                        if size > limits.max_file.saturating_add(limits.max_discard) {
                            return Err(file_too_large(limits.max_file));
                        }
                        continue;
                    }
                    gate.grow(chunk.len() as u64)?;
                    staged.write(chunk).await?;
                }
                let staged = staged.finish().await?;
                // An empty filename means "no file chosen" (PHP's UPLOAD_ERR_NO_FILE): the
                // parameter counts as absent.
                if part_filename.is_empty() && size == 0 {
                    continue;
                }
                params.push_file(
                    part.name,
                    UploadedFile {
                        staged,
                        size,
                        part_filename,
                        too_large,
                    },
                );
            }
            None => {
                let remaining = limits.max_fields.saturating_sub(field_bytes);
                let remaining = usize::try_from(remaining).unwrap_or(usize::MAX);
                let value = match reader.read_to_vec(remaining).await {
                    Ok(v) => v,
                    Err(mwstore_multipart::MultipartError::FieldTooLarge) => {
                        return Err(fields_too_large(limits.max_fields));
                    }
                    Err(e) => return Err(error(&e)),
                };
                field_bytes += value.len() as u64;
                params.push_body(part.name.as_bytes(), &value);
            }
        }
    }
    // What follows the closing delimiter is read too, so that the connection stays usable.
    reader.finish(DISCARD_SMALL).await.map_err(|e| error(&e))?;
    Ok(())
}

/// `file-too-large` for a body part over the limit.
pub fn file_too_large(_max: u64) -> ApiError {
    ApiError::new(Code::FileTooLarge, "The file you submitted was too large.")
}

fn multipart_error(e: &mwstore_multipart::MultipartError) -> ApiError {
    ApiError::new(
        Code::BadUpload,
        format!("The multipart/form-data body could not be read: {e}."),
    )
}
