#!/usr/bin/env bash
# Generate the test fixtures that need PyTorch/torchvision/Pillow (into target/fixtures by default).
# Idempotent: a fixture set is regenerated only when its script or scripts/dev-requirements.txt
# changed, or when ../shared (or $RECTIFY_SHARED) appeared or went away since it was made (some
# sets use it when it is there).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${RECTIFY_FIXTURES:-$root/target/fixtures}
py=${RECTIFY_PYTHON:-$(bash "$root/scripts/setup.sh" --dev | tail -n 1)/bin/python}
export RECTIFY_SHARED=${RECTIFY_SHARED:-$root/../shared}
if [ -f "$RECTIFY_SHARED/README.md" ]; then with=shared; else with=no-shared; fi
mkdir -p "$out"
for script in "$root"/scripts/fixtures/*.py; do
  name=$(basename "$script" .py)
  # The script and the pinned references that compute it (a new pin regenerates every set).
  stamp="$out/$name/.stamp-$(cat "$script" "$root/scripts/dev-requirements.txt" | sha256sum | cut -c1-16)-$with"
  if [ -f "$stamp" ]; then
    echo "fixtures: $name up to date" >&2
    continue
  fi
  echo "fixtures: generating $name" >&2
  rm -rf "$out/$name"
  "$py" "$script" "$out"   # each script writes its own set folder, $out/$name (or nothing without ../shared)
  mkdir -p "$out/$name"
  touch "$stamp"
done
