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
//! - Parsers build transaction points in a [`TxPoint`] and queue them in a
//!   [`TxQueue`]; the pipeline drains the queue after each parser call (the
//!   parser side of this contract is in [`crate::app`]). Without an
//!   inspector no parser collects anything.

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
    /// The flow's payload is encrypted from here on (TLS after its
    /// handshake, see [`crate::app::StreamParser::encrypted`]): an
    /// inspector need not match payload content here, as Suricata's default
    /// TLS encryption handling does not; header tests (addresses, ports,
    /// flags, `dsize`) still apply. The pipeline makes no stream points for
    /// such a flow; packet points carry this flag.
    pub payload_encrypted: bool,
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

/// Most buffers one inspection point holds (one of each [`Buffer`] kind).
pub const MAX_BUFFERS: usize = 24;

/// Points a [`TxQueue`] holds between two drains; more are dropped and
/// counted ([`TxQueue::dropped`]).
pub const MAX_QUEUED: usize = 256;

/// Capacity a drained point may keep for reuse; a larger one (a body) is
/// freed, so an idle flow holds no body-sized memory.
const KEEP_CAPACITY: usize = 8 * 1024;

/// The buffers of one transaction inspection point while a parser builds
/// it: one byte store and, per buffer kind, its range. Reused across
/// transactions, so building a point allocates only while the store grows.
#[derive(Debug, Default, Clone)]
pub struct TxPoint {
    bytes: Vec<u8>,
    bufs: Vec<(Buffer, usize, usize)>,
}

impl TxPoint {
    /// An empty point.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget every buffer (the storage is kept).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.bufs.clear();
    }

    /// No buffer yet.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// The bytes of `buffer`, when the point has it.
    pub fn get(&self, buffer: Buffer) -> Option<&[u8]> {
        self.bufs
            .iter()
            .find(|(b, ..)| *b == buffer)
            .and_then(|&(_, from, to)| self.bytes.get(from..to))
    }

    /// Add `buffer` with these bytes; ignored when the point has it already
    /// (each kind at most once) or holds [`MAX_BUFFERS`].
    pub fn set(&mut self, buffer: Buffer, bytes: &[u8]) {
        self.set_with(buffer, |out| out.extend_from_slice(bytes));
    }

    /// Add `buffer`, its bytes written by `write` (which only appends);
    /// ignored as [`TxPoint::set`] is.
    pub fn set_with(&mut self, buffer: Buffer, write: impl FnOnce(&mut Vec<u8>)) {
        if self.bufs.len() >= MAX_BUFFERS || self.bufs.iter().any(|(b, ..)| *b == buffer) {
            return;
        }
        let from = self.bytes.len();
        write(&mut self.bytes);
        self.bufs.push((buffer, from, self.bytes.len()));
    }

    /// Append `bytes` to `buffer` (a body that arrives in pieces), keeping
    /// it at most `max` bytes; adds the buffer when absent. Only the buffer
    /// added last can grow: appending to another one keeps nothing. Returns
    /// how many of `bytes` were not kept.
    pub fn append(&mut self, buffer: Buffer, bytes: &[u8], max: usize) -> usize {
        let last_is = self.bufs.last().is_some_and(|(b, ..)| *b == buffer);
        if !last_is {
            if self.bufs.len() >= MAX_BUFFERS || self.bufs.iter().any(|(b, ..)| *b == buffer) {
                return bytes.len();
            }
            self.bufs.push((buffer, self.bytes.len(), self.bytes.len()));
        }
        let Some(last) = self.bufs.last_mut() else {
            return bytes.len();
        };
        let have = last.2 - last.1;
        let take = max.saturating_sub(have).min(bytes.len());
        self.bytes
            .extend_from_slice(bytes.get(..take).unwrap_or_default());
        last.2 += take;
        bytes.len() - take
    }

    /// Length of `buffer` (0 when absent).
    pub fn len_of(&self, buffer: Buffer) -> usize {
        self.get(buffer).map_or(0, <[u8]>::len)
    }

    /// Call `f` with the buffers as an inspector takes them (no allocation:
    /// the slice lives on the stack).
    pub fn with_buffers<R>(&self, f: impl FnOnce(&[(Buffer, &[u8])]) -> R) -> R {
        let mut list: [(Buffer, &[u8]); MAX_BUFFERS] = [(Buffer::Packet, &[]); MAX_BUFFERS];
        let mut n = 0;
        for (slot, &(b, from, to)) in list.iter_mut().zip(&self.bufs) {
            *slot = (b, self.bytes.get(from..to).unwrap_or_default());
            n += 1;
        }
        f(list.get(..n).unwrap_or_default())
    }
}

/// What receives drained transaction points: where the bytes travel and
/// the point's buffers.
pub type TxVisitor<'f> = dyn FnMut(TxMeta, &[(Buffer, &[u8])]) + 'f;

/// Where a queued transaction point's bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxMeta {
    /// Direction relative to the flow's originator.
    pub dir: Direction,
    /// True when a client sent them (requests, queries, ClientHello).
    pub to_server: bool,
}

/// Transaction inspection points a parser completed, waiting for the
/// pipeline to take them (see the contract in [`crate::app`]). Bounded by
/// [`MAX_QUEUED`]; drained after every parser call.
#[derive(Debug)]
pub struct TxQueue {
    limits: InspectLimits,
    queued: Vec<(TxMeta, TxPoint)>,
    spare: Vec<TxPoint>,
    dropped: u64,
}

impl TxQueue {
    /// An empty queue for parsers bounded by `limits`.
    pub fn new(limits: &InspectLimits) -> Self {
        Self {
            limits: limits.clone(),
            queued: Vec::new(),
            spare: Vec::new(),
            dropped: 0,
        }
    }

    /// The limits the parser must keep to.
    pub fn limits(&self) -> &InspectLimits {
        &self.limits
    }

    /// Queue `point` (its buffers move into the queue; `point` is left
    /// empty, ready for the next transaction). An empty point is not queued.
    pub fn commit(&mut self, point: &mut TxPoint, meta: TxMeta) {
        if point.is_empty() {
            return;
        }
        if self.queued.len() >= MAX_QUEUED {
            self.dropped += 1;
            point.clear();
            return;
        }
        let mut fresh = self.spare.pop().unwrap_or_default();
        std::mem::swap(&mut fresh, point);
        self.queued.push((meta, fresh));
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Hand every queued point to `f`, oldest first, and empty the queue.
    pub fn drain(&mut self, f: &mut TxVisitor<'_>) {
        for (meta, mut point) in self.queued.drain(..) {
            point.with_buffers(|bufs| f(meta, bufs));
            if point.bytes.capacity() <= KEEP_CAPACITY && self.spare.len() < 2 {
                point.clear();
                self.spare.push(point);
            }
        }
    }

    /// Points dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> TxMeta {
        TxMeta {
            dir: Direction::ToResponder,
            to_server: true,
        }
    }

    #[test]
    fn a_point_holds_each_kind_once_and_bounds_appended_bodies() {
        let mut p = TxPoint::new();
        p.set(Buffer::HttpMethod, b"GET");
        p.set(Buffer::HttpMethod, b"POST");
        assert_eq!(p.get(Buffer::HttpMethod), Some(&b"GET"[..]));
        assert_eq!(p.append(Buffer::HttpRequestBody, b"abc", 5), 0);
        assert_eq!(p.append(Buffer::HttpRequestBody, b"defg", 5), 2);
        assert_eq!(p.get(Buffer::HttpRequestBody), Some(&b"abcde"[..]));
        // Only the last buffer grows.
        assert_eq!(p.append(Buffer::HttpMethod, b"X", 10), 1);
        p.with_buffers(|bufs| {
            assert_eq!(
                bufs,
                &[
                    (Buffer::HttpMethod, &b"GET"[..]),
                    (Buffer::HttpRequestBody, &b"abcde"[..])
                ]
            )
        });
    }

    #[test]
    fn the_queue_keeps_order_is_bounded_and_leaves_the_point_empty() {
        let mut q = TxQueue::new(&InspectLimits::default());
        let mut p = TxPoint::new();
        q.commit(&mut p, meta());
        assert!(q.is_empty(), "an empty point is not queued");
        for i in 0..MAX_QUEUED + 3 {
            p.set(Buffer::DnsQuery, i.to_string().as_bytes());
            q.commit(&mut p, meta());
            assert!(p.is_empty());
        }
        assert_eq!(q.dropped(), 3);
        let mut seen = Vec::new();
        q.drain(&mut |m, bufs| {
            assert!(m.to_server);
            seen.push(String::from_utf8_lossy(bufs[0].1).into_owned());
        });
        assert_eq!(seen.len(), MAX_QUEUED);
        assert_eq!(seen[0], "0");
        assert_eq!(seen[MAX_QUEUED - 1], (MAX_QUEUED - 1).to_string());
        assert!(q.is_empty());
    }
}
