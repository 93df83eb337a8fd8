//! `action=query&meta=siteinfo` and `meta=filerepoinfo`: the site description clients read at
//! start-up (generator version, upload limits, namespaces, file extensions, ...).
//!
//! Output mirrors MediaWiki 1.39 key for key and in the same order, for both format versions:
//! in `formatversion=1` booleans are `""` when true and left out when false (except
//! `variantarticlepath`, which stays `false`), "content" values such as a namespace's name go
//! under `*` at the end of their object, and `thumblimits`/`imagelimits` are arrays; in
//! `formatversion=2` booleans are real booleans and those two are objects keyed `"0"`, `"1"`, ...

use std::collections::HashMap;

use mwstore_domain::config::Config;
use serde_json::{json, Map, Value};

/// `general.generator`. Clients parse the version after `"MediaWiki "` (mwclient needs >= 1.24,
/// pywikibot >= 1.31), so this is the MediaWiki release whose API is reproduced.
pub const GENERATOR: &str = "MediaWiki 1.39.17";

/// Every `siprop` value, in MediaWiki's order.
pub const SIPROPS: &[&str] = &[
    "general",
    "namespaces",
    "namespacealiases",
    "specialpagealiases",
    "magicwords",
    "interwikimap",
    "dbrepllag",
    "statistics",
    "usergroups",
    "libraries",
    "extensions",
    "fileextensions",
    "rightsinfo",
    "restrictions",
    "languages",
    "languagevariants",
    "skins",
    "extensiontags",
    "functionhooks",
    "showhooks",
    "variables",
    "protocols",
    "defaultoptions",
    "uploaddialog",
];

/// Every `friprop` value of `meta=filerepoinfo`, in output order (also the default).
pub const FILEREPO_PROPS: &[&str] = &[
    "name",
    "displayname",
    "rootUrl",
    "local",
    "url",
    "thumbUrl",
    "initialCapital",
    "scriptDirUrl",
    "favicon",
    "canUpload",
];

/// Site-wide counters (`site_stats`), as `siprop=statistics` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteStats {
    /// All pages.
    pub pages: u64,
    /// Content pages.
    pub articles: u64,
    /// Revisions.
    pub edits: u64,
    /// Current files.
    pub images: u64,
    /// Registered users.
    pub users: u64,
    /// Users active in the last 30 days.
    pub activeusers: u64,
    /// Members of `sysop`.
    pub admins: u64,
    /// Queued jobs.
    pub jobs: u64,
}

/// Everything the site description depends on besides the request.
#[derive(Debug, Clone)]
pub struct SiteContext<'a> {
    /// The configuration in force.
    pub config: &'a Config,
    /// Public base URL without trailing slash, e.g. `http://127.0.0.1:8080`.
    pub server: &'a str,
    /// Script path, e.g. `/w` (`api.php` and `index.php` live under it).
    pub script_path: &'a str,
    /// SQLite version string.
    pub db_version: &'a str,
    /// Counters from the database.
    pub stats: SiteStats,
    /// The current time (`general.time`).
    pub now: chrono::DateTime<chrono::Utc>,
    /// Groups → rights actually in force (after config merge), in MediaWiki's order.
    pub usergroups: Vec<(String, Vec<String>)>,
    /// Members per explicit group, for `sinumberingroup` (absent groups count 0; `user` uses
    /// `stats.users`, and `*` and `autoconfirmed` have no count).
    pub group_member_counts: HashMap<String, u64>,
}

/// Builds one JSON object the way MediaWiki's result formatter would for the chosen format
/// version.
struct Obj {
    map: Map<String, Value>,
    fv2: bool,
    content: Option<(String, Value)>,
}

impl Obj {
    fn new(fv2: bool) -> Self {
        Obj {
            map: Map::new(),
            fv2,
            content: None,
        }
    }

    /// A plain value.
    fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.map.insert(key.to_owned(), value.into());
        self
    }

    /// A boolean: `true`/`false` in fv2, `""`/absent in fv1.
    fn flag(&mut self, key: &str, value: bool) -> &mut Self {
        if self.fv2 {
            self.map.insert(key.to_owned(), Value::Bool(value));
        } else if value {
            self.map
                .insert(key.to_owned(), Value::String(String::new()));
        }
        self
    }

    /// The object's content value: under `key` in place in fv2, under `*` at the end in fv1.
    fn content(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        if self.fv2 {
            self.map.insert(key.to_owned(), value.into());
        } else {
            self.content = Some(("*".to_owned(), value.into()));
        }
        self
    }

    fn build(&mut self) -> Value {
        let mut map = std::mem::take(&mut self.map);
        if let Some((k, v)) = self.content.take() {
            map.insert(k, v);
        }
        Value::Object(map)
    }
}

fn for_fv(value: Value, fv2: bool) -> Value {
    if fv2 {
        value
    } else {
        crate::http::output::to_fv1(value)
    }
}

fn strings(list: &[&str]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| Value::String((*s).to_owned()))
            .collect(),
    )
}

/// The host part of the server URL (`general.servername`).
fn server_name(server: &str) -> String {
    match url::Url::parse(server) {
        Ok(u) => u.host_str().unwrap_or_default().to_owned(),
        Err(_) => {
            let rest = server.split_once("//").map_or(server, |(_, r)| r);
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            // Drop a port, keeping bracketed IPv6 literals whole.
            match host.rfind(':') {
                Some(i) if !host[i..].contains(']') => host[..i].to_owned(),
                _ => host.to_owned(),
            }
        }
    }
}

const THUMB_LIMITS: &[u64] = &[120, 150, 180, 200, 250, 300];
const IMAGE_LIMITS: &[(u64, u64)] = &[
    (320, 240),
    (640, 480),
    (800, 600),
    (1024, 768),
    (1280, 1024),
    (2560, 2048),
];

/// A list in fv1, an object keyed by index in fv2 (how MediaWiki serialises these two).
fn indexed(items: Vec<Value>, fv2: bool) -> Value {
    if fv2 {
        Value::Object(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        )
    } else {
        Value::Array(items)
    }
}

fn general(ctx: &SiteContext, fv2: bool) -> Value {
    let cfg = ctx.config;
    let server = ctx.server;
    let sp = ctx.script_path;
    let mut o = Obj::new(fv2);
    o.set("mainpage", "Main Page")
        .set("base", format!("{server}{sp}/index.php?title=Main_Page"))
        .set("sitename", cfg.sitename.as_str())
        .flag("mainpageisdomainroot", false)
        .set(
            "logo",
            format!("{server}{sp}/resources/assets/change-your-logo.svg"),
        )
        .set("generator", GENERATOR)
        .set("phpversion", "n/a")
        .set("phpsapi", "mwstore")
        .set("dbtype", "sqlite")
        .set("dbversion", ctx.db_version)
        .flag("imagewhitelistenabled", false)
        .flag("langconversion", true)
        .flag("linkconversion", true)
        .flag("titleconversion", true)
        .set("linkprefixcharset", "")
        .set("linkprefix", "")
        .set("linktrail", "/^([a-z]+)(.*)$/sD")
        .set(
            "legaltitlechars",
            r#" %!"$&'()*,\-.\/0-9:;=?@A-Z\\^_`a-z~\x80-\xFF+"#,
        )
        .set("invalidusernamechars", "@:>")
        .flag("allunicodefixes", false)
        .flag("fixarabicunicode", true)
        .flag("fixmalayalamunicode", true)
        .set("case", "first-letter")
        .set("lang", "en")
        .set("fallback", Value::Array(Vec::new()))
        .flag("rtl", false)
        .set("fallback8bitEncoding", "windows-1252")
        .flag("readonly", false)
        .flag("writeapi", true)
        .set("maxarticlesize", cfg.max_article_size.saturating_mul(1024))
        .set("timezone", "UTC")
        .set("timeoffset", 0)
        .set("articlepath", format!("{sp}/index.php?title=$1"))
        .set("scriptpath", sp)
        .set("script", format!("{sp}/index.php"))
        // A real `false` in both format versions.
        .set("variantarticlepath", false)
        .set("server", server)
        .set("servername", server_name(server))
        .set("wikiid", cfg.cookie_prefix.as_str())
        .set("time", ctx.now.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .flag("misermode", false)
        .flag("uploadsenabled", cfg.enable_uploads)
        .set("maxuploadsize", cfg.max_upload_size)
        .set("minuploadchunksize", cfg.min_upload_chunk_size);
    let mut gallery = Obj::new(fv2);
    gallery
        .set("imagesPerRow", 0)
        .set("imageWidth", 120)
        .set("imageHeight", 120)
        .flag("captionLength", true)
        .flag("showBytes", true)
        .flag("showDimensions", true)
        .set("mode", "traditional");
    o.set("galleryoptions", gallery.build());
    let thumbs = THUMB_LIMITS.iter().map(|w| json!(w)).collect();
    o.set("thumblimits", indexed(thumbs, fv2));
    let images = IMAGE_LIMITS
        .iter()
        .map(|(w, h)| json!({"width": w, "height": h}))
        .collect();
    o.set("imagelimits", indexed(images, fv2));
    o.set("favicon", format!("{server}/favicon.ico"))
        .set("centralidlookupprovider", "local")
        .set("allcentralidlookupproviders", strings(&["local"]))
        .flag("interwikimagic", true);
    // All three magic links are off: fv1 drops every false member, leaving an empty list.
    let magiclinks = if fv2 {
        json!({"ISBN": false, "PMID": false, "RFC": false})
    } else {
        Value::Array(Vec::new())
    };
    o.set("magiclinks", magiclinks)
        .set("categorycollation", "uppercase")
        .flag("nofollowlinks", true)
        .set("nofollownsexceptions", Value::Array(Vec::new()))
        .set("nofollowdomainexceptions", strings(&["mediawiki.org"]))
        .flag("externallinktarget", false);
    o.build()
}

/// (id, canonical name, subpages, content, namespace protection right).
const NAMESPACES: &[(i64, &str, bool, bool, Option<&str>)] = &[
    (-2, "Media", false, false, None),
    (-1, "Special", false, false, None),
    (0, "", false, true, None),
    (1, "Talk", true, false, None),
    (2, "User", true, false, None),
    (3, "User talk", true, false, None),
    (4, "Project", true, false, None),
    (5, "Project talk", true, false, None),
    (6, "File", false, false, None),
    (7, "File talk", true, false, None),
    (8, "MediaWiki", true, false, Some("editinterface")),
    (9, "MediaWiki talk", true, false, None),
    (10, "Template", true, false, None),
    (11, "Template talk", true, false, None),
    (12, "Help", true, false, None),
    (13, "Help talk", true, false, None),
    (14, "Category", false, false, None),
    (15, "Category talk", true, false, None),
];

fn namespaces(ctx: &SiteContext, fv2: bool) -> Value {
    let sitename = ctx.config.sitename.as_str();
    let mut out = Map::new();
    for &(id, canonical, subpages, content, protection) in NAMESPACES {
        let name = match id {
            4 => sitename.to_owned(),
            5 => format!("{sitename} talk"),
            _ => canonical.to_owned(),
        };
        let mut o = Obj::new(fv2);
        o.set("id", id)
            .set("case", "first-letter")
            .content("name", name)
            .flag("subpages", subpages);
        if !canonical.is_empty() {
            o.set("canonical", canonical);
        }
        o.flag("content", content).flag("nonincludable", false);
        if let Some(p) = protection {
            o.set("namespaceprotection", p);
        }
        out.insert(id.to_string(), o.build());
    }
    Value::Object(out)
}

fn namespacealiases(fv2: bool) -> Value {
    let list = [(6, "Image"), (7, "Image talk")]
        .iter()
        .map(|&(id, alias)| Obj::new(fv2).set("id", id).content("alias", alias).build())
        .collect();
    Value::Array(list)
}

fn specialpagealiases() -> Value {
    let rows: &[(&str, &[&str])] = &[
        ("BotPasswords", &["BotPasswords"]),
        ("ListFiles", &["ListFiles", "ListImages", "ImageList"]),
        ("Log", &["Log", "Logs"]),
        ("Undelete", &["Undelete"]),
        ("Upload", &["Upload"]),
        ("UploadStash", &["UploadStash"]),
        ("Version", &["Version"]),
    ];
    Value::Array(
        rows.iter()
            .map(|(real, aliases)| json!({"realname": real, "aliases": strings(aliases)}))
            .collect(),
    )
}

/// (name, aliases, case-sensitive): a selection of the core magic words.
const MAGIC_WORDS: &[(&str, &[&str], bool)] = &[
    ("!", &["!"], true),
    ("=", &["="], true),
    (
        "defaultsort",
        &["DEFAULTSORT:", "DEFAULTSORTKEY:", "DEFAULTCATEGORYSORT:"],
        true,
    ),
    ("displaytitle", &["DISPLAYTITLE"], true),
    ("img_alt", &["alt=$1"], true),
    ("img_baseline", &["baseline"], true),
    ("img_border", &["border"], true),
    ("img_center", &["center", "centre"], true),
    ("img_framed", &["frame", "framed", "enframed"], true),
    ("img_frameless", &["frameless"], true),
    ("img_left", &["left"], true),
    ("img_link", &["link=$1"], true),
    ("img_manualthumb", &["thumbnail=$1", "thumb=$1"], true),
    ("img_none", &["none"], true),
    ("img_page", &["page=$1", "page $1"], true),
    ("img_right", &["right"], true),
    ("img_thumbnail", &["thumb", "thumbnail"], true),
    (
        "img_upright",
        &["upright", "upright=$1", "upright $1"],
        true,
    ),
    ("img_width", &["$1px"], true),
    ("notoc", &["__NOTOC__"], false),
    ("pagename", &["PAGENAME"], true),
    ("redirect", &["#REDIRECT"], false),
    ("scriptpath", &["SCRIPTPATH"], false),
    ("server", &["SERVER"], false),
    ("servername", &["SERVERNAME"], false),
    ("sitename", &["SITENAME"], true),
];

fn magicwords(fv2: bool) -> Value {
    let list = MAGIC_WORDS
        .iter()
        .map(|&(name, aliases, cs)| {
            Obj::new(fv2)
                .set("name", name)
                .set("aliases", strings(aliases))
                .flag("case-sensitive", cs)
                .build()
        })
        .collect();
    Value::Array(list)
}

fn statistics(s: &SiteStats) -> Value {
    json!({
        "pages": s.pages,
        "articles": s.articles,
        "edits": s.edits,
        "images": s.images,
        "users": s.users,
        "activeusers": s.activeusers,
        "admins": s.admins,
        "jobs": s.jobs,
    })
}

fn usergroups(ctx: &SiteContext, numberingroup: bool) -> Value {
    let list = ctx
        .usergroups
        .iter()
        .map(|(name, rights)| {
            let mut o = Map::new();
            o.insert("name".into(), Value::String(name.clone()));
            o.insert(
                "rights".into(),
                Value::Array(rights.iter().map(|r| Value::String(r.clone())).collect()),
            );
            if numberingroup {
                // `*` and the automatically granted group have no membership count.
                let number = match name.as_str() {
                    "*" | "autoconfirmed" => None,
                    "user" => Some(ctx.stats.users),
                    g => Some(ctx.group_member_counts.get(g).copied().unwrap_or(0)),
                };
                if let Some(n) = number {
                    o.insert("number".into(), Value::from(n));
                }
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(list)
}

fn fileextensions(cfg: &Config) -> Value {
    let mut seen = std::collections::HashSet::new();
    let list = cfg
        .file_extensions
        .iter()
        .filter(|e| seen.insert(e.as_str()))
        .map(|e| json!({"ext": e}))
        .collect();
    Value::Array(list)
}

fn restrictions() -> Value {
    json!({
        "types": ["create", "edit", "move", "upload"],
        "levels": ["", "autoconfirmed", "sysop"],
        "cascadinglevels": ["sysop"],
        "semiprotectedlevels": ["autoconfirmed"],
    })
}

fn languages(fv2: bool) -> Value {
    Value::Array(vec![Obj::new(fv2)
        .set("code", "en")
        .set("bcp47", "en")
        .content("name", "English")
        .build()])
}

fn skins(fv2: bool) -> Value {
    // (code, display name, usable, default)
    let rows = [
        ("vector-2022", "Vector (2022)", true, false),
        ("vector", "Vector legacy (2010)", true, true),
        ("fallback", "Fallback", false, false),
        ("apioutput", "ApiOutput", false, false),
    ];
    let list = rows
        .iter()
        .map(|&(code, name, usable, default)| {
            let mut o = Obj::new(fv2);
            o.set("code", code).content("name", name);
            if !usable {
                o.flag("unusable", true);
            }
            if default {
                o.flag("default", true);
            }
            o.build()
        })
        .collect();
    Value::Array(list)
}

/// A default user option value.
#[derive(Clone, Copy)]
enum Opt {
    I(i64),
    S(&'static str),
    B(bool),
}

/// MediaWiki's default user options, in its order (the per-language `variant-*` entries for
/// languages other than English are left out).
const DEFAULT_OPTIONS: &[(&str, Opt)] = &[
    ("ccmeonemails", Opt::I(0)),
    ("date", Opt::S("default")),
    ("diffonly", Opt::I(0)),
    ("disablemail", Opt::I(0)),
    ("editfont", Opt::S("monospace")),
    ("editondblclick", Opt::I(0)),
    ("editsectiononrightclick", Opt::I(0)),
    ("email-allow-new-users", Opt::I(1)),
    ("enotifminoredits", Opt::I(0)),
    ("enotifrevealaddr", Opt::I(0)),
    ("enotifusertalkpages", Opt::I(1)),
    ("enotifwatchlistpages", Opt::I(1)),
    ("extendwatchlist", Opt::I(1)),
    ("fancysig", Opt::I(0)),
    ("forceeditsummary", Opt::I(0)),
    ("gender", Opt::S("unknown")),
    ("hideminor", Opt::I(0)),
    ("hidepatrolled", Opt::I(0)),
    ("hidecategorization", Opt::I(1)),
    ("imagesize", Opt::I(2)),
    ("minordefault", Opt::I(0)),
    ("newpageshidepatrolled", Opt::I(0)),
    ("nickname", Opt::S("")),
    ("pst-cssjs", Opt::I(1)),
    ("norollbackdiff", Opt::I(0)),
    ("previewonfirst", Opt::I(0)),
    ("previewontop", Opt::I(1)),
    ("rcdays", Opt::I(7)),
    ("rcenhancedfilters-disable", Opt::I(0)),
    ("rclimit", Opt::I(50)),
    ("search-match-redirect", Opt::B(true)),
    ("search-special-page", Opt::S("Search")),
    ("searchlimit", Opt::I(20)),
    ("showhiddencats", Opt::I(0)),
    ("shownumberswatching", Opt::I(1)),
    ("showrollbackconfirmation", Opt::I(0)),
    ("skin", Opt::S("vector")),
    ("thumbsize", Opt::I(5)),
    ("underline", Opt::I(2)),
    ("uselivepreview", Opt::I(0)),
    ("usenewrc", Opt::I(1)),
    ("watchcreations", Opt::I(1)),
    ("watchdefault", Opt::I(1)),
    ("watchdeletion", Opt::I(0)),
    ("watchuploads", Opt::I(1)),
    ("watchlistdays", Opt::I(7)),
    ("watchlisthideanons", Opt::I(0)),
    ("watchlisthidebots", Opt::I(0)),
    ("watchlisthideliu", Opt::I(0)),
    ("watchlisthideminor", Opt::I(0)),
    ("watchlisthideown", Opt::I(0)),
    ("watchlisthidepatrolled", Opt::I(0)),
    ("watchlisthidecategorization", Opt::I(1)),
    ("watchlistreloadautomatically", Opt::I(0)),
    ("watchlistunwatchlinks", Opt::I(0)),
    ("watchmoves", Opt::I(0)),
    ("watchrollback", Opt::I(0)),
    ("wlenhancedfilters-disable", Opt::I(0)),
    ("wllimit", Opt::I(250)),
    ("useeditwarning", Opt::I(1)),
    ("prefershttps", Opt::I(1)),
    ("requireemail", Opt::I(0)),
    ("skin-responsive", Opt::I(1)),
    ("timecorrection", Opt::S("System|0")),
    ("language", Opt::S("en")),
    ("variant", Opt::S("en")),
    ("variant-en", Opt::S("en")),
];

fn defaultoptions(fv2: bool) -> Value {
    let mut o = Obj::new(fv2);
    for &(key, value) in DEFAULT_OPTIONS {
        match value {
            Opt::I(i) => o.set(key, i),
            Opt::S(s) => o.set(key, s),
            Opt::B(b) => o.flag(key, b),
        };
    }
    for ns in 0..=15 {
        o.set(&format!("searchNs{ns}"), i64::from(ns == 0));
    }
    o.build()
}

fn uploaddialog(fv2: bool) -> Value {
    for_fv(
        json!({
            "fields": {"description": true, "date": false, "categories": false},
            "licensemessages": {"local": "generic-local", "foreign": "generic-foreign"},
            "comment": {"local": "", "foreign": ""},
            "format": {
                "filepage": "$DESCRIPTION",
                "description": "$TEXT",
                "ownwork": "",
                "license": "",
                "uncategorized": "",
            },
        }),
        fv2,
    )
}

const EXTENSION_TAGS: &[&str] = &[
    "<pre>",
    "<nowiki>",
    "<gallery>",
    "<indicator>",
    "<langconvert>",
];

const FUNCTION_HOOKS: &[&str] = &[
    "ns",
    "nse",
    "urlencode",
    "lcfirst",
    "ucfirst",
    "lc",
    "uc",
    "localurl",
    "localurle",
    "fullurl",
    "fullurle",
    "canonicalurl",
    "canonicalurle",
    "formatnum",
    "grammar",
    "gender",
    "plural",
    "bidi",
    "numberofpages",
    "numberofusers",
    "numberofactiveusers",
    "numberofarticles",
    "numberoffiles",
    "numberofadmins",
    "numberingroup",
    "numberofedits",
    "language",
    "padleft",
    "padright",
    "anchorencode",
    "defaultsort",
    "filepath",
    "pagesincategory",
    "pagesize",
    "protectionlevel",
    "protectionexpiry",
    "namespace",
    "namespacee",
    "namespacenumber",
    "pagename",
    "pagenamee",
    "fullpagename",
    "fullpagenamee",
    "int",
    "special",
    "speciale",
    "tag",
    "formatdate",
    "displaytitle",
];

const VARIABLES: &[&str] = &[
    "!",
    "=",
    "currentmonth",
    "currentmonth1",
    "currentmonthname",
    "currentmonthnamegen",
    "currentmonthabbrev",
    "currentday",
    "currentday2",
    "currentdayname",
    "currentyear",
    "currenttime",
    "currenthour",
    "currentweek",
    "currentdow",
    "currenttimestamp",
    "numberofarticles",
    "numberoffiles",
    "numberofusers",
    "numberofactiveusers",
    "numberofpages",
    "numberofadmins",
    "numberofedits",
    "pagename",
    "pagenamee",
    "namespace",
    "namespacee",
    "namespacenumber",
    "pageid",
    "sitename",
    "server",
    "servername",
    "scriptpath",
    "stylepath",
    "contentlanguage",
    "revisionid",
    "revisiontimestamp",
    "revisionuser",
];

const PROTOCOLS: &[&str] = &[
    "bitcoin:",
    "ftp://",
    "ftps://",
    "geo:",
    "git://",
    "gopher://",
    "http://",
    "https://",
    "irc://",
    "ircs://",
    "magnet:",
    "mailto:",
    "matrix:",
    "mms://",
    "news:",
    "nntp://",
    "redis://",
    "sftp://",
    "sip:",
    "sips:",
    "sms:",
    "ssh://",
    "svn://",
    "tel:",
    "telnet://",
    "urn:",
    "worldwind://",
    "xmpp:",
    "//",
];

/// The members to put under `query` for `meta=siteinfo&siprop=...` without
/// `sinumberingroup`; see [`siteinfo_with`].
pub fn siteinfo(
    ctx: &SiteContext,
    siprops: &[String],
    fv2: bool,
) -> (Map<String, Value>, Vec<String>) {
    siteinfo_with(ctx, siprops, false, fv2)
}

/// The members to put under `query` for `meta=siteinfo&siprop=...`, in request order
/// (duplicates once), plus the `siprop` values that are not recognised (the caller warns
/// `Unrecognized value for parameter "siprop": X`). An empty `siprops` means the parameter was
/// absent and gives `general`. `numberingroup` is `sinumberingroup` (adds `number` to
/// `usergroups`).
pub fn siteinfo_with(
    ctx: &SiteContext,
    siprops: &[String],
    numberingroup: bool,
    fv2: bool,
) -> (Map<String, Value>, Vec<String>) {
    let default = ["general".to_owned()];
    let props = if siprops.is_empty() {
        &default[..]
    } else {
        siprops
    };
    let mut out = Map::new();
    let mut unknown: Vec<String> = Vec::new();
    for p in props {
        if out.contains_key(p.as_str()) || unknown.contains(p) {
            continue;
        }
        let value = match p.as_str() {
            "general" => general(ctx, fv2),
            "namespaces" => namespaces(ctx, fv2),
            "namespacealiases" => namespacealiases(fv2),
            "specialpagealiases" => specialpagealiases(),
            "magicwords" => magicwords(fv2),
            "interwikimap" => Value::Array(Vec::new()),
            "dbrepllag" => json!([{"host": "", "lag": 0}]),
            "statistics" => statistics(&ctx.stats),
            "usergroups" => usergroups(ctx, numberingroup),
            "libraries" => Value::Array(Vec::new()),
            "extensions" => Value::Array(Vec::new()),
            "fileextensions" => fileextensions(ctx.config),
            "rightsinfo" => json!({"url": "", "text": ""}),
            "restrictions" => restrictions(),
            "languages" => languages(fv2),
            "languagevariants" => Value::Object(Map::new()),
            "skins" => skins(fv2),
            "extensiontags" => strings(EXTENSION_TAGS),
            "functionhooks" => strings(FUNCTION_HOOKS),
            "showhooks" => Value::Array(Vec::new()),
            "variables" => strings(VARIABLES),
            "protocols" => strings(PROTOCOLS),
            "defaultoptions" => defaultoptions(fv2),
            "uploaddialog" => uploaddialog(fv2),
            _ => {
                unknown.push(p.clone());
                continue;
            }
        };
        out.insert(p.clone(), value);
    }
    (out, unknown)
}

/// `meta=filerepoinfo` without `friprop`: the value of `query.repos`.
pub fn filerepoinfo(ctx: &SiteContext, fv2: bool) -> Value {
    filerepoinfo_props(ctx, &[], fv2).0
}

/// `meta=filerepoinfo`: the value of `query.repos` (the local repository only), restricted to
/// `friprop` (empty = all of [`FILEREPO_PROPS`]), plus the `friprop` values not recognised.
pub fn filerepoinfo_props(
    ctx: &SiteContext,
    friprop: &[String],
    fv2: bool,
) -> (Value, Vec<String>) {
    let unknown: Vec<String> = friprop
        .iter()
        .filter(|p| !FILEREPO_PROPS.contains(&p.as_str()))
        .fold(Vec::new(), |mut acc, p| {
            if !acc.contains(p) {
                acc.push(p.clone());
            }
            acc
        });
    let wanted = |k: &str| friprop.is_empty() || friprop.iter().any(|p| p == k);
    let sp = ctx.script_path;
    let images = format!("{sp}/images");
    let mut o = Obj::new(fv2);
    for &key in FILEREPO_PROPS {
        if !wanted(key) {
            continue;
        }
        match key {
            "name" => o.set(key, "local"),
            "displayname" => o.set(key, ctx.config.sitename.as_str()),
            "rootUrl" | "url" => o.set(key, images.as_str()),
            "local" | "initialCapital" => o.flag(key, true),
            "thumbUrl" => o.set(key, format!("{images}/thumb")),
            "scriptDirUrl" => o.set(key, sp),
            "favicon" => o.set(key, format!("{}/favicon.ico", ctx.server)),
            _ => o.flag(key, ctx.config.enable_uploads),
        };
    }
    (Value::Array(vec![o.build()]), unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn anchor_config() -> Config {
        Config {
            sitename: "Anchor Wiki".into(),
            cookie_prefix: "anchorwiki".into(),
            max_upload_size: 4_294_967_296,
            file_extensions: [
                "png", "gif", "jpg", "jpeg", "webp", "svg", "pdf", "tif", "tiff", "ogg", "oga",
                "ogv", "opus", "flac", "wav", "webm", "mp3", "mpg", "mpeg", "mid", "midi", "xcf",
                "png",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            ..Config::default()
        }
    }

    fn groups() -> Vec<(String, Vec<String>)> {
        let v: Value = serde_json::from_str(USERGROUPS_TX).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let rights = g["rights"].as_array().unwrap();
                (
                    g["name"].as_str().unwrap().to_owned(),
                    rights
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect()
    }

    fn ctx(cfg: &Config) -> SiteContext<'_> {
        SiteContext {
            config: cfg,
            server: "http://127.0.0.1:8081",
            script_path: "/w",
            db_version: "3.40.1",
            stats: SiteStats {
                pages: 33,
                articles: 0,
                edits: 33,
                images: 32,
                users: 7,
                activeusers: 3,
                admins: 1,
                jobs: 0,
            },
            now: chrono::Utc
                .with_ymd_and_hms(2026, 11, 21, 4, 37, 47)
                .unwrap(),
            usergroups: groups(),
            group_member_counts: [
                ("sysop".to_owned(), 1),
                ("interface-admin".to_owned(), 1),
                ("bureaucrat".to_owned(), 1),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn props(s: &str) -> Vec<String> {
        s.split('|').map(str::to_owned).collect()
    }

    /// The transcript's `query` for `siprop=general|namespaces|namespacealiases|
    /// fileextensions|restrictions|statistics`, fv1 (11-siteinfo.json, step 1).
    const TX_FV1: &str = r#"{"general": {"mainpage": "Main Page", "base": "http://127.0.0.1:8081/w/index.php?title=Main_Page", "sitename": "Anchor Wiki", "logo": "http://127.0.0.1:8081/w/resources/assets/change-your-logo.svg", "generator": "MediaWiki 1.39.17", "phpversion": "8.2.35", "phpsapi": "fpm-fcgi", "dbtype": "sqlite", "dbversion": "3.40.1", "langconversion": "", "linkconversion": "", "titleconversion": "", "linkprefixcharset": "", "linkprefix": "", "linktrail": "/^([a-z]+)(.*)$/sD", "legaltitlechars": " %!\"$&'()*,\\-.\\/0-9:;=?@A-Z\\\\^_`a-z~\\x80-\\xFF+", "invalidusernamechars": "@:>", "fixarabicunicode": "", "fixmalayalamunicode": "", "case": "first-letter", "lang": "en", "fallback": [], "fallback8bitEncoding": "windows-1252", "writeapi": "", "maxarticlesize": 2097152, "timezone": "UTC", "timeoffset": 0, "articlepath": "/w/index.php?title=$1", "scriptpath": "/w", "script": "/w/index.php", "variantarticlepath": false, "server": "http://127.0.0.1:8081", "servername": "127.0.0.1", "wikiid": "anchorwiki", "time": "2026-11-21T04:37:47Z", "uploadsenabled": "", "maxuploadsize": 4294967296, "minuploadchunksize": 1024, "galleryoptions": {"imagesPerRow": 0, "imageWidth": 120, "imageHeight": 120, "captionLength": "", "showBytes": "", "showDimensions": "", "mode": "traditional"}, "thumblimits": [120, 150, 180, 200, 250, 300], "imagelimits": [{"width": 320, "height": 240}, {"width": 640, "height": 480}, {"width": 800, "height": 600}, {"width": 1024, "height": 768}, {"width": 1280, "height": 1024}, {"width": 2560, "height": 2048}], "favicon": "http://127.0.0.1:8081/favicon.ico", "centralidlookupprovider": "local", "allcentralidlookupproviders": ["local"], "interwikimagic": "", "magiclinks": [], "categorycollation": "uppercase", "nofollowlinks": "", "nofollownsexceptions": [], "nofollowdomainexceptions": ["mediawiki.org"]}, "namespaces": {"-2": {"id": -2, "case": "first-letter", "canonical": "Media", "*": "Media"}, "-1": {"id": -1, "case": "first-letter", "canonical": "Special", "*": "Special"}, "0": {"id": 0, "case": "first-letter", "content": "", "*": ""}, "1": {"id": 1, "case": "first-letter", "subpages": "", "canonical": "Talk", "*": "Talk"}, "2": {"id": 2, "case": "first-letter", "subpages": "", "canonical": "User", "*": "User"}, "3": {"id": 3, "case": "first-letter", "subpages": "", "canonical": "User talk", "*": "User talk"}, "4": {"id": 4, "case": "first-letter", "subpages": "", "canonical": "Project", "*": "Anchor Wiki"}, "5": {"id": 5, "case": "first-letter", "subpages": "", "canonical": "Project talk", "*": "Anchor Wiki talk"}, "6": {"id": 6, "case": "first-letter", "canonical": "File", "*": "File"}, "7": {"id": 7, "case": "first-letter", "subpages": "", "canonical": "File talk", "*": "File talk"}, "8": {"id": 8, "case": "first-letter", "subpages": "", "canonical": "MediaWiki", "namespaceprotection": "editinterface", "*": "MediaWiki"}, "9": {"id": 9, "case": "first-letter", "subpages": "", "canonical": "MediaWiki talk", "*": "MediaWiki talk"}, "10": {"id": 10, "case": "first-letter", "subpages": "", "canonical": "Template", "*": "Template"}, "11": {"id": 11, "case": "first-letter", "subpages": "", "canonical": "Template talk", "*": "Template talk"}, "12": {"id": 12, "case": "first-letter", "subpages": "", "canonical": "Help", "*": "Help"}, "13": {"id": 13, "case": "first-letter", "subpages": "", "canonical": "Help talk", "*": "Help talk"}, "14": {"id": 14, "case": "first-letter", "canonical": "Category", "*": "Category"}, "15": {"id": 15, "case": "first-letter", "subpages": "", "canonical": "Category talk", "*": "Category talk"}}, "namespacealiases": [{"id": 6, "*": "Image"}, {"id": 7, "*": "Image talk"}], "fileextensions": [{"ext": "png"}, {"ext": "gif"}, {"ext": "jpg"}, {"ext": "jpeg"}, {"ext": "webp"}, {"ext": "svg"}, {"ext": "pdf"}, {"ext": "tif"}, {"ext": "tiff"}, {"ext": "ogg"}, {"ext": "oga"}, {"ext": "ogv"}, {"ext": "opus"}, {"ext": "flac"}, {"ext": "wav"}, {"ext": "webm"}, {"ext": "mp3"}, {"ext": "mpg"}, {"ext": "mpeg"}, {"ext": "mid"}, {"ext": "midi"}, {"ext": "xcf"}], "restrictions": {"types": ["create", "edit", "move", "upload"], "levels": ["", "autoconfirmed", "sysop"], "cascadinglevels": ["sysop"], "semiprotectedlevels": ["autoconfirmed"]}, "statistics": {"pages": 33, "articles": 0, "edits": 33, "images": 32, "users": 7, "activeusers": 3, "admins": 1, "jobs": 0}}"#;

    /// The same request with formatversion=2 (step 2).
    const TX_FV2: &str = r#"{"general": {"mainpage": "Main Page", "base": "http://127.0.0.1:8081/w/index.php?title=Main_Page", "sitename": "Anchor Wiki", "mainpageisdomainroot": false, "logo": "http://127.0.0.1:8081/w/resources/assets/change-your-logo.svg", "generator": "MediaWiki 1.39.17", "phpversion": "8.2.35", "phpsapi": "fpm-fcgi", "dbtype": "sqlite", "dbversion": "3.40.1", "imagewhitelistenabled": false, "langconversion": true, "linkconversion": true, "titleconversion": true, "linkprefixcharset": "", "linkprefix": "", "linktrail": "/^([a-z]+)(.*)$/sD", "legaltitlechars": " %!\"$&'()*,\\-.\\/0-9:;=?@A-Z\\\\^_`a-z~\\x80-\\xFF+", "invalidusernamechars": "@:>", "allunicodefixes": false, "fixarabicunicode": true, "fixmalayalamunicode": true, "case": "first-letter", "lang": "en", "fallback": [], "rtl": false, "fallback8bitEncoding": "windows-1252", "readonly": false, "writeapi": true, "maxarticlesize": 2097152, "timezone": "UTC", "timeoffset": 0, "articlepath": "/w/index.php?title=$1", "scriptpath": "/w", "script": "/w/index.php", "variantarticlepath": false, "server": "http://127.0.0.1:8081", "servername": "127.0.0.1", "wikiid": "anchorwiki", "time": "2026-11-21T04:37:47Z", "misermode": false, "uploadsenabled": true, "maxuploadsize": 4294967296, "minuploadchunksize": 1024, "galleryoptions": {"imagesPerRow": 0, "imageWidth": 120, "imageHeight": 120, "captionLength": true, "showBytes": true, "showDimensions": true, "mode": "traditional"}, "thumblimits": {"0": 120, "1": 150, "2": 180, "3": 200, "4": 250, "5": 300}, "imagelimits": {"0": {"width": 320, "height": 240}, "1": {"width": 640, "height": 480}, "2": {"width": 800, "height": 600}, "3": {"width": 1024, "height": 768}, "4": {"width": 1280, "height": 1024}, "5": {"width": 2560, "height": 2048}}, "favicon": "http://127.0.0.1:8081/favicon.ico", "centralidlookupprovider": "local", "allcentralidlookupproviders": ["local"], "interwikimagic": true, "magiclinks": {"ISBN": false, "PMID": false, "RFC": false}, "categorycollation": "uppercase", "nofollowlinks": true, "nofollownsexceptions": [], "nofollowdomainexceptions": ["mediawiki.org"], "externallinktarget": false}, "namespaces": {"-2": {"id": -2, "case": "first-letter", "name": "Media", "subpages": false, "canonical": "Media", "content": false, "nonincludable": false}, "-1": {"id": -1, "case": "first-letter", "name": "Special", "subpages": false, "canonical": "Special", "content": false, "nonincludable": false}, "0": {"id": 0, "case": "first-letter", "name": "", "subpages": false, "content": true, "nonincludable": false}, "1": {"id": 1, "case": "first-letter", "name": "Talk", "subpages": true, "canonical": "Talk", "content": false, "nonincludable": false}, "2": {"id": 2, "case": "first-letter", "name": "User", "subpages": true, "canonical": "User", "content": false, "nonincludable": false}, "3": {"id": 3, "case": "first-letter", "name": "User talk", "subpages": true, "canonical": "User talk", "content": false, "nonincludable": false}, "4": {"id": 4, "case": "first-letter", "name": "Anchor Wiki", "subpages": true, "canonical": "Project", "content": false, "nonincludable": false}, "5": {"id": 5, "case": "first-letter", "name": "Anchor Wiki talk", "subpages": true, "canonical": "Project talk", "content": false, "nonincludable": false}, "6": {"id": 6, "case": "first-letter", "name": "File", "subpages": false, "canonical": "File", "content": false, "nonincludable": false}, "7": {"id": 7, "case": "first-letter", "name": "File talk", "subpages": true, "canonical": "File talk", "content": false, "nonincludable": false}, "8": {"id": 8, "case": "first-letter", "name": "MediaWiki", "subpages": true, "canonical": "MediaWiki", "content": false, "nonincludable": false, "namespaceprotection": "editinterface"}, "9": {"id": 9, "case": "first-letter", "name": "MediaWiki talk", "subpages": true, "canonical": "MediaWiki talk", "content": false, "nonincludable": false}, "10": {"id": 10, "case": "first-letter", "name": "Template", "subpages": true, "canonical": "Template", "content": false, "nonincludable": false}, "11": {"id": 11, "case": "first-letter", "name": "Template talk", "subpages": true, "canonical": "Template talk", "content": false, "nonincludable": false}, "12": {"id": 12, "case": "first-letter", "name": "Help", "subpages": true, "canonical": "Help", "content": false, "nonincludable": false}, "13": {"id": 13, "case": "first-letter", "name": "Help talk", "subpages": true, "canonical": "Help talk", "content": false, "nonincludable": false}, "14": {"id": 14, "case": "first-letter", "name": "Category", "subpages": false, "canonical": "Category", "content": false, "nonincludable": false}, "15": {"id": 15, "case": "first-letter", "name": "Category talk", "subpages": true, "canonical": "Category talk", "content": false, "nonincludable": false}}, "namespacealiases": [{"id": 6, "alias": "Image"}, {"id": 7, "alias": "Image talk"}], "fileextensions": [{"ext": "png"}, {"ext": "gif"}, {"ext": "jpg"}, {"ext": "jpeg"}, {"ext": "webp"}, {"ext": "svg"}, {"ext": "pdf"}, {"ext": "tif"}, {"ext": "tiff"}, {"ext": "ogg"}, {"ext": "oga"}, {"ext": "ogv"}, {"ext": "opus"}, {"ext": "flac"}, {"ext": "wav"}, {"ext": "webm"}, {"ext": "mp3"}, {"ext": "mpg"}, {"ext": "mpeg"}, {"ext": "mid"}, {"ext": "midi"}, {"ext": "xcf"}], "restrictions": {"types": ["create", "edit", "move", "upload"], "levels": ["", "autoconfirmed", "sysop"], "cascadinglevels": ["sysop"], "semiprotectedlevels": ["autoconfirmed"]}, "statistics": {"pages": 33, "articles": 0, "edits": 33, "images": 32, "users": 7, "activeusers": 3, "admins": 1, "jobs": 0}}"#;

    /// `usergroups` with sinumberingroup=1 (step 3).
    const USERGROUPS_TX: &str = r#"[{"name": "*", "rights": ["createaccount", "read", "edit", "createpage", "createtalk", "writeapi", "viewmywatchlist", "editmywatchlist", "viewmyprivateinfo", "editmyprivateinfo", "editmyoptions"]}, {"name": "user", "rights": ["move", "move-subpages", "move-rootuserpages", "move-categorypages", "movefile", "read", "edit", "createpage", "createtalk", "writeapi", "upload", "reupload", "reupload-shared", "minoredit", "editmyusercss", "editmyuserjson", "editmyuserjs", "editmyuserjsredirect", "purge", "sendemail", "applychangetags", "changetags", "editcontentmodel", "upload_by_url"], "number": 7}, {"name": "autoconfirmed", "rights": ["autoconfirmed", "editsemiprotected"]}, {"name": "bot", "rights": ["bot", "autoconfirmed", "editsemiprotected", "nominornewtalk", "autopatrol", "suppressredirect", "apihighlimits", "writeapi"], "number": 0}, {"name": "sysop", "rights": ["block", "createaccount", "delete", "bigdelete", "deletedhistory", "deletedtext", "undelete", "editinterface", "editsitejson", "edituserjson", "import", "importupload", "move", "move-subpages", "move-rootuserpages", "move-categorypages", "patrol", "autopatrol", "protect", "editprotected", "rollback", "upload", "reupload", "reupload-shared", "unwatchedpages", "autoconfirmed", "editsemiprotected", "ipblock-exempt", "blockemail", "markbotedits", "apihighlimits", "browsearchive", "noratelimit", "movefile", "unblockself", "suppressredirect", "mergehistory", "managechangetags", "deletechangetags"], "number": 1}, {"name": "interface-admin", "rights": ["editinterface", "editsitecss", "editsitejson", "editsitejs", "editusercss", "edituserjson", "edituserjs"], "number": 1}, {"name": "bureaucrat", "rights": ["userrights", "noratelimit"], "number": 1}, {"name": "suppress", "rights": ["hideuser", "suppressrevision", "viewsuppressed", "suppressionlog", "deleterevision", "deletelogentry"], "number": 0}]"#;

    /// Other step-3 members (fv2) reproduced exactly.
    const TX_STEP3_EXACT: &str = r#"{"rightsinfo": {"url": "", "text": ""}, "skins": [{"code": "vector-2022", "name": "Vector (2022)"}, {"code": "vector", "name": "Vector legacy (2010)", "default": true}, {"code": "fallback", "name": "Fallback", "unusable": true}, {"code": "apioutput", "name": "ApiOutput", "unusable": true}], "showhooks": [], "uploaddialog": {"fields": {"description": true, "date": false, "categories": false}, "licensemessages": {"local": "generic-local", "foreign": "generic-foreign"}, "comment": {"local": "", "foreign": ""}, "format": {"filepage": "$DESCRIPTION", "description": "$TEXT", "ownwork": "", "license": "", "uncategorized": ""}}}"#;

    /// `meta=filerepoinfo`, fv2 (step 4).
    const TX_REPOS: &str = r#"[{"name": "local", "displayname": "Anchor Wiki", "rootUrl": "/w/images", "local": true, "url": "/w/images", "thumbUrl": "/w/images/thumb", "initialCapital": true, "scriptDirUrl": "/w", "favicon": "http://127.0.0.1:8081/favicon.ico", "canUpload": true}]"#;

    fn expected(tx: &str) -> Value {
        let mut v: Value = serde_json::from_str(tx).unwrap();
        // Values that describe PHP internals are deliberately ours.
        v["general"]["phpversion"] = json!("n/a");
        v["general"]["phpsapi"] = json!("mwstore");
        v
    }

    /// Same keys in the same order and the same JSON types, recursively.
    fn same_shape(a: &Value, b: &Value, path: &str) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let kx: Vec<_> = x.keys().collect();
                let ky: Vec<_> = y.keys().collect();
                assert_eq!(kx, ky, "keys at {path}");
                for (k, v) in x {
                    same_shape(v, &y[k], &format!("{path}.{k}"));
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if let (Some(p), Some(q)) = (x.first(), y.first()) {
                    same_shape(p, q, &format!("{path}[0]"));
                }
            }
            _ => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "type at {path}: {a} vs {b}"
            ),
        }
    }

    const TX_PROPS: &str =
        "general|namespaces|namespacealiases|fileextensions|restrictions|statistics";

    #[test]
    fn fv1_matches_transcript() {
        let cfg = anchor_config();
        let (got, unknown) = siteinfo(&ctx(&cfg), &props(TX_PROPS), false);
        assert!(unknown.is_empty());
        let got = Value::Object(got);
        let want = expected(TX_FV1);
        same_shape(&got, &want, "query");
        assert_eq!(got, want);
        assert_eq!(
            got["general"]["thumblimits"],
            json!([120, 150, 180, 200, 250, 300])
        );
        assert_eq!(got["general"]["magiclinks"], json!([]));
        assert_eq!(got["general"]["uploadsenabled"], json!(""));
        assert_eq!(got["general"]["variantarticlepath"], json!(false));
    }

    #[test]
    fn fv2_matches_transcript() {
        let cfg = anchor_config();
        let (got, unknown) = siteinfo(&ctx(&cfg), &props(TX_PROPS), true);
        assert!(unknown.is_empty());
        let got = Value::Object(got);
        let want = expected(TX_FV2);
        same_shape(&got, &want, "query");
        assert_eq!(got, want);
        assert!(got["general"]["thumblimits"].is_object());
        assert_eq!(
            got["general"]["imagelimits"]["5"],
            json!({"width": 2560, "height": 2048})
        );
        assert_eq!(
            got["general"]["magiclinks"],
            json!({"ISBN": false, "PMID": false, "RFC": false})
        );
    }

    #[test]
    fn substitutes_our_values() {
        let cfg = Config {
            enable_uploads: false,
            max_upload_size: 1234,
            min_upload_chunk_size: 99,
            ..Config::default()
        };
        let mut c = ctx(&cfg);
        c.server = "https://files.example.org:8443";
        c.script_path = "/mw";
        c.db_version = "3.45.0";
        let (g2, _) = siteinfo(&c, &[], true);
        let g = &g2["general"];
        assert_eq!(g["generator"], "MediaWiki 1.39.17");
        assert_eq!(g["sitename"], "mwstore");
        assert_eq!(g["server"], "https://files.example.org:8443");
        assert_eq!(g["servername"], "files.example.org");
        assert_eq!(g["scriptpath"], "/mw");
        assert_eq!(g["script"], "/mw/index.php");
        assert_eq!(g["articlepath"], "/mw/index.php?title=$1");
        assert_eq!(
            g["base"],
            "https://files.example.org:8443/mw/index.php?title=Main_Page"
        );
        assert_eq!(g["dbversion"], "3.45.0");
        assert_eq!(g["uploadsenabled"], false);
        assert_eq!(g["maxuploadsize"], 1234);
        assert_eq!(g["minuploadchunksize"], 99);
        assert_eq!(g["wikiid"], "mwstore");
        let (g1, _) = siteinfo(&c, &[], false);
        assert!(g1["general"].get("uploadsenabled").is_none());
        assert_eq!(g2.keys().collect::<Vec<_>>(), ["general"]);
    }

    #[test]
    fn default_and_unknown_props() {
        let cfg = anchor_config();
        let c = ctx(&cfg);
        let (out, unknown) = siteinfo(
            &c,
            &props("statistics|bogus|general|statistics|bogus|other"),
            true,
        );
        assert_eq!(out.keys().collect::<Vec<_>>(), ["statistics", "general"]);
        assert_eq!(unknown, ["bogus", "other"]);
        // Every MediaWiki siprop is recognised.
        let all: Vec<String> = SIPROPS.iter().map(|s| (*s).to_owned()).collect();
        for fv2 in [false, true] {
            let (out, unknown) = siteinfo_with(&c, &all, true, fv2);
            assert!(unknown.is_empty());
            assert_eq!(out.keys().collect::<Vec<_>>(), SIPROPS);
        }
        let (out, _) = siteinfo(&c, &props("dbrepllag"), true);
        assert_eq!(out["dbrepllag"], json!([{"host": "", "lag": 0}]));
    }

    #[test]
    fn namespaces_follow_sitename() {
        let cfg = Config {
            sitename: "Media Store".into(),
            ..Config::default()
        };
        let (out, _) = siteinfo(&ctx(&cfg), &props("namespaces"), true);
        assert_eq!(out["namespaces"]["4"]["name"], "Media Store");
        assert_eq!(out["namespaces"]["5"]["name"], "Media Store talk");
        assert_eq!(out["namespaces"]["6"]["name"], "File");
        let (out, _) = siteinfo(&ctx(&cfg), &props("namespaces|namespacealiases"), false);
        assert_eq!(out["namespaces"]["6"]["*"], "File");
        assert_eq!(out["namespaces"]["6"]["id"], 6);
        assert_eq!(
            out["namespacealiases"],
            json!([{"id": 6, "*": "Image"}, {"id": 7, "*": "Image talk"}])
        );
    }

    #[test]
    fn step3_props() {
        let cfg = anchor_config();
        let c = ctx(&cfg);
        let p = props("usergroups|rightsinfo|extensions|interwikimap|magicwords|languages|skins|showhooks|defaultoptions|uploaddialog|languagevariants");
        let (out, unknown) = siteinfo_with(&c, &p, true, true);
        assert!(unknown.is_empty());
        assert_eq!(out.keys().cloned().collect::<Vec<_>>(), p);
        let usergroups: Value = serde_json::from_str(USERGROUPS_TX).unwrap();
        assert_eq!(out["usergroups"], usergroups);
        let exact: Value = serde_json::from_str(TX_STEP3_EXACT).unwrap();
        for (k, v) in exact.as_object().unwrap() {
            assert_eq!(&out[k], v, "{k}");
        }
        assert_eq!(out["extensions"], json!([]));
        assert_eq!(out["interwikimap"], json!([]));
        assert_eq!(
            out["languages"],
            json!([{"code": "en", "bcp47": "en", "name": "English"}])
        );
        assert!(out["languagevariants"].is_object());
        let mw = &out["magicwords"][0];
        assert_eq!(
            mw,
            &json!({"name": "!", "aliases": ["!"], "case-sensitive": true})
        );
        let redirect = out["magicwords"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "redirect");
        assert_eq!(redirect.unwrap()["case-sensitive"], false);
        let d = &out["defaultoptions"];
        assert_eq!(
            d.as_object().unwrap().keys().next().unwrap(),
            "ccmeonemails"
        );
        assert_eq!(d["search-match-redirect"], true);
        assert_eq!(d["searchNs0"], 1);
        assert_eq!(d["searchNs6"], 0);
        assert_eq!(d["skin"], "vector");

        // fv1: booleans become "" / disappear, content values go to "*".
        let (out1, _) = siteinfo(&c, &p, false);
        assert!(out1["usergroups"][1].get("number").is_none());
        assert_eq!(
            out1["skins"][1],
            json!({"code": "vector", "default": "", "*": "Vector legacy (2010)"})
        );
        assert_eq!(
            out1["languages"][0],
            json!({"code": "en", "bcp47": "en", "*": "English"})
        );
        assert_eq!(out1["uploaddialog"]["fields"], json!({"description": ""}));
        assert_eq!(
            out1["magicwords"][0],
            json!({"name": "!", "aliases": ["!"], "case-sensitive": ""})
        );
        assert_eq!(out1["defaultoptions"]["search-match-redirect"], "");
    }

    #[test]
    fn filerepoinfo_matches_transcript() {
        let cfg = anchor_config();
        let c = ctx(&cfg);
        let (repos, unknown) = filerepoinfo_props(&c, &[], true);
        assert!(unknown.is_empty());
        assert_eq!(repos, serde_json::from_str::<Value>(TX_REPOS).unwrap());
        let (repos1, _) = filerepoinfo_props(&c, &[], false);
        assert_eq!(repos1[0]["local"], "");
        assert_eq!(repos1[0]["canUpload"], "");
        assert_eq!(repos1[0]["name"], "local");
        let (some, unknown) = filerepoinfo_props(&c, &props("url|name|nope|nope"), true);
        assert_eq!(some, json!([{"name": "local", "url": "/w/images"}]));
        assert_eq!(unknown, ["nope"]);
        let off = Config {
            enable_uploads: false,
            ..anchor_config()
        };
        let (r, _) = filerepoinfo_props(&ctx(&off), &[], false);
        assert!(r[0].get("canUpload").is_none());
    }

    #[test]
    fn servername_parsing() {
        assert_eq!(server_name("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(server_name("https://example.org"), "example.org");
        assert_eq!(server_name("http://[::1]:8080"), "[::1]");
        assert_eq!(server_name("//host.example:81"), "host.example");
    }
}
