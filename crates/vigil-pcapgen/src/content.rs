//! What flows inside a TCP direction: a queue of pieces (literal bytes, opaque or text
//! bytes taken from pre-made pools, and lazily expanded structures such as a run of TLS
//! records, a chunked HTTP body or a JSON document), cut into segments on demand.
//!
//! Nothing here holds a whole message: a 50 MB download is one piece of a few words,
//! expanded record by record (or chunk by chunk) as segments are cut, so memory per
//! session stays small whatever the transfer size.

use std::collections::VecDeque;

use crate::dist::{between, pick, Rng};

/// Bytes of each pool (the part that is read from).
const POOL: usize = 1 << 20;
/// Extra bytes at the end of each pool that repeat its start, so a read of up to this
/// many bytes never wraps.
const POOL_TAIL: usize = 1 << 16;

/// Pre-made byte pools: random bytes (ciphertext, compressed data) and text (HTML, CSS,
/// JavaScript-like lines). Reading a slice from a pool is a copy, which keeps generation
/// fast.
#[derive(Debug)]
pub(crate) struct Pools {
    opaque: Vec<u8>,
    text: Vec<u8>,
}

const WORDS: &[&str] = &[
    "the",
    "account",
    "data",
    "service",
    "network",
    "update",
    "content",
    "user",
    "page",
    "settings",
    "report",
    "security",
    "policy",
    "request",
    "value",
    "system",
    "session",
    "window",
    "function",
    "return",
    "var",
    "const",
    "class",
    "div",
    "span",
    "href",
    "style",
    "margin",
    "padding",
    "color",
    "display",
    "flex",
    "width",
    "height",
    "button",
    "form",
    "input",
    "label",
    "table",
    "row",
    "cell",
    "header",
    "footer",
    "navigation",
    "image",
    "loading",
    "error",
    "success",
    "message",
    "status",
    "customer",
    "order",
    "product",
];

impl Pools {
    pub(crate) fn new(rng: &mut Rng) -> Self {
        let mut opaque = vec![0u8; POOL + POOL_TAIL];
        crate::dist::fill(rng, &mut opaque[..POOL]);
        opaque.copy_within(..POOL_TAIL, POOL);

        let mut text = Vec::with_capacity(POOL + POOL_TAIL + 256);
        let openers = [
            "<p>",
            "<div class=\"item\">",
            "<li>",
            "  ",
            "function ",
            ".nav-",
            "<span>",
        ];
        while text.len() < POOL {
            text.extend_from_slice(pick(rng, &openers).as_bytes());
            for i in 0..between(rng, 4, 14) {
                if i > 0 {
                    text.push(b' ');
                }
                text.extend_from_slice(pick(rng, WORDS).as_bytes());
            }
            text.extend_from_slice(
                pick(
                    rng,
                    &["</p>\n", "</div>\n", "</li>\n", ";\n", " {\n", "}\n"],
                )
                .as_bytes(),
            );
        }
        text.truncate(POOL);
        let head: Vec<u8> = text[..POOL_TAIL].to_vec();
        text.extend_from_slice(&head);
        Self { opaque, text }
    }

    /// A random start offset in a pool.
    pub(crate) fn offset(rng: &mut Rng) -> usize {
        between(rng, 0, (POOL - 1) as u64) as usize
    }

    fn copy(pool: &[u8], at: &mut usize, n: usize, out: &mut Vec<u8>) {
        let mut n = n;
        while n > 0 {
            let take = n.min(POOL_TAIL);
            let start = *at % POOL;
            out.extend_from_slice(&pool[start..start + take]);
            *at = (start + take) % POOL;
            n -= take;
        }
    }
}

/// One piece of a direction's byte stream.
#[derive(Debug)]
pub(crate) enum Piece {
    /// Literal bytes (headers, handshake messages), `.1` of them already sent.
    Bytes(Vec<u8>, usize),
    /// Random-looking bytes (ciphertext, compressed or binary data).
    Opaque { left: u64, at: usize },
    /// Text bytes (HTML, CSS, JavaScript).
    Text { left: u64, at: usize },
    /// Encrypted TLS application-data records carrying `left` plaintext bytes, each
    /// carrying at most `record` bytes and `overhead` bytes of nonce/tag.
    TlsRecords {
        left: u64,
        record: u64,
        overhead: u64,
    },
    /// A chunked HTTP body of `left` text bytes in chunks of `chunk`, ending with the
    /// last-chunk line.
    Chunked { left: u64, chunk: u64 },
    /// A JSON array of objects exactly `left` bytes long (padded with whitespace).
    Json { left: u64, items: u64 },
}

/// A direction's pending bytes.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pieces: VecDeque<Piece>,
}

impl Stream {
    /// Appends a piece.
    pub(crate) fn push(&mut self, piece: Piece) {
        self.pieces.push_back(piece);
        self.normalize();
    }

    /// Appends literal bytes.
    pub(crate) fn push_bytes(&mut self, bytes: Vec<u8>) {
        self.push(Piece::Bytes(bytes, 0));
    }

    /// True when nothing is left to send.
    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Drops pieces that have nothing left to produce.
    fn normalize(&mut self) {
        while let Some(front) = self.pieces.front() {
            let done = match front {
                Piece::Bytes(data, pos) => *pos >= data.len(),
                Piece::Opaque { left, .. } | Piece::Text { left, .. } => *left == 0,
                Piece::TlsRecords { left, .. } => *left == 0,
                Piece::Chunked { .. } | Piece::Json { .. } => false,
            };
            if !done {
                break;
            }
            self.pieces.pop_front();
        }
    }

    /// Appends up to `max` bytes of the stream to `out`; returns how many.
    pub(crate) fn fill(
        &mut self,
        max: usize,
        out: &mut Vec<u8>,
        pools: &Pools,
        rng: &mut Rng,
    ) -> usize {
        let mut written = 0usize;
        while written < max {
            let room = (max - written) as u64;
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            match front {
                Piece::Bytes(data, pos) => {
                    let n = (data.len() - *pos).min(room as usize);
                    out.extend_from_slice(&data[*pos..*pos + n]);
                    *pos += n;
                    written += n;
                }
                Piece::Opaque { left, at } => {
                    let n = (*left).min(room);
                    Pools::copy(&pools.opaque, at, n as usize, out);
                    *left -= n;
                    written += n as usize;
                }
                Piece::Text { left, at } => {
                    let n = (*left).min(room);
                    Pools::copy(&pools.text, at, n as usize, out);
                    *left -= n;
                    written += n as usize;
                }
                Piece::TlsRecords {
                    left,
                    record,
                    overhead,
                } => {
                    let n = (*left).min(*record);
                    let len = n + *overhead;
                    *left -= n;
                    let header = tls_record_header(0x17, len as u16);
                    let body = Piece::Opaque {
                        left: len,
                        at: Pools::offset(rng),
                    };
                    self.pieces.push_front(body);
                    self.pieces.push_front(Piece::Bytes(header.to_vec(), 0));
                }
                Piece::Chunked { left, chunk } => {
                    if *left == 0 {
                        self.pieces.pop_front();
                        self.pieces
                            .push_front(Piece::Bytes(b"0\r\n\r\n".to_vec(), 0));
                    } else {
                        let n = (*left).min(*chunk);
                        *left -= n;
                        self.pieces.push_front(Piece::Bytes(b"\r\n".to_vec(), 0));
                        self.pieces.push_front(Piece::Text {
                            left: n,
                            at: Pools::offset(rng),
                        });
                        self.pieces
                            .push_front(Piece::Bytes(format!("{n:x}\r\n").into_bytes(), 0));
                    }
                }
                Piece::Json { left, items } => {
                    let next = if *items == 0 {
                        *left -= 1;
                        *items = 1;
                        b"[".to_vec()
                    } else if *left > 260 {
                        let mut object = if *items > 1 {
                            b",".to_vec()
                        } else {
                            Vec::new()
                        };
                        json_object(rng, *items, &mut object);
                        *left -= object.len() as u64;
                        *items += 1;
                        object
                    } else {
                        let mut close = b"]".to_vec();
                        close.resize((*left).max(1) as usize, b' ');
                        if close.len() > 1 {
                            if let Some(last) = close.last_mut() {
                                *last = b'\n';
                            }
                        }
                        self.pieces.pop_front();
                        close
                    };
                    self.pieces.push_front(Piece::Bytes(next, 0));
                }
            }
            self.normalize();
        }
        written
    }
}

/// One JSON object (at most ~250 bytes).
fn json_object(rng: &mut Rng, id: u64, out: &mut Vec<u8>) {
    let name: Vec<&str> = (0..between(rng, 1, 4)).map(|_| *pick(rng, WORDS)).collect();
    let text = format!(
        "{{\"id\":{},\"name\":\"{}\",\"active\":{},\"score\":{}.{:02},\"tags\":[\"{}\",\"{}\"],\"updated\":\"2026-11-{:02}T{:02}:{:02}:{:02}Z\"}}",
        10_000 + id * 7 + between(rng, 0, 6),
        name.join(" "),
        if between(rng, 0, 1) == 0 { "true" } else { "false" },
        between(rng, 0, 99),
        between(rng, 0, 99),
        pick(rng, WORDS),
        pick(rng, WORDS),
        between(rng, 1, 30),
        between(rng, 0, 23),
        between(rng, 0, 59),
        between(rng, 0, 59),
    );
    out.extend_from_slice(text.as_bytes());
}

/// A TLS record header.
pub(crate) fn tls_record_header(content_type: u8, len: u16) -> [u8; 5] {
    let len = len.to_be_bytes();
    [content_type, 0x03, 0x03, len[0], len[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(stream: &mut Stream, pools: &Pools, rng: &mut Rng, mss: usize) -> Vec<u8> {
        let mut all = Vec::new();
        while !stream.is_empty() {
            let n = stream.fill(mss, &mut all, pools, rng);
            assert!(n > 0 && n <= mss);
        }
        all
    }

    #[test]
    fn pieces_produce_exact_lengths() {
        let mut rng = crate::dist::rng(5, 0);
        let pools = Pools::new(&mut rng);
        let mut stream = Stream::default();
        stream.push_bytes(b"HTTP/1.1 200 OK\r\n\r\n".to_vec());
        stream.push(Piece::Text { left: 5000, at: 17 });
        stream.push(Piece::Opaque {
            left: 70_000,
            at: POOL - 3,
        });
        let all = drain(&mut stream, &pools, &mut rng, 1448);
        assert_eq!(all.len(), 19 + 5000 + 70_000);
    }

    #[test]
    fn tls_records_have_valid_headers() {
        let mut rng = crate::dist::rng(5, 1);
        let pools = Pools::new(&mut rng);
        let mut stream = Stream::default();
        stream.push(Piece::TlsRecords {
            left: 40_000,
            record: 16_384,
            overhead: 24,
        });
        let all = drain(&mut stream, &pools, &mut rng, 1460);
        let mut at = 0;
        let mut plaintext = 0;
        while at < all.len() {
            assert_eq!(&all[at..at + 3], &[0x17, 3, 3]);
            let len = u16::from_be_bytes([all[at + 3], all[at + 4]]) as usize;
            plaintext += len - 24;
            at += 5 + len;
        }
        assert_eq!(at, all.len());
        assert_eq!(plaintext, 40_000);
    }

    #[test]
    fn chunked_body_decodes_to_its_length() {
        let mut rng = crate::dist::rng(5, 2);
        let pools = Pools::new(&mut rng);
        let mut stream = Stream::default();
        stream.push(Piece::Chunked {
            left: 20_000,
            chunk: 8192,
        });
        let all = drain(&mut stream, &pools, &mut rng, 1460);
        let mut at = 0;
        let mut body = 0;
        loop {
            let line_end = at + all[at..].windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&all[at..line_end]).unwrap(), 16)
                .unwrap();
            at = line_end + 2 + size + 2;
            body += size;
            if size == 0 {
                break;
            }
        }
        assert_eq!(at, all.len());
        assert_eq!(body, 20_000);
    }

    #[test]
    fn json_body_is_exact_and_parses() {
        let mut rng = crate::dist::rng(5, 3);
        let pools = Pools::new(&mut rng);
        for len in [64u64, 300, 4096, 19_999] {
            let mut stream = Stream::default();
            stream.push(Piece::Json {
                left: len,
                items: 0,
            });
            let all = drain(&mut stream, &pools, &mut rng, 1460);
            assert_eq!(all.len() as u64, len);
            let value: serde_json::Value = serde_json::from_slice(&all).unwrap();
            assert!(value.is_array());
        }
    }
}
