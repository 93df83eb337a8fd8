//! Small helpers that reproduce PHP behaviour the MediaWiki code relies on: `trim()`, the
//! `(float)` cast, Windows-1252 decoding, and `preg_*` patterns compiled once.

use std::sync::OnceLock;

use regex::Regex;

/// A `preg_*` pattern, compiled on first use and kept in `cell` (`None` if it does not
/// compile; callers decide what that means).
pub(crate) fn re(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

/// PHP `trim()` whitespace.
pub(crate) fn php_trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0B'))
}

/// PHP `trim()` on bytes.
pub(crate) fn php_trim_bytes(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\0' | b'\x0B');
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |p| p + 1);
    &b[start..end.max(start)]
}

/// PHP's `(float)` cast of a string: the longest numeric prefix, else 0.
pub(crate) fn php_float(s: &str) -> f64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0B', '\x0C']);
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    re(&RE, r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
        .and_then(|r| r.find(t))
        .and_then(|m| m.as_str().parse().ok())
        .unwrap_or(0.0)
}

/// The Windows-1252 characters in 0x80..0xA0 (0 where the code page has a hole).
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Decode one Windows-1252 byte.
pub(crate) fn cp1252_char(b: u8) -> Option<char> {
    if (0x80..0xA0).contains(&b) {
        let c = CP1252_HIGH[usize::from(b - 0x80)];
        if c == 0 {
            None
        } else {
            char::from_u32(u32::from(c))
        }
    } else {
        Some(char::from(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_helpers() {
        assert_eq!(php_trim("\0\x0B x \t\r\n"), "x");
        assert_eq!(php_trim("\x0Cx"), "\x0Cx");
        assert_eq!(php_trim_bytes(b" \0a b\n"), b"a b");
        assert_eq!(php_trim_bytes(b" \t "), b"");
        assert_eq!(php_float(" 12.5px"), 12.5);
        assert_eq!(php_float("\x0C-.5e1x"), -5.0);
        assert_eq!(php_float("px"), 0.0);
        assert_eq!(cp1252_char(0x80), Some('\u{20AC}'));
        assert_eq!(cp1252_char(0x81), None);
        assert_eq!(cp1252_char(0xE9), Some('\u{E9}'));
    }
}
