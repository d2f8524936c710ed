#!/usr/bin/env bash
# Build every fuzz target and run each briefly (FUZZ_SECONDS, default 20).
# Used by ./test.sh; a crash fails the run and leaves the input in
# fuzz/artifacts/<target>/. Needs cargo-fuzz (`cargo install cargo-fuzz`).
# The toolchain here is stable: RUSTC_BOOTSTRAP lets cargo-fuzz pass its
# nightly-only flags, and `-s none` skips AddressSanitizer (Vigil forbids
# unsafe code; what fuzzing finds here is panics, hangs and runaway memory).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
cargo fuzz build -s none -O
for target in $targets; do
  mkdir -p "corpus/$target"
  case "$target" in
    capture|pipeline)
      # Seed with real captures so the fuzzer starts from valid files.
      cp ../examples/capture/*.pcap "corpus/$target/" 2>/dev/null || true
      for f in ../../shared/data/community-id-spec/pcaps/*.pcap; do
        [ -f "$f" ] && cp "$f" "corpus/$target/"
      done
      ;;
    rules)
      cp ../rules/*.rules "corpus/$target/"
      ;;
    rule_expr)
      # Seed with conditions in every form the language has.
      printf '%s' 'http_request.url.path icontains "/etc/passwd" and not src_endpoint.ip in cidr ["10.0.0.0/8", fd00::/8]' > "corpus/$target/web"
      printf '%s' 'query.hostname iendswith ".onion" or (answers.rdata in [10.0.0.1, "::1"] && len(query.hostname) > 50)' > "corpus/$target/dns"
      printf '%s' 'http_request.user_agent matches /sqlmap\/\d+/i or lower(http_request.http_method) ieq "get" or exists tls.ja4' > "corpus/$target/regex"
      printf '%s' 'dst_endpoint.port in [22, 3389] and traffic.bytes_out >= 1000000 and connection_info.protocol_name != "udp"' > "corpus/$target/flow"
      ;;
    weblog_lines)
      # Seed with lines of every format the parsers know.
      printf '%s\n' \
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"' \
        '::1 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01" 400 157 "-" "a\x22b"' > "corpus/$target/combined.log"
      printf '%s\n' '{"time_iso8601":"2024-03-01T10:00:00+00:00","remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":200}' > "corpus/$target/json.log"
      printf '%s\n' '{"transaction":{"client_ip":"192.0.2.10","time_stamp":"Wed Apr 23 22:15:00 2025","request":{"method":"GET","uri":"/"},"response":{"http_code":403},"messages":[{"message":"m","details":{"ruleId":"942100","tags":["attack-sqli"]}}]}}' > "corpus/$target/audit.log"
      ;;
    intel_feeds)
      # Seed with the real-format samples of every feed format.
      find ../crates/vigil-intel/tests/data -type f -exec cp {} "corpus/$target/" \;
      ;;
  esac
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run -s none -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 3
done
echo "fuzz: all targets ran without a crash"
