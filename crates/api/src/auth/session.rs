//! Cookie sessions and tokens.
//!
//! Tokens follow MediaWiki's format: `hex(HMAC-MD5(secret, "<unix ts><salt>"))`, then the
//! timestamp in hex, then the literal `+\`. Secrets live in the server-side session.

use hmac::{Hmac, Mac};
use md5::Md5;
use rand::Rng;

use mwstore_storage::Session;

/// The anonymous CSRF token.
pub const ANON_TOKEN: &str = "+\\";

/// Seconds a session lives without being used.
pub const SESSION_TTL: i64 = 24 * 3600;

/// A random id of 32 base32 characters.
pub fn new_session_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new token secret (32 hex chars).
pub fn new_secret() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    hex::encode(bytes)
}

fn hmac_hex(secret: &str, msg: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    match Hmac::<Md5>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(msg.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Makes a token from a session secret.
pub fn make_token(secret: &str, salt: &str, ts: i64) -> String {
    format!(
        "{}{:x}{}",
        hmac_hex(secret, &format!("{ts}{salt}")),
        ts,
        ANON_TOKEN
    )
}

/// Checks a token against a session secret, in constant time.
pub fn check_token(secret: &str, salt: &str, token: &str) -> bool {
    let Some(body) = token.strip_suffix(ANON_TOKEN) else {
        return false;
    };
    if body.len() <= 32 || !body.is_ascii() {
        return false;
    }
    let Ok(ts) = i64::from_str_radix(&body[32..], 16) else {
        return false;
    };
    let expected = make_token(secret, salt, ts);
    constant_time_eq(expected.as_bytes(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Secret key and salt for a token type.
pub fn token_key(token_type: &str) -> (&'static str, &'static str) {
    match token_type {
        "csrf" => ("default", ""),
        "login" => ("login", ""),
        "createaccount" => ("createaccount", ""),
        "watch" => ("default", "watch"),
        "patrol" => ("default", "patrol"),
        "rollback" => ("default", "rollback"),
        "userrights" => ("default", "userrights"),
        _ => ("default", "other"),
    }
}

/// Gets (creating if needed) the secret of `key` in a session. Returns whether it was new.
pub fn secret(session: &mut Session, key: &str) -> (String, bool) {
    if let Some(s) = session.secrets.get(key) {
        return (s.clone(), false);
    }
    let s = new_secret();
    session.secrets.insert(key.to_owned(), s.clone());
    (s, true)
}

/// Attributes of every cookie we set: sent back only by this site's own pages and
/// top-level navigations (`SameSite=Lax`), never to scripts, and only over HTTPS when the
/// request came that way.
fn attributes(secure: bool) -> &'static str {
    if secure {
        "; path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; path=/; HttpOnly; SameSite=Lax"
    }
}

/// A `Set-Cookie` value (a session cookie: it ends with the browser session).
pub fn cookie(name: &str, value: &str, secure: bool) -> String {
    format!("{name}={value}{}", attributes(secure))
}

/// A `Set-Cookie` value kept 180 days (`UserID`, `UserName`).
pub fn long_cookie(name: &str, value: &str, secure: bool) -> String {
    format!("{name}={value}; Max-Age=15552000{}", attributes(secure))
}

/// A `Set-Cookie` value that removes a cookie.
pub fn expired_cookie(name: &str, secure: bool) -> String {
    format!(
        "{name}=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0{}",
        attributes(secure)
    )
}

/// Reads a cookie from `Cookie` headers.
pub fn read_cookie<'a>(
    headers: impl Iterator<Item = &'a axum::http::HeaderValue>,
    name: &str,
) -> Option<String> {
    for h in headers {
        let Ok(s) = h.to_str() else { continue };
        for part in s.split(';') {
            if let Some((k, v)) = part.trim().split_once('=') {
                if k == name && !v.is_empty() && v != "deleted" {
                    return Some(v.to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip() {
        let t = make_token("0123456789abcdef0123456789abcdef", "", 0x6b011ff8);
        assert_eq!(t.len(), 32 + 8 + 2);
        assert!(t.ends_with("6b011ff8+\\"));
        assert!(check_token("0123456789abcdef0123456789abcdef", "", &t));
        assert!(!check_token("0123456789abcdef0123456789abcdee", "", &t));
        assert!(!check_token(
            "0123456789abcdef0123456789abcdef",
            "watch",
            &t
        ));
        assert!(!check_token("x", "", "+\\"));
        assert!(!check_token("x", "", "deadbeef+\\"));
    }

    #[test]
    fn cookies() {
        let h = axum::http::HeaderValue::from_static("a=1; mw_session=abc; b=2");
        assert_eq!(
            read_cookie(std::iter::once(&h), "mw_session").as_deref(),
            Some("abc")
        );
        assert_eq!(read_cookie(std::iter::once(&h), "zz"), None);
        assert_eq!(new_session_id().len(), 32);
        assert_eq!(
            cookie("mw_session", "abc", true),
            "mw_session=abc; path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(expired_cookie("mwUserID", false).ends_with("; SameSite=Lax"));
        assert!(long_cookie("mwUserID", "1", false).contains("SameSite=Lax"));
    }
}
