use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{AttemptStatus, ErrorInfo, JobId, JobStatus, Timestamp};
use crate::caller::Caller;

/// A JSON value kept as its text: written once by the worker, never parsed or
/// re-serialized by asyncep, and shared between the job and its attempt.
#[derive(Clone)]
pub struct RawJson(Arc<RawValue>);

impl RawJson {
    /// Checks that `text` is one JSON value and keeps it.
    pub fn from_text(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text.into()).map(Self::from)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl From<Box<RawValue>> for RawJson {
    fn from(value: Box<RawValue>) -> Self {
        Self(Arc::from(value))
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::from)
    }
}

/// One run of a job's handler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// 1 for the first run, 2 for the second, ...
    pub attempt: u32,
    /// How the run ended.
    pub status: AttemptStatus,
    /// When the worker started the handler.
    pub started_at: Timestamp,
    /// When the run ended.
    pub finished_at: Timestamp,
    /// The handler's value, when the run succeeded.
    #[cfg_attr(feature = "openapi", schema(value_type = RawJson))]
    #[serde(default)]
    pub result: Option<RawJson>,
    /// Why the run failed, when it did.
    #[serde(default)]
    pub error: Option<ErrorInfo>,
}

/// A job as clients see it: the body of `202 Accepted` and of `GET /jobs/{id}`.
///
/// It is wire-compatible with the job JSON of the original AsyncEndpoints
/// (camelCase, status names in PascalCase), plus `nextAttemptAt` and
/// `attempts`. What the job was submitted with (body, headers) is kept by the
/// store but not shown here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// The endpoint's job name (`job = "..."` in the attribute).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Cow<'static, str>,
    /// Where the job is in its life.
    pub status: JobStatus,
    /// How many retries have been scheduled so far.
    pub retry_count: u32,
    /// How many retries the endpoint allows after the first attempt.
    pub max_retries: u32,
    /// When the job was accepted.
    pub created_at: Timestamp,
    /// When its first attempt started.
    pub started_at: Option<Timestamp>,
    /// When it completed or failed for good.
    pub completed_at: Option<Timestamp>,
    /// When anything about the job last changed.
    pub last_updated_at: Timestamp,
    /// When a `Scheduled` job's next attempt is due.
    pub next_attempt_at: Option<Timestamp>,
    /// The handler's value once `Completed`, as JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = RawJson))]
    pub result: Option<RawJson>,
    /// The final error once `Failed` (or `Canceled`).
    pub error: Option<ErrorInfo>,
    /// The latest progress its handler reported
    /// ([`AsyncContext::progress`](crate::AsyncContext::progress)), as JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = RawJson))]
    #[serde(default)]
    pub progress: Option<RawJson>,
    /// A cancel was asked while the job ran: its handler has been told to
    /// stop, and the job ends `Canceled`.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Every run so far, in order.
    pub attempts: Vec<Attempt>,
    /// Who submitted it. Not part of the document clients read: the HTTP
    /// layer uses it to decide who may read the job.
    #[serde(skip)]
    pub caller: Option<Caller>,
}

impl Job {
    /// A job just accepted, `Queued`, with no attempts.
    pub fn queued(id: JobId, name: Cow<'static, str>, max_retries: u32, now: Timestamp) -> Self {
        Self {
            id,
            name,
            status: JobStatus::Queued,
            retry_count: 0,
            max_retries,
            created_at: now,
            started_at: None,
            completed_at: None,
            last_updated_at: now,
            next_attempt_at: None,
            result: None,
            error: None,
            progress: None,
            cancel_requested: false,
            attempts: Vec::new(),
            caller: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_the_contract_fields_in_camel_case() {
        let mut job = Job::queued(JobId::new(), "render".into(), 3, Timestamp::from_micros(0));
        job.status = JobStatus::Completed;
        job.result = Some(RawJson::from_text("{\"pages\":2}").unwrap());
        let value = serde_json::to_value(&job).unwrap();
        for key in [
            "id",
            "name",
            "status",
            "retryCount",
            "maxRetries",
            "createdAt",
            "startedAt",
            "completedAt",
            "lastUpdatedAt",
            "nextAttemptAt",
            "result",
            "error",
            "progress",
            "cancelRequested",
            "attempts",
        ] {
            assert!(value.get(key).is_some(), "missing {key}");
        }
        assert_eq!(value["result"]["pages"], 2, "result is JSON, not a string");
        assert_eq!(value["startedAt"], serde_json::Value::Null);
    }

    #[test]
    fn round_trips_through_json() {
        let mut job = Job::queued(JobId::new(), "render".into(), 1, Timestamp::now());
        job.attempts.push(Attempt {
            attempt: 1,
            status: AttemptStatus::Failed,
            started_at: Timestamp::now(),
            finished_at: Timestamp::now(),
            result: None,
            error: Some(ErrorInfo::new("x", "y")),
        });
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
    }
}
