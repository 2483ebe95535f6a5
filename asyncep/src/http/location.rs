//! Where a job can be read: its `Location`, right when the router is nested.

use axum::extract::OriginalUri;
use axum::http::request::Parts;

use crate::job::JobId;

/// The path of the job's status route as the client must ask for it: the
/// job prefix, after whatever prefix the application nested the router
/// under (`Router::nest("/api", ...)`), which axum strips from the URI the
/// handler sees but keeps in [`OriginalUri`].
pub(super) fn job_location(parts: &Parts, job_prefix: &str, id: JobId) -> String {
    let nested = parts
        .extensions
        .get::<OriginalUri>()
        .and_then(|original| original.path().strip_suffix(parts.uri.path()))
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{nested}{job_prefix}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(original: &str, seen: &str) -> Parts {
        let (mut parts, ()) = Request::builder().uri(seen).body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(OriginalUri(original.parse().unwrap()));
        parts
    }

    #[test]
    fn keeps_the_nesting_prefix() {
        let id = JobId::new();
        assert_eq!(
            job_location(&parts("/api/v1/reports/7", "/reports/7"), "/jobs", id),
            format!("/api/v1/jobs/{id}")
        );
        assert_eq!(
            job_location(&parts("/reports/7", "/reports/7"), "/jobs", id),
            format!("/jobs/{id}")
        );
    }
}
