//! What generated code needs, in one place. Not public API: no stability
//! promise.

pub use futures_util::future::BoxFuture;
pub use inventory;

pub use crate::context::NoBody;
pub use crate::context::{AsyncContext, FromStates};
pub use crate::endpoint::{
    BodyError, Endpoint, HandlerOutput, JobBody, Method, Run, RunFn, Submission, ValidateFn,
};
pub use crate::http::Problem;
pub use crate::job::{JobError, RawJson};
pub use axum::response::Response;

use axum::response::IntoResponse;

/// Turns a `validate` function's error into the response.
pub fn reject<E: IntoResponse>(error: E) -> Response {
    error.into_response()
}

/// Asserts at compile time that `T` can be an endpoint's body.
pub const fn assert_body<T: JobBody>() {}

/// Asserts at compile time that `T` can be a handler's return type.
pub const fn assert_output<T: HandlerOutput>() {}

/// Asserts at compile time that `T` can be a handler's extra argument.
pub const fn assert_argument<T: FromStates>() {}
