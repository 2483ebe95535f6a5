//! Why a runtime could not be built: a leaf, for the runtime, the registry
//! and the environment parsing alike.

use std::fmt;

/// Why a runtime could not be built or mounted.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// No `#[async_endpoint]` is linked into the binary.
    NoEndpoints,
    /// The public URL cannot be the base of the API's links.
    PublicUrl {
        /// The URL given.
        url: String,
        /// Why not.
        reason: String,
    },
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
    /// Two endpoints' routes cannot live in one router (axum refuses them:
    /// the same route with other parameter names, say).
    RouteConflict {
        /// What the router said.
        reason: String,
        /// The first endpoint.
        first: String,
        /// The second endpoint.
        second: String,
    },
    /// An endpoint's route is under the job routes.
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
    /// The runtime runs no worker, and its store is not shared with other
    /// processes: its jobs would never run.
    NoWorkerCanRun {
        /// How the runtime was asked to run no worker.
        why: &'static str,
    },
    /// The environment names another store than the one chosen in code.
    StoreChosenInCode {
        /// The variable.
        var: &'static str,
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
            Self::PublicUrl { url, reason } => write!(
                f,
                "`{url}` cannot be the public URL of the API: {reason}; give the URL clients \
                 reach the API at, such as `https://api.example.com`"
            ),
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
            Self::RouteConflict {
                reason,
                first,
                second,
            } => write!(
                f,
                "the routes of {first} and {second} cannot both be mounted ({reason}); \
                 use the same parameter names in both, or change one route"
            ),
            Self::RouteTaken { route, endpoint } => write!(
                f,
                "{endpoint} uses `{route}`, which is under the job routes; \
                 change the route, or move the job routes with `job_route_prefix`"
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
            Self::NoWorkerCanRun { why } => write!(
                f,
                "{why}, but the store keeps its jobs in this process, so no worker would ever \
                 run them; give the runtime workers, or choose a shared store (Redis, with \
                 `ASYNCEP_STORE_URL=redis://...`) that worker processes also use"
            ),
            Self::StoreChosenInCode { var } => write!(
                f,
                "{var} names a store, but the code already chose one with \
                 `RuntimeBuilder::store`; the environment may tune the store, never replace it: \
                 unset {var}, or stop choosing the store in code"
            ),
            Self::Store { setting, reason } => write!(f, "{setting}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}
