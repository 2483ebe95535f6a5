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
//! # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
//!
//! ## Job control
//! `DELETE /jobs/{id}` cancels a job: a waiting one at once, a running one by
//! firing its handler's `ctx.cancellation` (in whichever process runs it).
//! A handler reports progress with [`AsyncContext::progress`], shown in the
//! job document. `GET /jobs/{id}?wait=30s`, `Prefer: wait=30` on submit and
//! `GET /jobs/{id}/events` (Server-Sent Events) wait without polling;
//! `Operation-Location` (`GET /jobs/{id}/operation`) serves generic
//! long-running-operation clients.
//!
//! ```standalone_crate
//! use asyncep::{async_endpoint, AsyncContext};
//!
//! #[async_endpoint(job = "doc-export", post = "/doc-exports")]
//! async fn export(ctx: AsyncContext) -> Result<u32, String> {
//!     for page in 1..=40 {
//!         if ctx.cancellation.is_cancelled() {
//!             return Err("canceled".into()); // recorded as `Canceled` either way
//!         }
//!         ctx.progress(&serde_json::json!({ "page": page, "of": 40 }));
//!     }
//!     Ok(40)
//! }
//! ```

#![warn(missing_docs)]

extern crate self as asyncep;

mod caller;
mod config;
pub mod context;
mod endpoint;
pub mod http;
pub mod job;
pub mod metrics;
mod mount;
mod problem;
mod progress;
mod registry;
mod runtime;
pub mod store;
mod trace;
mod worker;

#[doc(hidden)]
pub mod __private;

/// Turns an `async fn` into an asynchronous request-reply endpoint.
///
/// ```standalone_crate
/// use asyncep::{async_endpoint, AsyncContext, JobError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// struct ReportRequest { title: String }
///
/// #[derive(Serialize)]
/// struct Report { title: String }
///
/// #[async_endpoint(job = "render-report", post = "/reports/<id>", retries = 3, timeout = "30s", backoff = "2s")]
/// async fn render(ctx: AsyncContext<ReportRequest>) -> Result<Report, JobError> {
///     Ok(Report { title: ctx.request.title })
/// }
///
/// #[async_endpoint(job = "ping", post = "/ping/{id}")] // no body: never read or parsed
/// async fn ping(ctx: AsyncContext) -> Result<String, String> {
///     Ok(format!("pong {}", ctx.route_params["id"]))
/// }
/// # let runtime = asyncep::Runtime::builder().build().unwrap();
/// # assert_eq!(runtime.job_names(), ["ping", "render-report"]);
/// ```
///
/// # Keys
/// | key | value | default |
/// |---|---|---|
/// | `job` | the job's unique name | required |
/// | `post`, `put`, `patch`, `delete` or `get` | the route; parameters as `<id>` or `{id}`, a catch-all as `<rest..>` or `{*rest}` | exactly one is required |
/// | `retries` | retries after the first attempt | 3 (see [`RuntimeBuilder::default_retries`]) |
/// | `timeout` | per attempt: `"500ms"`, `"30s"`, `"5m"`, `"1h30m"` | 30 minutes |
/// | `backoff` | base of the exponential backoff between attempts | `"2s"` |
/// | `validate` | `path::to::fn`, run during the request, before anything is stored | none |
/// | `handle` | a type name: a unit struct implementing [`JobKind`], to submit the job from Rust code with [`JobRequest::of`] (the body must then be `Serialize`) | none |
///
/// # The function
/// - `async fn name(ctx: AsyncContext<T>) -> Result<R, E>`: `T` is the JSON
///   body (`T: DeserializeOwned`); plain `AsyncContext` takes no body.
/// - An optional second argument `State<S>` gets application state added
///   with [`RuntimeBuilder::state`].
/// - `R: Serialize` is stored as the job's `result`; `E: Display` as its
///   `error`, retried until `retries` run out. Return [`JobError::permanent`]
///   to fail at once.
/// - The function runs on the worker's Tokio task: the `timeout` and the
///   shutdown stop it at its next `.await`. Run long CPU-bound or blocking
///   work in `tokio::task::spawn_blocking`, or it holds the worker (and a
///   timeout cannot cut it short).
///
/// # Validation
/// A `validate` function runs while the client waits, with every header
/// (sensitive ones too), and may refuse the request before a job exists:
///
/// ```standalone_crate
/// use asyncep::{async_endpoint, http::Problem, AsyncContext};
/// use axum::http::StatusCode;
///
/// #[derive(serde::Deserialize)]
/// # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// struct Transfer { amount: i64 }
///
/// async fn check(ctx: &AsyncContext<Transfer>) -> Result<(), Problem> {
///     if ctx.request.amount <= 0 {
///         return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "the amount must be positive"));
///     }
///     Ok(())
/// }
///
/// #[async_endpoint(job = "transfer", post = "/transfers", validate = check)]
/// async fn transfer(ctx: AsyncContext<Transfer>) -> Result<i64, String> {
///     Ok(ctx.request.amount)
/// }
/// # fn main() {}
/// ```
///
/// # What it expands to
/// The function stays as written. Beside it, in a `const _: () = { ... };`
/// block that adds no name to your module, the attribute generates:
/// - an `impl EndpointSpec` naming the body, return and state types once
///   (a type that does not fit is one compile error, on that type);
/// - a runner: stored input → `AsyncContext<T>` → your function → JSON;
/// - an `inventory::submit!` of an `Endpoint` record (job name, route,
///   settings, runner), which [`mount`] and [`Runtime::builder`] collect.
///
/// Every mistake in the attribute or the signature is a compile error on the
/// token at fault.
pub use asyncep_macros::async_endpoint;
pub use caller::Caller;
pub use config::ConfigError;
pub use context::{AsyncContext, NoBody, State};
pub use endpoint::JobKind;
pub use http::DEFAULT_REDACTED_HEADERS;
pub use job::{Job, JobError, JobId, JobStatus};
#[cfg(feature = "openapi")]
pub use mount::openapi;
pub use mount::{mount, shutdown};
pub use progress::PROGRESS_LIMIT;
pub use runtime::{JobRequest, Runtime, RuntimeBuilder, SubmitError};
