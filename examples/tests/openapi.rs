//! The `openapi` example's document: a snapshot keeps it stable, and
//! schemathesis checks the running example's every answer against it.

use std::time::Duration;

use asyncep_examples::{docs, reports};
use asyncep_tests::TestServer;
use asyncep_tests::services::{run_schemathesis, schemathesis};

fn runtime() -> asyncep::Runtime {
    reports::runtime_builder()
        .expect("the environment is valid")
        // A `Prefer: wait` or `?wait=` that schemathesis sends waits a second at most.
        .max_wait(Duration::from_secs(1))
        .build()
        .expect("the example's runtime builds")
}

#[tokio::test]
async fn the_document_is_stable() {
    let runtime = runtime();
    let document = serde_json::to_value(docs::document(&runtime)).expect("the document is JSON");
    insta::assert_json_snapshot!("openapi", document);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_running_example_conforms_to_its_document() {
    let Some(st) = schemathesis() else {
        return;
    };
    let runtime = runtime();
    let server = TestServer::serve(runtime.clone(), docs::app(&runtime)).await;
    let served: serde_json::Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("the document is served")
        .json()
        .await
        .expect("as JSON");
    assert_eq!(
        served,
        serde_json::to_value(docs::document(&runtime)).unwrap(),
        "the example serves the document the snapshot holds"
    );
    let docs_page = server
        .client
        .get(server.url("/docs"))
        .send()
        .await
        .expect("the reference is served");
    assert_eq!(docs_page.status(), 200);
    run_schemathesis(&st, &server.base, "/openapi.json", 30).await;
    runtime.shutdown().await;
}
