//! SQLite implementation of [`Repo`].

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};
use tokio::sync::Mutex;

use crate::model::*;
use crate::repo::{Repo, StoreError};

/// The embedded default repository: one SQLite file in WAL mode with full fsync on commit.
pub struct SqliteRepo {
    pool: SqlitePool,
    /// SQLite has one writer; serialising write transactions in-process avoids lock upgrades
    /// failing under contention (other processes are handled by the busy timeout).
    write_lock: Mutex<()>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn user_from(row: &SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("user_id")?,
        name: row.try_get("user_name")?,
        password_hash: row.try_get("user_password")?,
        groups: split_list(&row.try_get::<String, _>("user_groups")?),
        registration: row.try_get("user_registration")?,
        editcount: row.try_get("user_editcount")?,
    })
}

fn meta_from(row: &SqliteRow, p: &str) -> Result<FileMeta, sqlx::Error> {
    Ok(FileMeta {
        size: row.try_get::<i64, _>(format!("{p}_size").as_str())? as u64,
        width: row.try_get::<i64, _>(format!("{p}_width").as_str())? as u32,
        height: row.try_get::<i64, _>(format!("{p}_height").as_str())? as u32,
        bits: row.try_get::<i64, _>(format!("{p}_bits").as_str())? as u32,
        metadata: row.try_get(format!("{p}_metadata").as_str())?,
        media_type: row.try_get(format!("{p}_media_type").as_str())?,
        major_mime: row.try_get(format!("{p}_major_mime").as_str())?,
        minor_mime: row.try_get(format!("{p}_minor_mime").as_str())?,
        sha1: row.try_get(format!("{p}_sha1").as_str())?,
    })
}

/// A file version from an `image` (prefix `img`) or `oldimage` (prefix `oi`) row.
fn version_from(row: &SqliteRow, p: &str) -> Result<FileVersion, sqlx::Error> {
    let col = |c: &str| format!("{p}_{c}");
    Ok(FileVersion {
        name: row.try_get(col("name").as_str())?,
        archive_name: if p == "oi" {
            Some(row.try_get(col("archive_name").as_str())?)
        } else {
            None
        },
        meta: meta_from(row, p)?,
        description: row.try_get(col("description").as_str())?,
        user_id: row.try_get(col("user").as_str())?,
        user_text: row.try_get(col("user_text").as_str())?,
        timestamp: row.try_get(col("timestamp").as_str())?,
    })
}

fn image_from(row: &SqliteRow) -> Result<FileVersion, sqlx::Error> {
    version_from(row, "img")
}

fn oldimage_from(row: &SqliteRow) -> Result<FileVersion, sqlx::Error> {
    version_from(row, "oi")
}

fn archived_from(row: &SqliteRow) -> Result<ArchivedFile, sqlx::Error> {
    Ok(ArchivedFile {
        id: row.try_get("fa_id")?,
        name: row.try_get("fa_name")?,
        archive_name: row.try_get("fa_archive_name")?,
        storage_key: row.try_get("fa_storage_key")?,
        deleted_user: row.try_get("fa_deleted_user")?,
        deleted_timestamp: row.try_get("fa_deleted_timestamp")?,
        deleted_reason: row.try_get("fa_deleted_reason")?,
        meta: meta_from(row, "fa")?,
        description: row.try_get("fa_description")?,
        user_id: row.try_get("fa_user")?,
        user_text: row.try_get("fa_user_text")?,
        timestamp: row.try_get("fa_timestamp")?,
    })
}

fn page_from(row: &SqliteRow) -> Result<Page, sqlx::Error> {
    Ok(Page {
        id: row.try_get("page_id")?,
        ns: row.try_get::<i64, _>("page_namespace")? as i32,
        title: row.try_get("page_title")?,
        latest: row.try_get("page_latest")?,
        touched: row.try_get("page_touched")?,
        len: row.try_get("page_len")?,
    })
}

fn revision_from(row: &SqliteRow) -> Result<Revision, sqlx::Error> {
    Ok(Revision {
        id: row.try_get("rev_id")?,
        page_id: row.try_get("rev_page")?,
        user_id: row.try_get("rev_user")?,
        user_text: row.try_get("rev_user_text")?,
        timestamp: row.try_get("rev_timestamp")?,
        comment: row.try_get("rev_comment")?,
        text: row.try_get("rev_text")?,
        parent: row.try_get("rev_parent")?,
    })
}

fn log_from(row: &SqliteRow) -> Result<LogEntry, sqlx::Error> {
    Ok(LogEntry {
        id: row.try_get("log_id")?,
        log_type: row.try_get("log_type")?,
        action: row.try_get("log_action")?,
        ns: row.try_get::<i64, _>("log_namespace")? as i32,
        title: row.try_get("log_title")?,
        page_id: row.try_get("log_page")?,
        user_id: row.try_get("log_user")?,
        user_text: row.try_get("log_user_text")?,
        timestamp: row.try_get("log_timestamp")?,
        comment: row.try_get("log_comment")?,
        params: row.try_get("log_params")?,
    })
}

fn stash_from(row: &SqliteRow) -> Result<StashEntry, sqlx::Error> {
    let mime: String = row.try_get("us_mime")?;
    let (major, minor) = mime.split_once('/').unwrap_or(("unknown", "unknown"));
    let props: String = row.try_get("us_props")?;
    let metadata = serde_json::from_str::<serde_json::Value>(&props)
        .ok()
        .and_then(|v| {
            v.get("metadata_json")
                .and_then(|m| m.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| "{}".into());
    Ok(StashEntry {
        id: row.try_get("us_id")?,
        user_id: row.try_get("us_user")?,
        key: row.try_get("us_key")?,
        meta: FileMeta {
            size: row.try_get::<i64, _>("us_size")? as u64,
            width: row.try_get::<i64, _>("us_image_width")? as u32,
            height: row.try_get::<i64, _>("us_image_height")? as u32,
            bits: row.try_get::<i64, _>("us_image_bits")? as u32,
            metadata,
            media_type: row.try_get("us_media_type")?,
            major_mime: major.to_owned(),
            minor_mime: minor.to_owned(),
            sha1: row.try_get("us_sha1")?,
        },
        source_type: row.try_get("us_source_type")?,
        timestamp: row.try_get("us_timestamp")?,
        expires: row.try_get("us_expires")?,
        status: row.try_get("us_status")?,
        chunk_inx: row.try_get("us_chunk_inx")?,
        props,
        temp_name: row.try_get("us_temp_name")?,
    })
}

/// Adds one second to a 14-digit timestamp.
fn ts_plus_one(ts: &str) -> String {
    match crate::parse_ts14(ts) {
        Some(t) => crate::ts14(t + chrono::Duration::seconds(1)),
        None => ts.to_owned(),
    }
}

impl SqliteRepo {
    /// Opens (creating and migrating) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteRepo {
            pool,
            write_lock: Mutex::new(()),
        })
    }

    async fn insert_log(tx: &mut sqlx::SqliteConnection, e: &LogEntry) -> Result<i64, StoreError> {
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
        .execute(&mut *tx)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn insert_revision(
        tx: &mut sqlx::SqliteConnection,
        r: &Revision,
    ) -> Result<i64, StoreError> {
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
        .execute(&mut *tx)
        .await?;
        let id = res.last_insert_rowid();
        sqlx::query(
            "UPDATE page SET page_latest = ?, page_touched = ?, page_len = ? WHERE page_id = ?",
        )
        .bind(id)
        .bind(&r.timestamp)
        .bind(r.text.len() as i64)
        .bind(r.page_id)
        .execute(&mut *tx)
        .await?;
        Ok(id)
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds the values of [`FILE_COLS`], in order.
trait BindVersion<'q> {
    fn bind_version(
        self,
        meta: &'q FileMeta,
        description: &'q str,
        user: i64,
        user_text: &'q str,
        timestamp: &'q str,
    ) -> Self;
}

impl<'q> BindVersion<'q> for SqliteQuery<'q> {
    fn bind_version(
        self,
        m: &'q FileMeta,
        description: &'q str,
        user: i64,
        user_text: &'q str,
        timestamp: &'q str,
    ) -> Self {
        self.bind(m.size as i64)
            .bind(m.width as i64)
            .bind(m.height as i64)
            .bind(m.bits as i64)
            .bind(&m.metadata)
            .bind(&m.media_type)
            .bind(&m.major_mime)
            .bind(&m.minor_mime)
            .bind(description)
            .bind(user)
            .bind(user_text)
            .bind(timestamp)
            .bind(&m.sha1)
    }
}

const FILE_COLS: &str = "size, width, height, bits, metadata, media_type, major_mime, minor_mime, \
                         description, user, user_text, timestamp, sha1";

fn prefixed_cols(p: &str) -> String {
    FILE_COLS
        .split(", ")
        .map(|c| format!("{p}_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl Repo for SqliteRepo {
    async fn db_version(&self) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT sqlite_version() AS v")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("v")?)
    }

    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        groups: &[String],
        now: &str,
    ) -> Result<User, StoreError> {
        let _w = self.write_lock.lock().await;
        if self.user_by_name(name).await?.is_some() {
            return Err(StoreError::AlreadyExists(format!("user {name}")));
        }
        let r = sqlx::query(
            "INSERT INTO user (user_name, user_password, user_groups, user_registration) \
             VALUES (?,?,?,?)",
        )
        .bind(name)
        .bind(password_hash)
        .bind(groups.join(","))
        .bind(now)
        .execute(&self.pool)
        .await?;
        let id = r.last_insert_rowid();
        self.user_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM user WHERE user_name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM user WHERE user_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("UPDATE user SET user_password = ? WHERE user_id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_groups(&self, user_id: i64, groups: &[String]) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("UPDATE user SET user_groups = ? WHERE user_id = ?")
            .bind(groups.join(","))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT * FROM user ORDER BY user_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn put_bot_password(&self, bp: &BotPassword) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query(
            "INSERT OR REPLACE INTO bot_passwords (bp_user, bp_app_id, bp_password, bp_grants, \
             bp_created) VALUES (?,?,?,?,?)",
        )
        .bind(bp.user_id)
        .bind(&bp.app_id)
        .bind(&bp.password_hash)
        .bind(bp.grants.join(","))
        .bind(&bp.created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn bot_password(
        &self,
        user_id: i64,
        app_id: &str,
    ) -> Result<Option<BotPassword>, StoreError> {
        let row = sqlx::query("SELECT * FROM bot_passwords WHERE bp_user = ? AND bp_app_id = ?")
            .bind(user_id)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(BotPassword {
            user_id: row.try_get("bp_user")?,
            app_id: row.try_get("bp_app_id")?,
            password_hash: row.try_get("bp_password")?,
            grants: split_list(&row.try_get::<String, _>("bp_grants")?),
            created: row.try_get("bp_created")?,
        }))
    }

    async fn session(&self, id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM session WHERE s_id = ? AND s_expires > ?")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let secrets: String = row.try_get("s_secrets")?;
        let grants: Option<String> = row.try_get("s_grants")?;
        Ok(Some(Session {
            id: row.try_get("s_id")?,
            user_id: row.try_get("s_user")?,
            bot_app: row.try_get("s_bot_app")?,
            grants: grants.map(|g| split_list(&g)),
            secrets: serde_json::from_str(&secrets).unwrap_or_default(),
            expires: row.try_get("s_expires")?,
        }))
    }

    async fn put_session(&self, s: &Session) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        let secrets =
            serde_json::to_string(&s.secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT OR REPLACE INTO session (s_id, s_user, s_bot_app, s_grants, s_secrets, \
             s_expires) VALUES (?,?,?,?,?,?)",
        )
        .bind(&s.id)
        .bind(s.user_id)
        .bind(&s.bot_app)
        .bind(s.grants.as_ref().map(|g| g.join(",")))
        .bind(secrets)
        .bind(s.expires)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("DELETE FROM session WHERE s_id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let _w = self.write_lock.lock().await;
        let r = sqlx::query("DELETE FROM session WHERE s_expires <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn page(&self, ns: i32, title: &str) -> Result<Option<Page>, StoreError> {
        let row = sqlx::query("SELECT * FROM page WHERE page_namespace = ? AND page_title = ?")
            .bind(ns)
            .bind(title)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(page_from).transpose()?)
    }

    async fn page_by_id(&self, id: i64) -> Result<Option<Page>, StoreError> {
        let row = sqlx::query("SELECT * FROM page WHERE page_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(page_from).transpose()?)
    }

    async fn revisions(
        &self,
        page_id: i64,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<Revision>, StoreError> {
        let sql = if newest_first {
            "SELECT * FROM revision WHERE rev_page = ? ORDER BY rev_id DESC LIMIT ?"
        } else {
            "SELECT * FROM revision WHERE rev_page = ? ORDER BY rev_id ASC LIMIT ?"
        };
        let rows = sqlx::query(sql)
            .bind(page_id)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(revision_from).collect::<Result<_, _>>()?)
    }

    async fn revision(&self, rev_id: i64) -> Result<Option<Revision>, StoreError> {
        let row = sqlx::query("SELECT * FROM revision WHERE rev_id = ?")
            .bind(rev_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(revision_from).transpose()?)
    }

    async fn has_deleted_revisions(&self, ns: i32, title: &str) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 FROM archive WHERE ar_namespace = ? AND ar_title = ? LIMIT 1")
                .bind(ns)
                .bind(title)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    async fn restrictions(
        &self,
        page_id: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT pr_type, pr_level, pr_expiry FROM page_restrictions WHERE pr_page = ? \
             ORDER BY pr_type",
        )
        .bind(page_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        Ok(out)
    }

    async fn is_watched(&self, user_id: i64, ns: i32, title: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM watchlist WHERE wl_user = ? AND wl_namespace = ? AND wl_title = ?",
        )
        .bind(user_id)
        .bind(ns)
        .bind(title)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn current_file(&self, name: &str) -> Result<Option<FileVersion>, StoreError> {
        let row = sqlx::query("SELECT * FROM image WHERE img_name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(image_from).transpose()?)
    }

    async fn file_history(&self, name: &str) -> Result<Vec<FileVersion>, StoreError> {
        let mut out = Vec::new();
        if let Some(cur) = self.current_file(name).await? {
            out.push(cur);
        }
        let rows = sqlx::query(
            "SELECT * FROM oldimage WHERE oi_name = ? ORDER BY oi_timestamp DESC, oi_id DESC",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(oldimage_from(r)?);
        }
        Ok(out)
    }

    async fn old_file(&self, archive_name: &str) -> Result<Option<FileVersion>, StoreError> {
        let row = sqlx::query("SELECT * FROM oldimage WHERE oi_archive_name = ?")
            .bind(archive_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(oldimage_from).transpose()?)
    }

    async fn names_by_sha1(&self, sha1: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT img_name FROM image WHERE img_sha1 = ? ORDER BY img_name")
            .bind(sha1)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?)
    }

    async fn archived_by_sha1(&self, sha1: &str) -> Result<Vec<ArchivedFile>, StoreError> {
        let rows = sqlx::query("SELECT * FROM filearchive WHERE fa_sha1 = ? ORDER BY fa_id")
            .bind(sha1)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(archived_from).collect::<Result<_, _>>()?)
    }

    async fn archived_file(&self, id: i64) -> Result<Option<ArchivedFile>, StoreError> {
        let row = sqlx::query("SELECT * FROM filearchive WHERE fa_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(archived_from).transpose()?)
    }

    async fn list_archived(
        &self,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<ArchivedFile>, StoreError> {
        let rows =
            match from {
                Some((name, id)) => sqlx::query(
                    "SELECT * FROM filearchive WHERE fa_name > ? OR (fa_name = ? AND fa_id >= ?) \
                     ORDER BY fa_name, fa_id LIMIT ?",
                )
                .bind(name.clone())
                .bind(name)
                .bind(id)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query("SELECT * FROM filearchive ORDER BY fa_name, fa_id LIMIT ?")
                        .bind(limit as i64)
                        .fetch_all(&self.pool)
                        .await?
                }
            };
        Ok(rows.iter().map(archived_from).collect::<Result<_, _>>()?)
    }

    async fn first_name_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        // Names sort bytewise: if any name starts with `prefix`, the first name at or after
        // it does. One index seek, no LIKE wildcards to escape.
        let row =
            sqlx::query("SELECT img_name FROM image WHERE img_name >= ? ORDER BY img_name LIMIT 1")
                .bind(prefix)
                .fetch_optional(&self.pool)
                .await?;
        let name = row.map(|r| r.try_get::<String, _>(0)).transpose()?;
        Ok(name.filter(|n| n.starts_with(prefix)))
    }

    async fn list_files(&self, q: &ImageQuery) -> Result<Vec<FileVersion>, StoreError> {
        let mut sql = String::from("SELECT * FROM image WHERE 1=1");
        let mut binds: Vec<String> = Vec::new();
        let mut int_binds: Vec<(usize, i64)> = Vec::new();
        let (cmp_fwd, cmp_back) = if q.descending {
            ("<=", ">=")
        } else {
            (">=", "<=")
        };
        match q.sort {
            ImageSort::Name => {
                if let Some(f) = &q.from {
                    sql.push_str(&format!(" AND img_name {cmp_fwd} ?"));
                    binds.push(f.clone());
                }
                if let Some(t) = &q.to {
                    sql.push_str(&format!(" AND img_name {cmp_back} ?"));
                    binds.push(t.clone());
                }
                if let Some(p) = &q.prefix {
                    sql.push_str(" AND substr(img_name, 1, length(?)) = ?");
                    binds.push(p.clone());
                    binds.push(p.clone());
                }
                if let Some((_, name)) = &q.continue_from {
                    sql.push_str(&format!(" AND img_name {cmp_fwd} ?"));
                    binds.push(name.clone());
                }
            }
            ImageSort::Timestamp => {
                if let Some(s) = &q.start {
                    sql.push_str(&format!(" AND img_timestamp {cmp_fwd} ?"));
                    binds.push(s.clone());
                }
                if let Some(e) = &q.end {
                    sql.push_str(&format!(" AND img_timestamp {cmp_back} ?"));
                    binds.push(e.clone());
                }
                if let Some((ts, name)) = &q.continue_from {
                    let op = if q.descending { "<" } else { ">" };
                    sql.push_str(&format!(
                        " AND (img_timestamp {op} ? OR (img_timestamp = ? AND img_name {cmp_fwd} ?))"
                    ));
                    binds.push(ts.clone());
                    binds.push(ts.clone());
                    binds.push(name.clone());
                }
                if let Some(u) = &q.user {
                    sql.push_str(" AND img_user_text = ?");
                    binds.push(u.clone());
                }
            }
        }
        if let Some(s) = &q.sha1 {
            sql.push_str(" AND img_sha1 = ?");
            binds.push(s.clone());
        }
        if let Some(m) = q.min_size {
            sql.push_str(" AND img_size >= ?");
            int_binds.push((binds.len(), m as i64));
            binds.push(String::new());
        }
        if let Some(m) = q.max_size {
            sql.push_str(" AND img_size <= ?");
            int_binds.push((binds.len(), m as i64));
            binds.push(String::new());
        }
        let dir = if q.descending { "DESC" } else { "ASC" };
        match q.sort {
            ImageSort::Name => sql.push_str(&format!(" ORDER BY img_name {dir}")),
            ImageSort::Timestamp => {
                sql.push_str(&format!(" ORDER BY img_timestamp {dir}, img_name {dir}"))
            }
        }
        sql.push_str(" LIMIT ?");
        let mut query = sqlx::query(&sql);
        for (i, b) in binds.iter().enumerate() {
            if let Some((_, v)) = int_binds.iter().find(|(j, _)| *j == i) {
                query = query.bind(*v);
            } else {
                query = query.bind(b.clone());
            }
        }
        query = query.bind(q.limit as i64);
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(image_from).collect::<Result<_, _>>()?)
    }

    async fn publish(&self, req: &PublishRequest) -> Result<PublishOutcome, StoreError> {
        let _w = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        // A stash entry is published once: of two publishes racing for it, the second finds
        // it gone and writes nothing (the transaction rolls back on any early return).
        if let Some(key) = &req.consume_stash {
            let removed = sqlx::query("DELETE FROM uploadstash WHERE us_key = ?")
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed == 0 {
                return Err(StoreError::StashGone(key.clone()));
            }
        }
        let current = sqlx::query("SELECT * FROM image WHERE img_name = ?")
            .bind(&req.name)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(image_from)
            .transpose()?;
        // Identical content: refuse before anything is written (no orphan archive entry).
        if let Some(cur) = &current {
            if cur.meta.sha1 == req.meta.sha1 {
                return Err(StoreError::NoChange);
            }
        }
        // Versions stay strictly ordered: a new version is later than the current one.
        let mut timestamp = req.timestamp.clone();
        if let Some(cur) = &current {
            if timestamp <= cur.timestamp {
                timestamp = ts_plus_one(&cur.timestamp);
            }
        }
        let mut archived_as = None;
        if let Some(cur) = &current {
            // The archive name carries the time of archiving; keep it unique.
            let mut arch_ts = timestamp.clone();
            loop {
                let name = format!("{arch_ts}!{}", req.name);
                let taken = sqlx::query("SELECT 1 FROM oldimage WHERE oi_archive_name = ?")
                    .bind(&name)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !taken {
                    archived_as = Some(name);
                    break;
                }
                arch_ts = ts_plus_one(&arch_ts);
            }
            let sql = format!(
                "INSERT INTO oldimage (oi_name, oi_archive_name, {}) \
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                prefixed_cols("oi")
            );
            sqlx::query(&sql)
                .bind(&cur.name)
                .bind(&archived_as)
                .bind_version(
                    &cur.meta,
                    &cur.description,
                    cur.user_id,
                    &cur.user_text,
                    &cur.timestamp,
                )
                .execute(&mut *tx)
                .await?;
        }
        let sql = format!(
            "INSERT OR REPLACE INTO image (img_name, {}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            prefixed_cols("img")
        );
        sqlx::query(&sql)
            .bind(&req.name)
            .bind_version(
                &req.meta,
                &req.comment,
                req.user_id,
                &req.user_text,
                &timestamp,
            )
            .execute(&mut *tx)
            .await?;

        // Description page: created with the page text, or a null revision on re-upload.
        let page = sqlx::query("SELECT * FROM page WHERE page_namespace = 6 AND page_title = ?")
            .bind(&req.name)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(page_from)
            .transpose()?;
        let page_existed = page.is_some();
        let (page_id, rev_id) = match page {
            None => {
                let r = sqlx::query(
                    "INSERT INTO page (page_namespace, page_title, page_touched) VALUES (6, ?, ?)",
                )
                .bind(&req.name)
                .bind(&timestamp)
                .execute(&mut *tx)
                .await?;
                let page_id = r.last_insert_rowid();
                let rev = Revision {
                    id: 0,
                    page_id,
                    user_id: req.user_id,
                    user_text: req.user_text.clone(),
                    timestamp: timestamp.clone(),
                    comment: req.comment.clone(),
                    text: req.page_text.clone(),
                    parent: 0,
                };
                (page_id, Self::insert_revision(&mut tx, &rev).await?)
            }
            Some(p) => {
                let prev = sqlx::query("SELECT * FROM revision WHERE rev_id = ?")
                    .bind(p.latest)
                    .fetch_optional(&mut *tx)
                    .await?
                    .as_ref()
                    .map(revision_from)
                    .transpose()?;
                let rev = Revision {
                    id: 0,
                    page_id: p.id,
                    user_id: req.user_id,
                    user_text: req.user_text.clone(),
                    timestamp: timestamp.clone(),
                    comment: format!(
                        "{} uploaded a new version of [[File:{}]]",
                        req.user_text, req.name
                    ),
                    text: prev.map(|r| r.text).unwrap_or_default(),
                    parent: p.latest,
                };
                (p.id, Self::insert_revision(&mut tx, &rev).await?)
            }
        };
        let params = serde_json::json!({
            "img_sha1": mwstore_domain::base36::sha1_hex_to_base36(&req.meta.sha1).unwrap_or_default(),
            "img_timestamp": timestamp,
            "associated_rev_id": rev_id,
        });
        let log_id = Self::insert_log(
            &mut tx,
            &LogEntry {
                id: 0,
                log_type: "upload".into(),
                action: if current.is_some() {
                    "overwrite"
                } else {
                    "upload"
                }
                .into(),
                ns: 6,
                title: req.name.clone(),
                page_id,
                user_id: req.user_id,
                user_text: req.user_text.clone(),
                timestamp: timestamp.clone(),
                comment: req.comment.clone(),
                params: params.to_string(),
            },
        )
        .await?;
        sqlx::query("UPDATE user SET user_editcount = user_editcount + 1 WHERE user_id = ?")
            .bind(req.user_id)
            .execute(&mut *tx)
            .await?;
        match req.watch {
            Some(true) => {
                sqlx::query(
                    "INSERT OR IGNORE INTO watchlist (wl_user, wl_namespace, wl_title) VALUES (?, 6, ?)",
                )
                .bind(req.user_id)
                .bind(&req.name)
                .execute(&mut *tx)
                .await?;
            }
            Some(false) => {
                sqlx::query(
                    "DELETE FROM watchlist WHERE wl_user = ? AND wl_namespace = 6 AND wl_title = ?",
                )
                .bind(req.user_id)
                .bind(&req.name)
                .execute(&mut *tx)
                .await?;
            }
            None => {}
        }
        tx.commit().await?;
        let version = FileVersion {
            name: req.name.clone(),
            archive_name: None,
            meta: req.meta.clone(),
            description: req.comment.clone(),
            user_id: req.user_id,
            user_text: req.user_text.clone(),
            timestamp: timestamp.clone(),
        };
        Ok(PublishOutcome {
            timestamp,
            page_id,
            page_existed,
            archived_as,
            log_id,
            version,
        })
    }

    async fn delete_file(
        &self,
        name: &str,
        user_id: i64,
        user_text: &str,
        reason: &str,
        now: &str,
    ) -> Result<i64, StoreError> {
        let _w = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let mut versions = Vec::new();
        if let Some(cur) = sqlx::query("SELECT * FROM image WHERE img_name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
        {
            versions.push(image_from(&cur)?);
        }
        for r in sqlx::query("SELECT * FROM oldimage WHERE oi_name = ?")
            .bind(name)
            .fetch_all(&mut *tx)
            .await?
        {
            versions.push(oldimage_from(&r)?);
        }
        let page = sqlx::query("SELECT * FROM page WHERE page_namespace = 6 AND page_title = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(page_from)
            .transpose()?;
        if versions.is_empty() && page.is_none() {
            return Err(StoreError::NotFound(format!("File:{name}")));
        }
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_lowercase())
            .unwrap_or_default();
        for v in &versions {
            let key = format!(
                "{}.{ext}",
                mwstore_domain::base36::sha1_hex_to_base36(&v.meta.sha1).unwrap_or_default()
            );
            let sql = format!(
                "INSERT INTO filearchive (fa_name, fa_archive_name, fa_storage_key, fa_deleted_user, \
                 fa_deleted_timestamp, fa_deleted_reason, {}) \
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                prefixed_cols("fa")
            );
            sqlx::query(&sql)
                .bind(&v.name)
                .bind(&v.archive_name)
                .bind(key)
                .bind(user_id)
                .bind(now)
                .bind(reason)
                .bind_version(
                    &v.meta,
                    &v.description,
                    v.user_id,
                    &v.user_text,
                    &v.timestamp,
                )
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM image WHERE img_name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM oldimage WHERE oi_name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let page_id = page.as_ref().map(|p| p.id).unwrap_or(0);
        if let Some(p) = &page {
            sqlx::query(
                "INSERT INTO archive (ar_namespace, ar_title, ar_rev_id, ar_page_id, ar_user, \
                 ar_user_text, ar_timestamp, ar_comment, ar_text, ar_parent) \
                 SELECT 6, ?, rev_id, rev_page, rev_user, rev_user_text, rev_timestamp, \
                 rev_comment, rev_text, rev_parent FROM revision WHERE rev_page = ?",
            )
            .bind(name)
            .bind(p.id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM revision WHERE rev_page = ?")
                .bind(p.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM page WHERE page_id = ?")
                .bind(p.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM page_restrictions WHERE pr_page = ?")
                .bind(p.id)
                .execute(&mut *tx)
                .await?;
        }
        let log_id = Self::insert_log(
            &mut tx,
            &LogEntry {
                id: 0,
                log_type: "delete".into(),
                action: "delete".into(),
                ns: 6,
                title: name.to_owned(),
                page_id,
                user_id,
                user_text: user_text.to_owned(),
                timestamp: now.to_owned(),
                comment: reason.to_owned(),
                params: "{}".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(log_id)
    }

    async fn undelete_file(
        &self,
        name: &str,
        user_id: i64,
        user_text: &str,
        reason: &str,
        now: &str,
    ) -> Result<u64, StoreError> {
        let _w = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT * FROM filearchive WHERE fa_name = ? ORDER BY fa_id")
            .bind(name)
            .fetch_all(&mut *tx)
            .await?;
        let archived: Vec<ArchivedFile> =
            rows.iter().map(archived_from).collect::<Result<_, _>>()?;
        let has_current = sqlx::query("SELECT 1 FROM image WHERE img_name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        let page_exists =
            sqlx::query("SELECT 1 FROM page WHERE page_namespace = 6 AND page_title = ?")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        let has_revs = sqlx::query("SELECT 1 FROM archive WHERE ar_namespace = 6 AND ar_title = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if archived.is_empty() && !has_revs {
            return Err(StoreError::NotFound(format!("File:{name}")));
        }
        if has_current || page_exists {
            return Err(StoreError::AlreadyExists(format!("File:{name}")));
        }
        let mut restored = 0u64;
        // The newest version that was current becomes current again; the rest are old.
        let newest_current = archived
            .iter()
            .filter(|a| a.archive_name.is_none())
            .max_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.id.cmp(&b.id)))
            .map(|a| a.id);
        for a in &archived {
            if Some(a.id) == newest_current {
                let sql = format!(
                    "INSERT INTO image (img_name, {}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    prefixed_cols("img")
                );
                sqlx::query(&sql)
                    .bind(&a.name)
                    .bind_version(
                        &a.meta,
                        &a.description,
                        a.user_id,
                        &a.user_text,
                        &a.timestamp,
                    )
                    .execute(&mut *tx)
                    .await?;
            } else {
                let archive_name = a
                    .archive_name
                    .clone()
                    .unwrap_or_else(|| format!("{}!{}", a.timestamp, a.name));
                let sql = format!(
                    "INSERT OR IGNORE INTO oldimage (oi_name, oi_archive_name, {}) \
                     VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    prefixed_cols("oi")
                );
                sqlx::query(&sql)
                    .bind(&a.name)
                    .bind(archive_name)
                    .bind_version(
                        &a.meta,
                        &a.description,
                        a.user_id,
                        &a.user_text,
                        &a.timestamp,
                    )
                    .execute(&mut *tx)
                    .await?;
            }
            restored += 1;
        }
        sqlx::query("DELETE FROM filearchive WHERE fa_name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // Restore the page and its revisions.
        let mut page_id = 0;
        if has_revs {
            let r = sqlx::query(
                "INSERT INTO page (page_namespace, page_title, page_touched) VALUES (6, ?, ?)",
            )
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            page_id = r.last_insert_rowid();
            sqlx::query(
                "INSERT INTO revision (rev_id, rev_page, rev_user, rev_user_text, rev_timestamp, \
                 rev_comment, rev_text, rev_parent) SELECT ar_rev_id, ?, ar_user, ar_user_text, \
                 ar_timestamp, ar_comment, ar_text, ar_parent FROM archive \
                 WHERE ar_namespace = 6 AND ar_title = ?",
            )
            .bind(page_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE page SET page_latest = (SELECT MAX(rev_id) FROM revision WHERE rev_page = ?), \
                 page_len = COALESCE((SELECT length(rev_text) FROM revision WHERE rev_page = ? \
                 ORDER BY rev_id DESC LIMIT 1), 0) WHERE page_id = ?",
            )
            .bind(page_id)
            .bind(page_id)
            .bind(page_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM archive WHERE ar_namespace = 6 AND ar_title = ?")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        Self::insert_log(
            &mut tx,
            &LogEntry {
                id: 0,
                log_type: "delete".into(),
                action: "restore".into(),
                ns: 6,
                title: name.to_owned(),
                page_id,
                user_id,
                user_text: user_text.to_owned(),
                timestamp: now.to_owned(),
                comment: reason.to_owned(),
                params: serde_json::json!({ "count": { "files": restored } }).to_string(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(restored)
    }

    async fn blob_referenced(&self, sha1: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM image WHERE img_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM oldimage WHERE oi_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM filearchive WHERE fa_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM uploadstash WHERE us_sha1 = ?1)",
        )
        .bind(sha1)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn log_events(
        &self,
        log_type: Option<&str>,
        action: Option<&str>,
        older_first: bool,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let mut sql = String::from("SELECT * FROM logging WHERE 1=1");
        if log_type.is_some() {
            sql.push_str(" AND log_type = ?");
        }
        if action.is_some() {
            sql.push_str(" AND log_action = ?");
        }
        if from.is_some() {
            sql.push_str(if older_first {
                " AND (log_timestamp > ? OR (log_timestamp = ? AND log_id >= ?))"
            } else {
                " AND (log_timestamp < ? OR (log_timestamp = ? AND log_id <= ?))"
            });
        }
        sql.push_str(if older_first {
            " ORDER BY log_timestamp ASC, log_id ASC LIMIT ?"
        } else {
            " ORDER BY log_timestamp DESC, log_id DESC LIMIT ?"
        });
        let mut q = sqlx::query(&sql);
        if let Some(t) = log_type {
            q = q.bind(t);
        }
        if let Some(a) = action {
            q = q.bind(a);
        }
        if let Some((ts, id)) = from {
            q = q.bind(ts.clone()).bind(ts).bind(id);
        }
        let rows = q.bind(limit as i64).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(log_from).collect::<Result<_, _>>()?)
    }

    async fn stash_insert(&self, e: &StashEntry) -> Result<i64, StoreError> {
        let _w = self.write_lock.lock().await;
        let r = sqlx::query(
            "INSERT INTO uploadstash (us_user, us_key, us_sha1, us_size, us_source_type, \
             us_timestamp, us_expires, us_status, us_chunk_inx, us_props, us_mime, us_media_type, \
             us_image_width, us_image_height, us_image_bits, us_temp_name) \
             VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(e.user_id)
        .bind(&e.key)
        .bind(&e.meta.sha1)
        .bind(e.meta.size as i64)
        .bind(&e.source_type)
        .bind(&e.timestamp)
        .bind(e.expires)
        .bind(&e.status)
        .bind(e.chunk_inx)
        .bind(&e.props)
        .bind(e.meta.mime())
        .bind(&e.meta.media_type)
        .bind(e.meta.width as i64)
        .bind(e.meta.height as i64)
        .bind(e.meta.bits as i64)
        .bind(&e.temp_name)
        .execute(&self.pool)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn stash_get(&self, key: &str) -> Result<Option<StashEntry>, StoreError> {
        let row = sqlx::query("SELECT * FROM uploadstash WHERE us_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(stash_from).transpose()?)
    }

    async fn stash_list(
        &self,
        user_id: i64,
        from_id: i64,
        limit: u32,
    ) -> Result<Vec<StashEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM uploadstash WHERE us_user = ? AND us_id >= ? ORDER BY us_id LIMIT ?",
        )
        .bind(user_id)
        .bind(from_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stash_from).collect::<Result<_, _>>()?)
    }

    async fn stash_delete(&self, key: &str) -> Result<bool, StoreError> {
        let _w = self.write_lock.lock().await;
        let r = sqlx::query("DELETE FROM uploadstash WHERE us_key = ?")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn stash_update_chunks(
        &self,
        key: &str,
        size: u64,
        chunk_inx: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("UPDATE uploadstash SET us_size = ?, us_chunk_inx = ? WHERE us_key = ?")
            .bind(size as i64)
            .bind(chunk_inx)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn stash_expired(&self, now: i64, limit: u32) -> Result<Vec<StashEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM uploadstash WHERE us_expires <= ? ORDER BY us_expires LIMIT ?",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stash_from).collect::<Result<_, _>>()?)
    }

    async fn put_status(
        &self,
        user_id: i64,
        key: &str,
        data: &str,
        expires: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query(
            "INSERT OR REPLACE INTO upload_status (st_user, st_key, st_data, st_expires) \
             VALUES (?,?,?,?)",
        )
        .bind(user_id)
        .bind(key)
        .bind(data)
        .bind(expires)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn status(
        &self,
        user_id: i64,
        key: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT st_data FROM upload_status WHERE st_user = ? AND st_key = ? AND st_expires > ?",
        )
        .bind(user_id)
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    async fn delete_expired_statuses(&self, now: i64) -> Result<u64, StoreError> {
        let _w = self.write_lock.lock().await;
        let r = sqlx::query("DELETE FROM upload_status WHERE st_expires <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn insert_job(&self, job: &Job) -> Result<i64, StoreError> {
        let _w = self.write_lock.lock().await;
        let r = sqlx::query(
            "INSERT INTO job (job_type, job_user, job_key, job_params, job_created) \
             VALUES (?,?,?,?,?)",
        )
        .bind(&job.job_type)
        .bind(job.user_id)
        .bind(&job.key)
        .bind(&job.params)
        .bind(job.created)
        .execute(&self.pool)
        .await?;
        Ok(r.last_insert_rowid())
    }

    async fn pending_jobs(&self, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query("SELECT * FROM job ORDER BY job_id LIMIT ?")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(Job {
                id: r.try_get("job_id")?,
                job_type: r.try_get("job_type")?,
                user_id: r.try_get("job_user")?,
                key: r.try_get("job_key")?,
                params: r.try_get("job_params")?,
                created: r.try_get("job_created")?,
            });
        }
        Ok(out)
    }

    async fn delete_job(&self, id: i64) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("DELETE FROM job WHERE job_id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM page) AS pages, (SELECT COUNT(*) FROM revision) AS edits, \
             (SELECT COUNT(*) FROM image) AS images, (SELECT COUNT(*) FROM user) AS users, \
             (SELECT COUNT(*) FROM user WHERE ',' || user_groups || ',' LIKE '%,sysop,%') AS admins",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats {
            pages: row.try_get::<i64, _>("pages")? as u64,
            edits: row.try_get::<i64, _>("edits")? as u64,
            images: row.try_get::<i64, _>("images")? as u64,
            users: row.try_get::<i64, _>("users")? as u64,
            admins: row.try_get::<i64, _>("admins")? as u64,
        })
    }
}
