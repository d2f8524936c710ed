//! What a request target is: a static asset, robots.txt, a sitemap, a login
//! endpoint, or an attack probe (web-shell/backdoor name, sensitive file,
//! admin interface, path traversal, SQL injection or XSS probe).
//!
//! The probe lists are CrowdSec's sec-lists (`data/sec-lists/`, embedded),
//! matched with one ASCII case-insensitive Aho-Corasick scan of the target,
//! each hit then checked against where that kind of pattern must sit:
//!
//! - backdoor names (`c99.php`) are the last path segment, whole;
//! - sensitive names (`.env`, `.git/config`, `.sql`) end the path or a
//!   segment, and start a segment unless they begin with a dot (a suffix);
//! - admin interfaces (`/wp-admin`, `/phpmyadmin`) start the path;
//! - traversal, SQLi and XSS fragments (`../`, `union select`, `<script`)
//!   may sit anywhere in the target, query included.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

const BACKDOORS: &str = include_str!("../data/sec-lists/backdoors.txt");
const SENSITIVE: &str = include_str!("../data/sec-lists/sensitive_data.txt");
const ADMIN: &str = include_str!("../data/sec-lists/admin_interfaces.txt");
const TRAVERSAL: &str = include_str!("../data/sec-lists/path_traversal.txt");
const SQLI: &str = include_str!("../data/sec-lists/sqli_probe_patterns.txt");
const XSS: &str = include_str!("../data/sec-lists/xss_probe_patterns.txt");
/// Log4Shell lookups, not in the copied lists (the CVE lists are whole URIs).
const JNDI: &[&str] = &["${jndi:", "%24%7bjndi:", "$%7bjndi:"];

/// File extensions of static assets (what a browser fetches for a page).
const STATIC_EXT: &[&str] = &[
    "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp",
    "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3",
];

/// Bit flags of what a target is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathFlags(pub u16);

impl PathFlags {
    /// A static asset (css, js, image, font, media), by extension.
    pub const STATIC: u16 = 1;
    /// `/robots.txt`.
    pub const ROBOTS: u16 = 1 << 1;
    /// A sitemap (`/sitemap*.xml`, `sitemap_index.xml`, `.xml.gz`).
    pub const SITEMAP: u16 = 1 << 2;
    /// A configured login endpoint.
    pub const LOGIN: u16 = 1 << 3;
    /// A web-shell or backdoor file name.
    pub const BACKDOOR: u16 = 1 << 4;
    /// A sensitive file (.env, .git, dumps, keys, configs).
    pub const SENSITIVE: u16 = 1 << 5;
    /// An admin interface.
    pub const ADMIN: u16 = 1 << 6;
    /// A traversal, SQL injection, XSS or JNDI probe.
    pub const PROBE: u16 = 1 << 7;

    /// Whether every bit of `flag` is set.
    #[inline]
    pub const fn has(self, flag: u16) -> bool {
        self.0 & flag == flag
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Backdoor,
    Sensitive,
    Admin,
    Probe,
}

/// The path classifier.
#[derive(Debug)]
pub struct PathRules {
    ac: AhoCorasick,
    kinds: Vec<(Kind, bool)>,
    login: Vec<String>,
}

/// Error building the path rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathRulesError {
    /// The probe lists did not compile.
    #[error("path probe patterns do not compile: {0}")]
    Patterns(String),
}

fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.lines()
        .map(|l| l.trim_end_matches(['\r', '\n']))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

impl PathRules {
    /// Build from the embedded lists and the configured login paths
    /// (compared whole, case-insensitively, trailing `/` ignored).
    pub fn new(login_paths: &[String]) -> Result<Self, PathRulesError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut kinds = Vec::new();
        let mut push = |p: &str, kind: Kind| {
            patterns.push(p.to_owned());
            kinds.push((kind, p.starts_with('.')));
        };
        entries(BACKDOORS).for_each(|p| push(p, Kind::Backdoor));
        entries(SENSITIVE).for_each(|p| push(p, Kind::Sensitive));
        entries(ADMIN).for_each(|p| push(p, Kind::Admin));
        for list in [TRAVERSAL, SQLI, XSS] {
            entries(list).for_each(|p| push(p, Kind::Probe));
        }
        JNDI.iter().for_each(|p| push(p, Kind::Probe));
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // Every request's target is searched (overlapping): a DFA is
            // several times faster than the NFA the crate would otherwise
            // pick, for about 1 MiB built once.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| PathRulesError::Patterns(e.to_string()))?;
        let login = login_paths
            .iter()
            .map(|p| p.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Ok(Self { ac, kinds, login })
    }

    /// Classify a request target (path plus query).
    pub fn classify(&self, target: &str) -> PathFlags {
        let path_end = target.find('?').unwrap_or(target.len());
        let path = target.get(..path_end).unwrap_or(target);
        let mut flags = 0u16;
        let last = path.rsplit('/').next().unwrap_or(path);
        if let Some((_, ext)) = last.rsplit_once('.') {
            if ext.len() <= 5 && STATIC_EXT.iter().any(|e| e.eq_ignore_ascii_case(ext)) {
                flags |= PathFlags::STATIC;
            }
        }
        if path.eq_ignore_ascii_case("/robots.txt") {
            flags |= PathFlags::ROBOTS;
        }
        let lower_last = last.len() >= 7 && last.as_bytes()[..7].eq_ignore_ascii_case(b"sitemap");
        if lower_last && (ends_with_ci(last, ".xml") || ends_with_ci(last, ".xml.gz")) {
            flags |= PathFlags::SITEMAP;
        }
        let trimmed = path.trim_end_matches('/');
        if self.login.iter().any(|l| l.eq_ignore_ascii_case(trimmed)) {
            flags |= PathFlags::LOGIN;
        }
        let bytes = target.as_bytes();
        for m in self.ac.find_overlapping_iter(target) {
            let Some(&(kind, dotted)) = self.kinds.get(m.pattern().as_usize()) else {
                continue;
            };
            let (start, end) = (m.start(), m.end());
            let after_slash = start > 0 && bytes.get(start - 1) == Some(&b'/');
            let ends_segment = end == path_end || bytes.get(end) == Some(&b'/');
            flags |= match kind {
                Kind::Backdoor if end == path_end && after_slash => PathFlags::BACKDOOR,
                Kind::Sensitive if end <= path_end && ends_segment && (dotted || after_slash) => {
                    PathFlags::SENSITIVE
                }
                Kind::Admin if start == 0 => PathFlags::ADMIN,
                Kind::Probe => PathFlags::PROBE,
                _ => 0,
            };
        }
        PathFlags(flags)
    }
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PathRules {
        PathRules::new(&["/login".into(), "/wp-login.php".into()]).unwrap()
    }

    #[test]
    fn assets_robots_sitemaps_and_logins() {
        let r = rules();
        assert!(r.classify("/static/site.CSS?v=3").has(PathFlags::STATIC));
        assert!(r.classify("/img/logo.webp").has(PathFlags::STATIC));
        assert!(!r.classify("/products/42").has(PathFlags::STATIC));
        assert!(r.classify("/robots.txt").has(PathFlags::ROBOTS));
        assert!(r.classify("/sitemap_index.xml").has(PathFlags::SITEMAP));
        assert!(r.classify("/Login/").has(PathFlags::LOGIN));
        assert!(r.classify("/login?next=/").has(PathFlags::LOGIN));
        assert!(!r.classify("/login-help").has(PathFlags::LOGIN));
    }

    #[test]
    fn probes_are_recognised_where_they_must_sit() {
        let r = rules();
        assert!(r
            .classify("/wp-content/uploads/c99.php")
            .has(PathFlags::BACKDOOR));
        // A backdoor name inside another name is not one.
        assert!(!r.classify("/topic.php").has(PathFlags::BACKDOOR));
        assert!(r.classify("/.env").has(PathFlags::SENSITIVE));
        assert!(r.classify("/.git/config").has(PathFlags::SENSITIVE));
        assert!(r.classify("/backup/db.sql").has(PathFlags::SENSITIVE));
        assert!(!r.classify("/envelopes").has(PathFlags::SENSITIVE));
        assert!(r.classify("/phpmyadmin/index.php").has(PathFlags::ADMIN));
        assert!(!r.classify("/docs/phpmyadmin").has(PathFlags::ADMIN));
        assert!(r
            .classify("/download?file=../../etc/passwd")
            .has(PathFlags::PROBE));
        assert!(r
            .classify("/item?id=1%20union%20select%20null")
            .has(PathFlags::PROBE));
        assert!(r
            .classify("/q?s=%3Cscript%3Ealert(1)")
            .has(PathFlags::PROBE));
        assert!(r.classify("/?x=${jndi:ldap://a/b}").has(PathFlags::PROBE));
        let page = r.classify("/products/shoes?page=2");
        assert_eq!(page, PathFlags(0));
    }
}
