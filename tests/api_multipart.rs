//! Request bodies as real clients send them (reference `clients.md` §1.2) and broken ones:
//! pywikibot's bare-LF framing with a quoted boundary full of `=`, octet-stream text parts
//! without a filename, truncated and unterminated bodies, and oversized form fields.

mod common;

use common::*;
use serde_json::{json, Value};

const PYWIKIBOT_BOUNDARY: &str = "===============6283394751661313450==";

fn text_part<'a>(name: &str, value: &'a str) -> RawPart<'a> {
    RawPart {
        headers: vec![
            "Content-Type: text/plain".into(),
            "MIME-Version: 1.0".into(),
            format!("Content-disposition: form-data; name=\"{name}\""),
        ],
        body: value.as_bytes(),
    }
}

fn binary_text_part<'a>(name: &str, value: &'a str) -> RawPart<'a> {
    RawPart {
        headers: vec![
            "Content-Type: application/octet-stream".into(),
            "MIME-Version: 1.0".into(),
            "Content-Transfer-Encoding: binary".into(),
            format!("Content-disposition: form-data; name=\"{name}\""),
        ],
        body: value.as_bytes(),
    }
}

fn file_part<'a>(data: &'a [u8]) -> RawPart<'a> {
    RawPart {
        headers: vec![
            "Content-Type: image/png".into(),
            "MIME-Version: 1.0".into(),
            "Content-Transfer-Encoding: binary".into(),
            "Content-disposition: form-data; name=\"file\"; filename=\"FAKE-NAME\"".into(),
        ],
        body: data,
    }
}

/// The parts pywikibot sends for a direct upload, in its order.
fn pywikibot_parts<'a>(
    token: &'a str,
    filename: &'a str,
    comment: &'a str,
    data: &'a [u8],
) -> Vec<RawPart<'a>> {
    vec![
        text_part("action", "upload"),
        text_part("token", token),
        text_part("text", "== Summary ==\nDirect upload by pywikibot."),
        binary_text_part("filename", filename),
        binary_text_part("comment", comment),
        text_part("assert", "user"),
        text_part("maxlag", "5"),
        text_part("format", "json"),
        file_part(data),
    ]
}

async fn post_body(c: &Client, content_type: &str, body: Vec<u8>) -> Resp {
    let r = c
        .http
        .post(&c.api)
        .header("Content-Type", content_type)
        .header("MIME-Version", "1.0")
        .body(body)
        .send()
        .await
        .expect("POST");
    let st = r.status().as_u16();
    let h = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    (
        st,
        h,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A complete upload request for `name` as simple CRLF-style parts.
fn upload_parts<'a>(name: &'a str, token: &'a str, data: &'a [u8]) -> Vec<RawPart<'a>> {
    vec![
        RawPart::field("action", "upload"),
        RawPart::field("format", "json"),
        RawPart::field("filename", name),
        RawPart::field("token", token),
        RawPart {
            headers: vec![
                "Content-Disposition: form-data; name=\"file\"; filename=\"x.png\"".into(),
                "Content-Type: image/png".into(),
            ],
            body: data,
        },
    ]
}

async fn alive(c: &mut Check, client: &Client) {
    let (st, _, v) = client
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .await;
    c.eq("server still answers", st, 200);
    c.eq(
        "still logged in",
        &v["query"]["userinfo"]["name"],
        &json!("Alice"),
    );
}

#[tokio::test]
async fn pywikibot_bare_lf_body_with_quoted_boundary() {
    let server = Server::start();
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let token = alice.token();
    let mut c = Check::new(&server);

    c.step("bare-LF body, quoted boundary with '=', octet-stream text parts without filename");
    let data = make_png(64, 48, 7);
    let name = "Anchor-pywikibot-sm\u{e4}ll.png";
    let comment = "pywikibot direct upload \u{2014} Gr\u{fc}\u{df}e \u{2713}";
    let body = multipart_body(
        PYWIKIBOT_BOUNDARY,
        "\n",
        &pywikibot_parts(&token, name, comment, &data),
        true,
    );
    let r = post_body(
        &alice,
        &format!("multipart/form-data; boundary=\"{PYWIKIBOT_BOUNDARY}\""),
        body,
    )
    .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!(name));
    c.eq("comment", &up["imageinfo"]["comment"], &json!(comment));
    c.eq("size", &up["imageinfo"]["size"], &json!(data.len()));
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&data)));
    let (st, _, served) = alice
        .fetch(
            reqwest::Method::GET,
            up["imageinfo"]["url"].as_str().unwrap_or(""),
            &[],
        )
        .await;
    c.eq("GET status", st, 200);
    c.ok(
        "served bytes",
        served == data,
        format!("{} bytes", served.len()),
    );

    c.step("the page text came through the bare-LF part intact");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "revisions"),
            ("titles", &format!("File:{name}")),
            ("rvprop", "content"),
            ("rvslots", "main"),
            ("formatversion", "2"),
        ])
        .await;
    c.eq(
        "content",
        &v["query"]["pages"][0]["revisions"][0]["slots"]["main"]["content"],
        &json!("== Summary ==\nDirect upload by pywikibot."),
    );

    c.step("the same parts with CRLF framing and a quoted boundary containing '='");
    let data2 = make_png(64, 48, 8);
    let boundary = "==a=b==c=";
    let body = multipart_body(
        boundary,
        "\r\n",
        &pywikibot_parts(&token, "Anchor-crlf-quoted.png", "crlf", &data2),
        true,
    );
    let r = post_body(
        &alice,
        &format!("multipart/form-data; boundary=\"{boundary}\""),
        body,
    )
    .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "filename",
        &up["filename"],
        &json!("Anchor-crlf-quoted.png"),
    );
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&data2)));

    c.step("bare LF: one \\r right before the delimiter is framing (PHP's rule)");
    let mut data3 = make_png(16, 16, 9);
    let expected = data3.clone();
    data3.push(b'\r');
    let body = multipart_body(
        PYWIKIBOT_BOUNDARY,
        "\n",
        &pywikibot_parts(&token, "Anchor-trailing-cr.png", "cr", &data3),
        true,
    );
    let r = post_body(
        &alice,
        &format!("multipart/form-data; boundary=\"{PYWIKIBOT_BOUNDARY}\""),
        body,
    )
    .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "size without the \\r",
        &up["imageinfo"]["size"],
        &json!(expected.len()),
    );
    c.eq(
        "sha1 without the \\r",
        &up["imageinfo"]["sha1"],
        &json!(sha1_hex(&expected)),
    );

    c.step("an octet-stream part named file but without filename is a field: badupload");
    let data5 = make_png(16, 16, 14);
    let mut parts = pywikibot_parts(&token, "Anchor-octet-field.png", "octet", &data5);
    parts.pop();
    parts.push(RawPart {
        headers: vec![
            "Content-Type: application/octet-stream".into(),
            "MIME-Version: 1.0".into(),
            "Content-Transfer-Encoding: binary".into(),
            "Content-disposition: form-data; name=\"file\"".into(),
        ],
        body: &data5,
    });
    let body = multipart_body(PYWIKIBOT_BOUNDARY, "\n", &parts, true);
    let r = post_body(
        &alice,
        &format!("multipart/form-data; boundary=\"{PYWIKIBOT_BOUNDARY}\""),
        body,
    )
    .await;
    c.error(
        &r,
        "badupload",
        Some("File upload parameter \"file\" is not a file upload; be sure to use multipart/form-data for your POST and include a filename in the Content-Disposition header."),
    );

    c.step("lower-case header names, unquoted boundary, file part without Content-Type");
    let data4 = make_png(16, 16, 10);
    let parts = vec![
        RawPart {
            headers: vec!["content-disposition: form-data; name=\"action\"".into()],
            body: b"upload",
        },
        RawPart {
            headers: vec!["content-disposition: form-data; name=\"format\"".into()],
            body: b"json",
        },
        RawPart {
            headers: vec!["content-disposition: form-data; name=\"filename\"".into()],
            body: b"Anchor-lowercase-headers.png",
        },
        RawPart {
            headers: vec!["content-disposition: form-data; name=\"token\"".into()],
            body: token.as_bytes(),
        },
        RawPart {
            headers: vec![
                "content-disposition: form-data; name=\"file\"; filename=\"fake-filename\"".into(),
            ],
            body: &data4,
        },
    ];
    let body = multipart_body("a8732ca9b1c24d5f", "\r\n", &parts, true);
    let r = post_body(
        &alice,
        "multipart/form-data; boundary=a8732ca9b1c24d5f",
        body,
    )
    .await;
    let up = c.upload_result(&r, "Success");
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&data4)));
    c.finish();
}

#[tokio::test]
async fn broken_multipart_bodies() {
    let server = Server::start();
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let token = alice.token();
    let mut c = Check::new(&server);
    let boundary = "b0undary1234";
    let ct = format!("multipart/form-data; boundary={boundary}");
    let data = make_png(64, 64, 11);
    let incomplete = "The multipart/form-data body could not be read: incomplete multipart body.";

    c.step("truncated multipart body (cut inside the file part)");
    let mut body = multipart_body(
        boundary,
        "\r\n",
        &upload_parts("Anchor-truncated-body.png", &token, &data),
        true,
    );
    body.truncate(body.len() - data.len() / 2);
    let r = post_body(&alice, &ct, body).await;
    c.error(&r, "badupload", Some(incomplete));
    alive(&mut c, &alice).await;

    c.step("malformed multipart: no closing boundary");
    let body = multipart_body(
        boundary,
        "\r\n",
        &upload_parts("Anchor-no-closing.png", &token, &data),
        false,
    );
    let r = post_body(&alice, &ct, body).await;
    c.error(&r, "badupload", Some(incomplete));

    c.step("multipart body whose boundary never appears");
    let body = multipart_body(
        "other-boundary",
        "\r\n",
        &upload_parts("Anchor-wrong-boundary.png", &token, &data),
        true,
    );
    let r = post_body(&alice, &ct, body).await;
    c.eq("status", r.0, 200);
    c.ok("not an upload", r.2.get("upload").is_none(), &r.2);

    c.step("multipart Content-Type without a boundary");
    let body = multipart_body(
        boundary,
        "\r\n",
        &upload_parts("Anchor-no-boundary.png", &token, &data),
        true,
    );
    let (st, _, _) = post_body(&alice, "multipart/form-data", body).await;
    c.eq("status", st, 200);

    c.step("a file part with an empty filename counts as no file (PHP's UPLOAD_ERR_NO_FILE)");
    let no_file = vec![
        RawPart::field("action", "upload"),
        RawPart::field("format", "json"),
        RawPart::field("filename", "Anchor-empty-part.png"),
        RawPart::field("token", &token),
        RawPart {
            headers: vec![
                "Content-Disposition: form-data; name=\"file\"; filename=\"\"".into(),
                "Content-Type: application/octet-stream".into(),
            ],
            body: b"",
        },
    ];
    let r = post_body(
        &alice,
        &ct,
        multipart_body(boundary, "\r\n", &no_file, true),
    )
    .await;
    c.error(
        &r,
        "missingparam",
        Some("One of the parameters \"filekey\", \"file\" and \"url\" is required."),
    );

    c.step("nothing of the broken requests was published");
    for name in [
        "Anchor-truncated-body.png",
        "Anchor-no-closing.png",
        "Anchor-wrong-boundary.png",
    ] {
        let (_, _, v) = alice
            .get(&[
                ("format", "json"),
                ("action", "query"),
                ("prop", "imageinfo"),
                ("titles", &format!("File:{name}")),
            ])
            .await;
        c.ok(
            &format!("{name} missing"),
            v["query"]["pages"]["-1"]["missing"] == json!(""),
            &v,
        );
    }
    alive(&mut c, &alice).await;
    c.finish();
}

#[tokio::test]
async fn huge_form_fields_are_refused() {
    let server = Server::start();
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let token = alice.token();
    let mut c = Check::new(&server);
    let huge = "x".repeat(70 * 1024 * 1024);

    c.step("a 70 MiB text field in a multipart upload");
    let r = alice
        .post_multipart(
            &[
                ("action", "upload"),
                ("format", "json"),
                ("filename", "Anchor-huge-text.png"),
                ("text", &huge),
                ("token", &token),
            ],
            vec![FilePart {
                field: "file",
                filename: "x.png",
                content_type: None,
                data: make_png(8, 8, 12),
            }],
        )
        .await;
    c.error_with_status(
        &r,
        413,
        "toolarge",
        Some("The form fields of the request are larger than the allowed 8388608 bytes."),
    );
    alive(&mut c, &alice).await;

    c.step("a 70 MiB urlencoded body");
    let r = alice
        .post(&[
            ("action", "query"),
            ("format", "json"),
            ("meta", "userinfo"),
            ("text", &huge),
        ])
        .await;
    c.error_with_status(
        &r,
        413,
        "toolarge",
        Some("The form fields of the request are larger than the allowed 8388608 bytes."),
    );
    alive(&mut c, &alice).await;

    c.step("an upload right after still works");
    let data = make_png(8, 8, 13);
    let r = alice
        .upload_resp("Anchor-after-huge.png", &data, &[("text", "small text")])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&data)));
    c.finish();
}
