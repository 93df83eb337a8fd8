//! Benchmark of chunked uploads against any MediaWiki API (mwstore or MediaWiki itself).
//!
//!     cargo run --release --example bench_chunked -- --api http://127.0.0.1:8080/w/api.php \
//!         --user Alice@bot --password-env BOTPW [--server-pid PID] [--size-mib 1024] [--chunk-mib 1,5]
//!
//! For each chunk size it uploads a freshly generated PNG (genuine media, unique content) in
//! chunks with stash=1, then commits it, and prints: ingestion MB/s, median latency of the
//! non-final chunks, the time of the final chunk and of the commit, and (with --server-pid)
//! the server's peak RSS read from /proc.

use std::time::{Duration, Instant};

use serde_json::Value;

struct Args {
    api: String,
    user: String,
    password: String,
    server_pid: Option<u32>,
    size_mib: usize,
    chunks_mib: Vec<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut api = None;
    let mut user = None;
    let mut password = None;
    let mut server_pid = None;
    let mut size_mib = 1024;
    let mut chunks_mib = vec![1, 5];
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--api" => api = Some(val()?),
            "--user" => user = Some(val()?),
            "--password-env" => {
                let var = val()?;
                password = Some(std::env::var(&var).map_err(|_| format!("{var} is not set"))?)
            }
            "--server-pid" => server_pid = Some(val()?.parse().map_err(|_| "bad pid")?),
            "--size-mib" => size_mib = val()?.parse().map_err(|_| "bad size")?,
            "--chunk-mib" => {
                chunks_mib = val()?
                    .split(',')
                    .map(|s| s.parse().map_err(|_| "bad chunk size".to_owned()))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        api: api.ok_or("--api is required")?,
        user: user.ok_or("--user is required")?,
        password: password.ok_or("--password-env is required")?,
        server_pid,
        size_mib,
        chunks_mib,
    })
}

fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc = table[((crc ^ *b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A valid truecolour PNG of about `bytes` bytes (stored deflate blocks, pseudo-random
/// pixels seeded by `seed`).
#[allow(clippy::same_item_push)]
fn make_png(bytes: usize, seed: u64) -> Vec<u8> {
    let width: usize = 4096;
    let row = 1 + width * 3;
    let height = (bytes / row).max(1);
    let mut raw = Vec::with_capacity(row * height);
    let mut x = seed | 1;
    for _ in 0..height {
        raw.push(0); // scanline filter "none"
        for _ in 0..width * 3 / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            raw.extend_from_slice(&x.to_le_bytes());
        }
    }
    let (mut a, mut b) = (1u32, 0u32);
    for v in &raw {
        a = (a + *v as u32) % 65521;
        b = (b + a) % 65521;
    }
    let mut z = Vec::with_capacity(raw.len() + raw.len() / 65535 * 5 + 16);
    z.extend_from_slice(&[0x78, 0x01]);
    let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, c) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        z.extend_from_slice(&(c.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        z.extend_from_slice(c);
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn call(
    http: &reqwest::Client,
    api: &str,
    form: reqwest::multipart::Form,
) -> Result<Value, String> {
    let r = http
        .post(api)
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    r.json::<Value>().await.map_err(|e| e.to_string())
}

async fn login(http: &reqwest::Client, a: &Args) -> Result<String, String> {
    let t: Value = http
        .get(&a.api)
        .query(&[
            ("action", "query"),
            ("meta", "tokens"),
            ("type", "login"),
            ("format", "json"),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let lt = t["query"]["tokens"]["logintoken"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let r: Value = http
        .post(&a.api)
        .form(&[
            ("action", "login"),
            ("lgname", a.user.as_str()),
            ("lgpassword", a.password.as_str()),
            ("lgtoken", lt.as_str()),
            ("format", "json"),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if r["login"]["result"] != "Success" {
        return Err(format!("login failed: {r}"));
    }
    let t: Value = http
        .get(&a.api)
        .query(&[("action", "query"), ("meta", "tokens"), ("format", "json")])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(t["query"]["tokens"]["csrftoken"]
        .as_str()
        .unwrap_or("")
        .to_owned())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = parse_args()?;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| e.to_string())?;
    let token = login(&http, &a).await?;
    println!(
        "{:>9} {:>7} {:>10} {:>14} {:>12} {:>10} {:>13}",
        "file MiB", "chunk", "MB/s", "chunk p50 ms", "final ms", "commit ms", "peak RSS MiB"
    );
    for (round, chunk_mib) in a.chunks_mib.iter().enumerate() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
            ^ round as u64;
        let file = make_png(a.size_mib << 20, seed);
        let size = file.len();
        let csize = chunk_mib << 20;
        let name = format!("Bench-chunked-{seed:x}.png");
        let mut key: Option<String> = None;
        let mut offset = 0usize;
        let mut lat = Vec::new();
        let mut final_time = Duration::ZERO;
        let start = Instant::now();
        while offset < size {
            let end = (offset + csize).min(size);
            let mut form = reqwest::multipart::Form::new()
                .text("action", "upload")
                .text("format", "json")
                .text("stash", "1")
                .text("ignorewarnings", "1")
                .text("filename", name.clone())
                .text("filesize", size.to_string())
                .text("offset", offset.to_string());
            if let Some(k) = &key {
                form = form.text("filekey", k.clone());
            }
            form = form.text("token", token.clone()).part(
                "chunk",
                reqwest::multipart::Part::bytes(file[offset..end].to_vec()).file_name("blob"),
            );
            let t0 = Instant::now();
            let r = call(&http, &a.api, form).await?;
            let dt = t0.elapsed();
            let up = &r["upload"];
            match up["result"].as_str() {
                Some("Continue") => {
                    lat.push(dt);
                    offset = up["offset"].as_u64().unwrap_or(end as u64) as usize;
                }
                Some("Success") => {
                    final_time = dt;
                    offset = end;
                }
                _ => return Err(format!("chunk at {offset} failed: {r}")),
            }
            key = up["filekey"].as_str().map(str::to_owned);
        }
        let ingest = start.elapsed();
        let t0 = Instant::now();
        let r: Value = http
            .post(&a.api)
            .form(&[
                ("action", "upload"),
                ("format", "json"),
                ("filename", name.as_str()),
                ("filekey", key.as_deref().unwrap_or("")),
                ("ignorewarnings", "1"),
                ("comment", "benchmark"),
                ("token", token.as_str()),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let commit = t0.elapsed();
        if r["upload"]["result"] != "Success" {
            return Err(format!("commit failed: {r}"));
        }
        lat.sort();
        let p50 = lat.get(lat.len() / 2).copied().unwrap_or_default();
        let rss = a
            .server_pid
            .and_then(peak_rss_kib)
            .map(|k| format!("{:.1}", k as f64 / 1024.0))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>9} {:>5}Mi {:>10.1} {:>14.1} {:>12.1} {:>10.1} {:>13}",
            size >> 20,
            chunk_mib,
            size as f64 / 1e6 / ingest.as_secs_f64(),
            ms(p50),
            ms(final_time),
            ms(commit),
            rss
        );
    }
    Ok(())
}
