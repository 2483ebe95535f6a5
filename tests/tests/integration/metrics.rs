//! The metrics (feature `metrics`) on every store, scraped over HTTP from a
//! `/metrics` route served by `metrics-exporter-prometheus`, as the example
//! serves it: what the jobs did is what the counters say.

use std::time::Duration;

use asyncep::metrics::names;
use asyncep_tests::TestServer;
use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::json;

use crate::{Backend, on_every_store};

on_every_store!(the_metrics_count_what_the_jobs_did);

async fn the_metrics_count_what_the_jobs_did(backend: Backend) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // This test's thread only: a current-thread runtime runs the server,
    // the workers and the client here, and other tests keep their own.
    let _local = metrics::set_default_local_recorder(&recorder);
    let runtime = backend
        .builder()
        .workers(1)
        .queue_metrics_every(Duration::from_millis(50))
        .build()
        .unwrap();
    let metrics = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    let server = TestServer::serve(runtime.clone(), runtime.mount(metrics)).await;
    let scrape = async || -> Scrape {
        let response = server.client.get(server.url("/metrics")).send().await;
        Scrape(response.unwrap().text().await.unwrap())
    };

    // The one worker is held by a job that runs until canceled; three wait.
    let polite = server.submit("/polite", &json!(null)).await;
    server.wait_for_status(&polite, "InProgress").await;
    let mut pings = Vec::new();
    for n in 0..3 {
        pings.push(server.submit(&format!("/ping/{n}"), &json!(null)).await);
    }
    let waiting = |s: &Scrape| s.job(names::QUEUE_DEPTH, "ping") == Some(3.0);
    let seen = eventually(scrape, waiting).await;
    let age = seen.job(names::QUEUE_OLDEST_AGE, "ping").unwrap();
    assert!(age > 0.0, "the oldest ping has waited: {age}");
    assert_eq!(seen.value(names::WORKERS, &[]), Some(1.0));
    assert_eq!(seen.job(names::IN_FLIGHT, "polite"), Some(1.0));

    // One waiting job canceled by the cancel, the running one by its worker.
    let canceled = server
        .client
        .delete(server.url(&format!("/jobs/{}", pings[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.status(), 200);
    server
        .client
        .delete(server.url(&format!("/jobs/{polite}")))
        .send()
        .await
        .unwrap();
    server.wait_for_status(&polite, "Canceled").await;
    for ping in &pings[1..] {
        server.wait_for_status(ping, "Completed").await;
    }
    let flaky = server
        .client
        .put(server.url("/flaky"))
        .json(&json!({ "fail_times": 1 }))
        .send()
        .await
        .unwrap();
    let flaky = asyncep_tests::accepted_id(flaky).await;
    server.wait_for_status(&flaky, "Completed").await;
    let doomed = server
        .client
        .patch(server.url("/doomed"))
        .send()
        .await
        .unwrap();
    let doomed = asyncep_tests::accepted_id(doomed).await;
    server.wait_for_status(&doomed, "Failed").await;

    let drained = |s: &Scrape| s.job(names::QUEUE_DEPTH, "ping") == Some(0.0);
    let s = eventually(scrape, drained).await;
    let expected = [
        (names::SUBMITTED, "ping", 3.0),
        (names::SUBMITTED, "polite", 1.0),
        (names::SUBMITTED, "flaky", 1.0),
        (names::STARTED, "ping", 2.0),
        (names::STARTED, "flaky", 2.0),
        (names::SUCCEEDED, "ping", 2.0),
        (names::SUCCEEDED, "flaky", 1.0),
        (names::RETRIED, "flaky", 1.0),
        (names::FAILED, "doomed", 1.0),
        (names::CANCELED, "ping", 1.0),
        (names::CANCELED, "polite", 1.0),
        (names::IN_FLIGHT, "polite", 0.0),
        (names::IN_FLIGHT, "ping", 0.0),
    ];
    for (metric, job, value) in expected {
        assert_eq!(
            s.job(metric, job),
            Some(value),
            "{metric} of {job}:\n{}",
            s.0
        );
    }
    // Every series of a job name exists from the start, at zero.
    assert_eq!(s.job(names::FAILED, "ping"), Some(0.0), "no ping failed");
    let count = |metric: &str, labels: &[(&str, &str)]| s.value(&format!("{metric}_count"), labels);
    assert_eq!(
        count(names::QUEUE_WAIT, &[(names::JOB_NAME, "ping")]),
        Some(2.0)
    );
    let canceled_run = [(names::JOB_NAME, "polite"), ("error_type", "Canceled")];
    assert_eq!(count(names::PROCESS_DURATION, &canceled_run), Some(1.0));
    let failed_run = [(names::JOB_NAME, "flaky"), ("error_type", "Failed")];
    assert_eq!(count(names::PROCESS_DURATION, &failed_run), Some(1.0));
    assert!(s.0.contains(&format!("# HELP {}", names::QUEUE_DEPTH)));
    runtime.shutdown().await;
}

/// Scrapes until `done` holds; fails after a patient while.
async fn eventually(scrape: impl AsyncFn() -> Scrape, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape().await;
        if done(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never came:\n{}",
            s.0
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One scrape of `/metrics`, in Prometheus' text format.
struct Scrape(String);

impl Scrape {
    /// The sample of `metric` whose labels include all of `labels`.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(series, _)| {
                let (name, rest) = series.split_once('{').unwrap_or((series, ""));
                name == metric
                    && labels
                        .iter()
                        .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")))
            })
            .and_then(|(_, value)| value.parse().ok())
    }

    /// The sample of `metric` for the job name `job`.
    fn job(&self, metric: &str, job: &str) -> Option<f64> {
        self.value(metric, &[(names::JOB_NAME, job)])
    }
}
