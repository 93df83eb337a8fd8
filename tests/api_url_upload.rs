//! Uploads by URL over HTTP (`09-url-upload.json`, SPEC §3.6/§7.6/§11.1): the fetch itself
//! (success, stash, async, redirects, sniffing, every transport error MediaWiki reports), the
//! limits mwstore adds (total deadline, size cap while streaming) and the address guard
//! MediaWiki lacks (loopback, private, link-local, metadata, multicast and reserved addresses
//! are refused before any connection, on every redirect hop). A hand-written origin server
//! counts the connections it accepts, so a refused URL is proven never to reach it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The upload-by-URL configuration of these tests.
const CONFIG: &str = "allow_copy_uploads = true
copy_uploads_allow_private = [\"127.0.0.1/32\"]
copy_upload_timeout = 3
max_upload_size = 200000
[group_permissions.user]
upload_by_url = true
";

/// [`CONFIG`] without the private-address allow-list.
// The guard cases run all at once: room for all their fetches, so that none is refused
// for the per-user cap instead of for its address.
const CONFIG_GUARDED: &str = "allow_copy_uploads = true
copy_upload_timeout = 3
max_upload_size = 200000
max_url_fetches_per_user = 64
max_url_fetches = 64
[group_permissions.user]
upload_by_url = true
";

/// Grants of the bot password used here.
const GRANTS: &str = "basic,uploadfile,uploadeditmovefile,createeditmovepage";

const TIMED_OUT: &str = "HTTP request timed out.";
const TOO_LARGE: &str = "The file you submitted was too large.";
const BAD_URL_PREFIX: &str = "Upload not allowed from this URL";

// ---------------------------------------------------------------------------------------------
// The origin server.
// ---------------------------------------------------------------------------------------------

/// What the origin answers to one request.
enum Reply {
    /// A complete response with `Content-Length`.
    Full {
        status: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// `200 OK`, then `body` in pieces of `chunk` bytes, pausing `every` between
    /// pieces; with or without `Content-Length` (without it the body ends at the close).
    Stream {
        content_type: &'static str,
        body: Vec<u8>,
        chunk: usize,
        every: Duration,
        content_length: bool,
    },
    /// Reads the request, then says nothing for this long and closes.
    Silent(Duration),
}

impl Reply {
    fn ok(content_type: &str, body: Vec<u8>) -> Reply {
        Reply::Full {
            status: "200 OK",
            headers: vec![("Content-Type", content_type.to_owned())],
            body,
        }
    }

    fn png(body: Vec<u8>) -> Reply {
        Reply::ok("image/png", body)
    }

    fn redirect(location: &str) -> Reply {
        Reply::Full {
            status: "302 Found",
            headers: vec![("Location", location.to_owned())],
            body: Vec::new(),
        }
    }

    fn not_found() -> Reply {
        Reply::Full {
            status: "404 Not Found",
            headers: vec![("Content-Type", "text/plain".to_owned())],
            body: b"not found".to_vec(),
        }
    }
}

/// What the origin saw.
#[derive(Default)]
struct Stats {
    /// Accepted TCP connections.
    connections: AtomicUsize,
    /// Request targets, in arrival order.
    requests: Mutex<Vec<String>>,
    /// Responses whose body could not be written completely.
    write_failures: AtomicUsize,
    /// Connections fully handled.
    finished: AtomicUsize,
}

/// A bound but not yet serving origin (its address is known before the handler is built).
struct Bound {
    listener: TcpListener,
    ip: String,
    port: u16,
}

impl Bound {
    async fn new(ip: &str) -> Bound {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind origin");
        let port = listener.local_addr().expect("local addr").port();
        Bound {
            listener,
            ip: ip.to_owned(),
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}:{}{}", self.ip, self.port, path)
    }

    /// Starts answering every request with `handler(target)`.
    fn serve(self, handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Origin {
        let stats = Arc::new(Stats::default());
        let handler: Arc<dyn Fn(&str) -> Reply + Send + Sync> = Arc::new(handler);
        let st = stats.clone();
        let listener = self.listener;
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                st.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(sock, st.clone(), handler.clone()));
            }
        });
        Origin {
            ip: self.ip,
            port: self.port,
            stats,
        }
    }
}

/// A running origin server.
struct Origin {
    ip: String,
    port: u16,
    stats: Arc<Stats>,
}

impl Origin {
    /// An origin on 127.0.0.1 whose handler does not need its own address.
    async fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Origin {
        Bound::new("127.0.0.1").await.serve(handler)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}:{}{}", self.ip, self.port, path)
    }

    fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.stats.requests.lock().expect("lock").clone()
    }

    fn write_failures(&self) -> usize {
        self.stats.write_failures.load(Ordering::SeqCst)
    }

    /// Waits (at most `max`) until `n` connections have been handled completely.
    async fn wait_finished(&self, n: usize, max: Duration) {
        let end = Instant::now() + max;
        while self.stats.finished.load(Ordering::SeqCst) < n && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads one request head (the fetcher only sends GETs) and returns its target.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut piece).await.ok()?;
        if n == 0 || buf.len() > 65536 {
            return None;
        }
        buf.extend_from_slice(&piece[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    line.split_whitespace().nth(1).map(str::to_owned)
}

async fn handle(
    mut sock: TcpStream,
    stats: Arc<Stats>,
    handler: Arc<dyn Fn(&str) -> Reply + Send + Sync>,
) {
    if let Some(target) = read_request(&mut sock).await {
        stats.requests.lock().expect("lock").push(target.clone());
        if !respond(&mut sock, handler(&target)).await {
            stats.write_failures.fetch_add(1, Ordering::SeqCst);
        }
    }
    stats.finished.fetch_add(1, Ordering::SeqCst);
}

/// Sends `reply`; false when the peer stopped taking it.
async fn respond(sock: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status}\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            let ok = sock.write_all(&bytes).await.is_ok();
            let _ = sock.shutdown().await;
            ok
        }
        Reply::Stream {
            content_type,
            body,
            chunk,
            every,
            content_length,
        } => {
            let mut head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n");
            if content_length {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            head.push_str("Connection: close\r\n\r\n");
            if sock.write_all(head.as_bytes()).await.is_err() {
                return false;
            }
            for (i, piece) in body.chunks(chunk.max(1)).enumerate() {
                if i > 0 && !every.is_zero() {
                    tokio::time::sleep(every).await;
                }
                if sock.write_all(piece).await.is_err() || sock.flush().await.is_err() {
                    return false;
                }
            }
            let _ = sock.shutdown().await;
            true
        }
        Reply::Silent(d) => {
            tokio::time::sleep(d).await;
            true
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client side.
// ---------------------------------------------------------------------------------------------

/// `action=upload` with `url` (urlencoded, like the transcripts).
async fn url_upload(client: &Client, filename: &str, url: &str, extra: &[(&str, &str)]) -> Resp {
    let token = client.token();
    let mut p: Vec<(&str, &str)> = vec![
        ("action", "upload"),
        ("format", "json"),
        ("filename", filename),
        ("url", url),
    ];
    p.extend_from_slice(extra);
    p.push(("token", &token));
    client.post(&p).await
}

/// A server with `toml` and a logged-in Alice.
async fn server_with_alice(toml: &str) -> (Server, Client) {
    let server = Server::start_with_config(toml);
    let alice = bot_client(&server, "Alice", Some(""), "bot", GRANTS).await;
    (server, alice)
}

/// Checks a published `Success` for `name` with the bytes `data`, including the served file.
async fn check_published(c: &mut Check, client: &Client, r: &Resp, name: &str, data: &[u8]) {
    let up = c.upload_result(r, "Success");
    c.json("filename", &up["filename"], &json!(name));
    let ii = &up["imageinfo"];
    c.json("imageinfo.sha1", &ii["sha1"], &json!(sha1_hex(data)));
    c.json("imageinfo.size", &ii["size"], &json!(data.len()));
    c.json("imageinfo.mime", &ii["mime"], &json!("image/png"));
    let url = ii["url"].as_str().unwrap_or("").to_owned();
    if url.is_empty() {
        c.ok("imageinfo.url present", false, &ii["url"]);
        return;
    }
    let (st, _, body) = client.fetch(reqwest::Method::GET, &url, &[]).await;
    c.eq("served file status", st, 200);
    c.eq("served bytes' sha1", sha1_hex(&body), sha1_hex(data));
}

/// Checks an error whose `MediaWiki-API-Error` header differs from the code (MediaWiki lists
/// every error of the status there) and whose info is only known by its start.
fn error_loose(c: &mut Check, r: &Resp, code: &str, header_value: &str, info_prefix: &str) {
    let (status, headers, body) = r;
    c.eq("HTTP status", *status, 200);
    c.eq(
        "MediaWiki-API-Error header",
        header(headers, "mediawiki-api-error").as_str(),
        header_value,
    );
    let err = &body["error"];
    c.eq("error.code", err["code"].as_str().unwrap_or(""), code);
    let info = err["info"].as_str().unwrap_or("");
    c.ok(
        &format!("error.info starts with {info_prefix:?}"),
        info.starts_with(info_prefix),
        format!("{info:?} (body {body})"),
    );
    let docref = docref(&c.api);
    c.eq(
        "error docref (*)",
        err["*"].as_str().unwrap_or(""),
        docref.as_str(),
    );
}

/// Checks a `copyuploadbadurl` refusal (the info explains the refusal after MediaWiki's text).
fn bad_url(c: &mut Check, r: &Resp) {
    error_loose(c, r, "copyuploadbadurl", "copyuploadbadurl", BAD_URL_PREFIX);
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_upload_success_stash_async_and_sniffing() {
    let png = make_png(16, 16, 9001);
    let png_stash = make_png(16, 16, 9002);
    let png_async = make_png(16, 16, 9003);
    let png_unsized = make_png(17, 17, 9004);
    let png_text = make_png(18, 18, 9005);
    let html = b"<html><head><title>x</title></head><body>hello</body></html>".to_vec();
    let origin = {
        let (png, png_stash, png_async) = (png.clone(), png_stash.clone(), png_async.clone());
        let (png_unsized, png_text, html) = (png_unsized.clone(), png_text.clone(), html.clone());
        Origin::start(move |path| match path {
            "/a.png" => Reply::png(png.clone()),
            "/stash" => Reply::png(png_stash.clone()),
            "/async.png" => Reply::png(png_async.clone()),
            "/unsized.png" => Reply::Stream {
                content_type: "image/png",
                body: png_unsized.clone(),
                chunk: 256,
                every: Duration::ZERO,
                content_length: false,
            },
            "/text.png" => Reply::ok("text/plain", png_text.clone()),
            "/page.html" => Reply::ok("text/html", html.clone()),
            _ => Reply::not_found(),
        })
        .await
    };
    let (server, alice) = server_with_alice(CONFIG).await;
    let mut c = Check::new(&server);

    c.step("09#1 url upload of a PNG from 127.0.0.1 (allow-listed)");
    let r = url_upload(&alice, "Url-success.png", &origin.url("/a.png"), &[]).await;
    check_published(&mut c, &alice, &r, "Url-success.png", &png).await;
    c.eq(
        "origin saw one GET",
        origin.requests(),
        vec!["/a.png".into()],
    );

    c.step("09#17 url with stash=1: Success with a filekey with an empty extension");
    let r = url_upload(
        &alice,
        "Url-stash.png",
        &origin.url("/stash"),
        &[("stash", "1"), ("ignorewarnings", "1")],
    )
    .await;
    let up = c.upload_result(&r, "Success");
    let key = up["filekey"].as_str().unwrap_or("").to_owned();
    c.ok(
        "filekey <b36>.<b36>.<uid>. (empty extension)",
        is_filekey(&up["filekey"], "") && key.ends_with('.'),
        &up["filekey"],
    );
    c.eq("sessionkey == filekey", &up["sessionkey"], &up["filekey"]);
    c.json(
        "stashed imageinfo.sha1",
        &up["imageinfo"]["sha1"],
        &json!(sha1_hex(&png_stash)),
    );
    c.ok(
        "stashed imageinfo.url points at the stash",
        up["imageinfo"]["url"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!("Special:UploadStash/file/{key}")),
        &up["imageinfo"]["url"],
    );
    c.step("publishing the URL-stashed file under a .png name");
    let r = alice
        .publish_filekey(&key, "Url-from-stash.png", &[("ignorewarnings", "1")])
        .await;
    check_published(&mut c, &alice, &r, "Url-from-stash.png", &png_stash).await;

    c.step("async=1 with url is handled synchronously");
    let r = url_upload(
        &alice,
        "Url-async.png",
        &origin.url("/async.png"),
        &[("async", "1")],
    )
    .await;
    check_published(&mut c, &alice, &r, "Url-async.png", &png_async).await;

    c.step("a body without Content-Length (ends at the close)");
    let r = url_upload(&alice, "Url-unsized.png", &origin.url("/unsized.png"), &[]).await;
    check_published(&mut c, &alice, &r, "Url-unsized.png", &png_unsized).await;

    c.step("09#8 PNG bytes served as text/plain, name .png: the content is sniffed");
    let r = url_upload(&alice, "Url-text.png", &origin.url("/text.png"), &[]).await;
    check_published(&mut c, &alice, &r, "Url-text.png", &png_text).await;

    c.step("PNG bytes under a .jpg name");
    let r = url_upload(
        &alice,
        "Url-mismatch.jpg",
        &origin.url("/a.png"),
        &[("ignorewarnings", "1")],
    )
    .await;
    let err = c.error(
        &r,
        "verification-error",
        Some("File extension \".jpg\" does not match the detected MIME type of the file (image/png)."),
    );
    c.json(
        "details",
        &err["details"],
        &json!(["filetype-mime-mismatch", "jpg", "image/png"]),
    );

    c.step("09#9 an HTML page under a .png name");
    let r = url_upload(&alice, "Url-html.png", &origin.url("/page.html"), &[]).await;
    let err = c.error(
        &r,
        "verification-error",
        Some("Files of the MIME type \"text/html\" are not allowed to be uploaded."),
    );
    c.json(
        "details",
        &err["details"],
        &json!(["filetype-badmime", "text/html"]),
    );

    c.step("09#18 url without filename");
    let before = origin.connections();
    let token = alice.token();
    let url = origin.url("/a.png");
    let r = alice
        .post(&[
            ("action", "upload"),
            ("format", "json"),
            ("url", &url),
            ("token", &token),
        ])
        .await;
    c.error(
        &r,
        "nofilename",
        Some("The \"filename\" parameter must be set."),
    );

    c.step("anonymous url upload");
    let anon = Client::new(&server);
    let r = url_upload(&anon, "Url-anon.png", &origin.url("/a.png"), &[]).await;
    c.error(
        &r,
        "mustbeloggedin",
        Some("You must be logged in to upload this file."),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.eq(
        "no connection for the refused requests",
        origin.connections(),
        before,
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_fetch_errors_timeouts_and_size_limits() {
    let origin = Origin::start(|path| match path {
        "/silent" => Reply::Silent(Duration::from_secs(5)),
        // 50 000 bytes at 500 bytes per 250 ms: ~25 s, far past the 3 s deadline, but no
        // single read waits long.
        "/trickle.png" => Reply::Stream {
            content_type: "image/png",
            body: vec![0u8; 50_000],
            chunk: 500,
            every: Duration::from_millis(250),
            content_length: true,
        },
        // 300 000 bytes announced; sending all of it takes ~3 s (the running total would
        // pass the limit after ~2 s), so an early answer shows the announced length was
        // enough to refuse.
        "/big-sized" => Reply::Stream {
            content_type: "image/png",
            body: vec![0u8; 300_000],
            chunk: 5_000,
            every: Duration::from_millis(50),
            content_length: true,
        },
        "/big-unsized" => Reply::Stream {
            content_type: "image/png",
            body: vec![0u8; 300_000],
            chunk: 300_000,
            every: Duration::ZERO,
            content_length: false,
        },
        _ => Reply::not_found(),
    })
    .await;
    let (server, alice) = server_with_alice(CONFIG).await;
    let mut c = Check::new(&server);

    c.step("09#3 url that returns 404");
    let r = url_upload(&alice, "Url-404.png", &origin.url("/nope.png"), &[]).await;
    c.error(
        &r,
        "http-bad-status",
        Some("There was a problem during the HTTP request: 404 Not Found"),
    );

    c.step("09#11 url to a closed port");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = url_upload(
        &alice,
        "Url-closed.png",
        &format!("http://127.0.0.1:{closed}/x.png"),
        &[],
    )
    .await;
    // MediaWiki's header lists both errors of the status (09#11, 08#73).
    error_loose(
        &mut c,
        &r,
        "http-curl-error",
        "http-curl-error, http-bad-status",
        "Error fetching URL:",
    );

    c.step("a silent server and a trickling body (timeout 3 s), concurrently");
    let silent_url = origin.url("/silent");
    let trickle_url = origin.url("/trickle.png");
    let timed = |name: &'static str, url: String| {
        let alice = &alice;
        async move {
            let t = Instant::now();
            let r = url_upload(alice, name, &url, &[]).await;
            (r, t.elapsed())
        }
    };
    let ((r_silent, t_silent), (r_trickle, t_trickle)) = tokio::join!(
        timed("Url-silent.png", silent_url),
        timed("Url-trickle.png", trickle_url)
    );
    for (what, r, t) in [
        ("silent server", &r_silent, t_silent),
        ("trickling body", &r_trickle, t_trickle),
    ] {
        c.step(&format!("timeout: {what}"));
        let (status, headers, body) = r;
        c.eq("HTTP status", *status, 200);
        let h = header(headers, "mediawiki-api-error");
        c.ok(
            "MediaWiki-API-Error starts with http-timed-out",
            h.starts_with("http-timed-out"),
            &h,
        );
        c.eq(
            "error.code",
            body["error"]["code"].as_str().unwrap_or(""),
            "http-timed-out",
        );
        c.eq(
            "error.info",
            body["error"]["info"].as_str().unwrap_or(""),
            TIMED_OUT,
        );
        c.ok(
            "answered after the 3 s deadline, within 4.5 s",
            t >= Duration::from_millis(2500) && t <= Duration::from_millis(4500),
            format!("{t:?}"),
        );
    }

    c.step("oversized body with Content-Length (300 000 > 200 000)");
    let before = origin.stats.finished.load(Ordering::SeqCst);
    let t = Instant::now();
    let r = url_upload(&alice, "Url-big-sized.png", &origin.url("/big-sized"), &[]).await;
    let took = t.elapsed();
    c.error(&r, "file-too-large", Some(TOO_LARGE));
    c.ok(
        "refused before the origin could send the body (< 1.5 s; all of it takes ~3 s)",
        took < Duration::from_millis(1500),
        format!("{took:?}"),
    );
    origin
        .wait_finished(before + 1, Duration::from_secs(5))
        .await;
    c.ok(
        "the origin saw the request",
        origin.requests().contains(&"/big-sized".to_owned()),
        format!("{:?}", origin.requests()),
    );
    c.eq(
        "the origin could not write the whole body",
        origin.write_failures(),
        1,
    );

    c.step("oversized body without Content-Length (ends at the close)");
    let r = url_upload(
        &alice,
        "Url-big-unsized.png",
        &origin.url("/big-unsized"),
        &[],
    )
    .await;
    c.error(&r, "file-too-large", Some(TOO_LARGE));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_redirects() {
    let png = make_png(16, 16, 9101);
    let main = Bound::new("127.0.0.1").await;
    let self_url = main.url("");
    // A second loopback address outside the allow-list 127.0.0.1/32 (Linux routes 127/8).
    let other = Bound::new("127.0.0.2").await.serve(|_| Reply::not_found());
    let other_url = other.url("/a.png");
    let origin = {
        let png = png.clone();
        main.serve(move |path| {
            if let Some(n) = path.strip_prefix("/chain/") {
                let n: u32 = n.parse().unwrap_or(0);
                return if n == 0 {
                    Reply::png(png.clone())
                } else {
                    Reply::redirect(&format!("/chain/{}", n - 1))
                };
            }
            match path {
                "/a.png" => Reply::png(png.clone()),
                "/abs" => Reply::redirect(&format!("{self_url}/a.png")),
                "/rel" => Reply::redirect("/a.png"),
                "/to-private" => Reply::redirect("http://10.0.0.1/x.png"),
                "/to-ftp" => Reply::redirect("ftp://example.org/x"),
                "/to-file" => Reply::redirect("file:///etc/passwd"),
                "/to-127-0-0-2" => Reply::redirect(&other_url),
                _ => Reply::not_found(),
            }
        })
    };
    let (server, alice) = server_with_alice(CONFIG).await;
    let mut c = Check::new(&server);
    let ig: &[(&str, &str)] = &[("ignorewarnings", "1")];
    let seen_since = |from: usize| origin.requests()[from..].to_vec();

    c.step("09#5 302 with an absolute Location");
    let n0 = origin.requests().len();
    let r = url_upload(&alice, "Url-redir-abs.png", &origin.url("/abs"), ig).await;
    check_published(&mut c, &alice, &r, "Url-redir-abs.png", &png).await;
    c.eq(
        "origin saw both hops",
        seen_since(n0),
        vec!["/abs".to_owned(), "/a.png".to_owned()],
    );

    c.step("09#4 302 with a relative Location keeps the port");
    let n0 = origin.requests().len();
    let r = url_upload(&alice, "Url-redir-rel.png", &origin.url("/rel"), ig).await;
    check_published(&mut c, &alice, &r, "Url-redir-rel.png", &png).await;
    c.eq(
        "origin saw both hops",
        seen_since(n0),
        vec!["/rel".to_owned(), "/a.png".to_owned()],
    );

    c.step("a chain of 4 redirects is followed");
    let n0 = origin.requests().len();
    let r = url_upload(&alice, "Url-redir-4.png", &origin.url("/chain/4"), ig).await;
    check_published(&mut c, &alice, &r, "Url-redir-4.png", &png).await;
    c.eq(
        "origin saw 5 requests",
        seen_since(n0),
        ["/chain/4", "/chain/3", "/chain/2", "/chain/1", "/chain/0"]
            .map(String::from)
            .to_vec(),
    );

    c.step("09#7 the 5th redirect is refused");
    let n0 = origin.requests().len();
    let r = url_upload(&alice, "Url-redir-5.png", &origin.url("/chain/5"), ig).await;
    c.error(
        &r,
        "upload-too-many-redirects",
        Some("The URL contained too many redirects"),
    );
    c.eq(
        "origin saw the 5 redirecting requests only",
        seen_since(n0),
        ["/chain/5", "/chain/4", "/chain/3", "/chain/2", "/chain/1"]
            .map(String::from)
            .to_vec(),
    );

    c.step("redirect to a private address (http://10.0.0.1/x.png)");
    let n0 = origin.requests().len();
    let t = Instant::now();
    let r = url_upload(
        &alice,
        "Url-redir-private.png",
        &origin.url("/to-private"),
        ig,
    )
    .await;
    bad_url(&mut c, &r);
    c.ok(
        "refused without trying to connect",
        t.elapsed() < Duration::from_secs(2),
        format!("{:?}", t.elapsed()),
    );
    c.eq(
        "the redirecting origin saw exactly one request",
        seen_since(n0),
        vec!["/to-private".to_owned()],
    );

    c.step("redirect to 127.0.0.2 (loopback, but outside the allow-list 127.0.0.1/32)");
    let n0 = origin.requests().len();
    let r = url_upload(
        &alice,
        "Url-redir-127-2.png",
        &origin.url("/to-127-0-0-2"),
        ig,
    )
    .await;
    bad_url(&mut c, &r);
    c.eq(
        "the redirecting origin saw exactly one request",
        seen_since(n0),
        vec!["/to-127-0-0-2".to_owned()],
    );

    c.step("redirect to ftp://");
    let r = url_upload(&alice, "Url-redir-ftp.png", &origin.url("/to-ftp"), ig).await;
    c.error(
        &r,
        "http-invalid-url",
        Some("Invalid URL: ftp://example.org/x"),
    );

    c.step("redirect to file://");
    let r = url_upload(&alice, "Url-redir-file.png", &origin.url("/to-file"), ig).await;
    c.error(
        &r,
        "http-invalid-url",
        Some("Invalid URL: file:///etc/passwd"),
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    c.step("after all redirects");
    c.eq(
        "connections to 127.0.0.2 (never allowed)",
        other.connections(),
        0,
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_guard_without_allow_list() {
    let origin = Origin::start(|_| Reply::png(make_png(8, 8, 9201))).await;
    let (server, alice) = server_with_alice(CONFIG_GUARDED).await;
    let alice = Arc::new(alice);
    let mut c = Check::new(&server);
    let p = origin.port;
    let refused: Vec<String> = vec![
        format!("http://127.0.0.1:{p}/a.png"),
        format!("http://localhost:{p}/a.png"),
        format!("http://2130706433:{p}/a.png"),
        format!("http://0x7f.1:{p}/a.png"),
        format!("http://[::1]:{p}/a.png"),
        format!("http://[::ffff:127.0.0.1]:{p}/a.png"),
        format!("http://good.example@127.0.0.1:{p}/a.png"),
        "http://10.1.2.3/x.png".into(),
        "http://172.16.0.1/x".into(),
        "http://192.168.0.1/x".into(),
        "http://100.64.0.1/x".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[fd00::1]/x".into(),
        "http://[fe80::1]/x".into(),
        format!("http://0.0.0.0:{p}/x"),
        "http://224.0.0.1/x".into(),
        "http://255.255.255.255/x".into(),
        "http://192.0.2.1/x".into(),
    ];
    let invalid: Vec<String> = vec![
        format!("ftp://127.0.0.1:{p}/x.png"),
        "file:///etc/passwd".into(),
        format!("gopher://127.0.0.1:{p}/x"),
        "not a url".into(),
    ];

    let mut set = tokio::task::JoinSet::new();
    for (i, url) in refused.iter().chain(invalid.iter()).enumerate() {
        let (alice, url) = (alice.clone(), url.clone());
        set.spawn(async move {
            let t = Instant::now();
            let r = url_upload(&alice, &format!("Url-guard-{i}.png"), &url, &[]).await;
            (i, r, t.elapsed())
        });
    }
    let mut results = Vec::new();
    while let Some(res) = set.join_next().await {
        results.push(res.expect("task"));
    }
    results.sort_by_key(|(i, _, _)| *i);

    for (i, r, t) in &results {
        if *i < refused.len() {
            let url = &refused[*i];
            c.step(&format!("refused: {url}"));
            bad_url(&mut c, r);
            c.ok(
                "refused without trying to connect",
                *t < Duration::from_secs(2),
                format!("{t:?}"),
            );
        } else {
            let url = &invalid[*i - refused.len()];
            c.step(&format!("invalid: {url}"));
            c.error(r, "http-invalid-url", Some(&format!("Invalid URL: {url}")));
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.step("after the matrix");
    c.eq("connections reaching the origin", origin.connections(), 0);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_and_configuration() {
    let origin = Origin::start(|_| Reply::png(make_png(8, 8, 9301))).await;
    let url = origin.url("/a.png");

    let (server, alice) = server_with_alice("").await;
    let mut c = Check::new(&server);
    c.step("default configuration: copy uploads are off");
    let r = url_upload(&alice, "Url-disabled.png", &url, &[]).await;
    c.error(&r, "copyuploaddisabled", Some("Upload by URL disabled."));
    drop(server);

    let no_right = CONFIG.replace("[group_permissions.user]\nupload_by_url = true\n", "");
    assert!(!no_right.contains("upload_by_url"));
    let (server, alice) = server_with_alice(&no_right).await;
    c.api = server.api();
    c.step("allow_copy_uploads, but nobody has upload_by_url");
    let r = url_upload(&alice, "Url-no-right.png", &url, &[]).await;
    c.error(
        &r,
        "permissiondenied",
        Some("You are not allowed to execute the action you have requested."),
    );
    drop(server);

    let domains = format!("copy_uploads_domains = [\"*.example.org\"]\n{CONFIG}");
    let (server, alice) = server_with_alice(&domains).await;
    c.api = server.api();
    c.step("copy_uploads_domains = [\"*.example.org\"], host 127.0.0.1");
    let r = url_upload(&alice, "Url-bad-domain.png", &url, &[]).await;
    c.error(
        &r,
        "copyuploadbaddomain",
        Some("Uploads by URL are not allowed from this domain."),
    );
    drop(server);

    tokio::time::sleep(Duration::from_millis(200)).await;
    c.step("after all refusals");
    c.eq("connections reaching the origin", origin.connections(), 0);
    c.finish();
}
