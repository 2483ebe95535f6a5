use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::JobBody;
use super::submission::{header_map, query_map};
use crate::caller::Caller;
use crate::context::{AsyncContext, FromStates, States};
use crate::job::{ErrorInfo, JobError, JobId, JobInput};

/// One run of a job, as the worker hands it to the generated runner.
#[derive(Debug)]
pub struct Run {
    pub(crate) input: Arc<JobInput>,
    pub(crate) job_id: JobId,
    pub(crate) job_name: &'static str,
    pub(crate) attempt: u32,
    pub(crate) fencing_token: u64,
    pub(crate) caller: Option<Caller>,
    pub(crate) cancellation: CancellationToken,
    pub(crate) states: States,
    pub(crate) progress: crate::progress::ProgressSink,
}

impl Run {
    /// The handler's context. A stored body that no longer decodes (the
    /// body type changed between deployments) fails the job for good.
    pub fn context<T: JobBody>(&self) -> Result<AsyncContext<T>, JobError> {
        let input = &self.input;
        let request = T::decode(input.body.as_deref()).map_err(|error| {
            JobError::permanent(format!("the stored request no longer decodes: {error}"))
                .with_code(ErrorInfo::INVALID_INPUT)
        })?;
        Ok(AsyncContext::new(
            request,
            header_map(input.headers.iter().cloned()),
            input.route_params.iter().cloned().collect(),
            query_map(input.query.as_deref()),
            self.job_id,
            self.job_name,
            self.attempt,
            self.fencing_token,
            self.caller.clone(),
            self.cancellation.clone(),
            self.states.clone(),
        )
        .with_progress(self.progress.clone()))
    }

    /// A handler's extra argument, such as [`State<S>`](crate::State).
    pub fn argument<A: FromStates>(&self) -> Result<A, JobError> {
        A::from_states(&self.states).ok_or_else(|| {
            JobError::permanent(format!(
                "the runtime has no state of type `{}`",
                A::requirement().map_or("?", |r| r.type_name)
            ))
            .with_code("missing_state")
        })
    }
}
