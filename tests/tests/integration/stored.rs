//! What a job keeps of its request, and how much: no credential, bounded
//! sizes, and a store at its budget that refuses rather than grows.

use std::sync::Arc;

use asyncep::store::MemoryStore;
use asyncep_tests::TestServer;
use asyncep_tests::services::OwnRedis;
use serde_json::{Value, json};

use crate::{Backend, on_every_store};

on_every_store!(
    no_credential_is_stored_and_configuring_more_drops_none,
    oversized_headers_and_queries_are_refused_with_clear_problems,
    a_result_over_the_limit_fails_the_job_for_good,
);

/// Before: `redacted_headers([...])` replaced the built-in list, and
/// `x-auth-token`, `x-amz-security-token`, ... and `?access_token=` were
/// stored and shown to workers.
async fn no_credential_is_stored_and_configuring_more_drops_none(backend: Backend) {
    let server = TestServer::start(
        backend
            .builder()
            .redact_headers(["x-internal-hint"])
            .redact_query_param("email"),
    )
    .await;
    let secrets = [
        ("authorization", "Bearer s1"),
        ("cookie", "session=s2"),
        ("x-api-key", "s3"),
        ("x-auth-token", "s4"),
        ("x-amz-security-token", "s5"),
        ("x-csrf-token", "s6"),
        ("private-token", "s7"),
        ("api-key", "s8"),
        ("x-hub-signature-256", "sha256=s9"),
        ("x-internal-hint", "s10"),
    ];
    let mut request = server
        .client
        .post(server.url("/echo/1?page=2&access_token=s11&client_secret=s12&email=s13&sort=name"))
        .header("x-kept", "yes")
        .json(&json!({ "message": "m" }));
    for (name, value) in secrets {
        request = request.header(name, value);
    }
    let id = asyncep_tests::accepted_id(request.send().await.unwrap()).await;
    let job = server.wait_for_status(&id, "Completed").await;
    let seen = job["result"].to_string();
    for secret in [
        "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13",
    ] {
        assert!(
            !seen.contains(&format!("\"{secret}\"")) && !seen.contains(&format!("={secret}")),
            "{secret} reached the worker: {seen}"
        );
    }
    let headers = job["result"]["headers"].as_object().unwrap();
    assert_eq!(headers["x-kept"], json!(["yes"]));
    let query = job["result"]["queryParams"].as_object().unwrap();
    assert_eq!(query["page"], json!(["2"]));
    assert_eq!(query["sort"], json!(["name"]));
    assert_eq!(query.len(), 2, "{query:?}");
}

async fn oversized_headers_and_queries_are_refused_with_clear_problems(backend: Backend) {
    let server = TestServer::start(
        backend
            .builder()
            .stored_headers_limit(1024)
            .stored_query_limit(256),
    )
    .await;
    let big = "v".repeat(2048);
    let response = server
        .client
        .post(server.url("/echo/1"))
        .header("x-big", &big)
        .json(&json!({ "message": "m" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:asyncep:problem:headers-too-large");
    let response = server
        .post_json(
            &format!("/echo/1?q={}", "x".repeat(512)),
            &json!({ "message": "m" }),
        )
        .await;
    assert_eq!(response.status(), 414);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:asyncep:problem:query-too-large");
    // A credential the limit would count is never stored, so never counted.
    let response = server
        .client
        .post(server.url("/echo/1"))
        .header("authorization", &big)
        .json(&json!({ "message": "m" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

async fn a_result_over_the_limit_fails_the_job_for_good(backend: Backend) {
    let server = TestServer::start(backend.builder().result_limit(1000)).await;
    let small = server.submit("/bulky/100", &json!(null)).await;
    server.wait_for_status(&small, "Completed").await;
    let big = server.submit("/bulky/5000", &json!(null)).await;
    let job = server.wait_for_status(&big, "Failed").await;
    assert_eq!(job["error"]["code"], "result_too_large");
    assert_eq!(job["attempts"].as_array().unwrap().len(), 1, "no retry");
}

/// Before: the memory store counted jobs, not bytes; 2 MiB bodies grew it
/// without bound. At its budget it answers 503 and keeps what it has.
#[tokio::test]
async fn a_memory_store_at_its_budget_is_503_and_keeps_what_it_has() {
    let store = Arc::new(MemoryStore::new().byte_budget(3 * 1024 * 1024));
    let backend = Backend {
        store: store.clone(),
    };
    let server = TestServer::start(backend.builder().workers(1)).await;
    let body = json!({ "message": "x".repeat(1024 * 1024) });
    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..6 {
        let response = server.post_json("/patient-big", &body).await;
        match response.status().as_u16() {
            202 => accepted.push(asyncep_tests::accepted_id(response).await),
            503 => {
                assert!(response.headers().contains_key("retry-after"));
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["type"], "urn:asyncep:problem:store-full");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        accepted.len() >= 2 && refused >= 1,
        "{} accepted, {refused} refused",
        accepted.len()
    );
    assert!(store.bytes() <= 3 * 1024 * 1024);
    for id in &accepted {
        assert_eq!(server.job(id).await["id"], id.as_str(), "kept");
    }
}

/// Redis' own budget: `maxmemory` with `noeviction` refuses writes when
/// full, and the store answers 503 store-full instead of losing anything.
#[tokio::test]
async fn a_full_redis_is_503_store_full_and_keeps_what_it_has() {
    let Some(redis) =
        OwnRedis::start_with(&["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"])
    else {
        return;
    };
    let store = asyncep::store::RedisStore::open(&redis.url()).unwrap();
    let backend = Backend {
        store: Arc::new(store),
    };
    let server = TestServer::start(backend.builder().workers(1)).await;
    let body = json!({ "message": "x".repeat(512 * 1024) });
    let mut accepted = Vec::new();
    let mut full = false;
    for _ in 0..32 {
        let response = server.post_json("/patient-big", &body).await;
        match response.status().as_u16() {
            202 => accepted.push(asyncep_tests::accepted_id(response).await),
            503 => {
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["type"], "urn:asyncep:problem:store-full");
                full = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(full, "Redis never filled up ({} accepted)", accepted.len());
    for id in &accepted {
        assert_eq!(server.job(id).await["id"], id.as_str(), "kept");
    }
}
