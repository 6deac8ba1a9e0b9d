#!/usr/bin/env bash
# The main job on the embedded default: the bundled MobileNetV2 on the 50 bundled ImageNet
# validation images. Installs libtorch (the pinned PyTorch wheel, once) and builds rectify first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh
cargo build --release --locked -p rectify
out=${1:-runs/demo}
target/release/rectify eval --images assets/sample-images --labels assets/sample-labels.csv \
  --real-labels assets/sample-real.json --out "$out" --save-logits --save-features
echo "results: $out/summary.json, $out/predictions.csv, $out/rectify.db"
