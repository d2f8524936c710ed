//! The binary in direct mode: a log and labels that agree.

use assert_cmd::Command;
use vigil_webgen::{read_labels, Class};

#[test]
fn direct_mode_writes_a_log_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("vigil-webgen")
        .unwrap()
        .args([
            "--seed",
            "3",
            "--scale",
            "1",
            "--duration",
            "1200",
            "--direct",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("[$http_x_vigil_time]"));
    let log = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
    let labels = read_labels(std::io::BufReader::new(
        std::fs::File::open(dir.path().join("labels.jsonl")).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        labels.iter().map(|l| l.requests).sum::<u64>(),
        log.lines().count() as u64
    );
    for class in Class::LABELLED {
        assert!(labels.iter().any(|l| l.class == class), "{class:?}");
    }
    // Every label's address appears in the log.
    for label in &labels {
        assert!(log.contains(&format!("{} - - [", label.ip)), "{}", label.ip);
    }
}
