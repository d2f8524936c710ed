#!/usr/bin/env bash
# The project's test command (README; CI runs it with VIGIL_TEST_STRICT=1).
# Tests that need root, a Debian tool or the shared corpora skip without
# them, and fail instead under VIGIL_TEST_STRICT=1.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
