//! An [`AccessRecord`] as a `vigil_event` event: OCSF HTTP Activity
//! (4002), so logged requests flow through the same pipeline, rules and
//! store as requests seen on the wire.
//!
//! Mapping: the client is `src_endpoint` (with `$remote_port` when
//! logged); the server is `dst_endpoint`, its address when the log has one
//! (`$server_addr`, `%A`, the audit log's `host_ip`) and otherwise the
//! unspecified address of the client's family, with the Host as its
//! hostname. `connection_info` is TCP with empty flow and Community ids
//! ([`ConnectionInfo::tcp_from_log`]): a log line carries no flow.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vigil_event::{
    Body, ConnectionInfo, Endpoint, Event, HttpActivity, HttpRequest, HttpResponse, Url,
};

use crate::record::AccessRecord;

/// The record as an HTTP Activity event at the record's time, its
/// `metadata.log_name` set to `log_name` when given and its `raw_data` to
/// `raw_line` when given (the log line the record was parsed from, as
/// [`crate::LogReader::last_line`] returns it; a trailing `\r` is dropped
/// and bytes that are not UTF-8 are replaced), so rules that search the
/// whole record (Sigma keywords) can.
pub fn to_event(record: &AccessRecord, log_name: Option<&str>, raw_line: Option<&[u8]>) -> Event {
    let (hostname, port) = split_host(record.host.as_deref());
    let server_ip = record.server_addr.unwrap_or(match record.client {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let activity = HttpActivity {
        src_endpoint: Endpoint {
            ip: record.client,
            port: record.client_port,
            hostname: None,
        },
        dst_endpoint: Endpoint {
            ip: server_ip,
            port: record.server_port.or(port),
            hostname: hostname.clone(),
        },
        connection_info: ConnectionInfo::tcp_from_log(),
        http_request: HttpRequest {
            http_method: record.method.clone(),
            url: Url {
                hostname,
                port,
                path: record.path().to_owned(),
                query_string: record.query().map(str::to_owned),
                url_string: record.target.clone(),
            },
            version: record.protocol.clone(),
            user_agent: record.user_agent.clone(),
            referrer: record.referer.clone(),
            body_length: 0,
        },
        http_response: (record.status != 0).then_some(HttpResponse {
            code: record.status,
            message: None,
            content_type: None,
            length: record.bytes_sent,
        }),
        transaction: 0,
    };
    let mut event = Event::new(record.time, Body::Http(activity));
    event.raw_data = raw_line.map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        String::from_utf8_lossy(line).into_owned()
    });
    match log_name {
        Some(name) => event.with_log_name(name),
        None => event,
    }
}

/// `host[:port]` or `[v6]:port` into a hostname and port.
fn split_host(host: Option<&str>) -> (Option<String>, Option<u16>) {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return (None, None);
    };
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((name, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (Some(name.to_owned()), port);
        }
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(p) => (Some(name.to_owned()), Some(p)),
            Err(_) => (Some(host.to_owned()), None),
        },
        _ => (Some(host.to_owned()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Parser;

    #[test]
    fn a_combined_line_becomes_http_activity() {
        let line = br#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /shop?id=7 HTTP/1.1" 200 2326 "https://example.com/" "Mozilla/5.0""#;
        let record = Parser::nginx_combined().parse(line).unwrap();
        let event = to_event(&record, Some("access.log"), Some(line));
        assert_eq!(event.class_uid, 4002);
        assert_eq!(event.time, record.time.millis());
        assert_eq!(event.metadata.log_name.as_deref(), Some("access.log"));
        assert_eq!(
            event.raw_data.as_deref().map(str::as_bytes),
            Some(&line[..])
        );
        let Body::Http(http) = &event.body else {
            panic!("not http: {event:?}")
        };
        assert_eq!(http.src_endpoint.ip, record.client);
        assert_eq!(http.dst_endpoint.ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(http.connection_info.uid, "");
        assert_eq!(http.http_request.http_method, "GET");
        assert_eq!(http.http_request.url.path, "/shop");
        assert_eq!(http.http_request.url.query_string.as_deref(), Some("id=7"));
        assert_eq!(http.http_request.version, "HTTP/1.1");
        assert_eq!(http.http_request.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(
            http.http_request.referrer.as_deref(),
            Some("https://example.com/")
        );
        let response = http.http_response.as_ref().unwrap();
        assert_eq!((response.code, response.length), (200, 2326));
        // The client shows up as an observable, and the event round-trips.
        assert!(event.to_json_line().unwrap().contains("203.0.113.9"));
        let back = Event::from_json_line(&event.to_json_line().unwrap()).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn raw_data_is_the_line_the_reader_parsed() {
        let log = b"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /a?id=1%27 HTTP/1.1\" 200 5 \"-\" \"curl/8\"\r\n\
                    not a log line\n\
                    198.51.100.2 - - [10/Oct/2000:13:55:37 -0700] \"GET /b HTTP/1.1\" 404 0 \"-\" \"-\"\n";
        let mut reader = crate::LogReader::new("access.log", &log[..], Parser::nginx_combined());
        let mut record = AccessRecord::default();
        let mut raw = Vec::new();
        while reader.next_into(&mut record).unwrap() {
            let event = to_event(&record, None, Some(reader.last_line()));
            raw.push(event.raw_data.unwrap());
        }
        assert_eq!(
            raw,
            [
                r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /a?id=1%27 HTTP/1.1" 200 5 "-" "curl/8""#,
                r#"198.51.100.2 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.1" 404 0 "-" "-""#,
            ]
        );
        assert_eq!(reader.stats().bad, 1);
    }

    #[test]
    fn server_and_host_when_logged() {
        let p = Parser::nginx(
            "$remote_addr:$remote_port $server_addr:$server_port $host \"$request\" $status",
        )
        .unwrap();
        let r =
            p.parse(br#"2001:db8::1:5000 2001:db8::2:443 shop.example:8443 "GET / HTTP/2.0" 200"#);
        // An IPv6 address before `:port` is ambiguous in this layout.
        assert!(r.is_err());
        let r = p
            .parse(br#"10.0.0.1:5000 10.0.0.2:443 [2001:db8::2]:8443 "GET / HTTP/2.0" 200"#)
            .unwrap();
        let event = to_event(&r, None, None);
        assert_eq!(event.raw_data, None);
        let Body::Http(http) = &event.body else {
            panic!("not http")
        };
        assert_eq!(http.src_endpoint.port, Some(5000));
        assert_eq!(http.dst_endpoint.ip, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(http.dst_endpoint.port, Some(443));
        assert_eq!(
            http.http_request.url.hostname.as_deref(),
            Some("2001:db8::2")
        );
        assert_eq!(http.http_request.url.port, Some(8443));
        assert_eq!(
            split_host(Some("example.com")),
            (Some("example.com".into()), None)
        );
        assert_eq!(
            split_host(Some("example.com:x")),
            (Some("example.com:x".into()), None)
        );
    }
}
