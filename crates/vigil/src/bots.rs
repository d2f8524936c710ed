//! `vigil bots …`: the bot control centre over a data directory.
//!
//! - `decisions`: list the active decisions (ban, challenge, throttle), or
//!   export them for nginx or nftables;
//! - `label`: record the operator's verdict on an entity (or a labels file,
//!   vigil-webgen's ground truth included);
//! - `learn`: refit the model from the labels and the stored feature
//!   vectors, report precision/recall before and after on held-back labels,
//!   activate the new model unless it is worse (exit 1 when refused);
//! - `watch`: run the detector over a log (once, or following it live with
//!   `--follow`), turning verdicts into decisions and feature vectors,
//!   writing the exports, and reloading the model when `learn` activates a
//!   new one.
//!
//! The data directory is `--data-dir`, else `$VIGIL_DATA_DIR`, else the
//! per-user default `$XDG_DATA_HOME/vigil` or `~/.local/share/vigil`
//! (layout: `vigil_weblog::store`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use vigil_event::Timestamp;
use vigil_weblog::decisions::{Decision, DecisionStore};
use vigil_weblog::export::{self, NginxOptions};
use vigil_weblog::labels::{parse_labels, Label, LabelStore, Truth};
use vigil_weblog::learn::{learn_in_dir, LearnConfig, Metrics};
use vigil_weblog::source::ReadStats;
use vigil_weblog::store::{self as data, ModelStore, ModelWatcher};
use vigil_weblog::{
    AccessRecord, BotDetector, DetectorConfig, Follower, LogReader, Parser, Verdict,
};

/// `vigil bots` subcommands.
#[derive(Debug, Subcommand)]
pub enum BotsCommand {
    /// List the active decisions, or export them (--export nginx|nftables).
    Decisions(DecisionsArgs),
    /// Record an operator verdict: `vigil bots label ENTITY bot|human`, or
    /// `--file labels.jsonl`.
    Label(LabelArgs),
    /// Refit the model from the labels; report precision/recall before and
    /// after on held-back labels; activate it unless it is worse.
    Learn(LearnArgs),
    /// Run the detector over a log (with --follow: live), keeping decisions,
    /// feature vectors and exports in the data directory.
    Watch(WatchArgs),
}

/// The data directory option every subcommand takes.
#[derive(Debug, Args)]
pub struct DataDirArg {
    /// Data directory (default: $VIGIL_DATA_DIR, else $XDG_DATA_HOME/vigil,
    /// else ~/.local/share/vigil).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    fn path(&self) -> PathBuf {
        data::resolve_data_dir(self.data_dir.as_deref())
    }
}

/// `--export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    /// An nginx include defining $vigil_decision (geo + map blocks).
    Nginx,
    /// An nftables file with the sets vigil_ban_v4 / vigil_ban_v6.
    Nftables,
}

/// Options of `vigil bots decisions`.
#[derive(Debug, Args)]
pub struct DecisionsArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// Write the decisions for nginx or nftables instead of listing them.
    #[arg(long, value_enum)]
    export: Option<ExportKind>,
    /// The export's file (replaced atomically); default stdout.
    #[arg(long, value_name = "FILE", requires = "export")]
    out: Option<PathBuf>,
    /// List as JSON Lines (every field).
    #[arg(long, conflicts_with = "export")]
    json: bool,
    /// The time to list for: Unix seconds, RFC 3339, or `wall` (the
    /// clock). Default: the newest event time the decisions were made at.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// The nginx variable holding the session key (export nginx).
    #[arg(long, default_value = "cookie_session", value_name = "VAR")]
    session_variable: String,
}

/// Options of `vigil bots label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The entity, as decisions and verdicts print it: `203.0.113.7`,
    /// `203.0.113.0/24`, `'203.0.113.7 ua="curl/8.5"'`, `session=KEY`.
    #[arg(value_name = "ENTITY", required_unless_present = "file")]
    entity: Option<String>,
    /// `bot` or `human`.
    #[arg(value_name = "bot|human", required_unless_present = "file")]
    label: Option<Truth>,
    /// A finer class to record with it (scraper, attacker, ...).
    #[arg(long)]
    class: Option<String>,
    /// Read labels from a JSON Lines file (this format, or vigil-webgen's
    /// labels.jsonl).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["entity", "label"])]
    file: Option<PathBuf>,
}

/// Options of `vigil bots learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// Share of the labelled entities held back to compare the models.
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
    /// Seed of the held-back split.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// L2 strength (towards the current weights).
    #[arg(long, default_value_t = LearnConfig::default().l2)]
    l2: f64,
    /// Gradient steps.
    #[arg(long, default_value_t = LearnConfig::default().steps)]
    steps: u32,
    /// Activate the new model even when it does worse on the held-back labels.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `vigil bots watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The access log (also .gz without --follow).
    #[arg(value_name = "LOG")]
    log: PathBuf,
    /// Keep following the log (across rotation) until stopped; windows then
    /// close on the wall clock when traffic is idle.
    #[arg(long)]
    follow: bool,
    /// With --follow, start at the log's current end instead of its start.
    #[arg(long, requires = "follow")]
    from_end: bool,
    /// Polling interval of the log and the model pointer, milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    interval_ms: u64,
    /// Save decisions and exports at most this often, seconds.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    save_every: u64,
    /// Write the nginx include here whenever decisions are saved.
    #[arg(long, value_name = "FILE")]
    export_nginx: Option<PathBuf>,
    /// Write the nftables file here whenever decisions are saved.
    #[arg(long, value_name = "FILE")]
    export_nftables: Option<PathBuf>,
    /// Close an entity's window after this many idle seconds (default 1800).
    #[arg(long, value_name = "SECS")]
    idle_secs: Option<u32>,
    /// Do not verify crawlers by reverse DNS (published ranges still count).
    #[arg(long)]
    no_rdns: bool,
    /// The site's own host names (referers to them are internal).
    #[arg(long = "site-host", value_name = "HOST")]
    site_hosts: Vec<String>,
    /// Do not print verdicts (JSON Lines on stdout).
    #[arg(long, short)]
    quiet: bool,
}

/// Run a `vigil bots` subcommand.
pub fn run(command: BotsCommand) -> anyhow::Result<ExitCode> {
    match command {
        BotsCommand::Decisions(a) => decisions(a),
        BotsCommand::Label(a) => label(a),
        BotsCommand::Learn(a) => learn(a),
        BotsCommand::Watch(a) => watch(a),
    }
}

fn wall_now() -> Timestamp {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Timestamp::from_nanos(ns)
}

fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
    if text == "wall" {
        return Ok(wall_now());
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(Timestamp::from_nanos(secs.saturating_mul(1_000_000_000)));
    }
    let t = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        anyhow::anyhow!("--now {text:?}: not Unix seconds, RFC 3339 or `wall` ({e})")
    })?;
    Ok(Timestamp::from_nanos(
        t.timestamp_nanos_opt().unwrap_or(i64::MAX),
    ))
}

fn human_secs(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

fn evidence_summary(d: &Decision) -> String {
    d.evidence
        .iter()
        .map(|e| match e.value {
            Some(v) => format!("{}={} (+{:.2})", e.feature, trim_float(v), e.contribution),
            None => format!("{} (+{:.2})", e.feature, e.contribution),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn render_export(
    kind: ExportKind,
    active: &[&Decision],
    now: Timestamp,
    session_var: &str,
) -> String {
    match kind {
        ExportKind::Nginx => export::nginx(
            active,
            now,
            &NginxOptions {
                session_variable: session_var.to_owned(),
            },
        ),
        ExportKind::Nftables => export::nftables(active, now),
    }
}

fn decisions(a: DecisionsArgs) -> anyhow::Result<ExitCode> {
    let dir = a.data.path();
    let store = DecisionStore::open(&dir).context("opening the decisions")?;
    let now = match &a.now {
        Some(t) => parse_time(t)?,
        None => store.clock().unwrap_or_else(wall_now),
    };
    let active = store.active(now);
    if let Some(kind) = a.export {
        let text = render_export(kind, &active, now, &a.session_variable);
        match &a.out {
            Some(path) => {
                data::write_atomic(path, text.as_bytes())?;
                eprintln!(
                    "vigil bots: {} active decisions exported to {}",
                    active.len(),
                    path.display()
                );
            }
            None => std::io::stdout().lock().write_all(text.as_bytes())?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        for d in &active {
            serde_json::to_writer(&mut out, d)?;
            out.write_all(b"\n")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{} active decisions at {} (data dir {})",
        active.len(),
        now.to_rfc3339_micros(),
        dir.display()
    )?;
    for d in &active {
        writeln!(out, "{:<9} {}", d.action.name(), d.subject)?;
        writeln!(
            out,
            "          expires {} (in {}), model v{}, {} verdicts",
            Timestamp::from_nanos(d.expires_ns).to_rfc3339_micros(),
            human_secs(d.remaining_secs(now)),
            d.model_version,
            d.hits
        )?;
        writeln!(out, "          reason: {}", d.reason)?;
        writeln!(out, "          evidence: {}", evidence_summary(d))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn label(a: LabelArgs) -> anyhow::Result<ExitCode> {
    let dir = a.data.path();
    let store = LabelStore::new(&dir);
    let at_ms = wall_now().millis();
    let labels: Vec<Label> = if let Some(file) = &a.file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading labels {}", file.display()))?;
        parse_labels(&text, &file.display().to_string(), at_ms)
            .with_context(|| format!("labels {}", file.display()))?
    } else {
        let (Some(entity), Some(truth)) = (&a.entity, a.label) else {
            bail!("give ENTITY and bot|human, or --file");
        };
        vec![Label {
            entity: entity.parse()?,
            label: truth,
            class: a.class.clone(),
            at_ms,
            source: "cli".into(),
        }]
    };
    store.append(&labels)?;
    let bots = labels.iter().filter(|l| l.label == Truth::Bot).count();
    eprintln!(
        "vigil bots: {} labels recorded ({bots} bot, {} human) in {}",
        labels.len(),
        labels.len() - bots,
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

fn metrics_row(name: &str, m: &Metrics) -> String {
    format!(
        "{name:<22} {:>9} {:>7} {:>7}   (TP {} FP {} FN {} TN {})",
        fmt_opt(m.precision()),
        fmt_opt(m.recall()),
        format!("{:.3}", m.f1()),
        m.true_positives,
        m.false_positives,
        m.false_negatives,
        m.true_negatives
    )
}

fn learn(a: LearnArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..1.0).contains(&a.holdout) {
        bail!("--holdout {} must be at least 0 and under 1", a.holdout);
    }
    let dir = a.data.path();
    let config = LearnConfig {
        holdout: a.holdout,
        seed: a.seed,
        l2: a.l2,
        steps: a.steps,
        ..LearnConfig::default()
    };
    let r = learn_in_dir(&dir, &config, a.force)
        .with_context(|| format!("learning in {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        out.write_all(b"\n")?;
    } else {
        let f = &r.fit;
        writeln!(
            out,
            "model v{} fitted from model v{}: {} labelled entities, {} stored vectors; \
             training {} bot / {} human vectors, held back {} bot / {} human",
            r.version,
            r.previous_version,
            r.labels,
            r.vectors,
            f.train.0,
            f.train.1,
            f.holdout.0,
            f.holdout.1
        )?;
        writeln!(
            out,
            "{:<22} {:>9} {:>7} {:>7}",
            "held-back labels", "precision", "recall", "F1"
        )?;
        writeln!(
            out,
            "{}",
            metrics_row(
                &format!("before (model v{})", r.previous_version),
                &f.before
            )
        )?;
        writeln!(
            out,
            "{}",
            metrics_row(&format!("after (model v{})", r.version), &f.after)
        )?;
        writeln!(
            out,
            "training labels: F1 {:.3} before, {:.3} after; human threshold {:.2}",
            f.train_before.f1(),
            f.train_after.f1(),
            f.model.human_min
        )?;
        if r.activated {
            writeln!(out, "activated: {} is the current model", r.path.display())?;
        } else {
            writeln!(
                out,
                "not activated: F1 on held-back labels would drop from {:.3} to {:.3} ({} kept; --force to activate anyway)",
                f.before.f1(),
                f.after.f1(),
                r.path.display()
            )?;
        }
    }
    Ok(if r.activated {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The detector, decisions and outputs of one `watch` run.
struct Watch {
    dir: PathBuf,
    detector: BotDetector,
    decisions: DecisionStore,
    watcher: ModelWatcher,
    quiet: bool,
    dirty: bool,
    export_nginx: Option<PathBuf>,
    export_nftables: Option<PathBuf>,
    verdicts: u64,
}

impl Watch {
    fn handle(&mut self, verdicts: Vec<Verdict>, now: Timestamp) -> anyhow::Result<()> {
        if verdicts.is_empty() {
            return Ok(());
        }
        self.verdicts += verdicts.len() as u64;
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            for v in &verdicts {
                let line = serde_json::json!({
                    "subject": v.subject,
                    "class": v.class.name(),
                    "p_human": v.score.probabilities[0],
                    "requests": v.requests,
                    "model_version": v.model_version,
                });
                writeln!(out, "{line}")?;
            }
        }
        vigil_weblog::store_features(&self.dir, &verdicts)?;
        self.decisions.apply(&verdicts, now);
        self.dirty = true;
        Ok(())
    }

    fn reload(&mut self) {
        match self.watcher.poll() {
            Ok(Some(model)) => {
                let version = model.version;
                match self.detector.set_model(model) {
                    Ok(()) => {
                        tracing::info!(version, "model reloaded");
                        eprintln!("vigil bots watch: model v{version} loaded");
                    }
                    Err(error) => eprintln!("vigil bots watch: model v{version} refused: {error}"),
                }
            }
            Ok(None) => {}
            Err(error) => eprintln!("vigil bots watch: keeping the running model: {error}"),
        }
    }

    fn save(&mut self, now: Timestamp) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.decisions.prune(now);
        self.decisions.save()?;
        let active = self.decisions.active(now);
        if let Some(p) = &self.export_nginx {
            data::write_atomic(
                p,
                render_export(ExportKind::Nginx, &active, now, "cookie_session").as_bytes(),
            )?;
        }
        if let Some(p) = &self.export_nftables {
            data::write_atomic(
                p,
                render_export(ExportKind::Nftables, &active, now, "").as_bytes(),
            )?;
        }
        self.dirty = false;
        Ok(())
    }
}

fn watch(a: WatchArgs) -> anyhow::Result<ExitCode> {
    let dir = a.data.path();
    data::ensure_dir(&dir)?;
    let models = ModelStore::new(&dir);
    let current = models.current().context("loading the current model")?;
    let loaded = current.as_ref().map(|m| m.version);
    let mut config = DetectorConfig::default();
    if let Some(m) = current {
        config.model = m;
    }
    if a.no_rdns {
        config.whitelist.rdns.enabled = false;
    }
    if let Some(s) = a.idle_secs {
        config.window.idle_secs = s.max(1);
    }
    config.site.hosts = a.site_hosts.clone();
    let model_version = config.model.version;
    let mut w = Watch {
        detector: BotDetector::new(config).context("building the bot detector")?,
        decisions: DecisionStore::open(&dir).context("opening the decisions")?,
        watcher: ModelWatcher::new(&dir, loaded),
        dir: dir.clone(),
        quiet: a.quiet,
        dirty: false,
        export_nginx: a.export_nginx.clone(),
        export_nftables: a.export_nftables.clone(),
        verdicts: 0,
    };
    eprintln!(
        "vigil bots watch: {} with model v{model_version}, data dir {}",
        a.log.display(),
        dir.display()
    );
    if !a.follow {
        return watch_once(&a.log, w);
    }
    let mut follower = Follower::new(&a.log, !a.from_end);
    let name = a.log.display().to_string();
    let mut parser: Option<Parser> = None;
    let mut sample: Vec<Vec<u8>> = Vec::new();
    let mut stats = ReadStats::default();
    let mut record = AccessRecord::default();
    let interval = Duration::from_millis(a.interval_ms.max(10));
    let save_every = Duration::from_secs(a.save_every);
    let mut last_save = Instant::now();
    loop {
        let n = {
            let (parser, sample, stats, record, detector) = (
                &parser,
                &mut sample,
                &mut stats,
                &mut record,
                &mut w.detector,
            );
            follower.poll(&mut |line, number| match parser {
                Some(p) => {
                    if stats.parse_line(p, &name, number, line, false, record) {
                        detector.observe(record);
                    }
                }
                None => sample.push(line.to_vec()),
            })?
        };
        if parser.is_none()
            && (sample.len() >= vigil_weblog::detect::SAMPLE_LINES
                || (n == 0 && !sample.is_empty()))
        {
            let d = vigil_weblog::detect::detect(sample.iter().map(Vec::as_slice), None)
                .with_context(|| format!("detecting the format of {name}"))?;
            eprintln!("vigil bots watch: format {}", d.reason);
            for (i, line) in sample.drain(..).enumerate() {
                if stats.parse_line(&d.parser, &name, i as u64 + 1, &line, false, &mut record) {
                    w.detector.observe(&record);
                }
            }
            parser = Some(d.parser);
        }
        w.reload();
        let now = wall_now();
        let verdicts = if n == 0 {
            w.detector.tick(now)
        } else {
            w.detector.take_verdicts()
        };
        w.handle(verdicts, now)?;
        if last_save.elapsed() >= save_every {
            w.save(now)?;
            last_save = Instant::now();
        }
        if n == 0 {
            std::thread::sleep(interval);
        }
    }
}

fn watch_once(log: &Path, mut w: Watch) -> anyhow::Result<ExitCode> {
    let input = vigil_weblog::source::open(log)?;
    let (mut reader, detection) = LogReader::detect(log.display().to_string(), input, None)?;
    eprintln!("vigil bots watch: format {}", detection.reason);
    let mut record = AccessRecord::default();
    let mut latest = i64::MIN;
    while reader.next_into(&mut record)? {
        latest = latest.max(record.time.nanos());
        w.detector.observe(&record);
    }
    let verdicts = w.detector.finish();
    let now = if latest == i64::MIN {
        w.decisions.clock().unwrap_or_else(wall_now)
    } else {
        Timestamp::from_nanos(latest)
    };
    w.handle(verdicts, now)?;
    w.dirty = true;
    w.save(now)?;
    let stats = reader.stats();
    eprintln!(
        "vigil bots watch: {} records, {} bad lines, {} verdicts, {} active decisions",
        stats.records,
        stats.bad,
        w.verdicts,
        w.decisions.active(now).len()
    );
    for bad in &stats.samples {
        eprintln!("  bad line {bad}");
    }
    Ok(if stats.bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
