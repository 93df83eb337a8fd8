//! `mwstore bench` against a running mwstore: each scenario, small sizes, JSON figures.

mod common;

use std::process::{Command, Stdio};

use common::{Server, BIN, BOT_GRANTS};
use serde_json::Value;

/// Runs `mwstore bench`; returns its standard output.
fn bench(
    server: &Server,
    user: &str,
    password: &str,
    json: &std::path::Path,
    args: &[&str],
) -> String {
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
    stdout.into_owned()
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
    let out = bench(
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
    assert!(out.contains("small uploads\n"), "{out}");
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
    let out = bench(
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
    assert!(out.contains("chunked uploads\n"), "{out}");
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

#[tokio::test]
async fn thumbs_scenario_times_fresh_and_stored_thumbnails() {
    let server = Server::start_with_config(common::REFERENCE_EXTENSIONS_TOML);
    server.add_user("Alice", "alice-password-1", "");
    let (user, pw) = server.bot_password("Alice", "bot", BOT_GRANTS);
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("thumbs.json");
    // Sources a tenth of full size (400x300 JPEG and SVG, 600x400 PNG), two widths, two
    // fresh renders each, short serving runs.
    let out = bench(
        &server,
        &user,
        &pw,
        &json,
        &[
            "--scenario",
            "thumbs",
            "--thumb-source-divisor",
            "10",
            "--thumb-widths",
            "40,120",
            "--thumb-samples",
            "2",
            "--thumb-seconds",
            "0.2",
        ],
    );
    assert!(out.contains("fresh thumbnails"), "{out}");
    assert!(out.contains("stored thumbnails"), "{out}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        v.get("small").is_none() && v.get("chunked").is_none(),
        "{v}"
    );
    let t = &v["thumbs"];
    let sources = t["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3, "{t}");
    for (s, size) in sources.iter().zip([(400, 300), (600, 400), (400, 300)]) {
        assert_eq!(s["failed"], 0, "{s}");
        assert_eq!(
            (s["width"].as_u64(), s["height"].as_u64()),
            (Some(size.0), Some(size.1)),
            "{s}"
        );
    }
    let fresh = t["fresh"].as_array().unwrap();
    assert_eq!(fresh.len(), 6, "{t}");
    for r in fresh {
        assert_eq!(r["ok"], 2, "{r}");
        assert_eq!(r["failed"], 0, "{r}");
        let w = r["width"].as_u64().unwrap();
        assert_eq!(r["sample_widths"], serde_json::json!([w, w + 1]), "{r}");
        // Each served thumbnail had the width asked: 40x30 and 41x31 for a 400x300 source.
        let sizes = r["sizes"].as_array().unwrap();
        assert!(
            sizes[1]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}x", w + 1)),
            "{r}"
        );
        assert!(
            positive(&r["ttfb_p50_ms"]) && positive(&r["ttfb_max_ms"]),
            "{r}"
        );
        assert!(positive(&r["rss"]["peak_rss_mib"]), "{r}");
    }
    // Per source: each width's stored thumbnail and the same bytes as a file, then the
    // original.
    let cached = t["cached"].as_array().unwrap();
    let what: Vec<&str> = cached.iter().map(|r| r["what"].as_str().unwrap()).collect();
    assert_eq!(
        what,
        ["40px", "40px file", "120px", "120px file", "original"].repeat(3),
        "{t}"
    );
    assert_eq!(cached[0]["bytes"], cached[1]["bytes"], "{t}");
    for r in cached {
        assert_eq!(r["failed"], 0, "{r}");
        let runs = r["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{r}");
        for run in runs {
            assert!(positive(&run["requests_per_s"]), "{r}");
        }
    }
    assert!(
        cached[0]["url"]
            .as_str()
            .unwrap()
            .contains("/w/images/thumb/"),
        "{t}"
    );
    assert_eq!(t["errors"], serde_json::json!([]), "{t}");
}
