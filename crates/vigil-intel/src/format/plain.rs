//! Plain lists (one value a line) and FireHOL netsets.
//!
//! Plain: blank lines and lines starting with `#`, `;` or `//` are skipped,
//! and so is a comment after the value (` #…`). The value is the first
//! word, classified by [`classify`] unless a kind is given; a hosts-file
//! line (`0.0.0.0 evil.example`, `127.0.0.1 evil.example`) gives its name.
//! With the kind `user_agent` the whole line is the value.
//!
//! Netset (FireHOL `.netset`/`.ipset`): IPv4/IPv6 addresses and networks
//! only; the header comments' `Category` becomes a tag and `Maintainer
//! URL` the reference.

use super::{Entry, Parsed};
use crate::indicator::{classify, normalize, Kind};

/// Parse a plain list (`netset`: a FireHOL netset).
pub fn parse(bytes: &[u8], kind: Option<Kind>, netset: bool) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Parsed::default();
    let mut tags: Vec<String> = Vec::new();
    let mut reference: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if netset {
                if let Some((key, value)) = comment.split_once(':') {
                    let (key, value) = (key.trim(), value.trim());
                    if key.eq_ignore_ascii_case("category") && !value.is_empty() {
                        tags.push(value.to_owned());
                    } else if key.eq_ignore_ascii_case("maintainer url") && !value.is_empty() {
                        reference = Some(value.to_owned());
                    }
                }
            }
            continue;
        }
        if line.starts_with(';') || line.starts_with("//") {
            continue;
        }
        let line = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(at) => line[..at].trim_end(),
            None => line,
        };
        let location = format!("line {line_no}");
        if kind == Some(Kind::UserAgent) {
            out.entries
                .push(Entry::new(Kind::UserAgent, line.to_owned()));
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        let value = match (first, words.next()) {
            ("0.0.0.0" | "127.0.0.1" | "::" | "::1", Some(name)) if !netset => name,
            _ => first,
        };
        let result = if netset {
            classify(value).and_then(|(k, v)| {
                if k.is_ip() {
                    Ok((k, v))
                } else {
                    Err(format!("{value:?} is not an IP address or network"))
                }
            })
        } else {
            match kind {
                Some(k) if k.is_ip() => classify(value).and_then(|(c, v)| {
                    if c.is_ip() {
                        Ok((c, v))
                    } else {
                        Err(format!("{value:?} is not an IP address or network"))
                    }
                }),
                Some(k) => normalize(k, value).map(|v| (k, v)),
                None => classify(value),
            }
        };
        match result {
            Ok((k, v)) => out.entries.push(Entry::new(k, v)),
            Err(message) => out.error(location, message),
        }
    }
    if !tags.is_empty() || reference.is_some() {
        for e in &mut out.entries {
            e.tags.clone_from(&tags);
            e.reference.clone_from(&reference);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_hosts_lines_and_errors() {
        let text = b"# list\n; also a comment\n// and this\n\n192.0.2.1\n198.51.100.0/24 # a net\nevil.example\n0.0.0.0 ads.example\nnot a value here\n*.bad.example\n";
        let p = parse(text, None, false);
        let got: Vec<_> = p
            .entries
            .iter()
            .map(|e| (e.kind.unwrap(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Ipv4, "192.0.2.1"),
                (Kind::Ipv4, "198.51.100.0/24"),
                (Kind::Domain, "evil.example"),
                (Kind::Domain, "ads.example"),
                (Kind::DomainSuffix, "bad.example"),
            ]
        );
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].location, "line 9");
    }

    #[test]
    fn a_given_kind_is_checked() {
        let p = parse(
            b"e7d705a3286e19ea42f587b344ee6865\nzz\n",
            Some(Kind::Ja3),
            false,
        );
        assert_eq!(p.entries[0].kind, Some(Kind::Ja3));
        assert_eq!(p.errors[0].location, "line 2");
        let p = parse(
            b"Mozilla/5.0 (compatible; Evil/1.0)\n",
            Some(Kind::UserAgent),
            false,
        );
        assert_eq!(p.entries[0].value, "Mozilla/5.0 (compatible; Evil/1.0)");
    }

    #[test]
    fn netset_takes_only_networks_and_the_header() {
        let text = b"#\n# Category        : attacks\n# Maintainer URL  : http://iplists.firehol.org/\n#\n1.2.3.0/24\nevil.example\n2001:db8::/48\n";
        let p = parse(text, None, true);
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].tags, ["attacks"]);
        assert_eq!(
            p.entries[0].reference.as_deref(),
            Some("http://iplists.firehol.org/")
        );
        assert_eq!(p.errors[0].location, "line 6");
    }
}
