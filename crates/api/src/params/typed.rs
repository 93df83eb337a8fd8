//! Table-driven parameter validation: a module's parameters are read in the order the module
//! table declares them, each by its declared type (the same table `action=paraminfo`
//! describes), with MediaWiki's errors and warnings. What comes out is a [`Parsed`] set of
//! typed values; a module turns it into its own typed request.

use crate::error::{ApiError, Code};
use crate::params::table::{DefaultValue, Max, Module, ParamType};
use crate::params::Params;

/// A validated parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Not given and no default.
    Absent,
    Str(String),
    Bool(bool),
    Int(i64),
    Multi(Vec<String>),
    /// A file part is present (the part itself stays in [`Params`] to be taken).
    Upload,
}

/// The validated parameters of one module, by unprefixed name.
#[derive(Debug, Default)]
pub struct Parsed {
    values: Vec<(&'static str, ParamValue)>,
}

impl Parsed {
    fn get(&self, name: &str) -> &ParamValue {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or(&ParamValue::Absent)
    }

    /// A string value (or its default).
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A non-empty string value.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.str(name).filter(|s| !s.is_empty())
    }

    /// A boolean (true when present).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), ParamValue::Bool(true))
    }

    /// An integer value (clamped to its bounds).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            ParamValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A multi-value.
    pub fn multi(&self, name: &str) -> Option<&[String]> {
        match self.get(name) {
            ParamValue::Multi(v) => Some(v),
            _ => None,
        }
    }
}

/// Validates the parameters of `module` in declaration order. `max_upload` is the configured
/// maximum upload size (the bound of parameters declared with [`Max::UploadSize`]). The
/// `token` parameter is left to the token check that follows.
pub fn parse(params: &Params, module: &Module, max_upload: u64) -> Result<Parsed, ApiError> {
    let path = module.path;
    let mut out = Parsed::default();
    for p in module.params {
        if p.name == "token" {
            continue;
        }
        let wire = format!("{}{}", module.prefix, p.name);
        let default = || match p.default {
            Some(DefaultValue::Str(s)) => ParamValue::Str(s.to_owned()),
            Some(DefaultValue::Int(i)) => ParamValue::Int(i),
            None => ParamValue::Absent,
        };
        let value = match p.ty {
            ParamType::Boolean => ParamValue::Bool(params.flag(&wire)),
            ParamType::Upload => {
                params.check_upload(&wire)?;
                if params.is_file(&wire) {
                    ParamValue::Upload
                } else {
                    ParamValue::Absent
                }
            }
            ParamType::Tags => {
                let tags = params.multi(path, &wire, None, 50)?.unwrap_or_default();
                if !tags.is_empty() {
                    return Err(bad_tags(&tags));
                }
                ParamValue::Multi(tags)
            }
            ParamType::Enum(values) if p.multi => {
                match params.multi(path, &wire, Some(values), 50)? {
                    Some(v) => ParamValue::Multi(v),
                    None => default(),
                }
            }
            ParamType::Enum(values) => {
                let dflt = match p.default {
                    Some(DefaultValue::Str(s)) => s,
                    _ => "",
                };
                match params.string(&wire)? {
                    None if dflt.is_empty() => ParamValue::Absent,
                    None => ParamValue::Str(dflt.to_owned()),
                    Some(v) if values.contains(&v.as_str()) => ParamValue::Str(v),
                    Some(v) => return Err(ApiError::bad_value(&wire, &v)),
                }
            }
            ParamType::Integer => {
                let max = p.max.map(|m| match m {
                    Max::Value(v) => v,
                    Max::UploadSize => i64::try_from(max_upload).unwrap_or(i64::MAX),
                });
                match params.int(path, &wire, p.min.unwrap_or(i64::MIN), max)? {
                    Some(i) => ParamValue::Int(i),
                    None => default(),
                }
            }
            ParamType::Limit => {
                let max = match p.max {
                    Some(Max::Value(v)) => v,
                    _ => 500,
                };
                let dflt = match p.default {
                    Some(DefaultValue::Int(i)) => i,
                    _ => 10,
                };
                ParamValue::Int(params.limit(
                    path,
                    &wire,
                    dflt,
                    max,
                    p.highmax.unwrap_or(max),
                    false,
                )?)
            }
            _ if p.multi => match params.multi(path, &wire, None, 50)? {
                Some(v) => ParamValue::Multi(v),
                None => default(),
            },
            _ => match params.string(&wire)? {
                Some(s) => ParamValue::Str(s),
                None => default(),
            },
        };
        if p.deprecated && params.has(&wire) {
            params.warn_deprecated(
                path,
                &format!("The parameter \"{wire}\" has been deprecated."),
            );
        }
        out.values.push((p.name, value));
    }
    Ok(out)
}

/// `badtags`: no change tags may be applied by hand on this server.
fn bad_tags(tags: &[String]) -> ApiError {
    let info = if tags.len() == 1 {
        format!(
            "The tag \"{}\" is not allowed to be manually applied.",
            tags[0]
        )
    } else {
        format!(
            "The following tags are not allowed to be manually applied: {}",
            tags.join(", ")
        )
    };
    ApiError::new(Code::BadTags, info).with("disallowedtags", serde_json::json!(tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::table::module_by_path;

    fn upload() -> &'static Module {
        module_by_path("upload").expect("upload module")
    }

    #[test]
    fn values_come_typed_with_defaults_and_clamps() {
        let mut p = Params::default();
        p.push_body(b"filename", b"A.png");
        p.push_body(b"stash", b"0");
        p.push_body(b"filesize", b"999999999999");
        p.push_body(b"offset", b"12");
        let v = parse(&p, upload(), 1000).unwrap();
        assert_eq!(v.str("filename"), Some("A.png"));
        assert_eq!(v.str("comment"), Some(""));
        assert_eq!(v.str("watchlist"), Some("preferences"));
        assert!(v.flag("stash"));
        assert!(!v.flag("async"));
        assert_eq!(v.int("filesize"), Some(1000));
        assert_eq!(v.int("offset"), Some(12));
        assert_eq!(v.str("url"), None);
        assert_eq!(
            crate::params::lock(&p.warnings)[0].code,
            "outofrange",
            "the clamp is reported"
        );
    }

    #[test]
    fn errors_come_in_declaration_order() {
        let mut p = Params::default();
        p.push_body(b"tags", b"x");
        p.push_body(b"watchlist", b"bogus");
        assert_eq!(parse(&p, upload(), 1000).unwrap_err().code, "badtags");
        let mut p = Params::default();
        p.push_body(b"watchlist", b"bogus");
        p.push_body(b"file", b"not a file part");
        assert_eq!(parse(&p, upload(), 1000).unwrap_err().code, "badvalue");
        let mut p = Params::default();
        p.push_body(b"file", b"not a file part");
        p.push_body(b"filesize", b"12abc");
        assert_eq!(parse(&p, upload(), 1000).unwrap_err().code, "badupload");
    }

    #[test]
    fn deprecated_parameters_warn_when_given() {
        let mut p = Params::default();
        p.push_body(b"sessionkey", b"k");
        p.push_body(b"watch", b"");
        parse(&p, upload(), 1000).unwrap();
        let w = crate::params::lock(&p.warnings).clone();
        let texts: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
        assert!(texts.contains(&"The parameter \"watch\" has been deprecated."));
        assert!(texts.contains(&"The parameter \"sessionkey\" has been deprecated."));
    }
}
