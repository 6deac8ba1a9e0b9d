"""The README's Python example, run as written (in a scratch folder), and its numbers against the
binary's on the same images: predictions, features, trajectories and the rectified error."""

import json
import os
from pathlib import Path

import numpy as np

from conftest import cli


def readme_example():
    repo = Path(os.environ.get("RECTIFY_REPO") or Path(__file__).resolve().parents[3])
    text = (repo / "README.md").read_text()
    after = text.split("<!-- python-example", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs_and_equals_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scope = {}
    exec(compile(readme_example(), "README.md", "exec"), scope)
    run, sample = scope["run"], scope["sample"]
    assert run.path == Path("runs/python") and (run.path / "report/report.html").is_file()
    assert run._repr_html_().startswith("<iframe srcdoc=")

    ref = tmp_path / "cli"
    cli("eval", "--images", sample.images, "--labels", sample.labels, "--real-labels", sample.real_labels, "--out", ref, "--save-features")
    cli("attack", "--run", ref, "--name", "ifgsm")
    cli("study", "import", "--run", ref, "--format", "real-raters", sample.votes)
    cli("study", "results", "--run", ref)
    assert (run.path / "predictions.csv").read_bytes() == (ref / "predictions.csv").read_bytes()
    assert np.array_equal(run.features, np.load(ref / "features.npy"))
    assert (run.path / "attack/ifgsm/trajectory.csv").read_bytes() == (ref / "attack/ifgsm/trajectory.csv").read_bytes()
    ours = json.loads((run.path / "study/results.json").read_text())["designs"]
    theirs = json.loads((ref / "study/results.json").read_text())["designs"]
    assert ours == theirs
    top1 = run.study_results.loc["relevance-top1"]
    assert (top1.top1_error, top1.rectified_top1_error) == (theirs["relevance-top1"]["top1_error"], theirs["relevance-top1"]["rectified_top1_error"])
    assert len(run.explanations) == 2 and set(run.selections.method) == {"mmd"}
