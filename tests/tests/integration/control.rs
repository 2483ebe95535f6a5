//! Job control over HTTP, on every store: cancel (`DELETE /jobs/{id}`),
//! progress, waiting (`?wait=`, `Prefer: wait=`) and the event stream.

use std::time::{Duration, Instant};

use asyncep::{AsyncContext, async_endpoint};
use asyncep_tests::{TestServer, accepted_id, problem};
use serde_json::{Value, json};

use crate::{Backend, on_every_store};

on_every_store!(
    a_waiting_job_is_canceled_at_once_and_never_runs,
    a_running_job_hears_the_cancel_and_ends_canceled,
    a_handler_that_ignores_the_cancel_is_dropped_after_the_grace,
    a_finished_job_refuses_a_cancel,
    progress_shows_in_the_job_document,
    progress_in_a_tight_loop_is_written_a_few_times,
    a_wait_returns_as_soon_as_the_job_finishes,
    a_wait_that_runs_out_answers_the_job_as_it_is,
    prefer_wait_answers_with_the_finished_job,
    the_event_stream_runs_to_the_finished_job,
);

/// Reports progress, then runs until its cancellation token fires (or a
/// minute passes).
#[async_endpoint(job = "stoppable", post = "/stoppable", retries = 3)]
async fn stoppable(ctx: AsyncContext) -> Result<String, String> {
    ctx.progress(&json!({ "phase": "started" }));
    tokio::select! {
        () = ctx.cancellation.cancelled() => Err("stopped".into()),
        () = tokio::time::sleep(Duration::from_secs(60)) => Ok("ran to the end".into()),
    }
}

/// Ignores its cancellation token.
#[async_endpoint(job = "deaf", post = "/deaf", retries = 3)]
async fn deaf(_ctx: AsyncContext) -> Result<String, String> {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok("never".into())
}

/// Reports its progress 10,000 times as fast as it can, then returns.
#[async_endpoint(job = "chatty", post = "/chatty")]
async fn chatty(ctx: AsyncContext) -> Result<u32, String> {
    for step in 1..=10_000_u32 {
        ctx.progress(&step);
    }
    Ok(10_000)
}

/// Takes a moment, reporting each step, then returns.
#[async_endpoint(job = "stepper", post = "/stepper/<steps>")]
async fn stepper(ctx: AsyncContext) -> Result<u32, String> {
    let steps: u32 = ctx.route_params["steps"]
        .parse()
        .map_err(|_| "not a number")?;
    for step in 1..=steps {
        ctx.progress(&json!({ "step": step, "of": steps }));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(steps)
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server.client.get(server.url(path)).send().await.unwrap()
}

async fn delete(server: &TestServer, id: &str) -> reqwest::Response {
    server
        .client
        .delete(server.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap()
}

/// Cancels a running job: `202` with `cancelRequested` while its handler
/// stops, or `200` if it already ended `Canceled` by the time the answer
/// was read (its worker may hear of the cancel first).
async fn cancel_running(server: &TestServer, id: &str) -> Value {
    let response = delete(server, id).await;
    let status = response.status();
    let job: Value = response.json().await.unwrap();
    match status.as_u16() {
        202 => assert_eq!(job["cancelRequested"], true, "{job:#}"),
        200 => assert_eq!(job["status"], "Canceled", "{job:#}"),
        other => panic!("DELETE of a running job answered {other}: {job:#}"),
    }
    job
}

async fn a_waiting_job_is_canceled_at_once_and_never_runs(backend: Backend) {
    // One worker, held by the first job: the second waits in the queue.
    let server = TestServer::start(backend.builder().workers(1)).await;
    let running = server.submit("/stoppable", &json!(null)).await;
    server.wait_for_status(&running, "InProgress").await;
    let queued = server.submit("/stoppable", &json!(null)).await;
    let response = delete(&server, &queued).await;
    assert_eq!(response.status(), 200);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "Canceled");
    assert_eq!(job["error"]["code"], "canceled");
    // Asking again is harmless.
    assert_eq!(delete(&server, &queued).await.status(), 200);
    // Free the worker: the canceled job still never runs.
    cancel_running(&server, &running).await;
    server.wait_for_status(&running, "Canceled").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let job = server.job(&queued).await;
    assert_eq!(job["status"], "Canceled");
    assert_eq!(job["attempts"], json!([]), "it never ran");
    problem(
        delete(&server, &uuid::Uuid::new_v4().to_string()).await,
        404,
    )
    .await;
    problem(delete(&server, "not-an-id").await, 400).await;
}

async fn a_running_job_hears_the_cancel_and_ends_canceled(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/stoppable", &json!(null)).await;
    server.wait_for_status(&id, "InProgress").await;
    let response = delete(&server, &id).await;
    if response.status() == 202 {
        // The handler is told; it has not stopped yet.
        assert_eq!(response.headers()["retry-after"], "1");
        let job: Value = response.json().await.unwrap();
        assert_eq!(job["cancelRequested"], true);
    } else {
        assert_eq!(response.status(), 200, "it stopped before the answer");
    }
    let job = server.wait_for_status(&id, "Canceled").await;
    let attempts = job["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "no retry after a cancel: {job:#}");
    assert_eq!(attempts[0]["status"], "Canceled");
    assert_eq!(job["error"]["code"], "canceled");
    assert_eq!(job["retryCount"], 0);
}

async fn a_handler_that_ignores_the_cancel_is_dropped_after_the_grace(backend: Backend) {
    let builder = backend.builder().cancel_grace(Duration::from_millis(300));
    let server = TestServer::start(builder).await;
    let id = server.submit("/deaf", &json!(null)).await;
    server.wait_for_status(&id, "InProgress").await;
    cancel_running(&server, &id).await;
    let job = server.wait_for_status(&id, "Canceled").await;
    assert_eq!(job["attempts"][0]["status"], "Canceled");
}

async fn a_finished_job_refuses_a_cancel(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server
        .submit("/echo/1", &json!({ "message": "done" }))
        .await;
    server.wait_for_status(&id, "Completed").await;
    let body = problem(delete(&server, &id).await, 409).await;
    assert_eq!(body["type"], "urn:asyncep:problem:job-already-finished");
    assert_eq!(
        server.job(&id).await["status"],
        "Completed",
        "nothing changed"
    );
}

async fn progress_shows_in_the_job_document(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/stoppable", &json!(null)).await;
    let job = server
        .wait_for(&id, |job| job["progress"] == json!({ "phase": "started" }))
        .await;
    assert_eq!(job["status"], "InProgress");
    cancel_running(&server, &id).await;
    let job = server.wait_for_status(&id, "Canceled").await;
    assert_eq!(job["progress"]["phase"], "started", "kept to the end");
}

async fn progress_in_a_tight_loop_is_written_a_few_times(backend: Backend) {
    let store = std::sync::Arc::new(asyncep_tests::faults::Faulty::new(backend.store.clone()));
    let counted = Backend {
        store: store.clone(),
    };
    let server = TestServer::start(counted.builder()).await;
    let id = server.submit("/chatty", &json!(null)).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(job["progress"], 10_000, "the last value is kept");
    let writes = store
        .progress_writes
        .load(std::sync::atomic::Ordering::Acquire);
    // One write per 200 ms beat at most, and the last value before the
    // outcome: a loop of a few milliseconds is a handful of writes.
    assert!(
        (1..=20).contains(&writes),
        "{writes} writes for 10,000 reports"
    );
}

async fn a_wait_returns_as_soon_as_the_job_finishes(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/stepper/2", &json!(null)).await;
    let asked = Instant::now();
    let response = get(&server, &format!("/jobs/{id}?wait=30s")).await;
    let waited = asked.elapsed();
    let answered = std::time::SystemTime::now();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("retry-after").is_none(),
        "it finished"
    );
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "Completed", "{job:#}");
    assert_eq!(job["result"], 2);
    // Not a timing test: only that the answer came with the end (within
    // moments of `completedAt`, on this machine's clock), long before the
    // wait ran out.
    assert!(waited < Duration::from_secs(20), "waited {waited:?}");
    let completed: asyncep::job::Timestamp =
        serde_json::from_value(job["completedAt"].clone()).unwrap();
    let after = answered
        .duration_since(completed.to_system_time())
        .unwrap_or_default();
    assert!(
        after < Duration::from_secs(5),
        "answered {after:?} after the end"
    );
    // A finished job answers at once.
    let response = get(&server, &format!("/jobs/{id}?wait=30")).await;
    assert_eq!(response.status(), 200);
}

async fn a_wait_that_runs_out_answers_the_job_as_it_is(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/stoppable", &json!(null)).await;
    server.wait_for_status(&id, "InProgress").await;
    let response = get(&server, &format!("/jobs/{id}?wait=300ms")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["retry-after"], "1");
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "InProgress");
    let bad = get(&server, &format!("/jobs/{id}?wait=soon")).await;
    let body = problem(bad, 400).await;
    assert_eq!(body["type"], "urn:asyncep:problem:invalid-wait");
    cancel_running(&server, &id).await;
}

async fn prefer_wait_answers_with_the_finished_job(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .post(server.url("/echo/5"))
        .header("prefer", "respond-async, wait=20")
        .json(&json!({ "message": "quick" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "finished within the wait");
    assert_eq!(response.headers()["preference-applied"], "wait=20");
    assert_eq!(response.headers()["vary"], "Prefer");
    assert!(response.headers().get("location").is_some());
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "Completed");
    // A job that does not finish in time gets the usual 202.
    let response = server
        .client
        .post(server.url("/stoppable"))
        .header("prefer", "wait=1")
        .json(&json!(null))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["vary"], "Prefer");
    assert!(response.headers().get("preference-applied").is_none());
    let id = accepted_id(response).await;
    cancel_running(&server, &id).await;
}

/// One event of a `text/event-stream` body.
#[derive(Debug)]
struct Event {
    kind: String,
    id: String,
    job: Value,
}

fn events(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim_start().to_owned())
            };
            Some(Event {
                kind: field("event:")?,
                id: field("id:")?,
                job: serde_json::from_str(&field("data:")?).ok()?,
            })
        })
        .collect()
}

async fn the_event_stream_runs_to_the_finished_job(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/stepper/3", &json!(null)).await;
    let response = get(&server, &format!("/jobs/{id}/events")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The stream ends with the job: the whole body can be read.
    let body = tokio::time::timeout(Duration::from_secs(60), response.text())
        .await
        .expect("the stream ended")
        .unwrap();
    let events = events(&body);
    let last = events
        .last()
        .unwrap_or_else(|| panic!("no events in {body}"));
    assert_eq!(last.kind, "end");
    assert_eq!(last.job["status"], "Completed");
    assert_eq!(last.job["result"], 3);
    assert_eq!(events[0].kind, "status");
    assert!(
        events.iter().all(|event| event.job["id"] == id.as_str()),
        "{events:?}"
    );
    let ids: Vec<u64> = events.iter().map(|e| e.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    assert!(
        events
            .iter()
            .any(|event| event.job["progress"]["step"].is_number()),
        "progress is streamed: {events:?}"
    );
    // A client that reconnects after the end is told to stop.
    let again = server
        .client
        .get(server.url(&format!("/jobs/{id}/events")))
        .header("last-event-id", &last.id)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
    // One that missed the end gets it.
    let resumed = server
        .client
        .get(server.url(&format!("/jobs/{id}/events")))
        .header("last-event-id", &events[0].id)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resumed = self::events(&resumed);
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0].kind, "end");
    problem(
        get(&server, &format!("/jobs/{}/events", uuid::Uuid::new_v4())).await,
        404,
    )
    .await;
}
