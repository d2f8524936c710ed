//! Turning a verdict into a Detection Finding event: one place that fills
//! `finding_info` (deterministic uid, title, description, types, analytic),
//! the subject, endpoints, evidence, first/last seen and severity.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::table::{Close, Slot};
use vigil_event::{
    Analytic, Body, ConnectionInfo, Endpoint, Event, Finding, FindingInfo, Severity, Subject,
    Timestamp,
};

/// The detectors, by their stable names (`analytic.uid` is `anomaly:<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Detector {
    /// One source, one destination, many ports.
    PortScanVertical,
    /// One source, many destinations, one port.
    PortScanHorizontal,
    /// Many half-open connections to one service.
    SynFlood,
    /// Many short connections or login attempts to one service.
    BruteForce,
    /// Regular connections from one source to one service.
    Beaconing,
    /// Many long or random subdomains of one parent (or TXT/NULL-heavy).
    DnsTunnel,
    /// A burst of NXDOMAIN answers for random-looking names.
    DnsDga,
    /// Outbound bytes far above the host's own baseline.
    LargeOutbound,
    /// First contact with a destination few hosts talk to.
    RareDestination,
}

impl Detector {
    /// Every detector, in a fixed order.
    pub const ALL: [Detector; 9] = [
        Detector::PortScanVertical,
        Detector::PortScanHorizontal,
        Detector::SynFlood,
        Detector::BruteForce,
        Detector::Beaconing,
        Detector::DnsTunnel,
        Detector::DnsDga,
        Detector::LargeOutbound,
        Detector::RareDestination,
    ];

    /// The stable name: `types[1]` of the finding and the analytic uid's suffix.
    pub const fn name(self) -> &'static str {
        match self {
            Detector::PortScanVertical => "port_scan_vertical",
            Detector::PortScanHorizontal => "port_scan_horizontal",
            Detector::SynFlood => "syn_flood",
            Detector::BruteForce => "brute_force",
            Detector::Beaconing => "beaconing",
            Detector::DnsTunnel => "dns_tunnel",
            Detector::DnsDga => "dns_dga",
            Detector::LargeOutbound => "large_outbound",
            Detector::RareDestination => "rare_destination",
        }
    }

    /// The analytic's human name.
    pub const fn human(self) -> &'static str {
        match self {
            Detector::PortScanVertical => "Vertical port scan",
            Detector::PortScanHorizontal => "Horizontal port scan",
            Detector::SynFlood => "SYN flood / half-open surge",
            Detector::BruteForce => "Brute force on a service",
            Detector::Beaconing => "Beaconing",
            Detector::DnsTunnel => "DNS tunnelling",
            Detector::DnsDga => "DGA-like NXDOMAIN burst",
            Detector::LargeOutbound => "Unusually large outbound transfer",
            Detector::RareDestination => "First contact with a rare destination",
        }
    }

    /// OCSF analytic type: 2 Behavioral (counts of what a host did) or
    /// 3 Statistical (a statistic against a baseline or a distribution).
    pub const fn analytic_type(self) -> (u8, &'static str) {
        match self {
            Detector::Beaconing
            | Detector::DnsTunnel
            | Detector::DnsDga
            | Detector::LargeOutbound => (3, "Statistical"),
            _ => (2, "Behavioral"),
        }
    }

    /// The anomaly family (ATT&CK tactic the behaviour usually serves).
    pub const fn category(self) -> &'static str {
        match self {
            Detector::PortScanVertical | Detector::PortScanHorizontal => "reconnaissance",
            Detector::SynFlood => "impact",
            Detector::BruteForce => "credential_access",
            Detector::Beaconing | Detector::DnsDga => "command_and_control",
            Detector::DnsTunnel | Detector::LargeOutbound => "exfiltration",
            Detector::RareDestination => "discovery",
        }
    }
}

/// Everything a detector decides; [`Verdict::into_event`] makes the finding.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub detector: Detector,
    /// Subject kind ("host", "service", "flow").
    pub subject_kind: &'static str,
    /// Subject value (an IP, "ip:port", a flow uid).
    pub subject: String,
    pub src: Option<Endpoint>,
    pub dst: Option<Endpoint>,
    pub connection_info: Option<ConnectionInfo>,
    pub title: String,
    pub desc: String,
    pub evidence: BTreeMap<String, Value>,
    /// First and last record time (ns) the verdict covers.
    pub first: i64,
    pub last: i64,
    /// The window (or the triggering record) the verdict belongs to, ns:
    /// makes the uid unique per (detector, subject, window).
    pub window_start: i64,
    pub severity: Severity,
    pub log_name: Option<String>,
}

impl Verdict {
    /// A verdict with the common fields; the caller adds evidence.
    pub fn new(
        detector: Detector,
        subject_kind: &'static str,
        subject: String,
        window_start: i64,
        first: i64,
        last: i64,
    ) -> Self {
        Self {
            detector,
            subject_kind,
            subject,
            src: None,
            dst: None,
            connection_info: None,
            title: String::new(),
            desc: String::new(),
            evidence: BTreeMap::new(),
            first,
            last,
            window_start,
            severity: Severity::Medium,
            log_name: None,
        }
    }

    /// A verdict about `subject` for the closed window `s`: it covers the
    /// window's records and its uid is unique per window.
    pub(crate) fn for_window<S>(
        detector: Detector,
        subject_kind: &'static str,
        subject: String,
        s: &Slot<S>,
    ) -> Self {
        Self::new(detector, subject_kind, subject, s.start, s.first, s.last)
    }

    /// The evidence every windowed detector reports about the window
    /// itself: whether it closed early because its table was full, and how
    /// many windows in a row (and what total before this one) alerted.
    pub(crate) fn window_evidence<S>(&mut self, s: &Slot<S>, close: Close) -> &mut Self {
        self.ev("closed_by_eviction", close == Close::Evicted)
            .ev("windows_in_a_row", s.streak + 1)
            .ev("earlier_windows_total", s.earlier_total)
    }

    /// Add one evidence value.
    pub fn ev(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.evidence.insert(name.to_owned(), value.into());
        self
    }

    /// The Detection Finding event, stamped with the last record time.
    pub fn into_event(self) -> Event {
        let d = self.detector;
        let (type_id, type_name) = d.analytic_type();
        let uid = format!(
            "anomaly:{}:{}:{}",
            d.name(),
            self.subject,
            self.window_start
        );
        let correlation = self.connection_info.as_ref().map(|c| c.uid.clone());
        let finding = Finding {
            finding_info: FindingInfo {
                uid,
                title: self.title,
                desc: Some(self.desc),
                types: vec!["anomaly".to_owned(), d.name().to_owned()],
                analytic: Analytic {
                    uid: format!("anomaly:{}", d.name()),
                    name: d.human().to_owned(),
                    type_id,
                    type_name: type_name.to_owned(),
                    category: Some(d.category().to_owned()),
                },
                first_seen_time: Some(Timestamp::from_nanos(self.first).millis()),
                last_seen_time: Some(Timestamp::from_nanos(self.last).millis()),
            },
            subject: Subject {
                kind: self.subject_kind.to_owned(),
                value: self.subject,
            },
            src_endpoint: self.src,
            dst_endpoint: self.dst,
            connection_info: self.connection_info,
            rule: None,
            evidence: self.evidence,
            risk_score: None,
            risk_level: None,
            remediation: None,
            incident_pcap: None,
        };
        let mut event = Event::new(Timestamp::from_nanos(self.last), Body::Finding(finding))
            .with_severity(self.severity);
        event.priority = vigil_event::Priority::Normal;
        event.metadata.log_name = self.log_name;
        event.metadata.correlation_uid = correlation;
        event
    }
}

/// An endpoint with an address and no port.
pub(crate) fn host(ip: IpAddr) -> Endpoint {
    Endpoint {
        ip,
        port: None,
        hostname: None,
    }
}

/// Seconds, from nanoseconds, rounded to milliseconds (for descriptions).
pub(crate) fn secs(ns: i64) -> f64 {
    (ns as f64 / 1e6).round() / 1e3
}
