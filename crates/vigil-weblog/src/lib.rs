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
//! | [`detector`] | [`BotDetector`]: records in, explained [`Verdict`]s out, in event time; its config |
//! | [`entity`] | entities (IP, IP + UA, session, /24 and /64) and their bounded LRU table |
//! | [`features`] | the per-entity accumulator and every feature, with its formula |
//! | [`sketch`] | fixed-size summaries: bitmap, top-k, time-bucket ring, moments, Gini, count-min |
//! | [`baseline`] | the site's own baseline: asset/referer shares, hourly activity, hot paths |
//! | [`uaclass`] | user-agent classes from embedded crawler, tool and bad-bot lists |
//! | [`paths`] | static assets, robots/sitemaps, logins and attack probes by path |
//! | [`whitelist`] | allow-lists, the good-bot list, rDNS/range verification of crawlers |
//! | [`score`] | the explained logistic model, its weights and classes |
//! | [`finding`] | verdicts as Detection Finding events (`bot:<class>`) |
//!
//! # Example
//!
//! ```
//! use vigil_weblog::AccessRecord;
//! let r = AccessRecord { target: "/search?q=shoes".into(), ..AccessRecord::default() };
//! assert_eq!(r.path(), "/search");
//! assert_eq!(r.query(), Some("q=shoes"));
//! ```
//!
//! The bot detector, over records in event time:
//!
//! ```
//! use vigil_event::Timestamp;
//! use vigil_weblog::{AccessRecord, BotDetector, Class, DetectorConfig};
//!
//! let mut config = DetectorConfig::default();
//! config.whitelist.rdns.enabled = false; // no DNS in this example
//! let mut detector = BotDetector::new(config).unwrap();
//! for i in 0..300i64 {
//!     detector.observe(&AccessRecord {
//!         time: Timestamp::from_nanos(1_700_000_000_000_000_000 + i * 200_000_000),
//!         client: "198.51.100.7".parse().unwrap(),
//!         method: "GET".into(),
//!         target: format!("/product/{i}"),
//!         status: 200,
//!         user_agent: Some("python-requests/2.31.0".into()),
//!         ..AccessRecord::default()
//!     });
//! }
//! let verdicts = detector.finish();
//! let v = verdicts.iter().find(|v| v.subject == "198.51.100.7").unwrap();
//! assert_eq!(v.class, Class::Scraper);
//! // Every feature with its value, weight and contribution, and the finding:
//! assert!(v.score.contributions.iter().any(|c| c.feature == "ua_library" && c.contribution > 0.0));
//! assert!(v.to_finding().is_some());
//! ```
#![deny(missing_docs)]

pub mod baseline;
pub mod detector;
pub mod entity;
pub mod features;
pub mod finding;
pub mod paths;
pub mod record;
pub mod score;
pub mod sketch;
pub mod uaclass;
pub mod whitelist;

pub use detector::{BotDetector, DetectorConfig, Verdict};
pub use record::AccessRecord;
pub use score::{Class, ModelConfig};
