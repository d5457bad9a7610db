"""What a token budget holds when it counts only the part of each document that matched (`budget_counts=
"evidence"`) instead of whole documents, on Cranfield and SciFact (test collections, measured only).

The default path (crossrank-tiny -> crossrank-default) reranks each query's BM25 top 100 (handed over as a
ranking, as `crossrank eval` does) with long documents scored in windows (`long_documents="window"`) and each
result's evidence. For each budget of the cut table: passages and tokens kept per query, and the share of
queries whose best relevant candidate is kept, counting whole documents and counting matching windows only.

    .venv/bin/python benchmarks/evidence_budget.py --threads 2 --out benchmarks/results/evidence-budget.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cascade import candidates  # benchmarks/cascade.py
from crossrank import Reranker
from crossrank.corpora import load_dataset
from crossrank.evaluation.cuts import BUDGETS, cut_table, evidence_budget_rows
from crossrank.evaluation.metrics import mean, per_query
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.outputs import write_atomic
from crossrank.types import Run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def measure(name: str, reranker: Reranker) -> dict[str, Any]:
    """The budget rows of one collection, both ways, and the windowed default path's nDCG@10."""
    data = load_dataset(DATASETS / name)
    queries, shortlist = candidates(data, 100)
    run: Run = {}
    whole: dict[str, int] = {}
    matched: dict[tuple[str, str], int] = {}
    windows = 0
    started = time.perf_counter()
    for qid, query in queries.items():
        texts = [data.corpus[d].full_text for d in shortlist[qid]]
        results = reranker.rerank(query, texts, return_evidence=True, ranked_input=True)
        run[qid] = {shortlist[qid][r.index]: r.score for r in results}
        counts = reranker.count_tokens(texts)
        spans = reranker.count_tokens(
            [texts[r.index][r.evidence.start : r.evidence.end] for r in results if r.evidence]
        )
        for r, spent in zip(results, spans, strict=True):
            doc = shortlist[qid][r.index]
            whole[doc] = counts[r.index]
            matched[(qid, doc)] = spent
            windows += spent < counts[r.index]
    seconds = time.perf_counter() - started
    qrels = {q: data.qrels[q] for q in queries}
    rows = [r for r in cut_table(run, qrels, whole) if r.cut.endswith(" tokens")]
    rows += evidence_budget_rows(run, qrels, matched)
    return {
        "dataset": name,
        "queries": len(queries),
        "ndcg@10": round(mean(per_query(qrels, run, ("nDCG@10",))["nDCG@10"]), 4),
        "results_whose_evidence_is_part_of_the_document": round(windows / len(matched), 3),
        "seconds": round(seconds, 1),
        "rows": [asdict(r) for r in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the results as JSON here (benchmarks/results/...)")
    args = parser.parse_args()
    reranker = Reranker(long_documents="window", threads=args.threads)
    machine = {"cpu": cpu_name(), "family": cpu_family(), "features": cpu_features()}
    print(f"machine: {machine}; threads={args.threads}; {reranker.name}, window {reranker.spec.max_length} tokens")
    found = [measure(name, reranker) for name in ("cranfield", "scifact")]
    for entry in found:
        print(
            f"\n{entry['dataset']} ({entry['queries']} queries, nDCG@10 {entry['ndcg@10']}, "
            f"{entry['results_whose_evidence_is_part_of_the_document']:.0%} of results matched in part)"
        )
        for row in entry["rows"]:
            print(
                f"  {row['cut']:<32} passages {row['passages']:5.1f}  tokens {row['tokens']:7.0f}  "
                f"best relevant kept {row['best_relevant_kept']:.3f}"
            )
    body = {
        "kind": "benchmarks/evidence_budget.py",
        "machine": machine,
        "threads": args.threads,
        "model": reranker.name,
        "window": reranker.spec.max_length,
        "budgets": list(BUDGETS),
        "collections": found,
    }
    if args.out:
        write_atomic(args.out, json.dumps(body, indent=1) + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
