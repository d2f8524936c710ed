//! `vigil intel …`: the threat-intel store, and the stage `vigil analyze`
//! runs with it.
//!
//! - `vigil intel import FILE --feed NAME`: read a feed (format detected,
//!   or `--format`), replace the feed's indicators in the store, print the
//!   counts and every entry that could not be read with its location.
//!   Exit 0 when every entry was read, 1 when some were not (the rest is
//!   imported), 2 on a fatal error.
//! - `vigil intel lookup VALUE`: print the indicators matching VALUE; exit
//!   0 when some match, 1 when none does (for scripts).
//! - `vigil intel stats`: the feeds and what the compiled set holds.
//! - `vigil intel remove FEED`: drop a feed.
//!
//! The store is in the data directory (`--data-dir`, else
//! `$VIGIL_DATA_DIR`, else the per-user default; see
//! `vigil_weblog::store::resolve_data_dir`), so an import is seen by the
//! next `vigil analyze`, which loads it through [`IntelArgs::stage`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand};
use vigil_event::{Event, StatsRecord};
use vigil_intel::format::{CsvMapping, Format, ParseOptions};
use vigil_intel::import::{read_feed, FeedDefaults};
use vigil_intel::indicator::parse_severity;
use vigil_intel::store::FeedHeader;
use vigil_intel::{IntelStage, Kind, Reloader, Store};
use vigil_weblog::store::resolve_data_dir;

/// Entry errors printed by `import` (all are counted).
const SHOWN_ERRORS: usize = 50;

/// `vigil intel …`.
#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Import a feed file (or MISP feed directory) into the store, replacing the feed.
    Import(ImportArgs),
    /// Print the indicators matching a value (exit 1 when none does).
    Lookup(LookupArgs),
    /// Print the feeds in the store and what the compiled set holds.
    Stats(DataDir),
    /// Remove a feed from the store.
    Remove(RemoveArgs),
}

/// The data directory option.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Data directory (default: $VIGIL_DATA_DIR, else $XDG_DATA_HOME/vigil,
    /// else ~/.local/share/vigil).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDir {
    fn store(&self) -> Store {
        Store::new(&resolve_data_dir(self.data_dir.as_deref()))
    }
}

/// Options of `vigil intel import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The feed: a file, or a MISP feed directory (with manifest.json).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The feed's name in the store (letters, digits, '.', '_', '-');
    /// importing again under the same name replaces it.
    #[arg(long, value_name = "NAME")]
    pub feed: String,
    /// The format (default: detected from the name and content): plain,
    /// csv, netset, stix, misp, misp-feed, suricata.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub format: Option<Format>,
    /// Every value is of this type (plain lists, CSV without a type
    /// column): ipv4, ipv6, domain, domain_suffix, url, md5, sha1, sha256,
    /// ja3, ja4, email, user_agent.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_kind)]
    pub kind: Option<Kind>,
    /// CSV column mapping, `field=column[+column],…` by header name or
    /// 1-based index: value, type, confidence, severity, tags, first_seen,
    /// last_seen, expires, reference (e.g. `value=ioc_value,type=ioc_type`).
    #[arg(long, value_name = "MAPPING")]
    pub csv_map: Option<String>,
    /// The CSV file has no header line.
    #[arg(long)]
    pub csv_no_header: bool,
    /// Confidence (0–100) of entries that do not give one.
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub confidence: u8,
    /// Severity of entries that do not give one: informational, low,
    /// medium, high, critical.
    #[arg(long, default_value = "medium", value_name = "LEVEL")]
    pub severity: String,
    /// A tag for every indicator of the feed (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Entries without an expiry expire this long after the import
    /// (`90d`, `12h`, `30m`, `3600s`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub ttl: Option<i64>,
    #[command(flatten)]
    pub data: DataDir,
}

/// Options of `vigil intel lookup`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// An IP address or network, domain, URL, hash, JA3/JA4, e-mail
    /// address or user agent.
    #[arg(value_name = "VALUE")]
    pub value: String,
    /// One JSON indicator per line instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDir,
}

/// Options of `vigil intel remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The feed's name.
    #[arg(value_name = "FEED")]
    pub feed: String,
    #[command(flatten)]
    pub data: DataDir,
}

/// The options `vigil analyze` takes for threat intel.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Threat intelligence")]
pub struct IntelArgs {
    /// Do not match events against the threat-intel store.
    #[arg(long)]
    pub no_intel: bool,
    #[command(flatten)]
    pub data: DataDir,
}

impl IntelArgs {
    /// The matching stage over the store; it does nothing when intel is
    /// off or the store is empty (then nothing is printed either).
    pub fn stage(&self, quiet: bool) -> anyhow::Result<Stage> {
        if self.no_intel {
            return Ok(Stage { inner: None });
        }
        let store = self.data.store();
        let (reloader, report) =
            Reloader::open(store, now_ms()).context("cannot load the threat-intel store")?;
        for line in &report.bad_lines {
            eprintln!("vigil: intel store: {line}");
        }
        let shared = reloader.shared();
        let matcher = shared.load();
        if matcher.is_empty() {
            return Ok(Stage { inner: None });
        }
        if !quiet {
            eprintln!(
                "intel: {} indicators from {} feeds",
                matcher.len(),
                matcher.stats().by_feed.len()
            );
        }
        drop(matcher);
        Ok(Stage {
            inner: Some(IntelStage::new(shared)),
        })
    }
}

/// The stage `vigil analyze` runs: intel findings are added to each batch
/// before risk scoring.
#[derive(Debug)]
pub struct Stage {
    inner: Option<IntelStage>,
}

impl Stage {
    /// Enrich the batch and append its intel findings.
    pub fn process(&mut self, events: &mut Vec<Event>) {
        if let Some(stage) = self.inner.as_mut() {
            stage.process(events);
        }
    }

    /// Add the counters to the stats record (`intel` group).
    pub fn add_stats(&self, stats: &mut StatsRecord) {
        let Some(c) = self.inner.as_ref().map(IntelStage::counters) else {
            return;
        };
        stats.add("intel", "events", c.events);
        stats.add("intel", "observables", c.observables);
        stats.add("intel", "events_matched", c.events_matched);
        stats.add("intel", "findings", c.findings);
    }
}

/// Run a `vigil intel` subcommand.
pub fn run(command: IntelCommand) -> anyhow::Result<ExitCode> {
    match command {
        IntelCommand::Import(args) => import(args),
        IntelCommand::Lookup(args) => lookup(args),
        IntelCommand::Stats(args) => stats(args),
        IntelCommand::Remove(args) => remove(args),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

/// `90d`, `12h`, `30m`, `3600s` (or bare seconds) in milliseconds.
fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(format!("bad duration {s:?}: use s, m, h, d or w")),
    };
    n.checked_mul(unit_ms)
        .ok_or_else(|| format!("duration {s:?} too long"))
}

fn kind_counts(indicators: &[vigil_intel::Indicator]) -> String {
    let mut by: std::collections::BTreeMap<Kind, usize> = std::collections::BTreeMap::new();
    for i in indicators {
        *by.entry(i.kind).or_default() += 1;
    }
    by.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if !vigil_intel::store::valid_feed_name(&args.feed) {
        anyhow::bail!(
            "bad feed name {:?}: use letters, digits, '.', '_' and '-'",
            args.feed
        );
    }
    let severity = parse_severity(&args.severity)
        .with_context(|| format!("unknown severity {:?}", args.severity))?;
    let mut csv: CsvMapping = match &args.csv_map {
        Some(m) => m.parse().map_err(anyhow::Error::msg)?,
        None => CsvMapping::default(),
    };
    csv.no_header = args.csv_no_header;
    let options = ParseOptions {
        kind: args.kind,
        csv,
    };
    let (format, parsed) = read_feed(&args.file, args.format, &options)
        .with_context(|| format!("cannot import {}", args.file.display()))?;
    let now = now_ms();
    let defaults = FeedDefaults {
        feed: args.feed.clone(),
        confidence: args.confidence,
        severity,
        tags: args.tags.clone(),
        ttl_ms: args.ttl,
        now_ms: now,
    };
    let indicators = defaults.apply(&parsed);
    let store = args.data.store();
    let header = FeedHeader {
        feed: args.feed.clone(),
        format: format.name().to_owned(),
        source: args.file.display().to_string(),
        imported_at: now,
        indicators: indicators.len(),
        errors: parsed.errors_total,
    };
    let path = store
        .write_feed(&header, &indicators)
        .context("cannot write the feed into the store")?;
    let mut err = std::io::stderr().lock();
    let name = args.file.display();
    for e in parsed.errors.iter().take(SHOWN_ERRORS) {
        writeln!(err, "{name}: {e}")?;
    }
    if parsed.errors_total > SHOWN_ERRORS.min(parsed.errors.len()) {
        writeln!(
            err,
            "{name}: … and {} more entries not read",
            parsed.errors_total - SHOWN_ERRORS.min(parsed.errors.len())
        )?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "imported {} indicators into feed {} from {name} ({format}){}",
        indicators.len(),
        args.feed,
        if indicators.is_empty() {
            String::new()
        } else {
            format!(": {}", kind_counts(&indicators))
        }
    )?;
    if parsed.errors_total > 0 {
        writeln!(
            out,
            "{} entries not read (listed on stderr)",
            parsed.errors_total
        )?;
    }
    for (reason, n) in &parsed.skipped {
        writeln!(out, "skipped {n}: {reason}")?;
    }
    writeln!(out, "store: {}", path.display())?;
    Ok(if parsed.errors_total > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn lookup(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let store = args.data.store();
    let (matcher, report) = store
        .compile(now_ms())
        .context("cannot load the threat-intel store")?;
    for line in &report.bad_lines {
        eprintln!("vigil: intel store: {line}");
    }
    let hits = matcher.lookup(&args.value);
    let mut out = std::io::stdout().lock();
    for h in &hits {
        let i = h.indicator();
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&i)?)?;
            continue;
        }
        let mut line = format!(
            "{}\t{}\tfeed={}\tconfidence={}\tseverity={}",
            i.kind,
            i.value,
            i.feed,
            i.confidence,
            i.severity.caption().to_ascii_lowercase()
        );
        if !i.tags.is_empty() {
            line.push_str(&format!("\ttags={}", i.tags.join(",")));
        }
        if let Some(r) = &i.reference {
            line.push_str(&format!("\treference={r}"));
        }
        if let Some(e) = i.expires {
            line.push_str(&format!("\texpires={}", rfc3339(e)));
        }
        writeln!(out, "{line}")?;
    }
    if hits.is_empty() && !args.json {
        eprintln!("{}: no indicator matches", args.value);
    }
    Ok(if hits.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

fn stats(args: DataDir) -> anyhow::Result<ExitCode> {
    let store = args.store();
    let started = std::time::Instant::now();
    let (matcher, report) = store
        .compile(now_ms())
        .context("cannot load the threat-intel store")?;
    let elapsed = started.elapsed();
    let mut out = std::io::stdout().lock();
    writeln!(out, "store: {}", store.feeds_dir().display())?;
    if report.feeds.is_empty() {
        writeln!(
            out,
            "no feeds (import one with `vigil intel import FILE --feed NAME`)"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = matcher.stats();
    writeln!(out, "feeds:")?;
    for f in &report.feeds {
        writeln!(
            out,
            "  {}\t{} indicators ({} active)\t{}\t{}\timported {}{}",
            f.feed,
            f.indicators,
            s.by_feed.get(&f.feed).copied().unwrap_or(0),
            f.format,
            f.source,
            rfc3339(f.imported_at),
            if f.errors > 0 {
                format!("\t{} entries not read", f.errors)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(out, "indicators: {}", s.total())?;
    for (k, n) in &s.by_kind {
        writeln!(out, "  {k}\t{n}")?;
    }
    writeln!(
        out,
        "expired: {}\tduplicates: {}\tattribute sets: {}",
        s.expired, s.duplicates, s.attribute_sets
    )?;
    writeln!(
        out,
        "compiled in {:.2} s, about {:.1} MiB",
        elapsed.as_secs_f64(),
        s.heap_bytes as f64 / (1024.0 * 1024.0)
    )?;
    if let Some(e) = matcher.next_expiry() {
        writeln!(out, "next expiry: {}", rfc3339(e))?;
    }
    if report.bad_total > 0 {
        writeln!(out, "unreadable lines in the store: {}", report.bad_total)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(args: RemoveArgs) -> anyhow::Result<ExitCode> {
    let store = args.data.store();
    if store
        .remove_feed(&args.feed)
        .context("cannot remove the feed")?
    {
        println!("removed feed {}", args.feed);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no feed {} in {}", args.feed, store.feeds_dir().display());
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90d"), Ok(90 * 86_400_000));
        assert_eq!(parse_duration_ms("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_duration_ms("3600"), Ok(3_600_000));
        assert!(parse_duration_ms("5y").is_err());
        assert!(parse_duration_ms("d").is_err());
    }
}
