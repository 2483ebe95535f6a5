//! What asyncep counts and measures (feature `metrics`), through the
//! [`metrics`](https://docs.rs/metrics) facade: whichever recorder the
//! application installs (Prometheus, OpenTelemetry, StatsD) receives them.
//! Without the feature, or without a recorder, every call here costs
//! nothing (or one atomic load).
//!
//! Names follow OpenTelemetry's messaging conventions where one fits, spelt
//! as OpenTelemetry's Prometheus exporter spells them, and `asyncep_*`
//! otherwise. Every per-job metric carries the job's name as
//! `messaging_destination_name`.
//!
//! | name | kind | what |
//! |---|---|---|
//! | `messaging_client_sent_messages_total` | counter | jobs submitted (a repeated request that found its job is not counted) |
//! | `messaging_client_consumed_messages_total` | counter | attempts started by a worker |
//! | `messaging_process_duration_seconds` | histogram | run time of each attempt; `error_type` is the attempt's status when it did not succeed |
//! | `asyncep_jobs_succeeded_total` | counter | jobs that completed |
//! | `asyncep_jobs_failed_total` | counter | jobs that failed for good |
//! | `asyncep_jobs_retried_total` | counter | failed attempts given a retry |
//! | `asyncep_jobs_interrupted_total` | counter | attempts cut short by a shutdown and handed back to the queue |
//! | `asyncep_jobs_canceled_total` | counter | jobs that ended canceled (waiting ones by the cancel, running ones by their worker) |
//! | `asyncep_jobs_recovered_total` | counter | jobs handed back because their worker stopped renewing its lease (no name: the recovery sees only ids) |
//! | `asyncep_queue_wait_seconds` | histogram | how long each attempt waited between becoming runnable and its claim |
//! | `asyncep_jobs_in_flight` | gauge | attempts running in this process |
//! | `asyncep_workers_live` | gauge | worker loops running in this process |
//! | `asyncep_queue_depth` | gauge | runnable jobs in the store, read every `queue_metrics_every` by processes that run workers, for the names they run |
//! | `asyncep_queue_oldest_age_seconds` | gauge | how long the oldest runnable job has waited (0 when none) |

use std::time::Duration;

use crate::job::{AttemptStatus, Next};

/// The names of the metrics above.
pub mod names {
    /// Jobs submitted.
    pub const SUBMITTED: &str = "messaging_client_sent_messages_total";
    /// Attempts started.
    pub const STARTED: &str = "messaging_client_consumed_messages_total";
    /// Run time of each attempt, in seconds.
    pub const PROCESS_DURATION: &str = "messaging_process_duration_seconds";
    /// Jobs that completed.
    pub const SUCCEEDED: &str = "asyncep_jobs_succeeded_total";
    /// Jobs that failed for good.
    pub const FAILED: &str = "asyncep_jobs_failed_total";
    /// Failed attempts given a retry.
    pub const RETRIED: &str = "asyncep_jobs_retried_total";
    /// Attempts cut short by a shutdown and handed back.
    pub const INTERRUPTED: &str = "asyncep_jobs_interrupted_total";
    /// Jobs that ended canceled.
    pub const CANCELED: &str = "asyncep_jobs_canceled_total";
    /// Jobs handed back after their worker's lease expired.
    pub const RECOVERED: &str = "asyncep_jobs_recovered_total";
    /// Time between becoming runnable and the claim, in seconds.
    pub const QUEUE_WAIT: &str = "asyncep_queue_wait_seconds";
    /// Attempts running in this process.
    pub const IN_FLIGHT: &str = "asyncep_jobs_in_flight";
    /// Worker loops running in this process.
    pub const WORKERS: &str = "asyncep_workers_live";
    /// Runnable jobs of a name in the store.
    pub const QUEUE_DEPTH: &str = "asyncep_queue_depth";
    /// Age of a name's oldest runnable job, in seconds.
    pub const QUEUE_OLDEST_AGE: &str = "asyncep_queue_oldest_age_seconds";
    /// The label that carries the job's name.
    pub const JOB_NAME: &str = "messaging_destination_name";
}

/// Gives the installed recorder each metric's unit and description (the
/// `# HELP` lines of Prometheus). [`RuntimeBuilder::build`](crate::RuntimeBuilder::build)
/// calls it. Install your recorder before building the runtime: the
/// per-job meters are registered at the build, with the recorder of that
/// moment (a recorder installed later sees only the gauges read on each
/// report: live workers and the queues).
///
/// ```
/// let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
/// let handle = recorder.handle();
/// metrics::with_local_recorder(&recorder, || {
///     asyncep::metrics::describe();
///     metrics::gauge!(asyncep::metrics::names::QUEUE_DEPTH).set(3.0);
/// });
/// assert!(handle.render().contains("# HELP asyncep_queue_depth Runnable jobs"));
/// ```
#[cfg(feature = "metrics")]
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    use names::*;
    describe_counter!(
        SUBMITTED,
        Unit::Count,
        "Jobs submitted (a repeated request that found its job is not counted)."
    );
    describe_counter!(STARTED, Unit::Count, "Attempts started by a worker.");
    describe_histogram!(
        PROCESS_DURATION,
        Unit::Seconds,
        "Run time of each attempt; error_type is its status when it did not succeed."
    );
    describe_counter!(SUCCEEDED, Unit::Count, "Jobs that completed.");
    describe_counter!(FAILED, Unit::Count, "Jobs that failed for good.");
    describe_counter!(RETRIED, Unit::Count, "Failed attempts given a retry.");
    describe_counter!(
        INTERRUPTED,
        Unit::Count,
        "Attempts cut short by a shutdown and handed back to the queue."
    );
    describe_counter!(CANCELED, Unit::Count, "Jobs that ended canceled.");
    describe_counter!(
        RECOVERED,
        Unit::Count,
        "Jobs handed back because their worker stopped renewing its lease."
    );
    describe_histogram!(
        QUEUE_WAIT,
        Unit::Seconds,
        "Time between a job becoming runnable and its claim."
    );
    describe_gauge!(IN_FLIGHT, Unit::Count, "Attempts running in this process.");
    describe_gauge!(
        WORKERS,
        Unit::Count,
        "Worker loops running in this process."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        Unit::Count,
        "Runnable jobs in the store, read by processes that run workers."
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        Unit::Seconds,
        "How long the oldest runnable job has waited."
    );
}

/// The meters of each job name a runtime knows, registered when it is
/// built, with the recorder current then (install yours first): counting
/// an event is then an atomic add on a handle, not a look-up of a name and
/// its labels. Empty without the feature.
#[derive(Default)]
pub(crate) struct Meters {
    #[cfg(feature = "metrics")]
    jobs: std::collections::HashMap<&'static str, JobMeters, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meters").finish_non_exhaustive()
    }
}

/// The handles of one job name.
#[cfg(feature = "metrics")]
struct JobMeters {
    submitted: metrics::Counter,
    started: metrics::Counter,
    queue_wait: metrics::Histogram,
    in_flight: metrics::Gauge,
    /// Run time, by the attempt's status (see [`status_index`]).
    ran: [metrics::Histogram; 6],
    /// What became of the job, by its move (see [`move_index`]).
    moved: [metrics::Counter; 5],
}

#[cfg(feature = "metrics")]
const SYSTEM: (&str, &str) = ("messaging_system", "asyncep");

#[cfg(feature = "metrics")]
impl JobMeters {
    fn new(job: &'static str) -> Self {
        use names::*;
        let process = ("messaging_operation_name", "process");
        let ran = |status: AttemptStatus| match status {
            AttemptStatus::Succeeded => {
                metrics::histogram!(PROCESS_DURATION, &[SYSTEM, process, (JOB_NAME, job)])
            }
            status => metrics::histogram!(
                PROCESS_DURATION,
                &[
                    SYSTEM,
                    process,
                    (JOB_NAME, job),
                    ("error_type", status.as_str())
                ]
            ),
        };
        let moved = |counter: &'static str| metrics::counter!(counter, JOB_NAME => job);
        Self {
            submitted: metrics::counter!(
                SUBMITTED,
                &[
                    SYSTEM,
                    ("messaging_operation_name", "submit"),
                    (JOB_NAME, job)
                ]
            ),
            started: metrics::counter!(STARTED, &[SYSTEM, process, (JOB_NAME, job)]),
            queue_wait: metrics::histogram!(QUEUE_WAIT, JOB_NAME => job),
            in_flight: metrics::gauge!(IN_FLIGHT, JOB_NAME => job),
            ran: [
                ran(AttemptStatus::Succeeded),
                ran(AttemptStatus::Failed),
                ran(AttemptStatus::TimedOut),
                ran(AttemptStatus::Panicked),
                ran(AttemptStatus::Interrupted),
                ran(AttemptStatus::Canceled),
            ],
            moved: [
                moved(SUCCEEDED),
                moved(FAILED),
                moved(RETRIED),
                moved(INTERRUPTED),
                moved(CANCELED),
            ],
        }
    }
}

/// Where an attempt status's run-time histogram sits in [`JobMeters::ran`].
#[cfg(feature = "metrics")]
fn status_index(status: AttemptStatus) -> usize {
    match status {
        AttemptStatus::Succeeded => 0,
        AttemptStatus::Failed => 1,
        AttemptStatus::TimedOut => 2,
        AttemptStatus::Panicked => 3,
        AttemptStatus::Interrupted => 4,
        AttemptStatus::Canceled => 5,
    }
}

/// Where a move's counter sits in [`JobMeters::moved`], and its name.
#[cfg(feature = "metrics")]
fn move_index(next: Next) -> (usize, &'static str) {
    match next {
        Next::Complete => (0, names::SUCCEEDED),
        Next::Fail => (1, names::FAILED),
        Next::Retry { .. } => (2, names::RETRIED),
        Next::Requeue => (3, names::INTERRUPTED),
        Next::Cancel => (4, names::CANCELED),
    }
}

impl Meters {
    /// The meters of the job names `jobs`, with the current recorder; and
    /// each metric's description.
    pub(crate) fn new(jobs: impl Iterator<Item = &'static str>) -> Self {
        #[cfg(feature = "metrics")]
        {
            describe();
            Self {
                jobs: jobs.map(|job| (job, JobMeters::new(job))).collect(),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = jobs;
            Self {}
        }
    }

    /// A job of `job` was stored by a submit.
    #[inline]
    pub(crate) fn submitted(&self, job: &str) {
        #[cfg(feature = "metrics")]
        match self.jobs.get(job) {
            Some(meters) => meters.submitted.increment(1),
            None => metrics::counter!(
                names::SUBMITTED,
                SYSTEM.0 => SYSTEM.1,
                "messaging_operation_name" => "submit",
                names::JOB_NAME => job.to_owned()
            )
            .increment(1),
        }
        #[cfg(not(feature = "metrics"))]
        let _ = job;
    }

    /// A worker started an attempt of `job` that waited `waited` in the
    /// queue. The attempt counts as in flight until the answer is dropped,
    /// however its worker leaves it (a panic unwinding past it included).
    /// Pair with [`attempt_ended`](Self::attempt_ended).
    #[inline]
    pub(crate) fn started(&self, job: &str, waited: Duration) -> InFlight<'_> {
        #[cfg(feature = "metrics")]
        {
            let meters = self.jobs.get(job);
            if let Some(meters) = meters {
                meters.started.increment(1);
                meters.queue_wait.record(waited.as_secs_f64());
                meters.in_flight.increment(1.0);
            }
            InFlight {
                gauge: meters.map(|m| &m.in_flight),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = (job, waited);
            InFlight {
                _meters: std::marker::PhantomData,
            }
        }
    }

    /// An attempt of `job` ended with `status` after running `ran`; the
    /// store recorded its move to `next` (`None` when it did not).
    #[inline]
    pub(crate) fn attempt_ended(
        &self,
        job: &str,
        status: AttemptStatus,
        ran: Duration,
        next: Option<Next>,
    ) {
        #[cfg(feature = "metrics")]
        if let Some(meters) = self.jobs.get(job) {
            meters.ran[status_index(status)].record(ran.as_secs_f64());
            if let Some(next) = next {
                meters.moved[move_index(next).0].increment(1);
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (job, status, ran, next);
    }

    /// A cancel ended a waiting job of `job`.
    #[inline]
    pub(crate) fn canceled_waiting(&self, job: &str) {
        #[cfg(feature = "metrics")]
        match self.jobs.get(job) {
            Some(meters) => meters.moved[move_index(Next::Cancel).0].increment(1),
            None => {
                metrics::counter!(names::CANCELED, names::JOB_NAME => job.to_owned()).increment(1)
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = job;
    }
}

/// An attempt counted in flight, until dropped.
#[must_use = "the attempt counts as in flight until this is dropped"]
pub(crate) struct InFlight<'a> {
    #[cfg(feature = "metrics")]
    gauge: Option<&'a metrics::Gauge>,
    #[cfg(not(feature = "metrics"))]
    _meters: std::marker::PhantomData<&'a ()>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        if let Some(gauge) = self.gauge {
            gauge.decrement(1.0);
        }
    }
}

#[cfg(feature = "metrics")]
mod record {
    use super::names::*;

    pub(super) fn recovered(count: u64) {
        metrics::counter!(RECOVERED).increment(count);
    }

    pub(super) fn worker_alive(alive: bool) {
        let workers = metrics::gauge!(WORKERS);
        if alive {
            workers.increment(1.0);
        } else {
            workers.decrement(1.0);
        }
    }

    pub(super) fn queue(job: String, runnable: u64, oldest: f64) {
        metrics::gauge!(QUEUE_DEPTH, JOB_NAME => job.clone()).set(runnable as f64);
        metrics::gauge!(QUEUE_OLDEST_AGE, JOB_NAME => job).set(oldest);
    }
}

/// The store's recovery handed back `count` jobs of lost workers.
#[inline]
pub(crate) fn recovered(count: usize) {
    #[cfg(feature = "metrics")]
    record::recovered(count as u64);
    #[cfg(not(feature = "metrics"))]
    let _ = count;
}

/// A worker loop started (`true`) or stopped.
#[inline]
pub(crate) fn worker_alive(alive: bool) {
    #[cfg(feature = "metrics")]
    record::worker_alive(alive);
    #[cfg(not(feature = "metrics"))]
    let _ = alive;
}

/// The queue of `job` has `runnable` jobs, the oldest runnable for
/// `oldest`.
#[cfg(feature = "metrics")]
pub(crate) fn queue(job: &str, runnable: u64, oldest: Option<Duration>) {
    record::queue(
        job.to_owned(),
        runnable,
        oldest.unwrap_or_default().as_secs_f64(),
    );
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;

    #[test]
    fn each_status_and_move_has_its_own_place() {
        let statuses = [
            AttemptStatus::Succeeded,
            AttemptStatus::Failed,
            AttemptStatus::TimedOut,
            AttemptStatus::Panicked,
            AttemptStatus::Interrupted,
            AttemptStatus::Canceled,
        ];
        let mut places: Vec<usize> = statuses.into_iter().map(status_index).collect();
        places.sort_unstable();
        assert_eq!(places, [0, 1, 2, 3, 4, 5]);
        let moves = [
            (Next::Complete, names::SUCCEEDED),
            (Next::Fail, names::FAILED),
            (
                Next::Retry {
                    after: Duration::ZERO,
                },
                names::RETRIED,
            ),
            (Next::Requeue, names::INTERRUPTED),
            (Next::Cancel, names::CANCELED),
        ];
        for (place, (next, name)) in moves.into_iter().enumerate() {
            assert_eq!(move_index(next), (place, name));
        }
    }

    /// The gauge of attempts in flight comes back down however the attempt
    /// is left: a panic past the attempt (in the store's finish, say) used
    /// to leave it one too high for good.
    #[test]
    fn an_attempt_left_by_a_panic_is_no_longer_in_flight() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let in_flight = || {
            handle
                .render()
                .lines()
                .find(|line| line.starts_with(names::IN_FLIGHT))
                .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        };
        metrics::with_local_recorder(&recorder, || {
            let meters = Meters::new(["report"].into_iter());
            let running = meters.started("report", Duration::ZERO);
            assert_eq!(in_flight(), Some(1.0));
            let left = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let _running = running;
                panic!("the store's finish panicked");
            }));
            assert!(left.is_err());
            assert_eq!(in_flight(), Some(0.0));
            let ended = meters.started("report", Duration::ZERO);
            meters.attempt_ended("report", AttemptStatus::Succeeded, Duration::ZERO, None);
            drop(ended);
            assert_eq!(in_flight(), Some(0.0), "counted down once");
        });
    }
}
