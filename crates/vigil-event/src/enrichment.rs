//! OCSF `enrichments`: what Vigil learned about a value in the event from
//! elsewhere (a threat-intel feed today), attached to the event itself so a
//! reader sees it without joining anything.

use serde::{Deserialize, Serialize};

/// One OCSF Enrichment object: the attribute and value it is about, who
/// provided it, and the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// OCSF `name`: the attribute that was enriched, as a dotted path
    /// (the observable's name, e.g. `dst_endpoint.ip`).
    pub name: String,
    /// OCSF `value`: the value of that attribute in this event.
    pub value: String,
    /// OCSF `type`: what kind of enrichment, e.g. `threat_intel`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// OCSF `provider`: where it came from, e.g. the feed's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// OCSF `data`: the enrichment itself (for threat intel: the matching
    /// indicator with its type, value, confidence, severity, tags, times and
    /// reference).
    pub data: serde_json::Value,
}
