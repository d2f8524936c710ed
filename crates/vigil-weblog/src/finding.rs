//! Turning a bot [`Verdict`] into a Detection Finding event (OCSF 2004):
//! `analytic.uid` `bot:<class>` (`bot:scraper`, `bot:scanner`,
//! `bot:credential_stuffing`, `bot:good_bot`, `bot:unknown`), the client as
//! subject and source endpoint, and as evidence every feature's value,
//! scale, weight, discount and contribution, the class probabilities, the
//! crawler verification and the model version.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use vigil_event::{
    Analytic, Body, Endpoint, Event, Finding, FindingInfo, Priority, Severity, Subject, Timestamp,
};

use crate::detector::Verdict;
use crate::score::{AttackKind, Class};

impl Class {
    /// The finding's title prefix and severity.
    fn presentation(self) -> (&'static str, Severity) {
        match self {
            Class::Human => ("Human client", Severity::Informational),
            Class::GoodBot => ("Verified good bot", Severity::Informational),
            Class::Scraper => ("Scraper bot", Severity::Medium),
            Class::Attacker(AttackKind::Scanner) => ("Vulnerability scanner", Severity::High),
            Class::Attacker(AttackKind::CredentialStuffing) => {
                ("Credential stuffing", Severity::High)
            }
            Class::Unknown => ("Possible bot", Severity::Low),
        }
    }
}

impl Verdict {
    /// Whether this verdict becomes a finding (every class but human).
    pub fn is_finding(&self) -> bool {
        self.class != Class::Human
    }

    /// The Detection Finding, stamped with the window's last request time;
    /// `None` for a human verdict.
    pub fn to_finding(&self) -> Option<Event> {
        if !self.is_finding() {
            return None;
        }
        let (what, severity) = self.class.presentation();
        let p = &self.score.probabilities;
        let top_text: Vec<String> = self
            .score
            .strongest(4)
            .iter()
            .map(|c| {
                format!(
                    "{} {:.3} (+{:.2})",
                    c.feature,
                    c.value.unwrap_or(0.0),
                    c.contribution
                )
            })
            .collect();
        let desc = format!(
            "{} {} made {} requests in {:.0} s; P(human) {:.2}, P(scraper) {:.2}, P(scanner) {:.2}, P(credential stuffing) {:.2}; strongest evidence: {}{}{}",
            self.entity.name(),
            self.subject,
            self.requests,
            (self.last_ns - self.first_ns) as f64 / 1e9,
            p[0],
            p[1],
            p[2],
            p[3],
            if top_text.is_empty() { "none".to_owned() } else { top_text.join(", ") },
            if self.reasons.is_empty() { "" } else { "; " },
            self.reasons.join("; "),
        );
        let mut evidence: BTreeMap<String, Value> = BTreeMap::new();
        evidence.insert("entity".into(), json!(self.entity.name()));
        evidence.insert("class".into(), json!(self.class.name()));
        evidence.insert("model_version".into(), json!(self.model_version));
        evidence.insert("requests".into(), json!(self.requests));
        evidence.insert("clients".into(), json!(self.clients));
        evidence.insert("crowd_share".into(), json!(self.crowd_share));
        evidence.insert("burstiness".into(), json!(self.burstiness));
        evidence.insert("static_share".into(), json!(self.static_share));
        evidence.insert("referer_share".into(), json!(self.referer_share));
        evidence.insert("closed".into(), json!(self.closed));
        evidence.insert(
            "probabilities".into(),
            json!({"human": p[0], "scraper": p[1], "scanner": p[2], "credential_stuffing": p[3]}),
        );
        evidence.insert("explained_class".into(), json!(self.score.explained.name()));
        evidence.insert("bias".into(), json!(self.score.bias));
        evidence.insert("features".into(), json!(self.score.contributions));
        evidence.insert("reasons".into(), json!(self.reasons));
        if let Some(ua) = &self.user_agent {
            evidence.insert("user_agent".into(), json!(ua));
        }
        if let Some(s) = &self.session {
            evidence.insert("session".into(), json!(s));
        }
        if let Some(v) = &self.verification {
            evidence.insert("verification".into(), json!(v));
        }
        if let Some(b) = &self.claimed_bot {
            evidence.insert("claimed_bot".into(), json!(b));
        }
        let finding = Finding {
            finding_info: FindingInfo {
                uid: format!(
                    "bot:{}:{}:{}:{}",
                    self.class.name(),
                    self.entity.name(),
                    self.subject,
                    self.first_ns
                ),
                title: format!("{what}: {}", self.subject),
                desc: Some(desc),
                types: vec!["bot".into(), self.class.name().into()],
                analytic: Analytic {
                    uid: format!("bot:{}", self.class.name()),
                    name: what.into(),
                    type_id: 3,
                    type_name: "Statistical".into(),
                    category: Some(
                        match self.class {
                            Class::Attacker(AttackKind::Scanner) => "reconnaissance",
                            Class::Attacker(AttackKind::CredentialStuffing) => "credential_access",
                            _ => "collection",
                        }
                        .into(),
                    ),
                },
                first_seen_time: Some(Timestamp::from_nanos(self.first_ns).millis()),
                last_seen_time: Some(Timestamp::from_nanos(self.last_ns).millis()),
            },
            subject: Subject {
                kind: "client".into(),
                value: self.subject.clone(),
            },
            src_endpoint: Some(Endpoint {
                ip: self.client,
                port: None,
                hostname: None,
            }),
            dst_endpoint: None,
            connection_info: None,
            rule: None,
            evidence,
            risk_score: None,
            risk_level: None,
            remediation: None,
            incident_pcap: None,
        };
        let mut event = Event::new(Timestamp::from_nanos(self.last_ns), Body::Finding(finding))
            .with_severity(severity);
        event.priority = Priority::Normal;
        event.metadata.log_name = Some("access_log".into());
        Some(event)
    }
}
