//! The memory store's clock for deadlines: monotonic, so a wall-clock step
//! (NTP, a suspended VM) never expires a lease or a retention early. Wall
//! time is read only for the job document's timestamps.

use std::ops::Add;
use std::time::{Duration, Instant};

/// Microseconds since the store's clock started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Mono(u64);

impl Mono {
    /// How long from `earlier` to `self`; zero if `earlier` is later.
    pub(super) fn since(self, earlier: Mono) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Mono {
    type Output = Mono;

    fn add(self, rhs: Duration) -> Mono {
        Mono(
            self.0
                .saturating_add(u64::try_from(rhs.as_micros()).unwrap_or(u64::MAX)),
        )
    }
}

/// A monotonic clock that starts at zero.
#[derive(Debug)]
pub(super) struct Clock {
    origin: Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    pub(super) fn now(&self) -> Mono {
        Mono(u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_forward_only() {
        let clock = Clock::new();
        let start = clock.now();
        let later = start + Duration::from_millis(5);
        assert_eq!(later.since(start), Duration::from_millis(5));
        assert_eq!(start.since(later), Duration::ZERO);
        assert!(clock.now() >= start);
    }
}
