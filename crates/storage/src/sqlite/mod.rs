//! The embedded default metadata repository: one SQLite file in WAL mode with full fsync on
//! commit. `read.rs` answers the read traits, `write.rs` implements [`WriteTx`].

mod read;
mod write;

use std::path::Path;
use std::str::FromStr;

use crate::error::StoreError;
use crate::model::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

/// The embedded default repository: one SQLite file in WAL mode with full fsync on commit.
pub struct SqliteRepo {
    /// Connections for reads.
    pool: SqlitePool,
    /// The one connection that writes (other processes are handled by the busy timeout).
    writer: write::Writer,
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
        status: {
            let s: String = row.try_get("us_status")?;
            StashStatus::parse(&s).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "us_status".into(),
                source: format!("unknown stash status {s:?}").into(),
            })?
        },
        chunk_inx: row.try_get("us_chunk_inx")?,
        props,
        temp_name: row.try_get("us_temp_name")?,
        hash_state: row.try_get("us_hash_state")?,
    })
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
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let writer = write::Writer::open(&opts).await?;
        Ok(SqliteRepo { pool, writer })
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

fn job_from(r: &SqliteRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: r.try_get("job_id")?,
        job_type: r.try_get("job_type")?,
        user_id: r.try_get("job_user")?,
        key: r.try_get("job_key")?,
        params: r.try_get("job_params")?,
        created: r.try_get("job_created")?,
        attempts: r.try_get("job_attempts")?,
        owner: r.try_get("job_owner")?,
        lease_until: r.try_get("job_lease_until")?,
    })
}
