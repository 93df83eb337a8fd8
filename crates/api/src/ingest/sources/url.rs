//! `url=`: fetching a file for an upload by URL, with the address guard MediaWiki lacks.
//!
//! Every hop is checked (scheme, `copy_uploads_domains`, every resolved address) before any
//! connection is made, and the connection is pinned to the address that was checked, so a
//! second DNS answer cannot send it elsewhere. The body streams into the upload spool, hashed
//! on the way, and the transfer stops as soon as it is known to be too large.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::{timeout_at, Instant};
use url::{Host, Url};

use mwstore_domain::copyupload::{self, Cidr};
use mwstore_storage::Staged;

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::ingest::{Body, Candidate, Source};
use crate::limits::{self, Holder, Share};
use crate::AppState;

/// The file at `url` as a candidate: the feature and the URL are checked, then the rights
/// (before any network access), then it is fetched.
pub async fn receive(req: &Req, url: &str) -> Result<Candidate, ApiError> {
    let app = &req.app;
    if !app.config.allow_copy_uploads {
        return Err(ApiError::new(
            Code::CopyUploadDisabled,
            "Upload by URL disabled.",
        ));
    }
    let checked = check_url(app, url)?;
    req.require_upload_rights(&["upload_by_url", "upload", "edit"])?;
    let _slot = fetch_slot(req).await?;
    let staged = fetch(app, checked).await?;
    Ok(Candidate {
        size: staged.size,
        sha1: staged.sha1.clone().unwrap_or_default(),
        too_large: false,
        body: Body::Staged(staged),
        source: Source::Url,
    })
}

/// A place among the fetches running at once (per user and in total). A request that finds
/// none is answered `ratelimited` at once; a queued job waits for one.
async fn fetch_slot(req: &Req) -> Result<Share, ApiError> {
    let holder = if req.user.is_anon() {
        Holder::Address(crate::limits::address_of(&req.client_ip))
    } else {
        Holder::User(req.user.id)
    };
    // A job has no session cookie: it was queued by a request that had one.
    let in_job = req.session_cookie.is_empty();
    let deadline = Instant::now() + Duration::from_secs(req.app.config.copy_upload_timeout);
    loop {
        let mut slot = req.app.url_fetches.share(holder.clone());
        match slot.grow(1) {
            Ok(()) => return Ok(slot),
            Err(_) if in_job && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(which) => return Err(limits::busy("uploads by URL are being fetched", which, 5)),
        }
    }
}

/// An error with its causes ("client error (Connect): tcp connect error: Connection
/// refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn invalid_url(url: &str) -> ApiError {
    ApiError::new(Code::HttpInvalidUrl, format!("Invalid URL: {url}"))
}

fn timed_out() -> ApiError {
    ApiError::new(Code::HttpTimedOut, "HTTP request timed out.")
}

fn transport(e: impl std::fmt::Display) -> ApiError {
    let mut err = ApiError::new(Code::HttpCurlError, format!("Error fetching URL: {e}"));
    // MediaWiki's status for a failed transfer holds both messages; its header lists both.
    err.headers.push((
        "MediaWiki-API-Error",
        "http-curl-error, http-bad-status".to_owned(),
    ));
    err
}

/// The configured ranges exempt from the guard.
pub fn allowed_ranges(app: &AppState) -> Vec<Cidr> {
    app.config
        .copy_uploads_allow_private
        .iter()
        .filter_map(|s| Cidr::parse(s).ok())
        .collect()
}

/// Checks a URL's shape, scheme and host against the domain list (no network access).
pub fn check_url(app: &AppState, raw: &str) -> Result<Url, ApiError> {
    if !copyupload::url_shape_ok(raw) {
        return Err(invalid_url(raw));
    }
    let url = Url::parse(raw).map_err(|_| invalid_url(raw))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid_url(raw));
    }
    let host = url.host_str().unwrap_or_default();
    if !copyupload::domain_allowed(host, &app.config.copy_uploads_domains) {
        return Err(ApiError::new(
            Code::CopyUploadBadDomain,
            "Uploads by URL are not allowed from this domain.",
        ));
    }
    Ok(url)
}

/// Resolves a URL's host and checks every address; returns the one to connect to.
async fn resolve_checked(url: &Url, allow: &[Cidr], deadline: Instant) -> Result<IpAddr, ApiError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<IpAddr> = match url.host() {
        Some(Host::Ipv4(a)) => vec![IpAddr::V4(a)],
        Some(Host::Ipv6(a)) => vec![IpAddr::V6(a)],
        Some(Host::Domain(d)) => {
            let found = timeout_at(deadline, tokio::net::lookup_host((d, port)))
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| transport(format!("Could not resolve host: {d} ({e})")))?;
            found.map(|s| s.ip()).collect()
        }
        None => Vec::new(),
    };
    if addrs.is_empty() {
        return Err(transport("Could not resolve host"));
    }
    // Every answer must be acceptable: one bad record refuses the host.
    for a in &addrs {
        if let Err(why) = copyupload::address_allowed(*a, allow) {
            return Err(ApiError::new(
                Code::CopyUploadBadUrl,
                format!(
                    "Upload not allowed from this URL: {} resolves to {a}, {why}. Only public addresses are fetched (see copy_uploads_allow_private).",
                    url.host_str().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(addrs[0])
}

/// Downloads `start` (already checked by [`check_url`]) into the upload spool.
pub async fn fetch(app: &AppState, start: Url) -> Result<Staged, ApiError> {
    let cfg = &app.config;
    let allow = allowed_ranges(app);
    let deadline = Instant::now() + Duration::from_secs(cfg.copy_upload_timeout.max(1));
    let max = cfg.max_upload_size;
    let mut url = start;
    let mut hop: u32 = 0;
    loop {
        let ip = resolve_checked(&url, &allow, deadline).await?;
        let port = url.port_or_known_default().unwrap_or(80);
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(cfg.copy_upload_timeout.clamp(1, 60)))
            .user_agent(concat!(
                "mwstore/",
                env!("CARGO_PKG_VERSION"),
                " (upload by URL)"
            ));
        if let Some(Host::Domain(d)) = url.host() {
            // Pin the connection to the address that was checked.
            builder = builder.resolve(d, SocketAddr::new(ip, port));
        }
        let client = builder.build().map_err(transport)?;
        let resp = timeout_at(deadline, client.get(url.clone()).send())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| {
                if e.is_timeout() {
                    timed_out()
                } else {
                    transport(error_chain(&e))
                }
            })?;
        let status = resp.status();
        if status.is_redirection() {
            if hop >= cfg.copy_upload_max_redirects {
                return Err(ApiError::new(
                    Code::UploadTooManyRedirects,
                    "The URL contained too many redirects",
                ));
            }
            let Some(loc) = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(ApiError::new(
                    Code::HttpBadStatus,
                    format!(
                        "There was a problem during the HTTP request: {} {} (redirect without Location)",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    ),
                ));
            };
            // Relative locations keep the scheme, host and port of the current URL.
            let next = url.join(loc).map_err(|_| invalid_url(loc))?;
            url = check_url(app, next.as_str())?;
            hop += 1;
            continue;
        }
        if !status.is_success() {
            return Err(ApiError::new(
                Code::HttpBadStatus,
                format!(
                    "There was a problem during the HTTP request: {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
            ));
        }
        if resp.content_length().is_some_and(|l| l > max) {
            return Err(crate::http::body::file_too_large(max));
        }
        let mut staged = app.spool.stage(true).await?;
        let mut stream = resp.bytes_stream();
        loop {
            let next = timeout_at(deadline, stream.next())
                .await
                .map_err(|_| timed_out())?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| {
                if e.is_timeout() {
                    timed_out()
                } else {
                    transport(error_chain(&e))
                }
            })?;
            if staged.len() + chunk.len() as u64 > max {
                return Err(crate::http::body::file_too_large(max));
            }
            staged.write(chunk).await?;
        }
        return Ok(staged.finish().await?);
    }
}
