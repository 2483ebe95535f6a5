//! Jobs as the shared stores keep them: attempt records with microsecond
//! timestamps (so a script can write one without a date library), and the
//! Redis hash of short fields.

use serde::{Deserialize, Serialize};

use crate::job::{Attempt, AttemptStatus, ErrorInfo, JobId, JobStatus, RawJson, Timestamp};
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

impl StoredRun<'_> {
    /// The record without its result, when `drop` (the job keeps it).
    pub(crate) fn without_result_if(mut self, drop: bool) -> Self {
        if drop {
            self.result = None;
        }
        self
    }
}

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
