//! Web access and WAF logs, and the bot detector that reads them.
//!
//! A web operator points Vigil at nginx, Apache or WAF logs; this crate
//! turns each line into an [`AccessRecord`] and, client by client, decides
//! who is a person, a verified crawler, a scraper or an attacker, and why.
//!
//! The crate is split by concern:
//!
//! | module | owns |
//! |---|---|
//! | [`record`] | [`AccessRecord`], the one parsed form of every log format |
//! | [`format`] | log line parsers: nginx `log_format`, Apache `LogFormat`, JSON lines, ModSecurity/Coraza audit ([`Parser`]) |
//! | [`detect`] | choosing a format from a log's first lines, and saying why ([`detect::detect`]) |
//! | [`source`] | reading lines: files, `.gz`, stdin, following a live file across rotation; bad-line accounting ([`LogReader`], [`Follower`]) |
//! | [`ocsf`] | an [`AccessRecord`] as a `vigil_event` HTTP Activity event |
//!
//! # Example
//!
//! ```
//! use vigil_weblog::AccessRecord;
//! let r = AccessRecord { target: "/search?q=shoes".into(), ..AccessRecord::default() };
//! assert_eq!(r.path(), "/search");
//! assert_eq!(r.query(), Some("q=shoes"));
//! ```
#![deny(missing_docs)]

pub mod detect;
pub mod format;
pub mod ocsf;
pub mod record;
pub mod source;

pub use format::{FormatConfig, Parser};
pub use record::AccessRecord;
pub use source::{Follower, LogReader};
