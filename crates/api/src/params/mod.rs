//! Request parameters: query string and body merged as PHP merges them, then validated the way
//! MediaWiki's parameter validator does (presence booleans, `|`/U+001F multi-values,
//! clamped integers, enum checks), with warnings collected for the response.

pub mod table;
pub mod typed;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use unicode_normalization::UnicodeNormalization;

use mwstore_storage::Staged;

use crate::error::{ApiError, Code};

/// A file part received in a multipart body, already staged in the upload spool.
#[derive(Debug)]
pub struct UploadedFile {
    /// The bytes (`staged.sha1` is `None` for a `chunk` part, which is hashed as it is
    /// appended to its upload).
    pub staged: Staged,
    pub size: u64,
    /// The part's own filename (never trusted for anything).
    pub part_filename: String,
    /// The part was larger than the configured maximum; its bytes were discarded.
    pub too_large: bool,
}

/// One raw parameter value.
#[derive(Debug)]
pub enum RawValue {
    Text(String),
    File(Box<UploadedFile>),
}

/// A warning for the response's `warnings` member.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub module: String,
    pub code: String,
    pub text: String,
    pub data: Option<serde_json::Value>,
}

/// All parameters of a request.
#[derive(Debug, Default)]
pub struct Params {
    /// Values in the order their names first appeared (taken file parts leave `None`).
    values: Vec<(String, Option<RawValue>)>,
    /// Position of each name in `values`: every look-up is one hash probe, so a request with
    /// many parameters costs time linear in its size.
    index: HashMap<String, usize>,
    query_names: HashSet<String>,
    used: Mutex<BTreeSet<String>>,
    pub warnings: Mutex<Vec<Warning>>,
    /// The module whose parameters are being read (for warnings about values).
    pub module: Mutex<String>,
    /// `*limit=max` values resolved, by module (for the `limits` member).
    pub limits: Mutex<Vec<(String, i64)>>,
    /// Names whose values were not valid NFC UTF-8 (for the `badutf8` warning).
    bad_utf8: HashSet<String>,
}

/// Normalises a text value: invalid UTF-8 becomes U+FFFD, then NFC. Returns whether it changed.
pub fn normalize_text(bytes: &[u8]) -> (String, bool) {
    let lossy = String::from_utf8_lossy(bytes);
    let invalid = matches!(lossy, std::borrow::Cow::Owned(_));
    let nfc: String = if lossy.is_ascii() {
        lossy.into_owned()
    } else {
        lossy.nfc().collect()
    };
    let changed = invalid || nfc.as_bytes() != bytes;
    (nfc, changed)
}

/// Locks a mutex, recovering the data if another thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A number with thousands separators, as MediaWiki formats numbers in messages.
pub fn format_num(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

impl Params {
    /// Adds a value from the query string.
    pub fn push_query(&mut self, name: &[u8], value: &[u8]) {
        let (name, _) = normalize_text(name);
        let (value, changed) = normalize_text(value);
        if changed {
            self.bad_utf8.insert(name.clone());
        }
        self.query_names.insert(name.clone());
        self.set(name, RawValue::Text(value));
    }

    /// Adds a value from the body (it beats a query-string value of the same name).
    pub fn push_body(&mut self, name: &[u8], value: &[u8]) {
        let (name, _) = normalize_text(name);
        let (value, changed) = normalize_text(value);
        if changed {
            self.bad_utf8.insert(name.clone());
        }
        self.set(name, RawValue::Text(value));
    }

    /// Adds a file part from the body.
    pub fn push_file(&mut self, name: String, file: UploadedFile) {
        self.set(name, RawValue::File(Box::new(file)));
    }

    fn set(&mut self, name: String, value: RawValue) {
        if name.contains('[') && name.ends_with(']') {
            // PHP-style arrays are not supported.
            let base = name.split('[').next().unwrap_or("").to_owned();
            self.warn(
                "main",
                "unsupportedarray",
                &format!("Parameter \"{base}\" uses unsupported PHP array syntax."),
            );
            lock(&self.used).insert(name.clone());
        }
        match self.index.get(&name) {
            Some(&i) => self.values[i].1 = Some(value),
            None => {
                self.index.insert(name.clone(), self.values.len());
                self.values.push((name, Some(value)));
            }
        }
    }

    fn value(&self, name: &str) -> Option<&RawValue> {
        self.index
            .get(name)
            .and_then(|&i| self.values[i].1.as_ref())
    }

    /// Records a warning.
    pub fn warn(&self, module: &str, code: &str, text: &str) {
        let w = Warning {
            module: module.to_owned(),
            code: code.to_owned(),
            text: text.to_owned(),
            data: None,
        };
        let mut ws = lock(&self.warnings);
        if !ws.contains(&w) {
            ws.push(w);
        }
    }

    /// Records a deprecation warning (plus MediaWiki's `deprecation-help` note on `main`).
    pub fn warn_deprecated(&self, module: &str, text: &str) {
        self.warn(
            "main",
            "deprecation-help",
            "Subscribe to the mediawiki-api-announce mailing list at <https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/> for notice of API deprecations and breaking changes.",
        );
        self.warn(module, "deprecation", text);
    }

    fn mark(&self, name: &str) {
        lock(&self.used).insert(name.to_owned());
        if self.bad_utf8.contains(name) {
            let module = lock(&self.module).clone();
            let module = if module.is_empty() {
                "main".to_owned()
            } else {
                module
            };
            self.warn(
                &module,
                "badutf8",
                &format!("The value passed for \"{name}\" contains invalid or non-normalized data. Textual data should be valid, NFC-normalized Unicode without C0 control characters other than HT (\\t), LF (\\n), and CR (\\r)."),
            );
        }
    }

    /// Whether a parameter is present at all (booleans are true by presence).
    pub fn has(&self, name: &str) -> bool {
        let present = self.value(name).is_some();
        if present {
            self.mark(name);
        }
        present
    }

    /// Boolean by presence.
    pub fn flag(&self, name: &str) -> bool {
        self.has(name)
    }

    /// Whether the parameter appeared in the query string (even if the body repeats it).
    pub fn in_query(&self, name: &str) -> bool {
        self.query_names.contains(name)
    }

    /// Raw text of a parameter (a file part reads as absent).
    pub fn raw(&self, name: &str) -> Option<&str> {
        let v = self.value(name)?;
        self.mark(name);
        match v {
            RawValue::Text(s) => Some(s.as_str()),
            RawValue::File(_) => None,
        }
    }

    /// A single-valued string parameter (U+001F at the start is refused).
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.raw(name) {
            Some(s) if s.starts_with('\u{1f}') => Err(ApiError::new(
                Code::BadValue,
                format!("Parameter \"{name}\" accepts only a single value. U+001F multi-value separation may only be used for multi-valued parameters."),
            )),
            Some(s) => Ok(Some(s.to_owned())),
            None => Ok(None),
        }
    }

    /// Whether a value is a file part.
    pub fn is_file(&self, name: &str) -> bool {
        matches!(self.value(name), Some(RawValue::File(_)))
    }

    /// Takes a file part out of the parameters.
    pub fn take_file(&mut self, name: &str) -> Option<UploadedFile> {
        let &i = self.index.get(name)?;
        if !matches!(self.values[i].1, Some(RawValue::File(_))) {
            return None;
        }
        lock(&self.used).insert(name.to_owned());
        match self.values[i].1.take() {
            Some(RawValue::File(f)) => Some(*f),
            _ => None,
        }
    }

    /// Validates an upload-type parameter: a text value (urlencoded or a multipart field
    /// without filename) is `badupload`.
    pub fn check_upload(&self, name: &str) -> Result<(), ApiError> {
        if let Some(RawValue::Text(_)) = self.value(name) {
            // Only its presence is looked at: no `badutf8` warning for its (binary) text,
            // as MediaWiki gives none.
            lock(&self.used).insert(name.to_owned());
            return Err(ApiError::new(
                Code::BadUpload,
                format!("File upload parameter \"{name}\" is not a file upload; be sure to use multipart/form-data for your POST and include a filename in the Content-Disposition header."),
            ));
        }
        Ok(())
    }

    /// An integer parameter, clamped to `[min, max]` with an `outofrange` warning.
    pub fn int(
        &self,
        module: &str,
        name: &str,
        min: i64,
        max: Option<i64>,
    ) -> Result<Option<i64>, ApiError> {
        let Some(s) = self.string(name)? else {
            return Ok(None);
        };
        let t = s.trim();
        let ok = {
            let body = t.strip_prefix(['+', '-']).unwrap_or(t);
            !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
        };
        let v: i64 = match (ok, t.parse::<i64>()) {
            (true, Ok(v)) => v,
            _ => {
                return Err(ApiError::new(
                    Code::BadInteger,
                    format!("Invalid value \"{s}\" for integer parameter \"{name}\"."),
                ))
            }
        };
        let clamped = match max {
            Some(mx) if v > mx => Some(mx),
            _ if v < min => Some(min),
            _ => None,
        };
        if let Some(c) = clamped {
            let text = match max {
                Some(mx) => format!(
                    "The value \"{}\" for parameter \"{name}\" must be between {} and {}.",
                    v,
                    format_num(min),
                    format_num(mx)
                ),
                None => format!(
                    "The value \"{}\" for parameter \"{name}\" must be no less than {}.",
                    v,
                    format_num(min)
                ),
            };
            self.warn(module, "outofrange", &text);
            return Ok(Some(c));
        }
        Ok(Some(v))
    }

    /// A `*limit` parameter: `max` allowed, values above the maximum clipped with a warning.
    pub fn limit(
        &self,
        module: &str,
        name: &str,
        default: i64,
        max: i64,
        highmax: i64,
        high: bool,
    ) -> Result<i64, ApiError> {
        let cap = if high { highmax } else { max };
        match self.string(name)? {
            None => Ok(default),
            Some(s) if s == "max" => {
                lock(&self.limits).push((module.to_owned(), cap));
                Ok(cap)
            }
            Some(_) => Ok(self.int(module, name, 1, Some(cap))?.unwrap_or(default)),
        }
    }

    /// A single-valued enum parameter.
    pub fn enumerated(
        &self,
        name: &str,
        allowed: &[&str],
        default: &str,
    ) -> Result<String, ApiError> {
        match self.string(name)? {
            None => Ok(default.to_owned()),
            Some(v) if allowed.contains(&v.as_str()) => Ok(v),
            Some(v) => Err(ApiError::bad_value(name, &v)),
        }
    }

    /// A multi-valued parameter: split on `|` (or U+001F when the value starts with it),
    /// duplicates removed; unknown values of an enum list dropped with a warning.
    pub fn multi(
        &self,
        module: &str,
        name: &str,
        allowed: Option<&[&str]>,
        max_values: usize,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        let parts: Vec<&str> = if let Some(rest) = raw.strip_prefix('\u{1f}') {
            if rest.is_empty() {
                Vec::new()
            } else {
                rest.split('\u{1f}').collect()
            }
        } else if raw.is_empty() {
            Vec::new()
        } else {
            raw.split('|').collect()
        };
        let mut out: Vec<String> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for p in parts {
            if !seen.insert(p) {
                continue;
            }
            match allowed {
                Some(list) if !list.contains(&p) => unknown.push(p.to_owned()),
                _ => out.push(p.to_owned()),
            }
        }
        if out.len() + unknown.len() > max_values {
            return Err(ApiError::new(
                Code::TooManyValues,
                format!(
                    "Too many values supplied for parameter \"{name}\". The limit is {max_values}."
                ),
            ));
        }
        if !unknown.is_empty() {
            let text = if unknown.len() == 1 {
                format!(
                    "Unrecognized value for parameter \"{name}\": {}",
                    unknown[0]
                )
            } else {
                format!(
                    "Unrecognized values for parameter \"{name}\": {}",
                    unknown.join(", ")
                )
            };
            self.warn(module, "unrecognizedvalues", &text);
        }
        Ok(Some(out))
    }

    /// Names of parameters no module read (for `unrecognizedparams`).
    pub fn unused(&self) -> Vec<String> {
        let used = lock(&self.used);
        self.values
            .iter()
            .filter(|(n, v)| v.is_some() && !used.contains(n))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Marks a parameter as read without reading it.
    pub fn touch(&self, name: &str) {
        lock(&self.used).insert(name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_by_presence_and_body_wins() {
        let mut p = Params::default();
        p.push_query(b"stash", b"0");
        p.push_query(b"comment", b"q");
        p.push_body(b"comment", b"b");
        assert!(p.flag("stash"));
        assert!(!p.flag("ignorewarnings"));
        assert_eq!(p.raw("comment"), Some("b"));
    }

    #[test]
    fn integers() {
        let mut p = Params::default();
        p.push_body(b"filesize", b"12abc");
        p.push_body(b"offset", b"1000000000000");
        p.push_body(b"x", b"+5");
        assert_eq!(
            p.int("upload", "filesize", 0, None).unwrap_err().code,
            "badinteger"
        );
        assert_eq!(
            p.int("upload", "offset", 0, Some(4_194_304)).unwrap(),
            Some(4_194_304)
        );
        assert_eq!(
            lock(&p.warnings)[0].text,
            "The value \"1000000000000\" for parameter \"offset\" must be between 0 and 4,194,304."
        );
        assert_eq!(p.int("upload", "x", 0, None).unwrap(), Some(5));
    }

    #[test]
    fn multi_values() {
        let mut p = Params::default();
        p.push_body(b"meta", b"siteinfo|userinfo|userinfo|bogus");
        p.push_body(b"t", b"\x1fa|b\x1fc");
        let m = p
            .multi("query", "meta", Some(&["siteinfo", "userinfo"]), 50)
            .unwrap()
            .unwrap();
        assert_eq!(m, vec!["siteinfo", "userinfo"]);
        assert_eq!(
            lock(&p.warnings)[0].text,
            "Unrecognized value for parameter \"meta\": bogus"
        );
        assert_eq!(
            p.multi("x", "t", None, 50).unwrap().unwrap(),
            vec!["a|b", "c"]
        );
        assert_eq!(p.string("t").unwrap_err().code, "badvalue");
    }

    #[test]
    fn nfc_and_invalid_utf8() {
        let (s, changed) = normalize_text("e\u{301}".as_bytes());
        assert_eq!(s, "\u{e9}");
        assert!(changed);
        let (s, changed) = normalize_text(b"a\xffb");
        assert_eq!(s, "a\u{fffd}b");
        assert!(changed);
        assert!(!normalize_text(b"plain").1);
    }

    #[test]
    fn a_text_upload_parameter_is_badupload_without_badutf8() {
        let mut p = Params::default();
        p.push_body(b"file", b"\x89PNG\r\n\x1a\n\xff\xfe");
        assert_eq!(p.check_upload("file").unwrap_err().code, "badupload");
        assert!(lock(&p.warnings).is_empty());
        assert!(p.unused().is_empty());
    }

    #[test]
    fn many_parameters() {
        // Each name is one hash probe (a list searched on every insert took minutes here).
        let mut p = Params::default();
        for i in 0..200_000 {
            p.push_body(format!("a{i}").as_bytes(), b"");
        }
        p.push_body(b"a7", b"again");
        assert!(p.has("a199999"));
        assert_eq!(p.raw("a7"), Some("again"));
        assert_eq!(p.unused().len(), 199_998);
    }

    #[test]
    fn unused_parameters() {
        let mut p = Params::default();
        p.push_body(b"action", b"query");
        p.push_body(b"frobnicate", b"1");
        p.raw("action");
        assert_eq!(p.unused(), vec!["frobnicate"]);
    }
}
