//! The log line: nginx's `combined` format (or the simulated-time variant), byte for byte
//! as nginx writes it, for direct mode.
//!
//! ```text
//! log_format combined '$remote_addr - $remote_user [$time_local] '
//!                     '"$request" $status $body_bytes_sent '
//!                     '"$http_referer" "$http_user_agent"';
//! ```
//!
//! nginx's default escaping (`escape=default`) writes `"`, `\` and every byte below
//! 0x20 or above 0x7e as `\xHH` (uppercase hex), and an absent variable as `-`.

use std::net::IpAddr;

/// The `log_format` text the generator's nginx uses, with the simulated time from the
/// `X-Vigil-Time` header (`simulated`) or nginx's own `$time_local`, and optionally the
/// session cookie appended as one more quoted field. Give this to a log parser built
/// from `log_format` text.
pub fn log_format(simulated: bool, session: bool) -> String {
    let time = if simulated {
        "$http_x_vigil_time"
    } else {
        "$time_local"
    };
    let mut format = format!(
        "$remote_addr - $remote_user [{time}] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\""
    );
    if session {
        format.push_str(&format!(" \"$cookie_{}\"", crate::SESSION_COOKIE));
    }
    format
}

/// `time` (milliseconds since the Unix epoch) as nginx's `$time_local` in UTC:
/// `22/Nov/2026:10:00:00 +0000`.
pub fn time_local(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp(unix_ms.div_euclid(1000), 0)
        .map(|t| t.format("%d/%b/%Y:%H:%M:%S +0000").to_string())
        .unwrap_or_else(|| "01/Jan/1970:00:00:00 +0000".to_owned())
}

/// An HTTP date (`Sun, 01 Nov 2026 00:00:00 GMT`), for `If-Modified-Since`.
pub(crate) fn http_date(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

/// The fields of one line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub client: IpAddr,
    pub time: &'a str,
    pub method: &'a str,
    pub target: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// `Some` when the format has the session field; `Some(None)` logs `-`.
    pub session: Option<Option<&'a str>>,
}

/// Appends the line (with its newline) to `out`.
pub(crate) fn write_line(out: &mut Vec<u8>, line: &Line<'_>) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{} - - [{}] \"", line.client, line.time);
    escape_into(out, line.method.as_bytes());
    out.push(b' ');
    escape_into(out, line.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\" ");
    let _ = write!(out, "{} {} \"", line.status, line.bytes);
    quoted(out, line.referer);
    out.extend_from_slice(b"\" \"");
    quoted(out, line.user_agent);
    out.push(b'"');
    if let Some(session) = line.session {
        out.extend_from_slice(b" \"");
        quoted(out, session);
        out.push(b'"');
    }
    out.push(b'\n');
}

fn quoted(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => escape_into(out, text.as_bytes()),
        None => out.push(b'-'),
    }
}

/// nginx's default log escaping (`ngx_http_log_escape`).
pub(crate) fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_nginx() {
        let mut out = Vec::new();
        escape_into(&mut out, "Mozi\"lla \\ Ünï\x01\x7f".as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r"Mozi\x22lla \x5C \xC3\x9Cn\xC3\xAF\x01\x7F"
        );
    }

    #[test]
    fn writes_combined_lines() {
        let mut out = Vec::new();
        let line = Line {
            client: "2a02:1::5".parse().unwrap(),
            time: &time_local(1_795_341_600_999),
            method: "GET",
            target: "/a\"b",
            status: 404,
            bytes: 146,
            referer: None,
            user_agent: Some("curl/8"),
            session: None,
        };
        write_line(&mut out, &line);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2a02:1::5 - - [22/Nov/2026:10:00:00 +0000] \"GET /a\\x22b HTTP/1.1\" 404 146 \"-\" \"curl/8\"\n"
        );
        let mut out = Vec::new();
        write_line(
            &mut out,
            &Line {
                session: Some(Some("abc")),
                ..line
            },
        );
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("\"curl/8\" \"abc\"\n"));
    }

    #[test]
    fn formats_and_dates() {
        assert_eq!(
            http_date(crate::site::SITE_MTIME_UNIX),
            "Sun, 01 Nov 2026 00:00:00 GMT"
        );
        assert!(log_format(true, false).contains("[$http_x_vigil_time]"));
        assert!(log_format(false, true).ends_with("\"$cookie_vsid\""));
    }
}
