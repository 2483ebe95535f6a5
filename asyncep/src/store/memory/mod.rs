//! The in-memory store: the default, for one process and no set-up.

mod clock;
mod listing;
mod record;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use self::clock::Clock;
use self::state::{Admission, State};
use super::{
    Cancellation, Changes, ClaimRequest, Claimed, Created, JobNames, JobPage, JobStore, Lease,
    ListQuery, Maintenance, NewJob, Outcome, QueueDepth, Renewal, Retention, Retried, StoreError,
};
use crate::job::{Event, Job, JobId, JobStatus, RawJson, Refusal, Timestamp};

/// A [`JobStore`] in this process's memory.
///
/// It is the default store: nothing to set up, and a job is picked up within
/// microseconds of its submission. Its jobs live as long as the process, so
/// it suits one process that runs both the API and the workers; an API-only
/// process needs a shared store (Redis), and the runtime refuses to build
/// one on this store.
///
/// It holds at most `capacity` jobs, finished ones included until their
/// retention ends: a finished job is never dropped early, because a client
/// that repeats its request with the same idempotency key must find it.
/// When full, `create` answers [`StoreError::Full`] (HTTP `503` with
/// `Retry-After`).
///
/// Leases, retries and retention run on a monotonic clock, so a step of
/// the wall clock never expires a lease or a job early.
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
    changes: Arc<Changes>,
    clock: Clock,
    capacity: usize,
    budget: usize,
    retention: Retention,
}

/// The default capacity: one million jobs.
pub(crate) const DEFAULT_CAPACITY: usize = 1_000_000;

/// The default byte budget: 512 MiB.
pub(crate) const DEFAULT_BUDGET: usize = 512 * 1024 * 1024;

/// The `Retry-After` of a full store.
const FULL_RETRY_AFTER: Duration = Duration::from_secs(1);

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
            changes: Changes::new(),
            clock: Clock::new(),
            capacity: capacity.max(1),
            budget: DEFAULT_BUDGET,
            retention: Retention::default(),
        }
    }

    /// Sets how long finished jobs are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How many bytes its jobs may hold (default 512 MiB): inputs, results,
    /// errors and attempts, with an estimate of their bookkeeping. A create
    /// that would go over it is refused with [`StoreError::Full`] (`503`),
    /// before memory runs out; finishing a job is never refused.
    pub fn byte_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// About how many bytes its jobs hold now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
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
        // No user code runs under the lock and nothing in it panics, so a
        // poisoned lock still guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies an event to a leased job.
    fn apply(&self, lease: &Lease, event: Event) -> Result<bool, StoreError> {
        let (now, mono) = (Timestamp::now(), self.clock.now());
        let mut state = self.lock();
        let applied = state.apply(lease.job_id, event, now, mono, self.retention);
        let spent = state.spent.take();
        drop(state);
        drop(spent);
        applied.map_err(|refusal| match refusal {
            Refusal::LeaseLost | Refusal::Invalid(_) => StoreError::LeaseLost { id: lease.job_id },
        })
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    fn is_shared(&self) -> bool {
        false
    }

    async fn create(&self, new: NewJob) -> Result<Created, StoreError> {
        let (now, mono) = (Timestamp::now(), self.clock.now());
        let admission = self
            .lock()
            .create(new, now, mono, self.capacity, self.budget);
        match admission {
            Admission::New(job) => {
                self.work.notify_one();
                Ok(Created::New(job))
            }
            Admission::Existing(job) => Ok(Created::Existing(job)),
            Admission::Conflict(existing) => Err(StoreError::IdempotencyConflict { existing }),
            Admission::Taken => Err(StoreError::IdTaken),
            Admission::Full | Admission::OverBudget => Err(StoreError::Full {
                retry_after: FULL_RETRY_AFTER,
            }),
        }
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut state = self.lock();
        state.purge(self.clock.now());
        Ok(state.jobs.get(&id).map(|record| record.job(id)))
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let (now, mono) = (Timestamp::now(), self.clock.now());
        let mut state = self.lock();
        if request.repeat {
            let jobs = state.reclaim(request.id, mono);
            if !jobs.is_empty() {
                return Ok(Claimed {
                    jobs,
                    next_due: None,
                });
            }
        }
        let (jobs, next_due, recovered) = state.claim(request, now, mono, self.retention);
        drop(state);
        for id in jobs
            .iter()
            .map(|job| job.id)
            .chain(recovered.iter().copied())
        {
            self.changes.announce(id);
        }
        if !recovered.is_empty() {
            // Jobs of dead workers are runnable again: let idle workers look.
            self.work.notify_waiters();
        }
        Ok(Claimed { jobs, next_due })
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError> {
        let deadline = self.clock.now() + period;
        match self.lock().renew(lease, deadline) {
            Some(cancel_requested) => Ok(Renewal { cancel_requested }),
            None => Err(StoreError::LeaseLost { id: lease.job_id }),
        }
    }

    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError> {
        let now = Timestamp::now();
        if self.lock().progress(lease, progress, now) {
            self.changes.announce(lease.job_id);
            Ok(())
        } else {
            Err(StoreError::LeaseLost { id: lease.job_id })
        }
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let next = outcome.next;
        let event = Event::Finish {
            token: lease.token,
            attempt: outcome.attempt,
            next,
        };
        let moved = self.apply(lease, event)?;
        if moved {
            self.changes.announce(lease.job_id);
        }
        if moved
            && matches!(
                next,
                crate::job::Next::Retry { .. } | crate::job::Next::Requeue
            )
        {
            self.work.notify_one();
        }
        Ok(())
    }

    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError> {
        let (now, mono) = (Timestamp::now(), self.clock.now());
        let canceled = self
            .lock()
            .apply_asked(id, Event::Cancel, now, mono, self.retention);
        Ok(canceled.map(|(job, moved)| {
            if moved {
                self.changes.announce_cancel(id);
            }
            Cancellation {
                ended: moved && job.status == JobStatus::Canceled,
                job,
            }
        }))
    }

    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError> {
        let (now, mono) = (Timestamp::now(), self.clock.now());
        let retried = self
            .lock()
            .apply_asked(id, Event::Retry, now, mono, self.retention);
        Ok(retried.map(|(job, queued)| {
            if queued {
                self.changes.announce(id);
                self.work.notify_one();
            }
            Retried { job, queued }
        }))
    }

    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        Ok(self.lock().list(query))
    }

    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        Ok(self.lock().delete_finished(ids))
    }

    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        let now = self.clock.now();
        let state = self.lock();
        Ok(names
            .iter()
            .map(|name| state.queue_depth(name, now))
            .collect())
    }

    fn changes(&self) -> &Arc<Changes> {
        &self.changes
    }

    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        let (now, mono) = (Timestamp::now(), self.clock.now());
        let mut state = self.lock();
        let recovered = state.recover(now, mono, self.retention, None);
        let purged = state.purge(mono);
        drop(state);
        for id in &recovered {
            self.changes.announce(*id);
        }
        if !recovered.is_empty() {
            self.work.notify_waiters();
        }
        Ok(Maintenance { recovered, purged })
    }

    async fn wait_for_work(&self, _names: &JobNames, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Attempt, AttemptStatus, Fingerprint, JobInput, JobStatus, Next};
    use crate::store::{ClaimId, Idempotency};

    fn job(key: Option<&str>) -> NewJob {
        NewJob {
            id: JobId::new(),
            name: "memory-test".into(),
            max_retries: 0,
            input: JobInput::default(),
            idempotency: key.map(|key| Idempotency {
                key: Some(key.to_owned()),
                fingerprint: Fingerprint([1; 16]),
            }),
            caller: None,
        }
    }

    async fn run_to_end(store: &MemoryStore, next: Next) -> JobId {
        let request = ClaimRequest {
            names: JobNames::new(["memory-test".into()]),
            lease: Duration::from_secs(30),
            limit: 1,
            id: ClaimId::new(),
            repeat: false,
        };
        let claimed = store.claim(&request).await.unwrap().jobs.pop().unwrap();
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
        let size = size_of::<record::Record>();
        assert!(size <= 176, "{size} bytes");
    }

    fn sized(bytes: usize) -> NewJob {
        NewJob {
            input: JobInput {
                body: Some("x".repeat(bytes).into()),
                ..JobInput::default()
            },
            ..job(None)
        }
    }

    #[tokio::test]
    async fn a_byte_budget_refuses_what_would_not_fit_and_keeps_the_rest() {
        let store = MemoryStore::new().byte_budget(10_000);
        store.create(sized(4_000)).await.unwrap();
        store.create(sized(4_000)).await.unwrap();
        assert!(matches!(
            store.create(sized(4_000)).await,
            Err(StoreError::Full { .. })
        ));
        assert_eq!(store.len(), 2, "what it holds is kept");
        assert!(store.bytes() <= 10_000);
        // A completed job lets go of its input: room again.
        run_to_end(&store, Next::Complete).await;
        store.create(sized(4_000)).await.unwrap();
    }

    #[tokio::test]
    async fn purged_jobs_give_their_bytes_back() {
        let store = MemoryStore::new().retention(Retention {
            completed: Duration::from_millis(1),
            failed: Duration::from_millis(1),
        });
        store.create(sized(1_000)).await.unwrap();
        run_to_end(&store, Next::Fail).await;
        assert!(store.bytes() > 1_000, "a failed job keeps its input");
        tokio::time::sleep(Duration::from_millis(5)).await;
        store.maintain().await.unwrap();
        assert_eq!(store.bytes(), 0);
    }

    #[tokio::test]
    async fn a_retried_job_outlives_the_retention_of_its_failure() {
        let keep = Duration::from_millis(20);
        let store = MemoryStore::new().retention(Retention {
            completed: keep,
            failed: keep,
        });
        store.create(sized(100)).await.unwrap();
        let id = run_to_end(&store, Next::Fail).await;
        assert!(store.retry(id).await.unwrap().unwrap().queued);
        tokio::time::sleep(keep * 3).await;
        store.maintain().await.unwrap();
        let job = store.get(id).await.unwrap().expect("kept while it waits");
        assert_eq!(job.status, crate::job::JobStatus::Queued);
        // Failed again, it is dropped at the end of its new retention.
        run_to_end(&store, Next::Fail).await;
        tokio::time::sleep(keep * 3).await;
        store.maintain().await.unwrap();
        assert!(store.get(id).await.unwrap().is_none());
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

    /// Before: a full store evicted the oldest finished job and freed its
    /// key, so the client's retry with that key ran the job again.
    #[tokio::test]
    async fn a_full_store_never_drops_a_retained_job_or_its_key() {
        let store = MemoryStore::with_capacity(2);
        let first = store.create(job(Some("k1"))).await.unwrap().job().id;
        store.create(job(None)).await.unwrap();
        assert_eq!(run_to_end(&store, Next::Complete).await, first);
        assert!(matches!(
            store.create(job(None)).await,
            Err(StoreError::Full { .. })
        ));
        assert!(store.get(first).await.unwrap().is_some(), "still retained");
        match store.create(job(Some("k1"))).await.unwrap() {
            Created::Existing(existing) => assert_eq!(existing.id, first),
            Created::New(_) => panic!("the key ran its job a second time"),
        }
    }

    /// Before: a repeat was matched before expired jobs were dropped, so it
    /// answered with a job whose `Location` was already `404`.
    #[tokio::test]
    async fn finished_jobs_expire_after_their_retention_with_their_keys() {
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
        let again = store.create(job(Some("done"))).await.unwrap();
        assert!(
            matches!(again, Created::New(ref job) if job.id != completed),
            "an expired job's key is free, and never finds the expired job"
        );
        assert!(store.get(completed).await.unwrap().is_none(), "expired");
        assert_eq!(
            store.get(failed).await.unwrap().unwrap().status,
            JobStatus::Failed
        );
    }

    /// Before: a key on a job without a fingerprint was never removed, and
    /// the next request with it panicked on the missing record.
    #[tokio::test]
    async fn keys_leave_with_their_job() {
        let store = MemoryStore::new().retention(Retention {
            completed: Duration::from_millis(1),
            failed: Duration::from_millis(1),
        });
        store.create(job(Some("k"))).await.unwrap();
        run_to_end(&store, Next::Complete).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.maintain().await.unwrap().purged, 1);
        assert!(matches!(
            store.create(job(Some("k"))).await.unwrap(),
            Created::New(_)
        ));
    }
}
