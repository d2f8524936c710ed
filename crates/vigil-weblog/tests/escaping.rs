//! Round trips: any bytes, escaped as nginx (`escape=default` and
//! `escape=json`) and Apache escape them, written into a log line, parse
//! back to the same value.

use proptest::prelude::*;
use vigil_weblog::Parser;

/// `ngx_http_log_escape`: `\xHH` (upper case) for `"`, `\`, bytes below
/// 0x20 and from 0x7f.
fn nginx_escape(value: &[u8]) -> String {
    let mut out = String::new();
    for &b in value {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\x{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// `ngx_escape_json`: `\"`, `\\`, `\n`/`\r`/`\t`/`\b`/`\f`, `\u00XX` for
/// other controls; everything else (UTF-8 included) verbatim.
fn nginx_json_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `ap_escape_logitem`: `\"`, `\\`, `\b \n \r \t \v`, other controls and
/// bytes from 0x7f as `\xhh`.
fn apache_escape(value: &[u8]) -> String {
    let mut out = String::new();
    for &b in value {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            b if !(0x20..0x7f).contains(&b) => out.push_str(&format!("\\x{b:02x}")),
            b => out.push(char::from(b)),
        }
    }
    out
}

fn expected(value: &[u8]) -> Option<String> {
    (!value.is_empty() && value != b"-").then(|| String::from_utf8_lossy(value).into_owned())
}

proptest! {
    #[test]
    fn nginx_default_escape_round_trips(ua in proptest::collection::vec(any::<u8>(), 0..200),
                                        referer in proptest::collection::vec(any::<u8>(), 0..100)) {
        let line = format!(
            r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" 200 1 "{}" "{}""#,
            if referer.is_empty() { "-".to_owned() } else { nginx_escape(&referer) },
            if ua.is_empty() { "-".to_owned() } else { nginx_escape(&ua) },
        );
        let r = Parser::nginx_combined().parse(line.as_bytes()).unwrap();
        prop_assert_eq!(r.user_agent, expected(&ua));
        prop_assert_eq!(r.referer, expected(&referer));
    }

    #[test]
    fn apache_escape_round_trips(ua in proptest::collection::vec(any::<u8>(), 0..200)) {
        let line = format!(
            r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" 200 - "-" "{}""#,
            apache_escape(&ua),
        );
        let r = Parser::apache("combined").unwrap().parse(line.as_bytes()).unwrap();
        prop_assert_eq!(r.user_agent, expected(&ua));
    }

    #[test]
    fn nginx_json_escape_round_trips(ua in any::<String>(), path in "/[a-z0-9/%?=&\"\\\\]{0,40}") {
        let parser = Parser::nginx(
            r#"log_format j escape=json '{"ip":"$remote_addr","t":"$time_iso8601","r":"$request","ua":"$http_user_agent"}';"#,
        ).unwrap();
        let line = format!(
            r#"{{"ip":"::1","t":"2024-01-01T00:00:00+00:00","r":"{}","ua":"{}"}}"#,
            nginx_json_escape(&format!("GET {path} HTTP/1.1")),
            nginx_json_escape(&ua),
        );
        let r = parser.parse(line.as_bytes()).unwrap();
        prop_assert_eq!(r.target, path);
        prop_assert_eq!(r.user_agent, expected(ua.as_bytes()));
    }
}
