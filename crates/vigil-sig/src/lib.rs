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
//!
//! ```
//! use vigil_sig::parse::parse_rule;
//! use vigil_sig::rule::{Buffer, BufferSel, DetectKind};
//! use vigil_sig::vars::Vars;
//!
//! let text = r#"alert http $EXTERNAL_NET any -> $HTTP_SERVERS any (msg:"sqlmap"; \
//!     flow:established,to_server; http.user_agent; content:"sqlmap"; nocase; sid:9000501; rev:1;)"#;
//! let rule = parse_rule(&text.replace("\\\n", ""), &Vars::default())?;
//! assert_eq!(rule.sid, 9000501);
//! assert_eq!(rule.detection[0].buffer.sel, BufferSel::Seam(Buffer::HttpUserAgent));
//! assert!(matches!(&rule.detection[0].kind, DetectKind::Content(c) if c.nocase));
//! # Ok::<(), vigil_sig::parse::RuleError>(())
//! ```
#![deny(missing_docs)]

pub mod engine;
pub mod load;
pub mod parse;
pub mod rule;
pub mod vars;
