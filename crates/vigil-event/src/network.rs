//! Network records: endpoints, connection info, flows and TLS handshakes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// OCSF `network_endpoint` (the fields Vigil fills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// Transport port; absent for port-less protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Host name when known (e.g. from SNI or the HTTP Host header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl Endpoint {
    /// An endpoint with an address and a port.
    pub fn new(ip: IpAddr, port: u16) -> Self {
        Self {
            ip,
            port: Some(port),
            hostname: None,
        }
    }
}

/// OCSF `network_connection_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// OCSF `uid`: Vigil's flow id, shared by the flow and its protocol
    /// records; empty for a record read from a log, where no flow was seen.
    pub uid: String,
    /// OCSF `community_uid`: the Community ID v1 of the flow; empty when it
    /// is not known (a log record without both ports).
    pub community_uid: String,
    /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub protocol_num: u8,
    /// Lower-case protocol name ("tcp", "udp", "icmp", "ipv6-icmp", ...).
    pub protocol_name: String,
}

impl ConnectionInfo {
    /// Connection info for a TCP flow.
    pub fn tcp(uid: impl Into<String>, community_uid: impl Into<String>) -> Self {
        Self {
            uid: uid.into(),
            community_uid: community_uid.into(),
            protocol_num: 6,
            protocol_name: "tcp".to_owned(),
        }
    }

    /// Connection info for a request read from a web server or WAF log:
    /// TCP, with no flow id and no Community ID (both empty), since no
    /// packets were seen.
    pub fn tcp_from_log() -> Self {
        Self::tcp("", "")
    }
}

/// OCSF `network_traffic`. "out" is originator → responder, "in" the reverse.
/// Byte counts are whole captured frames as on the wire (the frame's original
/// length), as Suricata's `bytes_toserver` and tshark's conversations count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Packets originator → responder.
    pub packets_out: u64,
    /// Packets responder → originator.
    pub packets_in: u64,
    /// Frame bytes originator → responder.
    pub bytes_out: u64,
    /// Frame bytes responder → originator.
    pub bytes_in: u64,
    /// packets_out + packets_in.
    pub packets: u64,
    /// bytes_out + bytes_in.
    pub bytes: u64,
    /// Vigil: transport payload bytes originator → responder (Zeek's `orig_bytes`).
    pub payload_bytes_out: u64,
    /// Vigil: transport payload bytes responder → originator (Zeek's `resp_bytes`).
    pub payload_bytes_in: u64,
}

/// Vigil: what TCP reassembly could not deliver for a flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassembly {
    /// Gaps (missing byte ranges) recorded, both directions.
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub gap_bytes: u64,
    /// Segments that were exact or partial retransmissions.
    pub retransmissions: u64,
    /// Overlapping segments whose bytes differed from those already delivered.
    pub inconsistent_overlaps: u64,
    /// Out-of-order segments dropped because the per-flow buffer was full.
    pub ooo_dropped: u64,
}

/// OCSF Network Activity (4001): one flow, bidirectional, keyed on its 5-tuple.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// The originator (the SYN's sender, or the first packet's).
    pub src_endpoint: Endpoint,
    /// The responder.
    pub dst_endpoint: Endpoint,
    /// Flow id, Community ID and protocol.
    pub connection_info: ConnectionInfo,
    /// Packet and byte counts per direction.
    pub traffic: Traffic,
    /// OCSF `start_time` (ms): first packet.
    pub start_time: i64,
    /// OCSF `end_time` (ms): last packet.
    pub end_time: i64,
    /// OCSF `duration` (ms).
    pub duration: i64,
    /// Vigil: duration in microseconds (sub-millisecond flows are common).
    pub duration_us: i64,
    /// OCSF `app_name`: the application protocol identified by content
    /// ("dns", "http", "tls", "ssh", "quic", "socks"), absent when none was.
    /// When the flow switched protocols (a tunnel: HTTP CONNECT or SOCKS,
    /// an HTTP upgrade) and Vigil followed, every protocol identified, in
    /// order, joined with ',' ("http,tls", "socks,tls"), as Zeek's
    /// `service`; EVE output writes the last as `app_proto` and the first
    /// as `app_proto_orig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Vigil: Zeek's `conn_state` (S0, S1, SF, REJ, S2, S3, RSTO, RSTR,
    /// RSTOS0, RSTRH, SH, SHR, OTH); absent for non-TCP flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_state: Option<String>,
    /// Vigil: Zeek's `history` letters (ShADadFfRr..., upper case originator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// Vigil: why the flow record was written: "timeout", "closed",
    /// "evicted" or "end_of_input".
    pub end_reason: String,
    /// Vigil: reassembly gaps and anomalies (TCP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassembly: Option<Reassembly>,
    /// Vigil: ICMP type and code of the first packet, for ICMP flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpInfo>,
}

/// ICMP/ICMPv6 type and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpInfo {
    /// ICMP type.
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
}

/// OCSF `certificate` (X.509), as sent in clear in TLS ≤ 1.2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Subject distinguished name (RFC 4514 text).
    pub subject: String,
    /// Issuer distinguished name (RFC 4514 text).
    pub issuer: String,
    /// Serial number: the DER integer's bytes in upper-case hex joined with
    /// colons, as Suricata writes `tls.serial` (e.g. `00:E4:1F`).
    pub serial_number: String,
    /// Not-before (ms since epoch).
    pub created_time: i64,
    /// Not-after (ms since epoch).
    pub expiration_time: i64,
    /// Subject alternative names (DNS names and IP addresses as text).
    #[serde(default)]
    pub sans: Vec<String>,
    /// SHA-1 fingerprint of the DER, lower-case hex with colons.
    pub fingerprint_sha1: String,
}

/// The ClientHello as Vigil saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsClientHello {
    /// Legacy record/handshake version offered, e.g. "TLSv1.2".
    pub version: String,
    /// Highest version in supported_versions if present, e.g. "TLSv1.3".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_version: Option<String>,
    /// Cipher suite ids offered, in order (GREASE included as sent).
    pub ciphers: Vec<u16>,
    /// Extension types, in order (GREASE included as sent).
    pub extensions: Vec<u16>,
    /// Vigil: the server name from the SNI extension (host_name entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ALPN protocols offered, in order; bytes that are not UTF-8 are
    /// replaced with U+FFFD (JA4 is computed from the raw bytes).
    #[serde(default)]
    pub alpn: Vec<String>,
    /// Vigil: supported_versions as offered (GREASE included); empty when
    /// the extension is absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_versions: Vec<u16>,
    /// Vigil: supported_groups (elliptic curves), in order, GREASE included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_groups: Vec<u16>,
    /// Vigil: ec_point_formats, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ec_point_formats: Vec<u8>,
    /// Vigil: signature_algorithms, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signature_algorithms: Vec<u16>,
    /// JA3 string (before hashing).
    pub ja3: String,
    /// JA3 hash (MD5 hex).
    pub ja3_hash: String,
    /// JA4 fingerprint (BSD-licensed, on by default).
    pub ja4: String,
    /// Vigil: JA4_r, the raw JA4 (sorted lists in clear instead of hashed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ja4_r: String,
}

/// The ServerHello as Vigil saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsServerHello {
    /// The negotiated version, e.g. "TLSv1.3" (from supported_versions when present).
    pub version: String,
    /// The chosen cipher suite id.
    pub cipher: u16,
    /// The chosen cipher suite's IANA name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_name: Option<String>,
    /// The ALPN protocol the server chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// Extension types, in order.
    pub extensions: Vec<u16>,
    /// JA3S string.
    pub ja3s: String,
    /// JA3S hash (MD5 hex).
    pub ja3s_hash: String,
}

/// OCSF Network Activity (4001) carrying its `tls` object: one TLS handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsActivity {
    /// Client side.
    pub src_endpoint: Endpoint,
    /// Server side.
    pub dst_endpoint: Endpoint,
    /// Flow id, Community ID and protocol.
    pub connection_info: ConnectionInfo,
    /// OCSF `tls` object.
    pub tls: TlsInfo,
}

/// OCSF `tls` object with Vigil's detail of both hellos.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// Negotiated version (ServerHello), else the client's offer.
    pub version: String,
    /// Server name indication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ALPN: the server's choice, else the client's first offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// Negotiated cipher name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// OCSF `ja3_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja3_hash: Option<String>,
    /// OCSF `ja3s_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja3s_hash: Option<String>,
    /// Vigil: JA4 of the ClientHello.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// Vigil: JA4S of the ServerHello. JA4+ (FoxIO License 1.1, no
    /// monetization): only computed when the user turned JA4+ on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja4s: Option<String>,
    /// The ClientHello, when seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_hello: Option<TlsClientHello>,
    /// The ServerHello, when seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<TlsServerHello>,
    /// OCSF `certificate`: the server's leaf certificate when sent in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// OCSF `certificate_chain`-like: the rest of the chain, leaf excluded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_chain: Vec<Certificate>,
    /// Vigil: why parts of the handshake could not be read, e.g. "gap"
    /// (capture loss), "handshake_too_large" (over the configured buffer),
    /// "malformed_client_hello", "malformed_certificate"; empty when all
    /// was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
}
