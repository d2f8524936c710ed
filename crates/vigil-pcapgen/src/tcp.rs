//! One TCP connection as seen at the capture point: three-way handshake with the options
//! of the client's OS, then messages from an application script, each cut into segments
//! (MSS-sized, paced at the connection's rate) and acknowledged every second segment by
//! the receiver (one round trip later when the receiver is the far server, a fraction of
//! a millisecond later when it is the near client), then a FIN or RST teardown.
//!
//! Messages alternate direction in half-duplex fashion (a request is complete before its
//! response starts), so every acknowledgement number is one the sender has really seen,
//! sequence numbers never go back, and windows are large enough that nothing ever stalls:
//! tshark's TCP analysis has nothing to flag.

use std::collections::VecDeque;

use etherparse::TcpHeader;

use crate::content::Stream;
use crate::dist::{between, Rng};
use crate::hosts::{Endpoint, Os};
use crate::packet::{self, IpSide};
use crate::sched::{Cx, Kind, Tally};

/// Index of the client side.
pub(crate) const CLIENT: usize = 0;
/// Index of the server side.
pub(crate) const SERVER: usize = 1;

/// What an application script says next.
#[derive(Debug)]
pub(crate) struct Message {
    /// Sender: [`CLIENT`] or [`SERVER`].
    pub from: usize,
    /// Extra time before the first byte (think time, server processing), in ns, after the
    /// sender has seen the previous message.
    pub delay: u64,
    /// The bytes (never empty).
    pub stream: Stream,
    /// Pacing of the segments, in ns per payload byte (8.0 is 1 Gbit/s).
    pub ns_per_byte: f64,
    /// What to count once the last byte is written.
    pub tallies: Vec<Tally>,
}

/// Facts an application may use while writing its next message.
#[derive(Debug)]
pub(crate) struct AppCx<'a> {
    pub rng: &'a mut Rng,
    /// Capture time of the last packet, in ns since the Unix epoch (for `Date:` headers).
    pub unix_ns: u64,
    /// Largest body or transfer a session may produce.
    pub cap: u64,
}

/// An application protocol's script: yields messages until the connection should close.
pub(crate) trait App: std::fmt::Debug {
    /// The next message, or `None` to close the connection.
    fn next(&mut self, cx: &mut AppCx<'_>) -> Option<Message>;
}

/// How a connection ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Close {
    /// Who closes: [`CLIENT`] or [`SERVER`].
    pub by: usize,
    /// RST instead of the FIN exchange.
    pub reset: bool,
    /// Idle time before closing, in ns.
    pub idle: u64,
}

/// Everything needed to open a connection.
#[derive(Debug)]
pub(crate) struct TcpParams {
    pub kind: Kind,
    pub client: Endpoint,
    pub server: Endpoint,
    pub os: Os,
    pub client_ttl: u8,
    /// Round trip capture point ↔ server, ns.
    pub rtt: u64,
    /// Round trip capture point ↔ client, ns.
    pub near: u64,
    pub app: Box<dyn App>,
    pub close: Close,
    /// The server answers the SYN with a RST.
    pub refused: bool,
}

#[derive(Debug)]
struct Transfer {
    from: usize,
    stream: Stream,
    next_seg: u64,
    ns_per_byte: f64,
    segs: u64,
    acks: VecDeque<(u64, u32)>,
    ack_delay: u64,
    tallies: Vec<Tally>,
}

#[derive(Debug)]
enum Phase {
    Syn,
    SynAck,
    HandshakeAck,
    Refuse,
    Data(Box<Transfer>),
    Fin(u8),
    Reset,
}

/// A TCP connection in progress.
#[derive(Debug)]
pub(crate) struct TcpSession {
    pub kind: Kind,
    ends: [Endpoint; 2],
    ip: [IpSide; 2],
    seq: [u32; 2],
    window: [u16; 2],
    syn_window: [u16; 2],
    wscale: [u8; 2],
    mss: [u16; 2],
    /// TCP timestamps in use: the clock base of each side.
    ts: Option<[u32; 2]>,
    last_tsval: [u32; 2],
    os: Os,
    rtt: u64,
    near: u64,
    app: Box<dyn App>,
    close: Close,
    refused: bool,
    phase: Phase,
    last_data: u64,
    last_from: usize,
}

impl TcpSession {
    pub(crate) fn new(p: TcpParams, rng: &mut Rng) -> Self {
        let server_ttl = *crate::dist::pick(rng, &[64u8, 64, 128, 255]) - between(rng, 6, 22) as u8;
        let v6 = matches!(p.client.ip, crate::hosts::Ip::V6(_));
        let ip_side = |rng: &mut Rng, ttl| IpSide {
            ttl,
            ip_id: between(rng, 0, 65535) as u16,
            flow_label: between(rng, 1, 0xf_ffff) as u32,
        };
        let ip = [ip_side(rng, p.client_ttl), ip_side(rng, server_ttl)];
        let (client_wscale, client_syn_window) = match p.os {
            Os::Linux => (7u8, 64240u16),
            Os::Windows => (8, 64240),
            Os::Mac => (6, 65535),
        };
        let server_wscale = *crate::dist::pick(rng, &[7u8, 7, 9, 10]);
        let base_mss: u16 = if v6 { 1440 } else { 1460 };
        let server_mss = if crate::dist::chance(rng, 0.2) {
            base_mss - 60
        } else {
            base_mss
        };
        // Receive buffers: 3 MiB at clients, 1-4 MiB at servers, as scaled window fields.
        let client_window = ((3u32 << 20) >> client_wscale).min(65535) as u16;
        let server_window = ((between(rng, 1, 4) as u32) << 20 >> server_wscale).min(65535) as u16;
        let ts = (p.os != Os::Windows).then(|| {
            [
                between(rng, 0, u32::MAX as u64) as u32,
                between(rng, 0, u32::MAX as u64) as u32,
            ]
        });
        Self {
            kind: p.kind,
            ends: [p.client, p.server],
            ip,
            seq: [
                between(rng, 0, u32::MAX as u64) as u32,
                between(rng, 0, u32::MAX as u64) as u32,
            ],
            window: [client_window, server_window],
            syn_window: [
                client_syn_window,
                *crate::dist::pick(rng, &[65160u16, 64240, 65535, 28960]),
            ],
            wscale: [client_wscale, server_wscale],
            mss: [base_mss, server_mss],
            ts,
            last_tsval: [0, 0],
            os: p.os,
            rtt: p.rtt,
            near: p.near,
            app: p.app,
            close: p.close,
            refused: p.refused,
            phase: Phase::Syn,
            last_data: 0,
            last_from: SERVER,
        }
    }

    /// Payload bytes per segment.
    fn segment_size(&self) -> usize {
        let mss = self.mss[0].min(self.mss[1]) as usize;
        if self.ts.is_some() {
            mss - 12
        } else {
            mss
        }
    }

    /// Writes the packet due at `now` into `cx.frame`; returns when the next one is due,
    /// or `None` when the connection is over.
    pub(crate) fn step(&mut self, now: u64, cx: &mut Cx<'_>) -> Result<Option<u64>, String> {
        let phase = std::mem::replace(&mut self.phase, Phase::Reset);
        match phase {
            Phase::Syn => {
                let isn = self.seq[CLIENT];
                self.segment(cx, now, CLIENT, Flags::SYN, isn, 0, true)?;
                self.seq[CLIENT] = isn.wrapping_add(1);
                self.phase = if self.refused {
                    Phase::Refuse
                } else {
                    Phase::SynAck
                };
                Ok(Some(now + self.rtt))
            }
            Phase::Refuse => {
                let ack = self.seq[CLIENT];
                self.segment(cx, now, SERVER, Flags::RST_ACK, 0, ack, false)?;
                cx.tally(Tally::Refused);
                Ok(None)
            }
            Phase::SynAck => {
                let isn = self.seq[SERVER];
                let ack = self.seq[CLIENT];
                self.segment(cx, now, SERVER, Flags::SYN_ACK, isn, ack, true)?;
                self.seq[SERVER] = isn.wrapping_add(1);
                self.phase = Phase::HandshakeAck;
                Ok(Some(now + self.near))
            }
            Phase::HandshakeAck => {
                let (seq, ack) = (self.seq[CLIENT], self.seq[SERVER]);
                self.segment(cx, now, CLIENT, Flags::ACK, seq, ack, false)?;
                self.last_data = now;
                self.last_from = CLIENT;
                Ok(Some(self.next_message(now, cx)))
            }
            Phase::Data(mut transfer) => {
                let data_due = !transfer.stream.is_empty()
                    && transfer
                        .acks
                        .front()
                        .is_none_or(|&(at, _)| transfer.next_seg <= at);
                let from = transfer.from;
                let to = 1 - from;
                if data_due {
                    let max = self.segment_size();
                    cx.payload.clear();
                    let n = transfer.stream.fill(max, cx.payload, cx.pools, cx.rng);
                    let last = transfer.stream.is_empty();
                    let (seq, ack) = (self.seq[from], self.seq[to]);
                    let flags = if last { Flags::PSH_DATA } else { Flags::DATA };
                    self.segment(cx, now, from, flags, seq, ack, false)?;
                    self.seq[from] = seq.wrapping_add(n as u32);
                    transfer.segs += 1;
                    if transfer.segs % 2 == 0 || last {
                        let jitter = between(cx.rng, 0, transfer.ack_delay / 16);
                        let floor = transfer.acks.back().map_or(0, |&(at, _)| at);
                        let at = (now + transfer.ack_delay + jitter).max(floor);
                        transfer.acks.push_back((at, self.seq[from]));
                    }
                    if last {
                        for tally in transfer.tallies.drain(..) {
                            cx.tally(tally);
                        }
                    } else {
                        let gap = (n as f64 * transfer.ns_per_byte) as u64;
                        let jitter = between(cx.rng, 0, gap / 8);
                        transfer.next_seg = now + gap.max(1_000) + jitter;
                    }
                    self.last_data = now;
                    self.last_from = from;
                } else if let Some((_, ack)) = transfer.acks.pop_front() {
                    let seq = self.seq[to];
                    self.segment(cx, now, to, Flags::ACK, seq, ack, false)?;
                }
                let next_data = (!transfer.stream.is_empty()).then_some(transfer.next_seg);
                let next_ack = transfer.acks.front().map(|&(at, _)| at);
                let next = match (next_data, next_ack) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                match next {
                    Some(at) => {
                        self.phase = Phase::Data(transfer);
                        Ok(Some(at.max(now)))
                    }
                    None => Ok(Some(self.next_message(now, cx))),
                }
            }
            Phase::Fin(stage) => {
                let closer = self.close.by;
                let other = 1 - closer;
                match stage {
                    0 => {
                        let (seq, ack) = (self.seq[closer], self.seq[other]);
                        self.segment(cx, now, closer, Flags::FIN_ACK, seq, ack, false)?;
                        self.seq[closer] = seq.wrapping_add(1);
                        self.phase = Phase::Fin(1);
                        let wait = if closer == CLIENT {
                            self.rtt
                        } else {
                            self.near
                        };
                        Ok(Some(now + wait + between(cx.rng, 10_000, 200_000)))
                    }
                    1 => {
                        let (seq, ack) = (self.seq[other], self.seq[closer]);
                        self.segment(cx, now, other, Flags::FIN_ACK, seq, ack, false)?;
                        self.seq[other] = seq.wrapping_add(1);
                        self.phase = Phase::Fin(2);
                        let wait = if closer == CLIENT {
                            self.near
                        } else {
                            self.rtt
                        };
                        Ok(Some(now + wait))
                    }
                    _ => {
                        let (seq, ack) = (self.seq[closer], self.seq[other]);
                        self.segment(cx, now, closer, Flags::ACK, seq, ack, false)?;
                        Ok(None)
                    }
                }
            }
            Phase::Reset => {
                let closer = self.close.by;
                let (seq, ack) = (self.seq[closer], self.seq[1 - closer]);
                self.segment(cx, now, closer, Flags::RST_ACK, seq, ack, false)?;
                Ok(None)
            }
        }
    }

    /// Starts the application's next message (or the teardown); returns its first time.
    fn next_message(&mut self, now: u64, cx: &mut Cx<'_>) -> u64 {
        let unix_ns = cx.unix_ns(now);
        let mut app_cx = AppCx {
            rng: cx.rng,
            unix_ns,
            cap: cx.cap,
        };
        match self.app.next(&mut app_cx) {
            Some(message) => {
                let from = message.from;
                let react = if from == self.last_from {
                    0
                } else if from == SERVER {
                    self.rtt
                } else {
                    self.near
                };
                let start = (self.last_data + react + message.delay).max(now + 1_000);
                // Never put more in flight than half the receiver's window: the receiver's
                // ACKs come `ack_delay` after the data passes the capture point.
                let ack_delay = if from == CLIENT { self.rtt } else { self.near };
                let to = 1 - from;
                let window = f64::from(self.window[to]) * f64::from(1u32 << self.wscale[to]);
                let ns_per_byte = message.ns_per_byte.max(ack_delay as f64 / (0.5 * window));
                self.phase = Phase::Data(Box::new(Transfer {
                    from,
                    stream: message.stream,
                    next_seg: start,
                    ns_per_byte,
                    segs: 0,
                    acks: VecDeque::new(),
                    ack_delay,
                    tallies: message.tallies,
                }));
                start
            }
            None => {
                let react = if self.close.by == self.last_from {
                    0
                } else if self.close.by == SERVER {
                    self.rtt
                } else {
                    self.near
                };
                self.phase = if self.close.reset {
                    Phase::Reset
                } else {
                    Phase::Fin(0)
                };
                (self.last_data + react + self.close.idle).max(now + 1_000)
            }
        }
    }

    /// Builds one segment from side `from` into `cx.frame` (payload from `cx.payload`
    /// unless it is a control segment).
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        cx: &mut Cx<'_>,
        now: u64,
        from: usize,
        flags: Flags,
        seq: u32,
        ack: u32,
        syn: bool,
    ) -> Result<(), String> {
        let to = 1 - from;
        let (src, dst) = (self.ends[from], self.ends[to]);
        let mut header = TcpHeader::new(
            src.port,
            dst.port,
            seq,
            if syn {
                self.syn_window[from]
            } else {
                self.window[from]
            },
        );
        header.syn = flags.syn;
        header.ack = flags.ack;
        header.fin = flags.fin;
        header.rst = flags.rst;
        header.psh = flags.psh;
        header.acknowledgment_number = if flags.ack { ack } else { 0 };
        if flags.rst {
            header.window_size = 0;
        }
        let mut options = [0u8; 40];
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            options[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        let tsval = self
            .ts
            .map(|base| base[from].wrapping_add((now / 1_000_000) as u32));
        if syn {
            let mss = self.mss[from].to_be_bytes();
            match (tsval, self.os) {
                (Some(val), _) => {
                    let ecr = if from == CLIENT {
                        0
                    } else {
                        self.last_tsval[CLIENT]
                    };
                    put(&[2, 4, mss[0], mss[1], 4, 2, 8, 10]);
                    put(&val.to_be_bytes());
                    put(&ecr.to_be_bytes());
                    put(&[1, 3, 3, self.wscale[from]]);
                }
                (None, _) => {
                    put(&[2, 4, mss[0], mss[1], 1, 3, 3, self.wscale[from], 1, 1, 4, 2]);
                }
            }
        } else if let (Some(val), false) = (tsval, flags.rst) {
            put(&[1, 1, 8, 10]);
            put(&val.to_be_bytes());
            put(&self.last_tsval[to].to_be_bytes());
        }
        if let Some(val) = tsval {
            self.last_tsval[from] = val;
        }
        header
            .set_options_raw(&options[..len])
            .map_err(|e| e.to_string())?;
        let payload: &[u8] = if flags.data { cx.payload } else { &[] };
        packet::tcp(cx.frame, &src, &dst, &mut self.ip[from], header, payload)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    psh: bool,
    /// The segment carries `cx.payload`.
    data: bool,
}

impl Flags {
    const SYN: Self = Self {
        syn: true,
        ack: false,
        fin: false,
        rst: false,
        psh: false,
        data: false,
    };
    const SYN_ACK: Self = Self {
        syn: true,
        ack: true,
        ..Self::SYN
    };
    const ACK: Self = Self {
        syn: false,
        ack: true,
        ..Self::SYN
    };
    const DATA: Self = Self {
        data: true,
        ..Self::ACK
    };
    const PSH_DATA: Self = Self {
        psh: true,
        ..Self::DATA
    };
    const FIN_ACK: Self = Self {
        fin: true,
        ..Self::ACK
    };
    const RST_ACK: Self = Self {
        rst: true,
        ..Self::ACK
    };
}

/// Pacing for a message of `bytes`: short messages leave at line rate, long ones at the
/// connection's rate (`bits_per_sec`).
pub(crate) fn pace(bytes: u64, bits_per_sec: f64) -> f64 {
    if bytes <= 16 * 1024 {
        8.0
    } else {
        8e9 / bits_per_sec.max(1e6)
    }
}
