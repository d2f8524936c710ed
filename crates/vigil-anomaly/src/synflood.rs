//! SYN floods and half-open surges: many TCP connection attempts to one
//! service (destination address and port) whose handshake never completed.
//!
//! Input: TCP flow records. A flow is half-open when the originator sent a
//! SYN and never completed the handshake (S0, REJ, RSTOS0, SH, or a SYN
//! answered by SYN-ACK and then reset, as hping3's kernel does). Each
//! half-open flow counts its originator packets (SYN retransmissions, or
//! a flood from one fixed source port that stays one flow). Per service
//! and window the verdict is given at close: half-open SYN packets ≥
//! `min_half_open`. The distinct sources and the top source are evidence
//! (a spoofed flood has many, a single attacker one). A scan touches each
//! port once or twice, so it does not reach this per-service count.
//!
//! Severity: High.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{ConnectionInfo, Event, Severity};

use crate::features::{round3, FlowView};
use crate::report::{host, secs, Detector, Verdict};
use crate::scan::service;
use crate::table::{CappedSet, Close, Slot, Windows};

/// SYN-flood thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynFloodConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// Window length, seconds of event time. Default 60.
    pub window_secs: u32,
    /// Half-open SYN packets to one service in a window. Default 200
    /// (an hping3 burst of 1000 SYNs gives 1000; a 100-port scan gives
    /// one or two per port).
    pub min_half_open: u64,
    /// Services held. Default 50 000.
    pub max_keys: usize,
    /// Distinct sources remembered per service (with a packet count each).
    /// Default 4096.
    pub max_sources: usize,
}

impl Default for SynFloodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            min_half_open: 200,
            max_keys: 50_000,
            max_sources: 4096,
        }
    }
}

#[derive(Debug, Default)]
struct FloodState {
    half_open_flows: u64,
    half_open_packets: u64,
    completed: u64,
    sources: CappedSet<IpAddr>,
    per_source: HashMap<IpAddr, u64>,
    first_flow: Option<ConnectionInfo>,
}

/// The SYN-flood detector.
#[derive(Debug)]
pub(crate) struct SynFloodDetector {
    cfg: SynFloodConfig,
    table: Windows<(IpAddr, u16), FloodState>,
    flows: u64,
    findings: u64,
}

impl SynFloodDetector {
    pub fn new(cfg: SynFloodConfig, grace_ns: i64) -> Self {
        let len = i64::from(cfg.window_secs) * 1_000_000_000;
        Self {
            table: Windows::new(cfg.max_keys, len, grace_ns),
            cfg,
            flows: 0,
            findings: 0,
        }
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        let vigil_event::Body::Flow(flow) = &event.body else {
            return;
        };
        let v = FlowView::new(event, flow);
        if !self.cfg.enabled || v.proto != 6 {
            return;
        }
        self.flows += 1;
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        let slot = self
            .table
            .record(&(v.dst, v.dport), v.start, &mut |k, s, c| {
                close(cfg, k, s, c, findings, out)
            });
        let st = &mut slot.state;
        if v.half_open {
            let n = flow.traffic.packets_out.max(1);
            st.half_open_flows += 1;
            st.half_open_packets += n;
            if st.sources.insert(v.src, cfg.max_sources) || st.per_source.contains_key(&v.src) {
                *st.per_source.entry(v.src).or_default() += n;
            }
            if st.first_flow.is_none() {
                st.first_flow = Some(flow.connection_info.clone());
            }
        } else {
            st.completed += 1;
        }
    }

    pub fn advance(&mut self, now: i64, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        self.table
            .advance(now, &mut |k, s, c| close(cfg, k, s, c, findings, out));
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        self.table
            .finish(&mut |k, s, c| close(cfg, k, s, c, findings, out));
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("syn_flood.flows", self.flows));
        out.push(("syn_flood.findings", self.findings));
        out.push(("syn_flood.windows", self.table.opened));
        out.push(("syn_flood.evicted", self.table.evicted));
        out.push(("syn_flood.keys", self.table.len() as u64));
    }
}

fn close(
    cfg: &SynFloodConfig,
    key: &(IpAddr, u16),
    s: Slot<FloodState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    if st.half_open_packets < cfg.min_half_open {
        return None;
    }
    let (dst, port) = *key;
    // The top source; ties go to the lower address, for determinism.
    let top = st
        .per_source
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(ip, n)| (*ip, *n));
    let mut v = Verdict::for_window(Detector::SynFlood, "service", format!("{dst}:{port}"), &s);
    let span = s.last - s.first;
    let rate = if span > 0 {
        st.half_open_packets as f64 / (span as f64 / 1e9)
    } else {
        st.half_open_packets as f64
    };
    v.title = format!(
        "SYN flood on {dst}:{port}: {} half-open attempts",
        st.half_open_packets
    );
    v.desc = format!(
        "{} SYNs in {} half-open connections to {dst}:{port} from {} distinct sources in {} s ({} completed connections); threshold: at least {} half-open SYNs in {} s",
        st.half_open_packets,
        st.half_open_flows,
        st.sources.len(),
        secs(span),
        st.completed,
        cfg.min_half_open,
        cfg.window_secs
    );
    v.dst = Some(service(dst, port));
    if let Some((ip, _)) = top {
        v.src = Some(host(ip));
    }
    v.connection_info = st.first_flow.clone();
    v.ev("half_open_packets", st.half_open_packets)
        .ev("half_open_flows", st.half_open_flows)
        .ev("completed_flows", st.completed)
        .ev("distinct_sources", st.sources.len() as u64)
        .ev("sources_saturated", st.sources.saturated())
        .ev("top_source", top.map(|(ip, _)| ip.to_string()))
        .ev("top_source_packets", top.map(|(_, n)| n).unwrap_or(0))
        .ev("rate_per_sec", round3(rate))
        .ev("min_half_open", cfg.min_half_open)
        .ev("window_secs", cfg.window_secs);
    v.window_evidence(&s, close);
    v.severity = Severity::High;
    *findings += 1;
    out.push(v.into_event());
    Some(st.half_open_packets)
}
