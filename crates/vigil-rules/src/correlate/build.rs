//! From rule specs to compiled correlation rules: every check that can be
//! made before the first event (input ids, cycles, durations, thresholds,
//! fields, aliases, fire modes) and the processing order (producers before
//! the rules that consume their meta-events).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use vigil_event::fields::{self, FieldDef};
use vigil_event::Severity;

use crate::duration::{self, DurationError};
use crate::spec::{FireSpec, RuleSpec};

use super::CorrelatorConfig;

/// Why a set of rules cannot be correlated. Every variant names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two rules share an id.
    #[error("rule '{rule}': duplicate rule id")]
    DuplicateId {
        /// The id.
        rule: String,
    },
    /// `correlation.type` is not one Vigil runs.
    #[error("rule '{rule}': unknown correlation type '{kind}' (expected event_count, value_count, temporal, temporal_ordered or absence)")]
    UnknownKind {
        /// The rule.
        rule: String,
        /// The type as written.
        kind: String,
    },
    /// `rules` or `after` names a rule that is not loaded.
    #[error("rule '{rule}': input rule '{input}' is not defined")]
    UnknownInput {
        /// The rule.
        rule: String,
        /// The missing id.
        input: String,
    },
    /// The same input is named twice.
    #[error("rule '{rule}': input rule '{input}' is listed twice")]
    DuplicateInput {
        /// The rule.
        rule: String,
        /// The repeated id.
        input: String,
    },
    /// Correlation rules consume each other in a loop.
    #[error("rule '{rule}': correlation rules form a cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// A rule on the cycle.
        rule: String,
        /// The rules around the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A duration did not parse.
    #[error("rule '{rule}': {what}: {source}")]
    Duration {
        /// The rule.
        rule: String,
        /// Which setting (`timespan`, `lateness`, `suppress`, `fire.once_per`).
        what: &'static str,
        /// The parse error (it quotes the text).
        source: DurationError,
    },
    /// A duration that must be positive is zero.
    #[error("rule '{rule}': {what} must be longer than zero")]
    ZeroDuration {
        /// The rule.
        rule: String,
        /// Which setting.
        what: &'static str,
    },
    /// `event_count` and `value_count` need a threshold.
    #[error("rule '{rule}': {kind} needs a threshold (e.g. threshold: {{ gte: 10 }})")]
    MissingThreshold {
        /// The rule.
        rule: String,
        /// The kind.
        kind: &'static str,
    },
    /// A threshold key is not a comparison, or the threshold is empty.
    #[error("rule '{rule}': threshold key '{key}' is not one of gt, gte, lt, lte, eq, neq")]
    BadThreshold {
        /// The rule.
        rule: String,
        /// The key as written (empty for an empty map).
        key: String,
    },
    /// A setting was given that this kind does not use.
    #[error("rule '{rule}': '{setting}' does not apply to {kind}")]
    NotApplicable {
        /// The rule.
        rule: String,
        /// The setting.
        setting: &'static str,
        /// The kind.
        kind: &'static str,
    },
    /// `value_count` needs `field`.
    #[error(
        "rule '{rule}': value_count needs 'field' (the field whose distinct values are counted)"
    )]
    MissingField {
        /// The rule.
        rule: String,
    },
    /// A `group_by` or `field` name is not in the event schema.
    #[error("rule '{rule}': unknown field '{field}' (not in the event schema)")]
    UnknownField {
        /// The rule.
        rule: String,
        /// The name as written.
        field: String,
    },
    /// An alias used in `group_by` has no field for one of the inputs.
    #[error("rule '{rule}': alias '{alias}' names no field for input rule '{input}'")]
    AliasMissing {
        /// The rule.
        rule: String,
        /// The alias.
        alias: String,
        /// The input rule without a mapping.
        input: String,
    },
    /// A correlation rule has neither input rules nor a condition.
    #[error("rule '{rule}': correlation has no input (give 'rules' or a 'condition')")]
    NoInput {
        /// The rule.
        rule: String,
    },
    /// `temporal` and `temporal_ordered` need at least two rules.
    #[error("rule '{rule}': {kind} needs at least two input rules")]
    TooFewRules {
        /// The rule.
        rule: String,
        /// The kind.
        kind: &'static str,
    },
    /// `severity` is not a known level.
    #[error("rule '{rule}': unknown severity '{severity}' (expected informational, low, medium, high or critical)")]
    UnknownSeverity {
        /// The rule.
        rule: String,
        /// As written.
        severity: String,
    },
    /// `max_groups: 0`.
    #[error("rule '{rule}': max_groups must be at least 1")]
    ZeroMaxGroups {
        /// The rule.
        rule: String,
    },
}

impl BuildError {
    /// The rule the problem is about.
    pub fn rule(&self) -> &str {
        match self {
            BuildError::DuplicateId { rule, .. } => rule,
            BuildError::UnknownKind { rule, .. } => rule,
            BuildError::UnknownInput { rule, .. } => rule,
            BuildError::DuplicateInput { rule, .. } => rule,
            BuildError::Cycle { rule, .. } => rule,
            BuildError::Duration { rule, .. } => rule,
            BuildError::ZeroDuration { rule, .. } => rule,
            BuildError::MissingThreshold { rule, .. } => rule,
            BuildError::BadThreshold { rule, .. } => rule,
            BuildError::NotApplicable { rule, .. } => rule,
            BuildError::MissingField { rule, .. } => rule,
            BuildError::UnknownField { rule, .. } => rule,
            BuildError::AliasMissing { rule, .. } => rule,
            BuildError::NoInput { rule, .. } => rule,
            BuildError::TooFewRules { rule, .. } => rule,
            BuildError::UnknownSeverity { rule, .. } => rule,
            BuildError::ZeroMaxGroups { rule, .. } => rule,
        }
    }
}

/// Every problem found in a rule set, in rule order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct BuildErrors(pub Vec<BuildError>);

/// The correlation kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Threshold on the number of input events in the window.
    EventCount,
    /// Threshold on the number of distinct values of a field in the window.
    ValueCount,
    /// All (or a threshold of) the rules matched within the window, any order.
    Temporal,
    /// The rules matched in the given order within the window.
    TemporalOrdered,
    /// An expected event did not follow, or a group fell silent.
    Absence,
}

impl Kind {
    /// The name as written in rule files.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::EventCount => "event_count",
            Kind::ValueCount => "value_count",
            Kind::Temporal => "temporal",
            Kind::TemporalOrdered => "temporal_ordered",
            Kind::Absence => "absence",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "event_count" => Kind::EventCount,
            "value_count" => Kind::ValueCount,
            "temporal" => Kind::Temporal,
            "temporal_ordered" => Kind::TemporalOrdered,
            "absence" => Kind::Absence,
            _ => return None,
        })
    }
}

/// When a rule fires (see the module docs of `correlate` for each mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fire {
    FirstEvent,
    EveryEvent,
    FirstThreshold,
    EveryThreshold,
    OncePer(i64),
    WindowEnd,
}

impl Fire {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Fire::FirstEvent => "first_event",
            Fire::EveryEvent => "every_event",
            Fire::FirstThreshold => "first_threshold",
            Fire::EveryThreshold => "every_threshold",
            Fire::OncePer(_) => "once_per",
            Fire::WindowEnd => "window_end",
        }
    }
}

/// A comparison in a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// All of its comparisons must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Threshold {
    pub parts: Vec<(Op, i64)>,
    /// As written, for the finding.
    pub written: BTreeMap<String, i64>,
}

impl Threshold {
    pub(crate) fn holds(&self, n: u64) -> bool {
        let n = i128::from(n);
        self.parts.iter().all(|&(op, v)| {
            let v = i128::from(v);
            match op {
                Op::Gt => n > v,
                Op::Gte => n >= v,
                Op::Lt => n < v,
                Op::Lte => n <= v,
                Op::Eq => n == v,
                Op::Neq => n != v,
            }
        })
    }

    fn parse(rule: &str, map: &BTreeMap<String, i64>) -> Result<Self, BuildError> {
        let bad = |key: &str| BuildError::BadThreshold {
            rule: rule.to_owned(),
            key: key.to_owned(),
        };
        if map.is_empty() {
            return Err(bad(""));
        }
        let mut parts = Vec::new();
        for (k, &v) in map {
            let op = match k.as_str() {
                "gt" => Op::Gt,
                "gte" => Op::Gte,
                "lt" => Op::Lt,
                "lte" => Op::Lte,
                "eq" => Op::Eq,
                "neq" => Op::Neq,
                _ => return Err(bad(k)),
            };
            parts.push((op, v));
        }
        Ok(Self {
            parts,
            written: map.clone(),
        })
    }

    fn at_least(n: usize) -> Self {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        Self {
            parts: vec![(Op::Gte, n)],
            written: BTreeMap::from([("gte".to_owned(), n)]),
        }
    }
}

/// Where an input's events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Another rule, by spec index (a single-event rule or a correlation).
    Rule(usize),
    /// The rule's own condition, evaluated by the caller.
    Own,
}

/// What an input is to its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The i-th rule of `rules` (or 0 for the rule's own condition).
    Step(usize),
    /// The `after` rule of an absence.
    After,
}

/// A field read from an input event: by the registry's accessor, or, on
/// a correlation meta-event, from its `evidence.group` by name.
#[derive(Debug, Clone)]
pub(crate) struct InputField {
    pub name: String,
    pub def: Option<&'static FieldDef>,
}

/// One input of a correlation rule.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub source: Source,
    pub role: Role,
    /// The group_by fields as read from this input's events.
    pub group: Vec<InputField>,
    /// The value_count field as read from this input's events.
    pub field: Option<InputField>,
}

/// A correlation rule, checked and resolved.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub spec_index: usize,
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    /// Has `rules:` and a `condition`: the caller installs a filter.
    pub wants_filter: bool,
    pub severity: Severity,
    pub kind: Kind,
    pub inputs: Vec<Input>,
    /// The group_by names as written (alias names stay alias names).
    pub group_names: Vec<String>,
    pub field_name: Option<String>,
    /// Input rule ids of `rules` (the steps), in order.
    pub step_ids: Vec<String>,
    pub after_id: Option<String>,
    pub span: i64,
    pub span_text: String,
    pub lateness: i64,
    pub threshold: Option<Threshold>,
    pub fire: Fire,
    pub suppress: i64,
    pub max_groups: usize,
    /// Whether its meta-events are returned to the caller.
    pub emit: bool,
    /// Rules (indexes into the compiled list) and input indexes that
    /// receive its meta-events.
    pub consumers: Vec<(usize, usize)>,
}

/// The compiled set: correlation rules in processing order, and for each
/// spec index the (rule, input) pairs that `observe` feeds.
#[derive(Debug)]
pub(crate) struct Plan {
    pub rules: Vec<Compiled>,
    pub routes: Vec<Vec<(usize, usize)>>,
    pub ids: Vec<String>,
    /// Spec indexes that accept `observe` (not a correlation with `rules`).
    pub observable: Vec<bool>,
}

fn dur(rule: &str, what: &'static str, text: &str, positive: bool) -> Result<i64, BuildError> {
    let n = duration::parse_nanos(text).map_err(|source| BuildError::Duration {
        rule: rule.to_owned(),
        what,
        source,
    })?;
    if positive && n == 0 {
        return Err(BuildError::ZeroDuration {
            rule: rule.to_owned(),
            what,
        });
    }
    Ok(n)
}

/// Check and compile `specs`.
pub(crate) fn plan(specs: &[RuleSpec], config: &CorrelatorConfig) -> Result<Plan, BuildErrors> {
    let mut errors = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, s) in specs.iter().enumerate() {
        if by_id.insert(s.id.as_str(), i).is_some() {
            errors.push(BuildError::DuplicateId { rule: s.id.clone() });
        }
    }
    // Spec index -> compiled index, for correlation rules.
    let mut compiled: Vec<Option<Compiled>> = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        match compile_one(i, s, specs, &by_id, config) {
            Ok(c) => compiled.push(c),
            Err(mut e) => {
                errors.append(&mut e);
                compiled.push(None);
            }
        }
    }
    if !errors.is_empty() {
        return Err(BuildErrors(errors));
    }
    let order = match topo_order(specs, &compiled) {
        Ok(o) => o,
        Err(e) => return Err(BuildErrors(vec![e])),
    };
    // Compiled index by spec index.
    let mut position = vec![usize::MAX; specs.len()];
    for (pos, &si) in order.iter().enumerate() {
        position[si] = pos;
    }
    let mut rules: Vec<Compiled> = Vec::with_capacity(order.len());
    let mut routes: Vec<Vec<(usize, usize)>> = vec![Vec::new(); specs.len()];
    let mut consumed = vec![false; specs.len()];
    for &si in &order {
        let Some(c) = compiled[si].take() else {
            continue;
        };
        rules.push(c);
    }
    for pos in 0..rules.len() {
        let inputs: Vec<(usize, Source)> = rules[pos]
            .inputs
            .iter()
            .enumerate()
            .map(|(k, inp)| (k, inp.source))
            .collect();
        for (k, source) in inputs {
            match source {
                Source::Own => routes[rules[pos].spec_index].push((pos, k)),
                Source::Rule(si) => {
                    consumed[si] = true;
                    match position.get(si).copied().filter(|&p| p != usize::MAX) {
                        // A correlation rule: its meta-events flow inside.
                        Some(p) => rules[p].consumers.push((pos, k)),
                        None => routes[si].push((pos, k)),
                    }
                }
            }
        }
    }
    // Lateness grows along chains so a meta-event is never behind its
    // consumer's horizon; processing order makes one pass enough.
    for pos in 0..rules.len() {
        let mut late = rules[pos].lateness;
        for inp in &rules[pos].inputs {
            if let Source::Rule(si) = inp.source {
                if let Some(&p) = position.get(si).filter(|&&p| p != usize::MAX) {
                    late = late.max(rules[p].lateness);
                }
            }
        }
        rules[pos].lateness = late;
    }
    for r in &mut rules {
        let generate = specs.get(r.spec_index).and_then(|s| s.generate);
        r.emit = !consumed[r.spec_index] || generate == Some(true);
    }
    let observable = specs
        .iter()
        .map(|s| s.correlation.as_ref().is_none_or(|c| c.rules.is_empty()))
        .collect();
    Ok(Plan {
        rules,
        routes,
        ids: specs.iter().map(|s| s.id.clone()).collect(),
        observable,
    })
}

/// The field `name` as read from the events of `source`: a registry field,
/// or (for a correlation input) one of that rule's group_by names, which
/// its meta-events carry in `evidence.group`.
fn resolve_field(
    rule: &str,
    name: &str,
    source: Source,
    specs: &[RuleSpec],
) -> Result<InputField, BuildError> {
    let def = fields::lookup(name);
    let upstream_has = match source {
        Source::Rule(si) => specs
            .get(si)
            .and_then(|s| s.correlation.as_ref())
            .is_some_and(|c| c.group_by.iter().any(|g| g == name)),
        Source::Own => false,
    };
    if def.is_none() && !upstream_has {
        return Err(BuildError::UnknownField {
            rule: rule.to_owned(),
            field: name.to_owned(),
        });
    }
    Ok(InputField {
        name: name.to_owned(),
        def,
    })
}

fn compile_one(
    index: usize,
    s: &RuleSpec,
    specs: &[RuleSpec],
    by_id: &HashMap<&str, usize>,
    config: &CorrelatorConfig,
) -> Result<Option<Compiled>, Vec<BuildError>> {
    let Some(c) = &s.correlation else {
        return Ok(None);
    };
    let rule = s.id.as_str();
    let mut errors = Vec::new();
    let kind = match Kind::parse(&c.kind) {
        Some(k) => k,
        None => {
            return Err(vec![BuildError::UnknownKind {
                rule: rule.to_owned(),
                kind: c.kind.clone(),
            }])
        }
    };
    let kname = kind.name();
    let sev = s.severity_level().unwrap_or_else(|| {
        errors.push(BuildError::UnknownSeverity {
            rule: rule.to_owned(),
            severity: s.severity.clone(),
        });
        Severity::Medium
    });
    let mut ok = |r: Result<i64, BuildError>| match r {
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            0
        }
    };
    let span = ok(dur(rule, "timespan", &c.timespan, true));
    let lateness = match &c.lateness {
        Some(t) => ok(dur(rule, "lateness", t, false)),
        None => i64::try_from(config.default_lateness.as_nanos()).unwrap_or(i64::MAX),
    };
    let suppress = match &s.suppress {
        Some(t) => ok(dur(rule, "suppress", t, false)),
        None => 0,
    };
    let fire = match &s.fire {
        None => {
            if kind == Kind::Absence {
                Fire::WindowEnd
            } else {
                Fire::FirstThreshold
            }
        }
        Some(FireSpec::FirstEvent) => Fire::FirstEvent,
        Some(FireSpec::EveryEvent) => Fire::EveryEvent,
        Some(FireSpec::FirstThreshold) => Fire::FirstThreshold,
        Some(FireSpec::EveryThreshold) => Fire::EveryThreshold,
        Some(FireSpec::WindowEnd) => Fire::WindowEnd,
        Some(FireSpec::OncePer(t)) => Fire::OncePer(ok(dur(rule, "fire.once_per", t, true))),
    };
    if kind == Kind::Absence && fire != Fire::WindowEnd {
        errors.push(BuildError::NotApplicable {
            rule: rule.to_owned(),
            setting: "fire",
            kind: kname,
        });
    }
    // Inputs.
    let mut inputs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, id) in c.rules.iter().enumerate() {
        if !seen.insert(id.as_str()) {
            errors.push(BuildError::DuplicateInput {
                rule: rule.to_owned(),
                input: id.clone(),
            });
            continue;
        }
        match by_id.get(id.as_str()) {
            Some(&si) => inputs.push((Source::Rule(si), Role::Step(i), id.clone())),
            None => errors.push(BuildError::UnknownInput {
                rule: rule.to_owned(),
                input: id.clone(),
            }),
        }
    }
    if c.rules.is_empty() {
        if s.condition.is_some() {
            inputs.push((Source::Own, Role::Step(0), s.id.clone()));
        } else {
            errors.push(BuildError::NoInput {
                rule: rule.to_owned(),
            });
        }
    }
    match (&c.after, kind) {
        (Some(_), k) if k != Kind::Absence => errors.push(BuildError::NotApplicable {
            rule: rule.to_owned(),
            setting: "after",
            kind: kname,
        }),
        (Some(a), _) => {
            if seen.contains(a.as_str()) {
                errors.push(BuildError::DuplicateInput {
                    rule: rule.to_owned(),
                    input: a.clone(),
                });
            }
            match by_id.get(a.as_str()) {
                Some(&si) => inputs.push((Source::Rule(si), Role::After, a.clone())),
                None => errors.push(BuildError::UnknownInput {
                    rule: rule.to_owned(),
                    input: a.clone(),
                }),
            }
        }
        (None, _) => {}
    }
    if matches!(kind, Kind::Temporal | Kind::TemporalOrdered) && c.rules.len() < 2 {
        errors.push(BuildError::TooFewRules {
            rule: rule.to_owned(),
            kind: kname,
        });
    }
    // Threshold and field.
    let threshold = match (&c.threshold, kind) {
        (Some(_), Kind::Absence) => {
            errors.push(BuildError::NotApplicable {
                rule: rule.to_owned(),
                setting: "threshold",
                kind: kname,
            });
            None
        }
        (Some(t), _) => match Threshold::parse(rule, t) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        (None, Kind::EventCount | Kind::ValueCount) => {
            errors.push(BuildError::MissingThreshold {
                rule: rule.to_owned(),
                kind: kname,
            });
            None
        }
        (None, Kind::Temporal | Kind::TemporalOrdered) => Some(Threshold::at_least(c.rules.len())),
        (None, Kind::Absence) => None,
    };
    match (&c.field, kind) {
        (None, Kind::ValueCount) => errors.push(BuildError::MissingField {
            rule: rule.to_owned(),
        }),
        (Some(_), k) if k != Kind::ValueCount => errors.push(BuildError::NotApplicable {
            rule: rule.to_owned(),
            setting: "field",
            kind: kname,
        }),
        _ => {}
    }
    if c.max_groups == Some(0) {
        errors.push(BuildError::ZeroMaxGroups {
            rule: rule.to_owned(),
        });
    }
    // Fields per input, through aliases.
    let mut compiled_inputs = Vec::new();
    for (source, role, input_id) in inputs {
        let resolve = |name: &str| -> Result<InputField, BuildError> {
            let actual = match c.aliases.get(name) {
                Some(map) => match map.get(&input_id) {
                    Some(f) => f.as_str(),
                    None => {
                        return Err(BuildError::AliasMissing {
                            rule: rule.to_owned(),
                            alias: name.to_owned(),
                            input: input_id.clone(),
                        })
                    }
                },
                None => name,
            };
            resolve_field(rule, actual, source, specs)
        };
        let mut group = Vec::new();
        for g in &c.group_by {
            match resolve(g) {
                Ok(f) => group.push(f),
                Err(e) => errors.push(e),
            }
        }
        let field = match (&c.field, role) {
            (Some(f), Role::Step(_)) => match resolve(f) {
                Ok(f) => Some(f),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            _ => None,
        };
        compiled_inputs.push(Input {
            source,
            role,
            group,
            field,
        });
    }
    if !errors.is_empty() {
        // One unknown field is reported once, not once per input.
        errors.dedup();
        return Err(errors);
    }
    Ok(Some(Compiled {
        spec_index: index,
        id: s.id.clone(),
        title: s.title.clone(),
        tags: s.tags.clone(),
        wants_filter: !c.rules.is_empty() && s.condition.is_some(),
        severity: sev,
        kind,
        inputs: compiled_inputs,
        group_names: c.group_by.clone(),
        field_name: c.field.clone(),
        step_ids: c.rules.clone(),
        after_id: c.after.clone(),
        span,
        span_text: c.timespan.trim().to_owned(),
        lateness,
        threshold,
        fire,
        suppress,
        max_groups: c.max_groups.unwrap_or(config.default_max_groups),
        emit: true,
        consumers: Vec::new(),
    }))
}

/// Correlation rules ordered so every producer comes before its consumers
/// (ties in file order); a cycle is an error naming its rules.
fn topo_order(specs: &[RuleSpec], compiled: &[Option<Compiled>]) -> Result<Vec<usize>, BuildError> {
    let n = specs.len();
    let is_corr = |i: usize| compiled.get(i).is_some_and(Option::is_some);
    // Edges producer -> consumer among correlation rules.
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    for (ci, c) in compiled.iter().enumerate() {
        let Some(c) = c else { continue };
        for inp in &c.inputs {
            if let Source::Rule(si) = inp.source {
                if is_corr(si) {
                    out[si].push(ci);
                    indeg[ci] += 1;
                }
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| is_corr(i) && indeg[i] == 0).collect();
    let mut order = Vec::new();
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &out[i] {
            indeg[j] -= 1;
            if indeg[j] == 0 {
                ready.insert(j);
            }
        }
    }
    let total = (0..n).filter(|&i| is_corr(i)).count();
    if order.len() == total {
        return Ok(order);
    }
    // Walk back along inputs from a rule left over until a rule repeats.
    let left: Vec<usize> = (0..n).filter(|&i| is_corr(i) && indeg[i] > 0).collect();
    let start = left.first().copied().unwrap_or(0);
    let mut path = vec![start];
    let mut cur = start;
    loop {
        let next = compiled.get(cur).and_then(Option::as_ref).and_then(|c| {
            c.inputs.iter().find_map(|inp| match inp.source {
                Source::Rule(si) if is_corr(si) && indeg[si] > 0 => Some(si),
                _ => None,
            })
        });
        let Some(next) = next else { break };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            // The walk went from consumers to producers: print it producer
            // first, starting and ending at the repeated rule.
            let mut cycle = vec![specs[next].id.clone()];
            cycle.extend(path[pos + 1..].iter().rev().map(|&i| specs[i].id.clone()));
            cycle.push(specs[next].id.clone());
            return Err(BuildError::Cycle {
                rule: specs[next].id.clone(),
                cycle,
            });
        }
        path.push(next);
        cur = next;
    }
    Err(BuildError::Cycle {
        rule: specs[start].id.clone(),
        cycle: vec![specs[start].id.clone()],
    })
}
