//! Rendering a thumbnail: the source is decoded with the `image` crate (only the formats
//! mwstore accepts, under [`image::Limits`] on size and allocation), turned upright by its
//! EXIF orientation, scaled with `fast_image_resize` (Lanczos3, alpha premultiplied) to the
//! pixel size [`crate::thumb::transform`] computed, and encoded as the thumbnail's format
//! (JPEG at quality 80, or 30 for `qlow-`; PNG; an animated GIF's first frame as a GIF).
//! SVG drawings are rasterised with `resvg`, which is given no way to reach anything outside
//! the file: external images and file references resolve to nothing (embedded `data:`
//! images still work). Synchronous and CPU-bound: callers run it on a blocking thread
//! behind a semaphore.

use std::io::{BufReader, Cursor};

use fast_image_resize::{ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};

use crate::io::{Content, ContentReader};
use crate::thumb::Format;

/// What one render may cost.
#[derive(Debug, Clone, Copy)]
pub struct RenderLimits {
    /// Bytes the decoder may allocate (the decoded source counts).
    pub max_memory: u64,
    /// Pixels a source may have to be rendered.
    pub max_source_area: u64,
}

/// Why a thumbnail could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The source has more pixels than a thumbnail may be made from.
    #[error("the source has more than {0} pixels")]
    TooLarge(u64),
    /// The source's format is not one thumbnails are rendered from.
    #[error("thumbnails are not rendered from {0}")]
    Unsupported(String),
    /// Decoding, scaling or encoding failed.
    #[error("{0}")]
    Failed(String),
}

fn format_of(mime: &str) -> Option<ImageFormat> {
    Some(match mime {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        "image/tiff" => ImageFormat::Tiff,
        _ => return None,
    })
}

fn failed(e: impl std::fmt::Display) -> RenderError {
    RenderError::Failed(e.to_string())
}

/// The largest SVG source rasterised (its parse tree grows with it).
const MAX_SVG_SOURCE: u64 = 32 << 20;

/// The system's fonts, loaded once, for text in drawings.
fn fonts() -> std::sync::Arc<resvg::usvg::fontdb::Database> {
    static FONTS: std::sync::OnceLock<std::sync::Arc<resvg::usvg::fontdb::Database>> =
        std::sync::OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_system_fonts();
            // The generic families default to Windows fonts (Arial, Times New Roman…): a
            // drawing that asks for `sans-serif` would draw no text on a system without
            // them. Name the usual free families instead, where they are installed.
            let installed = |db: &resvg::usvg::fontdb::Database, name: &str| {
                db.faces()
                    .any(|f| f.families.iter().any(|(family, _)| family == name))
            };
            let pick = |db: &resvg::usvg::fontdb::Database, names: &[&str]| {
                names
                    .iter()
                    .find(|n| installed(db, n))
                    .map(|n| (*n).to_owned())
            };
            if let Some(f) = pick(&db, &["DejaVu Sans", "Liberation Sans", "Noto Sans"]) {
                db.set_sans_serif_family(f);
            }
            if let Some(f) = pick(&db, &["DejaVu Serif", "Liberation Serif", "Noto Serif"]) {
                db.set_serif_family(f);
            }
            if let Some(f) = pick(
                &db,
                &["DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono"],
            ) {
                db.set_monospace_family(f);
            }
            std::sync::Arc::new(db)
        })
        .clone()
}

/// Rasterises an SVG drawing at exactly `w` × `h` pixels, as a PNG.
fn render_svg(
    content: &dyn Content,
    w: u32,
    h: u32,
    limits: &RenderLimits,
) -> Result<Vec<u8>, RenderError> {
    if content.len() > MAX_SVG_SOURCE {
        return Err(RenderError::Failed(format!(
            "the drawing is larger than {MAX_SVG_SOURCE} bytes"
        )));
    }
    if u64::from(w) * u64::from(h) * 4 > limits.max_memory {
        return Err(RenderError::TooLarge(limits.max_memory / 4));
    }
    let mut data = vec![0u8; usize::try_from(content.len()).map_err(failed)?];
    let n = crate::io::read_full(&mut ContentReader::new(content), &mut data).map_err(failed)?;
    data.truncate(n);
    let options = resvg::usvg::Options {
        // Nothing outside the file is read: no paths, no URLs; data: images only.
        resources_dir: None,
        image_href_resolver: resvg::usvg::ImageHrefResolver {
            resolve_data: resvg::usvg::ImageHrefResolver::default_data_resolver(),
            resolve_string: Box::new(|_, _| None),
        },
        fontdb: fonts(),
        ..resvg::usvg::Options::default()
    };
    let tree = resvg::usvg::Tree::from_data(&data, &options).map_err(failed)?;
    drop(data);
    let size = tree.size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| RenderError::Failed("the canvas cannot be made".into()))?;
    let transform =
        resvg::tiny_skia::Transform::from_scale(w as f32 / size.width(), h as f32 / size.height());
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    pixmap.encode_png().map_err(failed)
}

/// The largest colour profile a thumbnail carries (sRGB and Adobe RGB profiles are a few
/// KiB; some camera profiles are hundreds).
const MAX_ICC_PROFILE: usize = 64 * 1024;

/// Decodes a JPEG at 1/8 or 1/4 of its size, the smaller that still covers `pixels` (before
/// `orientation` turns it), or `None` when neither does or its pixel format is one the full
/// decoder handles (CMYK, 16-bit).
fn decode_jpeg_reduced(
    content: &dyn Content,
    pixels: (u32, u32),
    orientation: image::metadata::Orientation,
    limits: &RenderLimits,
) -> Result<Option<DynamicImage>, RenderError> {
    use image::metadata::Orientation as O;
    let turned = matches!(
        orientation,
        O::Rotate90 | O::Rotate270 | O::Rotate90FlipH | O::Rotate270FlipH
    );
    let (w, h) = if turned { (pixels.1, pixels.0) } else { pixels };
    let reader = BufReader::with_capacity(64 * 1024, ContentReader::new(content));
    let mut decoder = jpeg_decoder::Decoder::new(reader);
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_memory).unwrap_or(usize::MAX));
    decoder.read_info().map_err(failed)?;
    let Some(info) = decoder.info() else {
        return Ok(None);
    };
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8
    ) {
        return Ok(None);
    }
    let asked = (
        u16::try_from(w.max(1)).unwrap_or(u16::MAX),
        u16::try_from(h.max(1)).unwrap_or(u16::MAX),
    );
    let (sw, sh) = decoder.scale(asked.0, asked.1).map_err(failed)?;
    // At half size the gain in the inverse DCT does not pay for this decoder's slower entropy
    // decoding (measured: a 12 MP photo to 1280px took as long or longer); at a quarter or an
    // eighth it saves most of the memory and some time.
    if u32::from(sw) * 4 > u32::from(info.width) {
        return Ok(None);
    }
    let data = decoder.decode().map_err(failed)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    Ok(match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => {
            image::RgbImage::from_raw(sw, sh, data).map(DynamicImage::ImageRgb8)
        }
        _ => image::GrayImage::from_raw(sw, sh, data).map(DynamicImage::ImageLuma8),
    })
}

/// Renders `content` (of MIME type `mime`, `width` × `height` as stored) at `pixels`.
pub fn render(
    content: &dyn Content,
    mime: &str,
    source_area: u64,
    pixels: (u32, u32),
    format: Format,
    quality_low: bool,
    limits: &RenderLimits,
) -> Result<Vec<u8>, RenderError> {
    if mime == "image/svg+xml" {
        return render_svg(content, pixels.0.max(1), pixels.1.max(1), limits);
    }
    let Some(image_format) = format_of(mime) else {
        return Err(RenderError::Unsupported(mime.to_owned()));
    };
    if source_area > limits.max_source_area {
        return Err(RenderError::TooLarge(limits.max_source_area));
    }
    let reader = BufReader::with_capacity(64 * 1024, ContentReader::new(content));
    let mut reader = ImageReader::with_format(reader, image_format);
    let mut decode_limits = image::Limits::default();
    decode_limits.max_alloc = Some(limits.max_memory);
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(failed)?;
    // What the decoder itself says it will allocate, whatever the caller was told: some
    // decoders do not hold themselves to `max_alloc`.
    let (dw, dh) = decoder.dimensions();
    if u64::from(dw) * u64::from(dh) > limits.max_source_area {
        return Err(RenderError::TooLarge(limits.max_source_area));
    }
    if decoder.total_bytes() > limits.max_memory {
        return Err(RenderError::TooLarge(limits.max_source_area));
    }
    let orientation = decoder.orientation().map_err(failed)?;
    // The colour profile goes into the thumbnail as it is, so that browsers show the colours
    // the source means (a wide-gamut photo stays right); a profile too large for a thumbnail
    // is dropped, and the pixels are then read as sRGB.
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|p| !p.is_empty() && p.len() <= MAX_ICC_PROFILE);
    // A JPEG is decoded at 1/2, 1/4 or 1/8 of its size when the thumbnail is that much
    // smaller (the inverse DCT scaled, as libjpeg does for ImageMagick's `jpeg:size`): most of
    // the time of a thumbnail of a photo is its decoding.
    let reduced = if image_format == ImageFormat::Jpeg {
        decode_jpeg_reduced(content, pixels, orientation, limits)?
    } else {
        None
    };
    let mut source = match reduced {
        Some(image) => {
            drop(decoder);
            image
        }
        None => DynamicImage::from_decoder(decoder).map_err(failed)?,
    };
    source.apply_orientation(orientation);
    let source = match source {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => {
            source
        }
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    let (w, h) = (pixels.0.max(1), pixels.1.max(1));
    let mut scaled = DynamicImage::new(w, h, source.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(
        fast_image_resize::FilterType::Lanczos3,
    ));
    Resizer::new()
        .resize(&source, &mut scaled, &options)
        .map_err(failed)?;
    drop(source);
    let mut out = Cursor::new(Vec::new());
    match format {
        Format::Jpeg => {
            let quality = if quality_low { 30 } else { 80 };
            let rgb = scaled.to_rgb8();
            let (jw, jh) = (
                u16::try_from(w).map_err(failed)?,
                u16::try_from(h).map_err(failed)?,
            );
            // 4:2:0 chroma, as MediaWiki asks of ImageMagick: a third smaller than 4:4:4.
            // (Not with the encoder's optimised Huffman tables: with 4:2:0 they give a file
            // that decodes to other colours.)
            let mut encoder = jpeg_encoder::Encoder::new(out.get_mut(), quality);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            if let Some(p) = &icc {
                encoder.add_icc_profile(p).map_err(failed)?;
            }
            encoder
                .encode(rgb.as_raw(), jw, jh, jpeg_encoder::ColorType::Rgb)
                .map_err(failed)?;
        }
        Format::Png => {
            let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
            if let Some(p) = icc {
                let _ = encoder.set_icc_profile(p);
            }
            encoder
                .write_image(scaled.as_bytes(), w, h, scaled.color().into())
                .map_err(failed)?;
        }
        Format::Gif => scaled
            .to_rgba8()
            .write_to(&mut out, ImageFormat::Gif)
            .map_err(failed)?,
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> DynamicImage {
        image::load_from_memory(bytes).unwrap()
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    const LIMITS: RenderLimits = RenderLimits {
        max_memory: 256 << 20,
        max_source_area: 100_000_000,
    };

    #[test]
    fn colour_profiles_go_with_the_pixels() {
        // A PNG with an iCCP chunk (a made-up profile: it is carried, not interpreted).
        let profile = b"a colour profile of this test".repeat(4);
        let plain = png(300, 200);
        let mut chunk = b"iCCPtest profile\0\0".to_vec();
        chunk.extend_from_slice(&fdeflate::compress_to_vec(&profile));
        let mut src = plain[..33].to_vec();
        src.extend_from_slice(&((chunk.len() - 4) as u32).to_be_bytes());
        src.extend_from_slice(&chunk);
        src.extend_from_slice(&crc32fast::hash(&chunk).to_be_bytes());
        src.extend_from_slice(&plain[33..]);
        for format in [Format::Png, Format::Jpeg] {
            let out = render(
                &src,
                "image/png",
                60_000,
                (150, 100),
                format,
                false,
                &LIMITS,
            )
            .unwrap();
            let mut reader = ImageReader::new(Cursor::new(&out))
                .with_guessed_format()
                .unwrap();
            reader.no_limits();
            let mut decoder = reader.into_decoder().unwrap();
            assert_eq!(
                decoder.icc_profile().unwrap(),
                Some(profile.clone()),
                "{format:?}"
            );
        }
        // Without a profile, none is invented.
        let out = render(
            &plain,
            "image/png",
            60_000,
            (150, 100),
            Format::Png,
            false,
            &LIMITS,
        )
        .unwrap();
        let mut decoder = ImageReader::new(Cursor::new(&out))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        assert_eq!(decoder.icc_profile().unwrap(), None);
    }

    #[test]
    fn a_photo_is_decoded_only_as_large_as_its_thumbnail_needs() {
        let (w, h) = (1600u16, 1200u16);
        let rgb: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| [(i % 1600 * 255 / 1600) as u8, 60, 200])
            .collect();
        let mut src = Vec::new();
        jpeg_encoder::Encoder::new(&mut src, 90)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let none = image::metadata::Orientation::NoTransforms;
        // 1/8 covers 190 × 142; 1/4 is the least that covers 300 × 225; 1000 × 750 needs 1/2,
        // which the full decoder does as fast.
        let small = decode_jpeg_reduced(&src, (190, 142), none, &LIMITS)
            .unwrap()
            .unwrap();
        assert_eq!((small.width(), small.height()), (200, 150));
        let turned = image::metadata::Orientation::Rotate90;
        let t = decode_jpeg_reduced(&src, (225, 300), turned, &LIMITS)
            .unwrap()
            .unwrap();
        assert_eq!((t.width(), t.height()), (400, 300));
        assert!(decode_jpeg_reduced(&src, (1000, 750), none, &LIMITS)
            .unwrap()
            .is_none());
        // The whole render: the asked size, and the picture still the same picture.
        let out = render(
            &src,
            "image/jpeg",
            1_920_000,
            (190, 142),
            Format::Jpeg,
            false,
            &LIMITS,
        )
        .unwrap();
        let img = decode(&out).to_rgb8();
        assert_eq!(img.dimensions(), (190, 142));
        let p = img.get_pixel(95, 71).0;
        assert!(
            p[0].abs_diff(127) < 12 && p[1].abs_diff(60) < 12 && p[2].abs_diff(200) < 12,
            "{p:?}"
        );
    }

    #[test]
    fn scales_to_the_pixels_asked() {
        let src = png(300, 200);
        let out = render(
            &src,
            "image/png",
            60_000,
            (220, 147),
            Format::Png,
            false,
            &LIMITS,
        )
        .unwrap();
        let img = decode(&out);
        assert_eq!((img.width(), img.height()), (220, 147));
        let jpg = render(
            &src,
            "image/png",
            60_000,
            (100, 67),
            Format::Jpeg,
            true,
            &LIMITS,
        )
        .unwrap();
        assert_eq!(&jpg[..2], b"\xff\xd8");
        assert_eq!(decode(&jpg).width(), 100);
    }

    #[test]
    fn refuses_what_it_should_not_render() {
        let src = png(30, 20);
        assert!(matches!(
            render(
                &src,
                "image/png",
                600,
                (10, 7),
                Format::Png,
                false,
                &RenderLimits {
                    max_source_area: 100,
                    ..LIMITS
                }
            ),
            Err(RenderError::TooLarge(100))
        ));
        assert!(matches!(
            render(
                &src,
                "application/pdf",
                600,
                (10, 7),
                Format::Png,
                false,
                &LIMITS
            ),
            Err(RenderError::Unsupported(_))
        ));
        assert!(matches!(
            render(
                &src[..40].to_vec(),
                "image/png",
                600,
                (10, 7),
                Format::Png,
                false,
                &LIMITS
            ),
            Err(RenderError::Failed(_))
        ));
    }

    #[test]
    fn the_decoders_own_size_is_what_counts() {
        // A header that declares 60000 × 60000, whatever size the caller believes.
        let mut src = png(30, 20);
        src[16..24].copy_from_slice(&[0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60]);
        let crc = crc32fast::hash(&src[12..29]);
        src[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            render(&src, "image/png", 600, (10, 7), Format::Png, false, &LIMITS),
            Err(RenderError::TooLarge(_))
        ));
    }

    #[test]
    fn drawings_are_rasterised_without_reaching_outside() {
        let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="400" height="300">
            <rect width="400" height="300" fill="#c00"/>
            <image width="100" height="100" xlink:href="file:///etc/passwd"/>
            <image width="100" height="100" xlink:href="https://example.org/x.png"/>
        </svg>"##
            .to_vec();
        let out = render(
            &svg,
            "image/svg+xml",
            0,
            (220, 165),
            Format::Png,
            false,
            &LIMITS,
        )
        .unwrap();
        let img = decode(&out).to_rgba8();
        assert_eq!((img.width(), img.height()), (220, 165));
        assert_eq!(img.get_pixel(110, 80).0, [204, 0, 0, 255]);
        // A canvas larger than the memory allowed is refused before it is made.
        assert!(matches!(
            render(
                &svg,
                "image/svg+xml",
                0,
                (60_000, 60_000),
                Format::Png,
                false,
                &LIMITS
            ),
            Err(RenderError::TooLarge(_))
        ));
    }
}
