"""Training pairs from a generated-queries file (data/generated/): each kept query with its source document.

    .venv/bin/python scripts/generated_pairs.py data/generated/wikiqa-passages.jsonl ../shared/datasets/wikiqa \
        runs/generated-wikiqa.jsonl
    .venv/bin/python scripts/generated_pairs.py data/generated/scifact.jsonl ../shared/datasets/scifact \
        runs/generated-scifact.jsonl --judged-in train

Writes JSONL rows `{"query": generated query, "positive": its document}` for `crossrank train --data`, which
mines the negatives with BM25 from the other documents of the file. The queries pass `adapt`'s filters first
(malformed, copies of the prompt's examples or of the document, duplicates, and BM25's consistency check over the
file's documents). `--judged-in SPLIT` keeps only the documents a BEIR split's judgements name: SciFact is a test
collection, and a shipped model may learn only from the abstracts of its train split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossrank.corpora import load_dataset, wikiqa_passages
from crossrank.outputs import write_atomic
from crossrank.training.generate import read_generated
from crossrank.training.query_filters import filter_queries


def documents(folder: Path, judged_in: str | None) -> dict[str, str]:
    """The texts the generator was given, by id: WikiQA's training passages, or a collection's corpus (only
    the documents judged in `judged_in`'s split, when given)."""
    if (folder / "WikiQA-train.tsv").is_file():
        return dict(wikiqa_passages(folder / "WikiQA-train.tsv"))
    dataset = load_dataset(folder, split=judged_in or "test")
    corpus = {doc_id: doc.full_text for doc_id, doc in dataset.corpus.items()}
    if judged_in is None:
        return corpus
    keep = {doc_id for per_query in dataset.qrels.values() for doc_id in per_query}
    return {doc_id: text for doc_id, text in corpus.items() if doc_id in keep}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generated", type=Path, help="a file scripts/generate_queries.py wrote")
    parser.add_argument("dataset", type=Path, help="the folder its documents came from")
    parser.add_argument("out", type=Path, help="a new JSONL file")
    parser.add_argument("--judged-in", default=None, help="keep only documents this split's judgements name")
    parser.add_argument("--consistency-k", type=int, default=20, help="BM25 depth of the consistency check")
    args = parser.parse_args()
    if args.out.exists():
        print(f"{args.out} exists: name a new file", file=sys.stderr)
        return 2
    texts = documents(args.dataset, args.judged_in)
    rows = [row for row in read_generated(args.generated) if row.doc_id in texts]
    ids = [row.doc_id for row in rows]
    pairs = [(k, query) for k, row in enumerate(rows) for query in row.queries]
    result = filter_queries([texts[i] for i in ids], pairs, consistency_k=args.consistency_k)
    write_atomic(args.out, "".join(json.dumps({"query": q, "positive": texts[ids[k]]}) + "\n" for k, q in result.kept))
    print(
        f"{len(rows)} documents, {len(pairs)} queries, kept {len(result.kept)}, dropped {result.dropped}; "
        f"wrote {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
