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
use mwstore_storage::{FileMeta, RunningSha1, Thumbnail};

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

/// Which file a thumbnail is made of, and so where its URL points.
#[derive(Debug, Clone, Copy)]
pub enum ThumbOf<'a> {
    /// The current version of the file `dbkey`:
    /// `/w/images/thumb/<h1>/<h2>/<dbkey>/<thumb>`.
    Current(&'a str),
    /// The old version `archive` (`<timestamp>!<dbkey>`) of `dbkey`:
    /// `/w/images/thumb/archive/<h1>/<h2>/<archive>/<thumb>`.
    Archive { dbkey: &'a str, archive: &'a str },
    /// The stashed file `key`, for its owner:
    /// `/w/index.php?title=Special:UploadStash/thumb/<key>/<thumb>`.
    Stash(&'a str),
}

impl ThumbOf<'_> {
    /// The name thumbnails are named after: the file's, or the stash key.
    fn name(&self) -> &str {
        match self {
            ThumbOf::Current(n) | ThumbOf::Archive { dbkey: n, .. } | ThumbOf::Stash(n) => n,
        }
    }

    /// The URL of the thumbnail `thumb` (a name made by [`thumb::thumb_name`]), rendered the
    /// first time it is asked for.
    fn url(&self, app: &AppState, thumb: &str) -> String {
        let base = format!("{}{}", app.server, crate::SCRIPT_PATH);
        match self {
            ThumbOf::Current(dbkey) => format!("{base}/images/{}", thumb::thumb_path(dbkey, thumb)),
            ThumbOf::Archive { dbkey, archive } => {
                let (h1, h2) = title::hash_dirs(dbkey);
                format!(
                    "{base}/images/thumb/archive/{h1}/{h2}/{}/{}",
                    title::rawurlencode(archive),
                    title::rawurlencode(thumb)
                )
            }
            ThumbOf::Stash(key) => format!(
                "{base}/index.php?title=Special:UploadStash/thumb/{}/{}",
                title::wfurlencode(key),
                title::wfurlencode(thumb)
            ),
        }
    }
}

/// Adds `thumburl`, `thumbwidth`, `thumbheight`, `thumbmime` (when asked) and
/// `responsiveUrls`, or `thumberror`, for the size asked in `p`, to an imageinfo entry of
/// the file `of`, whose original is at `url`.
pub fn thumb_fields(
    app: &AppState,
    out: &mut Map<String, Value>,
    of: ThumbOf<'_>,
    url: &str,
    meta: &FileMeta,
    p: &crate::query::imageinfo::InfoProps,
) {
    if p.url_width.is_none() && p.url_height.is_none() && p.url_param.is_none() {
        return;
    }
    let mime = meta.mime();
    let src = source(of.name(), meta, &mime);
    let params = asked(&src, p).params;
    let outcome = match thumb::transform(&src, &params) {
        Ok(o) => o,
        Err(_) => return,
    };
    if matches!(outcome, Outcome::Thumb { .. })
        && decoded_area(&src) > app.config.thumbnail_max_source_area
    {
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
    let url_of = |o: &Outcome| match o {
        Outcome::Thumb { name, .. } => of.url(app, name),
        _ => url.to_owned(),
    };
    let (thumb_url, (width, height), thumb_mime) = match &outcome {
        Outcome::Original { width, height } => {
            (url.to_owned(), (*width, *height), Some(mime.clone()))
        }
        Outcome::Thumb { client, format, .. } => {
            (url_of(&outcome), *client, Some(format.mime().to_owned()))
        }
        Outcome::Icon => (
            icon_url(app, of.name()),
            (thumb::ICON_SIZE, thumb::ICON_SIZE),
            None,
        ),
    };
    out.insert("thumburl".into(), thumb_url.into());
    out.insert("thumbwidth".into(), width.into());
    out.insert("thumbheight".into(), height.into());
    if p.has("thumbmime") {
        out.insert(
            "thumbmime".into(),
            thumb_mime.map_or(Value::Null, Value::from),
        );
    }
    let responsive = thumb::responsive(&src, &params, &outcome);
    if !responsive.is_empty() {
        let mut r = Map::new();
        for (key, o) in responsive {
            r.insert(key.into(), url_of(&o).into());
        }
        out.insert("responsiveUrls".into(), Value::Object(r));
    }
}

/// The URL of the icon that stands for a file no thumbnail can be made of.
fn icon_url(app: &AppState, dbkey: &str) -> String {
    format!(
        "{}{}/resources/assets/file-type-icons/{}",
        app.server,
        crate::SCRIPT_PATH,
        thumb::icon_name(dbkey)
    )
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
    module: &str,
    dbkey: &str,
    meta: &FileMeta,
    p: &crate::query::imageinfo::InfoProps,
) -> Result<(), crate::error::ApiError> {
    use crate::error::{ApiError, Code};
    if !p.has("url") || (p.url_width.is_none() && p.url_height.is_none() && p.url_param.is_none()) {
        return Ok(());
    }
    // The module's parameter prefix: `ii`, `sii`.
    let pre = if module == "stashimageinfo" {
        "sii"
    } else {
        "ii"
    };
    let mime = meta.mime();
    let src = source(dbkey, meta, &mime);
    let a = asked(&src, p);
    if a.unparsed_param {
        req.params.warn(
            module,
            "badurlparam",
            &format!("Could not parse \"{pre}urlparam\" for {dbkey}. Using only width and height."),
        );
    }
    if a.zero_width_param {
        return Err(ApiError::new(
            Code::InvalidUrlParam,
            format!("Invalid value for \"{pre}urlparam\" (\"width=0\")."),
        ));
    }
    if let Some((pw, w)) = a.ignored_width {
        req.params.warn(
            module,
            "urlparamwidth",
            &format!("Ignoring width value set in \"{pre}urlparam\" ({pw}) in favor of width value derived from \"{pre}urlwidth\"/\"{pre}urlheight\" ({w})."),
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
    /// `archived=1`: `f` names an old version (`<timestamp>!<name>`).
    archived: Option<String>,
}

/// `Cache-Control` of thumbnails of an old version: their content never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of thumbnails of a file's current version: the thumbnail of that version
/// never changes either, but an overwrite or a revert puts another version's under the same
/// URL, so caches keep it a day at most (without revalidating meanwhile, even on reload).
const CURRENT: &str = "public, max-age=86400, immutable";

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
    let archived = q
        .archived
        .as_deref()
        .is_some_and(|a| !a.is_empty() && a != "0");
    let found = if archived {
        app.repo.old_file(&dbkey).await
    } else {
        app.repo.current_file(&dbkey).await
    };
    let version = match found {
        Ok(Some(v)) if archived || v.name == dbkey => v,
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
    let src = source(&version.name, &version.meta, &mime);
    match wanted(thumb::transform(&src, &params)) {
        Ok(w) => {
            let cache = if archived { IMMUTABLE } else { CURRENT };
            serve_thumb(&app, &version.meta, &version.name, w, &headers, cache).await
        }
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

/// Serves a thumbnail of the content `meta` (of the file called `label`, for the logs),
/// rendering and storing it first if it was never rendered.
async fn serve_thumb(
    app: &Arc<AppState>,
    meta: &FileMeta,
    label: &str,
    wanted: Wanted,
    headers: &HeaderMap,
    cache: &'static str,
) -> Response<Body> {
    match stored_or_rendered(app, meta, label, wanted).await {
        Ok(t) => {
            super::serve::serve_blob_cached(
                app,
                &t.sha1,
                &t.mime,
                &t.timestamp,
                headers,
                Some(cache),
            )
            .await
        }
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
    meta: &FileMeta,
    label: &str,
    wanted: Wanted,
) -> Result<Thumbnail, Failure> {
    let Wanted {
        name,
        pixels,
        format,
        quality_low,
    } = wanted;
    let name = name.as_str();
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
    let area = decoded_area(&source(label, meta, &mime));
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
    let rendering = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        render::render(&*content, &mime, area, size, format, quality_low, &limits)
    });
    let limit = std::time::Duration::from_secs(app.config.thumbnail_time_limit);
    let Ok(rendered) = tokio::time::timeout(limit, rendering).await else {
        tracing::warn!(file = %label, thumb = %name, "a thumbnail took too long to render");
        return Err(Failure::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "Error creating thumbnail: rendering took longer than {} seconds",
                app.config.thumbnail_time_limit
            ),
        ));
    };
    let bytes = match rendered {
        Ok(Ok(b)) => {
            metrics::counter!("mwstore_thumbnails_rendered_total", "format" => format.ext())
                .increment(1);
            b
        }
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
            tracing::warn!(file = %label, error = %e, "a thumbnail could not be rendered");
            return Err(Failure::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Error creating thumbnail: {e}"),
            ));
        }
        Err(e) => {
            tracing::error!(file = %label, error = %e, "the thumbnail renderer failed");
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
        tracing::error!(file = %label, error = %e, "a thumbnail could not be stored");
        return Err(Failure::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error creating thumbnail: Unable to save thumbnail to destination",
        ));
    }
    Ok(t)
}

/// Where a thumbnail was asked for under `/w/images/thumb/`: the path segments after it,
/// still percent-encoded.
pub enum ThumbPath<'a> {
    /// `<h1>/<h2>/<name>/<thumb name>`: of the current version.
    Current {
        h1: &'a str,
        h2: &'a str,
        file: &'a str,
        thumb: &'a str,
    },
    /// `archive/<h1>/<h2>/<timestamp>!<name>/<thumb name>`: of an old version.
    Archive {
        h1: &'a str,
        h2: &'a str,
        archive: &'a str,
        thumb: &'a str,
    },
}

/// `/w/images/thumb/…`: the thumbnail, rendered on its first request. Only the canonical
/// path of a thumbnail is answered.
pub async fn serve_thumb_path(
    app: Arc<AppState>,
    path: ThumbPath<'_>,
    headers: &HeaderMap,
) -> Response<Body> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (h1, h2, stored_as, thumb_name, archived) = match path {
        ThumbPath::Current {
            h1,
            h2,
            file,
            thumb,
        } => (h1, h2, decode(file), thumb, false),
        ThumbPath::Archive {
            h1,
            h2,
            archive,
            thumb,
        } => (h1, h2, decode(archive), thumb, true),
    };
    let requested = decode(thumb_name);
    let dbkey = if archived {
        match stored_as.split_once('!') {
            Some((_, name)) => name.to_owned(),
            None => return missing(&stored_as),
        }
    } else {
        stored_as.clone()
    };
    let (e1, e2) = title::hash_dirs(&dbkey);
    let found = if archived {
        app.repo.old_file(&stored_as).await
    } else {
        app.repo.current_file(&dbkey).await
    };
    let version = match found {
        Ok(Some(v)) if v.name == dbkey && e1 == h1 && e2 == h2 => v,
        _ => return missing(&stored_as),
    };
    let of = if archived {
        ThumbOf::Archive {
            dbkey: &dbkey,
            archive: &stored_as,
        }
    } else {
        ThumbOf::Current(&dbkey)
    };
    let expected = |w: &Wanted| {
        let url = of.url(&app, &w.name);
        url.split_once("/images/thumb/")
            .map_or(url.clone(), |(_, p)| p.to_owned())
    };
    match requested_thumb(&version.meta, &dbkey, &requested) {
        Ok(w) if w.name == requested => {
            let cache = if archived { IMMUTABLE } else { CURRENT };
            serve_thumb(&app, &version.meta, &version.name, w, headers, cache).await
        }
        Ok(w) => error_page(
            StatusCode::NOT_FOUND,
            &format!(
                "The given path of the specified thumbnail is incorrect; expected '{}' but got '{}/{h1}/{h2}/{}/{thumb_name}'.",
                expected(&w),
                if archived { "archive" } else { "" },
                title::rawurlencode(&stored_as),
            )
            .replace("got '/", "got '"),
        ),
        Err(f) => f.into_response(),
    }
}

/// The thumbnail named `requested` (`<param>-<name>[.<ext>]`) of the content `meta` of the
/// file (or stash key) `name`: what it comes to, or why there is none.
fn requested_thumb(meta: &FileMeta, name: &str, requested: &str) -> Result<Wanted, Failure> {
    let mime = meta.mime();
    let src = source(name, meta, &mime);
    // `<param>-<name>`, with the format's extension after it when it differs.
    let param = requested.strip_suffix(&format!("-{name}")).or_else(|| {
        let ext = thumb::format_for(&mime).ext();
        requested.strip_suffix(&format!("-{name}.{ext}"))
    });
    let Some(params) = param.and_then(|p| thumb::parse_param(src.handler, p)) else {
        return Err(Failure::page(
            StatusCode::BAD_REQUEST,
            "The specified thumbnail parameters are not recognized.",
        ));
    };
    wanted(thumb::transform(&src, &params))
}

/// `Special:UploadStash/thumb/<key>/<thumb name>`: a thumbnail of a stashed file, for the
/// owner of the stash entry (the caller has checked).
pub async fn serve_stash_thumb(
    app: &Arc<AppState>,
    entry: &mwstore_storage::StashEntry,
    requested: &str,
    headers: &HeaderMap,
) -> Response<Body> {
    match requested_thumb(&entry.meta, &entry.key, requested) {
        Ok(w) if w.name == requested => {
            let cache = "private, max-age=31536000, immutable";
            serve_thumb(app, &entry.meta, &entry.key, w, headers, cache).await
        }
        Ok(_) | Err(Failure::Page(..)) | Err(Failure::NotFound) => {
            error_page(StatusCode::NOT_FOUND, "No local path for scaled item.")
        }
    }
}

/// `/w/resources/assets/file-type-icons/<name>`: the icon that stands for files no
/// thumbnail can be made of (one picture for every type), rendered once.
pub async fn serve_icon(
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    if !thumb::is_icon_name(&name) {
        return super::serve::not_found();
    }
    match icon_png() {
        Some(png) => super::serve::serve_static(png, "image/png", &headers),
        None => super::serve::not_found(),
    }
}

/// The file-type icon: a sheet of paper with a folded corner, [`thumb::ICON_SIZE`] square.
fn icon_png() -> Option<&'static [u8]> {
    static ICON: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120"><path d="M30 10h42l22 22v78H30z" fill="#f8f9fa" stroke="#72777d" stroke-width="3" stroke-linejoin="round"/><path d="M72 10v22h22" fill="#eaecf0" stroke="#72777d" stroke-width="3" stroke-linejoin="round"/><path d="M42 54h40M42 66h40M42 78h40M42 90h28" stroke="#a2a9b1" stroke-width="4" stroke-linecap="round"/></svg>"##;
    ICON.get_or_init(|| {
        let size = u32::try_from(thumb::ICON_SIZE).unwrap_or(120);
        let limits = RenderLimits {
            max_memory: 16 << 20,
            max_source_area: u64::MAX,
        };
        render::render(
            &SVG.as_bytes(),
            "image/svg+xml",
            0,
            (size, size),
            thumb::Format::Png,
            false,
            &limits,
        )
        .ok()
    })
    .as_deref()
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
