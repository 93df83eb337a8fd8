//! File properties as MediaWiki computes them for an upload (`MWFileProps`): the MIME
//! types, the media type, and what the media handler finds (width, height, bit depth and
//! the `metadata` / `commonmetadata` lists of `imageinfo`, SPEC §3.13 and §9.1).
//!
//! Handlers exist for PNG, GIF, JPEG (EXIF and comments), WebP, TIFF (EXIF), BMP, XCF and
//! SVG, like MediaWiki core. Files are read in a streaming way; nothing large is held in
//! memory.

use std::io::{self, BufReader, Seek, SeekFrom};

use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use crate::io::{read_full, read_head, Content, ContentReader};
use crate::mime::{
    improve_from_extension, media_type_for_content, sniff, split_mime, storable_major_mime,
};
use crate::php::{cp1252_char, php_trim, php_trim_bytes};
use crate::svg::read_svg_info;

/// Properties of a file, as stored with an upload and shown in `imageinfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProps {
    /// Size in bytes.
    pub size: u64,
    /// SHA-1 of the content, 40 hex digits.
    pub sha1: String,
    /// The MIME type from the content alone (`file-mime`).
    pub file_mime: String,
    /// The MIME type improved by the extension (`mime`).
    pub mime: String,
    /// Major part of `mime` as stored (`unknown` for unusual major types).
    pub major_mime: String,
    /// Minor part of `mime`.
    pub minor_mime: String,
    /// `BITMAP`, `DRAWING`, `AUDIO`, `VIDEO`, `MULTIMEDIA`, `OFFICE`, `TEXT`, `EXECUTABLE`,
    /// `ARCHIVE`, `3D` or `UNKNOWN`.
    pub media_type: String,
    /// Width in pixels (0 when unknown).
    pub width: u32,
    /// Height in pixels (0 when unknown).
    pub height: u32,
    /// Bit depth (`bitdepth`; 0 when unknown).
    pub bits: u32,
    /// Page count of multi-page documents (no core handler is multi-page: always `None`).
    pub page_count: Option<u32>,
    /// `imageinfo.metadata`: a list of `{name, value}` (values nested the same way), or
    /// `null` when there is none.
    pub metadata: Value,
    /// `imageinfo.commonmetadata`: a list of `{name, value}`, `[]` when empty.
    pub common_metadata: Value,
}

/// Compute the properties of `content` whose size and SHA-1 (hex) are already known.
/// `ext` is the final extension of the destination name.
pub fn file_props(
    content: &dyn Content,
    ext: Option<&str>,
    size: u64,
    sha1_hex: &str,
) -> io::Result<FileProps> {
    let file_mime = sniff(content)?;
    let mime = improve_from_extension(&file_mime, ext.unwrap_or(""));
    let (major, minor) = split_mime(&mime);
    let media_type = media_type_for_content(content, &mime, ext)?;
    let info = handler_info(content, &mime)?;
    Ok(FileProps {
        size,
        sha1: sha1_hex.to_owned(),
        file_mime,
        mime: mime.clone(),
        major_mime: storable_major_mime(&major).to_owned(),
        minor_mime: minor,
        media_type: media_type.to_owned(),
        width: info.width,
        height: info.height,
        bits: info.bits,
        page_count: None,
        metadata: if info.metadata.is_empty() {
            Value::Null
        } else {
            to_api(&info.metadata)
        },
        common_metadata: to_api(&info.common),
    })
}

/// Convert stored (`latest`) metadata to what `prop=imageinfo` shows for
/// `iimetadataversion=version`: for version 1, EXIF metadata (JPEG, TIFF) has its lists
/// flattened to strings and `MEDIAWIKI_EXIF_VERSION` set to 1; everything else is
/// returned unchanged.
pub fn metadata_for_version(metadata: &Value, version: &str) -> Value {
    let digits: String = version
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let Ok(v) = digits.parse::<u32>() else {
        return metadata.clone();
    };
    if v != 1 {
        return metadata.clone();
    }
    let Some(list) = metadata.as_array() else {
        return metadata.clone();
    };
    let is_v2 = list
        .iter()
        .any(|e| e["name"] == "MEDIAWIKI_EXIF_VERSION" && e["value"] == 2);
    if !is_v2 {
        return metadata.clone();
    }
    let out: Vec<Value> = list
        .iter()
        .map(|e| {
            let name = e["name"].clone();
            let value = if name == "MEDIAWIKI_EXIF_VERSION" {
                json!(1)
            } else {
                match &e["value"] {
                    Value::Array(items) => flatten_list(items, "ul"),
                    other => other.clone(),
                }
            };
            json!({"name": name, "value": value})
        })
        .collect();
    Value::Array(out)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "1".into(),
        Value::Bool(false) | Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Flatten a `{name, value}` list the way MediaWiki's metadata formatter does without HTML.
fn flatten_list(items: &[Value], default_type: &str) -> Value {
    let mut ty = default_type.to_owned();
    let mut vals: Vec<(Value, Value)> = Vec::new();
    for it in items {
        if it["name"] == "_type" {
            ty = scalar_text(&it["value"]);
        } else {
            vals.push((it["name"].clone(), it["value"].clone()));
        }
    }
    if vals.len() == 1 && ty != "lang" && vals[0].0 == json!(0) {
        return vals[0].1.clone();
    }
    if vals.is_empty() {
        return json!("");
    }
    let texts: Vec<String> = vals.iter().map(|(_, v)| scalar_text(v)).collect();
    match ty.as_str() {
        "lang" => {
            let default = vals
                .iter()
                .find(|(k, _)| *k == json!("x-default"))
                .map(|(_, v)| v.clone());
            default.unwrap_or_else(|| vals[0].1.clone())
        }
        "ol" => json!(format!("\n#{}", texts.join("\n#"))),
        _ => json!(format!("\n*{}", texts.join("\n*"))),
    }
}

// ---------------------------------------------------------------------------------------
// Metadata trees
// ---------------------------------------------------------------------------------------

/// A key of a metadata map (PHP arrays have integer and string keys).
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i64),
    Str(String),
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::Str(s.to_owned())
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
enum Meta {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Map(Vec<(Key, Meta)>),
}

type MetaMap = Vec<(Key, Meta)>;

fn num(f: f64) -> Value {
    // PHP's JSON encoder writes integral floats without a fraction.
    if f.fract() == 0.0 && f.abs() < 1e15 {
        json!(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn to_api(map: &[(Key, Meta)]) -> Value {
    Value::Array(
        map.iter()
            .map(|(k, v)| {
                let name = match k {
                    Key::Int(i) => json!(i),
                    Key::Str(s) => json!(s),
                };
                let value = match v {
                    Meta::Int(i) => json!(i),
                    Meta::Float(f) => num(*f),
                    Meta::Str(s) => json!(s),
                    Meta::Bool(b) => json!(b),
                    Meta::Map(m) => to_api(m),
                };
                json!({"name": name, "value": value})
            })
            .collect(),
    )
}

fn set(map: &mut MetaMap, key: &str, value: Meta) {
    match map.iter_mut().find(|(k, _)| *k == Key::from(key)) {
        Some(entry) => entry.1 = value,
        None => map.push((Key::from(key), value)),
    }
}

fn get<'a>(map: &'a MetaMap, key: &str) -> Option<&'a Meta> {
    map.iter()
        .find(|(k, _)| *k == Key::from(key))
        .map(|(_, v)| v)
}

fn remove(map: &mut MetaMap, key: &str) -> Option<Meta> {
    let pos = map.iter().position(|(k, _)| *k == Key::from(key))?;
    Some(map.remove(pos).1)
}

/// What a media handler reports.
#[derive(Debug, Default)]
struct HandlerInfo {
    width: u32,
    height: u32,
    bits: u32,
    metadata: MetaMap,
    common: MetaMap,
}

fn handler_info(content: &dyn Content, mime: &str) -> io::Result<HandlerInfo> {
    match mime {
        "image/png" => png_info(content),
        "image/gif" => gif_info(content),
        "image/jpeg" => jpeg_info(content),
        "image/webp" => webp_info(content),
        "image/tiff" => tiff_info(content),
        "image/x-bmp" | "image/x-ms-bmp" => bmp_info(content),
        "image/x-xcf" => xcf_info(content),
        "image/svg+xml" | "image/svg" => svg_info(content),
        _ => Ok(HandlerInfo::default()),
    }
}

/// Reads with a position, failing on short reads like MediaWiki's extractors do.
struct Input<'a> {
    r: BufReader<ContentReader<'a>>,
    pos: u64,
    size: u64,
}

/// A read past the end of the data (the file is broken).
#[derive(Debug)]
enum ReadFail {
    Broken,
    Io(io::Error),
}

impl From<io::Error> for ReadFail {
    fn from(e: io::Error) -> Self {
        ReadFail::Io(e)
    }
}

impl<'a> Input<'a> {
    fn open(content: &'a dyn Content) -> io::Result<Input<'a>> {
        let size = content.len();
        Ok(Input {
            r: BufReader::with_capacity(65536, ContentReader::new(content)),
            pos: 0,
            size,
        })
    }

    fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    fn read(&mut self, n: usize) -> Result<Vec<u8>, ReadFail> {
        if (n as u64) > self.remaining() {
            return Err(ReadFail::Broken);
        }
        let mut buf = vec![0u8; n];
        let got = read_full(&mut self.r, &mut buf)?;
        self.pos += got as u64;
        if got < n {
            return Err(ReadFail::Broken);
        }
        Ok(buf)
    }

    /// Like `fread`: up to `n` bytes, fewer at the end.
    fn read_upto(&mut self, n: usize) -> Result<Vec<u8>, ReadFail> {
        let n = n.min(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
        let mut buf = vec![0u8; n];
        let got = read_full(&mut self.r, &mut buf)?;
        buf.truncate(got);
        self.pos += got as u64;
        Ok(buf)
    }

    fn byte(&mut self) -> Result<Option<u8>, ReadFail> {
        Ok(self.read_upto(1)?.first().copied())
    }

    fn skip(&mut self, n: u64) -> Result<(), ReadFail> {
        if n > self.remaining() {
            return Err(ReadFail::Broken);
        }
        self.r
            .seek_relative(i64::try_from(n).map_err(|_| ReadFail::Broken)?)?;
        self.pos += n;
        Ok(())
    }

    /// Move like `fseek` (may go past the end).
    fn seek_to(&mut self, pos: u64) -> Result<(), ReadFail> {
        self.r.seek(SeekFrom::Start(pos))?;
        self.pos = pos;
        Ok(())
    }
}

fn u16be(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn u32be(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
fn u16le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn u32le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// CRC-32 (IEEE), as used by PNG chunks.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, slot) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

/// Whether `s` is valid UTF-8 already in NFC (what MediaWiki keeps as is).
fn utf8_nfc(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?;
    (s.nfc().collect::<String>() == s).then(|| s.to_owned())
}

/// UTF-8 if valid (and NFC), else Windows-1252 (undefined bytes dropped).
fn utf8_or_cp1252(bytes: &[u8]) -> String {
    utf8_nfc(bytes).unwrap_or_else(|| bytes.iter().filter_map(|b| cp1252_char(*b)).collect())
}

// ---------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_MAX_CHUNK: u32 = 3 * 1024 * 1024;

fn png_text_keyword(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "xml:com.adobe.xmp" => "xmp",
        "artist" | "author" => "Artist",
        "model" | "source" => "Model",
        "make" => "Make",
        "comment" => "PNGFileComment",
        "description" => "ImageDescription",
        "title" => "ObjectName",
        "copyright" => "Copyright",
        "software" => "Software",
        "disclaimer" => "Disclaimer",
        "warning" => "ContentWarning",
        "url" => "Identifier",
        "label" => "Label",
        "creation time" => "DateTimeDigitized",
        _ => return None,
    })
}

fn add_lang_text(text: &mut MetaMap, keyword: &str, lang: &str, content: String) {
    let entry = match text.iter_mut().find(|(k, _)| *k == Key::from(keyword)) {
        Some((_, Meta::Map(m))) => m,
        Some(e) => {
            e.1 = Meta::Map(Vec::new());
            match &mut e.1 {
                Meta::Map(m) => m,
                _ => return,
            }
        }
        None => {
            text.push((Key::from(keyword), Meta::Map(Vec::new())));
            match text.last_mut() {
                Some((_, Meta::Map(m))) => m,
                _ => return,
            }
        }
    };
    set(entry, lang, Meta::Str(content));
    set(entry, "_type", Meta::Str("lang".into()));
}

fn exif_timestamp(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<String> {
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
    let dt = date.and_hms_opt(h, mi, s)?;
    Some(dt.format("%Y:%m:%d %H:%M:%S").to_string())
}

struct PngData {
    width: u32,
    height: u32,
    frame_count: u32,
    loop_count: u32,
    duration: f64,
    text: MetaMap,
    bit_depth: u32,
    color_type: &'static str,
}

fn png_extract(content: &dyn Content) -> Result<PngData, ReadFail> {
    let mut input = Input::open(content)?;
    if input.read(8)? != PNG_SIG {
        return Err(ReadFail::Broken);
    }
    let mut d = PngData {
        width: 0,
        height: 0,
        frame_count: 0,
        loop_count: 1,
        duration: 0.0,
        text: Vec::new(),
        bit_depth: 0,
        color_type: "unknown",
    };
    const INTERESTING: &[&[u8]] = &[
        b"IHDR", b"acTL", b"fcTL", b"iTXt", b"tEXt", b"zTXt", b"tIME", b"pHYs", b"IEND",
    ];
    let mut text_bytes = 0usize;
    loop {
        let len = u32be(&input.read(4)?);
        if len > PNG_MAX_CHUNK {
            break;
        }
        let kind = input.read(4)?;
        if !INTERESTING.contains(&kind.as_slice()) {
            input.skip(u64::from(len) + 4)?;
            continue;
        }
        let buf = input.read(len as usize)?;
        let crc = input.read(4)?;
        let mut crc_data = kind.clone();
        crc_data.extend_from_slice(&buf);
        if crc32(&crc_data).to_be_bytes() != crc.as_slice() {
            continue;
        }
        match kind.as_slice() {
            b"IHDR" if buf.len() >= 10 => {
                d.width = u32be(&buf[0..4]);
                d.height = u32be(&buf[4..8]);
                d.bit_depth = u32::from(buf[8]);
                d.color_type = match buf[9] {
                    0 => "greyscale",
                    2 => "truecolour",
                    3 => "index-coloured",
                    4 => "greyscale-alpha",
                    6 => "truecolour-alpha",
                    _ => "unknown",
                };
            }
            b"acTL" if buf.len() >= 8 => {
                d.frame_count = u32be(&buf[0..4]);
                d.loop_count = u32be(&buf[4..8]);
            }
            b"fcTL" if buf.len() >= 24 => {
                let num = u16be(&buf[20..22]);
                let mut den = u16be(&buf[22..24]);
                if den == 0 {
                    den = 100;
                }
                if num != 0 {
                    d.duration += f64::from(num) / f64::from(den);
                }
            }
            b"iTXt" | b"tEXt" if text_bytes >= MAX_TEXT_BYTES => {}
            b"iTXt" => {
                text_bytes += buf.len();
                // keyword \0 compression-flag compression-method lang \0 translated \0 text
                let Some(k_end) = buf
                    .iter()
                    .position(|b| *b == 0)
                    .filter(|p| (1..=79).contains(p))
                else {
                    continue;
                };
                let rest = &buf[k_end + 1..];
                if rest.len() < 2 || rest[0] > 1 {
                    continue;
                }
                if rest[0] == 1 {
                    // Compressed text: not decoded here.
                    continue;
                }
                let after = &rest[2..];
                let Some(l_end) = after.iter().position(|b| *b == 0) else {
                    continue;
                };
                let lang = &after[..l_end];
                let after = &after[l_end + 1..];
                let Some(t_end) = after.iter().position(|b| *b == 0) else {
                    continue;
                };
                let content = &after[t_end + 1..];
                let keyword = String::from_utf8_lossy(&buf[..k_end]).to_ascii_lowercase();
                let Some(final_kw) = png_text_keyword(&keyword) else {
                    continue;
                };
                let mut lang = String::from_utf8_lossy(lang).to_ascii_lowercase();
                if lang.is_empty() {
                    lang = "x-default".into();
                }
                add_lang_text(
                    &mut d.text,
                    final_kw,
                    &lang,
                    String::from_utf8_lossy(content).into_owned(),
                );
            }
            b"tEXt" => {
                text_bytes += buf.len();
                let Some(k_end) = buf.iter().position(|b| *b == 0) else {
                    continue;
                };
                if k_end == 0 {
                    continue;
                }
                let keyword = String::from_utf8_lossy(&buf[..k_end]).to_ascii_lowercase();
                let Some(final_kw) = png_text_keyword(&keyword) else {
                    continue;
                };
                let content: String = buf[k_end + 1..].iter().map(|b| char::from(*b)).collect();
                add_lang_text(&mut d.text, final_kw, "x-default", content);
            }
            b"tIME" if len == 7 => {
                let t = exif_timestamp(
                    u32::from(u16be(&buf[0..2])),
                    u32::from(buf[2]),
                    u32::from(buf[3]),
                    u32::from(buf[4]),
                    u32::from(buf[5]),
                    u32::from(buf[6]),
                );
                if let Some(t) = t {
                    set(&mut d.text, "DateTime", Meta::Str(t));
                }
            }
            b"pHYs" if len == 9 => {
                let (w, h) = (u32be(&buf[0..4]), u32be(&buf[4..8]));
                if buf[8] == 1 && w > 0 && h > 0 && w <= i32::MAX as u32 && h <= i32::MAX as u32 {
                    set(&mut d.text, "XResolution", Meta::Str(format!("{w}/100")));
                    set(&mut d.text, "YResolution", Meta::Str(format!("{h}/100")));
                    set(&mut d.text, "ResolutionUnit", Meta::Int(3));
                }
            }
            b"IEND" => break,
            _ => {}
        }
    }
    if d.loop_count > 1 {
        d.duration *= f64::from(d.loop_count);
    }
    if let Some((_, Meta::Map(values))) = d
        .text
        .iter_mut()
        .find(|(k, _)| *k == Key::from("DateTimeDigitized"))
    {
        for (k, v) in values.iter_mut() {
            if *k == Key::from("_type") {
                continue;
            }
            if let Meta::Str(s) = v {
                if let Ok(t) = chrono::DateTime::parse_from_rfc2822(s) {
                    *s = t
                        .with_timezone(&chrono::Utc)
                        .format("%Y:%m:%d %H:%M:%S")
                        .to_string();
                }
            }
        }
    }
    Ok(d)
}

fn png_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let d = match png_extract(content) {
        Ok(d) => d,
        Err(ReadFail::Io(e)) if e.kind() != io::ErrorKind::UnexpectedEof => return Err(e),
        Err(_) => {
            return Ok(HandlerInfo {
                metadata: vec![(Key::from("_error"), Meta::Str("0".into()))],
                ..HandlerInfo::default()
            })
        }
    };
    let mut text = d.text;
    // XMP is not interpreted.
    remove(&mut text, "xmp");
    let common = text.clone();
    let mut inner = text;
    inner.push((Key::from("_MW_PNG_VERSION"), Meta::Int(1)));
    let metadata = vec![
        (Key::from("frameCount"), Meta::Int(i64::from(d.frame_count))),
        (Key::from("loopCount"), Meta::Int(i64::from(d.loop_count))),
        (Key::from("duration"), Meta::Float(d.duration)),
        (Key::from("bitDepth"), Meta::Int(i64::from(d.bit_depth))),
        (Key::from("colorType"), Meta::Str(d.color_type.into())),
        (Key::from("metadata"), Meta::Map(inner)),
    ];
    Ok(HandlerInfo {
        width: d.width,
        height: d.height,
        bits: d.bit_depth,
        metadata,
        common,
    })
}

// ---------------------------------------------------------------------------------------
// GIF
// ---------------------------------------------------------------------------------------

const GIF_MAX_SUBBLOCKS: u32 = 262_144;

/// Most bytes of text (comments, text chunks) kept from one file, to bound memory.
const MAX_TEXT_BYTES: usize = 8 << 20;

fn gif_bpp(b: Option<u8>) -> Result<(u32, bool), ReadFail> {
    let b = b.ok_or(ReadFail::Broken)?;
    Ok((u32::from(b & 7) + 1, b & 0x80 != 0))
}

fn gif_skip_block(input: &mut Input<'_>) -> Result<(), ReadFail> {
    loop {
        let len = input.byte()?.ok_or(ReadFail::Broken)?;
        if len == 0 {
            return Ok(());
        }
        let got = input.read_upto(usize::from(len))?;
        if got.len() < usize::from(len) {
            // fread returned short; the next length read fails.
            continue;
        }
    }
}

/// Read a chain of sub-blocks, keeping at most `keep` bytes of their data.
fn gif_read_block(input: &mut Input<'_>, keep: usize) -> Result<Vec<u8>, ReadFail> {
    let mut data = Vec::new();
    let mut blocks = 0;
    let mut sub = input.byte()?;
    while sub != Some(0) {
        blocks += 1;
        if blocks > GIF_MAX_SUBBLOCKS {
            return Err(ReadFail::Broken);
        }
        let Some(len) = sub else {
            return Err(ReadFail::Broken);
        };
        let part = input.read_upto(usize::from(len))?;
        let room = keep.saturating_sub(data.len());
        data.extend_from_slice(&part[..part.len().min(room)]);
        sub = input.byte()?;
    }
    Ok(data)
}

struct GifData {
    frame_count: u32,
    looped: bool,
    duration: f64,
    comments: Vec<String>,
    width: u32,
    height: u32,
    bits: u32,
}

fn gif_extract(content: &dyn Content) -> Result<GifData, ReadFail> {
    let mut input = Input::open(content)?;
    let sig = input.read_upto(6)?;
    if sig != b"GIF87a" && sig != b"GIF89a" {
        return Err(ReadFail::Broken);
    }
    let width = u32::from(u16le(&input.read(2)?));
    let height = u32::from(u16le(&input.read(2)?));
    let (mut bpp, have_map) = gif_bpp(input.byte()?)?;
    input.read_upto(2)?;
    if have_map {
        input.read_upto(3 << bpp)?;
    }
    let mut d = GifData {
        frame_count: 0,
        looped: false,
        duration: 0.0,
        comments: Vec::new(),
        width,
        height,
        bits: 0,
    };
    let mut comment_bytes = 0usize;
    loop {
        let Some(b) = input.byte()? else {
            return Err(ReadFail::Broken);
        };
        match b {
            b',' => {
                d.frame_count += 1;
                input.read_upto(8)?;
                let (b2, map) = gif_bpp(input.byte()?)?;
                bpp = b2;
                if map {
                    input.read_upto(3 << bpp)?;
                }
                input.read_upto(1)?;
                gif_skip_block(&mut input)?;
            }
            b'!' => {
                let code = input.byte()?.ok_or(ReadFail::Broken)?;
                match code {
                    0xF9 => {
                        input.read_upto(2)?;
                        let delay = input.read_upto(2)?;
                        if delay.len() < 2 {
                            return Err(ReadFail::Broken);
                        }
                        d.duration += f64::from(u16le(&delay)) * 0.01;
                        input.read_upto(1)?;
                        let term = input.byte()?.ok_or(ReadFail::Broken)?;
                        if term != 0 {
                            return Err(ReadFail::Broken);
                        }
                    }
                    0xFE => {
                        let room = MAX_TEXT_BYTES.saturating_sub(comment_bytes);
                        let data = gif_read_block(&mut input, room.max(1))?;
                        if data.is_empty() {
                            return Err(ReadFail::Broken);
                        }
                        if room == 0 {
                            // Enough comment text kept already.
                            continue;
                        }
                        let text = utf8_or_cp1252(&data);
                        if d.comments.last() != Some(&text) {
                            comment_bytes += text.len();
                            d.comments.push(text);
                        }
                    }
                    0xFF => {
                        let block_len = input.byte()?.ok_or(ReadFail::Broken)?;
                        let start = input.pos;
                        let data = input.read_upto(usize::from(block_len))?;
                        if block_len != 11 {
                            input.seek_to(start - 1)?;
                            gif_skip_block(&mut input)?;
                            continue;
                        }
                        if data == b"NETSCAPE2.0" {
                            if input.read_upto(2)? != b"\x03\x01" {
                                return Err(ReadFail::Broken);
                            }
                            let loop_data = input.read_upto(2)?;
                            if loop_data.len() < 2 {
                                return Err(ReadFail::Broken);
                            }
                            if u16le(&loop_data) != 1 {
                                d.looped = true;
                            }
                            input.read_upto(1)?;
                        } else if data == b"XMP DataXMP" {
                            // XMP is not interpreted; skip it with its magic trailer.
                            gif_skip_block(&mut input)?;
                        } else {
                            input.seek_to(start - 1)?;
                            gif_skip_block(&mut input)?;
                        }
                    }
                    _ => gif_skip_block(&mut input)?,
                }
            }
            b';' => break,
            _ => return Err(ReadFail::Broken),
        }
    }
    d.bits = bpp;
    Ok(d)
}

fn gif_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let d = match gif_extract(content) {
        Ok(d) => d,
        Err(ReadFail::Io(e)) if e.kind() != io::ErrorKind::UnexpectedEof => return Err(e),
        Err(_) => {
            return Ok(HandlerInfo {
                metadata: vec![(Key::from("_error"), Meta::Str("0".into()))],
                ..HandlerInfo::default()
            })
        }
    };
    let mut inner: MetaMap = Vec::new();
    if !d.comments.is_empty() {
        let list = d
            .comments
            .iter()
            .enumerate()
            .map(|(i, c)| (Key::Int(i as i64), Meta::Str(c.clone())))
            .collect();
        inner.push((Key::from("GIFFileComment"), Meta::Map(list)));
    }
    let common = inner.clone();
    inner.push((Key::from("_MW_GIF_VERSION"), Meta::Int(1)));
    let metadata = vec![
        (Key::from("frameCount"), Meta::Int(i64::from(d.frame_count))),
        (Key::from("looped"), Meta::Bool(d.looped)),
        (Key::from("duration"), Meta::Float(d.duration)),
        (Key::from("metadata"), Meta::Map(inner)),
    ];
    Ok(HandlerInfo {
        width: d.width,
        height: d.height,
        bits: d.bits,
        metadata,
        common,
    })
}

// ---------------------------------------------------------------------------------------
// EXIF (JPEG and TIFF)
// ---------------------------------------------------------------------------------------

/// Value types of MediaWiki's EXIF tag table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ExifType {
    Ascii,
    Short,
    Rational,
    ShortOrLong,
    Undefined,
    SRational,
    Ignore,
}

use ExifType::*;

/// (tag number, name as PHP reports it, expected type, expected count).
type TagDef = (u16, &'static str, ExifType, usize);

/// The tags of each section.
const IFD0_TAGS: &[TagDef] = &[
    (0x0100, "ImageWidth", ShortOrLong, 1),
    (0x0101, "ImageLength", ShortOrLong, 1),
    (0x0102, "BitsPerSample", Short, 3),
    (0x0103, "Compression", Short, 1),
    (0x0106, "PhotometricInterpretation", Short, 1),
    (0x010E, "ImageDescription", Ascii, 1),
    (0x010F, "Make", Ascii, 1),
    (0x0110, "Model", Ascii, 1),
    (0x0111, "StripOffsets", ShortOrLong, 1),
    (0x0112, "Orientation", Short, 1),
    (0x0115, "SamplesPerPixel", Short, 1),
    (0x0116, "RowsPerStrip", ShortOrLong, 1),
    (0x0117, "StripByteCounts", ShortOrLong, 1),
    (0x011A, "XResolution", Rational, 1),
    (0x011B, "YResolution", Rational, 1),
    (0x011C, "PlanarConfiguration", Short, 1),
    (0x0128, "ResolutionUnit", Short, 1),
    (0x012D, "TransferFunction", Ignore, 1),
    (0x0131, "Software", Ascii, 1),
    (0x0132, "DateTime", Ascii, 1),
    (0x013B, "Artist", Ascii, 1),
    (0x013E, "WhitePoint", Rational, 2),
    (0x013F, "PrimaryChromaticities", Rational, 6),
    (0x0201, "JPEGInterchangeFormat", ShortOrLong, 1),
    (0x0202, "JPEGInterchangeFormatLength", ShortOrLong, 1),
    (0x0211, "YCbCrCoefficients", Rational, 3),
    (0x0212, "YCbCrSubSampling", Short, 2),
    (0x0213, "YCbCrPositioning", Short, 1),
    (0x0214, "ReferenceBlackWhite", Rational, 6),
    (0x8298, "Copyright", Ascii, 1),
];

const EXIF_TAGS: &[TagDef] = &[
    (0x829A, "ExposureTime", Rational, 1),
    (0x829D, "FNumber", Rational, 1),
    (0x8822, "ExposureProgram", Short, 1),
    (0x8824, "SpectralSensitivity", Ascii, 1),
    (0x8827, "ISOSpeedRatings", Short, 1),
    (0x8828, "OECF", Ignore, 1),
    (0x9000, "ExifVersion", Undefined, 1),
    (0x9003, "DateTimeOriginal", Ascii, 1),
    (0x9004, "DateTimeDigitized", Ascii, 1),
    (0x9101, "ComponentsConfiguration", Undefined, 1),
    (0x9102, "CompressedBitsPerPixel", Rational, 1),
    (0x9201, "ShutterSpeedValue", SRational, 1),
    (0x9202, "ApertureValue", Rational, 1),
    (0x9203, "BrightnessValue", SRational, 1),
    (0x9204, "ExposureBiasValue", SRational, 1),
    (0x9205, "MaxApertureValue", Rational, 1),
    (0x9206, "SubjectDistance", Rational, 1),
    (0x9207, "MeteringMode", Short, 1),
    (0x9208, "LightSource", Short, 1),
    (0x9209, "Flash", Short, 1),
    (0x920A, "FocalLength", Rational, 1),
    (0x9214, "SubjectArea", Short, 4),
    (0x927C, "MakerNote", Ignore, 1),
    (0x9286, "UserComment", Undefined, 1),
    (0x9290, "SubSecTime", Ascii, 1),
    (0x9291, "SubSecTimeOriginal", Ascii, 1),
    (0x9292, "SubSecTimeDigitized", Ascii, 1),
    (0xA000, "FlashPixVersion", Undefined, 1),
    (0xA001, "ColorSpace", Short, 1),
    (0xA004, "RelatedSoundFile", Ascii, 1),
    (0xA20B, "FlashEnergy", Rational, 1),
    (0xA20C, "SpatialFrequencyResponse", Ignore, 1),
    (0xA20E, "FocalPlaneXResolution", Rational, 1),
    (0xA20F, "FocalPlaneYResolution", Rational, 1),
    (0xA210, "FocalPlaneResolutionUnit", Short, 1),
    (0xA214, "SubjectLocation", Short, 2),
    (0xA215, "ExposureIndex", Rational, 1),
    (0xA217, "SensingMethod", Short, 1),
    (0xA300, "FileSource", Undefined, 1),
    (0xA301, "SceneType", Undefined, 1),
    (0xA302, "CFAPattern", Ignore, 1),
    (0xA401, "CustomRendered", Short, 1),
    (0xA402, "ExposureMode", Short, 1),
    (0xA403, "WhiteBalance", Short, 1),
    (0xA404, "DigitalZoomRatio", Rational, 1),
    (0xA405, "FocalLengthIn35mmFilm", Short, 1),
    (0xA406, "SceneCaptureType", Short, 1),
    (0xA407, "GainControl", Short, 1),
    (0xA408, "Contrast", Short, 1),
    (0xA409, "Saturation", Short, 1),
    (0xA40A, "Sharpness", Short, 1),
    (0xA40B, "DeviceSettingDescription", Ignore, 1),
    (0xA40C, "SubjectDistanceRange", Short, 1),
    (0xA420, "ImageUniqueID", Ascii, 1),
];

const GPS_TAGS: &[TagDef] = &[
    (0x0000, "GPSVersion", Undefined, 1),
    (0x0001, "GPSLatitudeRef", Ascii, 1),
    (0x0002, "GPSLatitude", Rational, 3),
    (0x0003, "GPSLongitudeRef", Ascii, 1),
    (0x0004, "GPSLongitude", Rational, 3),
    (0x0005, "GPSAltitudeRef", Undefined, 1),
    (0x0006, "GPSAltitude", Rational, 1),
    (0x0007, "GPSTimeStamp", Rational, 3),
    (0x0008, "GPSSatellites", Ascii, 1),
    (0x0009, "GPSStatus", Ascii, 1),
    (0x000A, "GPSMeasureMode", Ascii, 1),
    (0x000B, "GPSDOP", Rational, 1),
    (0x000C, "GPSSpeedRef", Ascii, 1),
    (0x000D, "GPSSpeed", Rational, 1),
    (0x000E, "GPSTrackRef", Ascii, 1),
    (0x000F, "GPSTrack", Rational, 1),
    (0x0010, "GPSImgDirectionRef", Ascii, 1),
    (0x0011, "GPSImgDirection", Rational, 1),
    (0x0012, "GPSMapDatum", Ascii, 1),
    (0x0013, "GPSDestLatitudeRef", Ascii, 1),
    (0x0014, "GPSDestLatitude", Rational, 3),
    (0x0015, "GPSDestLongitudeRef", Ascii, 1),
    (0x0016, "GPSDestLongitude", Rational, 3),
    (0x0017, "GPSDestBearingRef", Ascii, 1),
    (0x0018, "GPSDestBearing", Rational, 1),
    (0x0019, "GPSDestDistanceRef", Ascii, 1),
    (0x001A, "GPSDestDistance", Rational, 1),
    (0x001C, "GPSAreaInformation", Undefined, 1),
    (0x001D, "GPSDateStamp", Ascii, 1),
    (0x001E, "GPSDifferential", Short, 1),
];

/// A value as PHP's EXIF reader hands it over.
#[derive(Debug, Clone, PartialEq)]
enum PhpVal {
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    List(Vec<PhpVal>),
}

fn php_value(v: &exif::Value) -> Option<PhpVal> {
    use exif::Value as V;
    fn many<T: Copy>(items: &[T], f: impl Fn(T) -> PhpVal) -> Option<PhpVal> {
        match items.len() {
            0 => None,
            1 => Some(f(items[0])),
            _ => Some(PhpVal::List(items.iter().map(|x| f(*x)).collect())),
        }
    }
    match v {
        V::Byte(b) => Some(PhpVal::Bytes(b.clone())),
        V::SByte(b) => Some(PhpVal::Bytes(
            b.iter().map(|x| x.to_le_bytes()[0]).collect(),
        )),
        V::Ascii(strings) => Some(PhpVal::Bytes(strings.first().cloned().unwrap_or_default())),
        V::Undefined(b, _) => Some(PhpVal::Bytes(b.clone())),
        V::Short(v) => many(v, |x| PhpVal::Int(i64::from(x))),
        V::SShort(v) => many(v, |x| PhpVal::Int(i64::from(x))),
        V::Long(v) => many(v, |x| PhpVal::Int(i64::from(x))),
        V::SLong(v) => many(v, |x| PhpVal::Int(i64::from(x))),
        V::Rational(v) => many(v, |r| {
            PhpVal::Bytes(format!("{}/{}", r.num, r.denom).into_bytes())
        }),
        V::SRational(v) => many(v, |r| {
            PhpVal::Bytes(format!("{}/{}", r.num, r.denom).into_bytes())
        }),
        V::Float(v) => many(v, |x| PhpVal::Float(f64::from(x))),
        V::Double(v) => many(v, PhpVal::Float),
        V::Unknown(..) => None,
    }
}

fn int_like(v: &PhpVal) -> Option<i64> {
    match v {
        PhpVal::Int(i) => Some(*i),
        PhpVal::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok()),
        _ => None,
    }
}

fn rational_ok(v: &PhpVal, signed: bool) -> bool {
    let PhpVal::Bytes(b) = v else {
        return false;
    };
    let Ok(s) = std::str::from_utf8(b) else {
        return false;
    };
    let Some((n, d)) = s.split_once('/') else {
        return false;
    };
    let n = if signed {
        n.strip_prefix('-').unwrap_or(n)
    } else {
        n
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    if !digits(n) || !digits(d) {
        return false;
    }
    // The denominator matches `\d+[1-9]|[1-9]\d*`: it cannot be zero.
    let db = d.as_bytes();
    if db[0] == b'0' && (db.len() < 2 || db[db.len() - 1] == b'0') {
        return false;
    }
    let in_range = |x: &str| x.parse::<u64>().is_ok_and(|v| v <= 4_294_967_296);
    in_range(n) && in_range(d)
}

fn exif_valid_one(ty: ExifType, v: &PhpVal) -> bool {
    match ty {
        Ascii => match v {
            PhpVal::Bytes(b) => {
                b.iter().all(|c| *c == b'\n' || (0x20..=0x7e).contains(c))
                    && !b
                        .iter()
                        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0B' | b'\x0C'))
            }
            _ => false,
        },
        Short => int_like(v).is_some_and(|i| (0..=65536).contains(&i)),
        ShortOrLong => int_like(v).is_some_and(|i| (0..=4_294_967_296).contains(&i)),
        Rational => rational_ok(v, false),
        SRational => rational_ok(v, true),
        Undefined => true,
        Ignore => false,
    }
}

fn exif_valid(ty: ExifType, count: usize, v: &PhpVal) -> bool {
    match v {
        PhpVal::List(items) => items.len() == count && items.iter().all(|i| exif_valid_one(ty, i)),
        other => count == 1 && exif_valid_one(ty, other),
    }
}

fn php_to_meta(v: &PhpVal) -> Meta {
    match v {
        PhpVal::Int(i) => Meta::Int(*i),
        PhpVal::Float(f) => Meta::Float(*f),
        PhpVal::Bytes(b) => Meta::Str(String::from_utf8_lossy(b).into_owned()),
        PhpVal::List(items) => Meta::Map(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| (Key::Int(i as i64), php_to_meta(x)))
                .collect(),
        ),
    }
}

fn rational_value(v: &PhpVal) -> Option<f64> {
    let PhpVal::Bytes(b) = v else {
        return None;
    };
    let s = std::str::from_utf8(b).ok()?;
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d != 0.0).then_some(n / d)
}

/// EXIF fields filtered, validated and collapsed like MediaWiki's `Exif` class.
fn exif_filtered(exif: &exif::Exif, little_endian: bool) -> Vec<(String, PhpVal)> {
    let mut data: Vec<(String, PhpVal)> = Vec::new();
    let sections: [(exif::Context, &[TagDef]); 3] = [
        (exif::Context::Tiff, IFD0_TAGS),
        (exif::Context::Exif, EXIF_TAGS),
        (exif::Context::Gps, GPS_TAGS),
    ];
    for (ctx, table) in sections {
        for field in exif.fields() {
            if field.ifd_num != exif::In::PRIMARY || field.tag.context() != ctx {
                continue;
            }
            let Some(&(_, name, ty, count)) = table.iter().find(|(n, ..)| *n == field.tag.number())
            else {
                continue;
            };
            let Some(value) = php_value(&field.value) else {
                continue;
            };
            let valid = exif_valid(ty, count, &value);
            match data.iter_mut().find(|(k, _)| k == name) {
                Some(entry) if valid => entry.1 = value,
                Some(_) => data.retain(|(k, _)| k != name),
                None if valid => data.push((name.to_owned(), value)),
                None => {}
            }
        }
    }
    fn take(data: &[(String, PhpVal)], key: &str) -> Option<PhpVal> {
        data.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    // GPS coordinates to signed decimal degrees.
    for prop in [
        "GPSLatitude",
        "GPSDestLatitude",
        "GPSLongitude",
        "GPSDestLongitude",
    ] {
        let ref_key = format!("{prop}Ref");
        let loc = take(&data, prop);
        let dir = take(&data, &ref_key);
        let mut res = None;
        if let (Some(PhpVal::List(parts)), Some(PhpVal::Bytes(d))) = (&loc, &dir) {
            if matches!(d.as_slice(), b"N" | b"S" | b"E" | b"W") && parts.len() == 3 {
                if let (Some(a), Some(b), Some(c)) = (
                    rational_value(&parts[0]),
                    rational_value(&parts[1]),
                    rational_value(&parts[2]),
                ) {
                    let mut r = a;
                    r += b * (1.0 / 60.0);
                    r += c * (1.0 / 3600.0);
                    if matches!(d.as_slice(), b"S" | b"W") {
                        r *= -1.0;
                    }
                    res = Some(r);
                }
            }
        }
        match res {
            Some(r) => {
                if let Some(entry) = data.iter_mut().find(|(k, _)| k == prop) {
                    entry.1 = PhpVal::Float(r);
                }
                data.retain(|(k, _)| *k != ref_key);
            }
            None => data.retain(|(k, _)| k != prop && *k != ref_key),
        }
    }
    if let (Some(alt), Some(alt_ref)) = (take(&data, "GPSAltitude"), take(&data, "GPSAltitudeRef"))
    {
        if let Some(mut a) = rational_value(&alt) {
            if alt_ref == PhpVal::Bytes(vec![1]) {
                a *= -1.0;
            }
            if let Some(entry) = data.iter_mut().find(|(k, _)| k == "GPSAltitude") {
                entry.1 = PhpVal::Float(a);
            }
        }
        data.retain(|(k, _)| k != "GPSAltitudeRef");
    }
    for prop in ["FileSource", "SceneType"] {
        if let Some(entry) = data.iter_mut().find(|(k, _)| k == prop) {
            if let PhpVal::Bytes(b) = &entry.1 {
                entry.1 = PhpVal::Int(i64::from(b.first().copied().unwrap_or(0)));
            }
        }
    }
    for prop in ["UserComment", "GPSProcessingMethod", "GPSAreaInformation"] {
        let Some(PhpVal::Bytes(raw)) = take(&data, prop) else {
            continue;
        };
        let decoded = if raw.len() <= 8 {
            None
        } else {
            let (code, val) = raw.split_at(8);
            let text = match code {
                b"UNICODE\0" => {
                    let units: Vec<u16> = val
                        .chunks_exact(2)
                        .map(|c| if little_endian { u16le(c) } else { u16be(c) })
                        .collect();
                    char::decode_utf16(units)
                        .filter_map(Result::ok)
                        .collect::<String>()
                }
                // Shift-JIS is not decoded; other codes: UTF-8 or Windows-1252.
                b"JIS\0\0\0\0\0" => String::new(),
                _ => utf8_or_cp1252(val),
            };
            let text = php_trim(&text).to_owned();
            (!text.is_empty()).then_some(text)
        };
        match decoded {
            Some(t) => {
                if let Some(entry) = data.iter_mut().find(|(k, _)| k == prop) {
                    entry.1 = PhpVal::Bytes(t.into_bytes());
                }
            }
            None => data.retain(|(k, _)| k != prop),
        }
    }
    if let Some(entry) = data
        .iter_mut()
        .find(|(k, _)| k == "ComponentsConfiguration")
    {
        if let PhpVal::Bytes(b) = &entry.1 {
            // Marked as an ordered list; kept as a special list value.
            let mut items: Vec<PhpVal> = b.iter().map(|x| PhpVal::Int(i64::from(*x))).collect();
            items.push(PhpVal::Bytes(b"\0ol".to_vec()));
            entry.1 = PhpVal::List(items);
        }
    }
    if let Some(PhpVal::Bytes(b)) = take(&data, "GPSVersion") {
        let joined = b.iter().map(u8::to_string).collect::<Vec<_>>().join(".");
        let version = if little_endian {
            joined.chars().rev().collect()
        } else {
            joined
        };
        data.retain(|(k, _)| k != "GPSVersion");
        data.push((
            "GPSVersionID".to_owned(),
            PhpVal::Bytes(version.into_bytes()),
        ));
    }
    data
}

fn exif_to_meta(data: Vec<(String, PhpVal)>) -> MetaMap {
    data.into_iter()
        .map(|(k, v)| {
            let meta = match &v {
                PhpVal::List(items) if items.last() == Some(&PhpVal::Bytes(b"\0ol".to_vec())) => {
                    let mut m: MetaMap = items[..items.len() - 1]
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (Key::Int(i as i64), php_to_meta(x)))
                        .collect();
                    m.push((Key::from("_type"), Meta::Str("ol".into())));
                    Meta::Map(m)
                }
                _ => php_to_meta(&v),
            };
            (Key::Str(k), meta)
        })
        .collect()
}

fn read_exif(tiff: Vec<u8>) -> Option<exif::Exif> {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    match reader.read_raw(tiff) {
        Ok(e) => Some(e),
        Err(e) => e.distill_partial_result(|_| {}).ok(),
    }
}

// ---------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------

const MAX_JPEG_SEGMENTS: u32 = 200;

struct JpegSegments {
    comments: Vec<String>,
    exif: Option<Vec<u8>>,
    little_endian: Option<bool>,
}

fn jpeg_marker_data(input: &mut Input<'_>) -> Result<Vec<u8>, ReadFail> {
    let size = usize::from(u16be(&input.read(2)?));
    if size < 2 {
        return Err(ReadFail::Broken);
    }
    input.read(size - 2)
}

fn jpeg_segments(content: &dyn Content) -> Result<JpegSegments, ReadFail> {
    let mut input = Input::open(content)?;
    if input.read_upto(2)? != b"\xff\xd8" {
        return Err(ReadFail::Broken);
    }
    let mut seg = JpegSegments {
        comments: Vec::new(),
        exif: None,
        little_endian: None,
    };
    let mut count = 0;
    loop {
        let mut b = input.byte()?;
        count += 1;
        if count > MAX_JPEG_SEGMENTS {
            return Err(ReadFail::Broken);
        }
        while b.is_some() && b != Some(0xFF) {
            b = input.byte()?;
        }
        let mut m = input.byte()?;
        while m == Some(0xFF) {
            m = input.byte()?;
        }
        let Some(m) = m else {
            return Err(ReadFail::Broken);
        };
        match m {
            0xFE => {
                let raw = jpeg_marker_data(&mut input)?;
                let trimmed = php_trim_bytes(&raw);
                let text = match utf8_nfc(trimmed) {
                    Some(s) => Some(s),
                    None => {
                        let conv: String = trimmed.iter().filter_map(|b| cp1252_char(*b)).collect();
                        (conv.nfc().collect::<String>() == conv).then_some(conv)
                    }
                };
                if let Some(t) = text {
                    seg.comments.push(t);
                }
            }
            0xE1 => {
                let data = jpeg_marker_data(&mut input)?;
                if data.starts_with(b"Exif\0\0") {
                    match data.get(6..8) {
                        Some(b"MM") => seg.little_endian = Some(false),
                        Some(b"II") => seg.little_endian = Some(true),
                        _ => {}
                    }
                    if seg.exif.is_none() {
                        seg.exif = Some(data[6..].to_vec());
                    }
                }
            }
            0xD9 | 0xDA => return Ok(seg),
            _ => {
                let size = u16be(&input.read(2)?);
                if size < 2 {
                    return Err(ReadFail::Broken);
                }
                // Seeking past the end is allowed; the next read then fails.
                let target = input.pos + u64::from(size) - 2;
                input.seek_to(target)?;
            }
        }
    }
}

/// What `getimagesize()` reports for a JPEG: width, height and bits from the first SOF.
fn jpeg_size(content: &dyn Content) -> io::Result<Option<(u32, u32, u32)>> {
    let mut input = Input::open(content)?;
    let res = (|| -> Result<Option<(u32, u32, u32)>, ReadFail> {
        if input.read(2)? != b"\xff\xd8" {
            return Ok(None);
        }
        loop {
            let mut b = input.byte()?;
            while b.is_some() && b != Some(0xFF) {
                b = input.byte()?;
            }
            let mut m = input.byte()?;
            while m == Some(0xFF) {
                m = input.byte()?;
            }
            let Some(m) = m else {
                return Ok(None);
            };
            match m {
                0xC0..=0xCF if !matches!(m, 0xC4 | 0xC8 | 0xCC) => {
                    let data = input.read(8)?;
                    return Ok(Some((
                        u32::from(u16be(&data[5..7])),
                        u32::from(u16be(&data[3..5])),
                        u32::from(data[2]),
                    )));
                }
                0xD9 | 0xDA => return Ok(None),
                0x01 | 0xD0..=0xD7 => {}
                _ => {
                    let size = u16be(&input.read(2)?);
                    if size < 2 {
                        return Ok(None);
                    }
                    input.skip(u64::from(size) - 2)?;
                }
            }
        }
    })();
    match res {
        Ok(v) => Ok(v),
        Err(ReadFail::Io(e)) if e.kind() != io::ErrorKind::UnexpectedEof => Err(e),
        Err(_) => Ok(None),
    }
}

fn orientation_swaps(meta: &MetaMap) -> bool {
    matches!(
        get(meta, "Orientation"),
        Some(Meta::Int(6)) | Some(Meta::Int(8))
    )
}

fn exif_common(meta: &MetaMap) -> MetaMap {
    if get(meta, "_error").is_some() {
        return Vec::new();
    }
    meta.iter()
        .filter(|(k, _)| *k != Key::from("MEDIAWIKI_EXIF_VERSION"))
        .cloned()
        .collect()
}

fn jpeg_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let meta: MetaMap = match jpeg_segments(content) {
        Ok(seg) => {
            let mut meta = Vec::new();
            if let Some(tiff) = seg.exif {
                if let Some(exif) = read_exif(tiff) {
                    let le = seg.little_endian.unwrap_or(exif.little_endian());
                    meta = exif_to_meta(exif_filtered(&exif, le));
                }
            }
            if !seg.comments.is_empty() {
                let list = seg
                    .comments
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| (Key::Int(i as i64), Meta::Str(c)))
                    .collect();
                meta.push((Key::from("JPEGFileComment"), Meta::Map(list)));
            }
            meta.push((Key::from("MEDIAWIKI_EXIF_VERSION"), Meta::Int(2)));
            meta
        }
        Err(ReadFail::Io(e)) if e.kind() != io::ErrorKind::UnexpectedEof => return Err(e),
        Err(_) => vec![(Key::from("_error"), Meta::Str("-1".into()))],
    };
    let (mut width, mut height, bits) = jpeg_size(content)?.unwrap_or((0, 0, 0));
    if orientation_swaps(&meta) {
        std::mem::swap(&mut width, &mut height);
    }
    let common = exif_common(&meta);
    Ok(HandlerInfo {
        width,
        height,
        bits,
        metadata: meta,
        common,
    })
}

// ---------------------------------------------------------------------------------------
// TIFF
// ---------------------------------------------------------------------------------------

/// How much of a TIFF file is read to find its EXIF data.
const TIFF_READ_LIMIT: usize = 16 << 20;

fn tiff_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let data = read_head(content, TIFF_READ_LIMIT)?;
    let le = match data.get(0..2) {
        Some(b"II") => Some(true),
        Some(b"MM") => Some(false),
        _ => None,
    };
    let exif = le.and_then(|_| read_exif(data));
    let (mut width, mut height) = (0, 0);
    let meta: MetaMap = match (exif, le) {
        (Some(exif), Some(le)) => {
            for field in exif.fields() {
                if field.ifd_num == exif::In::PRIMARY && field.tag == exif::Tag::ImageWidth {
                    width = field.value.get_uint(0).unwrap_or(0);
                }
                if field.ifd_num == exif::In::PRIMARY && field.tag == exif::Tag::ImageLength {
                    height = field.value.get_uint(0).unwrap_or(0);
                }
            }
            let filtered = exif_to_meta(exif_filtered(&exif, le));
            if filtered.is_empty() {
                vec![(Key::from("_error"), Meta::Str("-1".into()))]
            } else {
                let mut m = filtered;
                m.push((Key::from("MEDIAWIKI_EXIF_VERSION"), Meta::Int(2)));
                m
            }
        }
        _ => vec![(Key::from("_error"), Meta::Str("-1".into()))],
    };
    if orientation_swaps(&meta) {
        std::mem::swap(&mut width, &mut height);
    }
    let common = exif_common(&meta);
    Ok(HandlerInfo {
        width,
        height,
        bits: 0,
        metadata: meta,
        common,
    })
}

// ---------------------------------------------------------------------------------------
// WebP, BMP, XCF, SVG
// ---------------------------------------------------------------------------------------

fn webp_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let broken = || HandlerInfo {
        metadata: vec![(Key::from("_error"), Meta::Str("0".into()))],
        ..HandlerInfo::default()
    };
    let mut input = Input::open(content)?;
    let header = match input.read_upto(12) {
        Ok(h) => h,
        Err(ReadFail::Io(e)) => return Err(e),
        Err(ReadFail::Broken) => return Ok(broken()),
    };
    if header.len() < 12 || &header[0..4] != b"RIFF" || &header[8..12] != b"WEBP" {
        return Ok(broken());
    }
    let mut info: MetaMap = Vec::new();
    let mut found = false;
    for _ in 0..100 {
        let start = input.pos;
        let head = match input.read_upto(8) {
            Ok(h) if h.len() == 8 => h,
            Ok(_) => break,
            Err(ReadFail::Io(e)) => return Err(e),
            Err(ReadFail::Broken) => break,
        };
        let size = u64::from(u32le(&head[4..8]));
        let four_cc = head[0..4].to_vec();
        let chunk_head = if matches!(four_cc.as_slice(), b"VP8 " | b"VP8L" | b"VP8X") {
            match input.read_upto(10) {
                Ok(rest) => {
                    let mut h = head.clone();
                    h.extend(rest);
                    h
                }
                Err(ReadFail::Io(e)) => return Err(e),
                Err(ReadFail::Broken) => head.clone(),
            }
        } else {
            head.clone()
        };
        let next = start + 8 + size + (size % 2);
        if input.seek_to(next).is_err() {
            break;
        }
        match four_cc.as_slice() {
            b"VP8 " => {
                found = true;
                if chunk_head.get(11..14) == Some(b"\x9d\x01\x2a") && chunk_head.len() >= 18 {
                    set(&mut info, "compression", Meta::Str("lossy".into()));
                    set(
                        &mut info,
                        "width",
                        Meta::Int(i64::from(u16le(&chunk_head[14..16]) & 0x3FFF)),
                    );
                    set(
                        &mut info,
                        "height",
                        Meta::Int(i64::from(u16le(&chunk_head[16..18]) & 0x3FFF)),
                    );
                }
                break;
            }
            b"VP8L" => {
                found = true;
                if chunk_head.get(8) == Some(&0x2F) && chunk_head.len() >= 13 {
                    let b = &chunk_head[9..13];
                    let (b1, b2, b3, b4) = (
                        i64::from(b[0]),
                        i64::from(b[1]),
                        i64::from(b[2]),
                        i64::from(b[3]),
                    );
                    set(&mut info, "compression", Meta::Str("lossless".into()));
                    set(&mut info, "width", Meta::Int((b1 | ((b2 & 0x3F) << 8)) + 1));
                    set(
                        &mut info,
                        "height",
                        Meta::Int((((b2 & 0xC0) >> 6) | (b3 << 2) | ((b4 & 0x03) << 10)) + 1),
                    );
                }
                break;
            }
            b"VP8X" => {
                found = true;
                if chunk_head.len() >= 18 {
                    let flags = chunk_head[8];
                    let w = u32le(&[chunk_head[12], chunk_head[13], chunk_head[14], 0]);
                    let h = u32le(&[chunk_head[15], chunk_head[16], chunk_head[17], 0]);
                    set(&mut info, "compression", Meta::Str("unknown".into()));
                    set(&mut info, "animated", Meta::Bool(flags & 2 == 2));
                    set(&mut info, "transparency", Meta::Bool(flags & 16 == 16));
                    set(&mut info, "width", Meta::Int(i64::from(w) + 1));
                    set(&mut info, "height", Meta::Int(i64::from(h) + 1));
                }
            }
            _ => {}
        }
    }
    if !found || info.is_empty() {
        return Ok(broken());
    }
    let as_u32 = |m: Option<&Meta>| match m {
        Some(Meta::Int(i)) => u32::try_from(*i).unwrap_or(0),
        _ => 0,
    };
    let width = as_u32(get(&info, "width"));
    let height = as_u32(get(&info, "height"));
    info.push((
        Key::from("metadata"),
        Meta::Map(vec![(Key::from("_MW_WEBP_VERSION"), Meta::Int(1))]),
    ));
    Ok(HandlerInfo {
        width,
        height,
        bits: 0,
        metadata: info,
        common: Vec::new(),
    })
}

fn bmp_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let head = read_head(content, 54)?;
    if head.len() < 26 {
        return Ok(HandlerInfo::default());
    }
    Ok(HandlerInfo {
        width: u32le(&head[18..22]),
        height: u32le(&head[22..26]),
        ..HandlerInfo::default()
    })
}

fn xcf_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let head = read_head(content, 26)?;
    let valid = head.len() == 26 && head.starts_with(b"gimp xcf ") && head[13] == 0;
    if !valid {
        return Ok(HandlerInfo {
            bits: 8,
            metadata: vec![(Key::from("error"), Meta::Bool(true))],
            ..HandlerInfo::default()
        });
    }
    let color = match u32be(&head[22..26]) {
        0 => "truecolour-alpha",
        1 => "greyscale-alpha",
        2 => "index-coloured",
        _ => "unknown",
    };
    Ok(HandlerInfo {
        width: u32be(&head[14..18]),
        height: u32be(&head[18..22]),
        bits: 8,
        metadata: vec![(Key::from("colorType"), Meta::Str(color.into()))],
        common: Vec::new(),
    })
}

fn json_to_meta(v: &Value) -> Meta {
    match v {
        Value::Bool(b) => Meta::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map(Meta::Int)
            .unwrap_or_else(|| Meta::Float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => Meta::Str(s.clone()),
        Value::Array(items) => Meta::Map(
            items
                .iter()
                .map(|e| {
                    let key = match &e["name"] {
                        Value::Number(n) => Key::Int(n.as_i64().unwrap_or(0)),
                        other => Key::Str(other.as_str().unwrap_or("").to_owned()),
                    };
                    (key, json_to_meta(&e["value"]))
                })
                .collect(),
        ),
        Value::Null | Value::Object(_) => Meta::Str(String::new()),
    }
}

fn svg_info(content: &dyn Content) -> io::Result<HandlerInfo> {
    let info = read_svg_info(content)?;
    let metadata: MetaMap = info
        .metadata
        .iter()
        .map(|(k, v)| (Key::Str(k.clone()), json_to_meta(v)))
        .collect();
    let common = if get(&metadata, "error").is_some() {
        Vec::new()
    } else {
        metadata
            .iter()
            .filter_map(|(k, v)| {
                let Key::Str(name) = k else {
                    return None;
                };
                let std_name = match name.to_ascii_lowercase().as_str() {
                    "description" => "ImageDescription",
                    "title" => "ObjectName",
                    _ => return None,
                };
                Some((Key::from(std_name), v.clone()))
            })
            .collect()
    };
    Ok(HandlerInfo {
        width: info.width,
        height: info.height,
        bits: 0,
        metadata,
        common,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
        out
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    /// zlib stream made of stored (uncompressed) deflate blocks.
    fn zlib_stored(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x78, 0x01];
        let mut chunks = data.chunks(65535).peekable();
        if chunks.peek().is_none() {
            out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(c) = chunks.next() {
            out.push(if chunks.peek().is_none() { 1 } else { 0 });
            let len = c.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(c);
        }
        out.extend_from_slice(&adler32(data).to_be_bytes());
        out
    }

    /// A valid PNG: `color_type` 2 (RGB) or 3 (palette), 8 bits, extra chunks before IDAT.
    pub(crate) fn make_png(
        w: u32,
        h: u32,
        color_type: u8,
        extra: &[(&[u8; 4], Vec<u8>)],
    ) -> Vec<u8> {
        let mut png = PNG_SIG.to_vec();
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
        png.extend(chunk(b"IHDR", &ihdr));
        if color_type == 3 {
            png.extend(chunk(b"PLTE", &[255, 0, 0, 0, 0, 255]));
        }
        for (kind, data) in extra {
            png.extend(chunk(*kind, data));
        }
        let bpp = if color_type == 3 { 1 } else { 3 };
        let mut raw = Vec::new();
        for y in 0..h {
            raw.push(0);
            for x in 0..w * bpp {
                raw.push(((x + y) % 2) as u8);
            }
        }
        png.extend(chunk(b"IDAT", &zlib_stored(&raw)));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    fn props(bytes: &[u8], ext: &str) -> FileProps {
        file_props(&bytes, Some(ext), bytes.len() as u64, "0000").unwrap()
    }

    #[test]
    fn png_like_the_reference() {
        let p = props(&make_png(120, 80, 3, &[]), "png");
        assert_eq!((p.width, p.height, p.bits), (120, 80, 8));
        assert_eq!(p.mime, "image/png");
        assert_eq!(p.file_mime, "image/png");
        assert_eq!(
            (p.major_mime.as_str(), p.minor_mime.as_str()),
            ("image", "png")
        );
        assert_eq!(p.media_type, "BITMAP");
        assert_eq!(
            p.metadata,
            json!([{"name": "frameCount", "value": 0}, {"name": "loopCount", "value": 1}, {"name": "duration", "value": 0},
                   {"name": "bitDepth", "value": 8}, {"name": "colorType", "value": "index-coloured"},
                   {"name": "metadata", "value": [{"name": "_MW_PNG_VERSION", "value": 1}]}])
        );
        assert_eq!(p.common_metadata, json!([]));
        let p = props(&make_png(82, 82, 2, &[]), "png");
        assert_eq!(
            p.metadata[4],
            json!({"name": "colorType", "value": "truecolour"})
        );
    }

    #[test]
    fn truncated_png() {
        let png = make_png(26, 26, 2, &[]);
        let p = props(&png[..png.len() - 30], "png");
        assert_eq!((p.width, p.height, p.bits), (0, 0, 0));
        assert_eq!(p.mime, "image/png");
        assert_eq!(p.media_type, "BITMAP");
        assert_eq!(p.metadata, json!([{"name": "_error", "value": "0"}]));
        assert_eq!(p.common_metadata, json!([]));
    }

    #[test]
    fn png_text_animation_and_resolution() {
        let mut itxt = b"Title\0\0\0de\0Titel\0Ein Bild".to_vec();
        itxt.extend_from_slice(&[]);
        let extra: Vec<(&[u8; 4], Vec<u8>)> = vec![
            (b"acTL", [2u32.to_be_bytes(), 3u32.to_be_bytes()].concat()),
            (b"fcTL", {
                let mut f = vec![0u8; 20];
                f.extend_from_slice(&50u16.to_be_bytes());
                f.extend_from_slice(&0u16.to_be_bytes());
                f.extend_from_slice(&[0, 0]);
                f
            }),
            (b"tEXt", b"Comment\0caf\xe9".to_vec()),
            (b"tEXt", b"Unknown\0ignored".to_vec()),
            (b"iTXt", itxt),
            (
                b"pHYs",
                [
                    2835u32.to_be_bytes().to_vec(),
                    2835u32.to_be_bytes().to_vec(),
                    vec![1],
                ]
                .concat(),
            ),
            (
                b"tIME",
                [2024u16.to_be_bytes().to_vec(), vec![5, 6, 7, 8, 9]].concat(),
            ),
        ];
        let p = props(&make_png(4, 4, 2, &extra), "png");
        assert_eq!(
            p.metadata,
            json!([
                {"name": "frameCount", "value": 2}, {"name": "loopCount", "value": 3}, {"name": "duration", "value": 1.5},
                {"name": "bitDepth", "value": 8}, {"name": "colorType", "value": "truecolour"},
                {"name": "metadata", "value": [
                    {"name": "PNGFileComment", "value": [{"name": "x-default", "value": "café"}, {"name": "_type", "value": "lang"}]},
                    {"name": "ObjectName", "value": [{"name": "de", "value": "Ein Bild"}, {"name": "_type", "value": "lang"}]},
                    {"name": "XResolution", "value": "2835/100"}, {"name": "YResolution", "value": "2835/100"},
                    {"name": "ResolutionUnit", "value": 3}, {"name": "DateTime", "value": "2024:05:06 07:08:09"},
                    {"name": "_MW_PNG_VERSION", "value": 1}
                ]}
            ])
        );
        assert_eq!(p.common_metadata.as_array().unwrap().len(), 6);
        assert_eq!(p.common_metadata[0]["name"], "PNGFileComment");
    }

    /// Build a big-endian TIFF/EXIF block like the reference's test JPEG.
    fn exif_block() -> Vec<u8> {
        enum V {
            A(&'static str),
            S(u16),
            R(&'static [(u32, u32)]),
            U(&'static [u8]),
            B(&'static [u8]),
            L(u32),
        }
        fn ifd(entries: &[(u16, V)], base: u32) -> Vec<u8> {
            let mut dir = (entries.len() as u16).to_be_bytes().to_vec();
            let data_start = base + 2 + 12 * entries.len() as u32 + 4;
            let mut data: Vec<u8> = Vec::new();
            for (tag, v) in entries {
                let (typ, count, bytes): (u16, u32, Vec<u8>) = match v {
                    V::A(s) => {
                        let mut b = s.as_bytes().to_vec();
                        b.push(0);
                        (2, b.len() as u32, b)
                    }
                    V::S(x) => (3, 1, x.to_be_bytes().to_vec()),
                    V::L(x) => (4, 1, x.to_be_bytes().to_vec()),
                    V::R(rs) => {
                        let mut b = Vec::new();
                        for (n, d) in rs.iter() {
                            b.extend_from_slice(&n.to_be_bytes());
                            b.extend_from_slice(&d.to_be_bytes());
                        }
                        (5, rs.len() as u32, b)
                    }
                    V::U(u) => (7, u.len() as u32, u.to_vec()),
                    V::B(u) => (1, u.len() as u32, u.to_vec()),
                };
                dir.extend_from_slice(&tag.to_be_bytes());
                dir.extend_from_slice(&typ.to_be_bytes());
                dir.extend_from_slice(&count.to_be_bytes());
                if bytes.len() <= 4 {
                    let mut b = bytes.clone();
                    b.resize(4, 0);
                    dir.extend_from_slice(&b);
                } else {
                    dir.extend_from_slice(&(data_start + data.len() as u32).to_be_bytes());
                    data.extend_from_slice(&bytes);
                    if data.len() % 2 == 1 {
                        data.push(0);
                    }
                }
            }
            dir.extend_from_slice(&0u32.to_be_bytes());
            dir.extend(data);
            dir
        }
        let gps = |base: u32| {
            ifd(
                &[
                    (0x0000, V::B(&[2, 3, 0, 0])),
                    (0x0001, V::A("N")),
                    (0x0002, V::R(&[(52, 1), (31, 1), (1234, 100)])),
                    (0x0003, V::A("E")),
                    (0x0004, V::R(&[(13, 1), (24, 1), (5678, 100)])),
                ],
                base,
            )
        };
        let exif = |base: u32| {
            ifd(
                &[
                    (0x829A, V::R(&[(1, 125)])),
                    (0x829D, V::R(&[(28, 10)])),
                    (0x8827, V::S(200)),
                    (0x9000, V::U(b"0230")),
                    (0x9003, V::A("2024:05:06 07:08:09")),
                    (0x9004, V::A("2024:05:06 07:08:09")),
                    (0x920A, V::R(&[(50, 1)])),
                    (0xA002, V::L(320)),
                ],
                base,
            )
        };
        // Lay out IFD0, then the EXIF IFD, then the GPS IFD; pointers need the offsets,
        // so build IFD0 twice.
        let ifd0_entries = |exif_off: u32, gps_off: u32| {
            vec![
                (0x010E, V::A("mwanchor EXIF test image")),
                (0x010F, V::A("AnchorCam")),
                (0x0110, V::A("AC-1000 Mark II")),
                (0x0112, V::S(1)),
                (0x011A, V::R(&[(72, 1)])),
                (0x011B, V::R(&[(72, 1)])),
                (0x0128, V::S(2)),
                (0x0131, V::A("mwanchor capture.py")),
                (0x0132, V::A("2024:05:06 07:08:09")),
                (0x013B, V::A("Alice Example")),
                (0x8298, V::A("CC-BY-SA-4.0 Alice Example")),
                (0x8769, V::L(exif_off)),
                (0x8825, V::L(gps_off)),
            ]
        };
        let probe = ifd(&ifd0_entries(0, 0), 8);
        let exif_off = 8 + probe.len() as u32;
        let exif_ifd = exif(exif_off);
        let gps_off = exif_off + exif_ifd.len() as u32;
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend(ifd(&ifd0_entries(exif_off, gps_off), 8));
        tiff.extend(exif_ifd);
        tiff.extend(gps(gps_off));
        tiff
    }

    pub(crate) fn make_jpeg(
        w: u16,
        h: u16,
        app1: Option<Vec<u8>>,
        comment: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut j = b"\xff\xd8".to_vec();
        let mut seg = |marker: u8, data: &[u8]| {
            j.extend_from_slice(&[0xff, marker]);
            j.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
            j.extend_from_slice(data);
        };
        seg(0xe0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        if let Some(tiff) = app1 {
            let mut d = b"Exif\0\0".to_vec();
            d.extend(tiff);
            seg(0xe1, &d);
        }
        if let Some(c) = comment {
            seg(0xfe, c);
        }
        // Real, decodable image data from an encoder, after the segments above.
        let pixels: Vec<u8> = (0..u32::from(w) * u32::from(h))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut encoded = Vec::new();
        jpeg_encoder::Encoder::new(&mut encoded, 90)
            .encode(&pixels, w, h, jpeg_encoder::ColorType::Luma)
            .unwrap();
        j.extend_from_slice(&encoded[2..]);
        j
    }

    #[test]
    fn jpeg_exif_like_the_reference() {
        let jpeg = make_jpeg(320, 240, Some(exif_block()), Some(b"mwanchor test image"));
        let p = props(&jpeg, "jpg");
        assert_eq!((p.width, p.height, p.bits), (320, 240, 8));
        assert_eq!(p.mime, "image/jpeg");
        assert_eq!(p.media_type, "BITMAP");
        let expected_common = json!([
            {"name": "ImageDescription", "value": "mwanchor EXIF test image"}, {"name": "Make", "value": "AnchorCam"},
            {"name": "Model", "value": "AC-1000 Mark II"}, {"name": "Orientation", "value": 1},
            {"name": "XResolution", "value": "72/1"}, {"name": "YResolution", "value": "72/1"},
            {"name": "ResolutionUnit", "value": 2}, {"name": "Software", "value": "mwanchor capture.py"},
            {"name": "DateTime", "value": "2024:05:06 07:08:09"}, {"name": "Artist", "value": "Alice Example"},
            {"name": "Copyright", "value": "CC-BY-SA-4.0 Alice Example"}, {"name": "ExposureTime", "value": "1/125"},
            {"name": "FNumber", "value": "28/10"}, {"name": "ISOSpeedRatings", "value": 200},
            {"name": "ExifVersion", "value": "0230"}, {"name": "DateTimeOriginal", "value": "2024:05:06 07:08:09"},
            {"name": "DateTimeDigitized", "value": "2024:05:06 07:08:09"}, {"name": "FocalLength", "value": "50/1"},
            {"name": "GPSLatitude", "value": 52.520094444444446}, {"name": "GPSLongitude", "value": 13.415772222222223},
            {"name": "GPSVersionID", "value": "2.3.0.0"},
            {"name": "JPEGFileComment", "value": [{"name": 0, "value": "mwanchor test image"}]}
        ]);
        let mut expected_meta = expected_common.as_array().unwrap().clone();
        expected_meta.push(json!({"name": "MEDIAWIKI_EXIF_VERSION", "value": 2}));
        assert_eq!(p.metadata, Value::Array(expected_meta));
        assert_eq!(p.common_metadata, expected_common);
        // The exact JSON text (key order and number formatting) of the reference.
        let text = serde_json::to_string(&p.metadata).unwrap();
        assert!(
            text.contains(r#"{"name":"GPSLatitude","value":52.520094444444446}"#),
            "{text}"
        );
        // Read back with iimetadataversion=1.
        let v1 = metadata_for_version(&p.metadata, "1");
        let list = v1.as_array().unwrap();
        assert_eq!(
            list[21],
            json!({"name": "JPEGFileComment", "value": "mwanchor test image"})
        );
        assert_eq!(
            list[22],
            json!({"name": "MEDIAWIKI_EXIF_VERSION", "value": 1})
        );
        assert_eq!(metadata_for_version(&p.metadata, "latest"), p.metadata);
    }

    #[test]
    fn jpeg_without_exif_and_broken_jpeg() {
        let p = props(&make_jpeg(64, 48, None, None), "jpeg");
        assert_eq!((p.width, p.height, p.bits), (64, 48, 8));
        assert_eq!(
            p.metadata,
            json!([{"name": "MEDIAWIKI_EXIF_VERSION", "value": 2}])
        );
        assert_eq!(p.common_metadata, json!([]));
        let j = make_jpeg(64, 48, None, None);
        let p = props(&j[..10], "jpg");
        assert_eq!((p.width, p.height), (0, 0));
        assert_eq!(p.metadata, json!([{"name": "_error", "value": "-1"}]));
        // Rotated by EXIF orientation 6: width and height swap.
        let tiff = {
            let mut t = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
            t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
            t.extend_from_slice(&[0, 0, 0, 0]);
            t
        };
        let p = props(&make_jpeg(64, 48, Some(tiff), None), "jpg");
        assert_eq!((p.width, p.height), (48, 64));
        assert_eq!(p.metadata[0], json!({"name": "Orientation", "value": 6}));
    }

    #[test]
    fn gif_metadata() {
        let mut gif = b"GIF89a\x02\x00\x03\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
        gif.extend_from_slice(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00");
        gif.extend_from_slice(b"!\xfe\x05hello\x00");
        for _ in 0..2 {
            gif.extend_from_slice(b"!\xf9\x04\x00\x0a\x00\x00\x00");
            gif.extend_from_slice(b",\x00\x00\x00\x00\x02\x00\x03\x00\x00\x02\x02D\x01\x00");
        }
        gif.push(b';');
        let p = props(&gif, "gif");
        assert_eq!((p.width, p.height, p.bits), (2, 3, 1));
        assert_eq!(p.mime, "image/gif");
        assert_eq!(
            p.metadata,
            json!([{"name": "frameCount", "value": 2}, {"name": "looped", "value": true}, {"name": "duration", "value": 0.2},
                   {"name": "metadata", "value": [
                       {"name": "GIFFileComment", "value": [{"name": 0, "value": "hello"}]},
                       {"name": "_MW_GIF_VERSION", "value": 1}]}])
        );
        assert_eq!(
            p.common_metadata,
            json!([{"name": "GIFFileComment", "value": [{"name": 0, "value": "hello"}]}])
        );
        // Without the trailer the file is broken.
        let p = props(&gif[..gif.len() - 1], "gif");
        assert_eq!(p.metadata, json!([{"name": "_error", "value": "0"}]));
        assert_eq!((p.width, p.height), (0, 0));
    }

    #[test]
    fn webp_metadata() {
        let mut vp8 = b"VP8 \x0a\x00\x00\x00\x00\x00\x00\x9d\x01\x2a".to_vec();
        vp8.extend_from_slice(&10u16.to_le_bytes());
        vp8.extend_from_slice(&20u16.to_le_bytes());
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&((vp8.len() + 4) as u32).to_le_bytes());
        webp.extend_from_slice(b"WEBP");
        webp.extend(vp8);
        let p = props(&webp, "webp");
        assert_eq!(p.mime, "image/webp");
        assert_eq!((p.width, p.height, p.bits), (10, 20, 0));
        assert_eq!(
            p.metadata,
            json!([{"name": "compression", "value": "lossy"}, {"name": "width", "value": 10}, {"name": "height", "value": 20},
                   {"name": "metadata", "value": [{"name": "_MW_WEBP_VERSION", "value": 1}]}])
        );
        // Lossless and extended headers.
        let mut vp8l = b"VP8L\x05\x00\x00\x00\x2f".to_vec();
        // width-1 = 99 (bits 0-13), height-1 = 49 (bits 14-27).
        let bits: u32 = 99 | (49 << 14);
        vp8l.extend_from_slice(&bits.to_le_bytes());
        vp8l.push(0);
        let mut vp8x = b"VP8X\x0a\x00\x00\x00\x12\x00\x00\x00".to_vec();
        vp8x.extend_from_slice(&[99, 0, 0, 49, 0, 0]);
        let mut webp = b"RIFF\0\0\0\0WEBP".to_vec();
        webp.extend(vp8x);
        webp.extend(vp8l);
        let p = props(&webp, "webp");
        assert_eq!((p.width, p.height), (100, 50));
        assert_eq!(
            p.metadata,
            json!([{"name": "compression", "value": "lossless"}, {"name": "animated", "value": true},
                   {"name": "transparency", "value": true}, {"name": "width", "value": 100}, {"name": "height", "value": 50},
                   {"name": "metadata", "value": [{"name": "_MW_WEBP_VERSION", "value": 1}]}])
        );
    }

    #[test]
    fn svg_props() {
        let svg = concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><title>mwanchor test drawing</title></svg>"#
        );
        let p = props(svg.as_bytes(), "svg");
        assert_eq!(p.mime, "image/svg+xml");
        assert_eq!(p.media_type, "DRAWING");
        assert_eq!((p.width, p.height, p.bits), (120, 80, 0));
        assert_eq!(
            p.metadata,
            json!([{"name": "version", "value": 2}, {"name": "width", "value": 120}, {"name": "height", "value": 80},
                   {"name": "originalWidth", "value": "120"}, {"name": "originalHeight", "value": "80"},
                   {"name": "title", "value": "mwanchor test drawing"}, {"name": "translations", "value": []}])
        );
        assert_eq!(
            p.common_metadata,
            json!([{"name": "ObjectName", "value": "mwanchor test drawing"}])
        );
    }

    #[test]
    fn other_types() {
        let mut bmp = b"BM".to_vec();
        bmp.resize(18, 0);
        bmp.extend_from_slice(&7u32.to_le_bytes());
        bmp.extend_from_slice(&5u32.to_le_bytes());
        bmp.resize(60, 0);
        let p = props(&bmp, "bmp");
        assert_eq!(p.mime, "image/x-bmp");
        assert_eq!((p.width, p.height, p.bits), (7, 5, 0));
        assert_eq!(p.metadata, Value::Null);
        let mut xcf = b"gimp xcf file\0".to_vec();
        xcf.extend_from_slice(&30u32.to_be_bytes());
        xcf.extend_from_slice(&40u32.to_be_bytes());
        xcf.extend_from_slice(&1u32.to_be_bytes());
        let p = props(&xcf, "xcf");
        assert_eq!(p.mime, "image/x-xcf");
        assert_eq!((p.width, p.height, p.bits), (30, 40, 8));
        assert_eq!(
            p.metadata,
            json!([{"name": "colorType", "value": "greyscale-alpha"}])
        );
        let p = props(b"%PDF-1.4\n%%EOF\n", "pdf");
        assert_eq!(
            (p.mime.as_str(), p.media_type.as_str()),
            ("application/pdf", "OFFICE")
        );
        assert_eq!(p.metadata, Value::Null);
        assert_eq!(p.common_metadata, json!([]));
        let p = props(b"plain", "txt");
        assert_eq!(
            (p.mime.as_str(), p.media_type.as_str()),
            ("text/plain", "TEXT")
        );
        let p = props(b"\x01\x02\x03\x04garbage", "zzz");
        assert_eq!(
            (
                p.mime.as_str(),
                p.major_mime.as_str(),
                p.minor_mime.as_str()
            ),
            ("unknown/unknown", "unknown", "unknown")
        );
    }

    #[test]
    fn tiff_metadata() {
        let mut t = b"MM\0\x2a\0\0\0\x08\0\x03".to_vec();
        t.extend_from_slice(&[0x01, 0x00, 0, 3, 0, 0, 0, 1, 0, 9, 0, 0]);
        t.extend_from_slice(&[0x01, 0x01, 0, 3, 0, 0, 0, 1, 0, 4, 0, 0]);
        t.extend_from_slice(&[0x01, 0x0F, 0, 2, 0, 0, 0, 4, b'A', b'c', b'm', 0]);
        t.extend_from_slice(&[0, 0, 0, 0]);
        let p = props(&t, "tif");
        assert_eq!(p.mime, "image/tiff");
        assert_eq!((p.width, p.height), (9, 4));
        assert_eq!(
            p.metadata,
            json!([{"name": "ImageWidth", "value": 9}, {"name": "ImageLength", "value": 4}, {"name": "Make", "value": "Acm"},
                   {"name": "MEDIAWIKI_EXIF_VERSION", "value": 2}])
        );
    }

    #[test]
    fn flatten_for_version_1() {
        let m = json!([
            {"name": "ComponentsConfiguration", "value": [{"name": 0, "value": 1}, {"name": 1, "value": 2}, {"name": "_type", "value": "ol"}]},
            {"name": "JPEGFileComment", "value": [{"name": 0, "value": "a"}, {"name": 1, "value": "b"}]},
            {"name": "MEDIAWIKI_EXIF_VERSION", "value": 2}
        ]);
        let v1 = metadata_for_version(&m, "1");
        assert_eq!(
            v1,
            json!([{"name": "ComponentsConfiguration", "value": "\n#1\n#2"}, {"name": "JPEGFileComment", "value": "\n*a\n*b"},
                   {"name": "MEDIAWIKI_EXIF_VERSION", "value": 1}])
        );
        let png = json!([{"name": "frameCount", "value": 0}]);
        assert_eq!(metadata_for_version(&png, "1"), png);
    }

    #[test]
    fn crc_and_rationals() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert!(rational_ok(&PhpVal::Bytes(b"72/1".to_vec()), false));
        assert!(rational_ok(&PhpVal::Bytes(b"28/10".to_vec()), false));
        assert!(!rational_ok(&PhpVal::Bytes(b"1/0".to_vec()), false));
        assert!(!rational_ok(&PhpVal::Bytes(b"-1/3".to_vec()), false));
        assert!(rational_ok(&PhpVal::Bytes(b"-1/3".to_vec()), true));
    }
}
