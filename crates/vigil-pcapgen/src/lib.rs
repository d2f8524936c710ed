//! Vigil's benchmark capture generator.
//!
//! Writes a large, realistic, mixed Ethernet pcap deterministically from a seed: the same
//! [`Config`] always gives the same bytes. The traffic looks like an enterprise uplink:
//!
//! - DNS over UDP: A/AAAA (often both from one socket), CNAME chains, TXT, MX, SRV, PTR,
//!   HTTPS queries, some NXDOMAIN with an SOA in the authority section, EDNS0 on queries;
//! - HTTP/1.1 keep-alive connections with several transactions each (real-looking headers,
//!   `Content-Length` and chunked bodies, 304s, redirects, the odd large download);
//! - TLS 1.3 and TLS 1.2 connections opened by browser-, curl- and library-like
//!   ClientHellos (SNI, ALPN, GREASE, key shares, the extension lists of real clients); TLS
//!   1.2 servers send a real DER certificate chain; then encrypted application records;
//! - bulk TCP transfers in MTU-sized segments, SSH sessions (version exchange, KEXINIT and
//!   ECDH in clear, then encrypted packets), and a few refused connections.
//!
//! Every TCP connection has a full handshake, correct sequence and acknowledgement numbers,
//! delayed ACKs and a FIN (or RST) teardown. IPv4 and IPv6, valid checksums, monotonic
//! timestamps, thousands of connections active at once and interleaved. Memory is bounded
//! by the number of concurrent sessions ([`Config::concurrency`]), never by the file size.
//!
//! ```no_run
//! let config = vigil_pcapgen::Config { size: 64 << 20, ..Default::default() };
//! let file = std::io::BufWriter::new(std::fs::File::create("mixed.pcap")?);
//! let summary = vigil_pcapgen::generate(&config, file)?;
//! println!("{} packets, {} DNS queries", summary.packets, summary.dns_queries);
//! # Ok::<(), vigil_pcapgen::Error>(())
//! ```
#![deny(missing_docs)]

mod content;
mod dist;
mod dns;
mod hosts;
mod http;
mod packet;
mod pcap;
mod sched;
mod ssh;
mod tcp;
mod tls;

use serde::Serialize;

pub use sched::generate;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Stop once the file holds this many bytes (the packet that crosses it is kept).
    pub size: u64,
    /// Seed of every random choice: the same config gives the same bytes.
    pub seed: u64,
    /// Sessions running at once (each one a DNS exchange or a TCP connection).
    pub concurrency: usize,
    /// After `size` is reached, let every running session finish instead of cutting the
    /// capture there. The file is then somewhat larger than `size`, but every message is
    /// complete, which is what a test comparing counts wants.
    pub drain: bool,
    /// Capture start, in seconds since the Unix epoch.
    pub start_unix: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            size: 1 << 30,
            seed: 1,
            concurrency: Self::DEFAULT_CONCURRENCY,
            drain: false,
            start_unix: Self::DEFAULT_START_UNIX,
        }
    }
}

impl Config {
    /// Default [`Config::concurrency`].
    pub const DEFAULT_CONCURRENCY: usize = 8000;
    /// Default [`Config::start_unix`]: 2026-12-01 09:00:00 UTC, inside the validity of the
    /// embedded certificate.
    pub const DEFAULT_START_UNIX: u64 = 1_796_115_600;
}

/// What a run wrote: the counts a reader of the capture should find.
///
/// Protocol messages are counted when their last byte is written, so with
/// [`Config::drain`] every count is exact; without it a session cut at the end of the
/// capture may have its last message counted while the peer's answer is missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Packets written.
    pub packets: u64,
    /// Bytes of the pcap file, headers included.
    pub file_bytes: u64,
    /// Bytes of the frames (what a NIC would have seen), without pcap headers.
    pub wire_bytes: u64,
    /// First to last timestamp, in seconds.
    pub duration_secs: f64,
    /// Flows started (distinct 5-tuples).
    pub flows: u64,
    /// TCP connections started (one SYN each).
    pub tcp_connections: u64,
    /// Flows over IPv6.
    pub ipv6_flows: u64,
    /// Largest number of sessions active at once.
    pub max_concurrent: u64,
    /// DNS queries written.
    pub dns_queries: u64,
    /// DNS responses written.
    pub dns_responses: u64,
    /// DNS responses with rcode NXDOMAIN.
    pub dns_nxdomain: u64,
    /// HTTP requests written (complete, bodies included).
    pub http_requests: u64,
    /// HTTP responses written (complete, bodies included).
    pub http_responses: u64,
    /// HTTP messages with a chunked body.
    pub http_chunked: u64,
    /// TLS ClientHellos written.
    pub tls_client_hellos: u64,
    /// TLS connections whose server chose TLS 1.2.
    pub tls12_sessions: u64,
    /// TLS connections whose server chose TLS 1.3.
    pub tls13_sessions: u64,
    /// TLS Certificate messages sent in clear (TLS 1.2 servers).
    pub tls_certificates: u64,
    /// SSH version strings written (two per complete exchange).
    pub ssh_banners: u64,
    /// Bulk transfer connections.
    pub bulk_connections: u64,
    /// Connections refused with a RST.
    pub refused_connections: u64,
    /// Flows of each kind.
    pub flows_by_kind: KindCounts,
    /// Wire bytes of each kind.
    pub bytes_by_kind: KindCounts,
}

/// A count per kind of session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    /// DNS over UDP.
    pub dns: u64,
    /// Cleartext HTTP/1.1.
    pub http: u64,
    /// TLS.
    pub tls: u64,
    /// SSH.
    pub ssh: u64,
    /// Opaque bulk TCP.
    pub bulk: u64,
    /// Refused TCP connections.
    pub refused: u64,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing the capture failed.
    #[error("writing the capture failed: {0}")]
    Io(#[from] std::io::Error),
    /// A packet could not be built (a bug: every size the generator uses fits).
    #[error("building packet {packet} failed: {reason}")]
    Build {
        /// Number of the packet (1-based).
        packet: u64,
        /// What the packet builder said.
        reason: String,
    },
}

/// Parses a size such as `1GiB`, `256MiB`, `100MB`, `4096` (bytes).
///
/// Binary (`KiB`, `MiB`, `GiB`, `TiB`, also `K`, `M`, `G`, `T`) and decimal (`kB`, `MB`,
/// `GB`, `TB`) units; case does not matter; fractions such as `1.5GiB` are allowed.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return None,
    };
    let bytes = number * factor;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size("256m"), Some(256 << 20));
        assert_eq!(parse_size("100MB"), Some(100_000_000));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("12 KiB"), Some(12 << 10));
        assert_eq!(parse_size("GiB"), None);
        assert_eq!(parse_size("1PB"), None);
        assert_eq!(parse_size("-1"), None);
    }
}
