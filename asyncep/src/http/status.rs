//! `GET /jobs/{id}`: the job document, at once or, with `?wait=`, once the
//! job finished (or the wait is over).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::lookup::requested_job;
use super::wait::{until_finished, wait_query};
use super::{Api, Problem, document};
use crate::job::Job;

pub(super) async fn status(State(api): State<Arc<Api>>, request: Request) -> Response {
    let wait = match wait_query(request.uri().query(), api.settings.max_wait) {
        Ok(wait) => wait,
        Err(problem) => return problem.into_response(),
    };
    let (_, job) = match requested_job(&api, request).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let id = job.id;
    let job = match wait {
        Some(wait) => match until_finished(&*api.store, job, wait).await {
            Ok(Some(job)) => job,
            Ok(None) => return Problem::job_not_found(id).into_response(),
            Err(error) => return Problem::from(&error).into_response(),
        },
        None => job,
    };
    unfinished_with_retry_after(document(StatusCode::OK, &job), &job)
}

/// Adds `Retry-After: 1` when the job has not finished: when to look again.
pub(super) fn unfinished_with_retry_after(mut response: Response, job: &Job) -> Response {
    if !job.status.is_terminal() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
