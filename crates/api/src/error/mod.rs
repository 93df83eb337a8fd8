//! API errors: one type carrying MediaWiki's `code`, `info` and extra data, and the single
//! place where internal failures are mapped to API codes.
//!
//! Every code the server answers with is declared once, with its HTTP status, in the table of
//! [`codes`] ([`Code`]); [`ApiError::new`] takes a [`Code`]. The only codes outside the table
//! come from closed sets defined elsewhere, through [`ApiError::from_wire`].

pub mod codes;

pub use codes::Code;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use mwstore_storage::StoreError;

/// An error as the Action API reports it (boxed: errors travel through every `Result`).
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorData>);

impl std::ops::Deref for ApiError {
    type Target = ApiErrorData;
    fn deref(&self) -> &ApiErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorData {
        &mut self.0
    }
}

/// The parts of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ApiErrorData {
    pub code: String,
    pub info: String,
    /// Extra data merged into the error object (bc format) or put under `data`.
    pub data: Map<String, Value>,
    pub status: StatusCode,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// An error with a code of the table, and the HTTP status the table gives it (200, as
    /// MediaWiki answers every API error, for all but a few).
    pub fn new(code: Code, info: impl Into<String>) -> Self {
        Self::build(code.as_str().to_owned(), info.into(), code.status())
    }

    /// An error whose code is computed at run time, with HTTP status 200. Only for codes from
    /// a closed set defined elsewhere, that the table of [`Code`] cannot list: a file-name
    /// error's code (`mwstore_domain::title::NameError::code`), the message key of a failed
    /// content check (`mwstore_domain::verdict::VerificationError::key`, e.g.
    /// `filetype-badmime`) and `internal_api_error_<class>` (built by [`ApiError::internal`]).
    /// Every other error uses [`ApiError::new`].
    pub fn from_wire(code: impl Into<String>, info: impl Into<String>) -> Self {
        Self::build(code.into(), info.into(), StatusCode::OK)
    }

    fn build(code: String, info: String, status: StatusCode) -> Self {
        ApiError(Box::new(ApiErrorData {
            code,
            info,
            data: Map::new(),
            status,
            headers: Vec::new(),
        }))
    }

    /// Adds an extra data member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }

    /// `missingparam` for a parameter that must be set.
    pub fn missing_param(name: &str) -> Self {
        ApiError::new(
            Code::MissingParam,
            format!("The \"{name}\" parameter must be set."),
        )
    }

    /// `badvalue` for an unrecognised enum value.
    pub fn bad_value(name: &str, value: &str) -> Self {
        ApiError::new(
            Code::BadValue,
            format!("Unrecognized value for parameter \"{name}\": {value}."),
        )
    }

    /// `permissiondenied` with the groups that hold the missing right.
    pub fn permission_denied(groups: &[String], sitename: &str) -> Self {
        let info = match groups.len() {
            0 => "You are not allowed to execute the action you have requested.".to_owned(),
            1 => format!(
                "The action you have requested is limited to users in the group: {}.",
                group_link(&groups[0], sitename)
            ),
            _ => format!(
                "The action you have requested is limited to users in one of the groups: {}.",
                groups
                    .iter()
                    .map(|g| group_link(g, sitename))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        ApiError::new(Code::PermissionDenied, info)
    }

    /// An internal failure: logged with the request id, reported as
    /// `internal_api_error_<class>` without internal details.
    pub fn internal(class: &str, request_id: &str, err: &dyn std::fmt::Display) -> Self {
        tracing::error!(request_id, error = %err, "internal error");
        ApiError::from_wire(
            format!("internal_api_error_{class}"),
            format!("[{request_id}] Exception caught: {class}"),
        )
        .with("errorclass", class)
    }
}

fn group_link(group: &str, sitename: &str) -> String {
    let member = match group {
        "sysop" => "Administrators",
        "bureaucrat" => "Bureaucrats",
        "bot" => "Bots",
        "user" => "Users",
        "autoconfirmed" => "Autoconfirmed users",
        "interface-admin" => "Interface administrators",
        "suppress" => "Suppressors",
        other => other,
    };
    format!("[[{sitename}:{member}|{member}]]")
}

/// Whether an I/O error means the disk (or the quota) is full.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28) | Some(122))
}

fn disk_full() -> ApiError {
    ApiError::new(
        Code::BackendFailWritetemp,
        "Could not write to temporary file: the server is out of disk space. Nothing was kept; try again later.",
    )
}

impl ApiError {
    /// `uploadstash-file-not-found` for a filekey.
    pub fn stash_not_found(key: &str) -> Self {
        ApiError::new(
            Code::UploadstashFileNotFound,
            format!("Key \"{key}\" not found in stash."),
        )
    }

    /// A task (blocking work, or work that must not stop with its request) that failed or
    /// panicked.
    pub fn task_failed(e: tokio::task::JoinError) -> Self {
        ApiError::internal(
            "MWException",
            &crate::http::request_id::current_request_id(),
            &e,
        )
    }

    /// `uploadstash-file-not-found-not-exists`: an entry whose bytes are gone.
    pub fn stash_bytes_missing() -> Self {
        ApiError::new(
            Code::UploadstashFileNotFoundNotExists,
            "Cannot find path, or not a plain file.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Io(io) = &e {
            if is_disk_full(io) {
                return disk_full();
            }
        }
        if let StoreError::StashGone(key) = &e {
            return ApiError::stash_not_found(key);
        }
        let class = match &e {
            StoreError::Db(_) | StoreError::Migrate(_) => "DBQueryError",
            StoreError::Io(_) => "FileBackendError",
            _ => "MWException",
        };
        let id = crate::http::request_id::current_request_id();
        ApiError::internal(class, &id, &e)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        if is_disk_full(&e) {
            return disk_full();
        }
        let id = crate::http::request_id::current_request_id();
        ApiError::internal("FileBackendError", &id, &e)
    }
}
