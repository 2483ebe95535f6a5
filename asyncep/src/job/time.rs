use std::fmt;
use std::num::NonZeroU64;
use std::ops::Add;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, stored as microseconds since the Unix epoch and written
/// on the wire as RFC 3339 in UTC (`2026-11-22T13:54:30.123456Z`).
///
/// It is never zero (the epoch itself reads as 1 µs after it), so an
/// `Option<Timestamp>` takes no more room than a `Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(NonZeroU64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> u64 {
        self.0.get()
    }

    /// A timestamp from microseconds since the Unix epoch.
    pub fn from_micros(micros: u64) -> Self {
        Self(NonZeroU64::new(micros).unwrap_or(NonZeroU64::MIN))
    }

    /// Converts a [`SystemTime`]; times before 1970 clamp to the epoch.
    pub fn from_system_time(time: SystemTime) -> Self {
        let micros = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        Self::from_micros(micros)
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.as_micros())
    }

    /// How long from `self` until `later`; zero if `later` is not later.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_micros(later.as_micros().saturating_sub(self.as_micros()))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        let micros = u64::try_from(rhs.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(micros))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&humantime::format_rfc3339_micros(self.to_system_time()), f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        humantime::parse_rfc3339_weak(&text)
            .map(Timestamp::from_system_time)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_rfc3339_utc() {
        let t = Timestamp::from_micros(1_000_000 * 86_400 + 1_500);
        assert_eq!(t.to_string(), "1970-01-02T00:00:00.001500Z");
    }

    #[test]
    fn round_trips_through_json() {
        let t = Timestamp::now();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn an_option_costs_nothing() {
        assert_eq!(size_of::<Option<Timestamp>>(), size_of::<Timestamp>());
        assert_eq!(Timestamp::from_micros(0).as_micros(), 1);
    }

    #[test]
    fn adds_durations_and_measures_gaps() {
        let t = Timestamp::from_micros(10);
        let later = t + Duration::from_millis(2);
        assert_eq!(t.until(later), Duration::from_millis(2));
        assert_eq!(later.until(t), Duration::ZERO);
    }
}
