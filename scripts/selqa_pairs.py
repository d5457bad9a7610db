"""SelQA answer-sentence selection (dev and test TSVs, no header) -> labelled-pair JSONL for `crossrank train`.

SelQA's text is pre-tokenized (`Israel 's`, `( 1990 )`); this undoes the common spacing so the pairs read like
the text a reranker meets. Usage: python scripts/selqa_pairs.py OUT.jsonl SELQA.tsv [SELQA.tsv ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_RULES = [
    (re.compile(r" ([.,;:!?%)\]}])"), r"\1"),
    (re.compile(r"([(\[{$]) "), r"\1"),
    (re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", re.IGNORECASE), r"\1"),
    (re.compile(r"`` ?| ?''"), '"'),
    (re.compile(r" - "), "-"),
]


def detokenize(text: str) -> str:
    """Join the tokens of pre-tokenized English text back into ordinary spacing."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def main(out: Path, sources: list[Path]) -> int:
    rows = 0
    with out.open("x", encoding="utf-8") as sink:
        for source in sources:
            for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
                fields = line.split("\t")
                if len(fields) != 3 or fields[2].strip() not in ("0", "1"):
                    raise SystemExit(f"{source}:{number}: expected question, sentence, label (0/1)")
                query, passage = detokenize(fields[0]), detokenize(fields[1])
                sink.write(json.dumps({"query": query, "passage": passage, "label": int(fields[2])}) + "\n")
                rows += 1
    print(f"{rows} labelled pairs written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="JSONL file to create (must not exist)")
    parser.add_argument("sources", type=Path, nargs="+", help="SelQA TSV files")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; crossrank's scripts never overwrite a file")
    sys.exit(main(args.out, args.sources))
