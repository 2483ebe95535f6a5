//! The workers: claim loops, lease recovery and graceful shutdown.
//!
//! Each worker is a task that claims one job at a time, runs it
//! ([`attempt`]), and waits on the store's wake-up signal when idle. The
//! retry decision ([`retry`]) is a pure function of the attempt's outcome.

mod attempt;
mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use crate::job::Timestamp;
use crate::runtime::Shared;
use crate::store::Claim;

/// The longest an idle worker waits before it looks at the store again even
/// without a wake-up: a safety net for a missed signal, not a polling beat.
const IDLE_RECHECK: Duration = Duration::from_secs(2);

/// The signals a worker obeys.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// Stop claiming; running handlers see their cancellation token fire.
    pub(crate) stop: CancellationToken,
    /// The grace period is over: interrupt what still runs.
    pub(crate) abort: CancellationToken,
}

/// The worker tasks of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Workers {
    signals: Arc<Signals>,
    tracker: TaskTracker,
    started: AtomicBool,
}

impl Workers {
    /// Starts the workers and the lease recovery, once. Needs a Tokio
    /// runtime. Does nothing after a shutdown began.
    pub(crate) fn start(&self, shared: &Arc<Shared>) {
        if shared.config.workers == 0
            || self.signals.stop.is_cancelled()
            || self.started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        info!(
            workers = shared.config.workers,
            jobs = shared.registry.len(),
            "starting asyncep workers"
        );
        for index in 0..shared.config.workers {
            let span = info_span!("asyncep.worker", worker = index);
            self.tracker
                .spawn(claim_loop(shared.clone(), self.signals.clone()).instrument(span));
        }
        self.tracker
            .spawn(recover_loop(shared.clone(), self.signals.clone()));
    }

    /// Whether the workers were started.
    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Waits until a shutdown began and every worker has stopped.
    pub(crate) async fn wait_for_shutdown(&self) {
        self.signals.stop.cancelled().await;
        self.tracker.wait().await;
    }

    /// Stops claiming, lets running jobs finish within `grace`, then
    /// interrupts the rest and hands them back to the queue.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.signals.stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!(grace = %humantime::format_duration(grace), "jobs still run after the shutdown grace; interrupting them");
            self.signals.abort.cancel();
            self.tracker.wait().await;
        }
    }
}

async fn claim_loop(shared: Arc<Shared>, signals: Arc<Signals>) {
    let names = shared.registry.names();
    let mut failures = 0_u32;
    while !signals.stop.is_cancelled() {
        match shared.store.claim(&names, shared.config.lease).await {
            Ok(Claim::Job(job)) => {
                failures = 0;
                attempt::run_claimed(&shared, *job, &signals).await;
            }
            Ok(Claim::Idle { next_due }) => {
                failures = 0;
                let wait = next_due
                    .map_or(IDLE_RECHECK, |due| Timestamp::now().until(due))
                    .min(IDLE_RECHECK);
                tokio::select! {
                    () = shared.store.wait_for_work(&names, wait) => {}
                    () = signals.stop.cancelled() => {}
                }
            }
            Err(error) => {
                failures += 1;
                let pause = reconnect_pause(failures);
                warn!(%error, retry_in = ?pause, "could not claim a job");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = signals.stop.cancelled() => {}
                }
            }
        }
    }
}

/// Hands back the jobs of workers that died, every half lease.
async fn recover_loop(shared: Arc<Shared>, signals: Arc<Signals>) {
    let period = shared.config.lease / 2;
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = signals.stop.cancelled() => return,
        }
        match shared.store.recover_expired().await {
            Ok(ids) if !ids.is_empty() => {
                warn!(
                    count = ids.len(),
                    ?ids,
                    "requeued jobs whose worker stopped renewing its lease"
                );
            }
            Ok(_) => {}
            Err(error) => warn!(%error, "could not recover expired leases"),
        }
    }
}

/// 100 ms, 200 ms, ... up to 5 s between attempts to reach a failing store.
fn reconnect_pause(failures: u32) -> Duration {
    let millis = 100_u64.saturating_mul(1 << failures.min(7).saturating_sub(1));
    Duration::from_millis(millis).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_pauses_grow_and_cap() {
        assert_eq!(reconnect_pause(1), Duration::from_millis(100));
        assert_eq!(reconnect_pause(2), Duration::from_millis(200));
        assert_eq!(reconnect_pause(50), Duration::from_secs(5));
    }
}
