"""The Python package against the binary and against the run directory's own files: every API
function, the DataFrames' columns and dtypes, errors, interop with a CLI-made run, Ctrl-C, one
libtorch in the process."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import rectify
from conftest import EXPLAIN, binary, cli, console_script


def kind(series):
    """A column's dtype, with text columns as "str" whichever way pandas stores them."""
    if isinstance(series.dtype, pd.StringDtype) or (series.dtype == object and len(series) and all(isinstance(v, str) for v in series)):
        return "str"
    return str(series.dtype)


def dtypes(df):
    """The dtypes of the non-text columns (text columns are checked with kind)."""
    return {c: kind(df[c]) for c in df.columns if kind(df[c]) != "str"}


# --- installation -----------------------------------------------------------------------------


def test_one_libtorch_the_installed_torchs():
    """The extension links the libtorch of the torch package beside it: the process maps one
    libtorch_cpu.so, from torch's own lib folder (no LD_LIBRARY_PATH, no second copy)."""
    maps = Path("/proc/self/maps").read_text().splitlines()
    libs = {line.split()[-1] for line in maps if line.endswith("libtorch_cpu.so")}
    torch_lib = Path(torch.__file__).resolve().parent / "lib" / "libtorch_cpu.so"
    assert {str(Path(p).resolve()) for p in libs} == {str(torch_lib)}, libs
    assert "LD_LIBRARY_PATH" not in os.environ or "torch" not in os.environ["LD_LIBRARY_PATH"]
    so = Path(rectify._rectify.__file__)
    assert so.name.endswith(".abi3.so"), so


def test_the_extension_finds_libtorch_beside_it_without_torch_imported():
    """Loaded on its own (no `import torch` first), the library's run path finds libtorch in
    the torch package of this environment's site-packages."""
    so = rectify._rectify.__file__
    script = f"import ctypes; ctypes.CDLL({so!r}); print(open('/proc/self/maps').read())"
    maps = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    libs = {line.split()[-1] for line in maps.splitlines() if line.endswith("libtorch_cpu.so")}
    assert {str(Path(p).resolve()) for p in libs} == {str((Path(torch.__file__).resolve().parent / "lib" / "libtorch_cpu.so"))}, libs
    assert (Path(so).parent.parent / "torch").resolve() == Path(torch.__file__).resolve().parent


def test_the_wheel_installs_the_rectify_command(tmp_path):
    out = subprocess.run([console_script(), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"rectify {rectify.__version__}"
    assert out.stdout == cli("--version").stdout
    bad = subprocess.run([console_script(), "eval", "--images", tmp_path / "none", "--out", tmp_path / "r"], capture_output=True, text=True)
    ref = cli("eval", "--images", tmp_path / "none", "--out", tmp_path / "r2", check=False)
    assert (bad.returncode, ref.returncode) == (2, 2)
    assert bad.stderr.startswith("rectify: error: ") and bad.stderr == ref.stderr, (bad.stderr, ref.stderr)


def test_class_names_and_version():
    names = rectify.class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet tissue", names[:3]
    assert rectify.__version__.count(".") == 2


def test_samples_are_the_bundled_files(sample):
    repo_assets = Path(__file__).resolve().parents[3] / "assets"
    assert sorted(p.name for p in sample.images.iterdir()) == sorted(p.name for p in (repo_assets / "sample-images").iterdir())
    for ours, theirs in [(sample.labels, "sample-labels.csv"), (sample.real_labels, "sample-real.json"), (sample.votes, "sample-real-raters.npz")]:
        assert ours.read_bytes() == (repo_assets / theirs).read_bytes(), theirs


# --- the stages equal the binary's ------------------------------------------------------------


def test_evaluate_equals_the_binary(api_run, cli_run):
    """Same images, same flags: the predictions file, the features and the accuracies are the
    binary's, byte for byte."""
    assert (api_run.path / "predictions.csv").read_bytes() == (cli_run / "predictions.csv").read_bytes()
    assert np.array_equal(api_run.features, np.load(cli_run / "features.npy"))
    ours, theirs = api_run.summary, json.loads((cli_run / "summary.json").read_text())
    for key in ("n", "evaluated", "failed", "labeled", "top1", "top5", "real_n", "real_top1", "real_top5"):
        assert ours[key] == theirs[key], key
    for key in ("model", "weights_sha256", "preprocess"):
        if key in theirs["provenance"]:
            assert ours["provenance"][key] == theirs["provenance"][key], key


def test_attack_and_report_equal_the_binary(api_run, cli_run):
    """The binary continues the binary-made run with the same attack; the trajectories equal the
    API's, and the binary's report of the API's run holds the API report's numbers."""
    cli("attack", "--run", cli_run, "--name", "ifgsm")
    assert (api_run.path / "attack/ifgsm/trajectory.csv").read_bytes() == (cli_run / "attack/ifgsm/trajectory.csv").read_bytes()
    cli("report", "--run", api_run.path, "--out", api_run.path.parent / "cli-report")
    ours = json.loads((api_run.path / "report/report.json").read_text())
    theirs = json.loads((api_run.path.parent / "cli-report/report.json").read_text())
    assert ours["tables"] == theirs["tables"] if "tables" in ours else strip_paths(ours) == strip_paths(theirs)


def strip_paths(report):
    text = json.dumps(report, sort_keys=True)
    return json.loads(text.replace("cli-report", "report"))


# --- DataFrames --------------------------------------------------------------------------------


def test_predictions_frame(api_run):
    df = api_run.predictions
    assert list(df.columns) == ["file", "label", "pred", "prob", "correct", "top5_correct", "label_name", "pred_name", "top5", "top5_probs"]
    assert dtypes(df) == {"label": "Int64", "pred": "int64", "prob": "float64", "correct": "boolean", "top5_correct": "boolean", "top5": "object", "top5_probs": "object"}
    assert all(kind(df[c]) == "str" for c in ("file", "label_name", "pred_name"))
    with open(api_run.path / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(df.file) == [r["file"] for r in rows]
    assert list(df.label) == [int(r["label"]) for r in rows]
    assert [list(t) for t in df.top5] == [[int(c) for c in r["top5"].split()] for r in rows]
    assert list(df.prob) == [float(r["top5_probs"].split()[0]) for r in rows]
    assert df.top5[0].dtype == np.int64 and df.top5_probs[0].dtype == np.float64
    s = api_run.summary
    assert df.correct.mean() == s["top1"] and df.top5_correct.mean() == s["top5"]
    names = rectify.class_names()
    assert list(df.pred_name) == [names[p] for p in df.pred]
    assert api_run.features.shape == (50, 1280) and api_run.features.dtype == np.float32


def test_predictions_of_unlabelled_images_are_missing_not_wrong(sample, tmp_path):
    run = rectify.evaluate(sample.images, out=tmp_path / "nolabels", limit=3, progress=False)
    df = run.predictions
    assert df.label.isna().all() and df.correct.isna().all() and df.top5_correct.isna().all()
    assert str(df.label.dtype) == "Int64" and str(df.correct.dtype) == "boolean"
    with pytest.raises(rectify.RectifyError, match="save_features=True"):
        run.features


def test_trajectories_frame(api_run):
    df = api_run.trajectories
    steps = [f"step{i}" for i in range(11)]
    assert list(df.columns) == ["attack", "file", "label", *steps, "steps_to_flip"]
    assert dtypes(df) == {"label": "Int64", **{s: "int64" for s in steps}, "steps_to_flip": "Int64"}
    summary = api_run.attack_summary("ifgsm")
    assert api_run.attacks == ["ifgsm"] and set(df.attack) == {"ifgsm"} and len(df) == summary["n"] == 50
    # The summary's accuracy per step and histogram, recomputed from the frame.
    acc = [(df[s] == df.label).mean() for s in steps]
    assert acc == pytest.approx(summary["accuracy_per_step"], abs=0)
    hist = df.steps_to_flip.dropna().value_counts()
    assert [int(hist.get(i, 0)) for i in range(len(summary["steps_to_flip_histogram"]))] == summary["steps_to_flip_histogram"]
    assert int(df.steps_to_flip.notna().sum()) == summary["flipped"]
    assert list(df.step0) == list(api_run.predictions.pred), "step 0 is the clean prediction"


def test_explanations_frame(api_run):
    df = api_run.explanations
    assert list(df.columns) == ["explain", "file", "true_label", "label", "label_name", "probability", "segments", "r2", "intercept", "local_pred", "auc_path", "auc_random", "seed", "weights", "ranked", "path", "random_path"]
    assert dtypes(df) == {"true_label": "Int64", "label": "int64", "probability": "float64", "segments": "int64", "r2": "float64", "intercept": "float64", "local_pred": "float64", "auc_path": "float64", "auc_random": "float64", "seed": "uint64", "weights": "object", "ranked": "object", "path": "object", "random_path": "object"}
    assert len(df) == EXPLAIN["limit"] and len(api_run.explains) == 1
    preds = api_run.predictions.set_index("file")
    for row in df.itertuples():
        stem = row.file.replace("/", "__")
        raw = json.loads((api_run.path / "explain" / row.explain / f"{stem}.json").read_text())
        assert len(row.weights) == row.segments == raw["segments"] and row.weights.dtype == np.float64
        assert list(row.weights) == raw["weights"] and list(row.ranked) == raw["ranked"] and list(row.path) == raw["path"]
        assert (row.auc_path, row.r2, row.seed) == (raw["auc_path"], raw["r2"], raw["seed"])
        assert row.label == preds.pred[row.file] != preds.label[row.file], "a misclassified image, its predicted class explained"
    assert api_run.explanation_image(df.file[0]).size == api_run.explanation_image(df.file[0], "heatmap").size


def test_selections_frame(api_run):
    df = api_run.selections
    assert list(df.columns) == ["selector", "method", "group", "kind", "rank", "file", "image_id", "score"]
    assert dtypes(df) == {"rank": "int64", "image_id": "int64", "score": "float64"}
    assert sorted(api_run.criticisms) == sorted(set(df.selector)) and set(df.method) == {"mmd", "probability"}
    for name in api_run.criticisms:
        sel = json.loads((api_run.path / "criticize" / name / "selection.json").read_text())
        part = df[df.selector == name]
        for g in sel["groups"]:
            for kind, files in (("prototype", g["prototype_files"]), ("criticism", g["criticism_files"])):
                rows = part[(part.group == g["group"]) & (part.kind == kind)].sort_values("rank")
                assert list(rows.file) == files and list(rows["rank"]) == list(range(len(files)))
    assert set(df.file) <= set(api_run.predictions.file)


def test_study_frames(api_run):
    df = api_run.study_results
    raw = json.loads((api_run.path / "study/results.json").read_text())
    assert list(df.index) == list(raw["designs"]) and df.index.name == "design"
    top1 = raw["designs"]["relevance-top1"]
    row = df.loc["relevance-top1"]
    assert (row.top1_error, row.rectified_top1_error, row.errors, row.rated) == (top1["top1_error"], top1["rectified_top1_error"], top1["errors"], top1["rated"])
    assert (row.ci_rectified_top1_error_low, row.ci_rectified_top1_error_high) == tuple(top1["ci"]["rectified_top1_error"])
    assert str(df.dtypes["errors"]) == "Int64" and str(df.dtypes["top1_error"]) == "float64"
    assert list(row.histogram) == top1["histogram"]
    assert api_run.study_summary == raw
    mistakes = api_run.rated_mistakes
    assert list(mistakes.columns) == ["file", "label", "class", "yes", "votes", "outcome"]
    assert dtypes(mistakes) == {"label": "int64", "class": "int64", "yes": "int64", "votes": "int64"}
    assert len(mistakes) == top1["errors"] and list(mistakes.yes) == sorted(mistakes.yes, reverse=True)
    assert (mistakes.outcome == "rectified").sum() == top1["rectified"]
    preds = api_run.predictions.set_index("file")
    assert all(preds.pred[f] == c and preds.label[f] == l for f, c, l in zip(mistakes.file, mistakes["class"], mistakes.label))
    votes = api_run.votes
    assert list(votes.columns) == ["item", "design", "variant", "arm", "rater", "answer", "seconds", "source"]
    assert len(votes) == sum(raw["sources"].values()) and set(votes.source) == set(raw["sources"])
    assert str(votes.seconds.dtype) == "float64"


def test_frames_of_a_run_without_stages(cli_run, copy_of):
    run = rectify.open_run(copy_of(cli_run))
    for frame in (run.explanations, run.selections):
        assert len(frame) == 0
    assert list(run.trajectories.columns)[:3] == ["attack", "file", "label"]
    assert len(run.trajectories) == (50 if run.attacks else 0)
    assert len(run.study_results) == 0 and len(run.rated_mistakes) == 0
    with pytest.raises(rectify.RectifyError, match="no study results"):
        run.study_summary


# --- interop -----------------------------------------------------------------------------------


def test_api_continues_a_cli_run_and_the_cli_reads_it(cli_run, copy_of, sample):
    run = rectify.open_run(copy_of(cli_run))
    assert (run.path / "predictions.csv").read_bytes() == (cli_run / "predictions.csv").read_bytes()
    first = run.predictions.file[0]
    cli("explain", "--run", run.path, "--files", first, "--samples", "100", "--name", "e")
    cli("criticize", "--run", run.path, "--method", "probability", "--per", "all")
    assert list(run.explanations.file) == [first] and run.explains == ["e"]
    assert set(run.selections.method) == {"probability"}
    run.criticize(method="random", per="all", progress=False)
    out = cli("report", "--run", run.path)
    assert (run.path / "report/report.html").is_file(), out.stdout
    report = json.loads((run.path / "report/report.json").read_text())
    assert "random" in json.dumps(report)
    assert run.image(run.predictions.file[0]).size == (227, 227)


# --- errors ------------------------------------------------------------------------------------


def test_errors_carry_the_binarys_messages(api_run, tmp_path):
    with pytest.raises(rectify.UsageError) as usage:
        api_run.attack(method="nope", progress=False)
    ref = cli("attack", "--run", api_run.path, "--method", "nope", check=False)
    assert ref.returncode == 2 and str(usage.value) == ref.stderr.strip()
    with pytest.raises(rectify.RectifyError) as failed:
        api_run.criticize(method="adversarial", attack="zzz", per="all", progress=False)
    ref = cli("criticize", "--run", api_run.path, "--method", "adversarial", "--attack", "zzz", "--per", "all", check=False)
    assert ref.returncode == 2 and f"rectify: error: {failed.value}" == ref.stderr.strip()
    assert not isinstance(failed.value, rectify.UsageError) and isinstance(usage.value, rectify.RectifyError)
    with pytest.raises(rectify.UsageError, match="unexpected argument '--no-such-flag'"):
        api_run.explain(no_such_flag=3, progress=False)
    with pytest.raises(rectify.RectifyError, match="not a rectify run"):
        rectify.open_run(tmp_path)
    with pytest.raises(ValueError, match="either model= or arch="):
        rectify.evaluate(tmp_path, model=torch.nn.Identity(), arch="resnet50", out=tmp_path / "x")
    with pytest.raises(TypeError, match="model must be"):
        rectify.evaluate(tmp_path, model=42, out=tmp_path / "y")
    with pytest.raises(rectify.RectifyError, match="no explanation of nope.JPEG"):
        api_run.show_explanation("nope.JPEG")


# --- models given as modules -------------------------------------------------------------------


class Tiny(torch.nn.Module):
    """A scriptable classifier: mean colour → 1000 logits."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(3, 1000)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class Untypable(Tiny):
    """Not scriptable (variadic arguments), traceable."""

    def forward(self, x, *rest):
        return self.fc(x.mean(dim=(2, 3)))


def test_modules_are_scripted_or_traced_and_say_which(sample, tmp_path, capfd):
    module = Tiny().train()
    scripted = rectify.evaluate(sample.images, labels=sample.labels, model=module, out=tmp_path / "s", limit=8, progress=False)
    assert "scripted" in capfd.readouterr().err
    assert scripted.model_export["method"] == "torch.jit.script" and module.training, "the module's mode is restored"
    traced = rectify.evaluate(sample.images, labels=sample.labels, model=Untypable(), out=tmp_path / "t", limit=8, progress=False)
    err = capfd.readouterr().err
    assert "traced on an input of shape (1, 3, 224, 224)" in err, err
    assert traced.model_export["method"] == "torch.jit.trace"
    # The trace follows the crop asked for.
    rectify.evaluate(sample.images, model=Untypable(), out=tmp_path / "t299", limit=1, crop=299, resize=342, progress=False)
    assert "(1, 3, 299, 299)" in capfd.readouterr().err
    # The same function three ways (scripted, traced, a TorchScript file): the same predictions.
    (saved,) = (scripted.path / "model").glob("model-*.pt")
    by_path = rectify.evaluate(sample.images, labels=sample.labels, model=saved, out=tmp_path / "p", limit=8, progress=False)
    assert by_path.model_export is None
    a, b, c = (r.predictions for r in (scripted, traced, by_path))
    assert list(a.pred) == list(b.pred) == list(c.pred)
    assert np.allclose(a.prob, b.prob, atol=1e-6) and list(a.prob) == list(c.prob)
    # The module's own forward on the run's input agrees with the run: its top class per image
    # is among the 1000 logits of Tiny on the preprocessed crop (checked through the saved logits).
    logits = rectify.evaluate(sample.images, model=Tiny(), out=tmp_path / "l", limit=8, save_logits=True, progress=False).logits
    assert logits.shape == (8, 1000) and list(logits.argmax(1)) == list(a.pred)


def test_preprocess_given_as_a_dict_is_recorded(sample, tmp_path):
    config = {"input_size": [3, 240, 240], "interpolation": "bicubic", "crop_pct": 0.95, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    run = rectify.evaluate(sample.images, model=Tiny(), preprocess=config, out=tmp_path / "pp", limit=2, progress=False)
    recorded = json.dumps(run.provenance)
    assert "bicubic" in recorded and "240" in recorded and json.loads((run.path / "model/preprocess.json").read_text()) == config


# --- progress and Ctrl-C -----------------------------------------------------------------------


def test_progress_events_count_the_work(sample, tmp_path):
    events = []
    rectify.evaluate(sample.images, out=tmp_path / "p", limit=20, batch_size=8, progress=lambda e, t, n: events.append((e, t, n)))
    begins = [(t, n) for e, t, n in events if e == "begin"]
    assert begins and begins[0][1] == 20, events
    assert sum(n for e, _, n in events if e == "inc") == 20 and events[-1][0] == "finish"


def test_an_exception_in_the_callback_stops_the_stage(sample, tmp_path):
    def boom(event, text, n):
        if event == "inc":
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        rectify.evaluate(sample.images, out=tmp_path / "b", batch_size=8, progress=boom)


def _store_rows(db_path):
    """Every prediction row of a run's store (blobs included), in image order."""
    import sqlite3

    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute("select image_id, top5, top5_probs, label_prob, logits, features from predictions order by image_id").fetchall()
    finally:
        db.close()


def test_ctrl_c_stops_cleanly_and_the_run_resumes(sample, tmp_path):
    """A real SIGINT, sent by another process while the stage runs in the extension with the GIL
    released (no Python code of the child is running: progress=False), raises KeyboardInterrupt
    once the batch in flight is stored; evaluating again resumes, and every output (predictions.csv,
    features.npy, summary.json but for its timings, the store's rows) equals an uninterrupted run's.
    The parent sends the signal only after the child's store holds its first batch."""
    import sqlite3
    import time

    run = tmp_path / "r"
    script = textwrap.dedent(
        f"""
        import sqlite3, rectify
        try:
            rectify.evaluate({str(sample.images)!r}, labels={str(sample.labels)!r}, out={str(run)!r}, batch_size=2,
                             save_features=True, progress=False)
            print("not interrupted")
        except KeyboardInterrupt:
            db = sqlite3.connect({str(run / 'rectify.db')!r})
            print("interrupted", db.execute("select count(*) from predictions").fetchone()[0])
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    stored = 0
    while stored == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            db = sqlite3.connect(f"file:{run / 'rectify.db'}?mode=ro", uri=True, timeout=1)
            stored = db.execute("select count(*) from predictions").fetchone()[0]
            db.close()
        except sqlite3.Error:
            pass  # not created yet, or its schema not yet written
    assert child.poll() is None, f"the child ended before it could be interrupted: {child.communicate()}"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=240)
    assert child.returncode == 0, err
    word, rows = out.split()
    assert word == "interrupted" and stored <= int(rows) < 50, (out, stored)

    resumed = rectify.evaluate(sample.images, labels=sample.labels, out=run, batch_size=2, save_features=True, progress=False)
    whole = rectify.evaluate(sample.images, labels=sample.labels, out=tmp_path / "w", batch_size=2, save_features=True, progress=False)
    for name in ["predictions.csv", "features.npy"]:
        assert (resumed.path / name).read_bytes() == (whole.path / name).read_bytes(), name
    timing_free = lambda s: {k: v for k, v in s.items() if k not in ("throughput", "provenance")}
    a, b = (json.loads((r.path / "summary.json").read_text()) for r in (resumed, whole))
    assert timing_free(a) == timing_free(b)
    assert a["provenance"]["model"] == b["provenance"]["model"] and a["provenance"]["params"]["batch_size"] == 2
    assert _store_rows(resumed.path / "rectify.db") == _store_rows(whole.path / "rectify.db")


def test_each_thread_keeps_its_own_progress_sink(sample, tmp_path):
    """Two stages running at once in two Python threads (the GIL released by both) each report
    to their own callback: every event a callback receives is its own stage's."""
    import threading

    events = {"a": [], "b": []}
    limits = {"a": 50, "b": 14}
    errors = []

    import time

    def work(name):
        try:
            rectify.evaluate(sample.images, out=tmp_path / name, limit=limits[name], batch_size=2,
                             progress=lambda e, t, n: events[name].append((e, t, n, threading.current_thread().name, time.monotonic())))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,), name=n) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for name, got in events.items():
        assert {th for *_, th, _ in got} == {name}, f"{name}'s callback ran on another thread"
        begins = [n for e, _, n, _, _ in got if e == "begin"]
        assert begins == [limits[name]], (name, begins)
        assert sum(n for e, _, n, _, _ in got if e == "inc") == limits[name], name
        assert got[-1][0] == "finish"
    # The two stages did run at the same time (else the test shows nothing): each received
    # progress events while the other was between its first and its last.
    span = {k: (v[0][-1], v[-1][-1]) for k, v in events.items()}
    incs = {k: [t for e, _, _, _, t in v if e == "inc"] for k, v in events.items()}
    assert any(span["a"][0] < t < span["a"][1] for t in incs["b"]), "b made no progress while a ran"
    assert any(span["b"][0] < t < span["b"][1] for t in incs["a"]), "a made no progress while b ran"


def test_the_allocator_setting_is_never_applied_to_python(sample, tmp_path):
    """The binary keeps freed memory in its heap (mallopt: no mmap, no trim); a Python process
    that uses the API must keep glibc's defaults. Measured by behaviour, in a fresh interpreter
    after a stage ran: a freed 256 MiB block goes back to the system (resident memory drops),
    which it would not under the binary's settings (checked in the same child: after applying
    them by hand, the same block stays resident)."""
    script = textwrap.dedent(
        f"""
        import ctypes, rectify
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        page = __import__("os").sysconf("SC_PAGE_SIZE")
        rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
        def freed_drop():
            p = libc.malloc(256 << 20)
            ctypes.memset(p, 1, 256 << 20)
            before = rss()
            libc.free(p)
            return before - rss()
        rectify.evaluate({str(sample.images)!r}, out={str(tmp_path / 'm')!r}, limit=4, batch_size=2, progress=False)
        after_api = freed_drop()
        libc.mallopt(-4, 0)           # M_MMAP_MAX: what the binary sets
        libc.mallopt(-1, 2**31 - 1)   # M_TRIM_THRESHOLD
        under_binary_settings = freed_drop()
        print(after_api, under_binary_settings)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    after_api, under_binary = map(int, out.stdout.strip().splitlines()[-1].split())
    assert after_api > 200 << 20, f"a freed 256 MiB block stayed resident after the API ran ({after_api >> 20} MiB returned)"
    assert under_binary < 16 << 20, f"the control is blind: {under_binary >> 20} MiB returned under the binary's settings"


def test_an_unfinished_run_says_so(sample, tmp_path):
    def stop(event, text, n):
        if event == "inc":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rectify.evaluate(sample.images, out=tmp_path / "u", batch_size=8, progress=stop)
    run = rectify.open_run(tmp_path / "u")
    assert "evaluation not finished" in run._repr_html_()
    with pytest.raises(rectify.RectifyError, match="has not finished"):
        run.predictions


# --- flags ---------------------------------------------------------------------------------------


def test_keywords_become_the_commands_flags():
    from rectify._api import _flags

    assert _flags({"batch_size": 8, "exact": True, "save_logits": False, "limit": None, "mean": (0.5, 0.4, 0.3)}) == ["--batch-size", "8", "--exact", "--mean", "0.5,0.4,0.3"]
    assert _flags({"shard": (1, 3)}) == ["--shard", "1/3"]
    assert _flags({"model_run": ["a", "b"]}) == ["--model-run", "a", "--model-run", "b"]
    with pytest.raises(ValueError, match="cannot hold commas"):
        _flags({"files": ["a,b.jpg", "c.jpg"]})


def test_run_cli_and_commands_without_a_run(api_run, capfd):
    rectify.run_cli(["study", "recruit", "--platform", "prolific", "--base-url", "https://example.org"], progress=False)
    out = capfd.readouterr().out
    assert "PROLIFIC_PID" in out, out
    api_run.study("recruit", platform="prolific", base_url="https://example.org", progress=False)
    assert capfd.readouterr().out == out


def test_file_names_with_commas_survive_every_frame(sample, tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    labels = {r["file"]: r["label"] for r in csv.DictReader(open(sample.labels, newline=""))}
    rows = []
    for i, src in enumerate(sorted(sample.images.iterdir())[:3]):
        name = f"a,{i}.JPEG" if i == 0 else src.name
        (images / name).write_bytes(src.read_bytes())
        rows.append([name, labels[src.name]])
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([["file", "label"], *rows])
    run = rectify.evaluate(images, labels=tmp_path / "labels.csv", out=tmp_path / "c", progress=False)
    run.attack(steps=2, save_images=True, progress=False)
    assert "a,0.JPEG" in list(run.predictions.file) and "a,0.JPEG" in list(run.trajectories.file)
    assert list(run.trajectories.columns) == ["attack", "file", "label", "step0", "step1", "step2", "steps_to_flip"]
    assert run.adversarial("a,0.JPEG", attack=run.attacks[0]).size == (224, 224)
    with pytest.raises(rectify.RectifyError, match="save_logits=True"):
        run.logits


def test_attacks_of_different_lengths_share_one_frame(api_run, copy_of):
    run = rectify.open_run(copy_of(api_run.path))
    run.attack(steps=2, name="short", limit=4, progress=False)
    df = run.trajectories
    assert set(df.attack) == {"ifgsm", "short"} and str(df.step10.dtype) == "Int64" and str(df.step1.dtype) == "int64"
    assert df[df.attack == "short"].step10.isna().all()


def test_report_of_several_runs_elsewhere(api_run, cli_run, tmp_path):
    page = api_run.report(runs=[cli_run], out=tmp_path / "both", progress=False)
    assert page == tmp_path / "both/report.html" and page.is_file()
    report = json.loads((tmp_path / "both/report.json").read_text())
    assert len(report["runs"]) == 2 and len(report["calibration"]) == 2
    assert api_run.show(report=page)._repr_html_().startswith("<iframe")
    with pytest.raises(rectify.RectifyError, match="no such report"):
        api_run.show(report=tmp_path / "none.html")


# --- HTML --------------------------------------------------------------------------------------


def test_report_inline_is_self_contained(api_run):
    page = (api_run.path / "report/report.html").read_text()
    inline = api_run._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and inline == api_run.show()._repr_html_()
    import html as html_lib

    srcdoc = inline.split('srcdoc="', 1)[1].split('" style=', 1)[0]
    assert html_lib.unescape(srcdoc) == page
    for needle in ('src="http', "src='http", 'href="http', "@import", "url(http"):
        assert needle not in page, needle


def test_single_explanation_and_gallery_inline(api_run):
    first = api_run.explanations.file[0]
    one = api_run.show_explanation(first)._repr_html_()
    assert one.count("data:image/png;base64,") == 3 and first in one
    group = api_run.selections.group[0]
    gallery = api_run.show_gallery(group)._repr_html_()
    assert gallery.count("data:image/png;base64,") == 1
    with pytest.raises(rectify.RectifyError, match="no gallery"):
        api_run.show_gallery("no such group")


def test_repr_without_a_report_is_a_summary(cli_run, copy_of):
    run = rectify.open_run(copy_of(cli_run))
    text = run._repr_html_()
    assert "no report yet" in text and str(run.summary["top1"]) in text
    assert repr(run) == f"rectify.Run({str(run.path)!r})" and os.fspath(run) == str(run.path)
