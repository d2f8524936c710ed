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
//! | [`format`](mod@format) | log line parsers: nginx `log_format`, Apache `LogFormat`, JSON lines, ModSecurity/Coraza audit ([`Parser`]) |
//! | [`detect`] | choosing a format from a log's first lines, and saying why ([`detect::detect`]) |
//! | [`source`] | reading lines: files, `.gz`, stdin, following a live file across rotation; bad-line accounting ([`LogReader`], [`Follower`]) |
//! | [`ocsf`] | an [`AccessRecord`] as a `vigil_event` HTTP Activity event |
//! | [`store`] | the data directory: layout, atomic writes, versioned models ([`ModelStore`]) and their reload ([`ModelWatcher`]) |
//! | [`decisions`] | ban / challenge / throttle per subject with reason, expiry and evidence ([`DecisionStore`]) |
//! | [`export`] | decisions as an nginx `geo`/`map` include and an nftables set definition |
//! | [`labels`] | operator labels (bot or human), append-only, latest wins; vigil-webgen's ground truth |
//! | [`learn`] | stored feature vectors ([`FeatureLog`]) and the learner that refits the model from labels |
//!
//! # Example
//!
//! Parse one line of nginx's (and Apache's) `combined` format:
//!
//! ```
//! use vigil_weblog::Parser;
//!
//! let line = br#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /search?q=shoes HTTP/1.1" 200 2326 "https://example.com/" "Mozilla/5.0 \x22quoted\x22""#;
//! let record = Parser::nginx_combined().parse(line).unwrap();
//! assert_eq!(record.client.to_string(), "203.0.113.9");
//! assert_eq!((record.method.as_str(), record.path(), record.status), ("GET", "/search", 200));
//! assert_eq!(record.user_agent.as_deref(), Some("Mozilla/5.0 \"quoted\""));
//! ```
//!
//! Read a whole log, detecting its format from the first lines:
//!
//! ```
//! use vigil_weblog::LogReader;
//!
//! let log = b"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326\nnot a log line\n";
//! let (mut reader, detection) = LogReader::detect("access.log", &log[..], None).unwrap();
//! assert_eq!(detection.reason, "apache common: 1 of 2 sample lines parsed");
//! assert_eq!(reader.by_ref().count(), 1);
//! assert_eq!(reader.stats().samples[0].to_string().split(": ").next(), Some("access.log:2"));
//! ```
//!
//! Records are plain data:
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
pub mod decisions;
pub mod detect;
pub mod detector;
pub mod entity;
pub mod export;
pub mod features;
pub mod finding;
pub mod format;
pub mod labels;
pub mod learn;
pub mod ocsf;
pub mod paths;
pub mod record;
pub mod score;
pub mod sketch;
pub mod source;
pub mod store;
pub mod uaclass;
pub mod whitelist;

pub use decisions::{Action, Decision, DecisionPolicy, DecisionStore, Subject};
pub use detector::{BotDetector, DetectorConfig, Verdict};
pub use format::{FormatConfig, Parser};
pub use learn::{store_features, FeatureLog};
pub use record::AccessRecord;
pub use score::{Class, ModelConfig};
pub use source::{Follower, LogReader};
pub use store::{ModelStore, ModelWatcher};
