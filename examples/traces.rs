//! One trace from the request to every run of its job (asyncep's feature
//! `opentelemetry`): the report endpoints, with `tracing-opentelemetry`
//! installed and each finished span printed by OpenTelemetry's stdout
//! exporter. Swap in your OTLP exporter; asyncep needs nothing else.
//!
//! ```sh
//! cargo run --example traces
//! curl -X POST localhost:3000/reports/7 -H 'content-type: application/json' -d '{"title":"Q3"}' \
//!      -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
//! ```
//!
//! The `asyncep.submit` span and the job's `asyncep.attempt` span print with
//! the trace id `4bf92f35...`: the attempt is the submit's child.

use asyncep_examples::reports;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(tracing_subscriber::fmt::layer())
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("reports")))
        .init();

    let runtime = reports::runtime_builder()?.build()?;
    let app = runtime.mount(axum::Router::new());
    let address = std::env::var("TRACES_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!("listening on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    runtime.shutdown().await;
    provider.shutdown()?;
    Ok(())
}
