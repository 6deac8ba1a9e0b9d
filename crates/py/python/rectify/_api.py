"""The Python API: command lines built from keyword arguments, run in-process, and the run
directory read back as pandas DataFrames, numpy arrays and PIL images."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _rectify
from ._rectify import RectifyError

PathLike = Union[str, "os.PathLike[str]"]
#: ``progress``: ``True`` (a tqdm bar per phase), ``False`` (silent) or ``callback(event, text, n)``.
ProgressArg = Union[bool, Callable[[str, str, int], Any]]

_CLASS_NAMES: Optional[List[str]] = None


def class_names() -> List[str]:
    """The 1,000 ImageNet class names by class index (torchvision's order)."""
    global _CLASS_NAMES
    if _CLASS_NAMES is None:
        _CLASS_NAMES = list(_rectify.class_names())
    return list(_CLASS_NAMES)


# --- command lines ---------------------------------------------------------------------------


# Flags given once per value (clap's `Append`); every other list is one comma-separated value.
_REPEATED = {"model_run", "exclude_study", "mturk_origin", "run"}


def _flags(options: Mapping[str, Any]) -> List[str]:
    """``{"batch_size": 8, "exact": True, "mean": (0.5, 0.5, 0.5)}`` → ``--batch-size 8 --exact
    --mean 0.5,0.5,0.5``. ``None`` and ``False`` leave the flag out (the command's default); a
    list is one comma-separated value, or the flag once per item for the flags the command
    repeats; ``shard=(i, n)`` is ``--shard i/n``."""
    argv: List[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif key == "shard" and isinstance(value, (list, tuple)):
            argv += [flag, "/".join(str(int(v)) for v in value)]
        elif isinstance(value, (list, tuple)):
            items = [_text(v) for v in value]
            if key in _REPEATED:
                for item in items:
                    argv += [flag, item]
                continue
            if any("," in item for item in items):
                raise ValueError(f"{key}=: {flag} takes a comma-separated list, so its items cannot hold commas: {items}")
            argv += [flag, ",".join(items)]
        else:
            argv += [flag, _text(value)]
    return argv


def _text(value: Any) -> str:
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


class _Bar:
    """The progress callback the extension calls: tqdm bars (a widget in Jupyter when ipywidgets
    is installed, text otherwise), messages on standard error."""

    def __init__(self, progress: ProgressArg):
        self.user = progress if callable(progress) else None
        self.show = progress is True
        self.bar: Any = None

    def __call__(self, event: str, text: str, n: int) -> None:
        if self.user is not None:
            self.user(event, text, n)
            return
        if event == "begin":
            self.close()
            if self.show:
                self.bar = _tqdm()(total=n, desc=text, leave=True, dynamic_ncols=True)
        elif event == "inc":
            if self.bar is not None:
                self.bar.update(n)
        elif event == "message":
            if self.bar is not None:
                self.bar.write(text, file=sys.stderr)
            elif self.show:
                print(text, file=sys.stderr)
        elif event == "finish":
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _tqdm() -> Any:
    """tqdm's notebook widget where ipywidgets can draw it, its text bar otherwise (tqdm.auto
    would warn in a notebook without ipywidgets)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        from tqdm.std import tqdm

        return tqdm
    from tqdm.auto import tqdm

    return tqdm


def run_cli(argv: Sequence[PathLike], progress: ProgressArg = True) -> None:
    """Runs a ``rectify`` command line (without the program name) in this process, e.g.
    ``rectify.run_cli(["study", "results", "--run", "runs/x"])``. Its printed summary goes to
    standard output as the binary's does; failures raise :class:`RectifyError` (or
    :class:`UsageError` for refused arguments) with the binary's message. Ctrl-C
    (``KeyboardInterrupt``) stops the stage as an interrupted binary stops: rerunning resumes."""
    bar = _Bar(progress)
    try:
        _rectify.run([_text(a) for a in argv], bar)
    finally:
        bar.close()


# --- the bundled sample ----------------------------------------------------------------------


class Sample(NamedTuple):
    """The bundled sample, written out by :func:`samples`."""

    #: 50 ILSVRC2012 validation images.
    images: Path
    #: Their labels (``file,label,wnid,name``).
    labels: Path
    #: Their ReaL labels.
    real_labels: Path
    #: ReaL's raw rater votes on 16 of them (``study import --format real-raters``).
    votes: Path


def samples(dir: Optional[PathLike] = None) -> Sample:
    """Writes the bundled sample (the one ``make demo`` audits) into ``dir`` (default: a folder
    per version under ``~/.cache/rectify``) and returns its paths."""
    if dir is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        dir = cache / "rectify" / f"sample-{_rectify.__version__}"
    root = Path(dir)
    if not (root / "sample-real-raters.LICENSE").is_file():
        _rectify.write_sample(os.fspath(root))
    return Sample(
        images=root / "sample-images",
        labels=root / "sample-labels.csv",
        real_labels=root / "sample-real.json",
        votes=root / "sample-real-raters.npz",
    )


# --- models ----------------------------------------------------------------------------------


def _export_model(model: Any, out: Path, preprocess: Any, example_input: Any, crop: Any = None) -> Path:
    """A TorchScript file for ``model``: a path as is; a scripted module saved; an ``nn.Module``
    scripted with ``torch.jit.script`` or, when that fails, traced with ``torch.jit.trace`` on
    ``example_input`` (default: zeros of the preprocessing's crop). Says which on standard error
    and in ``RUN/model/export.json``."""
    import torch

    if isinstance(model, (str, os.PathLike)):
        return Path(model)
    folder = out / "model"
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model, torch.jit.ScriptModule):
        how, why = "as given", "already a TorchScript module"
        scripted = model
    elif isinstance(model, torch.nn.Module):
        training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                # torch 2.11 deprecates TorchScript in favour of torch.export; rectify runs TorchScript.
                warnings.simplefilter("ignore", DeprecationWarning)
                scripted = torch.jit.script(model)
            how, why = "torch.jit.script", "scripted"
        except Exception as err:  # noqa: BLE001 - any scripting failure falls back to tracing
            if example_input is None:
                size = int(crop) if crop is not None else _crop_of(preprocess)
                example_input = torch.zeros(1, 3, size, size)
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                scripted = torch.jit.trace(model, example_input)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            how, why = "torch.jit.trace", f"traced on an input of shape {tuple(example_input.shape)}: torch.jit.script failed ({first})"
        finally:
            model.train(training)
    else:
        raise TypeError(f"model must be a torch.nn.Module, a TorchScript module or a path, not {type(model).__name__}")
    # Saved under its own hash: exporting into a run never replaces the model an earlier
    # evaluation used (eval then refuses the run, whose weights differ).
    import hashlib

    with tempfile.NamedTemporaryFile(dir=folder, suffix=".pt", delete=False) as tmp:
        scripted.save(tmp.name)
    digest = hashlib.sha256(Path(tmp.name).read_bytes()).hexdigest()[:16]
    path = folder / f"model-{digest}.pt"
    os.replace(tmp.name, path)
    (folder / f"model-{digest}.json").write_text(json.dumps({"method": how, "note": why, "class": type(model).__name__}, indent=2))
    print(f"rectify: model {why}; saved to {path}", file=sys.stderr)
    return path


def _crop_of(preprocess: Any) -> int:
    config: Dict[str, Any] = {}
    if isinstance(preprocess, Mapping):
        config = dict(preprocess)
    elif isinstance(preprocess, (str, os.PathLike)):
        config = json.loads(Path(preprocess).read_text())
    config = config.get("pretrained_cfg", config)
    size = config.get("input_size") or config.get("crop")
    if isinstance(size, (list, tuple)):
        return int(size[-1])
    return int(size) if size else 224


def evaluate(
    images: PathLike,
    labels: Optional[PathLike] = None,
    *,
    arch: Optional[str] = None,
    weights: Optional[PathLike] = None,
    model: Any = None,
    preprocess: Union[None, PathLike, Mapping[str, Any]] = None,
    out: Optional[PathLike] = None,
    real_labels: Optional[PathLike] = None,
    example_input: Any = None,
    progress: ProgressArg = True,
    **options: Any,
) -> "Run":
    """Evaluates a classifier on a folder of images (``rectify eval``) and returns the run.

    ``arch``/``weights`` name a zoo model (default: the bundled MobileNetV2); ``model`` is a
    ``torch.nn.Module`` (scripted, or traced when scripting fails; which one is printed), a
    TorchScript module or the path of one. ``preprocess`` is a dict or a JSON file (a timm /
    Hugging Face config, or rectify's own keys). ``out`` is the run directory (default:
    ``runs/eval-<time>``); evaluating into an existing run resumes it. Every other keyword is the
    flag of the same name: ``batch_size=8`` → ``--batch-size 8``, ``save_features=True`` →
    ``--save-features``, ``device="cuda"``, ``exact=True``, ``limit=10``, ``class_subset=…``.
    """
    if model is not None and (arch is not None or weights is not None):
        raise ValueError("give either model= or arch=/weights=, not both")
    run_dir = Path(out) if out is not None else Path("runs") / _dt.datetime.now().strftime("eval-%Y%m%d-%H%M%S")
    argv: List[str] = ["eval", "--images", _text(images), "--out", _text(run_dir)]
    if model is not None:
        argv += ["--torchscript", _text(_export_model(model, run_dir, preprocess, example_input, options.get("crop")))]
    if isinstance(preprocess, Mapping):
        run_dir.mkdir(parents=True, exist_ok=True)
        config = run_dir / "model" / "preprocess.json"
        config.parent.mkdir(exist_ok=True)
        config.write_text(json.dumps(dict(preprocess), indent=2))
        preprocess = config
    argv += _flags({"labels": labels, "real_labels": real_labels, "arch": arch, "weights": weights, "preprocess": preprocess, **options})
    run_cli(argv, progress)
    return Run(run_dir)


def open_run(path: PathLike) -> "Run":
    """The run in ``path``, made by :func:`evaluate` or by the ``rectify`` binary."""
    return Run(path)


# --- runs ------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _names(folder: Path, marker: str) -> List[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / marker).is_file())


class Run:
    """A run directory: its stages as methods (each returns the run, so they chain), its results
    as properties. Nothing is cached: every property reads the directory again."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        if not (self.path / "rectify.db").is_file():
            raise RectifyError(f"{self.path}: not a rectify run (no rectify.db); make one with rectify.evaluate or `rectify eval`")

    def __repr__(self) -> str:
        return f"rectify.Run({os.fspath(self.path)!r})"

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    # stages

    def _stage(self, command: List[str], options: Mapping[str, Any], progress: ProgressArg, *args: Any) -> "Run":
        on_run = [] if command == ["study", "recruit"] else ["--run", os.fspath(self.path)]
        run_cli([*command, *on_run, *_flags(options), *(_text(a) for a in args)], progress)
        return self

    def attack(self, method: str = "ifgsm", *, progress: ProgressArg = True, **options: Any) -> "Run":
        """``rectify attack``: iterative FGSM by default (the paper's step 0.001, 10 steps), every
        step's prediction recorded. Keywords are its flags (``steps=``, ``step_size=``,
        ``name=``, ``limit=``, ``save_images=True``, ``shard=``/``out=``, …)."""
        return self._stage(["attack"], {"method": method, **options}, progress)

    def explain(self, *, progress: ProgressArg = True, **options: Any) -> "Run":
        """``rectify explain``: LIME on superpixels (1000 samples, σ 0.25), images with attention,
        explanation paths. Which images: ``misclassified=True``, ``files=[…]``, ``attack=…``;
        other keywords are its flags."""
        return self._stage(["explain"], options, progress)

    def criticize(self, method: str = "mmd", *, progress: ProgressArg = True, **options: Any) -> "Run":
        """``rectify criticize``: prototypes and criticisms per group by ``mmd`` (needs
        ``save_features=True`` at evaluation), ``adversarial``, ``probability`` or ``random``."""
        return self._stage(["criticize"], {"method": method, **options}, progress)

    def study(self, command: str, *args: Any, progress: ProgressArg = True, **options: Any) -> "Run":
        """``rectify study COMMAND``: e.g. ``run.study("import", sample.votes,
        format="real-raters")``, ``run.study("results")``, ``run.study("design", design="relevance-top1")``.
        Positional arguments follow the flags (the command's FILE)."""
        return self._stage(["study", command], options, progress, *args)

    def report(self, *, runs: Iterable[PathLike] = (), out: Optional[PathLike] = None, progress: ProgressArg = True, **options: Any) -> Path:
        """``rectify report`` of this run (and ``runs``, other models' runs, for the
        comparisons); returns the path of ``report.html``."""
        argv = ["report", "--run", os.fspath(self.path)]
        for other in runs:
            argv += ["--run", _text(other)]
        argv += _flags({"out": out, **options})
        run_cli(argv, progress)
        return Path(out if out is not None else self.path / "report") / "report.html"

    # results

    @property
    def summary(self) -> Dict[str, Any]:
        """``summary.json``: accuracies, counts, failures, provenance, throughput."""
        return _read_json(self._eval_file("summary.json"))

    def _eval_file(self, name: str) -> Path:
        path = self.path / name
        if not path.is_file():
            raise RectifyError(f"{self.path}: no {name}: the evaluation has not finished (evaluating into the run again resumes it)")
        return path

    @property
    def model_export(self) -> Optional[Dict[str, Any]]:
        """How ``evaluate(model=…)`` exported the module (``method``: ``torch.jit.script``,
        ``torch.jit.trace`` or ``as given``; ``note``; ``class``), ``None`` for other models."""
        weights = Path(self.provenance.get("model", {}).get("weights", ""))
        info = (self.path / "model" / weights.name).with_suffix(".json")
        return _read_json(info) if weights.name.startswith("model-") and info.is_file() else None

    @property
    def provenance(self) -> Dict[str, Any]:
        """How the predictions were made: model and weights sha256, preprocessing, settings, version."""
        return self.summary["provenance"]

    @property
    def images_root(self) -> Path:
        """The folder the run's image files are relative to."""
        params = self.provenance.get("params", {})
        root = params.get("images") or params.get("images_root")
        if root is None:
            raise RectifyError(f"{self.path}: its provenance does not record the images folder")
        return Path(root)

    @property
    def predictions(self) -> pd.DataFrame:
        """One row per evaluated image: ``file`` (str), ``label`` (Int64, <NA> when unknown),
        ``pred`` (int64, the top class), ``prob`` (float64, its probability), ``correct`` and
        ``top5_correct`` (boolean, <NA> when unlabelled), ``label_name``, ``pred_name`` (str),
        ``top5`` (int64 arrays) and ``top5_probs`` (float64 arrays)."""
        raw = pd.read_csv(self._eval_file("predictions.csv"), dtype={"file": str, "label": "Int64", "top5": str, "top5_probs": str}, keep_default_na=False, na_values={"label": [""]})
        top5 = [np.array(s.split(), dtype=np.int64) for s in raw["top5"]]
        probs = [np.array(s.split(), dtype=np.float64) for s in raw["top5_probs"]]
        names = class_names() if self.provenance.get("params", {}).get("num_classes", 1000) == 1000 else []
        pred = pd.Series([t[0] for t in top5], dtype="int64")
        label = raw["label"].astype("Int64")
        known = label.notna().to_numpy()
        correct = pd.array([bool(p == l) if k else pd.NA for p, l, k in zip(pred, label, known)], dtype="boolean")
        top5_correct = pd.array([bool(l in t) if k else pd.NA for t, l, k in zip(top5, label, known)], dtype="boolean")
        return pd.DataFrame(
            {
                "file": raw["file"].astype(str),
                "label": label,
                "pred": pred,
                "prob": pd.Series([p[0] for p in probs], dtype="float64"),
                "correct": correct,
                "top5_correct": top5_correct,
                "label_name": pd.Series([names[l] if k and 0 <= l < len(names) else "" for l, k in zip(label.fillna(-1), known)], dtype=str),
                "pred_name": pd.Series([names[p] if 0 <= p < len(names) else str(p) for p in pred], dtype=str),
                "top5": pd.Series(top5, dtype=object),
                "top5_probs": pd.Series(probs, dtype=object),
            }
        )

    @property
    def features(self) -> np.ndarray:
        """The penultimate features, float32 ``[images, d]`` in ``predictions``' row order
        (``evaluate(save_features=True)``)."""
        return self._npy("features.npy", "save_features=True")

    @property
    def logits(self) -> np.ndarray:
        """The logits, float32 ``[images, classes]`` in ``predictions``' row order
        (``evaluate(save_logits=True)``)."""
        return self._npy("logits.npy", "save_logits=True")

    def _npy(self, name: str, flag: str) -> np.ndarray:
        path = self.path / name
        if not path.is_file():
            raise RectifyError(f"{self.path}: no {name}: evaluate with {flag} (the flag --{flag.split('=')[0].replace('_', '-')})")
        return np.load(path, allow_pickle=False)

    @property
    def attacks(self) -> List[str]:
        """Names of the attack runs (``attack/<name>/``)."""
        return _names(self.path / "attack", "summary.json")

    @property
    def trajectories(self) -> pd.DataFrame:
        """One row per (attack, image): ``attack``, ``file``, ``label`` (Int64), ``step0`` … ``stepN``
        (int64: the top class after each step, step 0 clean) and ``steps_to_flip`` (Int64,
        <NA> when it never flipped)."""
        frames = []
        for name in self.attacks:
            df = pd.read_csv(self.path / "attack" / name / "trajectory.csv", dtype={"file": str}, keep_default_na=False, na_values={"steps_to_flip": [""]})
            df = df.rename(columns={c: c.replace("pred_step", "step") for c in df.columns})
            df["label"] = df["label"].astype("Int64").mask(df["label"] == -1)
            df["steps_to_flip"] = df["steps_to_flip"].astype("Float64").astype("Int64")
            df.insert(0, "attack", name)
            frames.append(df)
        if not frames:
            return pd.DataFrame({"attack": pd.Series(dtype=str), "file": pd.Series(dtype=str), "label": pd.Series(dtype="Int64"), "steps_to_flip": pd.Series(dtype="Int64")})
        df = pd.concat(frames, ignore_index=True)
        # Attacks of different lengths: a step the shorter one lacks is <NA>, not a float NaN.
        steps = sorted((c for c in df.columns if c.startswith("step") and c[4:].isdigit()), key=lambda c: int(c[4:]))
        for c in steps:
            df[c] = df[c].astype("Int64") if df[c].isna().any() else df[c].astype("int64")
        return df[["attack", "file", "label", *steps, "steps_to_flip"]]

    def attack_summary(self, name: str = "ifgsm") -> Dict[str, Any]:
        """``attack/<name>/summary.json``: accuracy per step, flips, provenance."""
        return _read_json(self.path / "attack" / name / "summary.json")

    @property
    def explains(self) -> List[str]:
        """Names of the explain runs (``explain/<name>/``)."""
        return _names(self.path / "explain", "summary.json")

    @property
    def explanations(self) -> pd.DataFrame:
        """One row per (explain run, image): ``explain``, ``file``, ``true_label`` (Int64),
        ``label`` (the explained class), ``label_name``, ``probability``, ``segments``, ``r2``,
        ``intercept``, ``local_pred``, ``auc_path``, ``auc_random``, ``seed``, and the arrays
        ``weights`` (float64 per superpixel), ``ranked`` (int64), ``path`` and ``random_path``."""
        rows = []
        for name in self.explains:
            for json_file in sorted((self.path / "explain" / name).glob("*.json")):
                if json_file.name == "summary.json":
                    continue
                e = _read_json(json_file)
                rows.append(
                    {
                        "explain": name,
                        "file": e["file"],
                        "true_label": e.get("true_label"),
                        "label": e["label"],
                        "label_name": e["label_name"],
                        "probability": _num(e["probability"]),
                        "segments": e["segments"],
                        "r2": _num(e["r2"]),
                        "intercept": _num(e["intercept"]),
                        "local_pred": _num(e["local_pred"]),
                        "auc_path": _num(e["auc_path"]),
                        "auc_random": _num(e["auc_random"]),
                        "seed": e["seed"],
                        "weights": np.array([_num(w) for w in e["weights"]], dtype=np.float64),
                        "ranked": np.array(e["ranked"], dtype=np.int64),
                        "path": np.array([_num(w) for w in e["path"]], dtype=np.float64),
                        "random_path": np.array([_num(w) for w in e["random_path"]], dtype=np.float64),
                    }
                )
        columns = ["explain", "file", "true_label", "label", "label_name", "probability", "segments", "r2", "intercept", "local_pred", "auc_path", "auc_random", "seed", "weights", "ranked", "path", "random_path"]
        df = pd.DataFrame(rows, columns=columns)
        types = {"explain": str, "file": str, "true_label": "Int64", "label": "int64", "label_name": str, "probability": "float64", "segments": "int64", "r2": "float64", "intercept": "float64", "local_pred": "float64", "auc_path": "float64", "auc_random": "float64", "seed": "uint64"}
        return df.astype(types)

    @property
    def criticisms(self) -> List[str]:
        """Names of the criticize runs (``criticize/<name>/``)."""
        return _names(self.path / "criticize", "selection.json")

    @property
    def selections(self) -> pd.DataFrame:
        """One row per picked image: ``selector`` (the criticize run), ``method``, ``group``,
        ``kind`` (``prototype`` or ``criticism``), ``rank`` (0 first), ``file``, ``image_id`` and
        ``score`` (float64, NaN when the selector gives none)."""
        rows = []
        for name in self.criticisms:
            sel = _read_json(self.path / "criticize" / name / "selection.json")
            for g in sel["groups"]:
                for kind, files, ids, scores in (
                    ("prototype", g["prototype_files"], g["prototypes"], g.get("scores", {}).get("prototypes") or []),
                    ("criticism", g["criticism_files"], g["criticisms"], g.get("scores", {}).get("criticisms") or []),
                ):
                    for rank, (file, image_id) in enumerate(zip(files, ids)):
                        score = _num(scores[rank]) if rank < len(scores) else float("nan")
                        rows.append({"selector": name, "method": sel["method"], "group": g["group"], "kind": kind, "rank": rank, "file": file, "image_id": image_id, "score": score})
        df = pd.DataFrame(rows, columns=["selector", "method", "group", "kind", "rank", "file", "image_id", "score"])
        return df.astype({"selector": str, "method": str, "group": str, "kind": str, "rank": "int64", "file": str, "image_id": "int64", "score": "float64"})

    @property
    def study_summary(self) -> Dict[str, Any]:
        """``study/results.json`` as it is: the rule, the time filter, vote sources, per design
        every field (rater agreement per rater included)."""
        path = self.path / "study" / "results.json"
        if not path.is_file():
            raise RectifyError(f"{self.path}: no study results yet: import or collect votes, then run.study(\"results\")")
        return _read_json(path)

    @property
    def study_results(self) -> pd.DataFrame:
        """One row per design of ``study/results.json`` (index ``design``): its numbers (e.g.
        ``top1_error``, ``rectified_top1_error``, ``errors``, ``rated``, ``fleiss_kappa``, item
        counts) as float64 / Int64, intervals split into ``ci_<name>_low`` / ``ci_<name>_high``,
        the agreement histogram as an array. Per-rater agreement stays in :attr:`study_summary`.
        Empty (no columns) before ``run.study("results")``."""
        path = self.path / "study" / "results.json"
        if not path.is_file():
            return pd.DataFrame(index=pd.Index([], name="design", dtype=str))
        rows = []
        if not self.study_summary["designs"]:
            return pd.DataFrame(index=pd.Index([], name="design", dtype=str))
        for name, design in self.study_summary["designs"].items():
            row: Dict[str, Any] = {"design": name}
            for key, value in design.items():
                if key == "ci" and isinstance(value, dict):
                    for what, pair in value.items():
                        low, high = (pair or [None, None])[:2]
                        row[f"ci_{what}_low"], row[f"ci_{what}_high"] = _num(low), _num(high)
                elif key == "histogram":
                    row[key] = np.array(value, dtype=np.int64)
                elif value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
                    row[key] = value
            rows.append(row)
        columns: Dict[str, Any] = {}
        for key in dict.fromkeys(k for row in rows for k in row):
            values = [row.get(key) for row in rows]
            if key in ("design", "histogram"):
                columns[key] = pd.Series(values, dtype=str if key == "design" else object)
            elif all(v is None or isinstance(v, int) for v in values):
                columns[key] = pd.Series(values, dtype="Int64")
            else:
                columns[key] = pd.Series([_num(v) for v in values], dtype="float64")
        return pd.DataFrame(columns).set_index("design")

    @property
    def rated_mistakes(self) -> pd.DataFrame:
        """Every top-1 mistake of the ``relevance-top1`` design and what raters said of its
        predicted class: ``file``, ``label``, ``class`` (int64), ``yes``, ``votes`` (int64, the
        answers the rule counted) and ``outcome`` (``rectified``, ``error``, ``unrated``,
        ``not-asked``), sorted by yes answers, most first (the paper's Fig. 3)."""
        columns = {"file": str, "label": "int64", "class": "int64", "yes": "int64", "votes": "int64", "outcome": str}
        designs = self.study_summary["designs"] if (self.path / "study" / "results.json").is_file() else {}
        rows = next((d.get("questions", []) for k, d in designs.items() if k.startswith("relevance-top1")), [])
        df = pd.DataFrame(rows, columns=list(columns)).astype(columns)
        return df.sort_values(["yes", "file"], ascending=[False, True], kind="stable").reset_index(drop=True)

    @property
    def votes(self) -> pd.DataFrame:
        """Every vote of the run's study (``rectify study export``): ``item``, ``design``,
        ``variant``, ``arm``, ``rater``, ``answer``, ``seconds``, ``source``."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "votes.csv"
            run_cli(["study", "export", "--run", os.fspath(self.path), "--format", "csv", "--out", os.fspath(out)], progress=False)
            return pd.read_csv(out, keep_default_na=False, na_values={"seconds": [""]})

    # pictures

    def image(self, file: str) -> "Any":
        """The image ``file`` (as in ``predictions``) as a PIL image."""
        from PIL import Image

        return Image.open(self.images_root / file)

    def adversarial(self, file: str, attack: str = "ifgsm") -> "Any":
        """The saved adversarial image of ``file`` (``attack(save_images=True)``) as a PIL image."""
        from PIL import Image

        stem = file.replace("/", "__").replace("\\", "__")
        return Image.open(self.path / "attack" / attack / "images" / f"{stem}.png")

    def _explanation_json(self, file: str, explain: Optional[str]) -> Path:
        stem = file.replace("/", "__").replace("\\", "__")
        names = [explain] if explain else self.explains
        for name in names:
            path = self.path / "explain" / name / f"{stem}.json"
            if path.is_file():
                return path
        raise RectifyError(f"{self.path}: no explanation of {file} (explain runs: {', '.join(self.explains) or 'none'})")

    def explanation_image(self, file: str, kind: str = "attention", explain: Optional[str] = None) -> "Any":
        """An explanation's picture (``attention``, ``overlay`` or ``heatmap``) as a PIL image."""
        from PIL import Image

        json_path = self._explanation_json(file, explain)
        return Image.open(json_path.with_name(json_path.name[: -len(".json")] + f".{kind}.png"))

    def show_explanation(self, file: str, explain: Optional[str] = None) -> "_Html":
        """One explanation on its own, inline: the image with attention, the overlay, the
        heatmap, and its explanation path against a random order."""
        json_path = self._explanation_json(file, explain)
        e = _read_json(json_path)
        pictures = "".join(
            f'<figure style="display:inline-block;margin:4px"><img alt="{kind}" src="{_data_uri(json_path.with_name(json_path.name[:-5] + f".{kind}.png"))}" style="max-width:224px"/><figcaption>{kind}</figcaption></figure>'
            for kind in ("attention", "overlay", "heatmap")
            if json_path.with_name(json_path.name[:-5] + f".{kind}.png").is_file()
        )
        caption = (
            f"<p><b>{html.escape(e['file'])}</b>: explained class {e['label']} {html.escape(e['label_name'])} "
            f"(p = {_num(e['probability']):.3f}), true label {e.get('true_label')}; {e['segments']} superpixels, "
            f"R² {_num(e['r2']):.3f}; area under the explanation path {_num(e['auc_path']):.3f} vs random {_num(e['auc_random']):.3f}</p>"
        )
        return _Html(f"<div>{caption}{pictures}</div>")

    def show_gallery(self, group: str, selector: Optional[str] = None) -> "_Html":
        """The gallery of a group's prototypes and criticisms, inline."""
        names = [selector] if selector else self.criticisms
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in group)
        for name in names:
            png = self.path / "criticize" / name / "galleries" / f"{safe}.png"
            if png.is_file():
                return _Html(f'<figure><img alt="{html.escape(group)}" src="{_data_uri(png)}"/><figcaption>{html.escape(name)}: {html.escape(group)}</figcaption></figure>')
        raise RectifyError(f"{self.path}: no gallery of group {group!r} (criticize runs: {', '.join(self.criticisms) or 'none'})")

    def show(self, report: Optional[PathLike] = None) -> "_Html":
        """The report inline (made first if the run has none): the self-contained page in an
        iframe, no widget extension and no network needed."""
        if report is not None:
            path = Path(report)
            if not path.is_file():
                raise RectifyError(f"{path}: no such report")
        else:
            path = self.path / "report" / "report.html"
            if not path.is_file():
                path = self.report(progress=False)
        return _Html(_iframe(path.read_text()))

    def _repr_html_(self) -> str:
        path = self.path / "report" / "report.html"
        if path.is_file():
            return _iframe(path.read_text())
        if not (self.path / "summary.json").is_file():
            return f"<p><code>{html.escape(os.fspath(self.path))}</code>: evaluation not finished (evaluate into it again to resume)</p>"
        s = self.summary
        rows = "".join(f"<tr><th>{k}</th><td>{html.escape(str(s.get(k)))}</td></tr>" for k in ("n", "evaluated", "failed", "labeled", "top1", "top5", "real_top1"))
        return f"<p><code>{html.escape(os.fspath(self.path))}</code> (no report yet: <code>run.report()</code>)</p><table>{rows}</table>"


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _iframe(page: str) -> str:
    return f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:800px;border:1px solid #ccc" sandbox="allow-scripts"></iframe>'


class _Html:
    """HTML that Jupyter renders (``_repr_html_``) and a script can save (``.html``)."""

    def __init__(self, html_text: str):
        self.html = html_text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<rectify HTML, {len(self.html)} characters>"


