//! The answers to requests no route takes: `404` and `405` as RFC 9457
//! problems, like every other error.

use std::future::Future;
use std::pin::Pin;

use axum::extract::{OriginalUri, Request};
use axum::response::{IntoResponse, Response};

use super::Problem;

/// A handler answering `405` with `Allow: allow`.
pub(super) fn method_not_allowed(
    allow: String,
) -> impl Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Clone + Send + Sync + 'static
{
    move |request: Request| {
        let problem = Problem::method_not_allowed(request.method().as_str(), &allow);
        Box::pin(async move { problem.into_response() })
    }
}

/// `404` for a path under the job routes that names nothing.
pub(super) async fn no_such_route(OriginalUri(uri): OriginalUri) -> Response {
    Problem::route_not_found(uri.path()).into_response()
}
