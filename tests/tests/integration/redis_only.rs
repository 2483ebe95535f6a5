//! The Redis store when Redis goes away: 503 while it is gone, nothing lost
//! when it comes back, and no process needs a restart.

use std::time::Duration;

use asyncep::store::RedisStore;
use asyncep_tests::TestServer;
use asyncep_tests::services::OwnRedis;
use serde_json::{Value, json};

use crate::Backend;

fn backend(url: &str) -> Backend {
    let store = RedisStore::builder(url)
        .prefix(format!("restart-{}", uuid::Uuid::new_v4()))
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    Backend {
        store: std::sync::Arc::new(store),
    }
}

async fn expect_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:asyncep:problem:store-unavailable");
}

/// While the server is being killed, a request may have reached it before
/// its reply was lost: then the answer says the outcome is unknown, and
/// where to look.
async fn expect_unavailable_or_unknown(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let location = response.headers().get("location").cloned();
    let problem: Value = response.json().await.unwrap();
    match problem["type"].as_str().unwrap() {
        "urn:asyncep:problem:store-unavailable" => {}
        "urn:asyncep:problem:store-outcome-unknown" => {
            let location = location.expect("an unknown outcome says where to look");
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains(location.to_str().unwrap())
            );
        }
        other => panic!("unexpected problem {other}"),
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_503_and_stores_nothing() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = TestServer::start(backend(&format!("redis://127.0.0.1:{closed}")).builder()).await;
    expect_unavailable(
        server
            .post_json("/echo/1", &json!({ "message": "x" }))
            .await,
    )
    .await;
    let status = server
        .client
        .get(server.url(&format!("/jobs/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    expect_unavailable(status).await;
}

#[tokio::test]
async fn a_redis_restart_loses_nothing_and_everyone_recovers() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let server = TestServer::start(backend(&redis.url()).builder().workers(2)).await;
    let before: Vec<String> = {
        let mut ids = Vec::new();
        for n in 0..20 {
            ids.push(
                server
                    .submit("/echo/1", &json!({ "message": format!("before {n}") }))
                    .await,
            );
        }
        ids
    };
    // Accepted but not run yet: a long retry keeps one job Scheduled.
    let patient = server.submit("/patient", &json!(null)).await;
    server.wait_for_status(&patient, "Scheduled").await;

    redis.kill();
    expect_unavailable_or_unknown(
        server
            .post_json("/echo/1", &json!({ "message": "during" }))
            .await,
    )
    .await;
    redis.restart();

    for id in &before {
        let job = server.wait_for_status(id, "Completed").await;
        assert!(
            job["result"]["message"]
                .as_str()
                .unwrap()
                .starts_with("before")
        );
    }
    assert_eq!(
        server.job(&patient).await["status"],
        "Scheduled",
        "the scheduled retry survived"
    );
    // The same API and workers carry on, without a restart of their own.
    let after = server
        .submit("/echo/1", &json!({ "message": "after" }))
        .await;
    assert_eq!(
        server.wait_for_status(&after, "Completed").await["result"]["message"],
        "after"
    );
}

/// Before: the pub/sub listener started once per store (a `Once`) and died
/// with the Tokio runtime that started it; later waiters never woke.
#[test]
fn the_wake_up_listener_outlives_the_runtime_that_started_it() {
    let Some(store) = asyncep_tests::services::redis_dyn() else {
        return;
    };
    let names = asyncep::store::JobNames::new(["listener-restart".into()]);
    let first = tokio::runtime::Runtime::new().unwrap();
    first.block_on(async {
        store.start().await.unwrap();
        store.wait_for_work(&names, Duration::from_millis(50)).await;
    });
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        store.start().await.expect("the listener starts again");
        let waiter = {
            let (store, names) = (store.clone(), names.clone());
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                store.wait_for_work(&names, Duration::from_secs(120)).await;
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        store
            .create(asyncep::store::NewJob {
                id: asyncep::JobId::new(),
                name: "listener-restart".into(),
                max_retries: 0,
                input: Default::default(),
                idempotency: None,
                caller: None,
            })
            .await
            .unwrap();
        let waited = waiter.await.unwrap();
        assert!(waited < Duration::from_secs(60), "woke after {waited:?}");
    });
}

/// Before: a Redis that evicts keys when full dropped job hashes silently.
/// Now such a server is refused when the store starts.
#[tokio::test]
async fn a_redis_that_may_evict_jobs_is_refused_at_start() {
    let Some(redis) =
        OwnRedis::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
    else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let error = asyncep::store::JobStore::start(&store).await.unwrap_err();
    assert!(
        matches!(error, asyncep::store::StoreError::Misconfigured(_)),
        "{error}"
    );
    assert!(error.to_string().contains("noeviction"), "{error}");
}

/// A store talking to Redis through a proxy that can lose a reply.
async fn through_a_lossy_proxy() -> Option<(asyncep_tests::services::LossyProxy, RedisStore)> {
    asyncep_tests::services::redis_store()?;
    let target = asyncep_tests::services::redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = asyncep_tests::services::LossyProxy::start(target).await;
    let store = RedisStore::builder(format!("redis://127.0.0.1:{}", proxy.port))
        .prefix(format!("lossy-{}", uuid::Uuid::new_v4()))
        .response_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    asyncep::store::JobStore::start(&store).await.unwrap();
    Some((proxy, store))
}

fn plain_job(name: &str) -> asyncep::store::NewJob {
    asyncep::store::NewJob {
        id: asyncep::JobId::new(),
        name: name.to_owned().into(),
        max_retries: 0,
        input: Default::default(),
        idempotency: None,
        caller: None,
    }
}

fn claim_request(name: &str) -> asyncep::store::ClaimRequest {
    asyncep::store::ClaimRequest {
        names: asyncep::store::JobNames::new([name.to_owned().into()]),
        lease: Duration::from_secs(60),
        limit: 1,
        id: asyncep::store::ClaimId::new(),
        repeat: false,
    }
}

/// A create whose reply is lost on the wire (Redis ran it; the connection
/// broke before the answer came back) is repeated by the store and finds
/// the job it made: one job, not two.
#[tokio::test]
async fn a_create_whose_reply_is_lost_makes_one_job() {
    use asyncep::store::{Created, JobStore};
    let Some((proxy, store)) = through_a_lossy_proxy().await else {
        return;
    };
    let name = format!("lossy-create-{}", uuid::Uuid::new_v4());
    store.create(plain_job(&name)).await.unwrap(); // scripts loaded
    let job = plain_job(&name);
    proxy.lose_next_reply();
    let created = store.create(job.clone()).await;
    assert!(proxy.lost(), "the reply was lost");
    match created {
        Ok(Created::Existing(found)) => assert_eq!(found.id, job.id),
        Ok(Created::New(_)) => panic!("the create ran twice"),
        Err(error) => panic!("the store's repeat did not find its job: {error}"),
    }
    let request = claim_request(&name);
    let mut jobs = 0;
    while !store.claim(&request).await.unwrap().jobs.is_empty() {
        jobs += 1;
    }
    assert_eq!(jobs, 2, "the warm-up job and the one lost-reply job");
}

/// A claim whose reply is lost is repeated by the store as a repeat: it
/// gets the job the first run took, under its token, and no job is
/// orphaned.
#[tokio::test]
async fn a_claim_whose_reply_is_lost_orphans_no_job() {
    use asyncep::store::JobStore;
    let Some((proxy, store)) = through_a_lossy_proxy().await else {
        return;
    };
    let name = format!("lossy-claim-{}", uuid::Uuid::new_v4());
    let first = plain_job(&name);
    store.create(first.clone()).await.unwrap();
    store.create(plain_job(&name)).await.unwrap();
    let request = claim_request(&name);
    proxy.lose_next_reply();
    let claimed = store.claim(&request).await;
    assert!(proxy.lost(), "the reply was lost");
    let claimed = claimed.expect("the repeat found the claim's job").jobs;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first.id, "the job the lost claim took");
    let job = store.get(first.id).await.unwrap().unwrap();
    assert_eq!(job.status, asyncep::JobStatus::InProgress);
    let next = store.claim(&claim_request(&name)).await.unwrap().jobs;
    assert_eq!(next.len(), 1, "the second job is still there");
    assert!(
        store
            .claim(&claim_request(&name))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
}

/// Before: Redis kept each result twice (job and attempt) and a completed
/// job's input for its whole retention. Now the result is kept once, the
/// input is let go, and the document is unchanged.
#[tokio::test]
async fn a_completed_job_keeps_its_result_once_and_no_input() {
    let Some(store) = asyncep_tests::services::redis_store() else {
        return;
    };
    let prefix = store.prefix().to_owned();
    let backend = Backend {
        store: std::sync::Arc::new(store),
    };
    let server = asyncep_tests::TestServer::start(backend.builder().workers(1)).await;
    let id = server
        .submit("/echo/1", &json!({ "message": "kept once" }))
        .await;
    let job = server.wait_for_status(&id, "Completed").await;
    assert_eq!(
        job["attempts"][0]["result"], job["result"],
        "the document is whole"
    );
    assert_eq!(job["result"]["message"], "kept once");
    let mut connection = redis::Client::open(asyncep_tests::services::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let hash = format!("{prefix}:job:{id}");
    let has_input: bool = redis::cmd("HEXISTS")
        .arg(&hash)
        .arg("in")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(!has_input, "a completed job's input is let go");
    let records: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{hash}:attempts"))
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(records[0].contains("\"result\":null"), "{}", records[0]);
}

/// Redis lets a finished job go when its keys expire, and says nothing to
/// the name's listing index: the tidy drops the entry, a bounded batch at a
/// time, so the index does not grow with every job ever submitted.
#[tokio::test]
async fn the_listing_index_forgets_jobs_whose_retention_ended() {
    if asyncep_tests::services::redis_store().is_none() {
        return;
    }
    let store = RedisStore::builder(asyncep_tests::services::redis_url())
        .prefix(format!("tidy-{}", uuid::Uuid::new_v4()))
        .retention(asyncep::store::Retention {
            completed: Duration::from_millis(50),
            failed: Duration::from_millis(50),
        })
        .build()
        .unwrap();
    let prefix = store.prefix().to_owned();
    let store: std::sync::Arc<dyn asyncep::store::JobStore> = std::sync::Arc::new(store);
    let backend = Backend {
        store: store.clone(),
    };
    // A long lease: the workers' own tidy (every half lease) stays out of it.
    let builder = backend
        .builder()
        .workers(1)
        .lease(Duration::from_secs(3600));
    let server = asyncep_tests::TestServer::start(builder).await;
    let id = server.submit("/ping/1", &serde_json::Value::Null).await;
    server.wait_for_status(&id, "Completed").await;
    let mut connection = redis::Client::open(asyncep_tests::services::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let index = format!("{prefix}:jobs:ping");
    let mut entries = async || -> u64 {
        redis::cmd("ZCARD")
            .arg(&index)
            .query_async(&mut connection)
            .await
            .unwrap()
    };
    assert_eq!(entries().await, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.assert_not_stored(&id).await;
    assert_eq!(entries().await, 1, "Redis expired the job, not its entry");
    let names = asyncep::store::JobNames::new(["ping".into()]);
    store.tidy_listing(&names).await.unwrap();
    assert_eq!(entries().await, 0);
    server.runtime.shutdown().await;
}

/// Two jobs of `name` on a store of its own Redis, and a way to claim.
mod turns {
    use std::time::Duration;

    use asyncep::job::{Attempt, AttemptStatus, JobId, JobInput, Next, Timestamp};
    use asyncep::store::{
        ClaimId, ClaimRequest, ClaimedJob, JobNames, JobStore, NewJob, Outcome, RedisStore,
    };

    /// A store on the Redis at `url`, started.
    pub(super) async fn started(url: &str) -> RedisStore {
        let store = RedisStore::open(url).unwrap();
        store.start().await.unwrap();
        store
    }

    /// Two jobs of `name` stored, oldest first.
    pub(super) async fn two_jobs(store: &RedisStore, name: &'static str) -> [JobId; 2] {
        let mut ids = [JobId::new(), JobId::new()];
        for id in &mut ids {
            let job = NewJob {
                id: JobId::new(),
                name: name.into(),
                max_retries: 0,
                input: JobInput::default(),
                idempotency: None,
                caller: None,
            };
            *id = store.create(job).await.unwrap().job().id;
        }
        ids
    }

    /// A fresh claim of one job of `name`.
    pub(super) fn claim(name: &str) -> ClaimRequest {
        ClaimRequest {
            names: JobNames::new([name.to_owned().into()]),
            lease: Duration::from_secs(30),
            limit: 1,
            id: ClaimId::new(),
            repeat: false,
        }
    }

    /// The oldest job of `name`, claimed.
    pub(super) async fn take(store: &RedisStore, name: &str) -> ClaimedJob {
        store.claim(&claim(name)).await.unwrap().jobs.remove(0)
    }

    /// The outcome of attempt `attempt`, which succeeded.
    pub(super) fn succeeded(attempt: u32) -> Outcome {
        let now = Timestamp::now();
        Outcome {
            attempt: Attempt {
                attempt,
                status: AttemptStatus::Succeeded,
                started_at: now,
                finished_at: now,
                result: None,
                error: None,
            },
            next: Next::Complete,
        }
    }

    /// A command on `redis` besides the store's.
    pub(super) async fn command(url: &str, command: &mut redis::Cmd) {
        let mut connection = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let () = command.query_async(&mut connection).await.unwrap();
    }
}

/// A Redis that lost its scripts (a restart, `SCRIPT FLUSH`) between two
/// jobs: the worker's turn, a pipeline that cannot load them, still records
/// the finish and claims the next job.
#[tokio::test]
async fn a_turn_after_redis_lost_its_scripts_still_finishes_and_claims() {
    use asyncep::job::JobStatus;
    use asyncep::store::JobStore;

    let Some(redis) = OwnRedis::start() else {
        return;
    };
    let store = turns::started(&redis.url()).await;
    let name = "turn-after-flush";
    let ids = turns::two_jobs(&store, name).await;
    let running = turns::take(&store, name).await;
    turns::command(&redis.url(), redis::cmd("SCRIPT").arg("FLUSH")).await;
    let turn = store
        .finish_and_claim(
            &running.lease,
            turns::succeeded(running.attempt),
            &turns::claim(name),
        )
        .await;
    turn.finished
        .expect("the finish, once the scripts are back");
    let claimed = turn.claimed.expect("a claim").expect("the claim");
    assert_eq!(claimed.jobs.len(), 1);
    assert_eq!(claimed.jobs[0].id, ids[1]);
    let first = store.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(first.status, JobStatus::Completed);
    assert_eq!(first.attempts.len(), 1);
}

/// Before: the pipeline's two replies were read as one, so a claim that
/// failed made the finish recorded with it read as failed too: the worker
/// tried it again and found the job already finished.
#[tokio::test]
async fn a_turn_whose_claim_fails_still_reports_its_finish() {
    use asyncep::job::JobStatus;
    use asyncep::store::JobStore;

    let Some(redis) = OwnRedis::start() else {
        return;
    };
    let store = turns::started(&redis.url()).await;
    let name = "turn-then-broken-claim";
    let ids = turns::two_jobs(&store, name).await;
    // A first job finished alone: Redis has both scripts loaded now.
    let first = turns::take(&store, name).await;
    store
        .finish(&first.lease, turns::succeeded(first.attempt))
        .await
        .unwrap();
    let running = turns::take(&store, name).await;
    assert_eq!(running.id, ids[1]);
    // The next claim's queue is a string: the claim script fails on it.
    let mut broken = redis::cmd("SET");
    broken.arg("{asyncep}:queue:broken").arg("not a queue");
    turns::command(&redis.url(), &mut broken).await;
    let turn = store
        .finish_and_claim(
            &running.lease,
            turns::succeeded(running.attempt),
            &turns::claim("broken"),
        )
        .await;
    turn.finished.expect("the finish was recorded");
    let claimed = turn.claimed.expect("a claim was sent");
    assert!(claimed.is_err(), "the claim failed: {claimed:?}");
    let job = store.get(running.id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Completed);
}
