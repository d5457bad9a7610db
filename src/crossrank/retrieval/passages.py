"""Reading a document collection and splitting it into passages for the two-stage index.

Inputs: a folder of .txt / .md / .html files, or a JSONL file (`id`, `text`, optional `title`, other fields kept
as metadata). Unreadable files are skipped and reported, never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from crossrank.errors import InputError

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class SourceDocument:
    doc_id: str
    source: str
    title: str
    text: str
    fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of a document: `position` counts passages within the document from 0."""

    doc_id: str
    source: str
    position: int
    title: str
    text: str
    fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "section", "article", "tr"):
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    return re.sub(r"\n\s*\n\s*", "\n\n", "".join(parser.parts)).strip()


def read_collection(path: Path) -> tuple[list[SourceDocument], list[tuple[str, str]]]:
    """Documents, and (source, reason) for every file that could not be read."""
    if path.is_file() and path.suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path), []
    if not path.is_dir():
        raise InputError(f"{path} is neither a folder of text files nor a .jsonl file")
    documents: list[SourceDocument] = []
    skipped: list[tuple[str, str]] = []
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
        relative = str(file.relative_to(path))
        try:
            raw = file.read_bytes()
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            skipped.append((relative, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        except OSError as exc:
            skipped.append((relative, exc.strerror or str(exc)))
            continue
        if file.suffix.lower() in (".html", ".htm"):
            text = html_text(text)
        fingerprint = hashlib.sha256(raw).hexdigest()[:16]
        documents.append(SourceDocument(relative, relative, "", text, fingerprint))
    return documents, skipped


def _read_jsonl(path: Path) -> list[SourceDocument]:
    from crossrank.documents import read_jsonl_objects

    documents = []
    seen: set[str] = set()
    for number, item in read_jsonl_objects(path):
        doc_id, text = item.get("id", item.get("_id")), item.get("text")
        if not isinstance(doc_id, str | int) or not isinstance(text, str):
            raise InputError(f"{path}:{number}: needs an 'id' and a string 'text'")
        doc_id = str(doc_id)
        if doc_id in seen:
            raise InputError(f"{path}:{number}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        title = item.get("title") or ""
        metadata = {k: v for k, v in item.items() if k not in ("id", "_id", "text", "title")}
        fingerprint = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:16]
        documents.append(SourceDocument(doc_id, f"{path.name}:{number}", str(title), text, fingerprint, metadata))
    return documents


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
