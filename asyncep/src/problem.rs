//! RFC 9457 problem details: every error asyncep answers with. A leaf: it
//! knows HTTP, not the runtime.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An `application/problem+json` error response (RFC 9457).
///
/// asyncep answers every refused request with one, and a `validate`
/// function may return one too:
///
/// ```
/// use asyncep::http::Problem;
/// use axum::http::StatusCode;
///
/// let problem = Problem::new(StatusCode::FORBIDDEN, "reports of other teams are not yours to render");
/// assert_eq!(problem.status(), StatusCode::FORBIDDEN);
/// ```
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:asyncep:problem:{slug}` for
    /// asyncep's own, `about:blank` for a generic one.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    kind: Cow<'static, str>,
    /// A short summary of the kind of problem.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    title: Cow<'static, str>,
    /// The HTTP status code.
    #[serde(serialize_with = "status_code")]
    #[cfg_attr(feature = "openapi", schema(value_type = u16))]
    status: StatusCode,
    /// What went wrong with this request, for people.
    detail: String,
    #[serde(skip)]
    retry_after: Option<Duration>,
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn status_code<S: serde::Serializer>(
    status: &StatusCode,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u16(status.as_u16())
}

impl Problem {
    /// A problem of the generic type `about:blank`, titled by its status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: Cow::Borrowed("about:blank"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status,
            detail: detail.into(),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    /// A problem of one of asyncep's own types, `urn:asyncep:problem:{slug}`.
    fn typed(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: Cow::Owned(format!("urn:asyncep:problem:{slug}")),
            title: Cow::Borrowed(title),
            status,
            detail: detail.into(),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    /// Adds a `Retry-After` header (whole seconds, at least 1).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Adds a header to the response (`Allow` on a `405`, say).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem type URI.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The explanation of this occurrence.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub(crate) fn invalid_body(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "The request body is not valid JSON",
            detail,
        )
    }

    pub(crate) fn unprocessable_body(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable-body",
            "The request body does not match what the endpoint expects",
            detail,
        )
    }

    pub(crate) fn unsupported_media_type(found: Option<&str>) -> Self {
        let detail = match found {
            Some(found) => format!("expected `Content-Type: application/json`, found `{found}`"),
            None => "expected `Content-Type: application/json`, found none".to_owned(),
        };
        Self::typed(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    pub(crate) fn body_too_large(limit: usize) -> Self {
        Self::typed(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "The request body is too large",
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }

    pub(crate) fn headers_too_large(limit: usize) -> Self {
        Self::typed(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "The request headers are too large to store",
            format!("the headers stored with a job may take at most {limit} bytes"),
        )
    }

    pub(crate) fn query_too_large(limit: usize) -> Self {
        Self::typed(
            StatusCode::URI_TOO_LONG,
            "query-too-large",
            "The query string is too large to store",
            format!("the query stored with a job may take at most {limit} bytes"),
        )
    }

    pub(crate) fn unreadable_body(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "The request body could not be read",
            detail,
        )
    }

    pub(crate) fn invalid_idempotency_key(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid idempotency key",
            detail,
        )
    }

    pub(crate) fn idempotency_conflict(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "The idempotency key was used for another request",
            detail,
        )
    }

    pub(crate) fn request_id_taken() -> Self {
        Self::typed(
            StatusCode::CONFLICT,
            "request-id-taken",
            "The request id is taken",
            "the `X-Async-Request-Id` names a job that is not yours to repeat; choose a new id",
        )
    }

    pub(crate) fn invalid_job_id(text: &str) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "invalid-job-id",
            "Invalid job id",
            format!("`{text}` is not a job id; job ids are UUIDs"),
        )
    }

    pub(crate) fn job_not_found(id: impl std::fmt::Display) -> Self {
        Self::typed(
            StatusCode::NOT_FOUND,
            "job-not-found",
            "Job not found",
            format!("there is no job {id}; it may never have existed or it has expired"),
        )
    }

    pub(crate) fn job_already_finished(id: impl std::fmt::Display, status: &str) -> Self {
        Self::typed(
            StatusCode::CONFLICT,
            "job-already-finished",
            "The job already finished",
            format!("job {id} is {status}; only a job that has not finished can be canceled"),
        )
    }

    pub(crate) fn job_not_failed(id: impl std::fmt::Display, status: &str) -> Self {
        Self::typed(
            StatusCode::CONFLICT,
            "job-not-failed",
            "The job has not failed",
            format!("job {id} is {status}; only a failed job can be run again"),
        )
    }

    pub(crate) fn invalid_listing(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "invalid-listing",
            "The listing asked for is not valid",
            detail,
        )
    }

    pub(crate) fn invalid_wait(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "invalid-wait",
            "Invalid wait",
            detail,
        )
    }

    pub(crate) fn store_full(retry_after: Duration) -> Self {
        Self::typed(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-full",
            "Too many jobs are waiting",
            "the job store is full; try again later",
        )
        .retry_after(retry_after)
    }

    pub(crate) fn store_unavailable(retry_after: Duration) -> Self {
        Self::typed(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "The job store is unavailable",
            "the job store cannot be reached; nothing was stored; try again later",
        )
        .retry_after(retry_after)
    }

    /// The store did not confirm the job `location` names. With a key or a
    /// client-chosen id, repeating the request is safe; without one, the
    /// client must look first.
    pub(crate) fn store_outcome_unknown(
        retry_after: Duration,
        location: &str,
        keyed: bool,
    ) -> Self {
        let advice = if keyed {
            "repeating the request with the same `Idempotency-Key` or `X-Async-Request-Id` \
             never creates a second job"
        } else {
            "if it answers 404 a few seconds from now, the job was not stored and the request \
             can be sent again (an `Idempotency-Key` would make repeating it always safe)"
        };
        Self::typed(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-outcome-unknown",
            "The job store did not confirm the job",
            format!(
                "the job store did not answer in time, so the job may or may not be stored; \
                 `GET {location}` tells, and {advice}"
            ),
        )
        .retry_after(retry_after)
    }

    pub(crate) fn route_not_found(path: &str) -> Self {
        Self::typed(
            StatusCode::NOT_FOUND,
            "route-not-found",
            "No such route",
            format!("nothing answers at `{path}`"),
        )
    }

    pub(crate) fn method_not_allowed(method: &str, allow: &str) -> Self {
        let problem = Self::typed(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("`{method}` is not allowed here; allowed: {allow}"),
        );
        match HeaderValue::try_from(allow) {
            Ok(value) => problem.with_header(header::ALLOW, value),
            Err(_) => problem,
        }
    }

    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            "invalid-path",
            "The request path could not be read",
            detail,
        )
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::typed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        response
    }
}

impl From<Problem> for Response {
    fn from(problem: Problem) -> Self {
        problem.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_the_rfc_9457_members() {
        let problem = Problem::job_not_found("x");
        let value = serde_json::to_value(&problem).unwrap();
        assert_eq!(value["type"], "urn:asyncep:problem:job-not-found");
        assert_eq!(value["title"], "Job not found");
        assert_eq!(value["status"], 404);
        assert!(value["detail"].as_str().unwrap().contains("no job x"));
    }

    #[test]
    fn responds_with_problem_json_and_retry_after() {
        let response = Problem::store_full(Duration::from_millis(10)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
