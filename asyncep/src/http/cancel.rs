//! `DELETE /jobs/{id}`: cancels a job. A waiting job ends `Canceled` at once
//! (`200`); a running one is marked and its handler told to stop (`202`,
//! `cancelRequested`); a finished one is a `409` problem. Asking again is
//! harmless.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::info;

use super::lookup::requested_job;
use super::status::unfinished_with_retry_after;
use super::{Api, Problem, document};
use crate::job::JobStatus;

pub(super) async fn cancel(State(api): State<Arc<Api>>, request: Request) -> Response {
    // Only a job the caller may read may it cancel.
    let id = match requested_job(&api, request).await {
        Ok((_, job)) => job.id,
        Err(refusal) => return refusal,
    };
    let job = match api.store.cancel(id).await {
        Ok(Some(canceled)) => {
            if canceled.ended {
                api.meters.canceled_waiting(&canceled.job.name);
            }
            canceled.job
        }
        Ok(None) => return Problem::job_not_found(id).into_response(),
        Err(error) => return Problem::from(&error).into_response(),
    };
    match job.status {
        JobStatus::Completed | JobStatus::Failed => {
            Problem::job_already_finished(id, job.status.as_str()).into_response()
        }
        JobStatus::Canceled => {
            info!(job.id = %id, "job canceled");
            document(StatusCode::OK, &job)
        }
        JobStatus::Queued | JobStatus::Scheduled | JobStatus::InProgress => {
            info!(job.id = %id, "job cancel asked; its handler is told to stop");
            unfinished_with_retry_after(document(StatusCode::ACCEPTED, &job), &job)
        }
    }
}
