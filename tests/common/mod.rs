//! Test harness: runs the real `mwstore` binary on an ephemeral port with its own data
//! directory, and talks to it over HTTP like a client does.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sha1::Digest;

pub const BIN: &str = env!("CARGO_BIN_EXE_mwstore");

/// A running server.
pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    /// e.g. `http://127.0.0.1:40123`
    pub base: String,
    pub admin_password: Option<String>,
    config: Option<PathBuf>,
    /// Set when the data directory is a filesystem of the server's own mount namespace.
    small_disk: bool,
}

impl Server {
    /// Starts a server with default settings.
    pub fn start() -> Server {
        Self::start_with_config("")
    }

    /// Starts a server with extra TOML configuration.
    pub fn start_with_config(toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, toml)
    }

    /// Starts a server on an existing data directory.
    pub fn start_in(dir: tempfile::TempDir, toml: &str) -> Server {
        Self::spawn(dir, toml, None, &[])
    }

    /// Starts a server whose data directory is a tmpfs of `mib` MiB, mounted in a mount
    /// namespace of the server's own (`unshare`), so that a test can fill the disk. The test
    /// sees that filesystem through [`Server::data_dir`] (`/proc/PID/root/...`).
    pub fn start_on_small_disk(mib: u32, toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::spawn(dir, toml, Some(mib), &[])
    }

    fn spawn(
        dir: tempfile::TempDir,
        toml: &str,
        small_disk: Option<u32>,
        env: &[(&str, &str)],
    ) -> Server {
        let config = if toml.is_empty() {
            None
        } else {
            let p = dir.path().join("config.toml");
            std::fs::write(&p, toml).expect("write config");
            Some(p)
        };
        let mut cmd = match small_disk {
            None => Command::new(BIN),
            Some(mib) => {
                let data = dir.path().join("data");
                std::fs::create_dir_all(&data).expect("mkdir data");
                let mut c = Command::new("unshare");
                // As root a mount namespace is enough; otherwise a user namespace maps us
                // to root inside it.
                c.args(if is_root() {
                    &["--mount"][..]
                } else {
                    &["--user", "--map-root-user", "--mount"][..]
                });
                c.args([
                    "sh",
                    "-c",
                    "mount -t tmpfs -o size=\"$1\"m tmpfs \"$2\" && shift 2 && exec \"$@\"",
                    "sh",
                ])
                .arg(mib.to_string())
                .arg(&data)
                .arg(BIN);
                c
            }
        };
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path().join("data"));
        if let Some(c) = &config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mwstore");
        let (base, admin_password) = await_listening(&mut child);
        Server {
            child,
            dir,
            base,
            admin_password,
            config,
            small_disk: small_disk.is_some(),
        }
    }

    /// The server's data directory, as the server sees it.
    pub fn data_dir(&self) -> PathBuf {
        let data = self.dir.path().join("data");
        if self.small_disk {
            let rel = data.strip_prefix("/").unwrap_or(&data);
            Path::new(&format!("/proc/{}/root", self.child.id())).join(rel)
        } else {
            data
        }
    }

    pub fn api(&self) -> String {
        format!("{}/w/api.php", self.base)
    }

    /// Runs an admin command against this server's data directory.
    pub fn admin(&self, args: &[&str]) -> String {
        let mut cmd = if self.small_disk {
            // Inside the server's mount namespace: SQLite resolves the `/proc/PID/root`
            // link of `data_dir()` to our own root, so that path does not reach the tmpfs.
            let mut c = Command::new("nsenter");
            c.arg(format!("--target={}", self.child.id()));
            if !is_root() {
                c.args(["--user", "--preserve-credentials"]);
            }
            c.arg("--mount").arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        cmd.args(args)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"));
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd.output().expect("run admin command");
        assert!(
            out.status.success(),
            "admin command {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a user and returns its name.
    pub fn add_user(&self, name: &str, password: &str, groups: &str) {
        let mut args = vec!["user", "add", name, "--password", password];
        if !groups.is_empty() {
            args.push("--groups");
            args.push(groups);
        }
        self.admin(&args);
    }

    /// Creates a bot password; returns (lgname, lgpassword).
    pub fn bot_password(&self, user: &str, bot: &str, grants: &str) -> (String, String) {
        let out = self.admin(&[
            "botpassword",
            "add",
            user,
            bot,
            "--grants",
            grants,
            "--json",
        ]);
        let v: Value = serde_json::from_str(out.trim()).expect("json");
        (
            v["lgname"].as_str().expect("lgname").to_owned(),
            v["lgpassword"].as_str().expect("lgpassword").to_owned(),
        )
    }

    /// Kills the server abruptly and returns its data directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An API client with its own cookie jar.
pub struct Client {
    pub http: reqwest::Client,
    pub api: String,
    pub csrf: Option<String>,
}

/// A file part for multipart requests.
pub struct FilePart<'a> {
    pub field: &'a str,
    pub filename: &'a str,
    pub content_type: Option<&'a str>,
    pub data: Vec<u8>,
}

/// Status, headers and JSON body (or the raw text when it is not JSON) of a response.
pub async fn answer(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl Client {
    pub fn new(server: &Server) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            api: server.api(),
            csrf: None,
        }
    }

    /// GET with query parameters; returns (status, headers, json).
    pub async fn get(&self, params: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .get(&self.api)
            .query(params)
            .send()
            .await
            .expect("GET");
        answer(r).await
    }

    /// POST urlencoded.
    pub async fn post(&self, params: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .post(&self.api)
            .form(params)
            .send()
            .await
            .expect("POST");
        answer(r).await
    }

    /// POST multipart with text fields and file parts.
    pub async fn post_multipart(
        &self,
        params: &[(&str, &str)],
        files: Vec<FilePart<'_>>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in params {
            form = form.text(k.to_string(), v.to_string());
        }
        for f in files {
            let mut part = reqwest::multipart::Part::bytes(f.data).file_name(f.filename.to_owned());
            if let Some(ct) = f.content_type {
                part = part.mime_str(ct).expect("mime");
            }
            form = form.part(f.field.to_owned(), part);
        }
        let r = self
            .http
            .post(&self.api)
            .multipart(form)
            .send()
            .await
            .expect("POST multipart");
        answer(r).await
    }

    /// POST a raw body with a given Content-Type.
    pub async fn post_raw(
        &self,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .post(&self.api)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST raw");
        answer(r).await
    }

    /// A login token (and the headers of the answer that gave it).
    pub async fn login_token(&self) -> (reqwest::header::HeaderMap, String) {
        let (_, h, v) = self
            .get(&[
                ("format", "json"),
                ("action", "query"),
                ("meta", "tokens"),
                ("type", "login"),
            ])
            .await;
        let token = v["query"]["tokens"]["logintoken"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        (h, token)
    }

    /// Logs in with `action=login` (fetching a login token first).
    pub async fn login(&mut self, lgname: &str, lgpassword: &str) -> Value {
        let (_, token) = self.login_token().await;
        assert!(!token.is_empty(), "no login token");
        let (_, _, r) = self
            .post(&[
                ("action", "login"),
                ("lgname", lgname),
                ("lgpassword", lgpassword),
                ("lgtoken", &token),
                ("format", "json"),
            ])
            .await;
        if r["login"]["result"] == "Success" {
            self.refresh_csrf().await;
        }
        r
    }

    pub async fn refresh_csrf(&mut self) -> String {
        let (_, _, t) = self
            .get(&[("action", "query"), ("meta", "tokens"), ("format", "json")])
            .await;
        let tok = t["query"]["tokens"]["csrftoken"]
            .as_str()
            .expect("csrf")
            .to_owned();
        self.csrf = Some(tok.clone());
        tok
    }

    pub fn token(&self) -> String {
        self.csrf.clone().unwrap_or_else(|| "+\\".into())
    }

    /// `action=upload` with a file part; extra params appended.
    pub async fn upload(&self, filename: &str, data: &[u8], extra: &[(&str, &str)]) -> Value {
        let token = self.token();
        let mut params: Vec<(&str, &str)> = vec![
            ("action", "upload"),
            ("format", "json"),
            ("filename", filename),
        ];
        params.extend_from_slice(extra);
        params.push(("token", &token));
        let (_, _, v) = self
            .post_multipart(
                &params,
                vec![FilePart {
                    field: "file",
                    filename: "upload.bin",
                    content_type: None,
                    data: data.to_vec(),
                }],
            )
            .await;
        v
    }
}

/// Starts a server with users Alice and Bob (bot passwords with upload grants) and returns
/// logged-in clients for both.
/// The grants of a bot password that uploads.
pub const UPLOAD_GRANTS: &str = "basic,uploadfile,uploadeditmovefile,createeditmovepage";

/// Creates the user Alice with a bot password of [`UPLOAD_GRANTS`]; returns
/// (lgname, lgpassword).
pub fn alice_bot(server: &Server) -> (String, String) {
    server.add_user("Alice", "alice-password-1", "");
    server.bot_password("Alice", "bot", UPLOAD_GRANTS)
}

/// A client logged in on `server` (a restarted server needs a new one: its port is new).
pub async fn logged_in(server: &Server, lgname: &str, lgpassword: &str) -> Client {
    let mut c = Client::new(server);
    let v = c.login(lgname, lgpassword).await;
    assert_eq!(v["login"]["result"], "Success", "{v}");
    c
}

pub async fn server_with_alice_bob() -> (Server, Client, Client) {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    server.add_user("Bob", "bob-password-1", "");
    let grants = "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume";
    let (an, ap) = server.bot_password("Alice", "bot", grants);
    let (bn, bp) = server.bot_password("Bob", "bot", grants);
    let mut alice = Client::new(&server);
    assert_eq!(alice.login(&an, &ap).await["login"]["result"], "Success");
    let mut bob = Client::new(&server);
    assert_eq!(bob.login(&bn, &bp).await["login"]["result"], "Success");
    (server, alice, bob)
}

pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(data))
}

/// crc32 for PNG chunks.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for x in data {
        a = (a + *x as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut c = kind.to_vec();
    c.extend_from_slice(data);
    out.extend_from_slice(&c);
    out.extend_from_slice(&crc32(&c).to_be_bytes());
}

/// A valid truecolour PNG of `w`×`h` whose pixels are derived from `seed` (distinct seeds
/// give distinct files).
#[allow(clippy::same_item_push)]
pub fn make_png(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for _ in 0..h {
        raw.push(0u8); // filter type "none" for this scanline
        for _ in 0..w * 3 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            raw.push((x & 0xff) as u8);
        }
    }
    // zlib stream with stored blocks.
    let mut z = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, c) in chunks.iter().enumerate() {
        z.push(if i + 1 == chunks.len() { 1 } else { 0 });
        z.extend_from_slice(&(c.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        z.extend_from_slice(c);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    png_with_idat(w, h, &[&z])
}

/// A real 8-bit RGB PNG of `w`×`h` in one flat colour, compressed by an encoder: a large
/// canvas in a small file, which decodes completely.
pub fn flat_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Every row but the first filters to zeros, which deflate shrinks about 1000-fold.
    enc.set_compression(png::Compression::Balanced);
    enc.set_filter(png::Filter::Up);
    let mut writer = enc.write_header().expect("PNG header");
    let mut stream = writer.stream_writer().expect("PNG stream");
    let row = vec![0x80u8; w as usize * 3];
    for _ in 0..h {
        std::io::Write::write_all(&mut stream, &row).expect("PNG row");
    }
    stream.finish().expect("PNG end");
    writer.finish().expect("PNG end");
    out
}

/// A PNG (8-bit RGB) whose header declares `w` × `h` and whose IDAT chunks hold `idat`, one
/// chunk each, taken as they are (for corpora: nothing checks they decode).
pub fn png_with_idat(w: u32, h: u32, idat: &[&[u8]]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    for data in idat {
        png_chunk(&mut out, b"IDAT", data);
    }
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A real baseline JPEG of `w`×`h` with an EXIF APP1 segment naming the camera `make`.
pub fn make_jpeg(w: u16, h: u16, make: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // APP1 Exif: TIFF header (little endian) with one IFD entry: Make (0x010F), ASCII.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let make_bytes: Vec<u8> = make.bytes().chain(std::iter::once(0)).collect();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x010Fu16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&(make_bytes.len() as u32).to_le_bytes());
    let data_off = 8 + 2 + 12 + 4;
    tiff.extend_from_slice(&(data_off as u32).to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&make_bytes);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    // Real image data from an encoder (its own SOI dropped), so the file decodes.
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let mut encoded = Vec::new();
    jpeg_encoder::Encoder::new(&mut encoded, 85)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .expect("encode a JPEG");
    out.extend_from_slice(&encoded[2..]);
    out
}

/// `jpeg` grown to `size` bytes by a comment segment after its SOI marker (still valid).
pub fn pad_jpeg(jpeg: &[u8], size: usize) -> Vec<u8> {
    let body = size.saturating_sub(jpeg.len() + 4).min(65533);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((body + 2) as u16).to_be_bytes());
    out.extend(std::iter::repeat_n(b'.', body));
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Path helper for the file a blob is stored in.
pub fn blob_path(data_dir: &Path, sha1: &str) -> PathBuf {
    data_dir.join("blobs").join(&sha1[0..2]).join(sha1)
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the HTTP-level API tests.
// ---------------------------------------------------------------------------------------------

/// The grants of the reference wiki's `Alice@bot` / `Bob@bot` bot passwords.
pub const BOT_GRANTS: &str = "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume";

/// `$wgFileExtensions` of the reference wiki (the transcripts' `filetype-banned` texts list it).
pub const REFERENCE_EXTENSIONS_TOML: &str = "file_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\", \"pdf\", \"tif\", \"tiff\", \"ogg\", \"oga\", \"ogv\", \"opus\", \"flac\", \"wav\", \"webm\", \"mp3\", \"mpg\", \"mpeg\", \"mid\", \"midi\", \"xcf\"]\n";

/// The reference wiki's list of permitted extensions as the `filetype-banned` info names it.
pub const REFERENCE_EXTENSIONS_TEXT: &str =
    "png, gif, jpg, jpeg, webp, svg, pdf, tif, tiff, ogg, oga, ogv, opus, flac, wav, webm, mp3, mpg, mpeg, mid, midi, xcf";

/// The reference wiki's `noupload` group, which loses every upload right.
pub const NOUPLOAD_GROUP_TOML: &str = "[revoke_permissions.noupload]\nupload = true\nreupload = true\nreupload-own = true\nreupload-shared = true\nupload_by_url = true\n";

/// The mailing-list sentence MediaWiki adds to docrefs and deprecation warnings.
pub const DEPRECATION_HELP: &str = "Subscribe to the mediawiki-api-announce mailing list at <https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/> for notice of API deprecations and breaking changes.";

/// The `*` (fv1) / `docref` text of an error answer from the API at `api`.
pub fn docref(api: &str) -> String {
    format!(
        "See {api} for API usage. Subscribe to the mediawiki-api-announce mailing list at &lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/&gt; for notice of API deprecations and breaking changes."
    )
}

/// An HTTP answer: status, headers and JSON (or the text as a JSON string).
pub type Resp = (u16, reqwest::header::HeaderMap, Value);

/// Header value as text ("" when absent).
pub fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// All `Set-Cookie` headers.
pub fn set_cookies(h: &reqwest::header::HeaderMap) -> Vec<String> {
    h.get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// The keys of a JSON object, in order.
/// Owned copies of `list`, to compare with what the server sent.
pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The string `field` of each item (`""` where it is missing).
pub fn field_of_each(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap_or("").to_owned())
        .collect()
}

pub fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// True for `YYYY-MM-DDTHH:MM:SSZ`.
pub fn is_iso_ts(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `2026-11-21T04:37:13Z` → `20261121043713`.
pub fn iso_to_ts14(iso: &str) -> String {
    iso.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// True for a CSRF/login token: 32 hex chars of HMAC, the hex timestamp, then `+\`.
pub fn is_token(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    match s.strip_suffix("+\\") {
        Some(h) => h.len() >= 40 && h.bytes().all(|c| c.is_ascii_hexdigit()),
        None => false,
    }
}

/// True for a stash file key `<base36>.<base36>.<user id>.<ext>` with the given extension.
pub fn is_filekey(v: &Value, ext: &str) -> bool {
    let Some(s) = v.as_str() else { return false };
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && !parts[0].is_empty()
        && parts[0]
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        && !parts[1].is_empty()
        && parts[1]
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        && !parts[2].is_empty()
        && parts[2].bytes().all(|c| c.is_ascii_digit())
        && parts[3] == ext
}

/// SHA-1 as MediaWiki stores it: base 36, lower case, padded to 31 characters.
pub fn sha1_base36(hex_sha1: &str) -> String {
    let mut num: Vec<u8> = hex::decode(hex_sha1).expect("hex sha1");
    let mut digits = Vec::new();
    while num.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for b in num.iter_mut() {
            let cur = (rem << 8) | *b as u32;
            *b = (cur / 36) as u8;
            rem = cur % 36;
        }
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[rem as usize]);
    }
    while digits.len() < 31 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("ascii")
}

/// Collects failed expectations of a multi-step scenario so that one run reports every
/// difference, then fails the test in [`Check::finish`].
pub struct Check {
    /// The API URL (for docrefs).
    pub api: String,
    step: String,
    failures: Vec<String>,
}

impl Check {
    pub fn new(server: &Server) -> Check {
        Check {
            api: server.api(),
            step: String::new(),
            failures: Vec::new(),
        }
    }

    /// Names the step the next checks belong to.
    pub fn step(&mut self, s: &str) {
        self.step = s.to_owned();
    }

    /// Records a failure unless `cond` holds.
    pub fn ok(&mut self, what: &str, cond: bool, detail: impl std::fmt::Display) {
        if !cond {
            self.failures
                .push(format!("[{}] {what}: {detail}", self.step));
        }
    }

    /// Records a failure unless `actual == expected`.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.failures.push(format!(
                "[{}] {what}:\n      expected {expected:?}\n      actual   {actual:?}",
                self.step
            ));
        }
    }

    /// JSON equality (object key order ignored), shown as JSON.
    pub fn json(&mut self, what: &str, actual: &Value, expected: &Value) {
        if actual != expected {
            self.failures.push(format!(
                "[{}] {what}:\n      expected {expected}\n      actual   {actual}",
                self.step
            ));
        }
    }

    /// Checks an API error answer: HTTP 200, `MediaWiki-API-Error: code`, `error.code`,
    /// `error.info` (when given) and the fv1 docref; returns the error object.
    pub fn error(&mut self, r: &Resp, code: &str, info: Option<&str>) -> Value {
        self.error_with_status(r, 200, code, info)
    }

    /// [`Check::error`] for an answer with another HTTP status than 200 (the refusals of
    /// the front door: 408, 413, 429).
    pub fn error_with_status(
        &mut self,
        r: &Resp,
        expected_status: u16,
        code: &str,
        info: Option<&str>,
    ) -> Value {
        let (status, headers, body) = r;
        self.eq("HTTP status", *status, expected_status);
        self.eq(
            "MediaWiki-API-Error header",
            header(headers, "mediawiki-api-error").as_str(),
            code,
        );
        let err = body["error"].clone();
        if err.is_null() {
            self.failures.push(format!(
                "[{}] expected error {code}, got body {body}",
                self.step
            ));
            return err;
        }
        self.eq("error.code", err["code"].as_str().unwrap_or(""), code);
        if let Some(info) = info {
            self.eq("error.info", err["info"].as_str().unwrap_or(""), info);
        }
        let docref = docref(&self.api);
        self.eq(
            "error docref (*)",
            err["*"].as_str().unwrap_or(""),
            docref.as_str(),
        );
        err
    }

    /// Checks a `verification-error` answer and its `details` (the failed check's key and
    /// parameters).
    pub fn verification_error(&mut self, r: &Resp, details: &Value) {
        let e = self.error(r, "verification-error", None);
        self.json("details", &e["details"], details);
    }

    /// Checks an `upload` answer's `result` and returns the `upload` object.
    pub fn upload_result(&mut self, r: &Resp, result: &str) -> Value {
        let (status, headers, body) = r;
        self.eq("HTTP status", *status, 200);
        self.eq(
            "no MediaWiki-API-Error header",
            header(headers, "mediawiki-api-error").as_str(),
            "",
        );
        let up = body["upload"].clone();
        if up.is_null() {
            self.failures.push(format!(
                "[{}] expected upload result {result}, got body {body}",
                self.step
            ));
            return up;
        }
        self.eq("upload.result", up["result"].as_str().unwrap_or(""), result);
        up
    }

    /// Checks a `Warning` answer: the warnings object, a fresh file key with `sessionkey`
    /// equal to it, and nothing else. Returns the file key.
    pub fn warning(&mut self, r: &Resp, warnings: &Value, ext: &str) -> String {
        let up = self.upload_result(r, "Warning");
        self.json("upload.warnings", &up["warnings"], warnings);
        self.eq(
            "keys of a Warning result",
            keys(&up),
            vec![
                "result".into(),
                "warnings".into(),
                "filekey".into(),
                "sessionkey".into(),
            ],
        );
        self.ok(
            "filekey format",
            is_filekey(&up["filekey"], ext),
            &up["filekey"],
        );
        self.eq("sessionkey == filekey", &up["sessionkey"], &up["filekey"]);
        up["filekey"].as_str().unwrap_or("").to_owned()
    }

    /// Checks that `url` (a JSON string) serves exactly `data`; `context` goes into the
    /// failure message.
    pub async fn served(
        &mut self,
        client: &Client,
        url: &Value,
        data: &[u8],
        what: &str,
        context: &str,
    ) {
        let Some(url) = url.as_str() else {
            self.ok(&format!("{what} has a URL"), false, url);
            return;
        };
        let (status, _, body) = client.fetch(reqwest::Method::GET, url, &[]).await;
        self.eq(&format!("HTTP status of {what}"), status, 200);
        self.ok(
            &format!("{what} serves the uploaded bytes"),
            body == data,
            format!(
                "served {} bytes (sha1 {}), uploaded {} bytes (sha1 {}){context}",
                body.len(),
                sha1_hex(&body),
                data.len(),
                sha1_hex(data)
            ),
        );
    }

    /// Whether every check so far held (to print more context before [`Check::finish`]).
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Fails the test if any check failed.
    pub fn finish(self) {
        if !self.failures.is_empty() {
            panic!(
                "{} check(s) failed:\n  {}",
                self.failures.len(),
                self.failures.join("\n  ")
            );
        }
    }
}

impl Client {
    /// A request to any URL with extra headers; returns (status, headers, body bytes).
    pub async fn fetch(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut rb = self.http.request(method, url);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let h = r.headers().clone();
        let body = r.bytes().await.expect("body").to_vec();
        (status, h, body)
    }

    /// `action=upload` with a file part; returns status and headers too.
    pub async fn upload_resp(&self, filename: &str, data: &[u8], extra: &[(&str, &str)]) -> Resp {
        let token = self.token();
        let mut params: Vec<(&str, &str)> = vec![
            ("action", "upload"),
            ("format", "json"),
            ("filename", filename),
        ];
        params.extend_from_slice(extra);
        params.push(("token", &token));
        self.post_multipart(
            &params,
            vec![FilePart {
                field: "file",
                filename: "upload.bin",
                content_type: None,
                data: data.to_vec(),
            }],
        )
        .await
    }

    /// `action=upload` publishing a stashed file (urlencoded, like the transcripts).
    pub async fn publish_filekey(
        &self,
        filekey: &str,
        filename: &str,
        extra: &[(&str, &str)],
    ) -> Resp {
        let token = self.token();
        let mut params: Vec<(&str, &str)> = vec![
            ("action", "upload"),
            ("format", "json"),
            ("filename", filename),
            ("filekey", filekey),
        ];
        params.extend_from_slice(extra);
        params.push(("token", &token));
        self.post(&params).await
    }
}

impl Client {
    /// `action=upload&checkstatus=1` for a filekey.
    pub async fn checkstatus(&self, key: &str) -> Value {
        let token = self.token();
        self.post(&[
            ("action", "upload"),
            ("format", "json"),
            ("filekey", key),
            ("checkstatus", "1"),
            ("token", &token),
        ])
        .await
        .2
    }

    /// The sha1 `prop=stashimageinfo` gives for `key` (asked by its owner), or the whole
    /// answer when there is none.
    pub async fn stashed_sha1(&self, key: &str) -> Result<String, Value> {
        let (_, _, v) = self
            .get(&[
                ("format", "json"),
                ("action", "query"),
                ("prop", "stashimageinfo"),
                ("siifilekey", key),
                ("siiprop", "sha1"),
            ])
            .await;
        match v["query"]["stashimageinfo"][0]["sha1"].as_str() {
            Some(s) => Ok(s.to_owned()),
            None => Err(v),
        }
    }

    /// The page object `prop=imageinfo` gives for `File:<name>` with `iiprop` and up to 50
    /// versions (the whole answer when there is no page object).
    pub async fn file_page(&self, name: &str, iiprop: &str) -> Value {
        let title = format!("File:{name}");
        let (_, _, v) = self
            .get(&[
                ("format", "json"),
                ("action", "query"),
                ("titles", &title),
                ("prop", "imageinfo"),
                ("iiprop", iiprop),
                ("iilimit", "50"),
            ])
            .await;
        v["query"]["pages"]
            .as_object()
            .and_then(|p| p.values().next())
            .cloned()
            .unwrap_or(v)
    }

    /// Polls `checkstatus` until the result is no longer Poll (at most `within`); returns the
    /// last answer.
    pub async fn poll_status(&self, key: &str, within: Duration) -> Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let v = self.checkstatus(key).await;
            if v["upload"]["result"] != "Poll" || std::time::Instant::now() >= deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Creates a user (if `groups` is `Some`), a bot password `<user>@<bot>` with `grants`, and a
/// client logged in with it.
pub async fn bot_client(
    server: &Server,
    user: &str,
    groups: Option<&str>,
    bot: &str,
    grants: &str,
) -> Client {
    if let Some(g) = groups {
        server.add_user(user, &format!("{user}-password-1"), g);
    }
    let (n, p) = server.bot_password(user, bot, grants);
    let mut c = Client::new(server);
    let r = c.login(&n, &p).await;
    assert_eq!(r["login"]["result"], "Success", "login of {n}: {r}");
    c
}

/// One part of a hand-built multipart body.
pub struct RawPart<'a> {
    /// Header lines of the part, without line ends.
    pub headers: Vec<String>,
    pub body: &'a [u8],
}

impl<'a> RawPart<'a> {
    /// A text field with only a Content-Disposition header.
    pub fn field(name: &str, value: &'a str) -> RawPart<'a> {
        RawPart {
            headers: vec![format!("Content-Disposition: form-data; name=\"{name}\"")],
            body: value.as_bytes(),
        }
    }
}

/// Builds a multipart body with the given line ending (`"\r\n"` or `"\n"`); `closed` adds the
/// closing boundary.
pub fn multipart_body(boundary: &str, eol: &str, parts: &[RawPart<'_>], closed: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{boundary}{eol}").as_bytes());
        for h in &p.headers {
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(eol.as_bytes());
        }
        out.extend_from_slice(eol.as_bytes());
        out.extend_from_slice(p.body);
        out.extend_from_slice(eol.as_bytes());
    }
    if closed {
        out.extend_from_slice(format!("--{boundary}--{eol}").as_bytes());
    }
    out
}

/// Key order of `imageinfo` for a published file, as MediaWiki returns it after an upload;
/// `descriptionshorturl` is present only when the description page existed before.
pub fn published_imageinfo_keys(with_short_url: bool) -> Vec<String> {
    [
        "timestamp",
        "user",
        "userid",
        "size",
        "width",
        "height",
        "parsedcomment",
        "comment",
        "html",
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
    ]
    .iter()
    .filter(|k| with_short_url || **k != "descriptionshorturl")
    .map(|k| (*k).to_owned())
    .collect()
}

/// One chunked upload as a client drives it: name, claimed size and mode.
pub struct ChunkSession<'a> {
    pub client: &'a Client,
    pub filename: String,
    /// The `filesize` parameter (`None`: not sent).
    pub filesize: Option<u64>,
    pub stash: bool,
    /// Extra parameters sent with every chunk.
    pub extra: Vec<(&'static str, String)>,
}

impl<'a> ChunkSession<'a> {
    pub fn new(
        client: &'a Client,
        filename: &str,
        filesize: usize,
        stash: bool,
    ) -> ChunkSession<'a> {
        ChunkSession {
            client,
            filename: filename.to_owned(),
            filesize: Some(filesize as u64),
            stash,
            extra: Vec::new(),
        }
    }

    /// Adds a parameter sent with every chunk.
    pub fn with(mut self, name: &'static str, value: &str) -> ChunkSession<'a> {
        self.extra.push((name, value.to_owned()));
        self
    }

    /// Sends one chunk like mediawiki.Upload and pywikibot do: multipart field `chunk`,
    /// part filename `blob`, `application/octet-stream`.
    pub async fn send(&self, offset: usize, filekey: Option<&str>, data: &[u8]) -> Resp {
        let token = self.client.token();
        let offset = offset.to_string();
        let filesize = self.filesize.map(|f| f.to_string());
        let mut p: Vec<(&str, &str)> = vec![
            ("format", "json"),
            ("action", "upload"),
            ("filename", &self.filename),
        ];
        if let Some(fs) = &filesize {
            p.push(("filesize", fs));
        }
        p.push(("offset", &offset));
        if self.stash {
            p.push(("stash", "1"));
        }
        if let Some(k) = filekey {
            p.push(("filekey", k));
        }
        for (k, v) in &self.extra {
            p.push((k, v));
        }
        p.push(("token", &token));
        self.client
            .post_multipart(
                &p,
                vec![FilePart {
                    field: "chunk",
                    filename: "blob",
                    content_type: Some("application/octet-stream"),
                    data: data.to_vec(),
                }],
            )
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the crash-point tests.
// ---------------------------------------------------------------------------------------------

impl Server {
    /// Starts a server on an existing data directory with extra environment variables (e.g.
    /// `MWSTORE_FAULTS`, which arms the server's fault points).
    pub fn start_in_with_env(dir: tempfile::TempDir, toml: &str, env: &[(&str, &str)]) -> Server {
        Self::spawn(dir, toml, None, env)
    }

    /// Waits for a server that is expected to end by itself (a fault point aborted it) and
    /// returns its data directory, to start it again. Panics if it still runs after `within`.
    pub fn wait_exit(mut self, within: Duration) -> tempfile::TempDir {
        let deadline = std::time::Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => panic!("the server is still running {within:?} after its fault point"),
                Err(e) => panic!("could not wait for the server: {e}"),
            }
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }
}

/// Reads a starting server's stdout up to its "listening" line; returns its base URL and
/// the Admin password (when it created that user), and keeps draining stdout.
fn await_listening(child: &mut Child) -> (String, Option<String>) {
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut admin_password = None;
    let base;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "server exited before listening");
        if let Some(p) = line
            .trim()
            .strip_prefix("Created user Admin (sysop, bureaucrat) with password: ")
        {
            admin_password = Some(p.to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("mwstore listening on ") {
            let url = rest.split_whitespace().next().expect("url");
            base = url.trim_end_matches("/w/api.php").to_owned();
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    (base, admin_password)
}

/// Runs a command to completion, returning its combined output, or a readable error that
/// names `what` failed and ends with `hint` (what to install, say).
pub fn run_command(
    cmd: &mut std::process::Command,
    what: &str,
    hint: &str,
) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}. {hint}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{what} failed ({}): {cmd:?}\n{text}\n{hint}",
            out.status
        ))
    }
}

/// What a corpus file should get: published, or refused with this `verification-error` key.
pub enum Expect {
    Accepted,
    Refused(&'static str),
}

/// Uploads each corpus file (description, extension, bytes, expectation) as
/// `{prefix}-{i}.{ext}`, checks its answer (an accepted file's sha1 read back, a refused
/// one's first detail) and, at the end, that none took longer than `limit`.
pub async fn check_corpus(
    c: &mut Check,
    client: &Client,
    prefix: &str,
    corpus: Vec<(&str, &str, Vec<u8>, Expect)>,
    limit: Duration,
) {
    let mut slowest = (Duration::ZERO, String::new());
    for (i, (what, ext, bytes, expect)) in corpus.into_iter().enumerate() {
        c.step(what);
        let started = std::time::Instant::now();
        let r = client
            .upload_resp(
                &format!("{prefix}-{i}.{ext}"),
                &bytes,
                &[("ignorewarnings", "1")],
            )
            .await;
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, what.to_owned());
        }
        match expect {
            Expect::Accepted => {
                let up = c.upload_result(&r, "Success");
                c.eq(
                    "sha1",
                    &up["imageinfo"]["sha1"],
                    &serde_json::json!(sha1_hex(&bytes)),
                );
            }
            Expect::Refused(key) => {
                let e = c.error(&r, "verification-error", None);
                c.eq("details[0]", e["details"][0].as_str(), Some(key));
            }
        }
    }
    c.step("every file was answered quickly");
    c.ok(
        &format!("the slowest took under {limit:?} (a test build)"),
        slowest.0 < limit,
        format!("{:?} for {}", slowest.0, slowest.1),
    );
    eprintln!("slowest file: {:?} for {}", slowest.0, slowest.1);
}

/// A real lossless WebP of `w`×`h`.
pub fn encoded_webp(w: u32, h: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 256) as u8).collect();
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&pixels, w, h, image_webp::ColorType::Rgb8)
        .expect("WebP");
    out
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port on 127.0.0.1 that nothing listens on (just now).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("local addr").port()
}

/// What `find` finds, after installing Debian's `packages` with apt-get if it found nothing
/// (as root; the package lists are updated only if the first try fails). Test processes
/// that run at once wait for each other on `target/<lock>.lock`. `hint` says what to do
/// when that is not possible.
pub fn found_or_installed<T>(
    what: &str,
    packages: &[&str],
    hint: &str,
    find: impl Fn() -> Option<T>,
) -> Result<T, String> {
    if let Some(t) = find() {
        return Ok(t);
    }
    let target = repo_root().join("target");
    std::fs::create_dir_all(&target).map_err(|e| format!("create {}: {e}", target.display()))?;
    let lock_path = target.join(format!("{what}-install.lock"));
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    // Another process may have installed it while this one waited for the lock.
    if let Some(t) = find() {
        return Ok(t);
    }
    if !is_root() {
        return Err(format!(
            "{what} is not installed, and this test is not root so it cannot install it. {hint}"
        ));
    }
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(["-o", "DPkg::Lock::Timeout=120"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null());
        run_command(&mut c, "apt-get", "")
    };
    let mut install_args = vec!["install", "-y", "--no-install-recommends"];
    install_args.extend_from_slice(packages);
    let install = || apt(&install_args);
    eprintln!(
        "{what}: not found; installing {} with apt-get",
        packages.join(" ")
    );
    if let Err(first) = install() {
        eprintln!("{what}: {first}\n{what}: updating the package lists and trying again");
        apt(&["update"]).map_err(|e| format!("{e}\n{hint}"))?;
        install().map_err(|e| format!("{e}\n{hint}"))?;
    }
    drop(lock);
    find().ok_or_else(|| {
        format!(
            "{} installed, yet {what} is not there. {hint}",
            packages.join(" ")
        )
    })
}
