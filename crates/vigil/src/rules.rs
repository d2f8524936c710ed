//! `vigil rules …`: check, format and test rules.
//!
//! - `check PATH…`: Suricata rule files (`.rules`) are loaded the way the
//!   signature engine does: per file, skipped rules by reason with a few
//!   examples (file:line), inactive (commented-out) rules and duplicates.
//!   Vigil rule files and Sigma rules (`.yml`/`.yaml`, directories searched)
//!   are parsed and checked against the event schema; each accepted rule is
//!   shown with its condition as infix text and as a tree, each rejected
//!   one with its reason. The last line reads `accepted N of M rules`.
//!   Exit status: 0 when every rule loads, 1 when some were not accepted,
//!   2 when a file cannot be read.
//! - `fmt FILE…`: Vigil rule files rewritten in canonical form (conditions
//!   as canonical infix text); a Sigma file comes out as the Vigil rules it
//!   imports to.
//! - `test RULES EVENTS.jsonl EXPECTED.jsonl`: run the rules over the
//!   events and compare the findings with the expected ones.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vigil_event::Event;
use vigil_rules::correlate::CorrelatorConfig;
use vigil_rules::expr;
use vigil_rules::ruleset::{self, RuleSet};
use vigil_rules::sigma::Mapping;
use vigil_sig::engine::{CompileSummary, SignatureEngine};
use vigil_sig::load::{load_files, LoadSummary};
use vigil_sig::vars::Vars;

/// `vigil rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rule files and print what was accepted and what was skipped, by reason.
    Check(CheckArgs),
    /// Print Vigil rule files in canonical form (Sigma files as the Vigil
    /// rules they import to).
    Fmt(FmtArgs),
    /// Run rules over events (JSON Lines) and compare the findings with the
    /// expected ones (JSON Lines, each a subset of the finding it stands for).
    Test(TestArgs),
}

/// Options of `vigil rules fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Rule files (.yml/.yaml) or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Rewrite Vigil rule files in place instead of printing them (comments
    /// are not kept).
    #[arg(long)]
    pub write: bool,
    /// Print nothing; exit 1 when a Vigil rule file is not in canonical form.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
}

/// Options of `vigil rules test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Rule file or directory (Vigil rules and Sigma rules).
    #[arg(value_name = "RULES")]
    pub rules: PathBuf,
    /// Events, one JSON object a line (Vigil's event form).
    #[arg(value_name = "EVENTS.jsonl")]
    pub events: PathBuf,
    /// Expected findings, one JSON object a line, in output order; each must
    /// be a subset of the finding at its position.
    #[arg(value_name = "EXPECTED.jsonl")]
    pub expected: PathBuf,
    /// Sigma field mapping to merge over the built-in one.
    #[arg(long, value_name = "FILE")]
    pub sigma_mapping: Option<PathBuf>,
}

/// Options of `vigil rules check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files: Suricata (`.rules`), Vigil or Sigma (`.yml`, `.yaml`), or
    /// directories of Vigil and Sigma rules.
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Sigma field mapping to merge over the built-in one.
    #[arg(long, value_name = "FILE")]
    pub sigma_mapping: Option<PathBuf>,
    /// Do not print each accepted Vigil/Sigma rule's condition.
    #[arg(long)]
    pub brief: bool,
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
        RulesCommand::Fmt(args) => fmt(args),
        RulesCommand::Test(args) => test(args),
    }
}

/// True for a Suricata rule file (by its extension).
pub fn is_suricata(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "rules")
}

/// The Sigma field mapping: built in, with a user file merged over it.
pub fn sigma_mapping(user: Option<&std::path::Path>) -> anyhow::Result<Mapping> {
    let builtin = Mapping::builtin();
    Ok(match user {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let user = Mapping::from_yaml(&path.display().to_string(), &text)
                .with_context(|| format!("sigma mapping {}", path.display()))?;
            builtin.merged(user)
        }
        None => builtin,
    })
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (suricata, yaml): (Vec<PathBuf>, Vec<PathBuf>) =
        args.files.iter().cloned().partition(|p| is_suricata(p));
    let mut accepted = 0usize;
    let mut total = 0usize;
    let mut out = std::io::stdout().lock();
    if !suricata.is_empty() {
        let (a, t) = check_suricata(&args, &suricata, &mut out)?;
        accepted += a;
        total += t;
    }
    if !yaml.is_empty() {
        let mapping = sigma_mapping(args.sigma_mapping.as_deref())?;
        let loaded = ruleset::load(&yaml, &mapping).context("reading rules")?;
        print_loaded(&mut out, &loaded, args.brief, args.examples)
            .context("writing the summary")?;
        accepted += loaded.rules.len();
        total += loaded.total();
    }
    if !suricata.is_empty() && !yaml.is_empty() {
        writeln!(out, "accepted {accepted} of {total} rules").context("writing the summary")?;
    }
    Ok(if accepted == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Vigil and Sigma rules: each accepted rule with its condition (infix and
/// tree), rejections by reason with examples; last line `accepted N of M rules`.
fn print_loaded(
    out: &mut impl Write,
    loaded: &ruleset::Loaded,
    brief: bool,
    examples: usize,
) -> std::io::Result<()> {
    if !brief {
        for rule in &loaded.rules {
            let kind = match (&rule.spec.correlation, rule.sigma) {
                (Some(c), _) => format!("correlation {}", c.kind),
                (None, true) => "sigma".to_owned(),
                (None, false) => "rule".to_owned(),
            };
            writeln!(
                out,
                "{} [{kind}, {}] {}  ({})",
                rule.spec.id, rule.spec.severity, rule.spec.title, rule.file
            )?;
            if let Some(e) = &rule.expr {
                writeln!(out, "  condition: {}", expr::to_infix(e))?;
                for line in expr::to_tree(e).lines() {
                    writeln!(out, "    {line}")?;
                }
            }
            if let Some(c) = &rule.spec.correlation {
                writeln!(
                    out,
                    "  over: {}  group by: {}  within: {}",
                    if c.rules.is_empty() {
                        "its condition".to_owned()
                    } else {
                        c.rules.join(", ")
                    },
                    if c.group_by.is_empty() {
                        "-".to_owned()
                    } else {
                        c.group_by.join(", ")
                    },
                    c.timespan
                )?;
            }
        }
    }
    let reasons = loaded.reasons();
    if !reasons.is_empty() {
        writeln!(
            out,
            "not accepted: {} rules by reason:",
            loaded.problems.len()
        )?;
        for (reason, n) in reasons {
            writeln!(out, "  {n:6}  {reason}")?;
            for p in loaded
                .problems
                .iter()
                .filter(|p| p.reason == reason)
                .take(examples)
            {
                writeln!(out, "            {p}")?;
            }
        }
    }
    writeln!(out, "{} rule files read", loaded.files)?;
    writeln!(
        out,
        "accepted {} of {} rules",
        loaded.rules.len(),
        loaded.total()
    )
}

fn fmt(args: FmtArgs) -> anyhow::Result<ExitCode> {
    let sources = vigil_rules::sigma::read_sources(&args.paths).context("reading rules")?;
    let mapping = Mapping::builtin();
    let mut unformatted = 0usize;
    let mut out = std::io::stdout().lock();
    for source in &sources {
        let loaded = ruleset::load_sources(std::slice::from_ref(source), &mapping);
        for p in &loaded.problems {
            eprintln!("{p}");
        }
        if !loaded.problems.is_empty() {
            anyhow::bail!("{}: not every rule loads; nothing formatted", source.name);
        }
        let mut text = String::new();
        for (i, rule) in loaded.rules.iter().enumerate() {
            if i > 0 {
                text.push_str("---\n");
            }
            let mut spec = rule.spec.clone();
            if let Some(e) = &rule.expr {
                spec.condition = Some(expr::to_infix(e));
            }
            text.push_str(&yaml_serde::to_string(&spec).context("printing a rule")?);
        }
        let sigma = loaded.rules.iter().any(|r| r.sigma);
        if args.check {
            if !sigma && text != source.text {
                eprintln!("{}: not in canonical form", source.name);
                unformatted += 1;
            }
        } else if args.write && !sigma {
            if text != source.text {
                std::fs::write(&source.name, &text)
                    .with_context(|| format!("cannot write {}", source.name))?;
                eprintln!("formatted {}", source.name);
            }
        } else {
            if sources.len() > 1 {
                writeln!(out, "# {}", source.name)?;
            }
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(if unformatted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_jsonl(path: &std::path::Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON object", path.display(), n + 1))?;
        values.push(value);
    }
    Ok(values)
}

/// Every key of `expected` is in `actual` with a matching value (objects
/// compared as subsets, arrays element by element with equal lengths).
fn subset(
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    path: &str,
) -> Result<(), String> {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match a.get(k) {
                    Some(av) => subset(ev, av, &p)?,
                    None => return Err(format!("`{p}` is missing")),
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "`{path}` has {} items, expected {}",
                    a.len(),
                    e.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("`{path}` is {a}, expected {e}")),
    }
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let mapping = sigma_mapping(args.sigma_mapping.as_deref())?;
    let loaded =
        ruleset::load(std::slice::from_ref(&args.rules), &mapping).context("reading rules")?;
    for p in &loaded.problems {
        eprintln!("{p}");
    }
    if !loaded.problems.is_empty() {
        anyhow::bail!("{} rules not accepted", loaded.problems.len());
    }
    let mut set = RuleSet::new(&loaded.rules, CorrelatorConfig::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = std::fs::read_to_string(&args.events)
        .with_context(|| format!("cannot read {}", args.events.display()))?;
    let mut findings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event = Event::from_json_line(line)
            .with_context(|| format!("{}:{}: not a Vigil event", args.events.display(), n + 1))?;
        let mut batch = vec![event];
        set.process(&mut batch);
        findings.extend(batch.into_iter().skip(1));
    }
    set.finish(&mut findings);
    let expected = read_jsonl(&args.expected)?;
    let actual: Vec<serde_json::Value> = findings
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .context("serializing findings")?;
    let mut failures = Vec::new();
    for (i, e) in expected.iter().enumerate() {
        match actual.get(i) {
            Some(a) => {
                if let Err(why) = subset(e, a, "") {
                    failures.push(format!("finding {}: {why}", i + 1));
                }
            }
            None => failures.push(format!("finding {}: missing (expected {e})", i + 1)),
        }
    }
    for (i, a) in actual.iter().enumerate().skip(expected.len()) {
        let rule = a["finding_info"]["analytic"]["uid"].as_str().unwrap_or("?");
        failures.push(format!("finding {}: unexpected, from rule '{rule}'", i + 1));
    }
    let mut out = std::io::stdout().lock();
    for f in &failures {
        writeln!(out, "FAIL {f}")?;
    }
    writeln!(
        out,
        "{} events, {} findings, {} expected: {}",
        set.stats().events,
        actual.len(),
        expected.len(),
        if failures.is_empty() { "ok" } else { "FAILED" }
    )?;
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_suricata(
    args: &CheckArgs,
    files: &[PathBuf],
    out: &mut impl Write,
) -> anyhow::Result<(usize, usize)> {
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
    let (rules, summary) = load_files(files, &vars).context("loading rules")?;
    // A rule counts as accepted only when the engine compiles it too (a
    // pcre neither regex engine takes, a keyword the engine does not run).
    let (_engine, compiled) = SignatureEngine::compile(rules);
    print_summary(out, &summary, &compiled, args.examples).context("writing the summary")?;
    Ok((compiled.compiled, summary.active()))
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
