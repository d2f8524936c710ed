//! Community ID v1 (<https://github.com/corelight/community-id-spec>): a
//! flow hash that Zeek, Suricata and Arkime compute the same way, so records
//! from different tools can be joined on it.
//!
//! Hand-written rather than taken from the `community-id` crate: it is twenty
//! lines over `sha1`, and here it runs once per flow on the hot path, where
//! the crate's API would make us allocate and convert addresses first.

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;

/// The request/reply partner of an ICMP (protocol 1) or ICMPv6 (58) message
/// type — echo, timestamp, information, address mask, router discovery;
/// MLD, neighbour and router discovery, node information for v6 — or `None`
/// for a one-way type or another protocol. Community ID hashes such pairs
/// as one bidirectional flow, and the flow table keys them the same way.
pub fn icmp_counterpart(proto: u8, icmp_type: u8) -> Option<u8> {
    const V4: &[(u8, u8)] = &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)];
    const V6: &[(u8, u8)] = &[
        (128, 129),
        (133, 134),
        (135, 136),
        (130, 131),
        (139, 140),
        (144, 145),
    ];
    let pairs = match proto {
        ICMP => V4,
        ICMPV6 => V6,
        _ => return None,
    };
    pairs.iter().find_map(|&(a, b)| {
        if a == icmp_type {
            Some(b)
        } else if b == icmp_type {
            Some(a)
        } else {
            None
        }
    })
}

fn addr_bytes(ip: &IpAddr, buf: &mut [u8; 16]) -> usize {
    match ip {
        IpAddr::V4(v4) => {
            buf[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            buf.copy_from_slice(&v6.octets());
            16
        }
    }
}

/// The Community ID v1 of a flow, `1:` followed by base64 of the SHA-1.
///
/// For TCP, UDP and SCTP `sport`/`dport` are the ports; for ICMP and ICMPv6
/// they are the message type and code (as the spec and its baseline data
/// pass them); for other protocols they are ignored.
pub fn community_id_v1(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
) -> String {
    let digest = hash(seed, src, dst, proto, sport, dport);
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

fn hash(seed: u16, src: IpAddr, dst: IpAddr, proto: u8, sport: u16, dport: u16) -> [u8; 20] {
    // ICMP: the type is in `sport`; the "port" pair is (type, counterpart
    // type) when the type has a counterpart, else (type, code) and one-way.
    let icmp_partner = icmp_counterpart(proto, sport as u8);
    let one_way = matches!(proto, ICMP | ICMPV6) && icmp_partner.is_none();
    let (has_ports, mut sport, mut dport) = match (proto, icmp_partner) {
        (TCP | UDP | SCTP, _) => (true, sport, dport),
        (ICMP | ICMPV6, Some(c)) => (true, u16::from(sport as u8), u16::from(c)),
        (ICMP | ICMPV6, None) => (true, u16::from(sport as u8), dport),
        _ => (false, 0, 0),
    };

    let mut sa = [0u8; 16];
    let mut da = [0u8; 16];
    let sl = addr_bytes(&src, &mut sa);
    let dl = addr_bytes(&dst, &mut da);
    let (mut a, mut b) = (&sa[..sl], &da[..dl]);
    // Order the endpoints: smaller address first, ties broken by port. ICMP
    // with a counterpart compares (address, type) against (address, counterpart).
    let swap = if one_way {
        false
    } else {
        (a, sport) > (b, dport)
    };
    if swap {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut sport, &mut dport);
    }
    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    hasher.update(a);
    hasher.update(b);
    hasher.update([proto, 0]);
    if has_ports {
        hasher.update(sport.to_be_bytes());
        hasher.update(dport.to_be_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn spec_readme_examples() {
        assert_eq!(
            community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), 6, 1122, 3344),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            community_id_v1(0, ip("5.6.7.8"), ip("1.2.3.4"), 6, 3344, 1122),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), 17, 1122, 3344),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
        assert_eq!(
            community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), 132, 1122, 3344),
            "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="
        );
        assert_eq!(
            community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), 1, 8, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        assert_eq!(
            community_id_v1(0, ip("5.6.7.8"), ip("1.2.3.4"), 1, 0, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        assert_eq!(
            community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), 1, 11, 0),
            "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="
        );
        let a = ip("fe80:0001:0203:0405:0607:0809:0A0B:0C0D");
        let b = ip("fe80:1011:1213:1415:1617:1819:1A1B:1C1D");
        assert_eq!(
            community_id_v1(0, a, b, 58, 128, 0),
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="
        );
        assert_eq!(
            community_id_v1(0, b, a, 58, 129, 0),
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="
        );
        assert_eq!(
            community_id_v1(0, a, b, 58, 146, 0),
            "1:fYC8+pz24E+EhANP1EZhpX0Dw10="
        );
        assert_eq!(
            community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), 46, 0, 0),
            "1:ikv3kmf89luf73WPz1jOs49S768="
        );
        assert_eq!(
            community_id_v1(0, b, a, 46, 0, 0),
            "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="
        );
    }
}
