//! JSON Lines output: one event per line, flushed by the caller.

use std::io::Write;

use crate::event::Event;

/// Writing an event failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The event could not be serialized.
    #[error("cannot serialize event: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The underlying writer failed.
    #[error("cannot write event: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes events as JSON Lines to any `Write`; counts what it wrote.
#[derive(Debug)]
pub struct JsonLinesWriter<W: Write> {
    inner: W,
    written: u64,
    /// One serialized line: serde_json writes many small pieces, which cost
    /// a call each through a `dyn Write`; into a `Vec` they are inlined
    /// copies, and the line then goes to `inner` in one write.
    line: Vec<u8>,
}

impl<W: Write> JsonLinesWriter<W> {
    /// Wrap a writer (wrap it in a `BufWriter` first for files and pipes).
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            written: 0,
            line: Vec::with_capacity(1024),
        }
    }

    /// Write one event and a newline.
    pub fn write(&mut self, event: &Event) -> Result<(), WriteError> {
        self.write_value(event)
    }

    /// Write any serializable value as one line (used for other output formats).
    pub fn write_value<T: serde::Serialize>(&mut self, value: &T) -> Result<(), WriteError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.inner.write_all(&self.line)?;
        self.written += 1;
        Ok(())
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.inner.flush()?;
        Ok(())
    }

    /// Unwrap the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Body, ConnectionInfo, Endpoint, SshActivity, Timestamp};

    fn ssh_event() -> Event {
        Event::new(
            Timestamp::from_secs_micros(1_700_000_000, 5),
            Body::Ssh(SshActivity {
                src_endpoint: Endpoint::new("10.0.0.1".parse().unwrap(), 5555),
                dst_endpoint: Endpoint::new("10.0.0.2".parse().unwrap(), 22),
                connection_info: ConnectionInfo::tcp("F1", "1:x"),
                client_version: Some("SSH-2.0-test".into()),
                server_version: Some("SSH-2.0-srv".into()),
            }),
        )
    }

    #[test]
    fn round_trips_through_json_lines() {
        let event = ssh_event();
        let mut w = JsonLinesWriter::new(Vec::new());
        w.write(&event).unwrap();
        w.write(&event).unwrap();
        assert_eq!(w.written(), 2);
        let text = String::from_utf8(w.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let back = Event::from_json_line(lines[0]).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn carries_ocsf_class_and_observables() {
        let v: serde_json::Value =
            serde_json::from_str(&ssh_event().to_json_line().unwrap()).unwrap();
        assert_eq!(v["class_uid"], 4007);
        assert_eq!(v["type_uid"], 400706);
        assert_eq!(v["severity_id"], 1);
        assert_eq!(v["record"], "ssh");
        assert_eq!(v["src_endpoint"]["ip"], "10.0.0.1");
        let obs = v["observables"].as_array().unwrap();
        assert!(obs
            .iter()
            .any(|o| o["value"] == "10.0.0.2" && o["type_id"] == 2));
    }
}
