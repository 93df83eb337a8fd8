//! Errors of the client.

use std::path::PathBuf;

/// Result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while talking to the API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be sent or its answer not read.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an HTTP status other than 200 that is not retried.
    #[error("the server answered HTTP {status}: {body}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer is not what the API answers (not JSON, or a field is missing).
    #[error("unexpected answer from the API: {0}")]
    Protocol(String),
    /// The API answered with an error.
    #[error("API error {code}: {info}")]
    Api {
        /// The error code (`error.code`).
        code: String,
        /// The error text (`error.info`).
        info: String,
        /// The whole `error` object (for data such as `offset`).
        data: serde_json::Value,
    },
    /// Logging in failed.
    #[error("login failed: {0}")]
    Login(String),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The API address is not a valid URL.
    #[error("invalid API URL: {0}")]
    Url(#[from] url::ParseError),
    /// The file is larger than the server accepts.
    #[error("the file has {size} bytes; the server accepts at most {max}")]
    TooLarge {
        /// Size of the file.
        size: u64,
        /// The server's `maxuploadsize`.
        max: u64,
    },
    /// The local file changed while it was being uploaded.
    #[error("{} changed while it was being uploaded", path.display())]
    FileChanged {
        /// The file concerned.
        path: PathBuf,
    },
    /// Retrying did not help.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// How many requests were sent.
        attempts: u32,
        /// The last failure.
        last: Box<Error>,
    },
    /// Polling `checkstatus` took longer than allowed.
    #[error("the server did not finish {stage} within {secs} s")]
    PollTimeout {
        /// The last stage the server reported.
        stage: String,
        /// The time waited.
        secs: u64,
    },
}

impl Error {
    /// The API error code, if this is an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::GaveUp { last, .. } => last.code(),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
