//! Reading a feed from disk and turning its entries into indicators.
//!
//! [`read_feed`] reads a file (or a MISP feed directory) and runs the
//! format's parser; [`FeedDefaults::apply`] gives every entry its feed and
//! fills what the feed did not say (confidence, severity, tags, expiry).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use vigil_event::Severity;

use crate::format::{self, misp, Format, FormatError, ParseOptions, Parsed};
use crate::indicator::Indicator;

/// Largest feed file read, bytes (a MISP feed: per event file).
pub const MAX_FEED_BYTES: u64 = 2 << 30;

/// What went wrong reading a feed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file over [`MAX_FEED_BYTES`].
    #[error("{path}: larger than {MAX_FEED_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The whole file is not of its format.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        source: FormatError,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = fs::metadata(path).map_err(io)?.len();
    if len > MAX_FEED_BYTES {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    fs::read(path).map_err(io)
}

/// Read the feed at `path` as `format` (detected when `None`: a directory
/// with a `manifest.json` is a MISP feed).
pub fn read_feed(
    path: &Path,
    format: Option<Format>,
    options: &ParseOptions,
) -> Result<(Format, Parsed), ImportError> {
    if path.is_dir() || format == Some(Format::MispFeed) {
        return read_misp_feed(path).map(|p| (Format::MispFeed, p));
    }
    let bytes = read(path)?;
    let name = path.file_name().and_then(|n| n.to_str());
    let format = format.unwrap_or_else(|| format::detect(name, &bytes));
    let parsed = format::parse(format, &bytes, options).map_err(|source| ImportError::Format {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((format, parsed))
}

/// A MISP feed directory: `manifest.json`, then each event it lists from
/// `<uuid>.json`; a missing or bad event file is an error located at the
/// manifest entry, and the other events are read.
pub fn read_misp_feed(dir: &Path) -> Result<Parsed, ImportError> {
    let manifest_path = dir.join("manifest.json");
    let manifest = read(&manifest_path)?;
    let uuids = misp::parse_manifest(&manifest).map_err(|source| ImportError::Format {
        path: manifest_path.clone(),
        source,
    })?;
    let mut out = Parsed::default();
    for uuid in uuids {
        let file = dir.join(format!("{uuid}.json"));
        let bytes = match read(&file) {
            Ok(b) => b,
            Err(e) => {
                out.error(format!("manifest.json: {uuid}"), e.to_string());
                continue;
            }
        };
        match misp::parse_event(&bytes) {
            Ok(p) => out.absorb(p, &format!("{uuid}.json: ")),
            Err(e) => out.error(format!("{uuid}.json"), e.to_string()),
        }
    }
    Ok(out)
}

/// What a feed's entries get when they do not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedDefaults {
    /// The feed's name.
    pub feed: String,
    /// Confidence when an entry has none.
    pub confidence: u8,
    /// Severity when an entry has none.
    pub severity: Severity,
    /// Tags added to every entry.
    pub tags: Vec<String>,
    /// Entries without an expiry expire this long after `now_ms` (ms).
    pub ttl_ms: Option<i64>,
    /// The import time (ms since the epoch).
    pub now_ms: i64,
}

impl FeedDefaults {
    /// Defaults for feed `feed` at `now_ms`: confidence 50, severity
    /// medium, no tags, no expiry.
    pub fn new(feed: &str, now_ms: i64) -> Self {
        Self {
            feed: feed.to_owned(),
            confidence: 50,
            severity: Severity::Medium,
            tags: Vec::new(),
            ttl_ms: None,
            now_ms,
        }
    }

    /// The indicators of `parsed` (entries without a kind are dropped; the
    /// parsers always set one).
    pub fn apply(&self, parsed: &Parsed) -> Vec<Indicator> {
        parsed
            .entries
            .iter()
            .filter_map(|e| {
                let kind = e.kind?;
                let mut tags: Vec<String> = Vec::with_capacity(self.tags.len() + e.tags.len());
                let mut seen = BTreeSet::new();
                for t in self.tags.iter().chain(&e.tags) {
                    if seen.insert(t.as_str()) {
                        tags.push(t.clone());
                    }
                }
                Some(Indicator {
                    kind,
                    value: e.value.clone(),
                    feed: self.feed.clone(),
                    confidence: e.confidence.unwrap_or(self.confidence).min(100),
                    severity: e.severity.unwrap_or(self.severity),
                    tags,
                    first_seen: e.first_seen,
                    last_seen: e.last_seen,
                    expires: e
                        .expires
                        .or_else(|| self.ttl_ms.map(|t| self.now_ms.saturating_add(t))),
                    reference: e.reference.clone(),
                })
            })
            .collect()
    }
}
