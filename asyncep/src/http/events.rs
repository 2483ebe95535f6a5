//! `GET /jobs/{id}/events`: a Server-Sent Events stream of the job's status
//! and progress, each event the whole job document, the last one (`end`)
//! the finished job. Each event's id is the job's `lastUpdatedAt` in
//! microseconds, so a client that reconnects with `Last-Event-ID` gets only
//! what is newer; one that reconnects after the end gets `204 No Content`
//! (which tells an `EventSource` to stop).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::time::Instant;
use tracing::warn;

use super::Api;
use super::lookup::requested_job;
use crate::job::{Job, JobStatus};
use crate::store::ChangeListener;

/// How long one request for announcements lasts; renewed at half.
const WATCH: Duration = Duration::from_secs(60);

pub(super) async fn events(State(api): State<Arc<Api>>, request: Request) -> Response {
    let (parts, job) = match requested_job(&api, request).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let seen = last_event_id(&parts);
    if job.status.is_terminal() && seen.is_some_and(|seen| seen >= version(&job)) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let feed = Feed {
        changes: api.store.changes().listen(job.id),
        api,
        seen,
        status: None,
        watched_until: None,
        ended: false,
    };
    Sse::new(stream::unfold(feed, Feed::next))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The client's `Last-Event-ID`, if it is one of ours.
fn last_event_id(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// An event's id: when the job last changed, in microseconds.
fn version(job: &Job) -> u64 {
    job.last_updated_at.as_micros()
}

/// One client's stream.
struct Feed {
    api: Arc<Api>,
    changes: ChangeListener,
    /// The version the client has.
    seen: Option<u64>,
    /// The status of the last event sent.
    status: Option<JobStatus>,
    /// Until when other processes announce this job's changes.
    watched_until: Option<Instant>,
    ended: bool,
}

impl Feed {
    /// The next event: as soon as the job is newer than what the client
    /// has; the stream ends after the finished job.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if self.ended {
            return None;
        }
        let id = self.changes.id();
        loop {
            let now = Instant::now();
            if self
                .watched_until
                .is_none_or(|until| until.saturating_duration_since(now) < WATCH / 2)
            {
                if let Err(error) = self.api.store.watch(id, WATCH).await {
                    warn!(job.id = %id, %error, "could not watch the job; ending its event stream");
                    return None;
                }
                self.watched_until = Some(now + WATCH);
            }
            let job = match self.api.store.get(id).await {
                Ok(Some(job)) => job,
                // Gone at the end of its retention: nothing more to say.
                Ok(None) => return None,
                Err(error) => {
                    warn!(job.id = %id, %error, "could not read the job; ending its event stream");
                    return None;
                }
            };
            if is_news(self.seen, self.status, &job) {
                return Some((Ok(self.event(&job)), self));
            }
            let rewatch = self.watched_until.map(|until| until - WATCH / 2);
            tokio::select! {
                () = self.changes.changed() => {}
                () = sleep_until(rewatch) => {}
            }
        }
    }

    fn event(&mut self, job: &Job) -> Event {
        let kind = if job.status.is_terminal() {
            self.ended = true;
            "end"
        } else if self.status == Some(job.status) {
            "progress"
        } else {
            "status"
        };
        self.seen = Some(version(job));
        self.status = Some(job.status);
        let event = Event::default().event(kind).id(version(job).to_string());
        match serde_json::to_string(job) {
            Ok(data) => event.data(data),
            Err(error) => event.comment(format!("the job could not be written as JSON: {error}")),
        }
    }
}

/// Whether the client has not seen this state of the job: a newer version
/// than its `Last-Event-ID`, or (within the stream, once an event was sent)
/// any other version or status than the last event's. Versions are
/// wall-clock times: a clock that steps back must not swallow the end.
fn is_news(seen: Option<u64>, status: Option<JobStatus>, job: &Job) -> bool {
    match (seen, status) {
        (None, _) => true,
        (Some(seen), None) => version(job) > seen,
        (Some(seen), Some(status)) => version(job) != seen || job.status != status,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobId, Timestamp};

    #[test]
    fn a_clock_that_steps_back_does_not_swallow_the_end() {
        let mut job = Job::queued(JobId::new(), "x".into(), 0, Timestamp::from_micros(1_000));
        job.status = JobStatus::InProgress;
        // Within the stream: the last event was InProgress at 1000 µs.
        let (seen, status) = (Some(1_000), Some(JobStatus::InProgress));
        assert!(!is_news(seen, status, &job), "nothing new");
        job.status = JobStatus::Completed;
        job.last_updated_at = Timestamp::from_micros(900);
        assert!(is_news(seen, status, &job), "the end, stamped earlier");
        // On reconnect, only what is newer than Last-Event-ID.
        assert!(!is_news(Some(1_000), None, &job));
        assert!(is_news(Some(800), None, &job));
        assert!(is_news(None, None, &job));
    }
}
