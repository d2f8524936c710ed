//! `vigil analyze --detection-config FILE` and `vigil config`: one threshold
//! changed in a TOML file changes a detector's verdict on a real capture
//! (examples/capture/attacks.pcap: an nmap scan of 61 ports and web
//! attacks); a typo is an error naming the key and the file; the printed
//! defaults are accepted back and give the same output as no file.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn attacks() -> PathBuf {
    vigil_testkit::repo_root().join("examples/capture/attacks.pcap")
}

fn vigil(args: &[&str], config: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::cargo_bin("vigil").unwrap();
    cmd.arg("analyze").arg(attacks()).args(args).arg("--quiet");
    if let Some(path) = config {
        cmd.arg("--detection-config").arg(path);
    }
    cmd.output().unwrap()
}

/// The Detection Findings `vigil analyze` writes to stdout.
fn findings(config: Option<&Path>) -> Vec<Value> {
    let out = vigil(&[], config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["class_uid"] == 2004)
        .collect()
}

fn scans(findings: &[Value]) -> Vec<&Value> {
    findings
        .iter()
        .filter(|f| f["finding_info"]["analytic"]["uid"] == "anomaly:port_scan_vertical")
        .collect()
}

#[test]
fn raising_the_port_threshold_above_the_scan_removes_its_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let default_findings = findings(None);
    let default_scans = scans(&default_findings);
    assert_eq!(default_scans.len(), 1, "{default_findings:#?}");
    let ports = default_scans[0]["evidence"]["distinct_ports"]
        .as_u64()
        .unwrap();
    assert_eq!(default_scans[0]["evidence"]["min_ports"], 25);
    assert!(ports >= 25, "{ports} ports");

    // One key, one section: the scan's port count is now below threshold.
    let above = tmp.path().join("above.toml");
    std::fs::write(
        &above,
        format!("[anomaly.port_scan]\nvertical_min_ports = {}\n", ports + 1),
    )
    .unwrap();
    let tuned = findings(Some(&above));
    assert!(scans(&tuned).is_empty(), "{tuned:#?}");
    // The other detectors and the signatures are untouched.
    let sigs = |f: &[Value]| {
        f.iter()
            .filter(|f| {
                f["finding_info"]["analytic"]["uid"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("sig:"))
            })
            .count()
    };
    assert_eq!(sigs(&tuned), sigs(&default_findings));
    assert!(sigs(&tuned) >= 5);

    // At exactly the count the verdict is back, with the threshold in its evidence.
    let at = tmp.path().join("at.toml");
    std::fs::write(
        &at,
        format!("[anomaly.port_scan]\nvertical_min_ports = {ports}\n"),
    )
    .unwrap();
    let at_findings = findings(Some(&at));
    let at_scans = scans(&at_findings);
    assert_eq!(at_scans.len(), 1);
    assert_eq!(at_scans[0]["evidence"]["min_ports"], ports);
}

#[test]
fn the_brief_example_min_ports_100_has_no_scan_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("d.toml");
    std::fs::write(&path, "[anomaly.port_scan]\nvertical_min_ports = 100\n").unwrap();
    assert!(scans(&findings(Some(&path))).is_empty());
}

#[test]
fn risk_thresholds_from_the_file_change_the_levels() {
    let tmp = tempfile::tempdir().unwrap();
    let level_of_host = |f: &[Value]| -> Vec<String> {
        f.iter()
            .filter(|f| f["finding_info"]["analytic"]["uid"] == "risk:level")
            .filter(|f| f["subject"]["kind"] == "host")
            .map(|f| f["finding_info"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let default = level_of_host(&findings(None));
    assert!(
        default.iter().any(|t| t.ends_with("critical")),
        "{default:?}"
    );
    let path = tmp.path().join("risk.toml");
    std::fs::write(&path, "[risk.thresholds]\ncritical = 100000\n").unwrap();
    let tuned = level_of_host(&findings(Some(&path)));
    assert!(!tuned.iter().any(|t| t.ends_with("critical")), "{tuned:?}");
    assert!(tuned.iter().any(|t| t.ends_with("high")), "{tuned:?}");
}

#[test]
fn an_unknown_key_fails_naming_the_key_the_line_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("typo.toml");
    std::fs::write(&path, "[anomaly.port_scan]\nmin_ports = 100\n").unwrap();
    let out = vigil(&[], Some(&path));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("min_ports"), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(out.stdout.is_empty(), "no event is written on a bad config");

    let check = Command::cargo_bin("vigil")
        .unwrap()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("min_ports"));
}

#[test]
fn the_printed_defaults_read_back_give_the_default_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args(["config", "defaults"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for section in [
        "[anomaly.port_scan]",
        "[anomaly.syn_flood]",
        "[anomaly.brute_force]",
        "[anomaly.beacon]",
        "[anomaly.dns]",
        "[anomaly.volume]",
        "[anomaly.rare]",
        "[risk]",
        "[risk.thresholds]",
        "[risk.points]",
        "[evidence]",
    ] {
        assert!(text.contains(section), "{section} missing");
    }
    let path = tmp.path().join("defaults.toml");
    std::fs::write(&path, &text).unwrap();
    let check = Command::cargo_bin("vigil")
        .unwrap()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(check.status.success());
    assert_eq!(findings(Some(&path)), findings(None));
}

#[test]
fn command_line_options_override_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("e.toml");
    std::fs::write(&path, "[evidence]\ncapture_level = \"critical\"\n").unwrap();
    let incidents = |args: &[&str]| -> usize {
        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().to_str().unwrap();
        let mut all = vec!["--out", out];
        all.extend_from_slice(args);
        let run = vigil(&all, Some(&path));
        assert!(run.status.success());
        std::fs::read_to_string(out_dir.path().join("incidents/incidents.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let from_file = incidents(&[]);
    let from_flag = incidents(&["--capture-level", "medium"]);
    // Only the host reaches critical; at medium the flows are captured too.
    assert!(from_file >= 1, "{from_file}");
    assert!(from_flag > from_file, "{from_flag} vs {from_file}");
}
