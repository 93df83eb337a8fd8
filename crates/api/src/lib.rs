//! The protocol layer of mwstore: MediaWiki's Action API at `/w/api.php` (and `/api.php`),
//! the file URLs under `/w/images/`, and the HTML description pages.

pub mod api;
pub mod auth;
pub mod body;
pub mod error;
pub mod fetch;
pub mod files;
pub mod jobs;
pub mod output;
pub mod paraminfo;
pub mod params;
pub mod query;
pub mod session;
pub mod siteinfo;
pub mod upload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::routing::{any, get};
use axum::Router;

use mwstore_domain::config::Config;
use mwstore_domain::rights::RightsPolicy;
use mwstore_storage::{BlobStore, Repo};

/// Path of the wiki's scripts (`$wgScriptPath`).
pub const SCRIPT_PATH: &str = "/w";

/// Everything a request handler needs.
pub struct AppState {
    pub config: Config,
    pub repo: Arc<dyn Repo>,
    pub blobs: Arc<dyn BlobStore>,
    pub rights: RightsPolicy,
    /// `$wgServer`: scheme, host and port, no trailing slash.
    pub server: String,
    pub db_version: String,
    /// Failed-login timestamps by throttle key.
    pub login_throttle: Mutex<HashMap<String, Vec<i64>>>,
    /// Upload timestamps by user id (rate limit).
    pub upload_rate: Mutex<HashMap<i64, Vec<i64>>>,
    /// One publish at a time per file name.
    pub name_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Serialises blob reference changes and garbage collection.
    pub blob_gc: tokio::sync::Mutex<()>,
    /// In-progress chunked uploads: one lock and running hash per filekey.
    pub chunk_sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<upload::ChunkState>>>>,
    /// Wakes the job runner when a job is queued.
    pub jobs_wake: tokio::sync::Notify,
}

impl AppState {
    /// Builds the state from its parts.
    pub fn new(
        config: Config,
        repo: Arc<dyn Repo>,
        blobs: Arc<dyn BlobStore>,
        server: String,
        db_version: String,
    ) -> Self {
        let rights = RightsPolicy::from_config(&config);
        AppState {
            config,
            repo,
            blobs,
            rights,
            server: server.trim_end_matches('/').to_owned(),
            db_version,
            login_throttle: Mutex::new(HashMap::new()),
            upload_rate: Mutex::new(HashMap::new()),
            name_locks: Mutex::new(HashMap::new()),
            blob_gc: tokio::sync::Mutex::new(()),
            chunk_sessions: Mutex::new(HashMap::new()),
            jobs_wake: tokio::sync::Notify::new(),
        }
    }

    /// Absolute URL of the API.
    pub fn api_url(&self) -> String {
        format!("{}{SCRIPT_PATH}/api.php", self.server)
    }

    /// The lock guarding publishes to one file name.
    pub fn name_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.name_locks.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() > 10_000 {
            map.retain(|_, v| Arc::strong_count(v) > 1);
        }
        map.entry(name.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
            .clone()
    }

    /// The lock and running hash of a chunked upload.
    pub fn chunk_session(&self, key: &str) -> Arc<tokio::sync::Mutex<upload::ChunkState>> {
        let mut map = match self.chunk_sessions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() > 10_000 {
            map.retain(|_, v| Arc::strong_count(v) > 1);
        }
        map.entry(key.to_owned()).or_default().clone()
    }

    /// Forgets a finished chunked upload's state.
    pub fn drop_chunk_session(&self, key: &str) {
        let mut map = match self.chunk_sessions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.remove(key);
    }

    /// Deletes a blob if nothing refers to it any more.
    pub async fn collect_blob(&self, sha1: &str) {
        let _g = self.blob_gc.lock().await;
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
        .route("/w/api.php", any(api::entry))
        .route("/api.php", any(api::entry))
        .route("/w/images/{*path}", get(files::serve_image))
        .route("/w/index.php", get(files::index))
        .route("/", get(files::root))
        .with_state(state)
}

/// Background housekeeping: expired stash entries and sessions.
pub fn spawn_sweeper(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = state.repo.delete_expired_sessions(now).await {
                tracing::warn!(error = %e, "session sweep failed");
            }
            if let Err(e) = state.repo.delete_expired_statuses(now).await {
                tracing::warn!(error = %e, "status sweep failed");
            }
            match state.repo.stash_expired(now, 500).await {
                Ok(entries) => {
                    for e in entries {
                        if let Ok(true) = state.repo.stash_delete(&e.key).await {
                            if e.status == "chunks" {
                                let _ = state.blobs.chunk_delete(&e.key).await;
                            }
                            state.collect_blob(&e.meta.sha1).await;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stash sweep failed"),
            }
        }
    })
}
