//! The rolling pcap backup of all traffic seen, and pulling a time window
//! back out of it.
//!
//! [`PcapRing`] writes every raw packet it is given into
//! `DIR/vigil-NNNNNN.pcap` files (classic pcap, nanosecond times, see
//! [`crate::pcap_write`]). A file is closed and the next one started when
//! the next packet would take it past [`RingConfig::max_file_bytes`], when
//! the packet is [`RingConfig::max_file_span`] or more of event time after
//! the file's first packet, or when the link type changes (a classic pcap
//! has one). Closed files are listed in `DIR/index.jsonl`, one
//! [`IndexEntry`] per line (file, earliest and latest packet time, packets,
//! bytes, link type), rewritten whole (to a temporary file, then renamed)
//! each time it changes. Retention: at most [`RingConfig::max_files`] files
//! (the one being written included) and [`RingConfig::max_total_bytes`]
//! over the closed files; the oldest files are deleted first and counted.
//! A ring opened on a directory that already holds an index continues it.
//!
//! [`extract`] reads the index, opens only the files whose time range
//! overlaps the window, and writes the packets with `from ≤ time ≤ to`
//! (and, with a host, those whose IP source or destination is that host)
//! to one pcap.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_event::Timestamp;

use crate::capture::{CaptureReader, LinkType, RawPacket};
use crate::pcap_write::{record_len, PcapWriter};

/// The index file's name inside the ring directory.
pub const INDEX_FILE: &str = "index.jsonl";

/// Rotation and retention of the rolling backup.
#[derive(Debug, Clone)]
pub struct RingConfig {
    /// The directory (created when missing).
    pub dir: PathBuf,
    /// Bytes per file, headers included (default 64 MiB).
    pub max_file_bytes: u64,
    /// Event time one file covers from its first packet (default 1 h).
    pub max_file_span: Duration,
    /// Files kept, the one being written included (default 100).
    pub max_files: usize,
    /// Bytes kept over the closed files (default 4 GiB).
    pub max_total_bytes: u64,
}

impl RingConfig {
    /// Defaults, writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_file_bytes: 64 * 1024 * 1024,
            max_file_span: Duration::from_secs(3600),
            max_files: 100,
            max_total_bytes: 4 * 1024 * 1024 * 1024,
        }
    }
}

/// One closed file of the ring, one line of `index.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// File name inside the ring directory.
    pub file: String,
    /// Earliest packet time (ns since the epoch).
    pub first_ns: i64,
    /// Latest packet time (ns since the epoch).
    pub last_ns: i64,
    /// `first_ns` as RFC 3339, for people.
    pub first_time: String,
    /// `last_ns` as RFC 3339, for people.
    pub last_time: String,
    /// Packets in the file.
    pub packets: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// The file's link type.
    pub linktype: u32,
}

/// The ring backup or an extract failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// A file or directory could not be read or written.
    #[error("pcap ring {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the ring is not a readable capture.
    #[error("pcap ring {path}: {detail}")]
    Capture {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RingError + '_ {
    move |source| RingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Counters the ring keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Packets written.
    pub packets: u64,
    /// Bytes written, headers included.
    pub bytes: u64,
    /// Files started.
    pub files: u64,
    /// Rotations because of size.
    pub rotated_size: u64,
    /// Rotations because of time.
    pub rotated_time: u64,
    /// Rotations because the link type changed.
    pub rotated_linktype: u64,
    /// Files deleted by retention.
    pub files_deleted: u64,
    /// Bytes deleted by retention.
    pub bytes_deleted: u64,
    /// Packets deleted by retention.
    pub packets_deleted: u64,
    /// Index lines that could not be read when the ring was opened.
    pub index_lines_skipped: u64,
}

#[derive(Debug)]
struct Current {
    name: String,
    path: PathBuf,
    writer: PcapWriter<BufWriter<File>>,
    start_ns: i64,
    first_ns: i64,
    last_ns: i64,
}

/// The rolling backup writer (see the module docs).
#[derive(Debug)]
pub struct PcapRing {
    config: RingConfig,
    index: VecDeque<IndexEntry>,
    current: Option<Current>,
    next_seq: u64,
    stats: RingStats,
}

/// The sequence number in a ring file name (`vigil-000042.pcap` → 42).
fn seq_of(name: &str) -> Option<u64> {
    name.strip_prefix("vigil-")?
        .strip_suffix(".pcap")?
        .parse()
        .ok()
}

impl PcapRing {
    /// Open the ring in `config.dir`, creating it, or continuing the index
    /// that is there.
    pub fn open(config: RingConfig) -> Result<Self, RingError> {
        std::fs::create_dir_all(&config.dir).map_err(io_err(&config.dir))?;
        let (index, skipped) = read_index_lenient(&config.dir)?;
        let mut next_seq = index
            .iter()
            .filter_map(|e| seq_of(&e.file))
            .max()
            .unwrap_or(0);
        for entry in std::fs::read_dir(&config.dir).map_err(io_err(&config.dir))? {
            let entry = entry.map_err(io_err(&config.dir))?;
            if let Some(n) = entry.file_name().to_str().and_then(seq_of) {
                next_seq = next_seq.max(n);
            }
        }
        Ok(Self {
            config,
            index: index.into(),
            current: None,
            next_seq: next_seq + 1,
            stats: RingStats {
                index_lines_skipped: skipped,
                ..RingStats::default()
            },
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// The counters as (name, value) pairs for the `pcap_ring` stats group.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = self.stats;
        vec![
            ("packets", s.packets),
            ("bytes", s.bytes),
            ("files", s.files),
            ("rotated_size", s.rotated_size),
            ("rotated_time", s.rotated_time),
            ("rotated_linktype", s.rotated_linktype),
            ("files_deleted", s.files_deleted),
            ("bytes_deleted", s.bytes_deleted),
            ("packets_deleted", s.packets_deleted),
            ("index_lines_skipped", s.index_lines_skipped),
        ]
    }

    /// The closed files, oldest first.
    pub fn index(&self) -> impl Iterator<Item = &IndexEntry> {
        self.index.iter()
    }

    /// Write one packet, rotating first when it is due.
    pub fn write(&mut self, raw: &RawPacket<'_>) -> Result<(), RingError> {
        let ts = raw.ts.nanos();
        if let Some(cur) = &self.current {
            let span = i64::try_from(self.config.max_file_span.as_nanos()).unwrap_or(i64::MAX);
            let rotate = if cur.writer.linktype() != raw.linktype {
                Some(&mut self.stats.rotated_linktype)
            } else if ts.saturating_sub(cur.start_ns) >= span {
                Some(&mut self.stats.rotated_time)
            } else if cur.writer.bytes() + record_len(raw.data.len()) > self.config.max_file_bytes {
                Some(&mut self.stats.rotated_size)
            } else {
                None
            };
            if let Some(counter) = rotate {
                *counter += 1;
                self.close_current()?;
                self.retain(1)?;
            }
        }
        let cur = match &mut self.current {
            Some(cur) => cur,
            None => {
                let name = format!("vigil-{:06}.pcap", self.next_seq);
                self.next_seq += 1;
                let path = self.config.dir.join(&name);
                let file = File::create(&path).map_err(io_err(&path))?;
                let writer = PcapWriter::new(BufWriter::with_capacity(1 << 16, file), raw.linktype)
                    .map_err(io_err(&path))?;
                self.stats.files += 1;
                self.stats.bytes += writer.bytes();
                tracing::debug!(file = %path.display(), "pcap ring file started");
                self.current.insert(Current {
                    name,
                    path,
                    writer,
                    start_ns: ts,
                    first_ns: ts,
                    last_ns: ts,
                })
            }
        };
        let before = cur.writer.bytes();
        cur.writer
            .write_packet(raw.ts, raw.orig_len, raw.data)
            .map_err(io_err(&cur.path))?;
        cur.first_ns = cur.first_ns.min(ts);
        cur.last_ns = cur.last_ns.max(ts);
        self.stats.packets += 1;
        self.stats.bytes += cur.writer.bytes() - before;
        Ok(())
    }

    /// Close the file being written, if any, and index it.
    fn close_current(&mut self) -> Result<(), RingError> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let packets = cur.writer.packets();
        let bytes = cur.writer.bytes();
        let linktype = cur.writer.linktype().0;
        cur.writer.into_inner().map_err(io_err(&cur.path))?;
        self.index.push_back(IndexEntry {
            file: cur.name,
            first_ns: cur.first_ns,
            last_ns: cur.last_ns,
            first_time: Timestamp::from_nanos(cur.first_ns).to_rfc3339_micros(),
            last_time: Timestamp::from_nanos(cur.last_ns).to_rfc3339_micros(),
            packets,
            bytes,
            linktype,
        });
        Ok(())
    }

    /// Delete the oldest files until at most `max_files - reserve` closed
    /// files and `max_total_bytes` are kept; rewrite the index.
    fn retain(&mut self, reserve: usize) -> Result<(), RingError> {
        let keep = self.config.max_files.max(1).saturating_sub(reserve);
        let mut total: u64 = self.index.iter().map(|e| e.bytes).sum();
        while self.index.len() > keep
            || (total > self.config.max_total_bytes && !self.index.is_empty())
        {
            let Some(old) = self.index.pop_front() else {
                break;
            };
            let path = self.config.dir.join(&old.file);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
            total -= old.bytes;
            self.stats.files_deleted += 1;
            self.stats.bytes_deleted += old.bytes;
            self.stats.packets_deleted += old.packets;
            tracing::debug!(file = %path.display(), "pcap ring file deleted");
        }
        self.write_index()
    }

    fn write_index(&self) -> Result<(), RingError> {
        let tmp = self.config.dir.join(format!("{INDEX_FILE}.tmp"));
        let mut out = BufWriter::new(File::create(&tmp).map_err(io_err(&tmp))?);
        for entry in &self.index {
            let line = serde_json::to_string(entry).map_err(|e| RingError::Io {
                path: tmp.clone(),
                source: e.into(),
            })?;
            writeln!(out, "{line}").map_err(io_err(&tmp))?;
        }
        out.flush().map_err(io_err(&tmp))?;
        drop(out);
        let index = self.config.dir.join(INDEX_FILE);
        std::fs::rename(&tmp, &index).map_err(io_err(&index))
    }

    /// Close the file being written, apply retention, write the index.
    pub fn finish(&mut self) -> Result<(), RingError> {
        self.close_current()?;
        self.retain(0)
    }
}

/// Read `DIR/index.jsonl`, skipping (and counting) lines that do not parse;
/// a missing index is an empty ring.
fn read_index_lenient(dir: &Path) -> Result<(Vec<IndexEntry>, u64), RingError> {
    let path = dir.join(INDEX_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let mut entries = Vec::new();
    let mut skipped = 0;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err(&path))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<IndexEntry>(&line) {
            Ok(e) => entries.push(e),
            Err(error) => {
                skipped += 1;
                tracing::warn!(file = %path.display(), line = n + 1, %error, "skipping unreadable index line");
            }
        }
    }
    Ok((entries, skipped))
}

/// The index of the ring in `dir`, oldest file first (unreadable lines are
/// skipped with a warning).
pub fn read_index(dir: &Path) -> Result<Vec<IndexEntry>, RingError> {
    read_index_lenient(dir).map(|(e, _)| e)
}

/// What to pull out of a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractRequest {
    /// First packet time included.
    pub from: Timestamp,
    /// Last packet time included.
    pub to: Timestamp,
    /// Only packets from or to this address.
    pub host: Option<IpAddr>,
}

/// What [`extract`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Ring files opened (those overlapping the window).
    pub files_read: u64,
    /// Packets read from them.
    pub packets_read: u64,
    /// Packets written to the output.
    pub packets_written: u64,
    /// Packets in the window left out because their link type differs from
    /// the output's (the first packet's).
    pub skipped_linktype: u64,
    /// Packets in the window left out because no IP addresses could be read
    /// from them (only with a host filter).
    pub skipped_undecodable: u64,
    /// Capture errors in ring files (corrupt or truncated records).
    pub capture_errors: u64,
    /// The output's link type.
    pub linktype: Option<u32>,
}

/// Write the ring's packets in `req`'s window to `out` (see the module docs).
pub fn extract(dir: &Path, req: &ExtractRequest, out: &Path) -> Result<ExtractStats, RingError> {
    let (from, to) = (req.from.nanos(), req.to.nanos());
    let mut files: Vec<IndexEntry> = read_index(dir)?
        .into_iter()
        .filter(|e| e.last_ns >= from && e.first_ns <= to)
        .collect();
    files.sort_by_key(|e| (e.first_ns, seq_of(&e.file)));
    let mut stats = ExtractStats::default();
    let mut writer: Option<PcapWriter<BufWriter<File>>> = None;
    let open = |linktype: LinkType| -> Result<PcapWriter<BufWriter<File>>, RingError> {
        let file = File::create(out).map_err(io_err(out))?;
        PcapWriter::new(BufWriter::new(file), linktype).map_err(io_err(out))
    };
    for entry in &files {
        let path = dir.join(&entry.file);
        let file = File::open(&path).map_err(io_err(&path))?;
        let mut reader =
            CaptureReader::new(BufReader::new(file)).map_err(|e| RingError::Capture {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        stats.files_read += 1;
        while let Some(item) = reader.next_packet() {
            let p = match item {
                Ok(p) => p,
                Err(error) => {
                    stats.capture_errors += 1;
                    tracing::warn!(file = %path.display(), %error, "skipping record in ring file");
                    if error.is_fatal() {
                        break;
                    }
                    continue;
                }
            };
            stats.packets_read += 1;
            let t = p.ts.nanos();
            if t < from || t > to {
                continue;
            }
            if let Some(host) = req.host {
                match crate::decode::ip_addresses(p.linktype, p.data) {
                    Ok(Some((src, dst))) if src == host || dst == host => {}
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => {
                        stats.skipped_undecodable += 1;
                        continue;
                    }
                }
            }
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(open(p.linktype)?),
            };
            if w.linktype() != p.linktype {
                stats.skipped_linktype += 1;
                continue;
            }
            w.write_packet(p.ts, p.orig_len, p.data)
                .map_err(io_err(out))?;
            stats.packets_written += 1;
        }
    }
    let w = match writer {
        Some(w) => w,
        None => open(
            files
                .first()
                .map_or(LinkType::ETHERNET, |e| LinkType(e.linktype)),
        )?,
    };
    stats.linktype = Some(w.linktype().0);
    w.into_inner().map_err(io_err(out))?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_file_names_carry_their_sequence() {
        assert_eq!(seq_of("vigil-000042.pcap"), Some(42));
        assert_eq!(seq_of("index.jsonl"), None);
        assert_eq!(seq_of("vigil-x.pcap"), None);
    }
}
