//! `vigil intel` and the intel stage of `vigil analyze`, through the real
//! binary: import (counts, per-entry errors, exit codes), lookup (exit 0 on
//! a match, 1 without), stats, and analyze seeing the store an import
//! wrote (by `--data-dir` and by `$VIGIL_DATA_DIR`): every match is a
//! Detection Finding naming the indicator, its feed and the event.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn vigil() -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.env_remove("VIGIL_DATA_DIR");
    c
}

fn repo() -> PathBuf {
    vigil_testkit::repo_root()
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn intel_findings(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["record"] == "finding")
        .filter(|e| {
            e["finding_info"]["analytic"]["uid"]
                .as_str()
                .is_some_and(|u| u.starts_with("intel:"))
        })
        .collect()
}

fn write_feed(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn import_lookup_stats_and_analyze() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let feed = write_feed(
        tmp.path(),
        "lab.txt",
        "# lab feed\n*.vigil.test\nhttp://pipe.vigil.test/b.txt?q=1&r=two\nnot a value\n",
    );
    // One bad entry: reported with its line, the rest imported, exit 1.
    let out = vigil()
        .args(["intel", "import"])
        .arg(&feed)
        .args([
            "--feed",
            "lab",
            "--severity",
            "high",
            "--confidence",
            "90",
            "--tag",
            "lab",
        ])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("imported 2 indicators into feed lab"),
        "{stdout}"
    );
    assert!(stderr.contains("lab.txt: line 4: "), "{stderr}");

    // Lookups: a subdomain matches the suffix indicator; exit 1 on none.
    let out = vigil()
        .args(["intel", "lookup", "www.vigil.test", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        line.starts_with("domain_suffix\tvigil.test\tfeed=lab\tconfidence=90\tseverity=high"),
        "{line}"
    );
    let out = vigil()
        .args(["intel", "lookup", "192.0.2.1", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = vigil()
        .args([
            "intel",
            "lookup",
            "--json",
            "https://PIPE.vigil.test/b.txt?q=1&r=two",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let kinds: Vec<String> = events(&out.stdout)
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["url", "domain_suffix"]);

    let out = vigil()
        .args(["intel", "stats", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stats.contains("lab\t2 indicators (2 active)\tplain"),
        "{stats}"
    );
    assert!(
        stats.contains("domain_suffix\t1") && stats.contains("url\t1"),
        "{stats}"
    );

    // analyze sees the store: findings for the events that carry a
    // vigil.test name, each naming the indicator, feed and event.
    let capture = repo().join("examples/capture/sample.pcap");
    let out = vigil()
        .arg("analyze")
        .arg(&capture)
        .args(["-q", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = events(&out.stdout);
    let findings = intel_findings(&all);
    assert!(!findings.is_empty());
    let enriched: Vec<&Value> = all
        .iter()
        .filter(|e| e.get("enrichments").is_some())
        .collect();
    assert!(!enriched.is_empty());
    for f in &findings {
        assert_eq!(f["finding_info"]["analytic"]["uid"], "intel:lab");
        assert_eq!(f["severity"], "High");
        assert_eq!(f["evidence"]["feed"], "lab");
        assert_eq!(f["evidence"]["confidence"], 90);
        let class = f["evidence"]["event"]["class_uid"].as_u64().unwrap();
        let time = f["evidence"]["event"]["time"].as_i64().unwrap();
        assert_eq!(f["time"].as_i64(), Some(time));
        // The event it names is in the output, enriched with the indicator.
        let source = enriched
            .iter()
            .find(|e| e["class_uid"].as_u64() == Some(class) && e["time"].as_i64() == Some(time))
            .expect("the event a finding names is in the output");
        let names: Vec<&str> = source["enrichments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["data"]["value"].as_str())
            .collect();
        assert!(
            names.contains(&f["evidence"]["indicator"]["value"].as_str().unwrap()),
            "{names:?}"
        );
    }
    // The URL indicator matched the pipelined request that asked for it.
    assert!(findings
        .iter()
        .any(|f| f["evidence"]["indicator"]["type"] == "url"));
    let stats = all.iter().find(|e| e["record"] == "stats").unwrap();
    assert_eq!(
        stats["counters"]["intel"]["findings"].as_u64(),
        Some(findings.len() as u64)
    );

    // --no-intel: none.
    let out = vigil()
        .arg("analyze")
        .arg(&capture)
        .args(["-q", "--no-intel", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(intel_findings(&events(&out.stdout)).is_empty());

    // Re-import replaces the feed: the URL is gone.
    let feed = write_feed(tmp.path(), "lab2.txt", "*.vigil.test\n");
    let out = vigil()
        .args(["intel", "import"])
        .arg(&feed)
        .args(["--feed", "lab", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = vigil()
        .args([
            "intel",
            "lookup",
            "http://pipe.vigil.test/b.txt?q=1&r=two",
            "--json",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let kinds: Vec<String> = events(&out.stdout)
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["domain_suffix"]);
}

#[test]
fn the_data_dir_comes_from_the_environment_too() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = write_feed(tmp.path(), "ips.txt", "10.0.0.7\n");
    let out = vigil()
        .env("VIGIL_DATA_DIR", tmp.path().join("d"))
        .args(["intel", "import"])
        .arg(&feed)
        .args(["--feed", "ips", "--format", "plain"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vigil()
        .env("VIGIL_DATA_DIR", tmp.path().join("d"))
        .args(["intel", "lookup", "10.0.0.7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = vigil()
        .env("VIGIL_DATA_DIR", tmp.path().join("d"))
        .arg("analyze")
        .arg(repo().join("examples/capture/sample.pcap"))
        .arg("-q")
        .output()
        .unwrap();
    let all = events(&out.stdout);
    let findings = intel_findings(&all);
    assert!(!findings.is_empty());
    assert!(findings
        .iter()
        .all(|f| f["subject"]["kind"] == "host" && f["subject"]["value"] == "10.0.0.7"));
    // A bad feed name and a missing file are fatal (exit 2).
    let out = vigil()
        .env("VIGIL_DATA_DIR", tmp.path().join("d"))
        .args(["intel", "import"])
        .arg(&feed)
        .args(["--feed", "../x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vigil()
        .env("VIGIL_DATA_DIR", tmp.path().join("d"))
        .args(["intel", "import", "/nonexistent/feed.txt", "--feed", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// ET Open's compromised-hosts list against a web log whose clients
/// include listed addresses: their requests become intel findings.
#[test]
fn et_open_list_matches_web_log_clients() {
    let Some(dir) = vigil_testkit::require_shared_data("et-open-2024-04") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = vigil()
        .args(["intel", "import"])
        .arg(dir.join("compromised-ips.txt"))
        .args([
            "--feed",
            "et-compromised",
            "--severity",
            "high",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vigil()
        .args(["intel", "import"])
        .arg(dir.join("drop.rules"))
        .args(["--feed", "et-drop", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = std::fs::read_to_string(dir.join("compromised-ips.txt")).unwrap();
    let bad: Vec<&str> = listed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .take(2)
        .collect();
    let mut log = String::new();
    for (i, client) in bad.iter().chain(&["192.0.2.10"]).enumerate() {
        log.push_str(&format!(
            "{client} - - [01/Apr/2024:10:00:{i:02} +0000] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n"
        ));
    }
    let log_path = write_feed(tmp.path(), "access.log", &log);
    let out = vigil()
        .arg("analyze")
        .arg(&log_path)
        .args(["-q", "--emit-http", "--no-rdns", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let all = events(&out.stdout);
    let findings = intel_findings(&all);
    let subjects: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["subject"]["value"].as_str())
        .collect();
    for ip in &bad {
        assert!(subjects.contains(ip), "{ip} not found: {subjects:?}");
    }
    assert!(!subjects.contains(&"192.0.2.10"));
    assert!(findings
        .iter()
        .all(|f| f["evidence"]["feed"] == "et-compromised" && f["severity"] == "High"));
}
