from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from tests.tiny_models import build_bert_family, build_xlmr

if TYPE_CHECKING:
    from crossrank import Reranker

CROSS_CPU_BOUND = 2e-4
"""How far float32 arithmetic may move a score between CPU kinds (benchmarks/cross_cpu.py measured 1.4e-5)."""
CROSS_CPU_BOUND_INT8 = 5e-3
"""The same for static int8 (the built-in models' default): its float parts feed the 8-bit roundings, so a sum
taken in another order can flip one. On an emulated AVX2 CPU (tests/test_cross_cpu.py) most pairs kept their
bits and the rest moved by up to 2e-3 (9 pinned and 30 long pairs)."""
CRANFIELD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cranfield"
"""The Cranfield collection beside the project (tests that need it skip without it)."""


# The built-in model's pinned scores: the README's example passages for one query, and one pair each way.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "passages.txt"
LIFT = "how do wings produce lift"
FRANCE = "what is the capital of france"
PARIS = "Paris has been the capital of France since the tenth century."
RECIPE = "The recipe calls for two cups of flour, a pinch of salt and three eggs."
# A pair's score depends on the pair alone (padded batches give the same bits as one pair per run), so these
# hold in any company and thread count. Between CPU kinds (AVX2, AVX-512 VNNI, AMX) kernels sum in other
# orders: on an emulated AVX2 CPU float32 moved by 1.5e-7 and static int8 by up to 1.6e-3 on these pairs
# (tests/test_cross_cpu.py); the bounds above hold those with margin.
BROWSER_BOUND_INT8 = 5e-3
"""Static int8 in WebAssembly against native: its float kernels (exp, erf, sums) round differently, which flips
a few 8-bit roundings (measured up to 2.2e-3 on the demo's pairs, headless Chromium)."""
PINNED = [0.92078, 0.03199, 0.76706, 0.11976, 0.01411, 0.4348, 0.12873, 0.97221, 0.0382]
PINNED_INT8 = [0.91952, 0.03376, 0.77277, 0.11703, 0.0135, 0.42815, 0.11846, 0.97026, 0.03773]
"""Static int8, the default path's arithmetic; PINNED is float32 (`backend=\"onnx\"`)."""


def uncalibrated(scores: list[float]) -> list[float]:
    """Raw logits as the sigmoid scores the pins were taken as (before the built-in models shipped calibrations)."""
    return [float(1.0 / (1.0 + np.exp(-s))) for s in scores]


def calibrated(pins: list[float], folder: Path) -> list[float]:
    """What a model folder's calibration makes of pinned sigmoid scores: sigmoid(scale * logit + bias)."""
    from crossrank.calibration import load_calibration

    calibration = load_calibration(folder)
    assert calibration is not None
    logits = np.log(np.asarray(pins) / (1.0 - np.asarray(pins)))
    return [float(p) for p in calibration.apply(logits)]


def pinned_pairs() -> list[tuple[str, str]]:
    """The pairs PINNED and PINNED_INT8 score."""
    passages = [line.strip() for line in EXAMPLES.read_text().splitlines() if line.strip()]
    return [(LIFT, p) for p in passages] + [(FRANCE, PARIS), (FRANCE, RECIPE)]


def write_beir(folder: Path, qrels: str | None = None) -> Path:
    """A four-document BEIR folder with three queries (one unjudged); `qrels` replaces the test judgements."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = [
        {"_id": "d1", "title": "Cats", "text": "the cat sat on the mat"},
        {"_id": "d2", "title": "", "text": "dogs chase cats in the garden"},
        {"_id": "d3", "title": "Weather", "text": "rain falls on the city at night"},
        {"_id": "d4", "title": "Wings", "text": "wind tunnel tests of supersonic flow over a wing"},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    queries = [
        {"_id": "q1", "text": "where did the cat sit"},
        {"_id": "q2", "text": "supersonic wing"},
        {"_id": "q3", "text": "unjudged query"},
    ]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    default = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td4\t2\nq2\td3\t0\n"
    (folder / "qrels" / "test.tsv").write_text(default if qrels is None else qrels)
    return folder


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crossrank-cache")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_family(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_bert_two_logits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_family(tmp_path_factory.mktemp("tiny-bert-2"), num_labels=2, seed=1)


@pytest.fixture(scope="session")
def tiny_electra(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_family(tmp_path_factory.mktemp("tiny-electra"), kind="electra", seed=4)


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_xlmr(tmp_path_factory.mktemp("tiny-xlmr"), seed=3)


REWRITE_QUERY = "how do wings make lift"
REWRITE_DOCUMENTS = [
    "A wing makes lift by turning the air that flows past it downwards.",
    "Lift.",
    "Pressure below the wing is higher than above it, and the difference holds the aircraft up in the air " * 3,
    "Bread is baked from flour, water and yeast.",
]


def graph_logits(model: Any, reranker: Reranker) -> np.ndarray:
    """An ONNX graph's (`onnx.ModelProto`) logits for a few documents of mixed lengths in one padded batch, fed
    as `reranker` encodes them: what a graph rewrite must leave unchanged."""
    from crossrank.backends.onnx import open_session
    from crossrank.batching import pad_batch

    pairs = reranker.encoder.encode(REWRITE_QUERY, REWRITE_DOCUMENTS)
    feed = pad_batch(pairs, None, pad_id=reranker.encoder.pad_id)
    session = open_session(model.SerializeToString(), threads=1)
    names = [i.name for i in session.get_inputs()]
    return np.asarray(session.run(["logits"], {n: feed[n] for n in names})[0])
