//! Fixed-size summaries the bot features are computed from: a distinct-value
//! bitmap (linear counting, also a membership filter), a space-saving top-k
//! of path counts, a ring of per-time-bucket counts, a running mean and
//! variance, the Gini coefficient, and a count-min sketch for the site-wide
//! hot-path table.
//!
//! Every type here has a size fixed at compile time and never allocates, so
//! a tracked entity's memory is bounded whatever its traffic. They are
//! hand-written because each is a few lines tuned to this use (e.g. the
//! bitmap doubles as the referer-consistency filter) and the well-known
//! crates for them either allocate per sketch or bring in far more.

use std::hash::BuildHasher;

/// Hash a string with a fixed seed (same value every run, so estimates are
/// reproducible).
#[inline]
pub fn hash_str(s: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed_b07d_e7ec_7000).hash_one(s)
}

/// Gini coefficient of non-negative counts, over exactly `slots` slots (the
/// given counts padded with zeros; counts past `slots` are ignored):
///
/// `G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2 · n² · μ)`, computed from the ascending order
/// as `G = 2 · Σᵢ i·x₍ᵢ₎ / (n · Σ x) − (n + 1) / n` with `i` from 1.
///
/// 0 when every slot holds the same count (or there is nothing), up to
/// `(n − 1) / n` when one slot holds everything.
pub fn gini(counts: &[u32], slots: usize) -> f64 {
    let mut sorted = [0u32; 64];
    let n = slots.min(sorted.len());
    if n < 2 {
        return 0.0;
    }
    for (slot, &c) in sorted.iter_mut().zip(counts.iter().take(n)) {
        *slot = c;
    }
    let sorted = &mut sorted[..n];
    sorted.sort_unstable();
    let total: f64 = sorted.iter().map(|&c| f64::from(c)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &c)| (i as f64 + 1.0) * f64::from(c))
        .sum();
    let n = n as f64;
    (2.0 * weighted / (n * total) - (n + 1.0) / n).max(0.0)
}

/// A bitmap of `64 · W` bits: linear counting of distinct values and an
/// approximate membership filter (one hash, one bit; false positives at the
/// fill ratio, no false negatives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bitmap<const W: usize> {
    words: [u64; W],
}

impl<const W: usize> Default for Bitmap<W> {
    fn default() -> Self {
        Self { words: [0; W] }
    }
}

impl<const W: usize> Bitmap<W> {
    const BITS: u64 = 64 * W as u64;

    #[inline]
    fn slot(hash: u64) -> (usize, u64) {
        // The high bits pick the bit so that the low bits, already used by
        // hash tables, stay independent.
        let bit = (hash >> 32) % Self::BITS;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    /// Set the value's bit; true when it was not set before (a value most
    /// likely not seen yet).
    #[inline]
    pub fn insert(&mut self, hash: u64) -> bool {
        let (word, mask) = Self::slot(hash);
        match self.words.get_mut(word) {
            Some(w) => {
                let new = *w & mask == 0;
                *w |= mask;
                new
            }
            None => false,
        }
    }

    /// Whether the value's bit is set (maybe seen; never wrong when false).
    #[inline]
    pub fn contains(&self, hash: u64) -> bool {
        let (word, mask) = Self::slot(hash);
        self.words.get(word).is_some_and(|w| w & mask != 0)
    }

    /// Set bits.
    pub fn ones(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Linear-counting estimate of the distinct values inserted:
    /// `d̂ = −m · ln(z / m)` with `m` bits and `z` zero bits; when every bit
    /// is set, `m · ln m` (the estimate's saturation point).
    pub fn estimate(&self) -> f64 {
        let m = Self::BITS as f64;
        let zeros = m - f64::from(self.ones());
        if zeros <= 0.0 {
            m * m.ln()
        } else {
            -m * (zeros / m).ln()
        }
    }

    /// Merge another bitmap into this one (set union).
    pub fn union(&mut self, other: &Self) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }
}

/// Space-saving top-`K` counts of hashed values (Metwally et al.): a value
/// already tracked is incremented; a new one takes a free slot, or replaces
/// the smallest count `c_min` and starts at `c_min + 1`. Counts of tracked
/// values are exact until the first replacement, then over-estimates by at
/// most `c_min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopK<const K: usize> {
    keys: [u32; K],
    counts: [u32; K],
}

impl<const K: usize> Default for TopK<K> {
    fn default() -> Self {
        Self {
            keys: [0; K],
            counts: [0; K],
        }
    }
}

impl<const K: usize> TopK<K> {
    /// Count one occurrence of the value with this hash.
    #[inline]
    pub fn add(&mut self, hash: u64) {
        // Key 0 marks a free slot; fold a real 0 onto 1.
        let key = (hash as u32).max(1);
        let mut min_slot = 0;
        let mut min = u32::MAX;
        for i in 0..K {
            let (k, c) = (self.keys[i], self.counts[i]);
            if k == key {
                self.counts[i] = c.saturating_add(1);
                return;
            }
            if k == 0 {
                self.keys[i] = key;
                self.counts[i] = 1;
                return;
            }
            if c < min {
                min = c;
                min_slot = i;
            }
        }
        self.keys[min_slot] = key;
        self.counts[min_slot] = min.saturating_add(1);
    }

    /// The tracked counts (0 for free slots).
    pub fn counts(&self) -> &[u32; K] {
        &self.counts
    }

    /// Tracked (key, count) pairs; the key is the low 32 bits of the hash
    /// (folded from 0 to 1).
    pub fn entries(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.keys
            .iter()
            .zip(self.counts.iter())
            .filter(|(k, _)| **k != 0)
            .map(|(k, c)| (*k, *c))
    }

    /// A lower bound on the true count of the most frequent tracked value:
    /// its count minus the smallest count when every slot is taken (the
    /// most a replacement can have over-counted it), else its exact count.
    pub fn top_lower_bound(&self) -> u32 {
        let max = self.counts.iter().copied().max().unwrap_or(0);
        let full = self.keys.iter().all(|k| *k != 0);
        let min = if full {
            self.counts.iter().copied().min().unwrap_or(0)
        } else {
            0
        };
        max.saturating_sub(min)
    }

    /// The key a hash is tracked under.
    pub fn key_of(hash: u64) -> u32 {
        (hash as u32).max(1)
    }
}

/// Requests per time bucket over the last `N` buckets of event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRing<const N: usize> {
    counts: [u16; N],
    /// Index (time / width) of the newest bucket; `i64::MIN` when empty.
    newest: i64,
    /// Index of the first bucket ever counted.
    first: i64,
}

impl<const N: usize> Default for BucketRing<N> {
    fn default() -> Self {
        Self {
            counts: [0; N],
            newest: i64::MIN,
            first: i64::MIN,
        }
    }
}

impl<const N: usize> BucketRing<N> {
    /// Count one request in bucket `index`. Buckets older than the ring
    /// holds are folded into its oldest bucket (late records).
    #[inline]
    pub fn add(&mut self, index: i64) {
        let n = N as i64;
        if self.newest == i64::MIN {
            self.newest = index;
            self.first = index;
        } else if index > self.newest {
            let gap = (index - self.newest).min(n);
            for step in 1..=gap {
                let slot = (self.newest + step).rem_euclid(n) as usize;
                if let Some(c) = self.counts.get_mut(slot) {
                    *c = 0;
                }
            }
            self.newest = index;
        }
        let oldest = self.newest - n + 1;
        let index = index.max(oldest).max(self.first);
        self.first = self.first.min(index);
        let slot = index.rem_euclid(n) as usize;
        if let Some(c) = self.counts.get_mut(slot) {
            *c = c.saturating_add(1);
        }
    }

    /// The counts of the buckets from the first counted (or the oldest the
    /// ring holds) to the newest, in time order, into `out`; returns how
    /// many.
    pub fn span(&self, out: &mut [u32; N]) -> usize {
        if self.newest == i64::MIN {
            return 0;
        }
        let n = N as i64;
        let start = self.first.max(self.newest - n + 1);
        let len = (self.newest - start + 1) as usize;
        for (k, o) in out.iter_mut().enumerate().take(len) {
            let slot = (start + k as i64).rem_euclid(n) as usize;
            *o = self.counts.get(slot).map_or(0, |&c| u32::from(c));
        }
        len
    }

    /// The largest bucket count in the ring.
    pub fn peak(&self) -> u32 {
        self.counts.iter().map(|&c| u32::from(c)).max().unwrap_or(0)
    }
}

/// Running mean and variance (Welford): after `n` values,
/// `mean = Σx / n` and `var = Σ(x − mean)² / n` (population variance).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Add one value.
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.n = self.n.saturating_add(1);
        let delta = x - self.mean;
        self.mean += delta / f64::from(self.n);
        self.m2 += delta * (x - self.mean);
    }

    /// Values added.
    pub fn count(&self) -> u32 {
        self.n
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Population standard deviation (0 when empty).
    pub fn std_dev(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            (self.m2 / f64::from(self.n)).max(0.0).sqrt()
        }
    }
}

/// Count-min sketch: `D` rows of `W` counters; `add` increments one counter
/// per row, `estimate` is the minimum over the rows (never under the true
/// count, over it by at most `e·N/W` with probability `1 − e^−D`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountMin<const D: usize, const W: usize> {
    rows: Box<[[u32; W]; D]>,
}

impl<const D: usize, const W: usize> Default for CountMin<D, W> {
    fn default() -> Self {
        Self {
            rows: Box::new([[0; W]; D]),
        }
    }
}

impl<const D: usize, const W: usize> CountMin<D, W> {
    #[inline]
    fn col(hash: u64, row: usize) -> usize {
        // Double hashing: h1 + row·h2, the standard way to get D indices.
        let h1 = hash as u32 as u64;
        let h2 = (hash >> 32) | 1;
        (h1.wrapping_add((row as u64).wrapping_mul(h2)) % W as u64) as usize
    }

    /// Add one to the value's counters; returns the new estimate.
    pub fn add(&mut self, hash: u64) -> u32 {
        let mut est = u32::MAX;
        for (row, counters) in self.rows.iter_mut().enumerate() {
            if let Some(c) = counters.get_mut(Self::col(hash, row)) {
                *c = c.saturating_add(1);
                est = est.min(*c);
            }
        }
        if est == u32::MAX {
            0
        } else {
            est
        }
    }

    /// Estimated count of the value.
    pub fn estimate(&self, hash: u64) -> u32 {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(row, counters)| counters.get(Self::col(hash, row)).copied())
            .min()
            .unwrap_or(0)
    }

    /// Zero every counter.
    pub fn clear(&mut self) {
        for row in self.rows.iter_mut() {
            row.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_matches_hand_computed_values() {
        // Equal counts: 0.
        assert!(gini(&[3, 3, 3, 3], 4).abs() < 1e-12);
        // All in one of 4 slots: (n-1)/n = 0.75.
        assert!((gini(&[8], 4) - 0.75).abs() < 1e-12);
        // [1,2,3,4]: Σ|xi-xj| over ordered pairs = 20, 2·n²·μ = 2·16·2.5 = 80 → 0.25.
        assert!((gini(&[4, 1, 3, 2], 4) - 0.25).abs() < 1e-12);
        // Padding to 3 slots: [2,0,0] → 2/3.
        assert!((gini(&[2], 3) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(gini(&[5], 1), 0.0);
        assert_eq!(gini(&[], 4), 0.0);
    }

    #[test]
    fn bitmap_counts_distinct_values_and_remembers_them() {
        let mut b = Bitmap::<8>::default();
        for i in 0..100u64 {
            b.insert(hash_str(&format!("/page/{i}")));
        }
        for i in 0..100u64 {
            assert!(b.contains(hash_str(&format!("/page/{i}"))));
        }
        let est = b.estimate();
        assert!((85.0..115.0).contains(&est), "estimate {est}");
        // Re-inserting does not change the estimate.
        assert!(!b.insert(hash_str("/page/7")));
        assert_eq!(b.estimate(), est);
        // Hand case: one bit set in 512 → −512·ln(511/512) ≈ 1.0010.
        let mut one = Bitmap::<8>::default();
        one.insert(42 << 32);
        assert!((one.estimate() - 1.000_978).abs() < 1e-3);
    }

    #[test]
    fn topk_is_exact_until_full_then_replaces_the_smallest() {
        let mut t = TopK::<3>::default();
        assert_eq!(t.top_lower_bound(), 0);
        for h in [10u64, 10, 10, 20, 30, 30] {
            t.add(h);
        }
        let mut got: Vec<_> = t.entries().collect();
        got.sort();
        assert_eq!(got, vec![(10, 3), (20, 1), (30, 2)]);
        t.add(40); // replaces 20 (count 1) and starts at 2
        let mut got: Vec<_> = t.entries().collect();
        got.sort();
        assert_eq!(got, vec![(10, 3), (30, 2), (40, 2)]);
    }

    #[test]
    fn ring_keeps_the_last_buckets_in_order() {
        let mut r = BucketRing::<4>::default();
        for idx in [100, 100, 101, 103, 103, 103] {
            r.add(idx);
        }
        let mut out = [0; 4];
        let len = r.span(&mut out);
        assert_eq!(&out[..len], &[2, 1, 0, 3]);
        assert_eq!(r.peak(), 3);
        r.add(105); // drops 100 and 101
        let len = r.span(&mut out);
        assert_eq!(&out[..len], &[0, 3, 0, 1]);
        r.add(90); // late: folded into the oldest bucket held (102)
        let len = r.span(&mut out);
        assert_eq!(&out[..len], &[1, 3, 0, 1]);
    }

    #[test]
    fn moments_match_the_textbook_formula() {
        let mut m = Moments::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            m.add(x);
        }
        assert!((m.mean() - 5.0).abs() < 1e-12);
        assert!((m.std_dev() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn count_min_never_underestimates() {
        let mut cm = CountMin::<4, 64>::default();
        for i in 0..500u64 {
            cm.add(hash_str(&i.to_string()));
        }
        for _ in 0..30 {
            cm.add(hash_str("hot"));
        }
        assert!(cm.estimate(hash_str("hot")) >= 30);
        cm.clear();
        assert_eq!(cm.estimate(hash_str("hot")), 0);
    }
}
