//! The report API with its OpenAPI document at `/openapi.json` and a
//! browsable reference at `/docs`: every submit route with its body's
//! schema, its `202` and its problems, and the job routes.
//!
//! ```sh
//! cargo run --example openapi
//! curl -s 127.0.0.1:3000/openapi.json | head
//! ```

use asyncep_examples::{docs, reports};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    asyncep_examples::init_tracing();
    let runtime = reports::runtime_builder()?.build()?;
    let app = docs::app(&runtime);
    let address = std::env::var("OPENAPI_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!("API on http://{address}; its reference on http://{address}/docs");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    runtime.shutdown().await;
    Ok(())
}
