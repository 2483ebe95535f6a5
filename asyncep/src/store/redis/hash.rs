//! A job as the Redis scripts keep it: a hash of short fields, read back
//! into the job document.

use crate::job::{ErrorInfo, Job, JobId, JobStatus, RawJson, Timestamp};
use crate::store::StoreError;
use crate::store::record::{decode_attempts, parse_status, share_result};

/// Rebuilds the job document from its hash fields and attempt records.
pub(crate) fn decode_job(
    id: JobId,
    fields: Vec<String>,
    attempts: Vec<String>,
) -> Result<Job, StoreError> {
    let mut map: std::collections::HashMap<String, String> =
        std::collections::HashMap::with_capacity(fields.len() / 2);
    let mut pairs = fields.into_iter();
    while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
        map.insert(name, value);
    }
    let corrupt = |what: &str| StoreError::Corrupt(format!("job {id}: {what}"));
    let text = |name: &str| map.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let number = |name: &str| -> Result<Option<u64>, StoreError> {
        text(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| corrupt(&format!("field `{name}` is not a number")))
            })
            .transpose()
    };
    let time = |name: &str| number(name).map(|v| v.map(Timestamp::from_micros));
    let required =
        |name: &str| time(name)?.ok_or_else(|| corrupt(&format!("field `{name}` is missing")));
    let status = parse_status(text("s").ok_or_else(|| corrupt("no status"))?)
        .ok_or_else(|| corrupt("unknown status"))?;
    let result = text("r")
        .map(RawJson::from_text)
        .transpose()
        .map_err(|e| corrupt(&format!("result is not JSON: {e}")))?;
    let error = text("e")
        .map(serde_json::from_str::<ErrorInfo>)
        .transpose()
        .map_err(|e| corrupt(&format!("error is not JSON: {e}")))?;
    let attempts = decode_attempts(id, &attempts)?;
    let mut attempts = attempts;
    if status == JobStatus::Completed {
        share_result(&mut attempts, result.as_ref());
    }
    Ok(Job {
        id,
        name: text("n")
            .ok_or_else(|| corrupt("no name"))?
            .to_owned()
            .into(),
        status,
        retry_count: number("rc")?.unwrap_or(0) as u32,
        max_retries: number("mr")?.unwrap_or(0) as u32,
        created_at: required("ca")?,
        started_at: time("sa")?,
        completed_at: time("co")?,
        last_updated_at: required("lu")?,
        next_attempt_at: time("na")?,
        result,
        error,
        progress: text("p")
            .map(RawJson::from_text)
            .transpose()
            .map_err(|e| corrupt(&format!("progress is not JSON: {e}")))?,
        cancel_requested: text("cq") == Some("1"),
        attempts,
        caller: text("cr")
            .and_then(|field| field.strip_prefix('=').map(crate::caller::Caller::new)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Attempt, AttemptStatus};
    use crate::store::record::StoredAttempt;

    fn fields(pairs: &[(&str, &str)]) -> Vec<String> {
        pairs
            .iter()
            .flat_map(|(k, v)| [(*k).to_owned(), (*v).to_owned()])
            .collect()
    }

    #[test]
    fn decodes_a_completed_job_with_its_attempts() {
        let id = JobId::new();
        let attempt = r#"{"attempt":1,"status":"Succeeded","startedAt":5,"finishedAt":6,"result":{"a":1},"error":null}"#;
        let job = decode_job(
            id,
            fields(&[
                ("n", "render"),
                ("s", "Completed"),
                ("rc", "0"),
                ("mr", "3"),
                ("ca", "1"),
                ("lu", "7"),
                ("sa", "5"),
                ("co", "7"),
                ("na", ""),
                ("r", "{\"a\":1}"),
            ]),
            vec![attempt.to_owned()],
        )
        .unwrap();
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.result.unwrap().get(), "{\"a\":1}");
        assert_eq!(job.next_attempt_at, None);
        assert_eq!(job.attempts[0].finished_at, Timestamp::from_micros(6));
    }

    #[test]
    fn lua_written_interruptions_decode() {
        let record = r#"{"attempt":2,"status":"Interrupted","startedAt":1763800000123456,"finishedAt":1763800000999999,"result":null,"error":{"code":"interrupted","message":"m"}}"#;
        let attempt: Attempt = serde_json::from_str::<StoredAttempt>(record)
            .unwrap()
            .into();
        assert_eq!(attempt.status, AttemptStatus::Interrupted);
        assert_eq!(attempt.started_at.as_micros(), 1_763_800_000_123_456);
    }

    #[test]
    fn a_broken_hash_is_corrupt_not_a_panic() {
        let error =
            decode_job(JobId::new(), fields(&[("n", "x"), ("s", "Weird")]), vec![]).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)));
    }
}
