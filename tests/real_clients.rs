//! Runs real MediaWiki client libraries against a live mwstore.
//!
//! The clients come from PyPI at the versions pinned in `tests/clients/requirements.txt` and
//! are installed by this test into a virtual environment at `target/client-venv` (reused
//! while the requirements and the Python version are unchanged). A missing `python3` or a
//! failing install is a test failure, never a skip: CI must provide Python 3 with the `venv`
//! module (Debian: `python3-venv`) and reach PyPI.

mod common;

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::Server;
use sha1::Digest;

/// Grants of the bot password the clients log in with.
const GRANTS: &str = "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume";

/// How long one client script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter used to create the venv (`MWSTORE_TEST_PYTHON`, else `python3`).
fn base_python() -> String {
    std::env::var("MWSTORE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Runs a command to completion, returning its combined output, or a readable error.
fn run(cmd: &mut Command, what: &str, hint: &str) -> Result<String, String> {
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
    let version = run(
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
    run(
        Command::new(&py).arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
        "Python's venv module (with ensurepip) is missing (Debian: apt-get install python3-venv).",
    )?;
    let log = run(
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

/// Runs `python script args...`, killing it after [`SCRIPT_TIMEOUT`]; returns (success,
/// combined output).
fn run_script(python: &Path, script: &Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new(python)
        // The pywikibot script configures pywikibot through these itself.
        .env_remove("PYWIKIBOT_DIR")
        .env_remove("PYWIKIBOT_NO_USER_CONFIG")
        .arg("-u")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
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
