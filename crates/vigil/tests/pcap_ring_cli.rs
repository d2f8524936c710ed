//! `vigil analyze --pcap-ring DIR` and `vigil pcap extract` as a user runs
//! them, over the sample capture, checked with tshark.

use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;

fn tshark(bin: &Path, file: &Path, filter: Option<&str>) -> Vec<String> {
    let mut cmd = Std::new(bin);
    cmd.arg("-n").arg("-r").arg(file).args([
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.len",
    ]);
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn analyze_keeps_a_ring_that_extract_pulls_a_window_from() {
    let Some(tshark_bin) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let sample = vigil_testkit::repo_root().join("examples/capture/sample.pcap");
    let tmp = tempfile::tempdir().unwrap();
    let (out, ring) = (tmp.path().join("out"), tmp.path().join("ring"));
    Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .arg("--pcap-ring")
        .arg(&ring)
        .args(["--pcap-ring-file-bytes", "20000", "-q"])
        .assert()
        .success();
    let index = std::fs::read_to_string(ring.join("index.jsonl")).unwrap();
    let packets: u64 = index
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["packets"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(packets, 303);
    assert!(index.lines().count() >= 5);
    let stats = std::fs::read_to_string(out.join("stats.jsonl")).unwrap();
    let stats: serde_json::Value = serde_json::from_str(stats.trim()).unwrap();
    assert_eq!(stats["counters"]["pcap_ring"]["packets"], 303);

    let all = tshark(&tshark_bin, &sample, None);
    let epoch = |line: &str| line.split('\t').next().unwrap().to_owned();
    let (from, to) = (epoch(&all[49]), epoch(&all[249]));
    let extracted = tmp.path().join("window.pcap");
    Command::cargo_bin("vigil")
        .unwrap()
        .args(["pcap", "extract", "--ring"])
        .arg(&ring)
        .args(["--from", &from, "--to", &to, "-o"])
        .arg(&extracted)
        .assert()
        .success();
    let filter = format!("frame.time_epoch >= {from} && frame.time_epoch <= {to}");
    let expected = tshark(&tshark_bin, &sample, Some(&filter));
    assert_eq!(expected.len(), 201);
    assert_eq!(tshark(&tshark_bin, &extracted, None), expected);

    // A window that ends before it starts is refused.
    Command::cargo_bin("vigil")
        .unwrap()
        .args(["pcap", "extract", "--ring"])
        .arg(&ring)
        .args(["--from", &to, "--to", &from, "-o"])
        .arg(&extracted)
        .assert()
        .code(2);
}
