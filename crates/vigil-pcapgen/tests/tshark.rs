//! The generator's output read back by tshark: every packet well formed, TCP sessions
//! clean, and the protocol messages tshark finds are exactly the ones the generator says
//! it wrote. Plus determinism: the same seed gives the same bytes.

use std::path::Path;
use std::process::Command;

use vigil_pcapgen::{generate, Config, Summary};

/// A small capture where every session runs to its end (so counts are exact).
fn small_config(seed: u64) -> Config {
    Config {
        size: 3 << 20,
        seed,
        concurrency: 400,
        drain: true,
        ..Config::default()
    }
}

fn write(config: &Config, path: &Path) -> Summary {
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create capture"));
    generate(config, file).expect("generate")
}

fn tshark(tshark: &Path, args: &[&str]) -> String {
    let output = Command::new(tshark)
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        output.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("tshark output is UTF-8")
}

/// Counts of what tshark dissected, from one `-T fields` pass.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    packets: u64,
    dns_queries: u64,
    dns_responses: u64,
    dns_nxdomain: u64,
    http_requests: u64,
    http_responses: u64,
    client_hellos: u64,
    server_hellos: u64,
    certificates: u64,
    ssh_banners: u64,
    syns: u64,
}

fn count(fields: &str) -> Seen {
    let mut seen = Seen::default();
    for line in fields.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| cols.get(i).copied().unwrap_or("");
        let values = |i: usize| {
            col(i)
                .split(',')
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        };
        seen.packets += 1;
        for response in values(1) {
            if response == "1" || response == "True" {
                seen.dns_responses += 1;
            } else {
                seen.dns_queries += 1;
            }
        }
        seen.dns_nxdomain += values(2).iter().filter(|r| **r == "3").count() as u64;
        seen.http_requests += values(3).len() as u64;
        seen.http_responses += values(4).len() as u64;
        for ty in values(5) {
            match ty {
                "1" => seen.client_hellos += 1,
                "2" => seen.server_hellos += 1,
                "11" => seen.certificates += 1,
                _ => {}
            }
        }
        seen.ssh_banners += values(6).len() as u64;
        let syn = col(7) == "1" || col(7) == "True";
        let ack = col(8) == "1" || col(8) == "True";
        if syn && !ack {
            seen.syns += 1;
        }
    }
    seen
}

#[test]
fn tshark_finds_exactly_what_the_generator_wrote() {
    let Some(tshark_path) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("mixed.pcap");
    let summary = write(&small_config(7), &pcap);
    let file = pcap.to_str().expect("utf-8 path");

    // Every kind of traffic is there.
    assert!(summary.dns_queries > 50, "{summary:?}");
    assert!(summary.dns_nxdomain > 0, "{summary:?}");
    assert!(
        summary.http_requests > 10 && summary.http_chunked > 0,
        "{summary:?}"
    );
    assert!(
        summary.tls12_sessions > 5 && summary.tls13_sessions > 5,
        "{summary:?}"
    );
    assert!(summary.ssh_banners >= 2, "{summary:?}");
    assert!(summary.ipv6_flows > 0, "{summary:?}");

    let fields = tshark(
        &tshark_path,
        &[
            "-r",
            file,
            "-n",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
            "-e",
            "frame.number",
            "-e",
            "dns.flags.response",
            "-e",
            "dns.flags.rcode",
            "-e",
            "http.request.method",
            "-e",
            "http.response.code",
            "-e",
            "tls.handshake.type",
            "-e",
            "ssh.protocol",
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.flags.ack",
        ],
    );
    let seen = count(&fields);
    let expected = Seen {
        packets: summary.packets,
        dns_queries: summary.dns_queries,
        dns_responses: summary.dns_responses,
        dns_nxdomain: summary.dns_nxdomain,
        http_requests: summary.http_requests,
        http_responses: summary.http_responses,
        client_hellos: summary.tls_client_hellos,
        server_hellos: summary.tls12_sessions + summary.tls13_sessions,
        certificates: summary.tls_certificates,
        ssh_banners: summary.ssh_banners,
        syns: summary.tcp_connections,
    };
    assert_eq!(seen, expected);

    // Nothing malformed, no dissector error.
    let bad = tshark(
        &tshark_path,
        &[
            "-r",
            file,
            "-n",
            "-Y",
            "_ws.malformed || _ws.expert.severity == error",
        ],
    );
    assert!(
        bad.trim().is_empty(),
        "malformed or erroneous packets:\n{bad}"
    );

    // TCP sessions are clean: no retransmission, gap, out-of-order, dup ACK, window problem.
    let flagged = tshark(
        &tshark_path,
        &["-r", file, "-n", "-Y", "tcp.analysis.flags"],
    );
    let flagged_count = flagged.lines().count() as u64;
    assert!(
        flagged_count * 1000 <= summary.packets,
        "{flagged_count} packets flagged by tcp analysis:\n{flagged}"
    );

    // IPv6 flows are really IPv6.
    let v6 = tshark(
        &tshark_path,
        &[
            "-r",
            file,
            "-n",
            "-Y",
            "ipv6 && tcp.flags.syn == 1 && tcp.flags.ack == 0",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    );
    assert!(v6.lines().count() > 0);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let config = Config {
        size: 2 << 20,
        seed: 42,
        concurrency: 300,
        ..Config::default()
    };
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut other = Vec::new();
    let summary = generate(&config, &mut first).expect("generate");
    generate(&config, &mut second).expect("generate");
    generate(
        &Config {
            seed: 43,
            ..config.clone()
        },
        &mut other,
    )
    .expect("generate");
    assert_eq!(first.len() as u64, summary.file_bytes);
    assert!(summary.file_bytes >= config.size);
    assert!(first == second, "same seed gave different bytes");
    assert!(first != other, "different seeds gave the same bytes");
}

#[test]
fn timestamps_never_go_back_and_frames_fit_the_mtu() {
    let config = Config {
        size: 4 << 20,
        seed: 5,
        concurrency: 500,
        ..Config::default()
    };
    let mut bytes = Vec::new();
    let summary = generate(&config, &mut bytes).expect("generate");
    let mut at = 24;
    let mut last = 0u64;
    let mut packets = 0;
    while at < bytes.len() {
        let word =
            |o: usize| u32::from_le_bytes(bytes[at + o..at + o + 4].try_into().expect("4 bytes"));
        let ts = u64::from(word(0)) * 1_000_000 + u64::from(word(4));
        let len = word(8) as usize;
        assert!(ts >= last, "packet {packets} goes back in time");
        assert!(
            (54..=1514).contains(&len),
            "packet {packets} is {len} bytes"
        );
        last = ts;
        at += 16 + len;
        packets += 1;
    }
    assert_eq!(at, bytes.len());
    assert_eq!(packets, summary.packets);
}
