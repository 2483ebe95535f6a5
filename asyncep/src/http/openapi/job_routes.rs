//! The job routes: the document, its operation status, its events, and the
//! cancel.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{
    ContentBuilder, Paths, Ref, Required, Response, ResponseBuilder, ResponsesBuilder,
};

use super::parts::{
    JSON, header_parameter, job, job_id, problem, string, unavailable, with_retry_after,
};

const NOT_FOUND: &str = "No such job (or not one the caller may see).";
const BAD_ID: &str = "The id is not a UUID.";
const POLL_AGAIN: &str = "Sent while the job has not finished: seconds before polling again.";

/// What every job route may refuse with: a bad id (or query), a job the
/// caller cannot see, a store that cannot answer.
fn refusals(bad_request: &str) -> [(&'static str, Response); 3] {
    [
        ("400", problem(bad_request)),
        ("404", problem(NOT_FOUND)),
        ("503", unavailable()),
    ]
}

/// One Server-Sent Event of a job's stream: its kind, its id (the job's
/// version), and the job document as its data.
fn event() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "One event: `status` when the job's status changed, `progress` when only its \
             progress did, `end` for the finished job (the last event).",
        ))
        .property(
            "event",
            string().enum_values(Some(["status", "progress", "end"])),
        )
        .property(
            "id",
            string().description(Some(
                "The job's version (`lastUpdatedAt` in microseconds): send it back as \
                 `Last-Event-ID` to resume.",
            )),
        )
        .property(
            "data",
            string()
                .content_media_type(JSON)
                .content_schema(Some(Ref::from_schema_name("Job"))),
        )
        .required("event")
        .required("id")
        .required("data")
}

/// Adds the job routes under `prefix` to `paths`.
pub(super) fn add(paths: &mut Paths, prefix: &str) {
    let wait = ParameterBuilder::new()
        .name("wait")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "Answer once the job finished, or when this much time is over (`30s`, `500ms`, or \
             seconds); capped by the server.",
        ))
        .schema(Some(string().pattern(Some("^[0-9]+(ms|s|m|h)?$"))))
        .build();
    let show = OperationBuilder::new()
        .operation_id(Some("getJob"))
        .tag("jobs")
        .summary(Some("Shows a job"))
        .description(Some(
            "The job document: status, result or error, progress, and every attempt.",
        ))
        .parameter(job_id())
        .parameter(wait)
        .responses(
            ResponsesBuilder::new()
                .response("200", with_retry_after(job("The job."), POLL_AGAIN).build())
                .responses_from_iter(refusals(
                    "The id is not a UUID, or `wait` is not a duration.",
                ))
                .build(),
        );
    let cancel = OperationBuilder::new()
        .operation_id(Some("cancelJob"))
        .tag("jobs")
        .summary(Some("Cancels a job"))
        .description(Some(
            "A waiting job ends `Canceled` at once (`200`); a running one has its handler told \
             to stop (`202`, `cancelRequested`). Asking again is harmless.",
        ))
        .parameter(job_id())
        .responses(
            ResponsesBuilder::new()
                .response("200", job("The job, canceled.").build())
                .response(
                    "202",
                    with_retry_after(
                        job("The cancel is asked; the job ends when its handler stops."),
                        POLL_AGAIN,
                    )
                    .build(),
                )
                .response("409", problem("The job already completed or failed."))
                .responses_from_iter(refusals(BAD_ID))
                .build(),
        );
    let events = OperationBuilder::new()
        .operation_id(Some("jobEvents"))
        .tag("jobs")
        .summary(Some("Streams a job's changes"))
        .description(Some(
            "Server-Sent Events: each event is the whole job document, the last one (`end`) \
             the finished job. Event ids let a client resume with `Last-Event-ID`.",
        ))
        .parameter(job_id())
        .parameter(header_parameter(
            "Last-Event-ID",
            string().into(),
            "The id of the last event the client has: only newer changes are sent.",
        ))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The event stream.")
                        .content(
                            "text/event-stream",
                            ContentBuilder::new().schema(Some(event())).build(),
                        )
                        .build(),
                )
                .response(
                    "204",
                    ResponseBuilder::new()
                        .description("The job finished before the client's last event: nothing more will come.")
                        .build(),
                )
                .responses_from_iter(refusals(BAD_ID))
                .build(),
        );
    let operation = OperationBuilder::new()
        .operation_id(Some("jobOperation"))
        .tag("jobs")
        .summary(Some("Shows a job as a long-running operation"))
        .description(Some(
            "The job in the vocabulary of generic long-running-operation clients (Azure's \
             `LROPoller`, Google AIP-151): what submit answers point to with \
             `Operation-Location`.",
        ))
        .parameter(job_id())
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    with_retry_after(
                        ResponseBuilder::new()
                            .description("The operation's status.")
                            .content(
                                JSON,
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("OperationStatus")))
                                    .build(),
                            ),
                        POLL_AGAIN,
                    )
                    .build(),
                )
                .responses_from_iter(refusals(BAD_ID))
                .build(),
        );
    let job_path = format!("{prefix}/{{id}}");
    paths.add_path_operation(&job_path, vec![HttpMethod::Get], show);
    paths.add_path_operation(&job_path, vec![HttpMethod::Delete], cancel);
    paths.add_path_operation(format!("{job_path}/events"), vec![HttpMethod::Get], events);
    paths.add_path_operation(
        format!("{job_path}/operation"),
        vec![HttpMethod::Get],
        operation,
    );
}
