//! ModSecurity v3 and Coraza JSON audit logs (`SecAuditLogFormat JSON`,
//! serial log: one transaction object per line).
//!
//! Both write `{"transaction": {...}}` with `client_ip`, `client_port`,
//! `host_ip`, `host_port` and a `request` (`method`, `uri`,
//! `http_version`, `headers`) and `response`. They differ in the rest,
//! and both are read:
//!
//! | | ModSecurity v3 (libmodsecurity) | Coraza |
//! |---|---|---|
//! | time | `time_stamp`: `Wed Apr 23 22:15:00 2025` | `unix_timestamp` (s or ns), `timestamp` |
//! | status | `response.http_code` | `response.status` |
//! | headers | `{"Name": "value"}` | `{"Name": ["value", ...]}` |
//! | matches | `transaction.messages[]`: `message`, `details.{ruleId, severity, tags}` | top-level `messages[]`: `message`, `data.{id, msg, severity, tags}` |
//!
//! The `asctime` time of ModSecurity v3 has no zone; it is read as UTC.

use serde_json::{Map, Value};

use crate::format::json::{parse_object, scalar};
use crate::format::{header_field_name, set_opt, set_string, time, ParseError};
use crate::record::{AccessRecord, WafMatch, MAX_FIELDS};

/// Rule matches kept per record; more are dropped.
pub const MAX_WAF_MATCHES: usize = 64;

/// A ModSecurity/Coraza audit-log parser. Build it with
/// [`Parser::modsecurity`](crate::format::Parser::modsecurity).
#[derive(Debug, Clone, Default)]
pub struct ModSecParser {}

impl ModSecParser {
    pub(crate) fn parse_into(
        &self,
        line: &[u8],
        record: &mut AccessRecord,
    ) -> Result<(), ParseError> {
        let root = parse_object(line)?;
        let tx = root
            .get("transaction")
            .and_then(Value::as_object)
            .ok_or(ParseError::Missing("transaction"))?;
        let text = |v: Option<&Value>| v.and_then(scalar);

        let client =
            text(tx.get("client_ip")).ok_or(ParseError::Missing("transaction.client_ip"))?;
        record.client = client
            .parse()
            .map_err(|_| ParseError::bad_value("client_ip", client.as_bytes(), "an ip address"))?;
        record.client_port = text(tx.get("client_port")).and_then(|p| p.parse().ok());
        record.server_addr = text(tx.get("host_ip")).and_then(|a| a.parse().ok());
        record.server_port = text(tx.get("host_port")).and_then(|p| p.parse().ok());
        record.time = transaction_time(tx).ok_or(ParseError::Missing("transaction time"))?;

        let request = tx.get("request").and_then(Value::as_object);
        let req = |key: &str| text(request.and_then(|r| r.get(key)));
        set_string(&mut record.method, &req("method").unwrap_or_default());
        set_string(&mut record.target, &req("uri").unwrap_or_default());
        record.protocol.clear();
        if let Some(p) = req("protocol") {
            record.protocol.push_str(&p);
        } else if let Some(v) = req("http_version") {
            record.protocol.push_str("HTTP/");
            record.protocol.push_str(&v);
        }
        if record.method.is_empty() && record.target.is_empty() {
            return Err(ParseError::Missing("transaction.request"));
        }
        let response = tx.get("response").and_then(Value::as_object);
        record.status = response
            .and_then(|r| text(r.get("http_code")).or_else(|| text(r.get("status"))))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        record.bytes_sent = response
            .and_then(|r| r.get("headers"))
            .and_then(|h| header(h, "content-length"))
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);

        let headers = request.and_then(|r| r.get("headers"));
        let hdr = |name: &str| headers.and_then(|h| header(h, name));
        set_or_clear(&mut record.user_agent, hdr("user-agent"));
        set_or_clear(&mut record.referer, hdr("referer"));
        set_or_clear(&mut record.host, hdr("host"));
        set_or_clear(&mut record.forwarded_for, hdr("x-forwarded-for"));
        record.user = None;
        record.request_time = None;

        record.fields.clear();
        if let Some(id) = text(tx.get("unique_id")).or_else(|| text(tx.get("id"))) {
            record.fields.push(("unique_id".to_owned(), id));
        }
        if let Some(Value::Object(map)) = headers {
            for (name, value) in map {
                if record.fields.len() >= MAX_FIELDS {
                    break;
                }
                let lower = name.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "user-agent" | "referer" | "host" | "x-forwarded-for"
                ) {
                    continue;
                }
                if let Some(v) = header_value(value) {
                    record.fields.push((header_field_name("http_", name), v));
                }
            }
        }

        record.waf_matches.clear();
        let messages = tx
            .get("messages")
            .or_else(|| root.get("messages"))
            .and_then(Value::as_array);
        for message in messages.into_iter().flatten().take(MAX_WAF_MATCHES) {
            if let Some(m) = waf_match(message) {
                record.waf_matches.push(m);
            }
        }
        Ok(())
    }
}

fn transaction_time(tx: &Map<String, Value>) -> Option<vigil_event::Timestamp> {
    if let Some(n) = tx.get("unix_timestamp").and_then(Value::as_i64) {
        // Coraza v2 wrote seconds, v3 writes nanoseconds.
        let unit = if n > 100_000_000_000_000 {
            1
        } else {
            1_000_000_000
        };
        return Some(vigil_event::Timestamp::from_nanos(n.checked_mul(unit)?));
    }
    ["time_stamp", "timestamp"]
        .iter()
        .find_map(|k| tx.get(*k).and_then(Value::as_str))
        .and_then(time::parse_any)
}

/// A header by case-insensitive name; a list of values joins with `, `.
fn header(headers: &Value, name: &str) -> Option<String> {
    let map = headers.as_object()?;
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| header_value(v))
}

fn header_value(value: &Value) -> Option<String> {
    match value {
        Value::Array(values) => {
            let parts: Vec<String> = values.iter().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        other => scalar(other),
    }
}

fn waf_match(message: &Value) -> Option<WafMatch> {
    let details = message.get("details").or_else(|| message.get("data"))?;
    let id = details
        .get("ruleId")
        .or_else(|| details.get("id"))
        .and_then(scalar)?;
    let text = details
        .get("msg")
        .and_then(scalar)
        .or_else(|| message.get("message").and_then(scalar))
        .unwrap_or_default();
    let tags = details
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    Some(WafMatch {
        id,
        message: text,
        severity: details.get("severity").and_then(scalar),
        tags,
    })
}

fn set_or_clear(dst: &mut Option<String>, value: Option<String>) {
    match value {
        Some(v) => set_opt(dst, &v),
        None => *dst = None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::format::Parser;

    // The shape libmodsecurity v3 writes (SecAuditLogFormat JSON, parts
    // ABIJDEFHZ), as in its audit-log tests.
    pub(crate) const MODSEC_V3: &str = r#"{"transaction":{"client_ip":"192.0.2.10","time_stamp":"Wed Apr 23 22:15:00 2025","server_id":"a1b2c3","client_port":51234,"host_ip":"10.0.0.5","host_port":80,"unique_id":"174546090049.221630","request":{"method":"GET","http_version":1.1,"uri":"/login.php?user=admin' OR '1'='1","headers":{"Host":"secure-app.test","User-Agent":"sqlmap/1.7.2#stable (https://sqlmap.org)","Accept":"*/*","X-Request-Id":"abc"}},"response":{"body":"","http_code":403,"headers":{"Content-Length":"153"}},"producer":{"modsecurity":"ModSecurity v3.0.12 (Linux)","connector":"ModSecurity-nginx v1.0.3","secrules_engine":"Enabled","components":["OWASP_CRS/4.0.0"]},"messages":[{"message":"SQL Injection Attack Detected via libinjection","details":{"match":"detected SQLi using libinjection.","reference":"v15,23","ruleId":"942100","file":"/etc/modsecurity/crs/REQUEST-942-APPLICATION-ATTACK-SQLI.conf","lineNumber":"46","data":"Matched Data: s&sos found","severity":"2","ver":"OWASP_CRS/4.0.0","rev":"","tags":["application-multi","attack-sqli","paranoia-level/1"],"maturity":"0","accuracy":"0"}},{"message":"Inbound Anomaly Score Exceeded (Total Score: 5)","details":{"ruleId":"949110","severity":"0","tags":["anomaly-evaluation"]}}]}}"#;

    // Coraza's JSON audit layout (coraza.io logging reference).
    pub(crate) const CORAZA: &str = r#"{"transaction":{"timestamp":"02/Jan/2006:15:04:20 -0700","unix_timestamp":1629575755,"id":"ABCDEFGHIJKMNLAB","client_ip":"127.0.0.1","client_port":54481,"host_ip":"127.0.0.1","host_port":80,"server_id":"something","request":{"method":"POST","uri":"/something.php","http_version":"1.1","body":"some-body=with-values","headers":{"Content-Type":["application/x-www-form-urlencoded"],"User-Agent":["Mozilla/5.0"],"Accept":["text/html"]}},"response":{"status":200,"headers":{"Set-Cookie":["a=b"]}},"producer":{"connector":"coraza-caddy","version":"1.0","server":"Caddy 2","rule_engine":"CORERULESET/3.3"}},"messages":[{"actionset":"Warning","message":"Pattern match \"\\\\< ?script\\\\b\" at ARGS_NAMES:<script.","data":{"file":"/etc/coraza/crs/rules.conf","line":4485,"id":100521,"rev":"1","msg":"some message","data":"some logdata","severity":5,"ver":"OWASP_CRS/3","maturity":10,"accuracy":10,"tags":["some-tag","more-tags"]}}]}"#;

    #[test]
    fn modsecurity_v3_record() {
        let r = Parser::modsecurity().parse(MODSEC_V3.as_bytes()).unwrap();
        assert_eq!(r.client, IpAddr::from([192, 0, 2, 10]));
        assert_eq!(r.client_port, Some(51234));
        assert_eq!(r.server_addr, Some(IpAddr::from([10, 0, 0, 5])));
        assert_eq!(r.server_port, Some(80));
        assert_eq!(r.time.secs(), 1_745_446_500);
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/login.php?user=admin' OR '1'='1");
        assert_eq!(r.protocol, "HTTP/1.1");
        assert_eq!(r.status, 403);
        assert_eq!(r.bytes_sent, 153);
        assert_eq!(r.host.as_deref(), Some("secure-app.test"));
        assert_eq!(
            r.user_agent.as_deref(),
            Some("sqlmap/1.7.2#stable (https://sqlmap.org)")
        );
        assert_eq!(r.field("http_x_request_id"), Some("abc"));
        assert_eq!(r.field("unique_id"), Some("174546090049.221630"));
        assert_eq!(r.waf_matches.len(), 2);
        let m = &r.waf_matches[0];
        assert_eq!(m.id, "942100");
        assert_eq!(m.message, "SQL Injection Attack Detected via libinjection");
        assert_eq!(m.severity.as_deref(), Some("2"));
        assert!(m.tags.iter().any(|t| t == "attack-sqli"));
    }

    #[test]
    fn coraza_record() {
        let r = Parser::modsecurity().parse(CORAZA.as_bytes()).unwrap();
        assert_eq!(r.time.secs(), 1_629_575_755);
        assert_eq!(r.method, "POST");
        assert_eq!(r.status, 200);
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(
            r.field("http_content_type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.waf_matches.len(), 1);
        assert_eq!(r.waf_matches[0].id, "100521");
        assert_eq!(r.waf_matches[0].message, "some message");
        assert_eq!(r.waf_matches[0].severity.as_deref(), Some("5"));
        assert_eq!(r.waf_matches[0].tags, vec!["some-tag", "more-tags"]);
    }

    #[test]
    fn not_an_audit_record() {
        let p = Parser::modsecurity();
        assert_eq!(
            p.parse(br#"{"a":1}"#).unwrap_err(),
            ParseError::Missing("transaction")
        );
        assert!(p.parse(br#"{"transaction":{"client_ip":"x"}}"#).is_err());
        assert!(p
            .parse(br#"{"transaction":{"client_ip":"1.2.3.4","time_stamp":"Wed Apr 23 22:15:00 2025"}}"#)
            .is_err());
    }
}
