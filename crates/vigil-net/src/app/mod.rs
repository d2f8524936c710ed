//! Application protocols: identification by content (never by port) and the
//! parsers that turn a flow's bytes into protocol records.
//!
//! The flow pipeline owns the flows; this module owns what happens to their
//! payload. Contract:
//!
//! - For a TCP flow the pipeline calls [`detect_stream`] on the first
//!   in-order bytes of each direction until one direction identifies a
//!   protocol (or both fail, and the flow gets no parser). It then makes a
//!   parser with [`new_stream_parser`] and hands it every in-order chunk of
//!   both directions, starting with the bytes it detected on (the other
//!   direction's earlier bytes too, in the order they arrived), every gap,
//!   and finally [`StreamParser::end`] when the flow ends.
//! - For a UDP flow the pipeline calls [`detect_datagram`] on the first
//!   datagram(s) and then hands every datagram to a [`DatagramParser`].
//! - A parser returns [`Progress::Done`] when it has nothing more to learn
//!   from the flow (TLS after the handshake, SSH after both version strings);
//!   the pipeline then stops feeding it payload but still calls `end`.
//!   [`Progress::Mismatch`] means the bytes are not this protocol after all;
//!   the pipeline counts it (`app.<proto>.mismatch`) and drops the parser.
//! - [`Progress::Switch`] means the protocol changes here: an HTTP `CONNECT`
//!   answered 2xx or a `101 Switching Protocols`, a SOCKS request granted.
//!   `consumed` is how many bytes of the chunk just passed belong to this
//!   parser; the rest belong to what follows. The pipeline calls the
//!   parser's `end` (its records are written), reads its `counters`, drops
//!   it, and goes back to detection for the bytes that follow in both
//!   directions, starting with the rest of this chunk, exactly as for the
//!   first bytes of a flow. A parser says it only from `data`, after which
//!   it gets no more payload. A flow follows at most a few switches (more
//!   are counted in `app.switch_limit_hit` and the flow's parsing stops);
//!   the flow record's `app_name` lists the protocols in order ("http,tls").
//!   Bytes a client sent early, inside the tunnel before the switch was
//!   seen, were fed to the old parser and are not replayed.
//! - Parsers never panic on any input and keep bounded state: every buffer
//!   has a limit, and what is over it is counted, not kept.
//! - What a parser counts (malformed messages, limits hit) it reports through
//!   `counters()`; the pipeline adds those totals to the `app` stats group
//!   when it drops the parser.
//! - Records a parser pushes are full [`Event`]s built with
//!   [`Event::new`]; the pipeline fills in `metadata.correlation_uid` and
//!   `metadata.log_name` afterwards.
//!
//! Protocol buffers for payload inspection ([`crate::inspect`]):
//!
//! - Only when the pipeline has a [`PayloadInspector`](crate::inspect::PayloadInspector),
//!   it calls `enable_inspection` once, right after making the parser.
//!   Until then a parser copies nothing for inspection (zero cost).
//! - An enabled parser builds each transaction half's buffers in a
//!   [`TxPoint`] and commits it to its [`TxQueue`] with the direction the
//!   bytes travelled and whether a client sent them ([`TxMeta`]). The
//!   pipeline calls `drain_inspection` after every `data`, `datagram`, `gap`
//!   and `end` call and hands each point to the inspector, in order, as
//!   one inspection point (stamped with the time of the call that completed it).
//! - HTTP: ONE point per request, when its body is complete (at once for a
//!   request without a body), or when the body reaches
//!   [`InspectLimits::max_body_bytes`](crate::inspect::InspectLimits), or at
//!   a gap in it, or at the end of the flow: method, normalized URI, raw URI,
//!   host, user agent, header block and the (de-chunked, bounded) body
//!   together, so a rule mixing `http.uri` and `http.request_body` sees both.
//!   ONE point per final response, by the same rule: status code, response
//!   header block, and the (de-chunked, not decompressed, bounded) body as
//!   file data. Interim (1xx other than 101) responses make no point.
//! - DNS: one point per query message with a question (retransmissions
//!   included): the query name. TLS: one point for the ClientHello (SNI when
//!   present, JA3 hash and string) and one for the server's leaf
//!   certificate (subject and issuer, Suricata's "C=US, O=.., CN=.." form).
//! - `client_direction` tells the pipeline which way clients send once
//!   the parser knows it, for `to_server` of stream and packet points.

use vigil_event::{ConnectionInfo, Endpoint, Event, Timestamp};

use crate::inspect::{InspectLimits, TxVisitor};
#[cfg(doc)]
use crate::inspect::{TxMeta, TxPoint, TxQueue};

pub mod dns;
pub mod http;
pub mod ja;
pub mod quic;
pub mod socks;
pub mod ssh;
pub mod tls;

/// An application protocol Vigil parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppProto {
    /// DNS over UDP or TCP.
    Dns,
    /// HTTP/1.x.
    Http,
    /// TLS.
    Tls,
    /// SSH.
    Ssh,
    /// QUIC (the TLS ClientHello of its Initial packets).
    Quic,
    /// SOCKS 4, 4a and 5 (the handshake before a tunnel).
    Socks,
}

impl AppProto {
    /// Lower-case name ("dns", "http", "tls", "ssh", "quic", "socks"), as in `app_name`.
    pub const fn name(self) -> &'static str {
        match self {
            AppProto::Dns => "dns",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Ssh => "ssh",
            AppProto::Quic => "quic",
            AppProto::Socks => "socks",
        }
    }
}

/// Which way bytes travel relative to the flow's originator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Originator → responder.
    ToResponder,
    /// Responder → originator.
    ToOriginator,
}

impl Direction {
    /// The other direction.
    pub const fn reverse(self) -> Self {
        match self {
            Direction::ToResponder => Direction::ToOriginator,
            Direction::ToOriginator => Direction::ToResponder,
        }
    }
}

/// What a parser knows about its flow: endpoints as originator → responder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMeta {
    /// The originator.
    pub originator: Endpoint,
    /// The responder.
    pub responder: Endpoint,
    /// Flow id, Community ID, protocol.
    pub connection_info: ConnectionInfo,
}

impl FlowMeta {
    /// (client, server) endpoints for bytes that a client sent in `dir`:
    /// when the client's bytes go `ToResponder`, the originator is the client.
    pub fn client_server(&self, client_sends: Direction) -> (Endpoint, Endpoint) {
        match client_sends {
            Direction::ToResponder => (self.originator.clone(), self.responder.clone()),
            Direction::ToOriginator => (self.responder.clone(), self.originator.clone()),
        }
    }
}

/// What a parser says after a chunk of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding me.
    Continue,
    /// I have learnt all I will from this flow.
    Done,
    /// This flow is not my protocol after all.
    Mismatch,
    /// The protocol changes after the first `consumed` bytes of this chunk
    /// (a tunnel opened, an upgrade accepted): end me and identify what
    /// follows by content. A datagram parser's `Switch` is taken as `Done`.
    Switch {
        /// Bytes of the chunk that were this protocol's (at most its length).
        consumed: usize,
    },
}

/// Options for the protocol parsers.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Compute JA4+ fingerprints other than JA4 (JA4S, JA4H, JA4X, JA4SSH).
    /// They are under the FoxIO License 1.1, which forbids monetization, so
    /// they are off unless the user turns them on.
    pub ja4plus: bool,
    /// Largest HTTP header block (request line and headers) buffered, bytes.
    pub max_http_header_bytes: usize,
    /// Largest TLS handshake message buffered, bytes.
    pub max_tls_handshake_bytes: usize,
    /// Pending (unanswered) DNS queries kept per flow.
    pub max_dns_pending: usize,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            ja4plus: false,
            max_http_header_bytes: 64 * 1024,
            max_tls_handshake_bytes: 256 * 1024,
            max_dns_pending: 256,
        }
    }
}

/// A parser for one TCP flow's two byte streams.
pub trait StreamParser: std::fmt::Debug + Send {
    /// In-order bytes travelling in `dir`, first seen at `ts`.
    fn data(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress;
    /// `len` bytes are missing in `dir` (capture loss); the next `data` call
    /// for that direction continues after the hole.
    fn gap(&mut self, dir: Direction, len: u64);
    /// The flow ended at `ts`: emit whatever is pending (a request with no
    /// response, a handshake half seen).
    fn end(&mut self, meta: &FlowMeta, ts: Timestamp, out: &mut Vec<Event>);
    /// What this parser counted since it was made (messages it could not
    /// parse, limits hit, ...), as (name, total) pairs; names are prefixed
    /// with the protocol (`dns.pending_evicted`) and belong in the `app`
    /// stats group. The pipeline reads them once, when it drops the parser
    /// (after `end`, or on [`Progress::Mismatch`]). Zero counters may be left out.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Start collecting protocol buffers for an inspector (see the module
    /// docs). Called at most once, right after the parser is made, and only
    /// when the pipeline has an inspector; a parser with no protocol buffers
    /// ignores it.
    fn enable_inspection(&mut self, limits: &InspectLimits) {
        let _ = limits;
    }
    /// Hand over the transaction points completed since the last call,
    /// oldest first, and forget them.
    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        let _ = f;
    }
    /// The direction clients send in, once the parser knows it.
    fn client_direction(&self) -> Option<Direction> {
        None
    }
    /// True once the clear-text part of the protocol is over and what
    /// follows is encrypted (TLS after its handshake): the pipeline then
    /// stops raw stream inspection of the flow, as Suricata's default TLS
    /// `encryption-handling` does. Protocol buffers already extracted are
    /// inspected as usual.
    fn encrypted(&self) -> bool {
        false
    }
}

/// A parser for one UDP flow's datagrams.
pub trait DatagramParser: std::fmt::Debug + Send {
    /// One datagram travelling in `dir`.
    fn datagram(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress;
    /// The flow ended at `ts`: emit whatever is pending.
    fn end(&mut self, meta: &FlowMeta, ts: Timestamp, out: &mut Vec<Event>);
    /// What this parser counted since it was made; see [`StreamParser::counters`].
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Start collecting protocol buffers for an inspector (see the module
    /// docs). Called at most once, right after the parser is made, and only
    /// when the pipeline has an inspector; a parser with no protocol buffers
    /// ignores it.
    fn enable_inspection(&mut self, limits: &InspectLimits) {
        let _ = limits;
    }
    /// Hand over the transaction points completed since the last call,
    /// oldest first, and forget them.
    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        let _ = f;
    }
    /// The direction clients send in, once the parser knows it.
    fn client_direction(&self) -> Option<Direction> {
        None
    }
}

/// Identify a TCP stream's protocol from the first bytes one side sent.
/// Returns `None` when these bytes match no protocol Vigil parses.
pub fn detect_stream(first: &[u8]) -> Option<AppProto> {
    if tls::looks_like_tls(first) {
        Some(AppProto::Tls)
    } else if http::looks_like_http(first) {
        Some(AppProto::Http)
    } else if ssh::looks_like_ssh(first) {
        Some(AppProto::Ssh)
    } else if socks::looks_like_socks(first) {
        Some(AppProto::Socks)
    } else if dns::looks_like_dns_over_tcp(first) {
        Some(AppProto::Dns)
    } else {
        None
    }
}

/// Identify a UDP flow's protocol from one datagram.
pub fn detect_datagram(datagram: &[u8]) -> Option<AppProto> {
    if quic::is_quic_initial(datagram) {
        Some(AppProto::Quic)
    } else {
        dns::looks_like_dns(datagram).then_some(AppProto::Dns)
    }
}

/// A parser for a TCP flow identified as `proto`.
pub fn new_stream_parser(proto: AppProto, config: &AppConfig) -> Box<dyn StreamParser> {
    match proto {
        AppProto::Dns => Box::new(dns::DnsTcpParser::new(config)),
        AppProto::Http => Box::new(http::HttpParser::new(config)),
        AppProto::Tls => Box::new(tls::TlsParser::new(config)),
        AppProto::Ssh => Box::new(ssh::SshParser::new(config)),
        AppProto::Socks => Box::new(socks::SocksParser::new(config)),
        // QUIC runs over UDP only; detect_stream never names it.
        AppProto::Quic => Box::new(quic::NotOverTcp),
    }
}

/// A parser for a UDP flow identified as `proto`, if Vigil parses it over UDP.
pub fn new_datagram_parser(proto: AppProto, config: &AppConfig) -> Option<Box<dyn DatagramParser>> {
    match proto {
        AppProto::Dns => Some(Box::new(dns::DnsUdpParser::new(config))),
        AppProto::Quic => Some(Box::new(quic::QuicParser::new(config))),
        _ => None,
    }
}

/// Test support for the protocol parsers: a flow's metadata and the real
/// traffic fixtures under `app/testdata/` (tshark's `tcp.payload` /
/// `udp.payload` of captures made on loopback; see each test for how).
#[cfg(test)]
pub(crate) mod testutil {
    use super::{ConnectionInfo, Direction, Endpoint, FlowMeta};
    use vigil_event::Timestamp;

    /// One payload from a fixture: `proto stream dir(c|s) epoch hex`.
    #[derive(Debug, Clone)]
    pub struct Chunk {
        pub proto: String,
        pub stream: u32,
        /// `ToResponder` for the client ("c": the originator in these captures).
        pub dir: Direction,
        pub ts: Timestamp,
        pub bytes: Vec<u8>,
    }

    /// 127.0.0.1:40000 → 127.0.0.1:port.
    pub fn meta(port: u16) -> FlowMeta {
        FlowMeta {
            originator: Endpoint::new("127.0.0.1".parse().unwrap(), 40000),
            responder: Endpoint::new("127.0.0.1".parse().unwrap(), port),
            connection_info: ConnectionInfo::tcp("F1", "1:test="),
        }
    }

    fn epoch_to_ts(s: &str) -> Timestamp {
        let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
        let nanos: i64 = format!("{frac:0<9}")[..9].parse().unwrap();
        Timestamp::from_nanos(secs.parse::<i64>().unwrap() * 1_000_000_000 + nanos)
    }

    /// Parse a fixture whose lines are `proto stream dir epoch hex` (DNS) or
    /// `stream dir epoch hex` (TCP-only fixtures, proto "tcp").
    pub fn fixture(text: &str) -> Vec<Chunk> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let (proto, rest) = if f[0] == "udp" || f[0] == "tcp" {
                    (f[0].to_owned(), &f[1..])
                } else {
                    ("tcp".to_owned(), &f[..])
                };
                Chunk {
                    proto,
                    stream: rest[0].parse().unwrap(),
                    dir: if rest[1] == "c" {
                        Direction::ToResponder
                    } else {
                        Direction::ToOriginator
                    },
                    ts: epoch_to_ts(rest[2]),
                    bytes: hex::decode(rest[3]).unwrap(),
                }
            })
            .collect()
    }

    /// The chunks of one stream, in capture order.
    pub fn stream(chunks: &[Chunk], proto: &str, stream: u32) -> Vec<Chunk> {
        chunks
            .iter()
            .filter(|c| c.proto == proto && c.stream == stream)
            .cloned()
            .collect()
    }
}
