//! The checks that depend on the state of `File:<name>`: title permissions (protection,
//! creation, overwrite rights) and the upload warnings (SPEC section 4). Both read one
//! [`TitleState`]; when an upload is about to publish they run under the name's lock, so what
//! they saw is still true when the publish happens.

use serde_json::{json, Map, Value};

use mwstore_domain::title::{self, UploadName, NS_FILE};
use mwstore_storage::{FileVersion, Page};

use crate::context::Req;
use crate::error::ApiError;
use crate::ingest::response::Warnings;

/// What is known of `File:<name>` when an upload is checked: its page and its current file.
pub struct TitleState {
    page: Option<Page>,
    current: Option<FileVersion>,
}

impl TitleState {
    /// Reads the page before the file: a publish writes both in one transaction, so a file
    /// committed meanwhile is seen by the second read whenever its page was by the first.
    pub async fn load(req: &Req, dbkey: &str) -> Result<TitleState, ApiError> {
        let page = req.app.repo.page(NS_FILE, dbkey).await?;
        let current = req.app.repo.current_file(dbkey).await?;
        Ok(TitleState { page, current })
    }
}

/// Title permissions for publishing to `File:<name>` (protection, creation, overwrite).
pub async fn title_permissions(req: &Req, name: &str, state: &TitleState) -> Result<(), ApiError> {
    let app = &req.app;
    if let Some(p) = &state.page {
        for (ty, level, _) in app.repo.restrictions(p.id).await? {
            if ty != "edit" && ty != "upload" {
                continue;
            }
            let needed = match level.as_str() {
                "sysop" => "editprotected",
                "autoconfirmed" => "editsemiprotected",
                other => other,
            };
            if !req.user.can(needed) {
                return Err(ApiError::new(
                    "protectedpage",
                    "This page has been protected to prevent editing or other actions.",
                ));
            }
        }
    } else if !req.user.can("createpage") {
        return Err(if req.user.is_anon() {
            ApiError::new(
                "cantcreate-anon",
                "Anonymous users cannot create new pages.",
            )
        } else {
            ApiError::new(
                "cantcreate",
                "You do not have permission to create new pages.",
            )
        });
    }
    if let Some(cur) = &state.current {
        let own = cur.user_id == req.user.id;
        if !(req.user.can("reupload") || (own && req.user.can("reupload-own"))) {
            let text = name.replace('_', " ");
            return Err(ApiError::new(
                "fileexists-forbidden",
                format!("A file with this name already exists, and cannot be overwritten. If you still want to upload your file, please go back and use a new name. [[File:{text}|thumb|center|{text}]]"),
            ));
        }
    }
    Ok(())
}

/// The upload warnings in MediaWiki's order (the exists family and `nochange` /
/// `duplicateversions` last): from the name, the size and, when the content is known, its
/// SHA-1 (`None` for a chunk in progress: name-based warnings only).
pub async fn warnings(
    req: &Req,
    requested: &str,
    name: &UploadName,
    size: u64,
    sha1: Option<&str>,
    state: &TitleState,
) -> Result<Warnings, ApiError> {
    let app = &req.app;
    let cfg = &app.config;
    let repo = &app.repo;
    let dbkey = &name.dbkey;
    let mut w = Map::new();
    if title::is_bad_filename(requested, dbkey) || name.extension_guessed {
        w.insert("badfilename".into(), dbkey.clone().into());
    }
    if name.unwanted_type {
        let allowed = title::allowed_extensions(cfg);
        w.insert(
            "filetype-unwanted-type".into(),
            json!([name.final_ext, allowed.join(", "), allowed.len()]),
        );
    }
    if cfg.upload_size_warning > 0 && size > cfg.upload_size_warning {
        w.insert(
            "large-file".into(),
            json!([{"size": cfg.upload_size_warning}, {"size": size}]),
        );
    }
    if size == 0 {
        w.insert("empty-file".into(), true.into());
    }
    let mut tail = Map::new();
    if let Some(cur) = &state.current {
        tail.insert("exists".into(), dbkey.clone().into());
        match sha1 {
            None => {}
            Some(s) if cur.meta.sha1 == s => {
                tail.insert(
                    "nochange".into(),
                    json!({"timestamp": mwstore_storage::ts14_to_iso(&cur.timestamp)}),
                );
            }
            Some(s) => {
                let history = repo.file_history(dbkey).await?;
                let dups: Vec<Value> = history
                    .iter()
                    .skip(1)
                    .filter(|v| v.meta.sha1 == s)
                    .map(|v| json!({"timestamp": mwstore_storage::ts14_to_iso(&v.timestamp)}))
                    .collect();
                if !dups.is_empty() {
                    tail.insert("duplicateversions".into(), Value::Array(dups));
                }
            }
        }
    } else if state.page.is_some() {
        tail.insert("page-exists".into(), dbkey.clone().into());
    } else if let Some(other) = exists_normalized(req, dbkey).await? {
        tail.insert("exists-normalized".into(), other.into());
    } else if let Some(base) = title::thumb_base_name(dbkey) {
        if repo.current_file(&base).await?.is_some() {
            tail.insert("thumb".into(), dbkey.clone().into());
        } else {
            tail.insert("thumb-name".into(), dbkey.clone().into());
        }
    } else if title::has_bad_prefix(dbkey) {
        tail.insert("bad-prefix".into(), dbkey.clone().into());
    }
    if state.current.is_none() && repo.has_deleted_revisions(NS_FILE, dbkey).await? {
        w.insert("was-deleted".into(), dbkey.clone().into());
    }
    let Some(sha1) = sha1 else {
        w.extend(tail);
        return Ok(w);
    };
    let dups: Vec<String> = repo
        .names_by_sha1(sha1)
        .await?
        .into_iter()
        .filter(|n| n != dbkey)
        .collect();
    if !dups.is_empty() {
        w.insert("duplicate".into(), json!(dups));
    }
    if let Some(a) = repo.archived_by_sha1(sha1).await?.first() {
        // MediaWiki names the deleted file to every user who may upload.
        w.insert("duplicate-archive".into(), a.name.clone().into());
    }
    w.extend(tail);
    Ok(w)
}

async fn exists_normalized(req: &Req, dbkey: &str) -> Result<Option<String>, ApiError> {
    let repo = &req.app.repo;
    if let Some(cand) = title::exists_normalized_candidate(dbkey) {
        if cand != dbkey && repo.current_file(&cand).await?.is_some() {
            return Ok(Some(cand));
        }
    }
    let prefix = title::similar_name_prefix(dbkey);
    if let Some(n) = repo.first_name_with_prefix(&prefix).await? {
        if n != dbkey {
            return Ok(Some(n));
        }
    }
    Ok(None)
}
