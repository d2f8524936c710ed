//! Reading capture files: classic pcap (any byte order, µs or ns) and pcapng
//! (several interfaces, each with its own link type and time resolution).
//!
//! [`CaptureReader::next_packet`] yields packets in file order, numbered from
//! 1 as tshark numbers frames. A corrupt record yields a [`CaptureError`]
//! naming the packet number; a non-fatal one is followed by more packets.
//!
//! The buffering (one fixed buffer refilled from any [`Read`]), the file
//! header and the pcapng section and interface blocks are `pcap-parser`'s.
//! Packet records are framed here, before `pcap-parser` sees them: its
//! streaming parsers report a record whose length field is nonsense as
//! "incomplete" (asking for more data up to the buffer size, then saying the
//! file is truncated), so a corrupt length would be misreported and could not
//! be skipped. Checking the lengths first lets a corrupt pcapng block be
//! skipped by its block length, a corrupt pcap record header be resynchronised
//! on the next plausible record, and keeps the hot path free of per-packet
//! allocation (`pcap-parser`'s enhanced packet block holds a `Vec` of options).

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use vigil_event::Timestamp;

/// A link-layer header type (the pcap `LINKTYPE_*` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback (`DLT_NULL`), 4-byte host-order family.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (OpenBSD/most systems' `DLT_RAW` number 12 is written as 101).
    pub const RAW: LinkType = LinkType(101);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// OpenBSD loopback, 4-byte network-order family.
    pub const LOOP: LinkType = LinkType(108);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Packet number in the file, from 1 (tshark's `frame.number`).
    pub number: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// Link type of the interface it was captured on.
    pub linktype: LinkType,
    /// Length on the wire (may exceed `data.len()` when the snaplen cut it).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Reading a capture failed at some packet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Not a pcap or pcapng file, or its header is unreadable.
    #[error("not a pcap or pcapng file: {0}")]
    NotACapture(String),
    /// The file ends inside a record.
    #[error("packet {packet}: file truncated inside the record")]
    Truncated {
        /// The packet number that was being read.
        packet: u64,
    },
    /// A record header or block is corrupt; the record is skipped and reading
    /// goes on with the next one.
    #[error("packet {packet}: corrupt record: {detail}")]
    Corrupt {
        /// The packet number that was being read.
        packet: u64,
        /// What was wrong.
        detail: String,
    },
    /// A record header or block is corrupt and the next record cannot be
    /// found; reading stops.
    #[error("packet {packet}: corrupt record, cannot read further: {detail}")]
    Unrecoverable {
        /// The packet number that was being read.
        packet: u64,
        /// What was wrong.
        detail: String,
    },
    /// An I/O error from the underlying reader.
    #[error("read error at packet {packet}: {source}")]
    Io {
        /// The packet number that was being read.
        packet: u64,
        /// The error.
        source: std::io::Error,
    },
}

impl CaptureError {
    /// True when no further packets can be read after this error.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, CaptureError::Corrupt { .. })
    }

    /// A short snake_case reason usable as a counter name (`capture.<reason>`).
    pub fn reason(&self) -> &'static str {
        match self {
            CaptureError::NotACapture(_) => "not_a_capture",
            CaptureError::Truncated { .. } => "truncated_file",
            CaptureError::Corrupt { .. } => "corrupt_record",
            CaptureError::Unrecoverable { .. } => "unrecoverable_record",
            CaptureError::Io { .. } => "read_error",
        }
    }
}

/// Largest captured length accepted for one packet (Wireshark's limit for
/// most link types; a larger value in a record header means corruption).
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// The read buffer. A pcapng block that does not fit is skipped (streamed
/// past) when it holds no packet, and reported as corrupt otherwise.
const BUFFER_CAPACITY: usize = 2 * 1024 * 1024;

/// At most this many pcapng interfaces per section.
const MAX_INTERFACES: usize = 65_536;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const OBSOLETE_PB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;

/// The `Read` handed to `pcap-parser`: first the magic bytes read while
/// detecting the format, then the real input. Each `read` fills the whole
/// buffer when it can (so the first read holds a whole section header), and
/// the underlying I/O error is kept for [`CaptureError::Io`], as
/// `pcap-parser` only reports that a read failed.
struct Source<R> {
    prefix: [u8; 4],
    prefix_len: usize,
    prefix_pos: usize,
    inner: R,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while self.prefix_pos < self.prefix_len && filled < buf.len() {
            if let (Some(slot), Some(byte)) = (
                buf.get_mut(filled),
                self.prefix.get(self.prefix_pos).copied(),
            ) {
                *slot = byte;
            }
            filled += 1;
            self.prefix_pos += 1;
        }
        while filled < buf.len() {
            let Some(space) = buf.get_mut(filled..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if filled > 0 {
                        // Report the bytes read so far; the error comes back
                        // on the next call.
                        break;
                    }
                    let kind = e.kind();
                    if let Ok(mut slot) = self.error.lock() {
                        *slot = Some(e);
                    }
                    return Err(io::Error::from(kind));
                }
            }
        }
        Ok(filled)
    }
}

/// One pcapng interface.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: LinkType,
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`), 0 when invalid.
    units_per_sec: u64,
    /// `if_tsoffset`, seconds.
    offset_secs: i64,
}

#[derive(Debug)]
struct LegacyState {
    big_endian: bool,
    nanos: bool,
    /// 16, or 24 for the "modified" (Kuznetzov) format.
    record_header_len: usize,
    snaplen: u32,
    linktype: LinkType,
}

#[derive(Debug)]
struct NgState {
    big_endian: bool,
    interfaces: Vec<Interface>,
}

enum Inner<R: Read> {
    Legacy(LegacyPcapReader<Source<R>>, LegacyState),
    Ng(PcapNGReader<Source<R>>, NgState),
}

/// Streams packets out of a pcap or pcapng file.
pub struct CaptureReader<R: Read> {
    inner: Inner<R>,
    /// Number of the last packet handed out (or lost to an error).
    number: u64,
    /// Bytes of the record handed out last, consumed on the next call (the
    /// record is borrowed until then).
    pending: usize,
    /// Time of the last packet, for pcapng simple packet blocks (which have
    /// none) and for resynchronising a corrupt pcap.
    last_ts: Option<Timestamp>,
    /// Set after a fatal error or the end of the file.
    done: bool,
    io_error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let format = match &self.inner {
            Inner::Legacy(..) => "pcap",
            Inner::Ng(..) => "pcapng",
        };
        f.debug_struct("CaptureReader")
            .field("format", &format)
            .field("number", &self.number)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn u32_at(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn u16_at(data: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let bytes: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// pcapng `if_tsresol` → units per second (0 when out of range).
/// Computed here because `pcap-parser` 0.17's `build_ts_resolution` rejects
/// every power-of-two resolution.
fn units_per_sec(tsresol: u8) -> u64 {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exp).unwrap_or(0)
    } else {
        1u64.checked_shl(exp).unwrap_or(0)
    }
}

/// Ticks of `units_per_sec` since the epoch, plus an offset, as a timestamp.
fn ticks_to_timestamp(ticks: u64, units_per_sec: u64, offset_secs: i64) -> Timestamp {
    let nanos: i128 = match units_per_sec {
        1_000_000 => i128::from(ticks) * 1_000,
        1_000_000_000 => i128::from(ticks),
        0 => 0,
        units => i128::from(ticks) * 1_000_000_000 / i128::from(units),
    };
    let nanos = nanos + i128::from(offset_secs) * 1_000_000_000;
    Timestamp::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

enum Fill {
    /// The requested bytes are in the buffer.
    Ready,
    /// The input ended first; this many bytes are available.
    Eof(usize),
}

/// Refill `it` until `want` bytes are available (`want` ≤ the capacity).
fn fill(it: &mut dyn PcapReaderIterator, want: usize) -> Result<Fill, ()> {
    loop {
        let have = it.data().len();
        if have >= want {
            return Ok(Fill::Ready);
        }
        if it.reader_exhausted() {
            return Ok(Fill::Eof(have));
        }
        it.refill().map_err(|_| ())?;
        if it.data().len() == have && !it.reader_exhausted() {
            // The buffer has no room left (cannot happen for want ≤ the
            // capacity, as refill shifts the data to the start).
            return Ok(Fill::Eof(have));
        }
    }
}

impl<R: Read> CaptureReader<R> {
    /// Open a capture, detecting pcap or pcapng from its magic number.
    pub fn new(mut inner: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < magic.len() {
            let Some(space) = magic.get_mut(got..) else {
                break;
            };
            match inner.read(space) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(CaptureError::Io { packet: 0, source }),
            }
        }
        if got == 0 {
            return Err(CaptureError::NotACapture("the file is empty".to_owned()));
        }
        if got < magic.len() {
            return Err(CaptureError::NotACapture(format!(
                "the file is only {got} bytes long"
            )));
        }
        let io_error = Arc::new(Mutex::new(None));
        let source = Source {
            prefix: magic,
            prefix_len: got,
            prefix_pos: 0,
            inner,
            error: Arc::clone(&io_error),
        };
        let magic_le = u32::from_le_bytes(magic);
        let inner = match magic_le {
            SHB => {
                let reader = PcapNGReader::new(BUFFER_CAPACITY, source)
                    .map_err(|e| header_error("pcapng section header", &e))?;
                Inner::Ng(
                    reader,
                    NgState {
                        big_endian: false,
                        interfaces: Vec::new(),
                    },
                )
            }
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 => {
                let mut reader = LegacyPcapReader::new(BUFFER_CAPACITY, source)
                    .map_err(|e| header_error("pcap file header", &e))?;
                let (size, state) = match reader.next() {
                    Ok((size, PcapBlockOwned::LegacyHeader(header))) => (
                        size,
                        LegacyState {
                            big_endian: header.is_bigendian(),
                            nanos: header.is_nanosecond_precision(),
                            record_header_len: if header.is_modified_format() { 24 } else { 16 },
                            snaplen: header.snaplen,
                            // The upper bits carry the FCS length, not the type.
                            linktype: LinkType(header.network.0 as u32 & 0x03ff_ffff),
                        },
                    ),
                    Ok(_) | Err(_) => {
                        return Err(CaptureError::NotACapture(
                            "unreadable pcap file header".to_owned(),
                        ))
                    }
                };
                reader.consume(size);
                Inner::Legacy(reader, state)
            }
            0x34cd_b2a1 => {
                return Err(CaptureError::NotACapture(
                    "big-endian modified pcap is not supported".to_owned(),
                ))
            }
            other => {
                return Err(CaptureError::NotACapture(format!(
                    "unknown magic number {other:#010x}"
                )))
            }
        };
        Ok(Self {
            inner,
            number: 0,
            pending: 0,
            last_ts: None,
            done: false,
            io_error,
        })
    }

    /// The next packet, an error, or `None` at the end of the file.
    /// After a fatal error (see [`CaptureError::is_fatal`]) it returns `None`.
    pub fn next_packet(&mut self) -> Option<Result<RawPacket<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        let pending = std::mem::take(&mut self.pending);
        if pending > 0 {
            match &mut self.inner {
                Inner::Legacy(it, _) => it.consume(pending),
                Inner::Ng(it, _) => it.consume(pending),
            }
        }
        if matches!(self.inner, Inner::Legacy(..)) {
            self.next_legacy()
        } else {
            self.next_ng()
        }
    }

    /// Bytes consumed from the underlying reader so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        let consumed = match &self.inner {
            Inner::Legacy(it, _) => it.consumed(),
            Inner::Ng(it, _) => it.consumed(),
        };
        (consumed + self.pending) as u64
    }

    fn next_legacy(&mut self) -> Option<Result<RawPacket<'_>, CaptureError>> {
        enum Step {
            Packet {
                record_len: usize,
                ts: Timestamp,
                orig_len: u32,
            },
            Corrupt(String),
            Eof,
            Truncated,
            Io,
        }
        let Inner::Legacy(it, st) = &mut self.inner else {
            return None;
        };
        let hdr = st.record_header_len;
        let step = 'step: {
            match fill(it, hdr) {
                Ok(Fill::Ready) => {}
                Ok(Fill::Eof(0)) => break 'step Step::Eof,
                Ok(Fill::Eof(_)) => break 'step Step::Truncated,
                Err(()) => break 'step Step::Io,
            }
            let data = it.data();
            let be = st.big_endian;
            let (Some(ts_sec), Some(ts_frac), Some(caplen), Some(orig_len)) = (
                u32_at(data, 0, be),
                u32_at(data, 4, be),
                u32_at(data, 8, be),
                u32_at(data, 12, be),
            ) else {
                break 'step Step::Truncated; // unreachable: `hdr` bytes are buffered
            };
            if caplen > MAX_CAPLEN {
                break 'step Step::Corrupt(format!(
                    "captured length {caplen} exceeds the maximum of {MAX_CAPLEN}"
                ));
            }
            let record_len = hdr + caplen as usize;
            match fill(it, record_len) {
                Ok(Fill::Ready) => {}
                Ok(Fill::Eof(_)) => break 'step Step::Truncated,
                Err(()) => break 'step Step::Io,
            }
            let frac_nanos = if st.nanos {
                i64::from(ts_frac)
            } else {
                i64::from(ts_frac) * 1_000
            };
            Step::Packet {
                record_len,
                ts: Timestamp::from_nanos(i64::from(ts_sec) * 1_000_000_000 + frac_nanos),
                orig_len,
            }
        };
        match step {
            Step::Eof => {
                self.done = true;
                None
            }
            Step::Truncated => {
                self.done = true;
                Some(Err(CaptureError::Truncated {
                    packet: self.number + 1,
                }))
            }
            Step::Io => {
                self.done = true;
                Some(Err(io_error(&self.io_error, self.number + 1)))
            }
            Step::Corrupt(detail) => {
                self.number += 1;
                let error = self.resync_legacy(detail);
                self.done = error.is_fatal();
                Some(Err(error))
            }
            Step::Packet {
                record_len,
                ts,
                orig_len,
            } => {
                self.number += 1;
                self.pending = record_len;
                self.last_ts = Some(ts);
                let Inner::Legacy(it, st) = &self.inner else {
                    return None;
                };
                Some(Ok(RawPacket {
                    number: self.number,
                    ts,
                    linktype: st.linktype,
                    orig_len,
                    data: it.data().get(hdr..record_len).unwrap_or_default(),
                }))
            }
        }
    }

    /// After a corrupt pcap record header (packet `self.number`): find the
    /// next plausible record header in the buffered data (two consecutive
    /// plausible headers, or one that ends exactly at the end of the file)
    /// and skip to it.
    fn resync_legacy(&mut self, detail: String) -> CaptureError {
        let packet = self.number;
        let last_secs = self.last_ts.map(Timestamp::secs);
        let Inner::Legacy(it, st) = &mut self.inner else {
            return CaptureError::Unrecoverable { packet, detail };
        };
        if fill(it, BUFFER_CAPACITY).is_err() {
            return io_error(&self.io_error, packet);
        }
        let exhausted = it.reader_exhausted();
        let data = it.data();
        let hdr = st.record_header_len;
        let plausible = |at: usize| -> Option<usize> {
            let be = st.big_endian;
            let secs = u32_at(data, at, be)?;
            let frac = u32_at(data, at + 4, be)?;
            let caplen = u32_at(data, at + 8, be)?;
            let orig = u32_at(data, at + 12, be)?;
            let frac_max = if st.nanos { 1_000_000_000 } else { 1_000_000 };
            let snap_ok = st.snaplen == 0 || caplen <= st.snaplen;
            let time_ok = last_secs.is_none_or(|last| (i64::from(secs) - last).abs() <= 86_400);
            (caplen > 0
                && caplen <= MAX_CAPLEN
                && snap_ok
                && caplen <= orig
                && orig <= MAX_CAPLEN
                && frac < frac_max
                && time_ok)
                .then_some(at + hdr + caplen as usize)
        };
        let found = (1..data.len().saturating_sub(hdr)).find(|&at| match plausible(at) {
            Some(next) if next == data.len() => exhausted,
            Some(next) if next + hdr <= data.len() => plausible(next).is_some(),
            _ => false,
        });
        match found {
            Some(at) => {
                it.consume(at);
                CaptureError::Corrupt {
                    packet,
                    detail: format!(
                        "{detail}; skipped {at} bytes to the next plausible record header"
                    ),
                }
            }
            None => CaptureError::Unrecoverable {
                packet,
                detail: format!("{detail}; no plausible record header follows"),
            },
        }
    }

    fn next_ng(&mut self) -> Option<Result<RawPacket<'_>, CaptureError>> {
        macro_rules! fatal {
            ($error:expr) => {{
                self.done = true;
                return Some(Err($error));
            }};
        }
        // Non-packet blocks are handled in this loop; a packet block ends it
        // with the block's framing checked and fully buffered.
        let (block_type, block_len) = loop {
            let Inner::Ng(it, st) = &mut self.inner else {
                return None;
            };
            match fill(it, 12) {
                Ok(Fill::Ready) => {}
                Ok(Fill::Eof(0)) => {
                    self.done = true;
                    return None;
                }
                Ok(Fill::Eof(_)) => fatal!(CaptureError::Truncated {
                    packet: self.number + 1,
                }),
                Err(()) => fatal!(io_error(&self.io_error, self.number + 1)),
            }
            let data = it.data();
            let block_type_le = u32_at(data, 0, false).unwrap_or_default();
            let big_endian = if block_type_le == SHB {
                // The byte-order magic decides the section's byte order.
                u32_at(data, 8, false) != Some(0x1A2B_3C4D)
            } else {
                st.big_endian
            };
            let block_type = u32_at(data, 0, big_endian).unwrap_or_default();
            let block_len = u32_at(data, 4, big_endian).unwrap_or_default() as usize;
            if block_len < 12 || block_len % 4 != 0 {
                fatal!(CaptureError::Unrecoverable {
                    packet: self.number + 1,
                    detail: format!(
                        "pcapng block of type {block_type:#x} has invalid length {block_len}"
                    ),
                });
            }
            let is_packet = matches!(block_type, EPB | SPB | OBSOLETE_PB);
            if block_len > BUFFER_CAPACITY {
                if matches!(block_type, SHB | IDB) {
                    fatal!(CaptureError::Unrecoverable {
                        packet: self.number + 1,
                        detail: format!(
                            "pcapng block of type {block_type:#x} is {block_len} bytes long"
                        ),
                    });
                }
                // Stream past it.
                let mut left = block_len;
                while left > 0 {
                    match fill(it, 1) {
                        Ok(Fill::Ready) => {}
                        Ok(Fill::Eof(_)) => fatal!(CaptureError::Truncated {
                            packet: self.number + 1,
                        }),
                        Err(()) => fatal!(io_error(&self.io_error, self.number + 1)),
                    }
                    let step = left.min(it.data().len());
                    it.consume(step);
                    left -= step;
                }
                if is_packet {
                    self.number += 1;
                    return Some(Err(CaptureError::Corrupt {
                        packet: self.number,
                        detail: format!("packet block is {block_len} bytes long"),
                    }));
                }
                continue;
            }
            match fill(it, block_len) {
                Ok(Fill::Ready) => {}
                Ok(Fill::Eof(_)) => fatal!(CaptureError::Truncated {
                    packet: self.number + 1,
                }),
                Err(()) => fatal!(io_error(&self.io_error, self.number + 1)),
            }
            let trailer = u32_at(it.data(), block_len - 4, big_endian).unwrap_or_default();
            if trailer as usize != block_len {
                fatal!(CaptureError::Unrecoverable {
                    packet: self.number + 1,
                    detail: format!(
                        "pcapng block of type {block_type:#x}: length {block_len} at its start but {trailer} at its end"
                    ),
                });
            }
            match block_type {
                EPB | SPB | OBSOLETE_PB => break (block_type, block_len),
                SHB => {
                    let parsed = match it.next() {
                        Ok((_, PcapBlockOwned::NG(Block::SectionHeader(_)))) => true,
                        Ok(_) | Err(_) => false,
                    };
                    if !parsed {
                        fatal!(CaptureError::Unrecoverable {
                            packet: self.number + 1,
                            detail: "unreadable pcapng section header".to_owned(),
                        });
                    }
                    st.big_endian = big_endian;
                    st.interfaces.clear();
                    it.consume(block_len);
                }
                IDB => {
                    let interface = match it.next() {
                        Ok((_, PcapBlockOwned::NG(Block::InterfaceDescription(idb)))) => {
                            Some(Interface {
                                linktype: LinkType(idb.linktype.0 as u32),
                                snaplen: idb.snaplen,
                                units_per_sec: units_per_sec(idb.if_tsresol),
                                offset_secs: idb.if_tsoffset,
                            })
                        }
                        Ok(_) | Err(_) => None,
                    };
                    it.consume(block_len);
                    if st.interfaces.len() >= MAX_INTERFACES {
                        fatal!(CaptureError::Unrecoverable {
                            packet: self.number + 1,
                            detail: format!("more than {MAX_INTERFACES} pcapng interfaces"),
                        });
                    }
                    // An unreadable interface keeps its index (its packets
                    // are reported corrupt) so later ones stay aligned.
                    st.interfaces.push(interface.unwrap_or(Interface {
                        linktype: LinkType(u32::MAX),
                        snaplen: 0,
                        units_per_sec: 0,
                        offset_secs: 0,
                    }));
                    if interface.is_none() {
                        return Some(Err(CaptureError::Corrupt {
                            packet: self.number + 1,
                            detail: format!(
                                "unreadable pcapng interface description block (interface {})",
                                st.interfaces.len() - 1
                            ),
                        }));
                    }
                }
                _ => it.consume(block_len),
            }
        };

        // A packet block of `block_len` bytes is at the front of the buffer.
        self.number += 1;
        self.pending = block_len;
        let number = self.number;
        let last_ts = self.last_ts;
        let Inner::Ng(it, st) = &self.inner else {
            return None;
        };
        let be = st.big_endian;
        let block = it.data().get(..block_len).unwrap_or_default();
        let corrupt = |detail: String| {
            Some(Err(CaptureError::Corrupt {
                packet: number,
                detail,
            }))
        };
        let (interface, ts, caplen, orig_len, data_at) = match block_type {
            SPB => {
                let Some(interface) = st.interfaces.first().copied() else {
                    return corrupt("simple packet block before any interface".to_owned());
                };
                let Some(orig_len) = u32_at(block, 8, be).filter(|_| block_len >= 16) else {
                    return corrupt("simple packet block too short".to_owned());
                };
                let mut caplen = orig_len.min((block_len - 16) as u32);
                if interface.snaplen > 0 {
                    caplen = caplen.min(interface.snaplen);
                }
                // No timestamp in a simple packet block: keep the last one.
                (interface, last_ts.unwrap_or_default(), caplen, orig_len, 12)
            }
            _ => {
                if block_len < 32 {
                    return corrupt(format!("packet block too short ({block_len} bytes)"));
                }
                let if_id = if block_type == EPB {
                    u32_at(block, 8, be).unwrap_or_default() as usize
                } else {
                    usize::from(u16_at(block, 8, be).unwrap_or_default())
                };
                let (Some(high), Some(low), Some(caplen), Some(orig_len)) = (
                    u32_at(block, 12, be),
                    u32_at(block, 16, be),
                    u32_at(block, 20, be),
                    u32_at(block, 24, be),
                ) else {
                    return corrupt("packet block too short".to_owned());
                };
                let Some(interface) = st.interfaces.get(if_id).copied() else {
                    return corrupt(format!(
                        "packet on interface {if_id}, but the section has {} interfaces",
                        st.interfaces.len()
                    ));
                };
                if caplen as usize > block_len - 32 || caplen > MAX_CAPLEN {
                    return corrupt(format!(
                        "captured length {caplen} does not fit the {block_len}-byte block"
                    ));
                }
                let ticks = (u64::from(high) << 32) | u64::from(low);
                let ts = ticks_to_timestamp(ticks, interface.units_per_sec, interface.offset_secs);
                (interface, ts, caplen, orig_len, 28)
            }
        };
        if interface.linktype.0 == u32::MAX {
            return corrupt("packet on an unreadable interface".to_owned());
        }
        let data = block
            .get(data_at..data_at + caplen as usize)
            .unwrap_or_default();
        if block_type != SPB {
            self.last_ts = Some(ts);
        }
        Some(Ok(RawPacket {
            number,
            ts,
            linktype: interface.linktype,
            orig_len,
            data,
        }))
    }
}

fn io_error(slot: &Mutex<Option<io::Error>>, packet: u64) -> CaptureError {
    let source = slot
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .unwrap_or_else(|| io::Error::other("read failed"));
    CaptureError::Io { packet, source }
}

fn header_error(what: &str, error: &PcapError<&[u8]>) -> CaptureError {
    match error {
        PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
            CaptureError::NotACapture(format!("the {what} is truncated"))
        }
        PcapError::ReadError => CaptureError::NotACapture(format!("cannot read the {what}")),
        _ => CaptureError::NotACapture(format!("unreadable {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pcap(
        big_endian: bool,
        magic: u32,
        linktype: u32,
        records: &[(u32, u32, &[u8], u32)],
    ) -> Vec<u8> {
        let w32 = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let w16 = |out: &mut Vec<u8>, v: u16| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let mut out = Vec::new();
        w32(&mut out, magic);
        w16(&mut out, 2);
        w16(&mut out, 4);
        w32(&mut out, 0);
        w32(&mut out, 0);
        w32(&mut out, 65535);
        w32(&mut out, linktype);
        for &(secs, frac, data, orig) in records {
            w32(&mut out, secs);
            w32(&mut out, frac);
            w32(&mut out, data.len() as u32);
            w32(&mut out, orig);
            out.extend_from_slice(data);
        }
        out
    }

    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let mut padded = body.to_vec();
        while padded.len() % 4 != 0 {
            padded.push(0);
        }
        let len = (padded.len() + 12) as u32;
        let mut out = block_type.to_le_bytes().to_vec();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&padded);
        out.extend_from_slice(&len.to_le_bytes());
        out
    }

    fn shb() -> Vec<u8> {
        let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        block(SHB, &body)
    }

    fn idb(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = linktype.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&0u32.to_le_bytes());
        if let Some(resol) = tsresol {
            body.extend_from_slice(&9u16.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[resol, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(IDB, &body)
    }

    fn epb(if_id: u32, ticks: u64, data: &[u8], orig: u32) -> Vec<u8> {
        let mut body = if_id.to_le_bytes().to_vec();
        body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ticks as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&orig.to_le_bytes());
        body.extend_from_slice(data);
        block(EPB, &body)
    }

    /// number, nanos, linktype, orig_len, data.
    type Item = Result<(u64, i64, u32, u32, Vec<u8>), String>;

    fn read_all(bytes: &[u8]) -> Vec<Item> {
        let mut reader = CaptureReader::new(bytes).unwrap();
        let mut out = Vec::new();
        while let Some(item) = reader.next_packet() {
            out.push(
                item.map(|p| {
                    (
                        p.number,
                        p.ts.nanos(),
                        p.linktype.0,
                        p.orig_len,
                        p.data.to_vec(),
                    )
                })
                .map_err(|e| e.to_string()),
            );
            assert!(out.len() < 10_000, "reader does not end");
        }
        out
    }

    #[test]
    fn classic_pcap_byte_orders_and_resolutions() {
        let records: &[(u32, u32, &[u8], u32)] = &[(10, 5, b"abcd", 60), (11, 7, b"ef", 2)];
        for (big_endian, magic, frac_nanos) in [
            (false, 0xa1b2_c3d4, 1_000),
            (true, 0xa1b2_c3d4, 1_000),
            (false, 0xa1b2_3c4d, 1),
            (true, 0xa1b2_3c4d, 1),
        ] {
            let bytes = pcap(big_endian, magic, 113, records);
            let got = read_all(&bytes);
            assert_eq!(
                got,
                vec![
                    Ok((
                        1,
                        10_000_000_000 + 5 * frac_nanos,
                        113,
                        60,
                        b"abcd".to_vec()
                    )),
                    Ok((2, 11_000_000_000 + 7 * frac_nanos, 113, 2, b"ef".to_vec())),
                ],
                "big_endian {big_endian} magic {magic:#x}"
            );
        }
    }

    #[test]
    fn pcapng_interfaces_resolutions_and_block_kinds() {
        let mut bytes = shb();
        bytes.extend(idb(1, None)); // µs
        bytes.extend(idb(101, Some(9))); // ns
        bytes.extend(idb(0, Some(0x80 | 10))); // 2^-10 s
        bytes.extend(block(0x0000_0005, &[0u8; 16])); // interface statistics: skipped
        bytes.extend(epb(0, 1_500_000, b"one", 3));
        bytes.extend(epb(1, 2_000_000_001, b"two", 100));
        bytes.extend(epb(2, 3 * 1024 + 512, b"three", 5));
        // Simple packet block: interface 0, no timestamp of its own.
        let mut spb = 4u32.to_le_bytes().to_vec();
        spb.extend_from_slice(b"four");
        bytes.extend(block(SPB, &spb));
        // Obsolete packet block on interface 1.
        let mut pb = 1u16.to_le_bytes().to_vec();
        pb.extend_from_slice(&0u16.to_le_bytes());
        pb.extend_from_slice(&0u32.to_le_bytes());
        pb.extend_from_slice(&7u32.to_le_bytes());
        pb.extend_from_slice(&4u32.to_le_bytes());
        pb.extend_from_slice(&4u32.to_le_bytes());
        pb.extend_from_slice(b"five");
        bytes.extend(block(OBSOLETE_PB, &pb));
        // A packet on an interface that does not exist: corrupt, skipped.
        bytes.extend(epb(9, 0, b"bad", 3));
        // A new section resets the interfaces.
        bytes.extend(shb());
        bytes.extend(idb(228, None));
        bytes.extend(epb(0, 1, b"six", 3));
        let got = read_all(&bytes);
        assert_eq!(
            got,
            vec![
                Ok((1, 1_500_000_000, 1, 3, b"one".to_vec())),
                Ok((2, 2_000_000_001, 101, 100, b"two".to_vec())),
                Ok((3, 3_500_000_000, 0, 5, b"three".to_vec())),
                Ok((4, 3_500_000_000, 1, 4, b"four".to_vec())),
                Ok((5, 7, 101, 4, b"five".to_vec())),
                Err("packet 6: corrupt record: packet on interface 9, but the section has 3 interfaces".to_owned()),
                Ok((7, 1_000, 228, 3, b"six".to_vec())),
            ]
        );
    }

    #[test]
    fn not_a_capture() {
        for bytes in [
            &b""[..],
            b"ab",
            b"GET / HTTP/1.1\r\n\r\n",
            &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0],
        ] {
            match CaptureReader::new(bytes) {
                Err(error @ CaptureError::NotACapture(_)) => assert!(error.is_fatal()),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn corrupt_pcap_without_a_following_record_is_unrecoverable() {
        let mut bytes = pcap(
            false,
            0xa1b2_c3d4,
            1,
            &[(1, 0, b"abcd", 4), (2, 0, b"efgh", 4)],
        );
        // Packet 2's captured length, then garbage where records should be.
        let at = 24 + 16 + 4;
        bytes[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0xffu8; 64]);
        let got = read_all(&bytes);
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        let error = got[1].clone().unwrap_err();
        assert!(
            error.starts_with("packet 2: corrupt record, cannot read further"),
            "{error}"
        );
    }

    #[test]
    fn pcapng_block_bigger_than_the_buffer_is_streamed_past() {
        let mut bytes = shb();
        bytes.extend(idb(1, None));
        bytes.extend(block(0x0000_0BAD, &vec![0u8; BUFFER_CAPACITY + 100]));
        bytes.extend(epb(0, 1, b"after", 5));
        let mut big_packet = epb(0, 2, &vec![1u8; BUFFER_CAPACITY], 5);
        big_packet.extend(epb(0, 3, b"last", 4));
        bytes.extend(big_packet);
        let got = read_all(&bytes);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Ok((1, 1_000, 1, 5, b"after".to_vec())));
        assert!(got[1]
            .clone()
            .unwrap_err()
            .starts_with("packet 2: corrupt record"));
        assert_eq!(got[2], Ok((3, 3_000, 1, 4, b"last".to_vec())));
    }

    #[test]
    fn io_errors_are_reported_with_the_packet() {
        struct Failing(Vec<u8>, usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0.len() - self.1);
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let bytes = pcap(false, 0xa1b2_c3d4, 1, &[(1, 0, b"abcd", 4)]);
        let mut reader = CaptureReader::new(Failing(bytes, 0)).unwrap();
        assert!(reader.next_packet().unwrap().is_ok());
        match reader.next_packet() {
            Some(Err(CaptureError::Io { packet: 2, source })) => {
                assert_eq!(source.to_string(), "disk on fire")
            }
            other => panic!("{other:?}"),
        }
        assert!(reader.next_packet().is_none());
    }

    proptest! {
        /// Random bytes after a valid header: every call returns, the reader
        /// ends, and nothing panics.
        #[test]
        fn random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600), ng in any::<bool>()) {
            let mut bytes = if ng {
                let mut b = shb();
                b.extend(idb(1, None));
                b
            } else {
                pcap(false, 0xa1b2_c3d4, 1, &[])
            };
            bytes.extend_from_slice(&body);
            if let Ok(mut reader) = CaptureReader::new(bytes.as_slice()) {
                let mut calls = 0;
                while reader.next_packet().is_some() {
                    calls += 1;
                    prop_assert!(calls <= body.len() + 1);
                }
            }
        }
    }
}
