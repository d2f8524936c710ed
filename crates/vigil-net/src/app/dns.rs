//! DNS over UDP and TCP: messages parsed, queries paired with responses
//! within a flow, one DNS Activity record per query.
//!
//! This module owns DNS identification by content ([`looks_like_dns`],
//! [`looks_like_dns_over_tcp`]), the pure message parser
//! ([`parse_dns_message`], usable by fuzz targets) and the two flow parsers
//! ([`DnsUdpParser`], [`DnsTcpParser`]) that pair queries with responses by
//! (id, query name, query type).
//!
//! The wire format is parsed by hand rather than with `simple-dns`: its
//! `Packet::parse` is all-or-nothing (a record of an unassigned class, the
//! reserved header bit, or one malformed or snaplen-cut record loses the
//! whole message, question and rcode included), its per-record parser is
//! private, and it pre-allocates from the header's counts. Real traffic needs
//! the question and rcode even when a later record is bad, so this parser
//! reads the header and question strictly and the records leniently: it
//! keeps every record before the first one it cannot read and marks the
//! message [`DnsMessage::incomplete`]. `simple-dns` stays as a test oracle
//! (messages it builds must parse here to the same values).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use vigil_event::{Body, DnsActivity, DnsAnswer, DnsQuery, Event, Timestamp};

use super::{AppConfig, DatagramParser, Direction, FlowMeta, Progress, StreamParser};
use crate::inspect::{Buffer, InspectLimits, TxMeta, TxPoint, TxQueue, TxVisitor};

/// Fixed DNS header length.
const HEADER_LEN: usize = 12;
/// Longest name on the wire (RFC 1035 §3.1).
const MAX_NAME_WIRE: usize = 255;
/// Compression pointers followed in one name before it is called a loop.
const MAX_POINTERS: usize = 64;
/// Records kept per section; a message cannot hold more than 65535 bytes,
/// so this only matters for hostile input.
const MAX_RECORDS: usize = 512;

/// Why a DNS message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// Fewer than 12 bytes.
    #[error("dns message shorter than its 12-byte header ({0} bytes)")]
    ShortHeader(usize),
    /// A name ran past the end, looped, or was longer than 255 bytes.
    #[error("dns name at offset {0} is malformed")]
    BadName(usize),
    /// The question section ended early.
    #[error("dns question at offset {0} is truncated")]
    ShortQuestion(usize),
}

/// The DNS header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsHeader {
    /// Message id.
    pub id: u16,
    /// The 16-bit flags word as sent.
    pub flags: u16,
    /// QDCOUNT.
    pub qdcount: u16,
    /// ANCOUNT.
    pub ancount: u16,
    /// NSCOUNT.
    pub nscount: u16,
    /// ARCOUNT.
    pub arcount: u16,
}

impl DnsHeader {
    /// True for a response (QR set).
    pub const fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// The 4-bit opcode.
    pub const fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// The 4-bit header rcode (see [`DnsMessage::rcode`] for the EDNS-extended one).
    pub const fn header_rcode(&self) -> u16 {
        self.flags & 0xf
    }
    /// The set flags among qr aa tc rd ra ad cd, lower case, in that order.
    pub fn flag_names(&self) -> Vec<String> {
        const BITS: [(u16, &str); 7] = [
            (0x8000, "qr"),
            (0x0400, "aa"),
            (0x0200, "tc"),
            (0x0100, "rd"),
            (0x0080, "ra"),
            (0x0020, "ad"),
            (0x0010, "cd"),
        ];
        BITS.iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|(_, name)| (*name).to_owned())
            .collect()
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuestion {
    /// Name without the trailing dot ("." for the root).
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

/// Which section a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSection {
    /// Answer section.
    Answer,
    /// Authority section.
    Authority,
    /// Additional section.
    Additional,
}

impl DnsSection {
    /// "answer", "authority" or "additional".
    pub const fn name(self) -> &'static str {
        match self {
            DnsSection::Answer => "answer",
            DnsSection::Authority => "authority",
            DnsSection::Additional => "additional",
        }
    }
}

/// One resource record with its data rendered as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Section.
    pub section: DnsSection,
    /// Owner name without the trailing dot.
    pub name: String,
    /// TYPE.
    pub rtype: u16,
    /// CLASS (for OPT: the UDP payload size).
    pub class: u16,
    /// TTL (for OPT: extended rcode, version and flags).
    pub ttl: u32,
    /// RDATA as text, see [`format_rdata`].
    pub rdata: String,
}

/// A parsed DNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    /// The header.
    pub header: DnsHeader,
    /// The questions (all of them parsed, or the message is an error).
    pub questions: Vec<DnsQuestion>,
    /// Answer, authority and additional records in wire order, OPT included.
    pub records: Vec<DnsRecord>,
    /// True when records the header counts could not be read (truncated or
    /// malformed); `records` holds those before the first bad one.
    pub incomplete: bool,
    /// Bytes after the last counted record.
    pub trailing: usize,
}

impl DnsMessage {
    /// The rcode, extended with the upper 8 bits from an EDNS OPT record.
    pub fn rcode(&self) -> u16 {
        let ext = self
            .records
            .iter()
            .find(|r| r.rtype == 41 && r.section == DnsSection::Additional)
            .map_or(0, |opt| (opt.ttl >> 24) as u16);
        (ext << 4) | self.header.header_rcode()
    }

    /// The first question, if any.
    pub fn question(&self) -> Option<&DnsQuestion> {
        self.questions.first()
    }
}

/// Parse one DNS message (no TCP length prefix).
///
/// The header and every counted question must be present; records are
/// read until the first one that cannot be (see [`DnsMessage::incomplete`]).
pub fn parse_dns_message(msg: &[u8]) -> Result<DnsMessage, DnsError> {
    let header = parse_header(msg)?;
    let mut pos = HEADER_LEN;
    let mut questions = Vec::new();
    for _ in 0..header.qdcount {
        let (name, next) = read_name(msg, pos)?;
        let fixed = msg
            .get(next..next + 4)
            .ok_or(DnsError::ShortQuestion(next))?;
        questions.push(DnsQuestion {
            name,
            qtype: be16(fixed, 0),
            qclass: be16(fixed, 2),
        });
        pos = next + 4;
        if questions.len() >= MAX_RECORDS {
            break;
        }
    }
    let mut records = Vec::new();
    let mut incomplete = false;
    'sections: for (section, count) in [
        (DnsSection::Answer, header.ancount),
        (DnsSection::Authority, header.nscount),
        (DnsSection::Additional, header.arcount),
    ] {
        for i in 0..count {
            match read_record(msg, pos, section) {
                Some((record, next)) => {
                    pos = next;
                    if usize::from(i) < MAX_RECORDS {
                        records.push(record);
                    }
                }
                None => {
                    incomplete = true;
                    break 'sections;
                }
            }
        }
    }
    let trailing = if incomplete {
        0
    } else {
        msg.len().saturating_sub(pos)
    };
    Ok(DnsMessage {
        header,
        questions,
        records,
        incomplete,
        trailing,
    })
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b2, c, d]) => u32::from_be_bytes([a, b2, c, d]),
        _ => 0,
    }
}

fn parse_header(msg: &[u8]) -> Result<DnsHeader, DnsError> {
    if msg.len() < HEADER_LEN {
        return Err(DnsError::ShortHeader(msg.len()));
    }
    Ok(DnsHeader {
        id: be16(msg, 0),
        flags: be16(msg, 2),
        qdcount: be16(msg, 4),
        ancount: be16(msg, 6),
        nscount: be16(msg, 8),
        arcount: be16(msg, 10),
    })
}

/// Read a (possibly compressed) name at `pos`; returns it as text and the
/// offset just after it in the original position's sequence. Labels are
/// printed as dig does: `.` and `\` escaped, bytes outside printable ASCII
/// as `\DDD`. Pointers may point anywhere in the message (forward pointers
/// are malformed but harmless); loops are cut by [`MAX_POINTERS`].
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut out = String::new();
    let mut pos = start;
    let mut end = None;
    let mut jumps = 0;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::BadName(start))?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let after = end.unwrap_or(pos + 1);
                    if out.is_empty() {
                        out.push('.');
                    }
                    return Ok((out, after));
                }
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(DnsError::BadName(start))?;
                wire_len += 1 + label.len();
                if wire_len > MAX_NAME_WIRE {
                    return Err(DnsError::BadName(start));
                }
                if !out.is_empty() {
                    out.push('.');
                }
                push_label(&mut out, label);
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(DnsError::BadName(start))?;
                if end.is_none() {
                    end = Some(pos + 2);
                }
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return Err(DnsError::BadName(start));
                }
                pos = (usize::from(len & 0x3f) << 8) | usize::from(low);
            }
            // 0x40 (extended label types, RFC 6891 deprecated them) and 0x80 (reserved).
            _ => return Err(DnsError::BadName(start)),
        }
    }
}

fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

fn read_record(msg: &[u8], pos: usize, section: DnsSection) -> Option<(DnsRecord, usize)> {
    let (name, next) = read_name(msg, pos).ok()?;
    let fixed = msg.get(next..next + 10)?;
    let rtype = be16(fixed, 0);
    let class = be16(fixed, 2);
    let ttl = be32(fixed, 4);
    let rdlen = usize::from(be16(fixed, 8));
    let rdata_start = next + 10;
    let rdata_end = rdata_start + rdlen;
    if rdata_end > msg.len() {
        return None;
    }
    let rdata = format_rdata(msg, rdata_start, rdata_end, rtype);
    Some((
        DnsRecord {
            section,
            name,
            rtype,
            class,
            ttl,
            rdata,
        },
        rdata_end,
    ))
}

/// RDATA of a record of type `rtype` at `msg[start..end]` as text:
/// A and AAAA as addresses; CNAME, NS, PTR, DNAME as a name; MX as
/// "preference name"; TXT as each string in double quotes, space-separated
/// (as dig prints them); SOA as "mname rname serial refresh retry expire
/// minimum"; SRV as "priority weight port target". Any other type, and a
/// known type whose data does not parse, in RFC 3597's generic form
/// `\# length hex`. Names inside RDATA may use compression pointers into
/// `msg`, which is why the whole message is passed.
pub fn format_rdata(msg: &[u8], start: usize, end: usize, rtype: u16) -> String {
    known_rdata(msg, start, end, rtype).unwrap_or_else(|| generic_rdata(msg.get(start..end)))
}

fn generic_rdata(data: Option<&[u8]>) -> String {
    let data = data.unwrap_or_default();
    if data.is_empty() {
        "\\# 0".to_owned()
    } else {
        format!("\\# {} {}", data.len(), hex::encode(data))
    }
}

/// A name inside RDATA: it must start within the RDATA; when it is not
/// compressed it must also end within it.
fn rdata_name(msg: &[u8], pos: usize, end: usize) -> Option<(String, usize)> {
    if pos >= end {
        return None;
    }
    let (name, next) = read_name(msg, pos).ok()?;
    (next <= end).then_some((name, next))
}

fn known_rdata(msg: &[u8], start: usize, end: usize, rtype: u16) -> Option<String> {
    let data = msg.get(start..end)?;
    match rtype {
        1 => {
            let octets: [u8; 4] = data.try_into().ok()?;
            Some(Ipv4Addr::from(octets).to_string())
        }
        28 => {
            let octets: [u8; 16] = data.try_into().ok()?;
            Some(Ipv6Addr::from(octets).to_string())
        }
        // NS, CNAME, PTR, DNAME.
        2 | 5 | 12 | 39 => {
            let (name, next) = rdata_name(msg, start, end)?;
            (next == end).then_some(name)
        }
        15 => {
            let pref = be16(data, 0);
            let (name, next) = rdata_name(msg, start + 2, end)?;
            (data.len() >= 2 && next == end).then(|| format!("{pref} {name}"))
        }
        // TXT and SPF.
        16 | 99 => {
            let mut out = String::new();
            let mut pos = 0;
            while pos < data.len() {
                let len = usize::from(*data.get(pos)?);
                let s = data.get(pos + 1..pos + 1 + len)?;
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push('"');
                for &b in s {
                    match b {
                        b'"' | b'\\' => {
                            out.push('\\');
                            out.push(char::from(b));
                        }
                        0x20..=0x7e => out.push(char::from(b)),
                        _ => {
                            let _ = write!(out, "\\{b:03}");
                        }
                    }
                }
                out.push('"');
                pos += 1 + len;
            }
            Some(out)
        }
        6 => {
            let (mname, next) = rdata_name(msg, start, end)?;
            let (rname, next) = rdata_name(msg, next, end)?;
            let nums = msg.get(next..end)?;
            if nums.len() != 20 {
                return None;
            }
            Some(format!(
                "{mname} {rname} {} {} {} {} {}",
                be32(nums, 0),
                be32(nums, 4),
                be32(nums, 8),
                be32(nums, 12),
                be32(nums, 16)
            ))
        }
        33 => {
            if data.len() < 7 {
                return None;
            }
            let (target, next) = rdata_name(msg, start + 6, end)?;
            (next == end).then(|| {
                format!(
                    "{} {} {} {target}",
                    be16(data, 0),
                    be16(data, 2),
                    be16(data, 4)
                )
            })
        }
        _ => None,
    }
}

/// Mnemonic of a TYPE/QTYPE ("TYPE<n>" for those without one).
pub fn type_name(t: u16) -> String {
    let name = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return format!("TYPE{t}"),
    };
    name.to_owned()
}

/// Mnemonic of a CLASS/QCLASS ("CLASS<n>" for others). The top bit is
/// mDNS's unicast-response / cache-flush flag and is ignored here.
pub fn class_name(c: u16) -> String {
    let name = match c & 0x7fff {
        1 => "IN",
        2 => "CS",
        3 => "CH",
        4 => "HS",
        254 => "NONE",
        255 => "ANY",
        _ => return format!("CLASS{c}"),
    };
    name.to_owned()
}

/// IANA caption of an rcode ("RCODE<n>" for unassigned ones).
pub fn rcode_name(rcode: u16) -> String {
    let name = match rcode {
        0 => "NoError",
        1 => "FormErr",
        2 => "ServFail",
        3 => "NXDomain",
        4 => "NotImp",
        5 => "Refused",
        6 => "YXDomain",
        7 => "YXRRSet",
        8 => "NXRRSet",
        9 => "NotAuth",
        10 => "NotZone",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return format!("RCODE{rcode}"),
    };
    name.to_owned()
}

/// IANA caption of an opcode ("OPCODE<n>" for unassigned ones).
pub fn opcode_name(opcode: u8) -> String {
    let name = match opcode {
        0 => "Query",
        1 => "IQuery",
        2 => "Status",
        4 => "Notify",
        5 => "Update",
        6 => "DSO",
        _ => return format!("OPCODE{opcode}"),
    };
    name.to_owned()
}

/// True when `datagram` parses as a plausible DNS message.
///
/// Identification is by content: the header must be sane (opcode Query,
/// IQuery, Status, Notify or Update; the reserved Z bit clear; a query with
/// rcode 0; record counts that fit in the length), there must be exactly
/// one question (or, for a response, none and at least one answer) of a
/// known class, and every counted record must parse with at most a few
/// padding bytes after them. Random data and other protocols almost never
/// satisfy all of these at once.
pub fn looks_like_dns(datagram: &[u8]) -> bool {
    let Ok(header) = parse_header(datagram) else {
        return false;
    };
    if !matches!(header.opcode(), 0 | 1 | 2 | 4 | 5) || header.flags & 0x0040 != 0 {
        return false;
    }
    if !header.is_response() && header.header_rcode() != 0 {
        return false;
    }
    let records =
        usize::from(header.ancount) + usize::from(header.nscount) + usize::from(header.arcount);
    if HEADER_LEN + usize::from(header.qdcount) * 5 + records * 11 > datagram.len() {
        return false;
    }
    match header.qdcount {
        1 => {}
        0 if header.is_response() && header.ancount > 0 => {}
        _ => return false,
    }
    let Ok(msg) = parse_dns_message(datagram) else {
        return false;
    };
    if msg.incomplete || msg.trailing > 16 {
        return false;
    }
    msg.questions
        .iter()
        .all(|q| !class_name(q.qclass).starts_with("CLASS") && q.qtype != 0)
}

/// True when `first` starts like DNS over TCP (2-byte length, then a DNS
/// header). When the whole first message is in `first` it must pass
/// [`looks_like_dns`]; when only its start is, the header and the question
/// must be there and plausible.
pub fn looks_like_dns_over_tcp(first: &[u8]) -> bool {
    let len = usize::from(be16(first, 0));
    if first.len() < 2 || len < HEADER_LEN + 5 {
        return false;
    }
    let body = first.get(2..).unwrap_or_default();
    if let Some(msg) = body.get(..len) {
        return looks_like_dns(msg);
    }
    // Partial first message: check what there is with the declared length.
    let Ok(header) = parse_header(body) else {
        return false;
    };
    if header.qdcount != 1
        || !matches!(header.opcode(), 0 | 1 | 2 | 4 | 5)
        || header.flags & 0x0040 != 0
        || (!header.is_response() && header.header_rcode() != 0)
    {
        return false;
    }
    match read_name(body, HEADER_LEN) {
        Ok((_, next)) => body.len() >= next + 4 && next + 4 <= len,
        Err(_) => false,
    }
}

/// A query waiting for its response.
#[derive(Debug)]
struct Pending {
    id: u16,
    /// Lower-cased name, for matching (DNS names compare case-insensitively;
    /// 0x20-randomising resolvers rely on the server echoing the case).
    key_name: String,
    qtype: u16,
    /// The direction the query travelled (the client sends).
    dir: Direction,
    ts: Timestamp,
    query: DnsQuery,
    flags: Vec<String>,
}

/// Counters kept by the DNS parsers (names under the `app` stats group).
#[derive(Debug, Default, Clone)]
struct DnsCounters {
    malformed: u64,
    incomplete: u64,
    pending_evicted: u64,
    retransmitted: u64,
    unsolicited: u64,
    no_question: u64,
    tcp_gap_gave_up: u64,
    tcp_bad_length: u64,
}

impl DnsCounters {
    fn list(&self) -> Vec<(&'static str, u64)> {
        [
            ("dns.malformed", self.malformed),
            ("dns.incomplete_records", self.incomplete),
            ("dns.pending_evicted", self.pending_evicted),
            ("dns.query_retransmitted", self.retransmitted),
            ("dns.unsolicited", self.unsolicited),
            ("dns.no_question", self.no_question),
            ("dns.tcp_gap_gave_up", self.tcp_gap_gave_up),
            ("dns.tcp_bad_length", self.tcp_bad_length),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Query/response pairing shared by the UDP and TCP parsers.
#[derive(Debug)]
struct Pairing {
    pending: VecDeque<Pending>,
    max_pending: usize,
    /// Messages parsed successfully so far.
    parsed: u64,
    counters: DnsCounters,
    /// Query names for an inspector, once asked for.
    insp: Option<Box<(TxQueue, TxPoint)>>,
}

impl Pairing {
    fn new(config: &AppConfig) -> Self {
        Self {
            pending: VecDeque::new(),
            max_pending: config.max_dns_pending.max(1),
            parsed: 0,
            counters: DnsCounters::default(),
            insp: None,
        }
    }

    fn enable_inspection(&mut self, limits: &InspectLimits) {
        self.insp = Some(Box::new((TxQueue::new(limits), TxPoint::new())));
    }

    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        if let Some(insp) = self.insp.as_deref_mut() {
            insp.0.drain(f);
        }
    }

    fn list_counters(&self) -> Vec<(&'static str, u64)> {
        let mut list = self.counters.list();
        if let Some(dropped) = self.insp.as_ref().map(|i| i.0.dropped()) {
            if dropped > 0 {
                list.push(("dns.inspect_points_dropped", dropped));
            }
        }
        list
    }

    /// One whole message; returns false when it did not parse.
    fn message(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        bytes: &[u8],
        out: &mut Vec<Event>,
    ) -> bool {
        let msg = match parse_dns_message(bytes) {
            Ok(msg) => msg,
            Err(error) => {
                tracing::debug!(flow = %meta.connection_info.uid, %error, "dns message skipped");
                self.counters.malformed += 1;
                return false;
            }
        };
        self.parsed += 1;
        if msg.incomplete {
            self.counters.incomplete += 1;
        }
        if msg.header.is_response() {
            self.response(meta, dir, ts, &msg, out);
        } else {
            self.query(meta, dir, ts, &msg, out);
        }
        true
    }

    fn query(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        msg: &DnsMessage,
        out: &mut Vec<Event>,
    ) {
        let Some(q) = msg.question() else {
            self.counters.no_question += 1;
            return;
        };
        if let Some(insp) = self.insp.as_deref_mut() {
            let (queue, point) = insp;
            point.set_with(Buffer::DnsQuery, |out| query_name_bytes(&q.name, out));
            queue.commit(
                point,
                TxMeta {
                    dir,
                    to_server: true,
                },
            );
        }
        let key_name = q.name.to_ascii_lowercase();
        let id = msg.header.id;
        if self
            .pending
            .iter()
            .any(|p| p.id == id && p.qtype == q.qtype && p.dir == dir && p.key_name == key_name)
        {
            // A retransmission: the first copy's time is the query's time.
            self.counters.retransmitted += 1;
            return;
        }
        if self.pending.len() >= self.max_pending {
            if let Some(old) = self.pending.pop_front() {
                self.counters.pending_evicted += 1;
                out.push(unanswered(meta, old));
            }
        }
        self.pending.push_back(Pending {
            id,
            key_name,
            qtype: q.qtype,
            dir,
            ts,
            query: dns_query(msg, Some(q)),
            flags: msg.header.flag_names(),
        });
    }

    fn response(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        msg: &DnsMessage,
        out: &mut Vec<Event>,
    ) {
        let id = msg.header.id;
        let q = msg.question();
        let key = q.map(|q| (q.name.to_ascii_lowercase(), q.qtype));
        let found = self.pending.iter().position(|p| {
            p.id == id
                && p.dir == dir.reverse()
                && key
                    .as_ref()
                    .is_none_or(|(name, qtype)| p.key_name == *name && p.qtype == *qtype)
        });
        let rcode = msg.rcode();
        let answers = answers(msg);
        let (query, client_sends, time, rtt) = match found.and_then(|i| self.pending.remove(i)) {
            Some(p) => {
                let rtt = ts.since(p.ts) / 1_000;
                (p.query, p.dir, p.ts, Some(rtt))
            }
            None => {
                self.counters.unsolicited += 1;
                (dns_query(msg, q), dir.reverse(), ts, None)
            }
        };
        let (src, dst) = meta.client_server(client_sends);
        let record = DnsActivity {
            src_endpoint: src,
            dst_endpoint: dst,
            connection_info: meta.connection_info.clone(),
            query,
            answers,
            rcode: Some(rcode_name(rcode)),
            rcode_id: Some(rcode),
            flags: msg.header.flag_names(),
            response_time: Some(ts.millis()),
            rtt_us: rtt,
            pairing: if rtt.is_some() {
                "answered"
            } else {
                "unsolicited"
            }
            .to_owned(),
        };
        out.push(Event::new(time, Body::Dns(record)));
    }

    fn end(&mut self, meta: &FlowMeta, out: &mut Vec<Event>) {
        for p in self.pending.drain(..) {
            out.push(unanswered(meta, p));
        }
    }
}

/// The query name as Suricata's `dns.query` has it: the labels' bytes
/// joined with '.', nothing escaped (the root is empty). Undoes the
/// escaping of [`DnsQuestion::name`] (`\.`, `\\`, `\DDD`).
fn query_name_bytes(name: &str, out: &mut Vec<u8>) {
    if name == "." {
        return;
    }
    let b = name.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            let digits = b
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(u8::is_ascii_digit));
            if let Some(d) = digits {
                let v = d.iter().fold(0u32, |v, x| v * 10 + u32::from(x - b'0'));
                out.push(u8::try_from(v).unwrap_or(u8::MAX));
                i += 4;
                continue;
            }
            if let Some(&next) = b.get(i + 1) {
                out.push(next);
                i += 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
}

fn dns_query(msg: &DnsMessage, q: Option<&DnsQuestion>) -> DnsQuery {
    let opcode = msg.header.opcode();
    match q {
        Some(q) => DnsQuery {
            hostname: q.name.clone(),
            qtype: type_name(q.qtype),
            type_id: q.qtype,
            class: class_name(q.qclass),
            packet_uid: msg.header.id,
            opcode: opcode_name(opcode),
            opcode_id: opcode,
        },
        None => DnsQuery {
            packet_uid: msg.header.id,
            opcode: opcode_name(opcode),
            opcode_id: opcode,
            ..DnsQuery::default()
        },
    }
}

fn answers(msg: &DnsMessage) -> Vec<DnsAnswer> {
    msg.records
        .iter()
        .filter(|r| r.section != DnsSection::Additional)
        .map(|r| DnsAnswer {
            name: r.name.clone(),
            rtype: type_name(r.rtype),
            class: class_name(r.class),
            ttl: r.ttl,
            rdata: r.rdata.clone(),
            section: r.section.name().to_owned(),
        })
        .collect()
}

fn unanswered(meta: &FlowMeta, p: Pending) -> Event {
    let (src, dst) = meta.client_server(p.dir);
    let record = DnsActivity {
        src_endpoint: src,
        dst_endpoint: dst,
        connection_info: meta.connection_info.clone(),
        query: p.query,
        answers: Vec::new(),
        rcode: None,
        rcode_id: None,
        flags: p.flags,
        response_time: None,
        rtt_us: None,
        pairing: "unanswered".to_owned(),
    };
    Event::new(p.ts, Body::Dns(record))
}

/// DNS over UDP: one message per datagram.
#[derive(Debug)]
pub struct DnsUdpParser {
    pairing: Pairing,
}

impl DnsUdpParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        Self {
            pairing: Pairing::new(config),
        }
    }
}

impl DatagramParser for DnsUdpParser {
    fn datagram(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress {
        let ok = self.pairing.message(meta, dir, ts, data, out);
        if !ok && self.pairing.parsed == 0 {
            Progress::Mismatch
        } else {
            Progress::Continue
        }
    }

    fn end(&mut self, meta: &FlowMeta, _ts: Timestamp, out: &mut Vec<Event>) {
        self.pairing.end(meta, out);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        self.pairing.list_counters()
    }

    fn enable_inspection(&mut self, limits: &InspectLimits) {
        self.pairing.enable_inspection(limits);
    }

    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        self.pairing.drain_inspection(f);
    }
}

/// One direction of a DNS-over-TCP stream: the message being reassembled.
#[derive(Debug, Default)]
struct TcpSide {
    /// The length prefix and message bytes received so far of the current
    /// message; never more than 2 + 65535 bytes.
    buf: Vec<u8>,
    /// Timestamp of the current message's first byte.
    ts: Timestamp,
    /// A gap or a bad length: this direction is no longer parsed.
    gave_up: bool,
}

/// DNS over TCP (RFC 1035 §4.2.2: each message preceded by its 2-byte length).
#[derive(Debug)]
pub struct DnsTcpParser {
    pairing: Pairing,
    sides: [TcpSide; 2],
}

impl DnsTcpParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        Self {
            pairing: Pairing::new(config),
            sides: [TcpSide::default(), TcpSide::default()],
        }
    }
}

const fn side(dir: Direction) -> usize {
    match dir {
        Direction::ToResponder => 0,
        Direction::ToOriginator => 1,
    }
}

impl StreamParser for DnsTcpParser {
    fn data(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress {
        let s = side(dir);
        let mut rest = data;
        while !rest.is_empty() && !self.sides[s].gave_up {
            let sd = &mut self.sides[s];
            if sd.buf.is_empty() {
                sd.ts = ts;
                // Fast path: whole messages in place, no copy.
                if rest.len() >= 2 {
                    let len = usize::from(be16(rest, 0));
                    if len < HEADER_LEN {
                        sd.gave_up = true;
                        sd.buf = Vec::new();
                        self.pairing.counters.tcp_bad_length += 1;
                        break;
                    }
                    if let Some(msg) = rest.get(2..2 + len) {
                        let ok = self.pairing.message(meta, dir, ts, msg, out);
                        if !ok && self.pairing.parsed == 0 {
                            return Progress::Mismatch;
                        }
                        rest = rest.get(2 + len..).unwrap_or_default();
                        continue;
                    }
                }
            }
            // Slow path: accumulate the length prefix, then the message.
            if sd.buf.len() < 2 {
                let take = (2 - sd.buf.len()).min(rest.len());
                sd.buf
                    .extend_from_slice(rest.get(..take).unwrap_or_default());
                rest = rest.get(take..).unwrap_or_default();
                if sd.buf.len() < 2 {
                    break;
                }
            }
            let len = usize::from(be16(&sd.buf, 0));
            if len < HEADER_LEN {
                sd.gave_up = true;
                sd.buf = Vec::new();
                self.pairing.counters.tcp_bad_length += 1;
                break;
            }
            let need = 2 + len - sd.buf.len();
            let take = need.min(rest.len());
            sd.buf
                .extend_from_slice(rest.get(..take).unwrap_or_default());
            rest = rest.get(take..).unwrap_or_default();
            if sd.buf.len() == 2 + len {
                let buf = std::mem::take(&mut sd.buf);
                let msg_ts = sd.ts;
                let ok =
                    self.pairing
                        .message(meta, dir, msg_ts, buf.get(2..).unwrap_or_default(), out);
                if !ok && self.pairing.parsed == 0 {
                    return Progress::Mismatch;
                }
            }
        }
        if self.sides.iter().all(|s| s.gave_up) {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    fn gap(&mut self, dir: Direction, _len: u64) {
        // Without the length prefix there is no way back into the framing.
        let sd = &mut self.sides[side(dir)];
        if !sd.gave_up {
            sd.gave_up = true;
            sd.buf = Vec::new();
            self.pairing.counters.tcp_gap_gave_up += 1;
        }
    }

    fn end(&mut self, meta: &FlowMeta, _ts: Timestamp, out: &mut Vec<Event>) {
        self.pairing.end(meta, out);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        self.pairing.list_counters()
    }

    fn enable_inspection(&mut self, limits: &InspectLimits) {
        self.pairing.enable_inspection(limits);
    }

    fn drain_inspection(&mut self, f: &mut TxVisitor<'_>) {
        self.pairing.drain_inspection(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_name_bytes_undo_the_presentation_escapes() {
        for (name, want) in [
            ("example.com", &b"example.com"[..]),
            (".", b""),
            ("a\\.b.c", b"a.b.c"),
            ("x\\\\y", b"x\\y"),
            ("\\000\\255z", b"\x00\xffz"),
        ] {
            let mut out = Vec::new();
            query_name_bytes(name, &mut out);
            assert_eq!(out, want, "{name}");
        }
    }
    use crate::app::testutil::{fixture, meta, stream, Chunk};
    use proptest::prelude::*;

    /// dnsmasq 2.89 on 127.0.0.1:25353 (`--auth-zone=zone.test`, host, MX,
    /// TXT, SRV and CNAME records), queried by dig over UDP (streams 0-10:
    /// SOA, NS, NXDOMAIN, A, PTR, MX, TXT, AAAA with no data, TYPE99, SRV,
    /// CNAME chain; stream 100: a two-string TXT) and TCP (stream 0: a
    /// refused query; stream 1: three queries on one connection), captured
    /// with tcpdump and extracted with `tshark -e udp.payload -e tcp.payload`.
    const DNSMASQ: &str = include_str!("testdata/dnsmasq.tsv");

    fn events_udp(chunks: &[Chunk], config: &AppConfig) -> (Vec<DnsActivity>, DnsUdpParser) {
        let m = meta(25353);
        let mut p = DnsUdpParser::new(config);
        let mut out = Vec::new();
        for c in chunks {
            assert_eq!(
                p.datagram(&m, c.dir, c.ts, &c.bytes, &mut out),
                Progress::Continue
            );
        }
        p.end(&m, Timestamp::default(), &mut out);
        (dns_bodies(out), p)
    }

    fn dns_bodies(events: Vec<Event>) -> Vec<DnsActivity> {
        events
            .into_iter()
            .map(|e| match e.body {
                Body::Dns(d) => d,
                other => panic!("not dns: {other:?}"),
            })
            .collect()
    }

    fn answer_strings(d: &DnsActivity) -> Vec<String> {
        d.answers
            .iter()
            .map(|a| {
                format!(
                    "{} {} {} {} {} {}",
                    a.section, a.name, a.ttl, a.class, a.rtype, a.rdata
                )
            })
            .collect()
    }

    fn udp_record(n: u32) -> DnsActivity {
        let all = fixture(DNSMASQ);
        let (mut recs, _) = events_udp(&stream(&all, "udp", n), &AppConfig::default());
        assert_eq!(recs.len(), 1, "stream {n}");
        recs.remove(0)
    }

    #[test]
    fn every_real_message_is_detected_and_parses_fully() {
        let all = fixture(DNSMASQ);
        assert!(all.len() >= 30);
        for c in &all {
            let msg = if c.proto == "udp" {
                assert!(looks_like_dns(&c.bytes), "{}", hex::encode(&c.bytes));
                &c.bytes[..]
            } else {
                assert!(looks_like_dns_over_tcp(&c.bytes));
                &c.bytes[2..]
            };
            let parsed = parse_dns_message(msg).unwrap();
            assert!(!parsed.incomplete);
            assert_eq!(parsed.trailing, 0);
            assert_eq!(parsed.questions.len(), 1);
        }
    }

    #[test]
    fn soa_and_ns_answers_match_dig() {
        let d = udp_record(0);
        assert_eq!(d.query.hostname, "zone.test");
        assert_eq!((d.query.qtype.as_str(), d.query.type_id), ("SOA", 6));
        assert_eq!(d.query.class, "IN");
        assert_eq!(d.query.opcode, "Query");
        assert_eq!(d.rcode.as_deref(), Some("NoError"));
        assert_eq!(d.rcode_id, Some(0));
        assert_eq!(d.flags, ["qr", "aa"]);
        assert_eq!(d.pairing, "answered");
        assert_eq!(
            answer_strings(&d),
            [
                "answer zone.test 600 IN SOA ns1.zone.test hostmaster.ns1.zone.test 1795387480 1200 180 1209600 600",
                "authority zone.test 600 IN NS ns1.zone.test",
            ]
        );
    }

    #[test]
    fn nxdomain_has_the_soa_in_authority() {
        let d = udp_record(2);
        assert_eq!(d.query.hostname, "nope.zone.test");
        assert_eq!(d.rcode.as_deref(), Some("NXDomain"));
        assert_eq!(d.rcode_id, Some(3));
        assert_eq!(d.answers.len(), 1);
        assert_eq!(d.answers[0].section, "authority");
        assert_eq!(d.answers[0].rtype, "SOA");
    }

    #[test]
    fn each_record_type_renders_as_dig_prints_it() {
        let cases: [(u32, &str); 7] = [
            (3, "answer h.zone.test 600 IN A 10.9.9.9"),
            (4, "answer 9.9.9.10.in-addr.arpa 600 IN PTR h.zone.test"),
            (5, "answer zone.test 600 IN MX 10 mail.zone.test"),
            (6, "answer zone.test 600 IN TXT \"v=spf1 -all\""),
            (
                9,
                "answer _ldap._tcp.zone.test 600 IN SRV 5 7 389 h.zone.test",
            ),
            (10, "answer www.zone.test 600 IN CNAME h.zone.test"),
            (
                100,
                "answer t.zone.test 600 IN TXT \"hello world\" \"second\"",
            ),
        ];
        for (n, want) in cases {
            let d = udp_record(n);
            assert_eq!(answer_strings(&d)[0], want, "stream {n}");
        }
        // The CNAME chain continues with the target's address.
        assert_eq!(
            answer_strings(&udp_record(10))[1],
            "answer h.zone.test 600 IN A 10.9.9.9"
        );
        // An unknown query type keeps its number.
        let d = udp_record(8);
        assert_eq!((d.query.qtype.as_str(), d.query.type_id), ("SPF", 99));
    }

    #[test]
    fn rtt_and_response_time_come_from_the_two_packets() {
        let all = fixture(DNSMASQ);
        let s = stream(&all, "udp", 3);
        let d = udp_record(3);
        assert_eq!(d.rtt_us, Some(s[1].ts.since(s[0].ts) / 1000));
        assert!(d.rtt_us.unwrap() > 0);
        assert_eq!(d.response_time, Some(s[1].ts.millis()));
        assert_eq!(d.src_endpoint.port, Some(40000));
        assert_eq!(d.dst_endpoint.port, Some(25353));
    }

    #[test]
    fn client_is_the_query_sender_even_when_it_is_the_responder() {
        let all = fixture(DNSMASQ);
        let m = meta(25353);
        let mut p = DnsUdpParser::new(&AppConfig::default());
        let mut out = Vec::new();
        for c in stream(&all, "udp", 3) {
            p.datagram(&m, c.dir.reverse(), c.ts, &c.bytes, &mut out);
        }
        let d = dns_bodies(out).remove(0);
        assert_eq!(d.src_endpoint.port, Some(25353));
        assert_eq!(d.pairing, "answered");
    }

    #[test]
    fn query_alone_is_unanswered_and_response_alone_unsolicited() {
        let all = fixture(DNSMASQ);
        let s = stream(&all, "udp", 5);
        let (q, _) = events_udp(&s[..1], &AppConfig::default());
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].pairing, "unanswered");
        assert_eq!(q[0].rcode, None);
        assert_eq!(q[0].flags, ["ad"]);
        assert!(q[0].answers.is_empty());
        let (r, p) = events_udp(&s[1..], &AppConfig::default());
        assert_eq!(r[0].pairing, "unsolicited");
        assert_eq!(r[0].query.hostname, "zone.test");
        assert_eq!(r[0].answers[0].rtype, "MX");
        assert_eq!(
            r[0].src_endpoint.port,
            Some(40000),
            "the response went to the client"
        );
        assert!(p.counters().contains(&("dns.unsolicited", 1)));
    }

    #[test]
    fn pending_queries_are_bounded_and_the_oldest_written_unanswered() {
        let all = fixture(DNSMASQ);
        let queries: Vec<Chunk> = (0..5).map(|n| stream(&all, "udp", n)[0].clone()).collect();
        let config = AppConfig {
            max_dns_pending: 2,
            ..AppConfig::default()
        };
        let m = meta(25353);
        let mut p = DnsUdpParser::new(&config);
        let mut out = Vec::new();
        for q in &queries {
            p.datagram(&m, q.dir, q.ts, &q.bytes, &mut out);
        }
        // Three evicted as the 3rd, 4th and 5th queries arrived, oldest first.
        let early = dns_bodies(std::mem::take(&mut out));
        assert_eq!(
            early
                .iter()
                .map(|d| d.query.hostname.as_str())
                .collect::<Vec<_>>(),
            ["zone.test", "zone.test", "nope.zone.test"]
        );
        assert!(early.iter().all(|d| d.pairing == "unanswered"));
        assert!(p.counters().contains(&("dns.pending_evicted", 3)));
        // The last response still pairs.
        let r = &stream(&all, "udp", 4)[1];
        p.datagram(&m, r.dir, r.ts, &r.bytes, &mut out);
        assert_eq!(dns_bodies(out)[0].pairing, "answered");
    }

    #[test]
    fn retransmitted_query_pairs_once() {
        let all = fixture(DNSMASQ);
        let s = stream(&all, "udp", 3);
        let twice = vec![s[0].clone(), s[0].clone(), s[1].clone()];
        let (recs, p) = events_udp(&twice, &AppConfig::default());
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].pairing, "answered");
        assert!(p.counters().contains(&("dns.query_retransmitted", 1)));
    }

    fn tcp_records(chunks: &[Chunk]) -> Vec<DnsActivity> {
        let m = meta(25353);
        let mut p = DnsTcpParser::new(&AppConfig::default());
        let mut out = Vec::new();
        for c in chunks {
            assert_eq!(
                p.data(&m, c.dir, c.ts, &c.bytes, &mut out),
                Progress::Continue
            );
        }
        p.end(&m, Timestamp::default(), &mut out);
        dns_bodies(out)
    }

    #[test]
    fn tcp_pairs_several_queries_on_one_connection() {
        let all = fixture(DNSMASQ);
        let recs = tcp_records(&stream(&all, "tcp", 1));
        assert_eq!(
            recs.iter()
                .map(|d| (
                    d.query.hostname.as_str(),
                    d.query.qtype.as_str(),
                    d.pairing.as_str()
                ))
                .collect::<Vec<_>>(),
            [
                ("t.zone.test", "TXT", "answered"),
                ("h.zone.test", "A", "answered"),
                ("zone.test", "SOA", "answered"),
            ]
        );
        let refused = tcp_records(&stream(&all, "tcp", 0));
        assert_eq!(refused[0].rcode.as_deref(), Some("Refused"));
    }

    #[test]
    fn tcp_messages_split_at_every_byte_give_the_same_records() {
        let all = fixture(DNSMASQ);
        let s = stream(&all, "tcp", 1);
        let whole = tcp_records(&s);
        // Everything each side sent, as one byte stream per message.
        for c in &s {
            for cut in 1..c.bytes.len() {
                let mut split = Vec::new();
                for d in &s {
                    if std::ptr::eq(c, d) {
                        let (a, b) = d.bytes.split_at(cut);
                        split.push(Chunk {
                            bytes: a.to_vec(),
                            ..d.clone()
                        });
                        split.push(Chunk {
                            bytes: b.to_vec(),
                            ..d.clone()
                        });
                    } else {
                        split.push(d.clone());
                    }
                }
                assert_eq!(tcp_records(&split), whole, "cut at {cut}");
            }
        }
        // All of the client's messages in one segment, then all the server's.
        let (c, srv): (Vec<_>, Vec<_>) = s.iter().partition(|c| c.dir == Direction::ToResponder);
        let join = |v: &[&Chunk]| Chunk {
            bytes: v.iter().flat_map(|c| c.bytes.clone()).collect(),
            ..v[0].clone()
        };
        let merged = tcp_records(&[join(&c), join(&srv)]);
        assert_eq!(merged.len(), 3);
        assert!(merged.iter().all(|d| d.pairing == "answered"));
    }

    #[test]
    fn tcp_gap_gives_up_that_direction_only() {
        let all = fixture(DNSMASQ);
        let s = stream(&all, "tcp", 1);
        let m = meta(25353);
        let mut p = DnsTcpParser::new(&AppConfig::default());
        let mut out = Vec::new();
        p.data(&m, s[0].dir, s[0].ts, &s[0].bytes, &mut out);
        p.gap(Direction::ToOriginator, 100);
        for c in &s[1..] {
            p.data(&m, c.dir, c.ts, &c.bytes, &mut out);
        }
        p.end(&m, Timestamp::default(), &mut out);
        let recs = dns_bodies(out);
        assert_eq!(recs.len(), 3);
        assert!(recs.iter().all(|d| d.pairing == "unanswered"));
        assert!(p.counters().contains(&("dns.tcp_gap_gave_up", 1)));
    }

    #[test]
    fn other_protocols_are_not_dns() {
        let tls = hex::decode("16030100c4010000c00303").unwrap();
        let mut tls_full = tls.clone();
        tls_full.resize(200, 0);
        for sample in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            &tls_full,
            &[0u8; 64],
            &[0xffu8; 64],
        ] {
            assert!(!looks_like_dns(sample), "{sample:?}");
            assert!(!looks_like_dns_over_tcp(sample), "{sample:?}");
        }
    }

    #[test]
    fn random_datagrams_are_almost_never_dns() {
        // A fixed-seed xorshift: the same "random" data every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hits = 0;
        for i in 0..20_000 {
            let len = 12 + i % 500;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            hits += usize::from(looks_like_dns(&data));
        }
        assert!(hits <= 2, "{hits} random datagrams looked like DNS");
    }

    #[test]
    fn compression_loops_and_bad_labels_are_errors_not_hangs() {
        let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_dns_message(&m), Err(DnsError::BadName(12)));
        let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0x41, b'a', 0, 0, 1, 0, 1]);
        assert!(parse_dns_message(&m).is_err());
        assert_eq!(parse_dns_message(&[0; 5]), Err(DnsError::ShortHeader(5)));
    }

    #[test]
    fn truncated_response_keeps_question_rcode_and_whole_records() {
        let all = fixture(DNSMASQ);
        let full = &stream(&all, "udp", 10)[1].bytes;
        let whole = parse_dns_message(full).unwrap();
        for cut in HEADER_LEN..full.len() {
            let Ok(part) = parse_dns_message(&full[..cut]) else {
                assert!(cut < 31, "the question ends at byte 31, cut {cut}");
                continue;
            };
            assert_eq!(part.questions, whole.questions);
            assert!(part.incomplete);
            assert!(whole.records.starts_with(&part.records));
        }
    }

    #[test]
    fn unknown_types_and_bad_rdata_use_the_generic_form() {
        assert_eq!(type_name(65), "HTTPS");
        assert_eq!(type_name(4242), "TYPE4242");
        assert_eq!(class_name(0x8001), "IN");
        assert_eq!(class_name(77), "CLASS77");
        assert_eq!(rcode_name(3), "NXDomain");
        assert_eq!(rcode_name(42), "RCODE42");
        let msg = [1u8, 2, 3];
        assert_eq!(
            format_rdata(&msg, 0, 3, 1),
            "\\# 3 010203",
            "A with 3 bytes"
        );
        assert_eq!(format_rdata(&msg, 0, 3, 4242), "\\# 3 010203");
        assert_eq!(format_rdata(&msg, 0, 0, 4242), "\\# 0");
    }

    #[test]
    fn edns_extends_the_rcode() {
        // A BADVERS (16) response: header rcode 0, OPT extended rcode 1.
        let mut m = vec![0, 7, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(&[1, b'x', 0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0]);
        let msg = parse_dns_message(&m).unwrap();
        assert_eq!(msg.rcode(), 16);
        assert_eq!(rcode_name(msg.rcode()), "BADVERS");
    }

    #[test]
    fn messages_built_by_simple_dns_parse_to_the_same_values() {
        use simple_dns::rdata::{RData, A, AAAA, CNAME, MX, SOA, SRV, TXT};
        use simple_dns::{Name, Packet, Question, ResourceRecord, CLASS, TYPE};
        let name = Name::new_unchecked("www.example.com");
        let mut p = Packet::new_reply(0x1234);
        p.questions.push(Question::new(
            name.clone(),
            TYPE::A.into(),
            CLASS::IN.into(),
            false,
        ));
        let rr = |rdata| ResourceRecord::new(name.clone(), CLASS::IN, 300, rdata);
        p.answers.push(rr(RData::CNAME(CNAME(Name::new_unchecked(
            "web.example.com",
        )))));
        p.answers.push(rr(RData::A(A {
            address: 0x0a00_0001,
        })));
        p.answers.push(rr(RData::AAAA(AAAA { address: 1 })));
        p.answers.push(rr(RData::MX(MX {
            preference: 5,
            exchange: Name::new_unchecked("mx.example.com"),
        })));
        p.answers
            .push(rr(RData::TXT(TXT::new().with_string("a \"q\"").unwrap())));
        p.answers.push(rr(RData::SRV(SRV {
            priority: 1,
            weight: 2,
            port: 443,
            target: Name::new_unchecked("example.com"),
        })));
        p.name_servers.push(rr(RData::SOA(SOA {
            mname: Name::new_unchecked("ns.example.com"),
            rname: Name::new_unchecked("root.example.com"),
            serial: 7,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 4,
        })));
        let bytes = p.build_bytes_vec_compressed().unwrap();
        assert!(looks_like_dns(&bytes));
        let msg = parse_dns_message(&bytes).unwrap();
        let got: Vec<String> = msg
            .records
            .iter()
            .map(|r| format!("{} {}", type_name(r.rtype), r.rdata))
            .collect();
        assert_eq!(
            got,
            [
                "CNAME web.example.com",
                "A 10.0.0.1",
                "AAAA ::1",
                "MX 5 mx.example.com",
                "TXT \"a \\\"q\\\"\"",
                "SRV 1 2 443 example.com",
                "SOA ns.example.com root.example.com 7 1 2 3 4",
            ]
        );
        assert!(msg
            .records
            .iter()
            .all(|r| r.name == "www.example.com" && r.ttl == 300));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_dns_message(&data);
            let _ = looks_like_dns(&data);
            let _ = looks_like_dns_over_tcp(&data);
            let m = meta(53);
            let mut out = Vec::new();
            let mut u = DnsUdpParser::new(&AppConfig::default());
            u.datagram(&m, Direction::ToResponder, Timestamp::default(), &data, &mut out);
            let mut t = DnsTcpParser::new(&AppConfig::default());
            t.data(&m, Direction::ToResponder, Timestamp::default(), &data, &mut out);
            t.end(&m, Timestamp::default(), &mut out);
        }

        #[test]
        fn mutated_real_messages_never_panic(n in 0usize..30, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let all = fixture(DNSMASQ);
            let mut bytes = all[n % all.len()].bytes.clone();
            for (at, v) in flips {
                let i = at % bytes.len();
                bytes[i] = v;
            }
            let _ = parse_dns_message(&bytes);
            let _ = looks_like_dns(&bytes);
        }

        #[test]
        fn any_tcp_chunking_gives_the_same_records(cuts in proptest::collection::vec(1usize..40, 1..30)) {
            let all = fixture(DNSMASQ);
            let s = stream(&all, "tcp", 1);
            let whole = tcp_records(&s);
            let mut pieces = Vec::new();
            for c in &s {
                let mut rest = &c.bytes[..];
                let mut i = 0;
                while !rest.is_empty() {
                    let n = cuts[i % cuts.len()].min(rest.len());
                    pieces.push(Chunk { bytes: rest[..n].to_vec(), ..c.clone() });
                    rest = &rest[n..];
                    i += 1;
                }
            }
            prop_assert_eq!(tcp_records(&pieces), whole);
        }
    }
}
