//! Where jobs live: the [`JobStore`] trait and its implementations.
//!
//! Every method is one atomic step, so that a store shared by many processes
//! (Redis with Lua scripts, SQL with `FOR UPDATE SKIP LOCKED`) never shows a
//! half-made job, never hands one job to two workers, and never lets a worker
//! that lost its lease overwrite the new owner's result.

mod error;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod types;

use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_PREFIX as REDIS_DEFAULT_PREFIX, RedisStore, RedisStoreBuilder};
pub use error::StoreError;

/// How many times a job may lose its worker (its lease expired: a crash, a
/// kill, a stall) before it fails for good with the code `interrupted`. A
/// job that brings its worker down every time (out of memory, say) would
/// otherwise go round the workers forever. Hand-backs at a graceful shutdown
/// do not count.
pub const MAX_LOST_LEASES: u32 = 5;
pub(crate) use memory::DEFAULT_CAPACITY as DEFAULT_MEMORY_CAPACITY;
pub use memory::{MemoryStore, Retention};
pub use types::{Claim, ClaimedJob, Created, JobNames, Lease, NewJob, Next, Outcome};

use crate::job::{Job, JobId};

/// The storage seam of asyncep.
///
/// Implementations keep jobs, their inputs and idempotency keys, and hand jobs
/// to workers under leases. The runtime holds a store as
/// `Arc<dyn JobStore>`; the HTTP layer and the workers speak only this trait.
///
/// # Contract
/// - [`create`](Self::create) is idempotent: a second create with the same
///   job id or idempotency key and the same fingerprint returns the first job
///   ([`Created::Existing`]); with another fingerprint it fails with
///   [`StoreError::IdempotencyConflict`]. Concurrent duplicates create one job.
/// - [`claim`](Self::claim) gives each runnable job to one worker at a time,
///   oldest first, only for names the worker handles, with a fresh fencing
///   token in its [`Lease`]; `Scheduled` jobs become claimable when due.
/// - [`renew`](Self::renew) and [`finish`](Self::finish) fail with
///   [`StoreError::LeaseLost`] unless the lease's token is still the job's.
/// - [`recover_expired`](Self::recover_expired) hands every job whose lease
///   ran out back to the queue, recording an `Interrupted` attempt; on its
///   [`MAX_LOST_LEASES`]th lost lease the job fails instead.
/// - [`wait_for_work`](Self::wait_for_work) returns early when work may have
///   arrived, so idle workers never poll on a fixed beat.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new job, or returns the existing one for a repeated request.
    async fn create(&self, job: NewJob) -> Result<Created, StoreError>;

    /// The job with this id, if the store still has it.
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// Takes the oldest runnable job among `names` under a lease of `lease`.
    async fn claim(&self, names: &JobNames, lease: Duration) -> Result<Claim, StoreError>;

    /// Extends a lease by `period` from now.
    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Lease, StoreError>;

    /// Records a finished attempt and moves the job on, as one atomic step.
    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError>;

    /// Requeues every job whose lease has expired; returns their ids.
    async fn recover_expired(&self) -> Result<Vec<JobId>, StoreError>;

    /// Waits until work for `names` may be available, or `timeout` passes.
    async fn wait_for_work(&self, names: &JobNames, timeout: Duration);
}
