//! The field mapping: which Sigma log sources Vigil produces, which events
//! each one means, and Sigma's field names in Vigil's schema. The built-in
//! mapping is `data/sigma-mapping.yml` (its comments document the format);
//! a user file in the same format extends or overrides it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::ast::{CmpOp, Expr, Literal, Operand};

/// The mapping shipped with Vigil.
pub const BUILTIN: &str = include_str!("../../data/sigma-mapping.yml");

/// A Sigma rule's `logsource` (the three keys the mapping looks at).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Logsource {
    /// `category`, e.g. `webserver`.
    #[serde(default)]
    pub category: Option<String>,
    /// `product`, e.g. `zeek`.
    #[serde(default)]
    pub product: Option<String>,
    /// `service`, e.g. `dns`.
    #[serde(default)]
    pub service: Option<String>,
}

impl fmt::Display for Logsource {
    /// `category: webserver`, `product: linux, service: auditd`; `(none)`
    /// when no key is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (key, value) in [
            ("category", &self.category),
            ("product", &self.product),
            ("service", &self.service),
        ] {
            if let Some(v) = value {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{key}: {v}")?;
                first = false;
            }
        }
        if first {
            f.write_str("(none)")?;
        }
        Ok(())
    }
}

/// Where a Sigma field goes in Vigil's schema.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FieldTarget {
    /// A field, by its dotted path.
    Path(String),
    /// A file extension read from the end of a path field: the Sigma value
    /// `exe` means the path ends with `.exe`.
    Extension {
        /// The path field.
        extension_of: String,
    },
}

/// An equality the events of a log source satisfy (`class_uid: 4002`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum EventValue {
    /// A number.
    Int(i64),
    /// Text, compared exactly.
    Str(String),
}

/// One log source Vigil produces.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsourceMap {
    /// The rule's `category` must be this (or absent when unset here).
    #[serde(default)]
    pub category: Option<String>,
    /// The rule's `product` must be this (or absent when unset here), or
    /// one of `products`.
    #[serde(default)]
    pub product: Option<String>,
    /// The rule's `service` must be this (or absent when unset here).
    #[serde(default)]
    pub service: Option<String>,
    /// Products a rule may also name (`category: webserver` with `product:
    /// nginx`).
    #[serde(default)]
    pub products: Vec<String>,
    /// Field equalities that select the log source's events, added in front
    /// of every rule's condition.
    #[serde(default)]
    pub event: BTreeMap<String, EventValue>,
    /// The field that Sigma keyword searches look in (the raw record).
    #[serde(default)]
    pub keywords: Option<String>,
    /// Sigma field name to Vigil field.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldTarget>,
}

impl LogsourceMap {
    /// Whether a rule with `logsource` runs on this source.
    pub fn matches(&self, logsource: &Logsource) -> bool {
        let product_ok = logsource.product == self.product
            || (self.product.is_none()
                && logsource
                    .product
                    .as_ref()
                    .is_some_and(|p| self.products.contains(p)));
        logsource.category == self.category && logsource.service == self.service && product_ok
    }

    /// The log source's own keys, for messages.
    pub fn logsource(&self) -> Logsource {
        Logsource {
            category: self.category.clone(),
            product: self.product.clone(),
            service: self.service.clone(),
        }
    }

    /// The event filter as a condition (`class_uid == 4002`), one
    /// comparison per key in key order; `None` when the entry has none.
    pub fn event_filter(&self) -> Option<Expr> {
        if self.event.is_empty() {
            return None;
        }
        let parts = self
            .event
            .iter()
            .map(|(field, value)| Expr::Compare {
                lhs: Operand::Field(field.clone()),
                op: CmpOp::Eq,
                rhs: Operand::Literal(match value {
                    EventValue::Int(i) => Literal::Int(*i),
                    EventValue::Str(s) => Literal::Str(s.clone()),
                }),
            })
            .collect();
        Some(Expr::and(parts))
    }

    fn same_source(&self, other: &LogsourceMap) -> bool {
        self.category == other.category
            && self.product == other.product
            && self.service == other.service
    }
}

/// The whole mapping: log sources in order; the first that matches a rule
/// is used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The log sources.
    pub logsources: Vec<LogsourceMap>,
}

/// A mapping file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// Not valid YAML or not the mapping format.
    #[error("invalid sigma mapping {name}: {source}")]
    Parse {
        /// The file.
        name: String,
        /// What the YAML parser said.
        source: yaml_serde::Error,
    },
}

impl Mapping {
    /// The built-in mapping ([`BUILTIN`]).
    pub fn builtin() -> Mapping {
        // The built-in file is part of the source and tested
        // (`tests::builtin_parses`); an empty mapping is the fallback that
        // would only reject every rule.
        Mapping::from_yaml("builtin", BUILTIN).unwrap_or(Mapping {
            logsources: Vec::new(),
        })
    }

    /// Parse a mapping file named `name` (for errors).
    pub fn from_yaml(name: &str, text: &str) -> Result<Mapping, MappingError> {
        yaml_serde::from_str(text).map_err(|source| MappingError::Parse {
            name: name.to_owned(),
            source,
        })
    }

    /// This mapping with `user`'s entries: an entry for the same category,
    /// product and service replaces the event filter and keyword field (when
    /// given) and the fields it names, and adds its products; other entries
    /// come first, in their order, so they take precedence.
    pub fn merged(mut self, user: Mapping) -> Mapping {
        let mut added = Vec::new();
        for entry in user.logsources {
            match self.logsources.iter_mut().find(|e| e.same_source(&entry)) {
                Some(existing) => {
                    if !entry.event.is_empty() {
                        existing.event = entry.event;
                    }
                    if entry.keywords.is_some() {
                        existing.keywords = entry.keywords;
                    }
                    for p in entry.products {
                        if !existing.products.contains(&p) {
                            existing.products.push(p);
                        }
                    }
                    existing.fields.extend(entry.fields);
                }
                None => added.push(entry),
            }
        }
        added.append(&mut self.logsources);
        self.logsources = added;
        self
    }

    /// The entry for a rule's log source.
    pub fn find(&self, logsource: &Logsource) -> Option<&LogsourceMap> {
        self.logsources.iter().find(|e| e.matches(logsource))
    }

    /// Every Vigil field the mapping names (event filters, keyword fields,
    /// field targets), each once, sorted.
    pub fn targets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for e in &self.logsources {
            out.extend(e.event.keys().map(String::as_str));
            out.extend(e.keywords.as_deref());
            out.extend(e.fields.values().map(|t| match t {
                FieldTarget::Path(p) => p.as_str(),
                FieldTarget::Extension { extension_of } => extension_of.as_str(),
            }));
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(category: Option<&str>, product: Option<&str>, service: Option<&str>) -> Logsource {
        Logsource {
            category: category.map(str::to_owned),
            product: product.map(str::to_owned),
            service: service.map(str::to_owned),
        }
    }

    #[test]
    fn builtin_parses() {
        let m = Mapping::from_yaml("builtin", BUILTIN).expect("the built-in mapping parses");
        assert!(m.logsources.len() >= 5);
        assert_eq!(Mapping::builtin(), m);
    }

    #[test]
    fn every_target_is_a_field_of_the_schema() {
        for target in Mapping::builtin().targets() {
            assert!(
                vigil_event::fields::lookup(target).is_some(),
                "`{target}` is not in vigil_event::fields"
            );
        }
    }

    #[test]
    fn logsource_matching() {
        let m = Mapping::builtin();
        let web = m
            .find(&ls(Some("webserver"), None, None))
            .expect("webserver");
        assert_eq!(
            web.fields.get("c-ip"),
            Some(&FieldTarget::Path("src_endpoint.ip".into()))
        );
        assert!(m
            .find(&ls(Some("webserver"), Some("nginx"), None))
            .is_some());
        assert!(m
            .find(&ls(Some("webserver"), Some("windows"), None))
            .is_none());
        assert!(m.find(&ls(None, Some("linux"), Some("auditd"))).is_none());
        assert!(m
            .find(&ls(Some("network_connection"), Some("linux"), None))
            .is_some());
        assert!(m.find(&ls(None, Some("zeek"), Some("dns"))).is_some());
        // `service: dns` alone is not Zeek's.
        assert!(m.find(&ls(None, None, Some("dns"))).is_none());
        assert!(m.find(&ls(None, Some("zeek"), Some("x509"))).is_none());
        assert_eq!(
            ls(None, Some("linux"), Some("auditd")).to_string(),
            "product: linux, service: auditd"
        );
        assert_eq!(ls(None, None, None).to_string(), "(none)");
    }

    #[test]
    fn event_filter_is_the_class() {
        let m = Mapping::builtin();
        let web = m.find(&ls(Some("webserver"), None, None)).unwrap();
        assert_eq!(
            web.event_filter(),
            Some(Expr::Compare {
                lhs: Operand::Field("class_uid".into()),
                op: CmpOp::Eq,
                rhs: Operand::Literal(Literal::Int(4002)),
            })
        );
        let fw = m.find(&ls(Some("firewall"), None, None)).unwrap();
        assert!(matches!(fw.event_filter(), Some(Expr::And(parts)) if parts.len() == 2));
    }

    #[test]
    fn user_file_overrides_and_extends() {
        let user = Mapping::from_yaml(
            "user.yml",
            "logsources:\n  - category: webserver\n    fields:\n      cs-uri-query: http_request.url.query_string\n      cs-cookie: http_request.cookie\n  - product: linux\n    service: sshd\n    event: { class_uid: 4007 }\n",
        )
        .unwrap();
        let m = Mapping::builtin().merged(user);
        let web = m.find(&ls(Some("webserver"), None, None)).unwrap();
        assert_eq!(
            web.fields.get("cs-uri-query"),
            Some(&FieldTarget::Path("http_request.url.query_string".into()))
        );
        assert!(web.fields.contains_key("cs-cookie"));
        // Untouched parts stay.
        assert!(web.fields.contains_key("c-ip"));
        assert_eq!(web.keywords.as_deref(), Some("raw_data"));
        assert!(m.find(&ls(None, Some("linux"), Some("sshd"))).is_some());
    }

    #[test]
    fn bad_mapping_is_an_error_naming_the_file() {
        let err = Mapping::from_yaml("mine.yml", "logsources:\n  - categroy: x\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("mine.yml") && text.contains("categroy"),
            "{text}"
        );
    }
}
