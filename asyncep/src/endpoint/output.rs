use std::any::Any;
use std::fmt::Display;

use serde::Serialize;

use crate::job::{JobError, RawJson};

/// What a handler returns: `Result<R, E>` with `R: Serialize` and
/// `E: Display` (`String`, `anyhow::Error`, a thiserror enum, or
/// [`JobError`] to control retries).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the return type of an async endpoint",
    note = "an async endpoint returns `Result<R, E>` where `R: serde::Serialize + Send` and `E: std::fmt::Display + Send` (or `asyncep::JobError`)"
)]
pub trait HandlerOutput: Send + 'static {
    /// The value as JSON, or the error to record.
    fn into_outcome(self) -> Result<RawJson, JobError>;
}

impl<R, E> HandlerOutput for Result<R, E>
where
    R: Serialize + Send + 'static,
    E: Display + Send + 'static,
{
    fn into_outcome(self) -> Result<RawJson, JobError> {
        match self {
            Ok(value) => serde_json::value::to_raw_value(&value)
                .map(RawJson::from)
                .map_err(|error| {
                    JobError::permanent(format!(
                        "the handler's value cannot be written as JSON: {error}"
                    ))
                    .with_code("invalid_result")
                }),
            Err(error) => Err(into_job_error(error)),
        }
    }
}

/// A `JobError` stays as it is (permanent or not); any other error becomes a
/// retryable one with its `Display` text.
fn into_job_error<E: Display + 'static>(error: E) -> JobError {
    let mut slot = Some(error);
    if let Some(job_error) = (&mut slot as &mut dyn Any).downcast_mut::<Option<JobError>>() {
        if let Some(job_error) = job_error.take() {
            return job_error;
        }
    }
    match slot {
        Some(error) => JobError::retryable(error),
        None => JobError::retryable("unknown error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json() {
        let out: Result<Vec<u32>, String> = Ok(vec![1, 2]);
        assert_eq!(out.into_outcome().unwrap().get(), "[1,2]");
    }

    #[test]
    fn display_errors_are_retryable() {
        let out: Result<(), String> = Err("flaky".into());
        let error = out.into_outcome().unwrap_err();
        assert!(!error.is_permanent());
        assert_eq!(error.message(), "flaky");
    }

    #[test]
    fn job_errors_keep_their_kind() {
        let out: Result<(), JobError> = Err(JobError::permanent("no").with_code("nope"));
        let error = out.into_outcome().unwrap_err();
        assert!(error.is_permanent());
        assert_eq!(error.code(), "nope");
    }
}
