//! Storage for mwstore, below the protocol:
//! - the metadata repository ([`repo`]: traits by concern, [`FullRepo`] for all of them;
//!   [`SqliteRepo`] implements them), with MediaWiki's publishing rules written once over
//!   its write transactions ([`rules`]);
//! - the blob store ([`BlobStore`]: contents named by their SHA-1) and the upload spool
//!   ([`UploadSpool`]: staged files and chunked uploads in progress), both on local disk in
//!   [`LocalStore`]; no path leaves these interfaces;
//! - coordination that must hold across processes ([`coord`]: locks, rate-limit counters).
//!
//! Blobs are stored once per content; every published, archived, deleted or stashed version
//! refers to its blob through the metadata, so publishing a file is a single metadata
//! transaction: it appears completely or not at all.

mod blob;
pub mod coord;
mod error;
mod hash;
mod model;
pub mod repo;
pub mod rules;
mod spool;
mod sqlite;

pub use blob::{BlobBody, BlobInfo, BlobStore, ByteRange, ByteStream, LocalStore};
pub use error::StoreError;
pub use hash::{is_sha1_hex, RunningSha1};
pub use model::*;
pub use repo::{
    FileRepo, FullRepo, JobRepo, LogRepo, PageRepo, SessionRepo, StashRepo, StatsRepo, UserRepo,
    WriteTx, Writes,
};
pub use spool::{SpoolItem, SpoolWrite, Staged, UploadSpool};
pub use sqlite::SqliteRepo;

/// MediaWiki-style 14-digit timestamp (`YYYYMMDDHHMMSS`, UTC).
pub fn ts14(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%d%H%M%S").to_string()
}

/// Parses a 14-digit timestamp.
pub fn parse_ts14(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S")
        .ok()
        .map(|n| n.and_utc())
}

/// ISO 8601 form used by the API (`2026-11-21T04:23:39Z`) of a 14-digit timestamp.
pub fn ts14_to_iso(s: &str) -> String {
    match parse_ts14(s) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => s.to_owned(),
    }
}
