//! Timestamp forms that web servers and WAFs write, parsed into event time.
//!
//! Hand-written for the common log format (`10/Oct/2000:13:55:36 -0700`):
//! it is on the hot path of every nginx and Apache line, and a fixed-layout
//! reader is several times faster than a general `strftime` parser. chrono
//! does the calendar arithmetic and the less common forms.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use vigil_event::Timestamp;

/// `10/Oct/2000:13:55:36 -0700`, optionally inside `[` `]` (Apache `%t`),
/// optionally with a fraction after the seconds (`:36.123 -0700`).
pub(crate) fn parse_clf(s: &[u8]) -> Option<Timestamp> {
    let s = match s {
        [b'[', inner @ .., b']'] => inner,
        _ => s,
    };
    if s.len() < 26 {
        return None;
    }
    let day = digits(s.get(0..2)?)?;
    let month = month(s.get(3..6)?)?;
    let year = digits(s.get(7..11)?)?;
    let hour = digits(s.get(12..14)?)?;
    let minute = digits(s.get(15..17)?)?;
    let second = digits(s.get(18..20)?)?;
    if s.get(2) != Some(&b'/')
        || s.get(6) != Some(&b'/')
        || s.get(11) != Some(&b':')
        || s.get(14) != Some(&b':')
        || s.get(17) != Some(&b':')
    {
        return None;
    }
    let mut rest = s.get(20..)?;
    let mut nanos = 0i64;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = i64::from(digits(tail.get(..n)?)?) * 10i64.pow(9 - n as u32);
        rest = tail.get(n..)?;
    }
    let offset = match rest {
        [b' ', sign @ (b'+' | b'-'), zone @ ..] if zone.len() == 4 => {
            let hh = i64::from(digits(zone.get(0..2)?)?);
            let mm = i64::from(digits(zone.get(2..4)?)?);
            let secs = hh * 3600 + mm * 60;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let utc = NaiveDate::from_ymd_opt(year as i32, month, day)?
        .and_hms_opt(hour, minute, second)?
        .and_utc()
        .timestamp();
    Some(Timestamp::from_nanos(
        (utc - offset)
            .checked_mul(1_000_000_000)?
            .checked_add(nanos)?,
    ))
}

/// ISO 8601 / RFC 3339 with an offset, e.g. nginx `$time_iso8601`
/// `2000-10-10T13:55:36-07:00`, or `...Z`, with an optional fraction.
pub(crate) fn parse_iso8601(s: &str) -> Option<Timestamp> {
    let dt = DateTime::parse_from_rfc3339(s).ok()?;
    Some(Timestamp::from_nanos(dt.timestamp_nanos_opt()?))
}

/// Seconds since the epoch with an optional fraction: nginx `$msec`
/// (`1700000000.123`), Apache `%{sec}t`.
pub(crate) fn parse_epoch_secs(s: &[u8]) -> Option<Timestamp> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(dot) => (s.get(..dot)?, s.get(dot + 1..)?),
        None => (s, &[][..]),
    };
    if int.is_empty() || int.len() > 12 || frac.len() > 9 {
        return None;
    }
    let secs = std::str::from_utf8(int).ok()?.parse::<i64>().ok()?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        nanos = i64::from(digits(frac)?) * 10i64.pow(9 - frac.len() as u32);
    }
    Some(Timestamp::from_nanos(
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)?,
    ))
}

/// An integer count of `unit_nanos` since the epoch (Apache `%{msec}t`,
/// `%{usec}t`; Coraza's `unix_timestamp`).
pub(crate) fn parse_epoch_units(s: &[u8], unit_nanos: i64) -> Option<Timestamp> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let n = std::str::from_utf8(s).ok()?.parse::<i64>().ok()?;
    Some(Timestamp::from_nanos(n.checked_mul(unit_nanos)?))
}

/// A `strftime` pattern (Apache `%{format}t`). With a zone (`%z`) in the
/// pattern the offset is honoured; without one the time is taken as UTC.
pub(crate) fn parse_strftime(s: &str, pattern: &str) -> Option<Timestamp> {
    if let Ok(dt) = DateTime::parse_from_str(s, pattern) {
        return Some(Timestamp::from_nanos(dt.timestamp_nanos_opt()?));
    }
    let naive = NaiveDateTime::parse_from_str(s, pattern).ok()?;
    Some(Timestamp::from_nanos(
        naive.and_utc().timestamp_nanos_opt()?,
    ))
}

/// The other forms WAF audit logs use, tried in turn: RFC 3339, the common
/// log format, `asctime` (ModSecurity v3 `Wed Apr 23 22:15:00 2025`, local
/// time of the WAF host, read as UTC) and `2023/08/09 14:22:33` (Coraza).
pub(crate) fn parse_any(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    parse_iso8601(s)
        .or_else(|| parse_clf(s.as_bytes()))
        .or_else(|| parse_strftime(s, "%a %b %e %H:%M:%S %Y"))
        .or_else(|| parse_strftime(s, "%Y/%m/%d %H:%M:%S%.f"))
        .or_else(|| parse_strftime(s, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|| parse_epoch_secs(s.as_bytes()))
}

fn digits(s: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

fn month(s: &[u8]) -> Option<u32> {
    Some(match s {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_with_and_without_brackets_and_offsets() {
        // Apache's documentation example: 10/Oct/2000:13:55:36 -0700 is 20:55:36Z.
        let t = parse_clf(b"10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.secs(), 971_211_336);
        assert_eq!(parse_clf(b"[10/Oct/2000:13:55:36 -0700]"), Some(t));
        assert_eq!(parse_clf(b"10/Oct/2000:22:25:36 +0130"), Some(t));
        let frac = parse_clf(b"10/Oct/2000:13:55:36.250 -0700").unwrap();
        assert_eq!(frac.since(t), 250_000_000);
        assert_eq!(parse_clf(b"10/Foo/2000:13:55:36 -0700"), None);
        assert_eq!(parse_clf(b"31/Feb/2000:13:55:36 -0700"), None);
        assert_eq!(parse_clf(b"10/Oct/2000:13:55:36"), None);
    }

    #[test]
    fn iso_epoch_and_audit_forms() {
        let t = parse_iso8601("2000-10-10T13:55:36-07:00").unwrap();
        assert_eq!(t.secs(), 971_211_336);
        let m = parse_epoch_secs(b"971211336.125").unwrap();
        assert_eq!(m.since(t), 125_000_000);
        assert_eq!(parse_epoch_units(b"971211336125", 1_000_000), Some(m));
        assert_eq!(parse_any("Tue Oct 10 20:55:36 2000"), Some(t));
        assert_eq!(parse_any("2000/10/10 20:55:36"), Some(t));
        assert_eq!(parse_any("not a time"), None);
        assert_eq!(parse_epoch_secs(b"12.x"), None);
    }
}
