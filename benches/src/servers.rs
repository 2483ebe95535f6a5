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

/// Serves `kind` (`bare`, `memory`, `redis`, or `postgres` / `postgres-poll`
/// in the schema `BENCH_PG_SCHEMA`) on `address` until killed.
pub async fn serve(kind: &str, address: &str) {
    let app = match kind {
        "postgres" | "postgres-poll" => postgres(kind == "postgres-poll").await,
        "memory-traced" => {
            traced();
            router("memory")
        }
        "memory-measured" => {
            measured();
            router("memory")
        }
        "memory-observed" => {
            traced();
            measured();
            router("memory")
        }
        _ => router(kind),
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("a free port");
    println!("ready");
    axum::serve(listener, app).await.expect("the server runs");
}

/// Installs a `tracing-opentelemetry` layer for the whole process, as an
/// application that traces does: every submit span becomes an OpenTelemetry
/// span, and asyncep captures its context into the job. No exporter: the
/// figure is the cost on the request path, not the cost of shipping spans.
fn traced() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("asyncep-bench")));
    tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    // Spans end while the server runs: keep the provider for its lifetime.
    std::mem::forget(provider);
}

/// Installs a Prometheus recorder for the whole process, as an application
/// that exports asyncep's metrics does; nothing scrapes it (the figure is
/// the cost on the request path).
fn measured() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("one global recorder");
    std::mem::forget(handle);
}

/// The router of `kind`.
pub fn router(kind: &str) -> axum::Router {
    match kind {
        "bare" => axum::Router::new().route("/submit/{id}", axum::routing::post(bare)),
        "memory" | "redis" | "null" => {
            let mut builder = asyncep::Runtime::builder().workers(0);
            builder = match kind {
                "memory" => builder.store(AcceptOnly(asyncep::store::MemoryStore::with_capacity(
                    50_000_000,
                ))),
                "null" => builder.store(NullStore(Changes::new())),
                _ => builder.store(crate::redis_store("submit")),
            };
            let runtime = builder.build().expect("the bench runtime");
            runtime
                .api(axum::Router::new())
                .expect("an API-only bench server")
        }
        other => panic!("unknown server kind {other}"),
    }
}

/// An API-only server on PostgreSQL, its schema migrated before it answers;
/// with `poll`, no `NOTIFY` is sent (idle workers would poll).
async fn postgres(poll: bool) -> axum::Router {
    let schema = std::env::var("BENCH_PG_SCHEMA").expect("BENCH_PG_SCHEMA names the schema");
    let mut store = asyncep::store::PostgresStore::builder(crate::postgres_url()).schema(schema);
    if poll {
        store = store.poll_only(Duration::from_millis(200));
    }
    let runtime = asyncep::Runtime::builder()
        .workers(0)
        .store(store.build().expect("a PostgreSQL store"))
        .build()
        .expect("the bench runtime");
    runtime.start().await.expect("PostgreSQL answers");
    runtime
        .api(axum::Router::new())
        .expect("an API-only bench server")
}

/// The memory store, declared shared so that an API-only server can be
/// built on it: the submit figure measures accepting a job, with no worker
/// in the server process. (asyncep refuses an API-only process on a store
/// of its own, since nothing would ever run its jobs.)
struct AcceptOnly(asyncep::store::MemoryStore);

use asyncep::job::RawJson;
use asyncep::store::{
    Cancellation, Changes, ClaimRequest, Claimed, Created, JobNames, JobPage, JobStore, Lease,
    ListQuery, Maintenance, NewJob, Outcome, QueueDepth, Renewal, Retried, StoreError,
};
use asyncep::{Job, JobId};
use std::sync::Arc;
use std::time::Duration;

#[async_trait::async_trait]
impl JobStore for AcceptOnly {
    fn is_shared(&self) -> bool {
        true
    }
    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        self.0.create(job).await
    }
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.0.get(id).await
    }
    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        self.0.claim(request).await
    }
    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError> {
        self.0.renew(lease, period).await
    }
    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError> {
        self.0.progress(lease, progress).await
    }
    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError> {
        self.0.cancel(id).await
    }
    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        self.0.queue_depths(names).await
    }
    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError> {
        self.0.retry(id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        self.0.list(query).await
    }
    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        self.0.delete_finished(ids).await
    }
    async fn watch(&self, id: JobId, period: Duration) -> Result<(), StoreError> {
        self.0.watch(id, period).await
    }
    fn changes(&self) -> &Arc<Changes> {
        self.0.changes()
    }
    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        self.0.finish(lease, outcome).await
    }
    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        self.0.maintain().await
    }
    async fn wait_for_work(&self, names: &JobNames, timeout: Duration) {
        self.0.wait_for_work(names, timeout).await
    }
}

/// A store that keeps nothing: isolates the HTTP layer's cost when
/// investigating (not a figure of the table).
struct NullStore(Arc<Changes>);

#[async_trait::async_trait]
impl JobStore for NullStore {
    fn is_shared(&self) -> bool {
        true
    }
    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        let now = asyncep::job::Timestamp::now();
        Ok(Created::New(Job::queued(
            job.id,
            job.name,
            job.max_retries,
            now,
        )))
    }
    async fn get(&self, _: JobId) -> Result<Option<Job>, StoreError> {
        Ok(None)
    }
    async fn claim(&self, _: &ClaimRequest) -> Result<Claimed, StoreError> {
        Ok(Claimed::default())
    }
    async fn renew(&self, lease: &Lease, _: Duration) -> Result<Renewal, StoreError> {
        Err(StoreError::LeaseLost { id: lease.job_id })
    }
    async fn progress(&self, lease: &Lease, _: RawJson) -> Result<(), StoreError> {
        Err(StoreError::LeaseLost { id: lease.job_id })
    }
    async fn cancel(&self, _: JobId) -> Result<Option<Cancellation>, StoreError> {
        Ok(None)
    }
    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        Ok(vec![QueueDepth::default(); names.len()])
    }
    async fn retry(&self, _: JobId) -> Result<Option<Retried>, StoreError> {
        Ok(None)
    }
    async fn list(&self, _: &ListQuery) -> Result<JobPage, StoreError> {
        Ok(JobPage::default())
    }
    async fn delete_finished(&self, _: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        Ok(Vec::new())
    }
    fn changes(&self) -> &Arc<Changes> {
        &self.0
    }
    async fn finish(&self, lease: &Lease, _: Outcome) -> Result<(), StoreError> {
        Err(StoreError::LeaseLost { id: lease.job_id })
    }
    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        Ok(Maintenance::default())
    }
    async fn wait_for_work(&self, _: &JobNames, timeout: Duration) {
        tokio::time::sleep(timeout).await
    }
}
