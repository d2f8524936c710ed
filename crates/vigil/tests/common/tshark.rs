//! tshark as the reference: run it over a capture, get rows of fields.
//!
//! `tshark -r FILE -Y FILTER -T fields -e F1 -e F2 … -E separator=/t
//! -E occurrence=a -E aggregator=\x1f`: one row per matching frame, one
//! column per field, and every occurrence of a field in the frame (e.g. all
//! answers of a DNS response) in order. The unit separator (0x1f) splits
//! occurrences: unlike the default comma it never occurs in the values
//! these tests produce (TXT strings may hold commas).

use std::path::Path;
use std::process::Command;

const AGGREGATOR: char = '\u{1f}';

/// One frame's values: `values[i]` holds the occurrences of field `i`.
#[derive(Debug, Clone)]
pub struct Row {
    /// Occurrences per requested field (empty when the field is absent).
    pub values: Vec<Vec<String>>,
}

impl Row {
    /// All occurrences of field `i`.
    pub fn all(&self, i: usize) -> &[String] {
        self.values.get(i).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first occurrence of field `i`, or "" when absent.
    pub fn first(&self, i: usize) -> &str {
        self.all(i).first().map(String::as_str).unwrap_or("")
    }

    /// The first occurrence of field `i` parsed as a number (decimal or
    /// `0x` hex, as tshark prints DNS ids), when present.
    pub fn num(&self, i: usize) -> Option<u64> {
        parse_num(self.first(i))
    }
}

/// A number as tshark prints it (decimal, or hex with `0x`).
pub fn parse_num(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A tshark query over one capture.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The capture.
    pub file: &'a Path,
    /// Display filter (`-Y`), if any.
    pub filter: Option<&'a str>,
    /// Fields (`-e`), in column order.
    pub fields: &'a [&'a str],
    /// Extra options, e.g. `["-d", "tcp.port==2222,ssh"]`.
    pub extra: &'a [&'a str],
}

impl Query<'_> {
    /// Run the query; panics with tshark's message when it fails.
    pub fn rows(&self) -> Vec<Row> {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(self.file).arg("-n");
        if let Some(filter) = self.filter {
            cmd.args(["-Y", filter]);
        }
        cmd.args(self.extra);
        cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]);
        cmd.arg(format!("-Eaggregator={AGGREGATOR}"));
        for field in self.fields {
            cmd.args(["-e", field]);
        }
        let out = cmd.output().expect("run tshark");
        assert!(
            out.status.success(),
            "tshark failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| Row {
                values: line
                    .split('\t')
                    .map(|col| {
                        if col.is_empty() {
                            Vec::new()
                        } else {
                            col.split(AGGREGATOR).map(str::to_owned).collect()
                        }
                    })
                    .collect(),
            })
            .collect()
    }
}
