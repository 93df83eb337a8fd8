//! `action=login` (bot passwords and main passwords), `action=clientlogin`, `action=logout`,
//! and password hashing.

use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::Rng;
use serde_json::{json, Map, Value};

use mwstore_storage::Session;

use crate::auth::session::{self, SESSION_TTL};
use crate::auth::throttle::{Reservation, Subject};
use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::http::request_id::current_request_id;
use crate::AppState;

/// Hashes a password with argon2id.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies a password against an argon2 hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new bot password: 32 characters of `[0-9a-w]`, like Special:BotPasswords makes.
pub fn generate_bot_password() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvw";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A random main-account password.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Canonical user name: underscores as spaces, trimmed, first letter upper-cased.
pub fn canonical_user_name(name: &str) -> String {
    let n = name.replace('_', " ");
    let n = n.trim();
    let mut chars = n.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Whether a user name is acceptable for a new account.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 85
        && !name
            .chars()
            .any(|c| "@:>=#<[]|{}/\\".contains(c) || c.is_control())
        && name.parse::<std::net::IpAddr>().is_err()
}

const WRONG_PASSWORD: &str = "Incorrect username or password entered. Please try again.";

fn login_result(result: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("result".into(), result.into());
    m
}

fn wrap(key: &str, inner: Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.into(), Value::Object(inner));
    m
}

fn wait_text(secs: u64) -> String {
    if secs >= 120 {
        format!("{} minutes", secs.div_ceil(60))
    } else {
        format!("{secs} seconds")
    }
}

/// The reason given to a throttled login.
fn throttled_text(wait: u64) -> String {
    format!(
        "You have made too many recent login attempts. Please wait {} before trying again.",
        wait_text(wait)
    )
}

/// Reserves a login attempt with the throttle (see [`crate::auth::throttle`]): the seconds
/// to wait when it is refused.
fn reserve(req: &Req, subject: Subject<'_>) -> Result<Reservation, u64> {
    let cfg = &req.app.config;
    // Addresses count by IPv4 address or IPv6 /64, as the connection caps do.
    let address = crate::limits::address_of(&req.client_ip);
    let r = req.app.login_throttle.reserve(
        subject,
        &address,
        &cfg.password_attempt_throttle,
        &cfg.password_attempt_throttle_per_address,
    );
    if r.is_err() {
        count_login("throttled");
    }
    r
}

/// Counts a login attempt by outcome (`success`, `failure`, `throttled`) for `/metrics`.
fn count_login(outcome: &'static str) {
    metrics::counter!("mwstore_logins_total", "outcome" => outcome).increment(1);
}

/// What a login request offers.
enum Credentials {
    /// A main-account password for this (canonical) name.
    Main { name: String, password: String },
    /// A bot password: canonical user name, app id, password.
    Bot {
        user: String,
        app: String,
        password: String,
    },
}

impl Credentials {
    fn subject(&self) -> Subject<'_> {
        match self {
            Credentials::Main { name, .. } => Subject::Account(name),
            Credentials::Bot { user, app, .. } => Subject::BotPassword { user, app },
        }
    }
}

/// Whether a password has the shape of a bot password (`[0-9a-w]{32,}`).
fn is_bot_password(p: &str) -> bool {
    p.len() >= 32
        && p.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'w').contains(&b))
}

/// Reads `action=login`'s name and password as `BotPassword::canonicalizeLoginData` does:
/// `User@app` with a bot password, or `User` with `app@<bot password>`; anything else is a
/// main-account login.
///
/// MediaWiki, when a bot password fails, tries the same name and password as a main-account
/// login: for `User@app` that is for names with `@`, which mwstore (like MediaWiki for new
/// accounts) never creates; for `User` + `app@password` it would be a guess at `User`'s main
/// password counted under `User@app`, evading the main account's throttle. So a bot-password
/// attempt checks the bot password only (a main password that is `x@` followed by 32 or
/// more of `[0-9a-w]` logs in with `action=clientlogin`).
fn credentials(enable_bot_passwords: bool, lgname: &str, lgpassword: &str) -> Credentials {
    let bot = |user: &str, app: &str, password: &str| Credentials::Bot {
        user: canonical_user_name(user),
        app: app.to_owned(),
        password: password.to_owned(),
    };
    if enable_bot_passwords {
        if lgname.contains('@') && lgpassword.len() >= 32 {
            if let Some((u, a)) = lgname.rsplit_once('@') {
                if is_bot_password(lgpassword) {
                    return bot(u, a, lgpassword);
                }
            }
        } else if lgpassword.len() > 32 {
            if let Some((a, p)) = lgpassword.rsplit_once('@') {
                if is_bot_password(p) {
                    return bot(lgname, a, p);
                }
            }
        }
    }
    Credentials::Main {
        name: canonical_user_name(lgname),
        password: lgpassword.to_owned(),
    }
}

/// A fixed argon2 hash (of a random password, with [`hash_password`]'s parameters) that
/// unknown accounts are checked against, so that they cost what known ones do.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
}

/// Checks a password against a stored hash (`None`: no such account, which fails after
/// the same work) on the blocking pool, one check per CPU at a time.
async fn check_password(
    app: &AppState,
    password: &str,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let permit = app
        .password_checks
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal("MWException", &current_request_id(), &e))?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        // Held until the check is done, even if the request is gone.
        let _permit = permit;
        match hash {
            Some(h) => verify_password(&password, &h),
            None => {
                verify_password(&password, dummy_hash());
                false
            }
        }
    })
    .await
    .map_err(ApiError::task_failed)
}

enum Attempt {
    Success {
        user_id: i64,
        name: String,
        bot: Option<(String, Vec<String>)>,
    },
    Failed(String),
}

/// Checks credentials (the attempt is already reserved).
async fn authenticate(req: &Req, creds: &Credentials) -> Result<Attempt, ApiError> {
    let repo = &req.app.repo;
    match creds {
        Credentials::Bot {
            user,
            app,
            password,
        } => {
            let u = repo.user_by_name(user).await?;
            let bp = match &u {
                Some(u) => repo.bot_password(u.id, app).await?,
                None => None,
            };
            let hash = bp.as_ref().map(|bp| bp.password_hash.clone());
            if check_password(&req.app, password, hash).await? {
                if let (Some(u), Some(bp)) = (u, bp) {
                    return Ok(Attempt::Success {
                        user_id: u.id,
                        name: u.name,
                        bot: Some((bp.app_id, bp.grants)),
                    });
                }
            }
        }
        Credentials::Main { name, password } => {
            let u = repo.user_by_name(name).await?;
            let hash = u.as_ref().map(|u| u.password_hash.clone());
            if check_password(&req.app, password, hash).await? {
                if let Some(u) = u {
                    return Ok(Attempt::Success {
                        user_id: u.id,
                        name: u.name,
                        bot: None,
                    });
                }
            }
        }
    }
    Ok(Attempt::Failed(WRONG_PASSWORD.into()))
}

/// Starts a fresh logged-in session: stores it at once (a new row, under a new id) and sets
/// its cookies.
async fn start_session(
    req: &mut Req,
    user_id: i64,
    user_name: &str,
    bot: Option<(String, Vec<String>)>,
) -> Result<(), ApiError> {
    let prefix = req.app.config.cookie_prefix.clone();
    let (cookie_name, bot_app, grants) = match bot {
        Some((app, grants)) => (format!("{prefix}_BPsession"), Some(app), Some(grants)),
        None => (format!("{prefix}_session"), None, None),
    };
    let mut s = Session {
        id: session::new_session_id(),
        user_id,
        bot_app,
        grants,
        secrets: Default::default(),
        expires: Req::now() + SESSION_TTL,
        is_new: true,
    };
    crate::auth::cache::put_session(&req.app, &s).await?;
    s.is_new = false;
    req.set_cookies
        .push(session::cookie(&cookie_name, &s.id, req.secure));
    if s.bot_app.is_none() {
        let uid = user_id.to_string();
        let enc = percent_encoding::utf8_percent_encode(
            &user_name.replace(' ', "_"),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        for (name, value) in [("UserID", uid), ("UserName", enc)] {
            req.set_cookies.push(session::long_cookie(
                &format!("{prefix}{name}"),
                &value,
                req.secure,
            ));
        }
    }
    req.session_cookie = cookie_name;
    req.session = Some(s);
    // Stored just now.
    req.session_dirty = false;
    Ok(())
}

/// `action=login`.
pub async fn login(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let lgname = req.params.string("lgname")?;
    let lgpassword = req.params.string("lgpassword")?;
    let _lgdomain = req.params.string("lgdomain")?;
    let lgtoken = req.params.string("lgtoken")?;
    req.check_module(None, true, true)?;
    let in_query: Vec<&str> = ["lgpassword", "lgtoken"]
        .into_iter()
        .filter(|p| req.params.in_query(p))
        .collect();
    if !in_query.is_empty() {
        return Err(ApiError::new(
            Code::MustPostParams,
            format!(
                "The following parameter{} found in the query string, but must be in the POST body: {}.",
                if in_query.len() == 1 { " was" } else { "s were" },
                in_query.join(", ")
            ),
        ));
    }
    if req.untrusted {
        let mut m = login_result("Aborted");
        m.insert(
            "reason".into(),
            "Cannot log in when the same-origin policy is not applied.".into(),
        );
        return Ok(wrap("login", m));
    }
    if req.user.bot_app.is_some() {
        let mut m = login_result("Aborted");
        m.insert(
            "reason".into(),
            "Cannot log in when using MediaWiki\\Session\\BotPasswordSessionProvider.".into(),
        );
        return Ok(wrap("login", m));
    }
    // Token.
    let had_secret = req
        .session
        .as_ref()
        .is_some_and(|s| s.secrets.contains_key("login"));
    let Some(token) = lgtoken else {
        let token = req.token("login");
        req.params.warn_deprecated(
            "login",
            "Fetching a token via \"action=login\" is deprecated. Use \"action=query&meta=tokens&type=login\" instead.",
        );
        let mut m = login_result("NeedToken");
        m.insert("token".into(), token.into());
        return Ok(wrap("login", m));
    };
    if !had_secret {
        // Make the secret now so that a retry with a fresh token works.
        let _ = req.token("login");
        let mut m = login_result("Failed");
        m.insert(
            "reason".into(),
            "Unable to continue login. Your session most likely timed out.".into(),
        );
        return Ok(wrap("login", m));
    }
    if !req.token_matches("login", &token) {
        return Ok(wrap("login", login_result("WrongToken")));
    }
    let lgname = lgname.unwrap_or_default();
    let lgpassword = lgpassword.unwrap_or_default();
    let creds = credentials(req.app.config.enable_bot_passwords, &lgname, &lgpassword);
    let reservation = match reserve(req, creds.subject()) {
        Ok(r) => r,
        Err(wait) => {
            let mut m = login_result("Failed");
            m.insert("reason".into(), throttled_text(wait).into());
            m.insert("wait".into(), wait.into());
            return Ok(wrap("login", m));
        }
    };
    match authenticate(req, &creds).await? {
        Attempt::Success { user_id, name, bot } => {
            req.app.login_throttle.succeeded(reservation);
            count_login("success");
            let is_bot = bot.is_some();
            if let Some(old) = req.session.take() {
                let _ = crate::auth::cache::delete_session(&req.app, &old.id).await;
            }
            start_session(req, user_id, &name, bot).await?;
            if !is_bot {
                req.params.warn_deprecated(
                    "login",
                    "Main-account login via \"action=login\" is deprecated and may stop working without warning. To continue login with \"action=login\", see [[Special:BotPasswords]]. To safely continue using main-account login, see \"action=clientlogin\".",
                );
            }
            let mut m = login_result("Success");
            m.insert("lguserid".into(), user_id.into());
            m.insert("lgusername".into(), name.into());
            Ok(wrap("login", m))
        }
        Attempt::Failed(reason) => {
            count_login("failure");
            let mut m = login_result("Failed");
            m.insert("reason".into(), reason.into());
            Ok(wrap("login", m))
        }
    }
}

/// `action=clientlogin` (username and password requests only).
pub async fn clientlogin(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    req.params.string("loginrequests")?;
    req.params.string("loginmessageformat")?;
    req.params.flag("loginmergerequestfields");
    req.params.flag("loginpreservestate");
    let returnurl = req.params.string("loginreturnurl")?;
    let cont = req.params.flag("logincontinue");
    let username = req.params.string("username")?;
    let password = req.params.string("password")?;
    req.params.flag("rememberMe");
    if returnurl.is_none() && !cont {
        return Err(ApiError::new(
            Code::MissingParam,
            "At least one of the parameters \"loginreturnurl\" and \"logincontinue\" is required.",
        ));
    }
    // The token parameter is `logintoken`.
    let token = req.params.string("logintoken")?;
    let Some(token) = token else {
        return Err(ApiError::missing_param("logintoken"));
    };
    if req.params.in_query("logintoken") {
        return Err(ApiError::new(
            Code::MustPostParams,
            "The following parameter was found in the query string, but must be in the POST body: logintoken.",
        ));
    }
    if !req.token_matches("login", &token) {
        return Err(ApiError::new(Code::BadToken, "Invalid login token."));
    }
    req.check_module(None, true, true)?;
    if req.untrusted || req.user.bot_app.is_some() {
        return Ok(wrap(
            "clientlogin",
            json!({"status": "FAIL", "message": "Cannot log in when the same-origin policy is not applied.", "messagecode": "apierror-login-aborted"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ));
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Ok(wrap(
            "clientlogin",
            json!({"status": "FAIL", "message": "The supplied credentials could not be authenticated.", "messagecode": "authmanager-authn-no-primary"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ));
    };
    let creds = Credentials::Main {
        name: canonical_user_name(&username),
        password,
    };
    let reservation = match reserve(req, creds.subject()) {
        Ok(r) => r,
        Err(wait) => {
            return Ok(wrap(
                "clientlogin",
                json!({"status": "FAIL", "message": throttled_text(wait), "messagecode": "login-throttled"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ));
        }
    };
    match authenticate(req, &creds).await? {
        Attempt::Success { user_id, name, .. } => {
            req.app.login_throttle.succeeded(reservation);
            count_login("success");
            if let Some(old) = req.session.take() {
                let _ = crate::auth::cache::delete_session(&req.app, &old.id).await;
            }
            start_session(req, user_id, &name, None).await?;
            Ok(wrap(
                "clientlogin",
                json!({"status": "PASS", "username": name})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ))
        }
        Attempt::Failed(_) => {
            count_login("failure");
            Ok(wrap(
            "clientlogin",
            json!({"status": "FAIL", "message": WRONG_PASSWORD, "messagecode": "wrongpassword"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ))
        }
    }
}

/// `action=logout`.
pub async fn logout(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    req.check_module(Some("csrf"), true, true)?;
    let prefix = req.app.config.cookie_prefix.clone();
    if let Some(s) = req.session.take() {
        crate::auth::cache::delete_session(&req.app, &s.id).await?;
        if s.bot_app.is_some() {
            req.set_cookies.push(session::expired_cookie(
                &format!("{prefix}_BPsession"),
                req.secure,
            ));
        } else {
            for n in ["_session", "UserID", "Token"] {
                req.set_cookies
                    .push(session::expired_cookie(&format!("{prefix}{n}"), req.secure));
            }
        }
    }
    req.session_dirty = false;
    let ip = req.client_ip.clone();
    req.load_user(0, None, None).await?;
    req.user.name = ip;
    Ok(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let h = hash_password("secret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("secret", &h));
        assert!(!verify_password("Secret", &h));
        assert!(!verify_password("secret", "garbage"));
        let bp = generate_bot_password();
        assert_eq!(bp.len(), 32);
        assert!(bp
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'w').contains(&b)));
    }

    #[test]
    fn bot_password_forms() {
        let bp = "0123456789abcdefghijklmnopqrstuv";
        let is_bot = |name: &str, pw: &str, user: &str, app: &str, pass: &str| match credentials(
            true, name, pw,
        ) {
            Credentials::Bot {
                user: u,
                app: a,
                password: p,
            } => u == user && a == app && p == pass,
            Credentials::Main { .. } => false,
        };
        assert!(is_bot("alice@bot", bp, "Alice", "bot", bp));
        assert!(is_bot(
            "Alice",
            &format!("my@bot@{bp}"),
            "Alice",
            "my@bot",
            bp
        ));
        // Not a bot password's shape: a main-account login.
        for (name, pw) in [
            ("Alice@bot", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"),
            ("Alice@bot", "short"),
            ("Alice", "a long main password @ with an at sign in it"),
            ("Alice@bot", &format!("x@{bp}Z")),
        ] {
            assert!(
                matches!(credentials(true, name, pw), Credentials::Main { .. }),
                "{name} {pw}"
            );
        }
        assert!(matches!(
            credentials(false, "Alice@bot", bp),
            Credentials::Main { .. }
        ));
    }

    #[test]
    fn user_names() {
        assert_eq!(canonical_user_name("alice_smith "), "Alice smith");
        assert!(valid_user_name("Alice"));
        assert!(!valid_user_name("A@b"));
        assert!(!valid_user_name("127.0.0.1"));
    }
}
