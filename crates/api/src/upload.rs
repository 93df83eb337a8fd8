//! `action=upload`: one pipeline for every source of bytes.
//!
//! parse parameters → token and rights → mode → permissions → verify content → name →
//! title permissions → warnings → stash or publish → imageinfo. Each source (a file part, a
//! stashed file) only supplies a stored blob with its size and SHA-1.

use std::path::PathBuf;

use rand::Rng;
use serde_json::{json, Map, Value};

use sha1::{Digest, Sha1};

use mwstore_domain::io::FileContent;
use mwstore_domain::title::{self, NameError, UploadName, NS_FILE};
use mwstore_domain::{mime, props, verify};
use mwstore_storage::{FileMeta, PublishRequest, StashEntry, StoreError};

use crate::api::Req;
use crate::error::ApiError;
use crate::query::{self, InfoProps};

/// A file that has reached the server and is stored as a blob (or a temporary blob).
struct Received {
    /// Local path of the content.
    path: PathBuf,
    size: u64,
    sha1: String,
    /// The temporary blob when the content has not been committed yet.
    temp: Option<mwstore_storage::BlobWriter>,
    /// Stash entry the content came from.
    from_stash: Option<StashEntry>,
    too_large: bool,
    /// Fetched by URL (stash keys then have no extension, as MediaWiki's).
    from_url: bool,
}

/// Everything verification found out about the file.
struct Checked {
    props: props::FileProps,
    name: Result<UploadName, NameError>,
}

fn filekey_format_ok(key: &str) -> bool {
    // ^[\w\-.]+\.\w*$ with ASCII word characters.
    let Some(dot) = key.rfind('.') else {
        return false;
    };
    let (head, tail) = (&key[..dot], &key[dot + 1..]);
    !head.is_empty()
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The rights an upload needs, checked in order: `mustbeloggedin` for anonymous users,
/// otherwise `permissiondenied` naming the groups that have the first missing right.
fn require_rights(req: &Req, rights: &[&str]) -> Result<(), ApiError> {
    let Some(right) = rights.iter().find(|r| !req.user.can(r)) else {
        return Ok(());
    };
    if req.user.is_anon() {
        return Err(ApiError::new(
            "mustbeloggedin",
            "You must be logged in to upload this file.",
        ));
    }
    req.require_right(right)
}

/// The stash is per user: anonymous requests that touch it get `stashnotloggedin`.
fn require_stash_user(req: &Req) -> Result<(), ApiError> {
    if req.user.is_anon() {
        return Err(ApiError::new(
            "stashnotloggedin",
            "You must be logged in to upload this file.",
        ));
    }
    Ok(())
}

/// Loads a stash entry owned by the current user, with MediaWiki's stash errors.
pub async fn load_stash(req: &Req, key: &str) -> Result<StashEntry, ApiError> {
    if !filekey_format_ok(key) {
        return Err(ApiError::new(
            "uploadstash-bad-path-bad-format",
            format!("Key \"{key}\" is not in a proper format."),
        ));
    }
    let not_found = || {
        ApiError::new(
            "uploadstash-file-not-found",
            format!("Key \"{key}\" not found in stash."),
        )
    };
    let Some(e) = req.app.repo.stash_get(key).await? else {
        return Err(not_found());
    };
    if e.user_id != req.user.id {
        return Err(ApiError::new(
            "uploadstash-wrong-owner",
            format!("This file ({key}) doesn't belong to the current user."),
        ));
    }
    if e.expires <= Req::now() {
        // Expired entries are gone, whether or not the sweeper got to them yet.
        if req.app.repo.stash_delete(key).await? {
            req.app.collect_blob(&e.meta.sha1).await;
        }
        return Err(not_found());
    }
    if e.status == "finished" && !req.app.blobs.exists(&e.meta.sha1).await? {
        return Err(ApiError::new(
            "uploadstash-file-not-found-not-exists",
            "Cannot find path, or not a plain file.",
        ));
    }
    Ok(e)
}

fn join_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// `action=upload`.
pub async fn execute(req: &mut Req) -> Result<Map<String, Value>, ApiError> {
    let app = req.app.clone();
    let cfg = &app.config;
    // Parameters, in declaration order.
    let filename = req.params.string("filename")?;
    let comment = req.params.string("comment")?.unwrap_or_default();
    let tags = req
        .params
        .multi("upload", "tags", None, 50)?
        .unwrap_or_default();
    if !tags.is_empty() {
        // No change tags are defined for manual use on this server.
        let info = if tags.len() == 1 {
            format!(
                "The tag \"{}\" is not allowed to be manually applied.",
                tags[0]
            )
        } else {
            format!(
                "The following tags are not allowed to be manually applied: {}",
                tags.join(", ")
            )
        };
        return Err(ApiError::new("badtags", info).with("disallowedtags", json!(tags)));
    }
    let text = req.params.string("text")?;
    let watch = req.params.flag("watch");
    if watch {
        req.params
            .warn_deprecated("upload", "The parameter \"watch\" has been deprecated.");
    }
    let watchlist = req.params.enumerated(
        "watchlist",
        &["watch", "preferences", "nochange"],
        "preferences",
    )?;
    let ignorewarnings = req.params.flag("ignorewarnings");
    req.params.check_upload("file")?;
    let url = req.params.string("url")?.filter(|u| !u.is_empty());
    let mut filekey = req.params.string("filekey")?.filter(|k| !k.is_empty());
    let sessionkey = req.params.string("sessionkey")?;
    if req.params.has("sessionkey") {
        req.params.warn_deprecated(
            "upload",
            "The parameter \"sessionkey\" has been deprecated.",
        );
    }
    let stash = req.params.flag("stash");
    let _filesize = req
        .params
        .int("upload", "filesize", 0, Some(cfg.max_upload_size as i64))?;
    let offset = req.params.int("upload", "offset", 0, None)?;
    req.params.check_upload("chunk")?;
    let async_flag = req.params.flag("async");
    let checkstatus = req.params.flag("checkstatus");
    req.check_module(Some("csrf"), true, true)?;

    if !cfg.enable_uploads {
        return Err(ApiError::new("uploaddisabled", "Uploads disabled."));
    }
    let async_mode = async_flag && cfg.enable_async_uploads;
    if filekey.is_none() {
        filekey = sessionkey.filter(|k| !k.is_empty());
    }
    let has_chunk = req.params.is_file("chunk");
    let has_file = req.params.is_file("file");

    // Mode selection.
    if has_chunk {
        let Some(filename) = filename else {
            return Err(ApiError::new(
                "nofilename",
                "The \"filename\" parameter must be set.",
            ));
        };
        let Some(chunk) = req.params.take_file("chunk") else {
            return Err(ApiError::new("badupload", "The chunk could not be read."));
        };
        let c = ChunkRequest {
            filename,
            filekey,
            offset: offset.unwrap_or(0),
            filesize: _filesize,
            stash,
            ignorewarnings,
            async_mode,
        };
        return chunk_upload(req, c, chunk).await;
    }
    let given: Vec<&str> = [
        ("file", has_file),
        ("url", url.is_some()),
        ("filekey", filekey.is_some()),
    ]
    .iter()
    .filter(|(_, g)| *g)
    .map(|(n, _)| *n)
    .collect();
    if checkstatus && filekey.is_some() {
        return check_status(req, filekey.as_deref().unwrap_or_default()).await;
    }
    if given.is_empty() {
        return Err(ApiError::new(
            "missingparam",
            "One of the parameters \"filekey\", \"file\" and \"url\" is required.",
        ));
    }
    if given.len() > 1 {
        return Err(ApiError::new(
            "invalidparammix",
            format!(
                "The parameters {} can not be used together.",
                join_names(&given)
            ),
        ));
    }
    let Some(filename) = filename else {
        return Err(ApiError::new(
            "nofilename",
            "The \"filename\" parameter must be set.",
        ));
    };
    let _ = offset;
    let mut received = if let Some(key) = &filekey {
        if !filekey_format_ok(key) {
            return Err(ApiError::new("invalid-file-key", "Not a valid file key."));
        }
        require_stash_user(req)?;
        let e = load_stash(req, key).await?;
        if e.status != "finished" {
            return Err(ApiError::new(
                "stashfailed",
                "This stashed file is an unfinished chunked upload; send its remaining chunks before publishing it.",
            ));
        }
        Received {
            path: app.blobs.path(&e.meta.sha1),
            size: e.meta.size,
            sha1: e.meta.sha1.clone(),
            temp: None,
            from_stash: Some(e),
            from_url: false,
            too_large: false,
        }
    } else if has_file {
        if async_mode {
            return Err(ApiError::new(
                "cannot-async-upload-file",
                "The parameters \"async\" and \"file\" cannot be combined. If you want asynchronous processing of your uploaded file, first upload it to stash (using the \"stash\" parameter) and then publish the stashed file asynchronously (using \"filekey\" and \"async\").",
            ));
        }
        let Some(f) = req.params.take_file("file") else {
            return Err(ApiError::new(
                "missingparam",
                "One of the parameters \"filekey\", \"file\" and \"url\" is required.",
            ));
        };
        let Some(sha1) = f.sha1.clone() else {
            return Err(ApiError::new("badupload", "The file could not be read."));
        };
        Received {
            path: f.blob.path().to_path_buf(),
            size: f.size,
            sha1,
            temp: Some(f.blob),
            from_stash: None,
            from_url: false,
            too_large: f.too_large,
        }
    } else {
        let raw_url = url.clone().unwrap_or_default();
        if !cfg.allow_copy_uploads {
            return Err(ApiError::new(
                "copyuploaddisabled",
                "Upload by URL disabled.",
            ));
        }
        let checked_url = crate::fetch::check_url(&app, &raw_url)?;
        // Rights come before any network access.
        require_rights(req, &["upload_by_url", "upload", "edit"])?;
        let f = crate::fetch::fetch(&app, checked_url).await?;
        Received {
            path: f.blob.path().to_path_buf(),
            size: f.size,
            sha1: f.sha1,
            temp: Some(f.blob),
            from_stash: None,
            too_large: false,
            from_url: true,
        }
    };

    // Permissions: upload, then edit.
    if let Err(e) = require_rights(req, &["upload", "edit"]) {
        discard(&mut received).await;
        return Err(e);
    }

    // Verification: size, content, then the name.
    let checked = match verify_received(req, &received, &filename, true).await {
        Ok(c) => c,
        Err(e) => {
            discard(&mut received).await;
            return Err(e);
        }
    };
    let name = match &checked.name {
        Ok(n) => n.clone(),
        Err(NameError::Banned { .. }) => {
            discard(&mut received).await;
            let err = checked.name.clone().err();
            return Err(name_error(err, cfg));
        }
        Err(e) => {
            let mut err = name_error(Some(e.clone()), cfg);
            stash_recoverable(req, &mut received, &checked, &mut err).await?;
            err.data
                .insert("invalidparameter".into(), "filename".into());
            return Err(err);
        }
    };

    // Title permissions (not for stash=1).
    let state = TitleState::load(req, &name.dbkey).await?;
    if !stash {
        if let Err(mut e) = title_permissions(req, &name.dbkey, &state).await {
            stash_recoverable(req, &mut received, &checked, &mut e).await?;
            e.data.insert("invalidparameter".into(), "filename".into());
            return Err(e);
        }
    }

    // Warnings.
    let warnings = compute_warnings(req, &filename, &name, &checked.props, &state).await?;
    if !warnings.is_empty() && !ignorewarnings {
        let mut out = Map::new();
        out.insert("result".into(), "Warning".into());
        out.insert("warnings".into(), Value::Object(warnings));
        let key = stash_file(req, &mut received, &checked).await?;
        out.insert("filekey".into(), key.clone().into());
        out.insert("sessionkey".into(), key.into());
        return Ok(wrap(out));
    }
    if stash {
        let key = stash_file(req, &mut received, &checked).await?;
        let entry = req.app.repo.stash_get(&key).await?;
        let mut out = Map::new();
        out.insert("result".into(), "Success".into());
        out.insert("filekey".into(), key.clone().into());
        out.insert("sessionkey".into(), key.into());
        if !warnings.is_empty() {
            out.insert("warnings".into(), Value::Object(warnings));
        }
        if let Some(e) = entry {
            out.insert(
                "imageinfo".into(),
                Value::Object(query::stash_info(&app, &e, &InfoProps::all())),
            );
        }
        return Ok(wrap(out));
    }
    if let Some(wait) = rate_limited(req) {
        discard(&mut received).await;
        return Err(ApiError::new(
            "ratelimited",
            "You've exceeded your rate limit. Please wait some time and try again.",
        )
        .with("retry-after", wait));
    }

    // Publish.
    let page_text = text.unwrap_or_else(|| comment.clone());
    let watch = match (watch, watchlist.as_str()) {
        (true, _) | (_, "watch") => Some(true),
        (_, "nochange") => None,
        _ if req.user.can("bot") => None,
        _ => Some(true),
    };
    let meta = file_meta(&checked.props);
    let ts = mwstore_storage::ts14(chrono::Utc::now());
    let is_async_publish = async_mode && received.from_stash.is_some();
    let preq = PublishRequest {
        name: name.dbkey.clone(),
        meta,
        user_id: req.user.id,
        user_text: req.user.name.clone(),
        comment: comment.chars().take(500).collect(),
        page_text,
        timestamp: ts,
        consume_stash: received.from_stash.as_ref().map(|e| e.key.clone()),
        watch,
    };
    if is_async_publish {
        return crate::jobs::queue_publish(req, &preq, warnings).await;
    }
    let lock = app.name_lock(&name.dbkey);
    let _guard = lock.lock().await;
    let outcome = {
        let _gc = app.blob_gc.lock().await;
        if let Some(temp) = received.temp.take() {
            app.blobs.commit(temp, &received.sha1).await?;
            received.path = app.blobs.path(&received.sha1);
        }
        app.repo.publish(&preq).await
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(StoreError::NoChange) => {
            let mut e = ApiError::new(
                "fileexists-no-change",
                format!(
                    "The upload is an exact duplicate of the current version of [[:File:{}]].",
                    name.dbkey
                ),
            );
            stash_recoverable(req, &mut received, &checked, &mut e).await?;
            return Err(e);
        }
        Err(other) => {
            app.collect_blob(&received.sha1).await;
            return Err(other.into());
        }
    };
    record_upload(req);
    let mut out = Map::new();
    out.insert("result".into(), "Success".into());
    out.insert("filename".into(), name.dbkey.clone().into());
    if !warnings.is_empty() {
        out.insert("warnings".into(), Value::Object(warnings));
    }
    let page_id = outcome.page_existed.then_some(outcome.page_id);
    out.insert(
        "imageinfo".into(),
        Value::Object(query::version_info(
            &app,
            &outcome.version,
            &InfoProps::all(),
            page_id,
            true,
        )),
    );
    Ok(wrap(out))
}

pub(crate) fn wrap(inner: Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("upload".into(), Value::Object(inner));
    m
}

async fn discard(r: &mut Received) {
    if let Some(t) = r.temp.take() {
        t.discard().await;
    }
}

fn name_error(e: Option<NameError>, cfg: &mwstore_domain::config::Config) -> ApiError {
    let Some(e) = e else {
        return ApiError::new("illegal-filename", "The filename is not allowed.");
    };
    let mut err = ApiError::new(e.code(), e.info(cfg));
    match &e {
        NameError::Illegal { filtered } => {
            err.data.insert("filename".into(), filtered.clone().into());
        }
        NameError::Banned {
            filetype,
            blacklisted,
        } => {
            err.data.insert("filetype".into(), filetype.clone().into());
            err.data
                .insert("allowed".into(), json!(title::allowed_extensions(cfg)));
            if !blacklisted.is_empty() {
                err.data.insert("blacklisted".into(), json!(blacklisted));
            }
        }
        _ => {}
    }
    err
}

/// Size checks, content verification and name normalisation, in MediaWiki's order.
async fn verify_received(
    req: &Req,
    r: &Received,
    requested: &str,
    full: bool,
) -> Result<Checked, ApiError> {
    let cfg = req.app.config.clone();
    if r.size == 0 {
        return Err(ApiError::new(
            "empty-file",
            "The file you submitted was empty.",
        ));
    }
    if r.too_large || r.size > cfg.max_upload_size {
        return Err(crate::body::file_too_large(cfg.max_upload_size));
    }
    let path = r.path.clone();
    let size = r.size;
    let sha1 = r.sha1.clone();
    let requested = requested.to_owned();
    let res = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let content = FileContent::open(&path)?;
        let sniffed = mime::sniff(&content)?;
        let guess = mime::extensions_for_mime(&sniffed)
            .first()
            .map(|e| (*e).to_owned());
        let name = title::normalize_upload_name(&requested, guess.as_deref(), &cfg);
        // The extension verification works with: the final one of the (filtered) name.
        let ext = match &name {
            Ok(n) => n.final_ext.to_lowercase(),
            Err(_) => {
                let filtered = title::strip_illegal_filename_chars(&requested);
                match filtered.rsplit_once('.') {
                    Some((_, e)) => e.trim().to_lowercase(),
                    None => guess.clone().unwrap_or_default(),
                }
            }
        };
        let fprops = props::file_props(&content, Some(&ext), size, &sha1)?;
        let verdict = if full {
            verify::verify_file(&content, &ext, &fprops, &cfg)?
        } else {
            verify::verify_partial(&content, &ext, &fprops, &cfg)?
        };
        Ok((fprops, name, verdict))
    })
    .await
    .map_err(|e| ApiError::internal("MWException", &crate::output::current_request_id(), &e))??;
    let (fprops, name, verdict) = res;
    if let Err(v) = verdict {
        let mut details = vec![Value::String(v.key.clone())];
        details.extend(v.params.iter().map(|p| Value::String(p.clone())));
        return Err(ApiError::new("verification-error", v.info()).with("details", details));
    }
    Ok(Checked {
        props: fprops,
        name,
    })
}

fn file_meta(p: &props::FileProps) -> FileMeta {
    FileMeta {
        size: p.size,
        width: p.width,
        height: p.height,
        bits: p.bits,
        metadata: json!({"metadata": p.metadata, "commonmetadata": p.common_metadata}).to_string(),
        media_type: p.media_type.clone(),
        major_mime: p.major_mime.clone(),
        minor_mime: p.minor_mime.clone(),
        sha1: p.sha1.clone(),
    }
}

/// A new filekey: `<base36 time+µs>.<base36 random>.<user id>.<ext>`.
fn new_filekey(user_id: i64, ext: &str) -> String {
    let now = chrono::Utc::now();
    // Seconds followed by eight sub-second digits, as PHP's microtime() gives them.
    let t: u128 = format!(
        "{}{:08}",
        now.timestamp(),
        now.timestamp_subsec_micros() as u64 * 100
    )
    .parse()
    .unwrap_or(0);
    let r: u32 = rand::thread_rng().gen_range(0..2_176_782_336);
    format!(
        "{}.{}.{}.{}",
        mwstore_domain::base36::to_base36_u128(t),
        mwstore_domain::base36::to_base36_u128(r as u128),
        user_id,
        ext
    )
}

/// Stores the received file in the user's stash; returns the filekey.
async fn stash_file(req: &Req, r: &mut Received, c: &Checked) -> Result<String, ApiError> {
    stash_file_named(req, r, c, false).await
}

async fn stash_file_named(
    req: &Req,
    r: &mut Received,
    c: &Checked,
    chunked: bool,
) -> Result<String, ApiError> {
    let app = &req.app;
    require_stash_user(req)?;
    let cfg = &app.config;
    // The key's extension comes from the content, never a prohibited one.
    let ext = if r.from_url {
        String::new()
    } else {
        mime::extensions_for_mime(&c.props.file_mime)
            .first()
            .map(|e| title::normalize_extension(e))
            .filter(|e| !cfg.prohibited_file_extensions.contains(e))
            .unwrap_or_default()
    };
    let key = new_filekey(req.user.id, &ext);
    let now = chrono::Utc::now();
    let rand_part: String = {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = rand::thread_rng();
        (0..6)
            .map(|_| A[rng.gen_range(0..A.len())] as char)
            .collect()
    };
    let base = if chunked {
        let r: u64 = rand::thread_rng().gen();
        format!("chunkedupload_{:012x}", r & 0xffff_ffff_ffff)
    } else {
        format!("php{rand_part}")
    };
    let temp_name = if ext.is_empty() {
        format!("{}!{base}", mwstore_storage::ts14(now))
    } else {
        format!("{}!{base}.{ext}", mwstore_storage::ts14(now))
    };
    let mut meta = file_meta(&c.props);
    let metadata = std::mem::take(&mut meta.metadata);
    let props_json = json!({
        "file_mime": c.props.file_mime,
        "metadata_json": metadata,
    })
    .to_string();
    meta.metadata = metadata;
    let entry = StashEntry {
        id: 0,
        user_id: req.user.id,
        key: key.clone(),
        meta,
        source_type: Some(if r.from_url { "url" } else { "file" }.into()),
        timestamp: mwstore_storage::ts14(now),
        expires: now.timestamp() + cfg.upload_stash_max_age as i64,
        status: "finished".into(),
        chunk_inx: None,
        props: props_json,
        temp_name,
    };
    let _gc = app.blob_gc.lock().await;
    if let Some(temp) = r.temp.take() {
        app.blobs.commit(temp, &r.sha1).await?;
        r.path = app.blobs.path(&r.sha1);
    }
    app.repo.stash_insert(&entry).await?;
    Ok(key)
}

/// For recoverable errors: stash the file and add `filekey`/`sessionkey` (or `stasherrors`).
async fn stash_recoverable(
    req: &Req,
    r: &mut Received,
    c: &Checked,
    err: &mut ApiError,
) -> Result<(), ApiError> {
    match stash_file(req, r, c).await {
        Ok(key) => {
            err.data.insert("filekey".into(), key.clone().into());
            err.data.insert("sessionkey".into(), key.into());
        }
        Err(e) => {
            err.data.insert(
                "stasherrors".into(),
                json!([{"message": e.code, "params": [], "code": e.code, "type": "error", "info": e.info}]),
            );
        }
    }
    Ok(())
}

/// What is known of `File:<name>` when an upload is checked: its page and its current
/// file, read once for the permission checks and the warnings.
struct TitleState {
    page: Option<mwstore_storage::Page>,
    current: Option<mwstore_storage::FileVersion>,
}

impl TitleState {
    /// Reads the page before the file: a publish writes both in one transaction, so a file
    /// committed meanwhile is seen by the second read whenever its page was by the first.
    async fn load(req: &Req, dbkey: &str) -> Result<TitleState, ApiError> {
        let page = req.app.repo.page(NS_FILE, dbkey).await?;
        let current = req.app.repo.current_file(dbkey).await?;
        Ok(TitleState { page, current })
    }
}

/// Title permissions for publishing to `File:<name>` (protection, creation, overwrite).
async fn title_permissions(req: &Req, name: &str, state: &TitleState) -> Result<(), ApiError> {
    let app = &req.app;
    if let Some(p) = &state.page {
        for (ty, level, _) in app.repo.restrictions(p.id).await? {
            if ty != "edit" && ty != "upload" {
                continue;
            }
            let needed = match level.as_str() {
                "sysop" => "editprotected",
                "autoconfirmed" => "editsemiprotected",
                other => other,
            };
            if !req.user.can(needed) {
                return Err(ApiError::new(
                    "protectedpage",
                    "This page has been protected to prevent editing or other actions.",
                ));
            }
        }
    } else if !req.user.can("createpage") {
        return Err(if req.user.is_anon() {
            ApiError::new(
                "cantcreate-anon",
                "Anonymous users cannot create new pages.",
            )
        } else {
            ApiError::new(
                "cantcreate",
                "You do not have permission to create new pages.",
            )
        });
    }
    if let Some(cur) = &state.current {
        let own = cur.user_id == req.user.id;
        if !(req.user.can("reupload") || (own && req.user.can("reupload-own"))) {
            let text = name.replace('_', " ");
            return Err(ApiError::new(
                "fileexists-forbidden",
                format!("A file with this name already exists, and cannot be overwritten. If you still want to upload your file, please go back and use a new name. [[File:{text}|thumb|center|{text}]]"),
            ));
        }
    }
    Ok(())
}

/// The upload warnings of SPEC section 4, in MediaWiki's order (the exists family and
/// `nochange`/`duplicateversions` last).
async fn compute_warnings(
    req: &Req,
    requested: &str,
    name: &UploadName,
    p: &props::FileProps,
    state: &TitleState,
) -> Result<Map<String, Value>, ApiError> {
    content_warnings(req, requested, name, p.size, Some(&p.sha1), state).await
}

/// Warnings from the name, the size and (when known) the content's SHA-1.
async fn content_warnings(
    req: &Req,
    requested: &str,
    name: &UploadName,
    size: u64,
    sha1: Option<&str>,
    state: &TitleState,
) -> Result<Map<String, Value>, ApiError> {
    let app = &req.app;
    let cfg = &app.config;
    let repo = &app.repo;
    let dbkey = &name.dbkey;
    let mut w = Map::new();
    if title::is_bad_filename(requested, dbkey) || name.extension_guessed {
        w.insert("badfilename".into(), dbkey.clone().into());
    }
    if name.unwanted_type {
        let allowed = title::allowed_extensions(cfg);
        w.insert(
            "filetype-unwanted-type".into(),
            json!([name.final_ext, allowed.join(", "), allowed.len()]),
        );
    }
    if cfg.upload_size_warning > 0 && size > cfg.upload_size_warning {
        w.insert(
            "large-file".into(),
            json!([{"size": cfg.upload_size_warning}, {"size": size}]),
        );
    }
    if size == 0 {
        w.insert("empty-file".into(), true.into());
    }
    let page_exists = state.page.is_some();
    let current = &state.current;
    let mut tail = Map::new();
    if let Some(cur) = current {
        tail.insert("exists".into(), dbkey.clone().into());
        if sha1.is_none() {
            // Content not known yet (a chunk in progress): name-based warnings only.
        } else if Some(cur.meta.sha1.as_str()) == sha1 {
            tail.insert(
                "nochange".into(),
                json!({"timestamp": mwstore_storage::ts14_to_iso(&cur.timestamp)}),
            );
        } else {
            let history = repo.file_history(dbkey).await?;
            let dups: Vec<Value> = history
                .iter()
                .skip(1)
                .filter(|v| Some(v.meta.sha1.as_str()) == sha1)
                .map(|v| json!({"timestamp": mwstore_storage::ts14_to_iso(&v.timestamp)}))
                .collect();
            if !dups.is_empty() {
                tail.insert("duplicateversions".into(), Value::Array(dups));
            }
        }
    } else if page_exists {
        tail.insert("page-exists".into(), dbkey.clone().into());
    } else if let Some(other) = exists_normalized(req, dbkey).await? {
        tail.insert("exists-normalized".into(), other.into());
    } else if let Some(base) = title::thumb_base_name(dbkey) {
        if repo.current_file(&base).await?.is_some() {
            tail.insert("thumb".into(), dbkey.clone().into());
        } else {
            tail.insert("thumb-name".into(), dbkey.clone().into());
        }
    } else if title::has_bad_prefix(dbkey) {
        tail.insert("bad-prefix".into(), dbkey.clone().into());
    }
    if current.is_none() && repo.has_deleted_revisions(NS_FILE, dbkey).await? {
        w.insert("was-deleted".into(), dbkey.clone().into());
    }
    let Some(sha1) = sha1 else {
        w.extend(tail);
        return Ok(w);
    };
    let dups: Vec<String> = repo
        .names_by_sha1(sha1)
        .await?
        .into_iter()
        .filter(|n| n != dbkey)
        .collect();
    if !dups.is_empty() {
        w.insert("duplicate".into(), json!(dups));
    }
    if let Some(a) = repo.archived_by_sha1(sha1).await?.first() {
        // MediaWiki names the deleted file to every user who may upload.
        w.insert("duplicate-archive".into(), a.name.clone().into());
    }
    w.extend(tail);
    Ok(w)
}

async fn exists_normalized(req: &Req, dbkey: &str) -> Result<Option<String>, ApiError> {
    let repo = &req.app.repo;
    if let Some(cand) = title::exists_normalized_candidate(dbkey) {
        if cand != dbkey && repo.current_file(&cand).await?.is_some() {
            return Ok(Some(cand));
        }
    }
    let prefix = title::similar_name_prefix(dbkey);
    if let Some(n) = repo.first_name_with_prefix(&prefix).await? {
        if n != dbkey {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

fn rate_limited(req: &Req) -> Option<i64> {
    let rule = req.app.config.upload_rate_limit?;
    // MediaWiki's default limits apply to anonymous and new (not autoconfirmed) users.
    if req.user.can("noratelimit") || req.user.can("autoconfirmed") {
        return None;
    }
    let now = Req::now();
    let map = match req.app.upload_rate.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    let times = map.get(&req.user.id)?;
    let recent: Vec<&i64> = times
        .iter()
        .filter(|t| **t > now - rule.seconds as i64)
        .collect();
    if recent.len() >= rule.count as usize {
        let oldest = recent.iter().map(|t| **t).min().unwrap_or(now);
        return Some((oldest + rule.seconds as i64 - now).max(1));
    }
    None
}

fn record_upload(req: &Req) {
    let Some(rule) = req.app.config.upload_rate_limit else {
        return;
    };
    if req.user.can("noratelimit") || req.user.can("autoconfirmed") {
        return;
    }
    let now = Req::now();
    let mut map = match req.app.upload_rate.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    let v = map.entry(req.user.id).or_default();
    v.retain(|t| *t > now - rule.seconds as i64);
    v.push(now);
}

/// `checkstatus`: there are no asynchronous or chunked uploads in progress for this key.
async fn check_status(req: &Req, key: &str) -> Result<Map<String, Value>, ApiError> {
    require_stash_user(req)?;
    // Asynchronous steps keep their status; then uploads in progress report theirs; a
    // finished or unknown key has none.
    if let Some(st) = crate::jobs::status(&req.app, req.user.id, key).await? {
        if st["result"] == "Failure" {
            return Err(crate::jobs::failure_error(&st));
        }
        return Ok(wrap(st.as_object().cloned().unwrap_or_default()));
    }
    if let Some(e) = req.app.repo.stash_get(key).await? {
        if e.user_id == req.user.id && e.status == "chunks" && e.expires > Req::now() {
            let mut out = Map::new();
            out.insert("result".into(), "Continue".into());
            out.insert("stage".into(), "uploading".into());
            out.insert("offset".into(), e.meta.size.into());
            return Ok(wrap(out));
        }
    }
    Err(ApiError::new("missingresult", "No result in status data."))
}

/// The running state of a chunked upload: the hash of the bytes stored so far.
#[derive(Default)]
pub struct ChunkState {
    hasher: Option<Sha1>,
    /// Bytes covered by `hasher`.
    hashed: u64,
}

/// The parameters of a chunk request.
struct ChunkRequest {
    filename: String,
    filekey: Option<String>,
    offset: i64,
    filesize: Option<i64>,
    stash: bool,
    ignorewarnings: bool,
    async_mode: bool,
}

fn chunk_offset_error(expected: u64) -> ApiError {
    // MediaWiki sends the expected offset as a string; clients read it with int().
    ApiError::new("stashfailed", "Invalid chunk offset").with("offset", expected.to_string())
}

/// One chunk of a chunked upload: appended to the upload's single file and hashed on the
/// way; the last one completes the file into a new stash entry.
async fn chunk_upload(
    req: &mut Req,
    c: ChunkRequest,
    mut chunk: crate::params::UploadedFile,
) -> Result<Map<String, Value>, ApiError> {
    let app = req.app.clone();
    let cfg = &app.config;
    let result = chunk_upload_inner(req, &c, &mut chunk).await;
    chunk.blob.discard().await;
    let _ = cfg;
    result
}

async fn chunk_upload_inner(
    req: &mut Req,
    c: &ChunkRequest,
    chunk: &mut crate::params::UploadedFile,
) -> Result<Map<String, Value>, ApiError> {
    let app = req.app.clone();
    let cfg = &app.config;
    // Mode checks.
    let session = match (&c.filekey, c.offset) {
        (Some(_), 0) => {
            return Err(ApiError::new(
                "filekeynotallowed",
                "Cannot supply a \"filekey\" when \"offset\" is 0.",
            ))
        }
        (None, o) if o != 0 => {
            return Err(ApiError::new(
                "filekeyneeded",
                "Must supply a \"filekey\" when \"offset\" is non-zero.",
            ))
        }
        (Some(key), _) => {
            require_stash_user(req)?;
            Some(load_stash(req, key).await?)
        }
        (None, _) => None,
    };
    // Permissions.
    require_rights(req, &["upload", "edit"])?;
    let len = chunk.size;
    // A declared size over the limit is refused up front (MediaWiki clamps it and fails
    // only at the end, after the client has sent everything).
    let declared_too_large = req
        .params
        .raw("filesize")
        .and_then(|s| s.trim().parse::<u128>().ok())
        .is_some_and(|s| s > cfg.max_upload_size as u128);
    if chunk.too_large || declared_too_large {
        return Err(crate::body::file_too_large(cfg.max_upload_size));
    }
    // Name: any problem is a plain illegal-filename for chunks.
    let chunk_path = chunk.blob.path().to_path_buf();
    let guess = {
        let p = chunk_path.clone();
        tokio::task::spawn_blocking(move || mime::sniff(&FileContent::open(&p)?))
            .await
            .map_err(|e| {
                ApiError::internal("MWException", &crate::output::current_request_id(), &e)
            })??
    };
    let guess_ext = mime::extensions_for_mime(&guess)
        .first()
        .map(|e| (*e).to_owned());
    let name = match title::normalize_upload_name(&c.filename, guess_ext.as_deref(), cfg) {
        Ok(n) => n,
        Err(_) => {
            return Err(ApiError::new(
                "illegal-filename",
                "The filename is not allowed.",
            ))
        }
    };
    let state = TitleState::load(req, &name.dbkey).await?;
    if !c.stash {
        title_permissions(req, &name.dbkey, &state).await?;
    }
    let warnings = content_warnings(req, &c.filename, &name, len, None, &state).await?;
    if !warnings.is_empty() && !c.ignorewarnings {
        // Like MediaWiki, answer with a Warning and keep this chunk in the stash; the entry
        // is an unfinished upload and can never be published as if it were whole.
        let key = new_filekey(
            req.user.id,
            &guess_ext
                .clone()
                .map(|e| title::normalize_extension(&e))
                .unwrap_or_default(),
        );
        app.blobs
            .chunk_append(&key, 0, &chunk_path, Sha1::new())
            .await?;
        insert_chunk_entry(req, &key, len).await?;
        let mut out = Map::new();
        out.insert("result".into(), "Warning".into());
        out.insert("warnings".into(), Value::Object(warnings));
        out.insert("filekey".into(), key.clone().into());
        out.insert("sessionkey".into(), key.into());
        return Ok(wrap(out));
    }
    let offset = c.offset.max(0) as u64;
    let filesize = c.filesize.map(|f| f.max(0) as u64);
    match filesize {
        Some(fs) if offset + len <= fs => {}
        _ => {
            return Err(ApiError::new(
                "invalid-chunk",
                "Offset plus current chunk is greater than claimed file size.",
            ))
        }
    }
    let filesize = filesize.unwrap_or(0);
    let is_final = offset + len == filesize;
    if !is_final && len < cfg.min_upload_chunk_size {
        return Err(ApiError::new(
            "chunk-too-small",
            format!(
                "Minimum chunk size is {} bytes for non-final chunks.",
                group_digits(cfg.min_upload_chunk_size)
            ),
        ));
    }
    let (key, new_size) = match session {
        None => {
            let ext = mime::extensions_for_mime(&guess)
                .first()
                .map(|e| title::normalize_extension(e))
                .filter(|e| !cfg.prohibited_file_extensions.contains(e))
                .unwrap_or_default();
            let key = new_filekey(req.user.id, &ext);
            let lock = app.chunk_session(&key);
            let mut st = lock.lock().await;
            let h = app
                .blobs
                .chunk_append(&key, 0, &chunk_path, Sha1::new())
                .await?;
            st.hasher = Some(h);
            st.hashed = len;
            insert_chunk_entry(req, &key, len).await?;
            (key, len)
        }
        Some(entry) => {
            let key = entry.key.clone();
            let lock = app.chunk_session(&key);
            let mut st = lock.lock().await;
            // Re-read under the lock: another request may have appended meanwhile.
            let Some(entry) = app.repo.stash_get(&key).await? else {
                return Err(ApiError::new(
                    "uploadstash-file-not-found",
                    format!("Key \"{key}\" not found in stash."),
                ));
            };
            if entry.status != "chunks" {
                return Err(ApiError::new(
                    "stashfailed",
                    "Chunked upload is already completed, check status for details.",
                ));
            }
            let stored = entry.meta.size;
            if offset != stored {
                // A resend of bytes already stored (a client retrying after a lost
                // response) is answered with the current state.
                let resend = offset < stored
                    && offset + len <= stored
                    && app
                        .blobs
                        .chunk_matches(&key, offset, &chunk_path)
                        .await
                        .unwrap_or(false);
                if resend {
                    let mut out = Map::new();
                    out.insert("result".into(), "Continue".into());
                    out.insert("offset".into(), stored.into());
                    out.insert("filekey".into(), key.into());
                    return Ok(wrap_with_warnings(out, warnings));
                }
                return Err(chunk_offset_error(stored));
            }
            if stored + len > cfg.max_upload_size {
                return Err(
                    ApiError::new("stashfailed", "The file you submitted was too large.")
                        .with("offset", stored.to_string()),
                );
            }
            // The running hash lives in memory; after a restart it is rebuilt once from
            // the stored bytes.
            let h = match st.hasher.take() {
                Some(h) if st.hashed == stored => h,
                _ => app.blobs.chunk_hash_prefix(&key, stored).await?,
            };
            st.hashed = 0;
            let h = match app.blobs.chunk_append(&key, offset, &chunk_path, h).await {
                Ok(h) => h,
                Err(e) => {
                    // Nothing past the acknowledged offset counts: the upload stays where
                    // it was and the client can send the chunk again.
                    let e: ApiError = e.into();
                    return Err(ApiError::new(
                        "stashfailed",
                        format!("The chunk could not be stored ({}); send it again.", e.info),
                    )
                    .with("offset", stored.to_string()));
                }
            };
            st.hasher = Some(h);
            st.hashed = stored + len;
            let inx = entry.chunk_inx.unwrap_or(0) + 1;
            app.repo
                .stash_update_chunks(&key, stored + len, inx)
                .await?;
            (key, stored + len)
        }
    };
    if !is_final {
        let mut out = Map::new();
        out.insert("result".into(), "Continue".into());
        out.insert("offset".into(), new_size.into());
        out.insert("filekey".into(), key.into());
        return Ok(wrap_with_warnings(out, warnings));
    }
    if c.async_mode {
        return crate::jobs::queue_assemble(req, &key, &c.filename, warnings).await;
    }
    finish_chunks(req, &c.filename, &key, new_size).await
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn wrap_with_warnings(
    inner: Map<String, Value>,
    warnings: Map<String, Value>,
) -> Map<String, Value> {
    if warnings.is_empty() {
        return wrap(inner);
    }
    // With ignorewarnings the warnings come first, as MediaWiki places them.
    let mut m = Map::new();
    m.insert("warnings".into(), Value::Object(warnings));
    m.extend(inner);
    wrap(m)
}

async fn insert_chunk_entry(req: &Req, key: &str, size: u64) -> Result<(), ApiError> {
    let now = chrono::Utc::now();
    let entry = StashEntry {
        id: 0,
        user_id: req.user.id,
        key: key.to_owned(),
        meta: FileMeta {
            size,
            width: 0,
            height: 0,
            bits: 0,
            metadata: "{}".into(),
            media_type: "UNKNOWN".into(),
            major_mime: "unknown".into(),
            minor_mime: "unknown".into(),
            sha1: String::new(),
        },
        source_type: Some("file".into()),
        timestamp: mwstore_storage::ts14(now),
        expires: now.timestamp() + req.app.config.upload_stash_max_age as i64,
        status: "chunks".into(),
        chunk_inx: Some(0),
        props: "{}".into(),
        temp_name: String::new(),
    };
    req.app.repo.stash_insert(&entry).await?;
    Ok(())
}

/// The last chunk arrived: the file is complete. Its hash is already known; it is moved
/// into the blob store without copying, verified once, and stashed under a new key.
pub(crate) async fn finish_chunks(
    req: &mut Req,
    filename: &str,
    key: &str,
    size: u64,
) -> Result<Map<String, Value>, ApiError> {
    let app = req.app.clone();
    let lock = app.chunk_session(key);
    let st = lock.lock().await;
    let h = match st.hasher.clone() {
        Some(h) if st.hashed == size => h,
        // After a restart the running hash is rebuilt once from the stored bytes.
        _ => app.blobs.chunk_hash_prefix(key, size).await?,
    };
    let sha1 = hex::encode(h.finalize());
    drop(st);
    {
        let _gc = app.blob_gc.lock().await;
        app.blobs.chunk_commit(key, &sha1).await?;
        // The finished file now lives in the blob store; the chunk entry goes away.
        app.repo.stash_delete(key).await?;
    }
    app.drop_chunk_session(key);
    let mut received = Received {
        path: app.blobs.path(&sha1),
        size,
        sha1: sha1.clone(),
        temp: None,
        from_stash: None,
        from_url: false,
        too_large: false,
    };
    let checked = match verify_received(req, &received, filename, true).await {
        Ok(ch) => ch,
        Err(e) => {
            app.collect_blob(&sha1).await;
            // Keep the specific reason, under the code clients expect at this step.
            let mut err = ApiError::new("stashfailed", e.info.clone());
            for (k, v) in &e.data {
                err.data.insert(k.clone(), v.clone());
            }
            err.data
                .insert("verification".into(), e.code.clone().into());
            return Err(err);
        }
    };
    let warnings = match &checked.name {
        Ok(n) => {
            let state = TitleState::load(req, &n.dbkey).await?;
            compute_warnings(req, filename, n, &checked.props, &state).await?
        }
        Err(_) => Map::new(),
    };
    let new_key = stash_file_named(req, &mut received, &checked, true).await?;
    let mut out = Map::new();
    if !warnings.is_empty() {
        out.insert("warnings".into(), Value::Object(warnings));
    }
    out.insert("result".into(), "Success".into());
    out.insert("filekey".into(), new_key.clone().into());
    if let Some(e) = app.repo.stash_get(&new_key).await? {
        out.insert(
            "imageinfo".into(),
            Value::Object(query::stash_info(&app, &e, &InfoProps::all())),
        );
    }
    Ok(wrap(out))
}
