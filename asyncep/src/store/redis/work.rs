//! The worker's scripts: the claim, the finish, and a worker's turn, which
//! sends both in one pipeline (one round trip), each script as atomic as
//! alone.

use std::time::Duration;

use redis::{ScriptInvocation, Value};

use super::reply::{claimed_job, micros, millis, text};
use super::{RedisStore, report_vanished, scripts};
use crate::job::{JobId, Next, failure_of};
use crate::store::record::{StoredRun, step_of};
use crate::store::{ClaimRequest, Claimed, FinishedAndClaimed, Lease, Outcome, StoreError};

/// A finish's arguments, written once and sent as often as needed.
pub(super) struct FinishScript {
    keys: [String; 3],
    args: Vec<String>,
}

impl FinishScript {
    pub(super) fn invocation(&self) -> ScriptInvocation<'static> {
        let mut invocation = scripts::FINISH.prepare_invoke();
        for key in &self.keys {
            invocation.key(key);
        }
        for arg in &self.args {
            invocation.arg(arg);
        }
        invocation
    }
}

impl RedisStore {
    /// The claim script for `request`; `repeat` when it repeats a claim
    /// whose reply was lost.
    pub(super) fn claim_script(
        &self,
        request: &ClaimRequest,
        repeat: bool,
    ) -> ScriptInvocation<'static> {
        let keys = &self.inner.keys;
        let mut invocation = scripts::CLAIM.prepare_invoke();
        invocation.key(keys.running()).key(keys.tokens());
        for name in request.names.iter() {
            invocation.key(keys.queue(name)).key(keys.scheduled(name));
        }
        invocation
            .arg(micros(request.lease))
            .arg(keys.prefix())
            .arg(request.limit)
            .arg(keys.wake())
            .arg(format!("{:032x}", request.id.0))
            .arg(if repeat || request.repeat { "1" } else { "0" })
            .arg(millis(self.inner.retention.failed))
            .arg(if self.inner.recovery.due(request.lease) {
                "1"
            } else {
                "0"
            });
        invocation
    }

    /// The finish script's arguments for `outcome` under `lease`.
    pub(super) fn finish_script(
        &self,
        lease: &Lease,
        outcome: Outcome,
    ) -> Result<FinishScript, StoreError> {
        let keys = &self.inner.keys;
        let id = lease.job_id;
        let Outcome { attempt, next } = outcome;
        let result = attempt
            .result
            .as_ref()
            .map(|r| r.get().to_owned())
            .unwrap_or_default();
        let error = match (&attempt.error, next) {
            (Some(error), _) => Some(error.clone()),
            // The job's error when it fails, as Lifecycle::apply writes it.
            (None, Next::Fail) => Some(failure_of(&attempt)),
            (None, _) => None,
        };
        let error = match error {
            Some(error) => {
                serde_json::to_string(&error).map_err(|e| StoreError::Corrupt(e.to_string()))?
            }
            None => String::new(),
        };
        // A completing attempt's result is kept once, in the job (`r`).
        let record = serde_json::to_string(
            &StoredRun::from(&attempt).without_result_if(next == Next::Complete),
        )
        .map_err(|e| StoreError::Corrupt(format!("the attempt cannot be written: {e}")))?;
        let (step, delay) = step_of(next);
        let retention = self.inner.retention;
        Ok(FinishScript {
            keys: [keys.job(id), keys.attempts(id), keys.running()],
            args: vec![
                lease.token.to_string(),
                step.to_owned(),
                record,
                result,
                error,
                micros(delay).to_string(),
                id.to_string(),
                millis(retention.completed).to_string(),
                millis(retention.failed).to_string(),
                keys.prefix().to_owned(),
                keys.wake(),
            ],
        })
    }

    /// A worker's turn: the finish and the next claim in one pipeline,
    /// whose two replies are read apart (an error of one does not hide the
    /// other's answer). A pipeline does not load a script Redis lost (a
    /// restart, `SCRIPT FLUSH`); then that one goes again alone, which
    /// loads it: the finish first, and the claim only if the finish did
    /// not fail for a blink of the store (its job would wait, unrenewed,
    /// while the finish is tried again).
    pub(super) async fn turn(
        &self,
        lease: &Lease,
        outcome: Outcome,
        next: &ClaimRequest,
    ) -> FinishedAndClaimed {
        let finish = match self.finish_script(lease, outcome.clone()) {
            Ok(finish) => finish,
            Err(error) => {
                return FinishedAndClaimed {
                    finished: Err(error),
                    claimed: Some(crate::store::JobStore::claim(self, next).await),
                };
            }
        };
        let mut connection = match self.connection().await {
            Ok(connection) => connection,
            Err(error) => {
                return FinishedAndClaimed {
                    finished: Err(error),
                    claimed: None,
                };
            }
        };
        let sent: redis::RedisResult<Vec<Value>> = redis::pipe()
            .ignore_errors()
            .invoke_script(&finish.invocation())
            .invoke_script(&self.claim_script(next, false))
            .query_async(&mut connection)
            .await;
        match sent {
            Ok(replies) => {
                let mut replies = replies.into_iter();
                let finished = match Reply::of(replies.next()) {
                    Reply::NoScript => crate::store::JobStore::finish(self, lease, outcome).await,
                    Reply::Value(done) => redis::from_redis_value::<u8>(done)
                        .map_err(|error| self.inner.error(error.into()))
                        .and_then(|done| self::finished(done, lease.job_id)),
                    Reply::Failed(error) => Err(self.inner.error(error)),
                };
                let claimed = match Reply::of(replies.next()) {
                    Reply::NoScript => match &finished {
                        Err(error) if error.is_transient() => None,
                        _ => Some(crate::store::JobStore::claim(self, next).await),
                    },
                    Reply::Value(Value::Array(claimed)) => Some(self::claimed(claimed)),
                    Reply::Value(other) => Some(Err(StoreError::Corrupt(format!(
                        "claim answered {other:?}"
                    )))),
                    Reply::Failed(error) => Some(Err(self.inner.error(error))),
                };
                FinishedAndClaimed {
                    claimed: held_back(&finished, claimed),
                    finished,
                }
            }
            Err(error) => match self.inner.error(error) {
                // Nothing was sent: no claim was made.
                error @ StoreError::Unavailable { .. } => FinishedAndClaimed {
                    finished: Err(error),
                    claimed: None,
                },
                // Either may have run: the claim is repeated under its id.
                error => FinishedAndClaimed {
                    finished: Err(error),
                    claimed: Some(Err(StoreError::OutcomeUnknown {
                        retry_after: Duration::from_secs(1),
                        source: "the claim's reply was lost with the finish's".into(),
                    })),
                },
            },
        }
    }
}

/// A claim that ran beside a finish that must be tried again (its script
/// was lost, then Redis blinked) is answered as unknown: the worker repeats
/// it once the finish is recorded, and finds the jobs whose lease still
/// holds, rather than hold them unrenewed while it tries.
fn held_back(
    finished: &Result<(), StoreError>,
    claimed: Option<Result<Claimed, StoreError>>,
) -> Option<Result<Claimed, StoreError>> {
    match claimed {
        Some(Ok(taken)) if finished.as_ref().is_err_and(StoreError::is_transient) => {
            drop(taken);
            Some(Err(StoreError::OutcomeUnknown {
                retry_after: Duration::from_secs(1),
                source: "the claim is held back until the finish beside it is recorded".into(),
            }))
        }
        claimed => claimed,
    }
}

/// One reply of a pipeline sent with `ignore_errors`.
enum Reply {
    Value(Value),
    /// Redis no longer has the script: it did not run.
    NoScript,
    Failed(redis::RedisError),
}

impl Reply {
    fn of(reply: Option<Value>) -> Self {
        match reply {
            Some(Value::ServerError(error))
                if error.kind() == Some(redis::ServerErrorKind::NoScript) =>
            {
                Self::NoScript
            }
            Some(Value::ServerError(error)) => Self::Failed(error.into()),
            Some(value) => Self::Value(value),
            None => Self::Failed(redis::RedisError::from((
                redis::ErrorKind::Client,
                "a pipeline answered fewer replies than it was sent commands",
            ))),
        }
    }
}

/// What the finish script's answer means.
pub(super) fn finished(done: u8, id: JobId) -> Result<(), StoreError> {
    match done {
        1 | 2 => Ok(()),
        _ => Err(StoreError::LeaseLost { id }),
    }
}

/// The claim script's answer: the next due time, jobs that vanished, and
/// the jobs taken.
pub(super) fn claimed(reply: Vec<Value>) -> Result<Claimed, StoreError> {
    let mut reply = reply.into_iter();
    let next_due = reply
        .next()
        .as_ref()
        .and_then(text)
        .and_then(|due| due.parse().ok())
        .map(Duration::from_micros);
    if let Some(Value::Array(vanished)) = reply.next() {
        report_vanished(&vanished.iter().filter_map(text).collect::<Vec<_>>());
    }
    let mut jobs = reply
        .map(|job| match job {
            Value::Array(fields) => claimed_job(&fields),
            other => Err(StoreError::Corrupt(format!("claim answered {other:?}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Oldest claim first (a repeat finds them in the order of expiry).
    jobs.sort_by_key(|job| job.lease.token);
    Ok(Claimed { jobs, next_due })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> StoreError {
        StoreError::Unavailable {
            retry_after: Duration::from_secs(1),
            source: "down".into(),
        }
    }

    #[test]
    fn a_claim_beside_a_finish_to_try_again_is_held_back() {
        let held = held_back(&Err(unavailable()), Some(Ok(Claimed::default())));
        assert!(
            matches!(held, Some(Err(StoreError::OutcomeUnknown { .. }))),
            "{held:?}"
        );
    }

    #[test]
    fn a_claim_beside_a_recorded_or_refused_finish_is_kept() {
        let lost = StoreError::LeaseLost { id: JobId::new() };
        for finished in [Ok(()), Err(lost)] {
            let kept = held_back(&finished, Some(Ok(Claimed::default())));
            assert!(matches!(kept, Some(Ok(_))), "{kept:?}");
        }
        assert!(held_back(&Err(unavailable()), None).is_none());
    }
}
