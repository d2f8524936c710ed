//! Who talks: the internal clients (with their OS flavour and ephemeral ports), the
//! resolvers, the gateway, and the names and addresses of the servers on the Internet.
//!
//! A server's address is a hash of its name, so a name always resolves to, and is
//! contacted at, the same address across DNS answers and connections.

use crate::dist::{between, chance, pick, Rng};

/// An IP address of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ip {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

/// One side of a flow: address and the MAC it is seen with on the capture link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub ip: Ip,
    pub mac: [u8; 6],
    pub port: u16,
}

/// The TCP/IP stack flavour of a client, which shapes its SYN options and TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    Linux,
    Windows,
    Mac,
}

/// An internal host.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub v4: [u8; 4],
    pub v6: Option<[u8; 16]>,
    pub mac: [u8; 6],
    pub os: Os,
    next_port: u16,
}

/// The site's hosts.
#[derive(Debug)]
pub(crate) struct Hosts {
    clients: Vec<Client>,
    /// MAC of the uplink router, the other end of every frame.
    pub gateway_mac: [u8; 6],
}

/// Number of internal clients.
const CLIENTS: usize = 4000;

/// Internal resolvers (IPv4).
pub(crate) const RESOLVERS_V4: [[u8; 4]; 2] = [[10, 0, 0, 53], [10, 0, 1, 53]];
/// Internal resolver (IPv6).
pub(crate) const RESOLVER_V6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
];
/// MAC of the resolvers' switch port as seen on the capture link.
pub(crate) const RESOLVER_MAC: [u8; 6] = [0x00, 0x50, 0x56, 0x8a, 0x11, 0x53];

/// Vendor prefixes of the clients' NICs.
const OUIS: [[u8; 3]; 6] = [
    [0x3c, 0x22, 0xfb],
    [0xa4, 0xc3, 0xf0],
    [0x00, 0x14, 0x22],
    [0xf0, 0x18, 0x98],
    [0x8c, 0x16, 0x45],
    [0x00, 0x50, 0x56],
];

impl Hosts {
    /// The site: a few thousand clients in 10.20.0.0/16 (60% dual-stack in 2001:db8:20::/48).
    pub(crate) fn new(rng: &mut Rng) -> Self {
        let clients = (0..CLIENTS)
            .map(|i| {
                let os = match between(rng, 0, 9) {
                    0..=5 => Os::Windows,
                    6..=7 => Os::Mac,
                    _ => Os::Linux,
                };
                let oui = *pick(rng, &OUIS);
                let v6 = chance(rng, 0.6).then(|| {
                    let mut a = [0u8; 16];
                    a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x20]);
                    a[6..8].copy_from_slice(&((i / 250) as u16).to_be_bytes());
                    crate::dist::fill(rng, &mut a[8..]);
                    a
                });
                let next_port = match os {
                    Os::Windows => between(rng, 49152, 60000) as u16,
                    Os::Linux => between(rng, 32768, 55000) as u16,
                    Os::Mac => between(rng, 49152, 60000) as u16,
                };
                Client {
                    v4: [10, 20, (i / 250) as u8, (i % 250 + 2) as u8],
                    v6,
                    mac: [
                        oui[0],
                        oui[1],
                        oui[2],
                        (i >> 8) as u8,
                        i as u8,
                        between(rng, 0, 255) as u8,
                    ],
                    os,
                    next_port,
                }
            })
            .collect();
        Self {
            clients,
            gateway_mac: [0x00, 0x1b, 0x17, 0x00, 0x01, 0x10],
        }
    }

    /// A client, the busy ones more often (a quarter of the hosts make half the flows).
    pub(crate) fn client(&mut self, rng: &mut Rng) -> &mut Client {
        let n = self.clients.len();
        let index = if chance(rng, 0.5) {
            between(rng, 0, (n / 4 - 1) as u64) as usize
        } else {
            between(rng, 0, (n - 1) as u64) as usize
        };
        &mut self.clients[index % n]
    }
}

impl Client {
    /// The next ephemeral port: sequential (as Windows and macOS allocate them), wrapping
    /// within the OS's range; far more ports than any client uses in a capture.
    pub(crate) fn ephemeral_port(&mut self, rng: &mut Rng) -> u16 {
        let port = self.next_port;
        let (lo, hi) = match self.os {
            Os::Linux => (32768u16, 60999u16),
            Os::Windows | Os::Mac => (49152, 65535),
        };
        let step = if self.os == Os::Linux {
            between(rng, 1, 7) as u16
        } else {
            1
        };
        self.next_port = if port >= hi - step { lo } else { port + step };
        port
    }

    /// Initial TTL / hop limit of the OS (the client is one hop from the capture point).
    pub(crate) fn ttl(&self) -> u8 {
        match self.os {
            Os::Windows => 127,
            Os::Linux | Os::Mac => 63,
        }
    }
}

/// FNV-1a: a stable hash of a name (not for security: it spreads server addresses).
pub(crate) fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Public prefixes the servers live in (a few large hosting and CDN networks).
const V4_PREFIXES: [[u8; 2]; 12] = [
    [23, 52],
    [104, 16],
    [104, 18],
    [142, 250],
    [151, 101],
    [13, 107],
    [52, 84],
    [20, 190],
    [172, 217],
    [185, 199],
    [199, 232],
    [34, 120],
];
const V6_PREFIXES: [[u8; 4]; 5] = [
    [0x26, 0x06, 0x47, 0x00],
    [0x2a, 0x00, 0x14, 0x50],
    [0x26, 0x20, 0x01, 0xec],
    [0x2a, 0x04, 0x4e, 0x42],
    [0x26, 0x00, 0x1f, 0x18],
];

/// The IPv4 address of server `name`, or of its `index`-th address.
pub(crate) fn server_v4(name: &str, index: u64) -> [u8; 4] {
    let h = name_hash(name).wrapping_add(index.wrapping_mul(0x9E37_79B9));
    let prefix = V4_PREFIXES[(h % V4_PREFIXES.len() as u64) as usize];
    [
        prefix[0],
        prefix[1],
        (h >> 16) as u8,
        ((h >> 24) as u8).clamp(1, 254),
    ]
}

/// The IPv6 address of server `name`, or of its `index`-th address.
pub(crate) fn server_v6(name: &str, index: u64) -> [u8; 16] {
    let h = name_hash(name).wrapping_add(index.wrapping_mul(0x9E37_79B9));
    let prefix = V6_PREFIXES[(h % V6_PREFIXES.len() as u64) as usize];
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&prefix);
    a[4..12].copy_from_slice(&h.to_be_bytes());
    a[14..16].copy_from_slice(&((h >> 40) as u16 | 1).to_be_bytes());
    a
}

/// Hostnames that carry most of the traffic, busiest first.
pub(crate) const POPULAR: &[&str] = &[
    "www.google.com",
    "outlook.office365.com",
    "login.microsoftonline.com",
    "teams.microsoft.com",
    "graph.microsoft.com",
    "www.youtube.com",
    "i.ytimg.com",
    "fonts.gstatic.com",
    "fonts.googleapis.com",
    "apis.google.com",
    "update.googleapis.com",
    "clients2.google.com",
    "slack.com",
    "edgeapi.slack.com",
    "api.github.com",
    "github.com",
    "objects.githubusercontent.com",
    "s3.amazonaws.com",
    "d1x2y3z4w5.cloudfront.net",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "ajax.googleapis.com",
    "www.linkedin.com",
    "static.licdn.com",
    "zoom.us",
    "us05web.zoom.us",
    "www.salesforce.com",
    "login.salesforce.com",
    "app.hubspot.com",
    "www.dropbox.com",
    "content.dropboxapi.com",
    "api.dropboxapi.com",
    "www.bing.com",
    "settings-win.data.microsoft.com",
    "v10.events.data.microsoft.com",
    "self.events.data.microsoft.com",
    "go.microsoft.com",
    "www.wikipedia.org",
    "en.wikipedia.org",
    "upload.wikimedia.org",
    "www.example.com",
    "api.example.io",
    "cdn.example.net",
    "img.cdn.example.net",
    "static.cdn.example.net",
    "www.example.org",
    "accounts.google.com",
    "mail.google.com",
    "docs.google.com",
    "drive.google.com",
    "www.gstatic.com",
    "play.google.com",
    "firefox.settings.services.mozilla.com",
    "push.services.mozilla.com",
    "incoming.telemetry.mozilla.org",
    "www.apple.com",
    "gateway.icloud.com",
    "gsp-ssl.ls.apple.com",
    "mesu.apple.com",
    "time.apple.com",
    "api.segment.io",
    "browser-intake-datadoghq.com",
    "sentry.io",
    "o12345.ingest.sentry.io",
    "www.atlassian.com",
    "corp-example.atlassian.net",
    "api.atlassian.com",
    "registry.npmjs.org",
    "pypi.org",
    "files.pythonhosted.org",
    "index.docker.io",
    "registry-1.docker.io",
    "production.cloudflare.docker.com",
    "static.crates.io",
    "index.crates.io",
    "www.reddit.com",
    "www.nytimes.com",
    "www.bbc.co.uk",
    "news.ycombinator.com",
    "stackoverflow.com",
    "cdn.sstatic.net",
    "www.amazon.com",
    "m.media-amazon.com",
    "www.paypal.com",
    "www.netflix.com",
    "occ-0-1234-999.1.nflxso.net",
    "www.twitch.tv",
    "x.com",
    "abs.twimg.com",
];

/// Hostnames served in clear over HTTP (OS updates, OCSP/CRL, captive checks, package mirrors).
pub(crate) const HTTP_HOSTS: &[&str] = &[
    "www.msftconnecttest.com",
    "ctldl.windowsupdate.com",
    "download.windowsupdate.com",
    "ocsp.digicert.com",
    "ocsp.example-trust.net",
    "crl.example-trust.net",
    "crt.example-trust.net",
    "deb.debian.org",
    "security.debian.org",
    "archive.ubuntu.com",
    "security.ubuntu.com",
    "connectivity-check.ubuntu.com",
    "detectportal.firefox.com",
    "captive.apple.com",
    "www.example.com",
    "intranet-proxy.example.org",
    "neverssl.com",
    "ipv4.download.example.net",
    "mirror.example.edu",
    "www.example.org",
];

/// Domains used to build the rest of the names.
const BASES: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "cloudfront.net",
    "akamaiedge.net",
    "azureedge.net",
    "fastly.net",
    "amazonaws.com",
    "googleusercontent.com",
    "trafficmanager.net",
    "doubleclick.net",
    "googlesyndication.com",
    "adnxs.com",
    "criteo.com",
    "hotjar.com",
    "newrelic.com",
];

const PREFIXES: &[&str] = &[
    "www",
    "api",
    "cdn",
    "static",
    "img",
    "assets",
    "login",
    "auth",
    "telemetry",
    "metrics",
    "events",
    "edge",
    "media",
    "download",
    "files",
    "ws",
    "push",
    "beacon",
    "collector",
    "app",
];

/// The internal DNS zone (search domain).
pub(crate) const CORP_ZONE: &str = "corp.example.com";

/// A hostname a client looks up or connects to.
pub(crate) fn hostname(rng: &mut Rng) -> String {
    let roll = between(rng, 0, 99);
    if roll < 72 {
        // Zipf-like: the head of the list far more often than the tail.
        let u = crate::dist::unit(rng);
        let index = ((POPULAR.len() as f64) * u * u * u) as usize;
        POPULAR[index.min(POPULAR.len() - 1)].to_string()
    } else if roll < 92 {
        format!(
            "{}{}.{}",
            pick(rng, PREFIXES),
            between(rng, 1, 40),
            pick(rng, BASES)
        )
    } else {
        format!(
            "{:08x}.{}",
            between(rng, 0, u32::MAX as u64),
            pick(rng, BASES)
        )
    }
}

/// A name that does not exist: a search-domain suffix glued to a real name, WPAD, a typo,
/// a random probe (Chrome's) or an internal name that is gone.
pub(crate) fn nx_name(rng: &mut Rng) -> String {
    match between(rng, 0, 4) {
        0 => format!("{}.{CORP_ZONE}", hostname(rng)),
        1 => format!("wpad.{CORP_ZONE}"),
        2 => {
            let letters: String = (0..between(rng, 7, 15))
                .map(|_| char::from(b'a' + between(rng, 0, 25) as u8))
                .collect();
            letters
        }
        3 => format!(
            "{}.{}",
            pick(rng, &["gogle", "micosoft", "githb", "exmaple", "amazn"]),
            "com"
        ),
        _ => format!("ws{:04}.{CORP_ZONE}", between(rng, 1, 3000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_stable_per_name_and_public_looking() {
        assert_eq!(
            server_v4("www.google.com", 0),
            server_v4("www.google.com", 0)
        );
        assert_ne!(server_v4("www.google.com", 0), server_v4("slack.com", 0));
        let a = server_v4("api.github.com", 1);
        assert!(V4_PREFIXES.iter().any(|p| p[..] == a[..2]));
        assert!(a[3] != 0 && a[3] != 255);
        assert_eq!(server_v6("x.com", 0), server_v6("x.com", 0));
    }

    #[test]
    fn ephemeral_ports_stay_in_range_and_advance() {
        let mut rng = crate::dist::rng(1, 1);
        let mut hosts = Hosts::new(&mut rng);
        let client = hosts.client(&mut rng);
        let first = client.ephemeral_port(&mut rng);
        let second = client.ephemeral_port(&mut rng);
        assert_ne!(first, second);
        assert!(first >= 32768 && second >= 32768);
    }
}
