//! The jobs' metrics for Prometheus: the report endpoints, and `/metrics`
//! served by `metrics-exporter-prometheus` (asyncep's feature `metrics`).
//!
//! ```sh
//! cargo run --example metrics
//! curl -X POST localhost:3000/reports/7 -H 'content-type: application/json' -d '{"title":"Q3"}'
//! curl localhost:3000/metrics
//! ```

use std::time::Duration;

use asyncep_examples::reports;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Bucket bounds, in seconds, for the run time and the queue wait: from a
/// few milliseconds to the minutes a slow job takes.
const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    asyncep_examples::init_tracing();
    // Install the recorder before building the runtime: the build gives it
    // each metric's description. Buckets make the `_seconds` metrics
    // Prometheus histograms (they would be summaries without).
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)?
        .install_recorder()?;
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });

    let runtime = reports::runtime_builder()?.build()?;
    let scrape = get(move || std::future::ready(prometheus.render()));
    let app = runtime.mount(axum::Router::new().route("/metrics", scrape));

    let address = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!("listening on http://{address}; metrics at /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    runtime.shutdown().await;
    Ok(())
}
