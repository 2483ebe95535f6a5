//! The endpoints of this binary, collected once from `inventory` and checked.

use std::collections::HashMap;

use crate::config::ConfigError;
use crate::endpoint::{Endpoint, Method};
use crate::store::JobNames;

/// Every `#[async_endpoint]` linked into the binary, sorted by job name.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    endpoints: Vec<&'static Endpoint>,
}

impl Registry {
    /// Collects the registrations and checks them against each other and
    /// against the job routes (everything under `job_prefix`).
    pub(crate) fn collect(job_prefix: &str) -> Result<Self, ConfigError> {
        Self::from_endpoints(inventory::iter::<Endpoint>().collect(), job_prefix)
    }

    pub(crate) fn from_endpoints(
        mut endpoints: Vec<&'static Endpoint>,
        job_prefix: &str,
    ) -> Result<Self, ConfigError> {
        if endpoints.is_empty() {
            return Err(ConfigError::NoEndpoints);
        }
        endpoints.sort_by(|a, b| a.job.cmp(b.job).then(a.route.cmp(b.route)));
        for pair in endpoints.windows(2) {
            if pair[0].job == pair[1].job {
                return Err(ConfigError::DuplicateJob {
                    job: pair[0].job,
                    first: pair[0].location(),
                    second: pair[1].location(),
                });
            }
        }
        let mut shapes: HashMap<String, &Endpoint> = HashMap::new();
        let mut routes: HashMap<(Method, String), &Endpoint> = HashMap::new();
        for endpoint in &endpoints {
            if is_under(endpoint.route, job_prefix) {
                return Err(ConfigError::RouteTaken {
                    route: endpoint.route,
                    endpoint: endpoint.location(),
                });
            }
            let shape = route_shape(endpoint.route);
            // One path, one set of parameter names: axum refuses
            // `/a/{id}` beside `/a/{name}` whatever their methods.
            if let Some(first) = shapes.insert(shape.clone(), endpoint) {
                if first.route != endpoint.route {
                    return Err(ConfigError::RouteConflict {
                        reason: format!(
                            "`{}` and `{}` are one path with other parameter names",
                            first.route, endpoint.route
                        ),
                        first: first.location(),
                        second: endpoint.location(),
                    });
                }
            }
            if let Some(first) = routes.insert((endpoint.method, shape), endpoint) {
                return Err(ConfigError::DuplicateRoute {
                    method: endpoint.method.as_str(),
                    route: endpoint.route,
                    first: first.location(),
                    second: endpoint.location(),
                });
            }
        }
        Ok(Self { endpoints })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'static Endpoint> + '_ {
        self.endpoints.iter().copied()
    }

    pub(crate) fn get(&self, job: &str) -> Option<&'static Endpoint> {
        self.endpoints
            .binary_search_by(|endpoint| endpoint.job.cmp(job))
            .ok()
            .map(|index| self.endpoints[index])
    }

    pub(crate) fn names(&self) -> JobNames {
        JobNames::new(self.endpoints.iter().map(|endpoint| endpoint.job.into()))
    }

    pub(crate) fn len(&self) -> usize {
        self.endpoints.len()
    }
}

/// Whether `route` is `prefix` or under it.
fn is_under(route: &str, prefix: &str) -> bool {
    route
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A route with its parameter names blanked: two routes of one shape would
/// capture the same requests.
fn route_shape(route: &str) -> String {
    let mut shape = String::with_capacity(route.len());
    let mut in_param = false;
    for c in route.chars() {
        match c {
            '{' => {
                in_param = true;
                shape.push('{');
            }
            '}' => {
                in_param = false;
                shape.push('}');
            }
            '*' if in_param => shape.push('*'),
            _ if in_param => {}
            c => shape.push(c),
        }
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Run, Submission};
    use crate::job::{JobError, RawJson};
    use futures_util::future::BoxFuture;

    fn check(_: &Submission) -> Result<(), crate::problem::Problem> {
        Ok(())
    }
    fn run(_: Run) -> BoxFuture<'static, Result<RawJson, JobError>> {
        Box::pin(async { Err(JobError::permanent("unused")) })
    }

    const fn endpoint(job: &'static str, method: Method, route: &'static str) -> Endpoint {
        Endpoint {
            job,
            method,
            route,
            retries: None,
            timeout: None,
            backoff: None,
            reads_body: false,
            check,
            validate: None,
            run,
            state: || None,
            body_schema: || None,
            doc: "",
            handler: "tests::handler",
            file: "registry.rs",
            line: 1,
        }
    }

    static A: Endpoint = endpoint("a", Method::Post, "/a/{id}");
    static A_AGAIN: Endpoint = endpoint("a", Method::Put, "/other");
    static B_SAME_SHAPE: Endpoint = endpoint("b", Method::Post, "/a/{name}");
    static B_OTHER_METHOD: Endpoint = endpoint("b", Method::Put, "/a/{name}");
    static STATUS_CLASH: Endpoint = endpoint("c", Method::Get, "/jobs/{job}");
    static UNDER_JOBS: Endpoint = endpoint("d", Method::Post, "/jobs/{id}/rerun");

    #[test]
    fn sorts_and_finds_by_name() {
        let registry = Registry::from_endpoints(vec![&STATUS_CLASH, &A], "/tasks").unwrap();
        assert_eq!(
            registry.iter().map(|e| e.job).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(registry.get("c").unwrap().route, "/jobs/{job}");
        assert!(registry.get("zzz").is_none());
        assert!(registry.names().contains("a"));
    }

    #[test]
    fn refuses_nothing_to_mount() {
        let error = Registry::from_endpoints(vec![], "/jobs").unwrap_err();
        assert!(
            error.to_string().contains("no `#[async_endpoint]`"),
            "{error}"
        );
    }

    #[test]
    fn refuses_a_job_name_twice() {
        let error = Registry::from_endpoints(vec![&A, &A_AGAIN], "/jobs").unwrap_err();
        assert!(
            error.to_string().contains("job name `a` is used twice"),
            "{error}"
        );
    }

    #[test]
    fn refuses_two_routes_of_one_shape() {
        let error = Registry::from_endpoints(vec![&A, &B_SAME_SHAPE], "/jobs").unwrap_err();
        assert!(
            error.to_string().contains("`/a/{id}` and `/a/{name}`"),
            "{error}"
        );
    }

    /// Before: `POST /a/{id}` and `PUT /a/{name}` passed the registry, and
    /// axum panicked inside `mount`.
    #[test]
    fn refuses_one_path_with_two_sets_of_parameter_names() {
        let error = Registry::from_endpoints(vec![&A, &B_OTHER_METHOD], "/jobs").unwrap_err();
        assert!(
            matches!(error, ConfigError::RouteConflict { .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.contains("`tests::handler` (registry.rs:1)"),
            "{message}"
        );
        assert!(message.contains("`/a/{id}` and `/a/{name}`"), "{message}");
    }

    #[test]
    fn refuses_the_status_route() {
        let error = Registry::from_endpoints(vec![&STATUS_CLASH], "/jobs").unwrap_err();
        assert!(
            error.to_string().contains("under the job routes"),
            "{error}"
        );
        assert!(Registry::from_endpoints(vec![&STATUS_CLASH], "/tasks").is_ok());
        assert!(Registry::from_endpoints(vec![&UNDER_JOBS], "/jobs").is_err());
        assert!(Registry::from_endpoints(vec![&UNDER_JOBS], "/job").is_ok());
    }

    #[test]
    fn shapes_ignore_parameter_names() {
        assert_eq!(route_shape("/a/{id}/b/{*rest}"), "/a/{}/b/{*}");
    }
}
