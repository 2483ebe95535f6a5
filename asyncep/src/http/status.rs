//! `GET /jobs/{id}`: the job document.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Api, Problem, document};
use crate::job::JobId;

pub(super) async fn status(State(api): State<Arc<Api>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let id = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(params) => params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default(),
        Err(rejection) => return Problem::invalid_path(rejection.body_text()).into_response(),
    };
    let Ok(id) = id.parse::<JobId>() else {
        return Problem::invalid_job_id(&id).into_response();
    };
    let caller = api.settings.callers.of(&parts);
    match api.store.get(id).await {
        // Another caller's job reads exactly as an unknown one: no oracle.
        Ok(Some(job)) if api.settings.callers.may_read(&job, caller.as_ref()) => {
            document(StatusCode::OK, &job)
        }
        Ok(_) => Problem::job_not_found(id).into_response(),
        Err(error) => Problem::from(&error).into_response(),
    }
}
