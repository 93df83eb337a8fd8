//! Response framing: formatversion 1/2, error formats, warnings, and the headers MediaWiki
//! sends with every API response.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::params::Warning;

/// `errorformat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Bc,
    PlainText,
    WikiText,
    Html,
    Raw,
    None,
}

impl ErrorFormat {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bc" => ErrorFormat::Bc,
            "plaintext" => ErrorFormat::PlainText,
            "wikitext" => ErrorFormat::WikiText,
            "html" => ErrorFormat::Html,
            "raw" => ErrorFormat::Raw,
            "none" => ErrorFormat::None,
            _ => return None,
        })
    }
}

/// `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    JsonFm,
    None,
}

/// How to render the response.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub format: Format,
    pub fv2: bool,
    pub errorformat: ErrorFormat,
    pub utf8: bool,
    pub ascii: bool,
    pub callback: Option<String>,
    /// `See <api url> for API usage. ...`
    pub docref: String,
    pub requestid: Option<String>,
    pub curtimestamp: bool,
    pub servedby: Option<String>,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            format: Format::Json,
            fv2: false,
            errorformat: ErrorFormat::Bc,
            utf8: false,
            ascii: false,
            callback: None,
            docref: String::new(),
            requestid: None,
            curtimestamp: false,
            servedby: None,
        }
    }
}

/// The docref text for an API URL.
pub fn docref(api_url: &str) -> String {
    format!(
        "See {api_url} for API usage. Subscribe to the mediawiki-api-announce mailing list at &lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/&gt; for notice of API deprecations and breaking changes."
    )
}

/// Keys whose booleans formatversion=1 keeps as JSON booleans (MediaWiki's "BC bools").
const FV1_KEPT_BOOLS: &[&str] = &["variantarticlepath"];

/// formatversion=1 conversion of booleans: `true` → `""`, `false` removed.
pub fn to_fv1(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match v {
                    Value::Bool(b) if FV1_KEPT_BOOLS.contains(&k.as_str()) => {
                        out.insert(k, Value::Bool(b));
                    }
                    Value::Bool(true) => {
                        out.insert(k, Value::String(String::new()));
                    }
                    Value::Bool(false) => {}
                    other => {
                        out.insert(k, to_fv1(other));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(to_fv1).collect()),
        other => other,
    }
}

fn warnings_value(ws: &[Warning], opts: &OutputOptions) -> Option<Value> {
    if ws.is_empty() {
        return None;
    }
    if opts.errorformat == ErrorFormat::Bc {
        // main first, then modules in order of first appearance.
        let mut modules: Vec<&str> = Vec::new();
        if ws.iter().any(|w| w.module == "main") {
            modules.push("main");
        }
        for w in ws {
            if !modules.contains(&w.module.as_str()) {
                modules.push(&w.module);
            }
        }
        let key = if opts.fv2 { "warnings" } else { "*" };
        let mut out = Map::new();
        for m in modules {
            let text = ws
                .iter()
                .filter(|w| w.module == m)
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let mut inner = Map::new();
            inner.insert(key.into(), Value::String(text));
            out.insert(m.into(), Value::Object(inner));
        }
        Some(Value::Object(out))
    } else {
        Some(Value::Array(
            ws.iter()
                .map(|w| message_object(&w.code, &w.text, &w.module, w.data.clone(), opts))
                .collect(),
        ))
    }
}

fn message_object(
    code: &str,
    text: &str,
    module: &str,
    data: Option<Value>,
    opts: &OutputOptions,
) -> Value {
    let mut o = Map::new();
    o.insert("code".into(), code.into());
    let text_key = match opts.errorformat {
        ErrorFormat::Html => "html",
        _ => "text",
    };
    let with_text = !matches!(opts.errorformat, ErrorFormat::None | ErrorFormat::Raw);
    if matches!(opts.errorformat, ErrorFormat::Raw) {
        o.insert("key".into(), format!("apierror-{code}").into());
        o.insert("params".into(), Value::Array(Vec::new()));
    }
    if with_text && opts.fv2 {
        o.insert(text_key.into(), text.into());
    }
    o.insert("module".into(), module.into());
    if let Some(d) = data {
        if d.as_object().is_some_and(|m| !m.is_empty()) {
            o.insert("data".into(), d);
        }
    }
    if with_text && !opts.fv2 {
        o.insert("*".into(), text.into());
    }
    Value::Object(o)
}

/// The JSON body for a module result or an error.
pub fn body_value(
    result: &Result<Map<String, Value>, ApiError>,
    warnings: &[Warning],
    module: &str,
    opts: &OutputOptions,
) -> Value {
    let mut top = Map::new();
    if let Some(w) = warnings_value(warnings, opts) {
        top.insert("warnings".into(), w);
    }
    if let Some(id) = &opts.requestid {
        top.insert("requestid".into(), id.clone().into());
    }
    match result {
        Ok(data) => {
            let data = if opts.fv2 {
                Value::Object(data.clone())
            } else {
                to_fv1(Value::Object(data.clone()))
            };
            if let Value::Object(m) = data {
                top.extend(m);
            }
        }
        Err(e) => {
            if opts.errorformat == ErrorFormat::Bc {
                let mut o = Map::new();
                o.insert("code".into(), e.code.clone().into());
                o.insert("info".into(), e.info.clone().into());
                for (k, v) in &e.data {
                    o.insert(k.clone(), v.clone());
                }
                let key = if opts.fv2 { "docref" } else { "*" };
                o.insert(key.into(), opts.docref.clone().into());
                top.insert("error".into(), Value::Object(o));
            } else {
                let data = if e.data.is_empty() {
                    None
                } else {
                    Some(Value::Object(e.data.clone()))
                };
                top.insert(
                    "errors".into(),
                    Value::Array(vec![message_object(&e.code, &e.info, module, data, opts)]),
                );
                let key = if opts.fv2 { "docref" } else { "*" };
                top.insert(key.into(), opts.docref.clone().into());
            }
        }
    }
    if let Some(s) = &opts.servedby {
        top.insert("servedby".into(), s.clone().into());
    }
    if opts.curtimestamp {
        top.insert(
            "curtimestamp".into(),
            chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
                .into(),
        );
    }
    Value::Object(top)
}

/// Serialises JSON, escaping non-ASCII as `\uXXXX` when asked (fv1 without `utf8`, or
/// `ascii`).
pub fn to_json_string(v: &Value, escape_non_ascii: bool, pretty: bool) -> String {
    let s = if pretty {
        serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into())
    } else {
        serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
    };
    if !escape_non_ascii || s.is_ascii() {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    out
}

/// Builds the HTTP response.
pub fn render(
    result: Result<Map<String, Value>, ApiError>,
    warnings: &[Warning],
    module: &str,
    opts: &OutputOptions,
    extra_headers: Vec<(header::HeaderName, HeaderValue)>,
) -> Response<Body> {
    let value = body_value(&result, warnings, module, opts);
    let escape = if opts.fv2 { opts.ascii } else { !opts.utf8 };
    let (content_type, body) = match opts.format {
        Format::None => ("text/plain; charset=utf-8", String::new()),
        Format::JsonFm => {
            let json = to_json_string(&value, escape, true);
            (
                "text/html; charset=utf-8",
                format!(
                    "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"/><title>MediaWiki API result</title></head><body>\n<p>This is the HTML representation of the JSON format. HTML is good for debugging, but is unsuitable for application use.</p>\n<p>Specify the <var>format</var> parameter to change the output format. To see the non-HTML representation of the JSON format, set <kbd>format=json</kbd>.</p>\n<hr>\n<pre class=\"api-pretty-content\">{}</pre>\n</body></html>\n",
                    crate::http::html::escape(&json)
                ),
            )
        }
        Format::Json => {
            let json = to_json_string(&value, escape, false);
            match &opts.callback {
                Some(cb) => (
                    "text/javascript; charset=utf-8",
                    format!("/**/{cb}({json})"),
                ),
                None => ("application/json; charset=utf-8", json),
            }
        }
    };
    let status = match &result {
        Err(e) => e.status,
        Ok(_) => StatusCode::OK,
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=api-result.json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, must-revalidate, max-age=0"),
    );
    if let Err(e) = &result {
        if let Ok(v) = HeaderValue::from_str(&e.code) {
            h.insert("MediaWiki-API-Error", v);
        }
        for (k, v) in &e.headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
    }
    for (k, v) in extra_headers {
        h.append(k, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fv1_booleans() {
        let v = serde_json::json!({"a": true, "b": false, "c": [{"d": true}]});
        assert_eq!(to_fv1(v), serde_json::json!({"a": "", "c": [{"d": ""}]}));
    }

    #[test]
    fn bc_error_shape() {
        let opts = OutputOptions {
            docref: docref("http://h/w/api.php"),
            ..Default::default()
        };
        let e = ApiError::new(crate::error::Code::BadToken, "Invalid CSRF token.").with("x", 1);
        let v = body_value(&Err(e), &[], "upload", &opts);
        let keys: Vec<_> = v["error"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["code", "info", "x", "*"]);
    }

    #[test]
    fn non_ascii_escaping() {
        let v = serde_json::json!({"a": "ä😀"});
        assert_eq!(
            to_json_string(&v, true, false),
            "{\"a\":\"\\u00e4\\ud83d\\ude00\"}"
        );
        assert_eq!(to_json_string(&v, false, false), "{\"a\":\"ä😀\"}");
    }

    #[test]
    fn warnings_bc_main_first() {
        let opts = OutputOptions::default();
        let ws = vec![
            Warning {
                module: "upload".into(),
                code: "deprecation".into(),
                text: "dep".into(),
                data: None,
            },
            Warning {
                module: "main".into(),
                code: "x".into(),
                text: "a".into(),
                data: None,
            },
            Warning {
                module: "main".into(),
                code: "y".into(),
                text: "b".into(),
                data: None,
            },
        ];
        let v = warnings_value(&ws, &opts).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"main": {"*": "a\nb"}, "upload": {"*": "dep"}})
        );
    }
}
