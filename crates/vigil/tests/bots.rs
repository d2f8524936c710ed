//! `vigil bots`: the control centre driven through the real binary.
//!
//! - the offline loop: `bots watch LOG` (no --follow) over vigil-webgen's
//!   log → `bots decisions` (text, JSON, nginx and nftables exports) →
//!   `bots label` (one entity, and the generator's labels file) → `bots
//!   learn` (before/after figures, a new current model);
//! - the live reload: a running `bots watch LOG --follow` picks up a model
//!   activated while it runs, and its verdicts change (this test starts the
//!   process and kills only it).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use vigil_weblog::store::ModelStore;
use vigil_weblog::ModelConfig;

fn vigil(data: &Path) -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.arg("bots")
        .env("VIGIL_DATA_DIR", data)
        .env_remove("VIGIL_LOG");
    c
}

fn ok(c: &mut Command) -> (String, String) {
    let out = c.output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{c:?}: {}\n{so}\n{se}", out.status);
    (so, se)
}

#[test]
fn offline_loop_watch_decisions_label_learn() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let scenario = vigil_webgen::Scenario::generate(
        &vigil_webgen::Config::default(),
        &vigil_webgen::Lists::builtin(),
    );
    let log = dir.path().join("access.log");
    vigil_webgen::write_log(&scenario, false, std::fs::File::create(&log).unwrap()).unwrap();
    let labels = dir.path().join("labels.jsonl");
    vigil_webgen::write_labels(&scenario.labels(), std::fs::File::create(&labels).unwrap())
        .unwrap();

    let (stdout, stderr) = ok(vigil(&data)
        .args(["watch", "--no-rdns", "--quiet"])
        .arg(&log));
    assert!(stdout.is_empty());
    assert!(stderr.contains("active decisions"), "{stderr}");
    for f in ["decisions.jsonl", "features.jsonl"] {
        assert!(data.join(f).is_file(), "{f}");
    }

    // Listing: text and JSON agree on the count; scanners are banned.
    let (text, _) = ok(vigil(&data).arg("decisions"));
    let first = text.lines().next().unwrap();
    let n: usize = first.split(' ').next().unwrap().parse().unwrap();
    assert!(n > 0, "{text}");
    assert!(
        text.contains("evidence: ") && text.contains("reason: "),
        "{text}"
    );
    let (json, _) = ok(vigil(&data).args(["decisions", "--json"]));
    let decisions: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), n);
    assert!(decisions
        .iter()
        .any(|d| d["class"] == "scanner" && d["action"] == "ban"));
    // --now after every expiry: nothing is active.
    let (late, _) = ok(vigil(&data).args(["decisions", "--now", "2100-01-01T00:00:00Z"]));
    assert!(late.starts_with("0 active decisions"), "{late}");

    // Exports to files.
    let nginx = dir.path().join("vigil.conf");
    ok(vigil(&data)
        .args(["decisions", "--export", "nginx", "--out"])
        .arg(&nginx));
    let text = std::fs::read_to_string(&nginx).unwrap();
    assert!(
        text.contains("geo $vigil_ban_ip {") && text.contains(" ban;"),
        "{text}"
    );
    let (nft, _) = ok(vigil(&data).args(["decisions", "--export", "nftables"]));
    assert!(
        nft.contains("set vigil_ban_v4 {") && nft.contains("timeout"),
        "{nft}"
    );

    // Labels: one entity, then the generator's file.
    let (_, stderr) = ok(vigil(&data).args(["label", "203.0.113.250", "bot"]));
    assert!(
        stderr.contains("1 labels recorded (1 bot, 0 human)"),
        "{stderr}"
    );
    let bad = vigil(&data)
        .args(["label", "nonsense", "bot"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad entity"));
    ok(vigil(&data).args(["label", "--file"]).arg(&labels));

    // Learn: figures before and after, a new current model.
    let (out, _) = ok(vigil(&data).args(["learn", "--holdout", "0.25", "--seed", "3"]));
    assert!(
        out.contains("before (model v1)") && out.contains("after (model v2)"),
        "{out}"
    );
    assert!(out.contains("activated: "), "{out}");
    let models = ModelStore::new(&data);
    assert_eq!(models.current_version().unwrap(), Some(2));
    // JSON report, and the next version.
    let (json, _) = ok(vigil(&data).args(["learn", "--json", "--holdout", "0.25", "--seed", "3"]));
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["version"], 3);
    assert!(
        r["fit"]["after"]["true_positives"].as_u64().is_some(),
        "{json}"
    );
}

/// Lines of a child's stream, through a channel (so reads can time out).
fn lines_of(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// `n` requests from `ip` with a library user agent, ending now.
fn burst(log: &Path, ip: &str, n: u32) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    let mut text = String::new();
    for i in 0..n {
        let t = chrono::DateTime::from_timestamp_millis(now_ms - i64::from(n - i) * 200).unwrap();
        text.push_str(&format!(
            "{ip} - - [{}] \"GET /product/{i} HTTP/1.1\" 200 512 \"-\" \"python-requests/2.31.0\"\n",
            t.format("%d/%b/%Y:%H:%M:%S +0000")
        ));
    }
    f.write_all(text.as_bytes()).unwrap();
}

struct Watched(Child);

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_watch_reloads_a_new_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let nginx = dir.path().join("vigil.conf");
    let mut child = Watched(
        vigil(&data)
            .args([
                "watch",
                "--follow",
                "--no-rdns",
                "--idle-secs",
                "1",
                "--interval-ms",
                "100",
                "--save-every",
                "0",
                "--export-nginx",
            ])
            .arg(&nginx)
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = lines_of(child.0.stdout.take().unwrap());
    let err = lines_of(child.0.stderr.take().unwrap());
    wait_for(&err, "the start", |l| l.contains("with model v1"));

    // Model v1 (built in): a library client is a bot.
    burst(&log, "198.51.100.7", 12);
    let v = wait_for(&out, "a verdict on 198.51.100.7", |l| {
        l.contains(r#""subject":"198.51.100.7""#)
    });
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["model_version"], 1, "{v}");
    assert_ne!(v["class"], "human", "{v}");
    // Its decision is saved and exported while the watch runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&nginx)
        .unwrap_or_default()
        .contains("198.51.100.7 ")
    {
        assert!(
            Instant::now() < deadline,
            "no nginx export with 198.51.100.7"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A new model that calls nobody a bot, activated while it runs.
    let models = ModelStore::new(&data);
    let mut lenient = ModelConfig {
        version: 2,
        ..ModelConfig::default()
    };
    for c in [
        &mut lenient.scraper,
        &mut lenient.scanner,
        &mut lenient.credential_stuffing,
    ] {
        c.bias = -100.0;
    }
    models.write(&lenient).unwrap();
    models.activate(2).unwrap();
    wait_for(&err, "the reload", |l| l.contains("model v2 loaded"));

    // The same behaviour from another client is now judged human, by v2.
    burst(&log, "198.51.100.8", 12);
    let v = wait_for(&out, "a verdict on 198.51.100.8", |l| {
        l.contains(r#""subject":"198.51.100.8""#)
    });
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(
        (v["model_version"].as_u64(), v["class"].as_str()),
        (Some(2), Some("human")),
        "{v}"
    );
    assert!(child.0.try_wait().unwrap().is_none(), "watch exited");
}
