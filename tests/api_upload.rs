//! Direct uploads (`02-direct-upload.json`) and `stash=1` uploads published later
//! (`14-stash-direct.json`), checked field by field against the MediaWiki 1.39 transcripts,
//! plus the stored and served bytes.

mod common;

use common::*;
use serde_json::{json, Value};

/// Key order of `imageinfo` in a publish result (new description page).
fn published_keys() -> Vec<String> {
    published_imageinfo_keys(false)
}

/// Key order of `imageinfo` for a stashed file.
fn stash_keys() -> Vec<String> {
    strings(&[
        "timestamp",
        "size",
        "width",
        "height",
        "canonicaltitle",
        "url",
        "descriptionurl",
        "sha1",
        "metadata",
        "commonmetadata",
        "extmetadata",
        "mime",
        "bitdepth",
    ])
}

/// PNG handler metadata of a truecolour PNG made by `make_png`.
fn png_metadata() -> Value {
    json!([
        {"name": "frameCount", "value": 0},
        {"name": "loopCount", "value": 1},
        {"name": "duration", "value": 0},
        {"name": "bitDepth", "value": 8},
        {"name": "colorType", "value": "truecolour"},
        {"name": "metadata", "value": [{"name": "_MW_PNG_VERSION", "value": 1}]}
    ])
}

fn extmetadata(ts: &Value, object_name: &str) -> Value {
    json!({
        "DateTime": {"value": ts, "source": "mediawiki-metadata", "hidden": ""},
        "ObjectName": {"value": object_name, "source": "mediawiki-metadata", "hidden": ""}
    })
}

/// The "file exists" notice with the image itself (files of at most 300 px).
fn exists_html(display: &str, dbkey: &str, dirs: &str, w: u32, h: u32) -> String {
    format!(
        "<p>A file with this name exists already, please check <strong><a class=\"mw-selflink selflink\">File:{display}</a></strong> if you are not sure if you want to overwrite it.\n</p>\n<div class=\"thumb tright\"><div class=\"thumbinner\" style=\"width:{}px;\"><a href=\"/w/index.php?title=File:{dbkey}\" class=\"image\"><img alt=\"{display}\" src=\"/w/images/{dirs}/{dbkey}\" decoding=\"async\" width=\"{w}\" height=\"{h}\" class=\"thumbimage\" /></a>  <div class=\"thumbcaption\"><div class=\"magnify\"><a href=\"/w/index.php?title=File:{dbkey}\" class=\"internal\" title=\"Enlarge\"></a></div></div></div></div>",
        w + 2
    )
}

async fn fetch_bytes(c: &Client, url: &str) -> (u16, Vec<u8>) {
    let (st, _, body) = c.fetch(reqwest::Method::GET, url, &[]).await;
    (st, body)
}

#[tokio::test]
async fn direct_uploads_png_jpeg_spaces_and_lying_content_type() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let base = server.base.clone();
    let mut c = Check::new(&server);
    let (_, _, ui) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .await;
    let alice_id = ui["query"]["userinfo"]["id"].clone();

    c.step("02#1 direct upload of a small PNG, fv1, comment + text");
    let small = make_png(120, 80, 1);
    let r = alice
        .upload_resp(
            "Anchor-small.png",
            &small,
            &[
                ("comment", "first upload (png)"),
                (
                    "text",
                    "== Summary ==\nA small gradient PNG.\n\n[[Category:Anchor tests]]",
                ),
            ],
        )
        .await;
    c.eq(
        "Content-Type",
        header(&r.1, "content-type").as_str(),
        "application/json; charset=utf-8",
    );
    c.eq(
        "Cache-Control",
        header(&r.1, "cache-control").as_str(),
        "private, must-revalidate, max-age=0",
    );
    let up = c.upload_result(&r, "Success");
    c.eq(
        "upload keys",
        keys(&up),
        strings(&["result", "filename", "imageinfo"]),
    );
    c.eq("filename", &up["filename"], &json!("Anchor-small.png"));
    let ii = &up["imageinfo"];
    c.eq("imageinfo keys", keys(ii), published_keys());
    c.ok(
        "timestamp ISO",
        is_iso_ts(&ii["timestamp"]),
        &ii["timestamp"],
    );
    c.eq("user", &ii["user"], &json!("Alice"));
    c.eq("userid", &ii["userid"], &alice_id);
    c.eq("size", &ii["size"], &json!(small.len()));
    c.eq("width", &ii["width"], &json!(120));
    c.eq("height", &ii["height"], &json!(80));
    c.eq(
        "parsedcomment",
        &ii["parsedcomment"],
        &json!("first upload (png)"),
    );
    c.eq("comment", &ii["comment"], &json!("first upload (png)"));
    c.eq(
        "html",
        ii["html"].as_str().unwrap_or(""),
        exists_html("Anchor-small.png", "Anchor-small.png", "2/23", 120, 80).as_str(),
    );
    c.eq(
        "canonicaltitle",
        &ii["canonicaltitle"],
        &json!("File:Anchor-small.png"),
    );
    c.eq(
        "url",
        &ii["url"],
        &json!(format!("{base}/w/images/2/23/Anchor-small.png")),
    );
    c.eq(
        "descriptionurl",
        &ii["descriptionurl"],
        &json!(format!("{base}/w/index.php?title=File:Anchor-small.png")),
    );
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&small)));
    c.json("metadata", &ii["metadata"], &png_metadata());
    c.json("commonmetadata", &ii["commonmetadata"], &json!([]));
    c.json(
        "extmetadata",
        &ii["extmetadata"],
        &extmetadata(&ii["timestamp"], "Anchor-small"),
    );
    c.eq("mime", &ii["mime"], &json!("image/png"));
    c.eq("mediatype", &ii["mediatype"], &json!("BITMAP"));
    c.eq("bitdepth", &ii["bitdepth"], &json!(8));
    let small_ts = ii["timestamp"].clone();

    c.step("02#1b stored blob and served bytes equal the upload");
    let stored =
        std::fs::read(blob_path(&server.data_dir(), &sha1_hex(&small))).unwrap_or_default();
    c.ok(
        "blob on disk has the uploaded bytes",
        stored == small,
        format!("{} bytes on disk", stored.len()),
    );
    let (st, body) = fetch_bytes(&alice, ii["url"].as_str().unwrap_or("")).await;
    c.eq("GET url status", st, 200);
    c.ok(
        "GET url bytes == uploaded bytes",
        body == small,
        format!("{} bytes served", body.len()),
    );

    c.step("02#2 JPEG with EXIF, formatversion=2");
    let jpeg = make_jpeg(320, 240, "AnchorCam");
    let r = alice
        .upload_resp(
            "Anchor-exif.jpg",
            &jpeg,
            &[("comment", "jpeg with exif"), ("formatversion", "2")],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-exif.jpg"));
    let ii = &up["imageinfo"];
    c.eq("imageinfo keys", keys(ii), published_keys());
    c.eq("size", &ii["size"], &json!(jpeg.len()));
    c.eq("width", &ii["width"], &json!(320));
    c.eq("height", &ii["height"], &json!(240));
    c.eq(
        "url",
        &ii["url"],
        &json!(format!("{base}/w/images/5/5f/Anchor-exif.jpg")),
    );
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&jpeg)));
    c.json(
        "metadata",
        &ii["metadata"],
        &json!([{"name": "Make", "value": "AnchorCam"}, {"name": "MEDIAWIKI_EXIF_VERSION", "value": 2}]),
    );
    c.json(
        "commonmetadata",
        &ii["commonmetadata"],
        &json!([{"name": "Make", "value": "AnchorCam"}]),
    );
    c.json(
        "extmetadata",
        &ii["extmetadata"],
        &extmetadata(&ii["timestamp"], "Anchor-exif"),
    );
    c.eq("mime", &ii["mime"], &json!("image/jpeg"));
    c.eq("mediatype", &ii["mediatype"], &json!("BITMAP"));
    c.eq("bitdepth", &ii["bitdepth"], &json!(8));
    c.ok(
        "html starts with the exists notice",
        ii["html"].as_str().unwrap_or("").starts_with(
            "<p>A file with this name exists already, please check <strong><a class=\"mw-selflink selflink\">File:Anchor-exif.jpg</a></strong> if you are not sure if you want to overwrite it.\n</p>\n",
        ),
        &ii["html"],
    );
    let (st, body) = fetch_bytes(&alice, ii["url"].as_str().unwrap_or("")).await;
    c.eq("GET url status", st, 200);
    c.ok(
        "GET url bytes == uploaded bytes",
        body == jpeg,
        format!("{} bytes served", body.len()),
    );

    c.step("02#4 name with spaces: underscores, no badfilename; watchlist=nochange, tags=''");
    let noise = make_png(82, 82, 2);
    let r = alice
        .upload_resp(
            "Anchor noise upload.png",
            &noise,
            &[
                ("comment", "no text param"),
                ("watchlist", "nochange"),
                ("tags", ""),
            ],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "upload keys (no warnings)",
        keys(&up),
        strings(&["result", "filename", "imageinfo"]),
    );
    c.eq(
        "filename",
        &up["filename"],
        &json!("Anchor_noise_upload.png"),
    );
    let ii = &up["imageinfo"];
    c.eq(
        "canonicaltitle",
        &ii["canonicaltitle"],
        &json!("File:Anchor noise upload.png"),
    );
    c.eq(
        "url",
        &ii["url"],
        &json!(format!("{base}/w/images/d/d7/Anchor_noise_upload.png")),
    );
    c.eq(
        "descriptionurl",
        &ii["descriptionurl"],
        &json!(format!(
            "{base}/w/index.php?title=File:Anchor_noise_upload.png"
        )),
    );
    c.eq(
        "html",
        ii["html"].as_str().unwrap_or(""),
        exists_html(
            "Anchor noise upload.png",
            "Anchor_noise_upload.png",
            "d/d7",
            82,
            82,
        )
        .as_str(),
    );
    c.json(
        "extmetadata",
        &ii["extmetadata"],
        &extmetadata(&ii["timestamp"], "Anchor noise upload"),
    );

    c.step("02#5 part Content-Type text/plain for PNG bytes: content is sniffed");
    let lie = make_png(82, 82, 3);
    let token = alice.token();
    let r = alice
        .post_multipart(
            &[
                ("format", "json"),
                ("action", "upload"),
                ("filename", "Anchor-ctype-lie.png"),
                ("token", &token),
                ("comment", "client content-type is ignored"),
            ],
            vec![FilePart {
                field: "file",
                filename: "Anchor-ctype-lie.png",
                content_type: Some("text/plain"),
                data: lie.clone(),
            }],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("mime", &up["imageinfo"]["mime"], &json!("image/png"));
    c.eq(
        "url",
        &up["imageinfo"]["url"],
        &json!(format!("{base}/w/images/1/1e/Anchor-ctype-lie.png")),
    );

    c.step("02#6 quick read-back of what was uploaded");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-small.png|File:Anchor-exif.jpg"),
            ("iiprop", "timestamp|user|size|sha1|mime|url"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let pages = v["query"]["pages"].as_object().cloned().unwrap_or_default();
    c.eq("two pages", pages.len(), 2);
    for (id, p) in &pages {
        let name = p["title"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("File:")
            .to_owned();
        let (data, dirs) = if name == "Anchor-small.png" {
            (&small, "2/23")
        } else {
            (&jpeg, "5/5f")
        };
        c.eq("pageid key", id.as_str(), p["pageid"].to_string().as_str());
        c.eq(
            "page keys",
            keys(p),
            strings(&["pageid", "ns", "title", "imagerepository", "imageinfo"]),
        );
        c.eq("ns", &p["ns"], &json!(6));
        c.eq("imagerepository", &p["imagerepository"], &json!("local"));
        let ii = &p["imageinfo"][0];
        c.eq(
            "imageinfo keys",
            keys(ii),
            strings(&[
                "timestamp",
                "user",
                "size",
                "width",
                "height",
                "url",
                "descriptionurl",
                "descriptionshorturl",
                "sha1",
                "mime",
            ]),
        );
        c.eq("sha1", &ii["sha1"], &json!(sha1_hex(data)));
        c.eq(
            "url",
            &ii["url"],
            &json!(format!("{base}/w/images/{dirs}/{name}")),
        );
        c.eq(
            "descriptionshorturl",
            &ii["descriptionshorturl"],
            &json!(format!("{base}/w/index.php?curid={id}")),
        );
        c.eq("user", &ii["user"], &json!("Alice"));
        if name == "Anchor-small.png" {
            c.eq("timestamp", &ii["timestamp"], &small_ts);
        }
    }
    c.finish();
}

#[tokio::test]
async fn clean_svg_upload_when_svg_is_allowed() {
    let server = Server::start_with_config(
        "file_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\"]\n",
    );
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let mut c = Check::new(&server);
    c.step("02#3 direct upload of a clean SVG");
    let svg = clean_svg();
    let r = alice
        .upload_resp(
            "Anchor-drawing.svg",
            svg.as_bytes(),
            &[("comment", "clean svg")],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-drawing.svg"));
    let ii = &up["imageinfo"];
    c.eq("imageinfo keys", keys(ii), published_keys());
    c.eq("size", &ii["size"], &json!(svg.len()));
    c.eq("width", &ii["width"], &json!(120));
    c.eq("height", &ii["height"], &json!(80));
    c.eq(
        "url",
        &ii["url"],
        &json!(format!("{}/w/images/f/fd/Anchor-drawing.svg", server.base)),
    );
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(svg.as_bytes())));
    c.json(
        "metadata",
        &ii["metadata"],
        &json!([
            {"name": "version", "value": 2},
            {"name": "width", "value": 120},
            {"name": "height", "value": 80},
            {"name": "originalWidth", "value": "120"},
            {"name": "originalHeight", "value": "80"},
            {"name": "title", "value": "mwanchor test drawing"},
            {"name": "translations", "value": []}
        ]),
    );
    c.json(
        "commonmetadata",
        &ii["commonmetadata"],
        &json!([{"name": "ObjectName", "value": "mwanchor test drawing"}]),
    );
    c.eq("mime", &ii["mime"], &json!("image/svg+xml"));
    c.eq("mediatype", &ii["mediatype"], &json!("DRAWING"));
    c.eq("bitdepth", &ii["bitdepth"], &json!(0));
    c.finish();
}

/// A clean SVG like the reference's `Anchor-drawing.svg`.
fn clean_svg() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"80\" viewBox=\"0 0 120 80\"><title>mwanchor test drawing</title><rect x=\"10\" y=\"10\" width=\"100\" height=\"60\" fill=\"#36c\"/></svg>\n".to_owned()
}

#[tokio::test]
async fn stash_then_publish() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let base = server.base.clone();
    let mut c = Check::new(&server);

    c.step("14#0 direct upload with stash=1: Success + filekey, nothing published");
    let stashed = make_png(52, 52, 10);
    let r = alice
        .upload_resp("Anchor-stashed.png", &stashed, &[("stash", "1")])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "upload keys",
        keys(&up),
        strings(&["result", "filekey", "sessionkey", "imageinfo"]),
    );
    c.ok(
        "filekey format",
        is_filekey(&up["filekey"], "png"),
        &up["filekey"],
    );
    c.eq("sessionkey == filekey", &up["sessionkey"], &up["filekey"]);
    let key = up["filekey"].as_str().unwrap_or("").to_owned();
    let ii = &up["imageinfo"];
    c.eq("stash imageinfo keys", keys(ii), stash_keys());
    c.ok(
        "timestamp ISO",
        is_iso_ts(&ii["timestamp"]),
        &ii["timestamp"],
    );
    c.eq("size", &ii["size"], &json!(stashed.len()));
    c.eq("width", &ii["width"], &json!(52));
    c.eq("height", &ii["height"], &json!(52));
    let ct = ii["canonicaltitle"].as_str().unwrap_or("");
    c.ok(
        "canonicaltitle File:<YYYYMMDDHHMMSS>!<name>.png",
        ct.starts_with("File:")
            && ct.len() > 21
            && ct[5..19].bytes().all(|b| b.is_ascii_digit())
            && &ct[19..20] == "!"
            && ct.ends_with(".png"),
        ct,
    );
    let stash_url = format!("{base}/w/index.php?title=Special:UploadStash/file/{key}");
    c.eq("url", &ii["url"], &json!(stash_url));
    c.eq("descriptionurl", &ii["descriptionurl"], &json!(stash_url));
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&stashed)));
    c.json("metadata", &ii["metadata"], &png_metadata());
    c.json("commonmetadata", &ii["commonmetadata"], &json!([]));
    c.eq(
        "extmetadata.DateTime",
        &ii["extmetadata"]["DateTime"]["value"],
        &ii["timestamp"],
    );
    c.eq("mime", &ii["mime"], &json!("image/png"));
    c.eq("bitdepth", &ii["bitdepth"], &json!(8));

    c.step("14#0b the owner can fetch the stashed bytes");
    let (st, body) = fetch_bytes(&alice, &stash_url).await;
    c.eq("status", st, 200);
    c.ok(
        "stashed bytes",
        body == stashed,
        format!("{} bytes", body.len()),
    );
    let anon = Client::new(&server);
    let (st, body) = fetch_bytes(&anon, &stash_url).await;
    c.ok(
        "anonymous does not get the stashed bytes",
        body != stashed,
        format!("status {st}"),
    );

    c.step("14#1 the file is not published yet");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-stashed.png"),
        ])
        .await;
    c.json(
        "body",
        &v,
        &json!({"batchcomplete": "", "query": {"pages": {"-1": {"ns": 6, "title": "File:Anchor-stashed.png", "missing": "", "imagerepository": ""}}}}),
    );

    c.step("14#2 checkstatus on a direct-stash filekey");
    let token = alice.token();
    let r = alice
        .post(&[
            ("format", "json"),
            ("action", "upload"),
            ("filekey", &key),
            ("checkstatus", "1"),
            ("token", &token),
        ])
        .await;
    c.error(&r, "missingresult", Some("No result in status data."));

    c.step("14#3 publish via filekey (formatversion=2)");
    let r = alice
        .publish_filekey(
            &key,
            "Anchor-stashed.png",
            &[
                ("comment", "publish from stash"),
                ("text", "Published from the stash."),
                ("formatversion", "2"),
            ],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "upload keys",
        keys(&up),
        strings(&["result", "filename", "imageinfo"]),
    );
    c.eq("filename", &up["filename"], &json!("Anchor-stashed.png"));
    let ii = &up["imageinfo"];
    c.eq("imageinfo keys", keys(ii), published_keys());
    c.eq("comment", &ii["comment"], &json!("publish from stash"));
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&stashed)));
    c.eq(
        "url",
        &ii["url"],
        &json!(format!("{base}/w/images/2/2a/Anchor-stashed.png")),
    );
    c.eq("user", &ii["user"], &json!("Alice"));
    let (st, body) = fetch_bytes(&alice, ii["url"].as_str().unwrap_or("")).await;
    c.eq("GET url status", st, 200);
    c.ok(
        "published bytes",
        body == stashed,
        format!("{} bytes", body.len()),
    );

    c.step("14#3b the description page holds the text");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "revisions"),
            ("titles", "File:Anchor-stashed.png"),
            ("rvprop", "content|comment|user"),
            ("rvslots", "main"),
            ("formatversion", "2"),
        ])
        .await;
    let rev = &v["query"]["pages"][0]["revisions"][0];
    c.eq(
        "content",
        &rev["slots"]["main"]["content"],
        &json!("Published from the stash."),
    );
    c.eq("comment", &rev["comment"], &json!("publish from stash"));

    c.step("14#4 stashimageinfo after publishing");
    let r = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &key),
        ])
        .await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some(&format!("Key \"{key}\" not found in stash.")),
    );

    c.step("14#5 stash another file");
    let second = make_png(26, 26, 11);
    let r = alice
        .upload_resp("Anchor-stash-remove.png", &second, &[("stash", "1")])
        .await;
    let up = c.upload_result(&r, "Success");
    let key2 = up["filekey"].as_str().unwrap_or("").to_owned();

    c.step("14#6 action=clearstashedfiles does not exist");
    let r = alice
        .post(&[("format", "json"), ("action", "clearstashedfiles")])
        .await;
    c.error(
        &r,
        "badvalue",
        Some("Unrecognized value for parameter \"action\": clearstashedfiles."),
    );

    c.step("14#7 mystashedfiles lists the stashed key");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
        ])
        .await;
    c.json(
        "mystashedfiles",
        &v["query"]["mystashedfiles"],
        &json!([{"filekey": key2, "status": "finished"}]),
    );

    c.step("14#8 publish the second stashed file (no comment)");
    let r = alice
        .publish_filekey(&key2, "Anchor-stash-remove.png", &[])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "filename",
        &up["filename"],
        &json!("Anchor-stash-remove.png"),
    );
    c.eq("comment", &up["imageinfo"]["comment"], &json!(""));
    c.eq(
        "parsedcomment",
        &up["imageinfo"]["parsedcomment"],
        &json!(""),
    );
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
        ])
        .await;
    c.json(
        "stash is empty after publishing",
        &v["query"]["mystashedfiles"],
        &json!([]),
    );

    c.step("14#9-10 publish with the deprecated sessionkey=");
    let third = make_png(26, 26, 12);
    let r = alice
        .upload_resp("Anchor-sessionkey.png", &third, &[("stash", "1")])
        .await;
    let up = c.upload_result(&r, "Success");
    let key3 = up["filekey"].as_str().unwrap_or("").to_owned();
    let token = alice.token();
    let r = alice
        .post(&[
            ("format", "json"),
            ("action", "upload"),
            ("sessionkey", &key3),
            ("filename", "Anchor-sessionkey.png"),
            ("token", &token),
        ])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-sessionkey.png"));
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&third)));
    c.json(
        "warnings",
        &r.2["warnings"],
        &json!({"main": {"*": DEPRECATION_HELP}, "upload": {"*": "The parameter \"sessionkey\" has been deprecated."}}),
    );
    c.eq(
        "top-level key order",
        keys(&r.2),
        strings(&["warnings", "upload"]),
    );

    c.step("14#11 watchlist=watch with watchlistexpiry (expiry disabled: unrecognized)");
    let r = alice
        .upload_resp(
            "Anchor-watch.png",
            &make_png(26, 26, 13),
            &[
                ("watchlist", "watch"),
                ("watchlistexpiry", "1 week"),
                ("comment", "watched"),
            ],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-watch.png"));
    c.json(
        "warnings",
        &r.2["warnings"],
        &json!({"main": {"*": "Unrecognized parameter: watchlistexpiry."}}),
    );
    c.finish();
}

#[tokio::test]
async fn publishing_someone_elses_stash_key_fails() {
    let (server, alice, bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    c.step("stash as Alice, publish as Bob");
    let r = alice
        .upload_resp("Anchor-owner.png", &make_png(8, 8, 20), &[("stash", "1")])
        .await;
    let key = c.upload_result(&r, "Success")["filekey"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let r = bob.publish_filekey(&key, "Anchor-owner.png", &[]).await;
    c.error(
        &r,
        "uploadstash-wrong-owner",
        Some(&format!(
            "This file ({key}) doesn't belong to the current user."
        )),
    );
    c.step("malformed file key");
    let r = alice
        .publish_filekey("../../etc/passwd", "Anchor-owner.png", &[])
        .await;
    c.error(&r, "invalid-file-key", Some("Not a valid file key."));
    c.step("unknown file key");
    let r = alice
        .publish_filekey("1abc.def.2.png", "Anchor-owner.png", &[])
        .await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some("Key \"1abc.def.2.png\" not found in stash."),
    );
    c.step("Alice can still publish her own key");
    let r = alice.publish_filekey(&key, "Anchor-owner.png", &[]).await;
    c.upload_result(&r, "Success");
    c.finish();
}

#[tokio::test]
async fn a_stashed_file_is_published_once_even_by_racing_commits() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let data = make_png(40, 40, 21);
    for round in 0..5 {
        c.step(&format!(
            "round {round}: stash, then two commits at once under two names"
        ));
        let r = alice
            .upload_resp(
                "Anchor-race.png",
                &data,
                &[("stash", "1"), ("ignorewarnings", "1")],
            )
            .await;
        let key = c.upload_result(&r, "Success")["filekey"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let (a, b) = (
            format!("Anchor-race-{round}-a.png"),
            format!("Anchor-race-{round}-b.png"),
        );
        let (ra, rb) = tokio::join!(
            alice.publish_filekey(&key, &a, &[("ignorewarnings", "1")]),
            alice.publish_filekey(&key, &b, &[("ignorewarnings", "1")])
        );
        let won: Vec<&Resp> = [&ra, &rb]
            .into_iter()
            .filter(|r| r.2["upload"]["result"] == "Success")
            .collect();
        c.eq("commits that published", won.len(), 1);
        let lost = if ra.2["upload"]["result"] == "Success" {
            &rb
        } else {
            &ra
        };
        c.error(
            lost,
            "uploadstash-file-not-found",
            Some(&format!("Key \"{key}\" not found in stash.")),
        );
    }
    c.step("exactly one file per round");
    let (_, _, v) = alice
        .get(&[
            ("action", "query"),
            ("format", "json"),
            ("list", "allimages"),
            ("aiprefix", "Anchor-race-"),
            ("ailimit", "max"),
        ])
        .await;
    let names = v["query"]["allimages"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    c.eq("published files", names, 5);
    c.finish();
}
