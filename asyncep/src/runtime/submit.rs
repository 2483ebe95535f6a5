//! Submitting a job from Rust code: the same checks as a request over HTTP
//! (the endpoint's body type, its `validate`), on whatever store the runtime
//! has.

use std::borrow::Cow;

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::Runtime;
use crate::caller::Caller;
use crate::endpoint::{JobBody, JobKind, Submission};
use crate::job::{JobId, JobInput};
use crate::store::{Created, NewJob, StoreError};

/// A job to submit from Rust code rather than over HTTP: the endpoint's job
/// name, its body, its route parameters, and optionally an idempotency key,
/// a caller and an id. Submit it with [`Runtime::submit`], or turn it into a
/// [`NewJob`] with [`Runtime::prepare`] (to create it inside a database
/// transaction of your own, say).
///
/// ```no_run,standalone_crate
/// # use serde::{Deserialize, Serialize};
/// # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// # #[derive(Serialize, Deserialize)] struct Invoice { order: u64 }
/// # #[asyncep::async_endpoint(job = "send-invoice", post = "/invoices/<order>", handle = SendInvoice)]
/// # async fn send(_: asyncep::AsyncContext<Invoice>) -> Result<(), String> { Ok(()) }
/// # async fn example(runtime: asyncep::Runtime) -> Result<(), Box<dyn std::error::Error>> {
/// use asyncep::JobRequest;
///
/// let created = runtime
///     .submit(
///         JobRequest::of::<SendInvoice>(&Invoice { order: 7 })
///             .param("order", "7")
///             .idempotency_key("invoice-7"),
///     )
///     .await?;
/// println!("job {} is {:?}", created.job().id, created.job().status);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct JobRequest {
    job: Cow<'static, str>,
    body: Result<Option<String>, String>,
    params: Vec<(String, String)>,
    key: Option<String>,
    caller: Option<Caller>,
    id: Option<JobId>,
}

impl JobRequest {
    /// A request for the job `job`, with no body (add one with
    /// [`body`](Self::body)). The name is checked when submitted.
    pub fn new(job: impl Into<Cow<'static, str>>) -> Self {
        Self {
            job: job.into(),
            body: Ok(None),
            params: Vec::new(),
            key: None,
            caller: None,
            id: None,
        }
    }

    /// A request for the job `K` names, with its body: the compiler checks
    /// the body's type.
    pub fn of<K: JobKind>(body: &K::Body) -> Self {
        let request = Self::new(K::JOB);
        if <K::Body as JobBody>::READS_BODY {
            request.body(body)
        } else {
            request
        }
    }

    /// The body, serialized to JSON; the endpoint decodes it as it would a
    /// request's.
    pub fn body<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = serde_json::to_string(body)
            .map(Some)
            .map_err(|error| error.to_string());
        self
    }

    /// A route parameter (`id` of `/reports/<id>`). Every parameter of the
    /// endpoint's route must be given.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// An idempotency key: submitting the same request with the same key
    /// again never makes a second job (the first one is returned); the same
    /// key with another request is a conflict.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Who submits the job (see [`Caller`]).
    pub fn caller(mut self, caller: Caller) -> Self {
        self.caller = Some(caller);
        self
    }

    /// The job's id, chosen by you (by default a fresh one). Submitting the
    /// same id with the same request again returns the first job.
    pub fn id(mut self, id: JobId) -> Self {
        self.id = Some(id);
        self
    }
}

/// Why a job submitted from Rust code was not stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum SubmitError {
    /// No endpoint of this binary has the job's name.
    UnknownJob(String),
    /// The endpoint refused the request, as it would have over HTTP (a body
    /// of the wrong shape, a missing route parameter, a `validate` refusal):
    /// the status an HTTP client would have got, and why.
    Refused {
        /// The job's name.
        job: String,
        /// The HTTP status of the refusal (400, 422, ...).
        status: StatusCode,
        /// Why.
        detail: String,
    },
    /// The store did not store it (see [`StoreError`]: a conflict of
    /// idempotency keys, a store that is down or full, ...).
    Store(StoreError),
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownJob(job) => write!(f, "no endpoint has the job name `{job}`"),
            Self::Refused {
                job,
                status,
                detail,
            } => write!(f, "the job `{job}` was refused ({status}): {detail}"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SubmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(error) => error.source(),
            _ => None,
        }
    }
}

impl From<StoreError> for SubmitError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Runtime {
    /// Submits a job from Rust code, with the checks a request over HTTP
    /// gets, and stores it: [`Created::New`], or [`Created::Existing`] for a
    /// repeat of an earlier request with the same key or id.
    pub async fn submit(&self, request: JobRequest) -> Result<Created, SubmitError> {
        let job = self.prepare(request).await?;
        let created = self.inner.store.create(job).await?;
        if let Created::New(job) = &created {
            self.inner.meters.submitted(&job.name);
        }
        Ok(created)
    }

    /// Checks a request as [`submit`](Self::submit) does and returns the job
    /// to store, without storing it: for a store's own way to create it, such
    /// as [`PostgresStore::create_in`](crate::store::PostgresStore) inside
    /// your transaction (feature `postgres`).
    pub async fn prepare(&self, request: JobRequest) -> Result<NewJob, SubmitError> {
        let endpoint = self
            .inner
            .registry
            .iter()
            .find(|endpoint| endpoint.job == request.job)
            .ok_or_else(|| SubmitError::UnknownJob(request.job.to_string()))?;
        let refused = |status: StatusCode, detail: String| SubmitError::Refused {
            job: endpoint.job.to_owned(),
            status,
            detail,
        };
        let body = request
            .body
            .map_err(|error| refused(StatusCode::BAD_REQUEST, error))?;
        let body = match (endpoint.reads_body, body) {
            (true, body) => body.map(String::into_boxed_str),
            (false, None) => None,
            (false, Some(_)) => {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    "the endpoint takes no body".to_owned(),
                ));
            }
        };
        let route_params = checked_params(endpoint.route, request.params)
            .map_err(|detail| refused(StatusCode::BAD_REQUEST, detail))?;
        let id = request.id.unwrap_or_default();
        let submission = Submission {
            body,
            headers: HeaderMap::new(),
            route_params,
            query: None,
            job_id: id,
            job_name: endpoint.job,
            caller: request.caller.clone(),
            states: self.inner.states.clone(),
        };
        match endpoint.validate {
            Some(validate) => {
                if let Err(response) = validate(&submission).await {
                    let status = response.status();
                    return Err(refused(status, problem_detail(response).await));
                }
            }
            None => (endpoint.check)(&submission)
                .map_err(|problem| refused(problem.status(), problem.detail().to_owned()))?,
        }
        let input = JobInput {
            headers: Vec::new(),
            query: None,
            body: submission.body,
            route_params: submission.route_params,
            // The trace of the code that submits the job.
            trace: crate::trace::capture(&tracing::Span::current()),
        };
        let idempotent = request.key.is_some() || request.id.is_some();
        Ok(endpoint.new_job(
            id,
            input,
            idempotent,
            request.key,
            request.caller,
            self.inner.default_retries,
        ))
    }
}

/// The route's parameters, each given once and none other, in the route's
/// order.
fn checked_params(
    route: &str,
    mut given: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let mut params = Vec::new();
    for name in route
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    {
        let name = name.trim_start_matches('*');
        let at = given
            .iter()
            .position(|(given, _)| given == name)
            .ok_or_else(|| format!("the route `{route}` needs the parameter `{name}`"))?;
        params.push(given.swap_remove(at));
    }
    match given.first() {
        None => Ok(params),
        Some((extra, _)) => Err(format!("the route `{route}` has no parameter `{extra}`")),
    }
}

/// The `detail` of a refusal's problem body, or its status's reason.
async fn problem_detail(response: axum::response::Response) -> String {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|body| body.get("detail")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_parameters_are_checked_and_ordered() {
        let given = vec![
            ("page".to_owned(), "2".to_owned()),
            ("id".to_owned(), "7".to_owned()),
        ];
        assert_eq!(
            checked_params("/reports/{id}/pages/{page}", given).unwrap(),
            [
                ("id".to_owned(), "7".to_owned()),
                ("page".to_owned(), "2".to_owned())
            ]
        );
        let missing = checked_params("/reports/{id}", Vec::new()).unwrap_err();
        assert!(missing.contains("`id`"), "{missing}");
        let extra = checked_params("/reports", vec![("id".into(), "7".into())]).unwrap_err();
        assert!(extra.contains("no parameter `id`"), "{extra}");
    }
}
