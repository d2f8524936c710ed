//! Vigil's labelled web traffic generator.
//!
//! Builds a shop ([`Site`]) and a day's worth of visitors ([`Scenario`]) from a seed:
//! people browsing (pages then their assets, heavy-tailed think times, consistent
//! referers, varied real browsers, a session cookie), a flash-sale crowd on one product
//! URL, a NAT gateway with many people behind one address, verified search-engine
//! crawlers from their published ranges, fake crawlers, fast and low-and-slow scrapers,
//! credential stuffers and vulnerability scanners. Every actor is labelled
//! ([`Label`]: class, subtype, scenario, and the entity keys it showed: address, user
//! agent, session cookie).
//!
//! The log comes two ways:
//!
//! - [`run_nginx`]: a real nginx started for the run serves the site, and every request
//!   goes to it over TCP with the client address in `X-Forwarded-For` (nginx's realip
//!   module makes it `$remote_addr`) and the simulated time in `X-Vigil-Time` (logged in
//!   place of `$time_local`, see [`log_format`]), so the log is nginx's own;
//! - [`write_log`] (direct mode): the same lines written without nginx, byte for byte
//!   what nginx would log, for inputs of millions of lines.
//!
//! [`evaluate`] scores a detector's per-entity verdicts against the labels.
//!
//! ```no_run
//! use vigil_webgen::{Config, Lists, Scenario};
//! let scenario = Scenario::generate(&Config { scale: 2, ..Config::default() }, &Lists::builtin());
//! let log = std::io::BufWriter::new(std::fs::File::create("access.log")?);
//! vigil_webgen::write_log(&scenario, false, log)?;
//! let labels = std::fs::File::create("labels.jsonl")?;
//! vigil_webgen::write_labels(&scenario.labels(), std::io::BufWriter::new(labels))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod agents;
mod direct;
mod dist;
pub mod eval;
mod format;
mod labels;
mod lists;
mod nginx;
mod scenario;
mod site;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use direct::{write_log, DirectSummary};
pub use eval::{evaluate, EntityKey, Evaluation, Prediction};
pub use format::{log_format, time_local};
pub use labels::{read_labels, write_labels, Class, Label};
pub use lists::{Cidr, Lists};
pub use nginx::{config_text, run_nginx, LogTime, NginxOptions, NginxSummary};
pub use scenario::{Config, Method, RequestView, Scenario, SITE_HOST, SITE_ORIGIN};
pub use site::Site;

/// Name of the session cookie people's browsers send.
pub const SESSION_COOKIE: &str = "vsid";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Writing the log or labels failed.
    #[error("writing output: {0}")]
    Write(io::Error),
    /// Reading labels failed.
    #[error("reading labels: {0}")]
    Read(io::Error),
    /// A label could not be encoded.
    #[error("encoding a label: {0}")]
    Json(serde_json::Error),
    /// A labels line is not a label.
    #[error("labels line {line}: {source}")]
    Label {
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A list has something that is not an address block.
    #[error("not an address block: {0}")]
    Cidr(String),
    /// No free local port.
    #[error("finding a free port on 127.0.0.1: {0}")]
    Port(io::Error),
    /// nginx could not be run.
    #[error("starting nginx {path}: {source}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// nginx exited or did not listen.
    #[error("nginx did not start: {reason}; its error log says: {log}")]
    NginxStart {
        /// What happened.
        reason: String,
        /// nginx's error log and stderr.
        log: String,
    },
    /// A request to nginx failed.
    #[error("request {index} to nginx at {addr}: {source}")]
    Request {
        /// Index of the request in the scenario.
        index: usize,
        /// nginx's address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// nginx's answer could not be read.
    #[error("response to request {index}: {reason}")]
    Response {
        /// Index of the request in the scenario.
        index: usize,
        /// What was wrong.
        reason: String,
    },
    /// Stopping nginx failed.
    #[error("stopping nginx: {0}")]
    Stop(io::Error),
    /// A sending thread panicked.
    #[error("a sending thread failed")]
    Worker,
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
