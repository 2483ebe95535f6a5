//! Supervision: a worker loop that panics is logged and started again, so
//! a bug in one place never silently leaves the API accepting jobs that
//! nobody runs.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::error;

/// The pause before a loop that panicked starts again.
const RESTART_PAUSE: Duration = Duration::from_millis(100);

/// Runs `task()` until it returns; if it panics, logs it and runs a new one
/// (unless `stop` fired). `live` counts the running loops.
pub(super) async fn supervise<F, Fut>(
    what: &'static str,
    stop: CancellationToken,
    live: Option<Arc<AtomicUsize>>,
    task: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let _alive = live.as_ref().map(|live| Alive::new(live.clone()));
        match tokio::spawn(task()).await {
            Ok(()) => return,
            Err(failure) if failure.is_panic() => {
                error!(
                    task = what,
                    panic = %super::attempt::panic_message(&*failure.into_panic()),
                    "an asyncep {what} task panicked; starting it again"
                );
            }
            // Cancelled: its runtime is shutting down.
            Err(_) => return,
        }
        drop(_alive);
        tokio::select! {
            () = tokio::time::sleep(RESTART_PAUSE) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Counts one live loop while it exists.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(live: Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::AcqRel);
        crate::metrics::worker_alive(true);
        Self(live)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::worker_alive(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_loop_is_started_again_and_counted() {
        let runs = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let task = {
            let runs = runs.clone();
            move || {
                let runs = runs.clone();
                async move {
                    if runs.fetch_add(1, Ordering::AcqRel) < 2 {
                        panic!("boom");
                    }
                }
            }
        };
        supervise("test", stop, Some(live.clone()), task).await;
        assert_eq!(
            runs.load(Ordering::Acquire),
            3,
            "two panics, then a clean end"
        );
        assert_eq!(live.load(Ordering::Acquire), 0);
    }
}
