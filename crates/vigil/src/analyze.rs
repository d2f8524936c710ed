//! `vigil analyze FILE…`: captures in, events out (stub: to be completed).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Options of `vigil analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Run the analysis.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    Ok(ExitCode::SUCCESS)
}
