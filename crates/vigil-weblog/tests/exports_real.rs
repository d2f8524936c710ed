//! The exports loaded by the real tools: a real nginx (started by the test
//! with its own prefix on a free 127.0.0.1 port, killed when done: only it)
//! includes the exported file and refuses banned clients, and `nft -c -f`
//! (check mode: parses and validates, changes nothing) accepts the set file.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{free_port, Nginx};

use vigil_event::Timestamp;
use vigil_weblog::decisions::{Action, Decision};
use vigil_weblog::export::{self, NginxOptions};

const T: i64 = 1_782_900_000_000_000_000;
const S: i64 = 1_000_000_000;

fn d(subject: &str, action: Action, secs: i64) -> Decision {
    Decision {
        subject: subject.parse().unwrap(),
        action,
        class: "scraper".into(),
        reason: "test".into(),
        probability: 0.9,
        created_ns: T,
        updated_ns: T,
        expires_ns: T + secs * S,
        evidence: Vec::new(),
        model_version: 1,
        hits: 1,
    }
}

fn decisions() -> Vec<Decision> {
    let long_ua = format!("Mozilla/5.0 {}", "x".repeat(150));
    vec![
        d("198.51.100.7", Action::Ban, 3600),
        d("203.0.113.0/24", Action::Ban, 600),
        d("192.0.2.50", Action::Challenge, 600),
        d("2001:db8::7", Action::Ban, 60),
        d(
            r#"192.0.2.5 ua="python-requests/2.31 \"x\"""#,
            Action::Ban,
            900,
        ),
        d(&format!("192.0.2.6 ua={long_ua:?}"), Action::Ban, 900),
        d("session=s3cr3t", Action::Ban, 900),
        d("session=default", Action::Challenge, 900),
        // Expired: not exported.
        d("192.0.2.99", Action::Ban, -1),
    ]
}

fn start_nginx(nginx: &Path, dir: &Path, port: u16) -> Nginx {
    let d = dir.display();
    let http = format!(
        "  access_log off;\n\
         include {d}/vigil.conf;\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {d}/html;\n\
         set_real_ip_from 127.0.0.1;\n    real_ip_header X-Forwarded-For;\n\
         location / {{\n      if ($vigil_decision = ban) {{ return 403; }}\n\
         if ($vigil_decision = challenge) {{ return 429; }}\n    }}\n  }}"
    );
    support::start_nginx(nginx, dir, port, "ok\n", &http)
}

/// The status code nginx answers for a client (`X-Forwarded-For`), user
/// agent and session cookie.
fn status(port: u16, client: &str, ua: &str, session: Option<&str>) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cookie = session
        .map(|c| format!("Cookie: theme=dark; session={c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: {client}\r\nUser-Agent: {ua}\r\n{cookie}Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.shutdown(Shutdown::Write);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"))
}

#[test]
fn nginx_refuses_banned_clients_from_the_exported_include() {
    let Some(nginx) = vigil_testkit::require_tool("nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let all = decisions();
    let refs: Vec<&Decision> = all.iter().collect();
    let text = export::nginx(&refs, Timestamp::from_nanos(T), &NginxOptions::default());
    std::fs::write(dir.path().join("vigil.conf"), &text).unwrap();
    let port = free_port();
    let _server = start_nginx(&nginx, dir.path(), port);
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";
    let long_ua = format!("Mozilla/5.0 {}", "x".repeat(150));
    let cases: [(&str, &str, Option<&str>, u16); 14] = [
        // Banned address, and an address in a banned block.
        ("198.51.100.7", firefox, None, 403),
        ("203.0.113.77", firefox, None, 403),
        ("2001:db8::7", firefox, None, 403),
        // Challenged address.
        ("192.0.2.50", firefox, None, 429),
        // Banned address + user agent: that pair only (case-insensitive
        // like all nginx map keys), not the address with a browser.
        ("192.0.2.5", "python-requests/2.31 \"x\"", None, 403),
        ("192.0.2.5", "PYTHON-REQUESTS/2.31 \"x\"", None, 403),
        ("192.0.2.5", firefox, None, 200),
        ("192.0.2.6", &long_ua, None, 403),
        // Banned session, from any address; a challenged session named like
        // a map keyword.
        ("192.0.2.30", firefox, Some("s3cr3t"), 403),
        ("192.0.2.31", firefox, Some("default"), 429),
        ("192.0.2.31", firefox, Some("other"), 200),
        // Others, an expired ban, a neighbour of a banned address.
        ("198.51.100.8", firefox, None, 200),
        ("192.0.2.99", firefox, None, 200),
        ("2001:db8::8", firefox, None, 200),
    ];
    for (client, ua, session, want) in cases {
        assert_eq!(
            status(port, client, ua, session),
            want,
            "{client} {ua:?} {session:?}\n{text}"
        );
    }
}

#[test]
fn nft_accepts_the_exported_sets() {
    let Some(nft) = vigil_testkit::require_tool("nft") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let all = decisions();
    let refs: Vec<&Decision> = all.iter().collect();
    let text = export::nftables(&refs, Timestamp::from_nanos(T));
    assert!(text.contains("198.51.100.7 timeout 3600s"), "{text}");
    assert!(text.contains("203.0.113.0/24 timeout 600s"), "{text}");
    assert!(text.contains("2001:db8::7 timeout 60s"), "{text}");
    let file = dir.path().join("vigil.nft");
    std::fs::write(&file, &text).unwrap();
    let check = |path: &Path| {
        Command::new(&nft)
            .arg("-c")
            .arg("-f")
            .arg(path)
            .output()
            .expect("nft runs")
    };
    let out = check(&file);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // Without CAP_NET_ADMIN check mode cannot talk to the kernel.
        if err.contains("Operation not permitted") && !vigil_testkit::strict() {
            eprintln!("skipping: nft -c needs CAP_NET_ADMIN: {err}");
            return;
        }
        panic!("nft -c -f rejected the export: {err}\n{text}");
    }
    // The check is real: a broken element is refused.
    let bad = dir.path().join("bad.nft");
    std::fs::write(
        &bad,
        text.replace("198.51.100.7 timeout", "198.51.100.777 timeout"),
    )
    .unwrap();
    assert!(!check(&bad).status.success());
    // And an empty export is valid too.
    let empty = dir.path().join("empty.nft");
    std::fs::write(&empty, export::nftables(&[], Timestamp::from_nanos(T))).unwrap();
    let out = check(&empty);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
