//! Talking to Redis: the shared connection, the start-up checks, and
//! running a script with one repeat after a lost reply.

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError};
use tracing::{debug, warn};

use super::{RedisStore, UNAVAILABLE_RETRY_AFTER};
use crate::store::StoreError;

impl RedisStore {
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

    pub(super) async fn connection(&self) -> Result<ConnectionManager, StoreError> {
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
    pub(super) async fn check_eviction_policy(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let config: Result<Vec<String>, RedisError> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory*")
            .query_async(&mut connection)
            .await;
        let config = match config {
            Ok(config) => config,
            // CONFIG refused (disabled, or an ACL without it, as on managed
            // Redis): warn, and trust the operator.
            Err(error) if matches!(error.kind(), ErrorKind::Server(_)) => {
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
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: impl Fn(bool) -> redis::ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        match script(false).invoke_async(&mut connection).await {
            Ok(value) => Ok(value),
            Err(error) => match self.inner.error(error) {
                unknown @ StoreError::OutcomeUnknown { .. } => {
                    debug!("a Redis reply was lost; repeating the script");
                    match script(true).invoke_async(&mut connection).await {
                        Ok(value) => Ok(value),
                        // The first run may have been carried out: whatever
                        // stopped the second (a refused connection, say), the
                        // outcome stays unknown.
                        Err(error) => match self.inner.error(error) {
                            corrupt @ StoreError::Corrupt(_) => Err(corrupt),
                            _ => Err(unknown),
                        },
                    }
                }
                error => Err(error),
            },
        }
    }
}
