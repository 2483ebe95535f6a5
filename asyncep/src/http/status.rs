//! `GET /jobs/{id}`: the job document.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Problem, document};
use crate::job::JobId;
use crate::runtime::Shared;

pub(super) async fn status(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<JobId>() else {
        return Problem::invalid_job_id(&id).into_response();
    };
    match shared.store.get(id).await {
        Ok(Some(job)) => document(StatusCode::OK, &job),
        Ok(None) => Problem::job_not_found(id).into_response(),
        Err(error) => Problem::from(&error).into_response(),
    }
}
