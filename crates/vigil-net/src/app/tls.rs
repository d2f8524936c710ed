//! TLS: ClientHello, ServerHello and clear-text certificates, with JA3, JA3S
//! and JA4 (and JA4S when JA4+ is on).
//!
//! This module owns the TLS record and handshake layers of one TCP flow:
//! [`TlsParser`] buffers each direction's records, reassembles handshake
//! messages that span records (and splits records that carry several), and
//! writes ONE [`TlsActivity`] per connection, when it has learnt all it can
//! from the clear-text handshake:
//!
//! - both hellos and, for TLS ≤ 1.2, the server's Certificate message (or a
//!   sign that none is coming: ServerKeyExchange, ServerHelloDone, the
//!   server's ChangeCipherSpec or encrypted records);
//! - both hellos when the negotiated version is TLS 1.3 (the rest is
//!   encrypted);
//! - otherwise at [`StreamParser::end`], with what was seen.
//!
//! The pure functions [`parse_client_hello`], [`parse_server_hello`] and
//! [`parse_certificate`] take one handshake message body (bytes after the
//! 4-byte handshake header) and return event values; the QUIC parser calls
//! [`parse_client_hello`] with [`JaTransport::Quic`] on the ClientHello it
//! reassembles from CRYPTO frames.
//!
//! What is parsed by hand, and why: the record header (5 bytes; the parser
//! must buffer partial records across TCP chunks anyway), the handshake
//! message header (4 bytes; messages span records), and the framing of the
//! extension list. tls-parser's `parse_tls_client_hello_extensions` stops
//! silently at the first extension whose *content* it cannot parse, which
//! would drop the remaining extension types from JA3/JA4; walking the
//! type/length framing by hand keeps every type, and tls-parser still
//! parses each extension's content. Hello fixed fields, extension contents,
//! the Certificate message and cipher names come from tls-parser; X.509 from
//! x509-parser.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use sha1::{Digest, Sha1};
use tls_parser::{TlsCipherSuiteID, TlsExtension, TlsMessageHandshake};
use vigil_event::{
    Body, Certificate, Event, Timestamp, TlsActivity, TlsClientHello, TlsInfo, TlsServerHello,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use super::ja::{self, JaTransport};
use super::{AppConfig, Direction, FlowMeta, Progress, StreamParser};
use crate::inspect::{Buffer, InspectLimits, TxMeta, TxPoint, TxQueue, TxVisitor};

/// Largest record payload accepted: 2^14 plus the 2048 bytes of expansion
/// TLS ≤ 1.2 allows for a ciphertext. Anything longer is not TLS.
const MAX_RECORD_PAYLOAD: usize = (1 << 14) + 2048;
/// Record header length.
const RECORD_HEADER: usize = 5;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_HANDSHAKE: u8 = 22;
// 21 is Alert: nothing to learn from it.
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_KEY_EXCHANGE: u8 = 12;
const HS_CERTIFICATE_REQUEST: u8 = 13;
const HS_SERVER_HELLO_DONE: u8 = 14;

const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// A handshake message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The ClientHello's fixed fields (version, random, session id, cipher
    /// suites, compression methods) do not parse.
    #[error("malformed tls client hello")]
    MalformedClientHello,
    /// The ServerHello's fixed fields do not parse (or its version is not
    /// SSL 3.0 to TLS 1.2 on the wire).
    #[error("malformed tls server hello")]
    MalformedServerHello,
    /// The Certificate message's list does not parse.
    #[error("malformed tls certificate message")]
    MalformedCertificate,
}

/// True when `first` (the first bytes one side of a TCP stream sent) starts
/// like a TLS handshake: a record header with content type 22 (handshake),
/// version 3.0 to 3.4, a length no larger than a record can be, and, when
/// the bytes reach that far, a ClientHello or ServerHello whose own version
/// major is 3. Needs the whole 5-byte record header.
pub fn looks_like_tls(first: &[u8]) -> bool {
    let [ct, major, minor, len_hi, len_lo, rest @ ..] = first else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([*len_hi, *len_lo]));
    if *ct != CT_HANDSHAKE || *major != 3 || *minor > 4 || !(4..=MAX_RECORD_PAYLOAD).contains(&len)
    {
        return false;
    }
    match rest {
        [] => true,
        [hs_type, ..] if *hs_type != HS_CLIENT_HELLO && *hs_type != HS_SERVER_HELLO => false,
        // Handshake type, 3-byte length, then the hello's version.
        [_, _, _, _, hello_major, ..] => *hello_major == 3,
        _ => true,
    }
}

/// Display name of a protocol version number: "TLSv1.2", "SSLv3",
/// "DTLSv1.2", or `0x....` when unknown.
pub fn version_name(version: u16) -> String {
    match version {
        0x0002 | 0x0200 => "SSLv2".to_owned(),
        0x0300 => "SSLv3".to_owned(),
        0x0301 => "TLSv1.0".to_owned(),
        0x0302 => "TLSv1.1".to_owned(),
        0x0303 => "TLSv1.2".to_owned(),
        0x0304 => "TLSv1.3".to_owned(),
        0xfeff => "DTLSv1.0".to_owned(),
        0xfefd => "DTLSv1.2".to_owned(),
        0xfefc => "DTLSv1.3".to_owned(),
        other => format!("0x{other:04x}"),
    }
}

/// IANA name of a cipher suite, when tls-parser knows it.
pub fn cipher_name(id: u16) -> Option<String> {
    TlsCipherSuiteID(id)
        .get_ciphersuite()
        .map(|c| c.name.to_owned())
}

/// Walk a list of extensions: `(type, whole extension bytes incl. header)`.
/// Stops at the first extension whose length runs past the end (a truncated
/// list keeps what came before).
fn walk_extensions(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let [t0, t1, l0, l1, ..] = data {
        let ext_type = u16::from_be_bytes([*t0, *t1]);
        let end = 4 + usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some(whole) = data.get(..end) else {
            break;
        };
        out.push((ext_type, whole));
        data = data.get(end..).unwrap_or_default();
    }
    out
}

fn u16_list_from_versions(list: &[tls_parser::TlsVersion]) -> Vec<u16> {
    list.iter().map(|v| v.0).collect()
}

/// Parse a ClientHello handshake message body (the bytes after the 4-byte
/// handshake header) into the event value, with JA3 and JA4 computed for a
/// hello that travelled over `transport` ([`JaTransport::Tcp`] for TLS over
/// TCP, [`JaTransport::Quic`] for a ClientHello taken from QUIC CRYPTO
/// frames). Extensions whose content does not parse still count in the
/// extension list; a truncated extension list keeps what came before.
pub fn parse_client_hello(body: &[u8], transport: JaTransport) -> Result<TlsClientHello, TlsError> {
    let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body)
        .map_err(|_| TlsError::MalformedClientHello)?;
    let legacy_version = ch.version.0;
    let ciphers: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
    let mut extensions = Vec::new();
    let mut sni = None;
    let mut alpn_raw: Vec<Vec<u8>> = Vec::new();
    let mut supported_versions: Option<Vec<u16>> = None;
    let mut groups = Vec::new();
    let mut point_formats = Vec::new();
    let mut sigalgs = Vec::new();
    for (ext_type, whole) in walk_extensions(ch.ext.unwrap_or_default()) {
        extensions.push(ext_type);
        let Ok((_, parsed)) = tls_parser::parse_tls_client_hello_extension(whole) else {
            if ext_type == EXT_SUPPORTED_VERSIONS {
                supported_versions.get_or_insert_with(Vec::new);
            }
            continue;
        };
        match parsed {
            TlsExtension::SNI(names) if sni.is_none() => {
                sni = names
                    .iter()
                    .find(|(kind, _)| kind.0 == 0)
                    .map(|(_, name)| String::from_utf8_lossy(name).into_owned());
            }
            TlsExtension::ALPN(list) if alpn_raw.is_empty() => {
                alpn_raw = list.iter().map(|p| p.to_vec()).collect();
            }
            TlsExtension::SupportedVersions(list) if supported_versions.is_none() => {
                supported_versions = Some(u16_list_from_versions(&list));
            }
            TlsExtension::EllipticCurves(list) if groups.is_empty() => {
                groups = list.iter().map(|g| g.0).collect();
            }
            TlsExtension::EcPointFormats(list) if point_formats.is_empty() => {
                point_formats = list.to_vec();
            }
            TlsExtension::SignatureAlgorithms(list) if sigalgs.is_empty() => {
                sigalgs = list;
            }
            _ => {}
        }
    }
    let ja3 = ja::ja3(
        legacy_version,
        &ciphers,
        &extensions,
        &groups,
        &point_formats,
    );
    let ja4 = ja::ja4(&ja::Ja4Input {
        transport,
        legacy_version,
        supported_versions: supported_versions.as_deref(),
        ciphers: &ciphers,
        extensions: &extensions,
        first_alpn: extensions
            .contains(&EXT_ALPN)
            .then(|| alpn_raw.first().map(Vec::as_slice).unwrap_or_default()),
        signature_algorithms: &sigalgs,
    });
    let highest = supported_versions
        .as_deref()
        .and_then(|list| list.iter().copied().filter(|v| !ja::is_grease(*v)).max());
    Ok(TlsClientHello {
        version: version_name(legacy_version),
        supported_version: highest.map(version_name),
        ciphers,
        extensions,
        sni,
        alpn: alpn_raw
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        supported_versions: supported_versions.unwrap_or_default(),
        supported_groups: groups,
        ec_point_formats: point_formats,
        signature_algorithms: sigalgs,
        ja3: ja3.text,
        ja3_hash: ja3.hash,
        ja4: ja4.fingerprint,
        ja4_r: ja4.raw,
    })
}

/// A parsed ServerHello: the event value plus what JA4S needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The event value (version, cipher, extensions, ALPN, JA3S).
    pub hello: TlsServerHello,
    /// The negotiated version number (supported_versions when present).
    pub version: u16,
    /// The raw bytes of the ALPN protocol the server chose.
    pub alpn_raw: Option<Vec<u8>>,
}

impl ServerHello {
    /// JA4S of this hello (JA4+, FoxIO License 1.1: call only when the user
    /// turned JA4+ on).
    pub fn ja4s(&self, transport: JaTransport) -> String {
        ja::ja4s(
            transport,
            self.version,
            self.hello.cipher,
            &self.hello.extensions,
            self.alpn_raw.as_deref(),
        )
    }
}

/// Parse a ServerHello handshake message body (after the 4-byte header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, TlsError> {
    let (_, sh) = tls_parser::parse_tls_handshake_server_hello(body)
        .map_err(|_| TlsError::MalformedServerHello)?;
    let mut extensions = Vec::new();
    let mut version = sh.version.0;
    let mut alpn_raw = None;
    for (ext_type, whole) in walk_extensions(sh.ext.unwrap_or_default()) {
        extensions.push(ext_type);
        match tls_parser::parse_tls_server_hello_extension(whole) {
            Ok((_, TlsExtension::SupportedVersions(list))) => {
                if let Some(v) = list.first() {
                    version = v.0;
                }
            }
            Ok((_, TlsExtension::ALPN(list))) if alpn_raw.is_none() => {
                alpn_raw = list.first().map(|p| p.to_vec());
            }
            _ => {}
        }
    }
    let cipher = sh.cipher.0;
    let ja3s = ja::ja3s(sh.version.0, cipher, &extensions);
    Ok(ServerHello {
        hello: TlsServerHello {
            version: version_name(version),
            cipher,
            cipher_name: cipher_name(cipher),
            alpn: alpn_raw
                .as_deref()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            extensions,
            ja3s: ja3s.text,
            ja3s_hash: ja3s.hash,
        },
        version,
        alpn_raw,
    })
}

/// Parse a (TLS ≤ 1.2) Certificate handshake message body into the
/// certificates it carries, leaf first. A certificate x509-parser cannot
/// read is skipped and counted in the second value.
pub fn parse_certificate(body: &[u8]) -> Result<(Vec<Certificate>, usize), TlsError> {
    let Ok((_, TlsMessageHandshake::Certificate(contents))) =
        tls_parser::parse_tls_handshake_msg_certificate(body)
    else {
        return Err(TlsError::MalformedCertificate);
    };
    let mut certs = Vec::with_capacity(contents.cert_chain.len());
    let mut bad = 0;
    for raw in &contents.cert_chain {
        match certificate_from_der(raw.data) {
            Some(cert) => certs.push(cert),
            None => bad += 1,
        }
    }
    Ok((certs, bad))
}

/// One X.509 certificate as the event records it.
pub fn certificate_from_der(der: &[u8]) -> Option<Certificate> {
    let (_, x509) = X509Certificate::from_der(der).ok()?;
    let tbs = &x509.tbs_certificate;
    let serial_number = colon_hex(tbs.raw_serial(), true);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = tbs.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        sans.push(Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        sans.push(Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Some(Certificate {
        subject: rfc4514(tbs.subject()),
        issuer: rfc4514(tbs.issuer()),
        serial_number,
        created_time: tbs.validity().not_before.timestamp().saturating_mul(1000),
        expiration_time: tbs.validity().not_after.timestamp().saturating_mul(1000),
        sans,
        fingerprint_sha1: colon_hex(&Sha1::digest(der), false),
    })
}

/// Subject and issuer of the first (leaf) certificate of a Certificate
/// message body, as Suricata's `tls.cert_subject` and `tls.cert_issuer`
/// have them: x509-parser's text, RDNs in certificate order joined with
/// ", " ("C=US, O=Let's Encrypt, CN=R3"), values unescaped. (The event's
/// [`Certificate::subject`] is RFC 4514 text, which reverses the order.)
pub fn leaf_subject_issuer(body: &[u8]) -> Option<(String, String)> {
    let Ok((_, TlsMessageHandshake::Certificate(contents))) =
        tls_parser::parse_tls_handshake_msg_certificate(body)
    else {
        return None;
    };
    let leaf = contents.cert_chain.first()?;
    let (_, x509) = X509Certificate::from_der(leaf.data).ok()?;
    let tbs = &x509.tbs_certificate;
    Some((tbs.subject().to_string(), tbs.issuer().to_string()))
}

fn colon_hex(bytes: &[u8], upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        // Writing to a String cannot fail.
        let _ = if upper {
            write!(out, "{b:02X}")
        } else {
            write!(out, "{b:02x}")
        };
    }
    out
}

/// RFC 4514 text of a distinguished name: RDNs last-to-first joined with
/// ",", multi-valued RDNs joined with "+", the RFC's short names (CN, L, ST,
/// O, OU, C, STREET, DC, UID) and dotted OIDs for the rest, special
/// characters escaped. Values that are not strings are written as `#` and
/// the hex of their content octets.
pub fn rfc4514(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for rdn in name.iter_rdn() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.3" => "CN".to_owned(),
                "2.5.4.7" => "L".to_owned(),
                "2.5.4.8" => "ST".to_owned(),
                "2.5.4.10" => "O".to_owned(),
                "2.5.4.11" => "OU".to_owned(),
                "2.5.4.6" => "C".to_owned(),
                "2.5.4.9" => "STREET".to_owned(),
                "0.9.2342.19200300.100.1.25" => "DC".to_owned(),
                "0.9.2342.19200300.100.1.1" => "UID".to_owned(),
                _ => oid,
            };
            let value = match attr_text(atv.attr_value()) {
                Some(text) => escape_rfc4514(&text),
                None => format!("#{}", hex::encode(atv.attr_value().data)),
            };
            parts.push(format!("{key}={value}"));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// The text of a directory string value, whatever its ASN.1 string type.
fn attr_text(value: &x509_parser::der_parser::asn1_rs::Any<'_>) -> Option<String> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => Some(String::from_utf8_lossy(data).into_owned()),
        // T.61 in practice carries Latin-1.
        Tag::T61String => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        Tag::UniversalString => Some(
            data.chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
        ),
        _ => None,
    }
}

fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Per-direction record and handshake reassembly state.
#[derive(Debug, Default)]
struct DirState {
    /// Bytes of a record not yet complete (at most one record).
    record: Vec<u8>,
    /// Handshake-layer bytes not yet forming a complete message.
    handshake: Vec<u8>,
    /// This direction sent ChangeCipherSpec: later handshake records are
    /// encrypted.
    ccs: bool,
    /// Nothing more can be read from this direction (gap, garbage, over
    /// the limit, or encrypted).
    stopped: bool,
    /// Some bytes of this direction were read as TLS.
    seen_records: bool,
}

/// The TLS stream parser (see the module docs).
#[derive(Debug)]
pub struct TlsParser {
    max_handshake: usize,
    ja4plus: bool,
    dirs: [DirState; 2],
    /// The direction the ClientHello travelled, once known.
    client_dir: Option<Direction>,
    client_hello: Option<TlsClientHello>,
    server_hello: Option<ServerHello>,
    certificates: Vec<Certificate>,
    /// The server's handshake got past the point where a clear-text
    /// certificate could still come.
    server_past_certificate: bool,
    /// Anomaly names (see [`TlsInfo::anomalies`]), each once.
    anomalies: Vec<&'static str>,
    first_ts: Option<Timestamp>,
    emitted: bool,
    /// The clear-text handshake is over (see [`StreamParser::encrypted`]).
    handshake_over: bool,
    /// Hello and certificate buffers for an inspector, once asked for.
    insp: Option<Box<(TxQueue, TxPoint)>>,
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::ToResponder => 0,
        Direction::ToOriginator => 1,
    }
}

impl TlsParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        Self {
            max_handshake: config.max_tls_handshake_bytes,
            ja4plus: config.ja4plus,
            dirs: Default::default(),
            client_dir: None,
            client_hello: None,
            server_hello: None,
            certificates: Vec::new(),
            server_past_certificate: false,
            anomalies: Vec::new(),
            first_ts: None,
            emitted: false,
            handshake_over: false,
            insp: None,
        }
    }

    /// Queue the ClientHello's buffers: SNI (when sent), JA3 hash and string.
    fn inspect_client_hello(&mut self, dir: Direction) {
        let (Some((queue, point)), Some(hello)) =
            (self.insp.as_deref_mut(), self.client_hello.as_ref())
        else {
            return;
        };
        if let Some(sni) = &hello.sni {
            point.set(Buffer::TlsSni, sni.as_bytes());
        }
        point.set(Buffer::Ja3Hash, hello.ja3_hash.as_bytes());
        point.set(Buffer::Ja3String, hello.ja3.as_bytes());
        queue.commit(
            point,
            TxMeta {
                dir,
                to_server: true,
            },
        );
    }

    /// Queue the leaf certificate's subject and issuer from a Certificate
    /// message body.
    fn inspect_certificate(&mut self, dir: Direction, body: &[u8]) {
        let Some((queue, point)) = self.insp.as_deref_mut() else {
            return;
        };
        let Some((subject, issuer)) = leaf_subject_issuer(body) else {
            return;
        };
        point.set(Buffer::TlsCertSubject, subject.as_bytes());
        point.set(Buffer::TlsCertIssuer, issuer.as_bytes());
        queue.commit(
            point,
            TxMeta {
                dir,
                to_server: false,
            },
        );
    }

    fn note(&mut self, anomaly: &'static str) {
        if !self.anomalies.contains(&anomaly) {
            self.anomalies.push(anomaly);
        }
    }

    fn dir(&mut self, dir: Direction) -> &mut DirState {
        // Invariant: dir_index returns 0 or 1 and `dirs` has two entries.
        &mut self.dirs[dir_index(dir)]
    }

    /// True when the handshake has told all it will in clear text.
    fn complete(&self) -> bool {
        let (Some(_), Some(sh)) = (&self.client_hello, &self.server_hello) else {
            return false;
        };
        // TLS 1.3 (and its drafts, 0x7fxx): the rest is encrypted.
        matches!(sh.version, 0x0304 | 0x7f00..=0x7fff)
            || !self.certificates.is_empty()
            || self.server_past_certificate
    }

    /// Nothing more can be learnt: both directions stopped.
    fn exhausted(&self) -> bool {
        self.dirs.iter().all(|d| d.stopped)
    }

    /// Feed bytes of `dir`; returns false when the bytes are not TLS at all
    /// (an invalid record before anything in the flow was read as TLS).
    fn feed(&mut self, dir: Direction, data: &[u8]) -> bool {
        let state = self.dir(dir);
        if state.stopped {
            return true;
        }
        state.record.extend_from_slice(data);
        let buf = std::mem::take(&mut state.record);
        let mut pos = 0;
        while let Some(&[ct, major, _minor, l0, l1]) = buf.get(pos..pos + RECORD_HEADER) {
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct)
                || major != 3
                || len > MAX_RECORD_PAYLOAD
            {
                if !self.dirs.iter().any(|d| d.seen_records) {
                    return false;
                }
                self.note("invalid_record");
                self.dir(dir).stopped = true;
                return true;
            }
            let Some(payload) = buf.get(pos + RECORD_HEADER..pos + RECORD_HEADER + len) else {
                break;
            };
            pos += RECORD_HEADER + len;
            self.dir(dir).seen_records = true;
            self.record(dir, ct, payload);
            if self.dir(dir).stopped || self.complete() {
                return true;
            }
        }
        // What is left is at most one partial record (≤ 5 + 18 KiB).
        self.dir(dir).record = buf.get(pos..).unwrap_or_default().to_vec();
        true
    }

    fn record(&mut self, dir: Direction, content_type: u8, payload: &[u8]) {
        let is_server = self.client_dir.map(Direction::reverse) == Some(dir);
        match content_type {
            CT_CHANGE_CIPHER_SPEC => {
                self.dir(dir).ccs = true;
                if is_server && self.server_hello.is_some() {
                    self.server_past_certificate = true;
                }
            }
            // Encrypted records: in TLS 1.3 the server's handshake after the
            // ServerHello (0-RTT data from a client proves nothing). Nothing
            // more in clear from the server once its hello has gone.
            CT_APPLICATION_DATA if is_server && self.server_hello.is_some() => {
                self.server_past_certificate = true;
                self.dir(dir).stopped = true;
            }
            CT_HANDSHAKE if self.dir(dir).ccs => {
                // Encrypted Finished.
                if is_server && self.server_hello.is_some() {
                    self.server_past_certificate = true;
                }
                self.dir(dir).stopped = true;
            }
            CT_HANDSHAKE => self.handshake_bytes(dir, payload),
            // Alerts, heartbeats, early data: nothing to learn.
            _ => {}
        }
    }

    fn handshake_bytes(&mut self, dir: Direction, payload: &[u8]) {
        let max = self.max_handshake;
        let state = self.dir(dir);
        if state.handshake.len().saturating_add(payload.len()) > max {
            state.stopped = true;
            state.handshake = Vec::new();
            self.note("handshake_too_large");
            tracing::debug!(limit = max, "tls handshake over the buffer limit");
            return;
        }
        state.handshake.extend_from_slice(payload);
        let buf = std::mem::take(&mut state.handshake);
        let mut pos = 0;
        while let Some(&[msg_type, l0, l1, l2]) = buf.get(pos..pos + 4) {
            let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            if len + 4 > max {
                self.note("handshake_too_large");
                self.dir(dir).stopped = true;
                return;
            }
            let Some(body) = buf.get(pos + 4..pos + 4 + len) else {
                break;
            };
            pos += 4 + len;
            self.message(dir, msg_type, body);
            if self.dir(dir).stopped || self.complete() {
                return;
            }
        }
        self.dir(dir).handshake = buf.get(pos..).unwrap_or_default().to_vec();
    }

    fn message(&mut self, dir: Direction, msg_type: u8, body: &[u8]) {
        match msg_type {
            HS_CLIENT_HELLO if self.client_hello.is_none() => {
                if self.client_dir.is_some_and(|c| c != dir) {
                    // A ClientHello from the side that sent the ServerHello.
                    self.note("client_hello_from_server");
                    return;
                }
                match parse_client_hello(body, JaTransport::Tcp) {
                    Ok(hello) => {
                        self.client_dir = Some(dir);
                        self.client_hello = Some(hello);
                        self.inspect_client_hello(dir);
                    }
                    Err(_) => {
                        self.note("malformed_client_hello");
                        self.client_dir = Some(dir);
                        self.dir(dir).stopped = true;
                    }
                }
            }
            HS_SERVER_HELLO if self.server_hello.is_none() => {
                if self.client_dir == Some(dir) {
                    self.note("server_hello_from_client");
                    return;
                }
                match parse_server_hello(body) {
                    Ok(hello) => {
                        self.client_dir = Some(dir.reverse());
                        self.server_hello = Some(hello);
                    }
                    Err(_) => {
                        self.note("malformed_server_hello");
                        self.client_dir = Some(dir.reverse());
                        self.dir(dir).stopped = true;
                    }
                }
            }
            HS_CERTIFICATE
                if self.server_hello.is_some()
                    && self.client_dir == Some(dir.reverse())
                    && self.certificates.is_empty() =>
            {
                self.inspect_certificate(dir, body);
                match parse_certificate(body) {
                    Ok((certs, bad)) => {
                        if bad > 0 {
                            self.note("malformed_certificate");
                        }
                        if certs.is_empty() {
                            self.server_past_certificate = true;
                        }
                        self.certificates = certs;
                    }
                    Err(_) => {
                        self.note("malformed_certificate");
                        self.server_past_certificate = true;
                    }
                }
            }
            HS_SERVER_KEY_EXCHANGE | HS_CERTIFICATE_REQUEST | HS_SERVER_HELLO_DONE
                if self.server_hello.is_some() && self.client_dir == Some(dir.reverse()) =>
            {
                self.server_past_certificate = true;
            }
            _ => {}
        }
    }

    /// Build the event from what was seen, once.
    fn emit(&mut self, meta: &FlowMeta, out: &mut Vec<Event>) {
        if self.emitted || (self.client_hello.is_none() && self.server_hello.is_none()) {
            return;
        }
        self.emitted = true;
        let client_dir = self.client_dir.unwrap_or(Direction::ToResponder);
        let (src, mut dst) = meta.client_server(client_dir);
        let ch = self.client_hello.take();
        let sh = self.server_hello.take();
        let sni = ch.as_ref().and_then(|c| c.sni.clone());
        if dst.hostname.is_none() {
            dst.hostname.clone_from(&sni);
        }
        let mut certs = std::mem::take(&mut self.certificates).into_iter();
        let certificate = certs.next();
        let tls = TlsInfo {
            version: sh
                .as_ref()
                .map(|s| s.hello.version.clone())
                .or_else(|| {
                    ch.as_ref()
                        .map(|c| c.supported_version.clone().unwrap_or(c.version.clone()))
                })
                .unwrap_or_default(),
            sni,
            alpn: sh
                .as_ref()
                .and_then(|s| s.hello.alpn.clone())
                .or_else(|| ch.as_ref().and_then(|c| c.alpn.first().cloned())),
            cipher: sh
                .as_ref()
                .and_then(|s| s.hello.cipher_name.clone())
                .or_else(|| sh.as_ref().map(|s| format!("0x{:04x}", s.hello.cipher))),
            ja3_hash: ch.as_ref().map(|c| c.ja3_hash.clone()),
            ja3s_hash: sh.as_ref().map(|s| s.hello.ja3s_hash.clone()),
            ja4: ch.as_ref().map(|c| c.ja4.clone()),
            ja4s: sh
                .as_ref()
                .filter(|_| self.ja4plus)
                .map(|s| s.ja4s(JaTransport::Tcp)),
            client_hello: ch,
            server_hello: sh.map(|s| s.hello),
            certificate,
            certificate_chain: certs.collect(),
            anomalies: self.anomalies.iter().map(|a| (*a).to_owned()).collect(),
        };
        let ts = self.first_ts.unwrap_or_default();
        out.push(Event::new(
            ts,
            Body::Tls(TlsActivity {
                src_endpoint: src,
                dst_endpoint: dst,
                connection_info: meta.connection_info.clone(),
                tls,
            }),
        ));
    }
}

impl StreamParser for TlsParser {
    fn data(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress {
        if self.emitted {
            return Progress::Done;
        }
        let had_hello = self.client_hello.is_some() || self.server_hello.is_some();
        if !self.feed(dir, data) {
            return Progress::Mismatch;
        }
        if !had_hello && (self.client_hello.is_some() || self.server_hello.is_some()) {
            self.first_ts = Some(ts);
        }
        // Not on `exhausted`: bytes that stopped parsing as TLS may be
        // anything, and stay inspected.
        self.handshake_over = self.complete();
        if self.handshake_over || self.exhausted() {
            self.emit(meta, out);
            return Progress::Done;
        }
        Progress::Continue
    }

    fn gap(&mut self, dir: Direction, len: u64) {
        let _ = len;
        let state = self.dir(dir);
        if state.stopped {
            return;
        }
        // Record boundaries are lost: this direction cannot be read further.
        state.stopped = true;
        state.record = Vec::new();
        state.handshake = Vec::new();
        self.note("gap");
    }

    fn end(&mut self, meta: &FlowMeta, ts: Timestamp, out: &mut Vec<Event>) {
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
        }
        self.emit(meta, out);
    }

    /// One count per flow for each anomaly ([`TlsInfo::anomalies`]), named
    /// `tls.<anomaly>`; flows with no TLS record (a gap before the hello)
    /// are counted here too.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut list: Vec<_> = self
            .anomalies
            .iter()
            .map(|a| (counter_name(a), 1))
            .collect();
        if let Some(dropped) = self.insp.as_ref().map(|i| i.0.dropped()) {
            if dropped > 0 {
                list.push(("tls.inspect_points_dropped", dropped));
            }
        }
        list
    }

    fn enable_inspection(&mut self, limits: &InspectLimits) {
        self.insp = Some(Box::new((TxQueue::new(limits), TxPoint::new())));
    }

    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        if let Some(insp) = self.insp.as_deref_mut() {
            insp.0.drain(f);
        }
    }

    fn encrypted(&self) -> bool {
        // Both hellos seen and, below TLS 1.3, the server past its
        // certificate: what is left is key exchange and encrypted records.
        self.handshake_over
    }

    fn client_direction(&self) -> Option<Direction> {
        self.client_dir
    }
}

/// The stats counter of an anomaly.
fn counter_name(anomaly: &str) -> &'static str {
    match anomaly {
        "gap" => "tls.gap",
        "handshake_too_large" => "tls.handshake_too_large",
        "invalid_record" => "tls.invalid_record",
        "malformed_client_hello" => "tls.malformed_client_hello",
        "malformed_server_hello" => "tls.malformed_server_hello",
        "malformed_certificate" => "tls.malformed_certificate",
        "client_hello_from_server" => "tls.client_hello_from_server",
        "server_hello_from_client" => "tls.server_hello_from_client",
        _ => "tls.other",
    }
}

/// The `tls` object for a ClientHello seen alone (as over QUIC, where the
/// rest of the handshake is encrypted): the summary fields from the hello,
/// the hello itself, nothing from a server.
pub fn tls_info_from_client_hello(hello: TlsClientHello) -> TlsInfo {
    TlsInfo {
        version: hello
            .supported_version
            .clone()
            .unwrap_or_else(|| hello.version.clone()),
        sni: hello.sni.clone(),
        alpn: hello.alpn.first().cloned(),
        ja3_hash: Some(hello.ja3_hash.clone()),
        ja4: Some(hello.ja4.clone()),
        client_hello: Some(hello),
        ..TlsInfo::default()
    }
}

#[cfg(test)]
mod tests;
