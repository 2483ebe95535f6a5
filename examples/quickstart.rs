//! asyncep in one file: run it with `cargo run --example quickstart`, then
//! talk to it with curl (see the README).
//!
//! - `POST /reports/{id}` with a JSON body: renders a "report" in ~1 s.
//! - `POST /ping/{id}` with no body: answers at once.
//! - `POST /flaky/{id}`: fails twice, then succeeds on its third attempt.
//! - `POST /imports/{id}`: fails for good, without retries.

use std::time::Duration;

use asyncep::{AsyncContext, JobError, State, async_endpoint};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
struct ReportRequest {
    title: String,
    #[serde(default = "one_page")]
    pages: u32,
}

fn one_page() -> u32 {
    1
}

#[derive(Serialize)]
struct Report {
    id: String,
    title: String,
    pages: u32,
    rendered_by: String,
}

/// Application state, shared by every handler that asks for it.
#[derive(Clone)]
struct Renderer {
    name: String,
}

/// A job with a JSON body and state: it takes a while, so it runs in a worker.
#[async_endpoint(
    job = "render-report",
    post = "/reports/<id>",
    retries = 3,
    timeout = "30s",
    backoff = "2s"
)]
async fn render(
    ctx: AsyncContext<ReportRequest>,
    State(renderer): State<Renderer>,
) -> Result<Report, JobError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Report {
        id: ctx.route_params["id"].clone(),
        title: ctx.request.title,
        pages: ctx.request.pages,
        rendered_by: renderer.name,
    })
}

/// A job without a body: the request body is never read.
#[async_endpoint(job = "ping", post = "/ping/<id>")]
async fn ping(ctx: AsyncContext) -> Result<String, String> {
    Ok(format!(
        "pong {} (job {})",
        ctx.route_params["id"], ctx.job_id
    ))
}

/// A job that fails twice and then succeeds: see its attempts.
#[async_endpoint(job = "flaky", post = "/flaky/<id>", retries = 3, backoff = "1s")]
async fn flaky(ctx: AsyncContext) -> Result<String, String> {
    if ctx.attempt < 3 {
        return Err(format!(
            "the upstream service timed out (attempt {})",
            ctx.attempt
        ));
    }
    Ok(format!("succeeded on attempt {}", ctx.attempt))
}

/// A job that fails for good: no retry can fix a missing file.
#[async_endpoint(job = "import", post = "/imports/<id>")]
async fn import(ctx: AsyncContext) -> Result<u64, JobError> {
    Err(
        JobError::permanent(format!("no file to import for {}", ctx.route_params["id"]))
            .with_code("file_missing"),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Not `asyncep_examples::init_tracing()`: linking that library would
    // bring its report endpoints (a split deployment's) into this binary.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let runtime = asyncep::Runtime::builder()
        .with_env()?
        .state(Renderer {
            name: "quickstart".into(),
        })
        .build()?;
    let app = runtime.mount(axum::Router::new());

    let address = std::env::var("QUICKSTART_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!(
        "listening on http://{address}; jobs: {:?}",
        runtime.job_names()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    runtime.shutdown().await;
    Ok(())
}
