//! Web access and WAF logs in `vigil analyze`: every input that is not a
//! capture (by its magic bytes) is read as a log.
//!
//! Per file: the format is detected from the first lines (or the one given
//! with `--log-format`/`--log-format-kind` is tried first) and named on
//! stderr with the evidence (`access.log: nginx combined: 20 of 20 sample
//! lines parsed`); `.gz` files are decompressed and `-` is standard input
//! (`vigil_weblog::source`). Every record goes through ONE
//! [`BotDetector`] for the whole run, in the order read; each verdict that
//! is not "human" is written as a Detection Finding (`bot:<class>`), and
//! with `--emit-http` each record as an HTTP Activity event. Lines that do
//! not parse are counted, the first few printed with file, line and
//! reason, and the rest of the file is read.
//!
//! Crawler verification by reverse DNS must not stall an offline run: the
//! per-query timeout is short (`bots.whitelist.rdns.timeout_ms`, 500 ms by
//! default, `--rdns-timeout-ms`), and after [`MAX_DNS_FAILURES`]
//! consecutive failed exchanges the resolver is given up for the run (the
//! remaining claims stay "unverified", and the report says so);
//! `--no-rdns` turns lookups off, `--rdns-resolver` picks the server.
//!
//! The end-of-run bot report ([`WebLogs::print_report`]) gives the verdicts
//! per class and entity kind, the top suspects each with its strongest
//! features (value, weight, contribution), and the verified good bots.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vigil_event::{Event, StatsRecord, Timestamp};
use vigil_weblog::entity::EntityKind;
use vigil_weblog::source::{self, ReadStats};
use vigil_weblog::whitelist::{DnsError, GoodBots, Resolve, UdpResolver, Verifier};
use vigil_weblog::{
    AccessRecord, BotDetector, Class, DetectorConfig, FormatConfig, LogReader, Parser, Verdict,
};

/// Consecutive failed DNS exchanges after which the resolver is given up.
pub const MAX_DNS_FAILURES: u64 = 3;

/// Events handed on at once while reading a log.
const BATCH: usize = 512;

/// Suspects kept for the report (the best `--top` of them are printed).
const SUSPECT_POOL: usize = 256;

/// Distinct addresses counted per good bot in the report.
const MAX_BOT_ADDRESSES: usize = 10_000;

/// Options of `vigil analyze` for web logs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Web logs (inputs that are not captures)")]
pub struct WeblogArgs {
    /// The log's format: nginx `log_format` text (the directive or only its
    /// format string), an Apache `LogFormat` string with
    /// `--log-format-kind apache`, or a JSON key mapping with
    /// `--log-format-kind json`. Tried before the built-in formats; by
    /// default the format is detected from the first lines.
    #[arg(long, value_name = "TEXT")]
    pub log_format: Option<String>,
    /// A logged variable that holds the request time (nginx name without
    /// `$`, e.g. `http_x_vigil_time`), for a format whose time is logged
    /// from a header instead of `$time_local`: `10/Oct/2000:13:55:36
    /// -0700`, RFC 3339, or epoch seconds. Records whose value does not
    /// parse keep the format's own time and are counted.
    #[arg(long, value_name = "NAME")]
    pub log_time_field: Option<String>,
    /// What --log-format is (default nginx); alone, it names the format.
    #[arg(long, value_enum, value_name = "KIND")]
    pub log_format_kind: Option<LogKind>,
    /// The bot detector's configuration from a TOML file of its own: the
    /// keys of the `[bots]` table of --detection-config, without the prefix
    /// (`[window]`, `[model]`, ...); replaces that table.
    #[arg(long, value_name = "FILE")]
    pub bots_config: Option<PathBuf>,
    /// Do not verify claimed crawlers by reverse DNS (their published
    /// address ranges are still checked; other claims stay unverified).
    #[arg(long)]
    pub no_rdns: bool,
    /// DNS server for crawler verification (default: the first nameserver
    /// of /etc/resolv.conf).
    #[arg(long, value_name = "IP:PORT", conflicts_with = "no_rdns")]
    pub rdns_resolver: Option<SocketAddr>,
    /// Per-query DNS timeout in milliseconds (overrides the config's
    /// bots.whitelist.rdns.timeout_ms, default 500).
    #[arg(long, value_name = "MS", conflicts_with = "no_rdns")]
    pub rdns_timeout_ms: Option<u64>,
    /// A logged variable that carries the session key, e.g. `cookie_sid`
    /// (repeatable; tried before the configured ones).
    #[arg(long = "session-field", value_name = "NAME")]
    pub session_fields: Vec<String>,
    /// Also write every log record as an HTTP Activity event (http.jsonl
    /// with --out); by default only the bot findings are written.
    #[arg(long)]
    pub emit_http: bool,
    /// Suspects listed in the bot report.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
}

/// `--log-format-kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogKind {
    /// nginx `log_format`.
    Nginx,
    /// Apache `LogFormat`.
    Apache,
    /// One JSON object per line.
    Json,
    /// ModSecurity v3 / Coraza JSON audit log.
    Modsecurity,
}

impl WeblogArgs {
    /// The configured parser, if any.
    pub fn parser(&self) -> anyhow::Result<Option<Parser>> {
        let config = match (self.log_format_kind, &self.log_format) {
            (None, None) => return Ok(None),
            (None | Some(LogKind::Nginx), text) => FormatConfig::Nginx {
                log_format: text.clone(),
            },
            (Some(LogKind::Apache), Some(text)) => FormatConfig::Apache {
                log_format: text.clone(),
            },
            (Some(LogKind::Apache), None) => FormatConfig::Apache {
                log_format: "combined".into(),
            },
            (Some(LogKind::Json), None) => FormatConfig::Json {
                mapping: Box::default(),
            },
            (Some(LogKind::Json), Some(text)) => FormatConfig::Json {
                mapping: Box::new(
                    serde_json::from_str(text)
                        .context("--log-format for json must be a JSON key mapping")?,
                ),
            },
            (Some(LogKind::Modsecurity), None) => FormatConfig::Modsecurity,
            (Some(LogKind::Modsecurity), Some(_)) => {
                anyhow::bail!("--log-format does not apply to modsecurity audit logs")
            }
        };
        Ok(Some(config.build().context("invalid --log-format")?))
    }

    /// The detector config of the run: `[bots]` of the detection config,
    /// or --bots-config, then the command-line options.
    pub fn detector_config(
        &self,
        from_detection: &DetectorConfig,
    ) -> anyhow::Result<DetectorConfig> {
        let mut config = match &self.bots_config {
            Some(path) => crate::config::load_bots(path)?,
            None => from_detection.clone(),
        };
        let rdns = &mut config.whitelist.rdns;
        if self.no_rdns {
            rdns.enabled = false;
        }
        if let Some(server) = self.rdns_resolver {
            rdns.resolver = Some(server);
        }
        if let Some(ms) = self.rdns_timeout_ms {
            anyhow::ensure!(ms > 0, "--rdns-timeout-ms must be at least 1");
            rdns.timeout_ms = ms;
        }
        let mut fields = self.session_fields.clone();
        fields.extend(
            std::mem::take(&mut config.entities.session_fields)
                .into_iter()
                .filter(|f| !self.session_fields.contains(f)),
        );
        config.entities.session_fields = fields;
        Ok(config)
    }
}

/// Whether `path` is read as a web log: `-`, or a file that does not start
/// with a pcap or pcapng magic number. A file that cannot be read is left
/// to the capture path, which reports it.
pub fn is_log(path: &Path) -> bool {
    if path.as_os_str() == "-" {
        return true;
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| {
        let mut n = 0;
        while n < magic.len() {
            match std::io::Read::read(&mut f, magic.get_mut(n..).unwrap_or_default())? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    });
    match read {
        Ok(n) => !(n == 4 && is_capture_magic(magic)),
        Err(_) => false,
    }
}

/// pcap (both byte orders, micro- and nanosecond) and pcapng.
fn is_capture_magic(m: [u8; 4]) -> bool {
    matches!(
        m,
        [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0x0a, 0x0d, 0x0d, 0x0a]
    )
}

/// Shared state of the [`Breaker`] resolver, read by the report.
#[derive(Debug, Default)]
struct DnsHealth {
    failures: AtomicU64,
    consecutive: AtomicU64,
    gave_up: AtomicBool,
}

/// A resolver that stops asking after [`MAX_DNS_FAILURES`] consecutive
/// failed exchanges (an unreachable or broken server), so a run never waits
/// a timeout per claimed crawler.
#[derive(Debug)]
struct Breaker {
    inner: UdpResolver,
    server: SocketAddr,
    health: Arc<DnsHealth>,
}

impl Breaker {
    fn guard<T>(
        &mut self,
        f: impl FnOnce(&mut UdpResolver) -> Result<T, DnsError>,
    ) -> Result<T, DnsError> {
        if self.health.gave_up.load(Ordering::Relaxed) {
            return Err(DnsError::Io {
                server: self.server,
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("resolver given up after {MAX_DNS_FAILURES} failed queries"),
                ),
            });
        }
        let result = f(&mut self.inner);
        match &result {
            Err(DnsError::Io { .. }) => {
                self.health.failures.fetch_add(1, Ordering::Relaxed);
                let n = self.health.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= MAX_DNS_FAILURES {
                    self.health.gave_up.store(true, Ordering::Relaxed);
                    tracing::warn!(server = %self.server, failures = n, "giving up reverse-DNS verification for this run");
                }
            }
            _ => self.health.consecutive.store(0, Ordering::Relaxed),
        }
        result
    }
}

impl Resolve for Breaker {
    fn ptr(&mut self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        self.guard(|r| r.ptr(ip))
    }

    fn addrs(&mut self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsError> {
        self.guard(|r| r.addrs(name, v6))
    }
}

/// One log file's outcome.
#[derive(Debug)]
struct FileReport {
    name: String,
    format: String,
    stats: ReadStats,
}

/// A suspect kept for the report.
#[derive(Debug, Clone)]
struct Suspect {
    key: String,
    score: f64,
    verdict: Verdict,
}

/// Verified good bots, per bot.
#[derive(Debug, Default)]
struct GoodBotTally {
    addresses: HashSet<IpAddr>,
    requests_ip: u64,
    requests_ip_ua: u64,
}

/// The web-log side of one `vigil analyze` run.
pub struct WebLogs {
    detector: BotDetector,
    configured: Option<Parser>,
    time_field: Option<String>,
    bad_times: u64,
    /// Make HTTP events (for `--emit-http`, or for the rules to see).
    http_events: bool,
    quiet: bool,
    top: usize,
    max_entities: usize,
    dns: Option<(SocketAddr, Arc<DnsHealth>)>,
    rdns_note: Option<String>,
    files: Vec<FileReport>,
    /// Verdicts per class (rows) and entity kind (columns).
    verdicts: BTreeMap<&'static str, [u64; 4]>,
    suspects: Vec<Suspect>,
    good: BTreeMap<String, GoodBotTally>,
    events: Vec<Event>,
    record: AccessRecord,
    last_ts: Timestamp,
    findings: u64,
    /// Measured before the table is drained at the end.
    bytes_per_entity: usize,
}

const CLASS_ROWS: [&str; 6] = [
    "human",
    "good_bot",
    "scraper",
    "scanner",
    "credential_stuffing",
    "unknown",
];

fn kind_slot(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Ip => 0,
        EntityKind::IpUa => 1,
        EntityKind::Session => 2,
        EntityKind::Prefix => 3,
    }
}

impl WebLogs {
    /// Make an HTTP Activity event of every record, for the rules, even
    /// without `--emit-http` (the caller drops them after the rules).
    pub fn make_http_events(&mut self) {
        self.http_events = true;
    }

    /// Build the detector from `config` (see [`WeblogArgs::detector_config`]).
    pub fn new(args: &WeblogArgs, config: DetectorConfig, quiet: bool) -> anyhow::Result<Self> {
        let good = if config.whitelist.builtin_good_bots {
            GoodBots::builtin().context("cannot load the built-in good-bot list")?
        } else {
            GoodBots::empty()
        };
        let rdns = &config.whitelist.rdns;
        let timeout = Duration::from_millis(rdns.timeout_ms.max(1));
        let mut dns = None;
        let mut rdns_note = None;
        let verifier = if !rdns.enabled {
            rdns_note = Some("reverse-DNS verification off".to_owned());
            Verifier::with_resolver(None, "reverse-DNS verification is off".into(), rdns)
        } else {
            let resolver = match rdns.resolver {
                Some(server) => Ok(UdpResolver::new(server, timeout)),
                None => UdpResolver::system(timeout),
            };
            match resolver {
                Ok(inner) => {
                    let server = inner.server();
                    let health = Arc::new(DnsHealth::default());
                    dns = Some((server, Arc::clone(&health)));
                    let breaker = Breaker {
                        inner,
                        server,
                        health,
                    };
                    Verifier::with_resolver(Some(Box::new(breaker)), String::new(), rdns)
                }
                Err(error) => {
                    rdns_note = Some(format!("reverse-DNS verification unavailable: {error}"));
                    Verifier::with_resolver(None, error.to_string(), rdns)
                }
            }
        };
        let max_entities = config.entities.max_entities;
        let detector = BotDetector::with_parts(config, good, verifier)
            .context("cannot build the bot detector")?;
        Ok(Self {
            detector,
            configured: args.parser()?,
            time_field: args
                .log_time_field
                .as_deref()
                .map(|f| f.trim_start_matches('$').to_owned()),
            bad_times: 0,
            http_events: args.emit_http,
            quiet,
            top: args.top,
            max_entities,
            dns,
            rdns_note,
            files: Vec::new(),
            verdicts: BTreeMap::new(),
            suspects: Vec::new(),
            good: BTreeMap::new(),
            events: Vec::with_capacity(BATCH),
            record: AccessRecord::default(),
            last_ts: Timestamp::default(),
            findings: 0,
            bytes_per_entity: 0,
        })
    }

    /// Read one log (`-` is standard input) through the detector; events go
    /// to `out` in batches. A file that cannot be opened or whose format
    /// cannot be detected is reported and skipped (`false`); a read error
    /// part-way is reported and ends that file.
    pub fn read(
        &mut self,
        path: &Path,
        out: &mut dyn FnMut(&mut Vec<Event>) -> anyhow::Result<()>,
    ) -> anyhow::Result<bool> {
        let name = path.display().to_string();
        let input: Box<dyn BufRead + Send> = match source::open(path) {
            Ok(input) => input,
            Err(error) => {
                eprintln!("vigil: {error}");
                return Ok(false);
            }
        };
        let (mut reader, detection) =
            match LogReader::detect(name.clone(), input, self.configured.clone()) {
                Ok(found) => found,
                Err(error) => {
                    eprintln!("vigil: {error}");
                    return Ok(false);
                }
            };
        if !self.quiet {
            eprintln!("{name}: {}", detection.reason);
        }
        let log_name = self.http_events.then(|| name.clone());
        let mut complete = true;
        loop {
            match reader.next_into(&mut self.record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    eprintln!("vigil: {error}");
                    complete = false;
                    break;
                }
            }
            if let Some(field) = &self.time_field {
                match self.record.field(field).and_then(parse_time) {
                    Some(t) => self.record.time = t,
                    None => self.bad_times += 1,
                }
            }
            self.detector.observe(&self.record);
            self.last_ts = self.last_ts.max(self.record.time);
            if let Some(log_name) = &log_name {
                self.events.push(vigil_weblog::ocsf::to_event(
                    &self.record,
                    Some(log_name),
                    Some(reader.last_line()),
                ));
            }
            let verdicts = self.detector.take_verdicts();
            if !verdicts.is_empty() {
                self.take(verdicts);
            }
            if self.events.len() >= BATCH {
                out(&mut self.events)?;
            }
        }
        out(&mut self.events)?;
        let stats = reader.stats().clone();
        for bad in &stats.samples {
            // Quoted and escaped: a garbage line may hold control bytes.
            eprintln!("vigil: {bad}: {:?}", bad.text);
        }
        let shown = stats.samples.len() as u64;
        if stats.bad > shown {
            eprintln!(
                "vigil: {name}: {} more lines not parsed (not shown)",
                stats.bad - shown
            );
        }
        self.files.push(FileReport {
            name,
            format: detection.reason,
            stats,
        });
        Ok(complete)
    }

    /// End of input: close every window and hand on the last findings.
    pub fn finish(
        &mut self,
        out: &mut dyn FnMut(&mut Vec<Event>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.bytes_per_entity = self.detector.bytes_per_entity();
        let verdicts = self.detector.finish();
        self.take(verdicts);
        out(&mut self.events)
    }

    /// Logs read (opened and their format detected).
    pub fn files_read(&self) -> usize {
        self.files.len()
    }

    /// Whether any log was read.
    pub fn any(&self) -> bool {
        !self.files.is_empty()
    }

    /// Latest record time seen.
    pub fn last_time(&self) -> Timestamp {
        self.last_ts
    }

    /// Lines that did not parse, over all files.
    pub fn bad_lines(&self) -> u64 {
        self.files.iter().map(|f| f.stats.bad).sum()
    }

    fn take(&mut self, verdicts: Vec<Verdict>) {
        for v in verdicts {
            if let Some(row) = self.verdicts.get_mut(v.class.name()) {
                if let Some(n) = row.get_mut(kind_slot(v.entity)) {
                    *n += 1;
                }
            } else {
                let mut row = [0u64; 4];
                if let Some(n) = row.get_mut(kind_slot(v.entity)) {
                    *n = 1;
                }
                self.verdicts.insert(v.class.name(), row);
            }
            if let Some(event) = v.to_finding() {
                self.findings += 1;
                self.events.push(event);
            }
            match v.class {
                Class::Human => {}
                Class::GoodBot => self.tally_good_bot(&v),
                _ => self.suspect(v),
            }
        }
    }

    fn tally_good_bot(&mut self, v: &Verdict) {
        let name = v.claimed_bot.clone().unwrap_or_else(|| "good bot".into());
        let tally = self.good.entry(name).or_default();
        if tally.addresses.len() < MAX_BOT_ADDRESSES {
            tally.addresses.insert(v.client);
        }
        match v.entity {
            EntityKind::Ip => tally.requests_ip += u64::from(v.requests),
            EntityKind::IpUa => tally.requests_ip_ua += u64::from(v.requests),
            _ => {}
        }
    }

    /// Keep the best verdict per client address (a block's verdict counts
    /// for its latest client) in a bounded pool.
    fn suspect(&mut self, v: Verdict) {
        // One line per client: its address, user-agent, session and block
        // verdicts usually say the same; the strongest is shown.
        let key = v.client.to_string();
        let score = 1.0 - v.score.probabilities[0];
        let better = |a: &Suspect, score: f64, requests: u32| {
            (score, requests) > (a.score, a.verdict.requests)
        };
        if let Some(s) = self.suspects.iter_mut().find(|s| s.key == key) {
            if better(s, score, v.requests) {
                *s = Suspect {
                    key,
                    score,
                    verdict: v,
                };
            }
            return;
        }
        if self.suspects.len() < SUSPECT_POOL {
            self.suspects.push(Suspect {
                key,
                score,
                verdict: v,
            });
            return;
        }
        let worst = self.suspects.iter_mut().min_by(|a, b| {
            (a.score, a.verdict.requests)
                .partial_cmp(&(b.score, b.verdict.requests))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        if let Some(w) = worst {
            if better(w, score, v.requests) {
                *w = Suspect {
                    key,
                    score,
                    verdict: v,
                };
            }
        }
    }

    /// Add the run's counters to the stats record (groups `weblog`, `bots`).
    pub fn add_stats(&self, stats: &mut StatsRecord) {
        let mut put = |group: &str, name: &str, n: u64| {
            if n > 0 {
                stats.add(group, name, n);
            }
        };
        for f in &self.files {
            put("weblog", "lines", f.stats.lines);
            put("weblog", "records", f.stats.records);
            put("weblog", "bad_lines", f.stats.bad);
        }
        put("weblog", "files", self.files.len() as u64);
        put("weblog", "bad_time_field", self.bad_times);
        let c = self.detector.counters();
        for (name, n) in CLASS_ROWS.iter().zip(c.verdicts) {
            put("bots", &format!("verdicts.{name}"), n);
        }
        put("bots", "findings", self.findings);
        put("bots", "whitelisted_records", c.whitelisted);
        put("bots", "health_checks", c.health_checks);
        put("bots", "windows_closed", c.windows_closed);
        put("bots", "windows_below_min", c.windows_below_min);
        put("bots", "blocks_single_address", c.blocks_single_address);
        put("bots", "entities_peak", c.entities_peak);
        put("bots", "entities_evicted", c.entities_evicted);
        put("bots", "entity_limit", self.max_entities as u64);
        put("bots", "bytes_per_entity", self.bytes_per_entity as u64);
        put("bots", "ua_cache_clears", c.ua_cache_clears);
        put("bots", "hot_path_evictions", c.hot_path_evictions);
        put("bots", "rdns_lookups", c.rdns_lookups);
        if let Some((_, health)) = &self.dns {
            put(
                "bots",
                "rdns_failures",
                health.failures.load(Ordering::Relaxed),
            );
        }
    }

    /// The web-log summary and bot report (stderr at the end of a run).
    pub fn print_report(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "── vigil analyze: web logs ──")?;
        for f in &self.files {
            writeln!(
                out,
                "{}: {}; {} lines, {} records, {} not parsed",
                f.name, f.format, f.stats.lines, f.stats.records, f.stats.bad
            )?;
        }
        if let (Some(field), true) = (&self.time_field, self.bad_times > 0) {
            writeln!(
                out,
                "{} records had no usable ${field} time; they kept the format's own",
                self.bad_times
            )?;
        }
        let c = self.detector.counters();
        writeln!(
            out,
            "entities: peak {} tracked (limit {}), {} evicted, about {} bytes each",
            c.entities_peak, self.max_entities, c.entities_evicted, self.bytes_per_entity
        )?;
        if c.whitelisted + c.health_checks > 0 {
            writeln!(
                out,
                "not judged: {} records from allow-listed blocks, {} health checks",
                c.whitelisted, c.health_checks
            )?;
        }
        writeln!(out, "verdicts            ip  ip+ua  session  block")?;
        for name in CLASS_ROWS {
            if let Some(row) = self.verdicts.get(name) {
                writeln!(
                    out,
                    "  {name:<19} {:>5} {:>6} {:>8} {:>6}",
                    row[0], row[1], row[2], row[3]
                )?;
            }
        }
        let mut suspects: Vec<&Suspect> = self.suspects.iter().collect();
        suspects.sort_by(|a, b| {
            (b.score, b.verdict.requests)
                .partial_cmp(&(a.score, a.verdict.requests))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.key.cmp(&b.key))
        });
        suspects.truncate(self.top);
        if suspects.is_empty() {
            writeln!(out, "no suspects: every judged client looks human")?;
        } else {
            writeln!(out, "top suspects (score = 1 − P(human)):")?;
        }
        for (i, s) in suspects.iter().enumerate() {
            let v = &s.verdict;
            writeln!(
                out,
                "  {:>2}. {}  {}  score {:.2}  {} requests",
                i + 1,
                v.subject,
                v.class.name(),
                s.score,
                v.requests
            )?;
            writeln!(out, "      {}", explain(v))?;
            for reason in v.reasons.iter().take(2) {
                writeln!(out, "      {reason}")?;
            }
        }
        if !self.good.is_empty() {
            writeln!(out, "verified good bots (not flagged as threats):")?;
            for (name, t) in &self.good {
                let requests = if t.requests_ip_ua > 0 {
                    t.requests_ip_ua
                } else {
                    t.requests_ip
                };
                writeln!(
                    out,
                    "  {name}: {} addresses, {requests} requests",
                    t.addresses.len()
                )?;
            }
        }
        if let Some(note) = &self.rdns_note {
            writeln!(out, "{note}")?;
        }
        if let Some((server, health)) = &self.dns {
            if health.gave_up.load(Ordering::Relaxed) {
                writeln!(
                    out,
                    "reverse DNS: {server} failed {} times; crawler claims after that were left unverified (--rdns-resolver, --no-rdns)",
                    health.failures.load(Ordering::Relaxed)
                )?;
            }
        }
        Ok(())
    }
}

/// The strongest evidence of a verdict: its three largest positive
/// contributions as `feature value × weight = +contribution`.
pub fn explain(v: &Verdict) -> String {
    let parts: Vec<String> = v
        .score
        .strongest(3)
        .iter()
        .map(|c| {
            format!(
                "{} {} (w {} → +{:.2})",
                c.feature,
                short(c.value.unwrap_or(0.0)),
                short(c.weight),
                c.contribution
            )
        })
        .collect();
    if parts.is_empty() {
        format!("no feature contributed; {}", v.reasons.join("; "))
    } else {
        parts.join(", ")
    }
}

/// A logged time: nginx's `$time_local` form, RFC 3339, or epoch seconds.
fn parse_time(v: &str) -> Option<Timestamp> {
    let v = v.trim().trim_start_matches('[').trim_end_matches(']');
    let dt = chrono::DateTime::parse_from_str(v, "%d/%b/%Y:%H:%M:%S %z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(v));
    if let Ok(dt) = dt {
        return dt.timestamp_nanos_opt().map(Timestamp::from_nanos);
    }
    let secs: f64 = v.parse().ok()?;
    let nanos = secs * 1e9;
    (secs.is_finite() && nanos.abs() < 9.0e18).then(|| Timestamp::from_nanos(nanos as i64))
}

/// A number in at most about four significant digits.
fn short(x: f64) -> String {
    if (x == x.trunc() && x.abs() < 1e6) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_are_told_from_logs_by_magic() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        assert!(!is_log(&write("a.pcap", &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0])));
        assert!(!is_log(&write("b.pcapng", &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0])));
        assert!(is_log(&write("access.log", b"127.0.0.1 - - [x]")));
        assert!(is_log(&write("access.log.gz", &[0x1f, 0x8b, 8, 0])));
        assert!(is_log(&write("short", b"ab")));
        assert!(is_log(Path::new("-")));
        // Unreadable: left to the capture path, which reports it.
        assert!(!is_log(&dir.path().join("missing")));
    }

    #[test]
    fn logged_times_parse_in_three_forms() {
        let t = Timestamp::from_nanos(971_211_336_000_000_000);
        assert_eq!(parse_time("10/Oct/2000:13:55:36 -0700"), Some(t));
        assert_eq!(parse_time("[10/Oct/2000:13:55:36 -0700]"), Some(t));
        assert_eq!(parse_time("2000-10-10T20:55:36Z"), Some(t));
        assert_eq!(parse_time("971211336"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("1e300"), None);
    }

    fn args(extra: &[&str]) -> WeblogArgs {
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            web: WeblogArgs,
        }
        let mut argv = vec!["t"];
        argv.extend_from_slice(extra);
        <Cli as clap::Parser>::parse_from(argv).web
    }

    #[test]
    fn options_override_the_config() {
        let base = DetectorConfig::default();
        let c = args(&[
            "--rdns-resolver",
            "127.0.0.1:5353",
            "--rdns-timeout-ms",
            "50",
            "--session-field",
            "cookie_sid",
        ])
        .detector_config(&base)
        .unwrap();
        assert_eq!(c.whitelist.rdns.resolver, "127.0.0.1:5353".parse().ok());
        assert_eq!(c.whitelist.rdns.timeout_ms, 50);
        assert_eq!(c.entities.session_fields[0], "cookie_sid");
        assert_eq!(
            c.entities.session_fields.len(),
            base.entities.session_fields.len() + 1
        );
        let off = args(&["--no-rdns"]).detector_config(&base).unwrap();
        assert!(!off.whitelist.rdns.enabled);
        assert!(args(&["--rdns-timeout-ms", "0"])
            .detector_config(&base)
            .is_err());
    }

    #[test]
    fn configured_formats_build_or_fail_clearly() {
        assert!(args(&[]).parser().unwrap().is_none());
        let nginx = args(&[
            "--log-format",
            "$remote_addr [$time_local] \"$request\" $status",
        ]);
        assert!(nginx.parser().unwrap().is_some());
        let apache = args(&["--log-format-kind", "apache"]).parser().unwrap();
        assert!(apache.is_some());
        let bad = args(&["--log-format-kind", "modsecurity", "--log-format", "x"]);
        assert!(bad.parser().is_err());
        let json = args(&["--log-format-kind", "json", "--log-format", "not json"]);
        assert!(format!("{:#}", json.parser().unwrap_err()).contains("mapping"));
    }

    /// A resolver that never answers is given up after a few queries, and
    /// the detector's claims stay unverified instead of waiting.
    #[test]
    fn an_unreachable_resolver_is_given_up() {
        // A bound socket that never replies: every query times out.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap();
        let health = Arc::new(DnsHealth::default());
        let mut b = Breaker {
            inner: UdpResolver::new(server, Duration::from_millis(20)),
            server,
            health: Arc::clone(&health),
        };
        for i in 0..10u8 {
            assert!(b.ptr(IpAddr::from([192, 0, 2, i])).is_err());
        }
        assert_eq!(health.failures.load(Ordering::Relaxed), MAX_DNS_FAILURES);
        assert!(health.gave_up.load(Ordering::Relaxed));
    }
}
