"""`crossrank index`: split a folder or JSONL of documents into passages and index them."""

from __future__ import annotations

import argparse
import sys

from crossrank.cli.common import (
    HelpWithDefaults,
    count,
    non_negative_int,
    positive_int,
    progress,
)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `index` command's arguments."""
    index = sub.add_parser(
        "index",
        formatter_class=HelpWithDefaults,
        help="index your documents for two-stage search",
        description="Split documents into passages and index them for BM25 and dense retrieval.",
    )
    index.add_argument("docs", help="folder of .txt/.md/.html files, or a JSONL file (id, text, title?, ...)")
    index.add_argument(
        "--out",
        required=True,
        help="index folder: new, empty, or an earlier index (replaced atomically when the build completes)",
    )
    index.add_argument("--passage-words", type=positive_int, default=200, help="words per passage")
    index.add_argument(
        "--overlap-words", type=non_negative_int, default=40, help="words shared by consecutive passages of a document"
    )
    index.add_argument("--no-dense", action="store_true", help="BM25 only (no embeddings)")
    index.add_argument(
        "--encoding", default="utf-8", help="how the text files are encoded (e.g. latin-1, cp1252; JSONL is UTF-8)"
    )
    index.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    index.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.retrieval.index import Index

    report = Index.build(
        args.docs,
        args.out,
        passage_words=args.passage_words,
        overlap_words=args.overlap_words,
        dense=not args.no_dense,
        encoding=args.encoding,
        show_progress=progress(args),
    )
    from crossrank.corpora import EMPTY, OTHER_TYPE

    for source, reason in report.skipped:
        if reason not in (EMPTY, OTHER_TYPE):
            print(f"crossrank: skipped {source}: {reason}", file=sys.stderr)
    for reason, noun, what in ((EMPTY, "empty file", ""), (OTHER_TYPE, "file", " of a type crossrank does not read")):
        names = [source for source, why in report.skipped if why == reason]
        if names:
            listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            print(f"crossrank: skipped {count(len(names), noun)}{what} ({listed})", file=sys.stderr)
    print(
        f"indexed {count(report.documents, 'document')} as {count(report.passages, 'passage')} into {args.out} "
        f"({report.embedded} embedded, {report.reused} reused, {len(report.skipped)} skipped) "
        f"in {report.seconds:.1f} s"
    )
    return 0
