//! Vigil's packet side: captured traffic in, flows and protocol records out.
//!
//! The stages, each in its own module and each usable alone:
//!
//! - [`capture`]: reads pcap and pcapng files into [`capture::RawPacket`]s
//!   (packet number, time, link type, bytes), reporting corrupt records by
//!   packet number and carrying on where the format allows.
//! - [`decode`]: link layer → IP → transport, with IPv4 fragment reassembly
//!   and IPv6 extension headers; a packet it cannot decode yields a
//!   [`decode::DecodeError`] whose [`decode::DecodeError::reason`] is a
//!   counter name.
//! - [`community_id`]: Community ID v1 of a 5-tuple.
//! - [`flow`]: the bidirectional flow table (originator, counters, Zeek-style
//!   `conn_state`/`history`, timeouts in event time, bounded size with
//!   counted eviction).
//! - [`reassembly`]: per-direction TCP stream reassembly that hands in-order
//!   bytes onward and records gaps instead of guessing over them.
//! - [`app`]: protocol detection by content and the DNS, HTTP/1.x, TLS and
//!   SSH parsers, which turn bytes into [`vigil_event::Event`]s.
//! - [`pipeline`]: wires the stages together for one run over one or more
//!   captures, and keeps the counters that end every run as a stats record.
//! - [`evidence`]: per-flow rings of recent packets and incident pcaps that
//!   start with the packets from before their trigger.
//! - [`pcap_write`]: writing classic pcap files; [`pcap_ring`]: the rolling
//!   pcap backup of all traffic with its time index, and extracting a time
//!   window from it.
//!
//! ```no_run
//! use vigil_net::{capture::CaptureReader, pipeline::{Pipeline, PipelineConfig}};
//! let file = std::fs::File::open("capture.pcap").unwrap();
//! let mut reader = CaptureReader::new(file).unwrap();
//! let mut pipeline = Pipeline::new(PipelineConfig::default());
//! let mut events = Vec::new();
//! while let Some(item) = reader.next_packet() {
//!     match item {
//!         Ok(packet) => {
//!             if let Err(error) = pipeline.process(&packet, &mut events) {
//!                 eprintln!("packet {}: {error}", packet.number);
//!             }
//!         }
//!         Err(error) => { eprintln!("{error}"); if error.is_fatal() { break } }
//!     }
//! }
//! pipeline.finish(&mut events);
//! ```
#![deny(missing_docs)]

pub mod app;
pub mod capture;
pub mod community_id;
pub mod decode;
pub mod evidence;
pub mod flow;
pub mod inspect;
pub mod pcap_ring;
pub mod pcap_write;
pub mod pipeline;
pub mod reassembly;
