"""`crossrank adapt` end to end on a tiny corpus with a toy base: the loss over its pseudo-queries falls, the
output loads with `Reranker` and runs its own cascade, scores are probabilities, a rerun resumes instead of
starting over, and `--out` follows the never-destroy rules."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crossrank import Reranker
from crossrank.corpora import read_collection
from crossrank.models import built_in_dir
from crossrank.outputs import MARKER, MODEL, mark_output
from crossrank.training.adapt import hard_negative_groups, pseudo_queries
from tests.tiny_models import CORPUS

WORDS = sorted({w for line in CORPUS for w in line.split()})


def write_corpus(folder: Path, *, documents: int = 30, seed: int = 0) -> Path:
    """Markdown files, each on a topic of its own few words: a heading, then five sentences of them."""
    rng = random.Random(seed)
    folder.mkdir()
    for k in range(documents):
        topic = rng.sample(WORDS, 5)
        sentences = [" ".join(rng.choices(topic, k=6) + rng.sample(WORDS, 1)) + "." for _ in range(5)]
        heading = f"# {' '.join(topic[:3])}\n\n" if k % 2 else ""
        (folder / f"doc{k:02d}.md").write_text(heading + " ".join(sentences) + "\n", encoding="utf-8")
    return folder


def adapt(docs: Path, out: Path, base: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crossrank.cli", "adapt", str(docs), "--out", str(out)]
    command += ["--base", str(base), "--first-pass-base", str(base), "--teacher", "bm25", "--lr", "2e-3"]
    command += ["--max-length", "96", "--minutes", "3", "--no-progress", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def listwise_loss(reranker: Reranker, docs: Path) -> float:
    """Mean softmax cross-entropy of each pseudo-query's positive against its hard negatives."""
    documents, _ = read_collection(docs)
    groups = hard_negative_groups(documents, pseudo_queries(documents, per_document=2, seed=0), negatives=4, seed=0)
    losses = []
    for group in groups:
        logits = np.array(reranker.score([(group.query, t) for t in (group.positive, *group.negatives)], raw=True))
        losses.append(float(np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[0]))
    return float(np.mean(losses))


@pytest.mark.slow  # ~40-90 s on 2 cores
def test_adapt_learns_loads_resumes_and_guards_its_output(
    tiny_bert: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    docs = write_corpus(tmp_path / "docs")
    base = Path(shutil.copytree(tiny_bert, tmp_path / "base"))  # a base that ships a calibration keeps it
    shutil.copyfile(built_in_dir("crossrank-tiny") / "calibration.json", base / "calibration.json")
    out = tmp_path / "adapted"
    two = ("--first-pass-epochs", "2", "--minutes", "10")  # the first pass may train more epochs than the full one
    done = adapt(docs, out, base, *two)
    assert done.returncode == 0, done.stderr
    assert "30 documents" in done.stderr and "pseudo-queries" in done.stderr
    assert json.loads((out / "first-pass" / "training.json").read_text())["config"]["epochs"] == 2
    assert json.loads((out / "training.json").read_text())["config"]["epochs"] == 1
    assert done.stderr.count("epoch 1:") == 2 and done.stderr.count("epoch 2:") == 1, done.stderr

    adapted = Reranker(out)
    assert adapted.cascade is not None and adapted.cascade.scorer is not None
    assert Path(adapted.cascade.scorer.spec.path) == out / "first-pass"
    assert adapted.backend.name == "onnx-int8"  # static int8, fitted on held-out pseudo-pairs
    results = adapted.rerank("cat garden", [p.read_text() for p in sorted(docs.iterdir())])
    assert len(results) == 30 and all(0.0 <= r.score <= 1.0 for r in results)
    before = listwise_loss(Reranker(tiny_bert, backend="onnx"), docs)
    after = listwise_loss(Reranker(out, backend="onnx", cascade_model=None), docs)
    assert after < before - 0.05, (before, after)
    assert "No queries or judgements" in (out / "README.md").read_text()
    assert (out / "calibration.json").read_text() == (base / "calibration.json").read_text()

    weights = (out / "model.safetensors").read_bytes()
    again = adapt(docs, out, base, *two)  # its own earlier output: resumes, trains nothing twice
    assert again.returncode == 0, again.stderr
    assert (out / "model.safetensors").read_bytes() == weights
    assert "epoch 1:" not in again.stderr

    other = adapt(docs, out, base, *two, "--negatives", "3")
    assert other.returncode == 2 and "other settings" in other.stderr and str(out) in other.stderr
    teachers_alone = adapt(docs, out, base, *two, "--distill", "1")  # the teachers' weight is a setting of the run
    assert teachers_alone.returncode == 2 and "other settings" in teachers_alone.stderr
    unchecked = adapt(docs, out, base, *two, "--consistency-depth", "0")  # so is the generated queries' filter
    assert unchecked.returncode == 2 and "other settings" in unchecked.stderr
    saved = json.loads((out / "adapt" / "config.json").read_text())
    assert saved["distill"] == 0.5 and saved["consistency_depth"] == 20 and saved["first_pass_epochs"] == 2
    one = adapt(docs, out, base)  # and so is the first pass's number of epochs
    assert one.returncode == 2 and "other settings" in one.stderr

    trained = tmp_path / "trained"  # `crossrank train`'s output is a model folder too, but not adapt's to resume
    trained.mkdir()
    mark_output(trained, MODEL)
    (trained / "training.json").write_text("{}")
    refused = adapt(docs, trained, base)
    assert refused.returncode == 2 and str(trained) in refused.stderr and "adapt did not make" in refused.stderr
    assert sorted(p.name for p in trained.iterdir()) == sorted([MARKER, "training.json"])

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    refused = adapt(docs, theirs, base)
    assert refused.returncode == 2 and str(theirs) in refused.stderr
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]


def test_the_cli_defaults_are_the_library_defaults() -> None:
    """`crossrank adapt` with no options runs exactly `AdaptConfig`'s defaults (the CLI restates them for --help)."""
    import dataclasses

    from crossrank.cli import build_parser
    from crossrank.training.adapt import AdaptConfig

    args = build_parser().parse_args(["adapt", "docs", "--out", "out"])
    renamed = {"generated_file": "generated_queries", "teachers": "teacher"}
    for field in dataclasses.fields(AdaptConfig):
        if field.name in ("docs", "out"):
            continue
        given = getattr(args, renamed.get(field.name, field.name))
        if field.name == "first_pass_base":
            given = None if given == "none" else given
        assert given == field.default, field.name


def test_teachers_it_cannot_fuse_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    from crossrank.errors import InputError
    from crossrank.training.adapt import AdaptConfig
    from crossrank.training.adapt import adapt as run_adapt

    docs = write_corpus(tmp_path / "docs")
    for teachers, message in ((("mpnet", "mpnet:2"), "named twice"), (("bm25:0",), "positive number")):
        config = AdaptConfig(docs=str(docs), out=str(tmp_path / "out"), teachers=teachers)
        with pytest.raises(InputError, match=message):
            run_adapt(config, show_progress=False, say=print)
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("first_pass_epochs", 0, "first_pass_epochs must be an integer of 1 or more, got 0"),
        ("negatives", 2.5, "negatives must be an integer of 1 or more, got 2.5"),
        ("max_length", 4, "max_length must be an integer of 8 or more, got 4"),
        ("consistency_depth", -1, "consistency_depth must be an integer of 0 or more, got -1"),
        ("seed", True, "seed must be an integer of 0 or more, got True"),
        ("threads", 0, "threads must be an integer of 1 or more, got 0"),
        ("minutes", float("nan"), "minutes must be a positive number, got nan"),
        ("lr", 0.0, "lr must be a positive number, got 0.0"),
        ("distill", 1.5, "distill must be a number from 0 to 1, got 1.5"),
        ("queries", "llm", "queries must be 'rules', 'generated' or 'both', got 'llm'"),
    ],
)
def test_a_setting_out_of_range_is_refused_by_name_when_the_config_is_made(
    setting: str, value: object, message: str
) -> None:
    """The library refuses what the CLI's argument types refuse, at construction, not in the stage that reads it."""
    from crossrank.errors import InputError
    from crossrank.training.adapt import AdaptConfig

    with pytest.raises(InputError) as refused:
        AdaptConfig(docs="docs", out="out", **{setting: value})  # type: ignore[arg-type]
    assert str(refused.value) == message
    assert AdaptConfig(docs="docs", out="out", threads=None, distill=0, consistency_depth=0).threads is None


def test_the_card_names_each_teacher_by_its_model_weighted_or_not() -> None:
    from crossrank.training.card import teacher_licences

    expected = "all-mpnet-base-v2 (Apache-2.0), crossrank-default (CC BY-NC), splade-tiny (see its package)"
    assert teacher_licences(["mpnet", "default:2", "splade"]) == expected
