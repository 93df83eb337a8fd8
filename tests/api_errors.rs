//! Protocol and permission errors of `action=upload`: `06-errors.json` (MediaWiki 1.39),
//! plus wrong HTTP methods, users without the upload right and the size limit.

mod common;

use common::*;
use serde_json::{json, Value};

/// The reference wiki's name (it shows in permission errors) and its `noupload` group.
fn config() -> String {
    format!("sitename = \"Anchor Wiki\"\n{NOUPLOAD_GROUP_TOML}")
}

const NO_UPLOAD_RIGHT: &str = "The action you have requested is limited to users in one of the groups: [[Anchor Wiki:Users|Users]], [[Anchor Wiki:Administrators|Administrators]].";

fn png_part(data: Vec<u8>) -> Vec<FilePart<'static>> {
    vec![FilePart {
        field: "file",
        filename: "x.png",
        content_type: Some("image/png"),
        data,
    }]
}

/// Whether File:`name` exists (as seen by `c`).
async fn file_exists(c: &Client, name: &str) -> bool {
    let (_, _, v) = c
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", &format!("File:{name}")),
        ])
        .await;
    v["query"]["pages"]
        .as_object()
        .map(|o| o.values().any(|p| p.get("missing").is_none()))
        .unwrap_or(false)
}

#[tokio::test]
async fn protocol_errors() {
    let server = Server::start_with_config(&config());
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let token = alice.token();
    let mut c = Check::new(&server);
    let png = || make_png(36, 36, rand_seed());

    c.step("06#1 no token parameter");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-notoken.png"),
            ],
            png_part(png()),
        )
        .await;
    c.error(
        &r,
        "missingparam",
        Some("The \"token\" parameter must be set."),
    );
    c.eq(
        "Cache-Control on errors",
        header(&r.1, "cache-control").as_str(),
        "private, must-revalidate, max-age=0",
    );
    c.eq(
        "Content-Type",
        header(&r.1, "content-type").as_str(),
        "application/json; charset=utf-8",
    );
    c.eq(
        "X-Content-Type-Options",
        header(&r.1, "x-content-type-options").as_str(),
        "nosniff",
    );

    c.step("06#2 bad token");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-badtoken.png"),
                ("token", "0123456789abcdef0123456789abcdef6b011ffe+\\"),
            ],
            png_part(png()),
        )
        .await;
    c.error(&r, "badtoken", Some("Invalid CSRF token."));

    c.step("06#3 logged in but sends the anonymous token +\\");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-anontoken.png"),
                ("token", "+\\"),
            ],
            png_part(png()),
        )
        .await;
    c.error(&r, "badtoken", Some("Invalid CSRF token."));

    c.step("06#4 token in the URL query string instead of the POST body");
    let form = reqwest::multipart::Form::new()
        .text("format", "json")
        .text("action", "upload")
        .text("filename", "Anchor-err-tokenquery.png")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png()).file_name("x.png"),
        );
    let resp = alice
        .http
        .post(&alice.api)
        .query(&[("token", token.as_str())])
        .multipart(form)
        .send()
        .await
        .expect("POST");
    let st = resp.status().as_u16();
    let h = resp.headers().clone();
    let v: Value =
        serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    c.error(
        &(st, h, v),
        "mustpostparams",
        Some("The following parameter was found in the query string, but must be in the POST body: token."),
    );

    c.step("06#5 GET instead of POST (no token)");
    let r = alice
        .get(&[
            ("format", "json"),
            ("action", "upload"),
            ("filename", "Anchor-err-get.png"),
            ("url", "http://127.0.0.1:9/x.png"),
        ])
        .await;
    c.error(
        &r,
        "missingparam",
        Some("The \"token\" parameter must be set."),
    );

    c.step("06#6 GET instead of POST, token in the query string");
    let r = alice
        .get(&[
            ("format", "json"),
            ("action", "upload"),
            ("filename", "Anchor-err-get.png"),
            ("token", &token),
            ("url", "http://127.0.0.1:9/x.png"),
        ])
        .await;
    c.error(
        &r,
        "mustpostparams",
        Some("The following parameter was found in the query string, but must be in the POST body: token."),
    );

    c.step("06#7 missing filename parameter");
    let r = alice
        .post_multipart(
            &[("format", "json"), ("action", "upload"), ("token", &token)],
            png_part(png()),
        )
        .await;
    c.error(
        &r,
        "nofilename",
        Some("The \"filename\" parameter must be set."),
    );

    c.step("06#8 none of file/url/filekey");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-nothing.png"),
                ("token", &token),
            ],
            vec![],
        )
        .await;
    c.error(
        &r,
        "missingparam",
        Some("One of the parameters \"filekey\", \"file\" and \"url\" is required."),
    );

    c.step("06#9 file + url together");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-mix.png"),
                ("url", "http://127.0.0.1:9/x.png"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.error(
        &r,
        "invalidparammix",
        Some("The parameters \"file\" and \"url\" can not be used together."),
    );

    c.step("06#10 file + filekey together");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-mix2.png"),
                ("filekey", "abc.def.png"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.error(
        &r,
        "invalidparammix",
        Some("The parameters \"file\" and \"filekey\" can not be used together."),
    );

    let badupload = "File upload parameter \"file\" is not a file upload; be sure to use multipart/form-data for your POST and include a filename in the Content-Disposition header.";
    c.step("06#11 urlencoded with the file bytes as a plain field");
    let bytes = png();
    let mut body = b"format=json&action=upload&filename=Anchor-err-urlenc.png&token=".to_vec();
    body.extend(percent(token.as_bytes()));
    body.extend_from_slice(b"&file=");
    body.extend(percent(&bytes));
    let r = alice
        .post_raw("application/x-www-form-urlencoded", body)
        .await;
    c.error(&r, "badupload", Some(badupload));

    c.step("06#12 multipart, but \"file\" is a plain form field");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-nofn.png"),
                ("file", "not a file part"),
                ("token", &token),
            ],
            vec![],
        )
        .await;
    c.error(&r, "badupload", Some(badupload));

    c.step("06#14 unrecognized parameter -> warnings.main; upload proceeds; sessionkey='' is deprecated");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-unknownparam.png"),
                ("frobnicate", "1"),
                ("sessionkey", ""),
                ("comment", "unknown param"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "filename",
        &up["filename"],
        &json!("Anchor-err-unknownparam.png"),
    );
    c.json(
        "warnings",
        &r.2["warnings"],
        &json!({
            "main": {"*": format!("{DEPRECATION_HELP}\nUnrecognized parameter: frobnicate.")},
            "upload": {"*": "The parameter \"sessionkey\" has been deprecated."}
        }),
    );

    c.step("06#15 a Warning result with errorformat=plaintext formatversion=2");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-unknownparam.png"),
                ("errorformat", "plaintext"),
                ("formatversion", "2"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.warning(&r, &json!({"exists": "Anchor-err-unknownparam.png"}), "png");
    c.eq("top-level keys", keys(&r.2), vec!["upload".to_owned()]);

    c.step("06#16 an error with errorformat=plaintext formatversion=2");
    let (st, h, v) = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-nofile.png"),
                ("errorformat", "plaintext"),
                ("formatversion", "2"),
                ("token", &token),
            ],
            vec![],
        )
        .await;
    c.eq("status", st, 200);
    c.eq(
        "header",
        header(&h, "mediawiki-api-error").as_str(),
        "missingparam",
    );
    c.json(
        "body",
        &v,
        &json!({
            "errors": [{"code": "missingparam", "text": "One of the parameters \"filekey\", \"file\" and \"url\" is required.", "module": "upload"}],
            "docref": docref(&server.api())
        }),
    );

    c.step("06#18 assert=bot for a non-bot user");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-assert.png"),
                ("assert", "bot"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.error(
        &r,
        "assertbotfailed",
        Some("You do not have the \"bot\" right, so the action could not be completed."),
    );

    c.step("06#19 tags=no-such-tag");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-tags.png"),
                ("tags", "no-such-tag"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    let e = c.error(
        &r,
        "badtags",
        Some("The tag \"no-such-tag\" is not allowed to be manually applied."),
    );
    c.json(
        "disallowedtags",
        &e["disallowedtags"],
        &json!(["no-such-tag"]),
    );
    c.eq(
        "error keys",
        keys(&e),
        ["code", "info", "disallowedtags", "*"]
            .map(String::from)
            .to_vec(),
    );

    c.step("06#20 invalid enum value watchlist=bogus");
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-watch.png"),
                ("watchlist", "bogus"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.error(
        &r,
        "badvalue",
        Some("Unrecognized value for parameter \"watchlist\": bogus."),
    );

    c.step("06#21 format=xml is not supported: badvalue, nothing uploaded");
    let (st, h, body) = alice
        .post_multipart(
            &[
                ("format", "xml"),
                ("action", "upload"),
                ("filename", "Anchor-err-fmt.png"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.eq("status", st, 200);
    c.eq(
        "header",
        header(&h, "mediawiki-api-error").as_str(),
        "badvalue",
    );
    let text = body
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    c.ok(
        "the answer names the format value",
        text.contains("Unrecognized value for parameter") && text.contains("xml"),
        &text,
    );
    c.ok(
        "not uploaded",
        !file_exists(&alice, "Anchor-err-fmt.png").await,
        "file exists",
    );

    c.step("06#22 format=jsonfm: HTML-wrapped JSON; the upload happens");
    let (st, h, body) = alice
        .post_multipart(
            &[
                ("format", "jsonfm"),
                ("action", "upload"),
                ("filename", "Anchor-err-fmt2.png"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.eq("status", st, 200);
    c.eq(
        "Content-Type",
        header(&h, "content-type").as_str(),
        "text/html; charset=utf-8",
    );
    let text = body.as_str().unwrap_or("").to_owned();
    c.ok(
        "HTML page with the result",
        text.contains("<html") && text.contains("Anchor-err-fmt2.png"),
        &text,
    );
    c.ok(
        "uploaded",
        file_exists(&alice, "Anchor-err-fmt2.png").await,
        "missing",
    );

    c.step("06#23 no format parameter at all (default jsonfm)");
    let (st, h, body) = alice
        .post_multipart(
            &[
                ("action", "upload"),
                ("filename", "Anchor-err-nofmt.png"),
                ("token", &token),
            ],
            png_part(png()),
        )
        .await;
    c.eq("status", st, 200);
    c.eq(
        "Content-Type",
        header(&h, "content-type").as_str(),
        "text/html; charset=utf-8",
    );
    c.ok(
        "HTML page",
        body.as_str().unwrap_or("").contains("<html"),
        &body,
    );
    c.ok(
        "uploaded",
        file_exists(&alice, "Anchor-err-nofmt.png").await,
        "missing",
    );

    c.step("06#24 a JSON request body is not read: HTML help page");
    let (st, h, body) = alice
        .post_raw("application/json", br#"{"action":"upload"}"#.to_vec())
        .await;
    c.eq("status", st, 200);
    c.eq(
        "Content-Type",
        header(&h, "content-type").as_str(),
        "text/html; charset=utf-8",
    );
    c.ok(
        "HTML page",
        body.as_str().unwrap_or("").contains("<html"),
        &body,
    );
    c.eq(
        "no error header",
        header(&h, "mediawiki-api-error").as_str(),
        "",
    );

    c.step("06#25 cross-origin POST without origin= parameter");
    let resp = alice
        .http
        .post(&alice.api)
        .header("Origin", "http://evil.example")
        .form(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .send()
        .await
        .expect("POST");
    let v: Value =
        serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    c.eq(
        "still logged in as Alice",
        &v["query"]["userinfo"]["name"],
        &json!("Alice"),
    );
    c.finish();
}

#[tokio::test]
async fn who_may_upload() {
    let server = Server::start_with_config(&config());
    let mut c = Check::new(&server);
    let png = || make_png(36, 36, rand_seed());

    c.step("06#26 anonymous upload with token +\\");
    let anon = Client::new(&server);
    let r = anon.upload_resp("Anchor-err-anon.png", &png(), &[]).await;
    c.error(
        &r,
        "mustbeloggedin",
        Some("You must be logged in to upload this file."),
    );

    c.step("06#27 anonymous upload with stash=1");
    let r = anon
        .upload_resp("Anchor-err-anon-stash.png", &png(), &[("stash", "1")])
        .await;
    c.error(
        &r,
        "mustbeloggedin",
        Some("You must be logged in to upload this file."),
    );

    c.step("anonymous with a wrong token: the token check comes first");
    let r = anon
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-err-anon2.png"),
                ("token", "abc+\\"),
            ],
            png_part(png()),
        )
        .await;
    c.error(&r, "badtoken", Some("Invalid CSRF token."));

    c.step("06#29 Nobody: groups and rights (noupload revokes the upload rights)");
    let nobody = bot_client(&server, "Nobody", Some("noupload"), "bot", BOT_GRANTS).await;
    let (_, _, v) = nobody
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("uiprop", "groups|rights"),
        ])
        .await;
    c.json(
        "groups",
        &v["query"]["userinfo"]["groups"],
        &json!(["noupload", "*", "user", "autoconfirmed"]),
    );
    c.json(
        "rights",
        &v["query"]["userinfo"]["rights"],
        &json!([
            "read",
            "edit",
            "createpage",
            "createtalk",
            "writeapi",
            "move",
            "move-subpages",
            "move-rootuserpages",
            "move-categorypages",
            "movefile",
            "minoredit",
            "purge",
            "applychangetags",
            "changetags",
            "editcontentmodel",
            "autoconfirmed",
            "editsemiprotected"
        ]),
    );

    c.step("06#30 user without the upload right");
    let r = nobody
        .upload_resp("Anchor-err-nobody.png", &png(), &[])
        .await;
    c.error(&r, "permissiondenied", Some(NO_UPLOAD_RIGHT));

    c.step("06#31 user without the upload right, stash=1");
    let r = nobody
        .upload_resp("Anchor-err-nobody-stash.png", &png(), &[("stash", "1")])
        .await;
    c.error(&r, "permissiondenied", Some(NO_UPLOAD_RIGHT));

    c.step("06#32 bot password with grant basic only");
    server.add_user("Alice", "alice-password-1", "");
    let readonly = bot_client(&server, "Alice", None, "readonly", "basic").await;
    let r = readonly
        .upload_resp("Anchor-err-readonly.png", &png(), &[])
        .await;
    c.error(&r, "permissiondenied", Some(NO_UPLOAD_RIGHT));

    c.step("nothing was published");
    for name in [
        "Anchor-err-anon.png",
        "Anchor-err-nobody.png",
        "Anchor-err-readonly.png",
    ] {
        c.ok(name, !file_exists(&anon, name).await, "exists");
    }
    c.finish();
}

#[tokio::test]
async fn a_group_revoking_only_upload_is_enough() {
    let server = Server::start_with_config("[revoke_permissions.noupload]\nupload = true\n");
    let mut c = Check::new(&server);
    let nobody = bot_client(&server, "Nobody", Some("noupload"), "bot", BOT_GRANTS).await;
    c.step("upload by a member of a group that revokes upload");
    let r = nobody
        .upload_resp("Anchor-err-nobody.png", &make_png(8, 8, 1), &[])
        .await;
    c.error(
        &r,
        "permissiondenied",
        Some("The action you have requested is limited to users in one of the groups: [[mwstore:Users|Users]], [[mwstore:Administrators|Administrators]]."),
    );
    c.step("publishing a stashed key needs the right too");
    let r = nobody
        .upload_resp(
            "Anchor-err-nobody.png",
            &make_png(8, 8, 2),
            &[("stash", "1")],
        )
        .await;
    c.error(&r, "permissiondenied", None);
    c.finish();
}

#[tokio::test]
async fn wrong_http_methods() {
    let server = Server::start();
    let c0 = Client::new(&server);
    let mut c = Check::new(&server);
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        c.step(&format!("{method} api.php -> 405 invalidmethod"));
        let url = format!("{}?action=query&meta=userinfo&format=json", server.api());
        let (st, h, body) = c0.fetch(method.clone(), &url, &[]).await;
        c.eq("status", st, 405);
        c.eq(
            "header",
            header(&h, "mediawiki-api-error").as_str(),
            "invalidmethod",
        );
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        c.eq("error.code", &v["error"]["code"], &json!("invalidmethod"));
        c.eq(
            "error.info",
            &v["error"]["info"],
            &json!("Invalid HTTP method. Consider using GET or POST."),
        );
    }
    c.step("HEAD and OPTIONS are allowed");
    let url = format!("{}?action=query&meta=userinfo&format=json", server.api());
    let (st, _, _) = c0.fetch(reqwest::Method::HEAD, &url, &[]).await;
    c.eq("HEAD status", st, 200);
    let (st, _, body) = c0.fetch(reqwest::Method::OPTIONS, &url, &[]).await;
    c.eq("OPTIONS status", st, 200);
    c.eq("OPTIONS body empty", body.len(), 0);
    c.finish();
}

#[tokio::test]
async fn upload_size_limit() {
    let server = Server::start_with_config("max_upload_size = 1000\n");
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let mut c = Check::new(&server);

    c.step("a file above max_upload_size -> file-too-large");
    let big = make_png(40, 40, 1);
    c.ok("test file is above the limit", big.len() > 1000, big.len());
    let r = alice.upload_resp("Anchor-too-big.png", &big, &[]).await;
    let e = c.error(
        &r,
        "file-too-large",
        Some("The file you submitted was too large."),
    );
    c.eq(
        "error keys",
        keys(&e),
        ["code", "info", "*"].map(String::from).to_vec(),
    );

    c.step("the same with stash=1");
    let r = alice
        .upload_resp("Anchor-too-big.png", &big, &[("stash", "1")])
        .await;
    c.error(
        &r,
        "file-too-large",
        Some("The file you submitted was too large."),
    );

    c.step("a file of several MiB is cut off, not buffered; the server keeps answering");
    let huge = vec![0x42u8; 8 * 1024 * 1024];
    let r = alice.upload_resp("Anchor-huge.png", &huge, &[]).await;
    c.error(
        &r,
        "file-too-large",
        Some("The file you submitted was too large."),
    );

    c.step("a file below the limit is accepted");
    let small = make_png(10, 10, 2);
    c.ok(
        "test file is below the limit",
        small.len() <= 1000,
        small.len(),
    );
    let r = alice
        .upload_resp("Anchor-small-enough.png", &small, &[])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&small)));

    c.step("siteinfo reports the limit");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "siteinfo"),
        ])
        .await;
    c.eq(
        "maxuploadsize",
        &v["query"]["general"]["maxuploadsize"],
        &json!(1000),
    );
    c.finish();
}

/// Distinct PNG content per call.
fn rand_seed() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1000);
    N.fetch_add(1, Ordering::Relaxed)
}

/// `application/x-www-form-urlencoded` encoding of bytes.
fn percent(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
            out.push(*b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}
