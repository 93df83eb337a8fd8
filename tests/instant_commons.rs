//! mwstore as the shared file repository of a real MediaWiki 1.39 (InstantCommons-style,
//! `ForeignAPIRepo`).
//!
//! The test installs a fresh wiki from Debian's `mediawiki` package into a temporary
//! directory (SQLite, PHP's built-in web server on a free loopback port; nothing of the
//! machine's is touched), points its `$wgForeignFileRepos` at a running mwstore, and checks
//! what a reader of that wiki sees: `[[File:…|220px]]` on a page becomes an `<img>` whose
//! `src` and `srcset` are mwstore thumbnail URLs serving images of exactly those widths, the
//! wiki's own `File:` page shows mwstore's rendered description, and its API reports the file
//! from the `mwstore` repository with the right SHA-1 and mwstore's `extmetadata`.
//!
//! When MediaWiki or PHP's SQLite driver is missing, the test installs them with apt-get (as
//! root), like the client tests install theirs; it fails, never skips, when it cannot.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Where Debian's `mediawiki` package puts MediaWiki.
const MEDIAWIKI: &str = "/usr/share/mediawiki";
const HINT: &str = "The InstantCommons test needs MediaWiki 1.39 and PHP with SQLite: \
    apt-get install mediawiki php-cli php-sqlite3 php-curl php-intl php-mbstring php-xml";

/// The PHP interpreter, once MediaWiki and the PHP modules it needs are there.
fn php() -> PathBuf {
    let find = || {
        let php = PathBuf::from("/usr/bin/php");
        let ready = Path::new(MEDIAWIKI)
            .join("maintenance/install.php")
            .is_file()
            && Command::new(&php)
                .args([
                    "-r",
                    "exit(extension_loaded('pdo_sqlite') && extension_loaded('curl') \
                     && extension_loaded('intl') && extension_loaded('mbstring') \
                     && extension_loaded('xml') ? 0 : 1);",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        ready.then_some(php)
    };
    let packages = [
        "mediawiki",
        "php-cli",
        "php-sqlite3",
        "php-curl",
        "php-intl",
        "php-mbstring",
        "php-xml",
    ];
    match found_or_installed("mediawiki", &packages, HINT, find) {
        Ok(p) => p,
        Err(e) => panic!("no MediaWiki for the InstantCommons test:\n{e}"),
    }
}

/// A MediaWiki 1.39 of the test's own, using mwstore as a foreign file repository; stopped
/// when dropped.
struct ClientWiki {
    dir: tempfile::TempDir,
    server: Child,
    php: PathBuf,
    /// e.g. `http://127.0.0.1:41234`
    base: String,
}

impl ClientWiki {
    /// Installs a wiki and serves it with PHP's built-in server.
    fn install(repo_api: &str) -> ClientWiki {
        let php = php();
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for d in ["db", "images", "cache", "tmp", "docroot"] {
            fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::os::unix::fs::symlink(MEDIAWIKI, root.join("docroot/w")).expect("symlink");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut install = Command::new(&php);
        install
            .arg(Path::new(MEDIAWIKI).join("maintenance/install.php"))
            .arg("--dbtype=sqlite")
            .arg(format!("--dbpath={}", root.join("db").display()))
            .arg("--dbname=clientwiki")
            .arg(format!("--server={base}"))
            .arg("--scriptpath=/w")
            .arg("--lang=en")
            .arg("--pass=Client-wiki-admin-1")
            .arg(format!("--confpath={}", root.display()))
            .arg("--skins=Vector")
            .arg("Client Wiki")
            .arg("Admin")
            .env("HOME", root.join("tmp"))
            .stdin(Stdio::null());
        run_command(&mut install, "install.php", HINT).expect("install MediaWiki");
        let settings = root.join("LocalSettings.php");
        let mut text = fs::read_to_string(&settings).expect("read LocalSettings.php");
        text.push_str(&format!(
            r#"
$wgUploadDirectory = "{root}/images";
$wgCacheDirectory = "{root}/cache";
$wgTmpDirectory = "{root}/tmp";
$wgShowExceptionDetails = true;
$wgForeignFileRepos[] = [
	'class' => ForeignAPIRepo::class,
	'name' => 'mwstore',
	'apibase' => '{repo_api}',
	'hashLevels' => 2,
	'fetchDescription' => true,
	'descriptionCacheExpiry' => 0,
	'apiThumbCacheExpiry' => 0,
];
"#,
            root = root.display()
        ));
        fs::write(&settings, text).expect("write LocalSettings.php");
        let log = fs::File::create(root.join("php-server.log")).expect("log file");
        let server = Command::new(&php)
            .args(["-S", &format!("127.0.0.1:{port}"), "-t"])
            .arg(root.join("docroot"))
            .env("MW_CONFIG_FILE", &settings)
            .env("PHP_CLI_SERVER_WORKERS", "2")
            // Its own process group, so that its workers stop with it.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start PHP's web server");
        let wiki = ClientWiki {
            dir,
            server,
            php,
            base,
        };
        wiki.await_ready();
        wiki
    }

    fn await_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = self.base.trim_start_matches("http://").to_owned();
        let answers = || -> std::io::Result<bool> {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(&address)?;
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            write!(
                s,
                "GET /w/api.php?action=query&meta=siteinfo&format=json HTTP/1.0\r\nHost: {address}\r\n\r\n"
            )?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head)?;
            Ok(head.ends_with(b" 200"))
        };
        loop {
            if answers().unwrap_or(false) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the client wiki did not answer within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("php-server.log")).unwrap_or_default()
    }

    /// Saves a page of the client wiki with maintenance/edit.php.
    fn edit(&self, title: &str, text: &str) {
        let mut cmd = Command::new(&self.php);
        cmd.arg(Path::new(MEDIAWIKI).join("maintenance/edit.php"))
            .args(["-u", "Admin", title])
            .env("MW_CONFIG_FILE", self.dir.path().join("LocalSettings.php"))
            .env("HOME", self.dir.path().join("tmp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run edit.php");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write page text");
        }
        let out = child.wait_with_output().expect("edit.php");
        assert!(
            out.status.success(),
            "edit.php {title}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for ClientWiki {
    fn drop(&mut self) {
        // The server and the workers it forked.
        let group = format!("-{}", self.server.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The attributes of every `<img>` in `html`.
fn images(html: &str) -> Vec<BTreeMap<String, String>> {
    let img = regex::Regex::new(r"<img\s([^>]*)>").expect("regex");
    let attr = regex::Regex::new(r#"([a-z-]+)="([^"]*)""#).expect("regex");
    img.captures_iter(html)
        .map(|c| {
            attr.captures_iter(&c[1])
                .map(|a| (a[1].to_owned(), a[2].replace("&amp;", "&")))
                .collect()
        })
        .collect()
}

/// `srcset="u1 1.5x, u2 2x"` as (density, URL) pairs.
fn srcset(s: &str) -> Vec<(String, String)> {
    s.split(", ")
        .filter_map(|item| {
            let (url, density) = item.trim().rsplit_once(' ')?;
            Some((density.to_owned(), url.to_owned()))
        })
        .collect()
}

/// The text served at `url`.
async fn text_of(url: String) -> String {
    let r = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    r.text().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The JSON served at `url`.
async fn json_of(url: String) -> Value {
    let text = text_of(url.clone()).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url} is not JSON ({e}): {text}"))
}

/// The pixel size of an image served at `url`, with its bytes.
async fn served_size(url: &str) -> ((u32, u32), Vec<u8>) {
    let r = reqwest::get(url).await.expect("GET an image");
    assert_eq!(r.status(), 200, "GET {url}");
    let bytes = r.bytes().await.expect("image body").to_vec();
    let img =
        image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{url} is not an image: {e}"));
    ((img.width(), img.height()), bytes)
}

const DESCRIPTION: &str = "== Summary ==
{{Information
|description={{en|1=A '''test''' card for the [[Main Page|shared repository]].}}{{de|1=Eine Testkarte.}}
|date=2024-05-01
|source={{own}}
|author=[[User:Alice|Alice]]
|permission=
}}
A ''plain'' paragraph with <script>alert(1)</script> and [https://example.org/page an example].
* first
* second

== Licensing ==
{{self|cc-by-sa-4.0}}

[[Category:Test cards]]
[[Category:Shared files]]
";

#[tokio::test(flavor = "multi_thread")]
async fn a_real_mediawiki_shows_mwstore_files() {
    let server = Server::start_with_config(
        "file_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\"]\n",
    );
    let (user, pass) = alice_bot(&server);
    let alice = logged_in(&server, &user, &pass).await;
    let photo = make_jpeg(1600, 1200, "TestCam");
    let chart = make_png(640, 480, 7);
    let drawing = br##"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" viewBox="0 0 400 200"><rect width="400" height="200" fill="#36c"/><circle cx="200" cy="100" r="80" fill="#fc3"/></svg>"##;
    for (name, data) in [
        ("Shared photo.jpg", photo.as_slice()),
        ("Shared chart.png", chart.as_slice()),
        ("Shared drawing.svg", drawing.as_slice()),
    ] {
        let r = alice.upload(name, data, &[("text", DESCRIPTION)]).await;
        assert_eq!(r["upload"]["result"], "Success", "upload {name}: {r}");
    }

    let wiki = tokio::task::spawn_blocking({
        let api = server.api();
        move || ClientWiki::install(&api)
    })
    .await
    .expect("install the client wiki");
    let gallery = "[[File:Shared photo.jpg|220px]]\n\n[[File:Shared chart.png|150px]]\n\n\
                   [[File:Shared drawing.svg|300px]]\n\n[[File:Not in any repository.jpg|100px]]\n";
    tokio::task::block_in_place(|| wiki.edit("Gallery", gallery));

    // The page: every image comes from mwstore, at the widths asked, 1.5× and 2×.
    let html = text_of(format!(
        "{}/w/index.php?title=Gallery&action=render",
        wiki.base
    ))
    .await;
    let imgs = images(&html);
    assert_eq!(
        imgs.len(),
        3,
        "three images on the page:\n{html}\n{}",
        wiki.log()
    );
    let expected = [
        ("Shared_photo.jpg", 220, photo.as_slice()),
        ("Shared_chart.png", 150, chart.as_slice()),
        ("Shared_drawing.svg", 300, drawing.as_slice()),
    ];
    for (img, (name, width, original)) in imgs.iter().zip(expected) {
        let src = &img["src"];
        assert!(
            src.starts_with(&format!("{}/w/images/thumb/", server.base)) && src.contains(name),
            "src of {name} is an mwstore thumbnail URL: {img:?}"
        );
        assert_eq!(img["width"], width.to_string(), "{img:?}");
        let mut wanted = vec![(src.clone(), width)];
        for (density, url) in srcset(img.get("srcset").map_or("", String::as_str)) {
            assert!(
                url.starts_with(&server.base),
                "srcset from mwstore: {img:?}"
            );
            let factor: f64 = density.trim_end_matches('x').parse().expect("density");
            wanted.push((url, (f64::from(width) * factor).round() as u32));
        }
        assert_eq!(wanted.len(), 3, "1x, 1.5x and 2x of {name}: {img:?}");
        for (url, w) in wanted {
            let ((got_w, _), bytes) = served_size(&url).await;
            assert_eq!(got_w, w, "{url} is {w} pixels wide");
            assert_ne!(bytes, original, "{url} is a thumbnail, not the original");
        }
    }
    assert!(
        html.contains("Not in any repository.jpg") && !html.contains("Not_in_any_repository.jpg/"),
        "a file no repository has stays a link to upload it:\n{html}"
    );

    // The wiki's own file page shows mwstore's description, rendered and safe.
    let page = text_of(format!(
        "{}/w/index.php?title=File:Shared_photo.jpg",
        wiki.base
    ))
    .await;
    let shared = page
        .split_once("id=\"shared-image-desc\"")
        .map(|(_, rest)| {
            rest.split_once("id=\"filehistory\"")
                .map_or(rest, |(d, _)| d)
        })
        .unwrap_or_else(|| panic!("no shared description on the file page:\n{page}"));
    for wanted in [
        "<b>test</b>",
        "Eine Testkarte.",
        "<i>plain</i>",
        "<li>first</li>",
        "CC BY-SA 4.0",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "href=\"https://example.org/page\"",
    ] {
        assert!(
            shared.contains(wanted),
            "description has {wanted}:\n{shared}"
        );
    }
    assert!(
        !shared.contains("<script"),
        "no script in the description:\n{shared}"
    );
    assert!(
        !shared.contains("<html"),
        "the description is a fragment:\n{shared}"
    );

    // Its API reports the file from the mwstore repository, with mwstore's facts.
    let info: Value = json_of(format!(
        "{}/w/api.php?action=query&prop=imageinfo&titles=File:Shared_photo.jpg\
         &iiprop=sha1|size|url|extmetadata&iiurlwidth=220&format=json&formatversion=2",
        wiki.base
    ))
    .await;
    let p = &info["query"]["pages"][0];
    assert_eq!(p["imagerepository"], "mwstore", "{info}");
    let ii = &p["imageinfo"][0];
    assert_eq!(ii["sha1"], sha1_hex(&photo), "{info}");
    assert_eq!(
        (ii["width"].as_u64(), ii["height"].as_u64()),
        (Some(1600), Some(1200))
    );
    assert!(
        ii["thumburl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&server.base) && u.ends_with("/220px-Shared_photo.jpg")),
        "{info}"
    );
    let ext = &ii["extmetadata"];
    assert_eq!(ext["LicenseShortName"]["value"], "CC BY-SA 4.0", "{info}");
    assert_eq!(
        ext["Categories"]["value"], "Shared files|Test cards",
        "{info}"
    );
    assert!(
        ext["Artist"]["value"]
            .as_str()
            .is_some_and(|a| a.contains("Alice")),
        "{info}"
    );
    assert!(
        ext["ImageDescription"]["value"]
            .as_str()
            .is_some_and(|d| d.contains("<b>test</b>")),
        "{info}"
    );

    // Many files at once, as a page with a gallery asks: the batch reports each.
    let batch: Value = json_of(format!(
        "{}/w/api.php?action=query&prop=imageinfo&iiprop=sha1\
         &titles=File:Shared_photo.jpg|File:Shared_chart.png|File:Shared_drawing.svg|File:Nowhere.png\
         &format=json&formatversion=2",
        wiki.base
    ))
    .await;
    let mut repos: Vec<(String, String)> = batch["query"]["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap_or_default().to_owned(),
                p["imagerepository"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    repos.sort();
    assert_eq!(
        repos,
        vec![
            ("File:Nowhere.png".to_owned(), String::new()),
            ("File:Shared chart.png".to_owned(), "mwstore".to_owned()),
            ("File:Shared drawing.svg".to_owned(), "mwstore".to_owned()),
            ("File:Shared photo.jpg".to_owned(), "mwstore".to_owned()),
        ],
        "{batch}"
    );
}
