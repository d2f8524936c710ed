//! The random choices: one seeded, portable PRNG and the distributions the traffic model
//! draws from (exponential gaps, log-normal think times and sizes, jittered rhythms,
//! weighted picks).

use rand::{RngExt, SeedableRng};

/// The generator's PRNG. Xoshiro256++ is documented by `rand` as portable and
/// reproducible, which is what "same seed, same log" needs.
pub(crate) type Rng = rand::rngs::Xoshiro256PlusPlus;

/// A PRNG for `seed`, with `stream` selecting an independent sequence (one per scenario,
/// so adding a scenario does not change the others).
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

/// Uniform index below `len` (0 when `len` is 0).
pub(crate) fn index(rng: &mut Rng, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        rng.random_range(0..len)
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

/// Log-normal with the given median and shape, clamped to `lo..=hi`: heavy-tailed, the
/// shape of human think times and of file sizes.
pub(crate) fn lognormal(rng: &mut Rng, median: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
    (median * (sigma * normal(rng)).exp()).clamp(lo, hi.max(lo))
}

/// `base` with a uniform relative jitter of `±spread` (0.1 = ±10 %): the regular rhythm
/// of a scripted client.
pub(crate) fn jitter(rng: &mut Rng, base: f64, spread: f64) -> f64 {
    base * (1.0 + spread * (2.0 * unit(rng) - 1.0))
}

/// One element of a slice; `None` when it is empty.
pub(crate) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> Option<&'a T> {
    items.get(index(rng, items.len()))
}

/// One value of a non-empty table of (value, weight).
pub(crate) fn weighted<T: Copy>(rng: &mut Rng, items: &[(T, u32)]) -> Option<T> {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for &(value, weight) in items {
        if roll < weight {
            return Some(value);
        }
        roll -= weight;
    }
    items.last().map(|(value, _)| *value)
}

/// A random lowercase hex string of `len` characters (session cookies).
pub(crate) fn hex(rng: &mut Rng, len: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(DIGITS[index(rng, 16)]))
        .collect()
}

/// Seconds (as f64) to milliseconds.
pub(crate) fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e3) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_is_heavy_tailed_and_clamped() {
        let mut r = rng(7, 1);
        let draws: Vec<f64> = (0..20_000)
            .map(|_| lognormal(&mut r, 10.0, 1.2, 1.0, 1000.0))
            .collect();
        let mut sorted = draws.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let p99 = sorted[sorted.len() * 99 / 100];
        assert!((8.0..12.0).contains(&median), "median {median}");
        // A log-normal with sigma 1.2 has p99 / median = e^(2.33 * 1.2) ≈ 16.
        assert!(p99 / median > 10.0, "p99 {p99} median {median}");
        assert!(draws.iter().all(|d| (1.0..=1000.0).contains(d)));
    }

    #[test]
    fn weighted_follows_the_weights() {
        let mut r = rng(3, 2);
        let table = [("a", 1), ("b", 3)];
        let b = (0..10_000)
            .filter(|_| weighted(&mut r, &table) == Some("b"))
            .count();
        assert!((7_000..8_000).contains(&b), "{b}");
        assert_eq!(weighted::<u8>(&mut r, &[]), None);
    }
}
