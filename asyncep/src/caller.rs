//! Who submitted a job: an opaque identity that the application's own
//! authentication decides. A leaf: asyncep never parses credentials.

use std::fmt;
use std::sync::Arc;

/// The identity a job belongs to: a tenant, a user or an API client, as the
/// application's authentication names it.
///
/// Put one in the request's extensions, the axum way, from the layer or
/// middleware that checks the credentials:
///
/// ```
/// use asyncep::Caller;
/// use axum::extract::Request;
/// use axum::middleware::Next;
/// use axum::response::{IntoResponse, Response};
/// use axum::http::StatusCode;
///
/// async fn authenticate(mut request: Request, next: Next) -> Response {
///     // Check the token however your application does; here, a header.
///     let tenant = match request.headers().get("x-demo-tenant").and_then(|v| v.to_str().ok()) {
///         Some(tenant) => tenant.to_owned(),
///         None => return StatusCode::UNAUTHORIZED.into_response(),
///     };
///     request.extensions_mut().insert(Caller::new(tenant));
///     next.run(request).await
/// }
/// # let _ = axum::middleware::from_fn::<_, (Request,)>(authenticate);
/// ```
///
/// A job keeps its caller. Only that caller reads it (another gets `404`,
/// exactly as for an unknown id), idempotency keys and client-chosen ids are
/// the caller's own, and the handler sees it as
/// [`AsyncContext::caller`](crate::AsyncContext::caller). The credentials
/// themselves are never stored.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Caller(Arc<str>);

impl Caller {
    /// A caller named `id`.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The caller's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Caller").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_compare_by_name() {
        assert_eq!(Caller::new("a"), Caller::new(String::from("a")));
        assert_ne!(Caller::new("a"), Caller::new("b"));
        assert_eq!(Caller::new("a").to_string(), "a");
    }
}
