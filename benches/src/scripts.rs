//! The Redis store's operations one kind at a time (create only, then claim
//! only, then finish only), each phase timed by Redis itself
//! (`INFO commandstats`): what each script costs the server, per call.
//! A tool for profiling, not a figure of the table:
//! `cargo run --release --manifest-path benches/Cargo.toml -- scripts 20000`.

use std::borrow::Cow;
use std::time::Duration;

use asyncep::job::{Attempt, AttemptStatus, JobId, JobInput, Next, Timestamp};
use asyncep::store::{ClaimId, ClaimRequest, JobNames, JobStore, NewJob, Outcome};

async fn server_micros_per_call(connection: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .expect("INFO");
    let line = info
        .lines()
        .find(|line| line.starts_with("cmdstat_evalsha:"))
        .unwrap_or("");
    line.split(',')
        .find_map(|field| field.strip_prefix("usec_per_call="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// With `DUMP_STATS` set, prints every command's stats of the phase (the
/// commands inside the scripts included).
async fn dump_stats(phase: &str, connection: &mut redis::aio::MultiplexedConnection) {
    if std::env::var_os("DUMP_STATS").is_some() {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(connection)
            .await
            .expect("INFO");
        println!("{phase} phase:\n{info}");
    }
}

async fn reset(connection: &mut redis::aio::MultiplexedConnection) {
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(connection)
        .await
        .expect("CONFIG RESETSTAT");
}

/// Prints the server's µs per call of create, claim and finish.
pub async fn run(jobs: usize) {
    let store = crate::redis_store("scripts");
    let client = redis::Client::open(crate::redis_url()).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let name: Cow<'static, str> = Cow::Borrowed("bench-noop");
    reset(&mut connection).await;
    for _ in 0..jobs {
        store
            .create(NewJob {
                id: JobId::new(),
                name: name.clone(),
                max_retries: 0,
                input: JobInput::default(),
                idempotency: None,
                caller: None,
            })
            .await
            .expect("create");
    }
    let create = server_micros_per_call(&mut connection).await;
    reset(&mut connection).await;
    let names = JobNames::new([name.clone()]);
    let mut claimed = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let request = ClaimRequest {
            names: names.clone(),
            lease: Duration::from_secs(60),
            limit: 1,
            id: ClaimId::new(),
            repeat: false,
        };
        claimed.extend(store.claim(&request).await.expect("claim").jobs);
    }
    let claim = server_micros_per_call(&mut connection).await;
    dump_stats("claim", &mut connection).await;
    reset(&mut connection).await;
    for job in &claimed {
        let now = Timestamp::now();
        let attempt = Attempt {
            attempt: job.attempt,
            status: AttemptStatus::Succeeded,
            started_at: now,
            finished_at: now,
            result: None,
            error: None,
        };
        store
            .finish(
                &job.lease,
                Outcome {
                    attempt,
                    next: Next::Complete,
                },
            )
            .await
            .expect("finish");
    }
    let finish = server_micros_per_call(&mut connection).await;
    dump_stats("finish", &mut connection).await;
    println!(
        "Redis µs per call: create {create:.1}, claim {claim:.1}, finish {finish:.1} ({} claimed)",
        claimed.len()
    );
}
