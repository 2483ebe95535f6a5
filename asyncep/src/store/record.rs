//! Jobs as the shared stores keep them: attempt records with microsecond
//! timestamps (so a script can write one without a date library), and the
//! Redis hash of short fields.

use serde::{Deserialize, Serialize};

use crate::job::{Attempt, AttemptStatus, ErrorInfo, JobId, JobStatus, Next, RawJson, Timestamp};
use crate::store::StoreError;

/// An attempt as stored: the wire `Attempt`, with timestamps in microseconds
/// so the Lua scripts can write one without a date library.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredAttempt {
    attempt: u32,
    status: AttemptStatus,
    started_at: u64,
    finished_at: u64,
    result: Option<RawJson>,
    error: Option<ErrorInfo>,
}

#[cfg(any(feature = "redis", feature = "postgres"))]
/// An attempt as a worker sends it to `finish.lua`: without its number,
/// which the store gives (`{"status":...}`; the script writes
/// `{"attempt":N,"status":...}`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredRun<'a> {
    status: AttemptStatus,
    started_at: u64,
    finished_at: u64,
    result: Option<&'a RawJson>,
    error: Option<&'a ErrorInfo>,
}

#[cfg(any(feature = "redis", feature = "postgres"))]
impl StoredRun<'_> {
    /// The record without its result, when `drop` (the job keeps it).
    pub(crate) fn without_result_if(mut self, drop: bool) -> Self {
        if drop {
            self.result = None;
        }
        self
    }
}

#[cfg(any(feature = "redis", feature = "postgres"))]
impl<'a> From<&'a Attempt> for StoredRun<'a> {
    fn from(attempt: &'a Attempt) -> Self {
        Self {
            status: attempt.status,
            started_at: attempt.started_at.as_micros(),
            finished_at: attempt.finished_at.as_micros(),
            result: attempt.result.as_ref(),
            error: attempt.error.as_ref(),
        }
    }
}

impl From<Attempt> for StoredAttempt {
    fn from(attempt: Attempt) -> Self {
        Self {
            attempt: attempt.attempt,
            status: attempt.status,
            started_at: attempt.started_at.as_micros(),
            finished_at: attempt.finished_at.as_micros(),
            result: attempt.result,
            error: attempt.error,
        }
    }
}

impl From<StoredAttempt> for Attempt {
    fn from(stored: StoredAttempt) -> Self {
        Self {
            attempt: stored.attempt,
            status: stored.status,
            started_at: Timestamp::from_micros(stored.started_at),
            finished_at: Timestamp::from_micros(stored.finished_at),
            result: stored.result,
            error: stored.error,
        }
    }
}

/// The completing attempt's result is kept once, in the job: its record
/// reads it back from there.
/// Where a finish moves the job, as the shared stores' scripts and
/// functions name it, and the delay of a retry.
#[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
pub(crate) fn step_of(next: Next) -> (&'static str, std::time::Duration) {
    match next {
        Next::Complete => ("complete", std::time::Duration::ZERO),
        Next::Fail => ("fail", std::time::Duration::ZERO),
        Next::Retry { after } => ("retry", after),
        Next::Requeue => ("requeue", std::time::Duration::ZERO),
        Next::Cancel => ("cancel", std::time::Duration::ZERO),
    }
}

pub(crate) fn share_result(attempts: &mut [Attempt], result: Option<&RawJson>) {
    if let Some(last) = attempts
        .iter_mut()
        .rev()
        .find(|a| a.status == AttemptStatus::Succeeded)
    {
        if last.result.is_none() {
            last.result = result.cloned();
        }
    }
}

#[cfg(any(feature = "redis", feature = "postgres"))]
/// Attempt records (as `StoredAttempt` JSON) read back.
pub(crate) fn decode_attempts(id: JobId, records: &[String]) -> Result<Vec<Attempt>, StoreError> {
    records
        .iter()
        .map(|record| serde_json::from_str::<StoredAttempt>(record).map(Attempt::from))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(format!("job {id}: an attempt is not readable: {e}")))
}

pub(crate) fn parse_status(text: &str) -> Option<JobStatus> {
    Some(match text {
        "Queued" => JobStatus::Queued,
        "Scheduled" => JobStatus::Scheduled,
        "InProgress" => JobStatus::InProgress,
        "Completed" => JobStatus::Completed,
        "Failed" => JobStatus::Failed,
        "Canceled" => JobStatus::Canceled,
        _ => return None,
    })
}

/// A job's columns as the SQL stores keep them (times in microseconds),
/// read from a row by each store's driver and turned into the document
/// here, once.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[derive(Debug)]
pub(crate) struct JobColumns {
    pub(crate) id: JobId,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) retry_count: i64,
    pub(crate) max_retries: i64,
    pub(crate) created_at: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) completed_at: Option<i64>,
    pub(crate) last_updated_at: i64,
    pub(crate) next_attempt_at: Option<i64>,
    pub(crate) result: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) caller: Option<String>,
    pub(crate) progress: Option<String>,
    pub(crate) cancel_requested: bool,
}

#[cfg(any(feature = "postgres", feature = "sqlite"))]
impl JobColumns {
    /// The job document.
    pub(crate) fn into_job(self) -> Result<crate::job::Job, StoreError> {
        let id = self.id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("job {id}: {what}"));
        let status = parse_status(&self.status).ok_or_else(|| corrupt("unknown status"))?;
        let result = self
            .result
            .map(RawJson::from_text)
            .transpose()
            .map_err(|e| corrupt(&format!("result is not JSON: {e}")))?;
        let error = self
            .error
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str::<ErrorInfo>(&e))
            .transpose()
            .map_err(|e| corrupt(&format!("error is not JSON: {e}")))?;
        let mut attempts = self.attempts;
        if status == JobStatus::Completed {
            share_result(&mut attempts, result.as_ref());
        }
        let time = |micros: i64| Timestamp::from_micros(u64::try_from(micros).unwrap_or(0));
        let number = |value: i64| u32::try_from(value).unwrap_or(0);
        Ok(crate::job::Job {
            id,
            name: self.name.into(),
            status,
            retry_count: number(self.retry_count),
            max_retries: number(self.max_retries),
            created_at: time(self.created_at),
            started_at: self.started_at.map(time),
            completed_at: self.completed_at.map(time),
            last_updated_at: time(self.last_updated_at),
            next_attempt_at: self.next_attempt_at.map(time),
            result,
            error,
            progress: self
                .progress
                .map(RawJson::from_text)
                .transpose()
                .map_err(|e| corrupt(&format!("progress is not JSON: {e}")))?,
            cancel_requested: self.cancel_requested,
            attempts,
            caller: self.caller.map(crate::caller::Caller::new),
        })
    }
}
