//! How a store tells a repeated request from a new one: one pure rule that
//! the memory store runs and the Redis `create` script mirrors.

use crate::job::{Fingerprint, JobId};

/// What a store found for a new job's key and id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    /// The job the `Idempotency-Key` names, with that job's fingerprint.
    pub(crate) by_key: Option<(JobId, Option<Fingerprint>)>,
    /// The fingerprint of the job stored under the new job's id, if one is.
    pub(crate) by_id: Option<Option<Fingerprint>>,
}

/// What to do with a create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing matches: store the job.
    Create,
    /// The request repeats `job`. With `record_key`, the request's key is
    /// new and must be recorded for that job too.
    Existing { job: JobId, record_key: bool },
    /// The key or id belongs to another request.
    Conflict { job: JobId },
}

/// The rule: a key names at most one job, and a repeat must match the
/// fingerprint of the job it finds. Two jobs without a fingerprint match
/// only by id: that is a create repeated after a lost reply, since fresh
/// ids are never drawn twice.
pub(crate) fn decide(id: JobId, fingerprint: Option<Fingerprint>, found: Found) -> Decision {
    match (found.by_key, found.by_id) {
        (Some((keyed, _)), Some(_)) if keyed != id => Decision::Conflict { job: keyed },
        (Some((keyed, stored)), _) => {
            if stored.is_some() && stored == fingerprint {
                Decision::Existing {
                    job: keyed,
                    record_key: false,
                }
            } else {
                Decision::Conflict { job: keyed }
            }
        }
        (None, Some(stored)) => {
            if stored == fingerprint {
                Decision::Existing {
                    job: id,
                    record_key: true,
                }
            } else {
                Decision::Conflict { job: id }
            }
        }
        (None, None) => Decision::Create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Fingerprint = Fingerprint([1; 16]);
    const B: Fingerprint = Fingerprint([2; 16]);

    #[test]
    fn a_key_finds_its_job_if_the_request_matches() {
        let (id, other) = (JobId::new(), JobId::new());
        let found = Found {
            by_key: Some((other, Some(A))),
            by_id: None,
        };
        assert_eq!(
            decide(id, Some(A), found),
            Decision::Existing {
                job: other,
                record_key: false
            }
        );
        assert_eq!(
            decide(id, Some(B), found),
            Decision::Conflict { job: other }
        );
    }

    #[test]
    fn an_id_repeat_records_the_new_key() {
        let id = JobId::new();
        let found = Found {
            by_key: None,
            by_id: Some(Some(A)),
        };
        assert_eq!(
            decide(id, Some(A), found),
            Decision::Existing {
                job: id,
                record_key: true
            }
        );
    }

    #[test]
    fn a_key_and_an_id_naming_two_jobs_conflict() {
        let (id, other) = (JobId::new(), JobId::new());
        let found = Found {
            by_key: Some((other, Some(A))),
            by_id: Some(Some(A)),
        };
        assert_eq!(
            decide(id, Some(A), found),
            Decision::Conflict { job: other }
        );
    }

    #[test]
    fn a_lost_reply_retry_finds_its_job_but_a_guess_does_not() {
        let id = JobId::new();
        let unkeyed = Found {
            by_key: None,
            by_id: Some(None),
        };
        assert_eq!(
            decide(id, None, unkeyed),
            Decision::Existing {
                job: id,
                record_key: true
            }
        );
        assert_eq!(decide(id, Some(A), unkeyed), Decision::Conflict { job: id });
        let keyed = Found {
            by_key: None,
            by_id: Some(Some(A)),
        };
        assert_eq!(decide(id, None, keyed), Decision::Conflict { job: id });
    }
}
