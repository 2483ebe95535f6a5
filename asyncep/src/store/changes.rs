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
