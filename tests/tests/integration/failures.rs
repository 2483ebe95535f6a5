//! Failing handlers: retries with backoff, permanent errors, panics and
//! timeouts, each recorded as an attempt.

use asyncep_tests::TestServer;
use serde_json::{Value, json};

use crate::{Backend, on_every_store};

on_every_store!(
    failures_are_retried_and_every_attempt_recorded,
    retries_run_out_and_the_job_fails,
    a_scheduled_retry_shows_when_it_is_due,
    a_permanent_error_fails_at_once_with_its_code,
    a_panicking_handler_leaves_the_worker_alive,
    a_timed_out_attempt_is_recorded_and_retried,
);

fn statuses(job: &Value) -> Vec<&str> {
    job["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect()
}

async fn failures_are_retried_and_every_attempt_recorded(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .put(server.url("/flaky"))
        .json(&json!({ "fail_times": 2 }))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(statuses(&job), ["Failed", "Failed", "Succeeded"]);
    assert_eq!(job["retryCount"], 2);
    assert_eq!(job["maxRetries"], 3);
    assert_eq!(job["result"], 3);
    assert_eq!(
        job["error"],
        Value::Null,
        "a job that completed shows no error"
    );
    let first = &job["attempts"][0];
    assert_eq!(first["error"]["code"], "handler_error");
    assert_eq!(first["error"]["message"], "attempt 1 failed on purpose");
    assert_eq!(first["result"], Value::Null);
}

async fn retries_run_out_and_the_job_fails(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .put(server.url("/flaky"))
        .json(&json!({ "fail_times": 10 }))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Failed").await;
    assert_eq!(
        statuses(&job),
        ["Failed"; 4],
        "one attempt and three retries"
    );
    assert_eq!(job["retryCount"], 3);
    assert_eq!(
        job["error"],
        json!({ "code": "handler_error", "message": "attempt 4 failed on purpose" })
    );
    assert!(job["completedAt"].is_string());
    assert_eq!(job["result"], Value::Null);
}

async fn a_scheduled_retry_shows_when_it_is_due(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/patient", &json!(null)).await;
    let job = server.wait_for_status(&id, "Scheduled").await;
    assert_eq!(statuses(&job), ["Failed"]);
    assert_eq!(job["retryCount"], 1);
    let due = job["nextAttemptAt"]
        .as_str()
        .expect("a scheduled job says when it runs again");
    let last = job["attempts"][0]["finishedAt"].as_str().unwrap();
    assert!(
        due > last,
        "the retry is due after the failure: {due} vs {last}"
    );
    assert_eq!(job["completedAt"], Value::Null);
}

async fn a_permanent_error_fails_at_once_with_its_code(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .patch(server.url("/doomed"))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Failed").await;
    assert_eq!(statuses(&job), ["Failed"]);
    assert_eq!(job["retryCount"], 0);
    assert_eq!(
        job["error"],
        json!({ "code": "report_missing", "message": "the report does not exist" })
    );
}

async fn a_panicking_handler_leaves_the_worker_alive(backend: Backend) {
    let server = TestServer::start(backend.builder().workers(1)).await;
    let id = server.submit("/panicky", &json!(null)).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(statuses(&job), ["Panicked", "Succeeded"]);
    assert_eq!(job["attempts"][0]["error"]["code"], "panic");
    assert_eq!(
        job["attempts"][0]["error"]["message"],
        "the handler panicked: the handler fell over"
    );
    // The only worker survived: it still runs jobs.
    let next = server
        .submit("/echo/1", &json!({ "message": "still here" }))
        .await;
    assert_eq!(
        server.wait_for_status(&next, "Completed").await["result"]["message"],
        "still here"
    );
}

async fn a_timed_out_attempt_is_recorded_and_retried(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let id = server.submit("/slow", &json!(null)).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(statuses(&job), ["TimedOut", "Succeeded"]);
    assert_eq!(job["attempts"][0]["error"]["code"], "timeout");
    assert_eq!(job["retryCount"], 1);
    assert_eq!(job["result"], "fast enough");
}
