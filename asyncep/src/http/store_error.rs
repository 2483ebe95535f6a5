//! The problem each store error shows to clients.

use tracing::warn;

use super::Problem;
use crate::store::StoreError;

impl From<&StoreError> for Problem {
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::Full { retry_after } => Problem::store_full(*retry_after),
            StoreError::Unavailable { retry_after, .. } => {
                warn!(%error, "job store unavailable");
                Problem::store_unavailable(*retry_after)
            }
            StoreError::OutcomeUnknown { retry_after, .. } => {
                warn!(%error, "job store outcome unknown");
                Problem::store_unavailable(*retry_after)
            }
            StoreError::IdempotencyConflict { .. } => Problem::idempotency_conflict(
                "the idempotency key or request id was already used for another request \
                 (another endpoint, route, query or body); use a new key for a new request",
            ),
            StoreError::IdTaken => Problem::request_id_taken(),
            other => {
                warn!(error = %other, "job store error");
                Problem::internal("the job store failed")
            }
        }
    }
}
