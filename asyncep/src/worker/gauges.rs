//! The queue gauges (feature `metrics`): how many jobs of the names this
//! process runs are runnable in the store, and how long the oldest has
//! waited, read at start and then every `queue_metrics_every`.

use std::sync::Arc;

use tracing::warn;

use super::{Signals, WorkerContext};

/// Reads the queue depths until the workers stop.
pub(super) async fn queue_gauges(context: Arc<WorkerContext>, signals: Arc<Signals>) {
    let names = context.registry.names();
    let period = context.settings.queue_metrics_every;
    loop {
        match context.store.queue_depths(&names).await {
            Ok(depths) => {
                for (name, depth) in names.iter().zip(depths) {
                    crate::metrics::queue(name, depth.runnable, depth.oldest);
                }
            }
            Err(error) => warn!(%error, "could not read the queue depths"),
        }
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = signals.stop.cancelled() => return,
        }
    }
}
