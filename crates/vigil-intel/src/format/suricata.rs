//! Suricata IP-reputation rules (ET Open's botcc, ciarmy, compromised,
//! dshield, drop, tor, ...): rules whose header carries the list of bad
//! addresses, `alert ip [1.2.3.4,5.6.7.0/24] any -> $HOME_NET any (…)`.
//!
//! Each active rule is parsed with `vigil_sig`'s rule parser (variables as
//! Suricata's defaults, `$HOME_NET` = `any`), and every address or network
//! named literally on either side of the header (not negated) becomes an
//! indicator, tagged with the rule's classtype and `metadata tag`s, with
//! `gid:sid:rev msg` as reference; a rule `priority` gives the severity
//! (1 high, 2 medium, 3+ low). Rules that do not parse are errors with
//! their line; rules without a literal address are skipped.

use vigil_event::Severity;
use vigil_sig::parse::parse_rule;
use vigil_sig::rule::{AddrSpec, Cidr};
use vigil_sig::vars::Vars;

use super::{Entry, Parsed};
use crate::indicator::{IpNet, Kind};

/// Parse a rule file.
pub fn parse(bytes: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    let vars = Vars::default();
    let mut out = Parsed::default();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        let entry = pending.get_or_insert_with(|| (i + 1, String::new()));
        entry.1.push_str(body);
        if continues {
            continue;
        }
        if let Some((line_no, rule)) = pending.take() {
            one_rule(line_no, rule.trim(), &vars, &mut out);
        }
    }
    if let Some((line_no, rule)) = pending {
        one_rule(line_no, rule.trim(), &vars, &mut out);
    }
    out
}

fn one_rule(line_no: usize, text: &str, vars: &Vars, out: &mut Parsed) {
    if text.is_empty() || text.starts_with('#') {
        return;
    }
    let rule = match parse_rule(text, vars) {
        Ok(r) => r,
        Err(e) => {
            out.error(format!("line {line_no}"), e.to_string());
            return;
        }
    };
    let mut nets = Vec::new();
    literal_nets(&rule.src, &mut nets);
    literal_nets(&rule.dst, &mut nets);
    if nets.is_empty() {
        out.skip("suricata: rule without an address list");
        return;
    }
    let mut tags: Vec<String> = rule.classtype.iter().cloned().collect();
    if let Some(t) = rule.metadata.get("tag") {
        tags.extend(t.iter().cloned());
    }
    let reference = format!("{}:{}:{} {}", rule.gid, rule.sid, rule.rev, rule.msg);
    let severity = rule.priority.map(|p| match p {
        1 => Severity::High,
        2 => Severity::Medium,
        _ => Severity::Low,
    });
    for cidr in nets {
        let Some(net) = IpNet::new(cidr.addr, cidr.prefix) else {
            continue;
        };
        let kind = if net.is_v4() { Kind::Ipv4 } else { Kind::Ipv6 };
        out.entries.push(Entry {
            kind: Some(kind),
            value: net.to_string(),
            tags: tags.clone(),
            reference: Some(reference.clone()),
            severity,
            ..Entry::default()
        });
    }
}

/// The networks a spec names literally and positively.
fn literal_nets(spec: &AddrSpec, out: &mut Vec<Cidr>) {
    match spec {
        AddrSpec::Net(n) => out.push(*n),
        AddrSpec::List(items) => {
            for i in items {
                literal_nets(i, out);
            }
        }
        AddrSpec::Any | AddrSpec::Not(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_become_indicators() {
        let text = b"# comment\n\
alert ip [192.0.2.1,198.51.100.0/24,!203.0.113.1] any -> $HOME_NET any (msg:\"ET DROP group 1\"; classtype:misc-attack; priority:2; sid:2400000; rev:3; metadata:tag Dshield;)\n\
alert ip $HOME_NET any -> [2001:db8::1] any (msg:\"CnC\"; \\\n  sid:2404300; rev:1;)\n\
alert tcp any any -> any 80 (msg:\"no list\"; content:\"x\"; sid:1;)\n\
alert ip [300.1.1.1] any -> any any (msg:\"bad\"; sid:2;)\n";
        let p = parse(text);
        let got: Vec<_> = p.entries.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(got, ["192.0.2.1", "198.51.100.0/24", "2001:db8::1"]);
        assert_eq!(p.entries[0].tags, ["misc-attack", "Dshield"]);
        assert_eq!(p.entries[0].severity, Some(Severity::Medium));
        assert_eq!(
            p.entries[0].reference.as_deref(),
            Some("1:2400000:3 ET DROP group 1")
        );
        assert_eq!(p.skipped.values().sum::<usize>(), 1);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].location, "line 6");
    }
}
