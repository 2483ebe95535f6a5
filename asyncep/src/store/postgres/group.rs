//! Group commit: writes that arrive while others are being written wait,
//! and are then written together, in one statement and one commit.
//!
//! Each commit waits for PostgreSQL to flush its WAL to disk; writers that
//! commit one row at a time spend most of their time there. Here a write
//! never waits for a batch to fill: the first one goes at once, and only
//! what arrives while [`FLUSHES`] batches are already on their way waits,
//! for the next one. An idle store answers as fast as before; a busy one
//! commits many writes per flush of the WAL.
//!
//! No background task: the write that finds a free slot spawns the flush
//! that carries it (and whatever queues behind it), on the caller's own
//! runtime. The flush is a task, not part of the caller's future, so a
//! caller that gives up (a client that hung up) cannot cut short the
//! writes of the others in its batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::store::StoreError;

/// Batches written at the same time, each on a connection of its own.
pub(super) const FLUSHES: usize = 2;

/// The most writes in one batch.
pub(super) const MAX_BATCH: usize = 128;

/// The most bytes of parameters in one batch (a write alone may be
/// larger). sqlx 0.9.0 leaves Nagle's algorithm on (its issue 4335, fixed
/// after that release): a statement that does not fit the socket's send
/// buffer (16 KiB on a fresh loopback connection) is written in two parts,
/// and the second waits for the server's delayed ACK, 40 ms. Measured
/// here: batches of 50 creates (~17 KiB) took 45 ms, batches of 32–49 took
/// 2.3 ms.
pub(super) const MAX_BATCH_BYTES: usize = 12 * 1024;

/// How many bytes of parameters an item sends.
pub(super) type Size<I> = fn(&I) -> usize;

/// Writes a batch: one answer per item, in the items' order.
pub(super) type Flush<I, O> = Arc<
    dyn Fn(Vec<I>) -> Pin<Box<dyn Future<Output = Vec<Result<O, StoreError>>> + Send>>
        + Send
        + Sync,
>;

type Reply<O> = oneshot::Sender<Result<O, StoreError>>;

/// A queue of writes of one kind, and the flushes that write them.
pub(super) struct Group<I, O> {
    shared: Arc<Shared<I, O>>,
}

struct Shared<I, O> {
    flush: Flush<I, O>,
    size: Size<I>,
    state: Mutex<State<I, O>>,
}

struct State<I, O> {
    waiting: Vec<(I, Reply<O>)>,
    /// Flushes on their way (at most [`FLUSHES`]).
    flushing: usize,
}

impl<I, O> std::fmt::Debug for Group<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Group<I, O> {
    pub(super) fn new(flush: Flush<I, O>, size: Size<I>) -> Self {
        Self {
            shared: Arc::new(Shared {
                flush,
                size,
                state: Mutex::new(State {
                    waiting: Vec::new(),
                    flushing: 0,
                }),
            }),
        }
    }

    /// Writes `item` with whatever else is waiting, and answers for it.
    pub(super) async fn write(&self, item: I) -> Result<O, StoreError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut state = self.shared.lock();
            state.waiting.push((item, reply));
            let start = state.flushing < FLUSHES;
            if start {
                state.flushing += 1;
            }
            start
        };
        if start {
            tokio::spawn(flush_all(Slot(Some(self.shared.clone()))));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::OutcomeUnknown {
                retry_after: std::time::Duration::from_secs(1),
                source: "the write was dropped before PostgreSQL answered (runtime shut down?)"
                    .into(),
            })
        })
    }
}

impl<I, O> Shared<I, O> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<I, O>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes batches until nothing waits. The slot is given back under the
/// lock that finds the queue empty, so a write queued after that check
/// starts a flush of its own: none is left waiting. The slot is the
/// task's from its spawn, so a task dropped before it ever ran (its
/// runtime shut down) gives it back too.
async fn flush_all<I: Send + 'static, O: Send + 'static>(mut slot: Slot<I, O>) {
    let Some(shared) = slot.0.clone() else { return };
    loop {
        let batch: Vec<(I, Reply<O>)> = {
            let mut state = shared.lock();
            if state.waiting.is_empty() {
                state.flushing -= 1;
                slot.0 = None;
                return;
            }
            let mut bytes = 0;
            let take = state
                .waiting
                .iter()
                .take(MAX_BATCH)
                .take_while(|(item, _)| {
                    bytes += (shared.size)(item);
                    bytes <= MAX_BATCH_BYTES
                })
                .count()
                .max(1);
            state.waiting.drain(..take).collect()
        };
        let (items, replies): (Vec<I>, Vec<Reply<O>>) = batch.into_iter().unzip();
        let answers = (shared.flush)(items).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(answer);
        }
    }
}

/// Gives the flush's slot back if the flush ends early (its runtime shut
/// down, or it panicked), so later writes still find one. When no other
/// flush is left to write what waits, those writes are answered as not
/// sent: nothing would carry them until the next write.
struct Slot<I: Send + 'static, O: Send + 'static>(Option<Arc<Shared<I, O>>>);

impl<I: Send + 'static, O: Send + 'static> Drop for Slot<I, O> {
    fn drop(&mut self) {
        let Some(shared) = self.0.take() else { return };
        let mut state = shared.lock();
        state.flushing -= 1;
        if state.flushing == 0 {
            for (_, reply) in state.waiting.drain(..) {
                let _ = reply.send(Err(StoreError::Unavailable {
                    retry_after: std::time::Duration::from_secs(1),
                    source: "the write's batch was dropped before it was sent".into(),
                }));
            }
        }
    }
}

/// What a batch's statement means for each of its `rows` callers: their
/// answers; or, when the batch could not be sent or its answer was lost,
/// that failure for every caller at once (each repeats its own write,
/// which finds its earlier effect), rather than each waiting its turn on a
/// database that may be down; or `None` when PostgreSQL refused the batch
/// (a deadlock, one row the function refuses): `kind`'s rows are then
/// written again one by one, each for its own answer.
pub(super) fn settle<T>(
    kind: &str,
    rows: usize,
    batch: Result<Vec<T>, StoreError>,
) -> Option<Vec<Result<T, StoreError>>> {
    match batch {
        Ok(answers) if answers.len() == rows => Some(answers.into_iter().map(Ok).collect()),
        Err(failure) if failure.is_transient() => {
            Some((0..rows).map(|_| Err(failure.shared())).collect())
        }
        Ok(answers) => {
            tracing::debug!(
                rows,
                answers = answers.len(),
                "a batch of {kind} answered for other rows; writing them one by one"
            );
            None
        }
        Err(failure) => {
            tracing::debug!(error = %failure, rows, "a batch of {kind} failed; writing them one by one");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn doubling(batches: Arc<Mutex<Vec<usize>>>) -> Flush<u32, u32> {
        Arc::new(move |items: Vec<u32>| {
            let batches = batches.clone();
            Box::pin(async move {
                batches.lock().unwrap().push(items.len());
                tokio::task::yield_now().await;
                items.into_iter().map(|i| Ok(i * 2)).collect()
            })
        })
    }

    #[tokio::test]
    async fn each_write_gets_its_own_answer_and_waiting_writes_share_a_batch() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let group = Arc::new(Group::new(doubling(batches.clone()), |_| 100));
        let writes: Vec<_> = (0..500u32)
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move { (i, group.write(i).await.unwrap()) })
            })
            .collect();
        for write in writes {
            let (i, doubled) = write.await.unwrap();
            assert_eq!(doubled, i * 2);
        }
        let batches = batches.lock().unwrap();
        assert_eq!(batches.iter().sum::<usize>(), 500);
        assert!(batches.iter().all(|&n| n <= MAX_BATCH), "{batches:?}");
        assert!(
            batches.len() < 500,
            "writes queued behind a flush are written together: {batches:?}"
        );
        assert_eq!(group.shared.lock().flushing, 0);
    }

    #[tokio::test]
    async fn a_batch_stays_within_its_bytes_and_a_large_write_goes_alone() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let size: Size<u32> = |&i| if i == 0 { 3 * MAX_BATCH_BYTES } else { 5000 };
        let group = Arc::new(Group::new(doubling(batches.clone()), size));
        let writes: Vec<_> = (0..9u32)
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move { group.write(i).await.unwrap() })
            })
            .collect();
        for write in writes {
            write.await.unwrap();
        }
        let batches = batches.lock().unwrap();
        assert_eq!(batches.iter().sum::<usize>(), 9);
        assert!(
            batches
                .iter()
                .all(|&n| n * 5000 <= MAX_BATCH_BYTES || n == 1),
            "{batches:?}"
        );
    }

    #[test]
    fn a_flush_dropped_with_its_runtime_gives_its_slot_back() {
        use futures_util::FutureExt;

        let batches = Arc::new(Mutex::new(Vec::new()));
        let group = Group::new(doubling(batches.clone()), |_| 100);
        let first = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Queued, and its flush spawned, but the runtime never runs it.
        first.block_on(async { assert!(group.write(1).now_or_never().is_none()) });
        drop(first);
        assert_eq!(group.shared.lock().flushing, 0);
        assert!(group.shared.lock().waiting.is_empty());
        let second = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(second.block_on(group.write(2)).unwrap(), 4);
        assert_eq!(*batches.lock().unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn a_write_alone_goes_at_once() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let group = Group::new(doubling(batches.clone()), |_| 100);
        assert_eq!(group.write(21).await.unwrap(), 42);
        assert_eq!(group.write(4).await.unwrap(), 8);
        assert_eq!(*batches.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test]
    async fn a_flush_that_panics_gives_its_slot_back() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let flush: Flush<u32, u32> = Arc::new(move |items: Vec<u32>| {
            let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move {
                assert!(!first, "the first flush fails");
                items.into_iter().map(Ok).collect()
            })
        });
        let group = Group::new(flush, |_| 100);
        let lost = group.write(1).await.expect_err("its flush panicked");
        assert!(lost.is_transient(), "{lost}");
        assert_eq!(group.write(2).await.unwrap(), 2);
        assert_eq!(group.shared.lock().flushing, 0);
    }
}
