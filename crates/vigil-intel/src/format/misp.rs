//! MISP: one event (`{"Event": {…}}`, as MISP exports it and as a feed
//! holds one per file) and a feed's `manifest.json` (event uuid → summary).
//!
//! Attributes are read from `Event.Attribute` and every
//! `Event.Object[].Attribute`; only those marked `to_ids` (MISP's "use for
//! detection") and not deleted are imported, the rest are counted as
//! skipped. Types: `ip-src`, `ip-dst` (and `|port`), `domain`, `hostname`,
//! `domain|ip` (both), `url`, `md5`, `sha1`, `sha256` (and `filename|…`),
//! `email`, `email-src`, `email-dst`, `user-agent`,
//! `ja3-fingerprint-md5`, `ja4-fingerprint`; other types are skipped and
//! counted by type. The event's `threat_level_id` gives the severity
//! (1 high, 2 medium, 3 low), its tags, the attribute's tags and category
//! the tags, the attribute's `first_seen`/`last_seen` (else its
//! `timestamp`) the times, and `misp:event/<uuid>` the reference.

use serde_json::Value;
use vigil_event::Severity;

use super::{parse_time, Entry, Format, FormatError, Parsed};
use crate::indicator::{classify, normalize, Kind};

/// Parse one MISP event (`{"Event": …}`, a bare event object, or
/// `{"response": [{"Event": …}, …]}`).
pub fn parse_event(bytes: &[u8]) -> Result<Parsed, FormatError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))?;
    let events: Vec<&Value> = if let Some(e) = doc.get("Event") {
        vec![e]
    } else if let Some(Value::Array(r)) = doc.get("response") {
        r.iter().filter_map(|x| x.get("Event")).collect()
    } else if doc.get("Attribute").is_some() || doc.get("Object").is_some() {
        vec![&doc]
    } else {
        return Err(FormatError::Shape {
            format: Format::Misp,
            reason: "no \"Event\"".into(),
        });
    };
    let mut out = Parsed::default();
    let many = events.len() > 1;
    for (n, event) in events.into_iter().enumerate() {
        let prefix = if many {
            format!("response[{n}].Event")
        } else {
            "Event".to_owned()
        };
        read_event(event, &prefix, &mut out);
    }
    Ok(out)
}

fn tag_names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: &Value, k: &str) -> bool {
    match v.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

fn read_event(event: &Value, prefix: &str, out: &mut Parsed) {
    let severity = match text(event, "threat_level_id").as_deref() {
        Some("1") => Some(Severity::High),
        Some("2") => Some(Severity::Medium),
        Some("3") => Some(Severity::Low),
        _ => None,
    };
    let event_tags = tag_names(event.get("Tag"));
    let reference = text(event, "uuid").map(|u| format!("misp:event/{u}"));
    let mut template = Entry {
        severity,
        tags: event_tags,
        reference,
        ..Entry::default()
    };
    if let Some(info) = text(event, "info").filter(|i| !i.is_empty()) {
        template.tags.push(info);
    }
    let mut lists: Vec<(String, &Value)> = Vec::new();
    if let Some(Value::Array(a)) = event.get("Attribute") {
        for (i, attr) in a.iter().enumerate() {
            lists.push((format!("{prefix}.Attribute[{i}]"), attr));
        }
    }
    if let Some(Value::Array(objects)) = event.get("Object") {
        for (o, obj) in objects.iter().enumerate() {
            if flag(obj, "deleted") {
                continue;
            }
            if let Some(Value::Array(a)) = obj.get("Attribute") {
                for (i, attr) in a.iter().enumerate() {
                    lists.push((format!("{prefix}.Object[{o}].Attribute[{i}]"), attr));
                }
            }
        }
    }
    for (location, attr) in lists {
        read_attribute(attr, &location, &template, out);
    }
}

fn read_attribute(attr: &Value, location: &str, template: &Entry, out: &mut Parsed) {
    let (Some(ty), Some(value)) = (text(attr, "type"), text(attr, "value")) else {
        out.error(location, "attribute without type or value");
        return;
    };
    if flag(attr, "deleted") {
        out.skip("misp: deleted attribute");
        return;
    }
    if attr.get("to_ids").is_some() && !flag(attr, "to_ids") {
        out.skip("misp: not for detection (to_ids false)");
        return;
    }
    // (kind, value) pairs of a compound type.
    let pairs: Vec<(Option<Kind>, &str)> = match ty.as_str() {
        "ip-src" | "ip-dst" => vec![(None, value.as_str())],
        "ip-src|port" | "ip-dst|port" => vec![(None, value.split('|').next().unwrap_or_default())],
        "domain" | "hostname" => vec![(Some(Kind::Domain), value.as_str())],
        "domain|ip" | "hostname|ip" => {
            let (d, ip) = value.split_once('|').unwrap_or((value.as_str(), ""));
            vec![(Some(Kind::Domain), d), (None, ip)]
        }
        "hostname|port" => vec![(
            Some(Kind::Domain),
            value.split('|').next().unwrap_or_default(),
        )],
        "url" => vec![(Some(Kind::Url), value.as_str())],
        "md5" => vec![(Some(Kind::Md5), value.as_str())],
        "sha1" | "x509-fingerprint-sha1" => vec![(Some(Kind::Sha1), value.as_str())],
        "sha256" => vec![(Some(Kind::Sha256), value.as_str())],
        "filename|md5" => vec![(
            Some(Kind::Md5),
            value.rsplit('|').next().unwrap_or_default(),
        )],
        "filename|sha1" => vec![(
            Some(Kind::Sha1),
            value.rsplit('|').next().unwrap_or_default(),
        )],
        "filename|sha256" => vec![(
            Some(Kind::Sha256),
            value.rsplit('|').next().unwrap_or_default(),
        )],
        "email" | "email-src" | "email-dst" => vec![(Some(Kind::Email), value.as_str())],
        "user-agent" => vec![(Some(Kind::UserAgent), value.as_str())],
        "ja3-fingerprint-md5" => vec![(Some(Kind::Ja3), value.as_str())],
        "ja4-fingerprint" => vec![(Some(Kind::Ja4), value.as_str())],
        other => {
            out.skip(format!("misp: type {other}"));
            return;
        }
    };
    let mut entry = template.clone();
    entry.tags.extend(tag_names(attr.get("Tag")));
    if let Some(c) = text(attr, "category") {
        entry.tags.push(c);
    }
    entry.first_seen = text(attr, "first_seen").and_then(|s| parse_time(&s));
    entry.last_seen = text(attr, "last_seen")
        .and_then(|s| parse_time(&s))
        .or_else(|| text(attr, "timestamp").and_then(|s| parse_time(&s)));
    for (kind, raw) in pairs {
        let result = match kind {
            Some(k) => normalize(k, raw).map(|v| (k, v)),
            None => classify(raw).and_then(|(k, v)| {
                if k.is_ip() {
                    Ok((k, v))
                } else {
                    Err(format!("{raw:?} is not an IP address"))
                }
            }),
        };
        match result {
            Ok((k, v)) => {
                let mut e = entry.clone();
                e.kind = Some(k);
                e.value = v;
                out.entries.push(e);
            }
            Err(message) => out.error(format!("{location} ({ty})"), message),
        }
    }
}

/// The event uuids a feed's `manifest.json` lists, in its order.
pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<String>, FormatError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))?;
    let Value::Object(map) = doc else {
        return Err(FormatError::Shape {
            format: Format::MispFeed,
            reason: "manifest.json is not an object of events".into(),
        });
    };
    Ok(map
        .keys()
        .filter(|k| k.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') && !k.is_empty())
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_objects_and_skips() {
        let json = br#"{"Event": {"uuid": "u1", "info": "Campaign", "threat_level_id": "1",
            "Tag": [{"name": "tlp:white"}],
            "Attribute": [
                {"type": "ip-dst|port", "value": "203.0.113.9|443", "to_ids": true, "category": "Network activity"},
                {"type": "domain|ip", "value": "evil.example|203.0.113.10", "to_ids": true},
                {"type": "comment", "value": "hello", "to_ids": false},
                {"type": "text", "value": "x", "to_ids": true},
                {"type": "md5", "value": "zz", "to_ids": true}
            ],
            "Object": [{"name": "file", "Attribute": [
                {"type": "sha256", "value": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "to_ids": true, "timestamp": "1711972800"}
            ]}]}}"#;
        let p = parse_event(json).unwrap();
        let got: Vec<_> = p
            .entries
            .iter()
            .map(|e| (e.kind.unwrap(), e.value.as_str()))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(p.entries[0].severity, Some(Severity::High));
        assert!(p.entries[0].tags.contains(&"tlp:white".to_owned()));
        assert_eq!(p.entries[0].reference.as_deref(), Some("misp:event/u1"));
        assert_eq!(p.entries[3].last_seen, Some(1_711_972_800_000));
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].location, "Event.Attribute[4] (md5)");
        assert_eq!(p.skipped.values().sum::<usize>(), 2);
        assert!(parse_event(b"{}").is_err());
        assert!(parse_event(b"nope").is_err());
    }
}
