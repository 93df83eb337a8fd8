//! MediaWiki's rules for publishing, deleting and restoring files, written once over the
//! primitive operations of a [`WriteTx`] so that every backend applies them the same way:
//! which version becomes current, how replaced versions are archived and named, what the
//! description page and the log record, and the order versions keep.

use crate::error::StoreError;
use crate::model::*;
use crate::repo::WriteTx;

/// Namespace of file description pages.
const NS_FILE: i32 = 6;

/// Adds one second to a 14-digit timestamp.
fn ts_plus_one(ts: &str) -> String {
    match crate::parse_ts14(ts) {
        Some(t) => crate::ts14(t + chrono::Duration::seconds(1)),
        None => ts.to_owned(),
    }
}

/// Publishes a new version of `req.name` inside `tx` (which the caller commits):
/// - the stash entry it comes from, if any, is consumed first: of two publishes racing for
///   it, the second finds it gone ([`StoreError::StashGone`]);
/// - content identical to the current version is refused before anything is written
///   ([`StoreError::NoChange`]);
/// - the replaced version is archived as `<timestamp>!<name>`, unique, and versions stay
///   strictly ordered in time;
/// - the description page is created with the page text, or gets a null revision;
/// - an `upload`/`overwrite` log entry, the uploader's edit count and the watchlist follow.
pub async fn publish(
    tx: &mut dyn WriteTx,
    req: &PublishRequest,
) -> Result<PublishOutcome, StoreError> {
    if let Some(key) = &req.consume_stash {
        if !tx.stash_delete(key).await? {
            return Err(StoreError::StashGone(key.clone()));
        }
    }
    let current = tx.current_file(&req.name).await?;
    if let Some(cur) = &current {
        if cur.meta.sha1 == req.meta.sha1 {
            return Err(StoreError::NoChange);
        }
    }
    // A new version is later than the current one.
    let mut timestamp = req.timestamp.clone();
    if let Some(cur) = &current {
        if timestamp <= cur.timestamp {
            timestamp = ts_plus_one(&cur.timestamp);
        }
    }
    let mut archived_as = None;
    if let Some(cur) = &current {
        // The archive name carries the time of archiving; it is kept unique.
        let mut arch_ts = timestamp.clone();
        let name = loop {
            let name = format!("{arch_ts}!{}", req.name);
            if !tx.archive_name_taken(&name).await? {
                break name;
            }
            arch_ts = ts_plus_one(&arch_ts);
        };
        let mut old = cur.clone();
        old.archive_name = Some(name.clone());
        tx.insert_old_version(&old).await?;
        archived_as = Some(name);
    }
    let version = FileVersion {
        name: req.name.clone(),
        archive_name: None,
        meta: req.meta.clone(),
        description: req.comment.clone(),
        user_id: req.user_id,
        user_text: req.user_text.clone(),
        timestamp: timestamp.clone(),
    };
    tx.put_current_file(&version).await?;

    // The description page: created with the page text, or a null revision on re-upload.
    let page = tx.page(NS_FILE, &req.name).await?;
    let page_existed = page.is_some();
    let (page_id, rev_id) = match page {
        None => {
            let page_id = tx.create_page(NS_FILE, &req.name, &timestamp).await?;
            let rev = Revision {
                id: 0,
                page_id,
                user_id: req.user_id,
                user_text: req.user_text.clone(),
                timestamp: timestamp.clone(),
                comment: req.comment.clone(),
                text: req.page_text.clone(),
                parent: 0,
            };
            (page_id, tx.insert_revision(&rev).await?)
        }
        Some(p) => {
            let prev = tx.revision(p.latest).await?;
            let rev = Revision {
                id: 0,
                page_id: p.id,
                user_id: req.user_id,
                user_text: req.user_text.clone(),
                timestamp: timestamp.clone(),
                comment: format!(
                    "{} uploaded a new version of [[File:{}]]",
                    req.user_text, req.name
                ),
                text: prev.map(|r| r.text).unwrap_or_default(),
                parent: p.latest,
            };
            (p.id, tx.insert_revision(&rev).await?)
        }
    };
    let params = serde_json::json!({
        "img_sha1": mwstore_domain::base36::sha1_hex_to_base36(&req.meta.sha1).unwrap_or_default(),
        "img_timestamp": timestamp,
        "associated_rev_id": rev_id,
    });
    let log_id = tx
        .insert_log(&LogEntry {
            id: 0,
            log_type: "upload".into(),
            action: if current.is_some() {
                "overwrite"
            } else {
                "upload"
            }
            .into(),
            ns: NS_FILE,
            title: req.name.clone(),
            page_id,
            user_id: req.user_id,
            user_text: req.user_text.clone(),
            timestamp: timestamp.clone(),
            comment: req.comment.clone(),
            params: params.to_string(),
        })
        .await?;
    tx.bump_editcount(req.user_id).await?;
    if let Some(w) = req.watch {
        tx.set_watch(req.user_id, NS_FILE, &req.name, w).await?;
    }
    Ok(PublishOutcome {
        timestamp,
        page_id,
        page_existed,
        archived_as,
        log_id,
        version,
    })
}

/// Who deletes or restores which file, when and why.
#[derive(Debug, Clone)]
pub struct Deletion {
    pub name: String,
    pub user_id: i64,
    pub user_text: String,
    pub reason: String,
    /// 14-digit timestamp.
    pub now: String,
}

impl Deletion {
    /// The `delete/<action>` log entry of this deletion or restoration.
    fn log_entry(&self, action: &str, page_id: i64, params: String) -> LogEntry {
        LogEntry {
            id: 0,
            log_type: "delete".into(),
            action: action.into(),
            ns: NS_FILE,
            title: self.name.clone(),
            page_id,
            user_id: self.user_id,
            user_text: self.user_text.clone(),
            timestamp: self.now.clone(),
            comment: self.reason.clone(),
            params,
        }
    }
}

/// The storage key of a deleted version: its SHA-1 in base 36 and the file's extension.
fn deleted_storage_key(name: &str, sha1: &str) -> String {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .unwrap_or_default();
    format!(
        "{}.{ext}",
        mwstore_domain::base36::sha1_hex_to_base36(sha1).unwrap_or_default()
    )
}

/// Deletes a file: every version goes to the filearchive, the description page and its
/// revisions to the deletion archive, and a `delete/delete` log entry is written. Returns the
/// log id; [`StoreError::NotFound`] when there is neither a file nor a page.
pub async fn delete_file(tx: &mut dyn WriteTx, del: &Deletion) -> Result<i64, StoreError> {
    let name = &del.name;
    let mut versions = Vec::new();
    if let Some(cur) = tx.current_file(name).await? {
        versions.push(cur);
    }
    versions.extend(tx.old_versions(name).await?);
    let page = tx.page(NS_FILE, name).await?;
    if versions.is_empty() && page.is_none() {
        return Err(StoreError::NotFound(format!("File:{name}")));
    }
    for v in &versions {
        tx.insert_archived(&ArchivedFile {
            id: 0,
            name: v.name.clone(),
            archive_name: v.archive_name.clone(),
            storage_key: deleted_storage_key(name, &v.meta.sha1),
            deleted_user: del.user_id,
            deleted_timestamp: del.now.clone(),
            deleted_reason: del.reason.clone(),
            meta: v.meta.clone(),
            description: v.description.clone(),
            user_id: v.user_id,
            user_text: v.user_text.clone(),
            timestamp: v.timestamp.clone(),
        })
        .await?;
    }
    tx.delete_versions(name).await?;
    let page_id = page.as_ref().map(|p| p.id).unwrap_or(0);
    if let Some(p) = &page {
        tx.archive_page(p).await?;
    }
    tx.insert_log(&del.log_entry("delete", page_id, "{}".into()))
        .await
}

/// Restores a deleted file and its page: the newest version that was current becomes current
/// again, the others old versions; a `delete/restore` log entry counts them. Returns that
/// count; [`StoreError::NotFound`] when nothing is deleted under the name,
/// [`StoreError::AlreadyExists`] when the name is in use again.
pub async fn undelete_file(tx: &mut dyn WriteTx, del: &Deletion) -> Result<u64, StoreError> {
    let name = &del.name;
    let archived = tx.archived_files(name).await?;
    let has_current = tx.current_file(name).await?.is_some();
    let page_exists = tx.page(NS_FILE, name).await?.is_some();
    let has_revs = tx.has_deleted_revisions(NS_FILE, name).await?;
    if archived.is_empty() && !has_revs {
        return Err(StoreError::NotFound(format!("File:{name}")));
    }
    if has_current || page_exists {
        return Err(StoreError::AlreadyExists(format!("File:{name}")));
    }
    let newest_current = archived
        .iter()
        .filter(|a| a.archive_name.is_none())
        .max_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.id.cmp(&b.id)))
        .map(|a| a.id);
    let mut restored = 0u64;
    for a in &archived {
        let mut v = FileVersion {
            name: a.name.clone(),
            archive_name: None,
            meta: a.meta.clone(),
            description: a.description.clone(),
            user_id: a.user_id,
            user_text: a.user_text.clone(),
            timestamp: a.timestamp.clone(),
        };
        if Some(a.id) == newest_current {
            tx.put_current_file(&v).await?;
        } else {
            let archive_name = a
                .archive_name
                .clone()
                .unwrap_or_else(|| format!("{}!{}", a.timestamp, a.name));
            // A name taken meanwhile keeps the version that holds it.
            if !tx.archive_name_taken(&archive_name).await? {
                v.archive_name = Some(archive_name);
                tx.insert_old_version(&v).await?;
            }
        }
        restored += 1;
    }
    tx.delete_archived(name).await?;
    let page_id = if has_revs {
        tx.restore_page(NS_FILE, name, &del.now).await?
    } else {
        0
    };
    let params = serde_json::json!({ "count": { "files": restored } }).to_string();
    tx.insert_log(&del.log_entry("restore", page_id, params))
        .await?;
    Ok(restored)
}
