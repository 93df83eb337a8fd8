//! Serving stored files: `/w/images/<h1>/<h2>/<name>`, old versions under `archive/`, and
//! any blob (stashed files too) with validators, byte ranges and headers that keep a browser
//! from running what it serves.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Response, StatusCode};

use mwstore_domain::title;
use mwstore_storage::{ByteRange, FileVersion};

use crate::AppState;

/// 404 for a file that is not there.
pub fn not_found() -> Response<Body> {
    crate::http::html::page(
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n",
    )
}

/// Parses a single `Range: bytes=...` header against a length.
fn parse_range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len.saturating_sub(n), len - 1)));
    }
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() {
        len.saturating_sub(1)
    } else {
        b.parse::<u64>().ok()?.min(len.saturating_sub(1))
    };
    if start >= len || start > end {
        return Some(Err(()));
    }
    Some(Ok((start, end)))
}

/// Serves a stored blob with validators, ranges and safe headers.
pub async fn serve_blob(
    app: &AppState,
    sha1: &str,
    mime: &str,
    timestamp: &str,
    headers: &HeaderMap,
) -> Response<Body> {
    serve_blob_cached(app, sha1, mime, timestamp, headers, None).await
}

/// [`serve_blob`] with a `Cache-Control` header.
pub async fn serve_blob_cached(
    app: &AppState,
    sha1: &str,
    mime: &str,
    timestamp: &str,
    headers: &HeaderMap,
    cache_control: Option<&'static str>,
) -> Response<Body> {
    let len = match app.blobs.head(sha1).await {
        Ok(Some(info)) => info.size,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(sha1, error = %e, "cannot read a blob");
            return not_found();
        }
    };
    let etag = format!("\"{sha1}\"");
    let last_modified = mwstore_storage::parse_ts14(timestamp)
        .map(|t| httpdate::fmt_http_date(std::time::SystemTime::from(t)));
    let mut base = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        );
    if let Some(lm) = &last_modified {
        base = base.header(header::LAST_MODIFIED, lm);
    }
    if let Some(cc) = cache_control {
        base = base.header(header::CACHE_CONTROL, cc);
    }
    // Conditional requests.
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let not_modified = match inm {
        Some(v) => v.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => match (
            headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
            mwstore_storage::parse_ts14(timestamp),
        ) {
            (Some(since), Some(t)) => std::time::SystemTime::from(t) <= since,
            _ => false,
        },
    };
    if not_modified {
        return base
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| not_found());
    }
    let content_type = if mime.is_empty() || mime.starts_with("unknown") {
        "application/octet-stream"
    } else {
        mime
    };
    let base = base.header(header::CONTENT_TYPE, content_type);
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| parse_range(h, len));
    let range = match range {
        Some(Err(())) => {
            return base
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .unwrap_or_else(|_| not_found())
        }
        Some(Ok((start, end))) => Some(ByteRange { start, end }),
        None => None,
    };
    let body = match app.blobs.get(sha1, range).await {
        Ok(Some(b)) => b,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(sha1, error = %e, "cannot read a blob");
            return not_found();
        }
    };
    match range {
        Some(r) => base
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_LENGTH, r.end - r.start + 1)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end, body.size),
            )
            .body(Body::from_stream(body.stream))
            .unwrap_or_else(|_| not_found()),
        None => base
            .status(StatusCode::OK)
            .header(header::CONTENT_LENGTH, body.size)
            .body(Body::from_stream(body.stream))
            .unwrap_or_else(|_| not_found()),
    }
}

/// A small asset built into the server: with an ETag of its content, cacheable for a day.
pub fn serve_static(
    bytes: &'static [u8],
    mime: &'static str,
    headers: &HeaderMap,
) -> Response<Body> {
    let mut hash = mwstore_storage::RunningSha1::new();
    hash.update(bytes);
    let etag = format!("\"{}\"", hash.hex());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let base = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let r = if matches {
        base.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        base.status(StatusCode::OK)
            .header(header::CONTENT_TYPE, mime)
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::from(bytes))
    };
    r.unwrap_or_else(|_| not_found())
}

/// `/w/images/<h1>/<h2>/<name>`, `/w/images/archive/<h1>/<h2>/<ts>!<name>` and thumbnails,
/// `/w/images/thumb/<h1>/<h2>/<name>/<thumb name>`.
pub async fn serve_image(
    State(app): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    let parts: Vec<&str> = path.split('/').collect();
    use super::thumbs::{serve_thumb_path, ThumbPath};
    match parts.as_slice() {
        ["thumb", "archive", h1, h2, archive, thumb] => {
            let path = ThumbPath::Archive {
                h1,
                h2,
                archive,
                thumb,
            };
            return serve_thumb_path(app, path, &headers).await;
        }
        ["thumb", h1, h2, file, thumb] => {
            let path = ThumbPath::Current {
                h1,
                h2,
                file,
                thumb,
            };
            return serve_thumb_path(app, path, &headers).await;
        }
        _ => {}
    }
    let (archive, h1, h2, file) = match parts.as_slice() {
        ["archive", h1, h2, f] => (true, *h1, *h2, *f),
        [h1, h2, f] => (false, *h1, *h2, *f),
        _ => return not_found(),
    };
    let file = percent_encoding::percent_decode_str(file)
        .decode_utf8_lossy()
        .into_owned();
    let name = if archive {
        match file.split_once('!') {
            Some((_, n)) => n.to_owned(),
            None => return not_found(),
        }
    } else {
        file.clone()
    };
    let (e1, e2) = title::hash_dirs(&name);
    if e1 != h1 || e2 != h2 {
        return not_found();
    }
    let version: Option<FileVersion> = if archive {
        app.repo.old_file(&file).await.ok().flatten()
    } else {
        app.repo.current_file(&name).await.ok().flatten()
    };
    match version {
        Some(v) if v.name == name => {
            serve_blob(&app, &v.meta.sha1, &v.meta.mime(), &v.timestamp, &headers).await
        }
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
