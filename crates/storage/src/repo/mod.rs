//! The metadata repository, split by concern. Each backend (SQLite now, PostgreSQL later)
//! implements the read traits and [`WriteTx`], a write transaction made of small primitive
//! operations; MediaWiki's rules for publishing, deleting and restoring files are written once
//! on top of those primitives ([`crate::rules`]) and shared by every backend.
//!
//! [`FullRepo`] is everything together, the type the server holds (`Arc<dyn FullRepo>`).

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::*;
use crate::rules;

/// Accounts and bot passwords.
#[async_trait]
pub trait UserRepo: Send + Sync {
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        groups: &[String],
        now: &str,
    ) -> Result<User, StoreError>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError>;
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    /// Sets a user's password and ends all the user's sessions (main-account and
    /// bot-password ones), in one transaction; how many sessions ended.
    async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<u64, StoreError>;
    async fn set_groups(&self, user_id: i64, groups: &[String]) -> Result<(), StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Creates or replaces the bot password `user@app_id` and ends the sessions made with
    /// it, in one transaction; how many sessions ended.
    async fn put_bot_password(&self, bp: &BotPassword) -> Result<u64, StoreError>;
    async fn bot_password(
        &self,
        user_id: i64,
        app_id: &str,
    ) -> Result<Option<BotPassword>, StoreError>;
    /// A user's bot passwords, by app id.
    async fn bot_passwords(&self, user_id: i64) -> Result<Vec<BotPassword>, StoreError>;
    /// Removes the bot password `user@app_id` and ends the sessions made with it, in one
    /// transaction: how many sessions ended, or `None` when there was no such bot password.
    async fn delete_bot_password(
        &self,
        user_id: i64,
        app_id: &str,
    ) -> Result<Option<u64>, StoreError>;
}

/// Server-side sessions.
#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// A session that has not expired at `now` (unix seconds).
    async fn session(&self, id: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// Stores a new session (an id already taken is an error).
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    /// Writes back a stored session if it still exists; whether it did. A session deleted
    /// meanwhile (logout, revocation) is not created again.
    async fn update_session(&self, session: &Session) -> Result<bool, StoreError>;
    async fn delete_session(&self, id: &str) -> Result<(), StoreError>;
    /// Ends every session of a user (main-account and bot-password ones); how many.
    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError>;
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError>;
}

/// Wiki pages, their revisions, protections and watchers.
#[async_trait]
pub trait PageRepo: Send + Sync {
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
}

/// Files: current and old versions, deleted files, and what refers to a blob.
#[async_trait]
pub trait FileRepo: Send + Sync {
    async fn current_file(&self, name: &str) -> Result<Option<FileVersion>, StoreError>;
    /// All versions, the current one first, then old ones newest first.
    async fn file_history(&self, name: &str) -> Result<Vec<FileVersion>, StoreError>;
    async fn old_file(&self, archive_name: &str) -> Result<Option<FileVersion>, StoreError>;
    /// Names of current files with this sha1, sorted by name.
    async fn names_by_sha1(&self, sha1: &str) -> Result<Vec<String>, StoreError>;
    /// Deleted files (filearchive) with this sha1.
    async fn archived_by_sha1(&self, sha1: &str) -> Result<Vec<ArchivedFile>, StoreError>;
    async fn archived_file(&self, id: i64) -> Result<Option<ArchivedFile>, StoreError>;
    /// Deleted files ordered by name then id, starting at `from`'s position.
    async fn list_archived(
        &self,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<ArchivedFile>, StoreError>;
    /// First current file (by name) whose name starts with `prefix`.
    async fn first_name_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError>;
    async fn list_files(&self, q: &ImageQuery) -> Result<Vec<FileVersion>, StoreError>;
    /// Whether any file version, deleted file, stash entry or thumbnail refers to this blob.
    async fn blob_referenced(&self, sha1: &str) -> Result<bool, StoreError>;
    /// What an upload to a name needs to know of it (one round trip).
    async fn title_facts(&self, q: &TitleQuery<'_>) -> Result<TitleFacts, StoreError>;
    /// A rendered thumbnail of the content `source`.
    async fn thumbnail(&self, source: &str, name: &str) -> Result<Option<Thumbnail>, StoreError>;
    /// Records a rendered thumbnail (replacing one of the same source and name).
    async fn put_thumbnail(&self, t: &Thumbnail) -> Result<(), StoreError>;
    /// Forgets the thumbnails of content no current or old file version or stash entry
    /// refers to any more; returns how many. Their blobs are then collected like any
    /// unreferenced bytes.
    async fn delete_orphan_thumbnails(&self, limit: u32) -> Result<u64, StoreError>;
    /// Forgets the thumbnails of the content `source` that `names` selects (a purge); returns
    /// the blobs they were stored in.
    async fn delete_thumbnails(
        &self,
        source: &str,
        names: &(dyn for<'n> Fn(&'n str) -> bool + Sync),
    ) -> Result<Vec<String>, StoreError>;
}

/// The log.
#[async_trait]
pub trait LogRepo: Send + Sync {
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
}

/// The upload stash, read side (changes go through [`WriteTx`]).
#[async_trait]
pub trait StashRepo: Send + Sync {
    async fn stash_get(&self, key: &str) -> Result<Option<StashEntry>, StoreError>;
    async fn stash_list(
        &self,
        user_id: i64,
        from_id: i64,
        limit: u32,
    ) -> Result<Vec<StashEntry>, StoreError>;
    /// Entries expired at `now` (unix seconds).
    async fn stash_expired(&self, now: i64, limit: u32) -> Result<Vec<StashEntry>, StoreError>;
    /// Whether a chunked upload (in any state) uses this key: its spooled bytes are alive.
    async fn chunked_upload_exists(&self, key: &str) -> Result<bool, StoreError>;
}

/// Durable jobs, claimed with a lease, and the statuses `checkstatus` reports.
#[async_trait]
pub trait JobRepo: Send + Sync {
    /// The status for (user, key) unless expired at `now`.
    async fn status(&self, user_id: i64, key: &str, now: i64)
        -> Result<Option<String>, StoreError>;
    async fn delete_expired_statuses(&self, now: i64) -> Result<u64, StoreError>;
    /// Claims the oldest job that is not held by a live lease: it is leased to `worker` until
    /// `now + lease_secs`, and no other worker gets it before that.
    async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Job>, StoreError>;
    /// Extends a lease this worker holds; [`StoreError::LeaseLost`] when it does not.
    async fn renew_job(
        &self,
        id: i64,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<(), StoreError>;
    /// Gives a claimed job back to be run again from `retry_at` (unix seconds) on.
    async fn release_job(&self, id: i64, worker: &str, retry_at: i64) -> Result<(), StoreError>;
}

/// Statistics and engine facts.
#[async_trait]
pub trait StatsRepo: Send + Sync {
    /// Version string of the database engine.
    async fn db_version(&self) -> Result<String, StoreError>;
    async fn stats(&self) -> Result<Stats, StoreError>;
}

/// A write transaction: everything in it becomes visible at once on [`WriteTx::commit`],
/// or not at all (dropping it rolls back). Every state change of the upload pipeline is one
/// such transaction, so a crash leaves the state before or after it.
#[async_trait]
pub trait WriteTx: Send {
    // ---- upload stash -------------------------------------------------------------------
    async fn stash_get(&mut self, key: &str) -> Result<Option<StashEntry>, StoreError>;
    async fn stash_insert(&mut self, entry: &StashEntry) -> Result<i64, StoreError>;
    /// Removes an entry; whether it existed.
    async fn stash_delete(&mut self, key: &str) -> Result<bool, StoreError>;
    /// Records a chunk append, if the upload is still receiving chunks at `expected_size`
    /// bytes (compare and set); whether it was.
    async fn stash_update_chunks(
        &mut self,
        key: &str,
        expected_size: u64,
        progress: &ChunkProgress,
    ) -> Result<bool, StoreError>;

    // ---- jobs and statuses --------------------------------------------------------------
    async fn insert_job(&mut self, job: &Job) -> Result<i64, StoreError>;
    /// Removes a job, if `worker` still holds its lease (or `worker` is None); whether it did.
    async fn complete_job(&mut self, id: i64, worker: Option<&str>) -> Result<bool, StoreError>;
    async fn put_status(&mut self, status: &StatusRecord) -> Result<(), StoreError>;
    async fn delete_status(&mut self, user_id: i64, key: &str) -> Result<(), StoreError>;

    // ---- files --------------------------------------------------------------------------
    async fn current_file(&mut self, name: &str) -> Result<Option<FileVersion>, StoreError>;
    /// Old versions of a file.
    async fn old_versions(&mut self, name: &str) -> Result<Vec<FileVersion>, StoreError>;
    async fn archive_name_taken(&mut self, archive_name: &str) -> Result<bool, StoreError>;
    /// Stores an old version (its `archive_name` is set).
    async fn insert_old_version(&mut self, v: &FileVersion) -> Result<(), StoreError>;
    /// Stores the current version of a file (replacing the row of the previous one).
    async fn put_current_file(&mut self, v: &FileVersion) -> Result<(), StoreError>;
    /// Removes every version (current and old) of a file.
    async fn delete_versions(&mut self, name: &str) -> Result<(), StoreError>;
    /// Deleted versions of a file, oldest entry first.
    async fn archived_files(&mut self, name: &str) -> Result<Vec<ArchivedFile>, StoreError>;
    async fn insert_archived(&mut self, a: &ArchivedFile) -> Result<(), StoreError>;
    /// Removes the deleted versions of a file.
    async fn delete_archived(&mut self, name: &str) -> Result<(), StoreError>;

    // ---- pages, revisions, log, users ---------------------------------------------------
    async fn page(&mut self, ns: i32, title: &str) -> Result<Option<Page>, StoreError>;
    async fn create_page(&mut self, ns: i32, title: &str, touched: &str)
        -> Result<i64, StoreError>;
    async fn revision(&mut self, rev_id: i64) -> Result<Option<Revision>, StoreError>;
    /// Adds a revision and makes it its page's latest.
    async fn insert_revision(&mut self, rev: &Revision) -> Result<i64, StoreError>;
    async fn has_deleted_revisions(&mut self, ns: i32, title: &str) -> Result<bool, StoreError>;
    /// Moves a page's revisions to the deletion archive and removes the page.
    async fn archive_page(&mut self, page: &Page) -> Result<(), StoreError>;
    /// Recreates a deleted page from the deletion archive; returns its id.
    async fn restore_page(
        &mut self,
        ns: i32,
        title: &str,
        touched: &str,
    ) -> Result<i64, StoreError>;
    async fn insert_log(&mut self, entry: &LogEntry) -> Result<i64, StoreError>;
    async fn bump_editcount(&mut self, user_id: i64) -> Result<(), StoreError>;
    async fn set_watch(
        &mut self,
        user_id: i64,
        ns: i32,
        title: &str,
        watch: bool,
    ) -> Result<(), StoreError>;

    /// Makes everything durable and visible.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Starting write transactions.
#[async_trait]
pub trait Writes: Send + Sync {
    async fn begin_write(&self) -> Result<Box<dyn WriteTx>, StoreError>;

    /// Publishes a new version in one transaction ([`rules::publish`]).
    async fn publish(&self, req: &PublishRequest) -> Result<PublishOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcome = rules::publish(tx.as_mut(), req).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Deletes a file (all versions go to the filearchive) and its description page.
    async fn delete_file(&self, del: &rules::Deletion) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let log_id = rules::delete_file(tx.as_mut(), del).await?;
        tx.commit().await?;
        Ok(log_id)
    }

    /// Restores a deleted file and its page; the number of file versions restored.
    async fn undelete_file(&self, del: &rules::Deletion) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = rules::undelete_file(tx.as_mut(), del).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Stores a new stash entry.
    async fn stash_insert(&self, entry: &StashEntry) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = tx.stash_insert(entry).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Removes a stash entry; whether it existed.
    async fn stash_delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let gone = tx.stash_delete(key).await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Stores the status of an upload step.
    async fn put_status(&self, status: &StatusRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.put_status(status).await?;
        tx.commit().await
    }
}

/// The whole repository.
pub trait FullRepo:
    UserRepo + SessionRepo + PageRepo + FileRepo + LogRepo + StashRepo + JobRepo + StatsRepo + Writes
{
}

impl<T> FullRepo for T where
    T: UserRepo
        + SessionRepo
        + PageRepo
        + FileRepo
        + LogRepo
        + StashRepo
        + JobRepo
        + StatsRepo
        + Writes
{
}
