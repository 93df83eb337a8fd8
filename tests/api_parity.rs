//! Answers that once differed from MediaWiki 1.39's, checked against the reference wiki and
//! now the same.

mod common;

use common::*;
use serde_json::json;

/// A urlencoded upload (the file sent as a text value) is `badupload`, and only that: the
/// binary value is not also reported as invalid UTF-8 (`badutf8`), as MediaWiki reports
/// nothing but the error.
#[tokio::test]
async fn a_urlencoded_file_is_badupload_without_warnings() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let png = make_png(8, 8, 3);
    let body = {
        let mut b = String::from("action=upload&format=json&filename=Url-encoded.png&file=");
        for byte in &png {
            b.push_str(&format!("%{byte:02X}"));
        }
        b.push_str("&token=");
        for byte in alice.token().bytes() {
            b.push_str(&format!("%{byte:02X}"));
        }
        b.into_bytes()
    };
    let r = alice
        .post_raw("application/x-www-form-urlencoded", body)
        .await;
    c.error(
        &r,
        "badupload",
        Some("File upload parameter \"file\" is not a file upload; be sure to use multipart/form-data for your POST and include a filename in the Content-Disposition header."),
    );
    c.eq("no warnings", r.2.get("warnings").cloned(), None);
    c.finish();
}

/// A ZIP local-file-header stub too short to hold an archive is of unknown type, as libmagic
/// (PHP's fileinfo) tells MediaWiki; from 149 bytes on it is a ZIP archive.
#[tokio::test]
async fn a_zip_stub_is_of_unknown_type() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    for (size, mime) in [
        (4, "unknown/unknown"),
        (148, "unknown/unknown"),
        (149, "application/zip"),
    ] {
        c.step(&format!("a {size}-byte ZIP stub named .png"));
        let mut stub = b"PK\x03\x04".to_vec();
        stub.resize(size, 0);
        let r = alice.upload_resp("Zip-stub.png", &stub, &[]).await;
        let e = c.error(
            &r,
            "verification-error",
            Some(&format!(
                "File extension \".png\" does not match the detected MIME type of the file ({mime})."
            )),
        );
        c.json(
            "details",
            &e["details"],
            &json!(["filetype-mime-mismatch", "png", mime]),
        );
    }
    c.finish();
}

/// Every chunk passes MediaWiki's partial checks with its upload's extension: a large SVG
/// goes through in chunks, and one with `<script>` in a later chunk is refused at that chunk
/// (`stashfailed`, with the acknowledged offset and the check's message), as the reference
/// MediaWiki does for the same bytes.
#[tokio::test]
async fn later_chunks_get_the_partial_checks() {
    let server = Server::start_with_config("file_extensions = [\"png\", \"jpg\", \"svg\"]\n");
    let (lgname, lgpassword) = alice_bot(&server);
    let alice = logged_in(&server, &lgname, &lgpassword).await;
    let mut c = Check::new(&server);
    let body: String = (0..30_000)
        .map(|i| {
            format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#{:06x}\"/>\n",
                i % 1000,
                i / 1000,
                i * 7919 % 0xff_ffff
            )
        })
        .collect();
    const CHUNK: usize = 512 * 1024;
    let send_all = |svg: Vec<u8>, name: &'static str| {
        let alice = &alice;
        async move {
            let s = ChunkSession::new(alice, name, svg.len(), true).with("ignorewarnings", "1");
            let mut key: Option<String> = None;
            let mut offset = 0;
            loop {
                let end = (offset + CHUNK).min(svg.len());
                let r = s.send(offset, key.as_deref(), &svg[offset..end]).await;
                if r.2["upload"]["result"] != "Continue" {
                    return (offset, r);
                }
                key = r.2["upload"]["filekey"].as_str().map(str::to_owned);
                offset = end;
            }
        }
    };

    c.step("a clean SVG in chunks");
    let clean = format!(
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"30\">\n{body}</svg>\n"
    )
    .into_bytes();
    let (_, r) = send_all(clean.clone(), "Chunked-clean.svg").await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "mime",
        up["imageinfo"]["mime"].as_str(),
        Some("image/svg+xml"),
    );
    c.eq(
        "sha1",
        up["imageinfo"]["sha1"].as_str(),
        Some(sha1_hex(&clean).as_str()),
    );

    // Where the script stands in the chunk decides which check sees it first, as in
    // MediaWiki: near its start the chunk sniffs as HTML; further in, the script scan finds it.
    for (into_chunk, info) in [
        (0, "Files of the MIME type \"text/html\" are not allowed to be uploaded."),
        (100_000, "This file contains HTML or script code that may be erroneously interpreted by a web browser."),
    ] {
        c.step(&format!("<script> {into_chunk} bytes into the second chunk"));
        let before = &body[..CHUNK + into_chunk];
        let scripted = format!(
            "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">\n{before}<!-- <script>alert(1)</script> -->\n{body}</svg>\n"
        )
        .into_bytes();
        let (offset, r) = send_all(scripted, "Chunked-scripted.svg").await;
        c.eq("refused at", offset, CHUNK);
        let e = c.error(&r, "stashfailed", Some(info));
        c.json("offset", &e["offset"], &json!(CHUNK.to_string()));
    }
    c.finish();
}
