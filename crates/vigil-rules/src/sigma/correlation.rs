//! Sigma correlation rules (`event_count`, `value_count`, `temporal`,
//! `temporal_ordered`) as Vigil [`CorrelationSpec`]s: referenced rules by
//! name or id, `group-by` and `field` through the field mapping of the
//! rules they count (aliases resolved), `timespan`, and the count
//! `condition` as the threshold. `value_sum`, `value_avg` and
//! `value_percentile` are refused with a reason.

use std::collections::BTreeMap;

use yaml_serde::{Mapping as YamlMap, Value};

use super::Reason;
use crate::spec::CorrelationSpec;

/// The correlation types Vigil runs.
pub(crate) const KINDS: &[&str] = &["event_count", "value_count", "temporal", "temporal_ordered"];

/// The threshold keys of a Sigma correlation condition.
const THRESHOLD_KEYS: &[&str] = &["gt", "gte", "lt", "lte", "eq", "neq"];

/// A correlation section read from YAML, before its references and fields
/// are resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Correlation {
    /// `type`.
    pub kind: String,
    /// `rules`: names or ids as written.
    pub rules: Vec<String>,
    /// `group-by`: Sigma field names or alias names.
    pub group_by: Vec<String>,
    /// `timespan`, checked (`90m`).
    pub timespan: String,
    /// The count condition.
    pub threshold: Option<BTreeMap<String, i64>>,
    /// `condition.field` (value_count).
    pub field: Option<String>,
    /// `aliases`: alias name to (rule name to field).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// `generate`.
    pub generate: bool,
}

fn text_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, Reason> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Reason::Correlation(format!("`{what}` holds a non-text item")))
            })
            .collect(),
        Some(_) => Err(Reason::Correlation(format!("`{what}` is not a list"))),
    }
}

/// Whether `text` is a Sigma timespan: a number and `s`, `m`, `h` or `d`.
fn is_timespan(text: &str) -> bool {
    let Some(unit) = text.chars().last() else {
        return false;
    };
    let digits = text.strip_suffix(unit).unwrap_or_default();
    matches!(unit, 's' | 'm' | 'h' | 'd')
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
}

impl Correlation {
    /// Read a `correlation:` section; `generate` may also be written at the
    /// top level of the rule (`top_generate`).
    pub(crate) fn parse(section: &YamlMap, top_generate: Option<bool>) -> Result<Self, Reason> {
        let kind = section
            .get("type")
            .and_then(Value::as_str)
            .ok_or(Reason::Missing("correlation.type"))?
            .to_owned();
        if !KINDS.contains(&kind.as_str()) {
            return Err(Reason::CorrelationType(kind));
        }
        let rules = text_list(section.get("rules"), "rules")?;
        if rules.is_empty() {
            return Err(Reason::Missing("correlation.rules"));
        }
        let group_by = text_list(section.get("group-by"), "group-by")?;
        let timespan = match section.get("timespan").or_else(|| section.get("timeframe")) {
            Some(Value::String(s)) if is_timespan(s) => s.clone(),
            Some(v) => {
                return Err(Reason::Correlation(format!(
                    "timespan `{}` is not a number and s, m, h or d",
                    super::show_value(v)
                )))
            }
            None => return Err(Reason::Missing("correlation.timespan")),
        };
        let mut threshold = BTreeMap::new();
        let mut field = None;
        match section.get("condition") {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let key = k.as_str().unwrap_or_default();
                    if key == "field" {
                        field = Some(text_list(Some(v), "condition.field")?);
                        continue;
                    }
                    if !THRESHOLD_KEYS.contains(&key) {
                        return Err(Reason::Correlation(format!(
                            "condition key `{key}` (expected gt, gte, lt, lte, eq, neq, field)"
                        )));
                    }
                    let n = v.as_i64().ok_or_else(|| {
                        Reason::Correlation(format!("condition `{key}` is not a whole number"))
                    })?;
                    threshold.insert(key.to_owned(), n);
                }
            }
            Some(_) => return Err(Reason::Correlation("condition is not a map".into())),
        }
        let field = match field {
            None => None,
            Some(mut list) if list.len() == 1 => list.pop(),
            Some(_) => {
                return Err(Reason::Correlation(
                    "value_count over several fields is not supported".into(),
                ))
            }
        };
        match kind.as_str() {
            "event_count" | "value_count" if threshold.is_empty() => {
                return Err(Reason::Missing("correlation.condition"))
            }
            "value_count" if field.is_none() => {
                return Err(Reason::Missing("correlation.condition.field"))
            }
            _ => {}
        }
        let mut aliases = BTreeMap::new();
        match section.get("aliases") {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(m)) => {
                for (alias, per_rule) in m {
                    let alias = alias.as_str().unwrap_or_default().to_owned();
                    let Value::Mapping(per_rule) = per_rule else {
                        return Err(Reason::Correlation(format!(
                            "alias `{alias}` is not a map of rule to field"
                        )));
                    };
                    let mut fields = BTreeMap::new();
                    for (rule, f) in per_rule {
                        match (rule.as_str(), f.as_str()) {
                            (Some(r), Some(f)) => {
                                fields.insert(r.to_owned(), f.to_owned());
                            }
                            _ => {
                                return Err(Reason::Correlation(format!(
                                    "alias `{alias}` is not a map of rule to field"
                                )))
                            }
                        }
                    }
                    aliases.insert(alias, fields);
                }
            }
            Some(_) => return Err(Reason::Correlation("aliases is not a map".into())),
        }
        let generate = section
            .get("generate")
            .and_then(Value::as_bool)
            .or(top_generate)
            .unwrap_or(false);
        Ok(Correlation {
            kind,
            rules,
            group_by,
            timespan,
            threshold: (!threshold.is_empty()).then_some(threshold),
            field,
            aliases,
            generate,
        })
    }

    /// The Vigil correlation, given the Vigil ids of the referenced rules
    /// (in `rules` order) and a function that maps a Sigma field name, as
    /// seen by the referenced rule at that position, to a Vigil field. A
    /// group-by name (or the value_count field) that is the same Vigil
    /// field in every referenced rule becomes that field; one that differs
    /// between them (through `aliases`, or through the rules' log sources)
    /// becomes an alias with the Vigil field per referenced rule.
    pub(crate) fn to_spec(
        &self,
        rule_ids: Vec<String>,
        map_field: &mut dyn FnMut(usize, &str) -> Result<String, Reason>,
    ) -> Result<CorrelationSpec, Reason> {
        let mut aliases = BTreeMap::new();
        let mut group_by = Vec::with_capacity(self.group_by.len());
        for name in &self.group_by {
            group_by.push(self.one_field(name, &rule_ids, map_field, &mut aliases)?);
        }
        let field = match &self.field {
            Some(f) => Some(self.one_field(f, &rule_ids, map_field, &mut aliases)?),
            None => None,
        };
        Ok(CorrelationSpec {
            kind: self.kind.clone(),
            rules: rule_ids,
            group_by,
            timespan: self.timespan.clone(),
            threshold: self.threshold.clone(),
            field,
            after: None,
            lateness: None,
            max_groups: None,
            aliases,
        })
    }

    /// The Vigil field (or alias) for `name` (a Sigma field or an alias
    /// name) across every referenced rule.
    fn one_field(
        &self,
        name: &str,
        rule_ids: &[String],
        map_field: &mut dyn FnMut(usize, &str) -> Result<String, Reason>,
        aliases: &mut BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<String, Reason> {
        let mut paths = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let sigma_field = match self.aliases.get(name) {
                Some(per_rule) => per_rule.get(rule).ok_or_else(|| {
                    Reason::Correlation(format!("alias `{name}` has no field for rule `{rule}`"))
                })?,
                None => name,
            };
            paths.push(map_field(i, sigma_field)?);
        }
        let Some(first) = paths.first() else {
            return Err(Reason::Missing("correlation.rules"));
        };
        if paths.iter().all(|p| p == first) {
            return Ok(first.clone());
        }
        let per_rule = rule_ids.iter().cloned().zip(paths).collect();
        aliases.insert(name.to_owned(), per_rule);
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> YamlMap {
        let v: Value = yaml_serde::from_str(text).unwrap();
        v.get("correlation").unwrap().as_mapping().unwrap().clone()
    }

    #[test]
    fn spec_event_count() {
        let c = Correlation::parse(
            &section(
                "correlation:\n  type: event_count\n  rules:\n    - 5638f7c0-ac70-491d-8465-2a65075e0d86\n  group-by:\n    - ComputerName\n  timespan: 1h\n  condition:\n    gte: 100\n",
            ),
            None,
        )
        .unwrap();
        assert_eq!(c.kind, "event_count");
        assert_eq!(c.rules, vec!["5638f7c0-ac70-491d-8465-2a65075e0d86"]);
        assert_eq!(c.group_by, vec!["ComputerName"]);
        assert_eq!(c.timespan, "1h");
        assert_eq!(c.threshold, Some(BTreeMap::from([("gte".to_owned(), 100)])));
        assert!(!c.generate);
        let spec = c
            .to_spec(vec!["r1".into()], &mut |_, f| Ok(format!("mapped.{f}")))
            .unwrap();
        assert_eq!(spec.group_by, vec!["mapped.ComputerName"]);
        assert_eq!(spec.rules, vec!["r1"]);
    }

    #[test]
    fn spec_value_count_and_range() {
        let c = Correlation::parse(
            &section("correlation:\n  type: value_count\n  rules: [a]\n  group-by: [ComputerName, WorkstationName]\n  timespan: 1d\n  condition:\n    field: User\n    gt: 100\n    lte: 200\n"),
            Some(true),
        )
        .unwrap();
        assert_eq!(c.field.as_deref(), Some("User"));
        assert_eq!(
            c.threshold,
            Some(BTreeMap::from([
                ("gt".to_owned(), 100),
                ("lte".to_owned(), 200)
            ]))
        );
        assert!(c.generate);
        let spec = c
            .to_spec(vec!["a".into()], &mut |_, f| Ok(f.to_lowercase()))
            .unwrap();
        assert_eq!(spec.field.as_deref(), Some("user"));
    }

    #[test]
    fn temporal_needs_no_condition() {
        let c = Correlation::parse(
            &section("correlation:\n  type: temporal_ordered\n  rules: [a, b, c]\n  group-by: [User]\n  timespan: 5m\n"),
            None,
        )
        .unwrap();
        assert_eq!(c.threshold, None);
        assert_eq!(c.rules.len(), 3);
    }

    #[test]
    fn refusals() {
        let err = |t: &str| {
            Correlation::parse(&section(t), None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("correlation:\n  type: value_sum\n  rules: [a]\n  timespan: 1h\n  condition: {field: b, gt: 1}\n"),
            "unsupported correlation type `value_sum`"
        );
        assert!(
            err("correlation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n")
                .contains("correlation.condition")
        );
        assert!(err("correlation:\n  type: value_count\n  rules: [a]\n  timespan: 1h\n  condition: {gt: 1}\n").contains("condition.field"));
        assert!(
            err("correlation:\n  type: temporal\n  rules: [a]\n  timespan: 1 hour\n")
                .contains("timespan")
        );
        assert!(err("correlation:\n  type: temporal\n  rules: [a]\n  timespan: 5m\n  condition: {between: 3}\n").contains("between"));
        assert!(
            err("correlation:\n  type: temporal\n  timespan: 5m\n").contains("correlation.rules")
        );
    }

    #[test]
    fn aliases_resolve_per_rule() {
        let c = Correlation::parse(
            &section("correlation:\n  type: temporal\n  rules: [internal_error, new_network_connection]\n  group-by: [internal_ip]\n  timespan: 10s\n  aliases:\n    internal_ip:\n      internal_error: destination.ip\n      new_network_connection: source.ip\n"),
            None,
        )
        .unwrap();
        let ids = vec!["id-error".to_owned(), "id-conn".to_owned()];
        // Both map to one Vigil field: that field, no alias.
        let spec = c
            .to_spec(ids.clone(), &mut |_, _| Ok("dst_endpoint.ip".into()))
            .unwrap();
        assert_eq!(spec.group_by, vec!["dst_endpoint.ip"]);
        assert!(spec.aliases.is_empty());
        // They differ: an alias with the field per input rule, by Vigil id.
        let spec = c
            .to_spec(ids, &mut |_, f| {
                Ok(if f == "source.ip" {
                    "src_endpoint.ip"
                } else {
                    "dst_endpoint.ip"
                }
                .into())
            })
            .unwrap();
        assert_eq!(spec.group_by, vec!["internal_ip"]);
        assert_eq!(
            spec.aliases.get("internal_ip"),
            Some(&BTreeMap::from([
                ("id-error".to_owned(), "dst_endpoint.ip".to_owned()),
                ("id-conn".to_owned(), "src_endpoint.ip".to_owned()),
            ]))
        );
        // An alias without a field for one of the rules is an error.
        let c = Correlation::parse(
            &section("correlation:\n  type: temporal\n  rules: [a, b]\n  group-by: [ip]\n  timespan: 10s\n  aliases:\n    ip:\n      a: x\n"),
            None,
        )
        .unwrap();
        let err = c
            .to_spec(vec!["a".into(), "b".into()], &mut |_, f| Ok(f.into()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "correlation: alias `ip` has no field for rule `b`"
        );
    }
}
