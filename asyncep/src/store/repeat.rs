//! How a store tells a repeated request from a new one: one pure rule that
//! the memory store runs and the Redis `create` script mirrors. Keys are
//! scoped to their caller; a job id is global, but belongs to one caller.

use crate::caller::Caller;
use crate::job::{Fingerprint, JobId};

/// What a store found for a new job's key and id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    /// The job the caller's `Idempotency-Key` names, with its fingerprint.
    pub(crate) by_key: Option<(JobId, Option<Fingerprint>)>,
    /// The job stored under the new job's id, if one is: its fingerprint,
    /// and whether it belongs to the same caller.
    pub(crate) by_id: Option<(Option<Fingerprint>, bool)>,
}

/// An idempotency key as the stores file it: scoped to its caller, so two
/// callers' equal keys never meet. The scope is `-` with no caller, else a
/// digest of the caller's name (32 hex digits), so a caller's name needs no
/// escaping in a Redis key or in a job's list of keys.
pub(crate) fn scoped_key(caller: Option<&Caller>, key: &str) -> String {
    use sha2::{Digest, Sha256};
    match caller {
        None => format!("-:{key}"),
        Some(caller) => {
            let digest = Sha256::digest(caller.as_str().as_bytes());
            let scope: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("{scope}:{key}")
        }
    }
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
    /// The client-chosen id belongs to another caller's job.
    Taken,
}

/// The rule: a key names at most one job, and a repeat must match the
/// fingerprint of the job it finds. Two jobs without a fingerprint match
/// only by id: that is a create repeated after a lost reply, since fresh
/// ids are never drawn twice.
pub(crate) fn decide(id: JobId, fingerprint: Option<Fingerprint>, found: Found) -> Decision {
    if let Some((_, false)) = found.by_id {
        return Decision::Taken;
    }
    match (
        found.by_key,
        found.by_id.map(|(fingerprint, _)| fingerprint),
    ) {
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
    fn an_id_of_another_callers_job_is_taken() {
        let found = Found {
            by_key: None,
            by_id: Some((Some(A), false)),
        };
        assert_eq!(decide(JobId::new(), Some(A), found), Decision::Taken);
    }

    #[test]
    fn keys_are_scoped_to_their_caller() {
        let a = Caller::new("a");
        assert_ne!(scoped_key(Some(&a), "k"), scoped_key(None, "k"));
        assert_ne!(
            scoped_key(Some(&a), "k"),
            scoped_key(Some(&Caller::new("b")), "k")
        );
        assert_eq!(scoped_key(None, "k"), "-:k");
        let scoped = scoped_key(Some(&Caller::new("tenant\nwith:odd name")), "k");
        assert!(scoped.ends_with(":k") && scoped.len() == 34 && !scoped.contains('\n'));
    }

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
            by_id: Some((Some(A), true)),
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
            by_id: Some((Some(A), true)),
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
            by_id: Some((None, true)),
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
            by_id: Some((Some(A), true)),
        };
        assert_eq!(decide(id, None, keyed), Decision::Conflict { job: id });
    }
}
