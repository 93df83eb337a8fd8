//! Storage for mwstore: the metadata repository ([`Repo`], implemented on SQLite by
//! [`SqliteRepo`]) and the blob store ([`BlobStore`], content-addressed files on local disk).
//!
//! Blobs are stored once per content (keyed by their SHA-1); every public, archived, deleted
//! or stashed version refers to its blob through the metadata. Publishing a file is therefore
//! a single metadata transaction: it appears completely or not at all.

mod blob;
mod model;
mod repo;
mod sqlite;

pub use blob::{BlobStore, BlobWriter, LocalBlobStore};
pub use model::*;
pub use repo::{Repo, StoreError};
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
