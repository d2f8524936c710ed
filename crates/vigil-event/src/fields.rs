//! The field registry: every event field a rule may name, by its dotted path
//! in the event's JSON form (`src_endpoint.ip`, `http_request.url.path`,
//! `query.hostname`, `finding_info.analytic.uid`), with its type, the OCSF
//! classes that carry it, and an accessor that reads it from a typed
//! [`Event`] without serializing it.
//!
//! Rules resolve a name here once, when they are compiled; evaluating a rule
//! then calls the accessor directly. A name that is not here is not a field
//! of the schema ([`suggest`] finds the nearest one for the error message).
//!
//! Every leaf of the JSON form is here except the free-form maps
//! (`evidence`, `rule.metadata`, the stats `counters`). A field inside a
//! list (`answers.rdata`, `observables.value`, `tls.certificate.sans`) is
//! multi-valued: its accessor visits every value. A value that the JSON form
//! leaves out (an absent option, an empty `ja4_r`) is absent here too, so
//! `exists` means what the JSON shows. Unsigned 64-bit counters saturate at
//! `i64::MAX`. The tests check every path against complete example events
//! ([`samples`]) in both directions, so the registry cannot drift from the
//! schema.

use std::net::IpAddr;

use std::collections::BTreeMap;

use crate::event::{Body, Event, Metadata, Priority, Severity};
use crate::finding::{Analytic, Finding, FindingInfo, Remediation, RuleRef, Subject};
use crate::network::{
    Certificate, ConnectionInfo, Endpoint, FlowRecord, IcmpInfo, Reassembly, TlsActivity,
    TlsClientHello, TlsInfo, TlsServerHello, Traffic,
};
use crate::protocol::{
    DnsActivity, DnsAnswer, DnsQuery, HttpActivity, HttpRequest, HttpResponse, SshActivity, Url,
};
use crate::stats::StatsRecord;
use crate::time::Timestamp;

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text.
    Str,
    /// A whole number (counts, ports, ids, milliseconds).
    Int,
    /// An IPv4 or IPv6 address.
    Ip,
    /// True or false.
    Bool,
}

impl FieldType {
    /// The name used in error messages and `vigil rules fields`.
    pub const fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Int => "integer",
            FieldType::Ip => "ip",
            FieldType::Bool => "boolean",
        }
    }
}

/// One value of a field, borrowed from the event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(&'a str),
    /// A whole number.
    Int(i64),
    /// An address.
    Ip(IpAddr),
    /// A flag.
    Bool(bool),
}

/// How a field is read: one value (or none), or every value of a list field.
#[derive(Clone, Copy)]
pub enum Access {
    /// A field with at most one value.
    One(for<'e> fn(&'e Event) -> Option<FieldValue<'e>>),
    /// A field with any number of values (DNS answers, certificate SANs,
    /// observables); the visitor stops early when the callback returns false.
    Many(for<'e> fn(&'e Event, &mut dyn FnMut(FieldValue<'e>) -> bool)),
}

/// One field of the schema.
#[derive(Clone, Copy)]
pub struct FieldDef {
    /// The dotted path, as in the event's JSON form.
    pub name: &'static str,
    /// The type of its values.
    pub ty: FieldType,
    /// The OCSF `class_uid`s whose events can carry it; empty for fields every
    /// event has (time, severity, metadata, observables).
    pub classes: &'static [u32],
    /// One line saying what it is.
    pub doc: &'static str,
    /// The accessor.
    pub access: Access,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::One(_) => "One",
            Access::Many(_) => "Many",
        })
    }
}

impl std::fmt::Debug for FieldDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldDef")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("classes", &self.classes)
            .finish()
    }
}

impl FieldDef {
    /// True when the field can have more than one value (a field inside a list).
    pub const fn is_many(&self) -> bool {
        matches!(self.access, Access::Many(_))
    }

    /// True when events of OCSF class `class_uid` can carry the field.
    pub fn in_class(&self, class_uid: u32) -> bool {
        self.classes.is_empty() || self.classes.contains(&class_uid)
    }

    /// The first value of the field in `event`, if it has one.
    pub fn first<'e>(&self, event: &'e Event) -> Option<FieldValue<'e>> {
        match self.access {
            Access::One(get) => get(event),
            Access::Many(visit) => {
                let mut found = None;
                visit(event, &mut |v| {
                    found = Some(v);
                    false
                });
                found
            }
        }
    }

    /// Call `f` with each value of the field in `event` until it returns false.
    pub fn for_each<'e>(&self, event: &'e Event, f: &mut dyn FnMut(FieldValue<'e>) -> bool) {
        match self.access {
            Access::One(get) => {
                if let Some(v) = get(event) {
                    f(v);
                }
            }
            Access::Many(visit) => visit(event, f),
        }
    }
}

/// Every field of the schema.
pub fn all() -> &'static [FieldDef] {
    FIELDS
}

/// The field named `name`, if the schema has it.
pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name == name)
}

/// The field name nearest to `name` (an unknown name a rule used), for a
/// "did you mean" hint: the smallest edit distance relative to the length
/// (typos such as `src_endpoint.ipp`), or a field whose path ends with the
/// name given (`sni` → `tls.sni`, `url.path` → `http_request.url.path`).
/// None when nothing is close.
pub fn suggest(name: &str) -> Option<&'static str> {
    let mut best: Option<(f64, &'static str)> = None;
    for f in FIELDS {
        let mut score = strsim::normalized_damerau_levenshtein(name, f.name);
        let is_tail = !name.is_empty()
            && f.name
                .strip_suffix(name)
                .is_some_and(|head| head.ends_with('.'));
        if is_tail {
            score = score.max(0.8);
        }
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, f.name));
        }
    }
    best.filter(|(score, _)| *score >= 0.5).map(|(_, n)| n)
}

/// Fields every event has (time, severity, metadata, observables).
const ANY: &[u32] = &[];
/// Classes with endpoints and connection info: network (flows and TLS),
/// HTTP, DNS, SSH and findings (when they name a flow).
const NET: &[u32] = &[4001, 4002, 4003, 4007, 2004];
const NETWORK: &[u32] = &[4001];
const HTTP: &[u32] = &[4002];
const DNS: &[u32] = &[4003];
const SSH: &[u32] = &[4007];
const FINDING: &[u32] = &[2004];
const STATS: &[u32] = &[0];

fn s(v: &str) -> FieldValue<'_> {
    FieldValue::Str(v)
}

fn os(v: &Option<String>) -> Option<FieldValue<'_>> {
    v.as_deref().map(FieldValue::Str)
}

fn n(v: impl Into<i64>) -> FieldValue<'static> {
    FieldValue::Int(v.into())
}

/// Unsigned 64-bit counters saturate at `i64::MAX` (no real count gets there).
fn u(v: u64) -> FieldValue<'static> {
    FieldValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Visit `items` through `map` until the visitor returns false.
fn each<'e, T>(
    items: impl IntoIterator<Item = T>,
    f: &mut dyn FnMut(FieldValue<'e>) -> bool,
    map: impl Fn(T) -> FieldValue<'e>,
) {
    for item in items {
        if !f(map(item)) {
            break;
        }
    }
}

fn src_endpoint(e: &Event) -> Option<&Endpoint> {
    match &e.body {
        Body::Flow(r) => Some(&r.src_endpoint),
        Body::Dns(r) => Some(&r.src_endpoint),
        Body::Http(r) => Some(&r.src_endpoint),
        Body::Tls(r) => Some(&r.src_endpoint),
        Body::Ssh(r) => Some(&r.src_endpoint),
        Body::Finding(r) => r.src_endpoint.as_ref(),
        Body::Stats(_) => None,
    }
}

fn dst_endpoint(e: &Event) -> Option<&Endpoint> {
    match &e.body {
        Body::Flow(r) => Some(&r.dst_endpoint),
        Body::Dns(r) => Some(&r.dst_endpoint),
        Body::Http(r) => Some(&r.dst_endpoint),
        Body::Tls(r) => Some(&r.dst_endpoint),
        Body::Ssh(r) => Some(&r.dst_endpoint),
        Body::Finding(r) => r.dst_endpoint.as_ref(),
        Body::Stats(_) => None,
    }
}

fn conn(e: &Event) -> Option<&ConnectionInfo> {
    match &e.body {
        Body::Flow(r) => Some(&r.connection_info),
        Body::Dns(r) => Some(&r.connection_info),
        Body::Http(r) => Some(&r.connection_info),
        Body::Tls(r) => Some(&r.connection_info),
        Body::Ssh(r) => Some(&r.connection_info),
        Body::Finding(r) => r.connection_info.as_ref(),
        Body::Stats(_) => None,
    }
}

fn flow(e: &Event) -> Option<&FlowRecord> {
    match &e.body {
        Body::Flow(r) => Some(r),
        _ => None,
    }
}

fn tls(e: &Event) -> Option<&TlsInfo> {
    match &e.body {
        Body::Tls(r) => Some(&r.tls),
        _ => None,
    }
}

fn client_hello(e: &Event) -> Option<&TlsClientHello> {
    tls(e).and_then(|t| t.client_hello.as_ref())
}

fn server_hello(e: &Event) -> Option<&TlsServerHello> {
    tls(e).and_then(|t| t.server_hello.as_ref())
}

fn cert(e: &Event) -> Option<&Certificate> {
    tls(e).and_then(|t| t.certificate.as_ref())
}

fn chain(e: &Event) -> &[Certificate] {
    tls(e).map_or(&[], |t| t.certificate_chain.as_slice())
}

fn http(e: &Event) -> Option<&HttpActivity> {
    match &e.body {
        Body::Http(r) => Some(r),
        _ => None,
    }
}

fn response(e: &Event) -> Option<&HttpResponse> {
    http(e).and_then(|h| h.http_response.as_ref())
}

fn dns(e: &Event) -> Option<&DnsActivity> {
    match &e.body {
        Body::Dns(r) => Some(r),
        _ => None,
    }
}

fn answers(e: &Event) -> &[DnsAnswer] {
    dns(e).map_or(&[], |d| d.answers.as_slice())
}

fn ssh(e: &Event) -> Option<&SshActivity> {
    match &e.body {
        Body::Ssh(r) => Some(r),
        _ => None,
    }
}

fn finding(e: &Event) -> Option<&Finding> {
    match &e.body {
        Body::Finding(r) => Some(r),
        _ => None,
    }
}

fn rule(e: &Event) -> Option<&RuleRef> {
    finding(e).and_then(|f| f.rule.as_ref())
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Bulk => "bulk",
        Priority::Normal => "normal",
        Priority::Urgent => "urgent",
    }
}

/// A field with at most one value.
macro_rules! one {
    ($name:literal, $ty:ident, $classes:expr, $doc:literal, |$e:ident| $get:expr) => {
        FieldDef {
            name: $name,
            ty: FieldType::$ty,
            classes: $classes,
            doc: $doc,
            access: Access::One(|$e| $get),
        }
    };
}

/// A field inside a list: every value, in order.
macro_rules! many {
    ($name:literal, $ty:ident, $classes:expr, $doc:literal, |$e:ident, $f:ident| $visit:expr) => {
        FieldDef {
            name: $name,
            ty: FieldType::$ty,
            classes: $classes,
            doc: $doc,
            access: Access::Many(|$e, $f| $visit),
        }
    };
}

const FIELDS: &[FieldDef] = &[
    // Every event.
    one!(
        "time",
        Int,
        ANY,
        "event time, milliseconds since the epoch",
        |e| Some(n(e.time))
    ),
    one!(
        "time_ns",
        Int,
        ANY,
        "event time, nanoseconds since the epoch",
        |e| Some(n(e.time_ns.nanos()))
    ),
    one!(
        "class_uid",
        Int,
        ANY,
        "OCSF class id (4001 network, 4002 HTTP, 4003 DNS, 4007 SSH, 2004 finding, 0 stats)",
        |e| Some(n(e.class_uid))
    ),
    one!(
        "class_name",
        Str,
        ANY,
        "OCSF class name (\"HTTP Activity\", ...)",
        |e| Some(s(&e.class_name))
    ),
    one!(
        "category_uid",
        Int,
        ANY,
        "OCSF category id (4 network, 2 findings)",
        |e| Some(n(e.category_uid))
    ),
    one!("activity_id", Int, ANY, "OCSF activity id", |e| Some(n(
        e.activity_id
    ))),
    one!(
        "type_uid",
        Int,
        ANY,
        "OCSF type id: class_uid * 100 + activity_id",
        |e| Some(u(e.type_uid))
    ),
    one!(
        "severity_id",
        Int,
        ANY,
        "OCSF severity id (1 informational ... 5 critical, 6 fatal)",
        |e| Some(n(e.severity_id))
    ),
    one!(
        "severity",
        Str,
        ANY,
        "OCSF severity caption (\"Informational\", \"High\", ...)",
        |e| Some(s(&e.severity))
    ),
    one!(
        "priority",
        Str,
        ANY,
        "transport priority: bulk, normal, urgent",
        |e| Some(s(priority_name(e.priority)))
    ),
    one!(
        "record",
        Str,
        ANY,
        "record kind: flow, dns, http, tls, ssh, stats, finding",
        |e| Some(s(e.kind().name()))
    ),
    one!(
        "metadata.product.name",
        Str,
        ANY,
        "product that made the event (\"Vigil\")",
        |e| Some(s(&e.metadata.product.name))
    ),
    one!(
        "metadata.product.version",
        Str,
        ANY,
        "version of that product",
        |e| Some(s(&e.metadata.product.version))
    ),
    one!("metadata.version", Str, ANY, "OCSF schema version", |e| {
        Some(s(&e.metadata.version))
    }),
    one!(
        "metadata.log_name",
        Str,
        ANY,
        "the source: a capture or log file name",
        |e| os(&e.metadata.log_name)
    ),
    one!(
        "metadata.correlation_uid",
        Str,
        ANY,
        "the flow id every record of one flow shares",
        |e| os(&e.metadata.correlation_uid)
    ),
    one!("metadata.uid", Str, ANY, "the event's own id", |e| os(&e
        .metadata
        .uid)),
    many!(
        "observables.name",
        Str,
        ANY,
        "every observable's attribute path",
        |e, f| each(&e.observables, f, |o| s(&o.name))
    ),
    many!(
        "observables.type_id",
        Int,
        ANY,
        "every observable's OCSF type id (1 hostname, 2 ip, 6 url, ...)",
        |e, f| each(&e.observables, f, |o| n(o.type_id))
    ),
    many!(
        "observables.type",
        Str,
        ANY,
        "every observable's type caption",
        |e, f| each(&e.observables, f, |o| s(&o.type_name))
    ),
    many!(
        "observables.value",
        Str,
        ANY,
        "every observable's value (IPs, names, URLs, fingerprints)",
        |e, f| each(&e.observables, f, |o| s(&o.value))
    ),
    one!(
        "raw_data",
        Str,
        ANY,
        "the source record as read (a log line)",
        |e| os(&e.raw_data)
    ),
    // Endpoints and connection (flows, protocol records, findings).
    one!(
        "src_endpoint.ip",
        Ip,
        NET,
        "the client or initiator address",
        |e| src_endpoint(e).map(|p| FieldValue::Ip(p.ip))
    ),
    one!(
        "src_endpoint.port",
        Int,
        NET,
        "the client or initiator port",
        |e| src_endpoint(e).and_then(|p| p.port).map(n)
    ),
    one!(
        "src_endpoint.hostname",
        Str,
        NET,
        "the client's host name, when known",
        |e| src_endpoint(e).and_then(|p| os(&p.hostname))
    ),
    one!(
        "dst_endpoint.ip",
        Ip,
        NET,
        "the server or responder address",
        |e| dst_endpoint(e).map(|p| FieldValue::Ip(p.ip))
    ),
    one!(
        "dst_endpoint.port",
        Int,
        NET,
        "the server or responder port",
        |e| dst_endpoint(e).and_then(|p| p.port).map(n)
    ),
    one!(
        "dst_endpoint.hostname",
        Str,
        NET,
        "the server's host name (SNI, Host header), when known",
        |e| dst_endpoint(e).and_then(|p| os(&p.hostname))
    ),
    one!(
        "connection_info.uid",
        Str,
        NET,
        "Vigil's flow id (empty for log records)",
        |e| conn(e).map(|c| s(&c.uid))
    ),
    one!(
        "connection_info.community_uid",
        Str,
        NET,
        "Community ID v1 of the flow (empty when unknown)",
        |e| conn(e).map(|c| s(&c.community_uid))
    ),
    one!(
        "connection_info.protocol_num",
        Int,
        NET,
        "IANA protocol number (6 TCP, 17 UDP, 1 ICMP)",
        |e| conn(e).map(|c| n(c.protocol_num))
    ),
    one!(
        "connection_info.protocol_name",
        Str,
        NET,
        "protocol name (tcp, udp, icmp, ...)",
        |e| conn(e).map(|c| s(&c.protocol_name))
    ),
    // Flows (network activity 4001).
    one!(
        "traffic.packets_out",
        Int,
        NETWORK,
        "packets originator to responder",
        |e| flow(e).map(|r| u(r.traffic.packets_out))
    ),
    one!(
        "traffic.packets_in",
        Int,
        NETWORK,
        "packets responder to originator",
        |e| flow(e).map(|r| u(r.traffic.packets_in))
    ),
    one!(
        "traffic.bytes_out",
        Int,
        NETWORK,
        "frame bytes originator to responder",
        |e| flow(e).map(|r| u(r.traffic.bytes_out))
    ),
    one!(
        "traffic.bytes_in",
        Int,
        NETWORK,
        "frame bytes responder to originator",
        |e| flow(e).map(|r| u(r.traffic.bytes_in))
    ),
    one!("traffic.packets", Int, NETWORK, "packets both ways", |e| {
        flow(e).map(|r| u(r.traffic.packets))
    }),
    one!(
        "traffic.bytes",
        Int,
        NETWORK,
        "frame bytes both ways",
        |e| flow(e).map(|r| u(r.traffic.bytes))
    ),
    one!(
        "traffic.payload_bytes_out",
        Int,
        NETWORK,
        "transport payload bytes originator to responder",
        |e| flow(e).map(|r| u(r.traffic.payload_bytes_out))
    ),
    one!(
        "traffic.payload_bytes_in",
        Int,
        NETWORK,
        "transport payload bytes responder to originator",
        |e| flow(e).map(|r| u(r.traffic.payload_bytes_in))
    ),
    one!(
        "start_time",
        Int,
        NETWORK,
        "first packet of the flow, ms since the epoch",
        |e| flow(e).map(|r| n(r.start_time))
    ),
    one!(
        "end_time",
        Int,
        NETWORK,
        "last packet of the flow, ms since the epoch",
        |e| flow(e).map(|r| n(r.end_time))
    ),
    one!(
        "duration",
        Int,
        NETWORK,
        "flow duration in milliseconds",
        |e| flow(e).map(|r| n(r.duration))
    ),
    one!(
        "duration_us",
        Int,
        NETWORK,
        "flow duration in microseconds",
        |e| flow(e).map(|r| n(r.duration_us))
    ),
    one!(
        "app_name",
        Str,
        NETWORK,
        "application protocols identified, joined with ',' (\"http\", \"http,tls\")",
        |e| flow(e).and_then(|r| os(&r.app_name))
    ),
    one!(
        "conn_state",
        Str,
        NETWORK,
        "Zeek's conn_state (S0, SF, REJ, ...)",
        |e| flow(e).and_then(|r| os(&r.conn_state))
    ),
    one!("history", Str, NETWORK, "Zeek's history letters", |e| flow(
        e
    )
    .and_then(|r| os(&r.history))),
    one!(
        "end_reason",
        Str,
        NETWORK,
        "why the flow record was written (timeout, closed, evicted, end_of_input)",
        |e| flow(e).map(|r| s(&r.end_reason))
    ),
    one!(
        "reassembly.gaps",
        Int,
        NETWORK,
        "TCP reassembly gaps",
        |e| flow(e)
            .and_then(|r| r.reassembly.as_ref())
            .map(|r| u(r.gaps))
    ),
    one!(
        "reassembly.gap_bytes",
        Int,
        NETWORK,
        "bytes missing in reassembly gaps",
        |e| flow(e)
            .and_then(|r| r.reassembly.as_ref())
            .map(|r| u(r.gap_bytes))
    ),
    one!(
        "reassembly.retransmissions",
        Int,
        NETWORK,
        "retransmitted segments",
        |e| flow(e)
            .and_then(|r| r.reassembly.as_ref())
            .map(|r| u(r.retransmissions))
    ),
    one!(
        "reassembly.inconsistent_overlaps",
        Int,
        NETWORK,
        "overlapping segments whose bytes differed",
        |e| flow(e)
            .and_then(|r| r.reassembly.as_ref())
            .map(|r| u(r.inconsistent_overlaps))
    ),
    one!(
        "reassembly.ooo_dropped",
        Int,
        NETWORK,
        "out-of-order segments dropped (buffer full)",
        |e| flow(e)
            .and_then(|r| r.reassembly.as_ref())
            .map(|r| u(r.ooo_dropped))
    ),
    one!(
        "icmp.type",
        Int,
        NETWORK,
        "ICMP type of the first packet",
        |e| flow(e).and_then(|r| r.icmp).map(|i| n(i.icmp_type))
    ),
    one!(
        "icmp.code",
        Int,
        NETWORK,
        "ICMP code of the first packet",
        |e| flow(e).and_then(|r| r.icmp).map(|i| n(i.code))
    ),
    // TLS handshakes (network activity 4001 with a tls object).
    one!(
        "tls.version",
        Str,
        NETWORK,
        "negotiated TLS version (\"TLSv1.3\")",
        |e| tls(e).map(|t| s(&t.version))
    ),
    one!("tls.sni", Str, NETWORK, "server name indication", |e| tls(
        e
    )
    .and_then(|t| os(&t.sni))),
    one!(
        "tls.alpn",
        Str,
        NETWORK,
        "ALPN: the server's choice, else the client's first offer",
        |e| tls(e).and_then(|t| os(&t.alpn))
    ),
    one!(
        "tls.cipher",
        Str,
        NETWORK,
        "negotiated cipher suite name",
        |e| tls(e).and_then(|t| os(&t.cipher))
    ),
    one!(
        "tls.ja3_hash",
        Str,
        NETWORK,
        "JA3 hash of the ClientHello",
        |e| tls(e).and_then(|t| os(&t.ja3_hash))
    ),
    one!(
        "tls.ja3s_hash",
        Str,
        NETWORK,
        "JA3S hash of the ServerHello",
        |e| tls(e).and_then(|t| os(&t.ja3s_hash))
    ),
    one!(
        "tls.ja4",
        Str,
        NETWORK,
        "JA4 fingerprint of the ClientHello",
        |e| tls(e).and_then(|t| os(&t.ja4))
    ),
    one!(
        "tls.ja4s",
        Str,
        NETWORK,
        "JA4S fingerprint of the ServerHello (when JA4+ is on)",
        |e| tls(e).and_then(|t| os(&t.ja4s))
    ),
    one!(
        "tls.client_hello.version",
        Str,
        NETWORK,
        "legacy version the client offered",
        |e| client_hello(e).map(|c| s(&c.version))
    ),
    one!(
        "tls.client_hello.supported_version",
        Str,
        NETWORK,
        "highest version in supported_versions",
        |e| client_hello(e).and_then(|c| os(&c.supported_version))
    ),
    many!(
        "tls.client_hello.ciphers",
        Int,
        NETWORK,
        "cipher suite ids offered",
        |e, f| each(client_hello(e).map_or(&[][..], |c| &c.ciphers), f, |v| n(
            *v
        ))
    ),
    many!(
        "tls.client_hello.extensions",
        Int,
        NETWORK,
        "extension types offered",
        |e, f| each(
            client_hello(e).map_or(&[][..], |c| &c.extensions),
            f,
            |v| n(*v)
        )
    ),
    one!(
        "tls.client_hello.sni",
        Str,
        NETWORK,
        "server name from the SNI extension",
        |e| client_hello(e).and_then(|c| os(&c.sni))
    ),
    many!(
        "tls.client_hello.alpn",
        Str,
        NETWORK,
        "ALPN protocols offered",
        |e, f| each(client_hello(e).map_or(&[][..], |c| &c.alpn), f, |v| s(v))
    ),
    many!(
        "tls.client_hello.supported_versions",
        Int,
        NETWORK,
        "supported_versions as offered",
        |e, f| each(
            client_hello(e).map_or(&[][..], |c| &c.supported_versions),
            f,
            |v| n(*v)
        )
    ),
    many!(
        "tls.client_hello.supported_groups",
        Int,
        NETWORK,
        "supported_groups as offered",
        |e, f| each(
            client_hello(e).map_or(&[][..], |c| &c.supported_groups),
            f,
            |v| n(*v)
        )
    ),
    many!(
        "tls.client_hello.ec_point_formats",
        Int,
        NETWORK,
        "ec_point_formats as offered",
        |e, f| each(
            client_hello(e).map_or(&[][..], |c| &c.ec_point_formats),
            f,
            |v| n(*v)
        )
    ),
    many!(
        "tls.client_hello.signature_algorithms",
        Int,
        NETWORK,
        "signature_algorithms as offered",
        |e, f| each(
            client_hello(e).map_or(&[][..], |c| &c.signature_algorithms),
            f,
            |v| n(*v)
        )
    ),
    one!(
        "tls.client_hello.ja3",
        Str,
        NETWORK,
        "JA3 string before hashing",
        |e| client_hello(e).map(|c| s(&c.ja3))
    ),
    one!("tls.client_hello.ja3_hash", Str, NETWORK, "JA3 hash", |e| {
        client_hello(e).map(|c| s(&c.ja3_hash))
    }),
    one!(
        "tls.client_hello.ja4",
        Str,
        NETWORK,
        "JA4 fingerprint",
        |e| client_hello(e).map(|c| s(&c.ja4))
    ),
    one!(
        "tls.client_hello.ja4_r",
        Str,
        NETWORK,
        "raw JA4 (lists in clear)",
        |e| client_hello(e)
            .filter(|c| !c.ja4_r.is_empty())
            .map(|c| s(&c.ja4_r))
    ),
    one!(
        "tls.server_hello.version",
        Str,
        NETWORK,
        "version the server chose",
        |e| server_hello(e).map(|c| s(&c.version))
    ),
    one!(
        "tls.server_hello.cipher",
        Int,
        NETWORK,
        "cipher suite id the server chose",
        |e| server_hello(e).map(|c| n(c.cipher))
    ),
    one!(
        "tls.server_hello.cipher_name",
        Str,
        NETWORK,
        "that cipher suite's IANA name",
        |e| server_hello(e).and_then(|c| os(&c.cipher_name))
    ),
    one!(
        "tls.server_hello.alpn",
        Str,
        NETWORK,
        "ALPN protocol the server chose",
        |e| server_hello(e).and_then(|c| os(&c.alpn))
    ),
    many!(
        "tls.server_hello.extensions",
        Int,
        NETWORK,
        "extension types the server sent",
        |e, f| each(
            server_hello(e).map_or(&[][..], |c| &c.extensions),
            f,
            |v| n(*v)
        )
    ),
    one!(
        "tls.server_hello.ja3s",
        Str,
        NETWORK,
        "JA3S string before hashing",
        |e| server_hello(e).map(|c| s(&c.ja3s))
    ),
    one!(
        "tls.server_hello.ja3s_hash",
        Str,
        NETWORK,
        "JA3S hash",
        |e| server_hello(e).map(|c| s(&c.ja3s_hash))
    ),
    one!(
        "tls.certificate.subject",
        Str,
        NETWORK,
        "leaf certificate subject DN",
        |e| cert(e).map(|c| s(&c.subject))
    ),
    one!(
        "tls.certificate.issuer",
        Str,
        NETWORK,
        "leaf certificate issuer DN",
        |e| cert(e).map(|c| s(&c.issuer))
    ),
    one!(
        "tls.certificate.serial_number",
        Str,
        NETWORK,
        "leaf certificate serial (hex with colons)",
        |e| cert(e).map(|c| s(&c.serial_number))
    ),
    one!(
        "tls.certificate.created_time",
        Int,
        NETWORK,
        "leaf certificate not-before, ms since the epoch",
        |e| cert(e).map(|c| n(c.created_time))
    ),
    one!(
        "tls.certificate.expiration_time",
        Int,
        NETWORK,
        "leaf certificate not-after, ms since the epoch",
        |e| cert(e).map(|c| n(c.expiration_time))
    ),
    many!(
        "tls.certificate.sans",
        Str,
        NETWORK,
        "leaf certificate subject alternative names",
        |e, f| each(cert(e).map_or(&[][..], |c| &c.sans), f, |v| s(v))
    ),
    one!(
        "tls.certificate.fingerprint_sha1",
        Str,
        NETWORK,
        "leaf certificate SHA-1 fingerprint",
        |e| cert(e).map(|c| s(&c.fingerprint_sha1))
    ),
    many!(
        "tls.certificate_chain.subject",
        Str,
        NETWORK,
        "subject DN of each chain certificate (leaf excluded)",
        |e, f| each(chain(e), f, |c| s(&c.subject))
    ),
    many!(
        "tls.certificate_chain.issuer",
        Str,
        NETWORK,
        "issuer DN of each chain certificate",
        |e, f| each(chain(e), f, |c| s(&c.issuer))
    ),
    many!(
        "tls.certificate_chain.serial_number",
        Str,
        NETWORK,
        "serial of each chain certificate",
        |e, f| each(chain(e), f, |c| s(&c.serial_number))
    ),
    many!(
        "tls.certificate_chain.created_time",
        Int,
        NETWORK,
        "not-before of each chain certificate",
        |e, f| each(chain(e), f, |c| n(c.created_time))
    ),
    many!(
        "tls.certificate_chain.expiration_time",
        Int,
        NETWORK,
        "not-after of each chain certificate",
        |e, f| each(chain(e), f, |c| n(c.expiration_time))
    ),
    many!(
        "tls.certificate_chain.sans",
        Str,
        NETWORK,
        "subject alternative names of the chain certificates",
        |e, f| each(chain(e).iter().flat_map(|c| &c.sans), f, |v| s(v))
    ),
    many!(
        "tls.certificate_chain.fingerprint_sha1",
        Str,
        NETWORK,
        "SHA-1 fingerprint of each chain certificate",
        |e, f| each(chain(e), f, |c| s(&c.fingerprint_sha1))
    ),
    many!(
        "tls.anomalies",
        Str,
        NETWORK,
        "why parts of the handshake could not be read (gap, ...)",
        |e, f| each(tls(e).map_or(&[][..], |t| &t.anomalies), f, |v| s(v))
    ),
    // HTTP (4002).
    one!(
        "http_request.http_method",
        Str,
        HTTP,
        "request method as sent",
        |e| http(e).map(|h| s(&h.http_request.http_method))
    ),
    one!(
        "http_request.url.hostname",
        Str,
        HTTP,
        "host from the absolute URI or the Host header",
        |e| http(e).and_then(|h| os(&h.http_request.url.hostname))
    ),
    one!(
        "http_request.url.port",
        Int,
        HTTP,
        "port given with that host",
        |e| http(e).and_then(|h| h.http_request.url.port).map(n)
    ),
    one!(
        "http_request.url.path",
        Str,
        HTTP,
        "the request path, without the query",
        |e| http(e).map(|h| s(&h.http_request.url.path))
    ),
    one!(
        "http_request.url.query_string",
        Str,
        HTTP,
        "the query string, without the '?'",
        |e| http(e).and_then(|h| os(&h.http_request.url.query_string))
    ),
    one!(
        "http_request.url.url_string",
        Str,
        HTTP,
        "the request target exactly as sent",
        |e| http(e).map(|h| s(&h.http_request.url.url_string))
    ),
    one!(
        "http_request.version",
        Str,
        HTTP,
        "HTTP version (\"HTTP/1.1\")",
        |e| http(e).map(|h| s(&h.http_request.version))
    ),
    one!(
        "http_request.user_agent",
        Str,
        HTTP,
        "User-Agent header",
        |e| http(e).and_then(|h| os(&h.http_request.user_agent))
    ),
    one!("http_request.referrer", Str, HTTP, "Referer header", |e| {
        http(e).and_then(|h| os(&h.http_request.referrer))
    }),
    one!(
        "http_request.body_length",
        Int,
        HTTP,
        "request body length in bytes",
        |e| http(e).map(|h| u(h.http_request.body_length))
    ),
    one!(
        "http_response.code",
        Int,
        HTTP,
        "response status code",
        |e| response(e).map(|r| n(r.code))
    ),
    one!(
        "http_response.message",
        Str,
        HTTP,
        "response reason phrase",
        |e| response(e).and_then(|r| os(&r.message))
    ),
    one!(
        "http_response.content_type",
        Str,
        HTTP,
        "response Content-Type",
        |e| response(e).and_then(|r| os(&r.content_type))
    ),
    one!(
        "http_response.length",
        Int,
        HTTP,
        "response body length in bytes",
        |e| response(e).map(|r| u(r.length))
    ),
    one!(
        "transaction",
        Int,
        HTTP,
        "index of the transaction on its connection, from 0",
        |e| http(e).map(|h| n(h.transaction))
    ),
    // DNS (4003).
    one!(
        "query.hostname",
        Str,
        DNS,
        "the name queried, without the trailing dot",
        |e| dns(e).map(|d| s(&d.query.hostname))
    ),
    one!(
        "query.type",
        Str,
        DNS,
        "query type mnemonic (A, AAAA, TXT, ...)",
        |e| dns(e).map(|d| s(&d.query.qtype))
    ),
    one!("query.type_id", Int, DNS, "query type number", |e| dns(e)
        .map(|d| n(d.query.type_id))),
    one!(
        "query.class",
        Str,
        DNS,
        "query class mnemonic (IN, ...)",
        |e| dns(e).map(|d| s(&d.query.class))
    ),
    one!("query.packet_uid", Int, DNS, "DNS message id", |e| dns(e)
        .map(|d| n(d.query.packet_uid))),
    one!(
        "query.opcode",
        Str,
        DNS,
        "opcode caption (Query, Notify, Update, ...)",
        |e| dns(e).map(|d| s(&d.query.opcode))
    ),
    one!("query.opcode_id", Int, DNS, "opcode number", |e| dns(e)
        .map(|d| n(d.query.opcode_id))),
    many!(
        "answers.name",
        Str,
        DNS,
        "owner name of each answer record",
        |e, f| each(answers(e), f, |a| s(&a.name))
    ),
    many!(
        "answers.type",
        Str,
        DNS,
        "type mnemonic of each answer record",
        |e, f| each(answers(e), f, |a| s(&a.rtype))
    ),
    many!(
        "answers.class",
        Str,
        DNS,
        "class mnemonic of each answer record",
        |e, f| each(answers(e), f, |a| s(&a.class))
    ),
    many!(
        "answers.ttl",
        Int,
        DNS,
        "TTL of each answer record, seconds",
        |e, f| each(answers(e), f, |a| n(a.ttl))
    ),
    many!(
        "answers.rdata",
        Str,
        DNS,
        "data of each answer record as text (an address, a name, ...)",
        |e, f| each(answers(e), f, |a| s(&a.rdata))
    ),
    many!(
        "answers.section",
        Str,
        DNS,
        "section of each answer record (answer, authority)",
        |e, f| each(answers(e), f, |a| s(&a.section))
    ),
    one!(
        "rcode",
        Str,
        DNS,
        "response code caption (NoError, NXDomain, ...)",
        |e| dns(e).and_then(|d| os(&d.rcode))
    ),
    one!("rcode_id", Int, DNS, "response code number", |e| dns(e)
        .and_then(|d| d.rcode_id)
        .map(n)),
    many!(
        "flags",
        Str,
        DNS,
        "header flags (qr, aa, tc, rd, ra, ad, cd)",
        |e, f| each(dns(e).map_or(&[][..], |d| &d.flags), f, |v| s(v))
    ),
    one!(
        "response_time",
        Int,
        DNS,
        "time of the response, ms since the epoch",
        |e| dns(e).and_then(|d| d.response_time).map(n)
    ),
    one!(
        "rtt_us",
        Int,
        DNS,
        "microseconds from query to response",
        |e| dns(e).and_then(|d| d.rtt_us).map(n)
    ),
    one!(
        "pairing",
        Str,
        DNS,
        "answered, unanswered or unsolicited",
        |e| dns(e).map(|d| s(&d.pairing))
    ),
    // SSH (4007).
    one!(
        "client_version",
        Str,
        SSH,
        "the client's identification string",
        |e| ssh(e).and_then(|r| os(&r.client_version))
    ),
    one!(
        "server_version",
        Str,
        SSH,
        "the server's identification string",
        |e| ssh(e).and_then(|r| os(&r.server_version))
    ),
    // Stats (0).
    many!("inputs", Str, STATS, "the inputs a run read", |e, f| each(
        match &e.body {
            Body::Stats(r) => r.inputs.as_slice(),
            _ => &[],
        },
        f,
        |v| s(v)
    )),
    // Findings (2004).
    one!("finding_info.uid", Str, FINDING, "the finding's id", |e| {
        finding(e).map(|r| s(&r.finding_info.uid))
    }),
    one!(
        "finding_info.title",
        Str,
        FINDING,
        "one-line title (a rule's msg or title)",
        |e| finding(e).map(|r| s(&r.finding_info.title))
    ),
    one!(
        "finding_info.desc",
        Str,
        FINDING,
        "what was seen, in plain words",
        |e| finding(e).and_then(|r| os(&r.finding_info.desc))
    ),
    many!(
        "finding_info.types",
        Str,
        FINDING,
        "finding types (signature, anomaly, ...)",
        |e, f| each(
            finding(e).map_or(&[][..], |r| &r.finding_info.types),
            f,
            |v| s(v)
        )
    ),
    one!(
        "finding_info.analytic.uid",
        Str,
        FINDING,
        "id of the detector or rule (sig:2013028, anomaly:port_scan_vertical, ...)",
        |e| finding(e).map(|r| s(&r.finding_info.analytic.uid))
    ),
    one!(
        "finding_info.analytic.name",
        Str,
        FINDING,
        "name of the detector or rule",
        |e| finding(e).map(|r| s(&r.finding_info.analytic.name))
    ),
    one!(
        "finding_info.analytic.type_id",
        Int,
        FINDING,
        "analytic type (1 rule, 2 behavioral, 3 statistical)",
        |e| finding(e).map(|r| n(r.finding_info.analytic.type_id))
    ),
    one!(
        "finding_info.analytic.type",
        Str,
        FINDING,
        "analytic type caption",
        |e| finding(e).map(|r| s(&r.finding_info.analytic.type_name))
    ),
    one!(
        "finding_info.analytic.category",
        Str,
        FINDING,
        "the rule's classtype or the anomaly family",
        |e| finding(e).and_then(|r| os(&r.finding_info.analytic.category))
    ),
    one!(
        "finding_info.first_seen_time",
        Int,
        FINDING,
        "first evidence, ms since the epoch",
        |e| finding(e)
            .and_then(|r| r.finding_info.first_seen_time)
            .map(n)
    ),
    one!(
        "finding_info.last_seen_time",
        Int,
        FINDING,
        "last evidence, ms since the epoch",
        |e| finding(e)
            .and_then(|r| r.finding_info.last_seen_time)
            .map(n)
    ),
    one!(
        "subject.kind",
        Str,
        FINDING,
        "what the finding is about: host, flow, client, process, service",
        |e| finding(e).map(|r| s(&r.subject.kind))
    ),
    one!(
        "subject.value",
        Str,
        FINDING,
        "the host's IP, the flow's uid, the client's key, ...",
        |e| finding(e).map(|r| s(&r.subject.value))
    ),
    one!("rule.gid", Int, FINDING, "signature generator id", |e| {
        rule(e).map(|r| n(r.gid))
    }),
    one!("rule.sid", Int, FINDING, "signature id", |e| rule(e)
        .map(|r| n(r.sid))),
    one!("rule.rev", Int, FINDING, "signature revision", |e| rule(e)
        .map(|r| n(r.rev))),
    one!("rule.msg", Str, FINDING, "signature msg", |e| rule(e)
        .map(|r| s(&r.msg))),
    one!("rule.classtype", Str, FINDING, "signature classtype", |e| {
        rule(e).and_then(|r| os(&r.classtype))
    }),
    one!(
        "rule.action",
        Str,
        FINDING,
        "signature action (alert, drop, ...)",
        |e| rule(e).map(|r| s(&r.action))
    ),
    many!(
        "rule.references",
        Str,
        FINDING,
        "signature references (\"type,value\")",
        |e, f| each(rule(e).map_or(&[][..], |r| &r.references), f, |v| s(v))
    ),
    one!(
        "rule.source",
        Str,
        FINDING,
        "file and line of the signature",
        |e| rule(e).and_then(|r| os(&r.source))
    ),
    one!(
        "risk_score",
        Int,
        FINDING,
        "risk score of the subject after this finding (0-100)",
        |e| finding(e).and_then(|r| r.risk_score).map(n)
    ),
    one!(
        "risk_level",
        Str,
        FINDING,
        "risk level caption (Low, Medium, High, Critical)",
        |e| finding(e).and_then(|r| os(&r.risk_level))
    ),
    one!(
        "remediation.desc",
        Str,
        FINDING,
        "recommended defence",
        |e| finding(e)
            .and_then(|r| r.remediation.as_ref())
            .map(|r| s(&r.desc))
    ),
    one!(
        "remediation.self_check",
        Str,
        FINDING,
        "recommended self-check",
        |e| finding(e)
            .and_then(|r| r.remediation.as_ref())
            .and_then(|r| os(&r.self_check))
    ),
    one!(
        "incident_pcap",
        Str,
        FINDING,
        "the incident pcap holding the subject's packets",
        |e| finding(e).and_then(|r| os(&r.incident_pcap))
    ),
];

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn endpoint(addr: &str, port: u16, hostname: Option<&str>) -> Endpoint {
    Endpoint {
        ip: ip(addr),
        port: Some(port),
        hostname: hostname.map(str::to_owned),
    }
}

fn sample_conn() -> ConnectionInfo {
    ConnectionInfo::tcp("F1a2b3c", "1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
}

fn certificate(subject: &str, issuer: &str, sans: &[&str]) -> Certificate {
    Certificate {
        subject: subject.to_owned(),
        issuer: issuer.to_owned(),
        serial_number: "00:E4:1F".to_owned(),
        created_time: 1_700_000_000_000,
        expiration_time: 1_731_536_000_000,
        sans: sans.iter().map(|s| (*s).to_owned()).collect(),
        fingerprint_sha1: "ab:cd:ef:01".to_owned(),
    }
}

/// Complete example events, one per record kind, with every optional field
/// set and every list non-empty: the registry's tests check each field
/// against their JSON, and rule tests use them as inputs.
pub fn samples() -> Vec<Event> {
    let t = Timestamp::from_nanos(1_700_000_000_123_456_789);
    let flow = Body::Flow(FlowRecord {
        src_endpoint: endpoint("192.0.2.10", 51514, Some("client.example")),
        dst_endpoint: endpoint("198.51.100.7", 443, Some("www.example.com")),
        connection_info: sample_conn(),
        traffic: Traffic {
            packets_out: 12,
            packets_in: 10,
            bytes_out: 1800,
            bytes_in: 9200,
            packets: 22,
            bytes: 11000,
            payload_bytes_out: 900,
            payload_bytes_in: 8100,
        },
        start_time: 1_700_000_000_000,
        end_time: 1_700_000_000_123,
        duration: 123,
        duration_us: 123_456,
        app_name: Some("http,tls".to_owned()),
        conn_state: Some("SF".to_owned()),
        history: Some("ShADadFf".to_owned()),
        end_reason: "closed".to_owned(),
        reassembly: Some(Reassembly {
            gaps: 1,
            gap_bytes: 1448,
            retransmissions: 2,
            inconsistent_overlaps: 0,
            ooo_dropped: 0,
        }),
        icmp: Some(IcmpInfo {
            icmp_type: 3,
            code: 1,
        }),
    });
    let hello = TlsClientHello {
        version: "TLSv1.2".to_owned(),
        supported_version: Some("TLSv1.3".to_owned()),
        ciphers: vec![4865, 4866, 49195],
        extensions: vec![0, 16, 43],
        sni: Some("www.example.com".to_owned()),
        alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
        supported_versions: vec![772, 771],
        supported_groups: vec![29, 23],
        ec_point_formats: vec![0],
        signature_algorithms: vec![1027, 2052],
        ja3: "771,4865-4866-49195,0-16-43,29-23,0".to_owned(),
        ja3_hash: "cd08e31494f9531f560d64c695473da9".to_owned(),
        ja4: "t13d0303h2_55b375c5d22e_06cda9e17597".to_owned(),
        ja4_r: "t13d0303h2_1301,1302,c02b_0000,0010,002b_0403,0804".to_owned(),
    };
    let tls = Body::Tls(TlsActivity {
        src_endpoint: endpoint("192.0.2.10", 51516, Some("client.example")),
        dst_endpoint: endpoint("198.51.100.7", 443, Some("www.example.com")),
        connection_info: sample_conn(),
        tls: TlsInfo {
            version: "TLSv1.2".to_owned(),
            sni: Some("www.example.com".to_owned()),
            alpn: Some("h2".to_owned()),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned()),
            ja3_hash: Some(hello.ja3_hash.clone()),
            ja3s_hash: Some("15af977ce25de452b96affa2addb1036".to_owned()),
            ja4: Some(hello.ja4.clone()),
            ja4s: Some("t1302h2_c02f_2e2b1e8a4f7e".to_owned()),
            client_hello: Some(hello),
            server_hello: Some(TlsServerHello {
                version: "TLSv1.2".to_owned(),
                cipher: 49199,
                cipher_name: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned()),
                alpn: Some("h2".to_owned()),
                extensions: vec![65281, 16],
                ja3s: "771,49199,65281-16".to_owned(),
                ja3s_hash: "15af977ce25de452b96affa2addb1036".to_owned(),
            }),
            certificate: Some(certificate(
                "CN=www.example.com",
                "CN=Example CA",
                &["www.example.com", "198.51.100.7"],
            )),
            certificate_chain: vec![certificate(
                "CN=Example CA",
                "CN=Example Root",
                &["ca.example.com"],
            )],
            anomalies: vec!["gap".to_owned()],
        },
    });
    let http = Body::Http(HttpActivity {
        src_endpoint: endpoint("192.0.2.10", 51515, Some("client.example")),
        dst_endpoint: endpoint("198.51.100.7", 80, Some("www.example.com")),
        connection_info: sample_conn(),
        http_request: HttpRequest {
            http_method: "GET".to_owned(),
            url: Url {
                hostname: Some("www.example.com".to_owned()),
                port: Some(8080),
                path: "/index.php".to_owned(),
                query_string: Some("id=1%27%20OR%201=1".to_owned()),
                url_string: "/index.php?id=1%27%20OR%201=1".to_owned(),
            },
            version: "HTTP/1.1".to_owned(),
            user_agent: Some("sqlmap/1.7.2#stable (https://sqlmap.org)".to_owned()),
            referrer: Some("http://www.example.com/".to_owned()),
            body_length: 0,
        },
        http_response: Some(HttpResponse {
            code: 500,
            message: Some("Internal Server Error".to_owned()),
            content_type: Some("text/html".to_owned()),
            length: 1234,
        }),
        transaction: 0,
    });
    let dns = Body::Dns(DnsActivity {
        src_endpoint: endpoint("192.0.2.10", 40000, Some("client.example")),
        dst_endpoint: endpoint("192.0.2.53", 53, Some("ns.example")),
        connection_info: ConnectionInfo {
            uid: "F9".to_owned(),
            community_uid: "1:3Zb3z5gO4k4Jm0r4uRmvCjZ2Lxc=".to_owned(),
            protocol_num: 17,
            protocol_name: "udp".to_owned(),
        },
        query: DnsQuery {
            hostname: "www.example.com".to_owned(),
            qtype: "A".to_owned(),
            type_id: 1,
            class: "IN".to_owned(),
            packet_uid: 4660,
            opcode: "Query".to_owned(),
            opcode_id: 0,
        },
        answers: vec![
            DnsAnswer {
                name: "www.example.com".to_owned(),
                rtype: "CNAME".to_owned(),
                class: "IN".to_owned(),
                ttl: 300,
                rdata: "web.example.com".to_owned(),
                section: "answer".to_owned(),
            },
            DnsAnswer {
                name: "web.example.com".to_owned(),
                rtype: "A".to_owned(),
                class: "IN".to_owned(),
                ttl: 60,
                rdata: "198.51.100.7".to_owned(),
                section: "answer".to_owned(),
            },
        ],
        rcode: Some("NoError".to_owned()),
        rcode_id: Some(0),
        flags: vec!["qr".to_owned(), "rd".to_owned(), "ra".to_owned()],
        response_time: Some(1_700_000_000_125),
        rtt_us: Some(1830),
        pairing: "answered".to_owned(),
    });
    let ssh = Body::Ssh(SshActivity {
        src_endpoint: endpoint("192.0.2.10", 40022, Some("client.example")),
        dst_endpoint: endpoint("192.0.2.22", 22, Some("ssh.example")),
        connection_info: sample_conn(),
        client_version: Some("SSH-2.0-OpenSSH_9.2p1 Debian-2".to_owned()),
        server_version: Some("SSH-2.0-OpenSSH_9.6".to_owned()),
    });
    let mut stats = StatsRecord::default();
    stats.add("packets", "total", 42);
    stats.inputs.push("capture.pcap".to_owned());
    let mut evidence = BTreeMap::new();
    evidence.insert("distinct_ports".to_owned(), serde_json::json!(1000));
    let mut metadata = BTreeMap::new();
    metadata.insert("signature_severity".to_owned(), vec!["Major".to_owned()]);
    let finding = Body::Finding(Finding {
        finding_info: FindingInfo {
            uid: "vigil-f-1".to_owned(),
            title: "ET SCAN Possible Nmap User-Agent Observed".to_owned(),
            desc: Some("192.0.2.10 sent an Nmap user agent".to_owned()),
            types: vec!["signature".to_owned()],
            analytic: Analytic {
                uid: "sig:2024364".to_owned(),
                name: "ET SCAN Possible Nmap User-Agent Observed".to_owned(),
                type_id: 1,
                type_name: "Rule".to_owned(),
                category: Some("web-application-attack".to_owned()),
            },
            first_seen_time: Some(1_700_000_000_000),
            last_seen_time: Some(1_700_000_000_123),
        },
        subject: Subject {
            kind: "host".to_owned(),
            value: "192.0.2.10".to_owned(),
        },
        src_endpoint: Some(endpoint("192.0.2.10", 51515, Some("client.example"))),
        dst_endpoint: Some(endpoint("198.51.100.7", 80, Some("www.example.com"))),
        connection_info: Some(sample_conn()),
        rule: Some(RuleRef {
            gid: 1,
            sid: 2_024_364,
            rev: 4,
            msg: "ET SCAN Possible Nmap User-Agent Observed".to_owned(),
            classtype: Some("web-application-attack".to_owned()),
            action: "alert".to_owned(),
            references: vec!["url,nmap.org".to_owned()],
            metadata,
            source: Some("emerging-scan.rules:120".to_owned()),
        }),
        evidence,
        risk_score: Some(62),
        risk_level: Some("High".to_owned()),
        remediation: Some(Remediation {
            desc: "block source".to_owned(),
            self_check: Some("nmap -sV your-host".to_owned()),
        }),
        incident_pcap: Some("incident-1.pcap".to_owned()),
    });
    let bodies = [flow, tls, http, dns, ssh, Body::Stats(stats), finding];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut event = Event::new(t, body).with_severity(Severity::Low);
            event.priority = Priority::Normal;
            event.metadata = Metadata {
                log_name: Some("sample.pcap".to_owned()),
                correlation_uid: Some("F1a2b3c".to_owned()),
                uid: Some(format!("e{i}")),
                ..Metadata::default()
            };
            event.raw_data = Some(format!("raw record {i}"));
            event
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = all().iter().map(|f| f.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    /// The values at a dotted path of a JSON document, lists flattened.
    fn json_values(doc: &Value, path: &str) -> Vec<String> {
        let mut here = vec![doc];
        for key in path.split('.') {
            let mut next = Vec::new();
            for v in here {
                if let Some(child) = v.get(key) {
                    match child {
                        Value::Array(items) => next.extend(items.iter()),
                        other => next.push(other),
                    }
                }
            }
            here = next;
        }
        here.into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
                other => panic!("{path} is not a leaf: {other}"),
            })
            .collect()
    }

    fn field_values(field: &FieldDef, event: &Event) -> Vec<String> {
        let mut out = Vec::new();
        field.for_each(event, &mut |v| {
            out.push(match v {
                FieldValue::Str(s) => s.to_owned(),
                FieldValue::Int(i) => i.to_string(),
                FieldValue::Ip(ip) => ip.to_string(),
                FieldValue::Bool(b) => b.to_string(),
            });
            true
        });
        out
    }

    fn type_matches(ty: FieldType, text: &str) -> bool {
        match ty {
            FieldType::Str => true,
            FieldType::Int => text.parse::<i64>().is_ok(),
            FieldType::Ip => text.parse::<IpAddr>().is_ok(),
            FieldType::Bool => text == "true" || text == "false",
        }
    }

    /// Every field reads what the JSON form holds at its path, in every
    /// sample, and each class it names has a sample where it has a value.
    #[test]
    fn every_field_reads_its_json_path() {
        let events = samples();
        let docs: Vec<Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).expect("sample serializes"))
            .collect();
        for field in all() {
            let mut seen_in = Vec::new();
            for (event, doc) in events.iter().zip(&docs) {
                let from_json = json_values(doc, field.name);
                let from_field = field_values(field, event);
                assert_eq!(
                    from_field,
                    from_json,
                    "{} in the {} sample",
                    field.name,
                    event.kind().name()
                );
                for v in &from_field {
                    assert!(
                        type_matches(field.ty, v),
                        "{}: {v} is not {}",
                        field.name,
                        field.ty.name()
                    );
                }
                if !from_field.is_empty() {
                    assert!(
                        field.in_class(event.class_uid),
                        "{} has a value in class {} that it does not list",
                        field.name,
                        event.class_uid
                    );
                    seen_in.push(event.class_uid);
                    if !field.is_many() {
                        assert_eq!(from_field.len(), 1, "{}", field.name);
                    }
                }
            }
            assert!(!seen_in.is_empty(), "{} is in no sample", field.name);
            for class in field.classes {
                assert!(
                    seen_in.contains(class),
                    "{} has no value in a class {class} sample",
                    field.name
                );
            }
        }
    }

    fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaf_paths(child, &path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    leaf_paths(item, prefix, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    /// Every leaf of every sample's JSON is a registered field, except the
    /// free-form maps.
    #[test]
    fn every_json_leaf_is_a_field() {
        const MAPS: &[&str] = &["evidence.", "rule.metadata.", "counters."];
        for event in samples() {
            let doc = serde_json::to_value(&event).expect("sample serializes");
            let mut paths = Vec::new();
            leaf_paths(&doc, "", &mut paths);
            for path in paths {
                if MAPS.iter().any(|m| path.starts_with(m)) {
                    continue;
                }
                assert!(
                    lookup(&path).is_some(),
                    "{path} (in the {} sample) is not in the registry",
                    event.kind().name()
                );
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("src_endpoint.ipp"), Some("src_endpoint.ip"));
        assert_eq!(
            suggest("http_request.url.paht"),
            Some("http_request.url.path")
        );
        assert_eq!(suggest("sni"), Some("tls.sni"));
        assert_eq!(
            suggest("url.query_string"),
            Some("http_request.url.query_string")
        );
        assert_eq!(suggest("zzzzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(suggest(""), None);
    }

    #[test]
    fn lookup_and_classes() {
        let f = lookup("answers.rdata").expect("registered");
        assert!(f.is_many());
        assert!(f.in_class(4003));
        assert!(!f.in_class(4002));
        assert!(lookup("time").is_some_and(|f| f.in_class(1007)));
        assert!(lookup("answers").is_none());
    }
}
