//! Application-protocol records: DNS, HTTP and SSH.

use serde::{Deserialize, Serialize};

use crate::network::{ConnectionInfo, Endpoint};

/// OCSF `dns_query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsQuery {
    /// Query name, without the trailing dot ("." for the root). Label bytes
    /// outside printable ASCII are written `\DDD`, a dot inside a label `\.`.
    pub hostname: String,
    /// Query type mnemonic ("A", "AAAA", "TXT", ... or "TYPE65" for others).
    #[serde(rename = "type")]
    pub qtype: String,
    /// Query type number.
    pub type_id: u16,
    /// Query class mnemonic ("IN", ...).
    pub class: String,
    /// OCSF `packet_uid`: the DNS message id.
    pub packet_uid: u16,
    /// OCSF `opcode`: caption of the query's opcode ("Query", "Notify",
    /// "Update", ... or "OPCODE`n`").
    #[serde(default)]
    pub opcode: String,
    /// OCSF `opcode_id`: the 4-bit opcode.
    #[serde(default)]
    pub opcode_id: u8,
}

/// OCSF `dns_answer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// Owner name of the record.
    pub name: String,
    /// Record type mnemonic.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Record class mnemonic.
    pub class: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Record data as text: A/AAAA an address; CNAME, NS, PTR, DNAME a name
    /// (no trailing dot); MX "preference name" (`10 mail.example.com`); TXT
    /// each string in double quotes, space-separated, as dig prints them
    /// (`"v=spf1 -all"`); SOA "mname rname serial refresh retry expire
    /// minimum"; SRV "priority weight port target"; any other type, or data
    /// that does not parse as its type, RFC 3597's `\# length hex`.
    pub rdata: String,
    /// Vigil: the section the record came from ("answer", "authority";
    /// additional records are not listed).
    pub section: String,
}

/// OCSF DNS Activity (4003): a query and, when seen, its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsActivity {
    /// The client.
    pub src_endpoint: Endpoint,
    /// The server.
    pub dst_endpoint: Endpoint,
    /// Flow id, Community ID and protocol (udp or tcp).
    pub connection_info: ConnectionInfo,
    /// The question.
    pub query: DnsQuery,
    /// Answers (and authority records) from the response.
    #[serde(default)]
    pub answers: Vec<DnsAnswer>,
    /// OCSF `rcode` caption ("NoError", "NXDomain", ...); absent with no response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcode: Option<String>,
    /// OCSF `rcode_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcode_id: Option<u16>,
    /// Header flags of the response (else of the query): "qr", "aa", "tc", "rd", "ra", "ad", "cd".
    #[serde(default)]
    pub flags: Vec<String>,
    /// OCSF `response_time` (ms since epoch) of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_time: Option<i64>,
    /// Vigil: microseconds from query to response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<i64>,
    /// Vigil: "answered", "unanswered" (query with no response) or
    /// "unsolicited" (response with no query seen).
    pub pairing: String,
}

/// OCSF `url`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Url {
    /// Host from the authority of an absolute URI, else from the Host
    /// header, without the port (and without the brackets of an IPv6 literal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// OCSF `port`: the port given with that host, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Path without the query string ("/" for an absolute URI with none,
    /// empty for CONNECT's authority form).
    pub path: String,
    /// Query string without the `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string: Option<String>,
    /// The request target exactly as sent.
    pub url_string: String,
}

/// OCSF `http_request`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Method as sent.
    pub http_method: String,
    /// Request target and host.
    pub url: Url,
    /// "HTTP/1.1" or "HTTP/1.0".
    pub version: String,
    /// User-Agent header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Referer header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Vigil: request body length in bytes as transferred (after de-chunking).
    pub body_length: u64,
}

/// OCSF `http_response`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Content-Type header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// OCSF `length`: response body length in bytes (after de-chunking).
    pub length: u64,
}

/// OCSF HTTP Activity (4002): one request/response transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpActivity {
    /// The client.
    pub src_endpoint: Endpoint,
    /// The server.
    pub dst_endpoint: Endpoint,
    /// Flow id, Community ID and protocol.
    pub connection_info: ConnectionInfo,
    /// The request.
    pub http_request: HttpRequest,
    /// The response, absent when the connection ended first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_response: Option<HttpResponse>,
    /// Vigil: index of this transaction on its connection, from 0.
    pub transaction: u32,
}

/// OCSF SSH Activity (4007): the version exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshActivity {
    /// The client.
    pub src_endpoint: Endpoint,
    /// The server.
    pub dst_endpoint: Endpoint,
    /// Flow id, Community ID and protocol.
    pub connection_info: ConnectionInfo,
    /// The client's identification string, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// The server's identification string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}
