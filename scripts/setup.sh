#!/usr/bin/env bash
# Create (or reuse) the Python environment that provides libtorch for tch, outside the work tree.
#   scripts/setup.sh            torch only (what building and running rectify needs)
#   scripts/setup.sh --dev      + torchvision, numpy, pillow (test fixtures)
#   scripts/setup.sh --bench    + the anchors' requirements (lime, scikit-image) for benchmarks
# Idempotent: an environment that already has the pinned wheel (and the extras asked for) is reused.
# The environment's path is printed on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req="$here/torch-requirements.txt"
pin=$(grep -E '^torch==' "$req")
env_dir=${RECTIFY_TORCH_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rectify/${pin/==/-}}
py=${PYTHON:-python3}
extras=()
for arg in "$@"; do
  case "$arg" in
    --dev) extras+=("$here/dev-requirements.txt") ;;
    --bench) extras+=("$here/dev-requirements.txt")
             anchors="$here/../../shared/anchors/requirements.txt"
             [ -f "$anchors" ] || { echo "rectify: --bench needs ../shared/anchors (not found)" >&2; exit 2; }
             extras+=("$anchors") ;;
    *) echo "usage: scripts/setup.sh [--dev] [--bench]" >&2; exit 2 ;;
  esac
done
has_torch() {
  [ -x "$env_dir/bin/python" ] && "$env_dir/bin/python" - "$pin" <<'PY' >/dev/null 2>&1
import sys, importlib.metadata as m
sys.exit(0 if m.version("torch") == sys.argv[1].split("==")[1] else 1)
PY
}
if has_torch; then
  echo "rectify: reusing $env_dir ($pin)" >&2
else
  echo "rectify: installing $pin into $env_dir (once; a few minutes, ~4.6 GB)" >&2
  mkdir -p "$(dirname "$env_dir")"
  "$py" -m venv "$env_dir"
  "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
fi
for r in "${extras[@]}"; do
  stamp="$env_dir/.rectify-$(sha256sum "$r" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "rectify: installing $(basename "$r") into $env_dir" >&2
    # The torch pin is passed again so that no extra can move it.
    "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$r" "$pin" >&2
    touch "$stamp"
  fi
done
has_torch || { echo "rectify: $env_dir does not hold $pin after installing" >&2; exit 1; }
echo "$env_dir"
