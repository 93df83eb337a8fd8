//! The front door: the login throttle (per account and address, per bot password, per
//! address), password checks reserved before they run, sessions that stay ended (logout,
//! revocation by the admin commands), and the cookies' attributes.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const BAD_LOGIN: &str = "Incorrect username or password entered. Please try again.";
const THROTTLED_5_MIN: &str =
    "You have made too many recent login attempts. Please wait 5 minutes before trying again.";

/// A client with its own cookie jar whose connections come from `from` (any 127.x.y.z
/// reaches the server on 127.0.0.1).
fn client_from(server: &Server, from: &str) -> Client {
    let addr: IpAddr = from.parse().expect("address");
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .local_address(addr)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        api: server.api(),
        csrf: None,
    }
}

/// Three wrong guesses for `name` are checked (a limit of 3 per window), the fourth is
/// throttled.
async fn three_wrong_then_throttled(c: &Client, name: &str, what: &str) {
    for i in 0..3 {
        let (v, _) = login(c, name, "wrong-password").await;
        assert_eq!(v, failed(), "{name}, guess {i} {what}");
    }
    let (v, _) = login(c, name, "wrong-password").await;
    assert_throttled(&format!("{name}, 4th guess {what}"), &v);
}

/// `action=login` with a fresh login token: the `login` object and the response headers.
async fn login(c: &Client, name: &str, password: &str) -> (Value, reqwest::header::HeaderMap) {
    let (_, token) = c.login_token().await;
    let (_, h, v) = c
        .post(&[
            ("format", "json"),
            ("action", "login"),
            ("lgname", name),
            ("lgpassword", password),
            ("lgtoken", &token),
        ])
        .await;
    (v["login"].clone(), h)
}

/// `action=clientlogin` with a fresh login token: the `clientlogin` object.
async fn clientlogin(c: &Client, name: &str, password: &str) -> Value {
    let (_, token) = c.login_token().await;
    let (_, _, v) = c
        .post(&[
            ("format", "json"),
            ("action", "clientlogin"),
            ("username", name),
            ("password", password),
            ("loginreturnurl", "http://example.org/"),
            ("logintoken", &token),
        ])
        .await;
    v["clientlogin"].clone()
}

fn failed() -> Value {
    json!({"result": "Failed", "reason": BAD_LOGIN})
}

/// Checks a throttled `action=login` answer (5-minute window): `Failed`, MediaWiki's reason,
/// and the seconds to wait.
fn assert_throttled(what: &str, v: &Value) {
    assert_eq!(v["result"], "Failed", "{what}: {v}");
    assert_eq!(v["reason"], THROTTLED_5_MIN, "{what}: {v}");
    let wait = v["wait"].as_i64().unwrap_or(-1);
    assert!((241..=300).contains(&wait), "{what}: wait {wait}: {v}");
    assert_eq!(keys(v), strings(&["result", "reason", "wait"]), "{what}");
}

/// The `name=value` of the session cookie a response set.
fn session_cookie(h: &reqwest::header::HeaderMap, name: &str) -> String {
    set_cookies(h)
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", set_cookies(h)))
        .to_owned()
}

/// `meta=userinfo&assert=user` with only this cookie: the user name, or the error code.
async fn assert_user(server: &Server, cookie: &str) -> Result<String, String> {
    let r = reqwest::Client::new()
        .get(server.api())
        .query(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
            ("assert", "user"),
        ])
        .header("Cookie", cookie)
        .send()
        .await
        .expect("GET");
    let (_, _, v) = answer(r).await;
    match v["error"]["code"].as_str() {
        Some(code) => Err(code.to_owned()),
        None => Ok(v["query"]["userinfo"]["name"]
            .as_str()
            .unwrap_or("")
            .to_owned()),
    }
}

/// Runs an admin command that must fail; its stderr.
fn admin_fails(server: &Server, args: &[&str]) -> String {
    let out = std::process::Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(server.dir.path().join("data"))
        .output()
        .expect("run admin command");
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn lockout_from_one_address_leaves_the_account_open_from_another() {
    let server =
        Server::start_with_config("password_attempt_throttle = [{ count = 3, seconds = 300 }]\n");
    server.add_user("Alice", "alice-password-1", "");
    let a = client_from(&server, "127.0.0.2");
    let b = client_from(&server, "127.0.0.3");

    // The server sees the address the connection comes from.
    let (_, _, v) = a
        .get(&[
            ("format", "json"),
            ("action", "query"),
            ("meta", "userinfo"),
        ])
        .await;
    assert_eq!(v["query"]["userinfo"]["name"], "127.0.0.2", "{v}");

    three_wrong_then_throttled(&a, "Alice", "from .2").await;
    // Locked for (Alice, 127.0.0.2): the right password waits too, and clientlogin counts
    // the same attempts.
    let (v, _) = login(&a, "alice", "alice-password-1").await;
    assert_throttled("right password from .2", &v);
    let v = clientlogin(&a, "Alice", "alice-password-1").await;
    assert_eq!(
        v,
        json!({"status": "FAIL", "message": THROTTLED_5_MIN, "messagecode": "login-throttled"})
    );

    // From another address Alice is not locked.
    let (v, _) = login(&b, "Alice", "wrong-password").await;
    assert_eq!(v, failed());
    let (v, _) = login(&b, "Alice", "alice-password-1").await;
    assert_eq!(v["result"], "Success", "{v}");
    assert_eq!(v["lgusername"], "Alice");
    let v = clientlogin(
        &client_from(&server, "127.0.0.3"),
        "Alice",
        "alice-password-1",
    )
    .await;
    assert_eq!(v, json!({"status": "PASS", "username": "Alice"}));
}

#[tokio::test]
async fn a_wrong_bot_password_locks_only_that_bot() {
    // Default throttle: 5 attempts in 5 minutes.
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let (bot1, pw1) = server.bot_password("Alice", "bot1", BOT_GRANTS);
    let (bot2, pw2) = server.bot_password("Alice", "bot2", BOT_GRANTS);
    assert_eq!(bot1, "Alice@bot1");
    let c = client_from(&server, "127.0.0.4");
    let wrong = "0123456789abcdef0123456789abcdef";
    assert_ne!(pw1, wrong);

    for i in 0..5 {
        let (v, _) = login(&c, &bot1, wrong).await;
        assert_eq!(v, failed(), "guess {i}");
    }
    let (v, _) = login(&c, &bot1, wrong).await;
    assert_throttled("6th guess at Alice@bot1", &v);
    // Both forms of Alice@bot1 are the same bot password: locked, even with the right one.
    let (v, _) = login(&c, &bot1, &pw1).await;
    assert_throttled("Alice@bot1, right password", &v);
    let (v, _) = login(&c, "Alice", &format!("bot1@{pw1}")).await;
    assert_throttled("Alice + bot1@password", &v);

    // Same address: the main account and the other bot log in.
    let (v, _) = login(&c, "Alice", "alice-password-1").await;
    assert_eq!(v["result"], "Success", "main account: {v}");
    let c2 = client_from(&server, "127.0.0.4");
    let (v, _) = login(&c2, &bot2, &pw2).await;
    assert_eq!(v["result"], "Success", "Alice@bot2: {v}");
    let c3 = client_from(&server, "127.0.0.4");
    let v = clientlogin(&c3, "Alice", "alice-password-1").await;
    assert_eq!(v, json!({"status": "PASS", "username": "Alice"}));
}

#[tokio::test]
async fn parallel_guesses_get_at_most_count_password_checks() {
    // Default throttle: 5 attempts in 5 minutes.
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let mut prepared = Vec::new();
    for _ in 0..20 {
        let c = client_from(&server, "127.0.0.5");
        let (_, token) = c.login_token().await;
        prepared.push((c, token));
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, (c, token)) in prepared.into_iter().enumerate() {
        set.spawn(async move {
            let guess = format!("wrong-password-{i}");
            let (_, _, v) = c
                .post(&[
                    ("format", "json"),
                    ("action", "login"),
                    ("lgname", "Alice"),
                    ("lgpassword", &guess),
                    ("lgtoken", &token),
                ])
                .await;
            v["login"].clone()
        });
    }
    let mut checked = 0;
    let mut throttled = 0;
    while let Some(v) = set.join_next().await {
        let v = v.expect("task");
        if v == failed() {
            checked += 1;
        } else {
            assert_throttled("parallel guess", &v);
            throttled += 1;
        }
    }
    assert_eq!((checked, throttled), (5, 15));
    // The right password from there waits too; from elsewhere it logs in.
    let (v, _) = login(
        &client_from(&server, "127.0.0.5"),
        "Alice",
        "alice-password-1",
    )
    .await;
    assert_throttled("right password after the guesses", &v);
    let (v, _) = login(
        &client_from(&server, "127.0.0.6"),
        "Alice",
        "alice-password-1",
    )
    .await;
    assert_eq!(v["result"], "Success", "{v}");
}

#[tokio::test]
async fn success_clears_the_count_and_does_not_count_for_the_address() {
    let server = Server::start_with_config(
        "password_attempt_throttle = [{ count = 3, seconds = 300 }]\n\
         password_attempt_throttle_per_address = [{ count = 6, seconds = 300 }]\n",
    );
    server.add_user("Alice", "alice-password-1", "");
    server.add_user("Bob", "bob-password-1", "");
    let c = client_from(&server, "127.0.0.7");

    for i in 0..2 {
        let (v, _) = login(&c, "Alice", "wrong-password").await;
        assert_eq!(v, failed(), "guess {i}");
    }
    let (v, _) = login(&c, "Alice", "alice-password-1").await;
    assert_eq!(v["result"], "Success", "{v}");
    // Alice's count starts over: three more wrong guesses are checked.
    let c = client_from(&server, "127.0.0.7");
    three_wrong_then_throttled(&c, "Alice", "after the success").await;
    // The address has counted 5 failures (the success was given back): Bob's first guess is
    // the 6th and is checked, the next one is over the address's limit.
    let (v, _) = login(&c, "Bob", "wrong-password").await;
    assert_eq!(v, failed(), "Bob's first guess");
    let (v, _) = login(&c, "Bob", "bob-password-1").await;
    assert_throttled("Bob, address over its limit", &v);
}

#[tokio::test]
async fn one_address_cannot_spray_many_accounts() {
    let server = Server::start_with_config(
        "password_attempt_throttle_per_address = [{ count = 4, seconds = 300 }]\n",
    );
    server.add_user("Eve", "eve-password-1", "");
    let c = client_from(&server, "127.0.0.8");
    for name in ["User1", "User2", "User3", "Eve"] {
        let (v, _) = login(&c, name, "Summer2024!").await;
        assert_eq!(v, failed(), "{name}");
    }
    for name in ["User5", "Eve"] {
        let (v, _) = login(&c, name, "Summer2024!").await;
        assert_throttled(name, &v);
    }
    let (v, _) = login(&c, "Eve", "eve-password-1").await;
    assert_throttled("Eve, right password, same address", &v);
    // Another address is counted apart.
    let (v, _) = login(&client_from(&server, "127.0.0.9"), "User5", "Summer2024!").await;
    assert_eq!(v, failed());
    let (v, _) = login(&client_from(&server, "127.0.0.9"), "Eve", "eve-password-1").await;
    assert_eq!(v["result"], "Success", "{v}");
}

#[tokio::test]
async fn logout_wins_against_concurrent_requests() {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let (bot, pw) = server.bot_password("Alice", "bot", BOT_GRANTS);
    for round in 0..5 {
        let mut c = Client::new(&server);
        let (v, h) = login(&c, &bot, &pw).await;
        assert_eq!(v["result"], "Success", "{v}");
        let cookie = session_cookie(&h, "mwstore_BPsession");
        let csrf = c.refresh_csrf().await;
        assert_eq!(assert_user(&server, &cookie).await, Ok("Alice".into()));

        // Requests that load the session and write it back (a new token secret each:
        // `type=watch|patrol|...` use the session's secrets), racing the logout.
        let mut set = tokio::task::JoinSet::new();
        for i in 0..30 {
            let http = c.http.clone();
            let api = c.api.clone();
            set.spawn(async move {
                if i % 3 == 0 {
                    tokio::time::sleep(Duration::from_millis(i as u64)).await;
                }
                let r = http
                    .get(&api)
                    .query(&[
                        ("format", "json"),
                        ("action", "query"),
                        ("meta", "tokens"),
                        ("type", "csrf|watch|patrol|rollback|userrights"),
                    ])
                    .send()
                    .await;
                r.map(|r| r.status().as_u16()).unwrap_or(0)
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (st, h, v) = c
            .post(&[("format", "json"), ("action", "logout"), ("token", &csrf)])
            .await;
        assert_eq!((st, &v), (200, &json!({})), "round {round}");
        let deleted = set_cookies(&h);
        assert!(
            deleted
                .iter()
                .any(|s| s.starts_with("mwstore_BPsession=deleted")),
            "{deleted:?}"
        );
        while let Some(st) = set.join_next().await {
            assert_eq!(st.expect("task"), 200);
        }
        // Every request has been answered (and has written its session back, or not):
        // the old cookie is dead, and stays dead.
        assert_eq!(
            assert_user(&server, &cookie).await,
            Err("assertuserfailed".into()),
            "round {round}"
        );
        c.csrf = None;
    }
}

#[tokio::test]
async fn cookies_are_same_site_lax() {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    let (bot, pw) = server.bot_password("Alice", "bot", BOT_GRANTS);

    // An anonymous session (for the login token).
    let anon = Client::new(&server);
    let (h, _) = anon.login_token().await;
    let id = session_cookie(&h, "mwstore_session");
    assert_eq!(
        set_cookies(&h),
        vec![format!("{id}; path=/; HttpOnly; SameSite=Lax")]
    );

    // Main-account login: session, UserID, UserName.
    let mut main = Client::new(&server);
    let (v, h) = login(&main, "Alice", "alice-password-1").await;
    assert_eq!(v["result"], "Success");
    let id = session_cookie(&h, "mwstore_session");
    let uid = v["lguserid"].as_i64().expect("lguserid");
    assert_eq!(
        set_cookies(&h),
        vec![
            format!("{id}; path=/; HttpOnly; SameSite=Lax"),
            format!("mwstoreUserID={uid}; Max-Age=15552000; path=/; HttpOnly; SameSite=Lax"),
            "mwstoreUserName=Alice; Max-Age=15552000; path=/; HttpOnly; SameSite=Lax".to_owned(),
        ]
    );
    // Logout removes them with the same attributes.
    let csrf = main.refresh_csrf().await;
    let (_, h, _) = main
        .post(&[("format", "json"), ("action", "logout"), ("token", &csrf)])
        .await;
    let gone = |n: &str| {
        format!("{n}=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; path=/; HttpOnly; SameSite=Lax")
    };
    assert_eq!(
        set_cookies(&h),
        vec![
            gone("mwstore_session"),
            gone("mwstoreUserID"),
            gone("mwstoreToken")
        ]
    );

    // Bot-password login and logout: BPsession.
    let mut bp = Client::new(&server);
    let (v, h) = login(&bp, &bot, &pw).await;
    assert_eq!(v["result"], "Success");
    let id = session_cookie(&h, "mwstore_BPsession");
    assert_eq!(
        set_cookies(&h),
        vec![format!("{id}; path=/; HttpOnly; SameSite=Lax")]
    );
    let csrf = bp.refresh_csrf().await;
    let (_, h, _) = bp
        .post(&[("format", "json"), ("action", "logout"), ("token", &csrf)])
        .await;
    assert_eq!(set_cookies(&h), vec![gone("mwstore_BPsession")]);
}

#[tokio::test]
async fn admin_commands_end_sessions_at_once() {
    let server = Server::start();
    server.add_user("Alice", "alice-password-1", "");
    server.add_user("Bob", "bob-password-1", "");
    let (bot1, pw1) = server.bot_password("Alice", "bot1", BOT_GRANTS);
    let (bot2, pw2) = server.bot_password("Alice", "bot2", "basic");
    let (bobbot, bobpw) = server.bot_password("Bob", "bot1", BOT_GRANTS);

    async fn session(server: &Server, name: &str, pw: &str) -> String {
        let c = Client::new(server);
        let (v, h) = login(&c, name, pw).await;
        assert_eq!(v["result"], "Success", "{name}: {v}");
        let cookie = if name.contains('@') {
            "mwstore_BPsession"
        } else {
            "mwstore_session"
        };
        session_cookie(&h, cookie)
    }
    let alive = |who: &str| Ok::<String, String>(who.to_owned());
    let dead = || Err::<String, String>("assertuserfailed".to_owned());

    // `botpassword list`: app ids, creation times and grants, never the hash.
    let out = server.admin(&["botpassword", "list", "alice"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["app", "id", "created", "grants"]
    );
    for (line, (app, grants)) in lines[1..]
        .iter()
        .zip([("bot1", BOT_GRANTS), ("bot2", "basic")])
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 3, "{line}");
        assert_eq!(cols[0], app, "{line}");
        assert!(is_iso_ts(&json!(cols[1])), "{line}");
        assert_eq!(cols[2], grants, "{line}");
    }
    assert!(!out.contains("argon2"), "{out}");
    assert_eq!(
        server
            .admin(&["botpassword", "list", "Bob"])
            .lines()
            .count(),
        2
    );

    // `botpassword add` replacing Alice@bot1 ends its sessions, and only those.
    let main = session(&server, "Alice", "alice-password-1").await;
    let s1 = session(&server, &bot1, &pw1).await;
    let s1b = session(&server, &bot1, &pw1).await;
    let s2 = session(&server, &bot2, &pw2).await;
    let bob = session(&server, &bobbot, &bobpw).await;
    let out = server.admin(&["botpassword", "add", "Alice", "bot1"]);
    assert!(
        out.ends_with("The previous password is revoked: ended 2 sessions.\n"),
        "{out}"
    );
    assert_eq!(assert_user(&server, &s1).await, dead());
    assert_eq!(assert_user(&server, &s1b).await, dead());
    assert_eq!(assert_user(&server, &s2).await, alive("Alice"));
    assert_eq!(assert_user(&server, &main).await, alive("Alice"));
    assert_eq!(assert_user(&server, &bob).await, alive("Bob"));
    let (v, _) = login(&Client::new(&server), &bot1, &pw1).await;
    assert_eq!(v, failed(), "the replaced bot password");

    // `botpassword remove` ends the bot's sessions; removing it again is an error.
    let out = server.admin(&["botpassword", "remove", "Alice", "bot2"]);
    assert_eq!(out, "Removed bot password Alice@bot2; ended 1 session\n");
    assert_eq!(assert_user(&server, &s2).await, dead());
    assert_eq!(assert_user(&server, &main).await, alive("Alice"));
    let (v, _) = login(&Client::new(&server), &bot2, &pw2).await;
    assert_eq!(v, failed(), "the removed bot password");
    let err = admin_fails(&server, &["botpassword", "remove", "Alice", "bot2"]);
    assert!(err.contains("no bot password Alice@bot2"), "{err}");
    let err = admin_fails(&server, &["botpassword", "remove", "Nobody", "bot2"]);
    assert!(err.contains("no such user: Nobody"), "{err}");
    let out = server.admin(&["botpassword", "list", "Alice"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.lines().nth(1).is_some_and(|l| l.starts_with("bot1 ")),
        "{out}"
    );

    // `user passwd` ends every session of the user (bot ones included), not others'.
    let main2 = session(&server, "Alice", "alice-password-1").await;
    let out = server.admin(&["botpassword", "add", "Alice", "bot3", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    let s3 = session(
        &server,
        v["lgname"].as_str().unwrap_or(""),
        v["lgpassword"].as_str().unwrap_or(""),
    )
    .await;
    let out = server.admin(&["user", "passwd", "Alice", "--password", "alice-password-2"]);
    assert_eq!(out, "Password of Alice changed; ended 3 sessions\n");
    for s in [&main, &main2, &s3] {
        assert_eq!(assert_user(&server, s).await, dead());
    }
    assert_eq!(assert_user(&server, &bob).await, alive("Bob"));
    let (v, _) = login(&Client::new(&server), "Alice", "alice-password-1").await;
    assert_eq!(v, failed(), "the old password");

    // `user revoke-sessions` ends them all and says how many.
    let m1 = session(&server, "Alice", "alice-password-2").await;
    let m2 = session(&server, "Alice", "alice-password-2").await;
    assert_eq!(assert_user(&server, &m1).await, alive("Alice"));
    let out = server.admin(&["user", "revoke-sessions", "alice"]);
    assert_eq!(out, "Ended 2 sessions of Alice\n");
    assert_eq!(assert_user(&server, &m1).await, dead());
    assert_eq!(assert_user(&server, &m2).await, dead());
    assert_eq!(assert_user(&server, &bob).await, alive("Bob"));
    let out = server.admin(&["user", "revoke-sessions", "Alice"]);
    assert_eq!(out, "Ended 0 sessions of Alice\n");
    let err = admin_fails(&server, &["user", "revoke-sessions", "Nobody"]);
    assert!(err.contains("no such user: Nobody"), "{err}");
}
