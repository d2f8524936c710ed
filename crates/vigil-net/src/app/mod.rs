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
//! - Parsers never panic on any input and keep bounded state: every buffer
//!   has a limit, and what is over it is counted, not kept.
//! - What a parser counts (malformed messages, limits hit) it reports through
//!   `counters()`; the pipeline adds those totals to the `app` stats group
//!   when it drops the parser.
//! - Records a parser pushes are full [`Event`]s built with
//!   [`Event::new`]; the pipeline fills in `metadata.correlation_uid` and
//!   `metadata.log_name` afterwards.

use vigil_event::{ConnectionInfo, Endpoint, Event, Timestamp};

pub mod dns;
pub mod http;
pub mod ja;
pub mod quic;
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
}

impl AppProto {
    /// Lower-case name ("dns", "http", "tls", "ssh", "quic"), as in `app_name`.
    pub const fn name(self) -> &'static str {
        match self {
            AppProto::Dns => "dns",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Ssh => "ssh",
            AppProto::Quic => "quic",
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
