"""Install a trained model folder as one of crossrank's built-in models (int8 ONNX + tokenizer + config).

    .venv/bin/python scripts/package_model.py runs/default --as crossrank-default
    .venv/bin/python scripts/package_model.py runs/tiny --as crossrank-tiny

Copies only what inference needs into the package (src/crossrank/default_model/ or tiny_model/), so it stays
small, its card is generated afterwards by scripts/model_cards.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"crossrank-default": "default_model", "crossrank-tiny": "tiny_model"}  # as crossrank.models.BUILT_IN
KEEP = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "training.json"]

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("model", type=Path, help="a folder written by crossrank train (with its ONNX export)")
parser.add_argument("--as", dest="name", choices=sorted(FOLDERS), default="crossrank-default", help="which model")
args = parser.parse_args()
source, target = args.model, ROOT / "src" / "crossrank" / FOLDERS[args.name]
if not (source / "onnx" / "model_int8.onnx").is_file():
    sys.exit(f"{source} has no onnx/model_int8.onnx; run crossrank train without --no-export")
shutil.rmtree(target, ignore_errors=True)
(target / "onnx").mkdir(parents=True)
for name in KEEP:
    if (source / name).is_file():
        shutil.copyfile(source / name, target / name)
shutil.copyfile(source / "onnx" / "model_int8.onnx", target / "onnx" / "model_int8.onnx")
print("now: its int8 activation scales (scripts/calibrate_int8.py), its calibration (crossrank calibrate) and its card")
print("(scripts/model_cards.py)")
size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
print(f"installed {source} as {args.name} in {target} ({size / 1e6:.1f} MB)")
