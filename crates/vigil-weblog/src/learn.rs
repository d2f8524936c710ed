//! Learning from the operator's labels: the feature vectors of judged
//! windows ([`FeatureLog`]), and the learner that refits the model's weights
//! and threshold from them ([`learn`], [`learn_in_dir`]).
//!
//! # Feature vectors
//!
//! For every verdict the analysis stores the vector the model saw:
//! `zᵢ = x̃ᵢ · δᵢ` for each feature of [`Feature::ALL`] (the normalised value
//! times its crowd and shared-client discount, see [`crate::score`]), so a
//! class's logit is exactly `b_c + w_c · z`. One JSON line per verdict in
//! `features.jsonl`:
//!
//! ```text
//! {"entity":"203.0.113.7","kind":"ip","class":"scraper","model_version":1,"first_ns":…,"last_ns":…,"requests":300,"z":[1.0,0.5,…]}
//! ```
//!
//! The file is append-only; past [`FeatureLog::max_bytes`] it is renamed to
//! `features.1.jsonl` (replacing the previous one), so the two together stay
//! bounded. Reading keeps the latest vector per (entity, window).
//!
//! # The learner
//!
//! Labels say bot or human, not which bot class, so the learner fits the
//! existing three-class model to the binary question it answers:
//! `P(bot) = 1 − P(human) = S / (1 + S)` with `S = Σ_c e^{L_c}`. It
//! minimises the (class-balanced) log loss of that probability against the
//! labels plus `λ · Σ_c ‖w_c − w⁰_c‖²`, an L2 penalty that pulls every weight
//! towards the current model's. This keeps the per-class structure (which
//! class explains a verdict, and so which decision it gets) and leaves the
//! weights of features the labels say nothing about where they were, while
//! moving the bot/human boundary where the labels disagree with it. A
//! separate bot-vs-human logistic model would throw the classes away; one
//! logistic model per class would need per-class labels the operator does
//! not give. The gradient of one sample's loss with respect to `L_c` is
//! `P(c) − y · e^{L_c}/S` (`y` = 1 for a bot), times `z` for the weights.
//!
//! It runs full-batch Adam for a fixed number of steps from the current
//! model: deterministic (same labels, same vectors, same seed → the same
//! model), and small (three classes × 31 parameters over at most a few
//! hundred thousand vectors), which is why it is hand-written rather than a
//! dependency on an ML crate. Then the human threshold (`human_min`) is set
//! to the value on a grid that maximises F1 on the training labels. Scales
//! are not learned: the stored vectors are already normalised.
//!
//! Labelled entities are split by a seeded hash of their subject into
//! training and held-back sets (`holdout` share), so the same entity is
//! never on both sides and the split is stable as labels are added.
//! Precision, recall and F1 for "bot" are reported on the held-back
//! labels for the current model and the new one, and the new model is
//! activated only when its F1 is not lower (or when forced). Vectors of
//! verified good bots are not used (their class comes from verification,
//! not from the model), nor are labels whose class is `good_bot`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decisions::Subject;
use crate::detector::Verdict;
use crate::features::Feature;
use crate::labels::{LabelSet, LabelStore, Truth};
use crate::score::{Class, ClassModel, ModelConfig};
use crate::store::{self, ModelStore, StoreError};

/// One judged window's feature vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureRecord {
    /// The subject (as in verdicts and labels).
    pub entity: Subject,
    /// Entity kind name (`ip`, `ip_ua`, `session`, `prefix`).
    pub kind: String,
    /// The verdict's class name.
    pub class: String,
    /// The model version that judged it.
    pub model_version: u32,
    /// First request, ns.
    pub first_ns: i64,
    /// Last request, ns.
    pub last_ns: i64,
    /// Requests in the window.
    pub requests: u32,
    /// `z`, one value per feature in [`Feature::ALL`] order.
    pub z: Vec<f64>,
}

impl FeatureRecord {
    /// The vector of a verdict.
    pub fn of(v: &Verdict) -> Self {
        let z = Feature::ALL
            .iter()
            .map(|f| {
                v.score
                    .contributions
                    .iter()
                    .find(|c| c.feature == f.name())
                    .map_or(0.0, |c| c.normalized * c.discount)
            })
            .collect();
        Self {
            entity: Subject::of(v),
            kind: v.entity.name().to_owned(),
            class: v.class.name().to_owned(),
            model_version: v.model_version,
            first_ns: v.first_ns,
            last_ns: v.last_ns,
            requests: v.requests,
            z,
        }
    }
}

/// Feature vectors as read.
#[derive(Debug, Clone, Default)]
pub struct FeatureSet {
    /// The latest vector per (entity, window), in file order.
    pub records: Vec<FeatureRecord>,
    /// Lines that did not parse or had the wrong length (skipped).
    pub bad_lines: u64,
    /// Vectors over the read limit (skipped).
    pub over_limit: u64,
}

/// The feature vectors of a data directory.
#[derive(Debug, Clone)]
pub struct FeatureLog {
    path: PathBuf,
    old: PathBuf,
    /// Size past which `features.jsonl` is rotated, bytes.
    pub max_bytes: u64,
    /// Most vectors read.
    pub max_records: usize,
}

impl FeatureLog {
    /// The feature log of data directory `dir` (64 MiB per file, at most
    /// 1 000 000 vectors read).
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(store::FEATURES_FILE),
            old: dir.join(store::FEATURES_OLD_FILE),
            max_bytes: 64 << 20,
            max_records: 1_000_000,
        }
    }

    /// Append the vectors of `verdicts` (one write); returns how many.
    pub fn store(&self, verdicts: &[Verdict]) -> Result<usize, StoreError> {
        if verdicts.is_empty() {
            return Ok(0);
        }
        if let Some(dir) = self.path.parent() {
            store::ensure_dir(dir)?;
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= self.max_bytes) {
            std::fs::rename(&self.path, &self.old)
                .map_err(|e| StoreError::io("rotating", &self.path, e))?;
        }
        let mut out = Vec::with_capacity(verdicts.len() * 400);
        for v in verdicts {
            serde_json::to_writer(&mut out, &FeatureRecord::of(v)).map_err(|e| {
                StoreError::Parse {
                    path: self.path.clone(),
                    line: 0,
                    message: e.to_string(),
                }
            })?;
            out.push(b'\n');
        }
        store::append_lines(&self.path, &out)?;
        Ok(verdicts.len())
    }

    /// Read both files (older first); the latest vector per (entity,
    /// window) is kept.
    pub fn load(&self) -> Result<FeatureSet, StoreError> {
        let mut set = FeatureSet::default();
        let mut index: HashMap<(Subject, i64, i64), usize> = HashMap::new();
        for path in [&self.old, &self.path] {
            let Some(bytes) = store::read_optional(path)? else {
                continue;
            };
            for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let r = match serde_json::from_slice::<FeatureRecord>(line) {
                    Ok(r) if r.z.len() == Feature::COUNT => r,
                    Ok(_) => {
                        set.bad_lines += 1;
                        continue;
                    }
                    Err(error) => {
                        set.bad_lines += 1;
                        tracing::warn!(file = %path.display(), line = i + 1, %error, "skipping unparsable feature vector");
                        continue;
                    }
                };
                let key = (r.entity.clone(), r.first_ns, r.last_ns);
                let full = set.records.len() >= self.max_records;
                match index.get(&key).and_then(|&i| set.records.get_mut(i)) {
                    Some(slot) => *slot = r,
                    None if full => set.over_limit += 1,
                    None => {
                        index.insert(key, set.records.len());
                        set.records.push(r);
                    }
                }
            }
        }
        Ok(set)
    }
}

/// Store the feature vectors of `verdicts` in data directory `dir` (the one
/// call the analysis makes); returns how many.
pub fn store_features(dir: &Path, verdicts: &[Verdict]) -> Result<usize, StoreError> {
    FeatureLog::new(dir).store(verdicts)
}

/// A labelled vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The subject's text (the split key).
    pub key: String,
    /// The vector.
    pub z: Vec<f64>,
    /// Labelled a bot.
    pub bot: bool,
}

/// The labelled vectors: each stored vector whose subject has a label,
/// except verified good bots' and `good_bot` labels.
pub fn join(features: &FeatureSet, labels: &LabelSet) -> Vec<Sample> {
    features
        .records
        .iter()
        .filter(|r| r.class != Class::GoodBot.name())
        .filter_map(|r| {
            let l = labels.get(&r.entity)?;
            if l.class.as_deref() == Some("good_bot") {
                return None;
            }
            Some(Sample {
                key: r.entity.to_string(),
                z: r.z.clone(),
                bot: l.label == Truth::Bot,
            })
        })
        .collect()
}

/// Learner settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnConfig {
    /// Share of labelled entities held back for the before/after figures.
    pub holdout: f64,
    /// Seed of the split.
    pub seed: u64,
    /// L2 strength `λ` (towards the current weights).
    pub l2: f64,
    /// Gradient steps.
    pub steps: u32,
    /// Adam step size.
    pub learning_rate: f64,
    /// Weigh bots and humans equally whatever their counts.
    pub balance: bool,
    /// Also set `human_min` from the training labels.
    pub tune_threshold: bool,
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            holdout: 0.2,
            seed: 1,
            l2: 0.001,
            steps: 1500,
            learning_rate: 0.05,
            balance: true,
            tune_threshold: true,
        }
    }
}

/// Precision, recall and F1 for "bot".
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Bots flagged.
    pub true_positives: u64,
    /// People flagged.
    pub false_positives: u64,
    /// Bots missed.
    pub false_negatives: u64,
    /// People left alone.
    pub true_negatives: u64,
}

impl Metrics {
    /// TP / (TP + FP), `None` when nothing was flagged.
    pub fn precision(&self) -> Option<f64> {
        let d = self.true_positives + self.false_positives;
        (d > 0).then(|| self.true_positives as f64 / d as f64)
    }

    /// TP / (TP + FN), `None` without bots.
    pub fn recall(&self) -> Option<f64> {
        let d = self.true_positives + self.false_negatives;
        (d > 0).then(|| self.true_positives as f64 / d as f64)
    }

    /// Harmonic mean of precision and recall (0 when either is missing
    /// or both are 0).
    pub fn f1(&self) -> f64 {
        match (self.precision(), self.recall()) {
            (Some(p), Some(r)) if p + r > 0.0 => 2.0 * p * r / (p + r),
            _ => 0.0,
        }
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }
}

fn classes(m: &ModelConfig) -> [&ClassModel; 3] {
    [&m.scraper, &m.scanner, &m.credential_stuffing]
}

fn logits(m: &ModelConfig, z: &[f64]) -> [f64; 3] {
    classes(m).map(|c| c.bias + c.weights.iter().zip(z).map(|(w, x)| w * x).sum::<f64>())
}

/// `P(human)` of a vector under a model (as [`ModelConfig::score`] computes it).
pub fn p_human(m: &ModelConfig, z: &[f64]) -> f64 {
    let l = logits(m, z);
    let max = l.iter().copied().fold(0.0f64, f64::max);
    let h = (-max).exp();
    h / (h + l.iter().map(|x| (x - max).exp()).sum::<f64>())
}

/// How a model does on samples: flagged when `P(human) < human_min`.
pub fn evaluate(m: &ModelConfig, samples: &[&Sample]) -> Metrics {
    let mut r = Metrics::default();
    for s in samples {
        let flagged = p_human(m, &s.z) < m.human_min;
        match (s.bot, flagged) {
            (true, true) => r.true_positives += 1,
            (false, true) => r.false_positives += 1,
            (true, false) => r.false_negatives += 1,
            (false, false) => r.true_negatives += 1,
        }
    }
    r
}

/// True when `key` goes to the held-back set.
pub fn held_back(key: &str, seed: u64, holdout: f64) -> bool {
    // FNV-1a of the key, mixed with the seed by splitmix64's finaliser.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut x = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((x >> 11) as f64 / (1u64 << 53) as f64) < holdout
}

/// Why learning could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    /// Not enough labelled vectors.
    #[error("{0}")]
    NotEnough(String),
    /// The data directory.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fit and how it compares.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// The new model (its `version` is the caller's to set).
    pub model: ModelConfig,
    /// Training vectors (bots, humans).
    pub train: (u64, u64),
    /// Held-back vectors (bots, humans).
    pub holdout: (u64, u64),
    /// The current model on the held-back vectors.
    pub before: Metrics,
    /// The new model on the held-back vectors.
    pub after: Metrics,
    /// The current model on the training vectors.
    pub train_before: Metrics,
    /// The new model on the training vectors.
    pub train_after: Metrics,
}

impl Fit {
    /// The new model does at least as well on the held-back labels.
    pub fn not_worse(&self) -> bool {
        self.after.f1() >= self.before.f1()
    }
}

/// Fit a new model from `current` and labelled `samples`.
pub fn learn(
    current: &ModelConfig,
    samples: &[Sample],
    config: &LearnConfig,
) -> Result<Fit, LearnError> {
    let (train, test): (Vec<&Sample>, Vec<&Sample>) = samples
        .iter()
        .partition(|s| !held_back(&s.key, config.seed, config.holdout));
    let count = |v: &[&Sample]| {
        let b = v.iter().filter(|s| s.bot).count() as u64;
        (b, v.len() as u64 - b)
    };
    let (tb, th) = count(&train);
    if tb == 0 || th == 0 {
        return Err(LearnError::NotEnough(format!(
            "training needs labelled bots and people with stored feature vectors; have {tb} bots and {th} people"
        )));
    }
    if test.is_empty() {
        return Err(LearnError::NotEnough(
            "no labelled vectors were held back; label more entities or raise --holdout".into(),
        ));
    }
    let model = fit(current, &train, config);
    Ok(Fit {
        train: (tb, th),
        holdout: count(&test),
        before: evaluate(current, &test),
        after: evaluate(&model, &test),
        train_before: evaluate(current, &train),
        train_after: evaluate(&model, &train),
        model,
    })
}

const P: usize = Feature::COUNT + 1;

/// Full-batch Adam on the balanced, L2-regularised log loss of P(bot).
fn fit(current: &ModelConfig, train: &[&Sample], config: &LearnConfig) -> ModelConfig {
    // θ[c] = [bias, w_0 … w_{F-1}] per class.
    let prior: [[f64; P]; 3] = classes(current).map(|c| {
        let mut t = [0.0; P];
        t[0] = c.bias;
        for (d, w) in t.iter_mut().skip(1).zip(&c.weights) {
            *d = *w;
        }
        t
    });
    let mut theta = prior;
    let (bots, people) =
        train.iter().fold(
            (0.0, 0.0),
            |(b, h), s| {
                if s.bot {
                    (b + 1.0, h)
                } else {
                    (b, h + 1.0)
                }
            },
        );
    let n = bots + people;
    let (wb, wh) = if config.balance {
        (n / (2.0 * bots), n / (2.0 * people))
    } else {
        (1.0, 1.0)
    };
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut m = [[0.0; P]; 3];
    let mut v = [[0.0; P]; 3];
    for step in 1..=config.steps {
        let mut grad = [[0.0; P]; 3];
        for s in train {
            let mut l = [0.0; 3];
            for (c, lc) in l.iter_mut().enumerate() {
                *lc = theta[c][0]
                    + theta[c]
                        .iter()
                        .skip(1)
                        .zip(&s.z)
                        .map(|(w, x)| w * x)
                        .sum::<f64>();
            }
            let max = l.iter().copied().fold(0.0f64, f64::max);
            let h = (-max).exp();
            let e = l.map(|x| (x - max).exp());
            let sum_e: f64 = e.iter().sum();
            let total = h + sum_e;
            let (y, weight) = if s.bot { (1.0, wb) } else { (0.0, wh) };
            for c in 0..3 {
                // ∂loss/∂L_c = P(c) − y · e^{L_c} / S.
                let g = weight * (e[c] / total - y * e[c] / sum_e.max(f64::MIN_POSITIVE)) / n;
                grad[c][0] += g;
                for (gi, x) in grad[c].iter_mut().skip(1).zip(&s.z) {
                    *gi += g * x;
                }
            }
        }
        let t = f64::from(step);
        for c in 0..3 {
            for i in 0..P {
                let mut g = grad[c][i];
                if i > 0 {
                    g += 2.0 * config.l2 * (theta[c][i] - prior[c][i]);
                }
                m[c][i] = b1 * m[c][i] + (1.0 - b1) * g;
                v[c][i] = b2 * v[c][i] + (1.0 - b2) * g * g;
                let mh = m[c][i] / (1.0 - b1.powf(t));
                let vh = v[c][i] / (1.0 - b2.powf(t));
                theta[c][i] -= config.learning_rate * mh / (vh.sqrt() + eps);
            }
        }
    }
    let mut out = current.clone();
    for (cm, t) in [
        &mut out.scraper,
        &mut out.scanner,
        &mut out.credential_stuffing,
    ]
    .into_iter()
    .zip(theta)
    {
        cm.bias = t[0];
        cm.weights = t[1..].to_vec();
    }
    if config.tune_threshold {
        let mut best = (evaluate(&out, train).f1(), 0.0f64);
        let base = out.human_min;
        for k in 1..20 {
            let h = f64::from(k) * 0.05;
            out.human_min = h;
            let f = evaluate(&out, train).f1();
            // Higher F1 wins; on a tie, the threshold nearer the old one.
            if f > best.0 + 1e-12 || (f >= best.0 - 1e-12 && (h - base).abs() < best.1.abs()) {
                best = (f, h - base);
            }
        }
        out.human_min = base + best.1;
    }
    out
}

/// What [`learn_in_dir`] did.
#[derive(Debug, Clone, Serialize)]
pub struct LearnReport {
    /// The fit and its figures.
    pub fit: Fit,
    /// The current model's version before.
    pub previous_version: u32,
    /// The new model's version.
    pub version: u32,
    /// Where it was written.
    pub path: PathBuf,
    /// Whether it is now the current model.
    pub activated: bool,
    /// Labels read (entities).
    pub labels: usize,
    /// Stored vectors read.
    pub vectors: usize,
}

/// Learn from the labels and vectors of data directory `dir`: write
/// `models/model-v{N}.json`, and make it current when it is not worse on the
/// held-back labels (or `force`).
pub fn learn_in_dir(
    dir: &Path,
    config: &LearnConfig,
    force: bool,
) -> Result<LearnReport, LearnError> {
    let labels = LabelStore::new(dir).load()?;
    let features = FeatureLog::new(dir).load()?;
    let samples = join(&features, &labels);
    let models = ModelStore::new(dir);
    let current = models.current()?.unwrap_or_default();
    let mut fit = learn(&current, &samples, config)?;
    let version = models.next_version(current.version)?;
    fit.model.version = version;
    let path = models.write(&fit.model)?;
    let activated = force || fit.not_worse();
    if activated {
        models.activate(version)?;
    }
    tracing::info!(
        version,
        activated,
        before_f1 = fit.before.f1(),
        after_f1 = fit.after.f1(),
        "model learned"
    );
    Ok(LearnReport {
        previous_version: current.version,
        version,
        path,
        activated,
        labels: labels.labels.len(),
        vectors: features.records.len(),
        fit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [0, 1).
    fn unit(i: u64, j: u64) -> f64 {
        let key = format!("{i}/{j}");
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Bots: fast, no assets, library user agent; people: the opposite;
    /// every other feature noise. Separable.
    fn dataset(n: u64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let bot = i % 3 == 0;
                let mut z: Vec<f64> = (0..Feature::COUNT as u64)
                    .map(|j| 0.3 * unit(i, j))
                    .collect();
                let strong = |j: u64| {
                    if bot {
                        0.6 + 0.4 * unit(i, 100 + j)
                    } else {
                        0.3 * unit(i, 200 + j)
                    }
                };
                z[Feature::Rate as usize] = strong(0);
                z[Feature::StaticDeficit as usize] = strong(1);
                z[Feature::UaLibrary as usize] = if bot { 1.0 } else { 0.0 };
                Sample {
                    key: format!("10.0.{}.{}", i / 250, i % 250),
                    z,
                    bot,
                }
            })
            .collect()
    }

    /// A model that has the signs backwards on exactly the features that matter.
    fn bad_model() -> ModelConfig {
        let mut m = ModelConfig::default();
        for c in [&mut m.scraper, &mut m.scanner, &mut m.credential_stuffing] {
            c.bias = 1.0;
            for f in [Feature::Rate, Feature::StaticDeficit, Feature::UaLibrary] {
                c.weights[f as usize] = -4.0;
            }
        }
        m
    }

    #[test]
    fn the_learner_fixes_a_bad_model_on_separable_data() {
        let data = dataset(600);
        let fit = learn(&bad_model(), &data, &LearnConfig::default()).unwrap();
        let (tb, th) = fit.train;
        let (hb, hh) = fit.holdout;
        assert_eq!(tb + th + hb + hh, 600);
        // About 20 % held back.
        assert!((90..=150).contains(&(hb + hh)), "{hb}+{hh}");
        assert!(fit.before.f1() < 0.6, "{:?}", fit.before);
        assert!(fit.after.precision().unwrap() >= 0.99, "{:?}", fit.after);
        assert!(fit.after.recall().unwrap() >= 0.99, "{:?}", fit.after);
        assert!(fit.after.f1() > fit.before.f1());
        assert!(fit.not_worse());
        // The features that separate got positive weights in some class.
        let m = &fit.model;
        let w = |f: Feature| {
            [&m.scraper, &m.scanner, &m.credential_stuffing]
                .iter()
                .map(|c| c.weights[f as usize])
                .fold(f64::MIN, f64::max)
        };
        assert!(w(Feature::UaLibrary) > 0.0);
        m.validate().unwrap();
    }

    #[test]
    fn learning_is_deterministic_and_the_seed_moves_the_split() {
        let data = dataset(300);
        let c = LearnConfig {
            steps: 200,
            ..LearnConfig::default()
        };
        let a = learn(&bad_model(), &data, &c).unwrap();
        let b = learn(&bad_model(), &data, &c).unwrap();
        assert_eq!(a.model, b.model);
        let other = learn(&bad_model(), &data, &LearnConfig { seed: 7, ..c }).unwrap();
        assert_ne!(a.holdout, other.holdout);
    }

    #[test]
    fn too_few_labels_is_an_error() {
        let data: Vec<Sample> = dataset(30).into_iter().filter(|s| s.bot).collect();
        let e = learn(&ModelConfig::default(), &data, &LearnConfig::default()).unwrap_err();
        assert!(e.to_string().contains("0 people"), "{e}");
    }

    #[test]
    fn metrics_by_hand() {
        let m = Metrics {
            true_positives: 8,
            false_positives: 2,
            false_negatives: 8,
            true_negatives: 82,
        };
        assert_eq!(m.precision(), Some(0.8));
        assert_eq!(m.recall(), Some(0.5));
        assert!((m.f1() - 2.0 * 0.4 / 1.3).abs() < 1e-12);
        assert_eq!(Metrics::default().f1(), 0.0);
    }

    #[test]
    fn p_human_matches_the_scorer() {
        let m = ModelConfig::default();
        let mut values = [None; Feature::COUNT];
        values[Feature::Rate as usize] = Some(45.0);
        values[Feature::UaLibrary as usize] = Some(1.0);
        values[Feature::Stability as usize] = Some(0.8);
        let fv = crate::features::FeatureValues {
            values,
            clients: 2.0,
            burstiness: None,
            static_share: 0.0,
            referer_share: 0.0,
        };
        let s = m.score(&fv, 0.25, 2.0);
        let z: Vec<f64> = Feature::ALL
            .iter()
            .map(|f| {
                let c = s
                    .contributions
                    .iter()
                    .find(|c| c.feature == f.name())
                    .unwrap();
                c.normalized * c.discount
            })
            .collect();
        assert!((p_human(&m, &z) - s.probabilities[0]).abs() < 1e-12);
    }

    #[test]
    fn a_worse_model_is_written_but_not_activated_unless_forced() {
        use crate::decisions::tests::verdict;
        use crate::labels::Label;
        let dir = tempfile::tempdir().unwrap();
        let models = ModelStore::new(dir.path());
        let config = LearnConfig::default();
        // Vectors where the current (default) model is right: bots with a
        // library user agent, fast, probing; people with nothing.
        let mut verdicts = Vec::new();
        let mut truth = Vec::new();
        for i in 0..200u32 {
            let bot = i % 2 == 0;
            let subject = format!("10.9.{}.{}", i / 200, i % 200);
            let mut v = verdict(&subject, Class::Scraper, 0.9, 0);
            if !bot {
                for c in &mut v.score.contributions {
                    c.normalized = 0.0;
                }
            }
            verdicts.push(v);
            truth.push((subject, bot));
        }
        assert_eq!(store_features(dir.path(), &verdicts).unwrap(), 200);
        let labels = |flip_training: bool| -> Vec<Label> {
            truth
                .iter()
                .map(|(s, bot)| {
                    let wrong = flip_training && !held_back(s, config.seed, config.holdout);
                    Label {
                        entity: s.parse().unwrap(),
                        label: if *bot != wrong {
                            Truth::Bot
                        } else {
                            Truth::Human
                        },
                        class: None,
                        at_ms: 1,
                        source: "test".into(),
                    }
                })
                .collect()
        };
        // Training labels backwards (an operator's mistake): the fit learns
        // them and does worse on the held-back (right) labels.
        LabelStore::new(dir.path()).append(&labels(true)).unwrap();
        let r = learn_in_dir(dir.path(), &config, false).unwrap();
        assert_eq!(r.version, 2);
        assert!(r.fit.before.f1() > 0.99, "{:?}", r.fit.before);
        assert!(r.fit.after.f1() < 0.5, "{:?}", r.fit.after);
        assert!(!r.activated);
        assert!(r.path.ends_with("models/model-v2.json") && r.path.is_file());
        assert_eq!(models.current_version().unwrap(), None);
        // Forced: activated, and the next fit gets the next version.
        let r = learn_in_dir(dir.path(), &config, true).unwrap();
        assert_eq!((r.version, r.activated), (3, true));
        assert_eq!(models.current_version().unwrap(), Some(3));
        // Labels corrected (appended, latest wins): the fit from the bad
        // model is better, so it is activated.
        LabelStore::new(dir.path()).append(&labels(false)).unwrap();
        let r = learn_in_dir(dir.path(), &config, false).unwrap();
        assert_eq!(r.previous_version, 3);
        assert!(
            r.fit.after.f1() > r.fit.before.f1(),
            "{:?} → {:?}",
            r.fit.before,
            r.fit.after
        );
        assert!(r.activated);
        assert_eq!(models.current_version().unwrap(), Some(4));
    }
}
