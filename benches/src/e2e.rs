//! End to end: N no-op jobs, enqueue → all handled, 8 workers; asyncep
//! against apalis on the same storage kind, and a raw Redis floor.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use asyncep::job::{JobId, JobInput};
use asyncep::store::{JobStore, NewJob};
use asyncep::{AsyncContext, async_endpoint};

pub const WORKERS: usize = 8;
pub const PRODUCERS: usize = 8;

pub static DONE: AtomicUsize = AtomicUsize::new(0);

/// The no-op job: counts itself.
#[async_endpoint(job = "bench-noop", post = "/noop", retries = 0)]
async fn noop(_ctx: AsyncContext) -> Result<(), String> {
    DONE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

pub async fn wait_for(count: &AtomicUsize, target: usize, started: Instant) -> f64 {
    while count.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_micros(200)).await;
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the run stalled"
        );
    }
    started.elapsed().as_secs_f64()
}

/// Stores `jobs` no-op jobs through `store.create`, from `producers`
/// concurrent tasks; returns when all are stored.
pub async fn enqueue(store: &Arc<dyn JobStore>, jobs: usize, producers: usize) {
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in (p..jobs).step_by(producers) {
                    store
                        .create(NewJob {
                            id: JobId::new(),
                            name: Cow::Borrowed("bench-noop"),
                            max_retries: 0,
                            input: JobInput::default(),
                            idempotency: None,
                            caller: None,
                        })
                        .await
                        .expect("enqueue");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// A backlog drained: `jobs` no-op jobs accepted over HTTP by an API-only
/// runtime (64 connections), then run by a runtime of 8 workers on a store
/// of its own (`make` opens one onto the same jobs), as a worker process
/// started after the API would. Jobs per second of the drain alone.
pub async fn asyncep_drain(make: impl Fn() -> Arc<dyn JobStore>, jobs: usize) -> f64 {
    let api = asyncep::Runtime::builder()
        .shared_store(make())
        .workers(0)
        .build()
        .expect("the API runtime");
    let app = api.api(axum::Router::new()).expect("an API-only router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    crate::load::send(&address, "/noop", 64, jobs).await;
    server.abort();
    api.shutdown().await;
    DONE.store(0, Ordering::Relaxed);
    let runtime = asyncep::Runtime::builder()
        .shared_store(make())
        .workers(WORKERS)
        .build()
        .expect("the worker runtime");
    let started = Instant::now();
    runtime.start_workers();
    let seconds = wait_for(&DONE, jobs, started).await;
    runtime.shutdown().await;
    jobs as f64 / seconds
}

/// Jobs per second through asyncep on `store`.
pub async fn asyncep(store: Arc<dyn JobStore>, jobs: usize) -> f64 {
    DONE.store(0, Ordering::Relaxed);
    let runtime = asyncep::Runtime::builder()
        .shared_store(store.clone())
        .workers(WORKERS)
        .build()
        .expect("the bench runtime");
    runtime.start_workers();
    let started = Instant::now();
    enqueue(&store, jobs, PRODUCERS).await;
    let seconds = wait_for(&DONE, jobs, started).await;
    runtime.shutdown().await;
    jobs as f64 / seconds
}

static APALIS_DONE: AtomicUsize = AtomicUsize::new(0);

async fn apalis_noop(_job: u64) -> Result<(), BoxDynError> {
    APALIS_DONE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Jobs per second through apalis with its memory storage.
pub async fn apalis_memory(jobs: usize) -> f64 {
    APALIS_DONE.store(0, Ordering::Relaxed);
    let started = Instant::now();
    // Its memory storage is a channel: push first (as its README does), then run.
    let mut storage = MemoryStorage::<u64>::new();
    for n in 0..jobs as u64 {
        storage.push(n).await.expect("enqueue");
    }
    let worker = WorkerBuilder::new(format!("bench-{}", uuid::Uuid::new_v4()))
        .backend(storage)
        .concurrency(WORKERS)
        .parallelize(tokio::spawn)
        .build(apalis_noop);
    let seconds = tokio::select! {
        seconds = wait_for(&APALIS_DONE, jobs, started) => seconds,
        _ = worker.run() => panic!("the apalis worker stopped"),
    };
    jobs as f64 / seconds
}

/// Jobs per second through apalis-redis.
pub async fn apalis_redis(url: &str, jobs: usize) -> f64 {
    APALIS_DONE.store(0, Ordering::Relaxed);
    let connection = apalis_redis::connect(url).await.expect("apalis connects");
    let config = apalis_redis::Config::default().queue(format!("bench-{}", uuid::Uuid::new_v4()));
    let storage = apalis_redis::RedisStorage::new(connection).with_config(config);
    let worker = WorkerBuilder::new(format!("bench-{}", uuid::Uuid::new_v4()))
        .backend(storage.clone())
        .concurrency(WORKERS)
        .parallelize(tokio::spawn)
        .build(apalis_noop);
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut storage = storage.clone();
            tokio::spawn(async move {
                for n in (p..jobs).step_by(PRODUCERS) {
                    storage.push(n as u64).await.expect("enqueue");
                }
            })
        })
        .collect();
    let seconds = tokio::select! {
        seconds = async {
            for producer in producers {
                producer.await.unwrap();
            }
            wait_for(&APALIS_DONE, jobs, started).await
        } => seconds,
        _ = worker.run() => panic!("the apalis worker stopped"),
    };
    jobs as f64 / seconds
}

const RAW_ENQUEUE: &str = r"
redis.call('HSET', KEYS[1] .. ARGV[1], 's', 'queued', 'p', ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1";
const RAW_CLAIM: &str = r"
local id = redis.call('RPOP', KEYS[2])
if not id then return false end
redis.call('HSET', KEYS[1] .. id, 's', 'running')
return id";
const RAW_COMPLETE: &str = r"
redis.call('HSET', KEYS[1] .. ARGV[1], 's', 'done', 'r', 'null')
return 1";

/// Jobs per second through the least any Redis job queue does: a Lua
/// enqueue, a Lua claim and a Lua complete per job, from 8 workers.
pub async fn raw_redis(url: &str, jobs: usize) -> f64 {
    let client = redis::Client::open(url).expect("a Redis URL");
    let connection = client
        .get_connection_manager()
        .await
        .expect("Redis answers");
    let prefix = format!("{{raw-{}}}", uuid::Uuid::new_v4());
    let (job_key, queue) = (format!("{prefix}:job:"), format!("{prefix}:queue"));
    let enqueue = redis::Script::new(RAW_ENQUEUE);
    let claim = Arc::new(redis::Script::new(RAW_CLAIM));
    let complete = Arc::new(redis::Script::new(RAW_COMPLETE));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (mut connection, claim, complete, done) = (
                connection.clone(),
                claim.clone(),
                complete.clone(),
                done.clone(),
            );
            let (job_key, queue) = (job_key.clone(), queue.clone());
            tokio::spawn(async move {
                while done.load(Ordering::Relaxed) < jobs {
                    let id: Option<String> = claim
                        .key(&job_key)
                        .key(&queue)
                        .invoke_async(&mut connection)
                        .await
                        .unwrap();
                    match id {
                        Some(id) => {
                            let _: i64 = complete
                                .key(&job_key)
                                .arg(id)
                                .invoke_async(&mut connection)
                                .await
                                .unwrap();
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        None => tokio::time::sleep(Duration::from_micros(100)).await,
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (mut connection, enqueue) = (connection.clone(), enqueue.clone());
            let (job_key, queue) = (job_key.clone(), queue.clone());
            tokio::spawn(async move {
                for n in (p..jobs).step_by(PRODUCERS) {
                    let _: i64 = enqueue
                        .key(&job_key)
                        .key(&queue)
                        .arg(n)
                        .arg("{}")
                        .invoke_async(&mut connection)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    for worker in workers {
        worker.await.unwrap();
    }
    jobs as f64 / started.elapsed().as_secs_f64()
}
