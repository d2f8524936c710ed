//! What the detectors read off records: a flow's shape (probe, half-open,
//! handshake completed), the times of a record in event time, and the
//! features of a DNS name (parent domain, label lengths, Shannon entropy).

use std::net::IpAddr;

use vigil_event::{Event, FlowRecord};

/// One flow as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowView<'a> {
    /// The record.
    pub flow: &'a FlowRecord,
    /// Originator address.
    pub src: IpAddr,
    /// Responder address.
    pub dst: IpAddr,
    /// Responder port (0 when port-less).
    pub dport: u16,
    /// IANA protocol number.
    pub proto: u8,
    /// First packet, ns since the epoch.
    pub start: i64,
    /// Last packet, ns since the epoch.
    pub end: i64,
    /// The TCP three-way handshake completed (or the flow was picked up
    /// mid-stream with data); for other protocols: the responder answered.
    pub answered: bool,
    /// TCP: the originator sent a SYN and the handshake never completed
    /// (S0, REJ, RSTOS0, SH, and RSTO/RSTR after a bare SYN-ACK as a SYN
    /// scan leaves them).
    pub half_open: bool,
    /// A connection attempt that exchanged no payload: TCP with no payload
    /// either way (failed, or opened and closed empty as a connect scan
    /// does); UDP with no answer.
    pub probe: bool,
}

impl<'a> FlowView<'a> {
    /// The view of a flow record carried by `event` (stamped with its start).
    pub fn new(event: &Event, flow: &'a FlowRecord) -> Self {
        let start = event.time_ns.nanos();
        let end = start.saturating_add(flow.duration_us.max(0).saturating_mul(1_000));
        let proto = flow.connection_info.protocol_num;
        let t = &flow.traffic;
        let history = flow.history.as_deref().unwrap_or("");
        let (answered, half_open, probe) = if proto == 6 {
            // Zeek history: 'A' a pure ACK and 'D' data from the originator
            // (upper case); either means it got past the SYN.
            let completed = history.contains('A')
                || history.contains('D')
                || matches!(flow.conn_state.as_deref(), Some("SF" | "S1" | "S2" | "S3"));
            let syn = history.contains('S');
            let empty = t.payload_bytes_out == 0 && t.payload_bytes_in == 0;
            (completed, syn && !completed, empty)
        } else {
            let answered = t.packets_in > 0;
            (answered, false, proto == 17 && !answered)
        };
        Self {
            flow,
            src: flow.src_endpoint.ip,
            dst: flow.dst_endpoint.ip,
            dport: flow.dst_endpoint.port.unwrap_or(0),
            proto,
            start,
            end,
            answered,
            half_open,
            probe,
        }
    }

    /// Whether the flow is TCP or UDP (the detectors ignore the rest).
    pub fn tcp_or_udp(&self) -> bool {
        self.proto == 6 || self.proto == 17
    }
}

/// Shannon entropy of the bytes of `s`, in bits per byte (0 for empty).
pub(crate) fn shannon_entropy(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Second-level labels under which registries sell names in many ccTLDs
/// (`example.co.uk`). Without the Public Suffix List this is an
/// approximation; it is enough to group a tunnel's names under their
/// parent.
const SECOND_LEVELS: &[&str] = &[
    "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil",
];

/// A DNS name split for the detectors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NameFeatures {
    /// The registrable parent: the last two labels, or three under a
    /// ccTLD's common second level (`example.co.uk`); lower case.
    pub parent: String,
    /// The labels left of the parent, joined with dots; lower case.
    pub subdomain: String,
    /// The label that makes the parent registrable (`example`).
    pub registrable_label: String,
    /// The longest label of the subdomain.
    pub longest_label: usize,
    /// Shannon entropy of the subdomain without its dots (bits per byte).
    pub entropy: f64,
}

impl NameFeatures {
    /// Split `name` (no trailing dot needed).
    pub fn of(name: &str) -> Self {
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = lower.split('.').filter(|l| !l.is_empty()).collect();
        let n = labels.len();
        let keep = match labels.as_slice() {
            [.., sld, tld] if tld.len() == 2 && SECOND_LEVELS.contains(sld) && n >= 3 => 3,
            _ => 2,
        }
        .min(n);
        let split = n - keep;
        let sub_labels = labels.get(..split).unwrap_or(&[]);
        let subdomain = sub_labels.join(".");
        let longest_label = sub_labels.iter().map(|l| l.len()).max().unwrap_or(0);
        let entropy = shannon_entropy(&sub_labels.concat());
        Self {
            parent: labels.get(split..).unwrap_or(&[]).join("."),
            registrable_label: labels
                .get(split)
                .map(|s| (*s).to_owned())
                .unwrap_or_default(),
            subdomain,
            longest_label,
            entropy,
        }
    }
}

/// Mean and coefficient of variation (σ/μ, population) of `xs`; `None`
/// for an empty slice or a zero mean.
pub(crate) fn mean_cv(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Some((mean, var.sqrt() / mean))
}

/// `x` rounded to 3 decimals, for evidence that reads well and stays stable.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant_strings() {
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn parent_domains() {
        let f = NameFeatures::of("a1b2.c3.tunnel.example.com.");
        assert_eq!(f.parent, "example.com");
        assert_eq!(f.subdomain, "a1b2.c3.tunnel");
        assert_eq!(f.registrable_label, "example");
        assert_eq!(f.longest_label, 6);
        let f = NameFeatures::of("www.Example.co.uk");
        assert_eq!(
            (f.parent.as_str(), f.subdomain.as_str()),
            ("example.co.uk", "www")
        );
        let f = NameFeatures::of("localhost");
        assert_eq!((f.parent.as_str(), f.subdomain.as_str()), ("localhost", ""));
        assert_eq!(f.registrable_label, "localhost");
    }

    #[test]
    fn cv_of_regular_and_irregular_series() {
        let (m, cv) = mean_cv(&[2.0, 2.0, 2.0]).unwrap_or_default();
        assert_eq!((m, cv), (2.0, 0.0));
        let (_, cv) = mean_cv(&[1.0, 3.0]).unwrap_or_default();
        assert!((cv - 0.5).abs() < 1e-9);
        assert!(mean_cv(&[]).is_none());
    }
}
