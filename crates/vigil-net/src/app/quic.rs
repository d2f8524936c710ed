//! QUIC: the TLS ClientHello a client sends in its Initial packets.
//!
//! A QUIC client's first flight is "encrypted" with keys anyone can derive
//! from the Destination Connection ID of its first Initial packet (RFC 9001
//! §5.2), so a passive observer can read the ClientHello: this module owns
//! exactly that, and nothing after it (Handshake and 1-RTT packets stay
//! opaque). For each UDP datagram it
//!
//! - walks the coalesced long-header packets (RFC 9000 §12.2, §17.2) of the
//!   versions it knows: 1 (RFC 9000), 2 (RFC 9369) and draft-29;
//! - for each client Initial, derives the client keys (HKDF-Extract with the
//!   version's salt, HKDF-Expand-Label "client in", "quic key", "quic iv",
//!   "quic hp"), removes header protection (AES-128 on the sample), decodes
//!   the packet number and opens the payload (AES-128-GCM);
//! - parses the frames allowed in Initial packets (PADDING, PING, ACK,
//!   CRYPTO, CONNECTION_CLOSE) and reassembles the CRYPTO stream from offset
//!   0, across frames, packets and datagrams, out-of-order data buffered up to
//!   [`MAX_CRYPTO_BYTES`];
//! - returns the ClientHello handshake message (type 1, 3-byte length, body)
//!   once all of it has arrived.
//!
//! [`QuicInitialParser`] is the pure, bounded core (bytes in, values out);
//! [`QuicParser`] plugs it into the [`DatagramParser`] contract and turns the
//! ClientHello into a TLS record.
//!
//! The cryptography is RustCrypto's (`hkdf`, `sha2`, `aes`, `aes-gcm`); only
//! the QUIC framing around it is written here, because no maintained crate
//! parses QUIC packets without also being a QUIC endpoint.

use aes::cipher::{generic_array::GenericArray, BlockEncrypt};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use vigil_event::{Body, Event, Timestamp, TlsActivity};

use super::ja::JaTransport;
use super::{AppConfig, DatagramParser, Direction, FlowMeta, Progress, StreamParser};

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// QUIC draft-29, still sent by some older stacks.
pub const VERSION_DRAFT_29: u32 = 0xff00_001d;

/// Most CRYPTO-stream bytes (from offset 0) buffered per connection while
/// waiting for the whole ClientHello; data beyond it is refused.
pub const MAX_CRYPTO_BYTES: usize = 64 * 1024;

/// Longest connection id QUIC v1/v2 allow (RFC 9000 §17.2).
const MAX_CID_LEN: usize = 20;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// Header protection sample length (RFC 9001 §5.4.2).
const SAMPLE_LEN: usize = 16;
/// Key sets cached per connection (original DCID, post-Retry DCID, another
/// version after compatible version negotiation).
const MAX_CACHED_KEYS: usize = 4;
/// TLS handshake type of a ClientHello.
const CLIENT_HELLO: u8 = 1;

/// What went wrong reading a datagram as QUIC Initial packets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuicError {
    /// The datagram ends inside a packet header or packet.
    #[error("quic packet truncated at datagram byte {offset}")]
    Truncated {
        /// Where the missing bytes start.
        offset: usize,
    },
    /// The first packet of the datagram is not a long-header packet of a
    /// version this module reads.
    #[error("datagram does not start with a quic long-header packet of a known version")]
    NotQuic,
    /// A connection id longer than 20 bytes.
    #[error("quic connection id of {len} bytes at datagram byte {offset} is over 20")]
    ConnectionIdTooLong {
        /// Its announced length.
        len: usize,
        /// Where its length byte is.
        offset: usize,
    },
    /// The payload did not authenticate with the client Initial keys.
    #[error("quic initial packet at datagram byte {offset} did not decrypt with the client initial keys")]
    Decrypt {
        /// Where the packet starts.
        offset: usize,
    },
    /// A frame that cannot be read.
    #[error("malformed quic frame of type {frame_type:#x} at payload byte {offset}")]
    Frame {
        /// The frame type.
        frame_type: u64,
        /// Where it starts in the decrypted payload.
        offset: usize,
    },
    /// CRYPTO data beyond [`MAX_CRYPTO_BYTES`], or a ClientHello longer.
    #[error("quic crypto stream needs {needed} bytes, over the {limit}-byte limit")]
    CryptoOverLimit {
        /// Bytes the stream would need.
        needed: u64,
        /// The limit.
        limit: usize,
    },
    /// The CRYPTO stream does not start with a ClientHello.
    #[error(
        "quic crypto stream starts with tls handshake type {handshake_type}, not a clienthello"
    )]
    NotClientHello {
        /// The handshake type found.
        handshake_type: u8,
    },
}

/// Initial-packet parameters of one QUIC version.
#[derive(Debug, Clone, Copy)]
struct VersionParams {
    salt: [u8; 20],
    key_label: &'static [u8],
    iv_label: &'static [u8],
    hp_label: &'static [u8],
    /// Long-header packet type bits (`(first >> 4) & 3`) of Initial packets.
    initial_type: u8,
    /// Same for Retry packets, which carry no Length field.
    retry_type: u8,
}

fn version_params(version: u32) -> Option<VersionParams> {
    match version {
        // RFC 9001 §5.2.
        VERSION_1 => Some(VersionParams {
            salt: [
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
            ],
            key_label: b"quic key",
            iv_label: b"quic iv",
            hp_label: b"quic hp",
            initial_type: 0,
            retry_type: 3,
        }),
        // RFC 9369 §3.3.1, §3.3.2, §3.2.
        VERSION_2 => Some(VersionParams {
            salt: [
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
            key_label: b"quicv2 key",
            iv_label: b"quicv2 iv",
            hp_label: b"quicv2 hp",
            initial_type: 1,
            retry_type: 0,
        }),
        // draft-ietf-quic-tls-29 §5.2.
        VERSION_DRAFT_29 => Some(VersionParams {
            salt: [
                0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
                0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
            ],
            key_label: b"quic key",
            iv_label: b"quic iv",
            hp_label: b"quic hp",
            initial_type: 0,
            retry_type: 3,
        }),
        _ => None,
    }
}

/// A connection id, stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnectionId {
    fn new(id: &[u8]) -> Option<Self> {
        let mut bytes = [0; MAX_CID_LEN];
        bytes.get_mut(..id.len())?.copy_from_slice(id);
        Some(Self {
            len: u8::try_from(id.len()).ok()?,
            bytes,
        })
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The client's Initial keys for one (version, DCID).
struct ClientKeys {
    version: u32,
    dcid: ConnectionId,
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: aes::Aes128,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys")
            .field("version", &format_args!("{:#010x}", self.version))
            .field("dcid", &self.dcid.as_slice())
            .finish_non_exhaustive()
    }
}

/// TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(label.len() + 6).ok()?];
    prk.expand_multi_info(&[&len, &label_len, b"tls13 ", label, &[0]], out)
        .ok()
}

/// The raw client Initial secrets (RFC 9001 §5.2): key, iv, hp.
fn client_secrets(version: u32, dcid: &[u8]) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let params = version_params(version)?;
    let initial = Hkdf::<Sha256>::new(Some(&params.salt), dcid);
    let mut client_secret = [0u8; 32];
    expand_label(&initial, b"client in", &mut client_secret)?;
    let client = Hkdf::<Sha256>::from_prk(&client_secret).ok()?;
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, params.key_label, &mut key)?;
    expand_label(&client, params.iv_label, &mut iv)?;
    expand_label(&client, params.hp_label, &mut hp)?;
    Some((key, iv, hp))
}

impl ClientKeys {
    fn derive(version: u32, dcid: ConnectionId) -> Option<Self> {
        let (key, iv, hp) = client_secrets(version, dcid.as_slice())?;
        Some(Self {
            version,
            dcid,
            aead: Aes128Gcm::new(GenericArray::from_slice(&key)),
            iv,
            hp: aes::Aes128::new(GenericArray::from_slice(&hp)),
        })
    }

    /// The header protection mask for `sample` (RFC 9001 §5.4.3).
    fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> [u8; SAMPLE_LEN] {
        let mut block = GenericArray::from(*sample);
        self.hp.encrypt_block(&mut block);
        block.into()
    }

    fn nonce(&self, packet_number: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(packet_number.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }
}

/// A cursor over bytes that never reads past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.bytes(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    /// A variable-length integer (RFC 9000 §16).
    fn varint(&mut self) -> Option<u64> {
        let first = self.u8()?;
        let extra = (1usize << (first >> 6)) - 1;
        let mut value = u64::from(first & 0x3f);
        for &b in self.bytes(extra)? {
            value = (value << 8) | u64::from(b);
        }
        Some(value)
    }
}

/// The invariant fields of a long-header packet, up to its Length field.
#[derive(Debug, Clone, Copy)]
struct LongHeader {
    first: u8,
    version: u32,
    dcid: ConnectionId,
    /// Offset of the byte after the header fields that precede the packet
    /// number (Initial) or payload (others); `None` when this packet has no
    /// Length field (Retry), so it runs to the end of the datagram.
    pn_offset: Option<usize>,
    /// Offset one past the packet's last byte.
    end: usize,
}

/// Reads the long header at `start` of a version this module knows.
fn long_header(datagram: &[u8], start: usize) -> Result<LongHeader, QuicError> {
    let mut r = Reader::new(datagram, start);
    let truncated = |offset| QuicError::Truncated { offset };
    let first = r.u8().ok_or(truncated(start))?;
    if first & 0x80 == 0 {
        return Err(QuicError::NotQuic);
    }
    let version = r.u32().ok_or(truncated(r.pos))?;
    let params = version_params(version).ok_or(QuicError::NotQuic)?;
    let cid = |r: &mut Reader<'_>| {
        let offset = r.pos;
        let len = usize::from(r.u8().ok_or(truncated(offset))?);
        if len > MAX_CID_LEN {
            return Err(QuicError::ConnectionIdTooLong { len, offset });
        }
        let id = r.bytes(len).ok_or(truncated(offset + 1))?;
        ConnectionId::new(id).ok_or(QuicError::ConnectionIdTooLong { len, offset })
    };
    let dcid = cid(&mut r)?;
    let _scid = cid(&mut r)?;
    let packet_type = (first >> 4) & 0x03;
    if packet_type == params.retry_type {
        return Ok(LongHeader {
            first,
            version,
            dcid,
            pn_offset: None,
            end: datagram.len(),
        });
    }
    if packet_type == params.initial_type {
        let offset = r.pos;
        let token_len = r.varint().ok_or(truncated(offset))?;
        let token_len = usize::try_from(token_len).map_err(|_| truncated(r.pos))?;
        r.bytes(token_len).ok_or(truncated(r.pos))?;
    }
    let offset = r.pos;
    let length = r.varint().ok_or(truncated(offset))?;
    let pn_offset = r.pos;
    let end = usize::try_from(length)
        .ok()
        .and_then(|l| pn_offset.checked_add(l))
        .filter(|&end| end <= datagram.len())
        .ok_or(truncated(datagram.len()))?;
    Ok(LongHeader {
        first,
        version,
        dcid,
        pn_offset: Some(pn_offset),
        end,
    })
}

/// True when `datagram` starts with a QUIC long-header Initial packet of a
/// version Vigil reads (1, 2, draft-29) whose header fields are consistent
/// with the datagram's length. Cheap: no cryptography. Meant for
/// [`super::detect_datagram`]; [`QuicInitialParser`] authenticates.
pub fn is_quic_initial(datagram: &[u8]) -> bool {
    let Some(&first) = datagram.first() else {
        return false;
    };
    // Long header with the fixed bit set: RFC 9287 lets a peer grease the
    // fixed bit only after it has seen the other side's transport
    // parameters, so a client's first Initial always has it.
    if first & 0xc0 != 0xc0 {
        return false;
    }
    let Ok(header) = long_header(datagram, 0) else {
        return false;
    };
    let Some(params) = version_params(header.version) else {
        return false;
    };
    (first >> 4) & 0x03 == params.initial_type
        && header
            .pn_offset
            .is_some_and(|pn| pn + 4 + SAMPLE_LEN <= header.end)
}

/// Decodes a truncated packet number (RFC 9000 §A.3).
fn decode_packet_number(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let bits = 8 * pn_len as u32;
    let window = 1u64 << bits;
    let half = window / 2;
    let mask = window - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(half) <= expected && candidate < (1u64 << 62) - window {
        candidate + window
    } else if candidate > expected.saturating_add(half) && candidate >= window {
        candidate - window
    } else {
        candidate
    }
}

/// The CRYPTO stream from offset 0, with out-of-order data held in place.
#[derive(Debug, Default)]
struct CryptoStream {
    /// Bytes by stream offset; grows to the highest offset received.
    data: Vec<u8>,
    /// One bit per byte of `data`: received or not.
    have: Vec<u64>,
    /// Bytes from offset 0 received without a hole.
    contiguous: usize,
}

impl CryptoStream {
    fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<(), QuicError> {
        let needed = offset.saturating_add(bytes.len() as u64);
        let over = || QuicError::CryptoOverLimit {
            needed,
            limit: MAX_CRYPTO_BYTES,
        };
        let start = usize::try_from(offset).map_err(|_| over())?;
        let end = start.checked_add(bytes.len()).ok_or_else(over)?;
        if end > MAX_CRYPTO_BYTES {
            return Err(over());
        }
        if end > self.data.len() {
            self.data.resize(end, 0);
            self.have.resize(end.div_ceil(64), 0);
        }
        // First copy wins on overlap: retransmitted CRYPTO data must be
        // identical, and keeping what arrived first is what TLS stacks do.
        for (i, &b) in (start..end).zip(bytes) {
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            if let (Some(w), Some(slot)) = (self.have.get_mut(word), self.data.get_mut(i)) {
                if *w & bit == 0 {
                    *w |= bit;
                    *slot = b;
                }
            }
        }
        while self.contiguous < self.data.len()
            && self
                .have
                .get(self.contiguous / 64)
                .is_some_and(|w| w & (1u64 << (self.contiguous % 64)) != 0)
        {
            self.contiguous += 1;
        }
        Ok(())
    }

    /// The ClientHello handshake message, once all of it is here.
    fn client_hello(&self) -> Result<Option<Vec<u8>>, QuicError> {
        let Some(&[handshake_type, l0, l1, l2]) =
            self.data.get(..4).filter(|_| self.contiguous >= 4)
        else {
            return Ok(None);
        };
        if handshake_type != CLIENT_HELLO {
            return Err(QuicError::NotClientHello { handshake_type });
        }
        let len = 4 + (usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2));
        if len > MAX_CRYPTO_BYTES {
            return Err(QuicError::CryptoOverLimit {
                needed: len as u64,
                limit: MAX_CRYPTO_BYTES,
            });
        }
        if self.contiguous < len {
            return Ok(None);
        }
        Ok(self.data.get(..len).map(<[u8]>::to_vec))
    }
}

/// Reads one connection's client Initial packets until the ClientHello is
/// complete. Bounded: at most [`MAX_CRYPTO_BYTES`] of CRYPTO data and a few
/// key sets.
#[derive(Debug, Default)]
pub struct QuicInitialParser {
    /// The DCID of the first client Initial that decrypted: Initial keys
    /// stay derived from it for the whole handshake (RFC 9001 §5.2).
    original_dcid: Option<ConnectionId>,
    keys: Vec<ClientKeys>,
    largest_pn: Option<u64>,
    crypto: CryptoStream,
    decrypted: u64,
    frames_skipped: u64,
    done: bool,
}

impl QuicInitialParser {
    /// A parser with nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Client Initial packets decrypted so far.
    pub fn initials_decrypted(&self) -> u64 {
        self.decrypted
    }

    /// Packets whose frames were cut short at a frame type not allowed in
    /// Initial packets (the CRYPTO data before it is kept).
    pub fn frames_skipped(&self) -> u64 {
        self.frames_skipped
    }

    /// One UDP datagram. Only the client's (`client_to_server`) are read;
    /// returns the ClientHello handshake message (type, 3-byte length, body)
    /// the first time it is complete, `None` before and after. An error
    /// concerns this datagram only: the parser keeps what earlier ones gave.
    /// A packet that fails to decrypt is skipped; the error is returned when
    /// no Initial packet of the datagram decrypted.
    pub fn datagram(
        &mut self,
        client_to_server: bool,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>, QuicError> {
        if !client_to_server || self.done {
            return Ok(None);
        }
        let mut start = 0;
        let mut first_error = None;
        let mut opened = false;
        while start < data.len() {
            let header = match long_header(data, start) {
                Ok(header) => header,
                // A short-header packet, trailing zero padding, or an unknown
                // version: nothing after it can be read.
                Err(QuicError::NotQuic) if start > 0 => break,
                Err(e) => {
                    first_error.get_or_insert(e);
                    break;
                }
            };
            let is_initial = version_params(header.version)
                .is_some_and(|p| (header.first >> 4) & 0x03 == p.initial_type);
            if let (true, Some(pn_offset)) = (is_initial, header.pn_offset) {
                match self.open_initial(data, start, pn_offset, &header) {
                    Ok(payload) => {
                        opened = true;
                        if let Err(e) = self.frames(&payload) {
                            first_error.get_or_insert(e);
                        }
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            start = header.end;
        }
        match self.crypto.client_hello() {
            Ok(Some(hello)) => {
                self.done = true;
                Ok(Some(hello))
            }
            Ok(None) => match first_error {
                Some(e) if !opened || matches!(e, QuicError::CryptoOverLimit { .. }) => Err(e),
                _ => Ok(None),
            },
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// Finds (or derives) the keys for `version` and `dcid`.
    fn keys_for(&mut self, version: u32, dcid: ConnectionId) -> Option<usize> {
        if let Some(i) = self
            .keys
            .iter()
            .position(|k| k.version == version && k.dcid == dcid)
        {
            return Some(i);
        }
        let keys = ClientKeys::derive(version, dcid)?;
        if self.keys.len() >= MAX_CACHED_KEYS {
            // Keep the first (the original DCID's); drop the oldest other.
            self.keys.remove(1);
        }
        self.keys.push(keys);
        Some(self.keys.len() - 1)
    }

    /// Removes header protection and decrypts one Initial packet
    /// `data[start..header.end]`, returning its plaintext payload.
    fn open_initial(
        &mut self,
        data: &[u8],
        start: usize,
        pn_offset: usize,
        header: &LongHeader,
    ) -> Result<Vec<u8>, QuicError> {
        let packet = data
            .get(start..header.end)
            .ok_or(QuicError::Truncated { offset: start })?;
        let pn_rel = pn_offset - start;
        // Candidates: the original DCID's keys (every Initial of the
        // handshake), then this packet's DCID (the first Initial, or the one
        // after a Retry).
        let mut candidates = Vec::with_capacity(2);
        if let Some(original) = self.original_dcid {
            candidates.push(original);
        }
        if Some(header.dcid) != self.original_dcid {
            candidates.push(header.dcid);
        }
        for dcid in candidates {
            let Some(i) = self.keys_for(header.version, dcid) else {
                continue;
            };
            let Some(keys) = self.keys.get(i) else {
                continue;
            };
            if let Some((payload, pn)) = open_with(keys, packet, pn_rel, self.largest_pn) {
                self.largest_pn = Some(self.largest_pn.map_or(pn, |l| l.max(pn)));
                self.original_dcid.get_or_insert(dcid);
                self.decrypted += 1;
                return Ok(payload);
            }
        }
        Err(QuicError::Decrypt { offset: start })
    }

    /// Reads the frames of a decrypted Initial payload into the CRYPTO stream.
    fn frames(&mut self, payload: &[u8]) -> Result<(), QuicError> {
        let mut r = Reader::new(payload, 0);
        while r.pos < payload.len() {
            let offset = r.pos;
            let bad = |frame_type| QuicError::Frame { frame_type, offset };
            let frame_type = r.varint().ok_or(bad(u64::MAX))?;
            match frame_type {
                // PADDING, PING.
                0x00 | 0x01 => {}
                // ACK, ACK with ECN counts (RFC 9000 §19.3).
                0x02 | 0x03 => {
                    let _largest = r.varint().ok_or(bad(frame_type))?;
                    let _delay = r.varint().ok_or(bad(frame_type))?;
                    let ranges = r.varint().ok_or(bad(frame_type))?;
                    let _first_range = r.varint().ok_or(bad(frame_type))?;
                    // Each range takes at least two bytes, so this loop ends
                    // at the end of the payload whatever `ranges` says.
                    for _ in 0..ranges {
                        r.varint().ok_or(bad(frame_type))?;
                        r.varint().ok_or(bad(frame_type))?;
                    }
                    if frame_type == 0x03 {
                        for _ in 0..3 {
                            r.varint().ok_or(bad(frame_type))?;
                        }
                    }
                }
                // CRYPTO (RFC 9000 §19.6).
                0x06 => {
                    let stream_offset = r.varint().ok_or(bad(frame_type))?;
                    let len = r.varint().ok_or(bad(frame_type))?;
                    let len = usize::try_from(len).map_err(|_| bad(frame_type))?;
                    let bytes = r.bytes(len).ok_or(bad(frame_type))?;
                    self.crypto.insert(stream_offset, bytes)?;
                }
                // CONNECTION_CLOSE, transport variant (RFC 9000 §19.19).
                0x1c => {
                    let _code = r.varint().ok_or(bad(frame_type))?;
                    let _frame = r.varint().ok_or(bad(frame_type))?;
                    let len = r.varint().ok_or(bad(frame_type))?;
                    let len = usize::try_from(len).map_err(|_| bad(frame_type))?;
                    r.bytes(len).ok_or(bad(frame_type))?;
                }
                // Not allowed in Initial packets (RFC 9000 §12.4): its length
                // cannot be trusted, so the rest of the payload is skipped.
                _ => {
                    self.frames_skipped += 1;
                    tracing::debug!(
                        frame_type,
                        offset,
                        "quic initial: skipping unexpected frame"
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Removes header protection from and decrypts `packet` (one Initial packet,
/// its packet number at `pn_offset`) with `keys`: the payload and the full
/// packet number, or `None` when it does not authenticate.
fn open_with(
    keys: &ClientKeys,
    packet: &[u8],
    pn_offset: usize,
    largest_pn: Option<u64>,
) -> Option<(Vec<u8>, u64)> {
    // The sample assumes a 4-byte packet number (RFC 9001 §5.4.2).
    let sample: [u8; SAMPLE_LEN] = packet
        .get(pn_offset + 4..pn_offset + 4 + SAMPLE_LEN)?
        .try_into()
        .ok()?;
    let mask = keys.mask(&sample);
    let first = packet.first()? ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let header_len = pn_offset + pn_len;
    let mut header = packet.get(..header_len)?.to_vec();
    *header.first_mut()? = first;
    let mut truncated = 0u64;
    for (i, m) in (pn_offset..header_len).zip(&mask[1..]) {
        let b = header.get_mut(i)?;
        *b ^= m;
        truncated = (truncated << 8) | u64::from(*b);
    }
    let pn = decode_packet_number(largest_pn, truncated, pn_len);
    let body = packet.get(header_len..)?;
    let split = body.len().checked_sub(TAG_LEN)?;
    let (ciphertext, tag) = body.split_at(split);
    let mut payload = ciphertext.to_vec();
    let nonce = keys.nonce(pn);
    keys.aead
        .decrypt_in_place_detached(
            GenericArray::from_slice(&nonce),
            &header,
            &mut payload,
            GenericArray::from_slice(tag),
        )
        .ok()?;
    Some((payload, pn))
}

/// Client datagrams read without one Initial decrypting before the flow is
/// declared not QUIC.
const MAX_UNDECRYPTED_DATAGRAMS: u32 = 8;

/// The [`DatagramParser`] for QUIC: one TLS record per connection, from the
/// client's Initial packets.
#[derive(Debug, Default)]
pub struct QuicParser {
    initial: QuicInitialParser,
    /// The direction the client's Initial packets travel, once one decrypted.
    client_dir: Option<Direction>,
    undecrypted: u32,
}

impl QuicParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        let _ = config;
        Self::default()
    }
}

impl DatagramParser for QuicParser {
    fn datagram(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress {
        if self.client_dir.is_some_and(|d| d != dir) {
            return Progress::Continue;
        }
        let before = self.initial.initials_decrypted();
        let result = self.initial.datagram(true, data);
        if self.initial.initials_decrypted() > before {
            self.client_dir = Some(dir);
        }
        match result {
            Ok(Some(hello)) => {
                out.extend(client_hello_event(meta, dir, ts, &hello));
                Progress::Done
            }
            Ok(None) => Progress::Continue,
            Err(error) => {
                tracing::debug!(%error, "quic datagram");
                match error {
                    QuicError::NotClientHello { .. } | QuicError::CryptoOverLimit { .. } => {
                        Progress::Done
                    }
                    _ if self.client_dir.is_none() => {
                        self.undecrypted += 1;
                        if self.undecrypted >= MAX_UNDECRYPTED_DATAGRAMS {
                            Progress::Mismatch
                        } else {
                            Progress::Continue
                        }
                    }
                    _ => Progress::Continue,
                }
            }
        }
    }

    fn end(&mut self, _meta: &FlowMeta, _ts: Timestamp, _out: &mut Vec<Event>) {}
}

/// The [`StreamParser`] [`super::new_stream_parser`] gives for QUIC, which
/// never runs over TCP: it declares every flow a mismatch.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotOverTcp;

impl StreamParser for NotOverTcp {
    fn data(
        &mut self,
        _meta: &FlowMeta,
        _dir: Direction,
        _ts: Timestamp,
        _data: &[u8],
        _out: &mut Vec<Event>,
    ) -> Progress {
        Progress::Mismatch
    }
    fn gap(&mut self, _dir: Direction, _len: u64) {}
    fn end(&mut self, _meta: &FlowMeta, _ts: Timestamp, _out: &mut Vec<Event>) {}
}

/// The TLS record for a ClientHello (`hello`: handshake type, 3-byte length,
/// body) the client sent in `client_sends` direction over QUIC: parsed by
/// [`super::tls::parse_client_hello`] with [`JaTransport::Quic`] (JA4 starts
/// with 'q'; JA3 as for TCP), summarised by
/// [`super::tls::tls_info_from_client_hello`]. `None` when `hello` is not a
/// ClientHello or does not parse.
pub fn client_hello_event(
    meta: &FlowMeta,
    client_sends: Direction,
    ts: Timestamp,
    hello: &[u8],
) -> Option<Event> {
    let (&msg_type, rest) = hello.split_first()?;
    if msg_type != 1 {
        return None;
    }
    let body = rest.get(3..)?;
    let parsed = super::tls::parse_client_hello(body, JaTransport::Quic).ok()?;
    let tls = super::tls::tls_info_from_client_hello(parsed);
    let (src_endpoint, mut dst_endpoint) = meta.client_server(client_sends);
    if dst_endpoint.hostname.is_none() {
        dst_endpoint.hostname.clone_from(&tls.sni);
    }
    Some(Event::new(
        ts,
        Body::Tls(TlsActivity {
            src_endpoint,
            dst_endpoint,
            connection_info: meta.connection_info.clone(),
            tls,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        let digits: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.chars())
            .filter(|c| c.is_ascii_hexdigit())
            .collect();
        hex::decode(digits).expect("test vector hex")
    }

    const RFC9001_PACKET: &str = include_str!("testdata/rfc9001-a2-client-initial.hex");
    const RFC9001_FRAMES: &str = include_str!("testdata/rfc9001-a2-client-frames.hex");
    const RFC9369_PACKET: &str = include_str!("testdata/rfc9369-a2-client-initial.hex");
    const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    #[test]
    fn rfc9001_a1_client_keys() {
        let (key, iv, hp) = client_secrets(VERSION_1, &RFC_DCID).unwrap();
        assert_eq!(hex::encode(key), "1f369613dd76d5467730efcbe3b1a22d");
        assert_eq!(hex::encode(iv), "fa044b2f42a3fd3b46fb255c");
        assert_eq!(hex::encode(hp), "9f50449e04a0e810283a1e9933adedd2");
    }

    #[test]
    fn rfc9369_a1_client_keys() {
        let (key, iv, hp) = client_secrets(VERSION_2, &RFC_DCID).unwrap();
        assert_eq!(hex::encode(key), "8b1a0bc121284290a29e0971b5cd045d");
        assert_eq!(hex::encode(iv), "91f73e2351d8fa91660e909f");
        assert_eq!(hex::encode(hp), "45b95e15235d6f45a6b19cbcb0294ba9");
    }

    #[test]
    fn rfc9001_a2_header_protection_mask_and_nonce() {
        let keys = ClientKeys::derive(VERSION_1, ConnectionId::new(&RFC_DCID).unwrap()).unwrap();
        let sample: [u8; 16] = unhex("d1b1c98dd7689fb8ec11d242b123dc9b")
            .try_into()
            .unwrap();
        assert_eq!(hex::encode(&keys.mask(&sample)[..5]), "437b9aec36");
        assert_eq!(hex::encode(keys.nonce(2)), "fa044b2f42a3fd3b46fb255e");
    }

    /// The CRYPTO frame of RFC 9001 A.2 carries the whole ClientHello.
    fn rfc_client_hello() -> Vec<u8> {
        let frames = unhex(RFC9001_FRAMES);
        // Frame type 06, offset 00, length 40f1 (241).
        assert_eq!(&frames[..4], &[0x06, 0x00, 0x40, 0xf1]);
        frames[4..4 + 241].to_vec()
    }

    #[test]
    fn rfc9001_a2_client_initial_yields_the_client_hello() {
        let packet = unhex(RFC9001_PACKET);
        assert_eq!(packet.len(), 1200);
        assert!(is_quic_initial(&packet));
        let mut parser = QuicInitialParser::new();
        let hello = parser.datagram(true, &packet).unwrap().unwrap();
        assert_eq!(hello, rfc_client_hello());
        assert_eq!(hello[0], CLIENT_HELLO);
        assert_eq!(parser.initials_decrypted(), 1);
        assert_eq!(parser.largest_pn, Some(2));
        // Complete once: later datagrams give nothing more.
        assert_eq!(parser.datagram(true, &packet), Ok(None));
    }

    #[test]
    fn rfc9369_a2_v2_client_initial_yields_the_same_client_hello() {
        let packet = unhex(RFC9369_PACKET);
        assert!(is_quic_initial(&packet));
        let mut parser = QuicInitialParser::new();
        let hello = parser.datagram(true, &packet).unwrap().unwrap();
        assert_eq!(hello, rfc_client_hello());
    }

    #[test]
    fn a_flipped_ciphertext_bit_fails_authentication() {
        let mut packet = unhex(RFC9001_PACKET);
        packet[600] ^= 1;
        let mut parser = QuicInitialParser::new();
        assert_eq!(
            parser.datagram(true, &packet),
            Err(QuicError::Decrypt { offset: 0 })
        );
        assert_eq!(parser.initials_decrypted(), 0);
    }

    #[test]
    fn server_datagrams_are_not_read() {
        let packet = unhex(RFC9001_PACKET);
        let mut parser = QuicInitialParser::new();
        assert_eq!(parser.datagram(false, &packet), Ok(None));
        assert_eq!(parser.initials_decrypted(), 0);
    }

    #[test]
    fn version_field_decides_recognition() {
        let mut packet = unhex(RFC9001_PACKET);
        packet[1..5].copy_from_slice(&0x1a2a_3a4au32.to_be_bytes());
        assert!(!is_quic_initial(&packet));
        assert!(!is_quic_initial(&[]));
        assert!(!is_quic_initial(&packet[..30]));
        let mut parser = QuicInitialParser::new();
        assert_eq!(parser.datagram(true, &packet), Err(QuicError::NotQuic));
    }

    // --- Packets built by the test: an encoder mirroring RFC 9001 §5. ---

    fn varint(v: u64) -> Vec<u8> {
        match v {
            0..=0x3f => vec![v as u8],
            0x40..=0x3fff => ((v as u16) | 0x4000).to_be_bytes().to_vec(),
            _ => ((v as u32) | 0x8000_0000).to_be_bytes().to_vec(),
        }
    }

    fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend(varint(offset));
        f.extend(varint(data.len() as u64));
        f.extend_from_slice(data);
        f
    }

    /// A protected client Initial of `version` with `frames`, padded to
    /// `min_len` bytes of payload.
    fn seal_initial(version: u32, dcid: &[u8], pn: u32, frames: &[u8], min_len: usize) -> Vec<u8> {
        seal_initial_with(version, dcid, dcid, pn, frames, min_len)
    }

    /// Same, protected with the keys of `key_dcid` but carrying `wire_dcid`.
    fn seal_initial_with(
        version: u32,
        key_dcid: &[u8],
        wire_dcid: &[u8],
        pn: u32,
        frames: &[u8],
        min_len: usize,
    ) -> Vec<u8> {
        let params = version_params(version).unwrap();
        let keys = ClientKeys::derive(version, ConnectionId::new(key_dcid).unwrap()).unwrap();
        let mut payload = frames.to_vec();
        payload.resize(payload.len().max(min_len), 0);
        let mut header = vec![0xc0 | (params.initial_type << 4) | 0x03];
        header.extend(version.to_be_bytes());
        header.push(wire_dcid.len() as u8);
        header.extend_from_slice(wire_dcid);
        header.extend([4, 1, 2, 3, 4]); // SCID
        header.push(0); // no token
        header.extend(((4 + payload.len() + TAG_LEN) as u16 | 0x4000).to_be_bytes());
        let pn_offset = header.len();
        header.extend(pn.to_be_bytes());
        let nonce = keys.nonce(u64::from(pn));
        let tag = keys
            .aead
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &header, &mut payload)
            .unwrap();
        let mut packet = header;
        packet.extend(payload);
        packet.extend(tag);
        let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = keys.mask(&sample);
        packet[0] ^= mask[0] & 0x0f;
        for i in 0..4 {
            packet[pn_offset + i] ^= mask[1 + i];
        }
        packet
    }

    fn hello_of_len(body_len: usize) -> Vec<u8> {
        let mut hello = vec![CLIENT_HELLO];
        hello.extend(&(body_len as u32).to_be_bytes()[1..]);
        hello.extend((0..body_len).map(|i| (i * 7) as u8));
        hello
    }

    #[test]
    fn out_of_order_crypto_frames_across_datagrams_and_coalesced_packets() {
        let dcid = [9u8; 8];
        let hello = hello_of_len(3000);
        let (a, rest) = hello.split_at(1000);
        let (b, c) = rest.split_at(1200);
        // Datagram 1: the middle and the end, out of order, with PING and ACK.
        let mut frames = crypto_frame(2200, c);
        frames.extend([0x01, 0x02, 0x05, 0x00, 0x01, 0x00, 0x02, 0x01]);
        frames.extend(crypto_frame(1000, b));
        let first = seal_initial(VERSION_1, &dcid, 0, &frames, 1200);
        let mut parser = QuicInitialParser::new();
        assert_eq!(parser.datagram(true, &first), Ok(None));
        // Datagram 2: the start, in an Initial coalesced with a second
        // Initial repeating bytes already held, then zero padding.
        let mut second = seal_initial(VERSION_1, &dcid, 1, &crypto_frame(0, a), 0);
        second.extend(seal_initial(
            VERSION_1,
            &dcid,
            2,
            &crypto_frame(990, &hello[990..1010]),
            0,
        ));
        second.extend([0u8; 40]);
        assert_eq!(parser.datagram(true, &second), Ok(Some(hello)));
        assert_eq!(parser.initials_decrypted(), 3);
    }

    #[test]
    fn later_initials_keep_the_original_dcid_keys() {
        // After the server answers, the client's Initials carry the server's
        // connection id but stay protected with the original DCID's keys.
        let hello = hello_of_len(100);
        let first = seal_initial(VERSION_1, &[1; 8], 0, &crypto_frame(0, &hello[..50]), 1200);
        let second = seal_initial_with(
            VERSION_1,
            &[1; 8],
            &[7; 4],
            1,
            &crypto_frame(50, &hello[50..]),
            1200,
        );
        let mut parser = QuicInitialParser::new();
        assert_eq!(
            parser.datagram(true, &second),
            Err(QuicError::Decrypt { offset: 0 })
        );
        assert_eq!(parser.datagram(true, &first), Ok(None));
        assert_eq!(parser.datagram(true, &second), Ok(Some(hello)));
    }

    #[test]
    fn retry_dcid_keys_are_tried_when_the_original_fail() {
        let hello = hello_of_len(100);
        let first = seal_initial(VERSION_1, &[1; 8], 0, &crypto_frame(0, &hello[..50]), 1200);
        let after_retry =
            seal_initial(VERSION_1, &[2; 8], 1, &crypto_frame(50, &hello[50..]), 1200);
        let mut parser = QuicInitialParser::new();
        assert_eq!(parser.datagram(true, &first), Ok(None));
        assert_eq!(parser.datagram(true, &after_retry), Ok(Some(hello)));
    }

    #[test]
    fn draft29_initial_is_read() {
        let hello = hello_of_len(200);
        let packet = seal_initial(
            VERSION_DRAFT_29,
            &[3; 12],
            0,
            &crypto_frame(0, &hello),
            1200,
        );
        assert!(is_quic_initial(&packet));
        assert_eq!(
            QuicInitialParser::new().datagram(true, &packet),
            Ok(Some(hello))
        );
    }

    #[test]
    fn crypto_data_past_the_limit_is_refused() {
        let frames = crypto_frame(MAX_CRYPTO_BYTES as u64 - 2, &[1, 2, 3, 4]);
        let packet = seal_initial(VERSION_1, &[5; 8], 0, &frames, 1200);
        assert!(matches!(
            QuicInitialParser::new().datagram(true, &packet),
            Err(QuicError::CryptoOverLimit { .. })
        ));
    }

    #[test]
    fn a_stream_not_starting_with_client_hello_is_reported() {
        let packet = seal_initial(
            VERSION_1,
            &[5; 8],
            0,
            &crypto_frame(0, &[2, 0, 0, 1, 0]),
            1200,
        );
        assert_eq!(
            QuicInitialParser::new().datagram(true, &packet),
            Err(QuicError::NotClientHello { handshake_type: 2 })
        );
    }

    #[test]
    fn unexpected_frame_type_stops_the_packet_but_keeps_earlier_crypto() {
        let hello = hello_of_len(20);
        let mut frames = crypto_frame(0, &hello);
        frames.extend([0x10, 0xff, 0xff]); // MAX_DATA: not allowed in Initial
        let packet = seal_initial(VERSION_1, &[5; 8], 0, &frames, 1200);
        let mut parser = QuicInitialParser::new();
        assert_eq!(parser.datagram(true, &packet), Ok(Some(hello)));
        assert_eq!(parser.frames_skipped(), 1);
    }

    #[test]
    fn packet_number_decoding_follows_rfc9000_a3() {
        // RFC 9000 §A.3 example: largest 0xa82f30ea, 2-byte 0x9b32.
        assert_eq!(
            decode_packet_number(Some(0xa82f_30ea), 0x9b32, 2),
            0xa82f_9b32
        );
        assert_eq!(decode_packet_number(None, 2, 4), 2);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 1), 0x101);
    }

    proptest::proptest! {
        #[test]
        fn random_datagrams_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..1500)) {
            let _ = is_quic_initial(&data);
            let mut parser = QuicInitialParser::new();
            let _ = parser.datagram(true, &data);
            let _ = parser.datagram(true, &data);
        }

        #[test]
        fn mutated_initials_never_panic(
            flips in proptest::collection::vec((0usize..1200, proptest::num::u8::ANY), 0..8),
            cut in 0usize..1300,
        ) {
            let mut packet = unhex(RFC9001_PACKET);
            for (i, b) in flips {
                packet[i] ^= b;
            }
            packet.truncate(cut);
            let _ = is_quic_initial(&packet);
            let _ = QuicInitialParser::new().datagram(true, &packet);
        }

        #[test]
        fn random_frames_in_valid_packets_never_panic(
            frames in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let packet = seal_initial(VERSION_1, &[7; 8], 0, &frames, 0);
            let mut parser = QuicInitialParser::new();
            let result = parser.datagram(true, &packet);
            let decrypt_failed = matches!(result, Err(QuicError::Decrypt { .. }));
            proptest::prop_assert!(!decrypt_failed, "a packet the test sealed must open");
        }
    }
}
