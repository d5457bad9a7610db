"""Fix the activation scales of the built-in models' static int8 path (`onnx/activation_scales.json`).

Ranges are measured on pairs neither model is measured on: held-out SelQA pairs (short sentences, written by
`scripts/calibration_pairs.py`) and SciFact *train* claims with their judged abstracts (long passages), each
tokenized with the model's own window. Usage:

    .venv/bin/python scripts/calibrate_int8.py runs/calibration-pairs.jsonl ../shared/datasets/scifact
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from crossrank.batching import pad_batch
from crossrank.corpora import titled
from crossrank.export.static_int8 import calibrate, scales_path
from crossrank.models import built_in_dir, read_spec
from crossrank.tokenization import PairEncoder, load_tokenizer

QUANTILE = 0.99999
"""Measured on the built-in model against its float path (docs/experiments/static-int8.md): 0.9999 clips
signal (nDCG@10 -0.02 on Cranfield), the plain min/max lets rare values coarsen every step."""


def pairs(selqa: Path, scifact: Path, *, short: int, long: int, seed: int) -> list[tuple[str, str]]:
    """`short` SelQA pairs and `long` SciFact train (claim, judged abstract) pairs, seeded."""
    rng = np.random.default_rng(seed)
    rows = [json.loads(line) for line in selqa.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [(rows[i]["query"], rows[i]["text"]) for i in rng.choice(len(rows), short, replace=False)]
    queries = {
        q["_id"]: q["text"] for q in map(json.loads, (scifact / "queries.jsonl").read_text("utf-8").splitlines())
    }
    with (scifact / "qrels" / "train.tsv").open(encoding="utf-8") as handle:
        judged = [(r["query-id"], r["corpus-id"]) for r in csv.DictReader(handle, delimiter="\t")]
    wanted = {judged[i] for i in rng.choice(len(judged), long, replace=False)}
    docs = {d for _, d in wanted}
    corpus: dict[str, str] = {}
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            if doc["_id"] in docs:
                corpus[doc["_id"]] = titled(doc.get("title") or "", doc["text"])
    return chosen + [(queries[q], corpus[d]) for q, d in sorted(wanted)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("selqa", type=Path, help="held-out SelQA pairs (JSONL: query, text, label)")
    parser.add_argument("scifact", type=Path, help="the SciFact folder (train claims and judgements are used)")
    parser.add_argument("--short", type=int, default=300)
    parser.add_argument("--long", type=int, default=100)
    args = parser.parse_args()
    chosen = pairs(args.selqa, args.scifact, short=args.short, long=args.long, seed=0)
    for name in ("crossrank-default", "crossrank-tiny"):
        folder = built_in_dir(name)
        encoder = PairEncoder(load_tokenizer(folder), max_length=read_spec(folder).max_length)
        feeds = [pad_batch(encoder.encode(q, [d]), np.array([0]), pad_id=encoder.pad_id) for q, d in chosen]
        int8 = folder / "onnx" / "model_int8.onnx"
        source = (
            f"{args.short} held-out SelQA pairs and {args.long} SciFact train (claim, judged abstract) pairs, "
            f"seed 0, quantile {QUANTILE}"
        )
        scales = calibrate(int8, feeds, quantile=QUANTILE, source=source)
        scales.write(scales_path(int8))
        print(f"{name}: {len(scales.scales)} activation scales -> {scales_path(int8)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
