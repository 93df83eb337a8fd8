//! Sessions, read from the repository on every request (a point read), so that a logout or
//! a revocation made anywhere, the admin commands included, holds at once; and a short-lived
//! cache of users in front of the repository (what other processes change in a user, its
//! groups, is seen within [`USER_TTL`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mwstore_storage::{Session, StoreError, User};

use crate::params::lock;
use crate::AppState;

/// How long a cached user (groups, name) is trusted.
pub const USER_TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; past that the cache starts over.
const MAX_ENTRIES: usize = 20_000;

/// Cached users.
#[derive(Default)]
pub struct Cache {
    users: Mutex<HashMap<i64, (User, Instant)>>,
}

fn fresh<K, Q, V>(map: &Mutex<HashMap<K, (V, Instant)>>, key: &Q, ttl: Duration) -> Option<V>
where
    K: std::hash::Hash + Eq + std::borrow::Borrow<Q>,
    Q: std::hash::Hash + Eq + ?Sized,
    V: Clone,
{
    let m = lock(map);
    m.get(key)
        .filter(|(_, at)| at.elapsed() < ttl)
        .map(|(v, _)| v.clone())
}

fn keep<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, (V, Instant)>>, key: K, value: V) {
    let mut m = lock(map);
    if m.len() >= MAX_ENTRIES {
        m.clear();
    }
    m.insert(key, (value, Instant::now()));
}

/// The session `id`, unless it expired at `now`.
pub async fn session(app: &AppState, id: &str, now: i64) -> Result<Option<Session>, StoreError> {
    app.repo.session(id, now).await
}

/// Stores a session at the end of a request: a new one is created, a stored one is
/// updated if it still exists. One deleted while the request ran (a logout, a revocation)
/// stays deleted: its request's changes are dropped.
pub async fn put_session(app: &AppState, s: &Session) -> Result<(), StoreError> {
    if s.is_new {
        return app.repo.create_session(s).await;
    }
    if !app.repo.update_session(s).await? {
        tracing::debug!("session ended while its request ran; not written back");
    }
    Ok(())
}

/// Ends a session.
pub async fn delete_session(app: &AppState, id: &str) -> Result<(), StoreError> {
    app.repo.delete_session(id).await
}

/// The first live session the request's cookies name (bot-password session first) that
/// `accept` takes, with the cookie it came in.
pub async fn session_of(
    app: &AppState,
    headers: &axum::http::HeaderMap,
    now: i64,
    accept: impl Fn(&Session) -> bool,
) -> Result<Option<(String, Session)>, StoreError> {
    let prefix = &app.config.cookie_prefix;
    for name in [format!("{prefix}_BPsession"), format!("{prefix}_session")] {
        let cookies = headers.get_all(axum::http::header::COOKIE);
        if let Some(id) = crate::auth::session::read_cookie(cookies.iter(), &name) {
            if let Some(s) = session(app, &id, now).await?.filter(&accept) {
                return Ok(Some((name, s)));
            }
        }
    }
    Ok(None)
}

/// The user `id`.
pub async fn user(app: &AppState, id: i64) -> Result<Option<User>, StoreError> {
    if let Some(u) = fresh(&app.cache.users, &id, USER_TTL) {
        return Ok(Some(u));
    }
    let u = app.repo.user_by_id(id).await?;
    if let Some(u) = &u {
        keep(&app.cache.users, id, u.clone());
    }
    Ok(u)
}
