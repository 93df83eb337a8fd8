//! Named fault points, for testing that every state change is crash-exact.
//!
//! `MWSTORE_FAULTS` lists points and what happens there, comma-separated:
//! `chunk-appended=abort` ends the process on the spot (as `kill -9` would, nothing is
//! cleaned up), `publish-committed=sleep:500` waits 500 ms, and `name=abort@3` acts on the
//! third time only. The variable is read once; without it a fault point is a look-up in an
//! empty table.
//!
//! The points, in the order an upload meets them:
//! - `staged-promoted`: a received file became a blob, no metadata refers to it yet;
//! - `stash-before-commit` / `stash-committed`: around the transaction of a stash entry;
//! - `chunk-appended`: a chunk's bytes are durable, its progress is not recorded;
//! - `chunk-recorded`: the progress is recorded, the answer not sent;
//! - `assembly-verified` / `assembly-promoted`: mid-assembly, before and after the upload
//!   became a blob;
//! - `assembly-committed`: the assembled entry replaced the upload, its bytes not removed;
//! - `publish-before-commit` / `publish-committed`: around the publish transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug)]
enum Action {
    Abort,
    Sleep(Duration),
}

#[derive(Debug)]
struct Fault {
    action: Action,
    /// Act on this hit only (1-based); 0 for every hit.
    nth: u64,
    hits: AtomicU64,
}

fn parse(spec: &str) -> HashMap<String, Fault> {
    let mut out = HashMap::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, what)) = item.split_once('=') else {
            tracing::warn!(item, "ignoring a fault point without an action");
            continue;
        };
        let (what, nth) = match what.split_once('@') {
            Some((w, n)) => (w, n.parse().unwrap_or(0)),
            None => (what, 0),
        };
        let action = match what.split_once(':') {
            Some(("sleep", ms)) => Action::Sleep(Duration::from_millis(ms.parse().unwrap_or(0))),
            None if what == "abort" => Action::Abort,
            _ => {
                tracing::warn!(item, "ignoring a fault point with an unknown action");
                continue;
            }
        };
        out.insert(
            name.trim().to_owned(),
            Fault {
                action,
                nth,
                hits: AtomicU64::new(0),
            },
        );
    }
    out
}

fn faults() -> &'static HashMap<String, Fault> {
    static FAULTS: OnceLock<HashMap<String, Fault>> = OnceLock::new();
    FAULTS.get_or_init(|| {
        let spec = std::env::var("MWSTORE_FAULTS").unwrap_or_default();
        let f = parse(&spec);
        if !f.is_empty() {
            tracing::warn!(spec, "fault points are armed");
        }
        f
    })
}

/// Passes the fault point `name`.
pub async fn point(name: &str) {
    let Some(f) = faults().get(name) else {
        return;
    };
    let hit = f.hits.fetch_add(1, Ordering::SeqCst) + 1;
    if f.nth != 0 && hit != f.nth {
        return;
    }
    match f.action {
        Action::Abort => {
            eprintln!("mwstore: fault point {name} reached: aborting");
            std::process::abort();
        }
        Action::Sleep(d) => tokio::time::sleep(d).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let f = parse("a=abort, b=sleep:250 ,c=abort@3,bad,d=explode");
        assert!(matches!(f["a"].action, Action::Abort));
        assert!(matches!(f["b"].action, Action::Sleep(d) if d == Duration::from_millis(250)));
        assert_eq!(f["c"].nth, 3);
        assert_eq!(f.len(), 3);
    }
}
