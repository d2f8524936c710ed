#!/usr/bin/env bash
# Regenerate examples/capture/sample.pcap: real traffic from real programs,
# captured on the loopback of a network namespace made for the purpose.
#
#   sudo examples/capture/make-sample.sh [OUT.pcap]
#
# Needs root (network namespaces) and Debian's nginx-light, dnsmasq-base,
# openssh-server, openssh-client, curl, bind9-dnsutils, openssl, tcpdump,
# tshark, iproute2. The traffic: curl against nginx (keep-alive, a large
# response, a POST, a HEAD), two pipelined connections from a raw client,
# TLS 1.3 (curl, IPv4 and IPv6) and TLS 1.2 (openssl s_client) with SNI and
# ALPN, dig against dnsmasq (A, AAAA, CNAME, MX, NS, PTR, TXT, SOA, SRV,
# NXDOMAIN, REFUSED; UDP and TCP), and SSH version exchanges with sshd.
#
# It runs the ignored test `make_sample_capture` in
# crates/vigil/tests/real_traffic.rs, so the sample is made by the same
# harness as the end-to-end tests. Regenerating the sample is a reviewed
# change: the capture differs every run (ports, ids, times).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-examples/capture/sample.pcap}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
VIGIL_SAMPLE_OUT="$out" VIGIL_TEST_STRICT=1 \
    cargo test -p vigil --test real_traffic make_sample_capture -- --ignored --exact --nocapture
ls -l "$out"
