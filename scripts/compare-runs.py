#!/usr/bin/env python3
"""Compare two run directories made by `rectify audit` (or any stages): every JSON, JSONL, CSV and NPY
file, by relative path, with the volatile fields aside. Prints "identical" and exits 0 when nothing
else differs; otherwise lists each difference (file, JSON path, both values) and exits 1.

Usage: python3 scripts/compare-runs.py RUN_A RUN_B [--ignore KEY ...]

Volatile, and so not compared:
* JSON object keys that record when or how long: `command` (the command line, with the run's
  path), `seconds` (a stage's wall time), `batch_seconds`, `seconds_per_batch_median`,
  `seconds_per_image(_median)`, `images_per_second`, `wall_seconds`, `created_at`, `started_at`,
  `finished_at`, `throughput` (images per second) and any key ending in `_seconds_wall` (add more
  with --ignore);
* each run's own directory in strings (replaced by `$RUN` before comparing), written absolute or
  as given on the command line (`rectify audit --out runs/demo` records `runs/demo`), and its name;
* `report/report.html` and PNG files are not data artifacts (the report's numbers are report.json's).

Used by issue #14: a refactor must leave every artifact of `rectify audit` on the bundled images
unchanged. Standard library only.
"""

import csv
import io
import json
import sys
from pathlib import Path

VOLATILE = {
    "command",
    "created_at",
    "started_at",
    "finished_at",
    "seconds",
    "batch_seconds",
    "seconds_per_batch_median",
    "seconds_per_image",
    "seconds_per_image_median",
    "images_per_second",
    "wall_seconds",
    "throughput",
}
KINDS = {".json", ".jsonl", ".csv", ".npy"}


def unroot(text: str, roots: list) -> str:
    """`text` with each spelling of the run's directory (longest first) written `$RUN`."""
    for root in roots:
        text = text.replace(root, "$RUN")
    return text


def redact(value, roots: list, ignore: set):
    if isinstance(value, dict):
        return {k: redact(v, roots, ignore) for k, v in value.items() if k not in ignore and not k.endswith("_seconds_wall")}
    if isinstance(value, list):
        return [redact(v, roots, ignore) for v in value]
    if isinstance(value, str):
        return "$RUN_NAME" if value == Path(roots[0]).name else unroot(value, roots)
    return value


def diff_json(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append((f"{path}/{k}", a.get(k, "<absent>"), b.get(k, "<absent>")))
            else:
                diff_json(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((f"{path} (length)", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff_json(x, y, f"{path}/{i}", out)
    elif a != b and not (isinstance(a, float) and isinstance(b, float) and a != a and b != b):
        out.append((path, a, b))


def load(path: Path, roots: list, ignore: set):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return redact(json.loads(text), roots, ignore)
    if path.suffix == ".jsonl":
        return [redact(json.loads(line), roots, ignore) for line in text.splitlines() if line.strip()]
    return [[unroot(c, roots) for c in row] for row in csv.reader(io.StringIO(text))]


def main(argv) -> int:
    args = [a for a in argv if not a.startswith("--")]
    ignore = set(VOLATILE)
    if "--ignore" in argv:
        i = argv.index("--ignore")
        ignore |= set(a for a in argv[i + 1 :] if not a.startswith("--"))
        args = argv[:i]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (Path(x).resolve() for x in args)
    # Absolute first (it contains the relative spelling), then as typed, without a trailing slash.
    spellings = lambda resolved, typed: sorted({str(resolved), typed.rstrip("/") or typed}, key=len, reverse=True)
    roots_a, roots_b = spellings(a, args[0]), spellings(b, args[1])
    files = lambda root: {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.suffix in KINDS}
    fa, fb = files(a), files(b)
    problems = []
    for missing in sorted(fa ^ fb):
        problems.append(f"{missing}: only in {a if missing in fa else b}")
    compared = 0
    for rel in sorted(fa & fb):
        compared += 1
        pa, pb = a / rel, b / rel
        if rel.suffix == ".npy":
            # Header (dtype, shape) and data, byte for byte.
            x, y = pa.read_bytes(), pb.read_bytes()
            if x != y:
                at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                problems.append(f"{rel}: bytes differ from offset {at} ({len(x)} vs {len(y)} bytes)")
            continue
        out = []
        diff_json(load(pa, roots_a, ignore), load(pb, roots_b, ignore), "", out)
        for where, x, y in out[:20]:
            problems.append(f"{rel}{where}: {json.dumps(x)[:120]} vs {json.dumps(y)[:120]}")
        if len(out) > 20:
            problems.append(f"{rel}: … {len(out) - 20} more differences")
    if problems:
        print("\n".join(problems))
        print(f"{len(problems)} differences in {compared} files compared")
        return 1
    print(f"identical ({compared} JSON, JSONL, CSV and NPY files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
