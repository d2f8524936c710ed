//! The detection configuration: every threshold of the anomaly detectors
//! (`vigil-anomaly`), risk scoring (`vigil-risk`) and evidence capture, read
//! from a TOML file (`vigil analyze --detection-config FILE`), and
//! `vigil config defaults` / `vigil config check FILE`.
//!
//! The file's tables are the config structs: `[anomaly]` with one sub-table
//! per detector (`[anomaly.port_scan]`, `[anomaly.syn_flood]`, ...),
//! `[risk]` (with `[risk.thresholds]`, `[risk.points]`), `[evidence]` and
//! `[bots]`, the web-log bot detector (`vigil_weblog::DetectorConfig`:
//! `[bots.entities]`, `[bots.window]`, `[bots.site]`, `[bots.whitelist]`,
//! `[bots.model]`); `vigil analyze --bots-config FILE` reads the `[bots]`
//! table alone from a file of its own.
//! A missing key keeps its default; an unknown key, a wrong type or an
//! impossible value is an error naming the file, the line and the key.
//!
//! The defaults are printed from a written template
//! (`detection-defaults.toml`, with a comment on every setting) rather
//! than serialized, so they carry their explanations; the tests hold the
//! template to the Rust defaults, key for key and value for value.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use vigil_anomaly::AnomalyConfig;
use vigil_net::evidence::EvidenceConfig;
use vigil_risk::{Level, RiskConfig};
use vigil_weblog::DetectorConfig;

/// The default configuration, commented (`vigil config defaults`).
pub const DEFAULTS_TOML: &str = include_str!("detection-defaults.toml");

/// Everything `--detection-config` can set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionConfig {
    /// The anomaly detectors.
    pub anomaly: AnomalyConfig,
    /// Risk scoring.
    pub risk: RiskConfig,
    /// Evidence capture.
    pub evidence: EvidenceSettings,
    /// The web-log bot detector.
    pub bots: DetectorConfig,
}

/// Evidence capture settings: the capture trigger and
/// [`EvidenceConfig`]'s limits (its directory comes from the command line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceSettings {
    /// Level at which a host's or flow's packets go to an incident pcap.
    pub capture_level: Level,
    /// See [`EvidenceConfig::ring_packets`].
    pub ring_packets: usize,
    /// See [`EvidenceConfig::ring_bytes`].
    pub ring_bytes: usize,
    /// See [`EvidenceConfig::budget_bytes`].
    pub budget_bytes: usize,
    /// See [`EvidenceConfig::max_rings`].
    pub max_rings: usize,
    /// See [`EvidenceConfig::max_incidents`].
    pub max_incidents: usize,
    /// See [`EvidenceConfig::max_open`].
    pub max_open: usize,
    /// See [`EvidenceConfig::max_incident_bytes`].
    pub max_incident_bytes: u64,
    /// See [`EvidenceConfig::host_idle_secs`].
    pub host_idle_secs: u32,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        let d = EvidenceConfig::new(PathBuf::new());
        Self {
            capture_level: Level::Medium,
            ring_packets: d.ring_packets,
            ring_bytes: d.ring_bytes,
            budget_bytes: d.budget_bytes,
            max_rings: d.max_rings,
            max_incidents: d.max_incidents,
            max_open: d.max_open,
            max_incident_bytes: d.max_incident_bytes,
            host_idle_secs: d.host_idle_secs,
        }
    }
}

impl EvidenceSettings {
    /// The evidence capture config writing into `dir`.
    pub fn to_config(&self, dir: PathBuf) -> EvidenceConfig {
        EvidenceConfig {
            ring_packets: self.ring_packets,
            ring_bytes: self.ring_bytes,
            budget_bytes: self.budget_bytes,
            max_rings: self.max_rings,
            max_incidents: self.max_incidents,
            max_open: self.max_open,
            max_incident_bytes: self.max_incident_bytes,
            host_idle_secs: self.host_idle_secs,
            ..EvidenceConfig::new(dir)
        }
    }
}

impl DetectionConfig {
    /// Parse a TOML document; errors carry the line, column and key.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let config: Self = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Read `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read detection config {}", path.display()))?;
        Self::from_toml(&text)
            .with_context(|| format!("invalid detection config {}", path.display()))
    }

    /// Values a type accepts but the detectors cannot use: a zero window,
    /// a ratio outside 0..=1, levels out of order. Each error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let a = &self.anomaly;
        let windows = [
            ("anomaly.port_scan.window_secs", a.scan.window_secs),
            ("anomaly.syn_flood.window_secs", a.syn_flood.window_secs),
            ("anomaly.brute_force.window_secs", a.brute_force.window_secs),
            ("anomaly.dns.window_secs", a.dns.window_secs),
            ("anomaly.volume.window_secs", a.volume.window_secs),
            ("anomaly.rare.window_secs", a.rare.window_secs),
        ];
        for (key, secs) in windows {
            anyhow::ensure!(secs > 0, "{key} must be at least 1 second");
        }
        let ratios = [
            ("anomaly.port_scan.min_probe_ratio", a.scan.min_probe_ratio),
            (
                "anomaly.dns.tunnel_min_suspicious_ratio",
                a.dns.tunnel_min_suspicious_ratio,
            ),
            (
                "anomaly.dns.tunnel_min_txt_ratio",
                a.dns.tunnel_min_txt_ratio,
            ),
            ("anomaly.dns.dga_min_like_ratio", a.dns.dga_min_like_ratio),
            ("anomaly.volume.alpha", a.volume.alpha),
        ];
        for (key, ratio) in ratios {
            anyhow::ensure!(
                (0.0..=1.0).contains(&ratio),
                "{key} must be between 0 and 1, not {ratio}"
            );
        }
        let non_negative = [
            (
                "anomaly.beacon.min_interval_secs",
                a.beacon.min_interval_secs,
            ),
            (
                "anomaly.beacon.max_interval_secs",
                a.beacon.max_interval_secs,
            ),
            ("anomaly.beacon.max_interval_cv", a.beacon.max_interval_cv),
            ("anomaly.beacon.max_size_cv", a.beacon.max_size_cv),
            ("anomaly.dns.min_entropy", a.dns.min_entropy),
            ("anomaly.dns.dga_min_entropy", a.dns.dga_min_entropy),
            ("anomaly.volume.k", a.volume.k),
            ("risk.target_weight", self.risk.target_weight),
        ];
        for (key, value) in non_negative {
            anyhow::ensure!(
                value.is_finite() && value >= 0.0,
                "{key} must be a finite number at least 0, not {value}"
            );
        }
        validate_bots(&self.bots, "bots.")?;
        let r = &self.risk;
        anyhow::ensure!(
            r.half_life_secs.is_finite() && r.half_life_secs > 0.0,
            "risk.half_life_secs must be a positive number of seconds, not {}",
            r.half_life_secs
        );
        let t = r.thresholds;
        anyhow::ensure!(
            0 < t.medium && t.medium <= t.high && t.high <= t.critical,
            "risk.thresholds must satisfy 0 < medium <= high <= critical, not {}, {}, {}",
            t.medium,
            t.high,
            t.critical
        );
        Ok(())
    }
}

/// Read a bot detector configuration of its own (`--bots-config FILE`):
/// the keys of the `[bots]` table at the top level (`[window]`, `[model]`,
/// ...); errors name the file, line and key.
pub fn load_bots(path: &Path) -> anyhow::Result<DetectorConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read bots config {}", path.display()))?;
    let config: DetectorConfig = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .and_then(|c| validate_bots(&c, "").map(|()| c))
        .with_context(|| format!("invalid bots config {}", path.display()))?;
    Ok(config)
}

/// Values the bot detector's types accept but it cannot use; `prefix` is
/// `bots.` inside the detection config.
fn validate_bots(b: &DetectorConfig, prefix: &str) -> anyhow::Result<()> {
    b.model
        .validate()
        .map_err(|e| anyhow::anyhow!("{prefix}model: {e}"))?;
    for (key, secs) in [
        ("window.bucket_secs", b.window.bucket_secs),
        ("window.idle_secs", b.window.idle_secs),
        ("window.max_window_secs", b.window.max_window_secs),
    ] {
        anyhow::ensure!(secs > 0, "{prefix}{key} must be at least 1 second");
    }
    anyhow::ensure!(
        b.entities.max_entities > 0,
        "{prefix}entities.max_entities must be at least 1"
    );
    for (key, p) in [
        ("model.human_min", b.model.human_min),
        ("model.bot_min", b.model.bot_min),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&p),
            "{prefix}{key} must be between 0 and 1, not {p}"
        );
    }
    for cidr in b.whitelist.cidrs.iter().chain(&b.whitelist.gateways) {
        cidr.parse::<vigil_weblog::whitelist::Cidr>()
            .map_err(|e| anyhow::anyhow!("{prefix}whitelist: {e}"))?;
    }
    Ok(())
}

/// `vigil config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the default detection configuration (TOML, every setting
    /// commented), to start a `--detection-config` file from.
    Defaults,
    /// Check a detection configuration file as `vigil analyze` would read it.
    Check(CheckArgs),
}

/// Options of `vigil config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The TOML file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Run a `vigil config` subcommand.
pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Defaults => {
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(DEFAULTS_TOML.as_bytes())
                .context("cannot write the defaults")?;
        }
        ConfigCommand::Check(args) => {
            DetectionConfig::load(Some(&args.file))?;
            println!("{}: ok", args.file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printed defaults parse back to the Rust defaults, and name every
    /// key the defaults have with the same value and type (so a setting
    /// added to a struct but not to the template fails here).
    #[test]
    fn the_printed_defaults_are_the_defaults_key_for_key() {
        let parsed = DetectionConfig::from_toml(DEFAULTS_TOML).unwrap();
        assert_eq!(parsed, DetectionConfig::default());
        let table: toml::Table = toml::from_str(DEFAULTS_TOML).unwrap();
        // An unset optional key (bots.whitelist.rdns.resolver) is absent
        // from TOML and null in JSON.
        fn drop_nulls(v: &mut serde_json::Value) {
            if let Some(map) = v.as_object_mut() {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(drop_nulls);
            }
        }
        let mut defaults = serde_json::to_value(DetectionConfig::default()).unwrap();
        drop_nulls(&mut defaults);
        assert_eq!(serde_json::to_value(&table).unwrap(), defaults);
    }

    /// docs/detection.md documents every setting (the per-severity points
    /// and level thresholds are documented as groups).
    #[test]
    fn docs_detection_names_every_setting() {
        let path = vigil_testkit::repo_root().join("docs/detection.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let defaults = serde_json::to_value(DetectionConfig::default()).unwrap();
        let mut missing = Vec::new();
        let mut stack = vec![(String::new(), &defaults)];
        while let Some((name, value)) = stack.pop() {
            match value.as_object() {
                Some(table) if !matches!(name.as_str(), "risk.thresholds" | "risk.points") => {
                    for (key, v) in table {
                        let full = if name.is_empty() {
                            key.clone()
                        } else {
                            format!("{name}.{key}")
                        };
                        if !v.is_object() && !docs.contains(&format!("`{key}`")) {
                            missing.push(full.clone());
                        }
                        stack.push((full, v));
                    }
                }
                _ => {}
            }
        }
        assert!(missing.is_empty(), "not in docs/detection.md: {missing:?}");
    }

    #[test]
    fn a_partial_file_overrides_only_what_it_names() {
        let c = DetectionConfig::from_toml(
            "[anomaly.port_scan]\nvertical_min_ports = 100\n[risk.thresholds]\nhigh = 60\n[evidence]\ncapture_level = \"high\"\n",
        )
        .unwrap();
        let mut want = DetectionConfig::default();
        want.anomaly.scan.vertical_min_ports = 100;
        want.risk.thresholds.high = 60;
        want.evidence.capture_level = Level::High;
        assert_eq!(c, want);
        assert_eq!(
            DetectionConfig::from_toml("").unwrap(),
            DetectionConfig::default()
        );
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_and_its_line() {
        let error =
            DetectionConfig::from_toml("[anomaly]\n\n[anomaly.port_scan]\nmin_ports = 100\n")
                .unwrap_err()
                .to_string();
        assert!(error.contains("min_ports"), "{error}");
        assert!(error.contains("line 4"), "{error}");
        let error = DetectionConfig::from_toml("[anomaly.portscan]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("portscan"), "{error}");
    }

    #[test]
    fn wrong_types_and_impossible_values_are_errors_naming_the_key() {
        let error = DetectionConfig::from_toml("[anomaly.syn_flood]\nmin_half_open = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("min_half_open") || error.contains("line 2"),
            "{error}"
        );
        let error = DetectionConfig::from_toml("[evidence]\ncapture_level = \"severe\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("severe"), "{error}");
        for (text, key) in [
            ("[risk]\nhalf_life_secs = 0.0\n", "risk.half_life_secs"),
            ("[risk.thresholds]\nmedium = 60\n", "risk.thresholds"),
            (
                "[anomaly.dns]\nwindow_secs = 0\n",
                "anomaly.dns.window_secs",
            ),
            (
                "[anomaly.port_scan]\nmin_probe_ratio = 1.5\n",
                "min_probe_ratio",
            ),
        ] {
            let error = DetectionConfig::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("detection.toml");
        std::fs::write(&path, "[risk]\nhalflife = 10.0\n").unwrap();
        let error = format!("{:#}", DetectionConfig::load(Some(&path)).unwrap_err());
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("halflife"), "{error}");
        let missing = dir.path().join("missing.toml");
        let error = format!("{:#}", DetectionConfig::load(Some(&missing)).unwrap_err());
        assert!(error.contains("missing.toml"), "{error}");
        assert_eq!(
            DetectionConfig::load(None).unwrap(),
            DetectionConfig::default()
        );
    }

    #[test]
    fn the_bots_table_and_its_own_file() {
        let c = DetectionConfig::from_toml("[bots.window]\nmin_requests = 3\n").unwrap();
        assert_eq!(c.bots.window.min_requests, 3);
        for (text, key) in [
            ("[bots.window]\nidle_secs = 0\n", "bots.window.idle_secs"),
            ("[bots.model]\nbot_min = 2.0\n", "bots.model.bot_min"),
            (
                "[bots.whitelist]\ncidrs = [\"10.0.0.0/33\"]\n",
                "bots.whitelist",
            ),
            (
                "[bots.model.scraper]\nbias = 1.0\nweights = [1.0]\n",
                "bots.model",
            ),
        ] {
            let error = DetectionConfig::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bots.toml");
        std::fs::write(
            &path,
            "[window]\nmin_requests = 7\n[entities]\nprefix = false\n",
        )
        .unwrap();
        let b = load_bots(&path).unwrap();
        assert_eq!((b.window.min_requests, b.entities.prefix), (7, false));
        std::fs::write(&path, "[windows]\n").unwrap();
        let error = format!("{:#}", load_bots(&path).unwrap_err());
        assert!(
            error.contains("bots.toml") && error.contains("windows"),
            "{error}"
        );
    }

    #[test]
    fn evidence_settings_reach_the_evidence_config() {
        let mut s = EvidenceSettings::default();
        assert_eq!(
            format!("{:?}", s.to_config("d".into())),
            format!("{:?}", EvidenceConfig::new("d"))
        );
        s.ring_packets = 7;
        s.host_idle_secs = 9;
        let c = s.to_config("d".into());
        assert_eq!((c.ring_packets, c.host_idle_secs), (7, 9));
    }
}
