//! `vigil rules check`: the summary, its last line, and the exit status.

use assert_cmd::Command;

fn vigil() -> Command {
    Command::cargo_bin("vigil").unwrap()
}

#[test]
fn all_accepted_exits_zero_with_the_count_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.rules");
    std::fs::write(
        &path,
        "alert http any any -> any any (msg:\"a\"; http.uri; content:\"/x\"; sid:1;)\n\
         # alert http any any -> any any (msg:\"off\"; content:\"b\"; sid:2;)\n",
    )
    .unwrap();
    let out = vigil()
        .args(["rules", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().last(),
        Some("accepted 1 of 1 rules"),
        "{stdout}"
    );
    assert!(stdout.contains("1 inactive"), "{stdout}");
}

#[test]
fn skipped_rules_are_listed_by_reason_and_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.rules");
    std::fs::write(
        &path,
        "alert tcp any any -> any any (msg:\"a\"; content:\"x\"; sid:1;)\n\
         alert tcp any any -> any any (msg:\"b\"; lua:check.lua; sid:2;)\n\
         alert smtp any any -> any any (msg:\"c\"; sid:3;)\n",
    )
    .unwrap();
    let out = vigil()
        .args(["rules", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("unsupported option: lua"), "{stdout}");
    assert!(stdout.contains("mixed.rules:2"), "{stdout}");
    assert!(stdout.contains("unsupported protocol: smtp"), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("accepted 1 of 3 rules"),
        "{stdout}"
    );
}

#[test]
fn the_default_ruleset_checks_clean() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/vigil-web.rules");
    let out = vigil().args(["rules", "check", path]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn missing_file_is_fatal() {
    let out = vigil()
        .args(["rules", "check", "/nonexistent/x.rules"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.rules"));
}
