//! What follows an attempt: a pure function of its outcome and the job's
//! retry budget.

use std::time::Duration;

use crate::job::AttemptStatus;
use crate::job::Next;

/// Exponential backoff with jitter: the n-th retry (n from 0) waits between
/// half and all of `base * 2^n`, capped at `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// The delay before retry number `retry` (0-based); `jitter` is a
    /// uniform sample from `[0, 1)`.
    pub(crate) fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let factor = 2_u32.saturating_pow(retry.min(31));
        let full = self.base.saturating_mul(factor).min(self.max);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Where a job goes after an attempt that ended with `status`.
pub(crate) fn next_step(
    status: AttemptStatus,
    permanent: bool,
    retry_count: u32,
    max_retries: u32,
    backoff: Backoff,
    jitter: f64,
) -> Next {
    match status {
        AttemptStatus::Succeeded => Next::Complete,
        AttemptStatus::Interrupted => Next::Requeue,
        AttemptStatus::Canceled => Next::Cancel,
        AttemptStatus::Failed | AttemptStatus::TimedOut | AttemptStatus::Panicked => {
            if permanent || retry_count >= max_retries {
                Next::Fail
            } else {
                Next::Retry {
                    after: backoff.delay(retry_count, jitter),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_secs(2),
        max: Duration::from_secs(60),
    };

    #[test]
    fn delays_double_within_jitter_bounds() {
        assert_eq!(BACKOFF.delay(0, 0.0), Duration::from_secs(1));
        assert_eq!(BACKOFF.delay(0, 1.0), Duration::from_secs(2));
        assert_eq!(BACKOFF.delay(2, 0.0), Duration::from_secs(4));
        assert_eq!(BACKOFF.delay(2, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn delays_are_capped() {
        assert_eq!(BACKOFF.delay(10, 1.0), Duration::from_secs(60));
        assert_eq!(BACKOFF.delay(u32::MAX, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn failures_retry_until_the_budget_is_spent() {
        let retry = next_step(AttemptStatus::Failed, false, 0, 2, BACKOFF, 0.0);
        assert_eq!(
            retry,
            Next::Retry {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(
            next_step(AttemptStatus::TimedOut, false, 1, 2, BACKOFF, 0.0),
            Next::Retry {
                after: Duration::from_secs(2)
            }
        );
        assert_eq!(
            next_step(AttemptStatus::Panicked, false, 2, 2, BACKOFF, 0.0),
            Next::Fail
        );
    }

    #[test]
    fn permanent_errors_fail_at_once() {
        assert_eq!(
            next_step(AttemptStatus::Failed, true, 0, 5, BACKOFF, 0.5),
            Next::Fail
        );
    }

    #[test]
    fn success_completes_and_interruption_requeues() {
        assert_eq!(
            next_step(AttemptStatus::Succeeded, false, 9, 0, BACKOFF, 0.5),
            Next::Complete
        );
        assert_eq!(
            next_step(AttemptStatus::Interrupted, false, 9, 0, BACKOFF, 0.5),
            Next::Requeue
        );
    }
}
