//! Building a [`RedisStore`]: URL, prefix, retention, timeouts.

use std::sync::Arc;
use std::time::Duration;

use redis::RedisError;
use redis::aio::ConnectionManagerConfig;
use tokio::sync::OnceCell;

use super::keys::Keys;
use super::listener::Listener;
use super::{Inner, RedisStore};
use crate::store::recovery::RecoveryLook;
use crate::store::{JobStore, Retention, redact_url};

/// Builds a [`RedisStore`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    pub(super) url: String,
    pub(super) prefix: String,
    pub(super) retention: Retention,
    pub(super) connect_timeout: Duration,
    pub(super) response_timeout: Duration,
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
        let listener = Listener::new(
            client.clone(),
            [keys.wake(), keys.changed()],
            self.connect_timeout,
        );
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                config,
                connection: OnceCell::new(),
                keys,
                retention: self.retention,
                connect_timeout: self.connect_timeout,
                listener,
                recovery: RecoveryLook::default(),
            }),
        })
    }
}

/// The Redis store an `ASYNCEP_STORE_URL` names, or why it cannot be built
/// (the message masks the URL's password). Nothing connects yet.
pub(crate) fn from_env(
    url: &str,
    prefix: Option<&str>,
    retention: Retention,
) -> Result<Arc<dyn JobStore>, String> {
    let mut builder = RedisStore::builder(url).retention(retention);
    if let Some(prefix) = prefix {
        builder = builder.prefix(prefix);
    }
    match builder.build() {
        Ok(store) => Ok(Arc::new(store)),
        Err(error) => Err(format!(
            "`{}` is not a valid Redis URL: {error}",
            redact_url(url)
        )),
    }
}
