use serde::{Deserialize, Serialize};

/// Where a job is in its life.
///
/// ```text
/// Queued ──claim──▶ InProgress ──▶ Completed
///   ▲                │  │  └────▶ Failed
///   └──interrupted───┘  └──retry──▶ Scheduled ──due + claim──▶ InProgress
/// ```
///
/// A cancel ends a `Queued` or `Scheduled` job at once (`Canceled`); a
/// running job ends `Canceled` when its handler stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobStatus {
    /// Accepted and waiting for a worker.
    Queued,
    /// Waiting for its next attempt after a failure (see `nextAttemptAt`).
    Scheduled,
    /// A worker holds the job and runs its handler.
    InProgress,
    /// The handler returned a value; the job's `result` holds it.
    Completed,
    /// The handler failed for good; the job's `error` says why.
    Failed,
    /// The job was canceled before it completed.
    Canceled,
}

impl JobStatus {
    /// Every status, in the order of a job's life.
    pub const ALL: [JobStatus; 6] = [
        Self::Queued,
        Self::Scheduled,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::Canceled,
    ];

    /// Whether the job has reached an end and will not run again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }

    /// Whether a job may move from `self` to `next`.
    ///
    /// Stores check this before every write, so no backend can record an
    /// impossible history (a completed job that runs again, say).
    pub fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Queued | Scheduled, InProgress)
                | (InProgress, Completed | Failed | Scheduled | Queued)
                | (Queued | Scheduled | InProgress, Canceled)
        )
    }

    /// The name used on the wire and in stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::Scheduled => "Scheduled",
            Self::InProgress => "InProgress",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }
}

/// How one run of a job's handler ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AttemptStatus {
    /// The handler returned `Ok`.
    Succeeded,
    /// The handler returned `Err`.
    Failed,
    /// The handler ran past the endpoint's `timeout`.
    TimedOut,
    /// The handler panicked; the worker caught it and lives on.
    Panicked,
    /// The run was cut short by a shutdown or a lost worker, and the job was
    /// handed back to the queue. Interrupted runs do not count as retries.
    Interrupted,
    /// The handler was stopped because a client canceled the job.
    Canceled,
}

impl AttemptStatus {
    /// Whether this outcome counts against the endpoint's `retries`.
    pub fn counts_as_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Panicked)
    }

    /// The name used on the wire and in stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::TimedOut => "TimedOut",
            Self::Panicked => "Panicked",
            Self::Interrupted => "Interrupted",
            Self::Canceled => "Canceled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::JobStatus::*;
    use super::*;

    #[test]
    fn terminal_states_are_final() {
        for end in [Completed, Failed, Canceled] {
            assert!(end.is_terminal());
            for next in [Queued, Scheduled, InProgress, Completed, Failed, Canceled] {
                assert!(!end.can_become(next), "{end:?} -> {next:?}");
            }
        }
    }

    #[test]
    fn only_a_running_job_can_finish() {
        assert!(InProgress.can_become(Completed));
        assert!(!Queued.can_become(Completed));
        assert!(!Scheduled.can_become(Failed));
        assert!(Scheduled.can_become(InProgress));
        assert!(InProgress.can_become(Queued));
    }

    #[test]
    fn serializes_as_pascal_case_names() {
        assert_eq!(
            serde_json::to_string(&InProgress).unwrap(),
            "\"InProgress\""
        );
        assert_eq!(
            serde_json::to_string(&AttemptStatus::TimedOut).unwrap(),
            "\"TimedOut\""
        );
        assert_eq!(InProgress.as_str(), "InProgress");
        for status in [
            AttemptStatus::Succeeded,
            AttemptStatus::Failed,
            AttemptStatus::TimedOut,
            AttemptStatus::Panicked,
            AttemptStatus::Interrupted,
            AttemptStatus::Canceled,
        ] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
    }
}
