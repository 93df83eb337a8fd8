//! `mwstore bench` against a running mwstore: both scenarios, small sizes, JSON figures.

mod common;

use std::process::{Command, Stdio};

use common::{Server, BIN, BOT_GRANTS};
use serde_json::Value;

fn bench(server: &Server, user: &str, password: &str, json: &std::path::Path, args: &[&str]) {
    let pid = server.child.id().to_string();
    let out = Command::new(BIN)
        .arg("bench")
        .arg("--api")
        .arg(server.api())
        .arg("--user")
        .arg(user)
        .arg("--password-env")
        .arg("TEST_BENCH_PASSWORD")
        .arg("--server-pid")
        .arg(&pid)
        .arg("--json")
        .arg(json)
        .args(args)
        .env("TEST_BENCH_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("run mwstore bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("uploads\n"), "{stdout}");
}

fn positive(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f > 0.0)
}

#[tokio::test]
async fn small_and_chunked_scenarios_report_their_figures() {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let (user, pw) = server.bot_password("Alice", "bot", BOT_GRANTS);
    let tmp = tempfile::tempdir().unwrap();

    let small = tmp.path().join("small.json");
    bench(
        &server,
        &user,
        &pw,
        &small,
        &[
            "--scenario",
            "small",
            "--small-count",
            "5",
            "--concurrency",
            "1,2",
        ],
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&small).unwrap()).unwrap();
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["machine"]["cpu_model"].is_string(), "{v}");
    assert!(v["machine"]["memory_mib"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["mwstore_version"], env!("CARGO_PKG_VERSION"));
    assert!(
        v["server"]["generator"]
            .as_str()
            .unwrap()
            .starts_with("MediaWiki"),
        "{v}"
    );
    assert!(v["date"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(v.get("chunked").is_none(), "{v}");
    let rows = v["small"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    for (r, c) in rows.iter().zip([1, 2]) {
        assert_eq!(r["concurrency"], c, "{r}");
        assert_eq!(r["uploaded"], 5, "{r}");
        assert_eq!(r["failed"], 0, "{r}");
        for k in ["uploads_per_s", "p50_ms", "p99_ms", "max_ms", "seconds"] {
            assert!(positive(&r[k]), "{k} in {r}");
        }
        assert!(r["p50_ms"].as_f64() <= r["p99_ms"].as_f64(), "{r}");
        assert!(positive(&r["rss"]["peak_rss_mib"]), "{r}");
        assert!(positive(&r["rss"]["vmhwm_mib"]), "{r}");
    }

    let chunked = tmp.path().join("chunked.json");
    bench(
        &server,
        &user,
        &pw,
        &chunked,
        &[
            "--scenario",
            "chunked",
            "--size-mib",
            "2",
            "--chunk-mib",
            "1",
        ],
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&chunked).unwrap()).unwrap();
    assert!(v.get("small").is_none(), "{v}");
    let rows = v["chunked"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    let r = &rows[0];
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(r["chunks"], 2, "{r}");
    assert!(r["size_bytes"].as_u64().unwrap() > 2_000_000, "{r}");
    for k in [
        "ingest_mb_s",
        "chunk_p50_ms",
        "final_chunk_ms",
        "commit_ms",
        "total_s",
    ] {
        assert!(positive(&r[k]), "{k} in {r}");
    }
    assert!(positive(&r["rss"]["peak_rss_mib"]), "{r}");

    // The uploads are really on the wiki: 10 small files and the chunked one.
    let c = common::Client::new(&server);
    let (_, _, v) = c
        .get(&[
            ("action", "query"),
            ("list", "allimages"),
            ("aiprefix", "Bench-"),
            ("ailimit", "max"),
            ("format", "json"),
        ])
        .await;
    let names: Vec<&str> = v["query"]["allimages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 11, "{v}");
    assert_eq!(
        names
            .iter()
            .filter(|n| n.contains("-chunked-2MiB-1MiB"))
            .count(),
        1,
        "{v}"
    );
}
