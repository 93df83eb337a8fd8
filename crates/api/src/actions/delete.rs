//! `action=delete` and `action=undelete` for file description pages.

use serde_json::{Map, Value};

use mwstore_domain::title::{self, NS_FILE};
use mwstore_storage::coord::LockKey;
use mwstore_storage::rules::Deletion;

use crate::context::Req;
use crate::error::{ApiError, Code};

fn deletion(req: &Req, name: &str, reason: &str) -> Deletion {
    Deletion {
        name: name.to_owned(),
        user_id: req.user.id,
        user_text: req.user.name.clone(),
        reason: reason.to_owned(),
        now: mwstore_storage::ts14(chrono::Utc::now()),
    }
}

fn file_title(req: &Req) -> Result<(String, String), ApiError> {
    let t = req.params.string("title")?;
    let Some(t) = t else {
        return Err(ApiError::new(
            Code::MissingParam,
            "One of the parameters \"title\" and \"pageid\" is required.",
        ));
    };
    let parsed = title::parse_title_in(&t, &req.app.config.sitename, 0)
        .map_err(|e| ApiError::new(Code::InvalidTitle, format!("Bad title \"{t}\". {e}")))?;
    Ok((
        parsed.prefixed_text_in(&req.app.config.sitename),
        parsed.dbkey,
    ))
    .and_then(|(pt, db)| {
        if parsed.ns == NS_FILE {
            Ok((pt, db))
        } else {
            Err(missing_title())
        }
    })
}

/// `missingtitle`.
fn missing_title() -> ApiError {
    ApiError::new(Code::MissingTitle, "The page you specified doesn't exist.")
}

/// `action=delete` for file description pages.
pub async fn delete(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let title_res = file_title(req);
    req.params.string("pageid")?;
    let reason = req.params.string("reason")?.unwrap_or_default();
    req.params.multi("delete", "tags", None, 50)?;
    req.params.flag("watch");
    req.params.string("watchlist")?;
    req.params.flag("unwatch");
    req.params.string("oldimage")?;
    req.check_module(Some("csrf"), true, true)?;
    let (pretty, dbkey) = title_res?;
    req.require_right("delete")?;
    let _name = req
        .app
        .locks
        .exclusive(LockKey::FileName(dbkey.clone()))
        .await;
    let logid = match req
        .app
        .repo
        .delete_file(&deletion(req, &dbkey, &reason))
        .await
    {
        Ok(id) => id,
        Err(mwstore_storage::StoreError::NotFound(_)) => return Err(missing_title()),
        Err(e) => return Err(e.into()),
    };
    let mut inner = Map::new();
    inner.insert("title".into(), pretty.into());
    inner.insert("reason".into(), reason.into());
    inner.insert("logid".into(), logid.into());
    let mut m = Map::new();
    m.insert("delete".into(), Value::Object(inner));
    Ok(m)
}

/// `action=undelete` for file description pages.
pub async fn undelete(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let title_res = file_title(req);
    let reason = req.params.string("reason")?.unwrap_or_default();
    req.params.multi("undelete", "tags", None, 50)?;
    req.params.multi("undelete", "timestamps", None, 50)?;
    req.params.multi("undelete", "fileids", None, 50)?;
    req.params.flag("undeletetalk");
    req.params.string("watchlist")?;
    req.check_module(Some("csrf"), true, true)?;
    let (pretty, dbkey) = title_res?;
    req.require_right("undelete")?;
    let _name = req
        .app
        .locks
        .exclusive(LockKey::FileName(dbkey.clone()))
        .await;
    let restored = match req
        .app
        .repo
        .undelete_file(&deletion(req, &dbkey, &reason))
        .await
    {
        Ok(n) => n,
        Err(mwstore_storage::StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                Code::CannotUndelete,
                "Couldn't undelete: no deleted revisions or files of this title exist.",
            ))
        }
        Err(mwstore_storage::StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                Code::CannotUndelete,
                "Couldn't undelete: the page or file exists already.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let revisions = match req.app.repo.page(NS_FILE, &dbkey).await? {
        Some(p) => req.app.repo.revisions(p.id, 5000, true).await?.len(),
        None => 0,
    };
    let mut inner = Map::new();
    inner.insert("title".into(), pretty.into());
    inner.insert("revisions".into(), revisions.into());
    inner.insert("fileversions".into(), restored.into());
    inner.insert("reason".into(), reason.into());
    let mut m = Map::new();
    m.insert("undelete".into(), Value::Object(inner));
    Ok(m)
}
