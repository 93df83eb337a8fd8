//! The protocol layer of mwstore: MediaWiki's Action API at `/w/api.php` (and `/api.php`),
//! the file URLs under `/w/images/`, and the HTML description pages.
//!
//! One upload, followed from the request to the published file:
//! - [`http::entry`] reads the request (CORS, body, main parameters, session, `assert`);
//! - [`actions`] parses the action, for `upload` into a typed
//!   [`ingest::request::UploadRequest`];
//! - [`ingest`] receives the bytes from their source ([`ingest::sources`]), inspects them once
//!   ([`ingest::inspect`]), applies name policy, permissions and warnings under the name's
//!   lock ([`ingest::pipeline`]), stashes ([`ingest::stash`]) or publishes
//!   ([`ingest::publish`], the only publish) and answers ([`ingest::response`]);
//! - [`jobs`] runs the asynchronous steps (assembly, publish) with leases, calling the same
//!   ingest functions;
//! - [`query`] reads everything back; [`files`] serves the files.
//!
//! Lower modules never call higher ones: `error`, `http::request_id`, `http::html`,
//! `params`, `context`, `auth`, `query::imageinfo`, `jobs::queue`, `ingest`,
//! `jobs::runner`, `query`, `files`, `actions`, `http::entry`.

pub mod actions;
pub mod auth;
pub mod context;
pub mod error;
pub mod faults;
pub mod files;
pub mod housekeeping;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod params;
pub mod query;

use std::sync::Arc;

use axum::routing::{any, get};
use axum::Router;

use mwstore_domain::config::Config;
use mwstore_domain::rights::RightsPolicy;
use mwstore_storage::coord::{Counters, InProcessCounters, InProcessLocks, LockKey, Locks};
use mwstore_storage::{BlobStore, FullRepo, UploadSpool};

/// Path of the wiki's scripts (`$wgScriptPath`).
pub const SCRIPT_PATH: &str = "/w";

/// Where the server keeps things, and how its processes coordinate.
pub struct Backends {
    pub repo: Arc<dyn FullRepo>,
    pub blobs: Arc<dyn BlobStore>,
    pub spool: Arc<dyn UploadSpool>,
    pub locks: Arc<dyn Locks>,
    pub counters: Arc<dyn Counters>,
}

impl Backends {
    /// The embedded default: one store for blobs and the spool, in-process coordination.
    pub fn local<S>(repo: Arc<dyn FullRepo>, store: Arc<S>) -> Backends
    where
        S: BlobStore + UploadSpool + 'static,
    {
        Backends {
            repo,
            blobs: store.clone(),
            spool: store,
            locks: Arc::new(InProcessLocks::default()),
            counters: Arc::new(InProcessCounters::default()),
        }
    }
}

/// Everything a request handler needs.
pub struct AppState {
    pub config: Config,
    pub repo: Arc<dyn FullRepo>,
    pub blobs: Arc<dyn BlobStore>,
    pub spool: Arc<dyn UploadSpool>,
    pub locks: Arc<dyn Locks>,
    pub counters: Arc<dyn Counters>,
    pub rights: RightsPolicy,
    /// `$wgServer`: scheme, host and port, no trailing slash.
    pub server: String,
    pub db_version: String,
    /// Login attempts by account and address ([`auth::throttle`]).
    pub login_throttle: auth::throttle::LoginThrottle,
    /// Password checks (argon2) running at once: one per CPU.
    pub password_checks: Arc<tokio::sync::Semaphore>,
    /// Content checks running at once (`max_concurrent_verifications`).
    pub verifications: Arc<tokio::sync::Semaphore>,
    /// Thumbnails being rendered at once (one per core).
    pub renders: Arc<tokio::sync::Semaphore>,
    /// Wakes this process's job runner when a job is queued.
    pub jobs_wake: tokio::sync::Notify,
    /// This process's name as a job worker (leases are held in its name).
    pub worker_id: String,
    /// Sessions and users read recently.
    pub cache: auth::cache::Cache,
    /// Bytes of received files held in the upload spool, per user and in total.
    pub spool_budget: Arc<limits::Pool>,
    /// Uploads by URL being fetched, per user and in total.
    pub url_fetches: Arc<limits::Pool>,
    /// Proxies whose `X-Forwarded-For` names the client (`cdn_servers_no_purge`).
    pub trusted_proxies: Vec<mwstore_domain::copyupload::Cidr>,
    /// The clamd that scans complete uploads (`clamav_socket` / `clamav_address`), if any.
    pub antivirus: Option<ingest::antivirus::Scanner>,
}

impl AppState {
    /// Builds the state from its parts.
    pub fn new(config: Config, backends: Backends, server: String, db_version: String) -> Self {
        let rights = RightsPolicy::from_config(&config);
        let worker: u64 = rand::random();
        let trusted_proxies = config
            .cdn_servers_no_purge
            .iter()
            .filter_map(|c| mwstore_domain::copyupload::Cidr::parse(c).ok())
            .collect();
        let spool_budget =
            limits::Pool::new(config.max_spool_bytes_per_user, config.max_spool_bytes);
        let url_fetches = limits::Pool::new(
            config.max_url_fetches_per_user as u64,
            config.max_url_fetches as u64,
        );
        let verifications = Arc::new(tokio::sync::Semaphore::new(
            match config.max_concurrent_verifications {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
        ));
        let antivirus = ingest::antivirus::Scanner::from_config(&config);
        AppState {
            config,
            repo: backends.repo,
            blobs: backends.blobs,
            spool: backends.spool,
            locks: backends.locks,
            counters: backends.counters,
            rights,
            server: server.trim_end_matches('/').to_owned(),
            db_version,
            login_throttle: Default::default(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
            verifications,
            renders: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
            jobs_wake: tokio::sync::Notify::new(),
            worker_id: format!("{}-{worker:016x}", std::process::id()),
            cache: auth::cache::Cache::default(),
            spool_budget,
            url_fetches,
            trusted_proxies,
            antivirus,
        }
    }

    /// Absolute URL of the API.
    pub fn api_url(&self) -> String {
        format!("{}{SCRIPT_PATH}/api.php", self.server)
    }

    /// Deletes a blob if nothing refers to it any more.
    pub async fn collect_blob(&self, sha1: &str) {
        if sha1.is_empty() {
            return;
        }
        let _gc = self.locks.exclusive(LockKey::BlobGc).await;
        match self.repo.blob_referenced(sha1).await {
            Ok(false) => {
                if let Err(e) = self.blobs.delete(sha1).await {
                    tracing::warn!(sha1, error = %e, "could not delete unreferenced blob");
                }
            }
            Ok(true) => {}
            Err(e) => tracing::warn!(sha1, error = %e, "could not check blob references"),
        }
    }
}

/// The HTTP application.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/w/api.php", any(http::entry::entry))
        .route("/api.php", any(http::entry::entry))
        .route("/w/images/{*path}", get(files::serve::serve_image))
        .route("/w/thumb.php", get(files::thumbs::thumb_php))
        .route(
            "/w/resources/assets/file-type-icons/{name}",
            get(files::thumbs::serve_icon),
        )
        .route("/w/index.php", get(files::pages::index))
        .route("/", get(files::pages::root))
        .with_state(state)
}
