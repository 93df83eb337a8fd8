//! The modules mwstore implements and their parameters, as one data table ([`MODULES`]):
//! typed parsing of requests ([`super::typed`]) and `action=paraminfo`
//! ([`crate::query::paraminfo`]) both read it, so what is accepted and what is described are
//! the same thing.

/// The actions `api.php` offers (`action=`), sorted.
pub const ACTIONS: &[&str] = &[
    "clientlogin",
    "delete",
    "help",
    "login",
    "logout",
    "paraminfo",
    "purge",
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

const PURGE_PARAMS: &[Param] = &[
    Param::new("forcelinkupdate", T::Boolean),
    Param::new("forcerecursivelinkupdate", T::Boolean),
    Param::new("continue", T::String),
    Param::new("titles", T::String).multi(),
    Param::new("pageids", T::Integer).multi(),
    Param::new("redirects", T::Boolean),
    Param::new("converttitles", T::Boolean),
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
    Param::new("prop", T::Enum(crate::query::siteinfo::SIPROPS))
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
    T::Enum(crate::query::siteinfo::FILEREPO_PROPS),
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
    module("purge", "purge", "ApiPurge", ACTION, "", PURGE_PARAMS)
        .flags(WRITE)
        .help(&[help_url!("API:Purge")]),
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
