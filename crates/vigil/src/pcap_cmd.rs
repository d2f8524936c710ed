//! `vigil pcap extract`: pull the packets of a time window (and optionally
//! one host) out of the rolling backup written by `vigil analyze
//! --pcap-ring DIR`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vigil_event::Timestamp;
use vigil_net::pcap_ring::{extract, ExtractRequest};

/// `vigil pcap …`.
#[derive(Debug, Args)]
pub struct PcapArgs {
    #[command(subcommand)]
    command: PcapCommand,
}

#[derive(Debug, Subcommand)]
enum PcapCommand {
    /// Write the backup's packets with FROM ≤ time ≤ TO to one pcap.
    Extract(ExtractArgs),
}

/// Options of `vigil pcap extract`.
#[derive(Debug, Args)]
struct ExtractArgs {
    /// The ring directory (`--pcap-ring` of `vigil analyze`).
    #[arg(long, value_name = "DIR")]
    ring: PathBuf,
    /// Start of the window: RFC 3339 (2024-04-01T12:00:00.5Z) or seconds
    /// since the epoch (1711972800.5).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Timestamp,
    /// End of the window (included), in the same forms.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Timestamp,
    /// Only packets from or to this address.
    #[arg(long, value_name = "IP")]
    host: Option<IpAddr>,
    /// The pcap to write.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Run `vigil pcap …`.
pub fn run(args: PcapArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PcapCommand::Extract(a) => {
            if a.to < a.from {
                anyhow::bail!("--to is before --from");
            }
            let req = ExtractRequest {
                from: a.from,
                to: a.to,
                host: a.host,
            };
            let stats = extract(&a.ring, &req, &a.output).with_context(|| {
                format!("cannot extract from the pcap ring {}", a.ring.display())
            })?;
            eprintln!(
                "wrote {} packets to {} (from {} ring files)",
                stats.packets_written,
                a.output.display(),
                stats.files_read
            );
            let skipped = stats.skipped_linktype + stats.skipped_undecodable + stats.capture_errors;
            if stats.skipped_linktype > 0 {
                eprintln!(
                    "left out {} packets of another link type than the first packet's",
                    stats.skipped_linktype
                );
            }
            if stats.skipped_undecodable > 0 {
                eprintln!(
                    "left out {} packets whose addresses could not be read",
                    stats.skipped_undecodable
                );
            }
            if stats.capture_errors > 0 {
                eprintln!("{} corrupt records in ring files", stats.capture_errors);
            }
            Ok(if skipped > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// RFC 3339, or decimal seconds since the epoch.
fn parse_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return dt
            .timestamp_nanos_opt()
            .map(Timestamp::from_nanos)
            .ok_or_else(|| format!("time out of range: {s}"));
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let bad = || format!("not an RFC 3339 time or epoch seconds: {s:?}");
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(if secs < 0 { -nanos } else { nanos }))
        .map(Timestamp::from_nanos)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_epoch() {
        let t = Timestamp::from_nanos(1_711_972_800_500_000_000);
        assert_eq!(parse_time("2024-04-01T12:00:00.5Z"), Ok(t));
        assert_eq!(parse_time("2024-04-01T14:00:00.5+02:00"), Ok(t));
        assert_eq!(parse_time("1711972800.5"), Ok(t));
        assert_eq!(
            parse_time("1711972800.000000001"),
            Ok(Timestamp::from_nanos(1_711_972_800_000_000_001))
        );
        assert_eq!(
            parse_time("1711972800"),
            Ok(Timestamp::from_nanos(1_711_972_800_000_000_000))
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("1.0000000001").is_err());
    }
}
