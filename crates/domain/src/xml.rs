//! XML handling for uploads: a streaming well-formedness checker modelled on the one
//! MediaWiki uses (libxml's reader with entity loading off and only "safe" internal DTD
//! subsets), with encoding detection and transcoding, DOCTYPE handling and character
//! references; the root-element check of MIME detection; and the XML encoding check
//! (SPEC §7.3).
//!
//! Everything streams: a single token (a text node or an attribute value) may be at most
//! [`MAX_TOKEN_LEN`] bytes, like libxml without `XML_PARSE_HUGE`, so memory stays bounded
//! for files of any size.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::OnceLock;

use quick_xml::events::{BytesStart, Event};
use regex::Regex;

use crate::io::{read_full, read_head, Content, ContentReader};
use crate::php::{cp1252_char, php_trim};

/// Longest text node or attribute value accepted (libxml's `XML_MAX_TEXT_LENGTH`).
pub const MAX_TOKEN_LEN: usize = 10_000_000;
/// Deepest element nesting accepted (libxml's default `xmlParserMaxDepth`).
const MAX_DEPTH: usize = 256;
/// `$wgSVGMetadataCutoff`: bytes read for the encoding check and the metadata reader.
pub const SVG_METADATA_CUTOFF: usize = 262_144;
/// Nesting limit for entity expansion.
const MAX_ENTITY_DEPTH: u8 = 8;
/// Most bytes entity references may produce in one document, all expansions together: so
/// that expansion work stays linear in the file whatever its entities do (a document that
/// needs more is not well-formed for us, as libxml refuses "huge" amplification).
const MAX_ENTITY_BYTES: u64 = 10_000_000;

pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

// ---------------------------------------------------------------------------------------
// Input decoding
// ---------------------------------------------------------------------------------------

/// Character encodings the XML reader can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
    Latin1,
    Cp1252,
    Unsupported,
}

/// Work out the document encoding from a byte-order mark, the layout of `<?`, or the
/// `encoding=` of the XML declaration. Returns the encoding and the BOM length.
fn detect_encoding(head: &[u8]) -> (Encoding, usize) {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return (Encoding::Utf8, 3);
    }
    if head.starts_with(&[0x00, 0x00, 0xFE, 0xFF]) {
        return (Encoding::Utf32Be, 4);
    }
    if head.starts_with(&[0xFF, 0xFE, 0x00, 0x00]) {
        return (Encoding::Utf32Le, 4);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return (Encoding::Utf16Be, 2);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return (Encoding::Utf16Le, 2);
    }
    if head.starts_with(&[0x3C, 0, 0, 0]) {
        return (Encoding::Utf32Le, 0);
    }
    if head.starts_with(&[0, 0, 0, 0x3C]) {
        return (Encoding::Utf32Be, 0);
    }
    if head.starts_with(&[0x3C, 0x00, 0x3F, 0x00]) {
        return (Encoding::Utf16Le, 0);
    }
    if head.starts_with(&[0x00, 0x3C, 0x00, 0x3F]) {
        return (Encoding::Utf16Be, 0);
    }
    if head.starts_with(&[0x4C, 0x6F, 0xA7, 0x94]) {
        // EBCDIC: not supported.
        return (Encoding::Unsupported, 0);
    }
    if head.starts_with(b"<?xml") {
        let end = find(head, b"?>").unwrap_or(head.len());
        let decl = &head[..end];
        static ENC: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
        let re = ENC.get_or_init(|| {
            regex::bytes::Regex::new(r#"encoding[ \t\r\n]*=[ \t\r\n]*["']([^"']*)["']"#).ok()
        });
        if let Some(caps) = re.as_ref().and_then(|re| re.captures(decl)) {
            let name = String::from_utf8_lossy(&caps[1]).to_ascii_lowercase();
            let enc = match name.as_str() {
                "utf-8" | "utf8" | "us-ascii" | "ascii" | "utf-16" | "utf-16le" | "utf-16be" => {
                    Encoding::Utf8
                }
                "iso-8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1" => Encoding::Latin1,
                "windows-1252" | "cp1252" => Encoding::Cp1252,
                n if n.starts_with("iso-8859-") || n.starts_with("windows-125") => {
                    // Single-byte code pages: decoded as Latin-1 (the ASCII part, which is
                    // all the checks look at, is the same).
                    Encoding::Latin1
                }
                _ => Encoding::Unsupported,
            };
            return (enc, 0);
        }
    }
    (Encoding::Utf8, 0)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A reader that turns the document's bytes into UTF-8.
struct Transcoder<R> {
    inner: R,
    enc: Encoding,
    carry: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> Transcoder<R> {
    fn new(inner: R, enc: Encoding, prefix: Vec<u8>) -> Self {
        Transcoder {
            inner,
            enc,
            carry: prefix,
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        }
    }

    fn bad() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "invalid character encoding")
    }

    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_pos = 0;
        while self.out.is_empty() && !(self.eof && self.carry.is_empty()) {
            if !self.eof {
                let mut buf = [0u8; 16384];
                let n = self.inner.read(&mut buf)?;
                if n == 0 {
                    self.eof = true;
                } else {
                    self.carry.extend_from_slice(&buf[..n]);
                }
            }
            let consumed = self.decode_available()?;
            self.carry.drain(..consumed);
            if self.eof && !self.carry.is_empty() && self.out.is_empty() {
                return Err(Self::bad());
            }
        }
        Ok(())
    }

    /// Decode as much of `carry` as possible into `out`; returns the bytes consumed.
    fn decode_available(&mut self) -> io::Result<usize> {
        let data = &self.carry;
        let mut i = 0;
        let mut tmp = [0u8; 4];
        match self.enc {
            Encoding::Utf8 | Encoding::Unsupported => {
                self.out.extend_from_slice(data);
                i = data.len();
            }
            Encoding::Latin1 => {
                for &b in data {
                    self.out
                        .extend_from_slice(char::from(b).encode_utf8(&mut tmp).as_bytes());
                }
                i = data.len();
            }
            Encoding::Cp1252 => {
                for &b in data {
                    let c = cp1252_char(b).ok_or_else(Self::bad)?;
                    self.out
                        .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                i = data.len();
            }
            Encoding::Utf16Le | Encoding::Utf16Be => {
                let le = self.enc == Encoding::Utf16Le;
                let unit = |p: usize| -> u16 {
                    let (a, b) = (data[p], data[p + 1]);
                    if le {
                        u16::from_le_bytes([a, b])
                    } else {
                        u16::from_be_bytes([a, b])
                    }
                };
                while i + 2 <= data.len() {
                    let u = unit(i);
                    if (0xD800..0xDC00).contains(&u) {
                        if i + 4 > data.len() {
                            break;
                        }
                        let lo = unit(i + 2);
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(Self::bad());
                        }
                        let cp =
                            0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                        let c = char::from_u32(cp).ok_or_else(Self::bad)?;
                        self.out
                            .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        i += 4;
                    } else {
                        let c = char::from_u32(u32::from(u)).ok_or_else(Self::bad)?;
                        self.out
                            .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        i += 2;
                    }
                }
            }
            Encoding::Utf32Le | Encoding::Utf32Be => {
                while i + 4 <= data.len() {
                    let b = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                    let cp = if self.enc == Encoding::Utf32Le {
                        u32::from_le_bytes(b)
                    } else {
                        u32::from_be_bytes(b)
                    };
                    let c = char::from_u32(cp).ok_or_else(Self::bad)?;
                    self.out
                        .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                    i += 4;
                }
            }
        }
        Ok(i)
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos >= self.out.len() {
            self.fill()?;
            if self.out.is_empty() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Fails reads once more than `limit` bytes were consumed since the counter was reset;
/// the walker resets it after every event, which bounds the size of a single token.
struct TokenGuard<R> {
    inner: R,
    counter: Rc<Cell<usize>>,
    limit: usize,
}

impl<R: Read> Read for TokenGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.counter.get() > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "XML token too large",
            ));
        }
        let n = self.inner.read(buf)?;
        self.counter.set(self.counter.get() + n);
        Ok(n)
    }
}

/// A UTF-8 byte stream of an XML document, ready for the walker.
pub(crate) struct XmlInput<'a> {
    reader: Box<dyn BufRead + 'a>,
    counter: Rc<Cell<usize>>,
    supported: bool,
}

impl<'a> XmlInput<'a> {
    /// Prepare `source` (whose first bytes are `head`, already consumed from `source`).
    fn new<R: Read + 'a>(head: Vec<u8>, source: R) -> XmlInput<'a> {
        let (enc, bom) = detect_encoding(&head);
        let prefix = head.get(bom..).map(<[u8]>::to_vec).unwrap_or_default();
        let counter = Rc::new(Cell::new(0));
        let guard = TokenGuard {
            inner: Transcoder::new(source, enc, prefix),
            counter: Rc::clone(&counter),
            limit: MAX_TOKEN_LEN + 65_536,
        };
        XmlInput {
            reader: Box::new(BufReader::with_capacity(65_536, guard)),
            counter,
            supported: enc != Encoding::Unsupported,
        }
    }

    /// Stream `content` from its start.
    pub(crate) fn from_content(content: &'a dyn Content) -> io::Result<XmlInput<'a>> {
        let mut reader = ContentReader::new(content);
        let mut head = vec![0u8; 1024];
        let n = read_full(&mut reader, &mut head)?;
        head.truncate(n);
        Ok(XmlInput::new(head, reader))
    }

    /// Use bytes held in memory.
    fn from_bytes(bytes: Vec<u8>) -> XmlInput<'a> {
        XmlInput::new(bytes, io::empty())
    }
}

// ---------------------------------------------------------------------------------------
// DOCTYPE handling
// ---------------------------------------------------------------------------------------

/// The parts of a `<!DOCTYPE ...>` declaration.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Doctype {
    /// `PUBLIC` or `SYSTEM` when an external identifier is given.
    pub kind: Option<String>,
    pub public_id: Option<String>,
    pub system_id: Option<String>,
    pub internal: Option<String>,
}

fn doctype_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        // The alternation reproduces the reference grouping exactly: a PUBLIC id followed
        // by a double-quoted system id, or a lone single-quoted string, or a SYSTEM id.
        Regex::new(concat!(
            r#"(?s)^<!DOCTYPE\s*\S+\s*"#,
            r#"(?:(?P<typepublic>PUBLIC)\s*(?:"(?P<pubquote>[^"]*)"|'(?P<pubapos>[^']*)')"#,
            r#"\s*"(?P<pubsysquote>[^"]*)"|'(?P<pubsysapos>[^']*)'"#,
            r#"|(?P<typesystem>SYSTEM)\s*(?:"(?P<sysquote>[^"]*)"|'(?P<sysapos>[^']*)')"#,
            r#")?\s*(?:\[\s*(?P<internal>.*)\])?\s*>$"#
        ))
        .ok()
    })
    .as_ref()
}

/// Split a DOCTYPE declaration into its parts; `None` when it does not parse.
fn parse_doctype(full: &str) -> Option<Doctype> {
    let caps = doctype_regex()?.captures(full)?;
    let get = |n: &str| {
        caps.name(n)
            .map(|m| m.as_str().to_owned())
            .filter(|s| !s.is_empty())
    };
    Some(Doctype {
        kind: get("typepublic").or_else(|| get("typesystem")),
        public_id: get("pubquote").or_else(|| get("pubapos")),
        system_id: get("pubsysquote")
            .or_else(|| get("pubsysapos"))
            .or_else(|| get("sysquote"))
            .or_else(|| get("sysapos")),
        internal: get("internal"),
    })
}

/// Only entity declarations of short literal values, comments and the graphviz
/// `xmlns:xlink` ATTLIST may appear in an internal subset.
fn dtd_is_safe(internal: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(concat!(
            r#"^(?:\s*<!ENTITY\s+\S+\s+"#,
            r#"(?:"(?:&[^"%&;]{1,64};|(?:[^"%&]|&amp;|&quot;){0,255})""#,
            r#"|'(?:&[^"%&;]{1,64};|(?:[^'%&]|&amp;|&apos;){0,255})')\s*>"#,
            r#"|\s*<!--(?:[^-]|-[^-])*-->"#,
            r#"|\s*<!ATTLIST svg xmlns:xlink CDATA #FIXED "#,
            r#""http://www.w3.org/1999/xlink">)*\s*$"#
        ))
        .ok()
    });
    re.as_ref().is_some_and(|re| re.is_match(internal))
}

/// The general entities declared in an internal subset (character references in the
/// values are expanded at declaration time, as XML requires).
fn declared_entities(internal: &str) -> HashMap<String, String> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| Regex::new(r#"<!ENTITY\s+([^\s%]\S*)\s+(?:"([^"]*)"|'([^']*)')\s*>"#).ok());
    let mut map = HashMap::new();
    if let Some(re) = re.as_ref() {
        for c in re.captures_iter(internal) {
            let value = c
                .get(2)
                .or_else(|| c.get(3))
                .map(|m| m.as_str())
                .unwrap_or("");
            let name = c[1].to_owned();
            // The first declaration of an entity wins.
            map.entry(name)
                .or_insert_with(|| expand_char_refs_only(value));
        }
    }
    map
}

fn expand_char_refs_only(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(p) = rest.find("&#") {
        out.push_str(&rest[..p]);
        let after = &rest[p..];
        match after
            .find(';')
            .and_then(|e| char_ref(&after[2..e]).map(|c| (c, e)))
        {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push_str("&#");
                rest = &after[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decode the body of a character reference (`#` already stripped): `65` or `x41`.
fn char_ref(body: &str) -> Option<char> {
    let cp = if let Some(hex) = body.strip_prefix('x') {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<u32>().ok()?
    };
    char::from_u32(cp).filter(|c| is_xml_char(*c))
}

fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

// ---------------------------------------------------------------------------------------
// The walker
// ---------------------------------------------------------------------------------------

/// An element name with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlName {
    /// Namespace URI ("" when none or when the prefix is not bound).
    pub ns: String,
    /// The name as written, with any prefix.
    pub qname: String,
    /// The part after the prefix.
    pub local: String,
}

impl XmlName {
    /// `<namespace-uri>:<local>`, or the name as written when there is no namespace.
    pub fn expanded(&self) -> String {
        if self.ns.is_empty() {
            self.qname.clone()
        } else {
            format!("{}:{}", self.ns, self.local)
        }
    }
}

/// An attribute (namespace declarations are not reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlAttr {
    pub name: XmlName,
    pub value: String,
}

/// Whether the walk should go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Callbacks of [`walk_xml`]. Depth 0 is the root element.
pub(crate) trait XmlHandler {
    /// A processing instruction (other than the XML declaration).
    fn processing_instruction(&mut self, _target: &str, _data: &str) {}
    /// A DOCTYPE declaration before the root element.
    fn doctype(&mut self, _dtd: &Doctype) {}
    /// An element opens; `inner_start` is the byte offset just after its start tag.
    fn start(
        &mut self,
        _name: &XmlName,
        _attrs: &[XmlAttr],
        _depth: usize,
        _empty: bool,
        _inner_start: u64,
    ) -> Flow {
        Flow::Continue
    }
    /// Character data (`cdata` for CDATA sections) inside the element at `depth`.
    fn text(&mut self, _text: &str, _cdata: bool, _depth: usize) {}
    /// Whether to collect the (trimmed) character data of this element for [`Self::end`].
    fn wants_data(&self, _name: &XmlName) -> bool {
        false
    }
    /// An element closes; `end_tag_start` is the offset of its end tag.
    fn end(&mut self, _name: &XmlName, _data: &str, _depth: usize, _end_tag_start: u64) -> Flow {
        Flow::Continue
    }
}

/// The result of [`walk_xml`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct XmlOutcome {
    /// The document was read to its end without a well-formedness problem.
    pub well_formed: bool,
    /// The expanded name of the root element, if one was seen.
    pub root: Option<String>,
}

struct OpenElement {
    name: XmlName,
    data: Option<String>,
    ns_mark: usize,
}

struct Walker<'h, H: XmlHandler> {
    handler: &'h mut H,
    entities: HashMap<String, String>,
    has_external_subset: bool,
    ns_stack: Vec<(String, String)>,
    /// Positions in `ns_stack` of each prefix's declarations, innermost last.
    ns_index: HashMap<String, Vec<usize>>,
    /// Bytes produced by entity references so far (see [`MAX_ENTITY_BYTES`]).
    entity_bytes: Cell<u64>,
    stack: Vec<OpenElement>,
    root: Option<String>,
    seen_root: bool,
    seen_doctype: bool,
    seen_anything: bool,
}

/// Why the walk ended early.
enum Stop {
    /// The document is not well-formed.
    Malformed,
    /// The handler asked to stop.
    Handler,
}

/// Walk an XML document, reporting events to `handler` and checking well-formedness the
/// way MediaWiki's XML checker does. `require_safe_dtd` makes an unsafe internal DTD subset
/// a well-formedness error (and stops reading there).
pub(crate) fn walk_xml<H: XmlHandler>(
    input: XmlInput<'_>,
    handler: &mut H,
) -> io::Result<XmlOutcome> {
    let XmlInput {
        reader,
        counter,
        supported,
    } = input;
    if !supported {
        return Ok(XmlOutcome::default());
    }
    let mut reader = reader;
    // A document starts with markup (possibly after white space): give up at once on
    // anything else instead of scanning binary data for a '<'.
    match reader.fill_buf() {
        Ok(buf) => {
            let first = buf
                .iter()
                .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            if buf.is_empty() || first.is_some_and(|b| *b != b'<') {
                return Ok(XmlOutcome::default());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(XmlOutcome::default()),
        Err(e) => return Err(e),
    }
    let mut xml = quick_xml::Reader::from_reader(reader);
    {
        let cfg = xml.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.expand_empty_elements = false;
        cfg.trim_text(false);
    }
    let mut w = Walker {
        handler,
        entities: HashMap::new(),
        has_external_subset: false,
        ns_stack: Vec::new(),
        ns_index: HashMap::new(),
        entity_bytes: Cell::new(0),
        stack: Vec::new(),
        root: None,
        seen_root: false,
        seen_doctype: false,
        seen_anything: false,
    };
    let mut buf = Vec::new();
    let result = loop {
        buf.clear();
        counter.set(0);
        let before = xml.buffer_position();
        let ev = match xml.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(quick_xml::Error::Io(e)) if e.kind() != io::ErrorKind::InvalidData => {
                return Err(io::Error::new(e.kind(), e.to_string()));
            }
            Err(_) => break Err(Stop::Malformed),
        };
        let after = xml.buffer_position();
        match w.event(ev, before, after) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(stop) => break Err(stop),
        }
    };
    let root = w.root.clone();
    let well_formed = match result {
        Ok(()) => w.seen_root && w.stack.is_empty(),
        Err(_) => false,
    };
    Ok(XmlOutcome { well_formed, root })
}

fn utf8(bytes: &[u8]) -> Result<&str, Stop> {
    std::str::from_utf8(bytes).map_err(|_| Stop::Malformed)
}

fn is_name_start(c: char) -> bool {
    c == '_'
        || c == ':'
        || c.is_ascii_alphabetic()
        || (c as u32 >= 0xC0 && c != '\u{D7}' && c != '\u{F7}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.' || c == '\u{B7}'
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if is_name_start(c))
        && chars.all(is_name_char)
        && name.len() <= 50_000
}

pub(crate) fn is_ws_only(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

impl<H: XmlHandler> Walker<'_, H> {
    /// Handle one event; `Ok(false)` at the end of the document.
    fn event(&mut self, ev: Event<'_>, before: u64, after: u64) -> Result<bool, Stop> {
        let first = !self.seen_anything;
        self.seen_anything = true;
        match ev {
            Event::Eof => return Ok(false),
            Event::Decl(_) => {
                if !first {
                    return Err(Stop::Malformed);
                }
            }
            Event::PI(pi) => {
                let target = utf8(pi.target())?;
                if target.eq_ignore_ascii_case("xml") || !valid_name(target) {
                    return Err(Stop::Malformed);
                }
                let data = utf8(pi.content())?;
                self.check_chars(data)?;
                let data = data.trim_start_matches([' ', '\t', '\r', '\n']);
                self.handler.processing_instruction(target, data);
            }
            Event::DocType(d) => {
                if self.seen_root || self.seen_doctype {
                    return Err(Stop::Malformed);
                }
                self.seen_doctype = true;
                let text = utf8(d.as_ref())?;
                self.check_chars(text)?;
                let full = format!("<!DOCTYPE {text}>");
                let parsed = parse_doctype(&full).ok_or(Stop::Malformed)?;
                self.handler.doctype(&parsed);
                self.has_external_subset = parsed.kind.is_some();
                if let Some(internal) = &parsed.internal {
                    if !dtd_is_safe(internal) {
                        return Err(Stop::Malformed);
                    }
                    self.entities = declared_entities(internal);
                }
            }
            Event::Comment(c) => {
                let text = utf8(c.as_ref())?;
                self.check_chars(text)?;
            }
            Event::Start(e) => return self.open(&e, false, after),
            Event::Empty(e) => return self.open(&e, true, after),
            Event::End(e) => {
                let qname = e.name();
                let name = utf8(qname.as_ref())?;
                let top = self.stack.pop().ok_or(Stop::Malformed)?;
                if top.name.qname != name {
                    return Err(Stop::Malformed);
                }
                return self.close(top, before);
            }
            Event::Text(t) => {
                let raw = utf8(t.as_ref())?;
                if self.stack.is_empty() {
                    if !is_ws_only(raw) {
                        return Err(Stop::Malformed);
                    }
                    return Ok(true);
                }
                if raw.contains("]]>") || raw.len() > MAX_TOKEN_LEN {
                    return Err(Stop::Malformed);
                }
                let text = self.expand(raw, false, 0)?;
                self.add_text(&text, false);
            }
            Event::CData(c) => {
                if self.stack.is_empty() {
                    return Err(Stop::Malformed);
                }
                let raw = utf8(c.as_ref())?;
                self.check_chars(raw)?;
                let text = raw.replace("\r\n", "\n").replace('\r', "\n");
                self.add_text(&text, true);
            }
        }
        Ok(true)
    }

    fn check_chars(&self, s: &str) -> Result<(), Stop> {
        if s.chars().all(is_xml_char) {
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    }

    fn add_text(&mut self, text: &str, cdata: bool) {
        let depth = self.stack.len().saturating_sub(1);
        if let Some(top) = self.stack.last_mut() {
            if let Some(data) = top.data.as_mut() {
                data.push_str(php_trim(text));
            }
        }
        self.handler.text(text, cdata, depth);
    }

    fn lookup_ns(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(NS_XML);
        }
        let i = *self.ns_index.get(prefix)?.last()?;
        self.ns_stack.get(i).map(|(_, u)| u.as_str())
    }

    /// Declares `prefix` (one hash probe, so that many declarations stay linear).
    fn push_ns(&mut self, prefix: String, uri: String) {
        self.ns_index
            .entry(prefix.clone())
            .or_default()
            .push(self.ns_stack.len());
        self.ns_stack.push((prefix, uri));
    }

    /// Ends the declarations made after `mark`.
    fn pop_ns_to(&mut self, mark: usize) {
        while self.ns_stack.len() > mark {
            if let Some((prefix, _)) = self.ns_stack.pop() {
                if let Some(list) = self.ns_index.get_mut(&prefix) {
                    list.pop();
                    if list.is_empty() {
                        self.ns_index.remove(&prefix);
                    }
                }
            }
        }
    }

    fn resolve(&self, qname: &str, is_attr: bool) -> XmlName {
        match qname.split_once(':') {
            Some((prefix, local)) => match self.lookup_ns(prefix) {
                Some(ns) if !ns.is_empty() => XmlName {
                    ns: ns.to_owned(),
                    qname: qname.to_owned(),
                    local: local.to_owned(),
                },
                _ => XmlName {
                    ns: String::new(),
                    qname: qname.to_owned(),
                    local: local.to_owned(),
                },
            },
            None => {
                let ns = if is_attr { None } else { self.lookup_ns("") };
                XmlName {
                    ns: ns.unwrap_or("").to_owned(),
                    qname: qname.to_owned(),
                    local: qname.to_owned(),
                }
            }
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, empty: bool, after: u64) -> Result<bool, Stop> {
        if self.stack.is_empty() {
            if self.seen_root {
                // A second root element.
                return Err(Stop::Malformed);
            }
            self.seen_root = true;
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Stop::Malformed);
        }
        let qname = utf8(e.name().as_ref())?.to_owned();
        if !valid_name(&qname) {
            return Err(Stop::Malformed);
        }
        let ns_mark = self.ns_stack.len();
        let mut raw_attrs: Vec<(String, String)> = Vec::new();
        // Duplicate names are found with a set: quick-xml's own check compares every
        // attribute with every earlier one, which is quadratic in their number.
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|_| Stop::Malformed)?;
            if !seen.insert(attr.key.into_inner()) {
                return Err(Stop::Malformed);
            }
            let key = utf8(attr.key.as_ref())?.to_owned();
            if !valid_name(&key) {
                return Err(Stop::Malformed);
            }
            let raw = utf8(&attr.value)?;
            if raw.contains('<') || raw.len() > MAX_TOKEN_LEN {
                return Err(Stop::Malformed);
            }
            let value = self.expand(raw, true, 0)?;
            if key == "xmlns" {
                self.push_ns(String::new(), value);
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                self.push_ns(prefix.to_owned(), value);
            } else {
                raw_attrs.push((key, value));
            }
        }
        let name = self.resolve(&qname, false);
        let attrs: Vec<XmlAttr> = raw_attrs
            .into_iter()
            .map(|(k, v)| XmlAttr {
                name: self.resolve(&k, true),
                value: v,
            })
            .collect();
        if self.root.is_none() {
            self.root = Some(name.expanded());
        }
        let depth = self.stack.len();
        let flow = self.handler.start(&name, &attrs, depth, empty, after);
        let data = if self.handler.wants_data(&name) {
            Some(String::new())
        } else {
            None
        };
        let el = OpenElement {
            name,
            data,
            ns_mark,
        };
        if flow == Flow::Stop {
            return Err(Stop::Handler);
        }
        if empty {
            self.close(el, after)
        } else {
            self.stack.push(el);
            Ok(true)
        }
    }

    fn close(&mut self, el: OpenElement, end_tag_start: u64) -> Result<bool, Stop> {
        self.pop_ns_to(el.ns_mark);
        let depth = self.stack.len();
        let data = el.data.unwrap_or_default();
        match self.handler.end(&el.name, &data, depth, end_tag_start) {
            Flow::Continue => Ok(true),
            Flow::Stop => Err(Stop::Handler),
        }
    }

    /// Replace references in `raw`; attribute values also get their whitespace normalised.
    fn expand(&self, raw: &str, attr: bool, level: u8) -> Result<String, Stop> {
        if level > MAX_ENTITY_DEPTH {
            return Err(Stop::Malformed);
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        loop {
            let Some(p) = rest.find(['&', '\r', '\n', '\t']) else {
                self.check_chars(rest)?;
                out.push_str(rest);
                break;
            };
            self.check_chars(&rest[..p])?;
            out.push_str(&rest[..p]);
            let c = rest.as_bytes()[p];
            if c != b'&' {
                // Line ends become "\n"; in attributes every white space becomes a space.
                let skip = if c == b'\r' && rest.as_bytes().get(p + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                out.push(if attr {
                    ' '
                } else if c == b'\t' {
                    '\t'
                } else {
                    '\n'
                });
                rest = &rest[p + skip..];
                continue;
            }
            let after = &rest[p + 1..];
            let end = after.find(';').ok_or(Stop::Malformed)?;
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(body) = name.strip_prefix('#') {
                out.push(char_ref(body).ok_or(Stop::Malformed)?);
                continue;
            }
            if !valid_name(name) {
                return Err(Stop::Malformed);
            }
            match name {
                "lt" => out.push('<'),
                "gt" => out.push('>'),
                "amp" => out.push('&'),
                "apos" => out.push('\''),
                "quot" => out.push('"'),
                _ => match self.entities.get(name) {
                    Some(value) => {
                        if value.contains('<') {
                            // Markup inside entities is not supported (and not allowed in
                            // attribute values at all).
                            return Err(Stop::Malformed);
                        }
                        let expanded = self.expand(value, attr, level + 1)?;
                        let total = self.entity_bytes.get() + expanded.len() as u64;
                        if total > MAX_ENTITY_BYTES {
                            return Err(Stop::Malformed);
                        }
                        self.entity_bytes.set(total);
                        out.push_str(&expanded);
                    }
                    None if self.has_external_subset => {}
                    None => return Err(Stop::Malformed),
                },
            }
            if out.len() > MAX_TOKEN_LEN {
                return Err(Stop::Malformed);
            }
        }
        Ok(out)
    }
}

/// A handler that only checks well-formedness.
struct NoHandler;
impl XmlHandler for NoHandler {}

/// The expanded root element name of `content` if it is well-formed XML (MediaWiki's
/// `XmlTypeCheck` as used by MIME detection), else `None`.
pub(crate) fn xml_root_element(content: &dyn Content) -> io::Result<Option<String>> {
    let outcome = walk_xml(XmlInput::from_content(content)?, &mut NoHandler)?;
    Ok(if outcome.well_formed {
        outcome.root
    } else {
        None
    })
}

/// Decode a document prefix held in memory to UTF-8, once. Returns the UTF-8 text (a
/// decoding error just ends it, as a parse error would), whose byte offsets are the ones
/// the walker reports, and the walker's input over that text.
pub(crate) fn decode_in_memory(head: &[u8]) -> (Vec<u8>, XmlInput<'static>) {
    let (enc, bom) = detect_encoding(head);
    let mut utf8 = Vec::with_capacity(head.len());
    if enc != Encoding::Unsupported {
        let mut t = Transcoder::new(
            io::empty(),
            enc,
            head.get(bom..).map(<[u8]>::to_vec).unwrap_or_default(),
        );
        // A decoding error just ends the readable part, as a parse error would.
        let mut chunk = [0u8; 8192];
        while let Ok(n) = t.read(&mut chunk) {
            if n == 0 {
                break;
            }
            utf8.extend_from_slice(&chunk[..n]);
        }
    }
    // The walker re-detects the encoding; the bytes are UTF-8 now.
    let mut input_bytes = utf8.clone();
    if enc != Encoding::Utf8 {
        // Drop a declaration naming the original encoding so it is not applied twice.
        if let Some(end) = find(&input_bytes, b"?>").filter(|_| input_bytes.starts_with(b"<?xml")) {
            input_bytes.drain(..end + 2);
            let pad = vec![b' '; end + 2];
            input_bytes.splice(0..0, pad);
        }
    }
    (utf8, XmlInput::from_bytes(input_bytes))
}

// ---------------------------------------------------------------------------------------
// XML encoding check (§7.3)
// ---------------------------------------------------------------------------------------

const SAFE_XML_ENCODINGS: &[&str] = &[
    "UTF-8",
    "US-ASCII",
    "ISO-8859-1",
    "ISO-8859-2",
    "UTF-16",
    "UTF-32",
    "WINDOWS-1250",
    "WINDOWS-1251",
    "WINDOWS-1252",
    "WINDOWS-1253",
    "WINDOWS-1254",
    "WINDOWS-1255",
    "WINDOWS-1256",
    "WINDOWS-1257",
    "WINDOWS-1258",
];

/// `Some(true)`: a declaration with an unsafe encoding or an unterminated declaration;
/// `Some(false)`: a complete, safe declaration; `None`: no declaration at all.
fn declaration_verdict(text: &[u8]) -> Option<bool> {
    static DECL: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
    static START: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
    static ENC: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
    let decl = DECL.get_or_init(|| regex::bytes::Regex::new(r"(?is-u)<\?xml\b(.*?)\?>").ok());
    let start = START.get_or_init(|| regex::bytes::Regex::new(r"(?i-u)<\?xml\b").ok());
    let enc = ENC.get_or_init(|| {
        regex::bytes::Regex::new(r#"(?is-u)encoding[ \t\n\r]*=[ \t\n\r]*['"](.*?)['"]"#).ok()
    });
    let (decl, start, enc) = (decl.as_ref()?, start.as_ref()?, enc.as_ref()?);
    if let Some(c) = decl.captures(text) {
        let inner = c.get(1).map(|m| m.as_bytes()).unwrap_or_default();
        if let Some(e) = enc.captures(inner) {
            let name = String::from_utf8_lossy(&e[1]).to_uppercase();
            if !SAFE_XML_ENCODINGS.contains(&name.as_str()) {
                return Some(true);
            }
        }
        return Some(false);
    }
    if start.is_match(text) {
        return Some(true);
    }
    None
}

fn decode_units(bytes: &[u8], width: usize, big_endian: bool) -> Option<String> {
    if !bytes.chunks_exact(width).remainder().is_empty() {
        return None;
    }
    if width == 2 {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| {
                if big_endian {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).ok()
    } else {
        bytes
            .chunks_exact(4)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                char::from_u32(if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                })
            })
            .collect()
    }
}

/// The XML encoding check (SPEC §7.3): true when the file must be rejected.
pub fn xml_encoding_mismatch(content: &dyn Content) -> io::Result<bool> {
    let contents = read_head(content, SVG_METADATA_CUTOFF)?;
    match declaration_verdict(&contents) {
        Some(true) => return Ok(true),
        Some(false) => {}
        None => {
            if contents.starts_with(&[0x4C, 0x6F, 0xA7, 0x94]) {
                return Ok(true);
            }
        }
    }
    // Try the multi-byte encodings: UTF-16 (BOM decides, else big-endian), UTF-16BE,
    // UTF-32 (likewise) and UTF-32BE.
    let attempts: [(usize, bool, bool); 4] = [
        (2, true, true),
        (2, true, false),
        (4, true, true),
        (4, true, false),
    ];
    for (width, be_default, honour_bom) in attempts {
        let (body, be) = if honour_bom {
            if width == 2 && contents.starts_with(&[0xFF, 0xFE]) {
                (&contents[2..], false)
            } else if width == 2 && contents.starts_with(&[0xFE, 0xFF]) {
                (&contents[2..], true)
            } else if width == 4 && contents.starts_with(&[0xFF, 0xFE, 0, 0]) {
                (&contents[4..], false)
            } else if width == 4 && contents.starts_with(&[0, 0, 0xFE, 0xFF]) {
                (&contents[4..], true)
            } else {
                (&contents[..], be_default)
            }
        } else {
            (&contents[..], be_default)
        };
        if let Some(s) = decode_units(body, width, be) {
            if !s.is_empty() && declaration_verdict(s.as_bytes()) == Some(true) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------------------
// Character references
// ---------------------------------------------------------------------------------------

/// Named character references decoded by [`decode_char_references`] (the ones that can
/// matter to the ASCII checks, plus the no-break space).
const NAMED_ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{A0}'),
];

/// Decode HTML character references (`&#123;`, `&#x7b;`, `&amp;` ...); references that
/// are not valid are left alone, invalid code points become U+FFFD.
pub(crate) fn decode_char_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let decoded = decode_one_reference(after);
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decode the reference at the start of `s` (just after `&`): the character and the
/// number of bytes used, including the `;`.
pub(crate) fn decode_one_reference(s: &str) -> Option<(char, usize)> {
    let semi = s.find(';')?;
    let body = &s[..semi];
    if let Some(num) = body.strip_prefix('#') {
        let cp = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(hex, 16).unwrap_or(u32::MAX)
        } else {
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            num.parse::<u32>().unwrap_or(u32::MAX)
        };
        let valid =
            matches!(cp, 0x09 | 0x0A | 0x0D | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
        let c = if valid {
            char::from_u32(cp).unwrap_or('\u{FFFD}')
        } else {
            '\u{FFFD}'
        };
        return Some((c, semi + 1));
    }
    NAMED_ENTITIES
        .iter()
        .find(|(n, _)| *n == body)
        .map(|(_, c)| (*c, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_element_detection() {
        let f = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert_eq!(
            xml_root_element(&f).unwrap().as_deref(),
            Some("http://www.w3.org/2000/svg:svg")
        );
        let f = b"<p>hi</p>\n";
        assert_eq!(xml_root_element(&f).unwrap().as_deref(), Some("p"));
        let f = b"<svg><g></svg>";
        assert_eq!(xml_root_element(&f).unwrap(), None);
        let f = b"\x89PNG\r\n\x1a\n";
        assert_eq!(xml_root_element(&f).unwrap(), None);
        let f = b"<a/><b/>";
        assert_eq!(xml_root_element(&f).unwrap(), None);
        let f = b"<a>&nbsp;</a>";
        assert_eq!(xml_root_element(&f).unwrap(), None);
        let f = b"<a b='1' b='2'/>";
        assert_eq!(xml_root_element(&f).unwrap(), None);
        let f = b"<a>x</a>trailing";
        assert_eq!(xml_root_element(&f).unwrap(), None);
        let f = b"";
        assert_eq!(xml_root_element(&f).unwrap(), None);
    }

    #[test]
    fn utf16_document_is_read() {
        let text = "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>é</title></svg>";
        let mut bytes = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let f = bytes;
        assert_eq!(
            xml_root_element(&f).unwrap().as_deref(),
            Some("http://www.w3.org/2000/svg:svg")
        );
    }

    #[test]
    fn encoding_check() {
        let check = |b: &[u8]| xml_encoding_mismatch(&b).unwrap();
        assert!(check(b"<?xml version=\"1.0\" encoding=\"UTF-7\"?><svg/>"));
        assert!(!check(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><svg/>"));
        assert!(!check(
            b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><svg/>"
        ));
        assert!(!check(b"<?xml version=\"1.0\"?><svg/>"));
        assert!(check(b"<?xml version=\"1.0\" encoding=\"utf-8\" <svg/>"));
        assert!(check(b"\x4C\x6F\xA7\x94rest"));
        assert!(!check(b"<svg/>"));
        // A UTF-16 document declaring UTF-7.
        let mut utf16 = vec![0xFE, 0xFF];
        for u in "<?xml version=\"1.0\" encoding=\"UTF-7\"?><svg/>".encode_utf16() {
            utf16.extend_from_slice(&u.to_be_bytes());
        }
        assert!(check(&utf16));
        // Big-endian UTF-32 without a BOM.
        let mut utf32 = Vec::new();
        for c in "<?xml encoding='ebcdic'?>".chars() {
            utf32.extend_from_slice(&(c as u32).to_be_bytes());
        }
        assert!(check(&utf32));
    }

    #[test]
    fn char_references() {
        assert_eq!(
            decode_char_references("&#106;ava&#x53;cript&amp;&bogus;&#0;"),
            "javaScript&&bogus;\u{FFFD}"
        );
    }
}
