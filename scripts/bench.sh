#!/usr/bin/env bash
# Benchmarks against the Python anchors in ../shared/anchors, each printing the ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh --bench
cargo bench --locked -p rectify --bench eval_throughput
# Modern architectures against PyTorch eager (#15), on their random-weight torchvision checkpoints.
bash scripts/fixtures.sh
for arch in vit_b_16 convnext_tiny; do
  BENCH_ARCH=$arch BENCH_LIMIT=${BENCH_LIMIT:-128} cargo bench --locked -p rectify --bench eval_throughput
done
cargo bench --locked -p rectify --bench ifgsm_vs_pytorch
cargo bench --locked -p rectify --bench explain_vs_lime
cargo bench --locked -p rectify-superpixels
cargo bench --locked -p rectify --bench mmd_scalable
cargo bench --locked -p rectify --bench study_load
