"""Training groups: one query, one positive passage, n negatives.

Sources: a BEIR folder's train split (negatives mined with BM25 from its corpus), JSONL of
`{query, positive, negatives?}`, or labelled pairs (TSV with a header, or JSONL) of query, passage, label
(negatives are the query's label-0 passages, topped up with BM25-mined ones from the pool of all passages).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crossrank.documents import read_jsonl_objects
from crossrank.errors import InputError


@dataclass(frozen=True, slots=True)
class Group:
    """One training example for a listwise or pointwise loss: the positive comes first."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    source: str
    teacher: tuple[float, ...] | None = None  # a teacher's scores for (positive, *negatives), for distillation


@dataclass(frozen=True, slots=True)
class _Raw:
    query: str
    positives: list[str]
    negatives: list[str]


def load_groups(
    spec: str, *, negatives: int, seed: int, split: str = "train", skip_malformed: bool = False
) -> tuple[list[Group], dict[str, int]]:
    """Read one source (a BEIR folder, or a .jsonl/.tsv file) into groups with `negatives` negatives each.

    A malformed table row is an error naming its line, unless `skip_malformed` (then it is counted).
    Returns the groups and counts of what was read, skipped and dropped (queries without a positive).
    """
    skipped: list[int] = []
    path = Path(spec)
    if path.is_dir():
        raws, pool = _beir(path, split)
        name = f"{path.name}/{split}"
    elif path.is_file():
        raws, pool = _jsonl_or_tsv(path, skipped if skip_malformed else None)
        name = path.name
    else:
        raise InputError(f"training data {spec!r} does not exist")
    rng = random.Random(seed)
    mined = _mine(raws, pool, depth=max(negatives * 3, 30))
    groups: list[Group] = []
    dropped = 0
    for raw, candidates in zip(raws, mined, strict=True):
        if not raw.positives:
            dropped += 1
            continue
        positives = set(raw.positives)
        own = [n for n in dict.fromkeys(raw.negatives) if n not in positives]
        extra = [c for c in candidates if c not in positives and c not in own]
        for positive in raw.positives:
            chosen = rng.sample(own, min(negatives, len(own)))
            chosen += extra[: negatives - len(chosen)]
            if len(chosen) < negatives:
                continue  # too small a pool to fill the group
            groups.append(Group(raw.query, positive, tuple(chosen), name))
    stats = {"queries": len(raws), "skipped_malformed_rows": len(skipped), "dropped_no_positive": dropped}
    return groups, {**stats, "groups": len(groups)}


def load_sources(
    specs: Sequence[str],
    *,
    negatives: int,
    seed: int,
    split: str = "train",
    skip_malformed: bool = False,
    limit: int | None = None,
) -> tuple[list[Group], dict[str, dict[str, int]]]:
    """Every source's groups (`load_groups`), each source cut to a seeded sample of at most `limit` groups.

    Returns the groups, source after source, and per source what `load_groups` counted plus `used`.
    """
    if limit is not None and limit < 1:
        raise InputError(f"limit must be a positive number of groups per source, got {limit}")
    groups: list[Group] = []
    stats: dict[str, dict[str, int]] = {}
    for spec in specs:
        found, counts = load_groups(spec, negatives=negatives, seed=seed, split=split, skip_malformed=skip_malformed)
        if limit is not None and len(found) > limit:
            found = random.Random(seed).sample(found, limit)
        stats[spec] = {**counts, "used": len(found)}
        groups += found
    return groups, stats


def _beir(folder: Path, split: str) -> tuple[list[_Raw], list[str]]:
    from crossrank.corpora import load_beir

    data = load_beir(folder, split=split)
    raws = [
        _Raw(
            query=data.queries[qid],
            positives=[data.corpus[d].full_text for d, g in judged.items() if g > 0],
            negatives=[],
        )
        for qid, judged in data.qrels.items()
    ]
    return raws, [p.full_text for p in data.corpus.values()]


_QUERY = ("query", "question")
_PASSAGE = ("passage", "sentence", "text", "document")
_LABEL = ("label", "relevance", "score")


def _jsonl_or_tsv(path: Path, skipped: list[int] | None) -> tuple[list[_Raw], list[str]]:
    by_query: dict[str, _Raw] = {}
    if path.suffix in (".jsonl", ".ndjson"):
        rows = [(number, _normalise(item)) for number, item in read_jsonl_objects(path)]
    elif path.suffix in (".tsv", ".csv"):
        rows = _read_table(path, skipped)
    else:
        raise InputError(f"{path}: training data must be a BEIR folder, .jsonl or .tsv")
    for number, row in rows:
        query = row.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InputError(f"{path}:{number}: missing or empty query")
        raw = by_query.setdefault(query, _Raw(query, [], []))
        if "positive" in row:
            raw.positives.append(_text(row["positive"], path, number, "positive"))
            negatives = row.get("negatives") or []
            if not isinstance(negatives, list):
                raise InputError(f"{path}:{number}: 'negatives' must be a list of strings")
            raw.negatives.extend(_text(neg, path, number, "negatives") for neg in negatives)
        else:
            passage = _text(row.get("passage"), path, number, "passage")
            try:
                label = float(row.get("label"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InputError(f"{path}:{number}: label {row.get('label')!r} is not a number") from None
            (raw.positives if label > 0 else raw.negatives).append(passage)
    raws = list(by_query.values())
    pool = list(dict.fromkeys(p for r in raws for p in (*r.positives, *r.negatives)))
    return raws, pool


def _text(value: object, path: Path, number: int, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{path}:{number}: missing or empty {field!r}")
    return value


def _read_table(path: Path, skipped: list[int] | None) -> list[tuple[int, dict[str, object]]]:
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ",", quoting=csv.QUOTE_NONE)
        if reader.fieldnames is None:
            raise InputError(f"{path}: empty file")
        width = len(reader.fieldnames)
        for number, row in enumerate(reader, start=2):
            if None in row or None in row.values():
                if skipped is None:
                    raise InputError(f"{path}:{number}: expected {width} fields; fix the row or pass --skip-malformed")
                skipped.append(number)
                continue
            rows.append((number, _normalise(dict(row))))
    if rows and not {"query", "passage", "label"} <= set(rows[0][1]):
        raise InputError(f"{path}: needs a header naming query/question, passage/sentence and label columns")
    return rows


def _normalise(row: dict[str, object]) -> dict[str, object]:
    """Map common column names (Question, Sentence, Label, ...) onto query / passage / label."""
    lowered = {str(k).lower(): v for k, v in row.items()}
    out = dict(lowered)
    for target, names in (("query", _QUERY), ("passage", _PASSAGE), ("label", _LABEL)):
        for name in names:
            if name in lowered:
                out[target] = lowered[name]
                break
    return out


def _mine(raws: Sequence[_Raw], pool: list[str], *, depth: int) -> list[list[str]]:
    """BM25 hard negatives: each query's top-`depth` passages from the pool."""
    if not pool:
        return [[] for _ in raws]
    from crossrank.retrieval.bm25 import BM25Retriever

    bm25 = BM25Retriever.build(pool)
    hits = bm25.retrieve([r.query for r in raws], k=depth)
    return [[pool[p] for p in h.positions.tolist()] for h in hits]
