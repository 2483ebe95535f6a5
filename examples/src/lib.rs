//! Runnable examples of asyncep: `cargo run --example quickstart`.
//!
//! [`docs`] serves the OpenAPI document and its reference (the `openapi`
//! example). [`reports`] holds the handlers of the split deployment examples
//! (`split_api` and `split_worker`): both binaries link this one module, so
//! the API accepts exactly the jobs the workers can run.

pub mod docs;
pub mod reports;

/// Logs to standard error at `info`, or as `RUST_LOG` says. (Calling it
/// links this library, and so the [`reports`] endpoints, into a binary.)
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}
