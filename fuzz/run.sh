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
  esac
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run -s none -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 3
done
echo "fuzz: all targets ran without a crash"
