//! `vigil-pcapgen`: writes a large, realistic, mixed capture deterministically from a seed.
//!
//! ```text
//! vigil-pcapgen --size 1GiB --seed 1 -o out.pcap [--summary out.json]
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use vigil_pcapgen::{generate, parse_size, Config};

/// Write a large, realistic, mixed pcap (DNS, HTTP/1.1, TLS 1.2/1.3, SSH, bulk TCP)
/// deterministically from a seed.
#[derive(Debug, Parser)]
#[command(name = "vigil-pcapgen", version)]
struct Args {
    /// Size of the capture (e.g. 1GiB, 256MiB, 100MB).
    #[arg(long, default_value = "1GiB", value_parser = parse_size_arg)]
    size: u64,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sessions running at once.
    #[arg(long, default_value_t = Config::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Let running sessions finish after the size is reached (every message complete).
    #[arg(long)]
    drain: bool,
    /// Output file.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Also write the summary (what was written) as JSON to this file.
    #[arg(long)]
    summary: Option<PathBuf>,
}

fn parse_size_arg(text: &str) -> Result<u64, String> {
    parse_size(text).ok_or_else(|| format!("not a size: {text} (try 1GiB, 256MiB, 100MB)"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config {
        size: args.size,
        seed: args.seed,
        concurrency: args.concurrency,
        drain: args.drain,
        ..Config::default()
    };
    let file = File::create(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let started = Instant::now();
    let summary = generate(&config, BufWriter::with_capacity(1 << 20, file))
        .with_context(|| format!("writing {}", args.output.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.summary {
        let mut out = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        writeln!(out, "{json}").with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "wrote {} ({} bytes, {} packets, {} flows, {:.1} s of traffic) in {:.2} s ({:.0} MB/s)",
        args.output.display(),
        summary.file_bytes,
        summary.packets,
        summary.flows,
        summary.duration_secs,
        secs,
        summary.file_bytes as f64 / secs / 1e6,
    );
    eprintln!("{json}");
    Ok(())
}
