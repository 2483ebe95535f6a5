//! Waiting for a job to finish without polling: `GET /jobs/{id}?wait=30s`
//! and `Prefer: wait=30` (RFC 7240) on submit. The wait rides on the
//! store's announcements of the job's changes; no waiter polls.

use std::time::Duration;

use axum::http::{HeaderMap, header};

use super::Problem;
use crate::job::Job;
use crate::store::{JobStore, StoreError};

/// The longest wait configuration may allow: a day.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The wait a `?wait=` query asks for (`30s`, `1500ms`, or seconds as a
/// number), at most `cap`; `None` without one.
pub(super) fn wait_query(query: Option<&str>, cap: Duration) -> Result<Option<Duration>, Problem> {
    let Some(text) = query.and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "wait")
            .map(|(_, value)| value.into_owned())
    }) else {
        return Ok(None);
    };
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(&text).map_err(|error| {
            Problem::invalid_wait(format!(
                "`wait={text}` is not a duration ({error}); write `wait=30s`, `wait=500ms` or \
                 `wait=30` (seconds)"
            ))
        })?,
    };
    Ok(Some(wait.min(cap)))
}

/// The wait a `Prefer: wait=N` header asks for, in seconds, at most `cap`.
/// A preference that does not parse is ignored, as RFC 7240 asks.
pub(super) fn preferred_wait(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    headers
        .get_all(header::HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| {
            // `wait=10; param` or `wait="10"`: the token, then its value.
            let (name, value) = preference.split(';').next()?.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            let seconds: u64 = value.trim().trim_matches('"').parse().ok()?;
            Some(Duration::from_secs(seconds).min(cap))
        })
}

/// The job once it finished, or as it is when `wait` is over; `None` if it
/// went away meanwhile (its retention ended).
pub(super) async fn until_finished(
    store: &dyn JobStore,
    job: Job,
    wait: Duration,
) -> Result<Option<Job>, StoreError> {
    if job.status.is_terminal() || wait.is_zero() {
        return Ok(Some(job));
    }
    let now = tokio::time::Instant::now();
    // `wait` is capped by configuration; an absurd cap must not panic.
    let deadline = now.checked_add(wait).unwrap_or(now + MAX_WAIT);
    // Listen, then ask for announcements, then look: no change is missed.
    let mut changes = store.changes().listen(job.id);
    store.watch(job.id, wait).await?;
    loop {
        let Some(job) = store.get(job.id).await? else {
            return Ok(None);
        };
        if job.status.is_terminal() {
            return Ok(Some(job));
        }
        tokio::select! {
            () = changes.changed() => {}
            () = tokio::time::sleep_until(deadline) => return Ok(Some(job)),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn waits_are_read_from_the_query_and_capped() {
        let wait = |query| wait_query(Some(query), CAP);
        assert_eq!(wait("wait=30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(
            wait("x=1&wait=250ms").unwrap(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(wait("wait=12").unwrap(), Some(Duration::from_secs(12)));
        assert_eq!(wait("wait=1h").unwrap(), Some(CAP));
        assert_eq!(wait("other=1").unwrap(), None);
        assert_eq!(wait_query(None, CAP).unwrap(), None);
        let problem = wait("wait=soon").unwrap_err();
        assert_eq!(problem.status(), 400);
        assert!(
            problem.detail().contains("wait=soon"),
            "{}",
            problem.detail()
        );
    }

    #[test]
    fn prefer_wait_is_found_among_other_preferences() {
        let prefer = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append("prefer", HeaderValue::from_str(value).unwrap());
            }
            preferred_wait(&headers, CAP)
        };
        assert_eq!(prefer(&["wait=5"]), Some(Duration::from_secs(5)));
        assert_eq!(
            prefer(&["respond-async, Wait = \"7\""]),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            prefer(&["return=minimal", "wait=9; x=y"]),
            Some(Duration::from_secs(9))
        );
        assert_eq!(prefer(&["wait=3600"]), Some(CAP));
        assert_eq!(prefer(&["wait=soon"]), None);
        assert_eq!(prefer(&["waiting=5"]), None);
        assert_eq!(prefer(&[]), None);
    }
}
