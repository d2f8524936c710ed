//! Threat intelligence: indicators from the feeds analysts already have,
//! kept in the data directory, compiled into fast matchers, and checked
//! against every event's observables.
//!
//! - [`indicator`]: what an indicator is ([`Indicator`], [`Kind`]) and how
//!   values are normalized, so an indicator and an observed value that
//!   mean the same thing compare equal.
//! - [`format`]: the feed formats (plain lists, CSV, FireHOL netsets, STIX
//!   2.1, MISP events and feeds, Suricata IP-reputation rules), each a pure
//!   parser that reports every bad entry with its location.
//! - [`import`]: reading a feed from disk and applying the feed's defaults.
//! - [`matcher`]: the compiled set ([`Matcher`]): longest-prefix match for
//!   networks of both families, a suffix lookup for domains, exact sets
//!   for the rest.
//! - [`store`]: the feeds in the data directory ([`Store`]) and the
//!   compiled set shared by a running process ([`SharedMatcher`]: readers
//!   never wait, updates swap in whole; [`Reloader`]).
//! - [`stage`]: matching events ([`IntelStage`]): enrichments and
//!   Detection Findings.
//!
//! ```
//! use vigil_intel::format::{self, Format, ParseOptions};
//! use vigil_intel::import::FeedDefaults;
//! use vigil_intel::Matcher;
//!
//! let feed = b"# bad hosts\n198.51.100.0/24\n*.evil.example\n";
//! let parsed = format::parse(Format::Plain, feed, &ParseOptions::default())?;
//! let indicators = FeedDefaults::new("demo", 0).apply(&parsed);
//! let matcher = Matcher::build(&indicators, 0);
//! let hit = matcher.contains("198.51.100.7").expect("inside the network");
//! assert_eq!(hit.value(), "198.51.100.0/24");
//! assert_eq!(hit.attrs.feed, "demo");
//! assert!(matcher.contains("www.evil.example").is_some());
//! assert!(matcher.contains("192.0.2.1").is_none());
//! # Ok::<(), vigil_intel::format::FormatError>(())
//! ```
#![deny(missing_docs)]

pub mod format;
pub mod import;
pub mod indicator;
mod iptable;
pub mod matcher;
pub mod stage;
pub mod store;

pub use indicator::{Indicator, IpNet, Kind};
pub use matcher::{Attrs, Hit, Matcher, MatcherStats};
pub use stage::IntelStage;
pub use store::{Reloader, SharedMatcher, Store};
