//! The API process of a split deployment: accepts report jobs into the
//! shared store (Redis, PostgreSQL or an SQLite file) and shows them; runs
//! none.
//!
//! ```sh
//! ASYNCEP_STORE_URL=postgres://app@127.0.0.1/app cargo run --example split_api
//! ```

use asyncep_examples::reports;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    asyncep_examples::init_tracing();
    let runtime = reports::runtime_builder()?.workers(0).build()?;
    runtime.start().await?; // fail here, not on the first request, if the store cannot be used
    let app = runtime.api(axum::Router::new())?;
    let address = std::env::var("API_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!("API on http://{address}, jobs {:?}", runtime.job_names());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}
