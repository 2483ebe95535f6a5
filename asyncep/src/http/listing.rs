//! The operator's view of a queue: `GET /jobs?name=` lists a name's jobs
//! newest first, a page at a time (`status`, `limit`, `cursor`), and
//! `DELETE /jobs?name=` purges its finished jobs, a bounded batch per
//! request. Both reach only the jobs the operator policy lets the caller
//! reach, and read the store's index by name.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::info;

use super::{Api, Problem};
use crate::caller::Caller;
use crate::job::{Job, JobId, JobStatus};
use crate::store::{ListCursor, ListQuery};

/// Jobs per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;
/// The largest `limit`.
const MAX_LIMIT: usize = 500;
/// Store pages one request reads at most, when the policy hides jobs.
const MAX_ROUNDS: usize = 10;
/// Jobs one purge request deletes at most; `more` says whether to ask again.
const PURGE_BATCH: usize = 1_000;

/// What the query string asks for.
#[derive(Debug)]
struct Asked {
    name: String,
    status: Option<JobStatus>,
    limit: usize,
    after: Option<ListCursor>,
}

impl Asked {
    fn parse(query: Option<&str>) -> Result<Self, Problem> {
        let mut asked = Self {
            name: String::new(),
            status: None,
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "name" => asked.name = value.into_owned(),
                "status" => {
                    asked.status = Some(
                        JobStatus::ALL
                            .into_iter()
                            .find(|status| status.as_str() == value)
                            .ok_or_else(|| {
                                Problem::invalid_listing(format!(
                                    "`status={value}` is not a job status; use one of \
                                     Queued, Scheduled, InProgress, Completed, Failed, Canceled"
                                ))
                            })?,
                    );
                }
                "limit" => {
                    asked.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| {
                            Problem::invalid_listing(format!(
                                "`limit={value}` must be a number from 1 to {MAX_LIMIT}"
                            ))
                        })?;
                }
                "cursor" => {
                    asked.after = Some(value.parse().map_err(|()| {
                        Problem::invalid_listing(format!(
                            "`cursor={value}` is not a cursor this listing gave"
                        ))
                    })?);
                }
                _ => {}
            }
        }
        if asked.name.is_empty() {
            return Err(Problem::invalid_listing(
                "name the job: `?name=render-report`",
            ));
        }
        // No job is named so, and PostgreSQL refuses a NUL in text.
        if asked.name.chars().any(char::is_control) {
            return Err(Problem::invalid_listing(
                "a job name holds no control characters",
            ));
        }
        Ok(asked)
    }
}

/// A page of the listing.
#[derive(Debug, Serialize)]
struct Page {
    jobs: Vec<Job>,
    /// The `cursor` of the next page; `null` at the end.
    next: Option<String>,
}

/// Up to `limit` jobs the caller may reach, from the store's pages after
/// `after`; and where the next page starts.
async fn reachable(
    api: &Api,
    caller: Option<&Caller>,
    query: ListQuery,
) -> Result<(Vec<Job>, Option<ListCursor>), Response> {
    let callers = &api.settings.callers;
    let wanted = query.limit;
    let mut query = query;
    let mut jobs = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let page = api
            .store
            .list(&query)
            .await
            .map_err(|error| Problem::from(&error).into_response())?;
        let count = page.jobs.len();
        for (index, job) in page.jobs.into_iter().enumerate() {
            let place = ListCursor::of(&job);
            if callers.may_operate(&job, caller) {
                jobs.push(job);
                if jobs.len() == wanted {
                    // Resume after this job, even within the store's page.
                    let more = index + 1 < count || page.next.is_some();
                    return Ok((jobs, more.then_some(place)));
                }
            }
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok((jobs, None)),
        }
    }
    Ok((jobs, query.after))
}

/// `GET /jobs?name=...`: `200` with `{jobs, next}`.
pub(super) async fn list(State(api): State<Arc<Api>>, request: Request) -> Response {
    let asked = match Asked::parse(request.uri().query()) {
        Ok(asked) => asked,
        Err(problem) => return problem.into_response(),
    };
    let (parts, _) = request.into_parts();
    let caller = api.settings.callers.of(&parts);
    let query = ListQuery {
        name: asked.name,
        status: asked.status,
        after: asked.after,
        limit: asked.limit,
    };
    match reachable(&api, caller.as_ref(), query).await {
        Ok((jobs, next)) => json(&Page {
            jobs,
            next: next.map(|next| next.to_string()),
        }),
        Err(refusal) => refusal,
    }
}

/// What a purge did.
#[derive(Debug, Serialize)]
struct Purged {
    purged: usize,
    /// More finished jobs may be left: ask again.
    more: bool,
}

/// `DELETE /jobs?name=...[&status=Completed|Failed|Canceled]`: deletes up
/// to [`PURGE_BATCH`] finished jobs of the name; `200` with `{purged, more}`.
pub(super) async fn purge(State(api): State<Arc<Api>>, request: Request) -> Response {
    let asked = match Asked::parse(request.uri().query()) {
        Ok(asked) => asked,
        Err(problem) => return problem.into_response(),
    };
    let statuses: Vec<JobStatus> = match asked.status {
        Some(status) if status.is_terminal() => vec![status],
        Some(status) => {
            return Problem::invalid_listing(format!(
                "`status={}` has not finished: only Completed, Failed or Canceled jobs are purged",
                status.as_str()
            ))
            .into_response();
        }
        None => vec![JobStatus::Completed, JobStatus::Failed, JobStatus::Canceled],
    };
    let (parts, _) = request.into_parts();
    let caller = api.settings.callers.of(&parts);
    let mut purged = 0;
    for status in statuses {
        let mut after = None;
        loop {
            let query = ListQuery {
                name: asked.name.clone(),
                status: Some(status),
                after,
                limit: MAX_LIMIT.min(PURGE_BATCH - purged),
            };
            let (jobs, next) = match reachable(&api, caller.as_ref(), query).await {
                Ok(found) => found,
                Err(refusal) => return refusal,
            };
            let ids: Vec<JobId> = jobs.iter().map(|job| job.id).collect();
            match api.store.delete_finished(&ids).await {
                Ok(deleted) => purged += deleted.len(),
                Err(error) => return Problem::from(&error).into_response(),
            }
            if purged >= PURGE_BATCH {
                info!(job.name = %asked.name, purged, "finished jobs purged by an operator");
                return json(&Purged { purged, more: true });
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    info!(job.name = %asked.name, purged, "finished jobs purged by an operator");
    json(&Purged {
        purged,
        more: false,
    })
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(error) => {
            Problem::internal(format!("the answer could not be written: {error}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_needs_a_name_and_valid_parameters() {
        let asked = Asked::parse(Some("name=render&status=Failed&limit=10")).unwrap();
        assert_eq!(
            (asked.name.as_str(), asked.status, asked.limit),
            ("render", Some(JobStatus::Failed), 10)
        );
        for bad in [
            "",
            "status=Failed",
            "name=x&status=Lost",
            "name=x&limit=0",
            "name=x&limit=501",
            "name=x&cursor=nope",
            "name=a%00b",
            "name=%C3%A4%2F%3D%C2%95v%F1%BE%8D%8A%5C%08",
        ] {
            assert_eq!(Asked::parse(Some(bad)).unwrap_err().status(), 400, "{bad}");
        }
        let cursor = ListCursor {
            created_at: crate::job::Timestamp::from_micros(42),
            id: JobId::new(),
        };
        let asked = Asked::parse(Some(&format!("name=x&cursor={cursor}"))).unwrap();
        assert_eq!(asked.after, Some(cursor));
    }
}
