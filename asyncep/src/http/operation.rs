//! `GET /jobs/{id}/operation`: the job as an operation-status resource, in
//! the vocabulary generic long-running-operation clients read (Azure's
//! `LROPoller`, Google AIP-151 readers): `status` (`NotStarted` | `Running`
//! | `Succeeded` | `Failed` | `Canceled`), `done`, `error {code, message}`,
//! the `result`, and `resourceLocation`, the job document's URL. Submit
//! answers point to it with `Operation-Location`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::lookup::requested_job;
use super::{Api, Problem};
use crate::job::{ErrorInfo, Job, JobStatus, RawJson, Timestamp};

/// The operation-status document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OperationStatus))]
pub(crate) struct OperationStatus<'a> {
    /// The job's id.
    id: String,
    /// Where the operation is.
    #[cfg_attr(feature = "openapi", schema(schema_with = super::openapi::operation_state))]
    status: &'static str,
    /// Whether it has ended (succeeded, failed or canceled).
    done: bool,
    /// When the job was accepted.
    created_date_time: Timestamp,
    /// When anything about the job last changed.
    last_updated_date_time: Timestamp,
    /// Why it failed, once it failed or was canceled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ErrorInfo>))]
    error: Option<&'a ErrorInfo>,
    /// The handler's value, once it succeeded.
    #[cfg_attr(feature = "openapi", schema(value_type = RawJson))]
    result: Option<&'a RawJson>,
    /// The latest progress its handler reported.
    #[cfg_attr(feature = "openapi", schema(value_type = RawJson))]
    progress: Option<&'a RawJson>,
    /// The URL of the job document.
    resource_location: String,
}

/// An operation's status for a job's.
fn status_of(job: &Job) -> &'static str {
    match job.status {
        JobStatus::Queued if job.attempts.is_empty() => "NotStarted",
        JobStatus::Queued | JobStatus::Scheduled | JobStatus::InProgress => "Running",
        JobStatus::Completed => "Succeeded",
        JobStatus::Failed => "Failed",
        JobStatus::Canceled => "Canceled",
    }
}

impl<'a> OperationStatus<'a> {
    pub(super) fn of(job: &'a Job, resource_location: String) -> Self {
        Self {
            id: job.id.to_string(),
            status: status_of(job),
            done: job.status.is_terminal(),
            created_date_time: job.created_at,
            last_updated_date_time: job.last_updated_at,
            error: job
                .error
                .as_ref()
                .filter(|_| job.status != JobStatus::Completed),
            result: job.result.as_ref(),
            progress: job.progress.as_ref(),
            resource_location,
        }
    }
}

pub(super) async fn operation(State(api): State<Arc<Api>>, request: Request) -> Response {
    let (parts, job) = match requested_job(&api, request).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let path = super::location::job_location(&parts, &api.settings.job_prefix, job.id);
    let resource = api.settings.origin.link(&parts, &path);
    let body = match serde_json::to_vec(&OperationStatus::of(&job, resource)) {
        Ok(body) => body,
        Err(error) => {
            return Problem::internal(format!("the status could not be written: {error}"))
                .into_response();
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if !job.status.is_terminal() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Attempt, AttemptStatus, JobId};

    #[test]
    fn statuses_read_as_an_operation_client_expects() {
        let mut job = Job::queued(JobId::new(), "x".into(), 0, Timestamp::now());
        assert_eq!(status_of(&job), "NotStarted");
        job.status = JobStatus::InProgress;
        assert_eq!(status_of(&job), "Running");
        job.status = JobStatus::Queued;
        job.attempts.push(Attempt {
            attempt: 1,
            status: AttemptStatus::Interrupted,
            started_at: Timestamp::now(),
            finished_at: Timestamp::now(),
            result: None,
            error: None,
        });
        assert_eq!(status_of(&job), "Running", "it ran once: it started");
        job.status = JobStatus::Failed;
        job.error = Some(ErrorInfo::new("boom", "it broke"));
        let document =
            serde_json::to_value(OperationStatus::of(&job, "https://x/jobs/1".into())).unwrap();
        assert_eq!(document["status"], "Failed");
        assert_eq!(document["done"], true);
        assert_eq!(document["error"]["code"], "boom");
        assert_eq!(document["resourceLocation"], "https://x/jobs/1");
        assert!(document["createdDateTime"].is_string());
    }
}
