#!/usr/bin/env bash
# The Python package's tests (issue #16): build the wheel with maturin, install it into a fresh
# virtual environment, run the pytest suite (crates/py/tests) and the example notebook there.
#   scripts/python-test.sh             the whole suite (prepares the environment first)
#   scripts/python-test.sh --prepare   only the fresh environment and the import check: every
#                                      module the tests and the notebook import must import there
#                                      (`make test` runs this first, before any build)
# The fresh environment takes torch (and what torch depends on) from the cached one that
# scripts/setup.sh made, by symbolic links in its site-packages, rather than installing the 4.6 GB wheel a second time; the
# wheel's other dependencies (from crates/py/pyproject.toml) and the test tools
# (scripts/python-test-requirements.txt) come from PyPI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=${1:-all}
case "$mode" in all|--prepare) ;; *) echo "usage: scripts/python-test.sh [--prepare]" >&2; exit 2 ;; esac
set -- # env.sh reads its own arguments
. scripts/env.sh --dev
pin=$(grep -E '^torch==' scripts/torch-requirements.txt)
grep -q "\"$pin\"" crates/py/pyproject.toml || { echo "python-test: crates/py/pyproject.toml does not pin $pin" >&2; exit 1; }
work=target/python-test
venv_python=$work/venv/bin/python

prepare() {
  rm -rf "$work"
  mkdir -p "$work"
  base_python=${RECTIFY_BASE_PYTHON:-python3}
  "$base_python" -m venv "$work/venv"
  # torch's dependency closure, linked into the fresh site-packages (so that the wheel's
  # `$ORIGIN/../torch/lib` finds libtorch there, as it will where torch is installed by pip).
  "$RECTIFY_TORCH_ENV/bin/python" - "$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" <<'PY'
import importlib.metadata as md, re, sys
from pathlib import Path
out = Path(sys.argv[1])
todo, seen = ["torch"], set()
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    seen.add(name)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue  # an optional or platform-specific requirement that is not installed
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
    for f in dist.files or []:
        top = Path(str(f)).parts[0]
        src = Path(dist.locate_file(top))
        if top not in ("..", "__pycache__") and src.exists() and not (out / top).exists():
            (out / top).symlink_to(src)
print(f"python-test: torch and {len(seen) - 1} dependencies linked from {Path(md.distribution('torch').locate_file('')).resolve()}", file=sys.stderr)
PY
  # The wheel's own dependencies, as pip will install them with it, and the test tools.
  "$venv_python" -c 'import tomllib, sys; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
    crates/py/pyproject.toml > "$work/wheel-requirements.txt"
  "$venv_python" -m pip install --quiet --disable-pip-version-check -r "$work/wheel-requirements.txt" \
    -r scripts/python-test-requirements.txt
  "$venv_python" scripts/check-imports.py --provided rectify \
    --requirements "scripts/python-test-requirements.txt (or the wheel's dependencies in crates/py/pyproject.toml)" \
    crates/py/tests examples/python
  touch "$work/.prepared"
}

if [ "$mode" = --prepare ] || [ "${RECTIFY_PYTHON_TEST_PREPARED:-}" != 1 ] || [ ! -f "$work/.prepared" ]; then
  prepare
fi
[ "$mode" = --prepare ] && exit 0

cargo build --release --locked -p rectify
wheel=$(bash scripts/wheel.sh | tail -n 1)
"$venv_python" -m pip install --quiet --disable-pip-version-check "$wheel"
"$venv_python" -c 'import rectify, torch; print("python-test: rectify", rectify.__version__, "with torch", torch.__version__, file=__import__("sys").stderr)'
RECTIFY_BIN=$PWD/target/release/rectify RECTIFY_REPO=$PWD "$venv_python" -m pytest -q -p no:cacheprovider crates/py/tests
