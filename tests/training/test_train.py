"""`crossrank train` end to end on a toy task with a tiny model: loss falls, held-out accuracy beats chance,
the output loads in crossrank and in transformers, and a resumed run continues where it stopped."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from crossrank import InputError, Reranker
from crossrank.training.data import Group, load_groups
from crossrank.training.trainer import TrainConfig, train
from tests.tiny_models import CORPUS

WORDS = sorted({w for line in CORPUS for w in line.split()})
NEGATIVES = 3


def toy_groups(count: int, seed: int) -> list[Group]:
    """Relevant = the passage contains both query words; negatives share none of them."""
    rng = random.Random(seed)
    groups = []
    for _ in range(count):
        a, b = rng.sample(WORDS, 2)
        others = [w for w in WORDS if w not in (a, b)]
        positive = " ".join(rng.sample(others, 4) + [a, b])
        negatives = tuple(" ".join(rng.sample(others, 6)) for _ in range(NEGATIVES))
        groups.append(Group(f"{a} {b}", positive, negatives, "toy"))
    return groups


@pytest.mark.slow  # ~50-190 s on 2 cores
def test_training_learns_the_toy_task(tiny_bert: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        base=str(tiny_bert),
        out=str(tmp_path / "model"),
        epochs=5,
        lr=1e-3,
        warmup=0.05,
        max_length=64,
        groups_per_step=8,
        holdout=0.2,
        seed=0,
        patience=5,
        checkpoint_every=1000,
    )
    history = train(toy_groups(800, seed=1), config)
    assert len(history) == 5
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].heldout_accuracy > 0.5  # chance is 1 / (1 + NEGATIVES) = 0.25
    trained = json.loads((tmp_path / "model" / "training.json").read_text())
    assert trained["config"]["seed"] == 0
    reranker = Reranker(tmp_path / "model", backend="torch")
    assert reranker.spec.activation == "sigmoid" and reranker.spec.max_length == 64
    group = toy_groups(1, seed=99)[0]
    scores = reranker.score([(group.query, p) for p in (group.positive, *group.negatives)])
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.slow  # ~8 s: a model export or two training runs
def test_resume_continues_from_the_checkpoint(tiny_bert: Path, tmp_path: Path) -> None:
    base = dict(base=str(tiny_bert), out=str(tmp_path / "m"), lr=1e-3, max_length=64, holdout=0.2, patience=5)
    groups = toy_groups(60, seed=2)
    first = train(groups, TrainConfig(epochs=1, **base))  # type: ignore[arg-type]
    resumed = train(groups, TrainConfig(epochs=2, **base), resume=True)  # type: ignore[arg-type]
    assert [h.epoch for h in resumed] == [1, 2]
    assert resumed[0] == first[0]  # epoch 1 was not redone


def test_stop_after_then_resume_equals_one_uninterrupted_run(tiny_bert: Path, tmp_path: Path) -> None:
    settings = dict(base=str(tiny_bert), lr=1e-3, max_length=64, holdout=0.2, patience=5, epochs=2, threads=1)
    groups = toy_groups(40, seed=3)
    whole = train(groups, TrainConfig(out=str(tmp_path / "whole"), **settings))  # type: ignore[arg-type]
    split = TrainConfig(out=str(tmp_path / "split"), **settings)  # type: ignore[arg-type]
    assert [h.epoch for h in train(groups, split, stop_after=1)] == [1]
    resumed = train(groups, split, resume=True, stop_after=1)
    assert [h.epoch for h in resumed] == [1, 2]
    for a, b in zip(whole, resumed, strict=True):  # same schedule, same data order: the same training
        assert a.train_loss == pytest.approx(b.train_loss, abs=1e-6)
        assert a.heldout_mrr == pytest.approx(b.heldout_mrr, abs=1e-6)


def test_train_layers_leaves_the_embeddings_and_lower_layers_as_the_base_had_them(
    tiny_bert: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file

    config = TrainConfig(
        base=str(tiny_bert), out=str(tmp_path / "m"), lr=1e-3, max_length=64, holdout=0.2, train_layers=1, threads=1
    )
    train(toy_groups(40, seed=4), config)
    before, after = load_file(tiny_bert / "model.safetensors"), load_file(tmp_path / "m" / "model.safetensors")
    top = max(int(name.split(".")[3]) for name in before if name.startswith("bert.encoder.layer."))
    moved = {name for name in before if name in after and not np.array_equal(before[name], after[name])}
    assert moved, "nothing trained"
    trainable = (f"bert.encoder.layer.{top}.", "bert.pooler.", "classifier.")
    assert {name for name in moved if not name.startswith(trainable)} == set()
    assert any(name.startswith(f"bert.encoder.layer.{top}.") for name in moved)
    assert "classifier.weight" in moved
    with pytest.raises(InputError, match="--train-layers 9: the model has"):
        train(toy_groups(8, seed=5), TrainConfig(base=str(tiny_bert), out=str(tmp_path / "n"), train_layers=9))


def test_data_sources(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "Question\tSentence\tLabel\n"
        "what do cats chase\tdogs chase cats in the garden\t0\n"
        "what do cats chase\tthe cat sat on the mat\t1\n"
        "what do cats chase\train falls on the city at night\t0\n"
        "unanswered question\tquantum physics explains the spectrum of hydrogen\t0\n"
    )
    groups, stats = load_groups(str(pairs), negatives=2, seed=0)
    assert stats == {"queries": 2, "skipped_malformed_rows": 0, "dropped_no_positive": 1, "groups": 1}
    assert groups[0].positive == "the cat sat on the mat"
    assert set(groups[0].negatives) == {"dogs chase cats in the garden", "rain falls on the city at night"}

    triples = tmp_path / "triples.jsonl"
    triples.write_text(json.dumps({"query": "capital of france", "positive": CORPUS[8]}) + "\n")
    triples.write_text(triples.read_text() + "\n".join(json.dumps({"query": c, "positive": c}) for c in CORPUS[:4]))
    mined, _ = load_groups(str(triples), negatives=2, seed=0)
    assert all(len(g.negatives) == 2 and g.positive not in g.negatives for g in mined)

    broken = tmp_path / "broken.tsv"
    broken.write_text("query\tpassage\tlabel\nq\tp\t1\textra\n")
    with pytest.raises(InputError, match=r"broken.tsv:2: expected 3 fields; fix the row or pass --skip-malformed"):
        load_groups(str(broken), negatives=1, seed=0)
    bad_label = tmp_path / "label.tsv"
    bad_label.write_text("query\tpassage\tlabel\nq\tp\tyes\n")
    with pytest.raises(InputError, match=r"label.tsv:2: label 'yes' is not a number"):
        load_groups(str(bad_label), negatives=1, seed=0)


@pytest.mark.slow  # ~8 s: a model export or two training runs
def test_distillation_from_a_teacher(tiny_bert: Path, tmp_path: Path) -> None:
    """With only the teacher term (distill=1), a teacher that prefers the positive teaches the task."""
    groups = [
        Group(g.query, g.positive, g.negatives, g.source, teacher=(1.0, *(0.0,) * NEGATIVES))
        for g in toy_groups(800, seed=3)
    ]
    config = TrainConfig(
        base=str(tiny_bert),
        out=str(tmp_path / "m"),
        epochs=4,
        lr=1e-3,
        warmup=0.05,
        max_length=64,
        holdout=0.2,
        patience=5,
        distill=1.0,
    )
    history = train(groups, config)
    assert history[-1].heldout_accuracy > 0.4  # chance is 0.25
    with pytest.raises(InputError, match="distillation needs teacher scores"):
        train(toy_groups(20, seed=4), config)


@pytest.mark.slow
def test_fused_teacher_is_the_mean_of_standardised_teacher_scores(tmp_path: Path) -> None:
    from crossrank.training.teachers import TEACHER_SCALE, with_teacher_scores

    groups = [
        Group("how do wings make lift", CORPUS[0], tuple(CORPUS[1:4]), "toy"),
        Group("what is the capital of france", CORPUS[1], (CORPUS[0], CORPUS[2], CORPUS[4]), "toy"),
    ]
    names = ("biencoder", "splade")  # alone, each at its training scale; fused, standardised raw scores
    singles = [with_teacher_scores(groups, [name], cache_dir=tmp_path) for name in names]
    fused = with_teacher_scores(groups, list(names), cache_dir=tmp_path)
    for row, group in enumerate(fused):
        parts = [
            np.array(single[row].teacher) / TEACHER_SCALE.get(n, 1.0) for n, single in zip(names, singles, strict=True)
        ]
        expected = np.mean([(p - p.mean()) / (p.std() + 1e-6) for p in parts], axis=0)
        assert group.teacher is not None
        np.testing.assert_allclose(group.teacher, expected, atol=1e-9)
        assert len(set(np.round(parts[0], 6))) > 1  # the teachers do discriminate: the check is not vacuous


@pytest.mark.slow
def test_embedding_teacher_scores_equal_scoring_each_group_on_its_own(tmp_path: Path) -> None:
    """A bi-encoder teacher embeds every passage of the set in one length-sorted pass (cheap); the scores must be
    those of reranking each group's passages by themselves."""
    from crossrank.scorers import load_baseline
    from crossrank.training.teachers import with_teacher_scores

    groups = [
        Group("how do wings make lift", CORPUS[0], tuple(CORPUS[1:4]), "toy"),
        Group("what is the capital of france", CORPUS[1], (CORPUS[0], CORPUS[2], CORPUS[4]), "toy"),
    ]
    for group in with_teacher_scores(groups, ["biencoder"], cache_dir=tmp_path):
        expected = np.zeros(1 + len(group.negatives))
        for result in load_baseline("biencoder").rerank(group.query, [group.positive, *group.negatives]):
            expected[result.index] = result.score
        assert group.teacher is not None  # alone, the cosines times the scale of the model's contrastive training
        np.testing.assert_allclose(group.teacher, expected * 20.0, atol=2e-5)
        assert len(set(np.round(expected, 4))) == len(expected)


def test_one_embedding_teacher_targets_its_contrastive_logits_not_flat_cosines(tmp_path: Path) -> None:
    """Cosines a few hundredths apart, used as logits, make a near-uniform target (the student learns flat scores);
    alone, an embedding teacher's scores are scaled to the logits it was trained on, a BM25 teacher's kept."""
    from crossrank.training.teachers import with_teacher_scores

    cosines = np.array([0.62, 0.55, 0.41, 0.40, 0.38])
    groups = [Group("how do wings make lift", CORPUS[0], tuple(CORPUS[1:5]), "toy")]

    def scored_elsewhere(chosen: object, teacher: str) -> list[np.ndarray]:
        return [cosines.copy()]

    for teacher, scale in (("mpnet", 20.0), ("biencoder", 20.0), ("e5", 100.0)):
        (group,) = with_teacher_scores(groups, [teacher], cache_dir=tmp_path / teacher, elsewhere=scored_elsewhere)
        assert group.teacher is not None
        np.testing.assert_allclose(group.teacher, cosines * scale)
        target = np.exp(np.array(group.teacher) - max(group.teacher))
        assert target[0] / target.sum() > 0.5  # the raw cosines' softmax gives the positive 0.23
    (fused,) = with_teacher_scores(groups, ["mpnet", "e5"], cache_dir=tmp_path / "both", elsewhere=scored_elsewhere)
    assert fused.teacher is not None
    np.testing.assert_allclose(fused.teacher, (cosines - cosines.mean()) / (cosines.std() + 1e-6), atol=1e-9)


def test_weighted_teachers_fuse_as_the_weighted_mean_of_standardised_scores(tmp_path: Path) -> None:
    from crossrank.training.teachers import with_teacher_scores

    raw = {"mpnet": np.array([0.62, 0.55, 0.41, 0.40]), "e5": np.array([0.80, 0.85, 0.79, 0.70])}
    groups = [Group("how do wings make lift", CORPUS[0], tuple(CORPUS[1:4]), "toy")]

    def scored_elsewhere(chosen: object, teacher: str) -> list[np.ndarray]:
        return [raw[teacher].copy()]

    def z(scores: np.ndarray) -> np.ndarray:
        return (scores - scores.mean()) / (scores.std() + 1e-6)

    for specs, expected in (
        (["mpnet:3", "e5"], (3 * z(raw["mpnet"]) + z(raw["e5"])) / 4),
        (["mpnet", "e5:0.5"], (z(raw["mpnet"]) + 0.5 * z(raw["e5"])) / 1.5),
        (["mpnet:2", "e5:2"], (z(raw["mpnet"]) + z(raw["e5"])) / 2),
    ):
        (fused,) = with_teacher_scores(groups, specs, cache_dir=tmp_path, elsewhere=scored_elsewhere)
        assert fused.teacher is not None
        np.testing.assert_allclose(fused.teacher, expected, atol=1e-9)
    (alone,) = with_teacher_scores(groups, ["mpnet:5"], cache_dir=tmp_path, elsewhere=scored_elsewhere)
    np.testing.assert_allclose(alone.teacher or (), raw["mpnet"] * 20.0)  # one teacher: its weight changes nothing


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["mpnet", "mpnet:2"], "teacher 'mpnet' is named twice"),
        (["mpnet:0"], "weight is a positive number, got 'mpnet:0'"),
        (["mpnet:-1"], "weight is a positive number"),
        (["mpnet:heavy"], "weight is a positive number, got 'mpnet:heavy'"),
        (["mpnet:inf"], "weight is a positive number"),
        (["mpnet:nan"], "weight is a positive number"),
        (["gpt:2"], "teachers are default, biencoder"),
        ([], "got none"),
    ],
)
def test_teacher_weights_refuse_what_they_cannot_fuse(specs: list[str], message: str) -> None:
    from crossrank.training.teachers import teacher_weights

    with pytest.raises(InputError, match=re.escape(message)):
        teacher_weights(specs)
    assert teacher_weights(["splade", "default:2.5"]) == {"splade-tiny": 1.0, "default": 2.5}


def test_bm25_teacher_uses_the_term_statistics_of_each_source(tmp_path: Path) -> None:
    from crossrank.retrieval.bm25 import BM25Retriever
    from crossrank.training.teachers import with_teacher_scores

    first = [
        Group("supersonic wing", CORPUS[4], (CORPUS[0], CORPUS[5], CORPUS[3]), "a"),
        Group("heat transfer", CORPUS[5], (CORPUS[4], CORPUS[2], CORPUS[0]), "a"),
    ]
    other = [Group("capital of france", CORPUS[8], (CORPUS[1], CORPUS[6], CORPUS[7]), "b")]
    scored = with_teacher_scores([*first, *other], ["bm25"], cache_dir=tmp_path)
    for groups, rows in ((first, scored[:2]), (other, scored[2:])):
        passages = list(dict.fromkeys(p for g in groups for p in (g.positive, *g.negatives)))
        bm25 = BM25Retriever.build(passages)
        for group, row in zip(groups, rows, strict=True):
            every = bm25.scores(group.query)
            expected = [every[passages.index(p)] for p in (group.positive, *group.negatives)]
            assert row.teacher is not None
            np.testing.assert_allclose(row.teacher, expected, rtol=1e-6)
            assert row.teacher[0] > max(row.teacher[1:])  # the positive holds the query terms
    assert scored[0].teacher is not None and scored[0].teacher[2] == 0.0  # "boundary layer ..." shares no term


def test_teacher_scores_are_kept_in_the_cache_folder_and_read_back_for_the_same_groups_only(tmp_path: Path) -> None:
    from crossrank.training.teachers import with_teacher_scores

    groups = [
        Group("supersonic wing", CORPUS[4], (CORPUS[0], CORPUS[5], CORPUS[3]), "a"),
        Group("heat transfer", CORPUS[5], (CORPUS[4], CORPUS[2], CORPUS[0]), "a"),
    ]
    fresh = [g.teacher for g in with_teacher_scores(groups, ["bm25"], cache_dir=tmp_path)]
    [kept] = (tmp_path / "teachers").glob("bm25-*.npy")
    np.testing.assert_array_equal(np.load(kept), np.concatenate(fresh))
    np.save(kept, np.arange(8.0))  # a second run reads the file, not the teacher
    assert [g.teacher for g in with_teacher_scores(groups, ["bm25"], cache_dir=tmp_path)] == [
        (0.0, 1.0, 2.0, 3.0),
        (4.0, 5.0, 6.0, 7.0),
    ]
    changed = [groups[0], Group("heat transfer", CORPUS[5], (CORPUS[4], CORPUS[2], CORPUS[1]), "a")]
    rescored = with_teacher_scores(changed, ["bm25"], cache_dir=tmp_path)
    assert len(list((tmp_path / "teachers").glob("bm25-*.npy"))) == 2  # other texts, another entry
    assert [g.teacher for g in rescored] == [
        g.teacher for g in with_teacher_scores(changed, ["bm25"], cache_dir=tmp_path / "empty")
    ]
    for damage in (lambda: np.save(kept, np.arange(3.0)), lambda: kept.write_bytes(b"not numpy")):
        damage()  # a file of the wrong size, or no array at all, is not trusted: scored again and replaced
        assert [g.teacher for g in with_teacher_scores(groups, ["bm25"], cache_dir=tmp_path)] == fresh
        assert np.load(kept).shape == (8,)
    assert not list((tmp_path / "teachers").glob(".*"))  # no temporary file left behind


def test_teacher_scores_are_keyed_by_the_scoring_code_only() -> None:
    from crossrank.training.teachers import _takes_part_in_scoring

    scoring = [
        "scorers.py",
        "reranker.py",
        "backends/onnx.py",
        "training/data.py",
        "training/teachers.py",
        "training/on_ray.py",
    ]
    not_scoring = ["training/trainer.py", "training/generate.py", "training/adapt.py", "cli/adapt.py", "server/app.py"]
    assert [_takes_part_in_scoring(Path(m)) for m in scoring] == [True] * len(scoring)
    assert [_takes_part_in_scoring(Path(m)) for m in not_scoring] == [False] * len(not_scoring)


def test_unknown_teacher_is_refused() -> None:
    from crossrank.training.teachers import with_teacher_scores

    with pytest.raises(InputError, match=re.escape("splade-tiny, bm25 (each may end in :weight); got 'tfidf'")):
        with_teacher_scores(toy_groups(2, seed=0), ["tfidf"])
