"""The two-stage index on disk: passages in SQLite, BM25 (bm25s) and a memory-mapped embedding matrix, and a
manifest of models and settings. Builds go to a temporary folder that replaces the old index only when
complete, so an interrupted build leaves the previous index working. A rebuild re-embeds only passages of
documents that changed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crossrank.corpora import read_collection
from crossrank.errors import IndexUnusable, InputError
from crossrank.fusion import fuse_with_first_stage
from crossrank.outputs import INDEX, check_output, mark_output, new_folder_beside, replace_folder
from crossrank.retrieval.bm25 import BM25Retriever
from crossrank.retrieval.dense import DenseRetriever, Embedder
from crossrank.retrieval.hybrid import HybridRetriever
from crossrank.retrieval.passages import Chunk, split_passages
from crossrank.types import Hits

FORMAT_VERSION = 1
FirstStage = Literal["bm25", "dense", "hybrid"]


@dataclass(frozen=True, slots=True)
class BuildReport:
    documents: int
    passages: int
    embedded: int
    reused: int
    skipped: list[tuple[str, str]]
    seconds: float


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One passage in the final order, with where the first stage had put it.

    `score` orders the hits: the reranker's score, the fused score with `fuse`, the first stage's without a
    reranker; `rerank_score` is the reranker's own score whenever one ran.
    """

    rank: int
    score: float
    first_stage_rank: int
    first_stage_score: float
    doc_id: str
    source: str
    passage_number: int
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    rerank_score: float | None = None


def fuses(reranker: Any, fuse: bool | None) -> bool:
    """Whether `Index.search` fuses: as asked, or (`fuse` None) when `reranker` is a built-in crossrank model."""
    if fuse is not None:
        return fuse
    return reranker is not None and bool(getattr(reranker, "built_in", False))


class Index:
    """Open with `Index.open(path)`, build with `Index.build(docs, out)`."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        chunks: list[Chunk],
        bm25: BM25Retriever,
        dense: DenseRetriever | None,
    ) -> None:
        self.path, self.manifest, self.chunks, self.bm25, self.dense = path, manifest, chunks, bm25, dense

    @classmethod
    def build(
        cls,
        docs: str | Path,
        out: str | Path,
        *,
        passage_words: int = 200,
        overlap_words: int = 40,
        dense: bool = True,
        encoding: str = "utf-8",
        cache_dir: Path | None = None,
        show_progress: bool = False,
    ) -> BuildReport:
        started = time.perf_counter()
        if passage_words < 8 or not 0 <= overlap_words < passage_words:
            raise InputError("passage_words must be >= 8 and overlap_words between 0 and passage_words - 1")
        out = check_output(Path(out), INDEX, inputs=[Path(docs)])
        documents, skipped = read_collection(Path(docs), encoding=encoding)
        chunks = [c for d in documents for c in split_passages(d, words=passage_words, overlap=overlap_words)]
        if not any(c.text for c in chunks):
            raise InputError(f"{docs}: no readable text to index")
        settings = {
            "passage_words": passage_words,
            "overlap_words": overlap_words,
            "stemmer": "english",
            "stopwords": "en",
        }
        vectors, reused = None, 0
        embedder = Embedder(cache_dir=cache_dir) if dense else None
        if embedder is not None:
            vectors, reused = _vectors(out, chunks, settings, embedder, show_progress=show_progress)
        bm25 = BM25Retriever.build([c.full_text for c in chunks], show_progress=show_progress)
        manifest = {
            "format": FORMAT_VERSION,
            "embedder": embedder.name if embedder else None,
            "settings": settings,
            "documents": len(documents),
            "passages": len(chunks),
            "skipped": [{"source": s, "reason": r} for s, r in skipped],
            "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = new_folder_beside(out)
        try:
            write_passages(tmp / "passages.sqlite", chunks)
            bm25.save(tmp / "bm25")
            if vectors is not None:
                np.save(tmp / "vectors.npy", vectors)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
            mark_output(tmp, INDEX)
            replace_folder(tmp, out, INDEX)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        embedded = 0 if vectors is None else len(chunks) - reused
        return BuildReport(len(documents), len(chunks), embedded, reused, skipped, time.perf_counter() - started)

    @classmethod
    def open(cls, path: str | Path, *, cache_dir: Path | None = None) -> Index:
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise IndexUnusable(f"{path} is not a crossrank index (no manifest.json); build one with crossrank index")
        try:
            manifest = json.loads(manifest_path.read_text())
            chunks = read_passages(path / "passages.sqlite")
            settings = manifest["settings"]
            bm25 = BM25Retriever.load(
                path / "bm25", size=len(chunks), stemmer=settings["stemmer"], stopwords=settings["stopwords"]
            )
        except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
            raise IndexUnusable(
                f"{path} is corrupt ({type(exc).__name__}: {exc}); rebuild it with crossrank index"
            ) from exc
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexUnusable(
                f"{path} has index format {manifest.get('format')}, this crossrank reads {FORMAT_VERSION}"
            )
        if manifest["passages"] != len(chunks):
            raise IndexUnusable(
                f"{path} is corrupt: the manifest counts {manifest['passages']} passages, the store holds {len(chunks)}"
            )
        dense = None
        if manifest.get("embedder"):
            embedder = Embedder(cache_dir=cache_dir)
            if embedder.name != manifest["embedder"]:
                raise IndexUnusable(
                    f"{path} was built with embedding model {manifest['embedder']!r}, not {embedder.name!r}; rebuild it"
                )
            matrix = np.load(path / "vectors.npy", mmap_mode="r")
            if matrix.shape[0] != len(chunks):
                raise IndexUnusable(f"{path} is corrupt: {matrix.shape[0]} vectors for {len(chunks)} passages")
            dense = DenseRetriever(matrix, embedder=embedder)
        return cls(path, manifest, chunks, bm25, dense)

    @property
    def default_first_stage(self) -> FirstStage:
        """hybrid (BM25 and dense fused) where the index holds embeddings, else bm25."""
        return "bm25" if self.dense is None else "hybrid"

    def retrieve(self, queries: Sequence[str], *, k: int, first_stage: FirstStage | None = None) -> list[Hits]:
        """First-stage candidates (passage positions) for each query; `first_stage` None: `default_first_stage`."""
        first_stage = first_stage or self.default_first_stage
        if first_stage == "bm25":
            return self.bm25.retrieve(queries, k=k)
        if self.dense is None:
            raise InputError(
                f"{self.path} was built without embeddings (--no-dense); search it with first stage bm25 "
                f"(--first-stage bm25), not {first_stage!r}"
            )
        if first_stage == "dense":
            return self.dense.retrieve(queries, k=k)
        if first_stage == "hybrid":
            return HybridRetriever([self.bm25, self.dense]).retrieve(queries, k=k)
        raise InputError(f"unknown first stage {first_stage!r}; choose bm25, dense or hybrid")

    def search(
        self,
        query: str,
        *,
        k: int = 100,
        top_k: int = 5,
        first_stage: FirstStage | None = None,
        reranker: Any = None,
        fuse: bool | None = None,
    ) -> list[SearchHit]:
        """Retrieve `k` passages (`first_stage` None: `default_first_stage`), rerank them (unless `reranker` is
        None) and return the best `top_k`.

        With `fuse`, the final order is the reranker's fused with the first stage's by reciprocal rank: a hedge
        for a reranker that is weak on this collection (see the README's evaluation tables). `fuse` None fuses
        exactly when the reranker is one of crossrank's built-in models: they were trained on little data and can
        rank below the first stage out of their domain, and fused they were never significantly below it.
        """
        if not query.strip():
            raise InputError("query is empty")
        fuse = fuses(reranker, fuse)
        if fuse and reranker is None:
            raise InputError("fuse combines the reranker's order with the first stage's: it needs a reranker")
        (hits,) = self.retrieve([query], k=k, first_stage=first_stage)
        candidates = hits.positions.tolist()
        first_scores = hits.scores.tolist()
        rerank_scores: dict[int, float] = {}
        if reranker is None:
            order = [(i, float(s)) for i, s in enumerate(first_scores)]
        else:
            ranked = reranker.rerank(
                query, [self.chunks[p].full_text for p in candidates], return_documents=False, ranked_input=True
            )
            rerank_scores = {r.index: r.score for r in ranked}
            order = [(r.index, r.score) for r in ranked]
            if fuse:
                order = fuse_with_first_stage([i for i, _ in order], list(range(len(candidates))))
        out = []
        for rank, (i, score) in enumerate(order[:top_k], start=1):
            chunk = self.chunks[candidates[i]]
            out.append(
                SearchHit(
                    rank,
                    score,
                    i + 1,
                    float(first_scores[i]),
                    chunk.doc_id,
                    chunk.source,
                    chunk.passage_number,
                    chunk.title,
                    chunk.text,
                    chunk.metadata,
                    rerank_scores.get(i),
                )
            )
        return out


def _vectors(
    out: Path, chunks: list[Chunk], settings: dict[str, Any], embedder: Embedder, *, show_progress: bool
) -> tuple[np.ndarray, int]:
    """Embeddings for every chunk, reusing the previous index's rows for unchanged documents."""
    old: dict[tuple[str, str, int], np.ndarray] = {}
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        if manifest.get("embedder") == embedder.name and manifest.get("settings") == settings:
            matrix = np.load(out / "vectors.npy", mmap_mode="r")
            for row, chunk in enumerate(read_passages(out / "passages.sqlite")):
                old[(chunk.doc_id, chunk.fingerprint, chunk.passage_number)] = matrix[row]
    except (OSError, ValueError, KeyError, sqlite3.Error):
        old = {}  # no usable previous index: embed everything
    keys = [(c.doc_id, c.fingerprint, c.passage_number) for c in chunks]
    missing = [i for i, key in enumerate(keys) if key not in old]
    fresh = embedder.embed([chunks[i].full_text for i in missing], show_progress=show_progress)
    vectors = np.zeros(
        (len(chunks), fresh.shape[1] if len(missing) else next(iter(old.values())).shape[0]), dtype=np.float32
    )
    for i, key in enumerate(keys):
        if key in old:
            vectors[i] = old[key]
    if missing:
        vectors[missing] = fresh
    return vectors, len(chunks) - len(missing)


def write_passages(path: Path, chunks: list[Chunk]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE passages (row INTEGER PRIMARY KEY, doc_id TEXT, source TEXT, position INTEGER, "
            "title TEXT, text TEXT, fingerprint TEXT, metadata TEXT)"
        )
        db.executemany(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i, c.doc_id, c.source, c.passage_number, c.title, c.text, c.fingerprint, json.dumps(c.metadata))
                for i, c in enumerate(chunks)
            ],
        )
    db.close()


def read_passages(path: Path) -> list[Chunk]:
    if not path.is_file():
        raise OSError(f"missing {path.name}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT doc_id, source, position, title, text, fingerprint, metadata FROM passages ORDER BY row"
        ).fetchall()
    finally:
        db.close()
    return [Chunk(d, s, p, t, x, f, json.loads(m)) for d, s, p, t, x, f, m in rows]
