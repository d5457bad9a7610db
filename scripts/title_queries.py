"""Weak supervision from a BEIR corpus: each document's title as a query, its body as the positive passage.

Writes JSONL rows `{"query": title, "positive": text}` for `crossrank train --data`; negatives are then mined
with BM25 from the other bodies. Only the corpus is read (never queries or judgements), so a collection's
test queries stay unseen. Usage: python scripts/title_queries.py CORPUS.jsonl OUT.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(corpus: Path, out: Path, *, min_title_words: int = 4, min_text_words: int = 30) -> int:
    rows = 0
    with corpus.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as sink:
        for line in source:
            doc = json.loads(line)
            title, text = doc.get("title", "").strip(), doc.get("text", "").strip()
            if len(title.split()) >= min_title_words and len(text.split()) >= min_text_words:
                sink.write(json.dumps({"query": title, "positive": text}) + "\n")
                rows += 1
    print(f"{rows} title/body pairs written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a BEIR corpus.jsonl")
    parser.add_argument("out", type=Path, help="JSONL file to write")
    args = parser.parse_args()
    if not args.corpus.is_file():
        parser.error(f"{args.corpus} is not a file")
    sys.exit(main(args.corpus, args.out))
