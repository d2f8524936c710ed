#!/usr/bin/env bash
# Regenerates examples/weblog/access.log.gz and labels.jsonl.gz: two simulated hours of
# a shop's nginx access log (combined format) from Vigil's labelled traffic generator
# (people browsing, a flash sale, a NAT gateway, crawlers real and fake, scrapers,
# credential stuffers, vulnerability scanners; see crates/vigil-webgen), seed 1.
#
#   vigil analyze examples/weblog/access.log.gz        # bot findings and the bot report
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release --quiet -p vigil-webgen -- --seed 1 --scale 1 --direct --out "$out"
gzip -9 -n -c "$out/access.log" > examples/weblog/access.log.gz
gzip -9 -n -c "$out/labels.jsonl" > examples/weblog/labels.jsonl.gz
