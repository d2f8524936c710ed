//! Rule text → [`Rule`]: Suricata's rule language, the subset real rulesets
//! use. Pure: text and [`Vars`] in, a rule or a [`RuleError`] out.
//!
//! One rule is `action protocol src sport direction dst dport (options)`,
//! options separated by `;`. In option values a backslash escapes the next
//! character (`\;`, `\"`, `\\`); an unescaped `;` ends an option, even
//! between quotes, as in Suricata. In `content`, `|41 42|` is hex. `pcre` patterns are
//! kept as written: their escapes (`\;`, `\"` included) mean the literal
//! character to a PCRE engine too.
//!
//! Buffers: a sticky buffer keyword (`http.uri;`, `file_data;`,
//! `dns_query;`) applies to every payload test after it; a content modifier
//! of the older form (`http_uri;` after a `content`) moves that one
//! content into the buffer; `uricontent` is `content` in `http.uri`; pcre
//! buffer flags (`U`, `H`, `P`, ...) pick the pcre's buffer. Once the rule
//! is read, its `flow` direction settles buffers that Suricata uses for
//! both directions: with `to_client`, `http.header` is the response header
//! block, `http.cookie` is `Set-Cookie`, and derived header buffers read
//! the response; with `to_server`, `file.data` is the request body.
//!
//! A rule that uses something Vigil does not support is an `Err` whose
//! [`RuleError::reason`] names it (`unsupported option: lua`,
//! `unsupported buffer: tls.certs`, `unsupported protocol: smtp`); parsing
//! never panics.

use std::fmt::{self, Write as _};

use crate::rule::*;
use crate::vars::{VarError, Vars};

/// Why a rule was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// An option Vigil does not support.
    #[error("unsupported option: {0}")]
    UnsupportedOption(String),
    /// A buffer the capture pipeline does not provide.
    #[error("unsupported buffer: {0}")]
    UnsupportedBuffer(String),
    /// A header protocol Vigil has no parser for.
    #[error("unsupported protocol: {0}")]
    UnsupportedProtocol(String),
    /// A supported option used in an unsupported way.
    #[error("unsupported {option}: {detail}")]
    UnsupportedForm {
        /// The option.
        option: String,
        /// What about it.
        detail: String,
    },
    /// The header is malformed.
    #[error("bad header: {0}")]
    Header(String),
    /// An address or port in the header does not resolve.
    #[error("bad header: {0}")]
    Var(#[from] VarError),
    /// An option's value is malformed.
    #[error("bad option {option}: {detail}")]
    BadOption {
        /// The option.
        option: String,
        /// What is wrong.
        detail: String,
    },
    /// The rule has no `sid`.
    #[error("missing sid")]
    MissingSid,
}

impl RuleError {
    /// True when the rule is well-formed but uses something Vigil does not
    /// support (as opposed to a malformed rule).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            RuleError::UnsupportedOption(_)
                | RuleError::UnsupportedBuffer(_)
                | RuleError::UnsupportedProtocol(_)
                | RuleError::UnsupportedForm { .. }
        )
    }

    /// A short key to count skipped rules by: the message for unsupported
    /// things (`unsupported option: lua`), and the kind of error with the
    /// option for malformed rules (`bad option: content`).
    pub fn reason(&self) -> String {
        match self {
            RuleError::UnsupportedForm { option, .. } => format!("unsupported form of {option}"),
            RuleError::Header(_) | RuleError::Var(_) => match self {
                RuleError::Var(VarError::Unknown(name)) => format!("unknown variable: ${name}"),
                _ => "bad header".to_owned(),
            },
            RuleError::BadOption { option, .. } => format!("bad option: {option}"),
            other => other.to_string(),
        }
    }

    /// The option the error is about, when it is about one.
    pub fn option(&self) -> Option<&str> {
        match self {
            RuleError::UnsupportedOption(o)
            | RuleError::UnsupportedBuffer(o)
            | RuleError::UnsupportedForm { option: o, .. }
            | RuleError::BadOption { option: o, .. } => Some(o),
            RuleError::MissingSid => Some("sid"),
            _ => None,
        }
    }
}

fn bad(option: &str, detail: impl Into<String>) -> RuleError {
    RuleError::BadOption {
        option: option.to_owned(),
        detail: detail.into(),
    }
}

fn unsupported_form(option: &str, detail: impl Into<String>) -> RuleError {
    RuleError::UnsupportedForm {
        option: option.to_owned(),
        detail: detail.into(),
    }
}

/// Parse one rule (without a leading `#`; continuation lines already
/// joined), resolving header variables with `vars`.
pub fn parse_rule(text: &str, vars: &Vars) -> Result<Rule, RuleError> {
    let text = text.trim();
    let open = text
        .find('(')
        .ok_or_else(|| RuleError::Header("no option list".into()))?;
    let (head, rest) = text.split_at(open);
    let body = rest
        .get(1..)
        .and_then(|r| r.trim_end().strip_suffix(')'))
        .ok_or_else(|| RuleError::Header("option list does not end with )".into()))?;

    let fields = split_header(head)?;
    let [action, proto, src, sport, dir, dst, dport] = fields;
    let action = match action {
        "alert" => Action::Alert,
        "pass" => Action::Pass,
        "drop" => Action::Drop,
        "reject" | "rejectsrc" | "rejectdst" | "rejectboth" => Action::Reject,
        other => return Err(RuleError::Header(format!("unknown action {other:?}"))),
    };
    let protocol = parse_protocol(proto)?;
    let mut rule = Rule::new(action, protocol, 0);
    rule.src = vars.resolve_addr(src)?;
    rule.src_ports = vars.resolve_port(sport)?;
    rule.direction = match dir {
        "->" => RuleDirection::ToDst,
        "<>" => RuleDirection::Both,
        other => return Err(RuleError::Header(format!("bad direction {other:?}"))),
    };
    rule.dst = vars.resolve_addr(dst)?;
    rule.dst_ports = vars.resolve_port(dport)?;

    let mut b = Builder {
        rule,
        sticky: BufferSpec::PAYLOAD,
        last_content: None,
        sid: None,
    };
    for (name, value) in split_options(body)? {
        b.option(name, value)?;
    }
    let mut rule = b.rule;
    rule.sid = b.sid.ok_or(RuleError::MissingSid)?;
    settle_direction(&mut rule);
    Ok(rule)
}

/// The seven header fields; lists in brackets may contain spaces.
fn split_header(head: &str) -> Result<[&str; 7], RuleError> {
    let mut fields = Vec::with_capacity(7);
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    for (i, c) in head.char_indices() {
        match c {
            '[' => {
                depth += 1;
                start.get_or_insert(i);
            }
            ']' => {
                depth = depth.saturating_sub(1);
            }
            c if c.is_whitespace() && depth == 0 => {
                if let Some(s) = start.take() {
                    fields.push(head.get(s..i).unwrap_or_default());
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        fields.push(head.get(s..).unwrap_or_default());
    }
    let n = fields.len();
    fields
        .try_into()
        .map_err(|_| RuleError::Header(format!("expected 7 header fields, found {n}")))
}

fn parse_protocol(proto: &str) -> Result<Protocol, RuleError> {
    Ok(match proto.to_ascii_lowercase().as_str() {
        "ip" | "pkthdr" | "ipv4" | "ipv6" => Protocol::Ip,
        "tcp" => Protocol::Tcp,
        "tcp-pkt" => Protocol::TcpPkt,
        "tcp-stream" => Protocol::TcpStream,
        "udp" => Protocol::Udp,
        "icmp" | "icmpv4" | "icmpv6" => Protocol::Icmp,
        "http" | "http1" => Protocol::App(AppProto::Http),
        "dns" => Protocol::App(AppProto::Dns),
        "tls" => Protocol::App(AppProto::Tls),
        "ssh" => Protocol::App(AppProto::Ssh),
        "quic" => Protocol::App(AppProto::Quic),
        _ => return Err(RuleError::UnsupportedProtocol(proto.to_owned())),
    })
}

/// Split the option list at each `;` not escaped by a backslash, into
/// `(name, value)`. Quotes do not protect a `;` (as in Suricata: a `;`
/// inside a value is written `\;` or `|3b|`), so a pcre such as `/["']x/`
/// needs no escaping of its quote.
fn split_options(body: &str) -> Result<Vec<(&str, Option<&str>)>, RuleError> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ';' => {
                out.push(body.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    let tail = body.get(start..).unwrap_or_default().trim();
    if !tail.is_empty() {
        let name = tail.split(':').next().unwrap_or_default().trim();
        return Err(bad(name, "option not terminated by ;"));
    }
    out.into_iter()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| match o.split_once(':') {
            Some((name, value)) => Ok((name.trim(), Some(value.trim()))),
            None => Ok((o, None)),
        })
        .collect()
}

/// `"text"` or `!"text"` → (negated, raw text between the quotes).
fn quoted<'a>(option: &str, value: &'a str) -> Result<(bool, &'a str), RuleError> {
    let (negated, v) = match value.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, value),
    };
    let inner = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| v.len() >= 2)
        .ok_or_else(|| bad(option, "expected a quoted string"))?;
    Ok((negated, inner))
}

/// Remove backslash escapes.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decode a content string: escapes removed, `|hex|` decoded.
pub fn decode_content(raw: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    let mut hex = false;
    let mut nibble: Option<u8> = None;
    while let Some(b) = bytes.next() {
        if hex {
            match b {
                b'|' => {
                    if nibble.is_some() {
                        return Err("odd number of hex digits".into());
                    }
                    hex = false;
                }
                b' ' | b'\t' => {
                    if nibble.is_some() {
                        return Err("space inside a hex byte".into());
                    }
                }
                _ => {
                    let d = (b as char)
                        .to_digit(16)
                        .ok_or_else(|| format!("bad hex digit {:?}", b as char))?;
                    let d = d as u8; // a hex digit is below 16
                    match nibble.take() {
                        Some(hi) => out.push(hi << 4 | d),
                        None => nibble = Some(d),
                    }
                }
            }
        } else {
            match b {
                b'|' => hex = true,
                b'\\' => out.push(bytes.next().ok_or("trailing backslash")?),
                _ => out.push(b),
            }
        }
    }
    if hex {
        return Err("unterminated |hex|".into());
    }
    if out.is_empty() {
        return Err("empty content".into());
    }
    Ok(out)
}

/// How a buffer keyword applies.
#[derive(Clone, Copy)]
enum Form {
    /// Sets the sticky buffer for what follows.
    Sticky,
    /// Moves the previous content into the buffer.
    Modifier,
}

/// What a buffer keyword names: a selection, or a reason it is not
/// supported.
type BufferDef = (&'static str, Form, Option<BufferSel>);

const fn hv(name: &'static str, side: HttpSide) -> Option<BufferSel> {
    Some(BufferSel::HttpHeaderValue { name, side })
}

const fn seam(b: Buffer) -> Option<BufferSel> {
    Some(BufferSel::Seam(b))
}

/// Every buffer keyword Vigil knows, with the form it takes. `None`: a
/// buffer the pipeline does not provide (the rule is skipped).
const BUFFERS: &[BufferDef] = &[
    ("pkt_data", Form::Sticky, Some(BufferSel::Payload)),
    ("http.uri", Form::Sticky, seam(Buffer::HttpUri)),
    ("http_uri", Form::Modifier, seam(Buffer::HttpUri)),
    ("http.uri.raw", Form::Sticky, seam(Buffer::HttpRawUri)),
    ("http_raw_uri", Form::Modifier, seam(Buffer::HttpRawUri)),
    ("http.method", Form::Sticky, seam(Buffer::HttpMethod)),
    ("http_method", Form::Modifier, seam(Buffer::HttpMethod)),
    ("http.host", Form::Sticky, seam(Buffer::HttpHost)),
    ("http_host", Form::Modifier, seam(Buffer::HttpHost)),
    ("http.host.raw", Form::Sticky, hv("host", HttpSide::Request)),
    (
        "http_raw_host",
        Form::Modifier,
        hv("host", HttpSide::Request),
    ),
    ("http.user_agent", Form::Sticky, seam(Buffer::HttpUserAgent)),
    (
        "http_user_agent",
        Form::Modifier,
        seam(Buffer::HttpUserAgent),
    ),
    ("http.header", Form::Sticky, seam(Buffer::HttpHeader)),
    ("http_header", Form::Modifier, seam(Buffer::HttpHeader)),
    (
        "http.request_header",
        Form::Sticky,
        seam(Buffer::HttpHeader),
    ),
    (
        "http.response_header",
        Form::Sticky,
        seam(Buffer::HttpResponseHeader),
    ),
    (
        "http.request_body",
        Form::Sticky,
        seam(Buffer::HttpRequestBody),
    ),
    (
        "http.client_body",
        Form::Sticky,
        seam(Buffer::HttpRequestBody),
    ),
    (
        "http_client_body",
        Form::Modifier,
        seam(Buffer::HttpRequestBody),
    ),
    ("http.response_body", Form::Sticky, seam(Buffer::FileData)),
    ("http.server_body", Form::Sticky, seam(Buffer::FileData)),
    ("http_server_body", Form::Modifier, seam(Buffer::FileData)),
    ("file.data", Form::Sticky, seam(Buffer::FileData)),
    ("file_data", Form::Sticky, seam(Buffer::FileData)),
    ("http.stat_code", Form::Sticky, seam(Buffer::HttpStatCode)),
    ("http_stat_code", Form::Modifier, seam(Buffer::HttpStatCode)),
    ("http.cookie", Form::Sticky, hv("cookie", HttpSide::Either)),
    (
        "http_cookie",
        Form::Modifier,
        hv("cookie", HttpSide::Either),
    ),
    (
        "http.content_type",
        Form::Sticky,
        hv("content-type", HttpSide::Either),
    ),
    (
        "http_content_type",
        Form::Sticky,
        hv("content-type", HttpSide::Either),
    ),
    (
        "http.content_len",
        Form::Sticky,
        hv("content-length", HttpSide::Either),
    ),
    (
        "http_content_len",
        Form::Sticky,
        hv("content-length", HttpSide::Either),
    ),
    (
        "http.referer",
        Form::Sticky,
        hv("referer", HttpSide::Request),
    ),
    (
        "http_referer",
        Form::Sticky,
        hv("referer", HttpSide::Request),
    ),
    ("http.accept", Form::Sticky, hv("accept", HttpSide::Request)),
    ("http_accept", Form::Sticky, hv("accept", HttpSide::Request)),
    (
        "http.accept_enc",
        Form::Sticky,
        hv("accept-encoding", HttpSide::Request),
    ),
    (
        "http_accept_enc",
        Form::Sticky,
        hv("accept-encoding", HttpSide::Request),
    ),
    (
        "http.accept_lang",
        Form::Sticky,
        hv("accept-language", HttpSide::Request),
    ),
    (
        "http_accept_lang",
        Form::Sticky,
        hv("accept-language", HttpSide::Request),
    ),
    (
        "http.connection",
        Form::Sticky,
        hv("connection", HttpSide::Either),
    ),
    (
        "http_connection",
        Form::Sticky,
        hv("connection", HttpSide::Either),
    ),
    (
        "http.location",
        Form::Sticky,
        hv("location", HttpSide::Response),
    ),
    (
        "http.server",
        Form::Sticky,
        hv("server", HttpSide::Response),
    ),
    (
        "http.header_names",
        Form::Sticky,
        Some(BufferSel::HttpHeaderNames {
            side: HttpSide::Either,
        }),
    ),
    (
        "http_header_names",
        Form::Sticky,
        Some(BufferSel::HttpHeaderNames {
            side: HttpSide::Either,
        }),
    ),
    ("dns.query", Form::Sticky, seam(Buffer::DnsQuery)),
    ("dns_query", Form::Sticky, seam(Buffer::DnsQuery)),
    ("tls.sni", Form::Sticky, seam(Buffer::TlsSni)),
    ("tls_sni", Form::Sticky, seam(Buffer::TlsSni)),
    (
        "tls.cert_subject",
        Form::Sticky,
        seam(Buffer::TlsCertSubject),
    ),
    (
        "tls_cert_subject",
        Form::Sticky,
        seam(Buffer::TlsCertSubject),
    ),
    ("tls.cert_issuer", Form::Sticky, seam(Buffer::TlsCertIssuer)),
    ("tls_cert_issuer", Form::Sticky, seam(Buffer::TlsCertIssuer)),
    ("ja3.hash", Form::Sticky, seam(Buffer::Ja3Hash)),
    ("ja3_hash", Form::Sticky, seam(Buffer::Ja3Hash)),
    ("ja3.string", Form::Sticky, seam(Buffer::Ja3String)),
    ("ja3_string", Form::Sticky, seam(Buffer::Ja3String)),
    // Buffers the pipeline does not provide.
    ("http.request_line", Form::Sticky, None),
    ("http_request_line", Form::Sticky, None),
    ("http.response_line", Form::Sticky, None),
    ("http_response_line", Form::Sticky, None),
    ("http.start", Form::Sticky, None),
    ("http_start", Form::Sticky, None),
    ("http.protocol", Form::Sticky, None),
    ("http_protocol", Form::Sticky, None),
    ("http.header.raw", Form::Sticky, None),
    ("http_raw_header", Form::Modifier, None),
    ("http.stat_msg", Form::Sticky, None),
    ("http_stat_msg", Form::Modifier, None),
    ("http.uri.raw.normalized", Form::Sticky, None),
    ("ja3s.hash", Form::Sticky, None),
    ("ja3s_hash", Form::Modifier, None),
    ("ja3s.string", Form::Sticky, None),
    ("tls.certs", Form::Sticky, None),
    ("tls.cert_serial", Form::Sticky, None),
    ("tls_cert_serial", Form::Modifier, None),
    ("tls.cert_fingerprint", Form::Sticky, None),
    ("tls_cert_fingerprint", Form::Modifier, None),
    ("tls.subjectaltname", Form::Sticky, None),
    ("base64_data", Form::Sticky, None),
];

fn buffer_def(name: &str) -> Option<&'static BufferDef> {
    BUFFERS.iter().find(|(n, _, _)| *n == name)
}

/// The keyword that selects `sel` as a sticky buffer (used when printing).
fn buffer_keyword(sel: &BufferSel) -> &'static str {
    match sel {
        BufferSel::Seam(Buffer::HttpHeader) => "http.header",
        BufferSel::Seam(Buffer::FileData) => "file.data",
        BufferSel::Seam(Buffer::HttpRequestBody) => "http.request_body",
        BufferSel::HttpHeaderValue {
            name: "set-cookie", ..
        } => "http.cookie",
        BufferSel::HttpHeaderNames { .. } => "http.header_names",
        BufferSel::HttpHeaderValue { name, .. } => BUFFERS
            .iter()
            .find(|(_, form, def)| {
                matches!(form, Form::Sticky)
                    && matches!(def, Some(BufferSel::HttpHeaderValue { name: n, .. }) if n == name)
            })
            .map_or("unknown_buffer", |(kw, _, _)| kw),
        other => BUFFERS
            .iter()
            .find(|(_, form, def)| matches!(form, Form::Sticky) && def.as_ref() == Some(other))
            .map_or("unknown_buffer", |(kw, _, _)| kw),
    }
}

const TRANSFORMS: &[(&str, Transform)] = &[
    ("dotprefix", Transform::DotPrefix),
    ("strip_whitespace", Transform::StripWhitespace),
    ("compress_whitespace", Transform::CompressWhitespace),
    ("to_lowercase", Transform::ToLowercase),
    ("to_uppercase", Transform::ToUppercase),
    ("url_decode", Transform::UrlDecode),
    ("to_md5", Transform::ToMd5),
    ("to_sha1", Transform::ToSha1),
    ("to_sha256", Transform::ToSha256),
    ("header_lowercase", Transform::HeaderLowercase),
    ("strip_pseudo_headers", Transform::StripPseudoHeaders),
];

fn transform_keyword(t: Transform) -> &'static str {
    TRANSFORMS
        .iter()
        .find(|(_, x)| *x == t)
        .map_or("unknown_transform", |(kw, _)| kw)
}

/// Parse state while reading options.
struct Builder {
    rule: Rule,
    sticky: BufferSpec,
    last_content: Option<usize>,
    sid: Option<u32>,
}

fn num<T: std::str::FromStr>(option: &str, value: Option<&str>) -> Result<T, RuleError> {
    let v = value.ok_or_else(|| bad(option, "missing value"))?.trim();
    v.parse().map_err(|_| {
        if v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            unsupported_form(option, format!("variable value {v:?}"))
        } else {
            bad(option, format!("bad number {v:?}"))
        }
    })
}

/// A number in decimal or `0x` hex.
fn int_value(option: &str, v: &str) -> Result<u64, RuleError> {
    let v = v.trim();
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| {
        if v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            unsupported_form(option, format!("variable value {v:?}"))
        } else {
            bad(option, format!("bad number {v:?}"))
        }
    })
}

fn signed(option: &str, v: &str) -> Result<i32, RuleError> {
    let v = v.trim();
    v.parse().map_err(|_| {
        if v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            unsupported_form(option, format!("variable value {v:?}"))
        } else {
            bad(option, format!("bad number {v:?}"))
        }
    })
}

/// `N`, `!N`, `<N`, `<=N`, `>N`, `>=N`, `A<>B`, `A-B`.
fn int_cmp(option: &str, v: &str) -> Result<IntCmp, RuleError> {
    let v = v.trim();
    let n = |s: &str| int_value(option, s);
    if let Some((lo, hi)) = v.split_once("<>").or_else(|| v.split_once('-')) {
        let (lo, hi) = (n(lo)?, n(hi)?);
        if lo >= hi {
            return Err(bad(option, format!("empty range {v:?}")));
        }
        return Ok(IntCmp::Between(lo, hi));
    }
    Ok(if let Some(r) = v.strip_prefix("<=") {
        IntCmp::Le(n(r)?)
    } else if let Some(r) = v.strip_prefix(">=") {
        IntCmp::Ge(n(r)?)
    } else if let Some(r) = v.strip_prefix('<') {
        IntCmp::Lt(n(r)?)
    } else if let Some(r) = v.strip_prefix('>') {
        IntCmp::Gt(n(r)?)
    } else if let Some(r) = v.strip_prefix('!') {
        IntCmp::Ne(n(r)?)
    } else if let Some(r) = v.strip_prefix('=') {
        IntCmp::Eq(n(r)?)
    } else {
        IntCmp::Eq(n(v)?)
    })
}

/// `key value` pairs separated by commas (threshold, detection_filter).
fn key_values<'a>(option: &str, v: &'a str) -> Result<Vec<(&'a str, &'a str)>, RuleError> {
    v.split(',')
        .map(|part| {
            let part = part.trim();
            part.split_once(char::is_whitespace)
                .map(|(k, val)| (k.trim(), val.trim()))
                .ok_or_else(|| bad(option, format!("expected `key value`, found {part:?}")))
        })
        .collect()
}

fn track(option: &str, v: &str) -> Result<Track, RuleError> {
    Ok(match v {
        "by_src" => Track::BySrc,
        "by_dst" => Track::ByDst,
        "by_both" => Track::ByBoth,
        "by_rule" => Track::ByRule,
        "by_flow" => Track::ByFlow,
        other => return Err(bad(option, format!("bad track {other:?}"))),
    })
}

impl Builder {
    fn content_mut(&mut self, option: &str) -> Result<&mut Content, RuleError> {
        let i = self
            .last_content
            .ok_or_else(|| bad(option, "no preceding content"))?;
        match self.rule.detection.get_mut(i).map(|d| &mut d.kind) {
            Some(DetectKind::Content(c)) => Ok(c),
            _ => Err(bad(option, "no preceding content")),
        }
    }

    fn push(&mut self, buffer: BufferSpec, kind: DetectKind) {
        if matches!(kind, DetectKind::Content(_)) {
            self.last_content = Some(self.rule.detection.len());
        }
        self.rule.detection.push(Detect { buffer, kind });
    }

    fn option(&mut self, name: &str, value: Option<&str>) -> Result<(), RuleError> {
        let need = |option: &str| value.ok_or_else(|| bad(option, "missing value"));
        match name {
            "msg" => self.rule.msg = unescape(quoted(name, need(name)?)?.1),
            "sid" => self.sid = Some(num(name, value)?),
            "rev" => self.rule.rev = num(name, value)?,
            "gid" => self.rule.gid = num(name, value)?,
            "classtype" => self.rule.classtype = Some(need(name)?.to_owned()),
            "priority" => self.rule.priority = Some(num(name, value)?),
            "reference" => {
                let v = need(name)?;
                let (kind, val) = v
                    .split_once(',')
                    .ok_or_else(|| bad(name, "expected type,value"))?;
                self.rule.references.push(Reference {
                    kind: kind.trim().to_owned(),
                    value: val.trim().to_owned(),
                });
            }
            "metadata" => {
                for item in need(name)?.split(',') {
                    let item = item.trim();
                    if item.is_empty() {
                        continue;
                    }
                    let (k, v) = item.split_once(char::is_whitespace).unwrap_or((item, ""));
                    let values = self.rule.metadata.entry(k.to_owned()).or_default();
                    if !v.trim().is_empty() {
                        values.push(v.trim().to_owned());
                    }
                }
            }
            "target" => {
                self.rule.target = Some(match need(name)? {
                    "src_ip" => Target::SrcIp,
                    "dest_ip" => Target::DestIp,
                    other => return Err(bad(name, format!("bad target {other:?}"))),
                })
            }
            "flow" => self.flow(need(name)?)?,
            "flowbits" => self.flowbits(need(name)?)?,
            "xbits" => self.xbits(need(name)?)?,
            "noalert" => self.rule.noalert = true,
            "dsize" => self.rule.dsize = Some(int_cmp(name, need(name)?)?),
            "threshold" => {
                let mut kind = None;
                let (mut tr, mut count, mut seconds) = (None, None, None);
                for (k, v) in key_values(name, need(name)?)? {
                    match k {
                        "type" => {
                            kind = Some(match v {
                                "limit" => ThresholdKind::Limit,
                                "threshold" => ThresholdKind::Threshold,
                                "both" => ThresholdKind::Both,
                                other => return Err(bad(name, format!("bad type {other:?}"))),
                            })
                        }
                        "track" => tr = Some(track(name, v)?),
                        "count" => count = Some(num(name, Some(v))?),
                        "seconds" => seconds = Some(num(name, Some(v))?),
                        other => return Err(bad(name, format!("unknown key {other:?}"))),
                    }
                }
                match (kind, tr, count, seconds) {
                    (Some(kind), Some(track), Some(count), Some(seconds)) => {
                        self.rule.threshold = Some(Threshold {
                            kind,
                            track,
                            count,
                            seconds,
                        })
                    }
                    _ => return Err(bad(name, "needs type, track, count and seconds")),
                }
            }
            "detection_filter" => {
                let (mut tr, mut count, mut seconds) = (None, None, None);
                for (k, v) in key_values(name, need(name)?)? {
                    match k {
                        "track" => tr = Some(track(name, v)?),
                        "count" => count = Some(num(name, Some(v))?),
                        "seconds" => seconds = Some(num(name, Some(v))?),
                        other => return Err(bad(name, format!("unknown key {other:?}"))),
                    }
                }
                match (tr, count, seconds) {
                    (Some(track), Some(count), Some(seconds)) => {
                        self.rule.detection_filter = Some(DetectionFilter {
                            track,
                            count,
                            seconds,
                        })
                    }
                    _ => return Err(bad(name, "needs track, count and seconds")),
                }
            }
            "content" | "uricontent" => {
                let (negated, raw) = quoted(name, need(name)?)?;
                let pattern = decode_content(raw).map_err(|e| bad(name, e))?;
                let buffer = if name == "uricontent" {
                    BufferSpec::seam(Buffer::HttpUri)
                } else {
                    self.sticky.clone()
                };
                self.push(
                    buffer,
                    DetectKind::Content(Content {
                        negated,
                        ..Content::new(pattern)
                    }),
                );
            }
            "nocase" => self.content_mut(name)?.nocase = true,
            "rawbytes" => {}
            "startswith" => self.content_mut(name)?.startswith = true,
            "endswith" => self.content_mut(name)?.endswith = true,
            "offset" => {
                let v = num(name, value)?;
                self.content_mut(name)?.offset = Some(v);
            }
            "depth" => {
                let v: u32 = num(name, value)?;
                if v == 0 {
                    return Err(bad(name, "depth 0"));
                }
                self.content_mut(name)?.depth = Some(v);
            }
            "distance" => {
                let v = signed(name, need(name)?)?;
                self.content_mut(name)?.distance = Some(v);
            }
            "within" => {
                let v: u32 = num(name, value)?;
                if v == 0 {
                    return Err(bad(name, "within 0"));
                }
                self.content_mut(name)?.within = Some(v);
            }
            "fast_pattern" => {
                let fp = match value.map(str::trim) {
                    None | Some("") => FastPattern::Yes,
                    Some("only") => FastPattern::Only,
                    Some(v) => {
                        let (o, l) = v
                            .split_once(',')
                            .ok_or_else(|| bad(name, "expected offset,length"))?;
                        FastPattern::Chop {
                            offset: num(name, Some(o))?,
                            len: num(name, Some(l))?,
                        }
                    }
                };
                let c = self.content_mut(name)?;
                if let FastPattern::Chop { offset, len } = fp {
                    if usize::from(offset) + usize::from(len) > c.pattern.len() || len == 0 {
                        return Err(bad(name, "chop outside the pattern"));
                    }
                }
                c.fast_pattern = fp;
            }
            "pcre" => self.pcre(need(name)?)?,
            "byte_test" => {
                let bt = byte_test(need(name)?)?;
                self.push(self.sticky.clone(), DetectKind::ByteTest(bt));
            }
            "byte_jump" => {
                let bj = byte_jump(need(name)?)?;
                self.push(self.sticky.clone(), DetectKind::ByteJump(bj));
            }
            "isdataat" => {
                let v = need(name)?;
                let mut parts = v.split(',').map(str::trim);
                let first = parts.next().unwrap_or_default();
                let (negated, n) = match first.strip_prefix('!') {
                    Some(n) => (true, n),
                    None => (false, first),
                };
                let mut ida = IsDataAt {
                    offset: num(name, Some(n))?,
                    negated,
                    relative: false,
                };
                for p in parts {
                    match p {
                        "relative" => ida.relative = true,
                        "rawbytes" => {}
                        other => return Err(bad(name, format!("unknown flag {other:?}"))),
                    }
                }
                self.push(self.sticky.clone(), DetectKind::IsDataAt(ida));
            }
            "bsize" => {
                if self.sticky.sel == BufferSel::Payload {
                    return Err(bad(name, "needs a sticky buffer"));
                }
                let cmp = int_cmp(name, need(name)?)?;
                self.push(self.sticky.clone(), DetectKind::Bsize(cmp));
            }
            "urilen" => {
                let v = need(name)?;
                let (cmp, kind) = v.split_once(',').unwrap_or((v, "norm"));
                let buffer = match kind.trim() {
                    "norm" => Buffer::HttpUri,
                    "raw" => Buffer::HttpRawUri,
                    other => return Err(bad(name, format!("unknown flag {other:?}"))),
                };
                let cmp = int_cmp(name, cmp)?;
                self.push(BufferSpec::seam(buffer), DetectKind::Bsize(cmp));
            }
            _ => return self.keyword(name, value),
        }
        Ok(())
    }

    /// Buffer keywords, transforms, and everything unsupported.
    fn keyword(&mut self, name: &str, value: Option<&str>) -> Result<(), RuleError> {
        if let Some((_, form, def)) = buffer_def(name) {
            let sel = def.ok_or_else(|| RuleError::UnsupportedBuffer(name.to_owned()))?;
            match form {
                Form::Sticky => {
                    self.sticky = BufferSpec {
                        sel,
                        transforms: Vec::new(),
                    }
                }
                Form::Modifier => {
                    let i = self
                        .last_content
                        .ok_or_else(|| bad(name, "no preceding content"))?;
                    if let Some(d) = self.rule.detection.get_mut(i) {
                        d.buffer = BufferSpec {
                            sel,
                            transforms: Vec::new(),
                        };
                    }
                }
            }
            return Ok(());
        }
        if let Some((_, t)) = TRANSFORMS.iter().find(|(kw, _)| *kw == name) {
            if self.sticky.sel == BufferSel::Payload {
                return Err(bad(name, "transform without a sticky buffer"));
            }
            self.sticky.transforms.push(*t);
            return Ok(());
        }
        if name.contains('.') && value.is_none() {
            return Err(RuleError::UnsupportedBuffer(name.to_owned()));
        }
        Err(RuleError::UnsupportedOption(name.to_owned()))
    }

    fn flow(&mut self, v: &str) -> Result<(), RuleError> {
        for part in v.split(',').map(str::trim) {
            let f = &mut self.rule.flow;
            match part {
                "established" => f.state = Some(FlowState::Established),
                "not_established" => f.state = Some(FlowState::NotEstablished),
                "stateless" => f.state = Some(FlowState::Stateless),
                "to_server" | "from_client" => f.dir = Some(FlowDir::ToServer),
                "to_client" | "from_server" => f.dir = Some(FlowDir::ToClient),
                "only_stream" => f.stream = Some(StreamMode::OnlyStream),
                "no_stream" => f.stream = Some(StreamMode::NoStream),
                "only_frag" | "no_frag" => return Err(unsupported_form("flow", part)),
                other => return Err(bad("flow", format!("unknown flag {other:?}"))),
            }
        }
        Ok(())
    }

    fn flowbits(&mut self, v: &str) -> Result<(), RuleError> {
        let (cmd, names) = v
            .split_once(',')
            .map_or((v.trim(), None), |(c, n)| (c.trim(), Some(n.trim())));
        let cmd = match cmd {
            "noalert" => {
                self.rule.noalert = true;
                return Ok(());
            }
            "set" => BitCmd::Set,
            "unset" => BitCmd::Unset,
            "toggle" => BitCmd::Toggle,
            "isset" => BitCmd::IsSet,
            "isnotset" => BitCmd::IsNotSet,
            other => return Err(bad("flowbits", format!("unknown command {other:?}"))),
        };
        let names = names
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad("flowbits", "missing name"))?;
        let any = names.contains('|');
        let list: Vec<String> = names
            .split(['|', '&'])
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        if list.is_empty() || (any && names.contains('&')) {
            return Err(bad("flowbits", format!("bad names {names:?}")));
        }
        self.rule.flowbits.push(Flowbit {
            cmd,
            names: list,
            any,
        });
        Ok(())
    }

    fn xbits(&mut self, v: &str) -> Result<(), RuleError> {
        let mut parts = v.split(',').map(str::trim);
        let cmd = match parts.next().unwrap_or_default() {
            "noalert" => {
                self.rule.noalert = true;
                return Ok(());
            }
            "set" => BitCmd::Set,
            "unset" => BitCmd::Unset,
            "toggle" => BitCmd::Toggle,
            "isset" => BitCmd::IsSet,
            "isnotset" => BitCmd::IsNotSet,
            other => return Err(bad("xbits", format!("unknown command {other:?}"))),
        };
        let name = parts
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad("xbits", "missing name"))?;
        let (mut tr, mut expire) = (None, None);
        for p in parts {
            let (k, val) = p.split_once(char::is_whitespace).unwrap_or((p, ""));
            match (k, val.trim()) {
                ("track", "ip_src") => tr = Some(XbitTrack::IpSrc),
                ("track", "ip_dst") => tr = Some(XbitTrack::IpDst),
                ("track", "ip_pair") => tr = Some(XbitTrack::IpPair),
                ("track", other) => {
                    return Err(unsupported_form("xbits", format!("track {other}")))
                }
                ("expire", n) => expire = Some(num("xbits", Some(n))?),
                (other, _) => return Err(bad("xbits", format!("unknown key {other:?}"))),
            }
        }
        let track = tr.ok_or_else(|| bad("xbits", "missing track"))?;
        self.rule.xbits.push(Xbit {
            cmd,
            name: name.to_owned(),
            track,
            expire,
        });
        Ok(())
    }

    fn pcre(&mut self, v: &str) -> Result<(), RuleError> {
        let (negated, inner) = quoted("pcre", v)?;
        let body = inner
            .strip_prefix('/')
            .ok_or_else(|| bad("pcre", "pattern does not start with /"))?;
        let end = body
            .rfind('/')
            .ok_or_else(|| bad("pcre", "pattern does not end with /"))?;
        let (pattern, flags_text) = body.split_at(end);
        let flags_text = flags_text.get(1..).unwrap_or_default();
        let mut flags = PcreFlags::default();
        let mut buffer: Option<BufferSel> = None;
        let mut set_buffer = |sel: BufferSel| -> Result<(), RuleError> {
            if buffer.is_some_and(|b| b != sel) {
                return Err(bad("pcre", "more than one buffer flag"));
            }
            buffer = Some(sel);
            Ok(())
        };
        for f in flags_text.chars() {
            match f {
                'i' => flags.caseless = true,
                's' => flags.dotall = true,
                'm' => flags.multiline = true,
                'x' => flags.extended = true,
                'A' => flags.anchored = true,
                'E' => flags.dollar_endonly = true,
                'G' => flags.ungreedy = true,
                'R' => flags.relative = true,
                'O' => flags.override_limits = true,
                'B' => {}
                'U' => set_buffer(BufferSel::Seam(Buffer::HttpUri))?,
                'I' => set_buffer(BufferSel::Seam(Buffer::HttpRawUri))?,
                'P' => set_buffer(BufferSel::Seam(Buffer::HttpRequestBody))?,
                'Q' => set_buffer(BufferSel::Seam(Buffer::FileData))?,
                'H' => set_buffer(BufferSel::Seam(Buffer::HttpHeader))?,
                'M' => set_buffer(BufferSel::Seam(Buffer::HttpMethod))?,
                'S' => set_buffer(BufferSel::Seam(Buffer::HttpStatCode))?,
                'V' => set_buffer(BufferSel::Seam(Buffer::HttpUserAgent))?,
                'W' => set_buffer(BufferSel::Seam(Buffer::HttpHost))?,
                'C' => set_buffer(BufferSel::HttpHeaderValue {
                    name: "cookie",
                    side: HttpSide::Either,
                })?,
                'Z' => set_buffer(BufferSel::HttpHeaderValue {
                    name: "host",
                    side: HttpSide::Request,
                })?,
                'D' => return Err(RuleError::UnsupportedBuffer("http.header.raw".into())),
                'Y' => return Err(RuleError::UnsupportedBuffer("http.stat_msg".into())),
                other => return Err(bad("pcre", format!("unknown flag {other:?}"))),
            }
        }
        if pattern.is_empty() {
            return Err(bad("pcre", "empty pattern"));
        }
        let buffer = match buffer {
            Some(sel) => BufferSpec {
                sel,
                transforms: Vec::new(),
            },
            None => self.sticky.clone(),
        };
        let pcre = Pcre {
            pattern: pattern.to_owned(),
            negated,
            flags,
        };
        self.push(buffer, DetectKind::Pcre(pcre));
        Ok(())
    }
}

fn base(option: &str, v: &str) -> Result<NumBase, RuleError> {
    Ok(match v {
        "dec" => NumBase::Dec,
        "hex" => NumBase::Hex,
        "oct" => NumBase::Oct,
        other => return Err(bad(option, format!("bad string base {other:?}"))),
    })
}

fn byte_count(option: &str, v: &str, string: bool) -> Result<u8, RuleError> {
    let n: u8 = num(option, Some(v))?;
    let max = if string { 23 } else { 8 };
    if n == 0 && string {
        return Err(unsupported_form(option, "0 bytes (rest of the buffer)"));
    }
    if n == 0 || n > max {
        return Err(bad(option, format!("cannot read {n} bytes")));
    }
    Ok(n)
}

fn byte_test(v: &str) -> Result<ByteTest, RuleError> {
    const OPT: &str = "byte_test";
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    let [bytes, op, value, offset, rest @ ..] = parts.as_slice() else {
        return Err(bad(OPT, "expected bytes, operator, value, offset"));
    };
    let (negated, op_text) = match op.strip_prefix('!') {
        Some(o) => (true, o.trim()),
        None => (false, *op),
    };
    let op = match op_text {
        "<" => ByteOp::Lt,
        ">" => ByteOp::Gt,
        "=" => ByteOp::Eq,
        "" if negated => ByteOp::Eq,
        "<=" => ByteOp::Le,
        ">=" => ByteOp::Ge,
        "&" => ByteOp::And,
        "^" => ByteOp::Xor,
        other => return Err(bad(OPT, format!("bad operator {other:?}"))),
    };
    let mut bt = ByteTest {
        bytes: 0,
        op,
        negated,
        value: int_value(OPT, value)?,
        offset: signed(OPT, offset)?,
        relative: false,
        endian: Endian::Big,
        string: None,
        bitmask: None,
        dce: false,
    };
    for flag in rest.iter().copied() {
        match flag {
            "relative" => bt.relative = true,
            "big" => bt.endian = Endian::Big,
            "little" => bt.endian = Endian::Little,
            "dce" => bt.dce = true,
            "string" => bt.string = Some(NumBase::Dec),
            "dec" | "hex" | "oct" => bt.string = Some(base(OPT, flag)?),
            f if f.starts_with("bitmask") => {
                let m = f.trim_start_matches("bitmask").trim();
                bt.bitmask = Some(int_value(OPT, m)?);
            }
            other => return Err(bad(OPT, format!("unknown flag {other:?}"))),
        }
    }
    bt.bytes = byte_count(OPT, bytes, bt.string.is_some())?;
    Ok(bt)
}

fn byte_jump(v: &str) -> Result<ByteJump, RuleError> {
    const OPT: &str = "byte_jump";
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    let [bytes, offset, rest @ ..] = parts.as_slice() else {
        return Err(bad(OPT, "expected bytes, offset"));
    };
    let mut bj = ByteJump {
        bytes: 0,
        offset: signed(OPT, offset)?,
        relative: false,
        multiplier: 1,
        endian: Endian::Big,
        string: None,
        align: false,
        from_beginning: false,
        from_end: false,
        post_offset: 0,
        bitmask: None,
        dce: false,
    };
    for flag in rest.iter().copied() {
        let (k, arg) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        match k {
            "relative" => bj.relative = true,
            "big" => bj.endian = Endian::Big,
            "little" => bj.endian = Endian::Little,
            "dce" => bj.dce = true,
            "string" => bj.string = Some(NumBase::Dec),
            "dec" | "hex" | "oct" => bj.string = Some(base(OPT, k)?),
            "align" => bj.align = true,
            "from_beginning" => bj.from_beginning = true,
            "from_end" => bj.from_end = true,
            "multiplier" => bj.multiplier = num(OPT, Some(arg))?,
            "post_offset" => bj.post_offset = signed(OPT, arg)?,
            "bitmask" => bj.bitmask = Some(int_value(OPT, arg)?),
            other => return Err(bad(OPT, format!("unknown flag {other:?}"))),
        }
    }
    if bj.from_beginning && bj.from_end {
        return Err(bad(OPT, "from_beginning and from_end"));
    }
    bj.bytes = byte_count(OPT, bytes, bj.string.is_some())?;
    Ok(bj)
}

/// Buffers Suricata uses for both directions, settled by the rule's flow
/// direction (see the module docs).
fn settle_direction(rule: &mut Rule) {
    let Some(dir) = rule.flow.dir else { return };
    let side = match dir {
        FlowDir::ToServer => HttpSide::Request,
        FlowDir::ToClient => HttpSide::Response,
    };
    for d in &mut rule.detection {
        d.buffer.sel = match (d.buffer.sel, dir) {
            (BufferSel::Seam(Buffer::HttpHeader), FlowDir::ToClient) => {
                BufferSel::Seam(Buffer::HttpResponseHeader)
            }
            (BufferSel::Seam(Buffer::FileData), FlowDir::ToServer) => {
                BufferSel::Seam(Buffer::HttpRequestBody)
            }
            (BufferSel::HttpHeaderValue { name: "cookie", .. }, FlowDir::ToClient) => {
                BufferSel::HttpHeaderValue {
                    name: "set-cookie",
                    side,
                }
            }
            (
                BufferSel::HttpHeaderValue {
                    name,
                    side: HttpSide::Either,
                },
                _,
            ) => BufferSel::HttpHeaderValue { name, side },
            (
                BufferSel::HttpHeaderNames {
                    side: HttpSide::Either,
                },
                _,
            ) => BufferSel::HttpHeaderNames { side },
            (other, _) => other,
        };
    }
}

// ---------------------------------------------------------------------------
// Printing: a rule as text that parses back to the same rule.

/// Escape bytes for a `content` string: printable ASCII stays, the rest and
/// `"`, `;`, `\`, `|` become `|hex|`.
pub fn encode_content(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut in_hex = false;
    for &b in bytes {
        let plain = (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b';' | b'\\' | b'|');
        if plain {
            if in_hex {
                out.push('|');
                in_hex = false;
            }
            out.push(b as char);
        } else {
            if in_hex {
                out.push(' ');
            } else {
                out.push('|');
                in_hex = true;
            }
            let _ = write!(out, "{b:02X}");
        }
    }
    if in_hex {
        out.push('|');
    }
    out
}

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | ';' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn track_name(t: Track) -> &'static str {
    match t {
        Track::BySrc => "by_src",
        Track::ByDst => "by_dst",
        Track::ByBoth => "by_both",
        Track::ByRule => "by_rule",
        Track::ByFlow => "by_flow",
    }
}

fn bit_cmd(c: BitCmd) -> &'static str {
    match c {
        BitCmd::Set => "set",
        BitCmd::Unset => "unset",
        BitCmd::Toggle => "toggle",
        BitCmd::IsSet => "isset",
        BitCmd::IsNotSet => "isnotset",
    }
}

fn endian_base(f: &mut String, endian: Endian, string: Option<NumBase>) {
    if endian == Endian::Little {
        f.push_str(",little");
    }
    if let Some(b) = string {
        f.push_str(match b {
            NumBase::Dec => ",string,dec",
            NumBase::Hex => ",string,hex",
            NumBase::Oct => ",string,oct",
        });
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.direction {
            RuleDirection::ToDst => "->",
            RuleDirection::Both => "<>",
        };
        write!(
            f,
            "{} {} {} {} {} {} {} (msg:\"{}\";",
            self.action.name(),
            self.protocol.name(),
            self.src,
            self.src_ports,
            dir,
            self.dst,
            self.dst_ports,
            escape_text(&self.msg)
        )?;
        let fl = &self.flow;
        if fl.state.is_some() || fl.dir.is_some() || fl.stream.is_some() {
            let mut parts = Vec::new();
            parts.extend(fl.state.map(|s| match s {
                FlowState::Established => "established",
                FlowState::NotEstablished => "not_established",
                FlowState::Stateless => "stateless",
            }));
            parts.extend(fl.dir.map(|d| match d {
                FlowDir::ToServer => "to_server",
                FlowDir::ToClient => "to_client",
            }));
            parts.extend(fl.stream.map(|s| match s {
                StreamMode::OnlyStream => "only_stream",
                StreamMode::NoStream => "no_stream",
            }));
            write!(f, " flow:{};", parts.join(","))?;
        }
        for fb in &self.flowbits {
            let sep = if fb.any { "|" } else { "&" };
            write!(f, " flowbits:{},{};", bit_cmd(fb.cmd), fb.names.join(sep))?;
        }
        for xb in &self.xbits {
            let track = match xb.track {
                XbitTrack::IpSrc => "ip_src",
                XbitTrack::IpDst => "ip_dst",
                XbitTrack::IpPair => "ip_pair",
            };
            write!(f, " xbits:{},{},track {track}", bit_cmd(xb.cmd), xb.name)?;
            if let Some(e) = xb.expire {
                write!(f, ",expire {e}")?;
            }
            f.write_str(";")?;
        }
        if self.noalert {
            f.write_str(" noalert;")?;
        }
        if let Some(d) = self.dsize {
            write!(f, " dsize:{d};")?;
        }
        let mut sticky = BufferSpec::PAYLOAD;
        for d in &self.detection {
            if d.buffer != sticky {
                let kw = match d.buffer.sel {
                    BufferSel::Payload => "pkt_data",
                    ref sel => buffer_keyword(sel),
                };
                write!(f, " {kw};")?;
                for t in &d.buffer.transforms {
                    write!(f, " {};", transform_keyword(*t))?;
                }
                sticky = d.buffer.clone();
            }
            f.write_str(" ")?;
            f.write_str(&detect_text(&d.kind))?;
        }
        if let Some(t) = self.threshold {
            let kind = match t.kind {
                ThresholdKind::Limit => "limit",
                ThresholdKind::Threshold => "threshold",
                ThresholdKind::Both => "both",
            };
            write!(
                f,
                " threshold:type {kind},track {},count {},seconds {};",
                track_name(t.track),
                t.count,
                t.seconds
            )?;
        }
        if let Some(t) = self.detection_filter {
            write!(
                f,
                " detection_filter:track {},count {},seconds {};",
                track_name(t.track),
                t.count,
                t.seconds
            )?;
        }
        for r in &self.references {
            write!(f, " reference:{},{};", r.kind, r.value)?;
        }
        if let Some(c) = &self.classtype {
            write!(f, " classtype:{c};")?;
        }
        if let Some(t) = self.target {
            f.write_str(match t {
                Target::SrcIp => " target:src_ip;",
                Target::DestIp => " target:dest_ip;",
            })?;
        }
        if let Some(p) = self.priority {
            write!(f, " priority:{p};")?;
        }
        let meta: Vec<String> = self
            .metadata
            .iter()
            .flat_map(|(k, vs)| {
                if vs.is_empty() {
                    vec![k.clone()]
                } else {
                    vs.iter().map(|v| format!("{k} {v}")).collect()
                }
            })
            .collect();
        if !meta.is_empty() {
            write!(f, " metadata:{};", meta.join(", "))?;
        }
        write!(f, " sid:{}; rev:{};", self.sid, self.rev)?;
        if self.gid != 1 {
            write!(f, " gid:{};", self.gid)?;
        }
        f.write_str(")")
    }
}

fn detect_text(kind: &DetectKind) -> String {
    let mut s = String::new();
    match kind {
        DetectKind::Content(c) => {
            let bang = if c.negated { "!" } else { "" };
            let _ = write!(s, "content:{bang}\"{}\";", encode_content(&c.pattern));
            if c.nocase {
                s.push_str(" nocase;");
            }
            if let Some(o) = c.offset {
                let _ = write!(s, " offset:{o};");
            }
            if let Some(d) = c.depth {
                let _ = write!(s, " depth:{d};");
            }
            if let Some(d) = c.distance {
                let _ = write!(s, " distance:{d};");
            }
            if let Some(w) = c.within {
                let _ = write!(s, " within:{w};");
            }
            if c.startswith {
                s.push_str(" startswith;");
            }
            if c.endswith {
                s.push_str(" endswith;");
            }
            match c.fast_pattern {
                FastPattern::No => {}
                FastPattern::Yes => s.push_str(" fast_pattern;"),
                FastPattern::Only => s.push_str(" fast_pattern:only;"),
                FastPattern::Chop { offset, len } => {
                    let _ = write!(s, " fast_pattern:{offset},{len};");
                }
            }
        }
        DetectKind::Pcre(p) => {
            let bang = if p.negated { "!" } else { "" };
            let fl = p.flags;
            let flags: String = [
                (fl.caseless, 'i'),
                (fl.dotall, 's'),
                (fl.multiline, 'm'),
                (fl.extended, 'x'),
                (fl.anchored, 'A'),
                (fl.dollar_endonly, 'E'),
                (fl.ungreedy, 'G'),
                (fl.relative, 'R'),
                (fl.override_limits, 'O'),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
            let _ = write!(s, "pcre:{bang}\"/{}/{flags}\";", p.pattern);
        }
        DetectKind::ByteTest(b) => {
            let bang = if b.negated { "!" } else { "" };
            let op = match b.op {
                ByteOp::Lt => "<",
                ByteOp::Gt => ">",
                ByteOp::Eq => "=",
                ByteOp::Le => "<=",
                ByteOp::Ge => ">=",
                ByteOp::And => "&",
                ByteOp::Xor => "^",
            };
            let _ = write!(
                s,
                "byte_test:{},{bang}{op},{},{}",
                b.bytes, b.value, b.offset
            );
            if b.relative {
                s.push_str(",relative");
            }
            endian_base(&mut s, b.endian, b.string);
            if b.dce {
                s.push_str(",dce");
            }
            if let Some(m) = b.bitmask {
                let _ = write!(s, ",bitmask {m:#x}");
            }
            s.push(';');
        }
        DetectKind::ByteJump(b) => {
            let _ = write!(s, "byte_jump:{},{}", b.bytes, b.offset);
            if b.relative {
                s.push_str(",relative");
            }
            if b.multiplier != 1 {
                let _ = write!(s, ",multiplier {}", b.multiplier);
            }
            endian_base(&mut s, b.endian, b.string);
            if b.align {
                s.push_str(",align");
            }
            if b.from_beginning {
                s.push_str(",from_beginning");
            }
            if b.from_end {
                s.push_str(",from_end");
            }
            if b.post_offset != 0 {
                let _ = write!(s, ",post_offset {}", b.post_offset);
            }
            if b.dce {
                s.push_str(",dce");
            }
            if let Some(m) = b.bitmask {
                let _ = write!(s, ",bitmask {m:#x}");
            }
            s.push(';');
        }
        DetectKind::IsDataAt(i) => {
            let bang = if i.negated { "!" } else { "" };
            let rel = if i.relative { ",relative" } else { "" };
            let _ = write!(s, "isdataat:{bang}{}{rel};", i.offset);
        }
        DetectKind::Bsize(c) => {
            let _ = write!(s, "bsize:{c};");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(opts: &str) -> Result<Rule, RuleError> {
        parse_rule(
            &format!("alert http any any -> any any ({opts} sid:1;)"),
            &Vars::default(),
        )
    }

    fn ok(opts: &str) -> Rule {
        rule(opts).unwrap_or_else(|e| panic!("{opts}: {e}"))
    }

    fn only_content(r: &Rule) -> (&BufferSpec, &Content) {
        match r.detection.as_slice() {
            [Detect {
                buffer,
                kind: DetectKind::Content(c),
            }] => (buffer, c),
            other => panic!("expected one content, got {other:?}"),
        }
    }

    #[test]
    fn header_forms() {
        let v = Vars::default();
        let r = parse_rule(
            "drop tcp [10.0.0.0/8,!10.1.0.0/16] ![80,443] <> $HOME_NET 1024: (msg:\"x\"; sid:7; rev:3; gid:2;)",
            &v,
        )
        .unwrap();
        assert_eq!(r.action, Action::Drop);
        assert_eq!(r.protocol, Protocol::Tcp);
        assert_eq!(r.direction, RuleDirection::Both);
        assert!(
            r.src.matches("10.2.0.1".parse().unwrap())
                && !r.src.matches("10.1.0.1".parse().unwrap())
        );
        assert!(!r.src_ports.matches(443) && r.src_ports.matches(8080));
        assert!(r.dst_ports.matches(1024) && !r.dst_ports.matches(1023));
        assert_eq!((r.sid, r.rev, r.gid), (7, 3, 2));
        for (proto, want) in [
            ("dns", Protocol::App(AppProto::Dns)),
            ("tls", Protocol::App(AppProto::Tls)),
            ("ssh", Protocol::App(AppProto::Ssh)),
            ("udp", Protocol::Udp),
            ("icmp", Protocol::Icmp),
            ("ip", Protocol::Ip),
            ("tcp-pkt", Protocol::TcpPkt),
        ] {
            let r = parse_rule(&format!("alert {proto} any any -> any any (sid:1;)"), &v).unwrap();
            assert_eq!(r.protocol, want);
        }
    }

    #[test]
    fn errors_name_the_option_or_part() {
        let v = Vars::default();
        let cases: &[(&str, &str)] = &[
            ("alert smtp any any -> any any (sid:1;)", "unsupported protocol: smtp"),
            ("alert tcp any any -> any any (lua:x.lua; sid:1;)", "unsupported option: lua"),
            ("alert http any any -> any any (http.request_line; content:\"a\"; sid:1;)", "unsupported buffer: http.request_line"),
            ("alert http any any -> any any (smb.named_pipe; content:\"a\"; sid:1;)", "unsupported buffer: smb.named_pipe"),
            ("alert http any any -> any any (content:\"a\"; http_raw_header; sid:1;)", "unsupported buffer: http_raw_header"),
            ("alert http any any -> any any (pcre:\"/a/D\"; sid:1;)", "unsupported buffer: http.header.raw"),
            ("alert tcp any any -> any any (content:\"a\"; byte_test:2,=,x,0; sid:1;)", "unsupported form of byte_test"),
            ("alert tcp any any -> any any (flow:only_frag; sid:1;)", "unsupported form of flow"),
            ("alert tcp any any -> any any (msg:\"x\";)", "missing sid"),
            ("alert tcp any any -> any (sid:1;)", "bad header"),
            ("alert tcp any any => any any (sid:1;)", "bad header"),
            ("hello tcp any any -> any any (sid:1;)", "bad header"),
            ("alert tcp $NOPE any -> any any (sid:1;)", "unknown variable: $NOPE"),
            ("alert tcp any any -> any any (sid:1;", "bad header"),
            ("alert tcp any any -> any any (nocase; sid:1;)", "bad option: nocase"),
            ("alert tcp any any -> any any (content:\"|4\"; sid:1;)", "bad option: content"),
            ("alert tcp any any -> any any (content:\"|zz|\"; sid:1;)", "bad option: content"),
            ("alert tcp any any -> any any (content:abc; sid:1;)", "bad option: content"),
            ("alert tcp any any -> any any (content:\"\"; sid:1;)", "bad option: content"),
            ("alert tcp any any -> any any (content:\"a\"; depth:x1; sid:1;)", "unsupported form of depth"),
            ("alert tcp any any -> any any (content:\"a\"; depth:-1; sid:1;)", "bad option: depth"),
            ("alert tcp any any -> any any (content:\"a\"; within:0; sid:1;)", "bad option: within"),
            ("alert tcp any any -> any any (content:\"ab\"; fast_pattern:1,5; sid:1;)", "bad option: fast_pattern"),
            ("alert tcp any any -> any any (pcre:\"a/i\"; sid:1;)", "bad option: pcre"),
            ("alert tcp any any -> any any (pcre:\"/a/q\"; sid:1;)", "bad option: pcre"),
            ("alert tcp any any -> any any (pcre:\"/a/UH\"; sid:1;)", "bad option: pcre"),
            ("alert tcp any any -> any any (flow:sideways; sid:1;)", "bad option: flow"),
            ("alert tcp any any -> any any (flowbits:set; sid:1;)", "bad option: flowbits"),
            ("alert tcp any any -> any any (flowbits:frob,x; sid:1;)", "bad option: flowbits"),
            ("alert tcp any any -> any any (threshold:type limit, count 1; sid:1;)", "bad option: threshold"),
            ("alert tcp any any -> any any (threshold:type x, track by_src, count 1, seconds 1; sid:1;)", "bad option: threshold"),
            ("alert tcp any any -> any any (detection_filter:track by_nobody, count 1, seconds 1; sid:1;)", "bad option: detection_filter"),
            ("alert tcp any any -> any any (dsize:5<>3; sid:1;)", "bad option: dsize"),
            ("alert tcp any any -> any any (bsize:3; sid:1;)", "bad option: bsize"),
            ("alert tcp any any -> any any (dotprefix; sid:1;)", "bad option: dotprefix"),
            ("alert tcp any any -> any any (byte_test:9,=,1,0; sid:1;)", "bad option: byte_test"),
            ("alert tcp any any -> any any (byte_test:2,~,1,0; sid:1;)", "bad option: byte_test"),
            ("alert tcp any any -> any any (byte_jump:2,0,from_end,from_beginning; sid:1;)", "bad option: byte_jump"),
            ("alert tcp any any -> any any (isdataat:1,sideways; sid:1;)", "bad option: isdataat"),
            ("alert tcp any any -> any any (xbits:set,x; sid:1;)", "bad option: xbits"),
            ("alert tcp any any -> any any (target:nobody; sid:1;)", "bad option: target"),
            ("alert tcp any any -> any any (sid:1; msg:\"x\")", "bad option: msg"),
        ];
        for (text, reason) in cases {
            let err = parse_rule(text, &v).expect_err(text);
            assert_eq!(err.reason(), *reason, "{text}: {err}");
        }
        let err = rule("lua:x;").unwrap_err();
        assert_eq!(err.option(), Some("lua"));
        assert!(err.is_unsupported());
        assert!(!rule("nocase;").unwrap_err().is_unsupported());
    }

    #[test]
    fn content_decoding_and_escapes() {
        let cases: &[(&str, &[u8])] = &[
            (r#"content:"abc";"#, b"abc"),
            (r#"content:"a|3b 3A|b";"#, b"a;:b"),
            (r#"content:"|0d0a|";"#, b"\r\n"),
            (r#"content:"a\;b\"c\\d";"#, b"a;b\"c\\d"),
            (r#"content:"|ff 00|x";"#, &[0xff, 0, b'x']),
            (r#"content: "spaced";"#, b"spaced"),
        ];
        for (opts, want) in cases {
            let r = ok(opts);
            assert_eq!(only_content(&r).1.pattern, *want, "{opts}");
        }
        let r = ok(r#"content:!"x"; nocase;"#);
        let (_, c) = only_content(&r);
        assert!(c.negated && c.nocase);
        let r = ok(r#"msg:"a \"quoted\" \; msg";"#);
        assert_eq!(r.msg, "a \"quoted\" ; msg");
    }

    #[test]
    fn content_modifiers() {
        let r = ok(
            r#"content:"a"; offset:2; depth:10; content:"b"; distance:-3; within:5; fast_pattern; content:"c"; startswith; endswith; rawbytes; content:"dd"; fast_pattern:1,1; content:"e"; fast_pattern:only;"#,
        );
        let cs: Vec<&Content> = r
            .detection
            .iter()
            .map(|d| match &d.kind {
                DetectKind::Content(c) => c,
                _ => panic!(),
            })
            .collect();
        assert_eq!((cs[0].offset, cs[0].depth), (Some(2), Some(10)));
        assert_eq!((cs[1].distance, cs[1].within), (Some(-3), Some(5)));
        assert!(cs[1].is_relative() && !cs[0].is_relative());
        assert_eq!(cs[1].fast_pattern, FastPattern::Yes);
        assert!(cs[2].startswith && cs[2].endswith);
        assert_eq!(cs[3].fast_pattern, FastPattern::Chop { offset: 1, len: 1 });
        assert_eq!(cs[4].fast_pattern, FastPattern::Only);
        assert_eq!(r.explicit_fast_pattern(), Some(1));
    }

    #[test]
    fn buffers_sticky_and_modifier_forms() {
        let u = BufferSel::Seam(Buffer::HttpUri);
        let cases: &[(&str, BufferSel)] = &[
            (r#"http.uri; content:"a";"#, u),
            (r#"content:"a"; http_uri;"#, u),
            (r#"uricontent:"a";"#, u),
            (
                r#"http.uri.raw; content:"a";"#,
                BufferSel::Seam(Buffer::HttpRawUri),
            ),
            (
                r#"content:"a"; http_raw_uri;"#,
                BufferSel::Seam(Buffer::HttpRawUri),
            ),
            (
                r#"content:"a"; http_header;"#,
                BufferSel::Seam(Buffer::HttpHeader),
            ),
            (
                r#"content:"a"; http_client_body;"#,
                BufferSel::Seam(Buffer::HttpRequestBody),
            ),
            (
                r#"http.request_body; content:"a";"#,
                BufferSel::Seam(Buffer::HttpRequestBody),
            ),
            (
                r#"content:"a"; http_method;"#,
                BufferSel::Seam(Buffer::HttpMethod),
            ),
            (
                r#"content:"a"; http_user_agent;"#,
                BufferSel::Seam(Buffer::HttpUserAgent),
            ),
            (
                r#"content:"a"; http_host;"#,
                BufferSel::Seam(Buffer::HttpHost),
            ),
            (
                r#"content:"a"; http_stat_code;"#,
                BufferSel::Seam(Buffer::HttpStatCode),
            ),
            (
                r#"file_data; content:"a";"#,
                BufferSel::Seam(Buffer::FileData),
            ),
            (
                r#"file.data; content:"a";"#,
                BufferSel::Seam(Buffer::FileData),
            ),
            (
                r#"dns_query; content:"a";"#,
                BufferSel::Seam(Buffer::DnsQuery),
            ),
            (
                r#"dns.query; content:"a";"#,
                BufferSel::Seam(Buffer::DnsQuery),
            ),
            (r#"tls_sni; content:"a";"#, BufferSel::Seam(Buffer::TlsSni)),
            (r#"tls.sni; content:"a";"#, BufferSel::Seam(Buffer::TlsSni)),
            (
                r#"tls.cert_subject; content:"a";"#,
                BufferSel::Seam(Buffer::TlsCertSubject),
            ),
            (
                r#"ja3.hash; content:"a";"#,
                BufferSel::Seam(Buffer::Ja3Hash),
            ),
            (r#"http.uri; pkt_data; content:"a";"#, BufferSel::Payload),
            (r#"content:"a";"#, BufferSel::Payload),
            (
                r#"http.cookie; content:"a";"#,
                BufferSel::HttpHeaderValue {
                    name: "cookie",
                    side: HttpSide::Either,
                },
            ),
            (
                r#"http.header_names; content:"a";"#,
                BufferSel::HttpHeaderNames {
                    side: HttpSide::Either,
                },
            ),
            // pcre buffer flags override the sticky buffer.
            (r#"http.host; pcre:"/a/U";"#, u),
            (r#"pcre:"/a/P";"#, BufferSel::Seam(Buffer::HttpRequestBody)),
            (
                r#"pcre:"/a/C";"#,
                BufferSel::HttpHeaderValue {
                    name: "cookie",
                    side: HttpSide::Either,
                },
            ),
        ];
        for (opts, want) in cases {
            let r = ok(opts);
            assert_eq!(
                r.detection.last().map(|d| d.buffer.sel),
                Some(*want),
                "{opts}"
            );
        }
        // The sticky buffer applies to everything after it, a modifier to one content.
        let r = ok(r#"content:"a"; http.uri; content:"b"; content:"c";"#);
        let sels: Vec<BufferSel> = r.detection.iter().map(|d| d.buffer.sel).collect();
        assert_eq!(sels, vec![BufferSel::Payload, u, u]);
        assert_eq!(r.seam_buffers(), vec![Buffer::HttpUri]);
        assert!(r.uses_payload());
    }

    #[test]
    fn flow_direction_settles_two_way_buffers() {
        let to_client = |opts: &str| ok(&format!("flow:established,to_client; {opts}"));
        let to_server = |opts: &str| ok(&format!("flow:established,to_server; {opts}"));
        let sel = |r: Rule| r.detection[0].buffer.sel;
        assert_eq!(
            sel(to_client(r#"http.header; content:"a";"#)),
            BufferSel::Seam(Buffer::HttpResponseHeader)
        );
        assert_eq!(
            sel(to_server(r#"http.header; content:"a";"#)),
            BufferSel::Seam(Buffer::HttpHeader)
        );
        assert_eq!(
            sel(to_server(r#"file.data; content:"a";"#)),
            BufferSel::Seam(Buffer::HttpRequestBody)
        );
        assert_eq!(
            sel(to_client(r#"file.data; content:"a";"#)),
            BufferSel::Seam(Buffer::FileData)
        );
        assert_eq!(
            sel(to_client(r#"http.cookie; content:"a";"#)),
            BufferSel::HttpHeaderValue {
                name: "set-cookie",
                side: HttpSide::Response
            }
        );
        assert_eq!(
            sel(to_server(r#"http.content_type; content:"a";"#)),
            BufferSel::HttpHeaderValue {
                name: "content-type",
                side: HttpSide::Request
            }
        );
        assert_eq!(
            sel(to_client(r#"http.header_names; content:"a";"#)),
            BufferSel::HttpHeaderNames {
                side: HttpSide::Response
            }
        );
    }

    #[test]
    fn transforms_attach_to_the_sticky_buffer() {
        let r =
            ok(r#"dns.query; dotprefix; content:".evil.com"; endswith; http.uri; content:"x";"#);
        assert_eq!(r.detection[0].buffer.transforms, vec![Transform::DotPrefix]);
        assert!(r.detection[1].buffer.transforms.is_empty());
    }

    #[test]
    fn pcre_forms() {
        let r = ok(r#"pcre:!"/^a\;b[\"']c/smixAEGRO";"#);
        let DetectKind::Pcre(p) = &r.detection[0].kind else {
            panic!()
        };
        assert_eq!(p.pattern, r#"^a\;b[\"']c"#);
        assert!(p.negated);
        let f = p.flags;
        assert!(f.caseless && f.dotall && f.multiline && f.extended && f.anchored);
        assert!(f.dollar_endonly && f.ungreedy && f.relative && f.override_limits);
        // A quote inside a character class needs no escape; the slash search is from the end.
        let r = ok(r#"pcre:"/^["']?a\/b/Ri";"#);
        let DetectKind::Pcre(p) = &r.detection[0].kind else {
            panic!()
        };
        assert_eq!(p.pattern, r#"^["']?a\/b"#);
    }

    #[test]
    fn byte_tests_and_isdataat() {
        let r = ok("byte_test:4,>,1000,20,relative,little; byte_test:2,!&,0x8000,0; byte_test:3,=,100,-2,relative,string,dec,bitmask 0xff; byte_jump:4,-12,relative,from_beginning,little,multiplier 2,post_offset -3,align; isdataat:!1,relative; isdataat:50;");
        let kinds: Vec<&DetectKind> = r.detection.iter().map(|d| &d.kind).collect();
        let DetectKind::ByteTest(a) = kinds[0] else {
            panic!()
        };
        assert_eq!(
            (a.bytes, a.op, a.value, a.offset, a.relative, a.endian),
            (4, ByteOp::Gt, 1000, 20, true, Endian::Little)
        );
        let DetectKind::ByteTest(b) = kinds[1] else {
            panic!()
        };
        assert_eq!((b.op, b.negated, b.value), (ByteOp::And, true, 0x8000));
        let DetectKind::ByteTest(c) = kinds[2] else {
            panic!()
        };
        assert_eq!(
            (c.string, c.bitmask, c.offset),
            (Some(NumBase::Dec), Some(0xff), -2)
        );
        let DetectKind::ByteJump(j) = kinds[3] else {
            panic!()
        };
        assert_eq!(
            (j.bytes, j.offset, j.multiplier, j.post_offset),
            (4, -12, 2, -3)
        );
        assert!(j.relative && j.from_beginning && j.align && j.endian == Endian::Little);
        assert_eq!(
            kinds[4],
            &DetectKind::IsDataAt(IsDataAt {
                offset: 1,
                negated: true,
                relative: true
            })
        );
        assert_eq!(
            kinds[5],
            &DetectKind::IsDataAt(IsDataAt {
                offset: 50,
                negated: false,
                relative: false
            })
        );
    }

    #[test]
    fn rule_level_options() {
        let r = ok("flow:established,to_server,only_stream; flowbits:set,a; flowbits:isset,b|c; flowbits:noalert; xbits:set,x,track ip_src,expire 60; dsize:>100; threshold: type limit, track by_src, seconds 60, count 1; detection_filter:track by_dst, count 5, seconds 10; reference:url,example.com/a,b; reference:cve,2021-44228; classtype:trojan-activity; priority:2; target:dest_ip; metadata:former_category MALWARE, tag c2, tag x;");
        assert_eq!(
            r.flow,
            FlowOpts {
                state: Some(FlowState::Established),
                dir: Some(FlowDir::ToServer),
                stream: Some(StreamMode::OnlyStream)
            }
        );
        assert_eq!(
            r.flowbits[0],
            Flowbit {
                cmd: BitCmd::Set,
                names: vec!["a".into()],
                any: false
            }
        );
        assert_eq!(
            r.flowbits[1],
            Flowbit {
                cmd: BitCmd::IsSet,
                names: vec!["b".into(), "c".into()],
                any: true
            }
        );
        assert!(r.noalert);
        assert_eq!(
            r.xbits[0],
            Xbit {
                cmd: BitCmd::Set,
                name: "x".into(),
                track: XbitTrack::IpSrc,
                expire: Some(60)
            }
        );
        assert_eq!(r.dsize, Some(IntCmp::Gt(100)));
        assert_eq!(
            r.threshold,
            Some(Threshold {
                kind: ThresholdKind::Limit,
                track: Track::BySrc,
                count: 1,
                seconds: 60
            })
        );
        assert_eq!(
            r.detection_filter,
            Some(DetectionFilter {
                track: Track::ByDst,
                count: 5,
                seconds: 10
            })
        );
        assert_eq!(
            r.references[0],
            Reference {
                kind: "url".into(),
                value: "example.com/a,b".into()
            }
        );
        assert_eq!(r.classtype.as_deref(), Some("trojan-activity"));
        assert_eq!((r.priority, r.target), (Some(2), Some(Target::DestIp)));
        assert_eq!(r.metadata["tag"], vec!["c2".to_owned(), "x".to_owned()]);
        assert_eq!(r.metadata["former_category"], vec!["MALWARE".to_owned()]);
        for (text, want) in [
            ("5", IntCmp::Eq(5)),
            ("!5", IntCmp::Ne(5)),
            ("<5", IntCmp::Lt(5)),
            ("<=5", IntCmp::Le(5)),
            (">=5", IntCmp::Ge(5)),
            ("2<>9", IntCmp::Between(2, 9)),
        ] {
            assert_eq!(ok(&format!("dsize:{text};")).dsize, Some(want), "{text}");
        }
        let r = ok("urilen:>10; urilen:5,raw; http.host; bsize:<30;");
        let b: Vec<(BufferSel, &DetectKind)> = r
            .detection
            .iter()
            .map(|d| (d.buffer.sel, &d.kind))
            .collect();
        assert_eq!(
            b[0],
            (
                BufferSel::Seam(Buffer::HttpUri),
                &DetectKind::Bsize(IntCmp::Gt(10))
            )
        );
        assert_eq!(
            b[1],
            (
                BufferSel::Seam(Buffer::HttpRawUri),
                &DetectKind::Bsize(IntCmp::Eq(5))
            )
        );
        assert_eq!(
            b[2],
            (
                BufferSel::Seam(Buffer::HttpHost),
                &DetectKind::Bsize(IntCmp::Lt(30))
            )
        );
    }

    #[test]
    fn encode_content_round_trips() {
        let bytes: &[u8] = b"a;b\"c|d\\e\r\n\xff ";
        let text = encode_content(bytes);
        assert_eq!(decode_content(&text).unwrap(), bytes);
    }

    #[test]
    fn display_round_trips_real_rules() {
        let v = Vars::default();
        let texts = [
            r#"alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"ET x \"y\""; flow:established,to_client; http.header; content:"Server|3a 20|x"; nocase; file.data; content:"MZ"; depth:2; content:"PE|00 00|"; distance:0; within:200; fast_pattern; http.cookie; content:"a=b"; reference:url,example.com; classtype:trojan-activity; metadata:tag x, tag y; sid:2000001; rev:4;)"#,
            r#"alert dns any any -> any any (msg:"dns"; dns.query; dotprefix; content:".evil.example"; endswith; threshold:type both,track by_src,count 2,seconds 60; sid:5; rev:1;)"#,
            r#"alert tcp any any -> any [80,!81] (msg:"b"; flowbits:isset,a|b; flowbits:noalert; dsize:10<>20; content:"a"; byte_test:2,!&,0x8000,0,relative,little; byte_jump:4,-1,relative,from_beginning,post_offset 2; isdataat:!3,relative; pcre:"/x\;y/Ri"; urilen:3; sid:6; rev:0; gid:3;)"#,
        ];
        for text in texts {
            let r = parse_rule(text, &v).unwrap();
            let printed = r.to_string();
            let again = parse_rule(&printed, &v).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(again, r, "{printed}");
        }
    }

    fn arb_content() -> impl Strategy<Value = Content> {
        (
            prop::collection::vec(any::<u8>(), 1..12),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(0u32..100),
            prop::option::of(1u32..100),
            prop::option::of(-50i32..50),
            prop::option::of(1u32..100),
            any::<bool>(),
        )
            .prop_map(
                |(pattern, negated, nocase, offset, depth, distance, within, fp)| Content {
                    pattern,
                    negated,
                    nocase,
                    offset,
                    depth,
                    distance,
                    within,
                    startswith: false,
                    endswith: false,
                    fast_pattern: if fp {
                        FastPattern::Yes
                    } else {
                        FastPattern::No
                    },
                },
            )
    }

    fn arb_buffer() -> impl Strategy<Value = BufferSel> {
        prop::sample::select(vec![
            BufferSel::Payload,
            BufferSel::Seam(Buffer::HttpUri),
            BufferSel::Seam(Buffer::HttpRawUri),
            BufferSel::Seam(Buffer::HttpHost),
            BufferSel::Seam(Buffer::HttpRequestBody),
            BufferSel::Seam(Buffer::DnsQuery),
            BufferSel::Seam(Buffer::TlsSni),
            BufferSel::HttpHeaderValue {
                name: "referer",
                side: HttpSide::Request,
            },
        ])
    }

    proptest! {
        #[test]
        fn random_text_never_panics(text in ".{0,300}") {
            let _ = parse_rule(&text, &Vars::default());
        }

        #[test]
        fn random_options_never_panic(opts in prop::collection::vec("[a-z_.]{1,12}(:[ -~]{0,20})?", 0..8)) {
            let text = format!("alert http any any -> any any ({} sid:1;)", opts.join("; "));
            let _ = parse_rule(&text, &Vars::default());
        }

        #[test]
        fn parse_print_parse_is_identity(
            items in prop::collection::vec((arb_buffer(), arb_content()), 0..6),
            msg in "[ -~]{0,30}",
            sid in 1u32..10_000_000,
        ) {
            let mut r = Rule::new(Action::Alert, Protocol::App(AppProto::Http), sid);
            r.msg = msg;
            r.detection = items
                .into_iter()
                .map(|(sel, c)| Detect { buffer: BufferSpec { sel, transforms: Vec::new() }, kind: DetectKind::Content(c) })
                .collect();
            let printed = r.to_string();
            let parsed = parse_rule(&printed, &Vars::default());
            prop_assert_eq!(parsed, Ok(r), "{}", printed);
        }
    }
}
