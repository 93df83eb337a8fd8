//! The front door over real sockets: slow and half-open connections, connection caps,
//! requests refused before their body is read, parameter and size limits, JSONP, and the
//! metrics that count all of it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use common::*;

fn addr(server: &Server) -> SocketAddr {
    server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("server address")
}

/// A connection to the server from the loopback address `from` (127.0.0.x).
async fn connect_from(server: &Server, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind local address");
    socket.connect(addr(server)).await.expect("connect")
}

/// Reads until the peer closes (or resets) the connection, for at most `within`; returns
/// what was read, or None if the connection was still open.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The status line and the JSON body of a raw HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map_or(body.len(), |e| e + 1);
    let json = serde_json::from_str(&body[start..end]).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), json)
}

/// Session cookies of a bot-password login, for hand-made requests.
async fn login_cookies(server: &Server, lgname: &str, lgpassword: &str) -> String {
    let http = reqwest::Client::new();
    let mut jar: Vec<String> = Vec::new();
    let keep = |jar: &mut Vec<String>, h: &reqwest::header::HeaderMap| {
        for v in h.get_all("set-cookie") {
            let c = v.to_str().unwrap_or("").split(';').next().unwrap_or("");
            if let Some((name, _)) = c.split_once('=') {
                jar.retain(|old| !old.starts_with(&format!("{name}=")));
                jar.push(c.to_owned());
            }
        }
    };
    let r = http
        .get(server.api())
        .query(&[
            ("action", "query"),
            ("meta", "tokens"),
            ("type", "login"),
            ("format", "json"),
        ])
        .send()
        .await
        .expect("tokens");
    keep(&mut jar, r.headers());
    let v: Value = r.json().await.expect("json");
    let token = v["query"]["tokens"]["logintoken"]
        .as_str()
        .expect("login token")
        .to_owned();
    let r = http
        .post(server.api())
        .header("Cookie", jar.join("; "))
        .form(&[
            ("action", "login"),
            ("lgname", lgname),
            ("lgpassword", lgpassword),
            ("lgtoken", &token),
            ("format", "json"),
        ])
        .send()
        .await
        .expect("login");
    keep(&mut jar, r.headers());
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["login"]["result"], "Success", "{v}");
    jar.join("; ")
}

async fn metrics(server: &Server) -> String {
    reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of a metric line that starts with `prefix` (name and labels), or 0.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn siteinfo_ok(client: &reqwest::Client, server: &Server) -> bool {
    let r = client
        .get(server.api())
        .query(&[
            ("action", "query"),
            ("meta", "siteinfo"),
            ("format", "json"),
        ])
        .send()
        .await;
    match r {
        Ok(r) => r
            .json::<Value>()
            .await
            .is_ok_and(|v| v["query"]["general"]["sitename"].is_string()),
        Err(_) => false,
    }
}

fn tmp_files(server: &Server) -> Vec<String> {
    let tmp = server.data_dir().join("tmp");
    std::fs::read_dir(&tmp)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_connections_time_out_while_clients_are_served() {
    let server = Server::start_with_config(
        "request_header_timeout = 3\nkeepalive_timeout = 3\nmax_connections_per_address = 5000\n",
    );
    let mut c = Check::new(&server);

    c.step("2,000 connections send a request line and one header, then go quiet");
    let mut idle = Vec::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(addr(&server)).await.expect("connect");
        s.write_all(b"POST /w/api.php HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        idle.push(s);
    }
    // The server accepts them as fast as it can; on a loaded machine the first ones may
    // already have reached their header timeout by the time the last is accepted.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let m = metrics(&server).await;
        let seen = metric(&m, "mwstore_connections_open")
            + metric(
                &m,
                "mwstore_connections_closed_total{reason=\"header_timeout\"}",
            );
        if seen >= 2000.0 || std::time::Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    c.ok("they were all accepted", seen >= 2000.0, seen);

    c.step("a normal client is served while they are held");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for i in 0..5 {
        c.ok(
            &format!("siteinfo #{i} answered"),
            siteinfo_ok(&client, &server).await,
            "no answer",
        );
    }

    c.step("after the header timeout every one of them is closed by the server");
    let mut still_open = 0;
    for s in &mut idle {
        if read_until_closed(s, Duration::from_secs(15))
            .await
            .is_none()
        {
            still_open += 1;
        }
    }
    c.eq("connections still open", still_open, 0);
    let m = metrics(&server).await;
    c.ok(
        "the metrics count the header timeouts",
        metric(
            &m,
            "mwstore_connections_closed_total{reason=\"header_timeout\"}",
        ) >= 2000.0,
        &m,
    );

    c.step("an idle keep-alive connection is closed after the keep-alive timeout");
    let mut s = TcpStream::connect(addr(&server)).await.expect("connect");
    s.write_all(
        b"GET /w/api.php?action=query&meta=siteinfo&format=json HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .expect("write");
    let mut first = [0u8; 12];
    s.read_exact(&mut first).await.expect("an answer");
    c.eq(
        "answered",
        String::from_utf8_lossy(&first).to_string(),
        "HTTP/1.1 200".to_owned(),
    );
    c.ok(
        "then closed",
        read_until_closed(&mut s, Duration::from_secs(10))
            .await
            .is_some(),
        "still open",
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_caps_per_address() {
    let server = Server::start_with_config(
        "request_header_timeout = 60\nkeepalive_timeout = 60\nmax_connections_per_address = 50\n",
    );
    let mut c = Check::new(&server);

    c.step("a flood of idle connections from 127.0.0.2 never holds more than its cap");
    let mut flood = Vec::new();
    for _ in 0..200 {
        let mut s = connect_from(&server, [127, 0, 0, 2]).await;
        let _ = s.write_all(b"GET /w/api.php HTTP/1.1\r\n").await;
        flood.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = metrics(&server).await;
    let open = metric(&m, "mwstore_connections_open");
    c.ok(
        "at most the cap is open (plus this request)",
        open <= 52.0,
        open,
    );
    c.ok(
        "idle connections were closed to make room",
        metric(&m, "mwstore_connections_closed_total{reason=\"evicted\"}") >= 150.0,
        &m,
    );

    c.step("a normal client of the same address is still served");
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    c.ok(
        "siteinfo from 127.0.0.2",
        siteinfo_ok(&client, &server).await,
        "",
    );

    c.step("when every connection of an address is busy, one more is refused with 503");
    drop(flood);
    let cookie = {
        let (n, p) = alice_bot(&server);
        login_cookies(&server, &n, &p).await
    };
    let mut busy = Vec::new();
    for _ in 0..50 {
        let mut s = connect_from(&server, [127, 0, 0, 3]).await;
        // A request whose body is still coming: in progress, not idle.
        let head = format!(
            "POST /w/api.php HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\naction=query&"
        );
        s.write_all(head.as_bytes()).await.expect("write");
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = connect_from(&server, [127, 0, 0, 3]).await;
    let raw = read_until_closed(&mut extra, Duration::from_secs(10))
        .await
        .unwrap_or_default();
    let (status, head, body) = parse_response(&raw);
    c.eq("status", status, 503);
    c.ok("Retry-After", head.contains("retry-after:"), &head);
    c.eq("code", body["error"]["code"].as_str(), Some("ratelimited"));

    c.step("another address is not affected");
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 4]))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    c.ok(
        "siteinfo from 127.0.0.4",
        siteinfo_ok(&other, &server).await,
        "",
    );
    let m = metrics(&server).await;
    c.ok(
        "refusals are counted",
        metric(
            &m,
            "mwstore_connections_refused_total{reason=\"per_address\"}",
        ) >= 1.0,
        &m,
    );
    drop(busy);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_is_cut_after_the_body_timeout() {
    let server = Server::start_with_config("request_body_timeout = 2\n");
    let mut c = Check::new(&server);
    let (n, p) = alice_bot(&server);
    let cookie = login_cookies(&server, &n, &p).await;
    let alice = logged_in(&server, &n, &p).await;
    let token = alice.token();

    c.step("a multipart upload whose file stops half-way");
    let boundary = "frontdoorboundary";
    let file = make_png(300, 300, 7);
    let mut body = Vec::new();
    for (k, v) in [
        ("action", "upload"),
        ("format", "json"),
        ("filename", "Front-door-cut.png"),
        ("token", token.as_str()),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n")
            .as_bytes(),
    );
    let full_len = body.len() + file.len() + format!("\r\n--{boundary}--\r\n").len();
    body.extend_from_slice(&file[..file.len() / 2]);
    let mut s = TcpStream::connect(addr(&server)).await.expect("connect");
    let head = format!(
        "POST /w/api.php HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {full_len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(&body).await.expect("write half");
    let raw = read_until_closed(&mut s, Duration::from_secs(20)).await;
    c.ok("the server closed the connection", raw.is_some(), "");
    let (status, head, json) = parse_response(&raw.unwrap_or_default());
    c.eq("status", status, 408);
    c.eq(
        "code",
        json["error"]["code"].as_str(),
        Some("requesttimeout"),
    );
    c.ok(
        "Connection: close",
        head.contains("connection: close"),
        &head,
    );

    c.step("nothing was published and nothing is left in tmp/");
    let (_, _, v) = alice
        .get(&[
            ("action", "query"),
            ("list", "allimages"),
            ("format", "json"),
        ])
        .await;
    c.eq(
        "allimages",
        v["query"]["allimages"].as_array().map(Vec::len),
        Some(0),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.eq("files in tmp/", tmp_files(&server), Vec::<String>::new());
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_parameters_are_refused_early() {
    let server = Server::start();
    let mut c = Check::new(&server);
    let client = reqwest::Client::new();

    c.step("500,000 parameters in an urlencoded body");
    let mut body = String::from("action=query&format=json");
    for i in 0..500_000 {
        body.push_str(&format!("&a{i}="));
    }
    let r = client
        .post(server.api())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            c.eq("status", status, 413);
            c.eq("code", v["error"]["code"].as_str(), Some("toomanyparams"));
            c.eq(
                "info",
                v["error"]["info"].as_str(),
                Some("The request has more than the allowed 1,000 parameters."),
            );
        }
        // The body is 4 MB; a client may be cut off before it has sent it all.
        Err(e) => c.ok("answered or cut off", e.is_request() || e.is_body(), e),
    }

    c.step("1,001 parameters in the query string");
    let r = get_with_params(&client, &server, "b", 1000).await;
    c.eq("status", r.status().as_u16(), 413);
    let v: Value = r.json().await.expect("json");
    c.eq("code", v["error"]["code"].as_str(), Some("toomanyparams"));

    c.step("1,001 multipart fields");
    let mut form = reqwest::multipart::Form::new()
        .text("action", "query")
        .text("format", "json");
    for i in 0..1000 {
        form = form.text(format!("c{i}"), "1");
    }
    let r = client
        .post(server.api())
        .multipart(form)
        .send()
        .await
        .expect("POST");
    c.eq("status", r.status().as_u16(), 413);
    let v: Value = r.json().await.expect("json");
    c.eq("code", v["error"]["code"].as_str(), Some("toomanyparams"));

    c.step("1,000 parameters are fine");
    let r = get_with_params(&client, &server, "d", 998).await;
    c.eq("status", r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("json");
    c.ok("no error", v.get("error").is_none(), &v);
    c.finish();
}

/// An `action=query` GET with `n` more parameters named `prefix0`, `prefix1`, ….
async fn get_with_params(
    client: &reqwest::Client,
    server: &Server,
    prefix: &str,
    n: usize,
) -> reqwest::Response {
    let mut q = String::from("action=query&format=json");
    for i in 0..n {
        q.push_str(&format!("&{prefix}{i}=1"));
    }
    client
        .get(format!("{}?{q}", server.api()))
        .send()
        .await
        .expect("GET")
}

/// Writes `total` bytes of a body after `head`, while reading the answer; returns the
/// answer and how many body bytes were written before the server closed.
async fn push_body(server: &Server, head: String, total: u64) -> (Vec<u8>, u64) {
    let s = TcpStream::connect(addr(server)).await.expect("connect");
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let mut sent = 0u64;
        if wr.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        let chunk = vec![0x41u8; 64 * 1024];
        while sent < total {
            match tokio::time::timeout(Duration::from_secs(5), wr.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len() as u64,
                _ => break,
            }
        }
        sent
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let sent = writer.await.unwrap_or(0);
    (answer, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_uploads_are_refused_before_their_bytes() {
    let server = Server::start();
    let mut c = Check::new(&server);
    let boundary = "anonboundary";
    let fields = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nupload\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\njson\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\nAnon.png\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
    );
    const BIG: u64 = 200 * 1024 * 1024;

    c.step("an anonymous 200 MiB upload without Content-Length (chunked)");
    // One chunk header announcing the rest: the server sees a file part from nobody.
    let head = format!(
        "POST /w/api.php HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{fields}",
        fields.len() as u64 + BIG
    );
    let (answer, sent) = push_body(&server, head, BIG).await;
    let (status, head, json) = parse_response(&answer);
    c.eq("status", status, 200);
    c.eq(
        "code",
        json["error"]["code"].as_str(),
        Some("mustbeloggedin"),
    );
    c.ok(
        "Connection: close",
        head.contains("connection: close"),
        &head,
    );
    c.ok(
        "at most a few MiB were taken",
        sent < 24 * 1024 * 1024,
        format!("{sent} bytes sent"),
    );

    c.step("an anonymous 200 MiB upload with Content-Length");
    let head = format!(
        "POST /w/api.php HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{fields}",
        fields.len() as u64 + BIG
    );
    let (answer, sent) = push_body(&server, head, BIG).await;
    let (status, _, json) = parse_response(&answer);
    c.ok("answered", status == 200 || status == 413, status);
    c.ok(
        "refused",
        json["error"]["code"].is_string(),
        json.to_string(),
    );
    c.ok(
        "at most a few MiB were taken",
        sent < 24 * 1024 * 1024,
        format!("{sent} bytes sent"),
    );

    c.step("a file part for another action is refused at once");
    let (n, p) = alice_bot(&server);
    let cookie = login_cookies(&server, &n, &p).await;
    let fields_q = fields.replace("\r\n\r\nupload\r\n", "\r\n\r\nquery\r\n");
    let head = format!(
        "POST /w/api.php HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{fields_q}",
        fields_q.len() as u64 + BIG
    );
    let (answer, sent) = push_body(&server, head, BIG).await;
    let (_, _, json) = parse_response(&answer);
    c.eq("code", json["error"]["code"].as_str(), Some("badupload"));
    c.ok(
        "at most a few MiB were taken",
        sent < 96 * 1024 * 1024,
        format!("{sent} bytes sent"),
    );

    c.step("nothing is left in tmp/ and the server still answers");
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.eq("files in tmp/", tmp_files(&server), Vec::<String>::new());
    c.ok(
        "siteinfo",
        siteinfo_ok(&reqwest::Client::new(), &server).await,
        "",
    );
    c.finish();
}

#[tokio::test]
async fn spool_share_per_user() {
    let server = Server::start_with_config("max_spool_bytes_per_user = 1048576\n");
    let mut c = Check::new(&server);
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;

    c.step("a file larger than the user's share of the spool is refused, retryably");
    // Refused while it is received, before anything looks at what it is.
    let big = vec![0x42u8; 3 * 1024 * 1024];
    let r = alice.upload_resp("Front-door-big.jpg", &big, &[]).await;
    let e = c.error_with_status(&r, 429, "ratelimited", None);
    c.ok(
        "info says why",
        e["info"].as_str().unwrap_or("").contains("at once"),
        &e,
    );
    c.eq("Retry-After", header(&r.1, "retry-after"), "10".to_owned());

    c.step("a file within it is accepted, and nothing is left in tmp/");
    let small = make_png(20, 20, 3);
    let r = alice.upload_resp("Front-door-small.png", &small, &[]).await;
    c.upload_result(&r, "Success");
    c.eq("files in tmp/", tmp_files(&server), Vec::<String>::new());
    c.finish();
}

#[tokio::test]
async fn jsonp_callback_metrics_and_article_size() {
    let server = Server::start();
    let mut c = Check::new(&server);
    let client = reqwest::Client::new();

    c.step("a JSONP callback keeps only what a function reference needs");
    for (cb, kept) in [
        ("alert(1)//", "alert1"),
        ("foo.bar[0]['x']", "foo.bar[0]['x']"),
        ("a-b c;d</script>", "abcdscript"),
    ] {
        let r = client
            .get(server.api())
            .query(&[
                ("action", "query"),
                ("meta", "siteinfo"),
                ("format", "json"),
                ("callback", cb),
            ])
            .send()
            .await
            .expect("GET");
        let text = r.text().await.expect("text");
        c.ok(
            &format!("callback {cb:?}"),
            text.starts_with(&format!("/**/{kept}(")),
            &text[..40.min(text.len())],
        );
    }

    c.step("text above max_article_size is refused with contenttoobig");
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    let text = "x".repeat(2 * 1024 * 1024 + 1);
    let r = alice
        .upload_resp(
            "Front-door-text.png",
            &make_png(5, 5, 1),
            &[("text", text.as_str())],
        )
        .await;
    c.error(
        &r,
        "contenttoobig",
        Some("The content you supplied exceeds the article size limit of 2,048 kibibytes."),
    );
    let comment = "y".repeat(2 * 1024 * 1024 + 1);
    let r = alice
        .upload_resp(
            "Front-door-text.png",
            &make_png(5, 5, 1),
            &[("comment", comment.as_str())],
        )
        .await;
    c.error(&r, "contenttoobig", None);
    let text = "x".repeat(2 * 1024 * 1024);
    let r = alice
        .upload_resp(
            "Front-door-text.png",
            &make_png(5, 5, 1),
            &[("text", text.as_str())],
        )
        .await;
    c.upload_result(&r, "Success");

    c.step("/metrics counts what happened");
    let mut mallory = Client::new(&server);
    let r = mallory
        .login("Alice@bot", "wrongpassword0123456789abcdefghij")
        .await;
    c.eq(
        "a wrong password",
        r["login"]["result"].as_str(),
        Some("Failed"),
    );
    let m = metrics(&server).await;
    c.ok(
        "logins by outcome",
        metric(&m, "mwstore_logins_total{outcome=\"success\"}") == 1.0
            && metric(&m, "mwstore_logins_total{outcome=\"failure\"}") == 1.0,
        &m,
    );
    c.ok(
        "requests by action and code",
        metric(
            &m,
            "mwstore_requests_total{action=\"upload\",code=\"contenttoobig\"}",
        ) == 2.0,
        &m,
    );
    c.ok(
        "successful uploads",
        metric(&m, "mwstore_requests_total{action=\"upload\",code=\"ok\"}") == 1.0,
        &m,
    );
    c.ok(
        "upload latency histogram",
        m.contains("mwstore_upload_duration_seconds_bucket"),
        &m,
    );
    c.ok(
        "bytes received",
        metric(&m, "mwstore_received_bytes_total") > 4.0 * 1024.0 * 1024.0,
        &m,
    );
    c.finish();
}

#[tokio::test]
async fn variables_that_are_not_settings_do_not_stop_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_in_with_env(
        dir,
        "",
        &[
            ("MWSTORE_PASSWORD", "not a setting"),
            ("MWSTORE_TEST_ANYTHING", "1"),
        ],
    );
    let ok = siteinfo_ok(&reqwest::Client::new(), &server).await;
    assert!(ok, "the server answers");
    let out = std::process::Command::new(BIN)
        .args(["user", "list", "--data-dir"])
        .arg(server.data_dir())
        .env("MWSTORE_MAX_UPLOAD_SIZ", "3")
        .output()
        .expect("run mwstore");
    assert!(!out.status.success(), "a misspelt setting is refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max_upload_siz"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An origin that answers every request with a PNG, slowly (the body after `delay`).
async fn slow_origin(png: Vec<u8>, delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind origin");
    let url = format!("http://{}/slow.png", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let png = png.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    png.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                tokio::time::sleep(delay).await;
                let _ = sock.write_all(&png).await;
            });
        }
    });
    url
}

async fn url_upload(client: &Client, name: &str, url: &str) -> Resp {
    let token = client.token();
    client
        .post(&[
            ("action", "upload"),
            ("format", "json"),
            ("filename", name),
            ("url", url),
            ("ignorewarnings", "1"),
            ("token", &token),
        ])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_fetches_are_capped_per_user() {
    let server = Server::start_with_config(
        "allow_copy_uploads = true
copy_uploads_allow_private = [\"127.0.0.1/32\"]
max_url_fetches_per_user = 1
[group_permissions.user]
upload_by_url = true
",
    );
    let mut c = Check::new(&server);
    let alice = bot_client(
        &server,
        "Alice",
        Some(""),
        "bot",
        "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume",
    )
    .await;
    let bob = bot_client(
        &server,
        "Bob",
        Some(""),
        "bot",
        "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume",
    )
    .await;
    let url = slow_origin(make_png(8, 8, 5), Duration::from_secs(2)).await;

    c.step("two fetches at once for one user: the second is refused, retryably");
    let first = url_upload(&alice, "Front-door-url-1.png", &url);
    let second = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        url_upload(&alice, "Front-door-url-2.png", &url).await
    };
    let other = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        url_upload(&bob, "Front-door-url-3.png", &url).await
    };
    let (r1, r2, r3) = tokio::join!(first, second, other);
    c.upload_result(&r1, "Success");
    let e = c.error_with_status(&r2, 429, "ratelimited", None);
    c.ok(
        "info says why",
        e["info"].as_str().unwrap_or("").contains("by URL"),
        &e,
    );
    c.step("another user is not affected");
    c.upload_result(&r3, "Success");

    c.step("after the first one ends, the user may fetch again");
    let r = url_upload(&alice, "Front-door-url-4.png", &url).await;
    c.upload_result(&r, "Success");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_requests_then_keeps_its_deadline() {
    let server = Server::start_with_config("shutdown_timeout = 2\nrequest_body_timeout = 60\n");
    let (n, p) = alice_bot(&server);
    let cookie = login_cookies(&server, &n, &p).await;

    // A request in progress that will never finish: its body stops after a few bytes.
    let mut stuck = TcpStream::connect(addr(&server)).await.expect("connect");
    let head = format!(
        "POST /w/api.php HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\naction=query&"
    );
    stuck.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = server.child.id().to_string();
    let started = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    // New connections are no longer taken…
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = TcpStream::connect(addr(&server)).await.is_err();
    assert!(refused, "the listener is closed once shutdown begins");
    // …and the server exits at its deadline although the request never ends.
    let _dir = server.wait_exit(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "the request in progress was given its time ({took:?})"
    );
    let closed = read_until_closed(&mut stuck, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the stuck connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_after_the_send_timeout() {
    let server = Server::start_with_config("send_timeout = 2\n");
    let mut c = Check::new(&server);
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    // 4096 × 2048 random pixels, stored uncompressed: 24 MiB.
    let png = make_png(4096, 2048, 7);
    let r = alice
        .upload_resp("Front-door-big-download.png", &png, &[])
        .await;
    let up = c.upload_result(&r, "Success");
    let url = up["imageinfo"]["url"].as_str().unwrap_or("").to_owned();
    let path = url.trim_start_matches(&server.base).to_owned();

    c.step("a download whose client does not read");
    let mut s = TcpStream::connect(addr(&server)).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let got = read_until_closed(&mut s, Duration::from_secs(20)).await;
    c.ok("the server closed it", got.is_some(), "still open");
    let got = got.map_or(0, |g| g.len());
    c.ok(
        "before the whole file was sent",
        got < png.len(),
        format!("{got} of {} bytes", png.len()),
    );
    let m = metrics(&server).await;
    c.ok(
        "counted",
        metric(
            &m,
            "mwstore_connections_closed_total{reason=\"send_timeout\"}",
        ) >= 1.0,
        &m,
    );

    c.step("a client that reads gets all of it");
    let body = reqwest::get(&url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("bytes");
    c.eq("bytes", body.len(), png.len());
    c.finish();
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_forwarded_address() {
    let server = Server::start_with_config("cdn_servers_no_purge = [\"127.0.0.1\"]\n");
    let mut c = Check::new(&server);
    let client = reqwest::Client::new();
    let who = |xff: &'static str| {
        let client = client.clone();
        let api = server.api();
        async move {
            let v: Value = client
                .get(api)
                .query(&[
                    ("action", "query"),
                    ("meta", "userinfo"),
                    ("format", "json"),
                ])
                .header("X-Forwarded-For", xff)
                .send()
                .await
                .expect("GET")
                .json()
                .await
                .expect("json");
            v["query"]["userinfo"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }
    };
    c.eq(
        "one hop",
        who("198.51.100.7").await,
        "198.51.100.7".to_owned(),
    );
    c.eq(
        "the rightmost address that is not a trusted proxy",
        who("203.0.113.1, 198.51.100.7, 127.0.0.1").await,
        "198.51.100.7".to_owned(),
    );

    c.step("without the setting, X-Forwarded-For is ignored");
    let plain = Server::start();
    let v: Value = client
        .get(plain.api())
        .query(&[
            ("action", "query"),
            ("meta", "userinfo"),
            ("format", "json"),
        ])
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    c.eq(
        "the peer address",
        v["query"]["userinfo"]["name"].as_str(),
        Some("127.0.0.1"),
    );
    c.finish();
}
