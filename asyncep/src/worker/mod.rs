//! The workers: claim loops, lease upkeep, store maintenance and graceful
//! shutdown, all supervised.
//!
//! Each worker is a task that claims one job at a time, runs it
//! ([`attempt`]) while its lease is kept alive by the runtime's heartbeat
//! ([`lease`], a thread no handler can starve), and waits on the store's
//! wake-up signal when idle. The
//! retry decision ([`retry`]) is a pure function of the attempt's outcome.
//! The worker knows the store, the registry and the states; never axum.

mod attempt;
#[cfg(feature = "metrics")]
mod gauges;
mod lease;
mod progress;
mod retry;
mod supervise;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use crate::context::States;
use crate::registry::Registry;
use crate::store::{ClaimId, ClaimRequest, Claimed, JobStore};

/// The longest an idle worker waits before it looks at the store again even
/// without a wake-up: a safety net for a missed signal, not a polling beat.
const IDLE_RECHECK: Duration = Duration::from_secs(2);

/// How the workers run.
#[derive(Clone, Debug)]
pub(crate) struct WorkerSettings {
    pub(crate) workers: usize,
    pub(crate) lease: Duration,
    pub(crate) timeout: Duration,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) shutdown_grace: Duration,
    /// How long a canceled job's handler may run on after its token fired.
    pub(crate) cancel_grace: Duration,
    /// The largest result a handler may return, as JSON bytes.
    pub(crate) result_limit: usize,
    /// How often the queue gauges are read from the store (feature
    /// `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) queue_metrics_every: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lease: Duration::from_secs(30),
            timeout: Duration::from_secs(30 * 60),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60 * 60),
            shutdown_grace: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(10),
            result_limit: 1024 * 1024,
            #[cfg(feature = "metrics")]
            queue_metrics_every: Duration::from_secs(15),
        }
    }
}

/// What the workers need from the runtime, and nothing more.
#[derive(Debug)]
pub(crate) struct WorkerContext {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) states: States,
    pub(crate) settings: WorkerSettings,
    pub(crate) meters: Arc<crate::metrics::Meters>,
}

/// The signals a worker obeys.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// Stop claiming; running handlers see their cancellation token fire.
    pub(crate) stop: CancellationToken,
    /// The grace period is over: interrupt what still runs.
    pub(crate) abort: CancellationToken,
}

/// The worker tasks of one runtime.
#[derive(Debug)]
pub(crate) struct Workers {
    context: Arc<WorkerContext>,
    signals: Arc<Signals>,
    tracker: TaskTracker,
    started: AtomicBool,
    live: Arc<AtomicUsize>,
    heartbeat: std::sync::OnceLock<Arc<lease::Heartbeat>>,
}

impl Workers {
    pub(crate) fn new(context: WorkerContext) -> Self {
        Self {
            context: Arc::new(context),
            signals: Arc::default(),
            tracker: TaskTracker::new(),
            started: AtomicBool::new(false),
            live: Arc::default(),
            heartbeat: std::sync::OnceLock::new(),
        }
    }

    /// Starts the workers and the store maintenance, once, each under a
    /// supervisor that restarts it if it panics. Needs a Tokio runtime.
    /// Does nothing after a shutdown began, or when there are no workers.
    pub(crate) fn start(&self) {
        let context = &self.context;
        if context.settings.workers == 0
            || self.signals.stop.is_cancelled()
            || self.started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        info!(
            workers = context.settings.workers,
            jobs = context.registry.len(),
            "starting asyncep workers"
        );
        let heartbeat = self
            .heartbeat
            .get_or_init(|| {
                Arc::new(lease::Heartbeat::start(
                    context.store.clone(),
                    context.settings.lease,
                    context.settings.workers,
                    tokio::runtime::Handle::current(),
                ))
            })
            .clone();
        for index in 0..context.settings.workers {
            let (context, signals) = (context.clone(), self.signals.clone());
            let heartbeat = heartbeat.clone();
            let span = info_span!("asyncep.worker", worker = index);
            self.tracker.spawn(supervise::supervise(
                "worker",
                self.signals.stop.clone(),
                Some(self.live.clone()),
                move || {
                    claim_loop(context.clone(), signals.clone(), heartbeat.clone(), index)
                        .instrument(span.clone())
                },
            ));
        }
        let (maintained, signals) = (context.clone(), self.signals.clone());
        self.tracker.spawn(supervise::supervise(
            "store maintenance",
            self.signals.stop.clone(),
            None,
            move || maintain_loop(maintained.clone(), signals.clone()),
        ));
        #[cfg(feature = "metrics")]
        {
            let (context, signals) = (context.clone(), self.signals.clone());
            self.tracker.spawn(supervise::supervise(
                "queue gauges",
                self.signals.stop.clone(),
                None,
                move || gauges::queue_gauges(context.clone(), signals.clone()),
            ));
        }
    }

    /// How many worker loops run now.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Waits until a shutdown began and every worker has stopped.
    pub(crate) async fn wait_for_shutdown(&self) {
        self.signals.stop.cancelled().await;
        self.tracker.wait().await;
    }

    /// Stops claiming, lets running jobs finish within the grace, then
    /// interrupts the rest and hands them back to the queue.
    pub(crate) async fn shutdown(&self) {
        let grace = self.context.settings.shutdown_grace;
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
        if let Some(heartbeat) = self.heartbeat.get() {
            heartbeat.stop();
        }
    }
}

async fn claim_loop(
    context: Arc<WorkerContext>,
    signals: Arc<Signals>,
    heartbeat: Arc<lease::Heartbeat>,
    slot: usize,
) {
    let mut request = ClaimRequest {
        names: context.registry.names(),
        lease: context.settings.lease,
        limit: 1,
        id: ClaimId::new(),
        repeat: false,
    };
    let mut failures = 0_u32;
    // Jobs claimed with the last attempt's record, and when that was sent.
    let mut ahead: Option<(Instant, Claimed)> = None;
    // Jobs claimed ahead are run even when a stop began meanwhile: their
    // handlers see the stop at once, and the shutdown hands them back.
    loop {
        let (sent, answer) = match ahead.take() {
            Some((sent, claimed)) => (sent, Ok(claimed)),
            None if !signals.stop.is_cancelled() => {
                (Instant::now(), context.store.claim(&request).await)
            }
            None if request.repeat && !signals.abort.is_cancelled() => {
                // The unanswered claim may hold jobs: a repeat with no room
                // for new ones finds them, to be handed back now rather
                // than wait out their lease. Until it is answered, within
                // the grace.
                request.limit = 0;
                let sent = Instant::now();
                tokio::select! {
                    biased;
                    () = signals.abort.cancelled() => break,
                    answer = context.store.claim(&request) => (sent, answer),
                }
            }
            None => break,
        };
        match answer {
            Ok(claimed) => {
                // A new id once an answer came back; until then the same
                // claim is repeated, and finds the jobs it may have taken.
                request.id = ClaimId::new();
                request.repeat = false;
                failures = 0;
                if claimed.jobs.is_empty() {
                    let wait = claimed.next_due.unwrap_or(IDLE_RECHECK).min(IDLE_RECHECK);
                    tokio::select! {
                        () = context.store.wait_for_work(&request.names, wait) => {}
                        () = signals.stop.cancelled() => {}
                    }
                }
                let count = claimed.jobs.len();
                for (place, job) in claimed.jobs.into_iter().enumerate() {
                    if sent + job.lease.ttl <= Instant::now() {
                        // Its lease ran out before the handler could start
                        // (a slow answer, or a repeated claim): recovery
                        // gives the job to the next claim.
                        warn!(job.id = %job.id, "not starting a job whose lease already ran out");
                        continue;
                    }
                    let kept = attempt::Held {
                        heartbeat: &heartbeat,
                        slot,
                        sent: sent.into_std(),
                    };
                    // The last job's record carries the next claim (unless
                    // the worker is stopping by then).
                    let next = (place + 1 == count).then_some(&request);
                    match attempt::run(&context, kept, job, &signals, next).await {
                        attempt::Turn::Unclaimed => {}
                        attempt::Turn::Claimed(sent, claimed) => ahead = Some((sent, claimed)),
                        attempt::Turn::Unanswered => request.repeat = true,
                    }
                }
            }
            Err(error) => {
                request.repeat = true;
                failures += 1;
                let pause = reconnect_pause(failures);
                warn!(%error, retry_in = ?pause, "could not claim a job");
                // A stopping worker still repeats an unanswered claim, until
                // the grace runs out.
                let cut = if signals.stop.is_cancelled() {
                    &signals.abort
                } else {
                    &signals.stop
                };
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = cut.cancelled() => {}
                }
            }
        }
    }
}

/// Recovers the jobs of workers that died, purges expired jobs and tidies
/// the listing index, every half lease.
async fn maintain_loop(context: Arc<WorkerContext>, signals: Arc<Signals>) {
    let period = context.settings.lease / 2;
    let names = context.registry.names();
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = signals.stop.cancelled() => return,
        }
        match context.store.maintain().await {
            Ok(done) if !done.recovered.is_empty() => {
                crate::metrics::recovered(done.recovered.len());
                warn!(
                    count = done.recovered.len(),
                    ids = ?done.recovered,
                    "requeued jobs whose worker stopped renewing its lease"
                );
            }
            Ok(_) => {}
            Err(error) => warn!(%error, "could not maintain the job store"),
        }
        if let Err(error) = context.store.tidy_listing(&names).await {
            warn!(%error, "could not tidy the job listing");
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
