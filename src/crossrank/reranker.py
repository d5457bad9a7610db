"""`Reranker`: validate -> encode -> rank. The engine (`crossrank.engine`) turns encoded inputs into scores,
the cascade (`crossrank.cascade`) decides which documents the full model scores and assembles the ranking.

No model code lives here: the backend runs batches, the encoder builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from crossrank.backends import Backend, default_backend, load_backend
from crossrank.calibration import Calibration, load_calibration
from crossrank.cascade import AUTO, Cascade, assemble, build_cascade
from crossrank.encoded import EncodedQuery
from crossrank.engine import Activation, Aggregate, Engine
from crossrank.errors import InputError
from crossrank.export.optimize import runnable_folder
from crossrank.models import display_name, is_built_in, read_spec, resolve_model
from crossrank.ranking import Cut, EvidenceSpans, Ranking
from crossrank.score_cache import ScoreCache
from crossrank.tokenization import PairEncoder, load_tokenizer
from crossrank.types import BudgetCounts, Document, LongDocuments, ModelSpec, RankedResult
from crossrank.validation import check_arguments, check_query, check_text, texts_of


class Reranker:
    """Scores (query, document) pairs with a cross-encoder and sorts documents by relevance.

    Args:
        model: a model folder, a Hugging Face hub id, or None for the built-in default.
        backend: "onnx" (float32 ONNX Runtime), "onnx-int8" (int8 arithmetic) or "torch"; None is static int8
            (calibrated activation scales: the same bits in any batch, ~2e-3 apart across CPU kinds). A model of
            float weights is optimised once into the cache for it (`crossrank.export.optimize`), and stays in
            float32 where int8 would not keep float32's ranking on held-out pairs. "onnx" keeps float32; a
            folder that ships only int8 weights (the built-in models) runs them with float32 arithmetic there.
        max_length: token window per pair; defaults to the model's own.
        batch_size: most pairs per forward pass. Float32 and static int8 give a pair the same bits in any
            batch; dynamic int8 runs one pair per pass, so a pair's score never depends on its company.
        token_budget: most padded tokens per forward pass (None: 512, or one window where that is longer;
            torch: `batch_size` full windows, as sentence-transformers batches).
        threads: CPU threads (None: every CPU this process may use): ONNX runs that many batches side by side.
        cache_dir: where exported and optimised models go (default `~/.cache/crossrank`).
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
            "auto": crossrank-tiny for the built-in model, none for other models; None: no cascade.
        calibration: maps logits to probabilities of relevance (`crossrank.calibration`): a calibration file,
            a `Calibration`, or None for the one the model folder ships (`calibration.json`; the built-in
            models ship theirs). Without any, scores are the sigmoid of the logit.
        cascade_length: token window of the first pass (default: 64 for this model, the cascade model's own).
        cache_size: keep up to this many document scores (each model of a cascade its own) and never score the
            same inputs twice: an exact cache, the same bits as scoring again (`crossrank.score_cache`); ONNX
            backends only. None: no cache.

    A ranking is a function of the set of documents: any order of the same documents gives the same results,
    scores and order. Only `rerank(..., ranked_input=True)` lets the input order (a first stage's ranking) count.
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
        calibration: str | Path | Calibration | None = None,
        cache_size: int | None = None,
    ) -> None:
        check_arguments(batch_size, long_documents, aggregate, window_overlap, threads)
        folder = runnable_folder(resolve_model(model), name=display_name(model), backend=backend, cache_dir=cache_dir)
        self.spec: ModelSpec = read_spec(folder, name=display_name(model), max_length=max_length)
        self.calibration = load_calibration(folder) if calibration is None else Calibration.of(calibration)
        if token_budget is None:  # ONNX runs small batches side by side; torch splits each operator, so whole ones
            token_budget = max(512, self.spec.max_length) if backend != "torch" else batch_size * self.spec.max_length
        if token_budget < self.spec.max_length:
            raise InputError(f"token_budget={token_budget} is smaller than the {self.spec.max_length}-token window")
        tokenizer = load_tokenizer(folder)
        self.encoder = PairEncoder(tokenizer, max_length=self.spec.max_length)
        self.cascade: Cascade | None = build_cascade(
            folder,
            model=cascade_model,
            keep=cascade_keep,
            length=cascade_length,
            main=self.encoder,
            load=lambda first, length: Reranker(
                first, max_length=length, backend=backend, threads=threads, cache_dir=cache_dir, cache_size=cache_size
            ),
        )
        self.backend: Backend = load_backend(
            backend or default_backend(folder),
            self.spec,
            threads=threads,
            cache_dir=Path(cache_dir) if cache_dir else None,
        )
        self.engine = Engine(
            self.backend,
            pad_id=self.encoder.pad_id,
            batch_size=batch_size,
            token_budget=token_budget,
            activation=Activation(self.calibration, identity=self.spec.activation == "identity"),
            aggregate=aggregate,
            cache=None if cache_size is None else ScoreCache(cache_size),
        )
        self.window_overlap = window_overlap if long_documents == "window" else None

    @property
    def built_in(self) -> bool:
        """Whether the model is one of crossrank's own (`crossrank.models.BUILT_IN`)."""
        return is_built_in(Path(self.spec.path))

    @property
    def name(self) -> str:
        """The model's display name (folder or hub id basename; "crossrank-default" for the built-in), with the
        cascade's settings when it has one."""
        return self.spec.name if self.cascade is None else self.cascade.name(self.spec)

    def name_for(self, documents: int) -> str:
        """What ranks `documents` documents: the cascade's name when its first pass runs (more documents than it
        keeps), else this model's own."""
        ran = self.cascade is not None and documents > self.cascade.keep
        return self.name if ran else self.spec.name

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
        ranked_input: bool = False,
        return_evidence: bool = False,
        budget_counts: BudgetCounts = "documents",
        show_progress: bool = False,
    ) -> list[RankedResult]:
        """Sort `documents` by relevance to `query`, best first: every document, unless a cut below says otherwise.

        Documents are strings or mappings with their text under `text_field`. Every result keeps the
        document's `index` in the caller's list. Duplicates are scored once and each returned with its own
        index. An empty string is scored as an empty passage. Scores are
        probabilities of relevance when the model has a calibration (the built-in models do), else the sigmoid
        of the logit; `raw=True` returns logits (for two-logit models, the positive minus the negative logit).
        The cuts, applied in this order down the ranking: `min_score` drops results scoring below it; `top_k`
        keeps the best k; `max_tokens` keeps results best first while their documents' tokens (as this model's
        tokenizer counts them, without the query) fit in that budget, and stops at the first that does not.

        The ranking depends on the set of documents, never on their order: equal scores come in code-point order
        of their text, duplicates by index. `ranked_input=True` says the list is a first stage's ranking, best
        first: a cascade then keeps the best of its first pass fused with that order, and ties keep it.
        `return_evidence=True` gives each result the character span of the window its score came from;
        `budget_counts="evidence"` makes `max_tokens` count only those spans' tokens (for a caller that sends a
        language model the matching part alone: the budget holds more documents), and implies `return_evidence`.
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
            ranked_input=ranked_input,
            return_evidence=return_evidence,
            budget_counts=budget_counts,
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
        ranked_input: bool = False,
        return_evidence: bool = False,
        budget_counts: BudgetCounts = "documents",
        show_progress: bool = False,
    ) -> list[list[RankedResult]]:
        """`rerank` for many queries at once, each with its own documents; pairs share batches."""
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise InputError("queries must be a list of strings")
        if isinstance(documents, str) or not isinstance(documents, Sequence) or len(documents) != len(queries):
            raise InputError("documents must be a list holding one list of documents per query")
        cut = Cut.checked(top_k=top_k, min_score=min_score, max_tokens=max_tokens, budget_counts=budget_counts)
        return_evidence = return_evidence or cut.budget_counts == "evidence"
        encoded = [
            self.encode(
                query,
                docs,
                text_field=text_field,
                ranked_input=ranked_input,
                where=f"queries[{i}]" if len(queries) > 1 else "query",
            )
            for i, (query, docs) in enumerate(zip(queries, documents, strict=True))
        ]
        rankings = self._score_encoded(encoded, raw=raw, show_progress=show_progress)
        return [
            ranking.results(
                cut,
                documents=docs if return_documents else None,
                evidence=self.evidence_spans(query, texts_of(docs, text_field)) if return_evidence else None,
            )
            for query, ranking, docs in zip(queries, rankings, documents, strict=True)
        ]

    def evidence_spans(
        self, query: str, texts: Sequence[str], *, max_document_tokens: int | None = None
    ) -> EvidenceSpans:
        """What `Ranking.results` asks for evidence: the characters of each document's scored window (the first
        pass reads its own window's head), and their tokens."""
        main = self.encoder.window_spans(
            query, window_overlap=self.window_overlap, max_document_tokens=max_document_tokens
        )
        first = main
        if self.cascade is not None:
            first = self.cascade.encoder.window_spans(
                query, window_overlap=None, max_document_tokens=max_document_tokens
            )
        return EvidenceSpans(texts=texts, main=main, first=first, count=self.count_tokens)

    def encode(
        self,
        query: str,
        documents: Sequence[Document],
        *,
        text_field: str = "text",
        max_document_tokens: int | None = None,
        ranked_input: bool = False,
        where: str = "query",
    ) -> EncodedQuery:
        """Validate and tokenize one query's documents (each distinct text once), ready for `rerank_encoded`.

        The result carries each document's token count, so a caller (the server) never tokenizes again.
        `max_document_tokens` cuts every document to its first that many tokens first. Raises `InputError`
        naming the bad item (`where` names the query).
        """
        if max_document_tokens is not None and (
            isinstance(max_document_tokens, bool) or not isinstance(max_document_tokens, int) or max_document_tokens < 1
        ):
            raise InputError(f"max_document_tokens must be a positive integer or None, got {max_document_tokens!r}")
        if not isinstance(ranked_input, bool):
            raise InputError(f"ranked_input must be True or False, got {ranked_input!r}")
        query = check_query(query, where)
        texts = texts_of(documents, text_field)
        # Distinct texts in an order of the set alone (code points), unless the input order is a ranking: the
        # model then sees the same inputs, in the same batches, whatever order the documents came in.
        unique = list(dict.fromkeys(texts)) if ranked_input else sorted(set(texts))
        number = {text: i for i, text in enumerate(unique)}
        slots = np.array([number[t] for t in texts], dtype=np.int64)
        ties = np.arange(len(texts), dtype=np.int64) if ranked_input else slots
        tokenized = self.encoder.tokenize(unique, max_document_tokens=max_document_tokens)
        pairs = self.encoder.assemble(query, tokenized, window_overlap=self.window_overlap)
        first_pass = None
        if self.cascade is not None:
            first_pass = self.cascade.inputs(
                self.encoder,
                query,
                tokenized,
                unique,
                documents=len(texts),
                max_document_tokens=max_document_tokens,
            )
        assert pairs.pair_tokens is not None and pairs.document_tokens is not None
        return EncodedQuery(
            slots=slots,
            ties=ties,
            ranked_input=ranked_input,
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
            by_query.setdefault(check_query(pair[0], f"pairs[{i}][0]"), []).append(i)
            if not isinstance(pair[1], str):
                raise InputError(f"pairs[{i}][1] must be a string, got {type(pair[1]).__name__}")
            check_text(pair[1], f"pairs[{i}][1]")
        groups = [(q, [pairs[i][1] for i in positions]) for q, positions in by_query.items()]
        distinct = [list(dict.fromkeys(texts)) for _, texts in groups]
        parts = [
            self.encoder.encode(q, texts, window_overlap=self.window_overlap)
            for (q, _), texts in zip(groups, distinct, strict=True)
        ]
        scored = self.engine.score_documents(parts, [len(t) for t in distinct], raw=raw, show_progress=show_progress)
        scores = [part for part, _ in scored]
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
        chosen, first = (
            ({}, {})
            if self.cascade is None
            else self.cascade.run(encoded, self.engine, raw=raw, should_stop=should_stop)
        )
        kept = [chosen.get(i, np.arange(e.documents)) for i, e in enumerate(encoded)]
        needed = [np.unique(e.slots[k]) for e, k in zip(encoded, kept, strict=True)]
        parts = [e.pairs if len(n) == e.unique else e.pairs.select(n) for e, n in zip(encoded, needed, strict=True)]
        scores = self.engine.score_documents(
            parts, [len(n) for n in needed], raw=raw, show_progress=show_progress, should_stop=should_stop
        )
        first_name = None if self.cascade is None else self.cascade.first_name(self.spec)
        at = [np.searchsorted(n, e.slots[k]) for e, k, n in zip(encoded, kept, needed, strict=True)]
        return [
            assemble(
                documents=e.documents,
                kept=k,
                main=part[at[i]],
                windows=windows[at[i]],
                first=first.get(i),
                model=self.spec.name,
                first_pass_model=first_name,
                document_tokens=e.document_tokens,
                ties=e.ties,
            )
            for i, (e, k, (part, windows)) in enumerate(zip(encoded, kept, scores, strict=True))
        ]
