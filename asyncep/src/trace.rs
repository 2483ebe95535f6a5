//! The W3C trace context across the 202: captured when a job is submitted,
//! stored with it, and continued by each attempt's span, so that one trace
//! shows the request, the wait and every run (the first attempt as a child
//! of the submit, retries linked to it). With the feature `opentelemetry`,
//! through `tracing-opentelemetry`; without it, nothing is captured and
//! nothing costs anything.

use axum::http::HeaderMap;
use tracing::Span;

use crate::job::TraceContext;

/// Makes `span` (the submit's) a child of the request's own `traceparent`,
/// unless the application's layers already put the request in a trace.
pub(crate) fn adopt_request(span: &Span, headers: &HeaderMap) {
    imp::adopt_request(span, headers);
}

/// The trace context of `span` (the submit's), to store with the job.
pub(crate) fn capture(span: &Span) -> Option<Box<TraceContext>> {
    imp::capture(span)
}

/// Continues `trace` in `span` (an attempt's): as its parent for the first
/// attempt, as a link for the others.
pub(crate) fn continue_in(span: &Span, trace: Option<&TraceContext>, first_attempt: bool) {
    imp::continue_in(span, trace, first_attempt);
}

#[cfg(feature = "opentelemetry")]
mod imp {
    use axum::http::HeaderMap;
    use opentelemetry::Context;
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use crate::job::TraceContext;

    struct Headers<'a>(&'a HeaderMap);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|name| name.as_str()).collect()
        }
    }

    struct Stored<'a>(&'a TraceContext);

    impl Extractor for Stored<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                "traceparent" => Some(&self.0.traceparent),
                "tracestate" => self.0.tracestate.as_deref(),
                _ => None,
            }
        }

        fn keys(&self) -> Vec<&str> {
            vec!["traceparent", "tracestate"]
        }
    }

    /// The two fields the W3C propagator writes, kept as they come: no
    /// map, no copy of the keys.
    #[derive(Default)]
    struct Fields {
        traceparent: Option<String>,
        tracestate: Option<String>,
    }

    impl Injector for Fields {
        fn set(&mut self, key: &str, value: String) {
            match key {
                "traceparent" => self.traceparent = Some(value),
                "tracestate" => self.tracestate = Some(value),
                _ => {}
            }
        }
    }

    fn is_traced(context: &Context) -> bool {
        context.span().span_context().is_valid()
    }

    pub(super) fn adopt_request(span: &Span, headers: &HeaderMap) {
        if is_traced(&Span::current().context()) || headers.get("traceparent").is_none() {
            return;
        }
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        if is_traced(&parent) {
            // Fails only without an OpenTelemetry layer: nothing to trace.
            let _ = span.set_parent(parent);
        }
    }

    pub(super) fn capture(span: &Span) -> Option<Box<TraceContext>> {
        let context = span.context();
        if !is_traced(&context) {
            return None;
        }
        let mut fields = Fields::default();
        TraceContextPropagator::new().inject_context(&context, &mut fields);
        Some(Box::new(TraceContext {
            traceparent: fields.traceparent?,
            tracestate: fields.tracestate.filter(|state| !state.is_empty()),
        }))
    }

    pub(super) fn continue_in(span: &Span, trace: Option<&TraceContext>, first_attempt: bool) {
        let Some(trace) = trace else {
            return;
        };
        let submitted = TraceContextPropagator::new().extract(&Stored(trace));
        if !is_traced(&submitted) {
            return;
        }
        if first_attempt {
            let _ = span.set_parent(submitted);
        } else {
            span.add_link(submitted.span().span_context().clone());
        }
    }
}

#[cfg(not(feature = "opentelemetry"))]
mod imp {
    use axum::http::HeaderMap;
    use tracing::Span;

    use crate::job::TraceContext;

    pub(super) fn adopt_request(_: &Span, _: &HeaderMap) {}

    pub(super) fn capture(_: &Span) -> Option<Box<TraceContext>> {
        None
    }

    pub(super) fn continue_in(_: &Span, _: Option<&TraceContext>, _: bool) {}
}
