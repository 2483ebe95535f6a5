//! The runtime builder: store, workers, retry defaults, HTTP limits, state.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::context::States;
use crate::runtime::Runtime;
use crate::store::{JobStore, MemoryStore, Retention};

use crate::store::DEFAULT_MEMORY_CAPACITY;

/// Headers never stored with a job unless configured otherwise.
pub const DEFAULT_REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
    "x-api-key",
];

/// The settings a runtime runs with, after defaults and environment.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) retries: u32,
    pub(crate) timeout: Duration,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) lease: Duration,
    pub(crate) job_prefix: String,
    pub(crate) redacted_headers: Vec<String>,
    pub(crate) body_limit: usize,
    pub(crate) shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            retries: 3,
            timeout: Duration::from_secs(30 * 60),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60 * 60),
            lease: Duration::from_secs(30),
            job_prefix: "/jobs".into(),
            redacted_headers: DEFAULT_REDACTED_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            body_limit: 2 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Builds a [`Runtime`]: which store, how many workers, what defaults.
///
/// ```standalone_crate
/// use std::time::Duration;
/// use asyncep::{store::MemoryStore, Runtime};
/// # #[asyncep::async_endpoint(job = "doc-builder", post = "/doc-builder")]
/// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
///
/// let runtime = Runtime::builder()
///     .store(MemoryStore::with_capacity(100_000))
///     .workers(8)
///     .default_retries(5)
///     .shutdown_grace(Duration::from_secs(10))
///     .redact_header("x-session-token")
///     .build()
///     .expect("a valid configuration");
/// let app = runtime.mount(axum::Router::new());
/// # drop(app);
/// ```
///
/// Every setting has an environment variable, read by
/// [`with_env`](Self::with_env) (and by [`asyncep::mount`](crate::mount)),
/// so operators can tune a deployment without a code change.
#[must_use]
#[derive(Default)]
pub struct RuntimeBuilder {
    config: Config,
    store: Option<Arc<dyn JobStore>>,
    states: States,
}

impl fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("config", &self.config)
            .field("custom_store", &self.store.is_some())
            .field("states", &self.states)
            .finish()
    }
}

impl RuntimeBuilder {
    /// The store jobs live in (default: a [`MemoryStore`]).
    pub fn store(self, store: impl JobStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// A store already shared with other code.
    pub fn shared_store(mut self, store: Arc<dyn JobStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How many jobs run at once in this process (default: the number of
    /// cores). `0` makes an API-only process that never runs jobs.
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = workers;
        self
    }

    /// Retries for endpoints that set no `retries` (default 3).
    pub fn default_retries(mut self, retries: u32) -> Self {
        self.config.retries = retries;
        self
    }

    /// Per-attempt timeout for endpoints that set no `timeout` (default 30
    /// minutes).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Backoff base for endpoints that set no `backoff` (default 2 s): the
    /// n-th retry waits about `base * 2^n`, with jitter.
    pub fn default_backoff(mut self, backoff: Duration) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The longest backoff between two attempts (default 1 hour).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.config.max_backoff = max;
        self
    }

    /// How long a claim holds a job without a heartbeat (default 30 s). A
    /// worker that dies gives its jobs back after at most this long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease.max(Duration::from_millis(10));
        self
    }

    /// Where the job status route lives (default `/jobs`: `GET /jobs/{id}`).
    pub fn job_route_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.job_prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Adds a header that is never stored with a job.
    pub fn redact_header(mut self, name: impl AsRef<str>) -> Self {
        let name = name.as_ref().to_ascii_lowercase();
        if !self.config.redacted_headers.contains(&name) {
            self.config.redacted_headers.push(name);
        }
        self
    }

    /// Replaces the list of headers never stored with a job (default:
    /// [`DEFAULT_REDACTED_HEADERS`]).
    pub fn redacted_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config.redacted_headers = names
            .into_iter()
            .map(|name| name.as_ref().to_ascii_lowercase())
            .collect();
        self
    }

    /// The largest request body accepted, in bytes (default 2 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// How long running jobs may go on after a shutdown begins (default
    /// 30 s); then they are interrupted and handed back to the queue.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Adds application state, given to handlers that take [`State<S>`](crate::State).
    pub fn state<S: Clone + Send + Sync + 'static>(mut self, state: S) -> Self {
        self.states.insert(state);
        self
    }

    /// Applies the `ASYNCEP_*` environment variables:
    ///
    /// | variable | meaning | example |
    /// |---|---|---|
    /// | `ASYNCEP_WORKERS` | jobs run at once; `0` = API only | `8` |
    /// | `ASYNCEP_SHUTDOWN_GRACE` | grace for running jobs at shutdown | `30s` |
    /// | `ASYNCEP_LEASE` | lease of a claimed job | `30s` |
    /// | `ASYNCEP_BODY_LIMIT` | largest body, in bytes | `2097152` |
    /// | `ASYNCEP_MEMORY_CAPACITY` | jobs the memory store holds | `1000000` |
    /// | `ASYNCEP_REDACT_HEADERS` | more headers never stored, comma-separated | `x-token,x-secret` |
    /// | `ASYNCEP_STORE_URL` | the store: `memory` (default), or `redis://...` / `rediss://...` (feature `redis`) | `redis://10.0.0.5:6379/0` |
    /// | `ASYNCEP_REDIS_PREFIX` | the Redis key prefix | `{asyncep}` |
    /// | `ASYNCEP_KEEP_COMPLETED` | how long completed jobs are kept | `24h` |
    /// | `ASYNCEP_KEEP_FAILED` | how long failed jobs are kept | `7d` |
    pub fn with_env(self) -> Result<Self, ConfigError> {
        self.with_vars(|name| std::env::var(name).ok())
    }

    pub(crate) fn with_vars(
        mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if let Some(value) = var("ASYNCEP_WORKERS") {
            self.config.workers = env_number("ASYNCEP_WORKERS", &value, 0)?;
        }
        if let Some(value) = var("ASYNCEP_SHUTDOWN_GRACE") {
            self.config.shutdown_grace = env_duration("ASYNCEP_SHUTDOWN_GRACE", &value)?;
        }
        if let Some(value) = var("ASYNCEP_LEASE") {
            let lease = env_duration("ASYNCEP_LEASE", &value)?;
            self = self.lease(lease);
        }
        if let Some(value) = var("ASYNCEP_BODY_LIMIT") {
            self.config.body_limit = env_number("ASYNCEP_BODY_LIMIT", &value, 0)?;
        }
        if let Some(value) = var("ASYNCEP_REDACT_HEADERS") {
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                self = self.redact_header(name);
            }
        }
        let capacity = match var("ASYNCEP_MEMORY_CAPACITY") {
            Some(value) => Some(env_number("ASYNCEP_MEMORY_CAPACITY", &value, 1)?),
            None => None,
        };
        let mut retention = Retention::default();
        if let Some(value) = var("ASYNCEP_KEEP_COMPLETED") {
            retention.completed = env_duration("ASYNCEP_KEEP_COMPLETED", &value)?;
        }
        if let Some(value) = var("ASYNCEP_KEEP_FAILED") {
            retention.failed = env_duration("ASYNCEP_KEEP_FAILED", &value)?;
        }
        let url = var("ASYNCEP_STORE_URL")
            .map(|url| url.trim().to_owned())
            .unwrap_or_default();
        if url.is_empty() || url == "memory" || url == "memory://" {
            let store = MemoryStore::with_capacity(capacity.unwrap_or(DEFAULT_MEMORY_CAPACITY));
            if capacity.is_some() || retention != Retention::default() {
                self = self.store(store.retention(retention));
            }
        } else if url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("redis+unix://")
        {
            self = self.redis_from_env(&url, retention, var("ASYNCEP_REDIS_PREFIX"))?;
        } else {
            return Err(ConfigError::Env {
                var: "ASYNCEP_STORE_URL",
                value: redact_url(&url),
                expected: "`memory`, or a Redis URL such as `redis://127.0.0.1:6379`",
            });
        }
        Ok(self)
    }

    #[cfg(feature = "redis")]
    fn redis_from_env(
        self,
        url: &str,
        retention: Retention,
        prefix: Option<String>,
    ) -> Result<Self, ConfigError> {
        use crate::store::RedisStore;
        let mut builder = RedisStore::builder(url).retention(retention);
        if let Some(prefix) = prefix.filter(|p| !p.trim().is_empty()) {
            builder = builder.prefix(prefix.trim());
        }
        let store = builder.build().map_err(|error| ConfigError::Store {
            setting: "ASYNCEP_STORE_URL",
            reason: format!("`{}` is not a valid Redis URL: {error}", redact_url(url)),
        })?;
        store
            .ping_blocking(std::time::Duration::from_secs(3))
            .map_err(|error| ConfigError::Store {
                setting: "ASYNCEP_STORE_URL",
                reason: format!("Redis at `{}` does not answer: {error}", redact_url(url)),
            })?;
        Ok(self.store(store))
    }

    #[cfg(not(feature = "redis"))]
    fn redis_from_env(
        self,
        url: &str,
        _: Retention,
        _: Option<String>,
    ) -> Result<Self, ConfigError> {
        Err(ConfigError::Store {
            setting: "ASYNCEP_STORE_URL",
            reason: format!(
                "`{}` names a Redis store, but this build of asyncep has no Redis support; enable the `redis` feature",
                redact_url(url)
            ),
        })
    }

    /// Checks the endpoints and states, and builds the runtime. Workers
    /// start when the runtime is first mounted or run.
    pub fn build(self) -> Result<Runtime, ConfigError> {
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::default()) as Arc<dyn JobStore>);
        Runtime::new(self.config, store, self.states)
    }
}

/// A duration variable (`500ms`, `30s`, `5m`).
fn env_duration(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    parse_duration(value)
        .ok_or_else(|| env_error(var, value, "a duration such as `500ms`, `30s` or `5m`"))
}

/// A whole-number variable of at least `min`.
fn env_number(var: &'static str, value: &str, min: usize) -> Result<usize, ConfigError> {
    let expected = if min == 0 {
        "a whole number"
    } else {
        "a positive whole number"
    };
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| env_error(var, value, expected))
}

fn env_error(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::Env {
        var,
        value: value.to_owned(),
        expected,
    }
}

/// A URL with its password (if any) masked, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Parses `500ms`, `30s`, `5m`, `1h`, `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// Why a runtime could not be built or mounted.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// No `#[async_endpoint]` is linked into the binary.
    NoEndpoints,
    /// Two endpoints share a job name.
    DuplicateJob {
        /// The name.
        job: &'static str,
        /// The first endpoint.
        first: String,
        /// The second endpoint.
        second: String,
    },
    /// Two endpoints share a method and route.
    DuplicateRoute {
        /// The method.
        method: &'static str,
        /// The route.
        route: &'static str,
        /// The first endpoint.
        first: String,
        /// The second endpoint.
        second: String,
    },
    /// An endpoint's route is the job status route.
    RouteTaken {
        /// The route.
        route: &'static str,
        /// The endpoint.
        endpoint: String,
    },
    /// A handler takes a state the runtime was not given.
    MissingState {
        /// The endpoint.
        endpoint: String,
        /// The state's type.
        type_name: &'static str,
    },
    /// An environment variable has a value that does not parse.
    Env {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// The store could not be set up.
    Store {
        /// The variable or setting that chose the store.
        setting: &'static str,
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoEndpoints => f.write_str(
                "asyncep found no `#[async_endpoint]` function in this binary; \
                 annotate at least one async fn, and if they live in a library crate, \
                 make sure the binary uses that crate (for example `use my_jobs as _;`) \
                 so the linker keeps its registrations",
            ),
            Self::DuplicateJob { job, first, second } => write!(
                f,
                "the job name `{job}` is used twice, by {first} and by {second}; \
                 give each endpoint its own `job = \"...\"`"
            ),
            Self::DuplicateRoute {
                method,
                route,
                first,
                second,
            } => write!(
                f,
                "two endpoints answer `{method} {route}`: {first} and {second}; \
                 change one route or method"
            ),
            Self::RouteTaken { route, endpoint } => write!(
                f,
                "{endpoint} uses `GET {route}`, which is the job status route; \
                 change the route, or move the status route with `job_route_prefix`"
            ),
            Self::MissingState {
                endpoint,
                type_name,
            } => write!(
                f,
                "{endpoint} takes `State<{type_name}>`, but the runtime has no such state; \
                 add it with `Runtime::builder().state(...)`"
            ),
            Self::Env {
                var,
                value,
                expected,
            } => write!(f, "{var}={value:?} is not valid: expected {expected}"),
            Self::Store { setting, reason } => write!(f, "{setting}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reads_the_environment() {
        let builder = RuntimeBuilder::default()
            .with_vars(env(&[
                ("ASYNCEP_WORKERS", "0"),
                ("ASYNCEP_SHUTDOWN_GRACE", "1m30s"),
                ("ASYNCEP_LEASE", "5s"),
                ("ASYNCEP_REDACT_HEADERS", "X-Token, x-other"),
            ]))
            .unwrap();
        assert_eq!(builder.config.workers, 0);
        assert_eq!(builder.config.shutdown_grace, Duration::from_secs(90));
        assert_eq!(builder.config.lease, Duration::from_secs(5));
        assert!(
            builder
                .config
                .redacted_headers
                .contains(&"x-token".to_owned())
        );
        assert!(
            builder
                .config
                .redacted_headers
                .contains(&"authorization".to_owned())
        );
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_SHUTDOWN_GRACE", "soon")]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "ASYNCEP_SHUTDOWN_GRACE=\"soon\" is not valid: expected a duration such as `500ms`, `30s` or `5m`"
        );
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "mongodb://x")]))
            .unwrap_err();
        assert!(
            error.to_string().starts_with("ASYNCEP_STORE_URL="),
            "{error}"
        );
    }

    #[test]
    fn retention_variables_expect_durations() {
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_KEEP_COMPLETED", "soon")]))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("expected a duration such as `500ms`, `30s` or `5m`"),
            "{error}"
        );
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_MEMORY_CAPACITY", "0")]))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("expected a positive whole number"),
            "{error}"
        );
    }

    #[test]
    fn masks_passwords_in_messages() {
        assert_eq!(
            redact_url("redis://:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn a_redis_url_without_the_feature_says_what_to_enable() {
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "redis://127.0.0.1:6379")]))
            .unwrap_err();
        assert!(
            error.to_string().contains("enable the `redis` feature"),
            "{error}"
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn an_unreachable_redis_fails_at_start_naming_the_variable() {
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "redis://:pw@127.0.0.1:1")]))
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(
                "ASYNCEP_STORE_URL: Redis at `redis://***@127.0.0.1:1` does not answer"
            ),
            "{message}"
        );
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "redis://host:notaport")]))
            .unwrap_err();
        assert!(
            error.to_string().starts_with("ASYNCEP_STORE_URL: "),
            "{error}"
        );
    }

    #[test]
    fn parses_humane_durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("five"), None);
    }
}
