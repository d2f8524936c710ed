//! Frames: Ethernet II, IPv4 or IPv6, TCP or UDP, with lengths and checksums, built with
//! etherparse's `PacketBuilder` into a reused buffer.

use etherparse::{IpHeaders, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder, TcpHeader};

use crate::hosts::{Endpoint, Ip};

/// IP-layer state of one direction of a flow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpSide {
    /// TTL or hop limit as seen at the capture point.
    pub ttl: u8,
    /// Next IPv4 identification.
    pub ip_id: u16,
    /// IPv6 flow label (20 bits).
    pub flow_label: u32,
}

fn ip_headers(src: &Endpoint, dst: &Endpoint, side: &mut IpSide) -> Option<IpHeaders> {
    match (src.ip, dst.ip) {
        (Ip::V4(s), Ip::V4(d)) => {
            let header = Ipv4Header {
                identification: side.ip_id,
                dont_fragment: true,
                time_to_live: side.ttl,
                source: s,
                destination: d,
                ..Default::default()
            };
            side.ip_id = side.ip_id.wrapping_add(1);
            Some(IpHeaders::Ipv4(header, Default::default()))
        }
        (Ip::V6(s), Ip::V6(d)) => {
            let header = Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::try_from(side.flow_label & 0xf_ffff).unwrap_or_default(),
                hop_limit: side.ttl,
                source: s,
                destination: d,
                ..Default::default()
            };
            Some(IpHeaders::Ipv6(header, Default::default()))
        }
        _ => None,
    }
}

/// Clears `frame` and writes a TCP frame from `src` to `dst` into it.
pub(crate) fn tcp(
    frame: &mut Vec<u8>,
    src: &Endpoint,
    dst: &Endpoint,
    side: &mut IpSide,
    header: TcpHeader,
    payload: &[u8],
) -> Result<(), String> {
    frame.clear();
    let ip = ip_headers(src, dst, side).ok_or("mixed address families")?;
    PacketBuilder::ethernet2(src.mac, dst.mac)
        .ip(ip)
        .tcp_header(header)
        .write_to_vec(frame, payload)
        .map_err(|e| e.to_string())
}

/// Clears `frame` and writes a UDP frame from `src` to `dst` into it.
pub(crate) fn udp(
    frame: &mut Vec<u8>,
    src: &Endpoint,
    dst: &Endpoint,
    side: &mut IpSide,
    payload: &[u8],
) -> Result<(), String> {
    frame.clear();
    let ip = ip_headers(src, dst, side).ok_or("mixed address families")?;
    PacketBuilder::ethernet2(src.mac, dst.mac)
        .ip(ip)
        .udp(src.port, dst.port)
        .write_to_vec(frame, payload)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    #[test]
    fn tcp_frame_round_trips_with_valid_checksums() {
        let src = Endpoint {
            ip: Ip::V4([10, 20, 0, 2]),
            mac: [2; 6],
            port: 50_000,
        };
        let dst = Endpoint {
            ip: Ip::V4([23, 52, 1, 1]),
            mac: [4; 6],
            port: 443,
        };
        let mut side = IpSide {
            ttl: 63,
            ip_id: 7,
            flow_label: 0,
        };
        let mut header = TcpHeader::new(50_000, 443, 1000, 502);
        header.ack = true;
        header.acknowledgment_number = 99;
        let mut frame = Vec::new();
        tcp(&mut frame, &src, &dst, &mut side, header, b"hello").unwrap();
        assert_eq!(side.ip_id, 8);
        let packet = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(NetSlice::Ipv4(ip)) = packet.net else {
            panic!("not ipv4")
        };
        assert_eq!(
            ip.header().to_header().calc_header_checksum(),
            ip.header().header_checksum()
        );
        let Some(TransportSlice::Tcp(seg)) = packet.transport else {
            panic!("not tcp")
        };
        let expected = seg
            .to_header()
            .calc_checksum_ipv4_raw([10, 20, 0, 2], [23, 52, 1, 1], seg.payload())
            .unwrap();
        assert_eq!(seg.checksum(), expected);
        assert_eq!(seg.payload(), b"hello");
    }

    #[test]
    fn udp_frame_over_ipv6() {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        let src = Endpoint {
            ip: Ip::V6(a),
            mac: [2; 6],
            port: 5353,
        };
        let dst = Endpoint {
            ip: Ip::V6([1; 16]),
            mac: [4; 6],
            port: 53,
        };
        let mut side = IpSide {
            ttl: 64,
            ip_id: 0,
            flow_label: 0x12345,
        };
        let mut frame = Vec::new();
        udp(&mut frame, &src, &dst, &mut side, &[0u8; 30]).unwrap();
        assert_eq!(frame.len(), 14 + 40 + 8 + 30);
        let packet = SlicedPacket::from_ethernet(&frame).unwrap();
        assert!(matches!(packet.net, Some(NetSlice::Ipv6(_))));
    }
}
