//! The OpenAPI 3.1 document of a runtime's routes (feature `openapi`): each
//! submit route with its body's schema, the `202` and every problem it may
//! answer, and the job routes. Built from the registry and the settings, so
//! it says what the router does.

mod job_routes;
mod operator;
mod parts;
mod submit;

use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, RefOr};

use super::Api;
use super::operation::OperationStatus;
use crate::http::Problem;
use crate::job::{Attempt, AttemptStatus, ErrorInfo, Job, JobId, JobStatus, RawJson, Timestamp};

/// The document of the operator's routes, relative to where they are
/// nested.
pub(crate) fn operator_document() -> OpenApi {
    let mut paths = Paths::new();
    operator::add(&mut paths);
    let mut components = ComponentsBuilder::new();
    for (name, schema) in schemas().into_iter().chain(operator::schemas()) {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("asyncep operator")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The document of `api`'s routes.
pub(crate) fn document(api: &Api) -> OpenApi {
    let mut paths = Paths::new();
    let mut components = ComponentsBuilder::new();
    for (name, schema) in schemas() {
        components = components.schema(name, schema);
    }
    for endpoint in api.registry.iter() {
        let (path, operation) = submit::operation(endpoint, &api.settings);
        if let Some(body) = (endpoint.body_schema)() {
            for (name, schema) in body.components {
                components = components.schema(name, schema);
            }
            components = components.schema(body.name, body.schema);
        }
        paths.add_path_operation(&path, vec![endpoint.method.into()], operation);
    }
    job_routes::add(&mut paths, &api.settings.job_prefix);
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("asyncep")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Asynchronous request-reply endpoints: each submit route stores a job and \
                     answers `202 Accepted` with its `Location`; the job routes show, wait for \
                     and cancel it.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The schemas every document holds: the job document and what it is made
/// of, the operation status and the problem.
fn schemas() -> Vec<(String, RefOr<Schema>)> {
    fn named<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        named::<Job>(),
        named::<Attempt>(),
        named::<ErrorInfo>(),
        named::<JobStatus>(),
        named::<AttemptStatus>(),
        named::<JobId>(),
        named::<Timestamp>(),
        named::<RawJson>(),
        named::<OperationStatus<'static>>(),
        named::<Problem>(),
    ]
}

/// The `status` of an operation-status document.
pub(super) fn operation_state() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([
            "NotStarted",
            "Running",
            "Succeeded",
            "Failed",
            "Canceled",
        ]))
        .description(Some("Where the operation is."))
        .into()
}

impl From<crate::endpoint::Method> for utoipa::openapi::HttpMethod {
    fn from(method: crate::endpoint::Method) -> Self {
        use crate::endpoint::Method;
        match method {
            Method::Get => Self::Get,
            Method::Post => Self::Post,
            Method::Put => Self::Put,
            Method::Patch => Self::Patch,
            Method::Delete => Self::Delete,
        }
    }
}
