//! The operator's routes, mounted only when the application asks
//! ([`Runtime::operator_routes`](crate::Runtime::operator_routes)), behind
//! whatever authentication layer it puts on them: `GET /jobs?name=` lists a
//! name's jobs (see [`listing`](super::listing)), `DELETE /jobs?name=`
//! purges its finished ones, and `POST /jobs/{id}/retry` runs a `Failed`
//! job again. A caller reaches the jobs the operator policy lets it reach:
//! by default, those it may read, as on the job routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::info;

use super::listing;
use super::lookup::operated_job;
use super::{Api, Problem, document, refusals};

/// The operator's routes, relative to where the application nests them.
pub(crate) fn routes(api: Arc<Api>) -> Router {
    let retry_route = post(retry)
        .fallback(refusals::method_not_allowed("POST".into()))
        .with_state(api.clone());
    let jobs_route = get(listing::list)
        .delete(listing::purge)
        .fallback(refusals::method_not_allowed("GET, HEAD, DELETE".into()))
        .with_state(api);
    Router::new()
        .route("/jobs", jobs_route)
        .route("/jobs/{id}/retry", retry_route)
}

/// Queues a `Failed` job again: `200` with the job, a `409` problem for a
/// job in any other state.
async fn retry(State(api): State<Arc<Api>>, request: Request) -> Response {
    let id = match operated_job(&api, request).await {
        Ok((_, job)) => job.id,
        Err(refusal) => return refusal,
    };
    match api.store.retry(id).await {
        Ok(Some(retried)) if retried.queued => {
            info!(job.id = %id, "a failed job was queued again by an operator");
            document(StatusCode::OK, &retried.job)
        }
        Ok(Some(retried)) => {
            Problem::job_not_failed(id, retried.job.status.as_str()).into_response()
        }
        Ok(None) => Problem::job_not_found(id).into_response(),
        Err(error) => Problem::from(&error).into_response(),
    }
}
