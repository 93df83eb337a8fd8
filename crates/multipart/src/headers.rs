//! Part header lines and the `Content-Disposition` parameters, read the way
//! PHP's upload parser reads them (MediaWiki runs on it, so clients rely on it).
//!
//! Rules, all deliberately lenient:
//! - A header line is `key: value`. The key is everything before the first `:`
//!   (not trimmed: `Content-Disposition :` is a different, unknown header);
//!   the value starts after the `:` and any whitespace.
//! - A line that starts with whitespace, or has no `:`, continues the value of
//!   the previous header (appended as is); before any header it is ignored.
//! - Header names are matched case-insensitively; the first occurrence wins.
//! - `Content-Disposition` is split on `;` outside single or double quotes;
//!   only the `name` and `filename` parameters (names case-insensitive) are
//!   read. The disposition type (`form-data`) is not checked. A quoted value
//!   ends at its closing quote, with `\\` and `\<quote>` unescaped; an
//!   unquoted value ends at whitespace, with `\\` unescaped.

use crate::PartHeaders;

/// One header of a part: raw key and raw (possibly continued) value.
pub(crate) type HeaderEntry = (Vec<u8>, Vec<u8>);

/// Whitespace as C's `isspace` sees it in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    s
}

/// Adds one header line (line terminator already removed) to `entries`.
pub(crate) fn push_line(entries: &mut Vec<HeaderEntry>, line: &[u8]) {
    let colon = match line.first() {
        Some(first) if !is_space(*first) => memchr::memchr(b':', line),
        _ => None,
    };
    match colon {
        Some(colon) => {
            let key = line[..colon].to_vec();
            let value = trim_start(&line[colon + 1..]).to_vec();
            entries.push((key, value));
        }
        None => {
            if let Some((_, value)) = entries.last_mut() {
                value.extend_from_slice(line);
            }
        }
    }
}

/// The value of the first header called `name` (case-insensitive).
fn header_value<'a>(entries: &'a [HeaderEntry], name: &str) -> Option<&'a [u8]> {
    entries
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| value.as_slice())
}

/// `name` and `filename` parameters of a `Content-Disposition` value.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Disposition {
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) filename: Option<Vec<u8>>,
}

/// Splits `s` at the first `stop` byte outside quotes. Returns the word and
/// what follows the run of `stop` bytes after it.
fn split_word(s: &[u8], stop: u8) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while pos < s.len() && s[pos] != stop {
        let quote = s[pos];
        if quote == b'"' || quote == b'\'' {
            pos += 1;
            while pos < s.len() && s[pos] != quote {
                if s[pos] == b'\\' && s.get(pos + 1) == Some(&quote) {
                    pos += 2;
                } else {
                    pos += 1;
                }
            }
            if pos < s.len() {
                pos += 1;
            }
        } else {
            pos += 1;
        }
    }
    let word = &s[..pos.min(s.len())];
    let mut rest = pos.min(s.len());
    while rest < s.len() && s[rest] == stop {
        rest += 1;
    }
    (word, &s[rest..])
}

/// Copies `s` up to the first unescaped `quote` (or the end when `quote` is
/// `None`), turning `\\` into `\` and, when quoted, `\<quote>` into `<quote>`.
fn unescape(s: &[u8], quote: Option<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() && Some(s[i]) != quote {
        if s[i] == b'\\' {
            if let Some(&next) = s.get(i + 1) {
                if next == b'\\' || Some(next) == quote {
                    out.push(next);
                    i += 2;
                    continue;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// The value of a `key=value` parameter, quoted or not.
fn parameter_value(raw: &[u8]) -> Vec<u8> {
    let raw = trim_start(raw);
    match raw.first() {
        Some(&quote) if quote == b'"' || quote == b'\'' => unescape(&raw[1..], Some(quote)),
        _ => {
            let end = raw.iter().position(|&b| is_space(b)).unwrap_or(raw.len());
            unescape(&raw[..end], None)
        }
    }
}

/// Parses a `Content-Disposition` header value.
pub(crate) fn parse_disposition(value: &[u8]) -> Disposition {
    let mut out = Disposition::default();
    let mut rest = trim_start(value);
    while !rest.is_empty() {
        let (word, after) = split_word(rest, b';');
        rest = trim_start(after);
        if memchr::memchr(b'=', word).is_none() {
            continue;
        }
        let (key, raw_value) = split_word(word, b'=');
        if key.eq_ignore_ascii_case(b"name") {
            out.name = Some(parameter_value(raw_value));
        } else if key.eq_ignore_ascii_case(b"filename") {
            out.filename = Some(parameter_value(raw_value));
        }
    }
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Turns a part's headers into [`PartHeaders`], or `None` when the part is to
/// be skipped: no `Content-Disposition`, or no (or an empty) `name`.
pub(crate) fn part_headers(entries: &[HeaderEntry]) -> Option<PartHeaders> {
    let disposition = parse_disposition(header_value(entries, "Content-Disposition")?);
    let name = disposition.name.filter(|name| !name.is_empty())?;
    Some(PartHeaders {
        name: lossy(&name),
        filename: disposition.filename.as_deref().map(lossy),
        content_type: header_value(entries, "Content-Type").map(lossy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disp(value: &str) -> (Option<String>, Option<String>) {
        let d = parse_disposition(value.as_bytes());
        (
            d.name.as_deref().map(lossy),
            d.filename.as_deref().map(lossy),
        )
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn entries(lines: &[&str]) -> Vec<HeaderEntry> {
        let mut out = Vec::new();
        for line in lines {
            push_line(&mut out, line.as_bytes());
        }
        out
    }

    #[test]
    fn disposition_of_each_client() {
        // mwclient, mwn, nodemw, pywikibot
        assert_eq!(
            disp(r#"form-data; name="file"; filename="fake-filename""#),
            (s("file"), s("fake-filename"))
        );
        assert_eq!(
            disp(r#"form-data; name="file"; filename="small.png""#),
            (s("file"), s("small.png"))
        );
        assert_eq!(disp(r#"form-data; name="comment""#), (s("comment"), None));
        assert_eq!(
            disp(r#"form-data; name="chunk"; filename="FAKE-NAME""#),
            (s("chunk"), s("FAKE-NAME"))
        );
    }

    #[test]
    fn disposition_quoting() {
        assert_eq!(disp(r#"form-data; name="a\"b""#), (s("a\"b"), None));
        assert_eq!(disp(r#"form-data; name="a\\b""#), (s("a\\b"), None));
        assert_eq!(disp(r#"form-data; name="a\xb""#), (s("a\\xb"), None));
        assert_eq!(disp("form-data; name='x;y'"), (s("x;y"), None));
        assert_eq!(
            disp("form-data; name=plain; filename=a\\\\b"),
            (s("plain"), s("a\\b"))
        );
        assert_eq!(disp("form-data; name=two words"), (s("two"), None));
        assert_eq!(
            disp(r#"form-data; name="x;y"; filename="a;b""#),
            (s("x;y"), s("a;b"))
        );
        assert_eq!(
            disp(r#"form-data; name="unterminated"#),
            (s("unterminated"), None)
        );
        assert_eq!(disp(r#"form-data; name="x" trailing"#), (s("x"), None));
    }

    #[test]
    fn disposition_parameter_names() {
        assert_eq!(
            disp(r#"form-data; NAME="x"; FileName="f""#),
            (s("x"), s("f"))
        );
        assert_eq!(disp(r#"form-data;name="x";filename="""#), (s("x"), s("")));
        assert_eq!(disp(r#"form-data;;; name="x""#), (s("x"), None));
        // `filename*` is another parameter; a key with a space before `=` is
        // not `name`.
        assert_eq!(
            disp(r#"form-data; name="x"; filename*=UTF-8''a.png"#),
            (s("x"), None)
        );
        assert_eq!(disp(r#"form-data; name ="x""#), (None, None));
        assert_eq!(disp(r#"form-data; name= "x""#), (s("x"), None));
        assert_eq!(disp(r#"form-data; name=="x""#), (s("x"), None));
        // the last occurrence wins
        assert_eq!(disp(r#"form-data; name="a"; name="b""#), (s("b"), None));
        assert_eq!(disp(""), (None, None));
        assert_eq!(disp("form-data"), (None, None));
        assert_eq!(disp("form-data; name="), (s(""), None));
    }

    #[test]
    fn header_lines() {
        let e = entries(&[
            "Content-Type: text/plain",
            "MIME-Version: 1.0",
            "Content-disposition: form-data; name=\"action\"",
        ]);
        assert_eq!(
            part_headers(&e),
            Some(PartHeaders {
                name: "action".into(),
                filename: None,
                content_type: s("text/plain"),
            })
        );
        // continuation lines and a line without a colon extend the previous value
        let e = entries(&[
            "junk before any header",
            "content-disposition: form-data;",
            "\tname=\"x\";",
            " filename=\"f\"",
            "CONTENT-TYPE:image/png",
            "Content-Type: text/plain",
        ]);
        assert_eq!(
            part_headers(&e),
            Some(PartHeaders {
                name: "x".into(),
                filename: s("f"),
                content_type: s("image/png"),
            })
        );
        let e = entries(&["Content-Disposition: form-data; name=\"a", "b\""]);
        assert_eq!(part_headers(&e).map(|h| h.name), s("ab"));
    }

    #[test]
    fn parts_that_are_skipped() {
        assert_eq!(part_headers(&entries(&["Content-Type: text/plain"])), None);
        assert_eq!(
            part_headers(&entries(&["Content-Disposition: form-data"])),
            None
        );
        assert_eq!(
            part_headers(&entries(&[
                "Content-Disposition: form-data; filename=\"a\""
            ])),
            None
        );
        assert_eq!(
            part_headers(&entries(&["Content-Disposition: form-data; name=\"\""])),
            None
        );
        // a space before the colon makes it another header
        assert_eq!(
            part_headers(&entries(&["Content-Disposition : form-data; name=x"])),
            None
        );
    }

    #[test]
    fn non_utf8_is_replaced() {
        let mut e = Vec::new();
        push_line(&mut e, b"Content-Disposition: form-data; name=\"a\xffb\"");
        assert_eq!(part_headers(&e).map(|h| h.name), s("a\u{fffd}b"));
    }
}
