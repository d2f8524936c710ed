//! Vigil's rule files: YAML documents (one rule each, `---` between rules),
//! as written by an analyst or produced by the Sigma importer. This module
//! owns the file format (the serde types and their defaults); the expression
//! text in `condition` is parsed by `expr`, the correlation semantics live in
//! `correlate`, actions in `action`.
//!
//! ```yaml
//! id: ssh-failed-login          # unique within the loaded set
//! title: Failed SSH login
//! severity: low
//! condition: 'class_uid == 4007 and ssh.auth_success == false'
//! ---
//! id: ssh-brute-force
//! title: Many failed SSH logins from one source
//! severity: high
//! correlation:
//!   type: event_count
//!   rules: [ssh-failed-login]   # input: the matches of these rules
//!   group_by: [src_endpoint.ip]
//!   timespan: 5m
//!   threshold: { gte: 20 }
//! fire: first_threshold
//! suppress: 30m
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One rule as written in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id; other rules name it in `correlation.rules`.
    pub id: String,
    /// One-line title, used as the finding's title.
    pub title: String,
    /// What the rule detects and why it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Severity of what it raises: informational, low, medium, high, critical.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The condition over events, as infix text. For a correlation rule it
    /// filters the input events (optional there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Present for correlation rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CorrelationSpec>,
    /// When a correlation fires (ignored for single-event rules, which fire on
    /// every matching event).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "yaml_serde::with::singleton_map_recursive"
    )]
    pub fire: Option<FireSpec>,
    /// Once fired for a group, stay quiet for this long (a duration such as
    /// `30s`, `10m`, `1h`, `1d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<String>,
    /// Emit this rule's own matches as findings even when only other rules
    /// consume them (Sigma's `generate`). Single-event rules that no
    /// correlation uses always emit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<bool>,
    /// Tags (ATT&CK ids, sources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What to do when it fires.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "yaml_serde::with::singleton_map_recursive"
    )]
    pub actions: Vec<ActionSpec>,
    /// Where the rule came from (a Sigma rule's id and file), for the finding.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub origin: BTreeMap<String, String>,
}

impl RuleSpec {
    /// `severity` as a level (`info` is accepted for informational; case
    /// does not matter); `None` for any other word.
    pub fn severity_level(&self) -> Option<vigil_event::Severity> {
        use vigil_event::Severity;
        Some(match self.severity.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

fn default_severity() -> String {
    "medium".to_owned()
}

/// The correlation part of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationSpec {
    /// `event_count`, `value_count`, `temporal`, `temporal_ordered`, `absence`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Input rules by id (their matches or meta-events); empty means the
    /// events that pass the rule's own `condition`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Fields whose values form the group key (dotted schema paths, or
    /// names defined in `aliases`). Sigma's spelling `group-by` is accepted.
    #[serde(default, alias = "group-by", skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Window length in event time (`5m`).
    pub timespan: String,
    /// The condition on the window's count, e.g. `{ gte: 10 }`; several
    /// keys must all hold (`{ gt: 100, lte: 200 }`). Keys: `gt`, `gte`,
    /// `lt`, `lte`, `eq`, `neq`. Required for `event_count` (the number of
    /// events) and `value_count` (the number of distinct values); optional
    /// for `temporal` (how many of the rules matched; default all) and
    /// `temporal_ordered` (how many leading rules of the sequence matched
    /// in order; default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<BTreeMap<String, i64>>,
    /// For `value_count`: the field whose distinct values are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `absence`: the rule whose match starts the wait (or, without it,
    /// the group's last event: the source fell silent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// How late an event may arrive (behind the newest event time seen) and
    /// still count in its window; later ones are counted and dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness: Option<String>,
    /// Most open groups kept for this rule; over it the least recently seen
    /// group is evicted and counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups: Option<usize>,
    /// Field name aliases (Sigma's `aliases`): alias → input rule id →
    /// the field that holds the value in that rule's events. A `group_by`
    /// entry naming an alias reads, for each input event, the field its
    /// rule maps it to (e.g. `internal_ip` is `dst_endpoint.ip` in one
    /// rule's events and `src_endpoint.ip` in another's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
}

/// When a correlation fires, as in the classic SIEM consoles. The exact
/// semantics (sliding windows, crossings, consumption, unit alignment) are
/// in the `correlate` module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FireSpec {
    /// On the first event of a group whose window was empty (new
    /// activity), whatever the threshold says (ArcSight "On First Event").
    FirstEvent,
    /// On every event at which the threshold holds.
    EveryEvent,
    /// When the threshold becomes true (the default).
    FirstThreshold,
    /// Whenever the threshold holds, consuming the window's events, so a
    /// steady burst fires each time the count is reached again.
    EveryThreshold,
    /// At most once per time unit of this duration (units aligned to the
    /// epoch in event time) while the threshold holds.
    OncePer(String),
    /// When the group's window (opened by its first event, `timespan`
    /// long) closes, if the threshold holds over the whole window. The
    /// only mode of `absence`.
    WindowEnd,
}

/// One action, by kind. The fields are the action's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// HTTP POST of the finding as JSON.
    Webhook {
        /// `http://host:port/path`.
        url: String,
        /// Attempts before giving up (default 3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retries: Option<u32>,
        /// Extra request headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// Mail over SMTP.
    Email {
        /// `host:port` of the SMTP server (port 25 when omitted).
        server: String,
        /// Envelope and header sender.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// Upgrade the connection with STARTTLS (required when set).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        starttls: bool,
        /// SMTP AUTH user name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// Name of the environment variable holding the SMTP AUTH password
        /// (passwords are never written in rule files).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_env: Option<String>,
    },
    /// RFC 5424 syslog to a receiver.
    Syslog {
        /// `udp://host:port` or `tcp://host:port`.
        target: String,
        /// Facility name (default `local0`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facility: Option<String>,
    },
    /// Run a program (no shell) with the finding as JSON on stdin.
    Exec {
        /// Program and arguments.
        argv: Vec<String>,
        /// Kill it after this long (default `10s`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_example_parses() {
        let text = "id: a\ntitle: A\nseverity: low\ncondition: 'class_uid == 4007'\n";
        let rule: RuleSpec = yaml_serde::from_str(text).expect("parses");
        assert_eq!(rule.id, "a");
        assert_eq!(rule.condition.as_deref(), Some("class_uid == 4007"));
        let text = "id: b\ntitle: B\ncorrelation:\n  type: event_count\n  rules: [a]\n  group_by: [src_endpoint.ip]\n  timespan: 5m\n  threshold: { gte: 20 }\nfire: first_threshold\nsuppress: 30m\nactions:\n  - webhook: { url: 'http://127.0.0.1:9/x' }\n";
        let rule: RuleSpec = yaml_serde::from_str(text).expect("parses");
        let c = rule.correlation.expect("correlation");
        assert_eq!(c.kind, "event_count");
        assert_eq!(c.threshold.and_then(|t| t.get("gte").copied()), Some(20));
        assert_eq!(rule.fire, Some(FireSpec::FirstThreshold));
        assert!(matches!(rule.actions[0], ActionSpec::Webhook { .. }));
        let text = "id: c\ntitle: C\nfire: { once_per: 1h }\n";
        let rule: RuleSpec = yaml_serde::from_str(text).expect("parses");
        assert_eq!(rule.fire, Some(FireSpec::OncePer("1h".into())));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = "id: a\ntitle: A\nconditon: 'x'\n";
        let err = yaml_serde::from_str::<RuleSpec>(text).unwrap_err();
        assert!(err.to_string().contains("conditon"), "{err}");
    }
}
