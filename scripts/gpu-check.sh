#!/usr/bin/env bash
# The GPU path, checked (#15 §6). For a CUDA machine that has PyTorch 2.11 (pip) but no Rust:
# runs the prebuilt release binary (built here, `cargo build --release -p rectify`) against that
# machine's libtorch, on the bundled images, with --device cuda and --device cpu, for eval,
# attack and explain, and prints the agreement (top-1 identical, logits within 1e-3,
# steps-to-flip equal, explanations' top superpixels) and each device's throughput.
#
#   bash scripts/gpu-check.sh [OUT_DIR]
#
# Environment: RECTIFY_BIN (default target/release/rectify), PYTHON (default python3, the one
# whose torch is used), DEVICES (default "cpu cuda"; "cpu cpu" checks the script itself on a
# machine without a GPU), RECTIFY_EXACT=1 to run both with --exact.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${RECTIFY_BIN:-target/release/rectify}
py=${PYTHON:-python3}
out=${1:-$(mktemp -d)/gpu-check}
read -r -a devices <<< "${DEVICES:-cpu cuda}"
[ -x "$bin" ] || { echo "gpu-check: $bin not found: build it with cargo build --release -p rectify" >&2; exit 2; }
torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
"$py" -c 'import torch; print("gpu-check: torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
# This machine's libtorch first: the binary records the build machine's path only as a fallback.
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exact=()
[ "${RECTIFY_EXACT:-0}" = 1 ] && exact=(--exact)
mkdir -p "$out"
for i in "${!devices[@]}"; do
  dev=${devices[$i]}
  run="$out/$i-$dev"
  rm -rf "$run"
  echo "gpu-check: $dev -> $run" >&2
  "$bin" eval --images assets/sample-images --labels assets/sample-labels.csv \
    --real-labels assets/sample-real.json --save-logits --save-features --device "$dev" "${exact[@]}" --out "$run" >&2
  "$bin" attack --run "$run" --name ifgsm --device "$dev" "${exact[@]}" >&2
  "$bin" explain --run "$run" --misclassified --limit 4 --device "$dev" "${exact[@]}" >&2
done
"$py" scripts/gpu-compare.py "$out/0-${devices[0]}" "$out/1-${devices[1]}"
