//! `vigil-webgen`: labelled web traffic, through a real nginx or written directly.
//!
//! ```text
//! vigil-webgen --seed 1 --scale 10 --out DIR [--direct] [--sec-lists DIR]
//! ```
//!
//! Writes `DIR/access.log` (nginx's log, or direct mode's identical lines) and
//! `DIR/labels.jsonl` (one line per entity), and prints the `log_format` used.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use vigil_webgen::{
    log_format, run_nginx, write_labels, write_log, Config, Lists, LogTime, NginxOptions, Scenario,
};

/// Generate labelled web traffic (people, crawlers, scrapers, credential stuffers,
/// scanners, a flash sale, a NAT gateway) and its nginx access log.
#[derive(Debug, Parser)]
#[command(name = "vigil-webgen", version)]
struct Args {
    /// Seed: the same seed and options give the same traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Multiplies every scenario's actors (scale 1 is about 20,000 requests over two hours).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Simulated duration in seconds.
    #[arg(long, default_value_t = Config::DEFAULT_DURATION_SECS)]
    duration: u64,
    /// Simulated start, seconds since the Unix epoch.
    #[arg(long, default_value_t = Config::DEFAULT_START_UNIX)]
    start: i64,
    /// Output directory (access.log, labels.jsonl).
    #[arg(long)]
    out: PathBuf,
    /// Write the log directly (no nginx), byte for byte what nginx would log.
    #[arg(long)]
    direct: bool,
    /// nginx binary (default: nginx on PATH or /usr/sbin/nginx).
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// Keep-alive connections to nginx.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Let nginx log its real time (plain combined format), pacing requests on the wall
    /// clock at this many simulated seconds per second; for short runs.
    #[arg(long)]
    real_time: Option<f64>,
    /// Append the session cookie to each line as one more quoted field.
    #[arg(long)]
    session_field: bool,
    /// Read crawler ranges, scanner agents and probes from a sec-lists directory instead
    /// of the embedded excerpt.
    #[arg(long)]
    sec_lists: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber_init();
    let args = Args::parse();
    let lists = match &args.sec_lists {
        Some(dir) => Lists::from_sec_lists(dir)
            .with_context(|| format!("reading sec-lists from {}", dir.display()))?,
        None => Lists::builtin(),
    };
    let config = Config {
        seed: args.seed,
        scale: args.scale,
        start_unix: args.start,
        duration_secs: args.duration,
    };
    let started = Instant::now();
    let scenario = Scenario::generate(&config, &lists);
    let generated = started.elapsed().as_secs_f64();
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let log_path = args.out.join("access.log");
    let labels_path = args.out.join("labels.jsonl");
    let simulated = args.real_time.is_none() || args.direct;
    let sending = Instant::now();
    if args.direct {
        let file =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        write_log(
            &scenario,
            args.session_field,
            BufWriter::with_capacity(1 << 20, file),
        )
        .with_context(|| format!("writing {}", log_path.display()))?;
    } else {
        let nginx = args
            .nginx
            .clone()
            .or_else(find_nginx)
            .context("nginx not found on PATH or in /usr/sbin (install nginx-light, or pass --nginx, or use --direct)")?;
        let options = NginxOptions {
            connections: args.connections,
            time: args
                .real_time
                .map_or(LogTime::Simulated, |speedup| LogTime::Real { speedup }),
            session: args.session_field,
            ..NginxOptions::new(nginx)
        };
        let summary = run_nginx(&scenario, &options, &log_path)
            .context("running the scenario through nginx")?;
        eprintln!(
            "nginx on port {} answered {} requests over {} connections; statuses {:?}; {} differed from the site model",
            summary.port, summary.requests, summary.connections_opened, summary.statuses, summary.unexpected_status
        );
    }
    let secs = sending.elapsed().as_secs_f64();
    let labels = scenario.labels();
    let file = File::create(&labels_path)
        .with_context(|| format!("creating {}", labels_path.display()))?;
    write_labels(&labels, BufWriter::new(file))
        .with_context(|| format!("writing {}", labels_path.display()))?;
    eprintln!(
        "{} requests from {} actors ({} labelled entities) generated in {generated:.2} s, logged {} in {secs:.2} s ({:.0} requests/s)",
        scenario.len(),
        scenario.actor_count(),
        labels.len(),
        if args.direct { "directly" } else { "by nginx" },
        scenario.len() as f64 / secs.max(1e-9),
    );
    eprintln!("wrote {} and {}", log_path.display(), labels_path.display());
    println!(
        "log_format vigil '{}';",
        log_format(simulated, args.session_field)
    );
    Ok(())
}

fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

fn tracing_subscriber_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
