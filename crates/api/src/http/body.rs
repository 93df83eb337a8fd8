//! Reading a request into [`Params`]: the query string, then an urlencoded or multipart body.
//! Multipart file parts are streamed into the upload spool and hashed on the way; nothing of
//! a file is held in memory.

use axum::body::Body;
use axum::http::HeaderMap;
use futures_util::StreamExt;

use mwstore_multipart::{parse_boundary, Limits, MultipartReader};
use mwstore_storage::UploadSpool;

use crate::error::{ApiError, Code};
use crate::params::{Params, UploadedFile};

/// Limits on what a request body may carry besides files.
pub struct BodyLimits {
    /// Largest file part kept; larger ones are discarded and flagged.
    pub max_file: u64,
    /// Total bytes of text fields (urlencoded bodies included).
    pub max_fields: usize,
    /// Bytes read past `max_file` before the request is cut off.
    pub max_discard: u64,
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
pub fn read_query(params: &mut Params, query: Option<&str>) {
    if let Some(q) = query {
        for (k, v) in split_pairs(q.as_bytes()) {
            params.push_query(&k, &v);
        }
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

/// Reads an urlencoded body.
pub async fn read_urlencoded(
    params: &mut Params,
    body: Body,
    limits: &BodyLimits,
) -> Result<(), ApiError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| body_error("The request body could not be read."))?;
        if buf.len() + chunk.len() > limits.max_fields {
            // Read (and drop) the rest, within bounds, so the client gets to read the answer
            // instead of a broken pipe.
            let mut drained = 0u64;
            while let Some(Ok(c)) = stream.next().await {
                drained += c.len() as u64;
                if drained > limits.max_discard {
                    break;
                }
            }
            return Err(ApiError::new(
                Code::TooLarge,
                format!(
                    "The request body is larger than the allowed {} bytes of form fields.",
                    limits.max_fields
                ),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    for (k, v) in split_pairs(&buf) {
        params.push_body(&k, &v);
    }
    Ok(())
}

/// Reads a multipart body, staging file parts in the upload spool.
pub async fn read_multipart(
    params: &mut Params,
    body: Body,
    boundary: &str,
    spool: &dyn UploadSpool,
    limits: &BodyLimits,
) -> Result<(), ApiError> {
    let stream = body.into_data_stream();
    let mut reader = MultipartReader::new(stream, boundary, Limits::default());
    let mut field_bytes = 0usize;
    loop {
        let part = match reader.next_part().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(&e)),
        };
        match part.filename {
            Some(part_filename) => {
                // A chunk's bytes are hashed as they are appended to their upload (the
                // running hash of the whole file); a hash of the chunk alone is never used.
                let mut staged = spool.stage(part.name != "chunk").await?;
                let mut size: u64 = 0;
                let mut too_large = false;
                loop {
                    let chunk = match reader.read_chunk().await {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(e) => return Err(multipart_error(&e)),
                    };
                    size += chunk.len() as u64;
                    if size > limits.max_file {
                        too_large = true;
                        if size > limits.max_file.saturating_add(limits.max_discard) {
                            return Err(file_too_large(limits.max_file));
                        }
                        continue;
                    }
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
                let value = match reader.read_to_vec(remaining).await {
                    Ok(v) => v,
                    Err(mwstore_multipart::MultipartError::FieldTooLarge) => {
                        drain(&mut reader, limits.max_discard).await;
                        return Err(ApiError::new(
                            Code::TooLarge,
                            format!(
                                "The form fields of the request are larger than the allowed {} bytes.",
                                limits.max_fields
                            ),
                        ));
                    }
                    Err(e) => return Err(multipart_error(&e)),
                };
                field_bytes += value.len();
                params.push_body(part.name.as_bytes(), &value);
            }
        }
    }
    Ok(())
}

/// Reads and drops the rest of a refused body, up to `max` bytes, so that the client can
/// read the answer (a server that stops reading makes many clients fail with a broken
/// pipe instead).
async fn drain<S, E>(reader: &mut MultipartReader<S>, max: u64)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut drained = 0u64;
    loop {
        match reader.read_chunk().await {
            Ok(Some(c)) => {
                drained += c.len() as u64;
                if drained > max {
                    return;
                }
            }
            Ok(None) => match reader.next_part().await {
                Ok(Some(_)) => continue,
                _ => return,
            },
            Err(_) => return,
        }
    }
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
