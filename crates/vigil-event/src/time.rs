//! Event time: nanoseconds since the Unix epoch, as read from a capture or a log.

use serde::{Deserialize, Serialize};

/// A point in event time, nanoseconds since 1970-01-01T00:00:00Z.
///
/// Event time drives every window in Vigil; wall-clock time is read only at
/// the edge. Serialized as an integer count of nanoseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// A timestamp from seconds and microseconds, as in a classic pcap record.
    pub const fn from_secs_micros(secs: i64, micros: i64) -> Self {
        Self(secs * 1_000_000_000 + micros * 1_000)
    }

    /// Nanoseconds since the epoch.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Milliseconds since the epoch, the unit of OCSF `time` attributes.
    pub const fn millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Whole seconds since the epoch.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// This time plus `nanos` nanoseconds (saturating).
    pub const fn add_nanos(self, nanos: i64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// Nanoseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 text with microsecond precision and a `+00:00` offset, e.g.
    /// `2024-04-01T12:00:00.123456+00:00` (the form Suricata's EVE uses).
    pub fn to_rfc3339_micros(self) -> String {
        let secs = self.secs();
        let sub_nanos = self.0.rem_euclid(1_000_000_000) as u32;
        match chrono::DateTime::from_timestamp(secs, sub_nanos) {
            Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
            None => format!("{secs}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_microseconds() {
        let t = Timestamp::from_secs_micros(1_700_000_000, 123_456);
        assert_eq!(t.to_rfc3339_micros(), "2023-11-14T22:13:20.123456+00:00");
        assert_eq!(t.millis(), 1_700_000_000_123);
    }

    #[test]
    fn negative_times_round_down() {
        let t = Timestamp::from_nanos(-1);
        assert_eq!(t.secs(), -1);
        assert_eq!(t.millis(), -1);
    }
}
