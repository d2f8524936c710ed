//! The `vigil` binary: CLI subcommands that wire Vigil's crates together.

mod actions;
mod analyze;
mod bots;
mod config;
mod detect;
mod intel;
mod output;
mod pcap_cmd;
mod report;
mod risk;
mod rule_stage;
mod rules;
mod weblog;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the pipeline makes and drops many
/// small, short-lived records (events, strings, buffers) and loading a
/// large ruleset makes hundreds of thousands of allocations; with ET Open
/// loaded glibc's malloc and free were about 15% of `vigil analyze`'s time.
/// Built with `no_thp` (see Cargo.toml): no transparent huge pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Vigil watches servers and networks, explains what it sees, and acts.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the analyze options does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline over capture files or web logs offline and write events.
    Analyze(analyze::AnalyzeArgs),
    /// Work with the rolling pcap backup (`vigil analyze --pcap-ring DIR`).
    Pcap(pcap_cmd::PcapArgs),
    /// Work with detection configuration files (`vigil analyze --detection-config`).
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Work with signature rule files.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Bot control centre: decisions, exports, labels, learning, live watch.
    #[command(subcommand)]
    Bots(bots::BotsCommand),
    /// Threat intelligence: import feeds, look values up, store statistics.
    #[command(subcommand)]
    Intel(intel::IntelCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Config(command) => config::run(command),
        Command::Pcap(args) => pcap_cmd::run(args),
        Command::Rules(command) => rules::run(command),
        Command::Bots(command) => bots::run(command),
        Command::Intel(command) => intel::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("vigil: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// A closed stdout (`vigil analyze x.pcap | head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
