//! Reading capture files: classic pcap (any byte order, µs or ns) and pcapng
//! (several interfaces, each with its own link type and time resolution).
//!
//! [`CaptureReader::next_packet`] yields packets in file order, numbered from
//! 1 as tshark numbers frames. A corrupt record yields a [`CaptureError`]
//! naming the packet number; a non-fatal one is followed by more packets.

use std::io::Read;

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
    /// A record header or block is corrupt; reading cannot go on safely.
    #[error("packet {packet}: corrupt record: {detail}")]
    Corrupt {
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
}

/// Streams packets out of a pcap or pcapng file.
pub struct CaptureReader<R: Read> {
    _inner: R,
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader").finish_non_exhaustive()
    }
}

impl<R: Read> CaptureReader<R> {
    /// Open a capture, detecting pcap or pcapng from its magic number.
    pub fn new(inner: R) -> Result<Self, CaptureError> {
        Ok(Self { _inner: inner })
    }

    /// The next packet, an error, or `None` at the end of the file.
    /// After a fatal error (see [`CaptureError::is_fatal`]) it returns `None`.
    pub fn next_packet(&mut self) -> Option<Result<RawPacket<'_>, CaptureError>> {
        None
    }

    /// Bytes consumed from the underlying reader so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        0
    }
}
