//! Between PostgreSQL's values and asyncep's: errors, durations, rows.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::caller::Caller;
use crate::job::{ErrorInfo, Job, JobId, RawJson, Timestamp};
use crate::store::StoreError;
use crate::store::record::{decode_attempts, parse_status, share_result};

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

pub(super) fn time(row: &PgRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    let value: Option<i64> = row.try_get(column).map_err(error)?;
    Ok(value.map(|micros| Timestamp::from_micros(u64::try_from(micros).unwrap_or(0))))
}

/// A job document from a `jobs` row and its attempt records.
pub(super) fn decode(row: &PgRow) -> Result<Job, StoreError> {
    let id: uuid::Uuid = row.try_get("id").map_err(error)?;
    let id = JobId::from(id);
    let corrupt = |what: &str| StoreError::Corrupt(format!("job {id}: {what}"));
    let status: String = row.try_get("status").map_err(error)?;
    let status = parse_status(&status).ok_or_else(|| corrupt("unknown status"))?;
    let result: Option<String> = row.try_get("result").map_err(error)?;
    let result = result
        .map(RawJson::from_text)
        .transpose()
        .map_err(|e| corrupt(&format!("result is not JSON: {e}")))?;
    let error_text: Option<String> = row.try_get("error").map_err(error)?;
    let job_error = error_text
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str::<ErrorInfo>(&e))
        .transpose()
        .map_err(|e| corrupt(&format!("error is not JSON: {e}")))?;
    let records: Vec<String> = row.try_get("attempt_records").map_err(error)?;
    let mut attempts = decode_attempts(id, &records)?;
    if status == crate::job::JobStatus::Completed {
        share_result(&mut attempts, result.as_ref());
    }
    let number = |column: &str| -> Result<u32, StoreError> {
        let value: i32 = row.try_get(column).map_err(error)?;
        Ok(u32::try_from(value).unwrap_or(0))
    };
    let caller: Option<String> = row.try_get("caller").map_err(error)?;
    Ok(Job {
        id,
        name: row.try_get::<String, _>("name").map_err(error)?.into(),
        status,
        retry_count: number("retry_count")?,
        max_retries: number("max_retries")?,
        created_at: time(row, "created_at")?.ok_or_else(|| corrupt("no creation time"))?,
        started_at: time(row, "started_at")?,
        completed_at: time(row, "completed_at")?,
        last_updated_at: time(row, "last_updated_at")?.ok_or_else(|| corrupt("no update time"))?,
        next_attempt_at: time(row, "next_attempt_at")?,
        result,
        error: job_error,
        attempts,
        caller: caller.map(Caller::new),
    })
}
