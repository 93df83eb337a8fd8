//! Thumbnails over HTTP: the sizes and URLs `prop=imageinfo` reports for `iiurlwidth`,
//! `iiurlheight` and `iiurlparam` (MediaWiki's rules), and `/w/thumb.php` rendering them:
//! each served thumbnail is decoded and its pixel size checked.

mod common;

use serde_json::{json, Value};

use common::*;

/// A real JPEG of `w`×`h` whose EXIF orientation (6) turns it a quarter clockwise.
fn rotated_jpeg(w: u16, h: u16) -> Vec<u8> {
    let base = make_jpeg(w, h, "Camera");
    // make_jpeg's only IFD entry is Make (0x010F, ASCII); make it Orientation = 6 instead.
    let at = base
        .windows(4)
        .position(|x| x == [0x0F, 0x01, 0x02, 0x00])
        .expect("the Make entry");
    let mut out = base.clone();
    out[at..at + 12].copy_from_slice(&[0x12, 0x01, 0x03, 0x00, 1, 0, 0, 0, 6, 0, 0, 0]);
    out
}

async fn info(client: &Client, name: &str, extra: &[(&str, &str)]) -> Value {
    let title = format!("File:{name}");
    let mut params = vec![
        ("action", "query"),
        ("format", "json"),
        ("formatversion", "2"),
        ("prop", "imageinfo"),
        ("iiprop", "url|size|mime|thumbmime"),
        ("titles", &title),
    ];
    params.extend_from_slice(extra);
    let (_, _, body) = client.get(&params).await;
    body["query"]["pages"][0]["imageinfo"][0].clone()
}

/// The URL of thumbnail `thumb` of the file whose original is at `url`.
fn thumb_of(url: &Value, thumb: &str) -> Value {
    let url = url.as_str().unwrap_or("");
    json!(format!(
        "{}/{thumb}",
        url.replacen("/w/images/", "/w/images/thumb/", 1)
    ))
}

/// Fetches the thumbnail an imageinfo entry hands out and checks that it is served as
/// `ctype` at `size` pixels; returns its bytes.
async fn served(c: &mut Check, ii: &Value, ctype: &str, size: (u32, u32)) -> Vec<u8> {
    let (status, got_type, got_size, bytes) = fetch(ii["thumburl"].as_str().unwrap_or("")).await;
    c.eq(
        &format!("served as {ctype}, {} × {} pixels", size.0, size.1),
        (status, got_type.as_str(), got_size),
        (200, ctype, Some(size)),
    );
    bytes
}

/// A server with `config` and Alice logged in to it.
async fn alice_on(config: &str) -> (Server, Client) {
    let server = Server::start_with_config(config);
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    (server, alice)
}

/// Fetches a URL; returns the status, the content type and the decoded image's size.
async fn fetch(url: &str) -> (u16, String, Option<(u32, u32)>, Vec<u8>) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let ctype = header(r.headers(), "content-type");
    let bytes = r.bytes().await.expect("body").to_vec();
    let size = image::load_from_memory(&bytes)
        .ok()
        .map(|i| (i.width(), i.height()));
    (status, ctype, size, bytes)
}

/// How many thumbnails the server has rendered (`/metrics`).
async fn rendered_count(server: &Server) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics");
    text.lines()
        .filter(|l| l.starts_with("mwstore_thumbnails_rendered_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn thumbnails_have_mediawikis_sizes_and_are_rendered() {
    let (server, alice) = alice_on(
        "thumbnail_max_source_area = 5000000\nfile_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\"]\n",
    )
    .await;
    let mut c = Check::new(&server);

    let photo = make_jpeg(640, 480, "Camera");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("Thumb photo.jpg", photo.clone()),
        ("Thumb-rot6.jpg", rotated_jpeg(640, 480)),
        ("Thumb-png300.png", make_png(300, 200, 5)),
        ("Thumb-webp.webp", encoded_webp(320, 240)),
        ("Thumb-big.png", flat_png(3000, 2000)),
        (
            "Thumb-drawing.svg",
            br##"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" fill="#0a0"/><circle cx="200" cy="150" r="100" fill="#fff"/></svg>"##.to_vec(),
        ),
    ];
    for (name, bytes) in &files {
        let r = alice
            .upload_resp(name, bytes, &[("ignorewarnings", "1")])
            .await;
        c.upload_result(&r, "Success");
    }
    let base = format!("{}/w/thumb.php?f=", server.base);

    c.step("a JPEG at 220px: MediaWiki's size, its /thumb/ URL, 1.5x and 2x");
    let ii = info(&alice, "Thumb photo.jpg", &[("iiurlwidth", "220")]).await;
    c.eq(
        "thumburl",
        &ii["thumburl"],
        &thumb_of(&ii["url"], "220px-Thumb_photo.jpg"),
    );
    c.eq("thumbwidth", &ii["thumbwidth"], &json!(220));
    c.eq("thumbheight", &ii["thumbheight"], &json!(165));
    c.eq("thumbmime", &ii["thumbmime"], &json!("image/jpeg"));
    c.eq(
        "responsiveUrls",
        &ii["responsiveUrls"],
        &json!({
            "1.5": thumb_of(&ii["url"], "330px-Thumb_photo.jpg"),
            "2": thumb_of(&ii["url"], "440px-Thumb_photo.jpg"),
        }),
    );
    let bytes = served(&mut c, &ii, "image/jpeg", (220, 165)).await;
    c.ok(
        "not the original",
        bytes != photo,
        "the original was served",
    );

    c.step("a height binds: the largest width whose rounded height fits");
    let ii = info(
        &alice,
        "Thumb photo.jpg",
        &[("iiurlwidth", "220"), ("iiurlheight", "100")],
    )
    .await;
    c.eq("thumbwidth", &ii["thumbwidth"], &json!(133));
    c.eq("thumbheight", &ii["thumbheight"], &json!(100));
    let ii = info(&alice, "Thumb photo.jpg", &[("iiurlparam", "qlow-150px")]).await;
    c.eq(
        "iiurlparam qlow-150px",
        &ii["thumburl"],
        &thumb_of(&ii["url"], "qlow-150px-Thumb_photo.jpg"),
    );
    let (_, _, size, _) = fetch(ii["thumburl"].as_str().unwrap_or("")).await;
    c.eq("150 × 113 pixels", size, Some((150, 113)));

    c.step("no upscaling: a PNG asked wider than it is hands out the original");
    let ii = info(&alice, "Thumb-png300.png", &[("iiurlwidth", "1280")]).await;
    c.eq("thumburl", &ii["thumburl"], &ii["url"]);
    c.eq("thumbwidth", &ii["thumbwidth"], &json!(300));
    c.eq("thumbheight", &ii["thumbheight"], &json!(200));
    c.ok("no responsiveUrls", ii.get("responsiveUrls").is_none(), &ii);
    let ii = info(&alice, "Thumb-png300.png", &[("iiurlwidth", "220")]).await;
    c.eq("2x is the original", &ii["responsiveUrls"]["2"], &ii["url"]);
    served(&mut c, &ii, "image/png", (220, 147)).await;

    c.step("a JPEG turned by EXIF: upright, rendered at its own size when asked for more");
    let ii = info(&alice, "Thumb-rot6.jpg", &[("iiurlwidth", "1280")]).await;
    c.eq("reported width (as asked)", &ii["thumbwidth"], &json!(1280));
    c.eq("reported height", &ii["thumbheight"], &json!(1707));
    let (_, _, size, _) = fetch(ii["thumburl"].as_str().unwrap_or("")).await;
    c.eq("served upright at 480 × 640", size, Some((480, 640)));
    let ii = info(&alice, "Thumb-rot6.jpg", &[("iiurlwidth", "220")]).await;
    c.eq(
        "2x is 439px, as MediaWiki computes it",
        &ii["responsiveUrls"]["2"],
        &thumb_of(&ii["url"], "439px-Thumb-rot6.jpg"),
    );

    c.step("a WebP's thumbnails are PNG");
    let ii = info(&alice, "Thumb-webp.webp", &[("iiurlwidth", "100")]).await;
    c.eq("thumbmime", &ii["thumbmime"], &json!("image/png"));
    served(&mut c, &ii, "image/png", (100, 75)).await;

    c.step("an SVG is rasterised as PNG, at any size");
    let ii = info(&alice, "Thumb-drawing.svg", &[("iiurlwidth", "220")]).await;
    c.eq(
        "thumburl",
        &ii["thumburl"],
        &thumb_of(&ii["url"], "220px-Thumb-drawing.svg.png"),
    );
    c.eq("thumbheight", &ii["thumbheight"], &json!(165));
    c.eq("thumbmime", &ii["thumbmime"], &json!("image/png"));
    served(&mut c, &ii, "image/png", (220, 165)).await;
    let ii = info(&alice, "Thumb-drawing.svg", &[("iiurlwidth", "800")]).await;
    let (_, _, size, _) = fetch(ii["thumburl"].as_str().unwrap_or("")).await;
    c.eq("larger than drawn: 800 × 600", size, Some((800, 600)));

    c.step("a source over thumbnail_max_source_area gets a thumberror");
    let ii = info(&alice, "Thumb-big.png", &[("iiurlwidth", "220")]).await;
    c.eq(
        "thumberror",
        &ii["thumberror"],
        &json!("Error creating thumbnail: File with dimensions greater than 5 MP"),
    );
    c.ok("no thumburl", ii.get("thumburl").is_none(), &ii);

    c.step("parameters that give no width fail the request, as in MediaWiki");
    let ask = |extra: Vec<(&'static str, &'static str)>| {
        let alice = &alice;
        async move {
            let mut params = vec![
                ("action", "query"),
                ("format", "json"),
                ("formatversion", "2"),
                ("prop", "imageinfo"),
                ("iiprop", "url"),
                ("titles", "File:Thumb photo.jpg"),
            ];
            params.extend(extra);
            alice.get(&params).await.2
        }
    };
    let body = ask(vec![("iiurlwidth", "0")]).await;
    c.eq(
        "iiurlwidth=0",
        &body["error"]["code"],
        &json!("urlparamnormal"),
    );
    c.eq(
        "its info",
        &body["error"]["info"],
        &json!("Could not normalize image parameters for Thumb_photo.jpg."),
    );
    let body = ask(vec![("iiurlparam", "foo")]).await;
    c.eq(
        "iiurlparam=foo alone",
        &body["error"]["code"],
        &json!("urlparamnormal"),
    );
    let body = ask(vec![("iiurlwidth", "220"), ("iiurlparam", "foo")]).await;
    c.eq(
        "with a width: a warning",
        &body["warnings"]["imageinfo"]["warnings"],
        &json!("Could not parse \"iiurlparam\" for Thumb_photo.jpg. Using only width and height."),
    );
    c.eq(
        "and the thumbnail",
        &body["query"]["pages"][0]["imageinfo"][0]["thumbwidth"],
        &json!(220),
    );
    let body = ask(vec![("iiurlwidth", "220"), ("iiurlparam", "300px")]).await;
    c.eq(
        "a second width is ignored, with a warning",
        &body["warnings"]["imageinfo"]["warnings"],
        &json!("Ignoring width value set in \"iiurlparam\" (300) in favor of width value derived from \"iiurlwidth\"/\"iiurlheight\" (220)."),
    );
    let body = ask(vec![("iiurlparam", "0px")]).await;
    c.eq(
        "iiurlparam=0px",
        &body["error"]["code"],
        &json!("invalidurlparam"),
    );

    c.step("thumb.php refusals");
    let (status, _, _, body) = fetch(&format!("{base}Thumb-png300.png&width=400")).await;
    c.eq("wider than the source: 400", status, 400);
    c.ok(
        "says why",
        String::from_utf8_lossy(&body).contains("Image was not scaled"),
        String::from_utf8_lossy(&body),
    );
    let (status, _, _, _) = fetch(&format!("{base}Thumb-png300.png&width=0")).await;
    c.eq("width 0: 400", status, 400);
    let (status, _, _, body) = fetch(&format!("{base}No-such-file.png&width=100")).await;
    c.eq("a missing file: 404", status, 404);
    c.ok(
        "says which",
        String::from_utf8_lossy(&body)
            .contains("The source file &#039;No-such-file.png&#039; does not exist."),
        String::from_utf8_lossy(&body),
    );
    let (status, _, _, _) = fetch(&format!("{base}Thumb-big.png&width=100")).await;
    c.eq("over the area limit: 400", status, 400);

    c.step("a thumbnail is rendered once and stored: thumb.php serves the same bytes");
    let ii = info(&alice, "Thumb photo.jpg", &[("iiurlwidth", "180")]).await;
    let path_url = ii["thumburl"].as_str().unwrap_or("").to_owned();
    let rendered_before = rendered_count(&server).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let u = path_url.clone();
        set.spawn(async move {
            let r = reqwest::get(&u).await.expect("GET");
            (r.status().as_u16(), header(r.headers(), "etag"))
        });
    }
    let mut tags = Vec::new();
    while let Some(Ok((status, etag))) = set.join_next().await {
        c.eq("served at once to six", status, 200);
        tags.push(etag);
    }
    tags.dedup();
    c.eq("one content", tags.len(), 1);
    c.eq(
        "one rendering for the six",
        rendered_count(&server).await - rendered_before,
        1.0,
    );
    let r = reqwest::get(format!("{base}Thumb_photo.jpg&width=180"))
        .await
        .expect("GET");
    c.eq(
        "thumb.php: the same ETag",
        header(r.headers(), "etag"),
        tags[0].clone(),
    );
    let wrong = path_url.replace("180px-Thumb_photo.jpg", "180px-Other.jpg");
    let (status, _, _, _) = fetch(&wrong).await;
    c.eq("a path that is not the thumbnail's: 400", status, 400);
    let wrong = path_url.replace("/thumb/", "/thumb/0/");
    let (status, _, _, _) = fetch(&wrong).await;
    c.eq("a wrong layout: 404", status, 404);

    c.step("a thumbnail revalidates by its ETag");
    let url = format!("{base}Thumb_photo.jpg&width=220");
    let r = reqwest::get(&url).await.expect("GET");
    let etag = header(r.headers(), "etag");
    c.eq(
        "nosniff",
        header(r.headers(), "x-content-type-options"),
        "nosniff".to_owned(),
    );
    let again = reqwest::Client::new()
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("GET");
    c.eq("304", again.status().as_u16(), 304);
    c.finish();
}

#[tokio::test]
async fn a_deleted_files_thumbnails_are_swept() {
    let server = Server::start_with_config("sweep_interval = 1\nsweep_grace_period = 0\n");
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    let admin = bot_client(
        &server,
        "Admin",
        None,
        "bot",
        &format!("{BOT_GRANTS},delete"),
    )
    .await;
    let mut c = Check::new(&server);
    let png = make_png(300, 200, 77);
    let r = alice
        .upload_resp("Swept-thumb.png", &png, &[("ignorewarnings", "1")])
        .await;
    c.upload_result(&r, "Success");

    c.step("a thumbnail is rendered and stored as a blob");
    let ii = info(&alice, "Swept-thumb.png", &[("iiurlwidth", "120")]).await;
    let r = reqwest::get(ii["thumburl"].as_str().unwrap_or(""))
        .await
        .expect("GET");
    c.eq("served", r.status().as_u16(), 200);
    let thumb_sha1 = header(r.headers(), "etag").trim_matches('"').to_owned();
    let path = blob_path(&server.data_dir(), &thumb_sha1);
    c.ok("its blob is on disk", path.is_file(), path.display());

    c.step("the file is deleted: the sweeper removes its thumbnail's blob");
    let token = admin.token();
    let (_, h, _) = admin
        .post(&[
            ("format", "json"),
            ("action", "delete"),
            ("title", "File:Swept-thumb.png"),
            ("token", &token),
        ])
        .await;
    c.eq("deleted", header(&h, "mediawiki-api-error").as_str(), "");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while path.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    c.ok("gone", !path.exists(), path.display());
    c.finish();
}

/// The pixel size of an image body.
fn size_of(bytes: &[u8]) -> Option<(u32, u32)> {
    image::load_from_memory(bytes)
        .ok()
        .map(|i| (i.width(), i.height()))
}

#[tokio::test]
async fn old_versions_stashed_files_icons_and_purge() {
    let (server, alice) = alice_on(
        "file_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\", \"wav\"]\n",
    )
    .await;
    let mut c = Check::new(&server);
    let first = make_png(400, 300, 1);
    let second = make_png(200, 100, 2);
    c.upload_result(
        &alice.upload_resp("Versions.png", &first, &[]).await,
        "Success",
    );

    c.step("the upload answer's notice shows a 300px thumbnail with its srcset");
    let r = alice
        .upload_resp("Versions.png", &second, &[("ignorewarnings", "1")])
        .await;
    let up = c.upload_result(&r, "Success");
    let html = up["imageinfo"]["html"].as_str().unwrap_or("").to_owned();
    c.ok(
        "no thumbnail for a 200px file: the original, unscaled",
        html.contains("/Versions.png\" decoding=\"async\" width=\"200\" height=\"100\" class=\"thumbimage\" />"),
        &html,
    );

    c.step("an old version's thumbnails live under thumb/archive/ and are rendered");
    let (_, _, body) = alice
        .get(&[
            ("action", "query"),
            ("format", "json"),
            ("formatversion", "2"),
            ("prop", "imageinfo"),
            ("titles", "File:Versions.png"),
            ("iiprop", "url|size|thumbmime|archivename"),
            ("iilimit", "2"),
            ("iiurlwidth", "120"),
        ])
        .await;
    let old = body["query"]["pages"][0]["imageinfo"][1].clone();
    let archive = old["archivename"].as_str().unwrap_or("").to_owned();
    let url = old["thumburl"].as_str().unwrap_or("").to_owned();
    c.ok(
        "archive thumb URL",
        url.contains("/w/images/thumb/archive/")
            && url.ends_with(&format!(
                "/{}/120px-Versions.png",
                archive.replace('!', "%21")
            )),
        &old,
    );
    c.eq("thumbmime", &old["thumbmime"], &json!("image/png"));
    c.eq(
        "key order",
        keys(&old),
        strings(&[
            "size",
            "width",
            "height",
            "thumburl",
            "thumbwidth",
            "thumbheight",
            "thumbmime",
            "responsiveUrls",
            "url",
            "descriptionurl",
            "descriptionshorturl",
            "archivename",
        ]),
    );
    let r = reqwest::get(&url).await.expect("GET");
    c.eq("served", r.status().as_u16(), 200);
    c.ok(
        "cached as immutable",
        header(r.headers(), "cache-control").contains("immutable"),
        header(r.headers(), "cache-control"),
    );
    let bytes = r.bytes().await.expect("body");
    c.eq("its size", size_of(&bytes), Some((120, 90)));
    let wrong = url.replace("archive/", "archive/x");
    let (status, _, _, _) = fetch(&wrong).await;
    c.eq("a wrong path is not served", status, 404);

    c.step("a stashed file's thumbnail, for its owner only");
    let r = alice
        .upload_resp("Stashed-thumb.png", &first, &[("stash", "1")])
        .await;
    let key = c.upload_result(&r, "Success")["filekey"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (_, _, body) = alice
        .get(&[
            ("action", "query"),
            ("format", "json"),
            ("formatversion", "2"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &key),
            ("siiprop", "url|size"),
            ("siiurlwidth", "100"),
        ])
        .await;
    let sii = &body["query"]["stashimageinfo"][0];
    let turl = sii["thumburl"].as_str().unwrap_or("").to_owned();
    c.ok(
        "Special:UploadStash/thumb URL",
        turl.ends_with(&format!("Special:UploadStash/thumb/{key}/100px-{key}")),
        sii,
    );
    let (status, h, bytes) = alice.fetch(reqwest::Method::GET, &turl, &[]).await;
    c.eq("served to its owner", status, 200);
    c.eq("as PNG", header(&h, "content-type").as_str(), "image/png");
    c.eq("its size", size_of(&bytes), Some((100, 75)));
    let (status, _, _, _) = fetch(&turl).await;
    c.ok("not to anyone else", status != 200, status);
    let (_, _, body) = alice
        .get(&[
            ("action", "query"),
            ("format", "json"),
            ("formatversion", "2"),
            ("prop", "stashimageinfo"),
            ("siifilekey", &key),
            ("siiprop", "url"),
            ("siiurlwidth", "100"),
            ("siiurlparam", "50px"),
        ])
        .await;
    c.ok(
        "stash thumbnail parameters are checked as imageinfo's",
        body["warnings"]["stashimageinfo"]["warnings"]
            .as_str()
            .is_some_and(|w| w.contains("Ignoring width value set in \"siiurlparam\" (50)")),
        &body,
    );

    c.step("a file no thumbnail can be made of has MediaWiki's icon");
    let wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00data\x00\x00\x00\x00";
    c.upload_result(&alice.upload_resp("Sound.wav", wav, &[]).await, "Success");
    let ii = info(&alice, "Sound.wav", &[("iiurlwidth", "220")]).await;
    c.ok(
        "icon URL",
        ii["thumburl"]
            .as_str()
            .is_some_and(|u| u.ends_with("/w/resources/assets/file-type-icons/fileicon.png")),
        &ii,
    );
    c.eq("120 wide", &ii["thumbwidth"], &json!(120));
    c.eq("120 high", &ii["thumbheight"], &json!(120));
    c.eq("no thumbmime", &ii["thumbmime"], &Value::Null);
    served(&mut c, &ii, "image/png", (120, 120)).await;

    c.step("action=purge forgets a file's thumbnails; they are rendered again");
    let ii = info(&alice, "Versions.png", &[("iiurlwidth", "50")]).await;
    let url = ii["thumburl"].as_str().unwrap_or("").to_owned();
    let r = reqwest::get(&url).await.expect("GET");
    let blob = header(r.headers(), "etag").trim_matches('"').to_owned();
    let path = blob_path(&server.data_dir(), &blob);
    c.ok("its blob is on disk", path.is_file(), path.display());
    let (status, _, body) = alice
        .post(&[
            ("action", "purge"),
            ("format", "json"),
            ("titles", "File:Versions.png|File:No such file.png"),
        ])
        .await;
    c.eq("purge answered", status, 200);
    c.json(
        "purge answer",
        &body,
        &json!({"batchcomplete": "", "purge": [
            {"ns": 6, "title": "File:No such file.png", "missing": ""},
            {"ns": 6, "title": "File:Versions.png", "purged": ""},
        ]}),
    );
    c.ok(
        "the thumbnail's blob is gone",
        !path.exists(),
        path.display(),
    );
    let (status, _, size, _) = fetch(&url).await;
    c.eq("rendered again", (status, size), (200, Some((50, 25))));
    let (_, _, body) = alice
        .get(&[
            ("action", "purge"),
            ("format", "json"),
            ("titles", "File:Versions.png"),
        ])
        .await;
    c.eq(
        "purge must be posted",
        &body["error"]["code"],
        &json!("mustbeposted"),
    );
    c.finish();
}

/// A two-frame animated GIF of `w`×`h`.
fn animated_gif(w: u16, h: u16) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let palette = [255u8, 0, 0, 0, 0, 255];
        let mut enc = gif::Encoder::new(&mut out, w, h, &palette).expect("GIF encoder");
        enc.set_repeat(gif::Repeat::Infinite).expect("repeat");
        for colour in [0u8, 1] {
            let frame = gif::Frame {
                width: w,
                height: h,
                delay: 10,
                buffer: std::borrow::Cow::Owned(vec![colour; usize::from(w) * usize::from(h)]),
                ..gif::Frame::default()
            };
            enc.write_frame(&frame).expect("frame");
        }
    }
    out
}

/// A real baseline TIFF of `w`×`h` (RGB, from the image crate's encoder).
fn tiff(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Tiff)
        .expect("encode a TIFF");
    out.into_inner()
}

#[tokio::test]
async fn gif_tiff_and_hostile_sources() {
    let (server, alice) = alice_on(
        "max_decode_memory = 33554432\nfile_extensions = [\"png\", \"gif\", \"jpg\", \"tif\", \"tiff\", \"svg\"]\n",
    )
    .await;
    let mut c = Check::new(&server);

    c.step("an animated GIF's thumbnail is its first frame, scaled");
    let anim = animated_gif(300, 200);
    c.upload_result(
        &alice.upload_resp("Thumb-anim.gif", &anim, &[]).await,
        "Success",
    );
    let ii = info(&alice, "Thumb-anim.gif", &[("iiurlwidth", "120")]).await;
    c.eq(
        "thumburl",
        &ii["thumburl"],
        &thumb_of(&ii["url"], "120px-Thumb-anim.gif"),
    );
    let bytes = served(&mut c, &ii, "image/gif", (120, 80)).await;
    let frames = gif::DecodeOptions::new()
        .read_info(bytes.as_slice())
        .map(|mut d| {
            std::iter::from_fn(move || d.read_next_frame().ok().flatten().map(|_| ())).count()
        });
    c.eq("one frame", frames.ok(), Some(1));

    c.step("a TIFF's thumbnails are JPEGs");
    c.upload_result(
        &alice
            .upload_resp("Thumb-scan.tif", &tiff(400, 300), &[])
            .await,
        "Success",
    );
    let ii = info(&alice, "Thumb-scan.tif", &[("iiurlwidth", "200")]).await;
    c.eq(
        "thumburl",
        &ii["thumburl"],
        &thumb_of(&ii["url"], "200px-Thumb-scan.tif.jpg"),
    );
    c.eq("thumbmime", &ii["thumbmime"], &json!("image/jpeg"));
    served(&mut c, &ii, "image/jpeg", (200, 150)).await;

    c.step("drawings that reach outside the file are refused before anything renders them");
    for (name, svg) in [
        (
            "Thumb-passwd.svg",
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"><image width="100" height="100" xlink:href="file:///etc/passwd"/></svg>"#,
        ),
        (
            "Thumb-remote.svg",
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><image width="100" height="100" href="https://example.org/x.png"/></svg>"#,
        ),
    ] {
        let r = alice.upload_resp(name, svg.as_bytes(), &[]).await;
        c.eq(
            &format!("{name} refused"),
            &r.2["error"]["code"],
            &json!("verification-error"),
        );
        let (status, _, _, _) =
            fetch(&format!("{}/w/thumb.php?f={name}&width=50", server.base)).await;
        c.eq(&format!("{name} has no thumbnail"), status, 404);
    }

    c.step("a thumbnail larger than the memory cap gets an error page, not a render");
    let drawing = br##"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200"><rect width="400" height="200" fill="#36c"/></svg>"##;
    c.upload_result(
        &alice.upload_resp("Thumb-wide.svg", drawing, &[]).await,
        "Success",
    );
    let (status, ctype, _, body) = fetch(&format!(
        "{}/w/thumb.php?f=Thumb-wide.svg&width=10000",
        server.base
    ))
    .await;
    let text = String::from_utf8_lossy(&body);
    c.ok(
        "refused within the cap (32 MiB)",
        status == 400
            && ctype.starts_with("text/html")
            && text.contains("Error creating thumbnail"),
        format!("{status} {ctype} {text}"),
    );
    let (status, _, size, _) = fetch(&format!(
        "{}/w/thumb.php?f=Thumb-wide.svg&width=2000",
        server.base
    ))
    .await;
    c.eq(
        "a large one within it renders",
        (status, size),
        (200, Some((2000, 1000))),
    );
    c.finish();
}
