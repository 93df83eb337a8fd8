//! The main module of `api.php`: request reading, main parameters, CORS, sessions, assert,
//! module dispatch and output, in MediaWiki's order of checks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{
    header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode,
};
use rand::Rng;
use serde_json::{Map, Value};

use mwstore_storage::Session;

use crate::body::{self, BodyKind, BodyLimits};
use crate::error::ApiError;
use crate::output::{self, ErrorFormat, Format, OutputOptions};
use crate::params::Params;
use crate::session::{self, ANON_TOKEN, SESSION_TTL};
use crate::AppState;

pub use crate::paraminfo::ACTIONS;

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
                    "mustpostparams",
                    "The following parameter was found in the query string, but must be in the POST body: token.",
                ));
            }
            if !self.token_matches(tt, &token) {
                let info = if tt == "csrf" {
                    "Invalid CSRF token.".to_owned()
                } else {
                    format!("Invalid {tt} token.")
                };
                return Err(ApiError::new("badtoken", info));
            }
        }
        if write {
            if !self.user.can("writeapi") {
                return Err(ApiError::new(
                    "writeapidenied",
                    "You're not allowed to edit this wiki through the API.",
                ));
            }
            if self.headers.contains_key("promise-non-write-api-action") {
                return Err(ApiError::new(
                    "promised-nonwrite-api",
                    "The Promise-Non-Write-API-Action HTTP header cannot be sent to write-mode API modules.",
                ));
            }
        }
        if must_post && !self.is_post {
            return Err(ApiError::new(
                "mustbeposted",
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
        let Some(u) = app.repo.user_by_id(user_id).await? else {
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

/// Entry point for `/w/api.php`.
pub async fn entry(State(app): State<Arc<AppState>>, request: Request<Body>) -> Response<Body> {
    let id: u64 = rand::thread_rng().gen();
    let request_id = format!("{id:016x}");
    output::with_request_id(request_id.clone(), handle(app, request, request_id)).await
}

fn cors_headers(
    origin_param: &str,
    allowed_creds: bool,
    request_origin: &str,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = Vec::new();
    let mut push = |k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.push((HeaderName::from_static(k), v));
        }
    };
    if origin_param == "*" {
        push("access-control-allow-origin", "*");
        push("access-control-allow-credentials", "false");
    } else if allowed_creds {
        push("access-control-allow-origin", request_origin);
        push("access-control-allow-credentials", "true");
        push("timing-allow-origin", request_origin);
    } else {
        push("mediawiki-cors-rejection", "Origin mismatch");
    }
    push(
        "access-control-expose-headers",
        "MediaWiki-API-Error, Retry-After, X-Database-Lag, MediaWiki-Login-Suppressed",
    );
    h
}

fn wildcard_match(pattern: &str, host: &str) -> bool {
    let re = format!(
        "^{}$",
        regex::escape(pattern)
            .replace("\\*", ".*")
            .replace("\\?", ".")
    );
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(host))
}

async fn handle(app: Arc<AppState>, request: Request<Body>, request_id: String) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut opts = OutputOptions {
        docref: output::docref(&app.api_url()),
        ..Default::default()
    };
    if app.config.show_hostnames {
        opts.servedby = Some(hostname());
    }
    if !matches!(
        method,
        Method::GET | Method::HEAD | Method::POST | Method::OPTIONS
    ) {
        let e = ApiError::new(
            "invalidmethod",
            "Invalid HTTP method. Consider using GET or POST.",
        )
        .status(StatusCode::METHOD_NOT_ALLOWED);
        return output::render(Err(e), &[], "main", &opts, Vec::new());
    }
    let is_post = method == Method::POST;
    let mut params = Params::default();
    body::read_query(&mut params, parts.uri.query());

    // 1. CORS (origin must come in the query string).
    let mut extra_headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut untrusted = parts.headers.contains_key("treat-as-untrusted");
    if let Some(origin) = params
        .in_query("origin")
        .then(|| params.raw("origin"))
        .flatten()
    {
        let origin = origin.to_owned();
        let header_origin = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let listed = header_origin.split(' ').any(|o| o == origin);
        if origin != "*" && !listed {
            let mut r = Response::new(Body::from(
                "'origin' parameter does not match Origin header\n",
            ));
            *r.status_mut() = StatusCode::FORBIDDEN;
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return r;
        }
        let host = origin
            .split("://")
            .nth(1)
            .unwrap_or(origin.as_str())
            .split('/')
            .next()
            .unwrap_or("");
        let allowed = origin != "*"
            && app
                .config
                .cross_site_ajax_domains
                .iter()
                .any(|d| wildcard_match(d, host));
        if origin == "*" || !allowed {
            untrusted = true;
        }
        if method == Method::OPTIONS {
            let mut r = Response::new(Body::empty());
            for (k, v) in cors_headers(&origin, allowed, &header_origin) {
                r.headers_mut().append(k, v);
            }
            if let Some(req_headers) = parts
                .headers
                .get("access-control-request-headers")
                .and_then(|v| v.to_str().ok())
            {
                const ALLOWED: &[&str] = &[
                    "accept",
                    "accept-language",
                    "content-language",
                    "content-type",
                    "accept-encoding",
                    "dnt",
                    "origin",
                    "user-agent",
                    "api-user-agent",
                    "access-control-max-age",
                    "authorization",
                ];
                let ok = req_headers
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .all(|h| ALLOWED.contains(&h.as_str()));
                if ok {
                    if let Ok(v) = HeaderValue::from_str(req_headers) {
                        r.headers_mut().insert("access-control-allow-headers", v);
                    }
                    r.headers_mut().insert(
                        "access-control-allow-methods",
                        HeaderValue::from_static("POST, GET, HEAD"),
                    );
                } else {
                    r.headers_mut().insert(
                        "mediawiki-cors-rejection",
                        HeaderValue::from_static("Unsupported header requested in preflight"),
                    );
                }
            }
            return r;
        }
        extra_headers.extend(cors_headers(&origin, allowed, &header_origin));
        if untrusted {
            extra_headers.push((
                HeaderName::from_static("mediawiki-login-suppressed"),
                HeaderValue::from_static("true"),
            ));
        }
    }
    // 2. OPTIONS without CORS does nothing else.
    if method == Method::OPTIONS {
        return Response::new(Body::empty());
    }

    // Read the body.
    let limits = BodyLimits {
        max_file: app.config.max_upload_size,
        max_fields: 64 * 1024 * 1024,
        max_discard: 64 * 1024 * 1024,
    };
    // A body that could not be read to its end leaves the connection unusable: say so.
    let close = (header::CONNECTION, HeaderValue::from_static("close"));
    match body::body_kind(&parts.headers, is_post) {
        BodyKind::UrlEncoded => {
            if let Err(e) = body::read_urlencoded(&mut params, body, &limits).await {
                extra_headers.push(close);
                return output::render(Err(e), &[], "main", &opts, extra_headers);
            }
        }
        BodyKind::Multipart(boundary) => {
            if let Err(e) =
                body::read_multipart(&mut params, body, &boundary, app.blobs.as_ref(), &limits)
                    .await
            {
                extra_headers.push(close);
                return output::render(Err(e), &[], "main", &opts, extra_headers);
            }
        }
        BodyKind::Missing => {
            params.warn_deprecated(
                "main",
                "A POST request was made without a \"Content-Type\" header. This does not work reliably.",
            );
        }
        BodyKind::None | BodyKind::Other => {}
    }

    // 3. Main parameters.
    let fv2 = matches!(params.raw("formatversion"), Some("2") | Some("latest"));
    opts.fv2 = fv2;
    if params.raw("callback").is_some() {
        untrusted = true;
        opts.callback = params.raw("callback").map(str::to_owned);
    }
    opts.utf8 = params.flag("utf8");
    opts.ascii = params.flag("ascii");
    opts.curtimestamp = params.flag("curtimestamp");
    opts.requestid = params.raw("requestid").map(str::to_owned);
    if let Some(ef) = params.raw("errorformat") {
        if let Some(f) = ErrorFormat::parse(ef) {
            opts.errorformat = f;
        }
    }
    params.touch("servedby");
    params.touch("uselang");
    params.touch("errorlang");
    params.touch("errorsuselocal");
    params.touch("responselanginfo");
    params.touch("smaxage");
    params.touch("maxage");
    params.touch("origin");
    let format = params.raw("format").unwrap_or("jsonfm").to_owned();
    opts.format = match format.as_str() {
        "json" => Format::Json,
        "jsonfm" | "rawfm" => Format::JsonFm,
        "none" => Format::None,
        _ => Format::JsonFm,
    };
    let action = params.raw("action").map(str::to_owned);

    let mut req = Req {
        app: app.clone(),
        params,
        is_post,
        headers: parts.headers.clone(),
        client_ip,
        untrusted,
        session: None,
        session_cookie: format!("{}_session", app.config.cookie_prefix),
        session_dirty: false,
        user: UserCtx::default(),
        set_cookies: Vec::new(),
        fv2,
        module: "main".into(),
        secure: app.server.starts_with("https://"),
    };

    let result = run(&mut req, &format, action.as_deref(), &request_id).await;
    let module = req.module.clone();

    // Unused parameters (not reported when the request failed before reading them all).
    let unused = if result.is_ok() {
        req.params.unused()
    } else {
        Vec::new()
    };
    if !unused.is_empty() {
        let text = if unused.len() == 1 {
            format!("Unrecognized parameter: {}.", unused[0])
        } else {
            format!("Unrecognized parameters: {}.", unused.join(", "))
        };
        req.params.warn("main", "unrecognizedparams", &text);
    }
    // Persist the session.
    if req.session_dirty {
        if let Some(s) = req.session.as_mut() {
            s.expires = Req::now() + SESSION_TTL;
            if let Err(e) = app.repo.put_session(s).await {
                tracing::error!(error = %e, "could not store session");
            }
        }
    }
    // Files nobody consumed are removed.
    for f in req.params.take_all_files() {
        f.blob.discard().await;
    }
    for c in &req.set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            extra_headers.push((header::SET_COOKIE, v));
        }
    }
    let result = match result {
        Ok(RunOutcome::Data(d)) => Ok(d),
        Ok(RunOutcome::Raw(r)) => return r,
        Err(e) => Err(e),
    };
    let warnings = crate::params::lock(&req.params.warnings).clone();
    output::render(result, &warnings, &module, &opts, extra_headers)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// What a module produced.
pub enum RunOutcome {
    Data(Map<String, Value>),
    /// A complete response (e.g. the HTML help page).
    Raw(Response<Body>),
}

async fn run(
    req: &mut Req,
    format: &str,
    action: Option<&str>,
    request_id: &str,
) -> Result<RunOutcome, ApiError> {
    const FORMATS: &[&str] = &[
        "json", "jsonfm", "none", "rawfm", "php", "phpfm", "xml", "xmlfm",
    ];
    if !FORMATS.contains(&format) {
        return Err(ApiError::bad_value("format", format));
    }
    if !matches!(format, "json" | "jsonfm" | "none" | "rawfm") {
        return Err(ApiError::new(
            "badvalue",
            format!("Unrecognized value for parameter \"format\": {format}. This server answers in JSON only (format=json)."),
        ));
    }
    let fv = req.params.raw("formatversion").unwrap_or("1").to_owned();
    if !["1", "2", "latest"].contains(&fv.as_str()) {
        return Err(ApiError::bad_value("formatversion", &fv));
    }
    if let Some(ef) = req.params.raw("errorformat") {
        if ErrorFormat::parse(ef).is_none() {
            return Err(ApiError::bad_value("errorformat", ef));
        }
    }
    let action = action.unwrap_or("help").to_owned();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_value("action", &action));
    }

    // Session and user.
    let app = req.app.clone();
    if !req.untrusted {
        let prefix = &app.config.cookie_prefix;
        let bp_name = format!("{prefix}_BPsession");
        let s_name = format!("{prefix}_session");
        let cookies = req.headers.get_all(header::COOKIE);
        let candidates = [
            (
                bp_name.clone(),
                session::read_cookie(cookies.iter(), &bp_name),
            ),
            (
                s_name.clone(),
                session::read_cookie(cookies.iter(), &s_name),
            ),
        ];
        for (name, id) in candidates {
            let Some(id) = id else { continue };
            if let Some(s) = app.repo.session(&id, Req::now()).await? {
                req.session_cookie = name;
                // Sliding expiry, written back only when half the lifetime has passed.
                if s.expires - Req::now() < SESSION_TTL / 2 {
                    req.session_dirty = true;
                }
                req.session = Some(s);
                break;
            }
        }
    }
    let (uid, bot, grants) = match &req.session {
        Some(s) => (s.user_id, s.bot_app.clone(), s.grants.clone()),
        None => (0, None, None),
    };
    req.load_user(uid, bot, grants).await?;

    // 4. assert / assertuser.
    if let Some(a) = req.params.string("assert")? {
        match a.as_str() {
            "anon" if !req.user.is_anon() => {
                return Err(ApiError::new(
                    "assertanonfailed",
                    "You are no longer logged out, so the action could not be completed.",
                ))
            }
            "user" if req.user.is_anon() => {
                return Err(ApiError::new(
                    "assertuserfailed",
                    "You are no longer logged in, so the action could not be completed.",
                ))
            }
            "bot" if !req.user.can("bot") => {
                return Err(ApiError::new(
                    "assertbotfailed",
                    "You do not have the \"bot\" right, so the action could not be completed.",
                ))
            }
            "anon" | "user" | "bot" => {}
            other => return Err(ApiError::bad_value("assert", other)),
        }
    }
    if let Some(u) = req.params.string("assertuser")? {
        let wanted = u.replace('_', " ");
        if req.user.is_anon() || req.user.name != wanted {
            return Err(ApiError::new(
                "assertnameduserfailed",
                format!("You are no longer logged in as \"{wanted}\", so the action could not be completed."),
            ));
        }
    }
    if req.params.raw("maxlag").is_some() {
        // One database, no replication: the lag is always 0.
        req.params.int("main", "maxlag", i64::MIN, None)?;
    }
    let _ = request_id;
    req.module = action.clone();
    *crate::params::lock(&req.params.module) = action.clone();
    let data = match action.as_str() {
        "help" => return Ok(RunOutcome::Raw(help_page(&app))),
        "login" => crate::auth::login(req).await?,
        "clientlogin" => crate::auth::clientlogin(req).await?,
        "logout" => crate::auth::logout(req).await?,
        "query" => crate::query::execute(req).await?,
        "paraminfo" => crate::query::paraminfo(req)?,
        "upload" => crate::upload::execute(req).await?,
        "delete" => crate::files::delete(req).await?,
        "undelete" => crate::files::undelete(req).await?,
        _ => return Err(ApiError::bad_value("action", &action)),
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
        site = crate::files::html_escape(&app.config.sitename),
    );
    crate::files::html_page(StatusCode::OK, &html)
}
