"""Offline reranking of a file of queries and their candidates: streaming, resumable, on one machine or on Ray.

Input: JSONL rows `{"id"?, "query", "documents": [text | {"id"?, <text_field>: text, ...}]}`, or a TREC run with
the BEIR `corpus.jsonl` and `queries.jsonl` it ranks (converted once into such rows). The rows are cut into
chunks of `chunk_rows` in file order; each chunk's results are written as one part file, atomically, and a
rerun skips the parts that exist, so an interrupted job continues where it stopped. Parts are merged in order
into `results.jsonl` (or `results.run`), so the output is the same whatever ran the chunks, in what order, or
how many times: a pair's score depends on the pair alone (the ONNX backends score one pair per pass).

On Ray (`ray_address`), every chunk is a row of a Ray Data dataset mapped by a pool of actors, each loading the
model once; an actor that dies is restarted and its chunk retried, and a retried chunk rewrites the same part.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from crossrank.corpora import titled, whitespace_rows
from crossrank.documents import stream_jsonl_objects
from crossrank.errors import BackendUnavailable, InputError
from crossrank.outputs import BATCH, check_output, mark_output, write_atomic, write_lines_atomic
from crossrank.progress import progress_bar
from crossrank.ranking import keys_best_first
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
    workers: Workers = Workers(),
    show_progress: bool = False,
    inputs: Sequence[Path] | None = None,
) -> BatchReport:
    """Rerank every row of the JSONL file `rows` into the folder `out` (new, empty, or this job's own; `inputs`,
    default `rows`, are the files it must not lie in or hold)."""
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if top_k is not None and top_k < 1:
        raise InputError(f"top_k must be a positive integer or None, got {top_k}")
    if output not in RESULTS:
        raise InputError(f"output must be 'jsonl' or 'trec', got {output!r}")
    check_output(out, BATCH, inputs=[rows] if inputs is None else inputs)
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, BATCH)
    job = BatchJob(str(rows.resolve()), _sha256(rows), model, text_field, top_k, output, chunk_rows)
    parts = _prepare_parts(out, job)
    starts = chunk_starts(rows, chunk_rows)
    done = {s for s in starts if _part(parts, s).is_file()}
    todo = [(s, offset, line) for s, (offset, line) in starts.items() if s not in done]
    began = time.perf_counter()
    if workers.ray_address is None:
        _run_local(rows, parts, todo, job, show_progress=show_progress)
    else:
        _run_ray(rows, parts, todo, job, workers)
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
            ranked = reranker.rerank(item["query"], documents, top_k=job.top_k, text_field=job.text_field)
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
            _write_part(parts, start, records)
            advance(1)


class _ChunkActor:
    """A Ray Data actor: loads the model once, then scores whole chunks and writes their parts itself."""

    def __init__(self, rows: str, parts: str, job: dict[str, Any]) -> None:
        self.rows, self.parts = Path(rows), Path(parts)
        self.job = _job_from_dict(job)
        self.reranker = self.job.model.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        written = []
        for start, offset, line in zip(batch["start"], batch["offset"], batch["line"], strict=True):
            records, _ = score_chunk(self.reranker, self.rows, int(start), int(offset), int(line), self.job)
            _write_part(self.parts, int(start), records)
            written.append(int(start))
        return {"start": written}


def _run_ray(rows: Path, parts: Path, todo: Sequence[tuple[int, int, int]], job: BatchJob, workers: Workers) -> None:
    """The pending chunks as a Ray Data dataset mapped by a pool of actors. The rows file and
    the output folder must be reachable at the same path from every node (local disk on one machine, a shared
    file system on a cluster)."""
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailable("ray", "ray", "ray") from exc
    if not todo:
        return
    with _ray_session(ray, workers.ray_address, log=parts.parent / RAY_LOG):
        _map_chunks(ray, rows, parts, todo, job, workers)


RAY_LOG = "ray.log"
"""Where Ray's own messages go (in the output folder): its C++ core writes to the process's stderr directly."""


@contextmanager
def _ray_session(ray: Any, address: str | None, *, log: Path) -> Iterator[None]:
    """Ray for the length of one job: started (or joined) here and shut down on every way out, Ctrl-C included,
    so no Ray process outlives the command; Ray's log lines go to `log`, not to the user's terminal. Ctrl-C
    during start-up is held until `ray.init` returns (interrupting it crashed the process) and then raised as
    `KeyboardInterrupt`."""
    started = not ray.is_initialized()
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        if started:
            with _ctrl_c_held():
                ray.init(
                    address=None if address == "local" else address,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    include_dashboard=False,
                )
        yield
    finally:
        try:
            if started:
                ray.shutdown()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Ctrl-C inside the block is remembered, not raised, and raised as `KeyboardInterrupt` when the block ends
    (however it ends). Only in the main thread, where Python handles signals; elsewhere a plain block."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    except Exception:
        if not pressed:
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def _map_chunks(
    ray: Any, rows: Path, parts: Path, todo: Sequence[tuple[int, int, int]], job: BatchJob, workers: Workers
) -> None:
    """Score the pending chunks on Ray Data, one chunk a row, mapped by a pool of `_ChunkActor`s."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # one line per chunk on stderr otherwise
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    threads = max(1, int(workers.cpus_per_actor))
    settings = asdict(job)
    settings["model"] = {**settings["model"], "threads": threads}
    dataset = ray.data.from_items([{"start": s, "offset": o, "line": n} for s, o, n in todo])
    mapped = dataset.map_batches(
        _ChunkActor,
        fn_constructor_kwargs={"rows": str(rows), "parts": str(parts), "job": settings},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers.actors),
        num_cpus=workers.cpus_per_actor,
    )  # Ray Data restarts a dead actor and retries its chunk (max_restarts / max_task_retries default to -1)
    finished = {int(row["start"]) for row in mapped.iter_rows()}
    missing = [s for s, _, _ in todo if s not in finished or not _part(parts, s).is_file()]
    if missing:
        raise RuntimeError(f"Ray finished without chunks starting at rows {missing[:5]}")


def _job_from_dict(data: dict[str, Any]) -> BatchJob:
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


def _part(parts: Path, start: int) -> Path:
    return parts / f"part-{start:012d}.jsonl"


def _write_part(parts: Path, start: int, records: list[dict[str, Any]]) -> None:
    write_atomic(_part(parts, start), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _merge(parts: Path, starts: Sequence[int], results: Path, output: OutputFormat) -> tuple[int, int]:
    """Concatenate the parts in row order into `results` (atomically, one part in memory at a time); (rows,
    results) written."""
    counts = [0, 0]

    def lines() -> Iterator[str]:
        for start in starts:
            for line in _part(parts, start).read_text(encoding="utf-8").splitlines():
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


def rerank_trec(
    run: Path,
    corpus: Path,
    queries: Path,
    out: Path,
    *,
    k: int | None = None,
    model: ModelSettings,
    top_k: int | None = None,
    output: OutputFormat = "trec",
    chunk_rows: int = 64,
    workers: Workers = Workers(),
    show_progress: bool = False,
) -> BatchReport:
    """Rerank a TREC run over a BEIR corpus: its rows are written once into `out/rows.jsonl`, then `rerank_file`."""
    sources = [run, corpus, queries]
    check_output(out, BATCH, inputs=sources)
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, BATCH)
    rows = trec_to_rows(run, corpus, queries, out / "rows.jsonl", k=k)
    return rerank_file(
        rows,
        out,
        model=model,
        top_k=top_k,
        output=output,
        chunk_rows=chunk_rows,
        workers=workers,
        show_progress=show_progress,
        inputs=sources,
    )


def trec_to_rows(run: Path, corpus: Path, queries: Path, out: Path, *, k: int | None = None) -> Path:
    """Write JSONL rows for a TREC run over a BEIR corpus: each query's candidates best first (the best `k`), with
    their ids and "title. text" (`crossrank.corpora.titled`). The corpus and queries are held in memory, the run
    one query at a time (its lines must be grouped by query, as TREC tools write them). Returns `out`."""
    texts = {str(d.get("_id", d.get("id"))): d for _, _, d in stream_jsonl_objects(corpus)}
    query_text = {str(q.get("_id", q.get("id"))): q.get("text") for _, _, q in stream_jsonl_objects(queries)}

    def rows() -> Iterator[str]:
        for qid, ranked in _run_groups(run):
            if not isinstance(query_text.get(qid), str):
                raise InputError(f"{run}: query {qid!r} has no text in {queries}")
            unknown = [d for d in ranked if d not in texts]
            if unknown:
                raise InputError(f"{run}: query {qid!r} ranks document(s) not in {corpus}: {unknown[:3]}")
            documents = [
                {"id": d, "text": titled(str(texts[d].get("title") or ""), str(texts[d].get("text", "")))}
                for d in ranked[:k]
            ]
            yield json.dumps({"id": qid, "query": query_text[qid], "documents": documents}, ensure_ascii=False)

    return write_lines_atomic(out, rows())


def _run_groups(run: Path) -> Iterator[tuple[str, list[str]]]:
    """(query id, document ids best first: by score, ties by id) for each query of a TREC run, in file order."""
    seen: set[str] = set()
    qid: str | None = None
    scores: dict[str, float] = {}
    for number, fields in whitespace_rows(run, "qid Q0 docid rank score tag"):
        try:
            score = float(fields[4])
        except ValueError:
            raise InputError(f"{run}:{number}: score {fields[4]!r} is not a number") from None
        if fields[0] != qid:
            if qid is not None:
                yield qid, keys_best_first(scores)
            if fields[0] in seen:
                raise InputError(f"{run}:{number}: query {fields[0]!r} appears again after other queries")
            qid, scores = fields[0], {}
            seen.add(qid)
        scores[fields[2]] = score
    if qid is not None:
        yield qid, keys_best_first(scores)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
