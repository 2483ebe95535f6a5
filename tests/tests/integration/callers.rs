//! A job belongs to whoever submitted it: the caller an axum middleware
//! sets, scoped keys and ids, and no oracle for anyone else.

use asyncep::Caller;
use asyncep_tests::TestServer;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{Backend, on_every_store};

on_every_store!(
    a_caller_set_by_a_middleware_reaches_the_handler,
    two_callers_with_one_key_get_two_jobs,
    another_callers_job_reads_as_unknown,
    a_request_id_of_another_callers_job_is_refused_without_naming_it,
    a_conflict_names_no_job,
    a_builder_function_and_a_read_policy_decide_instead,
);

/// The application's authentication, as a test stands in for it: the
/// tenant comes from a header, and a request without one is refused.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let tenant = request
        .headers()
        .get("x-test-tenant")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    match tenant {
        Some(tenant) => {
            request.extensions_mut().insert(Caller::new(tenant));
            next.run(request).await
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn server(backend: &Backend) -> TestServer {
    let runtime = backend.builder().workers(1).build().unwrap();
    let app = runtime
        .mount(axum::Router::new())
        .layer(axum::middleware::from_fn(authenticate));
    TestServer::serve(runtime, app).await
}

async fn submit(
    server: &TestServer,
    tenant: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.url("/echo/1"))
        .header("x-test-tenant", tenant)
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn read(server: &TestServer, tenant: &str, id: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(&format!("/jobs/{id}")))
        .header("x-test-tenant", tenant)
        .send()
        .await
        .unwrap()
}

async fn a_caller_set_by_a_middleware_reaches_the_handler(backend: Backend) {
    let server = server(&backend).await;
    let response = submit(&server, "tenant-a", &[], &json!({ "message": "hi" })).await;
    let id = asyncep_tests::accepted_id(response).await;
    let mut done = Value::Null;
    let reached = asyncep_tests::wait_until(std::time::Duration::from_secs(30), async || {
        done = read(&server, "tenant-a", &id).await.json().await.unwrap();
        done["status"] == "Completed"
    })
    .await;
    assert!(reached, "{done}");
    assert_eq!(done["result"]["caller"], "tenant-a");
    assert!(
        done.get("caller").is_none(),
        "the caller is not in the document"
    );
}

/// Before: both tenants sending the README's `Idempotency-Key: q3-report`
/// shared one job, and the second read the first one's result.
async fn two_callers_with_one_key_get_two_jobs(backend: Backend) {
    let server = server(&backend).await;
    let key = format!("q3-report-{}", uuid::Uuid::new_v4());
    let headers = [("idempotency-key", key.as_str())];
    let body = json!({ "message": "same" });
    let a = asyncep_tests::accepted_id(submit(&server, "tenant-a", &headers, &body).await).await;
    let b = asyncep_tests::accepted_id(submit(&server, "tenant-b", &headers, &body).await).await;
    assert_ne!(a, b, "two tenants, two jobs");
    let again =
        asyncep_tests::accepted_id(submit(&server, "tenant-b", &headers, &body).await).await;
    assert_eq!(again, b, "each tenant's repeat finds its own job");
    // Another body under tenant-b's key is tenant-b's conflict only.
    let other = submit(&server, "tenant-c", &headers, &json!({ "message": "else" })).await;
    assert_eq!(other.status(), 202, "tenant-c's key is its own");
}

async fn another_callers_job_reads_as_unknown(backend: Backend) {
    let server = server(&backend).await;
    let id = asyncep_tests::accepted_id(
        submit(&server, "tenant-a", &[], &json!({ "message": "private" })).await,
    )
    .await;
    assert_eq!(read(&server, "tenant-a", &id).await.status(), 200);
    let theirs = read(&server, "tenant-b", &id).await;
    assert_eq!(theirs.status(), 404);
    let theirs: Value = theirs.json().await.unwrap();
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let unknown: Value = read(&server, "tenant-b", &unknown_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["type"], unknown["type"]);
    assert_eq!(theirs["title"], unknown["title"]);
    assert_eq!(
        theirs["detail"].as_str().unwrap().replace(&id, "ID"),
        unknown["detail"]
            .as_str()
            .unwrap()
            .replace(&unknown_id, "ID"),
        "the same answer as for an id that never existed"
    );
}

async fn a_request_id_of_another_callers_job_is_refused_without_naming_it(backend: Backend) {
    let server = server(&backend).await;
    let chosen = uuid::Uuid::new_v4().to_string();
    let headers = [("x-async-request-id", chosen.as_str())];
    let body = json!({ "message": "mine" });
    asyncep_tests::accepted_id(submit(&server, "tenant-a", &headers, &body).await).await;
    let intruder = submit(&server, "tenant-b", &headers, &body).await;
    assert_eq!(intruder.status(), 409);
    let text = intruder.text().await.unwrap();
    assert!(
        text.contains("urn:asyncep:problem:request-id-taken"),
        "{text}"
    );
    assert!(!text.contains("tenant-a"), "{text}");
}

/// Before: a 422 for a reused key named the job the key belonged to.
async fn a_conflict_names_no_job(backend: Backend) {
    let server = server(&backend).await;
    let key = format!("k-{}", uuid::Uuid::new_v4());
    let headers = [("idempotency-key", key.as_str())];
    let id = asyncep_tests::accepted_id(
        submit(&server, "tenant-a", &headers, &json!({ "message": "one" })).await,
    )
    .await;
    let conflict = submit(&server, "tenant-a", &headers, &json!({ "message": "two" })).await;
    assert_eq!(conflict.status(), 422);
    let text = conflict.text().await.unwrap();
    assert!(!text.contains(&id), "{text}");
}

/// Without a layer: the builder's function names the caller, and a policy
/// lets an operator read every job.
async fn a_builder_function_and_a_read_policy_decide_instead(backend: Backend) {
    let builder = backend
        .builder()
        .workers(1)
        .caller_from(|parts| {
            let tenant = parts.headers.get("x-test-tenant")?.to_str().ok()?;
            Some(Caller::new(tenant))
        })
        .read_policy(|job, caller| {
            caller.is_some_and(|c| c.as_str() == "operator") || job.caller.as_ref() == caller
        });
    let server = TestServer::start(builder).await;
    let id = asyncep_tests::accepted_id(
        submit(&server, "tenant-a", &[], &json!({ "message": "x" })).await,
    )
    .await;
    assert_eq!(read(&server, "tenant-a", &id).await.status(), 200);
    assert_eq!(read(&server, "operator", &id).await.status(), 200);
    assert_eq!(read(&server, "tenant-b", &id).await.status(), 404);
    let anonymous = server
        .client
        .get(server.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        404,
        "no caller reads only jobs of no caller"
    );
}
