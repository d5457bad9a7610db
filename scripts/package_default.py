"""Install a trained model folder as crossrank's built-in default (int8 ONNX + tokenizer + config).

    .venv/bin/python scripts/package_default.py runs/default

Copies only what inference needs into src/crossrank/default_model/, so the package stays small.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

KEEP = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "training.json"]

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("model", type=Path, help="a folder written by crossrank train (with its ONNX export)")
source = parser.parse_args().model
target = Path(__file__).resolve().parents[1] / "src" / "crossrank" / "default_model"
if not (source / "onnx" / "model_int8.onnx").is_file():
    sys.exit(f"{source} has no onnx/model_int8.onnx; run crossrank train without --no-export")
shutil.rmtree(target, ignore_errors=True)
(target / "onnx").mkdir(parents=True)
for name in KEEP:
    if (source / name).is_file():
        shutil.copyfile(source / name, target / name)
shutil.copyfile(source / "onnx" / "model_int8.onnx", target / "onnx" / "model_int8.onnx")
if (Path(__file__).resolve().parents[1] / "MODEL_CARD.md").is_file():
    shutil.copyfile(Path(__file__).resolve().parents[1] / "MODEL_CARD.md", target / "README.md")
size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
print(f"installed {source} as {target} ({size / 1e6:.1f} MB)")
