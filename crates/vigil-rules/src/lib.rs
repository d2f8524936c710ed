//! Vigil's rules: what an analyst writes once and Vigil finds across every
//! source.
//!
//! - [`ast`]: the condition tree shared by the expression language and the
//!   Sigma importer.
//! - [`spec`]: the YAML rule file format (single-event rules, correlation
//!   rules, when they fire, suppression, actions).
//! - [`correlate`]: windows in event time, the correlation kinds,
//!   meta-events, chaining, bounded state.
//! - [`duration`]: durations as rule files write them (`30s`, `5m`, `1h`).
//! - [`expr`]: the expression language: parse, check against the event
//!   schema, print as infix and as a tree, compile to an evaluator, index
//!   many conditions by event class and required literals.
//! - [`sigma`]: Sigma rules and Sigma correlation rules imported through a
//!   field mapping, with a reason for every rule not accepted.
//!
//! ```
//! use vigil_rules::expr;
//! let c = expr::compile_text(r#"query.hostname iendswith ".onion""#).unwrap();
//! let dns = vigil_event::fields::samples().into_iter().find(|e| e.class_uid == 4003).unwrap();
//! assert!(!c.matches(&dns));
//! ```
#![deny(missing_docs)]

pub mod ast;
pub mod correlate;
pub mod duration;
pub mod expr;
pub mod ruleset;
pub mod sigma;
pub mod spec;
