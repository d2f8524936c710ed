//! First contact with a rare destination: after a learning period, a host
//! talks to a destination (an IP address, or a domain by its registrable
//! parent) it has not talked to before and that at most a few other hosts
//! talk to.
//!
//! Input: answered flows (destination address, when `track_ips`), DNS
//! queries answered NoError (parent of the query name), HTTP requests (the
//! host name) and TLS handshakes (SNI). The detector learns for
//! `learning_secs` of event time from its first record, reporting nothing.
//! Then a contact is rare when the (host, destination) pair is new and at
//! most `max_other_hosts` other hosts have contacted the destination.
//!
//! Alerting: rare contacts are collected per host in a window of
//! `window_secs`; at its close one finding lists how many and a sample.
//! Memory: destinations and (host, destination) pairs are LRU maps with
//! limits (evictions counted); a forgotten pair can be reported again.
//!
//! Severity: Low (a first contact is context, not an attack by itself).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{Body, ConnectionInfo, Event, Severity};

use crate::features::{FlowView, NameFeatures};
use crate::report::{host, secs, Detector, Verdict};
use crate::table::{Close, Lru, Sample, Slot, Windows};

/// Rare-destination thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RareConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// Event time learned before anything is reported, seconds. Default
    /// 3600: a capture shorter than an hour reports nothing.
    pub learning_secs: u32,
    /// A destination is rare while at most this many other hosts contacted
    /// it. Default 1.
    pub max_other_hosts: usize,
    /// Count flow destination addresses as destinations. Default true.
    pub track_ips: bool,
    /// Window collecting one host's rare contacts, seconds. Default 600.
    pub window_secs: u32,
    /// Destinations held. Default 100 000.
    pub max_destinations: usize,
    /// (host, destination) pairs held. Default 200 000.
    pub max_pairs: usize,
    /// Hosts with an open window. Default 50 000.
    pub max_keys: usize,
}

impl Default for RareConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            learning_secs: 3600,
            max_other_hosts: 1,
            track_ips: true,
            window_secs: 600,
            max_destinations: 100_000,
            max_pairs: 200_000,
            max_keys: 50_000,
        }
    }
}

/// A destination: an address or a registrable domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Dest {
    Ip(IpAddr),
    Domain(String),
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Ip(ip) => write!(f, "{ip}"),
            Dest::Domain(d) => f.write_str(d),
        }
    }
}

#[derive(Debug, Default)]
struct DestInfo {
    /// Hosts seen contacting it, up to `max_other_hosts + 2`.
    hosts: Vec<IpAddr>,
}

#[derive(Debug, Default)]
struct RareState {
    contacts: u64,
    sample: Sample<String>,
    first_ip: Option<IpAddr>,
    first_flow: Option<ConnectionInfo>,
}

/// The rare-destination detector.
#[derive(Debug)]
pub(crate) struct RareDetector {
    cfg: RareConfig,
    start: Option<i64>,
    dests: Lru<Dest, DestInfo>,
    pairs: Lru<(IpAddr, Dest), ()>,
    windows: Windows<IpAddr, RareState>,
    contacts: u64,
    findings: u64,
}

impl RareDetector {
    pub fn new(cfg: RareConfig, grace_ns: i64) -> Self {
        let len = i64::from(cfg.window_secs) * 1_000_000_000;
        Self {
            dests: Lru::new(cfg.max_destinations),
            pairs: Lru::new(cfg.max_pairs),
            windows: Windows::new(cfg.max_keys, len, grace_ns),
            cfg,
            start: None,
            contacts: 0,
            findings: 0,
        }
    }

    fn domain(name: &str) -> Option<Dest> {
        if name.is_empty() || name.parse::<IpAddr>().is_ok() {
            return None;
        }
        let parent = NameFeatures::of(name).parent;
        (!parent.is_empty()).then_some(Dest::Domain(parent))
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        if !self.cfg.enabled {
            return;
        }
        let t = event.time_ns.nanos();
        let contact = match &event.body {
            Body::Flow(flow) => {
                let v = FlowView::new(event, flow);
                (self.cfg.track_ips && v.tcp_or_udp() && v.answered).then_some((
                    v.src,
                    Dest::Ip(v.dst),
                    &flow.connection_info,
                ))
            }
            Body::Dns(d) if d.rcode_id == Some(0) && !d.answers.is_empty() => {
                Self::domain(&d.query.hostname).map(|x| (d.src_endpoint.ip, x, &d.connection_info))
            }
            Body::Http(h) => h
                .http_request
                .url
                .hostname
                .as_deref()
                .and_then(Self::domain)
                .map(|x| (h.src_endpoint.ip, x, &h.connection_info)),
            Body::Tls(tls) => tls
                .tls
                .sni
                .as_deref()
                .and_then(Self::domain)
                .map(|x| (tls.src_endpoint.ip, x, &tls.connection_info)),
            _ => None,
        };
        let Some((src, dest, conn)) = contact else {
            return;
        };
        self.contacts += 1;
        let start = *self.start.get_or_insert(t);
        self.start = Some(start.min(t));
        let pair = (src, dest.clone());
        let known = self.pairs.contains(&pair);
        self.pairs.get_or_insert_with(&pair, || ());
        let cap = self.cfg.max_other_hosts.saturating_add(2);
        let info = self.dests.get_or_insert_with(&dest, DestInfo::default);
        if !info.hosts.contains(&src) && info.hosts.len() < cap {
            info.hosts.push(src);
        }
        let others = info.hosts.iter().filter(|h| **h != src).count();
        let learning = t < start.saturating_add(i64::from(self.cfg.learning_secs) * 1_000_000_000);
        if learning || known || others > self.cfg.max_other_hosts {
            return;
        }
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        let slot = self
            .windows
            .record(&src, t, &mut |k, s, c| close(cfg, k, s, c, findings, out));
        let st = &mut slot.state;
        st.contacts += 1;
        st.sample.offer(dest.to_string(), 10);
        if st.first_flow.is_none() {
            st.first_flow = Some(conn.clone());
            if let Dest::Ip(ip) = dest {
                st.first_ip = Some(ip);
            }
        }
    }

    pub fn advance(&mut self, now: i64, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        self.windows
            .advance(now, &mut |k, s, c| close(cfg, k, s, c, findings, out));
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        self.windows
            .finish(&mut |k, s, c| close(cfg, k, s, c, findings, out));
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("rare_destination.contacts", self.contacts));
        out.push(("rare_destination.findings", self.findings));
        out.push(("rare_destination.destinations", self.dests.len() as u64));
        out.push(("rare_destination.destinations_evicted", self.dests.evicted));
        out.push(("rare_destination.pairs", self.pairs.len() as u64));
        out.push(("rare_destination.pairs_evicted", self.pairs.evicted));
        out.push(("rare_destination.windows_evicted", self.windows.evicted));
    }
}

fn close(
    cfg: &RareConfig,
    src: &IpAddr,
    s: Slot<RareState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    if st.contacts == 0 {
        return None;
    }
    let sample: Vec<String> = st.sample.0.iter().cloned().collect();
    let mut v = Verdict::for_window(Detector::RareDestination, "host", src.to_string(), &s);
    v.title = format!(
        "First contact from {src} with {} rare destinations",
        st.contacts
    );
    v.desc = format!(
        "after learning for {} s, {src} contacted {} destinations it had not contacted before and at most {} other hosts contact, in {} s: {}",
        cfg.learning_secs,
        st.contacts,
        cfg.max_other_hosts,
        secs(s.last - s.first),
        sample.join(", ")
    );
    v.src = Some(host(*src));
    v.dst = st.first_ip.map(host);
    v.connection_info = st.first_flow.clone();
    v.ev("rare_contacts", st.contacts)
        .ev("destinations_sample", sample)
        .ev("max_other_hosts", cfg.max_other_hosts as u64)
        .ev("learning_secs", cfg.learning_secs)
        .ev("window_secs", cfg.window_secs)
        .ev("closed_by_eviction", close == Close::Evicted)
        .ev("windows_in_a_row", s.streak + 1);
    v.severity = Severity::Low;
    *findings += 1;
    out.push(v.into_event());
    Some(st.contacts)
}
