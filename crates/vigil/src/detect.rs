//! The payload inspector `vigil analyze` runs: the signature engine
//! (`vigil-sig`) over Vigil's default ruleset (`rules/vigil-web.rules`,
//! embedded in the binary) and the rule files given with `--rules`.
//!
//! Until the loader and engine of `vigil-sig` are on main this module only
//! decides WHAT to load; [`inspector`] is the one place that turns it into
//! a `PayloadInspector` (see its docs for what remains).

use std::path::PathBuf;

use vigil_net::inspect::PayloadInspector;

/// Name the embedded default ruleset is reported under.
pub const DEFAULT_RULES_NAME: &str = "rules/vigil-web.rules";

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
/// inspect with.
///
/// Pending the `vigil-sig` loader and engine (branches h-sigparse and
/// h-sigmatch): with them this loads the embedded default ruleset
/// (`include_str!` of `rules/vigil-web.rules`) under
/// [`DEFAULT_RULES_NAME`], then each file, through `vigil_sig::load`,
/// prints the load summary (accepted, skipped by reason) on stderr unless
/// quiet, compiles the rules into the engine and returns it. Until then an
/// explicit `--rules` is an error (never silently ignored) and the default
/// ruleset is not loaded.
pub fn inspector(
    sources: &RuleSources,
    quiet: bool,
) -> anyhow::Result<Option<Box<dyn PayloadInspector>>> {
    let _ = quiet;
    if sources.is_empty() {
        return Ok(None);
    }
    if let Some(first) = sources.files.first() {
        anyhow::bail!(
            "cannot load rules from {}: this build has no signature engine yet",
            first.display()
        );
    }
    tracing::debug!(
        rules = DEFAULT_RULES_NAME,
        "default ruleset not loaded: no signature engine in this build"
    );
    Ok(None)
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
}
