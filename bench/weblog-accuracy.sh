#!/usr/bin/env bash
# Accuracy and speed of `vigil analyze` on web access logs, on vigil-webgen's labelled
# traffic (people browsing, a flash sale, a NAT gateway, verified and fake crawlers, fast
# and low-and-slow scrapers, credential stuffers, vulnerability scanners).
#
#   bench/weblog-accuracy.sh                 # scale 10 (about 200 000 requests)
#   WEBLOG_SCALE=2 bench/weblog-accuracy.sh  # quick run
#
# 1. Accuracy: the example crates/vigil/examples/weblog_accuracy.rs generates the scenarios
#    at WEBLOG_SCALE, has them logged by a real nginx and written directly (byte for byte
#    what nginx logs), starts a local dnsmasq that answers for the verified crawlers as
#    Google's and Microsoft's DNS would, runs `vigil analyze` with the generator's
#    log_format, and prints precision / recall / F1 per class and for bots overall, and
#    the people flagged in the flash-sale and NAT-gateway scenarios (markdown).
# 2. Speed: a direct-mode log of WEBLOG_BIG_SCALE (default 75, about 1.5 M lines) through
#    `vigil analyze --no-rdns -q` on one core (taskset -c BENCH_CPU): wall time, lines/s
#    and peak RSS (/usr/bin/time -f '%e %M'), best of WEBLOG_RUNS, with the load average.
#
# Writes bench/out/weblog.md (bench/out/ is not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

scale=${WEBLOG_SCALE:-10}
seed=${WEBLOG_SEED:-1}
big=${WEBLOG_BIG_SCALE:-75}
runs=${WEBLOG_RUNS:-3}
cpu=${BENCH_CPU:-0}
out=bench/out
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p vigil --bin vigil --example weblog_accuracy -p vigil-webgen --bin vigil-webgen
vigil=target/release/vigil

{
  echo "## Bot detection accuracy (seed $seed, scale $scale)"
  echo
  target/release/examples/weblog_accuracy --vigil "$vigil" --scale "$scale" --seed "$seed" --mode both

  target/release/vigil-webgen --seed "$seed" --scale "$big" --direct --out "$work/big" > /dev/null 2>&1
  lines=$(wc -l < "$work/big/access.log")
  bytes=$(stat -c %s "$work/big/access.log")
  best=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/time" taskset -c "$cpu" \
      "$vigil" analyze "$work/big/access.log" --no-rdns -q > "$work/findings.jsonl"
    read -r secs rss < "$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; best_rss=$rss; fi
  done
  findings=$(grep -c '"bot:' "$work/findings.jsonl" || true)
  echo "## vigil analyze on a web log (one core)"
  echo
  echo "| input | lines | MiB | wall s (best of $runs) | lines/s | peak RSS MiB | bot findings |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  awk -v l="$lines" -v b="$bytes" -v s="$best" -v r="$best_rss" -v f="$findings" -v sc="$big" 'BEGIN {
    printf "| vigil-webgen direct, scale %s | %d | %.0f | %.2f | %.0f | %.0f | %d |\n", sc, l, b/1048576, s, l/s, r/1024, f }'
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
} | tee "$out/weblog.md"
