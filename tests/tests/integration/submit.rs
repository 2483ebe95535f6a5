//! Jobs submitted from Rust code (`Runtime::submit`): the checks a request
//! over HTTP gets, the same idempotency, on every store.

use asyncep::store::{Created, StoreError};
use asyncep::{Caller, JobRequest, NoBody, SubmitError};
use axum::http::StatusCode;
use serde_json::json;

use crate::Backend;
use crate::endpoints::{Echo, EchoJob, PingJob};
use asyncep_tests::TestServer;

/// A typed request runs like one made over HTTP: body, route parameters
/// and caller reach the handler, and the job shows over HTTP.
async fn a_typed_request_runs_and_shows_over_http(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let created = server
        .runtime
        .submit(
            JobRequest::of::<EchoJob>(&Echo {
                message: "from rust".into(),
            })
            .param("id", "7"),
        )
        .await
        .expect("the job is stored");
    let Created::New(job) = created else {
        panic!("a new job: {created:?}")
    };
    assert_eq!(job.name, "echo");
    let done = server
        .wait_for_status(&job.id.to_string(), "Completed")
        .await;
    assert_eq!(done["result"]["message"], "from rust");
    assert_eq!(done["result"]["routeParams"], json!({ "id": "7" }));
    let ping = server
        .runtime
        .submit(JobRequest::of::<PingJob>(&NoBody).param("id", "3"))
        .await
        .unwrap();
    let done = server
        .wait_for_status(&ping.job().id.to_string(), "Completed")
        .await;
    assert_eq!(done["result"], "pong 3");
}

/// The same key finds the first job; the same key with another body is a
/// conflict; a caller's keys are their own.
async fn a_key_makes_a_submit_idempotent(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let request = |message: &str| {
        JobRequest::of::<EchoJob>(&Echo {
            message: message.into(),
        })
        .param("id", "1")
        .idempotency_key("order-1")
    };
    let first = server.runtime.submit(request("a")).await.unwrap();
    let again = server.runtime.submit(request("a")).await.unwrap();
    assert!(matches!(again, Created::Existing(_)), "{again:?}");
    assert_eq!(again.job().id, first.job().id);
    let conflict = server.runtime.submit(request("b")).await.unwrap_err();
    assert!(
        matches!(
            conflict,
            SubmitError::Store(StoreError::IdempotencyConflict { existing }) if existing == first.job().id
        ),
        "{conflict}"
    );
    let other = server
        .runtime
        .submit(request("a").caller(Caller::new("tenant-b")))
        .await
        .unwrap();
    assert!(matches!(other, Created::New(_)), "{other:?}");
    assert_ne!(other.job().id, first.job().id);
}

/// What HTTP would refuse is refused, with the status HTTP would give, and
/// nothing is stored.
async fn a_request_http_would_refuse_is_refused(backend: Backend) {
    let server = TestServer::start(backend.builder()).await;
    let refused = |error: SubmitError| match error {
        SubmitError::Refused { status, detail, .. } => (status, detail),
        other => panic!("a refusal, not {other}"),
    };
    let unknown = server
        .runtime
        .submit(JobRequest::new("no-such-job"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, SubmitError::UnknownJob(ref name) if name == "no-such-job"));
    let (status, detail) = refused(
        server
            .runtime
            .submit(
                JobRequest::new("echo")
                    .body(&json!({ "wrong": 1 }))
                    .param("id", "1"),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{detail}");
    let (status, detail) = refused(
        server
            .runtime
            .submit(JobRequest::of::<EchoJob>(&Echo {
                message: "x".into(),
            }))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail.contains("`id`"), "{detail}");
    let (status, detail) = refused(
        server
            .runtime
            .submit(JobRequest::new("ping").body(&json!({})).param("id", "1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{detail}");
    // `validate` runs as for HTTP: no Authorization header here.
    let (status, detail) = refused(
        server
            .runtime
            .submit(JobRequest::new("transfer").body(&json!({ "amount": 5 })))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail.contains("Authorization"), "{detail}");
    let id = asyncep::JobId::new();
    let refused_with_id = server
        .runtime
        .submit(JobRequest::new("echo").id(id).param("id", "1"))
        .await;
    assert!(refused_with_id.is_err());
    assert!(server.runtime.store().get(id).await.unwrap().is_none());
}

crate::on_every_store!(
    a_typed_request_runs_and_shows_over_http,
    a_key_makes_a_submit_idempotent,
    a_request_http_would_refuse_is_refused,
);
