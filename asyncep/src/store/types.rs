use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::job::{Attempt, Fingerprint, Job, JobId, JobInput, Timestamp};

/// A job to store, as the HTTP layer accepted it.
#[derive(Debug)]
pub struct NewJob {
    /// The id: from `X-Async-Request-Id`, or fresh.
    pub id: JobId,
    /// The endpoint's job name.
    pub name: Cow<'static, str>,
    /// The endpoint's `retries`.
    pub max_retries: u32,
    /// What the handler will run with.
    pub input: JobInput,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// What a repeated request must match; `None` when the client sent no key
    /// and the id is fresh.
    pub fingerprint: Option<Fingerprint>,
}

/// The answer to [`JobStore::create`](super::JobStore::create).
#[derive(Debug)]
pub enum Created {
    /// The job was stored now.
    New(Job),
    /// The same request was stored before; this is that job, as it is now.
    Existing(Job),
}

impl Created {
    /// The job, new or not.
    pub fn job(&self) -> &Job {
        match self {
            Self::New(job) | Self::Existing(job) => job,
        }
    }
}

/// The job names a worker can run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobNames(Arc<[Cow<'static, str>]>);

impl JobNames {
    /// A set of names (sorted, without repeats).
    pub fn new(names: impl IntoIterator<Item = Cow<'static, str>>) -> Self {
        let mut names: Vec<_> = names.into_iter().collect();
        names.sort();
        names.dedup();
        Self(names.into())
    }

    /// Whether `name` is one of them.
    pub fn contains(&self, name: &str) -> bool {
        self.0.binary_search_by(|n| n.as_ref().cmp(name)).is_ok()
    }

    /// The names, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|n| n.as_ref())
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A worker's right to run a job until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job_id: JobId,
    /// The fencing token: a new one for every claim of the job. A write with
    /// an older token is refused.
    pub token: u64,
    /// When the lease runs out unless renewed.
    pub expires_at: Timestamp,
}

/// A job handed to a worker.
#[derive(Debug)]
pub struct ClaimedJob {
    /// The job's id.
    pub id: JobId,
    /// The job's name, which picks the handler.
    pub name: Cow<'static, str>,
    /// The number of this run, 1-based, counting every earlier run.
    pub attempt: u32,
    /// Retries scheduled so far.
    pub retry_count: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// What the handler runs with.
    pub input: Arc<JobInput>,
    /// The lease under which the worker runs it.
    pub lease: Lease,
}

/// The answer to [`JobStore::claim`](super::JobStore::claim).
#[derive(Debug)]
pub enum Claim {
    /// A job to run.
    Job(Box<ClaimedJob>),
    /// Nothing to run now.
    Idle {
        /// When the earliest `Scheduled` job falls due, if the store knows.
        next_due: Option<Timestamp>,
    },
}

/// What happens to a job after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// It completed: its result is the attempt's.
    Complete,
    /// It runs again after `after`; the retry count goes up by one.
    Retry {
        /// The backoff delay.
        after: Duration,
    },
    /// It failed for good: its error is the attempt's.
    Fail,
    /// It goes back to the queue at once, retry count unchanged (the attempt
    /// was interrupted).
    Requeue,
}

/// A finished attempt and what follows it.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The record of the run, appended to the job's attempts.
    pub attempt: Attempt,
    /// Where the job goes next.
    pub next: Next,
}
