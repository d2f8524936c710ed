//! Risk levels, their thresholds, and what each level recommends: a
//! defence (watch, capture, block source, isolate) and a self-check the
//! operator can run to confirm or dismiss the finding.
//!
//! The recommendations are text in the finding's OCSF `remediation`; live
//! responses come from the response stage, not from here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vigil_event::{Finding, Remediation, Severity};

/// A risk level, from a score (0–100) by [`Thresholds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    /// Below the medium threshold: watch.
    #[default]
    Low,
    /// At or above the medium threshold: capture the traffic as evidence.
    Medium,
    /// At or above the high threshold: block the source.
    High,
    /// At or above the critical threshold: isolate.
    Critical,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::Low, Level::Medium, Level::High, Level::Critical];

    /// Lower-case name ("low", "medium", "high", "critical").
    pub const fn name(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// The OCSF `risk_level` caption ("Low", "Medium", "High", "Critical").
    pub const fn caption(self) -> &'static str {
        match self {
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
            Level::Critical => "Critical",
        }
    }

    /// The recommended defence at this level.
    pub const fn defence(self) -> &'static str {
        match self {
            Level::Low => "watch",
            Level::Medium => "capture",
            Level::High => "block source",
            Level::Critical => "isolate",
        }
    }

    /// The severity of a finding that reports reaching this level.
    pub const fn severity(self) -> Severity {
        match self {
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A level name that is not one of low, medium, high, critical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown risk level {0:?}: expected low, medium, high or critical")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// A level by name (case-insensitive); the defence names ("watch",
    /// "capture", "block", "isolate") are accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" | "watch" => Ok(Level::Low),
            "medium" | "capture" => Ok(Level::Medium),
            "high" | "block" | "block source" | "block_source" => Ok(Level::High),
            "critical" | "isolate" => Ok(Level::Critical),
            _ => Err(UnknownLevel(s.to_owned())),
        }
    }
}

/// Serialized as its lower-case name.
impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Deserialized from a name as [`Level::from_str`] accepts it.
impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The score at which each level begins (scores run 0–100; below
/// `medium` is low).
///
/// Defaults: medium 20, high 50, critical 80. With the default
/// [`crate::SeverityPoints`] one high-severity finding (25 points) puts its
/// source at medium, two close together (50) at high, one critical finding
/// (50) at high, and two critical ones (100) at critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// First score that is medium.
    pub medium: u32,
    /// First score that is high.
    pub high: u32,
    /// First score that is critical.
    pub critical: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            medium: 20,
            high: 50,
            critical: 80,
        }
    }
}

impl Thresholds {
    /// The level of a score.
    pub const fn level(&self, score: u32) -> Level {
        if score >= self.critical {
            Level::Critical
        } else if score >= self.high {
            Level::High
        } else if score >= self.medium {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// The service a finding concerns, for a self-check that names the right log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Web,
    Ssh,
    Dns,
    Other,
}

fn service_of(f: &Finding) -> Service {
    let port = f.dst_endpoint.as_ref().and_then(|e| e.port);
    let mut words = String::new();
    words.push_str(&f.finding_info.analytic.uid);
    words.push(' ');
    if let Some(c) = &f.finding_info.analytic.category {
        words.push_str(c);
    }
    if let Some(r) = &f.rule {
        words.push(' ');
        words.push_str(&r.msg);
    }
    let words = words.to_ascii_lowercase();
    match port {
        Some(80 | 443 | 8000 | 8008 | 8080 | 8443 | 8888) => Service::Web,
        Some(22 | 2222) => Service::Ssh,
        Some(53) => Service::Dns,
        _ if words.contains("http") || words.contains("web") => Service::Web,
        _ if words.contains("ssh") => Service::Ssh,
        _ if words.contains("dns") => Service::Dns,
        _ => Service::Other,
    }
}

/// What a recommendation is about: the source (attacker, scanner, client)
/// and the target (victim, server) of a finding, as text.
#[derive(Debug, Clone)]
pub(crate) struct Parties {
    pub src: String,
    pub dst: String,
    pub time: String,
}

impl Parties {
    pub(crate) fn of(f: &Finding, time: &str) -> Self {
        let subject_host = (f.subject.kind == "host").then(|| f.subject.value.clone());
        let src = f
            .src_endpoint
            .as_ref()
            .map(|e| e.ip.to_string())
            .or_else(|| subject_host.clone())
            .unwrap_or_else(|| "the source".to_owned());
        let dst = f
            .dst_endpoint
            .as_ref()
            .map(|e| e.ip.to_string())
            .or(subject_host.filter(|h| *h != src))
            .unwrap_or_else(|| "the target".to_owned());
        Self {
            src,
            dst,
            time: time.to_owned(),
        }
    }
}

/// The recommended defence and self-check for a finding at `level`.
pub(crate) fn recommend(level: Level, f: &Finding, p: &Parties) -> Remediation {
    let Parties { src, dst, time } = p;
    let service = service_of(f);
    let desc = match level {
        Level::Low => format!("watch: keep watching {src}; no action yet"),
        Level::Medium => {
            format!("capture: keep the packets between {src} and {dst} as evidence (incident pcap)")
        }
        Level::High => format!("block source: block traffic from {src}"),
        Level::Critical => format!(
            "isolate: block all traffic of {src} and take {dst} off the network until it is checked"
        ),
    };
    let self_check = match (level, service) {
        (Level::Low, _) => {
            format!("check whether {src} is expected to talk to {dst}; look again if more findings follow")
        }
        (Level::Medium | Level::High, Service::Web) => format!(
            "check the web server logs on {dst} for the requests from {src} around {time}, \
             and whether any got a 2xx or 5xx answer"
        ),
        (Level::Medium | Level::High, Service::Ssh) => format!(
            "check the SSH auth log on {dst} (journalctl -u ssh, last) for logins from {src} \
             around {time}, and whether any succeeded"
        ),
        (Level::Medium | Level::High, Service::Dns) => {
            format!("check the resolver's query log for the names {src} asked around {time}")
        }
        (Level::Medium | Level::High, Service::Other) => format!(
            "review the packets between {src} and {dst} around {time} (incident pcap) \
             and the logs of the service on {dst}"
        ),
        (Level::Critical, _) => format!(
            "verify no outbound connections from {dst} after {time} (ss -tnp, flow records) \
             and look for new processes, users, cron jobs or files on {dst}"
        ),
    };
    Remediation {
        desc,
        self_check: Some(self_check),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_lower_bounds() {
        let t = Thresholds::default();
        assert_eq!(t.level(0), Level::Low);
        assert_eq!(t.level(19), Level::Low);
        assert_eq!(t.level(20), Level::Medium);
        assert_eq!(t.level(49), Level::Medium);
        assert_eq!(t.level(50), Level::High);
        assert_eq!(t.level(79), Level::High);
        assert_eq!(t.level(80), Level::Critical);
        assert_eq!(t.level(100), Level::Critical);
    }

    #[test]
    fn levels_parse_by_name_and_defence() {
        assert_eq!("Medium".parse::<Level>(), Ok(Level::Medium));
        assert_eq!("capture".parse::<Level>(), Ok(Level::Medium));
        assert_eq!("isolate".parse::<Level>(), Ok(Level::Critical));
        assert!("severe".parse::<Level>().is_err());
        assert!(Level::Low < Level::Medium && Level::High < Level::Critical);
        assert_eq!(Level::High.defence(), "block source");
    }
}
