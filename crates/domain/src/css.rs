//! The CSS checks of the SVG filter (SPEC §7.2): the sanitizer's normalisation of CSS
//! and the test for imports, expressions and remote references.

use std::sync::OnceLock;

use regex::Regex;

use crate::php::re;
use crate::xml::decode_char_references;

/// The CSS check of the SVG filter: true when `value` imports, uses expressions or
/// `-o-link`, references anything but a local fragment through `url(`, `image(` or
/// `image-set(`, or contains control characters.
pub fn css_is_hostile(value: &str) -> bool {
    if value.to_ascii_lowercase().contains("@import") {
        return true;
    }
    static FONT_FACE: OnceLock<Option<Regex>> = OnceLock::new();
    static EXPR: OnceLock<Option<Regex>> = OnceLock::new();
    static URL: OnceLock<Option<Regex>> = OnceLock::new();
    static LOCAL: OnceLock<Option<Regex>> = OnceLock::new();
    static CTRL: OnceLock<Option<Regex>> = OnceLock::new();
    let ws = r"[ \t\n\x0B\x0C\r]";
    let value = match re(
        &FONT_FACE,
        &format!(r#"(?i)(@font-face{ws}*\{{[^}}]*src:)url(\("data:;base64,)"#),
    ) {
        Some(r) => r.replace_all(value, "$1$2").into_owned(),
        None => return true,
    };
    let expr = format!(r"(?i)expression|-o-link{ws}*:|-o-link-source{ws}*:|-o-replace{ws}*:");
    if re(&EXPR, &expr).is_none_or(|r| r.is_match(&value)) {
        return true;
    }
    let url = format!(r#"(?is)({ws}*(url|image|image-set){ws}*\({ws}*["']?{ws}*[^#]+.*?\))"#);
    let local = format!(r##"(?i){ws}*(url|image|image-set){ws}*\({ws}*(#|'#|"#)"##);
    let (Some(url), Some(local)) = (re(&URL, &url), re(&LOCAL, &local)) else {
        return true;
    };
    for m in url.find_iter(&value) {
        if !local.is_match(m.as_str()) {
            return true;
        }
    }
    re(&CTRL, r"[\x00-\x08\x0B\x0E-\x1F\x7F]").is_none_or(|r| r.is_match(&value))
}

/// Normalise CSS the way the sanitizer does before checking it: decode character
/// references and CSS escapes, then drop comments (and anything after an unclosed one).
pub fn normalize_css(value: &str) -> String {
    let value = decode_char_references(value);
    let mut out = String::with_capacity(value.len());
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let decoded: Option<char> = match chars.get(i) {
            None => Some('\\'),
            Some('\n') | Some('\u{0C}') => {
                i += 1;
                None
            }
            Some('\r') => {
                i += 1;
                if chars.get(i) == Some(&'\n') {
                    i += 1;
                }
                None
            }
            Some(h) if h.is_ascii_hexdigit() => {
                let start = i;
                while i < chars.len() && i - start < 6 && chars[i].is_ascii_hexdigit() {
                    i += 1;
                }
                let hex: String = chars[start..i].iter().collect();
                if matches!(chars.get(i), Some(' ' | '\t' | '\r' | '\n' | '\u{0C}')) {
                    i += 1;
                }
                let cp = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                Some(char::from_u32(cp).unwrap_or('\u{FFFD}'))
            }
            Some(&other) => {
                i += 1;
                Some(other)
            }
        };
        if let Some(ch) = decoded {
            if matches!(ch, '\n' | '"' | '\'' | '\\') {
                out.push_str(&format!("\\{:x} ", ch as u32));
            } else {
                out.push(ch);
            }
        }
    }
    static SINGLE_COMMENT: OnceLock<Option<Regex>> = OnceLock::new();
    let single = re(
        &SINGLE_COMMENT,
        r"^[ \t\n\x0B\x0C\r]*/\*[^*/]*\*/[ \t\n\x0B\x0C\r]*$",
    );
    if single.is_some_and(|r| r.is_match(&out)) {
        return out;
    }
    // Replace each complete /* ... */ with a space, then cut at an unclosed /*.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(start) = rest.find("/*") {
        match rest[start + 2..].find("*/") {
            Some(end) => {
                result.push_str(&rest[..start]);
                result.push(' ');
                rest = &rest[start + 2 + end + 2..];
            }
            None => break,
        }
    }
    result.push_str(rest);
    if let Some(p) = result.find("/*") {
        result.truncate(p);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_checks() {
        assert!(css_is_hostile("@IMPORT 'x'"));
        assert!(css_is_hostile("width: expression(alert(1))"));
        assert!(css_is_hostile("-o-link: 'x'"));
        assert!(css_is_hostile("background: image(http://x)"));
        assert!(css_is_hostile("a\u{1}b"));
        assert!(!css_is_hostile("fill: url(\"#a\")"));
        assert!(!css_is_hostile(
            "@font-face { font-family: x; src:url(\"data:;base64,AAAA\") }"
        ));
        assert!(!css_is_hostile("fill: red; stroke: blue"));
        assert_eq!(normalize_css("a/* c */b"), "a b");
        assert_eq!(normalize_css("a/* c"), "a");
        assert_eq!(normalize_css("/* only */"), "/* only */");
        assert_eq!(normalize_css("\\75 rl"), "url");
        assert_eq!(normalize_css("&#117;rl"), "url");
        assert_eq!(normalize_css("\\\""), "\\22 ");
    }
}
