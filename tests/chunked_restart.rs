//! An acknowledged chunk survives `kill -9` of the server: after a restart the client goes
//! on at the offset it was given and the published file is intact.

mod common;

use common::{sha1_hex, ChunkSession, Server};

#[tokio::test]
async fn chunked_upload_survives_kill_and_restart() {
    let server = Server::start();
    let (lgname, lgpassword) = common::alice_bot(&server);
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;

    let file = common::make_png(300, 300, 4242);
    let chunk = 64 * 1024;
    let name = "Restart-chunked.png";
    let upload = ChunkSession::new(&alice, name, file.len(), true).with("ignorewarnings", "1");
    let r = upload.send(0, None, &file[..chunk]).await.2;
    assert_eq!(r["upload"]["result"], "Continue", "{r}");
    let key = r["upload"]["filekey"].as_str().expect("filekey").to_owned();
    let r = upload
        .send(chunk, Some(&key), &file[chunk..2 * chunk])
        .await
        .2;
    assert_eq!(r["upload"]["offset"], (2 * chunk) as u64, "{r}");

    // kill -9 while the upload is in progress, then start again on the same data.
    let dir = server.kill();
    let server = Server::start_in(dir, "");
    let alice = common::logged_in(&server, &lgname, &lgpassword).await;

    // The server still knows where the upload stands.
    let token = alice.token();
    let (_, _, st) = alice
        .post(&[
            ("action", "upload"),
            ("format", "json"),
            ("filekey", &key),
            ("checkstatus", "1"),
            ("token", &token),
        ])
        .await;
    assert_eq!(st["upload"]["result"], "Continue", "{st}");
    assert_eq!(st["upload"]["offset"], (2 * chunk) as u64, "{st}");

    let upload = ChunkSession::new(&alice, name, file.len(), true).with("ignorewarnings", "1");
    let mut offset = 2 * chunk;
    let mut last = serde_json::Value::Null;
    while offset < file.len() {
        let end = (offset + chunk).min(file.len());
        last = upload.send(offset, Some(&key), &file[offset..end]).await.2;
        if end < file.len() {
            assert_eq!(last["upload"]["offset"], end as u64, "{last}");
        }
        offset = end;
    }
    assert_eq!(last["upload"]["result"], "Success", "{last}");
    assert_eq!(last["upload"]["imageinfo"]["sha1"], sha1_hex(&file));
    let final_key = last["upload"]["filekey"]
        .as_str()
        .expect("filekey")
        .to_owned();

    let (_, _, done) = alice
        .publish_filekey(&final_key, name, &[("comment", "after a restart")])
        .await;
    assert_eq!(done["upload"]["result"], "Success", "{done}");
    let url = done["upload"]["imageinfo"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
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
    // Nothing of the chunk session is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(server.data_dir().join("chunks"))
        .expect("chunks dir")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
