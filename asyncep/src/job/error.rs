use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The error a job ends with, as shown in the job document and in each
/// failed attempt: a short machine-readable `code` and a human `message`.
///
/// It never holds a stack trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorInfo {
    /// A stable, machine-readable code such as `handler_error` or `timeout`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: Cow<'static, str>,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorInfo {
    /// The code of an error returned by a handler that chose no code.
    pub const HANDLER_ERROR: &'static str = "handler_error";
    /// The code of an attempt that ran past its timeout.
    pub const TIMEOUT: &'static str = "timeout";
    /// The code of an attempt whose handler panicked.
    pub const PANIC: &'static str = "panic";
    /// The code of an attempt cut short by a shutdown or a lost worker.
    pub const INTERRUPTED: &'static str = "interrupted";
    /// The code of a canceled job's error.
    pub const CANCELED: &'static str = "canceled";
    /// The code of an attempt whose result was larger than the limit.
    pub const RESULT_TOO_LARGE: &'static str = "result_too_large";
    /// The code of a job whose stored input no longer decodes.
    pub const INVALID_INPUT: &'static str = "invalid_input";

    /// An error with a code and a message.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The error type handlers may return to control retries.
///
/// Any `Result<R, E>` with `E: Display` works as a handler's return type, and
/// every such error is retried. Return a `JobError` to choose:
///
/// ```
/// use asyncep::JobError;
///
/// fn check(rows: usize) -> Result<(), JobError> {
///     if rows == 0 {
///         // No retry will find rows that are not there.
///         return Err(JobError::permanent("the report has no rows").with_code("empty_report"));
///     }
///     Ok(())
/// }
/// assert!(check(0).unwrap_err().is_permanent());
/// ```
///
/// Like `anyhow::Error`, every `std::error::Error` converts into a
/// (retryable) `JobError`, so `?` works on I/O, parse and client errors.
pub struct JobError {
    info: ErrorInfo,
    permanent: bool,
}

impl JobError {
    /// An error worth retrying (a timeout of a service the job calls, say).
    pub fn retryable(message: impl fmt::Display) -> Self {
        Self {
            info: ErrorInfo::new(ErrorInfo::HANDLER_ERROR, message.to_string()),
            permanent: false,
        }
    }

    /// An error no retry can mend: the job fails at once.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self {
            permanent: true,
            ..Self::retryable(message)
        }
    }

    /// Sets the machine-readable code shown in the job's `error.code`.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.info.code = code.into();
        self
    }

    /// Whether the job should fail without further retries.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.info.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.info.message
    }

    /// The code and message, as stored with the job.
    pub fn into_info(self) -> ErrorInfo {
        self.info
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.info.message)
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobError")
            .field("code", &self.info.code)
            .field("message", &self.info.message)
            .field("permanent", &self.permanent)
            .finish()
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(error: E) -> Self {
        Self::retryable(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_convert_into_retryable_errors() {
        fn parse(text: &str) -> Result<u32, JobError> {
            Ok(text.parse::<u32>()?)
        }
        let error = parse("x").unwrap_err();
        assert!(!error.is_permanent());
        assert_eq!(error.code(), ErrorInfo::HANDLER_ERROR);
        assert_eq!(error.message(), "invalid digit found in string");
    }

    #[test]
    fn permanent_errors_keep_their_code() {
        let error = JobError::permanent("gone").with_code("not_found");
        assert!(error.is_permanent());
        assert_eq!(error.to_string(), "gone");
        assert_eq!(error.into_info(), ErrorInfo::new("not_found", "gone"));
    }
}
