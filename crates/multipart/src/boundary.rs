//! The boundary parameter of a `multipart/form-data` Content-Type header.

/// Longest boundary accepted by [`parse_boundary`], in bytes.
pub const MAX_BOUNDARY_LEN: usize = 200;

/// Splits `s` at the first `;` that is not inside double quotes.
fn split_parameter(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return (&s[..i], &s[i + 1..]),
            _ => {}
        }
    }
    (s, "")
}

/// Extracts the boundary from a request's Content-Type header value.
///
/// Returns `None` unless the media type is `multipart/form-data`
/// (case-insensitive) and a non-empty `boundary` parameter (name
/// case-insensitive, first occurrence) is present. The value may be quoted
/// (`boundary="===============8276821178571182961=="`, as pywikibot sends it;
/// it then ends at the next `"`, without escapes) or unquoted (it then ends
/// at `;` or `,`, surrounding whitespace removed). Boundaries longer than
/// [`MAX_BOUNDARY_LEN`] bytes or containing control characters are refused.
pub fn parse_boundary(content_type: &str) -> Option<String> {
    let (media_type, mut params) = split_parameter(content_type);
    if !media_type
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    while !params.is_empty() {
        let (param, rest) = split_parameter(params);
        params = rest;
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let value = value.trim_start();
        let boundary = match value.strip_prefix('"') {
            Some(quoted) => &quoted[..quoted.find('"')?],
            None => value.split([';', ',']).next().unwrap_or("").trim_end(),
        };
        let valid = !boundary.is_empty()
            && boundary.len() <= MAX_BOUNDARY_LEN
            && !boundary.chars().any(char::is_control);
        return valid.then(|| boundary.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn boundaries_of_each_client() {
        // mwclient (requests)
        assert_eq!(
            parse_boundary("multipart/form-data; boundary=baa11d65a748f40f8d0e96635ab576cd"),
            b("baa11d65a748f40f8d0e96635ab576cd")
        );
        // pywikibot (Python email package)
        assert_eq!(
            parse_boundary(
                r#"multipart/form-data; boundary="===============8276821178571182961==""#
            ),
            b("===============8276821178571182961==")
        );
        // mwn (form-data)
        assert_eq!(
            parse_boundary(
                "multipart/form-data; boundary=--------------------------ab8f46a7c7f523239f800b46"
            ),
            b("--------------------------ab8f46a7c7f523239f800b46")
        );
        // nodemw
        assert_eq!(
            parse_boundary("multipart/form-data; boundary=nodemw1700000000000"),
            b("nodemw1700000000000")
        );
    }

    #[test]
    fn case_and_spacing() {
        assert_eq!(parse_boundary("Multipart/Form-Data;BOUNDARY=x"), b("x"));
        assert_eq!(
            parse_boundary("  multipart/form-data ; Boundary = x ; charset=utf-8"),
            b("x")
        );
        assert_eq!(
            parse_boundary("multipart/form-data; charset=utf-8; boundary=x"),
            b("x")
        );
        assert_eq!(parse_boundary("multipart/form-data; boundary=x,y"), b("x"));
        assert_eq!(
            parse_boundary(r#"multipart/form-data; foo="a;boundary=no"; boundary="yes;x""#),
            b("yes;x")
        );
        assert_eq!(
            parse_boundary("multipart/form-data; boundary=\"a b\" ; x=y"),
            b("a b")
        );
        assert_eq!(
            parse_boundary("multipart/form-data; boundary=a; boundary=b"),
            b("a")
        );
    }

    #[test]
    fn refused() {
        assert_eq!(parse_boundary("multipart/form-data"), None);
        assert_eq!(parse_boundary("multipart/form-data; boundary="), None);
        assert_eq!(parse_boundary("multipart/form-data; boundary=\"\""), None);
        assert_eq!(parse_boundary("multipart/form-data; boundary=\"open"), None);
        assert_eq!(parse_boundary("multipart/mixed; boundary=x"), None);
        assert_eq!(parse_boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(parse_boundary(""), None);
        assert_eq!(
            parse_boundary("multipart/form-data; boundary=a\u{7f}b"),
            None
        );
        let long = "x".repeat(MAX_BOUNDARY_LEN);
        assert_eq!(
            parse_boundary(&format!("multipart/form-data; boundary={long}")),
            Some(long.clone())
        );
        assert_eq!(
            parse_boundary(&format!("multipart/form-data; boundary={long}x")),
            None
        );
    }
}
