"""Makes assets/sample-real-raters.npz: ReaL's raw rater votes (Beyer et al. 2020, Apache-2.0,
../shared/data/labels/real_raters.npz) restricted to the bundled images (assets/sample-images).

Same layout as the original: `tensor` float64 [raters, pairs, 3] one-hot (no, maybe, yes; all
zero = not seen), `info` [pairs, 2] unicode (file, label), `ids` [raters] int64. Pairs keep the
original order; raters are those who voted on at least one kept pair, in the original order.
crates/cli/tests/audit_sample.rs checks the asset against the original when ../shared exists.

    python scripts/assets/sample_real_raters.py [../shared/data/labels/real_raters.npz]
"""
import os
import sys

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "labels", "real_raters.npz")
z = np.load(src)
files = set(os.listdir(os.path.join(root, "assets", "sample-images")))
keep = np.array([f in files for f in z["info"][:, 0]])
tensor = z["tensor"][:, keep, :]
raters = tensor.sum(axis=(1, 2)) > 0
out = os.path.join(root, "assets", "sample-real-raters.npz")
np.savez_compressed(out, tensor=tensor[raters], info=z["info"][keep], ids=z["ids"][raters])
print(f"{out}: {int(keep.sum())} pairs of {len(set(z['info'][keep][:, 0]))} images, {int(raters.sum())} raters")
