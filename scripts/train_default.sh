#!/usr/bin/env bash
# Reproduce crossrank's built-in model: fine-tune all-MiniLM-L6-v2 as a cross-encoder on SciFact (train) and
# WikiQA, export int8 ONNX, evaluate, and install it into the package. Takes about 35 min per epoch on 2 cores.
# Resumable: run it again after an interruption and training continues from runs/default/checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/default}
DATA=../shared/datasets
RESUME=()
[ -f "$OUT/checkpoint/state.pt" ] && RESUME=(--resume)
.venv/bin/crossrank train --data "$DATA/scifact" --data "$DATA/wikiqa/WikiQA-train.tsv" --skip-malformed \
  --out "$OUT" --epochs 2 --negatives 7 --loss listwise --max-length 256 --lr 5e-5 --groups-per-step 8 \
  --seed 0 --threads 2 "${RESUME[@]}"
.venv/bin/python scripts/package_default.py "$OUT"
for dataset in cranfield scifact; do
  .venv/bin/crossrank eval --dataset "$DATA/$dataset" --first-stage bm25 --baselines biencoder,splade \
    --threads 2 --out "runs/eval-$dataset"
done
