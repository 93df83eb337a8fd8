//! Stash entries expire after `upload_stash_max_age`: checked on every use, and their bytes
//! are removed with them.

mod common;

use std::time::Duration;

use common::{blob_path, sha1_hex, Client, Server};

#[tokio::test]
async fn expired_stash_entries_are_gone_with_their_bytes() {
    let server = Server::start_with_config("upload_stash_max_age = 1\n");
    server.add_user("Alice", "alice-password-1", "");
    let (n, p) = server.bot_password("Alice", "bot", "basic,uploadfile,createeditmovepage");
    let mut alice = Client::new(&server);
    assert_eq!(alice.login(&n, &p).await["login"]["result"], "Success");

    let data = common::make_png(30, 30, 5150);
    let v = alice.upload("Expiring.png", &data, &[("stash", "1")]).await;
    assert_eq!(v["upload"]["result"], "Success", "{v}");
    let key = v["upload"]["filekey"].as_str().expect("filekey").to_owned();
    let blob = blob_path(&server.data_dir(), &sha1_hex(&data));
    assert!(blob.exists(), "stashed bytes are stored");

    tokio::time::sleep(Duration::from_millis(2100)).await;

    let (_, _, l) = alice
        .get(&[
            ("action", "query"),
            ("list", "mystashedfiles"),
            ("format", "json"),
        ])
        .await;
    assert_eq!(l["query"]["mystashedfiles"], serde_json::json!([]), "{l}");
    let token = alice.token();
    let (_, _, r) = alice
        .post(&[
            ("action", "upload"),
            ("format", "json"),
            ("filekey", &key),
            ("filename", "Expiring.png"),
            ("token", &token),
        ])
        .await;
    assert_eq!(r["error"]["code"], "uploadstash-file-not-found", "{r}");
    assert!(!blob.exists(), "the expired entry's bytes are deleted");
}
