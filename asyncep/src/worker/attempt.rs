//! One run of one claimed job: the handler under its timeout, its lease kept
//! by a heartbeat task, panics caught, and the outcome recorded while the
//! lease still holds.

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info_span, warn};

use super::lease::{Heartbeat, KeptLease};
use super::progress::ProgressWriter;
use super::retry::{Backoff, next_step};
use super::{Signals, WorkerContext};
use crate::endpoint::Run;
use crate::job::{Attempt, AttemptStatus, ErrorInfo, JobError, Next, RawJson, Timestamp, canceled};
use crate::progress::ProgressSink;
use crate::store::{ChangeListener, ClaimRequest, Claimed, ClaimedJob, Lease, Outcome, StoreError};

/// Runs a claimed job once and records the attempt. With `next`, the
/// worker's next claim goes with the record, in one round trip where the
/// store can.
pub(super) async fn run(
    context: &WorkerContext,
    held: Held<'_>,
    job: ClaimedJob,
    signals: &Signals,
    next: Option<&ClaimRequest>,
) -> Turn {
    let span = info_span!("asyncep.attempt", job.id = %job.id, job.name = %job.name, attempt = job.attempt);
    crate::trace::continue_in(&span, job.input.trace.as_deref(), job.attempt == 1);
    execute(context, held, job, signals, next)
        .instrument(span)
        .await
}

/// What the claim that went with an attempt's record did.
#[derive(Debug)]
pub(super) enum Turn {
    /// No claim went with it.
    Unclaimed,
    /// The claim's answer, and when it was sent (its leases run from then).
    Claimed(tokio::time::Instant, Claimed),
    /// The claim was sent and its answer lost: the next claim repeats it,
    /// under the same id, and finds the jobs it may have taken.
    Unanswered,
}

/// Where a worker's lease is kept: the heartbeat, the worker's slot in it,
/// and when the claim that granted the lease was sent.
#[derive(Debug)]
pub(super) struct Held<'a> {
    pub(super) heartbeat: &'a Heartbeat,
    pub(super) slot: usize,
    pub(super) sent: std::time::Instant,
}

async fn execute(
    context: &WorkerContext,
    held: Held<'_>,
    job: ClaimedJob,
    signals: &Signals,
    claim: Option<&ClaimRequest>,
) -> Turn {
    let cancellation = signals.stop.child_token();
    let kept = held.heartbeat.keep(
        held.slot,
        job.lease.clone(),
        held.sent,
        cancellation.clone(),
    );
    let Some(endpoint) = context.registry.get(&job.name) else {
        // Stores only hand out names this process asked for, so this means
        // a store bug; hand the job back rather than fail it.
        error!("claimed a job this process has no handler for; handing it back");
        let attempt = interrupted(Timestamp::now(), "no handler in this process");
        let (_, turn) = finish(
            context,
            &job.lease,
            &kept,
            &signals.abort,
            (attempt, Next::Requeue),
            claim.filter(|_| !signals.stop.is_cancelled()),
        )
        .await;
        return turn;
    };
    // A cancel asked in any process is announced here; a renewal confirms it.
    let mut changes = context.store.changes().listen(job.id);
    let (sink, latest) = ProgressSink::channel();
    let mut progress = ProgressWriter::new(&*context.store, &job.lease, latest);
    let run = Run {
        input: job.input.clone(),
        job_id: job.id,
        job_name: endpoint.job,
        attempt: job.attempt,
        fencing_token: job.lease.token,
        caller: job.caller.clone(),
        cancellation: cancellation.clone(),
        states: context.states.clone(),
        progress: sink,
    };
    let started_at = Timestamp::now();
    let clock = std::time::Instant::now();
    let _in_flight = context.meters.started(endpoint.job, job.waited);
    let timeout = endpoint.timeout.unwrap_or(context.settings.timeout);
    let handler = AssertUnwindSafe((endpoint.run)(run)).catch_unwind();
    let asked = kept.cancel_asked();
    let cancel_grace = context.settings.cancel_grace;
    let ended = tokio::select! {
        result = handler => Ended::Returned(result),
        () = tokio::time::sleep(timeout) => Ended::TimedOut(timeout),
        () = signals.abort.cancelled() => Ended::Aborted,
        () = kept.lost().cancelled() => Ended::LeaseLost,
        () = async {
            asked.cancelled().await;
            tokio::time::sleep(cancel_grace).await;
        } => Ended::CancelGraceOver,
        never = progress.run() => match never {},
        never = hear_changes(&mut changes, &kept) => match never {},
    };
    drop(changes);
    cancellation.cancel();
    let finished_at = Timestamp::now();
    let (status, result, error, permanent) = match ended {
        Ended::LeaseLost => {
            let ran = clock.elapsed();
            let lost = AttemptStatus::Interrupted;
            context.meters.attempt_ended(endpoint.job, lost, ran, None);
            warn!(
                token = job.lease.token,
                "stopped the handler: its lease was lost, and the job belongs to the next claim"
            );
            return Turn::Unclaimed;
        }
        Ended::CancelGraceOver => {
            warn!(grace = ?cancel_grace, "the canceled job's handler ran past its grace; it was dropped");
            (AttemptStatus::Canceled, None, Some(canceled()), true)
        }
        // Whatever the handler made of it, a canceled job ends canceled.
        Ended::Returned(_) | Ended::TimedOut(_) if asked.is_cancelled() => {
            (AttemptStatus::Canceled, None, Some(canceled()), true)
        }
        Ended::Returned(Ok(Ok(value))) if value.get().len() > context.settings.result_limit => {
            // Stored, it would crowd out other jobs; no retry makes it smaller.
            let message = format!(
                "the handler's result is {} bytes, more than the limit of {}",
                value.get().len(),
                context.settings.result_limit
            );
            let info = ErrorInfo::new(ErrorInfo::RESULT_TOO_LARGE, message);
            (AttemptStatus::Failed, None, Some(info), true)
        }
        Ended::Returned(Ok(Ok(value))) => (AttemptStatus::Succeeded, Some(value), None, false),
        Ended::Returned(Ok(Err(error))) if signals.stop.is_cancelled() && !error.is_permanent() => {
            // The handler gave up because the shutdown asked it to.
            let info = error.into_info();
            (AttemptStatus::Interrupted, None, Some(info), false)
        }
        Ended::Returned(Ok(Err(error))) => {
            let permanent = error.is_permanent();
            let info = error.into_info();
            (AttemptStatus::Failed, None, Some(info), permanent)
        }
        Ended::Returned(Err(panic)) => {
            let message = format!("the handler panicked: {}", panic_message(&*panic));
            let info = ErrorInfo::new(ErrorInfo::PANIC, message);
            (AttemptStatus::Panicked, None, Some(info), false)
        }
        Ended::TimedOut(limit) => {
            let message = format!(
                "the attempt ran longer than its timeout of {}",
                humantime::format_duration(limit)
            );
            let info = ErrorInfo::new(ErrorInfo::TIMEOUT, message);
            (AttemptStatus::TimedOut, None, Some(info), false)
        }
        Ended::Aborted => {
            let info = ErrorInfo::new(
                ErrorInfo::INTERRUPTED,
                "the worker shut down before the attempt finished",
            );
            (AttemptStatus::Interrupted, None, Some(info), false)
        }
    };
    let backoff = Backoff {
        base: endpoint.backoff.unwrap_or(context.settings.backoff),
        max: context.settings.max_backoff,
    };
    let next = next_step(
        status,
        permanent,
        job.retry_count,
        job.max_retries,
        backoff,
        fastrand::f64(),
    );
    debug!(?status, ?next, "attempt finished");
    progress.flush().await;
    let attempt = Attempt {
        attempt: job.attempt,
        status,
        started_at,
        finished_at,
        result,
        error,
    };
    let ran = clock.elapsed();
    let (recorded, turn) = finish(
        context,
        &job.lease,
        &kept,
        &signals.abort,
        (attempt, next),
        // A stopping worker claims nothing more.
        claim.filter(|_| !signals.stop.is_cancelled()),
    )
    .await;
    let moved = recorded.then_some(next);
    context
        .meters
        .attempt_ended(endpoint.job, status, ran, moved);
    turn
}

enum Ended {
    Returned(std::thread::Result<Result<RawJson, JobError>>),
    TimedOut(Duration),
    Aborted,
    LeaseLost,
    CancelGraceOver,
}

/// Renews the lease whenever a cancel of the job is announced: the renewal
/// confirms it, and fires the handler's token. Runs until dropped.
async fn hear_changes(changes: &mut ChangeListener, kept: &KeptLease<'_>) -> Infallible {
    loop {
        changes.cancel_announced().await;
        kept.renew_now();
    }
}

fn interrupted(started_at: Timestamp, why: &str) -> Attempt {
    Attempt {
        attempt: 0,
        status: AttemptStatus::Interrupted,
        started_at,
        finished_at: Timestamp::now(),
        result: None,
        error: Some(ErrorInfo::new(ErrorInfo::INTERRUPTED, why)),
    }
}

/// Why an attempt's outcome went unrecorded at the end of a shutdown.
const GRACE_OVER: &str =
    "the shutdown grace ran out before the attempt could be recorded; the job will run again";

/// Records the attempt, trying again while the store fails and the lease,
/// still renewed by its heartbeat, holds. A finish repeated after a lost
/// reply is recognised by the store, so it is never recorded twice. The
/// first try carries `claim`, the worker's next claim, when there is one.
/// Returns whether the store recorded the attempt, and what the claim did.
async fn finish(
    context: &WorkerContext,
    lease: &Lease,
    kept: &KeptLease<'_>,
    abort: &CancellationToken,
    (attempt, next): (Attempt, Next),
    mut claim: Option<&ClaimRequest>,
) -> (bool, Turn) {
    let outcome = Outcome { attempt, next };
    let mut pause = Duration::from_millis(50);
    let mut turn = Turn::Unclaimed;
    loop {
        let finished = match claim.take() {
            Some(request) => {
                let sent = tokio::time::Instant::now();
                // Not cut short when the heartbeat finds the lease gone: a
                // renewal that lands after the finish was recorded finds
                // the job no longer running, and the answer (whether the
                // finish counted, which jobs the claim took) must be read.
                // A lease lost before is refused by the store's fencing.
                // Only the end of the shutdown grace cuts it short.
                let answer = tokio::select! {
                    answer = context.store.finish_and_claim(lease, outcome.clone(), request) => answer,
                    () = abort.cancelled() => {
                        error!("{GRACE_OVER}");
                        return (false, Turn::Unanswered);
                    }
                };
                turn = match answer.claimed {
                    None => Turn::Unclaimed,
                    Some(Ok(claimed)) => Turn::Claimed(sent, claimed),
                    Some(Err(error)) => {
                        debug!(%error, "the claim sent with the attempt's record was not answered");
                        Turn::Unanswered
                    }
                };
                answer.finished
            }
            None => tokio::select! {
                finished = context.store.finish(lease, outcome.clone()) => finished,
                () = kept.lost().cancelled() => Err(StoreError::LeaseLost { id: lease.job_id }),
            },
        };
        let error = match finished {
            Ok(()) => return (true, turn),
            Err(error @ StoreError::LeaseLost { .. }) => {
                warn!(%error, "the attempt's outcome was refused: the lease was lost before it was recorded");
                return (false, turn);
            }
            Err(error) if error.is_transient() => error,
            Err(error) => {
                // Not a blink of the store: trying again would hold the
                // lease (and this worker) forever. Let the lease run out;
                // recovery gives the job to the next claim.
                error!(%error, "the attempt's outcome cannot be recorded; letting its lease run out");
                return (false, turn);
            }
        };
        warn!(%error, retry_in = ?pause, "could not record the attempt; trying again under the live lease");
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = kept.lost().cancelled() => {
                error!("the lease was lost before the attempt could be recorded; the job will run again");
                return (false, turn);
            }
            () = abort.cancelled() => {
                error!("{GRACE_OVER}");
                return (false, turn);
            }
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

pub(super) fn panic_message(panic: &(dyn Any + Send)) -> String {
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
