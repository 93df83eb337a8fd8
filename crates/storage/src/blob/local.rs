//! The blob store and upload spool on one local disk:
//! - `blobs/<aa>/<sha1>`: blobs, in 256 directories made when the store is opened (so no
//!   upload ever waits for a directory to be made durable);
//! - `chunks/<filekey>.part`: chunked uploads in progress;
//! - `tmp/<random>`: staged files.
//!
//! Blobs are written under a temporary name, made durable, then renamed into place, so a
//! blob name never shows partial content. Chunked uploads become blobs by a hard link (no
//! copy, and the upload stays intact until its stash entry has moved on).

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use mwstore_domain::io::{Content, FileContent};

use super::{BlobBody, BlobInfo, BlobStore, ByteRange, ByteStream};
use crate::error::StoreError;
use crate::hash::{is_sha1_hex, RunningSha1};
use crate::spool::{SpoolItem, SpoolWrite, Staged, UploadSpool};

/// Size of the copy buffer (bounded memory whatever the file size).
const COPY_BUF: usize = 1 << 20;
/// Staged files up to this size stay in memory (most uploads are small images, and most
/// chunks a few MiB): they are written once, to their blob or their upload, instead of to
/// `tmp/`, read back, and written again.
const MEMORY_STAGE: usize = 8 << 20;
/// Memory all staged files together may hold; past it, files go to `tmp/`.
const MEMORY_BUDGET: usize = 64 << 20;

/// Bytes of memory staged files may still take.
#[derive(Debug)]
struct MemoryBudget {
    left: AtomicUsize,
}

impl MemoryBudget {
    /// Takes `n` bytes of the budget, if there are that many left.
    fn take(&self, n: usize) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.left.fetch_add(n, Ordering::AcqRel);
    }
}

/// A staged file's share of the memory budget, given back when it is dropped.
#[derive(Debug)]
struct MemoryLease {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        self.budget.give(std::mem::take(&mut self.bytes));
    }
}

/// A small staged file's bytes as [`Content`].
struct MemoryContent(Bytes);

impl Content for MemoryContent {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.as_ref().read_at(offset, buf)
    }
}

/// Blobs, chunked uploads and staged files under one data directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<PathBuf>,
    memory: Arc<MemoryBudget>,
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn blocking_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Io(std::io::Error::other(format!("storage task failed: {e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(blocking_failed)?
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Names a spool item may have (keys are checked before they get here; this keeps any
/// other name from reaching the file system).
fn safe_name(name: &str) -> Result<&str, StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Corrupt(format!("bad spool name {name:?}")))
    }
}

impl LocalStore {
    /// Opens (creating the directories of) a store rooted at `root`. Staged files of an
    /// earlier run are removed: they belonged to requests that are gone.
    pub async fn open(root: &Path) -> Result<Self, StoreError> {
        let store = LocalStore {
            root: Arc::new(root.to_path_buf()),
            memory: Arc::new(MemoryBudget {
                left: AtomicUsize::new(MEMORY_BUDGET),
            }),
        };
        let blobs = store.root.join("blobs");
        tokio::task::spawn_blocking(move || prepare_blob_dirs(&blobs))
            .await
            .map_err(blocking_failed)??;
        let tmp = store.root.join("tmp");
        if tmp.exists() {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        tokio::fs::create_dir_all(store.root.join("chunks")).await?;
        Ok(store)
    }

    /// The same store with another memory budget (tests).
    #[cfg(test)]
    fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory = Arc::new(MemoryBudget {
            left: AtomicUsize::new(bytes),
        });
        self
    }

    fn blob_path(&self, sha1: &str) -> Result<PathBuf, StoreError> {
        if !is_sha1_hex(sha1) {
            return Err(StoreError::Corrupt(format!("bad blob name {sha1:?}")));
        }
        Ok(self.root.join("blobs").join(&sha1[0..2]).join(sha1))
    }

    fn upload_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        Ok(self
            .root
            .join("chunks")
            .join(format!("{}.part", safe_name(key)?)))
    }

    fn staged_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("tmp").join(safe_name(id)?))
    }

    fn new_temp(&self) -> (String, PathBuf) {
        let name: u128 = rand::thread_rng().gen();
        let id = format!("{name:032x}");
        let path = self.root.join("tmp").join(&id);
        (id, path)
    }
}

/// Moves a durable file `src` into place as blob `dest`: rename, then make the rename
/// durable. If the blob exists already, `src` is removed and the blob marked as freshly
/// written (so that the sweeper's grace period protects it while it is being referenced).
fn install_blob(src: &Path, dest: &Path, link: bool) -> Result<(), StoreError> {
    let dir = dest
        .parent()
        .ok_or_else(|| StoreError::Corrupt("blob path has no parent".into()))?;
    if dest.try_exists()? {
        std::fs::File::options()
            .write(true)
            .open(dest)?
            .set_modified(SystemTime::now())?;
        if !link {
            std::fs::remove_file(src)?;
        }
        return Ok(());
    }
    make_dirs(dir)?;
    let placed = if link {
        std::fs::hard_link(src, dest)
    } else {
        std::fs::rename(src, dest)
    };
    match placed {
        Ok(()) => {}
        // Another request stored the same content meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if !link {
                std::fs::remove_file(src)?;
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    sync_dir(dir)?;
    Ok(())
}

/// Makes the 256 directories blobs live in, durably, and moves blobs an earlier layout kept
/// one level deeper (`<aa>/<bb>/<sha1>`) up into them.
fn prepare_blob_dirs(blobs: &Path) -> Result<(), StoreError> {
    make_dirs(blobs)?;
    let mut made = false;
    for i in 0..=255u8 {
        let dir = blobs.join(format!("{i:02x}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => made = true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        let mut moved = false;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            for blob in std::fs::read_dir(entry.path())? {
                let blob = blob?;
                let dest = dir.join(blob.file_name());
                if dest.try_exists()? {
                    std::fs::remove_file(blob.path())?;
                } else {
                    std::fs::rename(blob.path(), dest)?;
                }
                moved = true;
            }
            std::fs::remove_dir(entry.path())?;
        }
        if moved {
            sync_dir(&dir)?;
        }
    }
    if made {
        sync_dir(blobs)?;
    }
    Ok(())
}

/// Creates `dir` and any missing parents, making each new entry durable (the fsync of the
/// parent that holds it).
fn make_dirs(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent)?;
        match std::fs::create_dir(dir) {
            Ok(()) => sync_dir(parent)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `data` durably as a new file in `tmp/` and installs it as blob `dest`.
fn write_blob(tmp: &Path, data: &[u8], dest: &Path) -> Result<(), StoreError> {
    if dest.try_exists()? {
        // Stored already: mark it as freshly written (see install_blob).
        std::fs::File::options()
            .write(true)
            .open(dest)?
            .set_modified(SystemTime::now())?;
        return Ok(());
    }
    let name: u128 = rand::thread_rng().gen();
    let src = tmp.join(format!("{name:032x}"));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&src)?;
        f.write_all(data)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&src);
        return Err(e.into());
    }
    install_blob(&src, dest, false)
}

/// A staged file being written: in memory while it is small, then to `tmp/`.
struct LocalWriter {
    id: String,
    path: PathBuf,
    /// The bytes so far, while they fit in [`MEMORY_STAGE`] and the budget.
    memory: Option<Vec<u8>>,
    /// The budget `memory` takes.
    lease: MemoryLease,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    hash: Option<RunningSha1>,
    written: u64,
}

impl LocalWriter {
    /// Moves the bytes kept in memory to a file, which takes the rest.
    async fn spill(&mut self) -> Result<(), StoreError> {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .await?;
        // Large writes: file I/O goes to a blocking thread once per buffer.
        let mut file = tokio::io::BufWriter::with_capacity(COPY_BUF, file);
        if let Some(m) = self.memory.take() {
            file.write_all(&m).await?;
        }
        self.file = Some(file);
        // The bytes are on disk now: their memory is free.
        let given = std::mem::take(&mut self.lease.bytes);
        self.lease.budget.give(given);
        Ok(())
    }
}

#[async_trait]
impl SpoolWrite for LocalWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        if let Some(h) = self.hash.as_mut() {
            h.update(&data);
        }
        self.written += data.len() as u64;
        if let Some(m) = self.memory.as_mut() {
            if m.len() + data.len() <= MEMORY_STAGE && self.lease.budget.take(data.len()) {
                self.lease.bytes += data.len();
                m.extend_from_slice(&data);
                return Ok(());
            }
            self.spill().await?;
        }
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("write after finish".into()))?;
        f.write_all(&data).await?;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<Staged, StoreError> {
        let sha1 = self.hash.take().map(|h| h.hex());
        if let Some(m) = self.memory.take() {
            self.path = PathBuf::new();
            let lease = MemoryLease {
                budget: self.lease.budget.clone(),
                bytes: std::mem::take(&mut self.lease.bytes),
            };
            return Ok(Staged::in_memory(Bytes::from(m), sha1, Box::new(lease)));
        }
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
        }
        let path = std::mem::take(&mut self.path);
        let discard = Box::new(move || {
            let _ = std::fs::remove_file(&path);
        });
        Ok(Staged::new(
            std::mem::take(&mut self.id),
            self.written,
            sha1,
            discard,
        ))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        // Unfinished (e.g. the request was aborted mid-body): leave nothing behind.
        if self.memory.is_none() && !self.path.as_os_str().is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[async_trait]
impl UploadSpool for LocalStore {
    async fn stage(&self, hashed: bool) -> Result<Box<dyn SpoolWrite>, StoreError> {
        let (id, path) = self.new_temp();
        Ok(Box::new(LocalWriter {
            id,
            path,
            memory: Some(Vec::new()),
            lease: MemoryLease {
                budget: self.memory.clone(),
                bytes: 0,
            },
            file: None,
            hash: hashed.then(RunningSha1::new),
            written: 0,
        }))
    }

    async fn staged_content(&self, staged: &Staged) -> Result<Box<dyn Content>, StoreError> {
        if let Some(b) = staged.bytes() {
            return Ok(Box::new(MemoryContent(b.clone())));
        }
        let path = self.staged_path(&staged.id)?;
        blocking(move || Ok(Box::new(FileContent::open(&path)?) as Box<dyn Content>)).await
    }

    async fn promote(&self, mut staged: Staged) -> Result<String, StoreError> {
        let sha1 = staged.sha1.clone().ok_or_else(|| {
            StoreError::Corrupt("an unhashed staged file cannot be a blob".into())
        })?;
        let dest = self.blob_path(&sha1)?;
        if let Some(data) = staged.bytes().cloned() {
            let tmp = self.root.join("tmp");
            blocking(move || write_blob(&tmp, &data, &dest)).await?;
            staged.disarm();
            return Ok(sha1);
        }
        let src = self.staged_path(&staged.id)?;
        let size = staged.size;
        blocking(move || {
            let f = std::fs::File::open(&src)?;
            let len = f.metadata()?.len();
            if len != size {
                return Err(StoreError::Corrupt(format!(
                    "staged file is {len} bytes, {size} were written"
                )));
            }
            f.sync_all()?;
            install_blob(&src, &dest, false)
        })
        .await?;
        staged.disarm();
        Ok(sha1)
    }

    async fn append(
        &self,
        upload: &str,
        offset: u64,
        src: &Staged,
        mut hash: RunningSha1,
    ) -> Result<RunningSha1, StoreError> {
        if hash.len() != offset {
            return Err(StoreError::Corrupt(format!(
                "hash covers {} bytes, the upload is at {offset}",
                hash.len()
            )));
        }
        let dst = self.upload_path(upload)?;
        let memory = src.bytes().cloned();
        let src = match memory {
            Some(_) => PathBuf::new(),
            None => self.staged_path(&src.id)?,
        };
        let dir = self.root.join("chunks");
        // One blocking task with one buffer: bounded memory whatever the chunk size.
        blocking(move || {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&dst)?;
            out.set_len(offset)?;
            out.seek(std::io::SeekFrom::Start(offset))?;
            let appended = (|| -> std::io::Result<()> {
                if let Some(data) = &memory {
                    hash.update(data);
                    out.write_all(data)?;
                } else {
                    let mut input = std::fs::File::open(&src)?;
                    let mut buf = vec![0u8; COPY_BUF];
                    loop {
                        let n = input.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        hash.update(&buf[..n]);
                        out.write_all(&buf[..n])?;
                    }
                }
                out.sync_data()?;
                if offset == 0 {
                    sync_dir(&dir)?;
                }
                Ok(())
            })();
            if let Err(e) = appended {
                // Give back what the failed append wrote (on a full disk, that is the space
                // the next attempt needs); the upload stays at `offset`.
                let _ = out.set_len(offset);
                return Err(e.into());
            }
            Ok(hash)
        })
        .await
    }

    async fn matches(&self, upload: &str, offset: u64, src: &Staged) -> Result<bool, StoreError> {
        let stored = self.upload_path(upload)?;
        let len = src.size;
        let memory = src.bytes().cloned();
        let path = match memory {
            Some(_) => PathBuf::new(),
            None => self.staged_path(&src.id)?,
        };
        blocking(move || {
            let mut a = std::fs::File::open(&stored)?;
            if a.metadata()?.len() < offset + len {
                return Ok(false);
            }
            let mut b: Box<dyn Read> = match memory {
                Some(m) => Box::new(std::io::Cursor::new(m)),
                None => Box::new(std::fs::File::open(&path)?),
            };
            a.seek(std::io::SeekFrom::Start(offset))?;
            let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
            loop {
                let n = b.read(&mut y)?;
                if n == 0 {
                    return Ok(true);
                }
                a.read_exact(&mut x[..n])?;
                if x[..n] != y[..n] {
                    return Ok(false);
                }
            }
        })
        .await
    }

    async fn hash_prefix(&self, upload: &str, len: u64) -> Result<RunningSha1, StoreError> {
        let path = self.upload_path(upload)?;
        blocking(move || {
            let f = std::fs::File::open(&path)?;
            let mut r = f.take(len);
            let mut h = RunningSha1::new();
            let mut buf = vec![0u8; COPY_BUF];
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            if h.len() != len {
                return Err(StoreError::Corrupt(format!(
                    "upload {path:?} has {} of {len} bytes",
                    h.len()
                )));
            }
            Ok(h)
        })
        .await
    }

    async fn upload_content(&self, upload: &str, len: u64) -> Result<Box<dyn Content>, StoreError> {
        let path = self.upload_path(upload)?;
        blocking(move || {
            let c = FileContent::open(&path)?;
            if c.len() < len {
                return Err(StoreError::Corrupt(format!(
                    "upload {path:?} has {} of {len} bytes",
                    c.len()
                )));
            }
            Ok(Box::new(c.truncated(len)) as Box<dyn Content>)
        })
        .await
    }

    async fn promote_upload(&self, upload: &str, hash: &RunningSha1) -> Result<String, StoreError> {
        let sha1 = hash.hex();
        let size = hash.len();
        let src = self.upload_path(upload)?;
        let dest = self.blob_path(&sha1)?;
        blocking(move || {
            let f = std::fs::OpenOptions::new().write(true).open(&src)?;
            let len = f.metadata()?.len();
            if len < size {
                return Err(StoreError::Corrupt(format!(
                    "upload has {len} of {size} bytes"
                )));
            }
            // Bytes past the acknowledged end were never part of the upload.
            if len > size {
                f.set_len(size)?;
                f.sync_all()?;
            }
            install_blob(&src, &dest, true)
        })
        .await?;
        Ok(sha1)
    }

    async fn delete_upload(&self, upload: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.upload_path(upload)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn stale(&self, before: i64, limit: usize) -> Result<Vec<SpoolItem>, StoreError> {
        let root = self.root.clone();
        blocking(move || {
            let mut out = Vec::new();
            for (dir, upload) in [("tmp", false), ("chunks", true)] {
                for entry in std::fs::read_dir(root.join(dir))? {
                    if out.len() >= limit {
                        return Ok(out);
                    }
                    let entry = entry?;
                    let modified = entry.metadata()?.modified().map(unix_secs).unwrap_or(0);
                    if modified >= before {
                        continue;
                    }
                    let name = entry.file_name().to_string_lossy().into_owned();
                    out.push(if upload {
                        match name.strip_suffix(".part") {
                            Some(key) => SpoolItem::Upload(key.to_owned()),
                            None => continue,
                        }
                    } else {
                        SpoolItem::Staged(name)
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn remove(&self, item: &SpoolItem) -> Result<(), StoreError> {
        let path = match item {
            SpoolItem::Staged(id) => self.staged_path(id)?,
            SpoolItem::Upload(key) => self.upload_path(key)?,
        };
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl BlobStore for LocalStore {
    async fn put(&self, sha1: &str, size: u64, mut body: ByteStream) -> Result<(), StoreError> {
        self.blob_path(sha1)?;
        let mut w = self.stage(true).await?;
        while let Some(chunk) = body.next().await {
            w.write(chunk?).await?;
            if w.len() > size {
                break;
            }
        }
        let staged = w.finish().await?;
        let actual = staged.sha1.clone().unwrap_or_default();
        if staged.size != size || actual != sha1 {
            return Err(StoreError::BlobMismatch {
                expected: format!("{sha1} ({size} bytes)"),
                actual: format!("{actual} ({} bytes)", staged.size),
            });
        }
        self.promote(staged).await?;
        Ok(())
    }

    async fn get(
        &self,
        sha1: &str,
        range: Option<ByteRange>,
    ) -> Result<Option<BlobBody>, StoreError> {
        let path = self.blob_path(sha1)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        let stream: ByteStream = match range {
            Some(r) => {
                if r.start > r.end || r.end >= size {
                    return Err(StoreError::Corrupt(format!(
                        "range {}-{} outside a blob of {size} bytes",
                        r.start, r.end
                    )));
                }
                file.seek(std::io::SeekFrom::Start(r.start)).await?;
                Box::pin(tokio_util::io::ReaderStream::with_capacity(
                    file.take(r.end - r.start + 1),
                    64 * 1024,
                ))
            }
            None => Box::pin(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)),
        };
        Ok(Some(BlobBody { size, stream }))
    }

    async fn head(&self, sha1: &str) -> Result<Option<BlobInfo>, StoreError> {
        let path = self.blob_path(sha1)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(Some(BlobInfo {
                sha1: sha1.to_owned(),
                size: m.len(),
                modified: m.modified().map(unix_secs).unwrap_or(0),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, sha1: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.blob_path(sha1)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn content(&self, sha1: &str) -> Result<Option<Box<dyn Content>>, StoreError> {
        let path = self.blob_path(sha1)?;
        blocking(move || match FileContent::open(&path) {
            Ok(c) => Ok(Some(Box::new(c) as Box<dyn Content>)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await
    }

    async fn list(&self, after: Option<&str>, limit: usize) -> Result<Vec<BlobInfo>, StoreError> {
        let root = self.root.join("blobs");
        let after = after.map(str::to_owned);
        blocking(move || {
            let sorted = |dir: &Path| -> std::io::Result<Vec<String>> {
                let mut names: Vec<String> = std::fs::read_dir(dir)?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                Ok(names)
            };
            let after = after.unwrap_or_default();
            let a1 = after.get(0..2).unwrap_or("");
            let mut out = Vec::new();
            for d1 in sorted(&root)? {
                if d1.as_str() < a1 {
                    continue;
                }
                let dir = root.join(&d1);
                if !dir.is_dir() {
                    continue;
                }
                for name in sorted(&dir)? {
                    if name <= after || !is_sha1_hex(&name) {
                        continue;
                    }
                    let m = match std::fs::metadata(dir.join(&name)) {
                        Ok(m) => m,
                        Err(_) => continue,
                    };
                    out.push(BlobInfo {
                        size: m.len(),
                        modified: m.modified().map(unix_secs).unwrap_or(0),
                        sha1: name,
                    });
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn stage(store: &LocalStore, data: &[u8]) -> Staged {
        let mut w = store.stage(true).await.unwrap();
        w.write(Bytes::copy_from_slice(data)).await.unwrap();
        w.finish().await.unwrap()
    }

    async fn read_all(store: &LocalStore, sha1: &str, range: Option<ByteRange>) -> Vec<u8> {
        let mut body = store.get(sha1, range).await.unwrap().unwrap();
        let mut out = Vec::new();
        while let Some(c) = body.stream.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn staged_files_become_blobs_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let sha = "a9993e364706816aba3e25717850c26c9cd0d89d"; // sha1("abc")
        let s = stage(&store, b"abc").await;
        assert_eq!(s.sha1.as_deref(), Some(sha));
        assert_eq!(store.promote(s).await.unwrap(), sha);
        assert_eq!(read_all(&store, sha, None).await, b"abc");
        assert_eq!(
            read_all(&store, sha, Some(ByteRange { start: 1, end: 2 })).await,
            b"bc"
        );
        // The same content again: the staged copy goes away, the blob stays.
        let s2 = stage(&store, b"abc").await;
        store.promote(s2).await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(store.head(sha).await.unwrap().unwrap().size, 3);
        store.delete(sha).await.unwrap();
        assert!(store.head(sha).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn large_staged_files_go_to_disk_and_small_ones_stay_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let big: Vec<u8> = (0..(MEMORY_STAGE + 12345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut w = store.stage(true).await.unwrap();
        for part in big.chunks(100_000) {
            w.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        let s = w.finish().await.unwrap();
        assert!(s.bytes().is_none());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            1
        );
        let c = store.staged_content(&s).await.unwrap();
        assert_eq!(c.len(), big.len() as u64);
        let small = stage(&store, b"tiny").await;
        assert!(small.bytes().is_some());
        // Both append to a chunked upload alike.
        let h = store
            .append("k3.png", 0, &small, RunningSha1::new())
            .await
            .unwrap();
        let h = store.append("k3.png", 4, &s, h).await.unwrap();
        assert!(store.matches("k3.png", 4, &s).await.unwrap());
        assert!(store.matches("k3.png", 0, &small).await.unwrap());
        let mut all = b"tiny".to_vec();
        all.extend_from_slice(&big);
        let stale = store.stale(i64::MAX, 10).await.unwrap();
        assert!(
            stale.contains(&SpoolItem::Staged(s.id.clone())),
            "{stale:?}"
        );
        let sha = store.promote(s).await.unwrap();
        assert_eq!(read_all(&store, &sha, None).await, big);
        assert_eq!(h.len(), all.len() as u64);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn staged_files_share_a_memory_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path())
            .await
            .unwrap()
            .with_memory_budget(10);
        let a = stage(&store, b"123456").await;
        let b = stage(&store, b"abcdef").await;
        assert!(a.bytes().is_some());
        assert!(b.bytes().is_none(), "over the budget: on disk");
        drop(a);
        let c = stage(&store, b"uvwxyz").await;
        assert!(c.bytes().is_some(), "the budget came back");
        assert_eq!(
            store.staged_content(&b).await.unwrap().len(),
            6,
            "a spilled file reads the same"
        );
    }

    #[tokio::test]
    async fn dropped_staged_files_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let mut w = store.stage(true).await.unwrap();
        w.write(Bytes::from_static(b"partial")).await.unwrap();
        drop(w);
        let s = stage(&store, b"finished").await;
        drop(s);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn put_refuses_content_that_is_not_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let sha = "a9993e364706816aba3e25717850c26c9cd0d89d";
        let body: ByteStream =
            Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(b"abd"))]));
        assert!(matches!(
            store.put(sha, 3, body).await,
            Err(StoreError::BlobMismatch { .. })
        ));
        assert!(store.head(sha).await.unwrap().is_none());
        let body: ByteStream =
            Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(b"abc"))]));
        store.put(sha, 3, body).await.unwrap();
        assert_eq!(store.list(None, 10).await.unwrap()[0].sha1, sha);
        assert!(store.list(Some(sha), 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn chunked_uploads_append_in_order_and_become_blobs_of_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let a = stage(&store, b"hello ").await;
        let b = stage(&store, b"world").await;
        let h = store
            .append("k1.png", 0, &a, RunningSha1::new())
            .await
            .unwrap();
        // A stray write past the end is cut off by the next append at the acknowledged end.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("chunks/k1.png.part"))
            .unwrap()
            .write_all(b"junk")
            .unwrap();
        assert!(store.matches("k1.png", 0, &a).await.unwrap());
        let h = store.append("k1.png", 6, &b, h).await.unwrap();
        assert_eq!(h.len(), 11);
        // A hash that does not cover the offset is refused.
        assert!(store
            .append("k1.png", 11, &b, RunningSha1::new())
            .await
            .is_err());
        assert_eq!(
            store.hash_prefix("k1.png", 11).await.unwrap().hex(),
            h.hex()
        );
        let sha = store.promote_upload("k1.png", &h).await.unwrap();
        assert_eq!(read_all(&store, &sha, None).await, b"hello world");
        store.delete_upload("k1.png").await.unwrap();
        assert_eq!(read_all(&store, &sha, None).await, b"hello world");
        drop((a, b));
        assert!(store.stale(i64::MAX, 10).await.unwrap().is_empty());
        let c = stage(&store, b"x").await;
        store
            .append("k2.png", 0, &c, RunningSha1::new())
            .await
            .unwrap();
        let stale = store.stale(i64::MAX, 10).await.unwrap();
        assert!(
            stale.contains(&SpoolItem::Upload("k2.png".into())),
            "{stale:?}"
        );
        assert!(c.bytes().is_some(), "a small staged file is kept in memory");
    }

    #[tokio::test]
    async fn blobs_of_the_two_level_layout_move_up_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let sha = "a9993e364706816aba3e25717850c26c9cd0d89d";
        let old = dir.path().join("blobs/a9/99");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join(sha), b"abc").unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        assert_eq!(read_all(&store, sha, None).await, b"abc");
        assert!(!old.exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join("blobs")).unwrap().count(),
            256
        );
    }

    #[test]
    fn names_never_reach_outside_the_store() {
        assert!(safe_name("../x").is_err());
        assert!(safe_name("a/b").is_err());
        assert!(safe_name(".hidden").is_err());
        assert!(safe_name("1abc.2def.3.png").is_ok());
    }
}
