//! Scoring that explains itself: a multinomial logistic model over the
//! normalised features, with human as the reference class.
//!
//! For each bot class `c` (scraper, scanner, credential stuffing) the logit
//! is `L_c = b_c + Σᵢ w_{c,i} · x̃ᵢ · δᵢ`, with `x̃ᵢ ∈ [0, 1]` the normalised
//! feature ([`ModelConfig::normalize`]) and `δᵢ` its discount: `1 − crowd
//! share` for crowd-sensitive features, times `1 / k` for timing features
//! of an entity with `k` clients (see [`Feature`]). The human logit is 0,
//! and `P(c) = e^{L_c} / (1 + Σ_c' e^{L_c'})`. The class is human when
//! `P(human) ≥ human_min`, else the most probable bot class when its
//! probability is at least `bot_min`, else unknown.
//!
//! Every weight lives in [`ModelConfig`] (one vector of [`Feature::COUNT`]
//! weights and a bias per class, and a version number), so a learner can
//! fit them from labels and the running detector can reload them; each
//! verdict lists every feature with its value, scale, weight, discount and
//! contribution `w · x̃ · δ` to the decided class's logit.

use serde::{Deserialize, Serialize};

use crate::features::{Feature, FeatureValues};

/// Scales that map a raw feature onto `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scales {
    /// Requests per minute per client that count fully (`rate_rpm`).
    pub rate_rpm: f64,
    /// Peak requests per second per client that count fully (`peak_rps`).
    pub peak_rps: f64,
    /// robots.txt + sitemap hits that count fully.
    pub robots: f64,
    /// Login POSTs per client that count fully.
    pub login_attempts: f64,
    /// Backdoor, sensitive, admin or probe hits that count fully (each).
    pub attack_hits: f64,
    /// Page views per client that count fully (`session_depth`).
    pub session_depth: f64,
    /// Activity ratio against the hourly baseline that counts fully; the
    /// feature is `log2(a) / log2(scale)` (a client at or under the site's
    /// mean contributes nothing).
    pub activity: f64,
}

impl Scales {
    /// Defaults.
    pub const fn new() -> Self {
        Self {
            rate_rpm: 60.0,
            peak_rps: 4.0,
            robots: 1.0,
            login_attempts: 10.0,
            attack_hits: 3.0,
            session_depth: 100.0,
            activity: 16.0,
        }
    }
}

impl Default for Scales {
    fn default() -> Self {
        Self::new()
    }
}

/// One class's bias and weight vector (in [`Feature::ALL`] order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassModel {
    /// Bias `b_c` (the prior log-odds against human with no evidence).
    pub bias: f64,
    /// Weights `w_c`, one per feature.
    pub weights: Vec<f64>,
}

// Feature order: rate, peak, regularity, stability, path_gini, time_flatness,
// distinct, static_deficit, head, robots, 4xx, 404, referer_deficit,
// referer_inconsistency, ua_library, ua_empty, ua_crawler, ua_fake_crawler,
// ua_scanner, ua_bad_bot, ua_automation, ua_other, login_attempts,
// login_ratio, backdoor, sensitive, admin, probe, session_depth, activity.
const SCRAPER: [f64; Feature::COUNT] = [
    2.5, 1.5, 0.5, 1.5, 0.0, 1.0, 1.5, 3.0, 1.0, 1.0, 0.5, 0.0, 2.0, 2.5, 3.5, 3.0, 4.0, 8.0, 1.0,
    4.0, 4.0, 2.0, -2.0, -3.0, -2.0, -2.0, -1.0, -2.0, 2.0, 1.0,
];
const SCANNER: [f64; Feature::COUNT] = [
    0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 3.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.0, 6.0,
    1.0, 0.0, 0.5, 0.0, 0.0, 4.0, 4.0, 2.5, 4.0, 0.0, 0.0,
];
const STUFFING: [f64; Feature::COUNT] = [
    1.0, 0.5, 0.0, 0.5, 2.0, 0.0, 0.0, 0.5, 0.0, 0.0, 1.5, 0.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0,
    0.0, 1.0, 0.5, 5.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5,
];

/// The model: weights per bot class, scales, decision thresholds, version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Model version; a learner bumps it with every fit.
    pub version: u32,
    /// Feature scales.
    pub scales: Scales,
    /// Scraper bot.
    pub scraper: ClassModel,
    /// Attacker: vulnerability scanner.
    pub scanner: ClassModel,
    /// Attacker: credential stuffing.
    pub credential_stuffing: ClassModel,
    /// Human when `P(human)` is at least this.
    pub human_min: f64,
    /// A bot class when its probability is at least this (else unknown).
    pub bot_min: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            version: 1,
            scales: Scales::new(),
            scraper: ClassModel {
                bias: -6.0,
                weights: SCRAPER.to_vec(),
            },
            scanner: ClassModel {
                bias: -5.0,
                weights: SCANNER.to_vec(),
            },
            credential_stuffing: ClassModel {
                bias: -5.0,
                weights: STUFFING.to_vec(),
            },
            human_min: 0.5,
            bot_min: 0.5,
        }
    }
}

/// A model whose weight vectors have the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model class {class} has {got} weights, expected {expected} (one per feature)")]
pub struct ModelError {
    /// Which class.
    pub class: &'static str,
    /// Weights given.
    pub got: usize,
    /// Weights expected.
    pub expected: usize,
}

/// What an attacker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// Probing for vulnerabilities, backdoors, sensitive files.
    Scanner,
    /// Trying credentials on a login endpoint.
    CredentialStuffing,
}

/// The verdict's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "class", content = "subtype")]
pub enum Class {
    /// A person.
    Human,
    /// A crawler verified by address (rDNS or published ranges).
    GoodBot,
    /// A scraper or unverified crawler.
    Scraper,
    /// An attacker, with its subtype.
    Attacker(AttackKind),
    /// Evidence either way is too weak.
    Unknown,
}

impl Class {
    /// Stable name (`analytic.uid` is `bot:<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            Class::Human => "human",
            Class::GoodBot => "good_bot",
            Class::Scraper => "scraper",
            Class::Attacker(AttackKind::Scanner) => "scanner",
            Class::Attacker(AttackKind::CredentialStuffing) => "credential_stuffing",
            Class::Unknown => "unknown",
        }
    }
}

/// One feature's part in a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Feature name.
    pub feature: &'static str,
    /// Raw value (`None`: not enough data; contributes nothing).
    pub value: Option<f64>,
    /// The scale the value was divided by (1 for shares).
    pub scale: f64,
    /// Normalised value `x̃ ∈ [0, 1]`.
    pub normalized: f64,
    /// Weight in the explained class.
    pub weight: f64,
    /// Discount `δ` (crowd share and shared-client dilution).
    pub discount: f64,
    /// `weight · normalized · discount`.
    pub contribution: f64,
}

/// The model's output for one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// The decided class (before whitelist overrides).
    pub class: Class,
    /// `P(human)`, `P(scraper)`, `P(scanner)`, `P(credential_stuffing)`.
    pub probabilities: [f64; 4],
    /// Logits of the three bot classes.
    pub logits: [f64; 3],
    /// The class the contributions explain (the decided one, or the most
    /// probable bot class when human or unknown).
    pub explained: Class,
    /// Bias of the explained class.
    pub bias: f64,
    /// Every feature's contribution to the explained class's logit.
    pub contributions: Vec<Contribution>,
}

impl Score {
    /// The `n` largest positive contributions, largest first: the verdict's
    /// strongest evidence.
    pub fn strongest(&self, n: usize) -> Vec<&Contribution> {
        let mut top: Vec<_> = self
            .contributions
            .iter()
            .filter(|c| c.contribution > 0.0)
            .collect();
        top.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        top.truncate(n);
        top
    }
}

impl ModelConfig {
    /// Check the weight vectors' lengths.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (class, m) in self.classes() {
            if m.weights.len() != Feature::COUNT {
                return Err(ModelError {
                    class: class.name(),
                    got: m.weights.len(),
                    expected: Feature::COUNT,
                });
            }
        }
        Ok(())
    }

    fn classes(&self) -> [(Class, &ClassModel); 3] {
        [
            (Class::Scraper, &self.scraper),
            (Class::Attacker(AttackKind::Scanner), &self.scanner),
            (
                Class::Attacker(AttackKind::CredentialStuffing),
                &self.credential_stuffing,
            ),
        ]
    }

    /// The scale of a feature and its normalised value `x̃ ∈ [0, 1]`:
    /// `min(1, value / scale)` for rates and counts, the share itself for
    /// shares, `log2(a) / log2(scale)` for the activity ratio.
    pub fn normalize(&self, f: Feature, value: f64) -> (f64, f64) {
        let s = &self.scales;
        let scale = match f {
            Feature::Rate => s.rate_rpm,
            Feature::PeakRate => s.peak_rps,
            Feature::Robots => s.robots,
            Feature::LoginAttempts => s.login_attempts,
            Feature::Backdoor | Feature::Sensitive | Feature::Admin | Feature::Probe => {
                s.attack_hits
            }
            Feature::SessionDepth => s.session_depth,
            Feature::Activity => s.activity,
            _ => 1.0,
        };
        let x = if f == Feature::Activity {
            if value <= 1.0 || scale <= 1.0 {
                0.0
            } else {
                value.log2() / scale.log2()
            }
        } else if scale > 0.0 {
            value / scale
        } else {
            0.0
        };
        (
            scale,
            if x.is_finite() {
                x.clamp(0.0, 1.0)
            } else {
                0.0
            },
        )
    }

    /// Score one window. `crowd` is the share of the entity's requests that
    /// went to paths hot site-wide at the time; `clients` is `k`.
    pub fn score(&self, values: &FeatureValues, crowd: f64, clients: f64) -> Score {
        let crowd = crowd.clamp(0.0, 1.0);
        let k = clients.max(1.0);
        let mut normalized = [(0.0, 0.0, 0.0); Feature::COUNT];
        for (i, f) in Feature::ALL.iter().enumerate() {
            let (scale, x) = values.get(*f).map_or((1.0, 0.0), |v| self.normalize(*f, v));
            let mut discount = 1.0;
            if f.crowd_sensitive() {
                discount *= 1.0 - crowd;
            }
            if f.timing() {
                discount /= k;
            }
            if let Some(slot) = normalized.get_mut(i) {
                *slot = (scale, x, discount);
            }
        }
        let logit = |m: &ClassModel| {
            m.bias
                + m.weights
                    .iter()
                    .zip(normalized.iter())
                    .map(|(w, (_, x, d))| w * x * d)
                    .sum::<f64>()
        };
        let classes = self.classes();
        let logits = classes.map(|(_, m)| logit(m));
        // Softmax with human at 0, shifted by the max for stability.
        let max = logits.iter().copied().fold(0.0f64, f64::max);
        let human = (-max).exp();
        let exps = logits.map(|l| (l - max).exp());
        let total = human + exps.iter().sum::<f64>();
        let probabilities = [
            human / total,
            exps[0] / total,
            exps[1] / total,
            exps[2] / total,
        ];
        let (best, best_p) = (0..3)
            .map(|i| (i, probabilities[i + 1]))
            .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        let best_class = classes[best].0;
        let class = if probabilities[0] >= self.human_min {
            Class::Human
        } else if best_p >= self.bot_min {
            best_class
        } else {
            Class::Unknown
        };
        let model = classes[best].1;
        let contributions = Feature::ALL
            .iter()
            .zip(normalized.iter())
            .zip(model.weights.iter())
            .map(|((f, (scale, x, d)), w)| Contribution {
                feature: f.name(),
                value: values.get(*f),
                scale: *scale,
                normalized: *x,
                weight: *w,
                discount: *d,
                contribution: w * x * d,
            })
            .collect();
        Score {
            class,
            probabilities,
            logits,
            explained: best_class,
            bias: model.bias,
            contributions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(set: &[(Feature, f64)]) -> FeatureValues {
        let mut v = [None; Feature::COUNT];
        for (f, x) in set {
            v[*f as usize] = Some(*x);
        }
        FeatureValues {
            values: v,
            clients: 1.0,
            burstiness: None,
            static_share: 0.0,
            referer_share: 0.0,
        }
    }

    #[test]
    fn default_model_is_valid_and_bad_lengths_are_refused() {
        ModelConfig::default().validate().unwrap();
        let mut m = ModelConfig::default();
        m.scanner.weights.pop();
        let e = m.validate().unwrap_err();
        assert_eq!((e.class, e.got), ("scanner", Feature::COUNT - 1));
    }

    #[test]
    fn contributions_explain_the_logit_exactly() {
        let m = ModelConfig::default();
        let v = values(&[
            (Feature::Rate, 120.0),         // 120/60 → 1
            (Feature::StaticDeficit, 1.0),  // share
            (Feature::RefererDeficit, 0.5), // share
            (Feature::UaLibrary, 1.0),      // share
            (Feature::SessionDepth, 50.0),  // 50/100 → 0.5
        ]);
        let s = m.score(&v, 0.0, 1.0);
        assert_eq!(s.explained, Class::Scraper);
        assert_eq!(s.class, Class::Scraper);
        // L = −6 + 2.5·1 + 3·1 + 2·0.5 + 3.5·1 + 2·0.5 = 5.
        let sum: f64 = s.contributions.iter().map(|c| c.contribution).sum();
        assert!((s.bias + sum - 5.0).abs() < 1e-12);
        assert!((s.logits[0] - 5.0).abs() < 1e-12);
        let rate = s
            .contributions
            .iter()
            .find(|c| c.feature == "rate_rpm")
            .unwrap();
        assert_eq!(
            (rate.value, rate.scale, rate.normalized, rate.weight),
            (Some(120.0), 60.0, 1.0, 2.5)
        );
        assert_eq!(s.contributions.len(), Feature::COUNT);
        let p: f64 = s.probabilities.iter().sum();
        assert!((p - 1.0).abs() < 1e-12);
    }

    #[test]
    fn crowd_share_discounts_crowd_features_only() {
        let m = ModelConfig::default();
        let v = values(&[(Feature::Rate, 60.0), (Feature::UaLibrary, 1.0)]);
        let alone = m.score(&v, 0.0, 1.0);
        let crowd = m.score(&v, 0.75, 1.0);
        let c = |s: &Score, f: &str| {
            s.contributions
                .iter()
                .find(|c| c.feature == f)
                .unwrap()
                .contribution
        };
        assert!((c(&crowd, "rate_rpm") - 0.25 * c(&alone, "rate_rpm")).abs() < 1e-12);
        assert_eq!(c(&crowd, "ua_library"), c(&alone, "ua_library"));
        // Timing features are divided by the clients behind the entity.
        let t = values(&[(Feature::Stability, 1.0)]);
        let shared = m.score(&t, 0.0, 4.0);
        let st = shared
            .contributions
            .iter()
            .find(|c| c.feature == "rhythm_stability")
            .unwrap();
        assert_eq!(st.discount, 0.25);
        assert_eq!(st.contribution, st.weight * 0.25);
    }

    #[test]
    fn normalisation_by_hand() {
        let m = ModelConfig::default();
        assert_eq!(m.normalize(Feature::Rate, 30.0), (60.0, 0.5));
        assert_eq!(m.normalize(Feature::Probe, 9.0), (3.0, 1.0));
        // log2(4)/log2(16) = 0.5; under the mean: 0.
        assert_eq!(m.normalize(Feature::Activity, 4.0), (16.0, 0.5));
        assert_eq!(m.normalize(Feature::Activity, 0.5), (16.0, 0.0));
    }

    #[test]
    fn no_evidence_is_human_and_weak_evidence_unknown() {
        let m = ModelConfig::default();
        assert_eq!(m.score(&values(&[]), 0.0, 1.0).class, Class::Human);
        // Scraper logit −6 + 4 (crawler) + 2 (referer deficit) = 0 → P(human)=P(scraper)≈0.5.
        let v = values(&[(Feature::UaCrawler, 1.0), (Feature::RefererDeficit, 1.0)]);
        let s = m.score(&v, 0.0, 1.0);
        assert_eq!(s.class, Class::Unknown, "{:?}", s.probabilities);
    }
}
