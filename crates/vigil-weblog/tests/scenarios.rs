//! Scenario tests: synthetic traffic of people plus one kind of bot or
//! crowd each, through the whole detector; the verdicts must name the bot
//! with the right class and leave every person human.

mod common;

use std::net::IpAddr;

use common::*;
use vigil_weblog::entity::EntityKind;
use vigil_weblog::score::AttackKind;
use vigil_weblog::{AccessRecord, BotDetector, Class, DetectorConfig, Verdict};

fn run(config: DetectorConfig, recs: Vec<AccessRecord>) -> Vec<Verdict> {
    let mut d = BotDetector::new(config).unwrap();
    for r in &sorted(recs) {
        d.observe(r);
    }
    d.finish()
}

fn of(verdicts: &[Verdict], kind: EntityKind, ip: &str) -> Vec<Verdict> {
    let ip: IpAddr = ip.parse().unwrap();
    verdicts
        .iter()
        .filter(|v| v.entity == kind && v.client == ip)
        .cloned()
        .collect()
}

fn flagged_people(verdicts: &[Verdict], is_person: impl Fn(&Verdict) -> bool) -> Vec<String> {
    verdicts
        .iter()
        .filter(|v| is_person(v) && v.class != Class::Human)
        .map(|v| format!("{} {:?} {:?}", v.subject, v.class, v.score.probabilities))
        .collect()
}

fn in_background(v: &Verdict) -> bool {
    matches!(v.client, IpAddr::V4(a) if a.octets()[0] == 172)
}

#[test]
fn people_browsing_are_human() {
    let mut rng = Rng(1);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 200);
    let verdicts = run(config(), recs);
    assert!(verdicts.len() > 100, "{} verdicts", verdicts.len());
    let flagged = flagged_people(&verdicts, |_| true);
    assert!(flagged.is_empty(), "people flagged: {flagged:#?}");
}

#[test]
fn fast_scraper_is_a_scraper_and_explains_why() {
    let mut rng = Rng(2);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    let ip: IpAddr = "198.51.100.10".parse().unwrap();
    for i in 0..600 {
        let t = T0 + 60.0 + f64::from(i) * 0.5;
        recs.push(rec(
            t,
            ip,
            "GET",
            &format!("/product/{i}"),
            200,
            None,
            Some("python-requests/2.31.0"),
            None,
        ));
    }
    let verdicts = run(config(), recs);
    for kind in [EntityKind::Ip, EntityKind::IpUa] {
        let v = of(&verdicts, kind, "198.51.100.10");
        assert_eq!(v.len(), 1, "{kind:?}");
        assert_eq!(v[0].class, Class::Scraper, "{kind:?} {:?}", v[0].score);
        let feature = |name: &str| {
            v[0].score
                .contributions
                .iter()
                .find(|c| c.feature == name)
                .unwrap()
                .clone()
        };
        assert!(feature("rate_rpm").contribution > 0.0);
        assert_eq!(feature("ua_library").value, Some(1.0));
        assert!(feature("static_deficit").value.unwrap() > 0.9);
        let finding = v[0].to_finding().unwrap();
        let vigil_event::Body::Finding(f) = &finding.body else {
            panic!("not a finding")
        };
        assert_eq!(f.finding_info.analytic.uid, "bot:scraper");
        assert_eq!(f.src_endpoint.as_ref().map(|e| e.ip), Some(ip));
        assert!(f.evidence.contains_key("features"));
    }
    let flagged = flagged_people(&verdicts, in_background);
    assert!(flagged.is_empty(), "people flagged: {flagged:#?}");
}

#[test]
fn low_and_slow_rotating_scraper_is_caught_at_its_block() {
    let mut rng = Rng(3);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    // 40 addresses of one /24, rotating browser user agents, 8 product
    // pages each, a minute or two apart, no assets, no referer.
    let mut page = 0;
    for host in 1..=40u8 {
        let ip = IpAddr::from([203, 0, 113, host]);
        let ua = BROWSERS[usize::from(host) % BROWSERS.len()];
        let mut t = T0 + rng.range(0.0, 600.0);
        for _ in 0..8 {
            page += 1;
            recs.push(rec(
                t,
                ip,
                "GET",
                &format!("/product/{page}"),
                200,
                None,
                Some(ua),
                None,
            ));
            t += rng.range(60.0, 120.0);
        }
    }
    let verdicts = run(config(), recs);
    let block = verdicts
        .iter()
        .find(|v| v.entity == EntityKind::Prefix && v.subject == "203.0.113.0/24")
        .expect("a verdict for the block");
    assert_eq!(block.class, Class::Scraper, "{:?}", block.score);
    let flagged = flagged_people(&verdicts, in_background);
    assert!(flagged.is_empty(), "people flagged: {flagged:#?}");
}

#[test]
fn credential_stuffer_on_login() {
    let mut rng = Rng(4);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    let ip: IpAddr = "192.0.2.50".parse().unwrap();
    let ua = BROWSERS[0];
    for i in 0..300 {
        let t = T0 + 100.0 + f64::from(i) * rng.range(1.0, 3.0);
        let status = if i % 97 == 0 { 302 } else { 401 };
        recs.push(rec(
            t,
            ip,
            "POST",
            "/login",
            status,
            Some(url("/login")),
            Some(ua),
            None,
        ));
    }
    // A person who logs in once, mistyping the password first.
    let me: IpAddr = "172.31.0.1".parse().unwrap();
    person(&mut recs, &mut rng, me, BROWSERS[1], None, T0, 3);
    recs.push(rec(
        T0 + 300.0,
        me,
        "POST",
        "/login",
        401,
        Some(url("/login")),
        Some(BROWSERS[1]),
        None,
    ));
    recs.push(rec(
        T0 + 310.0,
        me,
        "POST",
        "/login",
        302,
        Some(url("/login")),
        Some(BROWSERS[1]),
        None,
    ));
    let verdicts = run(config(), recs);
    let v = of(&verdicts, EntityKind::IpUa, "192.0.2.50");
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].class,
        Class::Attacker(AttackKind::CredentialStuffing),
        "{:?}",
        v[0].score
    );
    let finding = v[0].to_finding().unwrap();
    let vigil_event::Body::Finding(f) = &finding.body else {
        panic!("not a finding")
    };
    assert_eq!(f.finding_info.analytic.uid, "bot:credential_stuffing");
    let flagged = flagged_people(&verdicts, in_background);
    assert!(flagged.is_empty(), "people flagged: {flagged:#?}");
}

#[test]
fn vulnerability_scanner_probing_backdoors() {
    let mut rng = Rng(5);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    let ip: IpAddr = "192.0.2.66".parse().unwrap();
    let probes = [
        "/c99.php",
        "/r57.php",
        "/shell.php",
        "/wp-content/plugins/x/cmd.php",
        "/.env",
        "/.git/config",
        "/backup.sql",
        "/phpmyadmin/",
        "/wp-admin/install.php",
        "/admin/config.php",
        "/.aws/credentials",
        "/cgi-bin/../../etc/passwd",
        "/index.php?id=1%20union%20select%20null",
        "/wso2.8.5.php",
    ];
    for i in 0..140 {
        let t = T0 + 200.0 + f64::from(i) * 0.3;
        let p = probes[i as usize % probes.len()];
        recs.push(rec(
            t,
            ip,
            "GET",
            &format!("/{}{p}", i / 14),
            404,
            None,
            Some(BROWSERS[2]),
            None,
        ));
    }
    let verdicts = run(config(), recs);
    let v = of(&verdicts, EntityKind::IpUa, "192.0.2.66");
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].class,
        Class::Attacker(AttackKind::Scanner),
        "{:?}",
        v[0].score
    );
    let flagged = flagged_people(&verdicts, in_background);
    assert!(flagged.is_empty(), "people flagged: {flagged:#?}");
}

/// A flash sale: hundreds of distinct people load /sale and keep
/// refreshing it within a minute. Alone, that refreshing looks like a bot;
/// in a crowd it is no evidence.
fn flash_refresher(
    recs: &mut Vec<AccessRecord>,
    rng: &mut Rng,
    ip: IpAddr,
    ua: &str,
    session: &str,
    start: f64,
) {
    // First load with assets, then refreshes of the page alone.
    recs.push(rec(
        start,
        ip,
        "GET",
        "/sale",
        200,
        Some("https://news.example/".into()),
        Some(ua),
        Some(session),
    ));
    let mut t = start;
    for a in ["/static/app.css", "/static/app.js", "/img/sale.jpg"] {
        t += rng.range(0.05, 0.3);
        recs.push(rec(
            t,
            ip,
            "GET",
            a,
            200,
            Some(url("/sale")),
            Some(ua),
            Some(session),
        ));
    }
    for _ in 0..(20 + rng.below(25)) {
        t += rng.range(0.5, 2.5);
        recs.push(rec(
            t,
            ip,
            "GET",
            "/sale",
            200,
            None,
            Some(ua),
            Some(session),
        ));
    }
}

#[test]
fn flash_sale_crowd_is_not_bots() {
    let mut rng = Rng(6);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    let sale_start = T0 + 900.0;
    for i in 0..400u32 {
        let ip = IpAddr::from([10, 20, (i / 100) as u8, (i % 100) as u8 + 1]);
        let ua = BROWSERS[(i % 6) as usize];
        let start = sale_start + rng.range(0.0, 45.0);
        flash_refresher(&mut recs, &mut rng, ip, ua, &format!("sess-{i}"), start);
    }
    let verdicts = run(config(), recs);
    let crowd = |v: &Verdict| matches!(v.client, IpAddr::V4(a) if a.octets()[..2] == [10, 20]);
    assert!(verdicts.iter().filter(|v| crowd(v)).count() >= 400);
    let flagged = flagged_people(&verdicts, crowd);
    assert!(
        flagged.is_empty(),
        "flash-sale people flagged: {flagged:#?}"
    );
    let discounted = verdicts
        .iter()
        .filter(|v| crowd(v) && v.crowd_share > 0.5)
        .count();
    assert!(
        discounted >= 400,
        "only {discounted} crowd verdicts saw the hot path"
    );
    let flagged = flagged_people(&verdicts, in_background);
    assert!(flagged.is_empty(), "people flagged: {flagged:#?}");

    // The control: the same refreshing by one client with no crowd is a bot,
    // so it is the crowd baseline that keeps the sale's people human.
    let mut rng = Rng(7);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    let ip: IpAddr = "10.99.0.1".parse().unwrap();
    flash_refresher(&mut recs, &mut rng, ip, BROWSERS[0], "alone", sale_start);
    flash_refresher(
        &mut recs,
        &mut rng,
        ip,
        BROWSERS[0],
        "alone",
        sale_start + 60.0,
    );
    let verdicts = run(config(), recs);
    let v = of(&verdicts, EntityKind::Session, "10.99.0.1");
    assert_eq!(v.len(), 1);
    assert_ne!(v[0].class, Class::Human, "{:?}", v[0].score);
}

#[test]
fn nat_gateway_with_many_people_is_not_one_bot() {
    let mut rng = Rng(8);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 50);
    let nat: IpAddr = "100.64.0.1".parse().unwrap();
    for i in 0..150u32 {
        // Many people, few distinct browsers (an office fleet): the session
        // cookie tells them apart.
        let ua = BROWSERS[(i % 3) as usize];
        let start = T0 + rng.range(0.0, 1500.0);
        let pages = 3 + rng.below(10) as usize;
        person(
            &mut recs,
            &mut rng,
            nat,
            ua,
            Some(&format!("nat-{i}")),
            start,
            pages,
        );
    }
    // One of them runs a scanner.
    for i in 0..60 {
        let t = T0 + 700.0 + f64::from(i) * 0.5;
        recs.push(rec(
            t,
            nat,
            "GET",
            &format!("/{i}/.env"),
            404,
            None,
            Some("sqlmap/1.7.2#stable (https://sqlmap.org)"),
            None,
        ));
    }
    let verdicts = run(config(), recs);
    let ip = of(&verdicts, EntityKind::Ip, "100.64.0.1");
    assert_eq!(ip.len(), 1);
    assert_eq!(
        ip[0].class,
        Class::Human,
        "{:?} {:?}",
        ip[0].reasons,
        ip[0].score
    );
    assert!(ip[0].clients >= 100.0, "clients {}", ip[0].clients);
    // The block holds one address, judged above: it is not judged again as
    // a block (and so never flagged).
    assert!(verdicts.iter().all(|v| v.subject != "100.64.0.0/24"));
    let sessions = verdicts
        .iter()
        .filter(|v| v.entity == EntityKind::Session)
        .count();
    assert!(sessions >= 100);
    let flagged = flagged_people(&verdicts, |v| {
        v.client == nat
            && v.user_agent
                .as_deref()
                .is_none_or(|u| !u.starts_with("sqlmap"))
    });
    assert!(
        flagged.is_empty(),
        "people behind the gateway flagged: {flagged:#?}"
    );
    // The scanner behind it is caught on its own.
    let scanner = verdicts
        .iter()
        .find(|v| {
            v.entity == EntityKind::IpUa
                && v.user_agent
                    .as_deref()
                    .is_some_and(|u| u.starts_with("sqlmap"))
        })
        .unwrap();
    assert_eq!(scanner.class, Class::Attacker(AttackKind::Scanner));
}

#[test]
fn eviction_is_counted_and_still_judged() {
    let mut c = config();
    c.entities.max_entities = 50;
    let mut d = BotDetector::new(c).unwrap();
    let mut rng = Rng(9);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 100);
    for r in &sorted(recs) {
        d.observe(r);
    }
    let counters = d.counters();
    assert!(counters.entities_evicted > 0);
    assert!(counters.entities_peak <= 50);
    let mut verdicts = d.take_verdicts();
    verdicts.extend(d.finish());
    assert!(verdicts
        .iter()
        .any(|v| v.closed == vigil_weblog::detector::Close::Evicted));
}

#[test]
fn idle_windows_close_on_tick() {
    let mut d = BotDetector::new(config()).unwrap();
    let ip: IpAddr = "198.51.100.20".parse().unwrap();
    for i in 0..20 {
        d.observe(&rec(
            T0 + f64::from(i),
            ip,
            "GET",
            &format!("/p/{i}"),
            200,
            None,
            Some("curl/8.5.0"),
            None,
        ));
    }
    assert!(d.take_verdicts().is_empty());
    let later = vigil_event::Timestamp::from_nanos(((T0 + 3600.0) * 1e9) as i64);
    let verdicts = d.tick(later);
    assert!(!verdicts.is_empty());
    assert!(verdicts
        .iter()
        .all(|v| v.closed == vigil_weblog::detector::Close::Idle));
    assert_eq!(d.counters().entities_tracked, 0);
}

#[test]
fn whitelisted_and_health_checks_are_not_judged() {
    let mut c = config();
    c.whitelist.cidrs = vec!["198.51.100.0/24".into()];
    let mut d = BotDetector::new(c).unwrap();
    let ip: IpAddr = "198.51.100.20".parse().unwrap();
    let other: IpAddr = "192.0.2.9".parse().unwrap();
    for i in 0..50 {
        d.observe(&rec(
            T0 + f64::from(i),
            ip,
            "GET",
            "/x",
            200,
            None,
            Some("curl/8.5.0"),
            None,
        ));
        d.observe(&rec(
            T0 + f64::from(i),
            other,
            "GET",
            "/healthz",
            200,
            None,
            Some("curl/8.5.0"),
            None,
        ));
    }
    assert!(d.finish().is_empty());
    let c = d.counters();
    assert_eq!((c.whitelisted, c.health_checks), (50, 50));
}

/// A credential stuffer in a /24 with people: its address is caught, the
/// block is not judged (one address sent most of its requests), so a block
/// ban would not take the neighbours with it; a scraper rotating over many
/// addresses of a /24 is still judged as a block.
#[test]
fn a_block_dominated_by_one_address_is_left_to_that_address() {
    let mut rng = Rng(9);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 50);
    for i in 0..3u8 {
        let ip: IpAddr = format!("192.0.2.{}", 10 + i).parse().unwrap();
        person(
            &mut recs,
            &mut rng,
            ip,
            BROWSERS[usize::from(i) % 3],
            None,
            T0 + 100.0 * f64::from(i),
            8,
        );
    }
    let stuffer: IpAddr = "192.0.2.99".parse().unwrap();
    for i in 0..600 {
        recs.push(rec(
            T0 + 50.0 + f64::from(i),
            stuffer,
            "POST",
            "/login",
            401,
            None,
            Some("python-requests/2.31.0"),
            None,
        ));
    }
    for i in 0..240u32 {
        let ip: IpAddr = format!("198.51.100.{}", 1 + i % 24).parse().unwrap();
        recs.push(rec(
            T0 + f64::from(i) * 7.0,
            ip,
            "GET",
            &format!("/product/{i}"),
            200,
            None,
            Some(BROWSERS[(i % 3) as usize]),
            None,
        ));
    }
    let verdicts = run(config(), recs);
    let v = of(&verdicts, EntityKind::Ip, "192.0.2.99");
    assert!(matches!(v[0].class, Class::Attacker(_)), "{:?}", v[0].score);
    let block: Vec<_> = verdicts
        .iter()
        .filter(|v| v.subject == "192.0.2.0/24")
        .map(|v| (v.requests, v.class))
        .collect();
    assert!(block.is_empty(), "{block:?}");
    let rotating = verdicts
        .iter()
        .find(|v| v.subject == "198.51.100.0/24")
        .expect("the rotating block is judged");
    assert!(rotating.requests >= 200);
}
