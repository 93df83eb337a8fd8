//! Serving files (`/w/images/...`), the HTML description pages (`/w/index.php?title=File:X`),
//! stashed files for their owner, and `action=delete`/`action=undelete`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use mwstore_domain::title::{self, NS_FILE};
use mwstore_storage::{ts14_to_iso, FileVersion};

use crate::api::Req;
use crate::error::ApiError;
use crate::AppState;

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML page (`text/html`, `nosniff`) with the given status.
pub(crate) fn html_page(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(text.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn not_found() -> Response<Body> {
    html_page(
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n",
    )
}

/// `/`: points to the API.
pub async fn root() -> Response<Body> {
    html_page(
        StatusCode::OK,
        "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"/><title>mwstore</title></head><body><p>mwstore media repository. The API is at <a href=\"/w/api.php\">/w/api.php</a>.</p></body></html>\n",
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
    let path = app.blobs.path(sha1);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return not_found(),
    };
    let len = match file.metadata().await {
        Ok(m) => m.len(),
        Err(_) => return not_found(),
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
    match range {
        Some(Err(())) => base
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .body(Body::empty())
            .unwrap_or_else(|_| not_found()),
        Some(Ok((start, end))) => {
            if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
                return not_found();
            }
            let n = end - start + 1;
            let stream = tokio_util::io::ReaderStream::with_capacity(file.take(n), 64 * 1024);
            base.status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, n)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| not_found())
        }
        None => {
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
            base.status(StatusCode::OK)
                .header(header::CONTENT_LENGTH, len)
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| not_found())
        }
    }
}

/// `/w/images/<h1>/<h2>/<name>` and `/w/images/archive/<h1>/<h2>/<ts>!<name>`.
pub async fn serve_image(
    State(app): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    let parts: Vec<&str> = path.split('/').collect();
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

/// Query of `/w/index.php`.
#[derive(serde::Deserialize)]
pub struct IndexQuery {
    title: Option<String>,
    curid: Option<i64>,
}

async fn session_user(app: &AppState, headers: &HeaderMap) -> Option<(i64, bool)> {
    let prefix = &app.config.cookie_prefix;
    for (name, is_bot) in [
        (format!("{prefix}_BPsession"), true),
        (format!("{prefix}_session"), false),
    ] {
        if let Some(id) = crate::session::read_cookie(headers.get_all(header::COOKIE).iter(), &name)
        {
            if let Ok(Some(s)) = app.repo.session(&id, Req::now()).await {
                if s.user_id != 0 {
                    return Some((s.user_id, is_bot));
                }
            }
        }
    }
    None
}

/// `/w/index.php?title=...`: file description pages and stashed files.
pub async fn index(
    State(app): State<Arc<AppState>>,
    Query(q): Query<IndexQuery>,
    headers: HeaderMap,
) -> Response<Body> {
    let title_text = match (q.title, q.curid) {
        (Some(t), _) => t,
        (None, Some(id)) => match app.repo.page_by_id(id).await.ok().flatten() {
            Some(p) => format!("File:{}", p.title),
            None => return not_found(),
        },
        _ => return root().await,
    };
    if let Some(key) = title_text.strip_prefix("Special:UploadStash/file/") {
        // Stashed files are served to their owner only.
        let Some((uid, _)) = session_user(&app, &headers).await else {
            return html_page(StatusCode::FORBIDDEN, "<!DOCTYPE html>\n<html><body><p>Login required: the upload stash is only available to logged-in users.</p></body></html>\n");
        };
        return match app.repo.stash_get(key).await.ok().flatten() {
            Some(e) if e.user_id == uid && e.expires > Req::now() => {
                serve_blob(&app, &e.meta.sha1, &e.meta.mime(), &e.timestamp, &headers).await
            }
            _ => not_found(),
        };
    }
    // Special:FilePath/X and Special:Redirect/file/X lead to the file itself.
    for prefix in ["Special:FilePath/", "Special:Redirect/file/"] {
        if let Some(name) = title_text.strip_prefix(prefix) {
            let Ok(t) = title::parse_title_in(name, &app.config.sitename, NS_FILE) else {
                return not_found();
            };
            if app
                .repo
                .current_file(&t.dbkey)
                .await
                .ok()
                .flatten()
                .is_none()
            {
                return not_found();
            }
            let url = crate::query::file_url(&app, &t.dbkey);
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::FOUND;
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
    }
    let Ok(t) = title::parse_title_in(&title_text, &app.config.sitename, 0) else {
        return not_found();
    };
    if t.ns != NS_FILE {
        return not_found();
    }
    description_page(&app, &t.dbkey).await
}

async fn description_page(app: &AppState, name: &str) -> Response<Body> {
    let page = app.repo.page(NS_FILE, name).await.ok().flatten();
    let history = app.repo.file_history(name).await.unwrap_or_default();
    if page.is_none() && history.is_empty() {
        return not_found();
    }
    let text = match &page {
        Some(p) => app
            .repo
            .revision(p.latest)
            .await
            .ok()
            .flatten()
            .map(|r| r.text)
            .unwrap_or_default(),
        None => String::new(),
    };
    let display = name.replace('_', " ");
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"UTF-8\"/><title>File:{t} - {site}</title></head><body>\n<h1>File:{t}</h1>\n",
        t = html_escape(&display),
        site = html_escape(&app.config.sitename)
    );
    if let Some(cur) = history.first() {
        let url = crate::query::file_url(app, name);
        if cur.meta.major_mime == "image" {
            html.push_str(&format!(
                "<div class=\"fullImageLink\"><a href=\"{u}\"><img alt=\"File:{t}\" src=\"{u}\" width=\"{w}\" height=\"{h}\" style=\"max-width:100%;height:auto\"/></a></div>\n",
                u = html_escape(&url),
                t = html_escape(&display),
                w = cur.meta.width,
                h = cur.meta.height
            ));
        }
        html.push_str(&format!(
            "<p><a href=\"{}\">Original file</a> ({} × {} pixels, file size: {} bytes, MIME type: {})</p>\n",
            html_escape(&url),
            cur.meta.width,
            cur.meta.height,
            cur.meta.size,
            html_escape(&cur.meta.mime())
        ));
    }
    html.push_str(&format!(
        "<h2>Description</h2>\n<div class=\"description\"><pre>{}</pre></div>\n",
        html_escape(&text)
    ));
    html.push_str("<h2>File history</h2>\n<table class=\"filehistory\">\n<tr><th>Date/Time</th><th>Dimensions</th><th>Size</th><th>User</th><th>Comment</th></tr>\n");
    for (i, v) in history.iter().enumerate() {
        let url = match &v.archive_name {
            Some(a) => crate::query::archive_url(app, name, a),
            None => crate::query::file_url(app, name),
        };
        html.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a>{}</td><td>{} × {}</td><td>{} bytes</td><td>{}</td><td>{}</td></tr>\n",
            html_escape(&url),
            html_escape(&ts14_to_iso(&v.timestamp)),
            if i == 0 { " (current)" } else { "" },
            v.meta.width,
            v.meta.height,
            v.meta.size,
            html_escape(&v.user_text),
            html_escape(&v.description)
        ));
    }
    html.push_str("</table>\n</body></html>\n");
    let mut r = html_page(StatusCode::OK, &html);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"),
    );
    r
}

fn file_title(req: &Req) -> Result<(String, String), ApiError> {
    let t = req.params.string("title")?;
    let Some(t) = t else {
        return Err(ApiError::new(
            "missingparam",
            "One of the parameters \"title\" and \"pageid\" is required.",
        ));
    };
    let parsed = title::parse_title_in(&t, &req.app.config.sitename, 0)
        .map_err(|e| ApiError::new("invalidtitle", format!("Bad title \"{t}\". {e}")))?;
    Ok((
        parsed.prefixed_text_in(&req.app.config.sitename),
        parsed.dbkey,
    ))
    .and_then(|(pt, db)| {
        if parsed.ns == NS_FILE {
            Ok((pt, db))
        } else {
            Err(ApiError::new(
                "missingtitle",
                "The page you specified doesn't exist.",
            ))
        }
    })
}

/// `action=delete` for file description pages.
pub async fn delete(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let title_res = file_title(req);
    req.params.string("pageid")?;
    let reason = req.params.string("reason")?.unwrap_or_default();
    req.params.multi("delete", "tags", None, 50)?;
    req.params.flag("watch");
    req.params.string("watchlist")?;
    req.params.flag("unwatch");
    req.params.string("oldimage")?;
    req.check_module(Some("csrf"), true, true)?;
    let (pretty, dbkey) = title_res?;
    req.require_right("delete")?;
    let now = mwstore_storage::ts14(chrono::Utc::now());
    let lock = req.app.name_lock(&dbkey);
    let _g = lock.lock().await;
    let logid = match req
        .app
        .repo
        .delete_file(&dbkey, req.user.id, &req.user.name, &reason, &now)
        .await
    {
        Ok(id) => id,
        Err(mwstore_storage::StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                "missingtitle",
                "The page you specified doesn't exist.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let mut inner = Map::new();
    inner.insert("title".into(), pretty.into());
    inner.insert("reason".into(), reason.into());
    inner.insert("logid".into(), logid.into());
    let mut m = Map::new();
    m.insert("delete".into(), Value::Object(inner));
    Ok(m)
}

/// `action=undelete` for file description pages.
pub async fn undelete(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let title_res = file_title(req);
    let reason = req.params.string("reason")?.unwrap_or_default();
    req.params.multi("undelete", "tags", None, 50)?;
    req.params.multi("undelete", "timestamps", None, 50)?;
    req.params.multi("undelete", "fileids", None, 50)?;
    req.params.flag("undeletetalk");
    req.params.string("watchlist")?;
    req.check_module(Some("csrf"), true, true)?;
    let (pretty, dbkey) = title_res?;
    req.require_right("undelete")?;
    let now = mwstore_storage::ts14(chrono::Utc::now());
    let lock = req.app.name_lock(&dbkey);
    let _g = lock.lock().await;
    let restored = match req
        .app
        .repo
        .undelete_file(&dbkey, req.user.id, &req.user.name, &reason, &now)
        .await
    {
        Ok(n) => n,
        Err(mwstore_storage::StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                "cannotundelete",
                "Couldn't undelete: no deleted revisions or files of this title exist.",
            ))
        }
        Err(mwstore_storage::StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                "cannotundelete",
                "Couldn't undelete: the page or file exists already.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let revisions = match req.app.repo.page(NS_FILE, &dbkey).await? {
        Some(p) => req.app.repo.revisions(p.id, 5000, true).await?.len(),
        None => 0,
    };
    let mut inner = Map::new();
    inner.insert("title".into(), pretty.into());
    inner.insert("revisions".into(), revisions.into());
    inner.insert("fileversions".into(), restored.into());
    inner.insert("reason".into(), reason.into());
    let mut m = Map::new();
    m.insert("undelete".into(), Value::Object(inner));
    Ok(m)
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

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#039;"
        );
    }
}
