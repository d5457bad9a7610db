"""Generate queries for a collection's documents with SmolLM2 (crossrank.training.generate), resumably.

    .venv/bin/python scripts/generate_queries.py ../shared/datasets/cranfield data/generated/cranfield.jsonl
    .venv/bin/python scripts/generate_queries.py ../shared/datasets/wikiqa data/generated/wikiqa-passages.jsonl

A WikiQA folder gives passages of its training file's Wikipedia sentences (each question's candidate sentences,
consecutive ones joined to at least 45 words; the questions themselves are never read into a prompt).

Documents only: a collection's queries and judgements are never read into the prompt. Rerun the same command
to resume an interrupted run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crossrank.corpora import load_dataset, wikiqa_passages
from crossrank.training.generate import QueryGenerator, generate_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="a BEIR or Cranfield folder (its corpus only is read)")
    parser.add_argument("out", type=Path, help="the JSONL file to write or resume")
    parser.add_argument("--per-document", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="the first N documents only")
    args = parser.parse_args()
    if (args.dataset / "WikiQA-train.tsv").is_file():
        docs, source = (
            wikiqa_passages(args.dataset / "WikiQA-train.tsv"),
            "WikiQA-train Wikipedia sentences as passages",
        )
    else:
        dataset = load_dataset(args.dataset)
        docs = [(doc_id, d.full_text) for doc_id, d in dataset.corpus.items() if d.full_text.strip()]
        source = f"{dataset.name} corpus (documents only), {dataset.checksum[:12]}"
    docs = docs[: args.limit]
    started = time.monotonic()

    def tick(n: int) -> None:
        if n % 40 == 0:
            rate = (time.monotonic() - started) / n
            print(f"{n} documents, {rate:.2f} s each", file=sys.stderr, flush=True)

    written = generate_file(
        docs,
        args.out,
        source=source,
        per_document=args.per_document,
        seed=args.seed,
        make_generator=lambda: QueryGenerator(threads=args.threads),
        on_document=tick,
    )
    print(f"generated queries for {written} documents into {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
