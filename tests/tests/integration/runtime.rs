//! The runtime: shutdown, split API and worker roles, state.

use std::sync::Arc;
use std::time::Duration;

use asyncep::store::JobStore;
use asyncep::{ConfigError, JobId, JobStatus, Runtime};
use asyncep_tests::TestServer;
use serde_json::json;

use crate::{Backend, on_every_store};

on_every_store!(
    shutdown_hands_an_unfinished_job_back,
    a_handler_that_stops_when_asked_is_interrupted_not_failed,
    a_shut_down_runtime_claims_nothing_more,
    an_api_only_process_accepts_and_a_worker_process_runs,
    zero_workers_means_api_only,
    state_reaches_the_handler,
);

async fn status_of(store: &Arc<dyn JobStore>, id: &str) -> asyncep::Job {
    store
        .get(id.parse::<JobId>().unwrap())
        .await
        .unwrap()
        .expect("the job is stored")
}

async fn shutdown_hands_an_unfinished_job_back(backend: Backend) {
    let store = backend.store.clone();
    let server = TestServer::start(
        backend
            .builder()
            .workers(1)
            .shutdown_grace(Duration::from_millis(100)),
    )
    .await;
    let id = server.submit("/sleeper", &json!(null)).await;
    server.wait_for_status(&id, "InProgress").await;
    server.runtime.shutdown().await;
    let job = status_of(&store, &id).await;
    assert_eq!(job.status, JobStatus::Queued, "handed back to the queue");
    assert_eq!(job.attempts.len(), 1);
    assert_eq!(
        job.attempts[0].status,
        asyncep::job::AttemptStatus::Interrupted
    );
    assert_eq!(job.retry_count, 0, "an interruption does not use a retry");

    // Another worker on the same store finishes it.
    let next = backend.builder().workers(1).build().unwrap();
    next.start_workers();
    let done = asyncep_tests::wait_until(Duration::from_secs(30), async || {
        status_of(&store, &id).await.status == JobStatus::Completed
    })
    .await;
    assert!(done);
    let job = status_of(&store, &id).await;
    assert_eq!(job.attempts.len(), 2);
    assert_eq!(job.result.unwrap().get(), "2");
    next.shutdown().await;
}

async fn a_handler_that_stops_when_asked_is_interrupted_not_failed(backend: Backend) {
    let store = backend.store.clone();
    let server = TestServer::start(
        backend
            .builder()
            .workers(1)
            .shutdown_grace(Duration::from_secs(30)),
    )
    .await;
    let id = server.submit("/polite", &json!(null)).await;
    server.wait_for_status(&id, "InProgress").await;
    tokio::time::timeout(Duration::from_secs(20), server.runtime.shutdown())
        .await
        .expect("a cooperative handler ends the shutdown long before the grace");
    let job = status_of(&store, &id).await;
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(
        job.attempts[0].status,
        asyncep::job::AttemptStatus::Interrupted
    );
    assert_eq!(
        job.attempts[0].error.as_ref().unwrap().message,
        "asked to stop"
    );
}

async fn a_shut_down_runtime_claims_nothing_more(backend: Backend) {
    let store = backend.store.clone();
    let server = TestServer::start(backend.builder().workers(1)).await;
    server.runtime.shutdown().await;
    let id = server
        .submit("/echo/1", &json!({ "message": "late" }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status_of(&store, &id).await.status, JobStatus::Queued);
}

async fn an_api_only_process_accepts_and_a_worker_process_runs(backend: Backend) {
    let store = backend.store.clone();
    let api = Runtime::builder()
        .state(crate::endpoints::Greeting("hi".into()))
        .shared_store(store.clone())
        .build()
        .unwrap();
    if !store.is_shared() {
        // Before: an API-only process on a store of its own answered 202
        // forever, and nothing ever ran the jobs.
        let error = api.api(axum::Router::new()).unwrap_err();
        assert!(
            matches!(error, ConfigError::NoWorkerCanRun { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("shared store"), "{error}");
        return;
    }
    let server = TestServer::serve(api.clone(), api.api(axum::Router::new()).unwrap()).await;
    let id = server
        .submit("/echo/5", &json!({ "message": "split" }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.job(&id).await["status"],
        "Queued",
        "the API process runs nothing"
    );

    let workers = backend.builder().workers(2).build().unwrap();
    let running = tokio::spawn({
        let workers = workers.clone();
        async move { workers.run_workers().await.unwrap() }
    });
    assert_eq!(
        server.wait_for_status(&id, "Completed").await["result"]["message"],
        "split"
    );
    workers.shutdown().await;
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run_workers returns after shutdown")
        .unwrap();
}

async fn zero_workers_means_api_only(backend: Backend) {
    if !backend.store.is_shared() {
        let error = backend.builder().workers(0).build().unwrap_err();
        assert!(
            matches!(error, ConfigError::NoWorkerCanRun { .. }),
            "{error}"
        );
        return;
    }
    let server = TestServer::start(backend.builder().workers(0)).await;
    let id = server.submit("/echo/1", &json!({ "message": "x" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.job(&id).await["status"], "Queued");
}

#[tokio::test]
async fn a_missing_state_is_refused_at_build_with_the_fix() {
    let error = Runtime::builder().build().unwrap_err();
    assert!(matches!(error, ConfigError::MissingState { .. }));
    let message = error.to_string();
    assert!(message.contains("State<"), "{message}");
    assert!(message.contains("Greeting"), "{message}");
    assert!(message.contains("endpoints::greet"), "{message}");
    assert!(message.contains("Runtime::builder().state("), "{message}");
}

async fn state_reaches_the_handler(backend: Backend) {
    let server = TestServer::start(
        backend
            .builder()
            .state(crate::endpoints::Greeting("welcome".into())),
    )
    .await;
    let response = server
        .client
        .delete(server.url("/greetings/grace"))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    assert_eq!(
        server.wait_for_status(&id, "Completed").await["result"],
        "welcome, grace"
    );
}

#[tokio::test]
async fn the_runtime_lists_every_registered_job() {
    let runtime = crate::Backend::memory().unwrap().builder().build().unwrap();
    let names = runtime.job_names();
    for name in [
        "counted", "doomed", "echo", "flaky", "greet", "lookup", "panicky", "ping", "slow",
        "transfer",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(names.is_sorted());
    assert!(runtime.store().get(JobId::new()).await.unwrap().is_none());
}
