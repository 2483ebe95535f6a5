//! The endpoints the tests drive. Every runtime in this binary mounts all of
//! them, as `inventory` collects them all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use asyncep::http::Problem;
use asyncep::{AsyncContext, JobError, JobId, State, async_endpoint};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub(crate) struct Greeting(pub(crate) String);

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct Echo {
    pub(crate) message: String,
}

/// Echoes what the handler received: body, route, query, headers, facts.
#[async_endpoint(job = "echo", post = "/echo/<id>", handle = EchoJob)]
pub(crate) async fn echo(ctx: AsyncContext<Echo>) -> Result<Value, String> {
    Ok(json!({
        "message": ctx.request.message,
        "routeParams": ctx.route_params,
        "queryParams": ctx.query_params,
        "headers": ctx.headers,
        "jobId": ctx.job_id,
        "jobName": ctx.job_name,
        "attempt": ctx.attempt,
        "fencingToken": ctx.fencing_token(),
        "caller": ctx.caller().map(|caller| caller.to_string()),
    }))
}

/// No body: the request body is never read.
#[async_endpoint(job = "ping", post = "/ping/{id}", handle = PingJob)]
pub(crate) async fn ping(ctx: AsyncContext) -> Result<String, String> {
    Ok(format!("pong {}", ctx.route_params["id"]))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Flaky {
    pub(crate) fail_times: u32,
}

/// Fails its first `fail_times` attempts.
#[async_endpoint(job = "flaky", put = "/flaky", retries = 3, backoff = "10ms")]
async fn flaky(ctx: AsyncContext<Flaky>) -> Result<u32, String> {
    if ctx.attempt <= ctx.request.fail_times {
        Err(format!("attempt {} failed on purpose", ctx.attempt))
    } else {
        Ok(ctx.attempt)
    }
}

/// Fails once, then waits an hour before its retry.
#[async_endpoint(job = "patient", post = "/patient", retries = 1, backoff = "1h")]
async fn patient(_ctx: AsyncContext) -> Result<(), String> {
    Err("not yet".into())
}

/// Fails for good at once.
#[async_endpoint(job = "doomed", patch = "/doomed")]
async fn doomed(_ctx: AsyncContext) -> Result<(), JobError> {
    Err(JobError::permanent("the report does not exist").with_code("report_missing"))
}

/// Panics on its first attempt.
#[async_endpoint(job = "panicky", post = "/panicky", retries = 2, backoff = "10ms")]
async fn panicky(ctx: AsyncContext) -> Result<&'static str, String> {
    if ctx.attempt == 1 {
        panic!("the handler fell over");
    }
    Ok("recovered")
}

/// Runs past its timeout on the first attempt.
#[async_endpoint(
    job = "slow",
    post = "/slow",
    retries = 1,
    timeout = "200ms",
    backoff = "10ms"
)]
async fn slow(ctx: AsyncContext) -> Result<&'static str, String> {
    if ctx.attempt == 1 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    Ok("fast enough")
}

/// The first attempt waits until the worker shuts down (and ignores the
/// cancellation token); later attempts succeed.
#[async_endpoint(job = "sleeper", post = "/sleeper")]
async fn sleeper(ctx: AsyncContext) -> Result<u32, String> {
    if ctx.attempt == 1 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    Ok(ctx.attempt)
}

/// Stops early when asked to (cooperative shutdown).
#[async_endpoint(job = "polite", post = "/polite")]
async fn polite(ctx: AsyncContext) -> Result<u32, String> {
    if ctx.attempt == 1 {
        ctx.cancellation.cancelled().await;
        return Err("asked to stop".into());
    }
    Ok(ctx.attempt)
}

static RUNS: Mutex<Option<HashMap<JobId, u32>>> = Mutex::new(None);

/// How many times a `counted` job ran.
pub(crate) fn runs_of(id: &str) -> u32 {
    let id: JobId = id.parse().unwrap();
    RUNS.lock()
        .unwrap()
        .as_ref()
        .and_then(|runs| runs.get(&id).copied())
        .unwrap_or(0)
}

/// Counts one run of the job; returns its runs so far.
fn count_run(id: JobId) -> u32 {
    let mut runs = RUNS.lock().unwrap();
    let count = runs.get_or_insert_default().entry(id).or_insert(0);
    *count += 1;
    *count
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct Counted {
    pub(crate) n: u32,
}

/// Counts its runs per job, slowly, so that duplicates would overlap.
#[async_endpoint(job = "counted", post = "/counted")]
async fn counted(ctx: AsyncContext<Counted>) -> Result<u32, String> {
    *RUNS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(ctx.job_id)
        .or_default() += 1;
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(ctx.request.n)
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct Transfer {
    pub(crate) amount: i64,
}

async fn check_transfer(ctx: &AsyncContext<Transfer>) -> Result<(), Problem> {
    if ctx.header("authorization").is_none() {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "send an Authorization header",
        ));
    }
    if ctx.request.amount <= 0 {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the amount must be positive",
        ));
    }
    Ok(())
}

/// Checked by `validate` before anything is stored.
#[async_endpoint(job = "transfer", post = "/transfers", validate = check_transfer)]
async fn transfer(ctx: AsyncContext<Transfer>) -> Result<Value, String> {
    Ok(
        json!({ "moved": ctx.request.amount, "sawAuthorization": ctx.header("authorization").is_some() }),
    )
}

/// Takes application state.
#[async_endpoint(job = "greet", delete = "/greetings/<name>")]
async fn greet(ctx: AsyncContext, State(greeting): State<Greeting>) -> Result<String, String> {
    Ok(format!("{}, {}", greeting.0, ctx.route_params["name"]))
}

/// A GET endpoint (a lookup that takes a while).
#[async_endpoint(job = "lookup", get = "/lookups/<key>")]
async fn lookup(ctx: AsyncContext) -> Result<Value, String> {
    Ok(json!({ "key": ctx.route_params["key"], "q": ctx.query("q") }))
}

/// Blocks its thread (synchronous work, as a handler should not, but
/// will) for longer than the tests' short lease.
#[async_endpoint(job = "blocker", post = "/blocker", retries = 0)]
async fn blocker(ctx: AsyncContext) -> Result<u32, String> {
    let runs = count_run(ctx.job_id);
    std::thread::sleep(Duration::from_secs(10));
    Ok(runs)
}

/// Runs (asynchronously) for longer than the tests' short lease.
#[async_endpoint(job = "long", post = "/long", retries = 0)]
async fn long(ctx: AsyncContext) -> Result<u32, String> {
    let runs = count_run(ctx.job_id);
    tokio::time::sleep(Duration::from_secs(10)).await;
    Ok(runs)
}

/// Returns as many bytes of JSON string as asked.
#[async_endpoint(job = "bulky", post = "/bulky/<bytes>", retries = 0)]
async fn bulky(ctx: AsyncContext) -> Result<String, String> {
    let bytes: usize = ctx.route_params["bytes"]
        .parse()
        .map_err(|_| "not a size")?;
    Ok("x".repeat(bytes))
}

/// Takes a body and never finishes its first attempt soon (a retry in an
/// hour): jobs that stay, for the budget tests.
#[async_endpoint(
    job = "patient-big",
    post = "/patient-big",
    retries = 1,
    backoff = "1h"
)]
async fn patient_big(_ctx: AsyncContext<Echo>) -> Result<(), String> {
    Err("not yet".into())
}
