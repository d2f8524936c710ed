//! Port scans: vertical (one source → one destination, many distinct
//! ports) and horizontal (one source → many destinations, one port), both
//! over connection attempts that mostly exchanged no payload.
//!
//! Input: flow records (TCP and UDP). A flow is a *probe* when it carried
//! no payload either way (TCP: refused, unanswered, or opened and closed
//! empty as a connect scan does; UDP: no answer). Per window (tumbling, in
//! event time, per key), the verdict is given when the window closes:
//!
//! - vertical, key (src, dst): distinct destination ports ≥
//!   `vertical_min_ports` and probes / flows ≥ `min_probe_ratio`;
//! - horizontal, key (src, port, protocol): distinct destinations ≥
//!   `horizontal_min_hosts` and probes / flows ≥ `min_probe_ratio`.
//!
//! Severity: Medium, High from 10× the threshold.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{ConnectionInfo, Endpoint, Event, Severity};

use crate::features::{round3, FlowView};
use crate::report::{host, secs, Detector, Verdict};
use crate::table::{CappedSet, Close, Sample, Slot, Windows};

/// Port-scan thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// Window length, seconds of event time. Default 60.
    pub window_secs: u32,
    /// Vertical: distinct ports on one destination. Default 25 (an nmap
    /// scan of 100 ports gives 100; a browser gives one or two).
    pub vertical_min_ports: usize,
    /// Horizontal: distinct destinations on one port. Default 20.
    pub horizontal_min_hosts: usize,
    /// Share of the key's flows that must be probes. Default 0.8.
    pub min_probe_ratio: f64,
    /// Keys (pairs, or source/port) held per table. Default 50 000.
    pub max_keys: usize,
    /// Distinct ports or hosts remembered per key; past it the count is a
    /// lower bound (evidence `saturated`). Default 4096.
    pub max_distinct: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            vertical_min_ports: 25,
            horizontal_min_hosts: 20,
            min_probe_ratio: 0.8,
            max_keys: 50_000,
            max_distinct: 4096,
        }
    }
}

#[derive(Debug, Default)]
struct ScanState {
    distinct: CappedSet<u32>,
    flows: u64,
    probes: u64,
    /// TCP attempts whose handshake never completed.
    failed: u64,
    /// TCP attempts refused with a RST (conn_state REJ).
    refused: u64,
    sample: Sample<String>,
    first_flow: Option<ConnectionInfo>,
    dst_port: Option<u16>,
}

impl ScanState {
    fn add(&mut self, v: &FlowView<'_>, distinct: u32, label: String, cap: usize) {
        self.distinct.insert(distinct, cap);
        self.flows += 1;
        self.probes += u64::from(v.probe);
        self.failed += u64::from(v.half_open);
        self.refused += u64::from(v.flow.conn_state.as_deref() == Some("REJ"));
        self.sample.offer(label, 10);
        if self.first_flow.is_none() {
            self.first_flow = Some(v.flow.connection_info.clone());
        }
    }
}

/// Key of a horizontal scan: source, port, protocol.
type HKey = (IpAddr, u16, u8);

/// Both scan detectors.
#[derive(Debug)]
pub(crate) struct ScanDetector {
    cfg: ScanConfig,
    vertical: Windows<(IpAddr, IpAddr), ScanState>,
    horizontal: Windows<HKey, ScanState>,
    flows: u64,
    findings_v: u64,
    findings_h: u64,
}

impl ScanDetector {
    pub fn new(cfg: ScanConfig, grace_ns: i64) -> Self {
        let len = i64::from(cfg.window_secs) * 1_000_000_000;
        Self {
            vertical: Windows::new(cfg.max_keys, len, grace_ns),
            horizontal: Windows::new(cfg.max_keys, len, grace_ns),
            cfg,
            flows: 0,
            findings_v: 0,
            findings_h: 0,
        }
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        let vigil_event::Body::Flow(flow) = &event.body else {
            return;
        };
        let v = FlowView::new(event, flow);
        if !self.cfg.enabled || !v.tcp_or_udp() {
            return;
        }
        self.flows += 1;
        let cap = self.cfg.max_distinct;
        let cfg = &self.cfg;
        let (fv, fh) = (&mut self.findings_v, &mut self.findings_h);
        let mut close_v = |k: &(IpAddr, IpAddr), s: Slot<ScanState>, c: Close| {
            close_vertical(cfg, k, s, c, fv, out)
        };
        let slot = self.vertical.record(&(v.src, v.dst), v.start, &mut close_v);
        slot.state.add(
            &v,
            u32::from(v.dport) | (u32::from(v.proto) << 16),
            format!("{}/{}", v.dport, proto_name(v.proto)),
            cap,
        );
        let mut close_h =
            |k: &HKey, s: Slot<ScanState>, c: Close| close_horizontal(cfg, k, s, c, fh, out);
        let slot = self
            .horizontal
            .record(&(v.src, v.dport, v.proto), v.start, &mut close_h);
        slot.state.add(&v, ip_hash(v.dst), v.dst.to_string(), cap);
        slot.state.dst_port = Some(v.dport);
    }

    pub fn advance(&mut self, now: i64, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let (fv, fh) = (&mut self.findings_v, &mut self.findings_h);
        self.vertical
            .advance(now, &mut |k, s, c| close_vertical(cfg, k, s, c, fv, out));
        self.horizontal
            .advance(now, &mut |k, s, c| close_horizontal(cfg, k, s, c, fh, out));
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let (fv, fh) = (&mut self.findings_v, &mut self.findings_h);
        self.vertical
            .finish(&mut |k, s, c| close_vertical(cfg, k, s, c, fv, out));
        self.horizontal
            .finish(&mut |k, s, c| close_horizontal(cfg, k, s, c, fh, out));
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("scan.flows", self.flows));
        out.push(("scan.vertical.findings", self.findings_v));
        out.push(("scan.vertical.windows", self.vertical.opened));
        out.push(("scan.vertical.evicted", self.vertical.evicted));
        out.push(("scan.vertical.keys", self.vertical.len() as u64));
        out.push(("scan.horizontal.findings", self.findings_h));
        out.push(("scan.horizontal.windows", self.horizontal.opened));
        out.push(("scan.horizontal.evicted", self.horizontal.evicted));
        out.push(("scan.horizontal.keys", self.horizontal.len() as u64));
    }
}

fn proto_name(p: u8) -> &'static str {
    if p == 6 {
        "tcp"
    } else {
        "udp"
    }
}

/// A stable 32-bit digest of an address for the distinct-destination set.
fn ip_hash(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let mut h: u32 = 0x811c_9dc5;
            for b in o {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
            h
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn common_evidence(v: &mut Verdict, cfg: &ScanConfig, s: &Slot<ScanState>, close: Close) {
    let st = &s.state;
    v.ev("flows", st.flows)
        .ev("probes", st.probes)
        .ev("probe_ratio", round3(ratio(st.probes, st.flows)))
        .ev("handshake_failed", st.failed)
        .ev("refused", st.refused)
        .ev("min_probe_ratio", cfg.min_probe_ratio)
        .ev("window_secs", cfg.window_secs)
        .ev("saturated", st.distinct.saturated());
    v.window_evidence(s, close);
    v.connection_info = st.first_flow.clone();
}

fn close_vertical(
    cfg: &ScanConfig,
    key: &(IpAddr, IpAddr),
    s: Slot<ScanState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    let ports = st.distinct.len();
    let r = ratio(st.probes, st.flows);
    if ports < cfg.vertical_min_ports || r < cfg.min_probe_ratio {
        return None;
    }
    let (src, dst) = *key;
    let mut v = Verdict::for_window(Detector::PortScanVertical, "host", src.to_string(), &s);
    v.title = format!("Port scan of {dst} from {src}: {ports} ports");
    v.desc = format!(
        "{src} tried {ports} distinct ports on {dst} in {} s ({} flows, {} without payload, {} refused); thresholds: at least {} ports, probe ratio at least {}",
        secs(s.last - s.first),
        st.flows,
        st.probes,
        st.refused,
        cfg.vertical_min_ports,
        cfg.min_probe_ratio
    );
    v.src = Some(host(src));
    v.dst = Some(host(dst));
    v.ev("distinct_ports", ports as u64)
        .ev("min_ports", cfg.vertical_min_ports as u64)
        .ev(
            "ports_sample",
            st.sample.0.iter().cloned().collect::<Vec<String>>(),
        );
    common_evidence(&mut v, cfg, &s, close);
    v.severity = if ports >= cfg.vertical_min_ports.saturating_mul(10) {
        Severity::High
    } else {
        Severity::Medium
    };
    *findings += 1;
    out.push(v.into_event());
    Some(ports as u64)
}

fn close_horizontal(
    cfg: &ScanConfig,
    key: &HKey,
    s: Slot<ScanState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    let hosts = st.distinct.len();
    let r = ratio(st.probes, st.flows);
    if hosts < cfg.horizontal_min_hosts || r < cfg.min_probe_ratio {
        return None;
    }
    let (src, port, proto) = *key;
    let mut v = Verdict::for_window(Detector::PortScanHorizontal, "host", src.to_string(), &s);
    let pname = proto_name(proto);
    v.title = format!("Sweep of port {port}/{pname} from {src}: {hosts} hosts");
    v.desc = format!(
        "{src} tried port {port}/{pname} on {hosts} distinct hosts in {} s ({} flows, {} without payload, {} refused); thresholds: at least {} hosts, probe ratio at least {}",
        secs(s.last - s.first),
        st.flows,
        st.probes,
        st.refused,
        cfg.horizontal_min_hosts,
        cfg.min_probe_ratio
    );
    v.src = Some(host(src));
    v.dst = None;
    v.ev("distinct_hosts", hosts as u64)
        .ev("min_hosts", cfg.horizontal_min_hosts as u64)
        .ev("port", port)
        .ev("protocol", pname)
        .ev(
            "hosts_sample",
            st.sample.0.iter().cloned().collect::<Vec<String>>(),
        );
    common_evidence(&mut v, cfg, &s, close);
    v.severity = if hosts >= cfg.horizontal_min_hosts.saturating_mul(10) {
        Severity::High
    } else {
        Severity::Medium
    };
    *findings += 1;
    out.push(v.into_event());
    Some(hosts as u64)
}

/// The endpoint of a service.
pub(crate) fn service(ip: IpAddr, port: u16) -> Endpoint {
    Endpoint::new(ip, port)
}
