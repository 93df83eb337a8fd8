//! Chunked uploads over HTTP (`07-chunked.json`, SPEC §3.7/§3.9, clients.md §1.2 and §6):
//! the Continue/Success protocol with and without `stash=1`, every chunk error MediaWiki
//! gives, checkstatus, and mwstore's own guarantees (idempotent resends, no publishing of
//! unfinished sessions, specific verification errors, cleanup, pywikibot's bare-LF framing,
//! concurrent chunks).

mod common;

use common::*;
use serde_json::{json, Value};

const KIB: usize = 1024;

/// Checks a `Continue` answer (exactly `result`, `offset`, `filekey`) and returns the key.
fn expect_continue(c: &mut Check, r: &Resp, offset: usize) -> String {
    let up = c.upload_result(r, "Continue");
    c.eq(
        "keys of a Continue result",
        keys(&up),
        strings(&["result", "offset", "filekey"]),
    );
    c.json("Continue offset (a number)", &up["offset"], &json!(offset));
    up["filekey"].as_str().unwrap_or("").to_owned()
}

/// Sends `data[from..]` in chunks of `size` on key `key` (None: a new session); checks every
/// answer and returns (session key, last response).
async fn send_rest(
    c: &mut Check,
    s: &ChunkSession<'_>,
    data: &[u8],
    from: usize,
    key: Option<String>,
    size: usize,
) -> (String, Resp) {
    let mut key = key;
    let mut offset = from;
    loop {
        let end = (offset + size).min(data.len());
        let r = s.send(offset, key.as_deref(), &data[offset..end]).await;
        if end == data.len() {
            return (key.unwrap_or_default(), r);
        }
        let k = expect_continue(c, &r, end);
        if let Some(old) = &key {
            c.eq("the session keeps its filekey", &k, old);
        } else {
            c.ok("filekey format", is_filekey(&json!(k), "png"), &k);
        }
        key = Some(k);
        offset = end;
    }
}

/// True for `File:<YYYYMMDDHHMMSS>!chunkedupload <12 hex>.png`.
fn is_chunked_title(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let Some((ts, rest)) = s.strip_prefix("File:").and_then(|r| r.split_once('!')) else {
        return false;
    };
    let Some(hex) = rest
        .strip_prefix("chunkedupload ")
        .and_then(|r| r.strip_suffix(".png"))
    else {
        return false;
    };
    ts.len() == 14
        && ts.bytes().all(|b| b.is_ascii_digit())
        && hex.len() == 12
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks the final chunk's `Success` (a new key and the stashed file's imageinfo) and
/// returns the new key.
fn expect_assembled(c: &mut Check, r: &Resp, old_key: &str, data: &[u8], w: u32, h: u32) -> String {
    let up = c.upload_result(r, "Success");
    c.eq(
        "keys of the final chunk's Success",
        keys(&up),
        strings(&["result", "filekey", "imageinfo"]),
    );
    let k2 = up["filekey"].as_str().unwrap_or("").to_owned();
    c.ok("new filekey format", is_filekey(&up["filekey"], "png"), &k2);
    c.ok("the assembled file has a new key", k2 != old_key, &k2);
    let ii = &up["imageinfo"];
    c.json("imageinfo.sha1", &ii["sha1"], &json!(sha1_hex(data)));
    c.json("imageinfo.size", &ii["size"], &json!(data.len()));
    c.json("imageinfo.width", &ii["width"], &json!(w));
    c.json("imageinfo.height", &ii["height"], &json!(h));
    c.json("imageinfo.mime", &ii["mime"], &json!("image/png"));
    c.ok(
        "canonicaltitle File:<ts>!chunkedupload <hex>.png",
        is_chunked_title(&ii["canonicaltitle"]),
        &ii["canonicaltitle"],
    );
    c.ok(
        "imageinfo.url points at the stash",
        ii["url"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!("/w/index.php?title=Special:UploadStash/file/{k2}")),
        &ii["url"],
    );
    k2
}

async fn checkstatus(client: &Client, key: &str) -> Resp {
    let token = client.token();
    client
        .post(&[
            ("format", "json"),
            ("action", "upload"),
            ("filekey", key),
            ("checkstatus", "1"),
            ("token", &token),
        ])
        .await
}

/// `prop=imageinfo` of `File:<name>` (sha1, url, size); Null when the page is missing.
async fn imageinfo(client: &Client, name: &str) -> Value {
    client.file_page(name, "sha1|url|size").await["imageinfo"][0].clone()
}

async fn fetch_bytes(client: &Client, url: &str) -> (u16, Vec<u8>) {
    let (st, _, body) = client.fetch(reqwest::Method::GET, url, &[]).await;
    (st, body)
}

/// Publishes `k2` under `name` and checks the published and served file against `data`.
async fn commit_and_read_back(c: &mut Check, client: &Client, k2: &str, name: &str, data: &[u8]) {
    let r = client
        .publish_filekey(
            k2,
            name,
            &[
                ("comment", "chunked upload commit"),
                ("text", "Chunked upload test file."),
            ],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.json("filename", &up["filename"], &json!(name));
    c.json(
        "imageinfo.sha1",
        &up["imageinfo"]["sha1"],
        &json!(sha1_hex(data)),
    );
    c.json(
        "imageinfo.size",
        &up["imageinfo"]["size"],
        &json!(data.len()),
    );
    c.json(
        "imageinfo.comment",
        &up["imageinfo"]["comment"],
        &json!("chunked upload commit"),
    );

    let ii = imageinfo(client, name).await;
    c.json("prop=imageinfo sha1", &ii["sha1"], &json!(sha1_hex(data)));
    c.json("prop=imageinfo size", &ii["size"], &json!(data.len()));
    let url = ii["url"].as_str().unwrap_or("").to_owned();
    let (st, body) = fetch_bytes(client, &url).await;
    c.eq("served file status", st, 200);
    c.eq("served bytes' sha1", sha1_hex(&body), sha1_hex(data));
}

/// Files left in `<data>/<dir>` (names only; `filter` selects).
fn files_in(data_dir: &std::path::Path, dir: &str, filter: impl Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_dir(data_dir.join(dir))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| filter(n))
                .collect()
        })
        .unwrap_or_default()
}

fn check_no_leftovers(c: &mut Check, server: &Server) {
    let data_dir = server.data_dir();
    c.eq(
        "no *.part file under <data>/chunks/",
        files_in(&data_dir, "chunks", |n| n.ends_with(".part")),
        Vec::<String>::new(),
    );
    c.eq(
        "no file under <data>/tmp/",
        files_in(&data_dir, "tmp", |_| true),
        Vec::<String>::new(),
    );
}

/// A server with extra configuration and logged-in clients for Alice and Bob.
async fn alice_bob_with_config(toml: &str) -> (Server, Client, Client) {
    let server = Server::start_with_config(toml);
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let bob = bot_client(&server, "Bob", Some(""), "bot", BOT_GRANTS).await;
    (server, alice, bob)
}

#[tokio::test]
async fn chunked_stash_then_commit_and_read_back() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let data = make_png(300, 300, 11);
    let name = "Anchor-chunked.png";
    let s = ChunkSession::new(&alice, name, data.len(), true);

    c.step("07 first chunk (offset 0, 64 KiB)");
    let r = s.send(0, None, &data[..64 * KIB]).await;
    let k = expect_continue(&mut c, &r, 64 * KIB);
    c.ok("filekey format", is_filekey(&json!(k), "png"), &k);

    c.step("07 second chunk");
    let r = s.send(64 * KIB, Some(&k), &data[64 * KIB..128 * KIB]).await;
    let k_again = expect_continue(&mut c, &r, 128 * KIB);
    c.eq("same filekey", &k_again, &k);

    c.step("07 checkstatus while the upload is in progress");
    let r = checkstatus(&alice, &k).await;
    c.upload_result(&r, "Continue");
    c.json(
        "checkstatus body",
        &r.2,
        &json!({"upload": {"result": "Continue", "stage": "uploading", "offset": 128 * KIB}}),
    );

    c.step("07 remaining chunks");
    let (_, r) = send_rest(&mut c, &s, &data, 128 * KIB, Some(k.clone()), 64 * KIB).await;
    let k2 = expect_assembled(&mut c, &r, &k, &data, 300, 300);

    c.step("07 checkstatus on the assembled file's key and on the session key");
    let r = checkstatus(&alice, &k2).await;
    c.error(&r, "missingresult", Some("No result in status data."));
    let r = checkstatus(&alice, &k).await;
    c.error(&r, "missingresult", Some("No result in status data."));

    c.step("07 stashimageinfo of the assembled file");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &k2),
            ("siiprop", "size|sha1|mime"),
        ])
        .await;
    c.json(
        "stashimageinfo",
        &v["query"]["stashimageinfo"],
        &json!([{"size": data.len(), "width": 300, "height": 300,
                 "sha1": sha1_hex(&data), "mime": "image/png"}]),
    );

    c.step("07 list=mystashedfiles shows the finished entry, not the session");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
            ("msfprop", "size|type"),
            ("msflimit", "max"),
        ])
        .await;
    let list = v["query"]["mystashedfiles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let item = list
        .iter()
        .find(|i| i["filekey"] == json!(k2))
        .cloned()
        .unwrap_or(Value::Null);
    c.json(
        "mystashedfiles item",
        &item,
        &json!({"filekey": k2, "status": "finished", "size": data.len(), "width": 300,
                "height": 300, "bits": 8, "mimetype": "image/png", "mediatype": "BITMAP"}),
    );
    c.ok(
        "the chunk session's key is gone from the stash list",
        !list.iter().any(|i| i["filekey"] == json!(k)),
        &v,
    );

    c.step("the stashed file is served byte for byte");
    let url = format!(
        "{}/w/index.php?title=Special:UploadStash/file/{k2}",
        server.base
    );
    let (st, body) = fetch_bytes(&alice, &url).await;
    c.eq("stash file status", st, 200);
    c.eq("stash file sha1", sha1_hex(&body), sha1_hex(&data));

    c.step("07 commit: filekey + filename + comment + text");
    commit_and_read_back(&mut c, &alice, &k2, name, &data).await;

    c.step("07 checkstatus after commit");
    let r = checkstatus(&alice, &k2).await;
    c.error(&r, "missingresult", Some("No result in status data."));

    c.step("07 a chunk sent to the old session key after completion");
    let r = s.send(64 * KIB, Some(&k), &data[64 * KIB..128 * KIB]).await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some(&format!("Key \"{k}\" not found in stash.")),
    );

    c.step("nothing left behind");
    check_no_leftovers(&mut c, &server);
    c.finish();
}

#[tokio::test]
async fn chunked_without_stash() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let data = make_png(400, 400, 12);
    let name = "Anchor-chunked-nostash.png";
    let s = ChunkSession::new(&alice, name, data.len(), false);

    c.step("07 chunks of 100 KiB without stash=1");
    let (k, r) = send_rest(&mut c, &s, &data, 0, None, 100 * KIB).await;
    let k2 = expect_assembled(&mut c, &r, &k, &data, 400, 400);

    c.step("07 commit of the no-stash chunked upload");
    commit_and_read_back(&mut c, &alice, &k2, name, &data).await;

    c.step("nothing left behind");
    check_no_leftovers(&mut c, &server);
    c.finish();
}

#[tokio::test]
async fn chunk_errors_match_mediawiki() {
    let (server, alice, bob) = alice_bob_with_config("max_upload_size = 4000000\n").await;
    let mut c = Check::new(&server);
    let data = make_png(300, 300, 21);
    let name = "Anchor-chunk-errors.png";
    let s = ChunkSession::new(&alice, name, data.len(), true);
    let c1 = &data[..64 * KIB];
    let c2 = &data[64 * KIB..128 * KIB];

    c.step("07 errors: first chunk (ok)");
    let r = s.send(0, None, c1).await;
    let k = expect_continue(&mut c, &r, 64 * KIB);

    c.step("07 checkstatus while in progress");
    let r = checkstatus(&alice, &k).await;
    c.json(
        "checkstatus body",
        &r.2,
        &json!({"upload": {"result": "Continue", "stage": "uploading", "offset": 64 * KIB}}),
    );

    c.step("07 chunk with a wrong offset (skips a chunk)");
    let r = s.send(128 * KIB, Some(&k), c2).await;
    let e = c.error(&r, "stashfailed", Some("Invalid chunk offset"));
    c.json(
        "offset (a string)",
        &e["offset"],
        &json!((64 * KIB).to_string()),
    );
    c.eq(
        "error keys",
        keys(&e),
        strings(&["code", "info", "offset", "*"]),
    );

    c.step("07 offset=0 together with a filekey");
    let r = s.send(0, Some(&k), c1).await;
    c.error(
        &r,
        "filekeynotallowed",
        Some("Cannot supply a \"filekey\" when \"offset\" is 0."),
    );

    c.step("07 offset>0 without a filekey");
    let r = s.send(64 * KIB, None, c2).await;
    c.error(
        &r,
        "filekeyneeded",
        Some("Must supply a \"filekey\" when \"offset\" is non-zero."),
    );

    c.step("07 a 100-byte chunk that is not the last one");
    let r = s
        .send(64 * KIB, Some(&k), &data[64 * KIB..64 * KIB + 100])
        .await;
    c.error(
        &r,
        "chunk-too-small",
        Some("Minimum chunk size is 1,024 bytes for non-final chunks."),
    );

    c.step("07 chunk that would run past filesize");
    let mut short = ChunkSession::new(&alice, name, 64 * KIB + 10, true);
    let r = short.send(64 * KIB, Some(&k), c2).await;
    c.error(
        &r,
        "invalid-chunk",
        Some("Offset plus current chunk is greater than claimed file size."),
    );

    c.step("07 chunk without filesize");
    short.filesize = None;
    let r = short.send(0, None, c1).await;
    c.error(
        &r,
        "invalid-chunk",
        Some("Offset plus current chunk is greater than claimed file size."),
    );

    c.step("07 the correct next chunk after those errors");
    let r = s.send(64 * KIB, Some(&k), c2).await;
    expect_continue(&mut c, &r, 128 * KIB);

    // MediaWiki clamps the value (with the warning) and carries on until the last chunk
    // overflows; mwstore keeps the warning but refuses the upload on its first chunk.
    c.step("07 filesize above max_upload_size: refused up front, with the clamp warning");
    let big = ChunkSession::new(&alice, name, 5_000_000, true);
    let r = big.send(0, None, c1).await;
    c.error(
        &r,
        "file-too-large",
        Some("The file you submitted was too large."),
    );
    c.json(
        "warnings",
        &r.2["warnings"],
        &json!({"upload": {"*": "The value \"5000000\" for parameter \"filesize\" must be between 0 and 4,000,000."}}),
    );
    let mut big_pt = ChunkSession::new(&alice, name, 5_000_000, true);
    big_pt.extra.push(("errorformat", "plaintext".into()));
    let r = big_pt.send(0, None, c1).await;
    c.json(
        "errorformat=plaintext error code",
        &r.2["errors"][0]["code"],
        &json!("file-too-large"),
    );
    c.json(
        "errorformat=plaintext warning code",
        &r.2["warnings"][0]["code"],
        &json!("outofrange"),
    );
    c.json(
        "errorformat=plaintext warning module",
        &r.2["warnings"][0]["module"],
        &json!("upload"),
    );

    c.step("07 first chunk with a banned extension (.exe)");
    let exe = ChunkSession::new(&alice, "Anchor-chunk-bad.exe", data.len(), true);
    let r = exe.send(0, None, c1).await;
    let e = c.error(&r, "illegal-filename", Some("The filename is not allowed."));
    c.eq(
        "no filekey in the error",
        keys(&e),
        strings(&["code", "info", "*"]),
    );

    c.step("07 first chunk with an illegal file name");
    let bad = ChunkSession::new(&alice, "Anchor<bad>.png", data.len(), true);
    let r = bad.send(0, None, c1).await;
    c.warning(&r, &json!({"badfilename": "Anchor-bad-.png"}), "png");

    c.step("07 Bob sends a chunk to Alice's in-progress filekey");
    let s_bob = ChunkSession::new(&bob, name, data.len(), true);
    let r = s_bob
        .send(128 * KIB, Some(&k), &data[128 * KIB..192 * KIB])
        .await;
    c.error(
        &r,
        "uploadstash-wrong-owner",
        Some(&format!(
            "This file ({k}) doesn't belong to the current user."
        )),
    );

    c.step("07 Bob: checkstatus on Alice's filekey");
    let r = checkstatus(&bob, &k).await;
    c.error(&r, "missingresult", Some("No result in status data."));

    c.step("07 checkstatus and a chunk for an unknown filekey");
    let unknown = "1a2b3c4d5e6f.abcdef.123456.png";
    let r = checkstatus(&alice, unknown).await;
    c.error(&r, "missingresult", Some("No result in status data."));
    let r = s.send(128 * KIB, Some(unknown), c2).await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some(&format!("Key \"{unknown}\" not found in stash.")),
    );

    c.step("07 Alice's session still accepts her next chunk; finish it");
    let (_, r) = send_rest(&mut c, &s, &data, 128 * KIB, Some(k.clone()), 64 * KIB).await;
    expect_assembled(&mut c, &r, &k, &data, 300, 300);

    c.step("07 chunk sent to the old filekey after the upload completed");
    let r = s.send(64 * KIB, Some(&k), c2).await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some(&format!("Key \"{k}\" not found in stash.")),
    );
    let r = checkstatus(&alice, &k).await;
    c.error(&r, "missingresult", Some("No result in status data."));
    c.finish();
}

#[tokio::test]
async fn resends_are_idempotent_and_unfinished_sessions_cannot_be_published() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let data = make_png(300, 300, 31);
    let name = "Anchor-chunk-resend.png";
    let s = ChunkSession::new(&alice, name, data.len(), true);

    c.step("two chunks");
    let r = s.send(0, None, &data[..64 * KIB]).await;
    let k = expect_continue(&mut c, &r, 64 * KIB);
    let c2 = &data[64 * KIB..128 * KIB];
    let r = s.send(64 * KIB, Some(&k), c2).await;
    expect_continue(&mut c, &r, 128 * KIB);

    c.step("resend of the last accepted chunk (same bytes, old offset)");
    let r = s.send(64 * KIB, Some(&k), c2).await;
    let k_again = expect_continue(&mut c, &r, 128 * KIB);
    c.eq("same filekey", &k_again, &k);

    c.step("different bytes at an old offset");
    let mut other = c2.to_vec();
    for b in other.iter_mut().take(16) {
        *b ^= 0xA5;
    }
    let r = s.send(64 * KIB, Some(&k), &other).await;
    let e = c.error(&r, "stashfailed", Some("Invalid chunk offset"));
    c.json(
        "expected offset",
        &e["offset"],
        &json!((128 * KIB).to_string()),
    );

    c.step("the stored state is unchanged");
    let r = checkstatus(&alice, &k).await;
    c.json(
        "checkstatus body",
        &r.2,
        &json!({"upload": {"result": "Continue", "stage": "uploading", "offset": 128 * KIB}}),
    );

    c.step("committing the key of an unfinished chunked upload is refused");
    let r = alice
        .publish_filekey(&k, name, &[("ignorewarnings", "1")])
        .await;
    c.error(&r, "stashfailed", None);
    c.json(
        "nothing published",
        &imageinfo(&alice, name).await,
        &Value::Null,
    );

    c.step("committing the stash entry of a first-chunk Warning is refused");
    let bad = ChunkSession::new(&alice, "Anchor<bad>.png", data.len(), true);
    let r = bad.send(0, None, &data[..64 * KIB]).await;
    let wk = c.warning(&r, &json!({"badfilename": "Anchor-bad-.png"}), "png");
    let r = alice
        .publish_filekey(&wk, "Anchor-bad-.png", &[("ignorewarnings", "1")])
        .await;
    c.error(&r, "stashfailed", None);
    c.json(
        "nothing published",
        &imageinfo(&alice, "Anchor-bad-.png").await,
        &Value::Null,
    );

    c.step("the session finishes intact after the resends");
    let (_, r) = send_rest(&mut c, &s, &data, 128 * KIB, Some(k.clone()), 64 * KIB).await;
    let k2 = expect_assembled(&mut c, &r, &k, &data, 300, 300);
    commit_and_read_back(&mut c, &alice, &k2, name, &data).await;
    c.finish();
}

#[tokio::test]
async fn verification_failure_at_assembly_is_specific() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);

    c.step("a first chunk of HTML bytes is refused by the partial checks, as MediaWiki does");
    let mut html = b"<html><script>alert(1)</script></html>".to_vec();
    html.resize(3000, b' ');
    let s = ChunkSession::new(&alice, "Anchor-html.png", html.len(), true);
    let r = s.send(0, None, &html[..2000]).await;
    c.error(
        &r,
        "filetype-badmime",
        Some("Files of the MIME type \"text/html\" are not allowed to be uploaded."),
    );

    c.step("first chunk of JPEG bytes named .png: the partial checks pass");
    let jpeg = pad_jpeg(&make_jpeg(40, 30, "Chunky"), 3000);
    let s = ChunkSession::new(&alice, "Anchor-jpeg-as.png", jpeg.len(), true);
    let r = s.send(0, None, &jpeg[..2000]).await;
    let up = c.upload_result(&r, "Continue");
    c.json("offset", &up["offset"], &json!(2000));
    let k = up["filekey"].as_str().unwrap_or("").to_owned();

    c.step("final chunk: the whole file fails verification with its specific reason");
    let r = s.send(2000, Some(&k), &jpeg[2000..]).await;
    let e = c.error(
        &r,
        "stashfailed",
        Some("File extension \".png\" does not match the detected MIME type of the file (image/jpeg)."),
    );
    c.json(
        "details",
        &e["details"],
        &json!(["filetype-mime-mismatch", "png", "image/jpeg"]),
    );
    c.ok(
        "not the generic text",
        e["info"] != json!("This file did not pass file verification."),
        &e["info"],
    );

    c.step("the rejected bytes are not kept");
    c.ok(
        "no blob for the rejected file",
        !blob_path(&server.data_dir(), &sha1_hex(&jpeg)).exists(),
        sha1_hex(&jpeg),
    );
    check_no_leftovers(&mut c, &server);
    c.finish();
}

// ---------------------------------------------------------------------------------------------
// pywikibot's framing (clients.md §1.2)
// ---------------------------------------------------------------------------------------------

const PYWIKIBOT_BOUNDARY: &str = "===============8276821178571182961==";

fn py_text_part<'a>(name: &str, value: &'a str) -> RawPart<'a> {
    RawPart {
        headers: vec![
            "Content-Type: text/plain".into(),
            "MIME-Version: 1.0".into(),
            format!("Content-disposition: form-data; name=\"{name}\""),
        ],
        body: value.as_bytes(),
    }
}

/// A chunk request as pywikibot builds it: bare LF everywhere, a quoted boundary with `=`.
async fn pywikibot_chunk(
    client: &Client,
    filename: &str,
    filesize: usize,
    offset: usize,
    filekey: Option<&str>,
    body: &[u8],
) -> Resp {
    let token = client.token();
    let filesize = filesize.to_string();
    let offset = offset.to_string();
    let mut parts = vec![
        py_text_part("action", "upload"),
        py_text_part("token", &token),
        py_text_part("filename", filename),
        py_text_part("offset", &offset),
        py_text_part("filesize", &filesize),
        py_text_part("stash", "1"),
        py_text_part("ignorewarnings", "1"),
    ];
    if let Some(k) = filekey {
        parts.push(py_text_part("filekey", k));
    }
    parts.push(py_text_part("assert", "user"));
    parts.push(py_text_part("maxlag", "5"));
    parts.push(py_text_part("format", "json"));
    parts.push(RawPart {
        headers: vec![
            "Content-Type: application/octet-stream".into(),
            "MIME-Version: 1.0".into(),
            "Content-Transfer-Encoding: binary".into(),
            "Content-disposition: form-data; name=\"chunk\"; filename=\"FAKE-NAME\"".into(),
        ],
        body,
    });
    let body = multipart_body(PYWIKIBOT_BOUNDARY, "\n", &parts, true);
    client
        .post_raw(
            &format!("multipart/form-data; boundary=\"{PYWIKIBOT_BOUNDARY}\""),
            body,
        )
        .await
}

#[tokio::test]
async fn pywikibot_bare_lf_chunks_with_trailing_cr() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let data = make_png(300, 300, 41);
    let name = "Anchor-pywikibot-chunked.png";
    // First chunk: 64 KiB or a little more, not ending in 0x0D.
    let mut end1 = 64 * KIB;
    while data[end1 - 1] == b'\r' {
        end1 += 1;
    }
    // Second chunk: at least 64 KiB, ending in 0x0D (which bare-LF framing eats).
    let mut end2 = end1 + 64 * KIB;
    while data[end2 - 1] != b'\r' {
        end2 += 1;
    }
    assert!(end2 + 64 * KIB < data.len(), "test file too small");

    c.step("first chunk, bare LF framing");
    let r = pywikibot_chunk(&alice, name, data.len(), 0, None, &data[..end1]).await;
    let k = expect_continue(&mut c, &r, end1);

    c.step("a non-final chunk whose last byte is \\r: one byte less is stored");
    let r = pywikibot_chunk(&alice, name, data.len(), end1, Some(&k), &data[end1..end2]).await;
    expect_continue(&mut c, &r, end2 - 1);
    let r = checkstatus(&alice, &k).await;
    c.json(
        "checkstatus offset",
        &r.2["upload"]["offset"],
        &json!(end2 - 1),
    );

    c.step("the rest from the offset the server reported, with pywikibot's extra \\r");
    let mut last = data[end2 - 1..].to_vec();
    last.push(b'\r');
    let r = pywikibot_chunk(&alice, name, data.len(), end2 - 1, Some(&k), &last).await;
    let k2 = expect_assembled(&mut c, &r, &k, &data, 300, 300);

    c.step("commit");
    commit_and_read_back(&mut c, &alice, &k2, name, &data).await;
    c.finish();
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Of two answers to concurrent requests for the same offset, checks that they agree on the
/// new stored offset `expected`: Continue (accepted, or answered as a resend) or stashfailed
/// naming `expected`; at least one must be a Continue.
fn check_race(c: &mut Check, a: &Resp, b: &Resp, expected: usize) {
    let mut continues = 0;
    for r in [a, b] {
        if r.2["upload"]["result"] == json!("Continue") {
            continues += 1;
            c.json(
                "Continue offset",
                &r.2["upload"]["offset"],
                &json!(expected),
            );
        } else {
            c.json("error code", &r.2["error"]["code"], &json!("stashfailed"));
            c.json(
                "stashfailed offset",
                &r.2["error"]["offset"],
                &json!(expected.to_string()),
            );
        }
    }
    c.ok(
        "at least one request accepted",
        continues >= 1,
        format!("{} / {}", a.2, b.2),
    );
}

#[tokio::test]
async fn concurrent_chunks_for_one_session() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let data = make_png(350, 350, 51);
    let name = "Anchor-chunk-race.png";
    let s = ChunkSession::new(&alice, name, data.len(), true);

    c.step("first chunk");
    let r = s.send(0, None, &data[..64 * KIB]).await;
    let k = expect_continue(&mut c, &r, 64 * KIB);

    let mut offset = 64 * KIB;
    for round in 0..3 {
        c.step(&format!("round {round}: the same chunk twice at once"));
        let chunk = &data[offset..offset + 64 * KIB];
        let (a, b) = tokio::join!(
            s.send(offset, Some(&k), chunk),
            s.send(offset, Some(&k), chunk)
        );
        check_race(&mut c, &a, &b, offset + 64 * KIB);
        offset += 64 * KIB;
        let r = checkstatus(&alice, &k).await;
        c.json(
            "checkstatus offset",
            &r.2["upload"]["offset"],
            &json!(offset),
        );
    }

    c.step("two lengths at the same offset at once");
    let short = &data[offset..offset + 32 * KIB];
    let long = &data[offset..offset + 96 * KIB];
    let (a, b) = tokio::join!(
        s.send(offset, Some(&k), short),
        s.send(offset, Some(&k), long)
    );
    let r = checkstatus(&alice, &k).await;
    let stored = r.2["upload"]["offset"].as_u64().unwrap_or(0) as usize;
    c.ok(
        "one of the two was stored",
        stored == offset + 32 * KIB || stored == offset + 96 * KIB,
        stored,
    );
    check_race(&mut c, &a, &b, stored);

    c.step("the rest, then the whole file is intact");
    let (_, r) = send_rest(&mut c, &s, &data, stored, Some(k.clone()), 64 * KIB).await;
    let k2 = expect_assembled(&mut c, &r, &k, &data, 350, 350);
    commit_and_read_back(&mut c, &alice, &k2, name, &data).await;
    c.finish();
}
