//! The [`Event`] envelope: common OCSF fields around one typed [`Body`].

use serde::{Deserialize, Serialize};

use crate::enrichment::Enrichment;
use crate::finding::Finding;
use crate::network::{ConnectionInfo, Endpoint, FlowRecord, TlsActivity};
use crate::observable::Observable;
use crate::protocol::{DnsActivity, HttpActivity, SshActivity};
use crate::stats::StatsRecord;
use crate::time::Timestamp;

/// The product name written into every event's metadata.
pub const PRODUCT_NAME: &str = "Vigil";

/// OCSF severity (`severity_id` and its caption `severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// 0: not known.
    Unknown,
    /// 1: informational, the default for protocol records.
    #[default]
    Informational,
    /// 2
    Low,
    /// 3
    Medium,
    /// 4
    High,
    /// 5
    Critical,
    /// 6
    Fatal,
}

impl Severity {
    /// The OCSF `severity_id`.
    pub const fn id(self) -> u8 {
        match self {
            Severity::Unknown => 0,
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
            Severity::Fatal => 6,
        }
    }

    /// The OCSF caption for the id.
    pub const fn caption(self) -> &'static str {
        match self {
            Severity::Unknown => "Unknown",
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
            Severity::Fatal => "Fatal",
        }
    }

    /// The severity for an OCSF `severity_id`; unknown ids map to `Unknown`.
    pub const fn from_id(id: u8) -> Self {
        match id {
            1 => Severity::Informational,
            2 => Severity::Low,
            3 => Severity::Medium,
            4 => Severity::High,
            5 => Severity::Critical,
            6 => Severity::Fatal,
            _ => Severity::Unknown,
        }
    }
}

/// Transport priority: which events an agent sends first when a link is slow.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Bulk telemetry (flows, protocol records, stats).
    #[default]
    Bulk,
    /// Ordinary findings.
    Normal,
    /// Findings that must reach a manager first.
    Urgent,
}

/// OCSF `metadata`: who produced the event and how to find its siblings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// OCSF `metadata.product.name`: always "Vigil" for events Vigil makes.
    pub product: Product,
    /// OCSF schema version the JSON follows.
    pub version: String,
    /// OCSF `metadata.log_name`: the source, e.g. a capture file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    /// OCSF `metadata.correlation_uid`: the flow id every record of one flow shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_uid: Option<String>,
    /// OCSF `metadata.uid`: this event's own id, unique within a run, so a
    /// correlation meta-event can name the events that made it. Assigned
    /// where events enter the rule engine when the source did not set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// OCSF `product` object (name and version only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product name.
    pub name: String,
    /// Product version.
    pub version: String,
}

impl Default for Metadata {
    fn default() -> Self {
        Self {
            product: Product {
                name: PRODUCT_NAME.to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            version: "1.3.0".to_owned(),
            log_name: None,
            correlation_uid: None,
            uid: None,
        }
    }
}

/// The record kinds Vigil writes; `--out DIR` writes one file per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// A finished (or evicted, or still open at end of input) flow.
    Flow,
    /// A DNS query/response pair.
    Dns,
    /// One HTTP/1.x transaction.
    Http,
    /// One TLS handshake.
    Tls,
    /// One SSH version exchange.
    Ssh,
    /// End-of-run counters.
    Stats,
    /// A detection finding (alert, anomaly, verdict).
    Finding,
}

impl RecordKind {
    /// The short name used in the `record` field and in output file names.
    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::Flow => "flow",
            RecordKind::Dns => "dns",
            RecordKind::Http => "http",
            RecordKind::Tls => "tls",
            RecordKind::Ssh => "ssh",
            RecordKind::Stats => "stats",
            RecordKind::Finding => "finding",
        }
    }
}

/// The typed part of an event. Serialized flattened into the event with a
/// `record` tag (`flow`, `dns`, `http`, `tls`, `ssh`, `stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Body {
    /// OCSF Network Activity (4001), activity Traffic: one flow.
    Flow(FlowRecord),
    /// OCSF DNS Activity (4003).
    Dns(DnsActivity),
    /// OCSF HTTP Activity (4002).
    Http(HttpActivity),
    /// OCSF Network Activity (4001) with its `tls` object: one handshake.
    Tls(TlsActivity),
    /// OCSF SSH Activity (4007).
    Ssh(SshActivity),
    /// Vigil's end-of-run counters (OCSF base event, class 0).
    Stats(StatsRecord),
    /// OCSF Detection Finding (2004).
    Finding(Finding),
}

impl Body {
    /// The endpoints and connection the record is about, when it has them
    /// (every network record; a finding when it names them; not stats).
    pub fn connection(
        &self,
    ) -> (
        Option<&Endpoint>,
        Option<&Endpoint>,
        Option<&ConnectionInfo>,
    ) {
        match self {
            Body::Flow(r) => (
                Some(&r.src_endpoint),
                Some(&r.dst_endpoint),
                Some(&r.connection_info),
            ),
            Body::Dns(r) => (
                Some(&r.src_endpoint),
                Some(&r.dst_endpoint),
                Some(&r.connection_info),
            ),
            Body::Http(r) => (
                Some(&r.src_endpoint),
                Some(&r.dst_endpoint),
                Some(&r.connection_info),
            ),
            Body::Tls(r) => (
                Some(&r.src_endpoint),
                Some(&r.dst_endpoint),
                Some(&r.connection_info),
            ),
            Body::Ssh(r) => (
                Some(&r.src_endpoint),
                Some(&r.dst_endpoint),
                Some(&r.connection_info),
            ),
            Body::Finding(f) => (
                f.src_endpoint.as_ref(),
                f.dst_endpoint.as_ref(),
                f.connection_info.as_ref(),
            ),
            Body::Stats(_) => (None, None, None),
        }
    }

    /// The record kind of this body.
    pub const fn kind(&self) -> RecordKind {
        match self {
            Body::Flow(_) => RecordKind::Flow,
            Body::Dns(_) => RecordKind::Dns,
            Body::Http(_) => RecordKind::Http,
            Body::Tls(_) => RecordKind::Tls,
            Body::Ssh(_) => RecordKind::Ssh,
            Body::Stats(_) => RecordKind::Stats,
            Body::Finding(_) => RecordKind::Finding,
        }
    }

    /// OCSF `class_uid`, `class_name`, `category_uid`, `activity_id`.
    pub const fn ocsf_class(&self) -> (u32, &'static str, u32, u32) {
        match self {
            // Activity 6 = Traffic for network activity.
            Body::Flow(_) => (4001, "Network Activity", 4, 6),
            Body::Tls(_) => (4001, "Network Activity", 4, 6),
            // DNS activity 6 = Traffic (query and response).
            Body::Dns(_) => (4003, "DNS Activity", 4, 6),
            // HTTP activity 99 = Other: the method is in http_request.
            Body::Http(_) => (4002, "HTTP Activity", 4, 99),
            // SSH activity 6 = Traffic.
            Body::Ssh(_) => (4007, "SSH Activity", 4, 6),
            Body::Stats(_) => (0, "Base Event", 0, 99),
            // Finding activity 1 = Create.
            Body::Finding(_) => (2004, "Detection Finding", 2, 1),
        }
    }
}

/// One event: common fields plus a typed body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// OCSF `time`: event time in milliseconds since the epoch.
    pub time: i64,
    /// Vigil: event time in full precision (nanoseconds since the epoch).
    pub time_ns: Timestamp,
    /// OCSF `class_uid`.
    pub class_uid: u32,
    /// OCSF `class_name`.
    pub class_name: String,
    /// OCSF `category_uid`.
    pub category_uid: u32,
    /// OCSF `activity_id`.
    pub activity_id: u32,
    /// OCSF `type_uid` = class_uid * 100 + activity_id.
    pub type_uid: u64,
    /// OCSF `severity_id`.
    pub severity_id: u8,
    /// OCSF `severity` caption.
    pub severity: String,
    /// Vigil: transport priority.
    pub priority: Priority,
    /// OCSF `metadata`.
    pub metadata: Metadata,
    /// OCSF `observables`: every IP, domain, URL, hash and fingerprint in the event.
    #[serde(default)]
    pub observables: Vec<Observable>,
    /// OCSF `raw_data`: the source record as it was read (a log line), kept
    /// for sources where rules search the whole record (Sigma `keywords`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    /// OCSF `enrichments`: what other sources (threat-intel feeds) say
    /// about values in this event; absent when nothing matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichments: Vec<Enrichment>,
    /// The typed record.
    #[serde(flatten)]
    pub body: Body,
}

impl Event {
    /// An informational, bulk-priority event at `time` whose class and
    /// observables are derived from `body`.
    pub fn new(time: Timestamp, body: Body) -> Self {
        let (class_uid, class_name, category_uid, activity_id) = body.ocsf_class();
        let mut observables = Vec::new();
        crate::observable::collect(&body, &mut observables);
        let severity = Severity::Informational;
        Self {
            time: time.millis(),
            time_ns: time,
            class_uid,
            class_name: class_name.to_owned(),
            category_uid,
            activity_id,
            type_uid: u64::from(class_uid) * 100 + u64::from(activity_id),
            severity_id: severity.id(),
            severity: severity.caption().to_owned(),
            priority: Priority::Bulk,
            metadata: Metadata::default(),
            observables,
            raw_data: None,
            enrichments: Vec::new(),
            body,
        }
    }

    /// Set the severity (id and caption together).
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity_id = severity.id();
        self.severity = severity.caption().to_owned();
        self
    }

    /// Set `metadata.log_name` (the source file or stream).
    pub fn with_log_name(mut self, log_name: impl Into<String>) -> Self {
        self.metadata.log_name = Some(log_name.into());
        self
    }

    /// The record kind of the body.
    pub fn kind(&self) -> RecordKind {
        self.body.kind()
    }

    /// The severity as an enum.
    pub fn severity_level(&self) -> Severity {
        Severity::from_id(self.severity_id)
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Parse one JSON line written by [`Event::to_json_line`].
    pub fn from_json_line(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }
}
