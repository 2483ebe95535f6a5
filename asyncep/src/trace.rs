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
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
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

    fn is_traced(context: &Context) -> bool {
        context.span().span_context().is_valid()
    }

    pub(super) fn adopt_request(span: &Span, headers: &HeaderMap) {
        // The header first: most requests carry none, and a span's context
        // is a look-up in the subscriber.
        if headers.get("traceparent").is_none() || is_traced(&Span::current().context()) {
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
        let span = context.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return None;
        }
        let state = span_context.trace_state().header();
        Some(Box::new(TraceContext {
            traceparent: traceparent(span_context)?,
            tracestate: Some(state).filter(|state| !state.is_empty()),
        }))
    }

    /// The W3C `traceparent` of `span_context`, as the propagator writes it
    /// (`00-{trace id}-{span id}-{flags}`, lower-case hex), without its
    /// `format!`: the hex crate writes the ids into one buffer, which is a
    /// third of a traced submit's cost in asyncep (the test below holds it
    /// to the propagator's output).
    fn traceparent(span_context: &SpanContext) -> Option<String> {
        let mut text = [0u8; 55];
        text[..3].copy_from_slice(b"00-");
        hex::encode_to_slice(span_context.trace_id().to_bytes(), &mut text[3..35]).ok()?;
        text[35] = b'-';
        hex::encode_to_slice(span_context.span_id().to_bytes(), &mut text[36..52]).ok()?;
        text[52] = b'-';
        let flags = (span_context.trace_flags() & TraceFlags::SAMPLED).to_u8();
        hex::encode_to_slice([flags], &mut text[53..]).ok()?;
        std::str::from_utf8(&text).ok().map(str::to_owned)
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

    #[cfg(test)]
    mod tests {
        use opentelemetry::trace::{SpanId, TraceId, TraceState};

        use opentelemetry::propagation::Injector;

        use super::*;

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

        /// What the propagator writes, for `span_context`.
        fn propagated(span_context: SpanContext) -> Fields {
            let context = Context::new().with_remote_span_context(span_context);
            let mut fields = Fields::default();
            TraceContextPropagator::new().inject_context(&context, &mut fields);
            fields
        }

        #[test]
        fn the_traceparent_is_the_propagators() {
            for (trace, span, flags) in [
                (
                    0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                    0x00f0_67aa_0ba9_02b7,
                    1,
                ),
                (1, 1, 0),
                (u128::MAX, u64::MAX, 0xff),
            ] {
                let span_context = SpanContext::new(
                    TraceId::from(trace),
                    SpanId::from(span),
                    TraceFlags::new(flags),
                    true,
                    TraceState::default(),
                );
                assert_eq!(
                    traceparent(&span_context),
                    propagated(span_context).traceparent
                );
            }
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
