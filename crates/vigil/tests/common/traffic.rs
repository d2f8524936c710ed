//! The clients: real programs making real traffic against the lab's servers.
//! Each function returns what it sent, where a check needs to know.

use super::lab::Lab;
use super::servers::{Site, CERT_NAME, DNS_PORT, HTTPS_PORT, HTTP_PORT, SSH_PORTS};

/// Host header of the raw pipelining client.
pub const PIPELINE_HOST: &str = "pipe.vigil.test";
/// Host header of the pipelined connection with a HEAD (see
/// [`PIPELINED_HEAD`]), which the tshark comparison leaves out.
pub const PIPELINE_HEAD_HOST: &str = "pipe-head.vigil.test";

/// A request the raw pipelining client sends: (method, target, body).
pub type RawRequest = (&'static str, &'static str, &'static str);

/// Pipelined requests tshark also reads correctly.
pub const PIPELINED: &[RawRequest] = &[
    ("GET", "/a.txt", ""),
    ("POST", "/submit", "name=vigil&pipelined=yes"),
    ("GET", "/b.txt?q=1&r=two", ""),
    ("GET", "/missing", ""),
    ("GET", "/index.html", ""),
];

/// Pipelined requests with a HEAD in the middle: the HEAD response has a
/// Content-Length but no body. tshark 4.0 pairs responses with requests by
/// order only when it sees each request before its response; pipelined, it
/// takes the HEAD response's announced length as body and loses the next
/// response, so this connection is checked against what the client
/// received instead of against tshark.
pub const PIPELINED_HEAD: &[RawRequest] = &[
    ("GET", "/a.txt", ""),
    ("HEAD", "/b.txt", ""),
    ("GET", "/style.css", ""),
];

/// HTTP/1.1 over one keep-alive connection (curl with three URLs), a second
/// connection by name with a large response, a POST with a body, a HEAD, and
/// two pipelined connections written by a raw client. Returns the bytes the
/// client of [`PIPELINED_HEAD`] received.
pub fn http(lab: &Lab, site: &Site) -> Vec<u8> {
    let base = format!("http://127.0.0.1:{HTTP_PORT}");
    let by_name = format!("http://localhost:{HTTP_PORT}");
    let devnull = "/dev/null";
    // Three requests on one keep-alive connection.
    let out = lab.run_ok(
        30,
        "curl",
        &[
            "-sS",
            "--http1.1",
            "-o",
            devnull,
            "-o",
            devnull,
            "-o",
            devnull,
            "-w",
            "%{num_connects}\n",
            &format!("{base}/index.html"),
            &format!("{base}/a.txt"),
            &format!("{base}/style.css"),
        ],
    );
    let connects: u32 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .sum();
    assert_eq!(connects, 1, "curl did not reuse its connection");
    // A response that spans many segments, with a referer, by name.
    let out = lab.run_ok(
        30,
        "curl",
        &[
            "-sS",
            "--http1.1",
            "-o",
            devnull,
            "-w",
            "%{size_download}",
            "-e",
            "http://localhost/start",
            &format!("{by_name}/big.bin"),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        site.big_len.to_string()
    );
    // A POST with a body, and a HEAD.
    lab.run_ok(
        30,
        "curl",
        &[
            "-sS",
            "--http1.1",
            "-o",
            devnull,
            "-A",
            "vigil-e2e/1.0",
            "--data-binary",
            "field=value&other=12345",
            &format!("{base}/submit"),
        ],
    );
    lab.run_ok(
        30,
        "curl",
        &[
            "-sS",
            "--http1.1",
            "-I",
            "-o",
            devnull,
            &format!("{base}/b.txt"),
        ],
    );
    pipeline(lab, PIPELINE_HOST, PIPELINED);
    pipeline(lab, PIPELINE_HEAD_HOST, PIPELINED_HEAD)
}

/// Send `requests` pipelined (all in one write, before reading anything) on
/// one connection, the last with `Connection: close`, and return every byte
/// the server sent back. curl cannot pipeline; bash's /dev/tcp can, and
/// needs nothing beyond bash.
pub fn pipeline(lab: &Lab, host: &str, requests: &[RawRequest]) -> Vec<u8> {
    let mut wire = String::new();
    for (i, (method, target, body)) in requests.iter().enumerate() {
        wire.push_str(&format!(
            "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: vigil-e2e-pipeline\r\n"
        ));
        if !body.is_empty() {
            wire.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        if i + 1 == requests.len() {
            wire.push_str("Connection: close\r\n");
        }
        wire.push_str("\r\n");
        wire.push_str(body);
    }
    let script =
        format!("exec 3<>/dev/tcp/127.0.0.1/{HTTP_PORT} && printf '%s' \"$1\" >&3 && cat <&3");
    lab.run_ok(20, "bash", &["-c", &script, "bash", &wire])
        .stdout
}

/// TLS handshakes: curl (TLS 1.3, SNI, ALPN http/1.1) over IPv4 and IPv6,
/// and openssl s_client forced to TLS 1.2 (certificate in clear) with SNI
/// and two ALPN protocols.
pub fn tls(lab: &Lab) {
    for (name, addr) in [(CERT_NAME, "127.0.0.1"), ("v6.vigil.test", "[::1]")] {
        let resolve = format!("{name}:{HTTPS_PORT}:{addr}");
        lab.run_ok(
            30,
            "curl",
            &[
                "-sS",
                "-k",
                "--http1.1",
                "-o",
                "/dev/null",
                "--resolve",
                &resolve,
                &format!("https://{name}:{HTTPS_PORT}/a.txt"),
            ],
        );
    }
    let connect = format!("127.0.0.1:{HTTPS_PORT}");
    let out = lab.run(
        30,
        "openssl",
        &[
            "s_client",
            "-tls1_2",
            "-servername",
            "tls12.vigil.test",
            "-alpn",
            "h2,http/1.1",
            "-connect",
            &connect,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Protocol  : TLSv1.2"),
        "openssl s_client did not complete a TLS 1.2 handshake:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// DNS queries, each with `dig` (a new source port per query): every record
/// type the server has, a name that does not exist (NXDOMAIN), a name
/// outside its zone (REFUSED), and two queries over TCP.
pub fn dns(lab: &Lab) {
    let server = "@127.0.0.1";
    let port = DNS_PORT.to_string();
    let queries: &[&[&str]] = &[
        &["a.test", "A"],
        &["multi.test", "A"],
        &["host.test", "AAAA"],
        &["alias.test", "CNAME"],
        &["alias.test", "A"],
        &["mx.test", "MX"],
        &["test", "NS"],
        &["-x", "10.0.0.5"],
        &["txt.test", "TXT"],
        &["test", "SOA"],
        &["_http._tcp.srv.test", "SRV"],
        &["nope.test", "A"],
        &["example.com", "A"],
        &["+tcp", "mx.test", "MX"],
        &["+tcp", "txt.test", "TXT"],
    ];
    for q in queries {
        let mut args = vec![server, "-p", &port, "+tries=1", "+time=5"];
        args.extend_from_slice(q);
        lab.run_ok(20, "dig", &args);
    }
}

/// SSH version exchanges: OpenSSH's client against sshd on port 22 and
/// 2222 (the login fails: no keys), and a raw client that sends its own
/// identification string and reads the server's.
pub fn ssh(lab: &Lab) {
    for port in SSH_PORTS {
        let port = port.to_string();
        // Exit status 255: authentication fails, as intended.
        let out = lab.run(
            30,
            "ssh",
            &[
                "-F",
                "/dev/null",
                "-p",
                &port,
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
                "nobody@127.0.0.1",
                "true",
            ],
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "ssh did not reach authentication:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{} && printf 'SSH-2.0-VigilE2E_1.0 raw client\\r\\n' >&3 \
         && head -n 1 <&3",
        SSH_PORTS[0]
    );
    let out = lab.run_ok(20, "bash", &["-c", &script]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("SSH-2.0-"));
}
