//! Rows of the metadata repository.

use serde::{Deserialize, Serialize};

/// A registered account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub groups: Vec<String>,
    pub registration: String,
    pub editcount: i64,
}

/// A bot password (Special:BotPasswords): `User@app_id` with its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct BotPassword {
    pub user_id: i64,
    pub app_id: String,
    pub password_hash: String,
    pub grants: Vec<String>,
    pub created: String,
}

/// Server-side session data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    pub id: String,
    /// 0 for anonymous.
    pub user_id: i64,
    /// Set when the session came from a bot password.
    pub bot_app: Option<String>,
    /// The bot password's grants (rights are the user's rights intersected with these).
    pub grants: Option<Vec<String>>,
    /// Token secrets by key (`default`, `login`, ...), 32 hex chars each.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Unix seconds.
    pub expires: i64,
    /// Made by the request at hand and not stored yet (not a column): it is stored with
    /// [`crate::SessionRepo::create_session`], any other with
    /// [`crate::SessionRepo::update_session`], which never brings back a deleted one.
    pub is_new: bool,
}

/// The properties of a file version, as stored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMeta {
    pub size: u64,
    pub width: u32,
    pub height: u32,
    pub bits: u32,
    /// JSON: `{"metadata": [...]|null, "commonmetadata": [...]}` as imageinfo shows them.
    pub metadata: String,
    pub media_type: String,
    pub major_mime: String,
    pub minor_mime: String,
    /// 40-char hex.
    pub sha1: String,
}

impl FileMeta {
    /// The properties of `size` bytes nothing is known of yet (an upload in progress).
    pub fn unknown(size: u64) -> FileMeta {
        FileMeta {
            size,
            width: 0,
            height: 0,
            bits: 0,
            metadata: "{}".into(),
            media_type: "UNKNOWN".into(),
            major_mime: "unknown".into(),
            minor_mime: "unknown".into(),
            sha1: String::new(),
        }
    }

    /// `major/minor`.
    pub fn mime(&self) -> String {
        format!("{}/{}", self.major_mime, self.minor_mime)
    }
}

/// A rendered thumbnail of a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// sha1 of the source's bytes.
    pub source: String,
    /// The thumbnail's name, `220px-Name.jpg`.
    pub name: String,
    /// sha1 of the thumbnail's bytes (its blob).
    pub sha1: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub size: u64,
    /// When it was rendered (14 digits).
    pub timestamp: String,
}

/// One version of a file: the current one (`image`) or an old one (`oldimage`).
#[derive(Debug, Clone, PartialEq)]
pub struct FileVersion {
    pub name: String,
    /// `<YmdHis>!<name>` for old versions; None for the current one.
    pub archive_name: Option<String>,
    pub meta: FileMeta,
    pub description: String,
    pub user_id: i64,
    pub user_text: String,
    pub timestamp: String,
}

/// A deleted file version (filearchive).
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedFile {
    pub id: i64,
    pub name: String,
    pub archive_name: Option<String>,
    pub storage_key: String,
    pub deleted_user: i64,
    pub deleted_timestamp: String,
    pub deleted_reason: String,
    pub meta: FileMeta,
    pub description: String,
    pub user_id: i64,
    pub user_text: String,
    pub timestamp: String,
}

/// A wiki page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub id: i64,
    pub ns: i32,
    pub title: String,
    pub latest: i64,
    pub touched: String,
    pub len: i64,
}

/// A page revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub id: i64,
    pub page_id: i64,
    pub user_id: i64,
    pub user_text: String,
    pub timestamp: String,
    pub comment: String,
    pub text: String,
    pub parent: i64,
}

/// A log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub log_type: String,
    pub action: String,
    pub ns: i32,
    pub title: String,
    pub page_id: i64,
    pub user_id: i64,
    pub user_text: String,
    pub timestamp: String,
    pub comment: String,
    /// JSON object.
    pub params: String,
}

/// Where a stash entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StashStatus {
    /// A chunked upload receiving chunks; `meta.size` is the acknowledged offset.
    Chunks,
    /// A chunked upload whose last chunk arrived: no more chunks are taken, and its assembly
    /// (a job) turns it into a finished entry under a new key.
    Assembling,
    /// A complete, verified file.
    Finished,
}

impl StashStatus {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            StashStatus::Chunks => "chunks",
            StashStatus::Assembling => "assembling",
            StashStatus::Finished => "finished",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "chunks" => Some(StashStatus::Chunks),
            "assembling" => Some(StashStatus::Assembling),
            "finished" => Some(StashStatus::Finished),
            _ => None,
        }
    }

    /// The status as MediaWiki shows it (`list=mystashedfiles`): an upload in progress is
    /// `chunks` until it is assembled.
    pub fn as_wire(self) -> &'static str {
        match self {
            StashStatus::Chunks | StashStatus::Assembling => "chunks",
            StashStatus::Finished => "finished",
        }
    }

    /// Whether the entry is an upload in progress.
    pub fn is_chunked(self) -> bool {
        self != StashStatus::Finished
    }
}

/// An upload stash entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StashEntry {
    pub id: i64,
    pub user_id: i64,
    pub key: String,
    pub meta: FileMeta,
    /// `file`, `url` or None.
    pub source_type: Option<String>,
    pub timestamp: String,
    /// Unix seconds after which the entry is gone.
    pub expires: i64,
    pub status: StashStatus,
    pub chunk_inx: Option<i64>,
    /// JSON with the remaining file properties (file_mime, the metadata, and the extension
    /// the content was verified for).
    pub props: String,
    /// The internal temp name shown as `canonicaltitle` (`<YmdHis>!<name>`).
    pub temp_name: String,
    /// A chunked upload's running SHA-1 over its first `meta.size` bytes
    /// ([`crate::RunningSha1::to_bytes`]).
    pub hash_state: Option<Vec<u8>>,
}

/// The progress a chunk append records, compared-and-set against the previous offset.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkProgress {
    /// Bytes acknowledged so far.
    pub size: u64,
    pub chunk_inx: i64,
    /// [`crate::RunningSha1::to_bytes`] of the first `size` bytes.
    pub hash_state: Vec<u8>,
    /// `Chunks`, or `Assembling` once the last chunk is in.
    pub status: StashStatus,
}

/// A durable job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    /// `assemble` or `publish`.
    pub job_type: String,
    pub user_id: i64,
    pub key: String,
    /// JSON parameters.
    pub params: String,
    pub created: i64,
    /// How often the job was claimed (a job that keeps failing is given up).
    pub attempts: i64,
    /// The worker holding the job's lease, if any.
    pub owner: Option<String>,
    /// Unix seconds until which `owner` holds the job (0: free to claim).
    pub lease_until: i64,
}

/// The status `checkstatus` reports for (user, key), written with the step it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub user_id: i64,
    pub key: String,
    /// JSON.
    pub data: String,
    /// Unix seconds after which it is gone.
    pub expires: i64,
}

/// What a publish writes, in one transaction.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub name: String,
    pub meta: FileMeta,
    pub user_id: i64,
    pub user_text: String,
    pub comment: String,
    /// Text of a new description page.
    pub page_text: String,
    /// 14-digit timestamp of the upload.
    pub timestamp: String,
    /// Stash entry consumed by this publish (removed in the same transaction).
    pub consume_stash: Option<String>,
    /// Watch the page for this user.
    pub watch: Option<bool>,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishOutcome {
    /// The final timestamp (may be later than requested to keep versions ordered).
    pub timestamp: String,
    pub page_id: i64,
    /// Whether the description page existed before.
    pub page_existed: bool,
    /// Archive name of the version that was replaced.
    pub archived_as: Option<String>,
    pub log_id: i64,
    /// The version now current, as written.
    pub version: FileVersion,
}

/// Counters for `siteinfo` statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub pages: u64,
    pub edits: u64,
    pub images: u64,
    pub users: u64,
    pub admins: u64,
}

/// Sort order of `list=allimages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSort {
    Name,
    Timestamp,
}

/// A query over current files.
#[derive(Debug, Clone)]
pub struct ImageQuery {
    pub sort: ImageSort,
    pub descending: bool,
    /// Name sort: inclusive start name / end name / prefix.
    pub from: Option<String>,
    pub to: Option<String>,
    pub prefix: Option<String>,
    /// Timestamp sort: start/end (14-digit).
    pub start: Option<String>,
    pub end: Option<String>,
    pub sha1: Option<String>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    pub user: Option<String>,
    /// Continue after (name sort: name; timestamp sort: "timestamp|name").
    pub continue_from: Option<(String, String)>,
    pub limit: u32,
}

/// What an upload to one name needs to know of it, read in one go.
#[derive(Debug, Clone)]
pub struct TitleQuery<'a> {
    /// The file name (db key).
    pub name: &'a str,
    /// The content's SHA-1, when known.
    pub sha1: Option<&'a str>,
    /// A prefix: the first current file name starting with it is reported.
    pub prefix: &'a str,
    /// Other names whose current files matter (reported when they exist).
    pub others: &'a [String],
}

/// The answer to a [`TitleQuery`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TitleFacts {
    /// The description page.
    pub page: Option<Page>,
    /// The current version.
    pub current: Option<FileVersion>,
    /// Deleted revisions of the page exist.
    pub deleted_revisions: bool,
    /// The first current file name at or after the prefix that starts with it.
    pub prefixed: Option<String>,
    /// Those of the other names that have a current file.
    pub others_existing: Vec<String>,
    /// Names of current files with the same content, sorted.
    pub same_content: Vec<String>,
    /// Name of the first deleted file with the same content.
    pub deleted_same_content: Option<String>,
}
