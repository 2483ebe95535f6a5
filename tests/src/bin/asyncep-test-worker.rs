//! A worker-only process for the multi-process tests: runs `proc-count`
//! jobs from the store the `ASYNCEP_*` variables name (Redis or
//! PostgreSQL), and logs every run to the Redis hash `RUN_LOG_KEY` (job id
//! → runs) at `RUN_LOG_REDIS`, so tests can count executions whatever the
//! store.
//!
//! `PROC_JOB_MILLIS` sets how long each job takes (default 0).
//!
//! `proc-stoppable` jobs log their start the same way, then run until their
//! cancellation token fires, and log that they heard it in the hash
//! `RUN_LOG_KEY:heard`.

use std::time::Duration;

use asyncep::{AsyncContext, Runtime, State, async_endpoint};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

#[derive(Clone)]
struct RunLog {
    connection: ConnectionManager,
    key: String,
    job_time: Duration,
}

#[async_endpoint(
    job = "proc-count",
    post = "/proc/count",
    retries = 5,
    backoff = "10ms"
)]
async fn count(ctx: AsyncContext, State(log): State<RunLog>) -> Result<u32, String> {
    let mut connection = log.connection.clone();
    let runs: u32 = connection
        .hincr(&log.key, ctx.job_id.to_string(), 1)
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(log.job_time).await;
    Ok(runs)
}

#[async_endpoint(job = "proc-stoppable", post = "/proc/stoppable", retries = 0)]
async fn stoppable(ctx: AsyncContext, State(log): State<RunLog>) -> Result<u32, String> {
    let mut connection = log.connection.clone();
    let runs: u32 = connection
        .hincr(&log.key, ctx.job_id.to_string(), 1)
        .await
        .map_err(|e| e.to_string())?;
    tokio::select! {
        () = ctx.cancellation.cancelled() => {
            let heard = format!("{}:heard", log.key);
            let _: u32 = connection
                .hincr(heard, ctx.job_id.to_string(), 1)
                .await
                .map_err(|e| e.to_string())?;
            Err("stopped".into())
        }
        () = tokio::time::sleep(Duration::from_secs(120)) => Ok(runs),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log_url =
        std::env::var("RUN_LOG_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let log_key = std::env::var("RUN_LOG_KEY")?;
    let job_time = Duration::from_millis(
        std::env::var("PROC_JOB_MILLIS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let connection = redis::Client::open(log_url.as_str())?
        .get_connection_manager()
        .await?;
    let log = RunLog {
        connection,
        key: log_key,
        job_time,
    };
    let runtime = Runtime::builder().with_env()?.state(log).build()?;
    let workers = runtime.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        workers.shutdown().await;
    });
    println!("ready");
    runtime.run_workers().await?;
    Ok(())
}
