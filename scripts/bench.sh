#!/usr/bin/env bash
# Benchmarks against the Python anchors in ../shared/anchors, each printing the ratio, and every
# goal the README states checked (issue #28 §3): a benchmark that misses a goal exits 1 after
# printing the figure. All benchmarks run even when one fails; the script ends with a table of
# figure, goal and verdict per goal, and exits 1 if any goal was missed or any benchmark failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh --bench
# A benchmark without its references would skip and pass: require them.
export RECTIFY_REQUIRE_SHARED=1 RECTIFY_REQUIRE_FIXTURES=1
python scripts/check-imports.py --requirements "../shared/anchors/requirements.txt or scripts/dev-requirements.txt" \
  ../shared/anchors scripts/anchors
goals=$PWD/target/bench-goals.tsv
mkdir -p target
: > "$goals"
export RECTIFY_BENCH_GOALS=$goals
failed=()
bench() { # bench LABEL cargo-bench-args…
  local label=$1; shift
  echo "== $label" >&2
  if ! "$@"; then
    failed+=("$label")
  fi
}
cargo build --release --locked -p rectify --benches
bench eval_throughput cargo bench --locked -p rectify --bench eval_throughput
# Modern architectures against PyTorch eager (#15), on their random-weight torchvision checkpoints.
bash scripts/fixtures.sh
for arch in vit_b_16 convnext_tiny; do
  bench "eval_throughput $arch" env BENCH_ARCH=$arch BENCH_LIMIT="${BENCH_LIMIT:-128}" \
    cargo bench --locked -p rectify --bench eval_throughput
done
bench ifgsm_vs_pytorch cargo bench --locked -p rectify --bench ifgsm_vs_pytorch
bench explain_vs_lime cargo bench --locked -p rectify --bench explain_vs_lime
bench segment_vs_skimage cargo bench --locked -p rectify-superpixels
bench mmd_scalable cargo bench --locked -p rectify --bench mmd_scalable
bench study_load cargo bench --locked -p rectify --bench study_load

echo
printf '%-34s %-44s %-12s %-14s %s\n' benchmark goal figure "goal" verdict
awk -F'\t' '{ printf "%-34s %-44s %-12s %-14s %s\n", $1, $2, $3, $4, $5 }' "$goals"
missed=$(awk -F'\t' '$5 == "MISSED"' "$goals" | wc -l)
echo
echo "bench: $(wc -l < "$goals") goals, $missed missed; ${#failed[@]} benchmark(s) failed${failed:+: ${failed[*]}}"
[ "$missed" -eq 0 ] && [ ${#failed[@]} -eq 0 ]
