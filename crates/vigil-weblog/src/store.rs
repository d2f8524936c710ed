//! The data directory: where decisions, labels, feature vectors and
//! versioned models live, and how they are written safely.
//!
//! ```text
//! vigil-data/                 --data-dir, else $VIGIL_DATA_DIR, else the per-user default
//!                             ($XDG_DATA_HOME/vigil, ~/.local/share/vigil, else ./vigil-data)
//!   decisions.jsonl           active decisions, one per line (rewritten whole)
//!   labels.jsonl              operator labels, append-only (latest wins)
//!   features.jsonl            feature vectors of judged windows, append-only
//!   features.1.jsonl          the previous features file once it passed its size limit
//!   models/model-v{N}.json    every model a learner wrote (never changed once written)
//!   models/current            the active model's file name (replaced atomically)
//! ```
//!
//! Whole-file rewrites go through [`write_atomic`]: the new content is
//! written to a temporary file in the same directory, flushed to disk and
//! renamed over the old one, so a reader (or a crash) sees the old file or
//! the new one, never half of either. Append-only files take one
//! `write` per batch of whole lines; a torn last line (a crash mid-write)
//! is skipped and counted when read.
//!
//! [`ModelStore`] owns `models/`; [`ModelWatcher`] polls its `current`
//! pointer so a running detector picks up a new model without a restart.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::score::{ModelConfig, ModelError};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "VIGIL_DATA_DIR";
/// The data directory when neither `--data-dir` nor [`DATA_DIR_ENV`] is
/// given and there is no home directory to put the per-user one in.
pub const DEFAULT_DATA_DIR: &str = "vigil-data";
/// Active decisions.
pub const DECISIONS_FILE: &str = "decisions.jsonl";
/// Operator labels.
pub const LABELS_FILE: &str = "labels.jsonl";
/// Feature vectors.
pub const FEATURES_FILE: &str = "features.jsonl";
/// The previous feature vectors file.
pub const FEATURES_OLD_FILE: &str = "features.1.jsonl";
/// Model directory.
pub const MODELS_DIR: &str = "models";
/// The active model pointer inside [`MODELS_DIR`].
pub const CURRENT_FILE: &str = "current";
/// Largest model file read, bytes.
pub const MAX_MODEL_BYTES: u64 = 1 << 20;

/// What went wrong in the data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file's content does not parse.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the whole file).
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// A model file is malformed.
    #[error("model {path}: {source}")]
    Model {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ModelError,
    },
}

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The data directory chosen: `explicit` (`--data-dir`), else
/// `$VIGIL_DATA_DIR`, else the per-user default: `$XDG_DATA_HOME/vigil`,
/// else `$HOME/.local/share/vigil` (the XDG base directory default), else
/// `./vigil-data`. Every command that keeps state (bots, intel, analyze)
/// resolves it here, so they all share one directory.
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(v) = var(DATA_DIR_ENV) {
        return v;
    }
    // XDG requires an absolute path; a relative one is ignored.
    if let Some(xdg) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return xdg.join("vigil");
    }
    match var("HOME") {
        Some(home) => home.join(".local").join("share").join("vigil"),
        None => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// Create `dir` (and its parents) when missing.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(|e| StoreError::io("creating directory", dir, e))
}

/// Replace `path` with `bytes` atomically: write a temporary file beside it,
/// sync it, rename it over `path`, sync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| StoreError::io("creating", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| StoreError::io("writing", &tmp, e))?;
        f.sync_all()
            .map_err(|e| StoreError::io("syncing", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| StoreError::io("renaming into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable; a directory that cannot be opened
    // (some filesystems) is not an error: the data is already in place.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Append whole lines to `path` in one write (created when missing).
pub fn append_lines(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::io("opening for append", path, e))?;
    f.write_all(bytes)
        .map_err(|e| StoreError::io("appending to", path, e))?;
    f.sync_data()
        .map_err(|e| StoreError::io("syncing", path, e))
}

/// Read a file, `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading", path, e)),
    }
}

/// The versioned models in `DIR/models`.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

/// A model file's name for a version: `model-v{N}.json`.
pub fn model_file_name(version: u32) -> String {
    format!("model-v{version}.json")
}

fn version_of(name: &str) -> Option<u32> {
    name.strip_prefix("model-v")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

impl ModelStore {
    /// The models of data directory `data_dir` (nothing is created yet).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join(MODELS_DIR),
        }
    }

    /// `DIR/models`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pointer file `DIR/models/current`.
    pub fn pointer(&self) -> PathBuf {
        self.dir.join(CURRENT_FILE)
    }

    /// Versions present, ascending.
    pub fn versions(&self) -> Result<Vec<u32>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("listing", &self.dir, e)),
        };
        let mut v: Vec<u32> = entries
            .filter_map(Result::ok)
            .filter_map(|e| version_of(&e.file_name().to_string_lossy()))
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    /// The version the next model gets: one more than any present and than
    /// `at_least` (the running model's version).
    pub fn next_version(&self, at_least: u32) -> Result<u32, StoreError> {
        let max = self.versions()?.last().copied().unwrap_or(0);
        Ok(max.max(at_least).saturating_add(1))
    }

    /// Load `model-v{version}.json`.
    pub fn load(&self, version: u32) -> Result<ModelConfig, StoreError> {
        self.load_file(&self.dir.join(model_file_name(version)))
    }

    fn load_file(&self, path: &Path) -> Result<ModelConfig, StoreError> {
        let meta = fs::metadata(path).map_err(|e| StoreError::io("reading", path, e))?;
        if meta.len() > MAX_MODEL_BYTES {
            return Err(StoreError::Parse {
                path: path.to_path_buf(),
                line: 0,
                message: format!("model file is {} bytes, over the limit", meta.len()),
            });
        }
        let bytes = fs::read(path).map_err(|e| StoreError::io("reading", path, e))?;
        let model: ModelConfig = serde_json::from_slice(&bytes).map_err(|e| StoreError::Parse {
            path: path.to_path_buf(),
            line: e.line() as u64,
            message: e.to_string(),
        })?;
        model.validate().map_err(|source| StoreError::Model {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(model)
    }

    /// Write `model` as `model-v{model.version}.json` (refusing to replace an
    /// existing version: model files never change once written). Does not
    /// activate it.
    pub fn write(&self, model: &ModelConfig) -> Result<PathBuf, StoreError> {
        model.validate().map_err(|source| StoreError::Model {
            path: self.dir.join(model_file_name(model.version)),
            source,
        })?;
        ensure_dir(&self.dir)?;
        let path = self.dir.join(model_file_name(model.version));
        if path.exists() {
            return Err(StoreError::io(
                "writing model",
                &path,
                io::Error::new(io::ErrorKind::AlreadyExists, "version already written"),
            ));
        }
        let mut text = serde_json::to_vec_pretty(model).map_err(|e| StoreError::Parse {
            path: path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        text.push(b'\n');
        write_atomic(&path, &text)?;
        Ok(path)
    }

    /// Make `version` the current model (the pointer is replaced atomically).
    pub fn activate(&self, version: u32) -> Result<(), StoreError> {
        // Refuse a pointer to a model that does not load.
        self.load(version)?;
        write_atomic(
            &self.pointer(),
            format!("{}\n", model_file_name(version)).as_bytes(),
        )
    }

    /// The current model's version, `None` when no model was activated.
    pub fn current_version(&self) -> Result<Option<u32>, StoreError> {
        let path = self.pointer();
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let name = text.trim();
        version_of(name).map(Some).ok_or_else(|| StoreError::Parse {
            path,
            line: 1,
            message: format!("{name:?} is not a model file name (model-v<N>.json)"),
        })
    }

    /// The current model, `None` when no model was activated (the detector
    /// then runs its built-in default).
    pub fn current(&self) -> Result<Option<ModelConfig>, StoreError> {
        match self.current_version()? {
            Some(v) => self.load(v).map(Some),
            None => Ok(None),
        }
    }
}

/// Polls the current-model pointer and hands a new model over when it
/// changes (pass it to [`crate::BotDetector::set_model`]).
///
/// The pointer's content (the file name, which names the version) and its
/// modification time are compared with what was seen last; a model that
/// does not load is reported once as an error and the running model kept.
#[derive(Debug)]
pub struct ModelWatcher {
    store: ModelStore,
    seen: Option<(String, Option<SystemTime>)>,
}

impl ModelWatcher {
    /// Watch the models of `data_dir`; the pointer as it is now counts as
    /// seen when `loaded` is the version it names (the model the detector
    /// was started with).
    pub fn new(data_dir: &Path, loaded: Option<u32>) -> Self {
        let store = ModelStore::new(data_dir);
        let mut w = Self { store, seen: None };
        if let Some(v) = loaded {
            let now = w.pointer_state();
            if now
                .as_ref()
                .is_some_and(|(name, _)| version_of(name) == Some(v))
            {
                w.seen = now;
            }
        }
        w
    }

    fn pointer_state(&self) -> Option<(String, Option<SystemTime>)> {
        let path = self.store.pointer();
        let bytes = fs::read(&path).ok()?;
        let mtime = fs::metadata(&path).ok().and_then(|m| m.modified().ok());
        Some((String::from_utf8_lossy(&bytes).trim().to_owned(), mtime))
    }

    /// A new model when the pointer changed since the last poll.
    pub fn poll(&mut self) -> Result<Option<ModelConfig>, StoreError> {
        let now = self.pointer_state();
        if now.is_none() || now == self.seen {
            return Ok(None);
        }
        self.seen = now.clone();
        let name = now.map(|(n, _)| n).unwrap_or_default();
        let Some(version) = version_of(&name) else {
            return Err(StoreError::Parse {
                path: self.store.pointer(),
                line: 1,
                message: format!("{name:?} is not a model file name (model-v<N>.json)"),
            });
        };
        self.store.load(version).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn models_are_versioned_and_the_pointer_moves() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        assert_eq!(store.current().unwrap(), None);
        assert_eq!(store.next_version(1).unwrap(), 2);
        let mut m = ModelConfig {
            version: 2,
            ..ModelConfig::default()
        };
        store.write(&m).unwrap();
        // A version is written once.
        assert!(store.write(&m).is_err());
        store.activate(2).unwrap();
        assert_eq!(store.current_version().unwrap(), Some(2));
        assert_eq!(store.current().unwrap().unwrap().version, 2);
        assert_eq!(store.next_version(1).unwrap(), 3);
        // A pointer to a missing model is refused; the old one stays.
        assert!(store.activate(9).is_err());
        assert_eq!(store.current_version().unwrap(), Some(2));
        // Bad weight vectors never get written.
        m.version = 3;
        m.scraper.weights.pop();
        assert!(store.write(&m).is_err());
        assert_eq!(store.versions().unwrap(), vec![2]);
    }

    #[test]
    fn watcher_reports_each_change_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let mut w = ModelWatcher::new(dir.path(), None);
        assert!(w.poll().unwrap().is_none());
        for v in [2, 3] {
            store
                .write(&ModelConfig {
                    version: v,
                    ..ModelConfig::default()
                })
                .unwrap();
        }
        store.activate(2).unwrap();
        assert_eq!(w.poll().unwrap().map(|m| m.version), Some(2));
        assert!(w.poll().unwrap().is_none());
        store.activate(3).unwrap();
        assert_eq!(w.poll().unwrap().map(|m| m.version), Some(3));
        // Started with the current model: nothing new.
        let mut w2 = ModelWatcher::new(dir.path(), Some(3));
        assert!(w2.poll().unwrap().is_none());
        // A broken pointer is an error, reported once.
        write_atomic(&store.pointer(), b"garbage\n").unwrap();
        assert!(w2.poll().is_err());
        assert!(w2.poll().unwrap().is_none());
    }
}
