//! Payload signatures: Suricata's rule language (the subset real rulesets
//! use), compiled into a multi-pattern prefilter per buffer and verified
//! rule by rule; every match becomes a Detection Finding naming the rule.
//!
//! - [`rule`]: the parsed form of a rule (header, options, contents, ...).
//! - [`parse`]: text → [`rule::Rule`], with a per-rule reason when a rule
//!   uses something Vigil does not support.
//! - [`vars`]: address and port variables (`$HOME_NET`, `$HTTP_PORTS`, ...).
//! - [`load`]: reading rule files into a ruleset with a load summary that
//!   counts accepted and skipped rules by reason; nothing is dropped silently.
//! - [`engine`]: the compiled ruleset: prefilter, verification, flowbits,
//!   thresholds; implements `vigil_net::inspect::PayloadInspector`.
#![deny(missing_docs)]

pub mod engine;
pub mod load;
pub mod parse;
pub mod rule;
pub mod vars;
