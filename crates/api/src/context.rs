//! The context of one API request: who is asking (the user and the session), the parameters,
//! and the checks every module makes the same way (token, write rights, POST).

use std::sync::Arc;

use axum::http::HeaderMap;

use mwstore_storage::Session;

use crate::auth::session::{self, ANON_TOKEN, SESSION_TTL};
use crate::error::{ApiError, Code};
use crate::params::Params;
use crate::AppState;

/// Who is making the request.
#[derive(Debug, Clone, Default)]
pub struct UserCtx {
    /// 0 for anonymous users.
    pub id: i64,
    /// The user name, or the client IP for anonymous users.
    pub name: String,
    pub explicit_groups: Vec<String>,
    /// Effective groups (explicit first, then implicit).
    pub groups: Vec<String>,
    pub rights: Vec<String>,
    /// The bot password's app id when logged in with one.
    pub bot_app: Option<String>,
    pub registration: Option<String>,
    pub editcount: i64,
}

impl UserCtx {
    pub fn is_anon(&self) -> bool {
        self.id == 0
    }

    pub fn can(&self, right: &str) -> bool {
        self.rights.iter().any(|r| r == right)
    }
}

/// One API request being handled.
pub struct Req {
    pub app: Arc<AppState>,
    pub params: Params,
    pub is_post: bool,
    pub headers: HeaderMap,
    pub client_ip: String,
    /// CORS with `origin=*`, JSONP or `Treat-as-Untrusted`: runs as anonymous.
    pub untrusted: bool,
    /// The server-side session (None until one is needed).
    pub session: Option<Session>,
    /// Cookie name the session travels in.
    pub session_cookie: String,
    pub session_dirty: bool,
    pub user: UserCtx,
    pub set_cookies: Vec<String>,
    pub fv2: bool,
    /// Path of the module being executed (for error formats).
    pub module: String,
    pub secure: bool,
}

impl Req {
    /// A request context for work done on a user's behalf outside a request (jobs): the
    /// user id and the grants of the session that asked for it, nothing else.
    pub async fn for_job(
        app: Arc<AppState>,
        user_id: i64,
        grants: Option<Vec<String>>,
    ) -> Result<Req, ApiError> {
        let mut req = Req {
            session_cookie: String::new(),
            app,
            params: Params::default(),
            is_post: true,
            headers: HeaderMap::new(),
            client_ip: "127.0.0.1".into(),
            untrusted: false,
            session: None,
            session_dirty: false,
            user: UserCtx::default(),
            set_cookies: Vec::new(),
            fv2: false,
            module: "upload".into(),
            secure: false,
        };
        req.load_user(user_id, None, grants).await?;
        Ok(req)
    }

    /// The grants limiting this request's rights (bot-password sessions).
    pub fn grants(&self) -> Option<Vec<String>> {
        self.session.as_ref().and_then(|s| s.grants.clone())
    }

    /// `permissiondenied`, naming the groups that have `right`, unless the user has it.
    pub fn require_right(&self, right: &str) -> Result<(), ApiError> {
        if self.user.can(right) {
            return Ok(());
        }
        Err(ApiError::permission_denied(
            &self.app.rights.groups_with_right(right),
            &self.app.config.sitename,
        ))
    }

    /// The rights an upload needs, checked in order: `mustbeloggedin` for anonymous users,
    /// otherwise `permissiondenied` naming the groups that have the first missing right.
    pub fn require_upload_rights(&self, rights: &[&str]) -> Result<(), ApiError> {
        let Some(right) = rights.iter().find(|r| !self.user.can(r)) else {
            return Ok(());
        };
        if self.user.is_anon() {
            return Err(ApiError::new(
                Code::MustBeLoggedIn,
                "You must be logged in to upload this file.",
            ));
        }
        self.require_right(right)
    }

    /// The stash is per user: anonymous requests that touch it get `stashnotloggedin`.
    pub fn require_stash_user(&self) -> Result<(), ApiError> {
        if self.user.is_anon() {
            return Err(ApiError::new(
                Code::StashNotLoggedIn,
                "You must be logged in to upload this file.",
            ));
        }
        Ok(())
    }

    /// Current unix time.
    pub fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// The session, created (and persisted at the end of the request) if there is none.
    pub fn ensure_session(&mut self) -> &mut Session {
        if self.session.is_none() {
            let id = session::new_session_id();
            self.session_cookie = format!("{}_session", self.app.config.cookie_prefix);
            self.set_cookies
                .push(session::cookie(&self.session_cookie, &id, self.secure));
            self.session = Some(Session {
                id,
                user_id: 0,
                expires: Self::now() + SESSION_TTL,
                is_new: true,
                ..Default::default()
            });
        }
        self.session_dirty = true;
        // Just created above when absent.
        self.session.get_or_insert_with(Session::default)
    }

    /// A token of the given type for the current session.
    pub fn token(&mut self, token_type: &str) -> String {
        if self.user.is_anon() && token_type != "login" && token_type != "createaccount" {
            return ANON_TOKEN.to_owned();
        }
        let (key, salt) = session::token_key(token_type);
        let s = self.ensure_session();
        let (secret, _) = session::secret(s, key);
        session::make_token(&secret, salt, Self::now())
    }

    /// Checks a token value for a type against the session.
    pub fn token_matches(&self, token_type: &str, value: &str) -> bool {
        if self.user.is_anon() && token_type != "login" && token_type != "createaccount" {
            return value == ANON_TOKEN;
        }
        let (key, salt) = session::token_key(token_type);
        match self.session.as_ref().and_then(|s| s.secrets.get(key)) {
            Some(secret) => session::check_token(secret, salt, value),
            None => false,
        }
    }

    /// The framework checks after a module validated its own parameters: token, write
    /// rights, then the POST requirement (in MediaWiki's order).
    pub fn check_module(
        &mut self,
        token_type: Option<&str>,
        write: bool,
        must_post: bool,
    ) -> Result<(), ApiError> {
        if let Some(tt) = token_type {
            let token = self.params.string("token")?;
            let Some(token) = token else {
                return Err(ApiError::missing_param("token"));
            };
            if self.params.in_query("token") {
                return Err(ApiError::new(
                    Code::MustPostParams,
                    "The following parameter was found in the query string, but must be in the POST body: token.",
                ));
            }
            if !self.token_matches(tt, &token) {
                let info = if tt == "csrf" {
                    "Invalid CSRF token.".to_owned()
                } else {
                    format!("Invalid {tt} token.")
                };
                return Err(ApiError::new(Code::BadToken, info));
            }
        }
        if write {
            if !self.user.can("writeapi") {
                return Err(ApiError::new(
                    Code::WriteApiDenied,
                    "You're not allowed to edit this wiki through the API.",
                ));
            }
            if self.headers.contains_key("promise-non-write-api-action") {
                return Err(ApiError::new(
                    Code::PromisedNonwriteApi,
                    "The Promise-Non-Write-API-Action HTTP header cannot be sent to write-mode API modules.",
                ));
            }
        }
        if must_post && !self.is_post {
            return Err(ApiError::new(
                Code::MustBePosted,
                format!("The \"{}\" module requires a POST request.", self.module),
            ));
        }
        Ok(())
    }

    /// Fills the user context from a user id and optional bot-password grants.
    pub async fn load_user(
        &mut self,
        user_id: i64,
        bot_app: Option<String>,
        grants: Option<Vec<String>>,
    ) -> Result<(), ApiError> {
        let app = self.app.clone();
        if user_id == 0 {
            self.user = anon_user(&app, &self.client_ip);
            return Ok(());
        }
        let Some(u) = crate::auth::cache::user(&app, user_id).await? else {
            self.user = anon_user(&app, &self.client_ip);
            return Ok(());
        };
        let groups = app.rights.effective_groups(true, &u.groups);
        let rights = app.rights.rights(&groups, grants.as_deref());
        self.user = UserCtx {
            id: u.id,
            name: u.name,
            explicit_groups: u.groups,
            groups,
            rights,
            bot_app,
            registration: Some(u.registration),
            editcount: u.editcount,
        };
        Ok(())
    }
}

fn anon_user(app: &AppState, ip: &str) -> UserCtx {
    let groups = app.rights.effective_groups(false, &[]);
    let rights = app.rights.rights(&groups, None);
    UserCtx {
        id: 0,
        name: ip.to_owned(),
        explicit_groups: Vec::new(),
        groups,
        rights,
        bot_app: None,
        registration: None,
        editcount: 0,
    }
}
