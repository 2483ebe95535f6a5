//! Where jobs live: the [`JobStore`] trait and its implementations.
//!
//! Every method is one atomic step, so that a store shared by many processes
//! (Redis with Lua scripts, SQL with `FOR UPDATE SKIP LOCKED`) never shows a
//! half-made job, never hands one job to two workers, and never lets a worker
//! that lost its lease overwrite the new owner's result.

mod changes;
mod error;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
mod record;
#[cfg(any(feature = "postgres", feature = "redis"))]
mod recovery;
#[cfg(feature = "redis")]
mod redis;
mod repeat;
#[cfg(feature = "sqlite")]
mod sqlite;
mod types;
mod url;

use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "postgres")]
pub use self::postgres::{
    DEFAULT_SCHEMA as POSTGRES_DEFAULT_SCHEMA, PostgresStore, PostgresStoreBuilder,
};
#[cfg(feature = "redis")]
pub(crate) use self::redis::from_env as redis_from_env;
#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_PREFIX as REDIS_DEFAULT_PREFIX, RedisStore, RedisStoreBuilder};
#[cfg(feature = "sqlite")]
pub use self::sqlite::{Durability as SqliteDurability, SqliteStore, SqliteStoreBuilder};
pub use crate::job::MAX_LOST_LEASES;
pub use changes::{ChangeListener, Changes};
pub use error::StoreError;
pub(crate) use memory::DEFAULT_CAPACITY as DEFAULT_MEMORY_CAPACITY;
pub use memory::MemoryStore;
pub use types::{
    Cancellation, ClaimId, ClaimRequest, Claimed, ClaimedJob, Created, FinishedAndClaimed,
    Idempotency, JobNames, JobPage, Lease, ListCursor, ListQuery, Maintenance, NewJob, Outcome,
    QueueDepth, Renewal, Retention, Retried,
};
pub(crate) use url::redact_url;

use crate::job::{Job, JobId, RawJson};

/// The PostgreSQL store an `ASYNCEP_STORE_URL` names, or why it cannot be
/// built. Nothing connects yet.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_from_env(
    url: &str,
    schema: Option<&str>,
    retention: Retention,
) -> Result<std::sync::Arc<dyn JobStore>, String> {
    let mut builder = PostgresStore::builder(url).retention(retention);
    if let Some(schema) = schema {
        builder = builder.schema(schema);
    }
    builder
        .build()
        .map(|store| std::sync::Arc::new(store) as std::sync::Arc<dyn JobStore>)
        .map_err(|error| error.to_string())
}

/// The PostgreSQL store an `ASYNCEP_STORE_URL` names, or why it cannot be
/// built.
#[cfg(not(feature = "postgres"))]
pub(crate) fn postgres_from_env(
    url: &str,
    _schema: Option<&str>,
    _retention: Retention,
) -> Result<std::sync::Arc<dyn JobStore>, String> {
    Err(missing_feature(url, "PostgreSQL", "postgres"))
}

/// The SQLite store an `ASYNCEP_STORE_URL` names, or why it cannot be
/// built. Nothing opens yet.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_from_env(
    url: &str,
    retention: Retention,
) -> Result<std::sync::Arc<dyn JobStore>, String> {
    SqliteStore::builder(url)
        .retention(retention)
        .build()
        .map(|store| std::sync::Arc::new(store) as std::sync::Arc<dyn JobStore>)
        .map_err(|error| error.to_string())
}

/// The SQLite store an `ASYNCEP_STORE_URL` names, or why it cannot be
/// built.
#[cfg(not(feature = "sqlite"))]
pub(crate) fn sqlite_from_env(
    url: &str,
    _retention: Retention,
) -> Result<std::sync::Arc<dyn JobStore>, String> {
    Err(missing_feature(url, "SQLite", "sqlite"))
}

/// The Redis store an `ASYNCEP_STORE_URL` names, or why it cannot be built.
#[cfg(not(feature = "redis"))]
pub(crate) fn redis_from_env(
    url: &str,
    _prefix: Option<&str>,
    _retention: Retention,
) -> Result<std::sync::Arc<dyn JobStore>, String> {
    Err(missing_feature(url, "Redis", "redis"))
}

/// A SQL store's connection pool belongs to the Tokio runtime it is made
/// in: outside one, building it is refused with this reason (sqlx would
/// panic).
#[cfg(any(feature = "postgres", feature = "sqlite"))]
fn in_tokio(store: &str) -> Result<(), StoreError> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|_| {
            StoreError::Misconfigured(format!(
                "the {store} store must be built inside a Tokio runtime (in `#[tokio::main]`, \
                 or after `tokio::runtime::Runtime::enter`): its connection pool lives there"
            ))
        })
}

/// Why a store URL cannot be used by this build.
#[cfg(any(
    not(feature = "redis"),
    not(feature = "postgres"),
    not(feature = "sqlite")
))]
fn missing_feature(url: &str, store: &str, feature: &str) -> String {
    format!(
        "`{}` names a {store} store, but this build of asyncep has no {store} support; \
         enable the `{feature}` feature",
        redact_url(url)
    )
}

/// The storage seam of asyncep.
///
/// Implementations keep jobs, their inputs and idempotency keys, and hand jobs
/// to workers under leases. The runtime holds a store as
/// `Arc<dyn JobStore>`; the HTTP layer and the workers speak only this trait.
/// Every store follows one state machine, [`Lifecycle`](crate::job::Lifecycle).
///
/// # Contract
/// - [`create`](Self::create) is idempotent: a create whose id or
///   idempotency key names a stored job with the same fingerprint returns
///   that job ([`Created::Existing`]), and records every key the request
///   names; with another fingerprint it fails with
///   [`StoreError::IdempotencyConflict`]. A create repeated with the same
///   fresh id and no idempotency (after a lost reply) finds its job too.
///   Concurrent duplicates create one job.
/// - [`claim`](Self::claim) first hands back jobs whose lease expired (as
///   [`maintain`](Self::maintain) does), then gives each runnable job to one
///   claim at a time, oldest first, only for the names asked, up to the
///   limit, each with a fresh fencing token greater than any before and the
///   number of its attempt. `Scheduled` jobs become runnable when due. A
///   claim repeated with the same [`ClaimId`] and `repeat` set answers with
///   the jobs the first one took, while their leases hold, and takes no
///   other.
/// - [`renew`](Self::renew), [`progress`](Self::progress) and
///   [`finish`](Self::finish) fail with [`StoreError::LeaseLost`] unless the
///   lease's token is still the job's. A finish repeated after a lost reply
///   succeeds without a second record. A renewal says whether a cancel was
///   asked.
/// - [`cancel`](Self::cancel) ends a `Queued` or `Scheduled` job at once,
///   marks a running one (its worker learns it from the next renewal, and
///   from the announcement), and changes nothing else.
/// - Every change of a job is announced to [`changes`](Self::changes) in
///   this process; a shared store announces in every process the changes
///   of a job [`watch`](Self::watch)ed there, and every cancel.
/// - Leases and schedules are measured on the store's own clock and given
///   to callers as durations.
/// - [`wait_for_work`](Self::wait_for_work) returns early when work may have
///   arrived, so idle workers never poll on a fixed beat.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Connects, checks the backend's settings and starts any background
    /// listener. Called by the runtime before it serves or runs; calling it
    /// again does nothing.
    async fn start(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stops background listeners. The store may be started again.
    async fn shutdown(&self) {}

    /// Whether other processes see the jobs of this store. An API-only
    /// process needs such a store, or no worker would ever see its jobs.
    fn is_shared(&self) -> bool;

    /// Stores a new job, or returns the existing one for a repeated request.
    async fn create(&self, job: NewJob) -> Result<Created, StoreError>;

    /// The job with this id, if the store still has it.
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// Takes up to `request.limit` runnable jobs under leases.
    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError>;

    /// Extends a lease to `period` from now, and says whether a cancel of
    /// its job was asked.
    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError>;

    /// Stores the latest progress of the job running under `lease`.
    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError>;

    /// Records a finished attempt and moves the job on, as one atomic step.
    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError>;

    /// A worker's turn between two jobs: [`finish`](Self::finish), then
    /// [`claim`](Self::claim) with `next`, in one round trip where the
    /// store can (PostgreSQL: one statement). The claim is made whatever
    /// the finish answered, unless the finish failed in a way that may pass
    /// ([`StoreError::is_transient`]), when `claimed` is `None`: the worker
    /// tries the finish again first.
    ///
    /// The default calls the two in turn.
    async fn finish_and_claim(
        &self,
        lease: &Lease,
        outcome: Outcome,
        next: &ClaimRequest,
    ) -> FinishedAndClaimed {
        let finished = self.finish(lease, outcome).await;
        if finished.as_ref().is_err_and(StoreError::is_transient) {
            return FinishedAndClaimed {
                finished,
                claimed: None,
            };
        }
        let claimed = Some(self.claim(next).await);
        FinishedAndClaimed { finished, claimed }
    }

    /// Recovers jobs whose lease expired and drops finished jobs whose
    /// retention ended. The runtime calls it every half lease.
    async fn maintain(&self) -> Result<Maintenance, StoreError>;

    /// Waits until work for `names` may be available, or `timeout` passes.
    async fn wait_for_work(&self, names: &JobNames, timeout: Duration);

    /// Cancels the job `id`: a `Queued` or `Scheduled` job ends `Canceled`
    /// at once; a running one is marked, and ends `Canceled` when its worker
    /// stops it. A canceled job, or one already marked, is left as it is.
    /// Returns the job as it is now (`Completed` and `Failed` jobs are left
    /// alone and returned too) and whether this cancel ended it, or `None`
    /// if the store has no such job.
    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError>;

    /// Runs a `Failed` job again, as an operator asks
    /// ([`Event::Retry`](crate::job::Event::Retry)): queued with its full
    /// retry budget, its error and retention dropped, its attempts kept.
    /// Any other job is returned as it is, with `queued` false; `None` if
    /// the store has no such job.
    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError>;

    /// How the queue of each of `names` stands, in the order of `names`:
    /// read from the indexes the claim uses, never by counting the whole
    /// jobs table (the count costs in proportion to that name's runnable
    /// jobs at most).
    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError>;

    /// An operator's listing: jobs of one name (and status, if asked),
    /// newest first, a page at a time, read from an index by name (never by
    /// scanning every job).
    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError>;

    /// Deletes those of `ids` that have finished (`Completed`, `Failed` or
    /// `Canceled`), with their attempts and idempotency keys, as their
    /// retention would; returns the ids deleted. A job that is not finished
    /// is left alone.
    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError>;

    /// Tidies the listing index of `names` (drops the entries of jobs the
    /// store let go of), a bounded amount per call. The runtime calls it
    /// with [`maintain`](Self::maintain); stores whose index follows their
    /// jobs have nothing to do.
    async fn tidy_listing(&self, names: &JobNames) -> Result<(), StoreError> {
        let _ = names;
        Ok(())
    }

    /// Announces the changes of `id` in every process for the next
    /// `period`, so that a waiter in this process hears of them. Stores seen
    /// by one process have nothing to do.
    async fn watch(&self, id: JobId, period: Duration) -> Result<(), StoreError> {
        let _ = (id, period);
        Ok(())
    }

    /// Where this process hears of job changes.
    fn changes(&self) -> &std::sync::Arc<Changes>;
}

impl std::fmt::Debug for dyn JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn JobStore")
    }
}
