//! The attack lab: a small network inside the test's namespace, real attack
//! tools run against real servers in it, and what `vigil analyze --out DIR`
//! found in the capture.
//!
//! The namespace has only a loopback; the roles get their own addresses on
//! it ([`add_addresses`]), so every packet on the capture says who did what:
//! an organisation's server ([`SERVER`]: nginx, sshd, dnsmasq) and an
//! internal host ([`INSIDER`]) in 10.0.0.0/8 (inside any default
//! `$HOME_NET`), an outside attacker ([`ATTACKER`]) and a command-and-control
//! server ([`C2`]) in TEST-NET-2. Clients bind to their role's address
//! (`curl --interface`, `nmap -S`, `hping3 -a`, `ssh -b`, `dig -b`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vigil_event::{Body, Event, Finding, FlowRecord};

use super::lab::Lab;
use super::tshark::Query;
use super::vigil::parse_lines;

/// The organisation's server: nginx (HTTP 8080), sshd (22), dnsmasq (53).
pub const SERVER: &str = "10.20.0.10";
/// An internal workstation (the beaconing, tunnelling host).
pub const INSIDER: &str = "10.20.0.20";
/// The outside attacker (scans, floods, web attacks, brute force).
pub const ATTACKER: &str = "198.51.100.66";
/// The command-and-control server the insider beacons to (nginx 8080).
pub const C2: &str = "198.51.100.80";

/// Add `addrs` (/32 each) to the lab's loopback.
pub fn add_addresses(lab: &Lab, addrs: &[&str]) {
    for addr in addrs {
        let out = Command::new("ip")
            .args(["-n", lab.ns().name(), "addr", "add"])
            .arg(format!("{addr}/32"))
            .args(["dev", "lo"])
            .output()
            .expect("run ip addr add");
        assert!(
            out.status.success(),
            "ip addr add {addr} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Run `program` in the lab's namespace with extra environment variables,
/// at most `secs` seconds; its output.
pub fn run_env(lab: &Lab, secs: u32, env: &[(&str, &str)], program: &str, args: &[&str]) -> Output {
    let mut cmd = lab.ns().command("timeout");
    cmd.arg(secs.to_string()).arg(program).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// The IP text as an address (the constants above).
pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("a literal address")
}

/// What `vigil analyze CAPTURE --out DIR` wrote.
#[derive(Debug)]
pub struct Detections {
    /// The `--out` directory.
    pub dir: PathBuf,
    /// Every finding event (finding.jsonl), in order.
    pub events: Vec<Event>,
    /// Every flow record (flow.jsonl).
    pub flows: Vec<FlowRecord>,
    /// `vigil analyze`'s stderr (its summary).
    pub stderr: String,
}

/// Run `vigil analyze CAPTURE --out <lab dir>/vigil-out` and read back the
/// findings and flows; panics unless it exits 0.
pub fn detect(lab: &Lab, pcap: &Path) -> Detections {
    let dir = lab.dir().join("vigil-out");
    let out = assert_cmd::Command::cargo_bin("vigil")
        .expect("the vigil binary is built")
        .arg("analyze")
        .arg(pcap)
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("run vigil analyze");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "vigil analyze {} --out {} exited with {}:\n{stderr}",
        pcap.display(),
        dir.display(),
        out.status
    );
    let read = |name: &str| -> Vec<Event> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_lines(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        }
    };
    let events = read("finding.jsonl");
    let flows = read("flow.jsonl")
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Flow(f) => Some(f),
            _ => None,
        })
        .collect();
    Detections {
        dir,
        events,
        flows,
        stderr,
    }
}

impl Detections {
    /// Every finding.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.events.iter().filter_map(|e| match &e.body {
            Body::Finding(f) => Some(f),
            _ => None,
        })
    }

    /// One line per finding (analytic, title, subject, endpoints, flow), for
    /// failure messages.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        for (e, f) in self.events.iter().filter_map(|e| match &e.body {
            Body::Finding(f) => Some((e, f)),
            _ => None,
        }) {
            let _ = writeln!(
                text,
                "  [{}] {} {:?} subject={}:{} src={} dst={} flow={} rule={} pcap={}",
                e.severity,
                f.finding_info.analytic.uid,
                f.finding_info.title,
                f.subject.kind,
                f.subject.value,
                endpoint_text(f.src_endpoint.as_ref()),
                endpoint_text(f.dst_endpoint.as_ref()),
                f.connection_info
                    .as_ref()
                    .map(|c| format!("{}/{}", c.uid, c.community_uid))
                    .unwrap_or_else(|| "-".into()),
                f.rule
                    .as_ref()
                    .map(|r| format!("{}:{}", r.sid, r.msg))
                    .unwrap_or_else(|| "-".into()),
                f.incident_pcap.as_deref().unwrap_or("-"),
            );
        }
        if text.is_empty() {
            text.push_str("  (none)\n");
        }
        text
    }

    /// The findings of the flow anomaly detector `detector` (analytic uid
    /// `anomaly:<detector>`).
    pub fn anomalies<'a>(&'a self, detector: &str) -> Vec<&'a Finding> {
        let uid = format!("anomaly:{detector}");
        self.findings()
            .filter(|f| f.finding_info.analytic.uid == uid)
            .collect()
    }

    /// The findings of `detector` that pass `check`; panics, naming `what`
    /// and listing every finding, when there is none. When `vigil analyze`
    /// wrote no anomaly finding at all, the message says the detectors are
    /// likely not wired in yet.
    pub fn expect_anomaly<'a>(
        &'a self,
        what: &str,
        detector: &str,
        check: impl Fn(&Finding) -> Result<(), String>,
    ) -> Vec<&'a Finding> {
        let mut why = Vec::new();
        let good: Vec<&Finding> = self
            .anomalies(detector)
            .into_iter()
            .filter(|f| check(f).map_err(|e| why.push(e)).is_ok())
            .collect();
        if good.is_empty() {
            let any_anomaly = self
                .findings()
                .any(|f| f.finding_info.analytic.uid.starts_with("anomaly:"));
            let hint = if any_anomaly {
                String::new()
            } else {
                "no `anomaly:` finding at all: are the flow anomaly detectors \
                 (vigil-anomaly) wired into `vigil analyze` yet?\n"
                    .to_owned()
            };
            panic!(
                "{what}: no `anomaly:{detector}` finding with the right hosts.\n{hint}\
                 rejected: {why:?}\nfindings:\n{}vigil stderr:\n{}",
                self.describe(),
                self.stderr
            );
        }
        good
    }

    /// The flow record of the TCP/UDP connection from `src`:`sport` to
    /// `dst`:`dport`; panics when there is none or more than one.
    pub fn flow(&self, src: &str, sport: u16, dst: &str, dport: u16) -> &FlowRecord {
        let found: Vec<&FlowRecord> = self
            .flows
            .iter()
            .filter(|f| {
                f.src_endpoint.ip == ip(src)
                    && f.src_endpoint.port == Some(sport)
                    && f.dst_endpoint.ip == ip(dst)
                    && f.dst_endpoint.port == Some(dport)
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one flow record for {src}:{sport} -> {dst}:{dport}, found {found:?}"
        );
        found[0]
    }

    /// The signature findings on the flow with uid `flow_uid`.
    pub fn signatures_on(&self, flow_uid: &str) -> Vec<&Finding> {
        self.findings()
            .filter(|f| f.finding_info.analytic.uid.starts_with("sig:"))
            .filter(|f| {
                f.connection_info
                    .as_ref()
                    .is_some_and(|c| c.uid == flow_uid)
            })
            .collect()
    }

    /// Where the incident pcap a finding names is: as written when the path
    /// exists, else under `DIR/incidents/`, else under `DIR`.
    pub fn incident_path(&self, name: &str) -> PathBuf {
        let direct = PathBuf::from(name);
        if direct.is_file() {
            return direct;
        }
        let under = self.dir.join("incidents").join(name);
        if under.is_file() {
            return under;
        }
        self.dir.join(name)
    }
}

/// `ip:port`, `ip`, or `-`.
pub fn endpoint_text(e: Option<&vigil_event::Endpoint>) -> String {
    match e {
        Some(e) => match e.port {
            Some(p) => format!("{}:{p}", e.ip),
            None => e.ip.to_string(),
        },
        None => "-".to_owned(),
    }
}

/// Whether the finding names `host` as its subject or its destination.
pub fn targets(f: &Finding, host: &str) -> bool {
    f.subject.value == host || f.dst_endpoint.as_ref().is_some_and(|d| d.ip == ip(host))
}

/// Whether the finding's source is `host`.
pub fn from(f: &Finding, host: &str) -> bool {
    f.src_endpoint.as_ref().is_some_and(|s| s.ip == ip(host))
}

/// One rule of `rules/vigil-web.rules`, as far as the tests need it.
#[derive(Debug, Clone)]
pub struct RuleLine {
    /// `sid`.
    pub sid: u32,
    /// `msg`.
    pub msg: String,
    /// `classtype`, when given.
    pub classtype: Option<String>,
}

/// The default ruleset's file, once it exists in the repository.
pub fn default_rules_path() -> PathBuf {
    vigil_testkit::repo_root().join("rules/vigil-web.rules")
}

/// The active rules of `rules/vigil-web.rules` by sid, or `None` while the
/// file does not exist. Reads only `msg`, `sid` and `classtype`: enough to
/// say which rule a finding must name.
pub fn default_rules() -> Option<BTreeMap<u32, RuleLine>> {
    let text = std::fs::read_to_string(default_rules_path()).ok()?;
    Some(parse_rules(&text))
}

/// The rules of a rules file's text by sid (lines without a sid skipped).
pub fn parse_rules(text: &str) -> BTreeMap<u32, RuleLine> {
    let mut rules = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let options = rule_options(line);
        let get = |name: &str| {
            options
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let Some(sid) = get("sid").and_then(|s| s.parse().ok()) else {
            continue;
        };
        rules.insert(
            sid,
            RuleLine {
                sid,
                msg: get("msg").unwrap_or_default(),
                classtype: get("classtype"),
            },
        );
    }
    rules
}

/// The `name:value` options between a rule's parentheses, quotes removed;
/// `;` inside quotes or after a backslash does not end an option.
fn rule_options(line: &str) -> Vec<(String, String)> {
    let (Some(open), Some(close)) = (line.find('('), line.rfind(')')) else {
        return Vec::new();
    };
    let body = line.get(open + 1..close).unwrap_or("");
    let mut options = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in body.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                let (k, v) = current.split_once(':').unwrap_or((&current, ""));
                options.push((k.trim().to_owned(), v.trim().to_owned()));
                current.clear();
            }
            _ => current.push(c),
        }
    }
    options
}

/// Frames of `pcap` matching the display filter `filter`, one row of
/// `fields` each.
pub fn tshark_rows(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    Query {
        file: pcap,
        filter: Some(filter),
        fields,
        extra: &[],
    }
    .rows()
    .into_iter()
    .map(|r| (0..fields.len()).map(|i| r.first(i).to_owned()).collect())
    .collect()
}

/// tshark's Community ID (v1, base64, seed 0) of each frame matching
/// `filter`; its dissector is off by default.
pub fn tshark_community_ids(pcap: &Path, filter: &str) -> Vec<String> {
    Query {
        file: pcap,
        filter: Some(filter),
        fields: &["communityid"],
        extra: &["--enable-protocol", "communityid"],
    }
    .rows()
    .iter()
    .map(|r| r.first(0).to_owned())
    .collect()
}

/// Number of frames of `pcap` matching `filter`.
pub fn tshark_count(pcap: &Path, filter: &str) -> usize {
    tshark_rows(pcap, filter, &["frame.number"]).len()
}

/// A deterministic pseudo-random generator (xorshift64*), seeded by the
/// caller: tunnel names need to look random, not be unpredictable.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced by a constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `n` characters of the RFC 4648 base32 alphabet, lower case (as DNS
    /// tunnelling tools such as iodine and dnscat2 encode data in labels).
    pub fn base32(&mut self, n: usize) -> String {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        (0..n)
            .map(|_| char::from(ALPHABET[(self.next_u64() % 32) as usize]))
            .collect()
    }
}
