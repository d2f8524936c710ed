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

/// ICMPv4 type → its reply type, for the "bidirectional" ICMP pairs of the spec.
fn icmp4_counterpart(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// ICMPv6 type → its reply type (echo, MLD, neighbour and router discovery, ...).
fn icmp6_counterpart(t: u8) -> Option<u8> {
    Some(match t {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => return None,
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
    let (has_ports, mut sport, mut dport) = match proto {
        TCP | UDP | SCTP => (true, sport, dport),
        ICMP | ICMPV6 => {
            // Type in sport; the "port" pair is (type, counterpart type) when
            // the type has a counterpart, else (type, code) and one-way.
            let ty = sport as u8;
            let counterpart = if proto == ICMP {
                icmp4_counterpart(ty)
            } else {
                icmp6_counterpart(ty)
            };
            match counterpart {
                Some(c) => (true, u16::from(ty), u16::from(c)),
                None => (true, u16::from(ty), dport),
            }
        }
        _ => (false, 0, 0),
    };
    let one_way = matches!(proto, ICMP | ICMPV6)
        && (if proto == ICMP {
            icmp4_counterpart(sport as u8)
        } else {
            icmp6_counterpart(sport as u8)
        })
        .is_none();

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
