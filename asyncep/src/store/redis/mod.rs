//! The Redis store: many API and worker processes, one shared queue.

mod keys;
mod listener;
mod record;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};
use tokio::sync::OnceCell;
use tracing::{debug, error, warn};

use self::keys::Keys;
use self::listener::Listener;
use self::record::{StoredRun, decode_job};
use super::{
    ClaimRequest, Claimed, ClaimedJob, Created, JobNames, JobStore, Lease, Maintenance, NewJob,
    Outcome, Retention, StoreError,
};
use crate::job::{Job, JobId, Next, Timestamp};

/// The prefix of every key, unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "{asyncep}";

/// The `Retry-After` a client gets while Redis is unreachable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

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
    listener: Listener,
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
        let keys = Keys::new(&self.prefix);
        let listener = Listener::new(client.clone(), keys.wake(), self.connect_timeout);
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                config,
                connection: OnceCell::new(),
                keys,
                retention: self.retention,
                connect_timeout: self.connect_timeout,
                listener,
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

    /// Connects and checks that the server answers (once more if the
    /// connection broke: it reconnects on the first failure).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let ping = redis::cmd("PING");
        match ping.query_async::<String>(&mut connection).await {
            Ok(_) => Ok(()),
            Err(_) => ping
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
                .map_err(|e| self.inner.error(e)),
        }
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
            // No connection: nothing was sent.
            .map_err(|error| StoreError::Unavailable {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source: Box::new(error),
            })
    }

    /// Refuses a server that may evict keys: it would silently drop jobs.
    async fn check_eviction_policy(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let config: Result<Vec<String>, RedisError> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory*")
            .query_async(&mut connection)
            .await;
        let config = match config {
            Ok(config) => config,
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::ResponseError) => {
                warn!(%error, "cannot read the Redis eviction policy (CONFIG is disabled?); \
                      make sure maxmemory-policy is noeviction, or jobs may vanish");
                return Ok(());
            }
            Err(error) => return Err(self.inner.error(error)),
        };
        let setting = |name: &str| {
            config
                .chunks(2)
                .find(|pair| pair[0] == name)
                .and_then(|pair| pair.get(1).cloned())
                .unwrap_or_default()
        };
        let policy = setting("maxmemory-policy");
        if policy.is_empty() || policy == "noeviction" {
            return Ok(());
        }
        if setting("maxmemory") == "0" {
            warn!(%policy, "Redis has no maxmemory limit now, but its maxmemory-policy would evict \
                  jobs once one is set; set maxmemory-policy to noeviction");
            return Ok(());
        }
        Err(StoreError::Misconfigured(format!(
            "Redis evicts keys when full (maxmemory-policy {policy}), which would silently drop \
             jobs; set `maxmemory-policy noeviction` (a full Redis then refuses new jobs with 503)"
        )))
    }

    /// Runs a script, once more if its reply was lost: every script finds
    /// its own earlier effect, so the second run never doubles the first.
    /// `script(repeat)` builds the invocation; `repeat` is true for the
    /// second run.
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: impl Fn(bool) -> redis::ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        match script(false).invoke_async(&mut connection).await {
            Ok(value) => Ok(value),
            Err(error) => match self.inner.error(error) {
                StoreError::OutcomeUnknown { .. } => {
                    debug!("a Redis reply was lost; repeating the script");
                    script(true)
                        .invoke_async(&mut connection)
                        .await
                        .map_err(|e| self.inner.error(e))
                }
                error => Err(error),
            },
        }
    }
}

impl Inner {
    /// What a Redis error means for the caller: nothing was sent, the
    /// outcome is unknown, or the data is not asyncep's.
    fn error(&self, error: RedisError) -> StoreError {
        let source = Box::new(error);
        let error = source.as_ref();
        if matches!(
            error.kind(),
            ErrorKind::Parse
                | ErrorKind::UnexpectedReturnType
                | ErrorKind::Server(ServerErrorKind::ResponseError)
        ) {
            StoreError::Corrupt(error.to_string())
        } else if !error.is_connection_refusal()
            && (error.is_timeout() || error.is_connection_dropped())
        {
            StoreError::OutcomeUnknown {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source,
            }
        } else {
            StoreError::Unavailable {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source,
            }
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One job of `claim.lua`'s reply.
fn claimed_job(fields: &[Value]) -> Result<ClaimedJob, StoreError> {
    let field = |index: usize| fields.get(index).and_then(text).unwrap_or_default();
    let corrupt = |what: &str| StoreError::Corrupt(format!("claim answered {what}"));
    let number = |index: usize| {
        field(index)
            .parse::<u64>()
            .map_err(|_| corrupt("a bad number"))
    };
    let id: JobId = field(0).parse().map_err(|_| corrupt("a bad id"))?;
    let input = serde_json::from_str(&field(5))
        .map_err(|e| StoreError::Corrupt(format!("job {id}: the input is not readable: {e}")))?;
    Ok(ClaimedJob {
        id,
        name: field(2).into(),
        attempt: number(6)? as u32 + 1,
        retry_count: number(3)? as u32,
        max_retries: number(4)? as u32,
        input: Arc::new(input),
        lease: Lease {
            job_id: id,
            token: number(1)?,
            ttl: Duration::from_micros(number(7)?),
        },
    })
}

#[async_trait]
impl JobStore for RedisStore {
    async fn start(&self) -> Result<(), StoreError> {
        self.ping().await?;
        self.check_eviction_policy().await?;
        self.inner.listener.ensure();
        if self
            .inner
            .listener
            .subscribed(self.inner.connect_timeout)
            .await
        {
            Ok(())
        } else {
            Err(StoreError::Unavailable {
                retry_after: UNAVAILABLE_RETRY_AFTER,
                source: "could not subscribe to the wake-up channel in time".into(),
            })
        }
    }

    async fn shutdown(&self) {
        self.inner.listener.stop();
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn create(&self, job: NewJob) -> Result<Created, StoreError> {
        let keys = &self.inner.keys;
        let input = serde_json::to_string(&job.input)
            .map_err(|e| StoreError::Corrupt(format!("the job input cannot be written: {e}")))?;
        let idempotency = job.idempotency.as_ref();
        let fingerprint = idempotency
            .map(|i| i.fingerprint.to_hex())
            .unwrap_or_default();
        let key = idempotency.and_then(|i| i.key.clone()).unwrap_or_default();
        let key_name = if key.is_empty() {
            keys.job(job.id)
        } else {
            keys.idempotency_key(&key)
        };
        let (job_key, queue, id) = (keys.job(job.id), keys.queue(&job.name), job.id.to_string());
        let (outcome, id, created_at): (u8, String, Option<String>) = self
            .invoke(|_| {
                let mut invocation = scripts::CREATE.prepare_invoke();
                invocation
                    .key(&job_key)
                    .key(&queue)
                    .key(&key_name)
                    .arg(&id)
                    .arg(job.name.as_ref())
                    .arg(job.max_retries)
                    .arg(&input)
                    .arg(&fingerprint)
                    .arg(&key)
                    .arg(keys.prefix())
                    .arg(keys.wake());
                invocation
            })
            .await?;
        let id: JobId = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("`{id}` is not a job id")))?;
        match outcome {
            0 => {
                let created_at = created_at
                    .and_then(|at| at.parse().ok())
                    .map_or_else(Timestamp::now, Timestamp::from_micros);
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
        let (job, attempts) = (keys.job(id), keys.attempts(id));
        let found: Option<(Vec<String>, Vec<String>)> = self
            .invoke(|_| {
                let mut invocation = scripts::GET.prepare_invoke();
                invocation.key(&job).key(&attempts);
                invocation
            })
            .await?;
        found
            .map(|(fields, attempts)| decode_job(id, fields, attempts))
            .transpose()
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let keys = &self.inner.keys;
        let (running, tokens) = (keys.running(), keys.tokens());
        let queues: Vec<(String, String)> = request
            .names
            .iter()
            .map(|name| (keys.queue(name), keys.scheduled(name)))
            .collect();
        let claim_id = format!("{:032x}", request.id.0);
        let failed_ms = millis(self.inner.retention.failed);
        let reply: Vec<Value> = self
            .invoke(|repeat| {
                let mut invocation = scripts::CLAIM.prepare_invoke();
                invocation.key(&running).key(&tokens);
                for (queue, scheduled) in &queues {
                    invocation.key(queue).key(scheduled);
                }
                invocation
                    .arg(micros(request.lease))
                    .arg(keys.prefix())
                    .arg(request.limit.max(1))
                    .arg(keys.wake())
                    .arg(&claim_id)
                    .arg(if repeat || request.repeat { "1" } else { "0" })
                    .arg(failed_ms);
                invocation
            })
            .await?;
        let mut reply = reply.into_iter();
        let next_due = reply
            .next()
            .as_ref()
            .and_then(text)
            .and_then(|due| due.parse().ok())
            .map(Duration::from_micros);
        if let Some(Value::Array(vanished)) = reply.next() {
            for id in vanished.iter().filter_map(text) {
                error!(
                    job.id = %id,
                    "a queued job's data is gone from Redis (evicted? check maxmemory-policy); it cannot run"
                );
            }
        }
        let mut jobs = reply
            .map(|job| match job {
                Value::Array(fields) => claimed_job(&fields),
                other => Err(StoreError::Corrupt(format!("claim answered {other:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Oldest claim first (a repeat finds them in the order of expiry).
        jobs.sort_by_key(|job| job.lease.token);
        Ok(Claimed { jobs, next_due })
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        let (job, running, id) = (
            keys.job(lease.job_id),
            keys.running(),
            lease.job_id.to_string(),
        );
        let renewed: u8 = self
            .invoke(|_| {
                let mut invocation = scripts::RENEW.prepare_invoke();
                invocation
                    .key(&job)
                    .key(&running)
                    .arg(lease.token)
                    .arg(micros(period))
                    .arg(&id);
                invocation
            })
            .await?;
        if renewed == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost { id: lease.job_id })
        }
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        let id = lease.job_id;
        let Outcome { attempt, next } = outcome;
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
        let record = serde_json::to_string(&StoredRun::from(&attempt))
            .map_err(|e| StoreError::Corrupt(format!("the attempt cannot be written: {e}")))?;
        let (next, delay) = match next {
            Next::Complete => ("complete", Duration::ZERO),
            Next::Fail => ("fail", Duration::ZERO),
            Next::Retry { after } => ("retry", after),
            Next::Requeue => ("requeue", Duration::ZERO),
        };
        let (job, attempts, running, id_text) = (
            keys.job(id),
            keys.attempts(id),
            keys.running(),
            id.to_string(),
        );
        let retention = self.inner.retention;
        let done: u8 = self
            .invoke(|_| {
                let mut invocation = scripts::FINISH.prepare_invoke();
                invocation
                    .key(&job)
                    .key(&attempts)
                    .key(&running)
                    .arg(lease.token)
                    .arg(next)
                    .arg(&record)
                    .arg(&result)
                    .arg(&error)
                    .arg(micros(delay))
                    .arg(&id_text)
                    .arg(millis(retention.completed))
                    .arg(millis(retention.failed))
                    .arg(keys.prefix())
                    .arg(keys.wake());
                invocation
            })
            .await?;
        match done {
            1 | 2 => Ok(()),
            _ => Err(StoreError::LeaseLost { id }),
        }
    }

    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        let keys = &self.inner.keys;
        let running = keys.running();
        let failed_ms = millis(self.inner.retention.failed);
        let ids: Vec<String> = self
            .invoke(|_| {
                let mut invocation = scripts::RECOVER.prepare_invoke();
                invocation
                    .key(&running)
                    .arg(keys.prefix())
                    .arg(keys.wake())
                    .arg(failed_ms);
                invocation
            })
            .await?;
        Ok(Maintenance {
            recovered: ids.iter().filter_map(|id| id.parse().ok()).collect(),
            // Redis drops finished jobs itself, when their keys expire.
            purged: 0,
        })
    }

    async fn wait_for_work(&self, _names: &JobNames, timeout: Duration) {
        let listener = &self.inner.listener;
        listener.ensure();
        let _ = tokio::time::timeout(timeout, listener.work().notified()).await;
    }
}
