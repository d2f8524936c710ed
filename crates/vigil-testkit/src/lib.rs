//! Test support for Vigil's crates (a dev-dependency only).
//!
//! Tests that need something from outside the repository — the corpora in
//! `../shared/data`, a Debian tool such as `tshark`, root — call one of the
//! `require_*` functions. When the thing is missing the function prints why
//! and returns `None`, and the test returns early (a skip); under
//! `VIGIL_TEST_STRICT=1` (as in CI) it panics instead, so CI always runs it.
//!
//! ```no_run
//! let Some(data) = vigil_testkit::require_shared_data("community-id-spec") else { return };
//! assert!(data.join("pcaps").is_dir());
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// True when `VIGIL_TEST_STRICT=1`: a missing requirement fails the test.
pub fn strict() -> bool {
    std::env::var("VIGIL_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Skip (print the reason, return `None`) or, when strict, panic.
pub fn skip<T>(reason: &str) -> Option<T> {
    if strict() {
        panic!("VIGIL_TEST_STRICT=1 and a requirement is missing: {reason}");
    }
    eprintln!("skipping: {reason}");
    None
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    // This crate lives at <root>/crates/vigil-testkit.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `../shared/data` beside the checkout, or `$VIGIL_SHARED_DATA` when set.
pub fn shared_data_dir() -> PathBuf {
    match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("..").join("shared").join("data"),
    }
}

/// The folder `name` of the shared corpora, or a skip when it is absent.
pub fn require_shared_data(name: &str) -> Option<PathBuf> {
    let dir = shared_data_dir().join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!("shared corpus {} not found", dir.display()))
    }
}

/// The path of program `name` on `PATH`, or a skip when it is not installed.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(path) => Some(path),
        None => skip(&format!(
            "{name} is not installed (apt-get install the Debian package that has it)"
        )),
    }
}

/// The path of program `name` on `PATH` (or in /usr/sbin, /sbin).
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `Some(())` when running as root, else a skip.
pub fn require_root() -> Option<()> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.as_deref() == Some("0") {
        Some(())
    } else {
        skip("needs root")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tool_that_is_always_there() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-tool-vigil").is_none());
    }

    #[test]
    fn repo_root_holds_the_workspace_manifest() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("crates").is_dir());
    }
}
