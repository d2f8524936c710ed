//! The per-entity feature accumulator ([`Accum`]) and the features computed
//! from it ([`Feature`], [`FeatureValues`]), each with its formula.
//!
//! An entity's window opens at its first request and closes when it has
//! been idle for `idle_secs`, when it has been open `max_window_secs`, when
//! it is evicted, or at the end of input; every feature below is over that
//! window, in event time. Rate-like features use a ring of the last
//! [`RING`] time buckets (`bucket_secs` each), so they slide with the
//! window's newest request. Memory per entity is fixed: counters, one
//! 512-bit path bitmap, a 12-slot space-saving path top-k, a 32-bucket
//! ring, three 128-bit distinct-value bitmaps and running moments.
//!
//! Notation: `n` requests in the window, `d` its duration in seconds
//! (`max(last − first, bucket_secs)`), `k` the clients behind the entity
//! (1 for a session; the distinct sessions for IP + user agent; the
//! distinct user agents or sessions, whichever is larger, for an address
//! or a /24 or /64; see [`Accum::clients`]).

use crate::paths::PathFlags;
use crate::sketch::{gini, Bitmap, BucketRing, Moments, TopK};
use crate::uaclass::UaClass;

/// Slots in the path top-k.
pub const PATH_TOPK: usize = 12;
/// Time buckets in the ring.
pub const RING: usize = 32;
/// User-agent classes counted per entity (indexed by [`ua_index`]).
pub const UA_CLASSES: usize = 8;

/// Index of a user-agent class in [`Accum::ua_counts`].
pub const fn ua_index(c: UaClass) -> usize {
    match c {
        UaClass::Browser => 0,
        UaClass::Crawler => 1,
        UaClass::Library => 2,
        UaClass::Automation => 3,
        UaClass::Scanner => 4,
        UaClass::BadBot => 5,
        UaClass::Empty => 6,
        UaClass::Other => 7,
    }
}

/// What one request contributes, computed once per record and shared by
/// every entity the record updates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Obs {
    /// Event time, ns.
    pub t_ns: i64,
    /// Time-bucket index (`t / bucket_secs`).
    pub bucket: i64,
    /// Hour index since the epoch.
    pub hour: i64,
    /// Hash of the path (query excluded).
    pub path_hash: u64,
    /// Whether there was a referer at all.
    pub has_referer: bool,
    /// Hash of the referer's path when the referer is this site's own.
    pub own_referer: Option<u64>,
    /// What the target is.
    pub flags: PathFlags,
    /// Method is HEAD.
    pub head: bool,
    /// Method is POST.
    pub post: bool,
    /// Response status.
    pub status: u16,
    /// User-agent class.
    pub ua: UaClass,
    /// Hash of the user agent (0 when none).
    pub ua_hash: u64,
    /// Hash of the session key, when present.
    pub session_hash: Option<u64>,
    /// Hash of the client address.
    pub ip_hash: u64,
}

/// The running state of one entity's window.
#[derive(Debug, Clone, Default)]
pub struct Accum {
    /// First request time, ns.
    pub first_ns: i64,
    /// Last request time, ns.
    pub last_ns: i64,
    /// Requests.
    pub n: u32,
    /// Requests that are not static assets (page views).
    pub pages: u32,
    /// Static-asset requests.
    pub statics: u32,
    /// HEAD requests.
    pub head: u32,
    /// robots.txt requests.
    pub robots: u16,
    /// Sitemap requests.
    pub sitemap: u16,
    /// Responses 400–499.
    pub s4xx: u32,
    /// Responses 404.
    pub s404: u32,
    /// Requests with a referer.
    pub referer: u32,
    /// Requests whose referer is one of the site's own pages.
    pub own_referer: u32,
    /// Of those, the ones whose referer page this entity had fetched before.
    pub referer_consistent: u32,
    /// Requests to a login path.
    pub login: u32,
    /// POSTs to a login path.
    pub login_post: u32,
    /// Backdoor-name hits.
    pub backdoor: u16,
    /// Sensitive-file hits.
    pub sensitive: u16,
    /// Admin-interface hits.
    pub admin: u16,
    /// Traversal/SQLi/XSS probe hits.
    pub probe: u16,
    /// Distinct clock hours with activity.
    pub hours_active: u16,
    /// The last active hour index.
    pub last_hour: i64,
    /// Requests per user-agent class ([`ua_index`]).
    pub ua_counts: [u16; UA_CLASSES],
    /// Inter-arrival times, seconds.
    pub gaps: Moments,
    /// Paths fetched (distinct count and referer membership).
    pub paths: Bitmap<8>,
    /// Most requested paths.
    pub top: TopK<PATH_TOPK>,
    /// Requests per time bucket.
    pub ring: BucketRing<RING>,
    /// Distinct user agents.
    pub uas: Bitmap<2>,
    /// Distinct session keys.
    pub sessions: Bitmap<2>,
    /// Distinct client addresses.
    pub ips: Bitmap<2>,
    /// Most active client addresses (space-saving, 4 slots), for blocks.
    pub addrs: TopK<4>,
}

impl Accum {
    /// Add one request; returns whether its path is new to this entity.
    #[inline]
    pub fn add(&mut self, o: &Obs) -> bool {
        if self.n == 0 {
            self.first_ns = o.t_ns;
            self.last_ns = o.t_ns;
            self.last_hour = i64::MIN;
        } else {
            let gap = o.t_ns.saturating_sub(self.last_ns).max(0);
            self.gaps.add(gap as f64 / 1e9);
            self.last_ns = self.last_ns.max(o.t_ns);
            self.first_ns = self.first_ns.min(o.t_ns);
        }
        self.n = self.n.saturating_add(1);
        if o.hour != self.last_hour {
            self.last_hour = o.hour;
            self.hours_active = self.hours_active.saturating_add(1);
        }
        let f = o.flags;
        if f.has(PathFlags::STATIC) {
            self.statics += 1;
        } else {
            self.pages += 1;
        }
        self.head += u32::from(o.head);
        self.robots = self
            .robots
            .saturating_add(u16::from(f.has(PathFlags::ROBOTS)));
        self.sitemap = self
            .sitemap
            .saturating_add(u16::from(f.has(PathFlags::SITEMAP)));
        if (400..500).contains(&o.status) {
            self.s4xx += 1;
            self.s404 += u32::from(o.status == 404);
        }
        if o.has_referer {
            self.referer += 1;
        }
        if let Some(r) = o.own_referer {
            self.own_referer += 1;
            self.referer_consistent += u32::from(self.paths.contains(r));
        }
        if f.has(PathFlags::LOGIN) {
            self.login += 1;
            self.login_post += u32::from(o.post);
        }
        self.backdoor = self
            .backdoor
            .saturating_add(u16::from(f.has(PathFlags::BACKDOOR)));
        self.sensitive = self
            .sensitive
            .saturating_add(u16::from(f.has(PathFlags::SENSITIVE)));
        self.admin = self
            .admin
            .saturating_add(u16::from(f.has(PathFlags::ADMIN)));
        self.probe = self
            .probe
            .saturating_add(u16::from(f.has(PathFlags::PROBE)));
        if let Some(c) = self.ua_counts.get_mut(ua_index(o.ua)) {
            *c = c.saturating_add(1);
        }
        self.top.add(o.path_hash);
        self.ring.add(o.bucket);
        if o.ua_hash != 0 {
            self.uas.insert(o.ua_hash);
        }
        if let Some(s) = o.session_hash {
            self.sessions.insert(s);
        }
        self.ips.insert(o.ip_hash);
        self.addrs.add(o.ip_hash);
        self.paths.insert(o.path_hash)
    }

    /// Attack-path hits (backdoor + sensitive + admin + probe + login POSTs).
    pub fn attack_hits(&self) -> u32 {
        u32::from(self.backdoor)
            + u32::from(self.sensitive)
            + u32::from(self.admin)
            + u32::from(self.probe)
            + self.login_post
    }

    /// The clients behind the entity, `k ≥ 1`: the rounded linear-counting
    /// estimate of distinct sessions, and (when `by_ua`) of distinct user
    /// agents, whichever is larger.
    /// Whether one client address provably sent more than half of the
    /// window's requests (by [`TopK::top_lower_bound`] of `addrs`).
    pub fn one_address_dominates(&self) -> bool {
        u64::from(self.addrs.top_lower_bound()) * 2 > u64::from(self.n)
    }

    /// Clients behind the entity (`k`).
    pub fn clients(&self, by_ua: bool) -> f64 {
        let sessions = self.sessions.estimate().round();
        let uas = if by_ua {
            self.uas.estimate().round()
        } else {
            0.0
        };
        sessions.max(uas).max(1.0)
    }
}

/// Every feature, in the order of the model's weight vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// Page requests per minute per client: `r = 60 · pages / (d · k)`,
    /// `pages` the requests that are not static assets (a browser fetches a
    /// page's assets within the same second; they are not extra activity).
    Rate,
    /// Peak page requests per second in one time bucket, per client:
    /// `p = max_b(c_b) · (pages / n) / (bucket_secs · k)` (the bucket's
    /// requests scaled by the window's page share).
    PeakRate,
    /// Burstiness of inter-arrival times `B = (σ − μ) / (σ + μ)` (Goh and
    /// Barabási; −1 perfectly regular, 0 Poisson, → 1 bursty); the feature
    /// is its regular side, `max(0, −B)`. Needs 3 gaps.
    Regularity,
    /// Stability of the request rhythm `s = clamp(1 − σ/μ, 0, 1)` over
    /// inter-arrival times (1 for a metronome; 0 once the coefficient of
    /// variation reaches 1, as for people's heavy-tailed think times).
    /// Needs 3 gaps.
    Stability,
    /// Gini coefficient of the requests per path ([`gini`] over the path
    /// top-k counts padded with zeros to `min(12, n)` slots): near 1 when
    /// one path takes everything (credential stuffing), near 0 when every
    /// path is fetched equally often (crawling).
    PathGini,
    /// Flatness of activity over time `1 − G_t`, where `G_t` is the Gini
    /// coefficient of the requests per time bucket over the buckets the
    /// window spans (at most 32): a machine spreads requests evenly, people
    /// come in bursts. Needs 4 buckets.
    TimeFlatness,
    /// Distinct-path ratio `u = min(1, d̂ / n)`, `d̂` the linear-counting
    /// estimate of distinct paths.
    DistinctPaths,
    /// Static-asset deficit against the site: `max(0, S − s) / S` with the
    /// entity's asset share `s = assets / n` and the site's `S` (0 when the
    /// site serves under 1 % assets: then nobody fetching them is no
    /// evidence).
    StaticDeficit,
    /// HEAD share `HEAD / n`.
    HeadRatio,
    /// robots.txt and sitemap requests `robots + sitemap`.
    Robots,
    /// 4xx share `4xx / n`.
    Ratio4xx,
    /// 404 share `404 / n`.
    Ratio404,
    /// Referer deficit against the site: `max(0, R − ρ) / R` with the
    /// entity's referer share `ρ` and the site's `R` (0 under 1 %).
    RefererDeficit,
    /// Referer inconsistency `1 − consistent / own`: of the requests whose
    /// referer is one of the site's pages, the share whose referer page the
    /// entity never fetched before (a forged referer). Needs one own
    /// referer.
    RefererInconsistency,
    /// Share of requests with an HTTP-library user agent.
    UaLibrary,
    /// Share of requests with no user agent.
    UaEmpty,
    /// Share of requests with a known-crawler user agent that is not a
    /// verified good bot.
    UaCrawler,
    /// Share of requests whose user agent claims a good bot the address
    /// fails to verify as ("claims a crawler it is not").
    UaFakeCrawler,
    /// Share of requests with a scanner user agent.
    UaScanner,
    /// Share of requests with a known bad-bot user agent.
    UaBadBot,
    /// Share of requests with a browser-automation user agent.
    UaAutomation,
    /// Share of requests with an unrecognised non-browser user agent.
    UaOther,
    /// Login attempts per client: `POSTs to login paths / k`.
    LoginAttempts,
    /// Login share `login requests / n`.
    LoginRatio,
    /// Backdoor (web shell) name hits per client (`hits / k`: one prober behind a shared
    /// address is judged on its own IP + UA or session entity).
    Backdoor,
    /// Sensitive-file hits (.env, .git, dumps, keys) per client (`hits / k`: one prober behind a shared
    /// address is judged on its own IP + UA or session entity).
    Sensitive,
    /// Admin-interface hits per client (`hits / k`: one prober behind a shared
    /// address is judged on its own IP + UA or session entity).
    Admin,
    /// Path traversal, SQL injection, XSS and JNDI probe hits per client (`hits / k`: one prober behind a shared
    /// address is judged on its own IP + UA or session entity).
    Probe,
    /// Session depth: page views (non-asset requests) per client, `pages / k`.
    SessionDepth,
    /// Activity against the site's own hourly baseline:
    /// `a = (n / (h · k)) / A_hour`, the entity's requests per active hour
    /// per client over the site's mean requests per client-hour at the same
    /// hour of day (`h` the entity's active hours). Needs 10 client-hours
    /// of baseline.
    Activity,
}

impl Feature {
    /// Every feature, in weight-vector order.
    pub const ALL: [Feature; 30] = [
        Feature::Rate,
        Feature::PeakRate,
        Feature::Regularity,
        Feature::Stability,
        Feature::PathGini,
        Feature::TimeFlatness,
        Feature::DistinctPaths,
        Feature::StaticDeficit,
        Feature::HeadRatio,
        Feature::Robots,
        Feature::Ratio4xx,
        Feature::Ratio404,
        Feature::RefererDeficit,
        Feature::RefererInconsistency,
        Feature::UaLibrary,
        Feature::UaEmpty,
        Feature::UaCrawler,
        Feature::UaFakeCrawler,
        Feature::UaScanner,
        Feature::UaBadBot,
        Feature::UaAutomation,
        Feature::UaOther,
        Feature::LoginAttempts,
        Feature::LoginRatio,
        Feature::Backdoor,
        Feature::Sensitive,
        Feature::Admin,
        Feature::Probe,
        Feature::SessionDepth,
        Feature::Activity,
    ];

    /// Number of features (the length of every weight vector).
    pub const COUNT: usize = Self::ALL.len();

    /// Stable name (evidence keys, config, the learner).
    pub const fn name(self) -> &'static str {
        match self {
            Feature::Rate => "rate_rpm",
            Feature::PeakRate => "peak_rps",
            Feature::Regularity => "regularity",
            Feature::Stability => "rhythm_stability",
            Feature::PathGini => "path_gini",
            Feature::TimeFlatness => "time_flatness",
            Feature::DistinctPaths => "distinct_path_ratio",
            Feature::StaticDeficit => "static_deficit",
            Feature::HeadRatio => "head_ratio",
            Feature::Robots => "robots_sitemap_hits",
            Feature::Ratio4xx => "ratio_4xx",
            Feature::Ratio404 => "ratio_404",
            Feature::RefererDeficit => "referer_deficit",
            Feature::RefererInconsistency => "referer_inconsistency",
            Feature::UaLibrary => "ua_library",
            Feature::UaEmpty => "ua_empty",
            Feature::UaCrawler => "ua_crawler",
            Feature::UaFakeCrawler => "ua_fake_crawler",
            Feature::UaScanner => "ua_scanner",
            Feature::UaBadBot => "ua_bad_bot",
            Feature::UaAutomation => "ua_automation",
            Feature::UaOther => "ua_other",
            Feature::LoginAttempts => "login_attempts",
            Feature::LoginRatio => "login_ratio",
            Feature::Backdoor => "backdoor_hits",
            Feature::Sensitive => "sensitive_hits",
            Feature::Admin => "admin_hits",
            Feature::Probe => "probe_hits",
            Feature::SessionDepth => "session_depth",
            Feature::Activity => "activity_vs_baseline",
        }
    }

    /// Whether a crowd shares it: when the entity's requests went to paths
    /// that were hot site-wide at the time, the feature's contribution is
    /// scaled by `1 − crowd share` (a flash sale makes everybody fast,
    /// repetitive and asset-less on one URL; that is not evidence).
    pub const fn crowd_sensitive(self) -> bool {
        matches!(
            self,
            Feature::Rate
                | Feature::PeakRate
                | Feature::Regularity
                | Feature::Stability
                | Feature::PathGini
                | Feature::TimeFlatness
                | Feature::DistinctPaths
                | Feature::StaticDeficit
                | Feature::Ratio4xx
                | Feature::RefererDeficit
                | Feature::SessionDepth
                | Feature::Activity
        )
    }

    /// Whether it describes timing that merges when several clients share
    /// the entity (the merged rhythm of `k` people is no one's rhythm): its
    /// contribution is scaled by `1 / k`.
    pub const fn timing(self) -> bool {
        matches!(
            self,
            Feature::Regularity | Feature::Stability | Feature::TimeFlatness
        )
    }
}

/// Site-wide context a feature needs (from [`crate::baseline`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SiteView {
    /// The site's static-asset share `S`.
    pub static_share: f64,
    /// The site's referer share `R`.
    pub referer_share: f64,
    /// The site's mean requests per client-hour at the entity's hour of
    /// day, `None` under 10 client-hours of baseline.
    pub per_client_hour: Option<f64>,
}

/// Raw feature values of one window, `None` where a feature needs more
/// data than the window has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureValues {
    /// Values in [`Feature::ALL`] order.
    pub values: [Option<f64>; Feature::COUNT],
    /// `k`, the clients behind the entity.
    pub clients: f64,
    /// Burstiness `B` itself (for the evidence), when defined.
    pub burstiness: Option<f64>,
    /// The entity's static-asset share `s`.
    pub static_share: f64,
    /// The entity's referer share `ρ`.
    pub referer_share: f64,
}

impl FeatureValues {
    /// A feature's value.
    pub fn get(&self, f: Feature) -> Option<f64> {
        self.values.get(f as usize).copied().flatten()
    }
}

/// Compute every feature of a window. `ua` gives the user-agent shares
/// after crawler verification: `fake` (claims that failed) and `unverified`
/// claims are moved out of the crawler count by the caller.
pub fn compute(
    a: &Accum,
    clients: f64,
    ua: &[f64; UA_CLASSES],
    fake_share: f64,
    site: &SiteView,
    bucket_secs: f64,
) -> FeatureValues {
    let n = f64::from(a.n.max(1));
    let k = clients.max(1.0);
    let dur = ((a.last_ns - a.first_ns) as f64 / 1e9).max(bucket_secs);
    let mut v = [None; Feature::COUNT];
    let mut set = |f: Feature, x: f64| {
        if let Some(slot) = v.get_mut(f as usize) {
            *slot = Some(x);
        }
    };
    // Pages only: the assets a browser fetches with a page come in the
    // same second and are not extra activity (a person's page with ten
    // assets is not eleven requests' worth of automation).
    let pages = f64::from(a.pages);
    set(Feature::Rate, 60.0 * pages / (dur * k));
    set(
        Feature::PeakRate,
        f64::from(a.ring.peak()) * (pages / n) / (bucket_secs * k),
    );
    let mut burstiness = None;
    if a.gaps.count() >= 3 {
        let (mu, sigma) = (a.gaps.mean(), a.gaps.std_dev());
        if mu + sigma > 0.0 {
            let b = (sigma - mu) / (sigma + mu);
            burstiness = Some(b);
            set(Feature::Regularity, (-b).max(0.0));
        } else {
            // All gaps zero: simultaneous requests, no rhythm to speak of.
            set(Feature::Regularity, 0.0);
        }
        let stability = if mu > 0.0 {
            (1.0 - sigma / mu).clamp(0.0, 1.0)
        } else {
            0.0
        };
        set(Feature::Stability, stability);
    }
    let slots = (a.n as usize).min(PATH_TOPK);
    set(Feature::PathGini, gini(a.top.counts(), slots));
    let mut buckets = [0u32; RING];
    let len = a.ring.span(&mut buckets);
    if len >= 4 {
        set(Feature::TimeFlatness, 1.0 - gini(&buckets[..len], len));
    }
    set(Feature::DistinctPaths, (a.paths.estimate() / n).min(1.0));
    let s = f64::from(a.statics) / n;
    let deficit = |site: f64, own: f64| {
        if site < 0.01 {
            0.0
        } else {
            ((site - own) / site).max(0.0)
        }
    };
    set(Feature::StaticDeficit, deficit(site.static_share, s));
    set(Feature::HeadRatio, f64::from(a.head) / n);
    set(Feature::Robots, f64::from(a.robots) + f64::from(a.sitemap));
    set(Feature::Ratio4xx, f64::from(a.s4xx) / n);
    set(Feature::Ratio404, f64::from(a.s404) / n);
    let rho = f64::from(a.referer) / n;
    set(Feature::RefererDeficit, deficit(site.referer_share, rho));
    if a.own_referer > 0 {
        set(
            Feature::RefererInconsistency,
            1.0 - f64::from(a.referer_consistent) / f64::from(a.own_referer),
        );
    }
    let share = |c: UaClass| ua.get(ua_index(c)).copied().unwrap_or(0.0);
    set(Feature::UaLibrary, share(UaClass::Library));
    set(Feature::UaEmpty, share(UaClass::Empty));
    set(Feature::UaCrawler, share(UaClass::Crawler));
    set(Feature::UaFakeCrawler, fake_share);
    set(Feature::UaScanner, share(UaClass::Scanner));
    set(Feature::UaBadBot, share(UaClass::BadBot));
    set(Feature::UaAutomation, share(UaClass::Automation));
    set(Feature::UaOther, share(UaClass::Other));
    set(Feature::LoginAttempts, f64::from(a.login_post) / k);
    set(Feature::LoginRatio, f64::from(a.login) / n);
    set(Feature::Backdoor, f64::from(a.backdoor) / k);
    set(Feature::Sensitive, f64::from(a.sensitive) / k);
    set(Feature::Admin, f64::from(a.admin) / k);
    set(Feature::Probe, f64::from(a.probe) / k);
    set(Feature::SessionDepth, f64::from(a.pages) / k);
    if let Some(base) = site.per_client_hour.filter(|b| *b > 0.0) {
        let h = f64::from(a.hours_active.max(1));
        set(Feature::Activity, (n / (h * k)) / base);
    }
    FeatureValues {
        values: v,
        clients: k,
        burstiness,
        static_share: s,
        referer_share: rho,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::hash_str;

    fn obs(t_s: f64, path: &str) -> Obs {
        let t_ns = (t_s * 1e9) as i64;
        Obs {
            t_ns,
            bucket: t_ns / 10_000_000_000,
            hour: t_ns / 3_600_000_000_000,
            path_hash: hash_str(path),
            status: 200,
            ua: UaClass::Browser,
            ua_hash: 1,
            ip_hash: 1,
            ..Obs::default()
        }
    }

    fn browser_shares() -> [f64; UA_CLASSES] {
        let mut s = [0.0; UA_CLASSES];
        s[0] = 1.0;
        s
    }

    fn values(a: &Accum, site: &SiteView) -> FeatureValues {
        compute(a, a.clients(true), &browser_shares(), 0.0, site, 10.0)
    }

    #[test]
    fn rate_peak_and_rhythm_of_a_metronome() {
        // 10 requests exactly 2 s apart over 18 s: rate = 60·10/18 = 33.33 rpm;
        // gaps all 2 → σ = 0 → B = −1, regularity 1, stability 1.
        let mut a = Accum::default();
        for i in 0..10 {
            a.add(&obs(1000.0 + 2.0 * f64::from(i), &format!("/p{i}")));
        }
        let v = values(&a, &SiteView::default());
        assert!((v.get(Feature::Rate).unwrap() - 600.0 / 18.0).abs() < 1e-9);
        assert_eq!(v.burstiness, Some(-1.0));
        assert_eq!(v.get(Feature::Regularity), Some(1.0));
        assert_eq!(v.get(Feature::Stability), Some(1.0));
        // Buckets of 10 s: t=1000..1018 → buckets 100 (5 requests) and 101 (5):
        // peak 5 / 10 s = 0.5 rps; only 2 buckets → no time flatness.
        assert_eq!(v.get(Feature::PeakRate), Some(0.5));
        assert_eq!(v.get(Feature::TimeFlatness), None);
        // 10 distinct paths → ratio ≈ 1; path Gini over 10 equal slots = 0.
        assert!((v.get(Feature::DistinctPaths).unwrap() - 1.0).abs() < 0.02);
        assert!(v.get(Feature::PathGini).unwrap().abs() < 1e-12);
    }

    #[test]
    fn rhythm_of_irregular_gaps_by_hand() {
        // Gaps 1, 1, 4: μ = 2, σ = √2 → CV = 0.7071 → stability 0.2929;
        // B = (√2 − 2)/(√2 + 2) = −0.1716 → regularity 0.1716.
        let mut a = Accum::default();
        for t in [0.0, 1.0, 2.0, 6.0] {
            a.add(&obs(t, "/"));
        }
        let v = values(&a, &SiteView::default());
        let s2 = 2f64.sqrt();
        assert!((v.get(Feature::Stability).unwrap() - (1.0 - s2 / 2.0)).abs() < 1e-9);
        assert!((v.get(Feature::Regularity).unwrap() - (2.0 - s2) / (2.0 + s2)).abs() < 1e-9);
        // One path, 4 requests → Gini over min(12, 4) = 4 slots: [4,0,0,0] → 0.75.
        assert!((v.get(Feature::PathGini).unwrap() - 0.75).abs() < 1e-12);
        // Two gaps are not enough.
        let mut short = Accum::default();
        for t in [0.0, 1.0, 2.0] {
            short.add(&obs(t, "/"));
        }
        assert_eq!(
            values(&short, &SiteView::default()).get(Feature::Stability),
            None
        );
    }

    #[test]
    fn time_flatness_over_the_buckets_spanned() {
        // Buckets of 10 s: counts [1, 1, 1, 1] → flat (1); [4, 0, 0, 1] → Gini
        // 2·(1·0+2·0+3·1+4·4)/(4·5) − 5/4 = 38/20 − 1.25 = 0.65 → flatness 0.35.
        let mut flat = Accum::default();
        for t in [0.0, 10.0, 20.0, 30.0] {
            flat.add(&obs(t, "/"));
        }
        assert_eq!(
            values(&flat, &SiteView::default()).get(Feature::TimeFlatness),
            Some(1.0)
        );
        let mut bursty = Accum::default();
        for t in [0.0, 1.0, 2.0, 3.0, 30.0] {
            bursty.add(&obs(t, "/"));
        }
        let f = values(&bursty, &SiteView::default())
            .get(Feature::TimeFlatness)
            .unwrap();
        assert!((f - 0.35).abs() < 1e-9, "{f}");
    }

    #[test]
    fn ratios_deficits_and_referer_consistency() {
        let mut a = Accum::default();
        // /a (page), /s.css (asset, referer /a: consistent), /b (referer /zzz:
        // never fetched, inconsistent), HEAD /c → 404.
        let mut o = obs(0.0, "/a");
        a.add(&o);
        o = obs(1.0, "/s.css");
        o.flags = PathFlags(PathFlags::STATIC);
        o.has_referer = true;
        o.own_referer = Some(hash_str("/a"));
        a.add(&o);
        o = obs(2.0, "/b");
        o.has_referer = true;
        o.own_referer = Some(hash_str("/zzz"));
        a.add(&o);
        o = obs(3.0, "/c");
        o.head = true;
        o.status = 404;
        a.add(&o);
        let site = SiteView {
            static_share: 0.5,
            referer_share: 0.8,
            per_client_hour: Some(2.0),
        };
        let v = values(&a, &site);
        // s = 1/4; S = 0.5 → deficit (0.5 − 0.25)/0.5 = 0.5.
        assert!((v.get(Feature::StaticDeficit).unwrap() - 0.5).abs() < 1e-12);
        // ρ = 2/4; R = 0.8 → (0.8 − 0.5)/0.8 = 0.375.
        assert!((v.get(Feature::RefererDeficit).unwrap() - 0.375).abs() < 1e-12);
        assert_eq!(v.get(Feature::RefererInconsistency), Some(0.5));
        assert_eq!(v.get(Feature::HeadRatio), Some(0.25));
        assert_eq!(v.get(Feature::Ratio404), Some(0.25));
        assert_eq!(v.get(Feature::Ratio4xx), Some(0.25));
        assert_eq!(v.get(Feature::SessionDepth), Some(3.0));
        // 4 requests in 1 active hour, k = 1, site 2 per client-hour → 2.
        assert_eq!(v.get(Feature::Activity), Some(2.0));
        // A site without assets makes missing assets no evidence.
        let bare = values(&a, &SiteView::default());
        assert_eq!(bare.get(Feature::StaticDeficit), Some(0.0));
        assert_eq!(bare.get(Feature::Activity), None);
    }

    #[test]
    fn login_and_probe_counts_and_clients() {
        let mut a = Accum::default();
        for i in 0..6u64 {
            let mut o = obs(i as f64, "/login");
            o.flags = PathFlags(PathFlags::LOGIN);
            o.post = true;
            o.session_hash = Some(hash_str(if i % 2 == 0 { "s-a" } else { "s-b" }));
            o.status = 401;
            a.add(&o);
        }
        let mut o = obs(7.0, "/shell.php");
        o.flags = PathFlags(PathFlags::BACKDOOR | PathFlags::PROBE);
        a.add(&o);
        // Two sessions → k = 2 → 6 login POSTs / 2 = 3 per client.
        assert_eq!(a.clients(false), 2.0);
        let v = compute(
            &a,
            a.clients(false),
            &browser_shares(),
            0.0,
            &SiteView::default(),
            10.0,
        );
        assert_eq!(v.get(Feature::LoginAttempts), Some(3.0));
        assert!((v.get(Feature::LoginRatio).unwrap() - 6.0 / 7.0).abs() < 1e-12);
        // One hit each, per client: 1 / 2.
        assert_eq!(v.get(Feature::Backdoor), Some(0.5));
        assert_eq!(v.get(Feature::Probe), Some(0.5));
        assert_eq!(a.attack_hits(), 8);
    }

    #[test]
    fn accumulator_is_small() {
        let size = std::mem::size_of::<Accum>();
        assert!(size < 512, "Accum is {size} bytes");
    }
}
