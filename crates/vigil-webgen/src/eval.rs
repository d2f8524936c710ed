//! Scoring a detector against the labels: precision, recall and F1 per class and for
//! "bots overall", and how many people the crowd scenarios got flagged.
//!
//! The input is deliberately the detector's plainest output, a list of [`Prediction`]s
//! (an entity key and a class), so any detector can be scored. Each labelled entity
//! (one line of the labels) gets an effective predicted class:
//!
//! - the predictions that cover it are those keyed by its session cookie, by its address
//!   and user agent (an absent user agent is the empty string), by its address, or by a
//!   network containing its address ([`EntityKey::Network`], e.g. a /24);
//! - the most specific of them that is not "human" wins (session, then address and user
//!   agent, then address, then the longest network): like enforcement, a ban on an
//!   address or network applies to everyone behind it, so a "human" verdict on a
//!   narrower key does not undo a ban on a wider one;
//! - no non-human prediction: human.
//!
//! A class's precision is TP / (TP + FP) over the entities predicted that class, its
//! recall TP / (TP + FN) over the entities labelled that class, F1 their harmonic mean.
//! "Bots overall" is the same with two classes: labelled anything but human, and
//! predicted anything but human ([`Class::Unknown`] counts as flagged: it is a finding).
//! Every label line weighs one; a low-and-slow scraper rotating 24 addresses and 6 user
//! agents has many lines, a person one.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::labels::{Class, Label};
use crate::lists::Cidr;

/// Who a verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntityKey {
    /// A client address.
    Ip(IpAddr),
    /// A client address with a user agent (empty for none).
    IpUserAgent(IpAddr, String),
    /// A session cookie value.
    Session(String),
    /// Every address of a network.
    Network {
        /// An address of the network.
        addr: IpAddr,
        /// Prefix length in bits (24 for a /24).
        prefix_len: u8,
    },
}

/// A detector's verdict on one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// Who.
    pub key: EntityKey,
    /// What the detector says it is.
    pub class: Class,
}

/// Precision, recall and F1 of one class (or of "bots overall").
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScore {
    /// Row name: the class name, or `bots overall`.
    pub name: String,
    /// Entities labelled this class.
    pub support: u64,
    /// Entities predicted this class.
    pub predicted: u64,
    /// Entities labelled and predicted this class.
    pub true_positives: u64,
}

impl ClassScore {
    /// TP / predicted; `None` when nothing was predicted this class.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.true_positives, self.predicted)
    }

    /// TP / support; `None` when nothing is labelled this class.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.true_positives, self.support)
    }

    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        })
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// How one scenario fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioScore {
    /// Scenario name.
    pub scenario: String,
    /// Its label class.
    pub class: Class,
    /// Entities.
    pub entities: u64,
    /// Entities predicted anything but human.
    pub flagged: u64,
    /// Entities predicted their labelled class.
    pub correct: u64,
}

/// The whole score.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// One row per labelled class ([`Class::LABELLED`] order).
    pub classes: Vec<ClassScore>,
    /// Any non-human class against human.
    pub bots: ClassScore,
    /// One row per scenario, by name.
    pub scenarios: Vec<ScenarioScore>,
}

impl Evaluation {
    /// People (human entities) flagged in `scenario`, and how many it has.
    pub fn people_flagged(&self, scenario: &str) -> (u64, u64) {
        self.scenarios
            .iter()
            .filter(|s| s.scenario == scenario && s.class == Class::Human)
            .fold((0, 0), |(f, t), s| (f + s.flagged, t + s.entities))
    }

    /// The score as markdown tables (for `BENCHMARKS.md`).
    pub fn markdown(&self) -> String {
        let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
        let mut out = String::from("| class | entities | predicted | true positives | precision | recall | F1 |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for row in self.classes.iter().chain([&self.bots]) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                row.name,
                row.support,
                row.predicted,
                row.true_positives,
                cell(row.precision()),
                cell(row.recall()),
                cell(row.f1())
            );
        }
        out.push_str(
            "\n| scenario | class | entities | flagged | right class |\n|---|---|---:|---:|---:|\n",
        );
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                s.scenario,
                s.class.name(),
                s.entities,
                s.flagged,
                s.correct
            );
        }
        for scenario in ["flash_sale", "nat_gateway"] {
            let (flagged, total) = self.people_flagged(scenario);
            let _ = writeln!(
                out,
                "\nPeople flagged in `{scenario}`: {flagged} of {total}."
            );
        }
        out
    }
}

/// The effective predicted class of every label, in order (see the module docs).
pub fn predicted_classes(labels: &[Label], predictions: &[Prediction]) -> Vec<Class> {
    let mut by_session: HashMap<&str, Class> = HashMap::new();
    let mut by_ip_ua: HashMap<(IpAddr, &str), Class> = HashMap::new();
    let mut by_ip: HashMap<IpAddr, Class> = HashMap::new();
    let mut networks: Vec<(Cidr, Class)> = Vec::new();
    // A non-human verdict replaces a human one for the same key; otherwise the first stays.
    fn keep<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Class>, key: K, class: Class) {
        let slot = map.entry(key).or_insert(class);
        if *slot == Class::Human {
            *slot = class;
        }
    }
    for p in predictions {
        match &p.key {
            EntityKey::Session(s) => keep(&mut by_session, s.as_str(), p.class),
            EntityKey::IpUserAgent(ip, ua) => keep(&mut by_ip_ua, (*ip, ua.as_str()), p.class),
            EntityKey::Ip(ip) => keep(&mut by_ip, *ip, p.class),
            EntityKey::Network { addr, prefix_len } => networks.push((
                Cidr {
                    addr: *addr,
                    len: *prefix_len,
                },
                p.class,
            )),
        }
    }
    networks.sort_by_key(|(cidr, _)| std::cmp::Reverse(cidr.len));
    labels
        .iter()
        .map(|label| {
            let session = label
                .session
                .as_deref()
                .and_then(|s| by_session.get(s))
                .copied();
            let ip_ua = by_ip_ua
                .get(&(label.ip, label.user_agent.as_deref().unwrap_or("")))
                .copied();
            let ip = by_ip.get(&label.ip).copied();
            let network = networks
                .iter()
                .filter(|(c, _)| c.contains(label.ip))
                .map(|(_, class)| *class)
                .find(|c| c.is_flagged());
            [session, ip_ua, ip, network]
                .into_iter()
                .flatten()
                .find(|c| c.is_flagged())
                .unwrap_or(Class::Human)
        })
        .collect()
}

/// Scores `predictions` against `labels`.
pub fn evaluate(labels: &[Label], predictions: &[Prediction]) -> Evaluation {
    let predicted = predicted_classes(labels, predictions);
    let score = |name: &str, truth: &dyn Fn(Class) -> bool, guess: &dyn Fn(Class) -> bool| {
        let mut row = ClassScore {
            name: name.to_owned(),
            support: 0,
            predicted: 0,
            true_positives: 0,
        };
        for (label, &p) in labels.iter().zip(&predicted) {
            let (t, g) = (truth(label.class), guess(p));
            row.support += u64::from(t);
            row.predicted += u64::from(g);
            row.true_positives += u64::from(t && g);
        }
        row
    };
    let classes = Class::LABELLED
        .iter()
        .map(|&c| score(c.name(), &|t| t == c, &|g| g == c))
        .collect();
    let bots = score("bots overall", &|t| t.is_flagged(), &|g| g.is_flagged());
    let mut scenarios: BTreeMap<(&str, Class), ScenarioScore> = BTreeMap::new();
    for (label, &p) in labels.iter().zip(&predicted) {
        let row = scenarios
            .entry((label.scenario.as_str(), label.class))
            .or_insert_with(|| ScenarioScore {
                scenario: label.scenario.clone(),
                class: label.class,
                entities: 0,
                flagged: 0,
                correct: 0,
            });
        row.entities += 1;
        row.flagged += u64::from(p.is_flagged());
        row.correct += u64::from(p == label.class);
    }
    Evaluation {
        classes,
        bots,
        scenarios: scenarios.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(
        actor: u32,
        ip: &str,
        ua: Option<&str>,
        session: Option<&str>,
        class: Class,
        scenario: &str,
    ) -> Label {
        Label {
            actor,
            ip: ip.parse().unwrap(),
            user_agent: ua.map(str::to_owned),
            session: session.map(str::to_owned),
            class,
            subtype: scenario.to_owned(),
            scenario: scenario.to_owned(),
            requests: 1,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn hand_computed_scores() {
        // 4 people (2 behind one gateway), 1 good bot, 3 scrapers, 2 attackers.
        let labels = vec![
            label(
                0,
                "10.0.0.1",
                Some("A"),
                Some("s0"),
                Class::Human,
                "browsing",
            ),
            label(
                1,
                "10.0.0.2",
                Some("B"),
                Some("s1"),
                Class::Human,
                "browsing",
            ),
            label(
                2,
                "10.0.0.9",
                Some("C"),
                Some("s2"),
                Class::Human,
                "nat_gateway",
            ),
            label(
                3,
                "10.0.0.9",
                Some("D"),
                Some("s3"),
                Class::Human,
                "nat_gateway",
            ),
            label(
                4,
                "66.249.87.1",
                Some("Googlebot"),
                None,
                Class::GoodBot,
                "verified_crawler",
            ),
            label(
                5,
                "45.0.0.1",
                Some("Googlebot"),
                None,
                Class::Scraper,
                "fake_crawler",
            ),
            label(
                6,
                "45.0.1.1",
                Some("X"),
                None,
                Class::Scraper,
                "low_and_slow_scraper",
            ),
            label(
                6,
                "45.0.1.2",
                Some("Y"),
                None,
                Class::Scraper,
                "low_and_slow_scraper",
            ),
            label(
                7,
                "45.0.2.1",
                None,
                None,
                Class::Attacker,
                "vulnerability_scan",
            ),
            label(
                8,
                "45.0.3.1",
                Some("python"),
                None,
                Class::Attacker,
                "credential_stuffing",
            ),
        ];
        let predictions = vec![
            // One person flagged by session; the other person's explicit human verdict.
            Prediction {
                key: EntityKey::Session("s1".into()),
                class: Class::Scraper,
            },
            Prediction {
                key: EntityKey::Ip(ip("10.0.0.1")),
                class: Class::Human,
            },
            // The gateway: one person flagged by address + user agent, not the other.
            Prediction {
                key: EntityKey::IpUserAgent(ip("10.0.0.9"), "C".into()),
                class: Class::Attacker,
            },
            Prediction {
                key: EntityKey::IpUserAgent(ip("66.249.87.1"), "Googlebot".into()),
                class: Class::GoodBot,
            },
            Prediction {
                key: EntityKey::Ip(ip("45.0.0.1")),
                class: Class::Attacker,
            },
            // The /24 ban covers both rotating addresses, despite a human verdict on one.
            Prediction {
                key: EntityKey::Network {
                    addr: ip("45.0.1.0"),
                    prefix_len: 24,
                },
                class: Class::Scraper,
            },
            Prediction {
                key: EntityKey::Ip(ip("45.0.1.2")),
                class: Class::Human,
            },
            // The scanner has no user agent: the empty string keys it.
            Prediction {
                key: EntityKey::IpUserAgent(ip("45.0.2.1"), String::new()),
                class: Class::Attacker,
            },
            Prediction {
                key: EntityKey::Ip(ip("45.0.3.1")),
                class: Class::Unknown,
            },
        ];
        let predicted = predicted_classes(&labels, &predictions);
        assert_eq!(
            predicted,
            [
                Class::Human,
                Class::Scraper,
                Class::Attacker,
                Class::Human,
                Class::GoodBot,
                Class::Attacker,
                Class::Scraper,
                Class::Scraper,
                Class::Attacker,
                Class::Unknown
            ]
        );
        let eval = evaluate(&labels, &predictions);
        let row = |name: &str| {
            eval.classes
                .iter()
                .find(|r| r.name == name)
                .unwrap()
                .clone()
        };
        // Human: labelled 4, predicted human 2 (entities 0 and 3), both right.
        let human = row("human");
        assert_eq!(
            (human.support, human.predicted, human.true_positives),
            (4, 2, 2)
        );
        assert_eq!(human.precision(), Some(1.0));
        assert_eq!(human.recall(), Some(0.5));
        assert!((human.f1().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // Scraper: labelled 3; predicted 3 (person s1 and both rotating addresses), 2 right.
        let scraper = row("scraper");
        assert_eq!(
            (scraper.support, scraper.predicted, scraper.true_positives),
            (3, 3, 2)
        );
        assert!((scraper.f1().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // Attacker: labelled 2; predicted 3 (gateway person, fake crawler, scanner), 1 right.
        let attacker = row("attacker");
        assert_eq!(
            (
                attacker.support,
                attacker.predicted,
                attacker.true_positives
            ),
            (2, 3, 1)
        );
        assert_eq!(attacker.precision(), Some(1.0 / 3.0));
        assert_eq!(attacker.recall(), Some(0.5));
        assert_eq!(row("good_bot").f1(), Some(1.0));
        // Bots overall: 6 bots, 8 flagged (6 bots + 2 people), all 6 bots flagged.
        assert_eq!(
            (
                eval.bots.support,
                eval.bots.predicted,
                eval.bots.true_positives
            ),
            (6, 8, 6)
        );
        assert_eq!(eval.bots.precision(), Some(0.75));
        assert_eq!(eval.bots.recall(), Some(1.0));
        assert!((eval.bots.f1().unwrap() - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(eval.people_flagged("nat_gateway"), (1, 2));
        assert_eq!(eval.people_flagged("flash_sale"), (0, 0));
        let md = eval.markdown();
        assert!(
            md.contains("| bots overall | 6 | 8 | 6 | 0.750 | 1.000 | 0.857 |"),
            "{md}"
        );
        assert!(
            md.contains("People flagged in `nat_gateway`: 1 of 2."),
            "{md}"
        );
    }

    #[test]
    fn no_predictions_means_everyone_is_human() {
        let labels = vec![
            label(0, "10.0.0.1", None, None, Class::Human, "flash_sale"),
            label(
                1,
                "45.0.0.1",
                None,
                None,
                Class::Attacker,
                "vulnerability_scan",
            ),
        ];
        let eval = evaluate(&labels, &[]);
        assert_eq!(eval.bots.precision(), None);
        assert_eq!(eval.bots.recall(), Some(0.0));
        assert_eq!(eval.bots.f1(), None);
        assert_eq!(eval.people_flagged("flash_sale"), (0, 1));
        assert!(eval
            .markdown()
            .contains("| bots overall | 1 | 0 | 0 | n/a | 0.000 | n/a |"));
    }
}
