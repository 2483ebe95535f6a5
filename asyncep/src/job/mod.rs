//! The job model: what a job is, what states it moves through, and the
//! record of each run.

mod document;
mod error;
mod id;
mod input;
mod lifecycle;
#[cfg(feature = "openapi")]
mod schema;
mod status;
mod time;

pub use document::{Attempt, Job, RawJson};
pub use error::{ErrorInfo, JobError};
pub use id::JobId;
pub use input::{Fingerprint, JobInput, TraceContext};
pub use lifecycle::{
    Applied, CANCELED, End, Event, LEASE_EXPIRED, Lifecycle, MAX_LOST_LEASES, Next, Placement,
    Refusal, Step, canceled, failure_of, lost_too_often,
};
pub use status::{AttemptStatus, JobStatus};
pub use time::Timestamp;
