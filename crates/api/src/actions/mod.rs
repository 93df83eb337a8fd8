//! The actions of `api.php`, parsed into [`Action`] before any of them runs, and run.

pub mod delete;
pub mod purge;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::{Map, Value};

use crate::context::Req;
use crate::error::ApiError;
use crate::ingest::request::UploadRequest;
use crate::params::table::ACTIONS;
use crate::AppState;

/// One action, with its request already parsed where the module has a typed form.
pub enum Action {
    Help,
    Login,
    ClientLogin,
    Logout,
    Query,
    ParamInfo,
    Upload(Box<UploadRequest>),
    Delete,
    Undelete,
    Purge,
}

impl Action {
    /// Parses `action=` (already checked against [`ACTIONS`]) and, for typed modules, the
    /// module's request.
    pub fn parse(req: &mut Req, action: &str) -> Result<Action, ApiError> {
        req.module = action.to_owned();
        *crate::params::lock(&req.params.module) = action.to_owned();
        Ok(match action {
            "help" => Action::Help,
            "login" => Action::Login,
            "clientlogin" => Action::ClientLogin,
            "logout" => Action::Logout,
            "query" => Action::Query,
            "paraminfo" => Action::ParamInfo,
            "upload" => Action::Upload(Box::new(UploadRequest::parse(req)?)),
            "delete" => Action::Delete,
            "undelete" => Action::Undelete,
            "purge" => Action::Purge,
            other => return Err(ApiError::bad_value("action", other)),
        })
    }
}

/// What a module produced.
pub enum RunOutcome {
    Data(Map<String, Value>),
    /// A complete response (e.g. the HTML help page).
    Raw(Response<Body>),
}

/// Runs an action.
pub async fn run(req: &mut Req, action: Action) -> Result<RunOutcome, ApiError> {
    let data = match action {
        Action::Help => return Ok(RunOutcome::Raw(help_page(&req.app))),
        Action::Login => crate::auth::login::login(req).await?,
        Action::ClientLogin => crate::auth::login::clientlogin(req).await?,
        Action::Logout => crate::auth::login::logout(req).await?,
        Action::Query => crate::query::execute(req).await?,
        Action::ParamInfo => crate::query::paraminfo(req)?,
        Action::Upload(upload) => crate::ingest::execute(req, *upload).await?,
        Action::Delete => delete::delete(req).await?,
        Action::Undelete => delete::undelete(req).await?,
        Action::Purge => purge::purge(req).await?,
    };
    Ok(RunOutcome::Data(data))
}

fn help_page(app: &AppState) -> Response<Body> {
    let list: String = ACTIONS
        .iter()
        .map(|a| format!("<li><code>action={a}</code></li>"))
        .collect();
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"UTF-8\"/><title>MediaWiki API help - {site}</title></head><body>\n<h1>API help</h1>\n<p>This is the MediaWiki Action API of {site}, served by mwstore. Use <code>format=json</code>. Modules:</p><ul>{list}</ul>\n</body></html>\n",
        site = crate::http::html::escape(&app.config.sitename),
    );
    crate::http::html::page(StatusCode::OK, &html)
}
