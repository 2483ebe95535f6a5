use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::job::JobId;

/// Why a store operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The store holds as many jobs as it may; try again later.
    Full {
        /// A hint for the client's `Retry-After`.
        retry_after: Duration,
    },
    /// The job id or idempotency key belongs to a different request.
    IdempotencyConflict {
        /// The job the key already names.
        existing: JobId,
    },
    /// The client-chosen job id belongs to another caller's job.
    IdTaken,
    /// The lease is no longer the job's (it expired and the job moved on).
    LeaseLost {
        /// The job whose lease was lost.
        id: JobId,
    },
    /// The backend cannot be reached; nothing was written.
    Unavailable {
        /// A hint for the client's `Retry-After`.
        retry_after: Duration,
        /// What the backend said.
        source: Box<dyn Error + Send + Sync>,
    },
    /// The request reached the backend, but its answer did not come back:
    /// it may or may not have been carried out. Repeating it is safe (every
    /// store operation finds its own earlier effect).
    OutcomeUnknown {
        /// A hint for the client's `Retry-After`.
        retry_after: Duration,
        /// What the backend said.
        source: Box<dyn Error + Send + Sync>,
    },
    /// The backend is set up in a way that breaks asyncep's promises (a
    /// Redis that evicts keys, say).
    Misconfigured(String),
    /// The backend answered with something asyncep did not write.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full { .. } => f.write_str("the job store is full"),
            Self::IdempotencyConflict { existing } => write!(
                f,
                "the idempotency key already belongs to job {existing}, submitted with another request"
            ),
            Self::IdTaken => f.write_str("the job id belongs to another caller's job"),
            Self::LeaseLost { id } => write!(f, "the lease on job {id} was lost"),
            Self::Unavailable { source, .. } => write!(f, "the job store is unavailable: {source}"),
            Self::OutcomeUnknown { source, .. } => {
                write!(f, "the job store did not answer in time: {source}")
            }
            Self::Misconfigured(what) => write!(f, "the job store is misconfigured: {what}"),
            Self::Corrupt(what) => write!(f, "the job store holds unreadable data: {what}"),
        }
    }
}

impl StoreError {
    /// Whether the operation may succeed if tried again later (the backend
    /// was unreachable or slow).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::OutcomeUnknown { .. })
    }

    /// The same failure, for each of the callers whose writes went out
    /// together (a backend's own error is kept as its text).
    #[cfg(feature = "postgres")]
    pub(crate) fn shared(&self) -> Self {
        match self {
            Self::Full { retry_after } => Self::Full {
                retry_after: *retry_after,
            },
            Self::IdempotencyConflict { existing } => Self::IdempotencyConflict {
                existing: *existing,
            },
            Self::IdTaken => Self::IdTaken,
            Self::LeaseLost { id } => Self::LeaseLost { id: *id },
            Self::Unavailable {
                retry_after,
                source,
            } => Self::Unavailable {
                retry_after: *retry_after,
                source: source.to_string().into(),
            },
            Self::OutcomeUnknown {
                retry_after,
                source,
            } => Self::OutcomeUnknown {
                retry_after: *retry_after,
                source: source.to_string().into(),
            },
            Self::Misconfigured(what) => Self::Misconfigured(what.clone()),
            Self::Corrupt(what) => Self::Corrupt(what.clone()),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Unavailable { source, .. } | Self::OutcomeUnknown { source, .. } => {
                Some(source.as_ref())
            }
            _ => None,
        }
    }
}
