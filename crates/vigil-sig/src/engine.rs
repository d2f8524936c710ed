//! The compiled ruleset and its matcher ([`SignatureEngine`]), which
//! implements [`PayloadInspector`].
//!
//! Compile ([`SignatureEngine::compile`]):
//! - each rule's detection items are grouped by the buffer they inspect (a
//!   [`BufferSpec`]: seam buffer, derived header, transforms), in rule order;
//! - its fast pattern is the `fast_pattern` content, else the longest
//!   positive content (ties go to a sticky buffer, which is inspected less
//!   often than the payload); rules are grouped by the fast pattern's buffer
//!   and flow direction into one multi-pattern prefilter per group
//!   (module `mpm`: ASCII-case-insensitive, every overlapping occurrence;
//!   case-sensitive patterns are checked exactly at each hit);
//! - rules without a positive content but with payload tests are evaluated
//!   whenever their buffer is present ("always" lists, counted); rules with
//!   no payload test at all are header rules: IP-only ones (no flow, dsize
//!   or flowbits condition) run once per flow direction, the others at each
//!   packet inspection point;
//! - what the engine cannot evaluate is rejected with a reason, counted in
//!   the [`CompileSummary`] (a pcre neither regex engine compiles, xbits);
//!   rules that mix payload tests with sticky buffers are kept and counted:
//!   they match only where a point carries both (see the inspect notes).
//!
//! Inspect ([`PayloadInspector::inspect`]): run each present buffer's
//! automata, collect candidate rules (deduplicated, in compile order, which
//! puts flowbit setters first), then check protocol, header addresses and
//! ports (both ways for `<>`), `flow`, `dsize` and flowbits conditions, then
//! verify every buffer's items (module `verify`, Suricata's semantics). A match
//! runs its flowbit actions, passes thresholds/detection filters (event
//! time) and pushes a Detection Finding unless the rule is `noalert`.
//! A rule alerts at most once per inspection point. A matching `pass` rule
//! (evaluated first) silences the inspection point.
//!
//! Payload (no sticky buffer) on TCP is the reassembled stream: such rules
//! are evaluated at [`Buffer::Stream`] points, and at [`Buffer::Packet`]
//! points only when they are packet rules (`tcp-pkt`, `flow:no_stream`,
//! `dsize`); on other protocols the packet is the payload. A match that lies
//! wholly in the repeated tail of a stream chunk (already inspected) is not
//! reported again. At a point whose payload is encrypted
//! ([`InspectCtx::payload_encrypted`]) no payload rule is a candidate;
//! header rules still run. The stream automata scan only a point's new bytes (from
//! `MAX_PREFILTER_LEN - 1` bytes before them); the hits of the last point
//! whose occurrence still lies in the repeated tail are carried per flow
//! direction (bounded, overflow counted), so the candidates are those of
//! a scan of the whole buffer.
//!
//! Nothing is allocated per inspection on the hot path: candidate lists,
//! dedup stamps and derived buffers live in reused scratch space.

mod addr;
mod mpm;
mod output;
mod pcre;
mod state;
mod verify;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use vigil_event::{Event, RuleRef};
use vigil_net::app::Direction;
use vigil_net::inspect::{Buffer, InspectCtx, PayloadInspector};

use crate::rule::{
    BitCmd, BufferSel, BufferSpec, DetectKind, DetectionFilter, Endian, FastPattern, FlowDir,
    FlowOpts, FlowState as FlowCond, IntCmp, NumBase, Protocol, Rule, RuleDirection, StreamMode,
    Threshold, Track, Transform,
};
use addr::{AddrSet, PortSet};
use output::{MatchEvidence, RuleMeta};
use pcre::PcreScratch;
use state::{FlowTable, Limiter, ThresholdTable, TrackKey};
use verify::{ContentItem, Item, NumFormat, PcreItem, Verifier, BACKTRACK_BUDGET};

/// Longest pattern put into a prefilter automaton (bytes).
const MAX_PREFILTER_LEN: usize = 12;

/// What compiling a ruleset did.
#[derive(Debug, Clone, Default)]
pub struct CompileSummary {
    /// Rules given.
    pub rules_in: usize,
    /// Rules compiled (active).
    pub compiled: usize,
    /// Rules rejected by the engine, by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Each rejected rule: (gid, sid, reason).
    pub rejected_rules: Vec<(u32, u32, String)>,
    /// Rules reached through the prefilter (they have a fast pattern).
    pub prefiltered: usize,
    /// Rules with payload tests but no positive content, evaluated
    /// whenever their buffer is present.
    pub always: usize,
    /// Header rules (no payload test) evaluated at each packet point.
    pub header_only: usize,
    /// IP-only rules (evaluated once per flow direction).
    pub ip_only: usize,
    /// Distinct prefilter patterns over all automata.
    pub patterns: usize,
    /// Multi-pattern prefilters built (one per buffer, direction and payload kind).
    pub automata: usize,
    /// Heap bytes of the prefilters.
    pub prefilter_bytes: usize,
    /// Rules mixing payload tests with sticky buffers (kept, but they match
    /// only at inspection points that carry the stream or packet together
    /// with those buffers).
    pub mixed_payload: usize,
    /// Pcre patterns that need the backtracking engine.
    pub pcre_backtracking: usize,
    /// Time spent compiling.
    pub elapsed: Duration,
}

impl fmt::Display for CompileSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "engine: {} of {} rules compiled in {:.3} s ({} prefiltered, {} always-evaluated, {} header, {} ip-only, {} mixing payload with sticky buffers; {} patterns in {} automata of {} MiB; {} pcre on the backtracking engine)",
            self.compiled,
            self.rules_in,
            self.elapsed.as_secs_f64(),
            self.prefiltered,
            self.always,
            self.header_only,
            self.ip_only,
            self.mixed_payload,
            self.patterns,
            self.automata,
            self.prefilter_bytes / (1024 * 1024),
            self.pcre_backtracking
        )?;
        for (reason, n) in &self.rejected {
            writeln!(f, "  rejected {n}: {reason}")?;
        }
        Ok(())
    }
}

/// The engine could not compile a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// A pcre that neither regex engine accepts.
    #[error("pcre not supported: {0}")]
    Pcre(String),
    /// A keyword the engine does not evaluate.
    #[error("{0} not supported by the engine")]
    Unsupported(&'static str),
}

impl CompileError {
    /// The reason as counted in the summary (without rule-specific text).
    pub fn reason(&self) -> String {
        match self {
            CompileError::Pcre(_) => "pcre not supported by regex nor fancy-regex".to_owned(),
            other => other.to_string(),
        }
    }
}

/// How a rule with payload tests relates to packets and stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayloadMode {
    /// Stream on TCP, packet otherwise.
    Default,
    /// Packets only (`tcp-pkt`, `no_stream`, `dsize`).
    Packet,
    /// Stream only (`tcp-stream`, `only_stream`).
    Stream,
}

/// A rule's kind for scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Prefilter,
    Always,
    Header,
    IpOnly,
}

#[derive(Debug)]
struct BitCond {
    cmd: BitCmd,
    ids: Vec<u32>,
    any: bool,
}

/// One compiled rule.
#[derive(Debug)]
struct CRule {
    meta: RuleMeta,
    protocol: Protocol,
    src: AddrSet,
    src_ports: PortSet,
    dst: AddrSet,
    dst_ports: PortSet,
    both_ways: bool,
    flow: FlowOpts,
    dsize: Option<IntCmp>,
    bit_conds: Vec<BitCond>,
    bit_acts: Vec<(BitCmd, Vec<u32>)>,
    noalert: bool,
    /// `pass`: a match silences the inspection point.
    pass: bool,
    threshold: Option<Threshold>,
    filter: Option<DetectionFilter>,
    /// Items per buffer spec (spec id), in order of first appearance.
    groups: Vec<(u16, Vec<Item>)>,
    mode: PayloadMode,
}

/// One case variant of a prefilter pattern.
#[derive(Debug)]
struct Variant {
    /// The exact bytes for a case-sensitive pattern; `None` for nocase.
    exact: Option<Box<[u8]>>,
    /// Rules whose fast pattern this is.
    rules: Vec<u32>,
    /// Global variant index (for the per-inspection done stamps).
    id: u32,
}

/// Which payload an automaton over the payload spec scans. A rule's fast
/// pattern goes only into the automata of the payloads the rule can
/// inspect (its [`PayloadMode`] and protocol), so a TCP packet point does
/// not scan stream rules' patterns, whose rules could not match there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// A sticky buffer (not the payload).
    Seam,
    /// The reassembled TCP stream.
    Stream,
    /// A TCP packet's payload (packet rules only).
    TcpPacket,
    /// A UDP, ICMP or other non-TCP packet's payload.
    OtherPacket,
}

impl Slot {
    /// The payload slots a payload rule of `mode` and `protocol` inspects.
    fn of(mode: PayloadMode, protocol: Protocol) -> &'static [Slot] {
        let (tcp, other) = match protocol {
            Protocol::Tcp | Protocol::TcpPkt | Protocol::TcpStream => (true, false),
            Protocol::Udp | Protocol::Icmp => (false, true),
            Protocol::Ip | Protocol::App(_) => (true, true),
        };
        match (mode, tcp, other) {
            (PayloadMode::Stream, true, _) => &[Slot::Stream],
            (PayloadMode::Stream, false, _) => &[],
            (PayloadMode::Packet, true, true) => &[Slot::TcpPacket, Slot::OtherPacket],
            (PayloadMode::Packet, true, false) => &[Slot::TcpPacket],
            (PayloadMode::Default, true, true) => &[Slot::Stream, Slot::OtherPacket],
            (PayloadMode::Default, true, false) => &[Slot::Stream],
            (_, false, _) => &[Slot::OtherPacket],
        }
    }
}

/// An automaton over one buffer spec for one direction.
#[derive(Debug)]
struct Group {
    spec: u16,
    to_server: bool,
    slot: Slot,
    ac: mpm::MultiPattern,
    /// Per automaton pattern: its case variants.
    variants: Vec<Vec<Variant>>,
}

/// An interned buffer spec.
#[derive(Debug)]
struct Spec {
    spec: BufferSpec,
    name: String,
    /// Rules without a fast pattern evaluated whenever this spec is present.
    always: Vec<u32>,
}

/// Per-inspection scratch: reused, never shrunk.
#[derive(Debug, Default)]
struct Work {
    gen: u32,
    rule_seen: Vec<u32>,
    variant_done: Vec<u32>,
    /// Per variant done this generation in a stream group: its index in
    /// `carry_out`.
    variant_carry: Vec<u32>,
    /// Stream prefilter hits carried in from the last stream point of this
    /// flow direction, and those to carry out of this one.
    carry_in: Vec<state::Carry>,
    carry_out: Vec<state::Carry>,
    candidates: Vec<u32>,
    /// Materialized derived/transformed buffers by spec id: (gen, present, bytes).
    mats: Vec<(u32, bool, Vec<u8>)>,
    tmp: Vec<u8>,
    pcre: PcreScratch,
}

#[derive(Debug, Default)]
struct Counters {
    inspections: u64,
    candidates: u64,
    evaluated: u64,
    matches: u64,
    alerts: u64,
    stream_repeats: u64,
    carry_overflow: u64,
    flowbits_overflow: u64,
    backtrack_exhausted: u64,
    passed: u64,
}

/// The compiled ruleset and its state: prefilter automata, verification,
/// flowbits and thresholds. See the module docs.
#[derive(Debug)]
pub struct SignatureEngine {
    rules: Vec<CRule>,
    groups: Vec<Group>,
    specs: Vec<Spec>,
    header_rules: Vec<u32>,
    iponly: IpOnly,
    flowbit_names: Vec<String>,
    flows: FlowTable,
    thresholds: ThresholdTable,
    work: Work,
    counters: Counters,
}

/// IP-only rules: those whose source is any (always run), and those with
/// address lists, run only when the sender is in the union of their sources
/// (or, for `<>` rules, the receiver is).
#[derive(Debug)]
struct IpOnly {
    any: Vec<u32>,
    listed: Vec<u32>,
    fwd: AddrSet,
    rev: AddrSet,
}

impl IpOnly {
    fn new(rules: &[CRule], sources: &[&Rule], ids: Vec<u32>) -> Self {
        use crate::rule::AddrSpec;
        let mut any = Vec::new();
        let mut listed = Vec::new();
        let mut fwd: Vec<AddrSpec> = Vec::new();
        let mut rev: Vec<AddrSpec> = Vec::new();
        for id in ids {
            let (Some(r), Some(src)) = (rules.get(id as usize), sources.get(id as usize)) else {
                continue;
            };
            if r.src.is_any() || (r.both_ways && r.dst.is_any()) {
                any.push(id);
                continue;
            }
            listed.push(id);
            fwd.push(src.src.clone());
            if r.both_ways {
                rev.push(src.src.clone());
                fwd.push(src.dst.clone());
                rev.push(src.dst.clone());
            }
        }
        let set = |v: Vec<AddrSpec>| {
            if v.is_empty() {
                AddrSet::new(&AddrSpec::List(vec![AddrSpec::Not(Box::new(
                    AddrSpec::Any,
                ))]))
            } else {
                AddrSet::new(&AddrSpec::List(v))
            }
        };
        Self {
            any,
            listed,
            fwd: set(fwd),
            rev: set(rev),
        }
    }
}

/// Compile state: interning of specs and bit names.
#[derive(Debug, Default)]
struct Interner {
    specs: Vec<BufferSpec>,
    spec_ids: HashMap<BufferSpec, u16>,
    bits: Vec<String>,
    bit_ids: HashMap<String, u32>,
}

impl Interner {
    fn spec(&mut self, s: &BufferSpec) -> Option<u16> {
        if let Some(&id) = self.spec_ids.get(s) {
            return Some(id);
        }
        let id = u16::try_from(self.specs.len()).ok()?;
        self.specs.push(s.clone());
        self.spec_ids.insert(s.clone(), id);
        Some(id)
    }

    fn bit(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.bit_ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.bits.len()).unwrap_or(u32::MAX);
        self.bits.push(name.to_owned());
        self.bit_ids.insert(name.to_owned(), id);
        id
    }
}

/// The Suricata name of a buffer spec, for evidence.
fn spec_name(spec: &BufferSpec) -> String {
    let base = match spec.sel {
        BufferSel::Payload => "payload".to_owned(),
        BufferSel::Seam(b) => buffer_name(b).to_owned(),
        BufferSel::HttpHeaderValue { name, .. } => format!("http.header[{name}]"),
        BufferSel::HttpHeaderNames { .. } => "http.header_names".to_owned(),
    };
    if spec.transforms.is_empty() {
        base
    } else {
        let t: Vec<String> = spec
            .transforms
            .iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect();
        format!("{base}|{}", t.join("|"))
    }
}

/// The Suricata keyword of a seam buffer.
pub fn buffer_name(b: Buffer) -> &'static str {
    match b {
        Buffer::Packet => "pkt_data",
        Buffer::Stream => "stream",
        Buffer::HttpMethod => "http.method",
        Buffer::HttpUri => "http.uri",
        Buffer::HttpRawUri => "http.uri.raw",
        Buffer::HttpHost => "http.host",
        Buffer::HttpUserAgent => "http.user_agent",
        Buffer::HttpHeader => "http.header",
        Buffer::HttpRequestBody => "http.request_body",
        Buffer::HttpStatCode => "http.stat_code",
        Buffer::HttpResponseHeader => "http.response_header",
        Buffer::FileData => "file.data",
        Buffer::DnsQuery => "dns.query",
        Buffer::TlsSni => "tls.sni",
        Buffer::TlsCertSubject => "tls.cert_subject",
        Buffer::TlsCertIssuer => "tls.cert_issuer",
        Buffer::Ja3Hash => "ja3.hash",
        Buffer::Ja3String => "ja3.string",
        _ => "unknown",
    }
}

fn num_format(endian: Endian, string: Option<NumBase>) -> NumFormat {
    match (string, endian) {
        (Some(NumBase::Dec), _) => NumFormat::String(10),
        (Some(NumBase::Hex), _) => NumFormat::String(16),
        (Some(NumBase::Oct), _) => NumFormat::String(8),
        (None, Endian::Big) => NumFormat::Big,
        (None, Endian::Little) => NumFormat::Little,
    }
}

/// A rule's fast pattern: (detection index, the bytes used).
fn pick_fast_pattern(rule: &Rule) -> Option<(usize, Vec<u8>)> {
    let positive = |i: usize| match rule.detection.get(i).map(|d| &d.kind) {
        Some(DetectKind::Content(c)) if !c.negated && !c.pattern.is_empty() => Some(c),
        _ => None,
    };
    if let Some(i) = rule.explicit_fast_pattern() {
        if let Some(c) = positive(i) {
            let bytes = match c.fast_pattern {
                FastPattern::Chop { offset, len } => c
                    .pattern
                    .get(usize::from(offset)..usize::from(offset) + usize::from(len))
                    .filter(|s| !s.is_empty())
                    .unwrap_or(&c.pattern)
                    .to_vec(),
                _ => c.pattern.clone(),
            };
            return Some((i, bytes));
        }
    }
    let mut best: Option<(usize, usize, bool)> = None;
    for i in 0..rule.detection.len() {
        let Some(c) = positive(i) else { continue };
        let sticky = rule
            .detection
            .get(i)
            .is_some_and(|d| d.buffer.sel != BufferSel::Payload);
        let better = match best {
            None => true,
            Some((_, len, bsticky)) => {
                c.pattern.len() > len || (c.pattern.len() == len && sticky && !bsticky)
            }
        };
        if better {
            best = Some((i, c.pattern.len(), sticky));
        }
    }
    let (i, ..) = best?;
    positive(i).map(|c| (i, c.pattern.clone()))
}

impl SignatureEngine {
    /// Compile `rules`; rules the engine cannot evaluate are rejected with
    /// a reason in the summary.
    pub fn compile(rules: Vec<Rule>) -> (SignatureEngine, CompileSummary) {
        let started = Instant::now();
        let mut summary = CompileSummary {
            rules_in: rules.len(),
            ..CompileSummary::default()
        };
        let mut interner = Interner::default();
        // Flowbit setters first, so a rule checking a bit set by another
        // rule at the same inspection point sees it (Suricata orders so too).
        let mut rules = rules;
        // Pass rules before everything (Suricata's default action order).
        rules.sort_by_key(|r| {
            (
                r.action != crate::rule::Action::Pass,
                !r.flowbits.iter().any(|f| !f.cmd.is_condition()),
            )
        });
        let mut compiled: Vec<CRule> = Vec::with_capacity(rules.len());
        let mut fps: Vec<Option<(u16, Vec<u8>, bool)>> = Vec::with_capacity(rules.len());
        let mut sources: Vec<&Rule> = Vec::with_capacity(rules.len());
        for rule in &rules {
            match compile_rule(rule, &mut interner, &mut summary) {
                Ok((c, fp)) => {
                    compiled.push(c);
                    fps.push(fp);
                    sources.push(rule);
                }
                Err(e) => {
                    *summary.rejected.entry(e.reason()).or_default() += 1;
                    summary
                        .rejected_rules
                        .push((rule.gid, rule.sid, e.to_string()));
                }
            }
        }
        let mut specs: Vec<Spec> = interner
            .specs
            .iter()
            .map(|s| Spec {
                spec: s.clone(),
                name: spec_name(s),
                always: Vec::new(),
            })
            .collect();
        let mut header_rules = Vec::new();
        let mut iponly_rules = Vec::new();
        // (spec, to_server) → pattern (lowercased) → variants.
        type Patterns = (
            Vec<Vec<u8>>,
            HashMap<Vec<u8>, usize>,
            Vec<Vec<(Option<Vec<u8>>, Vec<u32>)>>,
        );
        let mut per_group: BTreeMap<(u16, bool, Slot), Patterns> = BTreeMap::new();
        for (idx, (rule, fp)) in compiled.iter().zip(&fps).enumerate() {
            let id = u32::try_from(idx).unwrap_or(u32::MAX);
            let kind = match fp {
                Some(_) => Kind::Prefilter,
                None if !rule.groups.is_empty() => Kind::Always,
                None if rule.flow == FlowOpts::default()
                    && rule.dsize.is_none()
                    && rule.bit_conds.is_empty() =>
                {
                    Kind::IpOnly
                }
                None => Kind::Header,
            };
            match kind {
                Kind::Prefilter => {
                    summary.prefiltered += 1;
                    let Some((spec, pat, nocase)) = fp else {
                        continue;
                    };
                    let dirs: &[bool] = match rule.flow.dir {
                        Some(FlowDir::ToServer) => &[true],
                        Some(FlowDir::ToClient) => &[false],
                        None => &[true, false],
                    };
                    // The automaton holds at most the last MAX_PREFILTER_LEN
                    // bytes of a pattern (the tail is the distinctive part
                    // of URIs, names and paths): the DFA stays small and
                    // verification checks the whole content anyway.
                    let pat = &pat[pat.len().saturating_sub(MAX_PREFILTER_LEN)..];
                    let slots = match specs.get(usize::from(*spec)) {
                        Some(s) if s.spec.sel == BufferSel::Payload => {
                            Slot::of(rule.mode, rule.protocol)
                        }
                        _ => &[Slot::Seam],
                    };
                    for (&dir, &slot) in dirs.iter().flat_map(|d| slots.iter().map(move |s| (d, s)))
                    {
                        let (pats, index, variants) =
                            per_group.entry((*spec, dir, slot)).or_default();
                        let lower = pat.to_ascii_lowercase();
                        let pi = *index.entry(lower.clone()).or_insert_with(|| {
                            pats.push(lower);
                            variants.push(Vec::new());
                            pats.len() - 1
                        });
                        let exact = (!nocase).then(|| pat.to_vec());
                        if let Some(vs) = variants.get_mut(pi) {
                            match vs.iter_mut().find(|(e, _)| *e == exact) {
                                Some((_, rs)) => rs.push(id),
                                None => vs.push((exact, vec![id])),
                            }
                        }
                    }
                }
                Kind::Always => {
                    summary.always += 1;
                    // Scheduled under its first buffer; the others are
                    // checked for presence when it runs.
                    if let Some(s) = rule
                        .groups
                        .first()
                        .and_then(|(s, _)| specs.get_mut(usize::from(*s)))
                    {
                        s.always.push(id);
                    }
                }
                Kind::Header => {
                    summary.header_only += 1;
                    header_rules.push(id);
                }
                Kind::IpOnly => {
                    summary.ip_only += 1;
                    iponly_rules.push(id);
                }
            }
        }
        let mut groups = Vec::new();
        let mut variant_count: u32 = 0;
        for ((spec, to_server, slot), (pats, _, variants)) in per_group {
            let ac = mpm::MultiPattern::new(&pats);
            summary.patterns += pats.len();
            summary.automata += 1;
            summary.prefilter_bytes += ac.heap_bytes();
            let variants = variants
                .into_iter()
                .map(|vs| {
                    vs.into_iter()
                        .map(|(exact, rules)| {
                            let id = variant_count;
                            variant_count += 1;
                            Variant {
                                exact: exact.map(Vec::into_boxed_slice),
                                rules,
                                id,
                            }
                        })
                        .collect()
                })
                .collect();
            groups.push(Group {
                spec,
                to_server,
                slot,
                ac,
                variants,
            });
        }
        summary.compiled = compiled.len();
        summary.elapsed = started.elapsed();
        let n_rules = compiled.len();
        let n_specs = specs.len();
        let iponly = IpOnly::new(&compiled, &sources, iponly_rules);
        drop(sources);
        let engine = SignatureEngine {
            rules: compiled,
            groups,
            specs,
            header_rules,
            iponly,
            flowbit_names: interner.bits,
            flows: FlowTable::default(),
            thresholds: ThresholdTable::default(),
            work: Work {
                rule_seen: vec![0; n_rules],
                variant_done: vec![0; variant_count as usize],
                variant_carry: vec![0; variant_count as usize],
                mats: (0..n_specs).map(|_| (0, false, Vec::new())).collect(),
                ..Work::default()
            },
            counters: Counters::default(),
        };
        (engine, summary)
    }

    /// Rules compiled.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Flowbit names in use.
    pub fn flowbit_names(&self) -> &[String] {
        &self.flowbit_names
    }
}

/// Compile one rule: the compiled form and its fast pattern (spec, bytes, nocase).
#[allow(clippy::type_complexity)]
fn compile_rule(
    rule: &Rule,
    interner: &mut Interner,
    summary: &mut CompileSummary,
) -> Result<(CRule, Option<(u16, Vec<u8>, bool)>), CompileError> {
    if !rule.xbits.is_empty() {
        return Err(CompileError::Unsupported("xbits"));
    }
    if rule.uses_payload()
        && rule
            .detection
            .iter()
            .any(|d| d.buffer.sel != BufferSel::Payload)
    {
        summary.mixed_payload += 1;
    }
    let mut groups: Vec<(u16, Vec<Item>)> = Vec::new();
    let mut fp_spec = None;
    let fp = pick_fast_pattern(rule);
    for (i, d) in rule.detection.iter().enumerate() {
        let spec = interner.spec(&d.buffer).ok_or(CompileError::Unsupported(
            "more than 65535 distinct buffers",
        ))?;
        if fp.as_ref().is_some_and(|(fi, _)| *fi == i) {
            fp_spec = Some(spec);
        }
        let item = match &d.kind {
            DetectKind::Content(c) => Item::Content(ContentItem::new(
                &c.pattern,
                c.nocase,
                c.negated,
                c.offset,
                c.depth,
                c.distance,
                c.within,
                c.startswith,
                c.endswith,
            )),
            DetectKind::Pcre(p) => {
                let flags = pcre::PcreFlags {
                    caseless: p.flags.caseless,
                    dotall: p.flags.dotall,
                    multiline: p.flags.multiline,
                    extended: p.flags.extended,
                    ungreedy: p.flags.ungreedy,
                    anchored: p.flags.anchored,
                };
                let re = pcre::Regex::compile(&p.pattern, flags).map_err(CompileError::Pcre)?;
                if matches!(re, pcre::Regex::Fancy(_)) {
                    summary.pcre_backtracking += 1;
                }
                Item::Pcre(PcreItem {
                    re,
                    negated: p.negated,
                    relative: p.flags.relative,
                    anchored: p.flags.anchored,
                })
            }
            DetectKind::ByteTest(t) => Item::ByteTest(verify::ByteTest {
                nbytes: t.bytes,
                op: match t.op {
                    crate::rule::ByteOp::Lt => verify::ByteOp::Lt,
                    crate::rule::ByteOp::Gt => verify::ByteOp::Gt,
                    crate::rule::ByteOp::Eq => verify::ByteOp::Eq,
                    crate::rule::ByteOp::Le => verify::ByteOp::Le,
                    crate::rule::ByteOp::Ge => verify::ByteOp::Ge,
                    crate::rule::ByteOp::And => verify::ByteOp::And,
                    crate::rule::ByteOp::Xor => verify::ByteOp::Xor,
                },
                negated: t.negated,
                value: t.value,
                offset: t.offset,
                relative: t.relative,
                format: num_format(t.endian, t.string),
                bitmask: t.bitmask,
            }),
            DetectKind::ByteJump(j) => Item::ByteJump(verify::ByteJump {
                nbytes: j.bytes,
                offset: j.offset,
                relative: j.relative,
                format: num_format(j.endian, j.string),
                multiplier: j.multiplier,
                align: j.align,
                from_beginning: j.from_beginning,
                from_end: j.from_end,
                post_offset: j.post_offset,
                bitmask: j.bitmask,
            }),
            DetectKind::IsDataAt(d) => Item::IsDataAt {
                n: d.offset,
                relative: d.relative,
                negated: d.negated,
            },
            DetectKind::Bsize(cmp) => Item::Bsize(*cmp),
        };
        match groups.iter_mut().find(|(s, _)| *s == spec) {
            Some((_, items)) => items.push(item),
            None => groups.push((spec, vec![item])),
        }
    }
    let mut bit_conds = Vec::new();
    let mut bit_acts = Vec::new();
    for f in &rule.flowbits {
        let ids: Vec<u32> = f.names.iter().map(|n| interner.bit(n)).collect();
        if f.cmd.is_condition() {
            bit_conds.push(BitCond {
                cmd: f.cmd,
                ids,
                any: f.any,
            });
        } else {
            bit_acts.push((f.cmd, ids));
        }
    }
    let mode = if matches!(rule.protocol, Protocol::TcpPkt)
        || rule.flow.stream == Some(StreamMode::NoStream)
        || rule.dsize.is_some()
    {
        PayloadMode::Packet
    } else if matches!(rule.protocol, Protocol::TcpStream)
        || rule.flow.stream == Some(StreamMode::OnlyStream)
    {
        PayloadMode::Stream
    } else {
        PayloadMode::Default
    };
    let priority = rule.priority.unwrap_or_else(|| {
        rule.classtype
            .as_deref()
            .map_or(3, output::classtype_priority)
    });
    let nocase = fp
        .as_ref()
        .and_then(|(i, _)| match rule.detection.get(*i).map(|d| &d.kind) {
            Some(DetectKind::Content(c)) => Some(c.nocase),
            _ => None,
        });
    let meta = RuleMeta {
        rule_ref: RuleRef {
            gid: rule.gid,
            sid: rule.sid,
            rev: rule.rev,
            msg: rule.msg.clone(),
            classtype: rule.classtype.clone(),
            action: rule.action.name().to_owned(),
            references: rule
                .references
                .iter()
                .map(|r| format!("{},{}", r.kind, r.value))
                .collect(),
            metadata: rule.metadata.clone(),
            source: rule
                .origin
                .as_ref()
                .map(|o| format!("{}:{}", o.file, o.line)),
        },
        severity: output::severity(priority, rule.classtype.as_deref()),
        priority,
        target: rule.target,
        fast_pattern: fp.as_ref().map(|(_, b)| output::printable(b)),
    };
    let c = CRule {
        meta,
        protocol: rule.protocol,
        src: AddrSet::new(&rule.src),
        src_ports: PortSet::new(&rule.src_ports),
        dst: AddrSet::new(&rule.dst),
        dst_ports: PortSet::new(&rule.dst_ports),
        both_ways: rule.direction == RuleDirection::Both,
        flow: rule.flow,
        dsize: rule.dsize,
        bit_conds,
        bit_acts,
        noalert: rule.noalert,
        pass: rule.action == crate::rule::Action::Pass,
        threshold: rule.threshold,
        filter: rule.detection_filter,
        groups,
        mode,
    };
    let fp = match (fp, fp_spec) {
        (Some((_, bytes)), Some(spec)) => Some((spec, bytes, nocase.unwrap_or(false))),
        _ => None,
    };
    Ok((c, fp))
}

/// Apply `transforms` to `input` into `out`.
fn apply_transforms(transforms: &[Transform], input: &[u8], out: &mut Vec<u8>, tmp: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(input);
    for t in transforms {
        tmp.clear();
        match t {
            Transform::DotPrefix => {
                tmp.push(b'.');
                tmp.extend_from_slice(out);
            }
            Transform::StripWhitespace => {
                tmp.extend(out.iter().filter(|b| !b.is_ascii_whitespace()))
            }
            Transform::CompressWhitespace => {
                let mut in_ws = false;
                for &b in out.iter() {
                    if b.is_ascii_whitespace() {
                        if !in_ws {
                            tmp.push(b' ');
                        }
                        in_ws = true;
                    } else {
                        tmp.push(b);
                        in_ws = false;
                    }
                }
            }
            Transform::ToLowercase => tmp.extend(out.iter().map(u8::to_ascii_lowercase)),
            Transform::ToUppercase => tmp.extend(out.iter().map(u8::to_ascii_uppercase)),
            Transform::UrlDecode => {
                let mut i = 0;
                while let Some(&b) = out.get(i) {
                    let hex = |k: usize| out.get(k).and_then(|c| char::from(*c).to_digit(16));
                    match (b, hex(i + 1), hex(i + 2)) {
                        (b'%', Some(h), Some(l)) => {
                            tmp.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                            i += 3;
                        }
                        (b'+', ..) => {
                            tmp.push(b' ');
                            i += 1;
                        }
                        _ => {
                            tmp.push(b);
                            i += 1;
                        }
                    }
                }
            }
            Transform::HeaderLowercase => {
                let mut at_name = true;
                for &b in out.iter() {
                    if b == b'\n' {
                        at_name = true;
                        tmp.push(b);
                    } else if b == b':' && at_name {
                        at_name = false;
                        tmp.push(b);
                    } else if at_name {
                        tmp.push(b.to_ascii_lowercase());
                    } else {
                        tmp.push(b);
                    }
                }
            }
            Transform::StripPseudoHeaders => tmp.extend_from_slice(out),
            Transform::ToMd5 => {
                use md5::Digest as _;
                tmp.extend_from_slice(&md5::Md5::digest(&out[..]));
            }
            Transform::ToSha1 => {
                use sha1::Digest as _;
                tmp.extend_from_slice(&sha1::Sha1::digest(&out[..]));
            }
            Transform::ToSha256 => {
                use sha2::Digest as _;
                tmp.extend_from_slice(&sha2::Sha256::digest(&out[..]));
            }
        }
        std::mem::swap(out, tmp);
    }
}

/// One inspection point's buffers as the engine resolves them.
struct Point<'a, 'c> {
    ctx: &'c InspectCtx<'c>,
    buffers: &'c [(Buffer, &'a [u8])],
    packet: Option<&'a [u8]>,
    stream: Option<&'a [u8]>,
    tcp: bool,
}

impl<'a> Point<'a, '_> {
    fn seam(&self, b: Buffer) -> Option<&'a [u8]> {
        self.buffers.iter().find(|(k, _)| *k == b).map(|(_, v)| *v)
    }

    /// The payload a rule of `mode` inspects here: (bytes, stream base, is stream).
    fn payload(&self, mode: PayloadMode) -> Option<(&'a [u8], u64, bool)> {
        let stream = self.stream.map(|s| (s, self.ctx.stream_offset, true));
        let packet = self.packet.map(|p| (p, 0, false));
        match mode {
            PayloadMode::Stream => stream,
            PayloadMode::Packet => packet,
            PayloadMode::Default if self.tcp => stream,
            PayloadMode::Default => packet,
        }
    }
}

/// Resolve the bytes of spec `id` at `pt` (for `mode`'s payload), materializing
/// derived and transformed buffers into `mats`. Returns (base, is stream) and
/// leaves the bytes readable through [`spec_bytes`].
fn ensure_spec(
    specs: &[Spec],
    id: u16,
    pt: &Point<'_, '_>,
    mode: PayloadMode,
    gen: u32,
    mats: &mut [(u32, bool, Vec<u8>)],
    tmp: &mut Vec<u8>,
) -> Option<(u64, bool)> {
    let spec = &specs.get(usize::from(id))?.spec;
    let (raw, base, stream): (&[u8], u64, bool) = match spec.sel {
        BufferSel::Payload => pt.payload(mode)?,
        BufferSel::Seam(b) => (pt.seam(b)?, 0, false),
        BufferSel::HttpHeaderValue { side, .. } | BufferSel::HttpHeaderNames { side } => {
            let slot = mats.get_mut(usize::from(id))?;
            if slot.0 != gen {
                slot.0 = gen;
                let block = side.sources().iter().find_map(|b| pt.seam(*b));
                slot.1 = match block {
                    Some(block) => {
                        let mut derived = std::mem::take(tmp);
                        let ok = spec.sel.derive(block, &mut derived);
                        if ok && !spec.transforms.is_empty() {
                            let mut scratch = Vec::new();
                            apply_transforms(&spec.transforms, &derived, &mut slot.2, &mut scratch);
                        } else {
                            std::mem::swap(&mut slot.2, &mut derived);
                        }
                        *tmp = derived;
                        ok
                    }
                    None => false,
                };
            }
            return slot.1.then_some((0, false));
        }
    };
    if spec.transforms.is_empty() {
        return Some((base, stream));
    }
    let slot = mats.get_mut(usize::from(id))?;
    // Payload specs depend on the mode; re-materialize when it differs.
    if slot.0 != gen || matches!(spec.sel, BufferSel::Payload) {
        slot.0 = gen;
        slot.1 = true;
        apply_transforms(&spec.transforms, raw, &mut slot.2, tmp);
    }
    // Transformed bytes are not stream positions.
    Some((0, false))
}

/// The bytes of spec `id` after [`ensure_spec`].
fn spec_bytes<'a>(
    specs: &[Spec],
    id: u16,
    pt: &Point<'a, '_>,
    mode: PayloadMode,
    mats: &'a [(u32, bool, Vec<u8>)],
) -> Option<&'a [u8]> {
    let spec = &specs.get(usize::from(id))?.spec;
    let materialized = !spec.transforms.is_empty()
        || matches!(
            spec.sel,
            BufferSel::HttpHeaderValue { .. } | BufferSel::HttpHeaderNames { .. }
        );
    if materialized {
        return mats.get(usize::from(id)).filter(|m| m.1).map(|m| &m.2[..]);
    }
    match spec.sel {
        BufferSel::Payload => pt.payload(mode).map(|p| p.0),
        BufferSel::Seam(b) => pt.seam(b),
        _ => None,
    }
}

impl CRule {
    fn header_matches(&self, ctx: &InspectCtx<'_>) -> bool {
        let proto = ctx.ip_protocol;
        let ok = match self.protocol {
            Protocol::Ip => true,
            Protocol::Tcp | Protocol::TcpPkt | Protocol::TcpStream => proto == 6,
            Protocol::Udp => proto == 17,
            Protocol::Icmp => proto == 1 || proto == 58,
            Protocol::App(a) => ctx.app == Some(a),
        };
        if !ok {
            return false;
        }
        let flow = ctx.flow;
        let (s, d) = match ctx.dir {
            Direction::ToResponder => (&flow.originator, &flow.responder),
            Direction::ToOriginator => (&flow.responder, &flow.originator),
        };
        let fwd = self.src.contains(s.ip)
            && self.dst.contains(d.ip)
            && self.src_ports.contains(s.port)
            && self.dst_ports.contains(d.port);
        if fwd {
            return true;
        }
        self.both_ways
            && self.src.contains(d.ip)
            && self.dst.contains(s.ip)
            && self.src_ports.contains(d.port)
            && self.dst_ports.contains(s.port)
    }

    fn flow_matches(&self, ctx: &InspectCtx<'_>, from_stream: Option<bool>) -> bool {
        match self.flow.state {
            Some(FlowCond::Established) if !ctx.established => return false,
            Some(FlowCond::NotEstablished) if ctx.established => return false,
            _ => {}
        }
        match self.flow.dir {
            Some(FlowDir::ToServer) if !ctx.to_server => return false,
            Some(FlowDir::ToClient) if ctx.to_server => return false,
            _ => {}
        }
        !matches!(
            (self.flow.stream, from_stream),
            (Some(StreamMode::OnlyStream), Some(false)) | (Some(StreamMode::NoStream), Some(true))
        )
    }
}

fn bits_hold(conds: &[BitCond], bits: &state::FlowState) -> bool {
    conds.iter().all(|c| {
        let test = |id: &u32| bits.has(*id);
        let set = if c.any {
            c.ids.iter().any(test)
        } else {
            c.ids.iter().all(test)
        };
        match c.cmd {
            BitCmd::IsSet => set,
            BitCmd::IsNotSet => {
                if c.any {
                    !c.ids.iter().all(test)
                } else {
                    !c.ids.iter().any(test)
                }
            }
            _ => true,
        }
    })
}

/// Result of evaluating one rule at a point.
struct Hit {
    spec: u16,
    span: Option<(usize, usize)>,
    base: u64,
    /// For stream payload: the absolute end of the last positive match.
    stream_end: Option<u64>,
}

impl SignatureEngine {
    /// Evaluate rule `id` at `pt`; `Some` when everything matches.
    fn eval(&mut self, id: u32, pt: &Point<'_, '_>, fstate: &state::FlowState) -> Option<Hit> {
        let rule = self.rules.get(id as usize)?;
        self.counters.evaluated += 1;
        if !rule.header_matches(pt.ctx) {
            return None;
        }
        let uses_payload = rule.groups.iter().any(|(s, _)| {
            self.specs
                .get(usize::from(*s))
                .is_some_and(|s| s.spec.sel == BufferSel::Payload)
        });
        let from_stream = if uses_payload {
            pt.payload(rule.mode).map(|p| p.2)
        } else {
            None
        };
        if !rule.flow_matches(pt.ctx, from_stream) {
            return None;
        }
        if let Some(d) = rule.dsize {
            if !pt.packet.is_some_and(|p| d.matches(p.len() as u64)) {
                return None;
            }
        }
        if !bits_hold(&rule.bit_conds, fstate) {
            return None;
        }
        let work = &mut self.work;
        // Every buffer must be present before any is verified.
        for (spec, _) in &rule.groups {
            ensure_spec(
                &self.specs,
                *spec,
                pt,
                rule.mode,
                work.gen,
                &mut work.mats,
                &mut work.tmp,
            )?;
        }
        let mut hit = Hit {
            spec: 0,
            span: None,
            base: 0,
            stream_end: None,
        };
        for (gi, (spec, items)) in rule.groups.iter().enumerate() {
            let (base, stream) = ensure_spec(
                &self.specs,
                *spec,
                pt,
                rule.mode,
                work.gen,
                &mut work.mats,
                &mut work.tmp,
            )?;
            let bytes = spec_bytes(&self.specs, *spec, pt, rule.mode, &work.mats)?;
            let mut v = Verifier {
                buf: bytes,
                base,
                budget: BACKTRACK_BUDGET,
                scratch: &mut work.pcre,
                first_match: None,
            };
            let end = v.run(items);
            if v.budget == 0 {
                self.counters.backtrack_exhausted += 1;
            }
            let end = end?;
            if gi == 0 || hit.span.is_none() {
                hit.spec = *spec;
                hit.span = v.first_match;
                hit.base = base;
            }
            if stream {
                hit.stream_end = Some(base + end as u64);
            }
        }
        if rule.groups.is_empty() {
            hit.span = None;
        }
        Some(hit)
    }

    /// Collect the candidates of the automata over the buffers at `pt`.
    /// `seen`: the end of the stream bytes inspected before in this
    /// direction; a stream point's automata then scan only from the last
    /// `MAX_PREFILTER_LEN - 1` bytes before it on (so every hit ending in new
    /// bytes is found) and take the hits in the repeated tail from
    /// `work.carry_in`; the hits to carry on go to `work.carry_out`.
    fn candidates_from_prefilter(&mut self, pt: &Point<'_, '_>, seen: Option<u64>) {
        let to_server = pt.ctx.to_server;
        let gen = self.work.gen;
        let base = pt.ctx.stream_offset;
        // Carried hits still inside this point's buffer.
        if pt.stream.is_some() {
            let work = &mut self.work;
            for c in &work.carry_in {
                if c.start < base {
                    continue;
                }
                let Some(v) = self
                    .groups
                    .get(c.group as usize)
                    .and_then(|g| g.variants.get(c.pattern as usize))
                    .and_then(|vs| vs.get(c.variant as usize))
                else {
                    continue;
                };
                let Some(done) = work.variant_done.get_mut(v.id as usize) else {
                    continue;
                };
                if *done == gen {
                    continue;
                }
                *done = gen;
                if let Some(slot) = work.variant_carry.get_mut(v.id as usize) {
                    *slot = work.carry_out.len() as u32;
                }
                work.carry_out.push(*c);
                for &r in &v.rules {
                    if let Some(s) = work.rule_seen.get_mut(r as usize) {
                        if *s != gen {
                            *s = gen;
                            work.candidates.push(r);
                        }
                    }
                }
            }
        }
        for (gi, g) in self.groups.iter().enumerate() {
            if g.to_server != to_server || (g.slot != Slot::Seam && pt.ctx.payload_encrypted) {
                continue;
            }
            // A payload group scans the one payload of its slot.
            let mode = match g.slot {
                Slot::Seam => PayloadMode::Default,
                Slot::Stream => PayloadMode::Stream,
                Slot::TcpPacket | Slot::OtherPacket => {
                    if (g.slot == Slot::TcpPacket) != pt.tcp {
                        continue;
                    }
                    PayloadMode::Packet
                }
            };
            {
                let work = &mut self.work;
                if ensure_spec(
                    &self.specs,
                    g.spec,
                    pt,
                    mode,
                    gen,
                    &mut work.mats,
                    &mut work.tmp,
                )
                .is_none()
                {
                    continue;
                }
                let Some(hay) = spec_bytes(&self.specs, g.spec, pt, mode, &work.mats) else {
                    continue;
                };
                // Untransformed stream bytes: scan from just before the new
                // bytes, carry hits (see above).
                let carried = g.slot == Slot::Stream
                    && self
                        .specs
                        .get(usize::from(g.spec))
                        .is_some_and(|s| s.spec.transforms.is_empty());
                let from = match seen {
                    Some(seen) if carried => usize::try_from(seen.saturating_sub(base))
                        .unwrap_or(usize::MAX)
                        .saturating_sub(MAX_PREFILTER_LEN - 1)
                        .min(hay.len()),
                    _ => 0,
                };
                let scan = hay.get(from..).unwrap_or_default();
                g.ac.for_each(scan, |pi, m_start, m_end| {
                    let Some(vs) = g.variants.get(pi) else {
                        return;
                    };
                    let (ms, me) = (from + m_start, from + m_end);
                    for (vi, v) in vs.iter().enumerate() {
                        let Some(done) = work.variant_done.get_mut(v.id as usize) else {
                            continue;
                        };
                        if *done == gen && !carried {
                            continue;
                        }
                        if let Some(exact) = &v.exact {
                            if hay.get(ms..me) != Some(&exact[..]) {
                                continue;
                            }
                        }
                        if carried {
                            let start = base + ms as u64;
                            let slot = work.variant_carry.get_mut(v.id as usize);
                            if *done == gen {
                                // A later occurrence: it stays in the tail
                                // longest.
                                if let Some(c) =
                                    slot.and_then(|i| work.carry_out.get_mut(*i as usize))
                                {
                                    c.start = c.start.max(start);
                                }
                                continue;
                            }
                            if let Some(slot) = slot {
                                *slot = work.carry_out.len() as u32;
                            }
                            work.carry_out.push(state::Carry {
                                group: gi as u32,
                                pattern: pi as u32,
                                variant: vi as u32,
                                start,
                            });
                        }
                        *done = gen;
                        for &r in &v.rules {
                            if let Some(seen) = work.rule_seen.get_mut(r as usize) {
                                if *seen != gen {
                                    *seen = gen;
                                    work.candidates.push(r);
                                }
                            }
                        }
                    }
                });
            }
        }
    }

    fn push_candidates(work: &mut Work, ids: &[u32]) {
        for &r in ids {
            if let Some(seen) = work.rule_seen.get_mut(r as usize) {
                if *seen != work.gen {
                    *seen = work.gen;
                    work.candidates.push(r);
                }
            }
        }
    }

    fn next_gen(&mut self) {
        self.work.gen = self.work.gen.wrapping_add(1);
        if self.work.gen == 0 {
            self.work.rule_seen.iter_mut().for_each(|s| *s = 0);
            self.work.variant_done.iter_mut().for_each(|s| *s = 0);
            self.work.mats.iter_mut().for_each(|m| m.0 = 0);
            self.work.gen = 1;
        }
    }

    /// After a match: stream dedup, flowbit actions, thresholds; true when
    /// the rule alerts.
    fn after_match(&mut self, id: u32, pt: &Point<'_, '_>, hit: &Hit, seen: Option<u64>) -> bool {
        let Some(rule) = self.rules.get(id as usize) else {
            return false;
        };
        if let (Some(end), Some(seen)) = (hit.stream_end, seen) {
            if end <= seen {
                self.counters.stream_repeats += 1;
                return false;
            }
        }
        self.counters.matches += 1;
        if !rule.bit_acts.is_empty() {
            let Some(fs) = self
                .flows
                .get_or_insert(&pt.ctx.flow.connection_info.uid, pt.ctx.ts.nanos())
            else {
                return false;
            };
            for (cmd, ids) in &rule.bit_acts {
                for &b in ids {
                    match cmd {
                        BitCmd::Set => {
                            if !fs.set(b) {
                                self.counters.flowbits_overflow += 1;
                            }
                        }
                        BitCmd::Unset => fs.unset(b),
                        BitCmd::Toggle => {
                            if fs.has(b) {
                                fs.unset(b);
                            } else if !fs.set(b) {
                                self.counters.flowbits_overflow += 1;
                            }
                        }
                        BitCmd::IsSet | BitCmd::IsNotSet => {}
                    }
                }
            }
        }
        if rule.pass {
            return true;
        }
        if rule.noalert {
            return false;
        }
        let ctx = pt.ctx;
        let (s, d) = match ctx.dir {
            Direction::ToResponder => (&ctx.flow.originator, &ctx.flow.responder),
            Direction::ToOriginator => (&ctx.flow.responder, &ctx.flow.originator),
        };
        let key = |track: Track| match track {
            Track::BySrc => TrackKey::Ip(s.ip),
            Track::ByDst => TrackKey::Ip(d.ip),
            Track::ByBoth => TrackKey::Pair(s.ip, d.ip),
            Track::ByRule => TrackKey::Rule,
            Track::ByFlow => TrackKey::Flow(fnv64(ctx.flow.connection_info.uid.as_bytes())),
        };
        let now = ctx.ts.nanos();
        if let Some(t) = rule.threshold {
            if !self.thresholds.check(
                id,
                0,
                key(t.track),
                Limiter::Threshold(t.kind, t.count, t.seconds),
                now,
            ) {
                return false;
            }
        }
        if let Some(f) = rule.filter {
            if !self
                .thresholds
                .check(id, 1, key(f.track), Limiter::Filter(f), now)
            {
                return false;
            }
        }
        true
    }
}

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl PayloadInspector for SignatureEngine {
    fn inspect(&mut self, ctx: &InspectCtx<'_>, buffers: &[(Buffer, &[u8])], out: &mut Vec<Event>) {
        self.counters.inspections += 1;
        self.next_gen();
        let find = |b: Buffer| buffers.iter().find(|(k, _)| *k == b).map(|(_, v)| *v);
        let pt = Point {
            ctx,
            buffers,
            packet: find(Buffer::Packet),
            stream: find(Buffer::Stream),
            tcp: ctx.ip_protocol == 6,
        };
        let dir_idx = usize::from(ctx.dir == Direction::ToOriginator);
        let uid = ctx.flow.connection_info.uid.as_str();
        let now = ctx.ts.nanos();

        let mut cands = std::mem::take(&mut self.work.candidates);
        cands.clear();
        self.work.candidates = cands;
        self.work.carry_in.clear();
        self.work.carry_out.clear();
        let mut seen_before = None;
        if pt.stream.is_some() {
            if let Some(fs) = self.flows.get_or_insert(uid, now) {
                seen_before = fs.stream_seen[dir_idx];
                // Swap, so both lists keep their capacity.
                std::mem::swap(&mut self.work.carry_in, &mut fs.carry[dir_idx]);
            }
        }
        self.candidates_from_prefilter(&pt, seen_before);
        // Always-evaluated rules of the buffers present here.
        for spec in &self.specs {
            if spec.always.is_empty() {
                continue;
            }
            let present = match spec.spec.sel {
                BufferSel::Payload => {
                    (pt.packet.is_some() || pt.stream.is_some()) && !ctx.payload_encrypted
                }
                _ => spec
                    .spec
                    .sel
                    .sources()
                    .iter()
                    .any(|b| pt.seam(*b).is_some()),
            };
            if present {
                Self::push_candidates(&mut self.work, &spec.always);
            }
        }
        // Header rules at packet points.
        if pt.packet.is_some() {
            Self::push_candidates(&mut self.work, &self.header_rules);
        }
        // IP-only rules once per flow direction; the address-list rules
        // only when an address of this point is in one of their lists.
        let run_iponly = !(self.iponly.any.is_empty() && self.iponly.listed.is_empty()) && {
            self.flows.get_or_insert(uid, now).is_some_and(|fs| {
                let first = !fs.iponly_done[dir_idx];
                fs.iponly_done[dir_idx] = true;
                first
            })
        };
        if run_iponly {
            Self::push_candidates(&mut self.work, &self.iponly.any);
            let (s, d) = match ctx.dir {
                Direction::ToResponder => (&ctx.flow.originator, &ctx.flow.responder),
                Direction::ToOriginator => (&ctx.flow.responder, &ctx.flow.originator),
            };
            if self.iponly.fwd.contains(s.ip) || self.iponly.rev.contains(d.ip) {
                Self::push_candidates(&mut self.work, &self.iponly.listed);
            }
        }
        let mut cands = std::mem::take(&mut self.work.candidates);
        self.counters.candidates += cands.len() as u64;
        if cands.is_empty() {
            self.work.candidates = cands;
            if pt.stream.is_some() {
                self.note_stream(uid, now, dir_idx, ctx.stream_offset, pt.stream);
            }
            return;
        }
        cands.sort_unstable();
        let out_start = out.len();
        let empty = state::FlowState::default();
        let seen = self.flows.get(uid).and_then(|f| f.stream_seen[dir_idx]);
        for &id in &cands {
            // Flowbits may change between rules: re-read the flow's bits.
            let hit = {
                let bits_needed = self
                    .rules
                    .get(id as usize)
                    .is_some_and(|r| !r.bit_conds.is_empty());
                if bits_needed {
                    let fs = self
                        .flows
                        .get_or_insert(uid, now)
                        .map(std::mem::take)
                        .unwrap_or_default();
                    let h = self.eval(id, &pt, &fs);
                    if let Some(slot) = self.flows.get_or_insert(uid, now) {
                        *slot = fs;
                    }
                    h
                } else {
                    self.eval(id, &pt, &empty)
                }
            };
            let Some(hit) = hit else { continue };
            if !self.after_match(id, &pt, &hit, seen) {
                continue;
            }
            let Some(rule) = self.rules.get(id as usize) else {
                continue;
            };
            if rule.pass {
                // A pass rule matched: nothing at this point alerts.
                self.counters.alerts -= (out.len() - out_start) as u64;
                out.truncate(out_start);
                self.counters.passed += 1;
                break;
            }
            let Some(spec) = self.specs.get(usize::from(hit.spec)) else {
                continue;
            };
            let bytes = spec_bytes(&self.specs, hit.spec, &pt, rule.mode, &self.work.mats)
                .unwrap_or_default();
            let name = if spec.spec.sel == BufferSel::Payload {
                if hit.stream_end.is_some() || (hit.base > 0) {
                    "stream"
                } else {
                    pt.payload(rule.mode)
                        .map_or("payload", |p| if p.2 { "stream" } else { "pkt_data" })
                }
            } else {
                spec.name.as_str()
            };
            let ev = MatchEvidence {
                buffer: name,
                bytes,
                base: hit.base,
                span: hit.span,
            };
            out.push(output::finding(&rule.meta, ctx, &ev));
            self.counters.alerts += 1;
        }
        self.work.candidates = cands;
        if pt.stream.is_some() {
            self.note_stream(uid, now, dir_idx, ctx.stream_offset, pt.stream);
        }
    }

    fn flow_end(&mut self, flow_uid: &str) {
        self.flows.remove(flow_uid);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("sig.rules", self.rules.len() as u64),
            ("sig.inspections", self.counters.inspections),
            ("sig.prefilter_candidates", self.counters.candidates),
            ("sig.rules_evaluated", self.counters.evaluated),
            ("sig.matches", self.counters.matches),
            ("sig.alerts", self.counters.alerts),
            ("sig.passed", self.counters.passed),
            ("sig.threshold_suppressed", self.thresholds.suppressed),
            ("sig.threshold_evicted", self.thresholds.evicted),
            (
                "sig.stream_repeats_suppressed",
                self.counters.stream_repeats,
            ),
            ("sig.flow_state_evicted", self.flows.evicted),
            ("sig.flowbits_evicted", self.flows.evicted_with_bits),
            ("sig.flowbits_overflow", self.counters.flowbits_overflow),
            ("sig.stream_carry_overflow", self.counters.carry_overflow),
            ("sig.backtrack_exhausted", self.counters.backtrack_exhausted),
            ("sig.pcre_errors", self.work.pcre.errors),
            ("sig.flow_state_entries", self.flows.len() as u64),
            ("sig.threshold_entries", self.thresholds.len() as u64),
        ]
    }
}

impl SignatureEngine {
    fn note_stream(
        &mut self,
        uid: &str,
        now: i64,
        dir_idx: usize,
        offset: u64,
        stream: Option<&[u8]>,
    ) {
        let Some(s) = stream else { return };
        let Some(fs) = self.flows.get_or_insert(uid, now) else {
            return;
        };
        let carry = &mut self.work.carry_out;
        if carry.len() > state::MAX_CARRY {
            self.counters.carry_overflow += (carry.len() - state::MAX_CARRY) as u64;
            carry.truncate(state::MAX_CARRY);
        }
        let kept = &mut fs.carry[dir_idx];
        kept.clear();
        kept.extend_from_slice(carry);
        let end = offset + s.len() as u64;
        let slot = &mut fs.stream_seen[dir_idx];
        *slot = Some(slot.map_or(end, |v| v.max(end)));
    }
}

#[cfg(test)]
mod tests;
