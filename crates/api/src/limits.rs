//! Shares of scarce things a request holds while it runs: bytes of received files in the
//! upload spool, and upload-by-URL fetches. Each share is counted per holder (a user, or
//! an address for anonymous requests) and in total, and given back when its guard drops,
//! whatever way the request ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::error::{ApiError, Code};
use crate::params::lock;

/// The answer when a request finds no room in a pool: MediaWiki's `ratelimited` shape, with
/// HTTP 429 and `Retry-After`, naming what is busy ("bytes of uploads being received").
pub fn busy(what: &str, which: Exceeded, retry_after_secs: u32) -> ApiError {
    let whose = match which {
        Exceeded::Holder => "for you",
        Exceeded::Total => "for everyone together",
    };
    let mut e = ApiError::new(
        Code::RateLimited,
        format!("You've exceeded your rate limit: too many {what} at once {whose}. Please wait some time and try again."),
    );
    e.status = axum::http::StatusCode::TOO_MANY_REQUESTS;
    e.headers
        .push(("retry-after", retry_after_secs.to_string()));
    e
}

/// What per-address limits count by: an IPv4 address, or the /64 an IPv6 address is in (the
/// usual allocation to one customer, so one client cannot multiply its share by using many
/// addresses of it). IPv4-mapped IPv6 addresses count as IPv4.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

/// What a per-address limit counts `client_ip` under (see [`address_key`]).
pub fn address_of(client_ip: &str) -> String {
    client_ip
        .parse::<IpAddr>()
        .map_or_else(|_| client_ip.to_owned(), |ip| address_key(ip).to_string())
}

/// Who holds a share: a user id, or the client address of an anonymous request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    User(i64),
    Address(String),
}

/// Which limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// The holder's own share.
    Holder,
    /// Everybody's together.
    Total,
}

#[derive(Default)]
struct Counts {
    total: u64,
    by_holder: HashMap<Holder, u64>,
}

/// A pool of units (bytes, fetches) with a cap per holder and in total.
pub struct Pool {
    per_holder: u64,
    total: u64,
    counts: Mutex<Counts>,
}

impl Pool {
    pub fn new(per_holder: u64, total: u64) -> Arc<Pool> {
        Arc::new(Pool {
            per_holder,
            total,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// An empty share of `holder`, to grow with [`Share::grow`].
    pub fn share(self: &Arc<Self>, holder: Holder) -> Share {
        Share {
            pool: self.clone(),
            holder,
            units: 0,
        }
    }

    /// Units held now, in total.
    pub fn in_use(&self) -> u64 {
        lock(&self.counts).total
    }

    fn take(&self, holder: &Holder, n: u64) -> Result<(), Exceeded> {
        let mut c = lock(&self.counts);
        let mine = c.by_holder.get(holder).copied().unwrap_or(0);
        if mine.saturating_add(n) > self.per_holder {
            return Err(Exceeded::Holder);
        }
        if c.total.saturating_add(n) > self.total {
            return Err(Exceeded::Total);
        }
        c.total += n;
        *c.by_holder.entry(holder.clone()).or_default() += n;
        Ok(())
    }

    fn give(&self, holder: &Holder, n: u64) {
        if n == 0 {
            return;
        }
        let mut c = lock(&self.counts);
        c.total = c.total.saturating_sub(n);
        if let Some(v) = c.by_holder.get_mut(holder) {
            *v = v.saturating_sub(n);
            if *v == 0 {
                c.by_holder.remove(holder);
            }
        }
    }
}

/// Units of a [`Pool`] held by one request; given back on drop.
pub struct Share {
    pool: Arc<Pool>,
    holder: Holder,
    units: u64,
}

impl Share {
    /// Takes `n` more units, or says which cap stands in the way (taking nothing).
    pub fn grow(&mut self, n: u64) -> Result<(), Exceeded> {
        self.pool.take(&self.holder, n)?;
        self.units += n;
        Ok(())
    }
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("holder", &self.holder)
            .field("units", &self.units)
            .finish()
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.pool.give(&self.holder, self.units);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_holder_and_total() {
        let pool = Pool::new(10, 15);
        let mut a = pool.share(Holder::User(1));
        let mut b = pool.share(Holder::User(2));
        assert_eq!(a.grow(8), Ok(()));
        assert_eq!(a.grow(3), Err(Exceeded::Holder));
        assert_eq!(b.grow(8), Err(Exceeded::Total));
        assert_eq!(b.grow(7), Ok(()));
        assert_eq!(pool.in_use(), 15);
        drop(a);
        assert_eq!(pool.in_use(), 7);
        let mut a2 = pool.share(Holder::User(1));
        assert_eq!(a2.grow(8), Ok(()));
        drop(b);
        drop(a2);
        assert_eq!(pool.in_use(), 0);
        assert!(lock(&pool.counts).by_holder.is_empty());
    }
}
