//! Beaconing: one source connecting to one service (destination, port,
//! protocol) at regular intervals with similar sizes, as an implant calls
//! home.
//!
//! Input: flow records (TCP and UDP), except to `ignore_ports` (DNS, NTP
//! and mDNS are periodic by design). Per channel the start times and
//! originator byte counts of the last `max_samples` connections are kept,
//! in time order. On each connection, once at least `min_connections` are
//! held, the verdict is: mean interval in [`min_interval_secs`,
//! `max_interval_secs`], coefficient of variation (σ/μ) of the intervals
//! ≤ `max_interval_cv`, and of the sizes ≤ `max_size_cv`.
//!
//! Alerting: a finding when a channel first qualifies, then at most one per
//! `realert_secs` of event time while it keeps qualifying, each with the
//! connection total so far. Channels idle for `idle_secs` are dropped; the
//! table is an LRU of `max_channels` (evictions counted).
//!
//! Severity: Medium.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{ConnectionInfo, Event, Severity};

use crate::features::{mean_cv, round3, FlowView};
use crate::report::{host, Detector, Verdict};
use crate::scan::service;
use crate::table::Lru;

/// Beaconing thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// Connections needed before a verdict. Default 10 (a beacon every
    /// 2 s for a minute gives 30).
    pub min_connections: usize,
    /// Connections kept per channel (the verdict's sample). Default 64.
    pub max_samples: usize,
    /// Shortest mean interval, seconds: faster is a loop, not a beacon.
    /// Default 1.
    pub min_interval_secs: f64,
    /// Longest mean interval, seconds. Default 86 400.
    pub max_interval_secs: f64,
    /// Largest coefficient of variation of the intervals. Default 0.2
    /// (±35% uniform jitter).
    pub max_interval_cv: f64,
    /// Largest coefficient of variation of the originator bytes. Default 0.3.
    pub max_size_cv: f64,
    /// Responder ports never considered. Default 53, 123, 5353.
    pub ignore_ports: Vec<u16>,
    /// Event time between two findings on one channel, seconds. Default 3600.
    pub realert_secs: u32,
    /// Channels with no connection for this long are dropped, seconds.
    /// Default 86 400.
    pub idle_secs: u32,
    /// Channels held. Default 100 000.
    pub max_channels: usize,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_connections: 10,
            max_samples: 64,
            min_interval_secs: 1.0,
            max_interval_secs: 86_400.0,
            max_interval_cv: 0.2,
            max_size_cv: 0.3,
            ignore_ports: vec![53, 123, 5353],
            realert_secs: 3600,
            idle_secs: 86_400,
            max_channels: 100_000,
        }
    }
}

#[derive(Debug, Default)]
struct Channel {
    /// (start ns, bytes_out), sorted by start.
    samples: VecDeque<(i64, u64)>,
    total: u64,
    last_seen: i64,
    last_alert: Option<i64>,
    last_flow: Option<ConnectionInfo>,
}

type Key = (IpAddr, IpAddr, u16, u8);

/// The beaconing detector.
#[derive(Debug)]
pub(crate) struct BeaconDetector {
    cfg: BeaconConfig,
    channels: Lru<Key, Channel>,
    flows: u64,
    findings: u64,
    expired: u64,
}

impl BeaconDetector {
    pub fn new(cfg: BeaconConfig) -> Self {
        Self {
            channels: Lru::new(cfg.max_channels),
            cfg,
            flows: 0,
            findings: 0,
            expired: 0,
        }
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        let vigil_event::Body::Flow(flow) = &event.body else {
            return;
        };
        let v = FlowView::new(event, flow);
        let cfg = &self.cfg;
        if !cfg.enabled || !v.tcp_or_udp() || cfg.ignore_ports.contains(&v.dport) {
            return;
        }
        self.flows += 1;
        let key = (v.src, v.dst, v.dport, v.proto);
        let ch = self.channels.get_or_insert_with(&key, Channel::default);
        let at = ch.samples.partition_point(|(t, _)| *t <= v.start);
        ch.samples.insert(at, (v.start, flow.traffic.bytes_out));
        while ch.samples.len() > cfg.max_samples.max(2) {
            ch.samples.pop_front();
        }
        ch.total += 1;
        ch.last_seen = ch.last_seen.max(v.start);
        ch.last_flow = Some(flow.connection_info.clone());
        if ch.samples.len() < cfg.min_connections.max(3) {
            return;
        }
        let intervals: Vec<f64> = ch
            .samples
            .iter()
            .zip(ch.samples.iter().skip(1))
            .map(|(a, b)| (b.0 - a.0) as f64 / 1e9)
            .collect();
        let sizes: Vec<f64> = ch.samples.iter().map(|(_, b)| *b as f64).collect();
        let Some((mean_iv, iv_cv)) = mean_cv(&intervals) else {
            return;
        };
        let (mean_size, size_cv) = mean_cv(&sizes).unwrap_or((0.0, 0.0));
        let regular = mean_iv >= cfg.min_interval_secs
            && mean_iv <= cfg.max_interval_secs
            && iv_cv <= cfg.max_interval_cv
            && size_cv <= cfg.max_size_cv;
        if !regular {
            return;
        }
        let realert = i64::from(cfg.realert_secs) * 1_000_000_000;
        if ch.last_alert.is_some_and(|t| v.start - t < realert) {
            return;
        }
        ch.last_alert = Some(v.start);
        let (first, last) = match (ch.samples.front(), ch.samples.back()) {
            (Some(f), Some(l)) => (f.0, l.0),
            _ => (v.start, v.start),
        };
        let (src, dst, port, proto) = key;
        let mut verdict = Verdict::new(
            Detector::Beaconing,
            "host",
            src.to_string(),
            first,
            first,
            last,
        );
        let pname = if proto == 6 { "tcp" } else { "udp" };
        verdict.title = format!(
            "Beaconing from {src} to {dst}:{port}/{pname} every {} s",
            round3(mean_iv)
        );
        verdict.desc = format!(
            "{src} connected to {dst}:{port}/{pname} {} times at a mean interval of {} s (CV {}), sending {} bytes on average (CV {}); thresholds: at least {} connections, interval CV at most {}, size CV at most {}, mean interval between {} and {} s",
            ch.samples.len(),
            round3(mean_iv),
            round3(iv_cv),
            round3(mean_size),
            round3(size_cv),
            cfg.min_connections,
            cfg.max_interval_cv,
            cfg.max_size_cv,
            cfg.min_interval_secs,
            cfg.max_interval_secs
        );
        verdict.src = Some(host(src));
        verdict.dst = Some(service(dst, port));
        verdict.connection_info = ch.last_flow.clone();
        verdict
            .ev("connections", ch.samples.len() as u64)
            .ev("connections_total", ch.total)
            .ev("mean_interval_secs", round3(mean_iv))
            .ev("interval_cv", round3(iv_cv))
            .ev("mean_bytes_out", round3(mean_size))
            .ev("size_cv", round3(size_cv))
            .ev("protocol", pname)
            .ev("min_connections", cfg.min_connections as u64)
            .ev("max_interval_cv", cfg.max_interval_cv)
            .ev("max_size_cv", cfg.max_size_cv)
            .ev("min_interval_secs", cfg.min_interval_secs)
            .ev("max_interval_secs", cfg.max_interval_secs);
        verdict.severity = Severity::Medium;
        self.findings += 1;
        out.push(verdict.into_event());
    }

    pub fn advance(&mut self, now: i64) {
        let idle = i64::from(self.cfg.idle_secs) * 1_000_000_000;
        self.expired += self
            .channels
            .expire(|c| c.last_seen.saturating_add(idle) <= now);
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("beaconing.flows", self.flows));
        out.push(("beaconing.findings", self.findings));
        out.push(("beaconing.channels", self.channels.len() as u64));
        out.push(("beaconing.evicted", self.channels.evicted));
        out.push(("beaconing.expired", self.expired));
    }
}
