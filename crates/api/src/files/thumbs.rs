//! Thumbnails: the sizes and URLs the API reports (`iiurlwidth`, `iiurlheight`,
//! `iiurlparam`, with MediaWiki's rules in [`mwstore_domain::thumb`]) and `/w/thumb.php`,
//! which renders one on request ([`mwstore_domain::render`]) on a blocking thread, a bounded
//! number at a time.
//!
//! The URLs are those of MediaWiki's scripted transforms (`$wgThumbnailScriptPath`):
//! `/w/thumb.php?f=<name>&width=<W>`, or the original file when no scaling is needed.
//! Formats without a renderer (audio, video, PDF) keep the original as their thumbnail.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use serde_json::{Map, Value};

use mwstore_domain::render::{self, RenderError, RenderLimits};
use mwstore_domain::thumb::{self, Handler, Outcome, Params};
use mwstore_domain::title;
use mwstore_storage::FileMeta;

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

/// `size-$1pixel` of a pixel count: `12.5 MP`.
fn megapixels(area: u64) -> String {
    let mp = area as f64 / 1e6;
    let text = format!("{mp:.1}");
    format!("{} MP", text.trim_end_matches(".0"))
}

/// The thumbnail URL of `dbkey` at `width`.
fn script_url(app: &AppState, dbkey: &str, width: i64, quality_low: bool) -> String {
    let mut url = format!(
        "{}{}/thumb.php?f={}&width={width}",
        app.server,
        crate::SCRIPT_PATH,
        title::wfurlencode(dbkey)
    );
    if quality_low {
        url.push_str("&quality=low");
    }
    url
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
    let handler = handler(meta);
    let mime = meta.mime();
    let src = thumb::Source {
        dbkey,
        width: sw,
        height: sh,
        mime: &mime,
        handler,
    };
    let params = asked(&src, p).params;
    let outcome = match thumb::transform(&src, &params) {
        Ok(o) => o,
        Err(_) => return,
    };
    let url_of = |o: &Outcome| match o {
        Outcome::Thumb {
            client,
            quality_low,
            ..
        } => script_url(app, dbkey, client.0, *quality_low),
        _ => url.to_owned(),
    };
    match &outcome {
        Outcome::Original { width, height } => {
            out.insert("thumburl".into(), url.into());
            out.insert("thumbwidth".into(), (*width).into());
            out.insert("thumbheight".into(), (*height).into());
        }
        Outcome::Thumb { client, .. } => {
            let area = meta.width as u64 * meta.height as u64;
            // A drawing's size is only a number: the limit is on decoded bitmaps.
            if handler != Handler::Svg && area > app.config.thumbnail_max_source_area {
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

/// What a client asked for, as the file's handler reads it, and what it said about it.
pub struct Asked {
    pub params: Params,
    /// `iiurlparam` did not parse (MediaWiki's `badurlparam` warning).
    pub unparsed_param: bool,
    /// `iiurlparam` named another width than `iiurlwidth`: (its width, the one used).
    pub ignored_width: Option<(i64, i64)>,
    /// `iiurlparam` parsed with a width of 0.
    pub zero_width_param: bool,
}

/// The thumbnail parameters `p` (`iiurlwidth`, `iiurlheight`, `iiurlparam`) ask of `src`.
pub fn asked(src: &thumb::Source<'_>, p: &crate::query::imageinfo::InfoProps) -> Asked {
    let mut params = match (p.url_width, p.url_height) {
        (Some(w), h) => Params {
            width: Some(w),
            height: h,
            ..Params::default()
        },
        (None, Some(h)) => Params {
            width: Some(src.width),
            height: Some(h),
            ..Params::default()
        },
        (None, None) => Params::default(),
    };
    let mut a = Asked {
        params: Params::default(),
        unparsed_param: false,
        ignored_width: None,
        zero_width_param: false,
    };
    if let Some(raw) = &p.url_param {
        match thumb::parse_param(src.handler, raw) {
            Some(parsed) => {
                a.zero_width_param = parsed.width == Some(0);
                match (params.width, parsed.width) {
                    (None, w) => params.width = w,
                    (Some(w), Some(pw)) if pw != w => a.ignored_width = Some((pw, w)),
                    _ => {}
                }
                params.quality_low = parsed.quality_low;
                params.lang = parsed.lang;
            }
            None => a.unparsed_param = true,
        }
    }
    a.params = params;
    a
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
    let src = thumb::Source {
        dbkey,
        width: i64::from(meta.width),
        height: i64::from(meta.height),
        mime: &mime,
        handler: handler(meta),
    };
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
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("The source file '{dbkey}' does not exist."),
            )
        }
    };
    let Some(width) = q.width.or(q.w) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The specified thumbnail parameters are not valid: No width specified.",
        );
    };
    let width: Option<i64> = width.trim_end_matches("px").parse().ok();
    let meta = &version.meta;
    let mime = meta.mime();
    let handler = handler(meta);
    let src = thumb::Source {
        dbkey: &dbkey,
        width: i64::from(meta.width),
        height: i64::from(meta.height),
        mime: &mime,
        handler,
    };
    let params = Params {
        width,
        quality_low: q.quality.as_deref() == Some("low"),
        ..Params::default()
    };
    let (name, pixels, format, quality_low) = match thumb::transform(&src, &params) {
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Error creating thumbnail: Invalid thumbnail parameters",
            )
        }
        Ok(Outcome::Original { .. }) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Error creating thumbnail: Image was not scaled, is the requested width bigger than the source?",
            )
        }
        Ok(Outcome::Icon) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error creating thumbnail: thumbnails of this file type are not rendered",
            )
        }
        Ok(Outcome::Thumb {
            name,
            pixels,
            format,
            quality_low,
            ..
        }) => (name, pixels, format, quality_low),
    };
    let etag = format!("\"{}-{}\"", meta.sha1, title::rawurlencode(&name));
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let last_modified = mwstore_storage::parse_ts14(&version.timestamp)
        .map(|t| httpdate::fmt_http_date(std::time::SystemTime::from(t)));
    let mut base = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        );
    if let Some(lm) = &last_modified {
        base = base.header(header::LAST_MODIFIED, lm);
    }
    if inm.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return base
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| super::serve::not_found());
    }
    let area = match handler {
        Handler::Svg => 0,
        _ => u64::from(meta.width) * u64::from(meta.height),
    };
    let limits = RenderLimits {
        max_memory: app.config.max_decode_memory,
        max_source_area: app.config.thumbnail_max_source_area,
    };
    let content = match app.blobs.content(&meta.sha1).await {
        Ok(Some(c)) => c,
        _ => return super::serve::not_found(),
    };
    let Ok(slot) = app.renders.clone().acquire_owned().await else {
        return super::serve::not_found();
    };
    let pixels = (
        u32::try_from(pixels.0).unwrap_or(1),
        u32::try_from(pixels.1).unwrap_or(1),
    );
    let rendered = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        render::render(&*content, &mime, area, pixels, format, quality_low, &limits)
    })
    .await;
    let bytes = match rendered {
        Ok(Ok(b)) => b,
        Ok(Err(RenderError::TooLarge(max))) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Error creating thumbnail: File with dimensions greater than {}",
                    megapixels(max)
                ),
            )
        }
        Ok(Err(e)) => {
            tracing::warn!(file = %dbkey, error = %e, "a thumbnail could not be rendered");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Error creating thumbnail: {e}"),
            );
        }
        Err(e) => {
            tracing::error!(file = %dbkey, error = %e, "the thumbnail renderer failed");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error creating thumbnail: the renderer failed",
            );
        }
    };
    let disposition_name = if thumb::normalized_ext(&dbkey) == format.ext() {
        dbkey.clone()
    } else {
        format!("{dbkey}.{}", format.ext())
    };
    base.status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.mime())
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "inline;filename*=UTF-8''{}",
                title::rawurlencode(&disposition_name)
            ),
        )
        .body(Body::from(bytes))
        .unwrap_or_else(|_| super::serve::not_found())
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
