//! Who is asking: the [`Caller`] of a request, and who may read which job.

use std::fmt;
use std::sync::Arc;

use axum::http::request::Parts;

use crate::caller::Caller;
use crate::job::Job;

/// Derives the caller from a request when no layer put one in its
/// extensions.
pub(crate) type DeriveCaller = Arc<dyn Fn(&Parts) -> Option<Caller> + Send + Sync>;

/// Decides whether `caller` may read `job`.
pub(crate) type ReadPolicy = Arc<dyn Fn(&Job, Option<&Caller>) -> bool + Send + Sync>;

/// How the HTTP layer finds the caller and decides who reads what.
#[derive(Clone, Default)]
pub(crate) struct Callers {
    pub(crate) derive: Option<DeriveCaller>,
    pub(crate) policy: Option<ReadPolicy>,
    /// What the operator's routes may reach; the read policy when `None`.
    pub(crate) operator: Option<ReadPolicy>,
}

impl fmt::Debug for Callers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callers")
            .field("derive", &self.derive.is_some())
            .field("policy", &self.policy.is_some())
            .field("operator", &self.operator.is_some())
            .finish()
    }
}

impl Callers {
    /// The request's caller: the one a layer put in its extensions, else
    /// the one the builder's function derives, else none.
    pub(crate) fn of(&self, parts: &Parts) -> Option<Caller> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .or_else(|| self.derive.as_ref().and_then(|derive| derive(parts)))
    }

    /// Whether `caller` may read `job`: by default, only the caller that
    /// submitted it (no caller reads only jobs submitted with none).
    pub(crate) fn may_read(&self, job: &Job, caller: Option<&Caller>) -> bool {
        match &self.policy {
            Some(policy) => policy(job, caller),
            None => job.caller.as_ref() == caller,
        }
    }

    /// Whether the operator's routes may reach `job` for `caller`.
    pub(crate) fn may_operate(&self, job: &Job, caller: Option<&Caller>) -> bool {
        match &self.operator {
            Some(policy) => policy(job, caller),
            None => self.may_read(job, caller),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobId, Timestamp};

    fn job(caller: Option<&str>) -> Job {
        let mut job = Job::queued(JobId::new(), "t".into(), 0, Timestamp::now());
        job.caller = caller.map(Caller::new);
        job
    }

    #[test]
    fn only_the_submitter_reads_by_default() {
        let callers = Callers::default();
        let a = Caller::new("a");
        assert!(callers.may_read(&job(Some("a")), Some(&a)));
        assert!(!callers.may_read(&job(Some("b")), Some(&a)));
        assert!(!callers.may_read(&job(Some("a")), None));
        assert!(!callers.may_read(&job(None), Some(&a)));
        assert!(callers.may_read(&job(None), None));
    }

    #[test]
    fn a_policy_can_let_an_admin_read_all() {
        let callers = Callers {
            policy: Some(Arc::new(|job: &Job, caller: Option<&Caller>| {
                caller.is_some_and(|c| c.as_str() == "admin") || job.caller.as_ref() == caller
            })),
            ..Callers::default()
        };
        assert!(callers.may_read(&job(Some("b")), Some(&Caller::new("admin"))));
        assert!(!callers.may_read(&job(Some("b")), Some(&Caller::new("a"))));
    }
}
