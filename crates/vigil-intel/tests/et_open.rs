//! ET Open's IP lists (2024-04 snapshot in the shared data): the plain
//! list `compromised-ips.txt` and the IP-reputation rule files whose
//! headers carry the address lists import without a bad entry, and every
//! listed address matches its feed.

use std::collections::BTreeSet;
use std::net::IpAddr;

use vigil_intel::format::{Format, ParseOptions};
use vigil_intel::import::{read_feed, FeedDefaults};
use vigil_intel::{IpNet, Matcher};

const RULE_FILES: [&str; 6] = ["botcc", "ciarmy", "compromised", "dshield", "drop", "tor"];

/// The address lists of a rule file, read independently of the parser:
/// the text between the first `[` and its `]` of every active rule.
fn listed(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("alert"))
        .filter_map(|l| {
            let start = l.find('[')?;
            let end = l[start..].find(']')? + start;
            Some(
                l[start + 1..end]
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect()
}

/// An address inside a network (its middle).
fn inside(net: &IpNet) -> IpAddr {
    match *net {
        IpNet::V4(a, p) => IpAddr::V4((a | ((u32::MAX >> p.min(31)) >> 1)).into()),
        IpNet::V6(a, p) => IpAddr::V6((a | ((u128::MAX >> p.min(127)) >> 1)).into()),
    }
}

#[test]
fn et_open_ip_lists_import_and_match() {
    let Some(dir) = vigil_testkit::require_shared_data("et-open-2024-04") else {
        return;
    };
    let mut all = Vec::new();
    let mut expected: Vec<(String, BTreeSet<String>)> = Vec::new();

    let (format, plain) = read_feed(
        &dir.join("compromised-ips.txt"),
        None,
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(format, Format::Plain);
    assert!(plain.errors.is_empty(), "{:?}", plain.errors);
    let text = std::fs::read_to_string(dir.join("compromised-ips.txt")).unwrap();
    let want: BTreeSet<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(plain.entries.len(), want.len());
    all.extend(FeedDefaults::new("et-compromised-ips", 0).apply(&plain));
    expected.push(("et-compromised-ips".into(), want));

    for name in RULE_FILES {
        let path = dir.join(format!("{name}.rules"));
        let (format, parsed) = read_feed(&path, None, &ParseOptions::default()).unwrap();
        assert_eq!(format, Format::Suricata, "{name}");
        assert!(parsed.errors.is_empty(), "{name}: {:?}", parsed.errors);
        let text = std::fs::read_to_string(&path).unwrap();
        let want: BTreeSet<String> = listed(&text)
            .iter()
            .map(|v| IpNet::parse(v).unwrap().to_string())
            .collect();
        assert!(!want.is_empty(), "{name} lists addresses");
        let got: BTreeSet<String> = parsed.entries.iter().map(|e| e.value.clone()).collect();
        assert_eq!(got, want, "{name}");
        let feed = format!("et-{name}");
        all.extend(FeedDefaults::new(&feed, 0).apply(&parsed));
        expected.push((feed, want));
    }

    let m = Matcher::build(&all, 0);
    for (feed, values) in &expected {
        for v in values {
            let net = IpNet::parse(v).unwrap();
            let probe = inside(&net);
            let hits = m.lookup(&probe.to_string());
            assert!(
                hits.iter()
                    .any(|h| &h.attrs.feed == feed && h.value() == *v),
                "{probe} (in {v}) does not match feed {feed}: {hits:?}"
            );
        }
    }
    // Documentation addresses are on no list.
    for miss in ["192.0.2.1", "198.51.100.1", "2001:db8::1", "10.0.0.1"] {
        assert!(m.lookup(miss).is_empty(), "{miss}");
    }
    // Every entry is held: an address listed by two rules (tor lists each
    // exit in an inbound and an outbound rule) is held once per rule.
    let entries = all.len();
    assert_eq!(m.len() + m.stats().duplicates, entries);
    assert!(
        m.stats().by_kind.contains_key(&vigil_intel::Kind::Ipv6),
        "tor lists IPv6 exits"
    );
}
