//! Between SQLite's values and asyncep's: errors, rows, lifecycles.

use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::job::{Job, JobId, Lifecycle, Timestamp};
use crate::store::StoreError;
use crate::store::record::{JobColumns, StoredAttempt, parse_status};

/// The `Retry-After` a client gets while the file is locked or unreadable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What an SQLite error means for the caller. A statement that fails rolls
/// its transaction back, so no error leaves an outcome unknown.
pub(super) fn error(error: sqlx::Error) -> StoreError {
    let unavailable = |error: sqlx::Error| StoreError::Unavailable {
        retry_after: UNAVAILABLE_RETRY_AFTER,
        source: Box::new(error),
    };
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            unavailable(error)
        }
        // SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_FULL
        // (13), SQLITE_CANTOPEN (14), in their extended forms too.
        sqlx::Error::Database(ref db)
            if db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)) =>
        {
            unavailable(error)
        }
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// A time as stored: microseconds since the Unix epoch.
pub(super) fn micros(time: Timestamp) -> i64 {
    i64::try_from(time.as_micros()).unwrap_or(i64::MAX)
}

/// A duration in microseconds.
pub(super) fn span(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn time(value: Option<i64>) -> Option<Timestamp> {
    value.map(|micros| Timestamp::from_micros(u64::try_from(micros).unwrap_or(0)))
}

fn number(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// The columns [`life`] reads, for a `SELECT`.
pub(super) const LIFE: &str = "status, retry_count, max_retries, attempts, lost_leases, token, \
     finished_token, created_at, started_at, completed_at, last_updated_at, next_attempt_at, \
     claimed_at, cancel_requested";

/// A job's lifecycle from the [`LIFE`] columns of a row.
pub(super) fn life(row: &SqliteRow) -> Result<Lifecycle, StoreError> {
    let int = |column: &str| -> Result<i64, StoreError> { row.try_get(column).map_err(error) };
    let at = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(time(row.try_get(column).map_err(error)?))
    };
    let status: String = row.try_get("status").map_err(error)?;
    let status = parse_status(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown job status `{status}`")))?;
    Ok(Lifecycle {
        status,
        retry_count: number(int("retry_count")?),
        max_retries: number(int("max_retries")?),
        attempts: number(int("attempts")?),
        lost_leases: number(int("lost_leases")?),
        token: u64::try_from(int("token")?).unwrap_or(0),
        finished_token: u64::try_from(int("finished_token")?).unwrap_or(0),
        created_at: at("created_at")?.unwrap_or_else(|| Timestamp::from_micros(0)),
        started_at: at("started_at")?,
        completed_at: at("completed_at")?,
        last_updated_at: at("last_updated_at")?.unwrap_or_else(|| Timestamp::from_micros(0)),
        next_attempt_at: at("next_attempt_at")?,
        claimed_at: at("claimed_at")?,
        cancel_requested: row.try_get("cancel_requested").map_err(error)?,
    })
}

/// A job document from a `asyncep_jobs` row with its `attempt_records`
/// (a JSON array of the attempt records).
pub(super) fn decode(row: &SqliteRow) -> Result<Job, StoreError> {
    let id = JobId::from(row.try_get::<uuid::Uuid, _>("id").map_err(error)?);
    let records: Option<String> = row.try_get("attempt_records").map_err(error)?;
    let attempts = serde_json::from_str::<Vec<StoredAttempt>>(records.as_deref().unwrap_or("[]"))
        .map_err(|e| StoreError::Corrupt(format!("job {id}: an attempt is not readable: {e}")))?
        .into_iter()
        .map(Into::into)
        .collect();
    let life = life(row)?;
    let text =
        |column: &str| -> Result<Option<String>, StoreError> { row.try_get(column).map_err(error) };
    JobColumns {
        id,
        name: row.try_get("name").map_err(error)?,
        status: life.status.as_str().to_owned(),
        retry_count: life.retry_count.into(),
        max_retries: life.max_retries.into(),
        created_at: micros(life.created_at),
        started_at: life.started_at.map(micros),
        completed_at: life.completed_at.map(micros),
        last_updated_at: micros(life.last_updated_at),
        next_attempt_at: life.next_attempt_at.map(micros),
        result: text("result")?,
        error: text("error")?,
        attempts,
        caller: text("caller")?,
        progress: text("progress")?,
        cancel_requested: life.cancel_requested,
    }
    .into_job()
}
