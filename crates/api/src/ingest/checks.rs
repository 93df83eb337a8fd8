//! The checks that depend on the state of `File:<name>`: title permissions (protection,
//! creation, overwrite rights) and the upload warnings (SPEC section 4). Both read one
//! [`TitleState`]; when an upload is about to publish they run under the name's lock, so what
//! they saw is still true when the publish happens.

use serde_json::{json, Map, Value};

use mwstore_domain::title::{self, UploadName};
use mwstore_storage::{TitleFacts, TitleQuery};

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::inspect::Facts;
use crate::ingest::response::Warnings;

/// What is known of `File:<name>` when an upload is checked: its page, its current file,
/// and what the warnings look at (other names, the same content elsewhere), read in one go.
pub struct TitleState {
    facts: TitleFacts,
    /// The name `exists-normalized` compares with, when the extension normalises differently.
    normalized: Option<String>,
    /// The file a thumbnail-looking name would be a thumbnail of.
    thumb_base: Option<String>,
}

impl TitleState {
    /// Reads the state of `File:<dbkey>` for content with `sha1` (when known).
    pub async fn load(req: &Req, dbkey: &str, sha1: Option<&str>) -> Result<TitleState, ApiError> {
        let normalized = title::exists_normalized_candidate(dbkey).filter(|c| c != dbkey);
        let thumb_base = title::thumb_base_name(dbkey);
        let others: Vec<String> = normalized
            .iter()
            .chain(thumb_base.iter())
            .cloned()
            .collect();
        let prefix = title::similar_name_prefix(dbkey);
        let facts = req
            .app
            .repo
            .title_facts(&TitleQuery {
                name: dbkey,
                sha1,
                prefix: &prefix,
                others: &others,
            })
            .await?;
        Ok(TitleState {
            facts,
            normalized,
            thumb_base,
        })
    }

    fn exists(&self, name: &str) -> bool {
        self.facts.others_existing.iter().any(|n| n == name)
    }
}

/// Title permissions for publishing to `File:<name>` (protection, creation, overwrite).
pub async fn title_permissions(req: &Req, name: &str, state: &TitleState) -> Result<(), ApiError> {
    let app = &req.app;
    if let Some(p) = &state.facts.page {
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
                    Code::ProtectedPage,
                    "This page has been protected to prevent editing or other actions.",
                ));
            }
        }
    } else if !req.user.can("createpage") {
        return Err(if req.user.is_anon() {
            ApiError::new(
                Code::CantCreateAnon,
                "Anonymous users cannot create new pages.",
            )
        } else {
            ApiError::new(
                Code::CantCreate,
                "You do not have permission to create new pages.",
            )
        });
    }
    if let Some(cur) = &state.facts.current {
        let own = cur.user_id == req.user.id;
        if !(req.user.can("reupload") || (own && req.user.can("reupload-own"))) {
            let text = name.replace('_', " ");
            return Err(ApiError::new(
                Code::FileExistsForbidden,
                format!("A file with this name already exists, and cannot be overwritten. If you still want to upload your file, please go back and use a new name. [[File:{text}|thumb|center|{text}]]"),
            ));
        }
    }
    Ok(())
}

/// The warnings for inspected content: [`warnings`] with its size and SHA-1.
pub async fn content_warnings(
    req: &Req,
    requested: &str,
    name: &UploadName,
    facts: &Facts,
    state: &TitleState,
) -> Result<Warnings, ApiError> {
    warnings(
        req,
        requested,
        name,
        facts.meta.size,
        Some(&facts.meta.sha1),
        state,
    )
    .await
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
    let facts = &state.facts;
    let mut tail = Map::new();
    if let Some(cur) = &facts.current {
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
    } else if facts.page.is_some() {
        tail.insert("page-exists".into(), dbkey.clone().into());
    } else if let Some(other) = state
        .normalized
        .clone()
        .filter(|n| state.exists(n))
        .or_else(|| facts.prefixed.clone().filter(|n| n != dbkey))
    {
        tail.insert("exists-normalized".into(), other.into());
    } else if let Some(base) = &state.thumb_base {
        if state.exists(base) {
            tail.insert("thumb".into(), dbkey.clone().into());
        } else {
            tail.insert("thumb-name".into(), dbkey.clone().into());
        }
    } else if title::has_bad_prefix(dbkey) {
        tail.insert("bad-prefix".into(), dbkey.clone().into());
    }
    if facts.current.is_none() && facts.deleted_revisions {
        w.insert("was-deleted".into(), dbkey.clone().into());
    }
    if sha1.is_some() {
        let dups: Vec<&String> = facts.same_content.iter().filter(|n| *n != dbkey).collect();
        if !dups.is_empty() {
            w.insert("duplicate".into(), json!(dups));
        }
        if let Some(a) = &facts.deleted_same_content {
            // MediaWiki names the deleted file to every user who may upload.
            w.insert("duplicate-archive".into(), a.clone().into());
        }
    }
    w.extend(tail);
    Ok(w)
}
