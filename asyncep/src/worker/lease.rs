//! Leases kept alive by a heartbeat that no handler can starve, and kept
//! until the attempt's outcome is recorded, not only while the handler runs.
//!
//! The heartbeat's clock is an OS thread of its own, one per runtime. On
//! each beat it looks at every worker's current lease; a lease due for
//! renewal is renewed by a task it spawns onto the runtime from outside, so
//! the task lands in the runtime's global queue, where any free worker
//! thread takes it. (A task woken from inside the runtime may instead wait
//! in the waking thread's own slot, and if that thread then blocks in a
//! handler, so does the task: the heartbeat must not depend on it.) A job
//! that ends before its first renewal costs the heartbeat nothing.
//!
//! A renewal also says whether a client asked to cancel the job; then the
//! handler's token fires. A worker that hears its job changed (a cancel in
//! any process is announced) renews at once, so it learns of the cancel in
//! a round trip rather than a third of a lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::store::{JobStore, Lease, StoreError};

/// The heartbeat of one runtime's workers: a slot per worker.
#[derive(Debug)]
pub(super) struct Heartbeat {
    slots: Arc<Slots>,
    stop: Arc<AtomicBool>,
    store: Arc<dyn JobStore>,
    period: Duration,
}

type Slots = Vec<Mutex<Option<Current>>>;

/// The lease a worker holds now.
#[derive(Debug)]
struct Current {
    lease: Lease,
    /// When the lease runs out unless renewed.
    deadline: Instant,
    /// When the last renewal (or the claim) was sent.
    renewed: Instant,
    /// A renewal is under way.
    renewing: bool,
    /// Fires when the lease is lost.
    lost: CancellationToken,
    /// The handler's cancellation, fired with `lost` and `asked`.
    handler: CancellationToken,
    /// Fires when a client asked to cancel the job.
    asked: CancellationToken,
}

impl Current {
    /// Marks a renewal of this lease (the slot `index`'s) under way, and
    /// returns it, to be spawned.
    fn renewal(
        &mut self,
        store: &Arc<dyn JobStore>,
        period: Duration,
        slots: &Arc<Slots>,
        index: usize,
    ) -> impl Future<Output = ()> + Send + 'static {
        self.renewing = true;
        renew(
            store.clone(),
            self.lease.clone(),
            self.deadline,
            period,
            slots.clone(),
            index,
        )
    }
}

impl Heartbeat {
    /// Starts the heartbeat of `workers` workers whose leases last `period`,
    /// renewing on the runtime of `handle`.
    pub(super) fn start(
        store: Arc<dyn JobStore>,
        period: Duration,
        workers: usize,
        handle: tokio::runtime::Handle,
    ) -> Self {
        let slots: Arc<Slots> = Arc::new((0..workers).map(|_| Mutex::new(None)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let (beat_slots, beat_stop, beat_store) = (slots.clone(), stop.clone(), store.clone());
        let spawned = std::thread::Builder::new()
            .name("asyncep-heartbeat".into())
            .spawn(move || beat(beat_store, period, beat_slots, beat_stop, handle));
        if let Err(error) = spawned {
            // Without a thread, leases run out and jobs go to other workers:
            // at-least-once still holds. Say so loudly.
            tracing::error!(%error, "could not start the asyncep heartbeat thread");
        }
        Self {
            slots,
            stop,
            store,
            period,
        }
    }

    /// Keeps `lease` for worker `slot`, granted by a request sent at
    /// `sent`, until the returned guard is dropped. When it is lost,
    /// `handler` fires too, from the heartbeat, so even a handler that
    /// blocks its thread can see it; it fires too when a renewal finds that
    /// a client asked to cancel the job.
    pub(super) fn keep(
        &self,
        slot: usize,
        lease: Lease,
        sent: Instant,
        handler: CancellationToken,
    ) -> KeptLease<'_> {
        let (lost, asked) = (CancellationToken::new(), CancellationToken::new());
        *lock(&self.slots[slot]) = Some(Current {
            deadline: sent + lease.ttl,
            renewed: sent,
            renewing: false,
            lease,
            lost: lost.clone(),
            handler,
            asked: asked.clone(),
        });
        KeptLease {
            heartbeat: self,
            slot,
            lost,
            asked,
        }
    }

    /// Stops the heartbeat thread (within a beat).
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A lease under upkeep; dropping it ends the upkeep.
#[derive(Debug)]
pub(super) struct KeptLease<'a> {
    heartbeat: &'a Heartbeat,
    slot: usize,
    lost: CancellationToken,
    asked: CancellationToken,
}

impl KeptLease<'_> {
    /// Fires when the lease is lost: refused by the store, or not renewed
    /// before it ran out.
    pub(super) fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    /// Fires when a renewal finds that a client asked to cancel the job.
    pub(super) fn cancel_asked(&self) -> &CancellationToken {
        &self.asked
    }

    /// Renews the lease now: a cancel was announced, and the renewal says
    /// whether it was asked. Even while another renewal is under way, which
    /// may have been read before the cancel (two renewals of one lease do
    /// no harm).
    pub(super) fn renew_now(&self) {
        let heartbeat = self.heartbeat;
        let mut guard = lock(&heartbeat.slots[self.slot]);
        let Some(held) = guard.as_mut().filter(|held| !held.lost.is_cancelled()) else {
            return;
        };
        let renewal = held.renewal(
            &heartbeat.store,
            heartbeat.period,
            &heartbeat.slots,
            self.slot,
        );
        drop(guard);
        drop(tokio::spawn(renewal));
    }
}

impl Drop for KeptLease<'_> {
    fn drop(&mut self) {
        *lock(&self.heartbeat.slots[self.slot]) = None;
    }
}

fn lock(slot: &Mutex<Option<Current>>) -> MutexGuard<'_, Option<Current>> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every quarter lease: renews each lease last renewed a third of a lease
/// ago, and declares lost one that ran out.
fn beat(
    store: Arc<dyn JobStore>,
    period: Duration,
    slots: Arc<Slots>,
    stop: Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
) {
    let tick = (period / 4).max(Duration::from_millis(5));
    let renew_after = period / 3;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(tick);
        let now = Instant::now();
        for (index, slot) in slots.iter().enumerate() {
            let mut guard = lock(slot);
            let Some(held) = guard.as_mut().filter(|held| !held.lost.is_cancelled()) else {
                continue;
            };
            if now >= held.deadline {
                warn!(job.id = %held.lease.job_id, "the lease ran out before it could be renewed");
                held.lost.cancel();
                held.handler.cancel();
                continue;
            }
            if held.renewing || now < held.renewed + renew_after {
                continue;
            }
            let renewal = held.renewal(&store, period, &slots, index);
            // From outside the runtime: the global queue, any free thread.
            drop(handle.spawn(renewal));
        }
    }
}

/// Renews one lease and records what came of it in its slot.
async fn renew(
    store: Arc<dyn JobStore>,
    lease: Lease,
    deadline: Instant,
    period: Duration,
    slots: Arc<Slots>,
    index: usize,
) {
    let sent = Instant::now();
    // A panic in the store's renew (a bug) counts as a failed renewal.
    let renewal = AssertUnwindSafe(store.renew(&lease, period)).catch_unwind();
    let renewed = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), renewal).await;
    let mut guard = lock(&slots[index]);
    let Some(held) = guard
        .as_mut()
        .filter(|held| held.lease.token == lease.token && held.lease.job_id == lease.job_id)
    else {
        return;
    };
    held.renewing = false;
    match renewed {
        Ok(Ok(Ok(renewal))) => {
            held.deadline = sent + period;
            held.renewed = sent;
            if renewal.cancel_requested && !held.asked.is_cancelled() {
                tracing::info!(job.id = %lease.job_id, "a client canceled the job; stopping its handler");
                held.asked.cancel();
                held.handler.cancel();
            }
        }
        Ok(Ok(Err(error @ StoreError::LeaseLost { .. }))) => {
            warn!(job.id = %lease.job_id, %error, "the store gave the job to another worker");
            held.lost.cancel();
            held.handler.cancel();
        }
        Ok(Ok(Err(error))) => {
            warn!(job.id = %lease.job_id, %error, "could not renew the lease; trying again")
        }
        Ok(Err(panic)) => warn!(
            job.id = %lease.job_id,
            panic = %super::attempt::panic_message(&*panic),
            "the store's renew panicked; trying again"
        ),
        Err(_) => warn!(job.id = %lease.job_id, "the lease ran out while it was being renewed"),
    }
}
