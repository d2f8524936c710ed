//! Direct mode: the scenario's log written without nginx, each line exactly as the
//! generator's nginx would log it (same format, escaping, statuses and byte counts, from
//! [`crate::Site`]), in time order. For benchmark inputs of millions of lines.

use std::io::Write;

use crate::format::{self, Line};
use crate::{Error, Scenario};

/// What direct mode wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectSummary {
    /// Lines written.
    pub lines: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes every request of `scenario` as a log line to `out`, in the format
/// [`crate::log_format`]`(true, session)` describes: the time field is the simulated time
/// (with `session`, the session cookie is appended as one more field).
pub fn write_log<W: Write>(
    scenario: &Scenario,
    session: bool,
    mut out: W,
) -> Result<DirectSummary, Error> {
    let mut summary = DirectSummary::default();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut time_text = String::new();
    let mut time_secs = i64::MIN;
    for request in scenario.requests() {
        let secs = request.time_unix_ms.div_euclid(1000);
        if secs != time_secs {
            time_secs = secs;
            time_text = format::time_local(request.time_unix_ms);
        }
        let (status, bytes) = scenario.response(&request);
        format::write_line(
            &mut buf,
            &Line {
                client: request.client,
                time: &time_text,
                method: request.method.as_str(),
                target: request.target,
                status,
                bytes,
                referer: request.referer,
                user_agent: request.user_agent,
                session: session.then_some(request.session),
            },
        );
        summary.lines += 1;
        if buf.len() >= 1 << 16 {
            out.write_all(&buf).map_err(Error::Write)?;
            summary.bytes += buf.len() as u64;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(Error::Write)?;
    summary.bytes += buf.len() as u64;
    out.flush().map_err(Error::Write)?;
    Ok(summary)
}
