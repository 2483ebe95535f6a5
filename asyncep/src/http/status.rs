//! `GET /jobs/{id}`: the job document.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::warn;

use super::{Problem, document};
use crate::job::JobId;
use crate::runtime::Shared;
use crate::store::StoreError;

pub(super) async fn status(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<JobId>() else {
        return Problem::invalid_job_id(&id).into_response();
    };
    match shared.store.get(id).await {
        Ok(Some(job)) => document(StatusCode::OK, &job),
        Ok(None) => Problem::job_not_found(id).into_response(),
        Err(error) => store_problem(&error).into_response(),
    }
}

/// The problem a store error shows to clients.
pub(super) fn store_problem(error: &StoreError) -> Problem {
    match error {
        StoreError::Full { retry_after } => Problem::store_full(*retry_after),
        StoreError::Unavailable { retry_after, .. } => {
            warn!(%error, "job store unavailable");
            Problem::store_unavailable(*retry_after)
        }
        StoreError::IdempotencyConflict { existing } => Problem::idempotency_conflict(format!(
            "the idempotency key already belongs to job {existing}, which was submitted with another endpoint, route or body; \
             use a new key for a new request"
        )),
        other => {
            warn!(error = %other, "job store error");
            Problem::internal("the job store failed")
        }
    }
}
