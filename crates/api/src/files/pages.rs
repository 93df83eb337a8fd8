//! The HTML side of `/w/index.php`: file description pages, stashed files for their owner,
//! and `Special:FilePath` redirects.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use mwstore_domain::title::{self, NS_FILE};
use mwstore_domain::wikitext;
use mwstore_storage::ts14_to_iso;

use crate::context::Req;
use crate::files::serve::{not_found, serve_blob};
use crate::http::html::{escape as html_escape, page as html_page};
use crate::AppState;

/// `/`: points to the API.
pub async fn root() -> Response<Body> {
    html_page(
        StatusCode::OK,
        "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"/><title>mwstore</title></head><body><p>mwstore media repository. The API is at <a href=\"/w/api.php\">/w/api.php</a>.</p></body></html>\n",
    )
}

/// Query of `/w/index.php`.
#[derive(serde::Deserialize)]
pub struct IndexQuery {
    title: Option<String>,
    curid: Option<i64>,
    /// `render`: the description page's text as an HTML fragment (what wikis that use this
    /// one as their shared repository show on their own file pages); `raw`: its wikitext.
    action: Option<String>,
}

/// The logged-in user of the request's sessions.
async fn session_user(app: &AppState, headers: &HeaderMap) -> Option<i64> {
    let found = crate::auth::cache::session_of(app, headers, Req::now(), |s| s.user_id != 0);
    found.await.ok()?.map(|(_, s)| s.user_id)
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
    if let Some(rest) = title_text.strip_prefix("Special:UploadStash/") {
        return stash_page(&app, rest, &headers).await;
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
    match q.action.as_deref() {
        Some("render") => rendered_text(&app, &t.dbkey).await,
        Some("raw") => raw_text(&app, &t.dbkey).await,
        _ => description_page(&app, &t.dbkey).await,
    }
}

/// The current text of the description page of the file `dbkey`, if it has one.
pub async fn page_text(app: &AppState, dbkey: &str) -> Option<String> {
    let page = app.repo.page(NS_FILE, dbkey).await.ok().flatten()?;
    let revision = app.repo.revision(page.latest).await.ok().flatten()?;
    Some(revision.text)
}

/// The description page's text rendered to a safe HTML fragment, as `action=render` gives
/// it: links, emphasis, lists, headings and the known templates rendered, everything else
/// escaped, nothing that runs or loads.
async fn rendered_text(app: &AppState, dbkey: &str) -> Response<Body> {
    let Some(text) = page_text(app, dbkey).await else {
        return not_found();
    };
    let html = wikitext::render(&text, &crate::query::imageinfo::index_url(app)).html;
    let mut r = html_page(StatusCode::OK, &html);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"),
    );
    r
}

/// The description page's wikitext, as `action=raw` gives it.
async fn raw_text(app: &AppState, dbkey: &str) -> Response<Body> {
    let Some(text) = page_text(app, dbkey).await else {
        return not_found();
    };
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/x-wiki; charset=UTF-8"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// `Special:UploadStash/file/<key>` and `Special:UploadStash/thumb/<key>/<thumb name>`:
/// a stashed file or a thumbnail of it, served to the owner of the stash entry only.
async fn stash_page(app: &Arc<AppState>, rest: &str, headers: &HeaderMap) -> Response<Body> {
    let (key, thumb) = if let Some(key) = rest.strip_prefix("file/") {
        (key, None)
    } else if let Some((key, thumb)) = rest.strip_prefix("thumb/").and_then(|r| r.split_once('/')) {
        (key, Some(thumb))
    } else {
        return not_found();
    };
    let Some(uid) = session_user(app, headers).await else {
        return html_page(StatusCode::FORBIDDEN, "<!DOCTYPE html>\n<html><body><p>Login required: the upload stash is only available to logged-in users.</p></body></html>\n");
    };
    match app.repo.stash_get(key).await.ok().flatten() {
        Some(e)
            if e.user_id == uid
                && e.expires > Req::now()
                && e.status == mwstore_storage::StashStatus::Finished =>
        {
            match thumb {
                None => serve_blob(app, &e.meta.sha1, &e.meta.mime(), &e.timestamp, headers).await,
                Some(t) => crate::files::thumbs::serve_stash_thumb(app, &e, t, headers).await,
            }
        }
        _ => not_found(),
    }
}

async fn description_page(app: &AppState, name: &str) -> Response<Body> {
    let page = app.repo.page(NS_FILE, name).await.ok().flatten();
    let history = app.repo.file_history(name).await.unwrap_or_default();
    if page.is_none() && history.is_empty() {
        return not_found();
    }
    let text = match &page {
        Some(_) => page_text(app, name).await.unwrap_or_default(),
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
        "<h2>Description</h2>\n<div class=\"description\">{}</div>\n",
        wikitext::render(&text, &crate::query::imageinfo::index_url(app)).html
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
