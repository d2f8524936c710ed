#!/usr/bin/env bash
# Vigil's bot detection against CrowdSec (Debian's package, its nginx/HTTP scenarios) on
# the same labelled nginx log: detections and speed side by side.
#
#   bench/crowdsec.sh                         # scale 5 (about 100,000 lines)
#   BENCH_SCALE=1 bench/crowdsec.sh           # quick run (about 20,000 lines)
#   BENCH_CROWDSEC=0 bench/crowdsec.sh        # Vigil only
#
# 1. Builds vigil-webgen and vigil (release) and generates the log with
#    `vigil-webgen --seed S --scale N --direct` (nginx combined format, byte for byte
#    what nginx logs) and its labels.jsonl.
# 2. CrowdSec (bench/crowdsec/replay.sh): a private configuration in a temporary
#    directory, the package's bundled hub items enabled by symlinks (the
#    crowdsecurity/nginx collection: nginx-logs, http-logs, base-http-scenarios,
#    http-cve, nginx-req-limit-exceeded), a Local API on 127.0.0.1 with sqlite, no
#    Central API; the agent replays the file (`crowdsec -dsn file://... -type nginx
#    -no-api`, one parser routine), timed; alerts exported with `cscli alerts list`.
#    As root (and BENCH_NETNS is not 0) it runs inside a new network namespace with
#    only loopback, which proves it needs no network.
#    Where the package comes from: CROWDSEC_ROOT if set; / if Debian's crowdsec is
#    installed (the service need not run: apt-get install with a policy-rc.d that
#    exits 101, as .ci/run does); otherwise `apt-get download crowdsec` unpacked
#    with dpkg-deb -x under bench/out/crowdsec-pkg/ (no root, no service, no
#    postinst).
# 3. Vigil: `vigil analyze LOG` (JSON Lines to a file), timed.
# 4. bench/crowdsec/score.py scores both against the labels per actor (which bots
#    each flagged, by subtype; people and verified crawlers flagged) and prints the
#    table, also written to bench/out/crowdsec-results.md (bench/out/ is not committed).
#
# Both tools run pinned to one core (taskset -c BENCH_CPU), peak RSS and CPU from
# GNU time.
#
# Environment: BENCH_SCALE (5), BENCH_SEED (1), BENCH_CPU (core, default 0; empty for
# no pinning), BENCH_CROWDSEC=0 / BENCH_VIGIL=0 to skip one tool, CROWDSEC_ROOT,
# BENCH_NETNS (1), BENCH_CS_EXTRA_SCENARIOS (more hub scenarios to enable, e.g.
# "crowdsecurity/http-bf-wordpress_bf"), VIGIL_ARGS (`vigil analyze` options; default
# --no-rdns: offline like CrowdSec, crawlers checked by their published ranges only),
# VIGIL_BIN (a vigil binary to use instead of building target/release/vigil),
# BENCH_KEEP=1 to keep the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

scale=${BENCH_SCALE:-5}
seed=${BENCH_SEED:-1}
cpu=${BENCH_CPU-0}
run_cs=${BENCH_CROWDSEC:-1}
run_vigil=${BENCH_VIGIL:-1}
out=bench/out
mkdir -p "$out"

for tool in /usr/bin/time python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench/crowdsec.sh: $tool is missing (apt-get install time python3)" >&2
        exit 1
    fi
done
if [ -n "$cpu" ] && ! command -v taskset >/dev/null 2>&1; then
    echo "bench/crowdsec.sh: taskset is missing (apt-get install util-linux), or set BENCH_CPU=" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-crowdsec.XXXXXX")
cleanup() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench/crowdsec.sh: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

vigil=${VIGIL_BIN:-target/release/vigil}
vigil_args=${VIGIL_ARGS---no-rdns}
packages=(-p vigil-webgen)
if [ "$run_vigil" = 1 ] && [ -z "${VIGIL_BIN:-}" ]; then packages+=(-p vigil); fi
cargo build --release --quiet "${packages[@]}"

echo "== generating the log (seed $seed, scale $scale)" >&2
target/release/vigil-webgen --seed "$seed" --scale "$scale" --out "$work/gen" --direct >&2
log=$work/gen/access.log
lines=$(wc -l <"$log")
echo "   $lines lines" >&2

score_args=(--labels "$work/gen/labels.jsonl" --lines "$lines")

if [ "$run_cs" = 1 ]; then
    cs_root=${CROWDSEC_ROOT:-}
    if [ -z "$cs_root" ]; then
        if [ -x /usr/bin/crowdsec ] && [ -e /usr/share/crowdsec/hub/.index.json ]; then
            cs_root=/
        else
            cs_root=$repo/$out/crowdsec-pkg/root
            if [ ! -x "$cs_root/usr/bin/crowdsec" ]; then
                echo "== fetching Debian's crowdsec package (apt-get download; unpacked, not installed)" >&2
                mkdir -p "$out/crowdsec-pkg"
                (cd "$out/crowdsec-pkg" && apt-get download crowdsec >&2 &&
                    dpkg-deb -x crowdsec_*.deb root)
            fi
        fi
    fi
    cs_version=$("$cs_root/usr/bin/crowdsec" -version 2>&1 | sed -n 's/.*version: v\{0,1\}\([^ ]*\).*/\1/p' | head -1)
    echo "== CrowdSec $cs_version from $cs_root: replaying $lines lines" >&2
    replay=("$repo/bench/crowdsec/replay.sh" "$cs_root" "$work/crowdsec" "$log" "$cpu")
    if [ "$(id -u)" = 0 ] && [ "${BENCH_NETNS:-1}" != 0 ] && command -v unshare >/dev/null &&
        command -v ip >/dev/null; then
        # Loopback only: the Local API and the agent talk over 127.0.0.1, nothing else.
        unshare --net bash -c 'ip link set lo up && exec "$@"' replay "${replay[@]}"
    else
        "${replay[@]}"
    fi
    score_args+=(--crowdsec-alerts "$work/crowdsec/crowdsec-alerts.json"
        --crowdsec-time "$work/crowdsec/crowdsec-time.txt"
        --crowdsec-name "CrowdSec $cs_version")
fi

if [ "$run_vigil" = 1 ]; then
    echo "== vigil analyze on $lines lines" >&2
    pin=()
    if [ -n "$cpu" ]; then pin=(taskset -c "$cpu"); fi
    # shellcheck disable=SC2086 # vigil_args is a list of options
    if /usr/bin/time -f '%e %U %S %M' -o "$work/vigil-time.txt" \
        "${pin[@]}" "$vigil" analyze $vigil_args "$log" \
        >"$work/vigil.jsonl" 2>"$work/vigil.err"; then
        if ! grep -q '"record":"finding"' "$work/vigil.jsonl"; then
            echo "bench/crowdsec.sh: vigil analyze wrote no finding; its stderr:" >&2
            tail -5 "$work/vigil.err" >&2
        fi
        score_args+=(--vigil-findings "$work/vigil.jsonl" --vigil-time "$work/vigil-time.txt"
            --vigil-name "Vigil")
    else
        echo "bench/crowdsec.sh: vigil analyze failed on the access log (not wired yet?); its stderr:" >&2
        tail -5 "$work/vigil.err" >&2
    fi
fi

{
    echo "# Vigil and CrowdSec on the same labelled nginx log"
    echo
    echo "$(date -u +%Y-%m-%d), vigil-webgen --seed $seed --scale $scale --direct ($lines lines);" \
        "one core each (taskset -c ${cpu:-none}); $(nproc) cores," \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)."
    if [ "$run_vigil" = 1 ]; then
        echo "Vigil: ${VIGIL_BIN:-target/release/vigil at $(git rev-parse --short HEAD)}, \`vigil analyze ${vigil_args:+$vigil_args }LOG\`."
    fi
    if [ "$run_cs" = 1 ]; then
        echo "CrowdSec scenarios enabled: $(grep -c '^scenarios ' "$work/crowdsec/crowdsec-items.txt")" \
            "($(grep '^collections ' "$work/crowdsec/crowdsec-items.txt" | cut -d' ' -f2 | tr '\n' ' '| sed 's/ $//'))."
    fi
    echo
    python3 bench/crowdsec/score.py "${score_args[@]}"
} >"$out/crowdsec-results.md"
cat "$out/crowdsec-results.md"
