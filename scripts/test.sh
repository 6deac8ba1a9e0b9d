#!/usr/bin/env bash
# Everything CI checks: install (once), fixtures, formatting, lints, the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh --dev
bash scripts/fixtures.sh
cargo fmt --all -- --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings
# Fixtures were just made, so a test that cannot find them must fail rather than skip.
RECTIFY_REQUIRE_FIXTURES=1 cargo test --release --locked --workspace
