//! The scenarios: who visits the shop, and every request they send, in simulated time.
//!
//! [`Scenario::generate`] builds the actors of every scenario from the seed and lays out
//! their requests on one clock (`Config::start_unix` plus up to `Config::duration_secs`),
//! sorted by time. Each scenario draws from its own random stream, so the same config
//! always gives the same requests. Strings (targets, referers, user agents, cookies) are
//! interned, so a request is a few dozen bytes and millions fit in memory.
//!
//! | scenario | actors at scale 1 | class / subtype | what they do |
//! |---|---|---|---|
//! | `browsing` | 150 people | human / browsing | sessions of pages, each page followed by its uncached assets (fonts with the stylesheet as referer), log-normal think times (median 15 s, heavy tail), referers from the page they came from or a search engine, /search and /login sometimes, 304 revalidations for returning visitors, a session cookie |
//! | `flash_sale` | 250 people | human / flash_sale | all arrive within one minute at 40 % of the run on the same product URL (from mail, social, direct), then its assets, a few go on |
//! | `nat_gateway` | 1 gateway of 30 people | human / gateway | browsing people with distinct user agents and cookies behind ONE address |
//! | `verified_crawler` | 2 Googlebot, 1 Bingbot, 1 DuckDuckBot | good_bot / googlebot … | robots.txt first (and again now and then), sitemap.xml, pages at exponential gaps (mean 25 s) obeying robots.txt, from the published ranges |
//! | `fake_crawler` | 2 | scraper / fake_crawler | a Googlebot or Bingbot user agent from hosting addresses, faster, ignoring robots.txt |
//! | `fast_scraper` | 2 | scraper / fast | 300–900 pages 0.2–0.6 s apart with ±8 % jitter, no assets, no cookie, a library or a fake browser user agent |
//! | `low_and_slow_scraper` | 1 group | scraper / low_and_slow | one page every 30 s (±10 %) for the whole run, each from one of 24 addresses of a /24 with one of 6 browser user agents |
//! | `credential_stuffing` | 2 | attacker / credential_stuffing | GET /login, then 150–400 POST /login 1–3 s apart, 3 % succeed (200), the rest 401 |
//! | `vulnerability_scan` | 3 | attacker / scanner | 150–500 probes of backdoors, sensitive files, admin interfaces and traversal at exponential gaps (mean 0.15–0.5 s), some HEAD, scanner user agents, mostly 404 |
//!
//! Every count is multiplied by `Config::scale` (the gateways too: one gateway of 30
//! people per unit of scale). Requests after the end of the run are not sent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::agents::{self, Browser};
use crate::dist::{self, Rng};
use crate::labels::{Class, Label};
use crate::lists::Lists;
use crate::site::{AssetKind, PageKind, Site};

/// Scheme and host of the shop, used in referers.
pub const SITE_ORIGIN: &str = "https://www.vigil-shop.example";
/// `Host` header the requests carry.
pub const SITE_HOST: &str = "www.vigil-shop.example";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Seed of every random choice.
    pub seed: u64,
    /// Multiplies every scenario's actor count (0 counts as 1). Scale 1 is about 20,000
    /// requests over the default two hours.
    pub scale: u32,
    /// Start of the simulated clock, in seconds since the Unix epoch.
    pub start_unix: i64,
    /// Length of the run in simulated seconds.
    pub duration_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            scale: 1,
            start_unix: Self::DEFAULT_START_UNIX,
            duration_secs: Self::DEFAULT_DURATION_SECS,
        }
    }
}

impl Config {
    /// Default [`Config::start_unix`]: 2026-11-22 10:00:00 UTC.
    pub const DEFAULT_START_UNIX: i64 = 1_795_341_600;
    /// Default [`Config::duration_secs`]: two hours.
    pub const DEFAULT_DURATION_SECS: u64 = 7200;
}

/// Request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST (only to /login, with a form body).
    Post,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        }
    }
}

/// Interned-string id meaning "absent".
const NONE: u32 = u32::MAX;

/// One request, compact: strings are ids into the scenario's table.
#[derive(Debug, Clone, Copy)]
struct Request {
    time_ms: u64,
    client: IpAddr,
    actor: u32,
    method: Method,
    target: u32,
    referer: u32,
    user_agent: u32,
    session: u32,
    login_ok: bool,
    revalidate: bool,
}

/// One request as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestView<'a> {
    /// Simulated time, milliseconds since the Unix epoch.
    pub time_unix_ms: i64,
    /// The client address (sent as `X-Forwarded-For`).
    pub client: IpAddr,
    /// The actor sending it.
    pub actor: u32,
    /// Method.
    pub method: Method,
    /// Path and query as sent on the request line.
    pub target: &'a str,
    /// `Referer`, if sent.
    pub referer: Option<&'a str>,
    /// `User-Agent`, if sent.
    pub user_agent: Option<&'a str>,
    /// Session cookie value, if sent.
    pub session: Option<&'a str>,
    /// For POST /login: whether the credentials are right (200) or not (401).
    pub login_ok: bool,
    /// Sent with `If-Modified-Since` matching the file (a browser revalidating its cache:
    /// nginx answers 304).
    pub revalidate: bool,
}

/// The actors and their requests.
#[derive(Debug, Clone)]
pub struct Scenario {
    config: Config,
    site: Site,
    requests: Vec<Request>,
    strings: Vec<Box<str>>,
    actors: Vec<Actor>,
}

#[derive(Debug, Clone, Copy)]
struct Actor {
    class: Class,
    subtype: &'static str,
    scenario: &'static str,
}

impl Scenario {
    /// Generates the site and every scenario from `config`, drawing crawler ranges,
    /// scanner agents and probes from `lists`.
    pub fn generate(config: &Config, lists: &Lists) -> Scenario {
        let site = Site::generate(config.seed);
        let start_ms = (config.start_unix.max(0) as u64).saturating_mul(1000);
        let mut gen = Gen {
            site: &site,
            lists,
            browsers: agents::browser_pool(),
            start_ms,
            end_ms: start_ms.saturating_add(config.duration_secs.saturating_mul(1000)),
            strings: Vec::new(),
            index: HashMap::new(),
            requests: Vec::new(),
            actors: Vec::new(),
            used_ips: HashSet::new(),
        };
        let scale = config.scale.max(1);
        let seed = config.seed;
        gen.browsing(&mut dist::rng(seed, 1), 150 * scale);
        gen.flash_sale(&mut dist::rng(seed, 2), 250 * scale);
        gen.gateways(&mut dist::rng(seed, 3), scale, 30);
        gen.verified_crawlers(&mut dist::rng(seed, 4), scale);
        gen.fake_crawlers(&mut dist::rng(seed, 5), 2 * scale);
        gen.fast_scrapers(&mut dist::rng(seed, 6), 2 * scale);
        gen.low_and_slow(&mut dist::rng(seed, 7), scale);
        gen.credential_stuffers(&mut dist::rng(seed, 8), 2 * scale);
        gen.scanners(&mut dist::rng(seed, 9), 3 * scale);
        let mut requests = gen.requests;
        // Stable: requests at the same millisecond keep the order they were generated in.
        requests.sort_by_key(|r| r.time_ms);
        Scenario {
            config: config.clone(),
            requests,
            strings: gen.strings,
            actors: gen.actors,
            site,
        }
    }

    /// The config it was generated from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The site the requests are for.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when there are no requests.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Number of actors.
    pub fn actor_count(&self) -> usize {
        self.actors.len()
    }

    /// The requests in time order.
    pub fn requests(&self) -> impl ExactSizeIterator<Item = RequestView<'_>> + '_ {
        self.requests.iter().map(|r| self.view(r))
    }

    /// The request at `index` in time order.
    pub fn request(&self, index: usize) -> Option<RequestView<'_>> {
        self.requests.get(index).map(|r| self.view(r))
    }

    fn view<'a>(&'a self, r: &Request) -> RequestView<'a> {
        RequestView {
            time_unix_ms: r.time_ms as i64,
            client: r.client,
            actor: r.actor,
            method: r.method,
            target: self.string(r.target).unwrap_or("/"),
            referer: self.string(r.referer),
            user_agent: self.string(r.user_agent),
            session: self.string(r.session),
            login_ok: r.login_ok,
            revalidate: r.revalidate,
        }
    }

    fn string(&self, id: u32) -> Option<&str> {
        if id == NONE {
            None
        } else {
            self.strings.get(id as usize).map(|s| &**s)
        }
    }

    /// The status and body bytes nginx answers `request` with (what direct mode logs).
    pub fn response(&self, request: &RequestView<'_>) -> (u16, u64) {
        self.site.respond_for(
            request.method.as_str(),
            request.target,
            request.login_ok,
            request.revalidate,
            request.user_agent,
        )
    }

    /// One label per entity (actor, address, user agent, session) that sent requests,
    /// ordered by actor.
    pub fn labels(&self) -> Vec<Label> {
        let mut counts: BTreeMap<(u32, IpAddr, u32, u32), u64> = BTreeMap::new();
        for r in &self.requests {
            *counts
                .entry((r.actor, r.client, r.user_agent, r.session))
                .or_default() += 1;
        }
        counts
            .into_iter()
            .filter_map(|((actor, ip, ua, session), requests)| {
                let info = self.actors.get(actor as usize)?;
                Some(Label {
                    actor,
                    ip,
                    user_agent: self.string(ua).map(str::to_owned),
                    session: self.string(session).map(str::to_owned),
                    class: info.class,
                    subtype: info.subtype.to_owned(),
                    scenario: info.scenario.to_owned(),
                    requests,
                })
            })
            .collect()
    }
}

/// Kinds of address a client comes from.
#[derive(Debug, Clone, Copy)]
enum Pool {
    /// Home and mobile broadband, IPv4 or IPv6.
    Residential,
    /// Cloud and hosting providers.
    Hosting,
}

/// /16s of access networks and of hosting providers the addresses are drawn from (none
/// overlaps a crawler's published ranges; the generator checks).
const RESIDENTIAL_V4: &[[u8; 2]] = &[
    [24, 114],
    [73, 162],
    [76, 90],
    [82, 24],
    [86, 140],
    [92, 184],
    [109, 190],
    [151, 38],
    [176, 12],
    [178, 197],
    [188, 26],
    [212, 59],
    [217, 84],
    [98, 207],
    [71, 58],
    [83, 135],
];
const RESIDENTIAL_V6: &[[u16; 2]] = &[
    [0x2a02, 0x0810],
    [0x2a01, 0x0cb0],
    [0x2601, 0x0645],
    [0x2003, 0x00e6],
];
const HOSTING_V4: &[[u8; 2]] = &[
    [5, 188],
    [45, 134],
    [51, 15],
    [64, 227],
    [91, 92],
    [103, 145],
    [139, 59],
    [167, 99],
    [185, 220],
    [193, 32],
    [195, 154],
    [159, 203],
];
const HOSTING_V6: &[[u16; 2]] = &[[0x2a01, 0x04f8], [0x2604, 0xa880], [0x2001, 0x41d0]];

/// Directories a scanner retries its probes under (the first round has none).
const SCAN_DIRS: &[&str] = &[
    "", "/old", "/backup", "/wp", "/test", "/dev", "/new", "/site",
];

const SEARCH_TERMS: &[&str] = &[
    "kettle",
    "desk+lamp",
    "oak+chair",
    "planter",
    "linen+towel",
    "copper+mug",
    "gift",
    "outdoor+lantern",
    "bamboo",
    "sale",
    "retro+clock",
    "rug",
];

/// The builder: the site, the lists, the string table and the requests so far.
struct Gen<'a> {
    site: &'a Site,
    lists: &'a Lists,
    browsers: Vec<Browser>,
    start_ms: u64,
    end_ms: u64,
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
    requests: Vec<Request>,
    actors: Vec<Actor>,
    used_ips: HashSet<IpAddr>,
}

/// One person's browser: identity and cache.
struct Visitor {
    actor: u32,
    ip: IpAddr,
    user_agent: u32,
    session: u32,
    /// Assets the browser holds fresh (not requested again).
    cached: HashSet<usize>,
    /// Assets it holds but revalidates (If-Modified-Since, 304).
    stale: HashSet<usize>,
    logged_in: bool,
    /// The next page load starts a session (the browser asks for the favicon).
    new_session: bool,
    /// Median think time between pages, in seconds.
    think_median: f64,
}

/// One request to add, before interning.
struct Send<'s> {
    time_ms: u64,
    method: Method,
    target: &'s str,
    referer: Option<&'s str>,
    login_ok: bool,
    revalidate: bool,
}

impl Send<'_> {
    fn get(time_ms: u64, target: &str) -> Send<'_> {
        Send {
            time_ms,
            method: Method::Get,
            target,
            referer: None,
            login_ok: false,
            revalidate: false,
        }
    }
}

impl Gen<'_> {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(text.into());
        self.index.insert(text.into(), id);
        id
    }

    fn intern_opt(&mut self, text: Option<&str>) -> u32 {
        text.map_or(NONE, |t| self.intern(t))
    }

    fn actor(&mut self, class: Class, subtype: &'static str, scenario: &'static str) -> u32 {
        self.actors.push(Actor {
            class,
            subtype,
            scenario,
        });
        (self.actors.len() - 1) as u32
    }

    /// Adds a request of `actor` from `client`; one after the end of the run is dropped.
    fn send(&mut self, actor: u32, client: IpAddr, user_agent: u32, session: u32, send: Send<'_>) {
        if send.time_ms >= self.end_ms || send.time_ms < self.start_ms {
            return;
        }
        let target = self.intern(send.target);
        let referer = self.intern_opt(send.referer);
        self.requests.push(Request {
            time_ms: send.time_ms,
            client,
            actor,
            method: send.method,
            target,
            referer,
            user_agent,
            session,
            login_ok: send.login_ok,
            revalidate: send.revalidate,
        });
    }

    /// A start time uniformly in the first `share` of the run.
    fn start_time(&self, rng: &mut Rng, share: f64) -> u64 {
        let span = ((self.end_ms - self.start_ms) as f64 * share) as u64;
        self.start_ms + dist::between(rng, 0, span)
    }

    /// An address no other actor uses.
    fn fresh_ip(&mut self, rng: &mut Rng, pool: Pool, v6_share: f64) -> IpAddr {
        loop {
            let v6 = dist::chance(rng, v6_share);
            let ip = match (pool, v6) {
                (Pool::Residential, false) => v4_in(rng, RESIDENTIAL_V4),
                (Pool::Residential, true) => v6_in(rng, RESIDENTIAL_V6),
                (Pool::Hosting, false) => v4_in(rng, HOSTING_V4),
                (Pool::Hosting, true) => v6_in(rng, HOSTING_V6),
            };
            if !self.lists.is_crawler_address(ip) && self.used_ips.insert(ip) {
                return ip;
            }
        }
    }

    fn browser(&mut self, rng: &mut Rng, mobile_share: f64) -> u32 {
        let text = agents::pick_browser(rng, &self.browsers, mobile_share).map(|b| b.text.clone());
        self.intern_opt(text.as_deref())
    }

    fn new_visitor(
        &mut self,
        rng: &mut Rng,
        actor: u32,
        ip: IpAddr,
        user_agent: u32,
        returning: bool,
    ) -> Visitor {
        let cookie = dist::hex(rng, 24);
        let session = self.intern(&cookie);
        let stale = if returning {
            self.site
                .pages
                .first()
                .map(|home| home.assets.iter().copied().collect())
                .unwrap_or_default()
        } else {
            HashSet::new()
        };
        Visitor {
            actor,
            ip,
            user_agent,
            session,
            cached: HashSet::new(),
            stale,
            logged_in: false,
            new_session: true,
            think_median: 15.0,
        }
    }

    /// One request of a visitor.
    fn visitor_send(&mut self, v: &Visitor, send: Send<'_>) {
        self.send(v.actor, v.ip, v.user_agent, v.session, send);
    }

    /// A browser loading `page` (requested as `target`) at `t`: the page, then its
    /// uncached assets (stylesheet and scripts first, then images, fonts once the
    /// stylesheet is in). Returns when the page finished loading.
    fn load_page(
        &mut self,
        rng: &mut Rng,
        v: &mut Visitor,
        t: u64,
        page: usize,
        target: &str,
        referer: Option<&str>,
    ) -> u64 {
        self.visitor_send(
            v,
            Send {
                referer,
                ..Send::get(t, target)
            },
        );
        let page_url = format!("{SITE_ORIGIN}{target}");
        let css_url = self
            .site
            .assets
            .get(self.site.stylesheet)
            .map(|a| format!("{SITE_ORIGIN}{}", a.path));
        let assets = self
            .site
            .pages
            .get(page)
            .map(|p| p.assets.clone())
            .unwrap_or_default();
        let mut clock = t + dist::ms(dist::lognormal(rng, 0.12, 0.6, 0.02, 3.0));
        let mut done = clock;
        for pass in [0, 1, 2] {
            for &asset in &assets {
                let Some(info) = self.site.assets.get(asset) else {
                    continue;
                };
                let in_pass = match info.kind {
                    AssetKind::Css | AssetKind::Js => 0,
                    AssetKind::Image => 1,
                    AssetKind::Font => 2,
                };
                if in_pass != pass || v.cached.contains(&asset) {
                    continue;
                }
                let revalidate = v.stale.remove(&asset);
                let referer = if info.via_css {
                    css_url.as_deref()
                } else {
                    Some(page_url.as_str())
                };
                let path = info.path.clone();
                clock += dist::ms(dist::lognormal(rng, 0.015, 0.8, 0.001, 0.5));
                self.visitor_send(
                    v,
                    Send {
                        referer,
                        revalidate,
                        ..Send::get(clock, &path)
                    },
                );
                v.cached.insert(asset);
                done = done.max(clock);
            }
            clock += dist::ms(dist::lognormal(rng, 0.05, 0.6, 0.005, 1.0));
        }
        if std::mem::take(&mut v.new_session) {
            self.visitor_send(
                v,
                Send {
                    referer: Some(&page_url),
                    ..Send::get(clock, "/favicon.ico")
                },
            );
        }
        done.max(clock)
    }

    /// A browsing session of `pages` page views from `entry`; returns when it ends.
    fn session(
        &mut self,
        rng: &mut Rng,
        v: &mut Visitor,
        t0: u64,
        entry: usize,
        entry_referer: Option<&str>,
        pages: u64,
    ) -> u64 {
        v.new_session = true;
        let think_median = v.think_median;
        let mut t = t0;
        let mut page = entry;
        let mut target = self
            .site
            .pages
            .get(entry)
            .map_or_else(|| "/".to_owned(), |p| p.path.clone());
        let mut referer = entry_referer.map(str::to_owned);
        for _ in 0..pages {
            let loaded = self.load_page(rng, v, t, page, &target, referer.as_deref());
            t = loaded + dist::ms(dist::lognormal(rng, think_median, 1.1, 1.0, 1800.0));
            if t >= self.end_ms {
                break;
            }
            let here = format!("{SITE_ORIGIN}{target}");
            if dist::chance(rng, 0.03) {
                // A dead link (a discontinued product): nginx's 404 page, then back.
                let dead = format!("/product/discontinued-{}", dist::between(rng, 100, 999));
                self.visitor_send(
                    v,
                    Send {
                        referer: Some(&here),
                        ..Send::get(t, &dead)
                    },
                );
                t += dist::ms(dist::lognormal(rng, 3.0, 0.6, 0.5, 60.0));
            }
            let roll = dist::unit(rng);
            if roll < 0.08 {
                // A search, then a product from the results.
                let term = dist::pick(rng, SEARCH_TERMS).copied().unwrap_or("gift");
                let search = self.find_page(PageKind::Search);
                let search_target = format!("/search?q={term}");
                let loaded = self.load_page(rng, v, t, search, &search_target, Some(&here));
                t = loaded + dist::ms(dist::lognormal(rng, think_median / 2.0, 0.8, 1.0, 600.0));
                page = self.random_page(rng, PageKind::Product);
                referer = Some(format!("{SITE_ORIGIN}{search_target}"));
            } else if roll < 0.14 && !v.logged_in {
                // Log in: the form, a think, the POST (sometimes a typo first).
                let login = self.find_page(PageKind::Login);
                let loaded = self.load_page(rng, v, t, login, "/login", Some(&here));
                t = loaded + dist::ms(dist::lognormal(rng, 9.0, 0.5, 3.0, 120.0));
                let form = format!("{SITE_ORIGIN}/login");
                if dist::chance(rng, 0.1) {
                    self.visitor_send(
                        v,
                        Send {
                            method: Method::Post,
                            referer: Some(&form),
                            ..Send::get(t, "/login")
                        },
                    );
                    t += dist::ms(dist::lognormal(rng, 6.0, 0.5, 2.0, 60.0));
                }
                self.visitor_send(
                    v,
                    Send {
                        method: Method::Post,
                        referer: Some(&form),
                        login_ok: true,
                        ..Send::get(t, "/login")
                    },
                );
                v.logged_in = true;
                t += dist::ms(dist::lognormal(rng, 0.8, 0.5, 0.2, 5.0));
                page = self.find_page(PageKind::Home);
                referer = Some(form);
            } else {
                let links = self
                    .site
                    .pages
                    .get(page)
                    .map(|p| p.links.clone())
                    .unwrap_or_default();
                page = dist::pick(rng, &links).copied().unwrap_or(0);
                referer = Some(here);
            }
            target = self
                .site
                .pages
                .get(page)
                .map_or_else(|| "/".to_owned(), |p| p.path.clone());
        }
        t
    }

    fn find_page(&self, kind: PageKind) -> usize {
        self.site
            .pages
            .iter()
            .position(|p| p.kind == kind)
            .unwrap_or(0)
    }

    fn random_page(&self, rng: &mut Rng, kind: PageKind) -> usize {
        let matching: Vec<usize> = (0..self.site.pages.len())
            .filter(|&i| self.site.pages[i].kind == kind)
            .collect();
        dist::pick(rng, &matching).copied().unwrap_or(0)
    }

    /// Where a person starts: home, a product or a post from a search engine or social
    /// link, or a bookmark.
    fn entry(&self, rng: &mut Rng) -> (usize, Option<String>) {
        let kind = dist::weighted(
            rng,
            &[
                (PageKind::Home, 40),
                (PageKind::Product, 30),
                (PageKind::Category, 15),
                (PageKind::Blog, 15),
            ],
        )
        .unwrap_or(PageKind::Home);
        let page = self.random_page(rng, kind);
        let referer = match dist::index(rng, 10) {
            0..=3 => Some("https://www.google.com/".to_owned()),
            4 => Some("https://www.bing.com/".to_owned()),
            5 => Some("https://duckduckgo.com/".to_owned()),
            6 => Some("https://l.facebook.com/".to_owned()),
            7 => Some(format!("https://t.co/{}", dist::hex(rng, 10))),
            _ => None,
        };
        (page, referer)
    }

    fn browsing(&mut self, rng: &mut Rng, people: u32) {
        for _ in 0..people {
            let actor = self.actor(Class::Human, "browsing", "browsing");
            let ip = self.fresh_ip(rng, Pool::Residential, 0.2);
            let ua = self.browser(rng, 0.5);
            let returning = dist::chance(rng, 0.25);
            let mut v = self.new_visitor(rng, actor, ip, ua, returning);
            let mut t = self.start_time(rng, 0.95);
            let sessions = if dist::chance(rng, 0.2) { 2 } else { 1 };
            for _ in 0..sessions {
                let (entry, referer) = self.entry(rng);
                let pages = dist::lognormal(rng, 4.0, 0.8, 1.0, 40.0) as u64;
                t = self.session(rng, &mut v, t, entry, referer.as_deref(), pages);
                // The next visit, later: the browser revalidates what it holds.
                t += dist::ms(dist::lognormal(rng, 1800.0, 0.6, 300.0, 7200.0));
                v.stale.extend(v.cached.drain());
            }
        }
    }

    fn flash_sale(&mut self, rng: &mut Rng, people: u32) {
        let sale_at = self.start_ms + (self.end_ms - self.start_ms) * 2 / 5;
        let sale_page = self.site.sale_page;
        for _ in 0..people {
            let actor = self.actor(Class::Human, "flash_sale", "flash_sale");
            let ip = self.fresh_ip(rng, Pool::Residential, 0.25);
            let ua = self.browser(rng, 0.7);
            let returning = dist::chance(rng, 0.3);
            let mut v = self.new_visitor(rng, actor, ip, ua, returning);
            // Front-loaded arrivals within the minute after the announcement.
            let t = sale_at + dist::ms(60.0 * dist::unit(rng).powi(2));
            let referer = match dist::index(rng, 5) {
                0 | 1 => Some("https://mail.google.com/"),
                2 => Some("https://www.instagram.com/"),
                3 => Some("https://t.co/x7Qe2sale"),
                _ => None,
            };
            let pages = if dist::chance(rng, 0.4) {
                1
            } else {
                dist::between(rng, 2, 5)
            };
            v.think_median = 8.0;
            self.session(rng, &mut v, t, sale_page, referer, pages);
        }
    }

    fn gateways(&mut self, rng: &mut Rng, gateways: u32, people: usize) {
        for _ in 0..gateways {
            let ip = self.fresh_ip(rng, Pool::Residential, 0.0);
            // Distinct user agents: a shuffled walk over the pool (repeats only past it).
            let mut order: Vec<usize> = (0..self.browsers.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, dist::index(rng, i + 1));
            }
            for person in 0..people {
                let actor = self.actor(Class::Human, "gateway", "nat_gateway");
                let text = order
                    .get(person % order.len().max(1))
                    .and_then(|&i| self.browsers.get(i))
                    .map(|b| b.text.clone());
                let ua = self.intern_opt(text.as_deref());
                let returning = dist::chance(rng, 0.5);
                let mut v = self.new_visitor(rng, actor, ip, ua, returning);
                let mut t = self.start_time(rng, 0.9);
                for _ in 0..dist::between(rng, 1, 3) {
                    let (entry, referer) = self.entry(rng);
                    let pages = dist::lognormal(rng, 5.0, 0.7, 1.0, 30.0) as u64;
                    t = self.session(rng, &mut v, t, entry, referer.as_deref(), pages);
                    t += dist::ms(dist::lognormal(rng, 1500.0, 0.6, 300.0, 7200.0));
                    v.stale.extend(v.cached.drain());
                }
            }
        }
    }

    /// The pages a crawler may fetch (robots.txt disallows /cart, /login, /search).
    fn crawlable(&self) -> Vec<usize> {
        (0..self.site.pages.len())
            .filter(|&i| {
                !matches!(
                    self.site.pages[i].kind,
                    PageKind::Cart | PageKind::Login | PageKind::Search
                )
            })
            .collect()
    }

    fn verified_crawlers(&mut self, rng: &mut Rng, scale: u32) {
        let lists = self.lists;
        let mut bots: Vec<(&'static str, &[crate::lists::Cidr], &[&str])> = Vec::new();
        for _ in 0..scale {
            bots.push(("googlebot", &lists.googlebot_ranges, agents::GOOGLEBOT));
            bots.push(("googlebot", &lists.googlebot_ranges, agents::GOOGLEBOT));
            bots.push(("bingbot", &lists.bingbot_ranges, agents::BINGBOT));
            bots.push((
                "duckduckbot",
                &lists.duckduckbot_ranges,
                agents::DUCKDUCKBOT,
            ));
        }
        let crawlable = self.crawlable();
        for (subtype, ranges, uas) in bots {
            let Some(ip) = (0..64).find_map(|_| {
                let ip = dist::pick(rng, ranges)?.random_member(rng);
                self.used_ips.insert(ip).then_some(ip)
            }) else {
                continue;
            };
            let actor = self.actor(Class::GoodBot, subtype, "verified_crawler");
            let ua = dist::pick(rng, uas).copied();
            let ua = self.intern_opt(ua);
            let mut t = self.start_time(rng, 0.3);
            self.send(actor, ip, ua, NONE, Send::get(t, "/robots.txt"));
            if subtype != "duckduckbot" {
                t += dist::ms(dist::between(rng, 2, 10) as f64);
                self.send(actor, ip, ua, NONE, Send::get(t, "/sitemap.xml"));
            }
            let mut fetched_assets = false;
            let mut since_robots = 0;
            while t < self.end_ms {
                t += dist::ms(dist::exp(rng, 25.0).max(1.0));
                since_robots += 1;
                if since_robots > 80 {
                    self.send(actor, ip, ua, NONE, Send::get(t, "/robots.txt"));
                    since_robots = 0;
                    continue;
                }
                let page = dist::pick(rng, &crawlable).copied().unwrap_or(0);
                let path = self
                    .site
                    .pages
                    .get(page)
                    .map_or_else(|| "/".to_owned(), |p| p.path.clone());
                self.send(actor, ip, ua, NONE, Send::get(t, &path));
                // Googlebot renders: now and then it fetches the stylesheet and scripts.
                if subtype == "googlebot" && !fetched_assets && dist::chance(rng, 0.1) {
                    fetched_assets = true;
                    for asset in self
                        .site
                        .assets
                        .iter()
                        .filter(|a| matches!(a.kind, AssetKind::Css | AssetKind::Js))
                        .map(|a| a.path.clone())
                        .collect::<Vec<_>>()
                    {
                        t += dist::ms(dist::exp(rng, 0.5));
                        self.send(actor, ip, ua, NONE, Send::get(t, &asset));
                    }
                }
            }
        }
    }

    fn fake_crawlers(&mut self, rng: &mut Rng, count: u32) {
        for _ in 0..count {
            let actor = self.actor(Class::Scraper, "fake_crawler", "fake_crawler");
            let ip = self.fresh_ip(rng, Pool::Hosting, 0.1);
            let uas = if dist::chance(rng, 0.7) {
                agents::GOOGLEBOT
            } else {
                agents::BINGBOT
            };
            let ua = dist::pick(rng, uas).copied();
            let ua = self.intern_opt(ua);
            let mut t = self.start_time(rng, 0.7);
            if dist::chance(rng, 0.3) {
                self.send(actor, ip, ua, NONE, Send::get(t, "/robots.txt"));
            }
            let mean_gap = dist::lognormal(rng, 3.0, 0.4, 1.0, 8.0);
            for _ in 0..dist::between(rng, 150, 500) {
                t += dist::ms(dist::exp(rng, mean_gap).max(0.2));
                let page = dist::index(rng, self.site.pages.len());
                let mut path = self
                    .site
                    .pages
                    .get(page)
                    .map_or_else(|| "/".to_owned(), |p| p.path.clone());
                if path == "/search" {
                    path = format!(
                        "/search?q={}",
                        dist::pick(rng, SEARCH_TERMS).copied().unwrap_or("sale")
                    );
                }
                self.send(actor, ip, ua, NONE, Send::get(t, &path));
            }
        }
    }

    /// The catalogue in the order a scraper walks it: categories with their pages, then
    /// every product.
    fn catalogue(&self) -> Vec<String> {
        let mut targets = Vec::new();
        for page in self
            .site
            .pages
            .iter()
            .filter(|p| p.kind == PageKind::Category)
        {
            targets.push(page.path.clone());
            for n in 2..=4 {
                targets.push(format!("{}?page={n}", page.path));
            }
        }
        targets.extend(
            self.site
                .pages
                .iter()
                .filter(|p| p.kind == PageKind::Product)
                .map(|p| p.path.clone()),
        );
        targets
    }

    fn fast_scrapers(&mut self, rng: &mut Rng, count: u32) {
        let catalogue = self.catalogue();
        for _ in 0..count {
            let actor = self.actor(Class::Scraper, "fast", "fast_scraper");
            let ip = self.fresh_ip(rng, Pool::Hosting, 0.15);
            let ua = if dist::chance(rng, 0.6) {
                let text = dist::pick(rng, agents::LIBRARIES).copied();
                self.intern_opt(text)
            } else {
                self.browser(rng, 0.1)
            };
            let referer = dist::chance(rng, 0.1).then(|| format!("{SITE_ORIGIN}/"));
            let mut t = self.start_time(rng, 0.8);
            let base = dist::lognormal(rng, 0.35, 0.3, 0.2, 0.6);
            let offset = dist::index(rng, catalogue.len());
            for i in 0..dist::between(rng, 300, 900) as usize {
                t += dist::ms(dist::jitter(rng, base, 0.08));
                let target = catalogue
                    .get((offset + i) % catalogue.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                self.send(
                    actor,
                    ip,
                    ua,
                    NONE,
                    Send {
                        referer: referer.as_deref(),
                        ..Send::get(t, &target)
                    },
                );
            }
        }
    }

    fn low_and_slow(&mut self, rng: &mut Rng, groups: u32) {
        let catalogue = self.catalogue();
        for _ in 0..groups {
            let actor = self.actor(Class::Scraper, "low_and_slow", "low_and_slow_scraper");
            // A /24 of a hosting provider no one else uses.
            let (net, addresses) = loop {
                let [a, b] = *dist::pick(rng, HOSTING_V4).unwrap_or(&[45, 134]);
                let c = dist::between(rng, 0, 255) as u8;
                let net = [a, b, c];
                let mut hosts: Vec<u8> = (2..=254).collect();
                for i in (1..hosts.len()).rev() {
                    hosts.swap(i, dist::index(rng, i + 1));
                }
                let addresses: Vec<IpAddr> = hosts
                    .iter()
                    .take(24)
                    .map(|&h| IpAddr::V4(Ipv4Addr::new(a, b, c, h)))
                    .collect();
                if addresses.iter().all(|ip| !self.used_ips.contains(ip)) {
                    break (net, addresses);
                }
            };
            tracing::debug!(network = ?net, "low-and-slow scraper network");
            self.used_ips.extend(addresses.iter().copied());
            let uas: Vec<u32> = (0..6).map(|_| self.browser(rng, 0.2)).collect();
            let base = dist::lognormal(rng, 30.0, 0.15, 20.0, 45.0);
            let mut t = self.start_time(rng, 0.05);
            let mut i = dist::index(rng, catalogue.len());
            while t < self.end_ms {
                let ip = dist::pick(rng, &addresses)
                    .copied()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                let ua = dist::pick(rng, &uas).copied().unwrap_or(NONE);
                let target = catalogue
                    .get(i % catalogue.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                self.send(actor, ip, ua, NONE, Send::get(t, &target));
                i += 1;
                t += dist::ms(dist::jitter(rng, base, 0.1));
            }
        }
    }

    fn credential_stuffers(&mut self, rng: &mut Rng, count: u32) {
        for _ in 0..count {
            let actor = self.actor(
                Class::Attacker,
                "credential_stuffing",
                "credential_stuffing",
            );
            let pool = if dist::chance(rng, 0.5) {
                Pool::Hosting
            } else {
                Pool::Residential
            };
            let ip = self.fresh_ip(rng, pool, 0.1);
            let ua = match dist::index(rng, 4) {
                0 | 1 => self.browser(rng, 0.2),
                2 => self.intern("python-requests/2.32.3"),
                _ => self.intern("Mozilla/5.0"),
            };
            let form = format!("{SITE_ORIGIN}/login");
            let referer = dist::chance(rng, 0.5).then_some(form.as_str());
            let mut t = self.start_time(rng, 0.8);
            self.send(actor, ip, ua, NONE, Send::get(t, "/login"));
            let base = dist::lognormal(rng, 1.8, 0.3, 1.0, 3.0);
            for _ in 0..dist::between(rng, 150, 400) {
                t += dist::ms(dist::jitter(rng, base, 0.25));
                let login_ok = dist::chance(rng, 0.03);
                self.send(
                    actor,
                    ip,
                    ua,
                    NONE,
                    Send {
                        method: Method::Post,
                        referer,
                        login_ok,
                        ..Send::get(t, "/login")
                    },
                );
            }
        }
    }

    fn scanners(&mut self, rng: &mut Rng, count: u32) {
        let probes = self.lists.probes.clone();
        for _ in 0..count {
            let actor = self.actor(Class::Attacker, "scanner", "vulnerability_scan");
            let ip = self.fresh_ip(rng, Pool::Hosting, 0.1);
            let ua = match dist::index(rng, 20) {
                0 | 1 => NONE,
                2 | 3 => self.browser(rng, 0.0),
                4 => {
                    let text = dist::pick(rng, agents::PAYLOAD_AGENTS).copied();
                    self.intern_opt(text)
                }
                _ => {
                    let token = dist::pick(rng, &self.lists.scanner_agents)
                        .cloned()
                        .unwrap_or_else(|| "Nikto".into());
                    let text = agents::scanner_agent(rng, &token);
                    self.intern(&text)
                }
            };
            let mut t = self.start_time(rng, 0.85);
            self.send(actor, ip, ua, NONE, Send::get(t, "/"));
            if dist::chance(rng, 0.5) {
                t += dist::ms(dist::exp(rng, 0.3));
                self.send(actor, ip, ua, NONE, Send::get(t, "/robots.txt"));
            }
            let mean_gap = dist::lognormal(rng, 0.25, 0.4, 0.15, 0.5);
            let head_share = if dist::chance(rng, 0.3) { 0.5 } else { 0.0 };
            let mut order: Vec<usize> = (0..probes.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, dist::index(rng, i + 1));
            }
            // Past the end of the list, the scanner tries the paths again under the
            // directories applications are often installed in.
            for i in 0..dist::between(rng, 150, 500) as usize {
                let Some(&probe) = order.get(i % order.len().max(1)) else {
                    break;
                };
                let Some(path) = probes.get(probe) else { break };
                let round = i / order.len().max(1);
                let target = match SCAN_DIRS.get(round) {
                    Some(dir) if round > 0 => format!("{dir}{path}"),
                    _ => path.clone(),
                };
                t += dist::ms(dist::exp(rng, mean_gap));
                let method = if dist::chance(rng, head_share) {
                    Method::Head
                } else {
                    Method::Get
                };
                self.send(
                    actor,
                    ip,
                    ua,
                    NONE,
                    Send {
                        method,
                        ..Send::get(t, &target)
                    },
                );
            }
        }
    }
}

fn v4_in(rng: &mut Rng, nets: &[[u8; 2]]) -> IpAddr {
    let [a, b] = *dist::pick(rng, nets).unwrap_or(&[24, 114]);
    IpAddr::V4(Ipv4Addr::new(
        a,
        b,
        dist::between(rng, 0, 255) as u8,
        dist::between(rng, 1, 254) as u8,
    ))
}

fn v6_in(rng: &mut Rng, nets: &[[u16; 2]]) -> IpAddr {
    let [a, b] = *dist::pick(rng, nets).unwrap_or(&[0x2a02, 0x0810]);
    let mut word = || dist::between(rng, 0, 0xffff) as u16;
    IpAddr::V6(Ipv6Addr::new(
        a,
        b,
        word(),
        word(),
        word(),
        word(),
        word(),
        word().max(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn scenario() -> Scenario {
        Scenario::generate(&Config::default(), &Lists::builtin())
    }

    fn by_scenario<'a>(s: &'a Scenario, name: &str) -> Vec<RequestView<'a>> {
        s.requests()
            .filter(|r| s.actors[r.actor as usize].scenario == name)
            .collect()
    }

    fn by_actor<'a>(requests: &[RequestView<'a>]) -> BTreeMap<u32, Vec<RequestView<'a>>> {
        let mut out: BTreeMap<u32, Vec<RequestView<'a>>> = BTreeMap::new();
        for r in requests {
            out.entry(r.actor).or_default().push(*r);
        }
        out
    }

    #[test]
    fn same_seed_same_traffic_and_another_seed_differs() {
        let a = scenario();
        let b = scenario();
        assert!(a.len() > 10_000, "{}", a.len());
        assert!(a.requests().eq(b.requests()));
        assert_eq!(a.labels(), b.labels());
        let c = Scenario::generate(
            &Config {
                seed: 2,
                ..Config::default()
            },
            &Lists::builtin(),
        );
        assert!(!a.requests().take(100).eq(c.requests().take(100)));
    }

    #[test]
    fn requests_are_ordered_inside_the_run_and_nginx_accepts_them() {
        let s = scenario();
        let start = Config::DEFAULT_START_UNIX * 1000;
        let end = start + Config::DEFAULT_DURATION_SECS as i64 * 1000;
        let mut last = 0;
        for r in s.requests() {
            assert!(r.time_unix_ms >= last);
            assert!((start..end).contains(&r.time_unix_ms));
            assert!(Site::accepts(r.target), "{}", r.target);
            last = r.time_unix_ms;
        }
        let labels = s.labels();
        assert_eq!(
            labels.iter().map(|l| l.requests).sum::<u64>(),
            s.len() as u64
        );
        for scenario in [
            "browsing",
            "flash_sale",
            "nat_gateway",
            "verified_crawler",
            "fake_crawler",
            "fast_scraper",
            "low_and_slow_scraper",
            "credential_stuffing",
            "vulnerability_scan",
        ] {
            assert!(labels.iter().any(|l| l.scenario == scenario), "{scenario}");
        }
    }

    #[test]
    fn people_fetch_assets_with_consistent_referers_and_a_cookie() {
        let s = scenario();
        let css = format!("{SITE_ORIGIN}/static/css/site.css");
        let people = by_actor(&by_scenario(&s, "browsing"));
        assert_eq!(people.len(), 150);
        for requests in people.values() {
            let assets = requests
                .iter()
                .filter(|r| r.target.starts_with("/static/"))
                .count();
            assert!(
                assets * 2 >= requests.len(),
                "{assets} of {}",
                requests.len()
            );
            assert!(requests
                .iter()
                .all(|r| r.session.is_some() && r.user_agent.is_some()));
            // The first request is a page, then its stylesheet.
            assert!(!requests[0].target.starts_with("/static/"));
            assert!(requests.iter().any(|r| r.target == "/static/css/site.css"));
            for r in requests
                .iter()
                .filter(|r| r.target.starts_with("/static/fonts/"))
            {
                assert_eq!(r.referer, Some(css.as_str()));
            }
            for r in requests
                .iter()
                .filter(|r| r.target.starts_with("/static/img/"))
            {
                assert!(r.referer.is_some_and(|x| x.starts_with(SITE_ORIGIN)));
            }
        }
        // Page-to-page referers point at a page of the site the person saw before.
        let mut seen = 0;
        for requests in people.values() {
            let mut visited = BTreeSet::new();
            for r in requests
                .iter()
                .filter(|r| !r.target.starts_with("/static/") && r.target != "/favicon.ico")
            {
                if let Some(from) = r.referer.and_then(|x| x.strip_prefix(SITE_ORIGIN)) {
                    assert!(visited.contains(from), "{from} before {}", r.target);
                    seen += 1;
                }
                visited.insert(r.target.to_owned());
            }
        }
        assert!(seen > 300, "{seen}");
        // Returning visitors revalidate (304s).
        assert!(s
            .requests()
            .any(|r| r.revalidate && s.response(&r).0 == 304));
    }

    #[test]
    fn scanners_mostly_hit_404s_and_stuffers_post_logins() {
        let s = scenario();
        let scans = by_scenario(&s, "vulnerability_scan");
        for requests in by_actor(&scans).values() {
            assert!(requests.len() >= 150, "{}", requests.len());
            let missing = requests.iter().filter(|r| s.response(r).0 == 404).count();
            assert!(
                missing * 10 >= requests.len() * 9,
                "{missing} of {}",
                requests.len()
            );
            let distinct: BTreeSet<&str> = requests.iter().map(|r| r.target).collect();
            assert!(distinct.len() * 10 >= requests.len() * 9);
        }
        for requests in by_actor(&by_scenario(&s, "credential_stuffing")).values() {
            let posts: Vec<_> = requests
                .iter()
                .filter(|r| r.method == Method::Post)
                .collect();
            assert!(posts.len() >= 150);
            let statuses: BTreeSet<u16> = posts.iter().map(|r| s.response(r).0).collect();
            assert!(statuses.contains(&401));
            let failed = posts.iter().filter(|r| s.response(r).0 == 401).count();
            assert!(failed * 10 > posts.len() * 9);
        }
        let ok = by_scenario(&s, "credential_stuffing")
            .iter()
            .filter(|r| r.login_ok)
            .count();
        assert!(ok > 0);
    }

    #[test]
    fn gateway_has_one_address_and_many_people() {
        let s = scenario();
        let labels: Vec<Label> = s
            .labels()
            .into_iter()
            .filter(|l| l.scenario == "nat_gateway")
            .collect();
        let ips: BTreeSet<IpAddr> = labels.iter().map(|l| l.ip).collect();
        let uas: BTreeSet<_> = labels.iter().map(|l| l.user_agent.clone()).collect();
        let sessions: BTreeSet<_> = labels.iter().map(|l| l.session.clone()).collect();
        assert_eq!(ips.len(), 1);
        assert_eq!(labels.len(), 30);
        assert_eq!((uas.len(), sessions.len()), (30, 30));
        // Nobody else uses the gateway's address.
        let ip = ips.first().copied().unwrap();
        assert!(s
            .labels()
            .iter()
            .all(|l| l.ip != ip || l.scenario == "nat_gateway"));
    }

    #[test]
    fn flash_sale_crowd_hits_one_url_within_a_minute_then_its_assets() {
        let s = scenario();
        let sale = s.site.pages[s.site.sale_page].path.clone();
        let crowd = by_scenario(&s, "flash_sale");
        let people = by_actor(&crowd);
        assert_eq!(people.len(), 250);
        assert!(people.values().all(|r| r[0].target == sale));
        let arrivals: Vec<i64> = people.values().map(|r| r[0].time_unix_ms).collect();
        let (lo, hi) = (
            arrivals.iter().min().unwrap(),
            arrivals.iter().max().unwrap(),
        );
        assert!(hi - lo <= 60_000, "{}", hi - lo);
        let ips: BTreeSet<IpAddr> = crowd.iter().map(|r| r.client).collect();
        assert_eq!(ips.len(), 250);
        for requests in people.values() {
            assert!(requests
                .iter()
                .any(|r| r.target.starts_with("/static/img/products/")));
        }
    }

    #[test]
    fn crawlers_scrapers_keep_their_shapes() {
        let s = scenario();
        let lists = Lists::builtin();
        let verified = by_scenario(&s, "verified_crawler");
        assert!(verified.iter().all(|r| lists.is_crawler_address(r.client)));
        for requests in by_actor(&verified).values() {
            assert_eq!(requests[0].target, "/robots.txt");
            // They obey robots.txt.
            assert!(requests
                .iter()
                .all(|r| !["/cart", "/login"].contains(&r.target)
                    && !r.target.starts_with("/search")));
        }
        let fake = by_scenario(&s, "fake_crawler");
        assert!(!fake.is_empty());
        assert!(fake.iter().all(|r| !lists.is_crawler_address(r.client)));
        assert!(fake.iter().all(|r| r
            .user_agent
            .is_some_and(|ua| ua.contains("Googlebot") || ua.contains("bingbot"))));
        for requests in by_actor(&by_scenario(&s, "fast_scraper")).values() {
            assert!(requests
                .iter()
                .all(|r| !r.target.starts_with("/static/") && r.session.is_none()));
            let gaps: Vec<f64> = requests
                .windows(2)
                .map(|w| (w[1].time_unix_ms - w[0].time_unix_ms) as f64)
                .collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let sd =
                (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
            assert!(mean < 700.0 && sd / mean < 0.1, "mean {mean} sd {sd}");
        }
        let slow = by_scenario(&s, "low_and_slow_scraper");
        let nets: BTreeSet<[u8; 3]> = slow
            .iter()
            .filter_map(|r| match r.client {
                IpAddr::V4(v4) => Some([v4.octets()[0], v4.octets()[1], v4.octets()[2]]),
                IpAddr::V6(_) => None,
            })
            .collect();
        assert_eq!(nets.len(), 1);
        assert!(slow.iter().map(|r| r.client).collect::<BTreeSet<_>>().len() >= 10);
        assert!(
            slow.iter()
                .map(|r| r.user_agent)
                .collect::<BTreeSet<_>>()
                .len()
                >= 3
        );
        assert!(slow
            .windows(2)
            .all(|w| w[1].time_unix_ms - w[0].time_unix_ms >= 15_000));
    }
}
