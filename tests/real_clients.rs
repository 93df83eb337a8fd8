//! Runs real MediaWiki client libraries against a live mwstore.
//!
//! The Python clients come from PyPI at the versions pinned in
//! `tests/clients/requirements.txt` and are installed by this test into a virtual environment
//! at `target/client-venv` (reused while the requirements and the Python version are
//! unchanged). The Node client (mwn) comes from the npm registry at the version pinned in
//! `tests/clients/mwn/package.json` and `package-lock.json`, installed with `npm ci` into
//! `target/client-node` (reused while the lock file and the Node version are unchanged).
//! A missing `python3`, `node` or `npm`, or a failing install, is a test failure, never a
//! skip: CI must provide Python 3 with the `venv` module (Debian: `python3-venv`), Node.js
//! with npm, and reach PyPI and the npm registry.

mod common;

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{repo_root, run_command, Server};
use sha1::Digest;

/// Grants of the bot password the clients log in with.
const GRANTS: &str = "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume";

/// How long one client script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The Python interpreter used to create the venv (`MWSTORE_TEST_PYTHON`, else `python3`).
fn base_python() -> String {
    std::env::var("MWSTORE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The Node.js binary (`MWSTORE_TEST_NODE`, else `node`).
fn node_binary() -> String {
    std::env::var("MWSTORE_TEST_NODE").unwrap_or_else(|_| "node".to_owned())
}

/// The npm binary (`MWSTORE_TEST_NPM`, else `npm`).
fn npm_binary() -> String {
    std::env::var("MWSTORE_TEST_NPM").unwrap_or_else(|_| "npm".to_owned())
}

/// Makes sure `target/client-venv` holds the pinned client libraries and returns the venv's
/// python. Safe against concurrent callers: one build per process (`OnceLock` + mutex) and
/// an exclusive lock file across processes; the marker that says "installed" is written by
/// an atomic rename only after a successful install.
fn client_venv() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static BUILD: Mutex<()> = Mutex::new(());
    let result = VENV.get_or_init(|| {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        prepare_venv()
    });
    match result {
        Ok(p) => p.clone(),
        Err(e) => panic!("cannot set up the Python client environment:\n{e}"),
    }
}

fn prepare_venv() -> Result<PathBuf, String> {
    let root = repo_root();
    let requirements = root.join("tests/clients/requirements.txt");
    let target = root.join("target");
    let venv = target.join("client-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join(".mwstore-requirements");

    let py = base_python();
    let version = run_command(
        Command::new(&py).arg("--version"),
        "python3 --version",
        "The real-client tests need python3 on PATH with the venv module and pip \
         (Debian: apt-get install python3 python3-venv python3-pip).",
    )?;
    let reqs =
        fs::read(&requirements).map_err(|e| format!("read {}: {e}", requirements.display()))?;
    let mut h = sha1::Sha1::new();
    h.update(&reqs);
    h.update(version.trim().as_bytes());
    let wanted = hex::encode(h.finalize());
    let ready = || python.exists() && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted);
    if ready() {
        return Ok(python);
    }

    fs::create_dir_all(&target).map_err(|e| format!("create {}: {e}", target.display()))?;
    let lock_path = target.join("client-venv.lock");
    let lock =
        File::create(&lock_path).map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    // Another process may have finished the install while this one waited for the lock.
    if ready() {
        return Ok(python);
    }
    eprintln!(
        "real_clients: creating {} ({})",
        venv.display(),
        version.trim()
    );
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| format!("remove stale {}: {e}", venv.display()))?;
    }
    run_command(
        Command::new(&py).arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
        "Python's venv module (with ensurepip) is missing (Debian: apt-get install python3-venv).",
    )?;
    let log = run_command(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&requirements),
        "pip install -r tests/clients/requirements.txt",
        "pip must reach PyPI to install the pinned client libraries.",
    )?;
    eprintln!("{}", log.lines().last().unwrap_or_default());
    let tmp = venv.join(format!(".mwstore-requirements.tmp{}", std::process::id()));
    fs::write(&tmp, &wanted).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, &marker).map_err(|e| format!("rename to {}: {e}", marker.display()))?;
    drop(lock);
    Ok(python)
}

/// Makes sure `target/client-node/node_modules` holds the pinned mwn and its dependencies
/// and returns that `node_modules` directory. Guarded like [`client_venv`]: one install per
/// process, an exclusive lock file across processes, and a marker (the hash of the lock
/// file, `package.json` and the Node version) written only after a successful `npm ci`.
fn client_node_modules() -> PathBuf {
    static MODULES: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static BUILD: Mutex<()> = Mutex::new(());
    let result = MODULES.get_or_init(|| {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        prepare_node_modules()
    });
    match result {
        Ok(p) => p.clone(),
        Err(e) => panic!("cannot set up the Node client environment:\n{e}"),
    }
}

fn prepare_node_modules() -> Result<PathBuf, String> {
    const NODE_HINT: &str = "The mwn test needs Node.js 14 or newer with npm on PATH \
        (Debian: apt-get install nodejs npm), or MWSTORE_TEST_NODE / MWSTORE_TEST_NPM set.";
    let root = repo_root();
    let source = root.join("tests/clients/mwn");
    let target = root.join("target");
    let dir = target.join("client-node");
    let modules = dir.join("node_modules");
    let marker = dir.join(".mwstore-lock-hash");

    let node = node_binary();
    let npm = npm_binary();
    let node_version = run_command(
        Command::new(&node).arg("--version"),
        "node --version",
        NODE_HINT,
    )?;
    let node_version = node_version.trim().to_owned();
    let major = node_version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < 14) {
        return Err(format!("node --version says {node_version:?}. {NODE_HINT}"));
    }
    let npm_version = run_command(
        Command::new(&npm).arg("--version"),
        "npm --version",
        NODE_HINT,
    )?;

    let mut files = Vec::new();
    let mut h = sha1::Sha1::new();
    for name in ["package.json", "package-lock.json"] {
        let path = source.join(name);
        let bytes = fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        h.update(&bytes);
        files.push((name, bytes));
    }
    h.update(node_version.as_bytes());
    let wanted = hex::encode(h.finalize());
    let ready = || {
        modules.join("mwn/package.json").exists()
            && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted)
    };
    if ready() {
        return Ok(modules);
    }

    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let lock_path = target.join("client-node.lock");
    let lock =
        File::create(&lock_path).map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    // Another process may have finished the install while this one waited for the lock.
    if ready() {
        return Ok(modules);
    }
    eprintln!(
        "real_clients: installing mwn into {} (node {node_version}, npm {})",
        dir.display(),
        npm_version.trim()
    );
    match fs::remove_file(&marker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("remove stale {}: {e}", marker.display())),
    }
    for (name, bytes) in &files {
        let path = dir.join(name);
        fs::write(&path, bytes).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    let log = run_command(
        Command::new(&npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
        "npm ci (tests/clients/mwn/package-lock.json)",
        "npm must reach the npm registry to install the pinned mwn and its dependencies.",
    )?;
    // npm's summary ("added N packages in 2s"), not one of its warnings.
    let summary = log
        .lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with("npm warn"))
        .unwrap_or_default();
    eprintln!("{summary}");
    if !modules.join("mwn/package.json").exists() {
        return Err(format!(
            "npm ci succeeded but {} has no mwn:\n{log}",
            modules.display()
        ));
    }
    let tmp = dir.join(format!(".mwstore-lock-hash.tmp{}", std::process::id()));
    fs::write(&tmp, &wanted).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, &marker).map_err(|e| format!("rename to {}: {e}", marker.display()))?;
    drop(lock);
    Ok(modules)
}

/// Runs `python -u script args...`; see [`run_with_timeout`].
fn run_script(python: &Path, script: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(python);
    // The pywikibot script configures pywikibot through these itself.
    cmd.env_remove("PYWIKIBOT_DIR")
        .env_remove("PYWIKIBOT_NO_USER_CONFIG")
        .arg("-u")
        .arg(script)
        .args(args);
    run_with_timeout(cmd)
}

/// Runs `node script args...` from the repository root with `NODE_PATH` pointing at the
/// installed client modules; see [`run_with_timeout`].
fn run_node_script(modules: &Path, script: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(node_binary());
    cmd.env("NODE_PATH", modules)
        .current_dir(repo_root())
        .arg(script)
        .args(args);
    run_with_timeout(cmd)
}

/// Runs a client script, killing it after [`SCRIPT_TIMEOUT`]; returns (success, combined
/// output).
fn run_with_timeout(mut cmd: Command) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for script") {
            break (Some(status), false);
        }
        if start.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out_reader.join().expect("stdout reader");
    let err = err_reader.join().expect("stderr reader");
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if !err.is_empty() {
        text.push_str("--- stderr ---\n");
        text.push_str(&String::from_utf8_lossy(&err));
    }
    if timed_out {
        text.push_str(&format!("--- killed after {SCRIPT_TIMEOUT:?} ---\n"));
    }
    (status.is_some_and(|s| s.success()), text)
}

/// Starts a server with user Alice and a bot password; returns it with (lgname, lgpassword).
fn server_with_alice() -> (Server, String, String) {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let (lgname, lgpassword) = server.bot_password("Alice", "bot", GRANTS);
    (server, lgname, lgpassword)
}

/// mwclient 0.11.0 logs in with a bot password, uploads a PNG and a JPEG, reads the sha1s
/// back, downloads the files, gets `FileExists` on a re-upload without `ignore`, re-uploads
/// with `ignore=True`, and lists both files with `allimages`.
#[test]
fn mwclient_uploads_and_reads_back() {
    let python = client_venv();
    let (server, lgname, lgpassword) = server_with_alice();
    let script = repo_root().join("tests/clients/mwclient_upload.py");
    let (ok, output) = run_script(&python, &script, &[&server.api(), &lgname, &lgpassword]);
    assert!(
        ok,
        "mwclient script failed against {}:\n{output}",
        server.api()
    );
    println!("{output}");
}

/// pywikibot 11.9.0, configured with an `AutoFamily` (`family_files`) and a `BotPassword`
/// password file, logs in, uploads a PNG directly, uploads ~600 KB PNGs in 64 KiB chunks
/// (one of them with CR at every chunk end, so the server must drop the CR before each
/// bare-LF boundary and report the bytes it kept) and with `asynchronous=True`, reads every
/// sha1 back, downloads a file, and gets `UploadError('exists')` for a refused re-upload.
#[test]
fn pywikibot_uploads_direct_and_chunked() {
    let python = client_venv();
    let (server, lgname, lgpassword) = server_with_alice();
    let (user, bot) = lgname
        .split_once('@')
        .unwrap_or_else(|| panic!("bot password login name without '@': {lgname}"));
    let script = repo_root().join("tests/clients/pywikibot_upload.py");
    let (ok, output) = run_script(&python, &script, &[&server.api(), user, bot, &lgpassword]);
    assert!(
        ok,
        "pywikibot script failed against {}:\n{output}",
        server.api()
    );
    println!("{output}");
}

/// mwn 3.0.3 (Node) logs in with a bot password (checking that its tokens+siteinfo+userinfo
/// query gave it a CSRF token), uploads a small PNG with `bot.upload`, a PNG over 10 MiB with
/// the same single-request `bot.upload` (mwn does not chunk), a ~3 MiB PNG in 1 MiB stashed
/// chunks through `bot.request` plus a urlencoded commit, reads every sha1 back, downloads
/// files with `bot.download`, gets the `exists` Warning with `ignorewarnings: false`, and
/// recovers from `badtoken` (paraminfo token type, fresh tokens, resend).
#[test]
fn mwn_uploads_direct_large_and_chunked() {
    let modules = client_node_modules();
    let (server, lgname, lgpassword) = server_with_alice();
    let script = repo_root().join("tests/clients/mwn_upload.mjs");
    let (ok, output) = run_node_script(&modules, &script, &[&server.api(), &lgname, &lgpassword]);
    assert!(ok, "mwn script failed against {}:\n{output}", server.api());
    println!("{output}");
}
