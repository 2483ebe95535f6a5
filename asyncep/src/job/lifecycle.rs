//! A job's state machine, written once: the pure transition function every
//! store follows. The memory store runs it; the Redis scripts mirror it, and
//! the model-based test plays random histories against every store to prove
//! that they agree.

use std::time::Duration;

use super::{Attempt, AttemptStatus, ErrorInfo, JobStatus, Timestamp};

/// How many times a job may lose its worker (its lease expired: a crash, a
/// kill, a stall) before it fails for good with the code `interrupted`. A
/// job that brings its worker down every time (out of memory, say) would
/// otherwise go round the workers forever. Hand-backs at a graceful shutdown
/// do not count.
pub const MAX_LOST_LEASES: u32 = 5;

/// The message of the `Interrupted` attempt recorded when a lease expires.
pub const LEASE_EXPIRED: &str = "the worker stopped renewing its lease before the attempt finished";

/// The message of a canceled job's error.
pub const CANCELED: &str = "the job was canceled";

/// The error a canceled job ends with.
pub fn canceled() -> ErrorInfo {
    ErrorInfo::new(ErrorInfo::CANCELED, CANCELED)
}

/// The final error of a job that lost its worker [`MAX_LOST_LEASES`] times.
pub fn lost_too_often() -> ErrorInfo {
    ErrorInfo::new(
        ErrorInfo::INTERRUPTED,
        format!("the job lost its worker {MAX_LOST_LEASES} times; it is not run again"),
    )
}

/// The error a job fails with when its last attempt recorded none.
pub fn failure_of(attempt: &Attempt) -> ErrorInfo {
    attempt
        .error
        .clone()
        .unwrap_or_else(|| ErrorInfo::new(ErrorInfo::HANDLER_ERROR, "the attempt failed"))
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
    /// It ends `Canceled`: its handler stopped because a cancel was asked.
    Cancel,
}

/// The fields of a job that its transitions read and write. Stores keep the
/// rest (name, input, result, error, attempts) beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    /// Where the job is in its life.
    pub status: JobStatus,
    /// Retries scheduled so far.
    pub retry_count: u32,
    /// Retries allowed after the first attempt.
    pub max_retries: u32,
    /// Attempts recorded so far (finished and interrupted runs).
    pub attempts: u32,
    /// Leases that expired before their attempt finished.
    pub lost_leases: u32,
    /// The fencing token of the current (or last) claim; 0 before the first.
    pub token: u64,
    /// The token of the last claim whose worker finished its attempt: a
    /// finish repeated after a lost reply is recognised, not refused.
    pub finished_token: u64,
    /// When the job was accepted.
    pub created_at: Timestamp,
    /// When its first attempt started.
    pub started_at: Option<Timestamp>,
    /// When it reached an end.
    pub completed_at: Option<Timestamp>,
    /// When anything about it last changed.
    pub last_updated_at: Timestamp,
    /// When a `Scheduled` job's next attempt is due.
    pub next_attempt_at: Option<Timestamp>,
    /// When the current claim began.
    pub claimed_at: Option<Timestamp>,
    /// A cancel was asked while the job ran: its worker is told, and the
    /// job ends `Canceled` instead of running again.
    pub cancel_requested: bool,
}

/// Something that happens to a job.
#[derive(Debug)]
pub enum Event {
    /// A worker claims it with a fresh fencing token.
    Claim {
        /// The new token, greater than every token the store gave before.
        token: u64,
    },
    /// The worker holding `token` finished an attempt.
    Finish {
        /// The token of the worker's lease.
        token: u64,
        /// The run, as the worker recorded it.
        attempt: Attempt,
        /// Where the job goes next.
        next: Next,
    },
    /// The lease ran out before its attempt finished.
    LeaseExpired,
    /// A client asks to cancel the job.
    Cancel,
    /// An operator asks to run a `Failed` job again: it is queued with its
    /// full retry budget, its error and retention dropped, its attempts
    /// kept. The one way out of an end, and only out of `Failed`.
    Retry,
}

/// Where a job stands after a transition, so a store can move it between
/// its indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Held by a worker under a lease.
    Running,
    /// Runnable now.
    Ready,
    /// Runnable after `after`.
    Scheduled {
        /// The delay.
        after: Duration,
    },
    /// Done: kept for its retention, then dropped.
    Finished,
}

/// How a job ended, when a transition ended it.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    /// `Completed` with the last attempt's result.
    Completed(Option<super::RawJson>),
    /// `Failed` with this error.
    Failed(ErrorInfo),
    /// `Canceled`, with [`canceled`] as its error.
    Canceled(ErrorInfo),
}

impl End {
    /// The error the job ends with, if it did not complete.
    pub fn error(&self) -> Option<&ErrorInfo> {
        match self {
            Self::Completed(_) => None,
            Self::Failed(error) | Self::Canceled(error) => Some(error),
        }
    }
}

/// What a transition did: the store persists each part.
#[derive(Debug)]
#[must_use]
pub struct Step {
    /// Where the job stands now.
    pub placement: Placement,
    /// The attempt to append to the job's history, if the step ended a run.
    pub attempt: Option<Attempt>,
    /// The job's end, if it ended.
    pub end: Option<End>,
    /// The job's end was undone (an operator's retry): the store drops its
    /// error and lifts its retention.
    pub reopened: bool,
}

/// Why a transition was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The token is not the job's current lease (it expired, or the job
    /// moved on).
    LeaseLost,
    /// The job is not in a state the event applies to.
    Invalid(JobStatus),
}

/// The answer of [`Lifecycle::apply`].
#[derive(Debug)]
pub enum Applied {
    /// The job moved on.
    Moved(Step),
    /// The same finish was applied before (its reply was lost): nothing to do.
    AlreadyApplied,
}

impl Lifecycle {
    /// A job just accepted.
    pub fn queued(max_retries: u32, now: Timestamp) -> Self {
        Self {
            status: JobStatus::Queued,
            retry_count: 0,
            max_retries,
            attempts: 0,
            lost_leases: 0,
            token: 0,
            finished_token: 0,
            created_at: now,
            started_at: None,
            completed_at: None,
            last_updated_at: now,
            next_attempt_at: None,
            claimed_at: None,
            cancel_requested: false,
        }
    }

    /// The number the next attempt gets.
    pub fn next_attempt(&self) -> u32 {
        self.attempts + 1
    }

    /// Applies `event` at `now`, or refuses it and changes nothing.
    pub fn apply(&mut self, event: Event, now: Timestamp) -> Result<Applied, Refusal> {
        match event {
            Event::Claim { token } => self.claim(token, now),
            Event::Finish {
                token,
                attempt,
                next,
            } => self.finish(token, attempt, next, now),
            Event::LeaseExpired => self.expire(now),
            Event::Cancel => self.cancel(now),
            Event::Retry => self.retry(now),
        }
        .map(|step| step.map_or(Applied::AlreadyApplied, Applied::Moved))
    }

    fn claim(&mut self, token: u64, now: Timestamp) -> Result<Option<Step>, Refusal> {
        if !self.status.can_become(JobStatus::InProgress) {
            return Err(Refusal::Invalid(self.status));
        }
        self.status = JobStatus::InProgress;
        self.token = token;
        self.started_at.get_or_insert(now);
        self.claimed_at = Some(now);
        self.next_attempt_at = None;
        self.last_updated_at = now;
        Ok(Some(Step {
            placement: Placement::Running,
            attempt: None,
            end: None,
            reopened: false,
        }))
    }

    fn finish(
        &mut self,
        token: u64,
        mut attempt: Attempt,
        next: Next,
        now: Timestamp,
    ) -> Result<Option<Step>, Refusal> {
        if self.status != JobStatus::InProgress || token != self.token {
            return if token != 0 && token == self.finished_token {
                Ok(None)
            } else {
                Err(Refusal::LeaseLost)
            };
        }
        attempt.attempt = self.end_run(now);
        self.finished_token = token;
        let next = match next {
            // A job whose cancel was asked never runs again; a run that
            // reached an end before its worker heard of it keeps that end.
            Next::Retry { .. } | Next::Requeue if self.cancel_requested => Next::Cancel,
            next => next,
        };
        let (placement, end) = match next {
            Next::Complete => {
                self.status = JobStatus::Completed;
                self.completed_at = Some(now);
                (
                    Placement::Finished,
                    Some(End::Completed(attempt.result.clone())),
                )
            }
            Next::Fail => {
                self.status = JobStatus::Failed;
                self.completed_at = Some(now);
                (Placement::Finished, Some(End::Failed(failure_of(&attempt))))
            }
            Next::Retry { after } => {
                self.status = JobStatus::Scheduled;
                self.retry_count += 1;
                self.next_attempt_at = Some(now + after);
                (Placement::Scheduled { after }, None)
            }
            Next::Requeue => {
                self.status = JobStatus::Queued;
                (Placement::Ready, None)
            }
            Next::Cancel => self.end_canceled(now),
        };
        Ok(Some(Step {
            placement,
            attempt: Some(attempt),
            end,
            reopened: false,
        }))
    }

    /// A run ends (finished or lost): it is counted, and the claim is
    /// over. Returns the run's number.
    fn end_run(&mut self, now: Timestamp) -> u32 {
        self.attempts += 1;
        self.claimed_at = None;
        self.last_updated_at = now;
        self.attempts
    }

    fn expire(&mut self, now: Timestamp) -> Result<Option<Step>, Refusal> {
        if self.status != JobStatus::InProgress {
            return Err(Refusal::Invalid(self.status));
        }
        let started_at = self.claimed_at.unwrap_or(now);
        let attempt = Attempt {
            attempt: self.end_run(now),
            status: AttemptStatus::Interrupted,
            started_at,
            finished_at: now,
            result: None,
            error: Some(ErrorInfo::new(ErrorInfo::INTERRUPTED, LEASE_EXPIRED)),
        };
        self.lost_leases += 1;
        let (placement, end) = if self.cancel_requested {
            self.end_canceled(now)
        } else if self.lost_leases >= MAX_LOST_LEASES {
            self.status = JobStatus::Failed;
            self.completed_at = Some(now);
            (Placement::Finished, Some(End::Failed(lost_too_often())))
        } else {
            self.status = JobStatus::Queued;
            (Placement::Ready, None)
        };
        Ok(Some(Step {
            placement,
            attempt: Some(attempt),
            end,
            reopened: false,
        }))
    }

    /// A waiting job ends at once; a running one is marked, and its worker
    /// stops it. Asking again, or of a canceled job, changes nothing.
    fn cancel(&mut self, now: Timestamp) -> Result<Option<Step>, Refusal> {
        match self.status {
            JobStatus::Queued | JobStatus::Scheduled => {
                self.next_attempt_at = None;
                self.last_updated_at = now;
                let (placement, end) = self.end_canceled(now);
                Ok(Some(Step {
                    placement,
                    attempt: None,
                    end,
                    reopened: false,
                }))
            }
            JobStatus::InProgress if !self.cancel_requested => {
                self.cancel_requested = true;
                self.last_updated_at = now;
                Ok(Some(Step {
                    placement: Placement::Running,
                    attempt: None,
                    end: None,
                    reopened: false,
                }))
            }
            JobStatus::InProgress | JobStatus::Canceled => Ok(None),
            status @ (JobStatus::Completed | JobStatus::Failed) => Err(Refusal::Invalid(status)),
        }
    }

    fn retry(&mut self, now: Timestamp) -> Result<Option<Step>, Refusal> {
        if self.status != JobStatus::Failed {
            return Err(Refusal::Invalid(self.status));
        }
        self.status = JobStatus::Queued;
        self.retry_count = 0;
        self.lost_leases = 0;
        self.completed_at = None;
        self.next_attempt_at = None;
        self.cancel_requested = false;
        self.last_updated_at = now;
        Ok(Some(Step {
            placement: Placement::Ready,
            attempt: None,
            end: None,
            reopened: true,
        }))
    }

    fn end_canceled(&mut self, now: Timestamp) -> (Placement, Option<End>) {
        self.status = JobStatus::Canceled;
        self.completed_at = Some(now);
        (Placement::Finished, Some(End::Canceled(canceled())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: u64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    fn run(status: AttemptStatus) -> Attempt {
        Attempt {
            attempt: 0,
            status,
            started_at: at(5),
            finished_at: at(6),
            result: None,
            error: (status != AttemptStatus::Succeeded).then(|| ErrorInfo::new("boom", "broke")),
        }
    }

    fn moved(applied: Result<Applied, Refusal>) -> Step {
        match applied {
            Ok(Applied::Moved(step)) => step,
            other => panic!("expected a step, got {other:?}"),
        }
    }

    fn claimed(token: u64) -> Lifecycle {
        let mut job = Lifecycle::queued(2, at(1));
        let _ = moved(job.apply(Event::Claim { token }, at(2)));
        job
    }

    #[test]
    fn only_a_failed_job_is_run_again_and_it_keeps_its_attempts() {
        let mut job = claimed(7);
        let failed = Attempt {
            attempt: 0,
            ..run(AttemptStatus::Failed)
        };
        let event = Event::Finish {
            token: 7,
            attempt: failed,
            next: Next::Fail,
        };
        let _ = moved(job.apply(event, at(3)));
        job.lost_leases = 2;
        let step = moved(job.apply(Event::Retry, at(4)));
        assert_eq!(step.placement, Placement::Ready);
        assert!(step.reopened && step.attempt.is_none() && step.end.is_none());
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!((job.retry_count, job.lost_leases), (0, 0));
        assert_eq!((job.completed_at, job.last_updated_at), (None, at(4)));
        assert_eq!(job.next_attempt(), 2, "the next run follows the kept one");
        assert_eq!(
            job.apply(Event::Retry, at(5)).unwrap_err(),
            Refusal::Invalid(JobStatus::Queued)
        );
    }

    #[test]
    fn a_claim_starts_a_run_under_its_token() {
        let job = claimed(7);
        assert_eq!(job.status, JobStatus::InProgress);
        assert_eq!(
            (job.token, job.started_at, job.claimed_at),
            (7, Some(at(2)), Some(at(2)))
        );
        let mut again = job;
        assert_eq!(
            again.apply(Event::Claim { token: 8 }, at(3)).unwrap_err(),
            Refusal::Invalid(JobStatus::InProgress)
        );
        assert_eq!(again, job, "a refusal changes nothing");
    }

    #[test]
    fn finishing_numbers_the_attempt_and_places_the_job() {
        let mut job = claimed(1);
        let step = moved(job.apply(
            Event::Finish {
                token: 1,
                attempt: run(AttemptStatus::Failed),
                next: Next::Retry {
                    after: Duration::from_secs(1),
                },
            },
            at(10),
        ));
        assert_eq!(step.attempt.unwrap().attempt, 1);
        assert_eq!(
            step.placement,
            Placement::Scheduled {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!((job.status, job.retry_count), (JobStatus::Scheduled, 1));
        assert_eq!(job.next_attempt_at, Some(at(10) + Duration::from_secs(1)));
        let _ = moved(job.apply(Event::Claim { token: 2 }, at(20)));
        assert_eq!(job.next_attempt_at, None);
        let step = moved(job.apply(
            Event::Finish {
                token: 2,
                attempt: run(AttemptStatus::Succeeded),
                next: Next::Complete,
            },
            at(30),
        ));
        assert_eq!(step.end, Some(End::Completed(None)));
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.started_at, Some(at(2)), "the first start is kept");
    }

    #[test]
    fn a_finish_repeated_after_a_lost_reply_is_recognised() {
        let mut job = claimed(4);
        let finish = || Event::Finish {
            token: 4,
            attempt: run(AttemptStatus::Succeeded),
            next: Next::Requeue,
        };
        let _ = moved(job.apply(finish(), at(5)));
        let before = job;
        assert!(matches!(
            job.apply(finish(), at(6)),
            Ok(Applied::AlreadyApplied)
        ));
        assert_eq!(job, before);
    }

    #[test]
    fn a_zombie_is_refused_after_its_lease_expired() {
        let mut job = claimed(3);
        let step = moved(job.apply(Event::LeaseExpired, at(9)));
        let attempt = step.attempt.unwrap();
        assert_eq!(
            (attempt.attempt, attempt.status, attempt.started_at),
            (1, AttemptStatus::Interrupted, at(2))
        );
        assert_eq!((job.status, job.lost_leases), (JobStatus::Queued, 1));
        let zombie = Event::Finish {
            token: 3,
            attempt: run(AttemptStatus::Succeeded),
            next: Next::Complete,
        };
        assert_eq!(job.apply(zombie, at(10)).unwrap_err(), Refusal::LeaseLost);
        let _ = moved(job.apply(Event::Claim { token: 5 }, at(11)));
        let zombie = Event::Finish {
            token: 3,
            attempt: run(AttemptStatus::Succeeded),
            next: Next::Complete,
        };
        assert_eq!(job.apply(zombie, at(12)).unwrap_err(), Refusal::LeaseLost);
    }

    #[test]
    fn a_waiting_job_is_canceled_at_once_and_never_claimed() {
        for scheduled in [false, true] {
            let mut job = Lifecycle::queued(1, at(1));
            if scheduled {
                let _ = moved(job.apply(Event::Claim { token: 1 }, at(2)));
                let _ = moved(job.apply(
                    Event::Finish {
                        token: 1,
                        attempt: run(AttemptStatus::Failed),
                        next: Next::Retry {
                            after: Duration::from_secs(5),
                        },
                    },
                    at(3),
                ));
            }
            let step = moved(job.apply(Event::Cancel, at(4)));
            assert_eq!(step.placement, Placement::Finished);
            assert_eq!(step.end, Some(End::Canceled(canceled())));
            assert_eq!(
                (job.status, job.completed_at, job.next_attempt_at),
                (JobStatus::Canceled, Some(at(4)), None)
            );
            assert!(matches!(
                job.apply(Event::Cancel, at(5)),
                Ok(Applied::AlreadyApplied)
            ));
            assert_eq!(
                job.apply(Event::Claim { token: 9 }, at(6)).unwrap_err(),
                Refusal::Invalid(JobStatus::Canceled)
            );
        }
    }

    #[test]
    fn a_running_job_is_marked_then_ends_canceled_whatever_its_worker_asks_next() {
        for next in [
            Next::Cancel,
            Next::Requeue,
            Next::Retry {
                after: Duration::from_secs(1),
            },
        ] {
            let mut job = claimed(3);
            let step = moved(job.apply(Event::Cancel, at(4)));
            assert_eq!((step.placement, step.end), (Placement::Running, None));
            assert!(job.cancel_requested);
            assert_eq!(job.status, JobStatus::InProgress);
            assert!(matches!(
                job.apply(Event::Cancel, at(5)),
                Ok(Applied::AlreadyApplied)
            ));
            let step = moved(job.apply(
                Event::Finish {
                    token: 3,
                    attempt: run(AttemptStatus::Canceled),
                    next,
                },
                at(6),
            ));
            assert_eq!(step.end, Some(End::Canceled(canceled())), "{next:?}");
            assert_eq!((job.status, job.retry_count), (JobStatus::Canceled, 0));
        }
        // A run that completed before its worker heard of the cancel keeps
        // its result.
        let mut job = claimed(3);
        let _ = moved(job.apply(Event::Cancel, at(4)));
        let step = moved(job.apply(
            Event::Finish {
                token: 3,
                attempt: run(AttemptStatus::Succeeded),
                next: Next::Complete,
            },
            at(6),
        ));
        assert_eq!(step.end, Some(End::Completed(None)));
    }

    #[test]
    fn a_canceled_job_whose_worker_died_ends_canceled() {
        let mut job = claimed(3);
        let _ = moved(job.apply(Event::Cancel, at(4)));
        let step = moved(job.apply(Event::LeaseExpired, at(9)));
        assert_eq!(step.attempt.unwrap().status, AttemptStatus::Interrupted);
        assert_eq!(step.end, Some(End::Canceled(canceled())));
        assert_eq!(job.status, JobStatus::Canceled);
    }

    #[test]
    fn a_finished_job_refuses_a_cancel() {
        let mut job = claimed(3);
        let _ = moved(job.apply(
            Event::Finish {
                token: 3,
                attempt: run(AttemptStatus::Succeeded),
                next: Next::Complete,
            },
            at(6),
        ));
        let before = job;
        assert_eq!(
            job.apply(Event::Cancel, at(7)).unwrap_err(),
            Refusal::Invalid(JobStatus::Completed)
        );
        assert_eq!(job, before);
    }

    #[test]
    fn losing_the_worker_too_often_fails_the_job() {
        let mut job = Lifecycle::queued(0, at(1));
        for lost in 1..=MAX_LOST_LEASES {
            let _ = moved(job.apply(
                Event::Claim {
                    token: u64::from(lost),
                },
                at(2),
            ));
            let step = moved(job.apply(Event::LeaseExpired, at(3)));
            if lost < MAX_LOST_LEASES {
                assert_eq!(step.placement, Placement::Ready);
            } else {
                assert_eq!(step.placement, Placement::Finished);
                assert_eq!(step.end, Some(End::Failed(lost_too_often())));
            }
        }
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Failed, MAX_LOST_LEASES)
        );
    }
}
