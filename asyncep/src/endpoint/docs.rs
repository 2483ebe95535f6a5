//! What the OpenAPI document says of an endpoint's request body.
//!
//! With the `openapi` feature, an endpoint's body type must implement
//! `utoipa::ToSchema`: the bound sits on the one `impl` the macro generates,
//! so a body type without a schema is one compile error, on the user's type.
//! Without the feature, every type qualifies and nothing is kept.

#[cfg(feature = "openapi")]
use crate::context::NoBody;

/// A request body's schema, and the schemas it refers to.
pub struct BodySchema {
    #[cfg(feature = "openapi")]
    pub(crate) name: String,
    #[cfg(feature = "openapi")]
    pub(crate) schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    #[cfg(feature = "openapi")]
    pub(crate) components: Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
}

impl std::fmt::Debug for BodySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("BodySchema");
        #[cfg(feature = "openapi")]
        debug.field("name", &self.name);
        debug.finish_non_exhaustive()
    }
}

/// A body type the OpenAPI document can describe.
#[cfg(feature = "openapi")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no OpenAPI schema, and asyncep's `openapi` feature is on",
    label = "the body type must implement `utoipa::ToSchema`",
    note = "add `#[derive(utoipa::ToSchema)]` (utoipa 6) to `{Self}`, so that the endpoint's request body shows in the OpenAPI document"
)]
pub trait DocumentedBody {
    /// The body's schema; `None` for an endpoint without a body.
    fn body_schema() -> Option<BodySchema>;
}

/// A body type the OpenAPI document can describe: any, without the
/// `openapi` feature.
#[cfg(not(feature = "openapi"))]
pub trait DocumentedBody {
    /// Nothing, without the `openapi` feature.
    fn body_schema() -> Option<BodySchema> {
        None
    }
}

#[cfg(not(feature = "openapi"))]
impl<T> DocumentedBody for T {}

#[cfg(feature = "openapi")]
impl DocumentedBody for NoBody {
    fn body_schema() -> Option<BodySchema> {
        None
    }
}

#[cfg(feature = "openapi")]
impl<T: utoipa::ToSchema> DocumentedBody for T {
    fn body_schema() -> Option<BodySchema> {
        let mut components = Vec::new();
        T::schemas(&mut components);
        Some(BodySchema {
            name: T::name().into_owned(),
            schema: T::schema(),
            components,
        })
    }
}
