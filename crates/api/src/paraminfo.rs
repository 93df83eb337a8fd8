//! `action=paraminfo`: machine-readable descriptions of the modules mwstore implements, in
//! MediaWiki 1.39's shape (pywikibot reads them at start-up to learn the action names, the
//! query submodules, prefixes, limits and token types).
//!
//! The modules and their parameters are a data table ([`MODULES`]) so that the same
//! description can drive parameter handling elsewhere.

use serde_json::{Map, Value};

/// The actions `api.php` offers (`action=`), sorted.
pub const ACTIONS: &[&str] = &[
    "clientlogin",
    "delete",
    "help",
    "login",
    "logout",
    "paraminfo",
    "query",
    "undelete",
    "upload",
];
/// Output formats (`format=`), sorted.
pub const FORMATS: &[&str] = &["json", "jsonfm"];
/// `prop=` submodules of `action=query`, sorted.
pub const QUERY_PROP: &[&str] = &[
    "categories",
    "categoryinfo",
    "duplicatefiles",
    "imageinfo",
    "info",
    "revisions",
    "stashimageinfo",
];
/// `list=` submodules of `action=query`, sorted.
pub const QUERY_LIST: &[&str] = &[
    "allimages",
    "allpages",
    "filearchive",
    "logevents",
    "mystashedfiles",
];
/// `meta=` submodules of `action=query`, sorted.
pub const QUERY_META: &[&str] = &["filerepoinfo", "siteinfo", "tokens", "userinfo"];
/// Query submodules usable as `generator=`, sorted.
pub const QUERY_GENERATORS: &[&str] = &["allimages", "allpages", "duplicatefiles"];

/// The token types `meta=tokens` knows.
pub const TOKEN_TYPES: &[&str] = &[
    "createaccount",
    "csrf",
    "login",
    "patrol",
    "rollback",
    "userrights",
    "watch",
];

/// Which group of its parent a module belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `action=`
    Action,
    /// `format=`
    Format,
    /// `prop=`
    Prop,
    /// `list=`
    List,
    /// `meta=`
    Meta,
}

impl Group {
    /// The group's name as paraminfo shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Action => "action",
            Group::Format => "format",
            Group::Prop => "prop",
            Group::List => "list",
            Group::Meta => "meta",
        }
    }
}

/// The set of submodules a `submodule`-typed parameter selects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submodules {
    /// [`ACTIONS`]
    Actions,
    /// [`FORMATS`]
    Formats,
    /// [`QUERY_PROP`]
    Prop,
    /// [`QUERY_LIST`]
    List,
    /// [`QUERY_META`]
    Meta,
    /// [`QUERY_GENERATORS`]
    Generators,
}

impl Submodules {
    /// The names, sorted.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Submodules::Actions => ACTIONS,
            Submodules::Formats => FORMATS,
            Submodules::Prop => QUERY_PROP,
            Submodules::List => QUERY_LIST,
            Submodules::Meta => QUERY_META,
            Submodules::Generators => QUERY_GENERATORS,
        }
    }

    /// The module path of one of the names.
    pub fn path(self, name: &str) -> String {
        match self {
            Submodules::Actions | Submodules::Formats => name.to_owned(),
            _ => format!("query+{name}"),
        }
    }
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A single-line string.
    String,
    /// Free text (may contain newlines).
    Text,
    /// A password (never logged).
    Password,
    /// True when present with any value.
    Boolean,
    /// An integer, optionally bounded.
    Integer,
    /// An integer or `max`.
    Limit,
    /// A timestamp in any format MediaWiki accepts.
    Timestamp,
    /// A file part of a multipart body.
    Upload,
    /// A page title.
    Title,
    /// A namespace number.
    Namespace,
    /// An expiry (relative, absolute or `infinite`).
    Expiry,
    /// Change tags (none are defined, so the list of values is empty).
    Tags,
    /// A user, by the given kinds of reference.
    User(&'static [&'static str]),
    /// One of the listed values.
    Enum(&'static [&'static str]),
    /// A submodule name.
    Submodule(Submodules),
}

/// A parameter's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// A string default (multi-value defaults are `|`-joined).
    Str(&'static str),
    /// An integer default.
    Int(i64),
}

/// A parameter's upper bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    /// A fixed bound.
    Value(i64),
    /// The configured maximum upload size.
    UploadSize,
}

/// One parameter of a module (its name without the module prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Name without the module prefix.
    pub name: &'static str,
    /// Value type.
    pub ty: ParamType,
    /// Must be given.
    pub required: bool,
    /// Still accepted, but deprecated.
    pub deprecated: bool,
    /// Value is secret (passwords, tokens).
    pub sensitive: bool,
    /// Value when absent.
    pub default: Option<DefaultValue>,
    /// Takes `|`-separated values.
    pub multi: bool,
    /// Multi-value parameter accepting `*` for "all values".
    pub all: bool,
    /// Lower bound (integers and limits).
    pub min: Option<i64>,
    /// Upper bound (integers and limits).
    pub max: Option<Max>,
    /// Upper bound with `apihighlimits` (limits).
    pub highmax: Option<i64>,
    /// For `generator`: the prefix its submodule's parameters take (`g`).
    pub submodule_param_prefix: Option<&'static str>,
}

impl Param {
    const fn new(name: &'static str, ty: ParamType) -> Self {
        Param {
            name,
            ty,
            required: false,
            deprecated: false,
            sensitive: false,
            default: None,
            multi: false,
            all: false,
            min: None,
            max: None,
            highmax: None,
            submodule_param_prefix: None,
        }
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    const fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    const fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    const fn all(mut self) -> Self {
        self.all = true;
        self
    }
    const fn dflt(mut self, v: &'static str) -> Self {
        self.default = Some(DefaultValue::Str(v));
        self
    }
    const fn dflt_int(mut self, v: i64) -> Self {
        self.default = Some(DefaultValue::Int(v));
        self
    }
    const fn min(mut self, v: i64) -> Self {
        self.min = Some(v);
        self
    }
    const fn max(mut self, v: Max) -> Self {
        self.max = Some(v);
        self
    }
    /// A `limit` parameter: 1..=500, 5000 with `apihighlimits`.
    const fn limit(name: &'static str) -> Self {
        let mut p = Param::new(name, ParamType::Limit);
        p.min = Some(1);
        p.max = Some(Max::Value(500));
        p.highmax = Some(5000);
        p
    }
    /// The CSRF/login token parameter every token-needing module ends with.
    const fn token() -> Self {
        Param::new("token", ParamType::String)
            .required()
            .sensitive()
    }
}

/// Module-level flags (paraminfo's help flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// The module is deprecated.
    pub deprecated: bool,
    /// The module is internal.
    pub internal: bool,
    /// Needs the `read` right.
    pub readrights: bool,
    /// Needs write access (`writeapi`).
    pub writerights: bool,
    /// Must be POSTed.
    pub mustbeposted: bool,
    /// Usable as a generator.
    pub generator: bool,
}

const fn flags(read: bool, write: bool, post: bool, generator: bool) -> Flags {
    Flags {
        deprecated: false,
        internal: false,
        readrights: read,
        writerights: write,
        mustbeposted: post,
        generator,
    }
}

/// One API module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    /// Name within its group (`imageinfo`).
    pub name: &'static str,
    /// `main`, `upload`, `query+imageinfo`, ...
    pub path: &'static str,
    /// MediaWiki's class for it (shown by paraminfo).
    pub classname: &'static str,
    /// None for `main`.
    pub group: Option<Group>,
    /// Prefix of its parameters on the wire (`ii` → `iiprop`).
    pub prefix: &'static str,
    /// Help flags.
    pub flags: Flags,
    /// Documentation pages.
    pub helpurls: &'static [&'static str],
    /// Parameters in MediaWiki's order.
    pub params: &'static [Param],
    /// The token type of its `token` parameter, when it needs one.
    pub token: Option<&'static str>,
    /// Accepts parameters beyond those listed (authentication fields).
    pub dynamic_parameters: bool,
}

impl Module {
    /// A parameter by its unprefixed name.
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

use ParamType as T;

macro_rules! help_url {
    ($page:literal) => {
        concat!("https://www.mediawiki.org/wiki/Special:MyLanguage/", $page)
    };
}

const WATCHLIST_ALL: &[&str] = &["watch", "unwatch", "preferences", "nochange"];

const MAIN_PARAMS: &[Param] = &[
    Param::new("action", T::Submodule(Submodules::Actions)).dflt("help"),
    Param::new("format", T::Submodule(Submodules::Formats)).dflt("jsonfm"),
    Param::new("maxlag", T::Integer),
    Param::new("smaxage", T::Integer).dflt_int(0),
    Param::new("maxage", T::Integer).dflt_int(0),
    Param::new("assert", T::Enum(&["anon", "user", "bot"])),
    Param::new("assertuser", T::User(&["name"])),
    Param::new("requestid", T::String),
    Param::new("servedby", T::Boolean),
    Param::new("curtimestamp", T::Boolean),
    Param::new("responselanginfo", T::Boolean),
    Param::new("origin", T::String),
    Param::new("uselang", T::String).dflt("user"),
    Param::new("variant", T::String),
    Param::new(
        "errorformat",
        T::Enum(&["plaintext", "wikitext", "html", "raw", "none", "bc"]),
    )
    .dflt("bc"),
    Param::new("errorlang", T::String).dflt("uselang"),
    Param::new("errorsuselocal", T::Boolean),
];

const PARAMINFO_PARAMS: &[Param] = &[
    Param::new("modules", T::String).multi(),
    Param::new("helpformat", T::Enum(&["none"])).dflt("none"),
];

const HELP_PARAMS: &[Param] = &[
    Param::new("modules", T::String).multi().dflt("main"),
    Param::new("submodules", T::Boolean),
    Param::new("recursivesubmodules", T::Boolean),
    Param::new("wrap", T::Boolean),
    Param::new("toc", T::Boolean),
];

const LOGIN_PARAMS: &[Param] = &[
    Param::new("name", T::String),
    Param::new("password", T::Password).sensitive(),
    Param::new("domain", T::String),
    Param::new("token", T::String).sensitive(),
];

const CLIENTLOGIN_PARAMS: &[Param] = &[
    Param::new("requests", T::String).multi(),
    Param::new(
        "messageformat",
        T::Enum(&["html", "wikitext", "raw", "none"]),
    )
    .dflt("wikitext"),
    Param::new("mergerequestfields", T::Boolean),
    Param::new("preservestate", T::Boolean),
    Param::new("returnurl", T::String),
    Param::new("continue", T::Boolean),
    Param::token(),
];

const LOGOUT_PARAMS: &[Param] = &[Param::token()];

const DELETE_PARAMS: &[Param] = &[
    Param::new("title", T::String),
    Param::new("pageid", T::Integer),
    Param::new("reason", T::String),
    Param::new("tags", T::Tags).multi(),
    Param::new("deletetalk", T::Boolean),
    Param::new("watch", T::Boolean).deprecated(),
    Param::new("watchlist", T::Enum(WATCHLIST_ALL)).dflt("preferences"),
    Param::new("unwatch", T::Boolean).deprecated(),
    Param::new("oldimage", T::String),
    Param::token(),
];

const UNDELETE_PARAMS: &[Param] = &[
    Param::new("title", T::String).required(),
    Param::new("reason", T::String).dflt(""),
    Param::new("tags", T::Tags).multi(),
    Param::new("timestamps", T::Timestamp).multi(),
    Param::new("fileids", T::Integer).multi(),
    Param::new("watchlist", T::Enum(WATCHLIST_ALL)).dflt("preferences"),
    Param::token(),
];

const UPLOAD_PARAMS: &[Param] = &[
    Param::new("filename", T::String),
    Param::new("comment", T::String).dflt(""),
    Param::new("tags", T::Tags).multi(),
    Param::new("text", T::Text),
    Param::new("watch", T::Boolean).deprecated(),
    Param::new("watchlist", T::Enum(&["watch", "preferences", "nochange"])).dflt("preferences"),
    Param::new("ignorewarnings", T::Boolean),
    Param::new("file", T::Upload),
    Param::new("url", T::String),
    Param::new("filekey", T::String),
    Param::new("sessionkey", T::String).deprecated(),
    Param::new("stash", T::Boolean),
    Param::new("filesize", T::Integer)
        .min(0)
        .max(Max::UploadSize),
    Param::new("offset", T::Integer).min(0),
    Param::new("chunk", T::Upload),
    Param::new("async", T::Boolean),
    Param::new("checkstatus", T::Boolean),
    Param::token(),
];

const QUERY_PARAMS: &[Param] = &[
    Param::new("prop", T::Submodule(Submodules::Prop)).multi(),
    Param::new("list", T::Submodule(Submodules::List)).multi(),
    Param::new("meta", T::Submodule(Submodules::Meta)).multi(),
    Param::new("indexpageids", T::Boolean),
    Param::new("iwurl", T::Boolean),
    Param::new("continue", T::String),
    Param::new("rawcontinue", T::Boolean),
    Param::new("titles", T::String).multi(),
    Param::new("pageids", T::Integer).multi(),
    Param::new("revids", T::Integer).multi(),
    {
        let mut g = Param::new("generator", T::Submodule(Submodules::Generators));
        g.submodule_param_prefix = Some("g");
        g
    },
    Param::new("redirects", T::Boolean),
    Param::new("converttitles", T::Boolean),
];

const TOKENS_PARAMS: &[Param] = &[Param::new("type", T::Enum(TOKEN_TYPES))
    .dflt("csrf")
    .multi()
    .all()];

const SITEINFO_PARAMS: &[Param] = &[
    Param::new("prop", T::Enum(crate::siteinfo::SIPROPS))
        .dflt("general")
        .multi(),
    Param::new("filteriw", T::Enum(&["local", "!local"])),
    Param::new("showalldb", T::Boolean),
    Param::new("numberingroup", T::Boolean),
    Param::new("inlanguagecode", T::String),
];

const USERINFO_PARAMS: &[Param] = &[
    Param::new(
        "prop",
        T::Enum(&[
            "blockinfo",
            "hasmsg",
            "groups",
            "groupmemberships",
            "implicitgroups",
            "rights",
            "changeablegroups",
            "options",
            "editcount",
            "ratelimits",
            "theoreticalratelimits",
            "email",
            "realname",
            "acceptlang",
            "registrationdate",
            "unreadcount",
            "centralids",
            "latestcontrib",
            "cancreateaccount",
        ]),
    )
    .multi(),
    Param::new("attachedwiki", T::String),
];

const FILEREPOINFO_PARAMS: &[Param] = &[Param::new(
    "prop",
    T::Enum(crate::siteinfo::FILEREPO_PROPS),
)
.dflt("name|displayname|rootUrl|local|url|thumbUrl|initialCapital|scriptDirUrl|favicon|canUpload")
.multi()];

/// `prop=imageinfo` properties (`iiprop`).
pub const IMAGEINFO_PROPS: &[&str] = &[
    "timestamp",
    "user",
    "userid",
    "comment",
    "parsedcomment",
    "canonicaltitle",
    "url",
    "size",
    "dimensions",
    "sha1",
    "mime",
    "thumbmime",
    "mediatype",
    "metadata",
    "commonmetadata",
    "extmetadata",
    "archivename",
    "bitdepth",
    "uploadwarning",
    "badfile",
];

const IMAGEINFO_PARAMS: &[Param] = &[
    Param::new("prop", T::Enum(IMAGEINFO_PROPS))
        .dflt("timestamp|user")
        .multi(),
    Param::limit("limit").dflt_int(1),
    Param::new("start", T::Timestamp),
    Param::new("end", T::Timestamp),
    Param::new("urlwidth", T::Integer).dflt_int(-1),
    Param::new("urlheight", T::Integer).dflt_int(-1),
    Param::new("metadataversion", T::String).dflt("1"),
    Param::new("extmetadatalanguage", T::String).dflt("en"),
    Param::new("extmetadatamultilang", T::Boolean),
    Param::new("extmetadatafilter", T::String).multi(),
    Param::new("urlparam", T::String).dflt(""),
    Param::new("badfilecontexttitle", T::String),
    Param::new("continue", T::String),
    Param::new("localonly", T::Boolean),
];

const ALLIMAGES_PROPS: &[&str] = &[
    "timestamp",
    "user",
    "userid",
    "comment",
    "parsedcomment",
    "canonicaltitle",
    "url",
    "size",
    "dimensions",
    "sha1",
    "mime",
    "mediatype",
    "metadata",
    "commonmetadata",
    "extmetadata",
    "bitdepth",
    "badfile",
];

const ALLIMAGES_PARAMS: &[Param] = &[
    Param::new("sort", T::Enum(&["name", "timestamp"])).dflt("name"),
    Param::new(
        "dir",
        T::Enum(&["ascending", "descending", "newer", "older"]),
    )
    .dflt("ascending"),
    Param::new("from", T::String),
    Param::new("to", T::String),
    Param::new("continue", T::String),
    Param::new("start", T::Timestamp),
    Param::new("end", T::Timestamp),
    Param::new("prop", T::Enum(ALLIMAGES_PROPS))
        .dflt("timestamp|url")
        .multi(),
    Param::new("prefix", T::String),
    Param::new("minsize", T::Integer),
    Param::new("maxsize", T::Integer),
    Param::new("sha1", T::String),
    Param::new("sha1base36", T::String),
    Param::new("user", T::User(&["name", "ip", "interwiki", "id"])),
    Param::new("filterbots", T::Enum(&["all", "bots", "nobots"])).dflt("all"),
    Param::new("mime", T::String).multi(),
    Param::limit("limit").dflt_int(10),
];

const STASHIMAGEINFO_PARAMS: &[Param] = &[
    Param::new("filekey", T::String).multi(),
    Param::new("sessionkey", T::String).deprecated().multi(),
    Param::new(
        "prop",
        T::Enum(&[
            "timestamp",
            "canonicaltitle",
            "url",
            "size",
            "dimensions",
            "sha1",
            "mime",
            "thumbmime",
            "metadata",
            "commonmetadata",
            "extmetadata",
            "bitdepth",
            "badfile",
        ]),
    )
    .dflt("timestamp|url")
    .multi(),
    Param::new("urlwidth", T::Integer).dflt_int(-1),
    Param::new("urlheight", T::Integer).dflt_int(-1),
    Param::new("urlparam", T::String).dflt(""),
];

const MYSTASHEDFILES_PARAMS: &[Param] = &[
    Param::new("prop", T::Enum(&["size", "type"]))
        .dflt("")
        .multi(),
    Param::limit("limit").dflt_int(10),
    Param::new("continue", T::String),
];

const INFO_PARAMS: &[Param] = &[
    Param::new(
        "prop",
        T::Enum(&[
            "protection",
            "talkid",
            "watched",
            "watchers",
            "visitingwatchers",
            "notificationtimestamp",
            "subjectid",
            "associatedpage",
            "url",
            "preload",
            "displaytitle",
            "varianttitles",
            "linkclasses",
        ]),
    )
    .multi(),
    Param::new("linkcontext", T::Title).dflt("Main Page"),
    Param::new("testactions", T::String).multi(),
    Param::new("testactionsdetail", T::Enum(&["boolean", "full", "quick"])).dflt("boolean"),
    Param::new("continue", T::String),
];

const REVISIONS_PARAMS: &[Param] = &[
    Param::new(
        "prop",
        T::Enum(&[
            "ids",
            "flags",
            "timestamp",
            "user",
            "userid",
            "size",
            "slotsize",
            "sha1",
            "slotsha1",
            "contentmodel",
            "comment",
            "parsedcomment",
            "content",
            "tags",
            "roles",
        ]),
    )
    .dflt("ids|timestamp|flags|comment|user")
    .multi(),
    Param::new("slots", T::Enum(&["main"])).multi().all(),
    Param::limit("limit"),
    Param::new("section", T::String),
    Param::new("startid", T::Integer),
    Param::new("endid", T::Integer),
    Param::new("start", T::Timestamp),
    Param::new("end", T::Timestamp),
    Param::new("dir", T::Enum(&["newer", "older"])).dflt("older"),
    Param::new("user", T::User(&["name", "ip", "id", "interwiki"])),
    Param::new("excludeuser", T::User(&["name", "ip", "id", "interwiki"])),
    Param::new("tag", T::String),
    Param::new("continue", T::String),
];

const DUPLICATEFILES_PARAMS: &[Param] = &[
    Param::limit("limit").dflt_int(10),
    Param::new("continue", T::String),
    Param::new("dir", T::Enum(&["ascending", "descending"])).dflt("ascending"),
    Param::new("localonly", T::Boolean),
];

/// Log types MediaWiki 1.39 defines by default.
pub const LOG_TYPES: &[&str] = &[
    "block",
    "contentmodel",
    "create",
    "delete",
    "import",
    "managetags",
    "merge",
    "move",
    "newusers",
    "patrol",
    "protect",
    "rights",
    "suppress",
    "tag",
    "upload",
];

const LOGEVENTS_PARAMS: &[Param] = &[
    Param::new(
        "prop",
        T::Enum(&[
            "ids",
            "title",
            "type",
            "user",
            "userid",
            "timestamp",
            "comment",
            "parsedcomment",
            "details",
            "tags",
        ]),
    )
    .dflt("ids|title|type|user|timestamp|comment|details")
    .multi(),
    Param::new("type", T::Enum(LOG_TYPES)),
    Param::new(
        "action",
        T::Enum(&[
            "delete/delete",
            "delete/delete_redir",
            "delete/event",
            "delete/restore",
            "delete/revision",
            "upload/overwrite",
            "upload/revert",
            "upload/upload",
        ]),
    ),
    Param::new("start", T::Timestamp),
    Param::new("end", T::Timestamp),
    Param::new("dir", T::Enum(&["newer", "older"])).dflt("older"),
    Param::new("user", T::User(&["name", "ip", "id", "interwiki"])),
    Param::new("title", T::String),
    Param::new("namespace", T::Namespace),
    Param::new("prefix", T::String),
    Param::new("tag", T::String),
    Param::limit("limit").dflt_int(10),
    Param::new("continue", T::String),
];

const CATEGORIES_PARAMS: &[Param] = &[
    Param::new("prop", T::Enum(&["sortkey", "timestamp", "hidden"])).multi(),
    Param::new("show", T::Enum(&["hidden", "!hidden"])).multi(),
    Param::limit("limit").dflt_int(10),
    Param::new("continue", T::String),
    Param::new("categories", T::String).multi(),
    Param::new("dir", T::Enum(&["ascending", "descending"])).dflt("ascending"),
];

const CATEGORYINFO_PARAMS: &[Param] = &[Param::new("continue", T::String)];

const ALLPAGES_PARAMS: &[Param] = &[
    Param::new("from", T::String),
    Param::new("continue", T::String),
    Param::new("to", T::String),
    Param::new("prefix", T::String),
    Param::new("namespace", T::Namespace).dflt_int(0),
    Param::new(
        "filterredir",
        T::Enum(&["all", "redirects", "nonredirects"]),
    )
    .dflt("all"),
    Param::new(
        "filterlanglinks",
        T::Enum(&["withlanglinks", "withoutlanglinks", "all"]),
    )
    .dflt("all"),
    Param::new("minsize", T::Integer),
    Param::new("maxsize", T::Integer),
    Param::new("prtype", T::Enum(&["create", "edit", "move", "upload"])).multi(),
    Param::new("prlevel", T::Enum(&["", "autoconfirmed", "sysop"])).multi(),
    Param::new(
        "prfiltercascade",
        T::Enum(&["cascading", "noncascading", "all"]),
    )
    .dflt("all"),
    Param::new("prexpiry", T::Enum(&["indefinite", "definite", "all"])).dflt("all"),
    Param::limit("limit").dflt_int(10),
    Param::new("dir", T::Enum(&["ascending", "descending"])).dflt("ascending"),
];

const FILEARCHIVE_PARAMS: &[Param] = &[
    Param::new("from", T::String),
    Param::new("to", T::String),
    Param::new("prefix", T::String),
    Param::new("dir", T::Enum(&["ascending", "descending"])).dflt("ascending"),
    Param::new("sha1", T::String),
    Param::new("sha1base36", T::String),
    Param::new(
        "prop",
        T::Enum(&[
            "sha1",
            "timestamp",
            "user",
            "size",
            "dimensions",
            "description",
            "parseddescription",
            "mime",
            "mediatype",
            "metadata",
            "bitdepth",
            "archivename",
        ]),
    )
    .dflt("timestamp")
    .multi(),
    Param::limit("limit").dflt_int(10),
    Param::new("continue", T::String),
];

const JSON_PARAMS: &[Param] = &[
    Param::new("callback", T::String),
    Param::new("utf8", T::Boolean),
    Param::new("ascii", T::Boolean),
    Param::new("formatversion", T::Enum(&["1", "2", "latest"])).dflt("1"),
];

const JSONFM_PARAMS: &[Param] = &[
    Param::new("wrappedhtml", T::Boolean),
    Param::new("callback", T::String),
    Param::new("utf8", T::Boolean),
    Param::new("ascii", T::Boolean),
    Param::new("formatversion", T::Enum(&["1", "2", "latest"])).dflt("1"),
];

const fn module(
    name: &'static str,
    path: &'static str,
    classname: &'static str,
    group: Option<Group>,
    prefix: &'static str,
    params: &'static [Param],
) -> Module {
    Module {
        name,
        path,
        classname,
        group,
        prefix,
        flags: NO_FLAGS,
        helpurls: &[],
        params,
        token: None,
        dynamic_parameters: false,
    }
}

impl Module {
    const fn flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }
    const fn help(mut self, urls: &'static [&'static str]) -> Self {
        self.helpurls = urls;
        self
    }
    const fn token_type(mut self, t: &'static str) -> Self {
        self.token = Some(t);
        self
    }
    const fn dynamic(mut self) -> Self {
        self.dynamic_parameters = true;
        self
    }
}

const NO_FLAGS: Flags = flags(false, false, false, false);
const READ: Flags = flags(true, false, false, false);
/// Read, write, POST: the modules that change files.
const WRITE: Flags = flags(true, true, true, false);
const GENERATOR: Flags = flags(true, false, false, true);

const ACTION: Option<Group> = Some(Group::Action);
const PROP: Option<Group> = Some(Group::Prop);
const LIST: Option<Group> = Some(Group::List);
const META: Option<Group> = Some(Group::Meta);
const FORMAT: Option<Group> = Some(Group::Format);

/// Every module mwstore implements.
pub static MODULES: &[Module] = &[
    module("main", "main", "ApiMain", None, "", MAIN_PARAMS),
    module(
        "clientlogin",
        "clientlogin",
        "ApiClientLogin",
        ACTION,
        "login",
        CLIENTLOGIN_PARAMS,
    )
    .flags(flags(false, true, true, false))
    .help(&[help_url!("API:Login")])
    .token_type("login")
    .dynamic(),
    module("delete", "delete", "ApiDelete", ACTION, "", DELETE_PARAMS)
        .flags(WRITE)
        .help(&[help_url!("API:Delete")])
        .token_type("csrf"),
    module("help", "help", "ApiHelp", ACTION, "", HELP_PARAMS).help(&[
        help_url!("API:Main_page"),
        help_url!("API:FAQ"),
        help_url!("API:Quick_start_guide"),
    ]),
    module("login", "login", "ApiLogin", ACTION, "lg", LOGIN_PARAMS)
        .flags(flags(false, true, true, false))
        .help(&[help_url!("API:Login")]),
    module("logout", "logout", "ApiLogout", ACTION, "", LOGOUT_PARAMS)
        .flags(flags(false, false, true, false))
        .help(&[help_url!("API:Logout")])
        .token_type("csrf"),
    module(
        "paraminfo",
        "paraminfo",
        "ApiParamInfo",
        ACTION,
        "",
        PARAMINFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Parameter_information")]),
    module("query", "query", "ApiQuery", ACTION, "", QUERY_PARAMS)
        .flags(READ)
        .help(&[
            help_url!("API:Query"),
            help_url!("API:Meta"),
            help_url!("API:Properties"),
            help_url!("API:Lists"),
        ]),
    module(
        "undelete",
        "undelete",
        "ApiUndelete",
        ACTION,
        "",
        UNDELETE_PARAMS,
    )
    .flags(WRITE)
    .help(&[help_url!("API:Undelete")])
    .token_type("csrf"),
    module("upload", "upload", "ApiUpload", ACTION, "", UPLOAD_PARAMS)
        .flags(WRITE)
        .help(&[help_url!("API:Upload")])
        .token_type("csrf"),
    module("json", "json", "ApiFormatJson", FORMAT, "", JSON_PARAMS).flags(READ),
    module(
        "jsonfm",
        "jsonfm",
        "ApiFormatJson",
        FORMAT,
        "",
        JSONFM_PARAMS,
    )
    .flags(READ),
    module(
        "categories",
        "query+categories",
        "ApiQueryCategories",
        PROP,
        "cl",
        CATEGORIES_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Categories")]),
    module(
        "categoryinfo",
        "query+categoryinfo",
        "ApiQueryCategoryInfo",
        PROP,
        "ci",
        CATEGORYINFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Categoryinfo")]),
    module(
        "duplicatefiles",
        "query+duplicatefiles",
        "ApiQueryDuplicateFiles",
        PROP,
        "df",
        DUPLICATEFILES_PARAMS,
    )
    .flags(GENERATOR)
    .help(&[help_url!("API:Duplicatefiles")]),
    module(
        "imageinfo",
        "query+imageinfo",
        "ApiQueryImageInfo",
        PROP,
        "ii",
        IMAGEINFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Imageinfo")]),
    module(
        "info",
        "query+info",
        "ApiQueryInfo",
        PROP,
        "in",
        INFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Info")]),
    module(
        "revisions",
        "query+revisions",
        "ApiQueryRevisions",
        PROP,
        "rv",
        REVISIONS_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Revisions")]),
    module(
        "stashimageinfo",
        "query+stashimageinfo",
        "ApiQueryStashImageInfo",
        PROP,
        "sii",
        STASHIMAGEINFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Stashimageinfo")]),
    module(
        "allimages",
        "query+allimages",
        "ApiQueryAllImages",
        LIST,
        "ai",
        ALLIMAGES_PARAMS,
    )
    .flags(GENERATOR)
    .help(&[help_url!("API:Allimages")]),
    module(
        "allpages",
        "query+allpages",
        "ApiQueryAllPages",
        LIST,
        "ap",
        ALLPAGES_PARAMS,
    )
    .flags(GENERATOR)
    .help(&[help_url!("API:Allpages")]),
    module(
        "filearchive",
        "query+filearchive",
        "ApiQueryFilearchive",
        LIST,
        "fa",
        FILEARCHIVE_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Filearchive")]),
    module(
        "logevents",
        "query+logevents",
        "ApiQueryLogEvents",
        LIST,
        "le",
        LOGEVENTS_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Logevents")]),
    module(
        "mystashedfiles",
        "query+mystashedfiles",
        "ApiQueryMyStashedFiles",
        LIST,
        "msf",
        MYSTASHEDFILES_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:mystashedfiles")]),
    module(
        "filerepoinfo",
        "query+filerepoinfo",
        "ApiQueryFileRepoInfo",
        META,
        "fri",
        FILEREPOINFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Filerepoinfo")]),
    module(
        "siteinfo",
        "query+siteinfo",
        "ApiQuerySiteinfo",
        META,
        "si",
        SITEINFO_PARAMS,
    )
    .flags(READ)
    .help(&[help_url!("API:Siteinfo")]),
    module(
        "tokens",
        "query+tokens",
        "ApiQueryTokens",
        META,
        "",
        TOKENS_PARAMS,
    )
    .help(&[help_url!("API:Tokens")]),
    module(
        "userinfo",
        "query+userinfo",
        "ApiQueryUserInfo",
        META,
        "ui",
        USERINFO_PARAMS,
    )
    .help(&[help_url!("API:Userinfo")]),
];

/// A module by its path (`main`, `upload`, `query+imageinfo`).
pub fn module_by_path(path: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.path == path)
}

/// The allowed values of an enum parameter, as the module table declares them (the one
/// source for both validation and `action=paraminfo`).
pub fn enum_values(module_path: &str, param: &str) -> &'static [&'static str] {
    match module_by_path(module_path)
        .and_then(|m| m.param(param))
        .map(|p| &p.ty)
    {
        Some(ParamType::Enum(values)) => values,
        _ => &[],
    }
}

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
        crate::output::to_fv1(value)
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
            crate::siteinfo::SIPROPS.len()
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
