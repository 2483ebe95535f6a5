//! Waking idle workers: `LISTEN` on one connection per process, and
//! `NOTIFY` coalesced to at most one per job name per window, because a
//! `NOTIFY` per commit serialises committing transactions. Behind a pooler
//! in transaction mode, a poll instead.
//!
//! The same connection listens on the changes channel, where the store's
//! functions announce the changes of watched jobs and every cancel; they
//! are announced to this process's [`Changes`]. When polling, one task per
//! process reads the listened jobs' marks by primary key each interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{AssertSqlSafe, PgPool, Row};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::job::JobId;
use crate::store::changes::Marks;
use crate::store::{Changes, StoreError};

/// At most one `NOTIFY` per job name per this long; a create inside the
/// window is announced at its end.
const WINDOW: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(super) struct Wakeup {
    pool: PgPool,
    channel: String,
    /// Where the store's functions announce job changes.
    changed: String,
    poll: Option<Duration>,
    work: Arc<Notify>,
    changes: Arc<Changes>,
    /// The statement that reads listened jobs' marks, when polling.
    marks: Arc<str>,
    subscribed: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Per job name: when it was last announced, and whether an
    /// announcement is already due at the end of the window.
    announced: Arc<Mutex<HashMap<String, (Instant, bool)>>>,
}

impl Wakeup {
    pub(super) fn new(
        pool: PgPool,
        [channel, changed]: [String; 2],
        poll: Option<Duration>,
        marks: Arc<str>,
    ) -> Self {
        Self {
            pool,
            channel,
            changed,
            poll,
            work: Arc::new(Notify::new()),
            changes: Changes::new(),
            marks,
            subscribed: watch::Sender::new(false),
            task: Mutex::new(None),
            announced: Arc::default(),
        }
    }

    /// Starts listening, and waits until subscribed (when polling, starts
    /// the poll of listened jobs).
    pub(super) async fn start(&self) -> Result<(), StoreError> {
        self.ensure();
        if self.poll.is_some() {
            return Ok(());
        }
        let mut subscribed = self.subscribed.subscribe();
        match tokio::time::timeout(Duration::from_secs(5), subscribed.wait_for(|on| *on)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::Unavailable {
                retry_after: Duration::from_secs(1),
                source: "could not LISTEN for new work in time".into(),
            }),
        }
    }

    /// Where this process hears of job changes.
    pub(super) fn changes(&self) -> &Arc<Changes> {
        &self.changes
    }

    /// Makes sure other processes' changes of listened jobs are heard: the
    /// `LISTEN` runs, or (when polling) the poll of listened jobs.
    pub(super) fn watch_changes(&self) {
        self.ensure();
    }

    fn ensure(&self) {
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        *task = Some(match self.poll {
            None => tokio::spawn(listen(
                self.pool.clone(),
                [self.channel.clone(), self.changed.clone()],
                self.work.clone(),
                self.changes.clone(),
                self.subscribed.clone(),
            )),
            Some(interval) => tokio::spawn(poll_marks(
                self.pool.clone(),
                self.marks.clone(),
                interval,
                self.changes.clone(),
            )),
        });
    }

    pub(super) fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        self.subscribed.send_replace(false);
    }

    /// Waits for a wake-up, or `timeout`.
    pub(super) async fn wait(&self, timeout: Duration) {
        match self.poll {
            Some(interval) => tokio::time::sleep(timeout.min(interval)).await,
            None => {
                self.ensure();
                let _ = tokio::time::timeout(timeout, self.work.notified()).await;
            }
        }
    }

    /// Wakes this process's idle workers.
    pub(super) fn wake_all(&self) {
        self.work.notify_waiters();
    }

    /// Announces new work of `name` to every process: at once if the name
    /// was not announced within the window, else at the window's end.
    pub(super) async fn notify(&self, name: &str) {
        self.wake_all();
        if self.poll.is_some() {
            return;
        }
        let now = Instant::now();
        let delay = {
            let mut announced = self.announced.lock().unwrap_or_else(|p| p.into_inner());
            match announced.get_mut(name) {
                Some((_, true)) => return,
                Some((last, due)) if now < *last + WINDOW => {
                    *due = true;
                    Some(*last + WINDOW - now)
                }
                _ => {
                    announced.insert(name.to_owned(), (now, false));
                    None
                }
            }
        };
        match delay {
            None => send(&self.pool, &self.channel, name).await,
            Some(delay) => {
                let (pool, channel, name) =
                    (self.pool.clone(), self.channel.clone(), name.to_owned());
                let announced = self.announced.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    announced
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.clone(), (Instant::now(), false));
                    send(&pool, &channel, &name).await;
                });
            }
        }
    }
}

impl Wakeup {
    /// Announces new work of `name` when the transaction on `conn` commits
    /// (a `NOTIFY` is transactional; PostgreSQL folds repeats within one
    /// transaction into one). Nothing to do when polling.
    pub(super) async fn notify_on_commit(
        &self,
        conn: &mut sqlx::PgConnection,
        name: &str,
    ) -> Result<(), StoreError> {
        if self.poll.is_some() {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(name)
            .execute(conn)
            .await
            .map(drop)
            .map_err(super::row::error)
    }
}

async fn send(pool: &PgPool, channel: &str, name: &str) {
    if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(name)
        .execute(pool)
        .await
    {
        // Idle workers still look on their own within seconds.
        debug!(%error, "could not announce new work");
    }
}

/// Forwards new work to idle workers and changes to their listeners;
/// reconnects with backoff.
async fn listen(
    pool: PgPool,
    channels: [String; 2],
    work: Arc<Notify>,
    changes: Arc<Changes>,
    subscribed: watch::Sender<bool>,
) {
    let [channel, changed] = &channels;
    let mut failures = 0_u32;
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen_all([channel.as_str(), changed]).await {
                Ok(()) => {
                    failures = 0;
                    subscribed.send_replace(true);
                    // Work may have arrived, and jobs changed, while no one
                    // listened: let everyone look again.
                    work.notify_waiters();
                    changes.announce_all();
                    while let Ok(Some(notification)) = listener.try_recv().await {
                        if notification.channel() == changed.as_str() {
                            let payload = notification.payload();
                            if !changes.announce_message(payload) {
                                debug!(%payload, "ignored a notification that names no job");
                            }
                        } else {
                            work.notify_waiters();
                        }
                    }
                    subscribed.send_replace(false);
                    warn!(%channel, "lost the PostgreSQL LISTEN connection; reconnecting");
                }
                Err(error) => warn!(%error, "cannot LISTEN on PostgreSQL; retrying"),
            },
            Err(error) => warn!(%error, "cannot connect to PostgreSQL to LISTEN; retrying"),
        }
        failures += 1;
        let pause =
            Duration::from_millis(100 * 2_u64.pow(failures.min(5))).min(Duration::from_secs(3));
        tokio::time::sleep(pause).await;
    }
}

/// Behind a pooler, without `LISTEN`: every `interval`, reads the
/// `last_updated_at` and cancel mark of the jobs listened to in this
/// process (by primary key) and announces those that moved, or that it
/// sees first (a listener that read a job before a change must not miss it).
async fn poll_marks(pool: PgPool, marks: Arc<str>, interval: Duration, changes: Arc<Changes>) {
    let mut seen = Marks::default();
    loop {
        tokio::time::sleep(interval).await;
        let listened = seen.listened_now(&changes);
        if listened.is_empty() {
            continue;
        }
        let ids: Vec<uuid::Uuid> = listened.iter().map(|id| id.as_uuid()).collect();
        let rows = match sqlx::query(AssertSqlSafe(marks.clone()))
            .bind(ids)
            .fetch_all(&pool)
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                debug!(%error, "could not read the listened jobs; retrying");
                continue;
            }
        };
        for row in rows {
            if let (Ok(id), Ok(updated), Ok(canceled)) = (
                row.try_get::<uuid::Uuid, _>("id"),
                row.try_get::<i64, _>("last_updated_at"),
                row.try_get::<bool, _>("cancel_requested"),
            ) {
                seen.saw(&changes, JobId::from(id), updated, canceled);
            }
        }
    }
}
