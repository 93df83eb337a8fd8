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
