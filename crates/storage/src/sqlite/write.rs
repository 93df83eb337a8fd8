//! The write side of the SQLite repository: [`WriteTx`] over one dedicated writer
//! connection, with group commit.
//!
//! SQLite has one writer. Each [`WriteTx`] is a savepoint inside an outer transaction of the
//! writer connection; when it commits, its savepoint is released and, if no other write is
//! waiting, the outer transaction commits (one fsync of the WAL). If writes are waiting, the
//! next one goes on in the same outer transaction and the commit comes after it: writes that
//! arrive together share one fsync. Every caller is answered only after the commit that made
//! its write durable; a failed write rolls back to its savepoint and leaves the others alone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::*;
use crate::repo::{WriteTx, Writes};

/// Most writes one commit makes durable (so that a steady stream of writes still commits).
const MAX_GROUP: usize = 64;

/// The writer connection and the group being formed on it.
pub(super) struct WriterState {
    conn: SqliteConnection,
    /// An outer transaction is open.
    in_tx: bool,
    /// Writes released into the open outer transaction, waiting for its commit.
    pending: Vec<oneshot::Sender<Result<(), String>>>,
}

/// The one writer of the database.
pub(super) struct Writer {
    state: Arc<Mutex<WriterState>>,
    /// Writes waiting for the writer.
    waiting: Arc<AtomicUsize>,
}

impl Writer {
    /// Opens the writer connection.
    pub(super) async fn open(opts: &SqliteConnectOptions) -> Result<Writer, StoreError> {
        let conn = SqliteConnection::connect_with(opts).await?;
        Ok(Writer {
            state: Arc::new(Mutex::new(WriterState {
                conn,
                in_tx: false,
                pending: Vec::new(),
            })),
            waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Starts a write: waits for the writer, opens the outer transaction if none is open, and
    /// a savepoint for this write.
    pub(super) async fn begin(&self) -> Result<SqliteTx, StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.clone().lock_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if !state.in_tx {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut state.conn)
                .await?;
            state.in_tx = true;
        }
        // Writes follow one another, so one savepoint name serves them all (and its
        // statements stay prepared).
        let savepoint = "w".to_owned();
        if let Err(e) = sqlx::query("SAVEPOINT w").execute(&mut state.conn).await {
            end_group(&mut state, &self.waiting).await;
            return Err(e.into());
        }
        Ok(SqliteTx {
            state: Some(state),
            savepoint,
            waiting: self.waiting.clone(),
        })
    }
}

/// Commits the outer transaction if no write is waiting (or the group is full), answering
/// every write released into it.
async fn end_group(state: &mut WriterState, waiting: &AtomicUsize) {
    if !state.in_tx {
        return;
    }
    if waiting.load(Ordering::SeqCst) > 0 && state.pending.len() < MAX_GROUP {
        // The next write goes on in this transaction and commits it later.
        return;
    }
    let result = sqlx::query("COMMIT")
        .execute(&mut state.conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    if result.is_err() {
        let _ = sqlx::query("ROLLBACK").execute(&mut state.conn).await;
    }
    state.in_tx = false;
    for p in state.pending.drain(..) {
        let _ = p.send(result.clone());
    }
}

/// One write: a savepoint in the writer's outer transaction; dropping it rolls it back.
pub struct SqliteTx {
    state: Option<OwnedMutexGuard<WriterState>>,
    savepoint: String,
    waiting: Arc<AtomicUsize>,
}

impl SqliteTx {
    /// The writer connection (held until this write ends).
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.state
            .as_mut()
            .map(|s| &mut s.conn)
            .ok_or_else(|| StoreError::Corrupt("a write used after its commit".into()))
    }

    /// Releases this write into the group and waits until a commit made it durable.
    pub(super) async fn finish(mut self) -> Result<(), StoreError> {
        let Some(mut state) = self.state.take() else {
            return Ok(());
        };
        let released = sqlx::query(&format!("RELEASE {}", self.savepoint))
            .execute(&mut state.conn)
            .await;
        if let Err(e) = released {
            rollback_savepoint(&mut state, &self.savepoint).await;
            end_group(&mut state, &self.waiting).await;
            return Err(e.into());
        }
        let (tx, rx) = oneshot::channel();
        state.pending.push(tx);
        end_group(&mut state, &self.waiting).await;
        drop(state);
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Db(sqlx::Error::Protocol(format!(
                "commit failed: {e}"
            )))),
            Err(_) => Err(StoreError::Db(sqlx::Error::Protocol(
                "the commit of this write was lost".into(),
            ))),
        }
    }
}

async fn rollback_savepoint(state: &mut WriterState, savepoint: &str) {
    let undone = sqlx::query(&format!("ROLLBACK TO {savepoint}"))
        .execute(&mut state.conn)
        .await;
    let released = sqlx::query(&format!("RELEASE {savepoint}"))
        .execute(&mut state.conn)
        .await;
    if let Err(e) = undone.and(released) {
        // The outer transaction cannot go on: give it up, and the writes released into it.
        tracing::error!(error = %e, "could not roll back a write; the group is rolled back");
        let _ = sqlx::query("ROLLBACK").execute(&mut state.conn).await;
        state.in_tx = false;
        for p in state.pending.drain(..) {
            let _ = p.send(Err(format!("rolled back with a failed write: {e}")));
        }
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        // Not committed: undo this write (its guard moves into a task of its own, and the
        // writer stays taken until that is done).
        if let Some(mut state) = self.state.take() {
            let savepoint = std::mem::take(&mut self.savepoint);
            let waiting = self.waiting.clone();
            tokio::spawn(async move {
                rollback_savepoint(&mut state, &savepoint).await;
                if state.pending.is_empty() && state.in_tx {
                    // Nothing to keep: end the empty outer transaction.
                    let _ = sqlx::query("ROLLBACK").execute(&mut state.conn).await;
                    state.in_tx = false;
                } else {
                    end_group(&mut state, &waiting).await;
                }
            });
        }
    }
}

#[async_trait]
impl Writes for SqliteRepo {
    async fn begin_write(&self) -> Result<Box<dyn WriteTx>, StoreError> {
        Ok(Box::new(self.writer.begin().await?))
    }
}

#[async_trait]
impl WriteTx for SqliteTx {
    async fn stash_get(&mut self, key: &str) -> Result<Option<StashEntry>, StoreError> {
        let row = sqlx::query("SELECT * FROM uploadstash WHERE us_key = ?")
            .bind(key)
            .fetch_optional(self.conn()?)
            .await?;
        Ok(row.as_ref().map(stash_from).transpose()?)
    }

    async fn stash_insert(&mut self, e: &StashEntry) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO uploadstash (us_user, us_key, us_sha1, us_size, us_source_type, \
             us_timestamp, us_expires, us_status, us_chunk_inx, us_props, us_mime, us_media_type, \
             us_image_width, us_image_height, us_image_bits, us_temp_name, us_hash_state) \
             VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(e.user_id)
        .bind(&e.key)
        .bind(&e.meta.sha1)
        .bind(e.meta.size as i64)
        .bind(&e.source_type)
        .bind(&e.timestamp)
        .bind(e.expires)
        .bind(e.status.as_str())
        .bind(e.chunk_inx)
        .bind(&e.props)
        .bind(e.meta.mime())
        .bind(&e.meta.media_type)
        .bind(e.meta.width as i64)
        .bind(e.meta.height as i64)
        .bind(e.meta.bits as i64)
        .bind(&e.temp_name)
        .bind(&e.hash_state)
        .execute(self.conn()?)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn stash_delete(&mut self, key: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM uploadstash WHERE us_key = ?")
            .bind(key)
            .execute(self.conn()?)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn stash_update_chunks(
        &mut self,
        key: &str,
        expected_size: u64,
        p: &ChunkProgress,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE uploadstash SET us_size = ?, us_chunk_inx = ?, us_hash_state = ?, us_status = ? \
             WHERE us_key = ? AND us_status = 'chunks' AND us_size = ?",
        )
        .bind(p.size as i64)
        .bind(p.chunk_inx)
        .bind(&p.hash_state)
        .bind(p.status.as_str())
        .bind(key)
        .bind(expected_size as i64)
        .execute(self.conn()?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_job(&mut self, job: &Job) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO job (job_type, job_user, job_key, job_params, job_created, job_owner, \
             job_lease_until) VALUES (?,?,?,?,?,?,?)",
        )
        .bind(&job.job_type)
        .bind(job.user_id)
        .bind(&job.key)
        .bind(&job.params)
        .bind(job.created)
        .bind(&job.owner)
        .bind(job.lease_until)
        .execute(self.conn()?)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn complete_job(&mut self, id: i64, worker: Option<&str>) -> Result<bool, StoreError> {
        let r = match worker {
            Some(w) => {
                sqlx::query("DELETE FROM job WHERE job_id = ? AND job_owner = ?")
                    .bind(id)
                    .bind(w)
                    .execute(self.conn()?)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM job WHERE job_id = ?")
                    .bind(id)
                    .execute(self.conn()?)
                    .await?
            }
        };
        Ok(r.rows_affected() == 1)
    }

    async fn put_status(&mut self, s: &StatusRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO upload_status (st_user, st_key, st_data, st_expires) \
             VALUES (?,?,?,?)",
        )
        .bind(s.user_id)
        .bind(&s.key)
        .bind(&s.data)
        .bind(s.expires)
        .execute(self.conn()?)
        .await?;
        Ok(())
    }

    async fn delete_status(&mut self, user_id: i64, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM upload_status WHERE st_user = ? AND st_key = ?")
            .bind(user_id)
            .bind(key)
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn current_file(&mut self, name: &str) -> Result<Option<FileVersion>, StoreError> {
        let row = sqlx::query("SELECT * FROM image WHERE img_name = ?")
            .bind(name)
            .fetch_optional(self.conn()?)
            .await?;
        Ok(row.as_ref().map(image_from).transpose()?)
    }

    async fn old_versions(&mut self, name: &str) -> Result<Vec<FileVersion>, StoreError> {
        let rows = sqlx::query("SELECT * FROM oldimage WHERE oi_name = ?")
            .bind(name)
            .fetch_all(self.conn()?)
            .await?;
        Ok(rows.iter().map(oldimage_from).collect::<Result<_, _>>()?)
    }

    async fn archive_name_taken(&mut self, archive_name: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM oldimage WHERE oi_archive_name = ?")
                .bind(archive_name)
                .fetch_optional(self.conn()?)
                .await?
                .is_some(),
        )
    }

    async fn insert_old_version(&mut self, v: &FileVersion) -> Result<(), StoreError> {
        let archive_name = v
            .archive_name
            .as_deref()
            .ok_or_else(|| StoreError::Corrupt("an old version needs an archive name".into()))?;
        let sql = format!(
            "INSERT INTO oldimage (oi_name, oi_archive_name, {}) \
             VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            prefixed_cols("oi")
        );
        sqlx::query(&sql)
            .bind(&v.name)
            .bind(archive_name)
            .bind_version(
                &v.meta,
                &v.description,
                v.user_id,
                &v.user_text,
                &v.timestamp,
            )
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn put_current_file(&mut self, v: &FileVersion) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT OR REPLACE INTO image (img_name, {}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            prefixed_cols("img")
        );
        sqlx::query(&sql)
            .bind(&v.name)
            .bind_version(
                &v.meta,
                &v.description,
                v.user_id,
                &v.user_text,
                &v.timestamp,
            )
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn delete_versions(&mut self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM image WHERE img_name = ?")
            .bind(name)
            .execute(self.conn()?)
            .await?;
        sqlx::query("DELETE FROM oldimage WHERE oi_name = ?")
            .bind(name)
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn archived_files(&mut self, name: &str) -> Result<Vec<ArchivedFile>, StoreError> {
        let rows = sqlx::query("SELECT * FROM filearchive WHERE fa_name = ? ORDER BY fa_id")
            .bind(name)
            .fetch_all(self.conn()?)
            .await?;
        Ok(rows.iter().map(archived_from).collect::<Result<_, _>>()?)
    }

    async fn insert_archived(&mut self, a: &ArchivedFile) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO filearchive (fa_name, fa_archive_name, fa_storage_key, fa_deleted_user, \
             fa_deleted_timestamp, fa_deleted_reason, {}) \
             VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            prefixed_cols("fa")
        );
        sqlx::query(&sql)
            .bind(&a.name)
            .bind(&a.archive_name)
            .bind(&a.storage_key)
            .bind(a.deleted_user)
            .bind(&a.deleted_timestamp)
            .bind(&a.deleted_reason)
            .bind_version(
                &a.meta,
                &a.description,
                a.user_id,
                &a.user_text,
                &a.timestamp,
            )
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn delete_archived(&mut self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM filearchive WHERE fa_name = ?")
            .bind(name)
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn page(&mut self, ns: i32, title: &str) -> Result<Option<Page>, StoreError> {
        let row = sqlx::query("SELECT * FROM page WHERE page_namespace = ? AND page_title = ?")
            .bind(ns)
            .bind(title)
            .fetch_optional(self.conn()?)
            .await?;
        Ok(row.as_ref().map(page_from).transpose()?)
    }

    async fn create_page(
        &mut self,
        ns: i32,
        title: &str,
        touched: &str,
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO page (page_namespace, page_title, page_touched) VALUES (?, ?, ?)",
        )
        .bind(ns)
        .bind(title)
        .bind(touched)
        .execute(self.conn()?)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn revision(&mut self, rev_id: i64) -> Result<Option<Revision>, StoreError> {
        let row = sqlx::query("SELECT * FROM revision WHERE rev_id = ?")
            .bind(rev_id)
            .fetch_optional(self.conn()?)
            .await?;
        Ok(row.as_ref().map(revision_from).transpose()?)
    }

    async fn insert_revision(&mut self, r: &Revision) -> Result<i64, StoreError> {
        let res = sqlx::query(
            "INSERT INTO revision (rev_page, rev_user, rev_user_text, rev_timestamp, rev_comment, \
             rev_text, rev_parent) VALUES (?,?,?,?,?,?,?)",
        )
        .bind(r.page_id)
        .bind(r.user_id)
        .bind(&r.user_text)
        .bind(&r.timestamp)
        .bind(&r.comment)
        .bind(&r.text)
        .bind(r.parent)
        .execute(self.conn()?)
        .await?;
        let id = res.last_insert_rowid();
        sqlx::query(
            "UPDATE page SET page_latest = ?, page_touched = ?, page_len = ? WHERE page_id = ?",
        )
        .bind(id)
        .bind(&r.timestamp)
        .bind(r.text.len() as i64)
        .bind(r.page_id)
        .execute(self.conn()?)
        .await?;
        Ok(id)
    }

    async fn has_deleted_revisions(&mut self, ns: i32, title: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM archive WHERE ar_namespace = ? AND ar_title = ? LIMIT 1")
                .bind(ns)
                .bind(title)
                .fetch_optional(self.conn()?)
                .await?
                .is_some(),
        )
    }

    async fn archive_page(&mut self, p: &Page) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO archive (ar_namespace, ar_title, ar_rev_id, ar_page_id, ar_user, \
             ar_user_text, ar_timestamp, ar_comment, ar_text, ar_parent) \
             SELECT ?, ?, rev_id, rev_page, rev_user, rev_user_text, rev_timestamp, \
             rev_comment, rev_text, rev_parent FROM revision WHERE rev_page = ?",
        )
        .bind(p.ns)
        .bind(&p.title)
        .bind(p.id)
        .execute(self.conn()?)
        .await?;
        for sql in [
            "DELETE FROM revision WHERE rev_page = ?",
            "DELETE FROM page WHERE page_id = ?",
            "DELETE FROM page_restrictions WHERE pr_page = ?",
        ] {
            sqlx::query(sql).bind(p.id).execute(self.conn()?).await?;
        }
        Ok(())
    }

    async fn restore_page(
        &mut self,
        ns: i32,
        title: &str,
        touched: &str,
    ) -> Result<i64, StoreError> {
        let page_id = self.create_page(ns, title, touched).await?;
        sqlx::query(
            "INSERT INTO revision (rev_id, rev_page, rev_user, rev_user_text, rev_timestamp, \
             rev_comment, rev_text, rev_parent) SELECT ar_rev_id, ?, ar_user, ar_user_text, \
             ar_timestamp, ar_comment, ar_text, ar_parent FROM archive \
             WHERE ar_namespace = ? AND ar_title = ?",
        )
        .bind(page_id)
        .bind(ns)
        .bind(title)
        .execute(self.conn()?)
        .await?;
        sqlx::query(
            "UPDATE page SET page_latest = (SELECT MAX(rev_id) FROM revision WHERE rev_page = ?1), \
             page_len = COALESCE((SELECT length(rev_text) FROM revision WHERE rev_page = ?1 \
             ORDER BY rev_id DESC LIMIT 1), 0) WHERE page_id = ?1",
        )
        .bind(page_id)
        .execute(self.conn()?)
        .await?;
        sqlx::query("DELETE FROM archive WHERE ar_namespace = ? AND ar_title = ?")
            .bind(ns)
            .bind(title)
            .execute(self.conn()?)
            .await?;
        Ok(page_id)
    }

    async fn insert_log(&mut self, e: &LogEntry) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO logging (log_type, log_action, log_namespace, log_title, log_page, \
             log_user, log_user_text, log_timestamp, log_comment, log_params) \
             VALUES (?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(&e.log_type)
        .bind(&e.action)
        .bind(e.ns)
        .bind(&e.title)
        .bind(e.page_id)
        .bind(e.user_id)
        .bind(&e.user_text)
        .bind(&e.timestamp)
        .bind(&e.comment)
        .bind(&e.params)
        .execute(self.conn()?)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn bump_editcount(&mut self, user_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE user SET user_editcount = user_editcount + 1 WHERE user_id = ?")
            .bind(user_id)
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn set_watch(
        &mut self,
        user_id: i64,
        ns: i32,
        title: &str,
        watch: bool,
    ) -> Result<(), StoreError> {
        let sql = if watch {
            "INSERT OR IGNORE INTO watchlist (wl_user, wl_namespace, wl_title) VALUES (?, ?, ?)"
        } else {
            "DELETE FROM watchlist WHERE wl_user = ? AND wl_namespace = ? AND wl_title = ?"
        };
        sqlx::query(sql)
            .bind(user_id)
            .bind(ns)
            .bind(title)
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        (*self).finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::StashRepo;

    fn entry(key: &str) -> StashEntry {
        StashEntry {
            id: 0,
            user_id: 1,
            key: key.to_owned(),
            meta: FileMeta::unknown(1),
            source_type: None,
            timestamp: "20260101000000".into(),
            expires: i64::MAX,
            status: StashStatus::Finished,
            chunk_inx: None,
            props: "{}".into(),
            temp_name: String::new(),
            hash_state: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_grouped_into_one_commit_stay_independent() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Arc::new(
            SqliteRepo::open(&dir.path().join("t.sqlite"))
                .await
                .unwrap(),
        );
        let mut tasks = Vec::new();
        for i in 0..60 {
            let repo = repo.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = repo.begin_write().await?;
                tx.stash_insert(&entry(&format!("k{i}.png"))).await?;
                match i % 3 {
                    // Committed.
                    0 => tx.commit().await.map(|_| true),
                    // Dropped: rolled back, whatever the others do.
                    1 => Ok(false),
                    // Fails inside (the key exists): only this write is undone.
                    _ => {
                        tx.stash_insert(&entry(&format!("k{i}.png"))).await?;
                        tx.commit().await.map(|_| true)
                    }
                }
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        for (i, o) in outcomes.iter().enumerate() {
            let stored = repo
                .stash_get(&format!("k{i}.png"))
                .await
                .unwrap()
                .is_some();
            match i % 3 {
                0 => assert!(matches!(o, Ok(true)) && stored, "write {i}: {o:?}"),
                1 => assert!(matches!(o, Ok(false)) && !stored, "write {i}: {o:?}"),
                _ => assert!(o.is_err() && !stored, "write {i}: {o:?}"),
            }
        }
        // The writer is free and the database consistent afterwards.
        let mut tx = repo.begin_write().await.unwrap();
        tx.stash_insert(&entry("last.png")).await.unwrap();
        tx.commit().await.unwrap();
        assert!(repo.stash_get("last.png").await.unwrap().is_some());
    }
}
