//! Real servers from Debian, each with a throw-away configuration in the
//! lab's temp dir, started in the lab's namespace.

use std::fs;
use std::path::Path;

use super::lab::Lab;

/// nginx's plain HTTP port.
pub const HTTP_PORT: u16 = 8080;
/// nginx's TLS port (IPv4 and IPv6 loopback).
pub const HTTPS_PORT: u16 = 8443;
/// The DNS server's port.
pub const DNS_PORT: u16 = 53;
/// sshd's ports: the standard one, and one tshark only knows by `-d`.
pub const SSH_PORTS: [u16; 2] = [22, 2222];

/// The name in the test certificate (and its wildcard sibling).
pub const CERT_NAME: &str = "www.vigil.test";

/// nginx's small static files: (name, content).
pub const FILES: &[(&str, &str)] = &[
    ("index.html", "<h1>vigil</h1>\n"),
    ("a.txt", "a\n"),
    ("b.txt", "bb\n"),
    ("style.css", "body { color: #333; }\n"),
];

/// What nginx serves, so clients and checks agree on it.
#[derive(Debug, Clone)]
pub struct Site {
    /// Bytes of `/big.bin`, a response spanning many segments.
    pub big_len: usize,
}

/// Write a self-signed certificate for [`CERT_NAME`] (ECDSA P-256, SANs for
/// the name, a wildcard and 127.0.0.1) into `dir`; return (cert, key).
pub fn make_certificate(lab: &Lab) -> (String, String) {
    let cert = path_str(&lab.dir().join("cert.pem"));
    let key = path_str(&lab.dir().join("key.pem"));
    let subject = format!("/CN={CERT_NAME}/O=Vigil end-to-end tests");
    let san = format!("subjectAltName=DNS:{CERT_NAME},DNS:*.vigil.test,IP:127.0.0.1");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            &subject,
            "-addext",
            &san,
            "-keyout",
            &key,
            "-out",
            &cert,
        ])
        .output()
        .expect("run openssl req");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Start nginx (one process: `master_process off`) serving a few static
/// files on 127.0.0.1:8080 and TLS on 127.0.0.1:8443 and [::1]:8443.
pub fn start_nginx(lab: &mut Lab, big_len: usize) -> Site {
    start_nginx_on(lab, big_len, &["127.0.0.1"])
}

/// [`start_nginx`] with plain HTTP on port 8080 of each IPv4 address in
/// `http_addrs` (addresses the lab added to its loopback) instead of
/// 127.0.0.1 only. TLS stays on 127.0.0.1 and [::1].
pub fn start_nginx_on(lab: &mut Lab, big_len: usize, http_addrs: &[&str]) -> Site {
    let root = lab.dir().join("www");
    let tmp = lab.dir().join("nginx-tmp");
    fs::create_dir_all(&root).expect("create www");
    fs::create_dir_all(&tmp).expect("create nginx tmp");
    for (name, content) in FILES {
        fs::write(root.join(name), content).expect("write a static file");
    }
    // Deterministic, incompressible-looking bytes (no RNG needed).
    let big: Vec<u8> = (0..big_len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    fs::write(root.join("big.bin"), big).expect("write big.bin");
    let (cert, key) = make_certificate(lab);
    let dir = path_str(lab.dir());
    let http_listen: String = http_addrs
        .iter()
        .map(|a| format!("listen {a}:{HTTP_PORT};\n        "))
        .collect();
    let conf = format!(
        r#"daemon off;
master_process off;
user root;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
    types {{ text/html html; text/plain txt; text/css css; }}
    client_body_temp_path {dir}/nginx-tmp;
    proxy_temp_path {dir}/nginx-tmp;
    fastcgi_temp_path {dir}/nginx-tmp;
    uwsgi_temp_path {dir}/nginx-tmp;
    scgi_temp_path {dir}/nginx-tmp;
    keepalive_requests 100;
    keepalive_timeout 30s;
    server {{
        {http_listen}listen 127.0.0.1:{HTTPS_PORT} ssl;
        listen [::1]:{HTTPS_PORT} ssl;
        server_name {CERT_NAME};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {dir}/www;
        location = /submit {{ return 201 "created\n"; }}
        location = /missing {{ return 404; }}
    }}
}}
"#
    );
    let conf_path = lab.dir().join("nginx.conf");
    fs::write(&conf_path, conf).expect("write nginx.conf");
    let conf_arg = path_str(&conf_path);
    let prefix = format!("{dir}/");
    lab.spawn("nginx", "nginx", &["-p", &prefix, "-c", &conf_arg]);
    lab.wait_listening("tcp", HTTP_PORT);
    lab.wait_listening("tcp", HTTPS_PORT);
    Site { big_len }
}

/// Start dnsmasq as an authoritative server for the zone `test` (and the
/// reverse zone of 10.0.0.0/8) on 127.0.0.1:53, with one record of every
/// type the DNS comparison covers. Nothing is forwarded (`--no-resolv`).
pub fn start_dnsmasq(lab: &mut Lab) {
    start_dnsmasq_on(lab, "127.0.0.1");
}

/// [`start_dnsmasq`] listening on `addr` (an address of the lab's loopback).
pub fn start_dnsmasq_on(lab: &mut Lab, addr: &str) {
    let listen = format!("--listen-address={addr}");
    let auth_server = format!("--auth-server=ns.test,{addr}");
    let log = path_str(&lab.dir().join("dnsmasq-queries.log"));
    let log_arg = format!("--log-facility={log}");
    let port = format!("--port={DNS_PORT}");
    lab.spawn(
        "dnsmasq",
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--group=root",
            "--pid-file=",
            &listen,
            "--bind-interfaces",
            &port,
            &log_arg,
            "--local=/test/",
            &auth_server,
            "--auth-zone=test,10.0.0.0/8,fd00::/8",
            "--auth-soa=2024010101,hostmaster.test,1200,180,1209600",
            "--auth-ttl=300",
            "--host-record=a.test,10.1.2.3",
            "--host-record=multi.test,10.0.0.7",
            "--host-record=multi.test,10.0.0.8",
            "--host-record=host.test,10.0.0.5,fd00::5",
            "--mx-host=mx.test,mail.test,10",
            "--srv-host=_http._tcp.srv.test,web.test,8080,1,5",
            "--txt-record=txt.test,v=spf1 -all,second string",
            "--cname=alias.test,host.test",
            "--ptr-record=5.0.0.10.in-addr.arpa,host.test",
        ],
    );
    lab.wait_listening("udp", DNS_PORT);
    lab.wait_listening("tcp", DNS_PORT);
}

/// Start OpenSSH's sshd on 127.0.0.1 ports 22 and 2222 with a temp host key.
/// Logins fail (no keys, no passwords): the version exchange is what the
/// tests need.
pub fn start_sshd(lab: &mut Lab) {
    start_sshd_on(lab, "127.0.0.1", false);
}

/// [`start_sshd`] listening on `addr`; with `passwords`, password
/// authentication is on (for root: every password tried is wrong, as the
/// account's is unknown or locked), so a client's attempts reach sshd's
/// password check and each failure is logged ("Failed password").
pub fn start_sshd_on(lab: &mut Lab, addr: &str, passwords: bool) {
    let key = lab.dir().join("ssh_host_ed25519_key");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen failed");
    // sshd refuses to start without its privilege separation directory;
    // Debian's service creates it at boot, a container may not have it.
    fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    let conf = format!(
        "Port {}\nPort {}\nListenAddress {addr}\nHostKey {}\nPidFile none\nUsePAM no\n\
         StrictModes no\nPasswordAuthentication {}\nKbdInteractiveAuthentication no\n",
        SSH_PORTS[0],
        SSH_PORTS[1],
        path_str(&key),
        if passwords {
            // Room for a brute-force tool's parallel connections.
            "yes\nPermitRootLogin yes\nMaxStartups 100"
        } else {
            "no"
        }
    );
    let conf_path = lab.dir().join("sshd_config");
    fs::write(&conf_path, conf).expect("write sshd_config");
    let conf_arg = path_str(&conf_path);
    lab.spawn("sshd", "/usr/sbin/sshd", &["-D", "-e", "-f", &conf_arg]);
    for port in SSH_PORTS {
        lab.wait_listening("tcp", port);
    }
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_owned()
}
