//! Times as feeds write them, to milliseconds since the epoch.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// A time as feeds write it: RFC 3339 (`2024-04-01T12:00:00Z`, with
/// fraction or offset), `YYYY-MM-DD HH:MM:SS[.fff]` (UTC), `YYYY-MM-DD`,
/// or a Unix time in seconds (up to 11 digits) or milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return Some(if s.len() <= 11 {
            n.checked_mul(1000)?
        } else {
            n
        });
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S UTC",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_to_the_same_instant() {
        let want = Some(1_711_972_800_000); // 2024-04-01T12:00:00Z
        for s in [
            "2024-04-01T12:00:00Z",
            "2024-04-01T12:00:00.000Z",
            "2024-04-01T14:00:00+02:00",
            "2024-04-01 12:00:00",
            "1711972800",
            "1711972800000",
        ] {
            assert_eq!(parse_time(s), want, "{s}");
        }
        assert_eq!(parse_time("2024-04-01"), Some(1_711_929_600_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
    }
}
