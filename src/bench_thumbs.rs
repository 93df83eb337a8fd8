//! The `thumbs` scenario of `mwstore bench`: thumbnails rendered on demand and served from
//! storage, on mwstore or on MediaWiki (whose thumbnails ImageMagick renders).
//!
//! Three sources are generated and uploaded once each: a 12 MP JPEG and a 24 MP PNG of
//! photographic-looking content (gradients, soft blobs and noise, so encoders and decoders do
//! real work), and a 4000×3000 SVG of a few thousand paths, gradients and text elements.
//! For each source and each width W of `--thumb-widths`:
//! - fresh renders: `/w/thumb.php?f=<name>&width=<w>` for w = W, W+1, … (one width per
//!   sample, so that each is rendered for the first time), timed to the first body byte.
//!   `thumb.php`, not the `thumburl`: a MediaWiki without a 404 handler serves
//!   `/w/images/thumb/…` statically (a width never rendered is a 404 there), and its
//!   `prop=imageinfo&iiurlwidth` renders the thumbnail (and the 1.5× and 2× ones) during the
//!   API request, so the API is not asked before the fresh renders (and the widths
//!   MediaWiki renders during an upload, 300, 450 and 600, are skipped). The server's memory is
//!   sampled meanwhile, the helpers it starts (ImageMagick's `convert` under php-fpm)
//!   included;
//! - cached serving: the `thumburl` that `prop=imageinfo&iiurlwidth=W` hands out (rendered by
//!   then), fetched repeatedly over keep-alive connections at concurrency 1 and 4; the same
//!   for the very bytes of that thumbnail uploaded as a file of their own (what serving them
//!   as an original costs on that server), and for the source's original.
//!
//! Every thumbnail served is checked: status 200, an image of the width asked (read from its
//! PNG, JPEG or GIF header) and not the original. A request that fails a check is recorded
//! with the server's reason and not timed.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::{failure, fmt_opt, lock, ms, quantile_ms, request, round1, seed_of, Ctx, RssSampler};

/// How often the server's memory is sampled during fresh renders: ImageMagick's processes
/// live for a fraction of a second.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Concurrency levels of the cached-serving runs.
const CONCURRENCY: [usize; 2] = [1, 4];

/// Widths MediaWiki renders during an upload (the 300px thumbnail of the upload answer's
/// `html` at 1, 1.5 and 2×): never fresh there, so no fresh sample asks for them.
const PRERENDERED: [u32; 3] = [300, 450, 600];

/// Longest any one request may take (MediaWiki renders a large SVG in seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Options of the thumbs scenario.
pub struct ThumbOpts {
    /// Widths asked of each source.
    pub widths: Vec<u32>,
    /// Fresh renders per width (distinct widths W, W+1, …).
    pub samples: u32,
    /// Seconds of each cached-serving run.
    pub seconds: f64,
    /// Divides the sources' sizes (and the SVG's element count): tests use small sources.
    pub divisor: u32,
}

// ---------------------------------------------------------------------------------------
// Generated sources

/// The kinds of source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Jpeg,
    Png,
    Svg,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
            Kind::Svg => "svg",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Svg => "svg",
        }
    }

    /// Full-size dimensions: 12 MP, 24 MP, and the SVG's 4000×3000 canvas.
    fn size(self) -> (u32, u32) {
        match self {
            Kind::Jpeg | Kind::Svg => (4000, 3000),
            Kind::Png => (6000, 4000),
        }
    }
}

/// xorshift64: fast pseudo-random bits for noise.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n.max(1))) >> 32) as u32
    }
}

/// RGB pixels that look like a photograph to an encoder: smooth diagonal and radial
/// gradients, a few soft bright blobs, and per-pixel noise (a sensor's grain).
fn photo_pixels(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut rng = Rng::new(seed);
    let blobs: Vec<(f32, f32, f32, [f32; 3])> = (0..6)
        .map(|_| {
            let cx = rng.below(width) as f32;
            let cy = rng.below(height) as f32;
            let r = (width.min(height) as f32) * (0.08 + rng.below(20) as f32 / 100.0);
            let tint = [
                rng.below(120) as f32,
                rng.below(120) as f32,
                rng.below(120) as f32,
            ];
            (cx, cy, r, tint)
        })
        .collect();
    // Per-column and per-row terms keep the cost to a few operations a pixel.
    let col: Vec<[f32; 3]> = (0..w)
        .map(|x| {
            let t = x as f32 / w as f32;
            [
                60.0 + 80.0 * t,
                70.0 + 50.0 * (t * 6.3).sin(),
                120.0 - 60.0 * t,
            ]
        })
        .collect();
    let mut out = vec![0u8; w * h * 3];
    for (y, row) in out.chunks_mut(w * 3).enumerate() {
        let t = y as f32 / h as f32;
        let rowterm = [30.0 * t, 40.0 * (t * 4.1).cos(), 50.0 * t];
        let near: Vec<&(f32, f32, f32, [f32; 3])> = blobs
            .iter()
            .filter(|b| (y as f32 - b.1).abs() < b.2)
            .collect();
        for (x, px) in row.chunks_mut(3).enumerate() {
            let mut v = [
                col[x][0] + rowterm[0],
                col[x][1] + rowterm[1],
                col[x][2] + rowterm[2],
            ];
            for b in &near {
                let (dx, dy) = (x as f32 - b.0, y as f32 - b.1);
                let d2 = (dx * dx + dy * dy) / (b.2 * b.2);
                if d2 < 1.0 {
                    let k = (1.0 - d2) * (1.0 - d2);
                    for (vc, tint) in v.iter_mut().zip(b.3) {
                        *vc += k * tint;
                    }
                }
            }
            let n = rng.next();
            for c in 0..3 {
                let grain = ((n >> (c * 8)) & 0x1f) as f32 - 16.0;
                px[c] = (v[c] + grain).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

fn write_jpeg(path: &Path, width: u32, height: u32, seed: u64) -> Result<()> {
    let pixels = photo_pixels(width, height, seed);
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        bail!("a JPEG is at most 65535 pixels on a side");
    };
    let mut data = Vec::new();
    jpeg_encoder::Encoder::new(&mut data, 90)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .context("cannot encode the JPEG source")?;
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}

fn write_png_photo(path: &Path, width: u32, height: u32, seed: u64) -> Result<()> {
    let pixels = photo_pixels(width, height, seed);
    let f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::with_capacity(1 << 20, f), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc
        .write_header()
        .with_context(|| format!("cannot write {}", path.display()))?;
    w.write_image_data(&pixels)
        .with_context(|| format!("cannot write {}", path.display()))?;
    w.finish()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A drawing of `width`×`height` (the viewBox too) with about 3000 elements at full size
/// (fewer for smaller canvases): gradients, filled and stroked Bézier paths, circles with
/// radial gradients, and text.
///
/// The text names a font family (DejaVu, Debian's default) before the generic one: with
/// only `sans-serif`, resvg finds no font where fontconfig finds DejaVu Sans, and mwstore
/// would skip the text that ImageMagick's rsvg draws.
fn svg_text(width: u32, height: u32, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let scale = width as f32 / 4000.0;
    let elements = ((3000.0 * scale * scale) as u32).max(30);
    let mut s = String::with_capacity(elements as usize * 200);
    s.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n<defs>\n"
    ));
    let colour = |rng: &mut Rng| format!("#{:06x}", rng.next() & 0xff_ffff);
    for i in 0..40 {
        let (a, b, c) = (colour(&mut rng), colour(&mut rng), colour(&mut rng));
        s.push_str(&format!(
            "<linearGradient id=\"g{i}\" x1=\"0\" y1=\"0\" x2=\"{}\" y2=\"1\">\
             <stop offset=\"0\" stop-color=\"{a}\"/><stop offset=\"0.5\" stop-color=\"{b}\" \
             stop-opacity=\"0.8\"/><stop offset=\"1\" stop-color=\"{c}\"/></linearGradient>\n",
            rng.below(100) as f32 / 100.0
        ));
    }
    for i in 0..20 {
        let (a, b) = (colour(&mut rng), colour(&mut rng));
        s.push_str(&format!(
            "<radialGradient id=\"r{i}\"><stop offset=\"0\" stop-color=\"{a}\"/>\
             <stop offset=\"1\" stop-color=\"{b}\" stop-opacity=\"0\"/></radialGradient>\n"
        ));
    }
    s.push_str(&format!(
        "</defs>\n<rect width=\"{width}\" height=\"{height}\" fill=\"url(#g0)\"/>\n"
    ));
    let pt = |rng: &mut Rng| (rng.below(width), rng.below(height));
    for i in 0..elements {
        if i % 10 == 9 {
            let (x, y) = pt(&mut rng);
            s.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"{}\" \
                 fill=\"{}\">Label {i} of the benchmark</text>\n",
                ((12 + rng.below(60)) as f32 * scale).max(4.0),
                colour(&mut rng)
            ));
        } else if i % 7 == 6 {
            let (x, y) = pt(&mut rng);
            s.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"{}\" fill=\"url(#r{})\" opacity=\"0.7\"/>\n",
                ((20 + rng.below(200)) as f32 * scale).max(2.0),
                rng.below(20)
            ));
        } else {
            let p: Vec<(u32, u32)> = (0..7).map(|_| pt(&mut rng)).collect();
            let fill = if i % 2 == 0 {
                format!("url(#g{})", rng.below(40))
            } else {
                colour(&mut rng)
            };
            s.push_str(&format!(
                "<path d=\"M{} {} C{} {} {} {} {} {} Q{} {} {} {} Z\" fill=\"{fill}\" \
                 fill-opacity=\"0.55\" stroke=\"{}\" stroke-width=\"{}\"/>\n",
                p[0].0,
                p[0].1,
                p[1].0,
                p[1].1,
                p[2].0,
                p[2].1,
                p[3].0,
                p[3].1,
                p[4].0,
                p[4].1,
                p[5].0,
                p[5].1,
                colour(&mut rng),
                1 + rng.below(6)
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Writes the source of `kind` at full size divided by `divisor`; returns its dimensions.
fn write_source(kind: Kind, path: &Path, divisor: u32, seed: u64) -> Result<(u32, u32)> {
    let (w, h) = kind.size();
    let (w, h) = ((w / divisor).max(8), (h / divisor).max(8));
    match kind {
        Kind::Jpeg => write_jpeg(path, w, h, seed)?,
        Kind::Png => write_png_photo(path, w, h, seed)?,
        Kind::Svg => {
            let mut f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            f.write_all(svg_text(w, h, seed).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok((w, h))
}

// ---------------------------------------------------------------------------------------
// Served images

/// Width and height from an image's header: PNG, JPEG (the first SOF marker) or GIF.
fn image_size(b: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| -> Option<u32> {
        Some(u32::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        if b.get(12..16)? != b"IHDR" {
            return None;
        }
        let w = u32::from_be_bytes(b.get(16..20)?.try_into().ok()?);
        let h = u32::from_be_bytes(b.get(20..24)?.try_into().ok()?);
        return Some((w, h));
    }
    if b.starts_with(b"GIF8") {
        let le16 = |i: usize| -> Option<u32> {
            Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])))
        };
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(&[0xff, 0xd8]) {
        let mut i = 2;
        loop {
            if *b.get(i)? != 0xff {
                return None;
            }
            // Fill bytes.
            while *b.get(i + 1)? == 0xff {
                i += 1;
            }
            let marker = *b.get(i + 1)?;
            if matches!(marker, 0x01 | 0xd0..=0xd7) {
                i += 2;
                continue;
            }
            if matches!(marker, 0xd9 | 0xda) {
                return None;
            }
            let len = be16(i + 2)? as usize;
            if (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + len;
        }
    }
    None
}

/// The reason a server gives on an error page: the text of its first `<p>`, or the start
/// of the body.
fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let inner = text
        .split_once("<p>")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(p, _)| p)
        .unwrap_or(&text);
    let words: Vec<&str> = inner.split_whitespace().collect();
    let mut s = words.join(" ");
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// One response, read to its end.
struct Fetched {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    /// From sending the request to the first byte of the body.
    ttfb: Duration,
    total: Duration,
}

async fn fetch(req: reqwest::RequestBuilder) -> Result<Fetched, String> {
    let t0 = Instant::now();
    let mut resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    let mut first = None;
    while let Some(c) = resp.chunk().await.map_err(|e| e.to_string())? {
        if first.is_none() && !c.is_empty() {
            first = Some(t0.elapsed());
        }
        body.extend_from_slice(&c);
    }
    let total = t0.elapsed();
    Ok(Fetched {
        status,
        content_type,
        body,
        ttfb: first.unwrap_or(total),
        total,
    })
}

/// Checks that a response is a thumbnail `width` pixels wide of a `source`-sized image;
/// returns its size.
fn check_thumb(f: &Fetched, width: u32, source: (u32, u32)) -> Result<(u32, u32), String> {
    if f.status != 200 {
        return Err(format!("{} {}", f.status, reason(&f.body)));
    }
    let Some(size) = image_size(&f.body) else {
        return Err(format!(
            "200 but not a PNG, JPEG or GIF ({}, {} bytes)",
            f.content_type,
            f.body.len()
        ));
    };
    if size == source {
        return Err(format!(
            "the original ({}×{}) instead of a thumbnail",
            size.0, size.1
        ));
    }
    if size.0 != width {
        return Err(format!("{}×{}, not {width} wide", size.0, size.1));
    }
    Ok(size)
}

// ---------------------------------------------------------------------------------------
// The wiki

/// What the scenario needs to reach the wiki besides the client library.
struct Wiki {
    http: reqwest::Client,
    api: String,
    /// `…/thumb.php`, beside `api.php`.
    thumb_php: String,
    /// `scheme://host:port` of the API, for URLs given without it.
    origin: String,
}

impl Wiki {
    fn new(api: &str) -> Result<Wiki> {
        let Some(base) = api.strip_suffix("api.php") else {
            bail!("the API address {api} does not end with api.php: where is thumb.php?");
        };
        let after_scheme = api.find("://").map(|i| i + 3).unwrap_or(0);
        let origin = match api[after_scheme..].find('/') {
            Some(i) => api[..after_scheme + i].to_owned(),
            None => api.to_owned(),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(16)
            .build()
            .context("cannot make an HTTP client")?;
        Ok(Wiki {
            http,
            api: api.to_owned(),
            thumb_php: format!("{base}thumb.php"),
            origin,
        })
    }

    /// An absolute URL for one the wiki gave.
    fn absolute(&self, url: &str) -> String {
        if url.starts_with("//") {
            let scheme = self.origin.split_once("://").map_or("http", |(s, _)| s);
            format!("{scheme}:{url}")
        } else if url.starts_with('/') {
            format!("{}{url}", self.origin)
        } else {
            url.to_owned()
        }
    }

    /// `prop=imageinfo` of a file (with `iiurlwidth` when `width` is given): its one
    /// imageinfo item.
    async fn imageinfo(&self, name: &str, width: Option<u32>) -> Result<Value, String> {
        let title = format!("File:{name}");
        let mut q: Vec<(&str, String)> = vec![
            ("action", "query".into()),
            ("format", "json".into()),
            ("formatversion", "2".into()),
            ("prop", "imageinfo".into()),
            ("iiprop", "url|size|mime".into()),
            ("titles", title),
        ];
        if let Some(w) = width {
            q.push(("iiurlwidth", w.to_string()));
        }
        let f = fetch(self.http.get(&self.api).query(&q)).await?;
        if f.status != 200 {
            return Err(format!("imageinfo: {} {}", f.status, reason(&f.body)));
        }
        let v: Value =
            serde_json::from_slice(&f.body).map_err(|e| format!("imageinfo: not JSON ({e})"))?;
        let info = &v["query"]["pages"][0]["imageinfo"][0];
        if !info.is_object() {
            return Err(format!("imageinfo: no imageinfo for {name}: {v}"));
        }
        if let Some(e) = info["thumberror"].as_str() {
            return Err(format!("imageinfo: thumberror: {e}"));
        }
        Ok(info.clone())
    }
}

// ---------------------------------------------------------------------------------------
// The scenario

/// One uploaded source.
struct Source {
    kind: Kind,
    name: String,
    size: (u32, u32),
    url: String,
}

/// Runs the scenario; returns the `thumbs` section of the report.
pub async fn run(ctx: &Ctx, opts: &ThumbOpts) -> Result<Value> {
    let wiki = Wiki::new(ctx.client.api_url())?;
    let mut sources_json = Vec::new();
    let mut fresh = Vec::new();
    let mut cached = Vec::new();
    let mut errors = Vec::new();
    for kind in [Kind::Jpeg, Kind::Png, Kind::Svg] {
        eprintln!(
            "thumbs: generating and uploading the {} source",
            kind.label()
        );
        let source = match upload_source(ctx, &wiki, kind, opts.divisor).await {
            Ok((s, j)) => {
                sources_json.push(j);
                s
            }
            Err(e) => {
                ctx.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("thumbs: the {} source: {e}", kind.label());
                errors.push(json!({"source": kind.label(), "what": "upload", "error": e}));
                sources_json.push(json!({"source": kind.label(), "failed": 1, "error": e}));
                continue;
            }
        };
        // Widths already asked of this source: each fresh sample needs a new one.
        let mut used: BTreeSet<u32> = PRERENDERED.into_iter().collect();
        for &w in &opts.widths {
            eprintln!(
                "thumbs: {} at {w}px: {} fresh renders",
                kind.label(),
                opts.samples
            );
            let row = fresh_run(ctx, &wiki, &source, w, opts.samples, &mut used).await;
            for e in row["errors"].as_array().into_iter().flatten() {
                errors.push(
                    json!({"source": kind.label(), "what": format!("fresh {w}px"), "error": e}),
                );
            }
            fresh.push(row);
        }
        let mut rows = Vec::new();
        for &w in &opts.widths {
            eprintln!("thumbs: {} at {w}px: stored", kind.label());
            let (row, body) = match thumb_url(&wiki, &source, w).await {
                Ok(url) => {
                    serve_run(ctx, &wiki, &source, Target::Thumb(w), &url, opts.seconds).await
                }
                Err(e) => (failed_serve(ctx, &source, Target::Thumb(w), e), None),
            };
            rows.push(row);
            // The same bytes uploaded as a file of their own: what serving them as an
            // original costs on the same server.
            if let Some(body) = body {
                eprintln!(
                    "thumbs: {} at {w}px: the same bytes as a file",
                    kind.label()
                );
                let row = match upload_copy(ctx, &wiki, &source, w, &body).await {
                    Ok(url) => {
                        serve_run(ctx, &wiki, &source, Target::Copy(w), &url, opts.seconds)
                            .await
                            .0
                    }
                    Err(e) => failed_serve(ctx, &source, Target::Copy(w), e),
                };
                rows.push(row);
            }
        }
        eprintln!("thumbs: {}: original", kind.label());
        let (row, _) = serve_run(
            ctx,
            &wiki,
            &source,
            Target::Original,
            &source.url,
            opts.seconds,
        )
        .await;
        rows.push(row);
        for row in rows {
            if let Some(e) = row["error"].as_str() {
                errors.push(json!({"source": kind.label(), "what": row["what"], "error": e}));
            }
            cached.push(row);
        }
    }
    Ok(json!({
        "sources": sources_json,
        "fresh": fresh,
        "cached": cached,
        "errors": errors,
    }))
}

/// Generates and uploads one source; returns it and its report entry.
async fn upload_source(
    ctx: &Ctx,
    wiki: &Wiki,
    kind: Kind,
    divisor: u32,
) -> Result<(Source, Value), String> {
    let path = ctx.work.join(format!("thumbs-source.{}", kind.ext()));
    let seed = seed_of(&ctx.run_id) ^ ((kind as u64 + 1) << 48);
    let p = path.clone();
    let size = tokio::task::spawn_blocking(move || write_source(kind, &p, divisor, seed))
        .await
        .map_err(|e| format!("the generator stopped: {e}"))?
        .map_err(|e| format!("{e:#}"))?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let name = format!(
        "Bench-{}-thumbs-{}.{}",
        ctx.run_id,
        kind.label(),
        kind.ext()
    );
    let t0 = Instant::now();
    let filename = upload_once(ctx, &path, &name).await?;
    let upload_ms = ms(t0.elapsed());
    let info = wiki.imageinfo(&filename, None).await?;
    let served = (
        info["width"].as_u64().unwrap_or(0) as u32,
        info["height"].as_u64().unwrap_or(0) as u32,
    );
    if served != size {
        return Err(format!(
            "the wiki reports {filename} as {}×{}, generated {}×{}",
            served.0, served.1, size.0, size.1
        ));
    }
    let Some(url) = info["url"].as_str() else {
        return Err(format!("imageinfo of {filename} has no url"));
    };
    let source = Source {
        kind,
        name: filename.clone(),
        size,
        url: wiki.absolute(url),
    };
    let j = json!({
        "source": kind.label(),
        "name": filename,
        "width": size.0,
        "height": size.1,
        "bytes": bytes,
        "mime": info["mime"],
        "upload_ms": round1(upload_ms),
        "failed": 0,
    });
    Ok((source, j))
}

/// `samples` first renders through `thumb.php` at widths from `width` up, each one never
/// asked before.
async fn fresh_run(
    ctx: &Ctx,
    wiki: &Wiki,
    source: &Source,
    width: u32,
    samples: u32,
    used: &mut BTreeSet<u32>,
) -> Value {
    let mut widths = Vec::new();
    let mut w = width;
    while widths.len() < samples as usize {
        if used.insert(w) {
            widths.push(w);
        }
        w += 1;
    }
    let sampler = ctx
        .server_pid
        .map(|pid| RssSampler::start_every(pid, SAMPLE_EVERY));
    let mut ttfb = Vec::new();
    let mut total = Vec::new();
    let mut sizes = Vec::new();
    let mut bytes = 0u64;
    let mut errors = Vec::new();
    for &w in &widths {
        let req = wiki
            .http
            .get(&wiki.thumb_php)
            .query(&[("f", source.name.as_str()), ("width", &w.to_string())]);
        match fetch(req)
            .await
            .and_then(|f| check_thumb(&f, w, source.size).map(|s| (f, s)))
        {
            Ok((f, s)) => {
                ttfb.push(f.ttfb);
                total.push(f.total);
                sizes.push(format!("{}x{}", s.0, s.1));
                bytes += f.body.len() as u64;
            }
            Err(e) => errors.push(format!("{w}px: {e}")),
        }
    }
    let rss = match sampler {
        Some(s) => s.finish().await,
        None => Value::Null,
    };
    ctx.failures.fetch_add(errors.len(), Ordering::Relaxed);
    for e in &errors {
        eprintln!("thumbs: {} fresh {e}", source.kind.label());
    }
    let ok = ttfb.len();
    ttfb.sort();
    total.sort();
    json!({
        "source": source.kind.label(),
        "source_size": format!("{}x{}", source.size.0, source.size.1),
        "width": width,
        "sample_widths": widths,
        "ok": ok,
        "failed": errors.len(),
        "ttfb_p50_ms": quantile_ms(&ttfb, 0.5).map(round1),
        "ttfb_max_ms": quantile_ms(&ttfb, 1.0).map(round1),
        "total_p50_ms": quantile_ms(&total, 0.5).map(round1),
        "bytes_avg": if ok > 0 { bytes / ok as u64 } else { 0 },
        "sizes": sizes,
        "errors": errors,
        "rss": rss,
    })
}

/// The `thumburl` the API hands out for `width`, checked to be that width.
async fn thumb_url(wiki: &Wiki, source: &Source, width: u32) -> Result<String, String> {
    let info = wiki.imageinfo(&source.name, Some(width)).await?;
    let Some(url) = info["thumburl"].as_str() else {
        return Err(format!("imageinfo at {width}px: no thumburl"));
    };
    if info["thumbwidth"].as_u64() != Some(u64::from(width)) {
        return Err(format!(
            "imageinfo at {width}px: thumbwidth {}",
            info["thumbwidth"]
        ));
    }
    Ok(wiki.absolute(url))
}

/// What a cached-serving run fetches.
#[derive(Clone, Copy)]
enum Target {
    /// The stored thumbnail of this width, at its `thumburl`.
    Thumb(u32),
    /// The same bytes uploaded as a file, at that file's URL.
    Copy(u32),
    /// The source's original.
    Original,
}

impl Target {
    fn label(self) -> String {
        match self {
            Target::Thumb(w) => format!("{w}px"),
            Target::Copy(w) => format!("{w}px file"),
            Target::Original => "original".into(),
        }
    }

    fn width(self) -> Option<u32> {
        match self {
            Target::Thumb(w) | Target::Copy(w) => Some(w),
            Target::Original => None,
        }
    }
}

fn failed_serve(ctx: &Ctx, source: &Source, target: Target, e: String) -> Value {
    ctx.failures.fetch_add(1, Ordering::Relaxed);
    eprintln!("thumbs: {} {}: {e}", source.kind.label(), target.label());
    json!({
        "source": source.kind.label(),
        "what": target.label(),
        "width": target.width(),
        "failed": 1,
        "error": e,
    })
}

/// Uploads a served thumbnail as a file of its own; returns that file's URL.
async fn upload_copy(
    ctx: &Ctx,
    wiki: &Wiki,
    source: &Source,
    width: u32,
    body: &[u8],
) -> Result<String, String> {
    let ext = if body.starts_with(b"\x89PNG") {
        "png"
    } else if body.starts_with(&[0xff, 0xd8]) {
        "jpg"
    } else if body.starts_with(b"GIF8") {
        "gif"
    } else {
        return Err("the thumbnail is not a PNG, JPEG or GIF".into());
    };
    let label = source.kind.label();
    let path = ctx.work.join(format!("thumbs-{label}-{width}.{ext}"));
    std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let name = format!("Bench-{}-thumbs-{label}-{width}px-file.{ext}", ctx.run_id);
    let filename = upload_once(ctx, &path, &name).await?;
    let info = wiki.imageinfo(&filename, None).await?;
    match info["url"].as_str() {
        Some(url) => Ok(wiki.absolute(url)),
        None => Err(format!("imageinfo of {filename} has no url")),
    }
}

/// Requests per second for `url` (a stored thumbnail, the same bytes as a file, or the
/// original) at each concurrency, for `seconds` each, over keep-alive connections. Returns
/// the row and, when it passed its checks, the body of the first answer.
async fn serve_run(
    ctx: &Ctx,
    wiki: &Wiki,
    source: &Source,
    target: Target,
    url: &str,
    seconds: f64,
) -> (Value, Option<Vec<u8>>) {
    // The first request checks what is served; it also makes sure it is stored.
    let first = match fetch(wiki.http.get(url)).await {
        Ok(f) => f,
        Err(e) => return (failed_serve(ctx, source, target, e), None),
    };
    let checked = match target.width() {
        Some(w) => check_thumb(&first, w, source.size).map(|_| ()),
        None if first.status != 200 => Err(format!("{} {}", first.status, reason(&first.body))),
        None => Ok(()),
    };
    if let Err(e) = checked {
        return (
            failed_serve(ctx, source, target, format!("{url}: {e}")),
            None,
        );
    }
    let len = first.body.len() as u64;
    let mut runs = Vec::new();
    let mut failed = 0;
    for c in CONCURRENCY {
        let r = hammer(wiki, url, len, c, Duration::from_secs_f64(seconds)).await;
        failed += r["failed"].as_u64().unwrap_or(0);
        runs.push(r);
    }
    if failed > 0 {
        ctx.failures.fetch_add(1, Ordering::Relaxed);
    }
    let row = json!({
        "source": source.kind.label(),
        "what": target.label(),
        "width": target.width(),
        "url": url,
        "bytes": len,
        "failed": failed,
        "error": if failed > 0 { Value::from(format!("{failed} requests of {url} failed")) } else { Value::Null },
        "runs": runs,
    });
    (row, Some(first.body))
}

/// `concurrency` clients GET `url` back to back for `dur`; each answer must be 200 and
/// `len` bytes long.
async fn hammer(wiki: &Wiki, url: &str, len: u64, concurrency: usize, dur: Duration) -> Value {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let start = Instant::now();
    let deadline = start + dur;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, url) = (wiki.http.clone(), url.to_owned());
        let (ok, failed, bytes, first_error) = (
            ok.clone(),
            failed.clone(),
            bytes.clone(),
            first_error.clone(),
        );
        set.spawn(async move {
            while Instant::now() < deadline {
                let r = async {
                    let mut resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
                    let status = resp.status().as_u16();
                    let mut n = 0u64;
                    while let Some(c) = resp.chunk().await.map_err(|e| e.to_string())? {
                        n += c.len() as u64;
                    }
                    if status != 200 || n != len {
                        return Err(format!("{status}, {n} bytes"));
                    }
                    Ok(n)
                }
                .await;
                match r {
                    Ok(n) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        lock(&first_error).get_or_insert(e);
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    let b = bytes.load(Ordering::Relaxed);
    let first_error = lock(&first_error).clone();
    json!({
        "concurrency": concurrency,
        "requests": n,
        "failed": failed.load(Ordering::Relaxed),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "requests_per_s": round1(n as f64 / secs),
        "mb_per_s": round1(b as f64 / 1e6 / secs),
        "first_error": first_error,
    })
}

/// Uploads the file at `path` as `name` in one request, then removes the local file;
/// returns the name the wiki gave it.
async fn upload_once(ctx: &Ctx, path: &Path, name: &str) -> Result<String, String> {
    let r = ctx
        .client
        .upload(&request(path, name.to_owned(), 1 << 30), &|_| {})
        .await;
    let _ = std::fs::remove_file(path);
    match r {
        Ok(mwstore_client::UploadOutcome::Uploaded { filename, .. }) => Ok(filename),
        other => Err(format!(
            "upload of {name} failed: {}",
            failure(other).unwrap_or_default()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Output

/// The server's memory during the fresh renders of one row.
fn rss_cell(r: &Value) -> String {
    if r.is_null() {
        return "-".into();
    }
    if r["processes_max"].as_u64().unwrap_or(1) > 1 {
        let helpers = r["helper_names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        format!(
            "tree {} (from {}), max proc {}, helpers {}{}",
            fmt_opt(&r["tree_peak_rss_mib"]),
            fmt_opt(&r["tree_start_rss_mib"]),
            fmt_opt(&r["max_process_rss_mib"]),
            fmt_opt(&r["helper_peak_rss_mib"]),
            if helpers.is_empty() {
                String::new()
            } else {
                format!(" [{helpers}]")
            }
        )
    } else {
        format!(
            "{} (from {}, hwm {})",
            fmt_opt(&r["peak_rss_mib"]),
            fmt_opt(&r["start_rss_mib"]),
            fmt_opt(&r["vmhwm_mib"])
        )
    }
}

/// The thumbs section as text tables.
pub fn table(t: &Value) -> String {
    let mut s = String::new();
    s.push_str("\nthumbnail sources\n");
    for src in t["sources"].as_array().into_iter().flatten() {
        if src["failed"] != 0 {
            s.push_str(&format!(
                "{:>6}  failed: {}\n",
                src["source"].as_str().unwrap_or("?"),
                src["error"].as_str().unwrap_or("?")
            ));
            continue;
        }
        s.push_str(&format!(
            "{:>6}  {}x{}  {:.1} MB  upload {} ms  {}\n",
            src["source"].as_str().unwrap_or("?"),
            src["width"],
            src["height"],
            src["bytes"].as_f64().unwrap_or(0.0) / 1e6,
            fmt_opt(&src["upload_ms"]),
            src["name"].as_str().unwrap_or("?"),
        ));
    }
    s.push_str(&format!(
        "\nfresh thumbnails (thumb.php, each width rendered for the first time; time to first byte)\n\
         {:>6} {:>6} {:>10} {:>4} {:>6} {:>9} {:>9} {:>9}  {}\n",
        "source", "width", "widths", "ok", "failed", "p50 ms", "max ms", "KB avg", "server RSS MiB"
    ));
    for r in t["fresh"].as_array().into_iter().flatten() {
        let ws: Vec<u64> = r["sample_widths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        let range = match (ws.first(), ws.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
            (Some(a), _) => a.to_string(),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:>6} {:>6} {:>10} {:>4} {:>6} {:>9} {:>9} {:>9}  {}\n",
            r["source"].as_str().unwrap_or("?"),
            r["width"].to_string(),
            range,
            r["ok"].to_string(),
            r["failed"].to_string(),
            fmt_opt(&r["ttfb_p50_ms"]),
            fmt_opt(&r["ttfb_max_ms"]),
            format!("{:.1}", r["bytes_avg"].as_f64().unwrap_or(0.0) / 1e3),
            rss_cell(&r["rss"]),
        ));
    }
    s.push_str(&format!(
        "\nstored thumbnails (thumburl), the same bytes as a file, originals (url); keep-alive\n\
         {:>6} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}\n",
        "source", "what", "bytes", "c1 req/s", "c4 req/s", "c1 MB/s", "c4 MB/s", "failed"
    ));
    for r in t["cached"].as_array().into_iter().flatten() {
        let run = |c: u64, k: &str| {
            r["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["concurrency"].as_u64() == Some(c))
                .map(|x| fmt_opt(&x[k]))
                .unwrap_or_else(|| "-".into())
        };
        s.push_str(&format!(
            "{:>6} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}\n",
            r["source"].as_str().unwrap_or("?"),
            r["what"].as_str().unwrap_or("?"),
            r["bytes"].as_u64().map_or("-".into(), |b| b.to_string()),
            run(1, "requests_per_s"),
            run(4, "requests_per_s"),
            run(1, "mb_per_s"),
            run(4, "mb_per_s"),
            r["failed"].to_string(),
        ));
    }
    let errors = t["errors"].as_array().map_or(&[][..], Vec::as_slice);
    if !errors.is_empty() {
        s.push_str("\nthumbnail errors\n");
        for e in errors {
            s.push_str(&format!(
                "{:>6} {}: {}\n",
                e["source"].as_str().unwrap_or("?"),
                e["what"].as_str().unwrap_or("?"),
                e["error"].as_str().unwrap_or("?")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sources_have_their_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for (kind, want) in [
            (Kind::Jpeg, (400, 300)),
            (Kind::Png, (600, 400)),
            (Kind::Svg, (400, 300)),
        ] {
            let p = dir.path().join(format!("s.{}", kind.ext()));
            assert_eq!(write_source(kind, &p, 10, 7).unwrap(), want);
            let b = std::fs::read(&p).unwrap();
            match kind {
                Kind::Svg => {
                    let t = String::from_utf8(b).unwrap();
                    assert!(t.contains("width=\"400\" height=\"300\" viewBox=\"0 0 400 300\""));
                    assert!(t.matches("<path").count() > 10, "{t}");
                    assert!(t.contains("<text"));
                }
                _ => assert_eq!(image_size(&b), Some(want)),
            }
        }
        // The pixels are not flat: a JPEG of them is far larger than one of a flat colour.
        let p = dir.path().join("photo.jpg");
        write_jpeg(&p, 400, 300, 1).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 40_000);
        // Full size: the SVG has thousands of elements.
        let t = svg_text(4000, 3000, 1);
        assert!(t.matches("<path").count() + t.matches("<text").count() > 2500);
    }

    #[test]
    fn image_sizes_from_headers() {
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(&[0u8; 13 * 7 * 3], 13, 7, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        assert_eq!(image_size(&jpeg), Some((13, 7)));
        let mut png = Vec::new();
        {
            let mut e = png::Encoder::new(&mut png, 5, 9);
            e.set_color(png::ColorType::Rgb);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&[0u8; 5 * 9 * 3]).unwrap();
        }
        assert_eq!(image_size(&png), Some((5, 9)));
        assert_eq!(image_size(b"GIF89a\x0a\x00\x14\x00"), Some((10, 20)));
        assert_eq!(image_size(b"<html>"), None);
        assert_eq!(image_size(&jpeg[..20]), None);
        assert_eq!(image_size(&[0xff, 0xd8, 0xff]), None);
    }

    #[test]
    fn error_pages_give_their_reason() {
        let page = b"<!DOCTYPE html>\n<html><body>\n<h1>Error generating thumbnail</h1>\n<p>\nError creating thumbnail: File with dimensions greater than 12.5 MP\n</p>\n</body></html>";
        assert_eq!(
            reason(page),
            "Error creating thumbnail: File with dimensions greater than 12.5 MP"
        );
        assert_eq!(reason(b"plain\n text"), "plain text");
        assert!(reason(&[b'x'; 1000]).chars().count() <= 301);
    }

    #[test]
    fn thumbnails_are_checked() {
        let mut png = Vec::new();
        {
            let mut e = png::Encoder::new(&mut png, 22, 16);
            e.set_color(png::ColorType::Rgb);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&[0u8; 22 * 16 * 3]).unwrap();
        }
        let f = |status: u16, body: &[u8]| Fetched {
            status,
            content_type: "image/png".into(),
            body: body.to_vec(),
            ttfb: Duration::ZERO,
            total: Duration::ZERO,
        };
        assert_eq!(check_thumb(&f(200, &png), 22, (400, 300)), Ok((22, 16)));
        assert!(check_thumb(&f(200, &png), 23, (400, 300))
            .unwrap_err()
            .contains("not 23 wide"));
        assert!(check_thumb(&f(200, &png), 22, (22, 16))
            .unwrap_err()
            .contains("original"));
        assert_eq!(
            check_thumb(&f(400, b"<p>too big</p>"), 22, (400, 300)),
            Err("400 too big".into())
        );
    }

    #[test]
    fn wiki_addresses() {
        let w = Wiki::new("http://127.0.0.1:8082/w/api.php").unwrap();
        assert_eq!(w.thumb_php, "http://127.0.0.1:8082/w/thumb.php");
        assert_eq!(
            w.absolute("/w/images/a.png"),
            "http://127.0.0.1:8082/w/images/a.png"
        );
        assert_eq!(w.absolute("//h/x"), "http://h/x");
        assert_eq!(w.absolute("http://h/x"), "http://h/x");
        assert!(Wiki::new("http://h/w/index.php").is_err());
    }
}
