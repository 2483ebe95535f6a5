//! The in-memory store: the default, for one process and no set-up.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{
    Claim, ClaimedJob, Created, JobNames, JobStore, Lease, MAX_LOST_LEASES, NewJob, Next, Outcome,
    StoreError,
};
use crate::job::{
    Attempt, AttemptStatus, ErrorInfo, Fingerprint, Job, JobId, JobInput, JobStatus, RawJson,
    Timestamp,
};

/// How long finished jobs are kept before they read as `404`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// How long a `Completed` job is kept (default 24 hours).
    pub completed: Duration,
    /// How long a `Failed` or `Canceled` job is kept (default 7 days).
    pub failed: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            completed: Duration::from_secs(24 * 60 * 60),
            failed: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// A [`JobStore`] in this process's memory.
///
/// It is the default store: nothing to set up, and a job is picked up within
/// microseconds of its submission. Its jobs live as long as the process, so
/// it suits one process that runs both the API and the workers; use a shared
/// store (Redis) for several.
///
/// It holds at most `capacity` jobs. When full, it drops finished jobs
/// (oldest first) to make room; when every job held is still queued or
/// running, `create` answers [`StoreError::Full`] (HTTP `503`).
///
/// ```
/// use asyncep::store::MemoryStore;
///
/// let store = MemoryStore::with_capacity(10_000);
/// assert_eq!(store.capacity(), 10_000);
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    work: Notify,
    capacity: usize,
    retention: Retention,
}

/// The default capacity: one million jobs.
pub(crate) const DEFAULT_CAPACITY: usize = 1_000_000;

/// foldhash (randomly seeded per process): much cheaper than SipHash on the
/// submit path, and client-chosen ids cannot aim at its collisions.
type Hasher = foldhash::fast::RandomState;

#[derive(Debug, Default)]
struct State {
    jobs: HashMap<JobId, Record, Hasher>,
    keys: HashMap<String, JobId, Hasher>,
    /// Runnable jobs per name, each with the sequence number that orders
    /// jobs across names.
    ready: HashMap<Cow<'static, str>, VecDeque<(u64, JobId)>, Hasher>,
    /// Jobs waiting for a retry, earliest first.
    scheduled: BinaryHeap<Reverse<(Timestamp, u64, JobId)>>,
    running: HashSet<JobId, Hasher>,
    /// Finished jobs in the order they finished, for retention and eviction.
    completed: VecDeque<(Timestamp, JobId)>,
    failed: VecDeque<(Timestamp, JobId)>,
    sequence: u64,
    tokens: u64,
}

/// A job as this store keeps it: about 120 bytes until it first runs. What
/// only some jobs have (a run history, an idempotency key) is boxed, and the
/// wire [`Job`] is built only when asked for.
#[derive(Debug)]
struct Record {
    name: Cow<'static, str>,
    status: JobStatus,
    retry_count: u32,
    max_retries: u32,
    created_at: Timestamp,
    last_updated_at: Timestamp,
    started_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
    next_attempt_at: Option<Timestamp>,
    /// The fencing token and expiry of the current lease.
    lease: Option<(u64, Timestamp)>,
    /// When the current lease began (the start of an interrupted attempt).
    claimed_at: Option<Timestamp>,
    /// How many leases of this job expired.
    lost_leases: u32,
    input: Arc<JobInput>,
    history: Option<Box<History>>,
    idempotency: Option<Box<Idempotency>>,
}

#[derive(Debug, Default)]
struct History {
    result: Option<RawJson>,
    error: Option<ErrorInfo>,
    attempts: Vec<Attempt>,
}

#[derive(Debug)]
struct Idempotency {
    key: Option<String>,
    fingerprint: Fingerprint,
}

impl Record {
    fn job(&self, id: JobId) -> Job {
        let history = self.history.as_deref();
        Job {
            id,
            name: self.name.clone(),
            status: self.status,
            retry_count: self.retry_count,
            max_retries: self.max_retries,
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            last_updated_at: self.last_updated_at,
            next_attempt_at: self.next_attempt_at,
            result: history.and_then(|h| h.result.clone()),
            error: history.and_then(|h| h.error.clone()),
            attempts: history.map(|h| h.attempts.clone()).unwrap_or_default(),
        }
    }

    fn attempts(&self) -> u32 {
        self.history.as_ref().map_or(0, |h| h.attempts.len() as u32)
    }

    fn fingerprint(&self) -> Option<Fingerprint> {
        self.idempotency.as_ref().map(|i| i.fingerprint)
    }

    fn key(&self) -> Option<&str> {
        self.idempotency.as_ref()?.key.as_deref()
    }

    fn record(&mut self, attempt: Attempt) {
        self.history.get_or_insert_default().attempts.push(attempt);
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryStore {
    /// A store of the default capacity (one million jobs).
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that holds at most `capacity` jobs.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::default(),
            work: Notify::new(),
            capacity: capacity.max(1),
            retention: Retention::default(),
        }
    }

    /// Sets how long finished jobs are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The most jobs it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many jobs it holds now.
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Whether it holds no job.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held (no user code runs
        // under it), so a poisoned lock still guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    fn enqueue(&mut self, name: Cow<'static, str>, id: JobId) {
        let sequence = self.next_sequence();
        self.ready
            .entry(name)
            .or_default()
            .push_back((sequence, id));
    }

    /// Matches a repeated request to the job it repeats.
    fn existing(&self, job: &NewJob) -> Option<Result<Created, StoreError>> {
        let id = match job
            .idempotency_key
            .as_ref()
            .and_then(|key| self.keys.get(key))
        {
            Some(id) => *id,
            None if self.jobs.contains_key(&job.id) => job.id,
            None => return None,
        };
        let record = &self.jobs[&id];
        Some(
            if record.fingerprint().is_some() && record.fingerprint() == job.fingerprint {
                Ok(Created::Existing(record.job(id)))
            } else {
                Err(StoreError::IdempotencyConflict { existing: id })
            },
        )
    }

    fn remove(&mut self, id: JobId) {
        if let Some(record) = self.jobs.remove(&id) {
            if let Some(key) = record.key() {
                self.keys.remove(key);
            }
        }
    }

    /// Drops finished jobs whose retention has passed.
    fn expire(&mut self, now: Timestamp) {
        loop {
            let due = |queue: &VecDeque<(Timestamp, JobId)>| {
                queue
                    .front()
                    .filter(|(at, _)| *at <= now)
                    .map(|(_, id)| *id)
            };
            let Some(id) = due(&self.completed).or_else(|| due(&self.failed)) else {
                return;
            };
            if self
                .completed
                .front()
                .is_some_and(|(_, first)| *first == id)
            {
                self.completed.pop_front();
            } else {
                self.failed.pop_front();
            }
            self.remove(id);
        }
    }

    /// Drops the oldest finished job to make room; false if there is none.
    fn evict_one(&mut self) -> bool {
        match self
            .completed
            .pop_front()
            .or_else(|| self.failed.pop_front())
        {
            Some((_, id)) => {
                self.remove(id);
                true
            }
            None => false,
        }
    }

    /// Moves every due retry to its ready queue; returns the next due time.
    fn promote_due(&mut self, now: Timestamp) -> Option<Timestamp> {
        while let Some(&Reverse((due, _, id))) = self.scheduled.peek() {
            if due > now {
                return Some(due);
            }
            self.scheduled.pop();
            if let Some(record) = self.jobs.get(&id) {
                let name = record.name.clone();
                self.enqueue(name, id);
            }
        }
        None
    }

    /// The id of the oldest ready job among `names`.
    fn pop_oldest(&mut self, names: &JobNames) -> Option<JobId> {
        let name = names
            .iter()
            .filter_map(|name| Some((self.ready.get(name)?.front()?.0, name)))
            .min()
            .map(|(_, name)| name)?;
        self.ready.get_mut(name)?.pop_front().map(|(_, id)| id)
    }

    /// The job's record, if `lease` is still its lease.
    fn leased(&mut self, lease: &Lease) -> Result<&mut Record, StoreError> {
        match self.jobs.get_mut(&lease.job_id) {
            Some(record) if record.lease.is_some_and(|(token, _)| token == lease.token) => {
                Ok(record)
            }
            _ => Err(StoreError::LeaseLost { id: lease.job_id }),
        }
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn create(&self, new: NewJob) -> Result<Created, StoreError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        if let Some(existing) = state.existing(&new) {
            return existing;
        }
        state.expire(now);
        if state.jobs.len() >= self.capacity && !state.evict_one() {
            return Err(StoreError::Full {
                retry_after: Duration::from_secs(1),
            });
        }
        if let Some(key) = &new.idempotency_key {
            state.keys.insert(key.clone(), new.id);
        }
        state.enqueue(new.name.clone(), new.id);
        let idempotency = new.fingerprint.map(|fingerprint| {
            Box::new(Idempotency {
                key: new.idempotency_key,
                fingerprint,
            })
        });
        let record = Record {
            name: new.name,
            status: JobStatus::Queued,
            retry_count: 0,
            max_retries: new.max_retries,
            created_at: now,
            last_updated_at: now,
            started_at: None,
            completed_at: None,
            next_attempt_at: None,
            lease: None,
            claimed_at: None,
            lost_leases: 0,
            input: Arc::new(new.input),
            history: None,
            idempotency,
        };
        let job = record.job(new.id);
        state.jobs.insert(new.id, record);
        drop(state);
        self.work.notify_one();
        Ok(Created::New(job))
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut state = self.lock();
        state.expire(Timestamp::now());
        Ok(state.jobs.get(&id).map(|record| record.job(id)))
    }

    async fn claim(&self, names: &JobNames, lease: Duration) -> Result<Claim, StoreError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let next_due = state.promote_due(now);
        let Some(id) = state.pop_oldest(names) else {
            return Ok(Claim::Idle { next_due });
        };
        state.tokens += 1;
        let token = state.tokens;
        state.running.insert(id);
        let record = state
            .jobs
            .get_mut(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("queued job {id} has no record")))?;
        debug_assert!(record.status.can_become(JobStatus::InProgress));
        let expires_at = now + lease;
        record.status = JobStatus::InProgress;
        record.started_at.get_or_insert(now);
        record.next_attempt_at = None;
        record.last_updated_at = now;
        record.claimed_at = Some(now);
        record.lease = Some((token, expires_at));
        Ok(Claim::Job(Box::new(ClaimedJob {
            id,
            name: record.name.clone(),
            attempt: record.attempts() + 1,
            retry_count: record.retry_count,
            max_retries: record.max_retries,
            input: record.input.clone(),
            lease: Lease {
                job_id: id,
                token,
                expires_at,
            },
        })))
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Lease, StoreError> {
        let mut state = self.lock();
        let record = state.leased(lease)?;
        let expires_at = Timestamp::now() + period;
        record.lease = Some((lease.token, expires_at));
        Ok(Lease {
            expires_at,
            ..lease.clone()
        })
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let retention = self.retention;
        let mut state = self.lock();
        let record = state.leased(lease)?;
        let Outcome { attempt, next } = outcome;
        record.lease = None;
        record.claimed_at = None;
        record.last_updated_at = now;
        match next {
            Next::Complete => {
                record.status = JobStatus::Completed;
                record.history.get_or_insert_default().result = attempt.result.clone();
                record.completed_at = Some(now);
            }
            Next::Fail => {
                record.status = JobStatus::Failed;
                record.history.get_or_insert_default().error = attempt.error.clone();
                record.completed_at = Some(now);
            }
            Next::Retry { after } => {
                record.status = JobStatus::Scheduled;
                record.retry_count += 1;
                record.next_attempt_at = Some(now + after);
            }
            Next::Requeue => record.status = JobStatus::Queued,
        }
        record.record(attempt);
        let name = record.name.clone();
        let id = lease.job_id;
        state.running.remove(&id);
        match next {
            Next::Complete => state.completed.push_back((now + retention.completed, id)),
            Next::Fail => state.failed.push_back((now + retention.failed, id)),
            Next::Retry { after } => {
                let sequence = state.next_sequence();
                state.scheduled.push(Reverse((now + after, sequence, id)));
            }
            Next::Requeue => state.enqueue(name, id),
        }
        drop(state);
        if matches!(next, Next::Retry { .. } | Next::Requeue) {
            self.work.notify_one();
        }
        Ok(())
    }

    async fn recover_expired(&self) -> Result<Vec<JobId>, StoreError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let expired: Vec<JobId> = state
            .running
            .iter()
            .copied()
            .filter(|id| {
                state.jobs[id]
                    .lease
                    .is_some_and(|(_, expires_at)| expires_at <= now)
            })
            .collect();
        let retention = self.retention;
        let mut requeued = 0;
        for &id in &expired {
            state.running.remove(&id);
            let record = state.jobs.get_mut(&id).expect("a running job has a record");
            let attempt = Attempt {
                attempt: record.attempts() + 1,
                status: AttemptStatus::Interrupted,
                started_at: record.claimed_at.unwrap_or(now),
                finished_at: now,
                result: None,
                error: Some(ErrorInfo::new(
                    ErrorInfo::INTERRUPTED,
                    "the worker's lease expired before the attempt finished",
                )),
            };
            record.record(attempt);
            record.lease = None;
            record.claimed_at = None;
            record.last_updated_at = now;
            record.lost_leases += 1;
            if record.lost_leases >= MAX_LOST_LEASES {
                record.status = JobStatus::Failed;
                record.completed_at = Some(now);
                record.history.get_or_insert_default().error = Some(ErrorInfo::new(
                    ErrorInfo::INTERRUPTED,
                    format!("the job lost its worker {MAX_LOST_LEASES} times; it is not run again"),
                ));
                state.failed.push_back((now + retention.failed, id));
            } else {
                record.status = JobStatus::Queued;
                let name = record.name.clone();
                state.enqueue(name, id);
                requeued += 1;
            }
        }
        drop(state);
        for _ in 0..requeued {
            self.work.notify_one();
        }
        Ok(expired)
    }

    async fn wait_for_work(&self, _names: &JobNames, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobStatus;

    fn job(key: Option<&str>) -> NewJob {
        NewJob {
            id: JobId::new(),
            name: "memory-test".into(),
            max_retries: 0,
            input: JobInput::default(),
            idempotency_key: key.map(str::to_owned),
            fingerprint: key.map(|_| Fingerprint([1; 16])),
        }
    }

    async fn run_to_end(store: &MemoryStore, next: Next) -> JobId {
        let names = JobNames::new(["memory-test".into()]);
        let Claim::Job(claimed) = store.claim(&names, Duration::from_secs(30)).await.unwrap()
        else {
            panic!("nothing to claim");
        };
        let now = Timestamp::now();
        let attempt = Attempt {
            attempt: 1,
            status: AttemptStatus::Succeeded,
            started_at: now,
            finished_at: now,
            result: None,
            error: None,
        };
        store
            .finish(&claimed.lease, Outcome { attempt, next })
            .await
            .unwrap();
        claimed.id
    }

    #[test]
    fn a_queued_job_is_small() {
        assert!(size_of::<Record>() <= 128, "{} bytes", size_of::<Record>());
    }

    #[tokio::test]
    async fn a_store_full_of_live_jobs_refuses_more() {
        let store = MemoryStore::with_capacity(2);
        store.create(job(None)).await.unwrap();
        store.create(job(None)).await.unwrap();
        assert!(matches!(
            store.create(job(None)).await,
            Err(StoreError::Full { .. })
        ));
        assert_eq!(store.len(), 2);
    }

    #[tokio::test]
    async fn finished_jobs_make_room_oldest_first() {
        let store = MemoryStore::with_capacity(2);
        let first = store.create(job(Some("k1"))).await.unwrap().job().id;
        store.create(job(None)).await.unwrap();
        assert_eq!(run_to_end(&store, Next::Complete).await, first);
        let third = store.create(job(None)).await.unwrap().job().id;
        assert!(
            store.get(first).await.unwrap().is_none(),
            "the finished job was dropped"
        );
        assert!(store.get(third).await.unwrap().is_some());
        // The dropped job's key is free again.
        assert!(matches!(
            store.create(job(Some("k1"))).await,
            Err(StoreError::Full { .. })
        ));
    }

    #[tokio::test]
    async fn finished_jobs_expire_after_their_retention() {
        let store = MemoryStore::new().retention(Retention {
            completed: Duration::from_millis(50),
            failed: Duration::from_secs(3600),
        });
        store.create(job(Some("done"))).await.unwrap();
        let completed = run_to_end(&store, Next::Complete).await;
        store.create(job(None)).await.unwrap();
        let failed = run_to_end(&store, Next::Fail).await;
        assert_eq!(
            store.get(completed).await.unwrap().unwrap().status,
            JobStatus::Completed
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(store.get(completed).await.unwrap().is_none(), "expired");
        assert_eq!(
            store.get(failed).await.unwrap().unwrap().status,
            JobStatus::Failed
        );
        let again = store.create(job(Some("done"))).await.unwrap();
        assert!(
            matches!(again, Created::New(_)),
            "an expired job's key is free"
        );
    }
}
