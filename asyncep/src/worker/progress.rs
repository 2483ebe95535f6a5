//! A run's progress on its way to the store: the latest value the handler
//! reported, at most one write per beat, and whatever is left written before
//! the attempt's outcome.

use std::convert::Infallible;
use std::time::Duration;

use tokio::sync::watch;
use tracing::debug;

use crate::job::RawJson;
use crate::store::{JobStore, Lease};

/// The least time between two progress writes of one run.
pub(super) const PROGRESS_BEAT: Duration = Duration::from_millis(200);

/// Writes one run's progress.
pub(super) struct ProgressWriter<'a> {
    store: &'a dyn JobStore,
    lease: &'a Lease,
    latest: watch::Receiver<Option<RawJson>>,
    written: Option<RawJson>,
}

impl<'a> ProgressWriter<'a> {
    pub(super) fn new(
        store: &'a dyn JobStore,
        lease: &'a Lease,
        latest: watch::Receiver<Option<RawJson>>,
    ) -> Self {
        Self {
            store,
            lease,
            latest,
            written: None,
        }
    }

    /// Writes each new value, then rests a beat; values reported meanwhile
    /// replace one another. Runs until dropped.
    pub(super) async fn run(&mut self) -> Infallible {
        loop {
            if self.latest.changed().await.is_err() {
                // The handler is gone; `flush` writes what is left.
                return std::future::pending().await;
            }
            self.write().await;
            tokio::time::sleep(PROGRESS_BEAT).await;
        }
    }

    /// Writes the latest value if it was not written yet.
    pub(super) async fn flush(&mut self) {
        self.write().await;
    }

    async fn write(&mut self) {
        let Some(value) = self.latest.borrow_and_update().clone() else {
            return;
        };
        if self.written.as_ref() == Some(&value) {
            return;
        }
        match self.store.progress(self.lease, value.clone()).await {
            Ok(()) => self.written = Some(value),
            // Progress is a gauge: a lost write is replaced by the next.
            Err(error) => debug!(%error, "could not store the job's progress"),
        }
    }
}
