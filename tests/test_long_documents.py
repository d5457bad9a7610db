"""Long documents: windows cover every token, and an answer past the window is found only with windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossrank import Reranker
from crossrank.engine import aggregate as _aggregate
from crossrank.tokenization import PairEncoder, load_tokenizer
from tests.tiny_models import CORPUS


def test_windows_cover_the_whole_document_with_overlap(tiny_bert: Path) -> None:
    tokenizer = load_tokenizer(tiny_bert)
    encoder = PairEncoder(tokenizer, max_length=32)
    document = " ".join(CORPUS * 2)
    doc_ids = tokenizer.encode(document, add_special_tokens=False).ids
    pairs = encoder.encode("cat", [document, "short one"], window_overlap=8)
    owners = pairs.owner.tolist()
    windows = [ids for ids, o in zip(pairs.ids, owners, strict=True) if o == 0]
    assert owners == [0] * len(windows) + [1]
    assert len(windows) > 3
    assert all(len(ids) <= 32 for ids in pairs.ids)
    query_part = 1 + 1 + 1  # [CLS] cat [SEP]
    bodies = [ids[query_part:-1] for ids in windows]
    step = len(bodies[0]) - 8
    rebuilt = bodies[0] + [t for body in bodies[1:] for t in body[8:]]
    assert rebuilt == doc_ids
    for first, second in zip(bodies, bodies[1:], strict=False):
        assert first[step:] == second[:8]


def test_aggregation_modes() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.3, 0.7])
    owner = np.array([0, 0, 0, 1, 2])
    np.testing.assert_allclose(_aggregate(scores, owner, 3, "max"), [0.9, 0.3, 0.7])
    np.testing.assert_allclose(_aggregate(scores, owner, 3, "first"), [0.1, 0.3, 0.7])
    np.testing.assert_allclose(_aggregate(scores, owner, 3, "mean"), [0.5, 0.3, 0.7])


def test_answer_past_the_window_is_found_only_with_windows(tiny_bert: Path, cache_dir: Path) -> None:
    plain = Reranker(tiny_bert, max_length=48, cache_dir=cache_dir)
    windowed = Reranker(tiny_bert, max_length=48, cache_dir=cache_dir, long_documents="window", window_overlap=0)
    query = "cat on the mat"
    scores = dict(zip(CORPUS, plain.score([(query, d) for d in CORPUS]), strict=True))
    answer = max(scores, key=scores.__getitem__)
    filler = min(scores, key=scores.__getitem__)
    rival = sorted(scores, key=scores.__getitem__)[-2]
    # Filler fills whole windows exactly, so the answer stands alone in the last window, past the first.
    tokenizer = load_tokenizer(tiny_bert)
    room = 48 - 3 - len(tokenizer.encode(query, add_special_tokens=False).ids)
    words = (filler + " ") * 6
    while len(tokenizer.encode(words, add_special_tokens=False).ids) % room:
        words += "a "  # one token each
    long_doc = words + answer
    docs = [rival, long_doc]
    assert plain.rerank(query, docs)[0].index == 0, "truncated: the long document is judged on filler alone"
    top = windowed.rerank(query, docs)[0]
    assert top.index == 1, "windowed: the answer deep in the long document is found"
    assert top.score == pytest.approx(scores[answer], abs=1e-6)
