//! What generated code needs, in one place. Not public API: no stability
//! promise.

pub use futures_util::future::BoxFuture;
pub use inventory;

pub use crate::context::{AsyncContext, FromStates, NoBody, NoExtra, StateRequirement};
pub use crate::endpoint::{
    BodyError, BodySchema, DocumentedBody, Endpoint, HandlerOutput, JobBody, Method, Run, RunFn,
    Submission, ValidateFn,
};
pub use crate::job::{JobError, RawJson};
pub use crate::problem::Problem;
pub use axum::response::Response;

use axum::response::IntoResponse;

/// The types of one endpoint, named once by the generated `impl`.
///
/// Each associated type's bound is checked at that one `impl`, on the span
/// of the user's type, so a wrong type gives one error there; every other
/// use goes through these default methods and adds no error of its own.
pub trait EndpointSpec: 'static {
    /// `T` of `AsyncContext<T>`.
    type Body: JobBody + DocumentedBody;
    /// The handler's return type.
    type Output: HandlerOutput;
    /// The handler's second argument (`NoExtra` when there is none).
    type Extra: FromStates;

    /// Whether the endpoint reads a body.
    const READS_BODY: bool = <Self::Body as JobBody>::READS_BODY;

    /// The body's schema, for the OpenAPI document.
    fn body_schema() -> Option<BodySchema> {
        <Self::Body as DocumentedBody>::body_schema()
    }

    /// Checks a submitted body.
    fn check(submission: &Submission) -> Result<(), Problem> {
        submission.check::<Self::Body>()
    }

    /// The context of a `validate` function.
    fn validation_context(submission: &Submission) -> Result<AsyncContext<Self::Body>, Problem> {
        submission.context::<Self::Body>()
    }

    /// The handler's context.
    fn context(run: &Run) -> Result<AsyncContext<Self::Body>, JobError> {
        run.context::<Self::Body>()
    }

    /// The handler's second argument.
    fn extra(run: &Run) -> Result<Self::Extra, JobError> {
        run.argument::<Self::Extra>()
    }

    /// The state the handler needs, if any.
    fn state() -> Option<StateRequirement> {
        <Self::Extra as FromStates>::requirement()
    }

    /// The handler's value as JSON, or its error.
    fn outcome(output: Self::Output) -> Result<RawJson, JobError> {
        output.into_outcome()
    }
}

/// Turns a `validate` function's error into the response.
pub fn reject<E: IntoResponse>(error: E) -> Response {
    error.into_response()
}
