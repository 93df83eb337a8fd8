//! `mwstore bench`: a load generator for any MediaWiki API (mwstore or MediaWiki itself).
//!
//! Three scenarios, uploading through the client library:
//! - `small`: distinct small PNGs uploaded in one request each, at several concurrencies:
//!   uploads per second and the latency of each upload request (p50, p99).
//! - `chunked`: large generated PNGs sent in chunks: ingestion rate, latency of the
//!   non-final chunks (p50, p99), of the final chunk and of the commit.
//! - `thumbs`: a 12 MP JPEG, a 24 MP PNG and a large SVG: time to the first byte of
//!   thumbnails rendered on demand, and requests per second of stored thumbnails and of the
//!   originals ([`thumbs`]).
//!
//! With `--server-pid`, the server's memory is sampled from /proc every 100 ms during each
//! run (every 20 ms during thumbnail renders; the process and all its descendants, for
//! servers made of worker processes and the helpers they start), and its `VmHWM` (peak
//! since the process started) is read at the end of each run.

#[path = "bench_thumbs.rs"]
mod thumbs;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mwstore_client::{Client, Event, UploadOutcome, UploadRequest};
use serde_json::{json, Value};

/// Options of `mwstore bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Address of the wiki's api.php, e.g. http://127.0.0.1:8080/w/api.php
    #[arg(long)]
    pub api: String,
    /// Account to log in with: USER@BOT for a bot password, a plain name for the main account.
    #[arg(long)]
    pub user: String,
    /// Environment variable that holds the password.
    #[arg(long, default_value = "MWSTORE_PASSWORD")]
    pub password_env: String,
    /// Process id of the server, whose memory is sampled from /proc during each run.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Which scenarios run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,
    /// Where the figures are written as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Small uploads per concurrency level.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub small_count: u32,
    /// Size of each small image in KiB (approximate).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub small_kib: u32,
    /// Concurrency levels of the small scenario, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Vec<u32>,
    /// File sizes of the chunked scenario in MiB, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1024",
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub size_mib: Vec<u64>,
    /// Chunk sizes of the chunked scenario in MiB, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,5",
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub chunk_mib: Vec<u64>,
    /// Directory for the generated files (default: the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Thumbnail widths of the thumbs scenario, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "220,1280",
          value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub thumb_widths: Vec<u32>,
    /// Fresh renders per width in the thumbs scenario (at widths W, W+1, …, each new).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub thumb_samples: u32,
    /// Seconds of each run that fetches a stored thumbnail or an original repeatedly.
    #[arg(long, default_value_t = 2.0)]
    pub thumb_seconds: f64,
    /// Divides the sizes of the thumbs scenario's sources (tests use small ones).
    #[arg(long, default_value_t = 1, hide = true,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub thumb_source_divisor: u32,
}

/// The scenarios of `mwstore bench`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Small images uploaded in one request each.
    Small,
    /// Large files uploaded in chunks.
    Chunked,
    /// Thumbnails rendered on demand and served from storage.
    Thumbs,
    /// All three.
    All,
}

// ---------------------------------------------------------------------------------------
// Generated media

/// CRC-32 (ISO-HDLC, as PNG uses it), updated incrementally.
struct Crc32 {
    table: [u32; 256],
    crc: u32,
}

impl Crc32 {
    fn new() -> Crc32 {
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
        Crc32 {
            table,
            crc: 0xffff_ffff,
        }
    }

    fn update(&mut self, data: &[u8]) {
        let mut crc = self.crc;
        for b in data {
            crc = self.table[((crc ^ u32::from(*b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.crc = crc;
    }

    fn finish(&self) -> u32 {
        !self.crc
    }
}

/// Adler-32, updated incrementally.
struct Adler32 {
    a: u32,
    b: u32,
}

impl Adler32 {
    fn new() -> Adler32 {
        Adler32 { a: 1, b: 0 }
    }

    fn update(&mut self, data: &[u8]) {
        // 5552 bytes keep the sums below 2^32 before the reduction.
        for part in data.chunks(5552) {
            for v in part {
                self.a += u32::from(*v);
                self.b += self.a;
            }
            self.a %= 65521;
            self.b %= 65521;
        }
    }

    fn finish(&self) -> u32 {
        (self.b << 16) | self.a
    }
}

/// Writes one PNG chunk whose data is given at once.
fn png_chunk(out: &mut impl Write, kind: &[u8; 4], data: &[u8]) -> std::io::Result<()> {
    out.write_all(&(data.len() as u32).to_be_bytes())?;
    let mut crc = Crc32::new();
    crc.update(kind);
    crc.update(data);
    out.write_all(kind)?;
    out.write_all(data)?;
    out.write_all(&crc.finish().to_be_bytes())
}

/// Writes IDAT data and keeps its CRC.
struct IdatWriter<'a, W: Write> {
    out: &'a mut W,
    crc: Crc32,
}

impl<W: Write> IdatWriter<'_, W> {
    fn put(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.crc.update(data);
        self.out.write_all(data)
    }
}

/// Width of the generated images of more than a few rows.
const WIDE: u32 = 4096;

/// Writes a valid truecolour PNG of about `bytes` bytes (at least one row): pseudo-random
/// pixels from `seed` (distinct seeds give distinct files) in stored deflate blocks, so the
/// file is genuine media of any size. Streams: memory use does not grow with the size.
/// Returns the number of bytes written.
fn write_png(out: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<u64> {
    let width: u32 = if bytes < 3 * 1024 * 1024 {
        // Small images: about square.
        (((bytes / 3) as f64).sqrt() as u32).clamp(1, WIDE)
    } else {
        WIDE
    };
    let row = 1 + u64::from(width) * 3;
    let height = (bytes / row).clamp(1, u64::from(u32::MAX));
    let raw_len = row * height;
    let blocks = raw_len.div_ceil(65535);
    let idat_len = 2 + raw_len + 5 * blocks + 4;
    if idat_len > u64::from(u32::MAX) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a generated image is limited to 4 GiB",
        ));
    }
    out.write_all(b"\x89PNG\r\n\x1a\n")?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(out, b"IHDR", &ihdr)?;

    out.write_all(&(idat_len as u32).to_be_bytes())?;
    let mut w = IdatWriter {
        out,
        crc: Crc32::new(),
    };
    w.put(b"IDAT")?;
    w.put(&[0x78, 0x01])?;
    let mut adler = Adler32::new();
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut block: Vec<u8> = Vec::with_capacity(65535);
    let mut remaining = raw_len;
    let mut scanline = vec![0u8; row as usize];
    for _ in 0..height {
        // Filter type "none", then pseudo-random pixels (xorshift64).
        scanline[0] = 0;
        for px in scanline[1..].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            px.copy_from_slice(&b[..px.len()]);
        }
        adler.update(&scanline);
        let mut rest: &[u8] = &scanline;
        while !rest.is_empty() {
            let take = (65535 - block.len()).min(rest.len());
            block.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            remaining -= take as u64;
            if block.len() == 65535 || remaining == 0 {
                let len = block.len() as u16;
                w.put(&[u8::from(remaining == 0)])?;
                w.put(&len.to_le_bytes())?;
                w.put(&(!len).to_le_bytes())?;
                w.put(&block)?;
                block.clear();
            }
        }
    }
    w.put(&adler.finish().to_be_bytes())?;
    let crc = w.crc.finish();
    out.write_all(&crc.to_be_bytes())?;
    png_chunk(out, b"IEND", &[])?;
    Ok(8 + 25 + 12 + idat_len + 12)
}

/// Writes a generated PNG to `path`; returns its size.
fn write_png_file(path: &Path, bytes: u64, seed: u64) -> Result<u64> {
    let f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let n = write_png(&mut w, bytes, seed)
        .with_context(|| format!("cannot write {}", path.display()))?;
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// Figures

/// The `q` quantile (0..=1) of sorted durations, nearest rank, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(ms(sorted[rank - 1]))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&s, field)
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The process and its descendants (through /proc/PID/task/TID/children).
fn process_tree(pid: u32) -> Vec<u32> {
    process_tree_depths(pid)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// The process (depth 0) and all its descendants with their depth, breadth first: the
/// children of every thread of every process, so grandchildren too (php-fpm's workers are
/// at depth 1, the shell and ImageMagick's `convert` a worker starts at 2 and below).
fn process_tree_depths(pid: u32) -> Vec<(u32, u32)> {
    let mut out = vec![(pid, 0)];
    let mut i = 0;
    while i < out.len() && out.len() < 4096 {
        let (p, depth) = out[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(
                    s.split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok())
                        .map(|c| (c, depth + 1)),
                );
            }
        }
    }
    out
}

/// Memory of the server sampled during one run.
#[derive(Default)]
struct RssPeaks {
    /// Largest VmRSS of the server process itself.
    own: AtomicU64,
    /// Largest sum of VmRSS over the process and its descendants.
    tree: AtomicU64,
    /// Largest VmRSS of any single process of the tree.
    single: AtomicU64,
    /// Largest VmRSS of a process at depth 2 or more: what a server's workers start
    /// (ImageMagick under php-fpm).
    helper: AtomicU64,
    /// The first sample: the process's own VmRSS and the tree's sum (KiB, 0 before).
    start_own: AtomicU64,
    start_tree: AtomicU64,
    /// Most processes seen in the tree at once.
    processes: AtomicU64,
    /// Names of the helpers seen (`comm`).
    helper_names: Mutex<std::collections::BTreeSet<String>>,
}

/// Samples the server's memory every 100 ms until dropped.
struct RssSampler {
    pid: u32,
    peaks: Arc<RssPeaks>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        RssSampler::start_every(pid, Duration::from_millis(100))
    }

    fn start_every(pid: u32, every: Duration) -> RssSampler {
        let peaks = Arc::new(RssPeaks::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peaks.clone(), stop.clone());
        // The first sample is taken before the run starts.
        sample(pid, &p);
        let task = tokio::task::spawn_blocking(move || {
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                sample(pid, &p);
            }
        });
        RssSampler {
            pid,
            peaks,
            stop,
            task: Some(task),
        }
    }

    /// Stops sampling; returns the figures of the run (MiB).
    async fn finish(mut self) -> Value {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        sample(self.pid, &self.peaks);
        let mib = |k: u64| (k as f64 / 1024.0 * 10.0).round() / 10.0;
        json!({
            "pid": self.pid,
            "peak_rss_mib": mib(self.peaks.own.load(Ordering::Relaxed)),
            "tree_peak_rss_mib": mib(self.peaks.tree.load(Ordering::Relaxed)),
            "max_process_rss_mib": mib(self.peaks.single.load(Ordering::Relaxed)),
            "vmhwm_mib": proc_status_kib(self.pid, "VmHWM").map(mib),
            "processes": process_tree(self.pid).len(),
            "processes_max": self.peaks.processes.load(Ordering::Relaxed),
            "start_rss_mib": mib(self.peaks.start_own.load(Ordering::Relaxed)),
            "tree_start_rss_mib": mib(self.peaks.start_tree.load(Ordering::Relaxed)),
            "helper_peak_rss_mib": mib(self.peaks.helper.load(Ordering::Relaxed)),
            "helper_names": lock(&self.peaks.helper_names).iter().collect::<Vec<_>>(),
        })
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn sample(pid: u32, p: &RssPeaks) {
    let mut sum = 0;
    let mut own = 0;
    let tree = process_tree_depths(pid);
    p.processes.fetch_max(tree.len() as u64, Ordering::Relaxed);
    for (q, depth) in tree {
        let Some(kib) = proc_status_kib(q, "VmRSS") else {
            continue;
        };
        if depth == 0 {
            own = kib;
            p.own.fetch_max(kib, Ordering::Relaxed);
        }
        if depth >= 2 {
            p.helper.fetch_max(kib, Ordering::Relaxed);
            if let Ok(name) = std::fs::read_to_string(format!("/proc/{q}/comm")) {
                lock(&p.helper_names).insert(name.trim().to_owned());
            }
        }
        p.single.fetch_max(kib, Ordering::Relaxed);
        sum += kib;
    }
    p.tree.fetch_max(sum, Ordering::Relaxed);
    // Only the first sample sets these (they start at 0).
    let _ = p
        .start_own
        .compare_exchange(0, own, Ordering::Relaxed, Ordering::Relaxed);
    let _ = p
        .start_tree
        .compare_exchange(0, sum, Ordering::Relaxed, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------
// Machine

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = parse_status_kib(&meminfo, "MemTotal");
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": model,
        "memory_mib": mem_kib.map(|k| k / 1024),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------
// Scenarios

struct Ctx {
    client: Arc<Client>,
    run_id: String,
    work: PathBuf,
    server_pid: Option<u32>,
    failures: AtomicUsize,
}

fn request(path: &Path, filename: String, chunk_size: u64) -> UploadRequest {
    UploadRequest {
        path: path.to_path_buf(),
        filename,
        comment: "mwstore bench".into(),
        text: None,
        ignore_warnings: true,
        chunk_size,
        force_async: false,
        state_file: None,
        resume: false,
        rate_limit: None,
    }
}

/// Why an upload did not publish its file.
fn failure(r: mwstore_client::Result<UploadOutcome>) -> Option<String> {
    match r {
        Ok(UploadOutcome::Uploaded { .. }) => None,
        Ok(UploadOutcome::Warnings { warnings, .. }) => Some(format!("warnings: {warnings}")),
        Err(e) => Some(e.to_string()),
    }
}

async fn small_run(ctx: &Ctx, count: u32, kib: u32, concurrency: u32) -> Result<Value> {
    let dir = ctx.work.join(format!("small-c{concurrency}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    let mut bytes = 0;
    for i in 0..count {
        let p = dir.join(format!("{i}.png"));
        let seed = seed_of(&ctx.run_id) ^ (u64::from(concurrency) << 40) ^ u64::from(i);
        bytes += write_png_file(&p, u64::from(kib) * 1024, seed)?;
        files.push(p);
    }
    let files = Arc::new(files);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(count as usize)));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let retries = Arc::new(Mutex::new(Vec::new()));
    let sampler = ctx.server_pid.map(RssSampler::start);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, files, next) = (ctx.client.clone(), files.clone(), next.clone());
        let (latencies, errors) = (latencies.clone(), errors.clone());
        let retries = retries.clone();
        let run_id = ctx.run_id.clone();
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let name = format!("Bench-{run_id}-small-c{concurrency}-{i}.png");
                let t0 = Instant::now();
                let on_event = |e: Event| {
                    if let Event::Retrying { reason, .. } = e {
                        lock(&retries).push(reason);
                    }
                };
                let r = client
                    .upload(&request(path, name, 1 << 30), &on_event)
                    .await;
                let dt = t0.elapsed();
                match failure(r) {
                    None => lock(&latencies).push(dt),
                    Some(e) => lock(&errors).push(e),
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let rss = match sampler {
        Some(s) => s.finish().await,
        None => Value::Null,
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut lat = lock(&latencies).clone();
    lat.sort();
    let errors = lock(&errors).clone();
    ctx.failures.fetch_add(errors.len(), Ordering::Relaxed);
    for e in errors.iter().take(5) {
        eprintln!("small upload failed: {e}");
    }
    let retries = lock(&retries).clone();
    if let Some(first) = retries.first() {
        eprintln!(
            "small: {} requests retried at concurrency {concurrency}, first because: {first}",
            retries.len()
        );
    }
    Ok(json!({
        "concurrency": concurrency,
        "count": count,
        "uploaded": lat.len(),
        "failed": errors.len(),
        "retries": retries.len(),
        "bytes_each_avg": bytes / u64::from(count),
        "seconds": round3(elapsed.as_secs_f64()),
        "uploads_per_s": round1(lat.len() as f64 / elapsed.as_secs_f64()),
        "p50_ms": quantile_ms(&lat, 0.5).map(round1),
        "p99_ms": quantile_ms(&lat, 0.99).map(round1),
        "max_ms": quantile_ms(&lat, 1.0).map(round1),
        "rss": rss,
    }))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Instants at which the client reported the upload's steps.
#[derive(Default)]
struct Timeline {
    started: Option<Instant>,
    /// (bytes the server has, when the answer came).
    progress: Vec<(u64, Instant)>,
    retries: u32,
    waits: u32,
}

async fn chunked_run(ctx: &Ctx, size_mib: u64, chunk_mib: u64) -> Result<Value> {
    let path = ctx.work.join(format!("chunked-{size_mib}-{chunk_mib}.png"));
    let seed = seed_of(&ctx.run_id) ^ (size_mib << 32) ^ chunk_mib;
    let p = path.clone();
    let size = tokio::task::spawn_blocking(move || write_png_file(&p, size_mib << 20, seed))
        .await
        .context("the file generator stopped")??;
    let name = format!(
        "Bench-{}-chunked-{size_mib}MiB-{chunk_mib}MiB.png",
        ctx.run_id
    );
    let timeline = Mutex::new(Timeline::default());
    let on_event = |e: Event| {
        let now = Instant::now();
        let mut t = lock(&timeline);
        match e {
            Event::Started { .. } => t.started = Some(now),
            Event::Progress { done, .. } => t.progress.push((done, now)),
            Event::Retrying { .. } => t.retries += 1,
            Event::Waiting { .. } => t.waits += 1,
            _ => {}
        }
    };
    let sampler = ctx.server_pid.map(RssSampler::start);
    let t0 = Instant::now();
    let r = ctx
        .client
        .upload(&request(&path, name, chunk_mib << 20), &on_event)
        .await;
    let end = Instant::now();
    let rss = match sampler {
        Some(s) => s.finish().await,
        None => Value::Null,
    };
    let _ = std::fs::remove_file(&path);
    if let Some(e) = failure(r) {
        ctx.failures.fetch_add(1, Ordering::Relaxed);
        eprintln!("chunked upload of {size_mib} MiB in {chunk_mib} MiB chunks failed: {e}");
        return Ok(json!({
            "size_mib": size_mib, "chunk_mib": chunk_mib, "size_bytes": size, "failed": 1,
            "error": e, "rss": rss,
        }));
    }
    let t = lock(&timeline);
    let started = t.started.unwrap_or(t0);
    // Each chunk's answer is a Progress event; the last one (done == size) answers the
    // final chunk; the commit follows it.
    let Some(&(_, last_at)) = t.progress.iter().rev().find(|(d, _)| *d == size) else {
        bail!("the upload of {size} bytes reported no final chunk");
    };
    let mut chunk_lat = Vec::new();
    let mut prev = started;
    let mut final_chunk = Duration::ZERO;
    for &(done, at) in &t.progress {
        if done == size {
            final_chunk = at.duration_since(prev);
            break;
        }
        chunk_lat.push(at.duration_since(prev));
        prev = at;
    }
    chunk_lat.sort();
    let ingest = last_at.duration_since(started);
    let commit = end.duration_since(last_at);
    Ok(json!({
        "size_mib": size_mib,
        "chunk_mib": chunk_mib,
        "size_bytes": size,
        "failed": 0,
        "chunks": chunk_lat.len() + 1,
        "ingest_s": round3(ingest.as_secs_f64()),
        "ingest_mb_s": round1(size as f64 / 1e6 / ingest.as_secs_f64()),
        "total_s": round3(end.duration_since(started).as_secs_f64()),
        "chunk_p50_ms": quantile_ms(&chunk_lat, 0.5).map(round1),
        "chunk_p99_ms": quantile_ms(&chunk_lat, 0.99).map(round1),
        "final_chunk_ms": round1(ms(final_chunk)),
        "commit_ms": round1(ms(commit)),
        "retries": t.retries,
        "polls": t.waits,
        "rss": rss,
    }))
}

// ---------------------------------------------------------------------------------------
// Output

fn fmt_opt(v: &Value) -> String {
    match v.as_f64() {
        Some(f) => format!("{f:.1}"),
        None => "-".into(),
    }
}

fn rss_cell(r: &Value) -> String {
    if r.is_null() {
        return "-".into();
    }
    let own = fmt_opt(&r["peak_rss_mib"]);
    if r["processes"].as_u64().unwrap_or(1) > 1 {
        format!(
            "{own} (tree {}, max proc {})",
            fmt_opt(&r["tree_peak_rss_mib"]),
            fmt_opt(&r["max_process_rss_mib"])
        )
    } else {
        format!("{own} (hwm {})", fmt_opt(&r["vmhwm_mib"]))
    }
}

/// The figures as text tables.
fn table(report: &Value) -> String {
    let mut s = String::new();
    let m = &report["machine"];
    s.push_str(&format!(
        "server: {} ({})\nmachine: {} cores, {}, {} MiB\n",
        report["server"]["generator"].as_str().unwrap_or("?"),
        report["server"]["api"].as_str().unwrap_or("?"),
        m["cores"],
        m["cpu_model"].as_str().unwrap_or("?"),
        m["memory_mib"],
    ));
    if let Some(rows) = report["small"].as_array() {
        s.push_str(&format!(
            "\nsmall uploads\n{:>5} {:>6} {:>7} {:>7} {:>10} {:>9} {:>9} {:>9}  {}\n",
            "conc",
            "count",
            "failed",
            "retries",
            "uploads/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server RSS MiB"
        ));
        for r in rows {
            s.push_str(&format!(
                "{:>5} {:>6} {:>7} {:>7} {:>10} {:>9} {:>9} {:>9}  {}\n",
                r["concurrency"].to_string(),
                r["count"].to_string(),
                r["failed"].to_string(),
                r["retries"].to_string(),
                fmt_opt(&r["uploads_per_s"]),
                fmt_opt(&r["p50_ms"]),
                fmt_opt(&r["p99_ms"]),
                fmt_opt(&r["max_ms"]),
                rss_cell(&r["rss"]),
            ));
        }
    }
    if let Some(rows) = report["chunked"].as_array() {
        s.push_str(&format!(
            "\nchunked uploads\n{:>9} {:>9} {:>8} {:>12} {:>9} {:>9} {:>10} {:>10}  {}\n",
            "file MiB",
            "chunk MiB",
            "MB/s",
            "chunk p50ms",
            "p99 ms",
            "final ms",
            "commit ms",
            "total s",
            "server RSS MiB"
        ));
        for r in rows {
            if r["failed"] != 0 {
                s.push_str(&format!(
                    "{:>9} {:>9}  failed: {}\n",
                    r["size_mib"].to_string(),
                    r["chunk_mib"].to_string(),
                    r["error"].as_str().unwrap_or("?")
                ));
                continue;
            }
            s.push_str(&format!(
                "{:>9} {:>9} {:>8} {:>12} {:>9} {:>9} {:>10} {:>10}  {}\n",
                r["size_mib"].to_string(),
                r["chunk_mib"].to_string(),
                fmt_opt(&r["ingest_mb_s"]),
                fmt_opt(&r["chunk_p50_ms"]),
                fmt_opt(&r["chunk_p99_ms"]),
                fmt_opt(&r["final_chunk_ms"]),
                fmt_opt(&r["commit_ms"]),
                r["total_s"].to_string(),
                rss_cell(&r["rss"]),
            ));
        }
    }
    if report["thumbs"].is_object() {
        s.push_str(&thumbs::table(&report["thumbs"]));
    }
    s
}

/// Runs `mwstore bench`; returns the exit status (non-zero when an upload failed).
pub async fn run(args: BenchArgs) -> Result<i32> {
    let password = std::env::var(&args.password_env).with_context(|| {
        format!(
            "the password of {} is read from the environment variable {}, which is not set",
            args.user, args.password_env
        )
    })?;
    if !(args.thumb_seconds > 0.0 && args.thumb_seconds <= 3600.0) {
        bail!("--thumb-seconds must be above 0 and at most 3600");
    }
    if let Some(pid) = args.server_pid {
        if proc_status_kib(pid, "VmRSS").is_none() {
            bail!("no process {pid} whose memory can be read from /proc");
        }
    }
    let client = Client::connect(&args.api)
        .await
        .with_context(|| format!("cannot reach the API at {}", args.api))?;
    client
        .login(&args.user, &password)
        .await
        .with_context(|| format!("cannot log in as {}", args.user))?;
    let generator = client.site().generator.clone();
    let now = chrono::Utc::now();
    let run_id = format!("{}-{}", now.format("%Y%m%d%H%M%S"), std::process::id());
    let base = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = base.join(format!("mwstore-bench-{run_id}"));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let ctx = Ctx {
        client: Arc::new(client),
        run_id,
        work: work.clone(),
        server_pid: args.server_pid,
        failures: AtomicUsize::new(0),
    };
    let mut report = json!({
        "date": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "machine": machine(),
        "mwstore_version": env!("CARGO_PKG_VERSION"),
        "server": {"api": args.api, "generator": generator, "pid": args.server_pid},
        "options": {
            "scenario": format!("{:?}", args.scenario).to_lowercase(),
            "small_count": args.small_count,
            "small_kib": args.small_kib,
            "concurrency": args.concurrency,
            "size_mib": args.size_mib,
            "chunk_mib": args.chunk_mib,
            "thumb_widths": args.thumb_widths,
            "thumb_samples": args.thumb_samples,
            "thumb_seconds": args.thumb_seconds,
            "thumb_source_divisor": args.thumb_source_divisor,
        },
    });
    let result = async {
        if matches!(args.scenario, Scenario::Small | Scenario::All) {
            let mut rows = Vec::new();
            for &c in &args.concurrency {
                eprintln!("small: {} uploads at concurrency {c}", args.small_count);
                rows.push(small_run(&ctx, args.small_count, args.small_kib, c).await?);
            }
            report["small"] = Value::Array(rows);
        }
        if matches!(args.scenario, Scenario::Chunked | Scenario::All) {
            let mut rows = Vec::new();
            for &size in &args.size_mib {
                for &chunk in &args.chunk_mib {
                    eprintln!("chunked: {size} MiB in {chunk} MiB chunks");
                    rows.push(chunked_run(&ctx, size, chunk).await?);
                }
            }
            report["chunked"] = Value::Array(rows);
        }
        if matches!(args.scenario, Scenario::Thumbs | Scenario::All) {
            let opts = thumbs::ThumbOpts {
                widths: args.thumb_widths.clone(),
                samples: args.thumb_samples,
                seconds: args.thumb_seconds,
                divisor: args.thumb_source_divisor,
            };
            report["thumbs"] = thumbs::run(&ctx, &opts).await?;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&work);
    result?;
    print!("{}", table(&report));
    if let Some(out) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(out, text + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(if ctx.failures.load(Ordering::Relaxed) > 0 {
        1
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the structure of a generated PNG: signature, chunk CRCs, zlib stream.
    fn check_png(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut pos = 8;
        let mut dims = (0, 0);
        let mut kinds = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &png[pos + 4..pos + 8];
            let data = &png[pos + 8..pos + 8 + len];
            let mut crc = Crc32::new();
            crc.update(kind);
            crc.update(data);
            let stored = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(
                crc.finish(),
                stored,
                "CRC of {:?}",
                String::from_utf8_lossy(kind)
            );
            if kind == b"IHDR" {
                dims = (
                    u32::from_be_bytes(data[0..4].try_into().unwrap()),
                    u32::from_be_bytes(data[4..8].try_into().unwrap()),
                );
            }
            if kind == b"IDAT" {
                // Stored blocks: walk them and check the Adler-32 of the raw data.
                assert_eq!(&data[..2], &[0x78, 0x01]);
                let mut p = 2;
                let mut raw = Vec::new();
                loop {
                    let last = data[p] == 1;
                    let n = u16::from_le_bytes([data[p + 1], data[p + 2]]) as usize;
                    let nn = u16::from_le_bytes([data[p + 3], data[p + 4]]);
                    assert_eq!(nn, !(n as u16));
                    raw.extend_from_slice(&data[p + 5..p + 5 + n]);
                    p += 5 + n;
                    if last {
                        break;
                    }
                }
                let mut a = Adler32::new();
                a.update(&raw);
                assert_eq!(a.finish().to_be_bytes(), data[p..p + 4]);
                assert_eq!(p + 4, data.len());
                let row = 1 + dims.0 as usize * 3;
                assert_eq!(raw.len(), row * dims.1 as usize);
                assert!(raw.chunks(row).all(|r| r[0] == 0));
            }
            kinds.push(String::from_utf8_lossy(kind).into_owned());
            pos += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        dims
    }

    #[test]
    fn generated_pngs_are_valid_and_distinct() {
        let mut a = Vec::new();
        let n = write_png(&mut a, 20 * 1024, 1).unwrap();
        assert_eq!(n, a.len() as u64);
        let (w, h) = check_png(&a);
        assert!(w > 50 && h > 50, "{w}x{h}");
        assert!((19_000..22_000).contains(&a.len()), "{}", a.len());
        let mut b = Vec::new();
        write_png(&mut b, 20 * 1024, 2).unwrap();
        assert_ne!(a, b);
        // Large ones are 4096 wide and span several deflate blocks.
        let mut c = Vec::new();
        let n = write_png(&mut c, 3 << 20, 3).unwrap();
        assert_eq!(n, c.len() as u64);
        assert_eq!(check_png(&c).0, WIDE);
        assert!(c.len() as u64 > (3 << 20) - 20_000 && (c.len() as u64) < (3 << 20) + 1000);
        // Tiny requests still give one row.
        let mut d = Vec::new();
        write_png(&mut d, 1, 4).unwrap();
        assert_eq!(check_png(&d), (1, 1));
    }

    #[test]
    fn checksums_match_known_values() {
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xcbf4_3926);
        let mut a = Adler32::new();
        a.update(b"Wikipedia");
        assert_eq!(a.finish(), 0x11e6_0398);
        // Long input: the reduction keeps the sums exact.
        let big = vec![0xffu8; 100_000];
        let mut a = Adler32::new();
        a.update(&big[..30_000]);
        a.update(&big[30_000..]);
        let (mut x, mut y) = (1u64, 0u64);
        for v in &big {
            x = (x + u64::from(*v)) % 65521;
            y = (y + x) % 65521;
        }
        assert_eq!(a.finish(), ((y << 16) | x) as u32);
    }

    #[test]
    fn quantiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&d, 0.5), Some(50.0));
        assert_eq!(quantile_ms(&d, 0.99), Some(99.0));
        assert_eq!(quantile_ms(&d, 1.0), Some(100.0));
        assert_eq!(quantile_ms(&d[..1], 0.99), Some(1.0));
        assert_eq!(quantile_ms(&[], 0.5), None);
    }

    #[test]
    fn proc_status_fields() {
        let s = "Name:\tmwstore\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\n";
        assert_eq!(parse_status_kib(s, "VmRSS"), Some(30720));
        assert_eq!(parse_status_kib(s, "VmHWM"), Some(40960));
        assert_eq!(parse_status_kib(s, "VmSwap"), None);
        // This process can be read and has itself in its tree.
        let me = std::process::id();
        assert!(proc_status_kib(me, "VmRSS").is_some_and(|k| k > 0));
        assert_eq!(process_tree(me)[0], me);
    }

    #[test]
    fn table_shows_every_run() {
        let r = json!({
            "machine": {"cores": 2, "cpu_model": "AMD EPYC", "memory_mib": 24105},
            "server": {"api": "http://x/w/api.php", "generator": "MediaWiki 1.39.17"},
            "small": [{"concurrency": 16, "count": 200, "failed": 0, "retries": 3, "uploads_per_s": 25.04,
                       "p50_ms": 600.0, "p99_ms": 1300.0, "max_ms": 1400.0, "rss": null}],
            "chunked": [{"size_mib": 100, "chunk_mib": 5, "failed": 0, "ingest_mb_s": 36.0,
                         "chunk_p50_ms": 130.0, "chunk_p99_ms": 200.0, "final_chunk_ms": 1000.0,
                         "commit_ms": 800.0, "total_s": 3.7,
                         "rss": {"peak_rss_mib": 20.0, "vmhwm_mib": 22.5, "processes": 1}},
                        {"size_mib": 1024, "chunk_mib": 1, "failed": 1, "error": "boom"}],
        });
        let t = table(&r);
        assert!(t.contains("MediaWiki 1.39.17"), "{t}");
        assert!(t.contains("   16    200       0       3       25.0"), "{t}");
        assert!(t.contains("20.0 (hwm 22.5)"), "{t}");
        assert!(t.contains("failed: boom"), "{t}");
    }
}
