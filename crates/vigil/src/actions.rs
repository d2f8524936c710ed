//! Rule actions: what happens when a rule fires, beyond the finding written
//! to the output. Each [`ActionSpec`] of a rule becomes an [`Action`]:
//!
//! - `webhook`: HTTP POST of the finding as JSON (http or https), retried
//!   with exponential backoff on connection errors, 429 and 5xx;
//! - `email`: a plain-text mail over SMTP (optionally STARTTLS and AUTH);
//! - `syslog`: one RFC 5424 message over UDP, or over TCP with RFC 6587
//!   octet counting;
//! - `exec`: a program run with an argument vector (no shell), the finding
//!   as JSON on its standard input, killed after a timeout.
//!
//! The [`Dispatcher`] runs them on one worker thread behind a bounded queue,
//! so a slow receiver slows the analysis down (backpressure) but never
//! makes memory grow, and [`Dispatcher::finish`] waits for every queued
//! delivery before reporting what was delivered and what failed. Failures
//! are logged with the rule and the action and counted; they never stop
//! the analysis.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use vigil_event::{Body, Event, Severity};
use vigil_rules::spec::ActionSpec;

/// Queued deliveries before `dispatch` blocks.
const QUEUE: usize = 1024;
/// Per-attempt timeout of network actions.
const NET_TIMEOUT: Duration = Duration::from_secs(10);
/// Default program timeout.
const EXEC_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay of a webhook; doubles each attempt.
const RETRY_BASE: Duration = Duration::from_millis(200);
/// Most output kept from a program, for the error message.
const EXEC_OUTPUT_MAX: usize = 4096;

/// One configured action, ready to fire.
pub enum Action {
    /// HTTP POST.
    Webhook {
        /// Target URL.
        url: String,
        /// Attempts in all.
        attempts: u32,
        /// Extra headers.
        headers: BTreeMap<String, String>,
        /// Reused connection pool.
        agent: ureq::Agent,
    },
    /// SMTP mail.
    Email {
        /// Transport (connection settings).
        transport: lettre::SmtpTransport,
        /// Sender.
        from: lettre::message::Mailbox,
        /// Recipients.
        to: Vec<lettre::message::Mailbox>,
    },
    /// RFC 5424 syslog.
    Syslog {
        /// Receiver address `host:port`.
        addr: String,
        /// TCP (octet counting) instead of UDP.
        tcp: bool,
        /// Facility number (0-23).
        facility: u8,
        /// This host's name for the HOSTNAME field.
        hostname: String,
    },
    /// A program.
    Exec {
        /// Program and arguments.
        argv: Vec<String>,
        /// Kill after this long.
        timeout: Duration,
    },
}

impl Action {
    /// Build the action of `spec`; settings are checked here, so a rule file
    /// with a bad action is refused before any event is read.
    pub fn new(spec: &ActionSpec) -> anyhow::Result<Self> {
        Ok(match spec {
            ActionSpec::Webhook {
                url,
                retries,
                headers,
            } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("webhook url `{url}` is not http:// or https://");
                }
                let config = ureq::Agent::config_builder()
                    .timeout_global(Some(NET_TIMEOUT))
                    .http_status_as_error(false)
                    .build();
                Action::Webhook {
                    url: url.clone(),
                    attempts: retries.unwrap_or(3).clamp(1, 10),
                    headers: headers.clone(),
                    agent: ureq::Agent::new_with_config(config),
                }
            }
            ActionSpec::Email {
                server,
                from,
                to,
                starttls,
                username,
                password_env,
            } => {
                let (host, port) = match server.rsplit_once(':') {
                    Some((h, p)) => (
                        h,
                        p.parse::<u16>()
                            .with_context(|| format!("email server `{server}`: bad port"))?,
                    ),
                    None => (server.as_str(), 25),
                };
                let mut builder = if *starttls {
                    lettre::SmtpTransport::starttls_relay(host)
                        .with_context(|| format!("email server `{server}`"))?
                } else {
                    lettre::SmtpTransport::builder_dangerous(host)
                }
                .port(port)
                .timeout(Some(NET_TIMEOUT));
                if let Some(user) = username {
                    let var = password_env
                        .as_deref()
                        .ok_or_else(|| anyhow!("email: `username` needs `password_env`"))?;
                    let password = std::env::var(var)
                        .with_context(|| format!("email: environment variable `{var}`"))?;
                    builder = builder.credentials(
                        lettre::transport::smtp::authentication::Credentials::new(
                            user.clone(),
                            password,
                        ),
                    );
                }
                let from = from
                    .parse()
                    .with_context(|| format!("email: sender `{from}`"))?;
                let to = to
                    .iter()
                    .map(|t| t.parse().with_context(|| format!("email: recipient `{t}`")))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                if to.is_empty() {
                    bail!("email: no recipient");
                }
                Action::Email {
                    transport: builder.build(),
                    from,
                    to,
                }
            }
            ActionSpec::Syslog { target, facility } => {
                let (tcp, addr) = if let Some(a) = target.strip_prefix("udp://") {
                    (false, a)
                } else if let Some(a) = target.strip_prefix("tcp://") {
                    (true, a)
                } else {
                    bail!("syslog target `{target}` is not udp://host:port or tcp://host:port");
                };
                if !addr.contains(':') {
                    bail!("syslog target `{target}` has no port");
                }
                let facility = facility_number(facility.as_deref().unwrap_or("local0"))
                    .ok_or_else(|| {
                        anyhow!(
                            "syslog: unknown facility `{}`",
                            facility.as_deref().unwrap_or_default()
                        )
                    })?;
                Action::Syslog {
                    addr: addr.to_owned(),
                    tcp,
                    facility,
                    hostname: local_hostname(),
                }
            }
            ActionSpec::Exec { argv, timeout } => {
                if argv.is_empty() || argv[0].is_empty() {
                    bail!("exec: empty argv");
                }
                let timeout = match timeout {
                    Some(t) => parse_seconds(t).with_context(|| format!("exec timeout `{t}`"))?,
                    None => EXEC_TIMEOUT,
                };
                Action::Exec {
                    argv: argv.clone(),
                    timeout,
                }
            }
        })
    }

    /// The action's kind, for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Webhook { .. } => "webhook",
            Action::Email { .. } => "email",
            Action::Syslog { .. } => "syslog",
            Action::Exec { .. } => "exec",
        }
    }

    /// Deliver `finding` (with its JSON form `json`). Returns the attempts made.
    pub fn fire(&self, finding: &Event, json: &str) -> anyhow::Result<u32> {
        match self {
            Action::Webhook {
                url,
                attempts,
                headers,
                agent,
            } => {
                let mut delay = RETRY_BASE;
                let mut last = String::new();
                for attempt in 1..=*attempts {
                    let mut request = agent.post(url).header("content-type", "application/json");
                    for (k, v) in headers {
                        request = request.header(k, v);
                    }
                    match request.send(json) {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            if (200..300).contains(&status) {
                                return Ok(attempt);
                            }
                            last = format!("HTTP {status}");
                            if !(status == 429 || status >= 500) {
                                bail!("webhook {url}: {last} (not retried)");
                            }
                        }
                        Err(e) => last = e.to_string(),
                    }
                    if attempt < *attempts {
                        std::thread::sleep(delay);
                        delay = delay.saturating_mul(2);
                    }
                }
                bail!("webhook {url}: {last} after {attempts} attempts")
            }
            Action::Email {
                transport,
                from,
                to,
            } => {
                use lettre::Transport;
                let mut builder = lettre::Message::builder()
                    .from(from.clone())
                    .subject(format!("[Vigil] {}", title(finding)));
                for t in to {
                    builder = builder.to(t.clone());
                }
                let message = builder
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(mail_body(finding, json))
                    .context("email: building the message")?;
                transport.send(&message).context("email: SMTP")?;
                Ok(1)
            }
            Action::Syslog {
                addr,
                tcp,
                facility,
                hostname,
            } => {
                let line = rfc5424(finding, json, *facility, hostname);
                if *tcp {
                    let mut stream = TcpStream::connect(addr.as_str())
                        .with_context(|| format!("syslog tcp://{addr}"))?;
                    stream.set_write_timeout(Some(NET_TIMEOUT))?;
                    // RFC 6587 octet counting: "LEN SP MSG".
                    stream
                        .write_all(format!("{} {}", line.len(), line).as_bytes())
                        .with_context(|| format!("syslog tcp://{addr}"))?;
                } else {
                    let bind = if addr.starts_with('[') {
                        "[::]:0"
                    } else {
                        "0.0.0.0:0"
                    };
                    let socket = UdpSocket::bind(bind)?;
                    socket
                        .send_to(line.as_bytes(), addr.as_str())
                        .with_context(|| format!("syslog udp://{addr}"))?;
                }
                Ok(1)
            }
            Action::Exec { argv, timeout } => {
                run_program(argv, *timeout, json)?;
                Ok(1)
            }
        }
    }
}

/// Run `argv` with `input` on stdin; fail on a non-zero exit or a timeout.
fn run_program(argv: &[String], timeout: Duration, input: &str) -> anyhow::Result<()> {
    use wait_timeout::ChildExt;
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("exec `{}`", argv[0]))?;
    // Write stdin from a thread: a program that does not read it must not
    // block us past the timeout.
    let writer = child.stdin.take().map(|mut stdin| {
        let data = input.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
            let _ = stdin.write_all(b"\n");
        })
    });
    let status = match child.wait_timeout(timeout)? {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            if let Some(w) = writer {
                let _ = w.join();
            }
            bail!("exec `{}`: killed after {:?}", argv[0], timeout);
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    if !status.success() {
        let mut err = Vec::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr
                .by_ref()
                .take(EXEC_OUTPUT_MAX as u64)
                .read_to_end(&mut err);
        }
        bail!(
            "exec `{}`: {status}: {}",
            argv[0],
            String::from_utf8_lossy(&err).trim()
        );
    }
    Ok(())
}

/// A duration as rule files write them (`30s`, `5m`, `1h`, `200ms`:
/// [`vigil_rules::duration::parse`]), or a plain number of seconds.
fn parse_seconds(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let with_unit = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{t}s")
    } else {
        t.to_owned()
    };
    Ok(vigil_rules::duration::parse(&with_unit)?)
}

fn facility_number(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "authpriv" => 10,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| (33..=126).contains(&b)))
        .unwrap_or_else(|| "-".to_owned())
}

/// RFC 3339 UTC with milliseconds, or `-` (syslog's nil value).
fn iso_time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

fn title(finding: &Event) -> String {
    match &finding.body {
        Body::Finding(f) => f.finding_info.title.clone(),
        _ => finding.class_name.clone(),
    }
}

fn rule_id(finding: &Event) -> Option<&str> {
    match &finding.body {
        Body::Finding(f) => Some(f.finding_info.analytic.uid.as_str()),
        _ => None,
    }
}

fn mail_body(finding: &Event, json: &str) -> String {
    let mut body = format!(
        "{}\n\nseverity: {}\ntime: {}\n",
        title(finding),
        finding.severity,
        iso_time(finding.time)
    );
    if let Body::Finding(f) = &finding.body {
        body.push_str(&format!(
            "rule: {}\nsubject: {} {}\n",
            f.finding_info.analytic.uid, f.subject.kind, f.subject.value
        ));
        if let Some(desc) = &f.finding_info.desc {
            body.push_str(&format!("\n{desc}\n"));
        }
    }
    body.push_str("\nThe finding as JSON:\n");
    body.push_str(json);
    body.push('\n');
    body
}

/// Hand-written: RFC 5424 is one line of fixed fields; the syslog crates
/// are mostly parsers or tied to the local /dev/log.
fn rfc5424(finding: &Event, json: &str, facility: u8, hostname: &str) -> String {
    let severity = match finding.severity_level() {
        Severity::Fatal => 1,
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Informational | Severity::Unknown => 6,
    };
    let pri = u16::from(facility) * 8 + severity;
    let time = iso_time(finding.time);
    // MSGID: up to 32 printable ASCII characters.
    let msgid: String = rule_id(finding)
        .unwrap_or("finding")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let msgid = if msgid.is_empty() {
        "-".to_owned()
    } else {
        msgid
    };
    // Structured data: 32473 is the private enterprise number reserved for
    // documentation (RFC 5612); param values escape `"`, `\` and `]`.
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace(']', "\\]")
    };
    let sd = format!(
        "[vigil@32473 rule=\"{}\" severity=\"{}\"]",
        escape(rule_id(finding).unwrap_or("")),
        finding.severity
    );
    format!(
        "<{pri}>1 {time} {hostname} vigil {} {msgid} {sd} {json}",
        std::process::id()
    )
}

/// Counters of the actions run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ActionStats {
    /// Deliveries that succeeded, by action kind.
    pub delivered: BTreeMap<&'static str, u64>,
    /// Deliveries that failed after their retries, by action kind.
    pub failed: BTreeMap<&'static str, u64>,
    /// Attempts made beyond the first.
    pub retries: u64,
}

/// Runs the actions of fired rules on a worker thread.
pub struct Dispatcher {
    rules: BTreeMap<String, Arc<Vec<Action>>>,
    queue: Option<SyncSender<(Arc<Vec<Action>>, Event)>>,
    worker: Option<JoinHandle<ActionStats>>,
}

impl Dispatcher {
    /// A dispatcher for rules (by id) and their actions. No thread is
    /// started when no rule has an action.
    pub fn new(rules: BTreeMap<String, Vec<Action>>) -> Self {
        let rules: BTreeMap<_, _> = rules
            .into_iter()
            .filter(|(_, a)| !a.is_empty())
            .map(|(id, a)| (id, Arc::new(a)))
            .collect();
        if rules.is_empty() {
            return Self {
                rules,
                queue: None,
                worker: None,
            };
        }
        let (tx, rx) = sync_channel::<(Arc<Vec<Action>>, Event)>(QUEUE);
        let worker = std::thread::spawn(move || {
            let mut stats = ActionStats::default();
            for (actions, finding) in rx {
                let json = finding.to_json_line().unwrap_or_default();
                for action in actions.iter() {
                    match action.fire(&finding, &json) {
                        Ok(attempts) => {
                            *stats.delivered.entry(action.kind()).or_default() += 1;
                            stats.retries += u64::from(attempts.saturating_sub(1));
                        }
                        Err(error) => {
                            *stats.failed.entry(action.kind()).or_default() += 1;
                            tracing::warn!(
                                rule = rule_id(&finding).unwrap_or(""),
                                action = action.kind(),
                                error = %format!("{error:#}"),
                                "rule action failed"
                            );
                        }
                    }
                }
            }
            stats
        });
        Self {
            rules,
            queue: Some(tx),
            worker: Some(worker),
        }
    }

    /// Queue the actions of the rule that made `finding` (none when the rule
    /// has none). Blocks while the queue is full.
    pub fn dispatch(&self, finding: &Event) {
        let (Some(queue), Some(id)) = (&self.queue, rule_id(finding)) else {
            return;
        };
        if let Some(actions) = self.rules.get(id) {
            let _ = queue.send((Arc::clone(actions), finding.clone()));
        }
    }

    /// Wait for every queued delivery; the counters.
    pub fn finish(mut self) -> ActionStats {
        self.queue = None;
        self.worker
            .take()
            .and_then(|w| w.join().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use vigil_event::{Analytic, Finding, FindingInfo, Subject, Timestamp};

    fn finding(rule: &str) -> Event {
        let f = Finding {
            finding_info: FindingInfo {
                uid: "f-1".into(),
                title: "SQL injection burst".into(),
                desc: None,
                types: vec![],
                analytic: Analytic {
                    uid: rule.into(),
                    name: "sqli".into(),
                    type_id: 1,
                    type_name: "Rule".into(),
                    category: None,
                },
                first_seen_time: None,
                last_seen_time: None,
            },
            subject: Subject {
                kind: "ip".into(),
                value: "127.0.0.9".into(),
            },
            src_endpoint: None,
            dst_endpoint: None,
            connection_info: None,
            rule: None,
            evidence: Default::default(),
            risk_score: None,
            risk_level: None,
            remediation: None,
            incident_pcap: None,
        };
        Event::new(
            Timestamp::from_nanos(1_700_000_000_000_000_000),
            Body::Finding(f),
        )
        .with_severity(Severity::High)
    }

    /// A real HTTP/1.1 server on loopback that answers the first `fail`
    /// requests with 503 and then 200, and hands back the bodies it got.
    fn http_server(fail: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let handle = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for (n, stream) in listener.incoming().enumerate() {
                let mut stream = stream.expect("accept");
                let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("read");
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().expect("length");
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).expect("body");
                bodies.push(String::from_utf8(body).expect("utf8"));
                let status = if n < fail { "503 Busy" } else { "200 OK" };
                write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                .expect("write");
                if n >= fail {
                    break;
                }
            }
            bodies
        });
        (url, handle)
    }

    #[test]
    fn webhook_retries_until_accepted() {
        let (url, server) = http_server(2);
        let action = Action::new(&ActionSpec::Webhook {
            url,
            retries: Some(3),
            headers: BTreeMap::new(),
        })
        .expect("action");
        let event = finding("r1");
        let json = event.to_json_line().expect("json");
        assert_eq!(action.fire(&event, &json).expect("delivered"), 3);
        let bodies = server.join().expect("server");
        assert_eq!(bodies.len(), 3);
        let got: serde_json::Value = serde_json::from_str(&bodies[2]).expect("json body");
        assert_eq!(got["finding_info"]["analytic"]["uid"], "r1");
    }

    #[test]
    fn webhook_gives_up_after_its_attempts() {
        let (url, _server) = http_server(5);
        let action = Action::new(&ActionSpec::Webhook {
            url,
            retries: Some(2),
            headers: BTreeMap::new(),
        })
        .expect("action");
        let event = finding("r1");
        let err = action.fire(&event, "{}").expect_err("fails");
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[test]
    fn syslog_line_is_rfc5424() {
        let line = rfc5424(&finding("web-sqli"), "{\"a\":1}", 16, "host1");
        // local0 (16) * 8 + err (3) = 131.
        assert!(
            line.starts_with("<131>1 2023-11-14T22:13:20.000Z host1 vigil "),
            "{line}"
        );
        assert!(
            line.contains(" web-sqli [vigil@32473 rule=\"web-sqli\" severity=\"High\"] {\"a\":1}"),
            "{line}"
        );
    }

    #[test]
    fn exec_gets_the_finding_and_times_out() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("got.json");
        let action = Action::new(&ActionSpec::Exec {
            argv: vec!["sh".into(), "-c".into(), format!("cat > {}", out.display())],
            timeout: None,
        })
        .expect("action");
        action.fire(&finding("r2"), "{\"x\":2}").expect("runs");
        assert_eq!(
            std::fs::read_to_string(&out).expect("written").trim(),
            "{\"x\":2}"
        );

        let slow = Action::new(&ActionSpec::Exec {
            argv: vec!["sleep".into(), "5".into()],
            timeout: Some("200ms".into()),
        })
        .expect("action");
        let started = std::time::Instant::now();
        let err = slow.fire(&finding("r2"), "{}").expect_err("killed");
        assert!(err.to_string().contains("killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4));

        let failing = Action::new(&ActionSpec::Exec {
            argv: vec!["sh".into(), "-c".into(), "echo nope >&2; exit 3".into()],
            timeout: None,
        })
        .expect("action");
        let err = failing.fire(&finding("r2"), "{}").expect_err("fails");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = [
            ActionSpec::Webhook {
                url: "ftp://x".into(),
                retries: None,
                headers: BTreeMap::new(),
            },
            ActionSpec::Syslog {
                target: "127.0.0.1:514".into(),
                facility: None,
            },
            ActionSpec::Syslog {
                target: "udp://127.0.0.1:514".into(),
                facility: Some("local9".into()),
            },
            ActionSpec::Exec {
                argv: vec![],
                timeout: None,
            },
        ];
        for spec in bad {
            assert!(Action::new(&spec).is_err(), "{spec:?}");
        }
    }

    #[test]
    fn dispatcher_runs_only_the_rules_actions() {
        let (url, server) = http_server(0);
        let mut rules = BTreeMap::new();
        rules.insert(
            "with-hook".to_owned(),
            vec![Action::new(&ActionSpec::Webhook {
                url,
                retries: None,
                headers: BTreeMap::new(),
            })
            .expect("action")],
        );
        let dispatcher = Dispatcher::new(rules);
        dispatcher.dispatch(&finding("other"));
        dispatcher.dispatch(&finding("with-hook"));
        let stats = dispatcher.finish();
        assert_eq!(stats.delivered.get("webhook"), Some(&1));
        assert_eq!(server.join().expect("server").len(), 1);
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port")
    }

    /// A child process killed when the test ends.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A real SMTP server (Debian's python3-aiosmtpd) storing mail in a
    /// Maildir receives the finding.
    #[test]
    fn email_reaches_a_real_smtp_server() {
        let Some(aiosmtpd) = vigil_testkit::require_tool("aiosmtpd") else {
            return;
        };
        let dir = tempfile::tempdir().expect("tmp");
        let maildir = dir.path().join("mail");
        let port = free_port();
        let _server = Child(
            Command::new(aiosmtpd)
                .args([
                    "-n",
                    "-l",
                    &format!("127.0.0.1:{port}"),
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                ])
                .arg(&maildir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start aiosmtpd"),
        );
        wait_for("aiosmtpd", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let action = Action::new(&ActionSpec::Email {
            server: format!("127.0.0.1:{port}"),
            from: "vigil@example.test".into(),
            to: vec!["soc@example.test".into()],
            starttls: false,
            username: None,
            password_env: None,
        })
        .expect("action");
        let event = finding("web-sqli");
        let json = event.to_json_line().expect("json");
        action.fire(&event, &json).expect("sent");
        let new = maildir.join("new");
        wait_for("the mail", || {
            std::fs::read_dir(&new)
                .map(|d| d.count() > 0)
                .unwrap_or(false)
        });
        let file = std::fs::read_dir(&new)
            .expect("maildir")
            .next()
            .expect("one")
            .expect("entry");
        let mail = std::fs::read_to_string(file.path()).expect("mail");
        assert!(
            mail.contains("Subject: [Vigil] SQL injection burst"),
            "{mail}"
        );
        assert!(mail.contains("To: soc@example.test"), "{mail}");
        assert!(mail.contains("rule: web-sqli"), "{mail}");
    }

    /// A real syslog daemon (rsyslogd, its RFC 5424 parser) receives the
    /// message over UDP and over TCP and finds the MSGID and structured data.
    #[test]
    fn syslog_reaches_a_real_rsyslogd() {
        let Some(rsyslogd) = vigil_testkit::require_tool("rsyslogd") else {
            return;
        };
        let dir = tempfile::tempdir().expect("tmp");
        let (udp, tcp) = (free_port(), free_port());
        let out = dir.path().join("out.log");
        let conf = dir.path().join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
template(name="fields" type="string" string="%app-name%|%msgid%|%pri%|%structured-data%|%msg%\n")
*.* action(type="omfile" file="{out}" template="fields")
"#,
                work = dir.path().display(),
                out = out.display()
            ),
        )
        .expect("conf");
        let _daemon = Child(
            Command::new(rsyslogd)
                .arg("-n")
                .arg("-f")
                .arg(&conf)
                .arg("-i")
                .arg(dir.path().join("pid"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start rsyslogd"),
        );
        wait_for("rsyslogd", || {
            TcpStream::connect(("127.0.0.1", tcp)).is_ok()
        });
        let event = finding("web-sqli");
        let json = event.to_json_line().expect("json");
        for target in [
            format!("udp://127.0.0.1:{udp}"),
            format!("tcp://127.0.0.1:{tcp}"),
        ] {
            let action = Action::new(&ActionSpec::Syslog {
                target,
                facility: Some("local0".into()),
            })
            .expect("action");
            action.fire(&event, &json).expect("sent");
        }
        wait_for("two messages", || {
            std::fs::read_to_string(&out)
                .map(|t| t.lines().count() >= 2)
                .unwrap_or(false)
        });
        let text = std::fs::read_to_string(&out).expect("out");
        for line in text.lines() {
            let parts: Vec<&str> = line.splitn(5, '|').collect();
            assert_eq!(parts[0], "vigil", "{line}");
            assert_eq!(parts[1], "web-sqli", "{line}");
            assert_eq!(parts[2], "131", "{line}");
            assert_eq!(
                parts[3], "[vigil@32473 rule=\"web-sqli\" severity=\"High\"]",
                "{line}"
            );
            let msg: serde_json::Value = serde_json::from_str(parts[4].trim()).expect("json msg");
            assert_eq!(msg["finding_info"]["analytic"]["uid"], "web-sqli");
        }
    }
}
