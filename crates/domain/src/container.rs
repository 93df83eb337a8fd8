//! The container structure of the other formats a wiki may allow, so far TIFF and PDF.
//! MediaWiki only sniffs their MIME type; here each file's structure is walked the way any
//! reader has to walk it: the file is complete, every offset and length points inside it,
//! sizes agree with each other, the parts every reader needs are present and dimensions are
//! not zero. Whatever follows the format's end is refused when it holds an archive, an
//! executable, markup or script, as after an image.
//!
//! The checks are strict about structure and lenient about what real writers get wrong and
//! readers repair: a PDF's `startxref` a little off. A PDF's JavaScript is not refused (it
//! runs in the viewer's sandbox). Every walk reads each structure once, in time linear in
//! the file, and allocates no more than the file holds or a fixed bound.

use std::collections::HashSet;
use std::io;
use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::io::Content;
use crate::raster::{check_region, has_markup, read_at};
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
/// How far before the final `%%EOF` its `startxref` is looked for.
const PDF_STARTXREF_WINDOW: u64 = 1024;
/// How far from where `startxref` points the cross-reference data may start (writers that
/// count from the header rather than the file's first byte, or that miscount a little;
/// viewers repair both).
const PDF_XREF_SLACK: u64 = 512;

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

/// Whether cross-reference data (an `xref` table or an `N G obj` header, an xref stream)
/// starts within [`PDF_XREF_SLACK`] bytes of `at`, between `lo` and `hi`.
fn pdf_xref_near(content: &dyn Content, at: u64, lo: u64, hi: u64) -> io::Result<bool> {
    let from = at.saturating_sub(PDF_XREF_SLACK).max(lo);
    let to = at.saturating_add(PDF_XREF_SLACK + 32).min(hi);
    if from >= to {
        return Ok(false);
    }
    let Some(w) = read_at(content, from, usize::try_from(to - from).unwrap_or(0))? else {
        return Ok(false);
    };
    let table = memchr::memmem::find_iter(&w, b"xref").any(|p| !w[..p].ends_with(b"start"));
    Ok(table || pdf_object_regex().is_none_or(|re| re.is_match(&w)))
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
    let from = eof.saturating_sub(PDF_STARTXREF_WINDOW).max(h);
    let tail =
        read_at(content, from, usize::try_from(eof - from).unwrap_or(0))?.unwrap_or_default();
    let Some(sx) = memchr::memmem::rfind(&tail, b"startxref") else {
        return malformed(F, "it has no startxref before its final %%EOF");
    };
    let digits: Vec<u8> = tail[sx + 9..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    let Some(offset) = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
    else {
        return malformed(F, "its startxref is not followed by an offset");
    };
    let startxref = from + sx as u64;
    if offset >= startxref {
        return malformed(
            F,
            "its startxref offset points past its cross-reference data",
        );
    }
    // Offsets count from the file's first byte; some writers count from the header.
    if !pdf_xref_near(content, offset, h, startxref)?
        && !pdf_xref_near(content, offset + h, h, startxref)?
    {
        return malformed(
            F,
            "its startxref offset does not point at a cross-reference table or stream",
        );
    }
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
            "it has no startxref before its final %%EOF",
        );
        let at = memchr::memmem::rfind(&pdf, b"startxref").unwrap();
        let mut bare = pdf[..at].to_vec();
        bare.extend_from_slice(b"%%EOF\n");
        refused(&bare, "it has no startxref before its final %%EOF");
        let mut no_number = pdf[..at].to_vec();
        no_number.extend_from_slice(b"startxref\n%%EOF\n");
        refused(&no_number, "its startxref is not followed by an offset");
        refused(
            &pdf_startxref(&pdf, pdf.len() + 10),
            "its startxref offset points past its cross-reference data",
        );
        // Into the middle of the content stream, far from any xref or object.
        let middle = memchr::memmem::find(&pdf, b"stream\n").unwrap() + 2000;
        refused(
            &pdf_startxref(&pdf, middle),
            "its startxref offset does not point at a cross-reference table or stream",
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

    #[test]
    fn other_types_pass() {
        assert_eq!(key(b"anything", "image/png"), None);
        assert_eq!(key(b"anything", "text/plain"), None);
        assert_eq!(key(b"", "application/zip"), None);
    }
}
