//! The same facts from Vigil's events and from tshark, as sorted lines of
//! text, compared exactly. A failure lists the lines only one side has.
//!
//! Normalisations, the same on both sides: DNS names without the trailing
//! dot; IPv6 addresses in Rust's `IpAddr` text form; hex in lower case.
//! Where Vigil and tshark differ by design the function says so and what it
//! compares instead.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use vigil_event::{Body, RecordKind};

use super::tshark::{parse_num, Query, Row};
use super::vigil::Analysis;

/// The disagreements found so far. Every comparison of a test runs (one
/// failing early would hide the others); [`Report::finish`] panics with all
/// of them.
#[derive(Debug, Default)]
pub struct Report {
    failures: Vec<String>,
}

impl Report {
    /// Record whether `vigil` and `tshark` hold the same lines (order
    /// ignored: both are sorted). tshark finding nothing is a failure too:
    /// the comparison would prove nothing.
    pub fn same(&mut self, what: &str, mut vigil: Vec<String>, mut tshark: Vec<String>) {
        vigil.sort();
        tshark.sort();
        if tshark.is_empty() {
            self.failures.push(format!(
                "{what}: tshark found nothing in the capture: the traffic generation failed"
            ));
            return;
        }
        if vigil == tshark {
            return;
        }
        let mut report = format!(
            "{what}: Vigil and tshark disagree ({} vs {} records)\n",
            vigil.len(),
            tshark.len()
        );
        for line in tshark.iter().filter(|l| !vigil.contains(l)) {
            let _ = writeln!(report, "  only tshark: {line}");
        }
        for line in vigil.iter().filter(|l| !tshark.contains(l)) {
            let _ = writeln!(report, "  only Vigil:  {line}");
        }
        self.failures.push(report);
    }

    /// Panic with every disagreement, if there was any.
    pub fn finish(self) {
        assert!(self.failures.is_empty(), "\n{}", self.failures.join("\n"));
    }
}

/// `ip:port` with IPv6 in brackets.
pub fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn vigil_endpoint(e: &vigil_event::Endpoint) -> String {
    endpoint(e.ip, e.port.unwrap_or(0))
}

/// The IP source/destination of a row whose fields 0..4 are ip.src,
/// ipv6.src, ip.dst, ipv6.dst, and ports at `sport`, `dport`.
fn row_endpoints(row: &Row, sport: usize, dport: usize) -> (String, String) {
    let ip = |v4: usize, v6: usize| -> IpAddr {
        let text = if row.first(v4).is_empty() {
            row.first(v6)
        } else {
            row.first(v4)
        };
        text.parse()
            .unwrap_or_else(|_| panic!("tshark gave no address: {row:?}"))
    };
    let port = |i: usize| row.num(i).unwrap_or(0) as u16;
    (
        endpoint(ip(0, 1), port(sport)),
        endpoint(ip(2, 3), port(dport)),
    )
}

const ADDR_FIELDS: [&str; 4] = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst"];

/// tshark's view of the TCP and UDP conversations: per `tcp.stream` /
/// `udp.stream`, the originator and responder.
#[derive(Debug, Default)]
pub struct Conversations {
    /// ("tcp"|"udp", stream) → (originator, responder).
    pub ends: HashMap<(String, u64), (String, String)>,
    /// One fact line per conversation.
    pub facts: Vec<String>,
}

/// Flows: 5-tuple, originator, packets and frame bytes per direction, and
/// the Community ID, for every TCP and UDP conversation.
///
/// tshark side: per-packet fields summed per `tcp.stream`/`udp.stream`,
/// rather than `-z conv,tcp`, whose table rounds byte counts to kB. The
/// originator is the sender of the stream's first SYN without ACK, else of
/// its first packet, as Vigil defines it. By design not compared: Vigil's
/// `conn_state`/`history` (tshark has no such summary), and flows of other
/// protocols (these captures hold only TCP and UDP). tshark starts a new
/// `tcp.stream` when a 5-tuple is reused after a close, as Vigil starts a new
/// flow; these captures do not reuse ports.
pub fn tshark_conversations(file: &Path) -> Conversations {
    let mut fields = ADDR_FIELDS.to_vec();
    fields.extend([
        "tcp.srcport",   // 4
        "tcp.dstport",   // 5
        "udp.srcport",   // 6
        "udp.dstport",   // 7
        "tcp.stream",    // 8
        "udp.stream",    // 9
        "tcp.flags.syn", // 10
        "tcp.flags.ack", // 11
        "frame.len",     // 12
        "communityid",   // 13
    ]);
    let rows = Query {
        file,
        filter: Some("tcp or udp"),
        fields: &fields,
        extra: &["--enable-protocol", "communityid"],
    }
    .rows();
    #[derive(Default)]
    struct Conv {
        first: Option<(String, String)>,
        syn: Option<(String, String)>,
        per_src: BTreeMap<String, (u64, u64)>,
        community_id: String,
    }
    let mut convs: BTreeMap<(String, u64), Conv> = BTreeMap::new();
    for row in &rows {
        let (key, ends) = if let Some(stream) = row.num(8) {
            (("tcp".to_owned(), stream), row_endpoints(row, 4, 5))
        } else if let Some(stream) = row.num(9) {
            (("udp".to_owned(), stream), row_endpoints(row, 6, 7))
        } else {
            continue;
        };
        let conv = convs.entry(key).or_default();
        if conv.first.is_none() {
            conv.first = Some(ends.clone());
            conv.community_id = row.first(13).to_owned();
        }
        let syn_only = row.first(10) == "1" && row.first(11) == "0";
        if syn_only && conv.syn.is_none() {
            conv.syn = Some(ends.clone());
        }
        let counts = conv.per_src.entry(ends.0).or_default();
        counts.0 += 1;
        counts.1 += row.num(12).expect("frame.len");
    }
    let mut out = Conversations::default();
    for (key, conv) in convs {
        let (orig, resp) = conv.syn.or(conv.first).expect("a packet");
        let (po, bo) = conv.per_src.get(&orig).copied().unwrap_or_default();
        let (pi, bi) = conv.per_src.get(&resp).copied().unwrap_or_default();
        out.facts.push(format!(
            "{} {orig} -> {resp} packets {po}/{pi} bytes {bo}/{bi} {}",
            key.0, conv.community_id
        ));
        out.ends.insert(key, (orig, resp));
    }
    out
}

/// Vigil's flows as [`tshark_conversations`] facts (TCP and UDP only).
pub fn vigil_flows(analysis: &Analysis) -> Vec<String> {
    analysis
        .bodies(RecordKind::Flow)
        .filter_map(|b| match b {
            Body::Flow(f) => Some(f),
            _ => None,
        })
        .filter(|f| matches!(f.connection_info.protocol_num, 6 | 17))
        .map(|f| {
            let t = &f.traffic;
            format!(
                "{} {} -> {} packets {}/{} bytes {}/{} {}",
                f.connection_info.protocol_name,
                vigil_endpoint(&f.src_endpoint),
                vigil_endpoint(&f.dst_endpoint),
                t.packets_out,
                t.packets_in,
                t.bytes_out,
                t.bytes_in,
                f.connection_info.community_uid
            )
        })
        .collect()
}

/// Compare flows; returns tshark's conversations for the other checks.
pub fn flows(report: &mut Report, file: &Path, analysis: &Analysis) -> Conversations {
    let convs = tshark_conversations(file);
    report.same("flows", vigil_flows(analysis), convs.facts.clone());
    convs
}

/// A DNS name without its trailing dot (tshark prints the root as "<Root>").
fn dns_name(name: &str) -> String {
    if name == "<Root>" {
        return String::new();
    }
    name.strip_suffix('.').unwrap_or(name).to_owned()
}

/// The mnemonic of the record types these tests use.
fn rr_type_name(t: u64) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        41 => "OPT".into(),
        other => format!("TYPE{other}"),
    }
}

/// TXT rdata in zone-file presentation form, as Vigil writes it (and dig
/// prints it): each character-string in double quotes (with `"` and `\\`
/// escaped), space-separated, so string boundaries are not lost. tshark
/// gives the strings one by one; this renders them the same way.
pub fn txt_rdata(strings: &[String]) -> String {
    strings
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// DNS transactions: transport, client, server, id, question, rcode, the
/// response's flags, and every answer and authority record (owner, type,
/// TTL, rdata) in order.
///
/// tshark side: one row per DNS message; queries and responses paired by
/// transport, endpoints and id. tshark prints records field by field, so
/// the record list is rebuilt from the per-record fields in message order
/// (answer, authority, then additional, which Vigil does not report):
/// `dns.resp.type`/`dns.resp.len` have one value per record, per-type data
/// (`dns.a`, `dns.mx.*`, …) one per record of that type; an SRV record's
/// owner is in `dns.srv.*` instead of `dns.resp.name`, and an OPT record
/// has no TTL.
pub fn dns(report: &mut Report, file: &Path, analysis: &Analysis) {
    let mut fields = ADDR_FIELDS.to_vec();
    fields.extend([
        "udp.srcport",              // 4
        "udp.dstport",              // 5
        "tcp.srcport",              // 6
        "tcp.dstport",              // 7
        "dns.id",                   // 8
        "dns.flags.response",       // 9
        "dns.qry.name",             // 10
        "dns.qry.type",             // 11
        "dns.flags.rcode",          // 12
        "dns.count.answers",        // 13
        "dns.count.auth_rr",        // 14
        "dns.resp.name",            // 15
        "dns.resp.type",            // 16
        "dns.resp.ttl",             // 17
        "dns.resp.len",             // 18
        "dns.a",                    // 19
        "dns.aaaa",                 // 20
        "dns.cname",                // 21
        "dns.ns",                   // 22
        "dns.ptr.domain_name",      // 23
        "dns.mx.preference",        // 24
        "dns.mx.mail_exchange",     // 25
        "dns.txt",                  // 26
        "dns.txt.length",           // 27
        "dns.soa.mname",            // 28
        "dns.soa.rname",            // 29
        "dns.soa.serial_number",    // 30
        "dns.soa.refresh_interval", // 31
        "dns.soa.retry_interval",   // 32
        "dns.soa.expire_limit",     // 33
        "dns.soa.minimum_ttl",      // 34
        "dns.srv.priority",         // 35
        "dns.srv.weight",           // 36
        "dns.srv.port",             // 37
        "dns.srv.target",           // 38
        "dns.srv.name",             // 39
        "dns.flags.authoritative",  // 40
        "dns.flags.truncated",      // 41
        "dns.flags.recdesired",     // 42
        "dns.flags.recavail",       // 43
        "dns.flags.authenticated",  // 44
        "dns.flags.checkdisable",   // 45
        "dns.srv.service",          // 46
        "dns.srv.proto",            // 47
    ]);
    let rows = Query {
        file,
        filter: Some("dns"),
        fields: &fields,
        extra: &[],
    }
    .rows();
    // (transport, client, server, id) → question line; → response detail.
    let mut queries: BTreeMap<(String, String, String, u64), String> = BTreeMap::new();
    let mut responses: HashMap<(String, String, String, u64), String> = HashMap::new();
    for row in &rows {
        let (transport, (src, dst)) = if row.num(4).is_some() {
            ("udp", row_endpoints(row, 4, 5))
        } else {
            ("tcp", row_endpoints(row, 6, 7))
        };
        let id = row.num(8).expect("dns.id");
        // Several messages in one TCP segment would need splitting; dig
        // sends one query per connection.
        assert_eq!(row.all(8).len(), 1, "one DNS message per frame: {row:?}");
        let question = format!(
            "{} type {}",
            dns_name(row.first(10)),
            row.num(11).unwrap_or(0)
        );
        if row.first(9) == "0" {
            queries.insert((transport.to_owned(), src, dst, id), question);
        } else {
            let detail = format!(
                "{question} rcode {} flags [{}]{}",
                row.num(12).unwrap_or(0),
                tshark_dns_flags(row),
                tshark_dns_records(row)
            );
            responses.insert((transport.to_owned(), dst, src, id), detail);
        }
    }
    let mut tshark = Vec::new();
    for (key, question) in queries {
        let detail = responses
            .remove(&key)
            .unwrap_or_else(|| format!("{question} unanswered"));
        tshark.push(format!(
            "{} {} -> {} id {}: {detail}",
            key.0, key.1, key.2, key.3
        ));
    }
    for (key, detail) in responses {
        tshark.push(format!(
            "{} {} -> {} id {}: {detail} unsolicited",
            key.0, key.1, key.2, key.3
        ));
    }
    let vigil: Vec<String> = analysis
        .bodies(RecordKind::Dns)
        .filter_map(|b| match b {
            Body::Dns(d) => Some(d),
            _ => None,
        })
        .map(|d| {
            let q = &d.query;
            let mut line = format!(
                "{} {} -> {} id {}: {} type {}",
                d.connection_info.protocol_name,
                vigil_endpoint(&d.src_endpoint),
                vigil_endpoint(&d.dst_endpoint),
                q.packet_uid,
                dns_name(&q.hostname),
                q.type_id
            );
            match d.pairing.as_str() {
                "unanswered" => line.push_str(" unanswered"),
                pairing => {
                    let mut flags: Vec<&str> = d
                        .flags
                        .iter()
                        .map(String::as_str)
                        .filter(|f| *f != "qr")
                        .collect();
                    flags.sort_unstable();
                    let _ = write!(
                        line,
                        " rcode {} flags [{}]",
                        d.rcode_id.unwrap_or(0),
                        flags.join(" ")
                    );
                    for a in &d.answers {
                        let rdata = match a.rtype.as_str() {
                            "CNAME" | "NS" | "PTR" => dns_name(&a.rdata),
                            "MX" | "SRV" | "SOA" => a
                                .rdata
                                .split(' ')
                                .map(dns_name)
                                .collect::<Vec<_>>()
                                .join(" "),
                            _ => a.rdata.clone(),
                        };
                        let _ = write!(
                            line,
                            " | {} {} {} {} {}",
                            a.section,
                            dns_name(&a.name),
                            a.rtype,
                            a.ttl,
                            rdata
                        );
                    }
                    if pairing == "unsolicited" {
                        line.push_str(" unsolicited");
                    }
                }
            }
            line
        })
        .collect();
    report.same("dns", vigil, tshark);
}

/// The set header flags of a response except QR, sorted, as Vigil names them.
fn tshark_dns_flags(row: &Row) -> String {
    let mut flags: Vec<&str> = [
        (40, "aa"),
        (41, "tc"),
        (42, "rd"),
        (43, "ra"),
        (44, "ad"),
        (45, "cd"),
    ]
    .into_iter()
    .filter(|(i, _)| row.first(*i) == "1")
    .map(|(_, name)| name)
    .collect();
    flags.sort_unstable();
    flags.join(" ")
}

/// " | section owner TYPE ttl rdata" for every answer and authority record.
fn tshark_dns_records(row: &Row) -> String {
    let answers = row.num(13).unwrap_or(0) as usize;
    let authority = row.num(14).unwrap_or(0) as usize;
    // Per-field cursors: the next unread occurrence of each field.
    let mut cursor: HashMap<usize, usize> = HashMap::new();
    let mut take = |i: usize| -> String {
        let n = cursor.entry(i).or_insert(0);
        let value = row
            .all(i)
            .get(*n)
            .cloned()
            .unwrap_or_else(|| panic!("tshark row lacks occurrence {n} of field {i}: {row:?}"));
        *n += 1;
        value
    };
    let types = row.all(16).to_vec();
    let mut out = String::new();
    for (index, rtype) in types.iter().enumerate() {
        let rtype = parse_num(rtype).expect("dns.resp.type");
        // tshark 4.0 splits an SRV owner `_service._proto.name` in three
        // fields and leaves it out of `dns.resp.name`.
        let name = if rtype == 33 {
            let name = take(39);
            match (row.all(46).len(), row.all(47).len()) {
                (0, _) | (_, 0) => name,
                _ => format!("{}.{}.{name}", take(46), take(47)),
            }
        } else {
            take(15)
        };
        let ttl = if rtype == 41 { String::new() } else { take(17) };
        let rdlength = take(18).parse::<usize>().expect("dns.resp.len");
        let rdata = match rtype {
            1 => take(19),
            28 => take(20),
            5 => dns_name(&take(21)),
            2 => dns_name(&take(22)),
            12 => dns_name(&take(23)),
            15 => format!("{} {}", take(24), dns_name(&take(25))),
            16 => {
                // The record's strings: each is a length byte and its bytes.
                let mut strings = Vec::new();
                let mut used = 0;
                while used < rdlength {
                    let len: usize = take(27).parse().expect("dns.txt.length");
                    used += 1 + len;
                    strings.push(take(26));
                }
                txt_rdata(&strings)
            }
            6 => format!(
                "{} {} {} {} {} {} {}",
                dns_name(&take(28)),
                dns_name(&take(29)),
                take(30),
                take(31),
                take(32),
                take(33),
                take(34)
            ),
            33 => format!(
                "{} {} {} {}",
                take(35),
                take(36),
                take(37),
                dns_name(&take(38))
            ),
            _ => String::new(),
        };
        let section = if index < answers {
            "answer"
        } else if index < answers + authority {
            "authority"
        } else {
            continue;
        };
        let _ = write!(
            out,
            " | {section} {} {} {ttl} {rdata}",
            dns_name(&name),
            rr_type_name(rtype)
        );
    }
    out
}

/// Strip a `:port` suffix from a Host header value (`[::1]:8080` → `[::1]`).
fn host_without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            h
        }
        _ => host,
    }
}

/// HTTP: per connection, the requests in order (method, host, target,
/// version, user agent) and the responses in order (status, body length).
///
/// By design: the host is compared without a `:port` (OCSF's
/// `url.hostname` is a host name; tshark's `http.host` is the header
/// verbatim). tshark gives the Content-Length header where Vigil gives the
/// body length as transferred; they agree for these responses (nginx
/// sends no chunked ones) except the response to a HEAD, which announces a
/// length and has no body: there Vigil's length must be 0. Connections
/// with a request for `skip_host` are left out on both sides (the caller
/// checks them another way).
pub fn http(
    report: &mut Report,
    file: &Path,
    analysis: &Analysis,
    convs: &Conversations,
    skip_host: &str,
) {
    let rows = Query {
        file,
        filter: Some("http.request or http.response"),
        fields: &[
            "tcp.stream",                 // 0
            "http.request.method",        // 1
            "http.host",                  // 2
            "http.request.uri",           // 3
            "http.request.version",       // 4
            "http.user_agent",            // 5
            "http.response.code",         // 6
            "http.content_length_header", // 7
        ],
        // A capture of loopback on a busy machine can hold a stream's
        // segments out of order (they are queued per CPU); Vigil reassembles
        // them, and so must tshark (off by default in 4.0), or a large
        // response goes undissected.
        extra: &["-o", "tcp.reassemble_out_of_order:TRUE"],
    }
    .rows();
    // stream → (requests, responses)
    let mut streams: BTreeMap<u64, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut methods: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut skip = std::collections::BTreeSet::new();
    for row in &rows {
        let stream = row.num(0).expect("tcp.stream");
        let entry = streams.entry(stream).or_default();
        let n = row.all(1).len();
        for i in 0..n {
            let field = |f: usize| {
                let all = row.all(f);
                assert!(
                    all.len() == n,
                    "requests in one frame with different headers: {row:?}"
                );
                all[i].clone()
            };
            entry.0.push(format!(
                "{} {} {} {} ua={}",
                field(1),
                host_without_port(&field(2)),
                field(3),
                field(4),
                field(5)
            ));
            methods.entry(stream).or_default().push(field(1));
            if host_without_port(&field(2)) == skip_host {
                skip.insert(stream);
            }
        }
        for (i, code) in row.all(6).iter().enumerate() {
            let k = entry.1.len();
            let is_head = methods
                .get(&stream)
                .and_then(|m| m.get(k))
                .is_some_and(|m| m == "HEAD");
            let length = if is_head {
                "0".to_owned()
            } else {
                row.all(7).get(i).cloned().unwrap_or_else(|| "0".into())
            };
            entry.1.push(format!("{code} length {length}"));
        }
    }
    let tshark: Vec<String> = streams
        .into_iter()
        .filter(|(stream, _)| !skip.contains(stream))
        .map(|(stream, (reqs, resps))| {
            let (orig, resp) = convs
                .ends
                .get(&("tcp".to_owned(), stream))
                .cloned()
                .unwrap_or_default();
            format!(
                "{orig} -> {resp}: {} || {}",
                reqs.join(" | "),
                resps.join(" | ")
            )
        })
        .collect();
    report.same("http", vigil_http(analysis, skip_host), tshark);
}

/// Vigil's HTTP transactions in the form of [`http`], one line per
/// connection, leaving out connections with a request for `skip_host`.
pub fn vigil_http(analysis: &Analysis, skip_host: &str) -> Vec<String> {
    let mut skip = std::collections::BTreeSet::new();
    // (client, server) → [(transaction index, request, response)]
    type Transactions = Vec<(u32, String, Option<String>)>;
    let mut conns: BTreeMap<(String, String), Transactions> = BTreeMap::new();
    for body in analysis.bodies(RecordKind::Http) {
        let Body::Http(h) = body else { continue };
        let r = &h.http_request;
        let conn = (
            vigil_endpoint(&h.src_endpoint),
            vigil_endpoint(&h.dst_endpoint),
        );
        if host_without_port(r.url.hostname.as_deref().unwrap_or("")) == skip_host {
            skip.insert(conn.clone());
        }
        let req = format!(
            "{} {} {} {} ua={}",
            r.http_method,
            host_without_port(r.url.hostname.as_deref().unwrap_or("")),
            r.url.url_string,
            r.version,
            r.user_agent.as_deref().unwrap_or("")
        );
        let resp = h
            .http_response
            .as_ref()
            .map(|s| format!("{} length {}", s.code, s.length));
        conns
            .entry(conn)
            .or_default()
            .push((h.transaction, req, resp));
    }
    conns
        .into_iter()
        .filter(|(conn, _)| !skip.contains(conn))
        .map(|((src, dst), mut txs)| {
            txs.sort_by_key(|t| t.0);
            let reqs: Vec<&str> = txs.iter().map(|t| t.1.as_str()).collect();
            let resps: Vec<&str> = txs.iter().filter_map(|t| t.2.as_deref()).collect();
            format!(
                "{src} -> {dst}: {} || {}",
                reqs.join(" | "),
                resps.join(" | ")
            )
        })
        .collect()
}

/// TLS: per connection, SNI, offered ALPN list, JA3 string and hash,
/// the server's ALPN, cipher, JA3S string and hash, and the leaf
/// certificate's SANs and serial when sent in clear (TLS 1.2).
///
/// tshark 4.0 has no JA4, so JA4 is checked against the shared vectors
/// elsewhere, not here. tshark lists the SANs of every certificate in a
/// frame; the test certificate is self-signed, so the chain is the leaf.
pub fn tls(report: &mut Report, file: &Path, analysis: &Analysis, convs: &Conversations) {
    let rows = Query {
        file,
        filter: Some(
            "tls.handshake.type == 1 or tls.handshake.type == 2 or tls.handshake.type == 11",
        ),
        fields: &[
            "tcp.stream",                           // 0
            "tls.handshake.type",                   // 1
            "tls.handshake.extensions_server_name", // 2
            "tls.handshake.extensions_alpn_str",    // 3
            "tls.handshake.ja3_full",               // 4
            "tls.handshake.ja3",                    // 5
            "tls.handshake.ja3s_full",              // 6
            "tls.handshake.ja3s",                   // 7
            "tls.handshake.ciphersuite",            // 8
            "x509ce.dNSName",                       // 9
            "x509ce.IPAddress.ipv4",                // 10
            "x509ce.IPAddress.ipv6",                // 11
            "x509af.serialNumber",                  // 12
        ],
        extra: &[],
    }
    .rows();
    #[derive(Default)]
    struct Hs {
        client: Option<String>,
        server: Option<String>,
        cert: Option<String>,
    }
    let mut streams: BTreeMap<u64, Hs> = BTreeMap::new();
    for row in &rows {
        let stream = row.num(0).expect("tcp.stream");
        let hs = streams.entry(stream).or_default();
        let types = row.all(1);
        if types.iter().any(|t| t == "1") {
            hs.client = Some(format!(
                "sni={} alpn=[{}] ja3={} ja3_hash={}",
                row.first(2),
                row.all(3).join(","),
                row.first(4),
                row.first(5)
            ));
        }
        if types.iter().any(|t| t == "2") {
            hs.server = Some(format!(
                "alpn={} cipher={} ja3s={} ja3s_hash={}",
                row.first(3),
                row.num(8).unwrap_or(0),
                row.first(6),
                row.first(7)
            ));
        }
        if types.iter().any(|t| t == "11") && hs.cert.is_none() {
            let sans: Vec<String> = row
                .all(9)
                .iter()
                .chain(row.all(10))
                .chain(row.all(11))
                .cloned()
                .collect();
            hs.cert = Some(format!(
                "sans=[{}] serial={}",
                sans.join(","),
                row.first(12).to_ascii_lowercase()
            ));
        }
    }
    let tshark: Vec<String> = streams
        .into_iter()
        .map(|(stream, hs)| {
            let (orig, resp) = convs
                .ends
                .get(&("tcp".to_owned(), stream))
                .cloned()
                .unwrap_or_default();
            format!(
                "{orig} -> {resp}: client {} server {} cert {}",
                hs.client.unwrap_or_else(|| "-".into()),
                hs.server.unwrap_or_else(|| "-".into()),
                hs.cert.unwrap_or_else(|| "-".into())
            )
        })
        .collect();
    let vigil: Vec<String> = analysis
        .bodies(RecordKind::Tls)
        .filter_map(|b| match b {
            Body::Tls(t) => Some(t),
            _ => None,
        })
        .map(|t| {
            let tls = &t.tls;
            let client = tls.client_hello.as_ref().map(|c| {
                format!(
                    "sni={} alpn=[{}] ja3={} ja3_hash={}",
                    tls.sni.as_deref().unwrap_or(""),
                    c.alpn.join(","),
                    c.ja3,
                    tls.ja3_hash.as_deref().unwrap_or("")
                )
            });
            let server = tls.server_hello.as_ref().map(|s| {
                format!(
                    "alpn={} cipher={} ja3s={} ja3s_hash={}",
                    s.alpn.as_deref().unwrap_or(""),
                    s.cipher,
                    s.ja3s,
                    tls.ja3s_hash.as_deref().unwrap_or("")
                )
            });
            let cert = tls.certificate.as_ref().map(|c| {
                format!(
                    "sans=[{}] serial={}",
                    c.sans.join(","),
                    c.serial_number.replace(':', "").to_ascii_lowercase()
                )
            });
            format!(
                "{} -> {}: client {} server {} cert {}",
                vigil_endpoint(&t.src_endpoint),
                vigil_endpoint(&t.dst_endpoint),
                client.unwrap_or_else(|| "-".into()),
                server.unwrap_or_else(|| "-".into()),
                cert.unwrap_or_else(|| "-".into())
            )
        })
        .collect();
    report.same("tls", vigil, tshark);
}

/// SSH: per connection, the client's and the server's identification
/// strings. `extra` tells tshark which other ports carry SSH (tshark finds
/// SSH by port; Vigil by content).
pub fn ssh(
    report: &mut Report,
    file: &Path,
    analysis: &Analysis,
    convs: &Conversations,
    extra: &[&str],
) {
    let mut fields = ADDR_FIELDS.to_vec();
    fields.extend(["tcp.srcport", "tcp.dstport", "tcp.stream", "ssh.protocol"]);
    let rows = Query {
        file,
        filter: Some("ssh.protocol"),
        fields: &fields,
        extra,
    }
    .rows();
    let mut streams: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for row in &rows {
        let stream = row.num(6).expect("tcp.stream");
        let (src, _) = row_endpoints(row, 4, 5);
        let (orig, _) = convs
            .ends
            .get(&("tcp".to_owned(), stream))
            .cloned()
            .unwrap_or_default();
        let entry = streams.entry(stream).or_default();
        if src == orig {
            entry.0 = row.first(7).to_owned();
        } else {
            entry.1 = row.first(7).to_owned();
        }
    }
    let tshark: Vec<String> = streams
        .into_iter()
        .map(|(stream, (client, server))| {
            let (orig, resp) = convs
                .ends
                .get(&("tcp".to_owned(), stream))
                .cloned()
                .unwrap_or_default();
            format!("{orig} -> {resp}: client {client:?} server {server:?}")
        })
        .collect();
    let vigil: Vec<String> = analysis
        .bodies(RecordKind::Ssh)
        .filter_map(|b| match b {
            Body::Ssh(s) => Some(s),
            _ => None,
        })
        .map(|s| {
            format!(
                "{} -> {}: client {:?} server {:?}",
                vigil_endpoint(&s.src_endpoint),
                vigil_endpoint(&s.dst_endpoint),
                s.client_version.clone().unwrap_or_default(),
                s.server_version.clone().unwrap_or_default()
            )
        })
        .collect();
    report.same("ssh", vigil, tshark);
}
