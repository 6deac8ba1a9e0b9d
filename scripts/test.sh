#!/usr/bin/env bash
# Everything CI checks: install (once), fixtures, formatting, lints, the whole test suite (Rust,
# then the Python package's), and a bounded run of every fuzz target (RECTIFY_FUZZ_SECONDS each, default 60; 0 skips it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh --dev
# First, in seconds: every module the fixture scripts (and the scripts tests run) import imports in
# the environment `scripts/setup.sh --dev` made, and every module the Python tests and the notebook
# import imports in the fresh environment they run in. A missing requirement fails here, named.
python scripts/check-imports.py --requirements scripts/dev-requirements.txt scripts/fixtures scripts/compare-runs.py
bash scripts/python-test.sh --prepare
export RECTIFY_PYTHON_TEST_PREPARED=1
# The fuzz workspace has its own lock file; check it first so a stale one fails in seconds,
# not after the whole suite (`cargo update --manifest-path fuzz/Cargo.toml -w` mends it).
cargo metadata --manifest-path fuzz/Cargo.toml --locked --format-version 1 >/dev/null
bash scripts/fixtures.sh
cargo fmt --all -- --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings
# Fixtures were just made, so a test that cannot find them must fail rather than skip.
RECTIFY_REQUIRE_FIXTURES=1 cargo test --release --locked --workspace
# The Python package: its wheel in a fresh virtual environment, the pytest suite, the notebook.
bash scripts/python-test.sh
seconds=${RECTIFY_FUZZ_SECONDS:-60}
if [ "$seconds" != 0 ]; then
  bash scripts/fuzz.sh "$seconds"
fi
