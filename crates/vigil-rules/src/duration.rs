//! Durations as rule files write them: a whole number and a unit, e.g.
//! `30s`, `5m`, `1h`, `1d`, or several such parts one after the other
//! (`1h30m`). This module owns their parsing; correlation windows,
//! lateness, suppression and action timeouts all use it.
//!
//! Units: `ms` milliseconds, `s` seconds, `m` minutes, `h` hours, `d` days,
//! `w` weeks, and Sigma's `M` (a month of 2,629,746 s, the mean Gregorian
//! month) and `y` (a year of 31,556,952 s), with the same values as pySigma
//! so a Sigma `timespan` means the same here. Units are case-sensitive (`m`
//! is minutes, `M` months), as in Sigma. `0s` is a valid duration; whether
//! zero is allowed is up to the caller.
//!
//! ```
//! use std::time::Duration;
//! use vigil_rules::duration::parse;
//! assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
//! assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
//! assert!(parse("5 minutes").unwrap_err().to_string().contains("5 minutes"));
//! ```

use std::time::Duration;

/// Why a duration did not parse. Every message quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing (or only blanks) was given.
    #[error("empty duration (expected e.g. 30s, 5m, 1h, 1d)")]
    Empty,
    /// A part has no number before its unit.
    #[error("duration '{text}': expected a number at offset {at} (e.g. 30s, 5m, 1h, 1d)")]
    MissingNumber {
        /// The whole text.
        text: String,
        /// Byte offset of the part.
        at: usize,
    },
    /// A number is not followed by a unit.
    #[error("duration '{text}': number without a unit (use ms, s, m, h, d, w, M or y)")]
    MissingUnit {
        /// The whole text.
        text: String,
    },
    /// The unit is not one of the known ones.
    #[error("duration '{text}': unknown unit '{unit}' (use ms, s, m, h, d, w, M or y)")]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit as written.
        unit: String,
    },
    /// The value does not fit (over about 292 years).
    #[error("duration '{text}' is too long")]
    Overflow {
        /// The whole text.
        text: String,
    },
}

/// Milliseconds per unit.
fn unit_millis(unit: &str) -> Option<u64> {
    Some(match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        // pySigma's SigmaCorrelationTimespan values.
        "M" => 2_629_746_000,
        "y" => 31_556_952_000,
        _ => return None,
    })
}

/// Parse a duration such as `30s`, `5m`, `1h`, `1d` or `1h30m`. Leading and
/// trailing blanks are ignored; blanks inside are not allowed.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    let owned = || trimmed.to_owned();
    let bytes = trimmed.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(DurationError::MissingNumber {
                text: owned(),
                at: start,
            });
        }
        let number: u64 = trimmed[start..i]
            .parse()
            .map_err(|_| DurationError::Overflow { text: owned() })?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &trimmed[unit_start..i];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit { text: owned() });
        }
        let per = unit_millis(unit).ok_or_else(|| DurationError::UnknownUnit {
            text: owned(),
            unit: unit.to_owned(),
        })?;
        total = number
            .checked_mul(per)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| DurationError::Overflow { text: owned() })?;
    }
    // Event time is i64 nanoseconds: keep every duration representable there.
    if total > (i64::MAX as u64) / 1_000_000 {
        return Err(DurationError::Overflow { text: owned() });
    }
    Ok(Duration::from_millis(total))
}

/// Parse a duration and return it in nanoseconds (what event-time
/// arithmetic uses). Never overflows an `i64`.
pub fn parse_nanos(text: &str) -> Result<i64, DurationError> {
    // parse() bounds the value to i64::MAX nanoseconds.
    parse(text).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The shortest text that [`parse`] reads back as `d` (whole
/// milliseconds; `0s` for zero), e.g. `90m` → `1h30m`.
pub fn format(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, per) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= per {
            out.push_str(&format!("{}{unit}", ms / per));
            ms %= per;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_forms() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("2w"), Ok(Duration::from_secs(2 * 604_800)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 90m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn sigma_month_and_year_match_pysigma() {
        assert_eq!(parse("1M"), Ok(Duration::from_secs(2_629_746)));
        assert_eq!(parse("1y"), Ok(Duration::from_secs(31_556_952)));
        // Case matters: m is minutes, M months.
        assert_ne!(parse("1m"), parse("1M"));
    }

    #[test]
    fn errors_name_the_text() {
        for bad in [
            "", "  ", "5", "m", "5 m", "5min", "-5s", "5s3", "1.5h", "5S",
        ] {
            let err = parse(bad).expect_err(bad);
            let msg = err.to_string();
            if !bad.trim().is_empty() {
                assert!(msg.contains(bad.trim()), "{bad:?}: {msg}");
            }
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
        }
        assert!(matches!(
            parse("5min"),
            Err(DurationError::UnknownUnit { unit, .. }) if unit == "min"
        ));
        assert!(matches!(parse("5"), Err(DurationError::MissingUnit { .. })));
        assert!(matches!(
            parse("99999999999999999999d"),
            Err(DurationError::Overflow { .. })
        ));
        assert!(matches!(parse("300y"), Err(DurationError::Overflow { .. })));
    }

    #[test]
    fn nanos() {
        assert_eq!(parse_nanos("1s"), Ok(1_000_000_000));
        assert_eq!(parse_nanos("292y"), Ok(292 * 31_556_952 * 1_000_000_000));
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in 0u64..=9_223_372_036_854) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = parse(&s);
        }
    }
}
