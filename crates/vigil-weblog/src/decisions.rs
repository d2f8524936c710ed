//! Decisions: what to do about a client (ban, challenge, throttle), why,
//! until when, and on what evidence; kept in the data directory.
//!
//! A [`Verdict`] that is not human (nor a verified good bot) becomes a
//! [`Decision`] on its entity ([`Subject`]: an address, an address block, an
//! address with a user agent, or a session) by the [`DecisionPolicy`]: each
//! bot class has an action and a duration, and a class probability at or
//! above `ban_at` escalates to a ban. The expiry is in event time: the
//! verdict's last request plus the duration. Addresses and blocks shared by
//! several clients (a NAT gateway, `Verdict::clients` above
//! `max_shared_clients`) get no decision of their own: the clients behind
//! them are decided one by one on their address + user agent or session.
//!
//! Merging ([`DecisionStore::apply`]): one decision per subject, never two.
//! A new verdict on a subject with an active decision keeps the stronger
//! action (ban > challenge > throttle), the later expiry, and the evidence
//! and reason of the stronger (or, when equal, the newer) verdict, and
//! counts the hit; on an expired decision it starts afresh. Decisions whose
//! expiry is at or before `now` drop out ([`DecisionStore::prune`]). The
//! store's clock is the newest event time applied, so an old log replayed
//! gives the decisions it gave at the time.
//!
//! The store is a JSON Lines file (`decisions.jsonl`, one decision a line),
//! rewritten whole and atomically by [`DecisionStore::save`]. It holds at
//! most `max_decisions`; over that, the decision that expires first is
//! dropped and counted.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use vigil_event::Timestamp;

use crate::detector::Verdict;
use crate::entity::{label, EntityKind};
use crate::score::Class;
use crate::store::{self, StoreError};

/// Who a decision (or a label) is about. Its text form is the verdict's
/// `subject`: `203.0.113.7`, `203.0.113.0/24`, `203.0.113.7 ua="curl/8.5"`,
/// `session=abc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// One address.
    Ip(IpAddr),
    /// An address block (network address, prefix length).
    Cidr(IpAddr, u8),
    /// One address with one user agent (empty: none sent).
    IpUa(IpAddr, String),
    /// One session key.
    Session(String),
}

/// A subject's text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad entity {text:?}: {reason} (expected 203.0.113.7, 203.0.113.0/24, 203.0.113.7 ua=\"...\" or session=KEY)")]
pub struct SubjectError {
    /// The text.
    pub text: String,
    /// What was wrong.
    pub reason: &'static str,
}

/// The network address of `ip`/`len`.
pub fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let len = u32::from(len.min(32));
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let len = u32::from(len.min(128));
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

/// Undo Rust's `{:?}` string escaping (`\"`, `\\`, `\'`, `\n`, `\r`, `\t`,
/// `\0`, `\u{…}`), the form user agents take in verdict subjects.
fn unescape_debug(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut hex = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        h if hex.len() < 6 => hex.push(h),
                        _ => return None,
                    }
                }
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

impl Subject {
    /// The subject of a verdict (`None` for a block whose address is not
    /// what the detector aggregates).
    pub fn of(v: &Verdict) -> Self {
        match v.entity {
            EntityKind::Ip => Subject::Ip(v.client),
            EntityKind::IpUa => Subject::IpUa(v.client, v.user_agent.clone().unwrap_or_default()),
            EntityKind::Session => Subject::Session(v.session.clone().unwrap_or_default()),
            EntityKind::Prefix => {
                let len = if v.client.is_ipv4() { 24 } else { 64 };
                Subject::Cidr(mask(v.client, len), len)
            }
        }
    }

    /// An address with a user agent, the user agent cut as the detector
    /// cuts it (so labels from other sources match verdicts).
    pub fn ip_ua(ip: IpAddr, user_agent: &str) -> Self {
        Subject::IpUa(ip, label(user_agent).into())
    }

    /// A session, cut as the detector cuts it.
    pub fn session(key: &str) -> Self {
        Subject::Session(label(key).into())
    }

    /// The kind name: `ip`, `cidr`, `ip_ua`, `session`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Subject::Ip(_) => "ip",
            Subject::Cidr(..) => "cidr",
            Subject::IpUa(..) => "ip_ua",
            Subject::Session(_) => "session",
        }
    }

    /// The address it names, for IP, block and IP + UA subjects.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Subject::Ip(ip) | Subject::Cidr(ip, _) | Subject::IpUa(ip, _) => Some(*ip),
            Subject::Session(_) => None,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Ip(ip) => write!(f, "{ip}"),
            Subject::Cidr(ip, len) => write!(f, "{ip}/{len}"),
            Subject::IpUa(ip, ua) => write!(f, "{ip} ua={ua:?}"),
            Subject::Session(s) => write!(f, "session={s}"),
        }
    }
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason| SubjectError {
            text: text.to_owned(),
            reason,
        };
        let t = text.trim();
        if let Some(s) = t.strip_prefix("session=") {
            if s.is_empty() {
                return Err(err("empty session key"));
            }
            return Ok(Subject::session(s));
        }
        if let Some((ip, rest)) = t.split_once(' ') {
            let ip: IpAddr = ip.parse().map_err(|_| err("not an address"))?;
            let quoted = rest
                .trim_start()
                .strip_prefix("ua=")
                .ok_or_else(|| err("after the address, expected ua=\"...\""))?;
            let inner = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .ok_or_else(|| err("the user agent must be in double quotes"))?;
            let ua = unescape_debug(inner).ok_or_else(|| err("bad escape in the user agent"))?;
            return Ok(Subject::ip_ua(ip, &ua));
        }
        if let Some((ip, len)) = t.split_once('/') {
            let ip: IpAddr = ip.parse().map_err(|_| err("not an address"))?;
            let len: u8 = len.parse().map_err(|_| err("bad prefix length"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if len > max {
                return Err(err("prefix length too long"));
            }
            if len == max {
                return Ok(Subject::Ip(ip));
            }
            return Ok(Subject::Cidr(mask(ip, len), len));
        }
        t.parse()
            .map(Subject::Ip)
            .map_err(|_| err("not an address"))
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What to do, weakest first (the order is the escalation order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Slow the client down (rate limit).
    Throttle,
    /// Make the client prove it is a person (a challenge page).
    Challenge,
    /// Refuse the client.
    Ban,
}

impl Action {
    /// `throttle`, `challenge`, `ban` (the exported value).
    pub const fn name(self) -> &'static str {
        match self {
            Action::Throttle => "throttle",
            Action::Challenge => "challenge",
            Action::Ban => "ban",
        }
    }
}

/// One class's action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPolicy {
    /// The action (`None`: no decision for this class).
    pub action: Option<Action>,
    /// How long it lasts, seconds of event time after the verdict's last
    /// request.
    pub secs: u64,
    /// From this class probability on, ban instead (`None`: never).
    pub ban_at: Option<f64>,
    /// How long such a ban lasts, seconds.
    pub ban_secs: u64,
}

impl ClassPolicy {
    const fn new(action: Option<Action>, secs: u64, ban_at: Option<f64>, ban_secs: u64) -> Self {
        Self {
            action,
            secs,
            ban_at,
            ban_secs,
        }
    }
}

/// How verdicts become decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionPolicy {
    /// Scrapers and unverified crawlers.
    pub scraper: ClassPolicy,
    /// Vulnerability scanners.
    pub scanner: ClassPolicy,
    /// Credential stuffers.
    pub credential_stuffing: ClassPolicy,
    /// Unknown (neither human nor clearly a bot).
    pub unknown: ClassPolicy,
    /// Address and block subjects with more clients behind them than this
    /// (`Verdict::clients`) get no decision (decide per client instead).
    pub max_shared_clients: f64,
    /// Features kept as evidence, the largest contributions first.
    pub evidence: usize,
    /// Most decisions kept.
    pub max_decisions: usize,
}

impl DecisionPolicy {
    /// Defaults: scrapers challenged 1 h (banned 6 h from P ≥ 0.95),
    /// scanners and credential stuffers banned 24 h, unknown throttled
    /// 15 min; no decision for addresses with more than 1.5 clients; 5
    /// evidence features; 1 000 000 decisions.
    pub const fn new() -> Self {
        Self {
            scraper: ClassPolicy::new(Some(Action::Challenge), 3600, Some(0.95), 6 * 3600),
            scanner: ClassPolicy::new(Some(Action::Ban), 24 * 3600, None, 0),
            credential_stuffing: ClassPolicy::new(Some(Action::Ban), 24 * 3600, None, 0),
            unknown: ClassPolicy::new(Some(Action::Throttle), 900, None, 0),
            max_shared_clients: 1.5,
            evidence: 5,
            max_decisions: 1_000_000,
        }
    }

    /// The action, its duration in seconds and the class probability for a
    /// verdict, `None` when it gets no decision.
    pub fn decide(&self, v: &Verdict) -> Option<(Action, u64, f64)> {
        let p = &v.score.probabilities;
        let (policy, prob) = match v.class {
            Class::Human | Class::GoodBot => return None,
            Class::Scraper => (&self.scraper, p[1]),
            Class::Attacker(crate::score::AttackKind::Scanner) => (&self.scanner, p[2]),
            Class::Attacker(crate::score::AttackKind::CredentialStuffing) => {
                (&self.credential_stuffing, p[3])
            }
            Class::Unknown => (&self.unknown, 1.0 - p[0]),
        };
        if matches!(v.entity, EntityKind::Ip | EntityKind::Prefix)
            && v.clients > self.max_shared_clients
        {
            return None;
        }
        if policy.ban_at.is_some_and(|b| prob >= b) {
            return Some((Action::Ban, policy.ban_secs, prob));
        }
        policy.action.map(|a| (a, policy.secs, prob))
    }
}

impl Default for DecisionPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// One feature behind a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Feature name.
    pub feature: String,
    /// Raw value.
    pub value: Option<f64>,
    /// Its contribution to the class's logit.
    pub contribution: f64,
}

/// A decision on one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Who.
    pub subject: Subject,
    /// What to do.
    pub action: Action,
    /// The verdict's class name (`scraper`, `scanner`, ...).
    pub class: String,
    /// Why, in words: class, probability and the verdict's reasons.
    pub reason: String,
    /// Class probability of the verdict behind the action.
    pub probability: f64,
    /// When first decided (event time, ns).
    pub created_ns: i64,
    /// When last extended or escalated (event time, ns).
    pub updated_ns: i64,
    /// When it ends (event time, ns).
    pub expires_ns: i64,
    /// The largest contributions of the verdict behind the action.
    pub evidence: Vec<Evidence>,
    /// The model version that scored it.
    pub model_version: u32,
    /// Verdicts merged into it.
    pub hits: u32,
}

impl Decision {
    /// Build a decision from a verdict (`None`: the policy makes none).
    pub fn from_verdict(v: &Verdict, policy: &DecisionPolicy) -> Option<Self> {
        let (action, secs, prob) = policy.decide(v)?;
        let mut evidence: Vec<Evidence> = v
            .score
            .contributions
            .iter()
            .filter(|c| c.contribution > 0.0)
            .map(|c| Evidence {
                feature: c.feature.to_owned(),
                value: c.value,
                contribution: c.contribution,
            })
            .collect();
        evidence.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        evidence.truncate(policy.evidence);
        let mut reason = format!("{} (p={prob:.2}, {} requests)", v.class.name(), v.requests);
        for r in &v.reasons {
            reason.push_str("; ");
            reason.push_str(r);
        }
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        Some(Decision {
            subject: Subject::of(v),
            action,
            class: v.class.name().to_owned(),
            reason,
            probability: prob,
            created_ns: v.last_ns,
            updated_ns: v.last_ns,
            expires_ns: v.last_ns.saturating_add(secs.saturating_mul(1_000_000_000)),
            evidence,
            model_version: v.model_version,
            hits: 1,
        })
    }

    /// Still in force at `now`.
    pub fn active(&self, now: Timestamp) -> bool {
        self.expires_ns > now.nanos()
    }

    /// Whole seconds left at `now` (rounded up, at least 1 while active).
    pub fn remaining_secs(&self, now: Timestamp) -> u64 {
        let left = self.expires_ns.saturating_sub(now.nanos());
        if left <= 0 {
            return 0;
        }
        u64::try_from((left + 999_999_999) / 1_000_000_000).unwrap_or(u64::MAX)
    }

    /// Merge a newer decision on the same subject into this one.
    fn merge(&mut self, new: Decision) {
        if !self.active(Timestamp::from_nanos(new.updated_ns)) {
            *self = new;
            return;
        }
        self.hits = self.hits.saturating_add(1);
        self.expires_ns = self.expires_ns.max(new.expires_ns);
        self.updated_ns = self.updated_ns.max(new.updated_ns);
        if new.action >= self.action {
            self.action = new.action;
            self.class = new.class;
            self.reason = new.reason;
            self.probability = new.probability;
            self.evidence = new.evidence;
            self.model_version = new.model_version;
        }
    }
}

/// What one [`DecisionStore::apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApplyStats {
    /// Verdicts given.
    pub verdicts: u64,
    /// New decisions.
    pub created: u64,
    /// Decisions extended or escalated.
    pub merged: u64,
    /// Verdicts that made no decision (human, good bot, shared address,
    /// no action for the class).
    pub ignored: u64,
    /// Decisions that expired and dropped out.
    pub expired: u64,
    /// Decisions dropped because the store was full.
    pub dropped_full: u64,
}

/// Active decisions, by subject, in the data directory.
#[derive(Debug)]
pub struct DecisionStore {
    path: PathBuf,
    policy: DecisionPolicy,
    decisions: HashMap<Subject, Decision>,
    clock_ns: i64,
    /// Lines of the file that did not parse when it was opened.
    pub bad_lines: u64,
    /// Decisions dropped because the store was full, in total.
    pub dropped_full: u64,
}

impl DecisionStore {
    /// Open (or start) the decisions of data directory `dir` with the
    /// default policy.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DecisionPolicy::default())
    }

    /// Open with a policy.
    pub fn open_with(dir: &Path, policy: DecisionPolicy) -> Result<Self, StoreError> {
        let path = dir.join(store::DECISIONS_FILE);
        let mut s = Self {
            path,
            policy,
            decisions: HashMap::new(),
            clock_ns: i64::MIN,
            bad_lines: 0,
            dropped_full: 0,
        };
        if let Some(bytes) = store::read_optional(&s.path)? {
            for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<Decision>(line) {
                    Ok(d) => {
                        s.clock_ns = s.clock_ns.max(d.updated_ns);
                        s.insert(d);
                    }
                    Err(error) => {
                        s.bad_lines += 1;
                        tracing::warn!(file = %s.path.display(), line = i + 1, %error, "skipping unparsable decision");
                    }
                }
            }
        }
        Ok(s)
    }

    fn insert(&mut self, d: Decision) -> bool {
        match self.decisions.get_mut(&d.subject) {
            Some(old) => {
                old.merge(d);
                false
            }
            None => {
                if self.decisions.len() >= self.policy.max_decisions.max(1) {
                    // Drop what expires first (the least lasting).
                    if let Some(k) = self
                        .decisions
                        .values()
                        .min_by_key(|d| (d.expires_ns, d.subject.clone()))
                        .map(|d| d.subject.clone())
                    {
                        self.decisions.remove(&k);
                        self.dropped_full += 1;
                    }
                }
                self.decisions.insert(d.subject.clone(), d);
                true
            }
        }
    }

    /// The policy in use.
    pub fn policy(&self) -> &DecisionPolicy {
        &self.policy
    }

    /// The newest event time applied (`None` before any).
    pub fn clock(&self) -> Option<Timestamp> {
        (self.clock_ns != i64::MIN).then_some(Timestamp::from_nanos(self.clock_ns))
    }

    /// Turn verdicts into decisions, merged per subject, then drop what has
    /// expired at `now` (event time; the store's clock moves to the latest
    /// of `now` and the verdicts' last requests).
    pub fn apply(&mut self, verdicts: &[Verdict], now: Timestamp) -> ApplyStats {
        let mut stats = ApplyStats {
            verdicts: verdicts.len() as u64,
            ..ApplyStats::default()
        };
        let full_before = self.dropped_full;
        for v in verdicts {
            self.clock_ns = self.clock_ns.max(v.last_ns);
            match Decision::from_verdict(v, &self.policy) {
                Some(d) => {
                    if self.insert(d) {
                        stats.created += 1;
                    } else {
                        stats.merged += 1;
                    }
                }
                None => stats.ignored += 1,
            }
        }
        self.clock_ns = self.clock_ns.max(now.nanos());
        stats.expired = self.prune(Timestamp::from_nanos(self.clock_ns));
        stats.dropped_full = self.dropped_full - full_before;
        stats
    }

    /// Drop decisions expired at `now`; returns how many.
    pub fn prune(&mut self, now: Timestamp) -> u64 {
        let before = self.decisions.len();
        self.decisions.retain(|_, d| d.active(now));
        (before - self.decisions.len()) as u64
    }

    /// Decisions in force at `now`, strongest first, then by subject.
    pub fn active(&self, now: Timestamp) -> Vec<&Decision> {
        let mut v: Vec<&Decision> = self.decisions.values().filter(|d| d.active(now)).collect();
        v.sort_by(|a, b| {
            b.action
                .cmp(&a.action)
                .then_with(|| a.subject.cmp(&b.subject))
        });
        v
    }

    /// Decisions held (active or not yet pruned).
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    /// No decisions held.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// Write every decision to `decisions.jsonl` atomically, sorted by
    /// subject (the same decisions give the same file).
    pub fn save(&self) -> Result<(), StoreError> {
        if let Some(dir) = self.path.parent() {
            store::ensure_dir(dir)?;
        }
        let mut all: Vec<&Decision> = self.decisions.values().collect();
        all.sort_by(|a, b| a.subject.cmp(&b.subject));
        let mut out = Vec::with_capacity(all.len() * 256);
        for d in all {
            serde_json::to_writer(&mut out, d).map_err(|e| StoreError::Parse {
                path: self.path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            out.push(b'\n');
        }
        store::write_atomic(&self.path, &out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detector::Close;
    use crate::features::Feature;
    use crate::score::{AttackKind, ModelConfig};

    const T: i64 = 1_782_900_000_000_000_000;
    const S: i64 = 1_000_000_000;

    /// A verdict on `subject` of `class` ending at `T + at` seconds.
    pub(crate) fn verdict(subject: &str, class: Class, p: f64, at: i64) -> Verdict {
        let s: Subject = subject.parse().unwrap();
        let (entity, client, user_agent, session) = match &s {
            Subject::Ip(ip) => (EntityKind::Ip, *ip, None, None),
            Subject::Cidr(ip, _) => (EntityKind::Prefix, *ip, None, None),
            Subject::IpUa(ip, ua) => (EntityKind::IpUa, *ip, Some(ua.clone()), None),
            Subject::Session(k) => (
                EntityKind::Session,
                "192.0.2.1".parse().unwrap(),
                None,
                Some(k.clone()),
            ),
        };
        let mut values = [None; Feature::COUNT];
        values[Feature::Rate as usize] = Some(120.0);
        values[Feature::UaLibrary as usize] = Some(1.0);
        values[Feature::Probe as usize] = Some(6.0);
        let fv = crate::features::FeatureValues {
            values,
            clients: 1.0,
            burstiness: None,
            static_share: 0.0,
            referer_share: 0.0,
        };
        let mut score = ModelConfig::default().score(&fv, 0.0, 1.0);
        score.probabilities = match class {
            Class::Scraper => [1.0 - p, p, 0.0, 0.0],
            Class::Attacker(AttackKind::Scanner) => [1.0 - p, 0.0, p, 0.0],
            Class::Attacker(AttackKind::CredentialStuffing) => [1.0 - p, 0.0, 0.0, p],
            _ => [1.0 - p, p, 0.0, 0.0],
        };
        score.class = class;
        Verdict {
            entity,
            subject: s.to_string(),
            client,
            user_agent,
            session,
            class,
            reasons: vec!["a reason".into()],
            score,
            clients: 1.0,
            crowd_share: 0.0,
            burstiness: None,
            static_share: 0.0,
            referer_share: 0.0,
            verification: None,
            claimed_bot: None,
            requests: 42,
            first_ns: T + (at - 60) * S,
            last_ns: T + at * S,
            closed: Close::Idle,
            model_version: 1,
        }
    }

    #[test]
    fn subjects_round_trip_through_text() {
        for text in [
            "203.0.113.7",
            "2001:db8::1",
            "203.0.113.0/24",
            "2001:db8:1:2::/64",
            r#"203.0.113.7 ua="curl/8.5 \"q\" \\ ü""#,
            r#"203.0.113.7 ua="""#,
            "session=abc-123",
        ] {
            let s: Subject = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        let s: Subject = "203.0.113.9/24".parse().unwrap();
        assert_eq!(s, Subject::Cidr("203.0.113.0".parse().unwrap(), 24));
        assert_eq!(
            "10.0.0.1/32".parse::<Subject>().unwrap(),
            Subject::Ip("10.0.0.1".parse().unwrap())
        );
        // A control character comes back from its escape.
        let ua = "a\tb\u{1}c";
        let s = Subject::ip_ua("10.0.0.1".parse().unwrap(), ua);
        assert_eq!(s.to_string().parse::<Subject>().unwrap(), s);
        for bad in [
            "",
            "nope",
            "10.0.0.1/33",
            "10.0.0.1 curl",
            "10.0.0.1 ua=curl",
            r#"10.0.0.1 ua="\q""#,
            "session=",
        ] {
            assert!(bad.parse::<Subject>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_subject_of_a_verdict_is_its_subject_text() {
        for s in [
            "198.51.100.7",
            r#"198.51.100.7 ua="python-requests/2.31""#,
            "session=xyz",
            "198.51.100.0/24",
        ] {
            let v = verdict(s, Class::Scraper, 0.9, 0);
            assert_eq!(Subject::of(&v).to_string(), v.subject);
        }
    }

    #[test]
    fn policy_picks_actions_and_durations() {
        let p = DecisionPolicy::default();
        let d = |s, c, prob| {
            p.decide(&verdict(s, c, prob, 0))
                .map(|(a, secs, _)| (a, secs))
        };
        assert_eq!(
            d("10.0.0.1", Class::Scraper, 0.8),
            Some((Action::Challenge, 3600))
        );
        assert_eq!(
            d("10.0.0.1", Class::Scraper, 0.97),
            Some((Action::Ban, 6 * 3600))
        );
        assert_eq!(
            d("10.0.0.1", Class::Attacker(AttackKind::Scanner), 0.6),
            Some((Action::Ban, 24 * 3600))
        );
        assert_eq!(
            d("10.0.0.1", Class::Unknown, 0.45),
            Some((Action::Throttle, 900))
        );
        assert_eq!(d("10.0.0.1", Class::Human, 0.0), None);
        assert_eq!(d("10.0.0.1", Class::GoodBot, 0.0), None);
        // A shared address is not decided on as a whole; its IP + UA is.
        let mut v = verdict("10.0.0.1", Class::Scraper, 0.8, 0);
        v.clients = 12.0;
        assert_eq!(p.decide(&v), None);
        let mut v = verdict(r#"10.0.0.1 ua="x""#, Class::Scraper, 0.8, 0);
        v.clients = 12.0;
        assert!(p.decide(&v).is_some());
    }

    #[test]
    fn decisions_merge_escalate_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DecisionStore::open(dir.path()).unwrap();
        let ip = "198.51.100.7";
        let st = store.apply(
            &[
                verdict(ip, Class::Unknown, 0.6, 0),
                verdict("session=abc", Class::Human, 0.0, 0),
            ],
            Timestamp::from_nanos(T),
        );
        assert_eq!((st.created, st.ignored), (1, 1));
        let a = store.active(Timestamp::from_nanos(T));
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].action, a[0].expires_ns, a[0].hits),
            (Action::Throttle, T + 900 * S, 1)
        );
        assert!(a[0]
            .reason
            .starts_with("unknown (p=0.60, 42 requests); a reason"));
        assert!(!a[0].evidence.is_empty() && a[0].evidence.len() <= 5);
        assert!(a[0]
            .evidence
            .windows(2)
            .all(|w| w[0].contribution >= w[1].contribution));
        // Same subject, stronger: escalates in place, never a duplicate.
        let st = store.apply(
            &[verdict(ip, Class::Scraper, 0.8, 100)],
            Timestamp::from_nanos(T + 100 * S),
        );
        assert_eq!((st.created, st.merged), (0, 1));
        assert_eq!(store.len(), 1);
        let d = store.active(Timestamp::from_nanos(T + 100 * S))[0].clone();
        assert_eq!(
            (
                d.action,
                d.class.as_str(),
                d.expires_ns,
                d.hits,
                d.created_ns
            ),
            (Action::Challenge, "scraper", T + 3700 * S, 2, T)
        );
        // Weaker and shorter later: the ban-level action and expiry stay.
        store.apply(
            &[verdict(ip, Class::Unknown, 0.6, 200)],
            Timestamp::from_nanos(T + 200 * S),
        );
        let d = store.active(Timestamp::from_nanos(T + 200 * S))[0].clone();
        assert_eq!(
            (d.action, d.class.as_str(), d.expires_ns, d.hits),
            (Action::Challenge, "scraper", T + 3700 * S, 3)
        );
        // Weaker but lasting longer: the expiry extends, the action stays.
        store.apply(
            &[verdict(ip, Class::Unknown, 0.6, 3500)],
            Timestamp::from_nanos(T + 3500 * S),
        );
        let d = store.active(Timestamp::from_nanos(T + 3500 * S))[0].clone();
        assert_eq!((d.action, d.expires_ns), (Action::Challenge, T + 4400 * S));
        assert_eq!(d.remaining_secs(Timestamp::from_nanos(T + 3500 * S)), 900);
        // Saved and reopened: the same.
        store.save().unwrap();
        let again = DecisionStore::open(dir.path()).unwrap();
        assert_eq!(again.bad_lines, 0);
        assert_eq!(again.active(Timestamp::from_nanos(T + 3500 * S))[0], &d);
        assert_eq!(again.clock(), Some(Timestamp::from_nanos(T + 3500 * S)));
        // Expired at its expiry: drops out of active() and at the next apply.
        assert!(store.active(Timestamp::from_nanos(T + 4400 * S)).is_empty());
        let st = store.apply(&[], Timestamp::from_nanos(T + 4400 * S));
        assert_eq!((st.expired, store.len()), (1, 0));
        // A new verdict after expiry starts a fresh decision.
        store.apply(
            &[verdict(ip, Class::Unknown, 0.6, 5000)],
            Timestamp::from_nanos(T + 5000 * S),
        );
        let d = store.active(Timestamp::from_nanos(T + 5000 * S))[0].clone();
        assert_eq!(
            (d.action, d.hits, d.created_ns),
            (Action::Throttle, 1, T + 5000 * S)
        );
    }

    #[test]
    fn the_store_is_bounded_and_drops_what_expires_first() {
        let dir = tempfile::tempdir().unwrap();
        let policy = DecisionPolicy {
            max_decisions: 2,
            ..DecisionPolicy::default()
        };
        let mut store = DecisionStore::open_with(dir.path(), policy).unwrap();
        let st = store.apply(
            &[
                verdict("10.0.0.1", Class::Unknown, 0.6, 0), // 15 min
                verdict("10.0.0.2", Class::Attacker(AttackKind::Scanner), 0.9, 0), // 24 h
                verdict("10.0.0.3", Class::Scraper, 0.8, 0), // 1 h
            ],
            Timestamp::from_nanos(T),
        );
        assert_eq!((st.created, st.dropped_full), (3, 1));
        let left: Vec<String> = store
            .active(Timestamp::from_nanos(T))
            .iter()
            .map(|d| d.subject.to_string())
            .collect();
        assert_eq!(left, ["10.0.0.2", "10.0.0.3"]);
    }

    #[test]
    fn a_torn_line_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DecisionStore::open(dir.path()).unwrap();
        store.apply(
            &[verdict("10.0.0.1", Class::Scraper, 0.8, 0)],
            Timestamp::from_nanos(T),
        );
        store.save().unwrap();
        let p = dir.path().join(store::DECISIONS_FILE);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(b"{\"subject\":\"10.0.0.2\",\"act");
        std::fs::write(&p, bytes).unwrap();
        let again = DecisionStore::open(dir.path()).unwrap();
        assert_eq!((again.len(), again.bad_lines), (1, 1));
    }
}
