//! Content-addressed blob store. A blob is written to a temporary file while it streams in
//! (hashed on the way by the caller), made durable, then moved under its SHA-1.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rand::Rng;
use sha1::{Digest, Sha1};
use tokio::io::AsyncWriteExt;

use crate::repo::StoreError;

/// Where file contents live. Local disk now; an object store later.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Starts a new temporary blob.
    async fn create_temp(&self) -> Result<BlobWriter, StoreError>;
    /// Makes a finished temporary blob durable and stores it under `sha1` (hex). If that
    /// content is already stored, the temporary file is simply removed.
    async fn commit(&self, temp: BlobWriter, sha1: &str) -> Result<(), StoreError>;
    /// Local path of a stored blob (for verification and serving).
    fn path(&self, sha1: &str) -> PathBuf;
    /// Whether the blob exists.
    async fn exists(&self, sha1: &str) -> Result<bool, StoreError>;
    /// Deletes a blob (callers check first that nothing refers to it).
    async fn delete(&self, sha1: &str) -> Result<(), StoreError>;

    /// Local path of the growing file of a chunked upload.
    fn chunk_path(&self, key: &str) -> PathBuf;
    /// Copies the file at `src` to `offset` of a chunked upload's file (cutting off
    /// anything stored past `offset` that was never acknowledged), feeding the bytes to
    /// `hasher` on the way, and makes it durable. Returns the hasher.
    async fn chunk_append(
        &self,
        key: &str,
        offset: u64,
        src: &Path,
        hasher: Sha1,
    ) -> Result<Sha1, StoreError>;
    /// Whether the bytes at `offset` of a chunked upload's file equal the file at `src`.
    async fn chunk_matches(&self, key: &str, offset: u64, src: &Path) -> Result<bool, StoreError>;
    /// The hash of the first `len` bytes of a chunked upload's file.
    async fn chunk_hash_prefix(&self, key: &str, len: u64) -> Result<Sha1, StoreError>;
    /// Moves a finished chunked upload's file into the store under `sha1`.
    async fn chunk_commit(&self, key: &str, sha1: &str) -> Result<(), StoreError>;
    /// Removes a chunked upload's file.
    async fn chunk_delete(&self, key: &str) -> Result<(), StoreError>;
}

/// A temporary blob being written.
#[derive(Debug)]
pub struct BlobWriter {
    path: PathBuf,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    written: u64,
}

impl BlobWriter {
    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(data).await?;
            self.written += data.len() as u64;
            Ok(())
        } else {
            Err(StoreError::Corrupt("write after finish".into()))
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Local path of the temporary file (readable after [`BlobWriter::finish`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the data to the file (durability comes with [`BlobStore::commit`]).
    pub async fn finish(&mut self) -> Result<(), StoreError> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
        }
        Ok(())
    }

    /// Removes the temporary file.
    pub async fn discard(mut self) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // A writer dropped without commit or discard (e.g. a request aborted mid-body)
        // must not leave its bytes behind.
        if self.file.is_some() || self.path.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Blobs under `<root>/blobs/<aa>/<bb>/<sha1>`, temporary files under `<root>/tmp`.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Opens (creating the directories of) a store rooted at `root`, removing temporary files
    /// left by an earlier run.
    pub async fn open(root: &Path) -> Result<Self, StoreError> {
        let store = LocalBlobStore {
            root: root.to_path_buf(),
        };
        tokio::fs::create_dir_all(store.root.join("blobs")).await?;
        let tmp = store.root.join("tmp");
        if tmp.exists() {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        tokio::fs::create_dir_all(store.root.join("chunks")).await?;
        Ok(store)
    }

    fn valid_sha1(sha1: &str) -> bool {
        sha1.len() == 40
            && sha1
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

async fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let d = tokio::fs::File::open(dir).await?;
    d.sync_all().await?;
    Ok(())
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn create_temp(&self) -> Result<BlobWriter, StoreError> {
        let name: u128 = rand::thread_rng().gen();
        let path = self.root.join("tmp").join(format!("{name:032x}"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(BlobWriter {
            path,
            // Large writes: the reactor hands file I/O to blocking threads, one per write.
            file: Some(tokio::io::BufWriter::with_capacity(1 << 20, file)),
            written: 0,
        })
    }

    async fn commit(&self, mut temp: BlobWriter, sha1: &str) -> Result<(), StoreError> {
        if !Self::valid_sha1(sha1) {
            return Err(StoreError::Corrupt(format!("bad blob key {sha1}")));
        }
        temp.finish().await?;
        let dest = self.path(sha1);
        let dir = dest
            .parent()
            .ok_or_else(|| StoreError::Corrupt("blob path has no parent".into()))?
            .to_path_buf();
        let src = temp.path.clone();
        // One trip to a blocking thread for the whole sequence (each tokio::fs call would be
        // a trip of its own).
        let stored = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            if dest.try_exists()? {
                return Ok(false);
            }
            std::fs::File::open(&src)?.sync_all()?;
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(&src, &dest)?;
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(true)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("blob commit failed: {e}")))??;
        if stored {
            // The file now lives under its final name; nothing left to clean up.
            temp.path = PathBuf::new();
        } else {
            // The same content is already stored.
            temp.discard().await;
        }
        Ok(())
    }

    fn path(&self, sha1: &str) -> PathBuf {
        let (a, b) = if sha1.len() >= 4 {
            (&sha1[0..2], &sha1[2..4])
        } else {
            ("xx", "xx")
        };
        self.root.join("blobs").join(a).join(b).join(sha1)
    }

    async fn exists(&self, sha1: &str) -> Result<bool, StoreError> {
        Ok(Self::valid_sha1(sha1) && tokio::fs::try_exists(self.path(sha1)).await?)
    }

    async fn delete(&self, sha1: &str) -> Result<(), StoreError> {
        if !Self::valid_sha1(sha1) {
            return Ok(());
        }
        match tokio::fs::remove_file(self.path(sha1)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn chunk_path(&self, key: &str) -> PathBuf {
        // Keys are checked against ^[\w\-.]+\.\w*$ before they get here; keep only safe
        // characters anyway so a key can never name another path.
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join("chunks").join(format!("{safe}.part"))
    }

    async fn chunk_append(
        &self,
        key: &str,
        offset: u64,
        src: &Path,
        mut hasher: Sha1,
    ) -> Result<Sha1, StoreError> {
        let dst = self.chunk_path(key);
        let src = src.to_path_buf();
        let dir = self.root.join("chunks");
        // One blocking task with one buffer: bounded memory whatever the chunk size.
        tokio::task::spawn_blocking(move || -> Result<Sha1, StoreError> {
            use std::io::{Read, Seek, Write};
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&dst)?;
            out.set_len(offset)?;
            out.seek(std::io::SeekFrom::Start(offset))?;
            let appended = (|| -> std::io::Result<()> {
                let mut input = std::fs::File::open(&src)?;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = input.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    out.write_all(&buf[..n])?;
                }
                out.sync_data()?;
                if offset == 0 {
                    std::fs::File::open(&dir)?.sync_all()?;
                }
                Ok(())
            })();
            if let Err(e) = appended {
                // Give back what a failed append wrote (on a full disk, that is the space
                // the next attempt needs); the upload stays at `offset`.
                let _ = out.set_len(offset);
                return Err(e.into());
            }
            Ok(hasher)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("chunk writer failed: {e}")))?
    }

    async fn chunk_matches(&self, key: &str, offset: u64, src: &Path) -> Result<bool, StoreError> {
        let stored = self.chunk_path(key);
        let src = src.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
            use std::io::{Read, Seek};
            let mut a = std::fs::File::open(&stored)?;
            let mut b = std::fs::File::open(&src)?;
            let len = b.metadata()?.len();
            if a.metadata()?.len() < offset + len {
                return Ok(false);
            }
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
        .map_err(|e| StoreError::Corrupt(format!("chunk reader failed: {e}")))?
    }

    async fn chunk_hash_prefix(&self, key: &str, len: u64) -> Result<Sha1, StoreError> {
        let path = self.chunk_path(key);
        tokio::task::spawn_blocking(move || -> Result<Sha1, StoreError> {
            use std::io::Read;
            let f = std::fs::File::open(&path)?;
            let mut r = std::io::BufReader::with_capacity(1 << 20, f.take(len));
            let mut h = Sha1::new();
            std::io::copy(&mut r, &mut h)?;
            Ok(h)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("chunk reader failed: {e}")))?
    }

    async fn chunk_commit(&self, key: &str, sha1: &str) -> Result<(), StoreError> {
        if !Self::valid_sha1(sha1) {
            return Err(StoreError::Corrupt(format!("bad blob key {sha1}")));
        }
        let src = self.chunk_path(key);
        let dest = self.path(sha1);
        if tokio::fs::try_exists(&dest).await? {
            tokio::fs::remove_file(&src).await?;
            return Ok(());
        }
        let dir = dest
            .parent()
            .ok_or_else(|| StoreError::Corrupt("blob path has no parent".into()))?
            .to_path_buf();
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(&src, &dest).await?;
        sync_dir(&dir).await?;
        Ok(())
    }

    async fn chunk_delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.chunk_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_commit_dedupe() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let sha = "a9993e364706816aba3e25717850c26c9cd0d89d"; // sha1("abc")
        let mut w = store.create_temp().await.unwrap();
        w.write(b"abc").await.unwrap();
        store.commit(w, sha).await.unwrap();
        assert_eq!(std::fs::read(store.path(sha)).unwrap(), b"abc");
        let mut w2 = store.create_temp().await.unwrap();
        w2.write(b"abc").await.unwrap();
        let p2 = w2.path().to_path_buf();
        store.commit(w2, sha).await.unwrap();
        assert!(!p2.exists());
        assert!(store.exists(sha).await.unwrap());
        store.delete(sha).await.unwrap();
        assert!(!store.exists(sha).await.unwrap());
    }

    #[tokio::test]
    async fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let mut w = store.create_temp().await.unwrap();
        w.write(b"partial").await.unwrap();
        let p = w.path().to_path_buf();
        drop(w);
        assert!(!p.exists());
    }
}
