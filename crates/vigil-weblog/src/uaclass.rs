//! User-agent classes: browser, known crawler (and which good bot it claims
//! to be), HTTP library, browser automation, vulnerability scanner, known
//! bad bot, empty, or other.
//!
//! The patterns are embedded data (see `data/*/SOURCE.md`): the
//! crawler-user-agents list (about 1,500 patterns, tagged), CrowdSec's
//! legitimate-bot list (which bots can be verified, and how) and its bad
//! user-agent list. Literal patterns go into one Aho-Corasick automaton
//! (ASCII case-insensitive); the few real regexes into a `RegexSet`.
//! Classifying costs a scan of the user agent, so [`UaCache`] remembers the
//! class of each distinct user agent (bounded; cleared and counted when
//! full): the per-record cost is one hash and one table lookup.
//!
//! Whether a claimed crawler is real is not decided here (the user agent is
//! free text): [`crate::whitelist`] verifies it by address.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{RegexSet, RegexSetBuilder};
use serde::Serialize;

use crate::whitelist::GoodBots;

const CRAWLER_PATTERNS: &str = include_str!("../data/crawler-user-agents/crawler_patterns.tsv");
const BAD_USER_AGENTS: &str = include_str!("../data/sec-lists/bad_user_agents.txt");

/// What a user agent says the client is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UaClass {
    /// A browser (`Mozilla/…` and no crawler or tool token).
    #[default]
    Browser,
    /// A known crawler by its user agent (search engine, SEO, monitoring,
    /// feed reader, AI crawler, …), not yet verified.
    Crawler,
    /// An HTTP library or command-line tool: curl, wget, python-requests,
    /// Go-http-client, okhttp, Scrapy, ….
    Library,
    /// Browser automation: HeadlessChrome, PhantomJS, Selenium, ….
    Automation,
    /// A vulnerability scanner by name: sqlmap, Nikto, Nmap, WPScan, ….
    Scanner,
    /// On the bad user-agent list (abusive crawlers and tools).
    BadBot,
    /// No user agent (missing or empty).
    Empty,
    /// Anything else.
    Other,
}

impl UaClass {
    /// The class name used in evidence.
    pub const fn name(self) -> &'static str {
        match self {
            UaClass::Browser => "browser",
            UaClass::Crawler => "known_crawler",
            UaClass::Library => "library",
            UaClass::Automation => "automation",
            UaClass::Scanner => "scanner",
            UaClass::BadBot => "bad_bot",
            UaClass::Empty => "empty",
            UaClass::Other => "other",
        }
    }
}

/// A user agent's class, and the good bot it claims to be, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UaInfo {
    /// The class.
    pub class: UaClass,
    /// Index into [`GoodBots`] of the verifiable bot the user agent names.
    pub claims: Option<u16>,
}

/// The classifier: embedded patterns, built once.
#[derive(Debug)]
pub struct UaClassifier {
    literals: AhoCorasick,
    literal_class: Vec<UaClass>,
    regexes: RegexSet,
    regex_class: Vec<UaClass>,
    bad: AhoCorasick,
}

fn tag_class(tag: &str) -> UaClass {
    match tag {
        "scanner" => UaClass::Scanner,
        "http-library" => UaClass::Library,
        "browser-automation" => UaClass::Automation,
        _ => UaClass::Crawler,
    }
}

/// The pattern with regex escapes of punctuation removed, if that leaves a
/// plain literal (most crawler patterns are, e.g. `Googlebot\/`).
fn as_literal(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() || e == ' ' => out.push(e),
                _ => return None,
            },
            '[' | ']' | '(' | ')' | '*' | '+' | '?' | '^' | '$' | '|' | '{' | '}' => return None,
            // An unescaped '.' is a wildcard, but in these patterns it is
            // always meant as a dot; matching it literally only narrows.
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Error building the classifier from the embedded data (a bug in the data,
/// caught by the tests).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    /// A pattern list did not compile.
    #[error("user-agent patterns {list} do not compile: {reason}")]
    Patterns {
        /// Which list.
        list: &'static str,
        /// The compiler's message.
        reason: String,
    },
}

impl UaClassifier {
    /// Build from the embedded lists.
    pub fn new() -> Result<Self, UaError> {
        let mut literals = Vec::new();
        let mut literal_class = Vec::new();
        let mut regexes = Vec::new();
        let mut regex_class = Vec::new();
        for line in CRAWLER_PATTERNS.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((tag, pattern)) = line.split_once('\t') else {
                continue;
            };
            match as_literal(pattern) {
                Some(lit) => {
                    literals.push(lit);
                    literal_class.push(tag_class(tag));
                }
                None => {
                    regexes.push(pattern.to_owned());
                    regex_class.push(tag_class(tag));
                }
            }
        }
        let literals_ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .map_err(|e| UaError::Patterns {
                list: "crawler literals",
                reason: e.to_string(),
            })?;
        // ASCII semantics (`\d`, `\s` as ASCII classes): user agents are
        // ASCII in practice, and the workspace builds regex without Unicode
        // tables.
        let regexes = RegexSetBuilder::new(&regexes)
            .unicode(false)
            .size_limit(8 << 20)
            .build()
            .map_err(|e| UaError::Patterns {
                list: "crawler regexes",
                reason: e.to_string(),
            })?;
        let bad: Vec<&str> = BAD_USER_AGENTS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let bad = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(&bad)
            .map_err(|e| UaError::Patterns {
                list: "bad user agents",
                reason: e.to_string(),
            })?;
        Ok(Self {
            literals: literals_ac,
            literal_class,
            regexes,
            regex_class,
            bad,
        })
    }

    /// Classify one user agent (`None` or empty: [`UaClass::Empty`]).
    pub fn classify(&self, ua: Option<&str>, good: &GoodBots) -> UaInfo {
        let ua = match ua.map(str::trim) {
            None | Some("") | Some("-") => {
                return UaInfo {
                    class: UaClass::Empty,
                    claims: None,
                }
            }
            Some(ua) => ua,
        };
        if let Some(bot) = good.claimed_by(ua) {
            return UaInfo {
                class: UaClass::Crawler,
                claims: Some(bot),
            };
        }
        // The most telling class among every pattern that matches: a tool
        // or scanner name beats a generic crawler tag.
        let mut best: Option<UaClass> = None;
        let rank = |c: UaClass| match c {
            UaClass::Scanner => 4,
            UaClass::Automation => 3,
            UaClass::Library => 2,
            UaClass::Crawler => 1,
            _ => 0,
        };
        let mut consider = |c: UaClass| {
            if best.is_none_or(|b| rank(c) > rank(b)) {
                best = Some(c);
            }
        };
        for m in self.literals.find_overlapping_iter(ua) {
            if let Some(&c) = self.literal_class.get(m.pattern().as_usize()) {
                consider(c);
            }
        }
        for i in self.regexes.matches(ua.as_bytes()).iter() {
            if let Some(&c) = self.regex_class.get(i) {
                consider(c);
            }
        }
        if let Some(class) = best {
            return UaInfo {
                class,
                claims: None,
            };
        }
        let bytes = ua.as_bytes();
        let word = |i: usize| bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric());
        let bad = self
            .bad
            .find_iter(ua)
            .any(|m| (m.start() == 0 || !word(m.start() - 1)) && !word(m.end()));
        let class = if bad {
            UaClass::BadBot
        } else if ua.starts_with("Mozilla/") {
            UaClass::Browser
        } else {
            UaClass::Other
        };
        UaInfo {
            class,
            claims: None,
        }
    }
}

/// Classes of the user agents seen, by the user agent's hash; bounded to
/// `capacity` entries, cleared when full (counted in `clears`).
#[derive(Debug)]
pub struct UaCache {
    map: foldhash::HashMap<u64, UaInfo>,
    capacity: usize,
    /// Times the cache was full and cleared.
    pub clears: u64,
}

impl UaCache {
    /// An empty cache of at most `capacity` user agents.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: foldhash::HashMap::default(),
            capacity: capacity.max(1),
            clears: 0,
        }
    }

    /// The class of the user agent with this hash, classifying it on a miss.
    #[inline]
    pub fn get(
        &mut self,
        hash: u64,
        ua: Option<&str>,
        classifier: &UaClassifier,
        good: &GoodBots,
    ) -> UaInfo {
        if let Some(info) = self.map.get(&hash) {
            return *info;
        }
        let info = classifier.classify(ua, good);
        if self.map.len() >= self.capacity {
            self.map.clear();
            self.clears += 1;
        }
        self.map.insert(hash, info);
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ua: &str) -> UaInfo {
        let good = GoodBots::builtin().unwrap();
        UaClassifier::new().unwrap().classify(Some(ua), &good)
    }

    #[test]
    fn classes_of_common_user_agents() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(class(chrome).class, UaClass::Browser);
        assert_eq!(class("curl/8.5.0").class, UaClass::Library);
        assert_eq!(class("python-requests/2.31.0").class, UaClass::Library);
        assert_eq!(class("Go-http-client/1.1").class, UaClass::Library);
        assert_eq!(
            class("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36").class,
            UaClass::Automation
        );
        assert_eq!(
            class("sqlmap/1.7.2#stable (https://sqlmap.org)").class,
            UaClass::Scanner
        );
        assert_eq!(
            class("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)").class,
            UaClass::Scanner
        );
        assert_eq!(class("AhrefsBot/7.0").class, UaClass::Crawler);
        assert_eq!(class("my-own-thing/1.0").class, UaClass::Other);
        let good = GoodBots::builtin().unwrap();
        let c = UaClassifier::new().unwrap();
        assert_eq!(c.classify(None, &good).class, UaClass::Empty);
        assert_eq!(c.classify(Some(""), &good).class, UaClass::Empty);
    }

    #[test]
    fn googlebot_is_a_crawler_claiming_the_googlebot_entry() {
        let good = GoodBots::builtin().unwrap();
        let info =
            class("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert_eq!(info.class, UaClass::Crawler);
        let bot = info.claims.and_then(|i| good.get(i)).unwrap();
        assert_eq!(bot.name, "googlebot");
    }

    #[test]
    fn bad_user_agents_match_whole_words_only() {
        assert_eq!(
            class("Mozilla/5.0 (compatible; MJ12bot/v1.4.8)").class,
            UaClass::Crawler
        );
        assert_eq!(class("masscan/1.3").class, UaClass::Scanner);
    }

    #[test]
    fn cache_is_bounded_and_counts_clears() {
        let good = GoodBots::builtin().unwrap();
        let c = UaClassifier::new().unwrap();
        let mut cache = UaCache::new(2);
        for (i, ua) in ["a/1", "b/1", "c/1"].iter().enumerate() {
            cache.get(i as u64, Some(ua), &c, &good);
        }
        assert_eq!(cache.clears, 1);
        assert!(cache.map.len() <= 2);
    }
}
