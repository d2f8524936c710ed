//! STIX 2.1 bundles: the `indicator` objects whose `pattern` (STIX
//! patterning language) compares values Vigil can match.
//!
//! Supported comparisons (`=`, `IN (…)`, and `ISSUBSET` for networks):
//! `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value`, `url:value`,
//! `file:hashes.MD5` / `'SHA-1'` / `'SHA-256'` (any spelling of the hash
//! name), `email-addr:value`, `email-message:from_ref.value`,
//! `network-traffic:src_ref.value` / `dst_ref.value`. Others (`!=`,
//! `LIKE`, `MATCHES`, `NOT`, other objects) are not matchable one value at
//! a time: an indicator with none of the supported ones is an error; one
//! with some imports those and counts the rest as skipped.
//!
//! **AND.** Vigil's matcher checks one observable at a time, so it cannot
//! require that two values were both seen. A pattern is therefore read as
//! the set of values it names, each imported as its own indicator:
//! - comparisons joined by OR (within or between observations): exact;
//! - comparisons joined by AND *inside one observation* about one object
//!   (`[file:hashes.MD5 = 'a' AND file:hashes.'SHA-256' = 'b']`): each value
//!   identifies that same object, so each alone is a fair match: imported
//!   as is;
//! - AND (or FOLLOWEDBY) *between observations*, or AND across different
//!   object types: a match on one value is only part of what the pattern
//!   asks. Those indicators carry the tag `stix:partial`, so the finding
//!   says a match is weaker than the pattern.
//!
//! Qualifiers (`WITHIN`, `REPEATS`, `START … STOP`) are parsed and ignored.
//! Attributes: `confidence`; `valid_from` → first seen; `modified` → last
//! seen; `valid_until` → expiry; `labels`, `indicator_types` and the name
//! → tags; the first external reference's URL (else the indicator's id) →
//! reference.
//!
//! The pattern parser is hand-written: there is no maintained Rust crate
//! for STIX patterns, and only the comparisons' values are needed.

use serde_json::Value;

use super::{parse_time, Entry, Format, FormatError, Parsed};
use crate::indicator::{classify, normalize, Kind};

/// The tag on indicators from an AND between observations or object types.
pub const PARTIAL_TAG: &str = "stix:partial";

/// Parse a STIX 2.1 bundle (or one indicator object, or an array of objects).
pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))?;
    let objects: Vec<Value> = match doc {
        Value::Object(mut o) => match o.remove("objects") {
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(FormatError::Shape {
                    format: Format::Stix,
                    reason: "\"objects\" is not an array".into(),
                })
            }
            None if o.get("type").and_then(Value::as_str) == Some("indicator") => {
                vec![Value::Object(o)]
            }
            None => {
                return Err(FormatError::Shape {
                    format: Format::Stix,
                    reason: "neither a bundle nor an indicator".into(),
                })
            }
        },
        Value::Array(a) => a,
        _ => {
            return Err(FormatError::Shape {
                format: Format::Stix,
                reason: "not a JSON object".into(),
            })
        }
    };
    let mut out = Parsed::default();
    for (i, obj) in objects.iter().enumerate() {
        if obj.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        let id = obj.get("id").and_then(Value::as_str).unwrap_or("");
        let location = if id.is_empty() {
            format!("objects[{i}]")
        } else {
            format!("objects[{i}] ({id})")
        };
        if obj.get("revoked").and_then(Value::as_bool) == Some(true) {
            out.skip("stix: revoked indicator");
            continue;
        }
        match obj.get("pattern_type").and_then(Value::as_str) {
            None | Some("stix") => {}
            Some(other) => {
                out.skip(format!("stix: pattern_type {other}"));
                continue;
            }
        }
        let Some(pattern) = obj.get("pattern").and_then(Value::as_str) else {
            out.error(location, "indicator without a pattern");
            continue;
        };
        let comparisons = match parse_pattern(pattern) {
            Ok(c) => c,
            Err(e) => {
                out.error(location, format!("pattern: {e}"));
                continue;
            }
        };
        let template = attributes(obj);
        let mut imported = 0usize;
        let mut unsupported = Vec::new();
        for c in &comparisons {
            match c.indicators() {
                Ok(values) => {
                    for (kind, value) in values {
                        let mut e = template.clone();
                        e.kind = Some(kind);
                        e.value = value;
                        if c.partial {
                            e.tags.push(PARTIAL_TAG.into());
                        }
                        out.entries.push(e);
                        imported += 1;
                    }
                }
                Err(why) => unsupported.push(why),
            }
        }
        if imported == 0 {
            let why = if unsupported.is_empty() {
                "no comparison".to_owned()
            } else {
                unsupported.join("; ")
            };
            out.error(location, format!("nothing to match: {why}"));
        } else {
            for _ in &unsupported {
                out.skip("stix: unsupported comparison");
            }
        }
    }
    Ok(out)
}

/// The indicator's attributes as an entry without kind and value.
fn attributes(obj: &Value) -> Entry {
    let s = |k: &str| obj.get(k).and_then(Value::as_str);
    let mut e = Entry {
        confidence: obj
            .get("confidence")
            .and_then(Value::as_u64)
            .map(|c| c.min(100) as u8),
        first_seen: s("valid_from").and_then(parse_time),
        last_seen: s("modified").and_then(parse_time),
        expires: s("valid_until").and_then(parse_time),
        ..Entry::default()
    };
    for key in ["indicator_types", "labels"] {
        if let Some(Value::Array(a)) = obj.get(key) {
            e.tags
                .extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    if let Some(name) = s("name") {
        e.tags.push(name.to_owned());
    }
    e.reference = obj
        .get("external_references")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter().find_map(|r| {
                r.get("url")
                    .or_else(|| r.get("external_id"))
                    .and_then(Value::as_str)
            })
        })
        .or_else(|| s("id"))
        .map(str::to_owned);
    e
}

/// One comparison of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// `ipv4-addr:value`, `file:hashes.'SHA-256'`, ...
    pub path: String,
    /// `=`, `IN`, `ISSUBSET`, `!=`, `LIKE`, ...
    pub op: String,
    /// True after `NOT`.
    pub negated: bool,
    /// The literal(s) compared with.
    pub values: Vec<String>,
    /// True when this comparison is ANDed with another observation or
    /// another object type (see the module doc).
    pub partial: bool,
}

impl Comparison {
    /// The indicators this comparison names, or why none.
    pub fn indicators(&self) -> Result<Vec<(Kind, String)>, String> {
        let what = format!(
            "{} {}{}",
            self.path,
            if self.negated { "NOT " } else { "" },
            self.op
        );
        if self.negated || !matches!(self.op.as_str(), "=" | "IN" | "ISSUBSET") {
            return Err(format!("{what} is not an equality"));
        }
        let (object, property) = self.path.split_once(':').unwrap_or((&self.path, ""));
        let prop = property.replace('\'', "");
        let kind: Option<Kind> = match (object, prop.as_str()) {
            ("ipv4-addr", "value") => Some(Kind::Ipv4),
            ("ipv6-addr", "value") => Some(Kind::Ipv6),
            ("domain-name", "value") => Some(Kind::Domain),
            ("url", "value") => Some(Kind::Url),
            ("email-addr", "value") | ("email-message", "from_ref.value") => Some(Kind::Email),
            ("network-traffic", "src_ref.value" | "dst_ref.value") => None,
            ("file", p) if p.starts_with("hashes.") => {
                let algo = p["hashes.".len()..]
                    .to_ascii_uppercase()
                    .replace(['-', '_'], "");
                match algo.as_str() {
                    "MD5" => Some(Kind::Md5),
                    "SHA1" => Some(Kind::Sha1),
                    "SHA256" => Some(Kind::Sha256),
                    _ => return Err(format!("{what}: hash {algo} is not matched")),
                }
            }
            _ => return Err(format!("{what}: not a matchable object")),
        };
        self.values
            .iter()
            .map(|v| match kind {
                Some(k) if k.is_ip() => classify(v).and_then(|(c, n)| {
                    if c == k {
                        Ok((c, n))
                    } else {
                        Err(format!("{v:?} is not an {k} value"))
                    }
                }),
                Some(k) => normalize(k, v).map(|n| (k, n)),
                None => classify(v).and_then(|(c, n)| {
                    if matches!(c, Kind::Ipv4 | Kind::Ipv6 | Kind::Domain) {
                        Ok((c, n))
                    } else {
                        Err(format!("{v:?} is not an address or domain"))
                    }
                }),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    /// A keyword or object path (`AND`, `ipv4-addr:value`, `file:hashes.'SHA-256'`).
    Word(String),
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Op(String),
    /// A quoted string (with any `t`/`b`/`h` prefix dropped).
    Str(String),
    /// A number or boolean.
    Num(String),
}

fn tokenize(p: &str) -> Result<Vec<Tok>, String> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            b']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            b'(' => {
                out.push(Tok::LParen);
                i += 1
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1
            }
            b'=' => {
                out.push(Tok::Op("=".into()));
                i += 1
            }
            b'!' | b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = if two {
                    format!("{}=", c as char)
                } else {
                    (c as char).to_string()
                };
                if op == "!" {
                    return Err(format!("unexpected '!' at {i}"));
                }
                out.push(Tok::Op(op));
                i += if two { 2 } else { 1 };
            }
            b'\'' => {
                let (s, next) = string_at(p, i)?;
                out.push(Tok::Str(s));
                i = next;
            }
            b't' | b'b' | b'h' if b.get(i + 1) == Some(&b'\'') => {
                let (s, next) = string_at(p, i + 1)?;
                out.push(Tok::Str(s));
                i = next;
            }
            c if c.is_ascii_digit()
                || c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit) =>
            {
                let start = i;
                i += 1;
                while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
                    i += 1;
                }
                out.push(Tok::Num(p[start..i].to_owned()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                // An object path may hold quoted segments: file:hashes.'SHA-256'.
                let start = i;
                while let Some(&c) = b.get(i) {
                    if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b':' | b'.' | b'*') {
                        i += 1;
                    } else if c == b'\'' && i > start && b.get(i - 1) == Some(&b'.') {
                        let (_, next) = string_at(p, i)?;
                        i = next;
                    } else if c == b'[' && i > start {
                        // List index in a path: `extensions.x[*].y`.
                        let close = p[i..].find(']').ok_or("unclosed '[' in a path")?;
                        i += close + 1;
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(p[start..i].to_owned()));
            }
            _ => return Err(format!("unexpected {:?} at {i}", c as char)),
        }
    }
    Ok(out)
}

/// The string literal starting at the quote at `i`: its value and the
/// index after the closing quote.
fn string_at(p: &str, i: usize) -> Result<(String, usize), String> {
    let mut s = String::new();
    let mut chars = p[i + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => s.push(e),
                None => break,
            },
            '\'' => return Ok((s, i + 1 + j + 1)),
            c => s.push(c),
        }
    }
    Err(format!("unterminated string at {i}"))
}

struct PatternParser {
    toks: Vec<Tok>,
    pos: usize,
    out: Vec<Comparison>,
}

/// The comparisons of a STIX pattern, each marked partial as the module
/// doc says; an error for a pattern that does not parse.
pub fn parse_pattern(pattern: &str) -> Result<Vec<Comparison>, String> {
    let toks = tokenize(pattern)?;
    if toks.len() > 100_000 {
        return Err("pattern too long".into());
    }
    let mut p = PatternParser {
        toks,
        pos: 0,
        out: Vec::new(),
    };
    p.observation_or(0)?;
    if let Some(t) = p.toks.get(p.pos) {
        return Err(format!("unexpected {t:?} after the pattern"));
    }
    Ok(p.out)
}

impl PatternParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn expect(&mut self, t: &Tok) -> Result<(), String> {
        if self.peek() == Some(t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {t:?}, found {:?}", self.peek()))
        }
    }

    /// Observation expressions joined by OR; `depth` guards recursion.
    fn observation_or(&mut self, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Err("pattern nested too deeply".into());
        }
        self.observation_and(depth)?;
        while self.keyword("OR") {
            self.pos += 1;
            self.observation_and(depth)?;
        }
        Ok(())
    }

    /// Observations joined by AND or FOLLOWEDBY: every comparison in them
    /// is partial when there is more than one.
    fn observation_and(&mut self, depth: usize) -> Result<(), String> {
        let start = self.out.len();
        self.observation(depth)?;
        let mut joined = false;
        while self.keyword("AND") || self.keyword("FOLLOWEDBY") {
            self.pos += 1;
            joined = true;
            self.observation(depth)?;
        }
        if joined {
            for c in &mut self.out[start..] {
                c.partial = true;
            }
        }
        Ok(())
    }

    fn observation(&mut self, depth: usize) -> Result<(), String> {
        match self.peek() {
            Some(Tok::LBracket) => {
                self.pos += 1;
                self.comparison_or(depth + 1)?;
                self.expect(&Tok::RBracket)?;
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                self.observation_or(depth + 1)?;
                self.expect(&Tok::RParen)?;
            }
            t => return Err(format!("expected '[' or '(', found {t:?}")),
        }
        self.qualifiers()
    }

    fn qualifiers(&mut self) -> Result<(), String> {
        loop {
            if self.keyword("WITHIN") {
                self.pos += 1;
                self.literal()?;
                self.word("SECONDS")?;
            } else if self.keyword("REPEATS") {
                self.pos += 1;
                self.literal()?;
                self.word("TIMES")?;
            } else if self.keyword("START") {
                self.pos += 1;
                self.literal()?;
                self.word("STOP")?;
                self.literal()?;
            } else {
                return Ok(());
            }
        }
    }

    fn word(&mut self, w: &str) -> Result<(), String> {
        if self.keyword(w) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {w}, found {:?}", self.peek()))
        }
    }

    fn literal(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Str(s) | Tok::Num(s)) => {
                self.pos += 1;
                Ok(s)
            }
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") =>
            {
                self.pos += 1;
                Ok(w)
            }
            t => Err(format!("expected a literal, found {t:?}")),
        }
    }

    fn comparison_or(&mut self, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Err("pattern nested too deeply".into());
        }
        self.comparison_and(depth)?;
        while self.keyword("OR") {
            self.pos += 1;
            self.comparison_and(depth)?;
        }
        Ok(())
    }

    /// Comparisons joined by AND inside one observation: partial when they
    /// are about different object types.
    fn comparison_and(&mut self, depth: usize) -> Result<(), String> {
        let start = self.out.len();
        self.comparison(depth)?;
        while self.keyword("AND") {
            self.pos += 1;
            self.comparison(depth)?;
        }
        let objects: std::collections::BTreeSet<&str> = self.out[start..]
            .iter()
            .map(|c| c.path.split(':').next().unwrap_or_default())
            .collect();
        if objects.len() > 1 {
            for c in &mut self.out[start..] {
                c.partial = true;
            }
        }
        Ok(())
    }

    fn comparison(&mut self, depth: usize) -> Result<(), String> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.comparison_or(depth + 1)?;
            return self.expect(&Tok::RParen);
        }
        let path = match self.peek().cloned() {
            Some(Tok::Word(w)) if w.contains(':') => {
                self.pos += 1;
                w
            }
            t => return Err(format!("expected an object path, found {t:?}")),
        };
        let negated = self.keyword("NOT");
        if negated {
            self.pos += 1;
        }
        let op = match self.peek().cloned() {
            Some(Tok::Op(o)) => o,
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            t => return Err(format!("expected an operator after {path}, found {t:?}")),
        };
        self.pos += 1;
        let values = match op.as_str() {
            "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "MATCHES" | "ISSUBSET"
            | "ISSUPERSET" => {
                vec![self.literal()?]
            }
            "IN" => {
                self.expect(&Tok::LParen)?;
                let mut v = vec![self.literal()?];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    v.push(self.literal()?);
                }
                self.expect(&Tok::RParen)?;
                v
            }
            "EXISTS" => Vec::new(),
            other => return Err(format!("unknown operator {other}")),
        };
        self.out.push(Comparison {
            path,
            op,
            negated,
            values,
            partial: false,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(p: &str) -> Vec<(Kind, String, bool)> {
        parse_pattern(p)
            .unwrap()
            .iter()
            .flat_map(|c| {
                let partial = c.partial;
                c.indicators()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |(k, v)| (k, v, partial))
            })
            .collect()
    }

    #[test]
    fn or_and_and_within_one_object() {
        assert_eq!(
            kinds("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'Evil.Example']"),
            [
                (Kind::Ipv4, "198.51.100.1".into(), false),
                (Kind::Domain, "evil.example".into(), false)
            ]
        );
        assert_eq!(
            kinds("[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E' AND file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']").len(),
            2
        );
        assert!(kinds("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']").iter().all(|k| !k.2));
    }

    #[test]
    fn and_between_observations_is_partial() {
        let got = kinds("[ipv4-addr:value = '203.0.113.5'] AND [url:value = 'http://evil.example/a'] WITHIN 300 SECONDS");
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|k| k.2));
        let got = kinds("([ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR [ipv6-addr:value IN ('2001:db8::1', '2001:db8::2')]) FOLLOWEDBY [email-addr:value = 'x@evil.example']");
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|k| k.2));
        let got = kinds("[ipv4-addr:value = '203.0.113.7' AND domain-name:value = 'evil.example']");
        assert!(
            got.iter().all(|k| k.2),
            "AND across object types is partial"
        );
    }

    #[test]
    fn unsupported_and_malformed() {
        let c = parse_pattern("[domain-name:value LIKE '%.evil.example']").unwrap();
        assert!(c[0].indicators().is_err());
        let c = parse_pattern("[process:name = 'evil.exe']").unwrap();
        assert!(c[0].indicators().is_err());
        let c = parse_pattern("[ipv4-addr:value NOT = '1.2.3.4']").unwrap();
        assert!(c[0].indicators().is_err());
        assert!(parse_pattern("[ipv4-addr:value = '1.2.3.4'").is_err());
        assert!(parse_pattern("[ipv4-addr:value = '1.2.3.4] ").is_err());
        assert!(parse_pattern("ipv4-addr:value = '1.2.3.4'").is_err());
        assert!(parse_pattern(&"(".repeat(200)).is_err());
        let c = parse_pattern("[x509-certificate:extensions.'x-ext'[*].name = 'a' OR url:value = 'http://e.example/it\\'s']").unwrap();
        assert_eq!(c[1].values, ["http://e.example/it's"]);
    }
}
