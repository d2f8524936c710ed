//! Flow and host anomaly detectors over Vigil events, in event time.
//!
//! [`AnomalyEngine`] consumes the events the capture pipeline writes (flow,
//! DNS, HTTP, TLS and SSH records) and emits Detection Findings (OCSF 2004)
//! when behaviour crosses a detector's thresholds:
//!
//! | detector (`analytic.uid` = `anomaly:<name>`) | module | subject |
//! |---|---|---|
//! | `port_scan_vertical`, `port_scan_horizontal` | [`scan`] | the scanning host |
//! | `syn_flood` | [`synflood`] | the flooded service (`ip:port`) |
//! | `brute_force` | [`bruteforce`] | the attacking host |
//! | `beaconing` | [`beacon`] | the beaconing host |
//! | `dns_tunnel`, `dns_dga` | [`dns`] | the querying host |
//! | `large_outbound` | [`volume`] | the sending host |
//! | `rare_destination` | [`rare`] | the host making first contact |
//!
//! Every finding explains itself: `finding_info.desc` states the numbers,
//! and `evidence` holds each feature value next to the threshold it was
//! compared with, so a reader can check the verdict.
//!
//! # Event time
//!
//! Nothing reads the wall clock. Windows are tumbling per key: a key's
//! window opens at its first record's time and lasts the detector's
//! `window_secs`. Flow records arrive when the flow ends but are stamped
//! with its start; a record earlier than its key's open window is folded
//! into it. A window closes when a record of the same key falls past its
//! end, when event time (the latest record time seen, or a
//! [`AnomalyEngine::tick`]) is [`AnomalyConfig::grace_secs`] past its end,
//! when its table is full and it is the oldest (counted as evicted), or at
//! [`AnomalyEngine::finish`]. The same input gives the same findings, in
//! the same order, every run.
//!
//! # Alert policy
//!
//! One finding per (detector, subject key) per window, given when the
//! window closes, with the counts of the whole window. If the behaviour
//! goes on, each following window that crosses the thresholds gives one
//! more finding, carrying `windows_in_a_row` and `earlier_windows_total`
//! (the count over the earlier alerted windows in the streak). The
//! per-record detectors follow the same rule with their own window:
//! beaconing re-alerts a channel at most once per `realert_secs`,
//! large-outbound a host at most once per `window_secs` (counting the
//! suppressed flows). `finding_info.uid` is `anomaly:<detector>:<subject>:
//! <window start ns>`: deterministic and unique per window.
//!
//! # Bounded state
//!
//! Every table has a limit (`max_keys`, `max_channels`, `max_hosts`, ...);
//! when full, the oldest window is closed early (its verdict still given)
//! or the least recently used entry is dropped, and either is counted in
//! [`AnomalyEngine::counters`]. Distinct-value sets are capped per key and
//! say when they saturated.
//!
//! ```
//! use vigil_anomaly::{AnomalyConfig, AnomalyEngine};
//! use vigil_event::{Body, ConnectionInfo, Endpoint, Event, FlowRecord, Timestamp, Traffic};
//!
//! let mut engine = AnomalyEngine::new(AnomalyConfig::default());
//! let mut findings = Vec::new();
//! for port in 1..=100u16 {
//!     // A refused SYN to each of 100 ports, 10 ms apart.
//!     let start = 1_700_000_000_000 + i64::from(port) * 10;
//!     let flow = FlowRecord {
//!         src_endpoint: Endpoint::new("10.0.0.1".parse().unwrap(), 40000 + port),
//!         dst_endpoint: Endpoint::new("10.0.0.2".parse().unwrap(), port),
//!         connection_info: ConnectionInfo::tcp(format!("F{port}"), "1:x"),
//!         traffic: Traffic { packets_out: 1, packets_in: 1, packets: 2, ..Traffic::default() },
//!         start_time: start,
//!         end_time: start,
//!         duration: 0,
//!         duration_us: 100,
//!         app_name: None,
//!         conn_state: Some("REJ".into()),
//!         history: Some("Sr".into()),
//!         end_reason: "closed".into(),
//!         reassembly: None,
//!         icmp: None,
//!     };
//!     let event = Event::new(Timestamp::from_nanos(start * 1_000_000), Body::Flow(flow));
//!     engine.observe(&event, &mut findings);
//! }
//! engine.finish(&mut findings);
//! assert_eq!(findings.len(), 1);
//! let Body::Finding(f) = &findings[0].body else { unreachable!() };
//! assert_eq!(f.finding_info.analytic.uid, "anomaly:port_scan_vertical");
//! assert_eq!(f.evidence["distinct_ports"], 100);
//! ```
#![deny(missing_docs)]

pub mod beacon;
pub mod bruteforce;
pub mod dns;
mod features;
pub mod rare;
mod report;
pub mod scan;
pub mod synflood;
mod table;
pub mod volume;

use serde::{Deserialize, Serialize};
use vigil_event::{Body, Event, Timestamp};

pub use beacon::BeaconConfig;
pub use bruteforce::BruteForceConfig;
pub use dns::DnsConfig;
pub use rare::RareConfig;
pub use report::Detector;
pub use scan::ScanConfig;
pub use synflood::SynFloodConfig;
pub use volume::VolumeConfig;

/// Every detector's configuration.
///
/// Deserializable (a partial document overrides only the keys it names, an
/// unknown key is an error); in `vigil analyze --detection-config` it is the
/// `[anomaly]` table, with one sub-table per detector named as the fields
/// are, except `scan`, which is `port_scan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// How long past its end a window waits for late records before event
    /// time closes it, seconds. Default 60: longer than the flow table's
    /// TCP handshake timeout (30 s), after which an unanswered SYN's flow
    /// record is written.
    pub grace_secs: u32,
    /// Port scans (`port_scan` when serialized).
    #[serde(rename = "port_scan")]
    pub scan: ScanConfig,
    /// SYN floods.
    pub syn_flood: SynFloodConfig,
    /// Brute force.
    pub brute_force: BruteForceConfig,
    /// Beaconing.
    pub beacon: BeaconConfig,
    /// DNS tunnelling and DGA.
    pub dns: DnsConfig,
    /// Large outbound transfers.
    pub volume: VolumeConfig,
    /// Rare destinations.
    pub rare: RareConfig,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            grace_secs: 60,
            scan: ScanConfig::default(),
            syn_flood: SynFloodConfig::default(),
            brute_force: BruteForceConfig::default(),
            beacon: BeaconConfig::default(),
            dns: DnsConfig::default(),
            volume: VolumeConfig::default(),
            rare: RareConfig::default(),
        }
    }
}

/// All detectors over one event stream.
#[derive(Debug)]
pub struct AnomalyEngine {
    scan: scan::ScanDetector,
    syn_flood: synflood::SynFloodDetector,
    brute_force: bruteforce::BruteForceDetector,
    beacon: beacon::BeaconDetector,
    dns: dns::DnsDetector,
    volume: volume::VolumeDetector,
    rare: rare::RareDetector,
    /// Latest event time seen (ns).
    watermark: i64,
    log_name: Option<String>,
    events: u64,
    findings: u64,
}

impl AnomalyEngine {
    /// An engine with empty state.
    pub fn new(config: AnomalyConfig) -> Self {
        let grace = i64::from(config.grace_secs) * 1_000_000_000;
        Self {
            scan: scan::ScanDetector::new(config.scan, grace),
            syn_flood: synflood::SynFloodDetector::new(config.syn_flood, grace),
            brute_force: bruteforce::BruteForceDetector::new(config.brute_force, grace),
            beacon: beacon::BeaconDetector::new(config.beacon),
            dns: dns::DnsDetector::new(config.dns, grace),
            volume: volume::VolumeDetector::new(config.volume),
            rare: rare::RareDetector::new(config.rare, grace),
            watermark: i64::MIN,
            log_name: None,
            events: 0,
            findings: 0,
        }
    }

    /// Feed one event; findings it completes are pushed to `out`. Findings
    /// and stats records are ignored (the engine never reads its own output).
    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        let end = match &event.body {
            Body::Flow(f) => event
                .time_ns
                .nanos()
                .saturating_add(f.duration_us.max(0).saturating_mul(1_000)),
            Body::Dns(_) | Body::Http(_) | Body::Tls(_) | Body::Ssh(_) => event.time_ns.nanos(),
            Body::Stats(_) | Body::Finding(_) => return,
        };
        self.events += 1;
        if let Some(name) = &event.metadata.log_name {
            if self.log_name.as_deref() != Some(name) {
                self.log_name = Some(name.clone());
            }
        }
        let before = out.len();
        self.scan.observe(event, out);
        self.syn_flood.observe(event, out);
        self.brute_force.observe(event, out);
        self.beacon.observe(event, out);
        self.dns.observe(event, out);
        self.volume.observe(event, out);
        self.rare.observe(event, out);
        self.watermark = self.watermark.max(end);
        self.advance(out);
        self.stamp(before, out);
    }

    /// Event time is now `now` (e.g. the latest packet's time while no
    /// record arrives): close the windows it ends.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if now.nanos() <= self.watermark {
            return;
        }
        self.watermark = now.nanos();
        let before = out.len();
        self.advance(out);
        self.stamp(before, out);
    }

    /// End of input: close every window and give its verdict.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let before = out.len();
        self.scan.finish(out);
        self.syn_flood.finish(out);
        self.brute_force.finish(out);
        self.dns.finish(out);
        self.rare.finish(out);
        self.stamp(before, out);
    }

    /// Counters, for the stats record's `anomaly` group: events read,
    /// findings per detector, windows opened, keys held, evictions.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut out = vec![("events", self.events), ("findings", self.findings)];
        self.scan.counters(&mut out);
        self.syn_flood.counters(&mut out);
        self.brute_force.counters(&mut out);
        self.beacon.counters(&mut out);
        self.dns.counters(&mut out);
        self.volume.counters(&mut out);
        self.rare.counters(&mut out);
        out
    }

    fn advance(&mut self, out: &mut Vec<Event>) {
        let now = self.watermark;
        self.scan.advance(now, out);
        self.syn_flood.advance(now, out);
        self.brute_force.advance(now, out);
        self.beacon.advance(now);
        self.dns.advance(now, out);
        self.rare.advance(now, out);
    }

    /// Name the source on the findings pushed since `before`, and count them.
    fn stamp(&mut self, before: usize, out: &mut [Event]) {
        for event in out.iter_mut().skip(before) {
            if event.metadata.log_name.is_none() {
                event.metadata.log_name.clone_from(&self.log_name);
            }
            self.findings += 1;
        }
    }
}
