//! `action=login` (bot passwords and main passwords), `action=clientlogin`, `action=logout`,
//! and password hashing.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::Rng;
use serde_json::{json, Map, Value};

use mwstore_storage::Session;

use crate::auth::session::{self, SESSION_TTL};
use crate::context::Req;
use crate::error::{ApiError, Code};

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

/// Throttle check: returns the wait in seconds when too many failures happened recently.
fn throttled(req: &Req, keys: &[String]) -> Option<i64> {
    let now = Req::now();
    let map = match req.app.login_throttle.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    for rule in &req.app.config.password_attempt_throttle {
        for k in keys {
            if let Some(times) = map.get(k) {
                let window_start = now - rule.seconds as i64;
                let recent: Vec<&i64> = times.iter().filter(|t| **t > window_start).collect();
                if recent.len() >= rule.count as usize {
                    let oldest = recent.iter().map(|t| **t).min().unwrap_or(now);
                    return Some((oldest + rule.seconds as i64 - now).max(1));
                }
            }
        }
    }
    None
}

fn record_failure(req: &Req, keys: &[String]) {
    let now = Req::now();
    let longest = req
        .app
        .config
        .password_attempt_throttle
        .iter()
        .map(|r| r.seconds as i64)
        .max()
        .unwrap_or(0);
    let mut map = match req.app.login_throttle.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    for k in keys {
        let v = map.entry(k.clone()).or_default();
        v.retain(|t| *t > now - longest);
        v.push(now);
    }
}

fn wait_text(secs: i64) -> String {
    if secs >= 120 {
        format!("{} minutes", (secs + 59) / 60)
    } else {
        format!("{secs} seconds")
    }
}

enum Attempt {
    Success {
        user_id: i64,
        name: String,
        bot: Option<(String, Vec<String>)>,
    },
    Failed(String),
}

/// Tries a bot password, then the main password.
async fn authenticate(req: &Req, lgname: &str, lgpassword: &str) -> Result<Attempt, ApiError> {
    let repo = &req.app.repo;
    // Bot password forms: `User@app` + password, or `User` + `app@password`.
    let bot_form = if req.app.config.enable_bot_passwords {
        let is_bp_pw = lgpassword.len() >= 32
            && lgpassword
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'w').contains(&b));
        if lgname.contains('@') && is_bp_pw {
            lgname
                .split_once('@')
                .map(|(u, a)| (u.to_owned(), a.to_owned(), lgpassword.to_owned()))
        } else if lgpassword.len() > 32 && lgpassword.contains('@') {
            lgpassword
                .rsplit_once('@')
                .map(|(a, p)| (lgname.to_owned(), a.to_owned(), p.to_owned()))
        } else {
            None
        }
    } else {
        None
    };
    if let Some((user, app_id, password)) = bot_form {
        let name = canonical_user_name(&user);
        if let Some(u) = repo.user_by_name(&name).await? {
            if let Some(bp) = repo.bot_password(u.id, &app_id).await? {
                if verify_password(&password, &bp.password_hash) {
                    return Ok(Attempt::Success {
                        user_id: u.id,
                        name: u.name,
                        bot: Some((bp.app_id, bp.grants)),
                    });
                }
            }
        }
    }
    let name = canonical_user_name(lgname);
    if let Some(u) = repo.user_by_name(&name).await? {
        if verify_password(lgpassword, &u.password_hash) {
            return Ok(Attempt::Success {
                user_id: u.id,
                name: u.name,
                bot: None,
            });
        }
    }
    Ok(Attempt::Failed(WRONG_PASSWORD.into()))
}

/// Starts a fresh logged-in session and sets its cookie.
fn start_session(req: &mut Req, user_id: i64, user_name: &str, bot: Option<(String, Vec<String>)>) {
    let prefix = req.app.config.cookie_prefix.clone();
    let id = session::new_session_id();
    let (cookie_name, bot_app, grants) = match bot {
        Some((app, grants)) => (format!("{prefix}_BPsession"), Some(app), Some(grants)),
        None => (format!("{prefix}_session"), None, None),
    };
    req.set_cookies
        .push(session::cookie(&cookie_name, &id, req.secure));
    if bot_app.is_none() {
        let long = |name: &str, value: &str| {
            format!(
                "{name}={value}; Max-Age=15552000; path=/; HttpOnly{}",
                if req.secure { "; Secure" } else { "" }
            )
        };
        let uid = user_id.to_string();
        let enc = percent_encoding::utf8_percent_encode(
            &user_name.replace(' ', "_"),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        req.set_cookies.push(long(&format!("{prefix}UserID"), &uid));
        req.set_cookies
            .push(long(&format!("{prefix}UserName"), &enc));
    }
    req.session_cookie = cookie_name;
    req.session = Some(Session {
        id,
        user_id,
        bot_app,
        grants,
        secrets: Default::default(),
        expires: Req::now() + SESSION_TTL,
    });
    req.session_dirty = true;
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
    let throttle_keys = vec![
        format!(
            "user:{}",
            canonical_user_name(lgname.split('@').next().unwrap_or(""))
        ),
        format!("ip:{}", req.client_ip),
    ];
    if let Some(wait) = throttled(req, &throttle_keys) {
        let mut m = login_result("Failed");
        m.insert(
            "reason".into(),
            format!(
                "You have made too many recent login attempts. Please wait {} before trying again.",
                wait_text(wait)
            )
            .into(),
        );
        m.insert("wait".into(), wait.into());
        return Ok(wrap("login", m));
    }
    match authenticate(req, &lgname, &lgpassword).await? {
        Attempt::Success { user_id, name, bot } => {
            let is_bot = bot.is_some();
            if let Some(old) = req.session.take() {
                let _ = crate::auth::cache::delete_session(&req.app, &old.id).await;
            }
            start_session(req, user_id, &name, bot);
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
            record_failure(req, &throttle_keys);
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
    let throttle_keys = vec![
        format!("user:{}", canonical_user_name(&username)),
        format!("ip:{}", req.client_ip),
    ];
    if let Some(wait) = throttled(req, &throttle_keys) {
        return Ok(wrap(
            "clientlogin",
            json!({"status": "FAIL", "message": format!("You have made too many recent login attempts. Please wait {} before trying again.", wait_text(wait)), "messagecode": "login-throttled"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ));
    }
    let name = canonical_user_name(&username);
    let user = req.app.repo.user_by_name(&name).await?;
    match user {
        Some(u) if verify_password(&password, &u.password_hash) => {
            if let Some(old) = req.session.take() {
                let _ = crate::auth::cache::delete_session(&req.app, &old.id).await;
            }
            start_session(req, u.id, &u.name, None);
            Ok(wrap(
                "clientlogin",
                json!({"status": "PASS", "username": u.name})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ))
        }
        _ => {
            record_failure(req, &throttle_keys);
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
    fn user_names() {
        assert_eq!(canonical_user_name("alice_smith "), "Alice smith");
        assert!(valid_user_name("Alice"));
        assert!(!valid_user_name("A@b"));
        assert!(!valid_user_name("127.0.0.1"));
    }
}
