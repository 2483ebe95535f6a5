use std::time::Duration;

use axum::response::Response;
use futures_util::future::BoxFuture;

use super::{Run, Submission};
use crate::caller::Caller;
use crate::context::StateRequirement;
use crate::job::{Fingerprint, JobError, JobId, JobInput, RawJson};
use crate::problem::Problem;
use crate::store::{Idempotency, NewJob};

/// The HTTP method of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name, upper-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// A `validate = path` function, wrapped by the macro: it decodes the body,
/// builds the context and calls the user's function.
pub type ValidateFn = for<'a> fn(&'a Submission) -> BoxFuture<'a, Result<(), Response>>;

/// The job runner the macro generates: input → handler → JSON value.
pub type RunFn = fn(Run) -> BoxFuture<'static, Result<RawJson, JobError>>;

/// One `#[async_endpoint]`, as registered through `inventory`.
///
/// Built by generated code only, in a `const` context; users never write
/// one.
#[derive(Debug)]
pub struct Endpoint {
    /// The unique job name.
    pub job: &'static str,
    /// The method of the submit route.
    pub method: Method,
    /// The submit route, in axum's syntax (`/reports/{id}`).
    pub route: &'static str,
    /// `retries`, if the attribute set it.
    pub retries: Option<u32>,
    /// `timeout`, if the attribute set it.
    pub timeout: Option<Duration>,
    /// `backoff`, if the attribute set it.
    pub backoff: Option<Duration>,
    /// Whether the endpoint reads a JSON body.
    pub reads_body: bool,
    /// Checks that a submitted body decodes to the endpoint's type.
    pub check: fn(&Submission) -> Result<(), Problem>,
    /// The `validate` function, if any.
    pub validate: Option<ValidateFn>,
    /// Runs the handler.
    pub run: RunFn,
    /// The state the handler takes, if any.
    pub state: fn() -> Option<StateRequirement>,
    /// The request body's schema, for the OpenAPI document (`None` without
    /// a body, or without the `openapi` feature).
    pub body_schema: fn() -> Option<super::BodySchema>,
    /// The handler's doc comment, for the OpenAPI document.
    pub doc: &'static str,
    /// The handler's path (`my_crate::reports::render`), for messages.
    pub handler: &'static str,
    /// Where the attribute stands, for messages.
    pub file: &'static str,
    /// The line of the attribute.
    pub line: u32,
}

impl Endpoint {
    /// `handler (file:line)`, for messages.
    pub fn location(&self) -> String {
        format!("`{}` ({}:{})", self.handler, self.file, self.line)
    }

    /// The job a checked request of this endpoint stores, whether it came
    /// over HTTP or from Rust code. With `idempotent` (a key or a chosen id
    /// was given), its fingerprint is kept so a repeat can be recognised.
    pub(crate) fn new_job(
        &self,
        id: JobId,
        input: JobInput,
        idempotent: bool,
        key: Option<String>,
        caller: Option<Caller>,
        default_retries: u32,
    ) -> NewJob {
        let idempotency = idempotent.then(|| Idempotency {
            fingerprint: Fingerprint::of(self.job, &input),
            key,
        });
        NewJob {
            id,
            name: self.job.into(),
            max_retries: self.retries.unwrap_or(default_retries),
            input,
            idempotency,
            caller,
        }
    }
}

inventory::collect!(Endpoint);
