"""rectify: audit image classifiers beyond top-1 accuracy (Stock & Cisse, ECCV 2018).

The stages of the ``rectify`` command line, called from Python::

    import rectify
    sample = rectify.samples()                       # the bundled 50 ImageNet validation images
    run = rectify.evaluate(sample.images, labels=sample.labels, out="runs/x")
    run.attack().explain(misclassified=True).criticize(method="probability")
    run.predictions                                  # a pandas DataFrame
    run.report()                                     # runs/x/report/report.html; run.show() inline

A run directory is the single source of truth: ``rectify.open_run("runs/x")`` reads a run the
``rectify`` binary made, and the binary continues a run made here.
"""

# torch first: it loads the libtorch that the extension module links (site-packages/torch/lib),
# so that the process holds one libtorch.
import torch as _torch  # noqa: F401

from ._rectify import RectifyError, UsageError, __version__
from ._api import Run, Sample, class_names, evaluate, open_run, samples, run_cli

__all__ = [
    "Run",
    "Sample",
    "RectifyError",
    "UsageError",
    "__version__",
    "class_names",
    "evaluate",
    "open_run",
    "run_cli",
    "samples",
]
