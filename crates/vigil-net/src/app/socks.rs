//! SOCKS 4, 4a and 5: identification and the handshake before a tunnel.
//!
//! This module owns SOCKS identification ([`looks_like_socks`]) and
//! [`SocksParser`], which follows the handshake on both sides: SOCKS 4/4a
//! (the request `VN=4 CD DSTPORT DSTIP USERID\0 [DOMAIN\0]` and the 8-byte
//! reply), SOCKS 5 (RFC 1928: the method greeting and selection, the
//! username/password sub-negotiation of RFC 1929 when chosen, the request
//! `VER CMD RSV ATYP DST.ADDR DST.PORT` and its reply). When the server
//! grants a CONNECT (or the second reply of a BIND), what follows is the
//! tunnelled protocol: the parser returns [`Progress::Switch`] at the end of
//! the reply and the pipeline identifies the tunnel's content (TLS, HTTP, …).
//! Refusals, UDP ASSOCIATE and methods whose traffic is encapsulated
//! (GSS-API) end parsing ([`Progress::Done`]).
//!
//! No record of its own: Vigil's schema has no proxy activity class yet, so
//! a SOCKS handshake shows as `socks` in the flow's `app_name` (followed by
//! the tunnel's protocol, "socks,tls"), in the `app.socks.*` counters, and
//! in the tunnelled protocol's records. Hand-written: the messages are a few
//! fixed fields and no maintained crate parses captured SOCKS traffic.
//!
//! Identification is strict, to keep false positives near zero: the first
//! bytes must be exactly one complete SOCKS 4 request, or a SOCKS 5 greeting
//! with distinct known methods (optionally followed by complete
//! sub-negotiation and request messages), and nothing else.

use vigil_event::{Event, Timestamp};

use super::{AppConfig, Direction, FlowMeta, Progress, StreamParser};

/// Longest message kept while incomplete: a SOCKS 5 username/password
/// message is at most 513 bytes, a request 262; SOCKS 4 user ids and
/// domains have no limit in the protocol but are short in practice.
const MAX_MESSAGE: usize = 1024;

const CMD_CONNECT: u8 = 1;
const CMD_BIND: u8 = 2;
const CMD_UDP_ASSOCIATE: u8 = 3;
/// SOCKS 5 method: no authentication.
const METHOD_NONE: u8 = 0;
/// SOCKS 5 method: username/password (RFC 1929).
const METHOD_USER_PASS: u8 = 2;
/// SOCKS 4 reply code: request granted.
const V4_GRANTED: u8 = 90;

/// One message parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse<T> {
    /// A complete message of `len` bytes.
    Ok(T, usize),
    /// A prefix of a valid message: more bytes needed.
    Need,
    /// Not this message.
    Bad,
}

fn byte(b: &[u8], i: usize) -> Option<u8> {
    b.get(i).copied()
}

/// A NUL-terminated printable string starting at `from`: the index after
/// its NUL, `None` if not terminated yet, `Err` if not printable.
fn c_string(b: &[u8], from: usize) -> Result<Option<usize>, ()> {
    let rest = b.get(from..).unwrap_or_default();
    for (i, &c) in rest.iter().enumerate() {
        if c == 0 {
            return Ok(Some(from + i + 1));
        }
        if !(0x20..=0x7e).contains(&c) {
            return Err(());
        }
    }
    Ok(None)
}

/// A SOCKS 4/4a request: the command.
fn parse_v4_request(b: &[u8]) -> Parse<u8> {
    let (Some(vn), Some(cd)) = (byte(b, 0), byte(b, 1)) else {
        return if b.first().is_none_or(|&v| v == 4) {
            Parse::Need
        } else {
            Parse::Bad
        };
    };
    if vn != 4 || !matches!(cd, CMD_CONNECT | CMD_BIND) {
        return Parse::Bad;
    }
    let Some(&[p0, p1, i0, i1, i2, i3]) = b.get(2..8) else {
        return Parse::Need;
    };
    let port = u16::from_be_bytes([p0, p1]);
    let ip = [i0, i1, i2, i3];
    if port == 0 || ip == [0, 0, 0, 0] {
        return Parse::Bad;
    }
    let after_user = match c_string(b, 8) {
        Ok(Some(n)) => n,
        Ok(None) => return Parse::Need,
        Err(()) => return Parse::Bad,
    };
    // SOCKS 4a: 0.0.0.x (x ≠ 0) means "the domain name follows".
    if matches!(ip, [0, 0, 0, _]) {
        return match c_string(b, after_user) {
            Ok(Some(end)) if end > after_user + 1 => Parse::Ok(cd, end),
            Ok(Some(_)) | Err(()) => Parse::Bad,
            Ok(None) => Parse::Need,
        };
    }
    Parse::Ok(cd, after_user)
}

/// A SOCKS 4 reply (`VN=0 CD DSTPORT DSTIP`; some servers answer VN=4):
/// the reply code.
fn parse_v4_reply(b: &[u8]) -> Parse<u8> {
    match b.first() {
        None => return Parse::Need,
        Some(0 | 4) => {}
        Some(_) => return Parse::Bad,
    }
    match byte(b, 1) {
        None => Parse::Need,
        Some(cd @ 90..=93) if b.len() >= 8 => Parse::Ok(cd, 8),
        Some(90..=93) => Parse::Need,
        Some(_) => Parse::Bad,
    }
}

/// A SOCKS 5 method is one this module knows: IANA-assigned (0–9) or
/// private (0x80–0xfe).
const fn known_method(m: u8) -> bool {
    m <= 9 || (m >= 0x80 && m != 0xff)
}

/// A SOCKS 5 greeting (`VER=5 NMETHODS METHODS`): whether it offers
/// username/password.
fn parse_v5_greeting(b: &[u8]) -> Parse<bool> {
    match b.first() {
        None => return Parse::Need,
        Some(5) => {}
        Some(_) => return Parse::Bad,
    }
    let Some(n) = byte(b, 1) else {
        return Parse::Need;
    };
    if n == 0 {
        return Parse::Bad;
    }
    let end = 2 + usize::from(n);
    let methods = b.get(2..end.min(b.len())).unwrap_or_default();
    for (i, &m) in methods.iter().enumerate() {
        if !known_method(m) || methods.get(..i).is_some_and(|s| s.contains(&m)) {
            return Parse::Bad;
        }
    }
    if b.len() < end {
        return Parse::Need;
    }
    Parse::Ok(methods.contains(&METHOD_USER_PASS), end)
}

/// An RFC 1929 username/password request (`VER=1 ULEN UNAME PLEN PASSWD`).
fn parse_user_pass(b: &[u8]) -> Parse<()> {
    match b.first() {
        None => return Parse::Need,
        Some(1) => {}
        Some(_) => return Parse::Bad,
    }
    let Some(ulen) = byte(b, 1) else {
        return Parse::Need;
    };
    if ulen == 0 {
        return Parse::Bad;
    }
    let plen_at = 2 + usize::from(ulen);
    let Some(plen) = byte(b, plen_at) else {
        return Parse::Need;
    };
    let end = plen_at + 1 + usize::from(plen);
    if b.len() < end {
        Parse::Need
    } else {
        Parse::Ok((), end)
    }
}

/// `ATYP DST.ADDR DST.PORT` from `at`: the index after it.
fn parse_v5_address(b: &[u8], at: usize) -> Parse<()> {
    let Some(atyp) = byte(b, at) else {
        return Parse::Need;
    };
    let end = match atyp {
        1 => at + 1 + 4 + 2,
        4 => at + 1 + 16 + 2,
        3 => match byte(b, at + 1) {
            None => return Parse::Need,
            Some(0) => return Parse::Bad,
            Some(n) => at + 2 + usize::from(n) + 2,
        },
        _ => return Parse::Bad,
    };
    if b.len() < end {
        Parse::Need
    } else {
        Parse::Ok((), end)
    }
}

/// A SOCKS 5 request (`VER=5 CMD RSV=0 ATYP DST.ADDR DST.PORT`): the command.
fn parse_v5_request(b: &[u8]) -> Parse<u8> {
    let fields = [byte(b, 0), byte(b, 1), byte(b, 2)];
    let ok = [
        |v: u8| v == 5,
        |c: u8| (CMD_CONNECT..=CMD_UDP_ASSOCIATE).contains(&c),
        |r: u8| r == 0,
    ];
    for (f, ok) in fields.iter().zip(ok) {
        match f {
            None => return Parse::Need,
            Some(v) if !ok(*v) => return Parse::Bad,
            Some(_) => {}
        }
    }
    match parse_v5_address(b, 3) {
        Parse::Ok((), end) => Parse::Ok(fields[1].unwrap_or_default(), end),
        Parse::Need => Parse::Need,
        Parse::Bad => Parse::Bad,
    }
}

/// A SOCKS 5 reply (`VER=5 REP RSV=0 ATYP BND.ADDR BND.PORT`): the reply code.
fn parse_v5_reply(b: &[u8]) -> Parse<u8> {
    match (byte(b, 0), byte(b, 1), byte(b, 2)) {
        (Some(5), Some(rep @ 0..=8), Some(0)) => match parse_v5_address(b, 3) {
            Parse::Ok((), end) => Parse::Ok(rep, end),
            Parse::Need => Parse::Need,
            Parse::Bad => Parse::Bad,
        },
        (Some(5), Some(0..=8), None) | (Some(5), None, _) | (None, _, _) => Parse::Need,
        _ => Parse::Bad,
    }
}

/// Two-byte answers: SOCKS 5 method selection (`VER=5 METHOD`) and the
/// RFC 1929 status (`VER=1 STATUS`; some servers send VER=5).
fn parse_pair(b: &[u8], versions: &[u8]) -> Parse<u8> {
    match (byte(b, 0), byte(b, 1)) {
        (Some(v), _) if !versions.contains(&v) => Parse::Bad,
        (Some(_), Some(x)) => Parse::Ok(x, 2),
        _ => Parse::Need,
    }
}

/// Whether a TCP stream's first bytes (one side's) are a SOCKS client's
/// opening: exactly one complete SOCKS 4/4a request, or a SOCKS 5 greeting
/// optionally followed by complete username/password and request messages.
pub fn looks_like_socks(first: &[u8]) -> bool {
    match first.first() {
        Some(4) => matches!(parse_v4_request(first), Parse::Ok(_, n) if n == first.len()),
        Some(5) => {
            let Parse::Ok(_, mut pos) = parse_v5_greeting(first) else {
                return false;
            };
            let mut authed = false;
            while let Some(rest) = first.get(pos..).filter(|r| !r.is_empty()) {
                let step = if rest.first() == Some(&1) && !authed {
                    authed = true;
                    match parse_user_pass(rest) {
                        Parse::Ok((), n) => n,
                        _ => return false,
                    }
                } else {
                    match parse_v5_request(rest) {
                        Parse::Ok(_, n) if n == rest.len() => n,
                        _ => return false,
                    }
                };
                pos += step;
            }
            true
        }
        _ => false,
    }
}

/// Where the client is in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    /// Nothing yet: a SOCKS 4 request or a SOCKS 5 greeting comes next.
    Start,
    /// SOCKS 5 greeting sent: username/password or the request next.
    Greeted,
    /// Username/password sent: the request next.
    Authed,
    /// Request sent: what follows is tunnel data.
    Requested,
    /// Not following the client any more.
    Stopped,
}

/// Where the server is in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    /// SOCKS 5 method selection next.
    Method,
    /// RFC 1929 status next.
    AuthStatus,
    /// The reply to the request next (`replies` granted so far, for BIND).
    Reply { replies: u8 },
}

#[derive(Debug, Default, Clone)]
struct SocksCounters {
    requests: u64,
    granted: u64,
    refused: u64,
    auth_user_pass: u64,
    auth_failed: u64,
    method_unfollowed: u64,
    udp_associate: u64,
    malformed: u64,
    gap: u64,
    early_data_bytes: u64,
}

/// The SOCKS stream parser.
#[derive(Debug)]
pub struct SocksParser {
    /// The direction the client's messages travel, once seen.
    client: Option<Direction>,
    /// 4 or 5, once the client's first message is seen.
    version: u8,
    /// The requested command, once seen.
    command: Option<u8>,
    client_state: ClientState,
    server_state: ServerState,
    /// Incomplete message bytes: [client, server].
    bufs: [Vec<u8>; 2],
    done: bool,
    counters: SocksCounters,
}

impl SocksParser {
    /// A parser (SOCKS needs no configuration).
    pub fn new(config: &AppConfig) -> Self {
        let _ = config;
        Self {
            client: None,
            version: 0,
            command: None,
            client_state: ClientState::Start,
            server_state: ServerState::Method,
            bufs: [Vec::new(), Vec::new()],
            done: false,
            counters: SocksCounters::default(),
        }
    }

    fn finish(&mut self) -> Progress {
        self.done = true;
        Progress::Done
    }

    /// Bytes from the client.
    fn client_data(&mut self, data: &[u8]) -> Progress {
        if self.client_state == ClientState::Requested {
            self.counters.early_data_bytes += data.len() as u64;
            return Progress::Continue;
        }
        if self.client_state == ClientState::Stopped {
            return Progress::Continue;
        }
        let buf = &mut self.bufs[0];
        let room = MAX_MESSAGE.saturating_sub(buf.len());
        let keep = data.len().min(room);
        buf.extend_from_slice(data.get(..keep).unwrap_or_default());
        let dropped = data.len() - keep;
        let buf = std::mem::take(&mut self.bufs[0]);
        let mut pos = 0;
        while let Some(rest) = buf.get(pos..).filter(|r| !r.is_empty()) {
            if self.client_state == ClientState::Requested {
                self.counters.early_data_bytes += rest.len() as u64;
                pos = buf.len();
                break;
            }
            let step = match (self.client_state, rest.first()) {
                (ClientState::Start, Some(4)) => parse_v4_request(rest).map(|cmd| {
                    self.version = 4;
                    self.command = Some(cmd);
                    ClientState::Requested
                }),
                (ClientState::Start, _) => parse_v5_greeting(rest).map(|_| {
                    self.version = 5;
                    ClientState::Greeted
                }),
                (ClientState::Greeted, Some(1)) => parse_user_pass(rest).map(|()| {
                    self.counters.auth_user_pass += 1;
                    ClientState::Authed
                }),
                (ClientState::Greeted | ClientState::Authed, _) => {
                    parse_v5_request(rest).map(|cmd| {
                        self.command = Some(cmd);
                        ClientState::Requested
                    })
                }
                (ClientState::Requested | ClientState::Stopped, _) => break,
            };
            match step {
                Parse::Ok(next, n) => {
                    if next == ClientState::Requested {
                        self.counters.requests += 1;
                    }
                    self.client_state = next;
                    pos += n;
                }
                Parse::Need if buf.len() < MAX_MESSAGE => break,
                Parse::Need | Parse::Bad => {
                    if self.client_state == ClientState::Start {
                        return Progress::Mismatch;
                    }
                    self.counters.malformed += 1;
                    self.client_state = ClientState::Stopped;
                    return self.finish();
                }
            }
        }
        if dropped > 0 {
            if self.client_state == ClientState::Requested {
                self.counters.early_data_bytes += dropped as u64;
            } else {
                // A message longer than any SOCKS message.
                self.counters.malformed += 1;
                return self.finish();
            }
        }
        self.bufs[0] = buf.get(pos..).unwrap_or_default().to_vec();
        Progress::Continue
    }

    /// Bytes from the server.
    fn server_data(&mut self, data: &[u8]) -> Progress {
        let before = self.bufs[1].len();
        let room = MAX_MESSAGE.saturating_sub(before);
        let keep = data.len().min(room);
        let mut buf = std::mem::take(&mut self.bufs[1]);
        buf.extend_from_slice(data.get(..keep).unwrap_or_default());
        let mut pos = 0;
        while let Some(rest) = buf.get(pos..).filter(|r| !r.is_empty()) {
            let progress = match (self.version, self.server_state) {
                (4, ServerState::Reply { replies }) => match parse_v4_reply(rest) {
                    Parse::Ok(cd, n) => {
                        pos += n;
                        self.reply(cd == V4_GRANTED, replies)
                    }
                    Parse::Need => break,
                    Parse::Bad => self.malformed(),
                },
                (5, ServerState::Method) => match parse_pair(rest, &[5]) {
                    Parse::Ok(method, n) => {
                        pos += n;
                        match method {
                            METHOD_NONE => {
                                self.server_state = ServerState::Reply { replies: 0 };
                                None
                            }
                            METHOD_USER_PASS => {
                                self.server_state = ServerState::AuthStatus;
                                None
                            }
                            0xff => {
                                self.counters.refused += 1;
                                Some(self.finish())
                            }
                            _ => {
                                // GSS-API and others encapsulate what follows.
                                self.counters.method_unfollowed += 1;
                                Some(self.finish())
                            }
                        }
                    }
                    Parse::Need => break,
                    Parse::Bad => self.malformed(),
                },
                (5, ServerState::AuthStatus) => match parse_pair(rest, &[1, 5]) {
                    Parse::Ok(0, n) => {
                        pos += n;
                        self.server_state = ServerState::Reply { replies: 0 };
                        None
                    }
                    Parse::Ok(_, _) => {
                        self.counters.auth_failed += 1;
                        Some(self.finish())
                    }
                    Parse::Need => break,
                    Parse::Bad => self.malformed(),
                },
                (5, ServerState::Reply { replies }) => match parse_v5_reply(rest) {
                    Parse::Ok(rep, n) => {
                        pos += n;
                        self.reply(rep == 0, replies)
                    }
                    Parse::Need => break,
                    Parse::Bad => self.malformed(),
                },
                // The server spoke before the client's first message.
                _ => Some(Progress::Mismatch),
            };
            match progress {
                None => {}
                Some(Progress::Switch { .. }) => {
                    // `pos` bytes of the buffer are handshake; the buffer
                    // began with `before` bytes of earlier chunks.
                    return Progress::Switch {
                        consumed: pos.saturating_sub(before),
                    };
                }
                Some(other) => return other,
            }
        }
        if keep < data.len() {
            // More than any SOCKS reply without a complete one.
            return self.malformed().unwrap_or(Progress::Done);
        }
        self.bufs[1] = buf.get(pos..).unwrap_or_default().to_vec();
        Progress::Continue
    }

    /// A reply to the request: granted or not, `replies` granted before.
    fn reply(&mut self, granted: bool, replies: u8) -> Option<Progress> {
        if !granted {
            self.counters.refused += 1;
            return Some(self.finish());
        }
        match self.command {
            Some(CMD_UDP_ASSOCIATE) => {
                // The TCP connection only keeps the association alive.
                self.counters.udp_associate += 1;
                Some(self.finish())
            }
            Some(CMD_BIND) if replies == 0 => {
                // The first BIND reply: the server listens; the second says
                // the remote host connected.
                self.server_state = ServerState::Reply { replies: 1 };
                None
            }
            _ => {
                self.counters.granted += 1;
                self.done = true;
                Some(Progress::Switch { consumed: 0 })
            }
        }
    }

    fn malformed(&mut self) -> Option<Progress> {
        self.counters.malformed += 1;
        Some(self.finish())
    }
}

impl StreamParser for SocksParser {
    fn data(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        _ts: Timestamp,
        data: &[u8],
        _out: &mut Vec<Event>,
    ) -> Progress {
        if self.done {
            return Progress::Done;
        }
        if data.is_empty() {
            return Progress::Continue;
        }
        let client = match self.client {
            Some(c) => c,
            None if looks_like_opening(data) => {
                self.client = Some(dir);
                self.version = data.first().copied().unwrap_or_default();
                self.server_state = if data.first() == Some(&4) {
                    ServerState::Reply { replies: 0 }
                } else {
                    ServerState::Method
                };
                dir
            }
            None => return Progress::Mismatch,
        };
        let progress = if dir == client {
            self.client_data(data)
        } else {
            self.server_data(data)
        };
        if let Progress::Switch { consumed } = progress {
            tracing::debug!(flow = %meta.connection_info.uid, version = self.version, consumed, "socks tunnel opened");
        }
        progress
    }

    fn gap(&mut self, dir: Direction, len: u64) {
        let _ = (dir, len);
        if !self.done {
            // A handshake with a hole cannot be followed to its end.
            self.counters.gap += 1;
            self.done = true;
        }
    }

    fn end(&mut self, _meta: &FlowMeta, _ts: Timestamp, _out: &mut Vec<Event>) {}

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counters;
        [
            ("socks.requests", c.requests),
            ("socks.granted", c.granted),
            ("socks.refused", c.refused),
            ("socks.auth_user_pass", c.auth_user_pass),
            ("socks.auth_failed", c.auth_failed),
            ("socks.method_unfollowed", c.method_unfollowed),
            ("socks.udp_associate", c.udp_associate),
            ("socks.malformed", c.malformed),
            ("socks.gap", c.gap),
            ("socks.early_data_bytes", c.early_data_bytes),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// A client's first bytes, possibly incomplete: a SOCKS 4 request or a
/// SOCKS 5 greeting prefix.
fn looks_like_opening(data: &[u8]) -> bool {
    match data.first() {
        Some(4) => parse_v4_request(data) != Parse::Bad,
        Some(5) => parse_v5_greeting(data) != Parse::Bad,
        _ => false,
    }
}

impl<T> Parse<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Parse<U> {
        match self {
            Parse::Ok(v, n) => Parse::Ok(f(v), n),
            Parse::Need => Parse::Need,
            Parse::Bad => Parse::Bad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testutil::{fixture, meta, Chunk};
    use proptest::prelude::*;
    use Direction::{ToOriginator as S, ToResponder as C};

    /// Feed (direction, bytes) in order; the progress after each.
    fn run(parts: &[(Direction, &[u8])]) -> (Vec<Progress>, SocksParser) {
        let m = meta(1080);
        let mut p = SocksParser::new(&AppConfig::default());
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for (dir, bytes) in parts {
            seen.push(p.data(&m, *dir, Timestamp::default(), bytes, &mut out));
        }
        p.end(&m, Timestamp::default(), &mut out);
        assert!(out.is_empty(), "socks writes no records");
        (seen, p)
    }

    fn counter(p: &SocksParser, name: &str) -> u64 {
        p.counters()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| v)
    }

    /// FoxIO's socks-https-example.pcap, stream 2: a SOCKS 4a CONNECT to
    /// www.example.com:443 and its reply (tshark `tcp.payload`).
    const V4A_REQUEST: &str = "040101bb00000001007777772e6578616d706c652e636f6d00";
    const V4_REPLY: &str = "005a99b50ab49cf9";

    #[test]
    fn socks4a_connect_switches_after_the_reply() {
        let req = hex::decode(V4A_REQUEST).unwrap();
        let mut reply = hex::decode(V4_REPLY).unwrap();
        assert!(looks_like_socks(&req));
        reply.extend_from_slice(b"\x16\x03\x01");
        let (seen, p) = run(&[(C, &req), (S, &reply)]);
        assert_eq!(seen, [Progress::Continue, Progress::Switch { consumed: 8 }]);
        assert_eq!(counter(&p, "socks.granted"), 1);
    }

    #[test]
    fn socks4_refused_is_done() {
        let (seen, p) = run(&[
            (C, b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00"),
            (S, b"\x00\x5b\x00\x00\x00\x00\x00\x00"),
        ]);
        assert_eq!(seen[1], Progress::Done);
        assert_eq!(counter(&p, "socks.refused"), 1);
    }

    #[test]
    fn socks4_bind_switches_after_the_second_reply() {
        let (seen, _) = run(&[
            (C, b"\x04\x02\x00\x50\x0a\x00\x00\x01\x00"),
            (S, b"\x00\x5a\x12\x34\x0a\x00\x00\x02"),
            (S, b"\x00\x5a\x00\x50\x0a\x00\x00\x03rest"),
        ]);
        assert_eq!(
            seen,
            [
                Progress::Continue,
                Progress::Continue,
                Progress::Switch { consumed: 8 }
            ]
        );
    }

    fn v5_request(cmd: u8) -> Vec<u8> {
        let mut r = vec![5, cmd, 0, 3, 11];
        r.extend_from_slice(b"example.com");
        r.extend_from_slice(&443u16.to_be_bytes());
        r
    }

    #[test]
    fn socks5_no_auth_connect_switches() {
        let req = v5_request(CMD_CONNECT);
        let (seen, p) = run(&[
            (C, &[5, 1, 0]),
            (S, &[5, 0]),
            (C, &req),
            (S, &[5, 0, 0, 4]),
            (S, &[0; 16]),
            (S, &[1, 187, 0x16]),
        ]);
        assert_eq!(seen[..5], [Progress::Continue; 5]);
        assert_eq!(seen[5], Progress::Switch { consumed: 2 });
        assert_eq!(counter(&p, "socks.requests"), 1);
    }

    #[test]
    fn socks5_pipelined_client_and_user_pass() {
        // Greeting, RFC 1929 credentials and request in one segment; the
        // server's answers in one too, with the tunnel's first bytes.
        let mut client = vec![5, 2, 0, 2, 1, 3, b'b', b'o', b'b', 2, b'p', b'w'];
        client.extend_from_slice(&v5_request(CMD_CONNECT));
        assert!(looks_like_socks(&client));
        let server = [5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0, 80, b'S', b'S', b'H'];
        let (seen, p) = run(&[(C, &client), (S, &server)]);
        assert_eq!(seen[1], Progress::Switch { consumed: 14 });
        assert_eq!(counter(&p, "socks.auth_user_pass"), 1);
        assert_eq!(counter(&p, "socks.early_data_bytes"), 0);
    }

    #[test]
    fn socks5_refusals_and_unfollowed_commands_are_done() {
        let req = v5_request(CMD_CONNECT);
        let (seen, p) = run(&[(C, &[5, 1, 0]), (S, &[5, 0xff])]);
        assert_eq!(seen[1], Progress::Done);
        assert_eq!(counter(&p, "socks.refused"), 1);
        let (seen, p) = run(&[(C, &[5, 1, 1]), (S, &[5, 1])]);
        assert_eq!(seen[1], Progress::Done);
        assert_eq!(counter(&p, "socks.method_unfollowed"), 1);
        let (seen, p) = run(&[
            (C, &[5, 1, 2]),
            (S, &[5, 2]),
            (C, b"\x01\x01u\x01p"),
            (S, &[1, 1]),
        ]);
        assert_eq!(seen[3], Progress::Done);
        assert_eq!(counter(&p, "socks.auth_failed"), 1);
        let (seen, _) = run(&[
            (C, &[5, 1, 0]),
            (S, &[5, 0]),
            (C, &req),
            (S, &[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]),
        ]);
        assert_eq!(seen[3], Progress::Done);
        let (seen, p) = run(&[
            (C, &[5, 1, 0]),
            (S, &[5, 0]),
            (C, &v5_request(CMD_UDP_ASSOCIATE)),
            (S, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
        ]);
        assert_eq!(seen[3], Progress::Done);
        assert_eq!(counter(&p, "socks.udp_associate"), 1);
    }

    #[test]
    fn early_client_data_and_gaps_are_counted() {
        let mut client = vec![5, 1, 0];
        client.extend_from_slice(&v5_request(CMD_CONNECT));
        client.extend_from_slice(b"\x16\x03\x01early");
        let (_, p) = run(&[(C, &client), (C, b"more")]);
        assert_eq!(counter(&p, "socks.early_data_bytes"), 12);
        let m = meta(1080);
        let mut p = SocksParser::new(&AppConfig::default());
        let mut out = Vec::new();
        assert_eq!(
            p.data(&m, C, Timestamp::default(), &[5, 1, 0], &mut out),
            Progress::Continue
        );
        p.gap(S, 10);
        assert_eq!(
            p.data(&m, S, Timestamp::default(), &[5, 0], &mut out),
            Progress::Done
        );
        assert_eq!(counter(&p, "socks.gap"), 1);
    }

    #[test]
    fn not_socks_is_a_mismatch() {
        let (seen, _) = run(&[(C, b"GET / HTTP/1.1\r\n\r\n")]);
        assert_eq!(seen[0], Progress::Mismatch);
        let (seen, _) = run(&[(C, &[5, 1, 0x42])]);
        assert_eq!(seen[0], Progress::Mismatch);
        let (seen, _) = run(&[(S, &[5, 0])]);
        assert_eq!(seen[0], Progress::Mismatch);
    }

    #[test]
    fn detection_takes_socks_openings_only() {
        assert!(looks_like_socks(&[5, 1, 0]));
        assert!(looks_like_socks(&[5, 3, 0, 1, 2]));
        assert!(looks_like_socks(b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00"));
        assert!(looks_like_socks(b"\x04\x01\x00\x50\x0a\x00\x00\x01bob\x00"));
        // Incomplete, trailing bytes, bad fields.
        for bytes in [
            &[5][..],
            &[5, 2, 0],
            &[5, 0],
            &[5, 2, 0, 0],
            &[5, 1, 0x42],
            &[5, 1, 0, 0xaa],
            b"\x04\x01\x00\x50\x0a\x00\x00\x01",
            b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00junk",
            b"\x04\x03\x00\x50\x0a\x00\x00\x01\x00",
            b"\x04\x01\x00\x00\x0a\x00\x00\x01\x00",
            b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00",
            b"\x04\x01\x00\x50\x0a\x00\x00\x01\x01\x00",
        ] {
            assert!(!looks_like_socks(bytes), "{bytes:?}");
        }
        // A DNS-over-TCP query of 1281 bytes starts 05 01 (its length).
        let mut dns = vec![5, 1, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        dns.resize(1283, 0);
        assert!(!looks_like_socks(&dns));
    }

    /// Real first bytes of other protocols (Vigil's fixtures from nginx,
    /// dnsmasq, OpenSSH and OpenSSL) are never taken for SOCKS.
    #[test]
    fn other_protocols_are_not_socks() {
        let mut chunks: Vec<Chunk> = Vec::new();
        for text in [
            include_str!("testdata/nginx-http.tsv"),
            include_str!("testdata/dnsmasq.tsv"),
            include_str!("testdata/openssh.tsv"),
        ] {
            chunks.extend(fixture(text));
        }
        assert!(chunks.len() > 20);
        for c in &chunks {
            assert!(!looks_like_socks(&c.bytes), "{:?}", c.bytes);
        }
        for hex_text in [
            include_str!("tls/testdata/openssl-tls12-client.hex"),
            include_str!("tls/testdata/openssl-tls13-server.hex"),
        ] {
            let bytes = hex::decode(hex_text.trim()).unwrap();
            assert!(!looks_like_socks(&bytes));
        }
    }

    proptest! {
        #[test]
        fn random_bytes_do_not_look_like_socks(
            version in 4u8..=5,
            rest in proptest::collection::vec(any::<u8>(), 15..512),
        ) {
            // Random bytes that start like SOCKS (4 or 5) are one exact
            // SOCKS opening with negligible probability (< 2^-40 here).
            let mut bytes = vec![version];
            bytes.extend_from_slice(&rest);
            prop_assert!(!looks_like_socks(&bytes));
        }

        #[test]
        fn any_bytes_any_chunking_never_panic(
            parts in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..12),
            prefix in proptest::sample::select(vec![vec![], vec![5u8, 1, 0], vec![5, 2, 0, 2], vec![4, 1, 0, 80, 1, 2, 3, 4, 0]]),
        ) {
            let m = meta(1080);
            let mut p = SocksParser::new(&AppConfig::default());
            let mut out = Vec::new();
            let _ = looks_like_socks(&prefix);
            let mut feed = vec![(true, prefix)];
            feed.extend(parts);
            for (from_client, bytes) in &feed {
                let dir = if *from_client { C } else { S };
                let _ = looks_like_socks(bytes);
                match p.data(&m, dir, Timestamp::default(), bytes, &mut out) {
                    Progress::Switch { consumed } => {
                        prop_assert!(consumed <= bytes.len());
                        break;
                    }
                    Progress::Continue => {}
                    _ => break,
                }
            }
            p.end(&m, Timestamp::default(), &mut out);
            prop_assert!(out.is_empty());
            prop_assert!(p.bufs.iter().all(|b| b.len() <= MAX_MESSAGE));
        }

        /// A valid handshake split anywhere switches at the same place.
        #[test]
        fn handshake_split_anywhere_switches(cut_c in 0usize..40, cut_s in 0usize..12) {
            let mut client = vec![5, 1, 0];
            client.extend_from_slice(&v5_request(CMD_CONNECT));
            let server = [5u8, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0, 80, 0x16, 3];
            let cut_c = cut_c.min(client.len());
            let cut_s = cut_s.min(server.len());
            let mut parts: Vec<(Direction, &[u8])> = vec![(C, &client[..cut_c]), (C, &client[cut_c..])];
            parts.push((S, &server[..cut_s]));
            parts.push((S, &server[cut_s..]));
            let (seen, _) = run(&parts);
            // The reply ends at byte 12 of the server's bytes.
            if cut_s >= 12 {
                prop_assert_eq!(seen[2], Progress::Switch { consumed: 12 });
            } else {
                prop_assert_eq!(seen[2], Progress::Continue);
                prop_assert_eq!(seen[3], Progress::Switch { consumed: 12 - cut_s });
            }
        }
    }
}
