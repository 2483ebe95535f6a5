//! The servers of the submit scenario: asyncep (memory or Redis store, API
//! only) and the reference, a bare axum handler doing the least a submit
//! must do: parse the body and answer 202 with a job-like JSON body.

use std::time::SystemTime;

use asyncep::{AsyncContext, async_endpoint};
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

/// The submitted body (see `load::BODY`).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct Order {
    customer: String,
    report: String,
    quantity: u32,
    tags: Vec<String>,
    note: String,
}

/// The endpoint under test; its workers never run in this scenario.
#[async_endpoint(job = "bench-submit", post = "/submit/<id>")]
async fn submit(ctx: AsyncContext<Order>) -> Result<u32, String> {
    Ok(ctx.request.quantity)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    id: String,
    name: &'static str,
    status: &'static str,
    created_at: String,
    result: Option<()>,
}

async fn bare(Json(order): Json<Order>) -> impl IntoResponse {
    let created = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let body = Accepted {
        id: uuid::Uuid::new_v4().to_string(),
        name: "bench-submit",
        status: "Queued",
        created_at: format!("{}.{:06}", created.as_secs(), created.subsec_micros()),
        result: None,
    };
    let _ = order.quantity;
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, "/jobs/x")],
        Json(body),
    )
}

/// Serves `kind` (`bare`, `memory` or `redis`) on `address` until killed.
pub async fn serve(kind: &str, address: &str) {
    let app = router(kind);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("a free port");
    println!("ready");
    axum::serve(listener, app).await.expect("the server runs");
}

/// The router of `kind`.
pub fn router(kind: &str) -> axum::Router {
    match kind {
        "bare" => axum::Router::new().route("/submit/{id}", axum::routing::post(bare)),
        "memory" | "redis" | "null" => {
            let mut builder = asyncep::Runtime::builder().workers(0);
            builder = match kind {
                "memory" => builder.store(asyncep::store::MemoryStore::with_capacity(50_000_000)),
                "null" => builder.store(NullStore),
                _ => builder.store(crate::redis_store("submit")),
            };
            let runtime = builder.build().expect("the bench runtime");
            runtime.api(axum::Router::new())
        }
        other => panic!("unknown server kind {other}"),
    }
}

/// A store that keeps nothing: isolates the HTTP layer's cost when
/// investigating (not a figure of the table).
struct NullStore;

#[async_trait::async_trait]
impl asyncep::store::JobStore for NullStore {
    async fn create(
        &self,
        job: asyncep::store::NewJob,
    ) -> Result<asyncep::store::Created, asyncep::store::StoreError> {
        let now = asyncep::job::Timestamp::now();
        Ok(asyncep::store::Created::New(asyncep::Job::queued(
            job.id,
            job.name,
            job.max_retries,
            now,
        )))
    }
    async fn get(
        &self,
        _: asyncep::JobId,
    ) -> Result<Option<asyncep::Job>, asyncep::store::StoreError> {
        Ok(None)
    }
    async fn claim(
        &self,
        _: &asyncep::store::JobNames,
        _: std::time::Duration,
    ) -> Result<asyncep::store::Claim, asyncep::store::StoreError> {
        Ok(asyncep::store::Claim::Idle { next_due: None })
    }
    async fn renew(
        &self,
        lease: &asyncep::store::Lease,
        _: std::time::Duration,
    ) -> Result<asyncep::store::Lease, asyncep::store::StoreError> {
        Err(asyncep::store::StoreError::LeaseLost { id: lease.job_id })
    }
    async fn finish(
        &self,
        lease: &asyncep::store::Lease,
        _: asyncep::store::Outcome,
    ) -> Result<(), asyncep::store::StoreError> {
        Err(asyncep::store::StoreError::LeaseLost { id: lease.job_id })
    }
    async fn recover_expired(&self) -> Result<Vec<asyncep::JobId>, asyncep::store::StoreError> {
        Ok(vec![])
    }
    async fn wait_for_work(&self, _: &asyncep::store::JobNames, timeout: std::time::Duration) {
        tokio::time::sleep(timeout).await
    }
}
