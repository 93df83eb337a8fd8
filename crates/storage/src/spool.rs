//! The upload spool: where bytes wait before they become blobs.
//!
//! Two kinds of things live here:
//! - **staged files**: a body part or a fetched URL, written once while it streams in and
//!   hashed on the way ([`UploadSpool::stage`] → [`SpoolWrite`] → [`Staged`]); verified where
//!   it lies, then promoted into the blob store or dropped;
//! - **chunked uploads**: the growing file of a MediaWiki chunked upload, keyed by its
//!   filekey. Chunks are appended strictly in order, each at the end acknowledged so far,
//!   with the upload's running SHA-1 carried along ([`RunningSha1`]), so finishing an upload
//!   never rereads it.
//!
//! The contract maps onto object storage as well as onto a disk: an append never rewrites
//! acknowledged bytes, so a store without append can keep acknowledged parts as multipart
//! upload parts (of at least 5 MiB, except the last) and the remainder in a small pending
//! object until a part can be cut; promoting completes the multipart upload.

use async_trait::async_trait;
use bytes::Bytes;

use mwstore_domain::io::Content;

use crate::error::StoreError;
use crate::hash::RunningSha1;

/// A file written to the spool in one go. Dropping it removes its bytes, unless it was
/// promoted into the blob store.
pub struct Staged {
    /// The spool's own name for it.
    pub id: String,
    pub size: u64,
    /// 40-char hex SHA-1, when the file was hashed while it was written.
    pub sha1: Option<String>,
    /// The bytes, when the spool kept a small file in memory.
    data: Option<Bytes>,
    /// Whatever the spool holds for as long as the bytes live (e.g. their share of a memory
    /// budget).
    _hold: Option<Box<dyn Send + Sync>>,
    discard: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("id", &self.id)
            .field("size", &self.size)
            .field("sha1", &self.sha1)
            .finish_non_exhaustive()
    }
}

impl Staged {
    /// A staged file; `discard` removes its bytes when it is dropped unpromoted.
    pub fn new(
        id: String,
        size: u64,
        sha1: Option<String>,
        discard: Box<dyn FnOnce() + Send + Sync>,
    ) -> Staged {
        Staged {
            id,
            size,
            sha1,
            data: None,
            _hold: None,
            discard: Some(discard),
        }
    }

    /// A small staged file kept in memory; `hold` is dropped with it.
    pub fn in_memory(data: Bytes, sha1: Option<String>, hold: Box<dyn Send + Sync>) -> Staged {
        Staged {
            id: String::new(),
            size: data.len() as u64,
            sha1,
            data: Some(data),
            _hold: Some(hold),
            discard: None,
        }
    }

    /// The bytes of a file kept in memory.
    pub fn bytes(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }

    /// Forgets the clean-up (its bytes have moved elsewhere).
    pub fn disarm(&mut self) {
        self.discard = None;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(d) = self.discard.take() {
            d();
        }
    }
}

/// Writes a staged file. Dropping it unfinished removes what was written.
#[async_trait]
pub trait SpoolWrite: Send {
    /// Appends bytes (hashing them when the file is hashed).
    async fn write(&mut self, data: Bytes) -> Result<(), StoreError>;
    /// Bytes written so far.
    fn len(&self) -> u64;
    /// Whether nothing was written yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Ends the file.
    async fn finish(self: Box<Self>) -> Result<Staged, StoreError>;
}

/// What the sweeper may find in a spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolItem {
    /// A staged file nobody finished or promoted (a process died with it).
    Staged(String),
    /// The bytes of a chunked upload, by filekey.
    Upload(String),
}

/// Where received bytes wait.
#[async_trait]
pub trait UploadSpool: Send + Sync {
    /// Starts a staged file; `hashed` computes its SHA-1 while it is written.
    async fn stage(&self, hashed: bool) -> Result<Box<dyn SpoolWrite>, StoreError>;
    /// Random access to a staged file (blocking reads: use on a blocking thread).
    async fn staged_content(&self, staged: &Staged) -> Result<Box<dyn Content>, StoreError>;
    /// Moves a staged file into the blob store under its SHA-1 (a rename on one disk). If
    /// that content is stored already, the staged copy is dropped.
    async fn promote(&self, staged: Staged) -> Result<String, StoreError>;

    /// Appends the staged file `src` to the chunked upload `upload` at `offset`, which must
    /// be the end acknowledged so far (`hash` covers exactly `offset` bytes); bytes a failed
    /// earlier attempt left past `offset` are cut off first. The bytes are durable when this
    /// returns; the hash returned covers `offset + src.size` bytes. On failure nothing past
    /// `offset` counts.
    async fn append(
        &self,
        upload: &str,
        offset: u64,
        src: &Staged,
        hash: RunningSha1,
    ) -> Result<RunningSha1, StoreError>;
    /// Whether the bytes at `offset` of the upload equal the staged file (a resent chunk).
    async fn matches(&self, upload: &str, offset: u64, src: &Staged) -> Result<bool, StoreError>;
    /// The hash of the first `len` bytes of an upload (for uploads stored without a saved
    /// hash state).
    async fn hash_prefix(&self, upload: &str, len: u64) -> Result<RunningSha1, StoreError>;
    /// Random access to the first `len` bytes of an upload (blocking reads).
    async fn upload_content(&self, upload: &str, len: u64) -> Result<Box<dyn Content>, StoreError>;
    /// Makes the first `hash.len()` bytes of an upload a blob named `hash.hex()`, without
    /// copying where the store allows. The upload itself stays until
    /// [`UploadSpool::delete_upload`].
    async fn promote_upload(&self, upload: &str, hash: &RunningSha1) -> Result<String, StoreError>;
    /// Removes an upload's bytes.
    async fn delete_upload(&self, upload: &str) -> Result<(), StoreError>;

    /// Items last written before `before` (unix seconds), at most `limit`.
    async fn stale(&self, before: i64, limit: usize) -> Result<Vec<SpoolItem>, StoreError>;
    /// Removes an item the sweeper found.
    async fn remove(&self, item: &SpoolItem) -> Result<(), StoreError>;
}
