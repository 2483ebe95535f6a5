//! The HTTP contract: what a submit answers, what a job document holds, and
//! the problem every bad request gets.

use asyncep_tests::{TestServer, problem};
use serde_json::{Value, json};

use crate::{Backend, on_every_store};

on_every_store!(
    submit_answers_202_with_the_job_document,
    a_job_runs_to_completed_with_its_result_as_json,
    sensitive_headers_are_never_stored,
    a_no_body_endpoint_never_reads_the_body,
    every_method_can_submit,
    malformed_or_empty_json_is_400,
    json_of_the_wrong_shape_is_422,
    a_body_that_is_not_json_is_415,
    a_body_over_the_limit_is_413,
    the_default_body_limit_is_2_mib,
    unknown_jobs_are_404_and_malformed_ids_400,
    validate_answers_at_once_and_stores_nothing,
    validate_sees_authorization_but_the_worker_does_not,
    the_job_route_prefix_moves_the_status_route,
);

/// An API-only server: refused requests must leave nothing behind.
async fn api(backend: &Backend) -> TestServer {
    TestServer::start(backend.builder().workers(1)).await
}

/// Sends a request with a chosen job id, so the test can then show that no
/// job with that id exists.
async fn send_with_id(request: reqwest::RequestBuilder) -> (reqwest::Response, String) {
    let id = uuid::Uuid::new_v4().to_string();
    (
        request
            .header("x-async-request-id", &id)
            .send()
            .await
            .unwrap(),
        id,
    )
}

async fn submit_answers_202_with_the_job_document(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .post_json("/echo/42", &json!({ "message": "hi" }))
        .await;
    assert_eq!(response.status(), 202);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["retry-after"], "1");
    assert!(
        headers["warning"]
            .to_str()
            .unwrap()
            .starts_with("299 asyncep \"")
    );
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    assert_eq!(headers["location"], format!("/jobs/{id}").as_str());
    assert_eq!(job["name"], "echo");
    assert!(["Queued", "InProgress", "Completed"].contains(&job["status"].as_str().unwrap()));
    assert_eq!(job["retryCount"], 0);
    assert_eq!(job["maxRetries"], 3, "the default retries");
    for key in ["createdAt", "lastUpdatedAt"] {
        assert!(
            job[key].as_str().unwrap().ends_with('Z'),
            "{key} is RFC 3339 UTC"
        );
    }
    for key in [
        "startedAt",
        "completedAt",
        "nextAttemptAt",
        "result",
        "error",
        "attempts",
    ] {
        assert!(job.get(key).is_some(), "missing {key}");
    }
}

async fn a_job_runs_to_completed_with_its_result_as_json(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .post(server.url("/echo/7?tag=a&tag=b"))
        .header("x-trace", "trace-1")
        .json(&json!({ "message": "hello" }))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Completed").await;
    let result = &job["result"];
    assert!(
        result.is_object(),
        "the result is JSON, not a string: {result}"
    );
    assert_eq!(result["message"], "hello");
    assert_eq!(result["routeParams"]["id"], "7");
    assert_eq!(result["queryParams"]["tag"], json!(["a", "b"]));
    assert_eq!(result["headers"]["x-trace"], json!(["trace-1"]));
    assert_eq!(result["jobId"], id.as_str());
    assert_eq!(result["jobName"], "echo");
    assert_eq!(result["attempt"], 1);
    assert!(job["startedAt"].is_string() && job["completedAt"].is_string());
    assert_eq!(job["error"], Value::Null);
    let attempts = job["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["status"], "Succeeded");
    assert_eq!(attempts[0]["result"], *result);
    assert!(attempts[0]["startedAt"].is_string() && attempts[0]["finishedAt"].is_string());
}

async fn sensitive_headers_are_never_stored(backend: Backend) {
    let server = TestServer::start(backend.builder().redact_header("x-session")).await;
    let response = server
        .client
        .post(server.url("/echo/1"))
        .header("authorization", "Bearer secret-token")
        .header("cookie", "session=abc")
        .header("x-api-key", "k")
        .header("x-session", "s")
        .header("x-kept", "yes")
        .json(&json!({ "message": "m" }))
        .send()
        .await
        .unwrap();
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Completed").await;
    let headers = job["result"]["headers"].as_object().unwrap();
    for secret in ["authorization", "cookie", "x-api-key", "x-session"] {
        assert!(
            !headers.contains_key(secret),
            "{secret} reached the worker: {headers:?}"
        );
    }
    assert_eq!(headers["x-kept"], json!(["yes"]));
    assert!(!job.to_string().contains("secret-token"));
}

async fn a_no_body_endpoint_never_reads_the_body(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .post(server.url("/ping/9"))
        .header("content-type", "text/plain")
        .body("this is { not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(job["result"], "pong 9");
}

async fn every_method_can_submit(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let client = &server.client;
    let put = client
        .put(server.url("/flaky"))
        .json(&json!({ "fail_times": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 202);
    let patch = client.patch(server.url("/doomed")).send().await.unwrap();
    assert_eq!(patch.status(), 202);
    let delete = client
        .delete(server.url("/greetings/ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 202);
    let id = asyncep_tests::accepted_id(delete).await;
    assert_eq!(
        server.wait_for_status(&id, "Completed").await["result"],
        "hello, ada"
    );
    let get = client
        .get(server.url("/lookups/k1?q=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 202);
    let id = asyncep_tests::accepted_id(get).await;
    assert_eq!(
        server.wait_for_status(&id, "Completed").await["result"],
        json!({ "key": "k1", "q": "x" })
    );
    let wrong = client.get(server.url("/flaky")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
}

async fn malformed_or_empty_json_is_400(backend: Backend) {
    let server = api(&backend).await;
    for body in ["{\"message\": ", "", "   "] {
        let request = server
            .client
            .post(server.url("/echo/1"))
            .header("content-type", "application/json")
            .body(body);
        let (response, id) = send_with_id(request).await;
        let problem = problem(response, 400).await;
        assert_eq!(
            problem["type"], "urn:asyncep:problem:invalid-body",
            "{body:?}"
        );
        server.assert_not_stored(&id).await;
    }
}

async fn json_of_the_wrong_shape_is_422(backend: Backend) {
    let server = api(&backend).await;
    let (response, id) = send_with_id(
        server
            .client
            .post(server.url("/echo/1"))
            .json(&json!({ "msg": "typo" })),
    )
    .await;
    let problem = problem(response, 422).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("message"),
        "{problem}"
    );
    server.assert_not_stored(&id).await;
}

async fn a_body_that_is_not_json_is_415(backend: Backend) {
    let server = api(&backend).await;
    let request = server
        .client
        .post(server.url("/echo/1"))
        .header("content-type", "text/plain")
        .body("{\"message\":\"x\"}");
    let (text, id) = send_with_id(request).await;
    problem(text, 415).await;
    server.assert_not_stored(&id).await;
    let (none, id) = send_with_id(
        server
            .client
            .post(server.url("/echo/1"))
            .body("{\"message\":\"x\"}"),
    )
    .await;
    problem(none, 415).await;
    server.assert_not_stored(&id).await;
}

async fn a_body_over_the_limit_is_413(backend: Backend) {
    let server = TestServer::start(backend.builder().workers(1).body_limit(64)).await;
    let big = json!({ "message": "x".repeat(100) });
    let (response, id) = send_with_id(server.client.post(server.url("/echo/1")).json(&big)).await;
    problem(response, 413).await;
    server.assert_not_stored(&id).await;
    assert_eq!(
        server
            .post_json("/echo/1", &json!({ "message": "small" }))
            .await
            .status(),
        202
    );
}

async fn the_default_body_limit_is_2_mib(backend: Backend) {
    let server = api(&backend).await;
    let big = json!({ "message": "x".repeat(2 * 1024 * 1024 + 1) });
    problem(server.post_json("/echo/1", &big).await, 413).await;
}

async fn unknown_jobs_are_404_and_malformed_ids_400(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let unknown = server
        .client
        .get(server.url(&format!("/jobs/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(unknown, 404).await["type"],
        "urn:asyncep:problem:job-not-found"
    );
    let malformed = server
        .client
        .get(server.url("/jobs/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(malformed, 400).await["type"],
        "urn:asyncep:problem:invalid-job-id"
    );
}

async fn validate_answers_at_once_and_stores_nothing(backend: Backend) {
    let server = api(&backend).await;
    let (unauthorized, id) = send_with_id(
        server
            .client
            .post(server.url("/transfers"))
            .json(&json!({ "amount": 5 })),
    )
    .await;
    problem(unauthorized, 401).await;
    server.assert_not_stored(&id).await;
    let request = server
        .client
        .post(server.url("/transfers"))
        .header("authorization", "Bearer t")
        .json(&json!({ "amount": -5 }));
    let (negative, id) = send_with_id(request).await;
    assert_eq!(
        problem(negative, 422).await["detail"],
        "the amount must be positive"
    );
    server.assert_not_stored(&id).await;
    let (wrong_shape, id) = send_with_id(
        server
            .client
            .post(server.url("/transfers"))
            .json(&json!({ "amount": "five" })),
    )
    .await;
    problem(wrong_shape, 422).await;
    server.assert_not_stored(&id).await;
}

async fn validate_sees_authorization_but_the_worker_does_not(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let response = server
        .client
        .post(server.url("/transfers"))
        .header("authorization", "Bearer t")
        .json(&json!({ "amount": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = asyncep_tests::accepted_id(response).await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(
        job["result"],
        json!({ "moved": 5, "sawAuthorization": false })
    );
}

async fn the_job_route_prefix_moves_the_status_route(backend: Backend) {
    let server = TestServer::start(backend.builder().job_route_prefix("/api/tasks/")).await;
    let response = server
        .post_json("/echo/1", &json!({ "message": "m" }))
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/api/tasks/"), "{location}");
    let status = server
        .client
        .get(server.url(&location))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let old = server
        .client
        .get(server.url(&location.replace("/api/tasks/", "/jobs/")))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404);
}
