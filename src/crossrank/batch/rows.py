"""Offline reranking of a file of rows: chunks in file order, one part file per chunk written atomically, a rerun
skipping the parts that exist, the parts merged in order into `results.jsonl` (or `results.run`)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from crossrank.documents import stream_jsonl_objects
from crossrank.errors import InputError
from crossrank.outputs import BATCH, check_output, mark_output, write_atomic, write_lines_atomic
from crossrank.progress import progress_bar
from crossrank.settings import ModelSettings

OutputFormat = Literal["jsonl", "trec"]
RESULTS = {"jsonl": "results.jsonl", "trec": "results.run"}


@dataclass(frozen=True, slots=True)
class BatchJob:
    """Everything that shapes a job's output; kept in `job.json`, so a rerun knows whether its parts still hold."""

    rows_file: str
    rows_sha256: str
    model: ModelSettings
    text_field: str
    top_k: int | None
    output: OutputFormat
    chunk_rows: int
    ranked_input: bool = False  # each row's documents come best first from a first stage, and that order counts


@dataclass(frozen=True, slots=True)
class Workers:
    """Where chunks are scored: here (`ray_address` None), or on Ray by `actors` actors of `cpus_per_actor` CPUs
    ("local" starts a Ray on this machine; else the address of a running cluster)."""

    ray_address: str | None = None
    actors: int = 1
    cpus_per_actor: float = 1.0


@dataclass(frozen=True, slots=True)
class BatchReport:
    rows: int
    chunks: int
    chunks_done_before: int
    results: int  # result records written (documents ranked, after top_k)
    seconds: float
    path: Path


def rerank_file(
    rows: Path,
    out: Path,
    *,
    model: ModelSettings,
    text_field: str = "text",
    top_k: int | None = None,
    output: OutputFormat = "jsonl",
    chunk_rows: int = 64,
    ranked_input: bool = False,
    workers: Workers = Workers(),
    show_progress: bool = False,
    inputs: Sequence[Path] | None = None,
) -> BatchReport:
    """Rerank every row of the JSONL file `rows` into the folder `out` (new, empty, or this job's own; `inputs`,
    default `rows`, are the files it must not lie in or hold). Every row is checked before anything is written.
    `ranked_input`: each row's documents are a first stage's ranking (`Reranker.rerank`'s option)."""
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if top_k is not None and top_k < 1:
        raise InputError(f"top_k must be a positive integer or None, got {top_k}")
    if output not in RESULTS:
        raise InputError(f"output must be 'jsonl' or 'trec', got {output!r}")
    check_output(out, BATCH, inputs=[rows] if inputs is None else inputs)
    starts = chunk_starts(rows, chunk_rows)  # a bad row is refused before the folder exists
    if workers.ray_address not in (None, "local", "auto"):
        from crossrank.batch.on_ray import check_reachable

        check_reachable(workers.ray_address)  # so is a cluster that does not answer
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, BATCH)
    job = BatchJob(str(rows.resolve()), _sha256(rows), model, text_field, top_k, output, chunk_rows, ranked_input)
    parts = _prepare_parts(out, job)
    done = {s for s in starts if part_path(parts, s).is_file()}
    todo = [(s, offset, line) for s, (offset, line) in starts.items() if s not in done]
    began = time.perf_counter()
    if workers.ray_address is None:
        _run_local(rows, parts, todo, job, show_progress=show_progress)
    else:
        from crossrank.batch.on_ray import run_ray

        run_ray(rows, parts, todo, job, workers)
    path = out / RESULTS[output]
    total_rows, results = _merge(parts, sorted(starts), path, output)
    return BatchReport(total_rows, len(starts), len(done), results, time.perf_counter() - began, path)


def chunk_starts(rows: Path, chunk_rows: int) -> dict[int, tuple[int, int]]:
    """Row index of each chunk's first row -> (its byte offset, its line number); reads the file once, validating
    every row, keeping one entry per chunk."""
    starts: dict[int, tuple[int, int]] = {}
    count = 0
    for number, offset, item in stream_jsonl_objects(rows):
        check_row(item, f"{rows}:{number}")
        if count % chunk_rows == 0:
            starts[count] = (offset, number)
        count += 1
    if not count:
        raise InputError(f"{rows} holds no rows")
    return starts


def check_row(item: dict[str, Any], where: str) -> None:
    """A row names a query (text) and its documents (a list); an id, if given, is a string or a number."""
    if not isinstance(item.get("query"), str):
        raise InputError(f"{where}: needs a string 'query'")
    if not isinstance(item.get("documents"), list):
        raise InputError(f"{where}: needs a list 'documents'")
    if "id" in item and not isinstance(item["id"], str | int):
        raise InputError(f"{where}: 'id' must be a string or a number")


def score_chunk(
    reranker: Any, rows: Path, start: int, offset: int, line: int, job: BatchJob
) -> tuple[list[dict[str, Any]], int]:
    """Rerank the chunk of rows that starts at row `start` (byte `offset`, line `line`): its result records and
    the number of pairs scored."""
    records: list[dict[str, Any]] = []
    pairs = 0
    stream = stream_jsonl_objects(rows, start=offset, first_line=line)
    for index, (number, _, item) in zip(range(start, start + job.chunk_rows), stream, strict=False):
        documents = item["documents"]
        try:
            ranked = reranker.rerank(
                item["query"], documents, top_k=job.top_k, text_field=job.text_field, ranked_input=job.ranked_input
            )
        except InputError as exc:
            raise InputError(f"{rows}:{number}: {exc}") from None
        pairs += len(documents)
        records.append(
            {
                "row": index,
                "id": item.get("id", index),
                "results": [_result(r.index, r.score, documents[r.index]) for r in ranked],
            }
        )
    return records, pairs


def _result(index: int, score: float, document: Any) -> dict[str, Any]:
    found = {"index": index, "score": score}
    if isinstance(document, dict) and "id" in document:
        found["id"] = document["id"]
    return found


def _run_local(
    rows: Path, parts: Path, todo: Sequence[tuple[int, int, int]], job: BatchJob, *, show_progress: bool
) -> None:
    reranker = job.model.load()
    with progress_bar(len(todo), "chunks", enabled=show_progress) as advance:
        for start, offset, line in todo:
            records, _ = score_chunk(reranker, rows, start, offset, line, job)
            write_part(parts, start, records)
            advance(1)


def job_from_dict(data: dict[str, Any]) -> BatchJob:
    """A job from its JSON form (what travels to a Ray actor)."""
    return BatchJob(**{**data, "model": ModelSettings(**data["model"])})


def _prepare_parts(out: Path, job: BatchJob) -> Path:
    """The job's part folder: kept when `job.json` describes the same job, emptied when it describes another."""
    parts = out / "parts"
    described = json.dumps(asdict(job), sort_keys=True)
    job_file = out / "job.json"
    previous = job_file.read_text(encoding="utf-8") if job_file.is_file() else None
    if previous is not None and json.dumps(json.loads(previous), sort_keys=True) != described:
        for stale in parts.glob("part-*.jsonl"):
            stale.unlink()
    parts.mkdir(exist_ok=True)
    write_atomic(job_file, json.dumps(asdict(job), indent=2) + "\n")
    return parts


def part_path(parts: Path, start: int) -> Path:
    """The part file of the chunk starting at row `start`."""
    return parts / f"part-{start:012d}.jsonl"


def write_part(parts: Path, start: int, records: list[dict[str, Any]]) -> None:
    """Write a chunk's result records as its part file, atomically."""
    write_atomic(part_path(parts, start), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _merge(parts: Path, starts: Sequence[int], results: Path, output: OutputFormat) -> tuple[int, int]:
    """Concatenate the parts in row order into `results` (atomically, one part in memory at a time); (rows,
    results) written."""
    counts = [0, 0]

    def lines() -> Iterator[str]:
        for start in starts:
            for line in part_path(parts, start).read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                counts[0] += 1
                counts[1] += len(record["results"])
                if output == "jsonl":
                    yield line
                else:
                    yield from _trec_lines(record)

    write_lines_atomic(results, lines())
    return counts[0], counts[1]


def _trec_lines(record: dict[str, Any]) -> Iterator[str]:
    """One row's results as TREC run lines (`qid Q0 docid rank score crossrank`); a document without an id is
    named by its position in the row."""
    for rank, r in enumerate(record["results"], start=1):
        yield f"{record['id']} Q0 {r.get('id', r['index'])} {rank} {r['score']:.9g} crossrank"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
