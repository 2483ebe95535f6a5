//! The store conformance suite: what every [`JobStore`] must do, written once
//! and run against each store by [`store_conformance!`](crate::store_conformance).
//!
//! Each case takes a fresh, empty store. Names are unique per case so that a
//! shared backend (one Redis) can run cases side by side.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use asyncep::Caller;
use asyncep::job::{
    Attempt, AttemptStatus, ErrorInfo, Fingerprint, JobId, JobInput, JobStatus, Next, RawJson,
    Timestamp,
};
use asyncep::store::{
    ClaimId, ClaimRequest, ClaimedJob, Created, Idempotency, JobNames, JobStore, MAX_LOST_LEASES,
    NewJob, Outcome, StoreError,
};

use crate::wait_until;

mod concurrent;
mod control;
mod listing;
mod queues;
mod turns;
pub use concurrent::*;
pub use control::*;
pub use listing::*;
pub use queues::*;
pub use turns::*;

const LEASE: Duration = Duration::from_secs(30);

/// Runs every conformance case as its own test against the store that
/// `$make` builds: an `Option<Arc<dyn JobStore>>`, `None` to skip (see
/// [`services`](crate::services)).
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@cases $make;
            create_then_get, get_of_an_unknown_id_is_none, repeated_key_returns_the_first_job,
            repeated_id_returns_the_first_job, concurrent_duplicates_create_one_job,
            claims_oldest_first_and_only_named_jobs, each_job_is_claimed_once,
            complete_stores_the_result, fail_stores_the_error, retry_schedules_and_becomes_due,
            requeue_keeps_the_retry_count, renew_extends_the_lease, expired_leases_are_recovered,
            a_zombie_cannot_overwrite_the_new_owner, waiting_workers_wake_on_new_work,
            input_reaches_the_worker_intact, a_job_that_keeps_losing_its_worker_fails,
            every_key_a_request_names_is_recorded, fencing_tokens_grow_across_jobs,
            a_create_repeated_after_a_lost_reply_finds_its_job,
            a_claim_repeated_after_a_lost_reply_gets_the_same_jobs,
            a_repeat_with_no_room_only_finds_the_lost_claims_jobs,
            a_finish_repeated_after_a_lost_reply_is_recorded_once,
            a_claim_recovers_expired_leases_itself, a_claim_takes_a_batch_up_to_its_limit,
            keys_belong_to_their_caller, an_id_of_another_callers_job_is_taken,
            a_repeated_claim_never_returns_an_expired_lease,
            a_cancel_ends_a_waiting_job_at_once, a_cancel_ends_a_scheduled_job,
            a_running_job_is_marked_and_its_renewal_says_so,
            a_finished_job_is_left_alone_by_a_cancel, a_canceled_job_whose_worker_died_ends_canceled,
            progress_is_kept_under_the_lease_only, changes_of_a_watched_job_are_announced,
            a_claim_tells_how_long_its_job_waited, queue_depths_count_runnable_jobs_only,
            a_failed_job_is_run_again_by_a_retry,
            a_listing_pages_through_a_names_jobs_newest_first, only_finished_jobs_are_deleted,
            a_deleted_jobs_id_made_again_is_claimed_once_under_its_name,
            concurrent_creates_each_get_their_own_answer,
            a_reused_id_among_concurrent_creates_conflicts_alone,
            concurrent_finishes_each_get_their_own_answer,
            a_turn_records_the_finish_and_claims_the_next_job,
            a_zombies_turn_is_refused_the_finish_but_claims,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store: ::std::option::Option<::std::sync::Arc<dyn ::asyncep::store::JobStore>> = $make;
                if let ::std::option::Option::Some(store) = store {
                    $crate::conformance::$case(store).await;
                }
            }
        )*
    };
}

fn unique(prefix: &str) -> Cow<'static, str> {
    Cow::Owned(format!("{prefix}-{}", JobId::new()))
}

fn input(body: &str) -> JobInput {
    JobInput {
        body: Some(body.into()),
        headers: vec![("x-trace".into(), "t1".into())],
        route_params: vec![("id".into(), "7".into())],
        query: Some("a=1&a=2".into()),
        trace: None,
    }
}

fn new_job(name: &str) -> NewJob {
    NewJob {
        id: JobId::new(),
        name: Cow::Owned(name.to_owned()),
        max_retries: 2,
        input: input("{}"),
        idempotency: None,
        caller: None,
    }
}

fn keyed(name: &str, key: &str, body: &str) -> NewJob {
    let input = input(body);
    NewJob {
        idempotency: Some(Idempotency {
            key: Some(key.to_owned()),
            fingerprint: Fingerprint::of(name, &input),
        }),
        input,
        ..new_job(name)
    }
}

/// A job with a client-chosen id (and so a fingerprint) and maybe a key.
fn with_id(id: JobId, name: &str, key: Option<&str>, fingerprint: Fingerprint) -> NewJob {
    NewJob {
        id,
        idempotency: Some(Idempotency {
            key: key.map(str::to_owned),
            fingerprint,
        }),
        ..new_job(name)
    }
}

fn request(names: &JobNames, lease: Duration, limit: usize) -> ClaimRequest {
    ClaimRequest {
        names: names.clone(),
        lease,
        limit,
        id: ClaimId::new(),
        repeat: false,
    }
}

async fn create(store: &dyn JobStore, job: NewJob) -> JobId {
    match store.create(job).await.expect("create") {
        Created::New(job) => job.id,
        Created::Existing(job) => panic!("expected a new job, got existing {}", job.id),
    }
}

async fn claim(store: &dyn JobStore, names: &JobNames) -> Option<ClaimedJob> {
    claim_for(store, names, LEASE).await
}

/// Claims under a lease of `lease`.
async fn claim_for(store: &dyn JobStore, names: &JobNames, lease: Duration) -> Option<ClaimedJob> {
    let mut claimed = store
        .claim(&request(names, lease, 1))
        .await
        .expect("claim")
        .jobs;
    assert!(claimed.len() <= 1, "a claim of one took {}", claimed.len());
    claimed.pop()
}

fn names(names: &[&Cow<'static, str>]) -> JobNames {
    JobNames::new(names.iter().map(|name| (*name).clone()))
}

fn attempt(job: &ClaimedJob, status: AttemptStatus) -> Attempt {
    let now = Timestamp::now();
    Attempt {
        attempt: job.attempt,
        status,
        started_at: now,
        finished_at: now,
        result: (status == AttemptStatus::Succeeded)
            .then(|| RawJson::from_text("{\"ok\":true}").unwrap()),
        error: (status != AttemptStatus::Succeeded).then(|| ErrorInfo::new("boom", "it broke")),
    }
}

async fn finish(store: &dyn JobStore, job: &ClaimedJob, status: AttemptStatus, next: Next) {
    let outcome = Outcome {
        attempt: attempt(job, status),
        next,
    };
    store.finish(&job.lease, outcome).await.expect("finish");
}

/// A new job reads back `Queued`, with no attempts.
pub async fn create_then_get(store: Arc<dyn JobStore>) {
    let name = unique("create");
    let id = create(&*store, new_job(&name)).await;
    let job = store.get(id).await.unwrap().expect("the job is stored");
    assert_eq!(job.id, id);
    assert_eq!(job.name, name);
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!((job.retry_count, job.max_retries), (0, 2));
    assert!(job.attempts.is_empty() && job.result.is_none() && job.error.is_none());
    assert!(job.started_at.is_none() && job.completed_at.is_none());
}

/// An id never stored reads as `None`, not as an error.
pub async fn get_of_an_unknown_id_is_none(store: Arc<dyn JobStore>) {
    assert!(store.get(JobId::new()).await.unwrap().is_none());
}

/// The same key and request return the first job; another request with the
/// key is a conflict, and creates nothing.
pub async fn repeated_key_returns_the_first_job(store: Arc<dyn JobStore>) {
    let name = unique("key");
    let key = format!("key-{}", JobId::new());
    let first = create(&*store, keyed(&name, &key, "{\"n\":1}")).await;
    match store.create(keyed(&name, &key, "{\"n\":1}")).await.unwrap() {
        Created::Existing(job) => assert_eq!(job.id, first),
        Created::New(job) => panic!("a second job {} was created", job.id),
    }
    let conflict = keyed(&name, &key, "{\"n\":2}");
    let conflict_id = conflict.id;
    match store.create(conflict).await {
        Err(StoreError::IdempotencyConflict { existing }) => assert_eq!(existing, first),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store.get(conflict_id).await.unwrap().is_none());
}

/// A client-chosen id sent again acts as an idempotency key.
pub async fn repeated_id_returns_the_first_job(store: Arc<dyn JobStore>) {
    let name = unique("id");
    let id = JobId::new();
    let fingerprint = Fingerprint::of(&name, &input("{}"));
    create(&*store, with_id(id, &name, None, fingerprint)).await;
    let again = with_id(id, &name, None, fingerprint);
    assert!(matches!(store.create(again).await.unwrap(), Created::Existing(job) if job.id == id));
    let other = with_id(id, &name, None, Fingerprint([9; 16]));
    assert!(
        matches!(store.create(other).await, Err(StoreError::IdempotencyConflict { existing }) if existing == id)
    );
}

/// Fifty concurrent creates with one key make one job.
pub async fn concurrent_duplicates_create_one_job(store: Arc<dyn JobStore>) {
    let name = unique("race");
    let key = format!("race-{}", JobId::new());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, name, key) = (store.clone(), name.clone(), key.clone());
            tokio::spawn(async move { store.create(keyed(&name, &key, "{}")).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        let created = task.await.unwrap();
        new += usize::from(matches!(created, Created::New(_)));
        ids.insert(created.job().id);
    }
    assert_eq!((new, ids.len()), (1, 1));
    let names = names(&[&name]);
    assert!(claim(&*store, &names).await.is_some());
    assert!(
        claim(&*store, &names).await.is_none(),
        "only one job was queued"
    );
}

/// Claims go oldest first, and only to workers that run the job's name.
pub async fn claims_oldest_first_and_only_named_jobs(store: Arc<dyn JobStore>) {
    let (a, b) = (unique("a"), unique("b"));
    let a1 = create(&*store, new_job(&a)).await;
    let b1 = create(&*store, new_job(&b)).await;
    let a2 = create(&*store, new_job(&a)).await;
    let only_a = names(&[&a]);
    let first = claim(&*store, &only_a).await.unwrap();
    assert_eq!(
        (first.id, first.attempt, first.name.clone()),
        (a1, 1, a.clone())
    );
    assert_eq!(claim(&*store, &only_a).await.unwrap().id, a2);
    assert!(claim(&*store, &only_a).await.is_none());
    assert_eq!(claim(&*store, &names(&[&a, &b])).await.unwrap().id, b1);
    let job = store.get(a1).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::InProgress);
    assert!(job.started_at.is_some());
}

/// Concurrent claimers never get the same job.
pub async fn each_job_is_claimed_once(store: Arc<dyn JobStore>) {
    let name = unique("once");
    let mut created = HashSet::new();
    for _ in 0..40 {
        created.insert(create(&*store, new_job(&name)).await);
    }
    let names = names(&[&name]);
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let (store, names) = (store.clone(), names.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(job) = claim(&*store, &names).await {
                    got.push(job.id);
                }
                got
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    let unique_claims: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 40, "every job claimed once");
    assert_eq!(unique_claims, created);
}

/// Completing stores the result and the attempt; the lease is spent.
pub async fn complete_stores_the_result(store: Arc<dyn JobStore>) {
    let name = unique("complete");
    let id = create(&*store, new_job(&name)).await;
    let job = claim(&*store, &names(&[&name])).await.unwrap();
    finish(&*store, &job, AttemptStatus::Succeeded, Next::Complete).await;
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Completed);
    assert_eq!(
        stored.result.as_ref().map(RawJson::get),
        Some("{\"ok\":true}")
    );
    assert!(stored.completed_at.is_some());
    assert_eq!(stored.attempts.len(), 1);
    assert_eq!(stored.attempts[0].status, AttemptStatus::Succeeded);
    assert!(matches!(
        store.renew(&job.lease, LEASE).await,
        Err(StoreError::LeaseLost { .. })
    ));
}

/// Failing stores the error; the job is not claimable again.
pub async fn fail_stores_the_error(store: Arc<dyn JobStore>) {
    let name = unique("fail");
    let id = create(&*store, new_job(&name)).await;
    let job = claim(&*store, &names(&[&name])).await.unwrap();
    finish(&*store, &job, AttemptStatus::Failed, Next::Fail).await;
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert_eq!(stored.error, Some(ErrorInfo::new("boom", "it broke")));
    assert!(stored.result.is_none());
    assert!(claim(&*store, &names(&[&name])).await.is_none());
}

/// A retry is `Scheduled` until due, then claimable as the next attempt;
/// an idle claim says how long until it is due, on the store's clock.
pub async fn retry_schedules_and_becomes_due(store: Arc<dyn JobStore>) {
    let name = unique("retry");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let job = claim(&*store, &names).await.unwrap();
    // Long enough that a slow machine still sees it not yet due.
    let delay = Duration::from_secs(3);
    finish(
        &*store,
        &job,
        AttemptStatus::Failed,
        Next::Retry { after: delay },
    )
    .await;
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Scheduled);
    assert_eq!(stored.retry_count, 1);
    assert!(stored.next_attempt_at.is_some());
    let idle = store.claim(&request(&names, LEASE, 1)).await.unwrap();
    assert!(
        idle.jobs.is_empty(),
        "a retry was claimable before it was due"
    );
    let due_in = idle
        .next_due
        .expect("the store tells when the retry is due");
    assert!(
        due_in <= delay,
        "due in {due_in:?}, more than the {delay:?} asked"
    );
    let mut again = None;
    assert!(
        wait_until(Duration::from_secs(20), async || {
            again = claim(&*store, &names).await;
            again.is_some()
        })
        .await
    );
    let again = again.unwrap();
    assert_eq!((again.id, again.attempt, again.retry_count), (id, 2, 1));
    assert!(
        again.lease.token > job.lease.token,
        "a new claim has a greater fencing token"
    );
    assert!(
        store
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .next_attempt_at
            .is_none()
    );
}

/// An interrupted attempt requeues at once, without using a retry.
pub async fn requeue_keeps_the_retry_count(store: Arc<dyn JobStore>) {
    let name = unique("requeue");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let job = claim(&*store, &names).await.unwrap();
    finish(&*store, &job, AttemptStatus::Interrupted, Next::Requeue).await;
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.retry_count), (JobStatus::Queued, 0));
    let again = claim(&*store, &names).await.unwrap();
    assert_eq!((again.id, again.attempt), (id, 2));
}

/// Renewing pushes the lease's end forward: a short lease renewed for
/// long is not recovered when the short one would have run out.
pub async fn renew_extends_the_lease(store: Arc<dyn JobStore>) {
    let name = unique("renew");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let job = claim_for(&*store, &names, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(job.lease.ttl <= Duration::from_millis(200));
    store.renew(&job.lease, LEASE).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!store.maintain().await.unwrap().recovered.contains(&id));
    assert!(claim(&*store, &names).await.is_none(), "still leased");
    finish(&*store, &job, AttemptStatus::Succeeded, Next::Complete).await;
}

/// A job whose lease ran out goes back to the queue with an `Interrupted`
/// attempt, and the next claim is attempt 2.
pub async fn expired_leases_are_recovered(store: Arc<dyn JobStore>) {
    let name = unique("expire");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let ClaimedJob { lease, .. } = claim_for(&*store, &names, Duration::from_millis(50))
        .await
        .expect("a job to claim");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let mut recovered = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), async || {
            recovered.extend(store.maintain().await.unwrap().recovered);
            recovered.contains(&id)
        })
        .await
    );
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Queued);
    assert_eq!(stored.attempts.len(), 1);
    assert_eq!(stored.attempts[0].status, AttemptStatus::Interrupted);
    assert_eq!(stored.retry_count, 0, "an interruption is not a retry");
    let again = claim(&*store, &names).await.unwrap();
    assert_eq!((again.id, again.attempt), (id, 2));
    assert!(again.lease.token != lease.token);
}

/// Once a lease is lost, its holder can neither renew nor finish.
pub async fn a_zombie_cannot_overwrite_the_new_owner(store: Arc<dyn JobStore>) {
    let name = unique("zombie");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let zombie = claim_for(&*store, &names, Duration::from_millis(50))
        .await
        .expect("a job to claim");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        wait_until(Duration::from_secs(10), async || {
            store.maintain().await.unwrap().recovered.contains(&id)
        })
        .await
    );
    let owner = claim(&*store, &names).await.unwrap();
    assert!(matches!(
        store.renew(&zombie.lease, LEASE).await,
        Err(StoreError::LeaseLost { .. })
    ));
    let late = Outcome {
        attempt: attempt(&zombie, AttemptStatus::Failed),
        next: Next::Fail,
    };
    assert!(matches!(
        store.finish(&zombie.lease, late).await,
        Err(StoreError::LeaseLost { .. })
    ));
    finish(&*store, &owner, AttemptStatus::Succeeded, Next::Complete).await;
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Completed);
    assert_eq!(
        stored.attempts.len(),
        2,
        "the zombie's attempt was not recorded"
    );
}

/// A waiting worker returns soon after work arrives, long before its
/// timeout. The store is started first (on Redis: subscribed), so the wake
/// can only come from the create.
pub async fn waiting_workers_wake_on_new_work(store: Arc<dyn JobStore>) {
    store.start().await.expect("the store starts");
    let name = unique("wake");
    let names = names(&[&name]);
    let (ready, waiting) = tokio::sync::oneshot::channel();
    let waiter = {
        let (store, names) = (store.clone(), names.clone());
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let wait = store.wait_for_work(&names, Duration::from_secs(120));
            let _ = ready.send(());
            wait.await;
            started.elapsed()
        })
    };
    waiting.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(&*store, new_job(&name)).await;
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(60),
        "woke after {waited:?}: the create did not wake the waiter"
    );
}

/// What the job was submitted with reaches the worker unchanged.
pub async fn input_reaches_the_worker_intact(store: Arc<dyn JobStore>) {
    let name = unique("input");
    let mut job = new_job(&name);
    job.input = input("{\"title\":\"Q3 \\u00e9\",\"n\":[1,2]}");
    create(&*store, job).await;
    let claimed = claim(&*store, &names(&[&name])).await.unwrap();
    let input = &claimed.input;
    assert_eq!(
        input.body.as_deref().unwrap(),
        "{\"title\":\"Q3 \\u00e9\",\"n\":[1,2]}"
    );
    assert_eq!(input.headers, [("x-trace".to_owned(), "t1".to_owned())]);
    assert_eq!(input.route_params, [("id".to_owned(), "7".to_owned())]);
    assert_eq!(input.query.as_deref(), Some("a=1&a=2"));
}

/// A job whose lease expires [`MAX_LOST_LEASES`] times fails for good, so
/// a job that kills every worker that runs it cannot go round forever.
pub async fn a_job_that_keeps_losing_its_worker_fails(store: Arc<dyn JobStore>) {
    let name = unique("poison");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    for lost in 1..=MAX_LOST_LEASES {
        let job = claim_for(&*store, &names, Duration::from_millis(30))
            .await
            .expect("the job is requeued after each lost lease");
        assert_eq!(job.attempt, lost);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            wait_until(Duration::from_secs(10), async || store
                .maintain()
                .await
                .unwrap()
                .recovered
                .contains(&id))
            .await
        );
    }
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert_eq!(
        stored.error.as_ref().map(|e| e.code.as_ref()),
        Some(ErrorInfo::INTERRUPTED)
    );
    assert_eq!(stored.attempts.len() as u32, MAX_LOST_LEASES);
    assert!(
        stored
            .attempts
            .iter()
            .all(|a| a.status == AttemptStatus::Interrupted)
    );
    assert!(stored.completed_at.is_some());
    assert!(
        claim(&*store, &names).await.is_none(),
        "a failed job is not claimed again"
    );
}

/// A request that names a client-chosen id and a new key records the key:
/// the key alone finds the job later.
pub async fn every_key_a_request_names_is_recorded(store: Arc<dyn JobStore>) {
    let name = unique("keys");
    let id = JobId::new();
    let fingerprint = Fingerprint::of(&name, &input("{}"));
    create(&*store, with_id(id, &name, None, fingerprint)).await;
    let key = format!("k2-{}", JobId::new());
    let again = with_id(id, &name, Some(&key), fingerprint);
    assert!(matches!(store.create(again).await.unwrap(), Created::Existing(job) if job.id == id));
    let by_key_alone = with_id(JobId::new(), &name, Some(&key), fingerprint);
    match store.create(by_key_alone).await.unwrap() {
        Created::Existing(job) => assert_eq!(job.id, id, "the key names the first job"),
        Created::New(job) => panic!("the key was not recorded: a second job {} was made", job.id),
    }
}

/// Every claim gets a token greater than any before, whatever the job.
pub async fn fencing_tokens_grow_across_jobs(store: Arc<dyn JobStore>) {
    let name = unique("tokens");
    create(&*store, new_job(&name)).await;
    create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let first = claim(&*store, &names).await.unwrap();
    let second = claim(&*store, &names).await.unwrap();
    assert!(
        second.lease.token > first.lease.token,
        "tokens {} then {}",
        first.lease.token,
        second.lease.token
    );
}

/// A create repeated with the same fresh id and no key (its reply was lost)
/// finds the job it made.
pub async fn a_create_repeated_after_a_lost_reply_finds_its_job(store: Arc<dyn JobStore>) {
    let name = unique("lost-create");
    let job = new_job(&name);
    let id = create(&*store, job.clone()).await;
    match store.create(job).await.unwrap() {
        Created::Existing(existing) => assert_eq!(existing.id, id),
        Created::New(_) => panic!("a repeated create made a second job"),
    }
    let names = names(&[&name]);
    assert!(claim(&*store, &names).await.is_some());
    assert!(claim(&*store, &names).await.is_none(), "one job only");
}

/// A claim repeated with its id (its reply was lost) gets the jobs the
/// first one took, under the same tokens, and takes no more.
pub async fn a_claim_repeated_after_a_lost_reply_gets_the_same_jobs(store: Arc<dyn JobStore>) {
    let name = unique("lost-claim");
    for _ in 0..3 {
        create(&*store, new_job(&name)).await;
    }
    let names = names(&[&name]);
    let mut request = request(&names, LEASE, 2);
    let first = store.claim(&request).await.unwrap().jobs;
    request.repeat = true;
    let again = store.claim(&request).await.unwrap().jobs;
    assert_eq!(first.len(), 2);
    let ids = |jobs: &[ClaimedJob]| -> Vec<(JobId, u64)> {
        jobs.iter().map(|j| (j.id, j.lease.token)).collect()
    };
    assert_eq!(ids(&first), ids(&again));
    assert!(again.iter().all(|job| job.lease.ttl <= LEASE));
    assert!(
        claim(&*store, &names).await.is_some(),
        "the third job is still there"
    );
}

/// A repeat with no room for new jobs (`limit: 0`, what a stopping worker
/// sends) only looks: it finds the lost claim's jobs, and takes nothing
/// when that claim took nothing.
pub async fn a_repeat_with_no_room_only_finds_the_lost_claims_jobs(store: Arc<dyn JobStore>) {
    let name = unique("look-only");
    let first = create(&*store, new_job(&name)).await;
    let second = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let mut lost = request(&names, LEASE, 1);
    let taken = store.claim(&lost).await.unwrap().jobs;
    assert_eq!(taken.iter().map(|j| j.id).collect::<Vec<_>>(), [first]);
    lost.repeat = true;
    lost.limit = 0;
    let found = store.claim(&lost).await.unwrap().jobs;
    assert_eq!(
        found
            .iter()
            .map(|j| (j.id, j.lease.token))
            .collect::<Vec<_>>(),
        [(first, taken[0].lease.token)]
    );
    let mut untaken = request(&names, LEASE, 0);
    untaken.repeat = true;
    assert!(
        store.claim(&untaken).await.unwrap().jobs.is_empty(),
        "a claim that took nothing takes nothing when repeated with no room"
    );
    let next = claim(&*store, &names).await.unwrap();
    assert_eq!(next.id, second, "the second job is still waiting");
}

/// A finish repeated after a lost reply is accepted, and records nothing
/// twice.
pub async fn a_finish_repeated_after_a_lost_reply_is_recorded_once(store: Arc<dyn JobStore>) {
    let name = unique("lost-finish");
    let id = create(&*store, new_job(&name)).await;
    let job = claim(&*store, &names(&[&name])).await.unwrap();
    finish(&*store, &job, AttemptStatus::Succeeded, Next::Complete).await;
    finish(&*store, &job, AttemptStatus::Succeeded, Next::Complete).await;
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Completed);
    assert_eq!(stored.attempts.len(), 1);
}

/// A claim hands back expired leases itself: no maintenance call needed.
pub async fn a_claim_recovers_expired_leases_itself(store: Arc<dyn JobStore>) {
    let name = unique("claim-recovers");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let lost = claim_for(&*store, &names, Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    let mut again = None;
    assert!(
        wait_until(Duration::from_secs(10), async || {
            again = claim(&*store, &names).await;
            again.is_some()
        })
        .await
    );
    let again = again.unwrap();
    assert_eq!((again.id, again.attempt), (id, 2));
    assert!(again.lease.token > lost.lease.token);
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.attempts[0].status, AttemptStatus::Interrupted);
}

/// A claim takes several jobs, oldest first, up to its limit.
pub async fn a_claim_takes_a_batch_up_to_its_limit(store: Arc<dyn JobStore>) {
    let name = unique("batch");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create(&*store, new_job(&name)).await);
    }
    let names = names(&[&name]);
    let batch = store.claim(&request(&names, LEASE, 3)).await.unwrap();
    let taken: Vec<JobId> = batch.jobs.iter().map(|job| job.id).collect();
    assert_eq!(taken, ids[..3]);
    assert!(batch.next_due.is_none());
    let rest = store.claim(&request(&names, LEASE, 10)).await.unwrap();
    assert_eq!(rest.jobs.len(), 2);
}

/// Two callers with one key get two jobs; each finds its own again; the
/// job and the claimed job carry their caller.
pub async fn keys_belong_to_their_caller(store: Arc<dyn JobStore>) {
    let name = unique("callers");
    let key = format!("shared-{}", JobId::new());
    let as_caller = |caller: Option<&str>| NewJob {
        caller: caller.map(Caller::new),
        ..keyed(&name, &key, "{}")
    };
    let a = create(&*store, as_caller(Some("tenant-a"))).await;
    let b = create(&*store, as_caller(Some("tenant-b"))).await;
    let none = create(&*store, as_caller(None)).await;
    assert!(
        a != b && b != none && a != none,
        "three callers, three jobs"
    );
    match store.create(as_caller(Some("tenant-a"))).await.unwrap() {
        Created::Existing(job) => assert_eq!(job.id, a),
        Created::New(job) => panic!("tenant-a's repeat made job {}", job.id),
    }
    let stored = store.get(b).await.unwrap().unwrap();
    assert_eq!(stored.caller, Some(Caller::new("tenant-b")));
    let names = names(&[&name]);
    let first = claim(&*store, &names).await.unwrap();
    assert_eq!((first.id, first.caller), (a, Some(Caller::new("tenant-a"))));
}

/// A client-chosen id that another caller's job has is refused, whatever
/// the request; the owner's repeat still finds its job.
pub async fn an_id_of_another_callers_job_is_taken(store: Arc<dyn JobStore>) {
    let name = unique("taken");
    let id = JobId::new();
    let fingerprint = Fingerprint::of(&name, &input("{}"));
    let as_caller = |caller: &str| NewJob {
        caller: Some(Caller::new(caller)),
        ..with_id(id, &name, None, fingerprint)
    };
    create(&*store, as_caller("owner")).await;
    assert!(matches!(
        store.create(as_caller("intruder")).await,
        Err(StoreError::IdTaken)
    ));
    let anonymous = with_id(id, &name, None, fingerprint);
    assert!(matches!(
        store.create(anonymous).await,
        Err(StoreError::IdTaken)
    ));
    assert!(matches!(
        store.create(as_caller("owner")).await.unwrap(),
        Created::Existing(job) if job.id == id
    ));
}

/// A claim repeated after its lease ran out does not hand the dead lease
/// out again: the job goes through recovery, to a new claim with a new
/// token.
pub async fn a_repeated_claim_never_returns_an_expired_lease(store: Arc<dyn JobStore>) {
    let name = unique("repeat-expired");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let mut request = request(&names, Duration::from_millis(50), 1);
    let first = store.claim(&request).await.unwrap().jobs;
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    request.repeat = true;
    request.lease = LEASE;
    let again = store.claim(&request).await.unwrap().jobs;
    for job in &again {
        assert!(
            job.lease.token > first[0].lease.token,
            "the expired lease (token {}) was handed out again",
            first[0].lease.token
        );
        assert_eq!(
            (job.id, job.attempt),
            (id, 2),
            "a new claim, after recovery"
        );
    }
}
