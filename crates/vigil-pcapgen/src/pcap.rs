//! The classic pcap container (microsecond timestamps, link type Ethernet).
//!
//! Written by hand rather than with a crate: the format is a 24-byte file header and a
//! 16-byte header per record, and writing the record header straight into the caller's
//! buffered writer avoids an allocation per packet, which matters at 200+ MB/s.

use std::io::{self, Write};

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length announced in the header; every frame is far shorter.
pub(crate) const SNAPLEN: u32 = 262_144;

/// Bytes of the file header.
pub(crate) const FILE_HEADER_LEN: u64 = 24;
/// Bytes of a record header.
pub(crate) const RECORD_HEADER_LEN: u64 = 16;

/// Writes a pcap stream into `W`.
#[derive(Debug)]
pub(crate) struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub(crate) fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; FILE_HEADER_LEN as usize];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(Self { out })
    }

    /// Writes one frame captured at `unix_ns` nanoseconds since the epoch.
    pub(crate) fn record(&mut self, unix_ns: u64, frame: &[u8]) -> io::Result<()> {
        let mut header = [0u8; RECORD_HEADER_LEN as usize];
        let secs = unix_ns / 1_000_000_000;
        let micros = (unix_ns % 1_000_000_000) / 1_000;
        // Frames are at most a few KiB; the length always fits in u32.
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        header[0..4].copy_from_slice(&(secs as u32).to_le_bytes());
        header[4..8].copy_from_slice(&(micros as u32).to_le_bytes());
        header[8..12].copy_from_slice(&len.to_le_bytes());
        header[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(frame)
    }

    /// Flushes and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        writer
            .record(1_700_000_000_123_456_789, &[0xaa; 60])
            .unwrap();
        let bytes = writer.finish().unwrap();
        assert_eq!(bytes.len() as u64, FILE_HEADER_LEN + RECORD_HEADER_LEN + 60);
        assert_eq!(&bytes[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
        assert_eq!(
            u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
            1_700_000_000
        );
        assert_eq!(
            u32::from_le_bytes(bytes[28..32].try_into().unwrap()),
            123_456
        );
        assert_eq!(u32::from_le_bytes(bytes[32..36].try_into().unwrap()), 60);
    }
}
