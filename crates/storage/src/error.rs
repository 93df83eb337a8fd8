//! Errors of the storage layer.

/// What can go wrong below the protocol layer. The API maps each variant to a MediaWiki
/// error code in one place.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Re-upload of content identical to the current version.
    #[error("the upload is an exact duplicate of the current version")]
    NoChange,
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The stash entry a step was to consume or change is gone, or no longer in the state
    /// the step expected (published, assembled or removed meanwhile).
    #[error("stash entry {0} is gone")]
    StashGone(String),
    /// Bytes offered for a blob do not hash to the name they were offered under.
    #[error("content does not match its name: expected {expected}, got {actual}")]
    BlobMismatch { expected: String, actual: String },
    /// A job's lease was taken over by another worker.
    #[error("the lease of job {0} was lost")]
    LeaseLost(i64),
}
