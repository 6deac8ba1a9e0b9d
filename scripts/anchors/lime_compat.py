"""Runs an anchor script under lime 0.2.0.1, the version ../shared/anchors/requirements.txt pins.

    python scripts/anchors/lime_compat.py ../shared/anchors/lime_image_bench.py [args...]

lime_image_bench.py calls `explain_instance(..., progress_bar=False)`, an argument lime 0.2.0.1
does not have (it raises TypeError). The anchor itself is read-only, so this wrapper accepts the
argument and drops it. lime 0.2.0.1 always wraps its sampling loop in a tqdm bar (to stderr), a
cost negligible next to the 1000 forward passes. Everything else runs as the anchor is written.
"""
import os
import runpy
import sys

from lime import lime_image

_explain = lime_image.LimeImageExplainer.explain_instance


def _explain_instance(self, *args, progress_bar=None, **kwargs):
    return _explain(self, *args, **kwargs)


lime_image.LimeImageExplainer.explain_instance = _explain_instance
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
runpy.run_path(script, run_name="__main__")
