//! A lease kept alive by a heartbeat task of its own, so a handler that
//! blocks its thread cannot starve it, and kept until the attempt's outcome
//! is recorded, not only while the handler runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, warn};

use crate::store::{JobStore, Lease, StoreError};

/// A lease under upkeep. Dropping it stops the heartbeat.
#[derive(Debug)]
pub(super) struct KeptLease {
    lost: CancellationToken,
    heartbeat: JoinHandle<()>,
}

impl KeptLease {
    /// Starts renewing `lease`, granted by a request sent at `sent`, every
    /// third of `period`. When the lease is lost, `handler` fires too, from
    /// the heartbeat's own task, so even a handler that blocks its thread
    /// can see it.
    pub(super) fn keep(
        store: Arc<dyn JobStore>,
        lease: Lease,
        sent: Instant,
        period: Duration,
        handler: CancellationToken,
    ) -> Self {
        let lost = CancellationToken::new();
        let on_loss = lost.clone();
        let lost_or_handler = async move {
            on_loss.cancelled().await;
            handler.cancel();
        };
        let deadline = sent + lease.ttl;
        let beat = heartbeat(store, lease, deadline, period, lost.clone());
        let heartbeat = tokio::spawn(
            async move {
                tokio::join!(beat, lost_or_handler);
            }
            .in_current_span(),
        );
        Self { lost, heartbeat }
    }

    /// Fires when the lease is lost: refused by the store, or not renewed
    /// before it ran out.
    pub(super) fn lost(&self) -> &CancellationToken {
        &self.lost
    }
}

impl Drop for KeptLease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

async fn heartbeat(
    store: Arc<dyn JobStore>,
    lease: Lease,
    mut deadline: Instant,
    period: Duration,
    lost: CancellationToken,
) {
    let beat = period / 3;
    let retry = (period / 10).min(Duration::from_secs(1));
    let mut next = Instant::now() + beat;
    loop {
        tokio::time::sleep_until(next.min(deadline)).await;
        if Instant::now() >= deadline {
            warn!("the lease ran out before it could be renewed");
            lost.cancel();
            return;
        }
        let sent = Instant::now();
        let renewed = tokio::select! {
            renewed = store.renew(&lease, period) => renewed,
            () = tokio::time::sleep_until(deadline) => continue,
        };
        match renewed {
            Ok(()) => {
                deadline = sent + period;
                next = sent + beat;
            }
            Err(error @ StoreError::LeaseLost { .. }) => {
                warn!(%error, "the store gave the job to another worker");
                lost.cancel();
                return;
            }
            Err(error) => {
                warn!(%error, "could not renew the lease; trying again");
                next = Instant::now() + retry;
            }
        }
    }
}
