//! DNS over UDP: a client asks the site's resolver one question, or A and AAAA together
//! from one socket as glibc and browsers do, and gets the answers: CNAME chains to CDNs,
//! several addresses, TXT, MX, SRV and PTR records, NODATA and NXDOMAIN with the zone's
//! SOA, EDNS0 echoed when the client sent it. Messages are built with `simple-dns`.

use std::collections::VecDeque;

use simple_dns::rdata::{RData, A, AAAA, CNAME, MX, OPT, PTR, SOA, SRV, TXT};
use simple_dns::{
    Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE,
};

use crate::dist::{between, chance, lognormal, ns, pick, weighted, Rng};
use crate::hosts::{self, Endpoint, Ip, Os, CORP_ZONE, RESOLVERS_V4, RESOLVER_MAC, RESOLVER_V6};
use crate::packet::{self, IpSide};
use crate::sched::{Cx, Tally};

/// Query types a client asks for (weights by count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    A,
    Aaaa,
    Pair,
    Https,
    Txt,
    Mx,
    Srv,
    Ptr,
    Cname,
}

const ASKS: [(Ask, u32); 9] = [
    (Ask::A, 300),
    (Ask::Pair, 330),
    (Ask::Aaaa, 100),
    (Ask::Https, 90),
    (Ask::Ptr, 60),
    (Ask::Srv, 40),
    (Ask::Txt, 40),
    (Ask::Mx, 20),
    (Ask::Cname, 20),
];

/// One scheduled datagram.
#[derive(Debug)]
struct Datagram {
    at: u64,
    from_client: bool,
    bytes: Vec<u8>,
    tally: Tally,
}

/// A DNS exchange in progress (all of its datagrams are small and made up front).
#[derive(Debug)]
pub(crate) struct DnsSession {
    client: Endpoint,
    resolver: Endpoint,
    ip: [IpSide; 2],
    pending: VecDeque<Datagram>,
    started: bool,
}

impl DnsSession {
    pub(crate) fn new(rng: &mut Rng, client: Endpoint, os: Os) -> Self {
        let resolver_ip = match client.ip {
            Ip::V4(_) => Ip::V4(*pick(rng, &RESOLVERS_V4)),
            Ip::V6(_) => Ip::V6(RESOLVER_V6),
        };
        let resolver = Endpoint {
            ip: resolver_ip,
            mac: RESOLVER_MAC,
            port: 53,
        };
        let ip = [
            IpSide {
                ttl: if os == Os::Windows { 128 } else { 64 },
                ip_id: between(rng, 0, 65535) as u16,
                flow_label: between(rng, 1, 0xf_ffff) as u32,
            },
            IpSide {
                ttl: 64,
                ip_id: between(rng, 0, 65535) as u16,
                flow_label: between(rng, 1, 0xf_ffff) as u32,
            },
        ];
        let edns = match os {
            Os::Windows => None,
            Os::Linux => Some(1232),
            Os::Mac => Some(4096),
        };
        let ask = weighted(rng, &ASKS);
        let nx = chance(rng, 0.07) && !matches!(ask, Ask::Ptr | Ask::Srv);
        let name = if nx {
            hosts::nx_name(rng)
        } else {
            question_name(rng, ask)
        };
        let questions: Vec<TYPE> = match ask {
            Ask::A => vec![TYPE::A],
            Ask::Aaaa => vec![TYPE::AAAA],
            Ask::Pair => vec![TYPE::A, TYPE::AAAA],
            Ask::Https => vec![TYPE::HTTPS],
            Ask::Txt => vec![TYPE::TXT],
            Ask::Mx => vec![TYPE::MX],
            Ask::Srv => vec![TYPE::SRV],
            Ask::Ptr => vec![TYPE::PTR],
            Ask::Cname => vec![TYPE::CNAME],
        };
        // Cache hit (sub-millisecond) or a recursive lookup (tens of ms).
        let latency = if chance(rng, 0.65) {
            between(rng, 150_000, 1_500_000)
        } else {
            ns(lognormal(rng, 25_000.0, 0.8, 2_000, 400_000) as f64 / 1e6)
        };
        let mut pending = Vec::new();
        let mut at = 0u64;
        for (i, qtype) in questions.iter().enumerate() {
            let id = between(rng, 0, 65535) as u16;
            let query = build_query(id, &name, *qtype, edns);
            pending.push(Datagram {
                at,
                from_client: true,
                bytes: query,
                tally: Tally::DnsQuery,
            });
            let (response, nxdomain) = build_response(rng, id, &name, *qtype, edns, nx);
            let answer_at = at + latency + between(rng, 0, 200_000) * i as u64;
            pending.push(Datagram {
                at: answer_at,
                from_client: false,
                bytes: response,
                tally: Tally::DnsResponse { nxdomain },
            });
            at += between(rng, 20_000, 120_000);
        }
        pending.sort_by_key(|d| d.at);
        Self {
            client,
            resolver,
            ip,
            pending: pending.into(),
            started: false,
        }
    }

    /// Writes the datagram due at `now`; returns when the next is due.
    pub(crate) fn step(&mut self, now: u64, cx: &mut Cx<'_>) -> Result<Option<u64>, String> {
        // Datagram times are offsets from the first one, which is due now.
        if !self.started {
            self.started = true;
            for d in &mut self.pending {
                d.at += now;
            }
        }
        let Some(d) = self.pending.pop_front() else {
            return Ok(None);
        };
        let (src, dst, side) = if d.from_client {
            (&self.client, &self.resolver, &mut self.ip[0])
        } else {
            (&self.resolver, &self.client, &mut self.ip[1])
        };
        packet::udp(cx.frame, src, dst, side, &d.bytes)?;
        cx.tally(d.tally);
        Ok(self.pending.front().map(|next| next.at.max(now)))
    }
}

fn question_name(rng: &mut Rng, ask: Ask) -> String {
    match ask {
        Ask::Ptr => {
            if chance(rng, 0.7) {
                format!(
                    "{}.{}.20.10.in-addr.arpa",
                    between(rng, 2, 251),
                    between(rng, 0, 15)
                )
            } else {
                let a = hosts::server_v4(&hosts::hostname(rng), 0);
                format!("{}.{}.{}.{}.in-addr.arpa", a[3], a[2], a[1], a[0])
            }
        }
        Ask::Srv => pick(
            rng,
            &[
                format!("_ldap._tcp.dc._msdcs.{CORP_ZONE}"),
                format!("_kerberos._tcp.{CORP_ZONE}"),
                format!("_ldap._tcp.default-first-site-name._sites.dc._msdcs.{CORP_ZONE}"),
                "_xmpp-client._tcp.example.com".to_string(),
            ],
        )
        .clone(),
        Ask::Mx | Ask::Txt => {
            let name = hosts::hostname(rng);
            match name.split_once('.') {
                Some((_, domain)) if domain.contains('.') => domain.to_string(),
                _ => name,
            }
        }
        _ => hosts::hostname(rng),
    }
}

fn build_query(id: u16, name: &str, qtype: TYPE, edns: Option<u16>) -> Vec<u8> {
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    if let Some(size) = edns {
        *packet.opt_mut() = Some(OPT {
            opt_codes: Vec::new(),
            udp_packet_size: size,
            version: 0,
        });
    }
    packet.build_bytes_vec().unwrap_or_default()
}

/// The zone a name belongs to (its last two labels, three under in-addr.arpa).
fn zone_of(name: &str) -> String {
    let labels: Vec<&str> = name.split('.').collect();
    let keep = if name.ends_with(".in-addr.arpa") {
        4
    } else if name.ends_with(CORP_ZONE) {
        3
    } else {
        2
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

fn build_response(
    rng: &mut Rng,
    id: u16,
    name: &str,
    qtype: TYPE,
    edns: Option<u16>,
    nx: bool,
) -> (Vec<u8>, bool) {
    // Owned strings the records borrow from, declared before the packet that borrows them.
    let zone = zone_of(name);
    let mname = format!("ns1.{zone}");
    let rname = format!("hostmaster.{zone}");
    let texts: Vec<String>;
    let targets: Vec<String>;
    let mut packet = Packet::new_reply(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED | PacketFlag::RECURSION_AVAILABLE);
    packet.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    if let Some(size) = edns {
        *packet.opt_mut() = Some(OPT {
            opt_codes: Vec::new(),
            udp_packet_size: size,
            version: 0,
        });
    }
    let soa = |ttl: u32| {
        ResourceRecord::new(
            Name::new_unchecked(&zone),
            CLASS::IN,
            ttl,
            RData::SOA(SOA {
                mname: Name::new_unchecked(&mname),
                rname: Name::new_unchecked(&rname),
                serial: 2_026_112_201,
                refresh: 7200,
                retry: 3600,
                expire: 1_209_600,
                minimum: 300,
            }),
        )
    };
    if nx {
        *packet.rcode_mut() = RCODE::NameError;
        packet.name_servers.push(soa(between(rng, 60, 900) as u32));
        return (
            packet.build_bytes_vec_compressed().unwrap_or_default(),
            true,
        );
    }
    let ttl =
        *pick(rng, &[20u32, 60, 60, 300, 300, 300, 1800, 3600, 86400]) - between(rng, 0, 19) as u32;
    // CNAME chain to a CDN for part of the address lookups.
    let cdn = chance(rng, 0.4) && matches!(qtype, TYPE::A | TYPE::AAAA | TYPE::HTTPS | TYPE::CNAME);
    let first = name.split('.').next().unwrap_or("www").to_string();
    let chain: Vec<String> = if cdn || qtype == TYPE::CNAME {
        let mut chain = vec![format!("{first}.{}.edgekey.net", zone.replace('.', "-"))];
        if chance(rng, 0.6) {
            chain.push(format!(
                "e{}.dscb.akamaiedge.net",
                between(rng, 1000, 99999)
            ));
        }
        chain
    } else {
        Vec::new()
    };
    let mut owner = name;
    for target in &chain {
        packet.answers.push(ResourceRecord::new(
            Name::new_unchecked(owner),
            CLASS::IN,
            ttl,
            RData::CNAME(CNAME(Name::new_unchecked(target))),
        ));
        owner = target;
        if qtype == TYPE::CNAME {
            break;
        }
    }
    let final_name = owner.to_string();
    match qtype {
        TYPE::A => {
            for i in 0..between(rng, 1, 4) {
                let a = hosts::server_v4(&final_name, i);
                packet.answers.push(ResourceRecord::new(
                    Name::new_unchecked(owner),
                    CLASS::IN,
                    ttl.min(300),
                    RData::A(A {
                        address: u32::from_be_bytes(a),
                    }),
                ));
            }
        }
        TYPE::AAAA => {
            if chance(rng, 0.15) {
                packet.name_servers.push(soa(300));
            } else {
                for i in 0..between(rng, 1, 3) {
                    let a = hosts::server_v6(&final_name, i);
                    packet.answers.push(ResourceRecord::new(
                        Name::new_unchecked(owner),
                        CLASS::IN,
                        ttl.min(300),
                        RData::AAAA(AAAA {
                            address: u128::from_be_bytes(a),
                        }),
                    ));
                }
            }
        }
        TYPE::TXT => {
            texts = vec![
                format!("v=spf1 include:_spf.{zone} include:spf.protection.outlook.com -all"),
                format!("google-site-verification={}", token(rng, 43)),
                format!("MS=ms{}", between(rng, 10_000_000, 99_999_999)),
            ];
            for text in texts.iter().take(between(rng, 1, 3) as usize) {
                let txt = TXT::new().with_string(text).unwrap_or_default();
                packet.answers.push(ResourceRecord::new(
                    Name::new_unchecked(name),
                    CLASS::IN,
                    3600,
                    RData::TXT(txt),
                ));
            }
        }
        TYPE::MX => {
            targets = vec![format!("mx1.{zone}"), format!("mx2.{zone}")];
            for (i, target) in targets.iter().enumerate() {
                packet.answers.push(ResourceRecord::new(
                    Name::new_unchecked(name),
                    CLASS::IN,
                    3600,
                    RData::MX(MX {
                        preference: 10 * (i as u16 + 1),
                        exchange: Name::new_unchecked(target),
                    }),
                ));
            }
        }
        TYPE::SRV => {
            targets = (1..=between(rng, 1, 3))
                .map(|i| format!("dc{i}.{CORP_ZONE}"))
                .collect();
            for target in &targets {
                let port = if name.starts_with("_kerberos") {
                    88
                } else if name.starts_with("_xmpp") {
                    5222
                } else {
                    389
                };
                packet.answers.push(ResourceRecord::new(
                    Name::new_unchecked(name),
                    CLASS::IN,
                    600,
                    RData::SRV(SRV {
                        priority: 0,
                        weight: 100,
                        port,
                        target: Name::new_unchecked(target),
                    }),
                ));
            }
            for (i, target) in targets.iter().enumerate() {
                packet.additional_records.push(ResourceRecord::new(
                    Name::new_unchecked(target),
                    CLASS::IN,
                    3600,
                    RData::A(A {
                        address: u32::from_be_bytes([10, 0, 2, 10 + i as u8]),
                    }),
                ));
            }
        }
        TYPE::PTR => {
            targets = vec![if name.ends_with(".20.10.in-addr.arpa") {
                format!("ws{:04}.{CORP_ZONE}", between(rng, 1, 3999))
            } else {
                format!(
                    "server-{}.{}.r.cdn.example.net",
                    between(rng, 1, 250),
                    between(rng, 1, 99)
                )
            }];
            packet.answers.push(ResourceRecord::new(
                Name::new_unchecked(name),
                CLASS::IN,
                3600,
                RData::PTR(PTR(Name::new_unchecked(&targets[0]))),
            ));
        }
        _ => {
            // HTTPS (and a direct CNAME query that ended the chain): NODATA past the chain.
            if packet.answers.is_empty() || qtype == TYPE::HTTPS {
                packet.name_servers.push(soa(300));
            }
        }
    }
    (
        packet.build_bytes_vec_compressed().unwrap_or_default(),
        false,
    )
}

/// A token of letters and digits (as in site-verification TXT records).
fn token(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len).map(|_| char::from(*pick(rng, ALPHABET))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_and_match_their_queries() {
        let mut rng = crate::dist::rng(9, 9);
        for qtype in [
            TYPE::A,
            TYPE::AAAA,
            TYPE::TXT,
            TYPE::MX,
            TYPE::SRV,
            TYPE::PTR,
            TYPE::CNAME,
            TYPE::HTTPS,
        ] {
            for nx in [false, true] {
                let name = if qtype == TYPE::PTR {
                    "7.3.20.10.in-addr.arpa".to_string()
                } else {
                    "www.example.com".to_string()
                };
                let query = build_query(77, &name, qtype, Some(1232));
                let (response, nxdomain) =
                    build_response(&mut rng, 77, &name, qtype, Some(1232), nx);
                let q = Packet::parse(&query).unwrap();
                let r = Packet::parse(&response).unwrap();
                assert_eq!(q.id(), r.id());
                assert_eq!(r.questions[0].qname.to_string(), name);
                assert_eq!(nxdomain, nx);
                assert_eq!(r.rcode() == RCODE::NameError, nx);
                if !nx
                    && matches!(
                        qtype,
                        TYPE::A | TYPE::TXT | TYPE::MX | TYPE::SRV | TYPE::PTR
                    )
                {
                    assert!(!r.answers.is_empty(), "{qtype:?}");
                }
            }
        }
    }
}
