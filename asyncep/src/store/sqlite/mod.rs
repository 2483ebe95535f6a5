//! The SQLite store: durable jobs on one machine, with no server to run.

mod listing;
mod operations;
mod row;
mod schema;
mod wakeup;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use self::operations::{Operation, RECOVER_BATCH, created};
use self::row::error;
use self::wakeup::Wakeup;
use self::writer::{Command, Writer};
use super::{
    Cancellation, Changes, ClaimRequest, Claimed, Created, FinishedAndClaimed, JobNames, JobPage,
    JobStore, Lease, ListQuery, Maintenance, NewJob, Outcome, QueueDepth, Renewal, Retention,
    Retried, StoreError,
};
use crate::job::{Job, JobId, JobStatus, Placement, RawJson, Timestamp};

/// Finished jobs purged per transaction by `maintain`.
const PURGE_BATCH: i64 = 1000;

/// How long a writer waits for another process's transaction before the
/// operation fails as unavailable, unless configured.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often idle workers look for other processes' commits, unless
/// configured.
const DEFAULT_POLL: Duration = Duration::from_millis(50);

/// What a commit survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// A crash of the process and of the machine: every commit is synced to
    /// disk before a job is acknowledged (`synchronous = FULL`). The default.
    #[default]
    PowerLoss,
    /// A crash of the process (`kill -9`), not of the machine: the last
    /// commits may be lost with the power (`synchronous = NORMAL`), for
    /// fewer disk syncs.
    ProcessCrash,
}

/// A [`JobStore`] in one SQLite file: jobs survive a crash and a restart of
/// the process, and several processes on the machine may share the file.
///
/// The file runs in WAL mode, so readers never wait for the writer. Every
/// operation is one `BEGIN IMMEDIATE` transaction on the process's one
/// writer connection (so the process's own writers queue in memory, not on
/// the file lock), and a busy timeout makes another process's writer wait
/// its turn: `SQLITE_BUSY` never reaches a caller unless a transaction
/// waits longer than [`busy_timeout`](SqliteStoreBuilder::busy_timeout).
/// Transitions run the same state machine as the memory store, in Rust,
/// inside those transactions. Leases and schedules use the machine's
/// clock. Idle workers wake at once for this process's jobs and within a
/// [`poll`](SqliteStoreBuilder::poll) interval for another process's.
///
/// The tables are asyncep's own (`asyncep_*`), created at
/// [`start`](JobStore::start) and recorded in `asyncep_schema`, so the file
/// may also be the application's database; [`SqliteStore::migration_sql`]
/// exports them.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use asyncep::store::SqliteStore;
///
/// let store = SqliteStore::builder("sqlite://jobs.db").build()?;
/// let runtime = asyncep::Runtime::builder().store(store).build()?;
/// runtime.start().await?; // creates the file and the tables
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: SqlitePool,
    retention: Retention,
    wakeup: Wakeup,
}

/// Builds a [`SqliteStore`].
#[derive(Clone, Debug)]
#[must_use]
pub struct SqliteStoreBuilder {
    location: String,
    retention: Retention,
    readers: u32,
    busy_timeout: Duration,
    durability: Durability,
    poll: Duration,
}

impl SqliteStoreBuilder {
    /// How long finished jobs are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The most connections that read job documents (default 4). Writes
    /// always go through one connection per process.
    pub fn readers(mut self, readers: u32) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// How long a transaction waits for another process's to end (default
    /// 10 s) before the operation fails as unavailable (503).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// What an acknowledged job survives (default [`Durability::PowerLoss`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How often idle workers look for jobs another process added (default
    /// 50 ms). This process's own jobs wake them at once.
    pub fn poll(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(1));
        self
    }

    /// Checks the settings and builds the store. Nothing opens until the
    /// first operation (or [`JobStore::start`]). Call it inside a Tokio
    /// runtime, where its connection pool lives; outside one it is refused
    /// ([`StoreError::Misconfigured`]).
    pub fn build(self) -> Result<SqliteStore, StoreError> {
        let options = if self.location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(&self.location).map_err(|error| {
                StoreError::Misconfigured(format!(
                    "`{}` is not an SQLite URL: {error}",
                    self.location
                ))
            })?
        } else {
            SqliteConnectOptions::new().filename(&self.location)
        };
        let path = options.get_filename().to_path_buf();
        let memory = path.as_os_str().is_empty()
            || path.to_string_lossy().contains(":memory:")
            || path.to_string_lossy().starts_with("file:sqlx-in-memory");
        if memory {
            return Err(StoreError::Misconfigured(format!(
                "`{}` is an in-memory SQLite database, which no other connection sees; \
                 name a file (`sqlite://jobs.db`), or use the memory store",
                self.location
            )));
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(self.busy_timeout)
            .foreign_keys(true)
            .synchronous(match self.durability {
                Durability::PowerLoss => SqliteSynchronous::Full,
                Durability::ProcessCrash => SqliteSynchronous::Normal,
            });
        super::in_tokio("SQLite")?;
        let writer = Writer::spawn(options.clone(), self.retention);
        let readers = SqlitePoolOptions::new()
            .max_connections(self.readers)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.clone().read_only(true));
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
                retention: self.retention,
                wakeup: Wakeup::new(options.read_only(true), self.poll),
            }),
        })
    }
}

impl SqliteStore {
    /// A builder for the file a URL (`sqlite://path/to/jobs.db`,
    /// `sqlite:///var/lib/app/jobs.db`) or a plain path names. The file is
    /// created if missing.
    pub fn builder(location: impl AsRef<str>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            location: location.as_ref().to_owned(),
            retention: Retention::default(),
            readers: 4,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            durability: Durability::default(),
            poll: DEFAULT_POLL,
        }
    }

    /// Announces the jobs a claim took.
    fn took(&self, claimed: Claimed) -> Claimed {
        for job in &claimed.jobs {
            self.changes().announce(job.id);
        }
        claimed
    }

    /// Announces where a finish placed its job, and wakes idle workers
    /// when it is runnable again.
    fn placed(&self, id: JobId, placement: Option<Placement>) {
        if placement.is_some() {
            self.changes().announce(id);
        }
        if matches!(
            placement,
            Some(Placement::Ready | Placement::Scheduled { .. })
        ) {
            self.inner.wakeup.wake_all();
        }
    }

    /// The SQL of asyncep's tables, for teams whose own migration tool
    /// applies every change. Applied, it leaves the schema current, and the
    /// store's start finds nothing to do.
    pub fn migration_sql() -> String {
        schema::migration_sql()
    }

    /// The file the store keeps its jobs in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn start(&self) -> Result<(), StoreError> {
        self.inner.writer.ask(Command::Migrate).await?;
        self.inner.wakeup.start();
        Ok(())
    }

    async fn shutdown(&self) {
        self.inner.wakeup.stop();
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        let admitted = self
            .inner
            .writer
            .ask(|reply| Command::Create(job, reply))
            .await?;
        let answer = created(admitted)?;
        if let Created::New(_) = answer {
            self.inner.wakeup.wake_one();
        }
        Ok(answer)
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut conn = self.inner.readers.acquire().await.map_err(error)?;
        Operation {
            conn: &mut conn,
            now: Timestamp::now(),
            retention: self.inner.retention,
        }
        .get(id)
        .await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let request = request.clone();
        let claimed = self
            .inner
            .writer
            .ask(|reply| Command::Claim(request, reply))
            .await?;
        Ok(self.took(claimed))
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError> {
        let lease = lease.clone();
        let id = lease.job_id;
        let renewed = self
            .inner
            .writer
            .ask(|reply| Command::Renew(lease, period, reply))
            .await?;
        match renewed {
            Some(cancel_requested) => Ok(Renewal { cancel_requested }),
            None => Err(StoreError::LeaseLost { id }),
        }
    }

    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError> {
        let lease = lease.clone();
        let id = lease.job_id;
        let stored = self
            .inner
            .writer
            .ask(|reply| Command::Progress(lease, progress, reply))
            .await?;
        if stored {
            self.changes().announce(id);
            Ok(())
        } else {
            Err(StoreError::LeaseLost { id })
        }
    }

    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError> {
        let canceled = self
            .inner
            .writer
            .ask(|reply| Command::Cancel(id, reply))
            .await?;
        Ok(canceled.map(|(job, moved)| {
            if moved {
                self.changes().announce_cancel(id);
            }
            Cancellation {
                ended: moved && job.status == JobStatus::Canceled,
                job,
            }
        }))
    }

    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError> {
        let retried = self
            .inner
            .writer
            .ask(|reply| Command::Retry(id, reply))
            .await?;
        Ok(retried.map(|(job, queued)| {
            if queued {
                self.changes().announce(id);
                self.inner.wakeup.wake_one();
            }
            Retried { job, queued }
        }))
    }

    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let mut conn = self.inner.readers.acquire().await.map_err(error)?;
        Operation {
            conn: &mut conn,
            now: Timestamp::now(),
            retention: self.inner.retention,
        }
        .list(query)
        .await
    }

    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.inner
            .writer
            .ask(|reply| Command::Delete(ids, reply))
            .await
    }

    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        let mut conn = self.inner.readers.acquire().await.map_err(error)?;
        let mut read = Operation {
            conn: &mut conn,
            now: Timestamp::now(),
            retention: self.inner.retention,
        };
        let mut depths = Vec::with_capacity(names.len());
        for name in names.iter() {
            depths.push(read.queue_depth(name).await?);
        }
        Ok(depths)
    }

    async fn watch(&self, _id: JobId, _period: Duration) -> Result<(), StoreError> {
        // Other processes' changes are seen by the file's poll: it must run.
        self.inner.wakeup.start();
        Ok(())
    }

    fn changes(&self) -> &Arc<Changes> {
        self.inner.wakeup.changes()
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let lease = lease.clone();
        let id = lease.job_id;
        let placement = self
            .inner
            .writer
            .ask(|reply| Command::Finish(lease, outcome, reply))
            .await?;
        self.placed(id, placement);
        Ok(())
    }

    /// Both in one writer command, so in one transaction; no claim after a
    /// finish that failed for a blink of the store (its job would wait,
    /// unrenewed, while the finish is tried again).
    async fn finish_and_claim(
        &self,
        lease: &Lease,
        outcome: Outcome,
        next: &ClaimRequest,
    ) -> FinishedAndClaimed {
        let (owned, id, request) = (lease.clone(), lease.job_id, next.clone());
        let turned = self
            .inner
            .writer
            .ask(|reply| Command::Turn(owned, outcome, request, reply))
            .await;
        match turned {
            Ok((finished, claimed)) => FinishedAndClaimed {
                finished: finished.map(|placement| self.placed(id, placement)),
                claimed: claimed.map(|claimed| claimed.map(|claimed| self.took(claimed))),
            },
            Err(error) => FinishedAndClaimed {
                finished: Err(error),
                claimed: None,
            },
        }
    }

    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        let mut recovered = Vec::new();
        loop {
            let batch = self
                .inner
                .writer
                .ask(|reply| Command::Recover(RECOVER_BATCH, reply))
                .await?;
            let done = (batch.len() as i64) < RECOVER_BATCH;
            recovered.extend(batch);
            if done {
                break;
            }
        }
        if !recovered.is_empty() {
            self.inner.wakeup.wake_all();
        }
        for id in &recovered {
            self.changes().announce(*id);
        }
        let mut purged = 0;
        loop {
            let batch = self
                .inner
                .writer
                .ask(|reply| Command::Purge(PURGE_BATCH, reply))
                .await?;
            purged += batch;
            if batch < PURGE_BATCH as u64 {
                break;
            }
        }
        Ok(Maintenance { recovered, purged })
    }

    async fn wait_for_work(&self, _names: &JobNames, timeout: Duration) {
        self.inner.wakeup.wait(timeout).await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wakeup.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_built_outside_a_tokio_runtime_is_refused_with_a_reason() {
        let path = std::env::temp_dir().join(format!("asyncep-{}.db", JobId::new()));
        let built = SqliteStore::builder(path.to_string_lossy()).build();
        let error = built.expect_err("no runtime, no store");
        assert!(error.to_string().contains("Tokio runtime"), "{error}");
    }
}
