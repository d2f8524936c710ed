//! Turning a rule match into a Detection Finding event: the rule's
//! identity, the flow and hosts, and the evidence (buffer, fast pattern,
//! offsets, an excerpt of the matched bytes).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use vigil_event::{
    Analytic, Body, Endpoint, Event, Finding, FindingInfo, Priority, RuleRef, Severity, Subject,
};
use vigil_net::app::Direction;
use vigil_net::inspect::InspectCtx;

use crate::rule::Target;

/// Bytes of matched data shown in an excerpt (before escaping).
const EXCERPT_BYTES: usize = 64;

/// What a compiled rule says about itself in findings.
#[derive(Debug, Clone)]
pub(crate) struct RuleMeta {
    /// The rule reference put into findings.
    pub rule_ref: RuleRef,
    /// Severity from the priority.
    pub severity: Severity,
    /// Priority (1 highest).
    pub priority: u8,
    /// `target:`.
    pub target: Option<Target>,
    /// The fast pattern, printable, when the rule has one.
    pub fast_pattern: Option<String>,
}

/// Where and what matched.
#[derive(Debug)]
pub(crate) struct MatchEvidence<'a> {
    /// The buffer name (`http.uri`, `stream`, ...).
    pub buffer: &'a str,
    /// The buffer's bytes.
    pub bytes: &'a [u8],
    /// Stream position of the buffer's first byte.
    pub base: u64,
    /// The first positive match (start, end) in `bytes`.
    pub span: Option<(usize, usize)>,
}

/// Priority of the standard classtypes (Suricata's `classification.config`
/// as shipped with ET Open), used when a rule gives no `priority`.
pub(crate) fn classtype_priority(classtype: &str) -> u8 {
    match classtype {
        "attempted-user"
        | "unsuccessful-user"
        | "successful-user"
        | "attempted-admin"
        | "successful-admin"
        | "shellcode-detect"
        | "trojan-activity"
        | "web-application-attack"
        | "policy-violation"
        | "targeted-activity"
        | "exploit-kit"
        | "domain-c2"
        | "credential-theft"
        | "command-and-control" => 1,
        "bad-unknown"
        | "attempted-recon"
        | "successful-recon-limited"
        | "successful-recon-largescale"
        | "attempted-dos"
        | "successful-dos"
        | "rpc-portmap-decode"
        | "suspicious-filename-detect"
        | "suspicious-login"
        | "system-call-detect"
        | "unusual-client-port-connection"
        | "denial-of-service"
        | "non-standard-protocol"
        | "web-application-activity"
        | "misc-attack"
        | "default-login-attempt"
        | "external-ip-check"
        | "pup-activity"
        | "social-engineering"
        | "coin-mining" => 2,
        "tcp-connection" => 4,
        _ => 3,
    }
}

/// Severity of a priority: 1 High (Critical for the classtypes that say a
/// compromise succeeded), 2 Medium, 3 Low, lower priorities Informational.
pub(crate) fn severity(priority: u8, classtype: Option<&str>) -> Severity {
    match priority {
        0 | 1 => match classtype {
            Some("successful-admin" | "successful-user" | "credential-theft") => Severity::Critical,
            _ => Severity::High,
        },
        2 => Severity::Medium,
        3 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// Bytes as printable text: printable ASCII as is, the rest as `\xNN`.
pub(crate) fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// FNV-1a over the parts, for a deterministic finding uid.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The finding event for a match of `meta`'s rule at `ctx`.
pub(crate) fn finding(meta: &RuleMeta, ctx: &InspectCtx<'_>, ev: &MatchEvidence<'_>) -> Event {
    let flow = ctx.flow;
    let (sender, receiver) = match ctx.dir {
        Direction::ToResponder => (&flow.originator, &flow.responder),
        Direction::ToOriginator => (&flow.responder, &flow.originator),
    };
    // The source is the side that sent the matching bytes, unless the rule
    // names the sender as the target.
    let (src, dst): (&Endpoint, &Endpoint) = match meta.target {
        Some(Target::SrcIp) => (receiver, sender),
        _ => (sender, receiver),
    };
    let r = &meta.rule_ref;
    let uid = fnv(&[
        flow.connection_info.uid.as_bytes(),
        &r.gid.to_le_bytes(),
        &r.sid.to_le_bytes(),
        &ctx.packet.to_le_bytes(),
        ev.buffer.as_bytes(),
        &ev.base.to_le_bytes(),
    ]);
    let mut evidence = BTreeMap::new();
    evidence.insert("buffer".to_owned(), serde_json::Value::from(ev.buffer));
    evidence.insert(
        "direction".to_owned(),
        serde_json::Value::from(if ctx.to_server {
            "to_server"
        } else {
            "to_client"
        }),
    );
    evidence.insert("packet".to_owned(), serde_json::Value::from(ctx.packet));
    evidence.insert(
        "priority".to_owned(),
        serde_json::Value::from(meta.priority),
    );
    if let Some(fp) = &meta.fast_pattern {
        evidence.insert(
            "fast_pattern".to_owned(),
            serde_json::Value::from(fp.as_str()),
        );
    }
    if let Some((s, e)) = ev.span {
        evidence.insert(
            "match_offset".to_owned(),
            serde_json::Value::from(ev.base + s as u64),
        );
        evidence.insert(
            "match_length".to_owned(),
            serde_json::Value::from(e.saturating_sub(s)),
        );
        let shown = ev
            .bytes
            .get(s..e.min(s + EXCERPT_BYTES))
            .unwrap_or_default();
        evidence.insert(
            "match".to_owned(),
            serde_json::Value::from(printable(shown)),
        );
    }
    evidence.insert(
        "buffer_length".to_owned(),
        serde_json::Value::from(ev.bytes.len()),
    );
    let finding = Finding {
        finding_info: FindingInfo {
            uid: format!("{uid:016x}"),
            title: r.msg.clone(),
            desc: Some(format!(
                "rule {}:{}:{} matched {} bytes of {} in flow {}",
                r.gid,
                r.sid,
                r.rev,
                ev.bytes.len(),
                ev.buffer,
                flow.connection_info.uid
            )),
            types: vec!["signature".to_owned()],
            analytic: Analytic {
                uid: format!("sig:{}:{}", r.gid, r.sid),
                name: r.msg.clone(),
                type_id: 1,
                type_name: "Rule".to_owned(),
                category: r.classtype.clone(),
            },
            first_seen_time: Some(ctx.ts.millis()),
            last_seen_time: Some(ctx.ts.millis()),
        },
        subject: Subject {
            kind: "flow".to_owned(),
            value: flow.connection_info.uid.clone(),
        },
        src_endpoint: Some(src.clone()),
        dst_endpoint: Some(dst.clone()),
        connection_info: Some(flow.connection_info.clone()),
        rule: Some(r.clone()),
        evidence,
        risk_score: None,
        risk_level: None,
        remediation: None,
        incident_pcap: None,
    };
    let mut event = Event::new(ctx.ts, Body::Finding(finding)).with_severity(meta.severity);
    event.priority = if meta.severity >= Severity::High {
        Priority::Urgent
    } else {
        Priority::Normal
    };
    event.metadata.correlation_uid = Some(flow.connection_info.uid.clone());
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_binary() {
        assert_eq!(printable(b"GET /\r\n\\\xff"), "GET /\\x0d\\x0a\\x5c\\xff");
    }

    #[test]
    fn severity_follows_priority() {
        assert_eq!(
            severity(
                classtype_priority("trojan-activity"),
                Some("trojan-activity")
            ),
            Severity::High
        );
        assert_eq!(
            severity(
                classtype_priority("successful-admin"),
                Some("successful-admin")
            ),
            Severity::Critical
        );
        assert_eq!(
            severity(classtype_priority("bad-unknown"), None),
            Severity::Medium
        );
        assert_eq!(
            severity(classtype_priority("misc-activity"), None),
            Severity::Low
        );
        assert_eq!(
            severity(classtype_priority("tcp-connection"), None),
            Severity::Informational
        );
    }
}
