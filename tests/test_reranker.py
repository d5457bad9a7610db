"""Behaviour of the public `Reranker` API: ordering, indices, options and input errors."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from crossrank import InputError, QueryTruncatedWarning, RankedResult, Reranker
from crossrank.cascade import MODEL_CASCADE_KEEP
from crossrank.errors import ModelError
from tests.tiny_models import CORPUS


@pytest.fixture(scope="module")
def reranker(tiny_bert: Path, cache_dir: Path) -> Reranker:
    return Reranker(tiny_bert, backend="onnx", cache_dir=cache_dir, batch_size=4)


def test_results_sorted_with_caller_indices(reranker: Reranker) -> None:
    results = reranker.rerank("cat on the mat", CORPUS)
    assert sorted(r.index for r in results) == list(range(len(CORPUS)))
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert all(r.document == CORPUS[r.index] for r in results)
    expected = reranker.score([("cat on the mat", d) for d in CORPUS])
    assert [r.score for r in results] == pytest.approx(sorted(expected, reverse=True), abs=1e-12)


def test_shuffling_changes_no_score(reranker: Reranker) -> None:
    base = {r.document: r.score for r in reranker.rerank("wing flow", CORPUS)}
    shuffled = CORPUS[:]
    random.Random(7).shuffle(shuffled)
    for result in reranker.rerank("wing flow", shuffled):
        assert shuffled[result.index] == result.document
        assert result.score == pytest.approx(base[result.document], abs=1e-6)


def test_top_k_threshold_and_return_documents(reranker: Reranker) -> None:
    full = reranker.rerank("rain", CORPUS)
    assert reranker.rerank("rain", CORPUS, top_k=3) == full[:3]
    assert len(reranker.rerank("rain", CORPUS, top_k=100)) == len(CORPUS)
    cut = full[4].score
    assert reranker.rerank("rain", CORPUS, min_score=cut) == [r for r in full if r.score >= cut]
    tokens = reranker.count_tokens([r.document for r in full])  # type: ignore[misc]
    budget = tokens[0] + tokens[1]
    assert reranker.rerank("rain", CORPUS, max_tokens=budget) == full[:2]
    assert reranker.rerank("rain", CORPUS, max_tokens=budget - 1) == full[:1]
    assert reranker.rerank("rain", CORPUS, max_tokens=tokens[0] - 1) == []
    bare = reranker.rerank("rain", CORPUS, return_documents=False)
    assert [(r.index, r.score) for r in bare] == [(r.index, r.score) for r in full]
    assert all(r.document is None for r in bare)


def test_duplicates_keep_their_own_index_and_tie_in_caller_order(reranker: Reranker) -> None:
    docs = ["dogs chase cats in the garden", "the cat sat on the mat", "dogs chase cats in the garden"]
    results = reranker.rerank("cats", docs)
    by_index = {r.index: r for r in results}
    assert by_index[0].score == by_index[2].score
    positions = [r.index for r in results]
    assert positions.index(0) < positions.index(2)


def test_mapping_documents_use_the_named_field(reranker: Reranker) -> None:
    docs = [{"id": i, "body": text} for i, text in enumerate(CORPUS)]
    results = reranker.rerank("cat", docs, text_field="body")
    plain = reranker.rerank("cat", CORPUS)
    assert [r.index for r in results] == [r.index for r in plain]
    assert results[0].document is docs[results[0].index]


def test_empty_list_and_empty_document(reranker: Reranker) -> None:
    assert reranker.rerank("cat", []) == []
    results = reranker.rerank("cat", ["", "the cat sat on the mat"])
    assert {r.index for r in results} == {0, 1}
    assert all(isinstance(r, RankedResult) for r in results)


@pytest.mark.parametrize(
    ("query", "docs", "message"),
    [
        ("", ["a"], "query is empty"),
        ("   ", ["a"], "query is empty"),
        (3, ["a"], "query must be a string"),
        ("q", "not a list", "documents must be a list"),
        ("q", ["ok", 5], r"documents\[1\] must be a string or a mapping, got int"),
        ("q", ["ok", {"title": "x"}], r"documents\[1\] has no 'text' field"),
        ("q", [{"text": 1}], r"documents\[0\] has a non-string \(int\) 'text' field"),
    ],
)
def test_bad_input_names_the_problem(reranker: Reranker, query: object, docs: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        reranker.rerank(query, docs)  # type: ignore[arg-type]


@pytest.mark.parametrize("top_k", [0, -1, 2.5, True])
def test_bad_top_k(reranker: Reranker, top_k: object) -> None:
    with pytest.raises(InputError, match="top_k must be a positive integer"):
        reranker.rerank("q", ["a"], top_k=top_k)  # type: ignore[arg-type]


def test_batch_api_matches_single_queries(reranker: Reranker) -> None:
    queries = ["cat", "wing flow", "capital of france"]
    docs = [CORPUS, CORPUS[:4], CORPUS[3:]]
    batched = reranker.rerank_batch(queries, docs)
    for query, documents, got in zip(queries, docs, batched, strict=True):
        single = reranker.rerank(query, documents)
        assert [r.index for r in got] == [r.index for r in single]
        np.testing.assert_allclose([r.score for r in got], [r.score for r in single], atol=1e-6)


def test_score_keeps_pair_order(reranker: Reranker) -> None:
    pairs = [("cat", CORPUS[0]), ("wing", CORPUS[4]), ("cat", CORPUS[1]), ("wing", CORPUS[0])]
    scores = reranker.score(pairs)
    singles = [reranker.score([p])[0] for p in pairs]
    np.testing.assert_allclose(scores, singles, atol=1e-6)
    with pytest.raises(InputError, match=r"pairs\[1\] must be a \(query, document\) pair"):
        reranker.score([("a", "b"), ("c",)])  # type: ignore[list-item]


def test_overlong_query_is_cut_with_a_warning(reranker: Reranker) -> None:
    long_query = " ".join(["cat"] * 300)
    with pytest.warns(QueryTruncatedWarning, match="query of 300 tokens cut"):
        results = reranker.rerank(long_query, CORPUS[:2])
    assert len(results) == 2


def test_bad_constructor_arguments(tiny_bert: Path, cache_dir: Path) -> None:
    with pytest.raises(InputError, match="unknown backend 'gpu'"):
        Reranker(tiny_bert, backend="gpu", cache_dir=cache_dir)
    with pytest.raises(InputError, match="batch_size must be at least 1"):
        Reranker(tiny_bert, batch_size=0, cache_dir=cache_dir)
    with pytest.raises(InputError, match="aggregate must be"):
        Reranker(tiny_bert, aggregate="median", cache_dir=cache_dir)  # type: ignore[arg-type]


def test_parallel_workers_give_the_single_thread_scores(tiny_bert: Path, cache_dir: Path) -> None:
    pairs = [(q, d) for q in ("cat", "wing flow", "capital of france") for d in CORPUS]
    one = Reranker(tiny_bert, backend="onnx", cache_dir=cache_dir, batch_size=3, threads=1)
    three = Reranker(tiny_bert, backend="onnx", cache_dir=cache_dir, batch_size=3, threads=3)
    assert (one.backend.workers, three.backend.workers) == (1, 3)
    np.testing.assert_allclose(three.score(pairs), one.score(pairs), atol=1e-6)


def test_cascade_keeps_the_first_pass_best_and_scores_them_in_full(tiny_bert: Path, cache_dir: Path) -> None:
    full = Reranker(tiny_bert, backend="onnx", cache_dir=cache_dir)
    short = Reranker(tiny_bert, backend="onnx", cache_dir=cache_dir, max_length=16)
    cascade = Reranker(tiny_bert, backend="onnx", cache_dir=cache_dir, cascade_keep=3, cascade_length=16)
    query = "wing flow at supersonic speed"
    first = short.rerank(query, CORPUS)
    kept = sorted(r.index for r in first[:3])
    everything = cascade.rerank(query, CORPUS)
    results = everything[:3]  # the kept ones come first, then the rest in the first pass's order
    assert cascade.name.endswith(" cascade 3@16") and full.name == full.spec.name
    assert sorted(r.index for r in results) == kept and len(everything) == len(CORPUS)
    by_index = {r.index: r.score for r in full.rerank(query, CORPUS)}
    assert [r.score for r in results] == pytest.approx([by_index[r.index] for r in results], abs=1e-6)
    assert [r.index for r in results] == sorted(kept, key=lambda i: -by_index[i])
    assert [r.index for r in everything[3:]] == [r.index for r in first[3:]]
    assert all(r.document == CORPUS[r.index] for r in everything)
    assert [r.index for r in cascade.rerank(query, CORPUS, top_k=2)] == [r.index for r in results[:2]]
    # Three or fewer documents: nothing to prune, the full model ranks them all.
    assert [r.index for r in cascade.rerank(query, CORPUS[:3])] == [r.index for r in full.rerank(query, CORPUS[:3])]
    # `score` never cascades: every pair gets its full-window score.
    pairs = [(query, d) for d in CORPUS]
    assert cascade.score(pairs) == pytest.approx(full.score(pairs), abs=1e-6)


def test_cascade_with_another_model_keeps_its_best_for_the_full_model(
    tiny_bert: Path, tiny_electra: Path, cache_dir: Path
) -> None:
    full = Reranker(tiny_bert, cache_dir=cache_dir)
    first_pass = Reranker(tiny_electra, cache_dir=cache_dir)
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=4, cascade_model=tiny_electra)
    query = "wing flow at supersonic speed"
    first_scores = np.array(first_pass.score([(query, d) for d in CORPUS]))
    text_order = np.argsort(np.argsort(np.array(CORPUS, dtype=object)))  # equal scores: by text, then index
    kept = sorted(np.lexsort((text_order, -first_scores))[:4].tolist())
    full_scores = full.score([(query, d) for d in CORPUS])
    results = cascade.rerank(query, CORPUS)[:4]
    assert sorted(r.index for r in results) == kept
    assert [r.index for r in results] == sorted(kept, key=lambda i: (-full_scores[i], CORPUS[i], i))
    assert [r.score for r in results] == [full_scores[r.index] for r in results]  # bitwise: one pair per pass
    assert cascade.name == f"{first_pass.spec.name} top-4 > {full.spec.name}"
    assert cascade.cascade is not None and cascade.cascade.encoder.max_length == first_pass.spec.max_length
    # rerank_batch cascades every query on its own
    batch = cascade.rerank_batch([query, "cat"], [CORPUS, CORPUS])
    assert [r.index for r in batch[0][:4]] == [r.index for r in results] and len(batch[1]) == len(CORPUS)
    # ranked_input: the first pass's order fused by reciprocal rank with the order the documents came in
    first_rank = {int(d): r for r, d in enumerate(np.lexsort((np.arange(len(CORPUS)), -first_scores)), start=1)}
    rrf = {d: 1 / (60 + first_rank[d]) + 1 / (61 + d) for d in range(len(CORPUS))}
    expected_kept = sorted(sorted(rrf, key=lambda d: (-rrf[d], first_rank[d]))[:4])
    assert sorted(r.index for r in cascade.rerank(query, CORPUS, ranked_input=True)[:4]) == expected_kept


def test_bad_cascade_arguments(tiny_bert: Path, tiny_electra: Path, cache_dir: Path) -> None:
    with pytest.raises(InputError, match="cascade_keep must be a positive integer"):
        Reranker(tiny_bert, cascade_keep=0, cache_dir=cache_dir)
    with pytest.raises(InputError, match="cascade_length must be at least 8 and below the 128-token window"):
        Reranker(tiny_bert, cascade_keep=5, cascade_length=128, cache_dir=cache_dir)
    with pytest.raises(InputError, match="cascade_length needs cascade_keep"):
        Reranker(tiny_bert, cascade_length=32, cache_dir=cache_dir)
    measured = Reranker(tiny_bert, cascade_model=tiny_electra, cache_dir=cache_dir).cascade  # the measured defaults
    assert measured is not None and measured.keep == MODEL_CASCADE_KEEP
    with pytest.raises(ModelError, match="does not exist"):
        Reranker(tiny_bert, cascade_keep=5, cascade_model="./no-such-model", cache_dir=cache_dir)


def test_a_cascade_returns_every_document_kept_first_then_the_rest_in_first_pass_order(
    tiny_bert: Path, cache_dir: Path
) -> None:
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=3, cascade_length=32)
    first_pass = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32)
    full = Reranker(tiny_bert, cache_dir=cache_dir)
    documents = [*CORPUS, CORPUS[0]]  # a duplicate of a kept text is scored as its twin
    results = cascade.rerank("supersonic wing", documents)
    assert sorted(r.index for r in results) == list(range(len(documents)))  # every document, once
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)  # never increasing down the list
    by_first = first_pass.rerank("supersonic wing", documents)
    kept_texts = {documents[r.index] for r in by_first[:3]}
    kept = {i for i, text in enumerate(documents) if text in kept_texts}
    head = [r for r in results if r.scored_by == full.spec.name]
    tail = [r for r in results if r.scored_by != full.spec.name]
    assert {r.index for r in head} == kept and results[: len(head)] == head
    expected_head = full.rerank("supersonic wing", [documents[i] for i in sorted(kept)])
    assert [r.score for r in head] == pytest.approx([r.score for r in expected_head], abs=1e-6)
    assert [r.index for r in tail] == [r.index for r in by_first if r.index not in kept]
    assert all(r.scored_by == f"{full.spec.name}@32" for r in tail)
    assert cascade.rerank("supersonic wing", documents, top_k=2) == results[:2]
