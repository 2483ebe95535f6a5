//! Leases kept alive by one heartbeat task per worker: a task of its own, so
//! a handler that blocks its thread cannot starve it, and kept until the
//! attempt's outcome is recorded, not only while the handler runs.
//!
//! The task lives as long as its worker and looks at the worker's current
//! lease on a beat, so a job costs no task spawn and no wake-up: a job that
//! ends before its first renewal is never seen by the heartbeat at all.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, warn};

use crate::store::{JobStore, Lease, StoreError};

/// The heartbeat of one worker.
#[derive(Debug)]
pub(super) struct Heartbeat {
    current: Arc<Mutex<Option<Current>>>,
    task: JoinHandle<()>,
}

/// The lease the worker holds now.
#[derive(Debug)]
struct Current {
    lease: Lease,
    /// When the lease runs out unless renewed.
    deadline: Instant,
    /// When the last renewal (or the claim) was sent.
    renewed: Instant,
    /// Fires when the lease is lost.
    lost: CancellationToken,
    /// The handler's cancellation, fired with `lost`.
    handler: CancellationToken,
}

impl Heartbeat {
    /// Starts the heartbeat of a worker whose leases last `period`.
    pub(super) fn start(store: Arc<dyn JobStore>, period: Duration) -> Self {
        let current = Arc::new(Mutex::new(None));
        let task = tokio::spawn(beat(store, period, current.clone()).in_current_span());
        Self { current, task }
    }

    /// Keeps `lease`, granted by a request sent at `sent`, until the
    /// returned guard is dropped. When it is lost, `handler` fires too,
    /// from the heartbeat's task, so even a handler that blocks its thread
    /// can see it.
    pub(super) fn keep(
        &self,
        lease: Lease,
        sent: Instant,
        handler: CancellationToken,
    ) -> KeptLease<'_> {
        let lost = CancellationToken::new();
        *lock(&self.current) = Some(Current {
            deadline: sent + lease.ttl,
            renewed: sent,
            lease,
            lost: lost.clone(),
            handler,
        });
        KeptLease {
            heartbeat: self,
            lost,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A lease under upkeep; dropping it ends the upkeep.
#[derive(Debug)]
pub(super) struct KeptLease<'a> {
    heartbeat: &'a Heartbeat,
    lost: CancellationToken,
}

impl KeptLease<'_> {
    /// Fires when the lease is lost: refused by the store, or not renewed
    /// before it ran out.
    pub(super) fn lost(&self) -> &CancellationToken {
        &self.lost
    }
}

impl Drop for KeptLease<'_> {
    fn drop(&mut self) {
        *lock(&self.heartbeat.current) = None;
    }
}

fn lock(current: &Mutex<Option<Current>>) -> MutexGuard<'_, Option<Current>> {
    current
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every quarter lease: renews a lease last renewed a third of a lease ago,
/// and declares lost one that ran out or that the store refuses.
async fn beat(store: Arc<dyn JobStore>, period: Duration, current: Arc<Mutex<Option<Current>>>) {
    let tick = period / 4;
    let renew_after = period / 3;
    loop {
        tokio::time::sleep(tick).await;
        let now = Instant::now();
        let (lease, deadline) = {
            let mut guard = lock(&current);
            let Some(held) = guard.as_mut().filter(|held| !held.lost.is_cancelled()) else {
                continue;
            };
            if now >= held.deadline {
                warn!(job.id = %held.lease.job_id, "the lease ran out before it could be renewed");
                held.lost.cancel();
                held.handler.cancel();
                continue;
            }
            if now < held.renewed + renew_after {
                continue;
            }
            (held.lease.clone(), held.deadline)
        };
        // A panic in the store's renew (a bug) must not end the heartbeat:
        // it counts as a failed renewal.
        let renewal = AssertUnwindSafe(store.renew(&lease, period)).catch_unwind();
        let renewed = match tokio::time::timeout_at(deadline, renewal).await {
            Ok(Ok(renewed)) => Ok(renewed),
            Ok(Err(panic)) => Ok(Err(StoreError::Corrupt(format!(
                "the store's renew panicked: {}",
                super::attempt::panic_message(&*panic)
            )))),
            Err(elapsed) => Err(elapsed),
        };
        let mut guard = lock(&current);
        let Some(held) = guard
            .as_mut()
            .filter(|held| held.lease.token == lease.token)
        else {
            continue;
        };
        match renewed {
            Ok(Ok(())) => {
                held.deadline = now + period;
                held.renewed = now;
            }
            Ok(Err(error @ StoreError::LeaseLost { .. })) => {
                warn!(job.id = %lease.job_id, %error, "the store gave the job to another worker");
                held.lost.cancel();
                held.handler.cancel();
            }
            Ok(Err(error)) => {
                warn!(job.id = %lease.job_id, %error, "could not renew the lease; trying again")
            }
            Err(_) => warn!(job.id = %lease.job_id, "the lease ran out while it was being renewed"),
        }
    }
}
