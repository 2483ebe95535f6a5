//! What only the memory store does: a bound on what it holds.

use std::sync::Arc;

use asyncep::store::MemoryStore;
use asyncep_tests::TestServer;
use serde_json::{Value, json};

use crate::Backend;

#[tokio::test]
async fn a_full_store_is_503_with_retry_after() {
    let store = Arc::new(MemoryStore::with_capacity(1));
    let backend = Backend {
        store: store.clone(),
    };
    let server = TestServer::start(backend.builder().workers(1)).await;
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
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:asyncep:problem:store-full");
    assert_eq!(store.len(), 1, "the stored job was kept");
}
