"""Self-supervised pairs by the inverse cloze task (Lee et al., 2019): one sentence of a paragraph as the query,
the rest of the paragraph (that sentence removed) as the positive, so a model must match by topic rather than
by copied words. Negatives are then mined with BM25 from the other paragraphs by `crossrank train`.

Paragraphs come from a BEIR corpus (`corpus.jsonl`: each document's title and text; only the corpus is read,
never queries or judgements) or from answer-sentence-selection files whose candidates are the sentences of one
Wikipedia section per question (SelQA: question, sentence, label, no header; WikiQA: a header, the sentence in
column 4): the sentences of a question, in file order, make the paragraph; a row with another number of columns
is skipped and named.

    .venv/bin/python scripts/ict_pairs.py OUT.jsonl SOURCE [SOURCE ...] [--per-paragraph 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from crossrank.outputs import write_lines_atomic
from selqa_pairs import detokenize  # this folder's script: SelQA's spacing undone one way everywhere

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")


def corpus_paragraphs(path: Path) -> list[list[str]]:
    """A BEIR corpus: each document's abstract split into sentences, its title kept as the first one."""
    paragraphs = []
    with path.open(encoding="utf-8") as source:
        for line in source:
            doc = json.loads(line)
            sentences = [s.strip() for s in _SENTENCE_END.split(doc.get("text", "")) if s.strip()]
            title = doc.get("title", "").strip()
            paragraphs.append(([title] if title else []) + sentences)
    return paragraphs


def section_paragraphs(path: Path) -> list[list[str]]:
    """Answer-selection TSV: the candidate sentences of each question, in order, as one paragraph."""
    by_question: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            fields = line.rstrip("\n").split("\t")
            if number == 1 and fields[0] == "QuestionID":  # WikiQA's header
                continue
            if len(fields) not in (3, 5):  # WikiQA has 13 rows with stray tabs, as `crossrank train --skip-malformed`
                print(f"{path}:{number}: skipped, not SelQA's 3 or WikiQA's 5 tab-separated columns", file=sys.stderr)
                continue
            question, sentence = (fields[1], fields[3]) if len(fields) == 5 else (fields[0], fields[1])
            sentences = by_question.setdefault(question, [])
            sentence = detokenize(sentence)
            if sentence and sentence not in sentences:
                sentences.append(sentence)
    unique = {tuple(s): s for s in by_question.values()}  # questions on one section give one paragraph
    return list(unique.values())


def ict_rows(
    paragraphs: list[list[str]],
    *,
    per_paragraph: int,
    rng: random.Random,
    query_words: tuple[int, int] = (6, 40),
    min_rest_words: int = 30,
) -> list[dict[str, str]]:
    """Up to `per_paragraph` (sentence, rest of paragraph) rows from each paragraph of at least three sentences."""
    rows = []
    for sentences in paragraphs:
        if len(sentences) < 3:
            continue
        eligible = [i for i, s in enumerate(sentences) if query_words[0] <= len(s.split()) <= query_words[1]]
        for i in rng.sample(eligible, min(per_paragraph, len(eligible))):
            rest = " ".join(s for j, s in enumerate(sentences) if j != i)
            if len(rest.split()) >= min_rest_words:
                rows.append({"query": sentences[i], "positive": rest})
    return rows


def main(out: Path, sources: list[Path], *, per_paragraph: int, seed: int) -> int:
    rng = random.Random(seed)
    rows = []
    for source in sources:
        paragraphs = corpus_paragraphs(source) if source.suffix == ".jsonl" else section_paragraphs(source)
        found = ict_rows(paragraphs, per_paragraph=per_paragraph, rng=rng)
        print(f"{source}: {len(paragraphs)} paragraphs, {len(found)} pairs", file=sys.stderr)
        rows += found
    write_lines_atomic(out, (json.dumps(row) for row in rows))
    print(f"{len(rows)} sentence/paragraph pairs written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="JSONL file to write (a new path)")
    parser.add_argument("sources", type=Path, nargs="+", help="BEIR corpus.jsonl, or SelQA / WikiQA .tsv files")
    parser.add_argument("--per-paragraph", type=int, default=1, help="pairs taken from each paragraph (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    missing = [str(s) for s in args.sources if not s.is_file()]
    if missing:
        parser.error(f"not a file: {', '.join(missing)}")
    if args.out.exists():
        parser.error(f"{args.out} exists: refusing to overwrite it (remove it or choose a new path)")
    sys.exit(main(args.out, args.sources, per_paragraph=args.per_paragraph, seed=args.seed))
