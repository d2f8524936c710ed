//! OCSF observables: every IP, domain, URL, user agent and fingerprint in an
//! event, listed flat so intel matching and rules find them without knowing
//! the event's class.

use serde::{Deserialize, Serialize};

use crate::event::Body;
use crate::network::Endpoint;

/// OCSF observable `type_id`s that Vigil uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObservableType {
    /// 1: a host or domain name.
    Hostname,
    /// 2: an IP address.
    IpAddress,
    /// 5: an e-mail address.
    Email,
    /// 6: a URL string.
    UrlString,
    /// 8: a hash (a file's MD5, SHA-1 or SHA-256, a certificate's
    /// fingerprint).
    Hash,
    /// 16: an HTTP user agent.
    UserAgent,
    /// 30: a fingerprint (JA3, JA3S, JA4, certificate).
    Fingerprint,
    /// 99: anything else.
    Other,
}

impl ObservableType {
    /// The OCSF `type_id`.
    pub const fn id(self) -> u16 {
        match self {
            ObservableType::Hostname => 1,
            ObservableType::IpAddress => 2,
            ObservableType::Email => 5,
            ObservableType::UrlString => 6,
            ObservableType::Hash => 8,
            ObservableType::UserAgent => 16,
            ObservableType::Fingerprint => 30,
            ObservableType::Other => 99,
        }
    }

    /// The OCSF caption.
    pub const fn caption(self) -> &'static str {
        match self {
            ObservableType::Hostname => "Hostname",
            ObservableType::IpAddress => "IP Address",
            ObservableType::Email => "Email Address",
            ObservableType::UrlString => "URL String",
            ObservableType::Hash => "Hash",
            ObservableType::UserAgent => "HTTP User-Agent",
            ObservableType::Fingerprint => "Fingerprint",
            ObservableType::Other => "Other",
        }
    }
}

/// One OCSF observable: where in the event (`name`, a dotted attribute path),
/// what kind, and the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observable {
    /// Attribute path, e.g. `src_endpoint.ip` or `tls.ja4`.
    pub name: String,
    /// OCSF type id.
    pub type_id: u16,
    /// OCSF type caption.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The value as text.
    pub value: String,
}

impl Observable {
    /// A new observable.
    pub fn new(name: &str, kind: ObservableType, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            type_id: kind.id(),
            type_name: kind.caption().to_owned(),
            value: value.into(),
        }
    }
}

fn endpoints(out: &mut Vec<Observable>, src: &Endpoint, dst: &Endpoint) {
    out.push(Observable::new(
        "src_endpoint.ip",
        ObservableType::IpAddress,
        src.ip.to_string(),
    ));
    out.push(Observable::new(
        "dst_endpoint.ip",
        ObservableType::IpAddress,
        dst.ip.to_string(),
    ));
    if let Some(h) = &dst.hostname {
        out.push(Observable::new(
            "dst_endpoint.hostname",
            ObservableType::Hostname,
            h.clone(),
        ));
    }
}

/// Append the observables found in `body` to `out`.
pub(crate) fn collect(body: &Body, out: &mut Vec<Observable>) {
    match body {
        Body::Flow(f) => endpoints(out, &f.src_endpoint, &f.dst_endpoint),
        Body::Dns(d) => {
            endpoints(out, &d.src_endpoint, &d.dst_endpoint);
            if !d.query.hostname.is_empty() {
                out.push(Observable::new(
                    "query.hostname",
                    ObservableType::Hostname,
                    d.query.hostname.clone(),
                ));
            }
            for a in &d.answers {
                let kind = match a.rtype.as_str() {
                    "A" | "AAAA" => ObservableType::IpAddress,
                    "CNAME" | "NS" | "PTR" | "MX" => ObservableType::Hostname,
                    _ => continue,
                };
                let value = match a.rtype.as_str() {
                    // "10 mail.example.com": the name is the last field.
                    "MX" => a.rdata.rsplit(' ').next().unwrap_or_default().to_owned(),
                    _ => a.rdata.clone(),
                };
                out.push(Observable::new("answers.rdata", kind, value));
            }
        }
        Body::Http(h) => {
            endpoints(out, &h.src_endpoint, &h.dst_endpoint);
            let req = &h.http_request;
            if let Some(host) = &req.url.hostname {
                out.push(Observable::new(
                    "http_request.url.hostname",
                    ObservableType::Hostname,
                    host.clone(),
                ));
            }
            let url = match &req.url.hostname {
                Some(host) if req.url.url_string.starts_with('/') => {
                    format!("http://{host}{}", req.url.url_string)
                }
                _ => req.url.url_string.clone(),
            };
            out.push(Observable::new(
                "http_request.url.url_string",
                ObservableType::UrlString,
                url,
            ));
            if let Some(ua) = &req.user_agent {
                out.push(Observable::new(
                    "http_request.user_agent",
                    ObservableType::UserAgent,
                    ua.clone(),
                ));
            }
        }
        Body::Tls(t) => {
            endpoints(out, &t.src_endpoint, &t.dst_endpoint);
            if let Some(sni) = &t.tls.sni {
                out.push(Observable::new(
                    "tls.sni",
                    ObservableType::Hostname,
                    sni.clone(),
                ));
            }
            for (name, v) in [
                ("tls.ja3_hash", &t.tls.ja3_hash),
                ("tls.ja3s_hash", &t.tls.ja3s_hash),
                ("tls.ja4", &t.tls.ja4),
                ("tls.ja4s", &t.tls.ja4s),
            ] {
                if let Some(v) = v {
                    out.push(Observable::new(
                        name,
                        ObservableType::Fingerprint,
                        v.clone(),
                    ));
                }
            }
            if let Some(c) = &t.tls.certificate {
                out.push(Observable::new(
                    "tls.certificate.fingerprint_sha1",
                    ObservableType::Hash,
                    c.fingerprint_sha1.clone(),
                ));
                for san in &c.sans {
                    let kind = if san.parse::<std::net::IpAddr>().is_ok() {
                        ObservableType::IpAddress
                    } else {
                        ObservableType::Hostname
                    };
                    out.push(Observable::new("tls.certificate.sans", kind, san.clone()));
                }
            }
        }
        Body::Ssh(s) => endpoints(out, &s.src_endpoint, &s.dst_endpoint),
        Body::Stats(_) => {}
        Body::Finding(f) => {
            if let Some(src) = &f.src_endpoint {
                out.push(Observable::new(
                    "src_endpoint.ip",
                    ObservableType::IpAddress,
                    src.ip.to_string(),
                ));
            }
            if let Some(dst) = &f.dst_endpoint {
                out.push(Observable::new(
                    "dst_endpoint.ip",
                    ObservableType::IpAddress,
                    dst.ip.to_string(),
                ));
            }
            if f.subject.kind == "host" && f.subject.value.parse::<std::net::IpAddr>().is_ok() {
                out.push(Observable::new(
                    "subject.value",
                    ObservableType::IpAddress,
                    f.subject.value.clone(),
                ));
            }
        }
    }
}
