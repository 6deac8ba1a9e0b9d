#!/usr/bin/env bash
# The main job on the embedded default: the paper's whole audit (eval, IFGSM, LIME, prototypes and
# criticisms, the rectified error from the bundled ReaL raters' votes, report) of the bundled
# MobileNetV2 on the 50 bundled ImageNet validation images.
# Installs libtorch (the pinned PyTorch wheel, once) and builds rectify first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-runs/demo}
set -- # env.sh reads its own arguments: give it none
. scripts/env.sh
cargo build --release --locked -p rectify
target/release/rectify audit --images assets/sample-images --labels assets/sample-labels.csv \
  --real-labels assets/sample-real.json --votes assets/sample-real-raters.npz --out "$out"
echo "report: $out/report/report.html (numbers in $out/report/report.json; everything else under $out/)"
