//! `action=paraminfo`: machine-readable descriptions of the modules mwstore implements, in
//! MediaWiki 1.39's shape (pywikibot reads them at start-up to learn the action names, the
//! query submodules, prefixes, limits and token types), rendered from the module table.

use serde_json::{Map, Value};

use crate::params::table::ParamType as T;
use crate::params::table::*;

/// What the paraminfo output depends on besides the module list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfoContext<'a> {
    /// Public base URL without trailing slash.
    pub server: &'a str,
    /// Script path, e.g. `/w`.
    pub script_path: &'a str,
    /// The configured maximum upload size (the `max` of `upload`'s `filesize`).
    pub max_upload_size: u64,
    /// The requesting user has `apihighlimits` (multi-value `limit` is then 500, not 50).
    pub high_limits: bool,
}

/// The direct submodules of a module path, as (name, path), sorted by name.
fn children(path: &str) -> Option<Vec<(&'static str, String)>> {
    let groups: &[Submodules] = match path {
        "main" => &[Submodules::Actions, Submodules::Formats],
        "query" => &[Submodules::Prop, Submodules::List, Submodules::Meta],
        _ => return None,
    };
    let mut out: Vec<(&'static str, String)> = groups
        .iter()
        .flat_map(|g| g.names().iter().map(move |n| (*n, g.path(n))))
        .collect();
    out.sort();
    Some(out)
}

/// Resolves a module path, or gives MediaWiki's warning text.
fn resolve(path: &str) -> Result<&'static Module, String> {
    if path == "main" {
        return module_by_path("main")
            .ok_or_else(|| String::from("The module \"main\" is missing."));
    }
    let mut parts: Vec<&str> = path.split('+').collect();
    if parts.len() == 1 {
        // A '+' typed into a URL arrives as a space.
        parts = path.split(' ').collect();
    }
    let mut current = String::from("main");
    for (i, part) in parts.iter().enumerate() {
        let Some(kids) = children(&current) else {
            return Err(format!(
                "The module \"{}\" has no submodules.",
                parts[..i].join("+")
            ));
        };
        match kids.into_iter().find(|(n, _)| n == part) {
            Some((_, p)) => current = p,
            None => {
                let parent = if i == 0 {
                    "main".to_owned()
                } else {
                    parts[..i].join("+")
                };
                return Err(format!(
                    "The module \"{parent}\" does not have a submodule \"{part}\"."
                ));
            }
        }
    }
    module_by_path(&current).ok_or_else(|| format!("The module \"{current}\" is missing."))
}

fn list_submodules(path: &str, recursive: bool, out: &mut Vec<String>) -> bool {
    let Some(kids) = children(path) else {
        return false;
    };
    for (_, p) in kids {
        out.push(p.clone());
        if recursive {
            list_submodules(&p, true, out);
        }
    }
    true
}

fn sorted(values: &[&str]) -> Vec<Value> {
    let mut v: Vec<&str> = values.to_vec();
    v.sort_unstable();
    v.into_iter().map(|s| Value::String(s.to_owned())).collect()
}

fn param_info(module: &Module, index: usize, p: &Param, ctx: &ParamInfoContext) -> Value {
    let mut o = Map::new();
    o.insert("index".into(), Value::from(index));
    o.insert("name".into(), p.name.into());
    let ty = match p.ty {
        T::String => Value::from("string"),
        T::Text => Value::from("text"),
        T::Password => Value::from("password"),
        T::Boolean => Value::from("boolean"),
        T::Integer => Value::from("integer"),
        T::Limit => Value::from("limit"),
        T::Timestamp => Value::from("timestamp"),
        T::Upload => Value::from("upload"),
        T::Title => Value::from("title"),
        T::Namespace => Value::from("namespace"),
        T::Expiry => Value::from("expiry"),
        T::User(_) => Value::from("user"),
        T::Tags => Value::Array(Vec::new()),
        T::Enum(values) => Value::Array(sorted(values)),
        T::Submodule(set) => Value::Array(sorted(set.names())),
    };
    o.insert("type".into(), ty);
    o.insert("required".into(), Value::Bool(p.required));
    if p.deprecated {
        o.insert("deprecated".into(), Value::Bool(true));
    }
    if p.sensitive {
        o.insert("sensitive".into(), Value::Bool(true));
    }
    match p.default {
        Some(DefaultValue::Str(s)) => {
            o.insert("default".into(), s.into());
        }
        Some(DefaultValue::Int(i)) => {
            o.insert("default".into(), i.into());
        }
        None => {}
    }
    o.insert("multi".into(), Value::Bool(p.multi));
    if p.multi {
        o.insert("lowlimit".into(), 50.into());
        o.insert("highlimit".into(), 500.into());
        o.insert(
            "limit".into(),
            (if ctx.high_limits { 500 } else { 50 }).into(),
        );
        if p.all || (p.ty == T::Namespace) {
            o.insert("allspecifier".into(), "*".into());
        }
    }
    if let Some(min) = p.min {
        o.insert("min".into(), min.into());
    }
    match p.max {
        Some(Max::Value(v)) => {
            o.insert("max".into(), v.into());
        }
        Some(Max::UploadSize) => {
            o.insert("max".into(), ctx.max_upload_size.into());
        }
        None => {}
    }
    if let Some(h) = p.highmax {
        o.insert("highmax".into(), h.into());
    }
    match p.ty {
        T::User(kinds) => {
            o.insert(
                "subtypes".into(),
                kinds.iter().map(|k| Value::from(*k)).collect(),
            );
        }
        T::Submodule(set) => {
            let mut names: Vec<&str> = set.names().to_vec();
            names.sort_unstable();
            let map: Map<String, Value> = names
                .iter()
                .map(|n| ((*n).to_owned(), Value::String(set.path(n))))
                .collect();
            o.insert("submodules".into(), Value::Object(map));
            if let Some(prefix) = p.submodule_param_prefix {
                o.insert("submoduleparamprefix".into(), prefix.into());
            }
        }
        _ => {}
    }
    if p.name == "token" {
        if let Some(t) = module.token {
            o.insert("tokentype".into(), t.into());
        }
    }
    Value::Object(o)
}

fn module_info(m: &Module, ctx: &ParamInfoContext) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), m.name.into());
    o.insert("classname".into(), m.classname.into());
    o.insert("path".into(), m.path.into());
    if let Some(g) = m.group {
        o.insert("group".into(), g.as_str().into());
    }
    o.insert("prefix".into(), m.prefix.into());
    o.insert("source".into(), "MediaWiki".into());
    o.insert("sourcename".into(), "MediaWiki".into());
    o.insert("licensetag".into(), "GPL-2.0-or-later".into());
    o.insert(
        "licenselink".into(),
        format!(
            "{}{}/index.php?title=Special:Version/License/MediaWiki",
            ctx.server, ctx.script_path
        )
        .into(),
    );
    let f = m.flags;
    for (name, on) in [
        ("deprecated", f.deprecated),
        ("internal", f.internal),
        ("readrights", f.readrights),
        ("writerights", f.writerights),
        ("mustbeposted", f.mustbeposted),
        ("generator", f.generator),
    ] {
        if on {
            o.insert(name.into(), Value::Bool(true));
        }
    }
    o.insert(
        "helpurls".into(),
        m.helpurls.iter().map(|u| Value::from(*u)).collect(),
    );
    let params: Vec<Value> = m
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| param_info(m, i + 1, p, ctx))
        .collect();
    o.insert("parameters".into(), Value::Array(params));
    o.insert("templatedparameters".into(), Value::Array(Vec::new()));
    if m.dynamic_parameters {
        o.insert("dynamicparameters".into(), Value::Bool(true));
    }
    Value::Object(o)
}

/// `action=paraminfo&modules=...`: the value of the top-level `paraminfo` key, and the
/// warnings (code `badmodule`, module `paraminfo`) for module paths that do not resolve.
///
/// Paths are `main`, an action, a format, or `query+<submodule>`; `X+*` (or `X *`) expands to
/// X's submodules and `X+**` recursively, and `*`/`**` stand for `main+*`/`main+**`. Unknown
/// modules are left out of `modules`, as MediaWiki does; with none found the key is absent.
pub fn paraminfo(modules: &[String], ctx: &ParamInfoContext, fv2: bool) -> (Value, Vec<String>) {
    let mut warnings: Vec<String> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    for raw in modules {
        let mut path = raw.as_str();
        let expanded;
        if path == "*" || path == "**" {
            expanded = format!("main+{path}");
            path = &expanded;
        }
        let (base, recursive) =
            if let Some(b) = path.strip_suffix("+**").or(path.strip_suffix(" **")) {
                (Some(b), true)
            } else if let Some(b) = path.strip_suffix("+*").or(path.strip_suffix(" *")) {
                (Some(b), false)
            } else {
                (None, false)
            };
        match base {
            Some(b) => match resolve(b) {
                Ok(m) => {
                    if !list_submodules(m.path, recursive, &mut paths) {
                        warnings.push(format!("The module \"{b}\" has no submodules."));
                    }
                }
                Err(w) => warnings.push(w),
            },
            None => paths.push(path.to_owned()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.clone()));

    let mut found = Vec::new();
    for p in &paths {
        match resolve(p) {
            Ok(m) => found.push(module_info(m, ctx)),
            Err(w) => warnings.push(w),
        }
    }
    let mut out = Map::new();
    out.insert("helpformat".into(), "none".into());
    if !found.is_empty() {
        out.insert("modules".into(), Value::Array(found));
    }
    let value = Value::Object(out);
    let value = if fv2 {
        value
    } else {
        crate::http::output::to_fv1(value)
    };
    (value, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CTX: ParamInfoContext<'static> = ParamInfoContext {
        server: "http://127.0.0.1:8081",
        script_path: "/w",
        max_upload_size: 4_294_967_296,
        high_limits: false,
    };

    fn names(s: &str) -> Vec<String> {
        s.split('|').map(str::to_owned).collect()
    }

    /// 11-siteinfo.json step 6: `modules=upload|login|query+imageinfo|query+allimages|
    /// query+stashimageinfo|query+mystashedfiles|query+tokens`, formatversion=2.
    const TX_FV2: &str = r#"{"helpformat": "none", "modules": [{"name": "upload", "classname": "ApiUpload", "path": "upload", "group": "action", "prefix": "", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "readrights": true, "writerights": true, "mustbeposted": true, "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Upload"], "parameters": [{"index": 1, "name": "filename", "type": "string", "required": false, "multi": false}, {"index": 2, "name": "comment", "type": "string", "required": false, "default": "", "multi": false}, {"index": 3, "name": "tags", "type": [], "required": false, "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 4, "name": "text", "type": "text", "required": false, "multi": false}, {"index": 5, "name": "watch", "type": "boolean", "required": false, "deprecated": true, "multi": false}, {"index": 6, "name": "watchlist", "type": ["nochange", "preferences", "watch"], "required": false, "default": "preferences", "multi": false}, {"index": 7, "name": "ignorewarnings", "type": "boolean", "required": false, "multi": false}, {"index": 8, "name": "file", "type": "upload", "required": false, "multi": false}, {"index": 9, "name": "url", "type": "string", "required": false, "multi": false}, {"index": 10, "name": "filekey", "type": "string", "required": false, "multi": false}, {"index": 11, "name": "sessionkey", "type": "string", "required": false, "deprecated": true, "multi": false}, {"index": 12, "name": "stash", "type": "boolean", "required": false, "multi": false}, {"index": 13, "name": "filesize", "type": "integer", "required": false, "multi": false, "min": 0, "max": 4294967296}, {"index": 14, "name": "offset", "type": "integer", "required": false, "multi": false, "min": 0}, {"index": 15, "name": "chunk", "type": "upload", "required": false, "multi": false}, {"index": 16, "name": "async", "type": "boolean", "required": false, "multi": false}, {"index": 17, "name": "checkstatus", "type": "boolean", "required": false, "multi": false}, {"index": 18, "name": "token", "type": "string", "required": true, "sensitive": true, "multi": false, "tokentype": "csrf"}], "templatedparameters": []}, {"name": "login", "classname": "ApiLogin", "path": "login", "group": "action", "prefix": "lg", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "writerights": true, "mustbeposted": true, "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Login"], "parameters": [{"index": 1, "name": "name", "type": "string", "required": false, "multi": false}, {"index": 2, "name": "password", "type": "password", "required": false, "sensitive": true, "multi": false}, {"index": 3, "name": "domain", "type": "string", "required": false, "multi": false}, {"index": 4, "name": "token", "type": "string", "required": false, "sensitive": true, "multi": false}], "templatedparameters": []}, {"name": "imageinfo", "classname": "ApiQueryImageInfo", "path": "query+imageinfo", "group": "prop", "prefix": "ii", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "readrights": true, "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Imageinfo"], "parameters": [{"index": 1, "name": "prop", "type": ["archivename", "badfile", "bitdepth", "canonicaltitle", "comment", "commonmetadata", "dimensions", "extmetadata", "mediatype", "metadata", "mime", "parsedcomment", "sha1", "size", "thumbmime", "timestamp", "uploadwarning", "url", "user", "userid"], "required": false, "default": "timestamp|user", "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 2, "name": "limit", "type": "limit", "required": false, "default": 1, "multi": false, "min": 1, "max": 500, "highmax": 5000}, {"index": 3, "name": "start", "type": "timestamp", "required": false, "multi": false}, {"index": 4, "name": "end", "type": "timestamp", "required": false, "multi": false}, {"index": 5, "name": "urlwidth", "type": "integer", "required": false, "default": -1, "multi": false}, {"index": 6, "name": "urlheight", "type": "integer", "required": false, "default": -1, "multi": false}, {"index": 7, "name": "metadataversion", "type": "string", "required": false, "default": "1", "multi": false}, {"index": 8, "name": "extmetadatalanguage", "type": "string", "required": false, "default": "en", "multi": false}, {"index": 9, "name": "extmetadatamultilang", "type": "boolean", "required": false, "multi": false}, {"index": 10, "name": "extmetadatafilter", "type": "string", "required": false, "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 11, "name": "urlparam", "type": "string", "required": false, "default": "", "multi": false}, {"index": 12, "name": "badfilecontexttitle", "type": "string", "required": false, "multi": false}, {"index": 13, "name": "continue", "type": "string", "required": false, "multi": false}, {"index": 14, "name": "localonly", "type": "boolean", "required": false, "multi": false}], "templatedparameters": []}, {"name": "allimages", "classname": "ApiQueryAllImages", "path": "query+allimages", "group": "list", "prefix": "ai", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "readrights": true, "generator": true, "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Allimages"], "parameters": [{"index": 1, "name": "sort", "type": ["name", "timestamp"], "required": false, "default": "name", "multi": false}, {"index": 2, "name": "dir", "type": ["ascending", "descending", "newer", "older"], "required": false, "default": "ascending", "multi": false}, {"index": 3, "name": "from", "type": "string", "required": false, "multi": false}, {"index": 4, "name": "to", "type": "string", "required": false, "multi": false}, {"index": 5, "name": "continue", "type": "string", "required": false, "multi": false}, {"index": 6, "name": "start", "type": "timestamp", "required": false, "multi": false}, {"index": 7, "name": "end", "type": "timestamp", "required": false, "multi": false}, {"index": 8, "name": "prop", "type": ["badfile", "bitdepth", "canonicaltitle", "comment", "commonmetadata", "dimensions", "extmetadata", "mediatype", "metadata", "mime", "parsedcomment", "sha1", "size", "timestamp", "url", "user", "userid"], "required": false, "default": "timestamp|url", "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 9, "name": "prefix", "type": "string", "required": false, "multi": false}, {"index": 10, "name": "minsize", "type": "integer", "required": false, "multi": false}, {"index": 11, "name": "maxsize", "type": "integer", "required": false, "multi": false}, {"index": 12, "name": "sha1", "type": "string", "required": false, "multi": false}, {"index": 13, "name": "sha1base36", "type": "string", "required": false, "multi": false}, {"index": 14, "name": "user", "type": "user", "required": false, "multi": false, "subtypes": ["name", "ip", "interwiki", "id"]}, {"index": 15, "name": "filterbots", "type": ["all", "bots", "nobots"], "required": false, "default": "all", "multi": false}, {"index": 16, "name": "mime", "type": "string", "required": false, "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 17, "name": "limit", "type": "limit", "required": false, "default": 10, "multi": false, "min": 1, "max": 500, "highmax": 5000}], "templatedparameters": []}, {"name": "stashimageinfo", "classname": "ApiQueryStashImageInfo", "path": "query+stashimageinfo", "group": "prop", "prefix": "sii", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "readrights": true, "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Stashimageinfo"], "parameters": [{"index": 1, "name": "filekey", "type": "string", "required": false, "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 2, "name": "sessionkey", "type": "string", "required": false, "deprecated": true, "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 3, "name": "prop", "type": ["badfile", "bitdepth", "canonicaltitle", "commonmetadata", "dimensions", "extmetadata", "metadata", "mime", "sha1", "size", "thumbmime", "timestamp", "url"], "required": false, "default": "timestamp|url", "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 4, "name": "urlwidth", "type": "integer", "required": false, "default": -1, "multi": false}, {"index": 5, "name": "urlheight", "type": "integer", "required": false, "default": -1, "multi": false}, {"index": 6, "name": "urlparam", "type": "string", "required": false, "default": "", "multi": false}], "templatedparameters": []}, {"name": "mystashedfiles", "classname": "ApiQueryMyStashedFiles", "path": "query+mystashedfiles", "group": "list", "prefix": "msf", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "readrights": true, "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:mystashedfiles"], "parameters": [{"index": 1, "name": "prop", "type": ["size", "type"], "required": false, "default": "", "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 2, "name": "limit", "type": "limit", "required": false, "default": 10, "multi": false, "min": 1, "max": 500, "highmax": 5000}, {"index": 3, "name": "continue", "type": "string", "required": false, "multi": false}], "templatedparameters": []}, {"name": "tokens", "classname": "ApiQueryTokens", "path": "query+tokens", "group": "meta", "prefix": "", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8081/w/index.php?title=Special:Version/License/MediaWiki", "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Tokens"], "parameters": [{"index": 1, "name": "type", "type": ["createaccount", "csrf", "login", "patrol", "rollback", "userrights", "watch"], "required": false, "default": "csrf", "multi": true, "lowlimit": 50, "highlimit": 500, "limit": 50, "allspecifier": "*"}], "templatedparameters": []}]}"#;

    /// pywikibot's fv1 `modules=query+tokens` answer (clients/pywikibot.jsonl, seq 7).
    const TX_TOKENS_FV1: &str = r#"{"paraminfo": {"helpformat": "none", "modules": [{"name": "tokens", "classname": "ApiQueryTokens", "path": "query+tokens", "group": "meta", "prefix": "", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8080/w/index.php?title=Special:Version/License/MediaWiki", "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Tokens"], "parameters": [{"index": 1, "name": "type", "type": ["createaccount", "csrf", "login", "patrol", "rollback", "userrights", "watch"], "default": "csrf", "multi": "", "lowlimit": 50, "highlimit": 500, "limit": 50, "allspecifier": "*"}], "templatedparameters": []}]}}"#;

    /// pywikibot's fv1 `modules=query+allimages` answer (seq 281).
    const TX_ALLIMAGES_FV1: &str = r#"{"paraminfo": {"helpformat": "none", "modules": [{"name": "allimages", "classname": "ApiQueryAllImages", "path": "query+allimages", "group": "list", "prefix": "ai", "source": "MediaWiki", "sourcename": "MediaWiki", "licensetag": "GPL-2.0-or-later", "licenselink": "http://127.0.0.1:8080/w/index.php?title=Special:Version/License/MediaWiki", "readrights": "", "generator": "", "helpurls": ["https://www.mediawiki.org/wiki/Special:MyLanguage/API:Allimages"], "parameters": [{"index": 1, "name": "sort", "type": ["name", "timestamp"], "default": "name"}, {"index": 2, "name": "dir", "type": ["ascending", "descending", "newer", "older"], "default": "ascending"}, {"index": 3, "name": "from", "type": "string"}, {"index": 4, "name": "to", "type": "string"}, {"index": 5, "name": "continue", "type": "string"}, {"index": 6, "name": "start", "type": "timestamp"}, {"index": 7, "name": "end", "type": "timestamp"}, {"index": 8, "name": "prop", "type": ["badfile", "bitdepth", "canonicaltitle", "comment", "commonmetadata", "dimensions", "extmetadata", "mediatype", "metadata", "mime", "parsedcomment", "sha1", "size", "timestamp", "url", "user", "userid"], "default": "timestamp|url", "multi": "", "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 9, "name": "prefix", "type": "string"}, {"index": 10, "name": "minsize", "type": "integer"}, {"index": 11, "name": "maxsize", "type": "integer"}, {"index": 12, "name": "sha1", "type": "string"}, {"index": 13, "name": "sha1base36", "type": "string"}, {"index": 14, "name": "user", "type": "user", "subtypes": ["name", "ip", "interwiki", "id"]}, {"index": 15, "name": "filterbots", "type": ["all", "bots", "nobots"], "default": "all"}, {"index": 16, "name": "mime", "type": "string", "multi": "", "lowlimit": 50, "highlimit": 500, "limit": 50}, {"index": 17, "name": "limit", "type": "limit", "default": 10, "min": 1, "max": 500, "highmax": 5000}], "templatedparameters": []}]}}"#;

    /// The start of pywikibot's fv1 `modules=main|paraminfo|query` answer (seq 6, cut by the
    /// proxy log): the `main` module up to its `action` parameter's `type`.
    const TX_MAIN_FV1_PREFIX: &str = r#"{"paraminfo":{"helpformat":"none","modules":[{"name":"main","classname":"ApiMain","path":"main","prefix":"","source":"MediaWiki","sourcename":"MediaWiki","licensetag":"GPL-2.0-or-later","licenselink":"http://127.0.0.1:8080/w/index.php?title=Special:Version/License/MediaWiki","helpurls":[],"parameters":[{"index":1,"name":"action","type":["#;

    #[test]
    fn transcript_modules_fv2_exact() {
        let (got, warnings) = paraminfo(
            &names("upload|login|query+imageinfo|query+allimages|query+stashimageinfo|query+mystashedfiles|query+tokens"),
            &CTX,
            true,
        );
        assert!(warnings.is_empty());
        let want: Value = serde_json::from_str(TX_FV2).unwrap();
        assert_eq!(got, want);
        // Key order too (serde_json keeps insertion order).
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
    }

    #[test]
    fn upload_token_is_csrf() {
        let (got, _) = paraminfo(&names("upload"), &CTX, true);
        let params = got["modules"][0]["parameters"].as_array().unwrap();
        let token = params.iter().find(|p| p["name"] == "token").unwrap();
        assert_eq!(token["tokentype"], "csrf");
        assert_eq!(token["required"], true);
        let custom = ParamInfoContext {
            max_upload_size: 1000,
            ..CTX
        };
        let (got, _) = paraminfo(&names("upload"), &custom, true);
        assert_eq!(got["modules"][0]["parameters"][12]["max"], 1000);
    }

    #[test]
    fn fv1_matches_pywikibot_transcript() {
        let ctx = ParamInfoContext {
            server: "http://127.0.0.1:8080",
            ..CTX
        };
        for (mods, tx) in [
            ("query+tokens", TX_TOKENS_FV1),
            ("query+allimages", TX_ALLIMAGES_FV1),
        ] {
            let (got, _) = paraminfo(&names(mods), &ctx, false);
            let want: Value = serde_json::from_str(tx).unwrap();
            assert_eq!(
                serde_json::to_string(&json!({"paraminfo": got})).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
        }
        let (got, _) = paraminfo(&names("main|paraminfo|query"), &ctx, false);
        let text = serde_json::to_string(&json!({"paraminfo": got})).unwrap();
        assert!(text.starts_with(TX_MAIN_FV1_PREFIX), "{text}");
    }

    fn param<'a>(module: &'a Value, name: &str) -> &'a Value {
        module["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
    }

    /// What pywikibot's ParamInfo asserts at start-up (fv1).
    #[test]
    fn main_and_query_as_pywikibot_expects() {
        let (got, warnings) = paraminfo(&names("main|paraminfo|query"), &CTX, false);
        assert!(warnings.is_empty());
        let mods = got["modules"].as_array().unwrap();
        assert_eq!(mods.len(), 3);
        let paths: Vec<&str> = mods.iter().map(|m| m["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["main", "paraminfo", "query"]);
        for m in mods {
            assert!(m["name"].is_string() && m["prefix"].is_string());
        }
        let main = &mods[0];
        assert!(main.get("group").is_none());
        let action = param(main, "action");
        let types: Vec<&str> = action["type"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(types, ACTIONS);
        let subs = action["submodules"].as_object().unwrap();
        assert_eq!(subs.keys().map(String::as_str).collect::<Vec<_>>(), ACTIONS);
        for (k, v) in subs {
            assert_eq!(v, k);
        }
        assert_eq!(action["default"], "help");
        assert!(action.get("multi").is_none());

        let query = &mods[2];
        assert_eq!(query["readrights"], "");
        let mut all_query_subs = std::collections::HashSet::new();
        for (group, expect) in [
            ("prop", QUERY_PROP),
            ("list", QUERY_LIST),
            ("meta", QUERY_META),
        ] {
            let p = param(query, group);
            assert_eq!(p["limit"], 50);
            assert_eq!(p["multi"], "");
            let subs = p["submodules"].as_object().unwrap();
            assert_eq!(subs.keys().map(String::as_str).collect::<Vec<_>>(), expect);
            for (k, v) in subs {
                assert_eq!(v.as_str().unwrap(), format!("query+{k}"));
                all_query_subs.insert(k.clone());
            }
        }
        let generator = param(query, "generator");
        assert_eq!(generator["submoduleparamprefix"], "g");
        for g in generator["type"].as_array().unwrap() {
            assert!(all_query_subs.contains(g.as_str().unwrap()), "{g}");
        }
        assert_eq!(
            generator["type"],
            json!(["allimages", "allpages", "duplicatefiles"])
        );

        // Every advertised module can be described.
        for a in ACTIONS {
            assert!(resolve(a).is_ok(), "{a}");
        }
        for s in QUERY_PROP.iter().chain(QUERY_LIST).chain(QUERY_META) {
            let m = resolve(&format!("query+{s}")).unwrap();
            assert_eq!(m.name, *s);
        }
        for f in FORMATS {
            assert!(resolve(f).is_ok(), "{f}");
        }
        // Generators carry the flag, other query modules don't.
        for m in MODULES {
            assert_eq!(
                m.flags.generator,
                m.path.starts_with("query+") && QUERY_GENERATORS.contains(&m.name),
                "{}",
                m.path
            );
        }
    }

    #[test]
    fn high_limits_raise_multi_limit() {
        let ctx = ParamInfoContext {
            high_limits: true,
            ..CTX
        };
        let (got, _) = paraminfo(&names("query"), &ctx, true);
        assert_eq!(param(&got["modules"][0], "prop")["limit"], 500);
    }

    #[test]
    fn unknown_modules_warn() {
        let (got, warnings) = paraminfo(
            &names("nonexistent|query+bogus|upload+x|query+tokens|query+tokens"),
            &CTX,
            false,
        );
        assert_eq!(
            warnings,
            [
                "The module \"main\" does not have a submodule \"nonexistent\".",
                "The module \"query\" does not have a submodule \"bogus\".",
                "The module \"upload\" has no submodules.",
            ]
        );
        let mods = got["modules"].as_array().unwrap();
        assert_eq!(mods.len(), 1);
        assert_eq!(mods[0]["path"], "query+tokens");
        let (got, warnings) = paraminfo(&names("nothing"), &CTX, true);
        assert_eq!(got, json!({"helpformat": "none"}));
        assert_eq!(warnings.len(), 1);
        let (_, warnings) = paraminfo(&names("upload+*"), &CTX, true);
        assert_eq!(warnings, ["The module \"upload\" has no submodules."]);
    }

    #[test]
    fn wildcards_and_spaces() {
        let (got, warnings) = paraminfo(&names("query+*"), &CTX, true);
        assert!(warnings.is_empty());
        let paths: Vec<&str> = got["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"].as_str().unwrap())
            .collect();
        let mut want: Vec<String> = QUERY_PROP
            .iter()
            .chain(QUERY_LIST)
            .chain(QUERY_META)
            .map(|s| format!("query+{s}"))
            .collect();
        want.sort();
        assert_eq!(paths, want);
        let (got, _) = paraminfo(&names("**"), &CTX, true);
        assert_eq!(got["modules"].as_array().unwrap().len(), MODULES.len() - 1);
        let (got, _) = paraminfo(&names("query tokens"), &CTX, true);
        assert_eq!(got["modules"][0]["path"], "query+tokens");
    }

    #[test]
    fn token_modules_and_other_shapes() {
        let (got, _) = paraminfo(
            &names("clientlogin|logout|delete|undelete|query+siteinfo"),
            &CTX,
            true,
        );
        let mods = got["modules"].as_array().unwrap();
        assert_eq!(param(&mods[0], "token")["tokentype"], "login");
        assert_eq!(mods[0]["prefix"], "login");
        assert_eq!(mods[0]["dynamicparameters"], true);
        assert_eq!(param(&mods[1], "token")["tokentype"], "csrf");
        assert_eq!(mods[1]["mustbeposted"], true);
        assert_eq!(param(&mods[2], "token")["tokentype"], "csrf");
        assert_eq!(
            param(&mods[2], "watchlist")["type"],
            json!(["nochange", "preferences", "unwatch", "watch"])
        );
        assert_eq!(param(&mods[3], "title")["required"], true);
        let siprop = param(&mods[4], "prop");
        assert_eq!(
            siprop["type"].as_array().unwrap().len(),
            crate::query::siteinfo::SIPROPS.len()
        );
        assert_eq!(siprop["default"], "general");
        // Module flags order: readrights, writerights, mustbeposted.
        let keys: Vec<&str> = mods[2]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
        assert!(pos("readrights") < pos("writerights") && pos("writerights") < pos("mustbeposted"));
        assert!(pos("mustbeposted") < pos("helpurls"));
        // Parameter names are unique in each module.
        for m in MODULES {
            let mut seen = std::collections::HashSet::new();
            for p in m.params {
                assert!(seen.insert(p.name), "{} {}", m.path, p.name);
            }
            assert_eq!(
                m.param("token").is_some() && m.token.is_some(),
                m.token.is_some()
            );
        }
    }
}
