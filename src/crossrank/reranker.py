"""`Reranker`: validate -> tokenise -> batch -> backend -> activation -> aggregate -> sort.

No model code lives here: the backend runs batches, the encoder builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from crossrank.backends import Backend, default_backend, load_backend
from crossrank.calibration import Calibration, load_calibration
from crossrank.errors import Cancelled, InputError
from crossrank.fusion import fuse_with_first_stage
from crossrank.models import default_model_dir, display_name, is_built_in, read_spec, resolve_model
from crossrank.progress import progress_bar
from crossrank.ranking import Cut, Ranking, best_first
from crossrank.tokenization import EncodedPairs, PairEncoder, concat, load_tokenizer, pad_batch, plan_batches
from crossrank.types import Document, ModelSpec, RankedResult

Aggregate = Literal["max", "first", "mean"]
LongDocuments = Literal["truncate", "window"]


@dataclass(frozen=True, slots=True)
class EncodedQuery:
    """One query's documents, tokenised once (each distinct text once), from `Reranker.encode`.

    `slots[d]` is document d's distinct text; `pairs` are the model inputs of the distinct texts (owner =
    distinct text); `first_pass` the cascade's short-window inputs, when it will run; `pair_tokens[d]` the
    tokens document d makes with the query before any cut; `document_tokens[d]` its own tokens (what a token
    budget counts).
    """

    slots: np.ndarray
    unique: int
    pairs: EncodedPairs
    first_pass: EncodedPairs | None
    pair_tokens: np.ndarray
    document_tokens: np.ndarray

    @property
    def documents(self) -> int:
        return len(self.slots)


AUTO = "auto"
"""`cascade_model`'s default: crossrank-tiny first when the model is the built-in crossrank-default (the default
path, measured better and faster than the built-in model alone), no cascade for any other model."""
DEFAULT_CASCADE_MODEL = "crossrank-tiny"


def default_first_pass(folder: Path) -> str | None:
    """The first-pass model `cascade_model="auto"` picks for the model in `folder`: crossrank-tiny for the
    built-in crossrank-default (the default path), the folder's own `first-pass/` model where it has one (what
    `crossrank adapt` writes), none for any other model."""
    if folder.resolve() == default_model_dir().resolve():
        return DEFAULT_CASCADE_MODEL
    own = folder / "first-pass"
    return str(own) if (own / "config.json").is_file() else None


MODEL_CASCADE_KEEP = 15
"""Documents a model cascade (crossrank-tiny first) passes on by default. Measured with `benchmarks/cascade.py`
(BM25 top-100, first pass fused with BM25's order, crossrank-tiny v2, built-in v6, an AVX2-only AMD Zen 3):
nDCG@10 above the built-in model alone on Cranfield (+0.012, p 0.04) and SciFact (+0.014, p 0.002), at 0.23 of
its latency (0.22-0.24 on the three CPU kinds measured)."""


@dataclass(frozen=True, slots=True)
class Cascade:
    """The cascade's first pass: `scorer` (a smaller model; None: this one on a shorter window) scores every
    document, tokenised by `encoder`, and the best `keep` go on to the full model."""

    encoder: PairEncoder
    keep: int
    scorer: Reranker | None
    fuse_order: bool = False  # keep the best of the first pass's order fused with the documents' own order


class Reranker:
    """Scores (query, document) pairs with a cross-encoder and sorts documents by relevance.

    Args:
        model: a model folder, a Hugging Face hub id, or None for the built-in default.
        backend: "onnx" (float32 ONNX Runtime), "onnx-int8" (int8 arithmetic) or "torch"; None picks
            `crossrank.backends.default_backend`: static int8 for the built-in models (calibrated activation
            scales: the same bits in any batch and on the CPU kinds measured), float32 for other models, whose
            "onnx-int8" is dynamic int8 (scores ~0.02 apart between CPU kinds). A folder that ships only int8
            weights (the built-in models) runs them with float32 arithmetic under "onnx".
        max_length: token window per pair; defaults to the model's own.
        batch_size: most pairs per forward pass. Float32 and static int8 give a pair the same bits in any
            batch; dynamic int8 runs one pair per pass, so a pair's score never depends on its company.
        token_budget: most padded tokens per forward pass (bounds memory for long pairs);
            None: 512, or one full window for models with a longer one.
        threads: CPU threads to score with (None: every CPU this process may use). The ONNX backends run
            that many batches side by side, one thread each; torch splits each operator over them.
        cache_dir: where exported ONNX files go (default `~/.cache/crossrank`).
        long_documents: "truncate" keeps each document's head; "window" scores overlapping windows of a
            long document and aggregates them, so an answer past the window is not lost.
        window_overlap: tokens shared by consecutive windows.
        aggregate: how window scores become one score: "max" (default), "first" or "mean".
        cascade_keep: turn on a two-pass cascade in `rerank`/`rerank_batch`: every document is first scored by
            `cascade_model` (or, without one, by this model on a `cascade_length`-token window), and the best
            `cascade_keep` of each query are scored by this model. Every document comes back: the kept ones in
            this model's order, then the rest in the first pass's order, their scores capped so that scores
            never increase down the list (`RankedResult.scored_by` says which model scored each). `score` never
            cascades. Default with a `cascade_model`: `MODEL_CASCADE_KEEP` (15).
        cascade_model: the first pass's model, typically a much smaller one ("crossrank-tiny"); it runs on the
            same backend, threads and cache folder, on its own window unless `cascade_length` is given.
            Default "auto": crossrank-tiny for the built-in model (the default path), none for other models;
            None turns the cascade off.
        calibration: maps logits to probabilities of relevance (`crossrank.calibration`): a calibration file,
            a `Calibration`, or None for the one the model folder ships (`calibration.json`; the built-in
            models ship theirs). Without any, scores are the sigmoid of the logit.
        cascade_length: token window of the first pass (default: 64 for this model, the cascade model's own).
        cascade_fuse: keep the best `cascade_keep` of the first pass's order fused (reciprocal rank) with the
            order the documents came in, for documents that arrive in a first stage's order: the first stage's
            evidence then also decides what reaches the full model. Default: on with a `cascade_model` (measured:
            crossrank-tiny fused keeps better candidates than alone, see the README), off without one.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        backend: str | None = None,
        max_length: int | None = None,
        batch_size: int = 32,
        token_budget: int | None = None,
        threads: int | None = None,
        cache_dir: str | Path | None = None,
        long_documents: LongDocuments = "truncate",
        window_overlap: int = 64,
        aggregate: Aggregate = "max",
        cascade_keep: int | None = None,
        cascade_model: str | Path | None = AUTO,
        cascade_length: int | None = None,
        cascade_fuse: bool | None = None,
        calibration: str | Path | Calibration | None = None,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        if long_documents not in ("truncate", "window"):
            raise InputError(f"long_documents must be 'truncate' or 'window', got {long_documents!r}")
        if aggregate not in ("max", "first", "mean"):
            raise InputError(f"aggregate must be 'max', 'first' or 'mean', got {aggregate!r}")
        if window_overlap < 0:
            raise InputError(f"window_overlap must be >= 0, got {window_overlap}")
        if threads is not None and threads < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        folder = resolve_model(model)
        self.spec: ModelSpec = read_spec(folder, name=display_name(model), max_length=max_length)
        if isinstance(cascade_model, str) and cascade_model == AUTO:
            cascade_model = default_first_pass(folder) if cascade_length is None else None
        if calibration is None:
            self.calibration = load_calibration(folder)
        else:
            self.calibration = (
                calibration if isinstance(calibration, Calibration) else Calibration.read(Path(calibration))
            )
        if token_budget is None:
            token_budget = max(512, self.spec.max_length)
        if token_budget < self.spec.max_length:
            raise InputError(f"token_budget={token_budget} is smaller than the {self.spec.max_length}-token window")
        tokenizer = load_tokenizer(folder)
        self.encoder = PairEncoder(tokenizer, max_length=self.spec.max_length)
        self.cascade = _cascade(
            keep=cascade_keep,
            model=cascade_model,
            length=cascade_length,
            main=self.encoder,
            fuse_order=cascade_fuse,
            backend=backend,
            threads=threads,
            cache_dir=cache_dir,
        )
        self.backend: Backend = load_backend(
            backend or default_backend(folder),
            self.spec,
            threads=threads,
            cache_dir=Path(cache_dir) if cache_dir else None,
        )
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.window_overlap = window_overlap if long_documents == "window" else None
        self.aggregate: Aggregate = aggregate

    @property
    def built_in(self) -> bool:
        """Whether the model is one of crossrank's own (`crossrank.models.BUILT_IN`)."""
        return is_built_in(Path(self.spec.path))

    @property
    def name(self) -> str:
        """The model's display name (folder or hub id basename; "crossrank-default" for the built-in), with the
        cascade's settings when it has one."""
        if self.cascade is None:
            return self.spec.name
        fused = " fused with the input order" if self.cascade.fuse_order else ""
        if self.cascade.scorer is None:
            return f"{self.spec.name} cascade {self.cascade.keep}@{self.cascade.encoder.max_length}{fused}"
        return f"{self.cascade.scorer.spec.name}{fused} top-{self.cascade.keep} > {self.spec.name}"

    @property
    def gives_probabilities(self) -> bool:
        """Whether `rerank` scores are 0..1 (a calibration's probabilities, or a sigmoid), not raw margins."""
        return self.calibration is not None or self.spec.activation != "identity"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Each text's tokens as this model's tokenizer counts them (no special tokens): what `max_tokens` spends."""
        return [len(e.ids) for e in self.encoder.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def __repr__(self) -> str:
        return f"Reranker(model={self.spec.name!r}, backend={self.backend.name!r}, max_length={self.spec.max_length})"

    def rerank(
        self,
        query: str,
        documents: Sequence[Document],
        *,
        top_k: int | None = None,
        min_score: float | None = None,
        max_tokens: int | None = None,
        return_documents: bool = True,
        text_field: str = "text",
        raw: bool = False,
        show_progress: bool = False,
    ) -> list[RankedResult]:
        """Sort `documents` by relevance to `query`, best first: every document, unless a cut below says otherwise.

        Documents are strings or mappings with their text under `text_field`. Every result keeps the
        document's `index` in the caller's list. Duplicates are scored once and each returned with its own
        index; ties keep the caller's order. An empty string is scored as an empty passage. Scores are
        probabilities of relevance when the model has a calibration (the built-in models do), else the sigmoid
        of the logit; `raw=True` returns logits (for two-logit models, the positive minus the negative logit).
        The cuts, applied in this order down the ranking: `min_score` drops results scoring below it; `top_k`
        keeps the best k; `max_tokens` keeps results best first while their documents' tokens (as this model's
        tokenizer counts them, without the query) fit in that budget, and stops at the first that does not.
        """
        return self.rerank_batch(
            [query],
            [documents],
            top_k=top_k,
            min_score=min_score,
            max_tokens=max_tokens,
            return_documents=return_documents,
            text_field=text_field,
            raw=raw,
            show_progress=show_progress,
        )[0]

    def rerank_batch(
        self,
        queries: Sequence[str],
        documents: Sequence[Sequence[Document]],
        *,
        top_k: int | None = None,
        min_score: float | None = None,
        max_tokens: int | None = None,
        return_documents: bool = True,
        text_field: str = "text",
        raw: bool = False,
        show_progress: bool = False,
    ) -> list[list[RankedResult]]:
        """`rerank` for many queries at once, each with its own documents; pairs share batches."""
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise InputError("queries must be a list of strings")
        if isinstance(documents, str) or not isinstance(documents, Sequence) or len(documents) != len(queries):
            raise InputError("documents must be a list holding one list of documents per query")
        cut = Cut.checked(top_k=top_k, min_score=min_score, max_tokens=max_tokens)
        encoded = [
            self.encode(query, docs, text_field=text_field, where=f"queries[{i}]" if len(queries) > 1 else "query")
            for i, (query, docs) in enumerate(zip(queries, documents, strict=True))
        ]
        rankings = self._score_encoded(encoded, raw=raw, show_progress=show_progress)
        return [
            ranking.results(cut, documents=docs if return_documents else None)
            for ranking, docs in zip(rankings, documents, strict=True)
        ]

    def encode(
        self,
        query: str,
        documents: Sequence[Document],
        *,
        text_field: str = "text",
        max_document_tokens: int | None = None,
        where: str = "query",
    ) -> EncodedQuery:
        """Validate and tokenise one query's documents (each distinct text once), ready for `rerank_encoded`.

        The result carries each document's token count, so a caller (the server) never tokenises again.
        `max_document_tokens` cuts every document to its first that many tokens first. Raises `InputError`
        naming the bad item (`where` names the query).
        """
        if max_document_tokens is not None and (
            isinstance(max_document_tokens, bool) or not isinstance(max_document_tokens, int) or max_document_tokens < 1
        ):
            raise InputError(f"max_document_tokens must be a positive integer or None, got {max_document_tokens!r}")
        query = _check_query(query, where)
        texts = _texts(documents, text_field)
        seen: dict[str, int] = {}
        slots = np.array([seen.setdefault(t, len(seen)) for t in texts], dtype=np.int64)
        unique = list(seen)
        pairs = self.encoder.encode(
            query, unique, window_overlap=self.window_overlap, max_document_tokens=max_document_tokens
        )
        first_pass = None
        if self.cascade is not None and len(texts) > self.cascade.keep:
            first_pass = self.cascade.encoder.encode(query, unique, max_document_tokens=max_document_tokens)
        assert pairs.pair_tokens is not None and pairs.document_tokens is not None
        return EncodedQuery(
            slots=slots,
            unique=len(unique),
            pairs=pairs,
            first_pass=first_pass,
            pair_tokens=pairs.pair_tokens[slots],
            document_tokens=pairs.document_tokens[slots],
        )

    def rerank_encoded(
        self,
        encoded: Sequence[EncodedQuery],
        *,
        raw: bool = False,
        show_progress: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Ranking]:
        """Rank queries that `encode` prepared, all pairs sharing the workers; `Ranking.results` applies a cut.

        `should_stop` is asked before every forward pass; once it answers True, scoring raises `Cancelled`
        (a server stops work whose client has gone within one pass)."""
        return self._score_encoded(encoded, raw=raw, show_progress=show_progress, should_stop=should_stop)

    def score(self, pairs: Sequence[tuple[str, str]], *, raw: bool = False, show_progress: bool = False) -> list[float]:
        """Score raw (query, document) pairs, in the order given."""
        if isinstance(pairs, str) or not isinstance(pairs, Sequence):
            raise InputError("pairs must be a list of (query, document) tuples")
        by_query: dict[str, list[int]] = {}
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InputError(f"pairs[{i}] must be a (query, document) pair")
            by_query.setdefault(_check_query(pair[0], f"pairs[{i}][0]"), []).append(i)
            if not isinstance(pair[1], str):
                raise InputError(f"pairs[{i}][1] must be a string, got {type(pair[1]).__name__}")
            check_text(pair[1], f"pairs[{i}][1]")
        groups = [(q, [pairs[i][1] for i in positions]) for q, positions in by_query.items()]
        distinct = [list(dict.fromkeys(texts)) for _, texts in groups]
        parts = [
            self.encoder.encode(q, texts, window_overlap=self.window_overlap)
            for (q, _), texts in zip(groups, distinct, strict=True)
        ]
        scores = self._score_inputs(parts, [len(t) for t in distinct], raw=raw, show_progress=show_progress)
        out = np.empty(len(pairs), dtype=np.float64)
        for (_, texts), unique, positions, part in zip(groups, distinct, by_query.values(), scores, strict=True):
            index = {t: i for i, t in enumerate(unique)}
            out[positions] = part[[index[t] for t in texts]]
        return [float(s) for s in out]

    def _score_encoded(
        self,
        encoded: Sequence[EncodedQuery],
        *,
        raw: bool,
        show_progress: bool,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Ranking]:
        """Every query's documents ranked: by this model, or (a cascade) the first pass's best `keep` by this
        model and the rest after them in the first pass's order."""
        kept = [np.arange(e.documents) for e in encoded]
        first: dict[int, np.ndarray] = {}  # query -> first-pass score of every document
        cascading = [(i, e.first_pass) for i, e in enumerate(encoded) if e.first_pass is not None]
        if cascading and self.cascade is not None:
            sizes = [encoded[i].unique for i, _ in cascading]
            scorer = self.cascade.scorer or self
            margins = scorer._score_inputs(
                [p for _, p in cascading], sizes, raw=True, show_progress=False, should_stop=should_stop
            )
            for (i, _), unique_margins in zip(cascading, margins, strict=True):
                slots = encoded[i].slots
                best = _best(unique_margins[slots], self.cascade.keep, fuse_order=self.cascade.fuse_order)
                kept[i] = np.flatnonzero(np.isin(slots, slots[best]))  # a kept text's duplicates are kept too
                first[i] = scorer.to_score(unique_margins[slots], raw=raw)
        needed = [np.unique(e.slots[k]) for e, k in zip(encoded, kept, strict=True)]
        parts = [e.pairs if len(n) == e.unique else e.pairs.select(n) for e, n in zip(encoded, needed, strict=True)]
        scores = self._score_inputs(
            parts, [len(n) for n in needed], raw=raw, show_progress=show_progress, should_stop=should_stop
        )
        rankings = []
        for i, (e, k, n, part) in enumerate(zip(encoded, kept, needed, scores, strict=True)):
            main = part[np.searchsorted(n, e.slots[k])]
            rankings.append(self._ranking(e, k, main, first.get(i)))
        return rankings

    def _ranking(self, encoded: EncodedQuery, kept: np.ndarray, main: np.ndarray, first: np.ndarray | None) -> Ranking:
        """The kept documents by this model's scores (`main`, aligned with `kept`), then the others by their
        first-pass scores, each capped at the score above it so scores never increase down the list."""
        best = best_first(main, ties=kept)
        order, ordered = kept[best], main[best]
        from_first = np.zeros(len(order), dtype=bool)
        if first is not None and len(kept) < encoded.documents:
            rest = np.setdiff1d(np.arange(encoded.documents), kept)
            rest_order = rest[best_first(first[rest], ties=rest)]
            floor = ordered[-1] if len(ordered) else np.inf
            capped = np.minimum(first[rest_order], floor)
            order = np.concatenate([order, rest_order])
            ordered = np.concatenate([ordered, capped])
            from_first = np.concatenate([from_first, np.ones(len(rest_order), dtype=bool)])
        first_name = None
        if self.cascade is not None:
            scorer = self.cascade.scorer
            first_name = f"{self.spec.name}@{self.cascade.encoder.max_length}" if scorer is None else scorer.spec.name
        return Ranking(
            positions=order,
            scores=ordered,
            from_first_pass=from_first,
            model=self.spec.name,
            first_pass_model=first_name,
            document_tokens=encoded.document_tokens,
        )

    def to_score(self, margins: np.ndarray, *, raw: bool) -> np.ndarray:
        """Margins (one logit, or positive minus negative) as this model reports scores: its calibration's
        probabilities, the sigmoid without one, or the margins themselves with `raw` (or an identity head)."""
        if raw:
            return margins
        if self.calibration is not None:
            return self.calibration.apply(margins)
        if self.spec.activation == "identity":
            return margins
        return np.asarray(1.0 / (1.0 + np.exp(-margins)), dtype=np.float64)

    def _score_inputs(
        self,
        parts: Sequence[EncodedPairs],
        sizes: Sequence[int],
        *,
        raw: bool,
        show_progress: bool,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """One score per document of each part (`sizes[k]` documents); all inputs share the workers."""
        pairs = concat(parts, sizes)
        input_scores = self._run(pairs, raw=raw, show_progress=show_progress, should_stop=should_stop)
        doc_scores = _aggregate(input_scores, pairs.owner, int(sum(sizes)), self.aggregate)
        bounds = np.cumsum([0, *sizes])
        return [doc_scores[bounds[k] : bounds[k + 1]] for k in range(len(parts))]

    def _run(
        self, pairs: EncodedPairs, *, raw: bool, show_progress: bool, should_stop: Callable[[], bool] | None = None
    ) -> np.ndarray:
        """Score every model input: batches by length, backend (`workers` batches at once), activation.
        `should_stop` is asked before each batch: True raises `Cancelled` (the batches still queued return at once)."""
        scores = np.empty(len(pairs), dtype=np.float64)
        if not len(pairs):
            return scores
        lengths = np.fromiter((len(ids) for ids in pairs.ids), dtype=np.int64, count=len(pairs))
        workers = self.backend.workers
        batch_size = min(self.batch_size, self.backend.max_batch or self.batch_size)
        batches = plan_batches(lengths, batch_size=batch_size, token_budget=self.token_budget, min_batches=workers)

        def run(positions: np.ndarray) -> np.ndarray:
            if should_stop is not None and should_stop():
                raise Cancelled("scoring stopped: nobody waits for the result")
            return self.backend.run(pad_batch(pairs, positions, pad_id=self.encoder.pad_id))

        with (
            progress_bar(len(pairs), "reranking", enabled=show_progress and len(pairs) > 64) as advance,
            ThreadPoolExecutor(max_workers=min(workers, len(batches)), thread_name_prefix="crossrank") as pool,
        ):
            for positions, logits in zip(batches, pool.map(run, batches), strict=True):
                scores[positions] = self.to_score(margins_of(logits), raw=raw)
                advance(len(positions))
        return scores


def _cascade(
    *,
    keep: int | None,
    model: str | Path | None,
    length: int | None,
    main: PairEncoder,
    fuse_order: bool | None,
    backend: str | None,
    threads: int | None,
    cache_dir: str | Path | None,
) -> Cascade | None:
    """The cascade's first pass as `Reranker` was asked for it, or None; refuses settings that contradict."""
    fuse = model is not None if fuse_order is None else fuse_order  # measured: fused, with a model first
    if keep is None and model is not None:
        keep = MODEL_CASCADE_KEEP
    if keep is None:
        if length is not None or fuse:
            raise InputError("cascade_length and cascade_fuse need cascade_keep (how many documents go on)")
        return None
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise InputError(f"cascade_keep must be a positive integer or None, got {keep!r}")
    if model is not None:
        scorer = Reranker(model, max_length=length, backend=backend, threads=threads, cache_dir=cache_dir)
        return Cascade(encoder=scorer.encoder, keep=keep, scorer=scorer, fuse_order=fuse)
    length = 64 if length is None else length
    if not 8 <= length < main.max_length:
        raise InputError(
            f"cascade_length must be at least 8 and below the {main.max_length}-token window, got {length}"
        )
    return Cascade(encoder=PairEncoder(main.tokenizer, max_length=length), keep=keep, scorer=None, fuse_order=fuse)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """A `Reranker`'s settings as plain data: every argument of `Reranker.__init__`, and what a worker process, a
    Ray actor or a server replica builds its own reranker from (a loaded model cannot travel between processes;
    these can). The CLI's model options fill one (`tests/test_settings.py` checks that no knob is missing)."""

    model: str | None = None
    backend: str | None = None
    max_length: int | None = None
    batch_size: int = 32
    token_budget: int | None = None
    threads: int | None = None
    cache_dir: str | None = None
    long_documents: LongDocuments = "truncate"
    window_overlap: int = 64
    aggregate: Aggregate = "max"
    cascade_keep: int | None = None
    cascade_model: str | None = AUTO
    cascade_length: int | None = None
    cascade_fuse: bool | None = None
    calibration: str | None = None

    def load(self) -> Reranker:
        return Reranker(
            self.model,
            backend=self.backend,
            max_length=self.max_length,
            batch_size=self.batch_size,
            token_budget=self.token_budget,
            threads=self.threads,
            cache_dir=self.cache_dir,
            long_documents=self.long_documents,
            window_overlap=self.window_overlap,
            aggregate=self.aggregate,
            cascade_keep=self.cascade_keep,
            cascade_model=self.cascade_model,
            cascade_length=self.cascade_length,
            cascade_fuse=self.cascade_fuse,
            calibration=self.calibration,
        )


def reranker_settings(reranker: Reranker | None) -> dict[str, object]:
    """What shapes a reranker's scores, for reports: model, folder, backend, window, long documents, cascade."""
    if reranker is None:
        return dict.fromkeys(("model", "model_path", "backend", "max_length", "long_documents", "cascade"))
    cascade = reranker.cascade
    return {
        "model": reranker.spec.name,
        "model_path": reranker.spec.path,
        "backend": reranker.backend.name,
        "max_length": reranker.spec.max_length,
        "long_documents": "truncate" if reranker.window_overlap is None else "window",
        "cascade": None
        if cascade is None
        else {
            "keep": cascade.keep,
            "model": reranker.spec.name if cascade.scorer is None else cascade.scorer.spec.name,
            "length": cascade.encoder.max_length,
            "fuse_order": cascade.fuse_order,
        },
    }


def margins_of(logits: np.ndarray) -> np.ndarray:
    """Logits (batch, 1 or 2) to one margin per row: the logit, or positive minus negative (softmax(l)[1] ==
    sigmoid(l1 - l0), so a two-logit model's probability is the sigmoid of its margin)."""
    logits = logits.astype(np.float64)
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]


def _aggregate(scores: np.ndarray, owner: np.ndarray, n: int, how: Aggregate) -> np.ndarray:
    """Window scores to document scores (inputs of one document are contiguous, first window first)."""
    if len(scores) == n:
        return scores
    if how == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, owner, scores)
        return out
    if how == "first":
        first = np.unique(owner, return_index=True)[1]
        return scores[first]
    total = np.bincount(owner, weights=scores, minlength=n)
    return total / np.bincount(owner, minlength=n)


def _check_query(query: object, where: str) -> str:
    if not isinstance(query, str):
        raise InputError(f"{where} must be a string, got {type(query).__name__}")
    if not query.strip():
        raise InputError(f"{where} is empty; a reranker needs a query to score against")
    return check_text(query, where)


def check_text(text: str, where: str) -> str:
    """`text` if it is valid Unicode text; lone surrogates (which no tokenizer or UTF-8 output accepts) and NUL
    (the mark of binary data or UTF-16 read as UTF-8) raise `InputError` naming `where`, the same rule for the
    library, files and HTTP. Other control characters are text: the tokenizer's normaliser drops them."""
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            f"{where} holds a NUL character (U+0000) at character {nul}; crossrank reads text, not binary data"
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{where} holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}, "
                "which is not valid Unicode"
            ) from None
    return text


def _texts(documents: object, text_field: str) -> list[str]:
    """The text of every document, or an `InputError` naming the first bad one."""
    if isinstance(documents, str | bytes) or not isinstance(documents, Sequence):
        raise InputError(f"documents must be a list of strings or mappings, got {type(documents).__name__}")
    texts: list[str] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            texts.append(check_text(doc, f"documents[{i}]"))
        elif isinstance(doc, Mapping):
            text = doc.get(text_field)
            if not isinstance(text, str):
                problem = "has no" if text is None else f"has a non-string ({type(text).__name__})"
                raise InputError(f"documents[{i}] {problem} {text_field!r} field")
            texts.append(check_text(text, f"documents[{i}][{text_field!r}]"))
        else:
            raise InputError(f"documents[{i}] must be a string or a mapping, got {type(doc).__name__}")
    return texts


def _best(scores: np.ndarray, keep: int, *, fuse_order: bool = False) -> np.ndarray:
    """Positions of the `keep` best scores, in the caller's order (ties keep the earlier document). With
    `fuse_order`, the best of the scores' order fused by reciprocal rank with the documents' own order."""
    if fuse_order:
        fused = fuse_with_first_stage(best_first(scores).tolist(), list(range(len(scores))))
        return np.sort(np.array([position for position, _ in fused[:keep]], dtype=np.int64))
    return np.sort(best_first(scores)[:keep])
