//! A client for the MediaWiki Action API's upload module.
//!
//! It talks to any MediaWiki-compatible `api.php`: mwstore or MediaWiki itself. It logs in (bot
//! passwords through `action=login`, main accounts through `action=clientlogin`), keeps a CSRF
//! token (fetching a new one on `badtoken`), honours `maxlag` and `ratelimited` answers, retries
//! transient HTTP and network failures with a bounded exponential backoff, and uploads files
//! either in one request or in chunks, polling `checkstatus` for asynchronous work. Chunked
//! uploads can be resumed from the server's offset through a small [`ResumeState`] file.

mod client;
mod error;
mod resume;
mod util;

pub use client::{
    Client, Event, RetryPolicy, SiteInfo, UploadOutcome, UploadRequest, UrlUploadRequest,
};
pub use error::{Error, Result};
pub use resume::{FileIdentity, ResumeState};
pub use util::{describe_warnings, parse_size, render_name_template, TemplateError};
