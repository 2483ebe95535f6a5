//! The HTTP contract: submit routes answering `202 Accepted`, the job routes
//! (status, waiting, cancel, events), idempotency headers and RFC 9457
//! problems for every error.
//!
//! The HTTP layer gets an [`Api`] from the runtime (the store, the registry,
//! the states and its settings) and never reaches back into the runtime or
//! the workers.

mod body;
mod callers;
mod cancel;
mod events;
mod idempotency;
mod listing;
mod location;
mod lookup;
#[cfg(feature = "openapi")]
mod openapi;
mod operation;
mod operator;
mod redaction;
mod refusals;
mod status;
mod store_error;
mod submit;
mod wait;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};
use std::time::Duration;

pub use crate::problem::Problem;
pub(crate) use callers::Callers;
pub(crate) use location::Origin;
#[cfg(feature = "openapi")]
pub(crate) use openapi::{document as openapi_document, operator_document};
pub(crate) use operator::routes as operator_routes;
pub(crate) use redaction::Redaction;
pub use redaction::{DEFAULT_REDACTED_HEADERS, DEFAULT_REDACTED_QUERY, SENSITIVE_NAME_PARTS};
pub(crate) use wait::MAX_WAIT;

use crate::config::ConfigError;
use crate::context::States;
use crate::endpoint::{Endpoint, Method};
use crate::job::Job;
use crate::metrics::Meters;
use crate::registry::Registry;
use crate::store::JobStore;

/// How the HTTP layer answers.
#[derive(Clone, Debug)]
pub(crate) struct ApiSettings {
    /// Where the job routes live (`/jobs`).
    pub(crate) job_prefix: String,
    pub(crate) redaction: Redaction,
    pub(crate) body_limit: usize,
    /// The most bytes of headers stored with a job.
    pub(crate) stored_headers_limit: usize,
    /// The most bytes of query string stored with a job.
    pub(crate) stored_query_limit: usize,
    pub(crate) default_retries: u32,
    pub(crate) callers: Callers,
    /// The longest a request may wait for a job to finish (`?wait=`,
    /// `Prefer: wait=`).
    pub(crate) max_wait: Duration,
    /// Where clients reach the API, for absolute `Location` and
    /// `Operation-Location`.
    pub(crate) origin: Origin,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            job_prefix: "/jobs".into(),
            redaction: Redaction::default(),
            body_limit: 2 * 1024 * 1024,
            stored_headers_limit: 16 * 1024,
            stored_query_limit: 8 * 1024,
            default_retries: 3,
            callers: Callers::default(),
            max_wait: Duration::from_secs(60),
            origin: Origin::Relative,
        }
    }
}

/// What the HTTP layer needs from the runtime, and nothing more.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) states: States,
    pub(crate) settings: ApiSettings,
    pub(crate) meters: Arc<Meters>,
}

/// The routes of a runtime: one per submit route (every method of an
/// endpoint's path on one method router, so that a wrong method is a `405`
/// problem), the job routes, and `404` problems for anything else under the
/// job prefix.
///
/// Built once, when the runtime is built: a clash that axum refuses is a
/// [`ConfigError`] then, never a panic in `mount`.
pub(crate) fn routes(api: Arc<Api>) -> Result<Router, ConfigError> {
    let mut router = Router::new();
    let mut paths: Vec<(&'static str, Vec<&'static Endpoint>)> = Vec::new();
    for endpoint in api.registry.iter() {
        match paths.iter_mut().find(|(path, _)| *path == endpoint.route) {
            Some((_, endpoints)) => endpoints.push(endpoint),
            None => paths.push((endpoint.route, vec![endpoint])),
        }
    }
    for (path, endpoints) in paths {
        let allow: Vec<&str> = endpoints.iter().map(|e| e.method.as_str()).collect();
        let allow = allow.join(", ");
        let mut route = MethodRouter::new();
        for &endpoint in &endpoints {
            let api = api.clone();
            let handler = move |request| submit::submit(api, endpoint, request);
            route = match endpoint.method {
                // `get` alone would answer `HEAD` with the handler too: a
                // link checker would create jobs.
                Method::Get => route
                    .get(handler)
                    .head(refusals::method_not_allowed(allow.clone())),
                Method::Post => route.post(handler),
                Method::Put => route.put(handler),
                Method::Patch => route.patch(handler),
                Method::Delete => route.delete(handler),
            };
        }
        let route = route.fallback(refusals::method_not_allowed(allow));
        router = try_route(router, path, route).map_err(|reason| ConfigError::RouteConflict {
            reason,
            first: "an earlier route".into(),
            second: endpoints[0].location(),
        })?;
    }
    let prefix = api.settings.job_prefix.clone();
    let job_route = get(status::status)
        .delete(cancel::cancel)
        .fallback(refusals::method_not_allowed("GET, HEAD, DELETE".into()))
        .with_state(api.clone());
    let events_route = get(events::events)
        .fallback(refusals::method_not_allowed("GET, HEAD".into()))
        .with_state(api.clone());
    let operation_route = get(operation::operation)
        .fallback(refusals::method_not_allowed("GET, HEAD".into()))
        .with_state(api);
    Ok(router
        .route(&format!("{prefix}/{{id}}"), job_route)
        .route(&format!("{prefix}/{{id}}/events"), events_route)
        .route(&format!("{prefix}/{{id}}/operation"), operation_route)
        .route(&prefix, any(refusals::no_such_route))
        .route(
            &format!("{prefix}/{{id}}/{{*rest}}"),
            any(refusals::no_such_route),
        ))
}

/// Adds a route, turning axum's panic on a route it refuses (the registry
/// catches the clashes it knows of first) into its message.
fn try_route(router: Router, path: &str, route: MethodRouter) -> Result<Router, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| router.route(path, route))).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the router refused the route".to_owned())
    })
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
