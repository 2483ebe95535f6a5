//! A handler's progress, on its way to the store: the latest value only, so
//! a handler that reports in a tight loop costs one store write per beat.

use std::sync::Arc;

use tokio::sync::watch;

use crate::job::RawJson;

/// The largest progress value stored, as JSON bytes: progress is a gauge
/// ("40 %", "page 3 of 9"), not a place for results.
pub const PROGRESS_LIMIT: usize = 64 * 1024;

/// Where a handler's progress goes. Outside a worker (a `validate`
/// function) it goes nowhere.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProgressSink(Option<Arc<watch::Sender<Option<RawJson>>>>);

impl ProgressSink {
    /// A sink, and what the worker reads from it.
    pub(crate) fn channel() -> (Self, watch::Receiver<Option<RawJson>>) {
        let (sender, receiver) = watch::channel(None);
        (Self(Some(Arc::new(sender))), receiver)
    }

    /// Keeps `value` as the latest progress, replacing one not yet stored.
    pub(crate) fn report(&self, value: RawJson) {
        if let Some(sender) = &self.0 {
            sender.send_replace(Some(value));
        }
    }
}
