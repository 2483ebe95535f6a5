//! A job as the memory store keeps it, and what it weighs against the
//! store's byte budget.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::caller::Caller;
use crate::job::{Attempt, ErrorInfo, Fingerprint, Job, JobId, JobInput, Lifecycle, RawJson};
use crate::store::{ClaimedJob, Lease};

/// What a job costs beyond its texts: the record, its index entries.
pub(super) const JOB_OVERHEAD: usize = 384;
/// What an attempt costs beyond its texts.
const ATTEMPT_OVERHEAD: usize = 64;

/// The bytes an attempt adds to its job.
pub(super) fn attempt_weight(attempt: &Attempt) -> usize {
    ATTEMPT_OVERHEAD
        + attempt.result.as_ref().map_or(0, |r| r.get().len())
        + attempt
            .error
            .as_ref()
            .map_or(0, |e| e.code.len() + e.message.len())
}

/// A job as this store keeps it. What only some jobs have (a run history,
/// idempotency keys) is boxed, and the wire [`Job`] is built only when asked
/// for.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) name: Cow<'static, str>,
    pub(super) life: Lifecycle,
    /// What the job runs with; `None` once it completed (nothing reads a
    /// completed job's input again).
    pub(super) input: Option<Arc<JobInput>>,
    pub(super) caller: Option<Caller>,
    pub(super) history: Option<Box<History>>,
    pub(super) idempotency: Option<Box<Keys>>,
    /// About how many bytes this job holds (counted against the budget).
    pub(super) weight: usize,
    /// The sequence number of its entry in a ready queue or a retry heap:
    /// an entry with another number was left by an earlier state of the job
    /// (a cancel, or a job deleted and made again under its id) and is
    /// skipped.
    pub(super) queued: u64,
}

#[derive(Debug, Default)]
pub(super) struct History {
    pub(super) result: Option<RawJson>,
    pub(super) error: Option<ErrorInfo>,
    pub(super) progress: Option<RawJson>,
    pub(super) attempts: Vec<Attempt>,
}

#[derive(Debug)]
pub(super) struct Keys {
    pub(super) fingerprint: Fingerprint,
    pub(super) keys: Vec<String>,
}

impl Record {
    pub(super) fn job(&self, id: JobId) -> Job {
        let history = self.history.as_deref();
        let life = &self.life;
        Job {
            id,
            name: self.name.clone(),
            status: life.status,
            retry_count: life.retry_count,
            max_retries: life.max_retries,
            created_at: life.created_at,
            started_at: life.started_at,
            completed_at: life.completed_at,
            last_updated_at: life.last_updated_at,
            next_attempt_at: life.next_attempt_at,
            result: history.and_then(|h| h.result.clone()),
            error: history.and_then(|h| h.error.clone()),
            progress: history.and_then(|h| h.progress.clone()),
            cancel_requested: life.cancel_requested,
            attempts: history.map(|h| h.attempts.clone()).unwrap_or_default(),
            caller: self.caller.clone(),
        }
    }

    pub(super) fn fingerprint(&self) -> Option<Fingerprint> {
        self.idempotency.as_ref().map(|i| i.fingerprint)
    }

    pub(super) fn claimed(&self, id: JobId, ttl: Duration, waited: Duration) -> ClaimedJob {
        ClaimedJob {
            id,
            name: self.name.clone(),
            attempt: self.life.next_attempt(),
            retry_count: self.life.retry_count,
            max_retries: self.life.max_retries,
            input: self.input.clone().unwrap_or_default(),
            caller: self.caller.clone(),
            lease: Lease {
                job_id: id,
                token: self.life.token,
                ttl,
            },
            waited,
        }
    }
}
