//! The operator's routes on every store, nested where the application puts
//! them: a failed job run again over HTTP, and what is refused.

use asyncep_tests::TestServer;
use axum::Router;
use serde_json::Value;

use crate::{Backend, on_every_store};

on_every_store!(an_operator_runs_a_failed_job_again);

async fn an_operator_runs_a_failed_job_again(backend: Backend) {
    let runtime = backend.builder().build().unwrap();
    let admin = runtime.operator_routes();
    let app = runtime.mount(Router::new().nest("/admin", admin));
    let server = TestServer::serve(runtime.clone(), app).await;
    let post = async |path: &str| {
        let response = server.client.post(server.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            status,
            kind,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };

    let failed = server.client.patch(server.url("/doomed")).send().await;
    let failed = asyncep_tests::accepted_id(failed.unwrap()).await;
    server.wait_for_status(&failed, "Failed").await;
    let (status, _, job) = post(&format!("/admin/jobs/{failed}/retry")).await;
    assert_eq!(status, 200, "{job}");
    assert!(job["error"].is_null(), "{job}");
    assert!(
        ["Queued", "InProgress"].contains(&job["status"].as_str().unwrap()),
        "{job}"
    );
    let again = server
        .wait_for(&failed, |job| {
            job["status"] == "Failed" && job["attempts"].as_array().unwrap().len() == 2
        })
        .await;
    assert_eq!(again["attempts"][1]["attempt"], 2);

    // A completed job is refused with a problem; so is an unknown one.
    let done = server.submit("/ping/1", &Value::Null).await;
    server.wait_for_status(&done, "Completed").await;
    let (status, kind, problem) = post(&format!("/admin/jobs/{done}/retry")).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("job-not-failed")
    );
    let unknown = asyncep::JobId::new();
    assert_eq!(post(&format!("/admin/jobs/{unknown}/retry")).await.0, 404);
    assert_eq!(post("/admin/jobs/not-an-id/retry").await.0, 400);
    // Only where the application mounted them.
    assert_eq!(post(&format!("/jobs/{failed}/retry")).await.0, 404);
    runtime.shutdown().await;
}
