//! A Sigma rule's `detection` as one condition over Vigil's events:
//! search identifiers (maps are AND of their fields, lists OR of their
//! items, plain strings keyword searches of the raw record), field
//! values with their modifiers, and the `condition` that joins them.
//!
//! Matching is case-insensitive unless `cased` (Sigma's default); regular
//! expressions are case-sensitive unless `re|i`. Which test a value
//! becomes depends on the field's type in Vigil's schema (an integer field
//! compares numbers, an address field addresses), read from
//! [`vigil_event::fields`].

use std::collections::HashMap;
use std::net::IpAddr;

use vigil_event::fields::{self, FieldType};
use yaml_serde::{Mapping as YamlMap, Value};

use super::condition;
use super::mapping::{FieldTarget, LogsourceMap};
use super::value::{self, Pattern};
use super::Reason;
use crate::ast::{CmpOp, Expr, Literal, Operand, StrOp};

/// A value-changing modifier, applied in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `contains` / `startswith` / `endswith`: `*` in front, behind.
    Wrap(bool, bool),
    Base64,
    Base64Offset,
    Windash,
}

/// What kind of test the values are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Strings (with wildcards), numbers, addresses, null.
    Plain,
    /// `re` with its flags (`i`, `m`, `s`).
    Re(String),
    /// `cidr`.
    Cidr,
    /// `exists`.
    Exists,
    /// `gt`, `gte`, `lt`, `lte`.
    Cmp(CmpOp),
    /// `fieldref`: the value names another field.
    FieldRef,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Re(_) => "re",
            Kind::Cidr => "cidr",
            Kind::Exists => "exists",
            Kind::Cmp(_) => "gt/gte/lt/lte",
            Kind::FieldRef => "fieldref",
        }
    }
}

/// The modifiers of one field item.
#[derive(Debug)]
struct Mods {
    steps: Vec<Step>,
    all: bool,
    cased: bool,
    neq: bool,
    kind: Kind,
}

impl Mods {
    fn parse<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> Result<Mods, Reason> {
        let mut m = Mods {
            steps: Vec::new(),
            all: false,
            cased: false,
            neq: false,
            kind: Kind::Plain,
        };
        let conflict = |m: &Mods, name: &str| Reason::Modifier {
            field: field.to_owned(),
            modifier: name.to_owned(),
            problem: format!("cannot be combined with `{}`", m.kind.name()),
        };
        for name in names {
            let kind = match name {
                "contains" => {
                    m.steps.push(Step::Wrap(true, true));
                    None
                }
                "startswith" => {
                    m.steps.push(Step::Wrap(false, true));
                    None
                }
                "endswith" => {
                    m.steps.push(Step::Wrap(true, false));
                    None
                }
                "base64" => {
                    m.steps.push(Step::Base64);
                    None
                }
                "base64offset" => {
                    m.steps.push(Step::Base64Offset);
                    None
                }
                "windash" => {
                    m.steps.push(Step::Windash);
                    None
                }
                "all" => {
                    m.all = true;
                    None
                }
                "cased" => {
                    m.cased = true;
                    None
                }
                "neq" => {
                    m.neq = true;
                    None
                }
                "i" | "m" | "s" => match &mut m.kind {
                    Kind::Re(flags) => {
                        if !flags.contains(name) {
                            flags.push_str(name);
                        }
                        None
                    }
                    _ => return Err(Reason::UnsupportedModifier(name.to_owned())),
                },
                "re" => Some(Kind::Re(String::new())),
                "cidr" => Some(Kind::Cidr),
                "exists" => Some(Kind::Exists),
                "gt" => Some(Kind::Cmp(CmpOp::Gt)),
                "gte" => Some(Kind::Cmp(CmpOp::Ge)),
                "lt" => Some(Kind::Cmp(CmpOp::Lt)),
                "lte" => Some(Kind::Cmp(CmpOp::Le)),
                "fieldref" => Some(Kind::FieldRef),
                other => return Err(Reason::UnsupportedModifier(other.to_owned())),
            };
            if let Some(kind) = kind {
                if m.kind != Kind::Plain {
                    return Err(conflict(&m, name));
                }
                m.kind = kind;
            }
        }
        if m.kind != Kind::Plain {
            if let Some(step) = m.steps.first() {
                let step = match step {
                    Step::Wrap(true, true) => "contains",
                    Step::Wrap(false, _) => "startswith",
                    Step::Wrap(..) => "endswith",
                    Step::Base64 => "base64",
                    Step::Base64Offset => "base64offset",
                    Step::Windash => "windash",
                };
                return Err(conflict(&m, step));
            }
        }
        if let Kind::Re(flags) = &mut m.kind {
            // A canonical order, so equal rules give equal trees.
            let mut f: Vec<char> = flags.chars().collect();
            f.sort_unstable();
            *flags = f.into_iter().collect();
        }
        Ok(m)
    }
}

/// The type of a Vigil field, when the schema registry knows it.
fn field_type(path: &str) -> Option<FieldType> {
    fields::lookup(path).map(|f| f.ty)
}

/// A scalar value as Sigma text (numbers and booleans as written).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number from a YAML number or numeric text.
fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Check a CIDR network (`a.b.c.d/n`, `v6::/n`; a bare address is a host).
fn check_cidr(text: &str) -> Result<String, String> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a network"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("`{text}` has a bad prefix length"))?,
        None => max,
    };
    Ok(format!("{ip}/{len}"))
}

/// Turns one rule's detection into a condition for one log source.
pub(crate) struct Detection<'a> {
    source: &'a LogsourceMap,
    items: &'a YamlMap,
    names: Vec<String>,
    done: HashMap<String, Expr>,
}

impl<'a> Detection<'a> {
    /// The detection map of a rule that runs on `source`.
    pub(crate) fn new(items: &'a YamlMap, source: &'a LogsourceMap) -> Self {
        let names = items
            .keys()
            .filter_map(Value::as_str)
            .filter(|k| *k != "condition" && *k != "timeframe")
            .map(str::to_owned)
            .collect();
        Detection {
            source,
            items,
            names,
            done: HashMap::new(),
        }
    }

    /// The rule's condition (a list of conditions is their OR).
    pub(crate) fn condition(&mut self) -> Result<Expr, Reason> {
        let texts: Vec<String> = match self.items.get("condition") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Sequence(list)) => list
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        Reason::Condition("a condition list item is not text".into())
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(Reason::Condition("condition is not text".into())),
            None => return Err(Reason::Missing("detection.condition")),
        };
        if texts.is_empty() {
            return Err(Reason::Condition("empty condition list".into()));
        }
        let names = self.names.clone();
        let mut parts = Vec::with_capacity(texts.len());
        for text in &texts {
            parts.push(condition::parse(text, &names, &mut |name| {
                self.identifier(name)
            })?);
        }
        Ok(Expr::or(parts))
    }

    /// One search identifier's condition (each is built once).
    fn identifier(&mut self, name: &str) -> Result<Expr, Reason> {
        if let Some(e) = self.done.get(name) {
            return Ok(e.clone());
        }
        let value = match self.items.get(name) {
            Some(v) if self.names.iter().any(|n| n == name) => v,
            _ => {
                return Err(Reason::Condition(format!(
                    "undefined search identifier `{name}`"
                )))
            }
        };
        let expr = self.search(value)?;
        self.done.insert(name.to_owned(), expr.clone());
        Ok(expr)
    }

    /// A search identifier's value: a map, a list, or a keyword.
    fn search(&self, value: &Value) -> Result<Expr, Reason> {
        match value {
            Value::Mapping(m) => self.map(m),
            Value::Sequence(items) => {
                if items.is_empty() {
                    return Err(Reason::Value {
                        field: String::new(),
                        problem: "empty list".into(),
                    });
                }
                // Plain items are one keyword list (OR); maps are OR'ed.
                let (maps, words): (Vec<&Value>, Vec<&Value>) =
                    items.iter().partition(|v| v.is_mapping());
                let mut parts = Vec::new();
                if !words.is_empty() {
                    parts.push(self.values_for(
                        "",
                        Target::Keywords(self.keyword_field()?),
                        &words,
                        &Mods::parse("", std::iter::empty())?,
                    )?);
                }
                for m in maps {
                    if let Value::Mapping(m) = m {
                        parts.push(self.map(m)?);
                    }
                }
                Ok(Expr::or(parts))
            }
            Value::Null => Err(Reason::Value {
                field: String::new(),
                problem: "empty search identifier".into(),
            }),
            scalar => self.values_for(
                "",
                Target::Keywords(self.keyword_field()?),
                &[scalar],
                &Mods::parse("", std::iter::empty())?,
            ),
        }
    }

    fn keyword_field(&self) -> Result<&'a str, Reason> {
        self.source
            .keywords
            .as_deref()
            .ok_or_else(|| Reason::Keywords(self.source.logsource().to_string()))
    }

    /// A map: every field item holds.
    fn map(&self, m: &YamlMap) -> Result<Expr, Reason> {
        if m.is_empty() {
            return Err(Reason::Value {
                field: String::new(),
                problem: "empty map".into(),
            });
        }
        let mut parts = Vec::with_capacity(m.len());
        for (key, value) in m {
            let key = scalar_text(key).ok_or_else(|| Reason::Value {
                field: String::new(),
                problem: "a map key is not text".into(),
            })?;
            parts.push(self.item(&key, value)?);
        }
        Ok(Expr::and(parts))
    }

    /// `field|mod|mod: value(s)`.
    fn item(&self, key: &str, value: &Value) -> Result<Expr, Reason> {
        let mut split = key.split('|');
        let field = split.next().unwrap_or("");
        let mods = Mods::parse(field, split)?;
        let target = if field.is_empty() {
            Target::Keywords(self.keyword_field()?)
        } else {
            match self.source.fields.get(field) {
                Some(FieldTarget::Path(p)) => Target::Field(p),
                Some(FieldTarget::Extension { extension_of }) => Target::Extension(extension_of),
                None => {
                    return Err(Reason::UnmappedField {
                        field: field.to_owned(),
                        logsource: self.source.logsource().to_string(),
                    })
                }
            }
        };
        let values: Vec<&Value> = match value {
            Value::Sequence(list) => list.iter().collect(),
            v => vec![v],
        };
        if values.is_empty() {
            return Err(Reason::Value {
                field: field.to_owned(),
                problem: "empty value list".into(),
            });
        }
        self.values_for(field, target, &values, &mods)
    }

    /// The test of one field (or the keyword field) against its values.
    fn values_for(
        &self,
        field: &str,
        target: Target<'_>,
        values: &[&Value],
        mods: &Mods,
    ) -> Result<Expr, Reason> {
        let bad = |problem: String| Reason::Value {
            field: field.to_owned(),
            problem,
        };
        let path = target.path();
        let operand = || Operand::Field(path.to_owned());
        if let Target::Extension(_) = target {
            if mods.kind != Kind::Plain || !mods.steps.is_empty() {
                return Err(bad(
                    "a file extension field takes plain values, without modifiers".into(),
                ));
            }
        }
        let mut groups: Vec<Vec<Expr>> = Vec::with_capacity(values.len());
        match &mods.kind {
            Kind::Exists => {
                let [v] = values else {
                    return Err(bad("`exists` takes one value".into()));
                };
                let want = match v {
                    Value::Bool(b) => *b,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => return Err(bad("`exists` takes true or false".into())),
                };
                let e = Expr::Exists(path.to_owned());
                groups.push(vec![if want { e } else { Expr::not(e) }]);
            }
            Kind::Cidr => {
                let mut networks = Vec::with_capacity(values.len());
                for v in values {
                    let text = v
                        .as_str()
                        .ok_or_else(|| bad("a network is not text".into()))?;
                    networks.push(check_cidr(text).map_err(bad)?);
                }
                if mods.all {
                    for n in networks {
                        groups.push(vec![Expr::InCidr {
                            operand: operand(),
                            networks: vec![n],
                        }]);
                    }
                } else {
                    groups.push(vec![Expr::InCidr {
                        operand: operand(),
                        networks,
                    }]);
                }
            }
            Kind::Cmp(op) => {
                for v in values {
                    let n = int_value(v)
                        .ok_or_else(|| bad(format!("`{}` is not a whole number", show(v))))?;
                    groups.push(vec![Expr::Compare {
                        lhs: operand(),
                        op: *op,
                        rhs: Operand::Literal(Literal::Int(n)),
                    }]);
                }
            }
            Kind::Re(flags) => {
                for v in values {
                    // Checked with the whole condition (`expr::check`).
                    let text = v
                        .as_str()
                        .ok_or_else(|| bad("a regular expression is not text".into()))?;
                    groups.push(vec![Expr::Matches {
                        operand: operand(),
                        pattern: text.to_owned(),
                        flags: flags.clone(),
                    }]);
                }
            }
            Kind::FieldRef => {
                for v in values {
                    let other = v
                        .as_str()
                        .ok_or_else(|| bad("`fieldref` names a field".into()))?;
                    let Some(FieldTarget::Path(other)) = self.source.fields.get(other) else {
                        return Err(Reason::UnmappedField {
                            field: other.to_owned(),
                            logsource: self.source.logsource().to_string(),
                        });
                    };
                    groups.push(vec![Expr::Compare {
                        lhs: operand(),
                        op: CmpOp::Eq,
                        rhs: Operand::Field(other.clone()),
                    }]);
                }
            }
            Kind::Plain => {
                for v in values {
                    groups.push(self.plain(field, &target, v, mods)?);
                }
            }
        }
        let expr = if mods.all {
            Expr::and(groups.into_iter().map(Expr::or).collect())
        } else {
            compact_in(Expr::or(groups.into_iter().flatten().collect()))
        };
        Ok(if mods.neq { Expr::not(expr) } else { expr })
    }

    /// One plain value: its alternatives (several after `base64offset` or
    /// `windash`).
    fn plain(
        &self,
        field: &str,
        target: &Target<'_>,
        v: &Value,
        mods: &Mods,
    ) -> Result<Vec<Expr>, Reason> {
        let bad = |problem: String| Reason::Value {
            field: field.to_owned(),
            problem,
        };
        let path = target.path();
        if v.is_null() {
            if !mods.steps.is_empty() || matches!(target, Target::Keywords(_)) {
                return Err(bad("null with a modifier or as a keyword".into()));
            }
            return Ok(vec![Expr::not(Expr::Exists(path.to_owned()))]);
        }
        let text = scalar_text(v).ok_or_else(|| bad(format!("`{}` is not a value", show(v))))?;
        let nocase = !mods.cased;
        let compare = |lit: Literal| Expr::Compare {
            lhs: Operand::Field(path.to_owned()),
            op: CmpOp::Eq,
            rhs: Operand::Literal(lit),
        };
        match target {
            Target::Extension(_) => {
                return Ok(vec![
                    Pattern::parse(&format!("*.{text}")).to_expr(path, nocase)
                ]);
            }
            Target::Field(_) if mods.steps.is_empty() => match field_type(path) {
                Some(FieldType::Int) => {
                    return match int_value(v) {
                        Some(n) => Ok(vec![compare(Literal::Int(n))]),
                        None => Err(bad(format!(
                            "`{text}` is not a whole number (`{path}` is an integer)"
                        ))),
                    };
                }
                Some(FieldType::Bool) => {
                    return match text.to_ascii_lowercase().as_str() {
                        "true" => Ok(vec![compare(Literal::Bool(true))]),
                        "false" => Ok(vec![compare(Literal::Bool(false))]),
                        _ => Err(bad(format!("`{text}` is not true or false"))),
                    };
                }
                Some(FieldType::Ip) => {
                    if let Ok(ip) = text.parse::<IpAddr>() {
                        return Ok(vec![compare(Literal::Ip(ip))]);
                    }
                }
                Some(FieldType::Str) => {}
                None => {
                    // Not in the registry: go by the value.
                    if let Value::Number(n) = v {
                        if let Some(n) = n.as_i64() {
                            return Ok(vec![compare(Literal::Int(n))]);
                        }
                    }
                    if let Value::Bool(b) = v {
                        return Ok(vec![compare(Literal::Bool(*b))]);
                    }
                    if let Ok(ip) = text.parse::<IpAddr>() {
                        return Ok(vec![compare(Literal::Ip(ip))]);
                    }
                }
            },
            _ => {}
        }
        // Keywords are found anywhere in the record.
        let mut patterns = vec![match target {
            Target::Keywords(_) => Pattern::parse(&text).wrap(true, true),
            _ => Pattern::parse(&text),
        }];
        for step in &mods.steps {
            let mut next = Vec::with_capacity(patterns.len());
            for p in patterns {
                match step {
                    Step::Wrap(front, back) => next.push(p.wrap(*front, *back)),
                    Step::Base64 | Step::Base64Offset => {
                        let plain = p.as_text().ok_or_else(|| {
                            bad(
                                "`base64` of a value with wildcards (put `contains` after it)"
                                    .into(),
                            )
                        })?;
                        if *step == Step::Base64 {
                            next.push(Pattern::literal(&value::base64(&plain)));
                        } else {
                            next.extend(
                                value::base64_offsets(&plain)
                                    .iter()
                                    .map(|s| Pattern::literal(s)),
                            );
                        }
                    }
                    Step::Windash => next.extend(p.windash().ok_or_else(|| {
                        bad(format!(
                            "`windash` on a value with more than {} flags",
                            value::MAX_WINDASH_FLAGS
                        ))
                    })?),
                }
            }
            patterns = next;
        }
        // Base64 text is case-sensitive whatever `cased` says.
        let nocase = nocase
            && !mods
                .steps
                .iter()
                .any(|s| matches!(s, Step::Base64 | Step::Base64Offset));
        Ok(patterns
            .iter()
            .map(|p| match (nocase, p.as_text()) {
                (false, Some(text)) => compare(Literal::Str(text)),
                _ => p.to_expr(path, nocase),
            })
            .collect())
    }
}

/// Where a field item's values are tested.
enum Target<'a> {
    /// A Vigil field.
    Field(&'a str),
    /// The file extension at the end of a path field.
    Extension(&'a str),
    /// The raw record (Sigma keywords).
    Keywords(&'a str),
}

impl Target<'_> {
    fn path(&self) -> &str {
        match self {
            Target::Field(p) | Target::Extension(p) | Target::Keywords(p) => p,
        }
    }
}

/// A value for messages.
fn show(v: &Value) -> String {
    scalar_text(v).unwrap_or_else(|| format!("{v:?}"))
}

/// An OR of equalities on one field as one `in` list.
fn compact_in(e: Expr) -> Expr {
    let Expr::Or(parts) = e else { return e };
    let mut field: Option<&Operand> = None;
    let mut nocase: Option<bool> = None;
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        let (operand, value, case) = match p {
            Expr::Str {
                operand,
                op: StrOp::Equals,
                pattern,
                nocase: true,
            } => (operand, Literal::Str(pattern.clone()), Some(true)),
            Expr::Compare {
                lhs,
                op: CmpOp::Eq,
                rhs: Operand::Literal(lit),
            } => {
                let case = matches!(lit, Literal::Str(_)).then_some(false);
                (lhs, lit.clone(), case)
            }
            _ => return Expr::Or(parts),
        };
        if *field.get_or_insert(operand) != operand {
            return Expr::Or(parts);
        }
        if let Some(case) = case {
            if *nocase.get_or_insert(case) != case {
                return Expr::Or(parts);
            }
        }
        values.push(value);
    }
    match field {
        Some(operand) => Expr::In {
            operand: operand.clone(),
            values,
            nocase: nocase.unwrap_or(false),
        },
        None => Expr::Or(parts),
    }
}
