//! One run of one claimed job: the handler under its timeout, a heartbeat
//! that keeps the lease, panics caught, and the outcome recorded.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tracing::{Instrument, debug, error, info_span, warn};

use super::Signals;
use super::retry::{Backoff, next_step};
use crate::endpoint::Run;
use crate::job::{Attempt, AttemptStatus, ErrorInfo, JobError, RawJson, Timestamp};
use crate::runtime::Shared;
use crate::store::{ClaimedJob, Lease, Next, Outcome, StoreError};

/// Runs a claimed job once and records the attempt.
pub(crate) async fn run_claimed(shared: &Shared, job: ClaimedJob, signals: &Signals) {
    let span = info_span!("asyncep.attempt", job.id = %job.id, job.name = %job.name, attempt = job.attempt);
    execute(shared, job, signals).instrument(span).await;
}

async fn execute(shared: &Shared, job: ClaimedJob, signals: &Signals) {
    let Some(endpoint) = shared.registry.get(&job.name) else {
        // Stores only hand out names this process asked for, so this means
        // a store bug; hand the job back rather than fail it.
        error!("claimed a job this process has no handler for; handing it back");
        finish(
            shared,
            &job.lease,
            interrupted(job.attempt, Timestamp::now(), "no handler in this process"),
            Next::Requeue,
        )
        .await;
        return;
    };
    let cancellation = signals.stop.child_token();
    let run = Run {
        input: job.input.clone(),
        job_id: job.id,
        job_name: endpoint.job,
        attempt: job.attempt,
        cancellation: cancellation.clone(),
        states: shared.states.clone(),
    };
    let started_at = Timestamp::now();
    let timeout = endpoint.timeout.unwrap_or(shared.config.timeout);
    let handler = AssertUnwindSafe((endpoint.run)(run)).catch_unwind();
    let ended = tokio::select! {
        result = handler => Ended::Returned(result),
        () = tokio::time::sleep(timeout) => Ended::TimedOut(timeout),
        () = signals.abort.cancelled() => Ended::Aborted,
        lost = heartbeat(shared, &job.lease) => Ended::LeaseLost(lost),
    };
    cancellation.cancel();
    let finished_at = Timestamp::now();
    let (status, result, error, permanent) = match ended {
        Ended::Returned(Ok(Ok(value))) => (AttemptStatus::Succeeded, Some(value), None, false),
        Ended::Returned(Ok(Err(error))) if signals.stop.is_cancelled() && !error.is_permanent() => {
            // The handler gave up because the shutdown asked it to.
            (
                AttemptStatus::Interrupted,
                None,
                Some(error.into_info()),
                false,
            )
        }
        Ended::Returned(Ok(Err(error))) => {
            let permanent = error.is_permanent();
            (
                AttemptStatus::Failed,
                None,
                Some(error.into_info()),
                permanent,
            )
        }
        Ended::Returned(Err(panic)) => {
            let message = format!("the handler panicked: {}", panic_message(&*panic));
            (
                AttemptStatus::Panicked,
                None,
                Some(ErrorInfo::new(ErrorInfo::PANIC, message)),
                false,
            )
        }
        Ended::TimedOut(limit) => {
            let message = format!(
                "the attempt ran longer than its timeout of {}",
                humantime::format_duration(limit)
            );
            (
                AttemptStatus::TimedOut,
                None,
                Some(ErrorInfo::new(ErrorInfo::TIMEOUT, message)),
                false,
            )
        }
        Ended::Aborted => {
            let info = ErrorInfo::new(
                ErrorInfo::INTERRUPTED,
                "the worker shut down before the attempt finished",
            );
            (AttemptStatus::Interrupted, None, Some(info), false)
        }
        Ended::LeaseLost(error) => {
            warn!(%error, "stopped the handler: another worker owns the job now");
            return;
        }
    };
    let backoff = Backoff {
        base: endpoint.backoff.unwrap_or(shared.config.backoff),
        max: shared.config.max_backoff,
    };
    let max_retries = job.max_retries;
    let next = next_step(
        status,
        permanent,
        job.retry_count,
        max_retries,
        backoff,
        fastrand::f64(),
    );
    debug!(?status, ?next, "attempt finished");
    let attempt = Attempt {
        attempt: job.attempt,
        status,
        started_at,
        finished_at,
        result,
        error,
    };
    finish(shared, &job.lease, attempt, next).await;
}

enum Ended {
    Returned(std::thread::Result<Result<RawJson, JobError>>),
    TimedOut(Duration),
    Aborted,
    LeaseLost(StoreError),
}

fn interrupted(attempt: u32, started_at: Timestamp, why: &str) -> Attempt {
    Attempt {
        attempt,
        status: AttemptStatus::Interrupted,
        started_at,
        finished_at: Timestamp::now(),
        result: None,
        error: Some(ErrorInfo::new(ErrorInfo::INTERRUPTED, why)),
    }
}

/// Records the attempt; retries while the store is unreachable, until the
/// lease runs out (then lease recovery hands the job to another worker).
async fn finish(shared: &Shared, lease: &Lease, attempt: Attempt, next: Next) {
    let outcome = Outcome { attempt, next };
    let mut pause = Duration::from_millis(50);
    loop {
        match shared.store.finish(lease, outcome.clone()).await {
            Ok(()) => return,
            Err(StoreError::LeaseLost { .. }) => {
                warn!("the attempt's result was refused: the lease was lost to another worker");
                return;
            }
            Err(error) if Timestamp::now() + pause < lease.expires_at => {
                warn!(%error, "could not record the attempt; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(error) => {
                error!(%error, "could not record the attempt before the lease ran out; the job will be recovered");
                return;
            }
        }
    }
}

/// Renews the lease every third of its length; returns only when it is lost.
async fn heartbeat(shared: &Shared, lease: &Lease) -> StoreError {
    let period = shared.config.lease;
    loop {
        tokio::time::sleep(period / 3).await;
        match shared.store.renew(lease, period).await {
            Ok(_) => {}
            Err(error @ StoreError::LeaseLost { .. }) => return error,
            Err(error) => warn!(%error, "could not renew the lease; trying again"),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-text panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_both_payload_kinds() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42_u8), "a non-text panic payload");
    }
}
