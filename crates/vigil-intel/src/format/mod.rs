//! Feed formats: each a pure parser, bytes in, [`Parsed`] out: the
//! entries it could read (normalized) and, for each entry it could not,
//! an [`EntryError`] with its location. A bad entry never stops the rest.
//!
//! | format | what | module |
//! |---|---|---|
//! | `plain` | one value a line, `#`/`;`/`//` comments, hosts-file lines | [`plain`] |
//! | `csv` | CSV with a column mapping ([`CsvMapping`]) | [`csv`] |
//! | `netset` | FireHOL netset/ipset: IPs and networks, header comments | [`plain`] |
//! | `stix` | STIX 2.1 bundles of indicators with STIX patterns | [`stix`] |
//! | `misp` | one MISP event (JSON) | [`misp`] |
//! | `misp-feed` | a MISP feed directory: `manifest.json` and one file per event | [`misp`], read by `crate::load` |
//! | `suricata` | Suricata IP-reputation rules: the address lists of rule headers | [`suricata`] |
//!
//! [`detect`] picks the format from the file name and the first bytes.

pub mod csv;
pub mod misp;
pub mod plain;
pub mod stix;
pub mod suricata;
mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use vigil_event::Severity;

pub use self::csv::CsvMapping;
pub use self::time::parse_time;
use crate::indicator::Kind;

/// Errors kept per parse; more are counted in [`Parsed::errors_total`].
pub const MAX_ERRORS: usize = 1000;

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One value a line.
    Plain,
    /// CSV with a column mapping.
    Csv,
    /// FireHOL netset / ipset.
    Netset,
    /// STIX 2.1 bundle.
    Stix,
    /// One MISP event.
    Misp,
    /// A MISP feed directory.
    MispFeed,
    /// Suricata IP-reputation rules.
    Suricata,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 7] = [
        Format::Plain,
        Format::Csv,
        Format::Netset,
        Format::Stix,
        Format::Misp,
        Format::MispFeed,
        Format::Suricata,
    ];

    /// The name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Csv => "csv",
            Format::Netset => "netset",
            Format::Stix => "stix",
            Format::Misp => "misp",
            Format::MispFeed => "misp-feed",
            Format::Suricata => "suricata",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?} (known: {})", names.join(", "))
            })
    }
}

/// One indicator read from a feed, before the feed's defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Kind.
    pub kind: Option<Kind>,
    /// Normalized value (with `kind` set).
    pub value: String,
    /// Confidence 0–100, when the feed gives one.
    pub confidence: Option<u8>,
    /// Severity, when the feed gives one.
    pub severity: Option<Severity>,
    /// Labels.
    pub tags: Vec<String>,
    /// First seen (ms).
    pub first_seen: Option<i64>,
    /// Last seen (ms).
    pub last_seen: Option<i64>,
    /// Expiry (ms).
    pub expires: Option<i64>,
    /// Reference.
    pub reference: Option<String>,
}

impl Entry {
    /// An entry of `kind` with normalized `value` and no attributes.
    pub fn new(kind: Kind, value: String) -> Self {
        Self {
            kind: Some(kind),
            value,
            ..Self::default()
        }
    }
}

/// An entry that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// Where: `line 12`, `objects[3] (indicator--…)`, `Event.Attribute[5]`.
    pub location: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// What a parser read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The entries read.
    pub entries: Vec<Entry>,
    /// The first [`MAX_ERRORS`] bad entries.
    pub errors: Vec<EntryError>,
    /// All bad entries.
    pub errors_total: usize,
    /// Entries deliberately not imported, by reason (an unsupported MISP
    /// type, a rule without an address list, ...): not errors.
    pub skipped: BTreeMap<String, usize>,
}

impl Parsed {
    /// Record a bad entry.
    pub fn error(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.errors_total += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(EntryError {
                location: location.into(),
                message: message.into(),
            });
        }
    }

    /// Count a skipped entry.
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    /// Append another parse (a MISP feed's events), prefixing its error
    /// locations with `prefix`.
    pub fn absorb(&mut self, other: Parsed, prefix: &str) {
        self.entries.extend(other.entries);
        let unlisted = other.errors_total.saturating_sub(other.errors.len());
        for e in other.errors {
            self.error(format!("{prefix}{}", e.location), e.message);
        }
        self.errors_total += unlisted;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

/// Options of the parsers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Every value is of this kind (plain lists, CSV without a type column).
    pub kind: Option<Kind>,
    /// The CSV column mapping (CSV only).
    pub csv: CsvMapping,
}

/// A whole input that is not of the format at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// Not valid JSON (STIX, MISP).
    #[error("not valid JSON: {0}")]
    Json(String),
    /// JSON, but not the expected document.
    #[error("not a {format} document: {reason}")]
    Shape {
        /// The format expected.
        format: Format,
        /// Why not.
        reason: String,
    },
    /// The CSV mapping does not fit the file.
    #[error("csv: {0}")]
    Csv(String),
    /// A MISP feed is a directory: read it with `crate::load`.
    #[error("a MISP feed is a directory with a manifest.json, not one file")]
    Directory,
}

/// Parse `bytes` as `format`.
pub fn parse(format: Format, bytes: &[u8], options: &ParseOptions) -> Result<Parsed, FormatError> {
    match format {
        Format::Plain => Ok(plain::parse(bytes, options.kind, false)),
        Format::Netset => Ok(plain::parse(bytes, None, true)),
        Format::Csv => csv::parse(bytes, &options.csv, options.kind),
        Format::Stix => stix::parse(bytes),
        Format::Misp => misp::parse_event(bytes),
        Format::MispFeed => Err(FormatError::Directory),
        Format::Suricata => Ok(suricata::parse(bytes)),
    }
}

/// The format of a file from its name (extension) and first bytes:
/// JSON with `"type": "bundle"` or STIX objects is STIX, JSON with an
/// `Event` is MISP, `.rules` or lines starting with a rule action are
/// Suricata rules, `.netset`/`.ipset` are FireHOL lists, `.csv` (or a first
/// line with commas and quotes) is CSV; anything else is a plain list.
pub fn detect(name: Option<&str>, bytes: &[u8]) -> Format {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if head.contains("\"Event\"") || head.contains("\"Attribute\"") {
            return Format::Misp;
        }
        if head.contains("\"bundle\"") || head.contains("\"pattern\"") {
            return Format::Stix;
        }
    }
    match ext.as_deref() {
        Some("rules") => return Format::Suricata,
        Some("netset" | "ipset") => return Format::Netset,
        Some("csv") => return Format::Csv,
        _ => {}
    }
    let first = head
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        Some(l)
            if ["alert ", "drop ", "pass ", "reject "]
                .iter()
                .any(|a| l.starts_with(a)) =>
        {
            Format::Suricata
        }
        Some(l) if l.contains(',') && l.contains('"') => Format::Csv,
        _ => Format::Plain,
    }
}

/// Split a tag list: `,`, `;` or `|` between tags; empty ones dropped.
pub(crate) fn split_tags(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', ';', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "None" && *t != "null")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_by_content_and_name() {
        assert_eq!(
            detect(Some("x.json"), br#"{"type": "bundle", "objects": []}"#),
            Format::Stix
        );
        assert_eq!(
            detect(None, br#"{"Event": {"Attribute": []}}"#),
            Format::Misp
        );
        assert_eq!(detect(Some("drop.rules"), b"# x\n"), Format::Suricata);
        assert_eq!(
            detect(None, b"# x\nalert ip [1.2.3.4] any -> any any (sid:1;)\n"),
            Format::Suricata
        );
        assert_eq!(
            detect(Some("firehol_level1.netset"), b"1.2.3.0/24\n"),
            Format::Netset
        );
        assert_eq!(detect(Some("iocs.csv"), b"a\n"), Format::Csv);
        assert_eq!(detect(None, b"# c\n\"a\",\"b\"\n"), Format::Csv);
        assert_eq!(detect(Some("list.txt"), b"1.2.3.4\n"), Format::Plain);
        assert_eq!("misp-feed".parse::<Format>(), Ok(Format::MispFeed));
        assert!("x".parse::<Format>().is_err());
    }
}
