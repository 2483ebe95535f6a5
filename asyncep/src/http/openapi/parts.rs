//! The pieces the operations share: the job document and problem answers,
//! their headers, and the parameters of the job routes.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder};

pub(super) const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A string schema.
pub(super) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A header value that is a URL, absolute or relative to the request.
fn url_reference() -> Schema {
    string()
        .format(Some(SchemaFormat::Custom("uri-reference".into())))
        .into()
}

/// `Retry-After` as asyncep writes it: seconds.
fn seconds() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .into()
}

/// The header of a response, with its description.
pub(super) fn header(schema: Schema, description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// A job document answer.
pub(super) fn job(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        JSON,
        ContentBuilder::new()
            .schema(Some(schema_ref("Job")))
            .build(),
    )
}

/// `Location` and `Operation-Location`: where to follow the job.
pub(super) fn with_links(response: ResponseBuilder) -> ResponseBuilder {
    response
        .header(
            "Location",
            header(
                url_reference(),
                "The job document's URL (`GET` it to poll).",
            ),
        )
        .header(
            "Operation-Location",
            header(
                url_reference(),
                "The job's operation-status URL, for long-running-operation clients.",
            ),
        )
}

/// `Retry-After`: when to poll again.
pub(super) fn with_retry_after(response: ResponseBuilder, when: &str) -> ResponseBuilder {
    response.header("Retry-After", header(seconds(), when))
}

/// An RFC 9457 problem answer.
pub(super) fn problem(description: &str) -> Response {
    problem_builder(description).build()
}

fn problem_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(schema_ref("Problem")))
            .build(),
    )
}

/// `503`: the store could not take or give the job now.
pub(super) fn unavailable() -> Response {
    with_retry_after(
        problem_builder(
            "The job store is unavailable or full, or did not confirm the request; try again \
             after `Retry-After`.",
        ),
        "Seconds to wait before trying again.",
    )
    .build()
}

/// The job id in a job route's path.
pub(super) fn job_id() -> Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The job's id."))
        .schema(Some(schema_ref("JobId")))
        .build()
}

/// An optional request header.
pub(super) fn header_parameter(name: &str, schema: Schema, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}
