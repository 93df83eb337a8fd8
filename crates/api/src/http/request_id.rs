//! The id of the request being handled, for internal error messages and log lines.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `f` with `id` as the current request id (used in internal error messages and logs).
pub async fn with_request_id<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request being handled.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(|s| s.clone())
        .unwrap_or_else(|_| "-".into())
}
