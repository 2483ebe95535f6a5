//! The HTTP edges: clients that write before they read, `HEAD`, routes and
//! methods nobody serves, and nested routers.

use asyncep_tests::{TestServer, problem};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Backend, on_every_store};

on_every_store!(
    a_client_that_sends_the_whole_body_first_reads_the_413,
    head_on_a_get_endpoint_creates_nothing,
    unknown_routes_and_wrong_methods_are_problems,
    a_nested_router_gets_a_location_under_its_prefix,
);

/// Before: the server answered 413 and closed while the client was still
/// writing its 8 MiB, so a client that writes everything before reading
/// (Python's urllib, many SDKs) got a broken pipe.
async fn a_client_that_sends_the_whole_body_first_reads_the_413(backend: Backend) {
    let server = TestServer::start(backend.builder().workers(1)).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = vec![b' '; 8 * 1024 * 1024];
    let head = format!(
        "POST /echo/1 HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&body)
        .await
        .expect("the whole body is taken");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("urn:asyncep:problem:body-too-large"),
        "{answer}"
    );
}

/// Before: axum's `get` answered `HEAD` with the handler, so a link checker
/// created jobs.
async fn head_on_a_get_endpoint_creates_nothing(backend: Backend) {
    let server = TestServer::start(backend.builder().workers(1)).await;
    let id = uuid::Uuid::new_v4().to_string();
    let response = server
        .client
        .head(server.url("/lookups/k"))
        .header("x-async-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    server.assert_not_stored(&id).await;
}

/// Before: axum's plain-text 404 and 405.
async fn unknown_routes_and_wrong_methods_are_problems(backend: Backend) {
    let server = TestServer::start(backend.builder().workers(1)).await;
    let id = uuid::Uuid::new_v4();
    for path in ["/jobs".to_owned(), format!("/jobs/{id}/nothing/here")] {
        let response = server.client.get(server.url(&path)).send().await.unwrap();
        let body = problem(response, 404).await;
        assert_eq!(body["type"], "urn:asyncep:problem:route-not-found");
    }
    let response = server
        .client
        .put(server.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD, DELETE");
    let body = problem(response, 405).await;
    assert_eq!(body["type"], "urn:asyncep:problem:method-not-allowed");
    let response = server
        .client
        .post(server.url(&format!("/jobs/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    problem(response, 405).await;
    let response = server
        .client
        .put(server.url("/echo/1"))
        .json(&json!({ "message": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    problem(response, 405).await;
    let response = server
        .client
        .get(server.url("/jobs/%FF%FE"))
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert_eq!(body["type"], "urn:asyncep:problem:invalid-path");
}

/// Before: `Location` named `/jobs/{id}` even under `Router::nest("/api")`,
/// where the job lives at `/api/jobs/{id}`.
async fn a_nested_router_gets_a_location_under_its_prefix(backend: Backend) {
    let runtime = backend.builder().workers(1).build().unwrap();
    let app = axum::Router::new().nest("/api/v1", runtime.mount(axum::Router::new()));
    let server = TestServer::serve(runtime, app).await;
    let response = server
        .post_json("/api/v1/echo/1", &json!({ "message": "nested" }))
        .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    let status = server
        .client
        .get(server.url(&location))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
}
