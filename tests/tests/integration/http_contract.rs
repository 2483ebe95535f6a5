//! The HTTP contract: what a submit answers, what a job document holds, and
//! the problem every bad request gets.

use asyncep::store::MemoryStore;
use asyncep_tests::TestServer;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::builder;

async fn server() -> TestServer {
    TestServer::start(builder()).await
}

/// An API-only server whose store the test can count.
async fn api_with_store(store: Arc<MemoryStore>) -> TestServer {
    TestServer::start(builder().workers(0).shared_store(store)).await
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    for member in ["type", "title", "status", "detail"] {
        assert!(
            body.get(member).is_some(),
            "problem lacks `{member}`: {body}"
        );
    }
    assert_eq!(body["status"], status);
    body
}

#[tokio::test]
async fn submit_answers_202_with_the_job_document() {
    let server = server().await;
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

#[tokio::test]
async fn a_job_runs_to_completed_with_its_result_as_json() {
    let server = server().await;
    let response = server
        .client
        .post(server.url("/echo/7?tag=a&tag=b"))
        .header("x-trace", "trace-1")
        .json(&json!({ "message": "hello" }))
        .send()
        .await
        .unwrap();
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
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

#[tokio::test]
async fn sensitive_headers_are_never_stored() {
    let server = TestServer::start(builder().redact_header("x-session")).await;
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
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
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

#[tokio::test]
async fn a_no_body_endpoint_never_reads_the_body() {
    let server = server().await;
    let response = server
        .client
        .post(server.url("/ping/9"))
        .header("content-type", "text/plain")
        .body("this is { not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(job["result"], "pong 9");
}

#[tokio::test]
async fn every_method_can_submit() {
    let server = server().await;
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
    let id = delete.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
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
    let id = get.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        server.wait_for_status(&id, "Completed").await["result"],
        json!({ "key": "k1", "q": "x" })
    );
    let wrong = client.get(server.url("/flaky")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
}

#[tokio::test]
async fn malformed_or_empty_json_is_400() {
    let store = Arc::new(MemoryStore::new());
    let server = api_with_store(store.clone()).await;
    for body in ["{\"message\": ", "", "   "] {
        let response = server
            .client
            .post(server.url("/echo/1"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem = problem(response, 400).await;
        assert_eq!(
            problem["type"], "urn:asyncep:problem:invalid-body",
            "{body:?}"
        );
    }
    assert!(store.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_422() {
    let store = Arc::new(MemoryStore::new());
    let server = api_with_store(store.clone()).await;
    let response = server.post_json("/echo/1", &json!({ "msg": "typo" })).await;
    let problem = problem(response, 422).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("message"),
        "{problem}"
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let store = Arc::new(MemoryStore::new());
    let server = api_with_store(store.clone()).await;
    let text = server
        .client
        .post(server.url("/echo/1"))
        .header("content-type", "text/plain")
        .body("{\"message\":\"x\"}")
        .send()
        .await
        .unwrap();
    problem(text, 415).await;
    let none = server
        .client
        .post(server.url("/echo/1"))
        .body("{\"message\":\"x\"}")
        .send()
        .await
        .unwrap();
    problem(none, 415).await;
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let store = Arc::new(MemoryStore::new());
    let server = TestServer::start(
        builder()
            .workers(0)
            .shared_store(store.clone())
            .body_limit(64),
    )
    .await;
    let big = json!({ "message": "x".repeat(100) });
    problem(server.post_json("/echo/1", &big).await, 413).await;
    assert_eq!(
        server
            .post_json("/echo/1", &json!({ "message": "small" }))
            .await
            .status(),
        202
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn the_default_body_limit_is_2_mib() {
    let server = TestServer::start(builder().workers(0)).await;
    let big = json!({ "message": "x".repeat(2 * 1024 * 1024 + 1) });
    problem(server.post_json("/echo/1", &big).await, 413).await;
}

#[tokio::test]
async fn unknown_jobs_are_404_and_malformed_ids_400() {
    let server = server().await;
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

#[tokio::test]
async fn a_full_store_is_503_with_retry_after() {
    let store = Arc::new(MemoryStore::with_capacity(1));
    let server = api_with_store(store.clone()).await;
    assert_eq!(
        server
            .post_json("/echo/1", &json!({ "message": "a" }))
            .await
            .status(),
        202
    );
    let response = server
        .post_json("/echo/2", &json!({ "message": "b" }))
        .await;
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        problem(response, 503).await["type"],
        "urn:asyncep:problem:store-full"
    );
    assert_eq!(store.len(), 1, "the stored job was kept");
}

#[tokio::test]
async fn validate_answers_at_once_and_stores_nothing() {
    let store = Arc::new(MemoryStore::new());
    let server = api_with_store(store.clone()).await;
    let unauthorized = server
        .post_json("/transfers", &json!({ "amount": 5 }))
        .await;
    problem(unauthorized, 401).await;
    let negative = server
        .client
        .post(server.url("/transfers"))
        .header("authorization", "Bearer t")
        .json(&json!({ "amount": -5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(negative, 422).await["detail"],
        "the amount must be positive"
    );
    let wrong_shape = server
        .post_json("/transfers", &json!({ "amount": "five" }))
        .await;
    problem(wrong_shape, 422).await;
    assert!(store.is_empty());
}

#[tokio::test]
async fn validate_sees_authorization_but_the_worker_does_not() {
    let server = server().await;
    let response = server
        .client
        .post(server.url("/transfers"))
        .header("authorization", "Bearer t")
        .json(&json!({ "amount": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(
        job["result"],
        json!({ "moved": 5, "sawAuthorization": false })
    );
}

#[tokio::test]
async fn the_job_route_prefix_moves_the_status_route() {
    let server = TestServer::start(builder().job_route_prefix("/api/tasks/")).await;
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
