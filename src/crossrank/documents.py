"""Read candidate documents for the CLI: JSONL, plain text (one per line) or stdin."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from crossrank.errors import InputError
from crossrank.types import Document

DocFormat = Literal["auto", "jsonl", "text"]


@dataclass(frozen=True, slots=True)
class LoadedDocuments:
    """Documents in file order; `lines[i]` is the 1-based line documents[i] came from."""

    documents: list[Document]
    lines: list[int]
    skipped_blank: int


def read_documents(source: str, *, fmt: DocFormat = "auto", text_field: str = "text") -> LoadedDocuments:
    """Read documents from a file path or `-` (stdin).

    JSONL lines hold a string or an object with its text under `text_field`. In plain text every non-blank
    line is a document; blank lines are skipped and counted (`skipped_blank`), never silently. `auto` picks
    JSONL for `.jsonl`/`.ndjson` files, and for stdin whose first non-blank character is `{` or `"`.
    """
    name = "<stdin>" if source == "-" else source
    if source == "-":
        raw = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"documents file {source!r} does not exist")
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if fmt == "auto":
        if source == "-":
            fmt = "jsonl" if raw.lstrip()[:1] in ("{", '"') else "text"
        else:
            fmt = "jsonl" if source.endswith((".jsonl", ".ndjson")) else "text"
    documents: list[Document] = []
    lines: list[int] = []
    skipped = 0
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            skipped += 1
            continue
        documents.append(_parse_jsonl_line(line, name, number, text_field) if fmt == "jsonl" else line)
        lines.append(number)
    return LoadedDocuments(documents=documents, lines=lines, skipped_blank=skipped)


def _parse_jsonl_line(line: str, name: str, number: int, text_field: str) -> Document:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{number}: invalid JSON ({exc.msg})") from exc
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        if not isinstance(item.get(text_field), str):
            raise InputError(f"{name}:{number}: object has no string field {text_field!r} (use --text-field)")
        return item
    raise InputError(f"{name}:{number}: expected a JSON string or object, got {type(item).__name__}")
