//! The runtime: a store, the registered endpoints, the HTTP routes and the
//! workers that run them. It builds the narrow handles the HTTP layer and
//! the workers get; neither reaches back into it.

mod builder;
mod submit;

use std::sync::Arc;

use axum::Router;
use tracing::error;

pub use builder::RuntimeBuilder;
pub use submit::{JobRequest, SubmitError};

use crate::config::ConfigError;
use crate::context::States;
use crate::metrics::Meters;
use crate::registry::Registry;
use crate::store::JobStore;
use crate::worker::Workers;

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
/// // An API process: routes only, jobs run elsewhere (a shared store is
/// // needed: ASYNCEP_STORE_URL=redis://...).
/// let api = Runtime::builder().with_env()?.workers(0).build()?;
/// let app = api.api(axum::Router::new())?;
///
/// // A worker process: no routes, runs jobs until shut down.
/// let workers = Runtime::builder().with_env()?.workers(8).build()?;
/// tokio::spawn({
///     let workers = workers.clone();
///     async move {
///         tokio::signal::ctrl_c().await.ok();
///         workers.shutdown().await;
///     }
/// });
/// workers.run_workers().await?;
/// # drop(app); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Runtime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn JobStore>,
    /// What chose the store, for messages (`ASYNCEP_STORE_URL`, say).
    store_setting: &'static str,
    registry: Arc<Registry>,
    routes: Router,
    /// The operator's routes, handed out only when asked.
    operator: Router,
    workers: Workers,
    /// The application's state, for `validate` functions of jobs submitted
    /// from Rust code.
    states: States,
    /// Retries of endpoints that set none.
    default_retries: u32,
    /// What is counted (feature `metrics`).
    meters: Arc<Meters>,
    /// What the routes answer with, for the OpenAPI document.
    #[cfg(feature = "openapi")]
    api: Arc<crate::http::Api>,
}

impl Runtime {
    /// A builder with the defaults: memory store, one worker per core.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The operator's routes, for the application to nest where it likes
    /// and put behind its own authentication: `POST /jobs/{id}/retry` runs
    /// a `Failed` job again (queued with its full retry budget, its attempts
    /// kept). A caller reaches only the jobs it may read, as on the job
    /// routes. Not part of [`mount`](Self::mount).
    ///
    /// ```
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = asyncep::Runtime::builder().build()?;
    /// let admin = runtime.operator_routes(); // add your auth layer here
    /// let app = runtime.mount(axum::Router::new().nest("/admin", admin));
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn operator_routes(&self) -> Router {
        self.inner.operator.clone()
    }

    /// The OpenAPI 3.1 document of the routes [`mount`](Self::mount) adds
    /// (feature `openapi`): every submit route, with its body's schema, its
    /// `202` and each problem it may answer, and the job routes. Merge it
    /// into the application's own `utoipa` document, and serve that.
    ///
    /// ```
    /// # #[asyncep::async_endpoint(job = "doc-openapi", post = "/doc-openapi/{id}")]
    /// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
    /// # fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use utoipa::openapi::OpenApi;
    ///
    /// let runtime = asyncep::Runtime::builder().build()?;
    /// let mut document: OpenApi = utoipa::openapi::OpenApiBuilder::new().build();
    /// document.merge(runtime.openapi());
    /// assert!(document.paths.get_path_item("/jobs/{id}").is_some());
    /// # Ok(())
    /// # }
    /// # doc().unwrap();
    /// ```
    #[cfg(feature = "openapi")]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        crate::http::openapi_document(&self.inner.api)
    }

    /// The OpenAPI document of [`operator_routes`](Self::operator_routes)
    /// (feature `openapi`), relative to where they are nested: nest it at
    /// the same place.
    ///
    /// ```
    /// # #[asyncep::async_endpoint(job = "doc-operator-openapi", post = "/doc-operator-openapi")]
    /// # async fn job(_: asyncep::AsyncContext) -> Result<(), String> { Ok(()) }
    /// # fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = asyncep::Runtime::builder().build()?;
    /// // With `runtime.operator_routes()` nested at `/admin`:
    /// let document = runtime.openapi().nest("/admin", runtime.operator_openapi());
    /// assert!(document.paths.get_path_item("/admin/jobs/{id}/retry").is_some());
    /// # Ok(())
    /// # }
    /// # doc().unwrap();
    /// ```
    #[cfg(feature = "openapi")]
    pub fn operator_openapi(&self) -> utoipa::openapi::OpenApi {
        crate::http::operator_document()
    }

    /// Runs a `Failed` job again, as the operator route does: queued with
    /// its full retry budget, its error and retention dropped, its attempts
    /// kept. Any other job is left as it is (`queued` is false); `None` if
    /// the store has no such job.
    pub async fn retry(
        &self,
        id: crate::JobId,
    ) -> Result<Option<crate::store::Retried>, crate::store::StoreError> {
        self.inner.store.retry(id).await
    }

    /// Connects the store, checks its settings, and starts the workers (if
    /// the runtime has any): call it at start-up to fail there, rather than
    /// on the first request, when the store cannot be used.
    pub async fn start(&self) -> Result<(), ConfigError> {
        self.inner
            .store
            .start()
            .await
            .map_err(|error| ConfigError::Store {
                setting: self.inner.store_setting,
                reason: error.to_string(),
            })?;
        self.inner.workers.start();
        Ok(())
    }

    /// Adds every endpoint's submit route and the job routes to `router`,
    /// and starts the workers.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the workers are Tokio tasks): call it in
    /// `#[tokio::main]`, or use [`api`](Self::api) for routes alone.
    pub fn mount(&self, router: Router) -> Router {
        assert!(
            tokio::runtime::Handle::try_current().is_ok(),
            "asyncep: `mount` starts the workers, so it must be called inside a Tokio runtime \
             (in `#[tokio::main]`, say); use `Runtime::api` for the routes alone"
        );
        self.start_workers();
        router.merge(self.inner.routes.clone())
    }

    /// Adds the routes only: this process accepts jobs and shows them, and
    /// never runs one. Fails when the store keeps its jobs in this process,
    /// where no worker of another process could run them. Inside a Tokio
    /// runtime, the store's start-up checks run in the background (an
    /// error is logged); await [`start`](Self::start) first to fail on them.
    pub fn api(&self, router: Router) -> Result<Router, ConfigError> {
        if !self.inner.store.is_shared() {
            return Err(ConfigError::NoWorkerCanRun {
                why: "`Runtime::api` serves jobs that this process never runs",
            });
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            self.start_in_background(false);
        }
        Ok(router.merge(self.inner.routes.clone()))
    }

    /// Starts the workers in the background (inside a Tokio runtime), and
    /// the store's listeners: an error of the store is logged, and the
    /// workers keep trying to reach it. Calling it again does nothing.
    pub fn start_workers(&self) {
        self.start_in_background(true);
    }

    /// Starts the store in the background, logging what fails; then, with
    /// `workers`, the workers (after the store's start: its migrations, its
    /// listener, so the first claims do not race them; if it failed, the
    /// workers start all the same and keep trying to reach the store).
    fn start_in_background(&self, workers: bool) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            if let Err(error) = inner.store.start().await {
                error!(%error, setting = inner.store_setting, "the job store could not be started; asyncep keeps trying to reach it");
            }
            if workers {
                inner.workers.start();
            }
        });
    }

    /// Starts the store and the workers, and runs until
    /// [`shutdown`](Self::shutdown) completes: the body of a worker-only
    /// process.
    pub async fn run_workers(&self) -> Result<(), ConfigError> {
        self.start().await?;
        self.inner.workers.wait_for_shutdown().await;
        Ok(())
    }

    /// Stops claiming, lets running jobs finish within the shutdown grace,
    /// then interrupts the rest and hands them back to the queue; then stops
    /// the store's listeners. Returns when every worker has stopped.
    pub async fn shutdown(&self) {
        self.inner.workers.shutdown().await;
        self.inner.store.shutdown().await;
    }

    /// The store this runtime uses.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.inner.store
    }

    /// How many worker loops run now: the configured number once started,
    /// unless one is being restarted after a panic.
    pub fn live_workers(&self) -> usize {
        self.inner.workers.live()
    }

    /// The job names this runtime runs, sorted.
    pub fn job_names(&self) -> Vec<&'static str> {
        self.inner
            .registry
            .iter()
            .map(|endpoint| endpoint.job)
            .collect()
    }
}
