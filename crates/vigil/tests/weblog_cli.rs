//! `vigil analyze` on web access logs, end to end: the real binary over
//! logs written by a real nginx (vigil-webgen's labelled scenarios), scored
//! against the labels; logs with garbage lines; gzip and standard input.

#[path = "common/weblog.rs"]
mod weblog;

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use vigil_webgen::{Class, Config, Lists, NginxOptions, Scenario};

/// `vigil analyze` with `args`; (exit code, stdout, stderr).
fn analyze(args: &[&str], stdin: Option<Vec<u8>>) -> (i32, String, String) {
    let mut cmd = Command::cargo_bin("vigil").unwrap();
    cmd.arg("analyze").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn stats_counter(stdout: &str, group: &str, name: &str) -> u64 {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["record"] == "stats")
        .and_then(|v| v["counters"][group][name].as_u64())
        .unwrap_or(0)
}

/// The scenarios through a real nginx, its log through the real binary
/// with the generator's `log_format`, crawlers verified against a local
/// dnsmasq: bots overall F1 ≥ 0.95, nobody in the flash sale or behind the
/// NAT gateway flagged, and each kind of bot in its class.
#[test]
fn nginx_scenarios_meet_the_accuracy_targets() {
    let Some(nginx) = vigil_testkit::require_tool("nginx") else {
        return;
    };
    let Some(dnsmasq) = vigil_testkit::require_tool("dnsmasq") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::generate(
        &Config {
            seed: 7,
            scale: 1,
            ..Config::default()
        },
        &Lists::builtin(),
    );
    let labels = scenario.labels();
    let log = dir.path().join("access.log");
    let summary = vigil_webgen::run_nginx(&scenario, &NginxOptions::new(nginx), &log).unwrap();
    assert_eq!(summary.requests, scenario.len() as u64);
    let dns = weblog::CrawlerDns::start(&dnsmasq, dir.path(), &labels).unwrap();
    let format = vigil_webgen::log_format(true, false);
    let resolver = dns.addr.to_string();
    let (code, stdout, stderr) = analyze(
        &[
            log.to_str().unwrap(),
            "--log-format",
            &format,
            "--log-time-field",
            "http_x_vigil_time",
            "--rdns-resolver",
            &resolver,
        ],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("access.log: nginx log_format (configured): 50 of 50 sample lines parsed"),
        "{stderr}"
    );
    assert_eq!(
        stats_counter(&stdout, "weblog", "records"),
        scenario.len() as u64
    );
    let eval = vigil_webgen::evaluate(&labels, &weblog::predictions(&stdout));
    let table = eval.markdown();
    let f1 = eval.bots.f1().unwrap_or(0.0);
    assert!(f1 >= 0.95, "bots overall F1 {f1:.3}\n{table}");
    for scenario in ["flash_sale", "nat_gateway"] {
        let (flagged, people) = eval.people_flagged(scenario);
        assert!(people >= 20, "{scenario}: {people} people\n{table}");
        assert_eq!(flagged, 0, "people flagged in {scenario}\n{table}");
    }
    let row = |name: &str| {
        let rows: Vec<_> = eval
            .scenarios
            .iter()
            .filter(|s| s.scenario == name)
            .collect();
        assert!(!rows.is_empty(), "no {name} in the labels");
        rows.iter().fold((0, 0, 0), |(e, f, c), s| {
            (e + s.entities, f + s.flagged, c + s.correct)
        })
    };
    // Scanners and credential stuffers are attackers.
    for name in ["vulnerability_scan", "credential_stuffing"] {
        let (entities, _, correct) = row(name);
        assert_eq!(correct, entities, "{name} not all attackers\n{table}");
    }
    // Verified crawlers are good bots (not threats); fake ones are flagged
    // as the scrapers they are.
    let (entities, _, correct) = row("verified_crawler");
    assert_eq!(correct, entities, "verified crawlers\n{table}");
    let (entities, flagged, correct) = row("fake_crawler");
    assert_eq!(flagged, entities, "fake crawlers\n{table}");
    assert_eq!(correct, entities, "fake crawlers\n{table}");
    let googlebots = labels
        .iter()
        .filter(|l| l.class == Class::GoodBot && l.subtype == "googlebot")
        .count();
    assert!(googlebots > 0, "the scenario has no Googlebot");
    // The report: suspects with their strongest features, the good bots.
    assert!(stderr.contains("top suspects"), "{stderr}");
    assert!(stderr.contains("(w "), "{stderr}");
    assert!(stderr.contains("verified good bots"), "{stderr}");
    assert!(stderr.contains("googlebot:"), "{stderr}");
}

/// Combined-format lines: a client reading pages, then a scanner.
fn sample_log() -> Vec<String> {
    let mut lines = Vec::new();
    let mut t = 0;
    let mut line = |ip: &str, path: &str, status: u16, ua: &str, lines: &mut Vec<String>| {
        t += 1;
        lines.push(format!(
            "{ip} - - [22/Nov/2026:10:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" {status} 512 \"-\" \"{ua}\"",
            t / 60,
            t % 60
        ));
    };
    for i in 0..8 {
        line(
            "198.51.100.20",
            &format!("/page/{i}"),
            200,
            "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
            &mut lines,
        );
    }
    for path in [
        "/.env",
        "/.git/config",
        "/wp-login.php",
        "/phpmyadmin/",
        "/shell.php",
        "/backup.sql",
        "/admin/config.php",
        "/etc/passwd",
        "/.aws/credentials",
        "/server-status",
    ] {
        line(
            "203.0.113.66",
            path,
            404,
            "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
            &mut lines,
        );
    }
    lines
}

/// Garbage lines are reported with file and line number and skipped; the
/// lines after them are still read and judged; the exit status says input
/// was skipped.
#[test]
fn garbage_lines_are_reported_and_the_rest_processed() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample_log();
    let mut text = String::new();
    let mut bad_lines = Vec::new();
    for (i, line) in good.iter().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i == 3 || i == 12 {
            text.push_str("\u{1}\u{2} this is not a log line at all\n");
            bad_lines.push(text.lines().count());
            text.push_str("203.0.113.9 - - [not a time] \"GET / HTTP/1.1\" 200 1\n");
            bad_lines.push(text.lines().count());
        }
    }
    let path = dir.path().join("garbage.log");
    std::fs::write(&path, &text).unwrap();
    let (code, stdout, stderr) = analyze(&[path.to_str().unwrap(), "--no-rdns"], None);
    assert_eq!(code, 1, "{stderr}");
    for n in &bad_lines {
        let at = format!("garbage.log:{n}: ");
        assert!(stderr.contains(&at), "no {at} in {stderr}");
    }
    assert!(stderr.contains("4 not parsed"), "{stderr}");
    assert_eq!(stats_counter(&stdout, "weblog", "bad_lines"), 4);
    assert_eq!(
        stats_counter(&stdout, "weblog", "records"),
        good.len() as u64
    );
    // The scanner after the garbage is found and explained.
    let finding = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["finding_info"]["analytic"]["uid"] == "bot:scanner")
        .unwrap_or_else(|| panic!("no scanner finding; {stderr}"));
    assert_eq!(finding["src_endpoint"]["ip"], "203.0.113.66");
    assert!(finding["evidence"]["features"].as_array().unwrap().len() > 10);
    assert!(stderr.contains("203.0.113.66"), "{stderr}");
}

fn findings_of(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["class_uid"] == 2004)
        .map(|v| v["finding_info"]["uid"].as_str().unwrap_or("").to_owned())
        .collect();
    v.sort();
    v
}

/// A gzip log and the same log on standard input give the plain file's
/// findings; with --emit-http every record is also an HTTP event.
#[test]
fn gzip_and_stdin_logs_read_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::generate(
        &Config {
            seed: 3,
            scale: 1,
            duration_secs: 1800,
            ..Config::default()
        },
        &Lists::builtin(),
    );
    let mut plain = Vec::new();
    vigil_webgen::write_log(&scenario, false, &mut plain).unwrap();
    let plain_path = dir.path().join("access.log");
    std::fs::write(&plain_path, &plain).unwrap();
    let gz_path = dir.path().join("access.log.1.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&plain).unwrap();
    gz.finish().unwrap();

    let run = |file: &Path, stdin: Option<Vec<u8>>| {
        let (code, stdout, stderr) = analyze(&[file.to_str().unwrap(), "--no-rdns"], stdin);
        assert_eq!(code, 0, "{stderr}");
        (stdout, stderr)
    };
    let (plain_out, plain_err) = run(&plain_path, None);
    let (gz_out, gz_err) = run(&gz_path, None);
    let (stdin_out, stdin_err) = run(Path::new("-"), Some(plain.clone()));
    let want = findings_of(&plain_out);
    assert!(want.len() > 5, "{plain_err}");
    assert_eq!(findings_of(&gz_out), want);
    assert_eq!(findings_of(&stdin_out), want);
    let lines = scenario.len() as u64;
    for (out, err, name) in [
        (&plain_out, &plain_err, "access.log"),
        (&gz_out, &gz_err, "access.log.1.gz"),
        (&stdin_out, &stdin_err, "-"),
    ] {
        assert_eq!(stats_counter(out, "weblog", "records"), lines, "{name}");
        assert!(err.contains(&format!("{name}: combined")), "{name}: {err}");
    }
    let (code, stdout, _) = analyze(
        &[gz_path.to_str().unwrap(), "--no-rdns", "--emit-http", "-q"],
        None,
    );
    assert_eq!(code, 0);
    let http = stdout
        .lines()
        .filter(|l| l.contains("\"class_uid\":4002"))
        .count() as u64;
    assert_eq!(http, lines);
    // Each HTTP event keeps its log line as `raw_data`, in log order.
    let raw: Vec<String> = stdout
        .lines()
        .filter(|l| l.contains("\"class_uid\":4002"))
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).unwrap();
            event["raw_data"].as_str().unwrap().to_owned()
        })
        .collect();
    let logged: Vec<String> = String::from_utf8(plain)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(raw, logged);
}
