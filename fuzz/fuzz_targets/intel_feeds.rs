//! Any bytes as a threat-intel feed of every format: each parser must
//! report bad entries, never panic, and every entry it returns must be a
//! normalized value the matcher finds again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_intel::format::{self, Format, ParseOptions};
use vigil_intel::import::FeedDefaults;
use std::net::IpAddr;

use vigil_intel::{IpNet, Kind, Matcher};

fuzz_target!(|data: &[u8]| {
    let mut options = ParseOptions::default();
    if let Some(&b) = data.first() {
        // Let the first byte pick a CSV mapping and a forced kind now and then.
        if b & 1 == 1 {
            options.csv = "value=2,type=1,tags=3+4,confidence=5".parse().unwrap();
        }
        if b & 2 == 2 {
            options.kind = Kind::ALL.get(usize::from(b >> 4)).copied();
        }
    }
    let _ = format::detect(Some("feed.txt"), data);
    for f in Format::ALL {
        let Ok(parsed) = format::parse(f, data, &options) else {
            continue;
        };
        assert!(parsed.errors.len() <= parsed.errors_total);
        let indicators = FeedDefaults::new("fuzz", 0).apply(&parsed);
        let m = Matcher::build(&indicators, 0);
        let mut hits = Vec::new();
        for i in indicators.iter().take(64) {
            hits.clear();
            match i.kind {
                Kind::Ipv4 | Kind::Ipv6 => {
                    let net = IpNet::parse(&i.value).expect("stored IP values parse");
                    let addr: IpAddr = match net {
                        IpNet::V4(a, _) => IpAddr::V4(a.into()),
                        IpNet::V6(a, _) => IpAddr::V6(a.into()),
                    };
                    m.ip_hits(addr, &mut hits);
                }
                Kind::Domain | Kind::DomainSuffix => m.domain_hits(&i.value, &mut hits),
                kind => m.exact_hits(kind, &i.value, &mut hits),
            }
            assert!(hits.iter().any(|h| h.kind == i.kind && h.value() == i.value), "{} {} not found", i.kind, i.value);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = format::stix::parse_pattern(text);
    }
});
