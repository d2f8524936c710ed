//! Sigma import: SigmaHQ rules (YAML, one or more documents per file) as
//! Vigil rules. This module owns the translation: detections become a
//! condition tree ([`Expr`]) over Vigil's event fields through a field
//! mapping ([`Mapping`], built in and overridable), Sigma correlation rules
//! become [`CorrelationSpec`](crate::spec::CorrelationSpec)s, and every rule
//! Vigil cannot run is reported with a [`Reason`]. Parsing and checking the
//! condition text, evaluating, and correlating are the `expr` and
//! `correlate` modules' work.
//!
//! ```
//! use vigil_rules::sigma::{import, Mapping, Source};
//!
//! let rule = "title: SQL injection\nid: 5a6e4a1b-0000-4000-8000-000000000001\nlevel: high\n\
//!             logsource:\n  category: webserver\n\
//!             detection:\n  selection:\n    cs-uri-query|contains: 'union select'\n\
//!             \x20 condition: selection\n";
//! let report = import(&[Source::new("sqli.yml", rule)], &Mapping::builtin());
//! assert_eq!(report.accepted.len(), 1);
//! assert_eq!(report.accepted[0].spec.severity, "high");
//! assert!(report.summary().ends_with("accepted 1 of 1 rules"));
//! ```
//!
//! What is translated: selections as maps (AND) and lists (OR), value
//! lists (OR, AND with `all`), wildcards `*` `?` and their escapes, `null`,
//! keyword searches (in the raw record, the source's `keywords` field),
//! the modifiers `contains`, `startswith`, `endswith`, `all`, `re` (with
//! `i`, `m`, `s`), `cidr`, `exists`, `gt`, `gte`, `lt`, `lte`, `base64`,
//! `base64offset`, `windash`, `cased`, `neq`, `fieldref`; conditions with
//! `and`, `or`, `not`, parentheses, `1 of` / `all of` a pattern or `them`;
//! correlation types `event_count`, `value_count`, `temporal`,
//! `temporal_ordered` with `group-by`, `aliases` and `generate`.

mod condition;
mod correlation;
mod detection;
pub mod mapping;
mod value;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use yaml_serde::{Mapping as YamlMap, Value};

pub use mapping::{FieldTarget, Logsource, LogsourceMap, Mapping, MappingError};

use crate::ast::Expr;
use crate::spec::RuleSpec;
use correlation::Correlation;
use detection::Detection;

/// One rule file's text and the name it is reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file name (or any label) used in reports and `origin.file`.
    pub name: String,
    /// The YAML text.
    pub text: String,
}

impl Source {
    /// A source named `name` with `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Why a Sigma rule was not accepted. The text groups rules in the import
/// summary, so it names the construct, not the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// The file is not valid YAML.
    #[error("invalid yaml: {0}")]
    Yaml(String),
    /// A document that is not a rule (a Sigma collection's `action`, a
    /// meta-filter, anything else).
    #[error("not a rule: {0}")]
    NotARule(String),
    /// A required key is absent.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A `taxonomy` other than Sigma's.
    #[error("taxonomy `{0}` is not supported (only `sigma`)")]
    Taxonomy(String),
    /// A `level` Sigma does not define.
    #[error("level `{0}` is not one of informational, low, medium, high, critical")]
    Level(String),
    /// `status: unsupported`.
    #[error("status `unsupported`: the rule says it cannot be used as is")]
    StatusUnsupported,
    /// No mapping entry for the rule's log source.
    #[error("logsource not produced by Vigil: {0}")]
    Logsource(String),
    /// A field the mapping does not translate for that log source.
    #[error("field `{field}` not mapped for {logsource}")]
    UnmappedField {
        /// The Sigma field name.
        field: String,
        /// The log source, e.g. `category: webserver`.
        logsource: String,
    },
    /// A keyword search on a source without a raw-record field.
    #[error("keyword search on {0}, whose events carry no raw record")]
    Keywords(String),
    /// A modifier Vigil does not run.
    #[error("unsupported modifier `{0}`")]
    UnsupportedModifier(String),
    /// A modifier used in a way that has no meaning.
    #[error("modifier `{modifier}` on `{field}`: {problem}")]
    Modifier {
        /// The Sigma field name.
        field: String,
        /// The modifier.
        modifier: String,
        /// What is wrong.
        problem: String,
    },
    /// A value that cannot be used (bad regex or network, wrong type).
    #[error("value of `{field}`: {problem}")]
    Value {
        /// The Sigma field name (empty for keywords).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// Condition syntax Vigil does not run (aggregations, `near`).
    #[error("unsupported condition syntax: {0}")]
    ConditionSyntax(String),
    /// A condition that does not parse or names what is not there.
    #[error("condition: {0}")]
    Condition(String),
    /// `value_sum`, `value_avg`, `value_percentile`, or an unknown type.
    #[error("unsupported correlation type `{0}`")]
    CorrelationType(String),
    /// A correlation section that cannot be used.
    #[error("correlation: {0}")]
    Correlation(String),
    /// A correlation names a rule that is not in the imported set.
    #[error("correlation references unknown rule `{0}`")]
    UnknownRule(String),
    /// A correlation names a rule that was not accepted.
    #[error("correlation references rule `{rule}`, which was not accepted ({reason})")]
    RejectedRule {
        /// The reference as written.
        rule: String,
        /// Why that rule was not accepted.
        reason: Box<Reason>,
    },
    /// Correlations that reference each other in a circle (or stand on
    /// such a circle).
    #[error("correlation rules reference each other in a cycle (through `{0}`)")]
    Cycle(String),
    /// Another document has the same id.
    #[error("duplicate rule id `{0}`")]
    DuplicateId(String),
    /// The translated condition does not fit the event schema (a mapping
    /// that names a field Vigil does not have, a text test on a number, a
    /// regex the regex engine does not take).
    #[error("condition does not fit the event schema: {0}")]
    Schema(String),
}

/// One accepted rule: the Vigil rule and, for single-event rules, its
/// condition tree. `spec.condition` is left empty; fill it with the
/// expression printer: `rule.into_spec(expr::to_infix)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRule {
    /// The rule, with `origin` (Sigma id and name, file, document, level,
    /// status, log source), severity from `level`, tags, `generate`, and
    /// for correlation rules the correlation.
    pub spec: RuleSpec,
    /// The condition (for correlation rules `None`: they take the
    /// referenced rules' matches as input).
    pub expr: Option<Expr>,
}

impl ImportedRule {
    /// The rule with its condition printed by `print` into
    /// `spec.condition`.
    pub fn into_spec(self, print: impl FnOnce(&Expr) -> String) -> RuleSpec {
        let mut spec = self.spec;
        spec.condition = self.expr.as_ref().map(print);
        spec
    }
}

/// A rule that was not accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The source it came from.
    pub file: String,
    /// Its document number in that file, from 1.
    pub document: usize,
    /// Its Sigma id, when it has one.
    pub id: Option<String>,
    /// Its title, when it has one.
    pub title: Option<String>,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.document > 1 {
            write!(f, " (document {})", self.document)?;
        }
        if let Some(t) = &self.title {
            write!(f, " {t:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What an import gave: the accepted rules in file and document order, and
/// the rejected ones with their reasons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Accepted rules.
    pub accepted: Vec<ImportedRule>,
    /// Rules not accepted.
    pub rejected: Vec<Rejected>,
}

impl ImportReport {
    /// Rules seen (accepted and rejected).
    pub fn total(&self) -> usize {
        self.accepted.len() + self.rejected.len()
    }

    /// Rejection reasons with their counts, most frequent first (then by
    /// text).
    pub fn reasons(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in &self.rejected {
            *counts.entry(r.reason.to_string()).or_default() += 1;
        }
        let mut out: Vec<(String, usize)> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// The summary: one line per rejection reason with its count, then
    /// `accepted N of M rules`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (reason, n) in self.reasons() {
            out.push_str(&format!("rejected {n}: {reason}\n"));
        }
        out.push_str(&format!(
            "accepted {} of {} rules",
            self.accepted.len(),
            self.total()
        ));
        out
    }
}

/// Reading rule files failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigmaError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The `.yml` and `.yaml` files under `paths` (files as given, directories
/// searched recursively, each sorted by path), read as [`Source`]s named by
/// their path. This is the module's only I/O.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, SigmaError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
        let read_err = |source| SigmaError::Read {
            path: dir.display().to_string(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    files
        .into_iter()
        .map(|p| {
            std::fs::read_to_string(&p)
                .map(|text| Source::new(p.display().to_string(), text))
                .map_err(|source| SigmaError::Read {
                    path: p.display().to_string(),
                    source,
                })
        })
        .collect()
}

/// A value for messages.
pub(crate) fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// The common keys of a rule document.
#[derive(Debug, Clone)]
struct Meta {
    title: Option<String>,
    id: Option<String>,
    name: Option<String>,
}

fn text(m: &YamlMap, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl Meta {
    fn read(m: &YamlMap) -> Meta {
        Meta {
            title: text(m, "title"),
            id: text(m, "id"),
            name: text(m, "name"),
        }
    }
}

/// One document under import.
#[derive(Debug)]
struct Doc {
    source: usize,
    document: usize,
    map: YamlMap,
    meta: Meta,
    /// The id the Vigil rule gets.
    vigil_id: String,
}

/// Where a document is in the import.
#[derive(Debug, Clone)]
enum State {
    /// Not yet translated.
    Pending,
    /// An accepted detection rule.
    Detection,
    /// A correlation over these documents.
    Correlation(Vec<usize>),
    /// Not accepted.
    Rejected(Reason),
}

/// The importer's working set.
struct Import<'a> {
    sources: &'a [Source],
    mapping: &'a Mapping,
    docs: Vec<Doc>,
    state: Vec<State>,
    built: Vec<Option<ImportedRule>>,
    /// Per document: a correlation whose `generate` is true.
    generate: Vec<bool>,
    /// Per accepted document: the mapping entries (indexes into
    /// `mapping.logsources`) of the detection rules it is or stands on.
    leaves: Vec<Vec<usize>>,
    /// Sigma ids and names to documents.
    index: HashMap<String, usize>,
}

/// Import `sources` through `mapping`. Every rule document ends up in
/// exactly one of `accepted` and `rejected`.
pub fn import(sources: &[Source], mapping: &Mapping) -> ImportReport {
    let mut imp = Import {
        sources,
        mapping,
        docs: Vec::new(),
        state: Vec::new(),
        built: Vec::new(),
        generate: Vec::new(),
        leaves: Vec::new(),
        index: HashMap::new(),
    };
    let mut early: Vec<Rejected> = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        imp.load(s, source, &mut early);
    }
    for i in 0..imp.docs.len() {
        if matches!(imp.state.get(i), Some(State::Pending)) && !imp.is_correlation(i) {
            imp.detection(i);
        }
    }
    imp.correlations();
    imp.set_generate();
    imp.finish(early)
}

/// The Vigil severity for a Sigma `level`.
fn severity(level: Option<&str>) -> Result<String, Reason> {
    match level {
        None => Ok("medium".to_owned()),
        Some(l @ ("informational" | "low" | "medium" | "high" | "critical")) => Ok(l.to_owned()),
        Some(other) => Err(Reason::Level(other.to_owned())),
    }
}

impl Import<'_> {
    /// Split a source into documents; YAML errors become rejections.
    fn load(&mut self, s: usize, source: &Source, early: &mut Vec<Rejected>) {
        for (n, de) in yaml_serde::Deserializer::from_str(&source.text).enumerate() {
            let document = n + 1;
            let value = match Value::deserialize(de) {
                Ok(v) => v,
                Err(e) => {
                    early.push(Rejected {
                        file: source.name.clone(),
                        document,
                        id: None,
                        title: None,
                        reason: Reason::Yaml(e.to_string()),
                    });
                    // The parser cannot resynchronize after an error.
                    break;
                }
            };
            let map = match value {
                Value::Null => continue,
                Value::Mapping(m) => m,
                _ => {
                    early.push(Rejected {
                        file: source.name.clone(),
                        document,
                        id: None,
                        title: None,
                        reason: Reason::NotARule("the document is not a map".into()),
                    });
                    continue;
                }
            };
            let meta = Meta::read(&map);
            let stem = Path::new(&source.name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| source.name.clone());
            let vigil_id = meta
                .id
                .clone()
                .or_else(|| meta.name.clone())
                .unwrap_or_else(|| format!("sigma-{stem}-{document}"));
            let i = self.docs.len();
            // A document's own fault first; then whether its id is taken.
            let mut state = match Self::check_common(&map) {
                Ok(()) => State::Pending,
                Err(reason) => State::Rejected(reason),
            };
            for key in [&meta.id, &meta.name].into_iter().flatten() {
                if self.index.contains_key(key) {
                    if matches!(state, State::Pending) {
                        state = State::Rejected(Reason::DuplicateId(key.clone()));
                    }
                } else {
                    self.index.insert(key.clone(), i);
                }
            }
            self.docs.push(Doc {
                source: s,
                document,
                map,
                meta,
                vigil_id,
            });
            self.state.push(state);
            self.built.push(None);
            self.generate.push(false);
            self.leaves.push(Vec::new());
        }
    }

    /// Checks that hold for every rule document.
    fn check_common(map: &YamlMap) -> Result<(), Reason> {
        if !map.contains_key("detection") && !map.contains_key("correlation") {
            if let Some(action) = map.get("action") {
                return Err(Reason::NotARule(format!(
                    "sigma collection action `{}` is not supported",
                    show_value(action)
                )));
            }
            if map.contains_key("filter") {
                return Err(Reason::NotARule(
                    "sigma meta-filters are not supported".into(),
                ));
            }
            return Err(Reason::NotARule(
                "neither `detection` nor `correlation`".into(),
            ));
        }
        if text(map, "title").is_none() {
            return Err(Reason::Missing("title"));
        }
        if let Some(t) = text(map, "taxonomy") {
            if t != "sigma" {
                return Err(Reason::Taxonomy(t));
            }
        }
        if text(map, "status").as_deref() == Some("unsupported") {
            return Err(Reason::StatusUnsupported);
        }
        severity(text(map, "level").as_deref())?;
        Ok(())
    }

    fn is_correlation(&self, i: usize) -> bool {
        self.docs
            .get(i)
            .is_some_and(|d| d.map.contains_key("correlation"))
    }

    /// The rule's common parts (everything but condition and correlation).
    fn base_spec(&self, i: usize, logsource: Option<&Logsource>) -> Option<RuleSpec> {
        let doc = self.docs.get(i)?;
        let map = &doc.map;
        let level = text(map, "level");
        let mut origin = BTreeMap::new();
        if let Some(id) = &doc.meta.id {
            origin.insert("sigma_id".to_owned(), id.clone());
        }
        if let Some(name) = &doc.meta.name {
            origin.insert("sigma_name".to_owned(), name.clone());
        }
        if let Some(src) = self.sources.get(doc.source) {
            origin.insert("file".to_owned(), src.name.clone());
        }
        origin.insert("document".to_owned(), doc.document.to_string());
        if let Some(l) = &level {
            origin.insert("level".to_owned(), l.clone());
        }
        if let Some(s) = text(map, "status") {
            origin.insert("status".to_owned(), s);
        }
        if let Some(ls) = logsource {
            origin.insert("logsource".to_owned(), ls.to_string());
        }
        let tags = match map.get("tags") {
            Some(Value::Sequence(t)) => t
                .iter()
                .filter_map(|v| v.as_str())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Some(RuleSpec {
            id: doc.vigil_id.clone(),
            title: doc.meta.title.clone().unwrap_or_default(),
            description: text(map, "description"),
            severity: severity(level.as_deref()).unwrap_or_else(|_| "medium".to_owned()),
            condition: None,
            correlation: None,
            fire: None,
            suppress: None,
            generate: None,
            tags,
            actions: Vec::new(),
            origin,
        })
    }

    /// Translate detection rule `i`.
    fn detection(&mut self, i: usize) {
        match self.try_detection(i) {
            Ok((entry, rule)) => {
                self.set(i, State::Detection, Some(rule));
                if let Some(l) = self.leaves.get_mut(i) {
                    *l = vec![entry];
                }
            }
            Err(reason) => self.set(i, State::Rejected(reason), None),
        }
    }

    /// Record where document `i` ended up (`i` is always one of `docs`).
    fn set(&mut self, i: usize, state: State, rule: Option<ImportedRule>) {
        if let Some(s) = self.state.get_mut(i) {
            *s = state;
        }
        if let Some(b) = self.built.get_mut(i) {
            *b = rule;
        }
    }

    fn try_detection(&self, i: usize) -> Result<(usize, ImportedRule), Reason> {
        let doc = self.docs.get(i).ok_or(Reason::Missing("detection"))?;
        let logsource: Logsource = match doc.map.get("logsource") {
            Some(v) => yaml_serde::from_value(v.clone()).map_err(|e| Reason::Value {
                field: "logsource".into(),
                problem: e.to_string(),
            })?,
            None => return Err(Reason::Missing("logsource")),
        };
        let (entry_index, entry) = self
            .mapping
            .logsources
            .iter()
            .enumerate()
            .find(|(_, e)| e.matches(&logsource))
            .ok_or_else(|| Reason::Logsource(logsource.to_string()))?;
        let Some(Value::Mapping(items)) = doc.map.get("detection") else {
            return Err(Reason::Missing("detection"));
        };
        let condition = Detection::new(items, entry).condition()?;
        let expr = match entry.event_filter() {
            Some(filter) => Expr::and(vec![filter, condition]),
            None => condition,
        };
        // Accepted means it compiles.
        crate::expr::check(&expr).map_err(|e| Reason::Schema(e.to_string()))?;
        let spec = self
            .base_spec(i, Some(&logsource))
            .ok_or(Reason::Missing("detection"))?;
        Ok((
            entry_index,
            ImportedRule {
                spec,
                expr: Some(expr),
            },
        ))
    }

    /// Resolve every correlation, each after the correlations it names
    /// (Kahn's order, no recursion); the ones left waiting are in or behind
    /// a reference cycle.
    fn correlations(&mut self) {
        let n = self.docs.len();
        let mut parsed: Vec<Option<(Correlation, Vec<usize>)>> = vec![None; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut waiting = vec![0usize; n];
        for i in 0..n {
            if !matches!(self.state.get(i), Some(State::Pending)) || !self.is_correlation(i) {
                continue;
            }
            match self.parse_correlation(i) {
                Ok(found) => {
                    let mut seen = Vec::new();
                    for &r in &found.1 {
                        if !seen.contains(&r)
                            && matches!(self.state.get(r), Some(State::Pending))
                            && self.is_correlation(r)
                        {
                            seen.push(r);
                            if let (Some(d), Some(w)) = (dependents.get_mut(r), waiting.get_mut(i))
                            {
                                d.push(i);
                                *w += 1;
                            }
                        }
                    }
                    if let Some(p) = parsed.get_mut(i) {
                        *p = Some(found);
                    }
                }
                Err(reason) => self.set(i, State::Rejected(reason), None),
            }
        }
        let mut ready: VecDeque<usize> = (0..n)
            .filter(|&i| parsed.get(i).is_some_and(Option::is_some) && waiting.get(i) == Some(&0))
            .collect();
        while let Some(i) = ready.pop_front() {
            let Some((corr, refs)) = parsed.get_mut(i).and_then(Option::take) else {
                continue;
            };
            match self.try_correlation(i, &corr, &refs) {
                Ok((rule, leaves)) => {
                    self.set(i, State::Correlation(refs), Some(rule));
                    if let Some(g) = self.generate.get_mut(i) {
                        *g = corr.generate;
                    }
                    if let Some(l) = self.leaves.get_mut(i) {
                        *l = leaves;
                    }
                }
                Err(reason) => self.set(i, State::Rejected(reason), None),
            }
            for &d in dependents.get(i).map(Vec::as_slice).unwrap_or_default() {
                if let Some(w) = waiting.get_mut(d) {
                    *w -= 1;
                    if *w == 0 {
                        ready.push_back(d);
                    }
                }
            }
        }
        for (i, left) in parsed.into_iter().enumerate() {
            let Some((corr, refs)) = left else { continue };
            let through = corr
                .rules
                .iter()
                .zip(&refs)
                .find(|(_, r)| matches!(self.state.get(**r), Some(State::Pending)))
                .map(|(name, _)| name.clone())
                .unwrap_or_default();
            self.set(i, State::Rejected(Reason::Cycle(through)), None);
        }
    }

    /// Read correlation `i` and find the documents it names.
    fn parse_correlation(&self, i: usize) -> Result<(Correlation, Vec<usize>), Reason> {
        let doc = self.docs.get(i).ok_or(Reason::Missing("correlation"))?;
        let Some(Value::Mapping(section)) = doc.map.get("correlation") else {
            return Err(Reason::Correlation("`correlation` is not a map".into()));
        };
        let corr = Correlation::parse(section, doc.map.get("generate").and_then(Value::as_bool))?;
        let mut refs = Vec::with_capacity(corr.rules.len());
        for name in &corr.rules {
            let &r = self
                .index
                .get(name)
                .ok_or_else(|| Reason::UnknownRule(name.clone()))?;
            if r == i {
                return Err(Reason::Cycle(name.clone()));
            }
            refs.push(r);
        }
        Ok((corr, refs))
    }

    /// Translate correlation `i`, whose referenced rules are all resolved:
    /// the rule and the mapping entries of the detection rules under it.
    fn try_correlation(
        &self,
        i: usize,
        corr: &Correlation,
        refs: &[usize],
    ) -> Result<(ImportedRule, Vec<usize>), Reason> {
        let mut leaves = Vec::new();
        for (name, &r) in corr.rules.iter().zip(refs) {
            match self.state.get(r) {
                Some(State::Detection | State::Correlation(_)) => {
                    for l in self.leaves.get(r).map(Vec::as_slice).unwrap_or_default() {
                        if !leaves.contains(l) {
                            leaves.push(*l);
                        }
                    }
                }
                Some(State::Rejected(reason)) => {
                    // Name the first cause, not the chain of references.
                    let cause = match reason {
                        Reason::RejectedRule { reason, .. } => (**reason).clone(),
                        other => other.clone(),
                    };
                    return Err(Reason::RejectedRule {
                        rule: name.clone(),
                        reason: Box::new(cause),
                    });
                }
                _ => return Err(Reason::Cycle(name.clone())),
            }
        }
        let ids: Vec<String> = refs
            .iter()
            .filter_map(|&r| self.docs.get(r).map(|d| d.vigil_id.clone()))
            .collect();
        let spec = corr.to_spec(ids, &mut |pos, field| {
            let r = refs.get(pos).copied().unwrap_or(usize::MAX);
            self.map_field(r, field)
        })?;
        let mut rule = self
            .base_spec(i, None)
            .ok_or(Reason::Missing("correlation"))?;
        rule.correlation = Some(spec);
        Ok((
            ImportedRule {
                spec: rule,
                expr: None,
            },
            leaves,
        ))
    }

    /// The Vigil field for Sigma `field` in the events of rule `r` (for a
    /// correlation, of every rule under it; they must agree).
    fn map_field(&self, r: usize, field: &str) -> Result<String, Reason> {
        let leaves = self.leaves.get(r).map(Vec::as_slice).unwrap_or_default();
        let mut found: Option<String> = None;
        for &entry in leaves {
            let e = self
                .mapping
                .logsources
                .get(entry)
                .ok_or(Reason::Missing("logsource"))?;
            let path = match e.fields.get(field) {
                Some(FieldTarget::Path(p)) => p.clone(),
                _ => {
                    return Err(Reason::UnmappedField {
                        field: field.to_owned(),
                        logsource: e.logsource().to_string(),
                    })
                }
            };
            match &found {
                Some(p) if *p != path => {
                    return Err(Reason::Correlation(format!(
                        "`{field}` is `{p}` in one rule and `{path}` in another; \
                         per-rule group fields are not supported"
                    )))
                }
                Some(_) => {}
                None => found = Some(path),
            }
        }
        found.ok_or_else(|| Reason::UnknownRule(field.to_owned()))
    }

    /// Sigma's `generate`: rules a correlation uses emit their own matches
    /// only when a correlation using them says so.
    fn set_generate(&mut self) {
        let mut flags: Vec<Option<bool>> = vec![None; self.docs.len()];
        for (i, state) in self.state.iter().enumerate() {
            let State::Correlation(refs) = state else {
                continue;
            };
            let generate = self.generate.get(i).copied().unwrap_or(false);
            for &r in refs {
                if let Some(f) = flags.get_mut(r) {
                    *f = Some(f.unwrap_or(false) || generate);
                }
            }
        }
        for (built, flag) in self.built.iter_mut().zip(flags) {
            if let (Some(b), Some(flag)) = (built.as_mut(), flag) {
                b.spec.generate = Some(flag);
            }
        }
    }

    fn finish(self, early: Vec<Rejected>) -> ImportReport {
        let mut report = ImportReport {
            accepted: Vec::new(),
            rejected: early,
        };
        for ((doc, state), built) in self.docs.into_iter().zip(self.state).zip(self.built) {
            match (state, built) {
                (State::Rejected(reason), _) => report.rejected.push(Rejected {
                    file: self
                        .sources
                        .get(doc.source)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    document: doc.document,
                    id: doc.meta.id,
                    title: doc.meta.title,
                    reason,
                }),
                (_, Some(rule)) => report.accepted.push(rule),
                (_, None) => report.rejected.push(Rejected {
                    file: self
                        .sources
                        .get(doc.source)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    document: doc.document,
                    id: doc.meta.id,
                    title: doc.meta.title,
                    reason: Reason::NotARule("neither `detection` nor `correlation`".into()),
                }),
            }
        }
        report
    }
}

#[cfg(test)]
mod tests;
