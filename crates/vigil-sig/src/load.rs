//! Reading rule files into rules and a [`LoadSummary`]: every line is
//! accounted for. Each active rule is accepted, skipped with a reason
//! ([`RuleError::reason`]), or a duplicate; rules commented out
//! (`# alert ...`) are counted as inactive and not parsed. Acceptance is
//! measured over active rules.
//!
//! A line ending in `\` continues on the next line. Blank lines and other
//! comments are ignored. When two rules share a `gid:sid`, the one with the
//! higher `rev` is kept (the first on a tie), as Suricata does, and the
//! other is counted as a duplicate.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::parse::{parse_rule, RuleError};
use crate::rule::{Origin, Rule};
use crate::vars::Vars;

/// How many example rules are kept per skip reason.
pub const EXAMPLES_PER_REASON: usize = 3;

/// The reason under which duplicates are counted.
pub const DUPLICATE_REASON: &str = "duplicate sid";

/// Errors loading rule files (a rule that does not parse is not an error:
/// it is counted in the summary).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A rule file could not be read.
    #[error("cannot read rule file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A skipped rule kept as an example of its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// File and line of the rule.
    pub origin: Origin,
    /// The rule's sid, when it could be read.
    pub sid: Option<u32>,
    /// The full error (naming the option).
    pub detail: String,
}

/// Skipped rules of one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCount {
    /// How many rules.
    pub count: usize,
    /// The first few ([`EXAMPLES_PER_REASON`]).
    pub examples: Vec<Example>,
}

/// Counts for one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// The file as given.
    pub path: String,
    /// Active rules (not commented out).
    pub active: usize,
    /// Accepted rules.
    pub accepted: usize,
    /// Active rules skipped (duplicates included).
    pub skipped: usize,
    /// Commented-out rules.
    pub inactive: usize,
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Per file, in load order.
    pub files: Vec<FileSummary>,
    /// Skipped active rules by reason (duplicates under
    /// [`DUPLICATE_REASON`]).
    pub skipped: BTreeMap<String, ReasonCount>,
    /// Duplicates (also in `skipped`).
    pub duplicates: usize,
    /// Time spent reading and parsing.
    pub elapsed: Duration,
}

impl LoadSummary {
    /// Active rules over all files.
    pub fn active(&self) -> usize {
        self.files.iter().map(|f| f.active).sum()
    }

    /// Accepted rules over all files.
    pub fn accepted(&self) -> usize {
        self.files.iter().map(|f| f.accepted).sum()
    }

    /// Inactive (commented-out) rules over all files.
    pub fn inactive(&self) -> usize {
        self.files.iter().map(|f| f.inactive).sum()
    }

    /// Skipped active rules over all files.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().map(|r| r.count).sum()
    }

    /// Skip reasons, most frequent first.
    pub fn reasons(&self) -> Vec<(&str, &ReasonCount)> {
        let mut v: Vec<_> = self.skipped.iter().map(|(k, r)| (k.as_str(), r)).collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        v
    }

    /// Accepted / active (1.0 when there is no active rule).
    pub fn ratio(&self) -> f64 {
        let active = self.active();
        if active == 0 {
            return 1.0;
        }
        self.accepted() as f64 / active as f64
    }

    fn skip(&mut self, reason: String, example: Example) {
        let entry = self.skipped.entry(reason).or_default();
        entry.count += 1;
        if entry.examples.len() < EXAMPLES_PER_REASON {
            entry.examples.push(example);
        }
    }
}

/// Rules read so far, with the index of each `(gid, sid)`.
#[derive(Debug, Default)]
pub struct Loader {
    rules: Vec<Rule>,
    by_sid: HashMap<(u32, u32), usize>,
    summary: LoadSummary,
    vars: Vars,
}

impl Loader {
    /// A loader resolving header variables with `vars`.
    pub fn new(vars: Vars) -> Self {
        Self {
            vars,
            ..Self::default()
        }
    }

    /// Read one rule file.
    pub fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let start = Instant::now();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: name.clone(),
            source,
        })?;
        self.summary.elapsed += start.elapsed();
        self.load_text(&name, &String::from_utf8_lossy(&bytes));
        Ok(())
    }

    /// Read rules from text, as if from a file named `name`.
    pub fn load_text(&mut self, name: &str, text: &str) {
        let start = Instant::now();
        let mut file = FileSummary {
            path: name.to_owned(),
            ..FileSummary::default()
        };
        for (line, rule_text) in logical_lines(text) {
            let origin = Origin {
                file: name.to_owned(),
                line,
            };
            let trimmed = rule_text.trim();
            if let Some(comment) = trimmed.strip_prefix('#') {
                if looks_like_rule(comment.trim_start()) {
                    file.inactive += 1;
                }
                continue;
            }
            file.active += 1;
            match parse_rule(trimmed, &self.vars) {
                Ok(mut rule) => {
                    rule.origin = Some(origin.clone());
                    if self.insert(rule, &origin) {
                        file.accepted += 1;
                    } else {
                        file.skipped += 1;
                    }
                }
                Err(error) => {
                    file.skipped += 1;
                    tracing::debug!(file = name, line, %error, "skipping rule");
                    let detail = format!("{name}:{line}: {error}");
                    let example = Example {
                        origin,
                        sid: sid_of(trimmed),
                        detail,
                    };
                    self.summary.skip(reason_of(&error), example);
                }
            }
        }
        self.summary.files.push(file);
        self.summary.elapsed += start.elapsed();
    }

    /// Keep `rule` unless a rule with its `gid:sid` and a higher or equal
    /// rev is already kept; returns whether it was kept *as a new rule*.
    fn insert(&mut self, rule: Rule, origin: &Origin) -> bool {
        let key = (rule.gid, rule.sid);
        let dup = |by: &Origin| Example {
            origin: origin.clone(),
            sid: Some(key.1),
            detail: format!(
                "{}:{}: duplicate sid {}:{} (other at {}:{})",
                origin.file, origin.line, key.0, key.1, by.file, by.line
            ),
        };
        if let Some(&i) = self.by_sid.get(&key) {
            self.summary.duplicates += 1;
            if let Some(kept) = self.rules.get_mut(i) {
                let kept_origin = kept.origin.clone().unwrap_or_else(|| origin.clone());
                if rule.rev > kept.rev {
                    *kept = rule;
                }
                self.summary
                    .skip(DUPLICATE_REASON.to_owned(), dup(&kept_origin));
            }
            return false;
        }
        self.by_sid.insert(key, self.rules.len());
        self.rules.push(rule);
        true
    }

    /// The rules and the summary.
    pub fn finish(self) -> (Vec<Rule>, LoadSummary) {
        (self.rules, self.summary)
    }
}

/// Load rule files with `vars`.
pub fn load_files<P: AsRef<Path>>(
    paths: &[P],
    vars: &Vars,
) -> Result<(Vec<Rule>, LoadSummary), LoadError> {
    let mut loader = Loader::new(vars.clone());
    for path in paths {
        loader.load_file(path.as_ref())?;
    }
    Ok(loader.finish())
}

fn reason_of(error: &RuleError) -> String {
    error.reason()
}

/// `# alert http ... (... sid:N; ...)`.
fn looks_like_rule(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default();
    matches!(
        first,
        "alert" | "drop" | "pass" | "reject" | "rejectsrc" | "rejectdst" | "rejectboth"
    ) && text.contains('(')
        && text.contains("sid:")
}

/// The sid of a rule text that did not parse, when it can be found.
fn sid_of(text: &str) -> Option<u32> {
    let at = text.find("sid:")?;
    let digits: String = text
        .get(at + 4..)?
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Lines with `\` continuations joined, each with its 1-based first line;
/// blank lines dropped.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (line, false),
        };
        let entry = current.get_or_insert_with(|| (line_no, String::new()));
        entry.1.push_str(body);
        if !continues {
            if let Some((n, s)) = current.take() {
                if !s.trim().is_empty() {
                    out.push((n, s));
                }
            }
        }
    }
    if let Some((n, s)) = current {
        if !s.trim().is_empty() {
            out.push((n, s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# a comment
alert tcp any any -> any 80 (msg:\"one\"; content:\"a\"; sid:1; rev:1;)

# alert tcp any any -> any 80 (msg:\"off\"; content:\"b\"; sid:2;)
alert tcp any any -> any 80 (msg:\"multi\"; \\
    content:\"c\"; \\
    sid:3;)
alert smtp any any -> any 25 (msg:\"smtp\"; sid:4;)
alert tcp any any -> any 80 (msg:\"lua\"; lua:x.lua; sid:5;)
alert tcp any any -> any 80 (msg:\"dup\"; content:\"d\"; sid:1; rev:2;)
alert tcp any any -> any 80 (msg:\"bad\"; content:\"|4\"; sid:6;)
";

    #[test]
    fn counts_every_kind_of_line() {
        let mut loader = Loader::new(Vars::default());
        loader.load_text("t.rules", TEXT);
        let (rules, summary) = loader.finish();
        assert_eq!(summary.active(), 6);
        assert_eq!(summary.inactive(), 1);
        assert_eq!(summary.accepted(), 2);
        assert_eq!(summary.skipped_total(), 4);
        assert_eq!(summary.duplicates, 1);
        let reasons: Vec<(&str, usize)> = summary
            .reasons()
            .iter()
            .map(|(r, c)| (*r, c.count))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("bad option: content", 1),
                ("duplicate sid", 1),
                ("unsupported option: lua", 1),
                ("unsupported protocol: smtp", 1),
            ]
        );
        // The duplicate with the higher rev replaced the first.
        let one = rules.iter().find(|r| r.sid == 1).unwrap();
        assert_eq!((one.rev, one.msg.as_str()), (2, "dup"));
        let multi = rules.iter().find(|r| r.sid == 3).unwrap();
        assert_eq!(multi.origin.as_ref().unwrap().line, 5);
        let lua = &summary.skipped["unsupported option: lua"].examples[0];
        assert_eq!(lua.origin.line, 9);
        assert_eq!(lua.sid, Some(5));
        assert!(
            lua.detail.starts_with("t.rules:9: unsupported option: lua"),
            "{}",
            lua.detail
        );
        let bad = &summary.skipped["bad option: content"].examples[0];
        assert!(
            bad.detail.contains("t.rules:11") && bad.detail.contains("content"),
            "{}",
            bad.detail
        );
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = load_files(&["/nonexistent/x.rules"], &Vars::default()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.rules"));
    }

    #[test]
    fn examples_are_bounded() {
        let text: String = (0..10)
            .map(|i| format!("alert tcp any any -> any any (msg:\"x\"; lua:a; sid:{i};)\n"))
            .collect();
        let mut loader = Loader::new(Vars::default());
        loader.load_text("x", &text);
        let (_, summary) = loader.finish();
        let r = &summary.skipped["unsupported option: lua"];
        assert_eq!(r.count, 10);
        assert_eq!(r.examples.len(), EXAMPLES_PER_REASON);
    }
}
