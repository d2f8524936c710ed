//! Crawler verification by reverse DNS with forward confirmation against a
//! real resolver: dnsmasq started by the test on 127.0.0.1 and a free port,
//! with only the records the test gives it (`--no-resolv`, `--no-hosts`),
//! and stopped by its own pid afterwards.

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use vigil_weblog::entity::EntityKind;
use vigil_weblog::whitelist::{GoodBots, RdnsConfig, Resolve, UdpResolver, Verification, Verifier};
use vigil_weblog::{BotDetector, Class};

/// dnsmasq, killed (only it) on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dnsmasq() -> Option<Dnsmasq> {
    let bin = vigil_testkit::require_tool("dnsmasq")?;
    // A free port: bind, read it, release it.
    let port = UdpSocket::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let child = Command::new(bin)
        .args([
            "--keep-in-foreground",
            &format!("--port={port}"),
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            &format!("--user={user}"),
            // Authoritative for these zones: unknown names are NXDOMAIN.
            "--local=/127.in-addr.arpa/",
            "--local=/googlebot.com/",
            // The real one: PTR and A agree.
            "--host-record=crawl-127-0-0-53.googlebot.com,127.0.0.53",
            // A fake: its PTR claims googlebot.com, but the name resolves
            // to another address.
            "--ptr-record=54.0.0.127.in-addr.arpa,crawl-127-0-0-54.googlebot.com",
            "--host-record=crawl-127-0-0-54.googlebot.com,127.0.0.99",
            // Another fake: PTR outside Google's domain.
            "--ptr-record=56.0.0.127.in-addr.arpa,host.example.net",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq starts");
    let d = Dnsmasq {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    // Wait until it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut r = UdpResolver::new(d.addr, Duration::from_millis(200));
    while Instant::now() < deadline {
        if r.ptr("127.0.0.53".parse().unwrap()).is_ok() {
            return Some(d);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("dnsmasq did not answer on {}", d.addr);
}

#[test]
fn rdns_with_forward_confirmation_against_dnsmasq() {
    let Some(dns) = start_dnsmasq() else { return };
    let cfg = RdnsConfig {
        resolver: Some(dns.addr),
        ..RdnsConfig::new()
    };
    let bots = GoodBots::builtin().unwrap();
    let google = bots
        .claimed_by("Mozilla/5.0 (compatible; Googlebot/2.1)")
        .unwrap();
    let mut v = Verifier::new(&cfg);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();

    let real = v.verify(&bots, google, ip("127.0.0.53"), 0);
    assert_eq!(
        real,
        Verification::Rdns {
            name: "crawl-127-0-0-53.googlebot.com".into()
        }
    );
    let Verification::Failed { reason } = v.verify(&bots, google, ip("127.0.0.54"), 0) else {
        panic!("a PTR that does not resolve back must fail");
    };
    assert!(reason.contains("does not resolve back"), "{reason}");
    let Verification::Failed { reason } = v.verify(&bots, google, ip("127.0.0.56"), 0) else {
        panic!("a PTR outside the domain must fail");
    };
    assert!(reason.contains("not in googlebot's domain"), "{reason}");
    let Verification::Failed { reason } = v.verify(&bots, google, ip("127.0.0.55"), 0) else {
        panic!("no PTR must fail");
    };
    assert!(reason.contains("no PTR"), "{reason}");
    // Cached: no new lookups within the TTL.
    let lookups = v.lookups;
    v.verify(&bots, google, ip("127.0.0.53"), 10_000_000_000);
    assert_eq!(v.lookups, lookups);
}

#[test]
fn an_unreachable_resolver_leaves_claims_unverified() {
    // A port nothing listens on (bound and released): the query times out.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = RdnsConfig {
        resolver: Some(SocketAddr::from(([127, 0, 0, 1], port))),
        timeout_ms: 100,
        ..RdnsConfig::new()
    };
    let bots = GoodBots::builtin().unwrap();
    let google = bots.claimed_by("Googlebot/2.1").unwrap();
    let mut v = Verifier::new(&cfg);
    let out = v.verify(&bots, google, "127.0.0.53".parse().unwrap(), 0);
    assert!(matches!(out, Verification::Unverified { .. }), "{out:?}");
}

#[test]
fn real_and_fake_googlebot_through_the_detector() {
    let Some(dns) = start_dnsmasq() else { return };
    let mut config = config();
    config.whitelist.rdns.enabled = true;
    config.whitelist.rdns.resolver = Some(dns.addr);
    let mut rng = Rng(11);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 50);
    let ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    for (ip, offset) in [("127.0.0.53", 0.0), ("127.0.0.54", 0.3)] {
        let ip: IpAddr = ip.parse().unwrap();
        recs.push(rec(
            T0 + offset,
            ip,
            "GET",
            "/robots.txt",
            200,
            None,
            Some(ua),
            None,
        ));
        for i in 0..200 {
            let t = T0 + offset + 1.0 + f64::from(i) * 3.0;
            recs.push(rec(
                t,
                ip,
                "GET",
                &format!("/product/{i}"),
                200,
                None,
                Some(ua),
                None,
            ));
        }
    }
    let mut d = BotDetector::new(config).unwrap();
    for r in &sorted(recs) {
        d.observe(r);
    }
    let verdicts = d.finish();
    let find = |ip: &str| {
        verdicts
            .iter()
            .find(|v| v.entity == EntityKind::IpUa && v.client == ip.parse::<IpAddr>().unwrap())
            .unwrap()
            .clone()
    };
    let real = find("127.0.0.53");
    assert_eq!(real.class, Class::GoodBot, "{:?}", real.reasons);
    let fake = find("127.0.0.54");
    assert_eq!(
        fake.class,
        Class::Scraper,
        "{:?} {:?}",
        fake.reasons,
        fake.score
    );
    let c = fake
        .score
        .contributions
        .iter()
        .find(|c| c.feature == "ua_fake_crawler")
        .unwrap();
    assert_eq!(c.value, Some(1.0));
    assert!(fake
        .reasons
        .iter()
        .any(|r| r.contains("claims to be googlebot but is not")));
    let finding = fake.to_finding().unwrap();
    let vigil_event::Body::Finding(f) = &finding.body else {
        panic!()
    };
    assert_eq!(f.finding_info.analytic.uid, "bot:scraper");
    assert!(f.evidence.contains_key("verification"));
    assert!(d.counters().rdns_lookups >= 2);
}
