#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through libfuzzer-sys, on the stable toolchain) of every
# parser of untrusted bytes: images (our JPEG port, the image crate's PNG/WebP/BMP/GIF/TIFF),
# checkpoints (zip, pickle, safetensors), npy, ReaL's npz, vote files, label files.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# Corpora live in target/fuzz-corpus/<target> (kept between runs) and start from the test
# fixtures and the bundled assets. Any crash, panic, abort, allocation over 1 GiB (the targets'
# budget allocator), input slower than 1 s (again when run alone: see slow() below) or process
# over 2 GiB is written to target/fuzz-artifacts/<target>/ and fails the script. `make test` runs it for 60 s a target;
# run it longer by hand: scripts/fuzz.sh 3600.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode_image weights npy npz_votes vote_files label_files)
fixtures=${RECTIFY_FIXTURES:-$root/target/fixtures}
py=${RECTIFY_PYTHON:-python3}

# The flags cargo-fuzz passes for libFuzzer without a sanitizer; --target keeps them off build
# scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$root/target/fuzz"
cargo build --manifest-path fuzz/Cargo.toml --release --locked --target "$triple" >&2
bin="$CARGO_TARGET_DIR/$triple/release"

seed() { # seed TARGET FILE...: copy files into the corpus (small ones only)
  local dir="$root/target/fuzz-corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 262144 ] && cp "$f" "$dir/seed-$(basename "$f")"
  done
  true
}
corpus="$root/target/fuzz-corpus"
seed decode_image "$fixtures"/preprocess/*.{jpg,png,webp,bmp,gif,tiff} assets/sample-images/ILSVRC2012_val_0000{0347,1750,2957}.JPEG
seed weights "$fixtures"/weights/*.pt "$fixtures"/weights/*.safetensors
seed npy "$fixtures"/zoo/*.npy "$fixtures"/preprocess/odd_*.npy
seed label_files assets/sample-labels.csv assets/sample-real.json
mkdir -p "$corpus/vote_files" "$corpus/npz_votes"
printf '\x00[{"id": 1, "given_original_label": 3, "our_guessed_label": 4, "mturk": {"given": 2, "guessed": 1, "neither": 1, "both": 1}}]' \
  > "$corpus/vote_files/seed-cleanlab"
printf '\x01file,label,rater,answer,seconds\na.jpg,3,r1,yes,4.5\nb.jpg,7,r2,maybe,\n' > "$corpus/vote_files/seed-csv"
printf '\x02{"item":"relevance-top1/a.jpg/3","rater":"r1","answer":{"kind":"yes"},"seconds":null,"source":"jsonl"}\n' \
  > "$corpus/vote_files/seed-jsonl"
printf 'ILSVRC2012_val_00000001.JPEG 65\nn01440764/c.JPEG 0\n' > "$corpus/label_files/seed-txt"
if "$py" -c "import numpy" 2>/dev/null; then
  "$py" - "$corpus/npz_votes/seed-real.npz" <<'PY'
import sys, numpy as np
t = np.zeros((2, 3, 3)); t[0, :, 2] = 1; t[1, 0, 0] = 1; t[1, 1, 1] = 1
info = np.array([["a.JPEG", "3"], ["b.JPEG", "7"], ["a.JPEG", "9"]])
np.savez(sys.argv[1], tensor=t, info=info, ids=np.array([11, 12]))
PY
fi

# fuzz TARGET SECONDS LOG: one libFuzzer run (0 = no crash, hang or allocation over budget).
fuzz() {
  "$bin/$1" -max_total_time="$2" -timeout=1 -rss_limit_mb=2048 -max_len=262144 \
    -artifact_prefix="$root/target/fuzz-artifacts/$1/" -print_final_stats=1 "$corpus/$1" > "$3" 2>&1
}

# slow TARGET INPUT: whether INPUT is slower than 1 s again, run alone (three tries). libFuzzer's
# -timeout is wall-clock time, so a stall of a loaded machine (the 2-core CI box writing back the
# test suite's files) also trips it; only a timeout that reproduces is a hang of the parser.
slow() {
  local i
  for i in 1 2 3; do
    "$bin/$1" -timeout=1 -rss_limit_mb=2048 "$2" > /dev/null 2>&1 || return 0
  done
  return 1
}

failed=0
for t in "${targets[@]}"; do
  artifacts="$root/target/fuzz-artifacts/$t/"
  mkdir -p "$artifacts" "$corpus/$t"
  log="$root/target/fuzz-artifacts/$t.log"
  echo "fuzz: $t for ${seconds} s (corpus $(ls "$corpus/$t" | wc -l) inputs)" >&2
  deadline=$((SECONDS + seconds)) runs=0 stalls=0 ok=0
  while :; do
    left=$((deadline - SECONDS))
    [ "$left" -ge 1 ] || { ok=1; break; }
    fuzz "$t" "$left" "$log" && ok=1
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    runs=$((runs + ${n:-0}))
    [ $ok = 0 ] || break
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    if grep -q 'ERROR: libFuzzer: timeout' "$log" && [ -f "$input" ] && [ $stalls -lt 3 ] && ! slow "$t" "$input"; then
      stalls=$((stalls + 1))
      mv "$input" "${input%/*}/stall-${input##*/timeout-}"
      echo "fuzz: $t: an input passed 1 s once but runs in under 1 s alone (3 tries): a stall of the machine, not a hang; fuzzing on" >&2
      continue
    fi
    break
  done
  if [ $ok = 1 ]; then
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "fuzz: $t: $runs inputs, $cov, no crash, hang or allocation over budget$([ $stalls = 0 ] || echo " ($stalls stalls)")" >&2
  else
    echo "fuzz: $t FAILED; the input is in $artifacts, the log in $log:" >&2
    tail -n 30 "$log" >&2
    failed=1
  fi
done
exit $failed
