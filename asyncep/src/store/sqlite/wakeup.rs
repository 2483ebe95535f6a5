//! Waking idle workers: in this process at once (a create or a retry here),
//! and from other processes on the same file through SQLite's own change
//! counter, `PRAGMA data_version`, read every poll interval on one
//! connection: a cheap look at the WAL index, no table read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::debug;

#[derive(Debug)]
pub(super) struct Wakeup {
    options: SqliteConnectOptions,
    poll: Duration,
    work: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Wakeup {
    pub(super) fn new(options: SqliteConnectOptions, poll: Duration) -> Self {
        Self {
            options,
            poll,
            work: Arc::new(Notify::new()),
            task: Mutex::new(None),
        }
    }

    /// Starts watching the file for other processes' commits.
    pub(super) fn start(&self) {
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        *task = Some(tokio::spawn(watch(
            self.options.clone(),
            self.poll,
            self.work.clone(),
        )));
    }

    pub(super) fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    /// Waits for a wake-up, or `timeout`.
    pub(super) async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }

    /// Wakes one idle worker of this process (a new job).
    pub(super) fn wake_one(&self) {
        self.work.notify_one();
    }

    /// Wakes every idle worker of this process.
    pub(super) fn wake_all(&self) {
        self.work.notify_waiters();
    }
}

/// Wakes the idle workers whenever the file changed since the last look.
async fn watch(options: SqliteConnectOptions, poll: Duration, work: Arc<Notify>) {
    let mut last = None;
    let mut connection: Option<SqliteConnection> = None;
    loop {
        tokio::time::sleep(poll).await;
        if connection.is_none() {
            match options.connect().await {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    debug!(%error, "cannot open the SQLite file to watch it; retrying");
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        match sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(&mut *conn)
            .await
        {
            Ok(version) => {
                if last.is_some_and(|last| last != version) {
                    work.notify_waiters();
                }
                last = Some(version);
            }
            Err(error) => {
                debug!(%error, "cannot read the SQLite file's change counter; reopening");
                connection = None;
                last = None;
            }
        }
    }
}
