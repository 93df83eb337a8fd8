//! The entry of `/w/api.php`: request id, method, CORS, reading the body, the main module's
//! parameters, the session and `assert`, then the action, then the output — in MediaWiki's
//! order of checks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use rand::Rng;

use crate::actions::{Action, RunOutcome};
use crate::auth::session::SESSION_TTL;
use crate::context::{Req, UserCtx};
use crate::error::{ApiError, Code};
use crate::http::body::{self, BodyKind, BodyLimits};
use crate::http::output::{self, ErrorFormat, Format, OutputOptions};
use crate::http::server::Conn;
use crate::limits::Holder;
use crate::params::Params;
use crate::AppState;

/// Bytes of a refused body read and dropped for an anonymous client before its connection is
/// closed (so that it can read the answer), and for a logged-in one.
const DISCARD_ANON: u64 = 2 * 1024 * 1024;
const DISCARD_KNOWN: u64 = 64 * 1024 * 1024;

/// Entry point for `/w/api.php`.
pub async fn entry(State(app): State<Arc<AppState>>, request: Request<Body>) -> Response<Body> {
    let id: u64 = rand::thread_rng().gen();
    let request_id = format!("{id:016x}");
    // Whatever way the answer is reached, a request body that was not read to its end
    // closes the connection after the answer (with a short lingering read): the next
    // request on it would otherwise race the server dropping what is left.
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || body::content_length(headers).is_some_and(|n| n > 0);
    let conn = request.extensions().get::<Arc<Conn>>().cloned();
    let (parts, body) = request.into_parts();
    let (body, finished) = body::tracked(body);
    let request = Request::from_parts(parts, body);
    let mut response =
        crate::http::request_id::with_request_id(request_id, handle(app, request)).await;
    if has_body && !finished.load(std::sync::atomic::Ordering::Acquire) {
        if let Some(c) = &conn {
            c.linger_after_response(DISCARD_ANON);
        }
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
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

async fn handle(app: Arc<AppState>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    let client_ip =
        crate::http::server::client_address(peer, &parts.headers, &app.trusted_proxies).to_string();
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
            Code::InvalidMethod,
            "Invalid HTTP method. Consider using GET or POST.",
        );
        return output::render(Err(e), &[], "main", &opts, Vec::new());
    }
    let is_post = method == Method::POST;
    let conn = parts.extensions.get::<Arc<Conn>>().cloned();
    // A body left unread closes the connection after the answer (see `entry`). Its
    // lingering read is small for anonymous clients and larger for known users, whose
    // clients may not read an answer before they have sent everything.
    let linger_for = |known: bool| {
        if let Some(c) = &conn {
            c.linger_after_response(if known { DISCARD_KNOWN } else { DISCARD_ANON });
        }
    };
    let mut limits = BodyLimits {
        max_file: app.config.max_upload_size,
        max_fields: app.config.max_form_fields_size,
        max_discard: DISCARD_ANON,
        max_vars: app.config.max_input_vars,
        body_timeout_secs: app.config.request_body_timeout,
    };
    let mut budget = body::Budget::new(&limits);
    let mut params = Params::default();
    if let Err(e) = body::read_query(&mut params, parts.uri.query(), &mut budget) {
        return output::render(Err(e), &[], "main", &opts, Vec::new());
    }

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

    if params.raw("callback").is_some() {
        untrusted = true;
    }
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
        fv2: false,
        module: "main".into(),
        secure: app.server.starts_with("https://"),
    };

    // The session and the user, known before the body is read: what the body may carry
    // depends on them.
    if let Err(e) = load_session(&mut req).await {
        return output::render(Err(e), &[], "main", &opts, extra_headers);
    }

    // Read the body.
    let known = !req.user.is_anon();
    if known {
        limits.max_discard = DISCARD_KNOWN;
    }
    let kind = body::body_kind(&parts.headers, is_post);
    let declared = body::content_length(&parts.headers);
    let holder = if req.user.is_anon() {
        Holder::Address(crate::limits::address_of(&req.client_ip))
    } else {
        Holder::User(req.user.id)
    };
    let mut gate = body::FileGate {
        refusal: (req.user.is_anon() && !req.user.can("upload")).then(|| {
            ApiError::new(
                Code::MustBeLoggedIn,
                "You must be logged in to upload this file.",
            )
        }),
        share: app.spool_budget.share(holder),
    };
    let early = match &kind {
        // Too large to be read at all: refused on its declared length.
        BodyKind::UrlEncoded => declared
            .filter(|n| *n > limits.max_fields)
            .map(|_| body::fields_too_large(limits.max_fields)),
        BodyKind::Multipart(_) => declared
            .filter(|n| {
                *n > limits
                    .max_file
                    .saturating_add(limits.max_fields)
                    .saturating_add(1024 * 1024)
            })
            .map(|_| body::file_too_large(limits.max_file)),
        _ => None,
    };
    let read = match early {
        Some(e) => Err(e),
        None => match kind {
            BodyKind::UrlEncoded => {
                body::read_urlencoded(&mut req.params, body, &limits, &mut budget).await
            }
            BodyKind::Multipart(boundary) => {
                body::read_multipart(
                    &mut req.params,
                    body,
                    &boundary,
                    app.spool.as_ref(),
                    &limits,
                    &mut budget,
                    &mut gate,
                )
                .await
            }
            BodyKind::Missing | BodyKind::Other => {
                if matches!(kind, BodyKind::Missing) {
                    req.params.warn_deprecated(
                        "main",
                        "A POST request was made without a \"Content-Type\" header. This does not work reliably.",
                    );
                }
                // A body the API does not read (JSON, XML, …): a small one is read and
                // dropped so that the connection can serve the next request; a large one
                // (or one of unknown length) is left unread.
                if !body::discard_small(body, declared).await {
                    linger_for(known);
                }
                Ok(())
            }
            BodyKind::None => Ok(()),
        },
    };
    if let Err(e) = read {
        // What was staged is dropped with the request (nothing stays in the spool).
        linger_for(known);
        metrics::counter!("mwstore_requests_refused_total", "reason" => e.code.clone())
            .increment(1);
        return output::render(Err(e), &[], "main", &opts, extra_headers);
    }
    // A callback in the body makes the request untrusted too: it runs without its session.
    if !req.untrusted && req.params.raw("callback").is_some() {
        req.untrusted = true;
        if req.session.take().is_some() {
            if let Err(e) = req.load_user(0, None, None).await {
                return output::render(Err(e), &[], "main", &opts, extra_headers);
            }
        }
    }

    // 3. Main parameters.
    let fv2 = matches!(req.params.raw("formatversion"), Some("2") | Some("latest"));
    opts.fv2 = fv2;
    req.fv2 = fv2;
    if req.params.raw("callback").is_some() {
        // Only what a JavaScript function reference needs survives, as MediaWiki filters it:
        // word characters, dots, brackets and quotes.
        opts.callback = req.params.raw("callback").map(|c| {
            c.chars()
                .filter(|ch| {
                    ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '[' | ']' | '\'' | '"')
                })
                .collect()
        });
    }
    opts.utf8 = req.params.flag("utf8");
    opts.ascii = req.params.flag("ascii");
    opts.curtimestamp = req.params.flag("curtimestamp");
    opts.requestid = req.params.raw("requestid").map(str::to_owned);
    if let Some(ef) = req.params.raw("errorformat") {
        if let Some(f) = ErrorFormat::parse(ef) {
            opts.errorformat = f;
        }
    }
    for name in [
        "servedby",
        "uselang",
        "errorlang",
        "errorsuselocal",
        "responselanginfo",
        "smaxage",
        "maxage",
        "origin",
    ] {
        req.params.touch(name);
    }
    let format = req.params.raw("format").unwrap_or("jsonfm").to_owned();
    opts.format = match format.as_str() {
        "json" => Format::Json,
        "jsonfm" | "rawfm" => Format::JsonFm,
        "none" => Format::None,
        _ => Format::JsonFm,
    };
    let action = req.params.raw("action").map(str::to_owned);
    let started = std::time::Instant::now();

    let result = run(&mut req, &format, action.as_deref()).await;
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
            if let Err(e) = crate::auth::cache::put_session(&app, s).await {
                tracing::error!(error = %e, "could not store session");
            }
        }
    }
    for c in &req.set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            extra_headers.push((header::SET_COOKIE, v));
        }
    }
    let code = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code.clone(),
    };
    count_request(action.as_deref(), code, started);
    let result = match result {
        Ok(RunOutcome::Data(d)) => Ok(d),
        Ok(RunOutcome::Raw(r)) => return r,
        Err(e) => Err(e),
    };
    let warnings = crate::params::lock(&req.params.warnings).clone();
    output::render(result, &warnings, &module, &opts, extra_headers)
}

/// Counts a request by action and result code, and times uploads.
fn count_request(action: Option<&str>, code: String, started: std::time::Instant) {
    let action = match action {
        None => "help",
        Some(a) if crate::params::table::ACTIONS.contains(&a) => a,
        Some(_) => "other",
    }
    .to_owned();
    if action == "upload" {
        metrics::histogram!("mwstore_upload_duration_seconds", "code" => code.clone())
            .record(started.elapsed().as_secs_f64());
    }
    metrics::counter!("mwstore_requests_total", "action" => action, "code" => code).increment(1);
}

/// Loads the request's session (unless the request is untrusted) and its user.
async fn load_session(req: &mut Req) -> Result<(), ApiError> {
    let app = req.app.clone();
    if !req.untrusted {
        let found = crate::auth::cache::session_of(&app, &req.headers, Req::now(), |_| true);
        if let Some((name, s)) = found.await? {
            req.session_cookie = name;
            // Sliding expiry, written back only when half the lifetime has passed.
            if s.expires - Req::now() < SESSION_TTL / 2 {
                req.session_dirty = true;
            }
            req.session = Some(s);
        }
    }
    let (uid, bot, grants) = match &req.session {
        Some(s) => (s.user_id, s.bot_app.clone(), s.grants.clone()),
        None => (0, None, None),
    };
    req.load_user(uid, bot, grants).await
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

async fn run(req: &mut Req, format: &str, action: Option<&str>) -> Result<RunOutcome, ApiError> {
    const FORMATS: &[&str] = &[
        "json", "jsonfm", "none", "rawfm", "php", "phpfm", "xml", "xmlfm",
    ];
    if !FORMATS.contains(&format) {
        return Err(ApiError::bad_value("format", format));
    }
    if !matches!(format, "json" | "jsonfm" | "none" | "rawfm") {
        return Err(ApiError::new(
            Code::BadValue,
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
    if !crate::params::table::ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_value("action", &action));
    }

    // 4. assert / assertuser.
    if let Some(a) = req.params.string("assert")? {
        match a.as_str() {
            "anon" if !req.user.is_anon() => {
                return Err(ApiError::new(
                    Code::AssertAnonFailed,
                    "You are no longer logged out, so the action could not be completed.",
                ))
            }
            "user" if req.user.is_anon() => {
                return Err(ApiError::new(
                    Code::AssertUserFailed,
                    "You are no longer logged in, so the action could not be completed.",
                ))
            }
            "bot" if !req.user.can("bot") => {
                return Err(ApiError::new(
                    Code::AssertBotFailed,
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
                Code::AssertNamedUserFailed,
                format!("You are no longer logged in as \"{wanted}\", so the action could not be completed."),
            ));
        }
    }
    if req.params.raw("maxlag").is_some() {
        // One database, no replication: the lag is always 0.
        req.params.int("main", "maxlag", i64::MIN, None)?;
    }
    let action = Action::parse(req, &action)?;
    crate::actions::run(req, action).await
}
