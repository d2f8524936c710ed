//! The ground truth: one [`Label`] per entity an actor showed the server (its client
//! address, user agent and session cookie), written as JSON Lines.
//!
//! ```text
//! {"actor":12,"ip":"203.0.113.7","user_agent":"Mozilla/5.0 ...","session":"9f3c...","class":"human","subtype":"browsing","scenario":"browsing","requests":41}
//! ```
//!
//! An actor with one address, one user agent and one cookie has one line; a
//! low-and-slow scraper rotating addresses and user agents has one line per
//! (address, user agent) it used; every person behind a NAT gateway has a line with the
//! gateway's address. `user_agent` and `session` are `null` when the requests carried
//! none.

use std::io::{BufRead, Write};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What an entity is. Labels use the first four; a detector may also say [`Class::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A person with a browser.
    Human,
    /// A search-engine crawler from its operator's published addresses.
    GoodBot,
    /// A bot taking content: fast and low-and-slow scrapers, and fake crawlers (a crawler's
    /// user agent from an address that is not the crawler's: it takes pages like a
    /// crawler, so it is a scraper; the impersonation is its subtype `fake_crawler`).
    Scraper,
    /// A bot attacking the site: vulnerability scanners and credential stuffers.
    Attacker,
    /// No decision (never a label; a detector's "unknown" verdict).
    Unknown,
}

impl Class {
    /// Every class a label can have, in report order.
    pub const LABELLED: [Class; 4] = [
        Class::Human,
        Class::GoodBot,
        Class::Scraper,
        Class::Attacker,
    ];

    /// The class's name as written in labels (`human`, `good_bot`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::Human => "human",
            Class::GoodBot => "good_bot",
            Class::Scraper => "scraper",
            Class::Attacker => "attacker",
            Class::Unknown => "unknown",
        }
    }

    /// True for every class but [`Class::Human`] ([`Class::Unknown`] included: any
    /// verdict that is not "human" is a finding).
    pub fn is_flagged(self) -> bool {
        self != Class::Human
    }
}

/// One labelled entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The actor (one person, crawler, scraper, ...) the entity belongs to.
    pub actor: u32,
    /// Client address as nginx logs it (`$remote_addr`).
    pub ip: IpAddr,
    /// `User-Agent` sent, `None` when the requests had none.
    pub user_agent: Option<String>,
    /// Value of the session cookie ([`crate::SESSION_COOKIE`]) sent, if any.
    pub session: Option<String>,
    /// The truth.
    pub class: Class,
    /// Finer kind: `browsing`, `flash_sale`, `gateway`; `googlebot`, `bingbot`,
    /// `duckduckbot`; `fast`, `low_and_slow`, `fake_crawler`; `scanner`,
    /// `credential_stuffing`.
    pub subtype: String,
    /// The scenario that produced it: `browsing`, `flash_sale`, `nat_gateway`,
    /// `verified_crawler`, `fake_crawler`, `fast_scraper`, `low_and_slow_scraper`,
    /// `credential_stuffing`, `vulnerability_scan`.
    pub scenario: String,
    /// Requests this entity sent.
    pub requests: u64,
}

/// Writes `labels` as JSON Lines.
pub fn write_labels<W: Write>(labels: &[Label], mut out: W) -> Result<(), Error> {
    for label in labels {
        serde_json::to_writer(&mut out, label).map_err(Error::Json)?;
        out.write_all(b"\n").map_err(Error::Write)?;
    }
    out.flush().map_err(Error::Write)
}

/// Reads JSON Lines labels; blank lines are skipped, a bad line is an error naming it.
pub fn read_labels<R: BufRead>(input: R) -> Result<Vec<Label>, Error> {
    let mut labels = Vec::new();
    for (number, line) in input.lines().enumerate() {
        let line = line.map_err(Error::Read)?;
        if line.trim().is_empty() {
            continue;
        }
        let label = serde_json::from_str(&line).map_err(|source| Error::Label {
            line: number + 1,
            source,
        })?;
        labels.push(label);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_json_lines() {
        let labels = vec![
            Label {
                actor: 1,
                ip: "2a02:1::5".parse().unwrap(),
                user_agent: Some("Mozilla/5.0 \"quoted\"".into()),
                session: Some("abc".into()),
                class: Class::Human,
                subtype: "browsing".into(),
                scenario: "browsing".into(),
                requests: 3,
            },
            Label {
                actor: 2,
                ip: "192.0.2.1".parse().unwrap(),
                user_agent: None,
                session: None,
                class: Class::Attacker,
                subtype: "scanner".into(),
                scenario: "vulnerability_scan".into(),
                requests: 300,
            },
        ];
        let mut out = Vec::new();
        write_labels(&labels, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"class\":\"good_bot\"") || text.contains("\"class\":\"attacker\""));
        assert_eq!(read_labels(&out[..]).unwrap(), labels);
        let err = read_labels(&b"\n{\"actor\":1}\n"[..]).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
