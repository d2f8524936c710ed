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

pub mod record;

pub use record::AccessRecord;
