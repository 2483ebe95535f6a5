//! `asyncep::mount`: the default runtime, configured from the environment.

use std::sync::OnceLock;

use axum::Router;

use crate::runtime::Runtime;

static DEFAULT: OnceLock<Runtime> = OnceLock::new();

/// Mounts every `#[async_endpoint]` of the binary, and `GET /jobs/{id}`, on
/// `router`, with the default runtime: the in-memory store and one worker
/// per core, tuned by the `ASYNCEP_*` environment variables (see
/// [`RuntimeBuilder::with_env`](crate::RuntimeBuilder::with_env)).
///
/// ```no_run,standalone_crate
/// use asyncep::{async_endpoint, AsyncContext};
///
/// #[async_endpoint(job = "ping", post = "/ping/<id>")]
/// async fn ping(ctx: AsyncContext) -> Result<String, String> {
///     Ok(format!("pong {}", ctx.route_params["id"]))
/// }
///
/// #[tokio::main]
/// async fn main() {
///     let app = asyncep::mount(axum::Router::new());
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
///     axum::serve(listener, app)
///         .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
///         .await
///         .unwrap();
///     asyncep::shutdown().await; // running jobs finish, or go back to the queue
/// }
/// ```
///
/// Nothing blocks here: the store connects in the background (an
/// unreachable one is logged, and the workers keep trying). To fail at
/// start-up instead, build the runtime yourself and await
/// [`Runtime::start`].
///
/// # Panics
/// When the endpoints cannot be mounted (no endpoint in the binary, a job
/// name or route used twice, a handler's state missing), an `ASYNCEP_*`
/// variable is invalid, or it is called outside a Tokio runtime: the
/// message says what to fix. Use [`Runtime::builder`] to handle those
/// errors yourself.
pub fn mount(router: Router) -> Router {
    default_runtime().mount(router)
}

/// The OpenAPI document of what [`mount`] adds, from the default runtime
/// (feature `openapi`): see [`Runtime::openapi`].
///
/// # Panics
/// As [`mount`] does, when the default runtime cannot be built.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    default_runtime().openapi()
}

/// Shuts the default runtime down: see [`Runtime::shutdown`].
pub async fn shutdown() {
    if let Some(runtime) = DEFAULT.get() {
        runtime.shutdown().await;
    }
}

/// The default runtime, built on first use.
fn default_runtime() -> &'static Runtime {
    DEFAULT.get_or_init(|| {
        let runtime = Runtime::builder()
            .with_env()
            .and_then(|builder| builder.build());
        match runtime {
            Ok(runtime) => runtime,
            Err(error) => panic!("asyncep::mount: {error}"),
        }
    })
}
