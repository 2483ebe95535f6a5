//! Faults of the worker's surroundings: a handler that blocks its thread, a
//! store that blinks at `finish`, a store call that panics. No job may run
//! twice, be lost, or stall.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use asyncep_tests::TestServer;
use asyncep_tests::faults::Faulty;
use serde_json::json;

use crate::Backend;
use crate::endpoints::runs_of;

/// A runtime whose lease is far shorter than the 10 s jobs below (each job
/// outlives two leases), yet long enough that a 2-core machine running the
/// whole suite, its databases and its worker processes still renews it in
/// time: with 300 ms, renewals on PostgreSQL came too late in some full runs.
fn short_lease(backend: &Backend) -> asyncep::RuntimeBuilder {
    backend.builder().lease(Duration::from_secs(4)).workers(2)
}

/// Before: the heartbeat was polled in the handler's task, so a handler
/// that blocked its thread never renewed its lease, and another worker ran
/// the same job at the same time.
async fn a_handler_that_blocks_its_thread_keeps_its_lease(backend: Backend) {
    let server = TestServer::start(short_lease(&backend)).await;
    let id = server.submit("/blocker", &json!(null)).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(runs_of(&id), 1, "the job ran once: {job:#}");
    assert_eq!(job["attempts"].as_array().unwrap().len(), 1);
}

/// Before: the renewed lease was thrown away, so a job that ran longer
/// than its lease gave up at the first failed `finish`; its lease lapsed
/// and the job ran again.
async fn a_finish_that_fails_once_is_retried_under_the_live_lease(backend: Backend) {
    let store = Arc::new(Faulty::new(backend.store.clone()));
    store.failing_finishes.store(1, Ordering::Release);
    let faulty = Backend {
        store: store.clone(),
    };
    let server = TestServer::start(short_lease(&faulty)).await;
    let id = server.submit("/long", &json!(null)).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(
        store.failing_finishes.load(Ordering::Acquire),
        0,
        "the fault fired"
    );
    assert_eq!(runs_of(&id), 1, "the job ran once");
    assert_eq!(job["attempts"].as_array().unwrap().len(), 1);
}

/// Before: a panic in a worker loop ended it for the life of the process,
/// while the API kept answering 202.
async fn a_worker_loop_that_panics_is_restarted(backend: Backend) {
    let store = Arc::new(Faulty::new(backend.store.clone()));
    store.panicking_claims.store(3, Ordering::Release);
    let faulty = Backend {
        store: store.clone(),
    };
    let server = TestServer::start(faulty.builder().workers(1)).await;
    let id = server
        .submit("/echo/1", &json!({ "message": "still runs" }))
        .await;
    server.wait_for_status(&id, "Completed").await;
    assert_eq!(
        store.panicking_claims.load(Ordering::Acquire),
        0,
        "the faults fired"
    );
    assert!(
        asyncep_tests::wait_until(Duration::from_secs(10), async || server
            .runtime
            .live_workers()
            == 1)
        .await,
        "the worker is counted live again"
    );
}

/// A create whose reply was lost: the client is told the outcome is
/// unknown and where to look, and repeating the request with its id finds
/// the job instead of making a second one.
async fn a_lost_create_reply_says_so_and_a_repeat_finds_the_job(backend: Backend) {
    let store = Arc::new(Faulty::new(backend.store.clone()));
    store.lost_create_replies.store(1, Ordering::Release);
    let faulty = Backend {
        store: store.clone(),
    };
    let server = TestServer::start(faulty.builder().workers(1)).await;
    let id = uuid::Uuid::new_v4().to_string();
    let submit = || {
        server
            .client
            .post(server.url("/echo/1"))
            .header("x-async-request-id", &id)
            .json(&json!({ "message": "maybe" }))
            .send()
    };
    let first = submit().await.unwrap();
    assert_eq!(first.status(), 503);
    assert!(first.headers().contains_key("retry-after"));
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/jobs/{id}"));
    let problem: serde_json::Value = first.json().await.unwrap();
    assert_eq!(problem["type"], "urn:asyncep:problem:store-outcome-unknown");
    let again = asyncep_tests::accepted_id(submit().await.unwrap()).await;
    assert_eq!(again, id, "the repeat found the job the lost reply made");
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(job["attempts"].as_array().unwrap().len(), 1);
    assert!(
        job["result"]["fencingToken"].as_u64().unwrap() > 0,
        "the handler saw its token"
    );
}

/// Before: a worker that stopped while its claim's answer was lost left
/// at once, and the job that claim took waited out its lease, running
/// under nobody. Now the stopping worker looks for it and hands it back.
async fn a_job_whose_claim_answer_was_lost_is_handed_back_at_shutdown(backend: Backend) {
    handed_back_at_shutdown(backend, 0).await;
}

/// The stopping worker's look is itself a claim whose answer can be lost:
/// it is repeated within the grace.
async fn a_stopping_workers_look_is_repeated_when_its_answer_is_lost(backend: Backend) {
    handed_back_at_shutdown(backend, 2).await;
}

/// A job taken by a claim whose answer was lost; `lost_at_stop` more
/// answers are lost once the shutdown begins.
async fn handed_back_at_shutdown(backend: Backend, lost_at_stop: u32) {
    let store = Arc::new(Faulty::new(backend.store.clone()));
    store.lost_claim_replies.store(u32::MAX, Ordering::Release);
    let faulty = Backend {
        store: store.clone(),
    };
    // A lease far longer than the test: a job left to it would show.
    let builder = faulty.builder().workers(1).lease(Duration::from_secs(600));
    let server = TestServer::start(builder).await;
    let id = server.submit("/stoppable", &json!(null)).await;
    let job_id: asyncep::JobId = id.parse().unwrap();
    assert!(
        asyncep_tests::wait_until(Duration::from_secs(20), async || {
            let job = backend.store.get(job_id).await.unwrap().unwrap();
            job.status == asyncep::JobStatus::InProgress
        })
        .await,
        "a claim whose answer was lost took the job"
    );
    let claims = store.claims.load(Ordering::Acquire);
    store
        .lost_claim_replies
        .store(lost_at_stop, Ordering::Release);
    server.runtime.shutdown().await;
    let job = backend.store.get(job_id).await.unwrap().unwrap();
    assert!(
        store.claims.load(Ordering::Acquire) > claims,
        "the stopping worker looked"
    );
    assert_ne!(
        job.status,
        asyncep::JobStatus::InProgress,
        "the job is not left to its lease: {job:?}"
    );
}

/// These cases run on a multi-thread runtime: a blocked handler must not
/// block the heartbeat.
macro_rules! on_every_store_threaded {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crate::Backend::memory().unwrap()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(backend) = crate::Backend::redis() {
                        super::$case(backend).await
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(backend) = crate::Backend::postgres() {
                        super::$case(backend).await
                    }
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crate::Backend::sqlite().unwrap()).await
                }
            )*
        }
    };
}

on_every_store_threaded!(
    a_handler_that_blocks_its_thread_keeps_its_lease,
    a_finish_that_fails_once_is_retried_under_the_live_lease,
    a_worker_loop_that_panics_is_restarted,
    a_lost_create_reply_says_so_and_a_repeat_finds_the_job,
    a_job_whose_claim_answer_was_lost_is_handed_back_at_shutdown,
    a_stopping_workers_look_is_repeated_when_its_answer_is_lost,
);
