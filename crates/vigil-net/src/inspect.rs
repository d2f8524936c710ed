//! The payload-inspection seam: how the capture pipeline hands bytes to a
//! detection engine (the signature engine in `vigil-sig` implements
//! [`PayloadInspector`]; `vigil-net` knows nothing of rules).
//!
//! Contract:
//! - The pipeline calls [`PayloadInspector::inspect`] at *inspection
//!   points*, each with every buffer available there:
//!   - for each packet with transport payload: [`Buffer::Packet`] (that
//!     payload) — TCP segments before reassembly, UDP datagrams, ICMP bodies;
//!   - for each chunk of in-order TCP stream data: [`Buffer::Stream`] (the
//!     chunk, together with up to a bounded tail of earlier bytes of the same
//!     direction so patterns that straddle segments are found; see
//!     [`InspectCtx::stream_offset`]);
//!   - for each application transaction half once its parser has it: the
//!     protocol buffers (an HTTP request: method, URI, host, user agent,
//!     header block, request body; an HTTP response: status code, response
//!     body as file data; a DNS query name; a TLS ClientHello's SNI and JA3;
//!     the server certificate's subject and issuer).
//! - A rule is evaluated at an inspection point only when every buffer it
//!   names is present there, so an `http.uri` + `http.host` rule sees both
//!   from the same request.
//! - Buffers are borrowed for the call only. Bodies are bounded by
//!   [`InspectLimits`]; what is cut is cut, and counted by the parser.
//! - [`PayloadInspector::flow_end`] is called once when a flow ends, so the
//!   inspector can drop per-flow state (flowbits, thresholds by flow).
//! - Findings the inspector makes are pushed to `out` as Detection Finding
//!   events; the pipeline stamps them like any other record.

use vigil_event::{Event, Timestamp};

use crate::app::{AppProto, Direction, FlowMeta};

/// A named inspection buffer (Suricata's sticky buffers and the raw payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Buffer {
    /// One packet's transport payload.
    Packet,
    /// Reassembled in-order TCP bytes of one direction.
    Stream,
    /// HTTP request method.
    HttpMethod,
    /// HTTP request URI, normalized (percent-decoding of unreserved
    /// characters, `/./` and `/../` resolved) as Suricata's `http.uri`.
    HttpUri,
    /// HTTP request URI exactly as sent (`http.uri.raw`).
    HttpRawUri,
    /// HTTP Host header value, lower-cased, without the port (`http.host`).
    HttpHost,
    /// HTTP User-Agent header value.
    HttpUserAgent,
    /// HTTP request header block without the request line, each header as
    /// `Name: value\r\n` (`http.header`).
    HttpHeader,
    /// HTTP request body, de-chunked (`http.request_body`, `http_client_body`).
    HttpRequestBody,
    /// HTTP response status code as text (`http.stat_code`).
    HttpStatCode,
    /// HTTP response header block (`http.response_header`-like).
    HttpResponseHeader,
    /// HTTP response body, de-chunked (`file.data`, `file_data`).
    FileData,
    /// DNS query name (`dns.query`).
    DnsQuery,
    /// TLS SNI (`tls.sni`).
    TlsSni,
    /// TLS server certificate subject (`tls.cert_subject`).
    TlsCertSubject,
    /// TLS server certificate issuer (`tls.cert_issuer`).
    TlsCertIssuer,
    /// JA3 hash, lower-case hex (`ja3.hash`).
    Ja3Hash,
    /// JA3 string (`ja3.string`).
    Ja3String,
}

/// Where in a flow an inspection point is.
#[derive(Debug, Clone, Copy)]
pub struct InspectCtx<'a> {
    /// The flow (endpoints as originator → responder, uid, Community ID).
    pub flow: &'a FlowMeta,
    /// Which way these bytes travel relative to the originator.
    pub dir: Direction,
    /// True when these bytes travel client → server (Suricata's `to_server`);
    /// the originator is the client unless the protocol says otherwise.
    pub to_server: bool,
    /// True once the TCP handshake completed (Suricata's `established`);
    /// true for UDP once both sides have sent.
    pub established: bool,
    /// The flow's application protocol, once identified.
    pub app: Option<AppProto>,
    /// IP protocol number (6 TCP, 17 UDP, ...).
    pub ip_protocol: u8,
    /// Event time of the bytes.
    pub ts: Timestamp,
    /// Packet number in the capture that completed this inspection point.
    pub packet: u64,
    /// For [`Buffer::Stream`]: the stream offset of the first byte of the
    /// buffer (bytes before it in that direction), so an inspector can tell
    /// the repeated tail from new bytes.
    pub stream_offset: u64,
}

/// Bounds on what the pipeline hands to an inspector.
#[derive(Debug, Clone)]
pub struct InspectLimits {
    /// Bytes of an HTTP request or response body passed on (the rest is cut).
    pub max_body_bytes: usize,
    /// Bytes of earlier stream data repeated before each new stream chunk.
    pub stream_tail_bytes: usize,
}

impl Default for InspectLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            stream_tail_bytes: 2048,
        }
    }
}

/// A detection engine that looks at payloads.
pub trait PayloadInspector: std::fmt::Debug + Send {
    /// One inspection point with its buffers (each kind at most once).
    fn inspect(&mut self, ctx: &InspectCtx<'_>, buffers: &[(Buffer, &[u8])], out: &mut Vec<Event>);
    /// The flow with this uid ended; drop any state kept for it.
    fn flow_end(&mut self, flow_uid: &str);
    /// What the inspector counted (rules evaluated, matches, state evicted),
    /// summed into the `sig` stats group at the end of a run.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
