//! Pure helpers: sizes, file-name templates and warning texts.

use std::path::Path;

use serde_json::Value;

/// Parses a byte count such as `5MiB`, `64 KiB`, `1048576`, `2M` or `1GB`.
///
/// Binary units (`KiB`, `MiB`, `GiB`, `TiB`, also `K`, `M`, `G`, `T`) are powers of 1024;
/// decimal units (`kB`, `MB`, `GB`, `TB`) are powers of 1000. Units are case-insensitive and a
/// trailing `B` alone means bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(format!(
            "invalid size {s:?}: expected a number such as 5MiB"
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: number too large"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "invalid size {s:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, kB, MB, GB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

/// A name template that cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `{something}` that is not a known placeholder.
    #[error("unknown placeholder {{{0}}} in the name template (known: {{name}}, {{stem}}, {{ext}}, {{parent}}, {{index}})")]
    UnknownPlaceholder(String),
    /// A `{` without its `}` (write `{{` and `}}` for literal braces).
    #[error("unbalanced brace in the name template (write {{{{ and }}}} for literal braces)")]
    Unbalanced,
    /// The template rendered to an empty name.
    #[error("the name template gives an empty name for {0}")]
    Empty(String),
}

/// Renders the wiki file name of `path` from `template`.
///
/// Placeholders: `{name}` the file name (`Photo.jpg`), `{stem}` the name without its extension
/// (`Photo`), `{ext}` the extension without the dot (`jpg`), `{parent}` the name of the folder
/// the file is in, `{index}` the file's 1-based position in the run. `{{` and `}}` are literal
/// braces.
pub fn render_name_template(
    template: &str,
    path: &Path,
    index: usize,
) -> Result<String, TemplateError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (name[..i].to_owned(), name[i + 1..].to_owned()),
        _ => (name.clone(), String::new()),
    };
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(TemplateError::Unbalanced),
            '{' => {
                let mut key = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(TemplateError::Unbalanced),
                        Some(k) => key.push(k),
                    }
                }
                match key.as_str() {
                    "name" => out.push_str(&name),
                    "stem" => out.push_str(&stem),
                    "ext" => out.push_str(&ext),
                    "parent" => out.push_str(&parent),
                    "index" => out.push_str(&index.to_string()),
                    _ => return Err(TemplateError::UnknownPlaceholder(key)),
                }
            }
            c => out.push(c),
        }
    }
    if out.trim().is_empty() {
        return Err(TemplateError::Empty(path.display().to_string()));
    }
    Ok(out)
}

/// One line describing the `warnings` object of an upload answer, in the API's order:
/// `exists: X.png; nochange (2026-11-21T04:23:39Z); duplicate: A.png, B.png`.
pub fn describe_warnings(warnings: &Value) -> String {
    let Some(obj) = warnings.as_object() else {
        return warnings.to_string();
    };
    let mut parts = Vec::new();
    for (code, v) in obj {
        let detail = match v {
            Value::String(s) if s.is_empty() => String::new(),
            Value::String(s) => format!(": {s}"),
            Value::Array(a) => {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect();
                format!(": {}", items.join(", "))
            }
            Value::Object(o) => match o.get("timestamp").and_then(Value::as_str) {
                Some(ts) => format!(" ({ts})"),
                None if o.is_empty() => String::new(),
                None => format!(": {v}"),
            },
            Value::Null | Value::Bool(_) => String::new(),
            Value::Number(n) => format!(": {n}"),
        };
        parts.push(format!("{code}{detail}"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5MiB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64 kib"), Ok(65536));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("10kB"), Ok(10_000));
        assert_eq!(parse_size("7B"), Ok(7));
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("-5").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }

    #[test]
    fn templates() {
        let p = Path::new("/photos/trip/IMG 1.jpeg");
        assert_eq!(render_name_template("{name}", p, 1).unwrap(), "IMG 1.jpeg");
        assert_eq!(
            render_name_template("Trip {parent} {index}.{ext}", p, 3).unwrap(),
            "Trip trip 3.jpeg"
        );
        assert_eq!(
            render_name_template("{stem}-x{{1}}.png", p, 1).unwrap(),
            "IMG 1-x{1}.png"
        );
        assert_eq!(
            render_name_template("{nam}", p, 1),
            Err(TemplateError::UnknownPlaceholder("nam".into()))
        );
        assert_eq!(
            render_name_template("{name", p, 1),
            Err(TemplateError::Unbalanced)
        );
        assert_eq!(
            render_name_template("a}b", p, 1),
            Err(TemplateError::Unbalanced)
        );
        assert!(matches!(
            render_name_template("{ext}", Path::new("README"), 1),
            Err(TemplateError::Empty(_))
        ));
        // A leading dot is not an extension separator.
        assert_eq!(
            render_name_template("{stem}|{ext}", Path::new(".hidden"), 1).unwrap(),
            ".hidden|"
        );
    }

    #[test]
    fn warning_texts() {
        // Shapes from the reference transcripts (3.11 of the SPEC).
        let w =
            json!({"exists": "Red_test.png", "nochange": {"timestamp": "2026-11-21T04:23:39Z"}});
        assert_eq!(
            describe_warnings(&w),
            "exists: Red_test.png; nochange (2026-11-21T04:23:39Z)"
        );
        let w = json!({"duplicate": ["Noise_chunked.png", "Other.png"]});
        assert_eq!(
            describe_warnings(&w),
            "duplicate: Noise_chunked.png, Other.png"
        );
        assert_eq!(describe_warnings(&json!({"emptyfile": ""})), "emptyfile");
        assert_eq!(
            describe_warnings(&json!({"large-file": 123})),
            "large-file: 123"
        );
    }
}
