//! asyncep's benchmark suite. Every figure is a ratio against a reference
//! measured in the same run, because the machine is shared and noisy; each
//! is the median of several runs, with the range.
//!
//! ```sh
//! cargo run --release --manifest-path benches/Cargo.toml            # full suite, writes BENCHMARKS.md
//! cargo run --release --manifest-path benches/Cargo.toml -- --quick # a short smoke run, writes nothing
//! ```
//!
//! Needs Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`), PostgreSQL
//! (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! Node 20 with npm (graphile-worker and BullMQ, installed by `npm ci` in
//! `benches/node` on first use) and `taskset`. `--only a,b` runs some
//! sections (submit, e2e, sql, sql-submit, backlog, pickup, memory) and
//! writes nothing; `--backlog N` sets the backlog's size (1,000,000 by
//! default).

mod e2e;
mod load;
mod memory;
mod micro;
mod node;
mod pickup;
mod scripts;
mod servers;
mod sql;
mod stats;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use asyncep::store::{JobStore, MemoryStore, RedisStore};
use stats::Spread;

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A Redis store under a fresh `bench-` prefix (removed by `clean_redis`).
pub fn redis_store(label: &str) -> RedisStore {
    redis_store_at(&format!("bench-{label}-{}", uuid::Uuid::new_v4()))
}

/// A Redis store under `prefix`.
fn redis_store_at(prefix: &str) -> RedisStore {
    RedisStore::builder(redis_url())
        .prefix(prefix)
        .build()
        .expect("REDIS_URL is a Redis URL")
}

/// Drains a Redis backlog accepted over HTTP first (`e2e::asyncep_drain`).
async fn redis_drain(jobs: usize) -> f64 {
    let prefix = format!("bench-drain-{}", uuid::Uuid::new_v4());
    e2e::asyncep_drain(
        || Arc::new(redis_store_at(&prefix)) as Arc<dyn JobStore>,
        jobs,
    )
    .await
}

pub fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A PostgreSQL store in a fresh schema, started (migrated) before use.
async fn postgres_store() -> asyncep::store::PostgresStore {
    let store = asyncep::store::PostgresStore::builder(postgres_url())
        .schema(format!("bench_{}", uuid::Uuid::new_v4().simple()))
        .build()
        .expect("DATABASE_URL is a PostgreSQL URL");
    JobStore::start(&store).await.expect("PostgreSQL answers");
    store
}

/// Drops a bench store's schema.
async fn drop_schema(store: &asyncep::store::PostgresStore) {
    JobStore::shutdown(store).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        store.schema()
    )))
    .execute(store.pool())
    .await;
}

/// A fresh SQLite file in the benchmarks' folder (emptied at each start of
/// the suite).
fn sqlite_path() -> String {
    let dir = std::env::temp_dir().join("asyncep-bench-sqlite");
    std::fs::create_dir_all(&dir).expect("a folder for the bench files");
    dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()))
        .display()
        .to_string()
}

/// An SQLite store in a fresh file, started (its tables made).
async fn sqlite_store() -> asyncep::store::SqliteStore {
    let store = asyncep::store::SqliteStore::builder(sqlite_path())
        .build()
        .expect("an SQLite file");
    JobStore::start(&store)
        .await
        .expect("the SQLite store starts");
    store
}

struct Settings {
    runs: usize,
    seconds: u64,
    connections: usize,
    jobs: usize,
    memory_jobs: usize,
    pickups: usize,
    /// Jobs of the SQL end-to-end runs (fsync-bound: far slower than the
    /// memory and Redis ones), and of apalis-sqlite's (slower still).
    sql_jobs: usize,
    apalis_sqlite_jobs: usize,
    /// The backlog drained on each SQL store.
    backlog: usize,
    write: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(servers::serve(&args[1], &args[2])),
        Some("load") => {
            let result = runtime.block_on(load::run(
                &args[1],
                "/submit/42",
                args[3].parse().unwrap(),
                Duration::from_secs(args[2].parse().unwrap()),
            ));
            println!("{}", serde_json::to_string(&result).unwrap());
        }
        Some("e2e-one") => {
            // One end-to-end variant, for profiling: `e2e-one asyncep-memory|asyncep-redis|raw-redis|drain-redis|drain-bullmq|... JOBS`.
            let jobs: usize = args[2].parse().unwrap();
            let rate = runtime.block_on(async {
                match args[1].as_str() {
                    "asyncep-redis" => {
                        e2e::asyncep(Arc::new(redis_store("e2e")) as Arc<dyn JobStore>, jobs).await
                    }
                    "raw-redis" => e2e::raw_redis(&redis_url(), jobs).await,
                    "drain-redis" => redis_drain(jobs).await,
                    "drain-bullmq" => node::rate("bullmq.mjs", &[&redis_url(), &args[2], "drain"]),
                    "asyncep-memory" => {
                        e2e::asyncep(Arc::new(MemoryStore::new()) as Arc<dyn JobStore>, jobs).await
                    }
                    "asyncep-postgres" => {
                        let store = postgres_store().await;
                        let rate = e2e::asyncep(Arc::new(store.clone()), jobs).await;
                        drop_schema(&store).await;
                        rate
                    }
                    "asyncep-sqlite" => e2e::asyncep(Arc::new(sqlite_store().await), jobs).await,
                    "apalis-postgres" => sql::apalis_postgres(&postgres_url(), jobs).await,
                    "apalis-sqlite" => sql::apalis_sqlite(&sqlite_path(), jobs).await,
                    "raw-postgres" => sql::raw_postgres(&postgres_url(), jobs).await,
                    "raw-sqlite" => sql::raw_sqlite(&sqlite_path(), jobs).await,
                    "backlog-postgres" | "backlog-sqlite" => {
                        let store: Arc<dyn JobStore> = if args[1] == "backlog-sqlite" {
                            Arc::new(sqlite_store().await)
                        } else {
                            Arc::new(postgres_store().await)
                        };
                        let (first, last) = sql::backlog(store, jobs).await;
                        eprintln!("first tenth {first:.0} jobs/s, last tenth {last:.0} jobs/s");
                        last
                    }
                    other => panic!("unknown variant {other}"),
                }
            });
            println!("{rate:.0} jobs/s");
        }
        Some("scripts") => runtime.block_on(scripts::run(
            args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000),
        )),
        Some("micro") => runtime.block_on(micro::run(
            args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200_000),
        )),
        Some("memory") => println!(
            "{}",
            runtime.block_on(memory::probe(&args[1], args[2].parse().unwrap()))
        ),
        _ => {
            let quick = args.iter().any(|a| a == "--quick");
            let settings = if quick {
                Settings {
                    runs: 1,
                    seconds: 3,
                    connections: 64,
                    jobs: 20_000,
                    memory_jobs: 200_000,
                    pickups: 200,
                    sql_jobs: 5_000,
                    apalis_sqlite_jobs: 1_000,
                    backlog: 20_000,
                    write: false,
                }
            } else {
                Settings {
                    runs: 3,
                    seconds: 10,
                    connections: 64,
                    jobs: 100_000,
                    memory_jobs: 1_000_000,
                    pickups: 500,
                    sql_jobs: 20_000,
                    apalis_sqlite_jobs: 5_000,
                    backlog: 1_000_000,
                    write: true,
                }
            };
            let mut settings = settings;
            if let Some(i) = args.iter().position(|a| a == "--backlog") {
                settings.backlog = args[i + 1]
                    .parse()
                    .expect("--backlog takes a number of jobs");
            }
            let only: Option<&str> = args
                .iter()
                .position(|a| a == "--only")
                .map(|i| args[i + 1].as_str());
            runtime.block_on(suite(&settings, only));
        }
    }
}

fn wants(only: Option<&str>, name: &str) -> bool {
    only.is_none_or(|list| list.split(',').any(|n| n == name))
}

async fn suite(settings: &Settings, only: Option<&str>) {
    let mut rows: Vec<[String; 4]> = Vec::new();
    if wants(only, "submit") {
        rows.extend(submit(settings).await);
    }
    if wants(only, "e2e") {
        rows.extend(end_to_end(settings).await);
    }
    if wants(only, "sql") {
        rows.extend(sql_end_to_end(settings).await);
    }
    if wants(only, "sql-submit") {
        rows.extend(sql_submit(settings).await);
    }
    if wants(only, "backlog") {
        rows.extend(backlog(settings).await);
    }
    if wants(only, "pickup") {
        rows.extend(pickup_latency(settings).await);
    }
    if wants(only, "memory") {
        rows.extend(memory_per_job(settings));
    }
    let table = table(&rows);
    println!("\n{table}");
    if settings.write && only.is_none() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
        let notes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md"))
            .unwrap_or_default();
        std::fs::write(path, document(settings, &table) + "\n" + &notes)
            .expect("BENCHMARKS.md is writable");
        println!("written to BENCHMARKS.md");
    }
}

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Serves `kind` pinned to core 0, loads it from core 1.
fn submit_run(kind: &str, settings: &Settings) -> load::LoadResult {
    submit_run_with(kind, settings, &[])
}

/// [`submit_run`], with more variables for the server.
fn submit_run_with(kind: &str, settings: &Settings, env: &[(&str, &str)]) -> load::LoadResult {
    let exe = std::env::current_exe().unwrap();
    let address = free_address();
    let mut server = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&exe)
        .args(["serve", kind, &address])
        .env("REDIS_URL", redis_url())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset starts the server");
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready", "the {kind} server did not start");
    let output = Command::new("taskset")
        .args(["-c", "1"])
        .arg(&exe)
        .args([
            "load",
            &address,
            &settings.seconds.to_string(),
            &settings.connections.to_string(),
        ])
        .output()
        .expect("taskset starts the load");
    let _ = server.kill();
    let _ = server.wait();
    let result: load::LoadResult =
        serde_json::from_slice(&output.stdout).expect("the load's result");
    eprintln!(
        "  submit {kind:6}: {:>8.0} req/s, p50 {} µs, p99 {} µs, {} errors",
        result.rps(),
        result.p50_us,
        result.p99_us,
        result.errors
    );
    result
}

async fn submit(settings: &Settings) -> Vec<[String; 4]> {
    eprintln!(
        "submit: {} s x 64 connections, server on core 0, load on core 1",
        settings.seconds
    );
    let (mut memory_share, mut redis_share) = (vec![], vec![]);
    let (mut traced_share, mut traced_cost) = (vec![], vec![]);
    let (mut observed_share, mut observed_cost) = (vec![], vec![]);
    let (mut measured_share, mut measured_cost) = (vec![], vec![]);
    let (mut p50s, mut p99s): (Vec<[f64; 3]>, Vec<[f64; 3]>) = (vec![], vec![]);
    let mut bare_rps = vec![];
    for _ in 0..settings.runs {
        let bare = submit_run("bare", settings);
        let memory = submit_run("memory", settings);
        let traced = submit_run("memory-traced", settings);
        let observed = submit_run("memory-observed", settings);
        let measured = submit_run("memory-measured", settings);
        let redis = submit_run("redis", settings);
        clean_redis().await;
        memory_share.push(memory.rps() / bare.rps());
        traced_share.push(traced.rps() / memory.rps());
        // The server has one core: a request's cost is the inverse of the
        // rate. What tracing adds to it, in µs.
        traced_cost.push((1.0 / traced.rps() - 1.0 / memory.rps()) * 1e6);
        observed_share.push(observed.rps() / memory.rps());
        observed_cost.push((1.0 / observed.rps() - 1.0 / memory.rps()) * 1e6);
        measured_share.push(measured.rps() / memory.rps());
        measured_cost.push((1.0 / measured.rps() - 1.0 / memory.rps()) * 1e6);
        redis_share.push(redis.rps() / bare.rps());
        bare_rps.push(bare.rps());
        p50s.push([
            bare.p50_us as f64,
            memory.p50_us as f64,
            redis.p50_us as f64,
        ]);
        p99s.push([
            bare.p99_us as f64,
            memory.p99_us as f64,
            redis.p99_us as f64,
        ]);
    }
    let column = |values: &[[f64; 3]], i: usize| {
        Spread::of(&values.iter().map(|v| v[i]).collect::<Vec<_>>())
    };
    vec![
        [
            "submit throughput, memory store (API only)".into(),
            format!("{} of bare", Spread::of(&memory_share).percent()),
            format!("bare axum: {} req/s", Spread::of(&bare_rps).show(0)),
            "≥ 80 %".into(),
        ],
        [
            "submit throughput, memory, traced (a tracing-opentelemetry layer; the span's context stored with the job)".into(),
            format!(
                "{} of untraced; +{} µs per submit",
                Spread::of(&traced_share).percent(),
                Spread::of(&traced_cost).show(2)
            ),
            "same run".into(),
            "≥ 95 %".into(),
        ],
        [
            "submit throughput, memory, measured (a Prometheus recorder receiving asyncep's metrics)".into(),
            format!(
                "{} of plain; +{} µs per submit",
                Spread::of(&measured_share).percent(),
                Spread::of(&measured_cost).show(2)
            ),
            "same run".into(),
            "≥ 95 %".into(),
        ],
        [
            "submit throughput, memory, traced and measured (both of the above)".into(),
            format!(
                "{} of plain; +{} µs per submit",
                Spread::of(&observed_share).percent(),
                Spread::of(&observed_cost).show(2)
            ),
            "same run".into(),
            "≥ 95 %".into(),
        ],
        [
            "submit throughput, Redis store (API only)".into(),
            format!("{} of bare", Spread::of(&redis_share).percent()),
            "same run".into(),
            "≥ 50 %".into(),
        ],
        [
            "submit latency p50 / p99, memory (µs)".into(),
            format!(
                "{} / {}",
                column(&p50s, 1).show(0),
                column(&p99s, 1).show(0)
            ),
            format!(
                "bare: {} / {}",
                column(&p50s, 0).show(0),
                column(&p99s, 0).show(0)
            ),
            "—".into(),
        ],
        [
            "submit latency p50 / p99, Redis (µs)".into(),
            format!(
                "{} / {}",
                column(&p50s, 2).show(0),
                column(&p99s, 2).show(0)
            ),
            "same run".into(),
            "—".into(),
        ],
    ]
}

async fn end_to_end(settings: &Settings) -> Vec<[String; 4]> {
    let jobs = settings.jobs;
    eprintln!(
        "end to end: {jobs} no-op jobs, {} workers, 8 producers",
        e2e::WORKERS
    );
    let url = redis_url();
    let (mut vs_apalis, mut vs_apalis_redis, mut vs_raw) = (vec![], vec![], vec![]);
    let (mut vs_bullmq, mut drain_vs_bullmq) = (vec![], vec![]);
    let (mut ours, mut ours_redis, mut ours_drain) = (vec![], vec![], vec![]);
    for _ in 0..settings.runs {
        let memory = e2e::asyncep(Arc::new(MemoryStore::new()), jobs).await;
        let apalis = e2e::apalis_memory(jobs).await;
        let redis = e2e::asyncep(Arc::new(redis_store("e2e")) as Arc<dyn JobStore>, jobs).await;
        let apalis_redis = e2e::apalis_redis(&url, jobs).await;
        let raw = e2e::raw_redis(&url, jobs).await;
        let bullmq = node::rate("bullmq.mjs", &[&url, &jobs.to_string()]);
        let drain = redis_drain(jobs).await;
        let bullmq_drain = node::rate("bullmq.mjs", &[&url, &jobs.to_string(), "drain"]);
        clean_redis().await;
        eprintln!(
            "  jobs/s: asyncep memory {memory:.0}, apalis memory {apalis:.0}, asyncep redis {redis:.0}, apalis-redis {apalis_redis:.0}, BullMQ {bullmq:.0}, raw redis {raw:.0}; backlog drain: asyncep redis {drain:.0}, BullMQ {bullmq_drain:.0}"
        );
        vs_bullmq.push(redis / bullmq);
        drain_vs_bullmq.push(drain / bullmq_drain);
        ours_drain.push(drain);
        vs_apalis.push(memory / apalis);
        vs_apalis_redis.push(redis / apalis_redis);
        vs_raw.push(redis / raw);
        ours.push(memory);
        ours_redis.push(redis);
    }
    vec![
        [
            "end to end, memory (× apalis MemoryStorage)".into(),
            format!("{}×", Spread::of(&vs_apalis).show(2)),
            format!("asyncep: {} jobs/s", Spread::of(&ours).show(0)),
            "≥ 3× (worst run ≥ 2×)".into(),
        ],
        [
            "end to end, Redis (× apalis-redis)".into(),
            format!("{}×", Spread::of(&vs_apalis_redis).show(2)),
            format!("asyncep: {} jobs/s", Spread::of(&ours_redis).show(0)),
            "≥ 2×".into(),
        ],
        [
            "end to end, Redis (× BullMQ 6.7: addBulk, one Worker of concurrency 8)".into(),
            format!("{}×", Spread::of(&vs_bullmq).show(2)),
            "same run".into(),
            "≥ 1.5×".into(),
        ],
        [
            "end to end, Redis (of the raw Lua floor)".into(),
            Spread::of(&vs_raw).percent(),
            "same run".into(),
            "≥ 60 %".into(),
        ],
        [
            "backlog drain, Redis: accepted over HTTP, then 8 workers (× BullMQ, one Worker of concurrency 8)".into(),
            format!("{}×", Spread::of(&drain_vs_bullmq).show(2)),
            format!("asyncep: {} jobs/s", Spread::of(&ours_drain).show(0)),
            "≥ 1.5×".into(),
        ],
    ]
}

async fn sql_end_to_end(settings: &Settings) -> Vec<[String; 4]> {
    let (jobs, apalis_jobs) = (settings.sql_jobs, settings.apalis_sqlite_jobs);
    eprintln!(
        "end to end on SQL: {jobs} no-op jobs ({apalis_jobs} for apalis-sqlite), {} workers, 8 producers",
        e2e::WORKERS
    );
    let url = postgres_url();
    let jobs_text = jobs.to_string();
    let mut ratios: [Vec<f64>; 6] = Default::default();
    let (mut ours_pg, mut ours_sqlite) = (vec![], vec![]);
    for _ in 0..settings.runs {
        let store = postgres_store().await;
        let pg = e2e::asyncep(Arc::new(store.clone()), jobs).await;
        drop_schema(&store).await;
        let apalis_pg = sql::apalis_postgres(&url, jobs).await;
        let graphile = node::rate("graphile.mjs", &[&url, &jobs_text, "default"]);
        let batched = node::rate("graphile.mjs", &[&url, &jobs_text, "batched"]);
        let raw_pg = sql::raw_postgres(&url, jobs).await;
        let sqlite = e2e::asyncep(Arc::new(sqlite_store().await), jobs).await;
        let apalis_sqlite = sql::apalis_sqlite(&sqlite_path(), apalis_jobs).await;
        let raw_sqlite = sql::raw_sqlite(&sqlite_path(), jobs).await;
        eprintln!(
            "  jobs/s: asyncep postgres {pg:.0}, apalis-postgres {apalis_pg:.0}, graphile-worker {graphile:.0} (batching {batched:.0}), raw SKIP LOCKED {raw_pg:.0}; asyncep sqlite {sqlite:.0}, apalis-sqlite {apalis_sqlite:.0}, raw BEGIN IMMEDIATE {raw_sqlite:.0}"
        );
        for (ratio, value) in ratios.iter_mut().zip([
            pg / apalis_pg,
            pg / graphile,
            pg / batched,
            pg / raw_pg,
            sqlite / apalis_sqlite,
            sqlite / raw_sqlite,
        ]) {
            ratio.push(value);
        }
        ours_pg.push(pg);
        ours_sqlite.push(sqlite);
    }
    let times = |values: &[f64]| format!("{}×", Spread::of(values).show(2));
    vec![
        [
            "end to end, PostgreSQL (× apalis-postgres)".into(),
            times(&ratios[0]),
            format!("asyncep: {} jobs/s", Spread::of(&ours_pg).show(0)),
            "≥ 3×".into(),
        ],
        [
            "end to end, PostgreSQL (× graphile-worker 0.18, defaults)".into(),
            times(&ratios[1]),
            "same run".into(),
            "—".into(),
        ],
        [
            "end to end, PostgreSQL (× graphile-worker, batching preset)".into(),
            times(&ratios[2]),
            "same run".into(),
            "≥ 1×".into(),
        ],
        [
            "end to end, PostgreSQL (of a raw SKIP LOCKED loop)".into(),
            Spread::of(&ratios[3]).percent(),
            "same run".into(),
            "—".into(),
        ],
        [
            "end to end, SQLite (× apalis-sqlite)".into(),
            times(&ratios[4]),
            format!("asyncep: {} jobs/s", Spread::of(&ours_sqlite).show(0)),
            "≥ 5×".into(),
        ],
        [
            "end to end, SQLite (of a raw BEGIN IMMEDIATE loop)".into(),
            Spread::of(&ratios[5]).percent(),
            "same run".into(),
            "≥ 60 %".into(),
        ],
    ]
}

/// Submit over HTTP on PostgreSQL: against bare axum, and with `NOTIFY`
/// on against off (poll-only).
async fn sql_submit(settings: &Settings) -> Vec<[String; 4]> {
    eprintln!(
        "submit on PostgreSQL: {} s x 64 connections",
        settings.seconds
    );
    let (mut of_bare, mut notify) = (vec![], vec![]);
    for _ in 0..settings.runs {
        let bare = submit_run("bare", settings);
        let mut rates = vec![];
        for kind in ["postgres", "postgres-poll"] {
            let store = postgres_store().await;
            let schema = store.schema().to_owned();
            rates.push(submit_run_with(kind, settings, &[("BENCH_PG_SCHEMA", &schema)]).rps());
            drop_schema(&store).await;
        }
        of_bare.push(rates[0] / bare.rps());
        notify.push(rates[0] / rates[1]);
    }
    vec![
        [
            "submit throughput, PostgreSQL store (API only)".into(),
            format!("{} of bare", Spread::of(&of_bare).percent()),
            "same run".into(),
            "≥ 30 %".into(),
        ],
        [
            "submit throughput, PostgreSQL, NOTIFY on (of off)".into(),
            Spread::of(&notify).percent(),
            "poll-only, same run".into(),
            "≥ 95 %".into(),
        ],
    ]
}

/// A backlog stored first, then drained: the last tenth's rate against
/// the first's (once per store: a million jobs take minutes to store).
async fn backlog(settings: &Settings) -> Vec<[String; 4]> {
    let jobs = settings.backlog;
    eprintln!("backlog drain: {jobs} jobs stored, then 8 workers");
    let store = postgres_store().await;
    let (pg_first, pg_last) = sql::backlog(Arc::new(store.clone()), jobs).await;
    drop_schema(&store).await;
    eprintln!("  PostgreSQL: first tenth {pg_first:.0} jobs/s, last tenth {pg_last:.0}");
    let (sqlite_first, sqlite_last) = sql::backlog(Arc::new(sqlite_store().await), jobs).await;
    eprintln!("  SQLite: first tenth {sqlite_first:.0} jobs/s, last tenth {sqlite_last:.0}");
    let row = |store: &str, first: f64, last: f64| {
        [
            format!("{jobs}-job backlog drain, {store}: last tenth's rate of the first's"),
            format!("{:.0} %", 100.0 * last / first),
            format!("{first:.0} → {last:.0} jobs/s"),
            "no slow-down (≥ 90 %)".into(),
        ]
    };
    vec![
        row("PostgreSQL", pg_first, pg_last),
        row("SQLite", sqlite_first, sqlite_last),
    ]
}

async fn pickup_latency(settings: &Settings) -> Vec<[String; 4]> {
    eprintln!(
        "pick-up latency: {} submits one at a time",
        settings.pickups
    );
    let (mut memory, mut redis, mut postgres) = (vec![], vec![], vec![]);
    for _ in 0..settings.runs {
        memory.push(pickup::measure(Arc::new(MemoryStore::new()), settings.pickups).await);
        redis.push(pickup::measure(Arc::new(redis_store("pickup")), settings.pickups).await);
        clean_redis().await;
        let store = postgres_store().await;
        postgres.push(pickup::measure(Arc::new(store.clone()), settings.pickups).await);
        drop_schema(&store).await;
    }
    let show = |values: &[(u64, u64)]| {
        let p50 = Spread::of(
            &values
                .iter()
                .map(|v| v.0 as f64 / 1000.0)
                .collect::<Vec<_>>(),
        );
        let p99 = Spread::of(
            &values
                .iter()
                .map(|v| v.1 as f64 / 1000.0)
                .collect::<Vec<_>>(),
        );
        (p50, p99)
    };
    let (m50, m99) = show(&memory);
    let (r50, r99) = show(&redis);
    let (p50, p99) = show(&postgres);
    vec![
        [
            "idle pick-up p50 / p99, memory (ms)".into(),
            format!("{} / {}", m50.show(3), m99.show(3)),
            "—".into(),
            "p50 < 1 ms, p99 < 1 ms".into(),
        ],
        [
            "idle pick-up p50 / p99, PostgreSQL (ms)".into(),
            format!("{} / {}", p50.show(3), p99.show(3)),
            "—".into(),
            "p50 < 3 ms, p99 < 3 ms".into(),
        ],
        [
            "idle pick-up p50 / p99, Redis (ms)".into(),
            format!("{} / {}", r50.show(3), r99.show(3)),
            "—".into(),
            "p50 < 3 ms, p99 < 3 ms".into(),
        ],
    ]
}

fn memory_per_job(settings: &Settings) -> Vec<[String; 4]> {
    let jobs = settings.memory_jobs;
    eprintln!("memory: RSS growth over {jobs} jobs with a 100-byte payload");
    let exe = std::env::current_exe().unwrap();
    let probe = |kind: &str| -> f64 {
        let output = Command::new(&exe)
            .args(["memory", kind, &jobs.to_string()])
            .output()
            .expect("the memory probe");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("bytes per job")
    };
    let (mut ratio, mut ours, mut floor) = (vec![], vec![], vec![]);
    for _ in 0..settings.runs {
        let (a, h) = (probe("asyncep"), probe("hashmap"));
        eprintln!("  bytes/job: asyncep {a:.0}, HashMap {h:.0}");
        ratio.push(a / h);
        ours.push(a);
        floor.push(h);
    }
    vec![[
        "memory per stored job (× HashMap floor)".into(),
        format!(
            "{}× ({} B/job)",
            Spread::of(&ratio).show(2),
            Spread::of(&ours).median.round()
        ),
        format!(
            "HashMap<Uuid, payload>: {} B/job",
            Spread::of(&floor).median.round()
        ),
        "≤ 2×".into(),
    ]]
}

/// Removes every key the benchmarks wrote.
async fn clean_redis() {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for pattern in ["{bench-*", "{raw-*", "apalis*", "bench-*"] {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut connection)
            .await
            .unwrap_or_default();
        for chunk in keys.chunks(1000) {
            let _: () = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut connection)
                .await
                .unwrap_or(());
        }
    }
}

fn table(rows: &[[String; 4]]) -> String {
    let mut out =
        String::from("| scenario | asyncep | reference (same run) | target |\n|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row[0], row[1], row[2], row[3]
        ));
    }
    out
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn document(settings: &Settings, table: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "# Benchmarks\n\n\
         Measured {date} on {cores} cores ({cpu}), {rustc}, {redis}, with\n\n\
         ```sh\ncargo run --release --manifest-path benches/Cargo.toml\n```\n\n\
         Each figure is the median of {runs} runs (min–max in brackets), as a ratio against its reference\n\
         measured in the same run. Submit: the server is pinned to core 0 and the load generator (64\n\
         keep-alive connections, {secs} s, a ~100-byte JSON body) to core 1 with `taskset`; asyncep runs\n\
         API-only (`workers(0)`), so the figure is the cost of accepting a job. End to end: {jobs} no-op\n\
         jobs enqueued by 8 tasks through each framework's own API, 8 workers, timed until every handler\n\
         ran (asyncep records each job's completion, with its attempt, before the next claim). Pick-up:\n\
         one submit at a time over HTTP, 5 ms apart, from the request leaving the client to the handler\n\
         starting. Memory: RSS growth of a fresh process storing {memory_jobs} jobs with a 100-byte body.\n\
         SQL: PostgreSQL ({postgres}, local, `synchronous_commit = on`) and SQLite files in WAL mode with\n\
         `synchronous = FULL` (asyncep's default; the raw loop's too), on this machine's disk; {sql_jobs}\n\
         no-op jobs per end-to-end run ({apalis_sqlite_jobs} for apalis-sqlite, whose rate is the lowest),\n\
         the same 8 producers and 8 workers; graphile-worker 0.18 and BullMQ 6.7 run under Node ({node})\n\
         from `benches/node` (pinned in its `package-lock.json`). Backlog: {backlog} jobs stored by 64\n\
         producers, then drained by 8 workers; the rate over the last tenth against the first.\n\n\
         {table}\n",
        date = command_line("date", &["-u", "+%Y-%m-%d"]),
        cores = std::thread::available_parallelism().map_or(1, |n| n.get()),
        rustc = command_line("rustc", &["--version"]),
        redis = command_line("redis-server", &["--version"]),
        runs = settings.runs,
        secs = settings.seconds,
        jobs = settings.jobs,
        memory_jobs = settings.memory_jobs,
        postgres = command_line("psql", &["--version"]),
        sql_jobs = settings.sql_jobs,
        apalis_sqlite_jobs = settings.apalis_sqlite_jobs,
        node = command_line("node", &["--version"]),
        backlog = settings.backlog,
    )
}
