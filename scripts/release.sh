#!/usr/bin/env bash
# A release build: the sdist and the wheel in dist/, both carrying the built-in models and the browser demo's
# JavaScript (ONNX Runtime Web, built from the npm registry first), so `pip install crossrank-*.whl` gives a
# `crossrank demo` that works without node. Needs node and npm, and the `build` package (`.[dev]` has it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build_web.sh
python=${PYTHON:-.venv/bin/python}
out=$(mktemp -d)
"$python" -m build --outdir "$out" . >/dev/null
"$python" - "$out" <<'PY'
import sys, tarfile, zipfile
from pathlib import Path

out = Path(sys.argv[1])
(wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
needed = ["crossrank/web/static/vendor/ort-wasm-simd-threaded.wasm", "crossrank/default_model/config.json",
          "crossrank/tiny_model/config.json"]
in_wheel = set(zipfile.ZipFile(wheel).namelist())
in_sdist = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
missing = [f"{wheel.name}: {n}" for n in needed if n not in in_wheel]
missing += [f"{sdist.name}: src/{n}" for n in needed if f"src/{n}" not in in_sdist]
if missing:
    sys.exit("release: missing from the build: " + ", ".join(missing))
PY
mkdir -p dist
mv "$out"/* dist/
rmdir "$out"
ls -l dist/
