//! DNS tunnelling and DGA-like names.
//!
//! Input: DNS records. Each query name is split into its registrable
//! parent (approximated: last two labels, three under `co.uk`-like second
//! levels) and the subdomain left of it; a name is *suspicious* when its
//! longest subdomain label has at least `long_label` bytes, or its
//! subdomain has at least `entropy_min_len` bytes with Shannon entropy at
//! least `min_entropy` bits per byte (random base32/hex/base64 data).
//!
//! - Tunnel, key (src, parent), window at close: distinct subdomains ≥
//!   `tunnel_min_unique` and (suspicious share ≥ `tunnel_min_suspicious_ratio`
//!   or TXT/NULL share ≥ `tunnel_min_txt_ratio`).
//! - DGA, key src, window at close: distinct names answered NXDOMAIN ≥
//!   `dga_min_nxdomain`, over ≥ `dga_min_parents` distinct parents, and
//!   DGA-like registrable labels (≥ `dga_label_min_len` bytes, entropy ≥
//!   `dga_min_entropy`) ≥ `dga_min_like_ratio` of them.
//!
//! Names are remembered as 64-bit digests (SipHash with fixed keys, stable
//! for a given Rust release), capped per key. Severity: Medium for DGA,
//! High for a tunnel.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{Body, ConnectionInfo, Endpoint, Event, Severity};

use crate::features::{round3, NameFeatures};
use crate::report::{host, secs, Detector, Verdict};
use crate::table::{CappedSet, Close, Sample, Slot, Windows};

/// DNS thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// Window length, seconds of event time. Default 300: a tunnel that
    /// trickles (one lookup every few seconds) still fills a window.
    pub window_secs: u32,
    /// A subdomain label this long is suspicious. Default 30 bytes.
    pub long_label: usize,
    /// Shortest subdomain whose entropy is judged. Default 16 bytes.
    pub entropy_min_len: usize,
    /// Entropy (bits per byte) of a random-looking subdomain. Default 3.5.
    pub min_entropy: f64,
    /// Tunnel: distinct subdomains of one parent from one source. Default
    /// 30 (50 random lookups give 50; a browser asks for a handful of
    /// `www`, `api`, `cdn`...).
    pub tunnel_min_unique: usize,
    /// Tunnel: share of the queries with suspicious names. Default 0.5.
    pub tunnel_min_suspicious_ratio: f64,
    /// Tunnel: share of TXT or NULL queries. Default 0.5.
    pub tunnel_min_txt_ratio: f64,
    /// DGA: distinct names answered NXDOMAIN for one source. Default 20.
    pub dga_min_nxdomain: usize,
    /// DGA: distinct parents among them. Default 10.
    pub dga_min_parents: usize,
    /// DGA: a registrable label this long can be DGA-like. Default 10.
    pub dga_label_min_len: usize,
    /// DGA: entropy of a DGA-like registrable label. Default 3.0.
    pub dga_min_entropy: f64,
    /// DGA: share of NXDOMAIN names that are DGA-like. Default 0.5.
    pub dga_min_like_ratio: f64,
    /// Keys held per table. Default 50 000.
    pub max_keys: usize,
    /// Distinct names remembered per key. Default 2048.
    pub max_names: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 300,
            long_label: 30,
            entropy_min_len: 16,
            min_entropy: 3.5,
            tunnel_min_unique: 30,
            tunnel_min_suspicious_ratio: 0.5,
            tunnel_min_txt_ratio: 0.5,
            dga_min_nxdomain: 20,
            dga_min_parents: 10,
            dga_label_min_len: 10,
            dga_min_entropy: 3.0,
            dga_min_like_ratio: 0.5,
            max_keys: 50_000,
            max_names: 2048,
        }
    }
}

#[derive(Debug, Default)]
struct TunnelState {
    queries: u64,
    subdomains: CappedSet<u64>,
    suspicious: u64,
    txt_null: u64,
    nxdomain: u64,
    longest_label: usize,
    entropy_sum: f64,
    name_bytes: u64,
    sample: Sample<String>,
    resolver: Option<Endpoint>,
    first_flow: Option<ConnectionInfo>,
}

#[derive(Debug, Default)]
struct DgaState {
    nx_names: CappedSet<u64>,
    parents: CappedSet<u64>,
    dga_like: u64,
    sample: Sample<String>,
    resolver: Option<Endpoint>,
    first_flow: Option<ConnectionInfo>,
}

/// The DNS detectors.
#[derive(Debug)]
pub(crate) struct DnsDetector {
    cfg: DnsConfig,
    tunnel: Windows<(IpAddr, String), TunnelState>,
    dga: Windows<IpAddr, DgaState>,
    queries: u64,
    findings_tunnel: u64,
    findings_dga: u64,
}

fn digest(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl DnsDetector {
    pub fn new(cfg: DnsConfig, grace_ns: i64) -> Self {
        let len = i64::from(cfg.window_secs) * 1_000_000_000;
        Self {
            tunnel: Windows::new(cfg.max_keys, len, grace_ns),
            dga: Windows::new(cfg.max_keys, len, grace_ns),
            cfg,
            queries: 0,
            findings_tunnel: 0,
            findings_dga: 0,
        }
    }

    /// Whether the features make a name suspicious.
    fn suspicious(cfg: &DnsConfig, f: &NameFeatures) -> bool {
        f.longest_label >= cfg.long_label
            || (f.subdomain.len() >= cfg.entropy_min_len && f.entropy >= cfg.min_entropy)
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        let Body::Dns(dns) = &event.body else {
            return;
        };
        if !self.cfg.enabled {
            return;
        }
        self.queries += 1;
        let t = event.time_ns.nanos();
        let name = dns.query.hostname.as_str();
        let f = NameFeatures::of(name);
        let src = dns.src_endpoint.ip;
        let cfg = &self.cfg;
        let ft = &mut self.findings_tunnel;
        let slot = self
            .tunnel
            .record(&(src, f.parent.clone()), t, &mut |k, s, c| {
                close_tunnel(cfg, k, s, c, ft, out)
            });
        let st = &mut slot.state;
        st.queries += 1;
        if !f.subdomain.is_empty() {
            st.subdomains.insert(digest(&f.subdomain), cfg.max_names);
        }
        let suspicious = Self::suspicious(cfg, &f);
        st.suspicious += u64::from(suspicious);
        // 16 = TXT, 10 = NULL.
        st.txt_null += u64::from(matches!(dns.query.type_id, 16 | 10));
        let nx = dns.rcode_id == Some(3);
        st.nxdomain += u64::from(nx);
        st.longest_label = st.longest_label.max(f.longest_label);
        st.entropy_sum += f.entropy;
        st.name_bytes += name.len() as u64;
        if suspicious {
            st.sample.offer(name.to_owned(), 5);
        }
        if st.resolver.is_none() {
            st.resolver = Some(dns.dst_endpoint.clone());
            st.first_flow = Some(dns.connection_info.clone());
        }
        if !nx {
            return;
        }
        let fd = &mut self.findings_dga;
        let slot = self
            .dga
            .record(&src, t, &mut |k, s, c| close_dga(cfg, k, s, c, fd, out));
        let st = &mut slot.state;
        if st
            .nx_names
            .insert(digest(&name.to_ascii_lowercase()), cfg.max_names)
        {
            st.parents.insert(digest(&f.parent), cfg.max_names);
            let label = &f.registrable_label;
            let like = label.len() >= cfg.dga_label_min_len
                && crate::features::shannon_entropy(label) >= cfg.dga_min_entropy;
            st.dga_like += u64::from(like);
            if like {
                st.sample.offer(name.to_owned(), 5);
            }
        }
        if st.resolver.is_none() {
            st.resolver = Some(dns.dst_endpoint.clone());
            st.first_flow = Some(dns.connection_info.clone());
        }
    }

    pub fn advance(&mut self, now: i64, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let (ft, fd) = (&mut self.findings_tunnel, &mut self.findings_dga);
        self.tunnel
            .advance(now, &mut |k, s, c| close_tunnel(cfg, k, s, c, ft, out));
        self.dga
            .advance(now, &mut |k, s, c| close_dga(cfg, k, s, c, fd, out));
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let (ft, fd) = (&mut self.findings_tunnel, &mut self.findings_dga);
        self.tunnel
            .finish(&mut |k, s, c| close_tunnel(cfg, k, s, c, ft, out));
        self.dga
            .finish(&mut |k, s, c| close_dga(cfg, k, s, c, fd, out));
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("dns.queries", self.queries));
        out.push(("dns.tunnel.findings", self.findings_tunnel));
        out.push(("dns.tunnel.windows", self.tunnel.opened));
        out.push(("dns.tunnel.evicted", self.tunnel.evicted));
        out.push(("dns.tunnel.keys", self.tunnel.len() as u64));
        out.push(("dns.dga.findings", self.findings_dga));
        out.push(("dns.dga.windows", self.dga.opened));
        out.push(("dns.dga.evicted", self.dga.evicted));
        out.push(("dns.dga.keys", self.dga.len() as u64));
    }
}

fn share(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn close_tunnel(
    cfg: &DnsConfig,
    key: &(IpAddr, String),
    s: Slot<TunnelState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    let unique = st.subdomains.len();
    let sus = share(st.suspicious, st.queries);
    let txt = share(st.txt_null, st.queries);
    if unique < cfg.tunnel_min_unique
        || (sus < cfg.tunnel_min_suspicious_ratio && txt < cfg.tunnel_min_txt_ratio)
    {
        return None;
    }
    let (src, parent) = key;
    let mut v = Verdict::for_window(Detector::DnsTunnel, "host", src.to_string(), &s);
    let mean_entropy = st.entropy_sum / st.queries.max(1) as f64;
    v.title = format!("DNS tunnelling from {src} via {parent}: {unique} unique subdomains");
    v.desc = format!(
        "{src} asked {} queries for {unique} distinct subdomains of {parent} in {} s: {} suspicious names (longest label {} bytes, mean entropy {} bits), {} TXT/NULL, {} NXDOMAIN; thresholds: at least {} subdomains and a suspicious share of at least {} or a TXT/NULL share of at least {}",
        st.queries,
        secs(s.last - s.first),
        st.suspicious,
        st.longest_label,
        round3(mean_entropy),
        st.txt_null,
        st.nxdomain,
        cfg.tunnel_min_unique,
        cfg.tunnel_min_suspicious_ratio,
        cfg.tunnel_min_txt_ratio
    );
    v.src = Some(host(*src));
    v.dst = st.resolver.clone();
    v.connection_info = st.first_flow.clone();
    v.ev("parent_domain", parent.as_str())
        .ev("queries", st.queries)
        .ev("unique_subdomains", unique as u64)
        .ev("suspicious_names", st.suspicious)
        .ev("suspicious_ratio", round3(sus))
        .ev("txt_null_queries", st.txt_null)
        .ev("txt_null_ratio", round3(txt))
        .ev("nxdomain", st.nxdomain)
        .ev("longest_label", st.longest_label as u64)
        .ev("mean_entropy", round3(mean_entropy))
        .ev("mean_name_bytes", round3(share(st.name_bytes, st.queries)))
        .ev(
            "names_sample",
            st.sample.0.iter().cloned().collect::<Vec<String>>(),
        )
        .ev("min_unique_subdomains", cfg.tunnel_min_unique as u64)
        .ev("min_suspicious_ratio", cfg.tunnel_min_suspicious_ratio)
        .ev("min_txt_null_ratio", cfg.tunnel_min_txt_ratio)
        .ev("long_label", cfg.long_label as u64)
        .ev("min_entropy", cfg.min_entropy)
        .ev("window_secs", cfg.window_secs)
        .ev("saturated", st.subdomains.saturated());
    v.window_evidence(&s, close);
    v.severity = Severity::High;
    *findings += 1;
    out.push(v.into_event());
    Some(unique as u64)
}

fn close_dga(
    cfg: &DnsConfig,
    src: &IpAddr,
    s: Slot<DgaState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    let nx = st.nx_names.len();
    let like = share(st.dga_like, nx as u64);
    if nx < cfg.dga_min_nxdomain
        || st.parents.len() < cfg.dga_min_parents
        || like < cfg.dga_min_like_ratio
    {
        return None;
    }
    let mut v = Verdict::for_window(Detector::DnsDga, "host", src.to_string(), &s);
    v.title = format!("DGA-like NXDOMAIN burst from {src}: {nx} names");
    v.desc = format!(
        "{src} got NXDOMAIN for {nx} distinct names under {} parents in {} s, {} of them DGA-like; thresholds: at least {} names, {} parents, DGA-like share at least {}",
        st.parents.len(),
        secs(s.last - s.first),
        st.dga_like,
        cfg.dga_min_nxdomain,
        cfg.dga_min_parents,
        cfg.dga_min_like_ratio
    );
    v.src = Some(host(*src));
    v.dst = st.resolver.clone();
    v.connection_info = st.first_flow.clone();
    v.ev("nxdomain_names", nx as u64)
        .ev("distinct_parents", st.parents.len() as u64)
        .ev("dga_like_names", st.dga_like)
        .ev("dga_like_ratio", round3(like))
        .ev(
            "names_sample",
            st.sample.0.iter().cloned().collect::<Vec<String>>(),
        )
        .ev("min_nxdomain", cfg.dga_min_nxdomain as u64)
        .ev("min_parents", cfg.dga_min_parents as u64)
        .ev("min_dga_like_ratio", cfg.dga_min_like_ratio)
        .ev("dga_label_min_len", cfg.dga_label_min_len as u64)
        .ev("dga_min_entropy", cfg.dga_min_entropy)
        .ev("window_secs", cfg.window_secs)
        .ev("saturated", st.nx_names.saturated());
    v.window_evidence(&s, close);
    v.severity = Severity::Medium;
    *findings += 1;
    out.push(v.into_event());
    Some(nx as u64)
}
