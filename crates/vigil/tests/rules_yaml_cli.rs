//! Vigil and Sigma rules through the binary: `vigil rules check | fmt |
//! test` and `vigil analyze --rules` with a webhook action delivering to a
//! real HTTP receiver on loopback.

use std::io::{BufRead, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn vigil() -> Command {
    Command::cargo_bin("vigil").unwrap()
}

fn examples() -> PathBuf {
    vigil_testkit::repo_root().join("examples/rules")
}

/// An nginx combined-format log: two clients attacking, one browsing.
fn access_log(dir: &Path) -> PathBuf {
    let mut text = String::new();
    let line = |ip: &str, sec: u32, target: &str| {
        format!(
            "{ip} - - [23/Nov/2026:10:00:{sec:02} +0000] \"GET {target} HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n"
        )
    };
    for (i, target) in [
        "/search?q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
        "/search?q=1+union+all+select+1,2,3",
        "/static/../../../../etc/passwd",
        "/download?file=..%2F..%2F..%2Fetc%2Fshadow",
        "/search?q=%27%20or%20%271%27=%271",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&line("198.51.100.7", 10 + i as u32, target));
    }
    for (i, target) in ["/", "/products?id=42", "/about", "/search?q=union+station"]
        .iter()
        .enumerate()
    {
        text.push_str(&line("192.0.2.20", 20 + i as u32, target));
    }
    let path = dir.join("access.log");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_shows_conditions_as_text_and_tree() {
    let out = vigil()
        .args(["rules", "check"])
        .arg(examples())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("accepted 3 of 3 rules"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  condition: class_uid == 4002 and (http_request.url.url_string contains \"../\" or"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("├── ==") && stdout.contains("└── or"),
        "{stdout}"
    );
    assert!(
        stdout.contains("web-attack-burst [correlation event_count, critical]"),
        "{stdout}"
    );
}

#[test]
fn check_reports_each_bad_rule_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(
        &path,
        "id: typo\ntitle: T\ncondition: 'http_request.url.pth contains \"x\"'\n---\n\
         id: good\ntitle: G\ncondition: 'class_uid == 4003'\n",
    )
    .unwrap();
    let out = vigil()
        .args(["rules", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("accepted 1 of 2 rules"),
        "{stdout}"
    );
    assert!(stdout.contains("rule 'typo'"), "{stdout}");
    assert!(
        stdout.contains("did you mean `http_request.url.path`"),
        "{stdout}"
    );
    assert!(stdout.contains("column 1"), "{stdout}");
}

#[test]
fn check_imports_the_sigma_collection() {
    let Some(sigma) = vigil_testkit::require_shared_data("sigma") else {
        return;
    };
    let out = vigil()
        .args(["rules", "check", "--brief"])
        .arg(sigma.join("rules"))
        .arg(sigma.join("rules-threat-hunting"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split(' ').collect();
    assert_eq!(words.first(), Some(&"accepted"), "{stdout}");
    let accepted: usize = words[1].parse().unwrap();
    let total: usize = words[3].parse().unwrap();
    assert_eq!(total, 159, "every SigmaHQ rule file counted: {last}");
    assert!(accepted >= 40, "{last}");
    // Every rule not accepted says why.
    assert!(
        stdout.contains("logsource not produced by Vigil"),
        "{stdout}"
    );
}

#[test]
fn fmt_is_canonical_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.yml");
    std::fs::write(
        &path,
        "id: a\ntitle: A\ncondition: '(class_uid==4002) AND ((http_request.url.path  startswith \"/x\"))'\n",
    )
    .unwrap();
    let out = vigil().args(["rules", "fmt"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("condition: class_uid == 4002 and http_request.url.path startswith \"/x\""),
        "{text}"
    );
    let check = vigil()
        .args(["rules", "fmt", "--check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(1),
        "the original is not canonical"
    );
    vigil()
        .args(["rules", "fmt", "--write"])
        .arg(&path)
        .assert()
        .success();
    vigil()
        .args(["rules", "fmt", "--check"])
        .arg(&path)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn test_command_compares_findings_with_expected() {
    let dir = tempfile::tempdir().unwrap();
    let log = access_log(dir.path());
    let out = dir.path().join("out");
    vigil()
        .args(["analyze", "-q", "--emit-http", "--no-rdns", "--out"])
        .arg(&out)
        .arg(&log)
        .assert()
        .code(0);
    let events = out.join("http.jsonl");
    assert_eq!(std::fs::read_to_string(&events).unwrap().lines().count(), 9);
    let expected = dir.path().join("expected.jsonl");
    let want = [
        r#"{"finding_info":{"analytic":{"uid":"web-sqli"}},"subject":{"value":"198.51.100.7"},"evidence":{"event_uids":["ev-1"]}}"#,
        r#"{"finding_info":{"analytic":{"uid":"web-sqli"}},"evidence":{"event_uids":["ev-2"]}}"#,
        r#"{"finding_info":{"analytic":{"uid":"web-traversal"}},"evidence":{"event_uids":["ev-3"]}}"#,
        r#"{"finding_info":{"analytic":{"uid":"web-traversal"}},"evidence":{"event_uids":["ev-4"]}}"#,
        r#"{"finding_info":{"analytic":{"uid":"web-sqli"}},"evidence":{"event_uids":["ev-5"]}}"#,
        r#"{"finding_info":{"analytic":{"uid":"web-attack-burst"}},"severity":"Critical","evidence":{"count":5,"event_uids":["ev-1","ev-2","ev-3","ev-4","ev-5"]}}"#,
    ];
    std::fs::write(&expected, want.join("\n")).unwrap();
    let run = vigil()
        .args(["rules", "test"])
        .arg(examples())
        .arg(&events)
        .arg(&expected)
        .output()
        .unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.ends_with("9 events, 6 findings, 6 expected: ok\n"),
        "{stdout}"
    );

    // A wrong expectation fails and says where.
    std::fs::write(&expected, want[..5].join("\n").replace("ev-5", "ev-6")).unwrap();
    let run = vigil()
        .args(["rules", "test"])
        .arg(examples())
        .arg(&events)
        .arg(&expected)
        .output()
        .unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL finding 5: `evidence.event_uids[0]` is \"ev-5\", expected \"ev-6\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL finding 6: unexpected, from rule 'web-attack-burst'"),
        "{stdout}"
    );
}

/// A real HTTP/1.1 receiver on loopback collecting POST bodies.
fn receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (url, rx)
}

#[test]
fn analyze_runs_rules_over_a_log_and_fires_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let log = access_log(dir.path());
    let (url, bodies) = receiver();
    let rules = dir.path().join("rules.yml");
    let base = std::fs::read_to_string(examples().join("web-attacks.yml")).unwrap();
    std::fs::write(
        &rules,
        format!("{base}actions:\n  - webhook: {{ url: '{url}' }}\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = vigil()
        .args(["analyze", "-q", "--no-rdns", "--rules"])
        .arg(&rules)
        .arg("--out")
        .arg(&out)
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let findings = std::fs::read_to_string(out.join("finding.jsonl")).unwrap();
    let rule_of = |line: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["finding_info"]["analytic"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let rules_fired: Vec<String> = findings
        .lines()
        .map(rule_of)
        .filter(|r| r.starts_with("web-"))
        .collect();
    assert_eq!(
        rules_fired.iter().filter(|r| *r == "web-sqli").count(),
        3,
        "{rules_fired:?}"
    );
    assert_eq!(
        rules_fired.iter().filter(|r| *r == "web-traversal").count(),
        2
    );
    assert_eq!(
        rules_fired
            .iter()
            .filter(|r| *r == "web-attack-burst")
            .count(),
        1
    );
    // The browsing client (who searched for "union station") raised nothing.
    for line in findings.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let rule = v["finding_info"]["analytic"]["uid"]
            .as_str()
            .unwrap_or_default();
        if rule.starts_with("web-") {
            assert_ne!(v["subject"]["value"], "192.0.2.20", "{line}");
        }
    }
    // No HTTP records were written (no --emit-http), but the rules saw them.
    assert!(!out.join("http.jsonl").exists());
    // The burst's webhook delivered its meta-event (it is the rule with the action).
    let body = bodies
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the webhook was called");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["finding_info"]["analytic"]["uid"], "web-attack-burst");
    assert_eq!(v["subject"]["value"], "src_endpoint.ip=198.51.100.7");
    let stats = std::fs::read_to_string(out.join("stats.jsonl")).unwrap();
    assert!(stats.contains("\"webhook.delivered\":1"), "{stats}");
}

/// Rules over a capture: a correlation counting the distinct names each
/// client looked up, checked against the DNS records of the same run.
#[test]
fn analyze_runs_a_correlation_over_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("dns.yml");
    std::fs::write(
        &rules,
        "id: dns-query\ntitle: DNS query\ncondition: 'class_uid == 4003 and exists query.hostname'\n\
         ---\nid: dns-many-names\ntitle: One client looked up many names\nseverity: low\n\
         correlation:\n  type: value_count\n  rules: [dns-query]\n  field: query.hostname\n  \
         group_by: [src_endpoint.ip]\n  timespan: 1h\n  threshold: { gte: 3 }\n\
         fire: window_end\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let capture = vigil_testkit::repo_root().join("examples/capture/sample.pcap");
    vigil()
        .args(["analyze", "-q", "--rules"])
        .arg(&rules)
        .arg("--out")
        .arg(&out)
        .arg(&capture)
        .assert()
        .code(0);
    // The expected figure, from the DNS records of the same run.
    let mut names: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for line in std::fs::read_to_string(out.join("dns.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(name) = v["query"]["hostname"].as_str() {
            names
                .entry(v["src_endpoint"]["ip"].as_str().unwrap().to_owned())
                .or_default()
                .insert(name.to_owned());
        }
    }
    let expected: Vec<(String, usize)> = names
        .into_iter()
        .filter(|(_, n)| n.len() >= 3)
        .map(|(ip, n)| (ip, n.len()))
        .collect();
    assert!(
        !expected.is_empty(),
        "the sample has a client with several names"
    );
    let findings = std::fs::read_to_string(out.join("finding.jsonl")).unwrap();
    let got: Vec<(String, usize)> = findings
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["finding_info"]["analytic"]["uid"] == "dns-many-names")
        .map(|v| {
            (
                v["evidence"]["group"]["src_endpoint.ip"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                v["evidence"]["count"].as_u64().unwrap_or_default() as usize,
            )
        })
        .collect();
    assert_eq!(got, expected, "{findings}");
}
