//! HTTP/1.x: every transaction of keep-alive and pipelined connections.
//!
//! This module owns HTTP/1.x identification ([`looks_like_http`]), the pure
//! header-block parsers ([`parse_request_head`], [`parse_response_head`],
//! over `httparse`), and [`HttpParser`], which follows both directions of a
//! connection: requests in the client's direction, responses in the
//! server's, matched in order (pipelining included), bodies framed per
//! RFC 9112 §6 (Content-Length, chunked with trailers, read-until-close,
//! no body for HEAD and 1xx/204/304 responses) and counted, never kept.
//!
//! One HTTP Activity record per transaction, written when its response is
//! complete, or at the end of the flow with what there is. At a tunnel or
//! protocol switch, a 2xx answer to CONNECT or a 101 Switching Protocols
//! (h2c, WebSocket), the parser returns [`Progress::Switch`] at the end of
//! the response head, so the pipeline identifies what follows (TLS in the
//! tunnel, say); at the HTTP/2 connection preface it stops
//! ([`Progress::Done`]). Bytes a client sends after a CONNECT before its
//! answer (optimistic tunnel data) are not parsed as requests: they are
//! counted (`http.connect_early_data_bytes`) and not followed.

use std::collections::VecDeque;

use vigil_event::{Body, Event, HttpActivity, HttpRequest, HttpResponse, Timestamp, Url};

use super::{AppConfig, Direction, FlowMeta, Progress, StreamParser};
use crate::inspect::{Buffer, InspectLimits, TxMeta, TxPoint, TxQueue, TxVisitor};

/// Request methods recognised at the start of a stream (RFC 9110, WebDAV,
/// CalDAV, UPnP and common proxies' extensions).
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"MKACTIVITY",
    b"CHECKOUT",
    b"MERGE",
    b"SEARCH",
    b"MKCALENDAR",
    b"ACL",
    b"BIND",
    b"UNBIND",
    b"REBIND",
    b"LINK",
    b"UNLINK",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"NOTIFY",
    b"M-SEARCH",
    b"PURGE",
];

/// Headers parsed per message; more is an error (counted, direction given up).
const MAX_HEADERS: usize = 128;
/// Requests waiting for their responses on one connection.
const MAX_PIPELINED: usize = 128;
/// Longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// True when `first` (the first bytes one side of a TCP stream sent) starts
/// like HTTP/1.x: a known method followed by a space, or a status line
/// starting "HTTP/1.".
pub fn looks_like_http(first: &[u8]) -> bool {
    if first.starts_with(b"HTTP/1.") {
        return true;
    }
    METHODS
        .iter()
        .any(|m| first.len() > m.len() && first.starts_with(m) && first.get(m.len()) == Some(&b' '))
}

/// True when `start` is a strict prefix of a request line or status line
/// start, so more bytes could make it HTTP.
fn could_become_http(start: &[u8]) -> bool {
    b"HTTP/1.".starts_with(start)
        || b"PRI * HTTP/2".starts_with(start)
        || METHODS
            .iter()
            .any(|m| start.len() <= m.len() && m.starts_with(start))
}

/// Why a header block could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// httparse rejected the block.
    #[error("http header block is malformed: {0}")]
    Malformed(String),
    /// More than [`MAX_HEADERS`] header fields.
    #[error("http header block has more than {MAX_HEADERS} fields")]
    TooManyHeaders,
    /// The block is not complete (no empty line yet).
    #[error("http header block is incomplete")]
    Partial,
}

/// The header fields a transaction record needs, with body framing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadFields {
    /// Host.
    pub host: Option<String>,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// Referer.
    pub referer: Option<String>,
    /// Content-Type.
    pub content_type: Option<String>,
    /// Content-Length when every occurrence agrees and is a number; `Err`
    /// when present but invalid.
    pub content_length: Option<Result<u64, ()>>,
    /// Transfer-Encoding values, comma-joined, lower case.
    pub transfer_encoding: Option<String>,
    /// Upgrade.
    pub upgrade: Option<String>,
}

impl HeadFields {
    /// The final transfer coding is chunked (RFC 9112 §6.3 rule 4).
    pub fn is_chunked(&self) -> bool {
        self.transfer_encoding
            .as_deref()
            .and_then(|te| te.rsplit(',').next())
            .is_some_and(|last| last.trim() == "chunked")
    }
}

/// A parsed request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Method as sent.
    pub method: String,
    /// Request target as sent.
    pub target: String,
    /// Minor version (0 or 1).
    pub minor_version: u8,
    /// Fields Vigil records.
    pub fields: HeadFields,
}

/// A parsed status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
    /// Minor version.
    pub minor_version: u8,
    /// Fields Vigil records.
    pub fields: HeadFields,
}

fn parser_config() -> httparse::ParserConfig {
    // Real servers and clients bend the grammar; accept what browsers accept.
    let mut config = httparse::ParserConfig::default();
    config
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    config
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).trim().to_owned()
}

fn fields(headers: &[httparse::Header<'_>]) -> HeadFields {
    let mut f = HeadFields::default();
    for h in headers {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            f.host.get_or_insert_with(|| text(h.value));
        } else if name.eq_ignore_ascii_case("user-agent") {
            f.user_agent.get_or_insert_with(|| text(h.value));
        } else if name.eq_ignore_ascii_case("referer") {
            f.referer.get_or_insert_with(|| text(h.value));
        } else if name.eq_ignore_ascii_case("content-type") {
            f.content_type.get_or_insert_with(|| text(h.value));
        } else if name.eq_ignore_ascii_case("upgrade") {
            f.upgrade.get_or_insert_with(|| text(h.value));
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let v = text(h.value).to_ascii_lowercase();
            f.transfer_encoding = Some(match f.transfer_encoding.take() {
                Some(prev) => format!("{prev},{v}"),
                None => v,
            });
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9110 §8.6: a list of identical values is one value.
            let parsed = text(h.value)
                .split(',')
                .map(|v| v.trim().parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .and_then(|vs| {
                    let first = *vs.first()?;
                    vs.iter().all(|v| *v == first).then_some(first)
                })
                .ok_or(());
            f.content_length = Some(match (f.content_length, parsed) {
                (None, p) => p,
                (Some(Ok(a)), Ok(b)) if a == b => Ok(a),
                _ => Err(()),
            });
        }
    }
    f
}

/// Parse a request head (request line and header fields up to and including
/// the empty line). Returns the head and the bytes it took.
pub fn parse_request_head(buf: &[u8]) -> Result<(RequestHead, usize), HttpError> {
    parse_request_with(&parser_config(), buf, None)
}

/// Write a header block as `http.header` has it: each field as
/// `Name: value\r\n` (value trimmed), in the order sent, without the start
/// line or the final empty line.
fn header_block(headers: &[httparse::Header<'_>], out: &mut Vec<u8>) {
    for h in headers {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.trim_ascii());
        out.extend_from_slice(b"\r\n");
    }
}

/// Parse a request head; with `point`, also add its header block
/// ([`Buffer::HttpHeader`]) there.
fn parse_request_with(
    config: &httparse::ParserConfig,
    buf: &[u8],
    point: Option<&mut TxPoint>,
) -> Result<(RequestHead, usize), HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match config.parse_request(&mut req, buf) {
        Ok(httparse::Status::Complete(n)) => {
            if let Some(point) = point {
                point.set_with(Buffer::HttpHeader, |out| header_block(req.headers, out));
            }
            let head = RequestHead {
                method: req.method.unwrap_or_default().to_owned(),
                target: req.path.unwrap_or_default().to_owned(),
                minor_version: req.version.unwrap_or(1),
                fields: fields(req.headers),
            };
            Ok((head, n))
        }
        Ok(httparse::Status::Partial) => Err(HttpError::Partial),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooManyHeaders),
        Err(e) => Err(HttpError::Malformed(e.to_string())),
    }
}

/// Parse a response head (status line and header fields up to and
/// including the empty line). Returns the head and the bytes it took.
pub fn parse_response_head(buf: &[u8]) -> Result<(ResponseHead, usize), HttpError> {
    parse_response_with(&parser_config(), buf, None)
}

/// Parse a response head; with `point`, also add its header block
/// ([`Buffer::HttpResponseHeader`]) there.
fn parse_response_with(
    config: &httparse::ParserConfig,
    buf: &[u8],
    point: Option<&mut TxPoint>,
) -> Result<(ResponseHead, usize), HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match config.parse_response(&mut resp, buf) {
        Ok(httparse::Status::Complete(n)) => {
            if let Some(point) = point {
                point.set_with(Buffer::HttpResponseHeader, |out| {
                    header_block(resp.headers, out)
                });
            }
            let head = ResponseHead {
                code: resp.code.unwrap_or_default(),
                reason: resp.reason.unwrap_or_default().to_owned(),
                minor_version: resp.version.unwrap_or(1),
                fields: fields(resp.headers),
            };
            Ok((head, n))
        }
        Ok(httparse::Status::Partial) => Err(HttpError::Partial),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooManyHeaders),
        Err(e) => Err(HttpError::Malformed(e.to_string())),
    }
}

/// Index just past the first empty line ("\r\n\r\n" or "\n\n") at or after
/// `from`, if any.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    tail.windows(2).enumerate().find_map(|(i, w)| match w {
        [b'\n', b'\n'] => Some(from + i + 2),
        [b'\n', b'\r'] if tail.get(i + 2) == Some(&b'\n') => Some(from + i + 3),
        _ => None,
    })
}

/// Where a body is within its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Between messages: the next bytes are a header block.
    Head,
    /// `remaining` bytes of a Content-Length body.
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// `remaining` bytes of chunk data.
    ChunkData(u64),
    /// The CRLF after chunk data (`cr` once the CR is seen).
    ChunkEnd { cr: bool },
    /// Trailer fields after the last chunk, up to an empty line.
    Trailers,
    /// Everything until the connection closes.
    UntilClose,
}

/// What one step of a direction's state machine produced.
#[derive(Debug, Default)]
struct Step {
    consumed: usize,
    /// Decoded body bytes.
    body: u64,
    /// A header block finished: its bytes (owned, to be parsed by the caller).
    head: Option<HeadBytes>,
    /// The message (its body) ended.
    ended: bool,
    /// The direction cannot be followed any more: counter name.
    error: Option<&'static str>,
}

#[derive(Debug)]
enum HeadBytes {
    /// The header block is in the side's buffer.
    Buffered(usize),
    /// The header block is the first `n` bytes of the input.
    Input(usize),
}

/// One direction's framing state.
#[derive(Debug)]
struct Side {
    framing: Framing,
    /// Header block (or chunk-size/trailer line) collected so far.
    buf: Vec<u8>,
    /// Time of the current message's first byte.
    msg_ts: Timestamp,
    gave_up: bool,
}

impl Side {
    fn new() -> Self {
        Self {
            framing: Framing::Head,
            buf: Vec::new(),
            msg_ts: Timestamp::default(),
            gave_up: false,
        }
    }

    fn give_up(&mut self) {
        self.gave_up = true;
        self.buf = Vec::new();
    }

    fn step(&mut self, input: &[u8], ts: Timestamp, max_header: usize) -> Step {
        let mut s = Step::default();
        match self.framing {
            Framing::Head => {
                if self.buf.is_empty() {
                    // RFC 9112 §2.2: ignore empty lines before a message.
                    let skip = input
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if skip > 0 {
                        s.consumed = skip;
                        return s;
                    }
                    self.msg_ts = ts;
                    if let Some(end) = header_end(input, 0) {
                        if end <= max_header {
                            s.consumed = end;
                            s.head = Some(HeadBytes::Input(end));
                            return s;
                        }
                    }
                }
                let old = self.buf.len();
                let room = max_header.saturating_sub(old);
                let take = room.min(input.len());
                self.buf
                    .extend_from_slice(input.get(..take).unwrap_or_default());
                match header_end(&self.buf, old.saturating_sub(3)) {
                    Some(end) => {
                        s.consumed = end.saturating_sub(old);
                        s.head = Some(HeadBytes::Buffered(end));
                    }
                    None if self.buf.len() >= max_header => s.error = Some("header_too_large"),
                    None => s.consumed = take,
                }
            }
            Framing::Length(remaining) | Framing::ChunkData(remaining) => {
                let take = remaining.min(input.len() as u64);
                s.consumed = take as usize;
                s.body = take;
                let left = remaining - take;
                self.framing = match self.framing {
                    Framing::Length(_) if left == 0 => {
                        s.ended = true;
                        Framing::Head
                    }
                    Framing::Length(_) => Framing::Length(left),
                    _ if left == 0 => Framing::ChunkEnd { cr: false },
                    _ => Framing::ChunkData(left),
                };
            }
            Framing::ChunkEnd { cr } => {
                s.consumed = 1;
                match input.first() {
                    Some(b'\r') if !cr => self.framing = Framing::ChunkEnd { cr: true },
                    Some(b'\n') => self.framing = Framing::ChunkSize,
                    _ => s.error = Some("bad_chunk"),
                }
            }
            Framing::ChunkSize | Framing::Trailers => {
                let (line, ended_line) = match input.iter().position(|&b| b == b'\n') {
                    Some(i) => (input.get(..=i).unwrap_or_default(), true),
                    None => (input, false),
                };
                let limit = if self.framing == Framing::ChunkSize {
                    MAX_CHUNK_LINE
                } else {
                    max_header
                };
                if self.buf.len() + line.len() > limit {
                    s.error = Some("chunk_line_too_long");
                    return s;
                }
                self.buf.extend_from_slice(line);
                s.consumed = line.len();
                if !ended_line {
                    return s;
                }
                let full = std::mem::take(&mut self.buf);
                if self.framing == Framing::Trailers {
                    if full == b"\r\n" || full == b"\n" {
                        self.framing = Framing::Head;
                        s.ended = true;
                    }
                    return s;
                }
                match chunk_size(&full) {
                    Some(0) => self.framing = Framing::Trailers,
                    Some(n) => self.framing = Framing::ChunkData(n),
                    None => s.error = Some("bad_chunk"),
                }
            }
            Framing::UntilClose => {
                s.consumed = input.len();
                s.body = input.len() as u64;
            }
        }
        s
    }

    /// `len` bytes are missing. Returns the body bytes they stand for and
    /// whether the message ended, or `None` when the direction is lost.
    fn gap(&mut self, len: u64) -> Option<(u64, bool)> {
        match self.framing {
            Framing::Length(rem) if len <= rem => {
                let left = rem - len;
                self.framing = if left == 0 {
                    Framing::Head
                } else {
                    Framing::Length(left)
                };
                Some((len, left == 0))
            }
            Framing::ChunkData(rem) if len <= rem => {
                let left = rem - len;
                self.framing = if left == 0 {
                    Framing::ChunkEnd { cr: false }
                } else {
                    Framing::ChunkData(left)
                };
                Some((len, false))
            }
            Framing::UntilClose => Some((len, false)),
            _ => None,
        }
    }
}

/// The size of a chunk-size line (hex, optional extensions, CRLF or LF).
fn chunk_size(line: &[u8]) -> Option<u64> {
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((_, n))) => Some(n),
        // httparse wants CRLF; accept a bare LF as RFC 9112 §2.2 allows.
        _ => {
            let body = line.strip_suffix(b"\n")?;
            let mut fixed = body.to_vec();
            fixed.extend_from_slice(b"\r\n");
            match httparse::parse_chunk_size(&fixed) {
                Ok(httparse::Status::Complete((_, n))) if !body.ends_with(b"\r") => Some(n),
                _ => None,
            }
        }
    }
}

/// One request and, once seen, its response.
#[derive(Debug)]
struct Tx {
    index: u32,
    ts: Timestamp,
    method: String,
    request: HttpRequest,
    response: Option<HttpResponse>,
}

#[derive(Debug, Default, Clone)]
struct HttpCounters {
    header_too_large: u64,
    malformed: u64,
    too_many_headers: u64,
    bad_chunk: u64,
    response_without_request: u64,
    pipeline_overflow: u64,
    gap_gave_up: u64,
    gap_in_body: u64,
    bad_transfer_encoding: u64,
    connect_early_data_bytes: u64,
}

/// The HTTP/1.x stream parser.
#[derive(Debug)]
pub struct HttpParser {
    max_header: usize,
    config: httparse::ParserConfig,
    /// The direction requests travel, once known.
    client: Option<Direction>,
    req: Side,
    resp: Side,
    /// Transactions waiting for (the end of) their response, oldest first.
    txs: VecDeque<Tx>,
    /// The transaction whose request body is being read.
    req_body_of: Option<u32>,
    /// The response being read has no request (counted, not recorded).
    orphan_response: bool,
    /// Transactions completed by a gap, to write at the next call.
    ready: Vec<Tx>,
    next_index: u32,
    done: bool,
    counters: HttpCounters,
    /// Protocol buffers for an inspector, once asked for.
    insp: Option<Box<HttpInspect>>,
}

/// What an HTTP parser keeps for payload inspection (see the contract in
/// [`crate::app`]): the request and the response point being built.
#[derive(Debug)]
struct HttpInspect {
    queue: TxQueue,
    /// The current request's buffers (head, then body as it arrives).
    req: TxPoint,
    /// `req` waits for (more of) its body.
    req_open: bool,
    /// The current response's buffers.
    resp: TxPoint,
    /// `resp` waits for (more of) its body.
    resp_open: bool,
    /// Bodies cut at [`InspectLimits::max_body_bytes`].
    bodies_cut: u64,
}

impl HttpParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        Self {
            max_header: config.max_http_header_bytes.max(16),
            config: parser_config(),
            client: None,
            req: Side::new(),
            resp: Side::new(),
            txs: VecDeque::new(),
            req_body_of: None,
            orphan_response: false,
            ready: Vec::new(),
            next_index: 0,
            done: false,
            counters: HttpCounters::default(),
            insp: None,
        }
    }

    /// The direction requests travel (the originator's until known).
    fn client_dir(&self) -> Direction {
        self.client.unwrap_or(Direction::ToResponder)
    }

    /// The request or response point under construction, when inspecting.
    fn point_mut(&mut self, is_req: bool) -> Option<&mut TxPoint> {
        self.insp
            .as_deref_mut()
            .map(|i| if is_req { &mut i.req } else { &mut i.resp })
    }

    /// Queue the request (`is_req`) or response point, if one is being built.
    fn close_point(&mut self, is_req: bool) {
        let client = self.client_dir();
        let Some(insp) = self.insp.as_deref_mut() else {
            return;
        };
        let (point, open, meta) = if is_req {
            let meta = TxMeta {
                dir: client,
                to_server: true,
            };
            (&mut insp.req, &mut insp.req_open, meta)
        } else {
            let meta = TxMeta {
                dir: client.reverse(),
                to_server: false,
            };
            (&mut insp.resp, &mut insp.resp_open, meta)
        };
        if std::mem::take(open) {
            insp.queue.commit(point, meta);
        }
    }

    /// The head of a message was read into its point: queue it now when no
    /// body follows (or none is inspected), else wait for the body.
    fn open_point(&mut self, is_req: bool, has_body: bool) {
        let Some(insp) = self.insp.as_deref_mut() else {
            return;
        };
        let with_body = has_body && insp.queue.limits().max_body_bytes > 0;
        if is_req {
            insp.req_open = true;
        } else {
            insp.resp_open = true;
        }
        if !with_body {
            self.close_point(is_req);
        }
    }

    /// Decoded body bytes of the current request or response.
    fn inspect_body(&mut self, is_req: bool, body: &[u8]) {
        let Some(insp) = self.insp.as_deref_mut() else {
            return;
        };
        let max = insp.queue.limits().max_body_bytes;
        let (point, open, buffer) = if is_req {
            (&mut insp.req, insp.req_open, Buffer::HttpRequestBody)
        } else {
            (&mut insp.resp, insp.resp_open, Buffer::FileData)
        };
        if !open {
            return;
        }
        let cut = point.append(buffer, body, max);
        if cut > 0 {
            insp.bodies_cut += 1;
        }
        if point.len_of(buffer) >= max {
            self.close_point(is_req);
        }
    }

    fn count_error(&mut self, name: &'static str) {
        let c = &mut self.counters;
        match name {
            "header_too_large" => c.header_too_large += 1,
            "too_many_headers" => c.too_many_headers += 1,
            "bad_chunk" | "chunk_line_too_long" => c.bad_chunk += 1,
            "pipeline_overflow" => c.pipeline_overflow += 1,
            "bad_transfer_encoding" => c.bad_transfer_encoding += 1,
            _ => c.malformed += 1,
        }
    }

    fn emit(&self, meta: &FlowMeta, tx: Tx, out: &mut Vec<Event>) {
        let client = self.client.unwrap_or(Direction::ToResponder);
        let (src, mut dst) = meta.client_server(client);
        dst.hostname.clone_from(&tx.request.url.hostname);
        let record = HttpActivity {
            src_endpoint: src,
            dst_endpoint: dst,
            connection_info: meta.connection_info.clone(),
            http_request: tx.request,
            http_response: tx.response,
            transaction: tx.index,
        };
        out.push(Event::new(tx.ts, Body::Http(record)));
    }

    /// A request head arrived; returns an error counter name, or `Done`.
    fn on_request(&mut self, head: RequestHead, ts: Timestamp) -> Result<bool, &'static str> {
        if self.txs.len() >= MAX_PIPELINED {
            return Err("pipeline_overflow");
        }
        let framing = if head.fields.transfer_encoding.is_some() {
            // RFC 9112 §6.3: a request whose final coding is not chunked
            // cannot be framed.
            if !head.fields.is_chunked() {
                return Err("bad_transfer_encoding");
            }
            Framing::ChunkSize
        } else {
            match head.fields.content_length {
                Some(Ok(0)) | None => Framing::Head,
                Some(Ok(n)) => Framing::Length(n),
                Some(Err(())) => return Err("malformed"),
            }
        };
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        let request = http_request(&head);
        self.txs.push_back(Tx {
            index,
            ts,
            method: head.method,
            request,
            response: None,
        });
        self.req.framing = framing;
        self.req_body_of = (framing != Framing::Head).then_some(index);
        if self.insp.is_some() {
            self.request_buffers();
            self.open_point(true, framing != Framing::Head);
        }
        Ok(false)
    }

    /// Add the request line's buffers of the newest transaction to the
    /// request point (its header block is there already).
    fn request_buffers(&mut self) {
        let Some(insp) = self.insp.as_deref_mut() else {
            return;
        };
        let Some(tx) = self.txs.back() else {
            return;
        };
        let point = &mut insp.req;
        let r = &tx.request;
        point.set(Buffer::HttpMethod, r.http_method.as_bytes());
        if tx.method == "CONNECT" {
            point.set(Buffer::HttpUri, r.url.url_string.as_bytes());
        } else {
            point.set_with(Buffer::HttpUri, |out| {
                normalize_uri(&r.url.path, r.url.query_string.as_deref(), out)
            });
        }
        point.set(Buffer::HttpRawUri, r.url.url_string.as_bytes());
        if let Some(host) = &r.url.hostname {
            point.set_with(Buffer::HttpHost, |out| {
                out.extend(host.bytes().map(|b| b.to_ascii_lowercase()))
            });
        }
        if let Some(ua) = &r.user_agent {
            point.set(Buffer::HttpUserAgent, ua.as_bytes());
        }
    }

    /// A response head arrived; returns whether parsing is over (a tunnel).
    fn on_response(&mut self, meta: &FlowMeta, head: ResponseHead, out: &mut Vec<Event>) -> bool {
        let code = head.code;
        let method = self.txs.front().map(|t| t.method.clone());
        if let Some(point) = self.point_mut(false) {
            if (100..200).contains(&code) && code != 101 {
                point.clear();
            } else {
                // Writing to a Vec cannot fail.
                point.set_with(Buffer::HttpStatCode, |out| {
                    let _ = std::io::Write::write_fmt(out, format_args!("{code}"));
                });
            }
        }
        if (100..200).contains(&code) {
            if code == 101 {
                // Switching Protocols: what follows is not HTTP/1.x.
                self.open_point(false, false);
                if let Some(mut tx) = self.txs.pop_front() {
                    tx.response = Some(http_response(&head));
                    self.emit(meta, tx, out);
                }
                return true;
            }
            // An interim response (100 Continue, 103 Early Hints): the final one follows.
            return false;
        }
        let no_body = code == 204 || code == 304 || method.as_deref() == Some("HEAD");
        let tunnel = method.as_deref() == Some("CONNECT") && (200..300).contains(&code);
        self.orphan_response = method.is_none();
        if self.orphan_response {
            self.counters.response_without_request += 1;
        } else if let Some(tx) = self.txs.front_mut() {
            tx.response = Some(http_response(&head));
        }
        let framing = if no_body || tunnel {
            Framing::Head
        } else if head.fields.transfer_encoding.is_some() {
            if head.fields.is_chunked() {
                Framing::ChunkSize
            } else {
                Framing::UntilClose
            }
        } else {
            match head.fields.content_length {
                Some(Ok(0)) => Framing::Head,
                Some(Ok(n)) => Framing::Length(n),
                Some(Err(())) | None => Framing::UntilClose,
            }
        };
        self.resp.framing = framing;
        self.open_point(false, framing != Framing::Head);
        if framing == Framing::Head {
            self.response_ended(meta, out);
        }
        tunnel
    }

    fn response_ended(&mut self, meta: &FlowMeta, out: &mut Vec<Event>) {
        if std::mem::take(&mut self.orphan_response) {
            return;
        }
        if let Some(tx) = self.txs.pop_front() {
            self.emit(meta, tx, out);
        }
    }

    fn add_body(&mut self, is_req: bool, n: u64) {
        if is_req {
            if let Some(index) = self.req_body_of {
                if let Some(tx) = self.txs.iter_mut().find(|t| t.index == index) {
                    tx.request.body_length = tx.request.body_length.saturating_add(n);
                }
            }
        } else if !self.orphan_response {
            if let Some(resp) = self.txs.front_mut().and_then(|t| t.response.as_mut()) {
                resp.length = resp.length.saturating_add(n);
            }
        }
    }

    /// The last request is a CONNECT (head and body read) with no answer yet.
    fn connect_unanswered(&self) -> bool {
        self.req.framing == Framing::Head
            && self.req.buf.is_empty()
            && self
                .txs
                .back()
                .is_some_and(|t| t.method == "CONNECT" && t.response.is_none())
    }

    fn side_mut(&mut self, is_req: bool) -> &mut Side {
        if is_req {
            &mut self.req
        } else {
            &mut self.resp
        }
    }

    fn progress(&self) -> Progress {
        if self.done || (self.req.gave_up && self.resp.gave_up) {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

fn http_request(head: &RequestHead) -> HttpRequest {
    let target = head.target.as_str();
    let (authority, path_query) = if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
        .or_else(|| target.split_once("://").map(|(_, r)| r))
    {
        // Absolute form (to a proxy): the authority wins over Host (RFC 9112 §3.2.2).
        let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (auth, pq) = rest.split_at(cut);
        let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
        (Some(auth.to_owned()), pq)
    } else if head.method == "CONNECT" {
        (Some(target.to_owned()), "")
    } else {
        (None, target)
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (path_query, None),
    };
    let path = if path.is_empty() && authority.is_some() && head.method != "CONNECT" {
        "/"
    } else {
        path
    };
    let (hostname, port) = match authority.or_else(|| head.fields.host.clone()) {
        Some(a) => split_host_port(&a),
        None => (None, None),
    };
    HttpRequest {
        http_method: head.method.clone(),
        url: Url {
            hostname,
            port,
            path: path.to_owned(),
            query_string: query,
            url_string: head.target.clone(),
        },
        version: format!("HTTP/1.{}", head.minor_version),
        user_agent: head.fields.user_agent.clone(),
        referrer: head.fields.referer.clone(),
        body_length: 0,
    }
}

/// The request URI as Suricata's `http.uri` (libhtp's normalized URI)
/// has it, written to `out`: percent-encoded unreserved characters
/// (RFC 3986 §2.3: letters, digits, `-._~`) decoded in path and query,
/// then in the path only runs of `/` collapsed and `.`/`..` segments
/// resolved (RFC 3986 §5.2.4; `..` never climbs above the root). Other
/// escapes stay as sent, and so does the query's text. `path` excludes the
/// query; an absolute-form target passes its path and query only.
pub fn normalize_uri(path: &str, query: Option<&str>, out: &mut Vec<u8>) {
    let start = out.len();
    decode_unreserved(path.as_bytes(), out);
    let decoded = out.split_off(start);
    // Collapse "//" while copying, then resolve dot segments in place.
    let mut collapsed = Vec::with_capacity(decoded.len());
    for &b in &decoded {
        if !(b == b'/' && collapsed.last() == Some(&b'/')) {
            collapsed.push(b);
        }
    }
    remove_dot_segments(&collapsed, out);
    if let Some(q) = query {
        out.push(b'?');
        decode_unreserved(q.as_bytes(), out);
    }
}

/// Copy `input`, decoding `%XX` escapes of unreserved characters.
fn decode_unreserved(input: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                // Two hex digits make at most 0xff.
                let c = (h * 16 + l) as u8;
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.push(c);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
}

/// RFC 3986 §5.2.4 remove_dot_segments, appending the result to `out`.
/// (The slicing below stays within `input`: each cut follows a prefix or
/// length test of at least that many bytes.)
fn remove_dot_segments(path: &[u8], out: &mut Vec<u8>) {
    let base = out.len();
    let mut input = path;
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix(b"../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix(b"./") {
            input = rest;
        } else if input.starts_with(b"/./") {
            input = &input[2..];
        } else if input == b"/." {
            input = b"/";
        } else if input.starts_with(b"/../") || input == b"/.." {
            input = if input.len() == 3 { b"/" } else { &input[3..] };
            // Drop the last segment written (and its '/').
            let cut = out
                .get(base..)
                .and_then(|o| o.iter().rposition(|&b| b == b'/'))
                .map_or(base, |p| base + p);
            out.truncate(cut);
        } else if input == b"." || input == b".." {
            input = b"";
        } else {
            // Move the first segment (with its leading '/', if any) across.
            let from = usize::from(input.first() == Some(&b'/'));
            let end = input
                .get(from..)
                .and_then(|r| r.iter().position(|&b| b == b'/'))
                .map_or(input.len(), |p| from + p);
            out.extend_from_slice(&input[..end]);
            input = &input[end..];
        }
    }
}

/// "host:port", "[v6]:port" or "host" → (host, port).
fn split_host_port(authority: &str) -> (Option<String>, Option<u16>) {
    let a = authority.trim();
    if a.is_empty() {
        return (None, None);
    }
    if let Some(rest) = a.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (Some(host.to_owned()), port);
        }
    }
    match a.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(host.to_owned()), port.parse().ok())
        }
        _ => (Some(a.to_owned()), None),
    }
}

fn http_response(head: &ResponseHead) -> HttpResponse {
    HttpResponse {
        code: head.code,
        message: (!head.reason.is_empty()).then(|| head.reason.clone()),
        content_type: head.fields.content_type.clone(),
        length: 0,
    }
}

impl StreamParser for HttpParser {
    fn data(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress {
        for tx in std::mem::take(&mut self.ready) {
            self.emit(meta, tx, out);
        }
        if self.done {
            return Progress::Done;
        }
        let client = match self.client {
            Some(c) => c,
            None => {
                let trimmed = data.trim_ascii_start();
                if trimmed.is_empty() {
                    return Progress::Continue;
                }
                let c = if trimmed.starts_with(b"HTTP/") {
                    dir.reverse()
                } else if looks_like_http(trimmed) || trimmed.starts_with(b"PRI * HTTP/2") {
                    dir
                } else if could_become_http(trimmed) {
                    // Too short to tell a request from a response ("H"):
                    // the originator is the client on almost every connection.
                    Direction::ToResponder
                } else {
                    return Progress::Mismatch;
                };
                self.client = Some(c);
                c
            }
        };
        let is_req = dir == client;
        let max_header = self.max_header;
        let mut rest = data;
        while !rest.is_empty() {
            if is_req && self.connect_unanswered() {
                // Tunnel data sent before the CONNECT's answer.
                self.counters.connect_early_data_bytes += rest.len() as u64;
                break;
            }
            let side = self.side_mut(is_req);
            if side.gave_up {
                break;
            }
            if side.framing == Framing::Head
                && side.buf.is_empty()
                && is_req
                && rest.starts_with(b"PRI * HTTP/2")
            {
                // The HTTP/2 connection preface (prior knowledge or after h2c).
                self.done = true;
                return Progress::Done;
            }
            let step = side.step(rest, ts, max_header);
            let msg_ts = side.msg_ts;
            let input = rest;
            let head_bytes = step.head.as_ref().map(|h| match h {
                HeadBytes::Input(n) => rest.get(..*n).unwrap_or_default().to_vec(),
                HeadBytes::Buffered(n) => {
                    let mut b = std::mem::take(&mut side.buf);
                    b.truncate(*n);
                    b
                }
            });
            rest = rest.get(step.consumed..).unwrap_or_default();
            if let Some(error) = step.error {
                self.count_error(error);
                self.side_mut(is_req).give_up();
                self.close_point(is_req);
                if is_req && self.next_index == 0 {
                    return Progress::Mismatch;
                }
                break;
            }
            if step.body > 0 {
                self.add_body(is_req, step.body);
                if self.insp.is_some() {
                    self.inspect_body(is_req, input.get(..step.consumed).unwrap_or_default());
                }
            }
            if step.ended {
                self.close_point(is_req);
                if is_req {
                    self.req_body_of = None;
                } else {
                    self.response_ended(meta, out);
                }
            }
            let Some(bytes) = head_bytes else { continue };
            // A new message: whatever was pending in this direction is done.
            self.close_point(is_req);
            if let Some(point) = self.point_mut(is_req) {
                point.clear();
            }
            let config = &self.config;
            let point = self
                .insp
                .as_deref_mut()
                .map(|i| if is_req { &mut i.req } else { &mut i.resp });
            let result = if is_req {
                match parse_request_with(config, &bytes, point) {
                    Ok((head, _)) => self.on_request(head, msg_ts),
                    Err(HttpError::TooManyHeaders) => Err("too_many_headers"),
                    Err(_) => Err("malformed"),
                }
            } else {
                match parse_response_with(config, &bytes, point) {
                    Ok((head, _)) => Ok(self.on_response(meta, head, out)),
                    Err(HttpError::TooManyHeaders) => Err("too_many_headers"),
                    Err(_) => Err("malformed"),
                }
            };
            match result {
                Ok(true) => {
                    self.done = true;
                    return Progress::Switch {
                        consumed: data.len().saturating_sub(rest.len()),
                    };
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::debug!(flow = %meta.connection_info.uid, error, "http direction given up");
                    if let Some(point) = self.point_mut(is_req) {
                        point.clear();
                    }
                    self.count_error(error);
                    self.side_mut(is_req).give_up();
                    if is_req && self.next_index == 0 {
                        return Progress::Mismatch;
                    }
                    break;
                }
            }
        }
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64) {
        let Some(client) = self.client else {
            return;
        };
        if self.done {
            return;
        }
        let is_req = dir == client;
        let side = self.side_mut(is_req);
        if side.gave_up {
            return;
        }
        let gap = side.gap(len);
        // A body with a hole: inspect what came before it.
        self.close_point(is_req);
        match gap {
            Some((body, ended)) => {
                self.counters.gap_in_body += 1;
                self.add_body(is_req, body);
                if ended {
                    if is_req {
                        self.req_body_of = None;
                    } else if !std::mem::take(&mut self.orphan_response) {
                        if let Some(tx) = self.txs.pop_front() {
                            self.ready.push(tx);
                        }
                    }
                }
            }
            None => {
                self.side_mut(is_req).give_up();
                self.counters.gap_gave_up += 1;
            }
        }
    }

    fn end(&mut self, meta: &FlowMeta, _ts: Timestamp, out: &mut Vec<Event>) {
        self.close_point(true);
        self.close_point(false);
        for tx in std::mem::take(&mut self.ready) {
            self.emit(meta, tx, out);
        }
        while let Some(tx) = self.txs.pop_front() {
            self.emit(meta, tx, out);
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counters;
        [
            ("http.header_too_large", c.header_too_large),
            ("http.malformed", c.malformed),
            ("http.too_many_headers", c.too_many_headers),
            ("http.bad_chunk", c.bad_chunk),
            ("http.response_without_request", c.response_without_request),
            ("http.pipeline_overflow", c.pipeline_overflow),
            ("http.gap_gave_up", c.gap_gave_up),
            ("http.gap_in_body", c.gap_in_body),
            ("http.bad_transfer_encoding", c.bad_transfer_encoding),
            ("http.connect_early_data_bytes", c.connect_early_data_bytes),
            (
                "http.inspect_body_cut",
                self.insp.as_ref().map_or(0, |i| i.bodies_cut),
            ),
            (
                "http.inspect_points_dropped",
                self.insp.as_ref().map_or(0, |i| i.queue.dropped()),
            ),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    fn enable_inspection(&mut self, limits: &InspectLimits) {
        self.insp = Some(Box::new(HttpInspect {
            queue: TxQueue::new(limits),
            req: TxPoint::new(),
            req_open: false,
            resp: TxPoint::new(),
            resp_open: false,
            bodies_cut: 0,
        }));
    }

    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        if let Some(insp) = self.insp.as_deref_mut() {
            insp.queue.drain(f);
        }
    }

    fn client_direction(&self) -> Option<Direction> {
        self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testutil::{fixture, meta, stream, Chunk};
    use proptest::prelude::*;

    /// nginx 1.22 (nginx-light) on 127.0.0.1:28080, captured with tcpdump,
    /// payloads by `tshark -e tcp.payload`. Streams: 0 curl keep-alive, three
    /// URLs with -A/-e; 1 curl chunked POST with Expect: 100-continue to a
    /// proxied location; 2 nginx's proxied POST (Content-Length); 3 curl POST
    /// with Expect to a static file (405 before the body); 4 curl -I (HEAD);
    /// 5 a gzip'd chunked response; 6 four pipelined requests in one segment
    /// from a python socket (GET, HEAD, conditional GET → 304, GET → 404).
    const NGINX: &str = include_str!("testdata/nginx-http.tsv");
    /// Stream 5's de-chunked body length, from `tshark -e http.chunk_size` (5195, 0).
    const GZIP_CHUNKED_LEN: u64 = 5195;

    fn run(chunks: &[Chunk], config: &AppConfig) -> (Vec<HttpActivity>, HttpParser, Progress) {
        let m = meta(28080);
        let mut p = HttpParser::new(config);
        let mut out = Vec::new();
        let mut last = Progress::Continue;
        for c in chunks {
            last = p.data(&m, c.dir, c.ts, &c.bytes, &mut out);
            if last != Progress::Continue {
                break;
            }
        }
        p.end(&m, Timestamp::default(), &mut out);
        let recs = out
            .into_iter()
            .map(|e| match e.body {
                Body::Http(h) => h,
                other => panic!("not http: {other:?}"),
            })
            .collect();
        (recs, p, last)
    }

    fn nginx(n: u32) -> Vec<HttpActivity> {
        let all = fixture(NGINX);
        run(&stream(&all, "tcp", n), &AppConfig::default()).0
    }

    fn summary(h: &HttpActivity) -> String {
        let r = h.http_response.as_ref();
        format!(
            "{} {} {} {} {} {}",
            h.transaction,
            h.http_request.http_method,
            h.http_request.url.url_string,
            r.map_or(0, |r| r.code),
            h.http_request.body_length,
            r.map_or(-1, |r| r.length as i64)
        )
    }

    #[test]
    fn keep_alive_transactions_in_order() {
        let recs = nginx(0);
        assert_eq!(
            recs.iter().map(summary).collect::<Vec<_>>(),
            [
                "0 GET / 200 0 6",
                "1 GET /x/big.txt?a=1 200 0 6756",
                "2 GET /nope 404 0 153"
            ]
        );
        let second = &recs[1];
        assert_eq!(second.http_request.url.path, "/x/big.txt");
        assert_eq!(second.http_request.url.query_string.as_deref(), Some("a=1"));
        assert_eq!(
            second.http_request.url.hostname.as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(second.http_request.url.port, Some(28080));
        assert_eq!(second.http_request.version, "HTTP/1.1");
        assert_eq!(
            second.http_request.user_agent.as_deref(),
            Some("vigil-test/1.0")
        );
        assert_eq!(
            second.http_request.referrer.as_deref(),
            Some("http://ref.test/")
        );
        let resp = second.http_response.as_ref().unwrap();
        assert_eq!(resp.message.as_deref(), Some("OK"));
        assert_eq!(resp.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            recs[2].http_response.as_ref().unwrap().message.as_deref(),
            Some("Not Found")
        );
        assert_eq!(second.src_endpoint.port, Some(40000));
        assert_eq!(second.dst_endpoint.hostname.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn chunked_request_after_100_continue_is_one_transaction() {
        let recs = nginx(1);
        // The interim 100 is not the answer; the body is the 6756-byte file de-chunked.
        assert_eq!(
            recs.iter().map(summary).collect::<Vec<_>>(),
            ["0 POST /post 405 6756 157"]
        );
        assert_eq!(
            nginx(2).iter().map(summary).collect::<Vec<_>>(),
            ["0 POST /index.html 405 6756 157"]
        );
        // nginx answered before curl sent the body (tshark: no client payload
        // after the headers): the final response still ends the transaction.
        assert_eq!(
            nginx(3).iter().map(summary).collect::<Vec<_>>(),
            ["0 POST /x/big.txt 405 0 157"]
        );
    }

    #[test]
    fn head_and_chunked_gzip_responses() {
        let head = nginx(4);
        assert_eq!(
            head.iter().map(summary).collect::<Vec<_>>(),
            ["0 HEAD / 200 0 0"]
        );
        let gz = nginx(5);
        assert_eq!(gz.len(), 1);
        // tshark: the chunk sizes of this response sum to this (`-e http.chunk_size`).
        assert_eq!(
            gz[0].http_response.as_ref().unwrap().length,
            GZIP_CHUNKED_LEN
        );
    }

    #[test]
    fn pipelined_requests_pair_in_order_with_head_and_304() {
        let recs = nginx(6);
        assert_eq!(
            recs.iter().map(summary).collect::<Vec<_>>(),
            [
                "0 GET / 200 0 6",
                "1 HEAD /x/big.txt 200 0 0",
                "2 GET /x/big.txt 304 0 0",
                "3 GET /nope?q=1 404 0 153",
            ]
        );
        assert_eq!(recs[0].http_request.user_agent.as_deref(), Some("pipe/1"));
        assert_eq!(
            recs[3].http_request.url.hostname.as_deref(),
            Some("localhost")
        );
        assert_eq!(recs[3].http_request.url.port, Some(28080));
    }

    fn split_all(chunks: &[Chunk], size: usize) -> Vec<Chunk> {
        chunks
            .iter()
            .flat_map(|c| {
                c.bytes
                    .chunks(size)
                    .map(|b| Chunk {
                        bytes: b.to_vec(),
                        ..c.clone()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn byte_by_byte_gives_the_same_records() {
        let all = fixture(NGINX);
        for n in 0..=6 {
            let s = stream(&all, "tcp", n);
            let whole = run(&s, &AppConfig::default()).0;
            assert!(!whole.is_empty());
            assert_eq!(
                run(&split_all(&s, 1), &AppConfig::default()).0,
                whole,
                "stream {n}"
            );
        }
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n";

    #[test]
    fn chunked_with_trailers_split_at_every_boundary() {
        let req = Chunk {
            proto: "tcp".into(),
            stream: 0,
            dir: Direction::ToResponder,
            ts: Timestamp::from_nanos(1),
            bytes: b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
        };
        for cut in 0..=CHUNKED.len() {
            for cut2 in cut..=CHUNKED.len() {
                let mut chunks = vec![req.clone()];
                for part in [&CHUNKED[..cut], &CHUNKED[cut..cut2], &CHUNKED[cut2..]] {
                    chunks.push(Chunk {
                        dir: Direction::ToOriginator,
                        bytes: part.to_vec(),
                        ..req.clone()
                    });
                }
                let (recs, _, _) = run(&chunks, &AppConfig::default());
                assert_eq!(recs.len(), 1);
                let r = recs[0].http_response.as_ref().unwrap();
                assert_eq!((r.code, r.length), (200, 12), "cuts {cut} {cut2}");
            }
        }
    }

    fn synth(parts: &[(Direction, &[u8])]) -> (Vec<HttpActivity>, HttpParser, Progress) {
        let chunks: Vec<Chunk> = parts
            .iter()
            .enumerate()
            .map(|(i, (dir, b))| Chunk {
                proto: "tcp".into(),
                stream: 0,
                dir: *dir,
                ts: Timestamp::from_nanos(i as i64),
                bytes: b.to_vec(),
            })
            .collect();
        run(&chunks, &AppConfig::default())
    }

    use Direction::{ToOriginator as S, ToResponder as C};

    #[test]
    fn request_without_response_is_written_at_end() {
        let (recs, _, _) = synth(&[(C, b"GET /a HTTP/1.0\r\n\r\n")]);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].http_request.version, "HTTP/1.0");
        assert!(recs[0].http_response.is_none());
        assert_eq!(recs[0].http_request.url.hostname, None);
    }

    #[test]
    fn response_until_close_counts_to_the_end() {
        let (recs, _, _) = synth(&[
            (C, b"GET / HTTP/1.0\r\n\r\n"),
            (S, b"HTTP/1.0 200 OK\r\n\r\nabc"),
            (S, b"defg"),
        ]);
        assert_eq!(recs[0].http_response.as_ref().unwrap().length, 7);
    }

    #[test]
    fn connect_and_upgrade_stop_parsing() {
        let (recs, _, last) = synth(&[
            (
                C,
                b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            ),
            (
                S,
                b"HTTP/1.1 200 Connection established\r\n\r\nserver first",
            ),
            (C, b"\x16\x03\x01 not http"),
        ]);
        // The switch comes after the response head; what follows it in the
        // same chunk is the tunnel's.
        assert_eq!(last, Progress::Switch { consumed: 39 });
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].http_request.url.hostname.as_deref(),
            Some("example.com")
        );
        assert_eq!(recs[0].http_request.url.port, Some(443));
        assert_eq!(recs[0].http_request.url.path, "");
        let (recs, _, last) = synth(&[
            (C, b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            (S, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
        ]);
        assert_eq!(last, Progress::Switch { consumed: 56 });
        assert_eq!(recs[0].http_response.as_ref().unwrap().code, 101);
        let (recs, _, last) = synth(&[(C, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]);
        assert_eq!(last, Progress::Done);
        assert!(recs.is_empty());
    }

    #[test]
    fn connect_answer_split_over_chunks_and_early_data() {
        let (recs, p, last) = synth(&[
            (
                C,
                b"CONNECT h:443 HTTP/1.1\r\n\r\n\x16\x03\x01\x00\x05early",
            ),
            (C, b"more"),
            (S, b"HTTP/1.1 200 OK\r\nVia: x"),
            (S, b"\r\n\r\n\x16\x03"),
        ]);
        // The head ends 4 bytes into the last chunk.
        assert_eq!(last, Progress::Switch { consumed: 4 });
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].http_response.as_ref().unwrap().code, 200);
        let counters = p.counters();
        assert!(counters.contains(&("http.connect_early_data_bytes", 14)));
        assert!(!counters.iter().any(|(n, _)| *n == "http.malformed"));
    }

    #[test]
    fn refused_connect_keeps_parsing() {
        let (recs, _, last) = synth(&[
            (C, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                C,
                b"GET http://user@example.org:8080/p?x HTTP/1.1\r\nHost: other\r\n\r\n",
            ),
            (S, b"HTTP/1.1 204 No Content\r\n\r\n"),
        ]);
        assert_eq!(last, Progress::Continue);
        assert_eq!(recs.len(), 2);
        let url = &recs[1].http_request.url;
        assert_eq!(
            url.hostname.as_deref(),
            Some("example.org"),
            "absolute URI wins over Host"
        );
        assert_eq!(
            (url.port, url.path.as_str(), url.query_string.as_deref()),
            (Some(8080), "/p", Some("x"))
        );
    }

    #[test]
    fn oversized_headers_are_counted_and_given_up() {
        let config = AppConfig {
            max_http_header_bytes: 64,
            ..AppConfig::default()
        };
        let m = meta(80);
        let mut p = HttpParser::new(&config);
        let mut out = Vec::new();
        let ok = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            p.data(&m, C, Timestamp::default(), ok, &mut out),
            Progress::Continue
        );
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100));
        assert_eq!(
            p.data(&m, C, Timestamp::default(), big.as_bytes(), &mut out),
            Progress::Continue
        );
        assert!(p.counters().contains(&("http.header_too_large", 1)));
        p.end(&m, Timestamp::default(), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn gaps_in_bodies_are_counted_gaps_in_headers_give_up() {
        let m = meta(80);
        let mut p = HttpParser::new(&AppConfig::default());
        let mut out = Vec::new();
        let t = Timestamp::default();
        p.data(
            &m,
            C,
            t,
            b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
            &mut out,
        );
        p.data(
            &m,
            S,
            t,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
            &mut out,
        );
        p.gap(S, 8);
        p.data(
            &m,
            S,
            t,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
            &mut out,
        );
        p.gap(C, 5);
        assert_eq!(
            p.data(&m, C, t, b"GET /3 HTTP/1.1\r\n\r\n", &mut out),
            Progress::Continue
        );
        p.end(&m, t, &mut out);
        let lens: Vec<u64> = out
            .iter()
            .map(|e| match &e.body {
                Body::Http(h) => h.http_response.as_ref().unwrap().length,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            lens,
            [10, 1],
            "the gap counted into the first body; /3 never parsed"
        );
        assert!(p.counters().contains(&("http.gap_in_body", 1)));
        assert!(p.counters().contains(&("http.gap_gave_up", 1)));
    }

    #[test]
    fn uri_normalization_table() {
        let table: &[(&str, Option<&str>, &str)] = &[
            ("/index.html", None, "/index.html"),
            ("/a/./b", None, "/a/b"),
            ("/a/b/../c", None, "/a/c"),
            ("/a/../../../etc/passwd", None, "/etc/passwd"),
            ("/..", None, "/"),
            ("/a/.", None, "/a/"),
            ("//a///b", None, "/a/b"),
            ("/%7Euser/%61%62c", None, "/~user/abc"),
            ("/%2e%2e/%2E%2e/x", None, "/x"),
            ("/a%2fb", None, "/a%2fb"),
            ("/sp%20ace", None, "/sp%20ace"),
            ("/bad%zz%4", None, "/bad%zz%4"),
            ("/q", Some("a=%41&b=../x&c=%27"), "/q?a=A&b=../x&c=%27"),
            ("/q", Some(""), "/q?"),
            ("", None, ""),
            ("*", None, "*"),
        ];
        for (path, query, want) in table {
            let mut out = b"keep:".to_vec();
            normalize_uri(path, *query, &mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                format!("keep:{want}"),
                "{path} {query:?}"
            );
        }
    }

    type Recorded = (TxMeta, Vec<(Buffer, Vec<u8>)>);

    /// Run chunks through a parser with inspection on; the points in order.
    fn inspect_run(parts: &[(Direction, &[u8])], limits: &InspectLimits) -> Vec<Recorded> {
        let mut p = HttpParser::new(&AppConfig::default());
        p.enable_inspection(limits);
        let m = meta(80);
        let mut out = Vec::new();
        let mut points = Vec::new();
        let mut take = |p: &mut HttpParser| {
            p.drain_inspection(&mut |meta, bufs| {
                points.push((meta, bufs.iter().map(|(b, v)| (*b, v.to_vec())).collect()))
            })
        };
        for (dir, bytes) in parts {
            p.data(&m, *dir, Timestamp::default(), bytes, &mut out);
            take(&mut p);
        }
        p.end(&m, Timestamp::default(), &mut out);
        take(&mut p);
        points
    }

    fn buf(point: &[(Buffer, Vec<u8>)], b: Buffer) -> Option<String> {
        point
            .iter()
            .find(|(k, _)| *k == b)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    #[test]
    fn request_point_waits_for_the_dechunked_body_split_anywhere() {
        let req: &[u8] = b"POST /a/../up?x=1 HTTP/1.1\r\nHost: EX.test:8080\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        for cut in 1..req.len() {
            let (a, b) = req.split_at(cut);
            let points = inspect_run(
                &[(Direction::ToResponder, a), (Direction::ToResponder, b)],
                &InspectLimits::default(),
            );
            assert_eq!(points.len(), 1, "cut at {cut}");
            let (m, p) = &points[0];
            assert!(m.to_server && m.dir == Direction::ToResponder);
            assert_eq!(buf(p, Buffer::HttpUri).as_deref(), Some("/up?x=1"));
            assert_eq!(buf(p, Buffer::HttpRawUri).as_deref(), Some("/a/../up?x=1"));
            assert_eq!(buf(p, Buffer::HttpHost).as_deref(), Some("ex.test"));
            assert_eq!(
                buf(p, Buffer::HttpRequestBody).as_deref(),
                Some("hello world")
            );
            assert_eq!(
                buf(p, Buffer::HttpHeader).as_deref(),
                Some("Host: EX.test:8080\r\nTransfer-Encoding: chunked\r\n")
            );
        }
    }

    #[test]
    fn body_cut_at_the_limit_and_interim_responses_make_no_point() {
        let limits = InspectLimits {
            max_body_bytes: 4,
            ..InspectLimits::default()
        };
        let points = inspect_run(
            &[
                (
                    Direction::ToResponder,
                    b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
                ),
                (Direction::ToOriginator, b"HTTP/1.1 100 Continue\r\n\r\n"),
                (Direction::ToResponder, b"0123456789"),
                (
                    Direction::ToOriginator,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef",
                ),
            ],
            &limits,
        );
        assert_eq!(points.len(), 2);
        assert_eq!(
            buf(&points[0].1, Buffer::HttpRequestBody).as_deref(),
            Some("0123")
        );
        assert_eq!(
            buf(&points[1].1, Buffer::HttpStatCode).as_deref(),
            Some("200")
        );
        assert_eq!(buf(&points[1].1, Buffer::FileData).as_deref(), Some("abcd"));
        assert!(!points[1].0.to_server);
    }

    #[test]
    fn pipelined_requests_make_one_point_each_and_no_inspection_copies_nothing() {
        let chunks = fixture(NGINX);
        let s6 = stream(&chunks, "tcp", 6);
        let parts: Vec<(Direction, &[u8])> =
            s6.iter().map(|c| (c.dir, c.bytes.as_slice())).collect();
        let points = inspect_run(&parts, &InspectLimits::default());
        let methods: Vec<String> = points
            .iter()
            .filter_map(|(_, p)| buf(p, Buffer::HttpMethod))
            .collect();
        assert_eq!(methods, ["GET", "HEAD", "GET", "GET"]);
        let codes: Vec<String> = points
            .iter()
            .filter_map(|(_, p)| buf(p, Buffer::HttpStatCode))
            .collect();
        assert_eq!(codes, ["200", "200", "304", "404"]);
        // Without enable_inspection there is nothing to drain.
        let mut p = HttpParser::new(&AppConfig::default());
        for (dir, bytes) in &parts {
            p.data(
                &meta(80),
                *dir,
                Timestamp::default(),
                bytes,
                &mut Vec::new(),
            );
        }
        let mut n = 0;
        p.drain_inspection(&mut |_, _| n += 1);
        assert_eq!(n, 0);
        assert!(p.insp.is_none());
    }

    #[test]
    fn not_http_is_a_mismatch() {
        let (_, _, last) = synth(&[(C, b"\x16\x03\x01\x00\x05hello")]);
        assert_eq!(last, Progress::Mismatch);
        let (_, _, last) = synth(&[(C, b"GET /\x01 HTTP/1.1\r\n\r\n")]);
        assert_eq!(last, Progress::Mismatch);
    }

    #[test]
    fn detection() {
        for yes in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROPFIND /x",
            b"HTTP/1.1 200 OK\r\n",
            b"M-SEARCH * HTTP/1.1",
        ] {
            assert!(looks_like_http(yes), "{yes:?}");
        }
        for no in [
            &b"GETX / HTTP/1.1"[..],
            b"GET",
            b"SSH-2.0-x\r\n",
            b"\x16\x03\x01",
            b"HTTP/2 200",
            b"",
        ] {
            assert!(!looks_like_http(no), "{no:?}");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(parts in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..8)) {
            let m = meta(80);
            let mut p = HttpParser::new(&AppConfig { max_http_header_bytes: 256, ..AppConfig::default() });
            let mut out = Vec::new();
            // Start like HTTP so the random bytes reach the state machine.
            p.data(&m, C, Timestamp::default(), b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &mut out);
            for (to_server, bytes) in parts {
                let dir = if to_server { C } else { S };
                p.data(&m, dir, Timestamp::default(), &bytes, &mut out);
                if bytes.len() % 3 == 0 { p.gap(dir, bytes.len() as u64); }
            }
            p.end(&m, Timestamp::default(), &mut out);
            let _ = parse_request_head(&[]);
        }

        #[test]
        fn any_chunking_gives_the_same_records(n in 0u32..7, cuts in proptest::collection::vec(1usize..300, 1..20)) {
            let all = fixture(NGINX);
            let s = stream(&all, "tcp", n);
            let whole = run(&s, &AppConfig::default()).0;
            let mut pieces = Vec::new();
            let mut i = 0;
            for c in &s {
                let mut rest = &c.bytes[..];
                while !rest.is_empty() {
                    let k = cuts[i % cuts.len()].min(rest.len());
                    pieces.push(Chunk { bytes: rest[..k].to_vec(), ..c.clone() });
                    rest = &rest[k..];
                    i += 1;
                }
            }
            prop_assert_eq!(run(&pieces, &AppConfig::default()).0, whole);
        }
    }
}
