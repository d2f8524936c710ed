//! JSON access logs: one object per line, keys mapped to record fields.
//!
//! [`JsonMapping`] lists, for each record field, the keys to try in order
//! (`a.b` walks into nested objects). The defaults cover nginx JSON
//! layouts built with `escape=json` from variable names (`remote_addr`,
//! `time_iso8601`, `request`, `status`, ...) and the usual short names
//! (`client_ip`, `method`, `path`, `user_agent`, ...). Values may be JSON
//! strings or numbers. Top-level keys that no mapping uses are kept in
//! [`AccessRecord::fields`] under their own names.
//!
//! nginx's `escape=json` writes bytes above 0x7f unescaped, so a line may
//! not be UTF-8; such a line is read with invalid bytes replaced.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::format::{set_opt, set_string, split_request, time, ParseError};
use crate::record::{AccessRecord, MAX_FIELDS};

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Which JSON keys hold which record field, each tried in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonMapping {
    /// The time: RFC 3339, common log format, or epoch seconds.
    pub time: Vec<String>,
    /// The client address (required).
    pub client: Vec<String>,
    /// The client port.
    pub client_port: Vec<String>,
    /// The authenticated user.
    pub user: Vec<String>,
    /// The whole request line (`GET /a HTTP/1.1`); used before the parts.
    pub request: Vec<String>,
    /// The method, when there is no request line.
    pub method: Vec<String>,
    /// The target with its query, when there is no request line.
    pub target: Vec<String>,
    /// The query string, appended to a target that has none.
    pub query: Vec<String>,
    /// The protocol, when there is no request line.
    pub protocol: Vec<String>,
    /// The response status.
    pub status: Vec<String>,
    /// The response bytes.
    pub bytes_sent: Vec<String>,
    /// The Referer header.
    pub referer: Vec<String>,
    /// The User-Agent header.
    pub user_agent: Vec<String>,
    /// The Host header or server name.
    pub host: Vec<String>,
    /// The request time in seconds.
    pub request_time: Vec<String>,
    /// The X-Forwarded-For header.
    pub forwarded_for: Vec<String>,
    /// The server address.
    pub server_addr: Vec<String>,
    /// The server port.
    pub server_port: Vec<String>,
}

impl Default for JsonMapping {
    fn default() -> Self {
        Self {
            time: keys(&[
                "time_iso8601",
                "time_local",
                "msec",
                "time",
                "timestamp",
                "@timestamp",
                "ts",
            ]),
            client: keys(&[
                "remote_addr",
                "client_ip",
                "clientip",
                "client",
                "remote_ip",
                "ip",
            ]),
            client_port: keys(&["remote_port", "client_port"]),
            user: keys(&["remote_user", "user"]),
            request: keys(&["request"]),
            method: keys(&["request_method", "method"]),
            target: keys(&["request_uri", "uri", "path", "url"]),
            query: keys(&["args", "query_string", "query"]),
            protocol: keys(&["server_protocol", "protocol"]),
            status: keys(&["status", "status_code", "response_code"]),
            bytes_sent: keys(&["body_bytes_sent", "bytes_sent", "bytes", "size"]),
            referer: keys(&["http_referer", "referer", "referrer"]),
            user_agent: keys(&["http_user_agent", "user_agent", "useragent", "agent"]),
            host: keys(&["host", "http_host", "server_name"]),
            request_time: keys(&["request_time"]),
            forwarded_for: keys(&["http_x_forwarded_for", "x_forwarded_for", "forwarded_for"]),
            server_addr: keys(&["server_addr"]),
            server_port: keys(&["server_port"]),
        }
    }
}

impl JsonMapping {
    fn all(&self) -> impl Iterator<Item = &String> {
        [
            &self.time,
            &self.client,
            &self.client_port,
            &self.user,
            &self.request,
            &self.method,
            &self.target,
            &self.query,
            &self.protocol,
            &self.status,
            &self.bytes_sent,
            &self.referer,
            &self.user_agent,
            &self.host,
            &self.request_time,
            &self.forwarded_for,
            &self.server_addr,
            &self.server_port,
        ]
        .into_iter()
        .flatten()
    }
}

/// A JSON-lines parser. Build it with [`Parser::json`](crate::format::Parser::json).
#[derive(Debug, Clone)]
pub struct JsonParser {
    mapping: Box<JsonMapping>,
    /// Top-level keys some mapping uses (not copied into `fields`).
    mapped: Vec<String>,
}

impl JsonParser {
    /// A parser with this mapping.
    pub fn new(mapping: JsonMapping) -> Self {
        let mut mapped: Vec<String> = mapping
            .all()
            .map(|k| k.split('.').next().unwrap_or(k).to_owned())
            .collect();
        mapped.sort();
        mapped.dedup();
        Self {
            mapping: Box::new(mapping),
            mapped,
        }
    }

    pub(crate) fn parse_into(
        &self,
        line: &[u8],
        record: &mut AccessRecord,
    ) -> Result<(), ParseError> {
        let object = parse_object(line)?;
        let m = &self.mapping;
        let get = |names: &[String]| lookup(&object, names);

        let client = get(&m.client).ok_or(ParseError::Missing("client address"))?;
        record.client = client
            .trim()
            .parse()
            .map_err(|_| ParseError::bad_value("client", client.as_bytes(), "an ip address"))?;
        record.time = match get(&m.time) {
            Some(t) => time::parse_any(&t)
                .ok_or_else(|| ParseError::bad_value("time", t.as_bytes(), "a time"))?,
            None => return Err(ParseError::Missing("time")),
        };
        record.method.clear();
        record.target.clear();
        record.protocol.clear();
        if let Some(request) = get(&m.request) {
            split_request(request.as_bytes(), record);
        } else {
            if let Some(method) = get(&m.method) {
                record.method.push_str(&method);
            }
            if let Some(target) = get(&m.target) {
                set_string(&mut record.target, &target);
            }
            if let Some(proto) = get(&m.protocol) {
                record.protocol.push_str(&proto);
            }
            if let Some(query) = get(&m.query) {
                if !record.target.contains('?') {
                    record.target.push('?');
                    record
                        .target
                        .push_str(query.strip_prefix('?').unwrap_or(&query));
                }
            }
        }
        if record.target.is_empty() && record.method.is_empty() {
            return Err(ParseError::Missing("request"));
        }
        record.status = match get(&m.status) {
            Some(s) => s
                .parse()
                .map_err(|_| ParseError::bad_value("status", s.as_bytes(), "a status code"))?,
            None => 0,
        };
        record.bytes_sent = match get(&m.bytes_sent) {
            Some(b) => b
                .parse()
                .map_err(|_| ParseError::bad_value("bytes", b.as_bytes(), "a byte count"))?,
            None => 0,
        };
        record.request_time = get(&m.request_time).and_then(|t| t.parse().ok());
        record.client_port = get(&m.client_port).and_then(|p| p.parse().ok());
        record.server_addr = get(&m.server_addr).and_then(|a| a.parse().ok());
        record.server_port = get(&m.server_port).and_then(|p| p.parse().ok());
        set_opt_from(&mut record.user, get(&m.user));
        set_opt_from(&mut record.referer, get(&m.referer));
        set_opt_from(&mut record.user_agent, get(&m.user_agent));
        set_opt_from(&mut record.host, get(&m.host));
        set_opt_from(&mut record.forwarded_for, get(&m.forwarded_for));
        record.waf_matches.clear();
        record.fields.clear();
        for (key, value) in &object {
            if record.fields.len() >= MAX_FIELDS {
                break;
            }
            if self.mapped.binary_search(key).is_ok() {
                continue;
            }
            if let Some(text) = scalar(value) {
                record.fields.push((key.clone(), text));
            }
        }
        Ok(())
    }
}

/// The line as a JSON object (lossy when the line is not UTF-8).
pub(crate) fn parse_object(line: &[u8]) -> Result<Map<String, Value>, ParseError> {
    let value: Value = match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_str(&String::from_utf8_lossy(line)),
    }
    .map_err(|e| ParseError::Json(e.to_string()))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ParseError::Json("the line is not an object".into())),
    }
}

/// The first present, non-empty, non-`-` value among `names`, as text.
fn lookup(object: &Map<String, Value>, names: &[String]) -> Option<String> {
    names.iter().find_map(|name| {
        let mut parts = name.split('.');
        let mut value = object.get(parts.next()?)?;
        for part in parts {
            value = value.get(part)?;
        }
        scalar(value)
    })
}

/// A string or number as text; `None` for null, `""`, `-` and containers.
pub(crate) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.is_empty() || s == "-" => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn set_opt_from(dst: &mut Option<String>, value: Option<String>) {
    match value {
        Some(v) => set_opt(dst, &v),
        None => *dst = None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::format::Parser;

    #[test]
    fn nginx_json_layout_with_defaults() {
        let p = Parser::json(JsonMapping::default());
        let r = p
            .parse(br#"{"time_iso8601":"2024-03-01T10:00:00+00:00","remote_addr":"192.0.2.1","remote_user":"","request":"GET /a?b=1 HTTP/1.1","status":"200","body_bytes_sent":"512","request_time":"0.010","http_referer":"","http_user_agent":"Mozilla/5.0 \"quoted\"","http_x_request_id":"r-9","upstream_addr":"-"}"#)
            .unwrap();
        assert_eq!(r.client, IpAddr::from([192, 0, 2, 1]));
        assert_eq!(r.time.secs(), 1_709_287_200);
        assert_eq!(r.user, None);
        assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/a?b=1"));
        assert_eq!((r.status, r.bytes_sent), (200, 512));
        assert_eq!(r.request_time, Some(0.01));
        assert_eq!(r.referer, None);
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 \"quoted\""));
        assert_eq!(r.field("http_x_request_id"), Some("r-9"));
        assert_eq!(r.field("upstream_addr"), None);
    }

    #[test]
    fn parts_numbers_nesting_and_custom_names() {
        let mapping = JsonMapping {
            client: vec!["src.ip".into()],
            user_agent: vec!["headers.ua".into()],
            ..JsonMapping::default()
        };
        let p = Parser::json(mapping);
        let r = p
            .parse(br#"{"ts":1700000000.5,"src":{"ip":"2001:db8::1"},"method":"POST","path":"/login","query":"next=/","status":401,"bytes":0,"headers":{"ua":"python-requests/2.31"}}"#)
            .unwrap();
        assert_eq!(r.time.nanos(), 1_700_000_000_500_000_000);
        assert_eq!(r.target, "/login?next=/");
        assert_eq!(r.status, 401);
        assert_eq!(r.user_agent.as_deref(), Some("python-requests/2.31"));
    }

    #[test]
    fn invalid_utf8_and_bad_records() {
        let p = Parser::json(JsonMapping::default());
        let mut line =
            br#"{"time":"2024-03-01T10:00:00Z","remote_addr":"1.2.3.4","request":"GET /"#.to_vec();
        line.push(0xff);
        line.extend_from_slice(br#" HTTP/1.1","status":200}"#);
        let r = p.parse(&line).unwrap();
        assert_eq!(r.target, "/\u{fffd}");
        assert_eq!(
            p.parse(b"[1,2]").unwrap_err().to_string(),
            "not a json object: the line is not an object"
        );
        assert_eq!(
            p.parse(br#"{"time":"2024-03-01T10:00:00Z"}"#).unwrap_err(),
            ParseError::Missing("client address")
        );
        assert!(p
            .parse(br#"{"remote_addr":"1.2.3.4","time":"x","request":"GET / HTTP/1.1"}"#)
            .is_err());
        assert!(p.parse(b"{not json").is_err());
    }
}
