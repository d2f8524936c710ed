//! TLS connections: a ClientHello shaped like a real client's (Chrome, Firefox, Safari,
//! curl and Python on OpenSSL 3, Windows Schannel: their cipher and extension lists,
//! GREASE, key shares, ALPN, padding), the server's flight (TLS 1.3: ServerHello, CCS and
//! encrypted records; TLS 1.2: ServerHello, the embedded DER certificate chain,
//! ServerKeyExchange, ServerHelloDone, then the key exchange and Finished messages),
//! then requests and responses as encrypted application-data records, and sometimes a
//! close_notify alert.
//!
//! Handshake messages are written by hand: no crate serializes ClientHellos with this
//! control over order and content, and their exact shape is what this module is for.

use crate::content::{tls_record_header, Piece, Stream};
use crate::dist::{self, between, chance, lognormal, ns, pick, weighted, Rng};
use crate::sched::Tally;
use crate::tcp::{pace, App, AppCx, Message, CLIENT, SERVER};

/// The leaf certificate (RSA 2048, `*.cdn.example.net` and more SANs; see `data/make-certs.sh`).
const LEAF_DER: &[u8] = include_bytes!("../data/leaf.der");
/// The issuing CA's certificate.
const INTERMEDIATE_DER: &[u8] = include_bytes!("../data/intermediate.der");

/// A client implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Chrome,
    Firefox,
    Safari,
    Curl,
    Python,
    Schannel,
}

const PROFILES: [(Profile, u32); 6] = [
    (Profile::Chrome, 48),
    (Profile::Firefox, 10),
    (Profile::Safari, 12),
    (Profile::Curl, 7),
    (Profile::Python, 9),
    (Profile::Schannel, 14),
];

const H2: &str = "h2";
const H11: &str = "http/1.1";

/// What the server needs to know about the ClientHello it answers.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    /// The whole record.
    pub record: Vec<u8>,
    pub session_id: Vec<u8>,
    pub ciphers: Vec<u16>,
    pub alpn: Vec<&'static str>,
    pub extensions: Vec<u16>,
    pub sig_algs: Vec<u16>,
    pub tls13: bool,
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `body` preceded by its length in `width` bytes (1, 2 or 3).
fn with_len(out: &mut Vec<u8>, width: usize, body: &[u8]) {
    let len = (body.len() as u32).to_be_bytes();
    out.extend_from_slice(&len[4 - width..]);
    out.extend_from_slice(body);
}

fn u16_list(width: usize, values: &[u16]) -> Vec<u8> {
    let mut body = Vec::with_capacity(values.len() * 2);
    for v in values {
        put16(&mut body, *v);
    }
    let mut out = Vec::new();
    with_len(&mut out, width, &body);
    out
}

fn grease(rng: &mut Rng) -> u16 {
    let k = between(rng, 0, 15) as u16;
    0x0a0a + 0x1010 * k
}

fn sni_ext(name: &str) -> Vec<u8> {
    let mut entry = vec![0u8];
    with_len(&mut entry, 2, name.as_bytes());
    let mut out = Vec::new();
    with_len(&mut out, 2, &entry);
    out
}

fn alpn_ext(protocols: &[&str]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in protocols {
        with_len(&mut list, 1, p.as_bytes());
    }
    let mut out = Vec::new();
    with_len(&mut out, 2, &list);
    out
}

fn key_share(rng: &mut Rng, shares: &[(u16, usize)]) -> Vec<u8> {
    let mut list = Vec::new();
    for &(group, len) in shares {
        put16(&mut list, group);
        let mut key = dist::bytes(rng, len);
        if group == 0x0017 {
            key[0] = 4; // uncompressed point
        }
        with_len(&mut list, 2, &key);
    }
    let mut out = Vec::new();
    with_len(&mut out, 2, &list);
    out
}

/// Chrome's GREASE Encrypted Client Hello (outer, random payload).
fn ech_grease(rng: &mut Rng) -> Vec<u8> {
    let mut out = vec![0u8, 0x00, 0x01, 0x00, 0x01, between(rng, 0, 255) as u8];
    with_len(&mut out, 2, &dist::bytes(rng, 32));
    let n = *pick(rng, &[144usize, 176, 208, 240]);
    with_len(&mut out, 2, &dist::bytes(rng, n));
    out
}

const CHROME_SIGALGS: [u16; 8] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
];
const OPENSSL_SIGALGS: [u16; 23] = [
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081a, 0x081b, 0x081c, 0x0809, 0x080a, 0x080b, 0x0804,
    0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
];

/// A profile's ciphers, extensions, signature algorithms, ALPN list and whether it pads.
type Shape = (
    Vec<u16>,
    Vec<(u16, Vec<u8>)>,
    Vec<u16>,
    Vec<&'static str>,
    bool,
);

/// Builds a ClientHello record for `sni` as `profile` would send it.
pub(crate) fn client_hello(rng: &mut Rng, profile: Profile, sni: &str) -> Hello {
    let g_cipher = grease(rng);
    let g_group = grease(rng);
    let g_version = grease(rng);
    let g_first = grease(rng);
    let mut g_last = grease(rng);
    if g_last == g_first {
        g_last ^= 0x1010;
    }
    let mut session_id = dist::bytes(rng, 32);
    let x25519 = |rng: &mut Rng| key_share(rng, &[(0x001d, 32)]);
    let (ciphers, mut exts, sig_algs, alpn, pad): Shape = match profile {
        Profile::Chrome => {
            let ciphers = vec![
                g_cipher, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ];
            let alpn = vec![H2, H11];
            let mut alps = Vec::new();
            with_len(&mut alps, 2, &[2, b'h', b'2']);
            let mut middle = vec![
                (0x0000, sni_ext(sni)),
                (0x0017, vec![]),
                (0xff01, vec![0]),
                (0x000a, u16_list(2, &[g_group, 0x001d, 0x0017, 0x0018])),
                (0x000b, vec![1, 0]),
                (0x0023, vec![]),
                (0x0010, alpn_ext(&alpn)),
                (0x0005, vec![1, 0, 0, 0, 0]),
                (0x000d, u16_list(2, &CHROME_SIGALGS)),
                (0x0012, vec![]),
                (0x0033, {
                    let mut list = Vec::new();
                    put16(&mut list, g_group);
                    with_len(&mut list, 2, &[0]);
                    put16(&mut list, 0x001d);
                    with_len(&mut list, 2, &dist::bytes(rng, 32));
                    let mut out = Vec::new();
                    with_len(&mut out, 2, &list);
                    out
                }),
                (0x002d, vec![1, 1]),
                (0x002b, u16_list(1, &[g_version, 0x0304, 0x0303])),
                (0x001b, u16_list(1, &[0x0002])),
                (0x4469, alps),
                (0xfe0d, ech_grease(rng)),
            ];
            // Chrome permutes its extensions on every connection (GREASE stays at the ends).
            for i in (1..middle.len()).rev() {
                let j = between(rng, 0, i as u64) as usize;
                middle.swap(i, j);
            }
            let mut exts = vec![(g_first, vec![])];
            exts.extend(middle);
            exts.push((g_last, vec![0]));
            (ciphers, exts, CHROME_SIGALGS.to_vec(), alpn, true)
        }
        Profile::Firefox => {
            let ciphers = vec![
                0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a,
                0xc009, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ];
            let sig = vec![
                0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203,
                0x0201,
            ];
            let alpn = vec![H2, H11];
            let exts = vec![
                (0x0000, sni_ext(sni)),
                (0x0017, vec![]),
                (0xff01, vec![0]),
                (
                    0x000a,
                    u16_list(2, &[0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101]),
                ),
                (0x000b, vec![1, 0]),
                (0x0023, vec![]),
                (0x0010, alpn_ext(&alpn)),
                (0x0005, vec![1, 0, 0, 0, 0]),
                (0x0022, u16_list(2, &[0x0403, 0x0503, 0x0603, 0x0203])),
                (0x0033, key_share(rng, &[(0x001d, 32), (0x0017, 65)])),
                (0x002b, u16_list(1, &[0x0304, 0x0303])),
                (0x000d, u16_list(2, &sig)),
                (0x002d, vec![1, 1]),
                (0x001c, vec![0x40, 0x01]),
                (0x001b, u16_list(1, &[0x0001, 0x0002, 0x0003])),
            ];
            (ciphers, exts, sig, alpn, true)
        }
        Profile::Safari => {
            let ciphers = vec![
                g_cipher, 0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8,
                0xc00a, 0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f, 0xc008, 0xc012,
                0x000a,
            ];
            let sig = vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0203, 0x0805, 0x0805, 0x0501, 0x0806, 0x0601,
                0x0201,
            ];
            let alpn = vec![H2, H11];
            let exts = vec![
                (g_first, vec![]),
                (0x0000, sni_ext(sni)),
                (0x0017, vec![]),
                (0xff01, vec![0]),
                (
                    0x000a,
                    u16_list(2, &[g_group, 0x001d, 0x0017, 0x0018, 0x0019]),
                ),
                (0x000b, vec![1, 0]),
                (0x0010, alpn_ext(&alpn)),
                (0x0005, vec![1, 0, 0, 0, 0]),
                (0x000d, u16_list(2, &sig)),
                (0x0012, vec![]),
                (0x0033, {
                    let mut list = Vec::new();
                    put16(&mut list, g_group);
                    with_len(&mut list, 2, &[0]);
                    put16(&mut list, 0x001d);
                    with_len(&mut list, 2, &dist::bytes(rng, 32));
                    let mut out = Vec::new();
                    with_len(&mut out, 2, &list);
                    out
                }),
                (0x002d, vec![1, 1]),
                (
                    0x002b,
                    u16_list(1, &[g_version, 0x0304, 0x0303, 0x0302, 0x0301]),
                ),
                (0x001b, u16_list(1, &[0x0001])),
                (g_last, vec![0]),
            ];
            (ciphers, exts, sig, alpn, true)
        }
        Profile::Curl | Profile::Python => {
            let ciphers = if profile == Profile::Curl {
                vec![
                    0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b,
                    0xc02f, 0x009e, 0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014,
                    0x0039, 0xc009, 0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f,
                    0x00ff,
                ]
            } else {
                vec![
                    0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0x009f,
                    0x009e, 0xccaa, 0xc0af, 0xc0ad, 0xc0ae, 0xc0ac, 0xc024, 0xc028, 0xc023, 0xc027,
                    0xc00a, 0xc014, 0xc009, 0xc013, 0xc0a3, 0xc09f, 0xc0a2, 0xc09e, 0x006b, 0x0067,
                    0x0039, 0x0033, 0x009d, 0x009c, 0xc0a1, 0xc09d, 0xc0a0, 0xc09c, 0x003d, 0x003c,
                    0x0035, 0x002f, 0x00ff,
                ]
            };
            let alpn = if profile == Profile::Curl {
                vec![H2, H11]
            } else {
                vec![H11]
            };
            let exts = vec![
                (0x0000, sni_ext(sni)),
                (0x000b, vec![3, 0, 1, 2]),
                (
                    0x000a,
                    u16_list(
                        2,
                        &[
                            0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103,
                            0x0104,
                        ],
                    ),
                ),
                (0x0023, vec![]),
                (0x0010, alpn_ext(&alpn)),
                (0x0016, vec![]),
                (0x0017, vec![]),
                (0x000d, u16_list(2, &OPENSSL_SIGALGS)),
                (0x002b, u16_list(1, &[0x0304, 0x0303])),
                (0x002d, vec![1, 1]),
                (0x0033, x25519(rng)),
            ];
            (ciphers, exts, OPENSSL_SIGALGS.to_vec(), alpn, false)
        }
        Profile::Schannel => {
            session_id.clear();
            let ciphers = vec![
                0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009,
                0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x000a,
            ];
            let sig = vec![
                0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503, 0x0203, 0x0202,
                0x0601, 0x0603,
            ];
            let alpn = vec![H2, H11];
            let exts = vec![
                (0x0000, sni_ext(sni)),
                (0x0005, vec![1, 0, 0, 0, 0]),
                (0x000a, u16_list(2, &[0x001d, 0x0017, 0x0018])),
                (0x000b, vec![1, 0]),
                (0x000d, u16_list(2, &sig)),
                (0x0023, vec![]),
                (0x0010, alpn_ext(&alpn)),
                (0x0017, vec![]),
                (0xff01, vec![0]),
            ];
            (ciphers, exts, sig, alpn, false)
        }
    };

    let mut body = Vec::with_capacity(600);
    put16(&mut body, 0x0303);
    body.extend_from_slice(&dist::bytes(rng, 32));
    with_len(&mut body, 1, &session_id);
    let mut cipher_bytes = Vec::new();
    for c in &ciphers {
        put16(&mut cipher_bytes, *c);
    }
    with_len(&mut body, 2, &cipher_bytes);
    body.extend_from_slice(&[1, 0]);
    let ext_len = |exts: &[(u16, Vec<u8>)]| exts.iter().map(|(_, d)| 4 + d.len()).sum::<usize>();
    // BoringSSL and NSS pad a ClientHello of 256..511 bytes to 512 (RFC 7685).
    let hello_len = 4 + body.len() + 2 + ext_len(&exts);
    if pad && (256..512).contains(&hello_len) {
        let padding = (512 - hello_len).saturating_sub(4).max(1);
        exts.push((0x0015, vec![0; padding]));
    }
    let mut ext_bytes = Vec::with_capacity(ext_len(&exts));
    for (ty, data) in &exts {
        put16(&mut ext_bytes, *ty);
        with_len(&mut ext_bytes, 2, data);
    }
    with_len(&mut body, 2, &ext_bytes);
    let mut handshake = vec![1u8];
    with_len(&mut handshake, 3, &body);
    let mut record = vec![0x16, 0x03, 0x01];
    with_len(&mut record, 2, &handshake);
    Hello {
        record,
        session_id,
        ciphers,
        alpn,
        extensions: exts.iter().map(|(t, _)| *t).collect(),
        sig_algs,
        tls13: profile != Profile::Schannel,
    }
}

fn handshake_record(messages: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = messages.concat();
    let mut record = tls_record_header(0x16, body.len() as u16).to_vec();
    record.extend_from_slice(&body);
    record
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![ty];
    with_len(&mut out, 3, body);
    out
}

const CCS: [u8; 6] = [0x14, 0x03, 0x03, 0x00, 0x01, 0x01];

/// Opaque record of `len` bytes (an encrypted Finished, an alert).
fn opaque_record(rng: &mut Rng, content_type: u8, len: usize) -> Vec<u8> {
    let mut out = tls_record_header(content_type, len as u16).to_vec();
    out.extend_from_slice(&dist::bytes(rng, len));
    out
}

/// The server's answer to `hello`.
struct ServerChoice {
    tls13: bool,
    cipher: u16,
    alpn: Option<&'static str>,
    ticket: bool,
}

fn server_hello(rng: &mut Rng, hello: &Hello, choice: &ServerChoice) -> Vec<u8> {
    let mut body = Vec::new();
    put16(&mut body, 0x0303);
    body.extend_from_slice(&dist::bytes(rng, 32));
    if choice.tls13 {
        with_len(&mut body, 1, &hello.session_id);
    } else {
        with_len(&mut body, 1, &dist::bytes(rng, 32));
    }
    put16(&mut body, choice.cipher);
    body.push(0);
    let mut exts = Vec::new();
    let mut ext = |ty: u16, data: &[u8]| {
        put16(&mut exts, ty);
        with_len(&mut exts, 2, data);
    };
    if choice.tls13 {
        ext(0x002b, &[0x03, 0x04]);
        let mut share = Vec::new();
        put16(&mut share, 0x001d);
        with_len(&mut share, 2, &dist::bytes(rng, 32));
        ext(0x0033, &share);
    } else {
        ext(0xff01, &[0]);
        if hello.extensions.contains(&0x000b) {
            ext(0x000b, &[3, 0, 1, 2]);
        }
        if choice.ticket {
            ext(0x0023, &[]);
        }
        if let Some(p) = choice.alpn {
            ext(0x0010, &alpn_ext(&[p]));
        }
        if hello.extensions.contains(&0x0017) {
            ext(0x0017, &[]);
        }
    }
    with_len(&mut body, 2, &exts);
    handshake(2, &body)
}

fn certificate() -> Vec<u8> {
    let mut list = Vec::new();
    with_len(&mut list, 3, LEAF_DER);
    with_len(&mut list, 3, INTERMEDIATE_DER);
    let mut body = Vec::new();
    with_len(&mut body, 3, &list);
    handshake(11, &body)
}

fn server_key_exchange(rng: &mut Rng, hello: &Hello) -> Vec<u8> {
    let mut body = vec![3, 0x00, 0x1d];
    with_len(&mut body, 1, &dist::bytes(rng, 32));
    put16(
        &mut body,
        if hello.sig_algs.contains(&0x0804) {
            0x0804
        } else {
            0x0401
        },
    );
    with_len(&mut body, 2, &dist::bytes(rng, 256));
    handshake(12, &body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    ClientHello,
    ServerFlight,
    ClientFinished,
    ServerFinished,
    Request,
    Response,
    CloseNotify,
    Done,
}

/// The script of one TLS connection.
#[derive(Debug)]
pub(crate) struct TlsApp {
    hello: Hello,
    tls13: bool,
    cipher: u16,
    alpn: Option<&'static str>,
    ticket: bool,
    stage: Stage,
    exchanges: u32,
    server_record: u64,
    rate_bps: f64,
    close_notify: bool,
    first_response: bool,
}

impl TlsApp {
    /// A connection: the script and the server's name.
    pub(crate) fn new(rng: &mut Rng) -> (Self, String) {
        let profile = weighted(rng, &PROFILES);
        let sni = crate::hosts::hostname(rng);
        let hello = client_hello(rng, profile, &sni);
        let tls13 = hello.tls13 && !chance(rng, 0.12);
        let cipher = if tls13 {
            weighted(rng, &[(0x1301u16, 70), (0x1302, 25), (0x1303, 5)])
        } else {
            let pref = weighted(rng, &[(0xc02fu16, 70), (0xc030, 20), (0xcca8, 10)]);
            if hello.ciphers.contains(&pref) {
                pref
            } else {
                0xc02f
            }
        };
        let alpn = if hello.alpn.contains(&H2) && chance(rng, 0.8) {
            Some(H2)
        } else if hello.alpn.contains(&H11) {
            Some(H11)
        } else {
            None
        };
        let app = Self {
            ticket: !tls13 && hello.extensions.contains(&0x0023) && chance(rng, 0.5),
            hello,
            tls13,
            cipher,
            alpn,
            stage: Stage::ClientHello,
            exchanges: lognormal(rng, 1.5, 0.8, 1, 40) as u32,
            server_record: if chance(rng, 0.6) {
                16_384
            } else {
                between(rng, 1_300, 4_096)
            },
            rate_bps: lognormal(rng, 30e6, 1.0, 1_000_000, 800_000_000) as f64,
            close_notify: chance(rng, 0.5),
            first_response: true,
        };
        (app, sni)
    }

    /// Record overhead of the negotiated cipher (nonce, tag, inner content type).
    fn overhead(&self) -> u64 {
        match (self.tls13, self.cipher) {
            (true, _) => 17,
            (false, 0xcca8) => 16,
            (false, _) => 24,
        }
    }
}

impl App for TlsApp {
    fn next(&mut self, cx: &mut AppCx<'_>) -> Option<Message> {
        let rng = &mut *cx.rng;
        let mut stream = Stream::default();
        let mut tallies = Vec::new();
        let (from, delay, ns_per_byte) = match self.stage {
            Stage::ClientHello => {
                stream.push_bytes(self.hello.record.clone());
                tallies.push(Tally::ClientHello);
                self.stage = Stage::ServerFlight;
                (CLIENT, between(rng, 100_000, 2_000_000), 8.0)
            }
            Stage::ServerFlight => {
                let choice = ServerChoice {
                    tls13: self.tls13,
                    cipher: self.cipher,
                    alpn: self.alpn,
                    ticket: self.ticket,
                };
                let sh = server_hello(rng, &self.hello, &choice);
                if self.tls13 {
                    stream.push_bytes(handshake_record(&[sh]));
                    stream.push_bytes(CCS.to_vec());
                    // EncryptedExtensions, Certificate, CertificateVerify, Finished.
                    let flight = between(rng, 2_300, 5_200);
                    let record = if chance(rng, 0.7) {
                        16_384
                    } else {
                        between(rng, 1_000, 2_000)
                    };
                    stream.push(Piece::TlsRecords {
                        left: flight,
                        record,
                        overhead: 17,
                    });
                    tallies.push(Tally::Tls13);
                } else {
                    let messages = [
                        sh,
                        certificate(),
                        server_key_exchange(rng, &self.hello),
                        handshake(14, &[]),
                    ];
                    if chance(rng, 0.5) {
                        stream.push_bytes(handshake_record(&messages));
                    } else {
                        for m in &messages {
                            stream.push_bytes(handshake_record(std::slice::from_ref(m)));
                        }
                    }
                    tallies.extend([Tally::Tls12, Tally::Certificate]);
                }
                self.stage = if self.tls13 {
                    Stage::Request
                } else {
                    Stage::ClientFinished
                };
                (SERVER, between(rng, 200_000, 3_000_000), 8.0)
            }
            Stage::ClientFinished => {
                let mut cke = vec![0x20];
                cke.extend_from_slice(&dist::bytes(rng, 32));
                stream.push_bytes(handshake_record(&[handshake(16, &cke)]));
                stream.push_bytes(CCS.to_vec());
                stream.push_bytes(opaque_record(rng, 0x16, 40));
                self.stage = Stage::ServerFinished;
                (CLIENT, between(rng, 300_000, 2_000_000), 8.0)
            }
            Stage::ServerFinished => {
                if self.ticket {
                    let mut nst = Vec::new();
                    nst.extend_from_slice(
                        &(*pick(rng, &[300u32, 7200, 64800, 86400])).to_be_bytes(),
                    );
                    let len = between(rng, 160, 220) as usize;
                    with_len(&mut nst, 2, &dist::bytes(rng, len));
                    stream.push_bytes(handshake_record(&[handshake(4, &nst)]));
                }
                stream.push_bytes(CCS.to_vec());
                stream.push_bytes(opaque_record(rng, 0x16, 40));
                self.stage = Stage::Request;
                (SERVER, between(rng, 100_000, 1_000_000), 8.0)
            }
            Stage::Request => {
                let first = self.first_response;
                if first && self.tls13 {
                    if !self.hello.session_id.is_empty() {
                        stream.push_bytes(CCS.to_vec());
                    }
                    stream.push_bytes(opaque_record(rng, 0x17, 53));
                }
                let upload = chance(rng, 0.01);
                let size = if upload {
                    lognormal(rng, 100_000.0, 1.2, 5_000, cx.cap)
                } else {
                    lognormal(rng, 350.0, 0.8, 40, 16_000)
                };
                stream.push(Piece::TlsRecords {
                    left: size,
                    record: 16_384,
                    overhead: self.overhead(),
                });
                self.stage = Stage::Response;
                let think = if first {
                    between(rng, 50_000, 2_000_000)
                } else {
                    ns(lognormal(rng, 150_000.0, 1.5, 500, 20_000_000) as f64 / 1e6)
                };
                (CLIENT, think, pace(size, self.rate_bps))
            }
            Stage::Response => {
                if self.first_response && self.tls13 {
                    for _ in 0..between(rng, 1, 2) {
                        stream.push(Piece::TlsRecords {
                            left: between(rng, 180, 260),
                            record: 16_384,
                            overhead: 17,
                        });
                    }
                }
                self.first_response = false;
                let size = if chance(rng, 0.006) {
                    lognormal(rng, 200_000.0, 1.0, 50_000, cx.cap)
                } else {
                    lognormal(rng, 1_200.0, 1.3, 60, 1_000_000.min(cx.cap))
                };
                stream.push(Piece::TlsRecords {
                    left: size,
                    record: self.server_record,
                    overhead: self.overhead(),
                });
                self.exchanges = self.exchanges.saturating_sub(1);
                self.stage = if self.exchanges > 0 {
                    Stage::Request
                } else if self.close_notify {
                    Stage::CloseNotify
                } else {
                    Stage::Done
                };
                (
                    SERVER,
                    ns(lognormal(rng, 8_000.0, 1.2, 100, 2_000_000) as f64 / 1e6),
                    pace(size, self.rate_bps),
                )
            }
            Stage::CloseNotify => {
                let len = if self.tls13 {
                    19
                } else {
                    2 + self.overhead() as usize
                };
                stream.push_bytes(opaque_record(
                    rng,
                    if self.tls13 { 0x17 } else { 0x15 },
                    len,
                ));
                self.stage = Stage::Done;
                (CLIENT, ns(dist::exp(rng, 0.5)), 8.0)
            }
            Stage::Done => return None,
        };
        Some(Message {
            from,
            delay,
            stream,
            ns_per_byte,
            tallies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks a ClientHello record: returns (extension types, SNI).
    fn parse_hello(record: &[u8]) -> (Vec<u16>, String) {
        assert_eq!(record[0], 0x16);
        let len = u16::from_be_bytes([record[3], record[4]]) as usize;
        assert_eq!(record.len(), 5 + len);
        let hs = &record[5..];
        assert_eq!(hs[0], 1);
        let body_len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
        assert_eq!(body_len + 4, hs.len());
        let mut at = 4 + 2 + 32;
        at += 1 + hs[at] as usize;
        at += 2 + u16::from_be_bytes([hs[at], hs[at + 1]]) as usize;
        at += 1 + hs[at] as usize;
        let ext_end = at + 2 + u16::from_be_bytes([hs[at], hs[at + 1]]) as usize;
        assert_eq!(ext_end, hs.len());
        at += 2;
        let mut types = Vec::new();
        let mut sni = String::new();
        while at < ext_end {
            let ty = u16::from_be_bytes([hs[at], hs[at + 1]]);
            let len = u16::from_be_bytes([hs[at + 2], hs[at + 3]]) as usize;
            if ty == 0 {
                sni = String::from_utf8(hs[at + 9..at + 4 + len].to_vec()).unwrap();
            }
            types.push(ty);
            at += 4 + len;
        }
        assert_eq!(at, ext_end);
        (types, sni)
    }

    #[test]
    fn every_profile_writes_a_well_formed_hello_with_sni() {
        let mut rng = crate::dist::rng(11, 0);
        for (profile, _) in PROFILES {
            let hello = client_hello(&mut rng, profile, "www.example.com");
            let (types, sni) = parse_hello(&hello.record);
            assert_eq!(sni, "www.example.com");
            assert_eq!(types, hello.extensions, "{profile:?}");
            assert_eq!(types.contains(&0x002b), hello.tls13, "{profile:?}");
            let mut unique = types.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                unique.len(),
                types.len(),
                "{profile:?} repeats an extension"
            );
            if profile == Profile::Chrome {
                assert_eq!(types[0] & 0x0f0f, 0x0a0a, "GREASE first");
            }
        }
    }

    #[test]
    fn embedded_certificates_are_der() {
        assert_eq!(LEAF_DER[0], 0x30);
        assert_eq!(INTERMEDIATE_DER[0], 0x30);
        let cert = certificate();
        assert_eq!(
            cert.len(),
            4 + 3 + 3 + LEAF_DER.len() + 3 + INTERMEDIATE_DER.len()
        );
    }
}
