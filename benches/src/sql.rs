//! The SQL stores' references: apalis on the same database, and the least
//! a job queue on it must do (a raw claim + complete loop), plus the
//! 1,000,000-job backlog drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use asyncep::store::JobStore;

use crate::e2e::{PRODUCERS, WORKERS};

static APALIS_DONE: AtomicUsize = AtomicUsize::new(0);

async fn apalis_noop(_job: u64) -> Result<(), BoxDynError> {
    APALIS_DONE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Runs `worker` until `APALIS_DONE` reaches `jobs` while `producers` push.
async fn apalis_run<F: std::future::Future>(
    worker: F,
    producers: Vec<tokio::task::JoinHandle<()>>,
    jobs: usize,
    started: Instant,
) -> f64 {
    tokio::select! {
        seconds = async {
            for producer in producers {
                producer.await.unwrap();
            }
            crate::e2e::wait_for(&APALIS_DONE, jobs, started).await
        } => jobs as f64 / seconds,
        _ = worker => panic!("the apalis worker stopped"),
    }
}

/// Jobs per second through apalis-postgres (its defaults), 8 workers.
pub async fn apalis_postgres(url: &str, jobs: usize) -> f64 {
    APALIS_DONE.store(0, Ordering::Relaxed);
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("PostgreSQL answers");
    apalis_postgres::PostgresStorage::setup(&pool)
        .await
        .expect("apalis' migrations");
    let queue = format!("bench-{}", uuid::Uuid::new_v4());
    let storage = apalis_postgres::PostgresStorage::new(&pool)
        .with_config(apalis_postgres::Config::default().queue(&queue));
    let worker = WorkerBuilder::new(format!("bench-{}", uuid::Uuid::new_v4()))
        .backend(storage.clone())
        .concurrency(WORKERS)
        .parallelize(tokio::spawn)
        .build(apalis_noop);
    let started = Instant::now();
    let producers = (0..PRODUCERS)
        .map(|p| {
            let mut storage = storage.clone();
            tokio::spawn(async move {
                for n in (p..jobs).step_by(PRODUCERS) {
                    storage.push(n as u64).await.expect("enqueue");
                }
            })
        })
        .collect();
    let rate = apalis_run(worker.run(), producers, jobs, started).await;
    let _ = sqlx::query("DROP SCHEMA apalis CASCADE")
        .execute(&pool)
        .await;
    rate
}

/// Jobs per second through apalis-sqlite (its defaults) on a WAL file.
pub async fn apalis_sqlite(path: &str, jobs: usize) -> f64 {
    use std::str::FromStr;
    APALIS_DONE.store(0, Ordering::Relaxed);
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("an SQLite file");
    apalis_sqlite::SqliteStorage::setup(&pool)
        .await
        .expect("apalis' migrations");
    let storage = apalis_sqlite::SqliteStorage::new(&pool);
    let worker = WorkerBuilder::new(format!("bench-{}", uuid::Uuid::new_v4()))
        .backend(storage.clone())
        .concurrency(WORKERS)
        .parallelize(tokio::spawn)
        .build(apalis_noop);
    let started = Instant::now();
    let busy = Arc::new(AtomicUsize::new(0));
    let producers = (0..PRODUCERS)
        .map(|p| {
            let (mut storage, busy) = (storage.clone(), busy.clone());
            tokio::spawn(async move {
                for n in (p..jobs).step_by(PRODUCERS) {
                    // apalis-sqlite hands `SQLITE_BUSY` to its callers: retry
                    // as a user would have to, and count them.
                    while storage.push(n as u64).await.is_err() {
                        busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    let rate = apalis_run(worker.run(), producers, jobs, started).await;
    let busy = busy.load(Ordering::Relaxed);
    if busy > 0 {
        eprintln!("    apalis-sqlite: {busy} pushes failed with SQLITE_BUSY and were retried");
    }
    rate
}

/// Jobs per second through the least a PostgreSQL queue does: one insert
/// per job from 8 producers; 8 workers each claiming one job with
/// `FOR UPDATE SKIP LOCKED` and completing it (no leases, no history).
pub async fn raw_postgres(url: &str, jobs: usize) -> f64 {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections((WORKERS + PRODUCERS) as u32)
        .connect(url)
        .await
        .expect("PostgreSQL answers");
    let table = format!("raw_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (id bigserial PRIMARY KEY, status text NOT NULL, payload text)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE INDEX ON {table} (id) WHERE status = 'queued'"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let insert: Arc<str> =
        format!("INSERT INTO {table} (status, payload) VALUES ('queued', '{{}}')").into();
    let claim: Arc<str> = format!(
        "UPDATE {table} SET status = 'running' WHERE id = (SELECT id FROM {table} \
         WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    .into();
    let complete: Arc<str> = format!("UPDATE {table} SET status = 'done' WHERE id = $1").into();
    let rate = raw_loop(
        jobs,
        {
            let pool = pool.clone();
            move || {
                let (pool, insert) = (pool.clone(), insert.clone());
                async move {
                    sqlx::query(sqlx::AssertSqlSafe(insert))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
        },
        {
            let pool = pool.clone();
            move || {
                let (pool, claim, complete) = (pool.clone(), claim.clone(), complete.clone());
                async move {
                    let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(claim))
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                    let Some(id) = id else { return false };
                    sqlx::query(sqlx::AssertSqlSafe(complete))
                        .bind(id)
                        .execute(&pool)
                        .await
                        .unwrap();
                    true
                }
            }
        },
    )
    .await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&pool)
        .await;
    rate
}

/// Jobs per second through the least an SQLite queue does, with the same
/// file settings as asyncep's default (WAL, `synchronous = FULL`): one
/// connection (as careful code shares it), each insert, claim and complete
/// its own `BEGIN IMMEDIATE` transaction.
pub async fn raw_sqlite(path: &str, jobs: usize) -> f64 {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("an SQLite file");
    sqlx::query("CREATE TABLE raw (id INTEGER PRIMARY KEY, status TEXT NOT NULL, payload TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE INDEX raw_queued ON raw (id) WHERE status = 'queued'")
        .execute(&pool)
        .await
        .unwrap();
    raw_loop(
        jobs,
        {
            let pool = pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                    sqlx::query("INSERT INTO raw (status, payload) VALUES ('queued', '{}')")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            }
        },
        {
            let pool = pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                    let id: Option<i64> = sqlx::query_scalar(
                        "UPDATE raw SET status = 'running' WHERE id = (SELECT id FROM raw \
                         WHERE status = 'queued' ORDER BY id LIMIT 1) RETURNING id",
                    )
                    .fetch_optional(&mut *tx)
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                    let Some(id) = id else { return false };
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                    sqlx::query("UPDATE raw SET status = 'done' WHERE id = ?1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    true
                }
            }
        },
    )
    .await
}

/// 8 producers calling `enqueue` `jobs` times in all while 8 workers call
/// `work` (false: nothing to claim) until `jobs` were done; jobs per second.
async fn raw_loop<E, EF, W, WF>(jobs: usize, enqueue: E, work: W) -> f64
where
    E: Fn() -> EF + Clone + Send + 'static,
    EF: std::future::Future<Output = ()> + Send,
    W: Fn() -> WF + Clone + Send + 'static,
    WF: std::future::Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (work, done) = (work.clone(), done.clone());
            tokio::spawn(async move {
                while done.load(Ordering::Relaxed) < jobs {
                    if work().await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let enqueue = enqueue.clone();
            tokio::spawn(async move {
                for _ in (p..jobs).step_by(PRODUCERS) {
                    enqueue().await;
                }
            })
        })
        .collect();
    for task in producers.into_iter().chain(workers) {
        task.await.unwrap();
    }
    jobs as f64 / started.elapsed().as_secs_f64()
}

/// A backlog of `jobs` stored first (64 concurrent producers), then
/// drained by 8 workers: the rate over the first and over the last tenth
/// of the backlog, in jobs per second.
pub async fn backlog(store: Arc<dyn JobStore>, jobs: usize) -> (f64, f64) {
    let filling = Instant::now();
    crate::e2e::enqueue(&store, jobs, 64).await;
    eprintln!(
        "    backlog of {jobs} stored in {:.0} s",
        filling.elapsed().as_secs_f64()
    );
    crate::e2e::DONE.store(0, Ordering::Relaxed);
    let runtime = asyncep::Runtime::builder()
        .shared_store(store)
        .workers(WORKERS)
        .build()
        .expect("the bench runtime");
    runtime.start_workers();
    let tenth = jobs / 10;
    let started = Instant::now();
    let first = crate::e2e::wait_for(&crate::e2e::DONE, tenth, started).await;
    let before_last = crate::e2e::wait_for(&crate::e2e::DONE, jobs - tenth, started).await;
    let all = crate::e2e::wait_for(&crate::e2e::DONE, jobs, started).await;
    runtime.shutdown().await;
    (tenth as f64 / first, tenth as f64 / (all - before_last))
}
