//! Serving uploaded files at their `imageinfo.url` (compare `12-served-files.json`): exact
//! bytes, HEAD, validators and conditional requests, ranges, safe headers (nosniff, a
//! sandboxing CSP on SVG), 404s, and the HTML description page.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

const CONFIG: &str = "file_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\"]\n";
const SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"80\" viewBox=\"0 0 120 80\"><title>mwanchor test drawing</title><rect x=\"10\" y=\"10\" width=\"100\" height=\"60\" fill=\"#36c\"/><circle cx=\"60\" cy=\"40\" r=\"20\" fill=\"#fc3\"/></svg>\n";

#[tokio::test]
async fn originals_are_served_exactly_with_validators_and_ranges() {
    let server = Server::start_with_config(CONFIG);
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let anon = Client::new(&server);
    let mut c = Check::new(&server);
    let png = make_png(120, 80, 1);
    let jpeg = padded_jpeg();

    let files: [(&str, &[u8], &str); 3] = [
        ("Anchor-small.png", &png, "image/png"),
        ("Anchor-exif.jpg", &jpeg, "image/jpeg"),
        ("Anchor-drawing.svg", SVG.as_bytes(), "image/svg+xml"),
    ];
    for (name, data, mime) in files {
        c.step(&format!("upload {name}"));
        let r = alice.upload_resp(name, data, &[]).await;
        let up = c.upload_result(&r, "Success");
        let url = up["imageinfo"]["url"].as_str().unwrap_or("").to_owned();
        let len = data.len();

        c.step(&format!("12 GET {name} original (anonymous)"));
        let (st, h, body) = anon.fetch(Method::GET, &url, &[]).await;
        c.eq("status", st, 200);
        c.ok(
            "exact bytes",
            body == data,
            format!("{} of {len} bytes", body.len()),
        );
        c.eq("Content-Type", header(&h, "content-type").as_str(), mime);
        c.eq(
            "Content-Length",
            header(&h, "content-length"),
            len.to_string(),
        );
        c.eq(
            "Accept-Ranges",
            header(&h, "accept-ranges").as_str(),
            "bytes",
        );
        c.eq(
            "X-Content-Type-Options",
            header(&h, "x-content-type-options").as_str(),
            "nosniff",
        );
        let etag = header(&h, "etag");
        let last_modified = header(&h, "last-modified");
        c.ok(
            "ETag is a quoted strong validator",
            etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
            &etag,
        );
        c.ok(
            "Last-Modified",
            last_modified.ends_with(" GMT"),
            &last_modified,
        );
        if mime == "image/svg+xml" {
            let csp = header(&h, "content-security-policy");
            c.ok(
                "SVG is served with a sandboxing Content-Security-Policy",
                csp.contains("sandbox"),
                &csp,
            );
        }

        c.step(&format!("12 HEAD {name} original"));
        let (st, h, body) = anon.fetch(Method::HEAD, &url, &[]).await;
        c.eq("status", st, 200);
        c.eq("no body", body.len(), 0);
        c.eq("Content-Type", header(&h, "content-type").as_str(), mime);
        c.eq(
            "Content-Length",
            header(&h, "content-length"),
            len.to_string(),
        );
        c.eq("ETag", header(&h, "etag"), etag.clone());

        c.step(&format!("12 conditional GET {name} (If-None-Match)"));
        let (st, h, body) = anon
            .fetch(Method::GET, &url, &[("If-None-Match", &etag)])
            .await;
        c.eq("status", st, 304);
        c.eq("no body", body.len(), 0);
        c.eq("ETag", header(&h, "etag"), etag.clone());
        let (st, _, body) = anon
            .fetch(
                Method::GET,
                &url,
                &[("If-None-Match", "\"something-else\"")],
            )
            .await;
        c.eq("other ETag -> full answer", st, 200);
        c.eq("full body", body.len(), len);

        c.step(&format!("12 conditional GET {name} (If-Modified-Since)"));
        let (st, _, body) = anon
            .fetch(Method::GET, &url, &[("If-Modified-Since", &last_modified)])
            .await;
        c.eq("status", st, 304);
        c.eq("no body", body.len(), 0);
        let (st, _, _) = anon
            .fetch(
                Method::GET,
                &url,
                &[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")],
            )
            .await;
        c.eq("modified since 2001 -> 200", st, 200);

        c.step(&format!("12 range GET {name} bytes=0-99"));
        let (st, h, body) = anon
            .fetch(Method::GET, &url, &[("Range", "bytes=0-99")])
            .await;
        c.eq("status", st, 206);
        c.eq(
            "Content-Range",
            header(&h, "content-range"),
            format!("bytes 0-99/{len}"),
        );
        c.eq(
            "Content-Length",
            header(&h, "content-length").as_str(),
            "100",
        );
        c.ok(
            "first 100 bytes",
            body.as_slice() == &data[..100],
            format!("{} bytes", body.len()),
        );
        c.eq("Content-Type", header(&h, "content-type").as_str(), mime);

        c.step(&format!(
            "range GET {name} suffix bytes=-10 and open bytes=100-"
        ));
        let (st, h, body) = anon
            .fetch(Method::GET, &url, &[("Range", "bytes=-10")])
            .await;
        c.eq("status", st, 206);
        c.eq(
            "Content-Range",
            header(&h, "content-range"),
            format!("bytes {}-{}/{len}", len - 10, len - 1),
        );
        c.ok(
            "last 10 bytes",
            body.as_slice() == &data[len - 10..],
            format!("{} bytes", body.len()),
        );
        let (st, _, body) = anon
            .fetch(Method::GET, &url, &[("Range", "bytes=100-")])
            .await;
        c.eq("status", st, 206);
        c.ok(
            "rest of the file",
            body.as_slice() == &data[100..],
            format!("{} bytes", body.len()),
        );

        c.step(&format!("unsatisfiable range on {name}"));
        let (st, h, _) = anon
            .fetch(Method::GET, &url, &[("Range", &format!("bytes={len}-"))])
            .await;
        c.eq("status", st, 416);
        c.eq(
            "Content-Range",
            header(&h, "content-range"),
            format!("bytes */{len}"),
        );
    }

    c.step("12#28 GET of a missing file under the same directory");
    let (st, h, _) = anon
        .fetch(
            Method::GET,
            &format!("{}/w/images/2/23/Anchor-missing.png", server.base),
            &[],
        )
        .await;
    c.eq("status", st, 404);
    c.eq(
        "X-Content-Type-Options",
        header(&h, "x-content-type-options").as_str(),
        "nosniff",
    );

    c.step("an existing file under the wrong hash directory");
    let (st, _, _) = anon
        .fetch(
            Method::GET,
            &format!("{}/w/images/a/ab/Anchor-small.png", server.base),
            &[],
        )
        .await;
    c.eq("status", st, 404);

    c.step("path traversal is not served");
    let (st, _, body) = anon
        .fetch(
            Method::GET,
            &format!("{}/w/images/2/23/..%2F..%2F..%2Fdata.db", server.base),
            &[],
        )
        .await;
    c.ok(
        "not 200",
        st != 200,
        format!("status {st}, {} bytes", body.len()),
    );

    c.step("12#29 GET of the images/ directory gives no listing");
    let (st, _, body) = anon
        .fetch(Method::GET, &format!("{}/w/images/", server.base), &[])
        .await;
    c.ok(
        "no listing",
        st == 403 || st == 404,
        format!("status {st}, {} bytes", body.len()),
    );

    c.step("12#27 description page of File:Anchor-small.png");
    let page_url = format!("{}/w/index.php?title=File:Anchor-small.png", server.base);
    let (st, h, body) = anon.fetch(Method::GET, &page_url, &[]).await;
    c.eq("status", st, 200);
    c.ok(
        "HTML",
        header(&h, "content-type").starts_with("text/html"),
        header(&h, "content-type"),
    );
    let html = String::from_utf8_lossy(&body);
    c.ok(
        "names the file",
        html.contains("Anchor-small.png") || html.contains("Anchor small.png"),
        &html,
    );
    let (st, h, body) = anon.fetch(Method::HEAD, &page_url, &[]).await;
    c.eq("HEAD status", st, 200);
    c.eq("HEAD no body", body.len(), 0);
    c.ok(
        "HEAD HTML",
        header(&h, "content-type").starts_with("text/html"),
        header(&h, "content-type"),
    );

    c.step("description page of a missing file");
    let (st, _, _) = anon
        .fetch(
            Method::GET,
            &format!("{}/w/index.php?title=File:Nothing-here.png", server.base),
            &[],
        )
        .await;
    c.eq("status", st, 404);
    c.finish();
}

#[tokio::test]
async fn reupload_changes_served_bytes_and_validators() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let anon = Client::new(&server);
    let mut c = Check::new(&server);
    let v1 = make_png(50, 50, 1);
    let v2 = make_png(50, 50, 2);
    let url = format!("{}/w/images/2/23/Anchor-small.png", server.base);

    c.step("first version");
    let r = alice.upload_resp("Anchor-small.png", &v1, &[]).await;
    c.eq("url", &c_url(&r), &json!(url));
    let (_, h, body) = anon.fetch(Method::GET, &url, &[]).await;
    c.ok("v1 bytes", body == v1, body.len());
    let etag1 = header(&h, "etag");

    c.step("second version replaces the served bytes and the ETag");
    let r = alice
        .upload_resp("Anchor-small.png", &v2, &[("ignorewarnings", "1")])
        .await;
    c.upload_result(&r, "Success");
    let (st, h, body) = anon
        .fetch(Method::GET, &url, &[("If-None-Match", &etag1)])
        .await;
    c.eq("old ETag no longer matches", st, 200);
    c.ok("v2 bytes", body == v2, body.len());
    c.ok("new ETag", header(&h, "etag") != etag1, header(&h, "etag"));
    c.finish();
}

fn c_url(r: &Resp) -> serde_json::Value {
    r.2["upload"]["imageinfo"]["url"].clone()
}

/// `make_jpeg` with a 1000-byte comment segment, so that range requests have room.
fn padded_jpeg() -> Vec<u8> {
    let base = make_jpeg(320, 240, "AnchorCam");
    let comment = vec![b'c'; 1000];
    let mut out = base[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&comment);
    out.extend_from_slice(&base[2..]);
    out
}

#[tokio::test]
async fn special_filepath_redirects_to_the_file() {
    let (server, alice, _bob) = common::server_with_alice_bob().await;
    let data = common::make_png(12, 12, 4711);
    let v = alice.upload("Filepath test.png", &data, &[]).await;
    assert_eq!(v["upload"]["result"], "Success", "{v}");
    let url = v["upload"]["imageinfo"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for title in [
        "Special:FilePath/Filepath_test.png",
        "Special:Redirect/file/Filepath test.png",
    ] {
        let r = plain
            .get(format!("{}/w/index.php", server.base))
            .query(&[("title", title)])
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 302, "{title}");
        assert_eq!(r.headers()["location"].to_str().expect("location"), url);
    }
    let r = plain
        .get(format!(
            "{}/w/index.php?title=Special:FilePath/Nothing.png",
            server.base
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 404);
}
