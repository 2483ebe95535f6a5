//! The PostgreSQL store: a fleet of API and worker processes on the
//! database most teams already run.

mod claims;
mod group;
mod listener;
mod listing;
mod row;
mod schema;
mod statements;
mod turns;
mod writes;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

use self::claims::{ClaimAnswer, ClaimRow, ClaimStatements};
use self::group::Group;
use self::listener::Wakeup;
use self::row::{decode, error, json, micros, millis};
use self::statements::{Recovery, Statements, sql};
use self::turns::{TurnAnswer, TurnRow};
use self::writes::{CreateAnswer, CreateRow, FinishRow, WriteStatements, Writes};
use super::record::StoredRun;
use super::recovery::RecoveryLook;
use super::repeat::scoped_key;
use super::{
    Cancellation, Changes, ClaimRequest, Claimed, Created, FinishedAndClaimed, JobNames, JobPage,
    JobStore, Lease, ListQuery, Maintenance, NewJob, Outcome, QueueDepth, Renewal, Retention,
    Retried, StoreError,
};
use crate::job::{Job, JobId, Next, RawJson, Timestamp, failure_of};

/// The schema asyncep's tables live in, unless configured otherwise.
pub const DEFAULT_SCHEMA: &str = "asyncep";

/// Finished jobs purged per statement by `maintain`.
const PURGE_BATCH: i64 = 1000;

/// A [`JobStore`] in PostgreSQL, shared by every process that points at the
/// same database and schema.
///
/// Every operation is one call of a PL/pgSQL function, so it is atomic and
/// one round trip; claims use `FOR UPDATE SKIP LOCKED`, so workers never
/// wait on each other. Creates, claims and finishes that arrive while
/// others of their kind are being written are written together, in one
/// statement and one commit (group commit): a busy process waits for the
/// disk once per batch, not once per job, and each write still gets its
/// own answer. Leases and schedules run on the database's clock.
/// Idle workers wake on `LISTEN`/`NOTIFY` (coalesced: at most one
/// notification per ~100 ms) with a poll as a backstop, or on a poll alone
/// behind a pooler in transaction mode ([`PostgresStoreBuilder::poll_only`]).
/// Handlers hold no connection; the pool's size does not grow with the
/// number of workers.
///
/// The schema is asyncep's own (default `asyncep`): its migrations run at
/// [`start`](JobStore::start) under an advisory lock and are recorded in
/// `asyncep.asyncep_schema`, never in the application's `_sqlx_migrations`;
/// [`PostgresStore::migration_sql`] exports them for teams whose own tool
/// must apply every change.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use asyncep::store::PostgresStore;
///
/// let store = PostgresStore::builder("postgres://app@127.0.0.1/app").schema("jobs").build()?;
/// let runtime = asyncep::Runtime::builder().store(store).build()?;
/// runtime.start().await?; // migrates, and fails here if PostgreSQL cannot be used
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    schema: String,
    statements: Statements,
    write_statements: WriteStatements,
    /// Creates and finishes, committed many at a time.
    writes: Writes,
    /// Claims, made many at a time.
    claims: Group<ClaimRow, ClaimAnswer>,
    /// Workers' turns: a finish and the next claim, many at a time.
    turns: Group<TurnRow, TurnAnswer>,
    recovery: Arc<Recovery>,
    retention: Retention,
    wakeup: Wakeup,
    /// When a claim of this process last looked for expired leases.
    recovered_at: RecoveryLook,
    /// Jobs this process moved (claimed or finished) since its last vacuum.
    moved: AtomicU64,
}

/// Transitions after which `maintain` vacuums the jobs table.
const VACUUM_AFTER: u64 = 20_000;

/// Builds a [`PostgresStore`].
#[derive(Clone, Debug)]
#[must_use]
pub struct PostgresStoreBuilder {
    url: String,
    schema: String,
    retention: Retention,
    max_connections: u32,
    poll: Option<Duration>,
}

impl PostgresStoreBuilder {
    /// The schema of asyncep's tables (default `asyncep`): a lower-case
    /// identifier.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How long finished jobs are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The most connections the store's pool opens (default 10), whatever
    /// the number of workers. One more is used for `LISTEN`.
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// No `LISTEN`/`NOTIFY`: idle workers look every `interval`. For a
    /// pooler in transaction mode (PgBouncer), where `LISTEN` does not work.
    pub fn poll_only(mut self, interval: Duration) -> Self {
        self.poll = Some(interval);
        self
    }

    /// Checks the settings and builds the store. Nothing connects until the
    /// first operation (or [`JobStore::start`]). Call it inside a Tokio
    /// runtime, where its connection pool lives; outside one it is refused
    /// ([`StoreError::Misconfigured`]).
    pub fn build(self) -> Result<PostgresStore, StoreError> {
        if !schema::valid_schema(&self.schema) {
            return Err(StoreError::Misconfigured(format!(
                "`{}` is not a schema name asyncep accepts: use lower-case letters, digits and `_`",
                self.schema
            )));
        }
        let options: sqlx::postgres::PgConnectOptions = self.url.parse().map_err(|error| {
            StoreError::Misconfigured(format!(
                "`{}` is not a PostgreSQL URL: {error}",
                super::redact_url(&self.url)
            ))
        })?;
        super::in_tokio("PostgreSQL")?;
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        let statements = Statements::new(&self.schema);
        let write_statements = WriteStatements::new(&self.schema);
        let recovery = Arc::new(Recovery::new()?);
        let claim_statements = ClaimStatements::new(
            &self.schema,
            millis(self.retention.failed),
            recovery.clone(),
        );
        let claims = claims::claims(&pool, claim_statements.clone());
        let turns = turns::turns(
            &self.schema,
            &pool,
            write_statements.clone(),
            claim_statements,
            [
                millis(self.retention.completed),
                millis(self.retention.failed),
            ],
        );
        let writes = Writes::new(
            &pool,
            &write_statements,
            millis(self.retention.completed),
            millis(self.retention.failed),
        );
        let wakeup = Wakeup::new(
            pool.clone(),
            [
                schema::channel(&self.schema, ""),
                schema::channel(&self.schema, "changed"),
            ],
            self.poll,
            statements.marks.clone(),
        );
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                statements,
                write_statements,
                writes,
                claims,
                turns,
                recovery,
                schema: self.schema,
                retention: self.retention,
                wakeup,
                recovered_at: RecoveryLook::default(),
                moved: AtomicU64::new(0),
            }),
        })
    }
}

impl PostgresStore {
    /// A builder for the database at `url` (`postgres://user:pass@host/db`).
    pub fn builder(url: impl Into<String>) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            retention: Retention::default(),
            max_connections: 10,
            poll: None,
        }
    }

    /// The SQL of asyncep's migrations for `schema`, for teams whose own
    /// migration tool applies every change. Applied, it leaves the schema
    /// current, and the store's start finds nothing to do.
    pub fn migration_sql(schema: &str) -> String {
        schema::migration_sql(schema)
    }

    /// The schema of asyncep's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Stores `job` inside your own transaction: it exists if and only if
    /// the transaction commits, and idle workers hear of it at the commit
    /// (the `NOTIFY` is part of the transaction). Make the job with
    /// [`Runtime::prepare`](crate::Runtime::prepare).
    ///
    /// ```no_run,standalone_crate
    /// # use serde::{Deserialize, Serialize};
    /// # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    /// # #[derive(Serialize, Deserialize)] struct Invoice { order: i64 }
    /// # #[asyncep::async_endpoint(job = "send-invoice", post = "/invoices", handle = SendInvoice)]
    /// # async fn send(_: asyncep::AsyncContext<Invoice>) -> Result<(), String> { Ok(()) }
    /// # async fn example(runtime: asyncep::Runtime, store: asyncep::store::PostgresStore)
    /// # -> Result<(), Box<dyn std::error::Error>> {
    /// use asyncep::JobRequest;
    ///
    /// let mut tx = store.pool().begin().await?;
    /// sqlx::query("INSERT INTO orders (id) VALUES (7)").execute(&mut *tx).await?;
    /// let job = runtime.prepare(JobRequest::of::<SendInvoice>(&Invoice { order: 7 })).await?;
    /// store.create_in(&mut tx, job).await?;
    /// tx.commit().await?; // the order and its job, or neither
    /// # Ok(()) }
    /// ```
    pub async fn create_in(
        &self,
        transaction: &mut sqlx::PgConnection,
        job: NewJob,
    ) -> Result<Created, StoreError> {
        let name = job.name.clone();
        let created = self.create_on(&mut *transaction, job).await?;
        if let Created::New(_) = created {
            self.inner
                .wakeup
                .notify_on_commit(transaction, &name)
                .await?;
        }
        Ok(created)
    }

    /// `create_job` on `conn`, and the job a repeat finds, read there too.
    async fn create_on(
        &self,
        conn: &mut sqlx::PgConnection,
        job: NewJob,
    ) -> Result<Created, StoreError> {
        let answer =
            writes::create_one(&mut *conn, &self.inner.write_statements, &create_row(&job)?)
                .await?;
        match self.created(answer, job)? {
            Ok(created) => Ok(created),
            Err(id) => self.existing(&mut *conn, id).await,
        }
    }

    /// What `create_job`'s answer means for `job`: the job made, the
    /// refusal, or (`Err`) the id of the job a repeat found, to be read.
    fn created(
        &self,
        answer: CreateAnswer,
        job: NewJob,
    ) -> Result<Result<Created, JobId>, StoreError> {
        match (answer.outcome, answer.job_id) {
            (CreateAnswer::NEW, _) => {
                let created = answer
                    .created
                    .map(|c| Timestamp::from_micros(u64::try_from(c).unwrap_or(0)))
                    .unwrap_or_else(Timestamp::now);
                let mut made = Job::queued(job.id, job.name, job.max_retries, created);
                made.caller = job.caller;
                Ok(Ok(Created::New(made)))
            }
            (CreateAnswer::EXISTING, Some(id)) => Ok(Err(id.into())),
            (2, Some(id)) => Err(StoreError::IdempotencyConflict {
                existing: id.into(),
            }),
            (3, _) => Err(StoreError::IdTaken),
            other => Err(StoreError::Corrupt(format!("create answered {other:?}"))),
        }
    }

    /// The job a repeated create found.
    async fn existing<'e>(
        &self,
        executor: impl sqlx::PgExecutor<'e>,
        id: JobId,
    ) -> Result<Created, StoreError> {
        match self.get_on(executor, id).await? {
            Some(existing) => Ok(Created::Existing(existing)),
            None => Err(StoreError::Corrupt(format!(
                "job {id} vanished while being read"
            ))),
        }
    }

    async fn get_on<'e>(
        &self,
        executor: impl sqlx::PgExecutor<'e>,
        id: JobId,
    ) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sql(&self.inner.statements.get))
            .bind(id.as_uuid())
            .fetch_optional(executor)
            .await
            .map_err(error)?;
        row.as_ref().map(decode).transpose()
    }

    /// Whether a claim should look for expired leases ([`RecoveryLook`]).
    fn recovery_due(&self, lease: Duration) -> bool {
        self.inner.recovered_at.due(lease)
    }

    fn failed_ms(&self) -> i64 {
        millis(self.inner.retention.failed)
    }
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn start(&self) -> Result<(), StoreError> {
        schema::migrate(&self.inner.pool, &self.inner.schema).await?;
        self.inner.wakeup.start().await
    }

    async fn shutdown(&self) {
        self.inner.wakeup.stop();
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        let answer = self.inner.writes.creates.write(create_row(&job)?).await?;
        let created = match self.created(answer, job)? {
            Ok(created) => created,
            Err(id) => return self.existing(&self.inner.pool, id).await,
        };
        self.inner.wakeup.notify(created.job().name.as_ref()).await;
        Ok(created)
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.get_on(&self.inner.pool, id).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let rows = self.inner.claims.write(self.claim_row(request)).await?;
        self.took(claims::decode(rows)?)
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError> {
        let renewed: Option<bool> = sqlx::query_scalar(sql(&self.inner.statements.renew))
            .bind(lease.job_id.as_uuid())
            .bind(i64::try_from(lease.token).unwrap_or(i64::MAX))
            .bind(micros(period))
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(error)?;
        match renewed {
            Some(cancel_requested) => Ok(Renewal { cancel_requested }),
            None => Err(StoreError::LeaseLost { id: lease.job_id }),
        }
    }

    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError> {
        let stored: bool = sqlx::query_scalar(sql(&self.inner.statements.progress))
            .bind(lease.job_id.as_uuid())
            .bind(i64::try_from(lease.token).unwrap_or(i64::MAX))
            .bind(progress.get())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(error)?;
        if stored {
            self.changes().announce(lease.job_id);
            Ok(())
        } else {
            Err(StoreError::LeaseLost { id: lease.job_id })
        }
    }

    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError> {
        let outcome: i32 = sqlx::query_scalar(sql(&self.inner.statements.cancel))
            .bind(id.as_uuid())
            .bind(self.failed_ms())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(error)?;
        if outcome == 0 {
            return Ok(None);
        }
        // Read first: the answer shows the job as the cancel left it (its
        // worker in another process hears of it at the commit anyway).
        let job = self.get(id).await?;
        // 1: a running job marked; 3: a waiting job ended; 2: no change.
        if outcome == 1 || outcome == 3 {
            self.changes().announce_cancel(id);
        }
        Ok(job.map(|job| Cancellation {
            job,
            ended: outcome == 3,
        }))
    }

    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError> {
        let outcome: i32 = sqlx::query_scalar(sql(&self.inner.statements.retry))
            .bind(id.as_uuid())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(error)?;
        if outcome == 0 {
            return Ok(None);
        }
        let job = self.get(id).await?;
        if outcome == 2
            && let Some(job) = &job
        {
            self.changes().announce(id);
            self.inner.wakeup.notify(&job.name).await;
        }
        Ok(job.map(|job| Retried {
            job,
            queued: outcome == 2,
        }))
    }

    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        self.list_page(query).await
    }

    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        self.delete(ids).await
    }

    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        let names: Vec<&str> = names.iter().collect();
        let rows = sqlx::query(sql(&self.inner.statements.queues))
            .bind(&names)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error)?;
        rows.iter()
            .map(|row| {
                let runnable: i64 = row.try_get("runnable").map_err(error)?;
                let oldest: Option<i64> = row.try_get("oldest").map_err(error)?;
                Ok(QueueDepth {
                    runnable: u64::try_from(runnable).unwrap_or(0),
                    oldest: oldest
                        .map(|age| Duration::from_micros(u64::try_from(age).unwrap_or(0))),
                })
            })
            .collect()
    }

    async fn watch(&self, id: JobId, period: Duration) -> Result<(), StoreError> {
        self.inner.wakeup.watch_changes();
        sqlx::query(sql(&self.inner.statements.watch))
            .bind(id.as_uuid())
            .bind(micros(period))
            .execute(&self.inner.pool)
            .await
            .map_err(error)?;
        Ok(())
    }

    fn changes(&self) -> &Arc<Changes> {
        self.inner.wakeup.changes()
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let next = outcome.next;
        let done = self
            .inner
            .writes
            .finishes
            .write(self.finish_row(lease, outcome)?)
            .await?;
        self.finished(lease, next, done)
    }

    async fn finish_and_claim(
        &self,
        lease: &Lease,
        outcome: Outcome,
        request: &ClaimRequest,
    ) -> FinishedAndClaimed {
        let next = outcome.next;
        let row = match self.finish_row(lease, outcome) {
            Ok(finish) => TurnRow {
                finish,
                claim: self.claim_row(request),
            },
            Err(error) => {
                return FinishedAndClaimed {
                    finished: Err(error),
                    claimed: Some(self.claim(request).await),
                };
            }
        };
        match self.inner.turns.write(row).await {
            Ok(TurnAnswer { done, claimed }) => FinishedAndClaimed {
                finished: done.and_then(|done| self.finished(lease, next, done)),
                claimed: claimed
                    .map(|rows| rows.and_then(claims::decode).and_then(|c| self.took(c))),
            },
            Err(error) => FinishedAndClaimed {
                finished: Err(error),
                claimed: Some(Err(turns::unanswered())),
            },
        }
    }

    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        let recovered: Vec<uuid::Uuid> = sqlx::query_scalar(sql(&self.inner.statements.recover))
            .bind(self.failed_ms())
            .bind(self.inner.recovery.max_lost)
            .bind(self.inner.recovery.interrupted.as_str())
            .bind(self.inner.recovery.lost.as_str())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error)?;
        if !recovered.is_empty() {
            self.inner.wakeup.wake_all();
        }
        for id in &recovered {
            self.changes().announce(JobId::from(*id));
        }
        let mut purged = 0;
        loop {
            let done = sqlx::query(sql(&self.inner.statements.purge))
                .bind(PURGE_BATCH)
                .execute(&self.inner.pool)
                .await
                .map_err(error)?;
            purged += done.rows_affected();
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        sqlx::query(sql(&self.inner.statements.unwatch))
            .execute(&self.inner.pool)
            .await
            .map_err(error)?;
        if self.inner.moved.load(Ordering::Relaxed) >= VACUUM_AFTER {
            self.inner.moved.store(0, Ordering::Relaxed);
            // Outside a transaction, so as a simple query; a vacuum already
            // running (another process's) is skipped, not waited for.
            if let Err(failure) = sqlx::raw_sql(sql(&self.inner.statements.vacuum))
                .execute(&self.inner.pool)
                .await
            {
                tracing::debug!(error = %failure, "could not vacuum the jobs table");
            }
        }
        Ok(Maintenance {
            recovered: recovered.into_iter().map(JobId::from).collect(),
            purged,
        })
    }

    async fn wait_for_work(&self, _names: &JobNames, timeout: Duration) {
        self.inner.wakeup.wait(timeout).await;
    }
}

impl PostgresStore {
    fn claim_row(&self, request: &ClaimRequest) -> ClaimRow {
        ClaimRow {
            names: request.names.iter().map(str::to_owned).collect(),
            lease: micros(request.lease),
            limit: i32::try_from(request.limit).unwrap_or(i32::MAX),
            claim: uuid::Uuid::from_u128(request.id.0),
            repeat: request.repeat,
            recover: self.recovery_due(request.lease),
        }
    }

    /// Counts and announces the jobs a claim took.
    fn took(&self, claimed: Claimed) -> Result<Claimed, StoreError> {
        self.inner
            .moved
            .fetch_add(claimed.jobs.len() as u64, Ordering::Relaxed);
        for job in &claimed.jobs {
            self.changes().announce(job.id);
        }
        Ok(claimed)
    }

    /// The arguments of `finish_job` for `outcome` under `lease`.
    fn finish_row(&self, lease: &Lease, outcome: Outcome) -> Result<FinishRow, StoreError> {
        let Outcome { attempt, next } = outcome;
        let record = serde_json::to_string(
            &StoredRun::from(&attempt).without_result_if(next == Next::Complete),
        )
        .map_err(|e| StoreError::Corrupt(format!("the attempt cannot be written: {e}")))?;
        let job_error = match (&attempt.error, next) {
            (Some(info), _) => Some(json(info)?),
            (None, Next::Fail) => Some(json(&failure_of(&attempt))?),
            (None, _) => None,
        };
        let (step, delay) = super::record::step_of(next);
        Ok(FinishRow {
            id: lease.job_id.as_uuid(),
            token: i64::try_from(lease.token).unwrap_or(i64::MAX),
            step,
            record,
            result: attempt.result.as_ref().map(|r| r.get().to_owned()),
            error: job_error,
            delay: micros(delay),
        })
    }

    /// What `finish_job`'s answer means, announced.
    fn finished(&self, lease: &Lease, next: Next, done: i32) -> Result<(), StoreError> {
        self.inner.moved.fetch_add(1, Ordering::Relaxed);
        match done {
            1 => {
                self.changes().announce(lease.job_id);
                if matches!(next, Next::Retry { .. } | Next::Requeue) {
                    self.inner.wakeup.wake_all();
                }
                Ok(())
            }
            2 => Ok(()),
            _ => Err(StoreError::LeaseLost { id: lease.job_id }),
        }
    }
}

/// The arguments of `create_job` for `job`.
fn create_row(job: &NewJob) -> Result<CreateRow, StoreError> {
    let input = serde_json::to_string(&job.input)
        .map_err(|e| StoreError::Corrupt(format!("the job input cannot be written: {e}")))?;
    let idempotency = job.idempotency.as_ref();
    Ok(CreateRow {
        id: job.id.as_uuid(),
        name: job.name.clone().into_owned(),
        max_retries: i32::try_from(job.max_retries).unwrap_or(i32::MAX),
        input,
        fingerprint: idempotency.map(|i| i.fingerprint.0.to_vec()),
        key: idempotency
            .and_then(|i| i.key.as_deref())
            .map(|key| scoped_key(job.caller.as_ref(), key)),
        caller: job.caller.as_ref().map(|c| c.as_str().to_owned()),
    })
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
        let built = PostgresStore::builder("postgres://127.0.0.1/test").build();
        let error = built.expect_err("no runtime, no store");
        assert!(error.to_string().contains("Tokio runtime"), "{error}");
    }
}
