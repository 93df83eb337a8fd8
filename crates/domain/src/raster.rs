//! What lies around the image data of PNG, GIF, JPEG and WebP files, which MediaWiki does not
//! look at: the file's structure is walked to its end (a file that stops early, has a bad
//! PNG chunk checksum, no image data or no pixels is not the image it claims to be); every
//! text chunk, comment and metadata segment is searched for HTML and script, not only the
//! first KiB; and whatever follows the format's end marker is refused when it holds an
//! archive, an executable, markup or script. A phone's Motion Photo (an MP4 after a JPEG's
//! end) is recognised and kept. The bytes are never changed.
//!
//! Pixel data is not decoded here: the walk reads each structure once, in time linear in
//! the file.

use std::io;
use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::io::Content;
use crate::verdict::VerificationError;

/// Bytes a compressed PNG text chunk may expand to (a zlib bomb in metadata).
const MAX_TEXT_BYTES: usize = 8 << 20;
/// Text chunks a PNG may carry (a flood of them is a metadata bomb).
const MAX_TEXT_CHUNKS: usize = 1024;
/// The best compression deflate can reach (runs of one byte value): no zlib stream is
/// shorter than its output divided by this.
const MAX_DEFLATE_RATIO: u128 = 1032;
/// Most pixels one byte of GIF image data can stand for: an LZW code (9 to 12 bits) expands
/// to at most 4096 pixels.
const LZW_MAX_PIXELS_PER_BYTE: u64 = 4096;
/// Most 8×8 blocks one byte of Huffman-coded JPEG data can stand for: every block of the
/// first scan that covers it costs at least one bit.
const JPEG_MAX_BLOCKS_PER_BYTE: u64 = 8;
/// Most pixels one byte of WebP data is allowed to stand for. VP8's arithmetic coder can
/// describe a flat canvas in next to nothing, but no real photograph or drawing comes near.
const WEBP_MAX_PIXELS_PER_BYTE: u64 = 65_536;
/// Decoded bytes above which a file must not expand more than [`BOMB_RATIO`]-fold.
const BOMB_MIN_BYTES: u128 = 256 << 20;
/// How much larger than its compressed data a large image may be when decoded. Photographs
/// expand 3 to 20 times, drawings and maps up to about a hundred; a decompression bomb is a
/// flat canvas expanding a thousandfold.
const BOMB_RATIO: u128 = 250;
/// Pixels any canvas may have whatever its data (a small sprite on a blank canvas is fine).
const FREE_PIXELS: u64 = 1 << 20;
/// Bytes read at once when scanning data after the end.
const BLOCK: usize = 1 << 20;
/// Bytes kept between blocks so that a signature across their edge is seen.
const OVERLAP: usize = 64;

fn malformed(format: &str, what: &str) -> VerificationError {
    VerificationError::new("uploaded-malformed-image", &[format, what])
}

fn markup(format: &str, place: &str) -> VerificationError {
    VerificationError::new("uploaded-markup-in-image", &[format, place])
}

/// HTML that a browser acts on, or script: tags that run, load or frame something, and
/// `javascript:` URLs. Ordinary text (`a < b`) and XMP packets (`<x:xmpmeta>`,
/// `<rdf:Description>`) do not match.
fn markup_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i-u)<\s*/?\s*(?:script|iframe|frame|frameset|svg|img|object|embed|applet|html|body|head|meta|link|style|form|input|button|base|math|video|audio|source|details|marquee|!doctype)[\s/>]|<a\s[^>]*href|(?:java|vb)script\s*:",
        )
        .ok()
    })
    .as_ref()
}

pub(crate) fn has_markup(bytes: &[u8]) -> bool {
    markup_regex().is_none_or(|re| re.is_match(bytes))
}

/// What an archive or executable starts with.
const FOREIGN: &[(&[u8], &str)] = &[
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x01\x02", "a ZIP archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b\x08", "a gzip archive"),
    (b"%PDF-", "a PDF document"),
    (b"\x7fELF", "an executable"),
    (b"MZ\x90\x00", "an executable"),
    (b"<?php", "PHP code"),
];

/// What is wrong with a region outside the image data, if anything.
pub(crate) fn foreign_in(bytes: &[u8]) -> Option<&'static str> {
    FOREIGN
        .iter()
        .find(|(sig, _)| memchr::memmem::find(bytes, sig).is_some())
        .map(|(_, what)| *what)
}

/// Whether `bytes` bytes of image data can describe a canvas of `pixels` pixels.
fn data_backs(pixels: u64, bytes: u64, per_byte: u64) -> bool {
    pixels <= FREE_PIXELS || pixels <= bytes.saturating_mul(per_byte)
}

/// Refuses an image of `decoded` bytes (once decoded) described by `compressed` bytes, when
/// it is large and expands like a decompression bomb.
fn bomb(format: &str, decoded: u128, compressed: u64) -> Result<(), VerificationError> {
    let compressed = u128::from(compressed.max(1));
    if decoded > BOMB_MIN_BYTES && decoded > compressed.saturating_mul(BOMB_RATIO) {
        return Err(VerificationError::new(
            "uploaded-decompression-bomb",
            &[
                format,
                &(decoded / compressed).to_string(),
                &decoded.to_string(),
            ],
        ));
    }
    Ok(())
}

fn too_little_data(format: &str) -> VerificationError {
    malformed(
        format,
        "its image data is far too short for the size it declares",
    )
}

/// Whether the bytes after a format's signature open a JavaScript comment, so that the
/// whole file also runs as a script (`GIF89a/*…*/=alert(1)`): a polyglot no real encoder
/// writes.
fn opens_script_comment(after_signature: &[u8]) -> bool {
    let trimmed: &[u8] = {
        let start = after_signature
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'=' | b';'))
            .unwrap_or(after_signature.len());
        &after_signature[start..]
    };
    trimmed.starts_with(b"/*") || trimmed.starts_with(b"//")
}

fn script_polyglot(format: &str) -> VerificationError {
    VerificationError::new("uploaded-script-polyglot", &[format])
}

/// `len` bytes at `offset`, or `None` when the file ends before them. Callers check `len`
/// against the file's length first: it is allocated as given.
pub(crate) fn read_at(
    content: &dyn Content,
    offset: u64,
    len: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = content.read_at(offset + done as u64, &mut buf[done..])?;
        if n == 0 {
            return Ok(None);
        }
        done += n;
    }
    Ok(Some(buf))
}

/// Checks the bytes from `end` to the end of the file.
fn check_trailer(
    content: &dyn Content,
    end: u64,
    format: &str,
) -> io::Result<Result<(), VerificationError>> {
    if format == "JPEG" && end < content.len() && is_mp4(content, end)? {
        // A Motion Photo / Live Photo video: kept as phones write it.
        return Ok(Ok(()));
    }
    check_region(
        content,
        end,
        content.len(),
        format,
        "uploaded-data-after-image",
        "data after the end of the image",
    )
}

/// Refuses an archive, an executable, markup or script in the bytes from `start` to `end`,
/// which are not part of the format's structure: `after_key` is the verdict for foreign
/// data (its parameters: the format and what was found), `place` says where markup was.
pub(crate) fn check_region(
    content: &dyn Content,
    start: u64,
    end: u64,
    format: &str,
    after_key: &str,
    place: &str,
) -> io::Result<Result<(), VerificationError>> {
    let end = end.min(content.len());
    let mut offset = start;
    let mut carry: Vec<u8> = Vec::new();
    while offset < end {
        let want = usize::try_from((end - offset).min(BLOCK as u64)).unwrap_or(BLOCK);
        let Some(block) = read_at(content, offset, want)? else {
            break;
        };
        let mut window = std::mem::take(&mut carry);
        window.extend_from_slice(&block);
        if let Some(what) = foreign_in(&window) {
            return Ok(Err(VerificationError::new(after_key, &[format, what])));
        }
        if has_markup(&window) {
            return Ok(Err(markup(format, place)));
        }
        carry = window[window.len().saturating_sub(OVERLAP)..].to_vec();
        offset += want as u64;
    }
    Ok(Ok(()))
}

/// Whether the bytes from `at` to the end are a chain of ISO media boxes starting with
/// `ftyp` (an MP4 video).
fn is_mp4(content: &dyn Content, at: u64) -> io::Result<bool> {
    let len = content.len();
    let mut pos = at;
    let mut first = true;
    while pos < len {
        let Some(head) = read_at(content, pos, 8)? else {
            return Ok(false);
        };
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = &head[4..8];
        if first && kind != b"ftyp" {
            return Ok(false);
        }
        if !kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Ok(false);
        }
        first = false;
        let size = match size32 {
            0 => len - pos,
            1 => match read_at(content, pos + 8, 8)? {
                Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                None => return Ok(false),
            },
            n => u64::from(n),
        };
        if size < 8 {
            return Ok(false);
        }
        pos = pos.saturating_add(size);
    }
    Ok(pos == len)
}

/// Checks a raster file of MIME type `mime` (other types pass).
pub fn check_raster(
    content: &dyn Content,
    mime: &str,
) -> io::Result<Result<(), VerificationError>> {
    match mime {
        "image/png" => png(content),
        "image/gif" => gif(content),
        "image/jpeg" => jpeg(content),
        "image/webp" => webp(content),
        _ => Ok(Ok(())),
    }
}

fn png(content: &dyn Content) -> io::Result<Result<(), VerificationError>> {
    const F: &str = "PNG";
    let len = content.len();
    let mut pos = 8u64;
    let mut first = true;
    let mut idat = false;
    let mut idat_bytes = 0u64;
    // The pixel bytes the header declares (filter bytes aside).
    let mut declared = 0u128;
    let mut bits_per_pixel = 0u128;
    // Bytes of an animation's frames (fcTL), decoded and compressed (fdAT).
    let mut frames_declared = 0u128;
    let mut frame_bytes = 0u64;
    let mut texts = 0usize;
    loop {
        let Some(head) = read_at(content, pos, 8)? else {
            return Ok(Err(malformed(F, "the file ends before its IEND chunk")));
        };
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        if size > 0x7fff_ffff || !kind.iter().all(u8::is_ascii_alphabetic) {
            return Ok(Err(malformed(F, "a chunk header is not valid")));
        }
        let data_end = pos + 8 + u64::from(size);
        if data_end + 4 > len {
            return Ok(Err(malformed(F, "the file ends inside a chunk")));
        }
        // Every chunk's checksum covers its type and data.
        let mut crc = crc32fast::Hasher::new();
        crc.update(&kind);
        let mut text: Option<Vec<u8>> = None;
        let keep = matches!(&kind, b"IHDR" | b"tEXt" | b"iTXt" | b"zTXt" | b"fcTL");
        let mut at = pos + 8;
        while at < data_end {
            let want = usize::try_from((data_end - at).min(BLOCK as u64)).unwrap_or(BLOCK);
            let Some(block) = read_at(content, at, want)? else {
                return Ok(Err(malformed(F, "the file ends inside a chunk")));
            };
            crc.update(&block);
            if keep {
                text.get_or_insert_with(Vec::new).extend_from_slice(&block);
            }
            at += want as u64;
        }
        let Some(stored) = read_at(content, data_end, 4)? else {
            return Ok(Err(malformed(F, "the file ends inside a chunk")));
        };
        if crc.finalize() != u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]) {
            let name = String::from_utf8_lossy(&kind).into_owned();
            return Ok(Err(malformed(
                F,
                &format!("the {name} chunk's checksum is wrong"),
            )));
        }
        let data = text.unwrap_or_default();
        if first {
            if &kind != b"IHDR" || data.len() != 13 {
                return Ok(Err(malformed(F, "it does not start with an IHDR chunk")));
            }
            let w = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let h = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            if w == 0 || h == 0 || w > 0x7fff_ffff || h > 0x7fff_ffff {
                return Ok(Err(malformed(
                    F,
                    "its width or height is 0 or out of range",
                )));
            }
            let (depth, color) = (data[8], data[9]);
            let ok = match color {
                0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
                3 => matches!(depth, 1 | 2 | 4 | 8),
                2 | 4 | 6 => matches!(depth, 8 | 16),
                _ => false,
            };
            if !ok || data[10] != 0 || data[11] != 0 || data[12] > 1 {
                return Ok(Err(malformed(
                    F,
                    "its IHDR chunk declares an invalid format",
                )));
            }
            let channels: u128 = match color {
                2 => 3,
                4 => 2,
                6 => 4,
                _ => 1,
            };
            bits_per_pixel = channels * u128::from(depth);
            let row_bits = u128::from(w) * bits_per_pixel;
            declared = u128::from(h) * row_bits.div_ceil(8);
            first = false;
        }
        match &kind {
            b"IDAT" => {
                idat = true;
                idat_bytes += u64::from(size);
            }
            b"fdAT" => frame_bytes += u64::from(size),
            b"fcTL" if data.len() >= 12 => {
                // An animation frame: its pixels are decoded too.
                let w = u128::from(u32::from_be_bytes([data[4], data[5], data[6], data[7]]));
                let h = u128::from(u32::from_be_bytes([data[8], data[9], data[10], data[11]]));
                frames_declared += h * (w * bits_per_pixel).div_ceil(8);
            }
            b"tEXt" | b"iTXt" | b"zTXt" => {
                texts += 1;
                if texts > MAX_TEXT_CHUNKS {
                    return Ok(Err(VerificationError::new(
                        "uploaded-metadata-flood",
                        &[F, &MAX_TEXT_CHUNKS.to_string()],
                    )));
                }
                let name = String::from_utf8_lossy(&kind).into_owned();
                if has_markup(&data) {
                    return Ok(Err(markup(F, &format!("a {name} chunk"))));
                }
                match expand_text(&kind, &data) {
                    Expanded::Text(text) if has_markup(&text) => {
                        return Ok(Err(markup(F, &format!("a compressed {name} chunk"))));
                    }
                    Expanded::TooLarge => {
                        return Ok(Err(VerificationError::new(
                            "uploaded-metadata-too-large",
                            &[F, &MAX_TEXT_BYTES.to_string()],
                        )));
                    }
                    _ => {}
                }
            }
            b"IEND" => {
                if !idat {
                    return Ok(Err(malformed(F, "it has no image data (IDAT)")));
                }
                // Deflate cannot compress better than 1032:1, so image data this short cannot
                // hold the canvas the header declares (a pixel bomb's absurd canvas).
                if u128::from(idat_bytes) * MAX_DEFLATE_RATIO < declared {
                    return Ok(Err(malformed(
                        F,
                        "its image data is too short for the size it declares",
                    )));
                }
                if let Err(e) = bomb(
                    F,
                    declared.saturating_add(frames_declared),
                    idat_bytes + frame_bytes,
                ) {
                    return Ok(Err(e));
                }
                return check_trailer(content, data_end + 4, F);
            }
            _ => {}
        }
        pos = data_end + 4;
    }
}

/// What a PNG text chunk's compressed text expands to.
enum Expanded {
    /// The chunk holds no compressed text (or text that does not inflate, which readers skip).
    None,
    Text(Vec<u8>),
    TooLarge,
}

/// Expands the text of a zTXt chunk, or of an iTXt chunk whose compression flag is set.
fn expand_text(kind: &[u8; 4], data: &[u8]) -> Expanded {
    let Some(nul) = memchr::memchr(0, data) else {
        return Expanded::None;
    };
    let rest = &data[nul + 1..];
    let compressed = match kind {
        b"zTXt" => rest.get(1..),
        b"iTXt" if rest.first() == Some(&1) => {
            // Flag, method, language tag, NUL, translated keyword, NUL, text.
            rest.get(2..).and_then(|r| {
                let lang = memchr::memchr(0, r)?;
                let r = &r[lang + 1..];
                let key = memchr::memchr(0, r)?;
                Some(&r[key + 1..])
            })
        }
        _ => None,
    };
    let Some(compressed) = compressed else {
        return Expanded::None;
    };
    match fdeflate::decompress_to_vec_bounded(compressed, MAX_TEXT_BYTES) {
        Ok(text) => Expanded::Text(text),
        Err(fdeflate::BoundedDecompressionError::OutputTooLarge { .. }) => Expanded::TooLarge,
        Err(_) => Expanded::None,
    }
}

fn gif(content: &dyn Content) -> io::Result<Result<(), VerificationError>> {
    const F: &str = "GIF";
    let Some(head) = read_at(content, 0, 13)? else {
        return Ok(Err(malformed(F, "the file ends inside its header")));
    };
    if &head[..6] != b"GIF87a" && &head[..6] != b"GIF89a" {
        return Ok(Err(malformed(F, "its header is not valid")));
    }
    if opens_script_comment(&head[6..]) {
        return Ok(Err(script_polyglot(F)));
    }
    let w = u16::from_le_bytes([head[6], head[7]]);
    let h = u16::from_le_bytes([head[8], head[9]]);
    if w == 0 || h == 0 {
        return Ok(Err(malformed(F, "its width or height is 0")));
    }
    let mut pos = 13u64;
    if head[10] & 0x80 != 0 {
        pos += 3 * (1u64 << ((head[10] & 7) + 1));
    }
    let mut images = 0usize;
    let mut image_bytes = 0u64;
    let mut pixels = 0u128;
    loop {
        let Some(b) = read_at(content, pos, 1)? else {
            return Ok(Err(malformed(F, "the file ends before its trailer")));
        };
        pos += 1;
        match b[0] {
            0x3b => {
                if images == 0 {
                    return Ok(Err(malformed(F, "it has no image")));
                }
                let canvas = u64::from(w) * u64::from(h);
                if !data_backs(canvas, image_bytes, LZW_MAX_PIXELS_PER_BYTE) {
                    return Ok(Err(too_little_data(F)));
                }
                if let Err(e) = bomb(F, pixels, image_bytes) {
                    return Ok(Err(e));
                }
                return check_trailer(content, pos, F);
            }
            0x21 => {
                let Some(label) = read_at(content, pos, 1)? else {
                    return Ok(Err(malformed(F, "the file ends inside an extension")));
                };
                pos += 1;
                let keep = matches!(label[0], 0xfe | 0x01 | 0xff);
                match sub_blocks(content, pos, keep)? {
                    Some((next, _, data)) => {
                        if has_markup(&data) {
                            return Ok(Err(markup(F, "an extension block (comment or text)")));
                        }
                        pos = next;
                    }
                    None => return Ok(Err(malformed(F, "the file ends inside an extension"))),
                }
            }
            0x2c => {
                let Some(d) = read_at(content, pos, 9)? else {
                    return Ok(Err(malformed(
                        F,
                        "the file ends inside an image descriptor",
                    )));
                };
                pos += 9;
                let frame = u64::from(u16::from_le_bytes([d[4], d[5]]))
                    * u64::from(u16::from_le_bytes([d[6], d[7]]));
                if d[8] & 0x80 != 0 {
                    pos += 3 * (1u64 << ((d[8] & 7) + 1));
                }
                let Some(code) = read_at(content, pos, 1)? else {
                    return Ok(Err(malformed(F, "the file ends inside an image")));
                };
                if !(1..=11).contains(&code[0]) {
                    return Ok(Err(malformed(F, "an image has an invalid LZW code size")));
                }
                pos += 1;
                match sub_blocks(content, pos, false)? {
                    Some((next, bytes, _)) => {
                        if !data_backs(frame, bytes, LZW_MAX_PIXELS_PER_BYTE) {
                            return Ok(Err(too_little_data(F)));
                        }
                        image_bytes += bytes;
                        pixels += u128::from(frame);
                        pos = next;
                    }
                    None => return Ok(Err(malformed(F, "the file ends inside an image"))),
                }
                images += 1;
            }
            _ => return Ok(Err(malformed(F, "a block has an unknown type"))),
        }
    }
}

/// Skips GIF data sub-blocks from `pos`; returns where they end (after the terminator) and,
/// when `keep`, their data.
fn sub_blocks(
    content: &dyn Content,
    mut pos: u64,
    keep: bool,
) -> io::Result<Option<(u64, u64, Vec<u8>)>> {
    let mut data = Vec::new();
    let mut total = 0u64;
    loop {
        let Some(n) = read_at(content, pos, 1)? else {
            return Ok(None);
        };
        pos += 1;
        let n = usize::from(n[0]);
        if n == 0 {
            return Ok(Some((pos, total, data)));
        }
        total += n as u64;
        if keep {
            match read_at(content, pos, n)? {
                Some(b) => data.extend_from_slice(&b),
                None => return Ok(None),
            }
        } else if pos + n as u64 > content.len() {
            return Ok(None);
        }
        pos += n as u64;
    }
}

fn jpeg(content: &dyn Content) -> io::Result<Result<(), VerificationError>> {
    const F: &str = "JPEG";
    let len = content.len();
    if read_at(content, 0, 2)?.as_deref() != Some(b"\xff\xd8") {
        return Ok(Err(malformed(F, "it does not start with SOI")));
    }
    let mut pos = 2u64;
    let (mut frame, mut scan) = (false, false);
    // 8×8 blocks of the frame, when its data is Huffman-coded (not arithmetic-coded).
    let mut huffman_blocks: Option<u64> = None;
    let mut samples = 0u128;
    let mut entropy_bytes = 0u64;
    loop {
        // A marker: 0xFF (fill bytes allowed), then its code.
        let Some(b) = read_at(content, pos, 2)? else {
            return Ok(Err(malformed(F, "the file ends before EOI")));
        };
        if b[0] != 0xff {
            return Ok(Err(malformed(F, "a marker was expected")));
        }
        let code = b[1];
        pos += 2;
        match code {
            0xff => {
                pos -= 1;
                continue;
            }
            0xd9 => {
                if !frame || !scan {
                    return Ok(Err(malformed(F, "it has no frame or no scan before EOI")));
                }
                if let Some(blocks) = huffman_blocks {
                    if blocks > entropy_bytes.saturating_mul(JPEG_MAX_BLOCKS_PER_BYTE) {
                        return Ok(Err(too_little_data(F)));
                    }
                }
                if let Err(e) = bomb(F, samples, entropy_bytes) {
                    return Ok(Err(e));
                }
                return check_trailer(content, pos, F);
            }
            0x01 | 0xd0..=0xd7 => continue,
            0xd8 | 0x00 => return Ok(Err(malformed(F, "a marker is not valid here"))),
            _ => {}
        }
        let Some(l) = read_at(content, pos, 2)? else {
            return Ok(Err(malformed(F, "the file ends inside a segment")));
        };
        let seg_len = u64::from(u16::from_be_bytes([l[0], l[1]]));
        if seg_len < 2 || pos + seg_len > len {
            return Ok(Err(malformed(F, "a segment runs past the end of the file")));
        }
        let body_at = pos + 2;
        let body_len = usize::try_from(seg_len - 2).unwrap_or(0);
        match code {
            0xc0..=0xcf if !matches!(code, 0xc4 | 0xc8 | 0xcc) => {
                let Some(sof) = read_at(content, body_at, body_len.min(6))? else {
                    return Ok(Err(malformed(F, "the file ends inside a segment")));
                };
                if sof.len() < 5 || u16::from_be_bytes([sof[3], sof[4]]) == 0 {
                    return Ok(Err(malformed(F, "its width is 0")));
                }
                let h = u64::from(u16::from_be_bytes([sof[1], sof[2]]));
                let w = u64::from(u16::from_be_bytes([sof[3], sof[4]]));
                // SOF9 to SOF15 are arithmetic-coded: no lower bound on their size.
                huffman_blocks = (code < 0xc9).then(|| w.div_ceil(8) * h.div_ceil(8));
                let components = read_at(content, body_at + 5, 1)?.map_or(1, |c| c[0]);
                samples = u128::from(w) * u128::from(h) * u128::from(components);
                frame = true;
            }
            0xe0..=0xef | 0xfe => {
                if let Some(body) = read_at(content, body_at, body_len)? {
                    if has_markup(&body) {
                        let place = if code == 0xfe {
                            "a comment".to_owned()
                        } else {
                            format!("an APP{} segment", code - 0xe0)
                        };
                        return Ok(Err(markup(F, &place)));
                    }
                }
            }
            _ => {}
        }
        pos += seg_len;
        if code == 0xda {
            if !frame {
                return Ok(Err(malformed(F, "a scan comes before its frame")));
            }
            scan = true;
            match skip_entropy(content, pos)? {
                Some(next) => {
                    entropy_bytes += next - pos;
                    pos = next;
                }
                None => return Ok(Err(malformed(F, "the file ends inside the image data"))),
            }
        }
    }
}

/// Skips entropy-coded data from `pos` to the next marker that is not a restart marker, a
/// fill byte or a stuffed zero; returns the marker's position.
fn skip_entropy(content: &dyn Content, mut pos: u64) -> io::Result<Option<u64>> {
    let len = content.len();
    while pos < len {
        let want = usize::try_from((len - pos).min(BLOCK as u64)).unwrap_or(BLOCK);
        let Some(block) = read_at(content, pos, want)? else {
            return Ok(None);
        };
        let mut i = 0;
        while let Some(p) = memchr::memchr(0xff, &block[i..]) {
            let at = i + p;
            let next = match block.get(at + 1) {
                Some(b) => *b,
                None => match read_at(content, pos + at as u64 + 1, 1)? {
                    Some(b) => b[0],
                    None => return Ok(None),
                },
            };
            match next {
                0x00 | 0xd0..=0xd7 | 0xff => i = at + 1,
                _ => return Ok(Some(pos + at as u64)),
            }
        }
        pos += want as u64;
    }
    Ok(None)
}

fn webp(content: &dyn Content) -> io::Result<Result<(), VerificationError>> {
    const F: &str = "WebP";
    let len = content.len();
    let Some(head) = read_at(content, 0, 12)? else {
        return Ok(Err(malformed(F, "the file ends inside its header")));
    };
    if &head[..4] != b"RIFF" || &head[8..12] != b"WEBP" {
        return Ok(Err(malformed(F, "its header is not valid")));
    }
    if opens_script_comment(&head[4..8]) {
        return Ok(Err(script_polyglot(F)));
    }
    let riff_end = 8 + u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    if riff_end > len {
        return Ok(Err(malformed(
            F,
            "the file is shorter than its header says",
        )));
    }
    let mut pos = 12u64;
    let mut image = false;
    let mut canvas = 0u64;
    let mut frames = 0u128;
    while pos + 8 <= riff_end {
        let Some(ch) = read_at(content, pos, 8)? else {
            return Ok(Err(malformed(F, "the file ends inside a chunk")));
        };
        let size = u64::from(u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]));
        let kind = [ch[0], ch[1], ch[2], ch[3]];
        let end = pos + 8 + size + (size & 1);
        if pos + 8 + size > riff_end {
            return Ok(Err(malformed(F, "a chunk runs past the end of the file")));
        }
        match &kind {
            b"VP8 " | b"VP8L" => {
                image = true;
                if canvas == 0 {
                    if let Some(b) = read_at(content, pos + 8, 10)? {
                        canvas = if &kind == b"VP8 " {
                            u64::from(u16::from_le_bytes([b[6], b[7]]) & 0x3fff)
                                * u64::from(u16::from_le_bytes([b[8], b[9]]) & 0x3fff)
                        } else {
                            let bits = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
                            u64::from((bits & 0x3fff) + 1) * u64::from(((bits >> 14) & 0x3fff) + 1)
                        };
                    }
                }
            }
            b"ANMF" => {
                image = true;
                frames += 1;
            }
            b"VP8X" => {
                if let Some(x) = read_at(content, pos + 8, 10)? {
                    let w = 1 + u32::from_le_bytes([x[4], x[5], x[6], 0]);
                    let h = 1 + u32::from_le_bytes([x[7], x[8], x[9], 0]);
                    canvas = u64::from(w) * u64::from(h);
                    if canvas > 1 << 32 {
                        return Ok(Err(malformed(F, "its canvas is out of range")));
                    }
                }
            }
            b"EXIF" | b"XMP " => {
                let n = usize::try_from(size).unwrap_or(0);
                if let Some(body) = read_at(content, pos + 8, n)? {
                    if has_markup(&body) {
                        return Ok(Err(markup(F, "a metadata chunk")));
                    }
                }
            }
            _ => {}
        }
        pos = end;
    }
    if !image {
        return Ok(Err(malformed(F, "it has no image data")));
    }
    if !data_backs(canvas, riff_end, WEBP_MAX_PIXELS_PER_BYTE) {
        return Ok(Err(too_little_data(F)));
    }
    // Each animation frame is decoded onto the whole canvas.
    if let Err(e) = bomb(F, u128::from(canvas) * 4 * frames.max(1), riff_end) {
        return Ok(Err(e));
    }
    check_trailer(content, riff_end, F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(kind);
        h.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&h.finalize().to_be_bytes());
    }

    fn png_with(extra: &[(&[u8], &[u8])], after: &[u8]) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        for (k, d) in extra {
            chunk(&mut out, k, d);
        }
        chunk(
            &mut out,
            b"IDAT",
            &[0x78, 1, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 1],
        );
        chunk(&mut out, b"IEND", &[]);
        out.extend_from_slice(after);
        out
    }

    fn key(bytes: &[u8], mime: &str) -> Option<String> {
        check_raster(&bytes, mime).unwrap().err().map(|e| e.key)
    }

    /// An animated PNG of 1000 × 1000 with `frames` frames of `frame_data` bytes each.
    fn apng(frames: u32, frame_data: usize) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = 1000u32.to_be_bytes().repeat(2);
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        let mut actl = frames.to_be_bytes().to_vec();
        actl.extend_from_slice(&0u32.to_be_bytes());
        chunk(&mut out, b"acTL", &actl);
        chunk(&mut out, b"IDAT", &vec![0; 3000]);
        for n in 0..frames {
            let mut fctl = (2 * n).to_be_bytes().to_vec();
            fctl.extend_from_slice(&1000u32.to_be_bytes().repeat(2));
            fctl.extend_from_slice(&[0; 12]);
            chunk(&mut out, b"fcTL", &fctl);
            let mut fdat = (2 * n + 1).to_be_bytes().to_vec();
            fdat.extend(std::iter::repeat_n(0, frame_data));
            chunk(&mut out, b"fdAT", &fdat);
        }
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn animation_frames_count_towards_the_bomb_ratio() {
        // 100 frames of 3 MB each from 3 KB each: a thousandfold over 300 MB.
        assert_eq!(
            key(&apng(100, 3000), "image/png").as_deref(),
            Some("uploaded-decompression-bomb")
        );
        // Ten frames stay under the size where the ratio matters.
        assert_eq!(key(&apng(10, 3000), "image/png"), None);
        // As many frames whose data is substantial are fine.
        assert_eq!(key(&apng(100, 100_000), "image/png"), None);
    }

    #[test]
    fn script_polyglot_headers() {
        let mut gif = b"GIF89a/*\x01\x00\x80\x00\x00".to_vec();
        gif.extend_from_slice(
            b"\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        );
        gif.extend_from_slice(b"*/=alert(1)//");
        assert_eq!(
            key(&gif, "image/gif").as_deref(),
            Some("uploaded-script-polyglot")
        );
        assert!(opens_script_comment(b"=/*xx"));
        assert!(opens_script_comment(b"//xx"));
        assert!(!opens_script_comment(b"\x01\x00\x01\x00"));
    }

    #[test]
    fn png_structure_text_and_trailers() {
        assert_eq!(key(&png_with(&[], b""), "image/png"), None);
        let ordinary: &[(&[u8], &[u8])] = &[(b"tEXt", b"Comment\0a < b and b > c")];
        assert_eq!(key(&png_with(ordinary, b""), "image/png"), None);
        let padded = format!("Comment\0{}<script>alert(1)</script>", "x".repeat(4096));
        let scripted: &[(&[u8], &[u8])] = &[(b"tEXt", padded.as_bytes())];
        assert_eq!(
            key(&png_with(scripted, b""), "image/png").as_deref(),
            Some("uploaded-markup-in-image")
        );
        let iframe: &[(&[u8], &[u8])] = &[(b"iTXt", b"Title\0\0\0\0\0<iframe srcdoc=x>")];
        assert_eq!(
            key(&png_with(iframe, b""), "image/png").as_deref(),
            Some("uploaded-markup-in-image")
        );
        let mut zip = b"junk".to_vec();
        zip.extend_from_slice(b"PK\x03\x04rest of an archive");
        assert_eq!(
            key(&png_with(&[], &zip), "image/png").as_deref(),
            Some("uploaded-data-after-image")
        );
        assert_eq!(key(&png_with(&[], b"\0\0\0\0"), "image/png"), None);
        let mut bad_crc = png_with(&[], b"");
        bad_crc[29] ^= 1;
        assert_eq!(
            key(&bad_crc, "image/png").as_deref(),
            Some("uploaded-malformed-image")
        );
        // 1×1 RGB with 11 bytes of image data is fine; 2000×2000 with the same is not.
        let mut bomb = png_with(&[], b"");
        bomb[16..24].copy_from_slice(&[0, 0, 0x07, 0xd0, 0, 0, 0x07, 0xd0]);
        let crc = crc32fast::hash(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            check_raster(&bomb.as_slice(), "image/png")
                .unwrap()
                .err()
                .map(|e| e.params[1].clone())
                .as_deref(),
            Some("its image data is too short for the size it declares")
        );
        let full = png_with(&[], b"");
        let truncated = &full[..full.len() - 12];
        assert_eq!(
            key(truncated, "image/png").as_deref(),
            Some("uploaded-malformed-image")
        );
    }

    #[test]
    fn jpeg_structure_and_trailers() {
        let mut j = b"\xff\xd8".to_vec();
        j.extend_from_slice(b"\xff\xfe\x00\x08a < b!");
        j.extend_from_slice(b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00");
        j.extend_from_slice(b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00");
        j.extend_from_slice(b"\x12\xff\x00\x34\xff\xd0\x56");
        j.extend_from_slice(b"\xff\xd9");
        assert_eq!(key(&j, "image/jpeg"), None);
        let mut html = j.clone();
        html.extend_from_slice(&vec![b' '; 2048]);
        html.extend_from_slice(b"<html><body>hi</body></html>");
        assert_eq!(
            key(&html, "image/jpeg").as_deref(),
            Some("uploaded-markup-in-image")
        );
        let mut motion = j.clone();
        motion.extend_from_slice(b"\x00\x00\x00\x10ftypmp42\x00\x00\x00\x00");
        motion.extend_from_slice(b"\x00\x00\x00\x0cmdatPK\x03\x04");
        assert_eq!(key(&motion, "image/jpeg"), None);
        assert_eq!(
            key(b"\xff\xd8\xff\xd9", "image/jpeg").as_deref(),
            Some("uploaded-malformed-image")
        );
        assert_eq!(
            key(&j[..j.len() - 2], "image/jpeg").as_deref(),
            Some("uploaded-malformed-image")
        );
    }

    #[test]
    fn gif_structure_and_comments() {
        let mut g = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        g.extend_from_slice(b"\x21\xfe\x05a < b\x00");
        g.extend_from_slice(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00");
        g.push(0x3b);
        assert_eq!(key(&g, "image/gif"), None);
        let mut scripted = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        scripted.extend_from_slice(b"\x21\xfe\x0d<script>x</a>\x00");
        scripted.extend_from_slice(&g[22..]);
        assert_eq!(
            key(&scripted, "image/gif").as_deref(),
            Some("uploaded-markup-in-image")
        );
        assert_eq!(
            key(b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "image/gif").as_deref(),
            Some("uploaded-malformed-image")
        );
    }
}
