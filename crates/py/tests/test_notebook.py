"""The example notebook (examples/python/quickstart.ipynb), executed headlessly with this
environment's kernel: every cell runs, and the last one renders the report inline."""

import html
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import rectify


def test_the_example_notebook_runs(tmp_path):
    repo = Path(os.environ.get("RECTIFY_REPO") or Path(__file__).resolve().parents[3])
    nb = nbformat.read(repo / "examples/python/quickstart.ipynb", as_version=4)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    stderr = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr, stderr
    assert "eval: 100%" in stderr and "50/50" in stderr, "a progress bar per phase: " + stderr[:500]
    last = nb.cells[-1].outputs
    page = next(o["data"]["text/html"] for o in last if o.output_type == "execute_result")
    report = (tmp_path / "runs/notebook/report/report.html").read_text()
    assert page.startswith("<iframe srcdoc=") and html.unescape(page.split('srcdoc="', 1)[1].split('" style=', 1)[0]) == report
    # The notebook's run is an ordinary run: the API (and the binary) read it.
    run = rectify.open_run(tmp_path / "runs/notebook")
    assert len(run.predictions) == 50 and len(run.explanations) == 2 and run.attacks == ["ifgsm"]
