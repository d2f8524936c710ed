//! Operator labels: "this entity is a bot" or "a person", kept append-only
//! in the data directory (`labels.jsonl`); for each entity the latest label
//! wins.
//!
//! A label line:
//!
//! ```text
//! {"entity":"203.0.113.7 ua=\"curl/8.5\"","label":"bot","at_ms":1782900000000,"source":"cli"}
//! ```
//!
//! `entity` is a [`Subject`] in its text form (as `vigil bots decisions`
//! and verdicts print it), `label` is `bot` or `human`, `class` an optional
//! finer class (`scraper`, `good_bot`, ...), `at_ms` when it was recorded
//! (wall clock, milliseconds) and `source` where it came from.
//!
//! [`parse_labels`] also reads the generator's ground truth (vigil-webgen's
//! `labels.jsonl`: `ip`, `user_agent`, `session`, `class`, ...): each line
//! labels its address + user agent and its session, and an address gets
//! the label all its lines agree on (none when they disagree, as for a NAT
//! gateway with people and a bot behind it).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decisions::Subject;
use crate::store::{self, StoreError};

/// Bot or person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    /// Any bot (scraper, attacker, crawler).
    Bot,
    /// A person.
    Human,
}

impl std::str::FromStr for Truth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "bot" => Ok(Truth::Bot),
            "human" => Ok(Truth::Human),
            other => Err(format!("label {other:?} is neither bot nor human")),
        }
    }
}

/// One operator label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// Who.
    pub entity: Subject,
    /// Bot or human.
    pub label: Truth,
    /// A finer class, when known (`scraper`, `attacker`, `good_bot`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// When recorded, ms since the epoch (wall clock).
    #[serde(default)]
    pub at_ms: i64,
    /// Where it came from (`cli`, a file name, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// vigil-webgen's ground-truth line (only the fields used).
#[derive(Debug, Deserialize)]
struct GenLabel {
    ip: IpAddr,
    user_agent: Option<String>,
    session: Option<String>,
    class: String,
}

/// A labels file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LabelError {
    /// 1-based line.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

/// Parse a labels file: this module's lines or vigil-webgen's ground truth
/// (the two may be mixed; blank lines skipped). `source` and `at_ms` fill
/// in what the lines do not say.
pub fn parse_labels(text: &str, source: &str, at_ms: i64) -> Result<Vec<Label>, LabelError> {
    let mut out = Vec::new();
    // Address → (label, class) agreed by all generator lines so far
    // (`None` once they disagree), in order of first appearance.
    let mut by_ip: BTreeMap<IpAddr, Option<(Truth, String)>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(t).map_err(|e| LabelError {
            line: line_no,
            message: e.to_string(),
        })?;
        if value.get("entity").is_some() {
            let mut l: Label = serde_json::from_value(value).map_err(|e| LabelError {
                line: line_no,
                message: e.to_string(),
            })?;
            if l.source.is_empty() {
                l.source = source.to_owned();
            }
            if l.at_ms == 0 {
                l.at_ms = at_ms;
            }
            out.push(l);
            continue;
        }
        let g: GenLabel = serde_json::from_value(value).map_err(|e| LabelError {
            line: line_no,
            message: format!("neither a label nor a generator label: {e}"),
        })?;
        let truth = match g.class.as_str() {
            "human" => Truth::Human,
            "unknown" => {
                return Err(LabelError {
                    line: line_no,
                    message: "class unknown is not a label".into(),
                })
            }
            _ => Truth::Bot,
        };
        let mk = |entity| Label {
            entity,
            label: truth,
            class: Some(g.class.clone()),
            at_ms,
            source: source.to_owned(),
        };
        out.push(mk(Subject::ip_ua(
            g.ip,
            g.user_agent.as_deref().unwrap_or(""),
        )));
        if let Some(s) = g.session.as_deref().filter(|s| !s.is_empty()) {
            out.push(mk(Subject::session(s)));
        }
        by_ip
            .entry(g.ip)
            .and_modify(|agreed| {
                if agreed
                    .as_ref()
                    .is_some_and(|(t, c)| *t != truth || *c != g.class)
                {
                    *agreed = None;
                }
            })
            .or_insert(Some((truth, g.class.clone())));
    }
    for (ip, agreed) in by_ip {
        if let Some((truth, class)) = agreed {
            out.push(Label {
                entity: Subject::Ip(ip),
                label: truth,
                class: Some(class),
                at_ms,
                source: source.to_owned(),
            });
        }
    }
    Ok(out)
}

/// The labels of a data directory.
#[derive(Debug, Clone)]
pub struct LabelStore {
    path: PathBuf,
}

/// Labels as read: the latest per entity, and lines that did not parse.
#[derive(Debug, Clone, Default)]
pub struct LabelSet {
    /// Latest label per entity.
    pub labels: HashMap<Subject, Label>,
    /// Lines read.
    pub lines: u64,
    /// Lines that did not parse (skipped).
    pub bad_lines: u64,
}

impl LabelSet {
    /// The label of an entity.
    pub fn get(&self, s: &Subject) -> Option<&Label> {
        self.labels.get(s)
    }

    /// Labels per truth: (bots, humans).
    pub fn counts(&self) -> (usize, usize) {
        let bots = self
            .labels
            .values()
            .filter(|l| l.label == Truth::Bot)
            .count();
        (bots, self.labels.len() - bots)
    }
}

impl LabelStore {
    /// The labels of data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(store::LABELS_FILE),
        }
    }

    /// `DIR/labels.jsonl`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append labels (one write; the directory is created when missing).
    pub fn append(&self, labels: &[Label]) -> Result<(), StoreError> {
        if let Some(dir) = self.path.parent() {
            store::ensure_dir(dir)?;
        }
        let mut out = Vec::with_capacity(labels.len() * 128);
        for l in labels {
            serde_json::to_writer(&mut out, l).map_err(|e| StoreError::Parse {
                path: self.path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            out.push(b'\n');
        }
        store::append_lines(&self.path, &out)
    }

    /// Read every label; the latest line per entity wins.
    pub fn load(&self) -> Result<LabelSet, StoreError> {
        let mut set = LabelSet::default();
        let Some(bytes) = store::read_optional(&self.path)? else {
            return Ok(set);
        };
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            set.lines += 1;
            match serde_json::from_slice::<Label>(line) {
                Ok(l) => {
                    set.labels.insert(l.entity.clone(), l);
                }
                Err(error) => {
                    set.bad_lines += 1;
                    tracing::warn!(file = %self.path.display(), line = i + 1, %error, "skipping unparsable label");
                }
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_lines_parse_and_the_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = LabelStore::new(&dir.path().join("data"));
        let text = r#"
{"entity":"203.0.113.7","label":"bot"}
{"entity":"203.0.113.7 ua=\"curl/8.5\"","label":"human","class":"human","at_ms":5,"source":"me"}
"#;
        let labels = parse_labels(text, "f.jsonl", 9).unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!((labels[0].source.as_str(), labels[0].at_ms), ("f.jsonl", 9));
        assert_eq!(
            labels[1].entity,
            Subject::ip_ua("203.0.113.7".parse().unwrap(), "curl/8.5")
        );
        assert_eq!((labels[1].source.as_str(), labels[1].at_ms), ("me", 5));
        store.append(&labels).unwrap();
        // Relabelled later: the newer line wins.
        store
            .append(&[Label {
                entity: "203.0.113.7".parse().unwrap(),
                label: Truth::Human,
                class: None,
                at_ms: 10,
                source: "cli".into(),
            }])
            .unwrap();
        let set = store.load().unwrap();
        assert_eq!((set.lines, set.bad_lines, set.labels.len()), (3, 0, 2));
        assert_eq!(
            set.get(&"203.0.113.7".parse().unwrap()).unwrap().label,
            Truth::Human
        );
        assert_eq!(set.counts(), (0, 2));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse_labels("\n{\"entity\":\"x\",\"label\":\"bot\"}\n", "f", 0).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("bad entity"), "{e}");
        let e = parse_labels("{\"entity\":\"10.0.0.1\",\"label\":\"maybe\"}", "f", 0).unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_labels("{\"foo\":1}", "f", 0).unwrap_err();
        assert!(e.message.contains("neither"), "{e}");
        assert!(parse_labels("not json", "f", 0).is_err());
    }

    #[test]
    fn generator_labels_label_ip_ua_sessions_and_agreeing_addresses() {
        let text = r#"{"actor":1,"ip":"10.0.0.1","user_agent":"Mozilla/5.0 A","session":"s1","class":"human","subtype":"gateway","scenario":"nat_gateway","requests":40}
{"actor":2,"ip":"10.0.0.1","user_agent":"Mozilla/5.0 B","session":"s2","class":"human","subtype":"gateway","scenario":"nat_gateway","requests":30}
{"actor":3,"ip":"10.0.0.2","user_agent":null,"session":null,"class":"attacker","subtype":"scanner","scenario":"vulnerability_scan","requests":300}
{"actor":4,"ip":"10.0.0.3","user_agent":"Mozilla/5.0 C","session":"s4","class":"human","subtype":"browsing","scenario":"browsing","requests":10}
{"actor":5,"ip":"10.0.0.3","user_agent":"python-requests/2.31","session":null,"class":"scraper","subtype":"fast","scenario":"fast_scraper","requests":900}
"#;
        let labels = parse_labels(text, "labels.jsonl", 1).unwrap();
        let find = |s: &str| {
            let s: Subject = s.parse().unwrap();
            labels.iter().find(|l| l.entity == s).map(|l| l.label)
        };
        assert_eq!(find(r#"10.0.0.1 ua="Mozilla/5.0 A""#), Some(Truth::Human));
        assert_eq!(find("session=s2"), Some(Truth::Human));
        assert_eq!(find("10.0.0.1"), Some(Truth::Human));
        assert_eq!(find(r#"10.0.0.2 ua="""#), Some(Truth::Bot));
        assert_eq!(find("10.0.0.2"), Some(Truth::Bot));
        assert_eq!(
            find(r#"10.0.0.3 ua="python-requests/2.31""#),
            Some(Truth::Bot)
        );
        // People and a scraper behind one address: no address label.
        assert_eq!(find("10.0.0.3"), None);
        assert_eq!(labels.len(), 2 + 2 + 1 + 2 + 1 + 2);
        let scanner = labels
            .iter()
            .find(|l| l.entity == "10.0.0.2".parse().unwrap())
            .unwrap();
        assert_eq!(scanner.class.as_deref(), Some("attacker"));
    }
}
