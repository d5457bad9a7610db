"""How fast SmolLM2 writes queries on this machine, by how the cores are used: one process with 1 or all threads,
one single-threaded process per core (what `adapt` runs), and batches of documents. Documents only (Cranfield's
abstracts by default); three queries each, as `adapt` asks. Every layout on the same documents, in one run.

    .venv/bin/python benchmarks/generation.py --documents 24 --out benchmarks/results/generation-KIND.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from pathlib import Path

from crossrank.corpora import load_dataset
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.outputs import write_atomic
from crossrank.training.generate import GENERATOR, QueryGenerator, generate_file

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
QUERIES = 3
"""Queries a document, as `adapt` asks by default."""
LAYOUTS = (  # (processes, threads each, documents a batch)
    (1, 1, 1),
    (1, 2, 1),
    (2, 1, 1),
    (1, 2, 4),
    (2, 1, 4),
)


def seconds_per_document(documents: list[tuple[str, str]], *, processes: int, threads: int, batch: int) -> float:
    """Wall time per document to generate `QUERIES` queries for each, from start (model loading included) to end."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        generate_file(
            documents,
            Path(folder) / "queries.jsonl",
            source="benchmark",
            per_document=QUERIES,
            seed=0,
            batch=batch,
            workers=processes,
            make_generator=functools.partial(QueryGenerator, threads=threads),
        )
        return (time.monotonic() - started) / len(documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DATASETS / "cranfield")
    parser.add_argument("--documents", type=int, default=24, help="the collection's first this many documents")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    documents = [(doc_id, d.full_text) for doc_id, d in data.corpus.items() if d.full_text.strip()][: args.documents]
    rows = []
    for processes, threads, batch in LAYOUTS:
        if processes * threads > (os.cpu_count() or 1):
            continue
        spent = seconds_per_document(documents, processes=processes, threads=threads, batch=batch)
        rows.append({"processes": processes, "threads_each": threads, "batch": batch, "s_per_document": spent})
        print(f"{processes} process(es) x {threads} thread(s), batch {batch}: {spent:.2f} s a document", flush=True)
    base = rows[0]["s_per_document"]
    for row in rows:
        row["speedup_vs_one_thread"] = round(base / row["s_per_document"], 2)
    body = {
        "kind": "benchmarks/generation.py",
        "machine": {"cpu": cpu_name(), "family": cpu_family(), "features": cpu_features(), "cores": os.cpu_count()},
        "generator": GENERATOR,
        "dataset": data.name,
        "documents": len(documents),
        "queries_per_document": QUERIES,
        "layouts": rows,
    }
    if args.out:
        write_atomic(args.out, json.dumps(body, indent=1) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
