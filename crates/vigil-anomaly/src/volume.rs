//! Unusually large outbound transfers against the host's own baseline.
//!
//! Input: flow records. Each originator host has a baseline: an
//! exponentially weighted mean and variance (weight `alpha`) of the bytes
//! it sent per flow (`traffic.bytes_out`). Once the host has `warmup`
//! flows, a flow is anomalous when its bytes_out ≥ `min_bytes` and >
//! mean + `k`·σ. The baseline is then updated with the value capped at
//! that threshold, so one exfiltration does not teach the baseline that
//! exfiltration is normal.
//!
//! Alerting: one finding per host per `window_secs` of event time (the
//! first anomalous flow opens the window; later ones in it are counted and
//! reported with the next finding). The table is an LRU of `max_hosts`
//! (evictions counted); a host evicted starts a new warm-up.
//!
//! Severity: Low, Medium from 10× the threshold.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{Event, Severity};

use crate::features::{round3, FlowView};
use crate::report::{host, Detector, Verdict};
use crate::scan::service;
use crate::table::Lru;

/// Outbound-volume thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// EWMA weight of each new flow. Default 0.05 (about the last 20 flows).
    pub alpha: f64,
    /// Standard deviations above the mean. Default 4.
    pub k: f64,
    /// Flows a host needs before it can alert. Default 20.
    pub warmup: u64,
    /// Smallest transfer worth a finding, bytes. Default 1 000 000.
    pub min_bytes: u64,
    /// Event time between two findings for one host, seconds. Default 300.
    pub window_secs: u32,
    /// Hosts held. Default 100 000.
    pub max_hosts: usize,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            alpha: 0.05,
            k: 4.0,
            warmup: 20,
            min_bytes: 1_000_000,
            window_secs: 300,
            max_hosts: 100_000,
        }
    }
}

#[derive(Debug, Default)]
struct Baseline {
    flows: u64,
    mean: f64,
    var: f64,
    alert_at: Option<i64>,
    suppressed: u64,
}

/// The outbound-volume detector.
#[derive(Debug)]
pub(crate) struct VolumeDetector {
    cfg: VolumeConfig,
    hosts: Lru<IpAddr, Baseline>,
    flows: u64,
    findings: u64,
    suppressed: u64,
}

impl VolumeDetector {
    pub fn new(cfg: VolumeConfig) -> Self {
        Self {
            hosts: Lru::new(cfg.max_hosts),
            cfg,
            flows: 0,
            findings: 0,
            suppressed: 0,
        }
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        let vigil_event::Body::Flow(flow) = &event.body else {
            return;
        };
        if !self.cfg.enabled {
            return;
        }
        let v = FlowView::new(event, flow);
        self.flows += 1;
        let cfg = &self.cfg;
        let x = flow.traffic.bytes_out as f64;
        let b = self.hosts.get_or_insert_with(&v.src, Baseline::default);
        let mean = b.mean;
        let sd = b.var.max(0.0).sqrt();
        let threshold = b.mean + cfg.k * sd;
        let warm = b.flows >= cfg.warmup;
        let anomalous = warm && flow.traffic.bytes_out >= cfg.min_bytes && x > threshold;
        // Update: the first flow seeds the mean; later ones move it.
        let sample = if warm {
            x.min(threshold.max(cfg.min_bytes as f64))
        } else {
            x
        };
        if b.flows == 0 {
            b.mean = sample;
        } else {
            let d = sample - b.mean;
            b.mean += cfg.alpha * d;
            b.var = (1.0 - cfg.alpha) * (b.var + cfg.alpha * d * d);
        }
        b.flows += 1;
        if !anomalous {
            return;
        }
        let window = i64::from(cfg.window_secs) * 1_000_000_000;
        if b.alert_at
            .is_some_and(|t| v.end < t.saturating_add(window) && v.end >= t)
        {
            b.suppressed += 1;
            self.suppressed += 1;
            return;
        }
        b.alert_at = Some(v.end);
        let earlier = std::mem::take(&mut b.suppressed);
        let mut verdict = Verdict::new(
            Detector::LargeOutbound,
            "host",
            v.src.to_string(),
            v.start,
            v.start,
            v.end,
        );
        let ratio = if threshold > 0.0 { x / threshold } else { 0.0 };
        verdict.title = format!(
            "Large outbound transfer from {}: {} bytes to {}:{}",
            v.src, flow.traffic.bytes_out, v.dst, v.dport
        );
        verdict.desc = format!(
            "{} sent {} bytes to {}:{} in one flow; its baseline over {} flows is {} ± {} bytes, so the threshold was {} (mean + {}σ, and at least {} bytes)",
            v.src,
            flow.traffic.bytes_out,
            v.dst,
            v.dport,
            b.flows - 1,
            round3(mean),
            round3(sd),
            round3(threshold),
            cfg.k,
            cfg.min_bytes
        );
        verdict.src = Some(host(v.src));
        verdict.dst = Some(service(v.dst, v.dport));
        verdict.connection_info = Some(flow.connection_info.clone());
        verdict
            .ev("bytes_out", flow.traffic.bytes_out)
            .ev("payload_bytes_out", flow.traffic.payload_bytes_out)
            .ev("baseline_mean", round3(mean))
            .ev("baseline_stddev", round3(sd))
            .ev("baseline_flows", b.flows - 1)
            .ev("threshold_bytes", round3(threshold))
            .ev("ratio_to_threshold", round3(ratio))
            .ev("k", cfg.k)
            .ev("alpha", cfg.alpha)
            .ev("warmup", cfg.warmup)
            .ev("min_bytes", cfg.min_bytes)
            .ev("window_secs", cfg.window_secs)
            .ev("suppressed_since_last_finding", earlier);
        verdict.severity = if ratio >= 10.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        self.findings += 1;
        out.push(verdict.into_event());
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("large_outbound.flows", self.flows));
        out.push(("large_outbound.findings", self.findings));
        out.push(("large_outbound.suppressed", self.suppressed));
        out.push(("large_outbound.hosts", self.hosts.len() as u64));
        out.push(("large_outbound.evicted", self.hosts.evicted));
    }
}
