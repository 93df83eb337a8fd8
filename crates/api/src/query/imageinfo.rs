//! `imageinfo`: the description of a file version or a stashed file, with MediaWiki's keys
//! in MediaWiki's order, and the URLs of files and pages. A leaf: `prop=imageinfo`, the
//! lists, the upload answers and the job statuses all build their imageinfo here.

use serde_json::{Map, Value};

use mwstore_domain::describe::{self, Description};
use mwstore_domain::title;
use mwstore_storage::{ts14_to_iso, FileMeta, FileVersion, StashEntry};

use crate::files::thumbs::ThumbOf;
use crate::params::table::IMAGEINFO_PROPS as II_PROPS;
use crate::AppState;

pub(crate) fn iso(ts: &str) -> Value {
    Value::String(ts14_to_iso(ts))
}

/// Absolute URL of the current version of a file.
pub fn file_url(app: &AppState, name: &str) -> String {
    let (h1, h2) = title::hash_dirs(name);
    format!(
        "{}{}/images/{h1}/{h2}/{}",
        app.server,
        crate::SCRIPT_PATH,
        title::rawurlencode(name)
    )
}

/// Absolute URL of an archived version.
pub fn archive_url(app: &AppState, name: &str, archive_name: &str) -> String {
    let (h1, h2) = title::hash_dirs(name);
    format!(
        "{}{}/images/archive/{h1}/{h2}/{}",
        app.server,
        crate::SCRIPT_PATH,
        title::rawurlencode(archive_name)
    )
}

/// Description page URL of a title.
pub fn page_url(app: &AppState, prefixed_dbkey: &str) -> String {
    format!(
        "{}{}/index.php?title={}",
        app.server,
        crate::SCRIPT_PATH,
        title::wfurlencode(prefixed_dbkey)
    )
}

/// URL of a stashed file.
pub fn stash_url(app: &AppState, key: &str) -> String {
    format!(
        "{}{}/index.php?title=Special:UploadStash/file/{}",
        app.server,
        crate::SCRIPT_PATH,
        title::wfurlencode(key)
    )
}

/// Minimal wikitext-to-HTML for comments (`parsedcomment`): escapes HTML and renders links.
pub fn parse_comment(comment: &str) -> String {
    let escaped = crate::http::html::escape(comment);
    let re = regex::Regex::new(r"\[\[([^\[\]|]+)(?:\|([^\[\]]*))?\]\]");
    match re {
        Ok(re) => re
            .replace_all(&escaped, |c: &regex::Captures| {
                let target = c.get(1).map_or("", |m| m.as_str()).trim();
                let text = c.get(2).map_or(target, |m| m.as_str());
                let href = title::wfurlencode(&target.trim_start_matches(':').replace(' ', "_"));
                format!(
                    "<a href=\"{}/index.php?title={href}\" title=\"{}\">{text}</a>",
                    crate::SCRIPT_PATH,
                    target.trim_start_matches(':')
                )
            })
            .into_owned(),
        Err(_) => escaped,
    }
}

/// Which imageinfo properties to produce.
#[derive(Debug, Clone, Default)]
pub struct InfoProps {
    set: Vec<String>,
    pub url_width: Option<i64>,
    pub url_height: Option<i64>,
    /// `iiurlparam`: a handler's parameter string (`220px`, `qlow-220px`, `langde-220px`).
    pub url_param: Option<String>,
    /// How `extmetadata` is asked for.
    pub ext: super::extmeta::ExtOptions,
}

impl InfoProps {
    pub fn new(props: &[String]) -> Self {
        InfoProps {
            set: props.to_vec(),
            url_width: None,
            url_height: None,
            url_param: None,
            ext: super::extmeta::ExtOptions::default(),
        }
    }

    /// Every property, as upload responses use.
    pub fn all() -> Self {
        InfoProps::new(
            &II_PROPS
                .iter()
                .filter(|p| !matches!(**p, "archivename" | "thumbmime" | "badfile"))
                .map(|p| (*p).to_owned())
                .collect::<Vec<_>>(),
        )
    }

    pub(crate) fn has(&self, p: &str) -> bool {
        self.set.iter().any(|x| x == p)
    }
}

/// The `commonmetadata` list of a stored metadata document.
fn common_of(metadata_json: &str) -> Value {
    meta_lists(metadata_json).1
}

/// What the description page of the file `dbkey` says, when it has one: the facts
/// `extmetadata` is made of.
pub async fn page_description(app: &AppState, dbkey: &str) -> Option<Description> {
    let text = crate::files::pages::page_text(app, dbkey).await?;
    Some(describe::describe(&text, &index_url(app)))
}

/// The absolute URL of `index.php`, which rendered links point to.
pub fn index_url(app: &AppState) -> String {
    format!("{}{}/index.php", app.server, crate::SCRIPT_PATH)
}

pub(crate) fn meta_lists(metadata_json: &str) -> (Value, Value) {
    let v: Value = serde_json::from_str(metadata_json).unwrap_or(Value::Null);
    let m = v.get("metadata").cloned().unwrap_or(Value::Null);
    let c = v
        .get("commonmetadata")
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()));
    (m, c)
}

/// The HTML "file exists" notice (`uploadwarning`), with the file as a 300px thumbnail.
pub fn exists_html(app: &AppState, name: &str, meta: &FileMeta) -> String {
    let esc = crate::http::html::escape;
    let text = name.replace('_', " ");
    let href = format!(
        "{}/index.php?title=File:{}",
        crate::SCRIPT_PATH,
        title::wfurlencode(name)
    );
    // The thumbnail and its srcset as imageinfo would give them at 300px, without the host.
    let mut asked = InfoProps::new(&["url".to_owned()]);
    asked.url_width = Some(300);
    let mut t = Map::new();
    crate::files::thumbs::thumb_fields(
        app,
        &mut t,
        ThumbOf::Current(name),
        &file_url(app, name),
        meta,
        &asked,
    );
    let local = |v: &Value| {
        let u = v.as_str().unwrap_or_default();
        u.strip_prefix(app.server.as_str()).unwrap_or(u).to_owned()
    };
    let image = match (&t.get("thumberror"), t.get("thumburl")) {
        (Some(err), _) => format!(
            "<div class=\"MediaTransformError\" style=\"width: 300px; height: 200px; display:inline-block;\">{}</div>",
            esc(err.as_str().unwrap_or_default())
        ),
        (None, Some(url)) => {
            let srcset: Vec<String> = t
                .get("responsiveUrls")
                .and_then(Value::as_object)
                .map(|r| {
                    let mut seen: Vec<String> = Vec::new();
                    r.iter()
                        .filter_map(|(k, v)| {
                            let u = local(v);
                            (!seen.contains(&u)).then(|| {
                                seen.push(u.clone());
                                format!("{} {k}x", esc(&u))
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "<a href=\"{href}\" class=\"image\"><img alt=\"{t}\" src=\"{src}\" decoding=\"async\" width=\"{w}\" height=\"{h}\" class=\"thumbimage\"{srcset} /></a>",
                href = esc(&href),
                t = esc(&text),
                src = esc(&local(url)),
                w = t.get("thumbwidth").and_then(Value::as_i64).unwrap_or(0),
                h = t.get("thumbheight").and_then(Value::as_i64).unwrap_or(0),
                srcset = if srcset.is_empty() {
                    String::new()
                } else {
                    format!(" srcset=\"{}\"", srcset.join(", "))
                },
            )
        }
        (None, None) => String::new(),
    };
    let width = t.get("thumbwidth").and_then(Value::as_i64).unwrap_or(300);
    format!(
        "<p>A file with this name exists already, please check <strong><a class=\"mw-selflink selflink\">File:{t}</a></strong> if you are not sure if you want to overwrite it.\n</p>\n<div class=\"thumb tright\"><div class=\"thumbinner\" style=\"width:{tw}px;\">{image}  <div class=\"thumbcaption\"><div class=\"magnify\"><a href=\"{href}\" class=\"internal\" title=\"Enlarge\"></a></div></div></div></div>",
        t = esc(&text),
        tw = width + 2,
        href = esc(&href),
    )
}

/// What an imageinfo entry is made from: a published version or a stashed file.
struct InfoSource<'a> {
    timestamp: &'a str,
    meta: &'a FileMeta,
    /// Title text for `canonicaltitle` (spaces).
    title_text: String,
    url: String,
    description_url: String,
    short_url: Option<String>,
    /// `ObjectName` of extmetadata.
    object_name: String,
    /// (id, name) of the uploader: published versions only.
    user: Option<(i64, &'a str)>,
    comment: Option<&'a str>,
    /// The "file exists" HTML (`uploadwarning`).
    html: Option<String>,
    archive_name: Option<&'a str>,
    /// Published versions report `mediatype`; stashed files do not.
    media_type: bool,
    /// What its thumbnails are made of.
    thumb_of: ThumbOf<'a>,
    /// The facts of its description page (for `extmetadata`).
    page: Option<&'a Description>,
}

fn object_name(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(b, _)| b)
        .unwrap_or(name)
        .replace('_', " ")
}

/// Builds an imageinfo entry with MediaWiki's keys in MediaWiki's order.
fn build_info(app: &AppState, src: InfoSource<'_>, p: &InfoProps) -> Map<String, Value> {
    let m = src.meta;
    let mut o = Map::new();
    if p.has("timestamp") {
        o.insert("timestamp".into(), iso(src.timestamp));
    }
    if let Some((id, name)) = src.user {
        if p.has("user") {
            o.insert("user".into(), name.into());
        }
        if p.has("userid") {
            o.insert("userid".into(), id.into());
        }
    }
    if p.has("size") || p.has("dimensions") {
        o.insert("size".into(), m.size.into());
        o.insert("width".into(), m.width.into());
        o.insert("height".into(), m.height.into());
    }
    if let Some(c) = src.comment {
        if p.has("parsedcomment") {
            o.insert("parsedcomment".into(), parse_comment(c).into());
        }
        if p.has("comment") {
            o.insert("comment".into(), c.into());
        }
    }
    if let Some(h) = src.html {
        if p.has("uploadwarning") {
            o.insert("html".into(), h.into());
        }
    }
    if p.has("canonicaltitle") {
        o.insert(
            "canonicaltitle".into(),
            format!("File:{}", src.title_text).into(),
        );
    }
    if p.has("url") {
        crate::files::thumbs::thumb_fields(app, &mut o, src.thumb_of, &src.url, m, p);
        o.insert("url".into(), src.url.into());
        o.insert("descriptionurl".into(), src.description_url.into());
        if let Some(u) = src.short_url {
            o.insert("descriptionshorturl".into(), u.into());
        }
    }
    if p.has("sha1") {
        o.insert("sha1".into(), m.sha1.clone().into());
    }
    let (metadata, common) = meta_lists(&m.metadata);
    if p.has("metadata") {
        o.insert("metadata".into(), metadata);
    }
    if p.has("commonmetadata") {
        o.insert("commonmetadata".into(), common);
    }
    if p.has("extmetadata") {
        let ext = super::extmeta::ExtSource {
            timestamp: &ts14_to_iso(src.timestamp),
            object_name: &src.object_name,
            common: &common_of(&m.metadata),
            page: src.page,
        };
        o.insert(
            "extmetadata".into(),
            super::extmeta::extmetadata(&ext, &p.ext),
        );
    }
    if p.has("mime") {
        o.insert("mime".into(), m.mime().into());
    }
    if src.media_type && p.has("mediatype") {
        o.insert("mediatype".into(), m.media_type.clone().into());
    }
    if let Some(a) = src.archive_name {
        if p.has("archivename") {
            o.insert("archivename".into(), a.into());
        }
    }
    if p.has("bitdepth") {
        o.insert("bitdepth".into(), m.bits.into());
    }
    o
}

/// imageinfo for a file version; `page` is what its description page says (for
/// `extmetadata`: [`page_description`]).
pub fn version_info(
    app: &AppState,
    v: &FileVersion,
    p: &InfoProps,
    page_id: Option<i64>,
    page: Option<&Description>,
    with_html: bool,
) -> Map<String, Value> {
    let url = match &v.archive_name {
        Some(a) => archive_url(app, &v.name, a),
        None => file_url(app, &v.name),
    };
    build_info(
        app,
        InfoSource {
            timestamp: &v.timestamp,
            meta: &v.meta,
            title_text: v.name.replace('_', " "),
            url,
            description_url: page_url(app, &format!("File:{}", v.name)),
            short_url: page_id
                .map(|id| format!("{}{}/index.php?curid={id}", app.server, crate::SCRIPT_PATH)),
            object_name: object_name(&v.name),
            user: Some((v.user_id, &v.user_text)),
            comment: Some(&v.description),
            html: with_html.then(|| exists_html(app, &v.name, &v.meta)),
            archive_name: v.archive_name.as_deref(),
            media_type: true,
            page,
            thumb_of: match &v.archive_name {
                Some(archive) => ThumbOf::Archive {
                    dbkey: &v.name,
                    archive,
                },
                None => ThumbOf::Current(&v.name),
            },
        },
        p,
    )
}

/// imageinfo of a stashed file (no user, comment, mediatype or html).
pub fn stash_info(app: &AppState, e: &StashEntry, p: &InfoProps) -> Map<String, Value> {
    let url = stash_url(app, &e.key);
    build_info(
        app,
        InfoSource {
            timestamp: &e.timestamp,
            meta: &e.meta,
            title_text: e.temp_name.replace('_', " "),
            url: url.clone(),
            description_url: url,
            short_url: None,
            object_name: object_name(&e.temp_name),
            user: None,
            comment: None,
            html: None,
            archive_name: None,
            media_type: false,
            thumb_of: ThumbOf::Stash(&e.key),
            page: None,
        },
        p,
    )
}
