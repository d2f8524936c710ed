//! [`AccessRecord`]: one request as a web server or WAF logged it.
//!
//! Every log format (nginx `log_format`, Apache `LogFormat`, JSON logs,
//! ModSecurity/Coraza audit logs) parses into this one type, so the bot
//! detector never sees a format. Fields a format does not carry are `None`
//! (or empty); variables the detector has no named field for are kept in
//! [`AccessRecord::fields`] by their variable name, so a configured session
//! cookie or header can be found there.

use std::net::IpAddr;

use vigil_event::Timestamp;

/// At most this many entries in [`AccessRecord::fields`]; more are dropped.
pub const MAX_FIELDS: usize = 64;

/// One logged request.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRecord {
    /// When the request was logged (nginx `$time_local`/`$time_iso8601`,
    /// Apache `%t`), in event time.
    pub time: Timestamp,
    /// The client address (`$remote_addr`, `%h`/`%a`).
    pub client: IpAddr,
    /// The client's source port (`$remote_port`, `%{remote}p`), when logged.
    pub client_port: Option<u16>,
    /// The server address that took the request (`$server_addr`, `%A`),
    /// when logged.
    pub server_addr: Option<IpAddr>,
    /// The server port (`$server_port`, `%p`), when logged.
    pub server_port: Option<u16>,
    /// The authenticated user (`$remote_user`, `%u`), `None` for `-`.
    pub user: Option<String>,
    /// Request method as logged, e.g. `GET`; empty when the request line
    /// could not be split (nginx logs garbage request lines verbatim).
    pub method: String,
    /// The request target as logged, path plus query, e.g. `/a?b=c`.
    pub target: String,
    /// Protocol as logged, e.g. `HTTP/1.1`; empty for HTTP/0.9 or garbage.
    pub protocol: String,
    /// Response status (`$status`, `%>s`); 0 when the format has none.
    pub status: u16,
    /// Response bytes (`$body_bytes_sent`/`$bytes_sent`, `%b`/`%O`); 0 for `-`.
    pub bytes_sent: u64,
    /// `Referer` header, `None` for `-` or empty.
    pub referer: Option<String>,
    /// `User-Agent` header, `None` for `-` or empty.
    pub user_agent: Option<String>,
    /// `Host` header or server name, when logged.
    pub host: Option<String>,
    /// Request processing time in seconds (`$request_time`, `%D`/`%T`).
    pub request_time: Option<f64>,
    /// `X-Forwarded-For` as logged, when present.
    pub forwarded_for: Option<String>,
    /// WAF rule matches, for ModSecurity/Coraza audit records.
    pub waf_matches: Vec<WafMatch>,
    /// Every other logged variable by its nginx-style name, `-` and empty
    /// values kept out, at most [`MAX_FIELDS`]. nginx variables keep their
    /// name (`cookie_session`, `http_x_request_id`, `upstream_addr`);
    /// Apache request headers and cookies and audit-log headers take the
    /// nginx name (`%{X-Request-Id}i` → `http_x_request_id`, `%{sid}C` →
    /// `cookie_sid`), so one configured session key fits every format;
    /// JSON logs keep their keys.
    pub fields: Vec<(String, String)>,
}

impl Default for AccessRecord {
    fn default() -> Self {
        Self {
            time: Timestamp::default(),
            client: IpAddr::from([0, 0, 0, 0]),
            client_port: None,
            server_addr: None,
            server_port: None,
            user: None,
            method: String::new(),
            target: String::new(),
            protocol: String::new(),
            status: 0,
            bytes_sent: 0,
            referer: None,
            user_agent: None,
            host: None,
            request_time: None,
            forwarded_for: None,
            waf_matches: Vec::new(),
            fields: Vec::new(),
        }
    }
}

impl AccessRecord {
    /// The path part of the target, before any `?`.
    pub fn path(&self) -> &str {
        match self.target.split_once('?') {
            Some((path, _)) => path,
            None => &self.target,
        }
    }

    /// The query string after the first `?`, without it.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The value of another logged variable by its format name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One WAF rule that matched the request (ModSecurity/Coraza audit log).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WafMatch {
    /// Rule id, e.g. `942100`.
    pub id: String,
    /// Rule message.
    pub message: String,
    /// Severity as the WAF wrote it, e.g. `CRITICAL` or `2`.
    pub severity: Option<String>,
    /// Tags, e.g. `attack-sqli`.
    pub tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_split_at_the_first_question_mark() {
        let r = AccessRecord {
            target: "/a?b=c?d".into(),
            ..AccessRecord::default()
        };
        assert_eq!(r.path(), "/a");
        assert_eq!(r.query(), Some("b=c?d"));
        let r = AccessRecord {
            target: "/plain".into(),
            ..AccessRecord::default()
        };
        assert_eq!(r.path(), "/plain");
        assert_eq!(r.query(), None);
    }

    #[test]
    fn other_fields_are_found_by_name() {
        let r = AccessRecord {
            fields: vec![("cookie_session".into(), "abc".into())],
            ..AccessRecord::default()
        };
        assert_eq!(r.field("cookie_session"), Some("abc"));
        assert_eq!(r.field("cookie_other"), None);
    }
}
