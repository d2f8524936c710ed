//! Vigil's rules: what an analyst writes once and Vigil finds across every
//! source.
//!
//! - [`ast`]: the condition tree shared by the expression language and the
//!   Sigma importer.
//! - [`expr`]: the expression language: parse condition text, check it
//!   against the event schema, print it as infix text and as a tree,
//!   compile it to an evaluator, and match many conditions at once
//!   ([`expr::ConditionSet`], indexed by event class and required literals).
//! - [`spec`]: the YAML rule file format (single-event rules, correlation
//!   rules, when they fire, suppression, actions).
//!
//! ```
//! use vigil_rules::expr;
//! let c = expr::compile_text(r#"query.hostname iendswith ".onion""#).unwrap();
//! let dns = vigil_event::fields::samples().into_iter().find(|e| e.class_uid == 4003).unwrap();
//! assert!(!c.matches(&dns));
//! ```
//!
//! Still to come in this crate (issue 6): `correlate` (windows in event time, the
//! correlation kinds, meta-events, chaining, bounded state), `sigma`
//! (import of Sigma rules and Sigma correlation rules through a field
//! mapping) and `action` (webhook, e-mail, syslog, program).
#![deny(missing_docs)]

pub mod ast;
pub mod expr;
pub mod spec;
