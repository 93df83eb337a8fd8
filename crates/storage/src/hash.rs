//! The running SHA-1 of an upload in progress, whose state can be saved with the upload and
//! restored later (after a restart, or on another node), so that finishing a chunked upload
//! never rereads its bytes.

use sha1::digest::common::hazmat::{SerializableState, SerializedState};
use sha1::{Digest, Sha1};

use crate::error::StoreError;

/// Format tag of [`RunningSha1::to_bytes`].
const STATE_VERSION: u8 = 1;

/// A SHA-1 over the first [`RunningSha1::len`] bytes of an upload.
#[derive(Clone, Default)]
pub struct RunningSha1 {
    hasher: Sha1,
    len: u64,
}

impl std::fmt::Debug for RunningSha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSha1")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl RunningSha1 {
    /// The hash of nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }

    /// Number of bytes hashed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hex digest of what was hashed so far (the state goes on unchanged).
    pub fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// The state as bytes: a version tag, the length, then the hasher's own serialised state.
    pub fn to_bytes(&self) -> Vec<u8> {
        let state = self.hasher.serialize();
        let mut out = Vec::with_capacity(9 + state.len());
        out.push(STATE_VERSION);
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&state);
        out
    }

    /// Restores a state saved by [`RunningSha1::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = || StoreError::Corrupt("unreadable hash state".into());
        let (&version, rest) = bytes.split_first().ok_or_else(bad)?;
        if version != STATE_VERSION || rest.len() < 8 {
            return Err(bad());
        }
        let (len, state) = rest.split_at(8);
        let len = u64::from_be_bytes(len.try_into().map_err(|_| bad())?);
        let state = SerializedState::<Sha1>::try_from(state).map_err(|_| bad())?;
        let hasher = Sha1::deserialize(&state).map_err(|_| bad())?;
        Ok(RunningSha1 { hasher, len })
    }
}

/// Whether `s` is a 40-character lowercase hex SHA-1 (the only form a blob is named by).
pub fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_round_trip_at_any_length() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [0usize, 1, 63, 64, 65, 500, 999] {
            let mut a = RunningSha1::new();
            a.update(&data[..cut]);
            let mut b = RunningSha1::from_bytes(&a.to_bytes()).unwrap();
            assert_eq!(b.len(), cut as u64);
            b.update(&data[cut..]);
            assert_eq!(b.hex(), hex::encode(Sha1::digest(&data)));
        }
        assert!(RunningSha1::from_bytes(b"\x02junk").is_err());
        assert!(RunningSha1::from_bytes(b"").is_err());
    }
}
