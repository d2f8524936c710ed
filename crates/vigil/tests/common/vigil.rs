//! Run `vigil analyze` (the binary under test) and parse what it writes.

use std::path::Path;

use vigil_event::{Body, Event, RecordKind};

/// What one run wrote.
#[derive(Debug)]
pub struct Analysis {
    /// Every event on stdout, in order.
    pub events: Vec<Event>,
    /// stderr (the human summary).
    pub stderr: String,
}

impl Analysis {
    /// The bodies of kind `kind`.
    pub fn bodies(&self, kind: RecordKind) -> impl Iterator<Item = &Body> {
        self.events
            .iter()
            .filter(move |e| e.kind() == kind)
            .map(|e| &e.body)
    }
}

/// `vigil analyze FILES… [extra]`; panics unless it exits 0 and every
/// stdout line is one event of the schema.
pub fn analyze(files: &[&Path], extra: &[&str]) -> Analysis {
    let out = assert_cmd::Command::cargo_bin("vigil")
        .expect("the vigil binary is built")
        .arg("analyze")
        .args(files)
        .args(extra)
        .output()
        .expect("run vigil analyze");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "vigil analyze {files:?} exited with {}:\n{stderr}",
        out.status
    );
    let stdout = String::from_utf8(out.stdout).expect("vigil writes UTF-8");
    Analysis {
        events: parse_lines(&stdout, "stdout"),
        stderr,
    }
}

/// Parse JSON Lines into events; panics naming the line that does not parse.
pub fn parse_lines(text: &str, source: &str) -> Vec<Event> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            Event::from_json_line(line)
                .unwrap_or_else(|e| panic!("{source} line {} is not an event ({e}): {line}", i + 1))
        })
        .collect()
}
