"""The filters on generated queries: what would teach a reranker nothing (malformed, copied, duplicate) or teach
it wrong (a query its own document does not answer, by BM25's consistency check as in InPars)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crossrank.training.generate import FEW_SHOT

if TYPE_CHECKING:
    from crossrank.training.data import Group


@dataclass(frozen=True, slots=True)
class Filtered:
    """Generated queries after the filters: (document position, query) kept, and per filter how many it dropped
    with a few examples (what `adapt` reports and docs/experiments/adapt.md records)."""

    kept: list[tuple[int, str]]
    dropped: dict[str, int]
    examples: dict[str, list[str]]


def filter_queries(texts: Sequence[str], generated: Sequence[tuple[int, str]], *, consistency_k: int = 20) -> Filtered:
    """Drop what would teach nothing or teach wrong, in this order: a malformed query (under 3 or over 24 words,
    or a loop: a word of four letters or more three times, a pair of words twice), a copy of one of the prompt's
    examples, a duplicate of a query already kept, a near-copy of one of its document's sentences (BM25 matches
    those already), and a query whose document BM25 does not rank in the collection's top `consistency_k` for it
    (the consistency check of InPars: such a query is more likely about something else; `consistency_k` 0 skips
    it, as GPL does, whose teachers' margins already say how well a query fits its document)."""
    from crossrank.retrieval.bm25 import BM25Retriever
    from crossrank.training.adapt import sentences

    dropped = dict.fromkeys(("malformed", "copies an example", "duplicate", "copies the document", "inconsistent"), 0)
    shown = {query for _, query in FEW_SHOT}
    examples: dict[str, list[str]] = {name: [] for name in dropped}

    def drop(reason: str, query: str) -> None:
        dropped[reason] += 1
        if len(examples[reason]) < 3:
            examples[reason].append(query)

    seen: set[str] = set()
    candidates: list[tuple[int, str]] = []
    for doc, query in generated:
        words = query.lower().split()
        key = " ".join(words)
        if not 3 <= len(words) <= 24 or _loops(words):
            drop("malformed", query)
        elif key in shown:
            drop("copies an example", query)
        elif key in seen:
            drop("duplicate", query)
        elif _copies(set(words), texts[doc], sentences):
            drop("copies the document", query)
        else:
            seen.add(key)
            candidates.append((doc, query))
    if not candidates or consistency_k == 0:
        return Filtered(candidates, dropped, examples)
    hits = BM25Retriever.build(list(texts)).retrieve([q for _, q in candidates], k=min(consistency_k, len(texts)))
    kept = []
    for (doc, query), hit in zip(candidates, hits, strict=True):
        if doc in hit.positions.tolist():
            kept.append((doc, query))
        else:
            drop("inconsistent", query)
    return Filtered(kept, dropped, examples)


def teachers_agree(groups: Sequence[Group]) -> list[Group]:
    """The groups whose (fused) teacher scores the pseudo-query's own document above every hard negative: the
    teachers' consistency check, after they scored (a query they place elsewhere is vague or about another
    document, e.g. "how to make it")."""
    return [g for g in groups if g.teacher is not None and all(g.teacher[0] > s for s in g.teacher[1:])]


def _loops(words: list[str]) -> bool:
    """The small model's repetition: a word of four letters or more three times, or a pair of words twice."""
    pairs = list(zip(words, words[1:], strict=False))
    return any(len(w) >= 4 and words.count(w) >= 3 for w in words) or len(set(pairs)) < len(pairs)


def _copies(words: set[str], text: str, split: Callable[[str], list[str]]) -> bool:
    """Whether 80% or more of the query's words come from one sentence of the document that is not much longer."""
    for sentence in split(text):
        found = set(sentence.lower().split())
        if len(words & found) >= 0.8 * len(words) and len(found) <= 2 * len(words):
            return True
    return False
