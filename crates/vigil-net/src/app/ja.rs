//! TLS fingerprints: JA3, JA3S and JA4 (BSD-3-Clause, on by default).
//! JA4+ methods other than JA4 (here JA4S) are under the FoxIO License 1.1
//! and only run when [`super::AppConfig::ja4plus`] is set; this module only
//! computes them, the caller decides whether to.
//!
//! Every function here is pure: numbers from a hello in, fingerprint text
//! out. [`super::tls`] extracts the numbers from the wire.
//!
//! - JA3 (Salesforce): `SSLVersion,Ciphers,Extensions,EllipticCurves,
//!   EllipticCurvePointFormats`, decimal values joined with `-`, GREASE
//!   values removed, then MD5 in lower-case hex. JA3S: `SSLVersion,Cipher,
//!   Extensions`.
//! - JA4 (FoxIO, `technical_details/JA4.md`):
//!   `{t|q|d}{version}{d|i}{#ciphers:02}{#extensions:02}{alpn}_{b}_{c}`,
//!   see [`ja4`].
//! - JA4S (FoxIO License 1.1): `{t|q}{version}{#extensions:02}{alpn}_{cipher}_{c}`,
//!   see [`ja4s`].

use md5::Md5;
use sha2::{Digest, Sha256};

/// The value the JA4 hash parts take when their list is empty.
const EMPTY_HASH: &str = "000000000000";

/// Extension types JA4 treats specially.
const EXT_SNI: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;

/// How the hello travelled; the first character of JA4 and JA4S.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JaTransport {
    /// TLS over TCP: `t`.
    Tcp,
    /// TLS inside QUIC CRYPTO frames: `q`.
    Quic,
    /// DTLS: `d`.
    Dtls,
}

impl JaTransport {
    /// The fingerprint's first character.
    pub const fn marker(self) -> char {
        match self {
            JaTransport::Tcp => 't',
            JaTransport::Quic => 'q',
            JaTransport::Dtls => 'd',
        }
    }
}

/// True for the 16 GREASE values of RFC 8701 (`0x?a?a` with both bytes equal).
pub const fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && (value >> 8) == (value & 0xff)
}

/// The two-character JA4 version code of a protocol version number.
pub const fn ja4_version(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 | 0x0200 => "s2",
        0x0100 => "s1",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The JA4/JA4S ALPN part from the first ALPN protocol's bytes: its first
/// and last characters when both are ASCII alphanumeric; otherwise the first
/// and last characters of the value's hex representation; `00` when there is
/// no ALPN or the first value is empty. A one-byte value is both first and last.
pub fn ja4_alpn(first_alpn: Option<&[u8]>) -> String {
    let Some(value) = first_alpn else {
        return "00".to_owned();
    };
    let (Some(&first), Some(&last)) = (value.first(), value.last()) else {
        return "00".to_owned();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [char::from(first), char::from(last)].iter().collect()
    } else {
        let first_hex = hex::encode([first]);
        let last_hex = hex::encode([last]);
        let mut out = String::with_capacity(2);
        out.extend(first_hex.chars().next());
        out.extend(last_hex.chars().last());
        out
    }
}

/// The first 12 lower-case hex digits of the SHA-256 of `text`.
fn sha256_12(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = hex::encode(digest);
    out.truncate(12);
    out
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

fn join_hex(values: impl IntoIterator<Item = u16>) -> String {
    let mut out = String::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{v:04x}"));
    }
    out
}

fn join_dec<T: std::fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    let mut out = String::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&v.to_string());
    }
    out
}

/// A JA3 or JA3S fingerprint: the string and its MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    /// The comma-separated string that is hashed.
    pub text: String,
    /// MD5 of `text`, lower-case hex.
    pub hash: String,
}

/// JA3 of a ClientHello: `version` is the hello's legacy (handshake)
/// version; GREASE values are dropped from every list.
pub fn ja3(
    version: u16,
    ciphers: &[u16],
    extensions: &[u16],
    groups: &[u16],
    point_formats: &[u8],
) -> Ja3 {
    let keep = |v: &&u16| !is_grease(**v);
    let text = format!(
        "{},{},{},{},{}",
        version,
        join_dec(ciphers.iter().filter(keep)),
        join_dec(extensions.iter().filter(keep)),
        join_dec(groups.iter().filter(keep)),
        join_dec(point_formats),
    );
    let hash = md5_hex(&text);
    Ja3 { text, hash }
}

/// JA3S of a ServerHello: `version` is the hello's legacy version (771 for
/// TLS 1.3 too, as the spec and tshark do); GREASE extensions are dropped.
pub fn ja3s(version: u16, cipher: u16, extensions: &[u16]) -> Ja3 {
    let text = format!(
        "{},{},{}",
        version,
        cipher,
        join_dec(extensions.iter().filter(|v| !is_grease(**v))),
    );
    let hash = md5_hex(&text);
    Ja3 { text, hash }
}

/// What JA4 reads from a ClientHello, in wire order, GREASE included (JA4
/// drops it itself).
#[derive(Debug, Clone, Copy)]
pub struct Ja4Input<'a> {
    /// How the hello travelled.
    pub transport: JaTransport,
    /// The legacy (handshake) version.
    pub legacy_version: u16,
    /// The supported_versions extension's list, when the extension is present.
    pub supported_versions: Option<&'a [u16]>,
    /// Cipher suites.
    pub ciphers: &'a [u16],
    /// Extension types.
    pub extensions: &'a [u16],
    /// The first ALPN protocol's bytes, when ALPN is present.
    pub first_alpn: Option<&'a [u8]>,
    /// The signature_algorithms extension's list (empty when absent).
    pub signature_algorithms: &'a [u16],
}

/// A JA4 fingerprint and its raw (unhashed, sorted) form `JA4_r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4 {
    /// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    pub fingerprint: String,
    /// The same with the lists in clear instead of hashed.
    pub raw: String,
}

/// JA4 of a ClientHello, per FoxIO's `JA4.md`:
///
/// - version: highest non-GREASE value of supported_versions when the
///   extension is present, else the legacy version;
/// - `d` when the SNI extension is present, else `i`;
/// - counts of non-GREASE ciphers and extensions (SNI and ALPN included),
///   two digits, capped at 99;
/// - ALPN part per [`ja4_alpn`];
/// - b: SHA-256 (12 hex) of the sorted 4-hex-digit cipher list;
/// - c: SHA-256 (12 hex) of the sorted extension list without SNI and ALPN,
///   then `_` and the signature algorithms in wire order (no `_` when there
///   are none);
/// - a hash part whose list is empty is `000000000000`.
pub fn ja4(input: &Ja4Input<'_>) -> Ja4 {
    let version = match input.supported_versions {
        Some(list) => list
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(input.legacy_version),
        None => input.legacy_version,
    };
    let mut ciphers: Vec<u16> = input
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let extensions: Vec<u16> = input
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let sni = if extensions.contains(&EXT_SNI) {
        'd'
    } else {
        'i'
    };
    let a = format!(
        "{}{}{}{:02}{:02}{}",
        input.transport.marker(),
        ja4_version(version),
        sni,
        ciphers.len().min(99),
        extensions.len().min(99),
        ja4_alpn(input.first_alpn),
    );
    ciphers.sort_unstable();
    let mut sorted_ext: Vec<u16> = extensions
        .into_iter()
        .filter(|v| *v != EXT_SNI && *v != EXT_ALPN)
        .collect();
    sorted_ext.sort_unstable();
    let sigs = join_hex(
        input
            .signature_algorithms
            .iter()
            .copied()
            .filter(|v| !is_grease(*v)),
    );
    let b_raw = join_hex(ciphers.iter().copied());
    let mut c_raw = join_hex(sorted_ext.iter().copied());
    if !sigs.is_empty() {
        c_raw.push('_');
        c_raw.push_str(&sigs);
    }
    let b = if ciphers.is_empty() {
        EMPTY_HASH.to_owned()
    } else {
        sha256_12(&b_raw)
    };
    let c = if sorted_ext.is_empty() {
        EMPTY_HASH.to_owned()
    } else {
        sha256_12(&c_raw)
    };
    Ja4 {
        fingerprint: format!("{a}_{b}_{c}"),
        raw: format!("{a}_{b_raw}_{c_raw}"),
    }
}

/// JA4S of a ServerHello (JA4+, FoxIO License 1.1: call only when the user
/// enabled JA4+). `version` is the negotiated one (supported_versions when
/// present, else the legacy version); `extensions` in wire order.
pub fn ja4s(
    transport: JaTransport,
    version: u16,
    cipher: u16,
    extensions: &[u16],
    alpn: Option<&[u8]>,
) -> String {
    let exts = join_hex(extensions.iter().copied());
    let c = if extensions.is_empty() {
        EMPTY_HASH.to_owned()
    } else {
        sha256_12(&exts)
    };
    format!(
        "{}{}{:02}{}_{:04x}_{}",
        transport.marker(),
        ja4_version(version),
        extensions.len().min(99),
        ja4_alpn(alpn),
        cipher,
        c
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_exactly_the_sixteen() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(all.len(), 16);
        assert!(all.contains(&0x0a0a) && all.contains(&0xfafa));
        assert!(!is_grease(0x0a1a));
    }

    #[test]
    fn alpn_rule_matches_the_spec_examples() {
        assert_eq!(ja4_alpn(Some(b"h2")), "h2");
        assert_eq!(ja4_alpn(Some(b"http/1.1")), "h1");
        assert_eq!(ja4_alpn(Some(b"h")), "hh");
        assert_eq!(ja4_alpn(None), "00");
        assert_eq!(ja4_alpn(Some(b"")), "00");
        // Examples from JA4.md.
        assert_eq!(ja4_alpn(Some(&[0xab])), "ab");
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab])), "3b");
        assert_eq!(ja4_alpn(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
    }

    /// The worked example of JA4.md.
    fn spec_example(transport: JaTransport, sigs: &[u16]) -> Ja4 {
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035, 0x0a0a,
        ];
        let extensions = [
            0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
            0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        ja4(&Ja4Input {
            transport,
            legacy_version: 0x0303,
            supported_versions: Some(&[0x2a2a, 0x0304, 0x0303]),
            ciphers: &ciphers,
            extensions: &extensions,
            first_alpn: Some(b"h2"),
            signature_algorithms: sigs,
        })
    }

    #[test]
    fn ja4_spec_example() {
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let got = spec_example(JaTransport::Tcp, &sigs);
        assert_eq!(got.fingerprint, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(
            got.raw,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        // Without signature algorithms the string has no trailing "_".
        let got = spec_example(JaTransport::Quic, &[]);
        assert_eq!(got.fingerprint, "q13d1516h2_8daaf6152771_6d807ffa2a79");
    }

    #[test]
    fn ja4_empty_lists_hash_to_zeros() {
        let got = ja4(&Ja4Input {
            transport: JaTransport::Tcp,
            legacy_version: 0x0301,
            supported_versions: None,
            ciphers: &[0x0a0a],
            extensions: &[0x0000],
            first_alpn: None,
            signature_algorithms: &[],
        });
        assert_eq!(got.fingerprint, "t10d000100_000000000000_000000000000");
    }

    #[test]
    fn ja4s_spec_example() {
        let got = ja4s(
            JaTransport::Tcp,
            0x0303,
            0xc030,
            &[0x0005, 0x0017, 0xff01, 0x0000],
            None,
        );
        assert_eq!(got, "t120400_c030_4e8089b08790");
    }

    #[test]
    fn ja3_drops_grease_and_hashes() {
        let got = ja3(
            0x0303,
            &[0x0a0a, 0x1301, 0xc02b],
            &[0x2a2a, 0, 11],
            &[29, 23],
            &[0],
        );
        assert_eq!(got.text, "771,4865-49195,0-11,29-23,0");
        assert_eq!(got.hash, md5_hex("771,4865-49195,0-11,29-23,0"));
        assert_eq!(got.hash.len(), 32);
        let got = ja3s(0x0303, 0x1301, &[43, 51]);
        assert_eq!(got.text, "771,4865,43-51");
    }
}
