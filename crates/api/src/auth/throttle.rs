//! The login throttle, as MediaWiki's `Throttler` applies `$wgPasswordAttemptThrottle`:
//! every attempt counts for the account it names from the client's address (bot passwords
//! apart: `User@app`), plus, our addition, for the address alone
//! (`password_attempt_throttle_per_address`).
//!
//! Each rule is a fixed window of `seconds` starting at the first attempt it counts, as
//! MediaWiki's counters in the object cache are. An attempt is reserved before its password
//! is checked, in one critical section that checks every rule of every key and records the
//! attempt only when none is exceeded: parallel guesses cannot all pass a check made before
//! any of them is recorded. A successful login clears its account's count and takes its
//! attempt back from the address's count.
//!
//! The table is bounded: entries whose windows all ended are swept out once a minute and
//! whenever it is full, and if it is still full the entries touched longest ago are evicted
//! (MediaWiki's object cache evicts the same way).
//! Evicting a count lets the address that made it start over, but filling the table takes
//! many addresses, each held by the per-address rules, and an attacker with that many
//! addresses gets as many fresh windows anyway. Keys are digests of (kind, name, address),
//! so a long name costs no more memory than a short one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use mwstore_domain::config::ThrottleRule;

use crate::params::lock;

/// Entries kept at most.
const MAX_ENTRIES: usize = 100_000;
/// Entries evicted at once when the table is full of live ones.
const EVICT_BATCH: usize = MAX_ENTRIES / 10;
/// Ended entries are swept out at most this often (and whenever the table is full).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What a login attempt tries.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A main-account password, for this (canonical) account name.
    Account(&'a str),
    /// A bot password: the canonical user name and the app id.
    BotPassword { user: &'a str, app: &'a str },
}

type Key = [u8; 16];

fn key(kind: &str, name: &str, address: &str) -> Key {
    let mut h = Md5::new();
    for part in [kind, name, address] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// One rule's window: attempts counted since `start`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

#[derive(Debug)]
struct Entry {
    /// One window per rule, in the rules' order.
    windows: Vec<Option<Window>>,
    /// The last attempt recorded.
    last: Instant,
    /// The longest window of its rules: once `last` is that old, every window has ended.
    span: Duration,
}

fn window_len(rule: &ThrottleRule) -> Duration {
    Duration::from_secs(rule.seconds)
}

/// The window of `rule` if it is still open at `now`.
fn open(w: Option<Window>, rule: &ThrottleRule, now: Instant) -> Option<Window> {
    w.filter(|w| now.saturating_duration_since(w.start) < window_len(rule))
}

/// A reserved attempt, to report back with [`LoginThrottle::succeeded`] if the password was
/// right. Forgetting it leaves the attempt counted, as a failure is.
#[derive(Debug)]
#[must_use]
pub struct Reservation {
    account: Option<Key>,
    address: Option<Key>,
    at: Instant,
}

/// Login attempts by account and address, and by address alone.
pub struct LoginThrottle {
    state: Mutex<State>,
}

struct State {
    entries: HashMap<Key, Entry>,
    last_sweep: Instant,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            state: Mutex::new(State {
                entries: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }
}

impl LoginThrottle {
    /// Reserves an attempt: `Err(seconds to wait)` when a rule is exceeded (nothing is then
    /// recorded), otherwise the attempt is recorded under every key.
    pub fn reserve(
        &self,
        subject: Subject<'_>,
        address: &str,
        account_rules: &[ThrottleRule],
        address_rules: &[ThrottleRule],
    ) -> Result<Reservation, u64> {
        self.reserve_at(
            subject,
            address,
            account_rules,
            address_rules,
            Instant::now(),
        )
    }

    fn reserve_at(
        &self,
        subject: Subject<'_>,
        address: &str,
        account_rules: &[ThrottleRule],
        address_rules: &[ThrottleRule],
        now: Instant,
    ) -> Result<Reservation, u64> {
        let account = (!account_rules.is_empty()).then(|| match subject {
            Subject::Account(name) => key("password", name, address),
            Subject::BotPassword { user, app } => {
                key("botpassword", &format!("{user}@{app}"), address)
            }
        });
        let address_key = (!address_rules.is_empty()).then(|| key("address", "", address));
        let keys: Vec<(Key, &[ThrottleRule])> = [
            account.map(|k| (k, account_rules)),
            address_key.map(|k| (k, address_rules)),
        ]
        .into_iter()
        .flatten()
        .collect();

        let mut state = lock(&self.state);
        // Check every rule of every key.
        let mut wait = Duration::ZERO;
        for (k, rules) in &keys {
            let Some(e) = state.entries.get(k) else {
                continue;
            };
            for (w, rule) in e.windows.iter().zip(rules.iter()) {
                if let Some(w) = open(*w, rule, now) {
                    if w.count >= rule.count {
                        let left =
                            window_len(rule).saturating_sub(now.saturating_duration_since(w.start));
                        wait = wait.max(left);
                    }
                }
            }
        }
        if !wait.is_zero() {
            // Whole seconds, rounded up.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        // None is exceeded: record.
        for (k, rules) in &keys {
            if !state.entries.contains_key(k) {
                state.make_room(now);
            }
            let e = state.entries.entry(*k).or_insert_with(|| Entry {
                windows: Vec::new(),
                last: now,
                span: Duration::ZERO,
            });
            e.span = rules.iter().map(window_len).max().unwrap_or_default();
            e.windows.resize(rules.len(), None);
            for (w, rule) in e.windows.iter_mut().zip(rules.iter()) {
                *w = Some(match open(*w, rule, now) {
                    Some(w) => Window {
                        start: w.start,
                        count: w.count.saturating_add(1),
                    },
                    None => Window {
                        start: now,
                        count: 1,
                    },
                });
            }
            e.last = now;
        }
        Ok(Reservation {
            account,
            address: address_key,
            at: now,
        })
    }

    /// The reserved attempt logged in: its account's count is cleared (as MediaWiki clears
    /// it) and the attempt no longer counts for its address.
    pub fn succeeded(&self, r: Reservation) {
        let entries = &mut lock(&self.state).entries;
        if let Some(k) = r.account {
            entries.remove(&k);
        }
        if let Some(k) = r.address {
            let mut empty = false;
            if let Some(e) = entries.get_mut(&k) {
                for w in e.windows.iter_mut().flatten() {
                    // Only the window that counted it (a later one started afterwards).
                    if w.start <= r.at {
                        w.count = w.count.saturating_sub(1);
                    }
                }
                empty = e.windows.iter().flatten().all(|w| w.count == 0);
            }
            if empty {
                entries.remove(&k);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.state).entries.len()
    }
}

impl State {
    /// Before a new entry: sweeps out entries whose windows all ended (when the table is
    /// full, or a while after the last sweep); if the table is still full, evicts the
    /// entries touched longest ago.
    fn make_room(&mut self, now: Instant) {
        let full = self.entries.len() >= MAX_ENTRIES;
        if !full && now.saturating_duration_since(self.last_sweep) < SWEEP_EVERY {
            return;
        }
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last) < e.span);
        self.last_sweep = now;
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        let mut by_age: Vec<(Instant, Key)> =
            self.entries.iter().map(|(k, e)| (e.last, *k)).collect();
        let n = EVICT_BATCH.min(by_age.len().saturating_sub(1));
        if n == 0 {
            return;
        }
        by_age.select_nth_unstable(n);
        for (_, k) in &by_age[..n] {
            self.entries.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &[ThrottleRule] = &[ThrottleRule {
        count: 3,
        seconds: 60,
    }];
    const ADDRESS: &[ThrottleRule] = &[ThrottleRule {
        count: 5,
        seconds: 60,
    }];

    fn at(t: &LoginThrottle, s: Subject<'_>, ip: &str, now: Instant) -> Result<Reservation, u64> {
        t.reserve_at(s, ip, ACCOUNT, ADDRESS, now)
    }

    #[test]
    fn counts_per_account_and_address() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(at(&t, Subject::Account("Alice"), "10.0.0.1", now).is_ok());
        }
        assert_eq!(
            at(&t, Subject::Account("Alice"), "10.0.0.1", now).err(),
            Some(60)
        );
        // Same account, other address; other account, same address.
        assert!(at(&t, Subject::Account("Alice"), "10.0.0.2", now).is_ok());
        assert!(at(&t, Subject::Account("Bob"), "10.0.0.1", now).is_ok());
        // Bot passwords count apart from the main account and from each other.
        let bot1 = Subject::BotPassword {
            user: "Alice",
            app: "bot1",
        };
        assert!(at(&t, bot1, "10.0.0.1", now).is_ok());
        // The address has made 5 attempts now: everything from it waits.
        assert!(at(&t, Subject::Account("Carol"), "10.0.0.1", now).is_err());
        let later = now + Duration::from_secs(45);
        assert_eq!(
            at(&t, Subject::Account("Carol"), "10.0.0.1", later).err(),
            Some(15)
        );
        // The window ends.
        let after = now + Duration::from_secs(60);
        assert!(at(&t, Subject::Account("Alice"), "10.0.0.1", after).is_ok());
    }

    #[test]
    fn success_clears_the_account_and_gives_back_the_attempt() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..2 {
            let _ = at(&t, Subject::Account("Alice"), "10.0.0.1", now);
        }
        let r = at(&t, Subject::Account("Alice"), "10.0.0.1", now);
        t.succeeded(r.expect("third attempt allowed"));
        // Alice starts over; the address has 2 attempts counted, not 3.
        for _ in 0..3 {
            assert!(at(&t, Subject::Account("Alice"), "10.0.0.1", now).is_ok());
        }
        assert!(at(&t, Subject::Account("Alice"), "10.0.0.1", now).is_err());
        // 2 + 3 = 5: the address is at its limit.
        assert!(at(&t, Subject::Account("Bob"), "10.0.0.1", now).is_err());
    }

    #[test]
    fn bounded() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_ENTRIES + 10) {
            let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let _ = t.reserve_at(Subject::Account("Alice"), &ip, ACCOUNT, &[], now);
        }
        assert!(t.len() <= MAX_ENTRIES);
        // Ended windows are pruned first.
        let later = now + Duration::from_secs(61);
        let _ = t.reserve_at(Subject::Account("Bob"), "10.9.9.9", ACCOUNT, &[], later);
        assert!(t.len() < 10, "{}", t.len());
    }
}
