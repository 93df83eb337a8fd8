//! File names, extensions and content checks: every step of `05-bad-filenames.json`
//! (MediaWiki 1.39). The server uses the reference wiki's `file_extensions`, so the
//! `filetype-banned` texts match the transcript word for word.

mod common;

use common::*;
use serde_json::{json, Value};

/// What a step must answer.
enum Expect {
    /// `Success` under this name, no warnings.
    Success(String),
    /// `Warning` with exactly these warnings; the file key has this extension.
    Warning(Value, &'static str),
    /// An error: code, info, and the error's keys between `info` and `*` with their values.
    Error(&'static str, String, Value),
}

fn allowed() -> Value {
    json!(REFERENCE_EXTENSIONS_TEXT.split(", ").collect::<Vec<_>>())
}

fn banned(ext: &str, shown: &str, blacklisted: Option<&[&str]>) -> Expect {
    let info = format!("\".{shown}\" is not a permitted file type. Permitted file types are {REFERENCE_EXTENSIONS_TEXT}.");
    let mut extra = json!({"filetype": ext, "allowed": allowed()});
    if let Some(b) = blacklisted {
        extra["blacklisted"] = json!(b);
    }
    Expect::Error("filetype-banned", info, extra)
}

fn verification(info: &str, details: Value) -> Expect {
    Expect::Error(
        "verification-error",
        info.to_owned(),
        json!({"details": details}),
    )
}

/// Recoverable name errors carry a file key; `FILEKEY` stands for it here.
fn recoverable(code: &'static str, info: &str, filename: Option<&str>) -> Expect {
    let mut extra = serde_json::Map::new();
    if let Some(f) = filename {
        extra.insert("filename".into(), json!(f));
    }
    extra.insert("filekey".into(), json!("FILEKEY"));
    extra.insert("sessionkey".into(), json!("FILEKEY"));
    extra.insert("invalidparameter".into(), json!("filename"));
    Expect::Error(code, info.to_owned(), Value::Object(extra))
}

fn badfilename(name: &str) -> Expect {
    Expect::Warning(json!({"badfilename": name}), "png")
}

/// A minimal 24-bit BMP of 3×23 pixels (330 bytes, like the reference's test file).
fn make_bmp() -> Vec<u8> {
    let (w, h) = (3u32, 23u32);
    let row = (w * 3).div_ceil(4) * 4;
    let pixels = row * h;
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&(54 + pixels).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&pixels.to_le_bytes());
    out.extend_from_slice(&2835u32.to_le_bytes());
    out.extend_from_slice(&2835u32.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend((0..pixels).map(|i| (i * 7 % 256) as u8));
    out
}

/// A DOS/PE stub: starts with `MZ` (166 bytes).
fn make_exe() -> Vec<u8> {
    let mut out = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00\x40".to_vec();
    out.resize(0x3c, 0);
    out.extend_from_slice(&0x80u32.to_le_bytes());
    out.extend_from_slice(b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21");
    out.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$");
    out.resize(166, 0);
    out
}

const SVG_SCRIPT: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\"><script type=\"text/javascript\">alert(document.cookie)</script><rect width=\"100\" height=\"100\"/></svg>\n";
const SVG_ONLOAD: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\" onload=\"alert(1)\"><rect width=\"100\" height=\"100\" fill=\"red\"/></svg>\n";
const HTML_AS_PNG: &str = "<html><head><title>Not a PNG</title></head><body><p>This is HTML pretending to be a PNG image.</p></body></html>\n";

#[tokio::test]
async fn bad_filenames_and_content_checks() {
    let server = Server::start_with_config(REFERENCE_EXTENSIONS_TOML);
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let mut c = Check::new(&server);
    let base = server.base.clone();

    c.step("setup: File:Anchor-small.png exists");
    let r = alice
        .upload_resp("Anchor-small.png", &make_png(120, 80, 1), &[])
        .await;
    c.upload_result(&r, "Success");

    let a240 = format!("{}.png", "A".repeat(236));
    let a241 = format!("{}.png", "A".repeat(237));
    let mut truncated = make_png(60, 60, 900);
    truncated.truncate(1061);
    let garbage: Vec<u8> = (0..8).flat_map(|_| 0..=255u8).collect();
    let mismatch = |ext: &str, mime: &str| {
        verification(
            &format!("File extension \".{ext}\" does not match the detected MIME type of the file ({mime})."),
            json!(["filetype-mime-mismatch", ext, mime]),
        )
    };
    let badmime = |mime: &str| {
        verification(
            &format!("Files of the MIME type \"{mime}\" are not allowed to be uploaded."),
            json!(["filetype-badmime", mime]),
        )
    };

    // (step, requested name, content (empty: fresh PNG bytes), expectation)
    let steps: Vec<(&str, String, Vec<u8>, Expect)> = vec![
        ("05#1 lowercase first letter + spaces", "anchor lower case.png".into(), vec![], Expect::Success("Anchor_lower_case.png".into())),
        ("05#2 double and trailing spaces", "Anchor  double  space .png".into(), vec![], badfilename("Anchor_double_space_.png")),
        ("05#3 underscores", "Anchor_under_score.png".into(), vec![], Expect::Success("Anchor_under_score.png".into())),
        ("05#4 File: prefix", "File:Anchor-ns-prefix.png".into(), vec![], badfilename("Anchor-ns-prefix.png")),
        ("05#5 Image: prefix", "Image:Anchor-image-prefix.png".into(), vec![], badfilename("Anchor-image-prefix.png")),
        ("05#6 '#'", "Anchor#hash.png".into(), vec![], badfilename("Anchor-hash.png")),
        ("05#7 '<' '>'", "Anchor<lt>.png".into(), vec![], badfilename("Anchor-lt-.png")),
        ("05#8 '[' ']'", "Anchor[bracket].png".into(), vec![], badfilename("Anchor-bracket-.png")),
        ("05#9 '{' '}' '|'", "Anchor{brace}|pipe.png".into(), vec![], badfilename("Anchor-brace--pipe.png")),
        ("05#10 '/'", "dir/sub/Anchor-slash.png".into(), vec![], badfilename("Dir-sub-Anchor-slash.png")),
        ("05#11 ':'", "Anchor:colon.png".into(), vec![], badfilename("Anchor-colon.png")),
        ("05#12 backslash", "Anchor\\backslash.png".into(), vec![], badfilename("Anchor-backslash.png")),
        ("05#13 '..' path traversal", "../../etc/Anchor-dotdot.png".into(), vec![], badfilename("..-..-etc-Anchor-dotdot.png")),
        ("05#14 name '..'", "..".into(), vec![], recoverable("illegal-filename", "The filename is not allowed.", Some(".."))),
        ("05#15 extension only", ".png".into(), vec![], recoverable("filename-tooshort", "The filename is too short.", None)),
        ("05#16 percent-encoded sequence", "Anchor%20percent.png".into(), vec![], recoverable("illegal-filename", "The filename is not allowed.", Some("Anchor%20percent.png"))),
        ("05#17 tilde", "Anchor~tilde~.png".into(), vec![], Expect::Success("Anchor~tilde~.png".into())),
        ("05#19 non-ASCII name", "Ünïcødé ✓ name.png".into(), vec![], Expect::Success("Ünïcødé_✓_name.png".into())),
        ("05#20 zero-width space kept", "Anchor\u{200b}zero-width.png".into(), vec![], Expect::Success("Anchor\u{200b}zero-width.png".into())),
        ("05#21 no-break space", "Anchor\u{a0}nbsp.png".into(), vec![], badfilename("Anchor_nbsp.png")),
        ("05#22 240-byte name", a240.clone(), vec![], Expect::Success(a240.clone())),
        ("05#23 241-byte name", a241, vec![], recoverable("filename-toolong", "Filenames may not be longer than 240 bytes.", None)),
        ("05#24 no extension, PNG bytes", "Anchor-no-extension".into(), vec![], badfilename("Anchor-no-extension.png")),
        ("05#25 no extension, text bytes", "Anchor-no-extension-text".into(), b"just some text\n".to_vec(), banned("txt", "txt", None)),
        ("05#26 PNG bytes named .jpg", "Anchor-png-as.jpg".into(), vec![], mismatch("jpg", "image/png")),
        ("05#27 upper-case extension .PNG", "Anchor-upper.PNG".into(), vec![], Expect::Success("Anchor-upper.PNG".into())),
        ("05#28 differs only by extension case", "Anchor-small.PNG".into(), vec![], Expect::Warning(json!({"exists-normalized": "Anchor-small.png"}), "png")),
        ("05#29 .jpeg extension", "Anchor-jpeg-ext.jpeg".into(), make_jpeg(64, 48, "JpegExt"), Expect::Success("Anchor-jpeg-ext.jpeg".into())),
        ("05#30 .exe (MZ stub)", "Anchor-evil.exe".into(), make_exe(), verification(
            "Cannot upload this file because Internet Explorer would detect it as \"application/x-msdownload\", which is a disallowed and potentially dangerous file type.",
            json!(["filetype-bad-ie-mime", "application/x-msdownload"]))),
        ("05#31 .php", "Anchor-evil.php".into(), b"<?php echo 'pwned'; ?>\n".to_vec(), badmime("application/x-php")),
        ("05#32 double extension .php.png", "Anchor-evil.php.png".into(), vec![], banned("png", "php", Some(&["php"]))),
        ("SPEC 3.2.1 content before name: PNG bytes as .png.php", "Anchor-evil.png.php".into(), vec![], mismatch("php", "image/png")),
        ("05#33 .txt", "Anchor-doc.txt".into(), b"hello world".to_vec(), banned("txt", "txt", None)),
        ("05#34 .html", "Anchor-doc.html".into(), b"<p>hi</p>\n".to_vec(), badmime("application/xml")),
        ("05#35 .bmp", "Anchor-image.bmp".into(), make_bmp(), banned("bmp", "bmp", None)),
                ("05#37 HTML content named .png", "Anchor-html.png".into(), HTML_AS_PNG.as_bytes().to_vec(), badmime("text/html")),
        ("05#38 SVG with <script>", "Anchor-script.svg".into(), SVG_SCRIPT.as_bytes().to_vec(), verification(
            "This file contains HTML or script code that may be erroneously interpreted by a web browser.",
            json!(["uploadscripted"]))),
        ("05#39 SVG with onload=", "Anchor-onload.svg".into(), SVG_ONLOAD.as_bytes().to_vec(), verification(
            "Setting event-handler attributes \"onload=\"alert(1)\"\" is not allowed in SVG files.",
            json!(["uploaded-event-handler-on-svg", "onload", "alert(1)"]))),
        ("05#41 bytes 0..255 x8 named .png", "Anchor-garbage.png".into(), garbage, mismatch("png", "image/vnd.wap.wbmp")),
        ("05#42 camera-default name", "IMG_0001.jpg".into(), make_jpeg(64, 48, "Camera"), Expect::Warning(json!({"bad-prefix": "IMG_0001.jpg"}), "jpg")),
        ("05#43 thumbnail-like name of an existing file", "120px-Anchor-small.png".into(), vec![], Expect::Warning(json!({"thumb": "120px-Anchor-small.png"}), "png")),
        ("05#44 thumbnail-like name, no base file", "120px-Anchor-nothing.png".into(), vec![], Expect::Warning(json!({"thumb-name": "120px-Anchor-nothing.png"}), "png")),
    ];

    for (i, (step, name, content, expect)) in steps.into_iter().enumerate() {
        c.step(&format!("{step} ({name:?})"));
        let data = if content.is_empty() {
            make_png(26, 26, 100 + i as u32)
        } else {
            content
        };
        let r = alice.upload_resp(&name, &data, &[("comment", step)]).await;
        match expect {
            Expect::Success(final_name) => {
                let up = c.upload_result(&r, "Success");
                c.eq(
                    "upload keys (no warnings)",
                    keys(&up),
                    strings(&["result", "filename", "imageinfo"]),
                );
                c.eq(
                    "filename",
                    up["filename"].as_str().unwrap_or(""),
                    final_name.as_str(),
                );
                c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&data)));
                c.eq("no API warnings", &r.2["warnings"], &Value::Null);
            }
            Expect::Warning(w, ext) => {
                c.warning(&r, &w, ext);
            }
            Expect::Error(code, info, extra) => {
                let e = c.error(&r, code, Some(&info));
                let mut expected_keys = strings(&["code", "info"]);
                expected_keys.extend(keys(&extra));
                expected_keys.push("*".into());
                c.eq("error keys", keys(&e), expected_keys);
                for (k, v) in extra.as_object().cloned().unwrap_or_default() {
                    if v == json!("FILEKEY") {
                        c.ok(
                            &format!("{k} is a file key"),
                            is_filekey(&e[&k], "png"),
                            &e[&k],
                        );
                    } else {
                        c.json(&format!("error.{k}"), &e[&k], &v);
                    }
                }
            }
        }
    }

    c.step("05#36 empty file");
    let r = alice
        .upload_resp("Anchor-empty.png", &[], &[("comment", "empty file")])
        .await;
    let e = c.error(&r, "empty-file", Some("The file you submitted was empty."));
    c.eq("error keys", keys(&e), strings(&["code", "info", "*"]));

    c.step("05#18 Unicode NFD name -> stored NFC + API warning on filename");
    let r = alice
        .upload_resp("Cafe\u{301} decomposed.png", &make_png(26, 26, 200), &[])
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq(
        "filename (NFC)",
        &up["filename"],
        &json!("Caf\u{e9}_decomposed.png"),
    );
    c.json(
        "warnings",
        &r.2["warnings"],
        &json!({"upload": {"*": "The value passed for \"filename\" contains invalid or non-normalized data. Textual data should be valid, NFC-normalized Unicode without C0 control characters other than HT (\\t), LF (\\n), and CR (\\r)."}}),
    );
    c.eq(
        "url",
        &up["imageinfo"]["url"],
        &json!(format!("{base}/w/images/a/a2/Caf%C3%A9_decomposed.png")),
    );

    c.step("05#19b non-ASCII URLs are percent-encoded and served");
    let (_, _, v) = alice
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("prop", "imageinfo"),
            ("iiprop", "url|sha1"),
            (
                "titles",
                "File:Ünïcødé ✓ name.png|File:Anchor\u{200b}zero-width.png",
            ),
        ])
        .await;
    let mut urls: Vec<String> = v["query"]["pages"]
        .as_object()
        .map(|o| {
            o.values()
                .map(|p| p["imageinfo"][0]["url"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    urls.sort();
    c.eq(
        "urls",
        urls.clone(),
        vec![
            format!("{base}/w/images/8/85/%C3%9Cn%C3%AFc%C3%B8d%C3%A9_%E2%9C%93_name.png"),
            format!("{base}/w/images/9/9a/Anchor%E2%80%8Bzero-width.png"),
        ],
    );
    for u in &urls {
        let (st, _, _) = alice.fetch(reqwest::Method::GET, u, &[]).await;
        c.eq(&format!("GET {u}"), st, 200);
    }

    // MediaWiki accepts this file (width and height 0); mwstore refuses a file that stops
    // inside a PNG chunk: it is not the image it claims to be.
    c.step("05#40 truncated PNG is refused (MediaWiki accepts it)");
    let r = alice
        .upload_resp(
            "Anchor-truncated.png",
            &truncated,
            &[("comment", "truncated PNG")],
        )
        .await;
    c.verification_error(
        &r,
        &json!([
            "uploaded-malformed-image",
            "PNG",
            "the file ends inside a chunk"
        ]),
    );

    c.step("05#45 the multipart part's own filename and type are ignored");
    let token = alice.token();
    let r = alice
        .post_multipart(
            &[
                ("action", "upload"),
                ("format", "json"),
                ("filename", "Anchor-partname.png"),
                ("token", &token),
            ],
            vec![FilePart {
                field: "file",
                filename: "something-else.gif",
                content_type: Some("image/gif"),
                data: make_png(26, 26, 201),
            }],
        )
        .await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-partname.png"));
    c.eq("comment", &up["imageinfo"]["comment"], &json!(""));
    c.eq("mime", &up["imageinfo"]["mime"], &json!("image/png"));

    c.step("05#46 lower-case name with ignorewarnings=1");
    let r = alice
        .upload_resp(
            "anchor lower ignored.png",
            &make_png(26, 26, 202),
            &[("ignorewarnings", "1")],
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
        &json!("Anchor_lower_ignored.png"),
    );

    c.step("recoverable name error: the stashed file can be published under a good name");
    let data = make_png(26, 26, 203);
    let r = alice.upload_resp("Anchor%41bad.png", &data, &[]).await;
    let e = c.error(&r, "illegal-filename", Some("The filename is not allowed."));
    let key = e["filekey"].as_str().unwrap_or("").to_owned();
    let r = alice.publish_filekey(&key, "Anchor-renamed.png", &[]).await;
    let up = c.upload_result(&r, "Success");
    c.eq("filename", &up["filename"], &json!("Anchor-renamed.png"));
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&data)));
    c.finish();
}

#[tokio::test]
async fn default_extensions_ban_svg() {
    let server = Server::start();
    let alice = bot_client(&server, "Alice", Some(""), "bot", BOT_GRANTS).await;
    let mut c = Check::new(&server);
    c.step("default file_extensions: .svg is banned, the list names png, gif, jpg, jpeg, webp");
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>\n";
    let r = alice
        .upload_resp("Anchor-drawing.svg", svg.as_bytes(), &[])
        .await;
    let e = c.error(
        &r,
        "filetype-banned",
        Some("\".svg\" is not a permitted file type. Permitted file types are png, gif, jpg, jpeg, webp."),
    );
    c.eq("filetype", &e["filetype"], &json!("svg"));
    c.json(
        "allowed",
        &e["allowed"],
        &json!(["png", "gif", "jpg", "jpeg", "webp"]),
    );
    c.eq("no blacklisted", &e["blacklisted"], &Value::Null);
    c.finish();
}
