//! OCSF Detection Finding (2004): every finding, whatever produced it — a
//! signature alert, a flow anomaly, a bot verdict, an intel match, a
//! correlation meta-event, a honeypot verdict — so one query, one rule and
//! one console view cover them all.
//!
//! A finding names what it is about ([`Subject`]: a host, a flow, a client),
//! which detector or rule produced it ([`Analytic`], [`RuleRef`]), and its
//! evidence: the flow it was seen on, the feature values and thresholds that
//! made the verdict ([`Finding::evidence`]), and, once captured, the pcap
//! that holds its packets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::network::{ConnectionInfo, Endpoint};

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// "host", "flow", "client", "process", "service".
    pub kind: String,
    /// The host's IP, the flow's uid, the client's key, ...
    pub value: String,
}

/// OCSF `analytic`: the detector or rule engine that produced the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analytic {
    /// OCSF `uid`: a stable id, e.g. "sig:2013028" or "anomaly:port_scan_vertical".
    pub uid: String,
    /// OCSF `name`: human name of the rule or detector.
    pub name: String,
    /// OCSF `type_id`: 1 Rule, 2 Behavioral, 3 Statistical, 99 Other.
    pub type_id: u8,
    /// OCSF `type` caption.
    #[serde(rename = "type")]
    pub type_name: String,
    /// OCSF `category`: e.g. the rule's classtype or the anomaly family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// OCSF `finding_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingInfo {
    /// OCSF `uid`: unique per finding, deterministic for the same input.
    pub uid: String,
    /// OCSF `title`: one line, e.g. the rule's msg.
    pub title: String,
    /// OCSF `desc`: what was seen, in plain words, with the numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// OCSF `types`: e.g. ["signature"], ["anomaly", "port_scan"].
    #[serde(default)]
    pub types: Vec<String>,
    /// OCSF `analytic`.
    pub analytic: Analytic,
    /// OCSF `first_seen_time` (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen_time: Option<i64>,
    /// OCSF `last_seen_time` (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_time: Option<i64>,
}

/// The signature that matched (Suricata rule identity), when a rule did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    /// Generator id (1 for text rules).
    pub gid: u32,
    /// Signature id.
    pub sid: u32,
    /// Revision.
    pub rev: u32,
    /// The rule's msg.
    pub msg: String,
    /// classtype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classtype: Option<String>,
    /// Action from the rule header (alert, drop, ...).
    pub action: String,
    /// reference options, as "type,value".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// metadata key → values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Vec<String>>,
    /// The file the rule came from and its line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// OCSF `remediation`: what to do about it (recommendations only; live
/// responses come from the response stage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    /// OCSF `desc`: the recommended defence, e.g. "block source".
    pub desc: String,
    /// Vigil: a recommended self-check for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_check: Option<String>,
}

/// OCSF Detection Finding (2004).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// OCSF `finding_info`.
    pub finding_info: FindingInfo,
    /// Vigil: what the finding is about.
    pub subject: Subject,
    /// The source side (attacker, scanner, client) when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint>,
    /// The destination side (victim, server) when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint>,
    /// The flow it was seen on (flow uid and Community ID), when one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_info: Option<ConnectionInfo>,
    /// Vigil: the signature, when a rule matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleRef>,
    /// Vigil: the evidence that made the verdict — feature values,
    /// thresholds, matched buffers, counts — named so a reader can check it.
    #[serde(default)]
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// OCSF `risk_score` (0–100) of the subject after this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<u32>,
    /// OCSF `risk_level` caption: "Low", "Medium", "High", "Critical".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<String>,
    /// OCSF `remediation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    /// Vigil: the incident pcap that holds the subject's packets, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_pcap: Option<String>,
}
