//! Thumbnail sizes and names, as MediaWiki computes them for `iiurlwidth` / `iiurlheight` /
//! `iiurlparam` and for its `/thumb/` URLs: which pixels a thumbnail has, what size the API
//! reports, when the original is handed out instead, and the name and path it is stored
//! under. Pure computation; rendering is elsewhere.
//!
//! The rules (recorded against MediaWiki 1.39 in `tests/reference/thumbs/`):
//! - The width decides; a height only lowers it, to the largest width whose rounded height
//!   fits. The other side is `round(h * w / W)`, halves away from zero.
//! - Bitmaps are never scaled up. A JPEG (not rotated by EXIF), PNG or GIF asked at or above
//!   its own width is handed out as the original, with its own size. Files that must be
//!   rendered whatever the size (WebP, whose thumbnails are PNG; a JPEG with EXIF rotation;
//!   TIFF, whose thumbnails are JPEG) are rendered at their own size and report the size asked.
//! - SVG is rasterised at any size; only its smaller side is capped at [`SVG_MAX_SIZE`].
//! - A thumbnail's name is `<param>-<name>`, plus `.<ext>` when the thumbnail's format is not
//!   the file's (`220px-Name.svg.png`, `220px-Name.webp.png`, `220px-Name.tif.jpg`).

use crate::title::{hash_dirs, rawurlencode};

/// The largest smaller side an SVG is rasterised at (`$wgSVGMaxSize`).
pub const SVG_MAX_SIZE: i64 = 5120;

/// How a file's thumbnails are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// A raster image, scaled down only. `must_render`: rendered even at its own size.
    Bitmap { must_render: bool, jpeg: bool },
    /// A drawing, rasterised at any size.
    Svg,
    /// No thumbnail can be made: an icon stands for it.
    Icon,
}

/// The format a thumbnail is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
}

impl Format {
    /// The file extension of the format.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
        }
    }

    /// The MIME type of the format.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
        }
    }
}

/// The handler for a file of MIME type `mime`; `rotated` when its EXIF orientation turns it.
pub fn handler_for(mime: &str, rotated: bool) -> Handler {
    match mime {
        "image/jpeg" => Handler::Bitmap {
            must_render: rotated,
            jpeg: true,
        },
        "image/png" | "image/gif" => Handler::Bitmap {
            must_render: false,
            jpeg: false,
        },
        "image/webp" | "image/tiff" => Handler::Bitmap {
            must_render: true,
            jpeg: false,
        },
        "image/svg+xml" => Handler::Svg,
        _ => Handler::Icon,
    }
}

/// The format of a thumbnail of a file of MIME type `mime`.
pub fn format_for(mime: &str) -> Format {
    match mime {
        "image/jpeg" | "image/tiff" => Format::Jpeg,
        "image/gif" => Format::Gif,
        _ => Format::Png,
    }
}

/// What a client asks for: a width (or none), a height (or none), and the extras of an
/// `iiurlparam` (`qlow-`, `lang<code>-`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// `qlow-`: a low-quality JPEG.
    pub quality_low: bool,
    /// `lang<code>-`: an SVG's language (not `en`).
    pub lang: Option<String>,
}

/// Parses an `iiurlparam` (or the parameter part of a thumbnail name) as `handler` reads it:
/// `<W>px` and `interlaced-<W>px` for bitmaps, `qlow-<W>px` for JPEG, `lang<code>-<W>px` for
/// SVG. `None` when the handler does not understand it.
pub fn parse_param(handler: Handler, s: &str) -> Option<Params> {
    let width = |px: &str| -> Option<i64> {
        let digits = px.strip_suffix("px")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let mut p = Params::default();
    match handler {
        Handler::Bitmap { jpeg, .. } => {
            let rest = s.strip_prefix("interlaced-").unwrap_or(s);
            let rest = match rest.strip_prefix("qlow-") {
                Some(r) if jpeg => {
                    p.quality_low = true;
                    r
                }
                _ => rest,
            };
            p.width = Some(width(rest)?);
        }
        Handler::Svg => {
            if let Some(rest) = s.strip_prefix("lang") {
                // A code is lower-case letters in groups joined by hyphens; the width follows
                // the last hyphen.
                let (code, px) = rest.rsplit_once('-')?;
                let code = code.to_owned();
                let valid = !code.is_empty()
                    && code.split('-').all(|part| {
                        !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase())
                    });
                p.width = Some(width(px)?);
                if valid && code != "en" {
                    p.lang = Some(code);
                }
            } else {
                p.width = Some(width(s)?);
            }
        }
        Handler::Icon => return None,
    }
    Some(p)
}

/// What a client asked for, as the file's handler reads it, and what was wrong with it.
pub struct Asked {
    pub params: Params,
    /// `iiurlparam` did not parse (MediaWiki's `badurlparam` warning).
    pub unparsed_param: bool,
    /// `iiurlparam` named another width than `iiurlwidth`: (its width, the one used).
    pub ignored_width: Option<(i64, i64)>,
    /// `iiurlparam` parsed with a width of 0.
    pub zero_width_param: bool,
}

/// What `iiurlwidth`, `iiurlheight` and `iiurlparam` ask of `src`: the width decides, a
/// height alone means "the file's width, in a box this high", and the parameter string adds
/// its extras (and its width when no `iiurlwidth` gave one).
pub fn asked(
    src: &Source<'_>,
    url_width: Option<i64>,
    url_height: Option<i64>,
    url_param: Option<&str>,
) -> Asked {
    let mut params = match (url_width, url_height) {
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
    if let Some(raw) = url_param {
        match parse_param(src.handler, raw) {
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

/// What a thumbnail request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The original file is handed out, with its own size.
    Original { width: i64, height: i64 },
    /// A thumbnail: rendered at `pixels`, reported as `client`, stored as `name`.
    Thumb {
        name: String,
        client: (i64, i64),
        pixels: (i64, i64),
        format: Format,
        quality_low: bool,
    },
    /// No thumbnail can be made: an icon of `ICON_SIZE` stands for the file.
    Icon,
}

/// The size of the icon that stands for a file without thumbnails.
pub const ICON_SIZE: i64 = 120;

/// The extensions MediaWiki has a file-type icon of its own for; other files get the
/// generic `fileicon.png`.
const ICON_EXTENSIONS: &[&str] = &[
    "c", "cpp", "deb", "djvu", "dvi", "exe", "h", "html", "iso", "java", "mid", "mov", "mpga", "o",
    "ogg", "pdf", "ps", "psd", "rm", "rpm", "svg", "tar", "tex", "ttf", "txt", "xcf",
];

/// The file name of the icon that stands for the file `dbkey` when no thumbnail can be
/// made: `fileicon-<ext>.png` where such an icon exists, else `fileicon.png` (served under
/// `/w/resources/assets/file-type-icons/`).
pub fn icon_name(dbkey: &str) -> String {
    let ext = normalized_ext(dbkey);
    if ICON_EXTENSIONS.contains(&ext.as_str()) {
        format!("fileicon-{ext}.png")
    } else {
        "fileicon.png".to_owned()
    }
}

/// Whether `name` is one of the icons [`icon_name`] hands out.
pub fn is_icon_name(name: &str) -> bool {
    name == "fileicon.png"
        || name
            .strip_prefix("fileicon-")
            .and_then(|n| n.strip_suffix(".png"))
            .is_some_and(|ext| ICON_EXTENSIONS.contains(&ext))
}

/// Why a request has no thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbError {
    /// No usable width (`urlparamnormal`).
    #[error("the image parameters cannot be normalised")]
    Normalise,
}

/// A file's thumbnail facts: its name with underscores, size and handler.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub dbkey: &'a str,
    pub width: i64,
    pub height: i64,
    pub mime: &'a str,
    pub handler: Handler,
}

fn php_round(x: f64) -> i64 {
    x.round() as i64
}

/// The height that goes with width `w` for a `sw` × `sh` source.
pub fn scale_height(sw: i64, sh: i64, w: i64) -> i64 {
    if sw <= 0 {
        return 0;
    }
    php_round(sh as f64 * w as f64 / sw as f64)
}

/// The largest width whose rounded height does not exceed `box_height`.
pub fn fit_box_width(sw: i64, sh: i64, box_height: i64) -> i64 {
    if sh <= 0 {
        return 0;
    }
    let ideal = sw as f64 * box_height as f64 / sh as f64;
    let up = ideal.ceil() as i64;
    if php_round(up as f64 * sh as f64 / sw as f64) > box_height {
        ideal.floor() as i64
    } else {
        up
    }
}

/// The file's extension as thumbnail names compare it: lower case, `jpeg` → `jpg`,
/// `tiff` → `tif`.
pub fn normalized_ext(name: &str) -> String {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpeg" => "jpg".into(),
        "tiff" => "tif".into(),
        _ => ext,
    }
}

/// The name a thumbnail with parameter string `param` of `dbkey` is stored under.
pub fn thumb_name(dbkey: &str, param: &str, format: Format) -> String {
    let mut name = format!("{param}-{dbkey}");
    if normalized_ext(dbkey) != format.ext() {
        name.push('.');
        name.push_str(format.ext());
    }
    name
}

/// The path of a thumbnail under the images directory:
/// `thumb/<h1>/<h2>/<name>/<thumb name>`, percent-encoded.
pub fn thumb_path(dbkey: &str, thumb: &str) -> String {
    let (h1, h2) = hash_dirs(dbkey);
    format!(
        "thumb/{h1}/{h2}/{}/{}",
        rawurlencode(dbkey),
        rawurlencode(thumb)
    )
}

/// Normalises `params` for `src` and says what is handed out.
pub fn transform(src: &Source<'_>, params: &Params) -> Result<Outcome, ThumbError> {
    let (sw, sh) = (src.width, src.height);
    let Some(mut width) = params.width else {
        return Err(ThumbError::Normalise);
    };
    if width <= 0 {
        return Err(ThumbError::Normalise);
    }
    if src.handler == Handler::Icon {
        return Ok(Outcome::Icon);
    }
    let mut kept_height = None;
    if let Some(h) = params.height {
        if width * sh > h * sw {
            width = fit_box_width(sw, sh, h).max(1);
            kept_height = Some(h);
        }
    }
    let mut phys_w = width;
    let mut phys_h = scale_height(sw, sh, phys_w);
    let client = (width, kept_height.unwrap_or(phys_h));
    phys_h = phys_h.max(1);
    let format = format_for(src.mime);
    match src.handler {
        Handler::Bitmap { must_render, jpeg } => {
            if phys_w >= sw {
                if !must_render {
                    return Ok(Outcome::Original {
                        width: sw,
                        height: sh,
                    });
                }
                phys_w = sw;
                phys_h = sh;
            }
            let quality_low = jpeg && params.quality_low;
            let param = if quality_low {
                format!("qlow-{phys_w}px")
            } else {
                format!("{phys_w}px")
            };
            Ok(Outcome::Thumb {
                name: thumb_name(src.dbkey, &param, format),
                client,
                pixels: (phys_w, phys_h),
                format,
                quality_low,
            })
        }
        Handler::Svg => {
            if phys_w <= phys_h {
                if phys_w > SVG_MAX_SIZE {
                    phys_w = SVG_MAX_SIZE;
                    phys_h = scale_height(sw, sh, phys_w).max(1);
                }
            } else if phys_h > SVG_MAX_SIZE {
                phys_h = SVG_MAX_SIZE;
                phys_w = php_round(sw as f64 * SVG_MAX_SIZE as f64 / sh as f64).max(1);
            }
            let param = match &params.lang {
                Some(lang) => format!("lang{lang}-{width}px"),
                None => format!("{width}px"),
            };
            Ok(Outcome::Thumb {
                name: thumb_name(src.dbkey, &param, format),
                client,
                pixels: (phys_w, phys_h),
                format,
                quality_low: false,
            })
        }
        Handler::Icon => Ok(Outcome::Icon),
    }
}

/// The 1.5× and 2× versions of a thumbnail (`responsiveUrls`): each key with what it comes
/// to, for those that differ from `base`.
pub fn responsive(
    src: &Source<'_>,
    params: &Params,
    base: &Outcome,
) -> Vec<(&'static str, Outcome)> {
    let Outcome::Thumb { client: (w, h), .. } = base else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, factor) in [("1.5", 1.5f64), ("2", 2.0)] {
        let p = Params {
            width: Some(php_round(*w as f64 * factor)),
            height: Some(php_round(*h as f64 * factor)),
            ..params.clone()
        };
        if let Ok(o) = transform(src, &p) {
            let same = match (&o, base) {
                (Outcome::Thumb { name: a, .. }, Outcome::Thumb { name: b, .. }) => a == b,
                _ => false,
            };
            if !same {
                out.push((key, o));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src<'a>(dbkey: &'a str, w: i64, h: i64, mime: &'a str, rotated: bool) -> Source<'a> {
        Source {
            dbkey,
            width: w,
            height: h,
            mime,
            handler: handler_for(mime, rotated),
        }
    }

    fn ask(w: Option<i64>, h: Option<i64>) -> Params {
        Params {
            width: w,
            height: h,
            ..Params::default()
        }
    }

    fn thumb(o: &Outcome) -> (String, i64, i64) {
        match o {
            Outcome::Thumb { name, client, .. } => (name.clone(), client.0, client.1),
            other => panic!("not a thumbnail: {other:?}"),
        }
    }

    #[test]
    fn sizes_as_recorded() {
        let photo = src("Tr_photo.jpg", 640, 480, "image/jpeg", false);
        assert_eq!(
            thumb(&transform(&photo, &ask(Some(220), None)).unwrap()),
            ("220px-Tr_photo.jpg".into(), 220, 165)
        );
        assert_eq!(
            thumb(&transform(&photo, &ask(Some(220), Some(100))).unwrap()),
            ("133px-Tr_photo.jpg".into(), 133, 100)
        );
        assert_eq!(
            thumb(&transform(&photo, &ask(Some(100), Some(100))).unwrap()),
            ("100px-Tr_photo.jpg".into(), 100, 75)
        );
        assert_eq!(
            transform(&photo, &ask(Some(1280), None)).unwrap(),
            Outcome::Original {
                width: 640,
                height: 480
            }
        );
        assert_eq!(
            thumb(&transform(&photo, &ask(Some(220), Some(0))).unwrap()),
            ("1px-Tr_photo.jpg".into(), 1, 0)
        );
        assert_eq!(
            transform(&photo, &ask(Some(0), None)),
            Err(ThumbError::Normalise)
        );
        let rot = src("Tr-rot6.jpg", 480, 640, "image/jpeg", true);
        assert_eq!(
            thumb(&transform(&rot, &ask(Some(1280), None)).unwrap()),
            ("480px-Tr-rot6.jpg".into(), 1280, 1707)
        );
        let webp = src("Tr-webp.webp", 320, 240, "image/webp", false);
        assert_eq!(
            thumb(&transform(&webp, &ask(Some(220), None)).unwrap()),
            ("220px-Tr-webp.webp.png".into(), 220, 165)
        );
        let svg = src("Tr-svgviewbox.svg", 512, 288, "image/svg+xml", false);
        let big = transform(&svg, &ask(Some(9200), None)).unwrap();
        match big {
            Outcome::Thumb {
                name,
                client,
                pixels,
                ..
            } => {
                assert_eq!(name, "9200px-Tr-svgviewbox.svg.png");
                assert_eq!(client, (9200, 5175));
                assert_eq!(pixels, (9102, 5120));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn responsive_as_recorded() {
        let rot = src("Tr-rot6.jpg", 480, 640, "image/jpeg", true);
        let p = ask(Some(220), None);
        let base = transform(&rot, &p).unwrap();
        let r = responsive(&rot, &p, &base);
        let names: Vec<_> = r.iter().map(|(k, o)| (*k, thumb(o).0)).collect();
        assert_eq!(
            names,
            vec![
                ("1.5", "330px-Tr-rot6.jpg".to_owned()),
                ("2", "439px-Tr-rot6.jpg".to_owned())
            ]
        );
    }

    #[test]
    fn params_each_handler_reads() {
        let jpeg = handler_for("image/jpeg", false);
        let png = handler_for("image/png", false);
        let svg = Handler::Svg;
        assert_eq!(parse_param(jpeg, "220px").unwrap().width, Some(220));
        assert!(parse_param(jpeg, "qlow-220px").unwrap().quality_low);
        assert_eq!(parse_param(png, "qlow-220px"), None);
        assert_eq!(
            parse_param(png, "interlaced-220px").unwrap().width,
            Some(220)
        );
        assert_eq!(parse_param(png, "page1-220px"), None);
        assert_eq!(parse_param(png, "foo"), None);
        assert_eq!(
            parse_param(svg, "langde-220px").unwrap().lang.as_deref(),
            Some("de")
        );
        assert_eq!(parse_param(svg, "langen-220px").unwrap().lang, None);
        assert_eq!(parse_param(jpeg, "langde-220px"), None);
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(
            thumb_name("Tr-upper.JPG", "100px", Format::Jpeg),
            "100px-Tr-upper.JPG"
        );
        assert_eq!(
            thumb_name("Tr-long.jpeg", "100px", Format::Jpeg),
            "100px-Tr-long.jpeg"
        );
        assert_eq!(
            thumb_name("Scan.tiff", "220px", Format::Jpeg),
            "220px-Scan.tiff.jpg"
        );
        assert_eq!(
            thumb_path("Tr_photo.jpg", "220px-Tr_photo.jpg"),
            "thumb/8/81/Tr_photo.jpg/220px-Tr_photo.jpg"
        );
    }
}

/// The recorded MediaWiki answers (`tests/reference/thumbs/`), replayed through
/// [`parse_param`], [`transform`] and [`responsive`].
#[cfg(test)]
mod recorded {
    use super::*;
    use serde_json::Value;

    fn last_segment(url: &str) -> &str {
        url.rsplit('/').next().unwrap_or(url)
    }

    /// What the API would answer, as (thumb name or "original", width, height, responsive
    /// names), or None for `urlparamnormal`.
    type Answer = Option<(String, i64, i64, Vec<(String, String)>)>;

    fn answer(src: &Source<'_>, params: &serde_json::Map<String, Value>, url_name: &str) -> Answer {
        let int = |k: &str| {
            params
                .get(k)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|v| *v != -1)
        };
        let raw = params.get("iiurlparam").and_then(|v| v.as_str());
        let p = asked(src, int("iiurlwidth"), int("iiurlheight"), raw).params;
        let name_of = |o: &Outcome| match o {
            Outcome::Thumb { name, .. } => name.clone(),
            _ => url_name.to_owned(),
        };
        let o = transform(src, &p).ok()?;
        let (w, h) = match &o {
            Outcome::Original { width, height } => (*width, *height),
            Outcome::Thumb { client, .. } => *client,
            Outcome::Icon => (ICON_SIZE, ICON_SIZE),
        };
        let r = responsive(src, &p, &o)
            .iter()
            .map(|(k, x)| ((*k).to_owned(), name_of(x)))
            .collect();
        Some((name_of(&o), w, h, r))
    }

    #[test]
    fn every_recorded_imageinfo_answer() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/thumbs");
        let mut checked = 0;
        for dir in ["imageinfo", "variant-tiff/imageinfo"] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for path in files {
                let file: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let name = file["file"].as_str().unwrap().replace(' ', "_");
                // The reference's default leaves TIFF unrendered (an icon); mwstore renders it
                // as the TIFF variant does.
                if name.ends_with(".tif") && dir == "imageinfo" {
                    continue;
                }
                // The size, type and rotation of the file, from an answer that has them.
                let info = file["cases"].as_array().unwrap().iter().find_map(|c| {
                    let ii = &c["response"]["body"]["query"]["pages"][0]["imageinfo"][0];
                    ii["width"].as_i64().map(|_| ii.clone())
                });
                let Some(info) = info else { continue };
                let rotated = info["metadata"].as_array().is_some_and(|m| {
                    m.iter().any(|e| {
                        e["name"] == "Orientation" && matches!(e["value"].as_i64(), Some(5..=8))
                    })
                });
                let mime = info["mime"].as_str().unwrap().to_owned();
                let src = Source {
                    dbkey: &name,
                    width: info["width"].as_i64().unwrap(),
                    height: info["height"].as_i64().unwrap(),
                    mime: &mime,
                    handler: handler_for(&mime, rotated),
                };
                let url_name = last_segment(info["url"].as_str().unwrap()).to_owned();
                for case in file["cases"].as_array().unwrap() {
                    let params = case["request"]["params"].as_object().unwrap();
                    let body = &case["response"]["body"];
                    if params.get("formatversion").and_then(|v| v.as_str()) != Some("2")
                        || !params
                            .get("iiprop")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .contains("url")
                    {
                        continue;
                    }
                    let expected: Answer = match body["error"]["code"].as_str() {
                        Some("urlparamnormal") => None,
                        Some(_) => continue,
                        None => {
                            let ii = &body["query"]["pages"][0]["imageinfo"][0];
                            if ii.get("thumberror").is_some() || ii.get("thumburl").is_none() {
                                continue;
                            }
                            let responsive = ii["responsiveUrls"]
                                .as_object()
                                .map(|o| {
                                    o.iter()
                                        .map(|(k, v)| {
                                            (
                                                k.clone(),
                                                last_segment(v.as_str().unwrap()).to_owned(),
                                            )
                                        })
                                        .collect()
                                })
                                .unwrap_or_default();
                            Some((
                                percent_decode(last_segment(ii["thumburl"].as_str().unwrap())),
                                ii["thumbwidth"].as_i64().unwrap(),
                                ii["thumbheight"].as_i64().unwrap(),
                                responsive,
                            ))
                        }
                    };
                    let expected = expected.map(|(n, w, h, r)| {
                        let r = r
                            .into_iter()
                            .map(|(k, v)| (k, percent_decode(&v)))
                            .collect();
                        (n, w, h, r)
                    });
                    let got = answer(&src, params, &percent_decode(&url_name));
                    assert_eq!(got, expected, "{name} with {params:?}");
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 200,
            "only {checked} recorded answers were checked"
        );
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}
