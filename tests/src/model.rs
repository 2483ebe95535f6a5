//! The model-based test of the store contract: random sequences of
//! operations (creates with keys and client ids, concurrent duplicates,
//! claims of batches, renewals, finishes, zombies, expired leases, cancels,
//! and repeats after lost replies) played against a store and against a plain
//! reference model written here, independently of the stores' code. After
//! every step the documents of the jobs it touched must agree; at the end,
//! every job's.
//!
//! Run by [`store_model!`](crate::store_model) on each store, with a bounded
//! number of cases, so CI stays fast.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use asyncep::Caller;
use asyncep::job::{
    Attempt, AttemptStatus, ErrorInfo, Fingerprint, Job, JobId, JobInput, JobStatus, Next, RawJson,
    Timestamp,
};
use asyncep::store::{
    ClaimId, ClaimRequest, ClaimedJob, Created, Idempotency, JobNames, JobStore, ListCursor,
    ListQuery, MAX_LOST_LEASES, NewJob, Outcome, StoreError,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Runs the model-based test on the store `$make` builds (an
/// `Option<Arc<dyn JobStore>>`, `None` to skip), in its own Tokio runtime.
#[macro_export]
macro_rules! store_model {
    ($make:expr) => {
        #[test]
        fn random_histories_agree_with_the_model() {
            let runtime = ::tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let store: ::std::option::Option<::std::sync::Arc<dyn ::asyncep::store::JobStore>> =
                runtime.block_on(async { $make });
            if let ::std::option::Option::Some(store) = store {
                $crate::model::check(&runtime, store);
            }
        }
    };
}

/// How many random histories each store plays (each up to [`MAX_OPS`]).
const CASES: u32 = 128;
const MAX_OPS: usize = 60;
const NAMES: usize = 3;
const LEASE: Duration = Duration::from_secs(120);

/// Where a finished attempt sends the job.
#[derive(Clone, Copy, Debug)]
enum Then {
    Complete,
    Fail,
    /// A retry due at once: runnable at the next claim for its name.
    RetryNow,
    /// A retry due in an hour: never runnable during the test.
    RetryLater,
    Requeue,
}

#[derive(Clone, Debug)]
enum Op {
    /// A create by one of three callers (none, tenant 1, tenant 2), with an
    /// optional key and client-chosen id (from small pools, so they collide)
    /// and one of two bodies.
    Create {
        caller: u8,
        name: usize,
        key: Option<u8>,
        client_id: Option<u8>,
        body: u8,
    },
    /// A create without idempotency, sent twice (its reply was lost).
    CreateTwice {
        caller: u8,
        name: usize,
    },
    /// `n` identical keyed creates at once.
    Burst {
        caller: u8,
        name: usize,
        key: u8,
        body: u8,
        n: usize,
    },
    /// A claim; with `twice`, repeated (flagged) as after a lost reply.
    Claim {
        names: u8,
        limit: usize,
        twice: bool,
    },
    Renew {
        lease: usize,
    },
    /// A finish; with `twice`, repeated as after a lost reply.
    Finish {
        lease: usize,
        then: Then,
        twice: bool,
    },
    /// A finish or renewal by a worker whose lease expired.
    Zombie {
        lease: usize,
    },
    /// A held lease runs out; maintenance recovers it.
    Expire {
        lease: usize,
    },
    /// A client cancels one of the jobs (whatever its state).
    Cancel {
        job: usize,
    },
    /// An operator runs one of the jobs again (whatever its state: only a
    /// failed one moves).
    Retry {
        job: usize,
    },
    /// An operator deletes one of the jobs (only a finished one goes).
    Delete {
        job: usize,
    },
    /// An operator lists one name's jobs, of one status or all, in pages.
    List {
        name: usize,
        status: Option<u8>,
        limit: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let then = prop_oneof![
        Just(Then::Complete),
        Just(Then::Fail),
        Just(Then::RetryNow),
        Just(Then::RetryLater),
        Just(Then::Requeue),
    ];
    prop_oneof![
        4 => (0..3_u8, 0..NAMES, proptest::option::of(0..4_u8), proptest::option::of(0..3_u8), 0..2_u8)
            .prop_map(|(caller, name, key, client_id, body)| Op::Create { caller, name, key, client_id, body }),
        1 => (0..3_u8, 0..NAMES).prop_map(|(caller, name)| Op::CreateTwice { caller, name }),
        1 => (0..3_u8, 0..NAMES, 0..4_u8, 0..2_u8, 2..6_usize)
            .prop_map(|(caller, name, key, body, n)| Op::Burst { caller, name, key, body, n }),
        4 => (1..8_u8, 1..4_usize, any::<bool>())
            .prop_map(|(names, limit, twice)| Op::Claim { names, limit, twice }),
        1 => any::<usize>().prop_map(|lease| Op::Renew { lease }),
        4 => (any::<usize>(), then, any::<bool>())
            .prop_map(|(lease, then, twice)| Op::Finish { lease, then, twice }),
        1 => any::<usize>().prop_map(|lease| Op::Zombie { lease }),
        1 => any::<usize>().prop_map(|lease| Op::Expire { lease }),
        2 => any::<usize>().prop_map(|job| Op::Cancel { job }),
        1 => any::<usize>().prop_map(|job| Op::Retry { job }),
        1 => any::<usize>().prop_map(|job| Op::Delete { job }),
        1 => (0..NAMES, proptest::option::of(0..6_u8), 1..4_usize)
            .prop_map(|(name, status, limit)| Op::List { name, status, limit }),
    ]
}

/// Plays [`CASES`] random histories against `store`; panics with the
/// smallest failing history.
pub fn check(runtime: &tokio::runtime::Runtime, store: Arc<dyn JobStore>) {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..MAX_OPS), |ops| {
        runtime.block_on(History::new(store.clone()).play(&ops))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// What the model knows of one job.
#[derive(Clone, Debug, PartialEq)]
struct Doc {
    name: String,
    max_retries: u32,
    status: JobStatus,
    retry_count: u32,
    attempts: Vec<(u32, AttemptStatus, Option<String>, Option<String>)>,
    result: Option<String>,
    error: Option<String>,
    started: bool,
    completed: bool,
    next_attempt: bool,
    cancel_requested: bool,
    caller: Option<Caller>,
}

impl Doc {
    fn of(job: &Job) -> Self {
        Self {
            name: job.name.to_string(),
            max_retries: job.max_retries,
            status: job.status,
            retry_count: job.retry_count,
            attempts: job
                .attempts
                .iter()
                .map(|a| {
                    (
                        a.attempt,
                        a.status,
                        a.result.as_ref().map(|r| r.get().to_owned()),
                        a.error.as_ref().map(|e| e.code.to_string()),
                    )
                })
                .collect(),
            result: job.result.as_ref().map(|r| r.get().to_owned()),
            error: job.error.as_ref().map(|e| e.code.to_string()),
            started: job.started_at.is_some(),
            completed: job.completed_at.is_some(),
            next_attempt: job.next_attempt_at.is_some(),
            cancel_requested: job.cancel_requested,
            caller: job.caller.clone(),
        }
    }
}

#[derive(Debug)]
struct ModelJob {
    name: usize,
    doc: Doc,
    fingerprint: Option<Fingerprint>,
    lost: u32,
}

/// A lease the test holds, and whether it is still the job's.
#[derive(Clone, Debug)]
struct Held {
    claimed: Arc<ClaimedJob>,
}

/// One history: the store, the model, and the names, keys and ids of this
/// case (fresh, so cases never see each other's jobs on a shared store).
struct History {
    store: Arc<dyn JobStore>,
    names: Vec<String>,
    keys: Vec<String>,
    client_ids: Vec<JobId>,
    jobs: BTreeMap<JobId, ModelJob>,
    /// Keys by (caller, key): a key is its caller's own.
    by_key: HashMap<(Option<Caller>, String), JobId>,
    /// Runnable jobs, by the order they became runnable.
    ready: Vec<JobId>,
    /// Jobs retried "now": runnable at the next claim for their name.
    due: Vec<JobId>,
    held: Vec<Held>,
    lost: Vec<Held>,
    last_token: u64,
}

type Step = Result<(), TestCaseError>;

macro_rules! agree {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($why)+)));
        }
    };
}

impl History {
    fn new(store: Arc<dyn JobStore>) -> Self {
        let case = JobId::new();
        Self {
            store,
            names: (0..NAMES).map(|n| format!("model-{case}-{n}")).collect(),
            keys: (0..4).map(|n| format!("key-{case}-{n}")).collect(),
            client_ids: (0..3).map(|_| JobId::new()).collect(),
            jobs: BTreeMap::new(),
            by_key: HashMap::new(),
            ready: Vec::new(),
            due: Vec::new(),
            held: Vec::new(),
            lost: Vec::new(),
            last_token: 0,
        }
    }

    async fn play(mut self, ops: &[Op]) -> Step {
        for op in ops {
            let touched = self.step(op).await?;
            for id in touched {
                self.compare(id).await?;
            }
        }
        let ids: Vec<JobId> = self.jobs.keys().copied().collect();
        for id in ids {
            self.compare(id).await?;
        }
        Ok(())
    }

    async fn compare(&self, id: JobId) -> Step {
        let stored = self.store.get(id).await.map_err(fail)?;
        let Some(model) = self.jobs.get(&id).map(|job| &job.doc) else {
            agree!(
                stored.is_none(),
                "job {id} was deleted; the store still has {stored:?}"
            );
            return Ok(());
        };
        agree!(
            stored.as_ref().map(Doc::of).as_ref() == Some(model),
            "job {id}: the store has {:?}, the model {model:?}",
            stored.as_ref().map(Doc::of)
        );
        Ok(())
    }

    /// No caller, tenant A or tenant B.
    fn caller(&self, which: u8) -> Option<Caller> {
        (which > 0).then(|| Caller::new(format!("{}-tenant-{which}", self.names[0])))
    }

    fn input(&self, body: u8) -> JobInput {
        JobInput {
            body: Some(format!("{{\"b\":{body}}}").into()),
            ..JobInput::default()
        }
    }

    async fn step(&mut self, op: &Op) -> Result<Vec<JobId>, TestCaseError> {
        match *op {
            Op::Create {
                caller,
                name,
                key,
                client_id,
                body,
            } => {
                let caller = self.caller(caller);
                let input = self.input(body);
                let key = key.map(|k| self.keys[usize::from(k)].clone());
                let client_id = client_id.map(|c| self.client_ids[usize::from(c)]);
                let idempotency = (key.is_some() || client_id.is_some()).then(|| Idempotency {
                    key: key.clone(),
                    fingerprint: Fingerprint::of(&self.names[name], &input),
                });
                let job = NewJob {
                    id: client_id.unwrap_or_default(),
                    name: self.names[name].clone().into(),
                    max_retries: 2,
                    input,
                    idempotency,
                    caller,
                };
                let expected = self.expect_create(&job);
                let created = self.store.create(job.clone()).await;
                self.check_create(expected, created, &job, name)
            }
            Op::CreateTwice { caller, name } => {
                let job = NewJob {
                    id: JobId::new(),
                    name: self.names[name].clone().into(),
                    max_retries: 2,
                    input: self.input(0),
                    idempotency: None,
                    caller: self.caller(caller),
                };
                let first = self.store.create(job.clone()).await;
                let touched = self.check_create(Expected::New, first, &job, name)?;
                let again = self.store.create(job.clone()).await;
                self.check_create(Expected::Existing(job.id), again, &job, name)?;
                Ok(touched)
            }
            Op::Burst {
                caller,
                name,
                key,
                body,
                n,
            } => {
                let input = self.input(body);
                let job = NewJob {
                    id: JobId::new(),
                    name: self.names[name].clone().into(),
                    max_retries: 2,
                    idempotency: Some(Idempotency {
                        key: Some(self.keys[usize::from(key)].clone()),
                        fingerprint: Fingerprint::of(&self.names[name], &input),
                    }),
                    input,
                    caller: self.caller(caller),
                };
                let expected = self.expect_create(&job);
                let tasks: Vec<_> = (0..n)
                    .map(|i| {
                        let (store, mut job) = (self.store.clone(), job.clone());
                        // Each request draws its own fresh id; the key joins them.
                        if i > 0 {
                            job.id = JobId::new();
                        }
                        tokio::spawn(async move { store.create(job).await })
                    })
                    .collect();
                let mut results = Vec::new();
                for task in tasks {
                    results.push(task.await.map_err(|e| fail(e.to_string()))?);
                }
                let new: Vec<JobId> = results
                    .iter()
                    .filter_map(|r| match r {
                        Ok(Created::New(job)) => Some(job.id),
                        _ => None,
                    })
                    .collect();
                match expected {
                    Expected::New => {
                        agree!(new.len() == 1, "{n} duplicates made {} jobs", new.len());
                        let id = new[0];
                        for result in &results {
                            agree!(
                                matches!(result, Ok(c) if c.job().id == id),
                                "a duplicate answered {result:?}"
                            );
                        }
                        let made = NewJob { id, ..job };
                        self.insert(&made, name);
                        Ok(vec![id])
                    }
                    Expected::Existing(id) => {
                        for result in &results {
                            agree!(
                                matches!(result, Ok(Created::Existing(j)) if j.id == id),
                                "a repeat answered {result:?}"
                            );
                        }
                        Ok(vec![id])
                    }
                    Expected::Conflict(id) => {
                        for result in &results {
                            agree!(
                                matches!(result, Err(StoreError::IdempotencyConflict { existing }) if *existing == id),
                                "a conflicting repeat answered {result:?}"
                            );
                        }
                        Ok(vec![])
                    }
                    Expected::Taken => Err(fail("a burst of fresh ids found a taken id")),
                }
            }
            Op::Claim {
                names,
                limit,
                twice,
            } => self.claim(names, limit, twice).await,
            Op::Renew { lease } => {
                let Some(held) = pick(&self.held, lease) else {
                    return Ok(vec![]);
                };
                self.store
                    .renew(&held.claimed.lease, LEASE)
                    .await
                    .map_err(fail)?;
                Ok(vec![held.claimed.id])
            }
            Op::Finish { lease, then, twice } => {
                let Some(held) = pick(&self.held, lease) else {
                    return Ok(vec![]);
                };
                self.finish(held, then, twice).await
            }
            Op::Zombie { lease } => {
                let Some(zombie) = pick(&self.lost, lease) else {
                    return Ok(vec![]);
                };
                let lease = &zombie.claimed.lease;
                let renewed = self.store.renew(lease, LEASE).await;
                agree!(
                    matches!(renewed, Err(StoreError::LeaseLost { .. })),
                    "a zombie renewed: {renewed:?}"
                );
                let finished = self
                    .store
                    .finish(lease, outcome(&zombie.claimed, Then::Complete))
                    .await;
                agree!(
                    matches!(finished, Err(StoreError::LeaseLost { .. })),
                    "a zombie finished: {finished:?}"
                );
                Ok(vec![zombie.claimed.id])
            }
            Op::Expire { lease } => {
                let Some(held) = pick(&self.held, lease) else {
                    return Ok(vec![]);
                };
                self.expire(held).await
            }
            Op::Cancel { job } => self.cancel(job).await,
            Op::Retry { job } => self.retry(job).await,
            Op::Delete { job } => self.delete(job).await,
            Op::List {
                name,
                status,
                limit,
            } => self.list(name, status, limit).await,
        }
    }

    async fn cancel(&mut self, index: usize) -> Result<Vec<JobId>, TestCaseError> {
        if self.jobs.is_empty() {
            return Ok(vec![]);
        }
        let id = *self
            .jobs
            .keys()
            .nth(index % self.jobs.len())
            .expect("a job");
        let answer = self.store.cancel(id).await.map_err(fail)?;
        let model = &mut self.jobs.get_mut(&id).expect("a model job").doc;
        let ended = match model.status {
            JobStatus::Queued | JobStatus::Scheduled => {
                end_canceled(model);
                model.next_attempt = false;
                self.ready.retain(|ready| *ready != id);
                self.due.retain(|due| *due != id);
                true
            }
            JobStatus::InProgress => {
                model.cancel_requested = true;
                false
            }
            JobStatus::Completed | JobStatus::Failed | JobStatus::Canceled => false,
        };
        let model = &self.jobs[&id].doc;
        let answer = answer.map(|canceled| (Doc::of(&canceled.job), canceled.ended));
        agree!(
            answer.as_ref() == Some(&(model.clone(), ended)),
            "cancel of {id} answered {answer:?}, the model {model:?} (ended: {ended})"
        );
        Ok(vec![id])
    }

    async fn retry(&mut self, index: usize) -> Result<Vec<JobId>, TestCaseError> {
        if self.jobs.is_empty() {
            return Ok(vec![]);
        }
        let id = *self
            .jobs
            .keys()
            .nth(index % self.jobs.len())
            .expect("a job");
        let answer = self.store.retry(id).await.map_err(fail)?;
        let job = self.jobs.get_mut(&id).expect("a model job");
        let queued = job.doc.status == JobStatus::Failed;
        if queued {
            let doc = &mut job.doc;
            doc.status = JobStatus::Queued;
            doc.retry_count = 0;
            doc.error = None;
            doc.completed = false;
            doc.next_attempt = false;
            doc.cancel_requested = false;
            job.lost = 0;
            self.ready.push(id);
        }
        let model = &self.jobs[&id].doc;
        let answer = answer.map(|retried| (Doc::of(&retried.job), retried.queued));
        agree!(
            answer.as_ref() == Some(&(model.clone(), queued)),
            "retry of {id} answered {answer:?}, the model {model:?} (queued: {queued})"
        );
        Ok(vec![id])
    }

    async fn delete(&mut self, index: usize) -> Result<Vec<JobId>, TestCaseError> {
        if self.jobs.is_empty() {
            return Ok(vec![]);
        }
        let id = *self
            .jobs
            .keys()
            .nth(index % self.jobs.len())
            .expect("a job");
        let deleted = self.store.delete_finished(&[id]).await.map_err(fail)?;
        let finished = self.jobs[&id].doc.status.is_terminal();
        let expected = if finished { vec![id] } else { vec![] };
        agree!(
            deleted == expected,
            "delete of {id} ({:?}) deleted {deleted:?}",
            self.jobs[&id].doc.status
        );
        if finished {
            self.jobs.remove(&id);
            self.by_key.retain(|_, job| *job != id);
        }
        Ok(vec![id])
    }

    /// Every page of a name's jobs: newest first, each once, each as the
    /// model has it, and all of the model's.
    async fn list(
        &self,
        name: usize,
        status: Option<u8>,
        limit: usize,
    ) -> Result<Vec<JobId>, TestCaseError> {
        let name = self.names[name % self.names.len()].clone();
        let status = status.map(|s| JobStatus::ALL[usize::from(s) % JobStatus::ALL.len()]);
        let mut seen = Vec::new();
        let mut after = None;
        let mut last: Option<ListCursor> = None;
        for _ in 0..1_000 {
            let page = self
                .store
                .list(&ListQuery {
                    name: name.clone(),
                    status,
                    after,
                    limit,
                })
                .await
                .map_err(fail)?;
            agree!(
                page.jobs.len() <= limit,
                "a page of {} over {limit}",
                page.jobs.len()
            );
            for job in &page.jobs {
                let place = ListCursor::of(job);
                agree!(
                    last.is_none_or(|last| place < last),
                    "the listing of {name} is not newest first at {}",
                    job.id
                );
                last = Some(place);
                let model = self.jobs.get(&job.id).map(|job| &job.doc);
                agree!(
                    model == Some(&Doc::of(job)),
                    "the listing shows {:?}, the model {model:?}",
                    Doc::of(job)
                );
                seen.push(job.id);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut expected: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.doc.name == name && status.is_none_or(|s| job.doc.status == s))
            .map(|(id, _)| *id)
            .collect();
        let mut listed = seen.clone();
        listed.sort();
        expected.sort();
        agree!(
            listed == expected,
            "the listing of {name} ({status:?}) has {seen:?}, the model {expected:?}"
        );
        Ok(vec![])
    }

    fn expect_create(&self, job: &NewJob) -> Expected {
        let fingerprint = job.idempotency.as_ref().map(|i| i.fingerprint);
        let by_key = job
            .idempotency
            .as_ref()
            .and_then(|i| i.key.as_ref())
            .and_then(|k| self.by_key.get(&(job.caller.clone(), k.clone())))
            .copied();
        let by_id = self.jobs.get(&job.id);
        if by_id.is_some_and(|existing| existing.doc.caller != job.caller) {
            return Expected::Taken;
        }
        match (by_key, by_id) {
            (Some(keyed), Some(_)) if keyed != job.id => Expected::Conflict(keyed),
            (Some(keyed), _) => {
                let stored = self.jobs[&keyed].fingerprint;
                if stored.is_some() && stored == fingerprint {
                    Expected::Existing(keyed)
                } else {
                    Expected::Conflict(keyed)
                }
            }
            (None, Some(existing)) if existing.fingerprint == fingerprint => {
                Expected::Existing(job.id)
            }
            (None, Some(_)) => Expected::Conflict(job.id),
            (None, None) => Expected::New,
        }
    }

    fn check_create(
        &mut self,
        expected: Expected,
        created: Result<Created, StoreError>,
        job: &NewJob,
        name: usize,
    ) -> Result<Vec<JobId>, TestCaseError> {
        match (expected, created) {
            (Expected::New, Ok(Created::New(made))) if made.id == job.id => {
                self.insert(job, name);
                Ok(vec![job.id])
            }
            (Expected::Existing(id), Ok(Created::Existing(found))) if found.id == id => {
                if let Some(key) = job.idempotency.as_ref().and_then(|i| i.key.clone()) {
                    self.by_key.entry((job.caller.clone(), key)).or_insert(id);
                }
                Ok(vec![id])
            }
            (Expected::Taken, Err(StoreError::IdTaken)) => Ok(vec![]),
            (Expected::Conflict(id), Err(StoreError::IdempotencyConflict { existing }))
                if existing == id =>
            {
                Ok(vec![])
            }
            (expected, created) => Err(fail(format!(
                "create expected {expected:?}, the store answered {created:?}"
            ))),
        }
    }

    fn insert(&mut self, job: &NewJob, name: usize) {
        if let Some(key) = job.idempotency.as_ref().and_then(|i| i.key.clone()) {
            self.by_key.insert((job.caller.clone(), key), job.id);
        }
        self.jobs.insert(
            job.id,
            ModelJob {
                name,
                doc: Doc {
                    name: self.names[name].clone(),
                    max_retries: 2,
                    status: JobStatus::Queued,
                    retry_count: 0,
                    attempts: Vec::new(),
                    result: None,
                    error: None,
                    started: false,
                    completed: false,
                    next_attempt: false,
                    cancel_requested: false,
                    caller: job.caller.clone(),
                },
                fingerprint: job.idempotency.as_ref().map(|i| i.fingerprint),
                lost: 0,
            },
        );
        self.ready.push(job.id);
    }

    async fn claim(
        &mut self,
        mask: u8,
        limit: usize,
        twice: bool,
    ) -> Result<Vec<JobId>, TestCaseError> {
        let wanted: Vec<usize> = (0..NAMES).filter(|n| mask & (1 << n) != 0).collect();
        // Due retries of the names asked join the end of the queue.
        let (promoted, kept): (Vec<JobId>, Vec<JobId>) = self
            .due
            .iter()
            .partition(|id| wanted.contains(&self.jobs[*id].name));
        self.due = kept;
        self.ready.extend(promoted);
        let expected: Vec<JobId> = self
            .ready
            .iter()
            .copied()
            .filter(|id| wanted.contains(&self.jobs[id].name))
            .take(limit)
            .collect();
        let mut request = ClaimRequest {
            names: JobNames::new(wanted.iter().map(|n| self.names[*n].clone().into())),
            lease: LEASE,
            limit,
            id: ClaimId::new(),
            repeat: false,
        };
        let claimed = self.store.claim(&request).await.map_err(fail)?.jobs;
        let got: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
        agree!(
            got == expected,
            "claim took {got:?}, the model {expected:?}"
        );
        if twice {
            request.repeat = true;
            let again = self.store.claim(&request).await.map_err(fail)?.jobs;
            let tokens = |jobs: &[ClaimedJob]| -> Vec<(JobId, u64)> {
                jobs.iter().map(|j| (j.id, j.lease.token)).collect()
            };
            agree!(
                tokens(&again) == tokens(&claimed),
                "a repeated claim got {:?}, the first {:?}",
                tokens(&again),
                tokens(&claimed)
            );
        }
        self.ready.retain(|id| !expected.contains(id));
        for job in claimed {
            agree!(
                job.lease.token > self.last_token,
                "token {} after {}",
                job.lease.token,
                self.last_token
            );
            self.last_token = job.lease.token;
            let model = self.jobs.get_mut(&job.id).expect("a model job");
            agree!(
                job.attempt == model.doc.attempts.len() as u32 + 1,
                "attempt {} of a job with {} attempts",
                job.attempt,
                model.doc.attempts.len()
            );
            model.doc.status = JobStatus::InProgress;
            model.doc.started = true;
            model.doc.next_attempt = false;
            self.held.push(Held {
                claimed: Arc::new(job),
            });
        }
        Ok(got)
    }

    async fn finish(
        &mut self,
        held: Held,
        then: Then,
        twice: bool,
    ) -> Result<Vec<JobId>, TestCaseError> {
        let job = held.claimed.clone();
        self.store
            .finish(&job.lease, outcome(&job, then))
            .await
            .map_err(fail)?;
        if twice {
            self.store
                .finish(&job.lease, outcome(&job, then))
                .await
                .map_err(fail)?;
        }
        self.held.retain(|h| !Arc::ptr_eq(&h.claimed, &job));
        let model = self.jobs.get_mut(&job.id).expect("a model job");
        let number = model.doc.attempts.len() as u32 + 1;
        let attempt = outcome(&job, then).attempt;
        model.doc.attempts.push((
            number,
            attempt.status,
            attempt.result.as_ref().map(|r| r.get().to_owned()),
            attempt.error.as_ref().map(|e| e.code.to_string()),
        ));
        match then {
            Then::Complete => {
                model.doc.status = JobStatus::Completed;
                model.doc.result = attempt.result.map(|r| r.get().to_owned());
                model.doc.completed = true;
            }
            Then::Fail => {
                model.doc.status = JobStatus::Failed;
                model.doc.error = attempt.error.map(|e| e.code.to_string());
                model.doc.completed = true;
            }
            // A job whose cancel was asked never runs again.
            Then::RetryNow | Then::RetryLater | Then::Requeue if model.doc.cancel_requested => {
                end_canceled(&mut model.doc);
            }
            Then::RetryNow | Then::RetryLater => {
                model.doc.status = JobStatus::Scheduled;
                model.doc.retry_count += 1;
                model.doc.next_attempt = true;
                if matches!(then, Then::RetryNow) {
                    self.due.push(job.id);
                }
            }
            Then::Requeue => {
                model.doc.status = JobStatus::Queued;
                self.ready.push(job.id);
            }
        }
        Ok(vec![job.id])
    }

    async fn expire(&mut self, held: Held) -> Result<Vec<JobId>, TestCaseError> {
        let job = held.claimed.clone();
        self.store
            .renew(&job.lease, Duration::from_millis(1))
            .await
            .map_err(fail)?;
        tokio::time::sleep(Duration::from_millis(15)).await;
        let recovered = self.store.maintain().await.map_err(fail)?.recovered;
        agree!(
            recovered == [job.id],
            "maintenance recovered {recovered:?}, not just {}",
            job.id
        );
        self.held.retain(|h| !Arc::ptr_eq(&h.claimed, &job));
        self.lost.push(held);
        let model = self.jobs.get_mut(&job.id).expect("a model job");
        let number = model.doc.attempts.len() as u32 + 1;
        model.doc.attempts.push((
            number,
            AttemptStatus::Interrupted,
            None,
            Some(ErrorInfo::INTERRUPTED.to_owned()),
        ));
        model.lost += 1;
        if model.doc.cancel_requested {
            end_canceled(&mut model.doc);
        } else if model.lost >= MAX_LOST_LEASES {
            model.doc.status = JobStatus::Failed;
            model.doc.error = Some(ErrorInfo::INTERRUPTED.to_owned());
            model.doc.completed = true;
        } else {
            model.doc.status = JobStatus::Queued;
            self.ready.push(job.id);
        }
        Ok(vec![job.id])
    }
}

#[derive(Clone, Copy, Debug)]
enum Expected {
    New,
    Existing(JobId),
    Conflict(JobId),
    Taken,
}

fn pick(from: &[Held], index: usize) -> Option<Held> {
    (!from.is_empty()).then(|| from[index % from.len()].clone())
}

fn outcome(job: &ClaimedJob, then: Then) -> Outcome {
    let now = Timestamp::now();
    let (status, next) = match then {
        Then::Complete => (AttemptStatus::Succeeded, Next::Complete),
        Then::Fail => (AttemptStatus::Failed, Next::Fail),
        Then::RetryNow => (
            AttemptStatus::Failed,
            Next::Retry {
                after: Duration::ZERO,
            },
        ),
        Then::RetryLater => (
            AttemptStatus::TimedOut,
            Next::Retry {
                after: Duration::from_secs(3600),
            },
        ),
        Then::Requeue => (AttemptStatus::Interrupted, Next::Requeue),
    };
    Outcome {
        attempt: Attempt {
            attempt: job.attempt,
            status,
            started_at: now,
            finished_at: now,
            result: (status == AttemptStatus::Succeeded)
                .then(|| RawJson::from_text(format!("{{\"job\":\"{}\"}}", job.id)).unwrap()),
            error: (status != AttemptStatus::Succeeded).then(|| ErrorInfo::new("boom", "it broke")),
        },
        next,
    }
}

/// A job ends `Canceled`, with the canceled error.
fn end_canceled(doc: &mut Doc) {
    doc.status = JobStatus::Canceled;
    doc.error = Some(ErrorInfo::CANCELED.to_owned());
    doc.completed = true;
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}
