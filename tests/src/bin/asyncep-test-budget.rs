//! A server for the memory-budget load test: the memory store with a byte
//! budget (`BUDGET_BYTES`), 2 workers, and an endpoint that takes a big body
//! and works 20 ms. Prints `port N` once it listens; runs until killed.

use std::time::Duration;

use asyncep::store::MemoryStore;
use asyncep::{AsyncContext, Runtime, async_endpoint};

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct Upload {
    data: String,
}

#[async_endpoint(job = "budget-upload", post = "/upload", retries = 0)]
async fn upload(ctx: AsyncContext<Upload>) -> Result<usize, String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(ctx.request.data.len())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let budget: usize = std::env::var("BUDGET_BYTES")?.parse()?;
    let runtime = Runtime::builder()
        .store(MemoryStore::new().byte_budget(budget))
        .body_limit(4 * 1024 * 1024)
        .workers(2)
        .build()?;
    let app = runtime.mount(axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("port {}", listener.local_addr()?.port());
    axum::serve(listener, app).await?;
    Ok(())
}
