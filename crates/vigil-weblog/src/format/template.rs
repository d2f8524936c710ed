//! The template matcher shared by nginx `log_format` and Apache `LogFormat`:
//! a compiled list of literal text and variables, each variable bound to
//! the [`AccessRecord`] field it fills.
//!
//! Matching is a single left-to-right pass. A variable's value runs up to
//! the first place the next literal matches, skipping backslash escapes
//! (so `\"` or `\x22` inside a User-Agent never ends it); the common log
//! time, which contains a space, is measured by its fixed layout instead.
//! After the last item the line must be used up.

use std::net::IpAddr;

use crate::format::time;
use crate::format::{
    set_opt, set_string, split_request, unescape, unescape_bytes, Escape, ParseError,
};
use crate::record::AccessRecord;

/// The record field a variable fills.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Slot {
    Client,
    ClientPort,
    User,
    /// `10/Oct/2000:13:55:36 -0700`, with or without brackets.
    TimeClf,
    TimeIso,
    /// Seconds with an optional fraction.
    TimeEpoch,
    /// Integer milliseconds / microseconds since the epoch.
    TimeEpochMillis,
    TimeEpochMicros,
    /// A `strftime` pattern.
    TimeStrftime(Box<str>),
    Request,
    Method,
    /// The full target, path and query (`$request_uri`).
    Target,
    /// The path only (`$uri`, `%U`).
    Path,
    /// The query string without `?` (`$args`).
    Args,
    /// Apache `%q`: the query string with its leading `?`.
    QueryWithMark,
    Protocol,
    Status,
    /// Body bytes; `-` is 0.
    Bytes,
    Referer,
    UserAgent,
    Host,
    ForwardedFor,
    RequestTimeSecs,
    RequestTimeMillis,
    RequestTimeMicros,
    ServerAddr,
    ServerPort,
    /// Kept in [`AccessRecord::fields`] under this name.
    Field(Box<str>),
}

impl Slot {
    fn is_time(&self) -> bool {
        matches!(
            self,
            Self::TimeClf
                | Self::TimeIso
                | Self::TimeEpoch
                | Self::TimeEpochMillis
                | Self::TimeEpochMicros
                | Self::TimeStrftime(_)
        )
    }

    fn is_request_time(&self) -> bool {
        matches!(
            self,
            Self::RequestTimeSecs | Self::RequestTimeMillis | Self::RequestTimeMicros
        )
    }
}

/// One piece of a compiled format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Literal(Box<[u8]>),
    Var {
        slot: Slot,
        /// As written in the format, e.g. `$status` or `%>s`, for errors.
        name: Box<str>,
    },
}

/// A compiled nginx or Apache format. Build it with
/// [`Parser::nginx`](crate::format::Parser::nginx) or
/// [`Parser::apache`](crate::format::Parser::apache).
#[derive(Debug, Clone)]
pub struct TemplateParser {
    items: Vec<Item>,
    escape: Escape,
    name: String,
}

// Bits of `Seen`: which optional fields this line set.
const USER: u16 = 1;
const REFERER: u16 = 1 << 1;
const USER_AGENT: u16 = 1 << 2;
const HOST: u16 = 1 << 3;
const FORWARDED: u16 = 1 << 4;
const REQUEST_TIME: u16 = 1 << 5;
const CLIENT_PORT: u16 = 1 << 6;
const SERVER_ADDR: u16 = 1 << 7;
const SERVER_PORT: u16 = 1 << 8;
const TARGET: u16 = 1 << 9;

impl TemplateParser {
    /// Compile `items` (adjacent literals merged) into a parser, moving
    /// duplicate sources of one field to `fields` so that each record field
    /// has exactly one source: the first time variable, `$request` over its
    /// parts, `$request_uri` over `$uri`/`$args`, the first host.
    pub(crate) fn new(items: Vec<Item>, escape: Escape, name: String) -> Self {
        let has = |f: &dyn Fn(&Slot) -> bool| {
            items
                .iter()
                .any(|i| matches!(i, Item::Var { slot, .. } if f(slot)))
        };
        let has_request = has(&|s| *s == Slot::Request);
        let has_target = has(&|s| *s == Slot::Target);
        let mut merged: Vec<Item> = Vec::with_capacity(items.len());
        let mut seen: Vec<Slot> = Vec::new();
        let mut seen_time = false;
        let mut seen_request_time = false;
        for item in items {
            let item = match item {
                Item::Var { slot, name } => {
                    let demote = match &slot {
                        Slot::Field(_) => false,
                        s if s.is_time() => std::mem::replace(&mut seen_time, true),
                        s if s.is_request_time() => std::mem::replace(&mut seen_request_time, true),
                        Slot::Method | Slot::Target | Slot::Protocol => has_request,
                        Slot::Path | Slot::Args | Slot::QueryWithMark => has_request || has_target,
                        s => seen.contains(s),
                    };
                    if !demote {
                        seen.push(slot.clone());
                        Item::Var { slot, name }
                    } else {
                        let field: String = name
                            .chars()
                            .filter(|c| !matches!(c, '$' | '%' | '{' | '}' | '<' | '>'))
                            .collect();
                        Item::Var {
                            slot: Slot::Field(field.into()),
                            name,
                        }
                    }
                }
                literal => literal,
            };
            match (merged.last_mut(), item) {
                (Some(Item::Literal(prev)), Item::Literal(next)) => {
                    let mut joined = prev.to_vec();
                    joined.extend_from_slice(&next);
                    *prev = joined.into_boxed_slice();
                }
                (_, Item::Literal(l)) if l.is_empty() => {}
                (_, item) => merged.push(item),
            }
        }
        Self {
            items: merged,
            escape,
            name,
        }
    }

    /// The name shown in reports, e.g. `nginx combined`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn parse_into(
        &self,
        line: &[u8],
        record: &mut AccessRecord,
    ) -> Result<(), ParseError> {
        record.status = 0;
        record.bytes_sent = 0;
        record.method.clear();
        record.target.clear();
        record.protocol.clear();
        record.fields.clear();
        record.waf_matches.clear();
        let mut state = State::default();
        let mut pos = 0usize;
        for (index, item) in self.items.iter().enumerate() {
            let rest = line.get(pos..).unwrap_or_default();
            match item {
                Item::Literal(lit) => {
                    if !rest.starts_with(lit) {
                        return Err(ParseError::Literal {
                            expected: String::from_utf8_lossy(lit).into_owned(),
                            at: pos,
                        });
                    }
                    pos += lit.len();
                }
                Item::Var { slot, name } => {
                    let end = match self.items.get(index + 1) {
                        None => rest.len(),
                        Some(Item::Literal(lit)) => {
                            let fixed = match slot {
                                Slot::TimeClf => clf_extent(rest),
                                _ => None,
                            };
                            match fixed {
                                Some(n) if rest.get(n..).is_some_and(|r| r.starts_with(lit)) => n,
                                _ => find_literal(rest, lit, self.escape).ok_or_else(|| {
                                    ParseError::Unterminated {
                                        field: name.to_string(),
                                        expected: String::from_utf8_lossy(lit).into_owned(),
                                        at: pos,
                                    }
                                })?,
                            }
                        }
                        // Two variables back to back (`$host$request_uri`,
                        // `%U%q`): the first ends where its kind of value does.
                        Some(Item::Var { .. }) => adjacent_extent(slot, rest),
                    };
                    let raw = rest.get(..end).unwrap_or_default();
                    self.assign(slot, name, raw, record, &mut state)?;
                    pos += end;
                }
            }
        }
        if pos < line.len() {
            return Err(ParseError::Trailing {
                at: pos,
                len: line.len() - pos,
            });
        }
        finish(record, state);
        Ok(())
    }

    fn assign(
        &self,
        slot: &Slot,
        name: &str,
        raw: &[u8],
        record: &mut AccessRecord,
        state: &mut State,
    ) -> Result<(), ParseError> {
        // nginx writes `-` for a missing variable (empty with escape=json),
        // Apache `-` for an absent header.
        let absent = raw.is_empty() || raw == b"-";
        match slot {
            Slot::Client => {
                record.client = parse_ip(raw)
                    .ok_or_else(|| ParseError::bad_value(name, raw, "an ip address"))?;
            }
            Slot::ServerAddr if !absent => {
                record.server_addr = Some(
                    parse_ip(raw)
                        .ok_or_else(|| ParseError::bad_value(name, raw, "an ip address"))?,
                );
                state.seen |= SERVER_ADDR;
            }
            Slot::ClientPort | Slot::ServerPort if !absent => {
                let port = parse_u64(raw)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| ParseError::bad_value(name, raw, "a port"))?;
                if *slot == Slot::ClientPort {
                    record.client_port = Some(port);
                    state.seen |= CLIENT_PORT;
                } else {
                    record.server_port = Some(port);
                    state.seen |= SERVER_PORT;
                }
            }
            Slot::TimeClf => {
                record.time = time::parse_clf(raw).ok_or_else(|| {
                    ParseError::bad_value(name, raw, "a time like 10/Oct/2000:13:55:36 -0700")
                })?;
            }
            Slot::TimeIso => {
                record.time = std::str::from_utf8(raw)
                    .ok()
                    .and_then(time::parse_iso8601)
                    .ok_or_else(|| ParseError::bad_value(name, raw, "an iso 8601 time"))?;
            }
            Slot::TimeEpoch => {
                record.time = time::parse_epoch_secs(raw)
                    .ok_or_else(|| ParseError::bad_value(name, raw, "seconds since the epoch"))?;
            }
            Slot::TimeEpochMillis | Slot::TimeEpochMicros => {
                let unit = if *slot == Slot::TimeEpochMillis {
                    1_000_000
                } else {
                    1_000
                };
                record.time = time::parse_epoch_units(raw, unit).ok_or_else(|| {
                    ParseError::bad_value(name, raw, "an integer time since the epoch")
                })?;
            }
            Slot::TimeStrftime(pattern) => {
                let text = unescape(raw, self.escape);
                record.time = time::parse_strftime(&text, pattern).ok_or_else(|| {
                    ParseError::bad_value(name, raw, "a time in the configured form")
                })?;
            }
            Slot::Request => {
                split_request(&unescape_bytes(raw, self.escape), record);
                state.seen |= TARGET;
            }
            Slot::Method if !absent => set_string(&mut record.method, &unescape(raw, self.escape)),
            Slot::Protocol if !absent => {
                set_string(&mut record.protocol, &unescape(raw, self.escape))
            }
            Slot::Target if !absent => {
                set_string(&mut record.target, &unescape(raw, self.escape));
                state.seen |= TARGET;
            }
            Slot::Path if !absent => {
                // Written before the query so `$args`/`%q` can append.
                let path = unescape(raw, self.escape);
                let query = std::mem::take(&mut record.target);
                set_string(&mut record.target, &path);
                record.target.push_str(&query);
                state.seen |= TARGET;
            }
            Slot::Args | Slot::QueryWithMark if !absent => {
                let text = unescape(raw, self.escape);
                let query = text.strip_prefix('?').unwrap_or(&text);
                if !query.is_empty() {
                    record.target.push('?');
                    record.target.push_str(query);
                }
            }
            Slot::Status => {
                record.status = parse_u64(raw)
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| ParseError::bad_value(name, raw, "a status code"))?;
            }
            Slot::Bytes if !absent => {
                record.bytes_sent = parse_u64(raw)
                    .ok_or_else(|| ParseError::bad_value(name, raw, "a byte count"))?;
            }
            Slot::User if !absent => {
                set_opt(&mut record.user, &unescape(raw, self.escape));
                state.seen |= USER;
            }
            Slot::Referer if !absent => {
                set_opt(&mut record.referer, &unescape(raw, self.escape));
                state.seen |= REFERER;
            }
            Slot::UserAgent if !absent => {
                set_opt(&mut record.user_agent, &unescape(raw, self.escape));
                state.seen |= USER_AGENT;
            }
            Slot::Host if !absent => {
                set_opt(&mut record.host, &unescape(raw, self.escape));
                state.seen |= HOST;
            }
            Slot::ForwardedFor if !absent => {
                set_opt(&mut record.forwarded_for, &unescape(raw, self.escape));
                state.seen |= FORWARDED;
            }
            Slot::RequestTimeSecs | Slot::RequestTimeMillis | Slot::RequestTimeMicros
                if !absent =>
            {
                let value: f64 = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| ParseError::bad_value(name, raw, "a duration"))?;
                record.request_time = Some(match slot {
                    Slot::RequestTimeMillis => value / 1e3,
                    Slot::RequestTimeMicros => value / 1e6,
                    _ => value,
                });
                state.seen |= REQUEST_TIME;
            }
            Slot::Field(field) if !absent && record.fields.len() < crate::record::MAX_FIELDS => {
                record
                    .fields
                    .push((field.to_string(), unescape(raw, self.escape).into_owned()));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Per-line bookkeeping: which optional fields were set.
#[derive(Default)]
struct State {
    seen: u16,
}

/// Clear the optional fields this line did not set.
fn finish(record: &mut AccessRecord, state: State) {
    let seen = state.seen;
    if seen & USER == 0 {
        record.user = None;
    }
    if seen & REFERER == 0 {
        record.referer = None;
    }
    if seen & USER_AGENT == 0 {
        record.user_agent = None;
    }
    if seen & HOST == 0 {
        record.host = None;
    }
    if seen & FORWARDED == 0 {
        record.forwarded_for = None;
    }
    if seen & REQUEST_TIME == 0 {
        record.request_time = None;
    }
    if seen & CLIENT_PORT == 0 {
        record.client_port = None;
    }
    if seen & SERVER_ADDR == 0 {
        record.server_addr = None;
    }
    if seen & SERVER_PORT == 0 {
        record.server_port = None;
    }
}

/// Where `lit` first matches in `hay`, skipping backslash escapes unless
/// values are unescaped.
fn find_literal(hay: &[u8], lit: &[u8], escape: Escape) -> Option<usize> {
    let first = *lit.first()?;
    let skip_escapes = escape != Escape::None && first != b'\\';
    let mut from = 0;
    while from < hay.len() {
        let tail = hay.get(from..)?;
        let found = if skip_escapes {
            memchr::memchr2(first, b'\\', tail)
        } else {
            memchr::memchr(first, tail)
        }?;
        let at = from + found;
        if hay.get(at) == Some(&b'\\') && skip_escapes {
            from = at + 2;
            continue;
        }
        if hay.get(at..).is_some_and(|t| t.starts_with(lit)) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Where a value followed directly by another variable ends: a path at
/// its query or a space, anything else (a host) at the first byte that
/// cannot be in a host name, address or port.
fn adjacent_extent(slot: &Slot, rest: &[u8]) -> usize {
    let end = match slot {
        Slot::Path => rest.iter().position(|b| matches!(b, b'?' | b' ')),
        _ => rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || b"-.:_[]".contains(b))),
    };
    end.unwrap_or(rest.len())
}

/// The length of a common-log time at the start of `s`: `[...]` through
/// the bracket, or the 26 bytes of `10/Oct/2000:13:55:36 -0700`.
fn clf_extent(s: &[u8]) -> Option<usize> {
    if s.first() == Some(&b'[') {
        return memchr::memchr(b']', s).map(|i| i + 1);
    }
    (s.len() >= 26 && s.get(2) == Some(&b'/') && s.get(20) == Some(&b' ')).then_some(26)
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n = 0u64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_search_skips_escapes() {
        assert_eq!(
            find_literal(br#"a\"b" x"#, b"\"", Escape::Backslash),
            Some(4)
        );
        assert_eq!(find_literal(br#"a\"b" x"#, b"\"", Escape::None), Some(2));
        assert_eq!(
            find_literal(br#"a"b" x"#, b"\" ", Escape::Backslash),
            Some(3)
        );
        assert_eq!(find_literal(b"abc", b"\"", Escape::Backslash), None);
        // A trailing backslash does not run past the end.
        assert_eq!(find_literal(b"abc\\", b"\"", Escape::Backslash), None);
        assert_eq!(
            find_literal(b"a\" \"b", b"\" \"", Escape::Backslash),
            Some(1)
        );
    }

    #[test]
    fn numbers_are_strict() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b"-"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b""), None);
    }
}
