//! Each store operation as statements inside one `BEGIN IMMEDIATE`
//! transaction: read a job's lifecycle, apply the transition with the same
//! code the memory store runs ([`Lifecycle::apply`]), write it back. There
//! is no second copy of the state machine to keep in step.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Row, SqliteConnection};

use super::row::{LIFE, decode, error, life, micros, span};
use crate::caller::Caller;
use crate::job::{
    Applied, End, Event, Fingerprint, Job, JobId, JobStatus, Lifecycle, Placement, RawJson,
    Refusal, Step, Timestamp,
};
use crate::store::record::StoredAttempt;
use crate::store::repeat::{Decision, Found, decide, scoped_key};
use crate::store::{
    ClaimRequest, Claimed, ClaimedJob, Created, Lease, NewJob, Outcome, QueueDepth, Retention,
    StoreError,
};

/// Expired leases recovered per statement.
pub(super) const RECOVER_BATCH: i64 = 500;

/// Due retries made runnable per claim.
const PROMOTE_BATCH: i64 = 100;

/// The job document by id, unless its retention ended.
const GET: &str = "SELECT j.*, (SELECT json_group_array(json(a.record)) FROM asyncep_attempts a \
     WHERE a.job_id = j.id) AS attempt_records \
     FROM asyncep_jobs j WHERE j.id = ?1 AND (j.expires_at IS NULL OR j.expires_at > ?2)";

/// Everything a transition writes, in one statement for every transition.
const WRITE: &str = "UPDATE asyncep_jobs SET status = ?1, retry_count = ?2, attempts = ?3, \
     lost_leases = ?4, token = ?5, finished_token = ?6, started_at = ?7, completed_at = ?8, \
     last_updated_at = ?9, next_attempt_at = ?10, claimed_at = ?11, ready = ?12, run_at = ?13, \
     seq = coalesce(?14, seq), claim_id = coalesce(?15, claim_id), \
     lease_expires_at = coalesce(?16, CASE WHEN ?1 = 'InProgress' THEN lease_expires_at END), \
     expires_at = ?17, result = coalesce(?18, result), \
     error = CASE WHEN ?23 THEN NULL ELSE coalesce(?19, error) END, \
     input = CASE WHEN ?20 THEN NULL ELSE input END, cancel_requested = ?22 WHERE id = ?21";

/// One operation's transaction: the connection, the time it runs at (the
/// one clock of every process on the machine), and the retention.
pub(super) struct Operation<'c> {
    pub(super) conn: &'c mut SqliteConnection,
    pub(super) now: Timestamp,
    pub(super) retention: Retention,
}

/// The answer of a create, before the transaction commits.
pub(super) enum Admitted {
    New(Job),
    Existing(Job),
    Conflict(JobId),
    Taken,
}

impl Operation<'_> {
    /// The job, read inside the transaction.
    pub(super) async fn get(&mut self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(GET)
            .bind(id.as_uuid())
            .bind(micros(self.now))
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(error)?;
        row.as_ref().map(decode).transpose()
    }

    /// `count` fresh values of the counter `name`: the first of them.
    async fn next(&mut self, name: &str, count: i64) -> Result<i64, StoreError> {
        let top: i64 = sqlx::query_scalar(
            "UPDATE asyncep_counters SET value = value + ?2 WHERE name = ?1 RETURNING value",
        )
        .bind(name)
        .bind(count)
        .fetch_one(&mut *self.conn)
        .await
        .map_err(error)?;
        Ok(top - count + 1)
    }

    /// Stores `new`, or finds the job it repeats: the rule of
    /// `store/repeat.rs`, run on what the tables hold.
    pub(super) async fn create(&mut self, new: NewJob) -> Result<Admitted, StoreError> {
        let now = micros(self.now);
        let id = new.id.as_uuid();
        sqlx::query("DELETE FROM asyncep_jobs WHERE id = ?1 AND expires_at <= ?2")
            .bind(id)
            .bind(now)
            .execute(&mut *self.conn)
            .await
            .map_err(error)?;
        let by_id = sqlx::query("SELECT fingerprint, caller FROM asyncep_jobs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(error)?;
        let by_id = match by_id {
            Some(row) => {
                let caller: Option<String> = row.try_get("caller").map_err(error)?;
                Some((
                    fingerprint(row.try_get("fingerprint").map_err(error)?),
                    caller.as_deref() == new.caller.as_ref().map(Caller::as_str),
                ))
            }
            None => None,
        };
        let key = new
            .idempotency
            .as_ref()
            .and_then(|i| i.key.as_deref())
            .map(|key| scoped_key(new.caller.as_ref(), key));
        let by_key = match &key {
            Some(key) => sqlx::query(
                "SELECT j.id, j.fingerprint FROM asyncep_keys k \
                 JOIN asyncep_jobs j ON j.id = k.job_id \
                 WHERE k.scoped_key = ?1 AND (j.expires_at IS NULL OR j.expires_at > ?2)",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(error)?
            .map(|row| -> Result<_, StoreError> {
                let job: uuid::Uuid = row.try_get("id").map_err(error)?;
                Ok((
                    JobId::from(job),
                    fingerprint(row.try_get("fingerprint").map_err(error)?),
                ))
            })
            .transpose()?,
            None => None,
        };
        let print = new.idempotency.as_ref().map(|i| i.fingerprint);
        match decide(new.id, print, Found { by_key, by_id }) {
            Decision::Conflict { job } => Ok(Admitted::Conflict(job)),
            Decision::Taken => Ok(Admitted::Taken),
            Decision::Existing { job, record_key } => {
                if let (true, Some(key)) = (record_key, &key) {
                    self.record_key(key, job).await?;
                }
                match self.get(job).await? {
                    Some(existing) => Ok(Admitted::Existing(existing)),
                    None => Err(StoreError::Corrupt(format!(
                        "job {job} vanished while read"
                    ))),
                }
            }
            Decision::Create => {
                let input = serde_json::to_string(&new.input).map_err(|e| {
                    StoreError::Corrupt(format!("the job input cannot be written: {e}"))
                })?;
                let seq = self.next("seq", 1).await?;
                sqlx::query(
                    "INSERT INTO asyncep_jobs (id, name, caller, status, max_retries, input, \
                     fingerprint, created_at, last_updated_at, run_at, ready, seq) \
                     VALUES (?1, ?2, ?3, 'Queued', ?4, ?5, ?6, ?7, ?7, ?7, 1, ?8)",
                )
                .bind(id)
                .bind(new.name.as_ref())
                .bind(new.caller.as_ref().map(Caller::as_str))
                .bind(i64::from(new.max_retries))
                .bind(input)
                .bind(print.map(|p| p.0.to_vec()))
                .bind(now)
                .bind(seq)
                .execute(&mut *self.conn)
                .await
                .map_err(error)?;
                if let Some(key) = &key {
                    self.record_key(key, new.id).await?;
                }
                let mut job = Job::queued(new.id, new.name, new.max_retries, self.now);
                job.caller = new.caller;
                Ok(Admitted::New(job))
            }
        }
    }

    async fn record_key(&mut self, key: &str, job: JobId) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO asyncep_keys (scoped_key, job_id) VALUES (?1, ?2) \
             ON CONFLICT (scoped_key) DO UPDATE SET job_id = excluded.job_id",
        )
        .bind(key)
        .bind(job.as_uuid())
        .execute(&mut *self.conn)
        .await
        .map_err(error)?;
        Ok(())
    }

    /// A repeated claim's live jobs; else recovery, due retries made
    /// runnable, and up to `limit` runnable jobs taken, oldest first.
    pub(super) async fn claim(&mut self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let claim = uuid::Uuid::from_u128(request.id.0);
        if request.repeat {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, name, input, caller, {LIFE}, lease_expires_at FROM asyncep_jobs \
                 WHERE status = 'InProgress' AND claim_id = ?1 AND lease_expires_at > ?2 \
                 ORDER BY token"
            )))
            .bind(claim)
            .bind(micros(self.now))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(error)?;
            if !rows.is_empty() {
                let mut claimed = Claimed::default();
                for row in &rows {
                    let left: i64 = row.try_get("lease_expires_at").map_err(error)?;
                    let left = u64::try_from(left - micros(self.now)).unwrap_or(0);
                    let left = Duration::from_micros(left);
                    claimed
                        .jobs
                        .push(claimed_job(row, &life(row)?, left, Duration::ZERO)?);
                }
                return Ok(claimed);
            }
        }
        self.recover(RECOVER_BATCH).await?;
        let names = serde_json::to_string(&request.names.iter().collect::<Vec<_>>())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.promote_due(&names).await?;
        let rows = self.runnable(request).await?;
        let mut claimed = Claimed::default();
        if rows.is_empty() {
            let due: Option<i64> = sqlx::query_scalar(
                "SELECT min(run_at) FROM asyncep_jobs WHERE status = 'Scheduled' AND ready = 0 \
                 AND name IN (SELECT value FROM json_each(?1))",
            )
            .bind(&names)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(error)?;
            claimed.next_due = due.map(|due| {
                Duration::from_micros(u64::try_from(due - micros(self.now)).unwrap_or(0))
            });
            return Ok(claimed);
        }
        let first = self.next("token", rows.len() as i64).await?;
        for (token, row) in (first..).zip(&rows) {
            let id = JobId::from(row.try_get::<uuid::Uuid, _>("id").map_err(error)?);
            // A ready job's `run_at` is when it became runnable.
            let since: i64 = row.try_get("run_at").map_err(error)?;
            let waited =
                Duration::from_micros(u64::try_from(micros(self.now) - since).unwrap_or(0));
            let mut life = life(row)?;
            let token = u64::try_from(token).unwrap_or(0);
            let step = applied(life.apply(Event::Claim { token }, self.now), id)?;
            self.write(id, &life, step, Some((claim, request.lease)))
                .await?;
            claimed
                .jobs
                .push(claimed_job(row, &life, request.lease, waited)?);
        }
        Ok(claimed)
    }

    /// Up to `limit` runnable jobs of the names asked, oldest first: one
    /// index range per name, so a long queue costs no sort.
    async fn runnable(
        &mut self,
        request: &ClaimRequest,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, StoreError> {
        let one = |n: usize| {
            format!(
                "SELECT * FROM (SELECT id, name, input, caller, run_at, seq, {LIFE} \
                 FROM asyncep_jobs WHERE ready = 1 AND name = ?{n} ORDER BY run_at, seq LIMIT ?1)"
            )
        };
        let parts: Vec<String> = (2..request.names.len() + 2).map(one).collect();
        let sql = format!(
            "{} ORDER BY run_at, seq LIMIT ?1",
            parts.join(" UNION ALL ")
        );
        let mut query =
            sqlx::query(AssertSqlSafe(sql)).bind(i64::try_from(request.limit).unwrap_or(i64::MAX));
        for name in request.names.iter() {
            query = query.bind(name);
        }
        query.fetch_all(&mut *self.conn).await.map_err(error)
    }

    /// How the queue of `name` stands: its ready jobs and due retries,
    /// each counted on the claim's partial indexes.
    pub(super) async fn queue_depth(&mut self, name: &str) -> Result<QueueDepth, StoreError> {
        let now = micros(self.now);
        let (runnable, since): (i64, Option<i64>) = sqlx::query_as(
            "WITH ready AS (SELECT count(*) AS n, min(run_at) AS since FROM asyncep_jobs \
               WHERE ready = 1 AND name = ?1), \
             due AS (SELECT count(*) AS n, min(run_at) AS since FROM asyncep_jobs \
               WHERE status = 'Scheduled' AND ready = 0 AND name = ?1 AND run_at <= ?2) \
             SELECT ready.n + due.n, min(coalesce(ready.since, due.since), \
               coalesce(due.since, ready.since)) FROM ready, due",
        )
        .bind(name)
        .bind(now)
        .fetch_one(&mut *self.conn)
        .await
        .map_err(error)?;
        Ok(QueueDepth {
            runnable: u64::try_from(runnable).unwrap_or(0),
            oldest: since
                .map(|since| Duration::from_micros(u64::try_from(now - since).unwrap_or(0))),
        })
    }

    /// Makes the due retries of `names` (a JSON array) runnable, earliest
    /// due first, a microsecond apart.
    async fn promote_due(&mut self, names: &str) -> Result<(), StoreError> {
        let now = micros(self.now);
        let due: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM asyncep_jobs WHERE status = 'Scheduled' AND ready = 0 \
             AND name IN (SELECT value FROM json_each(?1)) AND run_at <= ?2 \
             ORDER BY run_at, id LIMIT ?3",
        )
        .bind(names)
        .bind(now)
        .bind(PROMOTE_BATCH)
        .fetch_all(&mut *self.conn)
        .await
        .map_err(error)?;
        if due.is_empty() {
            return Ok(());
        }
        let first = self.next("seq", due.len() as i64).await?;
        for (k, id) in (0_i64..).zip(due) {
            sqlx::query("UPDATE asyncep_jobs SET ready = 1, run_at = ?2, seq = ?3 WHERE id = ?1")
                .bind(id)
                .bind(now + k)
                .bind(first + k)
                .execute(&mut *self.conn)
                .await
                .map_err(error)?;
        }
        Ok(())
    }

    /// Applies `LeaseExpired` to up to `limit` jobs whose lease ended,
    /// earliest first; returns their ids.
    pub(super) async fn recover(&mut self, limit: i64) -> Result<Vec<JobId>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, {LIFE} FROM asyncep_jobs WHERE status = 'InProgress' \
             AND lease_expires_at <= ?1 ORDER BY lease_expires_at, id LIMIT ?2"
        )))
        .bind(micros(self.now))
        .bind(limit)
        .fetch_all(&mut *self.conn)
        .await
        .map_err(error)?;
        let mut recovered = Vec::with_capacity(rows.len());
        for row in rows {
            let id = JobId::from(row.try_get::<uuid::Uuid, _>("id").map_err(error)?);
            let mut life = life(&row)?;
            let step = applied(life.apply(Event::LeaseExpired, self.now), id)?;
            self.write(id, &life, step, None).await?;
            recovered.push(id);
        }
        Ok(recovered)
    }

    /// Extends the lease to `period` from now, if it is still the job's:
    /// `None` if not, else whether a cancel was asked.
    pub(super) async fn renew(
        &mut self,
        lease: &Lease,
        period: Duration,
    ) -> Result<Option<bool>, StoreError> {
        sqlx::query_scalar(
            "UPDATE asyncep_jobs SET lease_expires_at = ?3 \
             WHERE id = ?1 AND token = ?2 AND status = 'InProgress' RETURNING cancel_requested",
        )
        .bind(lease.job_id.as_uuid())
        .bind(i64::try_from(lease.token).unwrap_or(i64::MAX))
        .bind(micros(self.now) + span(period))
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(error)
    }

    /// Keeps the latest progress, if the lease is still the job's.
    pub(super) async fn progress(
        &mut self,
        lease: &Lease,
        progress: &RawJson,
    ) -> Result<bool, StoreError> {
        let stored = sqlx::query(
            "UPDATE asyncep_jobs SET progress = ?3, last_updated_at = ?4 \
             WHERE id = ?1 AND token = ?2 AND status = 'InProgress'",
        )
        .bind(lease.job_id.as_uuid())
        .bind(i64::try_from(lease.token).unwrap_or(i64::MAX))
        .bind(progress.get())
        .bind(micros(self.now))
        .execute(&mut *self.conn)
        .await
        .map_err(error)?;
        Ok(stored.rows_affected() == 1)
    }

    /// Applies `Cancel`: returns the job as it is after and whether it
    /// changed, or `None` when there is no such job.
    pub(super) async fn cancel(&mut self, id: JobId) -> Result<Option<(Job, bool)>, StoreError> {
        self.apply_asked(id, Event::Cancel).await
    }

    /// Applies `Retry`: returns the job as it is after and whether it was
    /// queued again, or `None` when there is no such job.
    pub(super) async fn retry(&mut self, id: JobId) -> Result<Option<(Job, bool)>, StoreError> {
        self.apply_asked(id, Event::Retry).await
    }

    /// Applies an event a client or an operator asked for (a refusal is an
    /// answer, not an error): the job as it is after, and whether it moved.
    async fn apply_asked(
        &mut self,
        id: JobId,
        event: Event,
    ) -> Result<Option<(Job, bool)>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LIFE} FROM asyncep_jobs WHERE id = ?1 \
             AND (expires_at IS NULL OR expires_at > ?2)"
        )))
        .bind(id.as_uuid())
        .bind(micros(self.now))
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut life = life(&row)?;
        let moved = match life.apply(event, self.now) {
            Ok(Applied::Moved(step)) => {
                self.write(id, &life, step, None).await?;
                true
            }
            Ok(Applied::AlreadyApplied) | Err(_) => false,
        };
        Ok(self.get(id).await?.map(|job| (job, moved)))
    }

    /// Applies `Finish` under `lease`. Returns where the job now stands, or
    /// `None` for a finish repeated after a lost reply (nothing changes).
    pub(super) async fn finish(
        &mut self,
        lease: &Lease,
        outcome: Outcome,
    ) -> Result<Option<Placement>, StoreError> {
        let id = lease.job_id;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LIFE} FROM asyncep_jobs WHERE id = ?1"
        )))
        .bind(id.as_uuid())
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(error)?;
        let Some(row) = row else {
            return Err(StoreError::LeaseLost { id });
        };
        let mut life = life(&row)?;
        let event = Event::Finish {
            token: lease.token,
            attempt: outcome.attempt,
            next: outcome.next,
        };
        match life.apply(event, self.now) {
            Ok(Applied::Moved(step)) => {
                let placement = step.placement;
                self.write(id, &life, step, None).await?;
                Ok(Some(placement))
            }
            Ok(Applied::AlreadyApplied) => Ok(None),
            Err(_) => Err(StoreError::LeaseLost { id }),
        }
    }

    /// Writes a transition's result: the lifecycle, where the job now
    /// stands, the attempt it recorded and its end.
    async fn write(
        &mut self,
        id: JobId,
        life: &Lifecycle,
        step: Step,
        claim: Option<(uuid::Uuid, Duration)>,
    ) -> Result<(), StoreError> {
        let now = self.now;
        let (ready, run_at, lease_ends, expires) = match step.placement {
            // A claim starts a lease; another step of a running job (a
            // cancel's mark) keeps the one it has.
            Placement::Running => (
                false,
                None,
                claim.map(|(_, lease)| micros(now) + span(lease)),
                None,
            ),
            Placement::Ready => (true, Some(micros(now)), None, None),
            Placement::Scheduled { after } => (false, Some(micros(now + after)), None, None),
            Placement::Finished => {
                let keep = if life.status == JobStatus::Completed {
                    self.retention.completed
                } else {
                    self.retention.failed
                };
                (false, None, None, Some(micros(now + keep)))
            }
        };
        let seq = match step.placement {
            Placement::Ready => Some(self.next("seq", 1).await?),
            _ => None,
        };
        let (result, failure) = match &step.end {
            Some(End::Completed(result)) => (result.as_ref().map(|r| r.get().to_owned()), None),
            Some(End::Failed(info) | End::Canceled(info)) => (
                None,
                Some(serde_json::to_string(info).map_err(|e| StoreError::Corrupt(e.to_string()))?),
            ),
            None => (None, None),
        };
        let completed = matches!(step.end, Some(End::Completed(_)));
        let reopened = step.reopened;
        if let Some(mut attempt) = step.attempt {
            if completed {
                // The job keeps the result; its record reads it from there.
                attempt.result = None;
            }
            let number = attempt.attempt;
            let record = serde_json::to_string(&StoredAttempt::from(attempt))
                .map_err(|e| StoreError::Corrupt(format!("the attempt cannot be written: {e}")))?;
            sqlx::query(
                "INSERT INTO asyncep_attempts (job_id, attempt, record) VALUES (?1, ?2, ?3)",
            )
            .bind(id.as_uuid())
            .bind(i64::from(number))
            .bind(record)
            .execute(&mut *self.conn)
            .await
            .map_err(error)?;
        }
        let token = |token: u64| i64::try_from(token).unwrap_or(i64::MAX);
        sqlx::query(WRITE)
            .bind(life.status.as_str())
            .bind(i64::from(life.retry_count))
            .bind(i64::from(life.attempts))
            .bind(i64::from(life.lost_leases))
            .bind(token(life.token))
            .bind(token(life.finished_token))
            .bind(life.started_at.map(micros))
            .bind(life.completed_at.map(micros))
            .bind(micros(life.last_updated_at))
            .bind(life.next_attempt_at.map(micros))
            .bind(life.claimed_at.map(micros))
            .bind(ready)
            .bind(run_at)
            .bind(seq)
            .bind(claim.map(|(claim, _)| claim))
            .bind(lease_ends)
            .bind(expires)
            .bind(result)
            .bind(failure)
            .bind(completed)
            .bind(id.as_uuid())
            .bind(life.cancel_requested)
            .bind(reopened)
            .execute(&mut *self.conn)
            .await
            .map_err(error)?;
        Ok(())
    }

    /// Drops up to `limit` finished jobs whose retention ended.
    pub(super) async fn purge(&mut self, limit: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM asyncep_jobs WHERE id IN (SELECT id FROM asyncep_jobs \
             WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .bind(micros(self.now))
        .bind(limit)
        .execute(&mut *self.conn)
        .await
        .map_err(error)?;
        Ok(done.rows_affected())
    }
}

/// A fingerprint column read back.
fn fingerprint(bytes: Option<Vec<u8>>) -> Option<Fingerprint> {
    bytes.and_then(|bytes| <[u8; 16]>::try_from(bytes).ok().map(Fingerprint))
}

/// The step of a transition the store itself chose, which cannot be refused.
fn applied(applied: Result<Applied, Refusal>, id: JobId) -> Result<Step, StoreError> {
    match applied {
        Ok(Applied::Moved(step)) => Ok(step),
        other => Err(StoreError::Corrupt(format!(
            "job {id}: the store's own transition was refused: {other:?}"
        ))),
    }
}

/// A claimed job from its row and its lifecycle after the claim.
fn claimed_job(
    row: &sqlx::sqlite::SqliteRow,
    life: &Lifecycle,
    ttl: Duration,
    waited: Duration,
) -> Result<ClaimedJob, StoreError> {
    let id = JobId::from(row.try_get::<uuid::Uuid, _>("id").map_err(error)?);
    let input: Option<String> = row.try_get("input").map_err(error)?;
    let input = serde_json::from_str(input.as_deref().unwrap_or("{}"))
        .map_err(|e| StoreError::Corrupt(format!("job {id}: the input is not readable: {e}")))?;
    let caller: Option<String> = row.try_get("caller").map_err(error)?;
    Ok(ClaimedJob {
        id,
        name: row.try_get::<String, _>("name").map_err(error)?.into(),
        attempt: life.next_attempt(),
        retry_count: life.retry_count,
        max_retries: life.max_retries,
        input: Arc::new(input),
        caller: caller.map(Caller::new),
        lease: Lease {
            job_id: id,
            token: life.token,
            ttl,
        },
        waited,
    })
}

/// What a create answers once its transaction committed.
pub(super) fn created(admitted: Admitted) -> Result<Created, StoreError> {
    match admitted {
        Admitted::New(job) => Ok(Created::New(job)),
        Admitted::Existing(job) => Ok(Created::Existing(job)),
        Admitted::Conflict(existing) => Err(StoreError::IdempotencyConflict { existing }),
        Admitted::Taken => Err(StoreError::IdTaken),
    }
}
