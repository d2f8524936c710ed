//! End to end against a real nginx: the test starts nginx on 127.0.0.1
//! with its own prefix, config, logs and pid file in a temp directory,
//! sends requests (odd bytes in the target, a quote and a backslash in the
//! User-Agent, a raw TLS ClientHello on the plain port), and reads nginx's
//! own log lines back with the parsers: `combined`, a custom `log_format`,
//! and an `escape=json` format (through its template and through the JSON
//! reader). Only the nginx process this test started is stopped.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{free_port, Nginx};

use vigil_weblog::detect::detect;
use vigil_weblog::format::JsonMapping;
use vigil_weblog::{AccessRecord, Follower, LogReader, Parser};

const CUSTOM: &str = r#"log_format custom '$remote_addr:$remote_port [$time_iso8601] '
    '"$request_method $request_uri $server_protocol" $status $body_bytes_sent '
    '$request_time "$http_user_agent" ck=$cookie_sid rid=$http_x_request_id';"#;

const JSON: &str = r#"log_format jsonl escape=json '{"time_iso8601":"$time_iso8601",'
    '"remote_addr":"$remote_addr","request":"$request","status":$status,'
    '"body_bytes_sent":$body_bytes_sent,"http_referer":"$http_referer",'
    '"http_user_agent":"$http_user_agent","cookie_sid":"$cookie_sid"}';"#;

const INDEX: &str = "<html><body>hello from the vigil nginx test</body></html>\n";

/// The nginx this test started; killed (only it) when dropped.
fn start_nginx(nginx: &Path, dir: &Path, port: u16) -> Nginx {
    let d = dir.display();
    let http = format!(
        "  {CUSTOM}\n  {JSON}\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {d}/html;\n\
         access_log {d}/combined.log;\n    access_log {d}/custom.log custom;\n\
         access_log {d}/json.log jsonl;\n    location / {{ }}\n  }}"
    );
    support::start_nginx(nginx, dir, port, INDEX, &http)
}

/// Send raw bytes, half-close, read the whole answer.
fn send(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn wait_for_lines(path: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read(path).unwrap_or_default();
        if text.iter().filter(|b| **b == b'\n').count() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} has fewer than {n} lines",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_all(path: &Path, parser: Parser) -> Vec<AccessRecord> {
    let mut reader = LogReader::new(
        path.display().to_string(),
        vigil_weblog::source::open(path).unwrap(),
        parser,
    );
    let records: Vec<AccessRecord> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        reader.stats().bad,
        0,
        "{}: {:?}",
        path.display(),
        reader.stats().samples
    );
    records
}

/// A TLS 1.2/1.3 ClientHello's first bytes, as a browser sends to https://
/// on what is a plain-HTTP port.
const TLS_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 0x5a, 0x1f, 0x00, 0x22, 0x7e,
    0x80, 0xff, 0x20, 0x5c, 0x0a, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00,
];

const UA_ODD: &str = r#"Mozilla/5.0 "quoted" back\slash €"#;

#[test]
fn nginx_writes_what_the_parsers_read_back() {
    let Some(nginx) = vigil_testkit::require_tool("nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir_path: PathBuf = dir.path().to_owned();
    let port = free_port();
    let server = start_nginx(&nginx, &dir_path, port);

    let ok = send(
        port,
        format!(
            "GET /index.html?x=1&y=%22 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {UA_ODD}\r\n\
             Referer: http://ref.example/page?a=b\r\nCookie: sid=abc123; other=1\r\n\
             X-Request-Id: r-1\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(
        ok.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&ok)
    );
    let missing = send(
        port,
        b"POST /missing/%ff%22odd HTTP/1.0\r\nUser-Agent: curl/8.5.0\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(
        missing.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&missing)
    );
    let head = send(port, b"HEAD / HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let tls = send(port, TLS_HELLO);
    assert!(
        tls.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&tls)
    );

    for log in ["combined.log", "custom.log", "json.log"] {
        wait_for_lines(&dir_path.join(log), 4);
    }
    drop(server);

    // combined
    let combined_path = dir_path.join("combined.log");
    let records = read_all(&combined_path, Parser::nginx_combined());
    assert_eq!(records.len(), 4);
    let [get, post, head, tls] = &records[..] else {
        unreachable!()
    };
    assert_eq!(get.client, std::net::IpAddr::from([127, 0, 0, 1]));
    assert_eq!(
        (
            get.method.as_str(),
            get.target.as_str(),
            get.protocol.as_str()
        ),
        ("GET", "/index.html?x=1&y=%22", "HTTP/1.1")
    );
    assert_eq!((get.status, get.bytes_sent), (200, INDEX.len() as u64));
    assert_eq!(get.user_agent.as_deref(), Some(UA_ODD));
    assert_eq!(get.referer.as_deref(), Some("http://ref.example/page?a=b"));
    assert_eq!(get.user, None);
    assert_eq!(
        (
            post.method.as_str(),
            post.target.as_str(),
            post.protocol.as_str()
        ),
        ("POST", "/missing/%ff%22odd", "HTTP/1.0")
    );
    assert_eq!(post.status, 404);
    assert!(post.bytes_sent > 0);
    assert_eq!(post.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(
        (head.method.as_str(), head.status, head.bytes_sent),
        ("HEAD", 200, 0)
    );
    assert_eq!(head.user_agent, None);
    assert_eq!(tls.status, 400);
    assert_eq!(tls.method, "", "a TLS hello is no method: {tls:?}");
    assert!(tls.target.starts_with(r"\x16\x03\x01"), "{tls:?}");
    // Times are in order and close to now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for r in &records {
        assert!((now - r.time.secs()).abs() < 120, "time {:?}", r.time);
    }

    // The detector picks nginx's combined format from nginx's own lines.
    let text = std::fs::read(&combined_path).unwrap();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let detection = detect(lines.iter().copied(), None).unwrap();
    assert_eq!(detection.parser.name(), "nginx combined");
    assert!(detection.reason.contains("4 of 4"), "{}", detection.reason);

    // The follower reads the same lines once.
    let mut follower = Follower::new(&combined_path, true);
    let mut followed = 0;
    follower.poll(&mut |_, _| followed += 1).unwrap();
    assert_eq!(followed, 4);

    // custom log_format, compiled from the very directive nginx was given
    let custom = read_all(&dir_path.join("custom.log"), Parser::nginx(CUSTOM).unwrap());
    assert_eq!(custom.len(), 4);
    let c = &custom[0];
    assert!(c.client_port.is_some_and(|p| p > 0));
    assert_eq!(
        (c.method.as_str(), c.target.as_str(), c.protocol.as_str()),
        ("GET", "/index.html?x=1&y=%22", "HTTP/1.1")
    );
    assert_eq!(c.user_agent.as_deref(), Some(UA_ODD));
    assert_eq!(c.field("cookie_sid"), Some("abc123"));
    assert_eq!(c.field("http_x_request_id"), Some("r-1"));
    assert!(c.request_time.is_some());
    assert_eq!(c.time.secs(), get.time.secs());
    assert_eq!(custom[1].field("cookie_sid"), None);

    // escape=json, read by its template and by the JSON reader alike
    let json_path = dir_path.join("json.log");
    let by_template = read_all(&json_path, Parser::nginx(JSON).unwrap());
    let by_json = read_all(&json_path, Parser::json(JsonMapping::default()));
    assert_eq!(by_template.len(), 4);
    assert_eq!(by_json.len(), 4);
    for (t, j) in by_template.iter().zip(&by_json).take(3) {
        assert_eq!(
            (&t.method, &t.target, t.status, t.bytes_sent),
            (&j.method, &j.target, j.status, j.bytes_sent)
        );
        assert_eq!(t.user_agent, j.user_agent);
    }
    // The TLS hello reads as the combined log shows it; escape=json writes
    // its bytes >= 0x80 raw, so the JSON reader has U+FFFD from there on.
    assert_eq!(by_template[3].target, tls.target);
    assert!(
        by_json[3]
            .target
            .starts_with(r"\x16\x03\x01\x00/\x01\x00\x00+\x03\x03Z\x1F\x00\x22~"),
        "{:?}",
        by_json[3]
    );
    assert_eq!(by_json[0].user_agent.as_deref(), Some(UA_ODD));
    assert_eq!(by_json[0].field("cookie_sid"), Some("abc123"));
    assert_eq!(by_template[0].field("cookie_sid"), Some("abc123"));
    assert_eq!((by_json[3].status, by_json[3].method.as_str()), (400, ""));
}
