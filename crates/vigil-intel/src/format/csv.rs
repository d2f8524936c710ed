//! CSV feeds with a column mapping.
//!
//! A [`CsvMapping`] says which column holds each field: by header name or
//! 1-based index, `value=ioc_value,type=ioc_type,tags=threat_type+tags`
//! (`+` joins columns, for tags). Without one, columns are found by their
//! header names (`value`/`indicator`/`ioc`/`ioc_value`, `type`/`ioc_type`,
//! `confidence`/`confidence_level`, `severity`, `tags`, `first_seen`/
//! `first_seen_utc`, `last_seen`/`last_seen_utc`, `expires`/`valid_until`,
//! `reference`/`url`…), else the value is the first column.
//!
//! Lines starting with `#` are comments; when the header itself is the
//! last comment line (abuse.ch ThreatFox dumps: `# "first_seen_utc",…`),
//! it is read from there. Fields are trimmed. A type column's values are
//! read by [`Kind`]'s `FromStr` (`ip:port`, `md5_hash`, `domain`, …); an IP
//! with a port (`192.0.2.1:443`) is the IP.

use std::collections::BTreeMap;

use super::{parse_time, split_tags, Entry, FormatError, Parsed};
use crate::indicator::{classify, normalize, parse_severity, Kind};

/// The fields a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// The indicator's value (required).
    Value,
    /// Its type.
    Type,
    /// Confidence 0–100 (or `high`/`medium`/`low`).
    Confidence,
    /// Severity.
    Severity,
    /// Tags (split on `,`, `;`, `|`).
    Tags,
    /// First seen.
    FirstSeen,
    /// Last seen.
    LastSeen,
    /// Expiry.
    Expires,
    /// Reference.
    Reference,
}

const FIELDS: [(Field, &str, &[&str]); 9] = [
    (
        Field::Value,
        "value",
        &[
            "value",
            "indicator",
            "ioc",
            "ioc_value",
            "observable",
            "ip",
            "domain",
            "url",
            "hash",
        ],
    ),
    (
        Field::Type,
        "type",
        &["type", "ioc_type", "indicator_type", "kind"],
    ),
    (
        Field::Confidence,
        "confidence",
        &["confidence", "confidence_level", "score"],
    ),
    (Field::Severity, "severity", &["severity", "threat_level"]),
    (Field::Tags, "tags", &["tags", "tag", "labels"]),
    (
        Field::FirstSeen,
        "first_seen",
        &[
            "first_seen",
            "first_seen_utc",
            "firstseen",
            "dateadded",
            "date_added",
        ],
    ),
    (
        Field::LastSeen,
        "last_seen",
        &["last_seen", "last_seen_utc", "lastseen", "last_online"],
    ),
    (
        Field::Expires,
        "expires",
        &["expires", "expiry", "valid_until"],
    ),
    (
        Field::Reference,
        "reference",
        &["reference", "ref", "link", "urlhaus_link", "source"],
    ),
];

/// A column: by header name or by 1-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// Header name (case-insensitive).
    Name(String),
    /// 1-based index.
    Index(usize),
}

/// Which columns hold which fields; empty: found by header names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvMapping {
    /// Field → columns (several only for tags).
    pub columns: BTreeMap<Field, Vec<Column>>,
    /// The delimiter (`,` when `None`).
    pub delimiter: Option<u8>,
    /// True when the file has no header line.
    pub no_header: bool,
}

impl std::str::FromStr for CsvMapping {
    type Err = String;

    /// `field=column[+column],...`, e.g. `value=ioc_value,type=ioc_type`
    /// or `value=3,tags=5+6`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut m = CsvMapping::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, cols) = part
                .split_once('=')
                .ok_or_else(|| format!("csv mapping {part:?}: expected field=column"))?;
            let field = FIELDS
                .iter()
                .find(|(_, name, _)| name.eq_ignore_ascii_case(field.trim()))
                .map(|(f, _, _)| *f)
                .ok_or_else(|| {
                    let names: Vec<_> = FIELDS.iter().map(|f| f.1).collect();
                    format!(
                        "csv mapping: unknown field {field:?} (known: {})",
                        names.join(", ")
                    )
                })?;
            let cols = cols
                .split('+')
                .map(|c| {
                    let c = c.trim();
                    match c.parse::<usize>() {
                        Ok(0) => Err("csv mapping: columns count from 1".to_owned()),
                        Ok(i) => Ok(Column::Index(i)),
                        Err(_) => Ok(Column::Name(c.to_owned())),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            m.columns.insert(field, cols);
        }
        Ok(m)
    }
}

/// Parse a CSV feed; `kind` is every value's kind when there is no type
/// column.
pub fn parse(
    bytes: &[u8],
    mapping: &CsvMapping,
    kind: Option<Kind>,
) -> Result<Parsed, FormatError> {
    let delimiter = mapping.delimiter.unwrap_or(b',');
    let text = tighten(&String::from_utf8_lossy(bytes), delimiter);
    // The last leading comment line, in case it is the header.
    let comment_header = text
        .lines()
        .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
        .filter(|l| l.trim_start().starts_with('#'))
        .last()
        .map(|l| l.trim_start().trim_start_matches('#').trim().to_owned());
    let reader = |data: &str| {
        ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .comment(Some(b'#'))
            .has_headers(false)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(std::io::Cursor::new(data.to_owned().into_bytes()))
    };
    let lines: Vec<&str> = text.lines().collect();
    // The csv crate gives a record's position from where it started
    // reading, before the comment lines it skipped: move on to the line
    // that holds the record.
    let line_of = |pos: Option<&::csv::Position>| -> u64 {
        let mut l = pos.map_or(1, |p| p.line()).max(1);
        while lines
            .get(l as usize - 1)
            .is_some_and(|t| t.trim().is_empty() || t.trim_start().starts_with('#'))
        {
            l += 1;
        }
        l
    };
    let mut records = reader(&text).into_records();
    let mut out = Parsed::default();
    // The header: the first record (unless --no-header), or the comment
    // line when it names the mapped columns better.
    let mut header: Option<Vec<String>> = None;
    let mut first_data: Option<(u64, ::csv::StringRecord)> = None;
    if !mapping.no_header {
        if let Some(Ok(first)) = records.next() {
            let first: Vec<String> = first
                .iter()
                .map(|s| unquote(s).to_ascii_lowercase())
                .collect();
            let from_comment: Option<Vec<String>> = comment_header.as_ref().and_then(|c| {
                reader(c)
                    .into_records()
                    .next()
                    .and_then(Result::ok)
                    .map(|r| r.iter().map(|s| unquote(s).to_ascii_lowercase()).collect())
            });
            let score = |h: &[String]| resolve(h, mapping).map_or(0, |cols| cols.len());
            match from_comment {
                Some(c) if c.len() > 1 && score(&c) > score(&first) => {
                    // The first record is data after all.
                    let rec = ::csv::StringRecord::from(first.clone());
                    first_data = Some((0, rec));
                    header = Some(c);
                }
                _ => header = Some(first),
            }
        }
    }
    let columns = match &header {
        Some(h) => resolve(h, mapping)?,
        None => resolve(&[], mapping)?,
    };
    let Some(value_col) = columns.get(&Field::Value).and_then(|c| c.first()).copied() else {
        return Err(FormatError::Csv("no value column".into()));
    };
    // Re-read the first record untouched when it turned out to be data.
    if first_data.is_some() {
        records = reader(&text).into_records();
    }
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.error(
                    format!("line {line}"),
                    format!("unreadable CSV record: {e}"),
                );
                continue;
            }
        };
        let location = format!("line {}", line_of(record.position()));
        let field = |i: usize| record.get(i).map(unquote).filter(|s| !s.is_empty());
        let get = |f: Field| -> Option<&str> {
            columns
                .get(&f)
                .and_then(|c| c.first())
                .and_then(|i| field(*i))
        };
        let Some(raw) = field(value_col) else {
            out.error(location, "no value");
            continue;
        };
        let given = match get(Field::Type) {
            Some(t) => match t.parse::<Kind>() {
                Ok(k) => Some(k),
                Err(e) => {
                    out.error(location, e);
                    continue;
                }
            },
            None => kind,
        };
        let parsed = match given {
            Some(k) if k.is_ip() => ip_value(raw),
            Some(k) => normalize(k, raw).map(|v| (k, v)),
            None => classify(raw),
        };
        let (k, v) = match parsed {
            Ok(kv) => kv,
            Err(e) => {
                out.error(location, e);
                continue;
            }
        };
        let mut entry = Entry::new(k, v);
        if let Some(c) = get(Field::Confidence) {
            entry.confidence = match confidence(c) {
                Some(c) => Some(c),
                None => {
                    out.error(location, format!("bad confidence {c:?}"));
                    continue;
                }
            };
        }
        if let Some(s) = get(Field::Severity) {
            entry.severity = parse_severity(s);
        }
        for col in columns.get(&Field::Tags).into_iter().flatten() {
            if let Some(t) = field(*col) {
                entry.tags.extend(split_tags(t));
            }
        }
        entry.first_seen = get(Field::FirstSeen).and_then(parse_time);
        entry.last_seen = get(Field::LastSeen).and_then(parse_time);
        entry.expires = get(Field::Expires).and_then(parse_time);
        entry.reference = get(Field::Reference).map(str::to_owned);
        out.entries.push(entry);
    }
    Ok(out)
}

/// The text with the spaces between a delimiter and an opening quote
/// removed (`a, "b,c"` → `a,"b,c"`), so that quoted fields after a space
/// are read as quoted (ThreatFox writes its dumps so; the csv crate only
/// takes a quote as the field's first byte).
fn tighten(text: &str, delimiter: u8) -> String {
    let delim = char::from(delimiter);
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            quoted = !quoted;
        } else if c == '\n' {
            quoted = false;
        } else if c == delim && !quoted {
            let mut spaces = String::new();
            while let Some(&n) = chars.peek() {
                if n == ' ' || n == '\t' {
                    spaces.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            if chars.peek() != Some(&'"') {
                out.push_str(&spaces);
            }
        }
    }
    out
}

/// A field without the quotes the csv crate leaves on when a space came
/// before them (`a, "b"`: ThreatFox writes its dumps so).
fn unquote(s: &str) -> &str {
    let t = s.trim();
    t.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .map_or(t, str::trim)
}

/// Columns (0-based) of each field: the mapping's, else by header names.
fn resolve(
    header: &[String],
    mapping: &CsvMapping,
) -> Result<BTreeMap<Field, Vec<usize>>, FormatError> {
    let mut out = BTreeMap::new();
    for (field, _, synonyms) in FIELDS {
        let cols: Vec<usize> = match mapping.columns.get(&field) {
            Some(cols) => cols
                .iter()
                .map(|c| match c {
                    Column::Index(0) => Err(FormatError::Csv("columns count from 1".into())),
                    Column::Index(i) => Ok(i - 1),
                    Column::Name(n) => header
                        .iter()
                        .position(|h| h.eq_ignore_ascii_case(n))
                        .ok_or_else(|| FormatError::Csv(format!("no column named {n:?}"))),
                })
                .collect::<Result<_, _>>()?,
            None => synonyms
                .iter()
                .find_map(|s| header.iter().position(|h| h == s))
                .into_iter()
                .collect(),
        };
        if !cols.is_empty() {
            out.insert(field, cols);
        }
    }
    if !out.contains_key(&Field::Value) && !mapping.columns.contains_key(&Field::Value) {
        out.insert(Field::Value, vec![0]);
    }
    Ok(out)
}

/// An IP or network, allowing a `:port` after an IPv4 address
/// (`[v6]:port` too).
fn ip_value(raw: &str) -> Result<(Kind, String), String> {
    let ip_kind = |(k, v): (Kind, String)| {
        if k.is_ip() {
            Ok((k, v))
        } else {
            Err(format!("{raw:?} is not an IP address or network"))
        }
    };
    if let Ok(kv) = classify(raw) {
        return ip_kind(kv);
    }
    let host = match raw.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => raw.rsplit_once(':').map_or(raw, |(h, _)| h),
    };
    classify(host)
        .map_err(|_| format!("{raw:?} is not an IP address or network"))
        .and_then(ip_kind)
}

/// 0–100, or a word (`high` 90, `medium` 60, `low` 30).
fn confidence(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "high" => Some(90),
        "medium" => Some(60),
        "low" => Some(30),
        n => n
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..=100.0).contains(v))
            .map(|v| v.round() as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_by_names_and_indexes() {
        let text = b"ip,kind,conf,labels\n192.0.2.1,ipv4,80,scanner;ssh\nnot-an-ip,ipv4,10,x\n";
        let m: CsvMapping = "value=ip,type=kind,confidence=conf,tags=labels"
            .parse()
            .unwrap();
        let p = parse(text, &m, None).unwrap();
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.entries[0].confidence, Some(80));
        assert_eq!(p.entries[0].tags, ["scanner", "ssh"]);
        assert_eq!(p.errors[0].location, "line 3");
        let m: CsvMapping = "value=1".parse().unwrap();
        let p = parse(b"x\n192.0.2.9\n", &m, None).unwrap();
        assert_eq!(p.entries[0].value, "192.0.2.9");
        assert!("nope=1".parse::<CsvMapping>().is_err());
        assert!(parse(text, &"value=missing".parse().unwrap(), None).is_err());
    }

    #[test]
    fn ip_with_port_is_the_ip() {
        assert_eq!(
            ip_value("192.0.2.1:443"),
            Ok((Kind::Ipv4, "192.0.2.1".into()))
        );
        assert_eq!(
            ip_value("[2001:db8::1]:443"),
            Ok((Kind::Ipv6, "2001:db8::1".into()))
        );
        assert!(ip_value("evil.example:80").is_err());
    }
}
