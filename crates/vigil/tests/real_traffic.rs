//! End-to-end proof on real traffic from real programs.
//!
//! Each test makes a network namespace, starts Debian's servers in it
//! (nginx, dnsmasq, sshd), captures its loopback with tcpdump while real
//! clients (curl, a raw pipelining client, openssl, dig, ssh) talk to them,
//! runs `vigil analyze` on the capture and compares its records field by
//! field with tshark reading the same file. They need root and the tools;
//! without them they skip (and fail under `VIGIL_TEST_STRICT=1`).
//!
//! `sample_capture_agrees_with_tshark` needs only tshark: it checks the
//! committed example capture, which `make_sample_capture` (ignored; run by
//! `examples/capture/make-sample.sh`) regenerates with the same harness.

mod common;

use std::path::{Path, PathBuf};

use common::compare::{self, Report};
use common::lab::{self, Lab};
use common::{servers, traffic, vigil};
use vigil_event::{Body, RecordKind};

/// Extra tshark options: sshd's second port is not a port tshark knows.
const TSHARK_SSH: &[&str] = &["-d", "tcp.port==2222,ssh"];

#[test]
fn http_keepalive_and_pipelined_agree_with_tshark() {
    let Some(()) = lab::require(&["nginx", "curl", "bash", "openssl"]) else {
        return;
    };
    let mut lab = Lab::new();
    let site = servers::start_nginx(&mut lab, 1_000_000);
    let capture = lab.start_capture("http");
    let head_reply = traffic::http(&lab, &site);
    lab::settle();
    let pcap = capture.stop();

    let analysis = vigil::analyze(&[&pcap], &[]);
    let mut report = Report::default();
    let convs = compare::flows(&mut report, &pcap, &analysis);
    compare::http(
        &mut report,
        &pcap,
        &analysis,
        &convs,
        traffic::PIPELINE_HEAD_HOST,
    );
    report.finish();
    pipelined_head_matches_what_the_client_received(&analysis, &head_reply);
}

/// The connection with a pipelined HEAD (see [`traffic::PIPELINED_HEAD`]):
/// tshark misreads it, so Vigil's transactions are checked against the
/// status lines the client received and the requests it sent.
fn pipelined_head_matches_what_the_client_received(analysis: &vigil::Analysis, reply: &[u8]) {
    let reply = String::from_utf8_lossy(reply);
    let statuses: Vec<u16> = reply
        // Lines, not CRLF-separated pieces: a body such as "a\n" is followed
        // directly by the next status line.
        .split('\n')
        .filter_map(|line| line.strip_prefix("HTTP/1.1 "))
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .collect();
    assert_eq!(statuses.len(), traffic::PIPELINED_HEAD.len(), "{reply}");
    let mut txs: Vec<_> = analysis
        .bodies(RecordKind::Http)
        .filter_map(|b| match b {
            Body::Http(h) => Some(h),
            _ => None,
        })
        .filter(|h| h.http_request.url.hostname.as_deref() == Some(traffic::PIPELINE_HEAD_HOST))
        .map(|h| h.connection_info.uid.clone())
        .collect();
    txs.dedup();
    assert_eq!(
        txs.len(),
        1,
        "one connection has the pipelined HEAD: {txs:?}"
    );
    let mut conn: Vec<_> = analysis
        .bodies(RecordKind::Http)
        .filter_map(|b| match b {
            Body::Http(h) if h.connection_info.uid == txs[0] => Some(h),
            _ => None,
        })
        .collect();
    conn.sort_by_key(|h| h.transaction);
    let got: Vec<(String, String, Option<u16>, Option<u64>)> = conn
        .iter()
        .map(|h| {
            (
                h.http_request.http_method.clone(),
                h.http_request.url.url_string.clone(),
                h.http_response.as_ref().map(|r| r.code),
                h.http_response.as_ref().map(|r| r.length),
            )
        })
        .collect();
    let want: Vec<(String, String, Option<u16>, Option<u64>)> = traffic::PIPELINED_HEAD
        .iter()
        .zip(&statuses)
        .map(|((method, target, _), code)| {
            // The HEAD response has no body; the others are the files.
            let length = match servers::FILES.iter().find(|f| f.0 == &target[1..]) {
                _ if *method == "HEAD" => 0,
                Some((_, content)) => content.len() as u64,
                None => panic!("{target} is not a static file"),
            };
            (
                (*method).to_owned(),
                (*target).to_owned(),
                Some(*code),
                Some(length),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn tls_handshakes_agree_with_tshark() {
    let Some(()) = lab::require(&["nginx", "curl", "openssl"]) else {
        return;
    };
    let mut lab = Lab::new();
    servers::start_nginx(&mut lab, 1000);
    let capture = lab.start_capture("tls");
    traffic::tls(&lab);
    lab::settle();
    let pcap = capture.stop();

    let analysis = vigil::analyze(&[&pcap], &[]);
    let mut report = Report::default();
    let convs = compare::flows(&mut report, &pcap, &analysis);
    compare::tls(&mut report, &pcap, &analysis, &convs);
    report.finish();
}

#[test]
fn dns_over_udp_and_tcp_agrees_with_tshark() {
    let Some(()) = lab::require(&["dnsmasq", "dig"]) else {
        return;
    };
    let mut lab = Lab::new();
    servers::start_dnsmasq(&mut lab);
    let capture = lab.start_capture("dns");
    traffic::dns(&lab);
    lab::settle();
    let pcap = capture.stop();

    let analysis = vigil::analyze(&[&pcap], &[]);
    let mut report = Report::default();
    compare::flows(&mut report, &pcap, &analysis);
    compare::dns(&mut report, &pcap, &analysis);
    report.finish();
}

#[test]
fn ssh_version_exchange_agrees_with_tshark() {
    let Some(()) = lab::require(&["sshd", "ssh", "ssh-keygen", "bash"]) else {
        return;
    };
    let mut lab = Lab::new();
    servers::start_sshd(&mut lab);
    let capture = lab.start_capture("ssh");
    traffic::ssh(&lab);
    lab::settle();
    let pcap = capture.stop();

    let analysis = vigil::analyze(&[&pcap], &[]);
    let mut report = Report::default();
    let convs = compare::flows(&mut report, &pcap, &analysis);
    compare::ssh(&mut report, &pcap, &analysis, &convs, TSHARK_SSH);
    report.finish();

    // Each real ssh login attempt completes its key exchange (NEWKEYS both
    // ways), so payload inspection stops there; the raw client that only
    // sends a version line does not.
    let stats = analysis
        .bodies(RecordKind::Stats)
        .find_map(|b| match b {
            Body::Stats(s) => Some(s),
            _ => None,
        })
        .expect("a stats record");
    assert_eq!(
        stats.get("app", "ssh.encrypted"),
        servers::SSH_PORTS.len() as u64,
        "ssh sessions seen as encrypted after NEWKEYS"
    );
}

fn sample_path() -> PathBuf {
    vigil_testkit::repo_root().join("examples/capture/sample.pcap")
}

/// All of it in one capture, small enough to commit.
fn record_sample(out: &Path) {
    let mut lab = Lab::new();
    let site = servers::start_nginx(&mut lab, 48 * 1024);
    servers::start_dnsmasq(&mut lab);
    servers::start_sshd(&mut lab);
    let capture = lab.start_capture("sample");
    traffic::http(&lab, &site);
    traffic::tls(&lab);
    traffic::dns(&lab);
    traffic::ssh(&lab);
    lab::settle();
    let pcap = capture.stop();
    std::fs::copy(&pcap, out).expect("copy the capture");
}

/// Regenerates `examples/capture/sample.pcap` (or `$VIGIL_SAMPLE_OUT`).
/// Run by `examples/capture/make-sample.sh`; ignored otherwise.
#[test]
#[ignore = "regenerates the committed example capture; run examples/capture/make-sample.sh"]
fn make_sample_capture() {
    let Some(()) = lab::require(&[
        "nginx",
        "curl",
        "bash",
        "openssl",
        "dnsmasq",
        "dig",
        "sshd",
        "ssh",
        "ssh-keygen",
    ]) else {
        return;
    };
    let out = std::env::var_os("VIGIL_SAMPLE_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(sample_path);
    record_sample(&out);
    eprintln!("wrote {}", out.display());
}

/// The committed example: everything compared, and `--out DIR` writes the
/// same events as stdout, one file per record kind.
#[test]
fn sample_capture_agrees_with_tshark() {
    let Some(_) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let pcap = sample_path();
    assert!(pcap.is_file(), "{} is committed", pcap.display());
    let analysis = vigil::analyze(&[&pcap], &[]);
    let mut report = Report::default();
    let convs = compare::flows(&mut report, &pcap, &analysis);
    compare::http(
        &mut report,
        &pcap,
        &analysis,
        &convs,
        traffic::PIPELINE_HEAD_HOST,
    );
    compare::tls(&mut report, &pcap, &analysis, &convs);
    compare::dns(&mut report, &pcap, &analysis);
    compare::ssh(&mut report, &pcap, &analysis, &convs, TSHARK_SSH);
    report.finish();

    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().to_str().expect("utf-8 temp path");
    let _ = vigil::analyze(&[&pcap], &["--out", out_dir]);
    for kind in [
        RecordKind::Flow,
        RecordKind::Dns,
        RecordKind::Http,
        RecordKind::Tls,
        RecordKind::Ssh,
        RecordKind::Stats,
    ] {
        let file = dir.path().join(format!("{}.jsonl", kind.name()));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let from_file = vigil::parse_lines(&text, &file.display().to_string());
        let from_stdout: Vec<_> = analysis
            .events
            .iter()
            .filter(|e| e.kind() == kind)
            .cloned()
            .collect();
        assert!(!from_file.is_empty(), "{} is empty", file.display());
        assert_eq!(
            from_file,
            from_stdout,
            "{} differs from stdout",
            file.display()
        );
    }
}
