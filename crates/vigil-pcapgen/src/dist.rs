//! The random choices: one seeded, portable PRNG and the few distributions the traffic
//! model draws from (exponential gaps, log-normal sizes, weighted picks).

use rand::{RngExt, SeedableRng};

/// The generator's PRNG. Xoshiro256++ is documented by `rand` as portable and
/// reproducible, which is what "same seed, same bytes" needs.
pub(crate) type Rng = rand::rngs::Xoshiro256PlusPlus;

/// A PRNG for `seed`, with `stream` selecting an independent sequence.
pub(crate) fn rng(seed: u64, stream: u64) -> Rng {
    Rng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Uniform in [0, 1).
pub(crate) fn unit(rng: &mut Rng) -> f64 {
    rng.random::<f64>()
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut Rng, p: f64) -> bool {
    unit(rng) < p
}

/// Uniform integer in `lo..=hi`.
pub(crate) fn between(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// Exponentially distributed with the given mean.
pub(crate) fn exp(rng: &mut Rng, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// Standard normal (Box-Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and shape, clamped to `lo..=hi`.
pub(crate) fn lognormal(rng: &mut Rng, median: f64, sigma: f64, lo: u64, hi: u64) -> u64 {
    let value = median * (sigma * normal(rng)).exp();
    (value as u64).clamp(lo, hi.max(lo))
}

/// One element of a non-empty slice.
pub(crate) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    // Invariant: callers pass constant, non-empty tables.
    &items[rng.random_range(0..items.len())]
}

/// One value of a non-empty table of (value, weight).
pub(crate) fn weighted<T: Copy>(rng: &mut Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for &(value, weight) in items {
        if roll < weight {
            return value;
        }
        roll -= weight;
    }
    // Invariant: callers pass constant, non-empty tables.
    items[items.len() - 1].0
}

/// Seconds (as f64) to nanoseconds.
pub(crate) fn ns(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e9) as u64
}

/// Fills `out` with random bytes.
pub(crate) fn fill(rng: &mut Rng, out: &mut [u8]) {
    rng.fill(out);
}

/// `n` random bytes.
pub(crate) fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    fill(rng, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_streams_differ() {
        let a: Vec<u64> = (0..8)
            .map(|_| between(&mut rng(7, 0), 0, 1 << 40))
            .collect();
        let mut r1 = rng(7, 0);
        let mut r2 = rng(7, 0);
        let mut r3 = rng(7, 1);
        let s1: Vec<u64> = (0..8).map(|_| between(&mut r1, 0, 1 << 40)).collect();
        let s2: Vec<u64> = (0..8).map(|_| between(&mut r2, 0, 1 << 40)).collect();
        let s3: Vec<u64> = (0..8).map(|_| between(&mut r3, 0, 1 << 40)).collect();
        assert_eq!(s1, s2);
        assert_ne!(s1, s3);
        assert_eq!(a[0], s1[0]);
    }

    #[test]
    fn lognormal_median_is_roughly_right_and_clamped() {
        let mut r = rng(1, 2);
        let mut v: Vec<u64> = (0..2001)
            .map(|_| lognormal(&mut r, 1000.0, 1.0, 10, 50_000))
            .collect();
        v.sort_unstable();
        assert!((700..1400).contains(&v[1000]), "median {}", v[1000]);
        assert!(v[0] >= 10 && v[2000] <= 50_000);
    }

    #[test]
    fn weighted_respects_zero_weights() {
        let mut r = rng(3, 3);
        for _ in 0..1000 {
            assert_ne!(weighted(&mut r, &[(1, 0), (2, 5), (3, 1)]), 1);
        }
    }
}
