//! The HTTP contract: submit routes answering `202 Accepted`, the job status
//! route, idempotency headers and RFC 9457 problems.

mod idempotency;
mod problem;
mod status;
mod submit;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};

pub use problem::Problem;

use crate::endpoint::Method;
use crate::job::Job;
use crate::runtime::Shared;

/// The routes of a runtime. With `run_jobs`, the first request starts the
/// workers if mounting could not (no Tokio runtime then).
pub(crate) fn routes(shared: Arc<Shared>, run_jobs: bool) -> Router {
    let mut router = Router::new();
    for endpoint in shared.registry.iter() {
        let shared = shared.clone();
        let handler = move |request| submit::submit(shared, endpoint, run_jobs, request);
        let route: MethodRouter = match endpoint.method {
            Method::Get => get(handler),
            Method::Post => post(handler),
            Method::Put => put(handler),
            Method::Patch => patch(handler),
            Method::Delete => delete(handler),
        };
        router = router.route(endpoint.route, route);
    }
    let status_route = format!("{}/{{id}}", shared.config.job_prefix);
    let body_limit = shared.config.body_limit;
    router
        .route(&status_route, get(status::status).with_state(shared))
        .layer(DefaultBodyLimit::max(body_limit))
}

/// A job document response with `status`.
fn document(status: StatusCode, job: &Job) -> Response {
    // A job document is 300 to 400 bytes until it has attempts.
    let mut body = Vec::with_capacity(512);
    match serde_json::to_writer(&mut body, job) {
        Ok(()) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => Problem::internal(format!("the job could not be written as JSON: {error}"))
            .into_response(),
    }
}
