#!/usr/bin/env python3
"""Imports, in this interpreter, every module that the given Python files import (issue #28 §0).

    python scripts/check-imports.py [--provided NAME ...] --requirements FILE PATH...

PATH is a .py file, a .ipynb notebook (its code cells) or a folder of them (searched
recursively). A module counts when a file imports it absolutely, at any depth (inside functions
too), unless it is in the standard library, is a sibling file or package of the importing file
(or of a folder that file puts on sys.path), is named with --provided (the package under test,
installed later), or the import sits in a `try:` whose handler catches ImportError: that import
is optional by construction.

Every module is then imported here. The first line printed for each missing one names the file and
line that imports it and the requirement file it belongs in; the exit status is 1 if any is
missing, so `make test` stops in seconds rather than after the build, when a fixture script or a
Python test would die with ModuleNotFoundError.
"""

import argparse
import ast
import importlib
import json
import sys
from pathlib import Path

OPTIONAL = {"ImportError", "ModuleNotFoundError"}


def sources(paths):
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix in (".py", ".ipynb") and "__pycache__" not in f.parts and ".ipynb_checkpoints" not in f.parts:
                    yield f
        elif p.is_file():
            yield p
        else:
            sys.exit(f"check-imports: {p}: no such file or folder")


def code_of(path):
    """(code, line offset) pieces of a file: the file itself, or a notebook's code cells."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return [(text, 0)]
    cells = json.loads(text)["cells"]
    out = []
    for n, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            # IPython magics and shell escapes are not Python.
            src = "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in src.splitlines())
            out.append((src, n))
    return out


def optional_nodes(tree):
    """Import nodes inside a try: whose handlers catch ImportError (or a parent of it)."""
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for h in node.handlers:
            types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            for t in types:
                if t is None:
                    caught.add("BaseException")
                elif isinstance(t, ast.Name):
                    caught.add(t.id)
        if caught & OPTIONAL:
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        out.add(id(sub))
    return out


def local_names(path):
    """Modules a file can import from beside itself: sibling .py files and packages."""
    names = set()
    for p in path.parent.iterdir():
        if p.suffix == ".py":
            names.add(p.stem)
        elif p.is_dir() and (p / "__init__.py").exists():
            names.add(p.name)
    return names


def imports(path):
    """(module, line) for every absolute import of a third-party module in `path`."""
    local = local_names(path)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    found = []
    for code, offset in code_of(path):
        try:
            tree = ast.parse(code, filename=str(path))
        except SyntaxError as e:
            sys.exit(f"check-imports: {path}: {e}")
        optional = optional_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top not in local:
                    found.append((name, node.lineno + offset))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--requirements", required=True, help="where a missing module belongs (named in the message)")
    ap.add_argument("--provided", action="append", default=[], help="a top-level module installed later (the package under test)")
    args = ap.parse_args()
    wanted = {}
    files = list(sources(args.paths))
    for f in files:
        for name, line in imports(f):
            if name.split(".")[0] not in args.provided:
                wanted.setdefault(name, (f, line))
    missing = 0
    for name in sorted(wanted):
        try:
            importlib.import_module(name)
        except Exception as e:  # an import that fails in any way fails the fixture or test too
            f, line = wanted[name]
            print(
                f"check-imports: {f}:{line} imports {name}, which {sys.executable} cannot import "
                f"({type(e).__name__}: {e}): add its distribution to {args.requirements}",
                file=sys.stderr,
            )
            missing += 1
    print(f"check-imports: {len(wanted) - missing} of {len(wanted)} modules imported by {len(files)} files import here", file=sys.stderr)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
