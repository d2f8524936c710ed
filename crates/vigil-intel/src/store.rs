//! The indicator store in the data directory, and the shared compiled set.
//!
//! ```text
//! DATA/intel/feeds/NAME.jsonl   one file per feed: a header line, then one indicator a line
//! ```
//!
//! Importing a feed replaces its file whole ([`Store::write_feed`]: written
//! beside it and renamed over it, so a reader sees the old feed or the new
//! one, never half). [`Store::compile`] reads every feed and builds one
//! [`Matcher`] (expired indicators left out). A running process holds the
//! compiled set in a [`SharedMatcher`]: readers take the current one
//! without waiting, an update builds a new one off to the side and swaps it
//! in ([`arc_swap`]); [`Reloader`] notices a changed store or a passed
//! expiry and does that.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::indicator::Indicator;
use crate::matcher::Matcher;

/// The store's directory under the data directory.
pub const INTEL_DIR: &str = "intel";
/// The feeds' directory under [`INTEL_DIR`].
pub const FEEDS_DIR: &str = "feeds";
/// Bad lines reported per feed file when loading (the rest are counted).
const MAX_BAD_LINES: usize = 20;

/// What went wrong in the store.
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
    /// A feed name that cannot be a file name.
    #[error("bad feed name {0:?}: use letters, digits, '.', '_' and '-'")]
    FeedName(String),
    /// An indicator could not be written.
    #[error("writing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The first line of a feed file: where the feed came from and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedHeader {
    /// Feed name.
    pub feed: String,
    /// The format it was read as.
    pub format: String,
    /// The file or directory it was read from.
    pub source: String,
    /// Import time (ms since the epoch).
    pub imported_at: i64,
    /// Indicators written.
    pub indicators: usize,
    /// Entries that could not be read.
    pub errors: usize,
}

/// A feed file's content as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The headers of the feeds read.
    pub feeds: Vec<FeedHeader>,
    /// Lines that did not parse: `file:line: why` (the first few per file).
    pub bad_lines: Vec<String>,
    /// All lines that did not parse.
    pub bad_total: usize,
}

/// The store of one data directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// True for a usable feed name.
pub fn valid_feed_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Store {
    /// The store in data directory `data_dir` (nothing is created yet).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join(INTEL_DIR).join(FEEDS_DIR),
        }
    }

    /// The feeds' directory.
    pub fn feeds_dir(&self) -> &Path {
        &self.dir
    }

    fn feed_path(&self, feed: &str) -> Result<PathBuf, StoreError> {
        if !valid_feed_name(feed) {
            return Err(StoreError::FeedName(feed.to_owned()));
        }
        Ok(self.dir.join(format!("{feed}.jsonl")))
    }

    /// Replace feed `header.feed` with `indicators`, atomically.
    pub fn write_feed(
        &self,
        header: &FeedHeader,
        indicators: &[Indicator],
    ) -> Result<PathBuf, StoreError> {
        let path = self.feed_path(&header.feed)?;
        fs::create_dir_all(&self.dir).map_err(io_err("creating directory", &self.dir))?;
        let tmp = self
            .dir
            .join(format!(".{}.jsonl.tmp.{}", header.feed, std::process::id()));
        let result = (|| {
            let file = File::create(&tmp).map_err(io_err("creating", &tmp))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let json = |e| StoreError::Json {
                path: tmp.clone(),
                source: e,
            };
            serde_json::to_writer(&mut w, header).map_err(json)?;
            w.write_all(b"\n").map_err(io_err("writing", &tmp))?;
            for i in indicators {
                serde_json::to_writer(&mut w, i).map_err(json)?;
                w.write_all(b"\n").map_err(io_err("writing", &tmp))?;
            }
            let file = w.into_inner().map_err(|e| StoreError::Io {
                action: "writing",
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(io_err("syncing", &tmp))?;
            fs::rename(&tmp, &path).map_err(io_err("renaming into place", &path))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(path)
    }

    /// Remove a feed; false when there was none.
    pub fn remove_feed(&self, feed: &str) -> Result<bool, StoreError> {
        let path = self.feed_path(feed)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("removing", &path)(e)),
        }
    }

    /// The feed files, sorted by name.
    fn feed_files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("listing", &self.dir)(e)),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "jsonl")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.'))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// The header of every feed.
    pub fn feeds(&self) -> Result<Vec<FeedHeader>, StoreError> {
        let mut out = Vec::new();
        for path in self.feed_files()? {
            let file = File::open(&path).map_err(io_err("opening", &path))?;
            let mut line = String::new();
            BufReader::new(file)
                .read_line(&mut line)
                .map_err(io_err("reading", &path))?;
            if let Ok(h) = serde_json::from_str::<FeedHeader>(&line) {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// Every indicator of every feed, with what was read.
    pub fn load(&self) -> Result<(Vec<Indicator>, LoadReport), StoreError> {
        let mut all = Vec::new();
        let mut report = LoadReport::default();
        for path in self.feed_files()? {
            let file = File::open(&path).map_err(io_err("opening", &path))?;
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut line = String::new();
            let mut n = 0usize;
            let mut bad_here = 0usize;
            loop {
                line.clear();
                if reader
                    .read_line(&mut line)
                    .map_err(io_err("reading", &path))?
                    == 0
                {
                    break;
                }
                n += 1;
                if line.trim().is_empty() {
                    continue;
                }
                if n == 1 {
                    match serde_json::from_str::<FeedHeader>(&line) {
                        Ok(h) => report.feeds.push(h),
                        Err(e) => {
                            report.bad_total += 1;
                            report
                                .bad_lines
                                .push(format!("{}:1: bad feed header: {e}", path.display()));
                        }
                    }
                    continue;
                }
                match serde_json::from_str::<Indicator>(&line) {
                    Ok(i) => all.push(i),
                    Err(e) => {
                        report.bad_total += 1;
                        bad_here += 1;
                        if bad_here <= MAX_BAD_LINES {
                            report
                                .bad_lines
                                .push(format!("{}:{n}: {e}", path.display()));
                        }
                    }
                }
            }
        }
        Ok((all, report))
    }

    /// Read every feed and compile them as of `now_ms`.
    pub fn compile(&self, now_ms: i64) -> Result<(Matcher, LoadReport), StoreError> {
        let (all, report) = self.load()?;
        Ok((Matcher::build(&all, now_ms), report))
    }

    /// A stamp that changes when a feed is written or removed (the feeds
    /// directory's modification time; a rename into it updates it).
    pub fn stamp(&self) -> Option<SystemTime> {
        fs::metadata(&self.dir).and_then(|m| m.modified()).ok()
    }
}

/// The compiled set a running process matches against: readers never
/// wait, an update swaps a whole new set in.
#[derive(Debug)]
pub struct SharedMatcher {
    current: ArcSwap<Matcher>,
}

impl SharedMatcher {
    /// Start with `matcher`.
    pub fn new(matcher: Matcher) -> Self {
        Self {
            current: ArcSwap::from_pointee(matcher),
        }
    }

    /// The current set (lock-free; hold it for a batch, not forever).
    pub fn load(&self) -> arc_swap::Guard<Arc<Matcher>> {
        self.current.load()
    }

    /// Replace the set; readers holding the old one finish with it.
    pub fn store(&self, matcher: Matcher) {
        self.current.store(Arc::new(matcher));
    }
}

impl Default for SharedMatcher {
    fn default() -> Self {
        Self::new(Matcher::default())
    }
}

/// Keeps a [`SharedMatcher`] current with a [`Store`]: rebuilds when a
/// feed changed or the earliest expiry passed.
#[derive(Debug)]
pub struct Reloader {
    store: Store,
    shared: Arc<SharedMatcher>,
    stamp: Option<SystemTime>,
}

impl Reloader {
    /// Compile the store now and share the result.
    pub fn open(store: Store, now_ms: i64) -> Result<(Self, LoadReport), StoreError> {
        let stamp = store.stamp();
        let (m, report) = store.compile(now_ms)?;
        Ok((
            Self {
                store,
                shared: Arc::new(SharedMatcher::new(m)),
                stamp,
            },
            report,
        ))
    }

    /// The shared set, for readers.
    pub fn shared(&self) -> Arc<SharedMatcher> {
        Arc::clone(&self.shared)
    }

    /// Rebuild and swap in when the store changed or an indicator expired
    /// by `now_ms`; true when it did.
    pub fn poll(&mut self, now_ms: i64) -> Result<bool, StoreError> {
        let stamp = self.store.stamp();
        let expired = self
            .shared
            .load()
            .next_expiry()
            .is_some_and(|e| e <= now_ms);
        if stamp == self.stamp && !expired {
            return Ok(false);
        }
        let (m, _) = self.store.compile(now_ms)?;
        self.shared.store(m);
        self.stamp = stamp;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::Kind;
    use vigil_event::Severity;

    fn ind(v: &str, feed: &str, expires: Option<i64>) -> Indicator {
        Indicator {
            kind: Kind::Ipv4,
            value: v.into(),
            feed: feed.into(),
            confidence: 50,
            severity: Severity::High,
            tags: vec!["t".into()],
            first_seen: None,
            last_seen: None,
            expires,
            reference: None,
        }
    }

    fn header(feed: &str, n: usize) -> FeedHeader {
        FeedHeader {
            feed: feed.into(),
            format: "plain".into(),
            source: "x".into(),
            imported_at: 1,
            indicators: n,
            errors: 0,
        }
    }

    #[test]
    fn feeds_round_trip_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.compile(0).unwrap().0.is_empty());
        store
            .write_feed(
                &header("a", 2),
                &[ind("192.0.2.1", "a", None), ind("192.0.2.2", "a", None)],
            )
            .unwrap();
        store
            .write_feed(&header("b", 1), &[ind("192.0.2.3", "b", None)])
            .unwrap();
        let (m, report) = store.compile(0).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(report.feeds.len(), 2);
        store
            .write_feed(&header("a", 1), &[ind("192.0.2.9", "a", None)])
            .unwrap();
        let (m, _) = store.compile(0).unwrap();
        assert_eq!(m.len(), 2);
        assert!(m.lookup("192.0.2.1").is_empty());
        assert!(store.remove_feed("b").unwrap());
        assert!(!store.remove_feed("b").unwrap());
        assert_eq!(store.feeds().unwrap().len(), 1);
        assert!(store.write_feed(&header("../x", 0), &[]).is_err());
        // A torn line is counted, the rest is read.
        let path = store.feeds_dir().join("a.jsonl");
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"type\":\"ipv4\",\"val\n");
        fs::write(&path, text).unwrap();
        let (m, report) = store.compile(0).unwrap();
        assert_eq!((m.len(), report.bad_total), (1, 1));
    }

    #[test]
    fn reloader_swaps_on_change_and_expiry_while_readers_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store
            .write_feed(&header("a", 1), &[ind("192.0.2.1", "a", Some(1_000))])
            .unwrap();
        let (mut reloader, _) = Reloader::open(store.clone(), 0).unwrap();
        let shared = reloader.shared();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                    let m = shared.load();
                    // Every set seen is whole: one or the other indicator, never neither mid-swap.
                    let n = m.lookup("192.0.2.1").len() + m.lookup("192.0.2.2").len();
                    assert!(n <= 1);
                    reads += 1;
                }
                reads
            })
        };
        assert!(!reloader.poll(10).unwrap());
        assert!(reloader.poll(1_000).unwrap(), "the indicator expired");
        assert!(shared.load().lookup("192.0.2.1").is_empty());
        // A rename into the directory changes its stamp; make sure the
        // clock tick shows on coarse filesystems.
        std::thread::sleep(std::time::Duration::from_millis(20));
        store
            .write_feed(&header("a", 1), &[ind("192.0.2.2", "a", None)])
            .unwrap();
        assert!(reloader.poll(1_000).unwrap());
        assert_eq!(shared.load().lookup("192.0.2.2").len(), 1);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    }
}
