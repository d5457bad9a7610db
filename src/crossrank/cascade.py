"""The cascade, whole: which first pass a model gets (`build_cascade`), its inputs (`Cascade.inputs`), scoring every
document with it and keeping the best `keep` for the full model (`Cascade.run`), and the ranking that puts
those in the full model's order above the rest in the first pass's (`assemble`).

It needs of its first-pass model only the small `FirstPassScorer` protocol (a `Reranker` meets it), so this
module imports no reranker: `build_cascade` is handed a function that loads one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from crossrank.engine import Engine
from crossrank.errors import InputError
from crossrank.fusion import fuse_with_first_stage
from crossrank.models import default_model_dir
from crossrank.ranking import Ranking, best_first
from crossrank.tokenization import EncodedPairs, PairEncoder, TokenizedDocuments
from crossrank.types import ModelSpec

AUTO = "auto"
"""`cascade_model`'s default: crossrank-tiny first when the model is the built-in crossrank-default (the default
path, measured better and faster than the built-in model alone), a folder's own `first-pass/` model where it
has one, no cascade for any other model."""
DEFAULT_CASCADE_MODEL = "crossrank-tiny"
FIRST_PASS_FOLDER = "first-pass"
"""A model folder's own first-pass model (what `crossrank adapt` writes)."""
MODEL_CASCADE_KEEP = 15
"""Documents a model cascade (crossrank-tiny first) passes on by default. Measured with `benchmarks/cascade.py`
(BM25 top-100, first pass fused with BM25's order): nDCG@10 above the built-in model alone on Cranfield and
SciFact at about a quarter of its latency (docs/benchmarks.md)."""


class FirstPassScorer(Protocol):
    """What the cascade needs of its first-pass model: its name, its encoder and the engine that scores."""

    spec: ModelSpec
    encoder: PairEncoder
    engine: Engine


class CascadingQuery(Protocol):
    """What the cascade reads of one encoded query (`reranker.EncodedQuery` meets it): the first pass's inputs
    (one per distinct text), which distinct text each document is, the tie order, and whether the input order
    is a ranking."""

    @property
    def first_pass(self) -> EncodedPairs | None: ...
    @property
    def unique(self) -> int: ...
    @property
    def slots(self) -> np.ndarray: ...
    @property
    def ties(self) -> np.ndarray: ...
    @property
    def ranked_input(self) -> bool: ...


def build_cascade(
    folder: Path,
    *,
    model: str | Path | None,
    keep: int | None,
    length: int | None,
    main: PairEncoder,
    load: Callable[[str | Path, int | None], FirstPassScorer],
) -> Cascade | None:
    """The cascade `Reranker`'s settings ask for (None: none): `model` "auto" picks by the folder
    (`default_first_pass`), another model is loaded by `load(model, length)`, no model cascades the full model
    into itself on a `length`-token window."""
    if isinstance(model, str) and model == AUTO:
        model = default_first_pass(folder) if length is None else None
    kept = checked_keep(keep, model=model, length=length)
    if kept is None:
        return None
    if model is not None:
        first = load(model, length)
        return Cascade(encoder=first.encoder, keep=kept, scorer=first)
    return Cascade(encoder=self_cascade_encoder(main, length), keep=kept, scorer=None)


def default_first_pass(folder: Path) -> str | None:
    """The first-pass model `cascade_model="auto"` picks for the model in `folder`: crossrank-tiny for the
    built-in crossrank-default (the default path), the folder's own `first-pass/` model where it has one (what
    `crossrank adapt` writes), none for any other model."""
    if folder.resolve() == default_model_dir().resolve():
        return DEFAULT_CASCADE_MODEL
    own = folder / FIRST_PASS_FOLDER
    return str(own) if (own / "config.json").is_file() else None


def checked_keep(keep: int | None, *, model: object, length: int | None) -> int | None:
    """How many documents go on to the full model (None: no cascade); refuses settings that contradict."""
    if keep is None and model is not None:
        keep = MODEL_CASCADE_KEEP
    if keep is None:
        if length is not None:
            raise InputError("cascade_length needs cascade_keep (how many documents go on)")
        return None
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise InputError(f"cascade_keep must be a positive integer or None, got {keep!r}")
    return keep


def self_cascade_encoder(main: PairEncoder, length: int | None) -> PairEncoder:
    """The first pass of a model cascading into itself: the same tokenizer on a `length`-token window."""
    length = 64 if length is None else length
    if not 8 <= length < main.max_length:
        raise InputError(
            f"cascade_length must be at least 8 and below the {main.max_length}-token window, got {length}"
        )
    return PairEncoder(main.tokenizer, max_length=length)


@dataclass(frozen=True, slots=True)
class Cascade:
    """The cascade's first pass: `scorer` (a smaller model; None: the full model on a shorter window) scores
    every document, tokenized by `encoder`, and the best `keep` go on to the full model."""

    encoder: PairEncoder
    keep: int
    scorer: FirstPassScorer | None

    def kept(self, margins: np.ndarray, slots: np.ndarray, ties: np.ndarray, *, ranked_input: bool) -> np.ndarray:
        """The documents (positions, ascending) the full model scores: the best `keep` of the first pass's
        margins (`margins[s]`: distinct text s; equal margins in ascending `ties`), a kept text's duplicates
        with it. With `ranked_input` the first pass's order is fused with the input order (a first stage's)."""
        best = best_kept(margins[slots], self.keep, ties=ties, fuse_order=ranked_input)
        return np.flatnonzero(np.isin(slots, slots[best]))

    def first_name(self, full: ModelSpec) -> str:
        """The name results scored only by the first pass carry."""
        return f"{full.name}@{self.encoder.max_length}" if self.scorer is None else self.scorer.spec.name

    def name(self, full: ModelSpec) -> str:
        """The cascade's name: "crossrank-tiny top-15 > crossrank-default", or "model cascade 15@64"."""
        if self.scorer is None:
            return f"{full.name} cascade {self.keep}@{self.encoder.max_length}"
        return f"{self.scorer.spec.name} top-{self.keep} > {full.name}"

    def inputs(
        self,
        main: PairEncoder,
        query: str,
        tokenized: TokenizedDocuments,
        unique: list[str],
        *,
        documents: int,
        max_document_tokens: int | None,
    ) -> EncodedPairs | None:
        """The first pass's inputs for one query's distinct texts (None when it keeps them all anyway); the
        full model's tokens are reused where the vocabularies are the same, else the texts are tokenized again."""
        if documents <= self.keep:
            return None
        if not self.encoder.same_tokens_as(main):
            tokenized = self.encoder.tokenize(unique, max_document_tokens=max_document_tokens)
        return self.encoder.assemble(query, tokenized)

    def run(
        self,
        queries: Sequence[CascadingQuery],
        own_engine: Engine,
        *,
        raw: bool,
        should_stop: Callable[[], bool] | None,
    ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """The first pass over every query that cascades, all sharing the workers: for each such query (by its
        position) the documents the full model scores and every document's first-pass score. `own_engine`
        scores when the cascade's first pass is the full model on a short window."""
        cascading = [(i, q, q.first_pass) for i, q in enumerate(queries) if q.first_pass is not None]
        kept: dict[int, np.ndarray] = {}
        first: dict[int, np.ndarray] = {}
        if not cascading:
            return kept, first
        engine = own_engine if self.scorer is None else self.scorer.engine
        inputs, sizes = [p for _, _, p in cascading], [q.unique for _, q, _ in cascading]
        scored = engine.score_documents(inputs, sizes, raw=True, show_progress=False, should_stop=should_stop)
        for (i, q, _), (unique_margins, _) in zip(cascading, scored, strict=True):
            kept[i] = self.kept(unique_margins, q.slots, q.ties, ranked_input=q.ranked_input)
            first[i] = engine.activation.apply(unique_margins[q.slots], raw=raw)
        return kept, first


def best_kept(scores: np.ndarray, keep: int, *, ties: np.ndarray, fuse_order: bool = False) -> np.ndarray:
    """Positions of the `keep` best scores, ascending (equal scores in ascending `ties`). With `fuse_order`, the
    best of the scores' order fused by reciprocal rank with the documents' own order (a first stage's ranking)."""
    order = best_first(scores, ties=ties)
    if fuse_order:
        fused = fuse_with_first_stage(order.tolist(), list(range(len(scores))))
        return np.sort(np.array([position for position, _ in fused[:keep]], dtype=np.int64))
    return np.sort(order[:keep])


def assemble(
    *,
    documents: int,
    kept: np.ndarray,
    main: np.ndarray,
    first: np.ndarray | None,
    model: str,
    first_pass_model: str | None,
    document_tokens: np.ndarray,
    ties: np.ndarray,
    windows: np.ndarray | None = None,
) -> Ranking:
    """The kept documents by the full model's scores (`main`, aligned with `kept`), then the others by their
    first-pass scores, each capped at the score above it so scores never increase down the list. Equal scores
    come in ascending `ties` (one key per document)."""
    best = best_first(main, ties=ties[kept])
    order, ordered = kept[best], main[best]
    ordered_windows = np.zeros(len(order), dtype=np.int64) if windows is None else windows[best]
    from_first = np.zeros(len(order), dtype=bool)
    if first is not None and len(kept) < documents:
        rest = np.setdiff1d(np.arange(documents), kept)
        rest_order = rest[best_first(first[rest], ties=ties[rest])]
        floor = ordered[-1] if len(ordered) else np.inf
        capped = np.minimum(first[rest_order], floor)
        order = np.concatenate([order, rest_order])
        ordered = np.concatenate([ordered, capped])
        ordered_windows = np.concatenate([ordered_windows, np.zeros(len(rest_order), dtype=np.int64)])
        from_first = np.concatenate([from_first, np.ones(len(rest_order), dtype=bool)])
    return Ranking(
        positions=order,
        scores=ordered,
        from_first_pass=from_first,
        model=model,
        first_pass_model=first_pass_model if from_first.any() else None,
        document_tokens=document_tokens,
        windows=ordered_windows,
    )
