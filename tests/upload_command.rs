//! `mwstore upload` against a running mwstore: direct, chunked, asynchronous and resumed
//! uploads, duplicates skipped, warnings reported.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{make_png, sha1_hex, Client, Server, BIN, BOT_GRANTS};

/// A server with the user Alice and her bot password; returns (server, lgname, lgpassword).
fn alice_server() -> (Server, String, String) {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let (n, p) = server.bot_password("Alice", "bot", BOT_GRANTS);
    (server, n, p)
}

fn upload_cmd(server: &Server, user: &str, password: &str, state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("upload")
        .arg("--api")
        .arg(server.api())
        .arg("--user")
        .arg(user)
        .arg("--password-env")
        .arg("TEST_UPLOAD_PASSWORD")
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("TEST_UPLOAD_PASSWORD", password)
        .stdin(Stdio::null());
    c
}

fn run(mut c: Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("run mwstore upload");
    let out = String::from_utf8_lossy(&stdout).into_owned();
    let err = String::from_utf8_lossy(&stderr).into_owned();
    (status.code().unwrap_or(-1), out, err)
}

/// The SHA-1 of the current version of `File:<name>` as the API reports it.
async fn remote_sha1(server: &Server, name: &str) -> String {
    let c = Client::new(server);
    let title = format!("File:{name}");
    let (_, _, v) = c
        .get(&[
            ("action", "query"),
            ("prop", "imageinfo"),
            ("iiprop", "sha1"),
            ("titles", &title),
            ("format", "json"),
            ("formatversion", "2"),
        ])
        .await;
    v["query"]["pages"][0]["imageinfo"][0]["sha1"]
        .as_str()
        .unwrap_or_else(|| panic!("no sha1 for {name}: {v}"))
        .to_owned()
}

fn state_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn directory_duplicates_and_warnings() {
    let (server, user, pw) = alice_server();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    let files = [
        ("Alpha.png", make_png(20, 20, 1)),
        ("Beta.png", make_png(24, 16, 2)),
        ("Big.png", make_png(400, 500, 3)),
    ];
    assert!(files[2].1.len() > 590_000);
    for (n, d) in &files {
        std::fs::write(dir.join(n), d).unwrap();
    }
    std::fs::write(dir.join(".hidden.png"), make_png(8, 8, 9)).unwrap();

    // A directory, two files at a time; the large one in 64 KiB chunks.
    let dir_s = dir.to_str().unwrap();
    let (code, out, err) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &[
            "--chunk-size",
            "64KiB",
            "--jobs",
            "2",
            "--comment",
            "batch",
            "--text",
            "Uploaded by the test.",
            dir_s,
        ],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Summary: 3 uploaded, 0 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.contains("Big.png: uploading"), "{out}");
    assert!(out.contains("in chunks"), "{out}");
    for (n, d) in &files {
        assert_eq!(remote_sha1(&server, n).await, sha1_hex(d), "{n}");
    }
    assert!(state_files(&state).is_empty(), "state left behind");

    // Again with --skip-duplicates: everything is already there.
    let (code, out, err) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--skip-duplicates", "--jobs", "3", dir_s],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Summary: 0 uploaded, 3 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.contains("already on the wiki as File:Big.png"), "{out}");

    // A changed file under an existing name: the `exists` warning stops it.
    let changed = make_png(20, 20, 11);
    let alpha = dir.join("Alpha.png");
    std::fs::write(&alpha, &changed).unwrap();
    let alpha_s = alpha.to_str().unwrap();
    let (code, out, _) = run(upload_cmd(&server, &user, &pw, &state, &[alpha_s]));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("warnings: exists: Alpha.png"), "{out}");
    assert!(
        out.contains("Summary: 0 uploaded, 0 skipped, 1 failed"),
        "{out}"
    );
    assert_eq!(
        remote_sha1(&server, "Alpha.png").await,
        sha1_hex(&files[0].1)
    );

    // The same warning for a chunked upload (it comes at the commit).
    let big2 = make_png(400, 500, 12);
    let big = dir.join("Big.png");
    std::fs::write(&big, &big2).unwrap();
    let big_s = big.to_str().unwrap();
    let (code, out, _) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--chunk-size", "64KiB", big_s],
    ));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("warnings: exists: Big.png"), "{out}");
    assert!(state_files(&state).is_empty(), "state left behind");

    // --ignore-warnings publishes both anyway.
    let (code, out, err) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--ignore-warnings", "--chunk-size", "64KiB", alpha_s, big_s],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Summary: 2 uploaded, 0 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.contains("ignored warnings: exists: Alpha.png"), "{out}");
    assert_eq!(remote_sha1(&server, "Alpha.png").await, sha1_hex(&changed));
    assert_eq!(remote_sha1(&server, "Big.png").await, sha1_hex(&big2));

    // A name template, and a duplicate under a new name reported as a warning.
    let (code, out, _) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--name-template", "Copy of {stem} {index}.{ext}", alpha_s],
    ));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Copy of Alpha 1.png"), "{out}");
    assert!(out.contains("warnings: duplicate: Alpha.png"), "{out}");
}

#[tokio::test]
async fn async_chunked_and_direct() {
    let (server, user, pw) = alice_server();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let big = make_png(300, 300, 21);
    let small = make_png(10, 10, 22);
    let big_p = tmp.path().join("Async big.png");
    let small_p = tmp.path().join("Async small.png");
    std::fs::write(&big_p, &big).unwrap();
    std::fs::write(&small_p, &small).unwrap();
    let (code, out, err) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &[
            "--async",
            "--chunk-size",
            "64KiB",
            big_p.to_str().unwrap(),
            small_p.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Summary: 2 uploaded, 0 skipped, 0 failed"),
        "{out}"
    );
    assert_eq!(remote_sha1(&server, "Async big.png").await, sha1_hex(&big));
    assert_eq!(
        remote_sha1(&server, "Async small.png").await,
        sha1_hex(&small)
    );
}

#[tokio::test]
async fn resume_after_killed_client() {
    resume_after_interruption("KILL").await;
}

#[tokio::test]
async fn resume_after_ctrl_c() {
    resume_after_interruption("INT").await;
}

/// Interrupts a chunked upload with `signal` once it has made progress, then finishes it
/// with `--resume`.
async fn resume_after_interruption(signal: &str) {
    let (server, user, pw) = alice_server();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let data = make_png(800, 850, 31);
    let size = data.len() as u64;
    assert!(size > 2_000_000);
    let file = tmp.path().join("Resumed.png");
    std::fs::write(&file, &data).unwrap();
    let file_s = file.to_str().unwrap();

    // A slow upload in 16 KiB chunks, killed once the state records progress.
    let mut c = upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--chunk-size", "16KiB", "--limit-rate", "256KiB", file_s],
    );
    let stderr_path = tmp.path().join("stderr");
    c.stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let recorded = loop {
        assert!(Instant::now() < deadline, "no resume state appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the upload ended before it could be interrupted"
        );
        let offset = state_files(&state).first().and_then(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
            v["offset"].as_u64()
        });
        if let Some(o) = offset.filter(|o| *o > 0) {
            break o;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    if signal == "INT" {
        // Ctrl-C: the command stops itself, says how to go on, and exits with 130.
        assert_eq!(status.code(), Some(130), "{status:?}");
        let err = std::fs::read_to_string(&stderr_path).unwrap();
        assert!(
            err.contains("run the same command with --resume"),
            "stderr:\n{err}"
        );
    }
    assert!(recorded < size / 2, "recorded offset {recorded}");
    assert_eq!(state_files(&state).len(), 1);

    // Without --resume nothing has been published yet.
    let reader = Client::new(&server);
    let (_, _, v) = reader
        .get(&[
            ("action", "query"),
            ("list", "allimages"),
            ("format", "json"),
        ])
        .await;
    assert_eq!(v["query"]["allimages"], serde_json::json!([]), "{v}");

    // --resume continues at the server's offset and sends only the rest.
    let (code, out, err) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--resume", "--chunk-size", "16KiB", file_s],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let resumed: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("Resumed.png: resuming at offset "))
        .unwrap_or_else(|| panic!("no resume line in\n{out}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        resumed >= recorded && resumed < size,
        "{resumed} vs {recorded}"
    );
    let expected = format!("{} bytes sent, resumed at offset {resumed}", size - resumed);
    assert!(out.contains(&expected), "expected {expected:?} in\n{out}");
    assert_eq!(remote_sha1(&server, "Resumed.png").await, sha1_hex(&data));
    assert!(state_files(&state).is_empty(), "state left behind");
}

#[tokio::test]
async fn login_failures_and_main_account() {
    let (server, user, _) = alice_server();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let file = tmp.path().join("Login test.png");
    let data = make_png(12, 12, 41);
    std::fs::write(&file, &data).unwrap();
    let file_s = file.to_str().unwrap();

    let (code, out, err) = run(upload_cmd(&server, &user, "wrong", &state, &[file_s]));
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("cannot log in as Alice@bot")
            && err.contains("Incorrect username or password entered. Please try again."),
        "{err}"
    );

    let mut c = upload_cmd(&server, &user, "x", &state, &[file_s]);
    c.env_remove("TEST_UPLOAD_PASSWORD");
    let (code, _, err) = run(c);
    assert_ne!(code, 0);
    assert!(err.contains("TEST_UPLOAD_PASSWORD"), "{err}");

    // A main account logs in through clientlogin.
    let (code, out, err) = run(upload_cmd(
        &server,
        "Alice",
        "alice-password-1",
        &state,
        &[file_s],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        remote_sha1(&server, "Login test.png").await,
        sha1_hex(&data)
    );
}

#[tokio::test]
async fn upload_by_url() {
    let server = Server::start_with_config(
        "allow_copy_uploads = true\ncopy_uploads_allow_private = [\"127.0.0.1/32\"]\n[group_permissions.user]\nupload_by_url = true\n",
    );
    server.add_user("Alice", "alice-password-1", "");
    let (user, pw) = server.bot_password("Alice", "bot", BOT_GRANTS);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let data = make_png(16, 16, 51);
    let file = tmp.path().join("Source.png");
    std::fs::write(&file, &data).unwrap();
    let (code, out, _) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &[file.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{out}");
    let (_, _, v) = Client::new(&server)
        .get(&[
            ("action", "query"),
            ("prop", "imageinfo"),
            ("iiprop", "url"),
            ("titles", "File:Source.png"),
            ("format", "json"),
            ("formatversion", "2"),
        ])
        .await;
    let url = v["query"]["pages"][0]["imageinfo"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same content again: the duplicate warning, then published with --ignore-warnings.
    let (code, out, _) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--url", &url, "--name", "Fetched.png"],
    ));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("warnings: duplicate: Source.png"), "{out}");
    let (code, out, err) = run(upload_cmd(
        &server,
        &user,
        &pw,
        &state,
        &["--url", &url, "--name", "Fetched.png", "--ignore-warnings"],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Summary: 1 uploaded, 0 skipped, 0 failed"),
        "{out}"
    );
    assert_eq!(remote_sha1(&server, "Fetched.png").await, sha1_hex(&data));
}
