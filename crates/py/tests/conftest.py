"""Shared runs of the Python suite (scripts/python-test.sh runs it in a fresh virtual environment
where the built wheel is installed). One run made through the API and one made by the
``rectify`` binary, on the bundled sample, are shared by the tests that only read them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rectify

# Small settings that keep the suite quick; the stages' own numbers are checked by the Rust suite.
EXPLAIN = {"samples": 200, "limit": 2}


def binary() -> str:
    """The `rectify` binary that the README builds (target/release/rectify). Required: the
    interop and equality tests compare against it."""
    path = os.environ.get("RECTIFY_BIN")
    if not path or not Path(path).is_file():
        pytest.fail("RECTIFY_BIN must name the built rectify binary (scripts/python-test.sh sets it)")
    return path


def console_script() -> str:
    """The `rectify` command that the wheel installed beside this interpreter."""
    path = Path(sys.executable).with_name("rectify")
    assert path.is_file(), f"the wheel did not install the rectify command: {path}"
    return str(path)


def cli(*args, check=True):
    return subprocess.run([binary(), *map(str, args)], capture_output=True, text=True, check=check)


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    return rectify.samples(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def api_run(sample, tmp_path_factory):
    """eval (features saved) → IFGSM → LIME on 2 misclassified images → MMD and probability
    selectors → ReaL raters' votes imported → results → report, all through the API."""
    out = tmp_path_factory.mktemp("api") / "run"
    run = rectify.evaluate(sample.images, labels=sample.labels, real_labels=sample.real_labels, out=out, save_features=True, progress=False)
    run.attack(name="ifgsm", progress=False)
    run.explain(misclassified=True, progress=False, **EXPLAIN)
    run.criticize(per="all", progress=False)
    run.criticize(method="probability", per="all", progress=False)
    run.study("import", sample.votes, format="real-raters", progress=False)
    run.study("results", progress=False)
    run.report(progress=False)
    return run


@pytest.fixture(scope="session")
def cli_run(sample, tmp_path_factory):
    """The same eval made by the binary."""
    out = tmp_path_factory.mktemp("cli") / "run"
    cli("eval", "--images", sample.images, "--labels", sample.labels, "--real-labels", sample.real_labels, "--out", out, "--save-features")
    return out


@pytest.fixture
def copy_of(tmp_path):
    def copy(run_dir):
        dst = tmp_path / "copy"
        shutil.copytree(run_dir, dst)
        return dst

    return copy
