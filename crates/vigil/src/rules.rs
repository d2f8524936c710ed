//! `vigil rules check FILE.rules…`: load rule files the way the signature
//! engine does and print the load summary: per file, skipped rules by
//! reason with a few examples (file:line), inactive (commented-out) rules
//! and duplicates. The last line reads `accepted N of M rules`, M being the
//! active rules. Exit status: 0 when every active rule loads, 1 when some
//! were skipped, 2 when a file cannot be read.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vigil_sig::engine::{CompileSummary, SignatureEngine};
use vigil_sig::load::{load_files, LoadSummary};
use vigil_sig::vars::Vars;

/// `vigil rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rule files and print what was accepted and what was skipped, by reason.
    Check(CheckArgs),
}

/// Options of `vigil rules check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files (Suricata syntax).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Set an address variable, e.g. `HOME_NET=[10.0.0.0/8]` (repeatable).
    #[arg(long = "address-var", value_name = "NAME=VALUE")]
    pub address_vars: Vec<String>,
    /// Set a port variable, e.g. `HTTP_PORTS=[80,8080]` (repeatable).
    #[arg(long = "port-var", value_name = "NAME=VALUE")]
    pub port_vars: Vec<String>,
    /// Example rules printed per skip reason.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub examples: usize,
}

/// Run a `vigil rules` subcommand.
pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut vars = Vars::default();
    for (list, is_port) in [(&args.address_vars, false), (&args.port_vars, true)] {
        for assignment in list {
            let (name, value) = assignment
                .split_once('=')
                .with_context(|| format!("variable {assignment:?} is not NAME=VALUE"))?;
            if is_port {
                vars.set_port(name, value);
            } else {
                vars.set_addr(name, value);
            }
        }
    }
    let (rules, summary) = load_files(&args.files, &vars).context("loading rules")?;
    // A rule counts as accepted only when the engine compiles it too (a
    // pcre neither regex engine takes, a keyword the engine does not run).
    let (_engine, compiled) = SignatureEngine::compile(rules);
    let mut out = std::io::stdout().lock();
    print_summary(&mut out, &summary, &compiled, args.examples).context("writing the summary")?;
    Ok(if compiled.compiled == summary.active() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The human summary; the last line is `accepted N of M rules`.
pub fn print_summary(
    out: &mut impl Write,
    summary: &LoadSummary,
    compiled: &CompileSummary,
    examples: usize,
) -> std::io::Result<()> {
    for file in &summary.files {
        writeln!(
            out,
            "{}: {} active, {} accepted, {} skipped, {} inactive",
            file.path, file.active, file.accepted, file.skipped, file.inactive
        )?;
    }
    let reasons = summary.reasons();
    if !reasons.is_empty() {
        writeln!(out, "skipped {} rules by reason:", summary.skipped_total())?;
        for (reason, count) in reasons {
            writeln!(out, "  {:6}  {reason}", count.count)?;
            for example in count.examples.iter().take(examples) {
                writeln!(out, "            {}", example.detail)?;
            }
        }
    }
    writeln!(
        out,
        "{} inactive (commented-out) rules not counted; {} duplicates; loaded in {} ms",
        summary.inactive(),
        summary.duplicates,
        summary.elapsed.as_millis()
    )?;
    let engine_rejected = compiled.rules_in.saturating_sub(compiled.compiled);
    if engine_rejected > 0 {
        writeln!(
            out,
            "the engine rejected {engine_rejected} loaded rules by reason:"
        )?;
        for (reason, n) in &compiled.rejected {
            writeln!(out, "  {n:6}  {reason}")?;
        }
    }
    writeln!(
        out,
        "compiled in {} ms: {} prefilter patterns in {} automata ({} MiB)",
        compiled.elapsed.as_millis(),
        compiled.patterns,
        compiled.automata,
        compiled.prefilter_bytes / (1024 * 1024)
    )?;
    writeln!(
        out,
        "accepted {} of {} rules",
        compiled.compiled,
        summary.active()
    )
}
