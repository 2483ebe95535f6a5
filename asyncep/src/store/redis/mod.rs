//! The Redis store: many API and worker processes, one shared queue.

mod keys;
mod record;
mod scripts;

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};
use tokio::sync::{Notify, OnceCell};
use tracing::{debug, warn};

use self::keys::Keys;
use self::record::{StoredAttempt, decode_job};
use super::{
    Claim, ClaimedJob, Created, JobNames, JobStore, Lease, MAX_LOST_LEASES, NewJob, Next, Outcome,
    Retention, StoreError,
};
use crate::job::{ErrorInfo, Job, JobId, Timestamp};

/// The prefix of every key, unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "{asyncep}";

/// The `Retry-After` a client gets while Redis is unreachable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Due retries moved to the ready queue per name and claim, at most.
const PROMOTE_BATCH: u32 = 100;
/// Expired leases recovered per call, at most.
const RECOVER_BATCH: u32 = 500;
/// A claim that picks a job removed meanwhile tries again this often.
const CLAIM_TRIES: usize = 8;

/// A [`JobStore`] in Redis, shared by every process that points at the same
/// server and prefix.
///
/// Every operation is one Lua script, so no crash between two commands can
/// leave a half-made job, a job claimed twice, or a result written by a
/// worker that lost its lease. Leases and schedules run on the Redis server's
/// clock, so the processes' clocks need not agree.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use asyncep::store::RedisStore;
///
/// let store = RedisStore::builder("redis://127.0.0.1:6379").prefix("billing").build()?;
/// store.ping().await?; // fail at start-up, not on the first request
/// let runtime = asyncep::Runtime::builder().store(store).build()?;
/// # drop(runtime); Ok(()) }
/// ```
///
/// Keys (prefix `{asyncep}` by default; the `{hash tag}` keeps them in one
/// Redis Cluster slot):
///
/// | key | type | holds |
/// |---|---|---|
/// | `{asyncep}:job:<id>` | hash | the job's fields, input, fingerprint, fencing token, lease |
/// | `{asyncep}:job:<id>:attempts` | list | one JSON record per attempt |
/// | `{asyncep}:key:<idempotency key>` | string | the job id the key names |
/// | `{asyncep}:queue:<name>` | sorted set | runnable jobs, by enqueue time |
/// | `{asyncep}:scheduled:<name>` | sorted set | retries, by due time |
/// | `{asyncep}:running` | sorted set | claimed jobs, by lease expiry |
/// | `{asyncep}:wake` | pub/sub channel | the name of each job that became runnable |
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    config: ConnectionManagerConfig,
    connection: OnceCell<ConnectionManager>,
    keys: Keys,
    retention: Retention,
    connect_timeout: Duration,
    work: Notify,
    listening: std::sync::Once,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.inner.client.get_connection_info().addr())
            .field("prefix", &self.inner.keys.prefix())
            .field("retention", &self.inner.retention)
            .finish()
    }
}

/// Builds a [`RedisStore`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    retention: Retention,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl RedisStoreBuilder {
    /// The key prefix, so several deployments can share one server. A
    /// prefix without a `{hash tag}` is wrapped in one (`billing` becomes
    /// `{billing}`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long finished jobs (and their idempotency keys) are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How long to wait for a connection (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long to wait for an answer (default 5 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Checks the URL and builds the store. Nothing connects until the first
    /// operation (or [`RedisStore::ping`]).
    pub fn build(self) -> Result<RedisStore, RedisError> {
        let client = redis::Client::open(self.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            // Fail fast: a client waiting on a submit wants a 503 now, and
            // workers retry with their own backoff.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(250));
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                config,
                connection: OnceCell::new(),
                keys: Keys::new(&self.prefix),
                retention: self.retention,
                connect_timeout: self.connect_timeout,
                work: Notify::new(),
                listening: std::sync::Once::new(),
            }),
        })
    }
}

impl RedisStore {
    /// A builder for the server at `url` (`redis://host:port/db` or
    /// `rediss://` for TLS, with the `redis-tls` feature).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            retention: Retention::default(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
        }
    }

    /// A store with the default settings.
    pub fn open(url: &str) -> Result<Self, RedisError> {
        Self::builder(url).build()
    }

    /// The key prefix, with its hash tag.
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    /// Connects and checks that the server answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|e| self.inner.error(e))
    }

    /// Checks that the server answers, without an async runtime (for
    /// start-up checks in synchronous code).
    pub fn ping_blocking(&self, timeout: Duration) -> Result<(), RedisError> {
        let mut connection = self.inner.client.get_connection_with_timeout(timeout)?;
        connection.set_read_timeout(Some(timeout))?;
        redis::cmd("PING")
            .query::<String>(&mut connection)
            .map(drop)
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let inner = &self.inner;
        inner
            .connection
            .get_or_try_init(|| {
                inner
                    .client
                    .get_connection_manager_with_config(inner.config.clone())
            })
            .await
            .cloned()
            .map_err(|e| inner.error(e))
    }

    /// Starts the pub/sub listener that wakes idle workers, once.
    fn listen(&self) {
        self.inner.listening.call_once(|| {
            let inner = Arc::downgrade(&self.inner);
            let client = self.inner.client.clone();
            let channel = self.inner.keys.wake();
            tokio::spawn(listen(inner, client, channel));
        });
    }
}

impl Inner {
    fn error(&self, error: RedisError) -> StoreError {
        match error.kind() {
            ErrorKind::Parse
            | ErrorKind::UnexpectedReturnType
            | ErrorKind::Server(ServerErrorKind::ResponseError) => {
                StoreError::Corrupt(error.to_string())
            }
            _ => StoreError::Unavailable {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source: Box::new(error),
            },
        }
    }
}

/// Forwards `wake` messages to idle workers; reconnects with backoff.
async fn listen(inner: Weak<Inner>, client: redis::Client, channel: String) {
    let mut failures = 0_u32;
    loop {
        let connect_timeout = match inner.upgrade() {
            Some(inner) => inner.connect_timeout,
            None => return,
        };
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, RedisError>(pubsub)
        };
        match tokio::time::timeout(connect_timeout, subscribed).await {
            Ok(Ok(mut pubsub)) => {
                failures = 0;
                debug!(%channel, "listening for new work");
                // Work may have arrived while no one listened.
                match inner.upgrade() {
                    Some(inner) => inner.work.notify_waiters(),
                    None => return,
                }
                let mut messages = pubsub.on_message();
                while messages.next().await.is_some() {
                    match inner.upgrade() {
                        Some(inner) => inner.work.notify_one(),
                        None => return,
                    }
                }
                warn!(%channel, "lost the Redis subscription; reconnecting");
            }
            Ok(Err(error)) => warn!(%error, "cannot subscribe to Redis; retrying"),
            Err(_) => warn!("timed out subscribing to Redis; retrying"),
        }
        failures += 1;
        let pause =
            Duration::from_millis(100 * 2_u64.pow(failures.min(5))).min(Duration::from_secs(3));
        tokio::time::sleep(pause).await;
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn seconds(duration: Duration) -> u64 {
    duration.as_secs().max(1)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl JobStore for RedisStore {
    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        let keys = &self.inner.keys;
        let input = serde_json::to_string(&job.input)
            .map_err(|e| StoreError::Corrupt(format!("the job input cannot be written: {e}")))?;
        let fingerprint = job.fingerprint.map(|f| f.to_hex()).unwrap_or_default();
        let key = job.idempotency_key.clone().unwrap_or_default();
        let key_name = match &job.idempotency_key {
            Some(key) => keys.idempotency_key(key),
            None => keys.job(job.id),
        };
        let mut connection = self.connection().await?;
        let (outcome, id, created_at): (u8, String, String) = scripts::CREATE
            .key(keys.job(job.id))
            .key(keys.queue(&job.name))
            .key(key_name)
            .arg(job.id.to_string())
            .arg(job.name.as_ref())
            .arg(job.max_retries)
            .arg(input)
            .arg(fingerprint)
            .arg(key)
            .arg(keys.prefix())
            .arg(keys.wake())
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.inner.error(e))?;
        let id: JobId = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("`{id}` is not a job id")))?;
        match outcome {
            0 => {
                let created_at = created_at
                    .parse()
                    .map_or_else(|_| Timestamp::now(), Timestamp::from_micros);
                Ok(Created::New(Job::queued(
                    id,
                    job.name,
                    job.max_retries,
                    created_at,
                )))
            }
            1 => match self.get(id).await? {
                Some(existing) => Ok(Created::Existing(existing)),
                None => Err(StoreError::Corrupt(format!(
                    "job {id} vanished while being read"
                ))),
            },
            _ => Err(StoreError::IdempotencyConflict { existing: id }),
        }
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let keys = &self.inner.keys;
        let mut connection = self.connection().await?;
        let found: Option<(Vec<String>, Vec<String>)> = scripts::GET
            .key(keys.job(id))
            .key(keys.attempts(id))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.inner.error(e))?;
        found
            .map(|(fields, attempts)| decode_job(id, fields, attempts))
            .transpose()
    }

    async fn claim(&self, names: &JobNames, lease: Duration) -> Result<Claim, StoreError> {
        let keys = &self.inner.keys;
        let mut connection = self.connection().await?;
        let mut invocation = scripts::CLAIM.key(keys.running());
        for name in names.iter() {
            invocation.key(keys.queue(name)).key(keys.scheduled(name));
        }
        invocation
            .arg(micros(lease))
            .arg(keys.prefix())
            .arg(PROMOTE_BATCH);
        for _ in 0..CLAIM_TRIES {
            let reply: Vec<Value> = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(|e| self.inner.error(e))?;
            let fields: Vec<Option<String>> = reply.iter().map(text).collect();
            let field = |index: usize| fields.get(index).cloned().flatten().unwrap_or_default();
            let corrupt = |what: &str| StoreError::Corrupt(format!("claim answered {what}"));
            match field(0).as_str() {
                "0" => {
                    let next_due = field(1).parse().ok().map(Timestamp::from_micros);
                    return Ok(Claim::Idle { next_due });
                }
                "2" => continue,
                "1" => {
                    let id: JobId = field(1).parse().map_err(|_| corrupt("a bad id"))?;
                    let number = |index: usize| {
                        field(index)
                            .parse::<u64>()
                            .map_err(|_| corrupt("a bad number"))
                    };
                    let input = serde_json::from_str(&field(7)).map_err(|e| {
                        StoreError::Corrupt(format!("job {id}: the input is not readable: {e}"))
                    })?;
                    return Ok(Claim::Job(Box::new(ClaimedJob {
                        id,
                        name: field(4).into(),
                        attempt: number(8)? as u32 + 1,
                        retry_count: number(5)? as u32,
                        max_retries: number(6)? as u32,
                        input: Arc::new(input),
                        lease: Lease {
                            job_id: id,
                            token: number(2)?,
                            expires_at: Timestamp::from_micros(number(3)?),
                        },
                    })));
                }
                other => return Err(corrupt(&format!("`{other}`"))),
            }
        }
        Ok(Claim::Idle { next_due: None })
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Lease, StoreError> {
        let keys = &self.inner.keys;
        let mut connection = self.connection().await?;
        let expires: Option<String> = scripts::RENEW
            .key(keys.job(lease.job_id))
            .key(keys.running())
            .arg(lease.token)
            .arg(micros(period))
            .arg(lease.job_id.to_string())
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.inner.error(e))?;
        let expires = expires.ok_or(StoreError::LeaseLost { id: lease.job_id })?;
        let expires = expires
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("renew answered `{expires}`")))?;
        Ok(Lease {
            expires_at: Timestamp::from_micros(expires),
            ..lease.clone()
        })
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        let id = lease.job_id;
        let Outcome { attempt, next } = outcome;
        let number = attempt.attempt;
        let result = attempt
            .result
            .as_ref()
            .map(|r| r.get().to_owned())
            .unwrap_or_default();
        let error = match &attempt.error {
            Some(error) => {
                serde_json::to_string(error).map_err(|e| StoreError::Corrupt(e.to_string()))?
            }
            None => String::new(),
        };
        let record = serde_json::to_string(&StoredAttempt::from(attempt))
            .map_err(|e| StoreError::Corrupt(format!("the attempt cannot be written: {e}")))?;
        let (next, delay) = match next {
            Next::Complete => ("complete", Duration::ZERO),
            Next::Fail => ("fail", Duration::ZERO),
            Next::Retry { after } => ("retry", after),
            Next::Requeue => ("requeue", Duration::ZERO),
        };
        let mut connection = self.connection().await?;
        let done: u8 = scripts::FINISH
            .key(keys.job(id))
            .key(keys.attempts(id))
            .key(keys.running())
            .arg(lease.token)
            .arg(next)
            .arg(record)
            .arg(result)
            .arg(error)
            .arg(micros(delay))
            .arg(id.to_string())
            .arg(seconds(self.inner.retention.completed))
            .arg(seconds(self.inner.retention.failed))
            .arg(keys.prefix())
            .arg(keys.wake())
            .arg(number)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.inner.error(e))?;
        if done == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost { id })
        }
    }

    async fn recover_expired(&self) -> Result<Vec<JobId>, StoreError> {
        let keys = &self.inner.keys;
        let mut connection = self.connection().await?;
        let failure = ErrorInfo::new(
            ErrorInfo::INTERRUPTED,
            format!("the job lost its worker {MAX_LOST_LEASES} times; it is not run again"),
        );
        let failure =
            serde_json::to_string(&failure).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ids: Vec<String> = scripts::RECOVER
            .key(keys.running())
            .arg(keys.prefix())
            .arg(keys.wake())
            .arg(RECOVER_BATCH)
            .arg(MAX_LOST_LEASES)
            .arg(seconds(self.inner.retention.failed))
            .arg(failure)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.inner.error(e))?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    async fn wait_for_work(&self, _names: &JobNames, timeout: Duration) {
        self.listen();
        let _ = tokio::time::timeout(timeout, self.inner.work.notified()).await;
    }
}
