//! Reading Redis' answers: what an error means for the caller, and the
//! jobs of a claim's reply.

use std::sync::Arc;
use std::time::Duration;

use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

use super::{Inner, UNAVAILABLE_RETRY_AFTER};
use crate::caller::Caller;
use crate::job::JobId;
use crate::store::{ClaimedJob, Lease, StoreError};

impl Inner {
    /// What a Redis error means for the caller.
    pub(super) fn error(&self, error: RedisError) -> StoreError {
        classify(error)
    }
}

/// What a Redis error means for the caller: nothing was sent (refused, no
/// connection), the outcome is unknown (the request may have run: a timeout
/// or a connection dropped mid-request), or an answer asyncep did not write.
pub(super) fn classify(error: RedisError) -> StoreError {
    // A Redis at its maxmemory with `noeviction` refuses writes: the store
    // is full, as asyncep's own budget would say.
    if error.code() == Some("OOM") {
        return StoreError::Full {
            retry_after: UNAVAILABLE_RETRY_AFTER,
        };
    }
    let source = Box::new(error);
    let error = source.as_ref();
    if matches!(
        error.kind(),
        ErrorKind::Parse
            | ErrorKind::UnexpectedReturnType
            | ErrorKind::Server(ServerErrorKind::ResponseError)
    ) {
        StoreError::Corrupt(error.to_string())
    } else if !error.is_connection_refusal()
        && (error.is_timeout() || error.is_connection_dropped())
    {
        StoreError::OutcomeUnknown {
            retry_after: UNAVAILABLE_RETRY_AFTER,
            source,
        }
    } else {
        StoreError::Unavailable {
            retry_after: UNAVAILABLE_RETRY_AFTER,
            source,
        }
    }
}

pub(super) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One job of `claim.lua`'s reply.
pub(super) fn claimed_job(fields: &[Value]) -> Result<ClaimedJob, StoreError> {
    let field = |index: usize| fields.get(index).and_then(text).unwrap_or_default();
    let corrupt = |what: &str| StoreError::Corrupt(format!("claim answered {what}"));
    let number = |index: usize| {
        field(index)
            .parse::<u64>()
            .map_err(|_| corrupt("a bad number"))
    };
    let id: JobId = field(0).parse().map_err(|_| corrupt("a bad id"))?;
    let input = serde_json::from_str(&field(5))
        .map_err(|e| StoreError::Corrupt(format!("job {id}: the input is not readable: {e}")))?;
    Ok(ClaimedJob {
        id,
        name: field(2).into(),
        attempt: number(6)? as u32 + 1,
        retry_count: number(3)? as u32,
        max_retries: number(4)? as u32,
        input: Arc::new(input),
        caller: decode_caller(&field(8)),
        lease: Lease {
            job_id: id,
            token: number(1)?,
            ttl: Duration::from_micros(number(7)?),
        },
        waited: Duration::from_micros(number(9)?),
    })
}

/// The caller as the job hash keeps it: `''` for none, `=name` for one.
pub(super) fn encode_caller(caller: Option<&Caller>) -> String {
    caller.map_or_else(String::new, |caller| format!("={caller}"))
}

/// The caller from the job hash's `cr` field.
pub(super) fn decode_caller(field: &str) -> Option<Caller> {
    field.strip_prefix('=').map(Caller::new)
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn io_error(kind: io::ErrorKind) -> RedisError {
        RedisError::from(io::Error::new(kind, "test"))
    }

    #[test]
    fn a_refusal_sent_nothing_and_a_drop_or_timeout_may_have_run() {
        assert!(matches!(
            classify(io_error(io::ErrorKind::ConnectionRefused)),
            StoreError::Unavailable { .. }
        ));
        for kind in [
            io::ErrorKind::TimedOut,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
        ] {
            assert!(
                matches!(classify(io_error(kind)), StoreError::OutcomeUnknown { .. }),
                "{kind:?}"
            );
        }
        let answer = RedisError::from((ErrorKind::Server(ServerErrorKind::ResponseError), "ERR x"));
        assert!(matches!(classify(answer), StoreError::Corrupt(_)));
    }
}
