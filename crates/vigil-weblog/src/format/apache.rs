//! Apache httpd access logs: a parser compiled from a `LogFormat` string.
//!
//! Accepts the format string (`%h %l %u %t "%r" %>s %b`), a `LogFormat`
//! directive (`LogFormat "..." nickname`, Apache's `\"` unquoted), or the
//! nicknames `common`, `combined` and `vhost_combined` from Apache's
//! default configuration. Directives follow `mod_log_config`: `%%`,
//! optional `<`/`>` and status-condition modifiers, `%{arg}x`.
//!
//! Apache escapes `"` and `\` with a backslash, controls as `\n`, `\t`,
//! ... and other bytes as `\xhh`; values are unescaped back.

use crate::format::template::{Item, Slot, TemplateParser};
use crate::format::{header_field_name, Escape, FormatError};

/// Apache's `common` format.
pub const COMMON: &str = r#"%h %l %u %t "%r" %>s %b"#;
/// Apache's `combined` format.
pub const COMBINED: &str = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#;
/// Apache's `vhost_combined` format.
pub const VHOST_COMBINED: &str = r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;

/// Compile a `LogFormat` string, directive or nickname.
pub fn compile(text: &str) -> Result<TemplateParser, FormatError> {
    let trimmed = text.trim();
    let (format, name) = match trimmed {
        "common" => (COMMON.to_owned(), "apache common".to_owned()),
        "combined" => (COMBINED.to_owned(), "apache combined".to_owned()),
        "vhost_combined" => (
            VHOST_COMBINED.to_owned(),
            "apache vhost_combined".to_owned(),
        ),
        _ => {
            let body = trimmed
                .strip_prefix("LogFormat")
                .or_else(|| trimmed.strip_prefix("CustomLog"))
                .map(str::trim_start);
            match body {
                Some(body) => {
                    let (format, rest) = unquote(body)?;
                    let nick = rest.split_whitespace().next().unwrap_or("");
                    let name = if nick.is_empty() {
                        "apache LogFormat".to_owned()
                    } else {
                        format!("apache LogFormat {nick}")
                    };
                    (format, name)
                }
                None if trimmed.starts_with('"') => {
                    (unquote(trimmed)?.0, "apache LogFormat".to_owned())
                }
                None => (trimmed.to_owned(), "apache LogFormat".to_owned()),
            }
        }
    };
    let items = items(&format)?;
    if !items.iter().any(|i| matches!(i, Item::Var { .. })) {
        return Err(FormatError::Apache(format!(
            "format {format:?} has no directives"
        )));
    }
    Ok(TemplateParser::new(items, Escape::Backslash, name))
}

/// The first double-quoted string of `text` with `\"`, `\\`, `\n`, `\t`
/// undone (as Apache's configuration reader does), and what follows it.
fn unquote(text: &str) -> Result<(String, &str), FormatError> {
    let Some(body) = text.strip_prefix('"') else {
        // An unquoted single-word format.
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        return Ok((
            text.get(..end).unwrap_or_default().to_owned(),
            text.get(end..).unwrap_or_default(),
        ));
    };
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, body.get(i + 1..).unwrap_or_default())),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, e)) => out.push(e),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    Err(FormatError::Apache("unterminated quoted format".into()))
}

/// Split a format string into literals and directives.
fn items(format: &str) -> Result<Vec<Item>, FormatError> {
    let has_final_status = format.contains("%>s");
    let has_client_ip = format.contains("%a");
    let has_host_header = format.to_ascii_lowercase().contains("{host}i");
    let mut items = Vec::new();
    let mut literal = String::new();
    let mut chars = format.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        if chars.next_if(|(_, c)| *c == '%').is_some() {
            literal.push('%');
            continue;
        }
        // Modifiers: `!` and status lists (`%!200,304r`), `<` / `>`.
        let mut final_value = false;
        while let Some((_, m)) =
            chars.next_if(|(_, c)| matches!(c, '!' | ',' | '<' | '>' | '0'..='9'))
        {
            if m == '>' {
                final_value = true;
            }
        }
        let mut arg = None;
        if chars.next_if(|(_, c)| *c == '{').is_some() {
            let mut a = String::new();
            loop {
                match chars.next() {
                    Some((_, '}')) => break,
                    Some((_, c)) => a.push(c),
                    None => {
                        return Err(FormatError::Apache(format!(
                            "unterminated %{{ at byte {start}"
                        )))
                    }
                }
            }
            arg = Some(a);
        }
        let Some((end, letter)) = chars.next() else {
            return Err(FormatError::Apache(format!(
                "a '%' without a directive at byte {start}"
            )));
        };
        let written = format.get(start..end + letter.len_utf8()).unwrap_or("%");
        let slot = slot(
            letter,
            arg.as_deref(),
            final_value,
            has_final_status,
            has_client_ip,
            has_host_header,
        )
        .ok_or_else(|| FormatError::Apache(format!("unknown directive {written:?}")))?;
        if !literal.is_empty() {
            items.push(Item::Literal(
                std::mem::take(&mut literal).into_bytes().into_boxed_slice(),
            ));
        }
        items.push(Item::Var {
            slot,
            name: written.into(),
        });
    }
    if !literal.is_empty() {
        items.push(Item::Literal(literal.into_bytes().into_boxed_slice()));
    }
    Ok(items)
}

/// The record field a directive fills; `None` for an unknown letter.
fn slot(
    letter: char,
    arg: Option<&str>,
    final_value: bool,
    has_final_status: bool,
    has_client_ip: bool,
    has_host_header: bool,
) -> Option<Slot> {
    let field = |name: &str| Slot::Field(name.into());
    Some(match (letter, arg) {
        ('a', Some("c")) => field("peer_addr"),
        ('a', _) => Slot::Client,
        ('h', _) if has_client_ip => field("remote_host"),
        ('h', _) => Slot::Client,
        ('A', _) => Slot::ServerAddr,
        ('b' | 'B', _) => Slot::Bytes,
        ('O', _) => Slot::Bytes,
        ('I', _) => field("bytes_received"),
        ('S', _) => field("bytes_transferred"),
        ('C', Some(name)) => Slot::Field(format!("cookie_{name}").into()),
        ('D', _) => Slot::RequestTimeMicros,
        ('T', Some("ms")) => Slot::RequestTimeMillis,
        ('T', Some("us")) => Slot::RequestTimeMicros,
        ('T', _) => Slot::RequestTimeSecs,
        ('e', Some(name)) => Slot::Field(format!("env_{name}").into()),
        ('f', _) => field("filename"),
        ('H', _) => Slot::Protocol,
        ('i', Some(header)) => match header.to_ascii_lowercase().as_str() {
            "referer" => Slot::Referer,
            "user-agent" => Slot::UserAgent,
            "host" => Slot::Host,
            "x-forwarded-for" => Slot::ForwardedFor,
            _ => Slot::Field(header_field_name("http_", header).into()),
        },
        ('o', Some(header)) => Slot::Field(header_field_name("sent_http_", header).into()),
        ('n', Some(note)) => Slot::Field(format!("note_{note}").into()),
        ('k', _) => field("keepalive"),
        ('l', _) => field("ident"),
        ('L', _) => field("log_id"),
        ('m', _) => Slot::Method,
        ('p', Some("remote")) => Slot::ClientPort,
        ('p', _) => Slot::ServerPort,
        ('P', _) => field("pid"),
        ('q', _) => Slot::QueryWithMark,
        ('r', _) => Slot::Request,
        ('R', _) => field("handler"),
        ('s', _) if final_value || !has_final_status => Slot::Status,
        ('s', _) => field("original_status"),
        ('t', None) => Slot::TimeClf,
        ('t', Some(fmt)) => {
            let fmt = fmt
                .strip_prefix("begin:")
                .or_else(|| fmt.strip_prefix("end:"))
                .unwrap_or(fmt);
            match fmt {
                "sec" => Slot::TimeEpoch,
                "msec" => Slot::TimeEpochMillis,
                "usec" => Slot::TimeEpochMicros,
                "msec_frac" | "usec_frac" => field(fmt),
                pattern => Slot::TimeStrftime(pattern.into()),
            }
        }
        ('u', _) => Slot::User,
        ('U', _) => Slot::Path,
        ('v' | 'V', _) if has_host_header => field("server_name"),
        ('v' | 'V', _) => Slot::Host,
        ('X', _) => field("conn_status"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use crate::format::Parser;

    // The example lines of Apache's log file documentation
    // (httpd.apache.org/docs/2.4/logs.html).
    const COMMON_LINE: &[u8] =
        br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
    const COMBINED_LINE: &[u8] = br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;

    #[test]
    fn documentation_lines_parse() {
        let common = Parser::apache("common").unwrap();
        let r = common.parse(COMMON_LINE).unwrap();
        assert_eq!(r.client, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(r.user.as_deref(), Some("frank"));
        assert_eq!(r.time.secs(), 971_211_336);
        assert_eq!(r.target, "/apache_pb.gif");
        assert_eq!(r.protocol, "HTTP/1.0");
        assert_eq!((r.status, r.bytes_sent), (200, 2326));
        assert_eq!(r.user_agent, None);
        assert!(common.parse(COMBINED_LINE).is_err());

        let combined = Parser::apache(
            r#"LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined"#,
        )
        .unwrap();
        assert_eq!(combined.name(), "apache LogFormat combined");
        let r = combined.parse(COMBINED_LINE).unwrap();
        assert_eq!(
            r.referer.as_deref(),
            Some("http://www.example.com/start.html")
        );
        assert_eq!(
            r.user_agent.as_deref(),
            Some("Mozilla/4.08 [en] (Win98; I ;Nav)")
        );
        // The same line through nginx's combined parser reads identically.
        assert_eq!(Parser::nginx_combined().parse(COMBINED_LINE).unwrap(), r);
    }

    #[test]
    fn apache_escapes_and_dash_bytes() {
        let p = Parser::apache("combined").unwrap();
        let r = p
            .parse(br#"::1 - - [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" 304 - "-" "quote \" backslash \\ tab \t byte \x1b""#)
            .unwrap();
        assert_eq!(r.bytes_sent, 0);
        assert_eq!(
            r.user_agent.as_deref(),
            Some("quote \" backslash \\ tab \t byte \u{1b}")
        );
    }

    #[test]
    fn rich_format_with_times_cookies_and_headers() {
        let p = Parser::apache(
            r#"%v:%p %a %{remote}p %l %u %{%Y-%m-%dT%H:%M:%S%z}t "%m %U%q %H" %>s %O %D %{ms}T "%{sid}C" "%{X-Request-Id}i" %{Host}i"#,
        )
        .unwrap();
        let r = p
            .parse(br#"www.example.com:443 192.0.2.7 40000 - - 2000-10-10T13:55:36-0700 "GET /search?q=a+b HTTP/1.1" 200 5120 1500 1 "s3cr3t" "req-1" shop.example"#)
            .unwrap();
        assert_eq!(r.server_port, Some(443));
        assert_eq!(r.client_port, Some(40000));
        assert_eq!(r.time.secs(), 971_211_336);
        assert_eq!(r.target, "/search?q=a+b");
        assert_eq!(r.method, "GET");
        assert_eq!(r.request_time, Some(0.0015));
        assert_eq!(r.field("cookie_sid"), Some("s3cr3t"));
        assert_eq!(r.field("http_x_request_id"), Some("req-1"));
        assert_eq!(r.host.as_deref(), Some("shop.example"));
        assert_eq!(r.field("server_name"), Some("www.example.com"));
        // A second request-time directive is kept as a field.
        assert_eq!(r.field("msT"), Some("1"));
    }

    #[test]
    fn format_errors() {
        assert!(Parser::apache("%h %Z").is_err());
        assert!(Parser::apache("%h %{Referer").is_err());
        assert!(Parser::apache("%h %").is_err());
        assert!(Parser::apache("no directives").is_err());
        assert!(Parser::apache(r#"LogFormat "%h"#).is_err());
        let e = Parser::apache("%h %Z").unwrap_err();
        assert_eq!(e.to_string(), "apache LogFormat: unknown directive \"%Z\"");
    }
}
