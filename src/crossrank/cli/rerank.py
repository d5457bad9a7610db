"""`crossrank rerank`: rerank a file of documents (or stdin) for one query and print the ranking."""

from __future__ import annotations

import argparse
import sys

from crossrank.cli.common import (
    HelpWithDefaults,
    add_model_arguments,
    argument_text,
    finite_float,
    load_reranker,
    positive_int,
    print_json,
    progress,
    stdout_console,
)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `rerank` command's arguments."""
    rerank = sub.add_parser(
        "rerank",
        formatter_class=HelpWithDefaults,
        help="rerank documents for one query",
        description="Rerank documents for a query.",
    )
    rerank.add_argument("--query", "-q", required=True, help="the query text")
    rerank.add_argument(
        "--docs", "-d", required=True, help="JSONL file, text file (one document per line) or - for stdin"
    )
    rerank.add_argument(
        "--format",
        choices=["auto", "jsonl", "json", "text"],
        default="auto",
        help="how to read --docs (auto: .jsonl/.ndjson as JSONL, .json as one JSON array, anything else as text)",
    )
    rerank.add_argument("--text-field", default="text", help="field holding the text in JSONL objects")
    rerank.add_argument("--top-k", type=positive_int, default=None, help="show only the best K documents")
    rerank.add_argument(
        "--min-score",
        "--threshold",
        type=finite_float,
        default=None,
        help="drop documents scoring below this (with the built-in models a probability of relevance)",
    )
    rerank.add_argument(
        "--budget-tokens",
        type=positive_int,
        default=None,
        help="keep documents best first while their tokens (the model's tokenizer) fit in this budget",
    )
    rerank.add_argument(
        "--budget-counts",
        choices=["documents", "evidence"],
        default="documents",
        help="what --budget-tokens counts: whole documents, or only the part that matched (shown with --evidence)",
    )
    rerank.add_argument(
        "--ranked-input",
        action="store_true",
        help="the documents come best first from a first stage and that order may count: the cascade keeps the "
        "best of its first pass fused with it, ties keep it (default: a set, the file's order never counts)",
    )
    rerank.add_argument(
        "--evidence",
        action="store_true",
        help="show the part of each document its score came from (the best window with --window): in the table "
        "that text, in --json its character span",
    )
    rerank.add_argument("--raw", action="store_true", help="print raw logits instead of 0..1 scores")
    rerank.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_model_arguments(rerank)
    rerank.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.documents import read_documents

    query = argument_text(args.query, "--query")
    loaded = read_documents(args.docs, fmt=args.format, text_field=args.text_field)
    if loaded.skipped_blank:
        print(f"crossrank: skipped {loaded.skipped_blank} blank line(s) in {args.docs}", file=sys.stderr)
    reranker = load_reranker(args)
    results = reranker.rerank(
        query,
        loaded.documents,
        top_k=args.top_k,
        min_score=args.min_score,
        max_tokens=args.budget_tokens,
        text_field=args.text_field,
        raw=args.raw,
        ranked_input=args.ranked_input,
        return_evidence=args.evidence,
        budget_counts=args.budget_counts,
        show_progress=progress(args),
    )
    if args.json:
        payload = {
            "query": args.query,
            "model": reranker.name_for(len(loaded.documents)),
            "backend": reranker.backend.name,
            "results": [
                {
                    "rank": rank,
                    "index": r.index,
                    "line": loaded.lines[r.index],
                    "score": r.score,
                    "scored_by": r.scored_by,
                    "document": r.document,
                    **({"evidence": {"start": r.evidence.start, "end": r.evidence.end}} if r.evidence else {}),
                }
                for rank, r in enumerate(results, start=1)
            ],
        }
        print_json(payload)
        return 0
    from rich.table import Table

    used = reranker.name_for(len(loaded.documents))
    table = Table(title=f"{args.query}  [dim]({used}, {reranker.backend.name})[/dim]")
    table.add_column("rank", justify="right", no_wrap=True, min_width=4)
    table.add_column("score", justify="right", no_wrap=True, min_width=6)
    table.add_column("line", justify="right", no_wrap=True, min_width=4)
    console = stdout_console()
    table.add_column("document", overflow="ellipsis", no_wrap=True, max_width=max(20, console.width - 30))
    for rank, r in enumerate(results, start=1):
        text = r.document if isinstance(r.document, str) else str((r.document or {}).get(args.text_field, ""))
        if r.evidence is not None:
            text = text[r.evidence.start : r.evidence.end]
        table.add_row(str(rank), f"{r.score:.4f}", str(loaded.lines[r.index]), text)
    console.print(table)
    return 0
