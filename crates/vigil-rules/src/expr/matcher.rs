//! Prepared tests on one value: text tests (case-sensitive, ASCII and
//! Unicode case-insensitive, sets, regexes) and address networks. Each is
//! built once, when a condition is compiled; matching allocates nothing.
//!
//! Case-insensitive matching is Unicode simple case folding, as the `regex`
//! crate's `(?i)` does it. The common case is answered on bytes with ASCII
//! folding, which is exact when the pattern is ASCII and either the text is
//! ASCII too or the pattern has no `k` or `s` (the only ASCII letters with a
//! non-ASCII fold partner: the Kelvin sign and the long s). Otherwise a
//! regex prepared with the literal pattern answers.

use std::cmp::Ordering;
use std::net::IpAddr;

use aho_corasick::AhoCorasick;
use memchr::memmem;
use regex::{Regex, RegexBuilder};

use crate::ast::StrOp;

use super::anchors::Pos;

/// Compiled programs of one regex may take this much memory (the `regex`
/// crate's own default is 10 MiB; a condition has no use for that much).
pub(crate) const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// A test on a text value.
#[derive(Debug)]
pub(crate) enum TextTest {
    /// Whole text equal.
    Equals(Box<str>),
    /// Starts with.
    StartsWith(Box<str>),
    /// Ends with.
    EndsWith(Box<str>),
    /// Contains (memchr's substring search, prepared once).
    Contains(Box<memmem::Finder<'static>>),
    /// One of the case-insensitive tests.
    NoCase(Box<NoCase>),
    /// Equal to one of (sorted).
    OneOf(Box<[Box<str>]>),
    /// Equal to one of, ignoring case.
    OneOfNoCase(Box<NoCaseSet>),
    /// Regex search.
    Regex(Box<RegexTest>),
}

impl TextTest {
    /// The test `op` with `pattern`, case-sensitive or not.
    pub(crate) fn new(op: StrOp, pattern: &str, nocase: bool) -> Result<Self, String> {
        if nocase {
            return NoCase::new(op, pattern).map(|n| TextTest::NoCase(Box::new(n)));
        }
        let p: Box<str> = pattern.into();
        Ok(match op {
            StrOp::Equals => TextTest::Equals(p),
            StrOp::StartsWith => TextTest::StartsWith(p),
            StrOp::EndsWith => TextTest::EndsWith(p),
            StrOp::Contains => TextTest::Contains(Box::new(
                memmem::Finder::new(pattern.as_bytes()).into_owned(),
            )),
        })
    }

    /// Equal to one of `values` (case-insensitively when `nocase`).
    pub(crate) fn one_of(values: Vec<String>, nocase: bool) -> Result<Self, String> {
        if nocase {
            return NoCaseSet::new(&values).map(|n| TextTest::OneOfNoCase(Box::new(n)));
        }
        let mut v: Vec<Box<str>> = values.into_iter().map(String::into_boxed_str).collect();
        v.sort_unstable();
        v.dedup();
        Ok(TextTest::OneOf(v.into_boxed_slice()))
    }

    /// Texts one of which a passing value must hold, whether
    /// case-insensitively, and where; None when the test needs no
    /// particular text (a regex, an empty pattern).
    pub(crate) fn required(&self) -> Option<(Vec<&[u8]>, bool, Pos)> {
        let place = |op: StrOp| match op {
            StrOp::Equals => Pos::Whole,
            StrOp::StartsWith => Pos::Prefix,
            StrOp::EndsWith => Pos::Suffix,
            StrOp::Contains => Pos::Any,
        };
        let (texts, nocase, pos): (Vec<&[u8]>, bool, Pos) = match self {
            TextTest::Equals(p) => (vec![p.as_bytes()], false, Pos::Whole),
            TextTest::StartsWith(p) => (vec![p.as_bytes()], false, Pos::Prefix),
            TextTest::EndsWith(p) => (vec![p.as_bytes()], false, Pos::Suffix),
            TextTest::Contains(f) => (vec![f.needle()], false, Pos::Any),
            TextTest::NoCase(n) => (vec![n.pattern.as_bytes()], true, place(n.op)),
            TextTest::OneOf(set) => (
                set.iter().map(|v| v.as_bytes()).collect(),
                false,
                Pos::Whole,
            ),
            TextTest::OneOfNoCase(set) => (
                set.values.iter().map(|v| v.as_bytes()).collect(),
                true,
                Pos::Whole,
            ),
            TextTest::Regex(r) => (
                r.literals.as_deref()?.iter().map(|l| &**l).collect(),
                false,
                Pos::Any,
            ),
        };
        if texts.is_empty() || texts.iter().any(|t| t.is_empty()) {
            return None;
        }
        Some((texts, nocase, pos))
    }

    /// Does `text` pass?
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match self {
            TextTest::Equals(p) => text == &**p,
            TextTest::StartsWith(p) => text.starts_with(&**p),
            TextTest::EndsWith(p) => text.ends_with(&**p),
            TextTest::Contains(f) => f.find(text.as_bytes()).is_some(),
            TextTest::NoCase(n) => n.is_match(text),
            TextTest::OneOf(set) => set.binary_search_by(|p| (**p).cmp(text)).is_ok(),
            TextTest::OneOfNoCase(set) => set.is_match(text),
            TextTest::Regex(r) => r.re.is_match(text),
        }
    }
}

/// A regex and the literals one of which starts every match, when the
/// regex has a finite set of them (for the prefilter).
#[derive(Debug)]
pub(crate) struct RegexTest {
    re: Regex,
    literals: Option<Box<[Box<[u8]>]>>,
}

impl TextTest {
    /// A regex search with `flags` (`i`, `m`, `s`).
    pub(crate) fn regex(pattern: &str, flags: &str) -> Result<Self, String> {
        let re = build_regex(pattern, flags)?;
        Ok(TextTest::Regex(Box::new(RegexTest {
            re,
            literals: prefixes(pattern, flags),
        })))
    }
}

/// The literals every match of the regex starts with (case variants
/// included), as `regex-syntax` extracts them; None when they are not a
/// finite set of non-empty literals.
fn prefixes(pattern: &str, flags: &str) -> Option<Box<[Box<[u8]>]>> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .build()
        .parse(pattern)
        .ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new()
        .kind(regex_syntax::hir::literal::ExtractKind::Prefix)
        .extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().into()).collect())
}

/// Build a regex with the crate's size limit.
pub(crate) fn build_regex(pattern: &str, flags: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| regex_reason(&e))
}

/// The one-line reason in a `regex` error (its syntax errors draw the
/// pattern with a caret over several lines).
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.lines().last().unwrap_or("invalid").trim().to_owned())
}

/// ASCII letters whose case folding reaches outside ASCII (K: Kelvin sign
/// U+212A; S: long s U+017F).
fn has_wide_fold(pattern: &str) -> bool {
    pattern
        .bytes()
        .any(|b| matches!(b, b'k' | b'K' | b's' | b'S'))
}

/// A case-insensitive test with one pattern.
#[derive(Debug)]
pub(crate) struct NoCase {
    op: StrOp,
    /// The pattern as written.
    pattern: Box<str>,
    /// The pattern in ASCII lower case.
    folded: Box<[u8]>,
    /// The pattern is ASCII.
    ascii: bool,
    /// The pattern has a letter whose fold reaches outside ASCII.
    wide: bool,
    /// Contains, on the ASCII path.
    finder: Option<AhoCorasick>,
    /// The pattern as an escaped `(?i)` regex, anchored as `op` requires,
    /// for texts the ASCII path cannot answer exactly.
    unicode: Option<Regex>,
}

impl NoCase {
    fn new(op: StrOp, pattern: &str) -> Result<Self, String> {
        let ascii = pattern.is_ascii();
        let wide = has_wide_fold(pattern);
        let finder = if op == StrOp::Contains && ascii {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build([pattern])
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        let unicode = if !ascii || wide {
            let lit = regex::escape(pattern);
            let anchored = match op {
                StrOp::Equals => format!(r"(?i)\A{lit}\z"),
                StrOp::StartsWith => format!(r"(?i)\A{lit}"),
                StrOp::EndsWith => format!(r"(?i){lit}\z"),
                StrOp::Contains => format!("(?i){lit}"),
            };
            Some(build_regex(&anchored, "")?)
        } else {
            None
        };
        Ok(Self {
            op,
            pattern: pattern.into(),
            folded: pattern.to_ascii_lowercase().into_bytes().into_boxed_slice(),
            ascii,
            wide,
            finder,
            unicode,
        })
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        if self.ascii && (!self.wide || text.is_ascii()) {
            let t = text.as_bytes();
            let p = &*self.folded;
            return match self.op {
                StrOp::Equals => t.eq_ignore_ascii_case(p),
                StrOp::StartsWith => t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)),
                StrOp::EndsWith => t
                    .len()
                    .checked_sub(p.len())
                    .and_then(|start| t.get(start..))
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(p)),
                StrOp::Contains => self.finder.as_ref().is_some_and(|f| f.is_match(t)),
            };
        }
        self.unicode.as_ref().is_some_and(|re| re.is_match(text))
    }
}

/// Equality with any of many patterns, ignoring case: the ASCII patterns
/// sorted in lower case and searched with ASCII folding, one anchored
/// `(?i)` alternation for what that cannot answer exactly.
#[derive(Debug)]
pub(crate) struct NoCaseSet {
    /// The values as written.
    values: Box<[Box<str>]>,
    ascii: Box<[Box<[u8]>]>,
    /// Some pattern is not ASCII (it could equal an ASCII text only through
    /// Unicode folding).
    any_non_ascii: bool,
    /// Some pattern is not ASCII or has a wide-fold letter.
    any_wide: bool,
    unicode: Option<Regex>,
}

fn cmp_folded(pattern: &[u8], text: &[u8]) -> Ordering {
    pattern
        .iter()
        .copied()
        .cmp(text.iter().map(u8::to_ascii_lowercase))
}

impl NoCaseSet {
    fn new(values: &[String]) -> Result<Self, String> {
        let mut ascii: Vec<Box<[u8]>> = values
            .iter()
            .filter(|v| v.is_ascii())
            .map(|v| v.to_ascii_lowercase().into_bytes().into_boxed_slice())
            .collect();
        ascii.sort_unstable();
        ascii.dedup();
        let any_non_ascii = values.iter().any(|v| !v.is_ascii());
        let any_wide = any_non_ascii || values.iter().any(|v| has_wide_fold(v));
        let unicode = if any_wide {
            let alts: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
            Some(build_regex(
                &format!(r"(?i)\A(?:{})\z", alts.join("|")),
                "",
            )?)
        } else {
            None
        };
        Ok(Self {
            values: values.iter().map(|v| v.as_str().into()).collect(),
            ascii: ascii.into_boxed_slice(),
            any_non_ascii,
            any_wide,
            unicode,
        })
    }

    fn is_match(&self, text: &str) -> bool {
        let unicode = || self.unicode.as_ref().is_some_and(|re| re.is_match(text));
        if text.is_ascii() {
            let t = text.as_bytes();
            self.ascii.binary_search_by(|p| cmp_folded(p, t)).is_ok()
                || (self.any_non_ascii && unicode())
        } else {
            self.any_wide && unicode()
        }
    }
}

/// An address network, `a.b.c.d/n` or `v6::/n`. The prefix test is a mask
/// and a compare; hand-written rather than a dependency for two lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    /// IPv4 network and mask.
    V4 { net: u32, mask: u32 },
    /// IPv6 network and mask.
    V6 { net: u128, mask: u128 },
}

impl Net {
    /// Parse `addr/prefix` or a bare address (a host network). Host bits
    /// set past the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`).
    pub(crate) fn parse(text: &str) -> Option<Net> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let bits: u32 = match ip {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix: u32 = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => bits,
        };
        if prefix > bits {
            return None;
        }
        Some(match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                Net::V4 {
                    net: u32::from(a) & mask,
                    mask,
                }
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                Net::V6 {
                    net: u128::from(a) & mask,
                    mask,
                }
            }
        })
    }

    /// Is `ip` in the network? An IPv4-mapped IPv6 address counts as its
    /// IPv4 address.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let hit = |ip: IpAddr| match (self, ip) {
            (Net::V4 { net, mask }, IpAddr::V4(a)) => u32::from(a) & mask == *net,
            (Net::V6 { net, mask }, IpAddr::V6(a)) => u128::from(a) & mask == *net,
            _ => false,
        };
        hit(ip) || hit(ip.to_canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(op: StrOp, pattern: &str, nocase: bool, text: &str) -> bool {
        TextTest::new(op, pattern, nocase).unwrap().is_match(text)
    }

    /// The case-insensitive tests agree with the `regex` crate's `(?i)` on
    /// the awkward cases: Kelvin sign, long s, non-ASCII letters.
    #[test]
    fn nocase_agrees_with_regex_folding() {
        let patterns = ["kit", "SELECT", "abc", "é", "straße", "K", "", "ſ"];
        let texts = [
            "KIT",
            "\u{212A}it",
            "select",
            "ſelect",
            "xABCx",
            "É",
            "STRASSE",
            "k",
            "",
            "é",
        ];
        for p in patterns {
            for text in texts {
                for op in [
                    StrOp::Equals,
                    StrOp::StartsWith,
                    StrOp::EndsWith,
                    StrOp::Contains,
                ] {
                    let lit = regex::escape(p);
                    let re = match op {
                        StrOp::Equals => format!(r"(?i)\A{lit}\z"),
                        StrOp::StartsWith => format!(r"(?i)\A{lit}"),
                        StrOp::EndsWith => format!(r"(?i){lit}\z"),
                        StrOp::Contains => format!("(?i){lit}"),
                    };
                    let want = Regex::new(&re).unwrap().is_match(text);
                    assert_eq!(t(op, p, true, text), want, "{op:?} {p:?} on {text:?}");
                }
                let set = TextTest::one_of(vec![p.to_owned(), "zzz".to_owned()], true).unwrap();
                let want = Regex::new(&format!(r"(?i)\A(?:{}|zzz)\z", regex::escape(p)))
                    .unwrap()
                    .is_match(text);
                assert_eq!(set.is_match(text), want, "iin [{p:?}] on {text:?}");
            }
        }
    }

    #[test]
    fn case_sensitive_tests() {
        assert!(t(StrOp::Contains, "passwd", false, "/etc/passwd"));
        assert!(!t(StrOp::Contains, "PASSWD", false, "/etc/passwd"));
        assert!(t(StrOp::StartsWith, "/etc", false, "/etc/passwd"));
        assert!(t(StrOp::EndsWith, "wd", false, "/etc/passwd"));
        assert!(!t(StrOp::EndsWith, "/etc/passwd/", false, "wd"));
        assert!(t(StrOp::Equals, "", false, ""));
        let set = TextTest::one_of(vec!["b".into(), "a".into(), "c".into()], false).unwrap();
        assert!(set.is_match("a") && set.is_match("c") && !set.is_match("A"));
    }

    #[test]
    fn networks() {
        let n = Net::parse("10.1.2.3/8").unwrap();
        assert!(n.contains("10.200.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let all = Net::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let v6 = Net::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let host = Net::parse("192.0.2.1").unwrap();
        assert!(host.contains("192.0.2.1".parse().unwrap()));
        assert!(!host.contains("192.0.2.2".parse().unwrap()));
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "x",
            "::/129",
            "10.0.0.0/+8",
        ] {
            assert_eq!(Net::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn regex_prefix_literals() {
        let lits = |p: &str, f: &str| {
            prefixes(p, f).map(|l| {
                let mut v: Vec<String> = l
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect();
                v.sort();
                v
            })
        };
        assert_eq!(lits(r"union\s+select", ""), Some(vec!["union".to_owned()]));
        assert_eq!(
            lits("(?:cmd|powershell)\\.exe", ""),
            Some(vec!["cmd.exe".to_owned(), "powershell.exe".to_owned()])
        );
        assert_eq!(lits(r"\d+\.php", ""), None);
        assert_eq!(lits(".*", ""), None);
        // Case variants, the Kelvin sign's included.
        let k = lits("k", "i").unwrap();
        assert!(
            k.contains(&"K".to_owned())
                && k.contains(&"k".to_owned())
                && k.contains(&"\u{212A}".to_owned())
        );
    }

    #[test]
    fn regex_errors_are_one_line() {
        let err = build_regex("(abc", "").unwrap_err();
        assert_eq!(err, "unclosed group");
        let err = build_regex("a{1000}{1000}", "").unwrap_err();
        assert!(err.contains("size limit"), "{err}");
    }
}
