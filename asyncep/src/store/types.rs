use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::StoreError;
use crate::caller::Caller;
use crate::job::{Attempt, Fingerprint, JobId, JobInput, Next};

/// A job to store, as the HTTP layer (or code) submits it.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// The id: from `X-Async-Request-Id`, or fresh.
    pub id: JobId,
    /// The endpoint's job name.
    pub name: Cow<'static, str>,
    /// The endpoint's `retries`.
    pub max_retries: u32,
    /// What the handler will run with.
    pub input: JobInput,
    /// What makes a repeat of this request find this job; `None` when the
    /// client named neither a key nor an id.
    pub idempotency: Option<Idempotency>,
    /// Who submitted it: only this caller reads the job, and its keys are
    /// this caller's own.
    pub caller: Option<Caller>,
}

/// How a repeated request finds the job it repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idempotency {
    /// The `Idempotency-Key`, if the client sent one (a client-chosen id
    /// alone is its own key).
    pub key: Option<String>,
    /// What a repeat must match: another request with the same key or id is
    /// a conflict.
    pub fingerprint: Fingerprint,
}

/// The answer to [`JobStore::create`](super::JobStore::create).
#[derive(Debug)]
pub enum Created {
    /// The job was stored now.
    New(crate::job::Job),
    /// The same request was stored before; this is that job, as it is now.
    Existing(crate::job::Job),
}

impl Created {
    /// The job, new or not.
    pub fn job(&self) -> &crate::job::Job {
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

/// Names one claim, so that a claim repeated after a lost reply gets the
/// jobs the first one took instead of orphaning them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimId(pub u128);

impl ClaimId {
    /// A fresh random claim id.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().as_u128())
    }
}

impl Default for ClaimId {
    fn default() -> Self {
        Self::new()
    }
}

/// What a worker asks of [`JobStore::claim`](super::JobStore::claim).
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    /// Only jobs of these names.
    pub names: JobNames,
    /// The lease each claimed job is held under.
    pub lease: Duration,
    /// At most this many new jobs. A repeat with `limit: 0` only looks for
    /// the jobs of the claim it repeats (a stopping worker sends one).
    pub limit: usize,
    /// The claim's id: a fresh one for each new claim.
    pub id: ClaimId,
    /// This request repeats the claim `id`, whose answer was lost: the
    /// store first answers with the jobs that claim took, if any still run
    /// under it. (Only a repeat looks, so a new claim costs nothing more.)
    pub repeat: bool,
}

/// A worker's right to run a job, for `ttl` from the moment it asked.
///
/// Leases carry a duration, never a timestamp of the store's clock: the
/// worker measures it on its own monotonic clock from when it sent the
/// request, so clocks that disagree, or jump, do not matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job_id: JobId,
    /// The fencing token: greater than every token the store gave before. A
    /// write with an older token is refused.
    pub token: u64,
    /// How long the lease runs unless renewed.
    pub ttl: Duration,
}

/// The answer to [`JobStore::renew`](super::JobStore::renew).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Renewal {
    /// A client asked to cancel the job: the worker stops its handler.
    pub cancel_requested: bool,
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
    /// Who submitted it.
    pub caller: Option<Caller>,
    /// The lease under which the worker runs it.
    pub lease: Lease,
    /// How long the job waited to run: from when it became runnable (its
    /// submit, a retry falling due, a requeue) to this claim, on the store's
    /// clock. Zero in the answer to a repeated claim.
    pub waited: Duration,
}

/// The answer to [`JobStore::claim`](super::JobStore::claim).
#[derive(Debug, Default)]
pub struct Claimed {
    /// The jobs now leased to the caller, oldest first; empty when nothing
    /// is runnable.
    pub jobs: Vec<ClaimedJob>,
    /// When nothing was runnable: how long until the earliest `Scheduled`
    /// job falls due, measured on the store's clock.
    pub next_due: Option<Duration>,
}

/// The answer to [`JobStore::finish_and_claim`](super::JobStore::finish_and_claim).
#[derive(Debug)]
pub struct FinishedAndClaimed {
    /// What the finish answered, as [`JobStore::finish`](super::JobStore::finish) would.
    pub finished: Result<(), StoreError>,
    /// What the claim answered, as [`JobStore::claim`](super::JobStore::claim)
    /// would; `None` when no claim was made (the finish failed in a way
    /// that may pass).
    pub claimed: Option<Result<Claimed, StoreError>>,
}

/// The answer to [`JobStore::cancel`](super::JobStore::cancel).
#[derive(Debug)]
pub struct Cancellation {
    /// The job as the cancel left it.
    pub job: crate::job::Job,
    /// This cancel ended the job: it was waiting, and is `Canceled` now. A
    /// running job's cancel only marks it (its worker ends it), and a
    /// repeat changes nothing.
    pub ended: bool,
}

/// The answer to [`JobStore::retry`](super::JobStore::retry).
#[derive(Debug)]
pub struct Retried {
    /// The job as it is now.
    pub job: crate::job::Job,
    /// This call queued the job again (it was `Failed`); otherwise the job
    /// was left as it is.
    pub queued: bool,
}

/// How one job name's queue stands, as
/// [`JobStore::queue_depths`](super::JobStore::queue_depths) reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Jobs that could run now: waiting in the queue, or a retry that fell
    /// due.
    pub runnable: u64,
    /// How long the oldest of them has been runnable, on the store's clock;
    /// `None` when there is none.
    pub oldest: Option<Duration>,
}

/// A finished attempt and what follows it.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The record of the run, appended to the job's attempts (the store
    /// numbers it).
    pub attempt: Attempt,
    /// Where the job goes next.
    pub next: Next,
}

/// How long finished jobs are kept before they read as `404`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// How long a `Completed` job is kept (default 24 hours).
    pub completed: Duration,
    /// How long a `Failed` or `Canceled` job is kept (default 7 days).
    pub failed: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            completed: Duration::from_secs(24 * 60 * 60),
            failed: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// What one round of [`JobStore::maintain`](super::JobStore::maintain) did.
#[derive(Debug, Default)]
pub struct Maintenance {
    /// Jobs whose lease had expired: requeued with an `Interrupted` attempt,
    /// or failed for losing their worker too often.
    pub recovered: Vec<JobId>,
    /// Finished jobs dropped at the end of their retention.
    pub purged: u64,
}

/// A place in an operator's listing: the last job a page went through.
/// Jobs are listed newest first, by when they were created, then by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListCursor {
    /// When the job was created.
    pub created_at: crate::job::Timestamp,
    /// Its id, which orders jobs created in the same microsecond.
    pub id: JobId,
}

impl ListCursor {
    /// The place of `job`.
    pub fn of(job: &crate::job::Job) -> Self {
        Self {
            created_at: job.created_at,
            id: job.id,
        }
    }
}

impl ListCursor {
    /// The cursor as the SQL stores compare it, `(created_at, id)`; the
    /// place past every job when there is none.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub(crate) fn sql(cursor: Option<Self>) -> (i64, uuid::Uuid) {
        match cursor {
            Some(cursor) => (
                i64::try_from(cursor.created_at.as_micros()).unwrap_or(i64::MAX),
                cursor.id.as_uuid(),
            ),
            None => (i64::MAX, uuid::Uuid::max()),
        }
    }

    /// Where the page after `places` (as an SQL store read them) starts:
    /// after its last one, when the page is full.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub(crate) fn after_sql(places: &[(i64, uuid::Uuid)], limit: usize) -> Option<Self> {
        let &(created_at, id) = places.last().filter(|_| places.len() == limit)?;
        Some(Self {
            created_at: crate::job::Timestamp::from_micros(u64::try_from(created_at).unwrap_or(0)),
            id: JobId::from(id),
        })
    }
}

/// `{micros}.{id}`: opaque to clients.
impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at.as_micros(), self.id)
    }
}

impl std::str::FromStr for ListCursor {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (micros, id) = text.split_once('.').ok_or(())?;
        Ok(Self {
            created_at: crate::job::Timestamp::from_micros(micros.parse().map_err(drop)?),
            id: id.parse().map_err(drop)?,
        })
    }
}

/// What an operator's listing asks of
/// [`JobStore::list`](super::JobStore::list).
#[derive(Clone, Debug)]
pub struct ListQuery {
    /// The job name.
    pub name: String,
    /// Only jobs in this status; every status when `None`.
    pub status: Option<crate::job::JobStatus>,
    /// Only jobs after this place (older ones); from the newest when `None`.
    pub after: Option<ListCursor>,
    /// At most this many jobs.
    pub limit: usize,
}

/// A page of [`JobStore::list`](super::JobStore::list).
#[derive(Debug, Default)]
pub struct JobPage {
    /// The jobs, newest first.
    pub jobs: Vec<crate::job::Job>,
    /// Where the next page starts, or `None` when no older job is left.
    /// A page may hold fewer jobs than asked and still have a next one (a
    /// store that filters by status as it goes stops after a bounded scan).
    pub next: Option<ListCursor>,
}
