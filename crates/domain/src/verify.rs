//! Content verification of uploads (SPEC §7.1): the partial checks that also run on every
//! chunk, and the full checks on a complete file. A failure is a [`VerificationError`],
//! which the API reports as `verification-error` with `details = [key, params...]`.

use std::io;
use std::sync::OnceLock;

use regex::bytes::Regex;

pub use crate::verdict::VerificationError;

use crate::config::Config;
use crate::io::{read_full, read_head, Content, ContentReader};
use crate::mime::{
    ie_mime_types, is_matching_extension, is_recognizable_extension, mime_for_extension,
    mimes_for_extension, UNKNOWN_MIME,
};
use crate::props::FileProps;
use crate::svg::check_svg;
use crate::xml::{decode_one_reference, xml_encoding_mismatch};

fn is_excluded(mime: &str, cfg: &Config) -> bool {
    let mime = mime.to_lowercase();
    cfg.mime_type_exclusions
        .iter()
        .any(|e| e.to_lowercase() == mime)
}

/// Whether `ext` fits the (improved) MIME type, as the full checks require.
pub fn verify_extension(mime: &str, ext: &str) -> bool {
    if mime.is_empty() || mime == "unknown" || mime == UNKNOWN_MIME {
        return !is_recognizable_extension(ext);
    }
    match is_matching_extension(ext, mime) {
        None => mimes_for_extension(ext).is_empty(),
        Some(m) => m,
    }
}

/// Partial checks (SPEC §7.1 steps 2-5). `ext` is the final extension of the target name as
/// written (may be empty). Step 6, the virus scan, talks to a scanner over the network and
/// is the API layer's (`ingest::antivirus`), between these checks and [`verify_full`].
pub fn verify_partial(
    content: &dyn Content,
    ext: &str,
    file_mime: &str,
    cfg: &Config,
) -> io::Result<Result<(), VerificationError>> {
    if cfg.verify_mime_type {
        if is_excluded(file_mime, cfg) {
            return Ok(Err(VerificationError::new(
                "filetype-badmime",
                &[file_mime],
            )));
        }
        if cfg.verify_mime_type_ie {
            let chunk = read_head(content, 256)?;
            let proposed = mime_for_extension(ext).unwrap_or("");
            for t in ie_mime_types(&chunk, proposed) {
                if is_excluded(&t, cfg) {
                    return Ok(Err(VerificationError::new("filetype-bad-ie-mime", &[&t])));
                }
            }
        }
    }
    if !cfg.disable_upload_script_checks {
        if detect_script(content, file_mime, ext)? {
            return Ok(Err(VerificationError::new("uploadscripted", &[])));
        }
        if ext == "svg" || file_mime == "image/svg+xml" {
            if let Some(e) = check_svg(content, true)? {
                return Ok(Err(e));
            }
        }
    }
    Ok(Ok(()))
}

/// All checks but the virus scan (SPEC §7.1 steps 1-5 and 7-10) on a complete file:
/// [`verify_partial`], then [`verify_full`].
pub fn verify_file(
    content: &dyn Content,
    ext: &str,
    props: &FileProps,
    cfg: &Config,
) -> io::Result<Result<(), VerificationError>> {
    if let Err(e) = verify_partial(content, ext, &props.file_mime, cfg)? {
        return Ok(Err(e));
    }
    verify_full(content, ext, props, cfg)
}

/// The checks that only a complete file gets (SPEC §7.1 steps 7-10, then mwstore's image
/// area and raster structure checks), after the partial checks and the virus scan passed.
pub fn verify_full(
    content: &dyn Content,
    ext: &str,
    props: &FileProps,
    cfg: &Config,
) -> io::Result<Result<(), VerificationError>> {
    let started = std::time::Instant::now();
    if cfg.verify_mime_type && !ext.is_empty() && !verify_extension(&props.mime, ext) {
        return Ok(Err(VerificationError::new(
            "filetype-mime-mismatch",
            &[ext, &props.mime],
        )));
    }
    if !cfg.disable_upload_script_checks && (ext == "svg" || props.mime == "image/svg+xml") {
        if let Some(e) = check_svg(content, false)? {
            return Ok(Err(e));
        }
    }
    if let Err(e) = check_image_area(props, cfg) {
        return Ok(Err(e));
    }
    if let Err(e) = crate::raster::check_raster(content, &props.file_mime)? {
        return Ok(Err(e));
    }
    if let Err(e) = crate::container::check_container(content, &props.file_mime)? {
        return Ok(Err(e));
    }
    let limits = crate::decode::DecodeLimits {
        max_memory: cfg.max_decode_memory,
        deadline: started.checked_add(std::time::Duration::from_secs(cfg.verify_time_limit)),
        seconds: cfg.verify_time_limit,
    };
    if let Err(e) = crate::decode::check_pixels(content, &props.file_mime, &limits)? {
        return Ok(Err(e));
    }
    Ok(Ok(()))
}

/// The pixel-area policy: a raster image may not declare more than `max_image_area` pixels
/// (a vector drawing's size is only a number, so drawings are not held to it).
fn check_image_area(props: &FileProps, cfg: &Config) -> Result<(), VerificationError> {
    if props.media_type != "BITMAP" {
        return Ok(());
    }
    let area = u64::from(props.width) * u64::from(props.height);
    if area > cfg.max_image_area {
        return Err(VerificationError::new(
            "uploaded-image-area-too-large",
            &[
                &props.width.to_string(),
                &props.height.to_string(),
                &cfg.max_image_area.to_string(),
            ],
        ));
    }
    Ok(())
}

/// Size of the blocks text files are scanned in.
const SCAN_BLOCK: usize = 1 << 20;
/// Bytes kept from the previous block, so that matches across block edges are found.
const SCAN_OVERLAP: usize = 64 * 1024;
/// Longest run of white space kept (longer runs cannot change what the patterns match).
const MAX_WS_RUN: usize = 8;

fn is_pcre_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

/// Turns raw file bytes into the text the heuristics look at: lower-cased, UTF-16 folded to
/// ASCII when the file starts with a UTF-16 byte-order mark, runs of white space shortened.
struct ScriptScanText {
    utf16: Option<bool>,
    pending: Option<u8>,
    ws_run: usize,
}

impl ScriptScanText {
    fn push(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let emit = |b: u8, out: &mut Vec<u8>, ws_run: &mut usize| {
            if is_pcre_space(b) {
                *ws_run += 1;
                if *ws_run > MAX_WS_RUN {
                    return;
                }
            } else {
                *ws_run = 0;
            }
            out.push(b);
        };
        match self.utf16 {
            None => {
                for &b in raw {
                    emit(b.to_ascii_lowercase(), out, &mut self.ws_run);
                }
            }
            Some(big_endian) => {
                for &b in raw {
                    match self.pending.take() {
                        None => self.pending = Some(b),
                        Some(first) => {
                            let unit = if big_endian {
                                u16::from_be_bytes([first, b])
                            } else {
                                u16::from_le_bytes([first, b])
                            };
                            if let Ok(ascii) = u8::try_from(unit) {
                                if ascii < 128 {
                                    emit(ascii.to_ascii_lowercase(), out, &mut self.ws_run);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn script_regexes() -> Option<&'static [Regex; 5]> {
    static RES: OnceLock<Option<[Regex; 5]>> = OnceLock::new();
    RES.get_or_init(|| {
        Some([
            Regex::new(r"(?i-u)<!DOCTYPE *X?HTML").ok()?,
            Regex::new(r"(?-u)<body|<head|<html|<script").ok()?,
            Regex::new(r#"(?im-u)type\s*=\s*['"]?\s*(?:\w*/)?(?:ecma|java)"#).ok()?,
            Regex::new(r#"(?im-u)(?:href|src|data)\s*=\s*['"]?\s*(?:ecma|java)script:"#).ok()?,
            Regex::new(r#"(?im-u)url\s*\(\s*['"]?\s*(?:ecma|java)script:"#).ok()?,
        ])
    })
    .as_ref()
}

/// Decode HTML character references in bytes.
fn decode_refs_bytes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'&' {
            let end = text[i + 1..].iter().take(40).position(|b| *b == b';');
            if let Some(end) = end {
                if let Ok(body) = std::str::from_utf8(&text[i + 1..i + 1 + end + 1]) {
                    if let Some((c, used)) = decode_one_reference(body) {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += 1 + used;
                        continue;
                    }
                }
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Whether a scan window shows HTML or script (the doctype, tag and JavaScript patterns).
fn window_is_scripted(window: &[u8]) -> bool {
    let Some(res) = script_regexes() else {
        return true;
    };
    if res[0].is_match(window) || res[1].is_match(window) {
        return true;
    }
    let decoded = decode_refs_bytes(window);
    res[2].is_match(&decoded) || res[3].is_match(&decoded) || res[4].is_match(&decoded)
}

/// SPEC §7.1 step 4 (`detectScript`): heuristics for HTML or JavaScript that a browser
/// might act on. Text files (`mime` `text/*`) are scanned completely, in bounded windows;
/// other files only in their first KiB.
pub fn detect_script(content: &dyn Content, mime: &str, ext: &str) -> io::Result<bool> {
    let mut reader = ContentReader::new(content);
    let whole = mime.starts_with("text/");
    let first = {
        let mut b = vec![0u8; if whole { SCAN_BLOCK } else { 1024 }];
        let n = read_full(&mut reader, &mut b)?;
        b.truncate(n);
        b
    };
    // An empty (or "0") chunk is not checked at all.
    if first.is_empty() || first == b"0" {
        return Ok(false);
    }
    let utf16 = if first.starts_with(b"\xfe\xff") {
        Some(true)
    } else if first.starts_with(b"\xff\xfe") {
        Some(false)
    } else {
        None
    };
    let mut text = ScriptScanText {
        utf16,
        pending: None,
        ws_run: 0,
    };
    let mut window = Vec::with_capacity(SCAN_BLOCK + SCAN_OVERLAP);
    text.push(&first, &mut window);
    let mut scripted = window_is_scripted(&window);
    if whole {
        let mut block = vec![0u8; SCAN_BLOCK];
        while !scripted {
            let n = read_full(&mut reader, &mut block)?;
            if n == 0 {
                break;
            }
            let keep_from = window.len().saturating_sub(SCAN_OVERLAP);
            window.drain(..keep_from);
            text.push(&block[..n], &mut window);
            scripted = window_is_scripted(&window);
        }
    }
    if scripted {
        return Ok(true);
    }
    if ext == "svg" || mime.starts_with("image/svg") {
        return xml_encoding_mismatch(content);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props::file_props;

    /// Run the full verification of `bytes` uploaded with extension `ext`.
    fn verify(bytes: &[u8], ext: &str) -> Result<(), VerificationError> {
        let data = bytes.to_vec();
        let sha1 = {
            use sha1::Digest;
            hex::encode(sha1::Sha1::digest(&data))
        };
        let e = if ext.is_empty() { None } else { Some(ext) };
        let props = file_props(&data, e, data.len() as u64, &sha1).unwrap();
        verify_file(&data, ext, &props, &Config::default()).unwrap()
    }

    fn expect(bytes: &[u8], ext: &str, details: &[&str], info: &str) {
        let err = verify(bytes, ext).expect_err("verification should fail");
        assert_eq!(
            err.details(),
            details.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
        );
        assert_eq!(err.info(), info);
        assert_eq!(err.to_string(), info);
    }

    fn png_bytes() -> Vec<u8> {
        crate::props::tests::make_png(26, 26, 2, &[])
    }

    #[test]
    fn png_named_jpg() {
        expect(
            &png_bytes(),
            "jpg",
            &["filetype-mime-mismatch", "jpg", "image/png"],
            "File extension \".jpg\" does not match the detected MIME type of the file (image/png).",
        );
    }

    #[test]
    fn png_named_png_passes() {
        assert_eq!(verify(&png_bytes(), "png"), Ok(()));
        assert_eq!(verify(&png_bytes(), "PNG"), Ok(()));
    }

    #[test]
    fn mz_stub_named_exe() {
        let mut mz = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8".to_vec();
        mz.resize(128, 0);
        mz.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$");
        mz.resize(166, 0);
        expect(
            &mz,
            "exe",
            &["filetype-bad-ie-mime", "application/x-msdownload"],
            "Cannot upload this file because Internet Explorer would detect it as \"application/x-msdownload\", which is a disallowed and potentially dangerous file type.",
        );
    }

    #[test]
    fn php_named_php() {
        expect(
            b"<?php echo 'hello'; ?>\n",
            "php",
            &["filetype-badmime", "application/x-php"],
            "Files of the MIME type \"application/x-php\" are not allowed to be uploaded.",
        );
    }

    #[test]
    fn html_named_html() {
        // "<p>hi</p>" is well-formed XML with an unknown root: application/xml.
        expect(
            b"<p>hi</p>\n",
            "html",
            &["filetype-badmime", "application/xml"],
            "Files of the MIME type \"application/xml\" are not allowed to be uploaded.",
        );
    }

    #[test]
    fn html_named_png() {
        let html = b"<!DOCTYPE html>\n<html><head><title>not a png</title></head>\n<body><p>This is HTML, not an image.</p></body></html>\n";
        expect(
            html,
            "png",
            &["filetype-badmime", "text/html"],
            "Files of the MIME type \"text/html\" are not allowed to be uploaded.",
        );
        // Not well-formed HTML is recognised too (by the libmagic fallback).
        expect(
            b"<html><body><p>x</body>",
            "png",
            &["filetype-badmime", "text/html"],
            "Files of the MIME type \"text/html\" are not allowed to be uploaded.",
        );
    }

    #[test]
    fn garbage_named_png() {
        let garbage: Vec<u8> = (0..8).flat_map(|_| 0u8..=255).collect();
        expect(
            &garbage,
            "png",
            &["filetype-mime-mismatch", "png", "image/vnd.wap.wbmp"],
            "File extension \".png\" does not match the detected MIME type of the file (image/vnd.wap.wbmp).",
        );
    }

    #[test]
    fn svg_with_script() {
        let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\n<script type=\"text/javascript\">alert(1)</script>\n</svg>\n";
        expect(
            svg,
            "svg",
            &["uploadscripted"],
            "This file contains HTML or script code that may be erroneously interpreted by a web browser.",
        );
    }

    #[test]
    fn svg_with_onload() {
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\" onload=\"alert(1)\"><rect width=\"10\" height=\"10\"/></svg>\n";
        expect(
            svg,
            "svg",
            &["uploaded-event-handler-on-svg", "onload", "alert(1)"],
            "Setting event-handler attributes \"onload=\"alert(1)\"\" is not allowed in SVG files.",
        );
    }

    #[test]
    fn clean_svg_passes() {
        let svg = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"80\"><title>t</title><rect width=\"120\" height=\"80\"/></svg>\n";
        assert_eq!(verify(svg, "svg"), Ok(()));
    }

    #[test]
    fn svg_late_script_is_caught_by_the_filter() {
        let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec();
        svg.extend(std::iter::repeat_n(b' ', 4000));
        svg.extend_from_slice(b"<script>alert(1)</script></svg>");
        expect(
            &svg,
            "svg",
            &["uploaded-script-svg", "script"],
            "Found scriptable element \"script\" in the uploaded SVG file.",
        );
    }

    #[test]
    fn svg_utf7_declaration() {
        let svg = b"<?xml version=\"1.0\" encoding=\"UTF-7\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        expect(svg, "svg", &["uploadscripted"], "This file contains HTML or script code that may be erroneously interpreted by a web browser.");
    }

    #[test]
    fn malformed_svg() {
        // Not well-formed, but still recognised as SVG by the libmagic fallback; the
        // partial check tolerates it, the full check does not.
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><g></svg>";
        expect(
            svg,
            "svg",
            &["uploadinvalidxml"],
            "The XML in the uploaded file could not be parsed.",
        );
        let svg = b"<!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><svg xmlns=\"http://www.w3.org/2000/svg\">&x;</svg>";
        expect(
            svg,
            "svg",
            &["uploadinvalidxml"],
            "The XML in the uploaded file could not be parsed.",
        );
    }

    #[test]
    fn gif_with_html() {
        let mut gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
        gif.extend_from_slice(b"<html><body><script>alert(1)</script></body></html>");
        gif.extend_from_slice(
            b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        );
        expect(&gif, "gif", &["uploadscripted"], "This file contains HTML or script code that may be erroneously interpreted by a web browser.");
    }

    #[test]
    fn png_with_script_text_chunk() {
        let png = crate::props::tests::make_png(
            4,
            4,
            2,
            &[(b"tEXt", b"Comment\0<script>alert(1)</script>".to_vec())],
        );
        expect(
            &png,
            "png",
            &["filetype-bad-ie-mime", "text/html"],
            "Cannot upload this file because Internet Explorer would detect it as \"text/html\", which is a disallowed and potentially dangerous file type.",
        );
    }

    #[test]
    fn truncated_png_is_refused() {
        // MediaWiki accepts it; a file that stops inside a chunk is not the image it claims.
        let png = png_bytes();
        assert_eq!(
            verify(&png[..png.len() - 20], "png").map_err(|e| e.key),
            Err("uploaded-malformed-image".to_owned())
        );
    }

    #[test]
    fn clean_images_pass() {
        let jpeg = crate::props::tests::make_jpeg(64, 48, None, Some(b"hello"));
        assert_eq!(verify(&jpeg, "jpg"), Ok(()));
        assert_eq!(verify(&jpeg, "jpeg"), Ok(()));
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        assert_eq!(verify(gif, "gif"), Ok(()));
        let mut webp = Vec::new();
        image_webp::WebPEncoder::new(&mut webp)
            .encode(&[10, 20, 30, 40, 50, 60], 2, 1, image_webp::ColorType::Rgb8)
            .unwrap();
        assert_eq!(verify(&webp, "webp"), Ok(()));
        // A JPEG named .png is a mismatch the other way round.
        let err = verify(&jpeg, "png").unwrap_err();
        assert_eq!(
            err.details(),
            vec!["filetype-mime-mismatch", "png", "image/jpeg"]
        );
        // No extension: the extension check is skipped (the name check handles it).
        assert_eq!(verify(&png_bytes(), ""), Ok(()));
    }

    #[test]
    fn other_formats_a_wiki_may_allow() {
        use crate::container::tests as c;
        // Benign files pass, a PDF's JavaScript included.
        assert_eq!(verify(&c::pdf_file(100), "pdf"), Ok(()));
        assert_eq!(verify(&c::wav_file(8000), "wav"), Ok(()));
        assert_eq!(verify(&c::midi_file(), "mid"), Ok(()));
        assert_eq!(verify(&c::mp3_file(3), "mp3"), Ok(()));
        assert_eq!(verify(&c::ogg_file(), "opus"), Ok(()));
        assert_eq!(verify(&c::flac_file(), "flac"), Ok(()));
        assert_eq!(verify(&c::webm_file(), "webm"), Ok(()));
        let strips = c::tiff_strips();
        assert_eq!(verify(&strips, "tif"), Ok(()));
        // A PDF that is only its %PDF- line, a TIFF whose directory points past the end.
        expect(
            b"%PDF-1.4\n",
            "pdf",
            &[
                "uploaded-malformed-file",
                "PDF",
                "it has no %%EOF marker (the file may be truncated)",
            ],
            "This file is not a valid PDF file: it has no %%EOF marker (the file may be truncated).",
        );
        let mut past = strips.clone();
        past[4..8].copy_from_slice(&(strips.len() as u32 + 64).to_le_bytes());
        expect(
            &past,
            "tif",
            &[
                "uploaded-malformed-image",
                "TIFF",
                "an image directory (IFD) lies outside the file",
            ],
            "This file is not a valid TIFF image: an image directory (IFD) lies outside the file.",
        );
        let mut zipped = c::wav_file(100);
        zipped.extend_from_slice(b"PK\x03\x04rest of an archive");
        expect(
            &zipped,
            "wav",
            &["uploaded-data-after-file", "WAV", "a ZIP archive"],
            "This WAV file has a ZIP archive appended after its end.",
        );
    }

    #[test]
    fn plain_text_named_png() {
        expect(
            b"just some plain text\n",
            "png",
            &["filetype-mime-mismatch", "png", "text/plain"],
            "File extension \".png\" does not match the detected MIME type of the file (text/plain).",
        );
    }

    #[test]
    fn unknown_content_with_recognisable_extension() {
        let data = [0x01u8, 0xff, 0x10, 0x80, 0x7f, 0x02, 0x03];
        let err = verify(&data, "jpg").unwrap_err();
        assert_eq!(
            err.details(),
            vec!["filetype-mime-mismatch", "jpg", "unknown/unknown"]
        );
        // An extension nobody sniffs for passes.
        assert_eq!(verify(&data, "zzz"), Ok(()));
    }

    #[test]
    fn detect_script_rules() {
        let check = |b: &[u8], mime: &str| detect_script(&b, mime, "txt").unwrap();
        assert!(check(b"<!DOCTYPE   XHTML", "text/plain"));
        assert!(check(b"hello <BODY>", "text/plain"));
        assert!(check(b"x type = 'text/javascript'", "text/plain"));
        assert!(check(
            b"<a href=\"jav&#x61;script:alert(1)\">",
            "text/plain"
        ));
        assert!(check(b"background: url( 'javascript:x')", "text/plain"));
        assert!(!check(b"perfectly harmless text", "text/plain"));
        assert!(!check(b"", "text/plain"));
        assert!(!check(b"0", "text/plain"));
        // UTF-16 text is folded to ASCII first.
        let mut utf16 = vec![0xff, 0xfe];
        for u in "<Script>".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert!(check(&utf16, "text/plain"));
        // Binary files: only the first KiB counts.
        let mut bin = vec![0u8; 2048];
        bin.extend_from_slice(b"<script>");
        assert!(!check(&bin, "image/png"));
        assert!(check(&bin, "text/plain"));
        // Across a block edge in a big text file.
        let mut big = vec![b'a'; SCAN_BLOCK - 3];
        big.extend_from_slice(b"<script>");
        big.extend(vec![b'b'; 1000]);
        assert!(check(&big, "text/plain"));
        // Long runs of white space do not hide a pattern.
        let mut padded = b"type".to_vec();
        padded.extend(vec![b' '; 3 * SCAN_BLOCK]);
        padded.extend_from_slice(b"= 'javascript'");
        assert!(check(&padded, "text/plain"));
    }

    #[test]
    fn verify_extension_rules() {
        assert!(verify_extension("image/png", "png"));
        assert!(!verify_extension("image/png", "jpg"));
        assert!(!verify_extension("unknown/unknown", "png"));
        assert!(verify_extension("unknown/unknown", "zzz"));
        assert!(verify_extension("", "zzz"));
        assert!(!verify_extension("application/x-foo", "png"));
        assert!(verify_extension("application/x-foo", "zzz"));
    }

    #[test]
    fn config_switches() {
        let php = b"<?php echo 1; ?>";
        let props = file_props(php, Some("php"), 16, "x").unwrap();
        let cfg = Config {
            verify_mime_type: false,
            disable_upload_script_checks: true,
            ..Config::default()
        };
        assert_eq!(verify_file(php, "php", &props, &cfg).unwrap(), Ok(()));
    }
}
