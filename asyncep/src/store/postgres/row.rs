//! Between PostgreSQL's values and asyncep's: errors, durations, rows.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::job::{ErrorInfo, Job, JobId};
use crate::store::StoreError;
use crate::store::record::{JobColumns, decode_attempts};

/// The `Retry-After` a client gets while PostgreSQL is unreachable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a PostgreSQL error means for the caller.
pub(super) fn error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => StoreError::Unavailable {
            retry_after: UNAVAILABLE_RETRY_AFTER,
            source: Box::new(error),
        },
        // A connection that broke mid-statement: it may have run.
        sqlx::Error::Io(ref io)
            if io.kind() != std::io::ErrorKind::ConnectionRefused
                && io.kind() != std::io::ErrorKind::NotFound =>
        {
            StoreError::OutcomeUnknown {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source: Box::new(error),
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => StoreError::Unavailable {
            retry_after: UNAVAILABLE_RETRY_AFTER,
            source: Box::new(error),
        },
        sqlx::Error::Database(ref db) if db.code().is_some_and(|c| c.starts_with("08")) => {
            StoreError::Unavailable {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source: Box::new(error),
            }
        }
        other => StoreError::Corrupt(other.to_string()),
    }
}

pub(super) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

pub(super) fn json(info: &ErrorInfo) -> Result<String, StoreError> {
    serde_json::to_string(info).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A job document from a `jobs` row and its attempt records.
pub(super) fn decode(row: &PgRow) -> Result<Job, StoreError> {
    let id = JobId::from(row.try_get::<uuid::Uuid, _>("id").map_err(error)?);
    let records: Vec<String> = row.try_get("attempt_records").map_err(error)?;
    let number = |column: &str| -> Result<i64, StoreError> {
        Ok(i64::from(row.try_get::<i32, _>(column).map_err(error)?))
    };
    let text =
        |column: &str| -> Result<Option<String>, StoreError> { row.try_get(column).map_err(error) };
    let micros =
        |column: &str| -> Result<Option<i64>, StoreError> { row.try_get(column).map_err(error) };
    let required = |column: &str| -> Result<i64, StoreError> {
        micros(column)?.ok_or_else(|| StoreError::Corrupt(format!("job {id}: no {column}")))
    };
    JobColumns {
        id,
        name: row.try_get("name").map_err(error)?,
        status: row.try_get("status").map_err(error)?,
        retry_count: number("retry_count")?,
        max_retries: number("max_retries")?,
        created_at: required("created_at")?,
        started_at: micros("started_at")?,
        completed_at: micros("completed_at")?,
        last_updated_at: required("last_updated_at")?,
        next_attempt_at: micros("next_attempt_at")?,
        result: text("result")?,
        error: text("error")?,
        attempts: decode_attempts(id, &records)?,
        caller: text("caller")?,
        progress: text("progress")?,
        cancel_requested: row.try_get("cancel_requested").map_err(error)?,
    }
    .into_job()
}
