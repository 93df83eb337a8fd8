//! Thumbnails: the sizes and URLs the API reports (`iiurlwidth`, `iiurlheight`,
//! `iiurlparam`, with MediaWiki's rules in [`mwstore_domain::thumb`]) and `/w/thumb.php`,
//! which renders one on request ([`mwstore_domain::render`]) on a blocking thread, a bounded
//! number at a time.
//!
//! The URLs are MediaWiki's: `/w/images/thumb/<h1>/<h2>/<name>/<W>px-<name>[.png]`, or the
//! original file when no scaling is needed. A thumbnail is rendered the first time its URL
//! (or `/w/thumb.php?f=<name>&width=<W>`) is asked for, once however many ask at the same
//! time, and kept in the blob store as a derivative of the file's content; it goes when no
//! version refers to that content any more. Formats without a renderer (audio, video, PDF)
//! keep the original as their thumbnail.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use serde_json::{Map, Value};

use mwstore_domain::render::{self, RenderError, RenderLimits};
use mwstore_domain::thumb::{self, Asked, Handler, Outcome, Params};
use mwstore_domain::title;
use mwstore_storage::coord::LockKey;
use mwstore_storage::{FileMeta, FileVersion, RunningSha1, Thumbnail};

use crate::AppState;

/// Whether a file's EXIF orientation turns it (MediaWiki renders those at any size).
pub fn rotated(meta: &FileMeta) -> bool {
    let (list, _) = crate::query::imageinfo::meta_lists(&meta.metadata);
    list.as_array().is_some_and(|entries| {
        entries
            .iter()
            .any(|e| e["name"] == "Orientation" && matches!(e["value"].as_i64(), Some(3 | 6 | 8)))
    })
}

/// How thumbnails of a file are made: formats without a renderer have none (the original
/// stands for them).
fn handler(meta: &FileMeta) -> Handler {
    thumb::handler_for(&meta.mime(), rotated(meta))
}

/// The thumbnail facts of the file `dbkey` (`mime` is `meta.mime()`, held by the caller).
fn source<'a>(dbkey: &'a str, meta: &FileMeta, mime: &'a str) -> thumb::Source<'a> {
    thumb::Source {
        dbkey,
        width: i64::from(meta.width),
        height: i64::from(meta.height),
        mime,
        handler: handler(meta),
    }
}

/// The pixels a source decodes to, as the area limit counts them: a drawing's size is only
/// a number, so drawings count none.
fn decoded_area(src: &thumb::Source<'_>) -> u64 {
    match src.handler {
        Handler::Svg => 0,
        _ => u64::try_from(src.width.saturating_mul(src.height)).unwrap_or(u64::MAX),
    }
}

/// `size-$1pixel` of a pixel count: `12.5 MP`.
fn megapixels(area: u64) -> String {
    let mp = area as f64 / 1e6;
    let text = format!("{mp:.1}");
    format!("{} MP", text.trim_end_matches(".0"))
}

/// The URL of the thumbnail `name` of `dbkey`: `/w/images/thumb/<h1>/<h2>/<name>/<thumb>`,
/// rendered the first time it is asked for.
fn thumb_url(app: &AppState, dbkey: &str, name: &str) -> String {
    format!(
        "{}{}/images/{}",
        app.server,
        crate::SCRIPT_PATH,
        thumb::thumb_path(dbkey, name)
    )
}

/// Adds `thumburl`, `thumbwidth`, `thumbheight` and `responsiveUrls` (or `thumberror`) for
/// the size asked in `p`, to an imageinfo entry of `dbkey` whose original is at `url`.
pub fn thumb_fields(
    app: &AppState,
    out: &mut Map<String, Value>,
    dbkey: &str,
    url: &str,
    meta: &FileMeta,
    p: &crate::query::imageinfo::InfoProps,
) {
    if p.url_width.is_none() && p.url_height.is_none() && p.url_param.is_none() {
        return;
    }
    let (sw, sh) = (i64::from(meta.width), i64::from(meta.height));
    let mime = meta.mime();
    let src = source(dbkey, meta, &mime);
    let params = asked(&src, p).params;
    let outcome = match thumb::transform(&src, &params) {
        Ok(o) => o,
        Err(_) => return,
    };
    let url_of = |o: &Outcome| match o {
        Outcome::Thumb { name, .. } => thumb_url(app, dbkey, name),
        _ => url.to_owned(),
    };
    match &outcome {
        Outcome::Original { width, height } => {
            out.insert("thumburl".into(), url.into());
            out.insert("thumbwidth".into(), (*width).into());
            out.insert("thumbheight".into(), (*height).into());
        }
        Outcome::Thumb { client, .. } => {
            if decoded_area(&src) > app.config.thumbnail_max_source_area {
                out.insert(
                    "thumberror".into(),
                    format!(
                        "Error creating thumbnail: File with dimensions greater than {}",
                        megapixels(app.config.thumbnail_max_source_area)
                    )
                    .into(),
                );
                return;
            }
            out.insert("thumburl".into(), url_of(&outcome).into());
            out.insert("thumbwidth".into(), client.0.into());
            out.insert("thumbheight".into(), client.1.into());
            let responsive = thumb::responsive(&src, &params, &outcome);
            if !responsive.is_empty() {
                let mut r = Map::new();
                for (key, o) in responsive {
                    r.insert(key.into(), url_of(&o).into());
                }
                out.insert("responsiveUrls".into(), Value::Object(r));
            }
        }
        Outcome::Icon => {
            // No renderer: the original stands for its thumbnail, at the size asked.
            let (w, h) = (sw.max(1) as f64, sh.max(1) as f64);
            let mut scale: f64 = 1.0;
            if let Some(uw) = p.url_width {
                scale = scale.min(uw as f64 / w);
            }
            if let Some(uh) = p.url_height {
                scale = scale.min(uh as f64 / h);
            }
            out.insert("thumburl".into(), url.into());
            out.insert("thumbwidth".into(), ((w * scale).round() as u64).into());
            out.insert("thumbheight".into(), ((h * scale).round() as u64).into());
        }
    }
}

/// The thumbnail parameters `p` (`iiurlwidth`, `iiurlheight`, `iiurlparam`) ask of `src`.
fn asked(src: &thumb::Source<'_>, p: &crate::query::imageinfo::InfoProps) -> Asked {
    thumb::asked(src, p.url_width, p.url_height, p.url_param.as_deref())
}

/// Checks, before an imageinfo answer is built, that the thumbnail parameters make sense
/// for the file `dbkey` (MediaWiki fails the whole request otherwise), and adds the
/// warnings they deserve.
pub fn check_asked(
    req: &crate::context::Req,
    dbkey: &str,
    meta: &FileMeta,
    p: &crate::query::imageinfo::InfoProps,
) -> Result<(), crate::error::ApiError> {
    use crate::error::{ApiError, Code};
    if !p.has("url") || (p.url_width.is_none() && p.url_height.is_none() && p.url_param.is_none()) {
        return Ok(());
    }
    let mime = meta.mime();
    let src = source(dbkey, meta, &mime);
    let a = asked(&src, p);
    if a.unparsed_param {
        req.params.warn(
            "imageinfo",
            "badurlparam",
            &format!("Could not parse \"iiurlparam\" for {dbkey}. Using only width and height."),
        );
    }
    if a.zero_width_param {
        return Err(ApiError::new(
            Code::InvalidUrlParam,
            "Invalid value for \"iiurlparam\" (\"width=0\").",
        ));
    }
    if let Some((pw, w)) = a.ignored_width {
        req.params.warn(
            "imageinfo",
            "urlparamwidth",
            &format!("Ignoring width value set in \"iiurlparam\" ({pw}) in favor of width value derived from \"iiurlwidth\"/\"iiurlheight\" ({w})."),
        );
    }
    if thumb::transform(&src, &a.params).is_err() {
        return Err(ApiError::new(
            Code::UrlParamNormal,
            format!("Could not normalize image parameters for {dbkey}."),
        ));
    }
    Ok(())
}

/// The query of `/w/thumb.php`.
#[derive(Debug, serde::Deserialize)]
pub struct ThumbQuery {
    f: Option<String>,
    width: Option<String>,
    w: Option<String>,
    quality: Option<String>,
}

/// The page for a thumbnail of a file that does not exist.
fn missing(dbkey: &str) -> Response<Body> {
    error_page(
        StatusCode::NOT_FOUND,
        &format!("The source file '{dbkey}' does not exist."),
    )
}

/// What a thumbnail request comes to: the thumbnail to serve, or the page that says why
/// there is none.
fn wanted(outcome: Result<Outcome, thumb::ThumbError>) -> Result<Wanted, Failure> {
    match outcome {
        Ok(Outcome::Thumb {
            name,
            pixels,
            format,
            quality_low,
            ..
        }) => Ok(Wanted {
            name,
            pixels,
            format,
            quality_low,
        }),
        Ok(Outcome::Original { .. }) => Err(Failure::page(
            StatusCode::BAD_REQUEST,
            "Error creating thumbnail: Image was not scaled, is the requested width bigger than the source?",
        )),
        Ok(Outcome::Icon) => Err(Failure::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error creating thumbnail: thumbnails of this file type are not rendered",
        )),
        Err(_) => Err(Failure::page(
            StatusCode::BAD_REQUEST,
            "Error creating thumbnail: Invalid thumbnail parameters",
        )),
    }
}

fn error_page(status: StatusCode, text: &str) -> Response<Body> {
    let esc = crate::http::html::escape;
    let mut r = crate::http::html::page(
        status,
        &format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\" /><title>Error generating thumbnail</title></head>\n<body>\n<h1>Error generating thumbnail</h1>\n<p>\n{}\n</p>\n</body>\n</html>\n",
            esc(text)
        ),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}

/// `/w/thumb.php?f=<name>&width=<W>`: renders a thumbnail of the current version of a file.
pub async fn thumb_php(
    State(app): State<Arc<AppState>>,
    Query(q): Query<ThumbQuery>,
    headers: HeaderMap,
) -> Response<Body> {
    let raw_name = q.f.unwrap_or_default().replace(['\\', '/'], "_");
    let Ok(t) = title::parse_title_in(&raw_name, "", title::NS_MAIN) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "The requested page title was invalid, empty, or an incorrectly linked inter-language or inter-wiki title.",
        );
    };
    let dbkey = t.dbkey;
    let version = match app.repo.current_file(&dbkey).await {
        Ok(Some(v)) if v.name == dbkey => v,
        _ => return missing(&dbkey),
    };
    let Some(width) = q.width.or(q.w) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The specified thumbnail parameters are not valid: No width specified.",
        );
    };
    let params = Params {
        width: width.trim_end_matches("px").parse().ok(),
        quality_low: q.quality.as_deref() == Some("low"),
        ..Params::default()
    };
    let mime = version.meta.mime();
    let src = source(&dbkey, &version.meta, &mime);
    match wanted(thumb::transform(&src, &params)) {
        Ok(w) => serve_thumb(&app, &version, w, &headers).await,
        Err(f) => f.into_response(),
    }
}

/// A thumbnail to serve: its name, pixel size, format and quality.
struct Wanted {
    name: String,
    pixels: (i64, i64),
    format: thumb::Format,
    quality_low: bool,
}

/// Serves a thumbnail of the file version `version`, rendering and storing it first if it
/// was never rendered.
async fn serve_thumb(
    app: &Arc<AppState>,
    version: &FileVersion,
    wanted: Wanted,
    headers: &HeaderMap,
) -> Response<Body> {
    match stored_or_rendered(app, version, wanted).await {
        Ok(t) => super::serve::serve_blob(app, &t.sha1, &t.mime, &t.timestamp, headers).await,
        Err(f) => f.into_response(),
    }
}

/// Why a thumbnail could not be had: the error page to answer with.
enum Failure {
    Page(StatusCode, String),
    NotFound,
}

impl Failure {
    fn page(status: StatusCode, text: &str) -> Failure {
        Failure::Page(status, text.to_owned())
    }

    fn into_response(self) -> Response<Body> {
        match self {
            Failure::Page(status, text) => error_page(status, &text),
            Failure::NotFound => super::serve::not_found(),
        }
    }
}

/// The stored thumbnail, or a new rendering of it, stored.
async fn stored_or_rendered(
    app: &Arc<AppState>,
    version: &FileVersion,
    wanted: Wanted,
) -> Result<Thumbnail, Failure> {
    let Wanted {
        name,
        pixels,
        format,
        quality_low,
    } = wanted;
    let name = name.as_str();
    let meta = &version.meta;
    let stored = |t: Result<Option<Thumbnail>, mwstore_storage::StoreError>| match t {
        Ok(t) => Ok(t),
        Err(e) => {
            tracing::error!(error = %e, "cannot read thumbnails");
            Err(Failure::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error creating thumbnail: the thumbnail store cannot be read",
            ))
        }
    };
    if let Some(t) = stored(app.repo.thumbnail(&meta.sha1, name).await)? {
        return Ok(t);
    }
    // One render of a thumbnail at a time: those who asked meanwhile find it stored.
    let _render = app
        .locks
        .exclusive(LockKey::Thumbnail(format!("{}/{name}", meta.sha1)))
        .await;
    if let Some(t) = stored(app.repo.thumbnail(&meta.sha1, name).await)? {
        return Ok(t);
    }
    let mime = meta.mime();
    let area = decoded_area(&source(&version.name, meta, &mime));
    let limits = RenderLimits {
        max_memory: app.config.max_decode_memory,
        max_source_area: app.config.thumbnail_max_source_area,
    };
    let content = match app.blobs.content(&meta.sha1).await {
        Ok(Some(c)) => c,
        _ => return Err(Failure::NotFound),
    };
    let Ok(slot) = app.renders.clone().acquire_owned().await else {
        return Err(Failure::NotFound);
    };
    let size = (
        u32::try_from(pixels.0).unwrap_or(1),
        u32::try_from(pixels.1).unwrap_or(1),
    );
    let rendered = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        render::render(&*content, &mime, area, size, format, quality_low, &limits)
    })
    .await;
    let bytes = match rendered {
        Ok(Ok(b)) => b,
        Ok(Err(RenderError::TooLarge(max))) => {
            return Err(Failure::page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Error creating thumbnail: File with dimensions greater than {}",
                    megapixels(max)
                ),
            ))
        }
        Ok(Err(e)) => {
            tracing::warn!(file = %version.name, error = %e, "a thumbnail could not be rendered");
            return Err(Failure::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Error creating thumbnail: {e}"),
            ));
        }
        Err(e) => {
            tracing::error!(file = %version.name, error = %e, "the thumbnail renderer failed");
            return Err(Failure::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error creating thumbnail: the renderer failed",
            ));
        }
    };
    let mut hash = RunningSha1::new();
    hash.update(&bytes);
    let t = Thumbnail {
        source: meta.sha1.clone(),
        name: name.to_owned(),
        sha1: hash.hex(),
        mime: format.mime().to_owned(),
        width: size.0,
        height: size.1,
        size: bytes.len() as u64,
        timestamp: mwstore_storage::ts14(chrono::Utc::now()),
    };
    // The blob and the row that refers to it are written under the collector's shared lock.
    let _gc = app.locks.shared(LockKey::BlobGc).await;
    let body: mwstore_storage::ByteStream = Box::pin(futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    }));
    let saved = match app.blobs.put(&t.sha1, t.size, body).await {
        Ok(()) => app.repo.put_thumbnail(&t).await,
        Err(e) => Err(e),
    };
    if let Err(e) = saved {
        tracing::error!(file = %version.name, error = %e, "a thumbnail could not be stored");
        return Err(Failure::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error creating thumbnail: Unable to save thumbnail to destination",
        ));
    }
    Ok(t)
}

/// `/w/images/thumb/<h1>/<h2>/<name>/<thumb name>`: the thumbnail, rendered on its first
/// request. Only the canonical path of a thumbnail is answered.
pub async fn serve_thumb_path(
    app: Arc<AppState>,
    h1: &str,
    h2: &str,
    file: &str,
    thumb_name: &str,
    headers: &HeaderMap,
) -> Response<Body> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (dbkey, requested) = (decode(file), decode(thumb_name));
    let (e1, e2) = title::hash_dirs(&dbkey);
    let version = match app.repo.current_file(&dbkey).await {
        Ok(Some(v)) if v.name == dbkey && e1 == h1 && e2 == h2 => v,
        _ => return missing(&dbkey),
    };
    let meta = &version.meta;
    let mime = meta.mime();
    let src = source(&dbkey, meta, &mime);
    // `<param>-<name>`, with the format's extension after it when it differs.
    let param = requested
        .strip_suffix(&format!("-{dbkey}"))
        .or_else(|| {
            let ext = thumb::format_for(&mime).ext();
            requested.strip_suffix(&format!("-{dbkey}.{ext}"))
        })
        .map(str::to_owned);
    let Some(params) = param
        .as_deref()
        .and_then(|p| thumb::parse_param(src.handler, p))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The specified thumbnail parameters are not recognized.",
        );
    };
    match wanted(thumb::transform(&src, &params)) {
        Ok(w) if w.name == requested => serve_thumb(&app, &version, w, headers).await,
        Ok(w) => error_page(
            StatusCode::NOT_FOUND,
            &format!(
                "The given path of the specified thumbnail is incorrect; expected '{}' but got '{h1}/{h2}/{file}/{thumb_name}'.",
                thumb::thumb_path(&dbkey, &w.name).trim_start_matches("thumb/")
            ),
        ),
        Err(f) => f.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megapixel_texts() {
        assert_eq!(megapixels(12_500_000), "12.5 MP");
        assert_eq!(megapixels(100_000_000), "100 MP");
    }
}
