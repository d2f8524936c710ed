//! The payload inspector `vigil analyze` runs: the signature engine
//! (`vigil-sig`) over Vigil's default ruleset (`rules/vigil-web.rules`,
//! embedded in the binary) and the rule files given with `--rules`.
//!

use std::path::PathBuf;

use anyhow::Context;
use vigil_net::inspect::PayloadInspector;
use vigil_sig::engine::SignatureEngine;
use vigil_sig::load::Loader;
use vigil_sig::vars::Vars;

/// Name the embedded default ruleset is reported under.
pub const DEFAULT_RULES_NAME: &str = "rules/vigil-web.rules";

/// Vigil's default ruleset, carried in the binary.
const DEFAULT_RULES: &str = include_str!("../../../rules/vigil-web.rules");

/// The rule sources of one run, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSources {
    /// Load the embedded default ruleset first.
    pub default_rules: bool,
    /// Rule files given with `--rules`, in the order given.
    pub files: Vec<PathBuf>,
}

impl RuleSources {
    /// From `--rules FILE…` and `--no-default-rules`.
    pub fn new(files: &[PathBuf], no_default_rules: bool) -> Self {
        Self {
            default_rules: !no_default_rules,
            files: files.to_vec(),
        }
    }

    /// Nothing to load.
    pub fn is_empty(&self) -> bool {
        !self.default_rules && self.files.is_empty()
    }
}

/// Build the inspector for `sources`, or `None` when there is nothing to
/// inspect with: the embedded default ruleset first (under
/// [`DEFAULT_RULES_NAME`]), then each `--rules` file in order, through
/// `vigil_sig`'s loader; the load summary (accepted, skipped by reason) and
/// the engine's compile summary go to stderr unless quiet; a file that
/// cannot be read is an error (never silently ignored).
pub fn inspector(
    sources: &RuleSources,
    quiet: bool,
) -> anyhow::Result<Option<Box<dyn PayloadInspector>>> {
    if sources.is_empty() {
        return Ok(None);
    }
    let mut loader = Loader::new(Vars::default());
    if sources.default_rules {
        loader.load_text(DEFAULT_RULES_NAME, DEFAULT_RULES);
    }
    for file in &sources.files {
        loader
            .load_file(file)
            .with_context(|| format!("cannot load rules from {}", file.display()))?;
    }
    let (rules, summary) = loader.finish();
    let (engine, compiled) = SignatureEngine::compile(rules);
    if !quiet {
        let mut err = std::io::stderr().lock();
        if !sources.files.is_empty() || compiled.compiled != summary.active() {
            crate::rules::print_summary(&mut err, &summary, &compiled, 1)
                .context("cannot write the rules summary")?;
        }
    }
    Ok(Some(Box::new(engine)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_follow_the_flags() {
        let files = vec![PathBuf::from("a.rules"), PathBuf::from("b.rules")];
        let s = RuleSources::new(&files, false);
        assert!(s.default_rules && s.files == files);
        let none = RuleSources::new(&[], true);
        assert!(none.is_empty());
        assert!(inspector(&none, true).unwrap().is_none());
    }

    #[test]
    fn the_embedded_default_ruleset_loads_completely() {
        let mut loader = Loader::new(Vars::default());
        loader.load_text(DEFAULT_RULES_NAME, DEFAULT_RULES);
        let (rules, summary) = loader.finish();
        assert!(summary.active() >= 40, "{} active rules", summary.active());
        assert_eq!(summary.accepted(), summary.active());
        let (_, compiled) = SignatureEngine::compile(rules);
        assert_eq!(
            compiled.compiled,
            summary.active(),
            "rejected: {:?}",
            compiled.rejected
        );
        assert!(inspector(&RuleSources::new(&[], false), true)
            .unwrap()
            .is_some());
    }

    #[test]
    fn an_unreadable_rules_file_is_an_error_naming_it() {
        let sources = RuleSources::new(&[PathBuf::from("/nonexistent/vigil.rules")], true);
        let error = inspector(&sources, true).unwrap_err();
        assert!(format!("{error:#}").contains("/nonexistent/vigil.rules"));
    }
}
