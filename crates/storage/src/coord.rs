//! Coordination that must hold across every process serving one wiki: exclusive locks on a
//! file name or an upload, the lock that keeps blob garbage collection away from blobs being
//! referenced, and the counters behind rate limits. Behind traits, so that several nodes can
//! share them (database advisory locks and rows); the in-process implementations serve a
//! single server.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::RwLock;

/// What a lock protects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// Publishing to `File:<name>` (db key): the checks for an upload (exists, duplicate,
    /// permissions) and its publish happen under it.
    FileName(String),
    /// A chunked upload or a stashed file, by filekey: appends, assembly and async commits.
    Upload(String),
    /// Changes of what refers to blobs (held shared) against their collection (exclusive).
    BlobGc,
    /// Rendering a thumbnail, by source sha1 and thumbnail name: one render at a time.
    Thumbnail(String),
}

/// A held lock, released when dropped. It owns its lock: work moved into a task keeps it
/// until the work is done, even if the request that started it is gone.
pub struct LockGuard {
    _held: Box<dyn Send + Sync>,
}

impl LockGuard {
    /// Wraps whatever keeps a lock held.
    pub fn new(held: impl Send + Sync + 'static) -> LockGuard {
        LockGuard {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}

/// Locks by key.
#[async_trait]
pub trait Locks: Send + Sync {
    /// Waits for the exclusive lock on `key`.
    async fn exclusive(&self, key: LockKey) -> LockGuard;
    /// Waits for a shared hold on `key` (excluded only by an exclusive one).
    async fn shared(&self, key: LockKey) -> LockGuard;
}

/// Counters of recent events by key (rate limits).
#[async_trait]
pub trait Counters: Send + Sync {
    /// If `limit` events of `key` happened in the `window` seconds before `now`, the number
    /// of seconds until the oldest of them leaves the window.
    async fn over_limit(&self, key: &str, limit: u32, window: u64, now: i64) -> Option<i64>;
    /// Counts an event of `key` at `now`, remembered for `window` seconds.
    async fn record(&self, key: &str, window: u64, now: i64);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Locks of one process.
#[derive(Default)]
pub struct InProcessLocks {
    map: Mutex<HashMap<LockKey, Arc<RwLock<()>>>>,
}

impl InProcessLocks {
    fn entry(&self, key: LockKey) -> Arc<RwLock<()>> {
        let mut map = lock(&self.map);
        if map.len() > 4096 {
            // Forget locks nobody holds or waits for.
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(key).or_default().clone()
    }
}

#[async_trait]
impl Locks for InProcessLocks {
    async fn exclusive(&self, key: LockKey) -> LockGuard {
        LockGuard::new(self.entry(key).write_owned().await)
    }

    async fn shared(&self, key: LockKey) -> LockGuard {
        LockGuard::new(self.entry(key).read_owned().await)
    }
}

/// Counters of one process.
#[derive(Default)]
pub struct InProcessCounters {
    map: Mutex<HashMap<String, VecDeque<i64>>>,
}

#[async_trait]
impl Counters for InProcessCounters {
    async fn over_limit(&self, key: &str, limit: u32, window: u64, now: i64) -> Option<i64> {
        let map = lock(&self.map);
        let times = map.get(key)?;
        let since = now - window as i64;
        let recent: Vec<i64> = times.iter().copied().filter(|t| *t > since).collect();
        if recent.len() >= limit as usize {
            let oldest = recent.iter().copied().min().unwrap_or(now);
            return Some((oldest + window as i64 - now).max(1));
        }
        None
    }

    async fn record(&self, key: &str, window: u64, now: i64) {
        let mut map = lock(&self.map);
        if map.len() > 100_000 {
            let since = now - window as i64;
            map.retain(|_, v| v.back().is_some_and(|t| *t > since));
        }
        let v = map.entry(key.to_owned()).or_default();
        let since = now - window as i64;
        while v.front().is_some_and(|t| *t <= since) {
            v.pop_front();
        }
        v.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exclusive_locks_exclude_and_owned_guards_travel() {
        let locks = Arc::new(InProcessLocks::default());
        let g = locks.exclusive(LockKey::FileName("A.png".into())).await;
        let l2 = locks.clone();
        let waiter = tokio::spawn(async move {
            let _g = l2.exclusive(LockKey::FileName("A.png".into())).await;
        });
        // Another key is free.
        drop(locks.exclusive(LockKey::FileName("B.png".into())).await);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        // A guard moved into a task is released when that task ends.
        tokio::spawn(async move { drop(g) }).await.unwrap();
        waiter.await.unwrap();
        let s1 = locks.shared(LockKey::BlobGc).await;
        let _s2 = locks.shared(LockKey::BlobGc).await;
        drop(s1);
    }

    #[tokio::test]
    async fn counters_slide() {
        let c = InProcessCounters::default();
        assert_eq!(c.over_limit("u1", 2, 60, 100).await, None);
        c.record("u1", 60, 100).await;
        c.record("u1", 60, 110).await;
        assert_eq!(c.over_limit("u1", 2, 60, 120).await, Some(40));
        assert_eq!(c.over_limit("u1", 2, 60, 161).await, None);
        assert_eq!(c.over_limit("u2", 2, 60, 120).await, None);
    }
}
