//! The Redis store: many API and worker processes, one shared queue.

mod builder;
mod connection;
mod hash;
mod keys;
mod listener;
mod reply;
mod scripts;
mod work;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Value};
use tokio::sync::OnceCell;
use tracing::error;

pub use self::builder::RedisStoreBuilder;
pub(crate) use self::builder::from_env;
use self::hash::decode_job;
use self::keys::Keys;
use self::listener::Listener;
use self::reply::{encode_caller, micros, millis};
use super::recovery::RecoveryLook;
use super::repeat::scoped_key;
use super::{
    Cancellation, Changes, ClaimRequest, Claimed, Created, FinishedAndClaimed, JobNames, JobPage,
    JobStore, Lease, ListCursor, ListQuery, Maintenance, NewJob, Outcome, QueueDepth, Renewal,
    Retention, Retried, StoreError,
};
use crate::job::{Job, JobId, JobStatus, RawJson, Timestamp};

/// The prefix of every key, unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "{asyncep}";

/// The `Retry-After` a client gets while Redis is unreachable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The most index entries one listing page looks at (a rare status costs a
/// bounded script).
const LIST_SCAN: u32 = 5_000;
/// Index entries each tidy looks at, per name.
const SWEEP_BATCH: u32 = 200;

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
/// | `{asyncep}:changed` | pub/sub channel | the id of each watched job that changed, and of each cancel |
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
    /// When a claim of this process last looked for expired leases.
    recovery: RecoveryLook,
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
}

/// Logs jobs whose data is gone while their id was queued or running.
fn report_vanished(ids: &[String]) {
    for id in ids {
        error!(
            job.id = %id,
            "a job's data is gone from Redis (evicted? check maxmemory-policy); it cannot run"
        );
    }
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
        let key = idempotency
            .and_then(|i| i.key.as_deref())
            .map(|key| scoped_key(job.caller.as_ref(), key))
            .unwrap_or_default();
        let key_name = if key.is_empty() {
            keys.job(job.id)
        } else {
            keys.idempotency_key(&key)
        };
        let caller = encode_caller(job.caller.as_ref());
        let (job_key, queue, id) = (keys.job(job.id), keys.queue(&job.name), job.id.to_string());
        let listing = keys.listing(&job.name);
        let (outcome, id, created_at): (u8, String, Option<String>) = self
            .invoke(|_| {
                let mut invocation = scripts::CREATE.prepare_invoke();
                invocation
                    .key(&job_key)
                    .key(&queue)
                    .key(&key_name)
                    .key(&listing)
                    .arg(&id)
                    .arg(job.name.as_ref())
                    .arg(job.max_retries)
                    .arg(&input)
                    .arg(&fingerprint)
                    .arg(&key)
                    .arg(keys.prefix())
                    .arg(keys.wake())
                    .arg(&caller);
                invocation
            })
            .await?;
        if outcome == 3 {
            return Err(StoreError::IdTaken);
        }
        let id: JobId = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("`{id}` is not a job id")))?;
        match outcome {
            0 => {
                let created_at = created_at
                    .and_then(|at| at.parse().ok())
                    .map_or_else(Timestamp::now, Timestamp::from_micros);
                let mut created = Job::queued(id, job.name, job.max_retries, created_at);
                created.caller = job.caller;
                Ok(Created::New(created))
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
        let reply: Vec<Value> = self
            .invoke(|repeat| self.claim_script(request, repeat))
            .await?;
        work::claimed(reply)
    }

    async fn renew(&self, lease: &Lease, period: Duration) -> Result<Renewal, StoreError> {
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
        match renewed {
            1 | 2 => Ok(Renewal {
                cancel_requested: renewed == 2,
            }),
            _ => Err(StoreError::LeaseLost { id: lease.job_id }),
        }
    }

    async fn progress(&self, lease: &Lease, progress: RawJson) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        let (job, id) = (keys.job(lease.job_id), lease.job_id.to_string());
        let stored: u8 = self
            .invoke(|_| {
                let mut invocation = scripts::PROGRESS.prepare_invoke();
                invocation
                    .key(&job)
                    .arg(lease.token)
                    .arg(progress.get())
                    .arg(&id)
                    .arg(keys.prefix());
                invocation
            })
            .await?;
        if stored == 1 {
            self.inner.listener.changes().announce(lease.job_id);
            Ok(())
        } else {
            Err(StoreError::LeaseLost { id: lease.job_id })
        }
    }

    async fn cancel(&self, id: JobId) -> Result<Option<Cancellation>, StoreError> {
        let keys = &self.inner.keys;
        let (job, id_text) = (keys.job(id), id.to_string());
        let failed_ms = millis(self.inner.retention.failed);
        let answer: u8 = self
            .invoke(|_| {
                let mut invocation = scripts::CANCEL.prepare_invoke();
                invocation
                    .key(&job)
                    .arg(&id_text)
                    .arg(keys.prefix())
                    .arg(failed_ms);
                invocation
            })
            .await?;
        if answer == 0 {
            return Ok(None);
        }
        // Read first: the answer shows the job as the cancel left it, not
        // as its worker (told at once) may have moved it since.
        let job = self.get(id).await?;
        self.inner.listener.changes().announce_cancel(id);
        Ok(job.map(|job| Cancellation {
            job,
            ended: answer == 2,
        }))
    }

    async fn retry(&self, id: JobId) -> Result<Option<Retried>, StoreError> {
        let keys = &self.inner.keys;
        let (job, attempts, id_text) = (keys.job(id), keys.attempts(id), id.to_string());
        let answer: u8 = self
            .invoke(|_| {
                let mut invocation = scripts::RETRY.prepare_invoke();
                invocation
                    .key(&job)
                    .key(&attempts)
                    .arg(&id_text)
                    .arg(keys.prefix())
                    .arg(keys.wake());
                invocation
            })
            .await?;
        if answer == 0 {
            return Ok(None);
        }
        if answer == 2 {
            self.inner.listener.changes().announce(id);
        }
        let job = self.get(id).await?;
        Ok(job.map(|job| Retried {
            job,
            queued: answer == 2,
        }))
    }

    async fn queue_depths(&self, names: &JobNames) -> Result<Vec<QueueDepth>, StoreError> {
        let keys = &self.inner.keys;
        let sets: Vec<_> = names
            .iter()
            .map(|name| (keys.queue(name), keys.scheduled(name)))
            .collect();
        let reply: Vec<i64> = self
            .invoke(|_| {
                let mut invocation = scripts::QUEUES.prepare_invoke();
                for (queue, scheduled) in &sets {
                    invocation.key(queue).key(scheduled);
                }
                invocation
            })
            .await?;
        Ok(reply
            .chunks_exact(2)
            .map(|pair| QueueDepth {
                runnable: u64::try_from(pair[0]).unwrap_or(0),
                oldest: u64::try_from(pair[1]).ok().map(Duration::from_micros),
            })
            .collect())
    }

    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let keys = &self.inner.keys;
        let index = keys.listing(&query.name);
        let status = query.status.map_or("", JobStatus::as_str);
        let (score, after) = match query.after {
            Some(cursor) => (
                cursor.created_at.as_micros().to_string(),
                cursor.id.to_string(),
            ),
            None => (String::new(), String::new()),
        };
        let (ids, last_score, last_id): (Vec<String>, String, String) = self
            .invoke(|_| {
                let mut invocation = scripts::LIST.prepare_invoke();
                invocation
                    .key(&index)
                    .arg(keys.prefix())
                    .arg(status)
                    .arg(&score)
                    .arg(&after)
                    .arg(query.limit)
                    .arg(LIST_SCAN);
                invocation
            })
            .await?;
        let found = futures_util::future::try_join_all(
            ids.iter()
                .filter_map(|id| id.parse::<JobId>().ok())
                .map(|id| self.get(id)),
        )
        .await?;
        let next = match (last_score.parse::<u64>(), last_id.parse::<JobId>()) {
            (Ok(micros), Ok(id)) => Some(ListCursor {
                created_at: Timestamp::from_micros(micros),
                id,
            }),
            _ => None,
        };
        Ok(JobPage {
            // A job deleted between the page and its read is left out.
            jobs: found.into_iter().flatten().collect(),
            next,
        })
    }

    async fn delete_finished(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = &self.inner.keys;
        let ids: Vec<String> = ids.iter().map(JobId::to_string).collect();
        let deleted: Vec<String> = self
            .invoke(|_| {
                let mut invocation = scripts::DELETE.prepare_invoke();
                invocation.arg(keys.prefix());
                for id in &ids {
                    invocation.arg(id);
                }
                invocation
            })
            .await?;
        Ok(deleted.iter().filter_map(|id| id.parse().ok()).collect())
    }

    async fn tidy_listing(&self, names: &JobNames) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        let sweep = keys.sweep();
        for name in names.iter() {
            let index = keys.listing(name);
            let _dropped: u64 = self
                .invoke(|_| {
                    let mut invocation = scripts::SWEEP.prepare_invoke();
                    invocation
                        .key(&index)
                        .key(&sweep)
                        .arg(keys.prefix())
                        .arg(name)
                        .arg(SWEEP_BATCH);
                    invocation
                })
                .await?;
        }
        Ok(())
    }

    async fn watch(&self, id: JobId, period: Duration) -> Result<(), StoreError> {
        // The announcements arrive by the listener: it must run.
        self.inner.listener.ensure();
        let job = self.inner.keys.job(id);
        let _found: u8 = self
            .invoke(|_| {
                let mut invocation = scripts::WATCH.prepare_invoke();
                invocation.key(&job).arg(micros(period));
                invocation
            })
            .await?;
        Ok(())
    }

    fn changes(&self) -> &Arc<Changes> {
        self.inner.listener.changes()
    }

    async fn finish(&self, lease: &Lease, outcome: Outcome) -> Result<(), StoreError> {
        let finish = self.finish_script(lease, outcome)?;
        let done: u8 = self.invoke(|_| finish.invocation()).await?;
        work::finished(done, lease.job_id)
    }

    async fn finish_and_claim(
        &self,
        lease: &Lease,
        outcome: Outcome,
        next: &ClaimRequest,
    ) -> FinishedAndClaimed {
        self.turn(lease, outcome, next).await
    }

    async fn maintain(&self) -> Result<Maintenance, StoreError> {
        let keys = &self.inner.keys;
        let running = keys.running();
        let failed_ms = millis(self.inner.retention.failed);
        let (recovered, vanished): (Vec<String>, Vec<String>) = self
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
        report_vanished(&vanished);
        Ok(Maintenance {
            recovered: recovered.iter().filter_map(|id| id.parse().ok()).collect(),
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
