//! Meta-events: a correlation firing as a Detection Finding (class 2004)
//! that names the rule, the group, the window, the count and the ids of the
//! events that made it. The group is also how chained rules read a
//! meta-event: `evidence.group` holds each group_by field by name, and
//! `src_endpoint` / `dst_endpoint` are filled when the group is keyed by
//! `src_endpoint.ip` / `dst_endpoint.ip`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};
use vigil_event::fields::FieldType;
use vigil_event::{
    Analytic, Body, Endpoint, Event, Finding, FindingInfo, Priority, Subject, Timestamp,
};

use super::agg::Snapshot;
use super::build::{Compiled, Kind};

/// Group key parts: one field is the key itself; several are written as
/// `len:value` pairs so values may hold any text.
pub(crate) fn push_part(key: &mut String, part: &str, parts: usize) {
    if parts == 1 {
        key.push_str(part);
    } else {
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
}

/// The parts of a key written by [`push_part`].
pub(crate) fn split_key(key: &str, parts: usize) -> Vec<&str> {
    if parts <= 1 {
        return if parts == 1 { vec![key] } else { Vec::new() };
    }
    let mut out = Vec::with_capacity(parts);
    let mut rest = key;
    while let Some((len, tail)) = rest.split_once(':') {
        let Ok(n) = len.parse::<usize>() else { break };
        let Some(part) = tail.get(..n) else { break };
        out.push(part);
        rest = tail.get(n..).unwrap_or("");
    }
    out
}

/// Everything a firing needs to become a meta-event.
#[derive(Debug)]
pub(crate) struct Firing<'a> {
    pub rule: &'a Compiled,
    pub key: &'a str,
    /// Event time of the firing (ns).
    pub time: i64,
    /// Window start and end (ns).
    pub window: (i64, i64),
    /// Last input event seen for the group (ns).
    pub last_seen: i64,
    pub snap: Snapshot,
    pub suppressed_before: u64,
    pub after_end_of_input: bool,
    pub seq: u64,
}

fn ms(ns: i64) -> i64 {
    Timestamp::from_nanos(ns).millis()
}

fn group_value(rule: &Compiled, i: usize, text: &str) -> Value {
    let ty = rule
        .inputs
        .first()
        .and_then(|inp| inp.group.get(i))
        .and_then(|f| f.def)
        .map(|d| d.ty);
    match ty {
        Some(FieldType::Int) => text
            .parse::<i64>()
            .map_or_else(|_| json!(text), |n| json!(n)),
        Some(FieldType::Bool) => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(text),
        },
        _ => json!(text),
    }
}

/// Build the meta-event.
pub(crate) fn build(f: Firing<'_>) -> Event {
    let r = f.rule;
    let parts = split_key(f.key, r.group_names.len());
    let mut group = Map::new();
    let mut subject_parts = Vec::new();
    let mut src = None;
    let mut dst = None;
    for (i, (name, value)) in r.group_names.iter().zip(&parts).enumerate() {
        group.insert(name.clone(), group_value(r, i, value));
        subject_parts.push(format!("{name}={value}"));
        let ip = value.parse::<IpAddr>().ok();
        match name.as_str() {
            "src_endpoint.ip" => src = ip,
            "dst_endpoint.ip" => dst = ip,
            _ => {}
        }
    }
    let subject = if subject_parts.is_empty() {
        "all".to_owned()
    } else {
        subject_parts.join(", ")
    };
    let uid = format!("corr:{}:{}", r.id, f.seq);
    let names = |idx: &[usize]| -> Vec<String> {
        idx.iter()
            .filter_map(|&i| r.step_ids.get(i).cloned())
            .collect()
    };
    let cond = r
        .threshold
        .as_ref()
        .map(|t| {
            t.written
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .unwrap_or_default();
    let s = &f.snap;
    let desc = match r.kind {
        Kind::EventCount => format!(
            "{} events from {subject} within {} (condition {cond})",
            s.metric, r.span_text
        ),
        Kind::ValueCount => format!(
            "{} distinct values of {} from {subject} within {} (condition {cond})",
            s.metric,
            r.field_name.as_deref().unwrap_or("?"),
            r.span_text
        ),
        Kind::Temporal => format!(
            "{} of {} rules ({}) matched for {subject} within {} (condition {cond})",
            s.metric,
            r.step_ids.len(),
            names(&s.rules).join(", "),
            r.span_text
        ),
        Kind::TemporalOrdered => format!(
            "{} of {} rules matched in order ({}) for {subject} within {} (condition {cond})",
            s.metric,
            r.step_ids.len(),
            names(&s.rules).join(" then "),
            r.span_text
        ),
        Kind::Absence => match &r.after_id {
            Some(a) => format!(
                "{a} matched for {subject} and no {} followed within {}",
                r.step_ids.join(" or "),
                r.span_text
            ),
            None => format!(
                "{subject} fell silent: no {} for {}",
                if r.step_ids.is_empty() {
                    r.id.clone()
                } else {
                    r.step_ids.join(" or ")
                },
                r.span_text
            ),
        },
    };
    let desc = format!("{desc}; fired on {}", r.fire.name());
    let mut ev: BTreeMap<String, Value> = BTreeMap::new();
    ev.insert("correlation".into(), json!(r.kind.name()));
    ev.insert("group".into(), Value::Object(group));
    ev.insert("timespan".into(), json!(r.span_text));
    ev.insert(
        "window".into(),
        json!({"start": ms(f.window.0), "end": ms(f.window.1)}),
    );
    ev.insert("fire".into(), json!(r.fire.name()));
    if let Some(t) = &r.threshold {
        ev.insert("condition".into(), json!(t.written));
    }
    ev.insert("count".into(), json!(s.metric));
    ev.insert("events".into(), json!(s.events));
    ev.insert("event_uids".into(), json!(s.ids));
    if let Some(field) = &r.field_name {
        ev.insert("field".into(), json!(field));
        ev.insert("values".into(), json!(s.values));
    }
    if matches!(r.kind, Kind::Temporal | Kind::TemporalOrdered) {
        ev.insert("rules".into(), json!(r.step_ids));
        ev.insert("rules_matched".into(), json!(names(&s.rules)));
    }
    if r.kind == Kind::Absence {
        ev.insert("expected".into(), json!(r.step_ids));
        if let Some(a) = &r.after_id {
            ev.insert("after".into(), json!(a));
        }
        ev.insert("deadline".into(), json!(ms(f.time)));
    }
    if !r.tags.is_empty() {
        ev.insert("tags".into(), json!(r.tags));
    }
    if f.suppressed_before > 0 {
        ev.insert("suppressed_before".into(), json!(f.suppressed_before));
    }
    if f.after_end_of_input {
        ev.insert("closed_by_end_of_input".into(), json!(true));
    }
    let finding = Finding {
        finding_info: FindingInfo {
            uid: uid.clone(),
            title: r.title.clone(),
            desc: Some(desc),
            types: vec!["correlation".into(), r.kind.name().into()],
            analytic: Analytic {
                uid: r.id.clone(),
                name: r.title.clone(),
                type_id: 1,
                type_name: "Rule".into(),
                category: Some("correlation".into()),
            },
            first_seen_time: Some(ms(s.first.unwrap_or(f.window.0))),
            last_seen_time: Some(ms(f.last_seen)),
        },
        subject: Subject {
            kind: "group".into(),
            value: subject,
        },
        src_endpoint: src.map(|ip| Endpoint {
            ip,
            port: None,
            hostname: None,
        }),
        dst_endpoint: dst.map(|ip| Endpoint {
            ip,
            port: None,
            hostname: None,
        }),
        connection_info: None,
        rule: None,
        evidence: ev,
        risk_score: None,
        risk_level: None,
        remediation: None,
        incident_pcap: None,
    };
    let mut event =
        Event::new(Timestamp::from_nanos(f.time), Body::Finding(finding)).with_severity(r.severity);
    event.priority = Priority::Normal;
    event.metadata.uid = Some(uid);
    event
}

/// The text of field `name` in a correlation meta-event's `evidence.group`.
pub(crate) fn group_field(event: &Event, name: &str, out: &mut String) -> bool {
    let Body::Finding(f) = &event.body else {
        return false;
    };
    let Some(v) = f.evidence.get("group").and_then(|g| g.get(name)) else {
        return false;
    };
    match v {
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let mut k = String::new();
        for p in ["a:b", "", "10.0.0.1"] {
            push_part(&mut k, p, 3);
        }
        assert_eq!(split_key(&k, 3), ["a:b", "", "10.0.0.1"]);
        let mut one = String::new();
        push_part(&mut one, "x:y", 1);
        assert_eq!(split_key(&one, 1), ["x:y"]);
        assert!(split_key("", 0).is_empty());
    }
}
