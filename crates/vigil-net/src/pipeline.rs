//! One run of the capture pipeline: raw packets in, events out, counters kept.
//! (Stub: to be written.)

use vigil_event::{Event, StatsRecord};

use crate::app::AppConfig;
use crate::capture::RawPacket;
use crate::decode::{DecodeError, DefragConfig};
use crate::flow::FlowConfig;
use crate::reassembly::ReassemblyConfig;

/// Everything a pipeline run can be tuned with.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// Flow table.
    pub flow: FlowConfig,
    /// IPv4 fragment reassembly.
    pub defrag: DefragConfig,
    /// TCP reassembly.
    pub reassembly: ReassemblyConfig,
    /// Protocol parsers.
    pub app: AppConfig,
}

/// Decode → flows → reassembly → protocol parsers, over packets in time order.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    stats: StatsRecord,
    log_name: Option<String>,
}

impl Pipeline {
    /// A pipeline with empty tables.
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            config,
            stats: StatsRecord::default(),
            log_name: None,
        }
    }

    /// Name the source of the packets that follow (`metadata.log_name`).
    pub fn set_log_name(&mut self, name: &str) {
        self.log_name = Some(name.to_owned());
    }

    /// Process one packet; events that become complete are pushed to `out`.
    /// A packet that cannot be decoded is counted and its error returned, so
    /// the caller can report it with the file name and packet number.
    pub fn process(
        &mut self,
        raw: &RawPacket<'_>,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeError> {
        let _ = (raw, out, &self.config);
        Ok(())
    }

    /// Count a capture-level problem (a corrupt or truncated record) under
    /// `capture.<reason>`.
    pub fn count_capture_error(&mut self, reason: &str) {
        self.stats.add("capture", reason, 1);
    }

    /// End of input: write every open flow (end_reason "end_of_input") and
    /// everything parsers still hold.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let _ = out;
    }

    /// The counters so far, as the stats record that ends a run.
    pub fn stats(&self) -> StatsRecord {
        self.stats.clone()
    }
}
