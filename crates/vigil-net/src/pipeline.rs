//! One run of the capture pipeline: raw packets in, events out, counters kept.
//!
//! [`Pipeline::process`] decodes a packet, expires flows whose timeout has
//! passed in event time, accounts the packet to its flow, reassembles TCP
//! payload per direction and hands in-order bytes (and gaps) to the
//! protocol parser chosen by content, following the contract in
//! [`crate::app`]. When a flow ends (timeout, close, eviction, end of input)
//! its reassembly is flushed, its parser's `end` is called and a flow record
//! is written after the parser's records.
//!
//! The common path allocates nothing per packet: counters are plain fields,
//! turned into a [`StatsRecord`] only by [`Pipeline::stats`]; a flow's uid,
//! Community ID and endpoints are computed once when it is created; in-order
//! TCP payload reaches the parser without a copy. Output is deterministic:
//! the same input gives the same events in the same order on every run.
//!
//! Payload inspection ([`crate::inspect`]), only when an inspector is set
//! with [`Pipeline::set_inspector`] (without one, none of it runs and
//! parsers collect nothing): for each packet with transport payload a
//! [`Buffer::Packet`] point; after the parser has seen each in-order TCP
//! chunk, a [`Buffer::Stream`] point holding up to
//! [`InspectLimits::stream_tail_bytes`] earlier bytes of that direction then
//! the chunk (a gap empties the tail; `stream_offset` counts gap bytes too),
//! until the parser says the rest of the flow is encrypted (TLS after its
//! handshake; the skipped bytes are counted);
//! after every parser call, the transaction points it completed. The
//! context: `to_server` from the parser's client direction once it knows it,
//! else the originator is the client; `established` once the TCP handshake
//! completed (SYN, SYN-ACK, ACK), or, for a flow picked up without a SYN
//! (capture started mid-connection) and for UDP and other protocols, once
//! both sides have sent. Findings are stamped like parser records; the
//! inspector's `flow_end` follows each flow record; its counters, and the
//! points made, end up in the `sig` stats group. Per-flow inspection state
//! is a few fields plus, for TCP, two tails allocated once; nothing is
//! allocated per packet.

use std::collections::BTreeMap;

use vigil_event::{Body, Event, FlowRecord, Reassembly, StatsRecord, Timestamp, Traffic};

use crate::app::{
    detect_datagram, detect_stream, new_datagram_parser, new_stream_parser, AppConfig, AppProto,
    DatagramParser, Direction, FlowMeta, Progress, StreamParser,
};
use crate::capture::{CaptureError, CaptureReader, RawPacket};
use crate::decode::{tcp_flags, DecodeError, Decoder, DefragConfig, Packet, Transport};
use crate::evidence::Evidence;
use crate::flow::{EndReason, Flow, FlowConfig, FlowTable};
use crate::inspect::{Buffer, InspectCtx, InspectLimits, PayloadInspector, TxMeta};
use crate::reassembly::{Chunk, ReassemblyConfig, StreamReassembler};

/// Everything a pipeline run can be tuned with.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// Flow table.
    pub flow: FlowConfig,
    /// IPv4 fragment reassembly.
    pub defrag: DefragConfig,
    /// TCP reassembly.
    pub reassembly: ReassemblyConfig,
    /// Protocol parsers.
    pub app: AppConfig,
    /// What an inspector is handed (used only with one set).
    pub inspect: InspectLimits,
}

/// Bytes of each direction kept while a TCP flow's protocol is not yet
/// identified; a direction that shows nothing known within them is given up.
const DETECT_MAX_BYTES: usize = 2048;
/// Chunks (and gaps) remembered while detecting, both directions together.
const DETECT_MAX_ITEMS: usize = 64;
/// Datagrams of a UDP flow tried for detection before giving up.
const DETECT_MAX_DATAGRAMS: u8 = 4;
/// Protocol switches ([`Progress::Switch`]) followed per flow: a proxy
/// chain (SOCKS → HTTP CONNECT → TLS) needs two; past this the flow's
/// parsing stops and `app.switch_limit_hit` counts it.
const MAX_SWITCHES: usize = 3;

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::ToResponder => 0,
        Direction::ToOriginator => 1,
    }
}

/// What the pipeline counts per application protocol.
#[derive(Debug, Default, Clone, Copy)]
struct AppCounters {
    detected: u64,
    mismatch: u64,
    records: u64,
}

/// Hot counters, kept as plain integers.
#[derive(Debug, Default, Clone)]
struct Counters {
    packets_total: u64,
    packets_decoded: u64,
    bytes_total: u64,
    /// Per protocol (a handful of entries, no allocation once present).
    app: BTreeMap<AppProto, AppCounters>,
    reassembly: Reassembly,
    reassembly_limit_hits: u64,
    detect_given_up: u64,
    /// Protocol switches followed (back to detection).
    switches: u64,
    /// Switches refused because a flow had made [`MAX_SWITCHES`] already.
    switch_limit_hit: u64,
    /// What parsers counted themselves (`StreamParser::counters`), summed
    /// over the parsers dropped so far; names carry their protocol.
    parser: BTreeMap<&'static str, u64>,
}

impl Counters {
    /// Add a dropped parser's own counters.
    fn absorb_parser(&mut self, counters: Vec<(&'static str, u64)>) {
        for (name, n) in counters {
            *self.parser.entry(name).or_default() += n;
        }
    }
}

/// What arrived while a TCP flow's protocol was still unknown, for replay.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Data(Direction, Timestamp, usize),
    Gap(Direction, u64),
}

#[derive(Debug, Default)]
struct Detect {
    /// Bytes per direction (index by [`dir_index`]).
    bytes: [Vec<u8>; 2],
    items: Vec<Pending>,
    failed: [bool; 2],
    datagrams: u8,
}

#[derive(Debug, Default)]
enum AppState {
    /// Protocol not identified yet.
    #[default]
    Detecting,
    /// Detection under way with bytes kept for replay.
    Buffering(Box<Detect>),
    /// A TCP parser; `done` when it asked for no more payload.
    Stream {
        proto: AppProto,
        parser: Box<dyn StreamParser>,
        done: bool,
    },
    /// A UDP parser.
    Datagram {
        proto: AppProto,
        parser: Box<dyn DatagramParser>,
        done: bool,
    },
    /// No parser (nothing recognised, a mismatch, or a protocol without one).
    Off,
}

/// Per-flow state the pipeline keeps beside the flow table's.
#[derive(Debug, Default)]
struct FlowExt {
    /// Reassembly per direction (TCP only), created with the flow's first
    /// TCP packet.
    reasm: Option<Box<[StreamReassembler; 2]>>,
    app: AppSlot,
    /// Inspection context (kept only when an inspector is set).
    insp: FlowInspect,
}

/// What the pipeline tracks per flow for an inspector's context.
#[derive(Debug, Default)]
struct FlowInspect {
    /// The direction a SYN (without ACK) travelled: the client's.
    syn_from: Option<Direction>,
    /// The SYN was answered by a SYN-ACK.
    synack: bool,
    /// See [`InspectCtx::established`].
    established: bool,
    /// Sides that sent a packet: bit 0 the originator, bit 1 the responder.
    sent: u8,
    /// Number of the flow's latest packet.
    last_packet: u64,
    /// Stream tails per direction (TCP), made with the first stream data.
    streams: Option<Box<[StreamTail; 2]>>,
    /// The parser said the rest of the flow is encrypted
    /// ([`crate::app::StreamParser::encrypted`]): no more stream points.
    encrypted: bool,
}

impl FlowInspect {
    /// Account one packet of the flow travelling in `dir`.
    fn packet(&mut self, packet: &Packet<'_>, dir: Direction) {
        self.last_packet = packet.number;
        self.sent |= match dir {
            Direction::ToResponder => 1,
            Direction::ToOriginator => 2,
        };
        if let Transport::Tcp { flags, .. } = packet.transport {
            let syn = flags & tcp_flags::SYN != 0;
            let ack = flags & tcp_flags::ACK != 0;
            if syn && !ack {
                self.syn_from.get_or_insert(dir);
            } else if syn && ack && self.syn_from == Some(dir.reverse()) {
                self.synack = true;
            } else if ack && self.synack && self.syn_from == Some(dir) {
                self.established = true;
            }
            if self.syn_from.is_none() && self.sent == 3 {
                // Picked up mid-connection: both sides talking is as
                // established as it will be seen.
                self.established = true;
            }
        } else if self.sent == 3 {
            self.established = true;
        }
    }
}

/// One direction's recent stream bytes, repeated before the next chunk.
#[derive(Debug, Default)]
struct StreamTail {
    /// At most [`InspectLimits::stream_tail_bytes`] bytes.
    tail: Vec<u8>,
    /// Stream offset of the next byte (gaps included).
    next: u64,
}

/// The inspector and its scratch space.
#[derive(Debug)]
struct Inspection {
    inspector: Box<dyn PayloadInspector>,
    limits: InspectLimits,
    /// Tail and chunk of a stream point, reused.
    scratch: Vec<u8>,
    packet_points: u64,
    stream_points: u64,
    tx_points: u64,
    /// Stream bytes not inspected because they were encrypted.
    encrypted_bytes: u64,
}

/// The part of an inspection context that comes from the packet and flow.
#[derive(Debug, Default, Clone, Copy)]
struct PointCtx {
    established: bool,
    ip_protocol: u8,
    packet: u64,
}

impl PointCtx {
    fn of(flow: &Flow, fi: &FlowInspect) -> Self {
        Self {
            established: fi.established,
            ip_protocol: flow.protocol,
            packet: fi.last_packet,
        }
    }
}

/// Stamp findings pushed since `start` with the flow uid and log name.
fn stamp_findings(out: &mut [Event], start: usize, meta: &FlowMeta, log_name: Option<&str>) {
    for ev in out.iter_mut().skip(start) {
        ev.metadata.correlation_uid = Some(meta.connection_info.uid.clone());
        if let Some(name) = log_name {
            ev.metadata.log_name = Some(name.to_owned());
        }
    }
}

/// A flow's protocol detection and parser.
#[derive(Debug, Default)]
struct AppSlot {
    state: AppState,
    /// The protocols identified, in order (more than one after a
    /// [`Progress::Switch`]); one that mismatched is taken out again.
    chain: Chain,
    /// The direction clients send in, as a parser last said (inspection only).
    client: Option<Direction>,
}

/// The protocols of one flow, in the order they were identified: at most
/// one per switch followed, plus the first.
#[derive(Debug, Default, Clone, Copy)]
struct Chain {
    protos: [Option<AppProto>; MAX_SWITCHES + 1],
    len: usize,
}

impl Chain {
    fn push(&mut self, proto: AppProto) {
        if let Some(slot) = self.protos.get_mut(self.len) {
            *slot = Some(proto);
            self.len += 1;
        }
    }

    /// Forget the last protocol (it mismatched).
    fn pop(&mut self) {
        if let Some(i) = self.len.checked_sub(1) {
            if let Some(slot) = self.protos.get_mut(i) {
                *slot = None;
            }
            self.len = i;
        }
    }

    fn switches(&self) -> usize {
        self.len.saturating_sub(1)
    }

    fn iter(&self) -> impl Iterator<Item = AppProto> + '_ {
        self.protos.iter().take(self.len).flatten().copied()
    }

    /// The protocol identified last.
    fn last(&self) -> Option<AppProto> {
        self.len
            .checked_sub(1)
            .and_then(|i| self.protos.get(i).copied().flatten())
    }

    /// `app_name`: the names joined with ',' ("http,tls"), or `None`.
    fn app_name(&self) -> Option<String> {
        let mut names = self.iter().map(AppProto::name);
        let first = names.next()?;
        Some(names.fold(first.to_owned(), |mut s, n| {
            s.push(',');
            s.push_str(n);
            s
        }))
    }
}

/// Where parser output goes and what is counted about it.
struct Sink<'a> {
    out: &'a mut Vec<Event>,
    counters: &'a mut Counters,
    log_name: Option<&'a str>,
    app_config: &'a AppConfig,
    /// The inspector, when one is set.
    inspect: Option<&'a mut Inspection>,
    /// Context of the flow being worked on (set before each use).
    pctx: PointCtx,
}

impl Sink<'_> {
    /// Stamp events pushed since `start` with the flow uid and log name.
    fn stamp(&mut self, start: usize, meta: &FlowMeta, proto: AppProto) {
        let n = self.out.len().saturating_sub(start);
        if n == 0 {
            return;
        }
        self.counters.app.entry(proto).or_default().records += n as u64;
        for ev in self.out.iter_mut().skip(start) {
            ev.metadata.correlation_uid = Some(meta.connection_info.uid.clone());
            if let Some(name) = self.log_name {
                ev.metadata.log_name = Some(name.to_owned());
            }
        }
    }
}

impl AppSlot {
    /// After a parser call: note which way clients send, then hand the
    /// transaction points the parser completed to the inspector.
    fn drain_points(&mut self, meta: &FlowMeta, ts: Timestamp, sink: &mut Sink<'_>) {
        let Some(insp) = sink.inspect.as_deref_mut() else {
            return;
        };
        let app = self.chain.last();
        let pctx = sink.pctx;
        let out = &mut *sink.out;
        let start = out.len();
        let mut each = |m: TxMeta, bufs: &[(Buffer, &[u8])]| {
            let ctx = InspectCtx {
                flow: meta,
                dir: m.dir,
                to_server: m.to_server,
                established: pctx.established,
                app,
                ip_protocol: pctx.ip_protocol,
                ts,
                packet: pctx.packet,
                stream_offset: 0,
                payload_encrypted: false,
            };
            insp.tx_points += 1;
            insp.inspector.inspect(&ctx, bufs, out);
        };
        match &mut self.state {
            AppState::Stream { parser, .. } => {
                if let Some(c) = parser.client_direction() {
                    self.client = Some(c);
                }
                parser.drain_inspection(&mut each);
            }
            AppState::Datagram { parser, .. } => {
                if let Some(c) = parser.client_direction() {
                    self.client = Some(c);
                }
                parser.drain_inspection(&mut each);
            }
            _ => {}
        }
        stamp_findings(sink.out, start, meta, sink.log_name);
    }

    /// The parser says the rest of the flow is encrypted.
    fn encrypted(&self) -> bool {
        match &self.state {
            AppState::Stream { parser, .. } => parser.encrypted(),
            _ => false,
        }
    }

    /// `to_server` for bytes travelling in `dir`.
    fn to_server(&self, dir: Direction) -> bool {
        dir == self.client.unwrap_or(Direction::ToResponder)
    }

    /// One in-order chunk (or gap) of a TCP flow in `dir`.
    fn stream_chunk(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        chunk: Chunk<'_>,
        sink: &mut Sink<'_>,
    ) {
        match &mut self.state {
            AppState::Off => {}
            AppState::Stream {
                proto,
                parser,
                done,
            } => {
                if *done {
                    return;
                }
                let start = sink.out.len();
                let progress = match chunk {
                    Chunk::Data(d) => parser.data(meta, dir, ts, d, sink.out),
                    Chunk::Gap(n) => {
                        parser.gap(dir, n);
                        Progress::Continue
                    }
                };
                let proto = *proto;
                sink.stamp(start, meta, proto);
                self.drain_points(meta, ts, sink);
                if let Progress::Switch { consumed } = progress {
                    self.switch(meta, ts, proto, sink);
                    if let Chunk::Data(d) = chunk {
                        let rest = d.get(consumed..).unwrap_or_default();
                        if !rest.is_empty() {
                            self.stream_chunk(meta, dir, ts, Chunk::Data(rest), sink);
                        }
                    }
                } else {
                    self.progress(proto, progress, sink);
                }
            }
            AppState::Detecting => {
                if let Chunk::Data(d) = chunk {
                    if let Some(proto) = detect_stream(d) {
                        self.start_stream(proto, sink);
                        self.stream_chunk(meta, dir, ts, chunk, sink);
                        return;
                    }
                }
                let mut detect = Box::<Detect>::default();
                detect.record(dir, ts, chunk);
                self.state = AppState::Buffering(detect);
                self.check_given_up(sink);
            }
            AppState::Buffering(detect) => {
                detect.record(dir, ts, chunk);
                let i = dir_index(dir);
                let found = if detect.failed[i] {
                    None
                } else {
                    detect_stream(&detect.bytes[i])
                };
                if let Some(proto) = found {
                    let AppState::Buffering(detect) = std::mem::take(&mut self.state) else {
                        return;
                    };
                    self.start_stream(proto, sink);
                    detect.replay(self, meta, sink);
                } else {
                    self.check_given_up(sink);
                }
            }
            AppState::Datagram { .. } => {}
        }
    }

    fn start_stream(&mut self, proto: AppProto, sink: &mut Sink<'_>) {
        sink.counters.app.entry(proto).or_default().detected += 1;
        self.chain.push(proto);
        let mut parser = new_stream_parser(proto, sink.app_config);
        if let Some(insp) = sink.inspect.as_deref() {
            parser.enable_inspection(&insp.limits);
        }
        self.state = AppState::Stream {
            proto,
            parser,
            done: false,
        };
    }

    /// Turn detection off when both directions gave up or too much is kept.
    fn check_given_up(&mut self, sink: &mut Sink<'_>) {
        if let AppState::Buffering(d) = &mut self.state {
            for i in 0..2 {
                if d.bytes[i].len() >= DETECT_MAX_BYTES {
                    d.failed[i] = true;
                }
            }
            if (d.failed[0] && d.failed[1]) || d.items.len() >= DETECT_MAX_ITEMS {
                sink.counters.detect_given_up += 1;
                self.state = AppState::Off;
            }
        }
    }

    fn progress(&mut self, proto: AppProto, progress: Progress, sink: &mut Sink<'_>) {
        match progress {
            Progress::Continue => {}
            Progress::Done => {
                if let AppState::Stream { done, .. } | AppState::Datagram { done, .. } =
                    &mut self.state
                {
                    *done = true;
                }
            }
            Progress::Mismatch => {
                sink.counters.app.entry(proto).or_default().mismatch += 1;
                match &self.state {
                    AppState::Stream { parser, .. } => {
                        sink.counters.absorb_parser(parser.counters())
                    }
                    AppState::Datagram { parser, .. } => {
                        sink.counters.absorb_parser(parser.counters())
                    }
                    _ => {}
                }
                self.state = AppState::Off;
                self.chain.pop();
            }
            // Only stream parsers switch (handled in `stream_chunk`); a
            // datagram parser saying it is taken as `Done`.
            Progress::Switch { .. } => {
                if let AppState::Stream { done, .. } | AppState::Datagram { done, .. } =
                    &mut self.state
                {
                    *done = true;
                }
            }
        }
    }

    /// The stream parser of `proto` said the protocol changes: end it,
    /// keep its records and counters, and detect again (unless the flow has
    /// switched [`MAX_SWITCHES`] times already).
    fn switch(&mut self, meta: &FlowMeta, ts: Timestamp, proto: AppProto, sink: &mut Sink<'_>) {
        if let AppState::Stream { parser, .. } = &mut self.state {
            let start = sink.out.len();
            parser.end(meta, ts, sink.out);
            sink.stamp(start, meta, proto);
            self.drain_points(meta, ts, sink);
            if let AppState::Stream { parser, .. } = &self.state {
                sink.counters.absorb_parser(parser.counters());
            }
        }
        if self.chain.switches() >= MAX_SWITCHES {
            sink.counters.switch_limit_hit += 1;
            tracing::debug!(flow = %meta.connection_info.uid, "protocol switch limit reached");
            self.state = AppState::Off;
        } else {
            sink.counters.switches += 1;
            self.state = AppState::Detecting;
        }
    }

    /// One UDP datagram in `dir`.
    fn datagram(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        sink: &mut Sink<'_>,
    ) {
        if matches!(self.state, AppState::Detecting | AppState::Buffering(_)) {
            if data.is_empty() {
                return;
            }
            match detect_datagram(data) {
                Some(proto) => match new_datagram_parser(proto, sink.app_config) {
                    Some(mut parser) => {
                        if let Some(insp) = sink.inspect.as_deref() {
                            parser.enable_inspection(&insp.limits);
                        }
                        sink.counters.app.entry(proto).or_default().detected += 1;
                        self.chain.push(proto);
                        self.state = AppState::Datagram {
                            proto,
                            parser,
                            done: false,
                        };
                    }
                    None => self.state = AppState::Off,
                },
                None => {
                    let tried = match &mut self.state {
                        AppState::Buffering(d) => {
                            d.datagrams += 1;
                            d.datagrams
                        }
                        _ => 1,
                    };
                    if tried >= DETECT_MAX_DATAGRAMS {
                        sink.counters.detect_given_up += 1;
                        self.state = AppState::Off;
                    } else if matches!(self.state, AppState::Detecting) {
                        let detect = Detect {
                            datagrams: 1,
                            ..Detect::default()
                        };
                        self.state = AppState::Buffering(Box::new(detect));
                    }
                    return;
                }
            }
        }
        if let AppState::Datagram {
            proto,
            parser,
            done: false,
        } = &mut self.state
        {
            let start = sink.out.len();
            let progress = parser.datagram(meta, dir, ts, data, sink.out);
            let proto = *proto;
            sink.stamp(start, meta, proto);
            self.drain_points(meta, ts, sink);
            self.progress(proto, progress, sink);
        }
    }

    /// The flow ended at `ts`: let the parser emit what it holds.
    fn end(&mut self, meta: &FlowMeta, ts: Timestamp, sink: &mut Sink<'_>) {
        let start = sink.out.len();
        let proto = match &mut self.state {
            AppState::Stream { proto, parser, .. } => {
                parser.end(meta, ts, sink.out);
                *proto
            }
            AppState::Datagram { proto, parser, .. } => {
                parser.end(meta, ts, sink.out);
                *proto
            }
            _ => return,
        };
        sink.stamp(start, meta, proto);
        self.drain_points(meta, ts, sink);
        match &self.state {
            AppState::Stream { parser, .. } => sink.counters.absorb_parser(parser.counters()),
            AppState::Datagram { parser, .. } => sink.counters.absorb_parser(parser.counters()),
            _ => {}
        }
        self.state = AppState::Off;
    }
}

impl Detect {
    fn record(&mut self, dir: Direction, ts: Timestamp, chunk: Chunk<'_>) {
        let i = dir_index(dir);
        match chunk {
            Chunk::Data(d) if !self.failed[i] => {
                let room = DETECT_MAX_BYTES.saturating_sub(self.bytes[i].len());
                let keep = d.len().min(room);
                self.bytes[i].extend_from_slice(&d[..keep]);
                self.items.push(Pending::Data(dir, ts, keep));
                if keep < d.len() {
                    self.failed[i] = true;
                    self.items.push(Pending::Gap(dir, (d.len() - keep) as u64));
                }
            }
            Chunk::Data(d) => self.items.push(Pending::Gap(dir, d.len() as u64)),
            Chunk::Gap(n) => {
                // Bytes after a gap are not "the first bytes": no detection.
                self.failed[i] = true;
                self.items.push(Pending::Gap(dir, n));
            }
        }
    }

    /// Feed everything kept, in arrival order, to the new parser.
    fn replay(self, ext: &mut AppSlot, meta: &FlowMeta, sink: &mut Sink<'_>) {
        let mut offsets = [0usize; 2];
        for item in self.items {
            match item {
                Pending::Data(dir, ts, len) => {
                    let i = dir_index(dir);
                    let from = offsets[i];
                    offsets[i] += len;
                    if let Some(d) = self.bytes[i].get(from..from + len) {
                        ext.stream_chunk(meta, dir, ts, Chunk::Data(d), sink);
                    }
                }
                Pending::Gap(dir, n) => {
                    ext.stream_chunk(meta, dir, Timestamp::default(), Chunk::Gap(n), sink)
                }
            }
        }
    }
}

/// What [`Pipeline::run_capture`] returns.
#[derive(Debug, Default)]
pub struct CaptureRun {
    /// Every event, in the order the pipeline wrote them.
    pub events: Vec<Event>,
    /// Capture-level errors (corrupt or truncated records).
    pub capture_errors: Vec<CaptureError>,
    /// Packets that could not be decoded (also counted in the stats).
    pub undecodable: u64,
}

/// Decode → flows → reassembly → protocol parsers, over packets in time order.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    decoder: Decoder,
    flows: FlowTable<FlowExt>,
    counters: Counters,
    /// Rare counters (capture errors, undecodable reasons) by name.
    stats: StatsRecord,
    log_name: Option<String>,
    /// Evidence capture, when on (see [`crate::evidence`]).
    evidence: Option<Box<Evidence>>,
    /// The payload inspector, if any.
    inspect: Option<Inspection>,
}

impl Pipeline {
    /// A pipeline with empty tables.
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            decoder: Decoder::new(config.defrag.clone()),
            flows: FlowTable::new(config.flow.clone()),
            config,
            counters: Counters::default(),
            stats: StatsRecord::default(),
            log_name: None,
            evidence: None,
            inspect: None,
        }
    }

    /// Turn evidence capture on: every decoded packet is kept in its
    /// flow's ring and written to the incidents started on it.
    pub fn set_evidence(&mut self, evidence: Evidence) {
        self.evidence = Some(Box::new(evidence));
    }

    /// Evidence capture, when on: to start incidents and read its counters.
    pub fn evidence_mut(&mut self) -> Option<&mut Evidence> {
        self.evidence.as_deref_mut()
    }

    /// Hand payloads to `inspector` from now on, as the contract in
    /// [`crate::inspect`] says, bounded by [`PipelineConfig::inspect`]. Set
    /// it before the first packet: flows that already have a parser do not
    /// collect protocol buffers. Without an inspector none of this costs
    /// anything.
    pub fn set_inspector(&mut self, inspector: Box<dyn PayloadInspector>) {
        self.inspect = Some(Inspection {
            inspector,
            limits: self.config.inspect.clone(),
            scratch: Vec::new(),
            packet_points: 0,
            stream_points: 0,
            tx_points: 0,
            encrypted_bytes: 0,
        });
    }

    /// Takes the inspector out (after [`Pipeline::stats`], which reads its
    /// counters), e.g. to dispose of a large ruleset differently.
    pub fn take_inspector(&mut self) -> Option<Box<dyn PayloadInspector>> {
        self.inspect.take().map(|i| i.inspector)
    }

    /// The inspector, to read its state after a run.
    pub fn inspector(&self) -> Option<&dyn PayloadInspector> {
        self.inspect.as_ref().map(|i| i.inspector.as_ref())
    }

    /// Name the source of the packets that follow (`metadata.log_name`).
    pub fn set_log_name(&mut self, name: &str) {
        self.log_name = Some(name.to_owned());
        if !self.stats.inputs.iter().any(|i| i == name) {
            self.stats.inputs.push(name.to_owned());
        }
    }

    /// Process one packet; events that become complete are pushed to `out`.
    /// A packet that cannot be decoded is counted and its error returned, so
    /// the caller can report it with the file name and packet number.
    pub fn process(
        &mut self,
        raw: &RawPacket<'_>,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeError> {
        self.counters.packets_total += 1;
        self.counters.bytes_total += u64::from(raw.orig_len);
        let packet = match self.decoder.decode(raw) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(()),
            Err(error) => {
                self.stats
                    .add("packets", &format!("undecodable.{}", error.reason()), 1);
                return Err(error);
            }
        };
        let first_new = out.len();
        account(
            &self.config,
            &mut self.flows,
            &mut self.counters,
            self.log_name.as_deref(),
            self.inspect.as_mut(),
            &packet,
            out,
        );
        if let Some(evidence) = self.evidence.as_deref_mut() {
            let flow = self.flows.find(&packet).map(|f| &f.meta);
            evidence.packet(raw, flow, out.get(first_new..).unwrap_or_default());
        }
        Ok(())
    }

    /// Process one packet that is already decoded (from another decoder, or
    /// a test): everything [`Pipeline::process`] does after decoding.
    pub fn process_packet(&mut self, packet: &Packet<'_>, out: &mut Vec<Event>) {
        self.counters.packets_total += 1;
        self.counters.bytes_total += u64::from(packet.wire_len);
        account(
            &self.config,
            &mut self.flows,
            &mut self.counters,
            self.log_name.as_deref(),
            self.inspect.as_mut(),
            packet,
            out,
        );
    }
    /// Count a capture-level problem (a corrupt or truncated record) under
    /// `capture.<reason>`.
    pub fn count_capture_error(&mut self, reason: &str) {
        self.stats.add("capture", reason, 1);
    }

    /// End of input: write every open flow (end_reason "end_of_input") and
    /// everything parsers still hold, in first-seen order.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let mut sink = Sink {
            out,
            counters: &mut self.counters,
            log_name: self.log_name.as_deref(),
            app_config: &self.config.app,
            inspect: self.inspect.as_mut(),
            pctx: PointCtx::default(),
        };
        for (flow, ext) in self.flows.drain_all() {
            end_flow(flow, ext, EndReason::EndOfInput, &mut sink);
        }
    }

    /// Run a whole capture through this pipeline and finish it, keeping
    /// every event in memory: for tests, tools and small captures (the CLI
    /// streams events out instead). Undecodable packets are counted in the
    /// stats; capture errors are returned in the order they happened, and
    /// reading stops at a fatal one.
    pub fn run_capture<R: std::io::Read>(&mut self, reader: &mut CaptureReader<R>) -> CaptureRun {
        let mut run = CaptureRun::default();
        while let Some(item) = reader.next_packet() {
            match item {
                Ok(packet) => {
                    if self.process(&packet, &mut run.events).is_err() {
                        run.undecodable += 1;
                    }
                }
                Err(error) => {
                    let fatal = error.is_fatal();
                    self.count_capture_error(error.reason());
                    run.capture_errors.push(error);
                    if fatal {
                        break;
                    }
                }
            }
        }
        self.finish(&mut run.events);
        run
    }

    /// The counters so far, as the stats record that ends a run.
    pub fn stats(&self) -> StatsRecord {
        let mut s = self.stats.clone();
        let c = &self.counters;
        let d = self.decoder.stats();
        let f = self.flows.stats();
        let mut put = |group: &str, name: &str, n: u64| {
            if n > 0 {
                s.add(group, name, n);
            }
        };
        put("packets", "total", c.packets_total);
        put("packets", "decoded", c.packets_decoded);
        put("packets", "non_ip", d.non_ip);
        put("packets", "snaplen_truncated", d.snaplen_truncated);
        put("bytes", "total", c.bytes_total);
        put("fragments", "received", d.fragments);
        put("fragments", "reassembled", d.reassembled);
        put("fragments", "expired", d.fragments_expired);
        put("flows", "created", f.created);
        put("flows", "timed_out", f.timed_out);
        put("flows", "closed", f.closed);
        put("flows", "evicted", f.evicted);
        put("flows", "active_max", f.active_max);
        put("reassembly", "gaps", c.reassembly.gaps);
        put("reassembly", "gap_bytes", c.reassembly.gap_bytes);
        put(
            "reassembly",
            "retransmissions",
            c.reassembly.retransmissions,
        );
        put(
            "reassembly",
            "inconsistent_overlaps",
            c.reassembly.inconsistent_overlaps,
        );
        put("reassembly", "ooo_dropped", c.reassembly.ooo_dropped);
        put("app", "detect_given_up", c.detect_given_up);
        put("app", "switches", c.switches);
        put("app", "switch_limit_hit", c.switch_limit_hit);
        for (p, n) in &c.app {
            put("app", &format!("{}.detected", p.name()), n.detected);
            put("app", &format!("{}.mismatch", p.name()), n.mismatch);
            put("app", &format!("{}.records", p.name()), n.records);
        }
        for (name, n) in &c.parser {
            put("app", name, *n);
        }
        if let Some(i) = &self.inspect {
            put("sig", "points.packet", i.packet_points);
            put("sig", "points.stream", i.stream_points);
            put("sig", "points.transaction", i.tx_points);
            put("sig", "stream.encrypted_bytes_skipped", i.encrypted_bytes);
            for (name, n) in i.inspector.counters() {
                put("sig", name, n);
            }
        }
        // Memory caps: every limit that made Vigil drop or skip something.
        put("memory", "flow_table_full", f.evicted);
        put("memory", "reassembly_buffer_full", c.reassembly_limit_hits);
        put("memory", "defrag_dropped", d.fragments_expired);
        s
    }
}

/// Write a flow that ended: flush reassembly into the parser, end the
/// parser, then the flow record itself.
fn end_flow(mut flow: Flow, mut ext: FlowExt, reason: EndReason, sink: &mut Sink<'_>) {
    let ts = flow.last_seen;
    sink.pctx = PointCtx::of(&flow, &ext.insp);
    let mut reassembly = None;
    if let Some(mut reasm) = ext.reasm.take() {
        let mut total = Reassembly::default();
        for (i, dir) in [Direction::ToResponder, Direction::ToOriginator]
            .into_iter()
            .enumerate()
        {
            let r = &mut reasm[i];
            let gaps_before = r.stats().gaps;
            let (meta, app, fi) = (&flow.meta, &mut ext.app, &mut ext.insp);
            r.flush(&mut |chunk| {
                app.stream_chunk(meta, dir, ts, chunk, sink);
                if sink.inspect.is_some() {
                    inspect_stream(fi, app, meta, dir, ts, chunk, sink);
                }
            });
            let new_gaps = r.stats().gaps - gaps_before;
            if let Some(tcp) = &mut flow.tcp {
                for _ in 0..new_gaps {
                    tcp.gap(i == 0);
                }
            }
            let s = r.stats();
            total.gaps += s.gaps;
            total.gap_bytes += s.gap_bytes;
            total.retransmissions += s.retransmissions;
            total.inconsistent_overlaps += s.inconsistent_overlaps;
            total.ooo_dropped += s.ooo_dropped;
            sink.counters.reassembly_limit_hits += r.limit_hits();
        }
        let c = &mut sink.counters.reassembly;
        c.gaps += total.gaps;
        c.gap_bytes += total.gap_bytes;
        c.retransmissions += total.retransmissions;
        c.inconsistent_overlaps += total.inconsistent_overlaps;
        c.ooo_dropped += total.ooo_dropped;
        reassembly = Some(total);
    } else if flow.tcp.is_some() {
        reassembly = Some(Reassembly::default());
    }
    ext.app.end(&flow.meta, ts, sink);

    let start_ms = flow.first_seen.millis();
    let end_ms = flow.last_seen.millis();
    let traffic = Traffic {
        packets_out: flow.orig.packets,
        packets_in: flow.resp.packets,
        bytes_out: flow.orig.bytes,
        bytes_in: flow.resp.bytes,
        packets: flow.orig.packets + flow.resp.packets,
        bytes: flow.orig.bytes + flow.resp.bytes,
        payload_bytes_out: flow.orig.payload_bytes,
        payload_bytes_in: flow.resp.payload_bytes,
    };
    let conn_state = flow.conn_state().map(str::to_owned);
    let history = flow.history().map(str::to_owned);
    let uid = flow.meta.connection_info.uid.clone();
    let record = FlowRecord {
        src_endpoint: flow.meta.originator,
        dst_endpoint: flow.meta.responder,
        connection_info: flow.meta.connection_info,
        traffic,
        start_time: start_ms,
        end_time: end_ms,
        duration: end_ms - start_ms,
        duration_us: flow.last_seen.since(flow.first_seen) / 1_000,
        app_name: ext.app.chain.app_name(),
        conn_state,
        history,
        end_reason: reason.name().to_owned(),
        reassembly,
        icmp: flow.icmp,
    };
    let mut event = Event::new(flow.first_seen, Body::Flow(record));
    if let Some(insp) = sink.inspect.as_deref_mut() {
        insp.inspector.flow_end(&uid);
    }
    event.metadata.correlation_uid = Some(uid);
    if let Some(name) = sink.log_name {
        event.metadata.log_name = Some(name.to_owned());
    }
    sink.out.push(event);
}

/// A [`Buffer::Stream`] point for one in-order chunk (or the gap that
/// empties the tail).
fn inspect_stream(
    fi: &mut FlowInspect,
    app: &AppSlot,
    meta: &FlowMeta,
    dir: Direction,
    ts: Timestamp,
    chunk: Chunk<'_>,
    sink: &mut Sink<'_>,
) {
    let Some(insp) = sink.inspect.as_deref_mut() else {
        return;
    };
    let Inspection {
        inspector,
        limits,
        scratch,
        stream_points,
        encrypted_bytes,
        ..
    } = insp;
    if fi.encrypted {
        if let Chunk::Data(d) = chunk {
            *encrypted_bytes += d.len() as u64;
        }
        return;
    }
    // Checked after this chunk: the chunk that completes the handshake is
    // still inspected.
    fi.encrypted = app.encrypted();
    let limit = limits.stream_tail_bytes;
    let streams = fi.streams.get_or_insert_with(|| {
        Box::new([
            StreamTail {
                tail: Vec::with_capacity(limit),
                next: 0,
            },
            StreamTail {
                tail: Vec::with_capacity(limit),
                next: 0,
            },
        ])
    });
    // Invariant: dir_index returns 0 or 1.
    let st = &mut streams[dir_index(dir)];
    let data = match chunk {
        Chunk::Gap(n) => {
            st.next = st.next.saturating_add(n);
            st.tail.clear();
            return;
        }
        Chunk::Data([]) => return,
        Chunk::Data(d) => d,
    };
    let buf: &[u8] = if st.tail.is_empty() {
        data
    } else {
        scratch.clear();
        scratch.extend_from_slice(&st.tail);
        scratch.extend_from_slice(data);
        scratch
    };
    let ctx = InspectCtx {
        flow: meta,
        dir,
        to_server: app.to_server(dir),
        established: fi.established,
        app: app.chain.last(),
        ip_protocol: sink.pctx.ip_protocol,
        ts,
        packet: sink.pctx.packet,
        stream_offset: st.next.saturating_sub(st.tail.len() as u64),
        payload_encrypted: false,
    };
    let start = sink.out.len();
    *stream_points += 1;
    inspector.inspect(&ctx, &[(Buffer::Stream, buf)], sink.out);
    // Keep the last `limit` bytes of what was just inspected.
    let keep = buf.len().min(limit);
    let from = buf.len() - keep;
    if st.tail.is_empty() {
        st.tail
            .extend_from_slice(data.get(from..).unwrap_or_default());
    } else {
        st.tail.clear();
        st.tail
            .extend_from_slice(scratch.get(from..).unwrap_or_default());
    }
    st.next = st.next.saturating_add(data.len() as u64);
    stamp_findings(sink.out, start, meta, sink.log_name);
}

/// Everything after decoding, for one packet.
fn account(
    config: &PipelineConfig,
    flows: &mut FlowTable<FlowExt>,
    counters: &mut Counters,
    log_name: Option<&str>,
    inspect: Option<&mut Inspection>,
    packet: &Packet<'_>,
    out: &mut Vec<Event>,
) {
    counters.packets_decoded += 1;
    let mut sink = Sink {
        out,
        counters,
        log_name,
        app_config: &config.app,
        inspect,
        pctx: PointCtx::default(),
    };
    flows.advance(packet.ts);
    while let Some((flow, ext, reason)) = flows.pop_expired() {
        end_flow(flow, ext, reason, &mut sink);
    }
    let update = flows.packet(packet);
    if let Some((flow, ext)) = update.evicted {
        end_flow(flow, ext, EndReason::Evicted, &mut sink);
    }
    let Some((flow, ext)) = flows.get_mut(update.id) else {
        return;
    };
    let dir = update.dir;
    if let Some(insp) = sink.inspect.as_deref_mut() {
        ext.insp.packet(packet, dir);
        sink.pctx = PointCtx::of(flow, &ext.insp);
        if !packet.payload.is_empty() {
            let ctx = InspectCtx {
                flow: &flow.meta,
                dir,
                to_server: ext.app.to_server(dir),
                established: ext.insp.established,
                app: ext.app.chain.last(),
                ip_protocol: flow.protocol,
                ts: packet.ts,
                packet: packet.number,
                stream_offset: 0,
                payload_encrypted: ext.insp.encrypted,
            };
            let start = sink.out.len();
            insp.packet_points += 1;
            insp.inspector
                .inspect(&ctx, &[(Buffer::Packet, packet.payload)], sink.out);
            stamp_findings(sink.out, start, &flow.meta, sink.log_name);
        }
    }
    match packet.transport {
        Transport::Tcp { seq, flags, .. } => {
            if flags & tcp_flags::RST != 0 {
                // RST payload is not part of the stream (as Zeek treats it).
                return;
            }
            let reasm = ext.reasm.get_or_insert_with(|| {
                Box::new([
                    StreamReassembler::new(&config.reassembly),
                    StreamReassembler::new(&config.reassembly),
                ])
            });
            let r = &mut reasm[dir_index(dir)];
            let mut seq = seq;
            if flags & tcp_flags::SYN != 0 {
                r.syn(seq);
                seq = seq.wrapping_add(1);
            }
            if packet.payload.is_empty() {
                return;
            }
            let gaps_before = r.stats().gaps;
            let (meta, ts, app, fi) = (&flow.meta, packet.ts, &mut ext.app, &mut ext.insp);
            r.segment(seq, packet.payload, &mut |chunk| {
                app.stream_chunk(meta, dir, ts, chunk, &mut sink);
                if sink.inspect.is_some() {
                    inspect_stream(fi, app, meta, dir, ts, chunk, &mut sink);
                }
            });
            let new_gaps = r.stats().gaps - gaps_before;
            if let Some(tcp) = &mut flow.tcp {
                for _ in 0..new_gaps {
                    tcp.gap(dir == Direction::ToResponder);
                }
            }
        }
        Transport::Udp { .. } => {
            ext.app
                .datagram(&flow.meta, dir, packet.ts, packet.payload, &mut sink);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex};

    use vigil_event::{ConnectionInfo, Endpoint};

    use super::*;
    use crate::capture::LinkType;
    use crate::decode::tcp_flags::{ACK, FIN, SYN};

    const C: &str = "192.0.2.1";
    const S: &str = "192.0.2.2";

    fn tcp(t_ms: i64, from_client: bool, seq: u32, flags: u8, payload: &[u8]) -> Packet<'_> {
        let (src, dst, sp, dp) = if from_client {
            (C, S, 40000, 8080)
        } else {
            (S, C, 8080, 40000)
        };
        Packet {
            number: 0,
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + t_ms * 1_000_000),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: 6,
            transport: Transport::Tcp {
                src_port: sp,
                dst_port: dp,
                seq,
                ack: 0,
                flags,
                window: 100,
            },
            payload,
            payload_truncated: false,
            wire_len: 66 + payload.len() as u32,
        }
    }

    fn flows(events: &[Event]) -> Vec<&FlowRecord> {
        events
            .iter()
            .filter_map(|e| match &e.body {
                Body::Flow(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// A full connection with a lost segment from the client.
    fn connection(p: &mut Pipeline, out: &mut Vec<Event>) {
        for pkt in [
            tcp(0, true, 100, SYN, b""),
            tcp(1, false, 900, SYN | ACK, b""),
            tcp(2, true, 101, ACK, b""),
            tcp(3, true, 101, ACK, b"hello"),
            // 106..110 lost
            tcp(4, true, 110, ACK, b"world"),
            tcp(5, false, 901, ACK, b"reply"),
            tcp(6, true, 115, FIN | ACK, b""),
            tcp(7, false, 906, FIN | ACK, b""),
        ] {
            p.process_packet(&pkt, out);
        }
    }

    #[test]
    fn tcp_flow_record_with_gap_and_counters() {
        let mut p = Pipeline::new(PipelineConfig::default());
        p.set_log_name("test.pcap");
        let mut out = Vec::new();
        connection(&mut p, &mut out);
        assert!(out.is_empty(), "nothing ends before the input does");
        p.finish(&mut out);
        let f = flows(&out);
        assert_eq!(f.len(), 1);
        let f = f[0];
        assert_eq!(f.src_endpoint.ip, C.parse::<IpAddr>().unwrap());
        assert_eq!(f.dst_endpoint.port, Some(8080));
        assert_eq!(f.traffic.packets_out, 5);
        assert_eq!(f.traffic.packets_in, 3);
        assert_eq!(f.traffic.payload_bytes_out, 10);
        assert_eq!(f.traffic.bytes_out, 5 * 66 + 10);
        assert_eq!(f.conn_state.as_deref(), Some("SF"));
        assert_eq!(f.history.as_deref(), Some("ShADdFfG"));
        assert_eq!(f.end_reason, "end_of_input");
        assert_eq!(f.duration_us, 7_000);
        let r = f.reassembly.as_ref().unwrap();
        assert_eq!((r.gaps, r.gap_bytes), (1, 4));
        assert_eq!(
            f.connection_info.community_uid,
            crate::community_id::community_id_v1(
                0,
                C.parse().unwrap(),
                S.parse().unwrap(),
                6,
                40000,
                8080
            )
        );
        assert_eq!(out[0].metadata.log_name.as_deref(), Some("test.pcap"));
        assert_eq!(
            out[0].metadata.correlation_uid.as_deref(),
            Some(f.connection_info.uid.as_str())
        );
        let s = p.stats();
        assert_eq!(s.get("packets", "total"), 8);
        assert_eq!(s.get("packets", "decoded"), 8);
        assert_eq!(s.get("flows", "created"), 1);
        assert_eq!(s.get("flows", "active_max"), 1);
        assert_eq!(s.get("reassembly", "gaps"), 1);
        assert_eq!(s.get("reassembly", "gap_bytes"), 4);
        assert_eq!(s.inputs, vec!["test.pcap".to_owned()]);
    }

    #[test]
    fn closed_flow_is_written_after_closed_timeout() {
        let mut p = Pipeline::new(PipelineConfig::default());
        let mut out = Vec::new();
        connection(&mut p, &mut out);
        // A packet of another flow 6 s later advances event time past the
        // 5 s closed timeout.
        let mut later = tcp(6_000, true, 1, SYN, b"");
        later.transport = Transport::Tcp {
            src_port: 1,
            dst_port: 2,
            seq: 1,
            ack: 0,
            flags: SYN,
            window: 1,
        };
        p.process_packet(&later, &mut out);
        let f = flows(&out);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].end_reason, "closed");
        assert_eq!(p.stats().get("flows", "closed"), 1);
    }

    #[test]
    fn same_input_same_output() {
        let run = || {
            let mut p = Pipeline::new(PipelineConfig::default());
            let mut out = Vec::new();
            connection(&mut p, &mut out);
            for i in 0..20u16 {
                let mut pkt = tcp(10 + i64::from(i), true, 5, SYN, b"");
                pkt.transport = Transport::Udp {
                    src_port: 1000 + i,
                    dst_port: 53,
                };
                pkt.protocol = 17;
                p.process_packet(&pkt, &mut out);
            }
            p.finish(&mut out);
            out.iter()
                .map(|e| e.to_json_line().unwrap())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a.len(), 21);
        assert_eq!(a, run());
    }

    #[test]
    fn full_table_evicts_and_counts() {
        let config = PipelineConfig {
            flow: FlowConfig {
                max_flows: 1,
                ..FlowConfig::default()
            },
            ..PipelineConfig::default()
        };
        let mut p = Pipeline::new(config);
        let mut out = Vec::new();
        p.process_packet(&tcp(0, true, 1, SYN, b""), &mut out);
        let mut other = tcp(1, true, 1, SYN, b"");
        other.src = "192.0.2.9".parse().unwrap();
        p.process_packet(&other, &mut out);
        let f = flows(&out);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].end_reason, "evicted");
        let s = p.stats();
        assert_eq!(s.get("flows", "evicted"), 1);
        assert_eq!(s.get("memory", "flow_table_full"), 1);
    }

    #[test]
    fn undecodable_packet_is_counted_by_reason() {
        let mut p = Pipeline::new(PipelineConfig::default());
        let raw = RawPacket {
            number: 1,
            ts: Timestamp::from_nanos(0),
            linktype: LinkType(65000),
            orig_len: 4,
            data: &[1, 2, 3, 4],
        };
        let error = p.process(&raw, &mut Vec::new()).unwrap_err();
        let s = p.stats();
        assert_eq!(s.get("packets", "total"), 1);
        assert_eq!(
            s.get("packets", &format!("undecodable.{}", error.reason())),
            1
        );
        assert_eq!(s.get("packets", "decoded"), 0);
    }

    /// A parser that records what it is fed.
    #[derive(Debug)]
    struct Recorder {
        log: Arc<Mutex<Vec<String>>>,
        answer: Progress,
    }

    impl StreamParser for Recorder {
        fn data(
            &mut self,
            meta: &FlowMeta,
            dir: Direction,
            ts: Timestamp,
            data: &[u8],
            out: &mut Vec<Event>,
        ) -> Progress {
            self.log.lock().unwrap().push(format!(
                "{}:{}",
                if dir == Direction::ToResponder {
                    ">"
                } else {
                    "<"
                },
                String::from_utf8_lossy(data)
            ));
            let ssh = vigil_event::SshActivity {
                src_endpoint: meta.originator.clone(),
                dst_endpoint: meta.responder.clone(),
                connection_info: meta.connection_info.clone(),
                client_version: None,
                server_version: None,
            };
            out.push(Event::new(ts, Body::Ssh(ssh)));
            self.answer
        }
        fn gap(&mut self, dir: Direction, len: u64) {
            let d = if dir == Direction::ToResponder {
                ">"
            } else {
                "<"
            };
            self.log.lock().unwrap().push(format!("{d}gap{len}"));
        }
        fn end(&mut self, _meta: &FlowMeta, _ts: Timestamp, _out: &mut Vec<Event>) {
            self.log.lock().unwrap().push("end".to_owned());
        }
    }

    fn meta() -> FlowMeta {
        FlowMeta {
            originator: Endpoint::new(C.parse().unwrap(), 1),
            responder: Endpoint::new(S.parse().unwrap(), 2),
            connection_info: ConnectionInfo::tcp("Fuid", "1:x"),
        }
    }

    /// A sink with no inspector, for driving an `AppSlot` directly.
    fn test_sink<'a>(
        out: &'a mut Vec<Event>,
        counters: &'a mut Counters,
        config: &'a AppConfig,
        log_name: Option<&'a str>,
    ) -> Sink<'a> {
        Sink {
            out,
            counters,
            log_name,
            app_config: config,
            inspect: None,
            pctx: PointCtx::default(),
        }
    }

    fn slot_with(answer: Progress) -> (AppSlot, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut slot = AppSlot {
            state: AppState::Stream {
                proto: AppProto::Ssh,
                parser: Box::new(Recorder {
                    log: log.clone(),
                    answer,
                }),
                done: false,
            },
            chain: Chain::default(),
            client: None,
        };
        slot.chain.push(AppProto::Ssh);
        (slot, log)
    }

    #[test]
    fn parser_is_fed_data_and_gaps_and_events_are_stamped() {
        let (mut slot, log) = slot_with(Progress::Continue);
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let config = AppConfig::default();
        let mut sink = test_sink(&mut out, &mut counters, &config, Some("x.pcap"));
        let m = meta();
        let ts = Timestamp::from_nanos(1);
        slot.stream_chunk(&m, Direction::ToResponder, ts, Chunk::Data(b"a"), &mut sink);
        slot.stream_chunk(&m, Direction::ToOriginator, ts, Chunk::Gap(3), &mut sink);
        slot.stream_chunk(
            &m,
            Direction::ToOriginator,
            ts,
            Chunk::Data(b"b"),
            &mut sink,
        );
        slot.end(&m, ts, &mut sink);
        assert_eq!(*log.lock().unwrap(), vec![">:a", "<gap3", "<:b", "end"]);
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|e| e.metadata.correlation_uid.as_deref() == Some("Fuid")
                && e.metadata.log_name.as_deref() == Some("x.pcap")));
        assert_eq!(counters.app[&AppProto::Ssh].records, 2);
    }

    #[test]
    fn done_stops_feeding_but_end_is_called() {
        let (mut slot, log) = slot_with(Progress::Done);
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let config = AppConfig::default();
        let mut sink = test_sink(&mut out, &mut counters, &config, None);
        let m = meta();
        let ts = Timestamp::from_nanos(1);
        slot.stream_chunk(&m, Direction::ToResponder, ts, Chunk::Data(b"a"), &mut sink);
        slot.stream_chunk(&m, Direction::ToResponder, ts, Chunk::Data(b"b"), &mut sink);
        slot.end(&m, ts, &mut sink);
        assert_eq!(*log.lock().unwrap(), vec![">:a", "end"]);
        assert_eq!(slot.chain.app_name().as_deref(), Some("ssh"));
    }

    #[test]
    fn mismatch_drops_parser_and_counts() {
        let (mut slot, log) = slot_with(Progress::Mismatch);
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let config = AppConfig::default();
        let mut sink = test_sink(&mut out, &mut counters, &config, None);
        let m = meta();
        let ts = Timestamp::from_nanos(1);
        slot.stream_chunk(&m, Direction::ToResponder, ts, Chunk::Data(b"a"), &mut sink);
        slot.stream_chunk(&m, Direction::ToResponder, ts, Chunk::Data(b"b"), &mut sink);
        slot.end(&m, ts, &mut sink);
        assert_eq!(*log.lock().unwrap(), vec![">:a"]);
        assert_eq!(slot.chain.app_name(), None);
        assert_eq!(counters.app[&AppProto::Ssh].mismatch, 1);
    }

    #[test]
    fn undetected_bytes_are_bounded_and_given_up() {
        let mut slot = AppSlot::default();
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let config = AppConfig::default();
        let mut sink = test_sink(&mut out, &mut counters, &config, None);
        let m = meta();
        let junk = [0xffu8; 700];
        for dir in [Direction::ToResponder, Direction::ToOriginator] {
            for _ in 0..4 {
                slot.stream_chunk(&m, dir, Timestamp::default(), Chunk::Data(&junk), &mut sink);
            }
        }
        assert!(matches!(slot.state, AppState::Off));
        assert_eq!(counters.detect_given_up, 1);
    }

    #[test]
    fn switch_ends_parser_and_detects_the_rest_of_the_chunk() {
        let (mut slot, log) = slot_with(Progress::Switch { consumed: 3 });
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let config = AppConfig::default();
        let mut sink = test_sink(&mut out, &mut counters, &config, None);
        let m = meta();
        let ts = Timestamp::from_nanos(1);
        let chunk: &[u8] = b"abcGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
        slot.stream_chunk(
            &m,
            Direction::ToResponder,
            ts,
            Chunk::Data(chunk),
            &mut sink,
        );
        // The old parser saw the whole chunk, then its end; the rest of the
        // chunk went to detection, which found HTTP.
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                format!(">:{}", String::from_utf8_lossy(chunk)),
                "end".to_owned()
            ]
        );
        assert!(matches!(
            slot.state,
            AppState::Stream {
                proto: AppProto::Http,
                ..
            }
        ));
        slot.stream_chunk(
            &m,
            Direction::ToOriginator,
            ts,
            Chunk::Data(b"HTTP/1.1 204 No Content\r\n\r\n"),
            &mut sink,
        );
        slot.end(&m, ts, &mut sink);
        assert_eq!(slot.chain.app_name().as_deref(), Some("ssh,http"));
        assert_eq!(counters.switches, 1);
        assert_eq!(counters.app[&AppProto::Ssh].records, 1);
        assert_eq!(counters.app[&AppProto::Http].detected, 1);
        let http: Vec<_> = out
            .iter()
            .filter_map(|e| match &e.body {
                Body::Http(h) => Some(h),
                _ => None,
            })
            .collect();
        assert_eq!(http.len(), 1);
        assert_eq!(http[0].http_request.url.path, "/x");
        assert_eq!(http[0].http_response.as_ref().unwrap().code, 204);
    }

    #[test]
    fn switch_at_the_end_of_a_chunk_detects_both_directions_again() {
        let (mut slot, log) = slot_with(Progress::Switch { consumed: 2 });
        let mut out = Vec::new();
        let mut counters = Counters::default();
        let config = AppConfig::default();
        let mut sink = test_sink(&mut out, &mut counters, &config, None);
        let m = meta();
        let ts = Timestamp::from_nanos(1);
        slot.stream_chunk(
            &m,
            Direction::ToOriginator,
            ts,
            Chunk::Data(b"ok"),
            &mut sink,
        );
        assert!(matches!(slot.state, AppState::Detecting));
        // The server speaks first inside the tunnel: SSH.
        slot.stream_chunk(
            &m,
            Direction::ToOriginator,
            ts,
            Chunk::Data(b"SSH-2.0-srv\r\n"),
            &mut sink,
        );
        slot.stream_chunk(
            &m,
            Direction::ToResponder,
            ts,
            Chunk::Data(b"SSH-2.0-cli\r\n"),
            &mut sink,
        );
        slot.end(&m, ts, &mut sink);
        assert_eq!(*log.lock().unwrap(), vec!["<:ok", "end"]);
        let ssh: Vec<_> = out
            .iter()
            .filter_map(|e| match &e.body {
                Body::Ssh(s) if s.server_version.is_some() => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(ssh.len(), 1);
        assert_eq!(ssh[0].client_version.as_deref(), Some("SSH-2.0-cli"));
        assert_eq!(ssh[0].server_version.as_deref(), Some("SSH-2.0-srv"));
        assert_eq!(slot.chain.app_name().as_deref(), Some("ssh,ssh"));
    }

    /// A whole TCP connection through the pipeline: handshake, then each
    /// (from client?, payload) as one segment, then FIN both ways.
    fn conversation(parts: &[(bool, &[u8])]) -> (Vec<Event>, StatsRecord) {
        let mut p = Pipeline::new(PipelineConfig::default());
        let mut out = Vec::new();
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        p.process_packet(&tcp(0, true, cseq, SYN, b""), &mut out);
        p.process_packet(&tcp(1, false, sseq, SYN | ACK, b""), &mut out);
        cseq += 1;
        sseq += 1;
        let mut t = 2;
        for (from_client, payload) in parts {
            let seq = if *from_client { &mut cseq } else { &mut sseq };
            p.process_packet(&tcp(t, *from_client, *seq, ACK, payload), &mut out);
            *seq = seq.wrapping_add(payload.len() as u32);
            t += 1;
        }
        p.process_packet(&tcp(t, true, cseq, FIN | ACK, b""), &mut out);
        p.process_packet(&tcp(t + 1, false, sseq, FIN | ACK, b""), &mut out);
        p.finish(&mut out);
        let stats = p.stats();
        (out, stats)
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.trim()).unwrap()
    }

    fn client_hello() -> Vec<u8> {
        unhex(include_str!("app/tls/testdata/openssl-tls12-client.hex"))
    }

    fn server_flight() -> Vec<u8> {
        unhex(include_str!("app/tls/testdata/openssl-tls12-server.hex"))
    }

    fn tls_records(events: &[Event]) -> Vec<&vigil_event::TlsActivity> {
        events
            .iter()
            .filter_map(|e| match &e.body {
                Body::Tls(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// The TLS record and flow of a tunnelled handshake.
    fn assert_tls_in_tunnel(events: &[Event], stats: &StatsRecord, chain: &str) {
        let tls = tls_records(events);
        assert_eq!(tls.len(), 1, "one TLS record: {events:#?}");
        let t = &tls[0];
        assert_eq!(t.tls.sni.as_deref(), Some("vigil.test"));
        assert!(t.tls.ja4.as_deref().is_some_and(|j| j.starts_with("t12d")));
        assert!(t.tls.ja3s_hash.is_some(), "the ServerHello was parsed");
        assert_eq!(t.src_endpoint.ip, C.parse::<IpAddr>().unwrap());
        let f = flows(events);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].app_name.as_deref(), Some(chain));
        assert_eq!(stats.get("app", "switches"), 1);
        assert_eq!(stats.get("app", "tls.detected"), 1);
        // The records come before the flow record, and carry its uid.
        assert!(matches!(
            events.last().map(|e| &e.body),
            Some(Body::Flow(_))
        ));
        assert!(events
            .iter()
            .all(|e| e.metadata.correlation_uid == Some(f[0].connection_info.uid.clone())));
    }

    #[test]
    fn tls_after_http_connect_is_parsed() {
        let (hello, flight) = (client_hello(), server_flight());
        let (events, stats) = conversation(&[
            (
                true,
                b"CONNECT vigil.test:443 HTTP/1.1\r\nHost: vigil.test:443\r\n\r\n",
            ),
            (false, b"HTTP/1.1 200 Connection established\r\n\r\n"),
            (true, &hello),
            (false, &flight),
        ]);
        let http: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.body {
                Body::Http(h) => Some(h),
                _ => None,
            })
            .collect();
        assert_eq!(http.len(), 1);
        assert_eq!(http[0].http_request.http_method, "CONNECT");
        assert_eq!(http[0].http_response.as_ref().unwrap().code, 200);
        assert_tls_in_tunnel(&events, &stats, "http,tls");
    }

    #[test]
    fn tls_after_socks5_with_password_is_parsed() {
        let (hello, flight) = (client_hello(), server_flight());
        let mut request = vec![5, 1, 0, 3, 10];
        request.extend_from_slice(b"vigil.test");
        request.extend_from_slice(&443u16.to_be_bytes());
        let (events, stats) = conversation(&[
            (true, &[5, 2, 0, 2]),
            (false, &[5, 2]),
            (true, b"\x01\x04user\x04pass"),
            (false, &[1, 0]),
            (true, &request),
            (false, &[5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]),
            (true, &hello),
            (false, &flight),
        ]);
        assert_tls_in_tunnel(&events, &stats, "socks,tls");
        assert_eq!(stats.get("app", "socks.detected"), 1);
        assert_eq!(stats.get("app", "socks.granted"), 1);
        assert_eq!(stats.get("app", "socks.auth_user_pass"), 1);
    }

    #[test]
    fn tls_after_socks4a_with_a_split_reply_is_parsed() {
        let (hello, flight) = (client_hello(), server_flight());
        let request = b"\x04\x01\x01\xbb\x00\x00\x00\x01me\x00vigil.test\x00";
        let reply = [0u8, 90, 1, 187, 0, 0, 0, 0];
        let (events, stats) = conversation(&[
            (true, request),
            (false, &reply[..5]),
            (false, &reply[5..]),
            (true, &hello),
            (false, &flight),
        ]);
        assert_tls_in_tunnel(&events, &stats, "socks,tls");
        assert_eq!(stats.get("app", "socks.granted"), 1);
    }

    #[test]
    fn switches_per_flow_are_bounded() {
        let connect: &[u8] = b"CONNECT next:80 HTTP/1.1\r\n\r\n";
        let ok: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";
        let mut parts = Vec::new();
        for _ in 0..MAX_SWITCHES + 2 {
            parts.push((true, connect));
            parts.push((false, ok));
        }
        let (events, stats) = conversation(&parts);
        let f = flows(&events);
        let chain = ["http"; MAX_SWITCHES + 1].join(",");
        assert_eq!(f[0].app_name.as_deref(), Some(chain.as_str()));
        assert_eq!(stats.get("app", "switches"), MAX_SWITCHES as u64);
        assert_eq!(stats.get("app", "switch_limit_hit"), 1);
        let http = events
            .iter()
            .filter(|e| matches!(e.body, Body::Http(_)))
            .count();
        assert_eq!(
            http,
            MAX_SWITCHES + 1,
            "the parser past the limit is not made"
        );
    }

    #[test]
    fn websocket_upgrade_switches_and_detection_gives_up() {
        let frame = [0x81u8, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e];
        let (events, stats) = conversation(&[
            (true, b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            (false, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            (true, &frame),
            (false, &[0x81, 0x02, b'h', b'i']),
        ]);
        let f = flows(&events);
        assert_eq!(f[0].app_name.as_deref(), Some("http"));
        assert_eq!(stats.get("app", "switches"), 1);
        assert_eq!(stats.get("app", "http.records"), 1);
    }
}
