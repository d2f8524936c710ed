//! Vigil's one event schema.
//!
//! Every source in Vigil — a packet, a process, a log line, another Vigil node —
//! ends up as an [`Event`]: a few common fields (time, severity, transport
//! priority, metadata, [`Observable`]s) and one typed [`Body`] per record kind.
//! The JSON form uses OCSF class ids and attribute names where OCSF has them
//! (network activity 4001, HTTP 4002, DNS 4003, SSH 4007, detection finding
//! 2004); Vigil's own additions sit beside them under names OCSF does not use.
//!
//! This crate owns the schema, the observables every event carries, and the
//! JSON Lines writer. It does no I/O beyond writing to a caller's `Write`.
//!
//! ```
//! use vigil_event::{Event, Body, Endpoint, SshActivity, Timestamp, ConnectionInfo};
//! let ssh = SshActivity {
//!     src_endpoint: Endpoint::new("127.0.0.1".parse().unwrap(), 40000),
//!     dst_endpoint: Endpoint::new("127.0.0.1".parse().unwrap(), 22),
//!     connection_info: ConnectionInfo::tcp("F1", "1:abc="),
//!     client_version: Some("SSH-2.0-OpenSSH_9.2p1".into()),
//!     server_version: None,
//! };
//! let event = Event::new(Timestamp::from_nanos(1_700_000_000_000_000_000), Body::Ssh(ssh));
//! let line = event.to_json_line().unwrap();
//! assert!(line.contains("\"class_uid\":4007"));
//! assert!(line.contains("\"record\":\"ssh\""));
//! ```
#![deny(missing_docs)]

mod enrichment;
pub mod eve;
mod event;
pub mod fields;
mod finding;
mod jsonl;
mod network;
mod observable;
mod protocol;
mod stats;
mod time;

pub use enrichment::Enrichment;
pub use event::{Body, Event, Metadata, Priority, RecordKind, Severity, PRODUCT_NAME};
pub use finding::{Analytic, Finding, FindingInfo, Remediation, RuleRef, Subject};
pub use jsonl::{JsonLinesWriter, WriteError};
pub use network::{
    Certificate, ConnectionInfo, Endpoint, FlowRecord, IcmpInfo, Reassembly, TlsActivity,
    TlsClientHello, TlsInfo, TlsServerHello, Traffic,
};
pub use observable::{Observable, ObservableType};
pub use protocol::{
    DnsActivity, DnsAnswer, DnsQuery, HttpActivity, HttpRequest, HttpResponse, SshActivity, Url,
};
pub use stats::StatsRecord;
pub use time::Timestamp;
