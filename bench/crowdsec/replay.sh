#!/usr/bin/env bash
# CrowdSec's half of bench/crowdsec.sh: replays one nginx access log through Debian's
# CrowdSec with the HTTP scenarios, offline, in a private configuration, and exports
# the alerts.
#
#   bench/crowdsec/replay.sh CROWDSEC_ROOT WORK_DIR ACCESS_LOG [CPU]
#
# CROWDSEC_ROOT is where Debian's crowdsec package is unpacked: / when it is installed
# (apt-get install crowdsec), or the directory `dpkg-deb -x crowdsec_*.deb DIR` made.
# Nothing outside WORK_DIR is written: no /etc/crowdsec, no service, no Central API.
#
# What it does:
#   1. builds WORK_DIR/etc/config.yaml: sqlite database, data and logs under WORK_DIR,
#      Local API on 127.0.0.1 (a free port), no Central API, no Prometheus;
#   2. enables the hub items from the package's bundled ("offline") hub by symlinks,
#      as Debian's postinst does for /etc/crowdsec: the crowdsecurity/nginx
#      collection and everything it pulls in (nginx-logs, http-logs,
#      base-http-scenarios, http-cve, nginx-req-limit-exceeded), plus the s00-raw
#      (syslog-logs, whose non-syslog node sets the program from -type) and s02
#      (dateparse-enrich, whitelists) parsers Debian enables with it.
#      `cscli collections install` cannot be used offline in 1.4.6 (it asks
#      version.crowdsec.net for the hub branch, then downloads the item from
#      hub-cdn.crowdsec.net), so the symlinks are the offline install;
#   3. copies the package's data files (bad user agents, sensitive files, ...) and
#      fills in any data file a scenario names that the package ships under the
#      source URL's name (1.4.6-6~deb12u1 ships path_traversal.txt, the scenario
#      reads http_path_traversal.txt: without it every line logs an error and the
#      scenario never fires);
#   4. registers a machine, starts the Local API alone (crowdsec -no-cs) in the
#      background, times the agent in replay ("time machine") mode
#      (crowdsec -dsn file://LOG -type nginx -no-api), then lists the alerts with
#      cscli and stops the Local API.
#
# Writes WORK_DIR/crowdsec-time.txt ("wall user sys maxrss_kib" of the agent),
# WORK_DIR/crowdsec-alerts.json (cscli alerts list -o json), WORK_DIR/crowdsec-items.txt
# (the enabled scenarios), WORK_DIR/crowdsec-version.txt and the agent's log.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CROWDSEC_ROOT WORK_DIR ACCESS_LOG [CPU]" >&2
    exit 2
fi
root=${1%/}
work=$2
log=$(realpath "$3")
cpu=${4:-}

crowdsec=$root/usr/bin/crowdsec
cscli=$root/usr/bin/cscli
hub=$root/usr/share/crowdsec/hub
for need in "$crowdsec" "$cscli" "$hub/.index.json" "$root/etc/crowdsec/patterns" \
    "$root/etc/crowdsec/profiles.yaml"; do
    if [ ! -e "$need" ]; then
        echo "replay.sh: $need is missing (is Debian's crowdsec package at $root?)" >&2
        exit 1
    fi
done

mkdir -p "$work"
work=$(realpath "$work")
etc=$work/etc
rm -rf "$etc" "$work/data" "$work/log"
mkdir -p "$etc"/{parsers/s00-raw,parsers/s01-parse,parsers/s02-enrich,scenarios,collections,postoverflows} \
    "$work/data" "$work/log"
"$crowdsec" -version >"$work/crowdsec-version.txt" 2>&1 || true

# A free port unless we are alone in a fresh network namespace.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$etc/config.yaml" <<EOF
common:
  daemonize: false
  log_media: file
  log_level: info
  log_dir: $work/log/
  working_dir: $work
config_paths:
  config_dir: $etc/
  data_dir: $work/data/
  simulation_path: $etc/simulation.yaml
  hub_dir: $hub/
  index_path: $hub/.index.json
  notification_dir: $etc/notifications/
  plugin_dir: $root/usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: $etc/acquis.yaml
  parser_routines: 1
cscli:
  output: human
  color: no
db_config:
  log_level: info
  type: sqlite
  db_path: $work/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 10000000
    max_age: 3650d
api:
  client:
    insecure_skip_verify: false
    credentials_path: $etc/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:$port
    profiles_path: $etc/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
EOF
: >"$etc/acquis.yaml"
cp "$root/etc/crowdsec/profiles.yaml" "$root/etc/crowdsec/simulation.yaml" "$etc/"
ln -s "$root/etc/crowdsec/patterns" "$etc/patterns"
cp "$root"/usr/share/crowdsec/data/* "$work/data/"

# Resolve the collection from the bundled index and link its items (and the base
# parsers) into the private config directory; fill in misnamed data files.
python3 - "$hub" "$etc" "$work/data" "$root/usr/share/crowdsec/data" \
    >"$work/crowdsec-items.txt" <<'EOF'
import json, os, re, sys
hub, etc, data, shipped = sys.argv[1:5]
index = json.load(open(os.path.join(hub, ".index.json")))
want = {"collections": ["crowdsecurity/nginx"],
        "parsers": ["crowdsecurity/syslog-logs", "crowdsecurity/dateparse-enrich",
                    "crowdsecurity/whitelists"],
        "scenarios": [], "postoverflows": []}
extra = os.environ.get("BENCH_CS_EXTRA_SCENARIOS", "").split()
want["scenarios"] += extra
seen = set()
def add(kind, name):
    if (kind, name) in seen:
        return
    seen.add((kind, name))
    item = index[kind][name]
    for sub in ("parsers", "scenarios", "postoverflows", "collections"):
        for child in item.get(sub) or []:
            add(sub, child)
for kind, names in want.items():
    for name in names:
        add(kind, name)
for kind, name in sorted(seen):
    item = index[kind][name]
    src = os.path.join(hub, item["path"])
    # cwhub wants config_dir/<kind>/[<stage>/]<file> (no vendor directory).
    parts = item["path"].split("/")
    rel = os.path.join(*parts[:-2], parts[-1])
    dst = os.path.join(etc, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        sys.exit(f"replay.sh: two hub items want {dst}")
    os.symlink(src, dst)
    print(kind, name, item.get("version", "?"))
    if kind == "scenarios":
        text = open(src).read()
        for url, dest in re.findall(r"source_url:\s*(\S+)\s*\n\s*dest_file:\s*(\S+)", text):
            target = os.path.join(data, dest)
            if not os.path.exists(target):
                fallback = os.path.join(shipped, os.path.basename(url))
                if os.path.exists(fallback):
                    with open(fallback, "rb") as f, open(target, "wb") as g:
                        g.write(f.read())
                    print(f"data {dest} (from the package's {os.path.basename(url)})")
                else:
                    print(f"data {dest} MISSING", file=sys.stderr)
EOF

cd "$work"
"$cscli" -c "$etc/config.yaml" --error machines add bench --auto --force \
    -f "$etc/local_api_credentials.yaml" >/dev/null

# The Local API alone, in the background; stopped on exit.
"$crowdsec" -c "$etc/config.yaml" -no-cs -no-capi >"$work/log/lapi.out" 2>&1 &
lapi=$!
stop_lapi() {
    if kill -0 "$lapi" 2>/dev/null; then
        kill "$lapi" 2>/dev/null || true
        wait "$lapi" 2>/dev/null || true
    fi
}
trap stop_lapi EXIT
for _ in $(seq 1 100); do
    if "$cscli" -c "$etc/config.yaml" --error lapi status >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$lapi" 2>/dev/null; then
        echo "replay.sh: the Local API exited; its output:" >&2
        cat "$work/log/lapi.out" >&2
        exit 1
    fi
    sleep 0.2
done

pin=()
if [ -n "$cpu" ]; then pin=(taskset -c "$cpu"); fi
# The agent: parse, enrich, pour into the scenarios' buckets in the log's own time,
# push alerts to the Local API, exit at the end of the file.
/usr/bin/time -f '%e %U %S %M' -o "$work/crowdsec-time.txt" \
    "${pin[@]}" "$crowdsec" -c "$etc/config.yaml" -dsn "file://$log" -type nginx \
    -no-api -no-capi >"$work/log/agent.out" 2>&1

"$cscli" -c "$etc/config.yaml" --error alerts list -o json --limit 0 \
    >"$work/crowdsec-alerts.json"
errors=$(grep 'level=error' "$work/log/agent.out" | grep -vc GeoLite2 || true)
if [ "$errors" -gt 0 ]; then
    echo "replay.sh: the agent logged $errors errors (see $work/log/agent.out); first ones:" >&2
    grep 'level=error' "$work/log/agent.out" | grep -v GeoLite2 | cut -c1-300 | sort | uniq -c | head -5 >&2
fi
