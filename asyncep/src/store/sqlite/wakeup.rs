//! Waking idle workers: in this process at once (a create or a retry here),
//! and from other processes on the same file through SQLite's own change
//! counter, `PRAGMA data_version`, read every poll interval on one
//! connection: a cheap look at the WAL index, no table read. When the file
//! changed and someone in this process listens for a job's changes, one
//! query by primary key reads those jobs' `last_updated_at` and cancel mark,
//! and announces the jobs that moved.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Row, SqliteConnection};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::debug;

use crate::job::JobId;
use crate::store::Changes;
use crate::store::changes::Marks;

/// Jobs looked up per query.
const LOOKUP_BATCH: usize = 500;

#[derive(Debug)]
pub(super) struct Wakeup {
    options: SqliteConnectOptions,
    poll: Duration,
    work: Arc<Notify>,
    changes: Arc<Changes>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Wakeup {
    pub(super) fn new(options: SqliteConnectOptions, poll: Duration) -> Self {
        Self {
            options,
            poll,
            work: Arc::new(Notify::new()),
            changes: Changes::new(),
            task: Mutex::new(None),
        }
    }

    /// Where this process hears of job changes.
    pub(super) fn changes(&self) -> &Arc<Changes> {
        &self.changes
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
            self.changes.clone(),
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

/// Wakes the idle workers whenever the file changed since the last look,
/// and announces the listened jobs that changed.
async fn watch(
    options: SqliteConnectOptions,
    poll: Duration,
    work: Arc<Notify>,
    changes: Arc<Changes>,
) {
    let mut last = None;
    let mut seen = Marks::default();
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
                // The first look (after a start or a reopening) counts as a
                // change: what changed before it must not be missed.
                if last != Some(version) {
                    work.notify_waiters();
                    if let Err(error) = announce(conn, &changes, &mut seen).await {
                        debug!(%error, "cannot read the listened jobs; retrying");
                    }
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

/// Announces the listened jobs whose `last_updated_at` or cancel mark moved
/// since the last look (or that this look sees first: a listener that read
/// the job before a change must not miss it). `seen` keeps what was read.
async fn announce(
    conn: &mut SqliteConnection,
    changes: &Changes,
    seen: &mut Marks,
) -> Result<(), sqlx::Error> {
    for ids in seen.listened_now(changes).chunks(LOOKUP_BATCH) {
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT id, last_updated_at, cancel_requested FROM asyncep_jobs WHERE id IN ({marks})"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.as_uuid());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let id = JobId::from(row.try_get::<uuid::Uuid, _>("id")?);
            seen.saw(
                changes,
                id,
                row.try_get("last_updated_at")?,
                row.try_get("cancel_requested")?,
            );
        }
    }
    Ok(())
}
