"""`crossrank adapt`: a reranker for a collection, learned from its documents alone (after GPL, Wang et al. 2022).

1. Pseudo-queries from each document: its title (the positive is the text without it) and inverse-cloze
   sentences from the part the model reads (the positive is the document with that sentence removed); or
   questions a small language model writes for it (`crossrank.training.generate`, `--queries generated`).
2. Hard negatives: the other documents BM25 ranks highest for the pseudo-query.
3. Teacher labels: the teachers' scores of every group (bi-encoder, BM25 and a built-in base; fused), cached.
4. Distillation into both models of the default path: crossrank-tiny (the first pass) and the built-in model
   (or `--base`), each starting from its shipped weights; then ONNX export, static int8 scales and a
   calibration, both fitted on held-out pseudo-groups.

The output folder is the full model, with the adapted first pass in `first-pass/`: `Reranker(OUT)` runs its own
tiny -> full cascade. A rerun on the same folder resumes: the pairs and teacher scores are reused and each
model's training continues from its checkpoint.
"""

from __future__ import annotations

import collections
import functools
import json
import math
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crossrank.cascade import FIRST_PASS_FOLDER
from crossrank.corpora import SourceDocument, read_collection, titled
from crossrank.errors import InputError, MissingExtra, OutputRefused, QueryTruncatedWarning
from crossrank.outputs import MARKER, MODEL, check_output, mark_output, write_atomic
from crossrank.training.data import Group
from crossrank.training.teachers import TeacherScorer

if TYPE_CHECKING:
    from crossrank.training.trainer import EpochResult

WORK = "adapt"
"""Where the pseudo-pairs and the run's record live inside the output."""
GENERATION_SHARE = 0.4
"""The most of a run's time the language model writes queries for; the teachers and the training get the rest."""
_LEAST = {
    "queries_per_document": 1,
    "generated_per_document": 1,
    "consistency_depth": 0,
    "max_queries": 1,
    "first_pass_epochs": 1,
    "negatives": 1,
    "max_length": 8,
    "seed": 0,
    "threads": 1,
    "actors": 1,
}
"""The least value of each integer setting of `AdaptConfig` (`threads` may also be None: torch's own choice)."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class AdaptConfig:
    """Every setting of an adaptation run (saved in OUT/adapt/config.json)."""

    docs: str
    out: str
    base: str = "default"
    first_pass_base: str | None = "tiny"
    minutes: float = 40.0
    queries_per_document: int = 2
    queries: str = "rules"  # "rules", "generated" (a language model's, crossrank.training.generate) or "both"
    generated_per_document: int = 3
    generated_file: str | None = None  # queries the generator already wrote for these documents (by id)
    consistency_depth: int = 20  # BM25's depth for the generated queries' consistency filter (0: no filter)
    teacher_agreement: bool = False  # keep only the pseudo-queries whose own document the teachers rank first
    max_queries: int = 2000
    first_pass_epochs: int = 1  # the first pass is cheap (a minute an epoch on 2 cores): more epochs may fit
    negatives: int = 4
    teachers: tuple[str, ...] | None = None
    distill: float = 0.5
    max_length: int = 256
    lr: float = 5e-5
    seed: int = 0
    threads: int | None = None
    ray: str | None = None  # teachers on Ray Data: "local" or a cluster address (None: here)
    actors: int = 1

    def __post_init__(self) -> None:
        """Refuse a setting out of range here, by its name, not minutes later in the stage that reads it."""
        for name, least in _LEAST.items():
            value = getattr(self, name)
            if not (value is None and name == "threads") and (
                isinstance(value, bool) or not isinstance(value, int) or value < least
            ):
                raise InputError(f"{name} must be an integer of {least} or more, got {value!r}")
        for name, value in (("minutes", self.minutes), ("lr", self.lr)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise InputError(f"{name} must be a positive number, got {value!r}")
        if isinstance(self.distill, bool) or not isinstance(self.distill, int | float) or not 0 <= self.distill <= 1:
            raise InputError(f"distill must be a number from 0 to 1, got {self.distill!r}")
        if self.queries not in ("rules", "generated", "both"):
            raise InputError(f"queries must be 'rules', 'generated' or 'both', got {self.queries!r}")

    @property
    def teacher_names(self) -> tuple[str, ...]:
        """The teachers given, else `default_teachers` of the base."""
        return self.teachers or default_teachers(self.base)


@dataclass(frozen=True, slots=True)
class PseudoQuery:
    """A query made from a document (`doc`: its position), and the document text it should find."""

    query: str
    positive: str
    doc: int
    kind: str  # "title", "heading", "first sentence", "cloze" or "generated"


def sentences(text: str) -> list[str]:
    """The text's sentences (a simple rule: a stop, then space; lower-cased text such as `word . word` too)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def pseudo_queries(
    documents: Sequence[SourceDocument], *, per_document: int, seed: int, read_words: int = 150
) -> list[PseudoQuery]:
    """Up to `per_document` queries per document: its title, first heading or a title-like first sentence (the
    positive: the rest), then inverse-cloze sentences of 4-40 words from its first `read_words` words (what a
    model with a 256-token window reads; the positive: the document without that sentence)."""
    rng = random.Random(seed)
    out: list[PseudoQuery] = []
    for position, doc in enumerate(documents):
        made: list[PseudoQuery] = []
        parts = sentences(doc.text)
        heading = _HEADING.search(doc.text)
        if len(doc.title.split()) >= 3:
            made.append(PseudoQuery(doc.title.strip(), " ".join(doc.text.split()), position, "title"))
        elif heading and len(heading.group(1).split()) >= 3:
            body = " ".join(doc.text.replace(heading.group(0), " ", 1).split())
            made.append(PseudoQuery(heading.group(1).strip(), body, position, "heading"))
        elif len(parts) >= 3 and 3 <= len(parts[0].split()) <= 25:  # a first line that reads as a title
            made.append(PseudoQuery(parts[0], " ".join(parts[1:]), position, "first sentence"))
        seen, readable = 0, []
        for k, sentence in enumerate(parts):
            if seen > read_words:
                break
            seen += len(sentence.split())
            if k > 0 and 4 <= len(sentence.split()) <= 40 and len(parts) >= 3:
                readable.append(k)
        rng.shuffle(readable)
        for k in readable[: max(per_document - len(made), 0)]:
            rest = " ".join(parts[:k] + parts[k + 1 :])
            made.append(PseudoQuery(parts[k], titled(doc.title, rest), position, "cloze"))
        out += made[:per_document]
    return out


def hard_negative_groups(
    documents: Sequence[SourceDocument], queries: Sequence[PseudoQuery], *, negatives: int, seed: int
) -> list[Group]:
    """Each pseudo-query with `negatives` other documents from BM25's top 30 for it (the best first)."""
    from crossrank.retrieval.bm25 import BM25Retriever

    texts = [titled(d.title, d.text) for d in documents]
    bm25 = BM25Retriever.build(texts)
    hits = bm25.retrieve([q.query for q in queries], k=min(30, len(texts)))
    rng = random.Random(seed)
    groups = []
    for query, hit in zip(queries, hits, strict=True):
        others = [p for p in hit.positions.tolist() if p != query.doc]
        if len(others) < negatives:  # a query sharing too few words with the collection: fill at random
            pool = [p for p in range(len(texts)) if p != query.doc and p not in others]
            others += rng.sample(pool, min(negatives - len(others), len(pool)))
        if len(others) < negatives:
            continue
        chosen = others[:negatives]
        groups.append(Group(query.query, query.positive, tuple(texts[p] for p in chosen), query.kind))
    return groups


def default_teachers(base: str) -> tuple[str, ...]:
    """The bi-encoder and BM25 bring what the collection's words and meanings say; the built-in model, when it is
    the base, joins them, so the fused target keeps what the base already ranks well (a base under other terms,
    e.g. `minilm` for a model free of crossrank-default's, never learns from crossrank-default)."""
    return ("biencoder", "bm25", "default") if base == "default" else ("biencoder", "bm25")


def capped(queries: Sequence[PseudoQuery], *, most: int, seed: int) -> list[PseudoQuery]:
    """At most `most` pseudo-queries, a seeded sample in collection order: teachers then score only what the
    time budget can train (two cores train ~2,000 groups of the built-in model in 40 minutes)."""
    if len(queries) <= most:
        return list(queries)
    keep = sorted(random.Random(seed).sample(range(len(queries)), most))
    return [queries[k] for k in keep]


def adapt(config: AdaptConfig, *, show_progress: bool, say: Callable[[str], None]) -> Path:
    """Run (or resume) the adaptation into `config.out`; return the output folder. A pseudo-query longer than
    a quarter of the window is cut without a warning per pair (an inverse-cloze sentence may be long)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryTruncatedWarning)
        return _adapt(config, show_progress=show_progress, say=say)


def _adapt(config: AdaptConfig, *, show_progress: bool, say: Callable[[str], None]) -> Path:
    from crossrank.training.query_filters import teachers_agree
    from crossrank.training.teachers import teacher_weights, with_teacher_scores

    started = time.monotonic()
    deadline = started + config.minutes * 60
    teacher_weights(config.teacher_names)  # refused now, not after the minutes of generating queries
    out = check_output(Path(config.out), MODEL, inputs=[Path(config.docs)])
    saved = out / WORK / "config.json"
    if out.is_dir() and not saved.is_file() and any(p.name != MARKER for p in out.iterdir()):
        # a `crossrank train` output (same kind): its checkpoint must not be resumed as this run's
        raise OutputRefused(f"{out} holds a crossrank model that adapt did not make; rerun with a new --out")
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, MODEL)
    saved.parent.mkdir(exist_ok=True)
    if saved.is_file() and json.loads(saved.read_text(encoding="utf-8")) != _jsonable(config):
        raise InputError(f"{out} holds an adaptation with other settings; rerun with a new --out")
    write_atomic(saved, json.dumps(_jsonable(config), indent=2))

    documents, skipped = read_collection(Path(config.docs))
    if len(documents) < 10:
        raise InputError(f"{config.docs}: {len(documents)} documents with text; adapting needs at least 10")
    say(f"{len(documents)} documents ({len(skipped)} files skipped)")
    queries = (
        []
        if config.queries == "generated"
        else pseudo_queries(documents, per_document=config.queries_per_document, seed=config.seed)
    )
    generated = _generated(config, documents, out, say, deadline=started + GENERATION_SHARE * config.minutes * 60)
    queries = capped(queries + generated, most=config.max_queries, seed=config.seed)
    groups = hard_negative_groups(documents, queries, negatives=config.negatives, seed=config.seed)
    kinds = dict(collections.Counter(g.source for g in groups))
    say(
        f"{len(groups)} pseudo-queries with {config.negatives} hard negatives each ({kinds}; "
        f"{_minutes(started)} min so far)"
    )
    teachers = config.teacher_names
    scored = with_teacher_scores(groups, teachers, show_progress=show_progress, elsewhere=_on_ray(config, out))
    groups = teachers_agree(scored) if config.teacher_agreement else scored
    say(f"teachers scored: {', '.join(teachers)} ({_minutes(started)} min so far); {len(groups)}/{len(scored)} kept")
    if len(groups) < 20:  # after the teachers' agreement too, which may keep half
        raise InputError(f"{config.docs}: only {len(groups)} pseudo-queries made and kept; adapting needs 20")

    histories = _train_models(config, groups, out=out, deadline=deadline, show_progress=show_progress, say=say)
    from crossrank.training.card import write_card

    write_card(
        out, config, documents=len(documents), groups=len(groups), histories=histories, minutes=_minutes(started)
    )
    say(f"adapted in {_minutes(started)} min: {out}")
    return out


def _generated(
    config: AdaptConfig,
    documents: Sequence[SourceDocument],
    out: Path,
    say: Callable[[str], None],
    *,
    deadline: float,
) -> list[PseudoQuery]:
    """The language model's queries (filtered) when `config.queries` asks for them: for enough documents to give
    `max_queries` (a quarter more, for what the filters drop), on every core, until `deadline`; a rerun keeps what
    the first run generated. Without the `generate` extra, none, and the run says it goes on with the rule-made
    pseudo-queries."""
    if config.queries == "rules":
        return []
    from crossrank.training.generate import generated_queries, generator_workers

    texts = [titled(d.title, d.text) for d in documents]
    finished = out / WORK / "generation-finished"
    try:
        workers, make_generator = generator_workers(config.threads)
        kept = generated_queries(
            [(d.doc_id, text) for d, text in zip(documents, texts, strict=True)],
            out / WORK,
            per_document=config.generated_per_document,
            consistency_k=config.consistency_depth,
            seed=config.seed,
            say=say,
            reuse=None if config.generated_file is None else Path(config.generated_file),
            most_documents=0
            if finished.exists()
            else math.ceil(1.25 * config.max_queries / config.generated_per_document),
            workers=workers,
            deadline=deadline,
            make_generator=make_generator,
        )
        write_atomic(finished, "the generator stage ended; a rerun trains on the queries it wrote\n")
    except MissingExtra as exc:
        say(f"no generated queries: {exc}; going on with the rule-made pseudo-queries")
        if config.queries == "both":
            return []
        return pseudo_queries(documents, per_document=config.queries_per_document, seed=config.seed)
    return [PseudoQuery(query, texts[doc], doc, "generated") for doc, query in kept]


def _on_ray(config: AdaptConfig, out: Path) -> TeacherScorer | None:
    """The teachers' scoring on Ray Data when `config.ray` names where (Ray's log in OUT/adapt/ray.log)."""
    if config.ray is None:
        return None
    from crossrank.batch.rows import Workers
    from crossrank.training.on_ray import teacher_scores_on_ray

    workers = Workers(ray_address=config.ray, actors=config.actors)
    return functools.partial(teacher_scores_on_ray, workers=workers, log=out / WORK / "ray.log")


def _jsonable(config: AdaptConfig) -> dict[str, object]:
    body = asdict(config)
    body["teachers"] = list(config.teacher_names)
    for key in ("minutes", "ray", "actors"):  # a rerun may bring another budget, or score elsewhere
        body.pop(key)
    return body


def _minutes(started: float) -> str:
    return f"{(time.monotonic() - started) / 60:.1f}"


def _train_models(
    config: AdaptConfig,
    groups: Sequence[Group],
    *,
    out: Path,
    deadline: float,
    show_progress: bool,
    say: Callable[[str], None],
) -> dict[str, list[EpochResult]]:
    """The first pass (15% of the time left, its epochs as configured) then the full model (the rest, less two
    minutes for export; one epoch), each resumed from its checkpoint, exported and calibrated; their histories."""
    from crossrank.basemodels import built_in_as_base, resolve_base
    from crossrank.training.finish import base_calibration, export_adapted
    from crossrank.training.trainer import TrainConfig, train

    plans = [("full", out, str(resolve_base(config.base)), 1.0, 1)]
    if config.first_pass_base is not None:
        tiny_base = (
            built_in_as_base("crossrank-tiny")
            if config.first_pass_base == "tiny"
            else resolve_base(config.first_pass_base)
        )
        plans.insert(0, ("first pass", out / FIRST_PASS_FOLDER, str(tiny_base), 0.15, config.first_pass_epochs))
    histories: dict[str, list[EpochResult]] = {}
    for label, folder, base, share, epochs in plans:
        base_name = config.base if label == "full" else config.first_pass_base
        budget = max((deadline - time.monotonic() - 120) * share, 30.0)  # two minutes kept for export
        train_config = TrainConfig(
            base=base,
            out=str(folder),
            epochs=epochs,
            lr=config.lr,
            max_length=config.max_length,
            seed=config.seed,
            distill=config.distill,
            threads=config.threads,
            holdout=0.05,
            base_name=base_name,
            sources=(config.docs,),
            negatives=config.negatives,
            teachers=config.teacher_names,
        )
        say(f"training the {label} model for at most {budget / 60:.1f} min")
        histories[label] = train(groups, train_config, resume=True, show_progress=show_progress, time_limit_s=budget)
        export_adapted(folder, groups, seed=config.seed, base_calibration=base_calibration(base_name), say=say)
    return histories
