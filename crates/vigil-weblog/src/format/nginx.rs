//! nginx access logs: a parser compiled from `log_format` text.
//!
//! Accepts the whole directive as written in `nginx.conf`
//! (`log_format main escape=json '...' '...';`, strings quoted and
//! unquoted as nginx's configuration reader does) or only the format
//! string. The strings are concatenated, `$name` and `${name}` become
//! variables, everything else is literal text, as in nginx's
//! `ngx_http_log_compile_format`.
//!
//! Escaping follows `ngx_http_log_escape`: with `escape=default` nginx
//! writes `"`, `\`, bytes below 0x20 and above 0x7e as `\xHH` and a
//! missing variable as `-`; with `escape=json` it writes JSON string
//! escapes and a missing variable as nothing; `escape=none` writes values
//! verbatim. Values are unescaped back into the record.

use crate::format::template::{Item, Slot, TemplateParser};
use crate::format::{Escape, FormatError};

/// nginx's built-in `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// The `main` format of nginx's shipped `nginx.conf`: `combined` plus the
/// `X-Forwarded-For` header.
pub const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

/// The parser for nginx's `combined` format.
pub fn combined() -> TemplateParser {
    build(COMBINED, Escape::Backslash, "nginx combined".to_owned())
}

/// The parser for the `main` format of nginx's shipped `nginx.conf`.
pub fn main_format() -> TemplateParser {
    build(MAIN, Escape::Backslash, "nginx main".to_owned())
}

/// Compile `log_format` text: the directive or the bare format string.
pub fn compile(text: &str) -> Result<TemplateParser, FormatError> {
    let trimmed = text.trim();
    let is_directive = trimmed
        .strip_prefix("log_format")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_whitespace()));
    let (name, args) = if is_directive {
        let tokens = tokenize(trimmed)?;
        let mut tokens = tokens.into_iter().skip(1);
        let name = tokens
            .next()
            .ok_or_else(|| FormatError::Nginx("the directive has no format name".into()))?;
        (
            format!("nginx log_format {name}"),
            tokens.collect::<Vec<_>>(),
        )
    } else if trimmed.starts_with(['\'', '"']) {
        ("nginx log_format".to_owned(), tokenize(trimmed)?)
    } else {
        ("nginx log_format".to_owned(), vec![trimmed.to_owned()])
    };
    let mut args = args.as_slice();
    let mut escape = Escape::Backslash;
    if let Some((first, rest)) = args.split_first() {
        if let Some(mode) = first.strip_prefix("escape=") {
            escape = match mode {
                "default" => Escape::Backslash,
                "json" => Escape::Json,
                "none" => Escape::None,
                other => {
                    return Err(FormatError::Nginx(format!(
                        "unknown log format escaping {other:?}"
                    )))
                }
            };
            args = rest;
        }
    }
    if args.is_empty() {
        return Err(FormatError::Nginx("no format string".into()));
    }
    let format = args.concat();
    let items = items(&format)?;
    if !items.iter().any(|i| matches!(i, Item::Var { .. })) {
        return Err(FormatError::Nginx(format!(
            "format {format:?} has no variables"
        )));
    }
    Ok(TemplateParser::new(items, escape, name))
}

fn build(format: &str, escape: Escape, name: String) -> TemplateParser {
    // The built-in formats are constants that compile; an empty parser
    // would be a bug caught by the tests.
    TemplateParser::new(items(format).unwrap_or_default(), escape, name)
}

/// Split a format string into literals and variables.
fn items(format: &str) -> Result<Vec<Item>, FormatError> {
    let bytes = format.as_bytes();
    let mut items = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'$' {
            literal.push(b);
            i += 1;
            continue;
        }
        i += 1;
        let bracket = bytes.get(i) == Some(&b'{');
        if bracket {
            i += 1;
        }
        let start = i;
        while bytes
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            i += 1;
        }
        let var = format.get(start..i).unwrap_or_default();
        if bracket {
            if bytes.get(i) != Some(&b'}') {
                return Err(FormatError::Nginx(format!(
                    "the closing bracket in {var:?} variable is missing"
                )));
            }
            i += 1;
        }
        if var.is_empty() {
            return Err(FormatError::Nginx(format!(
                "a '$' without a variable name at byte {start}"
            )));
        }
        if !literal.is_empty() {
            items.push(Item::Literal(
                std::mem::take(&mut literal).into_boxed_slice(),
            ));
        }
        items.push(Item::Var {
            slot: slot(var),
            name: format!("${var}").into(),
        });
    }
    if !literal.is_empty() {
        items.push(Item::Literal(literal.into_boxed_slice()));
    }
    Ok(items)
}

/// The record field an nginx variable fills.
fn slot(var: &str) -> Slot {
    match var {
        "remote_addr" => Slot::Client,
        "remote_port" => Slot::ClientPort,
        "remote_user" => Slot::User,
        "time_local" => Slot::TimeClf,
        "time_iso8601" => Slot::TimeIso,
        "msec" => Slot::TimeEpoch,
        "request" => Slot::Request,
        "request_method" => Slot::Method,
        "request_uri" => Slot::Target,
        "uri" | "document_uri" => Slot::Path,
        "args" | "query_string" => Slot::Args,
        "server_protocol" => Slot::Protocol,
        "status" => Slot::Status,
        "body_bytes_sent" | "bytes_sent" => Slot::Bytes,
        "http_referer" => Slot::Referer,
        "http_user_agent" => Slot::UserAgent,
        "host" | "http_host" | "server_name" => Slot::Host,
        "http_x_forwarded_for" => Slot::ForwardedFor,
        "request_time" => Slot::RequestTimeSecs,
        "server_addr" => Slot::ServerAddr,
        "server_port" => Slot::ServerPort,
        other => Slot::Field(other.into()),
    }
}

/// The arguments of a directive as nginx's configuration reader sees
/// them: whitespace-separated words, `'...'`/`"..."` quoted strings with
/// `\"`, `\'`, `\\`, `\t`, `\r`, `\n` undone (other backslashes kept),
/// `#` comments, up to the first `;` outside quotes.
fn tokenize(text: &str) -> Result<Vec<String>, FormatError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(c) = chars.next() else { break };
        match c {
            ';' => break,
            '#' => while chars.next_if(|c| *c != '\n').is_some() {},
            '\'' | '"' => {
                let quote = c;
                let mut token = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(FormatError::Nginx(format!("unterminated {quote} string")))
                        }
                        Some(q) if q == quote => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\'' | '\\')) => token.push(e),
                            Some('t') => token.push('\t'),
                            Some('r') => token.push('\r'),
                            Some('n') => token.push('\n'),
                            Some(other) => {
                                token.push('\\');
                                token.push(other);
                            }
                            None => token.push('\\'),
                        },
                        Some(other) => token.push(other),
                    }
                }
                tokens.push(token);
            }
            first => {
                let mut token = String::from(first);
                while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ';') {
                    token.push(c);
                }
                tokens.push(token);
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use crate::format::{ParseError, Parser};

    const LINE: &[u8] = br#"203.0.113.9 - alice [10/Oct/2000:13:55:36 -0700] "GET /shop/item?id=7 HTTP/1.1" 200 2326 "https://example.com/shop" "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0""#;

    #[test]
    fn combined_line_fills_the_record() {
        let r = Parser::nginx_combined().parse(LINE).unwrap();
        assert_eq!(r.client, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.time.secs(), 971_211_336);
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/shop/item?id=7");
        assert_eq!(r.protocol, "HTTP/1.1");
        assert_eq!(r.status, 200);
        assert_eq!(r.bytes_sent, 2326);
        assert_eq!(r.referer.as_deref(), Some("https://example.com/shop"));
        assert_eq!(
            r.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0")
        );
        assert!(r.fields.is_empty());
    }

    #[test]
    fn dashes_escapes_ipv6_and_tls_garbage() {
        let p = Parser::nginx_combined();
        // Escaped quote and backslash in the UA, `-` referer and user, IPv6.
        let r = p
            .parse(br#"2001:db8::5 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 404 0 "-" "evil\x22agent\x5C\x09""#)
            .unwrap();
        assert_eq!(r.client, "2001:db8::5".parse::<IpAddr>().unwrap());
        assert_eq!(r.user, None);
        assert_eq!(r.referer, None);
        assert_eq!(r.user_agent.as_deref(), Some("evil\"agent\\\t"));
        // What nginx logs for a TLS ClientHello sent to a plain-HTTP port.
        let r = p
            .parse(br#"127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-""#)
            .unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.method, "");
        assert_eq!(r.protocol, "");
        assert_eq!(r.target, r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03");
        assert_eq!(r.user_agent, None);
        // An empty request line (a connection closed without a request).
        let r = p
            .parse(br#"127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "" 400 0 "-" "-""#)
            .unwrap();
        assert_eq!(r.target, "");
    }

    #[test]
    fn very_long_lines_and_many_escapes() {
        let p = Parser::nginx_combined();
        let path = "/a".repeat(20_000);
        let ua = r"x\x22".repeat(5_000);
        let line = format!(
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET {path} HTTP/1.1" 414 0 "-" "{ua}""#
        );
        let r = p.parse(line.as_bytes()).unwrap();
        assert_eq!(r.target.len(), 40_000);
        assert_eq!(r.user_agent.as_deref().map(str::len), Some(10_000));
        assert!(r.user_agent.as_deref().unwrap().starts_with("x\"x\""));
        // Cut off in the middle of the User-Agent: unterminated, not a panic.
        let cut = line.get(..line.len() - 3).unwrap();
        assert!(matches!(
            p.parse(cut.as_bytes()),
            Err(ParseError::Unterminated { .. })
        ));
    }

    #[test]
    fn a_reused_record_forgets_the_previous_line() {
        let p = Parser::nginx_combined();
        let mut r = p.parse(LINE).unwrap();
        p.parse_into(
            br#"198.51.100.1 - - [10/Oct/2000:13:55:37 -0700] "HEAD / HTTP/1.0" 301 0 "-" "-""#,
            &mut r,
        )
        .unwrap();
        assert_eq!(r.user, None);
        assert_eq!(r.referer, None);
        assert_eq!(r.user_agent, None);
        assert_eq!(r.method, "HEAD");
        assert_eq!(r.bytes_sent, 0);
    }

    #[test]
    fn bad_lines_say_why() {
        let p = Parser::nginx_combined();
        let e = p.parse(b"hello world").unwrap_err();
        assert!(
            matches!(
                e,
                ParseError::Literal { .. } | ParseError::Unterminated { .. }
            ),
            "{e}"
        );
        let e = p
            .parse(br#"999.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "$remote_addr: \"999.1.1.1\" is not an ip address"
        );
        let e = p
            .parse(br#"1.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 2x0 1 "-" "-""#)
            .unwrap_err();
        assert!(e.to_string().starts_with("$status"), "{e}");
        // The `main` layout is not `combined`: trailing data is an error.
        let e = p
            .parse(
                br#"1.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "-""#,
            )
            .unwrap_err();
        assert!(matches!(e, ParseError::Trailing { .. }), "{e}");
        assert_eq!(p.parse(b"   ").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn custom_directive_with_several_strings() {
        let p = Parser::nginx(
            r#"log_format  timed  '$remote_addr:$remote_port $host "$request_method $request_uri $server_protocol" '
                               '$status $bytes_sent rt=$request_time ck=$cookie_sid '  # trailing comment
                               '"$http_user_agent" xff="$http_x_forwarded_for" $msec';"#,
        )
        .unwrap();
        assert_eq!(p.name(), "nginx log_format timed");
        let r = p
            .parse(br#"10.0.0.2:51234 shop.example "POST /login?next=%2F HTTP/2.0" 302 512 rt=0.004 ck=abc123 "curl/8.5.0" xff="1.2.3.4, 5.6.7.8" 1700000000.250"#)
            .unwrap();
        assert_eq!(r.client_port, Some(51234));
        assert_eq!(r.host.as_deref(), Some("shop.example"));
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.protocol.as_str()),
            ("POST", "/login?next=%2F", "HTTP/2.0")
        );
        assert_eq!(r.status, 302);
        assert_eq!(r.bytes_sent, 512);
        assert_eq!(r.request_time, Some(0.004));
        assert_eq!(r.field("cookie_sid"), Some("abc123"));
        assert_eq!(r.forwarded_for.as_deref(), Some("1.2.3.4, 5.6.7.8"));
        assert_eq!(r.time.nanos(), 1_700_000_000_250_000_000);
        // A missing cookie (`-`) is kept out of the fields.
        let r = p
            .parse(br#"10.0.0.2:51234 shop.example "GET / HTTP/1.1" 200 5 rt=0.000 ck=- "-" xff="-" 1700000000.000"#)
            .unwrap();
        assert_eq!(r.field("cookie_sid"), None);
    }

    #[test]
    fn escape_json_format() {
        let p = Parser::nginx(
            r#"log_format j escape=json '{"t":"$time_iso8601","ip":"$remote_addr","u":"$remote_user",'
                '"m":"$request_method","uri":"$uri","q":"$args","s":$status,"b":$body_bytes_sent,'
                '"ua":"$http_user_agent","h":"${host}"}';"#,
        )
        .unwrap();
        let r = p
            .parse(br#"{"t":"2024-03-01T10:00:00+01:00","ip":"::1","u":"","m":"GET","uri":"/p","q":"a=1","s":200,"b":12,"ua":"say \"hi\"\\ \u001b","h":"x.test"}"#)
            .unwrap();
        assert_eq!(r.time.secs(), 1_709_283_600);
        assert_eq!(r.user, None);
        assert_eq!(r.target, "/p?a=1");
        assert_eq!(r.user_agent.as_deref(), Some("say \"hi\"\\ \u{1b}"));
        assert_eq!(r.host.as_deref(), Some("x.test"));
    }

    #[test]
    fn directive_errors() {
        assert!(Parser::nginx("log_format x escape=xml '$remote_addr';").is_err());
        assert!(Parser::nginx("log_format x '${remote_addr';").is_err());
        assert!(Parser::nginx("log_format x 'no variables';").is_err());
        assert!(Parser::nginx("log_format x '$remote_addr").is_err());
        assert!(Parser::nginx("log_format").is_err());
        let e = Parser::nginx("log_format x 'a $ b';").unwrap_err();
        assert!(e.to_string().starts_with("nginx log_format: "), "{e}");
    }

    #[test]
    fn host_followed_by_uri() {
        let p = Parser::nginx("$remote_addr $host$request_uri $status").unwrap();
        let r = p.parse(b"1.2.3.4 shop.example:8080/a/b?c 200").unwrap();
        assert_eq!(r.host.as_deref(), Some("shop.example:8080"));
        assert_eq!(r.target, "/a/b?c");
    }
}
