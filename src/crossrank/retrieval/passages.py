"""Splitting a collection's documents (`crossrank.corpora.read_collection`) into passages for the two-stage index."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crossrank.corpora import SourceDocument, titled

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of a document: `passage_number` counts passages within the document from 0."""

    doc_id: str
    source: str
    passage_number: int
    title: str
    text: str
    fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """What the models read: "title. text" (`crossrank.corpora.titled`)."""
        return titled(self.title, self.text)


def split_passages(document: SourceDocument, *, words: int, overlap: int) -> list[Chunk]:
    """Paragraphs packed into passages of at most `words` words; a long paragraph is split on sentences.

    Consecutive passages share their last sentences up to `overlap` words, so an answer spanning a boundary
    is whole in one of them. A document without text gives one empty passage (it counts in BM25's statistics
    as it does in evaluation, and is never retrieved).
    """
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", document.text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            sentences += [s for s in _SENTENCE.split(paragraph) if s]
    chunks: list[list[str]] = []
    current: list[str] = []
    for sentence in sentences:
        while len(sentence.split()) > words:  # a sentence longer than a passage: hard cut on words
            head, sentence = " ".join(sentence.split()[:words]), " ".join(sentence.split()[words:])
            if current:
                chunks.append(current)
            chunks.append([head])
            current = []
        if current and sum(len(s.split()) for s in current) + len(sentence.split()) > words:
            chunks.append(current)
            carried: list[str] = []
            for previous in reversed(current):
                if sum(len(s.split()) for s in carried) + len(previous.split()) > overlap:
                    break
                carried.insert(0, previous)
            current = carried
        current.append(sentence)
    if current or not chunks:
        chunks.append(current)  # an empty document stays one empty passage: collection statistics keep it
    return [
        Chunk(document.doc_id, document.source, i, document.title, " ".join(c), document.fingerprint, document.metadata)
        for i, c in enumerate(chunks)
    ]
