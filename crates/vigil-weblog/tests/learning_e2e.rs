//! End to end through the data directory: vigil-webgen's labelled traffic
//! (direct mode: the lines nginx would log) → parser → detector → decisions
//! and feature vectors → the generator's labels.jsonl as operator labels →
//! learn → precision/recall before and after on held-back labels.
//!
//! Two starts: the built-in model (the learnt one must not be worse), and a
//! deliberately weakened one (every weight a quarter, so bots slip through),
//! which learning must repair. The figures are printed (`--nocapture`).

use std::path::Path;

use vigil_event::Timestamp;
use vigil_webgen::{Config, Lists, Scenario};
use vigil_weblog::decisions::DecisionStore;
use vigil_weblog::labels::{parse_labels, LabelStore};
use vigil_weblog::learn::{learn_in_dir, LearnConfig, LearnReport, Metrics};
use vigil_weblog::store::ModelStore;
use vigil_weblog::{BotDetector, DetectorConfig, LogReader, ModelConfig, Parser, Verdict};

/// Generate the traffic, run the detector, store what the analysis stores.
fn analyse(dir: &Path, model: ModelConfig) -> (Vec<Verdict>, String) {
    let scenario = Scenario::generate(&Config::default(), &Lists::builtin());
    let mut log = Vec::new();
    vigil_webgen::write_log(&scenario, true, &mut log).unwrap();
    let mut labels = Vec::new();
    vigil_webgen::write_labels(&scenario.labels(), &mut labels).unwrap();
    let parser = Parser::nginx(&vigil_webgen::log_format(true, true)).unwrap();
    let mut config = DetectorConfig::default();
    config.whitelist.rdns.enabled = false;
    config.site.hosts = vec![vigil_webgen::SITE_HOST.into()];
    config
        .entities
        .session_fields
        .push(format!("cookie_{}", vigil_webgen::SESSION_COOKIE));
    config.model = model;
    let mut detector = BotDetector::new(config).unwrap();
    let mut reader = LogReader::new("access.log", &log[..], parser);
    let mut latest = 0;
    for r in reader.by_ref() {
        let r = r.unwrap();
        latest = r.time.nanos();
        detector.observe(&r);
    }
    assert_eq!(reader.stats().bad, 0, "{:?}", reader.stats().samples);
    let verdicts = detector.finish();
    // The two calls the analysis makes.
    let stored = vigil_weblog::store_features(dir, &verdicts).unwrap();
    assert_eq!(stored, verdicts.len());
    let mut decisions = DecisionStore::open(dir).unwrap();
    let now = Timestamp::from_nanos(latest);
    let st = decisions.apply(&verdicts, now);
    decisions.save().unwrap();
    assert!(st.created > 0 && !decisions.active(now).is_empty());
    (verdicts, String::from_utf8(labels).unwrap())
}

fn row(name: &str, m: &Metrics) -> String {
    let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.3}"));
    format!(
        "{name:<26} precision {} recall {} F1 {:.3} (TP {} FP {} FN {} TN {})",
        f(m.precision()),
        f(m.recall()),
        m.f1(),
        m.true_positives,
        m.false_positives,
        m.false_negatives,
        m.true_negatives
    )
}

fn report(title: &str, r: &LearnReport) {
    println!(
        "{title}: {} labelled entities, {} vectors; train {}/{} bot/human, held back {}/{}",
        r.labels, r.vectors, r.fit.train.0, r.fit.train.1, r.fit.holdout.0, r.fit.holdout.1
    );
    println!(
        "{}",
        row(
            &format!("  before (v{})", r.previous_version),
            &r.fit.before
        )
    );
    println!(
        "{}",
        row(&format!("  after (v{})", r.version), &r.fit.after)
    );
    println!("  activated: {}", r.activated);
}

fn run(model: ModelConfig) -> LearnReport {
    let dir = tempfile::tempdir().unwrap();
    let models = ModelStore::new(dir.path());
    if model != ModelConfig::default() {
        models.write(&model).unwrap();
        models.activate(model.version).unwrap();
    }
    let (verdicts, labels_text) = analyse(dir.path(), model);
    assert!(verdicts.len() > 500, "{}", verdicts.len());
    let labels = parse_labels(&labels_text, "labels.jsonl", 1).unwrap();
    LabelStore::new(dir.path()).append(&labels).unwrap();
    let r = learn_in_dir(dir.path(), &LearnConfig::default(), false).unwrap();
    // The new model file is there and, when activated, current.
    assert!(r.path.is_file());
    if r.activated {
        assert_eq!(models.current_version().unwrap(), Some(r.version));
    }
    r
}

#[test]
fn learning_from_generator_labels_is_not_worse_than_the_builtin_model() {
    let r = run(ModelConfig::default());
    report("built-in model", &r);
    assert!(r.fit.holdout.0 > 0 && r.fit.holdout.1 > 0);
    assert!(r.fit.after.f1() >= r.fit.before.f1());
    assert!(r.activated);
    assert!(r.fit.after.f1() >= 0.9, "{:?}", r.fit.after);
}

#[test]
fn learning_repairs_a_weakened_model() {
    let mut weak = ModelConfig {
        version: 5,
        ..ModelConfig::default()
    };
    for c in [
        &mut weak.scraper,
        &mut weak.scanner,
        &mut weak.credential_stuffing,
    ] {
        for w in &mut c.weights {
            *w *= 0.25;
        }
    }
    let r = run(weak);
    report("weakened model", &r);
    assert_eq!((r.previous_version, r.version), (5, 6));
    let (before, after) = (r.fit.before, r.fit.after);
    assert!(
        after.recall().unwrap_or(0.0) > before.recall().unwrap_or(0.0),
        "{before:?} → {after:?}"
    );
    assert!(after.f1() > before.f1() + 0.2, "{before:?} → {after:?}");
    assert!(r.activated);
}
