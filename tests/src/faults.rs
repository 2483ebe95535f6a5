//! A real store with faults injected on purpose: a reply lost, a panic in
//! the store call. Every other call goes through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use asyncep::job::RawJson;
use asyncep::store::{
    Cancellation, Changes, ClaimRequest, Claimed, Created, JobNames, JobPage, JobStore, Lease,
    ListQuery, Maintenance, NewJob, Outcome, QueueDepth, Renewal, Retried, StoreError,
};
use asyncep::{Job, JobId};

/// Wraps a store; each counter says how many of the next calls misbehave.
#[derive(Debug)]
pub struct Faulty {
    inner: Arc<dyn JobStore>,
    /// The next `finish` calls fail as if the store were unreachable
    /// (nothing written).
    pub failing_finishes: AtomicU32,
    /// The next `claim` calls panic.
    pub panicking_claims: AtomicU32,
    /// The next `claim` calls are carried out, but answer as if the reply
    /// was lost.
    pub lost_claim_replies: AtomicU32,
    /// How many `claim` calls reached the store (a count, not a fault).
    pub claims: AtomicU32,
    /// The next `create` calls are carried out, but answer as if the reply
    /// was lost.
    pub lost_create_replies: AtomicU32,
    /// How many `progress` writes reached the store (a count, not a fault).
    pub progress_writes: AtomicU32,
}

impl Faulty {
    /// A store that behaves until told otherwise.
    pub fn new(inner: Arc<dyn JobStore>) -> Self {
        Self {
            inner,
            failing_finishes: AtomicU32::new(0),
            panicking_claims: AtomicU32::new(0),
            lost_claim_replies: AtomicU32::new(0),
            claims: AtomicU32::new(0),
            lost_create_replies: AtomicU32::new(0),
            progress_writes: AtomicU32::new(0),
        }
    }
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

#[async_trait::async_trait]
impl JobStore for Faulty {
    async fn start(&self) -> Result<(), StoreError> {
        self.inner.start().await
    }
    async fn shutdown(&self) {
        self.inner.shutdown().await
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        let created = self.inner.create(job).await;
        if take(&self.lost_create_replies) {
            return Err(StoreError::OutcomeUnknown {
                retry_after: Duration::from_secs(1),
                source: "injected: the reply was lost".into(),
            });
        }
        created
    }
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.inner.get(id).await
    }
    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        if take(&self.panicking_claims) {
            panic!("a bug in the store's claim");
        }
        let claimed = self.inner.claim(request).await;
        self.claims.fetch_add(1, Ordering::AcqRel);
        if take(&self.lost_claim_replies) {
            return Err(StoreError::OutcomeUnknown {
                retry_after: Duration::from_secs(1),
                source: "injected: the reply was lost".into(),
            });
        }
        claimed
    }
    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError> {
        self.inner.renew(lease, period).await
    }
    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError> {
        self.progress_writes.fetch_add(1, Ordering::AcqRel);
        self.inner.progress(lease, progress).await
    }
    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError> {
        self.inner.cancel(id).await
    }
    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        self.inner.queue_depths(names).await
    }
    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError> {
        self.inner.retry(id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        self.inner.list(query).await
    }
    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        self.inner.delete_finished(ids).await
    }
    async fn tidy_listing(&self, names: &JobNames) -> Result<(), StoreError> {
        self.inner.tidy_listing(names).await
    }
    async fn watch(&self, id: JobId, period: Duration) -> Result<(), StoreError> {
        self.inner.watch(id, period).await
    }
    fn changes(&self) -> &Arc<Changes> {
        self.inner.changes()
    }
    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        if take(&self.failing_finishes) {
            return Err(StoreError::Unavailable {
                retry_after: Duration::from_secs(1),
                source: "injected: the store blinked".into(),
            });
        }
        self.inner.finish(lease, outcome).await
    }
    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        self.inner.maintain().await
    }
    async fn wait_for_work(&self, names: &JobNames, timeout: Duration) {
        self.inner.wait_for_work(names, timeout).await
    }
}
