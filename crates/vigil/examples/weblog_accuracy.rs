//! The bot detector's accuracy on labelled traffic (`bench/weblog-accuracy.sh`).
//!
//! ```text
//! weblog_accuracy --vigil target/release/vigil [--scale N] [--seed S] [--mode direct|nginx|both] [--work DIR]
//! ```
//!
//! Generates `vigil-webgen`'s scenarios (people, crawlers, scrapers,
//! credential stuffers, scanners, a flash sale, a NAT gateway) at `--scale`,
//! logged by a real nginx and/or written directly; starts a local dnsmasq
//! that answers for the verified crawlers as Google's and Microsoft's DNS
//! would (see `tests/common/weblog.rs`); runs `vigil analyze` on each log
//! with the generator's `log_format`; and prints precision, recall and F1
//! per class and for bots overall, and the people flagged in the flash
//! sale and NAT gateway scenarios, as markdown.

#[path = "../tests/common/weblog.rs"]
mod weblog;

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use vigil_webgen::{Config, Lists, NginxOptions, Scenario};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let vigil =
        PathBuf::from(arg(&args, "--vigil").unwrap_or_else(|| "target/release/vigil".into()));
    let scale: u32 = arg(&args, "--scale").map_or(Ok(1), |s| s.parse())?;
    let seed: u64 = arg(&args, "--seed").map_or(Ok(1), |s| s.parse())?;
    let mode = arg(&args, "--mode").unwrap_or_else(|| "both".into());
    let work = match arg(&args, "--work") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("vigil-weblog-accuracy-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work)?;
    let config = Config {
        seed,
        scale,
        ..Config::default()
    };
    let scenario = Scenario::generate(&config, &Lists::builtin());
    let labels = scenario.labels();
    let dnsmasq = vigil_testkit::find_on_path("dnsmasq")
        .or_else(|| Some(PathBuf::from("/usr/sbin/dnsmasq")).filter(|p| p.is_file()));
    let dns = match &dnsmasq {
        Some(bin) => {
            Some(weblog::CrawlerDns::start(bin, &work, &labels).context("starting dnsmasq")?)
        }
        None => None,
    };
    println!(
        "Scenario: seed {seed}, scale {scale}: {} requests from {} actors, {} labelled entities.\n",
        scenario.len(),
        scenario.actor_count(),
        labels.len()
    );
    let modes: Vec<&str> = match mode.as_str() {
        "both" => vec!["direct", "nginx"],
        m => vec![m],
    };
    for m in modes {
        let log = work.join(format!("access-{m}.log"));
        if m == "nginx" {
            let nginx = vigil_testkit::find_on_path("nginx")
                .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
                .context("nginx not found")?;
            vigil_webgen::run_nginx(&scenario, &NginxOptions::new(nginx), &log)
                .context("running nginx")?;
        } else {
            let file = std::fs::File::create(&log)?;
            vigil_webgen::write_log(&scenario, false, BufWriter::new(file))?;
        }
        let (findings, secs) = analyze(&vigil, &log, dns.as_ref().map(|d| d.addr))?;
        let predictions = weblog::predictions(&findings);
        let eval = vigil_webgen::evaluate(&labels, &predictions);
        println!(
            "### {} log ({} lines, vigil analyze {secs:.2} s{})\n",
            if m == "nginx" {
                "nginx's"
            } else {
                "direct-mode"
            },
            scenario.len(),
            if dns.is_some() {
                ", crawlers verified against a local dnsmasq"
            } else {
                ", no DNS (dnsmasq missing)"
            }
        );
        println!("{}", eval.markdown());
        if arg(&args, "--work").is_some() {
            std::fs::write(work.join(format!("findings-{m}.jsonl")), &findings)?;
            vigil_webgen::write_labels(
                &labels,
                BufWriter::new(std::fs::File::create(work.join("labels.jsonl"))?),
            )?;
        } else {
            std::fs::remove_file(&log).ok();
        }
    }
    if arg(&args, "--work").is_none() {
        std::fs::remove_dir_all(&work).ok();
    }
    Ok(())
}

/// Run `vigil analyze` on `log`; its stdout and the wall time.
fn analyze(
    vigil: &Path,
    log: &Path,
    dns: Option<std::net::SocketAddr>,
) -> anyhow::Result<(String, f64)> {
    let mut cmd = Command::new(vigil);
    cmd.arg("analyze").arg(log).args([
        "--quiet",
        "--log-format",
        &vigil_webgen::log_format(true, false),
        "--log-time-field",
        "http_x_vigil_time",
    ]);
    match dns {
        Some(addr) => cmd.args(["--rdns-resolver", &addr.to_string()]),
        None => cmd.arg("--no-rdns"),
    };
    let started = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("running {}", vigil.display()))?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.code().is_some_and(|c| c <= 1),
        "vigil analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((String::from_utf8(out.stdout)?, secs))
}
