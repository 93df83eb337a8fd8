//! `action=upload` parsed into a typed request before anything runs: the parameters are
//! validated from the module table ([`crate::params::typed`]), the framework checks follow
//! (token, write rights, POST), and the mode is chosen. Every invalid mix
//! (`missingparam`, `invalidparammix`, `nofilename`, `filekeynotallowed`, ...) is refused
//! here; the handlers only ever see a valid [`UploadRequest`].

use crate::context::Req;
use crate::error::{ApiError, Code};
use crate::params::table::module_by_path;
use crate::params::{typed, UploadedFile};

/// What every mode shares.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub comment: String,
    /// Text of a new description page (the comment when absent).
    pub text: Option<String>,
    /// The deprecated `watch` flag.
    pub watch: bool,
    /// `watch`, `preferences` or `nochange`.
    pub watchlist: String,
    pub ignorewarnings: bool,
    pub stash: bool,
    /// `async`, when the server runs asynchronous uploads.
    pub async_mode: bool,
}

/// Where the bytes come from.
#[derive(Debug)]
pub enum Mode {
    /// A file part (`file`).
    File {
        filename: String,
        file: UploadedFile,
    },
    /// A URL to fetch (`url`).
    Url { filename: String, url: String },
    /// A file in the user's stash (`filekey`).
    Stashed { filename: String, filekey: String },
    /// One chunk of a chunked upload (`chunk`).
    Chunk {
        filename: String,
        chunk: ChunkRequest,
    },
    /// The status of an upload step (`checkstatus` with `filekey`).
    CheckStatus { filekey: String },
}

/// One chunk and where it goes.
#[derive(Debug)]
pub struct ChunkRequest {
    pub chunk: UploadedFile,
    /// The upload it continues; `None` for the first chunk (offset 0).
    pub filekey: Option<String>,
    pub offset: u64,
    /// The claimed total size (`filesize`, clamped to the maximum).
    pub filesize: Option<u64>,
    /// The claimed total size was over the maximum before clamping.
    pub declared_too_large: bool,
}

/// A valid `action=upload` request.
#[derive(Debug)]
pub struct UploadRequest {
    pub opts: Options,
    pub mode: Mode,
}

/// Whether a filekey has MediaWiki's form `^[\w\-.]+\.\w*$` (ASCII word characters).
pub fn filekey_format_ok(key: &str) -> bool {
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

fn join_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

fn no_source() -> ApiError {
    ApiError::new(
        Code::MissingParam,
        "One of the parameters \"filekey\", \"file\" and \"url\" is required.",
    )
}

fn no_filename() -> ApiError {
    ApiError::new(Code::NoFilename, "The \"filename\" parameter must be set.")
}

impl UploadRequest {
    /// Parses the request, in MediaWiki's order: parameters, then the token, write rights and
    /// POST checks, then whether uploads are enabled, then the mode.
    pub fn parse(req: &mut Req) -> Result<UploadRequest, ApiError> {
        let cfg = &req.app.config;
        let module = module_by_path("upload")
            .ok_or_else(|| ApiError::new(Code::BadValue, "The upload module is missing."))?;
        let p = typed::parse(&req.params, module, cfg.max_upload_size)?;
        let declared_too_large = req
            .params
            .raw("filesize")
            .and_then(|s| s.trim().parse::<u128>().ok())
            .is_some_and(|s| s > cfg.max_upload_size as u128);
        let enable_uploads = cfg.enable_uploads;
        let max_article_kib = cfg.max_article_size;
        let async_mode = p.flag("async") && cfg.enable_async_uploads;
        req.check_module(Some("csrf"), true, true)?;
        if !enable_uploads {
            return Err(ApiError::new(Code::UploadDisabled, "Uploads disabled."));
        }
        // The page text (or the comment that stands in for it) must fit a page.
        let max_article = max_article_kib.saturating_mul(1024);
        for name in ["text", "comment"] {
            if p.str(name).is_some_and(|v| v.len() as u64 > max_article) {
                return Err(ApiError::new(
                    Code::ContentTooBig,
                    format!(
                        "The content you supplied exceeds the article size limit of {} {}.",
                        crate::params::format_num(
                            i64::try_from(max_article_kib).unwrap_or(i64::MAX)
                        ),
                        if max_article_kib == 1 {
                            "kibibyte"
                        } else {
                            "kibibytes"
                        }
                    ),
                ));
            }
        }
        let opts = Options {
            comment: p.str("comment").unwrap_or_default().to_owned(),
            text: p.str("text").map(str::to_owned),
            watch: p.flag("watch"),
            watchlist: p.str("watchlist").unwrap_or("preferences").to_owned(),
            ignorewarnings: p.flag("ignorewarnings"),
            stash: p.flag("stash"),
            async_mode,
        };
        let filename = p.str("filename").map(str::to_owned);
        let url = p.non_empty("url").map(str::to_owned);
        let filekey = p
            .non_empty("filekey")
            .or_else(|| p.non_empty("sessionkey"))
            .map(str::to_owned);
        let offset = p.int("offset").unwrap_or(0);

        // A chunk wins over every other source.
        if req.params.is_file("chunk") {
            let filename = filename.ok_or_else(no_filename)?;
            let chunk = req
                .params
                .take_file("chunk")
                .ok_or_else(|| ApiError::new(Code::BadUpload, "The chunk could not be read."))?;
            match (&filekey, offset) {
                (Some(_), 0) => {
                    return Err(ApiError::new(
                        Code::FilekeyNotAllowed,
                        "Cannot supply a \"filekey\" when \"offset\" is 0.",
                    ))
                }
                (None, o) if o != 0 => {
                    return Err(ApiError::new(
                        Code::FilekeyNeeded,
                        "Must supply a \"filekey\" when \"offset\" is non-zero.",
                    ))
                }
                _ => {}
            }
            let chunk = ChunkRequest {
                chunk,
                filekey,
                offset: offset.max(0) as u64,
                filesize: p.int("filesize").map(|f| f.max(0) as u64),
                declared_too_large,
            };
            return Ok(UploadRequest {
                opts,
                mode: Mode::Chunk { filename, chunk },
            });
        }
        let has_file = req.params.is_file("file");
        if p.flag("checkstatus") {
            if let Some(filekey) = filekey.clone() {
                return Ok(UploadRequest {
                    opts,
                    mode: Mode::CheckStatus { filekey },
                });
            }
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
        if given.is_empty() {
            return Err(no_source());
        }
        if given.len() > 1 {
            return Err(ApiError::new(
                Code::InvalidParamMix,
                format!(
                    "The parameters {} can not be used together.",
                    join_names(&given)
                ),
            ));
        }
        let filename = filename.ok_or_else(no_filename)?;
        let mode = if let Some(filekey) = filekey {
            if !filekey_format_ok(&filekey) {
                return Err(ApiError::new(Code::InvalidFileKey, "Not a valid file key."));
            }
            Mode::Stashed { filename, filekey }
        } else if has_file {
            if opts.async_mode {
                return Err(ApiError::new(
                    Code::CannotAsyncUploadFile,
                    "The parameters \"async\" and \"file\" cannot be combined. If you want asynchronous processing of your uploaded file, first upload it to stash (using the \"stash\" parameter) and then publish the stashed file asynchronously (using \"filekey\" and \"async\").",
                ));
            }
            let file = req.params.take_file("file").ok_or_else(no_source)?;
            Mode::File { filename, file }
        } else {
            Mode::Url {
                filename,
                url: url.unwrap_or_default(),
            }
        };
        Ok(UploadRequest { opts, mode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filekey_forms() {
        assert!(filekey_format_ok("1d3nrxb3s56c.2fx7ie.1.png"));
        assert!(filekey_format_ok("1d3nryndb7u0.s3tj2x.1."));
        assert!(!filekey_format_ok("nodot"));
        assert!(!filekey_format_ok(".png"));
        assert!(!filekey_format_ok("a/b.png"));
        assert!(!filekey_format_ok("a.p-g"));
    }

    #[test]
    fn names_are_joined_as_mediawiki_joins_them() {
        assert_eq!(join_names(&["file", "url"]), "\"file\" and \"url\"");
        assert_eq!(
            join_names(&["file", "url", "filekey"]),
            "\"file\", \"url\" and \"filekey\""
        );
    }
}
