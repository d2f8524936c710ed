//! The site's own baseline, so that what everybody does is not evidence
//! against anybody:
//!
//! - the site's static-asset and referer shares (a site behind a CDN serves
//!   no assets; then nobody fetching them means nothing);
//! - requests per client-hour for each hour of the day (UTC), learned from
//!   the traffic itself, for the activity feature;
//! - hot paths: a path that at least `hot_min_clients` distinct clients
//!   (IP + user agent) first fetched within one minute is hot for that time
//!   (a flash sale, a link on a news site). Distinct clients per path per
//!   minute are counted in a count-min sketch (bounded, never under the
//!   true count); hot paths are kept with the time span they were hot in a
//!   bounded table (the one hot longest ago is dropped when full, counted).

use crate::sketch::{CountMin, TopK};

/// Width of the count-min sketch.
const CM_WIDTH: usize = 2048;
/// Hot paths remembered.
pub const HOT_PATHS: usize = 1024;

/// Site-wide counts.
#[derive(Debug)]
pub struct SiteBaseline {
    requests: u64,
    statics: u64,
    referers: u64,
    hour_requests: [f64; 24],
    hour_clients: [f64; 24],
    minute: i64,
    clients_per_path: CountMin<4, CM_WIDTH>,
    hot: foldhash::HashMap<u32, (i64, i64)>,
    hot_min_clients: u32,
    /// Hot paths forgotten because the table was full.
    pub hot_evictions: u64,
}

impl SiteBaseline {
    /// An empty baseline; a path is hot from `hot_min_clients` clients a
    /// minute.
    pub fn new(hot_min_clients: u32) -> Self {
        Self {
            requests: 0,
            statics: 0,
            referers: 0,
            hour_requests: [0.0; 24],
            hour_clients: [0.0; 24],
            minute: i64::MIN,
            clients_per_path: CountMin::default(),
            hot: foldhash::HashMap::default(),
            hot_min_clients: hot_min_clients.max(1),
            hot_evictions: 0,
        }
    }

    /// Count one request. `new_client_hour`: its IP + UA entity had no
    /// request yet in this clock hour; `new_client_path`: it had not
    /// fetched this path yet in its window.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        t_ns: i64,
        hour: i64,
        path_hash: u64,
        is_static: bool,
        has_referer: bool,
        new_client_hour: bool,
        new_client_path: bool,
    ) {
        self.requests += 1;
        self.statics += u64::from(is_static);
        self.referers += u64::from(has_referer);
        let h = hour.rem_euclid(24) as usize;
        if let Some(r) = self.hour_requests.get_mut(h) {
            *r += 1.0;
        }
        if new_client_hour {
            if let Some(c) = self.hour_clients.get_mut(h) {
                *c += 1.0;
            }
        }
        if !new_client_path || is_static {
            return;
        }
        let minute = t_ns.div_euclid(60_000_000_000);
        if minute > self.minute {
            self.minute = minute;
            self.clients_per_path.clear();
        }
        let clients = self.clients_per_path.add(path_hash);
        if clients >= self.hot_min_clients {
            self.mark_hot(TopK::<1>::key_of(path_hash), t_ns);
        }
    }

    fn mark_hot(&mut self, key: u32, t_ns: i64) {
        if let Some(span) = self.hot.get_mut(&key) {
            span.0 = span.0.min(t_ns);
            span.1 = span.1.max(t_ns);
            return;
        }
        if self.hot.len() >= HOT_PATHS {
            let oldest = self.hot.iter().min_by_key(|(_, s)| s.1).map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.hot.remove(&k);
                self.hot_evictions += 1;
            }
        }
        self.hot.insert(key, (t_ns, t_ns));
    }

    /// Whether the path with this top-k key was hot at some time within
    /// `[from, to]` widened by `margin_ns` on both sides.
    pub fn hot_during(&self, key: u32, from: i64, to: i64, margin_ns: i64) -> bool {
        self.hot.get(&key).is_some_and(|&(start, end)| {
            start.saturating_sub(margin_ns) <= to && end.saturating_add(margin_ns) >= from
        })
    }

    /// Paths currently remembered as hot.
    pub fn hot_paths(&self) -> usize {
        self.hot.len()
    }

    /// The site's static-asset share.
    pub fn static_share(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.statics as f64 / self.requests as f64
        }
    }

    /// The site's referer share.
    pub fn referer_share(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.referers as f64 / self.requests as f64
        }
    }

    /// Mean requests per client-hour at this hour of day, once 10
    /// client-hours are known.
    pub fn per_client_hour(&self, hour: i64) -> Option<f64> {
        let h = hour.rem_euclid(24) as usize;
        let clients = self.hour_clients.get(h).copied().unwrap_or(0.0);
        (clients >= 10.0).then(|| self.hour_requests.get(h).copied().unwrap_or(0.0) / clients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::hash_str;

    #[test]
    fn a_path_many_clients_fetch_in_a_minute_is_hot_for_that_time() {
        let mut b = SiteBaseline::new(20);
        let sale = hash_str("/sale");
        let key = TopK::<1>::key_of(sale);
        for i in 0..19 {
            b.observe(i * 1_000_000_000, 0, sale, false, true, true, true);
        }
        assert!(!b.hot_during(key, 0, i64::MAX, 0));
        b.observe(20_000_000_000, 0, sale, false, true, true, true);
        assert!(b.hot_during(key, 0, 30_000_000_000, 0));
        // Not hot long after, unless within the margin.
        assert!(!b.hot_during(key, 3_600_000_000_000, 3_700_000_000_000, 0));
        assert!(b.hot_during(key, 60_000_000_000, 70_000_000_000, 60_000_000_000));
        // The same client fetching again does not count.
        let mut solo = SiteBaseline::new(3);
        for i in 0..10 {
            solo.observe(i, 0, sale, false, false, false, i == 0);
        }
        assert_eq!(solo.hot_paths(), 0);
    }

    #[test]
    fn shares_and_hourly_baseline() {
        let mut b = SiteBaseline::new(20);
        for i in 0..40i64 {
            // 10 clients in hour 5, 4 requests each, half of them assets.
            b.observe(
                0,
                5,
                hash_str("/x"),
                i % 2 == 0,
                i % 4 == 0,
                i % 4 == 0,
                false,
            );
        }
        assert_eq!(b.static_share(), 0.5);
        assert_eq!(b.referer_share(), 0.25);
        assert_eq!(b.per_client_hour(5), Some(4.0));
        assert_eq!(b.per_client_hour(29), Some(4.0));
        assert_eq!(b.per_client_hour(6), None);
    }
}
