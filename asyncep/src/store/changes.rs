//! Announcements of job changes, for whoever in this process waits on a job:
//! a `GET /jobs/{id}?wait=`, an event stream, the worker whose job a client
//! cancels. Each store announces the changes it makes, and the changes other
//! processes make to a watched job (pub/sub, `NOTIFY`, a shared poll), so
//! no waiter ever polls on its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::job::JobId;

type Hasher = foldhash::fast::RandomState;

/// What a changes-channel message starts with when it announces a cancel
/// (the Redis scripts and the PostgreSQL functions write it).
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) const CANCEL_PREFIX: &str = "cancel:";

/// Who in this process listens for changes of which job.
///
/// A store holds one and calls [`announce`](Self::announce) for every job
/// it changes; that costs one atomic load while nobody listens.
#[derive(Debug, Default)]
pub struct Changes {
    listening: Mutex<HashMap<JobId, watch::Sender<Version>, Hasher>>,
    /// How many jobs are listened to (read without the lock).
    jobs: AtomicUsize,
}

impl Changes {
    /// A fresh set with no listeners.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Listens for changes of `id` from now on. Look at the job after
    /// this, then wait on [`ChangeListener::changed`]: a change in between
    /// is not missed.
    pub fn listen(self: &Arc<Self>, id: JobId) -> ChangeListener {
        let mut listening = self.lock();
        let receiver = listening
            .entry(id)
            .or_insert_with(|| {
                self.jobs.fetch_add(1, Ordering::Relaxed);
                watch::Sender::new(Version::default())
            })
            .subscribe();
        let cancels = receiver.borrow().cancels;
        ChangeListener {
            changes: self.clone(),
            id,
            receiver: Some(receiver),
            cancels,
        }
    }

    /// Tells the listeners of `id` that it changed.
    pub fn announce(&self, id: JobId) {
        self.bump(id, false);
    }

    /// Tells the listeners of `id` that a cancel of it was asked (a change
    /// too).
    pub fn announce_cancel(&self, id: JobId) {
        self.bump(id, true);
    }

    fn bump(&self, id: JobId, cancel: bool) {
        if self.jobs.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(sender) = self.lock().get(&id) {
            sender.send_modify(|version| {
                version.changes += 1;
                version.cancels += u64::from(cancel);
            });
        }
    }

    /// Tells every listener that its job may have changed, a cancel
    /// included: after a shared store's messages may have been missed (a
    /// lost subscription). A false cancel costs a worker one renewal.
    pub fn announce_all(&self) {
        for id in self.listened() {
            self.announce_cancel(id);
        }
    }

    /// Announces what a message on a shared store's changes channel names:
    /// a job id, or [`CANCEL_PREFIX`] and an id. Returns false for a message
    /// that names no job.
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(crate) fn announce_message(&self, message: &str) -> bool {
        let (cancel, id) = match message.strip_prefix(CANCEL_PREFIX) {
            Some(id) => (true, id),
            None => (false, message),
        };
        match id.parse::<JobId>() {
            Ok(id) if cancel => self.announce_cancel(id),
            Ok(id) => self.announce(id),
            Err(_) => return false,
        }
        true
    }

    /// Whether anyone listens.
    pub fn is_listened(&self) -> bool {
        self.jobs.load(Ordering::Relaxed) > 0
    }

    /// The jobs listened to now.
    pub fn listened(&self) -> Vec<JobId> {
        if !self.is_listened() {
            return Vec::new();
        }
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<JobId, watch::Sender<Version>, Hasher>> {
        // Nothing under the lock panics: a poisoned map is still whole.
        self.listening
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a poll of the listened jobs saw of each (its `last_updated_at` and
/// cancel mark), for the stores that learn of other processes' changes by
/// reading them (SQLite; PostgreSQL behind a pooler).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug, Default)]
pub(crate) struct Marks {
    seen: HashMap<JobId, (i64, bool)>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Marks {
    /// The jobs to look at now (what is no longer listened is forgotten).
    pub(crate) fn listened_now(&mut self, changes: &Changes) -> Vec<JobId> {
        let listened = changes.listened();
        let listening: std::collections::HashSet<JobId> = listened.iter().copied().collect();
        self.seen.retain(|id, _| listening.contains(id));
        listened
    }

    /// Records what a read found of `id`, and announces it if it moved
    /// since the last read, or if this read sees it first (a listener that
    /// looked at the job before a change must not miss it).
    pub(crate) fn saw(&mut self, changes: &Changes, id: JobId, updated: i64, canceled: bool) {
        let before = self.seen.insert(id, (updated, canceled));
        if before == Some((updated, canceled)) {
            return;
        }
        if canceled && before.is_none_or(|(_, was)| !was) {
            changes.announce_cancel(id);
        } else {
            changes.announce(id);
        }
    }
}

/// How many changes, and cancels among them, a job had while listened to.
#[derive(Clone, Copy, Debug, Default)]
struct Version {
    changes: u64,
    cancels: u64,
}

/// Listens for changes of one job until dropped.
#[derive(Debug)]
pub struct ChangeListener {
    changes: Arc<Changes>,
    id: JobId,
    receiver: Option<watch::Receiver<Version>>,
    /// The cancels seen so far.
    cancels: u64,
}

impl ChangeListener {
    /// The job listened to.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Returns when the job changed since this was last called (or since
    /// the listener was made).
    pub async fn changed(&mut self) {
        match self.receiver.as_mut() {
            Some(receiver) => {
                if receiver.changed().await.is_err() {
                    // The sender lives while a receiver does: unreachable,
                    // but never spin.
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Returns when a cancel of the job was announced since this was last
    /// called (or since the listener was made).
    pub async fn cancel_announced(&mut self) {
        loop {
            self.changed().await;
            let cancels = self.receiver.as_mut().map_or(self.cancels, |receiver| {
                receiver.borrow_and_update().cancels
            });
            if cancels != self.cancels {
                self.cancels = cancels;
                return;
            }
        }
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        let mut listening = self.changes.lock();
        // Let go of this receiver under the lock, so the last listener of a
        // job always sees the count reach zero.
        drop(self.receiver.take());
        if listening
            .get(&self.id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            listening.remove(&self.id);
            self.changes.jobs.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_change_announced_before_the_wait_is_not_missed() {
        let changes = Changes::new();
        let id = JobId::new();
        let mut listener = changes.listen(id);
        changes.announce(JobId::new());
        changes.announce(id);
        tokio::time::timeout(Duration::from_secs(5), listener.changed())
            .await
            .expect("the announcement wakes the listener");
        assert!(
            tokio::time::timeout(Duration::from_millis(20), listener.changed())
                .await
                .is_err(),
            "one announcement wakes once"
        );
    }

    #[tokio::test]
    async fn only_a_cancel_wakes_a_cancel_listener() {
        let changes = Changes::new();
        let id = JobId::new();
        let mut listener = changes.listen(id);
        changes.announce(id);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), listener.cancel_announced())
                .await
                .is_err()
        );
        changes.announce_cancel(id);
        tokio::time::timeout(Duration::from_secs(5), listener.cancel_announced())
            .await
            .expect("the cancel wakes the listener");
    }

    #[cfg(all(feature = "sqlite", feature = "postgres"))]
    #[tokio::test]
    async fn marks_announce_what_moved_and_what_is_seen_first() {
        let changes = Changes::new();
        let id = JobId::new();
        let mut listener = changes.listen(id);
        let mut marks = Marks::default();
        assert_eq!(marks.listened_now(&changes), vec![id]);
        marks.saw(&changes, id, 1, false);
        let heard = |listener: &mut ChangeListener| {
            futures_util::FutureExt::now_or_never(listener.changed()).is_some()
        };
        assert!(heard(&mut listener), "seen first");
        marks.saw(&changes, id, 1, false);
        assert!(!heard(&mut listener), "nothing moved");
        marks.saw(&changes, id, 2, true);
        assert!(
            futures_util::FutureExt::now_or_never(listener.cancel_announced()).is_some(),
            "a new cancel mark is a cancel"
        );
        assert!(changes.announce_message(&format!("{CANCEL_PREFIX}{id}")));
        assert!(futures_util::FutureExt::now_or_never(listener.cancel_announced()).is_some());
        assert!(!changes.announce_message("cancel:not-a-job"));
    }

    #[test]
    fn the_last_listener_of_a_job_takes_its_entry_along() {
        let changes = Changes::new();
        let id = JobId::new();
        let first = changes.listen(id);
        let second = changes.listen(id);
        let other = changes.listen(JobId::new());
        assert_eq!(changes.listened().len(), 2);
        drop(first);
        assert!(changes.listened().contains(&id));
        drop(second);
        assert_eq!(changes.listened(), vec![other.id()]);
        drop(other);
        assert!(!changes.is_listened());
    }
}
