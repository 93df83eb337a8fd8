//! `async` chunked uploads and publishing: Poll answers, checkstatus stages, publishfailed
//! for a second publish, and the results read back (transcript 08).

mod common;

use std::time::Duration;

use common::{server_with_alice_bob, sha1_hex, ChunkSession, Client};
use serde_json::Value;

/// One chunk of an upload to the stash, with `async` when asked for.
async fn chunk(
    c: &Client,
    name: &str,
    size: usize,
    offset: usize,
    key: Option<&str>,
    data: &[u8],
    async_flag: bool,
) -> Value {
    let mut s = ChunkSession::new(c, name, size, true);
    if async_flag {
        s = s.with("async", "1");
    }
    s.send(offset, key, data).await.2
}

/// Polls until the result is no longer Poll; returns the last answer.
async fn poll(c: &Client, key: &str) -> Value {
    for _ in 0..200 {
        let v = c.checkstatus(key).await;
        if v["upload"]["result"] != "Poll" {
            return v;
        }
        let stage = v["upload"]["stage"].as_str().unwrap_or_default().to_owned();
        assert!(
            ["queued", "assembling", "publish"].contains(&stage.as_str()),
            "unexpected stage in {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("still Poll after 200 polls");
}

#[tokio::test]
async fn async_chunked_upload_and_async_publish() {
    let (_server, alice, _bob) = server_with_alice_bob().await;
    let file = common::make_png(300, 300, 808);
    let name = "Async-chunked.png";
    let cs = 64 * 1024;
    let mut key: Option<String> = None;
    let mut offset = 0;
    let mut last = Value::Null;
    while offset < file.len() {
        let end = (offset + cs).min(file.len());
        last = chunk(
            &alice,
            name,
            file.len(),
            offset,
            key.as_deref(),
            &file[offset..end],
            true,
        )
        .await;
        key = last["upload"]["filekey"].as_str().map(str::to_owned);
        offset = end;
    }
    let key = key.expect("filekey");
    // The last chunk of an async upload is queued.
    assert_eq!(last["upload"]["result"], "Poll", "{last}");
    assert_eq!(last["upload"]["stage"], "queued", "{last}");
    assert_eq!(last["upload"]["filekey"], key.as_str());

    let done = poll(&alice, &key).await;
    let up = &done["upload"];
    assert_eq!(up["result"], "Success", "{done}");
    assert_eq!(up["stage"], "assembling", "{done}");
    let k2 = up["filekey"].as_str().expect("new filekey").to_owned();
    assert_ne!(k2, key);
    assert_eq!(up["imageinfo"]["sha1"], sha1_hex(&file));
    assert_eq!(up["imageinfo"]["size"], file.len() as u64);
    // The finished status stays readable.
    assert_eq!(
        alice.checkstatus(&key).await["upload"]["stage"],
        "assembling"
    );

    // Async publish.
    let commit = |c: &'static str| {
        let k2 = k2.clone();
        let alice = &alice;
        async move {
            alice
                .publish_filekey(
                    &k2,
                    name,
                    &[("comment", c), ("text", "Async upload."), ("async", "1")],
                )
                .await
                .2
        }
    };
    let (first, second) = tokio::join!(commit("async commit"), commit("async commit again"));
    let answers = [first, second];
    let polls: Vec<&Value> = answers
        .iter()
        .filter(|v| v["upload"]["result"] == "Poll")
        .collect();
    assert_eq!(polls.len(), 1, "exactly one publish is queued: {answers:?}");
    assert_eq!(polls[0]["upload"]["stage"], "queued");
    assert_eq!(polls[0]["upload"]["filename"], name);
    let other = answers
        .iter()
        .find(|v| v["upload"]["result"] != "Poll")
        .expect("second answer");
    // What the second one gets depends on how far the first got (as on MediaWiki): still
    // queued or running → publishfailed; published → the stash entry is gone, or, when the
    // second request got past the stash lookup first, the file now exists (a Warning).
    let code = other["error"]["code"].as_str().unwrap_or_default();
    let exists_warning = other["upload"]["result"] == "Warning"
        && other["upload"]["warnings"]["exists"] == name
        && other["upload"]["warnings"]["nochange"].is_object();
    assert!(
        code == "publishfailed" || code == "uploadstash-file-not-found" || exists_warning,
        "{other}"
    );
    if code == "publishfailed" {
        assert_eq!(
            other["error"]["info"],
            "Upload from stash already in progress."
        );
    }

    let done = poll(&alice, &k2).await;
    let up = &done["upload"];
    assert_eq!(up["result"], "Success", "{done}");
    assert_eq!(up["stage"], "publish", "{done}");
    assert_eq!(up["filename"], name);
    assert_eq!(up["imageinfo"]["sha1"], sha1_hex(&file));
    assert_eq!(up["imageinfo"]["user"], "Alice");
    let url = up["imageinfo"]["url"].as_str().expect("url").to_owned();
    let bytes = alice
        .http
        .get(&url)
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_eq!(sha1_hex(&bytes), sha1_hex(&file));

    // The stash entry was consumed by the publish.
    let (_, _, again) = alice
        .publish_filekey(&k2, "Async-again.png", &[("ignorewarnings", "1")])
        .await;
    assert_eq!(
        again["error"]["code"], "uploadstash-file-not-found",
        "{again}"
    );
}

#[tokio::test]
async fn async_assembly_failure_keeps_its_reason() {
    let (_server, alice, bob) = server_with_alice_bob().await;
    // JPEG bytes named .png pass the partial checks of each chunk, and fail as a whole.
    let html = common::pad_jpeg(&common::make_jpeg(40, 30, "Async"), 3000);
    let name = "Async-bad.png";
    let r = chunk(&alice, name, html.len(), 0, None, &html[..2000], true).await;
    let key = r["upload"]["filekey"].as_str().expect("filekey").to_owned();
    let r = chunk(
        &alice,
        name,
        html.len(),
        2000,
        Some(&key),
        &html[2000..],
        true,
    )
    .await;
    assert_eq!(r["upload"]["result"], "Poll", "{r}");
    // Another user sees no status for this key.
    assert_eq!(
        bob.checkstatus(&key).await["error"]["code"],
        "missingresult"
    );
    let mut last = Value::Null;
    for _ in 0..200 {
        last = alice.checkstatus(&key).await;
        if last["upload"]["result"] != "Poll" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last["error"]["code"], "stashfailed", "{last}");
    let details = last["error"]["details"].as_array().expect("details");
    assert_eq!(details[0], "filetype-mime-mismatch", "{last}");
}

#[tokio::test]
async fn async_publish_with_warnings_needs_ignorewarnings() {
    let (_server, alice, _bob) = server_with_alice_bob().await;
    let file = common::make_png(40, 40, 99);
    let v = alice
        .upload("Async-dup-a.png", &file, &[("comment", "first")])
        .await;
    assert_eq!(v["upload"]["result"], "Success", "{v}");
    let v = alice
        .upload("Async-dup-b.png", &file, &[("stash", "1")])
        .await;
    assert_eq!(v["upload"]["result"], "Warning", "{v}");
    let key = v["upload"]["filekey"].as_str().expect("filekey").to_owned();
    let (_, _, w) = alice
        .publish_filekey(&key, "Async-dup-b.png", &[("async", "1")])
        .await;
    assert_eq!(w["upload"]["result"], "Warning", "{w}");
    assert_eq!(w["upload"]["warnings"]["duplicate"][0], "Async-dup-a.png");
    let (_, _, p) = alice
        .publish_filekey(
            &key,
            "Async-dup-b.png",
            &[("async", "1"), ("ignorewarnings", "1")],
        )
        .await;
    assert_eq!(p["upload"]["result"], "Poll", "{p}");
    assert_eq!(p["upload"]["warnings"]["duplicate"][0], "Async-dup-a.png");
    let done = poll(&alice, &key).await;
    assert_eq!(done["upload"]["result"], "Success", "{done}");
    assert_eq!(done["upload"]["filename"], "Async-dup-b.png");
}

#[tokio::test]
async fn queued_jobs_survive_kill_and_run_after_restart() {
    // Jobs held (run_jobs = false), so that each kill lands while a job is queued.
    let held = "run_jobs = false\n";
    let server = common::Server::start_with_config(held);
    let (lgname, lgpassword) = common::alice_bot(&server);
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;
    let file = common::make_png(200, 200, 909);
    let name = "Async-restart.png";
    let cs = 32 * 1024;
    let mut key = None::<String>;
    let mut last = Value::Null;
    for start in (0..file.len()).step_by(cs) {
        let end = (start + cs).min(file.len());
        last = chunk(
            &alice,
            name,
            file.len(),
            start,
            key.as_deref(),
            &file[start..end],
            true,
        )
        .await;
        key = last["upload"]["filekey"].as_str().map(str::to_owned);
    }
    assert_eq!(last["upload"]["result"], "Poll", "{last}");
    let key = key.expect("filekey");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let st = alice.checkstatus(&key).await;
    assert_eq!(st["upload"]["stage"], "queued", "{st}");

    // kill -9 with the assembly queued; a server that runs jobs finishes it.
    let dir = server.kill();
    let server = common::Server::start_in(dir, "");
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;
    let done = poll(&alice, &key).await;
    assert_eq!(done["upload"]["result"], "Success", "{done}");
    assert_eq!(done["upload"]["stage"], "assembling");
    assert_eq!(done["upload"]["imageinfo"]["sha1"], sha1_hex(&file));
    let stashed = done["upload"]["filekey"]
        .as_str()
        .expect("stashed filekey")
        .to_owned();

    // The same for a queued publish.
    let dir = server.kill();
    let server = common::Server::start_in(dir, held);
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;
    let (_, _, v) = alice
        .publish_filekey(
            &stashed,
            name,
            &[("text", "Published after a restart."), ("async", "1")],
        )
        .await;
    assert_eq!(v["upload"]["result"], "Poll", "{v}");
    assert_eq!(v["upload"]["stage"], "queued");
    let dir = server.kill();
    let server = common::Server::start_in(dir, "");
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;
    let done = poll(&alice, &stashed).await;
    assert_eq!(done["upload"]["result"], "Success", "{done}");
    assert_eq!(done["upload"]["stage"], "publish");
    assert_eq!(done["upload"]["imageinfo"]["sha1"], sha1_hex(&file));
    let url = done["upload"]["imageinfo"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let (status, _, body) = alice.fetch(reqwest::Method::GET, &url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(sha1_hex(&body), sha1_hex(&file));
    // Published exactly once.
    let (_, _, v) = alice
        .get(&[
            ("action", "query"),
            ("format", "json"),
            ("prop", "imageinfo"),
            ("titles", &format!("File:{name}")),
            ("iiprop", "sha1"),
            ("iilimit", "max"),
        ])
        .await;
    let infos = v["query"]["pages"]
        .as_object()
        .and_then(|p| p.values().next())
        .map(|p| p["imageinfo"].clone())
        .unwrap_or_default();
    assert_eq!(infos.as_array().map(Vec::len), Some(1), "{v}");
}
