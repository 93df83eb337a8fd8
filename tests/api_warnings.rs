//! Upload warnings and re-uploads: `03-reupload-exists.json`, `04-duplicate.json` and
//! `13-more-warnings.json` (MediaWiki 1.39), plus the archived versions they leave behind.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn reupload_exists_nochange_duplicateversions_and_history() {
    let (server, alice, bob) = server_with_alice_bob().await;
    let base = server.base.clone();
    let mut c = Check::new(&server);
    let v1 = make_png(120, 80, 1);
    let v2 = make_png(120, 80, 2);
    let v3 = make_png(82, 82, 3);
    let v4 = make_png(82, 82, 4);
    let v5 = make_png(82, 82, 5);
    let v6 = make_png(82, 82, 6);

    c.step("02#1 first version");
    let r = alice
        .upload_resp(
            "Anchor-small.png",
            &v1,
            &[("comment", "first upload (png)")],
        )
        .await;
    let ts1 = c.upload_result(&r, "Success")["imageinfo"]["timestamp"].clone();

    c.step("03#1 re-upload same name, different bytes -> Warning exists + filekey");
    let r = alice
        .upload_resp("Anchor-small.png", &v2, &[("comment", "second version")])
        .await;
    let k1 = c.warning(&r, &json!({"exists": "Anchor-small.png"}), "png");

    c.step("03#2 prop=stashimageinfo for the warning's filekey");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &k1),
            (
                "siiprop",
                "timestamp|url|size|dimensions|sha1|mime|metadata|bitdepth",
            ),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let sii = &v["query"]["stashimageinfo"][0];
    c.eq(
        "keys",
        keys(sii),
        strings(&[
            "timestamp",
            "size",
            "width",
            "height",
            "url",
            "descriptionurl",
            "sha1",
            "metadata",
            "mime",
            "bitdepth",
        ]),
    );
    let stash_url = format!("{base}/w/index.php?title=Special:UploadStash/file/{k1}");
    c.eq("url", &sii["url"], &json!(stash_url));
    c.eq("descriptionurl", &sii["descriptionurl"], &json!(stash_url));
    c.eq("sha1", &sii["sha1"], &json!(sha1_hex(&v2)));
    c.eq("size", &sii["size"], &json!(v2.len()));
    c.eq("width", &sii["width"], &json!(120));
    c.eq("height", &sii["height"], &json!(80));
    c.eq("mime", &sii["mime"], &json!("image/png"));
    c.eq("bitdepth", &sii["bitdepth"], &json!(8));

    c.step("03#3 complete via filekey WITHOUT ignorewarnings -> Warning again, new filekey");
    let r = alice
        .publish_filekey(
            &k1,
            "Anchor-small.png",
            &[("comment", "second version (via filekey)")],
        )
        .await;
    let k1b = c.warning(&r, &json!({"exists": "Anchor-small.png"}), "png");
    c.ok("a new filekey", k1b != k1, &k1b);

    c.step("03#4 complete via filekey + ignorewarnings=1 -> Success, new version");
    let r = alice
        .publish_filekey(
            &k1,
            "Anchor-small.png",
            &[
                ("comment", "second version (via filekey)"),
                ("ignorewarnings", "1"),
            ],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "upload keys",
        keys(&up),
        strings(&["result", "filename", "warnings", "imageinfo"]),
    );
    c.json(
        "warnings",
        &up["warnings"],
        &json!({"exists": "Anchor-small.png"}),
    );
    let ii = &up["imageinfo"];
    c.eq(
        "imageinfo keys (page existed: descriptionshorturl)",
        keys(ii),
        published_imageinfo_keys(true),
    );
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&v2)));
    c.eq(
        "comment",
        &ii["comment"],
        &json!("second version (via filekey)"),
    );
    c.ok(
        "descriptionshorturl",
        ii["descriptionshorturl"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("{base}/w/index.php?curid=")),
        &ii["descriptionshorturl"],
    );
    let ts2 = ii["timestamp"].clone();
    c.ok(
        "version 2 is later than version 1",
        ts2.as_str() > ts1.as_str(),
        format!("{ts1} / {ts2}"),
    );

    c.step("03#5 re-use the same filekey after it was published");
    let r = alice
        .publish_filekey(&k1, "Anchor-small.png", &[("ignorewarnings", "1")])
        .await;
    c.error(
        &r,
        "uploadstash-file-not-found",
        Some(&format!("Key \"{k1}\" not found in stash.")),
    );

    c.step("03#6 re-upload bytes identical to the CURRENT version");
    let r = alice
        .upload_resp("Anchor-small.png", &v2, &[("comment", "same bytes again")])
        .await;
    c.warning(
        &r,
        &json!({"exists": "Anchor-small.png", "nochange": {"timestamp": ts2}}),
        "png",
    );
    c.eq(
        "warning key order",
        keys(&r.2["upload"]["warnings"]),
        strings(&["exists", "nochange"]),
    );

    c.step("03#7 re-upload bytes identical to an OLD version");
    let r = alice
        .upload_resp(
            "Anchor-small.png",
            &v1,
            &[("comment", "bytes of the first version")],
        )
        .await;
    c.warning(
        &r,
        &json!({"exists": "Anchor-small.png", "duplicateversions": [{"timestamp": ts1}]}),
        "png",
    );
    c.eq(
        "warning key order",
        keys(&r.2["upload"]["warnings"]),
        strings(&["exists", "duplicateversions"]),
    );

    c.step("identical to the current version even with ignorewarnings -> fileexists-no-change");
    let r = alice
        .upload_resp("Anchor-small.png", &v2, &[("ignorewarnings", "1")])
        .await;
    let e = c.error(
        &r,
        "fileexists-no-change",
        Some("The upload is an exact duplicate of the current version of [[:File:Anchor-small.png]]."),
    );
    c.eq(
        "error keys",
        keys(&e),
        strings(&["code", "info", "filekey", "sessionkey", "*"]),
    );
    c.ok("recoverable: filekey", is_filekey(&e["filekey"], "png"), &e);

    c.step("03#8 direct re-upload with ignorewarnings=1 -> Success, warnings listed");
    let r = alice
        .upload_resp(
            "Anchor-small.png",
            &v3,
            &[
                ("comment", "third version, ignorewarnings"),
                ("ignorewarnings", "1"),
            ],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.json(
        "warnings",
        &up["warnings"],
        &json!({"exists": "Anchor-small.png"}),
    );
    c.eq("width", &up["imageinfo"]["width"], &json!(82));

    c.step("03#9 Bob overwrites Alice's file with ignorewarnings=1");
    let r = bob
        .upload_resp(
            "Anchor-small.png",
            &v4,
            &[("comment", "Bob overwrites Alice"), ("ignorewarnings", "1")],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.json(
        "warnings",
        &up["warnings"],
        &json!({"exists": "Anchor-small.png"}),
    );
    c.eq("user", &up["imageinfo"]["user"], &json!("Bob"));

    c.step("03#10-11 two overwrites within one second both succeed (MediaWiki: backend-fail-alreadyexists)");
    let ra = alice
        .upload_resp(
            "Anchor-small.png",
            &v5,
            &[("comment", "race a"), ("ignorewarnings", "1")],
        )
        .await;
    let rb = alice
        .upload_resp(
            "Anchor-small.png",
            &v6,
            &[("comment", "race b"), ("ignorewarnings", "1")],
        )
        .await;
    c.upload_result(&ra, "Success");
    c.upload_result(&rb, "Success");

    c.step("03#12 history of File:Anchor-small.png (archivename of old versions)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-small.png"),
            ("iiprop", "timestamp|user|comment|size|sha1|archivename"),
            ("iilimit", "max"),
        ])
        .await;
    c.json("limits", &v["limits"], &json!({"imageinfo": 500}));
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let page = v["query"]["pages"]
        .as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or(Value::Null);
    let hist = page["imageinfo"].as_array().cloned().unwrap_or_default();
    let expected: [(&Vec<u8>, &str, &str); 6] = [
        (&v6, "Alice", "race b"),
        (&v5, "Alice", "race a"),
        (&v4, "Bob", "Bob overwrites Alice"),
        (&v3, "Alice", "third version, ignorewarnings"),
        (&v2, "Alice", "second version (via filekey)"),
        (&v1, "Alice", "first upload (png)"),
    ];
    c.eq("number of versions", hist.len(), expected.len());
    for (i, (h, (data, user, comment))) in hist.iter().zip(expected.iter()).enumerate() {
        c.eq(&format!("v[{i}] sha1"), &h["sha1"], &json!(sha1_hex(data)));
        c.eq(&format!("v[{i}] user"), &h["user"], &json!(user));
        c.eq(&format!("v[{i}] comment"), &h["comment"], &json!(comment));
        c.eq(&format!("v[{i}] size"), &h["size"], &json!(data.len()));
        if i == 0 {
            c.eq(
                "current version keys",
                keys(h),
                strings(&[
                    "timestamp",
                    "user",
                    "size",
                    "width",
                    "height",
                    "comment",
                    "sha1",
                ]),
            );
        } else {
            c.eq(
                &format!("v[{i}] keys"),
                keys(h),
                strings(&[
                    "timestamp",
                    "user",
                    "size",
                    "width",
                    "height",
                    "comment",
                    "sha1",
                    "archivename",
                ]),
            );
            let newer = hist[i - 1]["timestamp"].as_str().unwrap_or("");
            c.ok(
                &format!("v[{i}] older than v[{}]", i - 1),
                h["timestamp"].as_str().unwrap_or("") < newer,
                format!("{} vs {newer}", h["timestamp"]),
            );
            c.eq(
                &format!("v[{i}] archivename = <time it was archived>!name"),
                h["archivename"].as_str().unwrap_or(""),
                format!("{}!Anchor-small.png", iso_to_ts14(newer)).as_str(),
            );
            // The archived bytes are served under /w/images/archive/<h1>/<h2>/<archivename>.
            let url = format!(
                "{base}/w/images/archive/2/23/{}",
                h["archivename"].as_str().unwrap_or("")
            );
            let (st, _, body) = alice.fetch(reqwest::Method::GET, &url, &[]).await;
            c.eq(&format!("v[{i}] archive GET status"), st, 200);
            c.ok(
                &format!("v[{i}] archived bytes"),
                &body == *data,
                format!("{} bytes", body.len()),
            );
        }
    }
    let (st, _, body) = alice
        .fetch(
            reqwest::Method::GET,
            &format!("{base}/w/images/2/23/Anchor-small.png"),
            &[],
        )
        .await;
    c.eq("current GET status", st, 200);
    c.ok(
        "current bytes are race b's",
        body == v6,
        format!("{} bytes", body.len()),
    );
    c.finish();
}

#[tokio::test]
async fn duplicate_warnings() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let mut c = Check::new(&server);
    let jpeg = make_jpeg(320, 240, "AnchorCam");
    let r = alice
        .upload_resp("Anchor-exif.jpg", &jpeg, &[("comment", "jpeg with exif")])
        .await;
    c.step("02#2 original");
    c.upload_result(&r, "Success");

    c.step("04#1 identical bytes under a new name -> Warning duplicate");
    let r = alice
        .upload_resp("Anchor-exif-copy.jpg", &jpeg, &[("comment", "dup")])
        .await;
    let k = c.warning(&r, &json!({"duplicate": ["Anchor-exif.jpg"]}), "jpg");

    c.step("04#2 the same with formatversion=2");
    let r = alice
        .upload_resp(
            "Anchor-exif-copy.jpg",
            &jpeg,
            &[("comment", "dup"), ("formatversion", "2")],
        )
        .await;
    c.warning(&r, &json!({"duplicate": ["Anchor-exif.jpg"]}), "jpg");

    c.step("04#3 accept the duplicate via filekey + ignorewarnings");
    let r = alice
        .publish_filekey(
            &k,
            "Anchor-exif-copy.jpg",
            &[("comment", "dup accepted"), ("ignorewarnings", "1")],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-exif-copy.jpg"));
    c.json(
        "warnings",
        &up["warnings"],
        &json!({"duplicate": ["Anchor-exif.jpg"]}),
    );
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&jpeg)));
    c.eq(
        "comment",
        &up["imageinfo"]["comment"],
        &json!("dup accepted"),
    );

    c.step("04#4 third copy -> duplicate lists both earlier names (sorted)");
    let r = alice
        .upload_resp("Anchor-exif-copy2.jpg", &jpeg, &[("comment", "dup 2")])
        .await;
    c.warning(
        &r,
        &json!({"duplicate": ["Anchor-exif-copy.jpg", "Anchor-exif.jpg"]}),
        "jpg",
    );

    c.step("04#5 prop=duplicatefiles");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "duplicatefiles"),
            ("titles", "File:Anchor-exif.jpg"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let page = v["query"]["pages"]
        .as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or(Value::Null);
    c.eq(
        "page keys",
        keys(&page),
        strings(&["pageid", "ns", "title", "duplicatefiles"]),
    );
    c.eq("title", &page["title"], &json!("File:Anchor-exif.jpg"));
    let dups = page["duplicatefiles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq("one duplicate", dups.len(), 1);
    if let Some(d) = dups.first() {
        c.eq("keys", keys(d), strings(&["name", "timestamp", "user"]));
        c.eq("name", &d["name"], &json!("Anchor-exif-copy.jpg"));
        c.eq("user", &d["user"], &json!("Alice"));
        c.ok("timestamp", is_iso_ts(&d["timestamp"]), &d["timestamp"]);
    }

    c.step("04#6 identical bytes with stash=1 (warnings are checked before stashing)");
    let r = alice
        .upload_resp("Anchor-exif-stash-dup.jpg", &jpeg, &[("stash", "1")])
        .await;
    c.warning(
        &r,
        &json!({"duplicate": ["Anchor-exif-copy.jpg", "Anchor-exif.jpg"]}),
        "jpg",
    );
    c.finish();
}

#[tokio::test]
async fn was_deleted_and_duplicate_archive() {
    let (server, alice, _bob) = server_with_alice_bob().await;
    let base = server.base.clone();
    let admin = bot_client(
        &server,
        "Admin",
        None,
        "bot",
        &format!("{BOT_GRANTS},delete"),
    )
    .await;
    let mut c = Check::new(&server);
    let (_, _, ui) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .await;
    let alice_id = ui["query"]["userinfo"]["id"].clone();
    let doomed = make_png(26, 26, 30);

    c.step("13#2 upload a file that an admin will delete");
    let r = alice
        .upload_resp(
            "Anchor-to-delete.png",
            &doomed,
            &[("comment", "will be deleted")],
        )
        .await;
    let url = c.upload_result(&r, "Success")["imageinfo"]["url"]
        .as_str()
        .unwrap_or("")
        .to_owned();

    c.step("13#3 Admin deletes it");
    let token = admin.token();
    let (st, h, v) = admin
        .post(&[
            ("format", "json"),
            ("action", "delete"),
            ("title", "File:Anchor-to-delete.png"),
            ("reason", "test deletion"),
            ("token", &token),
        ])
        .await;
    c.eq("status", st, 200);
    c.eq("no error", header(&h, "mediawiki-api-error").as_str(), "");
    c.eq(
        "keys",
        keys(&v["delete"]),
        strings(&["title", "reason", "logid"]),
    );
    c.eq(
        "title",
        &v["delete"]["title"],
        &json!("File:Anchor-to-delete.png"),
    );
    c.eq("reason", &v["delete"]["reason"], &json!("test deletion"));
    c.ok("logid", v["delete"]["logid"].as_i64().unwrap_or(0) > 0, &v);
    let (st, _, _) = alice.fetch(reqwest::Method::GET, &url, &[]).await;
    c.eq("deleted file is no longer served", st, 404);

    c.step("Alice may not delete");
    let token = alice.token();
    let r = alice
        .post(&[
            ("format", "json"),
            ("action", "delete"),
            ("title", "File:Anchor-to-delete.png"),
            ("token", &token),
        ])
        .await;
    c.error(&r, "permissiondenied", None);

    c.step("13#4 other bytes under the deleted name -> was-deleted");
    let r = alice
        .upload_resp("Anchor-to-delete.png", &make_png(26, 26, 31), &[])
        .await;
    c.warning(&r, &json!({"was-deleted": "Anchor-to-delete.png"}), "png");

    c.step("13#5 the deleted bytes under a new name -> duplicate-archive");
    let r = alice
        .upload_resp("Anchor-deleted-bytes.png", &doomed, &[])
        .await;
    c.warning(
        &r,
        &json!({"duplicate-archive": "Anchor-to-delete.png"}),
        "png",
    );

    c.step("13#6 the deleted bytes under the deleted name -> both");
    let r = alice
        .upload_resp("Anchor-to-delete.png", &doomed, &[])
        .await;
    c.warning(
        &r,
        &json!({"was-deleted": "Anchor-to-delete.png", "duplicate-archive": "Anchor-to-delete.png"}),
        "png",
    );
    c.eq(
        "warning key order",
        keys(&r.2["upload"]["warnings"]),
        strings(&["was-deleted", "duplicate-archive"]),
    );

    c.step("13#7 Admin uploads the deleted bytes");
    let r = admin
        .upload_resp("Anchor-deleted-bytes-admin.png", &doomed, &[])
        .await;
    let k = c.warning(
        &r,
        &json!({"duplicate-archive": "Anchor-to-delete.png"}),
        "png",
    );
    c.ok(
        "Admin's filekey carries Admin's user id 1",
        k.contains(".1.png"),
        &k,
    );

    c.step("13#8 list=filearchive anonymously");
    let anon = Client::new(&server);
    let r = anon
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "filearchive"),
            ("faprop", "sha1|size|description|user"),
        ])
        .await;
    c.error(
        &r,
        "permissiondenied",
        Some("You don't have permission to view descriptions of deleted files."),
    );

    c.step("13#9 list=filearchive as Admin");
    let (_, _, v) = admin
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "filearchive"),
            ("faprop", "sha1|size|description|user|mime"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let fa = v["query"]["filearchive"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq("one archived file", fa.len(), 1);
    if let Some(e) = fa.first() {
        c.eq(
            "keys",
            keys(e),
            strings(&[
                "id",
                "name",
                "ns",
                "title",
                "description",
                "userid",
                "user",
                "sha1",
                "size",
                "height",
                "width",
                "mime",
            ]),
        );
        c.json(
            "entry (size/height/width are strings)",
            e,
            &json!({
                "id": e["id"], "name": "Anchor-to-delete.png", "ns": 6, "title": "File:Anchor-to-delete.png",
                "description": "will be deleted", "userid": alice_id, "user": "Alice",
                "sha1": sha1_hex(&doomed), "size": doomed.len().to_string(), "height": "26", "width": "26",
                "mime": "image/png"
            }),
        );
    }

    c.step("undelete restores the file and its bytes");
    let token = admin.token();
    let (_, h, v) = admin
        .post(&[
            ("format", "json"),
            ("action", "undelete"),
            ("title", "File:Anchor-to-delete.png"),
            ("reason", "back"),
            ("token", &token),
        ])
        .await;
    c.eq("no error", header(&h, "mediawiki-api-error").as_str(), "");
    c.eq("fileversions", &v["undelete"]["fileversions"], &json!(1));
    let (st, _, body) = alice
        .fetch(
            reqwest::Method::GET,
            &format!("{base}/w/images/7/73/Anchor-to-delete.png"),
            &[],
        )
        .await;
    c.eq("restored file served", st, 200);
    c.ok(
        "restored bytes",
        body == doomed,
        format!("{} bytes", body.len()),
    );
    c.finish();
}
