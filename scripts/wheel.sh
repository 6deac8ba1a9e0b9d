#!/usr/bin/env bash
# Builds the Python package's wheel (maturin, abi3) into target/wheels and prints its path.
# `pip install` it into any environment with Python 3.9+; pip brings torch==2.11.0, whose
# libtorch the wheel links.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
set --
. scripts/env.sh --dev
rm -rf target/wheels
maturin build --release --locked -m crates/py/Cargo.toml --out target/wheels >&2
ls target/wheels/rectify-*.whl
