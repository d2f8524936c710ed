//! nginx mode: a real nginx started for the run, serving the generated site, and every
//! request of the scenario sent to it over real TCP, so the access log is nginx's own.
//!
//! The generator plays the reverse proxy in front of the site: it holds a few keep-alive
//! connections to nginx on 127.0.0.1 and sends each request with the actor's address in
//! `X-Forwarded-For`; nginx's realip module (`set_real_ip_from 127.0.0.0/8;
//! real_ip_header X-Forwarded-For;`) makes that address `$remote_addr`, IPv4 or IPv6.
//!
//! Time compression: a scenario spans simulated hours but is sent in seconds, so with
//! [`LogTime::Simulated`] each request carries its simulated time in the header
//! `X-Vigil-Time: 22/Nov/2026:10:00:00 +0000` and the `log_format` is nginx's `combined`
//! with `[$time_local]` replaced by `[$http_x_vigil_time]` ([`crate::log_format`]). With
//! [`LogTime::Real`] the format is plain `combined` and requests are paced on the wall
//! clock (the simulated gaps divided by `speedup`), for short runs.
//!
//! POST /login is answered by the configuration (`return 200` or `return 401`) from a
//! request header the generator sets (`X-Vigil-Login: ok|fail`), standing in for the
//! credentials check; the header is not logged.
//!
//! The log is in nginx's completion order: with several connections a line can come a
//! little before one with an earlier simulated time (a few simulated seconds at worst on a
//! busy machine); direct mode's log is strictly in time order, otherwise the same lines.
//!
//! nginx runs in the foreground (`daemon off`) with its prefix, configuration, pid file,
//! temporary paths and error log in a temporary directory, on a free port; it is stopped
//! with SIGQUIT (graceful: the buffered log is flushed), or killed if it does not exit.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::format;
use crate::scenario::{Method, RequestView, SITE_HOST};
use crate::site::{LOGIN_FAIL_BODY, LOGIN_OK_BODY, SITE_MTIME_UNIX};
use crate::{Error, Scenario, SESSION_COOKIE};

/// How nginx logs the time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogTime {
    /// From the `X-Vigil-Time` request header: the simulated time. Requests are sent as
    /// fast as nginx takes them.
    Simulated,
    /// nginx's own `$time_local` (plain `combined`); requests are paced so that the
    /// simulated gaps pass `speedup` times faster on the wall clock.
    Real {
        /// Simulated seconds per wall-clock second (1 is real time).
        speedup: f64,
    },
}

/// How to run nginx.
#[derive(Debug, Clone, PartialEq)]
pub struct NginxOptions {
    /// The nginx binary.
    pub nginx: PathBuf,
    /// Keep-alive connections (and sending threads) to nginx.
    pub connections: usize,
    /// How the time is logged.
    pub time: LogTime,
    /// Log the session cookie as one more field ([`crate::log_format`]).
    pub session: bool,
    /// How long to wait for nginx to listen.
    pub start_timeout: Duration,
}

impl NginxOptions {
    /// Defaults for the nginx binary at `nginx`: 4 connections, simulated time, no
    /// session field.
    pub fn new(nginx: PathBuf) -> Self {
        Self {
            nginx,
            connections: 4,
            time: LogTime::Simulated,
            session: false,
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// What an nginx run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NginxSummary {
    /// Requests sent (each answered).
    pub requests: u64,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Responses whose status differed from the site model's (direct mode's) answer.
    pub unexpected_status: u64,
    /// Connections opened (the first ones included).
    pub connections_opened: u64,
    /// Wall-clock seconds from the first request to nginx's exit.
    pub elapsed_secs: f64,
    /// The port nginx listened on.
    pub port: u16,
}

/// The nginx `nginx.conf` for a run: `dir` holds the site (`dir/site`), pid file and
/// temporary paths; `log` is the access log.
pub fn config_text(dir: &Path, log: &Path, port: u16, options: &NginxOptions) -> String {
    let dir = dir.display();
    let simulated = options.time == LogTime::Simulated;
    let format = format::log_format(simulated, options.session);
    let ok = LOGIN_OK_BODY.replace('\n', "\\n");
    let fail = LOGIN_FAIL_BODY.replace('\n', "\\n");
    format!(
        r#"# Written by vigil-webgen for one run.
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server_tokens off;
    sendfile on;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    default_type text/html;
    types {{
        text/html html; text/css css; application/javascript js; image/svg+xml svg;
        image/jpeg jpg; image/webp webp; font/woff2 woff2; text/plain txt;
        application/xml xml; image/x-icon ico;
    }}
    log_format vigil '{format}';
    access_log {log} vigil buffer=256k flush=2s;
    set_real_ip_from 127.0.0.0/8;
    set_real_ip_from ::1/128;
    real_ip_header X-Forwarded-For;
    map "$request_method:$http_x_vigil_login" $vigil_login {{
        default "";
        "POST:ok" ok;
        "~^POST:" fail;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name {SITE_HOST};
        root {dir}/site;
        index index.html;
        location = /login {{
            if ($vigil_login = ok) {{ return 200 "{ok}"; }}
            if ($vigil_login = fail) {{ return 401 "{fail}"; }}
        }}
    }}
}}
"#,
        log = log.display(),
    )
}

/// Starts nginx, sends every request of `scenario` through it, stops it, and leaves its
/// access log at `log` (created or truncated).
pub fn run_nginx(
    scenario: &Scenario,
    options: &NginxOptions,
    log: &Path,
) -> Result<NginxSummary, Error> {
    let dir = tempfile::Builder::new()
        .prefix("vigil-webgen-")
        .tempdir()
        .map_err(|source| {
            Error::io(
                "creating a temporary directory in",
                &std::env::temp_dir(),
                source,
            )
        })?;
    let root = dir.path().to_path_buf();
    scenario.site().write_tree(&root.join("site"))?;
    fs::create_dir_all(root.join("tmp"))
        .map_err(|source| Error::io("creating", &root.join("tmp"), source))?;
    // nginx's workers drop to `nobody` when started as root: they must read the site.
    open_up(&root)?;
    fs::File::create(log).map_err(|source| Error::io("creating", log, source))?;
    let log = std::path::absolute(log).map_err(|source| Error::io("resolving", log, source))?;

    let port = free_port()?;
    let conf = root.join("nginx.conf");
    fs::write(&conf, config_text(&root, &log, port, options))
        .map_err(|source| Error::io("writing", &conf, source))?;
    let mut server = Server::start(&options.nginx, &root, &conf)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    server.wait_listening(addr, options.start_timeout)?;
    tracing::info!(
        port,
        requests = scenario.len(),
        connections = options.connections,
        "nginx is up; sending"
    );

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new(NginxSummary {
        port,
        ..NginxSummary::default()
    });
    let first_ms = scenario.request(0).map_or(0, |r| r.time_unix_ms);
    let result: Result<(), Error> = thread::scope(|scope| {
        let workers: Vec<_> = (0..options.connections.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut client = Client {
                        addr,
                        conn: None,
                        opened: 0,
                        buf: Vec::new(),
                    };
                    let mut local = NginxSummary::default();
                    let outcome = loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(request) = scenario.request(index) else {
                            break Ok(());
                        };
                        if let LogTime::Real { speedup } = options.time {
                            let offset = (request.time_unix_ms - first_ms) as f64
                                / 1000.0
                                / speedup.max(1e-9);
                            let due = started + Duration::from_secs_f64(offset.max(0.0));
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                thread::sleep(wait);
                            }
                        }
                        let wire = encode(&request, options.time == LogTime::Simulated);
                        match client.exchange(&wire, request.method == Method::Head, index) {
                            Ok(status) => {
                                local.requests += 1;
                                *local.statuses.entry(status).or_default() += 1;
                                let (expected, _) = scenario.response(&request);
                                if status != expected {
                                    local.unexpected_status += 1;
                                    if local.unexpected_status <= 5 {
                                        tracing::warn!(
                                            index,
                                            status,
                                            expected,
                                            target = request.target,
                                            "nginx answered differently from the site model"
                                        );
                                    }
                                }
                            }
                            Err(error) => {
                                // Stop the other workers too.
                                next.store(usize::MAX / 2, Ordering::Relaxed);
                                break Err(error);
                            }
                        }
                    };
                    local.connections_opened = client.opened;
                    if let Ok(mut totals) = totals.lock() {
                        totals.requests += local.requests;
                        totals.unexpected_status += local.unexpected_status;
                        totals.connections_opened += local.connections_opened;
                        for (status, count) in local.statuses {
                            *totals.statuses.entry(status).or_default() += count;
                        }
                    }
                    outcome
                })
            })
            .collect();
        let mut result = Ok(());
        for worker in workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => result = result.and(Err(error)),
                Err(_) => result = result.and(Err(Error::Worker)),
            }
        }
        result
    });
    let stopped = server.stop();
    result?;
    stopped?;
    let mut summary = totals.into_inner().unwrap_or_default();
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Makes the temporary tree readable by nginx's unprivileged workers.
fn open_up(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|source| Error::io("reading", path, source))?;
    let mode = if meta.is_dir() { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|source| Error::io("setting permissions of", path, source))?;
    if meta.is_dir() {
        for entry in fs::read_dir(path).map_err(|source| Error::io("listing", path, source))? {
            let entry = entry.map_err(|source| Error::io("listing", path, source))?;
            open_up(&entry.path())?;
        }
    }
    Ok(())
}

/// A port free on 127.0.0.1 right now (nginx binds it a moment later).
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::Port)?;
    listener.local_addr().map(|a| a.port()).map_err(Error::Port)
}

/// The nginx we started; stopped (then killed if need be) when dropped.
struct Server {
    child: Option<Child>,
    error_log: PathBuf,
}

impl Server {
    fn start(nginx: &Path, root: &Path, conf: &Path) -> Result<Server, Error> {
        let error_log = root.join("error.log");
        let stderr_path = root.join("stderr.log");
        let stderr = fs::File::create(&stderr_path)
            .map_err(|source| Error::io("creating", &stderr_path, source))?;
        let child = Command::new(nginx)
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(conf)
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| Error::Spawn {
                path: nginx.to_path_buf(),
                source,
            })?;
        tracing::debug!(pid = child.id(), "nginx started");
        Ok(Server {
            child: Some(child),
            error_log,
        })
    }

    fn diagnostics(&self) -> String {
        let mut text = fs::read_to_string(&self.error_log).unwrap_or_default();
        if let Some(parent) = self.error_log.parent() {
            text.push_str(&fs::read_to_string(parent.join("stderr.log")).unwrap_or_default());
        }
        text.trim().to_owned()
    }

    fn wait_listening(&mut self, addr: SocketAddr, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(Error::NginxStart {
                        reason: format!("it exited with {status}"),
                        log: self.diagnostics(),
                    });
                }
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NginxStart {
                    reason: format!("nothing listens on {addr} after {timeout:?}"),
                    log: self.diagnostics(),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGQUIT (graceful: nginx flushes the log and exits), then wait; kill after 10 s.
    fn stop(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // The `kill` utility signals only the pid we started; the crate forbids unsafe,
        // so no libc::kill.
        let signalled = Command::new("kill")
            .args(["-s", "QUIT", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while signalled && Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(error) => return Err(Error::Stop(error)),
            }
        }
        tracing::warn!(
            pid = child.id(),
            "nginx did not quit; killing it (the log may miss its last lines)"
        );
        child.kill().map_err(Error::Stop)?;
        child.wait().map_err(Error::Stop)?;
        Err(Error::Stop(std::io::Error::other(
            "nginx did not exit on SIGQUIT within 10 s",
        )))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// The request as bytes on the wire.
fn encode(request: &RequestView<'_>, simulated: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let clean = |text: &str| text.replace(['\r', '\n'], " ");
    let _ = write!(
        out,
        "{} {} HTTP/1.1\r\nHost: {SITE_HOST}\r\n",
        request.method.as_str(),
        request.target
    );
    if let Some(ua) = request.user_agent {
        let _ = write!(out, "User-Agent: {}\r\n", clean(ua));
    }
    out.extend_from_slice(b"Accept: */*\r\n");
    if let Some(referer) = request.referer {
        let _ = write!(out, "Referer: {}\r\n", clean(referer));
    }
    if let Some(session) = request.session {
        let _ = write!(out, "Cookie: {SESSION_COOKIE}={session}\r\n");
    }
    if request.revalidate {
        let _ = write!(
            out,
            "If-Modified-Since: {}\r\n",
            format::http_date(SITE_MTIME_UNIX)
        );
    }
    let _ = write!(out, "X-Forwarded-For: {}\r\n", request.client);
    if simulated {
        let _ = write!(
            out,
            "X-Vigil-Time: {}\r\n",
            format::time_local(request.time_unix_ms)
        );
    }
    if request.method == Method::Post {
        let body = format!(
            "username=user{}%40example.com&password=hunter{}",
            request.time_unix_ms % 9973,
            request.actor
        );
        let verdict = if request.login_ok { "ok" } else { "fail" };
        let _ = write!(
            out,
            "X-Vigil-Login: {verdict}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
    } else {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One keep-alive connection to nginx.
struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    opened: u64,
    buf: Vec<u8>,
}

impl Client {
    /// Sends `wire` and reads the whole response; returns its status. A failure on a
    /// reused connection (nginx closed it) is retried once on a new one.
    fn exchange(&mut self, wire: &[u8], head: bool, index: usize) -> Result<u16, Error> {
        let reused = self.conn.is_some();
        match self.try_exchange(wire, head, index) {
            Err(Error::Request { .. }) if reused => {
                self.conn = None;
                self.try_exchange(wire, head, index)
            }
            other => other,
        }
    }

    fn try_exchange(&mut self, wire: &[u8], head: bool, index: usize) -> Result<u16, Error> {
        let addr = self.addr;
        let io = |source| Error::Request {
            index,
            addr,
            source,
        };
        if self.conn.is_none() {
            let stream = TcpStream::connect(addr).map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .map_err(io)?;
            self.conn = Some(BufReader::with_capacity(1 << 16, stream));
            self.opened += 1;
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::Worker);
        };
        conn.get_mut().write_all(wire).map_err(io)?;
        // Read the head.
        self.buf.clear();
        let (status, length, close) = loop {
            let available = conn.fill_buf().map_err(io)?;
            if available.is_empty() {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before the response",
                )));
            }
            let before = self.buf.len();
            self.buf.extend_from_slice(available);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    conn.consume(head_len - before);
                    let status = response.code.unwrap_or(0);
                    let mut length = 0u64;
                    let mut close = false;
                    for header in response.headers.iter() {
                        if header.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(header.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                        } else if header.name.eq_ignore_ascii_case("connection") {
                            close = header.value.eq_ignore_ascii_case(b"close");
                        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err(Error::Response {
                                index,
                                reason: "chunked response (the site never sends one)".into(),
                            });
                        }
                    }
                    break (status, length, close);
                }
                Ok(httparse::Status::Partial) => {
                    let taken = available.len();
                    conn.consume(taken);
                    if self.buf.len() > 64 << 10 {
                        return Err(Error::Response {
                            index,
                            reason: "response head over 64 KiB".into(),
                        });
                    }
                }
                Err(error) => {
                    return Err(Error::Response {
                        index,
                        reason: error.to_string(),
                    })
                }
            }
        };
        let body = if head || status == 304 || status == 204 || status < 200 {
            0
        } else {
            length
        };
        let copied =
            std::io::copy(&mut conn.by_ref().take(body), &mut std::io::sink()).map_err(io)?;
        if copied != body {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "response body cut short",
            )));
        }
        if close {
            self.conn = None;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_realip_and_the_simulated_time() {
        let options = NginxOptions::new("nginx".into());
        let text = config_text(
            Path::new("/tmp/x"),
            Path::new("/tmp/x/access.log"),
            8080,
            &options,
        );
        assert!(text.contains("real_ip_header X-Forwarded-For;"));
        assert!(text.contains("set_real_ip_from 127.0.0.0/8;"));
        assert!(text.contains("[$http_x_vigil_time]"));
        assert!(text.contains("listen 127.0.0.1:8080;"));
        let real = NginxOptions {
            time: LogTime::Real { speedup: 1.0 },
            ..options
        };
        assert!(
            config_text(Path::new("/tmp/x"), Path::new("/l"), 1, &real).contains("[$time_local]")
        );
    }
}
