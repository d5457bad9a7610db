"""`crossrank search`: retrieve from an index, rerank, print the best passages."""

from __future__ import annotations

import argparse

from crossrank.cli.common import (
    HelpWithDefaults,
    add_model_arguments,
    argument_text,
    load_reranker,
    positive_int,
    print_json,
)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `search` command's arguments."""
    search = sub.add_parser(
        "search",
        formatter_class=HelpWithDefaults,
        help="search an index: retrieve, then rerank",
        description="Retrieve top-k passages from an index and rerank them.",
    )
    search.add_argument("index", help="index folder made by crossrank index")
    search.add_argument("query", help='what to search for, in words (quote it: "how do wings produce lift")')
    search.add_argument("--k", type=positive_int, default=100, help="first-stage candidates")
    search.add_argument(
        "--top-k", "--top", dest="top_k", type=positive_int, default=5, help="passages to show (--top is the old name)"
    )
    search.add_argument(
        "--first-stage",
        choices=["bm25", "dense", "hybrid"],
        default=None,
        help="how candidates are found (default: hybrid, or bm25 for an index built with --no-dense)",
    )
    search.add_argument("--no-rerank", action="store_true", help="show the first stage's order")
    search.add_argument(
        "--fuse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fuse the reranked order with the first stage's by reciprocal rank (default: on for crossrank's "
        "built-in models, which can lose to the first stage out of their domain; off for any other model)",
    )
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.add_argument("--explain", action="store_true", help="show each passage's first-stage rank")
    add_model_arguments(search)
    search.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.retrieval.index import FirstStage, Index, fuses

    query = argument_text(args.query, "the query")
    index = Index.open(args.index)
    first_stage: FirstStage = args.first_stage or index.default_first_stage
    reranker = None if args.no_rerank else load_reranker(args)
    fuse = fuses(reranker, args.fuse)
    hits = index.search(query, k=args.k, top_k=args.top_k, first_stage=first_stage, reranker=reranker, fuse=fuse)
    if args.json:
        payload = {
            "query": args.query,
            "first_stage": first_stage,
            "reranker": None if reranker is None else reranker.name,
            "fuse": fuse,
            "results": [
                {
                    "rank": h.rank,
                    "score": h.score,
                    "rerank_score": h.rerank_score,
                    "first_stage_rank": h.first_stage_rank,
                    "doc_id": h.doc_id,
                    "source": h.source,
                    "passage": h.passage_number,
                    "title": h.title,
                    "text": h.text,
                    "metadata": h.metadata,
                }
                for h in hits
            ],
        }
        print_json(payload)
        return 0
    for h in hits:
        moved = f"  (first stage #{h.first_stage_rank})" if args.explain else ""
        headline = h.score if h.rerank_score is None else h.rerank_score  # the reranker's score, a probability
        fused = (
            f" (ordered by fusion with the first stage, {h.score:.4f})" if fuse and h.rerank_score is not None else ""
        )
        print(f"#{h.rank}  {headline:.4f}{fused}  {h.source} passage {h.passage_number}{moved}")
        print(f"    {h.text[:300]}{'…' if len(h.text) > 300 else ''}")
    return 0
