"""Batch over a TREC run: its rows are written once from the run and the BEIR corpus and queries it ranks, then
reranked as any rows file (`crossrank.batch.rows.rerank_file`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from crossrank.batch.rows import BatchReport, OutputFormat, Workers, rerank_file
from crossrank.corpora import titled, whitespace_rows
from crossrank.documents import stream_jsonl_objects
from crossrank.errors import InputError
from crossrank.outputs import BATCH, check_output, mark_output, write_lines_atomic
from crossrank.ranking import keys_best_first
from crossrank.settings import ModelSettings


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
    ranked_input: bool = False,
    workers: Workers | None = None,
    show_progress: bool = False,
) -> BatchReport:
    """Rerank a TREC run over a BEIR corpus: its rows are checked whole, then written once into
    `out/rows.jsonl` (nothing is created for a run that cannot be read), then `rerank_file`."""
    sources = [run, corpus, queries]
    check_output(out, BATCH, inputs=sources)
    rows_of = trec_rows(run, corpus, queries, k=k)
    if not sum(1 for _ in rows_of()):  # every row read once, so a bad one is refused before anything exists
        raise InputError(f"{run} ranks no documents")
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, BATCH)
    rows = write_lines_atomic(out / "rows.jsonl", rows_of())
    return rerank_file(
        rows,
        out,
        model=model,
        top_k=top_k,
        output=output,
        chunk_rows=chunk_rows,
        ranked_input=ranked_input,
        workers=workers or Workers(),
        show_progress=show_progress,
        inputs=sources,
    )


def trec_to_rows(run: Path, corpus: Path, queries: Path, out: Path, *, k: int | None = None) -> Path:
    """Write `trec_rows` into `out` (atomically). Returns `out`."""
    return write_lines_atomic(out, trec_rows(run, corpus, queries, k=k)())


def trec_rows(run: Path, corpus: Path, queries: Path, *, k: int | None = None) -> Callable[[], Iterator[str]]:
    """JSONL rows for a TREC run over a BEIR corpus, as a function that yields them (call it once to check, once
    to write): each query's candidates best first (the best `k`), with their ids and "title. text"
    (`crossrank.corpora.titled`). The corpus and queries are held in memory, the run read one query at a time (its
    lines must be grouped by query, as TREC tools write them)."""
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

    return rows


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
