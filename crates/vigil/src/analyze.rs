//! `vigil analyze FILE…`: captures and web logs in, events out.
//!
//! The files are read in the order given through ONE pipeline (so a capture
//! rotated into several files keeps its flows), events go to stdout or to
//! one file per record kind under `--out DIR`, in Vigil's OCSF-aligned form
//! or as Suricata EVE JSON. A stats record ends every run. A human summary
//! goes to stderr. Exit status: 0 when everything was read and decoded,
//! 1 when some input was skipped (a corrupt or truncated record, an
//! undecodable packet, an unreadable file: each is reported on stderr with
//! the file and packet number), 2 on a fatal error.
//!
//! An input that is not a capture (by its magic bytes), `-` included, is a
//! web access or WAF log (see [`crate::weblog`]): its records go through the
//! bot detector, whose findings are risk-scored and written like the
//! others; its unparsable lines count as skipped input.

use std::fs::File;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vigil_anomaly::AnomalyEngine;
use vigil_event::{Body, Event, Timestamp};
use vigil_net::capture::CaptureReader;
use vigil_net::pipeline::{Pipeline, PipelineConfig};

use crate::detect;
use crate::output::{EventSink, OutputFormat};
use crate::report::{Diagnostics, Summary};
use crate::weblog::{self, WebLogs};

/// Options of `vigil analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng), read in this order as one capture;
    /// any other file (or `-`, standard input) is read as a web log
    /// (nginx, Apache, JSON, ModSecurity; plain or .gz).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write one JSON Lines file per record kind (flow.jsonl, dns.jsonl,
    /// http.jsonl, tls.jsonl, ssh.jsonl, stats.jsonl) into DIR instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Ocsf)]
    pub format: FormatArg,
    /// Also compute JA4+ fingerprints other than JA4 (JA4S, ...). They are
    /// licensed under the FoxIO License 1.1, which forbids monetization:
    /// turn this on only if your use is within that licence.
    #[arg(long)]
    pub ja4plus: bool,
    /// Most flows held at once; the least recently seen is evicted beyond it.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_flows: usize,
    /// Do not print the summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Risk scoring, evidence capture, rolling backup.
    #[command(flatten)]
    pub risk: crate::risk::RiskArgs,
    /// Rules (repeatable): a Suricata rule file (`.rules`) to match
    /// payloads against (loaded in this order, after the default ruleset),
    /// or Vigil and Sigma rules (`.yml`/`.yaml` files, or directories of
    /// them) over every event, Sigma correlation rules included. Alerts and
    /// correlation meta-events are Detection Findings (finding.jsonl with --out).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Sigma field mapping (YAML) merged over the built-in one.
    #[arg(long, value_name = "FILE")]
    pub sigma_mapping: Option<PathBuf>,
    /// Do not load Vigil's default ruleset (rules/vigil-web.rules, built in).
    #[arg(long)]
    pub no_default_rules: bool,
    /// Do not run the flow and host anomaly detectors (scans, floods,
    /// brute force, beaconing, DNS tunnelling, ...); by default their
    /// findings are written with the other records.
    #[arg(long)]
    pub no_anomalies: bool,
    /// Thresholds of the anomaly detectors, risk scoring and evidence
    /// capture, from a TOML file (`vigil config defaults` prints every
    /// setting with its default); the options above override it.
    #[arg(long, value_name = "FILE")]
    pub detection_config: Option<PathBuf>,
    /// Web logs: format, bot detector, crawler verification.
    #[command(flatten)]
    pub weblog: crate::weblog::WeblogArgs,
    /// Threat intel: every event's observables against the store.
    #[command(flatten)]
    pub intel: crate::intel::IntelArgs,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Vigil's OCSF-aligned events.
    Ocsf,
    /// Suricata-compatible EVE JSON.
    Eve,
}

/// Run the analysis.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        FormatArg::Ocsf => OutputFormat::Ocsf,
        FormatArg::Eve => OutputFormat::Eve,
    };
    let detection = crate::config::DetectionConfig::load(args.detection_config.as_deref())?;
    let mut sink = match &args.out {
        Some(dir) => EventSink::directory(dir, format)?,
        None => EventSink::stdout(format),
    };
    let mut config = PipelineConfig::default();
    config.app.ja4plus = args.ja4plus;
    config.flow.max_flows = args.max_flows;
    let mut pipeline = Pipeline::new(config);
    let logs: Vec<bool> = args.files.iter().map(|f| weblog::is_log(f)).collect();
    let any_capture = logs.iter().any(|log| !log);
    let mut web = if logs.iter().any(|log| *log) {
        let bots = args.weblog.detector_config(&detection.bots)?;
        Some(WebLogs::new(&args.weblog, bots, args.quiet)?)
    } else {
        None
    };
    // Evidence is packets: a run of logs only captures none.
    let mut risk_args = args.risk.clone();
    risk_args.no_evidence |= !any_capture;
    let mut risk =
        crate::risk::RiskStage::new(&risk_args, &detection, args.out.as_deref(), &mut pipeline)?;
    let (suricata_rules, event_rules): (Vec<PathBuf>, Vec<PathBuf>) = args
        .rules
        .iter()
        .cloned()
        .partition(|p| crate::rules::is_suricata(p));
    let mut rules =
        crate::rule_stage::RuleStage::new(&event_rules, args.sigma_mapping.as_deref(), args.quiet)?;
    let sources = detect::RuleSources::new(&suricata_rules, args.no_default_rules);
    // The rules see every logged request; the records themselves are
    // written only with --emit-http.
    if let (Some(web), Some(_)) = (web.as_mut(), rules.as_ref()) {
        web.make_http_events();
    }
    let web_http = HttpRecords {
        keep: args.weblog.emit_http,
    };
    if let Some(inspector) = detect::inspector(&sources, args.quiet)? {
        pipeline.set_inspector(inspector);
    }
    let mut anomalies = (!args.no_anomalies).then(|| AnomalyEngine::new(detection.anomaly));
    let mut intel = args.intel.stage(args.quiet)?;
    let mut summary = Summary::default();
    let mut diagnostics = Diagnostics::default();
    let mut events: Vec<Event> = Vec::new();
    let mut last_ts = Timestamp::default();
    let mut web_problem = false;

    let total_bytes: u64 = args
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let progress = progress_bar(total_bytes, args.quiet);
    let mut done_bytes = 0u64;

    for (path, log) in args.files.iter().zip(&logs) {
        if let (true, Some(web)) = (*log, web.as_mut()) {
            let complete = web.read(path, &mut |events| {
                intel.process(events);
                if let Some(rules) = rules.as_mut() {
                    rules.process(events);
                    web_http.drop(events);
                }
                risk.process(&mut pipeline, events);
                emit(&mut sink, &mut summary, events)
            })?;
            if !complete {
                web_problem = true;
            }
            continue;
        }
        let name = path.display().to_string();
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) => {
                diagnostics.file_error(&name, &format!("cannot open: {error}"));
                pipeline.count_capture_error("unreadable_file");
                continue;
            }
        };
        // No BufReader: the capture reader keeps its own 2 MiB buffer, and a
        // second one in front of it only copies every byte once more.
        let mut reader = match CaptureReader::new(file) {
            Ok(reader) => reader,
            Err(error) => {
                diagnostics.file_error(&name, &error.to_string());
                pipeline.count_capture_error(error.reason());
                continue;
            }
        };
        pipeline.set_log_name(&name);
        let mut packets = 0u64;
        while let Some(item) = reader.next_packet() {
            match item {
                Ok(packet) => {
                    risk.packet(&packet)?;
                    packets += 1;
                    last_ts = last_ts.max(packet.ts);
                    if let Err(error) = pipeline.process(&packet, &mut events) {
                        diagnostics.packet_error(
                            &name,
                            packet.number,
                            &error.reason(),
                            &error.to_string(),
                        );
                    }
                }
                Err(error) => {
                    let fatal = error.is_fatal();
                    diagnostics.capture_error(&name, &error.to_string());
                    pipeline.count_capture_error(error.reason());
                    if fatal {
                        break;
                    }
                }
            }
            if !events.is_empty() {
                // Anomaly findings first, so the risk stage scores them too.
                detect(anomalies.as_mut(), last_ts, &mut events, false);
                intel.process(&mut events);
                if let Some(rules) = rules.as_mut() {
                    rules.process(&mut events);
                }
                risk.process(&mut pipeline, &mut events);
                emit(&mut sink, &mut summary, &mut events)?;
            }
            if packets % 4096 == 0 {
                if let Some(bar) = &progress {
                    bar.set_position(done_bytes + reader.bytes_read());
                }
            }
        }
        done_bytes += reader.bytes_read();
    }
    if let Some(web) = web.as_mut() {
        web.finish(&mut |events| {
            intel.process(events);
            if let Some(rules) = rules.as_mut() {
                rules.process(events);
                web_http.drop(events);
            }
            risk.process(&mut pipeline, events);
            emit(&mut sink, &mut summary, events)
        })?;
        last_ts = last_ts.max(web.last_time());
    }
    pipeline.finish(&mut events);
    detect(anomalies.as_mut(), last_ts, &mut events, true);
    intel.process(&mut events);
    if let Some(rules) = rules.as_mut() {
        rules.process(&mut events);
        rules.finish(&mut events);
    }
    risk.process(&mut pipeline, &mut events);
    emit(&mut sink, &mut summary, &mut events)?;
    let mut stats = pipeline.stats();
    for (name, n) in anomalies.iter().flat_map(AnomalyEngine::counters) {
        stats.add("anomaly", name, n);
    }
    risk.finish(&mut pipeline, &mut stats)?;
    intel.add_stats(&mut stats);
    if let Some(rules) = rules {
        rules.close(&mut stats);
    }
    if let Some(web) = &web {
        web.add_stats(&mut stats);
    }
    stats.inputs = args.files.iter().map(|p| p.display().to_string()).collect();
    summary.absorb_stats(&stats);
    let stats_event = Event::new(last_ts, Body::Stats(stats));
    sink.write(&stats_event)
        .context("cannot write the stats record")?;
    sink.finish().context("cannot flush output")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    diagnostics.print_suppressed();
    if !args.quiet {
        if any_capture {
            summary
                .print(&mut std::io::stderr().lock())
                .context("cannot write the summary")?;
        }
        if let Some(web) = web.as_ref().filter(|w| w.any()) {
            web.print_report(&mut std::io::stderr().lock())
                .context("cannot write the bot report")?;
        }
    }
    let web_skipped = web_problem
        || web.as_ref().is_some_and(|w| {
            w.bad_lines() > 0 || w.files_read() < logs.iter().filter(|l| **l).count()
        });
    // The compiled ruleset is, with ET Open, hundreds of thousands of
    // allocations that take longer to free one by one than the process takes
    // to exit: leave it to the OS. Its findings and counters are written
    // above; the rest of the pipeline (evidence writers) is dropped as usual.
    std::mem::forget(pipeline.take_inspector());
    drop(pipeline);
    Ok(
        if diagnostics.anything_skipped() || summary.skipped_packets() > 0 || web_skipped {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// Run the anomaly detectors over `events` (event time is now `now`) and
/// append their findings; `end` closes every window.
fn detect(engine: Option<&mut AnomalyEngine>, now: Timestamp, events: &mut Vec<Event>, end: bool) {
    let Some(engine) = engine else {
        return;
    };
    let mut findings = Vec::new();
    for event in events.iter() {
        engine.observe(event, &mut findings);
    }
    engine.tick(now, &mut findings);
    if end {
        engine.finish(&mut findings);
    }
    events.append(&mut findings);
}

fn emit(
    sink: &mut EventSink,
    summary: &mut Summary,
    events: &mut Vec<Event>,
) -> anyhow::Result<()> {
    for event in events.drain(..) {
        summary.observe(&event);
        sink.write(&event).context("cannot write event")?;
    }
    Ok(())
}

/// Whether logged requests stay in the output after the rules saw them.
struct HttpRecords {
    keep: bool,
}

impl HttpRecords {
    fn drop(&self, events: &mut Vec<Event>) {
        if !self.keep {
            events.retain(|e| !matches!(e.body, Body::Http(_)));
        }
    }
}

fn progress_bar(total: u64, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
