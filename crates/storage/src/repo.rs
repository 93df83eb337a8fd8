//! The metadata repository interface. SQLite implements it now; PostgreSQL will implement the
//! same trait.

use async_trait::async_trait;

use crate::model::*;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Re-upload of content identical to the current version.
    #[error("the upload is an exact duplicate of the current version")]
    NoChange,
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The stash entry a publish was to consume is gone (published or removed meanwhile).
    #[error("stash entry {0} is gone")]
    StashGone(String),
}

/// Metadata repository: users, sessions, pages, files, logs and the upload stash.
#[async_trait]
pub trait Repo: Send + Sync {
    /// Version string of the database engine.
    async fn db_version(&self) -> Result<String, StoreError>;

    // ---- users -------------------------------------------------------------------------
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        groups: &[String],
        now: &str,
    ) -> Result<User, StoreError>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError>;
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError>;
    async fn set_groups(&self, user_id: i64, groups: &[String]) -> Result<(), StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Creates or replaces the bot password `user@app_id`.
    async fn put_bot_password(&self, bp: &BotPassword) -> Result<(), StoreError>;
    async fn bot_password(
        &self,
        user_id: i64,
        app_id: &str,
    ) -> Result<Option<BotPassword>, StoreError>;

    // ---- sessions ----------------------------------------------------------------------
    /// A session that has not expired at `now` (unix seconds).
    async fn session(&self, id: &str, now: i64) -> Result<Option<Session>, StoreError>;
    async fn put_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn delete_session(&self, id: &str) -> Result<(), StoreError>;
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError>;

    // ---- pages -------------------------------------------------------------------------
    async fn page(&self, ns: i32, title: &str) -> Result<Option<Page>, StoreError>;
    async fn page_by_id(&self, id: i64) -> Result<Option<Page>, StoreError>;
    /// Revisions of a page, newest first when `newest_first`.
    async fn revisions(
        &self,
        page_id: i64,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<Revision>, StoreError>;
    async fn revision(&self, rev_id: i64) -> Result<Option<Revision>, StoreError>;
    /// Whether deleted revisions of this title exist.
    async fn has_deleted_revisions(&self, ns: i32, title: &str) -> Result<bool, StoreError>;
    /// `(type, level, expiry)` restrictions of a page.
    async fn restrictions(&self, page_id: i64)
        -> Result<Vec<(String, String, String)>, StoreError>;
    async fn is_watched(&self, user_id: i64, ns: i32, title: &str) -> Result<bool, StoreError>;

    // ---- files -------------------------------------------------------------------------
    async fn current_file(&self, name: &str) -> Result<Option<FileVersion>, StoreError>;
    /// All versions, the current one first, then old ones newest first.
    async fn file_history(&self, name: &str) -> Result<Vec<FileVersion>, StoreError>;
    async fn old_file(&self, archive_name: &str) -> Result<Option<FileVersion>, StoreError>;
    /// Names of current files with this sha1, sorted by name.
    async fn names_by_sha1(&self, sha1: &str) -> Result<Vec<String>, StoreError>;
    /// Deleted files (filearchive) with this sha1.
    async fn archived_by_sha1(&self, sha1: &str) -> Result<Vec<ArchivedFile>, StoreError>;
    async fn archived_file(&self, id: i64) -> Result<Option<ArchivedFile>, StoreError>;
    /// Deleted files ordered by name then id, starting at `from_id`'s position.
    async fn list_archived(
        &self,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<ArchivedFile>, StoreError>;
    /// First current file (by name) whose name starts with `prefix`.
    async fn first_name_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError>;
    async fn list_files(&self, q: &ImageQuery) -> Result<Vec<FileVersion>, StoreError>;
    /// Publishes a new version in one transaction; fails with [`StoreError::NoChange`] when
    /// the content equals the current version, before anything is written.
    async fn publish(&self, req: &PublishRequest) -> Result<PublishOutcome, StoreError>;
    /// Deletes a file (all versions go to the filearchive) and its description page.
    async fn delete_file(
        &self,
        name: &str,
        user_id: i64,
        user_text: &str,
        reason: &str,
        now: &str,
    ) -> Result<i64, StoreError>;
    /// Restores a deleted file and its page. Returns the number of file versions restored.
    async fn undelete_file(
        &self,
        name: &str,
        user_id: i64,
        user_text: &str,
        reason: &str,
        now: &str,
    ) -> Result<u64, StoreError>;
    /// Whether any file version, deleted file or stash entry refers to this blob.
    async fn blob_referenced(&self, sha1: &str) -> Result<bool, StoreError>;

    // ---- logs --------------------------------------------------------------------------
    /// Log entries ordered by (timestamp, id), newest first unless `older_first`; `from`
    /// (timestamp, id) continues a listing, inclusively.
    async fn log_events(
        &self,
        log_type: Option<&str>,
        action: Option<&str>,
        older_first: bool,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError>;

    // ---- upload stash ------------------------------------------------------------------
    async fn stash_insert(&self, entry: &StashEntry) -> Result<i64, StoreError>;
    async fn stash_get(&self, key: &str) -> Result<Option<StashEntry>, StoreError>;
    async fn stash_list(
        &self,
        user_id: i64,
        from_id: i64,
        limit: u32,
    ) -> Result<Vec<StashEntry>, StoreError>;
    async fn stash_delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Records the progress of a chunked upload.
    async fn stash_update_chunks(
        &self,
        key: &str,
        size: u64,
        chunk_inx: i64,
    ) -> Result<(), StoreError>;
    /// Entries expired at `now` (unix seconds).
    async fn stash_expired(&self, now: i64, limit: u32) -> Result<Vec<StashEntry>, StoreError>;

    // ---- asynchronous work ----------------------------------------------------------------
    /// Stores the status of an upload step for (user, key).
    async fn put_status(
        &self,
        user_id: i64,
        key: &str,
        data: &str,
        expires: i64,
    ) -> Result<(), StoreError>;
    /// The status for (user, key) unless expired at `now`.
    async fn status(&self, user_id: i64, key: &str, now: i64)
        -> Result<Option<String>, StoreError>;
    async fn delete_expired_statuses(&self, now: i64) -> Result<u64, StoreError>;
    /// Queues a job and returns its id.
    async fn insert_job(&self, job: &Job) -> Result<i64, StoreError>;
    /// Jobs not finished yet, oldest first.
    async fn pending_jobs(&self, limit: u32) -> Result<Vec<Job>, StoreError>;
    async fn delete_job(&self, id: i64) -> Result<(), StoreError>;

    // ---- statistics --------------------------------------------------------------------
    async fn stats(&self) -> Result<Stats, StoreError>;
}
