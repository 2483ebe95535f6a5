//! The key layout of one deployment. Every key starts with the prefix, whose
//! `{hash tag}` puts them all in one Redis Cluster slot, so the scripts'
//! multi-key steps stay atomic there too.

use crate::job::JobId;

/// The names of a deployment's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// `asyncep` becomes `{asyncep}`; a prefix with a hash tag of its own
    /// (`app:{jobs}`) is kept as it is.
    pub(crate) fn new(prefix: &str) -> Self {
        let has_tag = prefix
            .find('{')
            .is_some_and(|open| prefix[open..].find('}').is_some_and(|close| close > 1));
        let prefix = if has_tag {
            prefix.to_owned()
        } else {
            format!("{{{prefix}}}")
        };
        Self { prefix }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The job's hash.
    pub(crate) fn job(&self, id: JobId) -> String {
        format!("{}:job:{id}", self.prefix)
    }

    /// The job's attempts, one JSON record each.
    pub(crate) fn attempts(&self, id: JobId) -> String {
        format!("{}:job:{id}:attempts", self.prefix)
    }

    /// The job id an idempotency key names.
    pub(crate) fn idempotency_key(&self, key: &str) -> String {
        format!("{}:key:{key}", self.prefix)
    }

    /// Runnable jobs of one name, by enqueue time.
    pub(crate) fn queue(&self, name: &str) -> String {
        format!("{}:queue:{name}", self.prefix)
    }

    /// Retries of one name, by due time.
    pub(crate) fn scheduled(&self, name: &str) -> String {
        format!("{}:scheduled:{name}", self.prefix)
    }

    /// Every job of one name, by creation time: an operator's listing.
    pub(crate) fn listing(&self, name: &str) -> String {
        format!("{}:jobs:{name}", self.prefix)
    }

    /// Where the sweep of each listing stopped.
    pub(crate) fn sweep(&self) -> String {
        format!("{}:sweep", self.prefix)
    }

    /// The counter every fencing token is drawn from.
    pub(crate) fn tokens(&self) -> String {
        format!("{}:tokens", self.prefix)
    }

    /// Claimed jobs, by lease expiry.
    pub(crate) fn running(&self) -> String {
        format!("{}:running", self.prefix)
    }

    /// The pub/sub channel that announces new work (the message is the name).
    pub(crate) fn wake(&self) -> String {
        format!("{}:wake", self.prefix)
    }

    /// The pub/sub channel that announces changes of watched jobs (the
    /// message is the id) and every cancel (`cancel:` and the id).
    pub(crate) fn changed(&self) -> String {
        format!("{}:changed", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_get_a_hash_tag() {
        assert_eq!(Keys::new("asyncep").prefix(), "{asyncep}");
        assert_eq!(Keys::new("app:{jobs}").prefix(), "app:{jobs}");
        assert_eq!(Keys::new("odd{}").prefix(), "{odd{}}");
    }

    #[test]
    fn every_key_shares_the_prefix() {
        let keys = Keys::new("p");
        let id = JobId::new();
        for key in [
            keys.job(id),
            keys.attempts(id),
            keys.idempotency_key("k"),
            keys.queue("n"),
            keys.scheduled("n"),
            keys.running(),
            keys.wake(),
            keys.changed(),
            keys.tokens(),
        ] {
            assert!(key.starts_with("{p}:"), "{key}");
        }
    }
}
