//! # asyncep
//!
//! Asynchronous request-reply HTTP endpoints for axum. One attribute turns a
//! plain `async fn` into an endpoint that stores a **job**, answers
//! `202 Accepted` at once, and runs the function in a background worker with
//! retries, timeouts and a record of every attempt:
//!
//! ```no_run,standalone_crate
//! use asyncep::{async_endpoint, AsyncContext, JobError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct ReportRequest { title: String }
//!
//! #[derive(Serialize)]
//! struct Report { title: String, pages: u32 }
//!
//! #[async_endpoint(job = "render-report", post = "/reports/<id>", retries = 3, timeout = "30s")]
//! async fn render(ctx: AsyncContext<ReportRequest>) -> Result<Report, JobError> {
//!     Ok(Report { title: ctx.request.title, pages: 12 })
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let app = asyncep::mount(axum::Router::new()); // every annotated fn + GET /jobs/{id}
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     axum::serve(listener, app).await.unwrap();
//! }
//! ```
//!
//! `POST /reports/7` with `{"title":"Q3"}` answers `202 Accepted` with the
//! job document and `Location: /jobs/{id}`; `GET /jobs/{id}` shows it
//! `Queued`, `InProgress`, then `Completed` with `"result": {"title":"Q3","pages":12}`.
//!
//! ## The pieces
//! - [`async_endpoint`]: the attribute, checked at compile time.
//! - [`AsyncContext`]: what a handler gets (body, headers, route and query
//!   parameters, job id, attempt, cancellation); [`State`] for shared state.
//! - [`JobError`]: a handler error that may be permanent (no retry).
//! - [`mount`]: the default runtime; [`Runtime::builder`] for the rest.
//! - [`store`]: where jobs live ([`store::MemoryStore`] by default), behind
//!   the [`store::JobStore`] trait.
//! - [`http::Problem`]: the RFC 9457 errors every refused request gets.
//!
//! ## Idempotency
//! Send `X-Async-Request-Id: <uuid>` (the job gets that id) or
//! `Idempotency-Key: <key>`: a repeated request returns the same job and
//! never runs it twice; the same key with another endpoint or body is `422`.

#![warn(missing_docs)]

extern crate self as asyncep;

mod config;
pub mod context;
mod endpoint;
pub mod http;
pub mod job;
mod mount;
mod registry;
mod runtime;
pub mod store;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use asyncep_macros::async_endpoint;
pub use config::{ConfigError, DEFAULT_REDACTED_HEADERS, RuntimeBuilder};
pub use context::{AsyncContext, NoBody, State};
pub use job::{Job, JobError, JobId, JobStatus};
pub use mount::{mount, shutdown};
pub use runtime::Runtime;
