//! Every feed format, read from a real-format sample under `tests/data/`
//! through format detection, imported, compiled and matched.

use std::path::{Path, PathBuf};

use vigil_event::Severity;
use vigil_intel::format::{stix, Format, ParseOptions, Parsed};
use vigil_intel::import::{read_feed, FeedDefaults};
use vigil_intel::{Kind, Matcher};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Read a sample with its format detected, check the format, and compile it.
fn load(name: &str, want: Format) -> (Parsed, Matcher) {
    let (format, parsed) = read_feed(&data(name), None, &ParseOptions::default()).unwrap();
    assert_eq!(format, want, "{name} detected as {format}");
    let indicators = FeedDefaults::new("sample", 0).apply(&parsed);
    (parsed, Matcher::build(&indicators, 0))
}

fn error_locations(p: &Parsed) -> Vec<&str> {
    p.errors.iter().map(|e| e.location.as_str()).collect()
}

#[test]
fn plain_list() {
    let (p, m) = load("blocklist.txt", Format::Plain);
    assert_eq!(p.entries.len(), 13);
    assert_eq!(error_locations(&p), ["line 20", "line 21"]);
    for (query, kind) in [
        ("192.0.2.11", Kind::Ipv4),
        ("198.51.100.77", Kind::Ipv4),
        ("2001:db8:bad:1::9", Kind::Ipv6),
        ("evil.example", Kind::Domain),
        ("beacon.eu.c2.example", Kind::DomainSuffix),
        ("tracker.example", Kind::Domain),
        ("https://dropper.example/payload/stage2.bin?id=7", Kind::Url),
        ("D41D8CD98F00B204E9800998ECF8427E", Kind::Md5),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", Kind::Sha1),
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            Kind::Sha256,
        ),
        ("t13d1516h2_8daaf6152771_b186095e22b6", Kind::Ja4),
        ("phisher@evil.example", Kind::Email),
    ] {
        let hits = m.lookup(query);
        assert!(hits.iter().any(|h| h.kind == kind), "{query}: {hits:?}");
    }
    for miss in [
        "198.51.100.200",
        "www.evil.example",
        "203.0.113.99",
        "c2.example.org",
    ] {
        assert!(m.lookup(miss).is_empty(), "{miss}");
    }
}

#[test]
fn threatfox_csv_with_its_header_in_a_comment() {
    let (p, m) = load("threatfox.csv", Format::Csv);
    assert_eq!(p.entries.len(), 5, "{:?}", p.errors);
    // The bad IP and the unknown type, on their file lines.
    assert_eq!(error_locations(&p), ["line 15", "line 16"]);
    let hit = m.contains("203.0.113.45").unwrap();
    assert_eq!(hit.attrs.confidence, 100);
    assert_eq!(hit.attrs.tags, ["AsyncRAT", "RAT"]);
    assert_eq!(hit.attrs.first_seen, Some(1_711_972_683_000));
    let cs = m.contains("c2-panel.example").unwrap();
    assert_eq!(
        cs.attrs.reference.as_deref(),
        Some("https://example.org/report/cs")
    );
    assert_eq!(cs.attrs.confidence, 75);
    assert!(cs.attrs.last_seen.is_some());
    assert_eq!(
        m.contains("http://malware-host.example/bins/x86")
            .map(|h| h.kind),
        Some(Kind::Url)
    );
    assert!(m.contains("2001:db8:c2::7").is_some());
    assert_eq!(m.stats().by_kind.get(&Kind::Sha256), Some(&1));
}

#[test]
fn csv_with_an_explicit_mapping() {
    let options = ParseOptions {
        kind: None,
        csv:
            "value=ioc_value,type=ioc_type,tags=malware_printable+tags,confidence=confidence_level"
                .parse()
                .unwrap(),
    };
    let (_, p) = read_feed(&data("threatfox.csv"), Some(Format::Csv), &options).unwrap();
    let first = &p.entries[0];
    assert_eq!(first.tags, ["AsyncRAT", "AsyncRAT", "RAT"]);
    let bad: ParseOptions = ParseOptions {
        kind: None,
        csv: "value=no_such_column".parse().unwrap(),
    };
    assert!(read_feed(&data("threatfox.csv"), Some(Format::Csv), &bad).is_err());
}

#[test]
fn firehol_netset() {
    let (p, m) = load("firehol_level1.netset", Format::Netset);
    assert_eq!(p.entries.len(), 5);
    assert_eq!(error_locations(&p), ["line 38"]);
    let hits = m.lookup("203.0.113.77");
    assert_eq!(hits.len(), 2, "the host and its network");
    assert_eq!(hits[0].attrs.tags, ["attacks"]);
    assert_eq!(
        hits[0].attrs.reference.as_deref(),
        Some("http://iplists.firehol.org/")
    );
    assert!(m.contains("198.19.255.255").is_some());
    assert!(m.contains("198.20.0.0").is_none());
    assert!(m.contains("192.0.2.127").is_none());
}

#[test]
fn stix_bundle() {
    let (p, m) = load("bundle.json", Format::Stix);
    // 3 + (1 url + 2 domains + 1 email) + 2 hashes + 2 partial.
    assert_eq!(p.entries.len(), 11, "{:?}", p.errors);
    let locs = error_locations(&p);
    assert_eq!(locs.len(), 2, "{locs:?}");
    assert!(
        locs[0].starts_with("objects[5] (indicator--0b6ebb9b"),
        "{locs:?}"
    );
    assert!(
        locs[1].starts_with("objects[6] (indicator--9c3a1d1e"),
        "{locs:?}"
    );
    assert_eq!(p.skipped.get("stix: revoked indicator"), Some(&1));
    assert_eq!(p.skipped.get("stix: pattern_type snort"), Some(&1));
    let emotet = m.contains("203.0.113.130").unwrap();
    assert_eq!(emotet.value(), "203.0.113.128/26");
    assert_eq!(emotet.attrs.confidence, 85);
    assert_eq!(
        emotet.attrs.reference.as_deref(),
        Some("https://cert.example/advisories/2024-017")
    );
    assert!(emotet.attrs.tags.contains(&"emotet".to_owned()));
    assert!(emotet.attrs.expires.is_some());
    assert!(m.contains("203.0.113.200").is_none());
    assert!(m.contains("phish-cdn.example").is_some());
    assert!(m.contains("billing@phish.example").is_some());
    // AND inside one file object: both hashes, not partial.
    let h = m.contains("0a7b3e3b0e1b8d1e6f7e2b2c9d4a5f6e").unwrap();
    assert!(!h.attrs.tags.iter().any(|t| t == stix::PARTIAL_TAG));
    // AND between observations: each value, marked partial.
    let h = m.contains("192.0.2.200").unwrap();
    assert!(h.attrs.tags.iter().any(|t| t == stix::PARTIAL_TAG));
    assert!(m.contains("http://stage.example/next").is_some());
    // The revoked indicator is not imported.
    assert!(m.contains("192.0.2.250").is_none());
}

#[test]
fn misp_event() {
    let (p, m) = load("misp-event.json", Format::Misp);
    assert_eq!(p.entries.len(), 8, "{:?}", p.entries);
    assert_eq!(error_locations(&p), ["Event.Attribute[8] (domain)"]);
    assert_eq!(
        p.skipped.get("misp: not for detection (to_ids false)"),
        Some(&3)
    );
    let c2 = m.contains("203.0.113.66").unwrap();
    assert_eq!(c2.attrs.severity, Severity::High);
    assert!(c2.attrs.tags.contains(&"tlp:white".to_owned()));
    assert_eq!(
        c2.attrs.reference.as_deref(),
        Some("misp:event/5f1e1c3a-8d2b-4b6e-9f3a-2c7d8e9f0a1b")
    );
    assert!(m.contains("2001:db8:66::1").is_some());
    assert!(m.contains("loader-cdn.example").is_some());
    assert!(m
        .contains("http://loader-cdn.example/dl/setup.msi")
        .is_some());
    assert!(m
        .contains("Mozilla/5.0 (Windows NT 10.0; LoaderBot/2.1)")
        .is_some());
    assert_eq!(
        m.contains("72a589da586844d7f0818ce684948eea")
            .map(|h| h.kind),
        Some(Kind::Ja3)
    );
    let file = m
        .contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
        .unwrap();
    assert_eq!(file.attrs.first_seen, Some(1_711_533_600_000));
    assert_eq!(
        m.contains("098f6bcd4621d373cade4e832627b4f6")
            .map(|h| h.kind),
        Some(Kind::Md5)
    );
    assert!(m.contains("192.0.2.7").is_none(), "to_ids false");
}

#[test]
fn misp_feed_directory() {
    let (p, m) = load("misp-feed", Format::MispFeed);
    assert_eq!(p.entries.len(), 6, "{:?}", p.entries);
    let locs = error_locations(&p);
    assert_eq!(locs.len(), 2, "{locs:?}");
    assert!(
        locs.contains(&"7b1d8f2a-2c3d-4e5f-9a01-b2c3d4e5f6a7.json: Event.Attribute[2] (ip-src)")
    );
    assert!(locs.contains(&"manifest.json: 8c2e9a3b-3d4e-4f60-8b12-c3d4e5f6a7b8"));
    assert_eq!(
        m.contains("invoice@phish-wave.example")
            .map(|h| h.attrs.severity),
        Some(Severity::Medium)
    );
    assert_eq!(
        m.contains("192.0.2.34").map(|h| h.attrs.severity),
        Some(Severity::Low)
    );
    assert!(m.contains("198.51.100.200").is_some());
    assert!(m.contains("portal.phish-wave.example").is_some());
}

#[test]
fn suricata_ip_reputation_rules() {
    let (p, m) = load("ip-reputation.rules", Format::Suricata);
    assert_eq!(p.entries.len(), 5);
    assert_eq!(error_locations(&p), ["line 6"]);
    assert_eq!(
        p.skipped.get("suricata: rule without an address list"),
        Some(&1)
    );
    let drop = m.contains("198.51.100.200").unwrap();
    assert_eq!(drop.value(), "198.51.100.128/25");
    assert!(drop
        .attrs
        .reference
        .as_deref()
        .unwrap()
        .starts_with("1:2400000:3984 ET DROP Spamhaus"));
    assert_eq!(drop.attrs.tags, ["misc-attack", "Dshield"]);
    assert!(m.contains("2001:db8:cc::1").is_some());
    assert!(m.contains("192.0.2.251").is_none(), "commented-out rule");
}

#[test]
fn format_can_be_forced() {
    // A netset read as a plain list takes the same networks, and reads the
    // bad line as an error too.
    let (_, p) = read_feed(
        &data("firehol_level1.netset"),
        Some(Format::Plain),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(p.entries.len(), 5);
    assert!(
        p.entries[0].tags.is_empty(),
        "plain lists do not read netset headers"
    );
    // JSON forced as CSV is not an error of the whole file, but no entry reads as an indicator.
    let (_, p) = read_feed(
        &data("bundle.json"),
        Some(Format::Stix),
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(!p.entries.is_empty());
    assert!(read_feed(
        &data("blocklist.txt"),
        Some(Format::Stix),
        &ParseOptions::default()
    )
    .is_err());
}
