//! `action=purge`: forgets what was derived from pages. For a file page that is its rendered
//! thumbnails, which are rendered again from the file when next asked for.

use serde_json::{json, Map, Value};

use mwstore_domain::title::NS_FILE;
use mwstore_storage::coord::LockKey;

use crate::context::Req;
use crate::error::ApiError;
use crate::query::{build_pageset, PageEntry};

/// `action=purge` (`titles`, `pageids`).
pub async fn purge(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let high = req.user.can("apihighlimits");
    let maxv = if high { 500 } else { 50 };
    let titles = req
        .params
        .multi("purge", "titles", None, maxv)?
        .unwrap_or_default();
    let pageids: Vec<i64> = req
        .params
        .multi("purge", "pageids", None, maxv)?
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    req.params.flag("forcelinkupdate");
    req.params.flag("forcerecursivelinkupdate");
    req.params.flag("redirects");
    req.params.flag("converttitles");
    req.params.touch("continue");
    req.check_module(None, true, true)?;
    let set = build_pageset(req, &titles, &pageids).await?;
    let sitename = req.app.config.sitename.clone();
    let mut purged = Vec::new();
    // Invalid titles first, then missing pages, then the pages purged (MediaWiki's order).
    let rank = |e: &PageEntry| match e {
        PageEntry::Invalid(..) => 0,
        PageEntry::Missing(_) => 1,
        PageEntry::Good(..) => 2,
    };
    let mut entries: Vec<&PageEntry> = set.entries.iter().collect();
    entries.sort_by_key(|e| rank(e));
    for e in entries {
        purged.push(match e {
            PageEntry::Invalid(t, reason) => {
                json!({"title": t, "invalidreason": reason, "invalid": true})
            }
            PageEntry::Missing(t) => {
                json!({"ns": t.ns, "title": t.prefixed_text_in(&sitename), "missing": true})
            }
            PageEntry::Good(t, _) => {
                if t.ns == NS_FILE {
                    purge_thumbnails(req, &t.dbkey).await?;
                }
                json!({"ns": t.ns, "title": t.prefixed_text_in(&sitename), "purged": true})
            }
        });
    }
    let mut out = Map::new();
    out.insert("batchcomplete".into(), true.into());
    out.insert("purge".into(), Value::Array(purged));
    if !set.normalized.is_empty() {
        out.insert(
            "normalized".into(),
            set.normalized
                .iter()
                .map(|(f, t)| json!({"fromencoded": false, "from": f, "to": t}))
                .collect(),
        );
    }
    Ok(out)
}

/// Forgets the thumbnails of every version of the file `dbkey` (thumbnails named after it:
/// another file with the same content keeps its own) and collects their bytes.
async fn purge_thumbnails(req: &Req, dbkey: &str) -> Result<(), ApiError> {
    let app = &req.app;
    let _name = app
        .locks
        .exclusive(LockKey::FileName(dbkey.to_owned()))
        .await;
    let mut sources: Vec<String> = app
        .repo
        .file_history(dbkey)
        .await?
        .into_iter()
        .map(|v| v.meta.sha1)
        .collect();
    sources.sort();
    sources.dedup();
    let plain = format!("-{dbkey}");
    let with_ext = format!("-{dbkey}.");
    let named = move |name: &str| {
        name.ends_with(&plain)
            || name
                .rfind(&with_ext)
                .is_some_and(|i| !name[i + with_ext.len()..].contains('.'))
    };
    for source in sources {
        let blobs = app.repo.delete_thumbnails(&source, &named).await?;
        for blob in blobs {
            app.collect_blob(&blob).await;
        }
    }
    Ok(())
}
