//! Several worker processes against one shared store (Redis, PostgreSQL,
//! an SQLite file): each job runs once without faults, and a worker killed
//! mid-job loses nothing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use asyncep::job::{AttemptStatus, JobInput};
use asyncep::store::{JobStore, NewJob};
use asyncep::{JobId, JobStatus};
use asyncep_tests::services::{
    postgres_store, postgres_url, redis_store, redis_url, sqlite_store_at, sqlite_url,
};
use asyncep_tests::{TestServer, wait_until};
use redis::AsyncCommands;

const WORKER: &str = env!("CARGO_BIN_EXE_asyncep-test-worker");

/// A store shared by worker processes: how to reach it from the test and
/// from a process, and where the processes log their runs.
struct Fleet {
    store: Arc<dyn JobStore>,
    env: Vec<(&'static str, String)>,
    log: String,
}

impl Fleet {
    fn redis() -> Option<Self> {
        let store = redis_store()?;
        let prefix = store
            .prefix()
            .trim_matches(|c| c == '{' || c == '}')
            .to_owned();
        Some(Self {
            log: format!("{{{prefix}}}:runs"),
            env: vec![
                ("ASYNCEP_STORE_URL", redis_url()),
                ("ASYNCEP_REDIS_PREFIX", prefix),
            ],
            store: Arc::new(store),
        })
    }

    fn postgres() -> Option<Self> {
        redis_store()?; // the runs are logged in Redis
        let store = postgres_store()?;
        let schema = store.schema().to_owned();
        Some(Self {
            log: format!("asyncep-test-runs:{schema}"),
            env: vec![
                ("ASYNCEP_STORE_URL", postgres_url()),
                ("ASYNCEP_POSTGRES_SCHEMA", schema),
            ],
            store: Arc::new(store),
        })
    }

    fn sqlite() -> Option<Self> {
        redis_store()?; // the runs are logged in Redis
        let url = sqlite_url();
        let store = sqlite_store_at(&url);
        Some(Self {
            log: format!("asyncep-test-runs:{}", store.path().display()),
            env: vec![("ASYNCEP_STORE_URL", url)],
            store: Arc::new(store),
        })
    }
}

/// A worker process on the fleet's store; killed when dropped.
struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(fleet: &Fleet, workers: usize, lease: &str, job_millis: u64) -> Self {
        let child = Command::new(WORKER)
            .envs(fleet.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUN_LOG_REDIS", redis_url())
            .env("RUN_LOG_KEY", &fleet.log)
            .env("ASYNCEP_WORKERS", workers.to_string())
            .env("ASYNCEP_LEASE", lease)
            .env("ASYNCEP_SHUTDOWN_GRACE", "5s")
            .env("PROC_JOB_MILLIS", job_millis.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("the worker binary starts");
        Self(child)
    }

    /// SIGKILL: the process gets no chance to hand anything back.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn submit(store: &dyn JobStore, count: usize) -> Vec<JobId> {
    submit_named(store, "proc-count", count).await
}

async fn submit_named(store: &dyn JobStore, name: &'static str, count: usize) -> Vec<JobId> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let id = JobId::new();
        store
            .create(NewJob {
                id,
                name: Cow::Borrowed(name),
                max_retries: 5,
                input: JobInput::default(),
                idempotency: None,
                caller: None,
            })
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn runs(log: &str) -> HashMap<String, u32> {
    let mut connection = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    connection.hgetall(log).await.unwrap()
}

async fn all_completed(store: &dyn JobStore, ids: &[JobId]) -> bool {
    for id in ids {
        match store.get(*id).await.unwrap() {
            Some(job) if job.status == JobStatus::Completed => {}
            _ => return false,
        }
    }
    true
}

#[tokio::test]
async fn a_cancel_reaches_the_handler_in_another_process_on_redis() {
    if let Some(fleet) = Fleet::redis() {
        a_cancel_reaches_the_handler_in_another_process(fleet).await
    }
}

#[tokio::test]
async fn a_cancel_reaches_the_handler_in_another_process_on_postgres() {
    if let Some(fleet) = Fleet::postgres() {
        a_cancel_reaches_the_handler_in_another_process(fleet).await
    }
}

#[tokio::test]
async fn a_cancel_reaches_the_handler_in_another_process_on_sqlite() {
    if let Some(fleet) = Fleet::sqlite() {
        a_cancel_reaches_the_handler_in_another_process(fleet).await
    }
}

/// An API process (this test, serving HTTP without workers) cancels a job
/// that a worker process runs: the worker hears it from the store's
/// announcement, well before its lease's next renewal (a third of 30 s),
/// its handler's token fires, and the job ends `Canceled`.
async fn a_cancel_reaches_the_handler_in_another_process(fleet: Fleet) {
    let (store, log) = (&*fleet.store, fleet.log.as_str());
    let backend = crate::Backend {
        store: fleet.store.clone(),
    };
    let api = TestServer::start(backend.builder().workers(0)).await;
    let _worker = WorkerProcess::start(&fleet, 1, "30s", 0);
    let id = submit_named(store, "proc-stoppable", 1).await[0];
    let started = wait_until(Duration::from_secs(30), async || {
        runs(log).await.contains_key(&id.to_string())
    })
    .await;
    assert!(started, "the worker process never started the job");
    let asked = std::time::Instant::now();
    let response = api
        .client
        .delete(api.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert!(
        [200, 202].contains(&response.status().as_u16()),
        "DELETE answered {}",
        response.status()
    );
    let heard = wait_until(Duration::from_secs(30), async || {
        runs(&format!("{log}:heard"))
            .await
            .contains_key(&id.to_string())
    })
    .await;
    assert!(heard, "the handler's token never fired");
    assert!(
        asked.elapsed() < Duration::from_secs(9),
        "heard after {:?}: by a renewal, not by the announcement",
        asked.elapsed()
    );
    let job = api.wait_for_status(&id.to_string(), "Canceled").await;
    assert_eq!(job["attempts"][0]["status"], "Canceled");
}

#[tokio::test]
async fn two_worker_processes_run_each_of_2000_jobs_once_on_redis() {
    if let Some(fleet) = Fleet::redis() {
        two_worker_processes_run_each_of_2000_jobs_once(fleet).await;
    }
}

#[tokio::test]
async fn two_worker_processes_run_each_of_2000_jobs_once_on_postgres() {
    if let Some(fleet) = Fleet::postgres() {
        two_worker_processes_run_each_of_2000_jobs_once(fleet).await;
    }
}

#[tokio::test]
async fn a_killed_worker_loses_no_job_on_redis() {
    if let Some(fleet) = Fleet::redis() {
        a_killed_worker_loses_no_job(fleet).await;
    }
}

#[tokio::test]
async fn a_killed_worker_loses_no_job_on_postgres() {
    if let Some(fleet) = Fleet::postgres() {
        a_killed_worker_loses_no_job(fleet).await;
    }
}

#[tokio::test]
async fn two_worker_processes_run_each_of_2000_jobs_once_on_sqlite() {
    if let Some(fleet) = Fleet::sqlite() {
        two_worker_processes_run_each_of_2000_jobs_once(fleet).await;
    }
}

#[tokio::test]
async fn a_killed_worker_loses_no_job_on_sqlite() {
    if let Some(fleet) = Fleet::sqlite() {
        a_killed_worker_loses_no_job(fleet).await;
    }
}

/// 64 tasks submitting at once in this process while two worker processes
/// of 4 workers each drain the same file: not one operation fails (no
/// `SQLITE_BUSY` reaches a caller), and each job runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_submitters_and_two_worker_processes_share_one_sqlite_file() {
    let Some(fleet) = Fleet::sqlite() else { return };
    let _first = WorkerProcess::start(&fleet, 4, "30s", 0);
    let _second = WorkerProcess::start(&fleet, 4, "30s", 0);
    let submitters: Vec<_> = (0..64)
        .map(|_| {
            let store = fleet.store.clone();
            tokio::spawn(async move { submit(&*store, 25).await })
        })
        .collect();
    let mut ids = Vec::new();
    for submitter in submitters {
        ids.extend(submitter.await.expect("every submit succeeds"));
    }
    each_ran_once(&fleet, &ids).await;
}

/// Waits until every job of `ids` ran and completed; none ran twice.
async fn each_ran_once(fleet: &Fleet, ids: &[JobId]) {
    let (store, log) = (&*fleet.store, fleet.log.as_str());
    let finished = wait_until(Duration::from_secs(120), async || {
        runs(log).await.len() == ids.len()
    })
    .await;
    assert!(
        finished,
        "only {} of {} jobs ran",
        runs(log).await.len(),
        ids.len()
    );
    assert!(
        wait_until(Duration::from_secs(60), async || all_completed(store, ids)
            .await)
        .await
    );
    let twice: Vec<_> = runs(log)
        .await
        .into_iter()
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(twice.is_empty(), "jobs that ran more than once: {twice:?}");
}

async fn two_worker_processes_run_each_of_2000_jobs_once(fleet: Fleet) {
    let store = &*fleet.store;
    let ids = submit(store, 2000).await;
    let _first = WorkerProcess::start(&fleet, 4, "30s", 0);
    let _second = WorkerProcess::start(&fleet, 4, "30s", 0);
    each_ran_once(&fleet, &ids).await;
    for id in ids.iter().step_by(97) {
        let job = store.get(*id).await.unwrap().unwrap();
        assert_eq!(job.attempts.len(), 1);
        assert_eq!(job.attempts[0].status, AttemptStatus::Succeeded);
    }
}

async fn a_killed_worker_loses_no_job(fleet: Fleet) {
    let (store, log) = (&*fleet.store, fleet.log.as_str());
    let ids = submit(store, 12).await;
    // Jobs take 3 s; the lease is 1 s (renewed by heartbeats while alive).
    let mut doomed = WorkerProcess::start(&fleet, 4, "1s", 3000);
    let started = wait_until(Duration::from_secs(30), async || runs(log).await.len() >= 4).await;
    assert!(started, "the first worker never started its jobs");
    let in_flight: Vec<String> = runs(log).await.into_keys().collect();
    doomed.kill();

    let _survivor = WorkerProcess::start(&fleet, 4, "1s", 50);
    let done = wait_until(Duration::from_secs(120), async || {
        all_completed(store, &ids).await
    })
    .await;
    assert!(done, "not every job completed after the crash");
    for id in &in_flight {
        let job = store.get(id.parse().unwrap()).await.unwrap().unwrap();
        let statuses: Vec<_> = job.attempts.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses.first(),
            Some(&AttemptStatus::Interrupted),
            "job {id}: {statuses:?}"
        );
        assert_eq!(
            statuses.last(),
            Some(&AttemptStatus::Succeeded),
            "job {id}: {statuses:?}"
        );
        assert_eq!(job.retry_count, 0, "an interruption is not a retry");
    }
}
