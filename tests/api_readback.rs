//! What clients read back after uploads: `10-readback.json` (MediaWiki 1.39): imageinfo with
//! history and continuation, allimages, revisions of description pages, the upload log, the
//! stash queries, and page info with categories.

mod common;

use common::*;
use serde_json::{json, Value};

const SMALL_TEXT: &str = "== Summary ==\nA small gradient PNG.\n\n[[Category:Anchor tests]]";

struct Fixture {
    server: Server,
    alice: Client,
    bob: Client,
    small: [Vec<u8>; 3],
    small_ts: [Value; 3],
    jpeg: Vec<u8>,
}

async fn fixture() -> Fixture {
    let (server, alice, bob) = server_with_alice_bob().await;
    let small = [
        make_png(120, 80, 1),
        make_png(120, 80, 2),
        make_png(82, 82, 3),
    ];
    let jpeg = make_jpeg(320, 240, "AnchorCam");
    let mut ts = Vec::new();
    let r = alice
        .upload(
            "Anchor-small.png",
            &small[0],
            &[("comment", "first upload (png)"), ("text", SMALL_TEXT)],
        )
        .await;
    ts.push(r["upload"]["imageinfo"]["timestamp"].clone());
    let r = alice
        .upload(
            "Anchor-small.png",
            &small[1],
            &[("comment", "second version"), ("ignorewarnings", "1")],
        )
        .await;
    ts.push(r["upload"]["imageinfo"]["timestamp"].clone());
    let r = bob
        .upload(
            "Anchor-small.png",
            &small[2],
            &[("comment", "Bob overwrites Alice"), ("ignorewarnings", "1")],
        )
        .await;
    ts.push(r["upload"]["imageinfo"]["timestamp"].clone());
    let r = alice
        .upload("Anchor-exif.jpg", &jpeg, &[("comment", "jpeg with exif")])
        .await;
    assert_eq!(r["upload"]["result"], "Success", "{r}");
    let r = alice
        .upload(
            "Anchor-exif-copy.jpg",
            &jpeg,
            &[("comment", "dup accepted"), ("ignorewarnings", "1")],
        )
        .await;
    assert_eq!(r["upload"]["result"], "Success", "{r}");
    let r = bob
        .upload(
            "Anchor-other.png",
            &make_png(30, 20, 4),
            &[("comment", "other")],
        )
        .await;
    assert_eq!(r["upload"]["result"], "Success", "{r}");
    let small_ts: [Value; 3] = [ts[0].clone(), ts[1].clone(), ts[2].clone()];
    for t in &small_ts {
        assert!(is_iso_ts(t), "upload timestamps: {small_ts:?}");
    }
    Fixture {
        server,
        alice,
        bob,
        small,
        small_ts,
        jpeg,
    }
}

fn first_page(v: &Value) -> Value {
    match &v["query"]["pages"] {
        Value::Object(o) => o.values().next().cloned().unwrap_or(Value::Null),
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn imageinfo_readback() {
    let f = fixture().await;
    let base = f.server.base.clone();
    let alice = &f.alice;
    let mut c = Check::new(&f.server);

    c.step("10#0 prop=imageinfo with many props (latest version, continuation)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-small.png"),
            (
                "iiprop",
                "timestamp|user|userid|comment|url|size|sha1|mime|mediatype|metadata|commonmetadata|extmetadata|bitdepth|dimensions|canonicaltitle",
            ),
        ])
        .await;
    c.eq("top-level keys", keys(&v), strings(&["continue", "query"]));
    c.json(
        "continue",
        &v["continue"],
        &json!({"iistart": f.small_ts[1], "continue": "||"}),
    );
    let page = first_page(&v);
    c.eq(
        "page keys",
        keys(&page),
        strings(&["pageid", "ns", "title", "imagerepository", "imageinfo"]),
    );
    c.eq(
        "one version",
        page["imageinfo"].as_array().map(Vec::len),
        Some(1),
    );
    let ii = &page["imageinfo"][0];
    c.eq(
        "imageinfo keys",
        keys(ii),
        strings(&[
            "timestamp",
            "user",
            "userid",
            "size",
            "width",
            "height",
            "comment",
            "canonicaltitle",
            "url",
            "descriptionurl",
            "descriptionshorturl",
            "sha1",
            "metadata",
            "commonmetadata",
            "extmetadata",
            "mime",
            "mediatype",
            "bitdepth",
        ]),
    );
    c.eq("timestamp", &ii["timestamp"], &f.small_ts[2]);
    c.eq("user", &ii["user"], &json!("Bob"));
    c.eq("comment", &ii["comment"], &json!("Bob overwrites Alice"));
    c.eq("size", &ii["size"], &json!(f.small[2].len()));
    c.eq("width", &ii["width"], &json!(82));
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&f.small[2])));
    c.eq(
        "url",
        &ii["url"],
        &json!(format!("{base}/w/images/2/23/Anchor-small.png")),
    );
    c.eq(
        "descriptionshorturl",
        &ii["descriptionshorturl"],
        &json!(format!("{base}/w/index.php?curid={}", page["pageid"])),
    );
    c.eq("mime", &ii["mime"], &json!("image/png"));
    c.eq("mediatype", &ii["mediatype"], &json!("BITMAP"));
    c.eq("bitdepth", &ii["bitdepth"], &json!(8));
    c.json(
        "extmetadata",
        &ii["extmetadata"],
        &json!({
            "DateTime": {"value": f.small_ts[2], "source": "mediawiki-metadata", "hidden": ""},
            "ObjectName": {"value": "Anchor-small", "source": "mediawiki-metadata", "hidden": ""}
        }),
    );

    c.step("10#1 prop=imageinfo all props for the JPEG, formatversion=2");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-exif.jpg"),
            (
                "iiprop",
                "timestamp|user|userid|comment|parsedcomment|canonicaltitle|url|dimensions|size|sha1|mime|thumbmime|mediatype|metadata|commonmetadata|extmetadata|archivename|bitdepth|uploadwarning|badfile",
            ),
            ("iilimit", "max"),
            ("formatversion", "2"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(true));
    c.json("limits", &v["limits"], &json!({"imageinfo": 500}));
    let page = &v["query"]["pages"][0];
    c.eq(
        "page keys",
        keys(page),
        strings(&[
            "pageid",
            "ns",
            "title",
            "imagerepository",
            "badfile",
            "imageinfo",
        ]),
    );
    c.eq("badfile", &page["badfile"], &json!(false));
    let ii = &page["imageinfo"][0];
    c.eq("imageinfo keys", keys(ii), published_imageinfo_keys(true));
    c.eq("sha1", &ii["sha1"], &json!(sha1_hex(&f.jpeg)));
    c.eq(
        "parsedcomment",
        &ii["parsedcomment"],
        &json!("jpeg with exif"),
    );
    c.ok(
        "html is the exists notice",
        ii["html"].as_str().unwrap_or("").starts_with(
            "<p>A file with this name exists already, please check <strong><a class=\"mw-selflink selflink\">File:Anchor-exif.jpg</a></strong>",
        ),
        &ii["html"],
    );

    c.step("10#3 imageinfo history with iilimit=2 (continuation)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-small.png"),
            ("iiprop", "timestamp|user|size|sha1|archivename|comment"),
            ("iilimit", "2"),
        ])
        .await;
    c.json(
        "continue",
        &v["continue"],
        &json!({"iistart": f.small_ts[0], "continue": "||"}),
    );
    let page = first_page(&v);
    let hist = page["imageinfo"].as_array().cloned().unwrap_or_default();
    c.eq("two versions", hist.len(), 2);
    if hist.len() == 2 {
        c.eq(
            "current keys",
            keys(&hist[0]),
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
        c.eq(
            "old keys",
            keys(&hist[1]),
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
        c.eq("old user", &hist[1]["user"], &json!("Alice"));
        c.eq("old sha1", &hist[1]["sha1"], &json!(sha1_hex(&f.small[1])));
        c.eq(
            "old archivename",
            hist[1]["archivename"].as_str().unwrap_or(""),
            format!(
                "{}!Anchor-small.png",
                iso_to_ts14(f.small_ts[2].as_str().unwrap_or(""))
            )
            .as_str(),
        );
    }
    c.step("10#3b following iistart gives the first version");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-small.png"),
            ("iiprop", "timestamp|user|sha1"),
            ("iilimit", "2"),
            ("iistart", f.small_ts[0].as_str().unwrap_or("")),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let page = first_page(&v);
    c.eq(
        "first version sha1",
        &page["imageinfo"][0]["sha1"],
        &json!(sha1_hex(&f.small[0])),
    );
    c.eq(
        "only one",
        page["imageinfo"].as_array().map(Vec::len),
        Some(1),
    );

    c.step("10#4 imageinfo for a missing file next to an existing one");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("titles", "File:Anchor-exif.jpg|File:Does-not-exist.png"),
            ("iiprop", "size|mime|mediatype|url|sha1"),
        ])
        .await;
    c.json(
        "missing page",
        &v["query"]["pages"]["-1"],
        &json!({"ns": 6, "title": "File:Does-not-exist.png", "missing": "", "imagerepository": ""}),
    );
    c.eq(
        "two pages",
        v["query"]["pages"].as_object().map(|o| o.len()),
        Some(2),
    );
    c.finish();
}

#[tokio::test]
async fn allimages_readback() {
    let f = fixture().await;
    let base = f.server.base.clone();
    let alice = &f.alice;
    let mut c = Check::new(&f.server);

    c.step("10#5 list=allimages (first 2, continuation)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            (
                "aiprop",
                "timestamp|user|comment|url|size|sha1|mime|mediatype|dimensions",
            ),
            ("ailimit", "2"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    c.json(
        "continue",
        &v["continue"],
        &json!({"aicontinue": "Anchor-other.png", "continue": "-||"}),
    );
    let items = v["query"]["allimages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq(
        "names",
        field_of_each(&items, "name"),
        strings(&["Anchor-exif-copy.jpg", "Anchor-exif.jpg"]),
    );
    if let Some(i) = items.first() {
        c.eq(
            "item keys",
            keys(i),
            strings(&[
                "name",
                "timestamp",
                "user",
                "size",
                "width",
                "height",
                "comment",
                "url",
                "descriptionurl",
                "descriptionshorturl",
                "sha1",
                "mime",
                "mediatype",
                "ns",
                "title",
            ]),
        );
        c.eq("comment", &i["comment"], &json!("dup accepted"));
        c.eq(
            "url",
            &i["url"],
            &json!(format!("{base}/w/images/d/df/Anchor-exif-copy.jpg")),
        );
        c.eq("title", &i["title"], &json!("File:Anchor-exif-copy.jpg"));
        c.eq("ns", &i["ns"], &json!(6));
    }

    c.step("10#5b continue with aicontinue");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("ailimit", "2"),
            ("aicontinue", "Anchor-other.png"),
            ("continue", "-||"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    c.eq(
        "names",
        v["query"]["allimages"]
            .as_array()
            .map(|a| field_of_each(a, "name"))
            .unwrap_or_default(),
        strings(&["Anchor-other.png", "Anchor-small.png"]),
    );

    c.step("10#6 list=allimages aisha1=<hex sha1 of the JPEG>");
    let sha = sha1_hex(&f.jpeg);
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("aisha1", &sha),
            ("aiprop", "sha1|size|timestamp"),
        ])
        .await;
    let items = v["query"]["allimages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq(
        "names",
        field_of_each(&items, "name"),
        strings(&["Anchor-exif-copy.jpg", "Anchor-exif.jpg"]),
    );
    if let Some(i) = items.first() {
        c.eq(
            "keys",
            keys(i),
            strings(&[
                "name",
                "timestamp",
                "size",
                "width",
                "height",
                "sha1",
                "ns",
                "title",
            ]),
        );
        c.eq("sha1", &i["sha1"], &json!(sha));
    }

    c.step("10#7 list=allimages aisha1, formatversion=2 (default props)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("aisha1", &sha),
            ("formatversion", "2"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(true));
    if let Some(i) = v["query"]["allimages"].get(0) {
        c.eq(
            "keys",
            keys(i),
            strings(&[
                "name",
                "timestamp",
                "url",
                "descriptionurl",
                "descriptionshorturl",
                "ns",
                "title",
            ]),
        );
    } else {
        c.ok("items", false, &v);
    }

    c.step("aisha1 of an old version finds nothing (current versions only)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("aisha1", &sha1_hex(&f.small[0])),
        ])
        .await;
    c.json("allimages", &v["query"]["allimages"], &json!([]));

    c.step("invalid aisha1");
    let r = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("aisha1", "xyz"),
        ])
        .await;
    c.error(
        &r,
        "invalidsha1hash",
        Some("The SHA1 hash provided is not valid."),
    );

    c.step("10#8 list=allimages sorted by timestamp, aiuser=Alice, ailimit=1");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("aisort", "timestamp"),
            ("aidir", "older"),
            ("ailimit", "1"),
            ("aiuser", "Alice"),
            ("aiprop", "timestamp|user"),
        ])
        .await;
    let first = v["query"]["allimages"][0].clone();
    c.eq(
        "keys",
        keys(&first),
        strings(&["name", "timestamp", "user", "ns", "title"]),
    );
    c.eq("user", &first["user"], &json!("Alice"));
    let cont = v["continue"]["aicontinue"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    c.eq(
        "continue.continue",
        &v["continue"]["continue"],
        &json!("-||"),
    );
    let (cont_ts, cont_name) = cont.split_once('|').unwrap_or(("", ""));
    c.ok(
        "aicontinue <YYYYMMDDHHMMSS>|<name>",
        cont_ts.len() == 14 && cont_ts.bytes().all(|b| b.is_ascii_digit()),
        &cont,
    );
    let mut seen = vec![
        first["name"].as_str().unwrap_or("").to_owned(),
        cont_name.to_owned(),
    ];
    seen.sort();
    c.eq(
        "Alice's current files",
        seen,
        strings(&["Anchor-exif-copy.jpg", "Anchor-exif.jpg"]),
    );
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "allimages"),
            ("aisort", "timestamp"),
            ("aidir", "older"),
            ("ailimit", "1"),
            ("aiuser", "Alice"),
            ("aiprop", "timestamp|user"),
            ("aicontinue", &cont),
        ])
        .await;
    c.eq(
        "continued item",
        &v["query"]["allimages"][0]["name"],
        &json!(cont_name),
    );
    c.eq(
        "its timestamp matches the continuation",
        iso_to_ts14(
            v["query"]["allimages"][0]["timestamp"]
                .as_str()
                .unwrap_or(""),
        ),
        cont_ts.to_owned(),
    );
    c.eq("no more", &v["continue"], &Value::Null);
    c.finish();
}

#[tokio::test]
async fn revisions_log_and_page_info() {
    let f = fixture().await;
    let base = f.server.base.clone();
    let alice = &f.alice;
    let mut c = Check::new(&f.server);

    c.step("10#9 prop=revisions of File: pages (latest revision content)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "revisions"),
            ("titles", "File:Anchor-small.png|File:Anchor-exif.jpg"),
            (
                "rvprop",
                "ids|timestamp|user|comment|content|contentmodel|size|sha1",
            ),
            ("rvslots", "main"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(""));
    let pages: Vec<Value> = v["query"]["pages"]
        .as_object()
        .map(|o| o.values().cloned().collect())
        .unwrap_or_default();
    for p in &pages {
        let rev = &p["revisions"][0];
        c.eq(
            "revision keys",
            keys(rev),
            strings(&[
                "revid",
                "parentid",
                "user",
                "timestamp",
                "size",
                "sha1",
                "slots",
                "comment",
            ]),
        );
        let (text, comment, user) = if p["title"] == "File:Anchor-small.png" {
            (
                SMALL_TEXT,
                "Bob uploaded a new version of [[File:Anchor-small.png]]",
                "Bob",
            )
        } else {
            ("jpeg with exif", "jpeg with exif", "Alice")
        };
        c.json(
            "slots",
            &rev["slots"],
            &json!({"main": {"contentmodel": "wikitext", "contentformat": "text/x-wiki", "*": text}}),
        );
        c.eq("comment", &rev["comment"], &json!(comment));
        c.eq("user", &rev["user"], &json!(user));
        c.eq("size", &rev["size"], &json!(text.len()));
        c.eq("sha1", &rev["sha1"], &json!(sha1_hex(text.as_bytes())));
    }

    c.step("10#10 all revisions of File:Anchor-small.png (each re-upload adds a null revision)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "revisions"),
            ("titles", "File:Anchor-small.png"),
            ("rvprop", "ids|timestamp|user|comment|size"),
            ("rvlimit", "max"),
        ])
        .await;
    c.json("limits", &v["limits"], &json!({"revisions": 500}));
    let page = first_page(&v);
    let revs = page["revisions"].as_array().cloned().unwrap_or_default();
    c.eq(
        "comments",
        field_of_each(&revs, "comment"),
        strings(&[
            "Bob uploaded a new version of [[File:Anchor-small.png]]",
            "Alice uploaded a new version of [[File:Anchor-small.png]]",
            "first upload (png)",
        ]),
    );
    c.eq(
        "users",
        field_of_each(&revs, "user"),
        strings(&["Bob", "Alice", "Alice"]),
    );
    for (i, r) in revs.iter().enumerate() {
        c.eq("size stays", &r["size"], &json!(SMALL_TEXT.len()));
        let parent = revs
            .get(i + 1)
            .map(|p| p["revid"].clone())
            .unwrap_or(json!(0));
        c.eq(&format!("rev[{i}] parentid"), &r["parentid"], &parent);
    }

    c.step("10#11 list=logevents letype=upload (upload / overwrite actions)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "logevents"),
            ("letype", "upload"),
            ("lelimit", "10"),
            (
                "leprop",
                "ids|title|type|user|userid|timestamp|comment|details|tags",
            ),
        ])
        .await;
    let events = v["query"]["logevents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq("six upload log entries", events.len(), 6);
    let mut titles: Vec<String> = field_of_each(&events, "title");
    titles.sort();
    c.eq(
        "titles",
        titles,
        strings(&[
            "File:Anchor-exif-copy.jpg",
            "File:Anchor-exif.jpg",
            "File:Anchor-other.png",
            "File:Anchor-small.png",
            "File:Anchor-small.png",
            "File:Anchor-small.png",
        ]),
    );
    for w in events.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let newer_first = (a["timestamp"].as_str(), a["logid"].as_i64())
            > (b["timestamp"].as_str(), b["logid"].as_i64());
        c.ok(
            "newest first",
            newer_first,
            format!("{} before {}", a["logid"], b["logid"]),
        );
    }
    if let Some(e) = events
        .iter()
        .find(|e| e["title"] == "File:Anchor-small.png")
    {
        c.eq(
            "entry keys",
            keys(e),
            strings(&[
                "logid",
                "ns",
                "title",
                "pageid",
                "logpage",
                "params",
                "type",
                "action",
                "user",
                "userid",
                "timestamp",
                "comment",
                "tags",
            ]),
        );
        c.json(
            "params (sha1 in base 36)",
            &e["params"],
            &json!({"img_sha1": sha1_base36(&sha1_hex(&f.small[2])), "img_timestamp": f.small_ts[2]}),
        );
        c.eq("action", &e["action"], &json!("overwrite"));
        c.eq("user", &e["user"], &json!("Bob"));
        c.eq("timestamp", &e["timestamp"], &f.small_ts[2]);
        c.eq("comment", &e["comment"], &json!("Bob overwrites Alice"));
        c.json("tags", &e["tags"], &json!([]));
        c.eq("pageid == logpage", &e["pageid"], &e["logpage"]);
    }

    c.step("10#12 upload log for one file, formatversion=2");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "logevents"),
            ("letype", "upload"),
            ("letitle", "File:Anchor-small.png"),
            ("formatversion", "2"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(true));
    let events = v["query"]["logevents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq(
        "actions",
        field_of_each(&events, "action"),
        strings(&["overwrite", "overwrite", "upload"]),
    );
    for (i, e) in events.iter().enumerate() {
        c.eq(
            "entry keys (default leprop)",
            keys(e),
            strings(&[
                "logid",
                "ns",
                "title",
                "pageid",
                "logpage",
                "params",
                "type",
                "action",
                "user",
                "timestamp",
                "comment",
            ]),
        );
        let k = 2 - i.min(2);
        c.eq(
            &format!("entry {i} sha1"),
            &e["params"]["img_sha1"],
            &json!(sha1_base36(&sha1_hex(&f.small[k]))),
        );
    }

    c.step("10#20 page info + imageinfo defaults + categories");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("titles", "File:Anchor-small.png"),
            ("prop", "info|imageinfo|categories"),
            ("inprop", "url"),
        ])
        .await;
    c.json(
        "continue",
        &v["continue"],
        &json!({"iistart": f.small_ts[1], "continue": "||info|categories"}),
    );
    let page = first_page(&v);
    c.eq(
        "page keys",
        keys(&page),
        strings(&[
            "pageid",
            "ns",
            "title",
            "contentmodel",
            "pagelanguage",
            "pagelanguagehtmlcode",
            "pagelanguagedir",
            "touched",
            "lastrevid",
            "length",
            "fullurl",
            "editurl",
            "canonicalurl",
            "imagerepository",
            "imageinfo",
            "categories",
        ]),
    );
    c.eq("length", &page["length"], &json!(SMALL_TEXT.len()));
    c.eq(
        "fullurl",
        &page["fullurl"],
        &json!(format!("{base}/w/index.php?title=File:Anchor-small.png")),
    );
    c.eq(
        "editurl",
        &page["editurl"],
        &json!(format!(
            "{base}/w/index.php?title=File:Anchor-small.png&action=edit"
        )),
    );
    c.json(
        "imageinfo",
        &page["imageinfo"],
        &json!([{"timestamp": f.small_ts[2], "user": "Bob"}]),
    );
    c.json(
        "categories",
        &page["categories"],
        &json!([{"ns": 14, "title": "Category:Anchor tests"}]),
    );
    c.finish();
}

#[tokio::test]
async fn stash_readback() {
    let f = fixture().await;
    let base = f.server.base.clone();
    let alice = &f.alice;
    let mut c = Check::new(&f.server);

    c.step("10#14 stash two files");
    let s1 = make_png(36, 36, 40);
    let s2 = make_png(36, 36, 41);
    let k1 = alice
        .upload("Anchor-stash-readback.png", &s1, &[("stash", "1")])
        .await["upload"]["filekey"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let k2 = alice
        .upload("Anchor-stash-readback2.png", &s2, &[("stash", "1")])
        .await["upload"]["filekey"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    c.ok(
        "filekeys",
        is_filekey(&json!(k1), "png") && is_filekey(&json!(k2), "png"),
        format!("{k1} {k2}"),
    );

    c.step("10#15 prop=stashimageinfo, all props");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &k1),
            ("siiprop", "timestamp|canonicaltitle|url|size|dimensions|sha1|mime|thumbmime|metadata|commonmetadata|bitdepth|badfile"),
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
            "canonicaltitle",
            "url",
            "descriptionurl",
            "sha1",
            "metadata",
            "commonmetadata",
            "mime",
            "bitdepth",
        ]),
    );
    c.eq("sha1", &sii["sha1"], &json!(sha1_hex(&s1)));
    c.eq(
        "url",
        &sii["url"],
        &json!(format!(
            "{base}/w/index.php?title=Special:UploadStash/file/{k1}"
        )),
    );

    c.step("10#15b two keys at once, in key order");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &format!("{k2}|{k1}")),
            ("siiprop", "sha1"),
        ])
        .await;
    c.json(
        "stashimageinfo",
        &v["query"]["stashimageinfo"],
        &json!([{"sha1": sha1_hex(&s2)}, {"sha1": sha1_hex(&s1)}]),
    );

    c.step("stashimageinfo of Bob's view: another user's key is not his");
    let r = f
        .bob
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &k1),
        ])
        .await;
    c.ok("an error for Bob", r.2.get("error").is_some(), &r.2);

    c.step("10#17 list=mystashedfiles (limit 1, continuation)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
            ("msfprop", "size|type"),
            ("msflimit", "1"),
        ])
        .await;
    c.json(
        "mystashedfiles",
        &v["query"]["mystashedfiles"],
        &json!([{"filekey": k1, "status": "finished", "size": s1.len(), "width": 36, "height": 36, "bits": 8, "mimetype": "image/png", "mediatype": "BITMAP"}]),
    );
    c.eq(
        "item keys",
        keys(&v["query"]["mystashedfiles"][0]),
        strings(&[
            "filekey",
            "status",
            "size",
            "width",
            "height",
            "bits",
            "mimetype",
            "mediatype",
        ]),
    );
    c.ok(
        "msfcontinue is a string",
        v["continue"]["msfcontinue"].is_string(),
        &v["continue"],
    );
    c.eq(
        "continue.continue",
        &v["continue"]["continue"],
        &json!("-||"),
    );
    let cont = v["continue"]["msfcontinue"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
            ("msflimit", "1"),
            ("msfcontinue", &cont),
        ])
        .await;
    c.json(
        "second page",
        &v["query"]["mystashedfiles"],
        &json!([{"filekey": k2, "status": "finished"}]),
    );

    c.step("10#18 list=mystashedfiles formatversion=2 (default props)");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
            ("formatversion", "2"),
        ])
        .await;
    c.eq("batchcomplete", &v["batchcomplete"], &json!(true));
    c.json(
        "mystashedfiles",
        &v["query"]["mystashedfiles"],
        &json!([{"filekey": k1, "status": "finished"}, {"filekey": k2, "status": "finished"}]),
    );

    c.step("Bob's stash is empty");
    let (_, _, v) = f
        .bob
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
        ])
        .await;
    c.json("mystashedfiles", &v["query"]["mystashedfiles"], &json!([]));

    c.step("10#19 list=mystashedfiles anonymously");
    let anon = Client::new(&f.server);
    let r = anon
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("list", "mystashedfiles"),
        ])
        .await;
    c.error(
        &r,
        "stashnotloggedin",
        Some("The upload stash is only available to logged-in users."),
    );

    c.step("anonymous prop=stashimageinfo");
    let r = anon
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &k1),
        ])
        .await;
    c.error(
        &r,
        "notloggedin",
        Some("The upload stash is only available to logged-in users."),
    );
    c.finish();
}
