//! `kill -9` at every fault point of an upload leaves the state before or after the step
//! it interrupts, and the client can finish its upload.
//!
//! Each test starts a server with one fault point armed (`MWSTORE_FAULTS=name=abort`: the
//! server calls `abort()` there, as abrupt as `kill -9`), drives an upload over HTTP until
//! the request gets no answer because the server died, starts the server again on the same
//! data without the fault, logs in again, and checks that the state is exactly "before" or
//! "after" the step (nothing half-written: no published version without its blob, no stash
//! entry without its bytes, no orphan blob or chunk file left for good), then finishes the
//! upload and reads the bytes back.
//!
//! The restarted servers sweep every second with no grace period and hand a job over
//! 10 seconds after its worker died, so that what a crash leaves behind is cleaned up, and
//! interrupted jobs are resumed, within the test.

mod common;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    alice_bot, blob_path, logged_in, make_png, sha1_hex, Check, ChunkSession, Client, Server,
};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

/// Settings of every server here: the sweeper runs every second and removes what nothing
/// refers to at once; a job whose worker died is taken over after 10 seconds.
const SETTINGS: &str = "sweep_interval = 1\nsweep_grace_period = 0\njob_lease_seconds = 10\n";

/// The chunk size of the chunked uploads.
const CHUNK: usize = 64 * 1024;

/// Alice's bot login (lgname, lgpassword).
type Login = (String, String);

/// A server with `faults` armed (`MWSTORE_FAULTS`), the user Alice, her bot login and a
/// client logged in with it.
async fn armed(faults: &str) -> (Server, Login, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_in_with_env(dir, SETTINGS, &[("MWSTORE_FAULTS", faults)]);
    let login = alice_bot(&server);
    let alice = logged_in(&server, &login.0, &login.1).await;
    (server, login, alice)
}

/// Waits for `server` to die at its fault point; returns its data directory.
fn crashed(server: Server) -> tempfile::TempDir {
    tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(15)))
}

/// Starts the server again on `dir` without any fault armed, and logs Alice in (a new
/// client: the port is new).
async fn restart(dir: tempfile::TempDir, login: &Login, c: &mut Check) -> (Server, Client) {
    let server = Server::start_in(dir, SETTINGS);
    let alice = logged_in(&server, &login.0, &login.1).await;
    c.api = server.api();
    (server, alice)
}

/// The data directory inside a test directory.
fn data_of(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data")
}

/// Fails the test unless the server gave no answer to a request (it aborted).
fn expect_no_answer(what: &str, r: Result<Value, reqwest::Error>) {
    if let Ok(v) = r {
        panic!("{what}: expected the server to abort at its fault point, it answered {v}");
    }
}

/// The JSON answer to a request, or the transport error when the server died meanwhile.
async fn send(rb: reqwest::RequestBuilder) -> Result<Value, reqwest::Error> {
    let text = rb.send().await?.text().await?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// [`Client::upload`] for a request the server may not answer.
async fn try_upload(
    c: &Client,
    name: &str,
    data: &[u8],
    extra: &[(&str, &str)],
) -> Result<Value, reqwest::Error> {
    let mut form = Form::new()
        .text("action", "upload")
        .text("format", "json")
        .text("filename", name.to_owned());
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form
        .text("token", c.token())
        .part("file", Part::bytes(data.to_vec()).file_name("upload.bin"));
    send(c.http.post(&c.api).multipart(form)).await
}

/// A chunked upload of `data` to the stash (`stash=1`, `ignorewarnings=1`, and `async=1`
/// when asked for), in chunks of [`CHUNK`] bytes.
struct Chunked {
    name: String,
    data: Vec<u8>,
    async_mode: bool,
}

impl Chunked {
    /// A PNG of about 200 KB (4 chunks) made from `seed`.
    fn new(name: &str, seed: u32, async_mode: bool) -> Chunked {
        let data = make_png(260, 260, seed);
        assert_eq!(data.len().div_ceil(CHUNK), 4, "a file of 4 chunks");
        Chunked {
            name: name.to_owned(),
            data,
            async_mode,
        }
    }

    fn count(&self) -> usize {
        self.data.len().div_ceil(CHUNK)
    }

    /// The byte range of chunk `i`.
    fn range(&self, i: usize) -> Range<usize> {
        i * CHUNK..((i + 1) * CHUNK).min(self.data.len())
    }

    fn session<'a>(&self, c: &'a Client) -> ChunkSession<'a> {
        let s = ChunkSession::new(c, &self.name, self.data.len(), true).with("ignorewarnings", "1");
        if self.async_mode {
            s.with("async", "1")
        } else {
            s
        }
    }

    /// Sends chunk `i` (on `key` when given).
    async fn send(&self, c: &Client, i: usize, key: Option<&str>) -> common::Resp {
        let r = self.range(i);
        self.session(c).send(r.start, key, &self.data[r]).await
    }

    /// [`Chunked::send`] for a request the server may not answer (the same parameters as
    /// [`ChunkSession::send`]).
    async fn try_send(
        &self,
        c: &Client,
        i: usize,
        key: Option<&str>,
    ) -> Result<Value, reqwest::Error> {
        let r = self.range(i);
        let mut form = Form::new()
            .text("format", "json")
            .text("action", "upload")
            .text("filename", self.name.clone())
            .text("filesize", self.data.len().to_string())
            .text("offset", r.start.to_string())
            .text("stash", "1");
        if let Some(k) = key {
            form = form.text("filekey", k.to_owned());
        }
        form = form.text("ignorewarnings", "1");
        if self.async_mode {
            form = form.text("async", "1");
        }
        form = form.text("token", c.token()).part(
            "chunk",
            Part::bytes(self.data[r].to_vec())
                .file_name("blob")
                .mime_str("application/octet-stream")
                .expect("mime"),
        );
        send(c.http.post(&c.api).multipart(form)).await
    }

    /// Sends the chunks before chunk `crash` (each must be answered Continue) and then
    /// chunk `crash`, which the server must not answer. Returns the upload's file key.
    async fn until_abort(&self, c: &Client, crash: usize) -> String {
        let mut key: Option<String> = None;
        for i in 0..crash {
            let (_, _, v) = self.send(c, i, key.as_deref()).await;
            assert_eq!(v["upload"]["result"], "Continue", "chunk {i}: {v}");
            assert_eq!(
                v["upload"]["offset"],
                self.range(i).end as u64,
                "chunk {i}: {v}"
            );
            key = v["upload"]["filekey"].as_str().map(str::to_owned);
        }
        let key = key.expect("filekey");
        expect_no_answer(
            &format!("chunk {crash}"),
            self.try_send(c, crash, Some(&key)).await,
        );
        key
    }

    /// Sends chunks `from..` on `key` and checks each answer: Continue at the chunk's end,
    /// then Success for the last one (a synchronous upload). Returns the last answer.
    async fn finish(&self, c: &Client, check: &mut Check, key: &str, from: usize) -> Value {
        let mut last = Value::Null;
        for i in from..self.count() {
            let (_, _, v) = self.send(c, i, Some(key)).await;
            if i + 1 < self.count() {
                check.eq(
                    &format!("chunk {i}: answer"),
                    (&v["upload"]["result"], &v["upload"]["offset"]),
                    (&json!("Continue"), &json!(self.range(i).end)),
                );
            }
            last = v;
        }
        check.eq(
            "the last chunk's result",
            last["upload"]["result"].as_str().unwrap_or(""),
            "Success",
        );
        check.eq(
            "the assembled file's sha1",
            last["upload"]["imageinfo"]["sha1"].as_str().unwrap_or(""),
            sha1_hex(&self.data).as_str(),
        );
        last
    }
}

/// Polls `checkstatus` on `key` until it is no longer Poll (at most `within`).
async fn poll(c: &Client, key: &str, within: Duration) -> Value {
    c.poll_status(key, within).await
}

/// Waits until `cond` holds (at most `within`); returns whether it did.
async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The names in `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that `data/chunks/` becomes empty within a few seconds.
async fn chunks_emptied(c: &mut Check, server: &Server) {
    let dir = server.data_dir().join("chunks");
    let empty = eventually(Duration::from_secs(5), || entries(&dir).is_empty()).await;
    c.ok(
        "data/chunks/ is emptied within 5 s",
        empty,
        format!("left: {:?}", entries(&dir)),
    );
}

/// Checks that the blob of `sha1` is on disk in the data directory of a dead server.
fn orphan_blob_on_disk(c: &mut Check, dir: &tempfile::TempDir, sha1: &str) {
    let path = blob_path(&data_of(dir), sha1);
    c.ok(
        "after the crash the blob is on disk, referred to by nothing",
        path.is_file(),
        path.display(),
    );
}

/// Checks that the sweeper removes the blob of `sha1` within 5 s.
async fn blob_swept(c: &mut Check, server: &Server, sha1: &str) {
    let path = blob_path(&server.data_dir(), sha1);
    let gone = eventually(Duration::from_secs(5), || !path.exists()).await;
    c.ok(
        "the sweeper removes the orphan blob within 5 s",
        gone,
        path.display(),
    );
}

/// Checks that `File:<name>` does not exist.
async fn not_published(c: &mut Check, alice: &Client, name: &str) {
    let page = alice.file_page(name, "sha1|url|timestamp").await;
    c.json(
        "prop=imageinfo of the file",
        &page,
        &json!({"ns": 6, "title": format!("File:{name}"), "missing": "", "imagerepository": ""}),
    );
}

/// Checks that `File:<name>` has exactly one version, of `data`'s sha1, served as `data`;
/// returns that version.
async fn published_once(c: &mut Check, alice: &Client, name: &str, data: &[u8]) -> Value {
    let page = alice.file_page(name, "sha1|url|timestamp").await;
    let versions = page["imageinfo"].as_array().cloned().unwrap_or_default();
    c.eq(
        &format!("versions of File:{name} ({page})"),
        versions.len(),
        1,
    );
    let v = versions.first().cloned().unwrap_or(Value::Null);
    c.eq(
        "sha1 of the version",
        v["sha1"].as_str().unwrap_or(""),
        sha1_hex(data).as_str(),
    );
    c.served(alice, &v["url"], data, "the file", "").await;
    v
}

/// Alice's stash: the items of `list=mystashedfiles`.
async fn my_stash(c: &Client) -> Vec<Value> {
    let (_, _, v) = c
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
            ("msfprop", "size"),
            ("msflimit", "max"),
        ])
        .await;
    v["query"]["mystashedfiles"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![v])
}

/// How many of Alice's stash entries are finished files.
async fn finished_entries(c: &Client) -> usize {
    my_stash(c)
        .await
        .iter()
        .filter(|e| e["status"] == "finished")
        .count()
}

async fn stashed_sha1(c: &Client, key: &str) -> String {
    c.stashed_sha1(key).await.unwrap_or_else(|v| v.to_string())
}

/// Checks that Alice's stash holds exactly one entry, finished, of `data`; returns its key.
async fn one_finished_entry(c: &mut Check, alice: &Client, data: &[u8]) -> String {
    let list = my_stash(alice).await;
    c.eq(
        &format!("entries in list=mystashedfiles ({list:?})"),
        list.len(),
        1,
    );
    let entry = list.first().cloned().unwrap_or(Value::Null);
    c.eq(
        "status and size of the entry",
        (&entry["status"], &entry["size"]),
        (&json!("finished"), &json!(data.len())),
    );
    let key = entry["filekey"].as_str().unwrap_or("").to_owned();
    c.eq(
        "stashimageinfo sha1 of the entry",
        stashed_sha1(alice, &key).await,
        sha1_hex(data),
    );
    key
}

/// Publishes the stashed `key` as `name` and checks it is published once, served as `data`.
async fn publish_stashed(c: &mut Check, alice: &Client, key: &str, name: &str, data: &[u8]) {
    let r = alice
        .publish_filekey(key, name, &[("comment", "after a crash")])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "sha1 of the published file",
        up["imageinfo"]["sha1"].as_str().unwrap_or(""),
        sha1_hex(data).as_str(),
    );
    published_once(c, alice, name, data).await;
}

/// Uploads `data` as `name` (after a crash) and checks it is published once.
async fn upload_works(c: &mut Check, alice: &Client, name: &str, data: &[u8]) {
    c.step("the same upload again");
    let r = alice
        .upload_resp(name, data, &[("comment", "again after a crash")])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "sha1 in the answer",
        up["imageinfo"]["sha1"].as_str().unwrap_or(""),
        sha1_hex(data).as_str(),
    );
    c.served(alice, &up["imageinfo"]["url"], data, "the file", "")
        .await;
    published_once(c, alice, name, data).await;
}

/// A direct upload that dies at `fault`, before its publish is committed: after a restart
/// nothing is published, the blob written before the crash is swept as an orphan, and the
/// same upload then succeeds.
async fn direct_upload_dies_before_publish(fault: &str, name: &str, seed: u32) {
    let (server, login, alice) = armed(&format!("{fault}=abort")).await;
    let mut c = Check::new(&server);
    let data = make_png(64, 64, seed);
    let sha1 = sha1_hex(&data);
    c.step(&format!("direct upload, the server aborts at {fault}"));
    expect_no_answer("the upload", try_upload(&alice, name, &data, &[]).await);
    let dir = crashed(server);
    orphan_blob_on_disk(&mut c, &dir, &sha1);

    c.step("after the restart: before the publish");
    let (server, alice) = restart(dir, &login, &mut c).await;
    not_published(&mut c, &alice, name).await;
    c.eq("Alice's stash", my_stash(&alice).await, vec![]);
    blob_swept(&mut c, &server, &sha1).await;

    upload_works(&mut c, &alice, name, &data).await;
    c.finish();
}

/// Guards the publish transaction of a direct upload: `kill -9` before it commits leaves
/// no version (nor a version whose blob is missing), only an orphan blob that the sweeper
/// removes; the upload can be made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_upload_killed_before_publish_commit() {
    direct_upload_dies_before_publish("publish-before-commit", "Crash-publish-before.png", 11)
        .await;
}

/// Guards the step between a received file becoming a blob and the publish that refers to
/// it: `kill -9` there leaves nothing published and an orphan blob that the sweeper
/// removes; the upload can be made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_upload_killed_after_blob_promotion() {
    direct_upload_dies_before_publish("staged-promoted", "Crash-staged-promoted.png", 33).await;
}

/// Guards the publish transaction of a direct upload from the other side: `kill -9` right
/// after it commits (the answer never sent) leaves the file published exactly once, whole,
/// and the same bytes uploaded again are recognised as the current version (a Warning
/// with `exists` and `nochange`), so the state is "after".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_upload_killed_after_publish_commit() {
    let (server, login, alice) = armed("publish-committed=abort").await;
    let mut c = Check::new(&server);
    let name = "Crash-publish-committed.png";
    let data = make_png(64, 64, 22);
    c.step("direct upload, the server aborts at publish-committed");
    expect_no_answer("the upload", try_upload(&alice, name, &data, &[]).await);
    let dir = crashed(server);

    c.step("after the restart: published once");
    let (_server, alice) = restart(dir, &login, &mut c).await;
    let version = published_once(&mut c, &alice, name, &data).await;

    c.step("the same bytes again, without ignorewarnings");
    let r = alice
        .upload_resp(name, &data, &[("comment", "again after a crash")])
        .await;
    c.warning(
        &r,
        &json!({"exists": name, "nochange": {"timestamp": version["timestamp"]}}),
        "png",
    );
    published_once(&mut c, &alice, name, &data).await;
    c.finish();
}

/// Guards the transaction that adds a stash entry (`stash=1`): `kill -9` before it commits
/// leaves the stash empty and an orphan blob that the sweeper removes; stashing again
/// works, and the stashed file publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stash_upload_killed_before_commit() {
    let (server, login, alice) = armed("stash-before-commit=abort").await;
    let mut c = Check::new(&server);
    let name = "Crash-stash-before.png";
    let data = make_png(64, 64, 44);
    let sha1 = sha1_hex(&data);
    c.step("stash=1 upload, the server aborts at stash-before-commit");
    expect_no_answer(
        "the upload",
        try_upload(&alice, name, &data, &[("stash", "1")]).await,
    );
    let dir = crashed(server);
    orphan_blob_on_disk(&mut c, &dir, &sha1);

    c.step("after the restart: before the stash entry");
    let (server, alice) = restart(dir, &login, &mut c).await;
    c.eq("Alice's stash", my_stash(&alice).await, vec![]);
    not_published(&mut c, &alice, name).await;
    blob_swept(&mut c, &server, &sha1).await;

    c.step("stash=1 again");
    let r = alice.upload_resp(name, &data, &[("stash", "1")]).await;
    let up = c.upload_result(&r, "Success");
    let key = up["filekey"].as_str().unwrap_or("").to_owned();
    c.eq(
        "stashimageinfo sha1",
        stashed_sha1(&alice, &key).await,
        sha1.clone(),
    );
    let only = one_finished_entry(&mut c, &alice, &data).await;
    c.eq("the entry is the new one", only.as_str(), key.as_str());
    publish_stashed(&mut c, &alice, &key, name, &data).await;
    c.finish();
}

/// Guards the stash transaction from the other side: `kill -9` right after it commits
/// leaves one finished entry of the right bytes (the client, which never got its key, finds
/// it with `list=mystashedfiles`), and committing it publishes those bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stash_upload_killed_after_commit() {
    let (server, login, alice) = armed("stash-committed=abort").await;
    let mut c = Check::new(&server);
    let name = "Crash-stash-committed.png";
    let data = make_png(64, 64, 55);
    c.step("stash=1 upload, the server aborts at stash-committed");
    expect_no_answer(
        "the upload",
        try_upload(&alice, name, &data, &[("stash", "1")]).await,
    );
    let dir = crashed(server);

    c.step("after the restart: the stash entry exists");
    let (server, alice) = restart(dir, &login, &mut c).await;
    let key = one_finished_entry(&mut c, &alice, &data).await;
    // The sweeper must not take the entry's blob.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.ok(
        "the entry's blob is kept",
        blob_path(&server.data_dir(), &sha1_hex(&data)).is_file(),
        &key,
    );

    c.step("commit by filekey");
    publish_stashed(&mut c, &alice, &key, name, &data).await;
    c.finish();
}

/// Guards the step between a chunk's bytes being written and its progress being recorded:
/// `kill -9` there (second chunk) leaves the upload at the end of the first chunk, whatever
/// bytes of the second the chunk file holds; the client resends the second chunk and the
/// rest, and the assembled and published file is exactly P.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_killed_after_append_before_record() {
    let (server, login, alice) = armed("chunk-appended=abort@2").await;
    let mut c = Check::new(&server);
    let up = Chunked::new("Crash-chunk-appended.png", 66, false);
    c.step("chunked upload, the server aborts at chunk-appended of chunk 1");
    let key = up.until_abort(&alice, 1).await;
    let dir = crashed(server);

    c.step("after the restart: the upload stands after chunk 0");
    let (server, alice) = restart(dir, &login, &mut c).await;
    let st = alice.checkstatus(&key).await;
    c.eq(
        &format!("checkstatus ({st})"),
        (&st["upload"]["result"], &st["upload"]["offset"]),
        (&json!("Continue"), &json!(up.range(0).end)),
    );

    c.step("resend chunk 1 and the rest");
    let last = up.finish(&alice, &mut c, &key, 1).await;
    let k2 = last["upload"]["filekey"].as_str().unwrap_or("").to_owned();
    c.eq(
        "stashimageinfo sha1",
        stashed_sha1(&alice, &k2).await,
        sha1_hex(&up.data),
    );
    publish_stashed(&mut c, &alice, &k2, &up.name, &up.data).await;
    chunks_emptied(&mut c, &server).await;
    c.finish();
}

/// Guards the step between a chunk's progress being recorded and its answer: `kill -9`
/// there (second chunk) leaves the upload after the second chunk; the client, which never
/// got the answer, resends that chunk and is answered Continue at the recorded offset (an
/// idempotent resend, nothing appended twice), and the assembled file is exactly P.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_killed_after_record() {
    let (server, login, alice) = armed("chunk-recorded=abort@2").await;
    let mut c = Check::new(&server);
    let up = Chunked::new("Crash-chunk-recorded.png", 77, false);
    c.step("chunked upload, the server aborts at chunk-recorded of chunk 1");
    let key = up.until_abort(&alice, 1).await;
    let dir = crashed(server);

    c.step("after the restart: the upload stands after chunk 1");
    let (server, alice) = restart(dir, &login, &mut c).await;
    let st = alice.checkstatus(&key).await;
    c.eq(
        &format!("checkstatus ({st})"),
        (&st["upload"]["result"], &st["upload"]["offset"]),
        (&json!("Continue"), &json!(up.range(1).end)),
    );

    c.step("resend chunk 1: answered with the current offset");
    let (_, _, v) = up.send(&alice, 1, Some(&key)).await;
    c.eq(
        &format!("resent chunk 1 ({v})"),
        (
            &v["upload"]["result"],
            &v["upload"]["offset"],
            &v["upload"]["filekey"],
        ),
        (&json!("Continue"), &json!(up.range(1).end), &json!(key)),
    );

    c.step("the rest");
    let last = up.finish(&alice, &mut c, &key, 2).await;
    let k2 = last["upload"]["filekey"].as_str().unwrap_or("").to_owned();
    c.eq(
        "stashimageinfo sha1",
        stashed_sha1(&alice, &k2).await,
        sha1_hex(&up.data),
    );
    publish_stashed(&mut c, &alice, &k2, &up.name, &up.data).await;
    chunks_emptied(&mut c, &server).await;
    c.finish();
}

/// A synchronous final chunk whose assembly dies at `fault` (before the assembled entry is
/// committed): after a restart the upload is closed (a resent final chunk is refused with
/// `stashfailed`), its assembly is pending (Poll) and is finished by the restarted server
/// once the dead request's claim ran out: checkstatus then gives Success with a new key
/// whose file is exactly P, it publishes, and no chunk file is left.
async fn sync_assembly_dies(fault: &str, name: &str, seed: u32) {
    let (server, login, alice) = armed(&format!("{fault}=abort")).await;
    let mut c = Check::new(&server);
    let up = Chunked::new(name, seed, false);
    c.step(&format!(
        "synchronous final chunk, the server aborts at {fault}"
    ));
    let key = up.until_abort(&alice, up.count() - 1).await;
    let dir = crashed(server);

    c.step("after the restart: the upload is closed, its assembly pending");
    let (server, alice) = restart(dir, &login, &mut c).await;
    let st = alice.checkstatus(&key).await;
    c.eq(
        &format!("checkstatus right after the restart ({st})"),
        st["upload"]["result"].as_str().unwrap_or(""),
        "Poll",
    );
    c.eq(
        "Alice's finished stash entries",
        finished_entries(&alice).await,
        0,
    );
    let r = up.send(&alice, up.count() - 1, Some(&key)).await;
    c.error(
        &r,
        "stashfailed",
        Some("Chunked upload is already completed, check status for details."),
    );

    c.step("the restarted server finishes the assembly");
    let st = poll(&alice, &key, Duration::from_secs(30)).await;
    c.eq(
        &format!("checkstatus ({st})"),
        (&st["upload"]["result"], &st["upload"]["stage"]),
        (&json!("Success"), &json!("assembling")),
    );
    c.eq(
        "sha1 in checkstatus",
        st["upload"]["imageinfo"]["sha1"].as_str().unwrap_or(""),
        sha1_hex(&up.data).as_str(),
    );
    let k2 = st["upload"]["filekey"].as_str().unwrap_or("").to_owned();
    c.ok("a new file key", !k2.is_empty() && k2 != key, &st);
    c.eq(
        "stashimageinfo sha1",
        stashed_sha1(&alice, &k2).await,
        sha1_hex(&up.data),
    );
    let only = one_finished_entry(&mut c, &alice, &up.data).await;
    c.eq("the stash entry is the new key", only.as_str(), k2.as_str());
    publish_stashed(&mut c, &alice, &k2, &up.name, &up.data).await;
    chunks_emptied(&mut c, &server).await;
    c.finish();
}

/// Guards a synchronous assembly interrupted after the file was verified, before it became
/// a blob (see [`sync_assembly_dies`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_assembly_killed_after_verification() {
    sync_assembly_dies("assembly-verified", "Crash-assembly-verified.png", 88).await;
}

/// Guards a synchronous assembly interrupted after the file became a blob, before the
/// assembled entry was committed (see [`sync_assembly_dies`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_assembly_killed_after_promotion() {
    sync_assembly_dies("assembly-promoted", "Crash-assembly-promoted.png", 99).await;
}

/// Guards the assembly transaction from the other side: `kill -9` after the assembled
/// entry replaced the upload, before its chunk file was removed, leaves exactly one
/// finished entry of P (found with `list=mystashedfiles`), the old key gone (a chunk to it
/// is `uploadstash-file-not-found`), and the leftover chunk file is swept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_assembly_killed_after_commit() {
    let (server, login, alice) = armed("assembly-committed=abort").await;
    let mut c = Check::new(&server);
    let up = Chunked::new("Crash-assembly-committed.png", 111, false);
    c.step("synchronous final chunk, the server aborts at assembly-committed");
    let key = up.until_abort(&alice, up.count() - 1).await;
    let dir = crashed(server);
    let part = entries(&data_of(&dir).join("chunks"));
    c.ok(
        "after the crash the upload's chunk file is left",
        part.iter().any(|p| p.starts_with(&key)),
        format!("{part:?}"),
    );

    c.step("after the restart: the assembled entry exists");
    let (server, alice) = restart(dir, &login, &mut c).await;
    let k2 = one_finished_entry(&mut c, &alice, &up.data).await;
    c.ok("the entry has a new key", k2 != key, &k2);
    let last = up.count() - 1;
    let r = up.send(&alice, last, Some(&key)).await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some(&format!("Key \"{key}\" not found in stash.")),
    );
    chunks_emptied(&mut c, &server).await;

    c.step("commit by filekey");
    publish_stashed(&mut c, &alice, &k2, &up.name, &up.data).await;
    c.finish();
}

/// Guards the publish job of an `async=1` commit by filekey: `kill -9` while the job runs,
/// before its transaction commits, leaves the job to be taken over by the restarted server,
/// which publishes the file once: checkstatus reaches Success at stage `publish`, the file
/// has one version of the right bytes, and the stash entry was consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_publish_killed_before_commit() {
    let (server, login, alice) = armed("publish-before-commit=abort").await;
    let mut c = Check::new(&server);
    let name = "Crash-async-publish.png";
    let data = make_png(64, 64, 122);
    c.step("stash=1 upload");
    let r = alice.upload_resp(name, &data, &[("stash", "1")]).await;
    let key = c.upload_result(&r, "Success")["filekey"]
        .as_str()
        .unwrap_or("")
        .to_owned();

    c.step("async commit; the job aborts at publish-before-commit");
    let token = alice.token();
    let queued = send(alice.http.post(&alice.api).form(&[
        ("action", "upload"),
        ("format", "json"),
        ("filename", name),
        ("filekey", &key),
        ("async", "1"),
        ("token", &token),
    ]))
    .await;
    // The commit is answered once the job is queued, unless the job got to its fault point
    // first.
    if let Ok(v) = &queued {
        c.eq(
            &format!("the async commit's answer ({v})"),
            (&v["upload"]["result"], &v["upload"]["stage"]),
            (&json!("Poll"), &json!("queued")),
        );
    }
    let dir = crashed(server);

    c.step("after the restart: nothing published yet");
    let (_server, alice) = restart(dir, &login, &mut c).await;
    // The dead worker's claim holds for 10 s: the job has not run again yet.
    let st = alice.checkstatus(&key).await;
    c.eq(
        &format!("checkstatus right after the restart ({st})"),
        st["upload"]["result"].as_str().unwrap_or(""),
        "Poll",
    );
    not_published(&mut c, &alice, name).await;

    c.step("the job runs again");
    let st = poll(&alice, &key, Duration::from_secs(30)).await;
    c.eq(
        &format!("checkstatus ({st})"),
        (
            &st["upload"]["result"],
            &st["upload"]["stage"],
            &st["upload"]["filename"],
        ),
        (&json!("Success"), &json!("publish"), &json!(name)),
    );
    c.eq(
        "sha1 in checkstatus",
        st["upload"]["imageinfo"]["sha1"].as_str().unwrap_or(""),
        sha1_hex(&data).as_str(),
    );
    published_once(&mut c, &alice, name, &data).await;
    c.eq(
        "Alice's stash after the publish",
        my_stash(&alice).await,
        vec![],
    );
    c.finish();
}

/// Guards an `async=1` chunked upload whose assembly job dies after the file became a blob:
/// the restarted server takes the job over and finishes it (checkstatus: Success at stage
/// `assembling` with a new key), leaving exactly one finished entry of P and no chunk file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_assembly_killed_after_promotion() {
    let (server, login, alice) = armed("assembly-promoted=abort").await;
    let mut c = Check::new(&server);
    let up = Chunked::new("Crash-async-assembly.png", 133, true);
    c.step("async chunked upload; the assembly job aborts at assembly-promoted");
    let mut key: Option<String> = None;
    for i in 0..up.count() - 1 {
        let (_, _, v) = up.send(&alice, i, key.as_deref()).await;
        assert_eq!(v["upload"]["result"], "Continue", "chunk {i}: {v}");
        key = v["upload"]["filekey"].as_str().map(str::to_owned);
    }
    let key = key.expect("filekey");
    let fin = up.try_send(&alice, up.count() - 1, Some(&key)).await;
    // The final chunk is answered once its assembly is queued, unless the job got to its
    // fault point first.
    if let Ok(v) = &fin {
        c.eq(
            &format!("the final chunk's answer ({v})"),
            (&v["upload"]["result"], &v["upload"]["stage"]),
            (&json!("Poll"), &json!("queued")),
        );
    }
    let dir = crashed(server);

    c.step("after the restart: the assembly is pending");
    let (server, alice) = restart(dir, &login, &mut c).await;
    // The dead worker's claim holds for 10 s: the job has not run again yet.
    let st = alice.checkstatus(&key).await;
    c.eq(
        &format!("checkstatus right after the restart ({st})"),
        st["upload"]["result"].as_str().unwrap_or(""),
        "Poll",
    );
    c.eq(
        "Alice's finished stash entries",
        finished_entries(&alice).await,
        0,
    );

    c.step("the job is taken over and finishes");
    let st = poll(&alice, &key, Duration::from_secs(30)).await;
    c.eq(
        &format!("checkstatus ({st})"),
        (&st["upload"]["result"], &st["upload"]["stage"]),
        (&json!("Success"), &json!("assembling")),
    );
    c.eq(
        "sha1 in checkstatus",
        st["upload"]["imageinfo"]["sha1"].as_str().unwrap_or(""),
        sha1_hex(&up.data).as_str(),
    );
    let k2 = st["upload"]["filekey"].as_str().unwrap_or("").to_owned();
    c.ok("a new file key", !k2.is_empty() && k2 != key, &st);
    let only = one_finished_entry(&mut c, &alice, &up.data).await;
    c.eq("the stash entry is the new key", only.as_str(), k2.as_str());
    chunks_emptied(&mut c, &server).await;
    publish_stashed(&mut c, &alice, &k2, &up.name, &up.data).await;
    c.finish();
}
