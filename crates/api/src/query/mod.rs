//! `action=query` with the submodules an upload client uses, and `action=paraminfo`.

pub mod extmeta;
pub mod imageinfo;
pub mod paraminfo;
pub mod siteinfo;

use crate::params::table::IMAGEINFO_PROPS as II_PROPS;
pub use imageinfo::{archive_url, file_url, page_url, stash_info, version_info, InfoProps};
use imageinfo::{iso, meta_lists, parse_comment};

use serde_json::{json, Map, Value};

use mwstore_domain::title::{self, Title, NS_FILE};
use mwstore_storage::{ts14_to_iso, FileVersion, ImageQuery, ImageSort, Page};

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::AppState;

use crate::params::table::{
    QUERY_GENERATORS as GENERATORS, QUERY_LIST as LISTS, QUERY_META as METAS, QUERY_PROP as PROPS,
};

/// One entry of the page set.
pub(crate) enum PageEntry {
    Good(Title, Page),
    Missing(Title),
    Invalid(String, String),
}

pub(crate) struct PageSet {
    pub(crate) entries: Vec<PageEntry>,
    pub(crate) normalized: Vec<(String, String)>,
}

pub(crate) async fn build_pageset(
    req: &Req,
    titles: &[String],
    pageids: &[i64],
) -> Result<PageSet, ApiError> {
    let app = &req.app;
    let mut entries = Vec::new();
    let mut normalized = Vec::new();
    let mut seen: Vec<(i32, String)> = Vec::new();
    for t in titles {
        match title::parse_title_in(t, &app.config.sitename, 0) {
            Ok(tt) => {
                let pretty = tt.prefixed_text_in(&app.config.sitename);
                if &pretty != t {
                    normalized.push((t.clone(), pretty));
                }
                if seen.contains(&(tt.ns, tt.dbkey.clone())) {
                    continue;
                }
                seen.push((tt.ns, tt.dbkey.clone()));
                match app.repo.page(tt.ns, &tt.dbkey).await? {
                    Some(p) => entries.push(PageEntry::Good(tt, p)),
                    None => entries.push(PageEntry::Missing(tt)),
                }
            }
            Err(e) => entries.push(PageEntry::Invalid(t.clone(), e.to_string())),
        }
    }
    for id in pageids {
        if let Some(p) = app.repo.page_by_id(*id).await? {
            let tt = Title {
                ns: p.ns,
                dbkey: p.title.clone(),
            };
            if !seen.contains(&(tt.ns, tt.dbkey.clone())) {
                seen.push((tt.ns, tt.dbkey.clone()));
                entries.push(PageEntry::Good(tt, p));
            }
        }
    }
    // Missing and invalid first, then existing pages grouped by namespace and sorted by title.
    let mut bad: Vec<PageEntry> = Vec::new();
    let mut good: Vec<(Title, Page)> = Vec::new();
    for e in entries {
        match e {
            PageEntry::Good(t, p) => good.push((t, p)),
            other => bad.push(other),
        }
    }
    let mut ns_order: Vec<i32> = Vec::new();
    for (t, _) in &good {
        if !ns_order.contains(&t.ns) {
            ns_order.push(t.ns);
        }
    }
    good.sort_by(|a, b| {
        let ia = ns_order.iter().position(|n| *n == a.0.ns);
        let ib = ns_order.iter().position(|n| *n == b.0.ns);
        ia.cmp(&ib).then(a.0.dbkey.cmp(&b.0.dbkey))
    });
    bad.extend(good.into_iter().map(|(t, p)| PageEntry::Good(t, p)));
    Ok(PageSet {
        entries: bad,
        normalized,
    })
}

/// `action=query`.
pub async fn execute(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let high = req.user.can("apihighlimits");
    let maxv = if high { 500 } else { 50 };
    let props = req
        .params
        .multi("query", "prop", Some(PROPS), maxv)?
        .unwrap_or_default();
    let lists = req
        .params
        .multi("query", "list", Some(LISTS), maxv)?
        .unwrap_or_default();
    let metas = req
        .params
        .multi("query", "meta", Some(METAS), maxv)?
        .unwrap_or_default();
    let mut titles = req
        .params
        .multi("query", "titles", None, maxv)?
        .unwrap_or_default();
    let pageids: Vec<i64> = req
        .params
        .multi("query", "pageids", None, maxv)?
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let generator = match req.params.string("generator")? {
        Some(g) if GENERATORS.contains(&g.as_str()) => Some(g),
        Some(g) => return Err(ApiError::bad_value("generator", &g)),
        None => None,
    };
    let indexpageids = req.params.flag("indexpageids");
    req.params.flag("redirects");
    req.params.flag("rawcontinue");
    req.params.flag("export");
    req.params.flag("exportnowrap");
    req.params.flag("iwurl");
    req.params.touch("continue");
    req.check_module(None, false, false)?;
    if generator.is_some() && (!titles.is_empty() || !pageids.is_empty()) {
        return Err(ApiError::new(
            Code::InvalidParamMix,
            "The parameters \"titles\" and \"generator\" can not be used together.",
        ));
    }

    let mut out = Map::new();
    let mut query = Map::new();
    let mut cont = Map::new();
    let mut batch_complete = true;

    // Generator: produces the titles of the page set.
    if let Some(g) = &generator {
        let (gen_titles, gen_cont) = match g.as_str() {
            "allimages" => {
                let (items, next) = allimages_items(req, "gai").await?;
                (
                    items
                        .iter()
                        .map(|v| format!("File:{}", v.name))
                        .collect::<Vec<_>>(),
                    next.map(|n| ("gaicontinue".to_owned(), n)),
                )
            }
            "allpages" => {
                let ns = req
                    .params
                    .int("query", "gapnamespace", 0, Some(15))?
                    .unwrap_or(0);
                let limit = req.params.limit("query", "gaplimit", 10, 500, 5000, high)?;
                let (names, next) = allpages_items(req, ns as i32, "gap", limit).await?;
                (names, next.map(|n| ("gapcontinue".to_owned(), n)))
            }
            _ => {
                // duplicatefiles as a generator: files with the same content as the titles.
                (Vec::new(), None)
            }
        };
        if let Some((k, v)) = gen_cont {
            cont.insert(k, v.into());
        }
        titles = gen_titles;
    }

    let pageset = if !titles.is_empty() || !pageids.is_empty() {
        Some(build_pageset(req, &titles, &pageids).await?)
    } else {
        None
    };

    if let Some(ps) = &pageset {
        if !ps.normalized.is_empty() {
            query.insert(
                "normalized".into(),
                Value::Array(
                    ps.normalized
                        .iter()
                        .map(|(f, t)| json!({"fromencoded": false, "from": f, "to": t}))
                        .collect(),
                ),
            );
        }
        let ii_props = if props.iter().any(|p| p == "imageinfo") {
            Some(imageinfo_params(req, high)?)
        } else {
            None
        };
        let single_file = ps
            .entries
            .iter()
            .filter(|e| match e {
                PageEntry::Good(t, _) | PageEntry::Missing(t) => t.ns == NS_FILE,
                PageEntry::Invalid(..) => false,
            })
            .count()
            == 1;
        let mut pages: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut fake = 0i64;
        for e in &ps.entries {
            let mut o = Map::new();
            let key;
            match e {
                PageEntry::Invalid(t, reason) => {
                    fake -= 1;
                    key = fake.to_string();
                    o.insert("title".into(), t.clone().into());
                    o.insert("invalidreason".into(), reason.clone().into());
                    o.insert("invalid".into(), true.into());
                }
                PageEntry::Missing(t) => {
                    fake -= 1;
                    key = fake.to_string();
                    o.insert("ns".into(), t.ns.into());
                    o.insert(
                        "title".into(),
                        t.prefixed_text_in(&req.app.config.sitename).into(),
                    );
                    o.insert("missing".into(), true.into());
                }
                PageEntry::Good(t, p) => {
                    key = p.id.to_string();
                    o.insert("pageid".into(), p.id.into());
                    o.insert("ns".into(), t.ns.into());
                    o.insert(
                        "title".into(),
                        t.prefixed_text_in(&req.app.config.sitename).into(),
                    );
                }
            }
            for prop in &props {
                match prop.as_str() {
                    "info" => info_prop(req, e, &mut o).await?,
                    "imageinfo" => {
                        if let Some((ip, limit, start, end)) = &ii_props {
                            let more =
                                imageinfo_prop(req, e, &mut o, ip, *limit, start, end).await?;
                            // Like MediaWiki, older versions beyond iilimit are offered
                            // for continuation only when a single file was asked for.
                            if let (Some(next), true) = (more, single_file) {
                                cont.insert("iistart".into(), next.into());
                                batch_complete = false;
                            }
                        }
                    }
                    "revisions" => revisions_prop(req, e, &mut o, high).await?,
                    "duplicatefiles" => duplicatefiles_prop(req, e, &mut o).await?,
                    "categories" => categories_prop(req, e, &mut o).await?,
                    _ => {}
                }
            }
            pages.push((key, o));
        }
        if indexpageids {
            query.insert(
                "pageids".into(),
                Value::Array(pages.iter().map(|(k, _)| k.clone().into()).collect()),
            );
        }
        if req.fv2 {
            query.insert(
                "pages".into(),
                Value::Array(pages.into_iter().map(|(_, o)| Value::Object(o)).collect()),
            );
        } else {
            let mut m = Map::new();
            for (k, o) in pages {
                m.insert(k, Value::Object(o));
            }
            query.insert("pages".into(), Value::Object(m));
        }
        if !batch_complete {
            let done: Vec<&str> = props
                .iter()
                .filter(|p| p.as_str() != "imageinfo")
                .map(|s| s.as_str())
                .collect();
            cont.insert("continue".into(), format!("||{}", done.join("|")).into());
        }
    }
    if props.iter().any(|p| p == "stashimageinfo") {
        let items = stashimageinfo(req).await?;
        query.insert("stashimageinfo".into(), Value::Array(items));
    }

    for list in &lists {
        match list.as_str() {
            "allimages" => {
                let (items, next) = allimages_items(req, "ai").await?;
                let aiprops = aiprops(req)?;
                let mut arr = Vec::new();
                for v in &items {
                    let page = req.app.repo.page(NS_FILE, &v.name).await?;
                    let described = if aiprops.has("extmetadata") {
                        imageinfo::page_description(&req.app, &v.name).await
                    } else {
                        None
                    };
                    let mut o = Map::new();
                    o.insert("name".into(), v.name.clone().into());
                    o.extend(version_info(
                        &req.app,
                        v,
                        &aiprops,
                        page.map(|p| p.id),
                        described.as_ref(),
                        false,
                    ));
                    o.insert("ns".into(), NS_FILE.into());
                    o.insert(
                        "title".into(),
                        format!("File:{}", v.name.replace('_', " ")).into(),
                    );
                    arr.push(Value::Object(o));
                }
                query.insert("allimages".into(), Value::Array(arr));
                if let Some(n) = next {
                    cont.insert("aicontinue".into(), n.into());
                }
            }
            "allpages" => {
                let ns = req
                    .params
                    .int("query", "apnamespace", 0, Some(15))?
                    .unwrap_or(0);
                let limit = req.params.limit("query", "aplimit", 10, 500, 5000, high)?;
                let (names, next) = allpages_items(req, ns as i32, "ap", limit).await?;
                let mut arr = Vec::new();
                for n in names {
                    if let Ok(t) = title::parse_title_in(&n, &req.app.config.sitename, 0) {
                        if let Some(p) = req.app.repo.page(t.ns, &t.dbkey).await? {
                            arr.push(json!({"pageid": p.id, "ns": t.ns, "title": n}));
                        }
                    }
                }
                query.insert("allpages".into(), Value::Array(arr));
                if let Some(n) = next {
                    cont.insert("apcontinue".into(), n.into());
                }
            }
            "logevents" => {
                let (items, next) = logevents(req, high).await?;
                query.insert("logevents".into(), Value::Array(items));
                if let Some(n) = next {
                    cont.insert("lecontinue".into(), n.into());
                }
            }
            "mystashedfiles" => {
                let (items, next) = mystashedfiles(req, high).await?;
                query.insert("mystashedfiles".into(), Value::Array(items));
                if let Some(n) = next {
                    cont.insert("msfcontinue".into(), n.into());
                }
            }
            "filearchive" => {
                let (items, next) = filearchive(req, high).await?;
                query.insert("filearchive".into(), Value::Array(items));
                if let Some(n) = next {
                    cont.insert("facontinue".into(), n.into());
                }
            }
            _ => {}
        }
    }

    for meta in &metas {
        match meta.as_str() {
            "tokens" => {
                let tokens = tokens(req)?;
                query.insert("tokens".into(), Value::Object(tokens));
            }
            "userinfo" => {
                let ui = userinfo(req).await?;
                query.insert("userinfo".into(), Value::Object(ui));
            }
            "siteinfo" => {
                let (m, unknown) = siteinfo(req).await?;
                for u in unknown {
                    req.params.warn(
                        "siteinfo",
                        "unrecognizedvalues",
                        &format!("Unrecognized value for parameter \"siprop\": {u}"),
                    );
                }
                query.extend(m);
            }
            "filerepoinfo" => {
                let ctx_stats = req.app.repo.stats().await?;
                let ctx = site_context(&req.app, &ctx_stats);
                query.insert(
                    "repos".into(),
                    crate::query::siteinfo::filerepoinfo(&ctx, req.fv2),
                );
            }
            _ => {}
        }
    }

    if batch_complete {
        out.insert("batchcomplete".into(), true.into());
    }
    if !cont.is_empty() {
        if !cont.contains_key("continue") {
            cont.insert("continue".into(), "-||".into());
        }
        out.insert("continue".into(), Value::Object(cont));
    }
    if !query.is_empty() {
        out.insert("query".into(), Value::Object(query));
    }
    let limits = crate::params::lock(&req.params.limits).clone();
    if !limits.is_empty() {
        let mut m = Map::new();
        for (module, v) in limits {
            m.insert(module, v.into());
        }
        out.insert("limits".into(), Value::Object(m));
    }
    Ok(out)
}

type IiParams = (InfoProps, i64, Option<String>, Option<String>);

fn imageinfo_params(req: &Req, high: bool) -> Result<IiParams, ApiError> {
    let props = req
        .params
        .multi("imageinfo", "iiprop", Some(II_PROPS), 50)?
        .unwrap_or_else(|| vec!["timestamp".into(), "user".into()]);
    let limit = req
        .params
        .limit("imageinfo", "iilimit", 1, 500, 5000, high)?;
    let start = req.params.string("iistart")?.map(|s| iso_to_ts14(&s));
    let end = req.params.string("iiend")?.map(|s| iso_to_ts14(&s));
    let mut ip = InfoProps::new(&props);
    ip.url_width = req
        .params
        .int("imageinfo", "iiurlwidth", -1, None)?
        .filter(|w| *w != -1);
    ip.url_height = req
        .params
        .int("imageinfo", "iiurlheight", -1, None)?
        .filter(|h| *h >= 0);
    ip.url_param = req.params.string("iiurlparam")?.filter(|s| !s.is_empty());
    req.params.string("iimetadataversion")?;
    if let Some(lang) = req.params.string("iiextmetadatalanguage")? {
        ip.ext.language = lang;
    }
    ip.ext.multilang = req.params.flag("iiextmetadatamultilang");
    ip.ext.filter = req
        .params
        .multi("imageinfo", "iiextmetadatafilter", None, 50)?;
    req.params.string("iibadfilecontexttitle")?;
    req.params.flag("iilocalonly");
    req.params.string("iicontinue")?;
    Ok((ip, limit, start, end))
}

/// Accepts ISO 8601, 14-digit and unix timestamps; returns 14 digits.
pub fn iso_to_ts14(s: &str) -> String {
    if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_owned();
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return mwstore_storage::ts14(t.with_timezone(&chrono::Utc));
    }
    if let Ok(n) = s.parse::<i64>() {
        if let Some(t) = chrono::DateTime::from_timestamp(n, 0) {
            return mwstore_storage::ts14(t);
        }
    }
    s.to_owned()
}

async fn info_prop(req: &Req, e: &PageEntry, o: &mut Map<String, Value>) -> Result<(), ApiError> {
    let inprops = req
        .params
        .multi(
            "info",
            "inprop",
            Some(crate::params::table::enum_values("query+info", "prop")),
            50,
        )?
        .unwrap_or_default();
    let has = |p: &str| inprops.iter().any(|x| x == p);
    let (t, page) = match e {
        PageEntry::Good(t, p) => (t, Some(p)),
        PageEntry::Missing(t) => (t, None),
        PageEntry::Invalid(..) => return Ok(()),
    };
    o.insert("contentmodel".into(), "wikitext".into());
    o.insert("pagelanguage".into(), "en".into());
    o.insert("pagelanguagehtmlcode".into(), "en".into());
    o.insert("pagelanguagedir".into(), "ltr".into());
    if let Some(p) = page {
        o.insert("touched".into(), iso(&p.touched));
        o.insert("lastrevid".into(), p.latest.into());
        o.insert("length".into(), p.len.into());
    }
    if has("protection") {
        let mut arr = Vec::new();
        if let Some(p) = page {
            for (ty, level, expiry) in req.app.repo.restrictions(p.id).await? {
                arr.push(json!({"type": ty, "level": level, "expiry": expiry}));
            }
        }
        o.insert("protection".into(), Value::Array(arr));
        o.insert(
            "restrictiontypes".into(),
            if t.ns == NS_FILE {
                json!(["edit", "move", "upload"])
            } else if page.is_some() {
                json!(["edit", "move"])
            } else {
                json!(["create"])
            },
        );
    }
    if has("watched") && !req.user.is_anon() {
        o.insert(
            "watched".into(),
            req.app
                .repo
                .is_watched(req.user.id, t.ns, &t.dbkey)
                .await?
                .into(),
        );
    }
    if has("url") {
        let pd = t.prefixed_dbkey_in(&req.app.config.sitename);
        let url = page_url(&req.app, &pd);
        o.insert("fullurl".into(), url.clone().into());
        o.insert("editurl".into(), format!("{url}&action=edit").into());
        o.insert("canonicalurl".into(), url.into());
    }
    if has("readable") {
        o.insert("readable".into(), true.into());
    }
    if has("displaytitle") {
        o.insert(
            "displaytitle".into(),
            t.prefixed_text_in(&req.app.config.sitename).into(),
        );
    }
    Ok(())
}

async fn imageinfo_prop(
    req: &Req,
    e: &PageEntry,
    o: &mut Map<String, Value>,
    ip: &InfoProps,
    limit: i64,
    start: &Option<String>,
    end: &Option<String>,
) -> Result<Option<String>, ApiError> {
    let t = match e {
        PageEntry::Good(t, _) | PageEntry::Missing(t) => t,
        PageEntry::Invalid(..) => return Ok(None),
    };
    if t.ns != NS_FILE {
        return Ok(None);
    }
    let history = req.app.repo.file_history(&t.dbkey).await?;
    if history.is_empty() {
        o.insert("imagerepository".into(), "".into());
        return Ok(None);
    }
    o.insert("imagerepository".into(), "local".into());
    if ip.has("badfile") {
        o.insert("badfile".into(), false.into());
    }
    let page_id = match e {
        PageEntry::Good(_, p) => Some(p.id),
        _ => None,
    };
    if let Some(current) = history.first() {
        crate::files::thumbs::check_asked(req, "imageinfo", &t.dbkey, &current.meta, ip)?;
    }
    let described = if ip.has("extmetadata") {
        imageinfo::page_description(&req.app, &t.dbkey).await
    } else {
        None
    };
    let mut arr = Vec::new();
    let mut next = None;
    for (i, v) in history
        .iter()
        .filter(|v| start.as_ref().is_none_or(|s| v.timestamp <= *s))
        .filter(|v| end.as_ref().is_none_or(|e| v.timestamp >= *e))
        .enumerate()
    {
        if i as i64 >= limit {
            next = Some(ts14_to_iso(&v.timestamp));
            break;
        }
        arr.push(Value::Object(version_info(
            &req.app,
            v,
            ip,
            page_id,
            described.as_ref(),
            i == 0,
        )));
    }
    o.insert("imageinfo".into(), Value::Array(arr));
    Ok(next)
}

async fn revisions_prop(
    req: &Req,
    e: &PageEntry,
    o: &mut Map<String, Value>,
    high: bool,
) -> Result<(), ApiError> {
    let props = req
        .params
        .multi(
            "revisions",
            "rvprop",
            Some(crate::params::table::enum_values("query+revisions", "prop")),
            50,
        )?
        .unwrap_or_else(|| {
            vec![
                "ids".into(),
                "timestamp".into(),
                "flags".into(),
                "comment".into(),
                "user".into(),
            ]
        });
    req.params.multi("revisions", "rvslots", None, 50)?;
    let limit = req
        .params
        .limit("revisions", "rvlimit", 1, 500, 5000, high)?;
    let dir = req
        .params
        .enumerated("rvdir", &["newer", "older"], "older")?;
    let PageEntry::Good(_, page) = e else {
        return Ok(());
    };
    let has = |p: &str| props.iter().any(|x| x == p);
    let revs = req
        .app
        .repo
        .revisions(page.id, limit as u32, dir == "older")
        .await?;
    let mut arr = Vec::new();
    for r in revs {
        let mut ro = Map::new();
        if has("ids") {
            ro.insert("revid".into(), r.id.into());
            ro.insert("parentid".into(), r.parent.into());
        }
        if has("user") {
            ro.insert("user".into(), r.user_text.clone().into());
        }
        if has("userid") {
            ro.insert("userid".into(), r.user_id.into());
        }
        if has("timestamp") {
            ro.insert("timestamp".into(), iso(&r.timestamp));
        }
        if has("size") {
            ro.insert("size".into(), r.text.len().into());
        }
        if has("sha1") {
            use sha1::Digest;
            ro.insert(
                "sha1".into(),
                hex::encode(sha1::Sha1::digest(r.text.as_bytes())).into(),
            );
        }
        if has("content") || has("contentmodel") {
            let mut main = Map::new();
            if has("contentmodel") {
                main.insert("contentmodel".into(), "wikitext".into());
            }
            if has("content") {
                main.insert("contentformat".into(), "text/x-wiki".into());
                main.insert(
                    if req.fv2 { "content" } else { "*" }.into(),
                    r.text.clone().into(),
                );
            }
            ro.insert("slots".into(), json!({ "main": main }));
        }
        if has("comment") {
            ro.insert("comment".into(), r.comment.clone().into());
        }
        if has("parsedcomment") {
            ro.insert("parsedcomment".into(), parse_comment(&r.comment).into());
        }
        arr.push(Value::Object(ro));
    }
    o.insert("revisions".into(), Value::Array(arr));
    Ok(())
}

async fn duplicatefiles_prop(
    req: &Req,
    e: &PageEntry,
    o: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    req.params.flag("dflocalonly");
    req.params.string("dflimit")?;
    req.params.string("dfdir")?;
    let PageEntry::Good(t, _) = e else {
        return Ok(());
    };
    if t.ns != NS_FILE {
        return Ok(());
    }
    let Some(cur) = req.app.repo.current_file(&t.dbkey).await? else {
        return Ok(());
    };
    let mut arr = Vec::new();
    for name in req.app.repo.names_by_sha1(&cur.meta.sha1).await? {
        if name == t.dbkey {
            continue;
        }
        if let Some(v) = req.app.repo.current_file(&name).await? {
            arr.push(json!({"name": name, "timestamp": ts14_to_iso(&v.timestamp), "user": v.user_text, "shared": false}));
        }
    }
    if !arr.is_empty() {
        o.insert("duplicatefiles".into(), Value::Array(arr));
    }
    Ok(())
}

async fn categories_prop(
    req: &Req,
    e: &PageEntry,
    o: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let PageEntry::Good(_, page) = e else {
        return Ok(());
    };
    let Some(rev) = req.app.repo.revision(page.latest).await? else {
        return Ok(());
    };
    let re = regex::Regex::new(r"\[\[\s*[Cc]ategory\s*:\s*([^\]|]+)(?:\|[^\]]*)?\]\]");
    let mut arr = Vec::new();
    if let Ok(re) = re {
        for c in re.captures_iter(&rev.text) {
            if let Some(m) = c.get(1) {
                arr.push(json!({"ns": 14, "title": format!("Category:{}", title::ucfirst(m.as_str().trim()))}));
            }
        }
    }
    if !arr.is_empty() {
        o.insert("categories".into(), Value::Array(arr));
    }
    Ok(())
}

fn aiprops(req: &Req) -> Result<InfoProps, ApiError> {
    let props = req
        .params
        .multi(
            "allimages",
            "aiprop",
            Some(crate::params::table::enum_values("query+allimages", "prop")),
            50,
        )?
        .unwrap_or_else(|| vec!["timestamp".into(), "url".into()]);
    Ok(InfoProps::new(&props))
}

/// Runs the allimages listing with parameter prefix `ai` or `gai`.
async fn allimages_items(
    req: &Req,
    p: &str,
) -> Result<(Vec<FileVersion>, Option<String>), ApiError> {
    let m = if p == "gai" { "query" } else { "allimages" };
    let high = req.user.can("apihighlimits");
    let sort = req
        .params
        .enumerated(&format!("{p}sort"), &["name", "timestamp"], "name")?;
    let dir = req.params.enumerated(
        &format!("{p}dir"),
        &["ascending", "descending", "newer", "older"],
        "ascending",
    )?;
    let from = req.params.string(&format!("{p}from"))?;
    let to = req.params.string(&format!("{p}to"))?;
    let prefix = req.params.string(&format!("{p}prefix"))?;
    let start = req.params.string(&format!("{p}start"))?;
    let end = req.params.string(&format!("{p}end"))?;
    let cont = req.params.string(&format!("{p}continue"))?;
    let minsize = req.params.int(m, &format!("{p}minsize"), 0, None)?;
    let maxsize = req.params.int(m, &format!("{p}maxsize"), 0, None)?;
    let sha1 = req.params.string(&format!("{p}sha1"))?;
    let sha1b36 = req.params.string(&format!("{p}sha1base36"))?;
    let user = req.params.string(&format!("{p}user"))?;
    req.params.string(&format!("{p}filterbots"))?;
    if req.params.string(&format!("{p}mime"))?.is_some() {
        return Err(ApiError::new(
            Code::MimeSearchDisabled,
            "MIME search is disabled in Miser Mode.",
        ));
    }
    let limit = req
        .params
        .limit(m, &format!("{p}limit"), 10, 500, 5000, high)?;
    let descending = matches!(dir.as_str(), "descending" | "older");
    let sort = if sort == "timestamp" {
        ImageSort::Timestamp
    } else {
        ImageSort::Name
    };
    if sort == ImageSort::Name {
        if start.is_some() || end.is_some() {
            return Err(ApiError::new(
                Code::InvalidParamMix,
                format!("The parameter \"{p}start\" may only be used with {p}sort=timestamp."),
            ));
        }
        if user.is_some() {
            return Err(ApiError::new(
                Code::InvalidParamMix,
                format!("The parameter \"{p}user\" may only be used with {p}sort=timestamp."),
            ));
        }
    } else if from.is_some() || to.is_some() || prefix.is_some() {
        return Err(ApiError::new(
            Code::InvalidParamMix,
            format!("The parameter \"{p}from\" may only be used with {p}sort=name."),
        ));
    }
    let sha1 = match (sha1, sha1b36) {
        (Some(h), _) => {
            let h = h.to_ascii_lowercase();
            if h.len() != 40 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::new(
                    Code::InvalidSha1Hash,
                    "The SHA1 hash provided is not valid.",
                ));
            }
            Some(h)
        }
        (None, Some(b)) => {
            match mwstore_domain::base36::sha1_base36_to_hex(&b.to_ascii_lowercase()) {
                Some(h) => Some(h),
                None => {
                    return Err(ApiError::new(
                        Code::InvalidSha1Base36Hash,
                        "The SHA1Base36 hash provided is not valid.",
                    ))
                }
            }
        }
        _ => None,
    };
    let dbkey = |s: &str| s.trim().replace(' ', "_");
    let continue_from = match &cont {
        Some(c) if sort == ImageSort::Timestamp => c
            .split_once('|')
            .map(|(ts, n)| (ts.to_owned(), n.to_owned())),
        Some(c) => Some((String::new(), c.clone())),
        None => None,
    };
    let q = ImageQuery {
        sort,
        descending,
        from: from.map(|f| title::ucfirst(&dbkey(&f))),
        to: to.map(|t| title::ucfirst(&dbkey(&t))),
        prefix: prefix.map(|x| title::ucfirst(&dbkey(&x))),
        start: start.map(|s| iso_to_ts14(&s)),
        end: end.map(|s| iso_to_ts14(&s)),
        sha1,
        min_size: minsize.map(|v| v as u64),
        max_size: maxsize.map(|v| v as u64),
        user: user.map(|u| crate::auth::login::canonical_user_name(&u)),
        continue_from,
        limit: (limit + 1) as u32,
    };
    let mut items = req.app.repo.list_files(&q).await?;
    let next = if items.len() as i64 > limit {
        let n = items.pop();
        n.map(|v| match sort {
            ImageSort::Name => v.name,
            ImageSort::Timestamp => format!("{}|{}", v.timestamp, v.name),
        })
    } else {
        None
    };
    Ok((items, next))
}

async fn allpages_items(
    req: &Req,
    ns: i32,
    p: &str,
    limit: i64,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    // Only the File namespace holds pages here: list file description pages.
    let from = req.params.string(&format!("{p}from"))?;
    let cont = req.params.string(&format!("{p}continue"))?;
    let prefix = req.params.string(&format!("{p}prefix"))?;
    if ns != NS_FILE {
        return Ok((Vec::new(), None));
    }
    let q = ImageQuery {
        sort: ImageSort::Name,
        descending: false,
        from: cont.or(from).map(|s| s.replace(' ', "_")),
        to: None,
        prefix: prefix.map(|s| s.replace(' ', "_")),
        start: None,
        end: None,
        sha1: None,
        min_size: None,
        max_size: None,
        user: None,
        continue_from: None,
        limit: (limit + 1) as u32,
    };
    let mut items = req.app.repo.list_files(&q).await?;
    let next = if items.len() as i64 > limit {
        items.pop().map(|v| v.name)
    } else {
        None
    };
    Ok((
        items
            .into_iter()
            .map(|v| format!("File:{}", v.name.replace('_', " ")))
            .collect(),
        next,
    ))
}

async fn logevents(req: &Req, high: bool) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let props = req
        .params
        .multi(
            "logevents",
            "leprop",
            Some(crate::params::table::enum_values("query+logevents", "prop")),
            50,
        )?
        .unwrap_or_else(|| {
            [
                "ids",
                "title",
                "type",
                "user",
                "timestamp",
                "comment",
                "details",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
        });
    let has = |p: &str| props.iter().any(|x| x == p);
    let letype = req.params.string("letype")?;
    let leaction = req.params.string("leaction")?;
    let letitle = req.params.string("letitle")?;
    let dir = req
        .params
        .enumerated("ledir", &["newer", "older"], "older")?;
    let limit = req
        .params
        .limit("logevents", "lelimit", 10, 500, 5000, high)?;
    let cont = req.params.string("lecontinue")?;
    req.params.string("leuser")?;
    req.params.string("lestart")?;
    req.params.string("leend")?;
    let (ltype, laction) = match &leaction {
        Some(a) => match a.split_once('/') {
            Some((t, ac)) => (Some(t.to_owned()), Some(ac.to_owned())),
            None => (letype.clone(), None),
        },
        None => (letype.clone(), None),
    };
    let title_filter = match &letitle {
        Some(t) => Some(
            title::parse_title_in(t, &req.app.config.sitename, 0).map_err(|e| {
                ApiError::new(Code::InvalidTitle, format!("Bad title \"{t}\". {e}"))
            })?,
        ),
        None => None,
    };
    let mut cursor: Option<(String, i64)> = cont.as_deref().and_then(|c| {
        let (ts, id) = c.split_once('|')?;
        Some((ts.to_owned(), id.parse::<i64>().ok()?))
    });
    let mut out = Vec::new();
    let mut next = None;
    // Filtering by title happens here; fetch in pages until the limit is filled.
    'outer: loop {
        let batch = req
            .app
            .repo
            .log_events(
                ltype.as_deref(),
                laction.as_deref(),
                dir == "newer",
                cursor.clone(),
                (limit + 1) as u32,
            )
            .await?;
        let exhausted = (batch.len() as i64) <= limit;
        for e in &batch {
            cursor = Some((
                e.timestamp.clone(),
                if dir == "newer" { e.id + 1 } else { e.id - 1 },
            ));
            if let Some(t) = &title_filter {
                if e.ns != t.ns || e.title != t.dbkey {
                    continue;
                }
            }
            if out.len() as i64 >= limit {
                next = Some(format!("{}|{}", e.timestamp, e.id));
                break 'outer;
            }
            let mut o = Map::new();
            if has("ids") {
                o.insert("logid".into(), e.id.into());
            }
            if has("title") {
                o.insert("ns".into(), e.ns.into());
                let t = Title {
                    ns: e.ns,
                    dbkey: e.title.clone(),
                };
                o.insert(
                    "title".into(),
                    t.prefixed_text_in(&req.app.config.sitename).into(),
                );
            }
            if has("ids") {
                let current = req.app.repo.page(e.ns, &e.title).await?.map(|p| p.id);
                o.insert("pageid".into(), current.unwrap_or(0).into());
                o.insert("logpage".into(), e.page_id.into());
            }
            if has("details") {
                let mut params: Value = serde_json::from_str(&e.params).unwrap_or(json!({}));
                if let Some(m) = params.as_object_mut() {
                    m.remove("associated_rev_id");
                    if let Some(ts) = m.get("img_timestamp").and_then(|v| v.as_str()) {
                        let iso_ts = ts14_to_iso(ts);
                        m.insert("img_timestamp".into(), iso_ts.into());
                    }
                }
                o.insert("params".into(), params);
            }
            if has("type") {
                o.insert("type".into(), e.log_type.clone().into());
                o.insert("action".into(), e.action.clone().into());
            }
            if has("user") {
                o.insert("user".into(), e.user_text.clone().into());
            }
            if has("userid") {
                o.insert("userid".into(), e.user_id.into());
            }
            if has("timestamp") {
                o.insert("timestamp".into(), iso(&e.timestamp));
            }
            if has("comment") {
                o.insert("comment".into(), e.comment.clone().into());
            }
            if has("parsedcomment") {
                o.insert("parsedcomment".into(), parse_comment(&e.comment).into());
            }
            if has("tags") {
                o.insert("tags".into(), Value::Array(Vec::new()));
            }
            out.push(Value::Object(o));
        }
        if exhausted {
            break;
        }
    }
    Ok((out, next))
}

async fn mystashedfiles(req: &Req, high: bool) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let props = req
        .params
        .multi("mystashedfiles", "msfprop", Some(&["size", "type"]), 50)?
        .unwrap_or_default();
    let limit = req
        .params
        .limit("mystashedfiles", "msflimit", 10, 500, 5000, high)?;
    let cont = req
        .params
        .string("msfcontinue")?
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    if req.user.is_anon() {
        return Err(ApiError::new(
            Code::StashNotLoggedIn,
            "The upload stash is only available to logged-in users.",
        ));
    }
    let now = Req::now();
    let mut rows = req
        .app
        .repo
        .stash_list(req.user.id, cont, (limit + 1) as u32)
        .await?;
    let next = if rows.len() as i64 > limit {
        rows.pop().map(|r| r.id.to_string())
    } else {
        None
    };
    let has = |p: &str| props.iter().any(|x| x == p);
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| r.expires > now) {
        let mut o = Map::new();
        o.insert("filekey".into(), r.key.clone().into());
        o.insert("status".into(), r.status.as_wire().into());
        if has("size") {
            o.insert("size".into(), r.meta.size.into());
            o.insert("width".into(), r.meta.width.into());
            o.insert("height".into(), r.meta.height.into());
            o.insert("bits".into(), r.meta.bits.into());
        }
        if has("type") {
            o.insert("mimetype".into(), r.meta.mime().into());
            o.insert("mediatype".into(), r.meta.media_type.clone().into());
        }
        out.push(Value::Object(o));
    }
    Ok((out, next))
}

async fn filearchive(req: &Req, high: bool) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let props = req
        .params
        .multi(
            "filearchive",
            "faprop",
            Some(crate::params::table::enum_values(
                "query+filearchive",
                "prop",
            )),
            50,
        )?
        .unwrap_or_else(|| vec!["timestamp".into()]);
    let limit = req
        .params
        .limit("filearchive", "falimit", 10, 500, 5000, high)?;
    let sha1 = req.params.string("fasha1")?;
    let cont = req.params.string("facontinue")?;
    req.params.string("fafrom")?;
    req.params.string("faprefix")?;
    req.params.string("fadir")?;
    if !req.user.can("deletedhistory") {
        return Err(ApiError::new(
            Code::PermissionDenied,
            "You don't have permission to view descriptions of deleted files.",
        ));
    }
    let has = |p: &str| props.iter().any(|x| x == p);
    let rows = match &sha1 {
        Some(h) => {
            req.app
                .repo
                .archived_by_sha1(&h.to_ascii_lowercase())
                .await?
        }
        None => {
            let from = cont.as_deref().and_then(|c| {
                let (n, id) = c.split_once('|')?;
                Some((n.to_owned(), id.parse().ok()?))
            });
            req.app.repo.list_archived(from, (limit + 1) as u32).await?
        }
    };
    let mut out = Vec::new();
    let mut next = None;
    for (i, a) in rows.iter().enumerate() {
        if i as i64 >= limit {
            next = Some(format!("{}|{}", a.name, a.id));
            break;
        }
        let mut o = Map::new();
        o.insert("id".into(), a.id.into());
        o.insert("name".into(), a.name.clone().into());
        o.insert("ns".into(), NS_FILE.into());
        o.insert(
            "title".into(),
            format!("File:{}", a.name.replace('_', " ")).into(),
        );
        if has("description") {
            o.insert("description".into(), a.description.clone().into());
        }
        if has("parseddescription") {
            o.insert(
                "parseddescription".into(),
                parse_comment(&a.description).into(),
            );
        }
        if has("user") {
            o.insert("userid".into(), a.user_id.into());
            o.insert("user".into(), a.user_text.clone().into());
        }
        if has("sha1") {
            o.insert("sha1".into(), a.meta.sha1.clone().into());
        }
        if has("timestamp") {
            o.insert("timestamp".into(), iso(&a.timestamp));
        }
        if has("size") || has("dimensions") {
            // MediaWiki reports these as strings here.
            o.insert("size".into(), a.meta.size.to_string().into());
            o.insert("height".into(), a.meta.height.to_string().into());
            o.insert("width".into(), a.meta.width.to_string().into());
        }
        if has("mediatype") {
            o.insert("mediatype".into(), a.meta.media_type.clone().into());
        }
        if has("metadata") {
            o.insert("metadata".into(), meta_lists(&a.meta.metadata).0);
        }
        if has("bitdepth") {
            o.insert("bitdepth".into(), a.meta.bits.to_string().into());
        }
        if has("mime") {
            o.insert("mime".into(), a.meta.mime().into());
        }
        if has("archivename") {
            if let Some(n) = &a.archive_name {
                o.insert("archivename".into(), n.clone().into());
            }
        }
        out.push(Value::Object(o));
    }
    Ok((out, next))
}

async fn stashimageinfo(req: &Req) -> Result<Vec<Value>, ApiError> {
    let keys = req.params.multi("stashimageinfo", "siifilekey", None, 50)?;
    let old = req
        .params
        .multi("stashimageinfo", "siisessionkey", None, 50)?;
    if old.is_some() {
        req.params.warn_deprecated(
            "stashimageinfo",
            "The parameter \"siisessionkey\" has been deprecated.",
        );
    }
    let props = req
        .params
        .multi(
            "stashimageinfo",
            "siiprop",
            Some(crate::params::table::enum_values(
                "query+stashimageinfo",
                "prop",
            )),
            50,
        )?
        .unwrap_or_else(|| vec!["timestamp".into(), "url".into()]);
    let mut ip = InfoProps::new(&props);
    // The same thumbnail parameters as imageinfo's, with the same rules.
    ip.url_width = req
        .params
        .int("stashimageinfo", "siiurlwidth", -1, None)?
        .filter(|w| *w != -1);
    ip.url_height = req
        .params
        .int("stashimageinfo", "siiurlheight", -1, None)?
        .filter(|h| *h >= 0);
    ip.url_param = req.params.string("siiurlparam")?.filter(|s| !s.is_empty());
    let keys = keys.or(old).unwrap_or_default();
    if keys.is_empty() {
        return Err(ApiError::new(
            Code::MissingParam,
            "At least one of the parameters \"siifilekey\" and \"siisessionkey\" is required.",
        ));
    }
    if req.user.is_anon() {
        return Err(ApiError::new(
            Code::NotLoggedIn,
            "The upload stash is only available to logged-in users.",
        ));
    }
    let mut out = Vec::new();
    for k in keys {
        let e = crate::ingest::stash::load_owned(req, &k).await?;
        crate::files::thumbs::check_asked(req, "stashimageinfo", &e.key, &e.meta, &ip)?;
        out.push(Value::Object(stash_info(&req.app, &e, &ip)));
    }
    Ok(out)
}

fn tokens(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let types = req
        .params
        .multi(
            "tokens",
            "type",
            Some(crate::params::table::TOKEN_TYPES),
            50,
        )?
        .unwrap_or_else(|| vec!["csrf".into()]);
    let mut m = Map::new();
    if req.untrusted {
        req.params.warn(
            "tokens",
            "tokens-origin",
            "Tokens may not be obtained when the same-origin policy is not applied.",
        );
        return Ok(m);
    }
    for t in types {
        let tok = req.token(&t);
        m.insert(format!("{t}token"), tok.into());
    }
    Ok(m)
}

/// `meta=userinfo`.
pub async fn userinfo(req: &Req) -> Result<Map<String, Value>, ApiError> {
    let props = req
        .params
        .multi(
            "userinfo",
            "uiprop",
            Some(crate::params::table::enum_values("query+userinfo", "prop")),
            50,
        )?
        .unwrap_or_default();
    let has = |p: &str| props.iter().any(|x| x == p);
    let u = &req.user;
    let mut m = Map::new();
    m.insert("id".into(), u.id.into());
    m.insert("name".into(), u.name.clone().into());
    if u.is_anon() {
        m.insert("anon".into(), true.into());
    }
    if has("hasmsg") {
        m.insert("messages".into(), false.into());
    }
    if has("groups") {
        m.insert("groups".into(), json!(u.groups));
    }
    if has("groupmemberships") {
        m.insert(
            "groupmemberships".into(),
            Value::Array(
                u.explicit_groups
                    .iter()
                    .map(|g| json!({"group": g, "expiry": "infinity"}))
                    .collect(),
            ),
        );
    }
    if has("implicitgroups") {
        let implicit: Vec<&String> = u
            .groups
            .iter()
            .filter(|g| ["*", "user", "autoconfirmed"].contains(&g.as_str()))
            .collect();
        m.insert("implicitgroups".into(), json!(implicit));
    }
    if has("rights") {
        m.insert("rights".into(), json!(u.rights));
    }
    if has("changeablegroups") {
        m.insert(
            "changeablegroups".into(),
            json!({"add": [], "remove": [], "add-self": [], "remove-self": []}),
        );
    }
    if has("options") {
        m.insert("options".into(), json!({}));
    }
    if has("editcount") && !u.is_anon() {
        m.insert("editcount".into(), u.editcount.into());
    }
    if has("ratelimits") {
        let mut rl = Map::new();
        if !u.can("noratelimit") {
            if let Some(r) = req.app.config.upload_rate_limit {
                let who = if u.is_anon() { "ip" } else { "user" };
                rl.insert(
                    "upload".into(),
                    json!({ who: {"hits": r.count, "seconds": r.seconds} }),
                );
            }
        }
        m.insert(
            "ratelimits".into(),
            if rl.is_empty() && !req.fv2 {
                Value::Array(Vec::new())
            } else {
                Value::Object(rl)
            },
        );
    }
    if has("registrationdate") && !u.is_anon() {
        if let Some(r) = &u.registration {
            m.insert("registrationdate".into(), iso(r));
        }
    }
    if has("email") && !u.is_anon() {
        m.insert("email".into(), "".into());
    }
    if has("realname") && !u.is_anon() {
        m.insert("realname".into(), "".into());
    }
    if has("unreadcount") {
        m.insert("unreadcount".into(), 0.into());
    }
    if has("centralids") {
        m.insert("centralids".into(), json!({"local": u.id}));
        m.insert("attachedlocal".into(), json!({"local": !u.is_anon()}));
    }
    if has("cancreateaccount") {
        m.insert("cancreateaccount".into(), false.into());
    }
    if has("blockinfo") {
        // No blocks exist on this server.
    }
    Ok(m)
}

/// The site context for siteinfo.
pub fn site_context<'a>(
    app: &'a AppState,
    stats: &mwstore_storage::Stats,
) -> crate::query::siteinfo::SiteContext<'a> {
    crate::query::siteinfo::SiteContext {
        config: &app.config,
        server: &app.server,
        script_path: crate::SCRIPT_PATH,
        db_version: &app.db_version,
        stats: crate::query::siteinfo::SiteStats {
            pages: stats.pages,
            articles: 0,
            edits: stats.edits,
            images: stats.images,
            users: stats.users,
            activeusers: 0,
            admins: stats.admins,
            jobs: 0,
        },
        now: chrono::Utc::now(),
        usergroups: app.rights.usergroups(),
        group_member_counts: Default::default(),
    }
}

async fn siteinfo(req: &Req) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    let siprops = req
        .params
        .multi("siteinfo", "siprop", None, 50)?
        .unwrap_or_else(|| vec!["general".into()]);
    req.params.string("sifilteriw")?;
    req.params.flag("sishowalldb");
    let numberingroup = req.params.flag("sinumberingroup");
    req.params.multi("siteinfo", "siinlanguagecode", None, 50)?;
    let stats = req.app.repo.stats().await?;
    let ctx = site_context(&req.app, &stats);
    Ok(crate::query::siteinfo::siteinfo_with(
        &ctx,
        &siprops,
        numberingroup,
        req.fv2,
    ))
}

/// `action=paraminfo`.
pub fn paraminfo(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let mut modules = req
        .params
        .multi("paraminfo", "modules", None, 50)?
        .unwrap_or_default();
    for (param, prefix) in [("querymodules", "query+"), ("formatmodules", "")] {
        if let Some(list) = req.params.multi("paraminfo", param, None, 50)? {
            modules.extend(list.into_iter().map(|m| format!("{prefix}{m}")));
        }
    }
    if req.params.flag("mainmodule") {
        modules.insert(0, "main".into());
    }
    if req.params.flag("pagesetmodule") {
        modules.push("pageset".into());
    }
    req.params.string("helpformat")?;
    req.check_module(None, false, false)?;
    let ctx = crate::query::paraminfo::ParamInfoContext {
        server: &req.app.server,
        script_path: crate::SCRIPT_PATH,
        max_upload_size: req.app.config.max_upload_size,
        high_limits: req.user.can("apihighlimits"),
    };
    let (v, warnings) = crate::query::paraminfo::paraminfo(&modules, &ctx, req.fv2);
    for w in warnings {
        req.params.warn("paraminfo", "badmodule", &w);
    }
    let mut m = Map::new();
    m.insert("paraminfo".into(), v);
    Ok(m)
}

#[cfg(test)]
mod tests {
    #[test]
    fn property_lists_come_from_the_module_table() {
        for m in [
            "query+userinfo",
            "query+info",
            "query+revisions",
            "query+allimages",
            "query+logevents",
            "query+filearchive",
            "query+stashimageinfo",
        ] {
            assert!(
                !crate::params::table::enum_values(m, "prop").is_empty(),
                "{m} has no prop values"
            );
        }
        assert!(crate::params::table::enum_values("query+userinfo", "prop").contains(&"rights"));
        assert!(crate::params::table::enum_values("query+allimages", "prop").contains(&"sha1"));
    }
}
