#!/usr/bin/env bash
# Generate the test fixtures that need PyTorch/torchvision/Pillow (into target/fixtures by default).
# Idempotent: a fixture set is regenerated only when its script changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${RECTIFY_FIXTURES:-$root/target/fixtures}
py=${RECTIFY_PYTHON:-$(bash "$root/scripts/setup.sh" --dev | tail -n 1)/bin/python}
mkdir -p "$out"
for script in "$root"/scripts/fixtures/*.py; do
  name=$(basename "$script" .py)
  stamp="$out/$name/.stamp-$(sha256sum "$script" | cut -c1-16)"
  if [ -f "$stamp" ]; then
    echo "fixtures: $name up to date" >&2
    continue
  fi
  echo "fixtures: generating $name" >&2
  rm -rf "$out/$name"
  "$py" "$script" "$out"   # each script writes its own set folder, $out/$name
  touch "$stamp"
done
