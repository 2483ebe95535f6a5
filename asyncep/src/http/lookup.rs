//! The job a job route names, if the caller may see it: the one lookup the
//! status, cancel and event routes share.

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::{Api, Problem};
use crate::job::{Job, JobId};

/// The job a job route's request names, as the store has it now, with the
/// request's parts; or the answer to a bad id, an unknown job, another
/// caller's job, or a store that failed.
pub(super) async fn requested_job(api: &Api, request: Request) -> Result<(Parts, Job), Response> {
    found_job(api, request, Access::Read).await
}

/// The same for the operator's routes, under the operator policy.
pub(super) async fn operated_job(api: &Api, request: Request) -> Result<(Parts, Job), Response> {
    found_job(api, request, Access::Operate).await
}

/// Which policy decides whether the caller reaches a job.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Operate,
}

async fn found_job(api: &Api, request: Request, access: Access) -> Result<(Parts, Job), Response> {
    let (mut parts, _) = request.into_parts();
    let id = job_id(&mut parts).await?;
    let job = reachable_job(api, &parts, id, access).await?;
    Ok((parts, job))
}

/// The id in the route's path, or the problem that answers a bad one.
async fn job_id(parts: &mut Parts) -> Result<JobId, Response> {
    let text = match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default(),
        Err(rejection) => return Err(Problem::invalid_path(rejection.body_text()).into_response()),
    };
    text.parse()
        .map_err(|_| Problem::invalid_job_id(&text).into_response())
}

/// The job `id` as the store has it now, if the request's caller may reach
/// it. Another caller's job reads exactly as an unknown one: no oracle.
async fn reachable_job(
    api: &Api,
    parts: &Parts,
    id: JobId,
    access: Access,
) -> Result<Job, Response> {
    let callers = &api.settings.callers;
    let caller = callers.of(parts);
    let reaches = |job: &Job| match access {
        Access::Read => callers.may_read(job, caller.as_ref()),
        Access::Operate => callers.may_operate(job, caller.as_ref()),
    };
    match api.store.get(id).await {
        Ok(Some(job)) if reaches(&job) => Ok(job),
        Ok(_) => Err(Problem::job_not_found(id).into_response()),
        Err(error) => Err(Problem::from(&error).into_response()),
    }
}
