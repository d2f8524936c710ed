//! Evidence capture: the last packets of every flow kept in a bounded ring,
//! so that when a flow or host is found risky its packets from *before* the
//! trigger can be written to an incident pcap, followed by its later
//! packets.
//!
//! Contract:
//! - [`Evidence::packet`] is called by the pipeline for each raw packet it
//!   decoded, with the flow it was accounted to and the events that packet
//!   made (flow records among them mark flows that ended). Each flow keeps
//!   a ring of its last [`EvidenceConfig::ring_packets`] packets and
//!   [`EvidenceConfig::ring_bytes`] frame bytes; all rings together keep at
//!   most [`EvidenceConfig::budget_bytes`] (the least recently active
//!   flow's oldest packets go first) and at most
//!   [`EvidenceConfig::max_rings`] flows. Everything dropped is counted.
//! - [`Evidence::start`] opens an incident for a flow (by uid) or a host (by
//!   address): the packets held for it are written at once (a host's from
//!   all its flows, in capture order), and its later packets are appended
//!   until the flow ends (a flow incident) or the host has been quiet for
//!   [`EvidenceConfig::host_idle_secs`] of event time (a host incident), or
//!   [`Evidence::finish`]. Findings are made after the pipeline has handled
//!   the packet that caused them, so a ring is kept until the next packet
//!   even after its flow ended: a trigger that arrives with the flow's last
//!   events still finds its packets.
//! - One incident is one pcap file in [`EvidenceConfig::dir`]
//!   (`incident-0001-flow-F….pcap`, `incident-0002-host-10.0.0.5.pcap`);
//!   packets of a second link type go to a sibling file
//!   (`…-linktype-113.pcap`), since a classic pcap has one link type.
//!   Each incident, when it ends, is appended to `incidents.jsonl` in the
//!   same directory (target, files, packets before and after the trigger,
//!   times, why it ended).
//! - Writing errors never stop the pipeline: the incident is closed, the
//!   error logged and counted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vigil_event::{Body, Event, Timestamp};

use crate::app::FlowMeta;
use crate::capture::{LinkType, RawPacket};
use crate::pcap_write::PcapWriter;

/// Evidence capture limits and where incidents go.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// Directory for incident pcaps and `incidents.jsonl` (created on the
    /// first incident).
    pub dir: PathBuf,
    /// Packets kept per flow before a trigger (default 64).
    pub ring_packets: usize,
    /// Frame bytes kept per flow before a trigger (default 256 KiB).
    pub ring_bytes: usize,
    /// Frame bytes kept over all flows (default 64 MiB).
    pub budget_bytes: usize,
    /// Flows with a ring at once (default 65 536).
    pub max_rings: usize,
    /// Incidents per run (default 1000); triggers beyond it are refused and
    /// counted.
    pub max_incidents: usize,
    /// Incidents open (being appended to) at once (default 64).
    pub max_open: usize,
    /// Bytes written per incident (default 256 MiB); packets beyond are
    /// counted, not written.
    pub max_incident_bytes: u64,
    /// Seconds of event time without a packet of the host after which a
    /// host incident ends (default 300).
    pub host_idle_secs: u32,
}

impl EvidenceConfig {
    /// Defaults, writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            ring_packets: 64,
            ring_bytes: 256 * 1024,
            budget_bytes: 64 * 1024 * 1024,
            max_rings: 65_536,
            max_incidents: 1000,
            max_open: 64,
            max_incident_bytes: 256 * 1024 * 1024,
            host_idle_secs: 300,
        }
    }
}

/// What an incident captures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaptureTarget {
    /// One flow, by uid.
    Flow(String),
    /// Every flow of one host.
    Host(IpAddr),
}

impl CaptureTarget {
    /// "flow" or "host".
    pub fn kind(&self) -> &'static str {
        match self {
            CaptureTarget::Flow(_) => "flow",
            CaptureTarget::Host(_) => "host",
        }
    }

    /// The uid or address as text.
    pub fn value(&self) -> String {
        match self {
            CaptureTarget::Flow(uid) => uid.clone(),
            CaptureTarget::Host(ip) => ip.to_string(),
        }
    }
}

/// Writing an incident failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Creating or writing a file failed.
    #[error("cannot write incident file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One incident, as written to `incidents.jsonl` when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// Number within the run, from 1.
    pub id: u64,
    /// What it captured.
    pub target: CaptureTarget,
    /// The pcap files (the first is the one findings name).
    pub files: Vec<PathBuf>,
    /// Event time of the trigger.
    pub trigger: Timestamp,
    /// Packets written that were seen before the trigger (from the rings).
    pub packets_before: u64,
    /// Packets written after the trigger.
    pub packets_after: u64,
    /// Packets not written because the incident reached its byte limit.
    pub packets_over_limit: u64,
    /// Bytes written, file headers included.
    pub bytes: u64,
    /// Why it ended: "flow_ended", "host_idle", "end_of_input", "write_error".
    pub end_reason: &'static str,
}

/// Counters evidence capture keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceStats {
    /// Packets put into a ring.
    pub packets_buffered: u64,
    /// Packets dropped from a ring for its own packet or byte limit.
    pub ring_overwritten: u64,
    /// Packets larger than a whole ring, not kept.
    pub ring_too_large: u64,
    /// Packets dropped to keep all rings within the global budget.
    pub budget_evicted: u64,
    /// Rings dropped because too many flows had one.
    pub rings_evicted: u64,
    /// Rings dropped because their flow ended.
    pub rings_ended: u64,
    /// Most frame bytes held at once.
    pub buffered_bytes_max: u64,
    /// Incidents started.
    pub incidents: u64,
    /// Triggers refused (too many incidents, or too many open).
    pub incidents_refused: u64,
    /// Packets written from rings (from before a trigger).
    pub packets_before: u64,
    /// Packets written after a trigger.
    pub packets_after: u64,
    /// Packets not written because an incident reached its byte limit.
    pub packets_over_limit: u64,
    /// Write errors (each closed its incident).
    pub write_errors: u64,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    ts: Timestamp,
    linktype: LinkType,
    orig_len: u32,
    data: Box<[u8]>,
}

#[derive(Debug)]
struct Ring {
    packets: VecDeque<Stored>,
    bytes: usize,
    touch: u64,
    hosts: [IpAddr; 2],
}

struct IncidentFile {
    path: PathBuf,
    writer: PcapWriter<BufWriter<File>>,
}

impl std::fmt::Debug for IncidentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Incident {
    record: IncidentRecord,
    /// The name of the first file; its link type is that of the first packet.
    primary: PathBuf,
    files: Vec<IncidentFile>,
    last_ns: i64,
    /// Highest packet seq written (no packet is written twice).
    last_seq: u64,
}

/// Evidence capture state (see the module docs).
#[derive(Debug)]
pub struct Evidence {
    config: EvidenceConfig,
    rings: HashMap<String, Ring>,
    lru: BTreeMap<u64, String>,
    clock: u64,
    seq: u64,
    buffered: usize,
    /// Flows that ended; their rings go at the next packet.
    ended: Vec<String>,
    open: BTreeMap<u64, Incident>,
    by_flow: HashMap<String, u64>,
    by_host: HashMap<IpAddr, u64>,
    closed: Vec<IncidentRecord>,
    dir_ready: bool,
    last_idle_check_ns: i64,
    stats: EvidenceStats,
}

impl Evidence {
    /// Empty rings, no incident.
    pub fn new(config: EvidenceConfig) -> Self {
        Self {
            config,
            rings: HashMap::new(),
            lru: BTreeMap::new(),
            clock: 0,
            seq: 0,
            buffered: 0,
            ended: Vec::new(),
            open: BTreeMap::new(),
            by_flow: HashMap::new(),
            by_host: HashMap::new(),
            closed: Vec::new(),
            dir_ready: false,
            last_idle_check_ns: i64::MIN,
            stats: EvidenceStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EvidenceConfig {
        &self.config
    }

    /// The counters so far.
    pub fn stats(&self) -> EvidenceStats {
        self.stats
    }

    /// The counters as (name, value) pairs for the `evidence` stats group.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = self.stats;
        vec![
            ("packets_buffered", s.packets_buffered),
            ("ring_overwritten", s.ring_overwritten),
            ("ring_too_large", s.ring_too_large),
            ("budget_evicted", s.budget_evicted),
            ("rings_evicted", s.rings_evicted),
            ("rings_ended", s.rings_ended),
            ("buffered_bytes_max", s.buffered_bytes_max),
            ("incidents", s.incidents),
            ("incidents_refused", s.incidents_refused),
            ("packets_before_trigger", s.packets_before),
            ("packets_after_trigger", s.packets_after),
            ("packets_over_limit", s.packets_over_limit),
            ("write_errors", s.write_errors),
        ]
    }

    /// Frame bytes held in rings now.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Packets held in the ring of flow `uid`.
    pub fn ring_len(&self, uid: &str) -> usize {
        self.rings.get(uid).map_or(0, |r| r.packets.len())
    }

    /// Flows with a ring now.
    pub fn rings(&self) -> usize {
        self.rings.len()
    }

    /// One packet the pipeline decoded and accounted to `flow`, and the
    /// events processing it produced (`new_events`).
    pub fn packet(&mut self, raw: &RawPacket<'_>, flow: Option<&FlowMeta>, new_events: &[Event]) {
        for uid in std::mem::take(&mut self.ended) {
            self.drop_ring(&uid);
            self.stats.rings_ended += 1;
        }
        self.seq += 1;
        let seq = self.seq;
        if let Some(meta) = flow {
            let uid = meta.connection_info.uid.as_str();
            let hosts = [meta.originator.ip, meta.responder.ip];
            self.buffer(uid, hosts, seq, raw);
            self.append(uid, hosts, seq, raw);
        }
        self.close_idle_hosts(raw.ts);
        for event in new_events {
            if let Body::Flow(f) = &event.body {
                let uid = &f.connection_info.uid;
                if self.rings.contains_key(uid) {
                    self.ended.push(uid.clone());
                }
                if let Some(id) = self.by_flow.get(uid).copied() {
                    self.close(id, "flow_ended");
                }
            }
        }
    }

    /// Keep `raw` in the ring of flow `uid`.
    fn buffer(&mut self, uid: &str, hosts: [IpAddr; 2], seq: u64, raw: &RawPacket<'_>) {
        let len = raw.data.len();
        if len > self.config.ring_bytes || self.config.ring_packets == 0 {
            self.stats.ring_too_large += 1;
            return;
        }
        self.clock += 1;
        let touch = self.clock;
        if !self.rings.contains_key(uid) {
            while self.rings.len() >= self.config.max_rings.max(1) {
                let Some((_, old)) = self.lru.pop_first() else {
                    break;
                };
                self.drop_ring(&old);
                self.stats.rings_evicted += 1;
            }
            self.rings.insert(
                uid.to_owned(),
                Ring {
                    packets: VecDeque::new(),
                    bytes: 0,
                    touch: 0,
                    hosts,
                },
            );
        }
        let Some(ring) = self.rings.get_mut(uid) else {
            return;
        };
        self.lru.remove(&ring.touch);
        ring.touch = touch;
        self.lru.insert(touch, uid.to_owned());
        ring.packets.push_back(Stored {
            seq,
            ts: raw.ts,
            linktype: raw.linktype,
            orig_len: raw.orig_len,
            data: raw.data.into(),
        });
        ring.bytes += len;
        self.buffered += len;
        self.stats.packets_buffered += 1;
        while ring.packets.len() > self.config.ring_packets || ring.bytes > self.config.ring_bytes {
            let Some(old) = ring.packets.pop_front() else {
                break;
            };
            ring.bytes -= old.data.len();
            self.buffered -= old.data.len();
            self.stats.ring_overwritten += 1;
        }
        self.stats.buffered_bytes_max = self.stats.buffered_bytes_max.max(self.buffered as u64);
        // The global budget: oldest packets of the least recently active
        // flows first (the current flow is the most recent).
        while self.buffered > self.config.budget_bytes {
            let Some((&touch, lru_uid)) = self.lru.first_key_value() else {
                break;
            };
            let lru_uid = lru_uid.clone();
            let Some(ring) = self.rings.get_mut(&lru_uid) else {
                self.lru.remove(&touch);
                continue;
            };
            if let Some(old) = ring.packets.pop_front() {
                ring.bytes -= old.data.len();
                self.buffered -= old.data.len();
                self.stats.budget_evicted += 1;
            }
            if ring.packets.is_empty() {
                self.drop_ring(&lru_uid);
            }
        }
    }

    fn drop_ring(&mut self, uid: &str) {
        if let Some(ring) = self.rings.remove(uid) {
            self.lru.remove(&ring.touch);
            self.buffered -= ring.bytes;
        }
    }

    /// Write `raw` to every open incident it belongs to.
    fn append(&mut self, uid: &str, hosts: [IpAddr; 2], seq: u64, raw: &RawPacket<'_>) {
        if self.open.is_empty() {
            return;
        }
        let mut ids: [Option<u64>; 3] = [self.by_flow.get(uid).copied(), None, None];
        for (i, h) in hosts.iter().enumerate() {
            ids[i + 1] = self.by_host.get(h).copied();
        }
        for (i, id) in ids.iter().enumerate() {
            let Some(id) = *id else { continue };
            if ids[..i].contains(&Some(id)) {
                continue;
            }
            let packet = PacketRef {
                seq,
                ts: raw.ts,
                linktype: raw.linktype,
                orig_len: raw.orig_len,
                data: raw.data,
            };
            self.write(id, &packet, false);
        }
    }

    /// Write one packet to incident `id`; on error the incident is closed.
    fn write(&mut self, id: u64, p: &PacketRef<'_>, before: bool) {
        let Some(inc) = self.open.get_mut(&id) else {
            return;
        };
        if p.seq <= inc.last_seq {
            return;
        }
        inc.last_seq = p.seq;
        inc.last_ns = inc.last_ns.max(p.ts.nanos());
        let len = crate::pcap_write::record_len(p.data.len());
        if inc.record.bytes + len > self.config.max_incident_bytes {
            inc.record.packets_over_limit += 1;
            self.stats.packets_over_limit += 1;
            return;
        }
        match write_to(inc, p) {
            Ok(written) => {
                inc.record.bytes += written;
                if before {
                    inc.record.packets_before += 1;
                    self.stats.packets_before += 1;
                } else {
                    inc.record.packets_after += 1;
                    self.stats.packets_after += 1;
                }
            }
            Err(error) => {
                tracing::warn!(incident = id, %error, "incident capture stopped");
                self.stats.write_errors += 1;
                self.close(id, "write_error");
            }
        }
    }

    /// Start capturing `target` at event time `ts` (see the module docs).
    /// Returns the incident's pcap path, an already open incident's for the
    /// same target, or `None` when the trigger was refused (counted).
    pub fn start(
        &mut self,
        target: CaptureTarget,
        ts: Timestamp,
    ) -> Result<Option<PathBuf>, EvidenceError> {
        if let Some(inc) = self.open_for(&target) {
            return Ok(Some(inc.primary.clone()));
        }
        let total = self.open.len() + self.closed.len();
        if total >= self.config.max_incidents || self.open.len() >= self.config.max_open {
            self.stats.incidents_refused += 1;
            tracing::warn!(target = %target.value(), "incident capture refused: limit reached");
            return Ok(None);
        }
        if !self.dir_ready {
            std::fs::create_dir_all(&self.config.dir).map_err(|source| EvidenceError::Io {
                path: self.config.dir.clone(),
                source,
            })?;
            self.dir_ready = true;
        }
        let id = total as u64 + 1;
        let value: String = target
            .value()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let primary = self
            .config
            .dir
            .join(format!("incident-{id:04}-{}-{value}.pcap", target.kind()));
        // The packets held for the target, in capture order.
        let mut held: Vec<&Stored> = match &target {
            CaptureTarget::Flow(uid) => self
                .rings
                .get(uid)
                .map(|r| r.packets.iter().collect())
                .unwrap_or_default(),
            CaptureTarget::Host(ip) => self
                .rings
                .values()
                .filter(|r| r.hosts.contains(ip))
                .flat_map(|r| r.packets.iter())
                .collect(),
        };
        held.sort_by_key(|p| p.seq);
        let held: Vec<PacketRef<'_>> = held
            .into_iter()
            .map(|p| PacketRef {
                seq: p.seq,
                ts: p.ts,
                linktype: p.linktype,
                orig_len: p.orig_len,
                data: &p.data,
            })
            .collect();
        let mut inc = Incident {
            record: IncidentRecord {
                id,
                target: target.clone(),
                files: Vec::new(),
                trigger: ts,
                packets_before: 0,
                packets_after: 0,
                packets_over_limit: 0,
                bytes: 0,
                end_reason: "end_of_input",
            },
            primary: primary.clone(),
            files: Vec::new(),
            last_ns: ts.nanos(),
            last_seq: 0,
        };
        let mut before = 0u64;
        let mut over = 0u64;
        for p in &held {
            let len = crate::pcap_write::record_len(p.data.len());
            if inc.record.bytes + len > self.config.max_incident_bytes {
                over += 1;
                continue;
            }
            inc.record.bytes += write_to(&mut inc, p).map_err(|e| e.into_error())?;
            inc.last_seq = p.seq;
            inc.last_ns = inc.last_ns.max(p.ts.nanos());
            before += 1;
        }
        inc.record.packets_before = before;
        inc.record.packets_over_limit = over;
        self.stats.packets_before += before;
        self.stats.packets_over_limit += over;
        self.stats.incidents += 1;
        tracing::info!(incident = id, kind = target.kind(), target = %target.value(),
            file = %primary.display(), packets_before = before, "incident capture started");
        self.open.insert(id, inc);
        let ended = match &target {
            CaptureTarget::Flow(uid) => {
                self.by_flow.insert(uid.clone(), id);
                self.ended.iter().any(|u| u == uid)
            }
            CaptureTarget::Host(ip) => {
                self.by_host.insert(*ip, id);
                false
            }
        };
        if ended {
            self.close(id, "flow_ended");
        }
        Ok(Some(primary))
    }

    fn open_for(&self, target: &CaptureTarget) -> Option<&Incident> {
        let id = match target {
            CaptureTarget::Flow(uid) => self.by_flow.get(uid),
            CaptureTarget::Host(ip) => self.by_host.get(ip),
        }?;
        self.open.get(id)
    }

    /// The pcap of an open incident covering flow `uid` or one of `hosts`
    /// (the flow's own first).
    pub fn incident_for(&self, uid: Option<&str>, hosts: &[IpAddr]) -> Option<&Path> {
        let flow = uid.and_then(|u| self.by_flow.get(u));
        let id = flow.or_else(|| hosts.iter().find_map(|h| self.by_host.get(h)))?;
        self.open.get(id).map(|i| i.primary.as_path())
    }

    fn close_idle_hosts(&mut self, now: Timestamp) {
        if self.by_host.is_empty()
            || now.nanos().saturating_sub(self.last_idle_check_ns) < 1_000_000_000
        {
            return;
        }
        self.last_idle_check_ns = now.nanos();
        let idle_ns = i64::from(self.config.host_idle_secs) * 1_000_000_000;
        let idle: Vec<u64> = self
            .by_host
            .values()
            .copied()
            .filter(|id| {
                self.open
                    .get(id)
                    .is_some_and(|i| now.nanos().saturating_sub(i.last_ns) > idle_ns)
            })
            .collect();
        for id in idle {
            self.close(id, "host_idle");
        }
    }

    /// Close incident `id`: flush its files and append it to `incidents.jsonl`.
    fn close(&mut self, id: u64, reason: &'static str) {
        let Some(mut inc) = self.open.remove(&id) else {
            return;
        };
        match &inc.record.target {
            CaptureTarget::Flow(uid) => {
                self.by_flow.remove(uid);
            }
            CaptureTarget::Host(ip) => {
                self.by_host.remove(ip);
            }
        }
        inc.record.end_reason = reason;
        if inc.files.is_empty() {
            // Nothing was captured: the file findings name still exists.
            if let Err(error) = open_file(&inc.primary, LinkType::ETHERNET)
                .and_then(|f| f.writer.into_inner().map(drop))
            {
                tracing::warn!(file = %inc.primary.display(), %error, "cannot write empty incident pcap");
                self.stats.write_errors += 1;
            }
            inc.record.files.push(inc.primary.clone());
        }
        for f in inc.files.drain(..) {
            if let Err(error) = f.writer.into_inner() {
                tracing::warn!(file = %f.path.display(), %error, "cannot flush incident pcap");
                self.stats.write_errors += 1;
            }
        }
        if let Err(error) = self.append_index(&inc.record) {
            tracing::warn!(%error, "cannot append to incidents.jsonl");
            self.stats.write_errors += 1;
        }
        tracing::info!(
            incident = id,
            reason,
            packets_before = inc.record.packets_before,
            packets_after = inc.record.packets_after,
            "incident capture ended"
        );
        self.closed.push(inc.record);
    }

    fn append_index(&self, r: &IncidentRecord) -> std::io::Result<()> {
        let line = serde_json::json!({
            "id": r.id,
            "kind": r.target.kind(),
            "target": r.target.value(),
            "files": r.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "trigger_time": r.trigger.to_rfc3339_micros(),
            "trigger_ns": r.trigger.nanos(),
            "packets_before_trigger": r.packets_before,
            "packets_after_trigger": r.packets_after,
            "packets_over_limit": r.packets_over_limit,
            "bytes": r.bytes,
            "end_reason": r.end_reason,
        });
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.config.dir.join("incidents.jsonl"))?;
        writeln!(f, "{line}")
    }

    /// End of input: close every open incident ("end_of_input") and return
    /// all incidents of the run, in the order they were started.
    pub fn finish(&mut self) -> Vec<IncidentRecord> {
        let ids: Vec<u64> = self.open.keys().copied().collect();
        for id in ids {
            self.close(id, "end_of_input");
        }
        let mut all = self.closed.clone();
        all.sort_by_key(|r| r.id);
        all
    }
}

/// A packet to write, from a ring or from the pipeline.
#[derive(Debug, Clone, Copy)]
struct PacketRef<'a> {
    seq: u64,
    ts: Timestamp,
    linktype: LinkType,
    orig_len: u32,
    data: &'a [u8],
}

/// A write failure with the file it happened in.
struct FileError {
    path: PathBuf,
    source: std::io::Error,
}

impl FileError {
    fn into_error(self) -> EvidenceError {
        EvidenceError::Io {
            path: self.path,
            source: self.source,
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

fn open_file(path: &Path, linktype: LinkType) -> std::io::Result<IncidentFile> {
    let file = File::create(path)?;
    let writer = PcapWriter::new(BufWriter::with_capacity(64 * 1024, file), linktype)?;
    Ok(IncidentFile {
        path: path.to_path_buf(),
        writer,
    })
}

/// Write one packet to the incident's file of its link type (opened on
/// first use); returns the bytes written, the file header included.
fn write_to(inc: &mut Incident, p: &PacketRef<'_>) -> Result<u64, FileError> {
    let mut header = 0;
    let i = match inc
        .files
        .iter()
        .position(|f| f.writer.linktype() == p.linktype)
    {
        Some(i) => i,
        None => {
            let path = if inc.files.is_empty() {
                inc.primary.clone()
            } else {
                let stem = inc.primary.with_extension("");
                PathBuf::from(format!("{}-linktype-{}.pcap", stem.display(), p.linktype.0))
            };
            let file = open_file(&path, p.linktype).map_err(|source| FileError {
                path: path.clone(),
                source,
            })?;
            header = file.writer.bytes();
            inc.record.files.push(path);
            inc.files.push(file);
            inc.files.len() - 1
        }
    };
    let Some(f) = inc.files.get_mut(i) else {
        return Ok(0);
    };
    let before = f.writer.bytes();
    f.writer
        .write_packet(p.ts, p.orig_len, p.data)
        .map_err(|source| FileError {
            path: f.path.clone(),
            source,
        })?;
    Ok(header + f.writer.bytes() - before)
}

#[cfg(test)]
mod tests;
