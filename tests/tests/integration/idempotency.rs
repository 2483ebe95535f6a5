//! Idempotent submits: `X-Async-Request-Id` and `Idempotency-Key`.

use asyncep_tests::TestServer;
use serde_json::{Value, json};

use crate::endpoints::runs_of;
use crate::{Backend, on_every_store};

on_every_store!(
    a_request_id_becomes_the_job_id_and_repeats_return_it,
    a_key_reused_for_another_request_is_422,
    a_request_id_reused_for_another_request_is_422,
    malformed_keys_are_400,
    fifty_concurrent_duplicates_create_one_job_that_runs_once,
);

async fn submit_with(
    server: &TestServer,
    path: &str,
    header: (&str, &str),
    body: &Value,
) -> reqwest::Response {
    server
        .client
        .post(server.url(path))
        .header(header.0, header.1)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn id_of(response: reqwest::Response) -> String {
    assert!(
        !response.headers().contains_key("warning"),
        "no warning when a key is sent"
    );
    asyncep_tests::accepted_id(response).await
}

async fn a_request_id_becomes_the_job_id_and_repeats_return_it(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let chosen = uuid::Uuid::new_v4().to_string();
    let header = ("x-async-request-id", chosen.as_str());
    let body = json!({ "n": 1 });
    let first = id_of(submit_with(&server, "/counted", header, &body).await).await;
    assert_eq!(first, chosen);
    let again = id_of(submit_with(&server, "/counted", header, &body).await).await;
    assert_eq!(again, chosen);
    server.wait_for_status(&chosen, "Completed").await;
    let after = submit_with(&server, "/counted", header, &body).await;
    assert_eq!(after.status(), 202);
    assert_eq!(
        after.json::<Value>().await.unwrap()["status"],
        "Completed",
        "a repeat shows the job as it is now"
    );
    assert_eq!(runs_of(&chosen), 1);
}

async fn a_key_reused_for_another_request_is_422(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let key = format!("order-{}", uuid::Uuid::new_v4());
    let header = ("idempotency-key", key.as_str());
    id_of(submit_with(&server, "/counted", header, &json!({ "n": 1 })).await).await;
    let other_body = submit_with(&server, "/counted", header, &json!({ "n": 2 })).await;
    assert_eq!(other_body.status(), 422);
    let problem: Value = other_body.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "urn:asyncep:problem:idempotency-key-reused"
    );
    let other_endpoint = submit_with(&server, "/echo/1", header, &json!({ "message": "x" })).await;
    assert_eq!(other_endpoint.status(), 422);
    let other_route = submit_with(
        &server,
        "/echo/2",
        ("idempotency-key", "route-key"),
        &json!({ "message": "x" }),
    )
    .await;
    id_of(other_route).await;
    let same_key_other_route = submit_with(
        &server,
        "/echo/3",
        ("idempotency-key", "route-key"),
        &json!({ "message": "x" }),
    )
    .await;
    assert_eq!(
        same_key_other_route.status(),
        422,
        "route parameters are part of the request"
    );
}

async fn a_request_id_reused_for_another_request_is_422(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let chosen = uuid::Uuid::new_v4().to_string();
    let header = ("x-async-request-id", chosen.as_str());
    id_of(submit_with(&server, "/counted", header, &json!({ "n": 1 })).await).await;
    assert_eq!(
        submit_with(&server, "/counted", header, &json!({ "n": 9 }))
            .await
            .status(),
        422
    );
}

async fn malformed_keys_are_400(backend: Backend) {
    let server = TestServer::start(backend.builder().workers(1)).await;
    let body = json!({ "n": 1 });
    for header in [
        ("x-async-request-id", "not-a-uuid"),
        ("idempotency-key", "has spaces in it"),
        ("idempotency-key", "\"\""),
    ] {
        let response = submit_with(&server, "/counted", header, &body).await;
        assert_eq!(response.status(), 400, "{header:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let too_long = "k".repeat(256);
    assert_eq!(
        submit_with(&server, "/counted", ("idempotency-key", &too_long), &body)
            .await
            .status(),
        400
    );
}

async fn fifty_concurrent_duplicates_create_one_job_that_runs_once(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let key = format!("burst-{}", uuid::Uuid::new_v4());
    let body = json!({ "n": 50 });
    let requests = (0..50).map(|_| {
        let (client, url, key, body) = (
            server.client.clone(),
            server.url("/counted"),
            key.clone(),
            body.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        })
    });
    let mut ids = std::collections::HashSet::new();
    for request in requests.collect::<Vec<_>>() {
        ids.insert(id_of(request.await.unwrap()).await);
    }
    assert_eq!(ids.len(), 1, "one job for fifty requests");
    let id = ids.into_iter().next().unwrap();
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(job["attempts"].as_array().unwrap().len(), 1);
    // A late duplicate after completion finds the same job, and runs
    // nothing.
    let late =
        id_of(submit_with(&server, "/counted", ("idempotency-key", &key), &body).await).await;
    assert_eq!(late, id, "the late duplicate names the first job");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(runs_of(&id), 1, "the job ran exactly once");
}
