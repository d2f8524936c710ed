//! [`BotDetector`]: access records in, explained verdicts out, in event time.
//!
//! Each record is classified once (user agent, target, referer, session)
//! and then updates its entities (see [`crate::entity`]) and the site
//! baseline (see [`crate::baseline`]). An entity's window closes when it has
//! been idle `idle_secs` (checked as event time advances, or at
//! [`BotDetector::tick`]), when it has been open `max_window_secs`, when
//! the table is full and it is the least recently seen (evicted, counted),
//! or at [`BotDetector::finish`]. A closed window with at least
//! `min_requests` requests (or any attack-path hit) is judged, except a
//! /24 or /64 block where one address sent more than half of the requests
//! (a lower bound from a 4-slot space-saving count of addresses): that
//! address is judged on its own, and a block verdict would only add its
//! neighbours:
//!
//! 1. a claimed good bot is verified ([`crate::whitelist::Verifier`]); a
//!    verified one is a good bot, a failed claim becomes the
//!    `ua_fake_crawler` feature;
//! 2. the features are computed ([`crate::features`]) with `k`, the clients
//!    behind the entity, and its crowd share (requests to paths hot
//!    site-wide at the time), and scored ([`crate::score`]);
//! 3. a scraper verdict for an entity whose only bot evidence is a crawler
//!    claim that could not be checked is lowered to unknown.
//!
//! The same input gives the same verdicts in the same order every run.
//! Per record nothing is allocated except when an entity is created.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::baseline::SiteBaseline;
use crate::entity::{label, prefix_of, Entity, EntityKey, EntityKind, EntityTable};
use crate::features::{
    compute, ua_index, Accum, Feature, FeatureValues, Obs, SiteView, UA_CLASSES,
};
use crate::paths::{PathFlags, PathRules, PathRulesError};
use crate::record::AccessRecord;
use crate::score::{Class, ModelConfig, ModelError, Score};
use crate::sketch::{hash_str, TopK};
use crate::uaclass::{UaCache, UaClass, UaClassifier, UaError};
use crate::whitelist::{
    CidrError, GoodBots, GoodBotsError, Verification, Verifier, Whitelist, WhitelistConfig,
};

/// Which entities to track, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntityConfig {
    /// Judge client addresses.
    pub ip: bool,
    /// Judge address + user agent pairs.
    pub ip_ua: bool,
    /// Judge sessions (when a session field is logged).
    pub session: bool,
    /// Judge /24 and /64 blocks (distributed crawlers).
    pub prefix: bool,
    /// Logged variables that carry the session key, first present wins
    /// (nginx `cookie_session`, `http_x_session`; Apache `{Cookie}i` is not
    /// split, so name a dedicated variable).
    pub session_fields: Vec<String>,
    /// Most entities tracked at once (all kinds together).
    pub max_entities: usize,
}

impl EntityConfig {
    /// Defaults: every kind, 200 000 entities.
    pub fn new() -> Self {
        Self {
            ip: true,
            ip_ua: true,
            session: true,
            prefix: true,
            session_fields: vec![
                "cookie_session".into(),
                "cookie_sessionid".into(),
                "http_x_session".into(),
            ],
            max_entities: 200_000,
        }
    }
}

impl Default for EntityConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Windows, in event time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Width of a rate bucket, seconds.
    pub bucket_secs: u32,
    /// A window closes after this long without requests, seconds.
    pub idle_secs: u32,
    /// A window closes after this long open, seconds.
    pub max_window_secs: u32,
    /// Fewest requests for a verdict (windows with attack-path hits are
    /// judged whatever their size).
    pub min_requests: u32,
}

impl WindowConfig {
    /// Defaults: 10 s buckets, 30 min idle, 1 h windows, 5 requests.
    pub const fn new() -> Self {
        Self {
            bucket_secs: 10,
            idle_secs: 1800,
            max_window_secs: 3600,
            min_requests: 5,
        }
    }
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// What the detector knows about the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// The site's host names (a referer to one of them is the site's own;
    /// when empty, the logged `Host` is used, and when that is not logged
    /// either, every absolute referer counts as the site's own).
    pub hosts: Vec<String>,
    /// Login endpoints (whole path, case-insensitive).
    pub login_paths: Vec<String>,
    /// Distinct clients fetching a path within a minute that make it hot.
    pub hot_min_clients: u32,
    /// A hot path discounts requests within this many seconds of its hot
    /// span.
    pub hot_margin_secs: u32,
}

impl SiteConfig {
    /// Defaults: common login paths, hot from 20 clients a minute, 60 s
    /// margin.
    pub fn new() -> Self {
        Self {
            hosts: Vec::new(),
            login_paths: [
                "/login",
                "/signin",
                "/sign-in",
                "/log-in",
                "/user/login",
                "/users/sign_in",
                "/account/login",
                "/accounts/login",
                "/auth/login",
                "/api/login",
                "/api/auth/login",
                "/wp-login.php",
                "/xmlrpc.php",
                "/session",
            ]
            .map(String::from)
            .to_vec(),
            hot_min_clients: 20,
            hot_margin_secs: 60,
        }
    }
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The bot detector's whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Entities.
    pub entities: EntityConfig,
    /// Windows.
    pub window: WindowConfig,
    /// The site.
    pub site: SiteConfig,
    /// Allow-lists and crawler verification.
    pub whitelist: WhitelistConfig,
    /// The scoring model (weights, scales, thresholds, version).
    pub model: ModelConfig,
    /// Distinct user agents whose class is cached (0: 65 536).
    pub ua_cache: usize,
}

/// Why the detector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectorError {
    /// The model's weight vectors are malformed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An allow-list CIDR does not parse.
    #[error("whitelist: {0}")]
    Cidr(#[from] CidrError),
    /// The embedded user-agent patterns.
    #[error(transparent)]
    UserAgents(#[from] UaError),
    /// The embedded path patterns.
    #[error(transparent)]
    Paths(#[from] PathRulesError),
    /// The good-bot list.
    #[error(transparent)]
    GoodBots(#[from] GoodBotsError),
}

/// Why a window closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Close {
    /// Idle for `idle_secs`.
    Idle,
    /// Open for `max_window_secs`.
    MaxWindow,
    /// Evicted: the table was full and it was the least recently seen.
    Evicted,
    /// End of input.
    End,
}

/// One judged window of one entity.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The entity kind.
    pub entity: EntityKind,
    /// The entity as a readable subject: `203.0.113.7`,
    /// `203.0.113.7 ua="curl/8.5"`, `session=abc`, `203.0.113.0/24`.
    pub subject: String,
    /// The client address (the latest one, for sessions and blocks).
    pub client: IpAddr,
    /// The user agent, for IP + UA entities.
    pub user_agent: Option<String>,
    /// The session key, for session entities.
    pub session: Option<String>,
    /// The class.
    pub class: Class,
    /// Why the class is what it is, beyond the model (verification,
    /// shared address, crowd).
    pub reasons: Vec<String>,
    /// The model's score and every feature's contribution.
    pub score: Score,
    /// Clients behind the entity (`k`).
    pub clients: f64,
    /// Share of requests to paths hot site-wide at the time.
    pub crowd_share: f64,
    /// Burstiness `B` of inter-arrival times, when defined.
    pub burstiness: Option<f64>,
    /// The entity's static-asset share.
    pub static_share: f64,
    /// The entity's referer share.
    pub referer_share: f64,
    /// Crawler verification, when the user agent claims a good bot.
    pub verification: Option<Verification>,
    /// The good bot claimed.
    pub claimed_bot: Option<String>,
    /// Requests in the window.
    pub requests: u32,
    /// First request, ns since the epoch.
    pub first_ns: i64,
    /// Last request, ns since the epoch.
    pub last_ns: i64,
    /// Why the window closed.
    pub closed: Close,
    /// The model version that scored it.
    pub model_version: u32,
}

/// Running counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Records observed.
    pub records: u64,
    /// Records from allow-listed blocks (not judged).
    pub whitelisted: u64,
    /// Health-check records (skipped).
    pub health_checks: u64,
    /// Entities tracked now.
    pub entities_tracked: u64,
    /// Most entities tracked at once.
    pub entities_peak: u64,
    /// Entities evicted because the table was full.
    pub entities_evicted: u64,
    /// Windows closed.
    pub windows_closed: u64,
    /// Windows too small to judge.
    pub windows_below_min: u64,
    /// /24 and /64 windows not judged because one address sent more than
    /// half of their requests (that address is judged on its
    /// own; its neighbours are not judged with it).
    pub blocks_single_address: u64,
    /// Verdicts per class: human, good bot, scraper, scanner, credential
    /// stuffing, unknown.
    pub verdicts: [u64; 6],
    /// Times the user-agent class cache was full and cleared.
    pub ua_cache_clears: u64,
    /// DNS lookups for crawler verification.
    pub rdns_lookups: u64,
    /// Hot paths forgotten because the table was full.
    pub hot_path_evictions: u64,
}

/// The detector.
#[derive(Debug)]
pub struct BotDetector {
    config: DetectorConfig,
    classifier: UaClassifier,
    good: GoodBots,
    ua_cache: UaCache,
    paths: PathRules,
    whitelist: Whitelist,
    verifier: Verifier,
    table: EntityTable,
    site: SiteBaseline,
    closing: Vec<(Entity, Close)>,
    pending: Vec<Verdict>,
    counters: Counters,
    now_ns: i64,
    next_sweep_ns: i64,
}

fn class_slot(c: Class) -> usize {
    match c {
        Class::Human => 0,
        Class::GoodBot => 1,
        Class::Scraper => 2,
        Class::Attacker(crate::score::AttackKind::Scanner) => 3,
        Class::Attacker(crate::score::AttackKind::CredentialStuffing) => 4,
        Class::Unknown => 5,
    }
}

/// The path of a referer when it points at the site itself.
fn own_referer<'a>(referer: &'a str, host: Option<&str>, hosts: &[String]) -> Option<&'a str> {
    let rest = referer
        .strip_prefix("https://")
        .or_else(|| referer.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    let ref_host = authority.rsplit('@').next().unwrap_or(authority);
    fn strip_port(h: &str) -> &str {
        if h.starts_with('[') {
            h
        } else {
            h.split(':').next().unwrap_or(h)
        }
    }
    let ref_host = strip_port(ref_host);
    let own = if !hosts.is_empty() {
        hosts.iter().any(|h| h.eq_ignore_ascii_case(ref_host))
    } else if let Some(h) = host {
        strip_port(h).eq_ignore_ascii_case(ref_host)
    } else {
        true
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    own.then_some(path)
}

/// Update (or create) one entity with one observation, closing its window
/// first when it is too old; what must be judged goes to `closing`.
/// Returns (new clock hour for it, new path for it).
#[inline]
#[allow(clippy::too_many_arguments)]
fn update(
    table: &mut EntityTable,
    closing: &mut Vec<(Entity, Close)>,
    key: EntityKey,
    ip: IpAddr,
    name: Option<&str>,
    claims: Option<u16>,
    obs: &Obs,
    max_window_ns: i64,
) -> (bool, bool) {
    let (e, evicted) = table.get_or_insert(key, || Entity {
        key,
        ip,
        label: name.map(label),
        claims,
        acc: Accum::default(),
    });
    if e.acc.n > 0 && obs.t_ns.saturating_sub(e.acc.first_ns) > max_window_ns {
        let acc = std::mem::take(&mut e.acc);
        closing.push((
            Entity {
                key,
                ip: e.ip,
                label: e.label.clone(),
                claims: e.claims,
                acc,
            },
            Close::MaxWindow,
        ));
    }
    e.ip = ip;
    if claims.is_some() {
        e.claims = claims;
    }
    let new_hour = e.acc.n == 0 || e.acc.last_hour != obs.hour;
    let new_path = e.acc.add(obs);
    if let Some(old) = evicted {
        closing.push((old, Close::Evicted));
    }
    (new_hour, new_path)
}

impl BotDetector {
    /// Build a detector.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectorError> {
        config.model.validate()?;
        let good = if config.whitelist.builtin_good_bots {
            GoodBots::builtin()?
        } else {
            GoodBots::empty()
        };
        let verifier = Verifier::new(&config.whitelist.rdns);
        Self::with_parts(config, good, verifier)
    }

    /// Build a detector with a given good-bot list and verifier (e.g. one
    /// with its own resolver).
    pub fn with_parts(
        config: DetectorConfig,
        good: GoodBots,
        verifier: Verifier,
    ) -> Result<Self, DetectorError> {
        config.model.validate()?;
        let ua_cache = if config.ua_cache == 0 {
            65_536
        } else {
            config.ua_cache
        };
        Ok(Self {
            classifier: UaClassifier::new()?,
            good,
            ua_cache: UaCache::new(ua_cache),
            paths: PathRules::new(&config.site.login_paths)?,
            whitelist: Whitelist::new(&config.whitelist)?,
            verifier,
            table: EntityTable::new(config.entities.max_entities),
            site: SiteBaseline::new(config.site.hot_min_clients),
            closing: Vec::new(),
            pending: Vec::new(),
            counters: Counters::default(),
            now_ns: i64::MIN,
            next_sweep_ns: i64::MIN,
            config,
        })
    }

    /// Replace the scoring model (a learner's new fit) without losing state.
    pub fn set_model(&mut self, model: ModelConfig) -> Result<(), ModelError> {
        model.validate()?;
        self.config.model = model;
        Ok(())
    }

    /// The configuration in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Observe one record.
    pub fn observe(&mut self, rec: &AccessRecord) {
        self.counters.records += 1;
        let ip = rec.client;
        if self.whitelist.allowed(ip) {
            self.counters.whitelisted += 1;
            return;
        }
        let path = rec.path();
        let ua = rec.user_agent.as_deref().filter(|u| !u.is_empty());
        if self.whitelist.health_check(path, ua) {
            self.counters.health_checks += 1;
            return;
        }
        let t = rec.time.nanos();
        if t > self.now_ns {
            self.now_ns = t;
        }
        let bucket_ns = i64::from(self.config.window.bucket_secs.max(1)) * 1_000_000_000;
        if self.now_ns >= self.next_sweep_ns {
            self.next_sweep_ns = self.now_ns.saturating_add(bucket_ns);
            self.sweep_idle(self.now_ns);
        }
        let ua_hash = ua.map_or(0, hash_str);
        let info = self.ua_cache.get(ua_hash, ua, &self.classifier, &self.good);
        let flags = self.paths.classify(&rec.target);
        let referer = rec.referer.as_deref().filter(|r| !r.is_empty());
        let own = referer
            .and_then(|r| own_referer(r, rec.host.as_deref(), &self.config.site.hosts))
            .map(hash_str);
        let entities = &self.config.entities;
        let session = if entities.session {
            entities
                .session_fields
                .iter()
                .find_map(|f| rec.field(f).filter(|v| !v.is_empty() && *v != "-"))
        } else {
            None
        };
        let method = rec.method.as_str();
        let obs = Obs {
            t_ns: t,
            bucket: t.div_euclid(bucket_ns),
            hour: t.div_euclid(3_600_000_000_000),
            path_hash: hash_str(path),
            has_referer: referer.is_some(),
            own_referer: own,
            flags,
            head: method.eq_ignore_ascii_case("HEAD"),
            post: method.eq_ignore_ascii_case("POST"),
            status: rec.status,
            ua: info.class,
            ua_hash,
            session_hash: session.map(hash_str),
            ip_hash: match ip {
                IpAddr::V4(v4) => u64::from(u32::from(v4)).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                IpAddr::V6(v6) => {
                    let b = u128::from(v6);
                    ((b >> 64) as u64 ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                }
            },
        };
        let max_window_ns = i64::from(self.config.window.max_window_secs) * 1_000_000_000;
        let gateway = self.whitelist.gateway(ip);
        let (new_hour, new_path) = update(
            &mut self.table,
            &mut self.closing,
            EntityKey::IpUa(ip, ua_hash),
            ip,
            ua,
            info.claims,
            &obs,
            max_window_ns,
        );
        // The IP + UA entity always exists (it is the site baseline's
        // client); it is judged only when configured.
        self.site.observe(
            t,
            obs.hour,
            obs.path_hash,
            flags.has(PathFlags::STATIC),
            obs.has_referer,
            new_hour,
            new_path,
        );
        if entities.ip && !gateway {
            update(
                &mut self.table,
                &mut self.closing,
                EntityKey::Ip(ip),
                ip,
                None,
                info.claims,
                &obs,
                max_window_ns,
            );
        }
        if let Some(s) = session {
            let key = EntityKey::Session(hash_str(s));
            update(
                &mut self.table,
                &mut self.closing,
                key,
                ip,
                Some(s),
                info.claims,
                &obs,
                max_window_ns,
            );
        }
        if entities.prefix && !gateway {
            let key = EntityKey::Prefix(prefix_of(ip));
            update(
                &mut self.table,
                &mut self.closing,
                key,
                ip,
                None,
                info.claims,
                &obs,
                max_window_ns,
            );
        }
        let tracked = self.table.len() as u64;
        self.counters.entities_tracked = tracked;
        self.counters.entities_peak = self.counters.entities_peak.max(tracked);
        if !self.closing.is_empty() {
            self.judge_closing();
        }
    }

    fn sweep_idle(&mut self, now: i64) {
        let idle_ns = i64::from(self.config.window.idle_secs) * 1_000_000_000;
        while let Some(oldest) = self.table.oldest() {
            if oldest.acc.last_ns.saturating_add(idle_ns) > now {
                break;
            }
            match self.table.pop_oldest() {
                Some(e) => self.closing.push((e, Close::Idle)),
                None => break,
            }
        }
        self.counters.entities_tracked = self.table.len() as u64;
        self.judge_closing();
    }

    fn judge_closing(&mut self) {
        let closing = std::mem::take(&mut self.closing);
        for (entity, why) in closing {
            if let Some(v) = self.judge(&entity, why) {
                self.pending.push(v);
            }
        }
    }

    /// Advance event time to `now` (a live source's clock tick when traffic
    /// is idle): closes idle windows. Returns the verdicts ready so far.
    pub fn tick(&mut self, now: vigil_event::Timestamp) -> Vec<Verdict> {
        let now = now.nanos();
        if now > self.now_ns {
            self.now_ns = now;
        }
        self.sweep_idle(self.now_ns);
        self.take_verdicts()
    }

    /// The verdicts of the windows closed so far (removed from the detector).
    pub fn take_verdicts(&mut self) -> Vec<Verdict> {
        std::mem::take(&mut self.pending)
    }

    /// End of input: close every window; returns every verdict not taken yet.
    pub fn finish(&mut self) -> Vec<Verdict> {
        for e in self.table.drain() {
            self.closing.push((e, Close::End));
        }
        self.judge_closing();
        self.counters.entities_tracked = 0;
        self.take_verdicts()
    }

    /// Running counts.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        c.entities_evicted = self.table.evicted;
        c.ua_cache_clears = self.ua_cache.clears;
        c.rdns_lookups = self.verifier.lookups;
        c.hot_path_evictions = self.site.hot_evictions;
        c
    }

    /// Approximate bytes per tracked entity (see
    /// [`EntityTable::bytes_per_entity`]).
    pub fn bytes_per_entity(&self) -> usize {
        self.table.bytes_per_entity()
    }

    fn judge(&mut self, e: &Entity, closed: Close) -> Option<Verdict> {
        self.counters.windows_closed += 1;
        let a = &e.acc;
        let min = self.config.window.min_requests;
        let judged_kind = match e.key.kind() {
            EntityKind::Ip => self.config.entities.ip,
            EntityKind::IpUa => self.config.entities.ip_ua,
            EntityKind::Session => self.config.entities.session,
            EntityKind::Prefix => self.config.entities.prefix,
        };
        if !judged_kind {
            return None;
        }
        if a.n == 0 || (a.n < min && a.attack_hits() == 0) {
            self.counters.windows_below_min += 1;
            return None;
        }
        // A block is judged for what its addresses do together (rotating
        // scrapers); when one address did nearly everything, that address's
        // own verdict says it, and a block verdict would only add its
        // neighbours (people in the same /24) to a ban.
        if e.key.kind() == EntityKind::Prefix
            && (self.config.entities.ip || self.config.entities.ip_ua)
            && a.one_address_dominates()
        {
            self.counters.blocks_single_address += 1;
            return None;
        }
        let n = f64::from(a.n);
        let clients = match e.key.kind() {
            EntityKind::Session => 1.0,
            EntityKind::IpUa => a.clients(false),
            EntityKind::Ip | EntityKind::Prefix => a.clients(true),
        };
        let mut shares = [0.0; UA_CLASSES];
        for (s, c) in shares.iter_mut().zip(a.ua_counts.iter()) {
            *s = f64::from(*c) / n;
        }
        let crawler_idx = ua_index(UaClass::Crawler);
        let crawler_share = shares.get(crawler_idx).copied().unwrap_or(0.0);
        let mut reasons = Vec::new();
        let mut verification = None;
        let mut claimed_bot = None;
        let mut fake_share = 0.0;
        let mut unverified_claim = false;
        let mut verified_bot = false;
        if let Some(bot) = e.claims.filter(|_| crawler_share > 0.0) {
            let name = self
                .good
                .get(bot)
                .map(|b| b.name.clone())
                .unwrap_or_default();
            let v = self.verifier.verify(&self.good, bot, e.ip, self.now_ns);
            match &v {
                Verification::Range { range } => {
                    reasons.push(format!(
                        "{name} verified: {} in its published range {range}",
                        e.ip
                    ));
                    verified_bot = true;
                }
                Verification::Rdns { name: ptr } => {
                    reasons.push(format!(
                        "{name} verified: {} is {ptr} and {ptr} resolves back to it",
                        e.ip
                    ));
                    verified_bot = true;
                }
                Verification::Failed { reason } => {
                    reasons.push(format!("claims to be {name} but is not: {reason}"));
                    fake_share = crawler_share;
                    if let Some(s) = shares.get_mut(crawler_idx) {
                        *s = 0.0;
                    }
                }
                Verification::Unverified { reason } => {
                    reasons.push(format!("claims to be {name}; could not verify: {reason}"));
                    unverified_claim = true;
                }
            }
            verification = Some(v);
            claimed_bot = Some(name);
        }
        if verified_bot {
            // The verified bot's requests are not evidence; judge the rest
            // only when the bot is a minority of the entity's traffic.
            if let Some(s) = shares.get_mut(crawler_idx) {
                *s = 0.0;
            }
        }
        let site = SiteView {
            static_share: self.site.static_share(),
            referer_share: self.site.referer_share(),
            per_client_hour: self.site.per_client_hour(a.last_hour),
        };
        let bucket_secs = f64::from(self.config.window.bucket_secs.max(1));
        let values: FeatureValues = compute(a, clients, &shares, fake_share, &site, bucket_secs);
        let margin = i64::from(self.config.site.hot_margin_secs) * 1_000_000_000;
        let hot: u32 = a
            .top
            .entries()
            .filter(|(key, _)| self.site.hot_during(*key, a.first_ns, a.last_ns, margin))
            .map(|(_, c)| c)
            .sum();
        let crowd_share = (f64::from(hot) / n).min(1.0);
        let score = self.config.model.score(&values, crowd_share, clients);
        let mut class = score.class;
        if verified_bot && crawler_share >= 0.5 {
            class = Class::GoodBot;
        }
        if unverified_claim && class == Class::Scraper {
            let without_claim: f64 = score
                .contributions
                .iter()
                .filter(|c| c.feature != Feature::UaCrawler.name())
                .map(|c| c.contribution)
                .sum::<f64>()
                + score.bias;
            if without_claim < 0.0 {
                class = Class::Unknown;
                reasons.push("scraper only by its unverifiable crawler claim".into());
            }
        }
        if crowd_share > 0.0 {
            reasons.push(format!(
                "{:.0}% of its requests went to paths hot site-wide at the time; crowd features discounted",
                crowd_share * 100.0
            ));
        }
        if clients > 1.0
            && matches!(
                e.key.kind(),
                EntityKind::Ip | EntityKind::Prefix | EntityKind::IpUa
            )
        {
            reasons.push(format!(
                "shared by about {clients:.0} clients (user agents or sessions); rates are per client and timing features divided by {clients:.0}"
            ));
        }
        if let Some(slot) = self.counters.verdicts.get_mut(class_slot(class)) {
            *slot += 1;
        }
        let (user_agent, session) = match e.key.kind() {
            EntityKind::IpUa => (e.label.as_deref().map(str::to_owned), None),
            EntityKind::Session => (None, e.label.as_deref().map(str::to_owned)),
            _ => (None, None),
        };
        let subject = match e.key {
            EntityKey::Ip(ip) => ip.to_string(),
            EntityKey::IpUa(ip, _) => format!("{ip} ua={:?}", user_agent.as_deref().unwrap_or("")),
            EntityKey::Session(_) => format!("session={}", session.as_deref().unwrap_or("")),
            EntityKey::Prefix(net) => {
                format!("{net}/{}", if net.is_ipv4() { 24 } else { 64 })
            }
        };
        Some(Verdict {
            entity: e.key.kind(),
            subject,
            client: e.ip,
            user_agent,
            session,
            class,
            reasons,
            clients,
            crowd_share,
            burstiness: values.burstiness,
            static_share: values.static_share,
            referer_share: values.referer_share,
            verification,
            claimed_bot,
            requests: a.n,
            first_ns: a.first_ns,
            last_ns: a.last_ns,
            closed,
            model_version: self.config.model.version,
            score,
        })
    }
}

/// The top-k key of a path (for tests and tools that look up hot paths).
pub fn path_key(path: &str) -> u32 {
    TopK::<1>::key_of(hash_str(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_referers() {
        assert_eq!(
            own_referer("http://shop.example/a/b?x=1", Some("shop.example"), &[]),
            Some("/a/b")
        );
        assert_eq!(
            own_referer("https://shop.example:8443", Some("shop.example:8443"), &[]),
            Some("/")
        );
        assert_eq!(
            own_referer(
                "https://www.google.com/search?q=x",
                Some("shop.example"),
                &[]
            ),
            None
        );
        assert_eq!(own_referer("https://www.google.com/", None, &[]), Some("/"));
        assert_eq!(
            own_referer("https://cdn.example/x", None, &["shop.example".into()]),
            None
        );
        assert_eq!(own_referer("android-app://x", None, &[]), None);
    }
}
