//! Choosing a log format from a log's first lines, and saying why.
//!
//! [`detect`] tries every known layout (and a configured one, first) on a
//! sample of non-empty lines and keeps the one that parses the most; ties
//! go to the earlier, stricter candidate. The answer names the format, how
//! many sample lines it parsed and, for the `combined` layout that nginx
//! and Apache share, whose escaping the lines show.

use crate::format::{apache, nginx, JsonMapping, Parser};
use crate::record::AccessRecord;

/// Lines a caller should sample (more are ignored).
pub const SAMPLE_LINES: usize = 50;

/// The chosen format and the evidence for it.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The parser to read the log with.
    pub parser: Parser,
    /// Sample lines it parsed.
    pub parsed: usize,
    /// Non-empty sample lines tried.
    pub sampled: usize,
    /// One line for the operator, e.g.
    /// `nginx combined: 20 of 20 sample lines parsed`.
    pub reason: String,
}

/// Why no format was chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// The sample had no non-empty line.
    #[error("no lines to detect a log format from")]
    Empty,
    /// No candidate parsed at least half of the sample.
    #[error(
        "no known log format fits: best was {best} with {parsed} of {sampled} sample lines parsed"
    )]
    NoFit {
        /// The best candidate's name.
        best: String,
        /// Lines it parsed.
        parsed: usize,
        /// Lines sampled.
        sampled: usize,
    },
}

/// The built-in candidates, in order of preference (stricter first).
pub fn candidates() -> Vec<Parser> {
    let mut list = vec![
        Parser::modsecurity(),
        Parser::json(JsonMapping::default()),
        Parser::Template(nginx::main_format()),
        Parser::nginx_combined(),
    ];
    if let Ok(p) = Parser::apache(apache::VHOST_COMBINED) {
        list.push(p);
    }
    if let Ok(p) = Parser::apache("common") {
        list.push(p);
    }
    list
}

/// Pick the format that parses the most of `lines` (at most
/// [`SAMPLE_LINES`] non-empty ones are tried). A `configured` parser is
/// tried first and wins ties.
pub fn detect<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
    configured: Option<Parser>,
) -> Result<Detection, DetectError> {
    let sample: Vec<&[u8]> = lines
        .into_iter()
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SAMPLE_LINES)
        .collect();
    if sample.is_empty() {
        return Err(DetectError::Empty);
    }
    let configured_name = configured.as_ref().map(|p| p.name().to_owned());
    let mut best: Option<(Parser, usize)> = None;
    let mut record = AccessRecord::default();
    for parser in configured.into_iter().chain(candidates()) {
        let parsed = sample
            .iter()
            .filter(|line| parser.parse_into(line, &mut record).is_ok())
            .count();
        if best.as_ref().is_none_or(|(_, n)| parsed > *n) {
            best = Some((parser, parsed));
        }
    }
    let sampled = sample.len();
    let Some((parser, parsed)) = best else {
        return Err(DetectError::Empty);
    };
    if parsed * 2 < sampled || parsed == 0 {
        return Err(DetectError::NoFit {
            best: parser.name().to_owned(),
            parsed,
            sampled,
        });
    }
    let mut name = parser.name().to_owned();
    if configured_name.as_deref() == Some(name.as_str()) {
        name.push_str(" (configured)");
    } else if name == "nginx combined" {
        name = combined_flavour(&sample).to_owned();
    }
    let reason = format!("{name}: {parsed} of {sampled} sample lines parsed");
    Ok(Detection {
        parser,
        parsed,
        sampled,
        reason,
    })
}

/// nginx and Apache write `combined` alike; their escapes and empty byte
/// counts tell them apart when a line shows one.
fn combined_flavour(sample: &[&[u8]]) -> &'static str {
    let has = |needle: &[u8]| {
        sample
            .iter()
            .any(|l| memchr::memmem::find(l, needle).is_some())
    };
    let apache = has(br#"\""#) || has(b"\\\\") || dash_bytes(sample);
    let nginx = has(b"\\x22") || has(b"\\x5C");
    match (nginx, apache) {
        (true, false) => "nginx combined",
        (false, true) => "apache combined",
        _ => "combined (nginx or apache; same layout and escapes read)",
    }
}

/// Apache's `%b` writes `-` for an empty body; nginx writes `0`.
fn dash_bytes(sample: &[&[u8]]) -> bool {
    sample.iter().any(|l| {
        memchr::memmem::find_iter(l, b"\" ").any(|at| {
            let rest = l.get(at + 2..).unwrap_or_default();
            rest.len() > 5
                && rest.iter().take(3).all(u8::is_ascii_digit)
                && rest.get(3..6) == Some(b" - ")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&[u8]> {
        text.lines().map(str::as_bytes).collect()
    }

    #[test]
    fn combined_common_json_and_audit_are_told_apart() {
        let combined =
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "curl/8\x22""#;
        let d = detect(lines(combined), None).unwrap();
        assert_eq!(d.parser.name(), "nginx combined");
        assert_eq!(d.reason, "nginx combined: 1 of 1 sample lines parsed");

        let apache = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 304 - "-" "x""#;
        assert!(detect(lines(apache), None)
            .unwrap()
            .reason
            .starts_with("apache combined"));

        let common = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326\n\n";
        let d = detect(lines(common), None).unwrap();
        assert_eq!(d.parser.name(), "apache common");
        assert_eq!(d.sampled, 1);

        let main = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "curl" "1.2.3.4""#;
        assert_eq!(
            detect(lines(main), None).unwrap().parser.name(),
            "nginx main"
        );

        let json = r#"{"time_iso8601":"2024-03-01T10:00:00+00:00","remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":200}"#;
        assert_eq!(
            detect(lines(json), None).unwrap().parser.name(),
            "json lines"
        );

        let audit = crate::format::modsec::tests::MODSEC_V3;
        assert_eq!(
            detect(lines(audit), None).unwrap().parser.name(),
            "modsecurity/coraza json audit"
        );
    }

    #[test]
    fn configured_format_wins_and_garbage_is_refused() {
        let custom = Parser::nginx("log_format t '$remote_addr $status $request_time';").unwrap();
        let d = detect(lines("1.2.3.4 200 0.001\n1.2.3.4 404 0.002"), Some(custom)).unwrap();
        assert_eq!(
            d.reason,
            "nginx log_format t (configured): 2 of 2 sample lines parsed"
        );
        let e = detect(lines("hello\nworld\n"), None).unwrap_err();
        assert!(
            matches!(
                e,
                DetectError::NoFit {
                    parsed: 0,
                    sampled: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            detect(lines("\n \n"), None).unwrap_err(),
            DetectError::Empty
        );
    }

    #[test]
    fn a_majority_is_enough_and_reported() {
        let text = "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 \"-\" \"a\"\n\
                    garbage\n\
                    10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] \"GET /b HTTP/1.1\" 200 5 \"-\" \"b\"";
        let d = detect(lines(text), None).unwrap();
        assert_eq!((d.parsed, d.sampled), (2, 3));
        assert!(d.reason.contains("2 of 3"), "{}", d.reason);
    }
}
