//! Log formats: one line of bytes in, one [`AccessRecord`] out, no I/O.
//!
//! This module owns every parser of web and WAF log lines and the one type
//! callers use, [`Parser`]:
//!
//! - [`nginx`]: a parser built from nginx `log_format` text (the default
//!   `combined` or any custom one, `escape=default|json|none`, several
//!   strings), unescaping values exactly as nginx escaped them;
//! - [`apache`]: a parser built from an Apache `LogFormat` string;
//! - [`json`]: one JSON object per line with a configurable mapping of keys
//!   to record fields ([`JsonMapping`]);
//! - [`modsec`]: ModSecurity v3 and Coraza JSON audit logs, rule matches
//!   included.
//!
//! nginx and Apache formats compile to the same template matcher (a list
//! of literals and variables); a variable's value runs up to the next
//! literal, skipping backslash escapes, so an escaped quote inside a
//! User-Agent never ends the field.
//!
//! Contract: [`Parser::parse_into`] never panics, reads only the line it is
//! given, and on success leaves a complete record (fields the format does
//! not carry are `None`/empty). It reuses the record's string buffers, so a
//! caller that parses many lines into one record allocates little.

pub mod apache;
pub mod json;
pub mod modsec;
pub mod nginx;
mod template;
pub(crate) mod time;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::record::AccessRecord;
pub use json::{JsonMapping, JsonParser};
pub use modsec::ModSecParser;
pub use template::TemplateParser;

/// Longest value quoted back in an error message, in characters.
const MAX_QUOTED: usize = 64;

/// Why one line did not parse. The reader adds the file and line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is empty (or only whitespace).
    #[error("empty line")]
    Empty,
    /// A literal part of the format was not where the format puts it.
    #[error("expected {expected:?} at byte {at}")]
    Literal {
        /// The literal text the format has here.
        expected: String,
        /// Byte offset in the line.
        at: usize,
    },
    /// A variable's value never ended: the literal after it is missing.
    #[error("no {expected:?} after {field} starting at byte {at}")]
    Unterminated {
        /// The variable, e.g. `$http_user_agent`.
        field: String,
        /// The literal that should follow it.
        expected: String,
        /// Byte offset where the value starts.
        at: usize,
    },
    /// A value is not of the form its variable needs.
    #[error("{field}: {value:?} is not {what}")]
    BadValue {
        /// The variable or key, e.g. `$status`.
        field: String,
        /// The value as logged (shortened).
        value: String,
        /// What it should have been, e.g. `an ip address`.
        what: &'static str,
    },
    /// Bytes left over after the whole format matched.
    #[error("{len} unexpected bytes after the format ends at byte {at}")]
    Trailing {
        /// Byte offset where the format ended.
        at: usize,
        /// How many bytes follow.
        len: usize,
    },
    /// The line is not a JSON object.
    #[error("not a json object: {0}")]
    Json(String),
    /// A JSON record lacks a field every record needs.
    #[error("json record has no {0}")]
    Missing(&'static str),
}

impl ParseError {
    pub(crate) fn bad_value(field: &str, value: &[u8], what: &'static str) -> Self {
        Self::BadValue {
            field: field.to_owned(),
            value: quote(value),
            what,
        }
    }
}

/// Why a format description could not be compiled into a parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The nginx `log_format` text is not valid.
    #[error("nginx log_format: {0}")]
    Nginx(String),
    /// The Apache `LogFormat` string is not valid.
    #[error("apache LogFormat: {0}")]
    Apache(String),
}

/// How a configured format is written down (config files, CLI flags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatConfig {
    /// nginx: the `log_format` directive or just its format string(s);
    /// `combined` when absent.
    Nginx {
        /// e.g. `log_format main '$remote_addr - ...';`
        #[serde(default)]
        log_format: Option<String>,
    },
    /// Apache: a `LogFormat` string or directive, or the nickname
    /// `common`/`combined`.
    Apache {
        /// e.g. `%h %l %u %t "%r" %>s %b`
        log_format: String,
    },
    /// One JSON object per line.
    Json {
        /// Which keys hold which record fields; defaults cover nginx JSON
        /// layouts.
        #[serde(default)]
        mapping: Box<JsonMapping>,
    },
    /// ModSecurity v3 or Coraza JSON audit log.
    Modsecurity,
}

impl FormatConfig {
    /// Compile the configured format into a parser.
    pub fn build(&self) -> Result<Parser, FormatError> {
        match self {
            Self::Nginx { log_format: None } => Ok(Parser::nginx_combined()),
            Self::Nginx {
                log_format: Some(text),
            } => Parser::nginx(text),
            Self::Apache { log_format } => Parser::apache(log_format),
            Self::Json { mapping } => Ok(Parser::json(JsonMapping::clone(mapping))),
            Self::Modsecurity => Ok(Parser::modsecurity()),
        }
    }
}

/// A compiled parser for one log format.
#[derive(Debug, Clone)]
pub enum Parser {
    /// nginx `log_format` or Apache `LogFormat`, compiled to a template.
    Template(TemplateParser),
    /// JSON lines with a key mapping.
    Json(JsonParser),
    /// ModSecurity/Coraza JSON audit records.
    ModSec(ModSecParser),
}

impl Parser {
    /// nginx's default `combined` format (Apache's `combined` has the same
    /// layout; its escapes are read too).
    pub fn nginx_combined() -> Self {
        Self::Template(nginx::combined())
    }

    /// A parser from nginx `log_format` text: the whole directive
    /// (`log_format name [escape=..] 'a' 'b';`) or only the format string.
    pub fn nginx(text: &str) -> Result<Self, FormatError> {
        nginx::compile(text).map(Self::Template)
    }

    /// A parser from an Apache `LogFormat` string, directive, or one of the
    /// nicknames `common`, `combined`, `vhost_combined`.
    pub fn apache(text: &str) -> Result<Self, FormatError> {
        apache::compile(text).map(Self::Template)
    }

    /// A JSON-lines parser with this key mapping.
    pub fn json(mapping: JsonMapping) -> Self {
        Self::Json(JsonParser::new(mapping))
    }

    /// A ModSecurity v3 / Coraza JSON audit log parser.
    pub fn modsecurity() -> Self {
        Self::ModSec(ModSecParser::default())
    }

    /// A short name for reports, e.g. `nginx combined`.
    pub fn name(&self) -> &str {
        match self {
            Self::Template(t) => t.name(),
            Self::Json(_) => "json lines",
            Self::ModSec(_) => "modsecurity/coraza json audit",
        }
    }

    /// Parse one line (without its newline) into `record`, reusing its
    /// buffers. On error the record's contents are unspecified.
    pub fn parse_into(&self, line: &[u8], record: &mut AccessRecord) -> Result<(), ParseError> {
        let line = trim_line(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        match self {
            Self::Template(t) => t.parse_into(line, record),
            Self::Json(j) => j.parse_into(line, record),
            Self::ModSec(m) => m.parse_into(line, record),
        }
    }

    /// Parse one line into a new record.
    pub fn parse(&self, line: &[u8]) -> Result<AccessRecord, ParseError> {
        let mut record = AccessRecord::default();
        self.parse_into(line, &mut record)?;
        Ok(record)
    }
}

/// The line without a trailing `\r` or `\n`.
fn trim_line(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = line {
        line = rest;
    }
    line
}

/// Shortened, lossy text of a value for an error message.
pub(crate) fn quote(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if text.chars().count() <= MAX_QUOTED {
        text.into_owned()
    } else {
        let mut short: String = text.chars().take(MAX_QUOTED).collect();
        short.push('…');
        short
    }
}

/// How values were escaped when the line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// nginx `escape=default` (`\xHH` for `"`, `\`, controls and bytes
    /// above 0x7e) and Apache's (`\"`, `\\`, `\n`, `\t`, ..., `\xhh`):
    /// nginx never writes `\"` and Apache never writes `\x5C` for a
    /// backslash, so one decoder reads both exactly.
    Backslash,
    /// nginx `escape=json`: JSON string escapes; bytes >= 0x80 raw.
    Json,
    /// nginx `escape=none`: values verbatim.
    None,
}

/// The value with `escape` undone, as text (invalid UTF-8 replaced).
/// Borrows when there is nothing to undo.
pub(crate) fn unescape(raw: &[u8], escape: Escape) -> Cow<'_, str> {
    match unescape_bytes(raw, escape) {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => Cow::Owned(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }),
    }
}

/// The value with `escape` undone, as bytes.
pub(crate) fn unescape_bytes(raw: &[u8], escape: Escape) -> Cow<'_, [u8]> {
    if escape == Escape::None || memchr::memchr(b'\\', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let next = raw.get(i + 1).copied();
        let simple = match next {
            Some(b'"') => Some(b'"'),
            Some(b'\\') => Some(b'\\'),
            Some(b'/') if escape == Escape::Json => Some(b'/'),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(b'b') => Some(0x08),
            Some(b'f') if escape == Escape::Json => Some(0x0c),
            Some(b'v') if escape == Escape::Backslash => Some(0x0b),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        match next {
            Some(b'x') if escape == Escape::Backslash => {
                if let Some(v) = raw.get(i + 2..i + 4).and_then(hex_byte) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
            Some(b'u') if escape == Escape::Json => {
                if let Some(cp) = raw.get(i + 2..i + 6).and_then(hex_u16) {
                    let c = char::from_u32(u32::from(cp)).unwrap_or(char::REPLACEMENT_CHARACTER);
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 6;
                    continue;
                }
            }
            _ => {}
        }
        // Not an escape this writer produces: keep the backslash.
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_byte(s: &[u8]) -> Option<u8> {
    match s {
        [h, l] => Some(hex_val(*h)? << 4 | hex_val(*l)?),
        _ => None,
    }
}

fn hex_u16(s: &[u8]) -> Option<u16> {
    match s {
        [a, b, c, d] => Some(
            u16::from(hex_val(*a)?) << 12
                | u16::from(hex_val(*b)?) << 8
                | u16::from(hex_val(*c)?) << 4
                | u16::from(hex_val(*d)?),
        ),
        _ => None,
    }
}

/// Replace the contents of `dst` with `value`, keeping its allocation.
pub(crate) fn set_string(dst: &mut String, value: &str) {
    dst.clear();
    dst.push_str(value);
}

/// Set an optional text field, keeping its allocation when there is one.
pub(crate) fn set_opt(dst: &mut Option<String>, value: &str) {
    match dst {
        Some(s) => set_string(s, value),
        None => *dst = Some(value.to_owned()),
    }
}

/// Split a request line (unescaped) into method, target and protocol.
///
/// A line that is not `METHOD SP target [SP HTTP/x]` with a token for the
/// method (nginx logs whatever the client sent, e.g. a TLS hello on a plain
/// port) leaves method and protocol empty and puts the line in the target
/// escaped as nginx escapes it (`\xHH` for `"`, `\`, controls and bytes
/// above 0x7e), so it stays printable and, from an nginx log, reads
/// exactly as logged.
pub(crate) fn split_request(line: &[u8], record: &mut AccessRecord) {
    record.method.clear();
    record.protocol.clear();
    let text = String::from_utf8_lossy(line);
    let split = text.split_once(' ').and_then(|(method, rest)| {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return None;
        }
        let rest = rest.trim_start_matches(' ');
        match rest.rsplit_once(' ') {
            Some((target, proto)) if proto.starts_with("HTTP/") => {
                Some((method, target.trim_end_matches(' '), proto))
            }
            _ => Some((method, rest, "")),
        }
    });
    match split {
        Some((method, target, proto)) if !target.is_empty() => {
            record.method.push_str(method);
            set_string(&mut record.target, target);
            record.protocol.push_str(proto);
        }
        _ => {
            record.target.clear();
            for &b in line {
                if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
                    let hex = b"0123456789ABCDEF";
                    record.target.push('\\');
                    record.target.push('x');
                    record.target.push(char::from(hex[usize::from(b >> 4)]));
                    record.target.push(char::from(hex[usize::from(b & 0xf)]));
                } else {
                    record.target.push(char::from(b));
                }
            }
        }
    }
}

/// RFC 9110 token characters (what a method may be made of).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The nginx-style name of a request header field: `User-Agent` →
/// `http_user_agent`. Apache and audit-log headers use it too, so one
/// configured session header or cookie name works for every format.
pub(crate) fn header_field_name(prefix: &str, header: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + header.len());
    name.push_str(prefix);
    for c in header.chars() {
        name.push(if c == '-' {
            '_'
        } else {
            c.to_ascii_lowercase()
        });
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_formats_build() {
        let configs: Vec<FormatConfig> = serde_json::from_str(
            r#"[{"kind":"nginx"},
                {"kind":"nginx","log_format":"log_format m '$remote_addr $status';"},
                {"kind":"apache","log_format":"common"},
                {"kind":"json","mapping":{"client":["src"]}},
                {"kind":"modsecurity"}]"#,
        )
        .unwrap();
        let names: Vec<String> = configs
            .iter()
            .map(|c| c.build().unwrap().name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "nginx combined",
                "nginx log_format m",
                "apache common",
                "json lines",
                "modsecurity/coraza json audit"
            ]
        );
        let json = configs[3].build().unwrap();
        let r = json
            .parse(br#"{"src":"10.1.1.1","time":"2024-03-01T10:00:00Z","path":"/"}"#)
            .unwrap();
        assert_eq!(r.client.to_string(), "10.1.1.1");
        assert!(serde_json::from_str::<FormatConfig>(r#"{"kind":"iis"}"#).is_err());
        let bad = FormatConfig::Apache {
            log_format: "%Z".into(),
        };
        assert!(bad.build().is_err());
    }

    #[test]
    fn nginx_default_escapes_are_undone() {
        assert_eq!(
            unescape(br#"a\x22b\x5Cc\x09\xE2\x82\xAC"#, Escape::Backslash),
            "a\"b\\c\t€"
        );
        // Apache's escapes read with the same decoder.
        assert_eq!(
            unescape(br#"say \"hi\" \\ \n"#, Escape::Backslash),
            "say \"hi\" \\ \n"
        );
        // Lower-case hex (Apache) and an unknown escape kept verbatim.
        assert_eq!(unescape(br"\x1b\q", Escape::Backslash), "\u{1b}\\q");
        // A byte that is not UTF-8 becomes the replacement character.
        assert_eq!(unescape(br"\xFF", Escape::Backslash), "\u{fffd}");
        // Nothing to undo borrows.
        assert!(matches!(
            unescape(b"plain", Escape::Backslash),
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn json_escapes_are_undone() {
        assert_eq!(
            unescape(br#"q\"\\\/\n\u001b\u00e9"#, Escape::Json),
            "q\"\\/\n\u{1b}é"
        );
        assert_eq!(unescape(br"\x22", Escape::Json), "\\x22");
        assert_eq!(unescape(br"a\x22", Escape::None), "a\\x22");
        // Truncated escapes never panic.
        assert_eq!(unescape(br"\u12", Escape::Json), "\\u12");
        assert_eq!(unescape(br"\x2", Escape::Backslash), "\\x2");
        assert_eq!(unescape(br"\", Escape::Backslash), "\\");
    }

    #[test]
    fn request_lines_split_or_stay_whole() {
        let mut r = AccessRecord::default();
        split_request(b"GET /a?b=c HTTP/1.1", &mut r);
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.protocol.as_str()),
            ("GET", "/a?b=c", "HTTP/1.1")
        );
        split_request(b"GET /", &mut r);
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.protocol.as_str()),
            ("GET", "/", "")
        );
        split_request(b"\x16\x03\x01\x02\x00\x01\xff\"\\ok", &mut r);
        assert_eq!(r.method, "");
        assert_eq!(r.protocol, "");
        assert_eq!(r.target, r"\x16\x03\x01\x02\x00\x01\xFF\x22\x5Cok");
    }

    #[test]
    fn header_names_follow_nginx() {
        assert_eq!(
            header_field_name("http_", "X-Request-Id"),
            "http_x_request_id"
        );
        assert_eq!(header_field_name("cookie_", "sid"), "cookie_sid");
    }
}
