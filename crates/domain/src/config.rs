//! Server configuration. Field names mirror MediaWiki's settings, snake_cased
//! (`$wgFileExtensions` → `file_extensions`), and every default is MediaWiki 1.39's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[group_permissions.GROUP] RIGHT = true|false`, as `$wgGroupPermissions`.
pub type GroupPermissions = BTreeMap<String, BTreeMap<String, bool>>;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the SQLite database and the files (`images/`).
    pub data_dir: std::path::PathBuf,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Public base URL (`$wgServer`), e.g. `http://127.0.0.1:8080`. Empty: derived from `listen`.
    pub public_url: String,
    /// Site name (`$wgSitename`).
    pub sitename: String,
    /// `$wgEnableUploads`.
    pub enable_uploads: bool,
    /// `$wgFileExtensions`.
    pub file_extensions: Vec<String>,
    /// `$wgProhibitedFileExtensions`.
    pub prohibited_file_extensions: Vec<String>,
    /// `$wgCheckFileExtensions`.
    pub check_file_extensions: bool,
    /// `$wgStrictFileExtensions`.
    pub strict_file_extensions: bool,
    /// `$wgMimeTypeExclusions`.
    pub mime_type_exclusions: Vec<String>,
    /// `$wgVerifyMimeType`.
    pub verify_mime_type: bool,
    /// `$wgVerifyMimeTypeIE`.
    pub verify_mime_type_ie: bool,
    /// `$wgDisableUploadScriptChecks`.
    pub disable_upload_script_checks: bool,
    /// `$wgMaxUploadSize` in bytes (the `*` entry).
    pub max_upload_size: u64,
    /// `$wgMinUploadChunkSize` in bytes.
    pub min_upload_chunk_size: u64,
    /// `$wgUploadSizeWarning` in bytes; 0 = off.
    pub upload_size_warning: u64,
    /// `$wgUploadStashMaxAge` in seconds.
    pub upload_stash_max_age: u64,
    /// `$wgEnableAsyncUploads`. On by default: the server runs the jobs itself.
    pub enable_async_uploads: bool,
    /// Whether this server runs the queued upload jobs (assembly and publishing of `async`
    /// uploads), as MediaWiki's web requests do with a non-zero `$wgJobRunRate`. Turned off
    /// only to hold jobs during maintenance: they stay queued in the database, and
    /// `checkstatus` answers `queued`, until a server with it on starts.
    pub run_jobs: bool,
    /// Seconds a claimed job is held by its worker before another may take it over (a
    /// running job renews its claim every third of this).
    pub job_lease_seconds: u64,
    /// Seconds between sweeper rounds (the sweeper also runs at start).
    pub sweep_interval: u64,
    /// Seconds a blob, staged file or chunked upload that nothing refers to is kept before
    /// the sweeper removes it (steps in progress refer to nothing yet).
    pub sweep_grace_period: u64,
    /// `$wgAllowCopyUploads`.
    pub allow_copy_uploads: bool,
    /// `$wgCopyUploadsDomains`.
    pub copy_uploads_domains: Vec<String>,
    /// CIDR ranges exempt from the URL-upload address guard.
    pub copy_uploads_allow_private: Vec<String>,
    /// `$wgCopyUploadTimeout` in seconds: the whole transfer, redirects included.
    pub copy_upload_timeout: u64,
    /// Redirects followed for an upload by URL (MediaWiki follows 4).
    pub copy_upload_max_redirects: u32,
    /// `$wgEnableBotPasswords`.
    pub enable_bot_passwords: bool,
    /// `$wgGroupPermissions`, merged over the defaults.
    pub group_permissions: GroupPermissions,
    /// `$wgRevokePermissions`.
    pub revoke_permissions: GroupPermissions,
    /// `$wgGrantPermissions`: grant name → rights, merged over the defaults.
    pub grant_permissions: GroupPermissions,
    /// `$wgPasswordAttemptThrottle`: login attempts per window for one account from one
    /// client address, as MediaWiki's `Throttler` counts them. A main-account attempt counts
    /// for (account, address); a bot-password attempt for (`User@app`, address), so a wrong
    /// bot password never locks the main account or another bot. A successful login clears
    /// the count.
    pub password_attempt_throttle: Vec<ThrottleRule>,
    /// Login attempts per window from one client address, whatever the account: against one
    /// address trying many accounts, which the per-account rules alone allow (5 guesses per
    /// account every 5 minutes, for every account there is). No MediaWiki setting; the rules
    /// are written like `$wgPasswordAttemptThrottle`'s. The default, 100 per 5 minutes and
    /// 1000 per 48 hours, is 20 times the per-account rules' short window and a few times
    /// their long one: a shared address (NAT, a proxy, a CI farm) with many users logging in,
    /// some mistyping, stays well inside it, while spraying a common password over accounts
    /// is held to 1000 guesses in 48 hours (about 20 an hour), in bursts of at most 100.
    /// Successful logins do not count.
    pub password_attempt_throttle_per_address: Vec<ThrottleRule>,
    /// `$wgRateLimits['upload']` for `ip` and `newbie`: hits per seconds.
    pub upload_rate_limit: Option<ThrottleRule>,
    /// `$wgShowHostnames`: `servedby` in responses.
    pub show_hostnames: bool,
    /// `$wgCrossSiteAJAXdomains`.
    pub cross_site_ajax_domains: Vec<String>,
    /// Cookie prefix (`$wgCookiePrefix`, MediaWiki's default is the DB name).
    pub cookie_prefix: String,
    /// Most pixels (width × height) a raster image may declare. MediaWiki has no such upload
    /// limit (its `$wgMaxImageArea`, 12.5 MP, only stops thumbnailing). The default, 1
    /// gigapixel, is above every camera (the largest multi-shot sensors give 400 MP) and a
    /// 1200 dpi scan of an A3 page (280 MP); it refuses the absurd canvases of pixel bombs
    /// (a 100,000 × 100,000 PNG of a few bytes would need 30 GB to decode). Wikis that hold
    /// gigapixel panoramas raise it.
    pub max_image_area: u64,
    /// Bytes one verification may allocate to decode an image's pixels. PNG and GIF are
    /// decoded a row or a block at a time and need little; a JPEG or WebP whose decoded
    /// frame is larger than this keeps only its structural checks.
    pub max_decode_memory: u64,
    /// Seconds the content checks of one file may take; a file still being checked then is
    /// refused (`uploaded-verification-timeout`).
    pub verify_time_limit: u64,
    /// Files whose content is checked at once (0: one per processor core). Others wait.
    pub max_concurrent_verifications: usize,
    /// Most pixels a raster image may have for thumbnails to be made of it; above, the API
    /// reports a `thumberror` (MediaWiki's `$wgMaxImageArea`, 12.5 MP there; the renderer here
    /// decodes in bounded memory, so the default is 100 MP).
    pub thumbnail_max_source_area: u64,
    /// Seconds the rendering of one thumbnail may take; the request then gets an error page
    /// (the render finishes on its own and is dropped, still counted against the render
    /// slots so slow sources cannot pile up).
    pub thumbnail_time_limit: u64,
    /// `$wgMaxArticleSize` in KiB: the largest page text (`text`, and `comment` when it
    /// becomes the text) an upload may carry.
    pub max_article_size: u64,
    /// Most parameters (query string and body together) a request may carry, as PHP's
    /// `max_input_vars`.
    pub max_input_vars: usize,
    /// Most bytes of form fields (everything but file parts) in a request body, as PHP's
    /// `post_max_size` bounds a form.
    pub max_form_fields_size: u64,
    /// Seconds a client has to send a request's whole header (nginx `client_header_timeout`).
    pub request_header_timeout: u64,
    /// Seconds without a byte of request body before the request is answered 408 and the
    /// connection closed (nginx `client_body_timeout`).
    pub request_body_timeout: u64,
    /// Seconds an idle keep-alive connection is kept open (nginx `keepalive_timeout`, Apache
    /// `KeepAliveTimeout`).
    pub keepalive_timeout: u64,
    /// Most open connections (nginx `worker_connections`); never more than the open-file
    /// limit allows.
    pub max_connections: usize,
    /// Most open connections from one client address (nginx `limit_conn`). At the limit an
    /// idle connection of that address is closed to make room, else the new one is refused.
    pub max_connections_per_address: usize,
    /// Seconds a shutdown waits for requests in progress before closing their connections.
    pub shutdown_timeout: u64,
    /// Most bytes of received files held in the upload spool at once, all users together.
    pub max_spool_bytes: u64,
    /// Most bytes of received files held in the upload spool at once for one user.
    pub max_spool_bytes_per_user: u64,
    /// Most uploads by URL fetched at once, all users together.
    pub max_url_fetches: usize,
    /// Most uploads by URL fetched at once for one user.
    pub max_url_fetches_per_user: usize,
    /// `$wgCdnServersNoPurge`: addresses or CIDR ranges of trusted proxies (load balancers,
    /// CDNs). A request that comes through one is taken to come from the address it names in
    /// `X-Forwarded-For`; the proxies themselves are exempt from
    /// `max_connections_per_address`.
    pub cdn_servers_no_purge: Vec<String>,
    /// Seconds a response may wait for the client to take more of it before the connection
    /// is closed (nginx `send_timeout`).
    pub send_timeout: u64,
    /// Where `/metrics` (Prometheus) is served: empty for the main listen address, an
    /// address such as `127.0.0.1:9090` for a listener of its own, or `off`.
    pub metrics_listen: String,
    /// Path of clamd's Unix socket (its `LocalSocket`), e.g. `/run/clamav/clamd.ctl`: every
    /// complete upload is scanned there over clamd's INSTREAM protocol, as `$wgAntivirus`
    /// has MediaWiki run a scanner. Empty: not over a Unix socket. At most one of
    /// `clamav_socket` and `clamav_address` is set; with neither, uploads are not scanned.
    pub clamav_socket: String,
    /// `host:port` of clamd's TCP socket (its `TCPSocket`/`TCPAddr`), e.g. `127.0.0.1:3310`.
    /// Empty: not over TCP.
    pub clamav_address: String,
    /// `$wgAntivirusRequired`: when a scan fails (clamd unreachable, too slow, or answering
    /// with an error such as its `StreamMaxLength` exceeded), the upload is refused
    /// (`uploadvirus` "scan failed (...)"). False accepts the file unscanned, with a warning
    /// in the log.
    pub clamav_required: bool,
    /// Seconds one scan may take as a whole: waiting for a free scan slot, connecting (at
    /// most 10 of them), sending the file and clamd's answer. Past it the scan has failed.
    pub clamav_timeout: u64,
    /// Most scans running at once (clamd connections). Uploads beyond it wait for a slot,
    /// within `clamav_timeout`. clamd itself runs `MaxThreads` (default 10) at once.
    pub clamav_max_scans: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ThrottleRule {
    pub count: u32,
    pub seconds: u64,
}

impl Config {
    /// Checks values that deserialisation cannot: CIDR ranges, sizes, URLs.
    pub fn validate(&self) -> Result<(), String> {
        for r in &self.copy_uploads_allow_private {
            crate::copyupload::Cidr::parse(r)
                .map_err(|e| format!("copy_uploads_allow_private: {e}"))?;
        }
        for r in &self.cdn_servers_no_purge {
            crate::copyupload::Cidr::parse(r).map_err(|e| format!("cdn_servers_no_purge: {e}"))?;
        }
        if self.max_upload_size == 0 {
            return Err("max_upload_size must be greater than 0".into());
        }
        if self.min_upload_chunk_size == 0 {
            return Err("min_upload_chunk_size must be greater than 0".into());
        }
        if self.job_lease_seconds < 3 {
            return Err("job_lease_seconds must be at least 3".into());
        }
        for (name, v) in [
            ("request_header_timeout", self.request_header_timeout),
            ("request_body_timeout", self.request_body_timeout),
            ("keepalive_timeout", self.keepalive_timeout),
            ("send_timeout", self.send_timeout),
            ("max_article_size", self.max_article_size),
            ("max_image_area", self.max_image_area),
            ("max_decode_memory", self.max_decode_memory),
            ("verify_time_limit", self.verify_time_limit),
            ("thumbnail_max_source_area", self.thumbnail_max_source_area),
            ("thumbnail_time_limit", self.thumbnail_time_limit),
            ("max_form_fields_size", self.max_form_fields_size),
            ("max_spool_bytes", self.max_spool_bytes),
            ("max_spool_bytes_per_user", self.max_spool_bytes_per_user),
        ] {
            if v == 0 {
                return Err(format!("{name} must be greater than 0"));
            }
        }
        for (name, v) in [
            ("max_input_vars", self.max_input_vars),
            ("max_connections", self.max_connections),
            (
                "max_connections_per_address",
                self.max_connections_per_address,
            ),
            ("max_url_fetches", self.max_url_fetches),
            ("max_url_fetches_per_user", self.max_url_fetches_per_user),
        ] {
            if v == 0 {
                return Err(format!("{name} must be greater than 0"));
            }
        }
        if !self.metrics_listen.is_empty()
            && self.metrics_listen != "off"
            && self.metrics_listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(format!(
                "metrics_listen must be empty, \"off\" or an address such as 127.0.0.1:9090 (got {:?})",
                self.metrics_listen
            ));
        }
        if !self.clamav_socket.is_empty() && !self.clamav_address.is_empty() {
            return Err(
                "clamav_socket and clamav_address are both set: clamd is reached one way".into(),
            );
        }
        if !self.clamav_address.is_empty() && !is_host_port(&self.clamav_address) {
            return Err(format!(
                "clamav_address must be host:port, such as 127.0.0.1:3310 (got {:?})",
                self.clamav_address
            ));
        }
        if self.clamav_timeout == 0 {
            return Err("clamav_timeout must be greater than 0".into());
        }
        if self.clamav_max_scans == 0 {
            return Err("clamav_max_scans must be greater than 0".into());
        }
        if self.sweep_interval == 0 {
            return Err("sweep_interval must be greater than 0".into());
        }
        let scheme_ok =
            self.public_url.starts_with("http://") || self.public_url.starts_with("https://");
        if !self.public_url.is_empty() && !scheme_ok {
            return Err(format!(
                "public_url must start with http:// or https:// (got {:?})",
                self.public_url
            ));
        }
        for (name, rules) in [
            ("password_attempt_throttle", &self.password_attempt_throttle),
            (
                "password_attempt_throttle_per_address",
                &self.password_attempt_throttle_per_address,
            ),
        ] {
            if rules.iter().any(|r| r.count == 0 || r.seconds == 0) {
                return Err(format!(
                    "{name}: count and seconds must be greater than 0 (leave the list empty for no throttle)"
                ));
            }
        }
        if self.cookie_prefix.is_empty()
            || !self
                .cookie_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("cookie_prefix must be non-empty ASCII letters, digits, _ or -".into());
        }
        Ok(())
    }
}

/// `host:port` with a non-empty host and a port number (`[::1]:3310` for IPv6).
fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: "./data".into(),
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            sitename: "mwstore".into(),
            enable_uploads: true,
            file_extensions: strings(&["png", "gif", "jpg", "jpeg", "webp"]),
            prohibited_file_extensions: strings(&[
                "html", "htm", "js", "jsb", "mhtml", "mht", "xhtml", "xht", "php", "phtml", "php3",
                "php4", "php5", "phps", "phar", "shtml", "jhtml", "pl", "py", "cgi", "exe", "scr",
                "dll", "msi", "vbs", "bat", "com", "pif", "cmd", "vxd", "cpl", "xml",
            ]),
            check_file_extensions: true,
            strict_file_extensions: true,
            mime_type_exclusions: strings(&[
                "text/html",
                "application/javascript",
                "text/javascript",
                "text/x-javascript",
                "application/x-shellscript",
                "application/x-php",
                "text/x-php",
                "text/x-python",
                "text/x-perl",
                "text/x-bash",
                "text/x-sh",
                "text/x-csh",
                "text/scriptlet",
                "application/x-msdownload",
                "application/x-msmetafile",
                "application/java",
                "application/xml",
                "text/xml",
            ]),
            verify_mime_type: true,
            verify_mime_type_ie: true,
            disable_upload_script_checks: false,
            max_upload_size: 100 * 1024 * 1024,
            min_upload_chunk_size: 1024,
            upload_size_warning: 0,
            upload_stash_max_age: 6 * 3600,
            enable_async_uploads: true,
            run_jobs: true,
            job_lease_seconds: 30,
            sweep_interval: 60,
            sweep_grace_period: 3600,
            allow_copy_uploads: false,
            copy_uploads_domains: Vec::new(),
            copy_uploads_allow_private: Vec::new(),
            copy_upload_timeout: 180,
            copy_upload_max_redirects: 4,
            enable_bot_passwords: true,
            group_permissions: GroupPermissions::new(),
            revoke_permissions: GroupPermissions::new(),
            grant_permissions: GroupPermissions::new(),
            password_attempt_throttle: vec![
                ThrottleRule {
                    count: 5,
                    seconds: 300,
                },
                ThrottleRule {
                    count: 150,
                    seconds: 48 * 3600,
                },
            ],
            password_attempt_throttle_per_address: vec![
                ThrottleRule {
                    count: 100,
                    seconds: 300,
                },
                ThrottleRule {
                    count: 1000,
                    seconds: 48 * 3600,
                },
            ],
            upload_rate_limit: Some(ThrottleRule {
                count: 8,
                seconds: 60,
            }),
            show_hostnames: false,
            cross_site_ajax_domains: Vec::new(),
            cookie_prefix: "mwstore".into(),
            max_image_area: 1_000_000_000,
            max_decode_memory: 512 * 1024 * 1024,
            verify_time_limit: 10,
            max_concurrent_verifications: 0,
            thumbnail_max_source_area: 100_000_000,
            thumbnail_time_limit: 30,
            max_article_size: 2048,
            max_input_vars: 1000,
            max_form_fields_size: 8 * 1024 * 1024,
            request_header_timeout: 30,
            request_body_timeout: 60,
            keepalive_timeout: 20,
            max_connections: 16384,
            max_connections_per_address: 512,
            shutdown_timeout: 30,
            max_spool_bytes: 8 * 1024 * 1024 * 1024,
            max_spool_bytes_per_user: 1024 * 1024 * 1024,
            max_url_fetches: 16,
            max_url_fetches_per_user: 2,
            cdn_servers_no_purge: Vec::new(),
            send_timeout: 60,
            metrics_listen: String::new(),
            clamav_socket: String::new(),
            clamav_address: String::new(),
            clamav_required: true,
            clamav_timeout: 60,
            clamav_max_scans: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Config::default().validate().is_ok());
        let c = Config {
            copy_uploads_allow_private: vec!["127.0.0.1/40".into()],
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            public_url: "example.org".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            password_attempt_throttle_per_address: vec![ThrottleRule {
                count: 0,
                seconds: 60,
            }],
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn clamav_settings() {
        let both = Config {
            clamav_socket: "/run/clamav/clamd.ctl".into(),
            clamav_address: "127.0.0.1:3310".into(),
            ..Config::default()
        };
        assert!(both.validate().is_err());
        for (addr, ok) in [
            ("127.0.0.1:3310", true),
            ("clamd:3310", true),
            ("[::1]:3310", true),
            ("127.0.0.1", false),
            (":3310", false),
            ("clamd:port", false),
            ("clamd:70000", false),
        ] {
            let c = Config {
                clamav_address: addr.into(),
                ..Config::default()
            };
            assert_eq!(c.validate().is_ok(), ok, "{addr}");
        }
        let c = Config {
            clamav_timeout: 0,
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            clamav_max_scans: 0,
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }
}
