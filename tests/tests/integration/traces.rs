//! The trace context across the 202 (feature `opentelemetry`), on every
//! store: the submit joins the client's `traceparent`, the first attempt's
//! span is its child, and a retry's span links to it, so that one trace
//! shows the request and every run.

use asyncep_tests::TestServer;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

use crate::{Backend, on_every_store};

on_every_store!(attempts_continue_the_trace_of_the_submit);

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

async fn attempts_continue_the_trace_of_the_submit(backend: Backend) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("asyncep-test")));
    // This test's thread only: a current-thread runtime runs the server,
    // the workers and the client here.
    let _traced = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .put(server.url("/flaky"))
        .header("traceparent", format!("00-{TRACE}-{CLIENT_SPAN}-01"))
        .json(&json!({ "fail_times": 1 }))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    server.wait_for_status(&id, "Completed").await;
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let named = |name: &str| -> Vec<&SpanData> {
        let mut found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
        found.sort_by_key(|s| s.start_time);
        found
    };
    let trace = TraceId::from_hex(TRACE).unwrap();
    let submits = named("asyncep.submit");
    let submit = submits
        .iter()
        .find(|s| s.span_context.trace_id() == trace)
        .unwrap_or_else(|| panic!("no submit span in the client's trace: {submits:#?}"));
    assert_eq!(
        submit.parent_span_id,
        SpanId::from_hex(CLIENT_SPAN).unwrap()
    );
    let attempts: Vec<&SpanData> = named("asyncep.attempt")
        .into_iter()
        .filter(|attempt| {
            attempt.span_context.trace_id() == trace
                || attempt
                    .links
                    .links
                    .iter()
                    .any(|link| link.span_context.trace_id() == trace)
        })
        .collect();
    assert_eq!(attempts.len(), 2, "two attempts: {attempts:#?}");
    let (first, retry) = (attempts[0], attempts[1]);
    assert_eq!(
        first.span_context.trace_id(),
        trace,
        "the first attempt joins the trace"
    );
    assert_eq!(first.parent_span_id, submit.span_context.span_id());
    assert!(
        retry
            .links
            .links
            .iter()
            .any(|link| link.span_context.span_id() == submit.span_context.span_id()),
        "the retry links to the submit: {retry:#?}"
    );
}
