"""Document collections and their readers: test collections (BEIR, Cranfield's SMART layout) for evaluation and
training, and a user's folder of text / HTML files or JSONL for the two-stage index.

Every reader validates what it reads and names the file and line of anything malformed. `titled` is the one rule
for what a model reads of a document with a title.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from crossrank.documents import read_jsonl_objects
from crossrank.errors import InputError


def titled(title: str, text: str) -> str:
    """What a model reads of a document: "title. text", or the text alone where there is no title."""
    return f"{title}. {text}" if title else text


@dataclass(frozen=True, slots=True)
class CorpusDocument:
    """A test collection's document: `full_text` is what the models read (title included where the source
    repeats it)."""

    title: str
    text: str

    @property
    def full_text(self) -> str:
        return titled(self.title, self.text)


@dataclass(frozen=True)
class Dataset:
    """A test collection: corpus, queries, graded judgements (gain > 0 means relevant)."""

    name: str
    corpus: dict[str, CorpusDocument]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    checksum: str

    def judged_queries(self) -> dict[str, str]:
        """Queries with at least one relevant document, in file order."""
        return {q: text for q, text in self.queries.items() if any(g > 0 for g in self.qrels.get(q, {}).values())}


def load_dataset(folder: str | Path, *, split: str = "test") -> Dataset:
    """Load a BEIR folder (`corpus.jsonl`) or a Cranfield SMART folder (`cran.all.1400`)."""
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"dataset folder {str(folder)!r} does not exist")
    if (path / "corpus.jsonl").exists():
        return load_beir(path, split=split)
    if (path / "cran.all.1400").exists():
        return load_cranfield(path)
    raise InputError(f"{path} is neither a BEIR folder (corpus.jsonl) nor Cranfield (cran.all.1400)")


def _checksum(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _require(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"missing file: {path}")
    return path


def load_beir(folder: Path, *, split: str = "test") -> Dataset:
    """`corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`), `qrels/<split>.tsv`."""
    corpus_path = _require(folder / "corpus.jsonl")
    queries_path = _require(folder / "queries.jsonl")
    qrels_path = _require(folder / "qrels" / f"{split}.tsv")
    corpus: dict[str, CorpusDocument] = {}
    for number, item in _jsonl(corpus_path, ("_id", "text")):
        title = item.get("title") or ""
        if not isinstance(title, str):
            raise InputError(f"{corpus_path}:{number}: 'title' must be a string")
        corpus[str(item["_id"])] = CorpusDocument(title=title, text=item["text"])
    all_queries = {str(item["_id"]): item["text"] for _, item in _jsonl(queries_path, ("_id", "text"))}
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\n").split("\t")
            if number == 1 and fields[0] == "query-id":
                continue
            if not line.strip():
                continue
            if len(fields) != 3:
                raise InputError(f"{qrels_path}:{number}: expected 3 tab-separated fields, got {len(fields)}")
            qid, doc_id, grade = fields
            qrels.setdefault(qid, {})[doc_id] = _grade(grade, qrels_path, number)
    _check_ids(qrels, all_queries, corpus, qrels_path)
    queries = {q: text for q, text in all_queries.items() if q in qrels}
    files = [corpus_path, queries_path, qrels_path]
    return Dataset(
        name=f"{folder.name}/{split}", corpus=corpus, queries=queries, qrels=qrels, checksum=_checksum(files)
    )


def _jsonl(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    rows = read_jsonl_objects(path)
    for number, item in rows:
        for name in required:
            if not isinstance(item.get(name), str | int) or (name == "text" and not isinstance(item[name], str)):
                raise InputError(f"{path}:{number}: missing or invalid {name!r}")
    return rows


def _grade(text: str, path: Path, number: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{path}:{number}: relevance grade {text!r} is not an integer") from None


def _check_ids(
    qrels: dict[str, dict[str, int]], queries: dict[str, str], corpus: dict[str, CorpusDocument], path: Path
) -> None:
    for qid, docs in qrels.items():
        if qid not in queries:
            raise InputError(f"{path}: judgements name query {qid!r}, which is not among the queries")
        unknown = [d for d in docs if d not in corpus]
        if unknown:
            raise InputError(f"{path}: judgements for query {qid!r} name unknown document id(s): {unknown[:5]}")


def load_cranfield(folder: Path) -> Dataset:
    """Cranfield 1400 in SMART format.

    The n-th query of `cran.qry` is query n of `cranqrel` (the file's own `.I` numbers skip values).
    Grades follow ir_datasets: 1..4 are gains, -1 (no interest) is not relevant (gain 0). Documents use
    the `.W` field, which already opens with the title.
    """
    docs_path = _require(folder / "cran.all.1400")
    queries_path = _require(folder / "cran.qry")
    qrels_path = _require(folder / "cranqrel")
    corpus = {
        doc_id: CorpusDocument(title="", text=fields.get("W", ""))
        for doc_id, fields in _smart_records(docs_path).items()
    }
    queries = {str(n): fields.get("W", "") for n, fields in enumerate(_smart_records(queries_path).values(), start=1)}
    qrels: dict[str, dict[str, int]] = {}
    for number, (qid, doc_id, grade_text) in whitespace_rows(qrels_path, "query doc grade"):
        grade = _grade(grade_text, qrels_path, number)
        if grade not in (-1, 1, 2, 3, 4):
            raise InputError(f"{qrels_path}:{number}: grade {grade} is outside Cranfield's -1, 1..4")
        qrels.setdefault(qid, {})[doc_id] = max(grade, 0)
    _check_ids(qrels, queries, corpus, qrels_path)
    files = [docs_path, queries_path, qrels_path]
    return Dataset(name="cranfield", corpus=corpus, queries=queries, qrels=qrels, checksum=_checksum(files))


def whitespace_rows(path: Path, layout: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank line of a whitespace-separated file (qrels, TREC runs), which must
    have as many fields as `layout` names ("query doc grade"); anything else names its line."""
    width = len(layout.split())
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != width:
                raise InputError(f"{path}:{number}: expected '{layout}', got {len(fields)} fields")
            yield number, fields


def _smart_records(path: Path) -> dict[str, dict[str, str]]:
    """`.I id` records with `.X` fields, each field running to the next line starting with a marker."""
    records: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    field: str | None = None
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith(".I"):
                parts = line.split()
                if len(parts) != 2:
                    raise InputError(f"{path}:{number}: malformed record marker {line.strip()!r}")
                if parts[1] in records:
                    raise InputError(f"{path}:{number}: duplicate record id {parts[1]}")
                current = {}
                records[parts[1]] = current
                field = None
            elif len(line) >= 2 and line[0] == "." and line[1].isupper() and line[2:].strip() == "":
                if current is None:
                    raise InputError(f"{path}:{number}: field {line.strip()} before any .I record")
                field = line[1]
                current[field] = []
            elif current is not None and field is not None:
                current[field].append(line.strip())
            elif line.strip():
                raise InputError(f"{path}:{number}: text outside any field")
    return {rid: {k: " ".join(v).strip() for k, v in fields.items()} for rid, fields in records.items()}


SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True, slots=True)
class SourceDocument:
    doc_id: str
    source: str
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


EMPTY = "empty"
"""The reason given for a skipped file that holds no text (empty, blank, or HTML with no text)."""
OTHER_TYPE = "not a file type crossrank reads"
"""The reason given for a skipped file whose type is not one of `SUFFIXES` (a PDF, an image)."""


def read_collection(path: Path, *, encoding: str = "utf-8") -> tuple[list[SourceDocument], list[tuple[str, str]]]:
    """Documents, and (source, reason) for every file of a folder that was not read: another file type
    (`OTHER_TYPE`), text that is not in `encoding`, or no text at all (`EMPTY`: an empty passage would only take
    a place in rankings). Hidden files and folders are passed over. A JSONL file's records are all kept, as the
    evaluation harness keeps them (their ids may be judged)."""
    try:
        "".encode(encoding)
    except LookupError:
        raise InputError(f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    if path.is_file() and path.suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path), []
    if not path.is_dir():
        raise InputError(f"{path} is neither a folder of text files nor a .jsonl file")
    documents: list[SourceDocument] = []
    skipped: list[tuple[str, str]] = []
    files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
    for file in files:
        relative = str(file.relative_to(path))
        if file.suffix.lower() not in SUFFIXES:
            skipped.append((relative, OTHER_TYPE))
            continue
        try:
            raw = file.read_bytes()
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            skipped.append((relative, f"not {encoding} text ({exc.reason} at byte {exc.start}; see --encoding)"))
            continue
        except OSError as exc:
            skipped.append((relative, exc.strerror or str(exc)))
            continue
        if file.suffix.lower() in (".html", ".htm"):
            text = html_text(text)
        if "\x00" in text:
            skipped.append((relative, "holds a NUL character (binary data, or UTF-16 text)"))
            continue
        if not text.strip():
            skipped.append((relative, EMPTY))
            continue
        fingerprint = hashlib.sha256(raw + encoding.encode()).hexdigest()[:16]  # other bytes or reading: new text
        documents.append(SourceDocument(relative, relative, "", text, fingerprint))
    return documents, skipped


def _hidden(relative: Path) -> bool:
    """A dot-file or anything inside a dot-folder (`.git/`, `.DS_Store`): never a user's document."""
    return any(part.startswith(".") for part in relative.parts)


def _read_jsonl(path: Path) -> list[SourceDocument]:
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
        if "\x00" in text:
            raise InputError(f"{path}:{number}: holds a NUL character; crossrank reads text, not binary data")
        title = item.get("title") or ""
        metadata = {k: v for k, v in item.items() if k not in ("id", "_id", "text", "title")}
        fingerprint = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:16]
        documents.append(SourceDocument(doc_id, f"{path.name}:{number}", str(title), text, fingerprint, metadata))
    return documents


def wikiqa_passages(path: Path) -> list[tuple[str, str]]:
    """(id, passage) from a WikiQA file's Wikipedia sentences: each question's candidate sentences, consecutive
    ones joined to at least 45 words (web-length passages); the id is the question's id and the passage's number.
    The questions themselves are not read."""
    groups: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            groups.setdefault(fields[0], []).append(detokenize(fields[-2]))  # 13 rows carry document columns too
    passages: dict[str, str] = {}
    for question_id, sentences in groups.items():
        current: list[str] = []
        for sentence in sentences:
            current.append(sentence)
            if len(" ".join(current).split()) >= 45:
                passages.setdefault(" ".join(current), f"{question_id}-p{len(passages)}")
                current = []
    return [(doc_id, text) for text, doc_id in passages.items()]


def detokenize(text: str) -> str:
    """WikiQA's and SelQA's sentences are tokenized (`word ,` / `( x )`); join the punctuation back."""
    text = re.sub(r"\s+([,.;:!?%)\]])", r"\1", text)
    return re.sub(r"([(\[])\s+", r"\1", text).replace(" 's", "'s")
