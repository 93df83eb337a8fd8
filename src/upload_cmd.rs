//! `mwstore upload`: uploads files to any MediaWiki API (mwstore or MediaWiki itself).

use std::collections::HashSet;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mwstore_client::{
    describe_warnings, parse_size, render_name_template, Client, Event, ResumeState, RetryPolicy,
    UploadOutcome, UploadRequest, UrlUploadRequest,
};
use sha1::Digest;

/// Options of `mwstore upload`.
#[derive(clap::Args, Debug)]
pub struct UploadArgs {
    /// Address of the wiki's api.php, e.g. http://127.0.0.1:8080/w/api.php
    #[arg(long)]
    pub api: String,
    /// Account to log in with: USER@BOT for a bot password, a plain name for the main account.
    #[arg(long)]
    pub user: Option<String>,
    /// Environment variable that holds the password.
    #[arg(long, default_value = "MWSTORE_PASSWORD")]
    pub password_env: String,
    /// Files, and directories whose files are all uploaded.
    #[arg(required_unless_present = "url")]
    pub paths: Vec<PathBuf>,
    /// Wiki name of each file: {name}, {stem}, {ext}, {parent}, {index}; {{ and }} for braces.
    #[arg(long, default_value = "{name}")]
    pub name_template: String,
    /// Description page text of new files.
    #[arg(long, conflicts_with = "text_file")]
    pub text: Option<String>,
    /// File holding the description page text of new files.
    #[arg(long)]
    pub text_file: Option<PathBuf>,
    /// Upload comment.
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Chunk size; larger files go up in chunks (e.g. 5MiB, 512KiB).
    #[arg(long, default_value = "5MiB", value_parser = parse_size)]
    pub chunk_size: u64,
    /// How many files are uploaded at a time.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Publish even when the wiki warns (existing name, duplicate, ...).
    #[arg(long, conflicts_with = "skip_duplicates")]
    pub ignore_warnings: bool,
    /// Skip files whose content the wiki already has (looked up by SHA-1).
    #[arg(long)]
    pub skip_duplicates: bool,
    /// Let the wiki assemble and publish chunked uploads asynchronously.
    #[arg(long = "async")]
    pub async_mode: bool,
    /// Continue interrupted chunked uploads from the wiki's offset.
    #[arg(long)]
    pub resume: bool,
    /// Where resume state is kept (default $XDG_STATE_HOME/mwstore or ~/.local/state/mwstore).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Highest average sending rate per file, e.g. 2MiB (per second).
    #[arg(long, value_parser = parse_size)]
    pub limit_rate: Option<u64>,
    /// maxlag sent with every request (0: not sent).
    #[arg(long, default_value_t = 5)]
    pub maxlag: u32,
    /// Let the wiki fetch this URL instead of sending a file (needs --name).
    #[arg(long, requires = "name", conflicts_with = "paths")]
    pub url: Option<String>,
    /// Wiki name of the file fetched with --url.
    #[arg(long, requires = "url")]
    pub name: Option<String>,
}

/// How one file ended.
enum Status {
    Uploaded(String),
    Skipped(String),
    Failed(String),
}

struct Row {
    local: String,
    name: String,
    status: Status,
}

/// Where progress goes: bars on a terminal, plain lines otherwise.
#[derive(Clone)]
enum Reporter {
    Bars {
        multi: MultiProgress,
        total: ProgressBar,
    },
    Plain,
}

impl Reporter {
    fn new(total_bytes: u64) -> Reporter {
        if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(total_bytes));
            total.set_style(
                ProgressStyle::with_template(
                    "{msg:12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            total.set_message("total");
            Reporter::Bars { multi, total }
        } else {
            Reporter::Plain
        }
    }

    fn line(&self, s: &str) {
        match self {
            Reporter::Bars { multi, .. } => {
                let _ = multi.println(s);
            }
            Reporter::Plain => println!("{s}"),
        }
    }

    fn file_bar(&self, name: &str, size: u64) -> Option<ProgressBar> {
        match self {
            Reporter::Bars { multi, total } => {
                let bar = multi.insert_before(total, ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{msg:30!} [{bar:30}] {bytes}/{total_bytes}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message(name.to_owned());
                Some(bar)
            }
            Reporter::Plain => None,
        }
    }

    fn add_total(&self, n: u64) {
        if let Reporter::Bars { total, .. } = self {
            total.inc(n);
        }
    }

    fn finish(&self) {
        if let Reporter::Bars { total, .. } = self {
            total.finish_and_clear();
        }
    }
}

struct Settings {
    client: Client,
    reporter: Reporter,
    text: Option<String>,
    comment: String,
    chunk_size: u64,
    ignore_warnings: bool,
    skip_duplicates: bool,
    async_mode: bool,
    resume: bool,
    state_dir: PathBuf,
    limit_rate: Option<u64>,
}

/// The default directory for resume state.
fn default_state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| Path::new(x).is_absolute()) {
        return PathBuf::from(x).join("mwstore");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".local/state/mwstore");
    }
    std::env::temp_dir().join("mwstore-state")
}

/// The files named on the command line: files as they are, directories' regular files
/// (not hidden ones, not recursively) in name order.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            for entry in
                std::fs::read_dir(p).with_context(|| format!("cannot list {}", p.display()))?
            {
                let entry = entry.with_context(|| format!("cannot list {}", p.display()))?;
                let path = entry.path();
                let hidden = entry.file_name().to_string_lossy().starts_with('.');
                if !hidden
                    && std::fs::metadata(&path)
                        .map(|m| m.is_file())
                        .unwrap_or(false)
                {
                    files.push(path);
                }
            }
            files.sort();
            out.extend(files);
        } else if meta.is_file() {
            out.push(p.clone());
        } else {
            bail!("{} is neither a file nor a directory", p.display());
        }
    }
    Ok(out)
}

fn file_sha1(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = sha1::Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Runs `mwstore upload`; returns the exit status (non-zero when a file failed).
pub async fn run(args: UploadArgs) -> Result<i32> {
    let policy = RetryPolicy {
        maxlag: (args.maxlag > 0).then_some(args.maxlag),
        ..RetryPolicy::default()
    };
    let client = Client::connect_with(&args.api, policy)
        .await
        .with_context(|| format!("cannot reach the API at {}", args.api))?;
    if let Some(user) = &args.user {
        let password = std::env::var(&args.password_env).with_context(|| {
            format!(
                "the password of {user} is read from the environment variable {}, which is not set",
                args.password_env
            )
        })?;
        client
            .login(user, &password)
            .await
            .with_context(|| format!("cannot log in as {user}"))?;
    }
    let text = match (&args.text, &args.text_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        ),
        (None, None) => None,
    };

    if let (Some(url), Some(name)) = (&args.url, &args.name) {
        let r = client
            .upload_by_url(&UrlUploadRequest {
                url: url.clone(),
                filename: name.clone(),
                comment: args.comment.clone(),
                text,
                ignore_warnings: args.ignore_warnings,
            })
            .await;
        let row = Row {
            local: url.clone(),
            name: name.clone(),
            status: outcome_status(r, None),
        };
        return Ok(report(&[row]));
    }

    let files = collect_files(&args.paths)?;
    let mut jobs = Vec::new();
    let mut names = HashSet::new();
    let mut total_bytes = 0u64;
    for (i, path) in files.iter().enumerate() {
        let name = render_name_template(&args.name_template, path, i + 1)?;
        if !names.insert(name.clone()) {
            bail!(
                "two files would be uploaded as {name:?}; use --name-template to tell them apart"
            );
        }
        total_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        jobs.push((path.clone(), name));
    }
    let reporter = Reporter::new(total_bytes);
    let settings = Arc::new(Settings {
        client,
        reporter: reporter.clone(),
        text,
        comment: args.comment.clone(),
        chunk_size: args.chunk_size,
        ignore_warnings: args.ignore_warnings,
        skip_duplicates: args.skip_duplicates,
        async_mode: args.async_mode,
        resume: args.resume,
        state_dir: args.state_dir.clone().unwrap_or_else(default_state_dir),
        limit_rate: args.limit_rate,
    });
    // `--jobs` workers take the files in order.
    let queue = Arc::new(Mutex::new(
        jobs.into_iter()
            .enumerate()
            .collect::<std::collections::VecDeque<_>>(),
    ));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..args.jobs {
        let settings = settings.clone();
        let queue = queue.clone();
        set.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.pop_front(),
                    Err(p) => p.into_inner().pop_front(),
                };
                let Some((i, (path, name))) = next else { break };
                let status = upload_one(&settings, &path, &name).await;
                done.push((
                    i,
                    Row {
                        local: path.display().to_string(),
                        name,
                        status,
                    },
                ));
            }
            done
        });
    }
    let mut rows: Vec<(usize, Row)> = Vec::new();
    let interrupted = loop {
        tokio::select! {
            next = set.join_next() => match next {
                Some(Ok(r)) => rows.extend(r),
                Some(Err(e)) => bail!("an upload task failed: {e}"),
                None => break false,
            },
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    reporter.finish();
    if interrupted {
        set.abort_all();
        eprintln!("Interrupted; run the same command with --resume to continue chunked uploads.");
        return Ok(130);
    }
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    Ok(report(&rows))
}

fn outcome_status(r: mwstore_client::Result<UploadOutcome>, local_sha1: Option<&str>) -> Status {
    match r {
        Ok(UploadOutcome::Uploaded {
            filename,
            sha1,
            bytes_sent,
            resumed_from,
            warnings,
        }) => {
            if let (Some(remote), Some(local)) = (sha1.as_deref(), local_sha1) {
                if remote != local {
                    return Status::Failed(format!(
                        "the wiki has SHA-1 {remote}, the local file {local}"
                    ));
                }
            }
            let mut d = format!("as File:{filename}, {bytes_sent} bytes sent");
            if let Some(o) = resumed_from {
                d.push_str(&format!(", resumed at offset {o}"));
            }
            if let Some(w) = warnings {
                d.push_str(&format!(", ignored warnings: {}", describe_warnings(&w)));
            }
            Status::Uploaded(d)
        }
        Ok(UploadOutcome::Warnings { warnings, .. }) => Status::Failed(format!(
            "warnings: {} (--ignore-warnings publishes anyway)",
            describe_warnings(&warnings)
        )),
        Err(e) => Status::Failed(e.to_string()),
    }
}

async fn upload_one(s: &Settings, path: &Path, name: &str) -> Status {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let p = path.to_path_buf();
    let local_sha1 = match tokio::task::spawn_blocking(move || file_sha1(&p)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            s.reporter.add_total(size);
            return Status::Failed(format!("cannot read {}: {e}", path.display()));
        }
        Err(e) => return Status::Failed(e.to_string()),
    };
    if s.skip_duplicates {
        match s.client.find_by_sha1(&local_sha1).await {
            Ok(found) if !found.is_empty() => {
                s.reporter.add_total(size);
                let list: Vec<String> = found.iter().map(|n| format!("File:{n}")).collect();
                s.reporter.line(&format!(
                    "{name}: skipped, the wiki has it as {}",
                    list.join(", ")
                ));
                return Status::Skipped(format!("already on the wiki as {}", list.join(", ")));
            }
            Ok(_) => {}
            Err(e) => {
                s.reporter.add_total(size);
                return Status::Failed(format!("duplicate check failed: {e}"));
            }
        }
    }
    let state_file = s
        .state_dir
        .join(ResumeState::file_name(s.client.api_url(), path, name));
    let req = UploadRequest {
        path: path.to_path_buf(),
        filename: name.to_owned(),
        comment: s.comment.clone(),
        text: s.text.clone(),
        ignore_warnings: s.ignore_warnings,
        chunk_size: s.chunk_size,
        force_async: s.async_mode,
        state_file: Some(state_file),
        resume: s.resume,
        rate_limit: s.limit_rate,
    };
    let bar = s.reporter.file_bar(name, size);
    let counted = AtomicU64::new(0);
    let last_stage = Mutex::new(String::new());
    let on_event = |e: Event| match e {
        Event::Started { size, chunked } => {
            if bar.is_none() {
                let how = if chunked {
                    "in chunks"
                } else {
                    "in one request"
                };
                s.reporter
                    .line(&format!("{name}: uploading {size} bytes {how}"));
            }
        }
        Event::Resumed { offset } => {
            s.reporter
                .line(&format!("{name}: resuming at offset {offset}"));
        }
        Event::Restarted { reason } => {
            s.reporter
                .line(&format!("{name}: starting again ({reason})"));
        }
        Event::Progress { done, .. } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
            let before = counted.swap(done, Ordering::Relaxed);
            if done > before {
                s.reporter.add_total(done - before);
            }
        }
        Event::Waiting { stage } => {
            let mut last = match last_stage.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if *last != stage {
                if bar.is_none() {
                    s.reporter
                        .line(&format!("{name}: waiting for the wiki ({stage})"));
                }
                *last = stage;
            }
        }
        Event::Retrying { reason, delay } => {
            s.reporter.line(&format!(
                "{name}: retrying in {:.1} s ({reason})",
                delay.as_secs_f64()
            ));
        }
    };
    let r = s.client.upload(&req, &on_event).await;
    let done = counted.load(Ordering::Relaxed);
    if done < size {
        s.reporter.add_total(size - done);
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let status = outcome_status(r, Some(&local_sha1));
    match &status {
        Status::Uploaded(d) => s.reporter.line(&format!("{name}: uploaded {d}")),
        Status::Failed(d) => s.reporter.line(&format!("{name}: FAILED: {d}")),
        Status::Skipped(_) => {}
    }
    status
}

/// Prints the summary table; returns the exit status.
fn report(rows: &[Row]) -> i32 {
    let count = |f: fn(&Status) -> bool| rows.iter().filter(|r| f(&r.status)).count();
    let uploaded = count(|s| matches!(s, Status::Uploaded(_)));
    let skipped = count(|s| matches!(s, Status::Skipped(_)));
    let failed = count(|s| matches!(s, Status::Failed(_)));
    let wl = rows.iter().map(|r| r.local.len()).max().unwrap_or(0).max(4);
    let wn = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(4);
    let mut out = String::new();
    out.push_str(&format!(
        "\n{:<8}  {:<wl$}  {:<wn$}  DETAIL\n",
        "RESULT", "FILE", "NAME"
    ));
    for r in rows {
        let (word, detail) = match &r.status {
            Status::Uploaded(d) => ("uploaded", d),
            Status::Skipped(d) => ("skipped", d),
            Status::Failed(d) => ("failed", d),
        };
        out.push_str(&format!(
            "{word:<8}  {:<wl$}  {:<wn$}  {detail}\n",
            r.local, r.name
        ));
    }
    out.push_str(&format!(
        "Summary: {uploaded} uploaded, {skipped} skipped, {failed} failed"
    ));
    println!("{out}");
    i32::from(failed > 0)
}
