//! The runtime builder: which store, how many workers, what defaults.

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::{Inner, Runtime};
use crate::caller::Caller;
use crate::config::{ConfigError, Overrides, StoreUrl, StoreVars};
use crate::context::States;
use crate::http::{self, Api, ApiSettings};
use crate::job::Job;
use crate::metrics::Meters;
use crate::registry::Registry;
use crate::store::{self, DEFAULT_MEMORY_CAPACITY, JobStore, MemoryStore, Retention};
use crate::worker::{WorkerContext, WorkerSettings, Workers};

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
/// assert_eq!(runtime.job_names(), ["doc-builder"]);
/// ```
///
/// Every setting has an environment variable, read by
/// [`with_env`](Self::with_env) (and by [`asyncep::mount`](crate::mount)),
/// so operators can tune a deployment without a code change.
#[must_use]
#[derive(Default)]
pub struct RuntimeBuilder {
    api: ApiSettings,
    worker: WorkerSettings,
    store: Option<Arc<dyn JobStore>>,
    store_vars: StoreVars,
    states: States,
    /// Checked at build: the origin of absolute links.
    public_url: Option<String>,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("api", &self.api)
            .field("worker", &self.worker)
            .field("store_chosen_in_code", &self.store.is_some())
            .field("store_vars", &self.store_vars)
            .field("states", &self.states)
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl RuntimeBuilder {
    /// The store jobs live in (default: a [`MemoryStore`], or the store
    /// `ASYNCEP_STORE_URL` names). The environment may tune the store it
    /// builds, never replace the one chosen here.
    pub fn store(self, store: impl JobStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// A store already shared with other code.
    pub fn shared_store(mut self, store: Arc<dyn JobStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How many jobs run at once in this process (default: the number of
    /// cores). `0` makes an API-only process that never runs jobs: it needs
    /// a store shared with worker processes.
    pub fn workers(mut self, workers: usize) -> Self {
        self.worker.workers = workers;
        self
    }

    /// Retries for endpoints that set no `retries` (default 3).
    pub fn default_retries(mut self, retries: u32) -> Self {
        self.api.default_retries = retries;
        self
    }

    /// Per-attempt timeout for endpoints that set no `timeout` (default 30
    /// minutes).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.worker.timeout = timeout;
        self
    }

    /// Backoff base for endpoints that set no `backoff` (default 2 s): the
    /// n-th retry waits about `base * 2^n`, with jitter.
    pub fn default_backoff(mut self, backoff: Duration) -> Self {
        self.worker.backoff = backoff;
        self
    }

    /// The longest backoff between two attempts (default 1 hour).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.worker.max_backoff = max;
        self
    }

    /// How long a claim holds a job without a heartbeat (default 30 s). A
    /// worker that dies gives its jobs back after at most this long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.worker.lease = lease.max(Duration::from_millis(10));
        self
    }

    /// Where the job status route lives (default `/jobs`: `GET /jobs/{id}`).
    pub fn job_route_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api.job_prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Adds a header that is never stored with a job. Credentials never are
    /// in any case: see [`DEFAULT_REDACTED_HEADERS`](crate::DEFAULT_REDACTED_HEADERS)
    /// and [`SENSITIVE_NAME_PARTS`](crate::http::SENSITIVE_NAME_PARTS), a
    /// rule that configuration only adds to.
    pub fn redact_header(mut self, name: impl AsRef<str>) -> Self {
        push_lower(&mut self.api.redaction.headers, name);
        self
    }

    /// Adds headers that are never stored with a job (see
    /// [`redact_header`](Self::redact_header)).
    pub fn redact_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            self = self.redact_header(name);
        }
        self
    }

    /// Stores only these headers with a job: the ones the handlers need.
    /// A credential is not stored even when named here (see
    /// [`store_sensitive_header`](Self::store_sensitive_header)).
    ///
    /// ```standalone_crate
    /// # #[asyncep::async_endpoint(job = "doc-only-headers", post = "/doc-only-headers")]
    /// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
    /// let runtime = asyncep::Runtime::builder()
    ///     .store_only_headers(["accept-language", "x-request-id"])
    ///     .build()
    ///     .unwrap();
    /// # drop(runtime);
    /// ```
    pub fn store_only_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let only = self.api.redaction.only.get_or_insert_default();
        for name in names {
            push_lower(only, name);
        }
        self
    }

    /// Stores a header that the built-in rule marks as sensitive (say
    /// `x-session-id`, which a handler needs and which is no credential).
    /// Only a header named here escapes the rule.
    pub fn store_sensitive_header(mut self, name: impl AsRef<str>) -> Self {
        push_lower(&mut self.api.redaction.allowed_sensitive, name);
        self
    }

    /// Adds a query parameter that is never stored with a job (besides
    /// [`DEFAULT_REDACTED_QUERY`](crate::http::DEFAULT_REDACTED_QUERY) and
    /// the names the built-in rule marks, such as `access_token`).
    pub fn redact_query_param(mut self, name: impl AsRef<str>) -> Self {
        push_lower(&mut self.api.redaction.query, name);
        self
    }

    /// The most bytes of headers stored with a job (default 16 KiB): a
    /// request over it is refused with `431`.
    pub fn stored_headers_limit(mut self, bytes: usize) -> Self {
        self.api.stored_headers_limit = bytes;
        self
    }

    /// The most bytes of query string stored with a job (default 8 KiB): a
    /// request over it is refused with `414`.
    pub fn stored_query_limit(mut self, bytes: usize) -> Self {
        self.api.stored_query_limit = bytes;
        self
    }

    /// The largest result a handler may return, as JSON bytes (default
    /// 1 MiB): a larger one fails the job with the code `result_too_large`
    /// (a retry would not make it smaller).
    pub fn result_limit(mut self, bytes: usize) -> Self {
        self.worker.result_limit = bytes;
        self
    }

    /// The largest request body accepted, in bytes (default 2 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.api.body_limit = bytes;
        self
    }

    /// How long running jobs may go on after a shutdown begins (default
    /// 30 s); then they are interrupted and handed back to the queue.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.worker.shutdown_grace = grace;
        self
    }

    /// How long a canceled job's handler may run on after its cancellation
    /// token fired (default 10 s); then it is dropped, and the job ends
    /// `Canceled` either way.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.worker.cancel_grace = grace;
        self
    }

    /// How often a process that runs workers reads the queue gauges
    /// (`asyncep_queue_depth`, `asyncep_queue_oldest_age_seconds`) from the
    /// store, for the job names it runs (default 15 s; feature `metrics`).
    /// Each read costs the store one indexed look per name.
    #[cfg(feature = "metrics")]
    pub fn queue_metrics_every(mut self, period: Duration) -> Self {
        self.worker.queue_metrics_every = period.max(Duration::from_millis(10));
        self
    }

    /// The URL clients reach the API at (`https://api.example.com`, with any
    /// path prefix a proxy adds): `Location` and `Operation-Location` become
    /// absolute URLs under it, as generic long-running-operation clients
    /// (Azure's `LROPoller`) need. Checked at [`build`](Self::build). Without
    /// it (or [`links_from_request`](Self::links_from_request)) links are
    /// paths.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Absolute links from each request's own `Forwarded` (or
    /// `X-Forwarded-Proto` and `X-Forwarded-Host`) or `Host` header. Only
    /// behind a proxy that sets those headers: otherwise a client chooses
    /// the host its links name.
    pub fn links_from_request(mut self) -> Self {
        self.api.origin = http::Origin::FromRequest;
        self
    }

    /// The longest a request may wait for its job to finish (default 60 s):
    /// `GET /jobs/{id}?wait=` and `Prefer: wait=` on submit ask for up to
    /// this much; a longer wait is cut to it. At most a day.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.api.max_wait = wait.min(http::MAX_WAIT);
        self
    }

    /// Adds application state, given to handlers that take [`State<S>`](crate::State).
    pub fn state<S: Clone + Send + Sync + 'static>(mut self, state: S) -> Self {
        self.states.insert(state);
        self
    }

    /// Derives the caller of a request that no layer gave a [`Caller`]
    /// (see there for the usual way, a middleware). For applications whose
    /// authentication already ran in front (a gateway that sets a header,
    /// say).
    ///
    /// ```standalone_crate
    /// use asyncep::{Caller, Runtime};
    /// # #[asyncep::async_endpoint(job = "doc-caller-from", post = "/doc-caller-from")]
    /// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
    ///
    /// let runtime = Runtime::builder()
    ///     .caller_from(|parts| {
    ///         let tenant = parts.headers.get("x-gateway-tenant")?.to_str().ok()?;
    ///         Some(Caller::new(tenant))
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(runtime);
    /// ```
    pub fn caller_from<F>(mut self, derive: F) -> Self
    where
        F: Fn(&axum::http::request::Parts) -> Option<Caller> + Send + Sync + 'static,
    {
        self.api.callers.derive = Some(Arc::new(derive));
        self
    }

    /// Decides who may read which job (default: only the caller that
    /// submitted it). A caller refused reads `404`, exactly as for an
    /// unknown job.
    ///
    /// ```standalone_crate
    /// use asyncep::{Caller, Job, Runtime};
    /// # #[asyncep::async_endpoint(job = "doc-read-policy", post = "/doc-read-policy")]
    /// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
    ///
    /// // Operators read every job; everyone else reads their own.
    /// let runtime = Runtime::builder()
    ///     .read_policy(|job: &Job, caller: Option<&Caller>| {
    ///         caller.is_some_and(|c| c.as_str() == "operator") || job.caller.as_ref() == caller
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(runtime);
    /// ```
    pub fn read_policy<F>(mut self, policy: F) -> Self
    where
        F: Fn(&Job, Option<&Caller>) -> bool + Send + Sync + 'static,
    {
        self.api.callers.policy = Some(Arc::new(policy));
        self
    }

    /// Decides which jobs the operator's routes
    /// ([`Runtime::operator_routes`]) may list, retry and purge for a
    /// caller (default: the jobs the [`read_policy`](Self::read_policy) lets
    /// it read). Those routes sit behind the application's own
    /// authentication, so a team whose operators see every tenant says so:
    ///
    /// ```standalone_crate
    /// # #[asyncep::async_endpoint(job = "doc-operator-policy", post = "/doc-operator-policy")]
    /// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
    /// let runtime = asyncep::Runtime::builder()
    ///     .operator_policy(|_job, _caller| true) // every caller's jobs
    ///     .build()
    ///     .unwrap();
    /// # drop(runtime);
    /// ```
    pub fn operator_policy<F>(mut self, policy: F) -> Self
    where
        F: Fn(&Job, Option<&Caller>) -> bool + Send + Sync + 'static,
    {
        self.api.callers.operator = Some(Arc::new(policy));
        self
    }

    /// Applies the `ASYNCEP_*` environment variables:
    ///
    /// | variable | meaning | example |
    /// |---|---|---|
    /// | `ASYNCEP_WORKERS` | jobs run at once; `0` = API only | `8` |
    /// | `ASYNCEP_SHUTDOWN_GRACE` | grace for running jobs at shutdown | `30s` |
    /// | `ASYNCEP_CANCEL_GRACE` | grace for a canceled job's handler | `10s` |
    /// | `ASYNCEP_MAX_WAIT` | the longest wait a request gets | `60s` |
    /// | `ASYNCEP_PUBLIC_URL` | the URL clients reach the API at | none: links are paths |
    /// | `ASYNCEP_LEASE` | lease of a claimed job | `30s` |
    /// | `ASYNCEP_BODY_LIMIT` | largest body, in bytes | `2097152` |
    /// | `ASYNCEP_REDACT_HEADERS` | more headers never stored, comma-separated | `x-tenant-hint` |
    /// | `ASYNCEP_REDACT_QUERY` | more query parameters never stored, comma-separated | `email` |
    /// | `ASYNCEP_STORE_URL` | the store: `memory` (default), `redis://...` / `rediss://...` (feature `redis`), `postgres://...` (feature `postgres`), or `sqlite://path/to/jobs.db` (feature `sqlite`) | `redis://10.0.0.5:6379/0` |
    /// | `ASYNCEP_MEMORY_CAPACITY` | jobs the memory store holds | `1000000` |
    /// | `ASYNCEP_MEMORY_BUDGET` | bytes the memory store's jobs may hold | `512MiB` |
    /// | `ASYNCEP_REDIS_PREFIX` | the Redis key prefix | `{asyncep}` |
    /// | `ASYNCEP_POSTGRES_SCHEMA` | the PostgreSQL schema of asyncep's tables | `asyncep` |
    /// | `ASYNCEP_KEEP_COMPLETED` | how long completed jobs are kept | `24h` |
    /// | `ASYNCEP_KEEP_FAILED` | how long failed jobs are kept | `7d` |
    ///
    /// The store variables choose and tune the store asyncep builds; when
    /// the code chose the store with [`store`](Self::store),
    /// `ASYNCEP_STORE_URL` is an error at [`build`](Self::build) and the
    /// tuning variables are ignored with a warning. Nothing connects here:
    /// [`Runtime::start`] checks that the store answers.
    pub fn with_env(self) -> Result<Self, ConfigError> {
        self.with_vars(|name| std::env::var(name).ok())
    }

    pub(crate) fn with_vars(
        mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let overrides = Overrides::read(var)?;
        if let Some(workers) = overrides.workers {
            self.worker.workers = workers;
        }
        if let Some(grace) = overrides.shutdown_grace {
            self.worker.shutdown_grace = grace;
        }
        if let Some(grace) = overrides.cancel_grace {
            self.worker.cancel_grace = grace;
        }
        if let Some(wait) = overrides.max_wait {
            self = self.max_wait(wait);
        }
        if let Some(url) = overrides.public_url {
            self.public_url = Some(url);
        }
        if let Some(lease) = overrides.lease {
            self = self.lease(lease);
        }
        if let Some(limit) = overrides.body_limit {
            self.api.body_limit = limit;
        }
        for name in overrides.redact_headers {
            self = self.redact_header(name);
        }
        for name in overrides.redact_query {
            self = self.redact_query_param(name);
        }
        self.store_vars = overrides.store;
        Ok(self)
    }

    /// Checks the endpoints, the routes, the states and the store, and
    /// builds the runtime. Nothing connects yet, and nothing starts: see
    /// [`Runtime::start`] and [`Runtime::mount`].
    ///
    /// With the feature `metrics`, install your recorder first: the
    /// per-job counters, histograms and the in-flight gauge are registered
    /// here, with the recorder installed now, and keep reporting to it.
    pub fn build(mut self) -> Result<Runtime, ConfigError> {
        if let Some(url) = self.public_url.take() {
            self.api.origin = http::Origin::fixed(&url)
                .map_err(|reason| ConfigError::PublicUrl { url, reason })?;
        }
        let (store, store_setting) = self.resolve_store()?;
        if self.worker.workers == 0 && !store.is_shared() {
            return Err(ConfigError::NoWorkerCanRun {
                why: "the runtime has no workers (`workers(0)` or `ASYNCEP_WORKERS=0`)",
            });
        }
        let registry = Arc::new(Registry::collect(&self.api.job_prefix)?);
        for endpoint in registry.iter() {
            if let Some(requirement) = (endpoint.state)() {
                if !self.states.contains(requirement.type_id) {
                    return Err(ConfigError::MissingState {
                        endpoint: endpoint.location(),
                        type_name: requirement.type_name,
                    });
                }
            }
        }
        let default_retries = self.api.default_retries;
        let meters = Arc::new(Meters::new(registry.iter().map(|endpoint| endpoint.job)));
        let api = Arc::new(Api {
            store: store.clone(),
            registry: registry.clone(),
            states: self.states.clone(),
            settings: self.api,
            meters: meters.clone(),
        });
        let operator = http::operator_routes(api.clone());
        #[cfg(feature = "openapi")]
        let openapi = api.clone();
        let routes = http::routes(api)?;
        let workers = Workers::new(WorkerContext {
            store: store.clone(),
            registry: registry.clone(),
            states: self.states.clone(),
            settings: self.worker,
            meters: meters.clone(),
        });
        Ok(Runtime {
            inner: Arc::new(Inner {
                store,
                store_setting,
                registry,
                routes,
                operator,
                workers,
                states: self.states,
                default_retries,
                meters,
                #[cfg(feature = "openapi")]
                api: openapi,
            }),
        })
    }

    /// The store chosen in code, or the one the environment names.
    fn resolve_store(&self) -> Result<(Arc<dyn JobStore>, &'static str), ConfigError> {
        let vars = &self.store_vars;
        if let Some(store) = &self.store {
            if vars.url.is_some() {
                return Err(ConfigError::StoreChosenInCode {
                    var: "ASYNCEP_STORE_URL",
                });
            }
            if vars.tunes() {
                warn!(
                    "ASYNCEP_MEMORY_*, ASYNCEP_KEEP_*, ASYNCEP_REDIS_PREFIX and \
                     ASYNCEP_POSTGRES_SCHEMA tune the store \
                     asyncep builds from the environment; the code chose its own, so they are ignored"
                );
            }
            return Ok((store.clone(), "the store chosen in code"));
        }
        let retention = vars.retention(Retention::default());
        let from_url = |reason| ConfigError::Store {
            setting: "ASYNCEP_STORE_URL",
            reason,
        };
        let store: Arc<dyn JobStore> = match &vars.url {
            None | Some(StoreUrl::Memory) => {
                let mut store = MemoryStore::with_capacity(
                    vars.memory_capacity.unwrap_or(DEFAULT_MEMORY_CAPACITY),
                )
                .retention(retention);
                if let Some(budget) = vars.memory_budget {
                    store = store.byte_budget(budget);
                }
                Arc::new(store)
            }
            Some(StoreUrl::Postgres(url)) => {
                store::postgres_from_env(url, vars.postgres_schema.as_deref(), retention)
                    .map_err(from_url)?
            }
            Some(StoreUrl::Redis(url)) => {
                store::redis_from_env(url, vars.redis_prefix.as_deref(), retention)
                    .map_err(from_url)?
            }
            Some(StoreUrl::Sqlite(url)) => {
                store::sqlite_from_env(url, retention).map_err(from_url)?
            }
        };
        Ok((store, "ASYNCEP_STORE_URL"))
    }
}

/// Adds `name`, lower-cased, to `names` unless it is there.
fn push_lower(names: &mut Vec<String>, name: impl AsRef<str>) {
    let name = name.as_ref().to_ascii_lowercase();
    if !names.contains(&name) {
        names.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vars as env;

    #[test]
    fn environment_settings_reach_the_builder() {
        let builder = RuntimeBuilder::default()
            .with_vars(env(&[
                ("ASYNCEP_WORKERS", "3"),
                ("ASYNCEP_LEASE", "5s"),
                ("ASYNCEP_REDACT_HEADERS", "X-Tenant-Hint"),
                ("ASYNCEP_REDACT_QUERY", "email"),
            ]))
            .unwrap();
        assert_eq!(builder.worker.workers, 3);
        assert_eq!(builder.worker.lease, Duration::from_secs(5));
        let redaction = &builder.api.redaction;
        assert!(!redaction.keeps_header("x-tenant-hint"));
        assert!(!redaction.keeps_header("authorization"));
        assert!(redaction.keeps_header("x-trace"));
        assert_eq!(
            redaction.stored_query(Some("email=a&x=1")).as_deref(),
            Some("x=1")
        );
    }

    #[test]
    fn job_control_settings_are_read_and_bounded() {
        let builder = RuntimeBuilder::default()
            .with_vars(env(&[
                ("ASYNCEP_CANCEL_GRACE", "2s"),
                ("ASYNCEP_MAX_WAIT", "90s"),
                ("ASYNCEP_PUBLIC_URL", "https://api.example.com/"),
            ]))
            .unwrap();
        assert_eq!(builder.worker.cancel_grace, Duration::from_secs(2));
        assert_eq!(builder.api.max_wait, Duration::from_secs(90));
        assert_eq!(
            builder.public_url.as_deref(),
            Some("https://api.example.com/")
        );
        // A wait past a day would overflow deadlines: it is cut to a day.
        let unbounded = RuntimeBuilder::default().max_wait(Duration::MAX);
        assert_eq!(unbounded.api.max_wait, http::MAX_WAIT);
    }

    /// Before: a retention or capacity variable made `with_env` replace the
    /// store chosen in code with a new memory store.
    #[test]
    fn the_environment_tunes_but_never_replaces_a_store_chosen_in_code() {
        let chosen: Arc<dyn JobStore> = Arc::new(MemoryStore::with_capacity(7));
        let builder = RuntimeBuilder::default()
            .shared_store(chosen.clone())
            .with_vars(env(&[
                ("ASYNCEP_KEEP_COMPLETED", "1h"),
                ("ASYNCEP_MEMORY_CAPACITY", "9"),
            ]))
            .unwrap();
        let (store, _) = builder.resolve_store().unwrap();
        assert!(Arc::ptr_eq(&store, &chosen), "the chosen store is kept");
        let builder = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "memory")]))
            .unwrap()
            .shared_store(chosen);
        let error = builder.resolve_store().map(drop).unwrap_err();
        assert!(
            matches!(error, ConfigError::StoreChosenInCode { .. }),
            "{error}"
        );
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn a_redis_url_without_the_feature_says_what_to_enable() {
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "redis://127.0.0.1:6379")]))
            .unwrap()
            .resolve_store()
            .map(drop)
            .unwrap_err();
        assert!(
            error.to_string().contains("enable the `redis` feature"),
            "{error}"
        );
    }

    /// An endpoint, so that runtimes of this test binary can be built.
    #[crate::async_endpoint(job = "builder-test", post = "/builder-test")]
    async fn builder_test(_: crate::AsyncContext) -> Result<(), String> {
        Ok(())
    }

    /// Before: `with_env` pinged Redis synchronously (up to 3 s on a
    /// runtime thread inside `mount`). Now building never connects, and
    /// `Runtime::start` fails, naming the variable, with the password masked.
    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn an_unreachable_redis_fails_at_start_naming_the_variable() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("redis://:secret@127.0.0.1:{closed}");
        let started = std::time::Instant::now();
        let runtime = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", &url)]))
            .unwrap()
            .build()
            .expect("building does not connect");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "building blocked"
        );
        let error = runtime.start().await.unwrap_err().to_string();
        assert!(error.starts_with("ASYNCEP_STORE_URL: "), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_postgres_url_chooses_the_postgres_store_and_a_bad_schema_is_refused() {
        let builder = RuntimeBuilder::default()
            .with_vars(env(&[(
                "ASYNCEP_STORE_URL",
                "postgres://app:pw@127.0.0.1/app",
            )]))
            .unwrap();
        let (store, setting) = builder.resolve_store().unwrap();
        assert!(store.is_shared());
        assert_eq!(setting, "ASYNCEP_STORE_URL");
        let error = RuntimeBuilder::default()
            .with_vars(env(&[
                ("ASYNCEP_STORE_URL", "postgres://app@127.0.0.1/app"),
                ("ASYNCEP_POSTGRES_SCHEMA", "Bad;Name"),
            ]))
            .unwrap()
            .resolve_store()
            .map(drop)
            .unwrap_err();
        assert!(error.to_string().contains("schema name"), "{error}");
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn an_sqlite_url_chooses_the_sqlite_store_and_an_in_memory_one_is_refused() {
        let builder = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "sqlite://jobs.db")]))
            .unwrap();
        let (store, setting) = builder.resolve_store().unwrap();
        assert!(store.is_shared());
        assert_eq!(setting, "ASYNCEP_STORE_URL");
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "sqlite::memory:")]))
            .unwrap()
            .resolve_store()
            .map(drop)
            .unwrap_err();
        assert!(error.to_string().contains("in-memory"), "{error}");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_bad_redis_url_names_the_variable_and_masks_the_password() {
        let error = RuntimeBuilder::default()
            .with_vars(env(&[("ASYNCEP_STORE_URL", "redis://:pw@host:notaport")]))
            .unwrap()
            .resolve_store()
            .map(drop)
            .unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("ASYNCEP_STORE_URL: "), "{message}");
        assert!(!message.contains("pw@"), "{message}");
    }
}
