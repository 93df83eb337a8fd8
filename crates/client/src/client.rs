//! The API client: requests with retries, login, tokens and uploads.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::{Error, Result};
use crate::resume::{FileIdentity, ResumeState};

/// What the wiki says about uploads in `meta=siteinfo` (`general`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfo {
    /// `generator`, e.g. `MediaWiki 1.39.17`.
    pub generator: String,
    /// `maxuploadsize` in bytes (`u64::MAX` when the wiki does not say).
    pub max_upload_size: u64,
    /// `minuploadchunksize` in bytes (1024 when the wiki does not say).
    pub min_upload_chunk_size: u64,
}

impl SiteInfo {
    /// Reads the upload limits from a `meta=siteinfo` answer.
    pub fn from_answer(v: &Value) -> Result<SiteInfo> {
        let g = v
            .pointer("/query/general")
            .ok_or_else(|| Error::Protocol("meta=siteinfo answer without query.general".into()))?;
        Ok(SiteInfo {
            generator: g["generator"].as_str().unwrap_or("").to_owned(),
            max_upload_size: as_u64(&g["maxuploadsize"]).unwrap_or(u64::MAX),
            min_upload_chunk_size: as_u64(&g["minuploadchunksize"]).unwrap_or(1024),
        })
    }
}

/// How failures are retried and how long asynchronous work is awaited.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Requests sent at most for one call (the first one included).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled after each retry.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Shortest wait after a `ratelimited` answer.
    pub ratelimit_backoff: Duration,
    /// `maxlag` sent with every request (`None`: not sent).
    pub maxlag: Option<u32>,
    /// How long `checkstatus` is polled before giving up.
    pub poll_timeout: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            ratelimit_backoff: Duration::from_secs(5),
            maxlag: Some(5),
            poll_timeout: Duration::from_secs(600),
            request_timeout: Duration::from_secs(300),
        }
    }
}

/// Progress of one upload, reported to the caller's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The upload starts; `chunked` tells whether it goes in chunks.
    Started {
        /// File size in bytes.
        size: u64,
        /// True for a chunked upload.
        chunked: bool,
    },
    /// A stored upload session is continued at the server's offset.
    Resumed {
        /// Bytes the server already had.
        offset: u64,
    },
    /// A stored upload session could not be used; the upload starts again from the beginning.
    Restarted {
        /// Why.
        reason: String,
    },
    /// The server now has `done` of `total` bytes.
    Progress {
        /// Bytes the server has.
        done: u64,
        /// File size.
        total: u64,
    },
    /// The server works asynchronously; `checkstatus` is polled.
    Waiting {
        /// The stage the server reports (`queued`, `assembling`, `publish`).
        stage: String,
    },
    /// A request failed and is sent again after `delay`.
    Retrying {
        /// The failure.
        reason: String,
        /// The wait before the next attempt.
        delay: Duration,
    },
}

/// One file to upload.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// The local file.
    pub path: PathBuf,
    /// The target name on the wiki (without `File:`).
    pub filename: String,
    /// The upload comment (`comment`).
    pub comment: String,
    /// The description page text of a new file (`text`).
    pub text: Option<String>,
    /// Publish even when the server warns (`ignorewarnings`).
    pub ignore_warnings: bool,
    /// Chunk size; files larger than it go up in chunks. Raised to the server's
    /// `minuploadchunksize` when smaller.
    pub chunk_size: u64,
    /// Ask the server to assemble and publish asynchronously (`async`).
    pub force_async: bool,
    /// Where the resume state of a chunked upload is kept (`None`: not kept).
    pub state_file: Option<PathBuf>,
    /// Continue a previous upload recorded in `state_file`.
    pub resume: bool,
    /// Highest average sending rate in bytes per second (`None`: unlimited).
    pub rate_limit: Option<u64>,
}

/// An upload of a file the server fetches itself (`url`).
#[derive(Debug, Clone)]
pub struct UrlUploadRequest {
    /// The address the server fetches.
    pub url: String,
    /// The target name on the wiki.
    pub filename: String,
    /// The upload comment.
    pub comment: String,
    /// The description page text of a new file.
    pub text: Option<String>,
    /// Publish even when the server warns.
    pub ignore_warnings: bool,
}

/// How an upload ended, when the server answered.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadOutcome {
    /// The file is published.
    Uploaded {
        /// The name the wiki gave it.
        filename: String,
        /// The SHA-1 the wiki reports (hex), when it does.
        sha1: Option<String>,
        /// Bytes sent in this run (less than the size after a resume).
        bytes_sent: u64,
        /// The offset the upload was resumed at, if it was.
        resumed_from: Option<u64>,
        /// Warnings the server gave and that were ignored.
        warnings: Option<Value>,
    },
    /// The server did not publish the file because of warnings.
    Warnings {
        /// The `warnings` object.
        warnings: Value,
        /// The stash key of the file, when the server kept it.
        filekey: Option<String>,
    },
}

/// A client of one wiki's `api.php`. Share it between tasks with an `Arc`.
pub struct Client {
    http: reqwest::Client,
    api: String,
    site: SiteInfo,
    policy: RetryPolicy,
    csrf: Mutex<Option<String>>,
}

/// A file part of a multipart request.
struct FilePart {
    field: &'static str,
    filename: String,
    data: Bytes,
}

type Params = Vec<(&'static str, String)>;

/// Reads an integer that the API may send as a number or a string.
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// True for failures of the connection or the transfer, which are worth retrying.
fn transient(e: &reqwest::Error) -> bool {
    !e.is_builder() && !e.is_redirect()
}

fn upload_obj(v: &Value) -> Result<&Value> {
    match v.get("upload") {
        Some(u) if u.is_object() => Ok(u),
        _ => Err(Error::Protocol(format!("no \"upload\" object in {v}"))),
    }
}

fn result_of(up: &Value) -> &str {
    up["result"].as_str().unwrap_or("")
}

impl Client {
    /// Connects to `api_url` (the address of `api.php`) and reads its upload limits.
    pub async fn connect(api_url: &str) -> Result<Client> {
        Self::connect_with(api_url, RetryPolicy::default()).await
    }

    /// [`Client::connect`] with a retry policy.
    pub async fn connect_with(api_url: &str, policy: RetryPolicy) -> Result<Client> {
        let parsed = url::Url::parse(api_url)?;
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .user_agent(concat!("mwstore-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(policy.request_timeout)
            .build()?;
        let mut c = Client {
            http,
            api: parsed.to_string(),
            site: SiteInfo {
                generator: String::new(),
                max_upload_size: u64::MAX,
                min_upload_chunk_size: 1024,
            },
            policy,
            csrf: Mutex::new(None),
        };
        let v = c
            .get(vec![
                ("action", "query".into()),
                ("meta", "siteinfo".into()),
                ("siprop", "general".into()),
            ])
            .await?;
        c.site = SiteInfo::from_answer(&v)?;
        Ok(c)
    }

    /// The API address.
    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// The wiki's upload limits.
    pub fn site(&self) -> &SiteInfo {
        &self.site
    }

    fn set_csrf(&self, token: Option<String>) {
        let mut g = match self.csrf.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = token;
    }

    fn cached_csrf(&self) -> Option<String> {
        match self.csrf.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Logs in. Names with `@` (`User@bot`) are bot passwords and use `action=login`; other
    /// names are main accounts and use `action=clientlogin`. Returns the user name.
    pub async fn login(&self, user: &str, password: &str) -> Result<String> {
        let t = self
            .get(vec![
                ("action", "query".into()),
                ("meta", "tokens".into()),
                ("type", "login".into()),
            ])
            .await?;
        let token = t
            .pointer("/query/tokens/logintoken")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol(format!("no login token in {t}")))?
            .to_owned();
        let name = if user.contains('@') {
            let v = self
                .call(
                    vec![
                        ("action", "login".into()),
                        ("lgname", user.into()),
                        ("lgpassword", password.into()),
                        ("lgtoken", token),
                    ],
                    true,
                    None,
                    false,
                )
                .await?;
            let l = &v["login"];
            if l["result"] != "Success" {
                let why = l["reason"]
                    .as_str()
                    .or_else(|| l["result"].as_str())
                    .unwrap_or("no result");
                return Err(Error::Login(why.to_owned()));
            }
            l["lgusername"].as_str().unwrap_or(user).to_owned()
        } else {
            let v = self
                .call(
                    vec![
                        ("action", "clientlogin".into()),
                        ("username", user.into()),
                        ("password", password.into()),
                        ("logintoken", token),
                        ("loginreturnurl", self.api.clone()),
                    ],
                    true,
                    None,
                    false,
                )
                .await?;
            let l = &v["clientlogin"];
            if l["status"] != "PASS" {
                let why = l["message"]
                    .as_str()
                    .or_else(|| l["status"].as_str())
                    .unwrap_or("no status");
                return Err(Error::Login(why.to_owned()));
            }
            l["username"].as_str().unwrap_or(user).to_owned()
        };
        self.set_csrf(None);
        Ok(name)
    }

    /// The CSRF token of the session (fetched once, again after `badtoken`).
    pub async fn csrf_token(&self) -> Result<String> {
        if let Some(t) = self.cached_csrf() {
            return Ok(t);
        }
        // Boxed: fetching a token is itself an API call.
        let v = Box::pin(self.get(vec![
            ("action", "query".into()),
            ("meta", "tokens".into()),
            ("type", "csrf".into()),
        ]))
        .await?;
        let t = v
            .pointer("/query/tokens/csrftoken")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol(format!("no csrf token in {v}")))?
            .to_owned();
        self.set_csrf(Some(t.clone()));
        Ok(t)
    }

    /// The names of the files whose current version has this SHA-1 (hex).
    pub async fn find_by_sha1(&self, sha1_hex: &str) -> Result<Vec<String>> {
        let v = self
            .get(vec![
                ("action", "query".into()),
                ("list", "allimages".into()),
                ("aisha1", sha1_hex.to_ascii_lowercase()),
                ("aiprop", "sha1".into()),
                ("ailimit", "max".into()),
            ])
            .await?;
        let names = v
            .pointer("/query/allimages")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(names)
    }

    async fn get(&self, params: Params) -> Result<Value> {
        self.call(params, false, None, false).await
    }

    /// Sends one API call, retrying as the policy says, and returns the JSON answer (an
    /// `error` answer becomes [`Error::Api`]).
    async fn call(
        &self,
        params: Params,
        post: bool,
        file: Option<&FilePart>,
        token: bool,
    ) -> Result<Value> {
        self.call_observed(params, post, file, token, &|_| {}).await
    }

    async fn call_observed(
        &self,
        params: Params,
        post: bool,
        file: Option<&FilePart>,
        token: bool,
        on_event: &(dyn Fn(Event) + Send + Sync),
    ) -> Result<Value> {
        let mut attempts = 0u32;
        let mut token_refreshes = 0u32;
        let mut backoff = self.policy.initial_backoff;
        loop {
            attempts += 1;
            let mut all = params.clone();
            all.push(("format", "json".into()));
            if let Some(lag) = self.policy.maxlag {
                all.push(("maxlag", lag.to_string()));
            }
            if token {
                all.push(("token", self.csrf_token().await?));
            }
            let (failure, wait) = match self.send_once(&all, post, file).await {
                Ok((status, headers, body)) => {
                    let json: Option<Value> = serde_json::from_slice(&body).ok();
                    match json {
                        Some(v) if v.get("error").is_some() => {
                            let err = &v["error"];
                            let code = err["code"].as_str().unwrap_or("").to_owned();
                            let info = err["info"].as_str().unwrap_or("").to_owned();
                            let e = Error::Api {
                                code: code.clone(),
                                info,
                                data: err.clone(),
                            };
                            match code.as_str() {
                                "badtoken" if token && token_refreshes < 2 => {
                                    token_refreshes += 1;
                                    attempts -= 1;
                                    self.set_csrf(None);
                                    continue;
                                }
                                "maxlag" => {
                                    let w = retry_after(&headers)
                                        .unwrap_or(Duration::from_secs(5))
                                        .min(self.policy.max_backoff);
                                    (e, w)
                                }
                                "ratelimited" => {
                                    let w = retry_after(&headers)
                                        .unwrap_or(backoff)
                                        .max(self.policy.ratelimit_backoff)
                                        .min(self.policy.max_backoff);
                                    (e, w)
                                }
                                _ => return Err(e),
                            }
                        }
                        Some(v) if status == 200 => return Ok(v),
                        _ => {
                            let text: String =
                                String::from_utf8_lossy(&body).chars().take(300).collect();
                            let e = Error::Status { status, body: text };
                            if status == 200 {
                                return Err(Error::Protocol(format!(
                                    "the answer is not JSON: {}",
                                    String::from_utf8_lossy(&body)
                                        .chars()
                                        .take(300)
                                        .collect::<String>()
                                )));
                            }
                            if status >= 500 || status == 429 || status == 408 {
                                (e, retry_after(&headers).unwrap_or(backoff))
                            } else {
                                return Err(e);
                            }
                        }
                    }
                }
                Err(e) if transient(&e) => (Error::Http(e), backoff),
                Err(e) => return Err(Error::Http(e)),
            };
            if attempts >= self.policy.max_attempts {
                return Err(Error::GaveUp {
                    attempts,
                    last: Box::new(failure),
                });
            }
            let wait = wait.min(self.policy.max_backoff);
            on_event(Event::Retrying {
                reason: failure.to_string(),
                delay: wait,
            });
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
    }

    async fn send_once(
        &self,
        params: &[(&'static str, String)],
        post: bool,
        file: Option<&FilePart>,
    ) -> std::result::Result<(u16, reqwest::header::HeaderMap, Bytes), reqwest::Error> {
        let rb = if let Some(f) = file {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in params {
                form = form.text(*k, v.clone());
            }
            let len = f.data.len() as u64;
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::from(f.data.clone()),
                len,
            )
            .file_name(f.filename.clone())
            .mime_str("application/octet-stream")?;
            form = form.part(f.field, part);
            self.http.post(&self.api).multipart(form)
        } else if post {
            self.http.post(&self.api).form(params)
        } else {
            self.http.get(&self.api).query(params)
        };
        let r = rb.send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await?;
        Ok((status, headers, body))
    }

    /// Uploads a file: in one request when it fits in a chunk, else in chunks (resumable),
    /// then publishes it. Warnings that stop the upload are an [`UploadOutcome::Warnings`];
    /// failures are errors.
    pub async fn upload(
        &self,
        req: &UploadRequest,
        on_event: &(dyn Fn(Event) + Send + Sync),
    ) -> Result<UploadOutcome> {
        let id = FileIdentity::of(&req.path)?;
        if id.size > self.site.max_upload_size {
            return Err(Error::TooLarge {
                size: id.size,
                max: self.site.max_upload_size,
            });
        }
        let chunk = req
            .chunk_size
            .max(self.site.min_upload_chunk_size)
            .clamp(1, self.site.max_upload_size.max(1));
        if id.size <= chunk {
            on_event(Event::Started {
                size: id.size,
                chunked: false,
            });
            return self.upload_direct(req, id.size, on_event).await;
        }
        on_event(Event::Started {
            size: id.size,
            chunked: true,
        });
        let result = self.upload_chunked(req, &id, chunk, on_event).await;
        if let (Ok(_), Some(state)) = (&result, &req.state_file) {
            ResumeState::remove(state)?;
        }
        result
    }

    fn common_publish_params(&self, req: &UploadRequest) -> Params {
        let mut p: Params = vec![
            ("action", "upload".into()),
            ("filename", req.filename.clone()),
            ("comment", req.comment.clone()),
        ];
        if let Some(t) = &req.text {
            p.push(("text", t.clone()));
        }
        if req.ignore_warnings {
            p.push(("ignorewarnings", "1".into()));
        }
        p
    }

    async fn upload_direct(
        &self,
        req: &UploadRequest,
        size: u64,
        on_event: &(dyn Fn(Event) + Send + Sync),
    ) -> Result<UploadOutcome> {
        let data = tokio::fs::read(&req.path)
            .await
            .map_err(|e| Error::io(&req.path, e))?;
        if data.len() as u64 != size {
            return Err(Error::FileChanged {
                path: req.path.clone(),
            });
        }
        let part = FilePart {
            field: "file",
            filename: req.filename.clone(),
            data: Bytes::from(data),
        };
        let v = self
            .call_observed(
                self.common_publish_params(req),
                true,
                Some(&part),
                true,
                on_event,
            )
            .await?;
        on_event(Event::Progress {
            done: size,
            total: size,
        });
        self.publish_result(upload_obj(&v)?, req, size, None, None, on_event)
            .await
    }

    /// Turns the answer of a publishing request into an outcome, polling when it is `Poll`.
    async fn publish_result(
        &self,
        up: &Value,
        req: &UploadRequest,
        sent: u64,
        resumed_from: Option<u64>,
        sent_key: Option<&str>,
        on_event: &(dyn Fn(Event) + Send + Sync),
    ) -> Result<UploadOutcome> {
        let mut up = up.clone();
        if result_of(&up) == "Poll" {
            // An asynchronous publish answers without the key: it is the one sent.
            let key = up["filekey"]
                .as_str()
                .or(sent_key)
                .map(str::to_owned)
                .ok_or_else(|| Error::Protocol(format!("Poll without filekey: {up}")))?;
            up = self.poll(&key, on_event).await?;
        }
        match result_of(&up) {
            "Success" => Ok(UploadOutcome::Uploaded {
                filename: up["filename"].as_str().unwrap_or(&req.filename).to_owned(),
                sha1: up
                    .pointer("/imageinfo/sha1")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                bytes_sent: sent,
                resumed_from,
                warnings: up.get("warnings").cloned(),
            }),
            "Warning" => Ok(UploadOutcome::Warnings {
                warnings: up["warnings"].clone(),
                filekey: up["filekey"].as_str().map(str::to_owned),
            }),
            _ => Err(Error::Protocol(format!("unexpected upload result: {up}"))),
        }
    }

    /// Polls `checkstatus` for `filekey` until the server is done; returns the final
    /// `upload` object.
    async fn poll(&self, filekey: &str, on_event: &(dyn Fn(Event) + Send + Sync)) -> Result<Value> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            let up = self.check_status(filekey).await?;
            if result_of(&up) != "Poll" {
                return Ok(up);
            }
            let stage = up["stage"].as_str().unwrap_or("queued").to_owned();
            if start.elapsed() > self.policy.poll_timeout {
                return Err(Error::PollTimeout {
                    stage,
                    secs: self.policy.poll_timeout.as_secs(),
                });
            }
            on_event(Event::Waiting { stage });
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// `checkstatus` for a file key: the `upload` object of the answer.
    pub async fn check_status(&self, filekey: &str) -> Result<Value> {
        let v = self
            .call(
                vec![
                    ("action", "upload".into()),
                    ("filekey", filekey.into()),
                    ("checkstatus", "1".into()),
                ],
                true,
                None,
                true,
            )
            .await?;
        Ok(upload_obj(&v)?.clone())
    }

    fn save_state(&self, req: &UploadRequest, id: &FileIdentity, key: &str, offset: u64) {
        if let Some(path) = &req.state_file {
            let st = ResumeState {
                api: self.api.clone(),
                filename: req.filename.clone(),
                filekey: key.to_owned(),
                offset,
                size: id.size,
                mtime: id.mtime,
                first_mib_sha1: id.first_mib_sha1.clone(),
            };
            // A state that cannot be written only costs the ability to resume.
            let _ = st.save(path);
        }
    }

    /// Where a stored session stands: `(chunk key, server offset)`, or the key of the
    /// assembled file when the chunks are all in (`offset == size`).
    async fn resume_point(
        &self,
        req: &UploadRequest,
        id: &FileIdentity,
        on_event: &(dyn Fn(Event) + Send + Sync),
    ) -> Option<(String, u64)> {
        let path = req.state_file.as_ref()?;
        let st = match ResumeState::load(path) {
            Ok(Some(st)) if st.matches(&self.api, &req.filename, id) => st,
            Ok(Some(_)) => {
                on_event(Event::Restarted {
                    reason: "the stored upload belongs to another file or target".into(),
                });
                return None;
            }
            _ => return None,
        };
        if st.offset == id.size {
            return Some((st.filekey, st.offset));
        }
        match self.check_status(&st.filekey).await {
            Ok(up) => match result_of(&up) {
                "Continue" => {
                    let off = as_u64(&up["offset"]).unwrap_or(st.offset);
                    (off <= id.size).then_some((st.filekey, off))
                }
                "Poll" => match self.poll(&st.filekey, on_event).await {
                    Ok(done) => done["filekey"].as_str().map(|k| (k.to_owned(), id.size)),
                    Err(e) => {
                        on_event(Event::Restarted {
                            reason: e.to_string(),
                        });
                        None
                    }
                },
                "Success" => up["filekey"].as_str().map(|k| (k.to_owned(), id.size)),
                _ => None,
            },
            // The server keeps no status: try the stored offset; a wrong one is corrected
            // by the server's answer.
            Err(Error::Api { code, .. }) if code == "missingresult" => {
                Some((st.filekey, st.offset))
            }
            Err(e) => {
                on_event(Event::Restarted {
                    reason: e.to_string(),
                });
                None
            }
        }
    }

    async fn read_range(&self, path: &Path, offset: u64, len: u64) -> Result<Bytes> {
        let mut f = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path, e))?;
        f.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| Error::io(path, e))?;
        let n = usize::try_from(len).map_err(|_| Error::FileChanged {
            path: path.to_path_buf(),
        })?;
        let mut buf = vec![0u8; n];
        match f.read_exact(&mut buf).await {
            Ok(_) => Ok(Bytes::from(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::FileChanged {
                path: path.to_path_buf(),
            }),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    async fn upload_chunked(
        &self,
        req: &UploadRequest,
        id: &FileIdentity,
        chunk: u64,
        on_event: &(dyn Fn(Event) + Send + Sync),
    ) -> Result<UploadOutcome> {
        let size = id.size;
        let mut filekey: Option<String> = None;
        let mut offset = 0u64;
        let mut resumed_from = None;
        if req.resume {
            if let Some((key, off)) = self.resume_point(req, id, on_event).await {
                on_event(Event::Resumed { offset: off });
                on_event(Event::Progress {
                    done: off,
                    total: size,
                });
                filekey = Some(key);
                offset = off;
                resumed_from = Some(off);
            }
        }
        let mut sent = 0u64;
        let mut corrections = 0u32;
        let mut may_restart = resumed_from.is_some();
        let started = Instant::now();
        let mut assembled: Option<String> = if offset == size {
            filekey.clone()
        } else {
            None
        };
        while assembled.is_none() {
            let end = (offset + chunk).min(size);
            let data = self.read_range(&req.path, offset, end - offset).await?;
            let last = end == size;
            let mut p: Params = vec![
                ("action", "upload".into()),
                ("filename", req.filename.clone()),
                ("filesize", size.to_string()),
                ("offset", offset.to_string()),
                ("stash", "1".into()),
                ("ignorewarnings", "1".into()),
            ];
            if let Some(k) = &filekey {
                p.push(("filekey", k.clone()));
            }
            if last && req.force_async {
                p.push(("async", "1".into()));
            }
            let part = FilePart {
                field: "chunk",
                filename: "blob".into(),
                data,
            };
            let answer = self
                .call_observed(p, true, Some(&part), true, on_event)
                .await;
            let v = match answer {
                Ok(v) => v,
                Err(Error::Api { code, data, .. })
                    if code == "stashfailed"
                        && filekey.is_some()
                        && corrections < 3
                        && as_u64(&data["offset"]).is_some_and(|o| o <= size) =>
                {
                    // The server has a different amount than we thought (a chunk that was
                    // received although its answer was lost, or a stale state): go on from
                    // the server's offset.
                    corrections += 1;
                    offset = as_u64(&data["offset"]).unwrap_or(0);
                    on_event(Event::Progress {
                        done: offset,
                        total: size,
                    });
                    continue;
                }
                Err(e) if may_restart => {
                    may_restart = false;
                    on_event(Event::Restarted {
                        reason: e.to_string(),
                    });
                    filekey = None;
                    offset = 0;
                    resumed_from = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            may_restart = false;
            let up = upload_obj(&v)?;
            sent += end - offset;
            match result_of(up) {
                "Continue" => {
                    let key = up["filekey"]
                        .as_str()
                        .or(filekey.as_deref())
                        .ok_or_else(|| Error::Protocol(format!("Continue without filekey: {up}")))?
                        .to_owned();
                    offset = as_u64(&up["offset"]).unwrap_or(end);
                    self.save_state(req, id, &key, offset);
                    filekey = Some(key);
                    on_event(Event::Progress {
                        done: offset,
                        total: size,
                    });
                }
                "Success" | "Poll" => {
                    let done = if result_of(up) == "Poll" {
                        let key = up["filekey"]
                            .as_str()
                            .or(filekey.as_deref())
                            .ok_or_else(|| Error::Protocol(format!("Poll without filekey: {up}")))?
                            .to_owned();
                        self.poll(&key, on_event).await?
                    } else {
                        up.clone()
                    };
                    if result_of(&done) != "Success" {
                        return Err(Error::Protocol(format!(
                            "unexpected result of the last chunk: {done}"
                        )));
                    }
                    let key = done["filekey"]
                        .as_str()
                        .ok_or_else(|| Error::Protocol(format!("Success without filekey: {done}")))?
                        .to_owned();
                    self.save_state(req, id, &key, size);
                    on_event(Event::Progress {
                        done: size,
                        total: size,
                    });
                    assembled = Some(key);
                }
                "Warning" => {
                    return Ok(UploadOutcome::Warnings {
                        warnings: up["warnings"].clone(),
                        filekey: up["filekey"].as_str().map(str::to_owned),
                    })
                }
                _ => return Err(Error::Protocol(format!("unexpected chunk result: {up}"))),
            }
            if let Some(rate) = req.rate_limit.filter(|r| *r > 0) {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                let spent = started.elapsed();
                if due > spent {
                    tokio::time::sleep(due - spent).await;
                }
            }
        }
        let key = assembled.unwrap_or_default();
        // The file must still be the one whose chunks were sent.
        if FileIdentity::of(&req.path)? != *id {
            return Err(Error::FileChanged {
                path: req.path.clone(),
            });
        }
        let mut p = self.common_publish_params(req);
        p.push(("filekey", key.clone()));
        if req.force_async {
            p.push(("async", "1".into()));
        }
        let v = match self.call_observed(p, true, None, true, on_event).await {
            Ok(v) => v,
            Err(e)
                if resumed_from == Some(size) && e.code() == Some("uploadstash-file-not-found") =>
            {
                // The stored assembled file is gone: upload again from scratch.
                on_event(Event::Restarted {
                    reason: e.to_string(),
                });
                if let Some(path) = &req.state_file {
                    ResumeState::remove(path)?;
                }
                let fresh = UploadRequest {
                    resume: false,
                    ..req.clone()
                };
                return Box::pin(self.upload_chunked(&fresh, id, chunk, on_event)).await;
            }
            Err(e) => return Err(e),
        };
        self.publish_result(
            upload_obj(&v)?,
            req,
            sent,
            resumed_from,
            Some(&key),
            on_event,
        )
        .await
    }

    /// Uploads a file the server fetches from `req.url` (`url=`).
    pub async fn upload_by_url(&self, req: &UrlUploadRequest) -> Result<UploadOutcome> {
        let mut p: Params = vec![
            ("action", "upload".into()),
            ("filename", req.filename.clone()),
            ("url", req.url.clone()),
            ("comment", req.comment.clone()),
        ];
        if let Some(t) = &req.text {
            p.push(("text", t.clone()));
        }
        if req.ignore_warnings {
            p.push(("ignorewarnings", "1".into()));
        }
        let v = self.call(p, true, None, true).await?;
        let up = upload_obj(&v)?;
        let as_file = UploadRequest {
            path: PathBuf::new(),
            filename: req.filename.clone(),
            comment: req.comment.clone(),
            text: req.text.clone(),
            ignore_warnings: req.ignore_warnings,
            chunk_size: 0,
            force_async: false,
            state_file: None,
            resume: false,
            rate_limit: None,
        };
        self.publish_result(up, &as_file, 0, None, None, &|_| {})
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn siteinfo_limits() {
        // From the reference wiki's meta=siteinfo answer.
        let v = json!({"batchcomplete": "", "query": {"general": {
            "generator": "MediaWiki 1.39.17", "maxuploadsize": 4294967296u64,
            "minuploadchunksize": 1024}}});
        assert_eq!(
            SiteInfo::from_answer(&v).unwrap(),
            SiteInfo {
                generator: "MediaWiki 1.39.17".into(),
                max_upload_size: 4_294_967_296,
                min_upload_chunk_size: 1024,
            }
        );
        let v = json!({"query": {"general": {"generator": "MediaWiki 1.19"}}});
        let s = SiteInfo::from_answer(&v).unwrap();
        assert_eq!(s.max_upload_size, u64::MAX);
        assert_eq!(s.min_upload_chunk_size, 1024);
        assert!(SiteInfo::from_answer(&json!({"error": {}})).is_err());
    }

    #[test]
    fn numbers_as_strings() {
        // stashfailed carries the expected offset as a string.
        assert_eq!(as_u64(&json!("262144")), Some(262_144));
        assert_eq!(as_u64(&json!(1048576)), Some(1_048_576));
        assert_eq!(as_u64(&json!("x")), None);
        assert_eq!(as_u64(&json!(null)), None);
    }

    #[test]
    fn api_error_codes() {
        let e = Error::Api {
            code: "badtoken".into(),
            info: "Invalid CSRF token.".into(),
            data: json!({}),
        };
        assert_eq!(e.code(), Some("badtoken"));
        assert_eq!(e.to_string(), "API error badtoken: Invalid CSRF token.");
        let g = Error::GaveUp {
            attempts: 6,
            last: Box::new(e),
        };
        assert_eq!(g.code(), Some("badtoken"));
    }

    /// A scripted HTTP server: answers each connection with the next canned answer and
    /// records the requests (request line and body).
    async fn mock(
        answers: Vec<(u16, &'static str, String)>,
    ) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        tokio::spawn(async move {
            for (status, headers, body) in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut tmp).await.unwrap();
                    buf.extend_from_slice(&tmp[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut tmp).await.unwrap();
                    buf.extend_from_slice(&tmp[..n]);
                }
                let line = head.lines().next().unwrap_or("").to_owned();
                let body_in = String::from_utf8_lossy(&buf[head_end..]).to_string();
                seen.lock().unwrap().push(format!("{line} {body_in}"));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
                sock.shutdown().await.unwrap();
            }
        });
        (format!("http://{addr}/w/api.php"), log)
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            ratelimit_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            max_attempts: 4,
            ..RetryPolicy::default()
        }
    }

    const SITEINFO: &str = r#"{"batchcomplete":"","query":{"general":{"generator":"MediaWiki 1.39.17","maxuploadsize":4294967296,"minuploadchunksize":1024}}}"#;

    #[tokio::test]
    async fn transient_failures_maxlag_and_ratelimited_are_retried() {
        let maxlag = r#"{"error":{"code":"maxlag","info":"Waiting for db: 7 seconds lagged.","host":"db","lag":7,"type":"db"}}"#;
        let rl = r#"{"error":{"code":"ratelimited","info":"As an anti-abuse measure, you are limited from performing this action too many times in a short space of time, and you have exceeded this limit. Please try again in a few minutes."}}"#;
        let found = r#"{"batchcomplete":"","query":{"allimages":[{"name":"A.png","title":"File:A.png","sha1":"ab"}]}}"#;
        let (api, log) = mock(vec![
            (200, "", SITEINFO.into()),
            (503, "", "<html>busy</html>".into()),
            (200, "Retry-After: 0\r\n", maxlag.into()),
            (200, "", rl.into()),
            (200, "", found.into()),
        ])
        .await;
        let c = Client::connect_with(&api, fast()).await.unwrap();
        assert_eq!(c.site().max_upload_size, 4_294_967_296);
        assert_eq!(
            c.find_by_sha1("AB").await.unwrap(),
            vec!["A.png".to_owned()]
        );
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 5);
        assert!(
            log[4].contains("aisha1=ab") && log[4].contains("maxlag=5"),
            "{}",
            log[4]
        );
    }

    #[tokio::test]
    async fn retries_are_bounded_and_api_errors_are_not_retried() {
        let (api, log) = mock(vec![
            (200, "", SITEINFO.into()),
            (502, "", "bad gateway".into()),
            (502, "", "bad gateway".into()),
            (502, "", "bad gateway".into()),
            (502, "", "bad gateway".into()),
            (
                200,
                "",
                r#"{"error":{"code":"invalid-file-key","info":"Not a valid file key."}}"#.into(),
            ),
        ])
        .await;
        let c = Client::connect_with(&api, fast()).await.unwrap();
        let e = c.find_by_sha1("ab").await.unwrap_err();
        assert!(
            matches!(&e, Error::GaveUp { attempts: 4, last } if matches!(**last, Error::Status { status: 502, .. })),
            "{e}"
        );
        // A real API error comes back at once, with its code and text.
        let e = c.find_by_sha1("ab").await.unwrap_err();
        assert_eq!(e.code(), Some("invalid-file-key"));
        assert_eq!(
            e.to_string(),
            "API error invalid-file-key: Not a valid file key."
        );
        assert_eq!(log.lock().unwrap().len(), 6);
    }

    #[tokio::test]
    async fn badtoken_fetches_a_new_token_and_resends() {
        let tok = |t: &str| {
            format!(r#"{{"batchcomplete":"","query":{{"tokens":{{"csrftoken":"{t}+\\"}}}}}}"#)
        };
        let (api, log) = mock(vec![
            (200, "", SITEINFO.into()),
            (200, "", tok("old")),
            (
                200,
                "",
                r#"{"error":{"code":"badtoken","info":"Invalid CSRF token."}}"#.into(),
            ),
            (200, "", tok("new")),
            (
                200,
                "",
                r#"{"upload":{"result":"Continue","stage":"uploading","offset":1024}}"#.into(),
            ),
        ])
        .await;
        let c = Client::connect_with(&api, fast()).await.unwrap();
        let up = c.check_status("1d3nsrx88434.x3f0f3.3.png").await.unwrap();
        assert_eq!(up["offset"], 1024);
        let log = log.lock().unwrap();
        assert!(log[2].contains("token=old%2B%5C"), "{}", log[2]);
        assert!(log[4].contains("token=new%2B%5C"), "{}", log[4]);
    }

    #[tokio::test]
    async fn login_failure_reports_the_reason() {
        let (api, _) = mock(vec![
            (200, "", SITEINFO.into()),
            (200, "", r#"{"batchcomplete":"","query":{"tokens":{"logintoken":"abc+\\"}}}"#.into()),
            (200, "", r#"{"login":{"result":"Failed","reason":"Incorrect username or password entered. Please try again."}}"#.into()),
            (200, "", r#"{"batchcomplete":"","query":{"tokens":{"logintoken":"abc+\\"}}}"#.into()),
            (200, "", r#"{"clientlogin":{"status":"FAIL","message":"The supplied credentials could not be authenticated.","messagecode":"wrongpassword"}}"#.into()),
        ])
        .await;
        let c = Client::connect_with(&api, fast()).await.unwrap();
        let e = c.login("Alice@bot", "x").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "login failed: Incorrect username or password entered. Please try again."
        );
        let e = c.login("Alice", "x").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "login failed: The supplied credentials could not be authenticated."
        );
    }
}
