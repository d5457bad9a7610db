"""Judged pairs for calibrating the built-in models: SelQA questions neither built-in model trained on.

SelQA (Apache-2.0, dev + test, via `scripts/selqa_pairs.py`) fed both models' training through a seeded sample
of its groups: crossrank-default v6 took 400 (negatives 5, seed 3), crossrank-tiny v3 took 1,500 (negatives 7,
seed 0). The same samples are drawn again here and every question in either is left out; each remaining
question brings all its candidate sentences (the article section) with their labels, so the pairs keep SelQA's
share of relevant candidates. Usage: python scripts/calibration_pairs.py SELQA.jsonl OUT.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossrank.training.data import load_sources

USED = [(5, 3, 400), (7, 0, 1500)]
"""(negatives, seed, limit) of the SelQA sample in crossrank-default v6's and crossrank-tiny v3's training."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("selqa", type=Path, help="labelled SelQA pairs from scripts/selqa_pairs.py")
    parser.add_argument("out", type=Path, help="where to write the held-out pairs (JSONL: query, text, label)")
    args = parser.parse_args()
    used: set[str] = set()
    for negatives, seed, limit in USED:
        groups, _ = load_sources([str(args.selqa)], negatives=negatives, seed=seed, limit=limit)
        used.update(g.query for g in groups)
    rows = [json.loads(line) for line in args.selqa.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [r for r in rows if r["query"] not in used]
    if args.out.exists():
        print(f"{args.out} exists; name a new file", file=sys.stderr)
        return 2
    with args.out.open("x", encoding="utf-8") as handle:
        for row in kept:
            handle.write(json.dumps({"query": row["query"], "text": row["passage"], "label": row["label"]}) + "\n")
    questions = len({r["query"] for r in kept})
    print(f"{len(kept)} pairs of {questions} questions ({len(used)} questions left out) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
