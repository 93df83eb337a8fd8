//! Resume state of a chunked upload, kept in a small JSON file between runs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::error::{Error, Result};

/// How much of the file's start is hashed to recognise it again.
const IDENTITY_PREFIX: u64 = 1 << 20;

/// What identifies a local file between runs: its size, its modification time and the SHA-1
/// of its first MiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 when unknown).
    pub mtime: i64,
    /// Hex SHA-1 of the first MiB (or of the whole file when smaller).
    pub first_mib_sha1: String,
}

impl FileIdentity {
    /// Reads the identity of the file at `path`.
    pub fn of(path: &Path) -> Result<FileIdentity> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut hasher = Sha1::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut limited = f.take(IDENTITY_PREFIX);
        loop {
            let n = limited.read(&mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(FileIdentity {
            size: meta.len(),
            mtime,
            first_mib_sha1: hex::encode(hasher.finalize()),
        })
    }
}

/// The state of an interrupted chunked upload: where the server's copy ends and which local
/// file it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The API the upload goes to.
    pub api: String,
    /// The target file name on the wiki.
    pub filename: String,
    /// The server's key for the upload in progress (after the last chunk: the key of the
    /// assembled file, waiting to be published).
    pub filekey: String,
    /// Bytes the server has accepted.
    pub offset: u64,
    /// Size of the local file.
    pub size: u64,
    /// Modification time of the local file (nanoseconds since the Unix epoch).
    pub mtime: i64,
    /// Hex SHA-1 of the local file's first MiB.
    pub first_mib_sha1: String,
}

impl ResumeState {
    /// The file name (within a state directory) for uploading `local` to `filename` at `api`.
    pub fn file_name(api: &str, local: &Path, filename: &str) -> String {
        let local = std::fs::canonicalize(local).unwrap_or_else(|_| local.to_path_buf());
        let mut h = Sha1::new();
        h.update(api.as_bytes());
        h.update([0]);
        h.update(local.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(filename.as_bytes());
        format!("upload-{}.json", &hex::encode(h.finalize())[..20])
    }

    /// True when the state belongs to this upload of this very file.
    pub fn matches(&self, api: &str, filename: &str, id: &FileIdentity) -> bool {
        self.api == api
            && self.filename == filename
            && self.size == id.size
            && self.mtime == id.mtime
            && self.first_mib_sha1 == id.first_mib_sha1
            && self.offset <= self.size
            && !self.filekey.is_empty()
    }

    /// Loads a state file; `None` when there is none or it cannot be understood (a damaged
    /// state only means the upload starts again).
    pub fn load(path: &Path) -> Result<Option<ResumeState>> {
        match std::fs::read(path) {
            Ok(data) => Ok(serde_json::from_slice(&data).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes the state atomically (a temporary file renamed over the old one), creating the
    /// directory when needed.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let data = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Protocol(format!("cannot encode the resume state: {e}")))?;
        let mut tmp = PathBuf::from(path);
        tmp.set_extension("json.tmp");
        std::fs::write(&tmp, data).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Deletes a state file (no error when it is already gone).
    pub fn remove(path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &FileIdentity) -> ResumeState {
        ResumeState {
            api: "http://127.0.0.1:8080/w/api.php".into(),
            filename: "A.png".into(),
            filekey: "1d3nsrx88434.x3f0f3.3.png".into(),
            offset: 1_048_576,
            size: id.size,
            mtime: id.mtime,
            first_mib_sha1: id.first_mib_sha1.clone(),
        }
    }

    #[test]
    fn save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
        let id = FileIdentity::of(&file).unwrap();
        assert_eq!(id.size, 3 << 20);
        // Only the first MiB counts.
        assert_eq!(
            id.first_mib_sha1,
            hex::encode(Sha1::digest(vec![7u8; 1 << 20]))
        );
        let st = state(&id);
        let path = dir.path().join("state").join("s.json");
        assert_eq!(ResumeState::load(&path).unwrap(), None);
        st.save(&path).unwrap();
        assert_eq!(ResumeState::load(&path).unwrap(), Some(st.clone()));
        assert!(st.matches("http://127.0.0.1:8080/w/api.php", "A.png", &id));
        assert!(!st.matches("http://other/w/api.php", "A.png", &id));
        assert!(!st.matches("http://127.0.0.1:8080/w/api.php", "B.png", &id));
        ResumeState::remove(&path).unwrap();
        ResumeState::remove(&path).unwrap();
        assert_eq!(ResumeState::load(&path).unwrap(), None);
    }

    #[test]
    fn changed_file_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        std::fs::write(&file, b"first content").unwrap();
        let id = FileIdentity::of(&file).unwrap();
        let st = state(&id);
        std::fs::write(&file, b"other content").unwrap();
        let id2 = FileIdentity::of(&file).unwrap();
        assert_ne!(id.first_mib_sha1, id2.first_mib_sha1);
        assert!(!st.matches(&st.api, "A.png", &id2));
        // An offset past the end is never trusted.
        let mut bad = state(&id);
        bad.offset = id.size + 1;
        assert!(!bad.matches(&bad.api, "A.png", &id));
    }

    #[test]
    fn damaged_state_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(ResumeState::load(&path).unwrap(), None);
    }

    #[test]
    fn state_file_names_differ_per_target() {
        let p = Path::new("/nonexistent/a.png");
        let a = ResumeState::file_name("http://x/w/api.php", p, "A.png");
        let b = ResumeState::file_name("http://x/w/api.php", p, "B.png");
        let c = ResumeState::file_name("http://y/w/api.php", p, "A.png");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("upload-") && a.ends_with(".json"));
        assert_eq!(a, ResumeState::file_name("http://x/w/api.php", p, "A.png"));
    }
}
