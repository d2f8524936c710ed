//! Where log lines come from: files (plain or gzip, told by their magic
//! bytes, not their name), standard input, and a live file followed across
//! rotation. This module is the I/O; parsing stays in [`crate::format`].
//!
//! - [`open`] / [`stdin`] give a buffered reader; [`LineReader`] splits it
//!   into lines of at most [`MAX_LINE`] bytes (longer ones are cut and
//!   flagged, never kept whole).
//! - [`LogReader`] parses those lines with a [`Parser`], counts lines,
//!   records and bad lines, and keeps the first [`MAX_BAD_SAMPLES`] bad
//!   ones with file, line number and reason ([`ReadStats`]); the rest of
//!   the input is still read. [`LogReader::detect`] picks the format from
//!   the first lines and then reads them too.
//! - [`Follower`] polls a growing file. Rename-and-create rotation shows as
//!   a new inode at the path: the old file is read to its end (and a few
//!   more polls, for lines the server wrote before it reopened its log),
//!   then the new one from its start. copytruncate shows as the file
//!   shrinking below the read position: reading restarts at 0. A file
//!   truncated and refilled past the old position between two polls cannot
//!   be told from growth; poll often enough for your rotation.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::detect::{self, DetectError, Detection};
use crate::format::{ParseError, Parser};
use crate::record::AccessRecord;

/// Longest line kept, in bytes; longer lines are cut here and reported bad.
pub const MAX_LINE: usize = 64 * 1024;
/// Bad lines kept as samples per reader; the rest are only counted.
pub const MAX_BAD_SAMPLES: usize = 5;
/// Longest excerpt of a bad line kept in a sample, in characters.
const SAMPLE_TEXT: usize = 200;
/// Polls an old, rotated file is still drained after it stops growing.
const OLD_FILE_POLLS: u32 = 3;

/// A read or open failure, naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading failed (including a corrupt gzip stream).
    #[error("cannot read {path} after line {line}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The last line read whole.
        line: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No format could be chosen from the first lines.
    #[error("cannot detect the log format of {path}: {source}")]
    Detect {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: DetectError,
    },
}

/// Open a log file for reading; gzip files (magic `1f 8b`) are
/// decompressed, concatenated members included. `-` is standard input.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, SourceError> {
    if path.as_os_str() == "-" {
        return Ok(stdin());
    }
    let file = File::open(path).map_err(|source| SourceError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let magic = reader.fill_buf().map_err(|source| SourceError::Open {
        path: path.display().to_string(),
        source,
    })?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// Standard input, buffered.
pub fn stdin() -> Box<dyn BufRead + Send> {
    Box::new(BufReader::with_capacity(256 * 1024, io::stdin()))
}

/// A reader whose first lines, read for detection, are replayed before
/// the rest.
pub type Replayed<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// One line from a [`LineReader`].
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// The line without its `\n` (a `\r` before it is kept; parsers drop it).
    pub bytes: &'a [u8],
    /// The line was longer than the limit and was cut.
    pub truncated: bool,
}

/// Splits a reader into lines of bounded length.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    number: u64,
    max_len: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of at most [`MAX_LINE`] bytes.
    pub fn new(inner: R) -> Self {
        Self::with_max_len(inner, MAX_LINE)
    }

    /// Lines of at most `max_len` bytes.
    pub fn with_max_len(inner: R, max_len: usize) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            number: 0,
            max_len,
        }
    }

    /// The number of the last line returned.
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// The last line returned, without its `\n` (empty before the first).
    pub fn last_line(&self) -> &[u8] {
        &self.buf
    }

    /// The next line, `None` at the end of input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut truncated = false;
        let mut read_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let (chunk, used, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (available.get(..i).unwrap_or_default(), i + 1, true),
                None => (available, available.len(), false),
            };
            let room = self.max_len.saturating_sub(self.buf.len());
            if chunk.len() > room {
                truncated = true;
            }
            self.buf
                .extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some(Line {
            number: self.number,
            bytes: &self.buf,
            truncated,
        }))
    }
}

/// A line that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file (or `-` for standard input).
    pub file: String,
    /// 1-based line number in that file.
    pub line: u64,
    /// Why it did not parse.
    pub reason: String,
    /// The start of the line, lossily decoded.
    pub text: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// What a reader has read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read, empty ones included.
    pub lines: u64,
    /// Lines parsed into records.
    pub records: u64,
    /// Lines that did not parse (empty lines are not bad).
    pub bad: u64,
    /// The first [`MAX_BAD_SAMPLES`] bad lines.
    pub samples: Vec<BadLine>,
}

impl ReadStats {
    /// Parse one line with `parser` into `record`, counting it; a bad line
    /// is counted (and sampled) and `false` returned.
    pub fn parse_line(
        &mut self,
        parser: &Parser,
        file: &str,
        number: u64,
        bytes: &[u8],
        truncated: bool,
        record: &mut AccessRecord,
    ) -> bool {
        self.lines += 1;
        let result = if truncated {
            Err(format!("line longer than {MAX_LINE} bytes"))
        } else {
            parser.parse_into(bytes, record).map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => {
                self.records += 1;
                true
            }
            Err(reason) if reason == ParseError::Empty.to_string() => false,
            Err(reason) => {
                self.bad += 1;
                tracing::debug!(file, line = number, %reason, "skipping unparsable line");
                if self.samples.len() < MAX_BAD_SAMPLES {
                    self.samples.push(BadLine {
                        file: file.to_owned(),
                        line: number,
                        reason,
                        text: String::from_utf8_lossy(bytes)
                            .chars()
                            .take(SAMPLE_TEXT)
                            .collect(),
                    });
                }
                false
            }
        }
    }
}

/// Parses a line source into records, counting and sampling bad lines.
#[derive(Debug)]
pub struct LogReader<R> {
    name: String,
    lines: LineReader<R>,
    parser: Parser,
    stats: ReadStats,
}

impl<R: BufRead> LogReader<R> {
    /// Read `reader` (named `name` in errors and samples) with `parser`.
    pub fn new(name: impl Into<String>, reader: R, parser: Parser) -> Self {
        Self {
            name: name.into(),
            lines: LineReader::new(reader),
            parser,
            stats: ReadStats::default(),
        }
    }

    /// Detect the format from the first [`detect::SAMPLE_LINES`] lines (a
    /// `configured` parser is tried first), then read every line from the
    /// first with it.
    pub fn detect(
        name: impl Into<String>,
        mut reader: R,
        configured: Option<Parser>,
    ) -> Result<(LogReader<Replayed<R>>, Detection), SourceError> {
        let name = name.into();
        let mut head = Vec::new();
        let mut ends = Vec::new();
        while ends.len() < detect::SAMPLE_LINES {
            let before = head.len();
            let n = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut head)
                .map_err(|source| SourceError::Read {
                    path: name.clone(),
                    line: ends.len() as u64,
                    source,
                })?;
            if n == 0 {
                break;
            }
            ends.push((before, head.len()));
            if head.last() != Some(&b'\n') && n <= MAX_LINE {
                break;
            }
        }
        let sample = ends.iter().filter_map(|&(a, b)| head.get(a..b));
        let detection =
            detect::detect(sample, configured).map_err(|source| SourceError::Detect {
                path: name.clone(),
                source,
            })?;
        tracing::info!(file = %name, format = detection.parser.name(), reason = %detection.reason, "log format detected");
        let reader = Cursor::new(head).chain(reader);
        Ok((
            LogReader::new(name, reader, detection.parser.clone()),
            detection,
        ))
    }

    /// The parser in use.
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// Counts and bad-line samples so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The line the last successful [`LogReader::next_into`] parsed,
    /// without its `\n` (at most [`MAX_LINE`] bytes; valid until the next
    /// call), for sources that keep the raw record ([`crate::ocsf::to_event`]).
    pub fn last_line(&self) -> &[u8] {
        self.lines.last_line()
    }

    /// Parse the next good line into `record` (reusing its buffers);
    /// `false` at the end of input. Bad lines are counted and skipped.
    pub fn next_into(&mut self, record: &mut AccessRecord) -> Result<bool, SourceError> {
        loop {
            let last = self.lines.line_number();
            let line = self.lines.next_line().map_err(|source| SourceError::Read {
                path: self.name.clone(),
                line: last,
                source,
            })?;
            let Some(line) = line else { return Ok(false) };
            if self.stats.parse_line(
                &self.parser,
                &self.name,
                line.number,
                line.bytes,
                line.truncated,
                record,
            ) {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> Iterator for LogReader<R> {
    type Item = Result<AccessRecord, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = AccessRecord::default();
        match self.next_into(&mut record) {
            Ok(true) => Some(Ok(record)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Counters of a [`Follower`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowStats {
    /// Lines delivered.
    pub lines: u64,
    /// Rename-and-create rotations seen (a new file at the path).
    pub rotations: u64,
    /// Truncations seen (copytruncate).
    pub truncations: u64,
    /// Lines cut at [`MAX_LINE`] bytes.
    pub truncated_lines: u64,
}

/// An open file being read, with the unfinished last line.
#[derive(Debug)]
struct Tail {
    file: File,
    id: (u64, u64),
    pos: u64,
    partial: Vec<u8>,
    partial_cut: bool,
    number: u64,
}

impl Tail {
    /// Read to the end, delivering complete lines; returns how many.
    fn drain(
        &mut self,
        chunk: &mut [u8],
        stats: &mut FollowStats,
        on_line: &mut dyn FnMut(&[u8], u64),
    ) -> io::Result<usize> {
        let mut delivered = 0;
        loop {
            let n = match self.file.read(chunk) {
                Ok(0) => return Ok(delivered),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.pos += n as u64;
            let mut data = chunk.get(..n).unwrap_or_default();
            while let Some(i) = memchr::memchr(b'\n', data) {
                self.push(data.get(..i).unwrap_or_default());
                self.deliver(stats, on_line);
                delivered += 1;
                data = data.get(i + 1..).unwrap_or_default();
            }
            self.push(data);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.partial_cut = true;
        }
        self.partial
            .extend_from_slice(bytes.get(..bytes.len().min(room)).unwrap_or_default());
    }

    fn deliver(&mut self, stats: &mut FollowStats, on_line: &mut dyn FnMut(&[u8], u64)) {
        self.number += 1;
        stats.lines += 1;
        if self.partial_cut {
            stats.truncated_lines += 1;
        }
        on_line(&self.partial, self.number);
        self.partial.clear();
        self.partial_cut = false;
    }
}

/// Follows a live log file across rotation by polling. Each
/// [`poll`](Follower::poll) delivers every complete line written since the
/// last one, exactly once, in order (a rotated file's last lines before
/// the new file's first).
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    current: Option<Tail>,
    old: Option<(Tail, u32)>,
    start_at_end: bool,
    chunk: Vec<u8>,
    stats: FollowStats,
}

impl Follower {
    /// Follow `path`. With `from_start` the file as it is now is read from
    /// its first line; otherwise from its current end (like `tail -F`).
    /// Files that appear after rotation are always read from the start.
    pub fn new(path: impl Into<PathBuf>, from_start: bool) -> Self {
        Self {
            path: path.into(),
            current: None,
            old: None,
            start_at_end: !from_start,
            chunk: vec![0; 64 * 1024],
            stats: FollowStats::default(),
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters so far.
    pub fn stats(&self) -> FollowStats {
        self.stats
    }

    /// Deliver every new complete line as `(bytes, line number in its
    /// file)`; returns how many. A missing file is not an error (it may be
    /// between rotation and re-creation).
    pub fn poll(&mut self, on_line: &mut dyn FnMut(&[u8], u64)) -> io::Result<usize> {
        let delivered = self.poll_inner(on_line);
        // Only a file present at the first poll is read from its end.
        self.start_at_end = false;
        delivered
    }

    fn poll_inner(&mut self, on_line: &mut dyn FnMut(&[u8], u64)) -> io::Result<usize> {
        let mut delivered = 0;
        if let Some((old, idle)) = &mut self.old {
            let n = old.drain(&mut self.chunk, &mut self.stats, on_line)?;
            delivered += n;
            *idle = if n == 0 { *idle + 1 } else { 0 };
            if *idle >= OLD_FILE_POLLS {
                delivered += self.retire_old(on_line);
            }
        }
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(cur) = &mut self.current {
                    delivered += cur.drain(&mut self.chunk, &mut self.stats, on_line)?;
                }
                return Ok(delivered);
            }
            Err(e) => return Err(e),
        };
        let id = file_id(&meta);
        match &mut self.current {
            Some(cur) if cur.id != id => {
                // Rotated: finish what was written to the old file, keep
                // draining it a little, and start the new one.
                delivered += cur.drain(&mut self.chunk, &mut self.stats, on_line)?;
                delivered += self.retire_old(on_line);
                self.old = self.current.take().map(|t| (t, 0));
                self.stats.rotations += 1;
                self.open(0)?;
            }
            Some(cur) if meta.len() < cur.pos => {
                self.stats.truncations += 1;
                cur.file.seek(SeekFrom::Start(0))?;
                cur.pos = 0;
                cur.partial.clear();
                cur.partial_cut = false;
            }
            Some(_) => {}
            None => {
                let start = if self.start_at_end { meta.len() } else { 0 };
                self.open(start)?;
            }
        }
        if let Some(cur) = &mut self.current {
            delivered += cur.drain(&mut self.chunk, &mut self.stats, on_line)?;
        }
        Ok(delivered)
    }

    /// Poll every `interval` until `stop` is set, delivering lines.
    pub fn run(
        &mut self,
        interval: std::time::Duration,
        stop: &std::sync::atomic::AtomicBool,
        on_line: &mut dyn FnMut(&[u8], u64),
    ) -> io::Result<()> {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if self.poll(on_line)? == 0 {
                std::thread::sleep(interval);
            }
        }
        Ok(())
    }

    fn open(&mut self, start: u64) -> io::Result<()> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let id = file_id(&file.metadata()?);
        file.seek(SeekFrom::Start(start))?;
        self.current = Some(Tail {
            file,
            id,
            pos: start,
            partial: Vec::new(),
            partial_cut: false,
            number: 0,
        });
        Ok(())
    }

    /// Close the old file, delivering an unterminated last line.
    fn retire_old(&mut self, on_line: &mut dyn FnMut(&[u8], u64)) -> usize {
        match self.old.take() {
            Some((mut old, _)) if !old.partial.is_empty() => {
                old.deliver(&mut self.stats, on_line);
                1
            }
            _ => 0,
        }
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const GOOD: &str =
        r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "ua""#;

    #[test]
    fn lines_are_bounded_and_numbered() {
        let data = b"one\r\ntwo\n0123456789abc\nlast";
        let mut r = LineReader::with_max_len(&data[..], 8);
        let l = r.next_line().unwrap().unwrap();
        assert_eq!((l.number, l.bytes, l.truncated), (1, &b"one\r"[..], false));
        assert_eq!(r.next_line().unwrap().unwrap().bytes, b"two");
        let l = r.next_line().unwrap().unwrap();
        assert_eq!((l.bytes, l.truncated), (&b"01234567"[..], true));
        let l = r.next_line().unwrap().unwrap();
        assert_eq!((l.number, l.bytes), (4, &b"last"[..]));
        assert!(r.next_line().unwrap().is_none());
    }

    #[test]
    fn bad_lines_are_counted_sampled_and_skipped() {
        let mut text = String::new();
        for i in 0..10 {
            text.push_str(GOOD);
            text.push('\n');
            text.push_str(&format!("garbage {i}\n\n"));
        }
        let mut reader = LogReader::new("access.log", text.as_bytes(), Parser::nginx_combined());
        let records: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 10);
        let stats = reader.stats();
        assert_eq!((stats.lines, stats.records, stats.bad), (30, 10, 10));
        assert_eq!(stats.samples.len(), MAX_BAD_SAMPLES);
        let first = &stats.samples[0];
        assert_eq!((first.file.as_str(), first.line), ("access.log", 2));
        assert_eq!(first.text, "garbage 0");
        assert_eq!(first.to_string(), format!("access.log:2: {}", first.reason));
        assert!(first.reason.contains("$remote_addr"), "{first}");
    }

    #[test]
    fn gzip_and_plain_files_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("access.log");
        let gz = dir.path().join("access.log.1.gz");
        let body = format!("{GOOD}\n{GOOD}\n");
        std::fs::write(&plain, &body).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        // Two gzip members, as `cat a.gz b.gz` makes.
        let mut bytes = enc.finish().unwrap();
        bytes.extend_from_within(..);
        std::fs::write(&gz, &bytes).unwrap();
        let count = |p: &Path| {
            LogReader::new(
                p.display().to_string(),
                open(p).unwrap(),
                Parser::nginx_combined(),
            )
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .len()
        };
        assert_eq!(count(&plain), 2);
        assert_eq!(count(&gz), 4);
        let e = open(&dir.path().join("missing.log")).err().unwrap();
        assert!(e.to_string().starts_with("cannot open "), "{e}");
        assert!(e.to_string().contains("missing.log"), "{e}");
    }

    #[test]
    fn corrupt_gzip_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("bad.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad]).unwrap();
        let mut reader = LogReader::new("bad.gz", open(&gz).unwrap(), Parser::nginx_combined());
        let e = reader.next().unwrap().unwrap_err();
        assert!(
            e.to_string().starts_with("cannot read bad.gz after line 0"),
            "{e}"
        );
    }

    #[test]
    fn detect_then_read_every_line() {
        let text = format!("{GOOD}\n{GOOD}\nbad\n{GOOD}");
        let (mut reader, detection) = LogReader::detect("x.log", text.as_bytes(), None).unwrap();
        assert_eq!(detection.parsed, 3);
        assert_eq!(detection.sampled, 4);
        assert_eq!(reader.by_ref().count(), 3);
        assert_eq!(reader.stats().bad, 1);
        assert_eq!(reader.stats().samples[0].line, 3);
        let e = LogReader::detect("y.log", &b"what\never\n"[..], None)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("cannot detect the log format of y.log: "),
            "{e}"
        );
    }

    fn collect(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        f.poll(&mut |l, _| out.push(String::from_utf8_lossy(l).into_owned()))
            .unwrap();
        out
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follow_across_rename_and_create() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        append(&log, "old-0\n");
        let mut f = Follower::new(&log, false);
        assert!(collect(&mut f).is_empty(), "starts at the end");
        append(&log, "a1\na2\npart");
        assert_eq!(collect(&mut f), ["a1", "a2"]);
        append(&log, "ial\n");
        // Rotate: rename, the server still writes one line to the old file
        // before it reopens, then writes to the new one.
        let rotated = dir.path().join("access.log.1");
        std::fs::rename(&log, &rotated).unwrap();
        assert_eq!(collect(&mut f), ["partial"], "renamed file still drained");
        append(&rotated, "late\n");
        append(&log, "b1\nb2\n");
        assert_eq!(collect(&mut f), ["late", "b1", "b2"]);
        append(&rotated, "later\n");
        append(&log, "b3\n");
        assert_eq!(collect(&mut f), ["later", "b3"]);
        assert_eq!(f.stats().rotations, 1);
        for _ in 0..OLD_FILE_POLLS {
            assert!(collect(&mut f).is_empty());
        }
        assert!(f.old.is_none(), "the old file is closed once idle");
        assert_eq!(f.stats().lines, 8);
    }

    #[test]
    fn follow_across_copytruncate() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        append(&log, "x1\nx2\n");
        let mut f = Follower::new(&log, true);
        assert_eq!(collect(&mut f), ["x1", "x2"]);
        append(&log, "x3\n");
        // copytruncate: copy, then truncate in place; the writer's next
        // lines land at the start of the same inode.
        std::fs::copy(&log, dir.path().join("access.log.1")).unwrap();
        assert_eq!(collect(&mut f), ["x3"]);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&log, "y1\n");
        assert_eq!(collect(&mut f), ["y1"]);
        assert_eq!(f.stats().truncations, 1);
        append(&log, "y2\n");
        assert_eq!(collect(&mut f), ["y2"]);
    }

    #[test]
    fn follow_a_file_that_appears_later_and_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("later.log");
        let mut f = Follower::new(&log, false);
        assert!(collect(&mut f).is_empty());
        append(&log, "first\n");
        // A file created after following began is read from its start.
        assert_eq!(collect(&mut f), ["first"]);
        append(&log, &"z".repeat(MAX_LINE + 10));
        append(&log, "\nok\n");
        let lines = collect(&mut f);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], "ok");
        assert_eq!(f.stats().truncated_lines, 1);
    }
}
