//! The container structure of the other formats a wiki may allow: TIFF, PDF, WAV, MIDI,
//! MP3, Ogg, FLAC and WebM/Matroska. MediaWiki only sniffs their MIME type; here each file's
//! structure is walked the way any reader has to walk it: the file is complete, every
//! offset and length points inside it, sizes agree with each other, the parts every reader
//! needs are present and dimensions are not zero. Whatever follows the format's end is
//! refused when it holds an archive, an executable, markup or script, as after an image.
//!
//! The checks are strict about structure and lenient about what real writers get wrong and
//! readers repair: a RIFF's last pad byte, the placeholder sizes of a WAV written to a pipe,
//! a PDF's `startxref` a little off, junk between MP3 frames or a cut-off last frame, an Ogg
//! stream without its end-of-stream page. Audio and video data are not decoded, and a PDF's
//! JavaScript is not refused (it runs in the viewer's sandbox). Every walk reads each
//! structure once, in time linear in the file, and allocates no more than the file holds or
//! a fixed bound.

use std::collections::HashSet;
use std::io;
use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::io::Content;
use crate::raster::{check_region, foreign_in, has_markup, read_at};
use crate::verdict::VerificationError;

type Checked = io::Result<Result<(), VerificationError>>;

/// Bytes read at once when scanning.
const BLOCK: usize = 1 << 20;
/// Bytes kept between blocks so that a pattern across their edge is seen.
const OVERLAP: usize = 64;

/// Checks a file of MIME type `mime` (as sniffed from its content); other types pass.
pub fn check_container(content: &dyn Content, mime: &str) -> Checked {
    match mime {
        "image/tiff" => tiff(content),
        "application/pdf" => pdf(content),
        "audio/wav" | "audio/x-wav" | "audio/wave" => wav(content),
        "audio/midi" | "audio/mid" => midi(content),
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => mp3(content),
        "application/ogg" | "audio/ogg" | "video/ogg" | "audio/opus" => ogg(content),
        "audio/flac" | "audio/x-flac" => flac(content),
        "video/webm" | "audio/webm" => matroska(content, "WebM"),
        "video/x-matroska" | "audio/x-matroska" => matroska(content, "Matroska"),
        _ => Ok(Ok(())),
    }
}

fn malformed(format: &str, what: &str) -> Checked {
    Ok(Err(VerificationError::new(
        "uploaded-malformed-file",
        &[format, what],
    )))
}

/// Data after the format's end: refused when it is an archive, an executable or markup.
fn after_end(content: &dyn Content, end: u64, format: &str) -> Checked {
    check_region(
        content,
        end,
        content.len(),
        format,
        "uploaded-data-after-file",
        "data after the end of the file",
    )
}

/// Reads a [`Content`] through one buffer, for walks that make many small reads close
/// together.
struct Buffered<'a> {
    content: &'a dyn Content,
    start: u64,
    buf: Vec<u8>,
}

impl<'a> Buffered<'a> {
    fn new(content: &'a dyn Content) -> Self {
        Buffered {
            content,
            start: 0,
            buf: Vec::new(),
        }
    }

    /// `n` bytes at `pos`, or `None` when the file ends before them.
    fn get(&mut self, pos: u64, n: usize) -> io::Result<Option<&[u8]>> {
        let len = self.content.len();
        let Some(end) = pos.checked_add(n as u64).filter(|e| *e <= len) else {
            return Ok(None);
        };
        if pos < self.start || end > self.start + self.buf.len() as u64 {
            let want = usize::try_from((len - pos).min(BLOCK as u64))
                .unwrap_or(BLOCK)
                .max(n);
            match read_at(self.content, pos, want)? {
                Some(b) => {
                    self.buf = b;
                    self.start = pos;
                }
                None => return Ok(None),
            }
        }
        let at = usize::try_from(pos - self.start).unwrap_or(usize::MAX);
        Ok(self.buf.get(at..at.saturating_add(n)))
    }
}

// ---------------------------------------------------------------------------------------
// TIFF
// ---------------------------------------------------------------------------------------

/// Image directories a TIFF may chain (pages of a document, reduced-resolution copies).
const TIFF_MAX_IFDS: usize = 1 << 16;
/// Entries one image directory may have (real ones have a few dozen).
const TIFF_MAX_ENTRIES: u64 = 4096;
/// Values of a strip or tile array read at once.
const TIFF_VALUES_AT_ONCE: u64 = 8192;

const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const STRIP_OFFSETS: u16 = 273;
const STRIP_BYTE_COUNTS: u16 = 279;
const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;
const XMP: u16 = 700;
/// The tags a directory's layout is read from, in this order.
const LAYOUT_TAGS: [u16; 8] = [
    IMAGE_WIDTH,
    IMAGE_LENGTH,
    STRIP_OFFSETS,
    STRIP_BYTE_COUNTS,
    TILE_WIDTH,
    TILE_LENGTH,
    TILE_OFFSETS,
    TILE_BYTE_COUNTS,
];

fn bad_tiff(what: &str) -> VerificationError {
    VerificationError::new("uploaded-malformed-image", &["TIFF", what])
}

/// Bytes per value of a TIFF field type (BigTIFF's 64-bit types included); `None` for a
/// type the specification does not define (readers ignore such fields).
fn tiff_type_size(typ: u16) -> Option<u64> {
    match typ {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16..=18 => Some(8),
        _ => None,
    }
}

/// One directory entry: its type, count and raw value field (4 bytes, 8 in BigTIFF).
#[derive(Clone, Copy)]
struct Field {
    typ: u16,
    count: u64,
    value: [u8; 8],
}

struct Tiff<'a> {
    content: &'a dyn Content,
    len: u64,
    little: bool,
    big: bool,
    /// Bytes the walk may still read from directories and the arrays they point at: twice
    /// the file, so that directories sharing one huge array cannot make the walk quadratic.
    budget: u64,
}

impl Tiff<'_> {
    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }

    fn u64(&self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }

    /// An offset: 4 bytes, 8 in BigTIFF.
    fn offset(&self, b: &[u8]) -> u64 {
        if self.big {
            self.u64(b)
        } else {
            u64::from(self.u32(b))
        }
    }

    /// Bytes a value field holds in place.
    fn inline(&self) -> u64 {
        if self.big {
            8
        } else {
            4
        }
    }

    fn charge(&mut self, n: u64) -> Result<(), VerificationError> {
        if n > self.budget {
            return Err(bad_tiff(
                "its directories refer to more data than the file holds",
            ));
        }
        self.budget -= n;
        Ok(())
    }

    /// Values `from .. from + n` of an unsigned integer field (SHORT, LONG, IFD, LONG8 or
    /// IFD8), whose values are known to lie inside the file; `None` for another type.
    fn values(
        &mut self,
        f: &Field,
        from: u64,
        n: u64,
    ) -> io::Result<Result<Option<Vec<u64>>, VerificationError>> {
        let size = match f.typ {
            3 => 2,
            4 | 13 => 4,
            16 | 18 => 8,
            _ => return Ok(Ok(None)),
        };
        let bytes = if f.count * size <= self.inline() {
            let (a, b) = (from * size, (from + n) * size);
            f.value
                .get(usize::try_from(a).unwrap_or(0)..usize::try_from(b).unwrap_or(0))
                .map(<[u8]>::to_vec)
        } else {
            if let Err(e) = self.charge(n * size) {
                return Ok(Err(e));
            }
            let at = self.offset(&f.value) + from * size;
            read_at(self.content, at, usize::try_from(n * size).unwrap_or(0))?
        };
        let Some(bytes) = bytes else {
            return Ok(Err(bad_tiff("a directory entry lies outside the file")));
        };
        let size = usize::try_from(size).unwrap_or(8);
        Ok(Ok(Some(
            bytes
                .chunks_exact(size)
                .map(|c| match size {
                    2 => u64::from(self.u16(c)),
                    4 => u64::from(self.u32(c)),
                    _ => self.u64(c),
                })
                .collect(),
        )))
    }

    /// The first value of an unsigned integer field.
    fn first(&mut self, f: Option<Field>) -> io::Result<Result<Option<u64>, VerificationError>> {
        let Some(f) = f.filter(|f| f.count > 0) else {
            return Ok(Ok(None));
        };
        Ok(self
            .values(&f, 0, 1)?
            .map(|v| v.and_then(|v| v.first().copied())))
    }

    /// Walks the directory at `at`; returns the offset of the next one (0 at the end).
    fn ifd(&mut self, at: u64) -> io::Result<Result<u64, VerificationError>> {
        let header = if self.big { 16 } else { 8 };
        let (count_size, entry_size) = if self.big { (8u64, 20u64) } else { (2, 12) };
        if at < header {
            return Ok(Err(bad_tiff(
                "an image directory (IFD) offset points into the header",
            )));
        }
        if at >= self.len {
            return Ok(Err(bad_tiff(
                "an image directory (IFD) lies outside the file",
            )));
        }
        let Some(c) = read_at(self.content, at, count_size as usize)? else {
            return Ok(Err(bad_tiff(
                "an image directory (IFD) lies outside the file",
            )));
        };
        let count = if self.big {
            self.u64(&c)
        } else {
            u64::from(self.u16(&c))
        };
        if count == 0 {
            return Ok(Err(bad_tiff("an image directory (IFD) is empty")));
        }
        if count > TIFF_MAX_ENTRIES {
            return Ok(Err(bad_tiff(&format!(
                "an image directory (IFD) has more than {TIFF_MAX_ENTRIES} entries"
            ))));
        }
        let body = count * entry_size + self.inline();
        if at + count_size + body > self.len {
            return Ok(Err(bad_tiff(
                "an image directory (IFD) runs past the end of the file",
            )));
        }
        if let Err(e) = self.charge(body) {
            return Ok(Err(e));
        }
        let Some(raw) = read_at(self.content, at + count_size, body as usize)? else {
            return Ok(Err(bad_tiff(
                "an image directory (IFD) runs past the end of the file",
            )));
        };
        let entries_len = (count * entry_size) as usize;
        let mut fields: [Option<Field>; 8] = [None; 8];
        for e in raw[..entries_len].chunks_exact(entry_size as usize) {
            let tag = self.u16(&e[0..2]);
            let typ = self.u16(&e[2..4]);
            let (count, value_at) = if self.big {
                (self.u64(&e[4..12]), 12)
            } else {
                (u64::from(self.u32(&e[4..8])), 8)
            };
            let mut value = [0u8; 8];
            value[..e.len() - value_at].copy_from_slice(&e[value_at..]);
            let slot = LAYOUT_TAGS.iter().position(|t| *t == tag);
            let Some(size) = tiff_type_size(typ) else {
                if slot.is_some() {
                    return Ok(Err(bad_tiff(&format!("its tag {tag} has an unknown type"))));
                }
                // Readers skip a field of a type they do not know.
                continue;
            };
            let total = u128::from(count) * u128::from(size);
            if total > u128::from(self.inline()) {
                let off = self.offset(&value);
                if u128::from(off) + total > u128::from(self.len) {
                    return Ok(Err(bad_tiff(&format!(
                        "the value of its tag {tag} lies outside the file"
                    ))));
                }
                if typ == 2 || tag == XMP {
                    // Both checked above to lie inside the file.
                    if let Err(e) = self.charge(count) {
                        return Ok(Err(e));
                    }
                    if markup_between(self.content, off, off + count)? {
                        return Ok(Err(VerificationError::new(
                            "uploaded-markup-in-image",
                            &["TIFF", &format!("a text field (tag {tag})")],
                        )));
                    }
                }
            }
            if let Some(i) = slot {
                fields[i].get_or_insert(Field { typ, count, value });
            }
        }
        let next = self.offset(&raw[entries_len..]);
        let [width, length, strip_off, strip_len, tile_w, tile_l, tile_off, tile_len] = fields;
        let (w, h) = match (self.first(width)?, self.first(length)?) {
            (Ok(w), Ok(h)) => (w, h),
            (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
        };
        let (Some(w), Some(h)) = (w, h) else {
            return Ok(Err(bad_tiff(
                "an image directory has no width or height (ImageWidth, ImageLength)",
            )));
        };
        if w == 0 || h == 0 {
            return Ok(Err(bad_tiff("its width or height is 0")));
        }
        let checked = if tile_off.is_some() || tile_len.is_some() {
            let (tw, tl) = match (self.first(tile_w)?, self.first(tile_l)?) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
            };
            if tw.unwrap_or(0) == 0 || tl.unwrap_or(0) == 0 {
                return Ok(Err(bad_tiff("a tiled image has no tile width or length")));
            }
            self.pieces(tile_off, tile_len, "tile")?
        } else {
            self.pieces(strip_off, strip_len, "strip")?
        };
        Ok(checked.map(|()| next))
    }

    /// Checks that a directory's strips (or tiles) lie inside the file.
    fn pieces(
        &mut self,
        offsets: Option<Field>,
        counts: Option<Field>,
        what: &str,
    ) -> io::Result<Result<(), VerificationError>> {
        let (Some(offsets), Some(counts)) = (offsets, counts) else {
            return Ok(Err(bad_tiff(&format!(
                "an image directory has no {what} offsets or no {what} byte counts"
            ))));
        };
        if offsets.count != counts.count {
            return Ok(Err(bad_tiff(&format!(
                "its {what} offsets and {what} byte counts differ in number"
            ))));
        }
        if offsets.count == 0 {
            return Ok(Err(bad_tiff(&format!("an image has no {what}s"))));
        }
        let mut from = 0;
        while from < offsets.count {
            let n = (offsets.count - from).min(TIFF_VALUES_AT_ONCE);
            let (offs, lens) = match (
                self.values(&offsets, from, n)?,
                self.values(&counts, from, n)?,
            ) {
                (Ok(Some(o)), Ok(Some(l))) => (o, l),
                (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                _ => {
                    return Ok(Err(bad_tiff(&format!(
                        "its {what} offsets or byte counts are not integers"
                    ))))
                }
            };
            for (off, len) in offs.into_iter().zip(lens) {
                // A zero byte count is a tile or strip left out (a sparse image).
                if len != 0 && off.checked_add(len).is_none_or(|end| end > self.len) {
                    return Ok(Err(bad_tiff(&format!("a {what} lies outside the file"))));
                }
            }
            from += n;
        }
        Ok(Ok(()))
    }
}

/// Whether the bytes from `start` to `end` hold markup or script.
fn markup_between(content: &dyn Content, start: u64, end: u64) -> io::Result<bool> {
    let mut offset = start;
    let mut carry: Vec<u8> = Vec::new();
    while offset < end {
        let want = usize::try_from((end - offset).min(BLOCK as u64)).unwrap_or(BLOCK);
        let Some(block) = read_at(content, offset, want)? else {
            return Ok(false);
        };
        let mut window = std::mem::take(&mut carry);
        window.extend_from_slice(&block);
        if has_markup(&window) {
            return Ok(true);
        }
        carry = window[window.len().saturating_sub(OVERLAP)..].to_vec();
        offset += want as u64;
    }
    Ok(false)
}

fn tiff(content: &dyn Content) -> Checked {
    let len = content.len();
    let Some(h) = read_at(content, 0, 8)? else {
        return Ok(Err(bad_tiff("the file ends inside its header")));
    };
    let little = match &h[..2] {
        b"II" => true,
        b"MM" => false,
        _ => return Ok(Err(bad_tiff("its byte-order mark is not valid"))),
    };
    let mut t = Tiff {
        content,
        len,
        little,
        big: false,
        budget: len.saturating_mul(2).saturating_add(1 << 20),
    };
    let mut next = match t.u16(&h[2..4]) {
        42 => u64::from(t.u32(&h[4..8])),
        43 => {
            // BigTIFF: offsets of 8 bytes, then the first directory's offset.
            if t.u16(&h[4..6]) != 8 || t.u16(&h[6..8]) != 0 {
                return Ok(Err(bad_tiff("its BigTIFF header is not valid")));
            }
            let Some(o) = read_at(content, 8, 8)? else {
                return Ok(Err(bad_tiff("the file ends inside its header")));
            };
            t.big = true;
            t.u64(&o)
        }
        _ => return Ok(Err(bad_tiff("its version is not 42 (or 43, BigTIFF)"))),
    };
    if next == 0 {
        return Ok(Err(bad_tiff("it has no image directory (IFD)")));
    }
    let mut seen = HashSet::new();
    while next != 0 {
        if !seen.insert(next) {
            return Ok(Err(bad_tiff("its chain of image directories (IFDs) loops")));
        }
        if seen.len() > TIFF_MAX_IFDS {
            return Ok(Err(bad_tiff(&format!(
                "it has more than {TIFF_MAX_IFDS} image directories (IFDs)"
            ))));
        }
        match t.ifd(next)? {
            Ok(n) => next = n,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

// ---------------------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------------------

/// Bytes of junk readers tolerate before `%PDF-`.
const PDF_HEADER_SLACK: usize = 1024;
/// Bytes other than white space that may follow the final `%%EOF` (readers look for it in
/// the last KiB).
const PDF_TAIL_JUNK: u64 = 1024;

/// An indirect object's header, `N G obj`.
fn pdf_object_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?-u)(?:^|[^0-9])[0-9]{1,10}[\x00\t\n\x0c\r ]+[0-9]{1,5}[\x00\t\n\x0c\r ]*obj")
            .ok()
    })
    .as_ref()
}

/// The position of the first match of `find` in the bytes from `start` to `end`, scanned in
/// blocks that overlap by [`OVERLAP`] bytes (`find` returns a match's start in its window).
fn scan(
    content: &dyn Content,
    start: u64,
    end: u64,
    find: impl Fn(&[u8]) -> Option<usize>,
) -> io::Result<Option<u64>> {
    let end = end.min(content.len());
    let mut offset = start;
    while offset < end {
        let want = usize::try_from((end - offset).min(BLOCK as u64)).unwrap_or(BLOCK);
        let Some(block) = read_at(content, offset, want)? else {
            return Ok(None);
        };
        if let Some(p) = find(&block) {
            return Ok(Some(offset + p as u64));
        }
        if offset + want as u64 >= end {
            break;
        }
        offset += (want - OVERLAP.min(want - 1)) as u64;
    }
    Ok(None)
}

/// The position of the last `needle` at or after `start`, scanning backwards from the end.
fn rfind(content: &dyn Content, start: u64, needle: &[u8]) -> io::Result<Option<u64>> {
    let len = content.len();
    let mut end = len;
    while end > start {
        let from = end.saturating_sub(BLOCK as u64).max(start);
        // A few bytes past `end`, so that a needle across the edge is seen.
        let to = (end + needle.len() as u64).min(len);
        let Some(block) = read_at(content, from, usize::try_from(to - from).unwrap_or(0))? else {
            return Ok(None);
        };
        if let Some(p) = memchr::memmem::rfind(&block, needle) {
            return Ok(Some(from + p as u64));
        }
        end = from;
    }
    Ok(None)
}

/// Where a PDF's bytes end once trailing white space and NULs are left out (never before
/// `lo`).
fn pdf_trimmed_end(content: &dyn Content, lo: u64) -> io::Result<u64> {
    let mut end = content.len();
    while end > lo {
        let from = end.saturating_sub(BLOCK as u64).max(lo);
        let Some(block) = read_at(content, from, usize::try_from(end - from).unwrap_or(0))? else {
            return Ok(end);
        };
        match block
            .iter()
            .rposition(|b| !(b.is_ascii_whitespace() || *b == 0 || *b == 0x0c))
        {
            Some(p) => return Ok(from + p as u64 + 1),
            None => end = from,
        }
    }
    Ok(end)
}

fn pdf(content: &dyn Content) -> Checked {
    const F: &str = "PDF";
    let len = content.len();
    let head_len = usize::try_from(len.min(PDF_HEADER_SLACK as u64 + 16)).unwrap_or(0);
    let head = read_at(content, 0, head_len)?.unwrap_or_default();
    let Some(h) = memchr::memmem::find(&head, b"%PDF-").filter(|p| *p <= PDF_HEADER_SLACK) else {
        return malformed(F, "it does not start with a %PDF- header");
    };
    let v = &head[h + 5..];
    if !(v.len() >= 3 && v[0].is_ascii_digit() && v[1] == b'.' && v[2].is_ascii_digit()) {
        return malformed(F, "its %PDF- header has no version number");
    }
    let h = h as u64;
    // The document ends with %%EOF, give or take white space and a little junk: an earlier
    // %%EOF (of a first revision, or a linearized file's first page) is not its end.
    let trimmed = pdf_trimmed_end(content, h + 5)?;
    let from = trimmed.saturating_sub(PDF_TAIL_JUNK + 5).max(h + 5);
    let tail =
        read_at(content, from, usize::try_from(trimmed - from).unwrap_or(0))?.unwrap_or_default();
    let Some(eof) = memchr::memmem::rfind(&tail, b"%%EOF").map(|p| from + p as u64) else {
        let Some(earlier) = rfind(content, h + 5, b"%%EOF")? else {
            return malformed(F, "it has no %%EOF marker (the file may be truncated)");
        };
        if let Err(e) = after_end(content, earlier + 5, F)? {
            return Ok(Err(e));
        }
        return malformed(
            F,
            "it does not end with its %%EOF marker (the file may be truncated, or have data appended)",
        );
    };
    // The cross-reference data (`startxref`, `xref`) is not required to be right: viewers
    // rebuild it from the objects when it is missing or off, and hand-written PDFs often
    // lack it. What must be there is at least one complete indirect object.
    let Some(re) = pdf_object_regex() else {
        return malformed(F, "it has no indirect object");
    };
    let object = scan(content, h, eof, |w| re.find(w).map(|m| m.start()))?;
    let ended = match object {
        Some(at) => scan(content, at, eof, |w| memchr::memmem::find(w, b"endobj"))?,
        None => None,
    };
    if ended.is_none() {
        return malformed(F, "it has no indirect object (N G obj ... endobj)");
    }
    after_end(content, eof + 5, F)
}

// ---------------------------------------------------------------------------------------
// WAV
// ---------------------------------------------------------------------------------------

/// A RIFF or chunk size a writer leaves when it cannot go back to fill in the real one (it
/// wrote to a pipe): ffmpeg writes 0xFFFFFFFF, sox a size just under 2 GiB, others 0.
fn placeholder_size(size: u32) -> bool {
    size == 0 || size >= 0x7fff_0000
}

fn wav(content: &dyn Content) -> Checked {
    const F: &str = "WAV";
    let len = content.len();
    let Some(head) = read_at(content, 0, 12)? else {
        return malformed(F, "the file ends inside its RIFF header");
    };
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return malformed(F, "its RIFF header is not valid");
    }
    let riff_size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let declared_end = 8 + u64::from(riff_size);
    let streamed = placeholder_size(riff_size) && (riff_size == 0 || declared_end > len + 1);
    // A missing pad byte after the last chunk is a common slip, and harmless.
    if declared_end > len + 1 && !streamed {
        return malformed(F, "the file is shorter than its RIFF header says");
    }
    let riff_end = if streamed { len } else { declared_end.min(len) };
    let mut pos = 12u64;
    let mut fmt = false;
    let mut data = false;
    while pos + 8 <= riff_end {
        let Some(ch) = read_at(content, pos, 8)? else {
            return malformed(F, "the file ends inside a chunk");
        };
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let size32 = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        let size = u64::from(size32);
        let mut end = pos + 8 + size;
        if end > riff_end {
            if streamed && &id == b"data" && placeholder_size(size32) {
                end = riff_end;
            } else {
                let name = String::from_utf8_lossy(&id).into_owned();
                return malformed(
                    F,
                    &format!("its \"{name}\" chunk runs past the end of the file"),
                );
            }
        }
        match &id {
            b"fmt " => {
                if data {
                    return malformed(F, "its data chunk comes before its fmt chunk");
                }
                if size < 14 {
                    return malformed(F, "its fmt chunk is too short");
                }
                let Some(f) = read_at(
                    content,
                    pos + 8,
                    usize::try_from(size.min(16)).unwrap_or(16),
                )?
                else {
                    return malformed(F, "the file ends inside a chunk");
                };
                if let Err(e) = wav_format(&f) {
                    return Ok(Err(e));
                }
                fmt = true;
            }
            b"data" => {
                if !fmt {
                    return malformed(F, "its data chunk comes before its fmt chunk");
                }
                data = true;
            }
            _ => {}
        }
        pos = end;
        if size & 1 == 1 && end < riff_end {
            pos += 1;
            // Some writers leave out the pad byte after an odd-sized chunk: when the next
            // chunk's name only makes sense without it, go by that.
            if let Some(b) = read_at(content, end, 5)? {
                if !is_chunk_id(&b[1..5]) && is_chunk_id(&b[..4]) {
                    pos = end;
                }
            }
        }
    }
    if !fmt {
        return malformed(F, "it has no fmt chunk");
    }
    if !data {
        return malformed(F, "it has no data chunk");
    }
    after_end(content, riff_end, F)
}

fn is_chunk_id(id: &[u8]) -> bool {
    id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ')
}

/// Checks the first 14 or 16 bytes of a `fmt ` chunk.
fn wav_format(f: &[u8]) -> Result<(), VerificationError> {
    const F: &str = "WAV";
    let bad = |what: &str| VerificationError::new("uploaded-malformed-file", &[F, what]);
    let tag = u16::from_le_bytes([f[0], f[1]]);
    let channels = u16::from_le_bytes([f[2], f[3]]);
    let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
    let align = u16::from_le_bytes([f[12], f[13]]);
    if channels == 0 {
        return Err(bad("its fmt chunk declares no channels"));
    }
    if rate == 0 {
        return Err(bad("its fmt chunk declares a sample rate of 0"));
    }
    if align == 0 {
        return Err(bad("its fmt chunk declares a block size of 0"));
    }
    // PCM, IEEE float and WAVE_FORMAT_EXTENSIBLE (whose sample size is the container's):
    // a block is one sample of every channel.
    if matches!(tag, 1 | 3 | 0xfffe) && f.len() >= 16 {
        let bits = u16::from_le_bytes([f[14], f[15]]);
        if bits == 0 {
            return Err(bad("its fmt chunk declares samples of 0 bits"));
        }
        if u32::from(align) != u32::from(channels) * u32::from(bits).div_ceil(8) {
            return Err(bad(
                "its block size does not match its channels and sample size",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// MIDI
// ---------------------------------------------------------------------------------------

fn midi(content: &dyn Content) -> Checked {
    const F: &str = "MIDI";
    let len = content.len();
    let Some(h) = read_at(content, 0, 14)? else {
        return malformed(F, "the file ends inside its header");
    };
    if &h[..4] != b"MThd" {
        return malformed(F, "it does not start with an MThd header");
    }
    let header_len = u64::from(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
    if header_len < 6 {
        return malformed(F, "its header chunk is too short");
    }
    let format = u16::from_be_bytes([h[8], h[9]]);
    let tracks = u16::from_be_bytes([h[10], h[11]]);
    let division = u16::from_be_bytes([h[12], h[13]]);
    if format > 2 {
        return malformed(F, "its format is not 0, 1 or 2");
    }
    if tracks == 0 {
        return malformed(F, "its header declares no tracks");
    }
    // Ticks per quarter note, or (top bit set) SMPTE frames and ticks per frame.
    let ticks = if division & 0x8000 != 0 {
        division & 0xff
    } else {
        division
    };
    if ticks == 0 {
        return malformed(F, "its time division is 0");
    }
    let mut pos = 8 + header_len;
    if pos > len {
        return malformed(F, "the file ends inside its header");
    }
    let mut found = 0usize;
    while pos + 8 <= len {
        let Some(ch) = read_at(content, pos, 8)? else {
            break;
        };
        if !ch[..4].iter().all(u8::is_ascii_graphic) {
            // Not a chunk: what follows is data after the end.
            break;
        }
        let end = pos + 8 + u64::from(u32::from_be_bytes([ch[4], ch[5], ch[6], ch[7]]));
        let track = &ch[..4] == b"MTrk";
        if end > len {
            return malformed(
                F,
                if track {
                    "a track runs past the end of the file"
                } else {
                    "a chunk runs past the end of the file"
                },
            );
        }
        if track {
            found += 1;
        }
        pos = end;
    }
    if pos < len && pos + 8 > len {
        let rest =
            read_at(content, pos, usize::try_from(len - pos).unwrap_or(0))?.unwrap_or_default();
        if b"MTrk".starts_with(&rest[..rest.len().min(4)]) {
            return malformed(F, "the file ends inside a track header");
        }
    }
    if found == 0 {
        return malformed(F, "it has no track (MTrk chunk)");
    }
    after_end(content, pos, F)
}

// ---------------------------------------------------------------------------------------
// MP3 (MPEG audio)
// ---------------------------------------------------------------------------------------

/// Consecutive frames that make the start of an MPEG audio stream (fewer when the file
/// ends first): a random frame sync in other data is rarely followed by two more.
const MP3_RUN: usize = 3;
/// How far after the leading tags the first frame is looked for.
const MP3_FIRST_SEARCH: u64 = 1 << 20;
/// The longest run of junk between frames that the walk skips to find frames again.
const MP3_MAX_GAP: u64 = 64 << 10;

#[derive(Clone, Copy)]
struct MpegFrame {
    version: u8,
    layer: u8,
    rate: u8,
    len: u64,
}

impl MpegFrame {
    fn same_stream(&self, other: &MpegFrame) -> bool {
        (self.version, self.layer, self.rate) == (other.version, other.layer, other.rate)
    }
}

/// The MPEG audio frame header in `h` (4 bytes), if it is a valid one with a bit rate.
fn mpeg_frame(h: &[u8]) -> Option<MpegFrame> {
    if h.len() < 4 || h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    // Version: 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5. Layer: 3 I, 2 II, 1 III.
    let version = (h[1] >> 3) & 3;
    let layer = (h[1] >> 1) & 3;
    let bitrate_index = usize::from(h[2] >> 4);
    let rate = (h[2] >> 2) & 3;
    let padding = u64::from((h[2] >> 1) & 1);
    if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate == 3 {
        return None;
    }
    if h[3] & 3 == 2 {
        // A reserved emphasis.
        return None;
    }
    const V1: [[u64; 15]; 3] = [
        [
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
    ];
    const V2: [[u64; 15]; 2] = [
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let kbps = match (version, layer) {
        (3, 3) => V1[0][bitrate_index],
        (3, 2) => V1[1][bitrate_index],
        (3, _) => V1[2][bitrate_index],
        (_, 3) => V2[0][bitrate_index],
        _ => V2[1][bitrate_index],
    };
    let base: u64 = [44_100, 48_000, 32_000][usize::from(rate)];
    let hz = match version {
        3 => base,
        2 => base / 2,
        _ => base / 4,
    };
    let bps = kbps * 1000;
    let len = match layer {
        3 => (12 * bps / hz + padding) * 4,
        2 => 144 * bps / hz + padding,
        _ if version == 3 => 144 * bps / hz + padding,
        _ => 72 * bps / hz + padding,
    };
    Some(MpegFrame {
        version,
        layer,
        rate,
        len,
    })
}

enum Id3 {
    None,
    Invalid,
    /// A tag ending there.
    Tag(u64),
}

/// An ID3v2 tag at `pos`.
fn id3v2_at(r: &mut Buffered, pos: u64) -> io::Result<Id3> {
    let Some(h) = r.get(pos, 10)? else {
        return Ok(Id3::None);
    };
    if &h[..3] != b"ID3" {
        return Ok(Id3::None);
    }
    if !(2..=4).contains(&h[3]) || h[4] == 0xff || h[6..10].iter().any(|b| b & 0x80 != 0) {
        return Ok(Id3::Invalid);
    }
    let size = h[6..10].iter().fold(0u64, |s, b| (s << 7) | u64::from(*b));
    let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
    Ok(Id3::Tag(pos + 10 + size + footer))
}

/// Where the tags at the end of an MP3 (ID3v1, Lyrics3, APE, an appended ID3v2) start;
/// never before `lo`.
fn mp3_tail_tags(r: &mut Buffered, lo: u64, len: u64) -> io::Result<u64> {
    let mut end = len;
    for _ in 0..8 {
        let at = {
            let end = end;
            move |n: u64| end.checked_sub(n).filter(|p| *p >= lo)
        };
        if let Some(p) = at(128) {
            if r.get(p, 3)? == Some(b"TAG") {
                end = p;
                if let Some(q) = at(227) {
                    if r.get(q, 4)? == Some(b"TAG+") {
                        end = q;
                    }
                }
                continue;
            }
        }
        if let Some(p) = at(32) {
            if let Some(f) = r.get(p, 32)? {
                if &f[..8] == b"APETAGEX" {
                    let size = u64::from(u32::from_le_bytes([f[12], f[13], f[14], f[15]]));
                    let flags = u32::from_le_bytes([f[20], f[21], f[22], f[23]]);
                    let total = size + if flags & 0x8000_0000 != 0 { 32 } else { 0 };
                    if let Some(start) = at(total).filter(|_| size >= 32) {
                        end = start;
                        continue;
                    }
                }
            }
        }
        if let Some(p) = at(15) {
            if let Some(f) = r.get(p, 15)? {
                if &f[6..] == b"LYRICS200" {
                    let n = std::str::from_utf8(&f[..6])
                        .ok()
                        .and_then(|d| d.parse::<u64>().ok());
                    if let Some(start) = n.and_then(|n| at(15 + n)) {
                        if r.get(start, 11)? == Some(b"LYRICSBEGIN") {
                            end = start;
                            continue;
                        }
                    }
                }
            }
        }
        if let Some(p) = at(10) {
            if let Some(f) = r.get(p, 10)? {
                if &f[..3] == b"3DI" && f[6..10].iter().all(|b| b & 0x80 == 0) {
                    let size = f[6..10].iter().fold(0u64, |s, b| (s << 7) | u64::from(*b));
                    if let Some(start) = at(20 + size) {
                        if r.get(start, 3)? == Some(b"ID3") {
                            end = start;
                            continue;
                        }
                    }
                }
            }
        }
        break;
    }
    Ok(end)
}

/// The first position in `from..to` where [`MP3_RUN`] frames of one stream follow each
/// other (or fewer that end exactly at `end`), with its first frame.
fn mp3_run(r: &mut Buffered, from: u64, to: u64, end: u64) -> io::Result<Option<(u64, MpegFrame)>> {
    let mut p = from;
    while p < to {
        let Some(h) = r.get(p, 4)? else {
            return Ok(None);
        };
        if h[0] != 0xff {
            p += 1;
            continue;
        }
        if let Some(first) = mpeg_frame(h) {
            let mut q = p + first.len;
            let mut n = 1;
            let mut ok = q <= end;
            while ok && n < MP3_RUN && q < end {
                match r.get(q, 4)?.and_then(mpeg_frame) {
                    Some(f) if f.same_stream(&first) && q + f.len <= end => {
                        q += f.len;
                        n += 1;
                    }
                    _ => ok = false,
                }
            }
            if ok {
                return Ok(Some((p, first)));
            }
        }
        p += 1;
    }
    Ok(None)
}

/// Refuses an archive, an executable or markup in junk between MP3 frames.
fn mp3_gap(content: &dyn Content, start: u64, end: u64) -> Checked {
    const F: &str = "MP3";
    if start >= end {
        return Ok(Ok(()));
    }
    // A gap is at most MP3_FIRST_SEARCH bytes long.
    let Some(gap) = read_at(content, start, usize::try_from(end - start).unwrap_or(0))? else {
        return Ok(Ok(()));
    };
    if let Some(what) = foreign_in(&gap) {
        return malformed(F, &format!("it holds {what} between its audio frames"));
    }
    if has_markup(&gap) {
        return Ok(Err(VerificationError::new(
            "uploaded-markup-in-image",
            &[F, "data between its audio frames"],
        )));
    }
    Ok(Ok(()))
}

fn mp3(content: &dyn Content) -> Checked {
    const F: &str = "MP3";
    let len = content.len();
    let mut r = Buffered::new(content);
    let mut pos = 0u64;
    loop {
        match id3v2_at(&mut r, pos)? {
            Id3::None => break,
            Id3::Invalid => return malformed(F, "its ID3 tag header is not valid"),
            Id3::Tag(end) if end <= len => pos = end,
            Id3::Tag(_) => return malformed(F, "its ID3 tag runs past the end of the file"),
        }
    }
    let audio_end = mp3_tail_tags(&mut r, pos, len)?;
    let search_end = (pos + MP3_FIRST_SEARCH).min(audio_end);
    let Some((start, mut current)) = mp3_run(&mut r, pos, search_end, audio_end)? else {
        return malformed(F, "it has no MPEG audio frames");
    };
    if let Err(e) = mp3_gap(content, pos, start)? {
        return Ok(Err(e));
    }
    pos = start + current.len;
    while pos < audio_end {
        // A tag in the middle: files joined together.
        if let Id3::Tag(end) = id3v2_at(&mut r, pos)? {
            if end <= audio_end {
                pos = end;
                continue;
            }
        }
        if let Some(f) = r.get(pos, 4)?.and_then(mpeg_frame) {
            if f.same_stream(&current) && pos + f.len <= audio_end {
                pos += f.len;
                current = f;
                continue;
            }
        }
        let limit = (pos + MP3_MAX_GAP).min(audio_end);
        let Some((next, f)) = mp3_run(&mut r, pos, limit, audio_end)? else {
            break;
        };
        if let Err(e) = mp3_gap(content, pos, next)? {
            return Ok(Err(e));
        }
        pos = next + f.len;
        current = f;
    }
    // What is left before the tags at the end: a cut-off last frame, or data appended.
    check_region(
        content,
        pos.min(audio_end),
        audio_end,
        F,
        "uploaded-data-after-file",
        "data after the end of the file",
    )
}

// ---------------------------------------------------------------------------------------
// Ogg
// ---------------------------------------------------------------------------------------

/// Logical streams an Ogg file may have open at once (a video's tracks).
const OGG_MAX_STREAMS: usize = 256;

/// Ogg's CRC-32: polynomial 0x04c11db7, not reflected, no initial or final inversion.
const OGG_CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

fn ogg_crc(crc: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(crc, |crc, b| {
        (crc << 8) ^ OGG_CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)]
    })
}

fn ogg(content: &dyn Content) -> Checked {
    const F: &str = "Ogg";
    let len = content.len();
    let mut pos = 0u64;
    let mut pages = 0u64;
    let mut open: HashSet<u32> = HashSet::new();
    let mut ended: HashSet<u32> = HashSet::new();
    while pos < len {
        let Some(h) = read_at(content, pos, 27)? else {
            if pages == 0 {
                return malformed(F, "the file ends inside its first page");
            }
            break;
        };
        if &h[..4] != b"OggS" {
            if pages == 0 {
                return malformed(F, "it does not start with an Ogg page");
            }
            // Not a page: what follows is data after the end.
            break;
        }
        if h[4] != 0 {
            return malformed(F, "a page has an unknown version");
        }
        let segments = usize::from(h[26]);
        let Some(table) = read_at(content, pos + 27, segments)? else {
            return malformed(F, "the file ends inside a page");
        };
        let body: u64 = table.iter().map(|s| u64::from(*s)).sum();
        let page_len = 27 + segments as u64 + body;
        if pos + page_len > len {
            return malformed(F, "the file ends inside a page");
        }
        let Some(mut page) = read_at(content, pos, usize::try_from(page_len).unwrap_or(0))? else {
            return malformed(F, "the file ends inside a page");
        };
        let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
        page[22..26].fill(0);
        if ogg_crc(0, &page) != stored {
            return malformed(F, &format!("the checksum of page {pages} is wrong"));
        }
        let flags = h[5];
        let serial = u32::from_le_bytes([h[14], h[15], h[16], h[17]]);
        let begins = flags & 2 != 0;
        if pages == 0 && !begins {
            return malformed(F, "its first page does not begin a stream");
        }
        if begins {
            if open.contains(&serial) || ended.contains(&serial) {
                return malformed(F, "a logical stream is begun twice");
            }
            if open.len() >= OGG_MAX_STREAMS {
                return malformed(
                    F,
                    &format!("it has more than {OGG_MAX_STREAMS} streams open at once"),
                );
            }
            open.insert(serial);
        } else if !open.contains(&serial) {
            return malformed(F, "a page belongs to a stream that was not begun");
        }
        if flags & 4 != 0 {
            open.remove(&serial);
            // Only the serial numbers of streams that may still be referred to are kept.
            if open.is_empty() {
                ended.clear();
            } else {
                ended.insert(serial);
            }
        }
        pos += page_len;
        pages += 1;
    }
    after_end(content, pos, F)
}

// ---------------------------------------------------------------------------------------
// FLAC
// ---------------------------------------------------------------------------------------

fn flac(content: &dyn Content) -> Checked {
    const F: &str = "FLAC";
    let len = content.len();
    if read_at(content, 0, 4)?.as_deref() != Some(b"fLaC") {
        return malformed(F, "it does not start with fLaC");
    }
    let mut pos = 4u64;
    let mut first = true;
    loop {
        let Some(h) = read_at(content, pos, 4)? else {
            return malformed(F, "the file ends inside its metadata");
        };
        let last = h[0] & 0x80 != 0;
        let kind = h[0] & 0x7f;
        let size = u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
        if kind == 127 {
            return malformed(F, "a metadata block has an invalid type");
        }
        let end = pos + 4 + size;
        if end > len {
            return malformed(F, "a metadata block runs past the end of the file");
        }
        if first {
            if kind != 0 || size != 34 {
                return malformed(F, "it does not start with a STREAMINFO block");
            }
            let Some(s) = read_at(content, pos + 4, 34)? else {
                return malformed(F, "the file ends inside its metadata");
            };
            let min_block = u16::from_be_bytes([s[0], s[1]]);
            let max_block = u16::from_be_bytes([s[2], s[3]]);
            let rate = (u32::from(s[10]) << 12) | (u32::from(s[11]) << 4) | u32::from(s[12] >> 4);
            if min_block < 16 || max_block < min_block {
                return malformed(F, "its STREAMINFO block sizes are not valid");
            }
            if rate == 0 {
                return malformed(F, "its STREAMINFO sample rate is 0");
            }
            first = false;
        } else if kind == 0 {
            return malformed(F, "it has a second STREAMINFO block");
        }
        pos = end;
        if last {
            break;
        }
    }
    // A frame header starts with the sync code 0b11111111_1111100x.
    match read_at(content, pos, 2)? {
        Some(s) if s[0] == 0xff && s[1] & 0xfe == 0xf8 => Ok(Ok(())),
        Some(_) => malformed(F, "no audio frame follows its metadata"),
        None => malformed(F, "it has no audio frames"),
    }
}

// ---------------------------------------------------------------------------------------
// WebM / Matroska (EBML)
// ---------------------------------------------------------------------------------------

const EBML_HEADER: u32 = 0x1a45_dfa3;
const EBML_DOCTYPE: u32 = 0x4282;
const EBML_VOID: u32 = 0xec;
const MKV_SEGMENT: u32 = 0x1853_8067;
const MKV_INFO: u32 = 0x1549_a966;
const MKV_TRACKS: u32 = 0x1654_ae6b;
/// The elements a Segment holds (SeekHead, Info, Tracks, Cluster, Cues, Attachments,
/// Chapters, Tags): one of them ends a sibling of unknown size.
const MKV_LEVEL1: [u32; 8] = [
    0x114d_9b74,
    MKV_INFO,
    MKV_TRACKS,
    0x1f43_b675,
    0x1c53_bb6b,
    0x1941_a469,
    0x1043_a770,
    0x1254_c367,
];

enum Ebml {
    /// The file ends inside the element's header.
    Eof,
    /// Not a valid ID or size.
    Invalid,
    /// An element: its ID, where its data starts and its size (`None`: unknown, as live
    /// streams write it).
    Element {
        id: u32,
        data: u64,
        size: Option<u64>,
    },
}

/// An EBML variable-length integer at `pos` of at most `max` bytes: its value (with the
/// length marker for IDs, without for sizes) and length; `None` for an all-ones size.
fn ebml_vint(
    r: &mut Buffered,
    pos: u64,
    max: u32,
    id: bool,
) -> io::Result<Result<(Option<u64>, u64), bool>> {
    let Some(b) = r.get(pos, 1)? else {
        return Ok(Err(true));
    };
    let n = b[0].leading_zeros() + 1;
    if n > max {
        return Ok(Err(false));
    }
    let Some(bytes) = r.get(pos, n as usize)? else {
        return Ok(Err(true));
    };
    let first = if id {
        u64::from(bytes[0])
    } else {
        u64::from(bytes[0]) & (0xff >> n)
    };
    let value = bytes[1..]
        .iter()
        .fold(first, |v, b| (v << 8) | u64::from(*b));
    let unknown = !id && value == (1u64 << (7 * n)) - 1;
    Ok(Ok(((!unknown).then_some(value), u64::from(n))))
}

fn ebml_element(r: &mut Buffered, pos: u64) -> io::Result<Ebml> {
    let (id, id_len) = match ebml_vint(r, pos, 4, true)? {
        Ok((Some(id), n)) => (id, n),
        Ok((None, _)) | Err(false) => return Ok(Ebml::Invalid),
        Err(true) => return Ok(Ebml::Eof),
    };
    let (size, size_len) = match ebml_vint(r, pos + id_len, 8, false)? {
        Ok(v) => v,
        Err(false) => return Ok(Ebml::Invalid),
        Err(true) => return Ok(Ebml::Eof),
    };
    Ok(Ebml::Element {
        id: u32::try_from(id).unwrap_or(0),
        data: pos + id_len + size_len,
        size,
    })
}

/// Walks the children of an element of unknown size from `start`, up to `end` or to the
/// first element that is its sibling; returns where it stopped.
fn mkv_unknown_size(
    r: &mut Buffered,
    start: u64,
    end: u64,
    format: &str,
) -> io::Result<Result<u64, VerificationError>> {
    let bad = |what: &str| VerificationError::new("uploaded-malformed-file", &[format, what]);
    let mut pos = start;
    while pos < end {
        match ebml_element(r, pos)? {
            Ebml::Element { id, .. }
                if MKV_LEVEL1.contains(&id) || id == EBML_HEADER || id == MKV_SEGMENT =>
            {
                return Ok(Ok(pos));
            }
            Ebml::Element {
                data,
                size: Some(size),
                ..
            } => match data.checked_add(size).filter(|e| *e <= end) {
                Some(e) => pos = e,
                None => return Ok(Err(bad("an element runs past the end of the file"))),
            },
            Ebml::Element { size: None, .. } => {
                return Ok(Err(bad("an element of unknown size is nested in another")))
            }
            Ebml::Eof => return Ok(Err(bad("the file ends inside an element header"))),
            Ebml::Invalid => return Ok(Err(bad("an element has an invalid ID or size"))),
        }
    }
    Ok(Ok(pos))
}

/// Walks a Segment's elements from `start` to `end` (the file's end when its size is
/// unknown); returns where it stopped.
fn mkv_segment(
    r: &mut Buffered,
    start: u64,
    end: u64,
    unknown: bool,
    format: &str,
) -> io::Result<Result<u64, VerificationError>> {
    let bad = |what: &str| VerificationError::new("uploaded-malformed-file", &[format, what]);
    let mut pos = start;
    let (mut info, mut tracks) = (false, false);
    while pos < end {
        match ebml_element(r, pos)? {
            Ebml::Eof => return Ok(Err(bad("the file ends inside an element header"))),
            Ebml::Invalid => return Ok(Err(bad("an element has an invalid ID or size"))),
            Ebml::Element { id, .. } if unknown && (id == EBML_HEADER || id == MKV_SEGMENT) => {
                break;
            }
            Ebml::Element { id, data, size } => {
                info |= id == MKV_INFO;
                tracks |= id == MKV_TRACKS;
                pos = match size {
                    Some(size) => match data.checked_add(size).filter(|e| *e <= end) {
                        Some(e) => e,
                        None => return Ok(Err(bad("an element runs past the end of its Segment"))),
                    },
                    None => match mkv_unknown_size(r, data, end, format)? {
                        Ok(e) => e,
                        Err(e) => return Ok(Err(e)),
                    },
                };
            }
        }
    }
    if !info || !tracks {
        return Ok(Err(bad("its Segment has no Info or no Tracks element")));
    }
    Ok(Ok(pos))
}

fn matroska(content: &dyn Content, format: &str) -> Checked {
    let len = content.len();
    let mut r = Buffered::new(content);
    let Ebml::Element {
        id: EBML_HEADER,
        data,
        size: Some(size),
    } = ebml_element(&mut r, 0)?
    else {
        return malformed(format, "it does not start with an EBML header");
    };
    let Some(header_end) = data.checked_add(size).filter(|e| *e <= len) else {
        return malformed(format, "the file ends inside its EBML header");
    };
    let mut doctype: Option<Vec<u8>> = None;
    let mut pos = data;
    while pos < header_end {
        match ebml_element(&mut r, pos)? {
            Ebml::Element {
                id,
                data,
                size: Some(size),
            } if data.checked_add(size).is_some_and(|e| e <= header_end) => {
                if id == EBML_DOCTYPE && size <= 64 {
                    doctype = r
                        .get(data, usize::try_from(size).unwrap_or(0))?
                        .map(<[u8]>::to_vec);
                }
                pos = data + size;
            }
            _ => return malformed(format, "its EBML header is not valid"),
        }
    }
    let doctype = doctype.unwrap_or_default();
    let doctype = doctype.split(|b| *b == 0).next().unwrap_or_default();
    if doctype != b"webm" && doctype != b"matroska" {
        return malformed(format, "its DocType is not webm or matroska");
    }
    let mut pos = header_end;
    let mut segments = 0;
    loop {
        match ebml_element(&mut r, pos)? {
            Ebml::Element {
                id: MKV_SEGMENT,
                data,
                size,
            } => {
                let end = match size {
                    Some(size) => match data.checked_add(size).filter(|e| *e <= len) {
                        Some(e) => e,
                        None => return malformed(format, "the file ends inside its Segment"),
                    },
                    None => len,
                };
                match mkv_segment(&mut r, data, end, size.is_none(), format)? {
                    Ok(stop) => pos = stop,
                    Err(e) => return Ok(Err(e)),
                }
                segments += 1;
            }
            Ebml::Element {
                id: EBML_VOID,
                data,
                size: Some(size),
            } if data.checked_add(size).is_some_and(|e| e <= len) => pos = data + size,
            _ => break,
        }
    }
    if segments == 0 {
        return malformed(format, "it has no Segment");
    }
    after_end(content, pos, format)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The verdict key for `bytes` checked as `mime` (`None`: accepted).
    fn key(bytes: &[u8], mime: &str) -> Option<String> {
        check_container(&bytes, mime).unwrap().err().map(|e| e.key)
    }

    /// The verdict's key and its last parameter (what is wrong).
    fn why(bytes: &[u8], mime: &str) -> Option<(String, String)> {
        check_container(&bytes, mime)
            .unwrap()
            .err()
            .map(|e| (e.key, e.params.last().cloned().unwrap_or_default()))
    }

    fn with(mut a: Vec<u8>, b: &[u8]) -> Vec<u8> {
        a.extend_from_slice(b);
        a
    }

    const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00payload.txt";

    /// A reproducible stream of pseudo-random bytes.
    fn noise(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (seed >> 33) as u8
            })
            .collect()
    }

    // --- TIFF ---------------------------------------------------------------------------

    /// One directory entry for [`tiff_file`]: tag, type, count and the values, each written
    /// in the type's size (a RATIONAL as two LONG values).
    type Entry = (u16, u16, u64, Vec<u64>);

    /// A TIFF (BigTIFF when `big`) whose image data `data` starts right after the header
    /// and whose one directory follows it, out-of-line values after the directory.
    pub(crate) fn tiff_file(little: bool, big: bool, entries: &[Entry], data: &[u8]) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u64, size: usize| {
            let b = v.to_le_bytes();
            let mut b = b[..size].to_vec();
            if !little {
                b.reverse();
            }
            out.extend_from_slice(&b);
        };
        let (header, count_size, entry_size, inline) =
            if big { (16, 8, 20, 8) } else { (8, 2, 12, 4) };
        let mut out = Vec::new();
        out.extend_from_slice(if little { b"II" } else { b"MM" });
        let ifd_at = (header + data.len() as u64 + 1) & !1;
        if big {
            put(&mut out, 43, 2);
            put(&mut out, 8, 2);
            put(&mut out, 0, 2);
            put(&mut out, ifd_at, 8);
        } else {
            put(&mut out, 42, 2);
            put(&mut out, ifd_at, 4);
        }
        out.extend_from_slice(data);
        out.resize(ifd_at as usize, 0);
        let mut extra_at =
            ifd_at + count_size as u64 + (entries.len() * entry_size) as u64 + inline as u64;
        let mut extra = Vec::new();
        put(&mut out, entries.len() as u64, count_size);
        for (tag, typ, count, values) in entries {
            let size = match typ {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                16..=18 => 8,
                _ => 4,
            };
            let mut bytes = Vec::new();
            for v in values {
                put(&mut bytes, *v, size);
            }
            put(&mut out, u64::from(*tag), 2);
            put(&mut out, u64::from(*typ), 2);
            put(&mut out, *count, inline);
            if bytes.len() <= inline {
                bytes.resize(inline, 0);
                out.extend_from_slice(&bytes);
            } else {
                put(&mut out, extra_at, inline);
                extra_at += bytes.len() as u64;
                extra.extend_from_slice(&bytes);
            }
        }
        put(&mut out, 0, inline);
        out.extend_from_slice(&extra);
        out
    }

    /// The entries of an uncompressed 2×2 8-bit grey image in two strips of one row each
    /// at `strips` (2 bytes each), with a description and a resolution.
    fn grey_2x2(strips: [u64; 2]) -> Vec<Entry> {
        let text = b"a 2x2 test image\0"
            .iter()
            .map(|b| u64::from(*b))
            .collect();
        vec![
            (256, 3, 1, vec![2]),
            (257, 3, 1, vec![2]),
            (258, 3, 1, vec![8]),
            (259, 3, 1, vec![1]),
            (262, 3, 1, vec![1]),
            (270, 2, 17, text),
            (273, 4, 2, strips.to_vec()),
            (277, 3, 1, vec![1]),
            (278, 3, 1, vec![1]),
            (279, 4, 2, vec![2, 2]),
            (282, 5, 1, vec![72, 1]),
            (283, 5, 1, vec![72, 1]),
            (296, 3, 1, vec![2]),
        ]
    }

    const PIXELS: &[u8] = &[0x00, 0x40, 0x80, 0xff];

    /// A little-endian 2×2 grey TIFF in two strips.
    pub(crate) fn tiff_strips() -> Vec<u8> {
        tiff_file(true, false, &grey_2x2([8, 10]), PIXELS)
    }

    fn replace(entries: &[Entry], tag: u16, with: Option<Entry>) -> Vec<Entry> {
        let mut out: Vec<Entry> = entries.iter().filter(|e| e.0 != tag).cloned().collect();
        out.extend(with);
        out.sort_by_key(|e| e.0);
        out
    }

    #[test]
    fn tiff_valid_in_both_byte_orders_and_bigtiff() {
        for little in [true, false] {
            for big in [false, true] {
                let strips = if big { [16, 18] } else { [8, 10] };
                let t = tiff_file(little, big, &grey_2x2(strips), PIXELS);
                assert_eq!(key(&t, "image/tiff"), None, "little {little} big {big}");
            }
        }
        // Tiled: one 16×16 tile.
        let tile: Vec<u8> = (0..=255).collect();
        let tiled = replace(&grey_2x2([8, 10]), 273, None);
        let tiled = replace(&tiled, 278, None);
        let tiled = replace(&tiled, 279, None);
        let tiled = replace(&tiled, 322, Some((322, 3, 1, vec![16])));
        let tiled = replace(&tiled, 323, Some((323, 3, 1, vec![16])));
        let tiled = replace(&tiled, 324, Some((324, 4, 1, vec![8])));
        let tiled = replace(&tiled, 325, Some((325, 4, 1, vec![256])));
        assert_eq!(
            key(&tiff_file(true, false, &tiled, &tile), "image/tiff"),
            None
        );
        let no_size = replace(&tiled, 322, None);
        assert_eq!(
            why(&tiff_file(true, false, &no_size, &tile), "image/tiff").map(|w| w.1),
            Some("a tiled image has no tile width or length".to_owned())
        );
        let past = replace(&tiled, 325, Some((325, 4, 1, vec![100_000])));
        assert_eq!(
            why(&tiff_file(true, false, &past, &tile), "image/tiff").map(|w| w.1),
            Some("a tile lies outside the file".to_owned())
        );
    }

    #[test]
    fn tiff_broken_structure_is_refused() {
        let good = tiff_file(true, false, &grey_2x2([8, 10]), PIXELS);
        let refused = |t: &[u8], what: &str| {
            assert_eq!(
                why(t, "image/tiff"),
                Some(("uploaded-malformed-image".to_owned(), what.to_owned()))
            );
        };
        // Truncated at several points.
        refused(&good[..6], "the file ends inside its header");
        refused(
            &good[..20],
            "an image directory (IFD) runs past the end of the file",
        );
        let ifd_end = good.len() - 16 - 17;
        refused(
            &good[..ifd_end],
            "the value of its tag 270 lies outside the file",
        );
        // The first IFD past the end.
        let mut past = good.clone();
        past[4..8].copy_from_slice(&(good.len() as u32 + 100).to_le_bytes());
        refused(&past, "an image directory (IFD) lies outside the file");
        let mut zero = good.clone();
        zero[4..8].copy_from_slice(&0u32.to_le_bytes());
        refused(&zero, "it has no image directory (IFD)");
        // A strip past the end.
        let strip = tiff_file(true, false, &grey_2x2([8, 1000]), PIXELS);
        refused(&strip, "a strip lies outside the file");
        // Strip arrays of different lengths, or missing.
        let uneven = replace(&grey_2x2([8, 10]), 279, Some((279, 4, 1, vec![4])));
        refused(
            &tiff_file(false, false, &uneven, PIXELS),
            "its strip offsets and strip byte counts differ in number",
        );
        let none = replace(&grey_2x2([8, 10]), 279, None);
        refused(
            &tiff_file(true, false, &none, PIXELS),
            "an image directory has no strip offsets or no strip byte counts",
        );
        // No width, or a zero height.
        let no_width = replace(&grey_2x2([8, 10]), 256, None);
        refused(
            &tiff_file(true, false, &no_width, PIXELS),
            "an image directory has no width or height (ImageWidth, ImageLength)",
        );
        let flat = replace(&grey_2x2([8, 10]), 257, Some((257, 3, 1, vec![0])));
        refused(
            &tiff_file(true, false, &flat, PIXELS),
            "its width or height is 0",
        );
        // A chain of directories that loops back to the first.
        let mut looped = good.clone();
        let next_at = 12 + 2 + 13 * 12;
        looped[next_at..next_at + 4].copy_from_slice(&12u32.to_le_bytes());
        refused(&looped, "its chain of image directories (IFDs) loops");
        // Not a TIFF version, and a bad byte order mark.
        let mut version = good.clone();
        version[2] = 41;
        refused(&version, "its version is not 42 (or 43, BigTIFF)");
        let mut bom = good.clone();
        bom[..2].copy_from_slice(b"IM");
        refused(&bom, "its byte-order mark is not valid");
        // Markup in a text field.
        let mut scripted = grey_2x2([8, 10]);
        let html: &[u8] = b"<script>alert(1)</script>\0";
        scripted[5] = (
            270,
            2,
            html.len() as u64,
            html.iter().map(|b| u64::from(*b)).collect(),
        );
        assert_eq!(
            key(&tiff_file(true, false, &scripted, PIXELS), "image/tiff").as_deref(),
            Some("uploaded-markup-in-image")
        );
    }

    #[test]
    fn tiff_sparse_tiles_and_unknown_types_pass() {
        // A zero byte count is a piece left out; an unknown field type is skipped.
        let mut entries = grey_2x2([8, 0]);
        entries[9] = (279, 4, 2, vec![2, 0]);
        entries.push((65000, 99, 1000, vec![0]));
        assert_eq!(
            key(&tiff_file(true, false, &entries, PIXELS), "image/tiff"),
            None
        );
    }

    // --- PDF ----------------------------------------------------------------------------

    /// A one-page PDF whose catalog opens with a JavaScript action, `filler` bytes in a
    /// content stream, and correct cross-reference offsets.
    pub(crate) fn pdf_file(filler: usize) -> Vec<u8> {
        let stream = "0 0 m 100 100 l S\n".repeat(filler / 18 + 1);
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 5 0 R >>".to_owned(),
            "<< /Type /Action /S /JavaScript /JS (app.alert('hello');) >>".to_owned(),
            format!("<< /Length {} >>\nstream\n{stream}endstream", stream.len()),
        ];
        let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 6\n0000000000 65535 f \n");
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    /// `pdf` with its startxref offset replaced by `offset`.
    fn pdf_startxref(pdf: &[u8], offset: usize) -> Vec<u8> {
        let at = memchr::memmem::rfind(pdf, b"startxref\n").unwrap() + 10;
        let mut out = pdf[..at].to_vec();
        out.extend_from_slice(format!("{offset}\n%%EOF\n").as_bytes());
        out
    }

    #[test]
    fn pdf_with_javascript_passes() {
        let pdf = pdf_file(100);
        assert_eq!(key(&pdf, "application/pdf"), None);
        // Trailing white space and NULs, a little junk, an incremental update.
        assert_eq!(
            key(&with(pdf.clone(), b"\r\n\0\0\0"), "application/pdf"),
            None
        );
        assert_eq!(key(&with(pdf.clone(), b"garbage"), "application/pdf"), None);
        let padded = with(with(pdf.clone(), &[b'x'; 1000]), &[0; 5000]);
        assert_eq!(key(&padded, "application/pdf"), None);
        let xref = memchr::memmem::rfind(&pdf, b"xref\n0 6").unwrap();
        let update_at = pdf.len();
        let mut updated = pdf.clone();
        updated.extend_from_slice(b"6 0 obj\n<< /Producer (an update) >>\nendobj\n");
        let xref2 = updated.len();
        updated.extend_from_slice(
            format!(
                "xref\n6 1\n{update_at:010} 00000 n \ntrailer\n<< /Size 7 /Root 1 0 R /Prev {xref} >>\nstartxref\n{xref2}\n%%EOF\n"
            )
            .as_bytes(),
        );
        assert_eq!(key(&updated, "application/pdf"), None);
        // An offset a few bytes off, and one that points at an xref stream object.
        assert_eq!(key(&pdf_startxref(&pdf, xref + 7), "application/pdf"), None);
        let obj5 = memchr::memmem::find(&pdf, b"5 0 obj").unwrap();
        assert_eq!(key(&pdf_startxref(&pdf, obj5), "application/pdf"), None);
        // Junk before the header, offsets counted from the header.
        let junk = with(b"junk before the header\n".to_vec(), &pdf);
        assert_eq!(key(&junk, "application/pdf"), None);
    }

    #[test]
    fn pdf_broken_structure_is_refused() {
        let pdf = pdf_file(4000);
        let refused = |p: &[u8], what: &str| {
            assert_eq!(
                why(p, "application/pdf"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        let no_eof = "it has no %%EOF marker (the file may be truncated)";
        refused(b"%PDF-1.4\n", no_eof);
        refused(&pdf[..pdf.len() / 2], no_eof);
        refused(&pdf[..pdf.len() - 3], no_eof);
        // Data after the final %%EOF beyond a KiB, or an earlier revision cut short.
        let not_at_end = "it does not end with its %%EOF marker (the file may be truncated, or have data appended)";
        refused(&with(pdf.clone(), &[b'x'; 1100]), not_at_end);
        let mut cut = with(
            pdf.clone(),
            b"6 0 obj\n<< /Producer (an update) >>\nendobj\n",
        );
        cut.extend_from_slice(&[b' '; 2000]);
        cut.extend_from_slice(&noise(2000, 1));
        refused(&cut, not_at_end);
        refused(b"%PDF-x\n%%EOF\n", "its %PDF- header has no version number");
        refused(
            b"%PDF-1.4\n%%EOF\n",
            "it has no indirect object (N G obj ... endobj)",
        );
        // Missing or wrong cross-reference data is not refused: viewers rebuild it.
        let at = memchr::memmem::rfind(&pdf, b"startxref").unwrap();
        let mut bare = pdf[..at].to_vec();
        bare.extend_from_slice(b"%%EOF\n");
        assert_eq!(key(&bare, "application/pdf"), None);
        assert_eq!(
            key(&pdf_startxref(&pdf, pdf.len() + 10), "application/pdf"),
            None
        );
        refused(
            b"%PDF-1.4\nxref\n0 1\n0000000000 65535 f \ntrailer\n<<>>\nstartxref\n9\n%%EOF\n",
            "it has no indirect object (N G obj ... endobj)",
        );
        refused(b"no header here", "it does not start with a %PDF- header");
        // An archive or HTML after the end, short or long.
        let big_zip = with(ZIP.to_vec(), &noise(5000, 2));
        assert_eq!(
            why(&with(pdf.clone(), &big_zip), "application/pdf"),
            Some((
                "uploaded-data-after-file".to_owned(),
                "a ZIP archive".to_owned()
            ))
        );
        assert_eq!(
            why(&with(pdf.clone(), ZIP), "application/pdf"),
            Some((
                "uploaded-data-after-file".to_owned(),
                "a ZIP archive".to_owned()
            ))
        );
        assert_eq!(
            key(
                &with(pdf.clone(), b"<html><body>x</body></html>"),
                "application/pdf"
            )
            .as_deref(),
            Some("uploaded-markup-in-image")
        );
    }

    // --- WAV ----------------------------------------------------------------------------

    /// A WAV of `seconds` of 16-bit mono silence at 8 kHz, with an odd-sized LIST chunk
    /// before its data.
    pub(crate) fn wav_file(samples: usize) -> Vec<u8> {
        let mut body = b"WAVE".to_vec();
        body.extend_from_slice(b"fmt \x10\0\0\0");
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&8000u32.to_le_bytes());
        body.extend_from_slice(&16000u32.to_le_bytes());
        body.extend_from_slice(&2u16.to_le_bytes());
        body.extend_from_slice(&16u16.to_le_bytes());
        body.extend_from_slice(b"LIST\x0f\0\0\0INFOISFT\x03\0\0\0ab\0\0");
        body.extend_from_slice(b"data");
        body.extend_from_slice(&(samples as u32 * 2).to_le_bytes());
        body.extend(std::iter::repeat_n(0u8, samples * 2));
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn wav_valid_and_lenient_cases_pass() {
        let wav = wav_file(8000);
        assert_eq!(key(&wav, "audio/wav"), None);
        assert_eq!(key(&wav, "audio/x-wav"), None);
        // Zeros after the RIFF (padding), an ID3v1 tag after it.
        assert_eq!(key(&with(wav.clone(), &[0; 100]), "audio/wav"), None);
        let mut tag = b"TAG".to_vec();
        tag.resize(128, b' ');
        assert_eq!(key(&with(wav.clone(), &tag), "audio/wav"), None);
        // Written to a pipe: placeholder sizes (ffmpeg's and sox's).
        let mut piped = wav.clone();
        piped[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let data = memchr::memmem::find(&piped, b"data").unwrap();
        piped[data + 4..data + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(key(&piped, "audio/wav"), None);
        piped[4..8].copy_from_slice(&0x7fff_f048u32.to_le_bytes());
        piped[data + 4..data + 8].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(key(&piped, "audio/wav"), None);
        // An odd-sized data chunk at the end without its pad byte.
        let mut odd = wav_file(10);
        odd.push(7);
        let size = (odd.len() - 8) as u32 + 1;
        odd[4..8].copy_from_slice(&size.to_le_bytes());
        let data = memchr::memmem::find(&odd, b"data").unwrap();
        odd[data + 4..data + 8].copy_from_slice(&21u32.to_le_bytes());
        assert_eq!(key(&odd, "audio/wav"), None);
        // The LIST chunk's pad byte left out.
        let list = memchr::memmem::find(&wav, b"LIST").unwrap();
        let mut unpadded = wav.clone();
        unpadded.remove(list + 8 + 15);
        let size = (unpadded.len() - 8) as u32;
        unpadded[4..8].copy_from_slice(&size.to_le_bytes());
        assert_eq!(key(&unpadded, "audio/wav"), None);
    }

    #[test]
    fn wav_broken_structure_is_refused() {
        let wav = wav_file(8000);
        let refused = |w: &[u8], what: &str| {
            assert_eq!(
                why(w, "audio/wav"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        refused(&wav[..10], "the file ends inside its RIFF header");
        refused(&wav[..30], "the file is shorter than its RIFF header says");
        refused(
            &wav[..wav.len() - 100],
            "the file is shorter than its RIFF header says",
        );
        // The RIFF says less, the data chunk more.
        let mut long_data = wav.clone();
        let data = memchr::memmem::find(&wav, b"data").unwrap();
        long_data[data + 4..data + 8].copy_from_slice(&20000u32.to_le_bytes());
        refused(
            &long_data,
            "its \"data\" chunk runs past the end of the file",
        );
        // No data chunk.
        let mut no_data = wav[..data].to_vec();
        let size = (no_data.len() - 8) as u32;
        no_data[4..8].copy_from_slice(&size.to_le_bytes());
        refused(&no_data, "it has no data chunk");
        // Data before fmt.
        let mut swapped = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0\0\0".to_vec();
        swapped.extend_from_slice(&wav[12..36]);
        let size = (swapped.len() - 8) as u32;
        swapped[4..8].copy_from_slice(&size.to_le_bytes());
        refused(&swapped, "its data chunk comes before its fmt chunk");
        // No fmt at all.
        let mut no_fmt = b"RIFF\x0e\0\0\0WAVEdata\x02\0\0\0\0\0".to_vec();
        refused(&no_fmt, "its data chunk comes before its fmt chunk");
        no_fmt.truncate(12);
        no_fmt[4] = 4;
        refused(&no_fmt, "it has no fmt chunk");
        // Nonsense formats.
        let mut mute = wav.clone();
        mute[22] = 0;
        refused(&mute, "its fmt chunk declares no channels");
        let mut still = wav.clone();
        still[24..28].copy_from_slice(&[0; 4]);
        refused(&still, "its fmt chunk declares a sample rate of 0");
        let mut align = wav.clone();
        align[32] = 3;
        refused(
            &align,
            "its block size does not match its channels and sample size",
        );
        refused(b"RIFF\x04\0\0\0WAVX", "its RIFF header is not valid");
        // An archive after the end.
        assert_eq!(
            why(&with(wav.clone(), ZIP), "audio/wav"),
            Some((
                "uploaded-data-after-file".to_owned(),
                "a ZIP archive".to_owned()
            ))
        );
    }

    // --- MIDI ---------------------------------------------------------------------------

    /// A format-0 MIDI file with one track: middle C for a quarter note.
    pub(crate) fn midi_file() -> Vec<u8> {
        let mut out = b"MThd\0\0\0\x06\0\0\0\x01\0\x60".to_vec();
        let track = b"\x00\x90\x3c\x40\x60\x80\x3c\x40\x00\xff\x2f\x00";
        out.extend_from_slice(b"MTrk");
        out.extend_from_slice(&(track.len() as u32).to_be_bytes());
        out.extend_from_slice(track);
        out
    }

    #[test]
    fn midi_structure() {
        let mid = midi_file();
        assert_eq!(key(&mid, "audio/midi"), None);
        // An unknown chunk is skipped; fewer tracks than declared is tolerated.
        let mut extra = mid[..14].to_vec();
        extra.extend_from_slice(b"XFIH\0\0\0\x02ab");
        extra.extend_from_slice(&mid[14..]);
        extra[11] = 2;
        assert_eq!(key(&extra, "audio/midi"), None);
        assert_eq!(key(&with(mid.clone(), &[0; 3]), "audio/midi"), None);
        let refused = |m: &[u8], what: &str| {
            assert_eq!(
                why(m, "audio/midi"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        refused(&mid[..10], "the file ends inside its header");
        refused(&mid[..14], "it has no track (MTrk chunk)");
        refused(
            &mid[..mid.len() - 1],
            "a track runs past the end of the file",
        );
        refused(&mid[..20], "the file ends inside a track header");
        refused(&mid[..15], "the file ends inside a track header");
        let mut fmt3 = mid.clone();
        fmt3[9] = 3;
        refused(&fmt3, "its format is not 0, 1 or 2");
        let mut none = mid.clone();
        none[11] = 0;
        refused(&none, "its header declares no tracks");
        let mut div = mid.clone();
        div[13] = 0;
        refused(&div, "its time division is 0");
        let mut short = mid.clone();
        short[7] = 5;
        refused(&short, "its header chunk is too short");
        assert_eq!(
            key(&with(mid.clone(), ZIP), "audio/midi").as_deref(),
            Some("uploaded-data-after-file")
        );
    }

    // --- MP3 ----------------------------------------------------------------------------

    /// An ID3v2.3 tag holding a title.
    fn id3v2() -> Vec<u8> {
        let mut frame = b"TIT2\0\0\0\x06\0\0\0test!".to_vec();
        frame.resize(16, 0);
        let mut out = b"ID3\x03\0\0\0\0\0".to_vec();
        out.push(frame.len() as u8);
        out.extend_from_slice(&frame);
        out
    }

    /// A silent MPEG-1 Layer III frame: 128 kbit/s, 44.1 kHz, mono, 417 bytes.
    fn mp3_frame() -> Vec<u8> {
        let mut f = vec![0xff, 0xfb, 0x90, 0xc4];
        f.resize(417, 0);
        f
    }

    /// An MP3 with an ID3v2 tag, `frames` frames and an ID3v1 tag.
    pub(crate) fn mp3_file(frames: usize) -> Vec<u8> {
        let mut out = id3v2();
        for _ in 0..frames {
            out.extend_from_slice(&mp3_frame());
        }
        let mut v1 = b"TAGtest".to_vec();
        v1.resize(128, 0);
        out.extend_from_slice(&v1);
        out
    }

    #[test]
    fn mpeg_frame_lengths() {
        let len = |h: [u8; 4]| mpeg_frame(&h).map(|f| f.len);
        assert_eq!(len([0xff, 0xfb, 0x90, 0x00]), Some(417));
        assert_eq!(len([0xff, 0xfb, 0x92, 0x00]), Some(418));
        assert_eq!(len([0xff, 0xfd, 0xa4, 0x00]), Some(576)); // MPEG-1 II, 192k, 48 kHz
        assert_eq!(len([0xff, 0xff, 0x10, 0x00]), Some(32)); // MPEG-1 I, 32k, 48 kHz
        assert_eq!(len([0xff, 0xf3, 0x80, 0x00]), Some(208)); // MPEG-2 III, 64k, 22.05 kHz
        assert_eq!(len([0xff, 0xe3, 0x18, 0x00]), Some(72)); // MPEG-2.5 III, 8k, 8 kHz
        assert_eq!(len([0xff, 0xfb, 0xf0, 0x00]), None);
        assert_eq!(len([0xff, 0xfb, 0x0c, 0x00]), None);
        assert_eq!(len([0xff, 0xeb, 0x90, 0x00]), None);
        assert_eq!(len([0xff, 0xf9, 0x90, 0x00]), None);
    }

    #[test]
    fn mp3_valid_and_lenient_cases_pass() {
        assert_eq!(key(&mp3_file(3), "audio/mpeg"), None);
        assert_eq!(key(&mp3_file(20), "audio/mp3"), None);
        // A short file: fewer frames than a run, ending exactly at the tag.
        assert_eq!(key(&mp3_file(1), "audio/mpeg"), None);
        // No tags at all.
        let bare: Vec<u8> = (0..5).flat_map(|_| mp3_frame()).collect();
        assert_eq!(key(&bare, "audio/mpeg"), None);
        // Junk between frames, a tag in the middle, a cut-off last frame, an APE tag.
        let mut joined = mp3_file(5);
        joined.truncate(joined.len() - 128);
        joined.extend_from_slice(b"\0junk\xff\xfe\0");
        joined.extend_from_slice(&id3v2());
        for _ in 0..4 {
            joined.extend_from_slice(&mp3_frame());
        }
        joined.extend_from_slice(&mp3_frame()[..200]);
        let mut ape = b"APETAGEX\xd0\x07\0\0".to_vec();
        ape.extend_from_slice(&32u32.to_le_bytes());
        ape.extend_from_slice(&[0; 12]);
        ape.resize(32, 0);
        joined.extend_from_slice(&ape);
        assert_eq!(key(&joined, "audio/mpeg"), None);
    }

    #[test]
    fn mp3_broken_structure_is_refused() {
        let refused = |m: &[u8], what: &str| {
            assert_eq!(
                why(m, "audio/mpeg"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        let no_frames = "it has no MPEG audio frames";
        // An ID3 tag followed by random bytes, or by nothing.
        refused(&with(id3v2(), &noise(20_000, 7)), no_frames);
        refused(&id3v2(), no_frames);
        refused(&with(id3v2(), &[0xff, 0xfb, 0x90]), no_frames);
        let tag = id3v2();
        refused(&tag[..15], "its ID3 tag runs past the end of the file");
        let mut bad = tag.clone();
        bad[8] = 0x80;
        refused(&bad, "its ID3 tag header is not valid");
        // Two frames where the second one is cut off: no run, and the file does not end
        // with the first.
        let mut cut = id3v2();
        cut.extend_from_slice(&mp3_frame());
        cut.extend_from_slice(&mp3_frame()[..300]);
        refused(&cut, no_frames);
        // An archive or HTML after the frames, or between them.
        let mut zip = mp3_file(4);
        zip.truncate(zip.len() - 128);
        assert_eq!(
            why(&with(zip.clone(), ZIP), "audio/mpeg"),
            Some((
                "uploaded-data-after-file".to_owned(),
                "a ZIP archive".to_owned()
            ))
        );
        let mut html = zip.clone();
        html.extend_from_slice(b"<script>alert(1)</script>");
        for _ in 0..3 {
            html.extend_from_slice(&mp3_frame());
        }
        assert_eq!(
            why(&html, "audio/mpeg"),
            Some((
                "uploaded-markup-in-image".to_owned(),
                "data between its audio frames".to_owned()
            ))
        );
    }

    // --- Ogg ----------------------------------------------------------------------------

    #[test]
    fn ogg_crc_matches_the_reference() {
        // CRC-32/POSIX of "123456789" is 0x765e7680, with its final inversion.
        assert_eq!(ogg_crc(0, b"123456789"), !0x765e_7680);
    }

    /// One Ogg page holding `packets` (each shorter than 255 × 255 bytes).
    fn ogg_page(flags: u8, granule: u64, serial: u32, seq: u32, packets: &[&[u8]]) -> Vec<u8> {
        let mut lacing = Vec::new();
        for p in packets {
            let n = <[u8]>::len(p);
            lacing.extend(std::iter::repeat_n(255u8, n / 255));
            lacing.push((n % 255) as u8);
        }
        let mut page = b"OggS\0".to_vec();
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&serial.to_le_bytes());
        page.extend_from_slice(&seq.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        page.push(lacing.len() as u8);
        page.extend_from_slice(&lacing);
        for p in packets {
            page.extend_from_slice(p);
        }
        let crc = ogg_crc(0, &page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        page
    }

    /// An Opus stream: its head, its tags, and one 20 ms packet.
    pub(crate) fn ogg_file() -> Vec<u8> {
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&48000u32.to_le_bytes());
        head.extend_from_slice(&[0, 0, 0]);
        let tags = b"OpusTags\x04\0\0\0test\0\0\0\0";
        let mut out = ogg_page(2, 0, 0x1234, 0, &[&head]);
        out.extend(ogg_page(0, 0, 0x1234, 1, &[tags]));
        out.extend(ogg_page(4, 960, 0x1234, 2, &[b"\xf8"]));
        out
    }

    #[test]
    fn ogg_structure() {
        let ogg = ogg_file();
        assert_eq!(key(&ogg, "application/ogg"), None);
        // Chained: a second stream after the first ended; no end-of-stream page.
        let mut chained = ogg.clone();
        chained.extend(ogg_page(
            2,
            0,
            0x99,
            0,
            &[b"OpusHead\x01\x01\0\0\0\0\0\0\0\0\0"],
        ));
        assert_eq!(key(&chained, "audio/ogg"), None);
        let refused = |o: &[u8], what: &str| {
            assert_eq!(
                why(o, "application/ogg"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        refused(&ogg[..20], "the file ends inside its first page");
        refused(&ogg[..40], "the file ends inside a page");
        refused(&ogg[..ogg.len() - 1], "the file ends inside a page");
        let mut crc = ogg.clone();
        crc[30] ^= 1;
        refused(&crc, "the checksum of page 0 is wrong");
        let mut late = ogg.clone();
        let last = late.len() - 1;
        late[last] ^= 1;
        refused(&late, "the checksum of page 2 is wrong");
        let mut version = ogg.clone();
        version[4] = 1;
        refused(&version, "a page has an unknown version");
        let tags = ogg_page(0, 0, 0x1234, 1, &[b"x"]);
        refused(&tags, "its first page does not begin a stream");
        let mut stray = ogg_page(2, 0, 1, 0, &[b"x"]);
        stray.extend(ogg_page(0, 0, 2, 0, &[b"y"]));
        refused(&stray, "a page belongs to a stream that was not begun");
        let mut twice = ogg_page(2, 0, 1, 0, &[b"x"]);
        twice.extend(ogg_page(2, 0, 1, 1, &[b"y"]));
        refused(&twice, "a logical stream is begun twice");
        refused(
            b"this is not an Ogg file at all",
            "it does not start with an Ogg page",
        );
        assert_eq!(
            key(&with(ogg.clone(), ZIP), "application/ogg").as_deref(),
            Some("uploaded-data-after-file")
        );
    }

    // --- FLAC ---------------------------------------------------------------------------

    fn crc8(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |mut c, b| {
            c ^= b;
            for _ in 0..8 {
                c = if c & 0x80 != 0 {
                    (c << 1) ^ 0x07
                } else {
                    c << 1
                };
            }
            c
        })
    }

    fn crc16(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0u16, |mut c, b| {
            c ^= u16::from(*b) << 8;
            for _ in 0..8 {
                c = if c & 0x8000 != 0 {
                    (c << 1) ^ 0x8005
                } else {
                    c << 1
                };
            }
            c
        })
    }

    /// A FLAC stream of 4096 silent 16-bit mono samples at 44.1 kHz: STREAMINFO (with the
    /// audio's MD5), a padding block, and one frame with a constant subframe.
    pub(crate) fn flac_file() -> Vec<u8> {
        use md5::{Digest, Md5};
        let mut out = b"fLaC".to_vec();
        out.extend_from_slice(&[0x00, 0, 0, 34]);
        out.extend_from_slice(&4096u16.to_be_bytes());
        out.extend_from_slice(&4096u16.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        // 44100 Hz (20 bits), 1 channel (3 bits: 0), 16 bits (5 bits: 15), 4096 samples.
        let packed: u64 = (44100 << 44) | (15 << 36) | 4096;
        out.extend_from_slice(&packed.to_be_bytes());
        out.extend_from_slice(&Md5::digest([0u8; 8192]));
        out.extend_from_slice(&[0x81, 0, 0, 4, 0, 0, 0, 0]);
        let mut frame = vec![0xff, 0xf8, 0xc9, 0x08, 0x00];
        frame.push(crc8(&frame));
        frame.extend_from_slice(&[0x00, 0x00, 0x00]);
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&frame);
        out
    }

    #[test]
    fn flac_structure() {
        let flac = flac_file();
        assert_eq!(key(&flac, "audio/flac"), None);
        assert_eq!(key(&flac, "audio/x-flac"), None);
        let refused = |f: &[u8], what: &str| {
            assert_eq!(
                why(f, "audio/flac"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        refused(&flac[..4], "the file ends inside its metadata");
        refused(
            &flac[..20],
            "a metadata block runs past the end of the file",
        );
        refused(&flac[..44], "the file ends inside its metadata");
        refused(
            &flac[..46],
            "a metadata block runs past the end of the file",
        );
        refused(&flac[..50], "it has no audio frames");
        let mut junk = flac[..50].to_vec();
        junk.extend_from_slice(b"<html>");
        refused(&junk, "no audio frame follows its metadata");
        let mut order = flac.clone();
        order[4] = 1;
        refused(&order, "it does not start with a STREAMINFO block");
        let mut small = flac.clone();
        small[8..10].copy_from_slice(&8u16.to_be_bytes());
        refused(&small, "its STREAMINFO block sizes are not valid");
        let mut rate = flac.clone();
        rate[18..21].copy_from_slice(&[0, 0, 0x00]);
        refused(&rate, "its STREAMINFO sample rate is 0");
        let mut invalid = flac.clone();
        invalid[42] = 0xff;
        refused(&invalid, "a metadata block has an invalid type");
        refused(b"fLaX", "it does not start with fLaC");
    }

    // --- WebM / Matroska ------------------------------------------------------------------

    /// An EBML element with a one-byte size (or an eight-byte one when longer, or unknown).
    fn el(id: u32, body: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = id
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        if body.len() < 127 {
            out.push(0x80 | body.len() as u8);
        } else {
            out.push(0x01);
            out.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
        }
        out.extend_from_slice(body);
        out
    }

    fn unknown_size(id: u32, body: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = id
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        out.extend_from_slice(body);
        out
    }

    fn ebml_header(doctype: &[u8]) -> Vec<u8> {
        let body = [
            el(0x4286, &[1]),
            el(0x42f7, &[1]),
            el(0x42f2, &[4]),
            el(0x42f3, &[8]),
            el(0x4282, doctype),
            el(0x4287, &[4]),
            el(0x4285, &[2]),
        ]
        .concat();
        el(EBML_HEADER, &body)
    }

    /// Info, Tracks (one 2×2 VP8 track) and a Cluster with one block, as a Segment's body.
    fn segment_body(cluster_size_known: bool) -> Vec<u8> {
        let info = el(
            MKV_INFO,
            &[
                el(0x2ad7b1, &[0x0f, 0x42, 0x40]),
                el(0x4d80, b"test"),
                el(0x5741, b"test"),
            ]
            .concat(),
        );
        let video = el(0xe0, &[el(0xb0, &[2]), el(0xba, &[2])].concat());
        let entry = el(
            0xae,
            &[
                el(0xd7, &[1]),
                el(0x73c5, &[1]),
                el(0x83, &[1]),
                el(0x86, b"V_VP8"),
                video,
            ]
            .concat(),
        );
        let tracks = el(MKV_TRACKS, &entry);
        let mut block = vec![0x81, 0, 0, 0x80];
        block.extend_from_slice(&noise(300, 3));
        let cluster_body = [el(0xe7, &[0]), el(0xa3, &block)].concat();
        let cluster = if cluster_size_known {
            el(0x1f43_b675, &cluster_body)
        } else {
            unknown_size(0x1f43_b675, &cluster_body)
        };
        [info, tracks, cluster].concat()
    }

    pub(crate) fn webm_file() -> Vec<u8> {
        with(ebml_header(b"webm"), &el(MKV_SEGMENT, &segment_body(true)))
    }

    #[test]
    fn webm_structure() {
        let webm = webm_file();
        assert_eq!(key(&webm, "video/webm"), None);
        assert_eq!(key(&webm, "audio/webm"), None);
        let mkv = with(
            ebml_header(b"matroska"),
            &el(MKV_SEGMENT, &segment_body(true)),
        );
        assert_eq!(key(&mkv, "video/x-matroska"), None);
        // A live stream: Segment and Clusters of unknown size.
        let mut live = ebml_header(b"webm");
        let mut body = segment_body(false);
        body.extend(unknown_size(0x1f43_b675, &el(0xe7, &[1])));
        live.extend(unknown_size(MKV_SEGMENT, &body));
        assert_eq!(key(&live, "video/webm"), None);
        // A Void element and a NUL-padded DocType.
        let padded = [
            ebml_header(b"webm\0\0"),
            el(EBML_VOID, &[0; 10]),
            el(MKV_SEGMENT, &segment_body(true)),
        ]
        .concat();
        assert_eq!(key(&padded, "video/webm"), None);

        let refused = |w: &[u8], what: &str| {
            assert_eq!(
                why(w, "video/webm"),
                Some(("uploaded-malformed-file".to_owned(), what.to_owned()))
            );
        };
        let header = ebml_header(b"webm");
        refused(&webm[..10], "the file ends inside its EBML header");
        refused(&header, "it has no Segment");
        refused(
            &webm[..header.len() + 30],
            "the file ends inside its Segment",
        );
        refused(&webm[..webm.len() - 1], "the file ends inside its Segment");
        refused(
            &live[..live.len() - 1],
            "an element runs past the end of the file",
        );
        refused(
            &with(ebml_header(b"mp4"), &el(MKV_SEGMENT, &segment_body(true))),
            "its DocType is not webm or matroska",
        );
        refused(
            b"\x1a\x45\xdf\xa3\x84\x42\x82\x85webm",
            "its EBML header is not valid",
        );
        refused(b"RIFF", "it does not start with an EBML header");
        let no_tracks = with(header.clone(), &el(MKV_SEGMENT, &el(MKV_INFO, &[])));
        refused(&no_tracks, "its Segment has no Info or no Tracks element");
        // A cluster larger than its segment.
        let mut body = segment_body(true);
        body.truncate(body.len() - 10);
        refused(
            &with(header.clone(), &el(MKV_SEGMENT, &body)),
            "an element runs past the end of its Segment",
        );
        assert_eq!(
            why(&with(webm.clone(), ZIP), "video/webm"),
            Some((
                "uploaded-data-after-file".to_owned(),
                "a ZIP archive".to_owned()
            ))
        );
    }

    #[test]
    fn other_types_pass() {
        assert_eq!(key(b"anything", "image/png"), None);
        assert_eq!(key(b"anything", "text/plain"), None);
        assert_eq!(key(b"", "application/zip"), None);
    }
}
