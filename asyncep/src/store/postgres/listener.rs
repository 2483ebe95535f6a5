//! Waking idle workers: `LISTEN` on one connection per process, and
//! `NOTIFY` coalesced to at most one per job name per window, because a
//! `NOTIFY` per commit serialises committing transactions. Behind a pooler
//! in transaction mode, a poll instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::store::StoreError;

/// At most one `NOTIFY` per job name per this long; a create inside the
/// window is announced at its end.
const WINDOW: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(super) struct Wakeup {
    pool: PgPool,
    channel: String,
    poll: Option<Duration>,
    work: Arc<Notify>,
    subscribed: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Per job name: when it was last announced, and whether an
    /// announcement is already due at the end of the window.
    announced: Arc<Mutex<HashMap<String, (Instant, bool)>>>,
}

impl Wakeup {
    pub(super) fn new(pool: PgPool, channel: String, poll: Option<Duration>) -> Self {
        Self {
            pool,
            channel,
            poll,
            work: Arc::new(Notify::new()),
            subscribed: watch::Sender::new(false),
            task: Mutex::new(None),
            announced: Arc::default(),
        }
    }

    /// Starts listening (unless polling), and waits until subscribed.
    pub(super) async fn start(&self) -> Result<(), StoreError> {
        if self.poll.is_some() {
            return Ok(());
        }
        self.ensure();
        let mut subscribed = self.subscribed.subscribe();
        match tokio::time::timeout(Duration::from_secs(5), subscribed.wait_for(|on| *on)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::Unavailable {
                retry_after: Duration::from_secs(1),
                source: "could not LISTEN for new work in time".into(),
            }),
        }
    }

    fn ensure(&self) {
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        *task = Some(tokio::spawn(listen(
            self.pool.clone(),
            self.channel.clone(),
            self.work.clone(),
            self.subscribed.clone(),
        )));
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

/// Forwards notifications to idle workers; reconnects with backoff.
async fn listen(pool: PgPool, channel: String, work: Arc<Notify>, subscribed: watch::Sender<bool>) {
    let mut failures = 0_u32;
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(&channel).await {
                Ok(()) => {
                    failures = 0;
                    subscribed.send_replace(true);
                    // Work may have arrived while no one listened.
                    work.notify_waiters();
                    while let Ok(Some(_)) = listener.try_recv().await {
                        work.notify_waiters();
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
