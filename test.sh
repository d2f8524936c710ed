#!/usr/bin/env bash
# The project's test command (README; CI runs it with VIGIL_TEST_STRICT=1).
# Tests that need root, a Debian tool or the shared corpora skip without
# them, and fail instead under VIGIL_TEST_STRICT=1.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# Every parser of untrusted bytes has a cargo-fuzz target; run each briefly.
if command -v cargo-fuzz >/dev/null 2>&1; then
    fuzz/run.sh
elif [ "${VIGIL_TEST_STRICT:-}" = 1 ]; then
    echo "test.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 1
else
    echo "skipping: fuzz targets (cargo-fuzz is not installed: cargo install cargo-fuzz --locked)"
fi
