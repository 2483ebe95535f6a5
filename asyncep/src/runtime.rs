//! The runtime: a store, the registered endpoints, and the workers that run
//! them.

use std::sync::Arc;

use axum::Router;

use crate::config::{Config, ConfigError, RuntimeBuilder};
use crate::context::States;
use crate::http;
use crate::registry::Registry;
use crate::store::JobStore;
use crate::worker::Workers;

/// What the HTTP layer and the workers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) registry: Registry,
    pub(crate) states: States,
    pub(crate) workers: Workers,
}

impl std::fmt::Debug for dyn JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn JobStore")
    }
}

/// An asyncep runtime: the endpoints of this binary, a store and workers.
///
/// [`asyncep::mount`](crate::mount) uses a default runtime configured from
/// the environment; build one yourself with [`Runtime::builder`] to choose
/// the store, add state, or split API and worker processes:
///
/// ```no_run,standalone_crate
/// # #[asyncep::async_endpoint(job = "doc-runtime", post = "/doc-runtime")]
/// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use asyncep::Runtime;
///
/// // An API process: routes only, jobs run elsewhere.
/// let api = Runtime::builder().workers(0).build()?;
/// let app = api.mount(axum::Router::new());
///
/// // A worker process: no routes, runs jobs until shut down.
/// let workers = Runtime::builder().workers(8).build()?;
/// tokio::spawn({
///     let workers = workers.clone();
///     async move {
///         tokio::signal::ctrl_c().await.ok();
///         workers.shutdown().await;
///     }
/// });
/// workers.run_workers().await;
/// # drop(app); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// A builder with the defaults: memory store, one worker per core.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    pub(crate) fn new(
        config: Config,
        store: Arc<dyn JobStore>,
        states: States,
    ) -> Result<Self, ConfigError> {
        let registry = Registry::collect(&config.job_prefix)?;
        for endpoint in registry.iter() {
            if let Some(requirement) = (endpoint.state)() {
                if !states.contains(requirement.type_id) {
                    return Err(ConfigError::MissingState {
                        endpoint: endpoint.location(),
                        type_name: requirement.type_name,
                    });
                }
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                store,
                registry,
                states,
                workers: Workers::default(),
            }),
        })
    }

    /// Adds every endpoint's submit route and the job status route to
    /// `router`, and starts the workers (now, inside a Tokio runtime; else on
    /// the first request).
    pub fn mount(&self, router: Router) -> Router {
        self.start_if_in_runtime();
        router.merge(http::routes(self.shared.clone(), true))
    }

    /// Adds the routes only: this process accepts jobs and shows them, and
    /// never runs one.
    pub fn api(&self, router: Router) -> Router {
        router.merge(http::routes(self.shared.clone(), false))
    }

    /// Starts the workers in the background (inside a Tokio runtime).
    /// Calling it again does nothing.
    pub fn start_workers(&self) {
        self.shared.workers.start(&self.shared);
    }

    /// Runs the workers until [`shutdown`](Self::shutdown) completes: the
    /// body of a worker-only process.
    pub async fn run_workers(&self) {
        self.start_workers();
        self.shared.workers.wait_for_shutdown().await;
    }

    /// Stops claiming, lets running jobs finish within the shutdown grace,
    /// then interrupts the rest and hands them back to the queue. Returns
    /// when every worker has stopped.
    pub async fn shutdown(&self) {
        self.shared
            .workers
            .shutdown(self.shared.config.shutdown_grace)
            .await;
    }

    /// The store this runtime uses.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.shared.store
    }

    /// The job names this runtime runs, sorted.
    pub fn job_names(&self) -> Vec<&'static str> {
        self.shared
            .registry
            .iter()
            .map(|endpoint| endpoint.job)
            .collect()
    }

    fn start_if_in_runtime(&self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.start_workers();
        }
    }
}
