//! When a claim also looks for expired leases. Looking costs the claim a
//! read of the lease index (a statement's scan on PostgreSQL, a command in
//! the script on Redis) that almost always finds nothing, so a process's
//! claims look at most every quarter lease (1 s at most): an expired lease
//! is recovered that much later at worst, and `maintain` looks every half
//! lease besides.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a process's claims go without looking.
const LOOK_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// When this process's claims last looked.
#[derive(Debug, Default)]
pub(crate) struct RecoveryLook {
    last: Mutex<Option<Instant>>,
}

impl RecoveryLook {
    /// Whether this claim, of leases of `lease`, should look; if so, the
    /// next within the period will not.
    pub(crate) fn due(&self, lease: Duration) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let due =
            last.is_none_or(|at| now.duration_since(at) >= (lease / 4).min(LOOK_AT_MOST_EVERY));
        if due {
            *last = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_looks_and_the_next_within_the_period_does_not() {
        let look = RecoveryLook::default();
        let lease = Duration::from_secs(30);
        assert!(look.due(lease));
        assert!(!look.due(lease));
    }

    #[test]
    fn a_short_lease_looks_again_after_a_quarter_of_it() {
        let look = RecoveryLook::default();
        let lease = Duration::from_millis(40);
        assert!(look.due(lease));
        std::thread::sleep(Duration::from_millis(15));
        assert!(look.due(lease));
    }
}
