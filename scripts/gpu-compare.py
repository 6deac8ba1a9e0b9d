#!/usr/bin/env python3
"""Compares two runs of scripts/gpu-check.sh (device A, device B): prints agreement and throughput.

Usage: python scripts/gpu-compare.py RUN_A RUN_B. Exits 1 when a bound is missed: top-1
identical on every image, logits within 1e-3, steps-to-flip equal on every image.
"""
import csv
import json
import sys
from pathlib import Path

import numpy as np


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    a, b = (Path(p) for p in sys.argv[1:3])
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    pa, pb = rows(a / "predictions.csv"), rows(b / "predictions.csv")
    top1 = sum(x["top5"].split()[0] == y["top5"].split()[0] for x, y in zip(pa, pb))
    la, lb = np.load(a / "logits.npy"), np.load(b / "logits.npy")
    fa, fb = np.load(a / "features.npy"), np.load(b / "features.npy")
    logits = float(np.abs(la - lb).max())
    feats = float(np.abs(fa - fb).max())
    attack = lambda r: next(d for d in sorted((r / "attack").iterdir()) if d.is_dir())
    ta, tb = rows(attack(a) / "trajectory.csv"), rows(attack(b) / "trajectory.csv")
    flips = sum(x["steps_to_flip"] == y["steps_to_flip"] for x, y in zip(ta, tb))
    steps = [k for k in ta[0] if k.startswith("pred_step")]
    per_step = sum(x[k] == y[k] for x, y in zip(ta, tb) for k in steps)
    ea = sorted((a / "explain").glob("*/*.json"))
    eb = {p.relative_to(b): p for p in sorted((b / "explain").glob("*/*.json"))}
    same_top = total = 0
    for p in ea:
        q = eb.get(p.relative_to(a))
        if q is None or p.name == "summary.json":
            continue
        ja, jb = json.loads(p.read_text()), json.loads(q.read_text())
        if "weights" in ja and "weights" in jb:
            total += 1
            top = lambda w: set(np.argsort(-np.asarray(w, dtype=float))[:5].tolist())
            same_top += top(ja["weights"]) == top(jb["weights"])
    sta = json.loads((attack(a) / "summary.json").read_text())
    stb = json.loads((attack(b) / "summary.json").read_text())
    dev = lambda s: s["provenance"].get("device", "?")
    ips = lambda s: (s.get("throughput") or {}).get("images_per_s", float("nan"))
    print(f"devices: {dev(sa)} vs {dev(sb)}; {len(pa)} images")
    print(f"eval: top-1 identical {top1}/{len(pa)}, logits max|diff| {logits:.3e} (bound 1e-3), features {feats:.3e}")
    print(f"attack: steps-to-flip equal {flips}/{len(ta)}, predictions equal at {per_step}/{len(ta) * len(steps)} steps")
    print(f"explain: same top-5 superpixels {same_top}/{total}")
    print(f"throughput: eval {ips(sa):.1f} vs {ips(sb):.1f} images/s; attack {ips(sta):.1f} vs {ips(stb):.1f} images/s")
    ok = top1 == len(pa) and logits <= 1e-3 and flips == len(ta)
    print("gpu-check:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
