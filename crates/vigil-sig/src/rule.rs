//! The parsed form of a Suricata rule: what the matcher ([`crate::engine`])
//! evaluates. Produced by [`crate::parse`]; every variable is already
//! resolved and every option already validated, so matching never has to
//! re-interpret rule text.
//!
//! Shape of a rule:
//! - the header: [`Action`], [`Protocol`], source and destination
//!   [`AddrSpec`] / [`PortSpec`] (with [`AddrSpec::matches`] and
//!   [`PortSpec::matches`]) and the [`RuleDirection`];
//! - rule-level options: `msg`, `sid`, `gid`, `rev`, `classtype`,
//!   `priority`, `reference`, `metadata`, `target`, [`FlowOpts`],
//!   [`Flowbit`]s, [`Xbit`]s, `dsize`, [`Threshold`], [`DetectionFilter`];
//! - [`Rule::detection`]: the payload tests in rule order ([`Detect`]), each
//!   naming the buffer it inspects ([`BufferSpec`]). Relative modifiers
//!   (`distance`, `within`, `isdataat:..,relative`, pcre `R`, byte tests'
//!   `relative`) refer to the previous match *in the same buffer*, as in
//!   Suricata.
//!
//! Buffers: [`BufferSel::Payload`] is the "no sticky buffer" case (a packet's
//! payload, or reassembled stream data); [`BufferSel::Seam`] is one of the
//! buffers the pipeline hands over ([`vigil_net::inspect::Buffer`]); the
//! `Http*` variants of [`BufferSel`] are single HTTP headers or the list of
//! header names, which the matcher cuts out of the seam's header blocks with
//! [`BufferSel::derive`].
//!
//! Types here only grow (new fields and variants are added, none renamed),
//! so the matcher can rely on them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

pub use vigil_net::app::AppProto;
pub use vigil_net::inspect::Buffer;

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// What to do on a match.
    pub action: Action,
    /// The protocol the header names.
    pub protocol: Protocol,
    /// Source addresses (variables resolved).
    pub src: AddrSpec,
    /// Source ports (variables resolved).
    pub src_ports: PortSpec,
    /// `->` or `<>`.
    pub direction: RuleDirection,
    /// Destination addresses (variables resolved).
    pub dst: AddrSpec,
    /// Destination ports (variables resolved).
    pub dst_ports: PortSpec,
    /// `msg`, unescaped (empty when the rule has none).
    pub msg: String,
    /// `sid` (required).
    pub sid: u32,
    /// `gid` (1 when absent).
    pub gid: u32,
    /// `rev` (0 when absent).
    pub rev: u32,
    /// `classtype`, when given.
    pub classtype: Option<String>,
    /// `priority`, when given (1 highest).
    pub priority: Option<u8>,
    /// `reference`s in rule order.
    pub references: Vec<Reference>,
    /// `metadata`: key → values, in the order the rule gives them
    /// (`metadata:former_category MALWARE, tag c2, tag x;` gives
    /// `former_category → [MALWARE]`, `tag → [c2, x]`).
    pub metadata: BTreeMap<String, Vec<String>>,
    /// `target:src_ip|dest_ip`: which side of the alert is the target.
    pub target: Option<Target>,
    /// `flow` options (all absent when the rule has none).
    pub flow: FlowOpts,
    /// `flowbits` in rule order (conditions and actions).
    pub flowbits: Vec<Flowbit>,
    /// `xbits` in rule order (bits kept per host or host pair).
    pub xbits: Vec<Xbit>,
    /// True when the rule must not alert (`noalert;` or `flowbits:noalert;`):
    /// it only sets bits.
    pub noalert: bool,
    /// `dsize`: the packet payload size test.
    pub dsize: Option<IntCmp>,
    /// `threshold`, when given.
    pub threshold: Option<Threshold>,
    /// `detection_filter`, when given.
    pub detection_filter: Option<DetectionFilter>,
    /// Payload tests in rule order, each with the buffer it inspects.
    pub detection: Vec<Detect>,
    /// Where the rule was read from (file and line), when known.
    pub origin: Option<Origin>,
}

impl Rule {
    /// A rule with the given header and sid, no options (for tests and
    /// builders).
    pub fn new(action: Action, protocol: Protocol, sid: u32) -> Self {
        Self {
            action,
            protocol,
            src: AddrSpec::Any,
            src_ports: PortSpec::Any,
            direction: RuleDirection::ToDst,
            dst: AddrSpec::Any,
            dst_ports: PortSpec::Any,
            msg: String::new(),
            sid,
            gid: 1,
            rev: 0,
            classtype: None,
            priority: None,
            references: Vec::new(),
            metadata: BTreeMap::new(),
            target: None,
            flow: FlowOpts::default(),
            flowbits: Vec::new(),
            xbits: Vec::new(),
            noalert: false,
            dsize: None,
            threshold: None,
            detection_filter: None,
            detection: Vec::new(),
            origin: None,
        }
    }

    /// The seam buffers this rule needs (deduplicated, sorted); empty for
    /// a rule without payload tests. [`BufferSel::Payload`] contributes
    /// nothing here: it is whichever of packet or stream is inspected.
    pub fn seam_buffers(&self) -> Vec<Buffer> {
        let mut out: Vec<Buffer> = self
            .detection
            .iter()
            .flat_map(|d| d.buffer.sel.sources().iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// True when some payload test inspects the plain payload (no sticky
    /// buffer).
    pub fn uses_payload(&self) -> bool {
        self.detection
            .iter()
            .any(|d| d.buffer.sel == BufferSel::Payload)
    }

    /// The index in [`Rule::detection`] of the content marked
    /// `fast_pattern`, if any.
    pub fn explicit_fast_pattern(&self) -> Option<usize> {
        self.detection.iter().position(
            |d| matches!(&d.kind, DetectKind::Content(c) if c.fast_pattern != FastPattern::No),
        )
    }
}

/// Where a rule was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The rule file as given to the loader.
    pub file: String,
    /// 1-based line where the rule starts.
    pub line: usize,
}

/// A rule's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `alert`.
    Alert,
    /// `pass`: matching traffic is not inspected further by other rules.
    Pass,
    /// `drop` (IPS); offline, an alert marked as a would-drop.
    Drop,
    /// `reject`, `rejectsrc`, `rejectdst`, `rejectboth` (IPS); offline, an
    /// alert marked as a would-reject.
    Reject,
}

impl Action {
    /// The keyword (`alert`, `pass`, `drop`, `reject`).
    pub const fn name(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject => "reject",
        }
    }
}

/// The protocol in the rule header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `ip` (any IP protocol; also `pkthdr`).
    Ip,
    /// `tcp` (packets and stream).
    Tcp,
    /// `tcp-pkt`: TCP, packets only (not the reassembled stream).
    TcpPkt,
    /// `tcp-stream`: TCP, reassembled stream only.
    TcpStream,
    /// `udp`.
    Udp,
    /// `icmp` (v4 and v6).
    Icmp,
    /// An application protocol (`http`, `dns`, `tls`, `ssh`, `quic`, ...):
    /// the rule applies only once the flow is identified as that protocol.
    App(AppProto),
}

impl Protocol {
    /// The header keyword (`ip`, `tcp`, `http`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Ip => "ip",
            Protocol::Tcp => "tcp",
            Protocol::TcpPkt => "tcp-pkt",
            Protocol::TcpStream => "tcp-stream",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::App(app) => app.name(),
        }
    }
}

/// `->` (source to destination) or `<>` (either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleDirection {
    /// `->`.
    ToDst,
    /// `<>`: the header matches with source and destination swapped too.
    Both,
}

/// An IP network (address and prefix length). Hand-written: ten lines, and
/// the rule types need nothing else from a network-address crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length (0..=32 for IPv4, 0..=128 for IPv6).
    pub prefix: u8,
}

impl Cidr {
    /// The network of `addr/prefix` (host bits cleared); `None` when the
    /// prefix is too long for the family.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(a) if prefix <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                Some(Self {
                    addr: IpAddr::V4((u32::from(a) & mask).into()),
                    prefix,
                })
            }
            IpAddr::V6(a) if prefix <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                Some(Self {
                    addr: IpAddr::V6((u128::from(a) & mask).into()),
                    prefix,
                })
            }
            _ => None,
        }
    }

    /// True when `ip` is inside this network (never across families,
    /// except that an IPv4-mapped IPv6 address matches as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        Cidr::new(ip, self.prefix).is_some_and(|net| net.addr == self.addr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// An address specification, variables resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrSpec {
    /// `any`.
    Any,
    /// One address or network.
    Net(Cidr),
    /// `!x`.
    Not(Box<AddrSpec>),
    /// `[a, b, !c]`: matches when some non-negated item matches (or there
    /// is none) and no negated item's inner spec matches — Suricata's list
    /// semantics.
    List(Vec<AddrSpec>),
}

impl AddrSpec {
    /// True when `ip` is in this set.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match self {
            AddrSpec::Any => true,
            AddrSpec::Net(net) => net.contains(ip),
            AddrSpec::Not(inner) => !inner.matches(ip),
            AddrSpec::List(items) => {
                let mut any_positive = false;
                let mut positive_hit = false;
                for item in items {
                    match item {
                        AddrSpec::Not(inner) => {
                            if inner.matches(ip) {
                                return false;
                            }
                        }
                        other => {
                            any_positive = true;
                            positive_hit = positive_hit || other.matches(ip);
                        }
                    }
                }
                positive_hit || !any_positive
            }
        }
    }
}

impl fmt::Display for AddrSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrSpec::Any => f.write_str("any"),
            AddrSpec::Net(net) => write!(f, "{net}"),
            AddrSpec::Not(inner) => write!(f, "!{inner}"),
            AddrSpec::List(items) => write_list(f, items),
        }
    }
}

/// A port specification, variables resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// `any`.
    Any,
    /// An inclusive range (`80` is `80..=80`, `1024:` is `1024..=65535`,
    /// `:1023` is `0..=1023`).
    Range(u16, u16),
    /// `!x`.
    Not(Box<PortSpec>),
    /// `[a, b, !c]`, with the same semantics as [`AddrSpec::List`].
    List(Vec<PortSpec>),
}

impl PortSpec {
    /// True when `port` is in this set.
    pub fn matches(&self, port: u16) -> bool {
        match self {
            PortSpec::Any => true,
            PortSpec::Range(lo, hi) => (*lo..=*hi).contains(&port),
            PortSpec::Not(inner) => !inner.matches(port),
            PortSpec::List(items) => {
                let mut any_positive = false;
                let mut positive_hit = false;
                for item in items {
                    match item {
                        PortSpec::Not(inner) => {
                            if inner.matches(port) {
                                return false;
                            }
                        }
                        other => {
                            any_positive = true;
                            positive_hit = positive_hit || other.matches(port);
                        }
                    }
                }
                positive_hit || !any_positive
            }
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Any => f.write_str("any"),
            PortSpec::Range(lo, hi) if lo == hi => write!(f, "{lo}"),
            PortSpec::Range(lo, hi) => write!(f, "{lo}:{hi}"),
            PortSpec::Not(inner) => write!(f, "!{inner}"),
            PortSpec::List(items) => write_list(f, items),
        }
    }
}

fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str("]")
}

/// `reference:type,value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The reference system (`url`, `cve`, `md5`, ...).
    pub kind: String,
    /// The reference itself.
    pub value: String,
}

/// `target:src_ip|dest_ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The source of the matching packet is the target.
    SrcIp,
    /// The destination of the matching packet is the target.
    DestIp,
}

/// The `flow` keyword's options; every field `None` means "no condition".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowOpts {
    /// `established` / `not_established` / `stateless`.
    pub state: Option<FlowState>,
    /// `to_server`/`from_client` or `to_client`/`from_server`.
    pub dir: Option<FlowDir>,
    /// `only_stream` / `no_stream`.
    pub stream: Option<StreamMode>,
}

/// Connection state condition of `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowState {
    /// `established`: after the handshake (UDP: both sides have sent).
    Established,
    /// `not_established`.
    NotEstablished,
    /// `stateless`: any state (no condition; kept for printing).
    Stateless,
}

/// Direction condition of `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDir {
    /// `to_server` / `from_client`: [`vigil_net::inspect::InspectCtx::to_server`] is true.
    ToServer,
    /// `to_client` / `from_server`.
    ToClient,
}

/// Stream condition of `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    /// `only_stream`: only reassembled stream data (and app buffers).
    OnlyStream,
    /// `no_stream`: only packets.
    NoStream,
}

/// One `flowbits` keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowbit {
    /// What to do or test.
    pub cmd: BitCmd,
    /// The bit names (empty only for `noalert`, which sets [`Rule::noalert`]
    /// and is not kept here). Several names come from `a|b` (see
    /// [`Flowbit::any`]) or `a&b`.
    pub names: Vec<String>,
    /// True for `a|b` (condition holds when any bit does); false for a
    /// single name or `a&b` (all).
    pub any: bool,
}

/// A bit operation (`flowbits`, `xbits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitCmd {
    /// `set`: after the rule matches, set the bit(s).
    Set,
    /// `unset`.
    Unset,
    /// `toggle`.
    Toggle,
    /// `isset`: condition.
    IsSet,
    /// `isnotset`: condition.
    IsNotSet,
}

impl BitCmd {
    /// True for the conditions (`isset`, `isnotset`), false for actions.
    pub const fn is_condition(self) -> bool {
        matches!(self, BitCmd::IsSet | BitCmd::IsNotSet)
    }
}

/// One `xbits` keyword: a bit kept per host or host pair, with expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xbit {
    /// What to do or test.
    pub cmd: BitCmd,
    /// The bit name.
    pub name: String,
    /// Whose bit it is.
    pub track: XbitTrack,
    /// `expire` in seconds (for `set`), when given.
    pub expire: Option<u32>,
}

/// Whose bit an xbit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XbitTrack {
    /// `ip_src`.
    IpSrc,
    /// `ip_dst`.
    IpDst,
    /// `ip_pair`.
    IpPair,
}

/// A numeric comparison (`dsize`, `bsize`, `urilen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntCmp {
    /// `N`.
    Eq(u64),
    /// `!N`.
    Ne(u64),
    /// `<N`.
    Lt(u64),
    /// `<=N`.
    Le(u64),
    /// `>N`.
    Gt(u64),
    /// `>=N`.
    Ge(u64),
    /// `A<>B`: strictly between (A < x < B).
    Between(u64, u64),
}

impl IntCmp {
    /// True when `value` satisfies the comparison.
    pub fn matches(self, value: u64) -> bool {
        match self {
            IntCmp::Eq(n) => value == n,
            IntCmp::Ne(n) => value != n,
            IntCmp::Lt(n) => value < n,
            IntCmp::Le(n) => value <= n,
            IntCmp::Gt(n) => value > n,
            IntCmp::Ge(n) => value >= n,
            IntCmp::Between(lo, hi) => lo < value && value < hi,
        }
    }
}

impl fmt::Display for IntCmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntCmp::Eq(n) => write!(f, "{n}"),
            IntCmp::Ne(n) => write!(f, "!{n}"),
            IntCmp::Lt(n) => write!(f, "<{n}"),
            IntCmp::Le(n) => write!(f, "<={n}"),
            IntCmp::Gt(n) => write!(f, ">{n}"),
            IntCmp::Ge(n) => write!(f, ">={n}"),
            IntCmp::Between(lo, hi) => write!(f, "{lo}<>{hi}"),
        }
    }
}

/// `threshold:type T, track K, count C, seconds S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    /// `limit`, `threshold` or `both`.
    pub kind: ThresholdKind,
    /// What the count is kept per.
    pub track: Track,
    /// `count`.
    pub count: u32,
    /// `seconds`.
    pub seconds: u32,
}

/// The `type` of a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdKind {
    /// Alert on the first `count` matches per `seconds`.
    Limit,
    /// Alert on every `count`-th match per `seconds`.
    Threshold,
    /// Alert once per `seconds` after `count` matches.
    Both,
}

/// What a threshold or detection filter counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// `by_src`.
    BySrc,
    /// `by_dst`.
    ByDst,
    /// `by_both` (source and destination pair).
    ByBoth,
    /// `by_rule` (one count for the rule).
    ByRule,
    /// `by_flow`.
    ByFlow,
}

/// `detection_filter:track K, count C, seconds S`: alert only once the rule
/// matched more than `count` times within `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionFilter {
    /// What the count is kept per.
    pub track: Track,
    /// `count`.
    pub count: u32,
    /// `seconds`.
    pub seconds: u32,
}

/// One payload test with the buffer it inspects.
#[derive(Debug, Clone, PartialEq)]
pub struct Detect {
    /// The buffer (and its transforms).
    pub buffer: BufferSpec,
    /// The test.
    pub kind: DetectKind,
}

/// A buffer as a rule inspects it: the selection and the transforms
/// applied to it first (in order). Used as a key: equal specs are the same
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufferSpec {
    /// Which bytes.
    pub sel: BufferSel,
    /// Transforms applied before matching (`dotprefix`, ...), in order.
    pub transforms: Vec<Transform>,
}

impl BufferSpec {
    /// The plain payload, no transforms.
    pub const PAYLOAD: BufferSpec = BufferSpec {
        sel: BufferSel::Payload,
        transforms: Vec::new(),
    };

    /// A seam buffer, no transforms.
    pub const fn seam(buffer: Buffer) -> Self {
        Self {
            sel: BufferSel::Seam(buffer),
            transforms: Vec::new(),
        }
    }
}

/// Which bytes a test inspects.
///
/// Suricata uses some buffers for both directions; the parser settles
/// them by the rule's `flow` direction: with `to_client`, `http.header` is
/// [`Buffer::HttpResponseHeader`], `http.cookie` is the `set-cookie` header
/// and derived buffers read [`HttpSide::Response`]; with `to_server`,
/// `file.data` is [`Buffer::HttpRequestBody`] and derived buffers read
/// [`HttpSide::Request`]. `http.response_body` is [`Buffer::FileData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BufferSel {
    /// No sticky buffer: the packet payload at packet inspection points,
    /// the reassembled stream data at stream inspection points.
    Payload,
    /// A buffer the pipeline hands over.
    Seam(Buffer),
    /// One HTTP header's value (`http.cookie`, `http.content_type`,
    /// `http.referer`, ...), cut out of a header block by
    /// [`BufferSel::derive`]: the value after `Name:` with leading and
    /// trailing blanks removed; several headers of that name are joined
    /// with `", "`. Absent when no header of that name exists.
    HttpHeaderValue {
        /// The header name, lower case.
        name: &'static str,
        /// Which header block(s).
        side: HttpSide,
    },
    /// The header names of a block, as Suricata's `http.header_names`:
    /// `\r\nName1\r\nName2\r\n\r\n` (names as sent).
    HttpHeaderNames {
        /// Which header block(s).
        side: HttpSide,
    },
}

/// Which HTTP header block a derived buffer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpSide {
    /// The request's ([`Buffer::HttpHeader`]).
    Request,
    /// The response's ([`Buffer::HttpResponseHeader`]).
    Response,
    /// Whichever of the two is present at the inspection point.
    Either,
}

impl HttpSide {
    /// The seam buffers this side reads.
    pub const fn sources(self) -> &'static [Buffer] {
        match self {
            HttpSide::Request => &[Buffer::HttpHeader],
            HttpSide::Response => &[Buffer::HttpResponseHeader],
            HttpSide::Either => &[Buffer::HttpHeader, Buffer::HttpResponseHeader],
        }
    }
}

impl BufferSel {
    /// The seam buffers this selection is made from (empty for
    /// [`BufferSel::Payload`]). For a derived selection with
    /// [`HttpSide::Either`], either one suffices.
    pub fn sources(&self) -> &[Buffer] {
        match self {
            BufferSel::Payload => &[],
            BufferSel::Seam(b) => std::slice::from_ref(b),
            BufferSel::HttpHeaderValue { side, .. } | BufferSel::HttpHeaderNames { side } => {
                side.sources()
            }
        }
    }

    /// For the derived selections: compute the buffer from a header block
    /// (`Name: value\r\n` lines) into `out` (cleared first). Returns false
    /// when the buffer is absent (no such header) or the selection is not
    /// derived.
    pub fn derive(&self, block: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        match self {
            BufferSel::HttpHeaderValue { name, .. } => {
                let mut found = false;
                for (n, v) in header_lines(block) {
                    if n.eq_ignore_ascii_case(name.as_bytes()) {
                        if found {
                            out.extend_from_slice(b", ");
                        }
                        out.extend_from_slice(v);
                        found = true;
                    }
                }
                found
            }
            BufferSel::HttpHeaderNames { .. } => {
                out.extend_from_slice(b"\r\n");
                for (n, _) in header_lines(block) {
                    out.extend_from_slice(n);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"\r\n");
                true
            }
            BufferSel::Payload | BufferSel::Seam(_) => false,
        }
    }
}

/// `(name, trimmed value)` of each `Name: value` line of a header block.
fn header_lines(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    block.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, rest) = line.split_at(colon);
        let value = rest.get(1..).unwrap_or_default().trim_ascii();
        Some((name.trim_ascii(), value))
    })
}

/// A transform applied to a buffer before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    /// `dotprefix`: prepend a `.` (so `.example.com` with `endswith`
    /// matches the domain and its subdomains).
    DotPrefix,
    /// `strip_whitespace`: remove all whitespace.
    StripWhitespace,
    /// `compress_whitespace`: each run of whitespace becomes one space.
    CompressWhitespace,
    /// `to_lowercase`.
    ToLowercase,
    /// `to_uppercase`.
    ToUppercase,
    /// `url_decode`: decode `%XX` and `+`.
    UrlDecode,
    /// `to_md5`: the 16-byte MD5 digest of the buffer.
    ToMd5,
    /// `to_sha1`: the 20-byte SHA-1 digest.
    ToSha1,
    /// `to_sha256`: the 32-byte SHA-256 digest.
    ToSha256,
    /// `header_lowercase`: lower-case header names of a header block.
    HeaderLowercase,
    /// `strip_pseudo_headers`: drop HTTP/2 pseudo headers (no-op for HTTP/1).
    StripPseudoHeaders,
}

/// The kind of a payload test.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectKind {
    /// `content`.
    Content(Content),
    /// `pcre`.
    Pcre(Pcre),
    /// `byte_test`.
    ByteTest(ByteTest),
    /// `byte_jump`.
    ByteJump(ByteJump),
    /// `isdataat`.
    IsDataAt(IsDataAt),
    /// `bsize` (and `urilen`, which is `bsize` on the URI buffer): the
    /// buffer's length.
    Bsize(IntCmp),
}

/// `content` with its modifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The bytes (`|hex|` decoded, escapes removed).
    pub pattern: Vec<u8>,
    /// `content:!"..."`: the rule matches when the pattern is *absent*
    /// (within the window the modifiers give).
    pub negated: bool,
    /// `nocase`: ASCII case-insensitive.
    pub nocase: bool,
    /// `offset`: the match starts at or after this position.
    pub offset: Option<u32>,
    /// `depth`: the match ends within this many bytes from `offset` (or the
    /// buffer start).
    pub depth: Option<u32>,
    /// `distance`: relative to the end of the previous match in the buffer,
    /// the match starts at or after this (may be negative).
    pub distance: Option<i32>,
    /// `within`: relative to the end of the previous match (plus
    /// `distance`), the match ends within this many bytes.
    pub within: Option<u32>,
    /// `startswith`: the match is at the start of the buffer (or at the
    /// relative position, with distance/within).
    pub startswith: bool,
    /// `endswith`: the match ends at the end of the buffer.
    pub endswith: bool,
    /// `fast_pattern` as given.
    pub fast_pattern: FastPattern,
}

impl Content {
    /// A plain content: no modifiers.
    pub fn new(pattern: impl Into<Vec<u8>>) -> Self {
        Self {
            pattern: pattern.into(),
            negated: false,
            nocase: false,
            offset: None,
            depth: None,
            distance: None,
            within: None,
            startswith: false,
            endswith: false,
            fast_pattern: FastPattern::No,
        }
    }

    /// True when the match position depends on the previous match
    /// (`distance` or `within`).
    pub const fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// `fast_pattern` on a content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastPattern {
    /// Not given (the engine picks).
    No,
    /// `fast_pattern`: use this content in the prefilter.
    Yes,
    /// `fast_pattern:only` (deprecated): same as `Yes`.
    Only,
    /// `fast_pattern:offset,length`: use only this part of the pattern.
    Chop {
        /// Start within the pattern.
        offset: u16,
        /// Length.
        len: u16,
    },
}

/// `pcre:"/pattern/flags"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcre {
    /// The pattern between the slashes, as written in the rule (escapes
    /// such as `\;` and `\"` kept: to a PCRE engine they mean the literal
    /// character).
    pub pattern: String,
    /// `pcre:!"..."`: the rule matches when the pattern does not.
    pub negated: bool,
    /// The flags.
    pub flags: PcreFlags,
}

/// The flags of a `pcre`. Buffer flags (`U`, `H`, `P`, ...) are not kept
/// here: they set the test's [`Detect::buffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcreFlags {
    /// `i`: case-insensitive.
    pub caseless: bool,
    /// `s`: `.` matches newline.
    pub dotall: bool,
    /// `m`: `^`/`$` match at line boundaries.
    pub multiline: bool,
    /// `x`: extended (whitespace and `#` comments ignored in the pattern).
    pub extended: bool,
    /// `A`: anchored at the start (of the buffer, or of the relative
    /// position with `R`).
    pub anchored: bool,
    /// `E`: `$` matches only at the very end.
    pub dollar_endonly: bool,
    /// `G`: ungreedy (swap greediness of quantifiers).
    pub ungreedy: bool,
    /// `R`: relative to the end of the previous match in the buffer.
    pub relative: bool,
    /// `O`: override the configured match limits (ignored by Vigil: kept
    /// for printing).
    pub override_limits: bool,
}

/// Byte order for byte tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endian {
    /// Big endian (network order, the default).
    #[default]
    Big,
    /// Little endian.
    Little,
}

/// The base of a `string` number in byte tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumBase {
    /// `string,dec`.
    Dec,
    /// `string,hex`.
    Hex,
    /// `string,oct`.
    Oct,
}

/// How `byte_test` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOp {
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `=`.
    Eq,
    /// `<=`.
    Le,
    /// `>=`.
    Ge,
    /// `&`: bitwise AND is non-zero.
    And,
    /// `^`: bitwise XOR is non-zero.
    Xor,
}

/// `byte_test:bytes, [!]op, value, offset [, relative] [, endian] [, string, base] [, dce] [, bitmask N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteTest {
    /// Number of bytes read (1..=8; for `string` up to 23).
    pub bytes: u8,
    /// The comparison.
    pub op: ByteOp,
    /// `!op`: the result is negated.
    pub negated: bool,
    /// The value compared against.
    pub value: u64,
    /// Where to read (relative to the previous match with `relative`).
    pub offset: i32,
    /// `relative`.
    pub relative: bool,
    /// Byte order (binary form).
    pub endian: Endian,
    /// `string, base`: the bytes are a number in text.
    pub string: Option<NumBase>,
    /// `bitmask`: AND the read value with this, then shift right by the
    /// mask's trailing zeros, before comparing.
    pub bitmask: Option<u64>,
    /// `dce`: DCE/RPC byte order (accepted; Vigil has no DCE parser, so it
    /// reads as `endian`).
    pub dce: bool,
}

/// `byte_jump:bytes, offset [, relative] [, multiplier N] [, endian] [, string, base] [, align] [, from_beginning|from_end] [, post_offset N] [, dce] [, bitmask N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteJump {
    /// Number of bytes read (1..=8; for `string` up to 23).
    pub bytes: u8,
    /// Where to read.
    pub offset: i32,
    /// `relative`.
    pub relative: bool,
    /// `multiplier`: the read value is multiplied by this (1 when absent).
    pub multiplier: u32,
    /// Byte order.
    pub endian: Endian,
    /// `string, base`.
    pub string: Option<NumBase>,
    /// `align`: round the jump up to a multiple of 4.
    pub align: bool,
    /// `from_beginning`: jump from the start of the buffer instead of the
    /// end of the bytes read.
    pub from_beginning: bool,
    /// `from_end`: jump from the end of the buffer.
    pub from_end: bool,
    /// `post_offset`: added after the jump.
    pub post_offset: i32,
    /// `bitmask` (as in [`ByteTest::bitmask`]).
    pub bitmask: Option<u64>,
    /// `dce` (see [`ByteTest::dce`]).
    pub dce: bool,
}

/// `isdataat:[!]N [, relative]`: there is data at position N (absolute or
/// after the previous match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsDataAt {
    /// The position.
    pub offset: u32,
    /// `!N`: there is *no* data there.
    pub negated: bool,
    /// `relative`.
    pub relative: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, prefix: u8) -> AddrSpec {
        AddrSpec::Net(Cidr::new(s.parse().unwrap(), prefix).unwrap())
    }

    #[test]
    fn cidr_contains_and_clears_host_bits() {
        let c = Cidr::new("10.1.2.3".parse().unwrap(), 8).unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains("10.200.0.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!c.contains("2001:db8::1".parse().unwrap()));
        let all = Cidr::new("0.0.0.0".parse().unwrap(), 0).unwrap();
        assert!(all.contains("255.255.255.255".parse().unwrap()));
        assert!(Cidr::new("10.0.0.0".parse().unwrap(), 33).is_none());
        let v6 = Cidr::new("2001:db8::".parse().unwrap(), 32).unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
    }

    #[test]
    fn list_semantics_follow_suricata() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let spec = AddrSpec::List(vec![
            net("10.0.0.0", 8),
            AddrSpec::Not(Box::new(net("10.1.1.1", 32))),
        ]);
        assert!(spec.matches(ip("10.2.2.2")));
        assert!(!spec.matches(ip("10.1.1.1")));
        assert!(!spec.matches(ip("192.168.0.1")));
        let only_neg = AddrSpec::List(vec![AddrSpec::Not(Box::new(net("1.1.1.1", 32)))]);
        assert!(only_neg.matches(ip("2.2.2.2")));
        assert!(!only_neg.matches(ip("1.1.1.1")));
        let ports = PortSpec::List(vec![
            PortSpec::Range(80, 90),
            PortSpec::Not(Box::new(PortSpec::Range(85, 85))),
        ]);
        assert!(ports.matches(80) && ports.matches(90) && !ports.matches(85) && !ports.matches(91));
        assert_eq!(ports.to_string(), "[80:90,!85]");
    }

    #[test]
    fn int_cmp_between_is_exclusive() {
        assert!(IntCmp::Between(1, 5).matches(2));
        assert!(!IntCmp::Between(1, 5).matches(1));
        assert!(!IntCmp::Between(1, 5).matches(5));
        assert!(IntCmp::Ge(3).matches(3) && !IntCmp::Gt(3).matches(3));
    }

    #[test]
    fn derived_header_buffers() {
        let block = b"Host: a\r\nCookie: x=1\r\nUser-Agent:  curl \r\ncookie: y=2\r\n";
        let mut out = Vec::new();
        let cookie = BufferSel::HttpHeaderValue {
            name: "cookie",
            side: HttpSide::Request,
        };
        assert!(cookie.derive(block, &mut out));
        assert_eq!(out, b"x=1, y=2");
        let ua = BufferSel::HttpHeaderValue {
            name: "user-agent",
            side: HttpSide::Request,
        };
        assert!(ua.derive(block, &mut out));
        assert_eq!(out, b"curl");
        let referer = BufferSel::HttpHeaderValue {
            name: "referer",
            side: HttpSide::Request,
        };
        assert!(!referer.derive(block, &mut out));
        let names = BufferSel::HttpHeaderNames {
            side: HttpSide::Request,
        };
        assert!(names.derive(block, &mut out));
        assert_eq!(out, b"\r\nHost\r\nCookie\r\nUser-Agent\r\ncookie\r\n\r\n");
        assert_eq!(names.sources(), &[Buffer::HttpHeader]);
        assert!(BufferSel::Payload.sources().is_empty());
    }
}
