//! Where events go: JSON Lines on stdout, or one file per record kind in a
//! directory; in Vigil's OCSF-aligned form or as Suricata EVE JSON.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use vigil_event::{eve, Event, JsonLinesWriter, RecordKind};

/// The JSON shape of each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Vigil's events as they are.
    Ocsf,
    /// Suricata-compatible EVE JSON.
    Eve,
}

/// A destination for events.
pub struct EventSink {
    format: OutputFormat,
    target: Target,
}

enum Target {
    Stdout(Writer),
    Directory {
        dir: PathBuf,
        files: BTreeMap<RecordKind, Writer>,
    },
}

type Writer = JsonLinesWriter<Box<dyn Write + Send>>;

impl EventSink {
    /// JSON Lines on stdout.
    pub fn stdout(format: OutputFormat) -> Self {
        let out: Box<dyn Write + Send> =
            Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
        Self {
            format,
            target: Target::Stdout(JsonLinesWriter::new(out)),
        }
    }

    /// One `<kind>.jsonl` file per record kind in `dir` (created if needed);
    /// files are created when their first record arrives.
    pub fn directory(dir: &Path, format: OutputFormat) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        Ok(Self {
            format,
            target: Target::Directory {
                dir: dir.to_path_buf(),
                files: BTreeMap::new(),
            },
        })
    }

    /// Write one event (an EVE DNS pair writes two lines).
    pub fn write(&mut self, event: &Event) -> anyhow::Result<()> {
        let writer = match &mut self.target {
            Target::Stdout(w) => w,
            Target::Directory { dir, files } => match files.entry(event.kind()) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let path = dir.join(format!("{}.jsonl", event.kind().name()));
                    let file = File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let out: Box<dyn Write + Send> =
                        Box::new(BufWriter::with_capacity(1 << 16, file));
                    e.insert(JsonLinesWriter::new(out))
                }
            },
        };
        match self.format {
            OutputFormat::Ocsf => writer.write(event)?,
            OutputFormat::Eve => {
                for record in eve::to_eve(event) {
                    writer.write_value(&record)?;
                }
            }
        }
        Ok(())
    }

    /// Flush everything.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        match &mut self.target {
            Target::Stdout(w) => w.flush()?,
            Target::Directory { files, .. } => {
                for w in files.values_mut() {
                    w.flush()?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        // Best effort on an early return; `finish` reports errors properly.
        if let Target::Stdout(w) = &mut self.target {
            let _ = w.flush();
        }
    }
}
