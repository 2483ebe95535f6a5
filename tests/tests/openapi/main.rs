//! The OpenAPI document (feature `openapi`), against the router's real
//! answers: schemathesis (PyPI) drives every route of a set of endpoints of
//! every shape (a JSON body, none, a wildcard, a `validate` function, a job
//! that fails, one that takes a while and reports progress) and the
//! operator's routes on every store, and an insta snapshot keeps the
//! document stable.
//!
//! A binary of its own, so its document holds these endpoints only.

mod endpoints;

use std::sync::Arc;
use std::time::Duration;

use asyncep::Runtime;
use asyncep::store::{JobStore, MemoryStore};
use asyncep_tests::TestServer;
use asyncep_tests::services::{
    postgres_dyn, redis_dyn, run_schemathesis, schemathesis, sqlite_dyn,
};

fn runtime(store: Arc<dyn JobStore>) -> Runtime {
    Runtime::builder()
        .shared_store(store)
        // A `Prefer: wait` or `?wait=` that schemathesis sends waits a second at most.
        .max_wait(Duration::from_secs(1))
        .default_backoff(Duration::from_millis(10))
        .workers(4)
        .build()
        .expect("the runtime builds")
}

/// The document of the job routes and of the operator's, nested under
/// `/admin` as [`app`] serves them.
fn document(runtime: &Runtime) -> utoipa::openapi::OpenApi {
    runtime.openapi().nest("/admin", runtime.operator_openapi())
}

/// The job routes, the operator's under `/admin`, and the document.
fn app(runtime: &Runtime) -> axum::Router {
    let document = axum::Json(document(runtime));
    runtime
        .mount(axum::Router::new().nest("/admin", runtime.operator_routes()))
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { document }),
        )
}

#[tokio::test]
async fn the_document_is_stable() {
    let runtime = runtime(Arc::new(MemoryStore::new()));
    let document = serde_json::to_value(document(&runtime)).expect("the document is JSON");
    insta::assert_json_snapshot!("openapi", document);
    runtime.shutdown().await;
}

#[tokio::test]
async fn the_default_runtime_documents_what_mount_adds() {
    let document = asyncep::openapi();
    for path in [
        "/orders/{customer}",
        "/archives/{path}",
        "/jobs/{id}/events",
    ] {
        assert!(document.paths.get_path_item(path).is_some(), "{path}");
    }
}

/// Serves `store`'s runtime with its document, and has schemathesis check
/// every answer against it.
async fn conforms(store: Option<Arc<dyn JobStore>>) {
    let (Some(store), Some(st)) = (store, schemathesis()) else {
        return;
    };
    let runtime = runtime(store);
    let server = TestServer::serve(runtime.clone(), app(&runtime)).await;
    run_schemathesis(&st, &server.base, "/openapi.json", 20).await;
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_conforms_to_the_document_on_memory() {
    conforms(Some(Arc::new(MemoryStore::new()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_conforms_to_the_document_on_redis() {
    conforms(redis_dyn()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_conforms_to_the_document_on_postgres() {
    conforms(postgres_dyn()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_conforms_to_the_document_on_sqlite() {
    conforms(sqlite_dyn()).await;
}
