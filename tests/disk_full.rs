//! A full disk. The server runs on a small tmpfs of its own; the test fills it. A chunk or a
//! file that cannot be stored is refused with a clear, retryable error. Nothing is published
//! or left behind, the chunked upload stays at its acknowledged offset, and it finishes with
//! the right sha1 once there is space again.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{blob_path, header, sha1_hex, ChunkSession, Client, FilePart, Resp, Server};
use serde_json::Value;

const MIB: usize = 1 << 20;
/// Chunks larger than what the server keeps in memory while receiving them, so that their
/// bodies go to disk too.
const CHUNK: usize = 9 * MIB;

/// Fills the filesystem of `dir` with one file, then gives back `leave` bytes of it.
fn fill_disk(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("create filler");
    let block = vec![0x5au8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    f.set_len(written.saturating_sub(leave))
        .expect("shrink filler");
    path
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn all_images(c: &Client) -> Value {
    let (_, _, v) = c
        .get(&[
            ("action", "query"),
            ("format", "json"),
            ("list", "allimages"),
            ("aiprop", "sha1|size"),
        ])
        .await;
    v["query"]["allimages"].clone()
}

fn assert_error(r: &Resp, code: &str) {
    let (status, headers, v) = r;
    assert_eq!(*status, 200, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(header(headers, "MediaWiki-API-Error"), code);
}

#[tokio::test]
async fn full_disk_refuses_cleanly_and_the_upload_goes_on_afterwards() {
    let server = Server::start_on_small_disk(64, "");
    let (lgname, lgpassword) = common::alice_bot(&server);
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;
    let data = server.data_dir();

    // A 19 MiB image in 9 MiB chunks; the first one is stored.
    let file = common::make_png(2600, 2600, 77);
    assert!(file.len() > 2 * CHUNK);
    let name = "Full-disk.png";
    let upload = ChunkSession::new(&alice, name, file.len(), true);
    let r = upload.send(0, None, &file[..CHUNK]).await;
    assert_eq!(r.2["upload"]["result"], "Continue", "{}", r.2);
    assert_eq!(r.2["upload"]["offset"], CHUNK as u64);
    let key = r.2["upload"]["filekey"]
        .as_str()
        .expect("filekey")
        .to_owned();

    // Room for the incoming chunk but not for appending it: the append fails half-way.
    let filler = fill_disk(&data, 12 * MIB as u64);
    let r = upload
        .send(CHUNK, Some(&key), &file[CHUNK..2 * CHUNK])
        .await;
    assert_error(&r, "stashfailed");
    let info = r.2["error"]["info"].as_str().unwrap_or_default();
    assert!(
        info.contains("out of disk space") && info.contains("send it again"),
        "{info}"
    );
    // The offset the client must go on from is the acknowledged one.
    assert_eq!(
        r.2["error"]["offset"],
        (CHUNK as u64).to_string(),
        "{}",
        r.2
    );

    // No room at all: even the request body cannot be taken in.
    std::fs::remove_file(&filler).expect("remove filler");
    let filler = fill_disk(&data, 0);
    let r = upload
        .send(CHUNK, Some(&key), &file[CHUNK..2 * CHUNK])
        .await;
    assert_error(&r, "backend-fail-writetemp");
    // A direct upload fails the same way, and nothing is published.
    let small = common::make_png(64, 64, 78);
    let token = alice.token();
    let r = alice
        .post_multipart(
            &[
                ("action", "upload"),
                ("format", "json"),
                ("filename", "Full-disk-direct.png"),
                ("token", &token),
            ],
            vec![FilePart {
                field: "file",
                filename: "direct.png",
                content_type: Some("image/png"),
                data: small.clone(),
            }],
        )
        .await;
    assert_error(&r, "backend-fail-writetemp");
    assert_eq!(all_images(&alice).await, serde_json::json!([]));
    // No partial request bodies are left behind.
    assert_eq!(files_in(&data.join("tmp")), Vec::<String>::new());

    // Space again: the upload goes on where the server said, and finishes intact.
    std::fs::remove_file(&filler).expect("remove filler");
    let r = upload
        .send(CHUNK, Some(&key), &file[CHUNK..2 * CHUNK])
        .await;
    assert_eq!(r.2["upload"]["result"], "Continue", "{}", r.2);
    assert_eq!(r.2["upload"]["offset"], (2 * CHUNK) as u64);
    let r = upload.send(2 * CHUNK, Some(&key), &file[2 * CHUNK..]).await;
    assert_eq!(r.2["upload"]["result"], "Success", "{}", r.2);
    let stashed = r.2["upload"]["filekey"]
        .as_str()
        .expect("filekey")
        .to_owned();
    assert_eq!(r.2["upload"]["imageinfo"]["sha1"], sha1_hex(&file));

    let (_, _, v) = alice.publish_filekey(&stashed, name, &[]).await;
    assert_eq!(v["upload"]["result"], "Success", "{v}");
    assert_eq!(v["upload"]["imageinfo"]["sha1"], sha1_hex(&file));
    let on_disk = std::fs::read(blob_path(&data, &sha1_hex(&file))).expect("published blob");
    assert_eq!(sha1_hex(&on_disk), sha1_hex(&file));
    let images = all_images(&alice).await;
    assert_eq!(images.as_array().map(Vec::len), Some(1), "{images}");
    assert_eq!(images[0]["sha1"], sha1_hex(&file));
    // Nothing of the upload is left in the chunk or temporary areas.
    assert_eq!(files_in(&data.join("chunks")), Vec::<String>::new());
    assert_eq!(files_in(&data.join("tmp")), Vec::<String>::new());
}
