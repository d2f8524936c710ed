//! End to end: scenarios through a real nginx (skipped when nginx is not installed, a
//! failure under `VIGIL_TEST_STRICT=1`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vigil_webgen::{
    run_nginx, time_local, write_log, Config, Lists, LogTime, NginxOptions, Scenario,
};

/// The fields of a combined line: address, time, request, status, bytes.
fn fields(line: &str) -> (IpAddr, &str, &str, u16, u64) {
    let (addr, rest) = line.split_once(" - - [").expect("address");
    let (time, rest) = rest.split_once("] \"").expect("time");
    let (request, rest) = rest.split_once("\" ").expect("request");
    let mut numbers = rest.split(' ');
    let status = numbers.next().and_then(|s| s.parse().ok()).expect("status");
    let bytes = numbers.next().and_then(|s| s.parse().ok()).expect("bytes");
    (
        addr.parse().expect("address parses"),
        time,
        request,
        status,
        bytes,
    )
}

#[test]
fn nginx_logs_every_request_with_simulated_time_real_addresses_and_statuses() {
    let Some(nginx) = vigil_testkit::require_tool("nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        duration_secs: 900,
        ..Config::default()
    };
    let scenario = Scenario::generate(&config, &Lists::builtin());
    assert!(scenario.len() > 3000, "{}", scenario.len());
    let log = dir.path().join("access.log");
    let summary = run_nginx(&scenario, &NginxOptions::new(nginx), &log).unwrap();
    assert_eq!(summary.requests, scenario.len() as u64);
    assert_eq!(summary.unexpected_status, 0, "{:?}", summary.statuses);
    // nginx is gone: nothing listens on its port any more.
    let addr = SocketAddr::from(([127, 0, 0, 1], summary.port));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), scenario.len(), "one line per request sent");

    // Every line carries a simulated time, an actor's address and a request sent; the
    // statuses come from the real site (its files, its 404s, its login answers).
    let mut sent: BTreeMap<(IpAddr, String, String), usize> = BTreeMap::new();
    for r in scenario.requests() {
        let request = format!(
            "{} {} HTTP/1.1",
            r.method.as_str(),
            r.target.replace('\\', "\\x5C").replace('"', "\\x22")
        );
        *sent
            .entry((r.client, time_local(r.time_unix_ms), request))
            .or_default() += 1;
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut v6 = 0;
    for line in &lines {
        let (addr, time, request, status, _) = fields(line);
        let slot = sent
            .get_mut(&(addr, time.to_owned(), request.to_owned()))
            .unwrap_or_else(|| panic!("not sent: {line}"));
        assert!(*slot > 0, "logged more often than sent: {line}");
        *slot -= 1;
        *statuses.entry(status).or_default() += 1;
        v6 += usize::from(addr.is_ipv6());
        assert!(!addr.is_loopback(), "{line}");
    }
    for status in [200, 304, 401, 404] {
        assert!(
            statuses.contains_key(&status),
            "no {status} in {statuses:?}"
        );
    }
    assert!(v6 > 0);
    // nginx pads its 404 page for Chrome (msie_padding): direct mode must know it too.
    assert!(
        lines.iter().any(|l| l.contains("\" 404 548 \"")),
        "no padded 404"
    );
    let favicon = lines
        .iter()
        .find(|l| l.contains("\"GET /favicon.ico "))
        .unwrap();
    assert_eq!(fields(favicon).4, 4286, "the real file's size");

    // Direct mode writes exactly what nginx wrote (nginx's order interleaves a little).
    let mut direct = Vec::new();
    write_log(&scenario, false, &mut direct).unwrap();
    let direct = String::from_utf8(direct).unwrap();
    let mut a: Vec<&str> = direct.lines().collect();
    let mut b = lines.clone();
    a.sort_unstable();
    b.sort_unstable();
    assert!(a == b, "direct mode differs from nginx");
}

#[test]
fn real_time_mode_logs_nginx_time_and_the_session_field() {
    let Some(nginx) = vigil_testkit::require_tool("nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        duration_secs: 40,
        ..Config::default()
    };
    let scenario = Scenario::generate(&config, &Lists::builtin());
    assert!(scenario.len() > 20, "{}", scenario.len());
    let log = dir.path().join("access.log");
    let options = NginxOptions {
        time: LogTime::Real { speedup: 100.0 },
        session: true,
        connections: 2,
        ..NginxOptions::new(nginx)
    };
    let summary = run_nginx(&scenario, &options, &log).unwrap();
    assert!(
        summary.elapsed_secs >= 0.3,
        "paced: {}",
        summary.elapsed_secs
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), scenario.len());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let with_session = scenario.requests().filter(|r| r.session.is_some()).count();
    let mut logged_sessions = 0;
    for line in text.lines() {
        let (_, time, _, _, _) = fields(line);
        let logged = chrono::DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z")
            .unwrap()
            .timestamp();
        assert!((logged - now).abs() < 300, "{line}");
        assert!(line.ends_with('"'));
        logged_sessions += usize::from(!line.ends_with(" \"-\""));
    }
    assert_eq!(logged_sessions, with_session);
}
