//! The risk stage of `vigil analyze`: every finding, whatever produced it,
//! is scored (`vigil-risk`) before it is written; a host or flow that
//! reaches `--capture-level` gets an incident pcap (the pipeline's
//! evidence capture); every raw packet can also go to the rolling backup
//! (`--pcap-ring`).
//!
//! Order of work per batch of events: the pipeline has processed a packet
//! (its evidence ring already holds it); [`RiskStage::process`] scores each
//! finding in order, writes each level-crossing summary right after the
//! finding that caused it, starts incidents for crossings at or above the
//! capture level (dumping the ring now, appending later packets), and names
//! the incident pcap on every finding about a host or flow under capture.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vigil_event::{Body, Event, StatsRecord};
use vigil_net::capture::RawPacket;
use vigil_net::evidence::{CaptureTarget, Evidence};
use vigil_net::pcap_ring::{PcapRing, RingConfig};
use vigil_net::pipeline::Pipeline;
use vigil_risk::{Level, RiskScorer, Target};

use crate::config::DetectionConfig;

/// Risk scoring, evidence capture and the rolling backup (`vigil analyze`).
/// The options without a default here override `--detection-config`
/// (`[risk]`, `[evidence]`), whose defaults are given.
#[derive(Debug, Clone, Args)]
pub struct RiskArgs {
    /// Half-life of risk scores, in seconds of event time (overrides --detection-config; built-in default 300).
    #[arg(long, value_name = "SECS")]
    pub risk_half_life: Option<f64>,
    /// Write incident pcaps (and incidents.jsonl) into DIR. Default: the
    /// `incidents` directory inside --out; without --out and without this
    /// option no evidence is captured.
    #[arg(long, value_name = "DIR")]
    pub evidence_dir: Option<PathBuf>,
    /// Capture no evidence (no per-flow rings, no incident pcaps).
    #[arg(long, conflicts_with = "evidence_dir")]
    pub no_evidence: bool,
    /// Risk level (low, medium, high, critical) at which a host's or flow's
    /// packets are written to an incident pcap (overrides --detection-config; built-in default medium).
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub capture_level: Option<Level>,
    /// Packets kept per flow for evidence from before a trigger (overrides --detection-config; built-in default 64).
    #[arg(long, value_name = "N")]
    pub evidence_ring_packets: Option<usize>,
    /// Frame bytes kept per flow for evidence from before a trigger
    /// (overrides --detection-config; built-in default 262144).
    #[arg(long, value_name = "BYTES")]
    pub evidence_ring_bytes: Option<usize>,
    /// Frame bytes kept for evidence over all flows (overrides --detection-config; built-in default 67108864).
    #[arg(long, value_name = "BYTES")]
    pub evidence_budget_bytes: Option<usize>,
    /// Keep a rolling pcap backup of every packet read in DIR, with an
    /// index (index.jsonl) from time range to file (`vigil pcap extract`).
    #[arg(long, value_name = "DIR")]
    pub pcap_ring: Option<PathBuf>,
    /// Largest backup file, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub pcap_ring_file_bytes: u64,
    /// Event time one backup file covers, in seconds.
    #[arg(long, default_value_t = 3600.0, value_name = "SECS")]
    pub pcap_ring_file_secs: f64,
    /// Backup files kept (the oldest is deleted beyond it).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub pcap_ring_files: usize,
    /// Backup bytes kept (the oldest files are deleted beyond it).
    #[arg(long, default_value_t = 4 * 1024 * 1024 * 1024, value_name = "BYTES")]
    pub pcap_ring_bytes: u64,
}

fn parse_level(s: &str) -> Result<Level, String> {
    s.parse::<Level>().map_err(|e| e.to_string())
}

/// Scorer, capture trigger and backup writer for one run.
#[derive(Debug)]
pub struct RiskStage {
    scorer: RiskScorer,
    capture_level: Level,
    evidence: bool,
    ring: Option<PcapRing>,
}

impl RiskStage {
    /// Build the stage; turns evidence capture on in `pipeline` when there
    /// is a directory for it, and opens the backup ring.
    pub fn new(
        args: &RiskArgs,
        config: &DetectionConfig,
        out: Option<&Path>,
        pipeline: &mut Pipeline,
    ) -> anyhow::Result<Self> {
        let mut risk = config.risk.clone();
        if let Some(half_life) = args.risk_half_life {
            if !(half_life.is_finite() && half_life > 0.0) {
                anyhow::bail!("--risk-half-life must be a positive number of seconds");
            }
            risk.half_life_secs = half_life;
        }
        let scorer = RiskScorer::new(risk);
        let mut settings = config.evidence.clone();
        let e = &mut settings;
        e.capture_level = args.capture_level.unwrap_or(e.capture_level);
        e.ring_packets = args.evidence_ring_packets.unwrap_or(e.ring_packets);
        e.ring_bytes = args.evidence_ring_bytes.unwrap_or(e.ring_bytes);
        e.budget_bytes = args.evidence_budget_bytes.unwrap_or(e.budget_bytes);
        let dir = args
            .evidence_dir
            .clone()
            .or_else(|| out.map(|o| o.join("incidents")))
            .filter(|_| !args.no_evidence);
        let evidence = dir.is_some();
        if let Some(dir) = dir {
            pipeline.set_evidence(Evidence::new(settings.to_config(dir)));
        }
        let ring = match &args.pcap_ring {
            Some(dir) => {
                let span = Duration::try_from_secs_f64(args.pcap_ring_file_secs)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .context("--pcap-ring-file-secs must be a positive number of seconds")?;
                let config = RingConfig {
                    max_file_bytes: args.pcap_ring_file_bytes,
                    max_file_span: span,
                    max_files: args.pcap_ring_files,
                    max_total_bytes: args.pcap_ring_bytes,
                    ..RingConfig::new(dir)
                };
                Some(PcapRing::open(config).context("cannot open the pcap ring")?)
            }
            None => None,
        };
        Ok(Self {
            scorer,
            capture_level: settings.capture_level,
            evidence,
            ring,
        })
    }

    /// One raw packet as read: into the backup ring, when on.
    pub fn packet(&mut self, raw: &RawPacket<'_>) -> anyhow::Result<()> {
        if let Some(ring) = &mut self.ring {
            ring.write(raw).context("cannot write the pcap ring")?;
        }
        Ok(())
    }

    /// Score the findings in `events` (see the module docs).
    pub fn process(&mut self, pipeline: &mut Pipeline, events: &mut Vec<Event>) {
        if !events.iter().any(|e| matches!(e.body, Body::Finding(_))) {
            return;
        }
        let mut out = Vec::with_capacity(events.len() + 4);
        for mut event in events.drain(..) {
            let crossings = self.scorer.observe(&mut event);
            let mut summaries = Vec::with_capacity(crossings.len());
            for crossing in crossings {
                let mut summary = crossing.event;
                if self.evidence && crossing.to >= self.capture_level {
                    if let Some(evidence) = pipeline.evidence_mut() {
                        let target = match crossing.target {
                            Target::Host(ip) => CaptureTarget::Host(ip),
                            Target::Flow(uid) => CaptureTarget::Flow(uid),
                        };
                        match evidence.start(target, event.time_ns) {
                            Ok(Some(path)) => {
                                if let Body::Finding(f) = &mut summary.body {
                                    f.incident_pcap = Some(path.display().to_string());
                                }
                            }
                            Ok(None) => {}
                            Err(error) => {
                                tracing::warn!(%error, "cannot start incident capture");
                            }
                        }
                    }
                }
                summaries.push(summary);
            }
            if self.evidence {
                if let (Body::Finding(f), Some(evidence)) =
                    (&mut event.body, pipeline.evidence_mut())
                {
                    if f.incident_pcap.is_none() {
                        let uid = f.connection_info.as_ref().map(|c| c.uid.as_str());
                        let hosts: Vec<IpAddr> = f
                            .src_endpoint
                            .iter()
                            .chain(f.dst_endpoint.iter())
                            .map(|e| e.ip)
                            .collect();
                        f.incident_pcap = evidence
                            .incident_for(uid, &hosts)
                            .map(|p| p.display().to_string());
                    }
                }
            }
            out.push(event);
            out.extend(summaries);
        }
        *events = out;
    }

    /// End of the run: close incidents and the backup, add the counters to
    /// `stats` (groups `risk`, `evidence` when any incident was triggered,
    /// `pcap_ring`).
    pub fn finish(
        &mut self,
        pipeline: &mut Pipeline,
        stats: &mut StatsRecord,
    ) -> anyhow::Result<()> {
        let mut put = |group: &str, counters: Vec<(&'static str, u64)>| {
            for (name, n) in counters {
                if n > 0 {
                    stats.add(group, name, n);
                }
            }
        };
        put("risk", self.scorer.counters());
        if let Some(evidence) = pipeline.evidence_mut() {
            evidence.finish();
            // Only a run that triggered capture reports it, so the stats of
            // a run without incidents do not depend on whether --out (and
            // so the evidence directory) was given.
            let s = evidence.stats();
            if s.incidents + s.incidents_refused > 0 {
                put("evidence", evidence.counters());
            }
        }
        if let Some(ring) = &mut self.ring {
            ring.finish().context("cannot finish the pcap ring")?;
            put("pcap_ring", ring.counters());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::BufReader;

    use clap::Parser;
    use vigil_event::{
        Analytic, ConnectionInfo, Endpoint, Finding, FindingInfo, Severity, Subject, Timestamp,
    };
    use vigil_net::capture::CaptureReader;
    use vigil_net::pipeline::PipelineConfig;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        risk: RiskArgs,
    }

    fn sample() -> CaptureReader<BufReader<File>> {
        let path = vigil_testkit::repo_root().join("examples/capture/sample.pcap");
        CaptureReader::new(BufReader::new(File::open(path).unwrap())).unwrap()
    }

    fn alert(uid: &str, flow: &str, ts: Timestamp) -> Event {
        let ip = "127.0.0.1".parse().unwrap();
        let finding = Finding {
            finding_info: FindingInfo {
                uid: uid.into(),
                title: "test alert".into(),
                desc: None,
                types: vec!["signature".into()],
                analytic: Analytic {
                    uid: "sig:9000001".into(),
                    name: "test".into(),
                    type_id: 1,
                    type_name: "Rule".into(),
                    category: None,
                },
                first_seen_time: None,
                last_seen_time: None,
            },
            subject: Subject {
                kind: "flow".into(),
                value: flow.into(),
            },
            src_endpoint: Some(Endpoint::new(ip, 59824)),
            dst_endpoint: Some(Endpoint::new(ip, 8080)),
            connection_info: Some(ConnectionInfo::tcp(flow, "1:x")),
            rule: None,
            evidence: Default::default(),
            risk_score: None,
            risk_level: None,
            remediation: None,
            incident_pcap: None,
        };
        Event::new(ts, Body::Finding(finding)).with_severity(Severity::High)
    }

    /// Findings injected mid-capture are scored, their crossings start
    /// incidents whose pcaps hold the flow from its first packet, and every
    /// finding about the flow names the pcap.
    #[test]
    fn crossing_at_capture_level_writes_an_incident_named_on_the_findings() {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = Pipeline::new(PipelineConfig::default());
        let uid = p
            .run_capture(&mut sample())
            .events
            .iter()
            .find_map(|e| match &e.body {
                Body::Flow(f) if f.src_endpoint.port == Some(59824) => {
                    Some(f.connection_info.uid.clone())
                }
                _ => None,
            })
            .unwrap();
        let args = Cli::parse_from(["t", "--capture-level", "high"]).risk;
        let mut p = Pipeline::new(PipelineConfig::default());
        let mut stage =
            RiskStage::new(&args, &DetectionConfig::default(), Some(tmp.path()), &mut p).unwrap();
        let mut written = Vec::new();
        let mut events = Vec::new();
        let mut reader = sample();
        let mut injected = 0;
        while let Some(item) = reader.next_packet() {
            let packet = item.unwrap();
            stage.packet(&packet).unwrap();
            p.process(&packet, &mut events).unwrap();
            let held = p.evidence_mut().unwrap().ring_len(&uid);
            if (held == 10 || held == 20) && injected < held / 10 {
                injected += 1;
                events.push(alert(&format!("a{injected}"), &uid, packet.ts));
            }
            stage.process(&mut p, &mut events);
            written.append(&mut events);
        }
        p.finish(&mut events);
        stage.process(&mut p, &mut events);
        written.append(&mut events);
        let mut stats = StatsRecord::default();
        stage.finish(&mut p, &mut stats).unwrap();

        let findings: Vec<&vigil_event::Finding> = written
            .iter()
            .filter_map(|e| match &e.body {
                Body::Finding(f) => Some(f),
                _ => None,
            })
            .collect();
        let titles: Vec<&str> = findings
            .iter()
            .map(|f| f.finding_info.title.as_str())
            .collect();
        let flow_high = format!("Flow {uid} reached risk level high");
        assert_eq!(
            titles,
            vec![
                "test alert",
                "Host 127.0.0.1 reached risk level medium",
                &format!("Flow {uid} reached risk level medium"),
                "test alert",
                "Host 127.0.0.1 reached risk level high",
                &flow_high,
            ]
        );
        // Medium is below the capture level: no incident for the first alert.
        assert_eq!(findings[0].incident_pcap, None);
        assert_eq!(findings[0].risk_level.as_deref(), Some("Medium"));
        assert!(findings[0]
            .remediation
            .as_ref()
            .unwrap()
            .desc
            .starts_with("capture:"));
        let flow_pcap = findings[5].incident_pcap.clone().unwrap();
        assert!(flow_pcap.ends_with(&format!("incident-0002-flow-{uid}.pcap")));
        assert_eq!(
            findings[3].incident_pcap.as_deref(),
            Some(flow_pcap.as_str())
        );
        assert!(findings[4]
            .incident_pcap
            .as_deref()
            .unwrap()
            .ends_with("incident-0001-host-127.0.0.1.pcap"));
        // The flow's pcap: its 20 packets before the trigger and the 44 after.
        let mut r = CaptureReader::new(File::open(&flow_pcap).unwrap()).unwrap();
        let mut n = 0;
        while let Some(item) = r.next_packet() {
            item.unwrap();
            n += 1;
        }
        assert_eq!(n, 64);
        assert_eq!(stats.get("risk", "findings_scored"), 2);
        assert_eq!(stats.get("risk", "level_crossings"), 4);
        assert_eq!(stats.get("evidence", "incidents"), 2);
        assert!(stats.get("evidence", "packets_before_trigger") > 20);
    }
}
