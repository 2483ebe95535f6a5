//! The process's one writer: a thread of its own that owns the writer
//! connection and runs every write the store is asked for.
//!
//! A thread of its own, because a single connection shared by tasks would
//! stall the whole store whenever the task holding it is stuck behind a
//! handler that blocks its runtime thread; here no handler ever runs. And
//! one writer, because in-process writers then queue in memory rather than
//! sleep in SQLite's busy handler: only other processes contend for the
//! file's lock. Writes that queue up while one transaction runs are
//! committed together (group commit), each in a savepoint of its own, so
//! one sync of the disk acknowledges them all and one failing operation
//! fails alone.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::operations::{Admitted, Operation};
use super::row::error;
use super::schema;
use crate::job::{Job, JobId, Placement, RawJson, Timestamp};
use crate::store::{ClaimRequest, Claimed, Lease, NewJob, Outcome, Retention, StoreError};

/// The most operations committed together.
const MAX_GROUP: usize = 64;

/// How long an operation waits for the writer when the writer is gone.
const WRITER_GONE: Duration = Duration::from_secs(1);

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Where a turn's finish placed its job, and what its claim took, if it
/// was made.
pub(super) type Turned = (
    Result<Option<Placement>, StoreError>,
    Option<Result<Claimed, StoreError>>,
);

/// A write the store asks for, with where its answer goes.
pub(super) enum Command {
    Migrate(Reply<()>),
    Create(NewJob, Reply<Admitted>),
    Claim(ClaimRequest, Reply<Claimed>),
    Renew(Lease, Duration, Reply<Option<bool>>),
    Progress(Lease, RawJson, Reply<bool>),
    Cancel(JobId, Reply<Option<(Job, bool)>>),
    Retry(JobId, Reply<Option<(Job, bool)>>),
    Finish(Lease, Outcome, Reply<Option<Placement>>),
    /// A worker's turn: the finish, then the claim unless the finish failed
    /// for a blink of the store; each undoes only its own writes.
    Turn(Lease, Outcome, ClaimRequest, Reply<Turned>),
    Recover(i64, Reply<Vec<JobId>>),
    Purge(i64, Reply<u64>),
    Delete(Vec<JobId>, Reply<Vec<JobId>>),
}

/// The handle the store keeps: dropping the last one ends the thread.
#[derive(Debug)]
pub(super) struct Writer {
    commands: mpsc::UnboundedSender<Command>,
}

impl Writer {
    /// Starts the writer thread; it opens the file at its first command.
    pub(super) fn spawn(options: SqliteConnectOptions, retention: Retention) -> Self {
        let (commands, queue) = mpsc::unbounded_channel();
        let spawned = std::thread::Builder::new()
            .name("asyncep-sqlite-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(serve(options, retention, queue)),
                    Err(error) => warn!(%error, "cannot start the SQLite writer's runtime"),
                }
            });
        if let Err(error) = spawned {
            warn!(%error, "cannot start the SQLite writer thread");
        }
        Self { commands }
    }

    /// Sends a command made with `reply`, and waits for its answer.
    pub(super) async fn ask<T: Send>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, StoreError> {
        self.send(command).await
    }

    /// Sends a command made with `reply` now, and returns its answer to
    /// come: commands sent one after another without waiting are run in
    /// that order, in one transaction when the writer finds them queued
    /// together.
    pub(super) fn send<T: Send>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        let (reply, answer) = oneshot::channel();
        let sent = self.commands.send(command(reply)).is_ok();
        async move {
            if !sent {
                return Err(gone());
            }
            answer.await.unwrap_or_else(|_| Err(gone()))
        }
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable {
        retry_after: WRITER_GONE,
        source: "the SQLite writer thread is gone".into(),
    }
}

/// An answer held until its group commits.
type Pending = Box<dyn FnOnce(Option<&str>) + Send>;

fn hold<T: Send + 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Pending {
    Box::new(move |commit_failed: Option<&str>| {
        let answer = match (commit_failed, result) {
            (Some(why), Ok(_)) => Err(StoreError::Unavailable {
                retry_after: WRITER_GONE,
                source: format!("the transaction did not commit: {why}").into(),
            }),
            (_, result) => result,
        };
        let _ = reply.send(answer);
    })
}

/// Runs commands until every handle is dropped.
async fn serve(
    options: SqliteConnectOptions,
    retention: Retention,
    mut queue: mpsc::UnboundedReceiver<Command>,
) {
    let mut connection: Option<SqliteConnection> = None;
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(command) => group.push(command),
                Err(_) => break,
            }
        }
        if connection.is_none() {
            match options.connect().await {
                Ok(opened) => connection = Some(opened),
                Err(failure) => {
                    let why = failure.to_string();
                    for command in group {
                        fail(command, &why);
                    }
                    continue;
                }
            }
        }
        if let Some(conn) = connection.as_mut() {
            if let Err(broken) = commit_group(conn, group, retention).await {
                warn!(error = %broken, "the SQLite writer connection failed; reopening");
                connection = None;
            }
        }
    }
}

/// Answers `command` with the failure `why`.
fn fail(command: Command, why: &str) {
    fn send<T>(reply: Reply<T>, why: &str) {
        let _ = reply.send(Err(StoreError::Unavailable {
            retry_after: WRITER_GONE,
            source: why.to_owned().into(),
        }));
    }
    match command {
        Command::Migrate(reply) => send(reply, why),
        Command::Create(_, reply) => send(reply, why),
        Command::Claim(_, reply) => send(reply, why),
        Command::Renew(_, _, reply) => send(reply, why),
        Command::Progress(_, _, reply) => send(reply, why),
        Command::Cancel(_, reply) | Command::Retry(_, reply) => send(reply, why),
        Command::Finish(_, _, reply) => send(reply, why),
        Command::Turn(_, _, _, reply) => send(reply, why),
        Command::Recover(_, reply) => send(reply, why),
        Command::Purge(_, reply) => send(reply, why),
        Command::Delete(_, reply) => send(reply, why),
    }
}

/// Runs `group` in one `BEGIN IMMEDIATE` transaction, each command in a
/// savepoint, and answers each once the transaction committed. Returns an
/// error when the connection can no longer be trusted.
async fn commit_group(
    conn: &mut SqliteConnection,
    group: Vec<Command>,
    retention: Retention,
) -> Result<(), sqlx::Error> {
    if let Err(failure) = conn.execute("BEGIN IMMEDIATE").await {
        let why = failure.to_string();
        for command in group {
            fail(command, &why);
        }
        return classify(failure);
    }
    let mut pending: Vec<Pending> = Vec::with_capacity(group.len());
    for command in group {
        conn.execute(SAVEPOINT).await?;
        let (held, failed) = run(conn, command, retention).await;
        release(conn, failed).await?;
        pending.push(held);
    }
    match conn.execute("COMMIT").await {
        Ok(_) => {
            for answer in pending {
                answer(None);
            }
            Ok(())
        }
        Err(failure) => {
            let why = failure.to_string();
            let _ = conn.execute("ROLLBACK").await;
            for answer in pending {
                answer(Some(&why));
            }
            classify(failure)
        }
    }
}

/// Opens a savepoint: what is written after it can be undone alone. Nested
/// ones share the name; SQLite's `ROLLBACK TO` and `RELEASE` take the latest.
const SAVEPOINT: &str = "SAVEPOINT part";

/// Closes the latest savepoint, its writes undone first if `failed`.
async fn release(conn: &mut SqliteConnection, failed: bool) -> Result<(), sqlx::Error> {
    if failed {
        conn.execute("ROLLBACK TO part").await?;
    }
    conn.execute("RELEASE part").await?;
    Ok(())
}

/// A failure of the transaction's own statements: the connection is kept
/// unless the failure was the connection's.
fn classify(failure: sqlx::Error) -> Result<(), sqlx::Error> {
    match failure {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => Err(failure),
        _ => Ok(()),
    }
}

/// A worker's turn, its finish and its claim each in a savepoint of its
/// own. A claim made while the finish waits to be tried again would leave
/// its job unrenewed meanwhile, so a transient failure skips it; a refused
/// finish (a lost lease) does not, the worker being free all the same.
async fn turn(
    op: &mut Operation<'_>,
    lease: &Lease,
    outcome: Outcome,
    request: &ClaimRequest,
) -> Result<Turned, StoreError> {
    op.conn.execute(SAVEPOINT).await.map_err(error)?;
    let finished = op.finish(lease, outcome).await;
    release(op.conn, finished.is_err()).await.map_err(error)?;
    let claimed = match &finished {
        Err(failure) if failure.is_transient() => None,
        _ => {
            op.conn.execute(SAVEPOINT).await.map_err(error)?;
            let claimed = op.claim(request).await;
            release(op.conn, claimed.is_err()).await.map_err(error)?;
            Some(claimed)
        }
    };
    Ok((finished, claimed))
}

/// Runs one command; returns its held answer and whether it failed (its
/// savepoint is then rolled back).
async fn run(
    conn: &mut SqliteConnection,
    command: Command,
    retention: Retention,
) -> (Pending, bool) {
    let mut op = Operation {
        conn,
        now: Timestamp::now(),
        retention,
    };
    macro_rules! answer {
        ($reply:expr, $result:expr) => {{
            let result = $result;
            let failed = result.is_err();
            (hold($reply, result), failed)
        }};
    }
    match command {
        Command::Migrate(reply) => answer!(reply, schema::migrate(op.conn).await),
        Command::Create(job, reply) => answer!(reply, op.create(job).await),
        Command::Claim(request, reply) => answer!(reply, op.claim(&request).await),
        Command::Renew(lease, period, reply) => answer!(reply, op.renew(&lease, period).await),
        Command::Progress(lease, progress, reply) => {
            answer!(reply, op.progress(&lease, &progress).await)
        }
        Command::Cancel(id, reply) => answer!(reply, op.cancel(id).await),
        Command::Retry(id, reply) => answer!(reply, op.retry(id).await),
        Command::Finish(lease, outcome, reply) => answer!(reply, op.finish(&lease, outcome).await),
        Command::Turn(lease, outcome, request, reply) => {
            answer!(reply, turn(&mut op, &lease, outcome, &request).await)
        }
        Command::Recover(limit, reply) => answer!(reply, op.recover(limit).await),
        Command::Purge(limit, reply) => answer!(reply, op.purge(limit).await),
        Command::Delete(ids, reply) => answer!(reply, op.delete_finished(&ids).await),
    }
}
