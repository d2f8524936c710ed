//! Packet decoding: link layer (Ethernet with 802.1Q/QinQ, Linux cooked v1
//! and v2, raw IP, BSD/OpenBSD loopback) → IPv4 (with fragment reassembly) or
//! IPv6 (extension headers walked) → TCP, UDP, ICMP, ICMPv6.
//!
//! [`Decoder::decode`] returns `Ok(Some(packet))` for a decoded IP packet,
//! `Ok(None)` for a packet that is fine but carries nothing for the flow
//! table (a non-IP frame such as ARP, or a fragment still waiting for the
//! rest), and `Err` with a reason for a packet it could not decode.
//!
//! Header parsing is etherparse's (one header slice at a time, no
//! allocation). Three pieces are written here: the fixed-layout Linux cooked
//! and loopback pseudo-headers (etherparse has no SLL2 and rejects SLL
//! headers with ARPHRD types we only need to skip), the IPv6 extension-header
//! walk (etherparse's walk reads on past a fragment header into fragment
//! data), and fragment reassembly (see [`DefragConfig`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use etherparse::{
    Ethernet2HeaderSlice, Icmpv4Slice, Icmpv6Slice, IpAuthHeaderSlice, Ipv4HeaderSlice,
    Ipv6FragmentHeaderSlice, Ipv6HeaderSlice, Ipv6RawExtHeaderSlice, SingleVlanHeaderSlice,
    TcpHeaderSlice, UdpHeaderSlice,
};
use vigil_event::Timestamp;

use crate::capture::{LinkType, RawPacket};

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
    /// A fragment was dropped (overlap conflict, too many fragments, buffer
    /// limits, cut by the snaplen). The partial datagram it belonged to is
    /// dropped with it.
    #[error("ip fragment dropped: {0}")]
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

/// Limits for IP fragment reassembly (IPv4, and IPv6 fragment headers).
///
/// Reassembly is written here rather than taken from etherparse's `defrag`
/// module: its pool has no bound on the number of datagrams or bytes held,
/// no policy for conflicting overlaps, and does not track the frames' wire
/// lengths, all of which Vigil needs. Timeouts are in event time (packet
/// timestamps), never the wall clock.
#[derive(Debug, Clone)]
pub struct DefragConfig {
    /// Datagrams being reassembled at once; the oldest is dropped beyond this.
    pub max_datagrams: usize,
    /// Seconds (event time) a partial datagram waits for its other fragments.
    pub timeout_secs: u32,
    /// Bytes of fragment data held at once over all partial datagrams; the
    /// oldest datagrams are dropped beyond this.
    pub max_bytes: usize,
}

impl Default for DefragConfig {
    fn default() -> Self {
        Self {
            max_datagrams: 4096,
            timeout_secs: 30,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Counters the decoder keeps besides its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames that were not IP (ARP, LLDP, ...).
    pub non_ip: u64,
    /// IP fragments received (IPv4, and IPv6 fragment headers).
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
    defrag: Defrag,
    /// The last reassembled datagram's upper-layer bytes (a reassembled
    /// [`Packet`] borrows its payload from here).
    reassembled: Vec<u8>,
}

/// Largest reassembled upper-layer payload (an IPv4 datagram's limit).
const MAX_DATAGRAM: usize = 65_535;
/// Fragments accepted per datagram.
const MAX_FRAGMENTS: u32 = 1024;
/// VLAN tags accepted in one frame.
const MAX_VLAN_TAGS: usize = 8;
/// IPv6 extension headers walked before giving up.
const MAX_IPV6_EXTS: usize = 16;

/// What the link layer carries.
enum Network<'a> {
    /// IPv4 or IPv6, by the version nibble.
    Ip(&'a [u8]),
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    NotIp,
}

/// A fragment header's fields.
#[derive(Debug, Clone, Copy)]
struct FragInfo {
    id: u32,
    /// Offset of this fragment's data in the datagram's upper-layer bytes.
    offset: usize,
    more: bool,
}

/// The IP layer of one packet.
struct IpLayer<'a> {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    /// Bytes after the IP header(s), cut at the IP length.
    payload: &'a [u8],
    truncated: bool,
    fragment: Option<FragInfo>,
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn ethertype_payload(mut ethertype: u16, mut rest: &[u8]) -> Result<Network<'_>, DecodeError> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ethertype {
            0x0800 => return Ok(Network::Ipv4(rest)),
            0x86dd => return Ok(Network::Ipv6(rest)),
            0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                let vlan = SingleVlanHeaderSlice::from_slice(rest)
                    .map_err(|_| DecodeError::Truncated { layer: "vlan" })?;
                ethertype = vlan.ether_type().0;
                rest = rest.get(vlan.slice().len()..).unwrap_or_default();
            }
            _ => return Ok(Network::NotIp),
        }
    }
    Err(DecodeError::Malformed {
        layer: "vlan",
        detail: format!("more than {MAX_VLAN_TAGS} vlan tags"),
    })
}

/// Family values of BSD loopback headers.
fn loopback_family(family: u32, rest: &[u8]) -> Network<'_> {
    match family {
        2 => Network::Ipv4(rest),
        // 10: Linux; 24: NetBSD/OpenBSD; 28: FreeBSD; 30: macOS.
        10 | 24 | 28 | 30 => Network::Ipv6(rest),
        _ => Network::NotIp,
    }
}

/// The source and destination addresses of a frame, without the rest of
/// decoding or fragment reassembly (every fragment has both): `None` for a
/// frame that is not IP. For filtering captures by host.
pub fn ip_addresses(
    linktype: LinkType,
    data: &[u8],
) -> Result<Option<(IpAddr, IpAddr)>, DecodeError> {
    Ok(ip_layer(link_layer(linktype, data)?)?.map(|ip| (ip.src, ip.dst)))
}

fn link_layer(linktype: LinkType, data: &[u8]) -> Result<Network<'_>, DecodeError> {
    match linktype.0 {
        1 => {
            let eth = Ethernet2HeaderSlice::from_slice(data)
                .map_err(|_| DecodeError::Truncated { layer: "ethernet" })?;
            let rest = data.get(eth.slice().len()..).unwrap_or_default();
            ethertype_payload(eth.ether_type().0, rest)
        }
        113 => {
            // packet type, ARPHRD, address length, 8 address bytes, protocol.
            let protocol = be16(data, 14).ok_or(DecodeError::Truncated { layer: "sll" })?;
            ethertype_payload(protocol, data.get(16..).unwrap_or_default())
        }
        276 => {
            // protocol, reserved, ifindex, ARPHRD, packet type, address
            // length, 8 address bytes.
            if data.len() < 20 {
                return Err(DecodeError::Truncated { layer: "sll2" });
            }
            let protocol = be16(data, 0).ok_or(DecodeError::Truncated { layer: "sll2" })?;
            ethertype_payload(protocol, data.get(20..).unwrap_or_default())
        }
        0 => {
            let bytes: [u8; 4] = data
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeError::Truncated { layer: "null" })?;
            // Host byte order of the capturing machine: families are small,
            // so a value with high bits set was written the other way round.
            let mut family = u32::from_le_bytes(bytes);
            if family & 0xffff_0000 != 0 {
                family = family.swap_bytes();
            }
            Ok(loopback_family(family, data.get(4..).unwrap_or_default()))
        }
        108 => {
            let bytes: [u8; 4] = data
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeError::Truncated { layer: "loop" })?;
            Ok(loopback_family(
                u32::from_be_bytes(bytes),
                data.get(4..).unwrap_or_default(),
            ))
        }
        12 | 14 | 101 => Ok(Network::Ip(data)),
        228 => Ok(Network::Ipv4(data)),
        229 => Ok(Network::Ipv6(data)),
        other => Err(DecodeError::UnsupportedLinkType(other)),
    }
}

fn ipv4_layer(data: &[u8]) -> Result<IpLayer<'_>, DecodeError> {
    use etherparse::err::ipv4::HeaderSliceError;
    let header = Ipv4HeaderSlice::from_slice(data).map_err(|e| match e {
        HeaderSliceError::Len(_) => DecodeError::Truncated { layer: "ipv4" },
        HeaderSliceError::Content(e) => DecodeError::Malformed {
            layer: "ipv4",
            detail: e.to_string(),
        },
    })?;
    let header_len = header.slice().len();
    let total_len = usize::from(header.total_len());
    let (end, truncated) = if total_len == 0 {
        // Segmentation offload: the stack had not set the length yet.
        (data.len(), false)
    } else if total_len < header_len {
        return Err(DecodeError::Malformed {
            layer: "ipv4",
            detail: format!("total length {total_len} is less than the header length {header_len}"),
        });
    } else if total_len > data.len() {
        (data.len(), true)
    } else {
        (total_len, false)
    };
    let offset = usize::from(header.fragments_offset().value()) * 8;
    let more = header.more_fragments();
    Ok(IpLayer {
        src: IpAddr::V4(header.source_addr()),
        dst: IpAddr::V4(header.destination_addr()),
        protocol: header.protocol().0,
        payload: data.get(header_len..end).unwrap_or_default(),
        truncated,
        fragment: (offset != 0 || more).then_some(FragInfo {
            id: u32::from(header.identification()),
            offset,
            more,
        }),
    })
}

/// Walk IPv6 extension headers from `next` over `rest` up to the upper
/// layer, or up to a fragment header that fragments the payload (the rest
/// is then fragment data, walked again after reassembly).
fn ipv6_extensions(
    mut next: u8,
    mut rest: &[u8],
) -> Result<(u8, &[u8], Option<FragInfo>), DecodeError> {
    for _ in 0..MAX_IPV6_EXTS {
        match next {
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let ext = Ipv6RawExtHeaderSlice::from_slice(rest)
                    .map_err(|_| DecodeError::Truncated { layer: "ipv6_ext" })?;
                next = ext.next_header().0;
                rest = rest.get(ext.slice().len()..).unwrap_or_default();
            }
            44 => {
                let frag = Ipv6FragmentHeaderSlice::from_slice(rest)
                    .map_err(|_| DecodeError::Truncated { layer: "ipv6_frag" })?;
                next = frag.next_header().0;
                rest = rest.get(frag.slice().len()..).unwrap_or_default();
                let offset = usize::from(frag.fragment_offset().value()) * 8;
                if offset != 0 || frag.more_fragments() {
                    return Ok((
                        next,
                        rest,
                        Some(FragInfo {
                            id: frag.identification(),
                            offset,
                            more: frag.more_fragments(),
                        }),
                    ));
                }
            }
            51 => {
                let auth = auth_header(rest)?;
                next = auth.next_header().0;
                rest = rest.get(auth.slice().len()..).unwrap_or_default();
            }
            _ => return Ok((next, rest, None)),
        }
    }
    Err(DecodeError::Malformed {
        layer: "ipv6_ext",
        detail: format!("more than {MAX_IPV6_EXTS} extension headers"),
    })
}

/// An IP Authentication Header (RFC 4302) at the start of `data`.
fn auth_header(data: &[u8]) -> Result<IpAuthHeaderSlice<'_>, DecodeError> {
    use etherparse::err::ip_auth::HeaderSliceError;
    IpAuthHeaderSlice::from_slice(data).map_err(|e| match e {
        HeaderSliceError::Len(_) => DecodeError::Truncated { layer: "ip_auth" },
        HeaderSliceError::Content(e) => DecodeError::Malformed {
            layer: "ip_auth",
            detail: e.to_string(),
        },
    })
}

/// IPv4 carrying an Authentication Header (protocol 51, RFC 4302): skip it
/// (and a second one, which some tunnels stack) to the protocol it protects,
/// as for IPv6. ESP (50) stays opaque: its payload is encrypted.
fn ipv4_auth(mut protocol: u8, mut data: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    for _ in 0..2 {
        if protocol != 51 {
            break;
        }
        let auth = auth_header(data)?;
        protocol = auth.next_header().0;
        data = data.get(auth.slice().len()..).unwrap_or_default();
    }
    Ok((protocol, data))
}

fn ipv6_layer(data: &[u8]) -> Result<IpLayer<'_>, DecodeError> {
    use etherparse::err::ipv6::HeaderSliceError;
    let header = Ipv6HeaderSlice::from_slice(data).map_err(|e| match e {
        HeaderSliceError::Len(_) => DecodeError::Truncated { layer: "ipv6" },
        HeaderSliceError::Content(e) => DecodeError::Malformed {
            layer: "ipv6",
            detail: e.to_string(),
        },
    })?;
    let header_len = header.slice().len();
    let payload_len = usize::from(header.payload_length());
    let (end, truncated) = if payload_len == 0 {
        // A jumbogram or segmentation offload: the frame sets the length.
        (data.len(), false)
    } else if header_len + payload_len > data.len() {
        (data.len(), true)
    } else {
        (header_len + payload_len, false)
    };
    let body = data.get(header_len..end).unwrap_or_default();
    let walked = ipv6_extensions(header.next_header().0, body);
    // An extension header cut by the snaplen is the snaplen's doing.
    let (protocol, payload, fragment) = match walked {
        Err(DecodeError::Truncated { .. }) if truncated => {
            return Err(DecodeError::Truncated { layer: "ipv6_ext" })
        }
        other => other?,
    };
    Ok(IpLayer {
        src: IpAddr::V6(header.source_addr()),
        dst: IpAddr::V6(header.destination_addr()),
        protocol,
        payload,
        truncated,
        fragment,
    })
}

fn ip_layer(network: Network<'_>) -> Result<Option<IpLayer<'_>>, DecodeError> {
    match network {
        Network::NotIp => Ok(None),
        Network::Ipv4(data) => ipv4_layer(data).map(Some),
        Network::Ipv6(data) => ipv6_layer(data).map(Some),
        Network::Ip(data) => match data.first().map(|b| b >> 4) {
            Some(4) => ipv4_layer(data).map(Some),
            Some(6) => ipv6_layer(data).map(Some),
            Some(version) => Err(DecodeError::Malformed {
                layer: "ip",
                detail: format!("ip version {version}"),
            }),
            None => Err(DecodeError::Truncated { layer: "ip" }),
        },
    }
}

/// The transport header of an (unfragmented or reassembled) IP payload.
fn transport_layer(protocol: u8, data: &[u8]) -> Result<(Transport, &[u8]), DecodeError> {
    match protocol {
        6 => {
            use etherparse::err::tcp::HeaderSliceError;
            let tcp = TcpHeaderSlice::from_slice(data).map_err(|e| match e {
                HeaderSliceError::Len(_) => DecodeError::Truncated { layer: "tcp" },
                HeaderSliceError::Content(e) => DecodeError::Malformed {
                    layer: "tcp",
                    detail: e.to_string(),
                },
            })?;
            let flags = tcp.slice().get(13).copied().unwrap_or_default();
            Ok((
                Transport::Tcp {
                    src_port: tcp.source_port(),
                    dst_port: tcp.destination_port(),
                    seq: tcp.sequence_number(),
                    ack: tcp.acknowledgment_number(),
                    flags,
                    window: tcp.window_size(),
                },
                data.get(tcp.slice().len()..).unwrap_or_default(),
            ))
        }
        17 => {
            let udp = UdpHeaderSlice::from_slice(data)
                .map_err(|_| DecodeError::Truncated { layer: "udp" })?;
            // The UDP length bounds the payload when it is consistent;
            // otherwise (0 in jumbograms, or cut by the snaplen) the IP
            // length already did.
            let udp_len = usize::from(udp.length());
            let end = if (8..=data.len()).contains(&udp_len) {
                udp_len
            } else {
                data.len()
            };
            Ok((
                Transport::Udp {
                    src_port: udp.source_port(),
                    dst_port: udp.destination_port(),
                },
                data.get(8..end).unwrap_or_default(),
            ))
        }
        1 => {
            let icmp = Icmpv4Slice::from_slice(data)
                .map_err(|_| DecodeError::Truncated { layer: "icmp" })?;
            Ok((
                Transport::Icmp {
                    icmp_type: icmp.type_u8(),
                    code: icmp.code_u8(),
                },
                icmp.payload(),
            ))
        }
        58 => {
            let icmp = Icmpv6Slice::from_slice(data)
                .map_err(|_| DecodeError::Truncated { layer: "icmpv6" })?;
            Ok((
                Transport::Icmpv6 {
                    icmp_type: icmp.type_u8(),
                    code: icmp.code_u8(),
                },
                icmp.payload(),
            ))
        }
        _ => Ok((Transport::Other, data)),
    }
}

impl Decoder {
    /// A decoder with the given fragment limits.
    pub fn new(config: DefragConfig) -> Self {
        Self {
            config,
            stats: DecoderStats::default(),
            defrag: Defrag::default(),
            reassembled: Vec::new(),
        }
    }

    /// Decode one raw packet (see the module docs for the three outcomes).
    pub fn decode<'a>(
        &'a mut self,
        raw: &RawPacket<'a>,
    ) -> Result<Option<Packet<'a>>, DecodeError> {
        self.defrag.expire(raw.ts, &self.config, &mut self.stats);
        let network = link_layer(raw.linktype, raw.data)?;
        let Some(ip) = ip_layer(network)? else {
            self.stats.non_ip += 1;
            return Ok(None);
        };
        if ip.truncated {
            self.stats.snaplen_truncated += 1;
        }
        let Some(fragment) = ip.fragment else {
            let (protocol, data) = if ip.src.is_ipv4() {
                ipv4_auth(ip.protocol, ip.payload)?
            } else {
                (ip.protocol, ip.payload)
            };
            let (transport, payload) = transport_layer(protocol, data)?;
            return Ok(Some(Packet {
                number: raw.number,
                ts: raw.ts,
                src: ip.src,
                dst: ip.dst,
                protocol,
                transport,
                payload,
                payload_truncated: ip.truncated,
                wire_len: raw.orig_len,
            }));
        };
        self.stats.fragments += 1;
        let key = FragKey {
            src: ip.src,
            dst: ip.dst,
            id: fragment.id,
            protocol: ip.protocol,
        };
        if ip.truncated {
            self.defrag.remove(&key);
            return Err(DecodeError::Fragment("truncated"));
        }
        let fragment = Fragment {
            info: fragment,
            data: ip.payload,
            ts: raw.ts,
            wire_len: raw.orig_len,
        };
        let Some((datagram, wire_len)) =
            self.defrag
                .add(key, fragment, &self.config, &mut self.stats)?
        else {
            return Ok(None);
        };
        self.stats.reassembled += 1;
        let old = std::mem::replace(&mut self.reassembled, datagram);
        self.defrag.recycle(old);
        // IPv6: the fragmentable part may start with more extension headers.
        let (protocol, data) = if ip.src.is_ipv6() {
            let (protocol, data, fragment) = ipv6_extensions(ip.protocol, &self.reassembled)?;
            if fragment.is_some() {
                return Err(DecodeError::Malformed {
                    layer: "ipv6_frag",
                    detail: "fragment header inside a reassembled datagram".to_owned(),
                });
            }
            (protocol, data)
        } else {
            ipv4_auth(ip.protocol, &self.reassembled)?
        };
        let (transport, payload) = transport_layer(protocol, data)?;
        Ok(Some(Packet {
            number: raw.number,
            ts: raw.ts,
            src: ip.src,
            dst: ip.dst,
            protocol,
            transport,
            payload,
            payload_truncated: false,
            wire_len,
        }))
    }

    /// The decoder's counters.
    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }

    /// Partial datagrams currently held for reassembly.
    pub fn pending_datagrams(&self) -> usize {
        self.defrag.table.len()
    }
}

/// Identifies the datagram a fragment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

/// One fragment handed to [`Defrag::add`].
struct Fragment<'a> {
    info: FragInfo,
    data: &'a [u8],
    ts: Timestamp,
    wire_len: u32,
}

/// A datagram being reassembled.
#[derive(Debug)]
struct Datagram {
    /// Creation order, to find the oldest.
    seq: u64,
    first_ts: Timestamp,
    /// Upper-layer bytes received so far, at their offsets.
    data: Vec<u8>,
    /// Received byte ranges `[start, end)`, sorted and merged.
    ranges: Vec<(usize, usize)>,
    /// The datagram's length, once the last fragment arrived.
    total: Option<usize>,
    fragments: u32,
    wire_len: u32,
}

/// The reassembly table: bounded in datagrams and bytes, oldest dropped first.
#[derive(Debug, Default)]
struct Defrag {
    table: HashMap<FragKey, Datagram>,
    /// Datagrams in creation order (entries of completed or dropped datagrams
    /// are skipped lazily, and compacted when they pile up).
    order: VecDeque<(FragKey, u64)>,
    next_seq: u64,
    /// Sum of the datagrams' buffer lengths.
    bytes: usize,
    /// Spare buffers, so reassembly does not allocate per datagram.
    spare: Vec<Vec<u8>>,
}

const MAX_SPARE_BUFFERS: usize = 8;

impl Defrag {
    fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && buffer.capacity() > 0 {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    fn remove(&mut self, key: &FragKey) -> bool {
        match self.table.remove(key) {
            Some(datagram) => {
                self.bytes -= datagram.data.len();
                self.recycle(datagram.data);
                true
            }
            None => false,
        }
    }

    /// Drop datagrams older than the timeout (event time).
    fn expire(&mut self, now: Timestamp, config: &DefragConfig, stats: &mut DecoderStats) {
        let timeout = i64::from(config.timeout_secs) * 1_000_000_000;
        while let Some(&(key, seq)) = self.order.front() {
            match self.table.get(&key) {
                Some(datagram) if datagram.seq == seq => {
                    if now.since(datagram.first_ts) <= timeout {
                        break;
                    }
                    self.remove(&key);
                    stats.fragments_expired += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Drop the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<&FragKey>, stats: &mut DecoderStats) -> bool {
        let mut index = 0;
        while let Some(&(key, seq)) = self.order.get(index) {
            let live = self.table.get(&key).is_some_and(|d| d.seq == seq);
            if !live {
                self.order.remove(index);
                continue;
            }
            if keep == Some(&key) {
                index += 1;
                continue;
            }
            self.order.remove(index);
            self.remove(&key);
            stats.fragments_expired += 1;
            return true;
        }
        false
    }

    /// Add a fragment; the datagram's upper-layer bytes and summed wire
    /// length when it completes it.
    fn add(
        &mut self,
        key: FragKey,
        fragment: Fragment<'_>,
        config: &DefragConfig,
        stats: &mut DecoderStats,
    ) -> Result<Option<(Vec<u8>, u32)>, DecodeError> {
        let start = fragment.info.offset;
        let end = start + fragment.data.len();
        if end > MAX_DATAGRAM {
            self.remove(&key);
            return Err(DecodeError::Fragment("too_big"));
        }
        if fragment.info.more && fragment.data.is_empty() {
            return Err(DecodeError::Fragment("empty"));
        }
        if !self.table.contains_key(&key) {
            while self.table.len() >= config.max_datagrams.max(1) {
                if !self.evict_oldest(None, stats) {
                    break;
                }
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.order.push_back((key, seq));
            if self.order.len() > 2 * config.max_datagrams + 64 {
                let table = &self.table;
                self.order
                    .retain(|(k, s)| table.get(k).is_some_and(|d| d.seq == *s));
            }
            let data = self.spare.pop().unwrap_or_default();
            self.table.insert(
                key,
                Datagram {
                    seq,
                    first_ts: fragment.ts,
                    data,
                    ranges: Vec::new(),
                    total: None,
                    fragments: 0,
                    wire_len: 0,
                },
            );
        }
        // Make room for this fragment's bytes before touching the datagram.
        let grow = self
            .table
            .get(&key)
            .map_or(0, |d| end.saturating_sub(d.data.len()));
        while self.bytes + grow > config.max_bytes {
            if !self.evict_oldest(Some(&key), stats) {
                self.remove(&key);
                return Err(DecodeError::Fragment("memory_limit"));
            }
        }
        let Some(datagram) = self.table.get_mut(&key) else {
            return Err(DecodeError::Fragment("memory_limit"));
        };
        let verdict = datagram.check(start, end, fragment.info.more, fragment.data);
        if let Err(why) = verdict {
            self.remove(&key);
            return Err(DecodeError::Fragment(why));
        }
        if datagram.data.len() < end {
            self.bytes += end - datagram.data.len();
            datagram.data.resize(end, 0);
        }
        if let Some(target) = datagram.data.get_mut(start..end) {
            // Overlapping bytes were checked equal, so this keeps the
            // first data everywhere.
            target.copy_from_slice(fragment.data);
        }
        datagram.insert_range(start, end);
        if !fragment.info.more {
            datagram.total = Some(end);
        }
        datagram.fragments += 1;
        datagram.wire_len = datagram.wire_len.saturating_add(fragment.wire_len);
        let complete = datagram.total.is_some_and(|total| {
            datagram.ranges.len() == 1 && datagram.ranges.first() == Some(&(0, total))
        });
        if !complete {
            return Ok(None);
        }
        match self.table.remove(&key) {
            Some(datagram) => {
                self.bytes -= datagram.data.len();
                Ok(Some((datagram.data, datagram.wire_len)))
            }
            None => Ok(None),
        }
    }
}

impl Datagram {
    /// Whether fragment `[start, end)` fits: its overlaps with data already
    /// received must be byte-for-byte equal (else the datagram is dropped:
    /// two different contents for the same bytes is an evasion attempt or
    /// corruption, and guessing which one the host kept is worse), and it
    /// must agree with the known end of the datagram.
    fn check(&self, start: usize, end: usize, more: bool, data: &[u8]) -> Result<(), &'static str> {
        if self.fragments >= MAX_FRAGMENTS {
            return Err("too_many_fragments");
        }
        if let Some(total) = self.total {
            if end > total || (!more && end != total) {
                return Err("length_conflict");
            }
        }
        if !more && self.ranges.last().is_some_and(|&(_, e)| e > end) {
            return Err("length_conflict");
        }
        for &(s, e) in &self.ranges {
            let lo = s.max(start);
            let hi = e.min(end);
            if lo >= hi {
                continue;
            }
            let old = self.data.get(lo..hi);
            let new = data.get(lo - start..hi - start);
            if old != new {
                return Err("overlap_conflict");
            }
        }
        Ok(())
    }

    fn insert_range(&mut self, start: usize, end: usize) {
        let mut start = start;
        let mut end = end;
        // Merge every range that touches or overlaps [start, end).
        self.ranges.retain(|&(s, e)| {
            if e < start || s > end {
                true
            } else {
                start = start.min(s);
                end = end.max(e);
                false
            }
        });
        let at = self.ranges.partition_point(|&(s, _)| s < start);
        self.ranges.insert(at, (start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, VlanId};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const V4_A: [u8; 4] = [10, 0, 0, 1];
    const V4_B: [u8; 4] = [10, 0, 0, 2];
    const V6_A: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6_B: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    /// src, dst, protocol, transport, payload, payload_truncated.
    type Decoded = Result<Option<(IpAddr, IpAddr, u8, Transport, Vec<u8>, bool)>, DecodeError>;
    /// number, wire_len, payload.
    type Reassembled = (u64, u32, Vec<u8>);

    fn raw(linktype: u32, data: &[u8], number: u64, secs: i64) -> RawPacket<'_> {
        RawPacket {
            number,
            ts: Timestamp::from_nanos(secs * 1_000_000_000),
            linktype: LinkType(linktype),
            orig_len: data.len() as u32,
            data,
        }
    }

    /// An IPv4 TCP packet (no link layer) with the given payload.
    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(V4_A, V4_B, 64)
            .tcp(40000, 443, 1000, 512)
            .syn()
            .ack(77)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn decode_one(linktype: u32, data: &[u8]) -> Decoded {
        let mut decoder = Decoder::default();
        let packet = raw(linktype, data, 1, 100);
        decoder.decode(&packet).map(|p| {
            p.map(|p| {
                (
                    p.src,
                    p.dst,
                    p.protocol,
                    p.transport,
                    p.payload.to_vec(),
                    p.payload_truncated,
                )
            })
        })
    }

    fn expect_tcp(result: Decoded, payload: &[u8]) {
        let (src, dst, protocol, transport, got, truncated) = result.unwrap().unwrap();
        assert_eq!(src, IpAddr::V4(Ipv4Addr::from(V4_A)));
        assert_eq!(dst, IpAddr::V4(Ipv4Addr::from(V4_B)));
        assert_eq!(protocol, 6);
        assert_eq!(
            transport,
            Transport::Tcp {
                src_port: 40000,
                dst_port: 443,
                seq: 1000,
                ack: 77,
                flags: tcp_flags::SYN | tcp_flags::ACK,
                window: 512,
            }
        );
        assert_eq!(got, payload);
        assert!(!truncated);
    }

    #[test]
    fn ethernet_ipv4_tcp_and_padding_is_not_payload() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(V4_A, V4_B, 64)
            .tcp(40000, 443, 1000, 512)
            .syn()
            .ack(77)
            .write(&mut frame, b"hi")
            .unwrap();
        frame.extend_from_slice(&[0u8; 6]); // Ethernet padding to 60 bytes
        expect_tcp(decode_one(1, &frame), b"hi");
    }

    #[test]
    fn vlan_and_qinq() {
        let mut single = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(VlanId::try_new(42).unwrap())
            .ipv4(V4_A, V4_B, 64)
            .tcp(40000, 443, 1000, 512)
            .syn()
            .ack(77)
            .write(&mut single, b"x")
            .unwrap();
        expect_tcp(decode_one(1, &single), b"x");
        let mut double = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(VlanId::try_new(1).unwrap(), VlanId::try_new(2).unwrap())
            .ipv4(V4_A, V4_B, 64)
            .tcp(40000, 443, 1000, 512)
            .syn()
            .ack(77)
            .write(&mut double, b"xy")
            .unwrap();
        assert_eq!(&double[12..14], &[0x88, 0xa8]);
        expect_tcp(decode_one(1, &double), b"xy");
        // 0x9100 outer tag, as older QinQ switches write.
        let mut old = double.clone();
        old[12..14].copy_from_slice(&[0x91, 0x00]);
        expect_tcp(decode_one(1, &old), b"xy");
    }

    #[test]
    fn cooked_loopback_and_raw_link_types() {
        let ip = ipv4_tcp(b"abc");
        // SLL v1: 14 bytes then protocol.
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        expect_tcp(decode_one(113, &sll), b"abc");
        // SLL v2: protocol first, 20 bytes.
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        expect_tcp(decode_one(276, &sll2), b"abc");
        // NULL in either host byte order, LOOP in network order.
        for header in [[2u8, 0, 0, 0], [0, 0, 0, 2]] {
            let mut null = header.to_vec();
            null.extend_from_slice(&ip);
            expect_tcp(decode_one(0, &null), b"abc");
        }
        let mut lo = vec![0, 0, 0, 2];
        lo.extend_from_slice(&ip);
        expect_tcp(decode_one(108, &lo), b"abc");
        for linktype in [12, 14, 101, 228] {
            expect_tcp(decode_one(linktype, &ip), b"abc");
        }
        // Raw IPv6 and NULL with a BSD IPv6 family.
        let mut v6 = Vec::new();
        PacketBuilder::ipv6(V6_A, V6_B, 64)
            .udp(5353, 53)
            .write(&mut v6, b"q")
            .unwrap();
        for (linktype, prefix) in [
            (229u32, vec![]),
            (101, vec![]),
            (0, vec![30u8, 0, 0, 0]),
            (108, vec![0, 0, 0, 24]),
        ] {
            let mut frame = prefix;
            frame.extend_from_slice(&v6);
            let (src, _, protocol, transport, payload, _) =
                decode_one(linktype, &frame).unwrap().unwrap();
            assert_eq!(src, IpAddr::V6(Ipv6Addr::from(V6_A)));
            assert_eq!(protocol, 17);
            assert_eq!(
                transport,
                Transport::Udp {
                    src_port: 5353,
                    dst_port: 53
                }
            );
            assert_eq!(payload, b"q");
        }
        // Raw IPv4 link type with an IPv6 packet is malformed.
        assert!(matches!(
            decode_one(228, &v6),
            Err(DecodeError::Malformed { layer: "ipv4", .. })
        ));
        assert_eq!(
            decode_one(147, &ip),
            Err(DecodeError::UnsupportedLinkType(147))
        );
    }

    #[test]
    fn non_ip_is_counted() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&MAC_A);
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        let mut decoder = Decoder::default();
        assert!(decoder.decode(&raw(1, &arp, 1, 1)).unwrap().is_none());
        let null_other = [7u8, 0, 0, 0, 1, 2, 3];
        assert!(decoder
            .decode(&raw(0, &null_other, 2, 1))
            .unwrap()
            .is_none());
        assert_eq!(decoder.stats().non_ip, 2);
    }

    #[test]
    fn icmp_and_icmpv6_and_other() {
        let mut icmp = Vec::new();
        PacketBuilder::ipv4(V4_A, V4_B, 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut icmp, b"ping")
            .unwrap();
        let (_, _, protocol, transport, payload, _) = decode_one(101, &icmp).unwrap().unwrap();
        assert_eq!(
            (protocol, transport),
            (
                1,
                Transport::Icmp {
                    icmp_type: 8,
                    code: 0
                }
            )
        );
        assert_eq!(payload, b"ping");
        let mut icmp6 = Vec::new();
        PacketBuilder::ipv6(V6_A, V6_B, 64)
            .icmpv6_echo_reply(1, 2)
            .write(&mut icmp6, b"pong")
            .unwrap();
        let (_, _, protocol, transport, _, _) = decode_one(101, &icmp6).unwrap().unwrap();
        assert_eq!(
            (protocol, transport),
            (
                58,
                Transport::Icmpv6 {
                    icmp_type: 129,
                    code: 0
                }
            )
        );
        // GRE (47): the IP payload as is.
        let mut gre = ipv4_tcp(b"");
        gre[9] = 47;
        let (_, _, protocol, transport, payload, _) = decode_one(101, &gre).unwrap().unwrap();
        assert_eq!((protocol, transport), (47, Transport::Other));
        assert_eq!(payload.len(), gre.len() - 20);
    }

    #[test]
    fn ipv4_authentication_header_is_walked_to_tcp() {
        // IPv4 (protocol 51) → AH (next header 6, 12-byte ICV: length field 4) → TCP.
        let ip = ipv4_tcp(b"hello");
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let mut ah = vec![6u8, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1];
        ah.extend_from_slice(&[0u8; 12]);
        let mut packet = ip[..ihl].to_vec();
        packet.extend_from_slice(&ah);
        packet.extend_from_slice(&ip[ihl..]);
        let total = packet.len() as u16;
        packet[2..4].copy_from_slice(&total.to_be_bytes());
        packet[9] = 51;
        let raw = RawPacket {
            number: 1,
            ts: Timestamp::from_nanos(0),
            linktype: LinkType::IPV4,
            orig_len: packet.len() as u32,
            data: &packet,
        };
        let mut decoder = Decoder::default();
        let decoded = decoder.decode(&raw).unwrap().unwrap();
        assert_eq!(decoded.protocol, 6);
        assert!(matches!(
            decoded.transport,
            Transport::Tcp {
                src_port: 40000,
                dst_port: 443,
                ..
            }
        ));
        assert_eq!(decoded.payload, b"hello");
        // Cut inside the AH header: a truncation, not a panic.
        let cut = RawPacket {
            data: &packet[..ihl + 6],
            orig_len: (ihl + 6) as u32,
            ..raw
        };
        assert_eq!(
            Decoder::default().decode(&cut).unwrap_err().reason(),
            "truncated_ip_auth"
        );
    }

    #[test]
    fn ipv4_options_are_skipped() {
        let plain = ipv4_tcp(b"data");
        let mut with_options = plain[..20].to_vec();
        with_options[0] = 0x46; // IHL 6
        with_options.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
        with_options.extend_from_slice(&plain[20..]);
        let total = with_options.len() as u16;
        with_options[2..4].copy_from_slice(&total.to_be_bytes());
        expect_tcp(decode_one(101, &with_options), b"data");
    }

    /// IPv6 → hop-by-hop → routing → destination options → AH → TCP.
    #[test]
    fn ipv6_extension_headers_are_walked() {
        let mut tcp = Vec::new();
        PacketBuilder::ipv4(V4_A, V4_B, 64)
            .tcp(1, 2, 3, 4)
            .write(&mut tcp, b"ext")
            .unwrap();
        let tcp = &tcp[20..];
        let mut exts = Vec::new();
        exts.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop → routing
        exts.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]); // routing → dest opts
        exts.extend_from_slice(&[51, 0, 1, 4, 0, 0, 0, 0]); // dest opts → AH
        exts.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]); // AH → TCP
        let payload_len = (exts.len() + tcp.len()) as u16;
        let mut packet = vec![0x60, 0, 0, 0];
        packet.extend_from_slice(&payload_len.to_be_bytes());
        packet.extend_from_slice(&[0, 64]); // next header: hop-by-hop
        packet.extend_from_slice(&V6_A);
        packet.extend_from_slice(&V6_B);
        packet.extend_from_slice(&exts);
        packet.extend_from_slice(tcp);
        let (_, _, protocol, transport, payload, _) = decode_one(229, &packet).unwrap().unwrap();
        assert_eq!(protocol, 6);
        assert!(matches!(
            transport,
            Transport::Tcp {
                src_port: 1,
                dst_port: 2,
                seq: 3,
                ..
            }
        ));
        assert_eq!(payload, b"ext");
        // Cut inside the AH header: a truncation, not a panic.
        let cut = &packet[..40 + 28];
        assert!(decode_one(229, cut).is_err());
    }

    #[test]
    fn snaplen_cut_packet_is_decoded_and_counted() {
        let full = ipv4_tcp(&[7u8; 100]);
        let cut = &full[..60];
        let mut decoder = Decoder::default();
        let packet = RawPacket {
            orig_len: full.len() as u32,
            ..raw(101, cut, 1, 1)
        };
        let decoded = decoder.decode(&packet).unwrap().unwrap();
        assert!(decoded.payload_truncated);
        assert_eq!(decoded.payload.len(), 60 - 40);
        assert_eq!(decoded.wire_len, full.len() as u32);
        assert_eq!(decoder.stats().snaplen_truncated, 1);
    }

    #[test]
    fn truncated_and_malformed_headers_have_reasons() {
        let ip = ipv4_tcp(b"");
        assert_eq!(
            decode_one(101, &ip[..30]).unwrap_err().reason(),
            "truncated_tcp"
        );
        assert_eq!(
            decode_one(101, &ip[..10]).unwrap_err().reason(),
            "truncated_ipv4"
        );
        assert_eq!(
            decode_one(1, &[0u8; 10]).unwrap_err().reason(),
            "truncated_ethernet"
        );
        assert_eq!(
            decode_one(113, &[0u8; 10]).unwrap_err().reason(),
            "truncated_sll"
        );
        let mut bad = ip.clone();
        bad[32] = 0x20; // TCP data offset 2
        assert_eq!(decode_one(101, &bad).unwrap_err().reason(), "malformed_tcp");
        let mut bad = ip.clone();
        bad[2..4].copy_from_slice(&10u16.to_be_bytes()); // total length < header
        assert_eq!(
            decode_one(101, &bad).unwrap_err().reason(),
            "malformed_ipv4"
        );
        assert_eq!(
            decode_one(101, &[0x50, 0, 0]).unwrap_err().reason(),
            "malformed_ip"
        );
    }

    /// A UDP datagram (IPv4 header + UDP) with `len` payload bytes.
    fn udp_datagram(len: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        PacketBuilder::ipv4(V4_A, V4_B, 64)
            .udp(1234, 53)
            .write(&mut out, &payload)
            .unwrap();
        out
    }

    /// An IPv4 fragment of `datagram` covering upper-layer bytes [start, end).
    fn fragment(datagram: &[u8], id: u16, start: usize, end: usize, more: bool) -> Vec<u8> {
        let mut out = datagram[..20].to_vec();
        out.extend_from_slice(&datagram[20 + start..20 + end]);
        let total = out.len() as u16;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        out[4..6].copy_from_slice(&id.to_be_bytes());
        let flags_offset = ((start / 8) as u16) | if more { 0x2000 } else { 0 };
        out[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        out
    }

    fn feed(
        decoder: &mut Decoder,
        frags: &[Vec<u8>],
        secs: i64,
    ) -> Vec<Result<Option<Reassembled>, DecodeError>> {
        frags
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let packet = raw(101, f, i as u64 + 1, secs);
                decoder
                    .decode(&packet)
                    .map(|p| p.map(|p| (p.number, p.wire_len, p.payload.to_vec())))
            })
            .collect()
    }

    #[test]
    fn fragments_in_order_out_of_order_and_duplicated() {
        let datagram = udp_datagram(100); // 108 upper-layer bytes
        let expected = datagram[28..].to_vec();
        let a = fragment(&datagram, 7, 0, 48, true);
        let b = fragment(&datagram, 7, 48, 96, true);
        let c = fragment(&datagram, 7, 96, 108, false);
        let wire: u32 = [&a, &b, &c].iter().map(|f| f.len() as u32).sum();
        for order in [
            vec![a.clone(), b.clone(), c.clone()],
            vec![c.clone(), a.clone(), b.clone()],
            vec![b.clone(), c.clone(), a.clone()],
        ] {
            let mut decoder = Decoder::default();
            let results = feed(&mut decoder, &order, 1);
            assert!(results[..2].iter().all(|r| matches!(r, Ok(None))));
            let (number, wire_len, payload) = results[2].clone().unwrap().unwrap();
            assert_eq!((number, wire_len), (3, wire));
            assert_eq!(payload, expected);
            assert_eq!(decoder.stats().reassembled, 1);
            assert_eq!(decoder.stats().fragments, 3);
            assert_eq!(decoder.pending_datagrams(), 0);
        }
        // A duplicate of an earlier fragment is accepted and counted on the wire.
        let mut decoder = Decoder::default();
        let results = feed(
            &mut decoder,
            &[a.clone(), a.clone(), b.clone(), c.clone()],
            1,
        );
        let (_, wire_len, payload) = results[3].clone().unwrap().unwrap();
        assert_eq!(payload, expected);
        assert_eq!(wire_len, wire + a.len() as u32);
    }

    #[test]
    fn overlapping_fragments_first_data_wins_or_conflict_drops() {
        let datagram = udp_datagram(100);
        let expected = datagram[28..].to_vec();
        let a = fragment(&datagram, 9, 0, 56, true);
        let b = fragment(&datagram, 9, 48, 108, false); // overlaps 48..56, same bytes
        let mut decoder = Decoder::default();
        let results = feed(&mut decoder, &[a.clone(), b], 1);
        assert_eq!(results[1].clone().unwrap().unwrap().2, expected);
        // Different bytes in the overlap: the datagram is dropped.
        let mut evil = fragment(&datagram, 9, 48, 108, false);
        evil[20] ^= 0xff;
        let mut decoder = Decoder::default();
        let results = feed(&mut decoder, &[a.clone(), evil], 1);
        assert_eq!(results[1], Err(DecodeError::Fragment("overlap_conflict")));
        assert_eq!(
            results[1].clone().unwrap_err().reason(),
            "fragment_overlap_conflict"
        );
        assert_eq!(decoder.pending_datagrams(), 0);
    }

    #[test]
    fn fragments_time_out_in_event_time() {
        let datagram = udp_datagram(100);
        let a = fragment(&datagram, 3, 0, 48, true);
        let c = fragment(&datagram, 3, 48, 108, false);
        let mut decoder = Decoder::new(DefragConfig {
            timeout_secs: 10,
            ..DefragConfig::default()
        });
        assert!(matches!(feed(&mut decoder, &[a], 100)[0], Ok(None)));
        // 11 s later in event time: the first fragment has expired, so the
        // last one starts a new partial datagram.
        assert!(matches!(
            feed(&mut decoder, std::slice::from_ref(&c), 111)[0],
            Ok(None)
        ));
        assert_eq!(decoder.stats().fragments_expired, 1);
        assert_eq!(decoder.stats().reassembled, 0);
        assert_eq!(decoder.pending_datagrams(), 1);
    }

    #[test]
    fn fragment_table_full_drops_oldest() {
        let datagram = udp_datagram(100);
        let mut decoder = Decoder::new(DefragConfig {
            max_datagrams: 2,
            ..DefragConfig::default()
        });
        let firsts: Vec<_> = (1..=3)
            .map(|id| fragment(&datagram, id, 0, 48, true))
            .collect();
        feed(&mut decoder, &firsts, 1);
        assert_eq!(decoder.pending_datagrams(), 2);
        assert_eq!(decoder.stats().fragments_expired, 1);
        // Datagram 1 was dropped; 3 still completes.
        let rest = fragment(&datagram, 1, 48, 108, false);
        assert!(matches!(feed(&mut decoder, &[rest], 1)[0], Ok(None)));
        let rest = fragment(&datagram, 3, 48, 108, false);
        assert!(feed(&mut decoder, &[rest], 1)[0].clone().unwrap().is_some());
    }

    #[test]
    fn fragment_memory_limit_drops_oldest() {
        let datagram = udp_datagram(1000);
        let mut decoder = Decoder::new(DefragConfig {
            max_bytes: 1500,
            ..DefragConfig::default()
        });
        let firsts: Vec<_> = (1..=3)
            .map(|id| fragment(&datagram, id, 0, 800, true))
            .collect();
        let results = feed(&mut decoder, &firsts, 1);
        assert!(results.iter().all(|r| matches!(r, Ok(None))));
        assert_eq!(decoder.pending_datagrams(), 1);
        assert_eq!(decoder.stats().fragments_expired, 2);
    }

    #[test]
    fn oversized_fragment_is_dropped() {
        let datagram = udp_datagram(100);
        let mut far = fragment(&datagram, 5, 0, 48, true);
        far[6..8].copy_from_slice(&(0x2000u16 | 8190).to_be_bytes()); // offset 65520
        let mut decoder = Decoder::default();
        assert_eq!(
            feed(&mut decoder, &[far], 1)[0],
            Err(DecodeError::Fragment("too_big"))
        );
    }

    #[test]
    fn ipv6_fragments_first_header_and_reassembly() {
        let mut udp = Vec::new();
        PacketBuilder::ipv6(V6_A, V6_B, 64)
            .udp(4000, 53)
            .write(&mut udp, &[5u8; 40])
            .unwrap();
        let upper = &udp[40..]; // 48 bytes of UDP
        let build = |start: usize, end: usize, more: bool| {
            let mut p = udp[..40].to_vec();
            p[6] = 44;
            let len = (8 + end - start) as u16;
            p[4..6].copy_from_slice(&len.to_be_bytes());
            let off = ((start / 8) as u16) << 3 | u16::from(more);
            p.extend_from_slice(&[17, 0]);
            p.extend_from_slice(&off.to_be_bytes());
            p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
            p.extend_from_slice(&upper[start..end]);
            p
        };
        let frags = [build(24, 48, false), build(0, 24, true)];
        let mut decoder = Decoder::default();
        let results: Vec<_> = frags
            .iter()
            .enumerate()
            .map(|(i, f)| {
                decoder
                    .decode(&raw(229, f, i as u64 + 1, 1))
                    .map(|p| p.map(|p| (p.protocol, p.transport, p.payload.to_vec())))
            })
            .collect();
        assert!(matches!(results[0], Ok(None)));
        let (protocol, transport, payload) = results[1].clone().unwrap().unwrap();
        assert_eq!(protocol, 17);
        assert_eq!(
            transport,
            Transport::Udp {
                src_port: 4000,
                dst_port: 53
            }
        );
        assert_eq!(payload, vec![5u8; 40]);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            linktype in prop::sample::select(vec![0u32, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]),
        ) {
            let mut decoder = Decoder::default();
            let _ = decoder.decode(&raw(linktype, &data, 1, 1));
        }

        /// Random bytes after a valid IPv4/IPv6 start, so the transport and
        /// fragment paths see garbage too.
        #[test]
        fn random_ip_bodies_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..120),
            v6 in any::<bool>(),
            proto in prop::sample::select(vec![0u8, 1, 6, 17, 43, 44, 51, 58, 60]),
            flags_offset in any::<u16>(),
        ) {
            let mut packet = if v6 {
                let mut p = vec![0x60, 0, 0, 0];
                p.extend_from_slice(&(body.len() as u16).to_be_bytes());
                p.extend_from_slice(&[proto, 64]);
                p.extend_from_slice(&V6_A);
                p.extend_from_slice(&V6_B);
                p
            } else {
                let mut p = vec![0x45, 0];
                p.extend_from_slice(&((20 + body.len()) as u16).to_be_bytes());
                p.extend_from_slice(&[0, 1]);
                p.extend_from_slice(&flags_offset.to_be_bytes());
                p.extend_from_slice(&[64, proto, 0, 0]);
                p.extend_from_slice(&V4_A);
                p.extend_from_slice(&V4_B);
                p
            };
            packet.extend_from_slice(&body);
            let mut decoder = Decoder::default();
            for _ in 0..2 {
                let _ = decoder.decode(&raw(101, &packet, 1, 1));
            }
        }
    }
}
