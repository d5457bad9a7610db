"""Read candidate documents for the CLI: JSONL, a JSON array, plain text (one per line) or stdin."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crossrank.errors import InputError
from crossrank.types import Document

DocFormat = Literal["auto", "jsonl", "json", "text"]


@dataclass(frozen=True, slots=True)
class LoadedDocuments:
    """Documents in file order; `lines[i]` is the 1-based line documents[i] came from (for a JSON array, its
    1-based position in the array)."""

    documents: list[Document]
    lines: list[int]
    skipped_blank: int


def read_documents(source: str, *, fmt: DocFormat = "auto", text_field: str = "text") -> LoadedDocuments:
    """Read documents from a file path or `-` (stdin).

    JSONL lines hold a string or an object with its text under `text_field`; a `.json` file holds one JSON
    array of such items (any other JSON is refused, naming the formats read). In plain text every non-blank
    line is a document; blank lines are skipped and counted (`skipped_blank`), never silently. Lines end at
    `\n` or `\r\n` only (a form feed or U+2028 inside a line stays in its document); a leading UTF-8 BOM is
    dropped. Bytes that are not UTF-8, lone surrogates and NUL characters are refused naming the line, and
    so is an input with no documents. `auto` picks JSONL for `.jsonl`/`.ndjson` files and for stdin whose
    first non-blank character is `{` or `"`; a JSON array for `.json` files and stdin starting with `[`.
    """
    name = "<stdin>" if source == "-" else source
    raw = decode_text(_read_stdin() if source == "-" else _read_file(source, "documents file"), name)
    if fmt == "auto":
        if source == "-":
            first = raw.lstrip()[:1]
            fmt = "jsonl" if first in ("{", '"') else "json" if first == "[" else "text"
        else:
            fmt = "jsonl" if source.endswith((".jsonl", ".ndjson")) else "json" if source.endswith(".json") else "text"
    if fmt == "json":
        return _read_json_array(raw, name, text_field)
    documents: list[Document] = []
    lines: list[int] = []
    skipped = 0
    for number, line in enumerate(split_lines(raw), start=1):
        if not line.strip():
            skipped += 1
            continue
        if "\x00" in line:
            raise InputError(f"{name}:{number}: holds a NUL character; crossrank reads text, not binary data")
        documents.append(parse_jsonl_line(line, name, number, text_field) if fmt == "jsonl" else line)
        lines.append(number)
    if not documents:
        what = "is empty" if not raw else f"holds no documents, only {skipped} blank line(s)"
        raise InputError(f"{name} {what}; nothing to rerank")
    return LoadedDocuments(documents=documents, lines=lines, skipped_blank=skipped)


def _read_json_array(raw: str, name: str, text_field: str) -> LoadedDocuments:
    """A whole file as one JSON array of strings or objects with `text_field` (what `.json` files hold)."""
    if "\x00" in raw:
        raise InputError(f"{name}: holds a NUL character; crossrank reads text, not binary data")
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(items, list):
        raise InputError(
            f"{name} holds a JSON {type(items).__name__}, not an array; crossrank reads a .json file as an array "
            "of strings or objects with text, a .jsonl file as one document per line, anything else as plain text"
        )
    documents = [
        _document(_unicode_only(item, f"{name} item", position), f"{name} item", position, text_field)
        for position, item in enumerate(items, start=1)
    ]
    if not documents:
        raise InputError(f"{name} holds an empty array; nothing to rerank")
    return LoadedDocuments(documents=documents, lines=list(range(1, len(documents) + 1)), skipped_blank=0)


def read_jsonl_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file (collections, training data), read by
    the same rules as `read_documents`; invalid JSON, a non-object or a lone surrogate names its line."""
    return [(number, item) for number, _, item in stream_jsonl_objects(path)]


def stream_jsonl_objects(
    path: Path, *, start: int = 0, first_line: int = 1
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(line number, byte offset, object) for each non-blank line from byte `start` on, one line in memory at a
    time: UTF-8 (a leading BOM dropped), lines ended by `\n` or `\r\n` only, objects only."""
    _check_file(str(path), "file")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read file {str(path)!r}: {exc.strerror}") from None
    with handle:
        handle.seek(start)
        offset, number = start, first_line
        for raw in handle:
            try:
                line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path} is not UTF-8 text (line {number}: byte 0x{raw[exc.start]:02x} at offset "
                    f"{offset + exc.start})"
                ) from None
            if offset == 0:
                line = line.removeprefix("\ufeff")
            if line.strip():
                item = _parse_json(line, str(path), number)
                if not isinstance(item, dict):
                    raise InputError(f"{path}:{number}: expected a JSON object")
                yield number, offset, item
            offset += len(raw)
            number += 1


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 bytes as text, a leading BOM dropped; anything else is refused naming the line and byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{name} is not UTF-8 text (line {bad_line}: byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.removeprefix("\ufeff")


def split_lines(text: str) -> list[str]:
    """Lines ended by `\n` or `\r\n`, and nothing else (`str.splitlines` also splits at form feeds, vertical
    tabs, `\x1c`-`\x1e`, U+2028 ..., which would shift every later line number)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _read_stdin() -> bytes:
    """Standard input's bytes (a text stream that holds no bytes, as in tests, is encoded back)."""
    buffer = getattr(sys.stdin, "buffer", None)
    return bytes(buffer.read()) if buffer is not None else sys.stdin.read().encode("utf-8", "surrogatepass")


def _check_file(source: str, what: str) -> None:
    path = Path(source)
    if path.is_dir():
        raise InputError(f"{what} {source!r} is a directory; name a .jsonl or text file")
    if not path.exists():
        raise InputError(f"{what} {source!r} does not exist")


def _read_file(source: str, what: str) -> bytes:
    _check_file(source, what)
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {source!r}: {exc.strerror}") from None


def parse_jsonl_line(line: str, name: str, number: int, text_field: str) -> Document:
    """One JSONL line: a string, or an object with a string under `text_field`; errors name file and line."""
    return _document(_parse_json(line, name, number), name, number, text_field)


def _document(item: Any, name: str, number: int, text_field: str) -> Document:
    """A parsed item as a document: a string, or an object with a string under `text_field`."""
    if not isinstance(item, str | dict):
        raise InputError(f"{name}:{number}: expected a JSON string or object, got {type(item).__name__}")
    if isinstance(item, dict) and not isinstance(item.get(text_field), str):
        raise InputError(f"{name}:{number}: object has no string field {text_field!r} (use --text-field)")
    if "\x00" in (item if isinstance(item, str) else item[text_field]):  # a JSON escape spells one
        raise InputError(f"{name}:{number}: holds a NUL character; crossrank reads text, not binary data")
    return item


def _parse_json(line: str, name: str, number: int) -> Any:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{number}: invalid JSON ({exc.msg})") from exc
    return _unicode_only(item, name, number)


def _unicode_only(item: Any, name: str, number: int) -> Any:
    """`item` unless its strings hold a lone surrogate (JSON escapes can spell one; no output or tokenizer can
    encode it)."""
    try:
        json.dumps(item, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{name}:{number}: holds a lone surrogate escape (\\u{ord(exc.object[exc.start]):04x}), not valid Unicode"
        ) from None
    return item
