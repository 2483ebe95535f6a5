//! The in-memory store: the default, for one process and no set-up.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{
    Claim, ClaimedJob, Created, JobNames, JobStore, Lease, NewJob, Next, Outcome, StoreError,
};
use crate::job::{
    Attempt, AttemptStatus, ErrorInfo, Fingerprint, Job, JobId, JobInput, JobStatus, Timestamp,
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

#[derive(Debug, Default)]
struct State {
    jobs: HashMap<JobId, Entry>,
    keys: HashMap<String, JobId>,
    /// Runnable jobs per name, each with the sequence number that orders
    /// jobs across names.
    ready: HashMap<Cow<'static, str>, VecDeque<(u64, JobId)>>,
    /// Jobs waiting for a retry, earliest first.
    scheduled: BinaryHeap<Reverse<(Timestamp, u64, JobId)>>,
    running: HashSet<JobId>,
    /// Finished jobs in the order they finished, for retention and eviction.
    completed: VecDeque<(Timestamp, JobId)>,
    failed: VecDeque<(Timestamp, JobId)>,
    sequence: u64,
    tokens: u64,
}

#[derive(Debug)]
struct Entry {
    job: Job,
    input: Arc<JobInput>,
    fingerprint: Option<Fingerprint>,
    key: Option<String>,
    lease: Option<Lease>,
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
        let entry = &self.jobs[&id];
        Some(
            if entry.fingerprint.is_some() && entry.fingerprint == job.fingerprint {
                Ok(Created::Existing(entry.job.clone()))
            } else {
                Err(StoreError::IdempotencyConflict { existing: id })
            },
        )
    }

    fn remove(&mut self, id: JobId) {
        if let Some(entry) = self.jobs.remove(&id) {
            if let Some(key) = entry.key {
                self.keys.remove(&key);
            }
        }
    }

    /// Drops finished jobs whose retention has passed.
    fn expire(&mut self, now: Timestamp) {
        for queue in [&mut self.completed, &mut self.failed] {
            while let Some(&(expires_at, id)) = queue.front() {
                if expires_at > now {
                    break;
                }
                queue.pop_front();
                if let Some(entry) = self.jobs.remove(&id) {
                    if let Some(key) = entry.key {
                        self.keys.remove(&key);
                    }
                }
            }
        }
    }

    /// Drops the oldest finished job to make room; false if there is none.
    fn evict_one(&mut self) -> bool {
        let oldest = match (self.completed.front(), self.failed.front()) {
            (Some(_), _) => self.completed.pop_front(),
            (None, Some(_)) => self.failed.pop_front(),
            (None, None) => None,
        };
        match oldest {
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
            if let Some(entry) = self.jobs.get(&id) {
                let name = entry.job.name.clone();
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

    fn check_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        match self.jobs.get(&lease.job_id) {
            Some(Entry {
                lease: Some(current),
                ..
            }) if current.token == lease.token => Ok(()),
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
        let job = Job::queued(new.id, new.name, new.max_retries, now);
        if let Some(key) = &new.idempotency_key {
            state.keys.insert(key.clone(), new.id);
        }
        state.enqueue(job.name.clone(), new.id);
        state.jobs.insert(
            new.id,
            Entry {
                job: job.clone(),
                input: Arc::new(new.input),
                fingerprint: new.fingerprint,
                key: new.idempotency_key,
                lease: None,
            },
        );
        drop(state);
        self.work.notify_one();
        Ok(Created::New(job))
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut state = self.lock();
        state.expire(Timestamp::now());
        Ok(state.jobs.get(&id).map(|entry| entry.job.clone()))
    }

    async fn claim(&self, names: &JobNames, lease: Duration) -> Result<Claim, StoreError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let next_due = state.promote_due(now);
        let Some(id) = state.pop_oldest(names) else {
            return Ok(Claim::Idle { next_due });
        };
        state.tokens += 1;
        let lease = Lease {
            job_id: id,
            token: state.tokens,
            expires_at: now + lease,
        };
        state.running.insert(id);
        let entry = state
            .jobs
            .get_mut(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("queued job {id} has no record")))?;
        let job = &mut entry.job;
        debug_assert!(job.status.can_become(JobStatus::InProgress));
        job.status = JobStatus::InProgress;
        job.started_at.get_or_insert(now);
        job.next_attempt_at = None;
        job.last_updated_at = now;
        entry.lease = Some(lease.clone());
        Ok(Claim::Job(Box::new(ClaimedJob {
            id,
            name: job.name.clone(),
            attempt: job.attempts.len() as u32 + 1,
            retry_count: job.retry_count,
            max_retries: job.max_retries,
            input: entry.input.clone(),
            lease,
        })))
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Lease, StoreError> {
        let mut state = self.lock();
        state.check_lease(lease)?;
        let renewed = Lease {
            expires_at: Timestamp::now() + period,
            ..lease.clone()
        };
        if let Some(entry) = state.jobs.get_mut(&lease.job_id) {
            entry.lease = Some(renewed.clone());
        }
        Ok(renewed)
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        state.check_lease(lease)?;
        let id = lease.job_id;
        state.running.remove(&id);
        let retention = self.retention;
        let entry = state.jobs.get_mut(&id).expect("a leased job has a record");
        entry.lease = None;
        let job = &mut entry.job;
        job.last_updated_at = now;
        let Outcome { attempt, next } = outcome;
        match next {
            Next::Complete => {
                job.status = JobStatus::Completed;
                job.result = attempt.result.clone();
                job.completed_at = Some(now);
            }
            Next::Fail => {
                job.status = JobStatus::Failed;
                job.error = attempt.error.clone();
                job.completed_at = Some(now);
            }
            Next::Retry { after } => {
                job.status = JobStatus::Scheduled;
                job.retry_count += 1;
                job.next_attempt_at = Some(now + after);
            }
            Next::Requeue => job.status = JobStatus::Queued,
        }
        job.attempts.push(attempt);
        let name = job.name.clone();
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
                    .as_ref()
                    .is_some_and(|lease| lease.expires_at <= now)
            })
            .collect();
        for &id in &expired {
            state.running.remove(&id);
            let entry = state.jobs.get_mut(&id).expect("a running job has a record");
            entry.lease = None;
            let job = &mut entry.job;
            let started_at = job.last_updated_at;
            job.attempts.push(Attempt {
                attempt: job.attempts.len() as u32 + 1,
                status: AttemptStatus::Interrupted,
                started_at,
                finished_at: now,
                result: None,
                error: Some(ErrorInfo::new(
                    ErrorInfo::INTERRUPTED,
                    "the worker's lease expired before the attempt finished",
                )),
            });
            job.status = JobStatus::Queued;
            job.last_updated_at = now;
            let name = job.name.clone();
            state.enqueue(name, id);
        }
        drop(state);
        for _ in &expired {
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
