//! A worker process of a split deployment: runs report jobs from the shared
//! store (Redis, PostgreSQL or an SQLite file) until Ctrl-C, then finishes
//! or hands back what it runs. Start as many as you like (on as many
//! machines as you like, on Redis or PostgreSQL).
//!
//! ```sh
//! ASYNCEP_STORE_URL=postgres://app@127.0.0.1/app ASYNCEP_WORKERS=4 cargo run --example split_worker
//! ```

use asyncep_examples::reports;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    asyncep_examples::init_tracing();
    let runtime = reports::runtime_builder()?.build()?;
    tracing::info!("worker running jobs {:?}", runtime.job_names());
    let workers = runtime.clone();
    tokio::spawn(async move {
        tokio::signal::ctrl_c().await.ok();
        tracing::info!("shutting down: running jobs finish or go back to the queue");
        workers.shutdown().await;
    });
    runtime.run_workers().await?;
    Ok(())
}
