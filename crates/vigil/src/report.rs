//! What a run tells the human on stderr: per-packet problems as they happen
//! (rate-limited per reason) and a summary at the end.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;

use vigil_event::{Body, Event, StatsRecord};

/// How many messages of one reason are printed before the rest are only counted.
const MESSAGES_PER_REASON: u64 = 10;

/// Problems with the input, printed with file and packet number.
#[derive(Debug, Default)]
pub struct Diagnostics {
    by_reason: BTreeMap<String, u64>,
    skipped: bool,
}

impl Diagnostics {
    fn print_limited(&mut self, reason: &str, message: String) {
        let seen = self.by_reason.entry(reason.to_owned()).or_default();
        *seen += 1;
        if *seen <= MESSAGES_PER_REASON {
            eprintln!("vigil: {message}");
        }
    }

    /// A file could not be opened or is not a capture.
    pub fn file_error(&mut self, file: &str, message: &str) {
        self.skipped = true;
        eprintln!("vigil: {file}: {message}");
    }

    /// A record could not be read (the message names the packet number).
    pub fn capture_error(&mut self, file: &str, message: &str) {
        self.skipped = true;
        self.print_limited("capture", format!("{file}: {message}"));
    }

    /// A packet could not be decoded.
    pub fn packet_error(&mut self, file: &str, packet: u64, reason: &str, message: &str) {
        self.skipped = true;
        self.print_limited(reason, format!("{file}: packet {packet}: {message}"));
    }

    /// After the run: how many messages were not printed, per reason.
    pub fn print_suppressed(&self) {
        for (reason, n) in &self.by_reason {
            if *n > MESSAGES_PER_REASON {
                eprintln!(
                    "vigil: {} more '{reason}' problems not shown (see the stats record)",
                    n - MESSAGES_PER_REASON
                );
            }
        }
    }

    /// True when any input was skipped.
    pub fn anything_skipped(&self) -> bool {
        self.skipped
    }
}

/// The summary's hash maps: foldhash (randomly seeded) is several times
/// faster than SipHash on addresses and names.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Counts for the end-of-run summary, gathered from the events themselves.
#[derive(Debug, Default)]
pub struct Summary {
    talkers: HashMap<IpAddr, u64>,
    transports: BTreeMap<String, u64>,
    apps: BTreeMap<String, u64>,
    records: BTreeMap<&'static str, u64>,
    dns_names: HashMap<String, u64>,
    tls_names: HashMap<String, u64>,
    http_hosts: HashMap<String, u64>,
    findings: HashMap<String, u64>,
    risk_levels: HashMap<String, u64>,
    flows: u64,
    packets: u64,
    bytes: u64,
    stats: StatsRecord,
    /// Reused to build `apps` keys.
    key: String,
}

/// Bounds on the summary's own tables (the run may see millions of names).
const MAX_TABLE: usize = 100_000;

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K, n: u64) {
    if map.len() < MAX_TABLE || map.contains_key(&key) {
        *map.entry(key).or_default() += n;
    }
}

/// [`bump`] for string keys, allocating the key only when it is new.
fn bump_str(map: &mut HashMap<String, u64>, key: &str, n: u64) {
    if let Some(v) = map.get_mut(key) {
        *v += n;
    } else if map.len() < MAX_TABLE {
        map.insert(key.to_owned(), n);
    }
}

/// Count `key` in an ordered map, allocating the key only when it is new.
fn count(map: &mut BTreeMap<String, u64>, key: &str) {
    if let Some(v) = map.get_mut(key) {
        *v += 1;
    } else {
        map.insert(key.to_owned(), 1);
    }
}

fn top<K: Clone + Ord>(map: &HashMap<K, u64>, n: usize) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = map.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

impl Summary {
    /// Count one event.
    pub fn observe(&mut self, event: &Event) {
        *self.records.entry(event.kind().name()).or_default() += 1;
        match &event.body {
            Body::Flow(f) => {
                self.flows += 1;
                self.packets += f.traffic.packets;
                self.bytes += f.traffic.bytes;
                bump(&mut self.talkers, f.src_endpoint.ip, f.traffic.bytes);
                // A host talking to itself (loopback) is one talker, counted once.
                if f.dst_endpoint.ip != f.src_endpoint.ip {
                    bump(&mut self.talkers, f.dst_endpoint.ip, f.traffic.bytes);
                }
                count(&mut self.transports, &f.connection_info.protocol_name);
                let app = f.app_name.as_deref().unwrap_or("unidentified");
                self.key.clear();
                self.key.push_str(&f.connection_info.protocol_name);
                self.key.push('/');
                self.key.push_str(app);
                count(&mut self.apps, &self.key);
            }
            Body::Dns(d) => bump_str(&mut self.dns_names, &d.query.hostname, 1),
            Body::Tls(t) => {
                if let Some(sni) = &t.tls.sni {
                    bump_str(&mut self.tls_names, sni, 1);
                }
            }
            Body::Http(h) => {
                if let Some(host) = &h.http_request.url.hostname {
                    bump_str(&mut self.http_hosts, host, 1);
                }
            }
            Body::Finding(f) if f.finding_info.analytic.uid.starts_with("risk:") => {
                bump(&mut self.risk_levels, f.finding_info.title.clone(), 1);
            }
            Body::Finding(f) => {
                let what = match &f.src_endpoint {
                    Some(src) => format!("{} (from {})", f.finding_info.title, src.ip),
                    None => f.finding_info.title.clone(),
                };
                bump(&mut self.findings, what, 1);
            }
            Body::Ssh(_) | Body::Stats(_) => {}
        }
    }

    /// Keep the run's counters for the summary.
    pub fn absorb_stats(&mut self, stats: &StatsRecord) {
        self.stats = stats.clone();
    }

    /// Packets the pipeline could not decode.
    pub fn skipped_packets(&self) -> u64 {
        self.stats
            .counters
            .get("packets")
            .map(|g| {
                g.iter()
                    .filter(|(k, _)| k.starts_with("undecodable"))
                    .map(|(_, v)| *v)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Print the summary.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let s = &self.stats;
        writeln!(out, "── vigil analyze summary ──")?;
        writeln!(
            out,
            "packets read {}   decoded {}   bytes {}   flows {}",
            s.get("packets", "total"),
            s.get("packets", "decoded"),
            s.get("bytes", "total"),
            self.flows
        )?;
        let records: Vec<String> = self
            .records
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(out, "records: {}", records.join(", "))?;
        let section =
            |out: &mut dyn Write, title: &str, rows: Vec<(String, u64)>| -> std::io::Result<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                writeln!(out, "{title}:")?;
                for (k, v) in rows {
                    writeln!(out, "  {v:>12}  {k}")?;
                }
                Ok(())
            };
        let talkers = top(&self.talkers, 10)
            .into_iter()
            .map(|(ip, b)| (ip.to_string(), b))
            .collect();
        section(out, "top talkers (bytes)", talkers)?;
        let mut apps: Vec<(String, u64)> = self.apps.iter().map(|(k, v)| (k.clone(), *v)).collect();
        apps.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        section(out, "protocols (flows)", apps)?;
        section(out, "DNS names (queries)", top(&self.dns_names, 10))?;
        section(
            out,
            "TLS server names (handshakes)",
            top(&self.tls_names, 10),
        )?;
        section(out, "HTTP hosts (requests)", top(&self.http_hosts, 10))?;
        section(out, "findings (top 10 by count)", top(&self.findings, 10))?;
        section(out, "risk levels reached", top(&self.risk_levels, 10))?;
        let evicted = s.get("flows", "evicted");
        writeln!(out, "flows evicted (table full): {evicted}")?;
        let mut problems: Vec<(String, u64)> = Vec::new();
        for (group, counters) in &s.counters {
            for (name, v) in counters {
                let interesting = (group == "packets" && name.starts_with("undecodable"))
                    || group == "capture"
                    || (group == "reassembly" && (name == "gaps" || name == "ooo_dropped"))
                    || group == "memory"
                    || name.ends_with("mismatch");
                if interesting && *v > 0 {
                    problems.push((format!("{group}.{name}"), *v));
                }
            }
        }
        if problems.is_empty() {
            writeln!(out, "nothing skipped: every packet was read and decoded")?;
        } else {
            section(
                out,
                "not decoded or incomplete (see the stats record)",
                problems,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::{ConnectionInfo, Endpoint, FlowRecord, Timestamp, Traffic};

    fn flow(src: &str, dst: &str, bytes: u64, app: Option<&str>) -> Event {
        Event::new(
            Timestamp::from_nanos(0),
            Body::Flow(FlowRecord {
                src_endpoint: Endpoint::new(src.parse().unwrap(), 1000),
                dst_endpoint: Endpoint::new(dst.parse().unwrap(), 80),
                connection_info: ConnectionInfo::tcp("F1", "1:x"),
                traffic: Traffic {
                    bytes,
                    packets: 2,
                    ..Traffic::default()
                },
                start_time: 0,
                end_time: 0,
                duration: 0,
                duration_us: 0,
                app_name: app.map(str::to_owned),
                conn_state: None,
                history: None,
                end_reason: "closed".into(),
                reassembly: None,
                icmp: None,
            }),
        )
    }

    #[test]
    fn talkers_count_each_host_once_per_flow() {
        let mut summary = Summary::default();
        summary.observe(&flow("127.0.0.1", "127.0.0.1", 100, Some("http")));
        summary.observe(&flow("10.0.0.1", "10.0.0.2", 50, None));
        summary.observe(&flow("10.0.0.1", "10.0.0.3", 70, None));
        let top = top(&summary.talkers, 10);
        assert_eq!(top[0], ("10.0.0.1".parse().unwrap(), 120));
        assert_eq!(top[1], ("127.0.0.1".parse().unwrap(), 100));
        let mut text = Vec::new();
        summary.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("tcp/http"), "{text}");
        assert!(text.contains("tcp/unidentified"), "{text}");
    }

    #[test]
    fn summary_lists_skipped_packets_by_reason() {
        let mut summary = Summary::default();
        let mut stats = StatsRecord::default();
        stats.add("packets", "total", 10);
        stats.add("packets", "undecodable.truncated_ipv4", 3);
        summary.absorb_stats(&stats);
        assert_eq!(summary.skipped_packets(), 3);
        let mut text = Vec::new();
        summary.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("packets.undecodable.truncated_ipv4"),
            "{text}"
        );
        assert!(!text.contains("nothing skipped"), "{text}");
    }
}
