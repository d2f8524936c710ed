//! Tests of the TLS parser over real handshakes and crafted edge cases.
//!
//! `testdata/openssl-tls1{2,3}-{client,server}.hex` are the two directions
//! of two connections captured on 127.0.0.1 (`openssl s_server -www` with
//! `testdata/vigil-test-cert.pem`, `openssl s_client -servername vigil.test
//! -alpn ...`, once with `-tls1_2`); expected values below come from tshark
//! 4.0 reading that capture (`tls.handshake.ja3_full`, `ja3`, `ja3s_full`,
//! `ja3s`, `extensions_server_name`, `extensions_alpn_str`) and from
//! `openssl x509 -noout -serial -subject -nameopt RFC2253 -fingerprint -sha1
//! -dates` on the certificate. `non-ascii-alpn-client.hex` is the
//! ClientHello record of FoxIO's `tls-non-ascii-alpn.pcapng`.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use vigil_event::{ConnectionInfo, Endpoint};

use super::*;

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.trim()).expect("test data is hex")
}

fn tls12_client() -> Vec<u8> {
    unhex(include_str!("testdata/openssl-tls12-client.hex"))
}
fn tls12_server() -> Vec<u8> {
    unhex(include_str!("testdata/openssl-tls12-server.hex"))
}
fn tls13_client() -> Vec<u8> {
    unhex(include_str!("testdata/openssl-tls13-client.hex"))
}
fn tls13_server() -> Vec<u8> {
    unhex(include_str!("testdata/openssl-tls13-server.hex"))
}

fn meta() -> FlowMeta {
    FlowMeta {
        originator: Endpoint::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 58514),
        responder: Endpoint::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 44330),
        connection_info: ConnectionInfo::tcp("F1", "1:test"),
    }
}

fn config(ja4plus: bool) -> AppConfig {
    AppConfig {
        ja4plus,
        ..AppConfig::default()
    }
}

/// Split a byte stream into its TLS records `(content type, payload)`.
fn records(stream: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = stream;
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        out.push((rest[0], rest[5..5 + len].to_vec()));
        rest = &rest[5 + len..];
    }
    out
}

fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 3, 3];
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut out = vec![msg_type];
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

/// The handshake bytes of the first handshake record of a stream (a
/// ClientHello or ServerHello message with its header).
fn first_handshake_message(stream: &[u8]) -> Vec<u8> {
    let (_, payload) = records(stream)
        .into_iter()
        .find(|(ct, _)| *ct == CT_HANDSHAKE)
        .expect("a handshake record");
    let len =
        usize::from(payload[1]) << 16 | usize::from(payload[2]) << 8 | usize::from(payload[3]);
    payload[..4 + len].to_vec()
}

/// Run a parser over chunks `(dir, bytes)`; returns the events and the
/// progress after each chunk.
fn run(parser: &mut TlsParser, chunks: &[(Direction, Vec<u8>)]) -> (Vec<Event>, Vec<Progress>) {
    let meta = meta();
    let mut out = Vec::new();
    let mut progress = Vec::new();
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        let p = parser.data(
            &meta,
            *dir,
            Timestamp::from_nanos(i as i64 + 1),
            bytes,
            &mut out,
        );
        progress.push(p);
        if p != Progress::Continue {
            break;
        }
    }
    parser.end(&meta, Timestamp::from_nanos(1_000), &mut out);
    (out, progress)
}

fn tls_of(event: &Event) -> &TlsActivity {
    match &event.body {
        Body::Tls(t) => t,
        other => panic!("not a tls event: {other:?}"),
    }
}

#[test]
fn detects_real_hellos_and_rejects_others() {
    assert!(looks_like_tls(&tls12_client()));
    assert!(looks_like_tls(&tls12_server()));
    assert!(looks_like_tls(&tls13_client()[..5]));
    assert!(!looks_like_tls(&tls12_client()[..4]));
    assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_tls(b"SSH-2.0-OpenSSH_9.2\r\n"));
    // Application data, a bad version, an empty record, a bad handshake type.
    assert!(!looks_like_tls(&[23, 3, 3, 0, 40, 1, 2, 3]));
    assert!(!looks_like_tls(&[22, 2, 0, 0, 40, 1]));
    assert!(!looks_like_tls(&[22, 3, 1, 0, 0]));
    assert!(!looks_like_tls(&[22, 3, 1, 0, 40, 11, 0, 0, 36]));
    assert!(!looks_like_tls(&[22, 3, 1, 0x7f, 0xff, 1]));
}

#[test]
fn tls12_handshake_matches_tshark_and_openssl() {
    let mut parser = TlsParser::new(&config(false));
    let (events, progress) = run(
        &mut parser,
        &[
            (Direction::ToResponder, tls12_client()),
            (Direction::ToOriginator, tls12_server()),
        ],
    );
    assert_eq!(progress, [Progress::Continue, Progress::Done]);
    assert_eq!(events.len(), 1);
    let t = tls_of(&events[0]);
    assert_eq!(t.src_endpoint.port, Some(58514));
    assert_eq!(t.dst_endpoint.port, Some(44330));
    assert_eq!(t.dst_endpoint.hostname.as_deref(), Some("vigil.test"));
    let tls = &t.tls;
    assert_eq!(tls.version, "TLSv1.2");
    assert_eq!(tls.sni.as_deref(), Some("vigil.test"));
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    assert_eq!(
        tls.cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    );
    let ch = tls.client_hello.as_ref().expect("client hello");
    assert_eq!(
        ch.ja3,
        "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-16-22-23-13,29-23-30-25-24,0-1-2"
    );
    assert_eq!(
        tls.ja3_hash.as_deref(),
        Some("22558766122974704364c9c75c5cce0a")
    );
    assert_eq!(ch.alpn, ["h2", "http/1.1"]);
    assert_eq!(ch.ciphers.len(), 28);
    assert_eq!(ch.supported_groups, [29, 23, 30, 25, 24]);
    assert_eq!(ch.ec_point_formats, [0, 1, 2]);
    assert!(ch.ja4.starts_with("t12d2808h2_"), "{}", ch.ja4);
    let sh = tls.server_hello.as_ref().expect("server hello");
    assert_eq!(sh.ja3s, "771,49196,65281-11-35-16-23");
    assert_eq!(
        tls.ja3s_hash.as_deref(),
        Some("e195432758194ce2d482396b82e0d48e")
    );
    assert_eq!(sh.alpn.as_deref(), Some("h2"));
    assert_eq!(tls.ja4s, None, "JA4S is off unless JA4+ is on");
    let cert = tls.certificate.as_ref().expect("leaf certificate");
    assert_eq!(cert.subject, "CN=vigil.test,O=Vigil Test\\, Inc.,C=US");
    assert_eq!(cert.issuer, cert.subject);
    assert_eq!(
        cert.serial_number,
        "02:9D:5C:BE:0F:BE:0A:BE:A8:D3:FF:2A:13:2C:D2:6D:2A:6B:3E:75"
    );
    assert_eq!(
        cert.fingerprint_sha1,
        "49:2f:42:9f:73:01:23:f0:d3:c4:c1:98:b4:51:af:f8:8b:68:8a:17"
    );
    // notBefore=Nov 22 22:46:50 2026 GMT, notAfter=Nov 19 22:46:50 2036 GMT
    assert_eq!(cert.created_time, 1_795_387_610_000);
    assert_eq!(cert.expiration_time, 2_110_747_610_000);
    assert_eq!(cert.sans, ["vigil.test", "www.vigil.test", "127.0.0.1"]);
    assert!(tls.certificate_chain.is_empty());
    assert!(tls.anomalies.is_empty(), "{:?}", tls.anomalies);
    // The event's time is the ClientHello's.
    assert_eq!(events[0].time_ns, Timestamp::from_nanos(1));
}

#[test]
fn tls13_handshake_done_after_server_hello_with_ja4s_when_enabled() {
    for ja4plus in [false, true] {
        let mut parser = TlsParser::new(&config(ja4plus));
        let (events, progress) = run(
            &mut parser,
            &[
                (Direction::ToResponder, tls13_client()),
                (Direction::ToOriginator, tls13_server()),
            ],
        );
        assert_eq!(progress, [Progress::Continue, Progress::Done]);
        assert_eq!(events.len(), 1);
        let tls = &tls_of(&events[0]).tls;
        assert_eq!(tls.version, "TLSv1.3");
        let ch = tls.client_hello.as_ref().expect("client hello");
        assert_eq!(ch.version, "TLSv1.2");
        assert_eq!(ch.supported_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(
            tls.ja3_hash.as_deref(),
            Some("5a1edc7f170af1014fc65c994878e63c")
        );
        assert!(ch.ja4.starts_with("t13d3111h2_"), "{}", ch.ja4);
        let sh = tls.server_hello.as_ref().expect("server hello");
        assert_eq!(sh.ja3s, "771,4866,43-51");
        assert_eq!(
            tls.ja3s_hash.as_deref(),
            Some("15af977ce25de452b96affa2addb1036")
        );
        assert_eq!(tls.cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        // ALPN is encrypted in TLS 1.3: the summary falls back to the client's.
        assert_eq!(sh.alpn, None);
        assert_eq!(tls.alpn.as_deref(), Some("h2"));
        assert_eq!(tls.certificate, None);
        if ja4plus {
            // 2 extensions (43, 51 as tshark lists them), no ALPN, cipher
            // 1302; the hash is sha256("002b,0033")[..12] (Python hashlib).
            assert_eq!(tls.ja4s.as_deref(), Some("t130200_1302_a56c5b993250"));
        } else {
            assert_eq!(tls.ja4s, None);
        }
    }
}

#[test]
fn byte_by_byte_and_interleaved_chunks_give_the_same_event() {
    let whole = {
        let mut parser = TlsParser::new(&config(false));
        run(
            &mut parser,
            &[
                (Direction::ToResponder, tls12_client()),
                (Direction::ToOriginator, tls12_server()),
            ],
        )
        .0
    };
    let mut chunks = Vec::new();
    let (client, server) = (tls12_client(), tls12_server());
    let mut c = client.chunks(1);
    let mut s = server.chunks(3);
    loop {
        let (a, b) = (c.next(), s.next());
        if a.is_none() && b.is_none() {
            break;
        }
        chunks.extend(a.map(|x| (Direction::ToResponder, x.to_vec())));
        chunks.extend(b.map(|x| (Direction::ToOriginator, x.to_vec())));
    }
    let mut parser = TlsParser::new(&config(false));
    let (events, _) = run(&mut parser, &chunks);
    assert_eq!(events.len(), 1);
    assert_eq!(tls_of(&events[0]).tls, tls_of(&whole[0]).tls);
}

#[test]
fn handshake_spanning_records_and_records_with_many_messages() {
    // Re-frame the server's clear handshake: all messages in one record,
    // then each message split over 7-byte records.
    let server = tls12_server();
    let mut hs = Vec::new();
    // The first flight: ServerHello..ServerHelloDone, up to the CCS.
    for (ct, payload) in records(&server) {
        if ct != CT_HANDSHAKE {
            break;
        }
        hs.extend_from_slice(&payload);
    }
    let reference = {
        let mut parser = TlsParser::new(&config(false));
        run(
            &mut parser,
            &[
                (Direction::ToResponder, tls12_client()),
                (Direction::ToOriginator, tls12_server()),
            ],
        )
        .0
    };
    let one_record = record(CT_HANDSHAKE, &hs);
    let many_records: Vec<u8> = hs.chunks(7).flat_map(|c| record(CT_HANDSHAKE, c)).collect();
    // The ClientHello split over 50-byte records too.
    let ch = first_handshake_message(&tls12_client());
    let client_split: Vec<u8> = ch
        .chunks(50)
        .flat_map(|c| record(CT_HANDSHAKE, c))
        .collect();
    for server_bytes in [one_record, many_records] {
        let mut parser = TlsParser::new(&config(false));
        let (events, progress) = run(
            &mut parser,
            &[
                (Direction::ToResponder, client_split.clone()),
                (Direction::ToOriginator, server_bytes),
            ],
        );
        assert_eq!(progress.last(), Some(&Progress::Done));
        assert_eq!(events.len(), 1);
        assert_eq!(tls_of(&events[0]).tls, tls_of(&reference[0]).tls);
    }
}

/// A ClientHello body: TLS 1.2 legacy version, zero random, no session id.
fn client_hello_body(ciphers: &[u16], extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0; 32]);
    body.push(0);
    body.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut ext = Vec::new();
    for (t, data) in extensions {
        ext.extend_from_slice(&t.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    body
}

fn u16_list(len_bytes: usize, values: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    let n = values.len() * 2;
    if len_bytes == 1 {
        out.push(n as u8);
    } else {
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

fn alpn(protocols: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in protocols {
        list.push(p.len() as u8);
        list.extend_from_slice(p);
    }
    let mut out = (list.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&list);
    out
}

fn sni(name: &str) -> Vec<u8> {
    let mut entry = vec![0];
    entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
    entry.extend_from_slice(name.as_bytes());
    let mut out = (entry.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&entry);
    out
}

#[test]
fn grease_is_kept_in_lists_and_dropped_from_fingerprints() {
    let body = client_hello_body(
        &[0x3a3a, 0x1301, 0xc02b],
        &[
            (0x8a8a, vec![]),
            (0, sni("example.com")),
            (43, u16_list(1, &[0x7a7a, 0x0304, 0x0303])),
            (10, u16_list(2, &[0xcaca, 29, 23])),
            (11, vec![1, 0]),
            (13, u16_list(2, &[0x0403, 0x0804])),
            (16, alpn(&[b"h2", b"http/1.1"])),
            (0xfafa, vec![0]),
        ],
    );
    let hello = parse_client_hello(&body, JaTransport::Tcp).expect("parses");
    assert_eq!(hello.ciphers, [0x3a3a, 0x1301, 0xc02b]);
    assert_eq!(hello.extensions, [0x8a8a, 0, 43, 10, 11, 13, 16, 0xfafa]);
    assert_eq!(hello.sni.as_deref(), Some("example.com"));
    assert_eq!(hello.supported_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(hello.supported_groups, [0xcaca, 29, 23]);
    assert_eq!(hello.signature_algorithms, [0x0403, 0x0804]);
    assert_eq!(hello.ja3, "771,4865-49195,0-43-10-11-13-16,29-23,0");
    assert!(hello.ja4.starts_with("t13d0206h2_"), "{}", hello.ja4);
    assert!(
        hello
            .ja4_r
            .ends_with("_1301,c02b_000a,000b,000d,002b_0403,0804"),
        "{}",
        hello.ja4_r
    );
    // The same hello through the stream parser, client side only.
    let mut parser = TlsParser::new(&config(false));
    let (events, _) = run(
        &mut parser,
        &[(
            Direction::ToResponder,
            record(CT_HANDSHAKE, &handshake(HS_CLIENT_HELLO, &body)),
        )],
    );
    assert_eq!(events.len(), 1);
    let tls = &tls_of(&events[0]).tls;
    assert_eq!(tls.client_hello.as_ref(), Some(&hello));
    assert_eq!(tls.version, "TLSv1.3");
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    let quic = parse_client_hello(&body, JaTransport::Quic).expect("parses");
    assert_eq!(quic.ja4[1..], hello.ja4[1..]);
    assert!(quic.ja4.starts_with('q'));
}

#[test]
fn extension_with_malformed_content_still_counts() {
    // An ALPN extension whose list length runs past its data, followed by
    // extended_master_secret: both types must be in JA3/JA4.
    let body = client_hello_body(&[0x1301], &[(16, vec![0, 9, 2, b'h']), (23, vec![])]);
    let hello = parse_client_hello(&body, JaTransport::Tcp).expect("parses");
    assert_eq!(hello.extensions, [16, 23]);
    assert!(hello.ja3.contains(",16-23,"), "{}", hello.ja3);
    // ALPN present but unreadable: JA4 says "00".
    assert!(hello.ja4.starts_with("t12i010200_"), "{}", hello.ja4);
}

#[test]
fn non_ascii_alpn_follows_the_reference_implementation() {
    let stream = unhex(include_str!("testdata/non-ascii-alpn-client.hex"));
    let msg = first_handshake_message(&stream);
    let hello = parse_client_hello(&msg[4..], JaTransport::Tcp).expect("parses");
    // tshark: tls.handshake.ja3_full of the same packet.
    assert_eq!(
        hello.ja3,
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,65281-51-45-5-17513-13-16-35-27-43-0-18-10-23-11-21,29-23-24,0"
    );
    assert_eq!(hello.alpn.len(), 2);
    assert_eq!(hello.alpn[1], "http/1.1");
    // First ALPN value 0xba 0xad: not ASCII, so FoxIO's reference
    // implementation (and its snapshot of this capture) writes "99".
    assert_eq!(hello.ja4, "t13d151699_8daaf6152771_e5627efa2ab1");
}

#[test]
fn gap_before_the_hello_gives_up_quietly() {
    let mut parser = TlsParser::new(&config(false));
    let meta = meta();
    let mut out = Vec::new();
    let client = tls12_client();
    parser.gap(Direction::ToResponder, 100);
    let p = parser.data(
        &meta,
        Direction::ToResponder,
        Timestamp::default(),
        &client[10..],
        &mut out,
    );
    assert_eq!(p, Progress::Continue);
    parser.end(&meta, Timestamp::default(), &mut out);
    assert!(out.is_empty());
    assert_eq!(parser.counters(), [("tls.gap", 1)]);
}

#[test]
fn gap_after_the_client_hello_reports_what_was_seen() {
    let mut parser = TlsParser::new(&config(false));
    let meta = meta();
    let mut out = Vec::new();
    let p = parser.data(
        &meta,
        Direction::ToResponder,
        Timestamp::default(),
        &tls12_client(),
        &mut out,
    );
    assert_eq!(p, Progress::Continue);
    parser.gap(Direction::ToOriginator, 1000);
    // The client side already went encrypted and the server side lost its
    // record boundaries: nothing more to learn, so the event comes now.
    let p = parser.data(
        &meta,
        Direction::ToOriginator,
        Timestamp::default(),
        &tls12_server()[50..],
        &mut out,
    );
    assert_eq!(p, Progress::Done);
    assert_eq!(out.len(), 1);
    parser.end(&meta, Timestamp::default(), &mut out);
    parser.end(&meta, Timestamp::default(), &mut out);
    assert_eq!(out.len(), 1, "one event, even when end is called twice");
    let tls = &tls_of(&out[0]).tls;
    assert_eq!(tls.anomalies, ["gap"]);
    assert!(tls.client_hello.is_some());
    assert!(tls.server_hello.is_none());
    assert_eq!(tls.version, "TLSv1.2");
}

#[test]
fn server_only_capture_still_names_the_client() {
    let mut parser = TlsParser::new(&config(false));
    let (events, _) = run(&mut parser, &[(Direction::ToOriginator, tls12_server())]);
    assert_eq!(events.len(), 1);
    let t = tls_of(&events[0]);
    // The ServerHello went to the originator, so the originator is the client.
    assert_eq!(t.src_endpoint.port, Some(58514));
    assert!(t.tls.server_hello.is_some());
    assert!(t.tls.certificate.is_some());
}

#[test]
fn garbage_is_a_mismatch_and_oversize_is_counted() {
    let mut parser = TlsParser::new(&config(false));
    let mut out = Vec::new();
    let p = parser.data(
        &meta(),
        Direction::ToResponder,
        Timestamp::default(),
        b"GET / HTTP/1.1\r\n",
        &mut out,
    );
    assert_eq!(p, Progress::Mismatch);

    let small = AppConfig {
        max_tls_handshake_bytes: 64,
        ..AppConfig::default()
    };
    let mut parser = TlsParser::new(&small);
    let (events, _) = run(
        &mut parser,
        &[
            (Direction::ToResponder, tls12_client()),
            (Direction::ToOriginator, tls12_server()),
        ],
    );
    assert!(events.is_empty(), "nothing fit, nothing to report");
    // A limit that fits the ClientHello but not the server's first flight.
    let medium = AppConfig {
        max_tls_handshake_bytes: 400,
        ..AppConfig::default()
    };
    let mut parser = TlsParser::new(&medium);
    let (events, _) = run(
        &mut parser,
        &[
            (Direction::ToResponder, tls12_client()),
            (Direction::ToOriginator, tls12_server()),
        ],
    );
    assert_eq!(events.len(), 1);
    let tls = &tls_of(&events[0]).tls;
    assert!(tls.client_hello.is_some());
    assert_eq!(tls.anomalies, ["handshake_too_large"]);
    assert_eq!(parser.counters(), [("tls.handshake_too_large", 1)]);
}

#[test]
fn rfc4514_escapes_and_orders() {
    assert_eq!(escape_rfc4514(" a,b+c "), "\\ a\\,b\\+c\\ ");
    assert_eq!(escape_rfc4514("#x#"), "\\#x#");
    assert_eq!(escape_rfc4514("plain"), "plain");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_random_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(0usize..600, 0..8),
        tls_prefix in any::<bool>(),
    ) {
        let mut bytes = if tls_prefix { vec![22, 3, 1, 0x02, 0x00, 1] } else { Vec::new() };
        bytes.extend_from_slice(&data);
        let mut cuts = cuts;
        cuts.push(bytes.len());
        cuts.sort_unstable();
        let mut parser = TlsParser::new(&AppConfig::default());
        let meta = meta();
        let mut out = Vec::new();
        let mut start = 0;
        for (i, cut) in cuts.into_iter().enumerate() {
            let end = cut.min(bytes.len()).max(start);
            let dir = if i % 3 == 2 { Direction::ToOriginator } else { Direction::ToResponder };
            if i % 5 == 4 {
                parser.gap(dir, 10);
            }
            if parser.data(&meta, dir, Timestamp::default(), &bytes[start..end], &mut out) != Progress::Continue {
                break;
            }
            start = end;
        }
        parser.end(&meta, Timestamp::default(), &mut out);
        prop_assert!(out.len() <= 1);
        let _ = parse_client_hello(&data, JaTransport::Tcp);
        let _ = parse_server_hello(&data);
        let _ = parse_certificate(&data);
    }

    #[test]
    fn real_handshake_survives_any_chunking(cuts in proptest::collection::vec(0usize..6000, 0..12)) {
        let server = tls12_server();
        let mut cuts = cuts;
        cuts.push(server.len());
        cuts.sort_unstable();
        let mut chunks = vec![(Direction::ToResponder, tls12_client())];
        let mut start = 0;
        for cut in cuts {
            let end = cut.min(server.len()).max(start);
            chunks.push((Direction::ToOriginator, server[start..end].to_vec()));
            start = end;
        }
        let mut parser = TlsParser::new(&AppConfig::default());
        let (events, _) = run(&mut parser, &chunks);
        prop_assert_eq!(events.len(), 1);
        let tls = &tls_of(&events[0]).tls;
        prop_assert!(tls.certificate.is_some());
        prop_assert_eq!(tls.ja3s_hash.as_deref(), Some("e195432758194ce2d482396b82e0d48e"));
    }
}

#[test]
fn encrypted_only_once_the_clear_text_handshake_is_over() {
    for (client, server) in [
        (tls12_client(), tls12_server()),
        (tls13_client(), tls13_server()),
    ] {
        let mut parser = TlsParser::new(&config(false));
        let meta = meta();
        let mut out = Vec::new();
        parser.data(
            &meta,
            Direction::ToResponder,
            Timestamp::default(),
            &client,
            &mut out,
        );
        assert!(!parser.encrypted(), "a client hello alone is not the end");
        let p = parser.data(
            &meta,
            Direction::ToOriginator,
            Timestamp::default(),
            &server,
            &mut out,
        );
        assert_eq!(p, Progress::Done);
        assert!(parser.encrypted());
    }
    // Stopped on bytes that are not TLS: not taken as encrypted.
    let mut parser = TlsParser::new(&config(false));
    let (_, progress) = run(
        &mut parser,
        &[
            (Direction::ToResponder, tls12_client()),
            (Direction::ToOriginator, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
            (Direction::ToResponder, b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ],
    );
    assert_eq!(progress.last(), Some(&Progress::Done));
    assert!(!parser.encrypted());
}
