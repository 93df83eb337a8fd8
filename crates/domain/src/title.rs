//! Page titles and upload file names.
//!
//! * [`parse_title`] turns user text (`titles=` and the like) into a namespace and a dbkey, with
//!   MediaWiki's title rules: HTML entity decoding and NFC, spaces → `_`, bidi-mark removal,
//!   whitespace collapsing, namespace prefixes (case-insensitive, `Image:` alias), fragments,
//!   the legal-character set, relative paths, `~~~`, the 255-byte limit and first-letter
//!   capitalisation.
//! * [`normalize_upload_name`] is the upload name pipeline (SPEC §6.1), producing the final dbkey
//!   or the name error, in MediaWiki's check order.
//! * Helpers for the name-based warnings (§4): [`is_bad_filename`], [`normalize_extension`],
//!   [`exists_normalized_candidate`], [`thumb_base_name`], [`bad_prefix`].
//! * Storage and URL helpers: [`hash_dirs`] (§8.1), [`rawurlencode`], [`wfurlencode`].

use md5::{Digest, Md5};
use unicode_normalization::UnicodeNormalization;

use crate::config::Config;
use crate::php::php_trim;

/// `Media:` (virtual namespace for direct file links).
pub const NS_MEDIA: i32 = -2;
/// `Special:`.
pub const NS_SPECIAL: i32 = -1;
/// The main (article) namespace, no prefix.
pub const NS_MAIN: i32 = 0;
/// `Talk:`.
pub const NS_TALK: i32 = 1;
/// `User:`.
pub const NS_USER: i32 = 2;
/// `User talk:`.
pub const NS_USER_TALK: i32 = 3;
/// The project namespace, named after the site (`Project:` is always accepted too).
pub const NS_PROJECT: i32 = 4;
/// The project talk namespace (`<site> talk:`, `Project talk:`).
pub const NS_PROJECT_TALK: i32 = 5;
/// `File:` (alias `Image:`).
pub const NS_FILE: i32 = 6;
/// `File talk:` (alias `Image talk:`).
pub const NS_FILE_TALK: i32 = 7;
/// `MediaWiki:`.
pub const NS_MEDIAWIKI: i32 = 8;
/// `MediaWiki talk:`.
pub const NS_MEDIAWIKI_TALK: i32 = 9;
/// `Template:`.
pub const NS_TEMPLATE: i32 = 10;
/// `Template talk:`.
pub const NS_TEMPLATE_TALK: i32 = 11;
/// `Help:`.
pub const NS_HELP: i32 = 12;
/// `Help talk:`.
pub const NS_HELP_TALK: i32 = 13;
/// `Category:`.
pub const NS_CATEGORY: i32 = 14;
/// `Category talk:`.
pub const NS_CATEGORY_TALK: i32 = 15;

/// Upload names may not be longer than this many bytes (the 255-byte `oi_archive_name` column
/// minus the `YYYYMMDDHHMMSS!` prefix).
pub const MAX_FILENAME_BYTES: usize = 240;
/// Title length limit in bytes (dbkey, without the namespace prefix).
pub const MAX_TITLE_BYTES: usize = 255;
/// Title length limit in the `Special:` namespace.
pub const MAX_SPECIAL_TITLE_BYTES: usize = 512;

/// Default `MediaWiki:Filename-prefix-blacklist` entries (camera default names).
pub const BAD_PREFIXES: &[&str] = &[
    "CIMG", "DSC_", "DSCF", "DSCN", "DUW", "IMG", "JD", "MGP", "PICT",
];

/// Canonical namespace names (underscore form), including the project namespaces.
const CANONICAL_NAMESPACES: &[(i32, &str)] = &[
    (NS_MEDIA, "Media"),
    (NS_SPECIAL, "Special"),
    (NS_TALK, "Talk"),
    (NS_USER, "User"),
    (NS_USER_TALK, "User_talk"),
    (NS_PROJECT, "Project"),
    (NS_PROJECT_TALK, "Project_talk"),
    (NS_FILE, "File"),
    (NS_FILE_TALK, "File_talk"),
    (NS_MEDIAWIKI, "MediaWiki"),
    (NS_MEDIAWIKI_TALK, "MediaWiki_talk"),
    (NS_TEMPLATE, "Template"),
    (NS_TEMPLATE_TALK, "Template_talk"),
    (NS_HELP, "Help"),
    (NS_HELP_TALK, "Help_talk"),
    (NS_CATEGORY, "Category"),
    (NS_CATEGORY_TALK, "Category_talk"),
];

/// Namespace aliases (underscore form).
const NAMESPACE_ALIASES: &[(i32, &str)] = &[(NS_FILE, "Image"), (NS_FILE_TALK, "Image_talk")];

/// The canonical (language-independent) name of a namespace, underscore form; `""` for the
/// main namespace, `None` for an unknown number.
pub fn canonical_namespace_name(ns: i32) -> Option<&'static str> {
    if ns == NS_MAIN {
        return Some("");
    }
    CANONICAL_NAMESPACES
        .iter()
        .find(|(id, _)| *id == ns)
        .map(|(_, name)| *name)
}

/// The local name of a namespace in underscore form. The project namespaces are named after
/// `sitename` (`"Anchor Wiki"` → `Anchor_Wiki`, `Anchor_Wiki_talk`); an empty `sitename` means
/// the canonical `Project`. `None` for an unknown number.
pub fn namespace_name(ns: i32, sitename: &str) -> Option<String> {
    let meta = sitename.trim().replace(' ', "_");
    match ns {
        NS_PROJECT if !meta.is_empty() => Some(meta),
        NS_PROJECT_TALK if !meta.is_empty() => Some(format!("{meta}_talk")),
        _ => canonical_namespace_name(ns).map(str::to_owned),
    }
}

/// The namespace a prefix names: canonical names, the site-named project namespaces and the
/// `Image`/`Image talk` aliases, case-insensitively and with spaces and underscores alike.
/// The empty prefix is not a namespace.
pub fn namespace_index(prefix: &str, sitename: &str) -> Option<i32> {
    let wanted = prefix.replace(' ', "_").to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    let meta = sitename.trim().replace(' ', "_").to_lowercase();
    if !meta.is_empty() {
        if wanted == meta {
            return Some(NS_PROJECT);
        }
        if wanted == format!("{meta}_talk") {
            return Some(NS_PROJECT_TALK);
        }
    }
    CANONICAL_NAMESPACES
        .iter()
        .chain(NAMESPACE_ALIASES)
        .find(|(_, name)| name.to_lowercase() == wanted)
        .map(|(id, _)| *id)
}

/// A page title: namespace number and dbkey (underscores, first letter capitalised).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Title {
    /// Namespace number (`NS_*`).
    pub ns: i32,
    /// Storage form of the title text, without the namespace prefix.
    pub dbkey: String,
}

impl Title {
    /// A title in the File namespace.
    pub fn file(dbkey: impl Into<String>) -> Title {
        Title {
            ns: NS_FILE,
            dbkey: dbkey.into(),
        }
    }

    /// The title text with spaces, without the namespace (`"Red test.png"`).
    pub fn text(&self) -> String {
        self.dbkey.replace('_', " ")
    }

    /// Namespace prefix and text with spaces (`"File:Red test.png"`), the project namespaces
    /// named `Project`/`Project talk`.
    pub fn prefixed_text(&self) -> String {
        self.prefixed_text_in("")
    }

    /// Namespace prefix and dbkey (`"File:Red_test.png"`), the project namespaces named
    /// `Project`/`Project_talk`.
    pub fn prefixed_dbkey(&self) -> String {
        self.prefixed_dbkey_in("")
    }

    /// [`Title::prefixed_text`] with the project namespaces named after `sitename`.
    pub fn prefixed_text_in(&self, sitename: &str) -> String {
        self.prefixed_dbkey_in(sitename).replace('_', " ")
    }

    /// [`Title::prefixed_dbkey`] with the project namespaces named after `sitename`.
    pub fn prefixed_dbkey_in(&self, sitename: &str) -> String {
        match namespace_name(self.ns, sitename) {
            Some(name) if !name.is_empty() => format!("{name}:{}", self.dbkey),
            _ => self.dbkey.clone(),
        }
    }
}

/// Why a text is not a valid title. The display text is the reason MediaWiki gives (for
/// example as `invalidreason` of `prop=info` for invalid titles).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TitleError {
    /// Empty, or only a namespace prefix.
    #[error("The requested page title is empty or contains only the name of a namespace.")]
    Empty,
    /// Contains U+FFFD (from invalid UTF-8 or an invalid character reference).
    #[error("The requested page title contains an invalid UTF-8 sequence.")]
    InvalidUtf8,
    /// `Talk:` followed by another namespace prefix.
    #[error("The requested page title refers to a talk page that can not exist.")]
    TalkNamespace,
    /// An illegal character, `%XX` or an HTML entity; carries the offending text.
    #[error("The requested page title contains invalid characters: \"{0}\".")]
    InvalidCharacters(String),
    /// `.`, `..`, `./…`, `../…`, `…/./…`, `…/../…`, `…/.`, `…/..`.
    #[error(
        "Title has relative path. Relative page titles (./, ../) are invalid, because they will \
         often be unreachable when handled by user's browser."
    )]
    Relative,
    /// Contains `~~~`.
    #[error("The requested page title contains invalid magic tilde sequence (~~~).")]
    MagicTilde,
    /// Longer than the limit (bytes), which is carried.
    #[error(
        "The requested page title is too long. It must be no longer than {0} bytes in UTF-8 \
         encoding."
    )]
    TooLong(usize),
    /// Starts with `:` after the optional leading colon was removed.
    #[error("The requested page title contains an invalid colon at the beginning.")]
    LeadingColon,
}

impl TitleError {
    /// MediaWiki's message key for the reason (`title-invalid-characters`, …).
    pub fn key(&self) -> &'static str {
        match self {
            TitleError::Empty => "title-invalid-empty",
            TitleError::InvalidUtf8 => "title-invalid-utf8",
            TitleError::TalkNamespace => "title-invalid-talk-namespace",
            TitleError::InvalidCharacters(_) => "title-invalid-characters",
            TitleError::Relative => "title-invalid-relative",
            TitleError::MagicTilde => "title-invalid-magic-tilde",
            TitleError::TooLong(_) => "title-invalid-too-long",
            TitleError::LeadingColon => "title-invalid-leading-colon",
        }
    }
}

/// Parses a title as given by a user (for example in `titles=`), main namespace by default,
/// the project namespace under its canonical name `Project`.
pub fn parse_title(text: &str) -> Result<Title, TitleError> {
    parse_title_in(text, "", NS_MAIN)
}

/// Parses a title with the project namespace named after `sitename` (also always reachable as
/// `Project:`) and `default_ns` for text without a namespace prefix. HTML character references
/// are decoded and the text NFC-normalised first; a `#fragment` is dropped. A leading `:`
/// forces the main namespace.
pub fn parse_title_in(text: &str, sitename: &str, default_ns: i32) -> Result<Title, TitleError> {
    let decoded: String = decode_char_references(text).nfc().collect();
    split_title(&decoded, sitename, default_ns)
}

/// Upper-cases the first character (full Unicode mapping, so `ß` → `SS`), leaving the rest.
pub fn ucfirst(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) if first.is_ascii() => {
            let mut out = String::with_capacity(s.len());
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
            out
        }
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            out
        }
    }
}

/// Bidi marks and embedding/override controls that titles drop.
fn is_bidi_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}')
}

/// Characters that titles treat as whitespace (collapsed into one `_`).
fn is_title_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '_' | '\u{A0}' | '\u{1680}' | '\u{180E}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Whether an ASCII byte may appear in a title (`$wgLegalTitleChars`); every byte ≥ 0x80 may.
fn is_legal_title_byte(b: u8) -> bool {
    b >= 0x80
        || b.is_ascii_alphanumeric()
        || matches!(
            b,
            b' ' | b'%'
                | b'!'
                | b'"'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b','
                | b'-'
                | b'.'
                | b'/'
                | b':'
                | b';'
                | b'='
                | b'?'
                | b'@'
                | b'\\'
                | b'^'
                | b'_'
                | b'`'
                | b'~'
                | b'+'
        )
}

/// Spaces → `_`, bidi marks removed, whitespace runs collapsed to one `_`, `_` trimmed.
fn clean_title_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars().filter(|c| !is_bidi_mark(*c)) {
        if is_title_space(c) {
            if !in_space {
                out.push('_');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out.trim_matches('_').to_owned()
}

/// The namespace-prefix split: the text before the first `:` (at byte 1 or later) with
/// trailing `_` removed, and the text after it with leading `_` removed.
fn split_prefix(dbkey: &str) -> Option<(&str, &str)> {
    // A newline anywhere stops the prefix pattern from matching.
    if dbkey.contains('\n') {
        return None;
    }
    let pos = dbkey.get(1..)?.find(':')? + 1;
    let prefix = dbkey[..pos].trim_end_matches('_');
    let prefix = if prefix.is_empty() {
        &dbkey[..1]
    } else {
        prefix
    };
    let rest = dbkey[pos + 1..].trim_start_matches('_');
    Some((prefix, rest))
}

/// The first illegal sequence in a dbkey: a byte outside the legal set, `%XX`, or a character
/// reference (`&name;`, `&#123;`, `&#x1F;`).
fn find_invalid_sequence(dbkey: &str) -> Option<String> {
    let bytes = dbkey.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !is_legal_title_byte(b) {
            // Only ASCII bytes can be illegal, so this is a whole character.
            return Some((b as char).to_string());
        }
        if b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            return Some(dbkey[i..i + 3].to_owned());
        }
        if b == b'&' {
            if let Some(len) = char_reference_len(&bytes[i..]) {
                return Some(dbkey[i..i + len].to_owned());
            }
        }
    }
    None
}

/// Length of a character reference at the start of `bytes` (which starts with `&`), if any.
fn char_reference_len(bytes: &[u8]) -> Option<usize> {
    let run = |from: usize, pred: fn(&u8) -> bool| {
        bytes
            .get(from..)
            .map_or(0, |rest| rest.iter().take_while(|b| pred(b)).count())
    };
    let named = run(1, |b| b.is_ascii_alphanumeric() || *b >= 0x80);
    if named > 0 && bytes.get(1 + named) == Some(&b';') {
        return Some(named + 2);
    }
    if bytes.get(1) == Some(&b'#') {
        let dec = run(2, u8::is_ascii_digit);
        if dec > 0 && bytes.get(2 + dec) == Some(&b';') {
            return Some(dec + 3);
        }
        if bytes.get(2) == Some(&b'x') {
            let hex = run(3, u8::is_ascii_hexdigit);
            if hex > 0 && bytes.get(3 + hex) == Some(&b';') {
                return Some(hex + 4);
            }
        }
    }
    None
}

/// Whether a dbkey is or contains a relative path component.
fn is_relative_path(dbkey: &str) -> bool {
    dbkey.contains('.')
        && (dbkey == "."
            || dbkey == ".."
            || dbkey.starts_with("./")
            || dbkey.starts_with("../")
            || dbkey.contains("/./")
            || dbkey.contains("/../")
            || dbkey.ends_with("/.")
            || dbkey.ends_with("/.."))
}

/// The title parser proper, on text whose character references are already decoded.
fn split_title(text: &str, sitename: &str, default_ns: i32) -> Result<Title, TitleError> {
    let mut dbkey = clean_title_whitespace(text);
    if dbkey.contains('\u{FFFD}') {
        return Err(TitleError::InvalidUtf8);
    }
    let mut ns = default_ns;
    if let Some(rest) = dbkey.strip_prefix(':') {
        ns = NS_MAIN;
        dbkey = rest.trim_matches('_').to_owned();
    }
    if dbkey.is_empty() {
        return Err(TitleError::Empty);
    }
    if let Some((prefix, rest)) = split_prefix(&dbkey) {
        if let Some(index) = namespace_index(prefix, sitename) {
            if index == NS_TALK {
                if let Some((inner, _)) = split_prefix(rest) {
                    if namespace_index(inner, sitename).is_some() {
                        return Err(TitleError::TalkNamespace);
                    }
                }
            }
            ns = index;
            dbkey = rest.to_owned();
        }
    }
    if let Some(pos) = dbkey.find('#') {
        dbkey.truncate(pos);
        let trimmed = dbkey.trim_end_matches('_').len();
        dbkey.truncate(trimmed);
    }
    if let Some(bad) = find_invalid_sequence(&dbkey) {
        return Err(TitleError::InvalidCharacters(bad));
    }
    if is_relative_path(&dbkey) {
        return Err(TitleError::Relative);
    }
    if dbkey.contains("~~~") {
        return Err(TitleError::MagicTilde);
    }
    let max = if ns == NS_SPECIAL {
        MAX_SPECIAL_TITLE_BYTES
    } else {
        MAX_TITLE_BYTES
    };
    if dbkey.len() > max {
        return Err(TitleError::TooLong(max));
    }
    let dbkey = ucfirst(&dbkey);
    if dbkey.is_empty() {
        return Err(TitleError::Empty);
    }
    if dbkey.starts_with(':') {
        return Err(TitleError::LeadingColon);
    }
    Ok(Title { ns, dbkey })
}

/// HTML 4 named entities (plus `apos`) and their code points.
const NAMED_ENTITIES: &[(&str, u32)] = &[
    ("quot", 34),
    ("amp", 38),
    ("apos", 39),
    ("lt", 60),
    ("gt", 62),
    ("OElig", 338),
    ("oelig", 339),
    ("Scaron", 352),
    ("scaron", 353),
    ("Yuml", 376),
    ("fnof", 402),
    ("circ", 710),
    ("tilde", 732),
    ("thetasym", 977),
    ("upsih", 978),
    ("piv", 982),
    ("ensp", 8194),
    ("emsp", 8195),
    ("thinsp", 8201),
    ("zwnj", 8204),
    ("zwj", 8205),
    ("lrm", 8206),
    ("rlm", 8207),
    ("ndash", 8211),
    ("mdash", 8212),
    ("lsquo", 8216),
    ("rsquo", 8217),
    ("sbquo", 8218),
    ("ldquo", 8220),
    ("rdquo", 8221),
    ("bdquo", 8222),
    ("dagger", 8224),
    ("Dagger", 8225),
    ("bull", 8226),
    ("hellip", 8230),
    ("permil", 8240),
    ("prime", 8242),
    ("Prime", 8243),
    ("lsaquo", 8249),
    ("rsaquo", 8250),
    ("oline", 8254),
    ("frasl", 8260),
    ("euro", 8364),
    ("image", 8465),
    ("weierp", 8472),
    ("real", 8476),
    ("trade", 8482),
    ("alefsym", 8501),
    ("larr", 8592),
    ("uarr", 8593),
    ("rarr", 8594),
    ("darr", 8595),
    ("harr", 8596),
    ("crarr", 8629),
    ("lArr", 8656),
    ("uArr", 8657),
    ("rArr", 8658),
    ("dArr", 8659),
    ("hArr", 8660),
    ("forall", 8704),
    ("part", 8706),
    ("exist", 8707),
    ("empty", 8709),
    ("nabla", 8711),
    ("isin", 8712),
    ("notin", 8713),
    ("ni", 8715),
    ("prod", 8719),
    ("sum", 8721),
    ("minus", 8722),
    ("lowast", 8727),
    ("radic", 8730),
    ("prop", 8733),
    ("infin", 8734),
    ("ang", 8736),
    ("and", 8743),
    ("or", 8744),
    ("cap", 8745),
    ("cup", 8746),
    ("int", 8747),
    ("there4", 8756),
    ("sim", 8764),
    ("cong", 8773),
    ("asymp", 8776),
    ("ne", 8800),
    ("equiv", 8801),
    ("le", 8804),
    ("ge", 8805),
    ("sub", 8834),
    ("sup", 8835),
    ("nsub", 8836),
    ("sube", 8838),
    ("supe", 8839),
    ("oplus", 8853),
    ("otimes", 8855),
    ("perp", 8869),
    ("sdot", 8901),
    ("lceil", 8968),
    ("rceil", 8969),
    ("lfloor", 8970),
    ("rfloor", 8971),
    ("lang", 9001),
    ("rang", 9002),
    ("loz", 9674),
    ("spades", 9824),
    ("clubs", 9827),
    ("hearts", 9829),
    ("diams", 9830),
];

/// Names of the Latin-1 entities for U+00A0..=U+00FF, in code point order.
const LATIN1_ENTITIES: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// Greek letter entity names: capitals from U+0391, small letters from U+03B1 (`sigmaf` is
/// U+03C2; there is no capital at U+03A2).
const GREEK_CAPITALS: [&str; 17] = [
    "Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa",
    "Lambda", "Mu", "Nu", "Xi", "Omicron", "Pi", "Rho",
];
const GREEK_CAPITALS_2: [&str; 7] = ["Sigma", "Tau", "Upsilon", "Phi", "Chi", "Psi", "Omega"];

/// The character a named entity stands for.
fn named_entity(name: &str) -> Option<char> {
    if let Some(i) = LATIN1_ENTITIES.iter().position(|n| *n == name) {
        return char::from_u32(0xA0 + i as u32);
    }
    let greek = |names: &[&str], base: u32| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| char::from_u32(base + i as u32))
    };
    let lower_greek = |names: &[&str], base: u32| {
        names
            .iter()
            .position(|n| n.to_lowercase() == name && name != *n)
            .and_then(|i| char::from_u32(base + i as u32))
    };
    if name == "sigmaf" {
        return Some('\u{3C2}');
    }
    greek(&GREEK_CAPITALS, 0x391)
        .or_else(|| greek(&GREEK_CAPITALS_2, 0x3A3))
        .or_else(|| lower_greek(&GREEK_CAPITALS, 0x3B1))
        .or_else(|| lower_greek(&GREEK_CAPITALS_2, 0x3C3))
        .or_else(|| {
            NAMED_ENTITIES
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, cp)| char::from_u32(*cp))
        })
}

/// The character for a numeric reference; code points outside the allowed set (tab, LF, CR,
/// U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF) become U+FFFD.
fn numeric_reference(digits: &str, radix: u32) -> char {
    let valid = |cp: u32| matches!(cp, 0x09 | 0x0A | 0x0D | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    u32::from_str_radix(digits, radix)
        .ok()
        .filter(|cp| valid(*cp))
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

/// Decodes HTML character references (`&amp;`, `&#233;`, `&#xE9;`); unknown named references
/// are left as they are.
pub fn decode_char_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match char_reference_len(tail.as_bytes()) {
            Some(len) => {
                let body = &tail[1..len - 1];
                let decoded = if let Some(hex) = body.strip_prefix("#x") {
                    Some(numeric_reference(hex, 16))
                } else if let Some(dec) = body.strip_prefix('#') {
                    Some(numeric_reference(dec, 10))
                } else {
                    named_entity(body)
                };
                match decoded {
                    Some(c) => out.push(c),
                    None => out.push_str(&tail[..len]),
                }
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Upload names (§6.1)

/// The normalised name of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadName {
    /// The final name (dbkey, no `File:`).
    pub dbkey: String,
    /// The final extension as it appears in the name (`"PNG"` for `Foo.PNG`).
    pub final_ext: String,
    /// The name had no dot and the extension was appended from the content type.
    pub extension_guessed: bool,
    /// Extension checks are on and the final extension is not in `FileExtensions` (only
    /// reachable when `StrictFileExtensions` is off): raise `filetype-unwanted-type`.
    pub unwanted_type: bool,
}

/// A rejected upload name.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// `filename-toolong`: over 240 bytes before character filtering.
    #[error("Filenames may not be longer than 240 bytes.")]
    TooLong,
    /// `illegal-filename`; `filtered` is the name after illegal characters were replaced.
    #[error("The filename is not allowed.")]
    Illegal {
        /// The name after illegal characters were replaced (the error's `filename` data).
        filtered: String,
    },
    /// `filename-tooshort`: nothing before the last dot.
    #[error("The filename is too short.")]
    TooShort,
    /// `filetype-missing`: the name ends in a dot, or it has no dot and no extension could be
    /// guessed from the content.
    #[error("The file has no extension (like \".jpg\").")]
    MissingExtension,
    /// `filetype-banned`: a prohibited extension segment, or (strict mode) the final extension
    /// is not allowed.
    #[error("\".{filetype}\" is not a permitted file type.")]
    Banned {
        /// The final extension as in the name (the error's `filetype` data).
        filetype: String,
        /// Lowercased prohibited segments, in name order (the error's `blacklisted` data);
        /// empty when the type is only not allowed.
        blacklisted: Vec<String>,
    },
}

impl NameError {
    /// The API error code.
    pub fn code(&self) -> &'static str {
        match self {
            NameError::TooLong => "filename-toolong",
            NameError::Illegal { .. } => "illegal-filename",
            NameError::TooShort => "filename-tooshort",
            NameError::MissingExtension => "filetype-missing",
            NameError::Banned { .. } => "filetype-banned",
        }
    }

    /// Whether the upload is stashed first and the error carries a filekey (every name error
    /// except `filetype-banned`).
    pub fn is_recoverable(&self) -> bool {
        !matches!(self, NameError::Banned { .. })
    }

    /// The error's `info` text. For `filetype-banned` it names the prohibited segments (or the
    /// final extension) and lists the permitted types of `cfg`:
    /// `".php" is not a permitted file type. Permitted file types are png, gif, jpg, jpeg, webp.`
    pub fn info(&self, cfg: &Config) -> String {
        match self {
            NameError::Banned {
                filetype,
                blacklisted,
            } => {
                let (named, count) = if blacklisted.is_empty() {
                    (filetype.clone(), 1)
                } else {
                    (blacklisted.join(", "), blacklisted.len())
                };
                let allowed = allowed_extensions(cfg);
                let verb = if count == 1 {
                    "is not a permitted file type"
                } else {
                    "are not permitted file types"
                };
                let permitted = if allowed.len() == 1 {
                    "Permitted file type is"
                } else {
                    "Permitted file types are"
                };
                format!("\".{named}\" {verb}. {permitted} {}.", allowed.join(", "))
            }
            other => other.to_string(),
        }
    }
}

/// `FileExtensions` without duplicates, in configured order (the `allowed` error data and the
/// list in `filetype-banned`/`filetype-unwanted-type`).
pub fn allowed_extensions(cfg: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(cfg.file_extensions.len());
    for ext in &cfg.file_extensions {
        if !out.contains(ext) {
            out.push(ext.clone());
        }
    }
    out
}

/// Replaces every character that may not appear in a file name with `-`: ASCII outside the
/// legal title set (`#<>[]|{}`, control characters, DEL) and `:`, `/`, `\` (§6.1 step 4).
pub fn strip_illegal_filename_chars(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii() && (!is_legal_title_byte(c as u8) || matches!(c, ':' | '/' | '\\')) {
                '-'
            } else {
                c
            }
        })
        .collect()
}

/// The dbkey of `File:<name>` as built from a filtered name (no entity decoding), if valid.
fn file_dbkey(name: &str) -> Option<String> {
    split_title(&format!("File:{name}"), "", NS_MAIN)
        .ok()
        .filter(|t| t.ns == NS_FILE)
        .map(|t| t.dbkey)
}

/// Normalises an upload's requested name `requested` (§6.1), in MediaWiki's check order:
/// `File:`/`Image:` prefix (with entity decoding) → 240-byte limit → character filtering →
/// title rules → extension (guessed when the name has no dot) → missing extension →
/// prohibited/not-allowed type → empty part name.
///
/// `guess_ext` is the first extension registered for the content's sniffed MIME type (for
/// example `png` for `image/png`, `txt` for `text/plain`); it is used only when the name has
/// no dot at all. With no dot and no guess the result is [`NameError::MissingExtension`]
/// (MediaWiki's `filetype-missing` for content it cannot type).
///
/// The requested name is NFC-normalised first (the API layer does this for every parameter).
/// The Windows-only `windows-nonascii-filename` check does not apply.
pub fn normalize_upload_name(
    requested: &str,
    guess_ext: Option<&str>,
    cfg: &Config,
) -> Result<UploadName, NameError> {
    let requested: String = requested.nfc().collect();
    // Step 2: an explicit File:/Image: prefix is dropped.
    let name = match parse_title_in(&requested, &cfg.sitename, NS_MAIN) {
        Ok(title) if title.ns == NS_FILE => title.dbkey,
        _ => requested,
    };
    // Step 3: the length limit applies before any characters are replaced.
    if name.len() > MAX_FILENAME_BYTES {
        return Err(NameError::TooLong);
    }
    // Steps 4-5.
    let filtered = strip_illegal_filename_chars(&name);
    let Some(mut dbkey) = file_dbkey(&filtered) else {
        return Err(NameError::Illegal { filtered });
    };
    // Step 6: the base is the first segment, the rest are extensions.
    let mut segments: Vec<String> = dbkey.split('.').map(str::to_owned).collect();
    let base = segments.remove(0);
    let mut extension_guessed = false;
    if segments.is_empty() {
        if let Some(guess) = guess_ext.filter(|g| !g.is_empty()) {
            let with_ext = format!("{dbkey}.{guess}");
            dbkey = file_dbkey(&with_ext).ok_or(NameError::Illegal { filtered: with_ext })?;
            segments.push(guess.to_owned());
            extension_guessed = true;
        }
    }
    let final_ext = segments.last().map_or("", |e| php_trim(e)).to_owned();
    // Step 7.
    let blacklisted: Vec<String> = segments
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| cfg.prohibited_file_extensions.contains(s))
        .collect();
    if final_ext.is_empty() {
        return Err(NameError::MissingExtension);
    }
    let allowed = cfg
        .file_extensions
        .contains(&final_ext.to_ascii_lowercase());
    if !blacklisted.is_empty()
        || (cfg.check_file_extensions && cfg.strict_file_extensions && !allowed)
    {
        return Err(NameError::Banned {
            filetype: final_ext,
            blacklisted,
        });
    }
    // Step 9: the part before the final extension must not be empty.
    let inner = segments.len().saturating_sub(1);
    let part_empty = base.is_empty() && inner == 0;
    if part_empty {
        return Err(NameError::TooShort);
    }
    Ok(UploadName {
        dbkey,
        final_ext,
        extension_guessed,
        unwanted_type: cfg.check_file_extensions && !allowed,
    })
}

// ---------------------------------------------------------------------------------------------
// Name-based warnings (§4)

/// `badfilename`: the final dbkey differs from the requested name both as given and with
/// spaces → `_` and a capitalised first letter. The requested name is NFC-normalised first,
/// as the API layer does.
pub fn is_bad_filename(requested: &str, dbkey: &str) -> bool {
    let requested: String = requested.nfc().collect();
    if requested == dbkey {
        return false;
    }
    ucfirst(&requested.replace(' ', "_")) != dbkey
}

/// Splits a name at its last dot into the part name and the extension; a name without a dot,
/// or whose only dot is the first character, is all part name with an empty extension.
pub fn split_name(dbkey: &str) -> (&str, &str) {
    match dbkey.rfind('.') {
        Some(n) if n > 0 => (&dbkey[..n], &dbkey[n + 1..]),
        _ => (dbkey, ""),
    }
}

/// The normal form of an extension: ASCII-lowercased, with `jpeg`→`jpg`, `tiff`→`tif`,
/// `mpeg`→`mpg`, `ogv`→`ogg`, `htm`→`html`; anything not purely `[0-9a-z]` becomes empty.
pub fn normalize_extension(ext: &str) -> String {
    let lower = ext.to_ascii_lowercase();
    let squished = match lower.as_str() {
        "htm" => "html",
        "jpeg" => "jpg",
        "mpeg" => "mpg",
        "tiff" => "tif",
        "ogv" => "ogg",
        other => other,
    };
    if !squished.is_empty()
        && squished
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        squished.to_owned()
    } else {
        String::new()
    }
}

/// `exists-normalized` (a): when the name's extension is not in normal form, the name with
/// the normalised extension (`Red_test.PNG` → `Red_test.png`); `None` when it already is.
pub fn exists_normalized_candidate(dbkey: &str) -> Option<String> {
    let (part, ext) = split_name(dbkey);
    let normalized = normalize_extension(ext);
    (normalized != ext).then(|| format!("{part}.{normalized}"))
}

/// `exists-normalized` (b): the prefix other files' names are searched for (`<part name>.`).
pub fn similar_name_prefix(dbkey: &str) -> String {
    format!("{}.", split_name(dbkey).0)
}

/// Whether a name looks like a thumbnail: the part name has `px-` at byte 2 or 3 and starts
/// with two digits (`50px-Foo.png`, `120px-Foo.png`).
pub fn is_thumb_name(dbkey: &str) -> bool {
    let part = split_name(dbkey).0.as_bytes();
    let px_at = |start: usize| part.get(start..start + 3) == Some(&b"px-"[..]);
    (px_at(3) || px_at(2)) && part.len() >= 2 && part[..2].iter().all(u8::is_ascii_digit)
}

/// `thumb`/`thumb-name`: for a thumbnail-looking name, the name of the file it would be a
/// thumbnail of (what follows the first `-`, with the extension, as a File-namespace dbkey):
/// `120px-Anchor-small.png` → `Anchor-small.png`. `None` when the name does not look like a
/// thumbnail.
pub fn thumb_base_name(dbkey: &str) -> Option<String> {
    if !is_thumb_name(dbkey) {
        return None;
    }
    let (part, ext) = split_name(dbkey);
    let after = part.find('-').map_or(part, |i| &part[i + 1..]);
    let candidate = format!("{after}.{ext}");
    match parse_title_in(&candidate, "", NS_FILE) {
        Ok(title) if title.ns == NS_FILE => Some(title.dbkey),
        _ => Some(candidate.replace(' ', "_")),
    }
}

/// `bad-prefix`: the camera prefix the part name starts with (case-sensitive), if any.
pub fn bad_prefix(dbkey: &str) -> Option<&'static str> {
    let part = split_name(dbkey).0;
    BAD_PREFIXES.iter().copied().find(|p| part.starts_with(p))
}

/// Whether the name starts with a camera prefix (see [`bad_prefix`]).
pub fn has_bad_prefix(dbkey: &str) -> bool {
    bad_prefix(dbkey).is_some()
}

// ---------------------------------------------------------------------------------------------
// Storage paths and URLs

/// The hashed upload directories of a name: the first 1 and 2 hex characters of `md5(dbkey)`
/// (`Red_test.png` → `("b", "b7")`).
pub fn hash_dirs(dbkey: &str) -> (String, String) {
    let hex = hex::encode(Md5::digest(dbkey.as_bytes()));
    (hex[..1].to_owned(), hex[..2].to_owned())
}

fn push_percent(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0x0f)] as char);
}

/// Percent-encodes every byte except `A-Z a-z 0-9 - _ . ~` (RFC 3986 style, as PHP's
/// `rawurlencode`); used for file names in file URLs.
pub fn rawurlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            push_percent(&mut out, b);
        }
    }
    out
}

/// Encodes a page title for a URL the way MediaWiki does: form encoding (space → `+`), but
/// `; @ $ ! * ( ) , / ~ :` stay readable (`File:Caf%C3%A9.png`,
/// `Special:UploadStash/file/<key>`).
pub fn wfurlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b';'
                    | b'@'
                    | b'$'
                    | b'!'
                    | b'*'
                    | b'('
                    | b')'
                    | b','
                    | b'/'
                    | b'~'
                    | b':'
            )
        {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            push_percent(&mut out, b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference wiki's `FileExtensions` (transcripts).
    fn reference_cfg() -> Config {
        Config {
            file_extensions: "png gif jpg jpeg webp svg pdf tif tiff ogg oga ogv opus flac wav \
                              webm mp3 mpg mpeg mid midi xcf"
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            ..Config::default()
        }
    }

    const REFERENCE_ALLOWED: &str = "png, gif, jpg, jpeg, webp, svg, pdf, tif, tiff, ogg, oga, \
                                     ogv, opus, flac, wav, webm, mp3, mpg, mpeg, mid, midi, xcf";

    /// Asserts an accepted name: final dbkey and whether `badfilename` is raised.
    fn accepted(requested: &str, dbkey: &str, bad: bool) {
        let cfg = reference_cfg();
        let name = normalize_upload_name(requested, Some("png"), &cfg)
            .unwrap_or_else(|e| panic!("{requested:?} rejected: {e:?}"));
        assert_eq!(name.dbkey, dbkey, "{requested:?}");
        assert_eq!(
            is_bad_filename(requested, &name.dbkey),
            bad,
            "badfilename for {requested:?}"
        );
        assert!(!name.extension_guessed, "{requested:?}");
        assert!(!name.unwanted_type, "{requested:?}");
    }

    fn rejected(requested: &str, guess: Option<&str>) -> NameError {
        normalize_upload_name(requested, guess, &reference_cfg())
            .expect_err(&format!("{requested:?} accepted"))
    }

    // --- transcript 05-bad-filenames (and 02/07), step by step ---

    #[test]
    fn t05_accepted_without_warning() {
        accepted("anchor lower case.png", "Anchor_lower_case.png", false);
        accepted("Anchor_under_score.png", "Anchor_under_score.png", false);
        accepted("Anchor~tilde~.png", "Anchor~tilde~.png", false);
        accepted("Ünïcødé ✓ name.png", "Ünïcødé_✓_name.png", false);
        accepted(
            "Anchor\u{200B}zero-width.png",
            "Anchor\u{200B}zero-width.png",
            false,
        );
        accepted("Anchor-png-as.jpg", "Anchor-png-as.jpg", false);
        accepted("Anchor-upper.PNG", "Anchor-upper.PNG", false);
        accepted("Anchor-small.PNG", "Anchor-small.PNG", false);
        accepted("Anchor-jpeg-ext.jpeg", "Anchor-jpeg-ext.jpeg", false);
        accepted("Anchor-empty.png", "Anchor-empty.png", false);
        accepted("Anchor-html.png", "Anchor-html.png", false);
        accepted("Anchor-script.svg", "Anchor-script.svg", false);
        accepted("Anchor-onload.svg", "Anchor-onload.svg", false);
        accepted("Anchor-truncated.png", "Anchor-truncated.png", false);
        accepted("Anchor-garbage.png", "Anchor-garbage.png", false);
        accepted("IMG_0001.jpg", "IMG_0001.jpg", false);
        accepted("120px-Anchor-small.png", "120px-Anchor-small.png", false);
        accepted(
            "120px-Anchor-nothing.png",
            "120px-Anchor-nothing.png",
            false,
        );
        accepted("Anchor-partname.png", "Anchor-partname.png", false);
        accepted(
            "anchor lower ignored.png",
            "Anchor_lower_ignored.png",
            false,
        );
        // 02: spaces are normalised without a warning.
        accepted("Anchor noise upload.png", "Anchor_noise_upload.png", false);
    }

    #[test]
    fn t05_nfd_name_is_composed_without_warning() {
        let nfd = "Cafe\u{301} decomposed.png";
        accepted(nfd, "Café_decomposed.png", false);
    }

    #[test]
    fn t05_badfilename_cases() {
        accepted(
            "Anchor  double  space .png",
            "Anchor_double_space_.png",
            true,
        );
        accepted("File:Anchor-ns-prefix.png", "Anchor-ns-prefix.png", true);
        accepted(
            "Image:Anchor-image-prefix.png",
            "Anchor-image-prefix.png",
            true,
        );
        accepted("Anchor#hash.png", "Anchor-hash.png", true);
        accepted("Anchor<lt>.png", "Anchor-lt-.png", true);
        accepted("Anchor[bracket].png", "Anchor-bracket-.png", true);
        accepted("Anchor{brace}|pipe.png", "Anchor-brace--pipe.png", true);
        accepted("dir/sub/Anchor-slash.png", "Dir-sub-Anchor-slash.png", true);
        accepted("Anchor:colon.png", "Anchor-colon.png", true);
        accepted("Anchor\\backslash.png", "Anchor-backslash.png", true);
        accepted(
            "../../etc/Anchor-dotdot.png",
            "..-..-etc-Anchor-dotdot.png",
            true,
        );
        accepted("Anchor\u{A0}nbsp.png", "Anchor_nbsp.png", true);
        // 07: an illegal name on a first chunk.
        accepted("Anchor<bad>.png", "Anchor-bad-.png", true);
    }

    #[test]
    fn t05_dotdot_is_illegal() {
        assert_eq!(
            rejected("..", Some("png")),
            NameError::Illegal {
                filtered: "..".into()
            }
        );
    }

    #[test]
    fn t05_extension_only_is_too_short() {
        let err = rejected(".png", Some("png"));
        assert_eq!(err, NameError::TooShort);
        assert_eq!(err.code(), "filename-tooshort");
        assert_eq!(err.info(&reference_cfg()), "The filename is too short.");
        // A hidden-file style name is fine.
        accepted(".hidden.png", ".hidden.png", false);
    }

    #[test]
    fn t05_percent_sequence_is_illegal() {
        let err = rejected("Anchor%20percent.png", Some("png"));
        assert_eq!(
            err,
            NameError::Illegal {
                filtered: "Anchor%20percent.png".into()
            }
        );
        assert_eq!(err.code(), "illegal-filename");
        assert_eq!(err.info(&reference_cfg()), "The filename is not allowed.");
        assert!(err.is_recoverable());
    }

    #[test]
    fn t05_length_limit() {
        let ok = format!("{}.png", "A".repeat(236));
        assert_eq!(ok.len(), 240);
        accepted(&ok, &ok, false);
        let long = format!("{}.png", "A".repeat(237));
        let err = rejected(&long, Some("png"));
        assert_eq!(err, NameError::TooLong);
        assert_eq!(err.code(), "filename-toolong");
        assert_eq!(
            err.info(&reference_cfg()),
            "Filenames may not be longer than 240 bytes."
        );
    }

    #[test]
    fn length_is_checked_before_filtering_and_after_prefix_removal() {
        // 241 bytes of which several would be stripped: still too long.
        let long = format!("{}<<<<.png", "A".repeat(233));
        assert_eq!(long.len(), 241);
        assert_eq!(rejected(&long, None), NameError::TooLong);
        // The File: prefix is removed before counting.
        let prefixed = format!("File:{}.png", "A".repeat(236));
        assert_eq!(
            normalize_upload_name(&prefixed, None, &reference_cfg())
                .unwrap()
                .dbkey
                .len(),
            240
        );
        // Multibyte characters count in bytes.
        let multi = format!("{}.png", "é".repeat(119));
        assert_eq!(multi.len(), 242);
        assert_eq!(rejected(&multi, None), NameError::TooLong);
    }

    #[test]
    fn t05_no_extension_guessed_from_content() {
        let cfg = reference_cfg();
        let name = normalize_upload_name("Anchor-no-extension", Some("png"), &cfg).unwrap();
        assert_eq!(name.dbkey, "Anchor-no-extension.png");
        assert_eq!(name.final_ext, "png");
        assert!(name.extension_guessed);
        assert!(is_bad_filename("Anchor-no-extension", &name.dbkey));
    }

    #[test]
    fn t05_no_extension_text_is_banned_txt() {
        let err = rejected("Anchor-no-extension-text", Some("txt"));
        assert_eq!(
            err,
            NameError::Banned {
                filetype: "txt".into(),
                blacklisted: vec![]
            }
        );
        assert_eq!(
            err.info(&reference_cfg()),
            format!("\".txt\" is not a permitted file type. Permitted file types are {REFERENCE_ALLOWED}.")
        );
        assert!(!err.is_recoverable());
    }

    #[test]
    fn no_extension_and_no_guess_is_missing() {
        let err = rejected("Anchor-no-extension", None);
        assert_eq!(err, NameError::MissingExtension);
        assert_eq!(err.code(), "filetype-missing");
        assert_eq!(
            err.info(&reference_cfg()),
            "The file has no extension (like \".jpg\")."
        );
        assert_eq!(
            rejected("Anchor-no-extension", Some("")),
            NameError::MissingExtension
        );
        // A trailing dot is a missing extension even when content could be typed.
        assert_eq!(rejected("Foo.", Some("png")), NameError::MissingExtension);
        // ... and wins over a prohibited segment before it.
        assert_eq!(rejected("Foo.php.", None), NameError::MissingExtension);
    }

    #[test]
    fn t05_double_extension_php_png() {
        let err = rejected("Anchor-evil.php.png", None);
        assert_eq!(
            err,
            NameError::Banned {
                filetype: "png".into(),
                blacklisted: vec!["php".into()]
            }
        );
        assert_eq!(err.code(), "filetype-banned");
        assert_eq!(
            err.info(&reference_cfg()),
            format!("\".php\" is not a permitted file type. Permitted file types are {REFERENCE_ALLOWED}.")
        );
    }

    #[test]
    fn t05_banned_and_not_allowed_types() {
        // (These uploads fail content verification first in the transcript; the name alone is
        // banned.)
        for (name, ext, black) in [
            ("Anchor-evil.exe", "exe", vec!["exe"]),
            ("Anchor-evil.php", "php", vec!["php"]),
            ("Anchor-doc.html", "html", vec!["html"]),
            ("Anchor-chunk-bad.exe", "exe", vec!["exe"]),
            ("Anchor-doc.txt", "txt", vec![]),
            ("Anchor-image.bmp", "bmp", vec![]),
        ] {
            assert_eq!(
                rejected(name, None),
                NameError::Banned {
                    filetype: ext.into(),
                    blacklisted: black.into_iter().map(String::from).collect()
                },
                "{name}"
            );
        }
        assert_eq!(
            rejected("Anchor-image.bmp", None).info(&reference_cfg()),
            format!("\".bmp\" is not a permitted file type. Permitted file types are {REFERENCE_ALLOWED}.")
        );
    }

    #[test]
    fn banned_info_with_several_segments_and_default_config() {
        let cfg = Config::default();
        let err = normalize_upload_name("Evil.PHP.exe.png", None, &cfg).unwrap_err();
        assert_eq!(
            err,
            NameError::Banned {
                filetype: "png".into(),
                blacklisted: vec!["php".into(), "exe".into()]
            }
        );
        assert_eq!(
            err.info(&cfg),
            "\".php, exe\" are not permitted file types. Permitted file types are png, gif, jpg, \
             jpeg, webp."
        );
        // The final extension keeps its case in the data and the text.
        let err = normalize_upload_name("Foo.BMP", None, &cfg).unwrap_err();
        assert_eq!(
            err.info(&cfg),
            "\".BMP\" is not a permitted file type. Permitted file types are png, gif, jpg, jpeg, \
             webp."
        );
        // The base segment is not an extension.
        assert_eq!(
            normalize_upload_name("php.png", None, &cfg).unwrap().dbkey,
            "Php.png"
        );
        // Singular list, duplicates removed.
        let one = Config {
            file_extensions: vec!["png".into(), "png".into()],
            ..Config::default()
        };
        assert_eq!(allowed_extensions(&one), vec!["png".to_string()]);
        assert_eq!(
            NameError::Banned {
                filetype: "gif".into(),
                blacklisted: vec![]
            }
            .info(&one),
            "\".gif\" is not a permitted file type. Permitted file type is png."
        );
    }

    #[test]
    fn unwanted_type_when_not_strict() {
        let cfg = Config {
            strict_file_extensions: false,
            ..Config::default()
        };
        let name = normalize_upload_name("Notes.txt", None, &cfg).unwrap();
        assert!(name.unwanted_type);
        assert_eq!(name.final_ext, "txt");
        // Prohibited segments are still rejected.
        assert!(normalize_upload_name("Notes.php", None, &cfg).is_err());
        assert!(
            !normalize_upload_name("Notes.PNG", None, &cfg)
                .unwrap()
                .unwanted_type
        );
        // With checks off nothing is unwanted or banned unless prohibited.
        let off = Config {
            check_file_extensions: false,
            ..Config::default()
        };
        let name = normalize_upload_name("Notes.txt", None, &off).unwrap();
        assert!(!name.unwanted_type);
        assert!(normalize_upload_name("Notes.exe", None, &off).is_err());
    }

    // --- SPEC §6.1 step 10 examples ---

    #[test]
    fn spec_examples() {
        let cfg = Config::default();
        let ok = |r: &str| normalize_upload_name(r, None, &cfg).unwrap().dbkey;
        assert_eq!(ok("  __lead  trail__ .png"), "Lead_trail_.png");
        assert_eq!(ok("image:lower case.png"), "Lower_case.png");
        assert_eq!(ok("dir/sub\\name.png"), "Dir-sub-name.png");
        assert_eq!(ok("Foo\t tab.png"), "Foo-_tab.png");
        assert_eq!(ok("../../etc.png"), "..-..-etc.png");
        assert_eq!(ok("Foo#frag.png"), "Foo-frag.png");
        for bad in ["%41bc.png", "Foo&amp;bar.png", "Sig~~~~.png"] {
            assert_eq!(
                normalize_upload_name(bad, None, &cfg),
                Err(NameError::Illegal {
                    filtered: bad.into()
                }),
                "{bad}"
            );
        }
        // SPEC §4: a stripped namespace other than File is replaced, not removed.
        assert_eq!(ok("Talk:Foo.png"), "Talk-Foo.png");
        assert!(is_bad_filename("Talk:Foo.png", "Talk-Foo.png"));
    }

    #[test]
    fn prefix_parsing_details() {
        let cfg = Config::default();
        let ok = |r: &str| normalize_upload_name(r, None, &cfg).unwrap().dbkey;
        // Spaces around the namespace colon and any case.
        assert_eq!(ok("file : spaced.png"), "Spaced.png");
        assert_eq!(ok("FILE:Upper.png"), "Upper.png");
        assert_eq!(ok("Image talk:Foo.png"), "Image_talk-Foo.png");
        // Entities are decoded when the File: prefix parses.
        assert_eq!(ok("File:Foo&amp;bar.png"), "Foo&bar.png");
        // An invalid title with a prefix is kept whole and filtered.
        assert_eq!(ok("File:Foo<b>.png"), "File-Foo-b-.png");
        // A fragment after a File: prefix is dropped by the title parser.
        assert_eq!(
            normalize_upload_name("File:Foo#x.png", Some("png"), &cfg)
                .unwrap()
                .dbkey,
            "Foo.png"
        );
        // Bidi marks vanish; control characters become '-'.
        assert_eq!(ok("Foo\u{200E}\u{202B}bar.png"), "Foobar.png");
        assert!(is_bad_filename("Foo\u{200E}bar.png", "Foobar.png"));
        assert_eq!(ok("Foo\u{7F}\u{1}.png"), "Foo--.png");
        // Unicode whitespace collapses.
        assert_eq!(ok("A\u{3000}\u{2003} B.png"), "A_B.png");
        // Non-ASCII first letters are capitalised.
        assert_eq!(ok("élan.png"), "Élan.png");
        assert_eq!(ok("ßtraße.png"), "SStraße.png");
        // Relative paths are filtered, not rejected.
        assert_eq!(ok("./x.png"), ".-x.png");
        assert_eq!(
            rejected(".", None),
            NameError::Illegal {
                filtered: ".".into()
            }
        );
        // An empty name.
        assert_eq!(
            rejected("", None),
            NameError::Illegal {
                filtered: "".into()
            }
        );
        // U+FFFD (invalid UTF-8 in the request) is rejected.
        assert_eq!(
            rejected("Bad\u{FFFD}.png", None),
            NameError::Illegal {
                filtered: "Bad\u{FFFD}.png".into()
            }
        );
        // Dots in the middle belong to the part name.
        let n = normalize_upload_name("a..png", None, &cfg).unwrap();
        assert_eq!((n.dbkey.as_str(), n.final_ext.as_str()), ("A..png", "png"));
        assert_eq!(
            normalize_upload_name("..png", None, &cfg).unwrap().dbkey,
            "..png"
        );
    }

    #[test]
    fn empty_file_prefix_is_filtered_then_valid() {
        // "File:" alone does not parse as a File title, so the name is filtered to "File-",
        // which has no extension.
        assert_eq!(rejected("File:", None), NameError::MissingExtension);
        assert_eq!(
            normalize_upload_name("File:", Some("png"), &Config::default())
                .unwrap()
                .dbkey,
            "File-.png"
        );
    }

    #[test]
    fn filter_replaces_exactly_the_illegal_set() {
        assert_eq!(
            strip_illegal_filename_chars("a#b<c>d[e]f|g{h}i:j/k\\l\tm\u{7F}n"),
            "a-b-c-d-e-f-g-h-i-j-k-l-m-n"
        );
        let legal = " %!\"$&'()*,-.0-9;=?@AZ^_`az~+é✓";
        assert_eq!(strip_illegal_filename_chars(legal), legal);
    }

    #[test]
    fn bad_filename_rules() {
        assert!(!is_bad_filename("red test.png", "Red_test.png"));
        assert!(!is_bad_filename("Red_test.png", "Red_test.png"));
        assert!(is_bad_filename("File:X.png", "X.png"));
        assert!(is_bad_filename("red  test.png", "Red_test.png"));
        assert!(is_bad_filename(" red test.png", "Red_test.png"));
    }

    // --- warnings helpers ---

    #[test]
    fn extension_normalisation() {
        assert_eq!(normalize_extension("PNG"), "png");
        assert_eq!(normalize_extension("JPEG"), "jpg");
        assert_eq!(normalize_extension("jpeg"), "jpg");
        assert_eq!(normalize_extension("TIFF"), "tif");
        assert_eq!(normalize_extension("mpeg"), "mpg");
        assert_eq!(normalize_extension("ogv"), "ogg");
        assert_eq!(normalize_extension("htm"), "html");
        assert_eq!(normalize_extension("mp3"), "mp3");
        assert_eq!(normalize_extension(""), "");
        assert_eq!(normalize_extension("ta-r"), "");
        assert_eq!(normalize_extension("é"), "");
    }

    #[test]
    fn exists_normalized_helpers() {
        // Transcript 05: 'Anchor-small.PNG' → exists-normalized 'Anchor-small.png'.
        assert_eq!(
            exists_normalized_candidate("Anchor-small.PNG").as_deref(),
            Some("Anchor-small.png")
        );
        assert_eq!(
            exists_normalized_candidate("Anchor-jpeg-ext.jpeg").as_deref(),
            Some("Anchor-jpeg-ext.jpg")
        );
        assert_eq!(exists_normalized_candidate("Anchor-small.png"), None);
        assert_eq!(similar_name_prefix("Anchor-small.PNG"), "Anchor-small.");
        assert_eq!(similar_name_prefix("A.b.png"), "A.b.");
        assert_eq!(split_name(".png"), (".png", ""));
        assert_eq!(split_name("Foo"), ("Foo", ""));
        assert_eq!(split_name("Foo.tar.gz"), ("Foo.tar", "gz"));
    }

    #[test]
    fn thumbnail_names() {
        // Transcript 05.
        assert_eq!(
            thumb_base_name("120px-Anchor-small.png").as_deref(),
            Some("Anchor-small.png")
        );
        assert_eq!(
            thumb_base_name("120px-Anchor-nothing.png").as_deref(),
            Some("Anchor-nothing.png")
        );
        assert_eq!(thumb_base_name("50px-Foo.png").as_deref(), Some("Foo.png"));
        // The base is a File title: capitalised.
        assert_eq!(
            thumb_base_name("50px-foo_bar.png").as_deref(),
            Some("Foo_bar.png")
        );
        assert_eq!(thumb_base_name("Anchor-small.png"), None);
        assert_eq!(thumb_base_name("5px-Foo.png"), None);
        assert_eq!(thumb_base_name("1a0px-Foo.png"), None);
        assert_eq!(thumb_base_name("12345px-Foo.png"), None);
        assert_eq!(thumb_base_name("12px"), None);
        assert!(is_thumb_name("120px-x"));
    }

    #[test]
    fn camera_prefixes() {
        assert!(has_bad_prefix("IMG_0001.jpg"));
        assert_eq!(bad_prefix("IMG_0001.jpg"), Some("IMG"));
        assert_eq!(bad_prefix("DSC_1.jpg"), Some("DSC_"));
        assert_eq!(bad_prefix("DSCN1.jpg"), Some("DSCN"));
        assert_eq!(bad_prefix("PICT0.jpg"), Some("PICT"));
        assert_eq!(bad_prefix("JD.png"), Some("JD"));
        assert!(!has_bad_prefix("Img_0001.jpg"));
        assert!(!has_bad_prefix("DSC1.jpg"));
        assert!(!has_bad_prefix("Anchor-small.png"));
    }

    // --- hashed paths and URL encodings ---

    #[test]
    fn hashed_directories_from_transcripts() {
        for (name, h1, h2) in [
            ("Red_test.png", "b", "b7"),
            ("Anchor_lower_case.png", "f", "fe"),
            ("Anchor_under_score.png", "1", "17"),
            ("Anchor~tilde~.png", "1", "14"),
            ("Café_decomposed.png", "a", "a2"),
            ("Ünïcødé_✓_name.png", "8", "85"),
            ("Anchor\u{200B}zero-width.png", "9", "9a"),
            ("Anchor-truncated.png", "0", "06"),
            ("Anchor-partname.png", "f", "f0"),
            ("Anchor_lower_ignored.png", "4", "43"),
        ] {
            assert_eq!(hash_dirs(name), (h1.to_owned(), h2.to_owned()), "{name}");
        }
    }

    #[test]
    fn raw_url_encoding() {
        assert_eq!(rawurlencode("Red_test.png"), "Red_test.png");
        assert_eq!(rawurlencode("Anchor~tilde~.png"), "Anchor~tilde~.png");
        assert_eq!(
            rawurlencode("Café_decomposed.png"),
            "Caf%C3%A9_decomposed.png"
        );
        assert_eq!(
            rawurlencode("Ünïcødé_✓_name.png"),
            "%C3%9Cn%C3%AFc%C3%B8d%C3%A9_%E2%9C%93_name.png"
        );
        assert_eq!(
            rawurlencode("Anchor\u{200B}zero-width.png"),
            "Anchor%E2%80%8Bzero-width.png"
        );
        assert_eq!(rawurlencode("a b+c&d!(e)"), "a%20b%2Bc%26d%21%28e%29");
        assert_eq!(
            rawurlencode("20261121043717!Anchor-small.png"),
            "20261121043717%21Anchor-small.png"
        );
    }

    #[test]
    fn title_url_encoding() {
        assert_eq!(
            wfurlencode("File:Anchor-small.png"),
            "File:Anchor-small.png"
        );
        assert_eq!(
            wfurlencode("File:Anchor_lower_case.png"),
            "File:Anchor_lower_case.png"
        );
        assert_eq!(
            wfurlencode("File:Anchor~tilde~.png"),
            "File:Anchor~tilde~.png"
        );
        assert_eq!(
            wfurlencode("File:Caf\u{e9}_decomposed.png"),
            "File:Caf%C3%A9_decomposed.png"
        );
        assert_eq!(
            wfurlencode("File:Ünïcødé_✓_name.png"),
            "File:%C3%9Cn%C3%AFc%C3%B8d%C3%A9_%E2%9C%93_name.png"
        );
        assert_eq!(
            wfurlencode("Special:UploadStash/file/1d3nsrnspprc.s1acjf.3.png"),
            "Special:UploadStash/file/1d3nsrnspprc.s1acjf.3.png"
        );
        assert_eq!(
            wfurlencode("a b&c=d?e+f'g\"h;@$!*(),"),
            "a+b%26c%3Dd%3Fe%2Bf%27g%22h;@$!*(),"
        );
    }

    // --- page titles ---

    #[test]
    fn parses_page_titles() {
        let t = parse_title("File:Anchor-small.png").unwrap();
        assert_eq!(t, Title::file("Anchor-small.png"));
        assert_eq!(t.prefixed_text(), "File:Anchor-small.png");
        let t = parse_title("Main Page").unwrap();
        assert_eq!((t.ns, t.dbkey.as_str()), (NS_MAIN, "Main_Page"));
        assert_eq!(t.prefixed_text(), "Main Page");
        let t = parse_title("image talk:foo bar").unwrap();
        assert_eq!((t.ns, t.dbkey.as_str()), (NS_FILE_TALK, "Foo_bar"));
        assert_eq!(t.prefixed_text(), "File talk:Foo bar");
        assert_eq!(t.prefixed_dbkey(), "File_talk:Foo_bar");
        assert_eq!(t.text(), "Foo bar");
        let t = parse_title("File:Red test.png").unwrap();
        assert_eq!(t.prefixed_text(), "File:Red test.png");
        assert_eq!(t.prefixed_dbkey(), "File:Red_test.png");
        // Unknown prefixes stay part of the main-namespace title.
        let t = parse_title("Foo:bar").unwrap();
        assert_eq!((t.ns, t.dbkey.as_str()), (NS_MAIN, "Foo:bar"));
        // Leading colon forces the main namespace but still allows a prefix.
        assert_eq!(parse_title(":File:X.png").unwrap(), Title::file("X.png"));
        assert_eq!(
            parse_title_in(":Foo", "", NS_FILE).unwrap(),
            Title {
                ns: NS_MAIN,
                dbkey: "Foo".into()
            }
        );
        assert_eq!(
            parse_title_in("Foo", "", NS_FILE).unwrap(),
            Title::file("Foo")
        );
        // Fragments are dropped.
        assert_eq!(parse_title("Foo bar #x").unwrap().dbkey, "Foo_bar");
        // Entities are decoded.
        assert_eq!(parse_title("foo&amp;bar").unwrap().dbkey, "Foo&bar");
        assert_eq!(parse_title("A&#233;&#xE9;&eacute;").unwrap().dbkey, "Aééé");
        // Special titles may be longer.
        let long = format!("Special:{}", "x".repeat(400));
        assert_eq!(parse_title(&long).unwrap().ns, NS_SPECIAL);
        assert_eq!(parse_title("Media:X.png").unwrap().ns, NS_MEDIA);
    }

    #[test]
    fn project_namespace_follows_site_name() {
        let t = parse_title_in("anchor wiki:Foo", "Anchor Wiki", NS_MAIN).unwrap();
        assert_eq!((t.ns, t.dbkey.as_str()), (NS_PROJECT, "Foo"));
        assert_eq!(t.prefixed_text_in("Anchor Wiki"), "Anchor Wiki:Foo");
        assert_eq!(t.prefixed_text(), "Project:Foo");
        let t = parse_title_in("Project talk:Foo", "Anchor Wiki", NS_MAIN).unwrap();
        assert_eq!(t.ns, NS_PROJECT_TALK);
        assert_eq!(t.prefixed_text_in("Anchor Wiki"), "Anchor Wiki talk:Foo");
        assert_eq!(
            parse_title_in("Anchor_Wiki_talk:Foo", "Anchor Wiki", NS_MAIN)
                .unwrap()
                .ns,
            NS_PROJECT_TALK
        );
        assert_eq!(namespace_index("IMAGE", ""), Some(NS_FILE));
        assert_eq!(namespace_index("", ""), None);
        assert_eq!(
            namespace_name(NS_USER_TALK, "x").as_deref(),
            Some("User_talk")
        );
        assert_eq!(namespace_name(99, "x"), None);
        assert_eq!(canonical_namespace_name(NS_MAIN), Some(""));
    }

    #[test]
    fn invalid_titles() {
        let err = |t: &str| parse_title(t).unwrap_err();
        assert_eq!(err(""), TitleError::Empty);
        assert_eq!(err("  _ "), TitleError::Empty);
        assert_eq!(err("File:"), TitleError::Empty);
        assert_eq!(err("File:#x"), TitleError::Empty);
        assert_eq!(
            err("A<B").to_string(),
            "The requested page title contains invalid characters: \"<\"."
        );
        assert_eq!(err("A<B").key(), "title-invalid-characters");
        assert_eq!(err("A%20B"), TitleError::InvalidCharacters("%20".into()));
        assert_eq!(
            err("foo&bogus;bar"),
            TitleError::InvalidCharacters("&bogus;".into())
        );
        assert_eq!(err("A[[B]]"), TitleError::InvalidCharacters("[".into()));
        assert_eq!(err("Talk:File:Example.svg"), TitleError::TalkNamespace);
        assert_eq!(parse_title("Talk:Foo:bar").unwrap().ns, NS_TALK);
        for rel in [
            ".",
            "..",
            "./Sandbox",
            "../Sandbox",
            "Foo/./Sandbox",
            "Foo/../Sandbox",
            "Sandbox/.",
            "Sandbox/..",
        ] {
            assert_eq!(err(rel), TitleError::Relative, "{rel}");
        }
        assert_eq!(err("A ~~~ Name"), TitleError::MagicTilde);
        assert_eq!(
            err("A ~~~ Name").to_string(),
            "The requested page title contains invalid magic tilde sequence (~~~)."
        );
        assert_eq!(err(&"x".repeat(256)), TitleError::TooLong(255));
        assert!(parse_title(&"x".repeat(255)).is_ok());
        assert_eq!(
            err(&"x".repeat(256)).to_string(),
            "The requested page title is too long. It must be no longer than 255 bytes in UTF-8 \
             encoding."
        );
        assert_eq!(err("::Foo"), TitleError::LeadingColon);
        assert_eq!(err("File::Foo"), TitleError::LeadingColon);
        assert_eq!(err("Bad\u{FFFD}"), TitleError::InvalidUtf8);
        assert_eq!(err("Bad&#0;"), TitleError::InvalidUtf8);
        assert_eq!(err("Bad&#xD800;"), TitleError::InvalidUtf8);
        assert_eq!(err("A\nB"), TitleError::InvalidCharacters("\n".into()));
        // Zero-width space is a legal character, NBSP is whitespace.
        assert_eq!(parse_title("a\u{200B}b").unwrap().dbkey, "A\u{200B}b");
        assert_eq!(parse_title("a\u{A0}b").unwrap().dbkey, "A_b");
    }

    #[test]
    fn character_references() {
        assert_eq!(decode_char_references("a&amp;b&lt;&gt;&quot;"), "a&b<>\"");
        assert_eq!(decode_char_references("&nbsp;&yuml;&szlig;"), "\u{A0}ÿß");
        assert_eq!(decode_char_references("&Alpha;&Rho;&Sigma;&Omega;"), "ΑΡΣΩ");
        assert_eq!(
            decode_char_references("&alpha;&sigmaf;&sigma;&omega;"),
            "αςσω"
        );
        assert_eq!(decode_char_references("&euro;&hellip;&diams;"), "€…♦");
        assert_eq!(decode_char_references("&#65;&#x42;&#x1F600;"), "AB😀");
        assert_eq!(decode_char_references("&#99999999999;"), "\u{FFFD}");
        assert_eq!(
            decode_char_references("&bogus; & &; &#; &#x;"),
            "&bogus; & &; &#; &#x;"
        );
        assert_eq!(decode_char_references("AT&T"), "AT&T");
        assert_eq!(LATIN1_ENTITIES[0x20], "Agrave");
        assert_eq!(LATIN1_ENTITIES[0x5F], "yuml");
    }

    #[test]
    fn first_letter_capitalisation() {
        assert_eq!(ucfirst(""), "");
        assert_eq!(ucfirst("a"), "A");
        assert_eq!(ucfirst("1a"), "1a");
        assert_eq!(ucfirst("émile"), "Émile");
        assert_eq!(ucfirst("ǆ"), "Ǆ");
        assert_eq!(ucfirst("ß"), "SS");
        assert_eq!(ucfirst("✓x"), "✓x");
    }
}
