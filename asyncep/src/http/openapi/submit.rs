//! The operation of one submit route.

use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::SchemaFormat;
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponsesBuilder};

use super::parts::{
    JSON, header, header_parameter, job, problem, string, unavailable, with_links, with_retry_after,
};
use crate::endpoint::Endpoint;
use crate::http::ApiSettings;

/// The OpenAPI path of `endpoint`'s route, and its operation.
pub(super) fn operation(endpoint: &Endpoint, settings: &ApiSettings) -> (String, Operation) {
    let (path, params) = openapi_path(endpoint.route);
    let (summary, description) = match endpoint.doc.split_once('\n') {
        Some((first, rest)) => (first.trim(), Some(rest.trim())),
        None => (endpoint.doc.trim(), None),
    };
    let summary = if summary.is_empty() {
        format!("Submits a `{}` job", endpoint.job)
    } else {
        summary.to_owned()
    };
    let mut operation = OperationBuilder::new()
        .operation_id(Some(endpoint.job))
        .tag("submit")
        .summary(Some(summary))
        .description(description.filter(|text| !text.is_empty()));
    for name in params {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string().min_length(Some(1))))
                .build(),
        );
    }
    operation = operation
        .parameter(header_parameter(
            "Idempotency-Key",
            string().min_length(Some(1)).max_length(Some(255)).into(),
            "Makes the request idempotent: the same key again answers with the same job and \
             never creates a second one. 1 to 255 visible ASCII characters.",
        ))
        .parameter(header_parameter(
            "X-Async-Request-Id",
            string()
                .format(Some(SchemaFormat::Custom("uuid".into())))
                .into(),
            "The job's id, chosen by the client; the same id again answers with the same job.",
        ))
        .parameter(header_parameter(
            "Prefer",
            string().into(),
            "`wait=N` (RFC 7240): answer `200` with the finished job if it ends within N \
             seconds, else `202` as usual.",
        ));
    if let Some(body) = (endpoint.body_schema)() {
        operation = operation.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(body.name)))
                        .build(),
                )
                .build(),
        ));
    }
    let accepted = with_retry_after(
        with_links(job("Accepted: the job is stored and will run.")),
        "Seconds to wait before polling the job.",
    )
    .header(
        "Warning",
        header(
            string().into(),
            "Sent when the request had no idempotency key: a retried request may create a \
             second job.",
        ),
    );
    let finished = with_links(job(
        "The job finished within the wait asked for with `Prefer: wait`.",
    ))
    .header(
        "Preference-Applied",
        header(string().into(), "`wait=N`, the wait that was honoured."),
    );
    let mut responses = ResponsesBuilder::new()
        .response("202", accepted.build())
        .response("200", finished.build())
        .response(
            "400",
            problem(
                "A malformed request: a bad idempotency header, a body that is not JSON, or \
                 an invalid path.",
            ),
        )
        .response(
            "409",
            problem("The `X-Async-Request-Id` names a job of another request."),
        )
        .response(
            "414",
            problem(&format!(
                "The query string is longer than the {} bytes kept with a job.",
                settings.stored_query_limit
            )),
        )
        .response(
            "422",
            problem(if endpoint.reads_body {
                "The body does not match the endpoint's schema, or the idempotency key was used \
                 for another request."
            } else {
                "The idempotency key was used for another request."
            }),
        )
        .response(
            "431",
            problem(&format!(
                "The headers kept with the job exceed {} bytes.",
                settings.stored_headers_limit
            )),
        )
        .response("503", unavailable());
    if endpoint.reads_body {
        responses = responses
            .response(
                "413",
                problem(&format!(
                    "The body is larger than {} bytes.",
                    settings.body_limit
                )),
            )
            .response(
                "415",
                problem("The body is not `application/json` (or `application/*+json`)."),
            );
    }
    if endpoint.validate.is_some() {
        responses = responses.response(
            "default",
            problem("Refused by the endpoint's own validation."),
        );
    }
    (path, operation.responses(responses.build()).build())
}

/// An axum route as an OpenAPI path (`/files/{*path}` → `/files/{path}`),
/// and its parameters' names.
fn openapi_path(route: &str) -> (String, Vec<&str>) {
    let mut path = String::with_capacity(route.len());
    let mut names = Vec::new();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = rest[open + 1..open + close].trim_start_matches('*');
        path.push('{');
        path.push_str(name);
        path.push('}');
        names.push(name);
        rest = &rest[open + close + 1..];
    }
    path.push_str(rest);
    (path, names)
}

#[cfg(test)]
mod tests {
    use super::openapi_path;

    #[test]
    fn wildcards_become_plain_parameters() {
        assert_eq!(
            openapi_path("/files/{owner}/{*path}"),
            ("/files/{owner}/{path}".to_owned(), vec!["owner", "path"])
        );
        assert_eq!(openapi_path("/ping"), ("/ping".to_owned(), vec![]));
    }
}
