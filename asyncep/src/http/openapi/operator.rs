//! The operator's routes, relative to where the application nests them:
//! the listing, the purge and the retry.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Paths, Ref, Required, ResponseBuilder, ResponsesBuilder};

use super::parts::{JSON, job, job_id, problem, string, unavailable};

const NOT_FOUND: &str = "No such job (or not one the operator policy lets the caller reach).";

/// The listing's page and the purge's answer.
pub(super) fn schemas() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    let page = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("A page of a name's jobs, newest first."))
        .property(
            "jobs",
            ArrayBuilder::new().items(Ref::from_schema_name("Job")),
        )
        .property(
            "next",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .description(Some(
                    "The `cursor` of the next page; `null` when no older job is left.",
                )),
        )
        .required("jobs")
        .required("next");
    let purged = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("What a purge deleted."))
        .property(
            "purged",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .property(
            "more",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some("More finished jobs may be left: ask again.")),
        )
        .required("purged")
        .required("more");
    vec![
        ("JobPage".into(), page.into()),
        ("Purged".into(), purged.into()),
    ]
}

/// Adds the operator's routes to `paths`.
pub(super) fn add(paths: &mut Paths) {
    let query = |name: &str, description: &str, required: bool| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(if required {
                Required::True
            } else {
                Required::False
            })
            .description(Some(description))
    };
    let name = || {
        query("name", "The job name.", true)
            .schema(Some(string().min_length(Some(1))))
            .build()
    };
    let status = |values: &[&str]| {
        query("status", "Only jobs in this status.", false)
            .schema(Some(string().enum_values(Some(values.to_vec()))))
            .build()
    };
    let invalid = "A listing that is not valid: no `name`, an unknown `status`, a `limit` out of \
                   range or a `cursor` this listing did not give.";
    let list = OperationBuilder::new()
        .operation_id(Some("listJobs"))
        .tag("operator")
        .summary(Some("Lists a name's jobs"))
        .description(Some(
            "Newest first, a page at a time; a page may hold fewer jobs than `limit` and still \
             have a `next`.",
        ))
        .parameter(name())
        .parameter(status(&[
            "Queued",
            "Scheduled",
            "InProgress",
            "Completed",
            "Failed",
            "Canceled",
        ]))
        .parameter(
            query("limit", "Jobs per page (default 50).", false)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(500)),
                ))
                .build(),
        )
        .parameter(
            query("cursor", "The `next` of the page before.", false)
                .schema(Some(string()))
                .build(),
        )
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The page.")
                        .content(
                            JSON,
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("JobPage")))
                                .build(),
                        )
                        .build(),
                )
                .response("400", problem(invalid))
                .response("503", unavailable())
                .build(),
        );
    let purge = OperationBuilder::new()
        .operation_id(Some("purgeJobs"))
        .tag("operator")
        .summary(Some("Purges a name's finished jobs"))
        .description(Some(
            "Deletes up to 1,000 finished jobs per request, with their attempts and idempotency \
             keys; a job that has not finished is never deleted.",
        ))
        .parameter(name())
        .parameter(status(&["Completed", "Failed", "Canceled"]))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("What was deleted.")
                        .content(
                            JSON,
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Purged")))
                                .build(),
                        )
                        .build(),
                )
                .response("400", problem(invalid))
                .response("503", unavailable())
                .build(),
        );
    let retry = OperationBuilder::new()
        .operation_id(Some("retryJob"))
        .tag("operator")
        .summary(Some("Runs a failed job again"))
        .description(Some(
            "Queued with its full retry budget, its attempts kept; any other job is a `409`.",
        ))
        .parameter(job_id())
        .responses(
            ResponsesBuilder::new()
                .response("200", job("The job, queued again.").build())
                .response("400", problem("The id is not a UUID."))
                .response("404", problem(NOT_FOUND))
                .response("409", problem("The job has not failed."))
                .response("503", unavailable())
                .build(),
        );
    paths.add_path_operation("/jobs", vec![HttpMethod::Get], list);
    paths.add_path_operation("/jobs", vec![HttpMethod::Delete], purge);
    paths.add_path_operation("/jobs/{id}/retry", vec![HttpMethod::Post], retry);
}
