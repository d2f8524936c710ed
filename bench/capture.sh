#!/usr/bin/env bash
# Benchmark of `vigil analyze` against tshark on the project's own generated capture.
#
#   bench/capture.sh                      # 1 GiB capture (and a quarter-size one)
#   BENCH_SIZE=256MiB bench/capture.sh    # quick run
#
# Builds the release binaries, generates two captures with vigil-pcapgen (BENCH_SIZE and a
# quarter of it, same seed), then in the same run measures on one core (taskset -c 0):
#   - vigil analyze FILE > /dev/null (OCSF, and EVE): wall time, Gbit/s, packets/s, peak RSS;
#   - vigil analyze with a small flow table (--max-flows BENCH_SMALL_TABLE) on both sizes,
#     to show peak memory follows the table limit, not the file size;
#   - tshark extracting the same fields (flows' 5-tuples, DNS, HTTP, TLS SNI/ALPN/JA3, SSH;
#     one pass) from the same file: wall time and peak RSS, and the ratio.
# Prints a Markdown table and writes bench/out/results.md (bench/out/ is not committed).
#
# Environment: BENCH_SIZE (default 1GiB), BENCH_SEED (1), BENCH_RUNS (vigil runs per
# configuration, best kept; default 3), BENCH_SMALL_TABLE (20000), BENCH_TSHARK=0 to skip
# tshark, BENCH_CPU (core to pin to, default 0).
set -euo pipefail
cd "$(dirname "$0")/.."

size=${BENCH_SIZE:-1GiB}
seed=${BENCH_SEED:-1}
runs=${BENCH_RUNS:-3}
small_table=${BENCH_SMALL_TABLE:-20000}
cpu=${BENCH_CPU:-0}
out=bench/out
mkdir -p "$out"

for tool in taskset /usr/bin/time; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench/capture.sh: $tool is missing (apt-get install util-linux time)" >&2
        exit 1
    fi
done
run_tshark=${BENCH_TSHARK:-1}
if [ "$run_tshark" = 1 ] && ! command -v tshark >/dev/null 2>&1; then
    echo "bench/capture.sh: tshark is missing (apt-get install tshark), or set BENCH_TSHARK=0" >&2
    exit 1
fi

echo "== building release binaries" >&2
cargo build --release --quiet -p vigil -p vigil-pcapgen
vigil=target/release/vigil
pcapgen=target/release/vigil-pcapgen

# gen NAME SIZE: writes $out/NAME.pcap and its summary $out/NAME.json.
gen() {
    local file="$out/$1.pcap"
    echo "== generating $file ($2, seed $seed)" >&2
    "$pcapgen" --size "$2" --seed "$seed" -o "$file" --summary "$out/$1.json" 2> "$out/$1.gen.log"
    head -n 1 "$out/$1.gen.log" >&2
}
# json FILE KEY: a number from a summary.
json() {
    sed -n "s/^ *\"$2\": \([0-9.]*\),\{0,1\}$/\1/p" "$1" | head -n 1
}

gen large "$size"
large_bytes=$(json "$out/large.json" file_bytes)
quarter=$((large_bytes / 4))
gen quarter "$quarter"

# measure NAME CMD... : runs CMD pinned to one core, prints "wall_s user_s sys_s maxrss_kib".
measure() {
    local name=$1
    shift
    /usr/bin/time -o "$out/$name.time" -f "%e %U %S %M" taskset -c "$cpu" "$@" > /dev/null 2> "$out/$name.stderr" || {
        local rc=$?
        # vigil exits 1 when input was skipped; that is reported, not fatal here.
        if [ "$rc" -ne 1 ]; then
            echo "bench/capture.sh: $name failed (exit $rc); see $out/$name.stderr" >&2
            exit 1
        fi
    }
    # time -o writes "Command exited with non-zero status N" first when the
    # command fails; the figures are always the last line.
    tail -n 1 "$out/$name.time"
}

# best NAME CMD... : the fastest of $runs runs (wall time), as "wall user sys maxrss".
best() {
    local name=$1
    shift
    local best_line="" line
    for i in $(seq 1 "$runs"); do
        line=$(measure "$name" "$@")
        echo "   $name run $i: $line" >&2
        if [ -z "$best_line" ] || awk -v a="${line%% *}" -v b="${best_line%% *}" 'BEGIN { exit !(a < b) }'; then
            best_line=$line
        fi
    done
    echo "$best_line"
}

rows=()
# row LABEL CAPTURE "wall user sys rss"
row() {
    local label=$1 capture=$2 stats=$3
    local wall rss packets wire
    wall=$(echo "$stats" | awk '{print $1}')
    rss=$(echo "$stats" | awk '{print $4}')
    packets=$(json "$out/$capture.json" packets)
    wire=$(json "$out/$capture.json" wire_bytes)
    rows+=("$(awk -v l="$label" -v c="$capture" -v w="$wall" -v r="$rss" -v p="$packets" -v b="$wire" 'BEGIN {
        if (w <= 0) w = 0.001;
        printf "| %s | %s | %.2f | %.2f | %.0f | %.0f |", l, c, w, b * 8 / w / 1e9, p / w / 1e3, r / 1024 }')")
}

declare -A wall_of
for capture in large quarter; do
    file="$out/$capture.pcap"
    echo "== vigil analyze $file" >&2
    stats=$(best "vigil-ocsf-$capture" "$vigil" analyze -q "$file")
    row "vigil analyze (OCSF → /dev/null)" "$capture" "$stats"
    wall_of[vigil-$capture]=$(echo "$stats" | awk '{print $1}')
    if [ "$capture" = large ]; then
        stats=$(best "vigil-eve-$capture" "$vigil" analyze -q --format eve "$file")
        row "vigil analyze --format eve" "$capture" "$stats"
    fi
    stats=$(best "vigil-small-$capture" "$vigil" analyze -q --max-flows "$small_table" "$file")
    row "vigil analyze --max-flows $small_table" "$capture" "$stats"
done

# Issue 4: the whole ET Open corpus loaded (every rule the engine accepts),
# on the large capture: load time and memory of `vigil rules check`, and the
# throughput of the full pipeline with it.
et_dir=${BENCH_ET_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data/et-open-2024-04}
et_note=""
if [ -d "$et_dir" ]; then
    et_args=()
    for f in "$et_dir"/*.rules; do et_args+=(--rules "$f"); done
    echo "== vigil rules check (ET Open, $(ls "$et_dir"/*.rules | wc -l) files)" >&2
    stats=$(best "vigil-rules-check" "$vigil" rules check "$et_dir"/*.rules)
    "$vigil" rules check "$et_dir"/*.rules > "$out/rules-check.txt" 2>&1 || true
    et_accepted=$(tail -n 1 "$out/rules-check.txt")
    et_note=$(echo "$stats" | awk -v a="$et_accepted" '{ printf "ET Open (2024-04): %s; `vigil rules check` (load + compile) %.2f s wall, peak RSS %.0f MiB.", a, $1, $4 / 1024 }')
    echo "== vigil analyze + ET Open" >&2
    stats=$(best "vigil-et-large" "$vigil" analyze -q --no-default-rules "${et_args[@]}" "$out/large.pcap")
    row "vigil analyze + all of ET Open" large "$stats"
    stats=$(best "vigil-bare-large" "$vigil" analyze -q --no-default-rules --no-anomalies "$out/large.pcap")
    row "vigil analyze, no rules, no anomaly detectors" large "$stats"
fi

tshark_fields=(-e frame.number -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.proto
    -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e frame.len
    -e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.a -e dns.aaaa -e dns.resp.ttl
    -e http.request.method -e http.host -e http.request.uri -e http.user_agent -e http.response.code
    -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str -e tls.handshake.ja3
    -e ssh.protocol)
tshark_version=none
if [ "$run_tshark" = 1 ]; then
    tshark_version=$(tshark --version 2>/dev/null | head -n 1)
    for capture in large quarter; do
        file="$out/$capture.pcap"
        echo "== tshark -r $file -T fields (one pass, two-pass off)" >&2
        stats=$(measure "tshark-$capture" tshark -r "$file" -n -T fields "${tshark_fields[@]}")
        echo "   tshark: $stats" >&2
        row "tshark -T fields (same fields)" "$capture" "$stats"
        wall_of[tshark-$capture]=$(echo "$stats" | awk '{print $1}')
    done
fi

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -n 1)
[ -n "$dirty" ] && rev="$rev (with local changes)"
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)

{
    echo "# vigil analyze benchmark"
    echo
    echo "Captures made by \`vigil-pcapgen --seed $seed\` (mixed DNS, HTTP/1.1, TLS 1.2/1.3, SSH, bulk TCP):"
    echo
    echo "| capture | file bytes | packets | flows | max concurrent sessions | traffic span (s) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for capture in large quarter; do
        j="$out/$capture.json"
        echo "| $capture | $(json "$j" file_bytes) | $(json "$j" packets) | $(json "$j" flows) | $(json "$j" max_concurrent) | $(json "$j" duration_secs) |"
    done
    echo
    echo "One core (\`taskset -c $cpu\`), best of $runs runs for vigil, one run for tshark. Gbit/s and"
    echo "packets/s count the frames' bytes (without pcap record headers) over wall time."
    echo
    echo "| command | capture | wall (s) | Gbit/s | kpackets/s | peak RSS (MiB) |"
    echo "|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    if [ "$run_tshark" = 1 ]; then
        for capture in large quarter; do
            awk -v c="$capture" -v t="${wall_of[tshark-$capture]}" -v v="${wall_of[vigil-$capture]}" \
                'BEGIN { if (v > 0) printf "- %s: vigil is %.1f× faster than tshark extracting the same fields.\n", c, t / v }'
        done
        echo
    fi
    [ -n "$et_note" ] && { echo "$et_note"; echo; }
    echo "Machine: $(nproc) cores ($cpu_model), $mem, kernel $(uname -r); vigil $rev; ${tshark_version%.}."
} > "$out/results.md"

cat "$out/results.md"
