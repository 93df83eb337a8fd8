//! The blob store: file contents, stored once per content and named by their SHA-1. Nothing
//! here is a path: contents go in as streams and come out as streams, byte ranges or a
//! random-access [`Content`] for verification, so the same interface fits local disk and
//! object storage.

mod local;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use mwstore_domain::io::Content;

use crate::error::StoreError;

pub use local::LocalStore;

/// A stream of bytes going into or coming out of a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// What a store knows of a blob without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha1: String,
    pub size: u64,
    /// Unix seconds of the last write (or of the last time the blob was stored again).
    pub modified: i64,
}

/// An inclusive byte range, already checked against the blob's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// A blob being read.
pub struct BlobBody {
    /// Size of the whole blob.
    pub size: u64,
    /// The bytes (the whole blob, or the range asked for).
    pub stream: ByteStream,
}

/// Content-addressed storage of file contents.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `body` under `sha1`. The store hashes what it receives and refuses content that
    /// is not `size` bytes hashing to `sha1` ([`StoreError::BlobMismatch`]), so a blob's
    /// name is its content's SHA-1, always. Storing a content that is already there keeps the
    /// existing blob (and marks it as freshly written).
    async fn put(&self, sha1: &str, size: u64, body: ByteStream) -> Result<(), StoreError>;
    /// Reads a blob, or the given range of it; `None` when there is no such blob.
    async fn get(
        &self,
        sha1: &str,
        range: Option<ByteRange>,
    ) -> Result<Option<BlobBody>, StoreError>;
    /// Size and age of a blob.
    async fn head(&self, sha1: &str) -> Result<Option<BlobInfo>, StoreError>;
    /// Deletes a blob (callers check first that nothing refers to it).
    async fn delete(&self, sha1: &str) -> Result<(), StoreError>;
    /// Random access to a blob, for reading it again (e.g. verifying it for another name).
    /// Its reads block: use it on a blocking thread.
    async fn content(&self, sha1: &str) -> Result<Option<Box<dyn Content>>, StoreError>;
    /// Blobs in name order after `after`, at most `limit` (for the sweeper).
    async fn list(&self, after: Option<&str>, limit: usize) -> Result<Vec<BlobInfo>, StoreError>;
}
