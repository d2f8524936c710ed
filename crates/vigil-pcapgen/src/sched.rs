//! The scheduler: a fixed number of session slots, each running one session after another
//! (DNS exchange or TCP connection, drawn from the traffic mix) with idle gaps, all
//! interleaved in time order through a binary heap keyed on each session's next packet.
//! Memory is the slots and the heap: bounded by [`Config::concurrency`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;

use crate::content::Pools;
use crate::dist::{self, between, chance, exp, ns, weighted, Rng};
use crate::hosts::{Endpoint, Hosts, Ip};
use crate::pcap::{PcapWriter, FILE_HEADER_LEN, RECORD_HEADER_LEN};
use crate::tcp::{App, Close, TcpParams, TcpSession, CLIENT, SERVER};
use crate::{Config, Error, Summary};

/// Kind of session (for the mix and the per-kind counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dns,
    Http,
    Tls,
    Ssh,
    Bulk,
    Refused,
}

/// Something to count once it has been written completely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tally {
    DnsQuery,
    DnsResponse { nxdomain: bool },
    HttpRequest,
    HttpResponse,
    HttpChunked,
    ClientHello,
    Tls12,
    Tls13,
    Certificate,
    SshBanner,
    Refused,
}

/// What a session step may touch.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    pub rng: &'a mut Rng,
    pub pools: &'a Pools,
    /// The frame being written (cleared by the packet builder).
    pub frame: &'a mut Vec<u8>,
    /// Scratch buffer for a segment's payload.
    pub payload: &'a mut Vec<u8>,
    pub summary: &'a mut Summary,
    pub start_unix: u64,
    pub cap: u64,
}

impl Cx<'_> {
    pub(crate) fn tally(&mut self, tally: Tally) {
        let s = &mut *self.summary;
        match tally {
            Tally::DnsQuery => s.dns_queries += 1,
            Tally::DnsResponse { nxdomain } => {
                s.dns_responses += 1;
                s.dns_nxdomain += u64::from(nxdomain);
            }
            Tally::HttpRequest => s.http_requests += 1,
            Tally::HttpResponse => s.http_responses += 1,
            Tally::HttpChunked => s.http_chunked += 1,
            Tally::ClientHello => s.tls_client_hellos += 1,
            Tally::Tls12 => s.tls12_sessions += 1,
            Tally::Tls13 => s.tls13_sessions += 1,
            Tally::Certificate => s.tls_certificates += 1,
            Tally::SshBanner => s.ssh_banners += 1,
            Tally::Refused => s.refused_connections += 1,
        }
    }

    /// Capture time `t` (ns since the capture start) as ns since the Unix epoch.
    pub(crate) fn unix_ns(&self, t: u64) -> u64 {
        self.start_unix * 1_000_000_000 + t
    }
}

#[derive(Debug)]
enum Session {
    Dns(crate::dns::DnsSession),
    Tcp(Box<TcpSession>),
}

impl Session {
    fn kind(&self) -> Kind {
        match self {
            Session::Dns(_) => Kind::Dns,
            Session::Tcp(tcp) => tcp.kind,
        }
    }
}

/// Session mix by count (per mille).
const MIX: [(Kind, u32); 6] = [
    (Kind::Dns, 620),
    (Kind::Tls, 320),
    (Kind::Http, 35),
    (Kind::Bulk, 4),
    (Kind::Ssh, 6),
    (Kind::Refused, 15),
];

/// Mean idle time of a slot between two sessions.
const MEAN_IDLE_SECS: f64 = 1.0;

/// Writes a capture as `config` says into `out`; returns what was written.
pub fn generate<W: Write>(config: &Config, out: W) -> Result<Summary, Error> {
    let mut rng = dist::rng(config.seed, 0);
    let pools = Pools::new(&mut rng);
    let mut hosts = Hosts::new(&mut rng);
    let mut writer = PcapWriter::new(out)?;
    let mut summary = Summary {
        file_bytes: FILE_HEADER_LEN,
        ..Summary::default()
    };
    let cap = (config.size / 64).max(256 << 10);
    let slots_n = config.concurrency.max(1);
    let mut slots: Vec<Option<Session>> = (0..slots_n).map(|_| None).collect();
    let mut heap = BinaryHeap::with_capacity(slots_n);
    for slot in 0..slots_n {
        heap.push(Reverse((ns(exp(&mut rng, MEAN_IDLE_SECS)), slot)));
    }
    let mut frame = Vec::with_capacity(2048);
    let mut payload = Vec::with_capacity(2048);
    let mut active = 0u64;
    let mut stopping = false;
    let mut last_t = 0u64;
    let mut first_t = None;

    while let Some(Reverse((t, slot))) = heap.pop() {
        let Some(entry) = slots.get_mut(slot) else {
            continue;
        };
        if entry.is_none() {
            if stopping {
                continue;
            }
            let kind = weighted(&mut rng, &MIX);
            *entry = Some(new_session(kind, &mut hosts, &mut rng, &mut summary, cap));
            active += 1;
            summary.max_concurrent = summary.max_concurrent.max(active);
        }
        let Some(session) = entry.as_mut() else {
            continue;
        };
        let kind = session.kind();
        let mut cx = Cx {
            rng: &mut rng,
            pools: &pools,
            frame: &mut frame,
            payload: &mut payload,
            summary: &mut summary,
            start_unix: config.start_unix,
            cap,
        };
        let next = match session {
            Session::Dns(dns) => dns.step(t, &mut cx),
            Session::Tcp(tcp) => tcp.step(t, &mut cx),
        }
        .map_err(|reason| Error::Build {
            packet: summary.packets + 1,
            reason,
        })?;
        writer.record(config.start_unix * 1_000_000_000 + t, &frame)?;
        summary.packets += 1;
        summary.wire_bytes += frame.len() as u64;
        summary.file_bytes += RECORD_HEADER_LEN + frame.len() as u64;
        *kind_count(&mut summary.bytes_by_kind, kind) += frame.len() as u64;
        first_t.get_or_insert(t);
        last_t = t;
        match next {
            Some(at) => heap.push(Reverse((at.max(t), slot))),
            None => {
                *entry = None;
                active -= 1;
                if !stopping {
                    heap.push(Reverse((t + ns(exp(&mut rng, MEAN_IDLE_SECS)), slot)));
                }
            }
        }
        if summary.file_bytes >= config.size {
            if !config.drain {
                break;
            }
            stopping = true;
        }
    }
    writer.finish()?;
    summary.duration_secs = (last_t - first_t.unwrap_or(0)) as f64 / 1e9;
    Ok(summary)
}

pub(crate) fn kind_count(counts: &mut crate::KindCounts, kind: Kind) -> &mut u64 {
    match kind {
        Kind::Dns => &mut counts.dns,
        Kind::Http => &mut counts.http,
        Kind::Tls => &mut counts.tls,
        Kind::Ssh => &mut counts.ssh,
        Kind::Bulk => &mut counts.bulk,
        Kind::Refused => &mut counts.refused,
    }
}

fn new_session(
    kind: Kind,
    hosts: &mut Hosts,
    rng: &mut Rng,
    summary: &mut Summary,
    cap: u64,
) -> Session {
    summary.flows += 1;
    *kind_count(&mut summary.flows_by_kind, kind) += 1;
    let gateway = hosts.gateway_mac;
    let client = hosts.client(rng);
    let os = client.os;
    let client_ttl = client.ttl();
    let v6 = client.v6.is_some() && chance(rng, 0.3);
    let cport = client.ephemeral_port(rng);
    let client_ip = match (v6, client.v6) {
        (true, Some(a)) => Ip::V6(a),
        _ => Ip::V4(client.v4),
    };
    let client_mac = client.mac;
    summary.ipv6_flows += u64::from(matches!(client_ip, Ip::V6(_)));
    let client_end = Endpoint {
        ip: client_ip,
        mac: client_mac,
        port: cport,
    };
    if kind == Kind::Dns {
        return Session::Dns(crate::dns::DnsSession::new(rng, client_end, os));
    }
    summary.tcp_connections += 1;
    let (app, name, port): (Box<dyn App>, String, u16) = match kind {
        Kind::Http => {
            let (app, name, port) = crate::http::HttpApp::new(rng);
            (Box::new(app), name, port)
        }
        Kind::Tls => {
            let (app, name) = crate::tls::TlsApp::new(rng);
            (
                Box::new(app),
                name,
                *dist::pick(rng, &[443u16, 443, 443, 443, 443, 443, 443, 443, 443, 8443]),
            )
        }
        Kind::Ssh => {
            let (app, name) = crate::ssh::SshApp::new(rng, cap);
            (Box::new(app), name, 22)
        }
        _ => {
            let (app, name, port) = crate::ssh::BulkApp::new(rng);
            (Box::new(app), name, port)
        }
    };
    if kind == Kind::Bulk {
        summary.bulk_connections += 1;
    }
    let server_ip = match client_ip {
        Ip::V4(_) => Ip::V4(crate::hosts::server_v4(&name, 0)),
        Ip::V6(_) => Ip::V6(crate::hosts::server_v6(&name, 0)),
    };
    let server = Endpoint {
        ip: server_ip,
        mac: gateway,
        port,
    };
    // Round trip to the server: a few ms (nearby CDN) to ~200 ms (another continent).
    let rtt = ns(dist::lognormal(rng, 18_000.0, 0.9, 1_500, 250_000) as f64 / 1e6);
    let near = between(rng, 150_000, 900_000);
    let close = Close {
        by: if chance(rng, 0.8) { CLIENT } else { SERVER },
        reset: chance(rng, 0.06),
        // Keep-alive: an idle connection stays open a while before it is closed.
        idle: ns(exp(rng, 4.0)),
    };
    Session::Tcp(Box::new(TcpSession::new(
        TcpParams {
            kind,
            client: client_end,
            server,
            os,
            client_ttl,
            rtt,
            near,
            app,
            close,
            refused: kind == Kind::Refused,
        },
        rng,
    )))
}
