//! The bidirectional flow table.
//!
//! Flows are keyed on the 5-tuple in canonical order (ICMP on the message
//! type paired with its reply type, as Community ID pairs them; port-less
//! protocols on the address pair). The originator is the sender of a SYN,
//! the receiver of a SYN-ACK seen first, or else the sender of the first
//! packet. Each flow counts packets, frame bytes and payload bytes per
//! direction, keeps first/last seen, a Zeek-style `conn_state` and
//! `history`, its Community ID and a uid that is the same for the same
//! input on every run.
//!
//! Flows end on protocol- and state-specific timeouts in event time, on
//! close (both FINs or a RST, written `tcp_closed_timeout` later so late
//! ACKs still count), on eviction of the least recently seen flow when the
//! table is full (counted), or at the end of input.
//!
//! Expiry is exact and cheap: every flow sits in one of six intrusive lists
//! (one per timeout class), each ordered by last activity, so the head of a
//! list is the next flow of that class to time out and the least recently
//! seen flow overall is one of the six heads. A packet moves its flow to the
//! tail of its list in O(1); nothing scans the table.
//!
//! The table is generic over `T`, per-flow state that belongs to the user of
//! the table (the pipeline keeps reassembly and parser state there).

use std::collections::HashMap;
use std::net::IpAddr;

use vigil_event::{ConnectionInfo, Endpoint, IcmpInfo, Timestamp};

use crate::app::{Direction, FlowMeta};
use crate::community_id::{community_id_v1, icmp_counterpart};
use crate::decode::{tcp_flags, Packet, Transport};

/// Flow table limits and timeouts (seconds of event time).
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Most flows held at once; when full, the least recently seen flow is
    /// evicted (written with end_reason "evicted" and counted).
    pub max_flows: usize,
    /// TCP flows that completed the handshake and are not closing.
    pub tcp_established_timeout: u32,
    /// TCP flows still in the handshake (SYN seen, no answer yet).
    pub tcp_handshake_timeout: u32,
    /// TCP flows after FIN from both sides or a RST.
    pub tcp_closed_timeout: u32,
    /// UDP flows.
    pub udp_timeout: u32,
    /// ICMP/ICMPv6 flows.
    pub icmp_timeout: u32,
    /// Any other IP protocol.
    pub other_timeout: u32,
    /// Community ID seed.
    pub community_id_seed: u16,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            max_flows: 1_000_000,
            tcp_established_timeout: 3600,
            tcp_handshake_timeout: 30,
            tcp_closed_timeout: 5,
            udp_timeout: 60,
            icmp_timeout: 30,
            other_timeout: 60,
            community_id_seed: 0,
        }
    }
}

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// Why a flow record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// No packets for the flow's timeout.
    Timeout,
    /// TCP closed (both FINs or a RST) and the closed timeout passed.
    Closed,
    /// The table was full and this flow was the least recently seen.
    Evicted,
    /// The input ended.
    EndOfInput,
}

impl EndReason {
    /// The `end_reason` text of the flow record.
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Closed => "closed",
            EndReason::Evicted => "evicted",
            EndReason::EndOfInput => "end_of_input",
        }
    }
}

/// The table key: addresses and ports in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    a: IpAddr,
    b: IpAddr,
    pa: u16,
    pb: u16,
    proto: u8,
}

/// Ports (or ICMP type/code) of a packet as the flow key and Community ID
/// see them, sender first.
fn ports(p: &Packet<'_>) -> (u16, u16) {
    match p.transport {
        Transport::Tcp {
            src_port, dst_port, ..
        }
        | Transport::Udp { src_port, dst_port } => (src_port, dst_port),
        Transport::Icmp { icmp_type, code } | Transport::Icmpv6 { icmp_type, code } => {
            (u16::from(icmp_type), u16::from(code))
        }
        Transport::Other => match (p.protocol, p.payload) {
            // SCTP has ports (Community ID hashes them); its common header
            // starts with them.
            (SCTP, [a, b, c, d, ..]) => {
                (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))
            }
            _ => (0, 0),
        },
    }
}

/// The key of a packet and whether its sender is the key's `a` side.
fn key_of(p: &Packet<'_>) -> (FlowKey, bool) {
    let (sp, dp) = ports(p);
    let (sp, dp, one_way) = match p.transport {
        Transport::Icmp { icmp_type, .. } | Transport::Icmpv6 { icmp_type, .. } => {
            match icmp_counterpart(p.protocol, icmp_type) {
                Some(c) => (u16::from(icmp_type), u16::from(c), false),
                None => (sp, dp, true),
            }
        }
        _ => (sp, dp, false),
    };
    if one_way || (p.src, sp) <= (p.dst, dp) {
        (
            FlowKey {
                a: p.src,
                b: p.dst,
                pa: sp,
                pb: dp,
                proto: p.protocol,
            },
            true,
        )
    } else {
        (
            FlowKey {
                a: p.dst,
                b: p.src,
                pa: dp,
                pb: sp,
                proto: p.protocol,
            },
            false,
        )
    }
}

/// Packets and bytes one side sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirCounters {
    /// Packets.
    pub packets: u64,
    /// Frame bytes on the wire.
    pub bytes: u64,
    /// Transport payload bytes captured.
    pub payload_bytes: u64,
}

/// Zeek's TCP endpoint states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpEndpointState {
    /// Nothing seen from this side.
    #[default]
    Inactive,
    /// Sent a SYN.
    SynSent,
    /// Sent a SYN-ACK as originator.
    SynAckSent,
    /// Seen mid-stream, no SYN.
    Partial,
    /// Handshake done.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

use TcpEndpointState as Ep;

// History letter bits, one per letter kind.
const H_SYN: u16 = 1;
const H_SYNACK: u16 = 1 << 1;
const H_ACK: u16 = 1 << 2;
const H_DATA: u16 = 1 << 3;
const H_FIN: u16 = 1 << 4;
const H_RST: u16 = 1 << 5;
const H_MULTI: u16 = 1 << 6;
const H_FINRST: u16 = 1 << 7;

/// One side of a TCP connection as the state machine sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpEndpoint {
    /// Current state.
    pub state: TcpEndpointState,
    prev_state: TcpEndpointState,
    seq_init: bool,
    /// Sequence number one past the highest seen (for retransmissions).
    last_seq: u32,
    hist_seen: u16,
    last_syn: Option<u32>,
    last_fin: Option<u32>,
    last_rst: Option<u32>,
    /// Retransmitted data packets.
    pub retransmits: u64,
    next_rxmit_mark: u64,
    /// Content gaps reported by reassembly.
    pub gaps: u64,
    next_gap_mark: u64,
}

impl TcpEndpoint {
    fn set(&mut self, s: TcpEndpointState) {
        self.prev_state = self.state;
        self.state = s;
    }

    fn inactive(&self) -> bool {
        matches!(self.state, Ep::Inactive | Ep::Partial)
    }
}

/// Most history letters kept; later letters are dropped (the string
/// would only repeat S/H/F/R for new sequence numbers).
const HISTORY_CAP: usize = 40;

/// TCP state of a flow: both endpoints and Zeek's `history` letters.
#[derive(Debug, Clone, Copy)]
pub struct TcpState {
    /// The originator's side.
    pub orig: TcpEndpoint,
    /// The responder's side.
    pub resp: TcpEndpoint,
    history: [u8; HISTORY_CAP],
    history_len: u8,
}

impl Default for TcpState {
    fn default() -> Self {
        Self {
            orig: TcpEndpoint::default(),
            resp: TcpEndpoint::default(),
            history: [0; HISTORY_CAP],
            history_len: 0,
        }
    }
}

/// The signed distance from `b` to `a` in sequence space.
fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Sequence deltas of SYNs and RSTs beyond this are not believed.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

impl TcpState {
    /// Zeek's `history`: upper case for the originator, lower for the responder.
    pub fn history(&self) -> &str {
        std::str::from_utf8(&self.history[..usize::from(self.history_len)]).unwrap_or("")
    }

    fn push(&mut self, is_orig: bool, letter: u8) {
        let i = usize::from(self.history_len);
        if i < HISTORY_CAP {
            self.history[i] = if is_orig {
                letter
            } else {
                letter.to_ascii_lowercase()
            };
            self.history_len += 1;
        }
    }

    /// Record `letter` once per direction; true when it was new.
    fn once(&mut self, is_orig: bool, bit: u16, letter: u8) -> bool {
        let ep = if is_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        if ep.hist_seen & bit != 0 {
            return false;
        }
        ep.hist_seen |= bit;
        self.push(is_orig, letter);
        true
    }

    /// Record a content gap seen by reassembly in one direction ('G', logged
    /// at the 1st, 10th, 100th, ... occurrence as Zeek does).
    pub fn gap(&mut self, is_orig: bool) {
        let ep = if is_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        ep.gaps += 1;
        if ep.gaps >= ep.next_gap_mark.max(1) {
            ep.next_gap_mark = ep.gaps.saturating_mul(10);
            self.push(is_orig, b'G');
        }
    }

    fn retransmit(&mut self, is_orig: bool) {
        let ep = if is_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        ep.retransmits += 1;
        if ep.retransmits >= ep.next_rxmit_mark.max(1) {
            ep.next_rxmit_mark = ep.retransmits.saturating_mul(10);
            self.push(is_orig, b'T');
        }
    }

    /// Update history and endpoint states with one segment sent by the
    /// originator (`is_orig`) or the responder.
    fn update(&mut self, is_orig: bool, seq: u32, flags: u8, len: usize) {
        let syn = flags & tcp_flags::SYN != 0;
        let fin = flags & tcp_flags::FIN != 0;
        let rst = flags & tcp_flags::RST != 0;
        let ack = flags & tcp_flags::ACK != 0;
        let len32 = len as u32;

        // History letters (Zeek's update_history).
        let bits = u8::from(syn) + u8::from(fin) + u8::from(rst);
        if bits > 1 {
            if fin && rst {
                self.once(is_orig, H_FINRST, b'I');
            } else {
                self.once(is_orig, H_MULTI, b'Q');
            }
        } else if bits == 1 {
            let ep = if is_orig { self.orig } else { self.resp };
            if syn {
                let (bit, letter) = if ack { (H_SYNACK, b'H') } else { (H_SYN, b'S') };
                if !self.once(is_orig, bit, letter) && ep.last_syn != Some(seq) {
                    self.push(is_orig, letter);
                }
                self.ep_mut(is_orig).last_syn = Some(seq);
            }
            if fin {
                let at = seq.wrapping_add(len32);
                if !self.once(is_orig, H_FIN, b'F') && ep.last_fin != Some(at) {
                    self.push(is_orig, b'F');
                }
                self.ep_mut(is_orig).last_fin = Some(at);
            }
            if rst {
                if !self.once(is_orig, H_RST, b'R') && ep.last_rst != Some(seq) {
                    self.push(is_orig, b'R');
                }
                self.ep_mut(is_orig).last_rst = Some(seq);
            }
        } else if len > 0 {
            self.once(is_orig, H_DATA, b'D');
        } else if ack {
            self.once(is_orig, H_ACK, b'A');
        }

        // Retransmissions ('T'): data that does not advance the sequence.
        let seg_len = if rst {
            u32::from(syn) + u32::from(fin)
        } else {
            len32 + u32::from(syn) + u32::from(fin)
        };
        let end = seq.wrapping_add(seg_len);
        let ep = self.ep_mut(is_orig);
        if !ep.seq_init {
            ep.seq_init = true;
            ep.last_seq = end;
        } else {
            let delta = seq_delta(end, ep.last_seq);
            if (syn || rst) && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta) {
                // not believed
            } else if ep.state == Ep::Reset {
                // sequence numbers after a RST are not trusted
            } else if delta > 0 {
                ep.last_seq = end;
            } else if len > 0 && !rst {
                self.retransmit(is_orig);
            }
        }

        self.state_machine(is_orig, flags, len);
    }

    fn ep_mut(&mut self, is_orig: bool) -> &mut TcpEndpoint {
        if is_orig {
            &mut self.orig
        } else {
            &mut self.resp
        }
    }

    /// Zeek's endpoint state machine, reduced to what `conn_state` needs.
    fn state_machine(&mut self, is_orig: bool, flags: u8, len: usize) {
        let syn = flags & tcp_flags::SYN != 0;
        let fin = flags & tcp_flags::FIN != 0;
        let rst = flags & tcp_flags::RST != 0;
        let ack = flags & tcp_flags::ACK != 0;
        let orig_state = self.orig.state;
        let (ep, peer) = if is_orig {
            (&mut self.orig, &mut self.resp)
        } else {
            (&mut self.resp, &mut self.orig)
        };
        match ep.state {
            Ep::Inactive => {
                if syn {
                    if is_orig {
                        ep.set(if ack { Ep::SynAckSent } else { Ep::SynSent });
                    } else {
                        if peer.state == Ep::SynSent {
                            peer.set(Ep::Established);
                        }
                        ep.set(Ep::Established);
                    }
                }
                if fin {
                    ep.set(Ep::Closed);
                }
                if rst {
                    ep.set(Ep::Reset);
                }
                if ep.state == Ep::Inactive {
                    if !is_orig && len == 0 && orig_state == Ep::SynSent {
                        // An ACK of the SYN before the SYN-ACK: not partial.
                    } else if ack && peer.state == Ep::Established {
                        // Missed the SYN but saw the SYN-ACK: established.
                        ep.set(Ep::Established);
                    } else {
                        ep.set(Ep::Partial);
                    }
                }
            }
            Ep::SynSent | Ep::SynAckSent => {
                if fin {
                    ep.set(Ep::Closed);
                }
                if rst {
                    ep.set(Ep::Reset);
                }
            }
            Ep::Established | Ep::Partial => {
                if syn && ep.state == Ep::Partial && peer.state == Ep::Inactive && !ack {
                    ep.set(Ep::SynSent);
                }
                if fin && !rst {
                    ep.set(Ep::Closed);
                    if peer.state == Ep::Reset && peer.prev_state == Ep::Closed {
                        // FIN then RST from the peer was a normal close.
                        peer.set(Ep::Closed);
                    }
                }
                if rst {
                    ep.set(Ep::Reset);
                }
            }
            Ep::Closed => {
                if rst && peer.state != Ep::Closed {
                    ep.set(Ep::Reset);
                }
            }
            Ep::Reset => {}
        }
    }

    /// Zeek's `conn_state` from the endpoint states and payload sizes.
    pub fn conn_state(&self, orig_size: u64, resp_size: u64) -> &'static str {
        let os = self.orig.state;
        let rs = self.resp.state;
        let o_inactive = self.orig.inactive();
        let r_inactive = self.resp.inactive();
        if rs == Ep::Reset {
            if matches!(os, Ep::SynSent | Ep::SynAckSent)
                || (os == Ep::Reset && orig_size == 0 && resp_size == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Ep::Reset {
            if r_inactive {
                if self.rstos0_history() {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Ep::Closed && os == Ep::Closed {
            "SF"
        } else if os == Ep::Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Ep::Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == Ep::SynSent && rs == Ep::Inactive {
            "S0"
        } else if os == Ep::Established && rs == Ep::Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// Zeek's `/\^?S[^HAFGIQ]*R.*/` over the history.
    fn rstos0_history(&self) -> bool {
        let h = self.history().strip_prefix('^').unwrap_or(self.history());
        let Some(rest) = h.strip_prefix('S') else {
            return false;
        };
        for c in rest.bytes() {
            match c {
                b'R' => return true,
                b'H' | b'A' | b'F' | b'G' | b'I' | b'Q' => return false,
                _ => {}
            }
        }
        false
    }

    /// Both sides sent FIN, or either sent RST.
    pub fn is_closed(&self) -> bool {
        self.orig.state == Ep::Reset
            || self.resp.state == Ep::Reset
            || (self.orig.state == Ep::Closed && self.resp.state == Ep::Closed)
    }

    /// Still in the handshake: no side has reached data transfer.
    fn in_handshake(&self) -> bool {
        let early = |s: Ep| matches!(s, Ep::Inactive | Ep::SynSent | Ep::SynAckSent);
        early(self.orig.state) && early(self.resp.state)
    }
}

/// One flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Endpoints (originator → responder), uid, Community ID, protocol.
    pub meta: FlowMeta,
    /// IP protocol number.
    pub protocol: u8,
    /// First packet's time.
    pub first_seen: Timestamp,
    /// Latest packet time.
    pub last_seen: Timestamp,
    /// What the originator sent.
    pub orig: DirCounters,
    /// What the responder sent.
    pub resp: DirCounters,
    /// TCP state; `None` for other protocols.
    pub tcp: Option<TcpState>,
    /// ICMP type and code of the first packet.
    pub icmp: Option<IcmpInfo>,
    key: FlowKey,
    /// True when the key's `a` side is the originator.
    a_is_orig: bool,
}

impl Flow {
    /// Zeek's `conn_state`, for TCP flows.
    pub fn conn_state(&self) -> Option<&'static str> {
        self.tcp
            .as_ref()
            .map(|t| t.conn_state(self.orig.payload_bytes, self.resp.payload_bytes))
    }

    /// Zeek's `history`, for TCP flows with any letters.
    pub fn history(&self) -> Option<&str> {
        self.tcp
            .as_ref()
            .map(TcpState::history)
            .filter(|h| !h.is_empty())
    }

    /// The flow's uid (also in `meta.connection_info.uid`).
    pub fn uid(&self) -> &str {
        &self.meta.connection_info.uid
    }
}

/// Timeout classes; each has its own list ordered by last activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    TcpHandshake = 0,
    TcpEstablished = 1,
    TcpClosed = 2,
    Udp = 3,
    Icmp = 4,
    Other = 5,
}

const CLASSES: usize = 6;
const NIL: u32 = u32::MAX;

fn class_of(flow: &Flow) -> Class {
    match (&flow.tcp, flow.protocol) {
        (Some(t), _) if t.is_closed() => Class::TcpClosed,
        (Some(t), _) if t.in_handshake() => Class::TcpHandshake,
        (Some(_), _) => Class::TcpEstablished,
        (None, UDP) => Class::Udp,
        (None, ICMP | ICMPV6) => Class::Icmp,
        (None, _) => Class::Other,
    }
}

#[derive(Debug)]
struct Slot<T> {
    flow: Flow,
    ext: T,
    prev: u32,
    next: u32,
    class: Class,
    /// Table clock at the last packet (monotonic, unlike packet times).
    touched: i64,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// Identifies a live flow in the table until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowId(u32);

/// What the table did with one packet.
#[derive(Debug)]
pub struct Update<T> {
    /// The packet's flow.
    pub id: FlowId,
    /// The packet's direction relative to the originator.
    pub dir: Direction,
    /// The flow was created by this packet.
    pub created: bool,
    /// A flow evicted to make room for this one.
    pub evicted: Option<(Flow, T)>,
}

/// Counters the table keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowTableStats {
    /// Flows created.
    pub created: u64,
    /// Flows ended by a timeout.
    pub timed_out: u64,
    /// TCP flows ended after close.
    pub closed: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Most flows held at once.
    pub active_max: u64,
}

/// The bidirectional flow table (see the module docs).
#[derive(Debug)]
pub struct FlowTable<T> {
    config: FlowConfig,
    map: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Option<Slot<T>>>,
    free: Vec<u32>,
    lists: [List; CLASSES],
    timeouts_ns: [i64; CLASSES],
    /// Latest packet time seen (the table's clock).
    now: i64,
    /// No flow times out before this (a lower bound: lowered whenever a flow
    /// is linked, made exact when a scan finds nothing due), so most packets
    /// skip the expiry check with one comparison.
    next_deadline: i64,
    counter: u64,
    stats: FlowTableStats,
}

fn uid_for(community_id: &str, first_seen: Timestamp, counter: u64) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(community_id.as_bytes());
    h.update(first_seen.nanos().to_be_bytes());
    h.update(counter.to_be_bytes());
    let d: [u8; 20] = h.finalize().into();
    let mut n = u128::from_be_bytes([
        d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], 0, 0, 0, 0,
    ]) >> 32;
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(18);
    out.push('F');
    for _ in 0..17 {
        out.push(char::from(DIGITS[(n % 62) as usize]));
        n /= 62;
    }
    out
}

fn protocol_name(proto: u8) -> &'static str {
    match proto {
        ICMP => "icmp",
        2 => "igmp",
        TCP => "tcp",
        UDP => "udp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        ICMPV6 => "ipv6-icmp",
        89 => "ospf",
        SCTP => "sctp",
        _ => "other",
    }
}

impl<T: Default> FlowTable<T> {
    /// An empty table.
    pub fn new(config: FlowConfig) -> Self {
        let s = |secs: u32| i64::from(secs) * 1_000_000_000;
        let timeouts_ns = [
            s(config.tcp_handshake_timeout),
            s(config.tcp_established_timeout),
            s(config.tcp_closed_timeout),
            s(config.udp_timeout),
            s(config.icmp_timeout),
            s(config.other_timeout),
        ];
        Self {
            config,
            map: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; CLASSES],
            timeouts_ns,
            now: i64::MIN,
            next_deadline: i64::MAX,
            counter: 0,
            stats: FlowTableStats::default(),
        }
    }

    /// Flows currently held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The table's counters.
    pub fn stats(&self) -> FlowTableStats {
        self.stats
    }

    /// A live flow and its user state.
    pub fn get_mut(&mut self, id: FlowId) -> Option<(&mut Flow, &mut T)> {
        self.slots
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .map(|s| (&mut s.flow, &mut s.ext))
    }

    /// The live flow a packet belongs to, without accounting it.
    pub fn find(&self, p: &Packet<'_>) -> Option<&Flow> {
        let (key, _) = key_of(p);
        let idx = *self.map.get(&key)?;
        self.slot(idx).map(|s| &s.flow)
    }

    /// Advance the table clock to `ts` (it never goes back).
    pub fn advance(&mut self, ts: Timestamp) {
        self.now = self.now.max(ts.nanos());
    }

    /// The next flow whose timeout has passed at the table clock, removed
    /// from the table, with why it ended. Call until `None`.
    pub fn pop_expired(&mut self) -> Option<(Flow, T, EndReason)> {
        if self.now < self.next_deadline {
            return None;
        }
        let mut best: Option<(i64, usize)> = None;
        let mut earliest = i64::MAX;
        for (c, list) in self.lists.iter().enumerate() {
            if list.head == NIL {
                continue;
            }
            let touched = self.slot(list.head).map_or(i64::MIN, |s| s.touched);
            let deadline = touched.saturating_add(self.timeouts_ns[c]);
            earliest = earliest.min(deadline);
            if deadline <= self.now && best.is_none_or(|(d, _)| deadline < d) {
                best = Some((deadline, c));
            }
        }
        let Some((_, c)) = best else {
            self.next_deadline = earliest;
            return None;
        };
        let idx = self.lists[c].head;
        let slot = self.remove(idx)?;
        let reason = if slot.class == Class::TcpClosed {
            self.stats.closed += 1;
            EndReason::Closed
        } else {
            self.stats.timed_out += 1;
            EndReason::Timeout
        };
        Some((slot.flow, slot.ext, reason))
    }

    /// Remove every flow, ordered by first-seen time then uid.
    pub fn drain_all(&mut self) -> Vec<(Flow, T)> {
        let mut all: Vec<(Flow, T)> = Vec::with_capacity(self.map.len());
        for slot in self.slots.iter_mut() {
            if let Some(s) = slot.take() {
                all.push((s.flow, s.ext));
            }
        }
        self.map.clear();
        self.free.clear();
        self.slots.clear();
        self.lists = [List {
            head: NIL,
            tail: NIL,
        }; CLASSES];
        self.next_deadline = i64::MAX;
        all.sort_by(|(a, _), (b, _)| {
            a.first_seen
                .cmp(&b.first_seen)
                .then_with(|| a.uid().cmp(b.uid()))
        });
        all
    }

    /// Account one packet: find or create its flow, update counters and TCP
    /// state, and move the flow to the back of its timeout list. Call
    /// [`FlowTable::advance`] and drain [`FlowTable::pop_expired`] first so
    /// a packet after a timeout starts a new flow.
    pub fn packet(&mut self, p: &Packet<'_>) -> Update<T> {
        self.advance(p.ts);
        let (key, sender_is_a) = key_of(p);
        let mut created = false;
        let mut evicted = None;
        let idx = match self.map.get(&key) {
            Some(&idx) => idx,
            None => {
                if self.map.len() >= self.config.max_flows.max(1) {
                    evicted = self.evict_lru();
                }
                created = true;
                let flow = self.new_flow(p, key, sender_is_a);
                let idx = self.insert(flow);
                self.map.insert(key, idx);
                self.stats.created += 1;
                self.stats.active_max = self.stats.active_max.max(self.map.len() as u64);
                idx
            }
        };
        let now = self.now;
        let mut dir = Direction::ToResponder;
        let mut class = Class::Other;
        if let Some(slot) = self.slot_mut(idx) {
            let flow = &mut slot.flow;
            let is_orig = sender_is_a == flow.a_is_orig;
            dir = if is_orig {
                Direction::ToResponder
            } else {
                Direction::ToOriginator
            };
            let c = if is_orig {
                &mut flow.orig
            } else {
                &mut flow.resp
            };
            c.packets += 1;
            c.bytes += u64::from(p.wire_len);
            c.payload_bytes += p.payload.len() as u64;
            flow.last_seen = flow.last_seen.max(p.ts);
            if let (Some(tcp), Transport::Tcp { seq, flags, .. }) = (&mut flow.tcp, p.transport) {
                tcp.update(is_orig, seq, flags, p.payload.len());
            }
            slot.touched = now;
            class = class_of(&slot.flow);
        }
        self.relink(idx, class);
        Update {
            id: FlowId(idx),
            dir,
            created,
            evicted,
        }
    }

    fn new_flow(&mut self, p: &Packet<'_>, key: FlowKey, sender_is_a: bool) -> Flow {
        let (sp, dp) = ports(p);
        let mut tcp = None;
        // A SYN-ACK seen first: its receiver is the originator.
        let mut sender_is_orig = true;
        if let Transport::Tcp { flags, .. } = p.transport {
            let mut t = TcpState::default();
            let synack = tcp_flags::SYN | tcp_flags::ACK;
            if flags & (synack | tcp_flags::RST) == synack {
                sender_is_orig = false;
                t.history[0] = b'^';
                t.history_len = 1;
            }
            tcp = Some(t);
        }
        let (oip, rip, op, rp) = if sender_is_orig {
            (p.src, p.dst, sp, dp)
        } else {
            (p.dst, p.src, dp, sp)
        };
        let community = community_id_v1(
            self.config.community_id_seed,
            p.src,
            p.dst,
            p.protocol,
            sp,
            dp,
        );
        let counter = self.counter;
        self.counter += 1;
        let uid = uid_for(&community, p.ts, counter);
        let has_ports = matches!(p.transport, Transport::Tcp { .. } | Transport::Udp { .. })
            || p.protocol == SCTP;
        let endpoint = |ip: IpAddr, port: u16| Endpoint {
            ip,
            port: has_ports.then_some(port),
            hostname: None,
        };
        let icmp = match p.transport {
            Transport::Icmp { icmp_type, code } | Transport::Icmpv6 { icmp_type, code } => {
                Some(IcmpInfo { icmp_type, code })
            }
            _ => None,
        };
        Flow {
            meta: FlowMeta {
                originator: endpoint(oip, op),
                responder: endpoint(rip, rp),
                connection_info: ConnectionInfo {
                    uid,
                    community_uid: community,
                    protocol_num: p.protocol,
                    protocol_name: protocol_name(p.protocol).to_owned(),
                },
            },
            protocol: p.protocol,
            first_seen: p.ts,
            last_seen: p.ts,
            orig: DirCounters::default(),
            resp: DirCounters::default(),
            tcp,
            icmp,
            key,
            a_is_orig: sender_is_a == sender_is_orig,
        }
    }

    fn slot(&self, idx: u32) -> Option<&Slot<T>> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, idx: u32) -> Option<&mut Slot<T>> {
        self.slots.get_mut(idx as usize).and_then(Option::as_mut)
    }

    fn insert(&mut self, flow: Flow) -> u32 {
        let slot = Slot {
            flow,
            ext: T::default(),
            prev: NIL,
            next: NIL,
            class: Class::Other,
            touched: self.now,
        };
        match self.free.pop() {
            Some(idx) => {
                if let Some(s) = self.slots.get_mut(idx as usize) {
                    *s = Some(slot);
                }
                idx
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Take a flow out of its list, the map and the slab.
    fn remove(&mut self, idx: u32) -> Option<Slot<T>> {
        self.unlink(idx);
        let slot = self.slots.get_mut(idx as usize)?.take()?;
        self.map.remove(&slot.flow.key);
        self.free.push(idx);
        Some(slot)
    }

    fn evict_lru(&mut self) -> Option<(Flow, T)> {
        let mut best: Option<(i64, u32)> = None;
        for list in &self.lists {
            if list.head == NIL {
                continue;
            }
            let touched = self.slot(list.head).map_or(i64::MIN, |s| s.touched);
            if best.is_none_or(|(t, _)| touched < t) {
                best = Some((touched, list.head));
            }
        }
        let (_, idx) = best?;
        let slot = self.remove(idx)?;
        self.stats.evicted += 1;
        Some((slot.flow, slot.ext))
    }

    fn unlink(&mut self, idx: u32) {
        let Some(s) = self.slot(idx) else { return };
        let (prev, next, class) = (s.prev, s.next, s.class as usize);
        match self.slot_mut(prev) {
            Some(p) => p.next = next,
            None => self.lists[class].head = next,
        }
        match self.slot_mut(next) {
            Some(n) => n.prev = prev,
            None => self.lists[class].tail = prev,
        }
        if let Some(s) = self.slot_mut(idx) {
            s.prev = NIL;
            s.next = NIL;
        }
    }

    /// Move a flow to the tail of `class`'s list (it was just touched).
    fn relink(&mut self, idx: u32, class: Class) {
        // A freshly inserted slot is in no list yet: its links are NIL and
        // it is not any list's head, so unlinking is a no-op for it.
        let linked = self.slot(idx).is_some_and(|s| {
            s.prev != NIL || s.next != NIL || self.lists[s.class as usize].head == idx
        });
        if linked {
            self.unlink(idx);
        }
        let c = class as usize;
        let tail = self.lists[c].tail;
        let timeout = self.timeouts_ns[c];
        let mut deadline = i64::MAX;
        if let Some(s) = self.slot_mut(idx) {
            deadline = s.touched.saturating_add(timeout);
            s.class = class;
            s.prev = tail;
            s.next = NIL;
        }
        self.next_deadline = self.next_deadline.min(deadline);
        match self.slot_mut(tail) {
            Some(t) => t.next = idx,
            None => self.lists[c].head = idx,
        }
        self.lists[c].tail = idx;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

    const C: &str = "10.0.0.1";
    const S: &str = "10.0.0.2";

    #[allow(clippy::too_many_arguments)]
    fn tcp_pkt(
        t: i64,
        src: &str,
        dst: &str,
        sp: u16,
        dp: u16,
        seq: u32,
        flags: u8,
        payload: &'static [u8],
    ) -> Packet<'static> {
        Packet {
            number: 0,
            ts: Timestamp::from_nanos(t * 1_000_000_000),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: TCP,
            transport: Transport::Tcp {
                src_port: sp,
                dst_port: dp,
                seq,
                ack: 0,
                flags,
                window: 1000,
            },
            payload,
            payload_truncated: false,
            wire_len: 54 + payload.len() as u32,
        }
    }

    /// Client → server segment.
    fn c2s(flags: u8, seq: u32, payload: &'static [u8]) -> Packet<'static> {
        tcp_pkt(0, C, S, 40000, 80, seq, flags, payload)
    }
    /// Server → client segment.
    fn s2c(flags: u8, seq: u32, payload: &'static [u8]) -> Packet<'static> {
        tcp_pkt(0, S, C, 80, 40000, seq, flags, payload)
    }

    fn run(packets: &[Packet<'static>]) -> (Flow, FlowTable<()>) {
        let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
        for p in packets {
            table.packet(p);
        }
        let mut all = table.drain_all();
        assert_eq!(all.len(), 1, "one flow expected");
        (all.remove(0).0, table)
    }

    fn state(packets: &[Packet<'static>]) -> (String, String) {
        let (flow, _) = run(packets);
        (
            flow.conn_state().unwrap().to_owned(),
            flow.history().unwrap_or("").to_owned(),
        )
    }

    fn handshake() -> Vec<Packet<'static>> {
        vec![
            c2s(SYN, 100, b""),
            s2c(SYN | ACK, 500, b""),
            c2s(ACK, 101, b""),
        ]
    }

    #[test]
    fn sf_full_connection() {
        let mut p = handshake();
        p.extend([
            c2s(ACK, 101, b"GET /"),
            s2c(ACK, 501, b"HTTP/1.1 200"),
            c2s(FIN | ACK, 106, b""),
            s2c(FIN | ACK, 513, b""),
            c2s(ACK, 107, b""),
        ]);
        assert_eq!(state(&p), ("SF".into(), "ShADdFf".into()));
        let (flow, _) = run(&p);
        assert_eq!(flow.orig.packets, 5);
        assert_eq!(flow.resp.packets, 3);
        assert_eq!(flow.orig.payload_bytes, 5);
        assert_eq!(flow.resp.payload_bytes, 12);
        assert_eq!(flow.meta.originator.port, Some(40000));
        assert_eq!(flow.meta.responder.port, Some(80));
    }

    #[test]
    fn s0_syn_only() {
        assert_eq!(state(&[c2s(SYN, 1, b"")]), ("S0".into(), "S".into()));
    }

    #[test]
    fn s0_syn_retransmitted_same_seq_is_one_letter() {
        assert_eq!(
            state(&[c2s(SYN, 1, b""), c2s(SYN, 1, b"")]),
            ("S0".into(), "S".into())
        );
        // A new ISN repeats the letter, as Zeek does.
        assert_eq!(
            state(&[c2s(SYN, 1, b""), c2s(SYN, 9999, b"")]),
            ("S0".into(), "SS".into())
        );
    }

    #[test]
    fn s1_established() {
        assert_eq!(state(&handshake()), ("S1".into(), "ShA".into()));
    }

    #[test]
    fn rej_syn_answered_by_rst() {
        assert_eq!(
            state(&[c2s(SYN, 1, b""), s2c(RST | ACK, 0, b"")]),
            ("REJ".into(), "Sr".into())
        );
    }

    #[test]
    fn s2_and_s3_half_closes() {
        let mut p = handshake();
        p.push(c2s(FIN | ACK, 101, b""));
        assert_eq!(state(&p), ("S2".into(), "ShAF".into()));
        let mut p = handshake();
        p.push(s2c(FIN | ACK, 501, b""));
        assert_eq!(state(&p), ("S3".into(), "ShAf".into()));
    }

    #[test]
    fn rsto_and_rstr() {
        let mut p = handshake();
        p.push(c2s(RST | ACK, 101, b""));
        assert_eq!(state(&p), ("RSTO".into(), "ShAR".into()));
        let mut p = handshake();
        p.push(s2c(RST | ACK, 501, b""));
        assert_eq!(state(&p), ("RSTR".into(), "ShAr".into()));
    }

    #[test]
    fn rstos0_syn_then_rst_from_originator() {
        assert_eq!(
            state(&[c2s(SYN, 1, b""), c2s(RST, 2, b"")]),
            ("RSTOS0".into(), "SR".into())
        );
    }

    #[test]
    fn rstrh_synack_then_rst_from_responder() {
        // The SYN-ACK is seen first, so its receiver is the originator.
        let (flow, _) = run(&[s2c(SYN | ACK, 500, b""), s2c(RST, 501, b"")]);
        assert_eq!(flow.conn_state(), Some("RSTRH"));
        assert_eq!(flow.history(), Some("^hr"));
        assert_eq!(flow.meta.originator.ip, C.parse::<IpAddr>().unwrap());
    }

    #[test]
    fn sh_syn_then_fin() {
        assert_eq!(
            state(&[c2s(SYN, 1, b""), c2s(FIN, 2, b"")]),
            ("SH".into(), "SF".into())
        );
    }

    #[test]
    fn shr_synack_then_fin() {
        let (flow, _) = run(&[s2c(SYN | ACK, 500, b""), s2c(FIN | ACK, 501, b"")]);
        assert_eq!(flow.conn_state(), Some("SHR"));
        assert_eq!(flow.history(), Some("^hf"));
    }

    #[test]
    fn oth_midstream() {
        let (flow, _) = run(&[c2s(ACK, 1000, b"data"), s2c(ACK, 2000, b"more")]);
        assert_eq!(flow.conn_state(), Some("OTH"));
        assert_eq!(flow.history(), Some("Dd"));
    }

    #[test]
    fn retransmission_letter_t_logarithmic() {
        let mut p = handshake();
        p.push(c2s(ACK, 101, b"abc"));
        for _ in 0..10 {
            p.push(c2s(ACK, 101, b"abc"));
        }
        let (flow, _) = run(&p);
        // First retransmission and the tenth each log a 'T'.
        assert_eq!(flow.history(), Some("ShADTT"));
        assert_eq!(flow.tcp.unwrap().orig.retransmits, 10);
    }

    #[test]
    fn gap_letter_g() {
        let mut t = TcpState::default();
        t.gap(true);
        t.gap(false);
        t.gap(true);
        assert_eq!(t.history(), "Gg");
    }

    #[test]
    fn multi_flag_packets() {
        assert_eq!(state(&[c2s(SYN | FIN, 1, b"")]).1, "Q");
        assert_eq!(state(&[c2s(FIN | RST, 1, b"")]).1, "I");
    }

    #[test]
    fn originator_is_syn_sender_and_direction_follows() {
        let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let u = table.packet(&c2s(SYN, 1, b""));
        assert!(u.created);
        assert_eq!(u.dir, Direction::ToResponder);
        let u2 = table.packet(&s2c(SYN | ACK, 7, b""));
        assert!(!u2.created);
        assert_eq!(u2.id, u.id);
        assert_eq!(u2.dir, Direction::ToOriginator);
    }

    fn udp(t: i64, sp: u16) -> Packet<'static> {
        Packet {
            number: 0,
            ts: Timestamp::from_nanos(t * 1_000_000_000),
            src: C.parse().unwrap(),
            dst: S.parse().unwrap(),
            protocol: UDP,
            transport: Transport::Udp {
                src_port: sp,
                dst_port: 53,
            },
            payload: b"q",
            payload_truncated: false,
            wire_len: 43,
        }
    }

    #[test]
    fn udp_timeout_in_event_time() {
        let config = FlowConfig {
            udp_timeout: 10,
            ..FlowConfig::default()
        };
        let mut table: FlowTable<()> = FlowTable::new(config);
        table.packet(&udp(0, 1000));
        table.packet(&udp(5, 2000));
        table.advance(Timestamp::from_nanos(9_000_000_000));
        assert!(table.pop_expired().is_none());
        table.advance(Timestamp::from_nanos(10_000_000_000));
        let (flow, _, reason) = table.pop_expired().unwrap();
        assert_eq!(reason, EndReason::Timeout);
        assert_eq!(flow.meta.originator.port, Some(1000));
        assert!(table.pop_expired().is_none());
        assert_eq!(table.len(), 1);
        // Activity keeps a flow alive.
        table.packet(&udp(14, 2000));
        table.advance(Timestamp::from_nanos(20_000_000_000));
        assert!(table.pop_expired().is_none());
        table.advance(Timestamp::from_nanos(24_000_000_000));
        assert!(table.pop_expired().is_some());
        assert_eq!(table.stats().timed_out, 2);
    }

    #[test]
    fn closed_tcp_waits_for_closed_timeout_and_counts_late_acks() {
        let config = FlowConfig {
            tcp_closed_timeout: 5,
            ..FlowConfig::default()
        };
        let mut table: FlowTable<()> = FlowTable::new(config);
        for p in [
            tcp_pkt(0, C, S, 1, 2, 1, SYN, b""),
            tcp_pkt(0, S, C, 2, 1, 1, SYN | ACK, b""),
            tcp_pkt(1, C, S, 1, 2, 2, FIN | ACK, b""),
            tcp_pkt(1, S, C, 2, 1, 2, FIN | ACK, b""),
        ] {
            table.packet(&p);
        }
        table.advance(Timestamp::from_nanos(3_000_000_000));
        assert!(table.pop_expired().is_none());
        let late = tcp_pkt(3, C, S, 1, 2, 3, ACK, b"");
        assert!(!table.packet(&late).created);
        table.advance(Timestamp::from_nanos(8_000_000_000));
        let (flow, _, reason) = table.pop_expired().unwrap();
        assert_eq!(reason, EndReason::Closed);
        assert_eq!(flow.orig.packets, 3);
        assert_eq!(flow.conn_state(), Some("SF"));
        assert_eq!(table.stats().closed, 1);
    }

    #[test]
    fn handshake_timeout_is_shorter() {
        let config = FlowConfig {
            tcp_handshake_timeout: 2,
            tcp_established_timeout: 100,
            ..FlowConfig::default()
        };
        let mut table: FlowTable<()> = FlowTable::new(config);
        table.packet(&tcp_pkt(0, C, S, 1, 2, 1, SYN, b""));
        table.packet(&tcp_pkt(0, C, S, 3, 2, 1, ACK, b"x"));
        table.advance(Timestamp::from_nanos(50_000_000_000));
        let (flow, _, _) = table.pop_expired().unwrap();
        assert_eq!(flow.meta.originator.port, Some(1));
        assert!(table.pop_expired().is_none());
    }

    #[test]
    fn full_table_evicts_least_recently_seen() {
        let config = FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        };
        let mut table: FlowTable<()> = FlowTable::new(config);
        table.packet(&udp(0, 1));
        table.packet(&tcp_pkt(1, C, S, 7, 8, 1, SYN, b""));
        table.packet(&udp(2, 1)); // udp flow 1 is now the most recent
        let u = table.packet(&udp(3, 2));
        let (evicted, ()) = u.evicted.unwrap();
        assert_eq!(evicted.protocol, TCP);
        assert_eq!(table.len(), 2);
        assert_eq!(table.stats().evicted, 1);
        assert_eq!(table.stats().active_max, 2);
    }

    #[test]
    fn uid_is_deterministic_and_distinct() {
        let a = uid_for("1:abc", Timestamp::from_nanos(5), 0);
        assert_eq!(a, uid_for("1:abc", Timestamp::from_nanos(5), 0));
        assert_ne!(a, uid_for("1:abc", Timestamp::from_nanos(5), 1));
        assert!(a.starts_with('F'));
        assert_eq!(a.len(), 18);
    }

    fn icmp(src: &str, dst: &str, t: u8) -> Packet<'static> {
        Packet {
            number: 0,
            ts: Timestamp::from_nanos(0),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: ICMP,
            transport: Transport::Icmp {
                icmp_type: t,
                code: 0,
            },
            payload: b"",
            payload_truncated: false,
            wire_len: 42,
        }
    }

    #[test]
    fn icmp_echo_pairs_and_unreachable_does_not() {
        let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let req = table.packet(&icmp(C, S, 8));
        let rep = table.packet(&icmp(S, C, 0));
        assert_eq!(req.id, rep.id);
        assert_eq!(rep.dir, Direction::ToOriginator);
        let u1 = table.packet(&icmp(C, S, 3));
        let u2 = table.packet(&icmp(S, C, 3));
        assert!(u1.created && u2.created);
        let all = table.drain_all();
        assert_eq!(all.len(), 3);
        let echo = all
            .iter()
            .find(|(f, _)| f.icmp.is_some_and(|i| i.icmp_type == 8))
            .unwrap();
        assert_eq!(echo.0.orig.packets + echo.0.resp.packets, 2);
        assert_eq!(echo.0.meta.connection_info.community_uid.len(), 30);
    }

    proptest::proptest! {
        /// Packets are conserved, the table stays bounded, and expiry is
        /// exact: nothing is popped early and nothing overdue is left.
        #[test]
        fn table_conserves_packets_and_expires_exactly(
            steps in proptest::collection::vec((0u16..12, 0i64..4_000), 1..300),
            max_flows in 1usize..6,
        ) {
            let config = FlowConfig { max_flows, udp_timeout: 2, ..FlowConfig::default() };
            let timeout_ns = 2_000_000_000;
            let mut table: FlowTable<()> = FlowTable::new(config);
            let mut t = 0i64;
            let mut ended = 0u64;
            for (port, step_ms) in steps.iter().copied() {
                t += step_ms * 1_000_000;
                let mut p = udp(0, 1000 + port);
                p.ts = Timestamp::from_nanos(t);
                table.advance(p.ts);
                while let Some((flow, (), _)) = table.pop_expired() {
                    proptest::prop_assert!(flow.last_seen.nanos() + timeout_ns <= t);
                    ended += flow.orig.packets + flow.resp.packets;
                }
                let u = table.packet(&p);
                if let Some((flow, ())) = u.evicted {
                    ended += flow.orig.packets + flow.resp.packets;
                }
                proptest::prop_assert!(table.len() <= max_flows);
            }
            let rest = table.drain_all();
            for (flow, ()) in &rest {
                proptest::prop_assert!(flow.last_seen.nanos() + timeout_ns > t);
                ended += flow.orig.packets + flow.resp.packets;
            }
            proptest::prop_assert_eq!(ended, steps.len() as u64);
        }
    }
}
