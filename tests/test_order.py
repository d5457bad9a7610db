"""A ranking is a function of the set of documents: any order of the same documents gives the same results
(each document's score and rank), unless the caller says the order is a first stage's ranking
(`ranked_input=True`). Equal scores come in code-point order of their text, duplicates by index."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossrank import Reranker
from tests.tiny_models import CORPUS

SEASONS = "what causes the seasons on earth"
RELEVANT = (
    "The seasons are caused by the tilt of Earth's rotational axis relative to its orbit around the Sun, which "
    "changes how directly sunlight strikes each hemisphere over the year."
)
# Word salad on the query's topic words and off them, as a merged candidate list from several retrievers holds.
_WORDS = [
    "earth",
    "orbit",
    "season",
    "winter",
    "river",
    "cause",
    "summer",
    "rock",
    "planet",
    "tilt",
    "spring",
    "ocean",
    "cloud",
    "sun",
    "light",
    "axis",
]


def distractors(n: int) -> list[str]:
    """`n` distinct word-salad passages (deterministic)."""
    return [" ".join(_WORDS[(i * 7 + j * 3) % len(_WORDS)] for j in range(5 + i % 9)) + f" {i}." for i in range(n)]


# Ties by construction: texts the tokenizer cannot tell apart (spacing) score the same bits, and duplicates.
TIED = ["Seasons.", " Seasons.", "Seasons. ", "Seasons."]
DOCUMENTS = [RELEVANT, *TIED, *distractors(40)]

Ranked = list[tuple[str, float, str | None]]
"""A ranking as (document text, score, scored_by), best first: what must not depend on the input order."""


def ranked_texts(rank: Callable[[list[str]], list[tuple[int, float, str | None]]], documents: list[str]) -> Ranked:
    return [(documents[i], score, by) for i, score, by in rank(documents)]


def library(reranker: Reranker) -> Callable[[list[str]], list[tuple[int, float, str | None]]]:
    return lambda docs: [(r.index, r.score, r.scored_by) for r in reranker.rerank(SEASONS, docs)]


@pytest.fixture(scope="module")
def default_path() -> Reranker:
    return Reranker(threads=1)


@pytest.mark.slow
def test_a_relevant_document_ranks_first_wherever_it_arrives(default_path: Reranker) -> None:
    first = default_path.rerank(SEASONS, [RELEVANT, *distractors(99)])
    last = default_path.rerank(SEASONS, [*distractors(99), RELEVANT])
    assert (first[0].index, last[0].index) == (0, 99)
    assert first[0].score == last[0].score and first[0].scored_by == last[0].scored_by == "crossrank-default"
    assert [r.score for r in first] == [r.score for r in last]


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(order=st.permutations(range(len(DOCUMENTS))))
def test_any_permutation_gives_the_same_ranking(default_path: Reranker, order: Sequence[int]) -> None:
    shuffled = [DOCUMENTS[i] for i in order]
    assert ranked_texts(library(default_path), shuffled) == ranked_texts(library(default_path), DOCUMENTS)


@pytest.fixture(scope="module")
def fake_default_path() -> Reranker:
    """The default path's request path (crossrank-tiny's best 15 to crossrank-default, both tokenizers, the
    calibrations) with the fake backend's scores: no model runs, so a property can try many orders."""
    return Reranker(backend="fake", threads=1)


@settings(max_examples=30, deadline=None)
@given(order=st.permutations(range(len(DOCUMENTS) + 6)))
def test_the_request_path_ranks_a_set_whatever_the_order(fake_default_path: Reranker, order: Sequence[int]) -> None:
    """The fake backend ties many documents (same shared words, same length): ties, duplicates and the cascade's
    cut all meet here, on every one of 30 orders."""
    documents = [*DOCUMENTS, *DOCUMENTS[:3], "seasons", "seasons", "tilt"]
    shuffled = [documents[i] for i in order]
    assert ranked_texts(library(fake_default_path), shuffled) == ranked_texts(library(fake_default_path), documents)
    assert fake_default_path.name == "crossrank-tiny top-15 > crossrank-default"


def test_the_fake_backend_scores_a_pair_alone(fake_default_path: Reranker) -> None:
    pairs = [(SEASONS, d) for d in DOCUMENTS]
    alone = [fake_default_path.score([pair])[0] for pair in pairs]
    assert fake_default_path.score(pairs) == alone and len(set(alone)) > 3


@pytest.mark.slow
def test_ties_follow_the_text_then_the_index(default_path: Reranker) -> None:
    results = default_path.rerank(SEASONS, TIED)
    assert len({r.score for r in results}) == 1  # the tokenizer makes one input of all four
    assert [r.index for r in results] == [1, 0, 3, 2]  # " Seasons." < "Seasons." (twice, by index) < "Seasons. "


@pytest.mark.slow
def test_ranked_input_lets_the_first_stage_order_count(default_path: Reranker) -> None:
    documents = [*distractors(99), RELEVANT]
    unranked = default_path.rerank(SEASONS, documents)
    ranked = default_path.rerank(SEASONS, documents, ranked_input=True)
    assert unranked[0].index == 99  # a set: the relevant passage reaches the full model wherever it is
    # As a first stage's ranking, last place counts against it: fused with that order it misses the full model.
    assert next(r for r in ranked if r.index == 99).scored_by == "crossrank-tiny"
    # Ties keep the input order when it is a ranking.
    assert [r.index for r in default_path.rerank(SEASONS, TIED, ranked_input=True)] == [0, 1, 2, 3]


# Every interface, on a tiny model that cascades into itself (fast: no built-in weights), each input order.
def _orders(texts: list[str]) -> list[list[str]]:
    return [texts, texts[::-1], texts[3:] + texts[:3]]


def _cascade(tiny_bert: Path, cache_dir: Path) -> Reranker:
    return Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=3, cascade_length=16)


def _same_for_every_order(rank: Callable[[list[str]], list[tuple[str, float]]]) -> None:
    texts = [*CORPUS, CORPUS[0], " " + CORPUS[1]]  # a duplicate, and a text the tokenizer cannot tell apart
    rankings = [rank(order) for order in _orders(texts)]
    assert len(rankings[0]) == len(texts)
    assert rankings[1] == rankings[0] and rankings[2] == rankings[0]


def test_the_library_and_the_adapters_rank_a_set(tiny_bert: Path, cache_dir: Path) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    pytest.importorskip("haystack")
    from haystack import Document as HaystackDocument
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from crossrank.integrations.haystack import CrossrankRanker
    from crossrank.integrations.langchain import CrossrankCompressor
    from crossrank.integrations.llamaindex import CrossrankPostprocessor

    cascade = _cascade(tiny_bert, cache_dir)
    _same_for_every_order(lambda docs: [(docs[r.index], r.score) for r in cascade.rerank("wing flow", docs)])
    lang = CrossrankCompressor(reranker=cascade, top_n=None)
    _same_for_every_order(
        lambda docs: [
            (d.page_content, d.metadata["relevance_score"])
            for d in lang.compress_documents([Document(page_content=t) for t in docs], "wing flow")
        ]
    )
    llama = CrossrankPostprocessor(reranker=cascade, top_n=None)
    _same_for_every_order(
        lambda docs: [
            (n.node.get_content(), float(n.score or 0))
            for n in llama.postprocess_nodes(
                [NodeWithScore(node=TextNode(text=t)) for t in docs], query_str="wing flow"
            )
        ]
    )
    hay = CrossrankRanker(cascade, top_k=None)
    _same_for_every_order(
        lambda docs: [
            (d.content or "", float(d.score or 0))
            for d in hay.run("wing flow", [HaystackDocument(content=t) for t in docs])["documents"]
        ]
    )


def test_every_http_route_ranks_a_set(tiny_bert: Path, cache_dir: Path) -> None:
    import httpx

    from crossrank.server.config import ServerConfig
    from tests.server.live import LiveServer

    with LiveServer(_cascade(tiny_bert, cache_dir), ServerConfig()) as server:
        for path, field, score in (
            ("/v2/rerank", "documents", "relevance_score"),
            ("/v1/rerank", "documents", "relevance_score"),
            ("/rerank", "texts", "score"),
        ):

            def route(
                docs: list[str], path: str = path, field: str = field, score: str = score
            ) -> list[tuple[str, float]]:
                body = httpx.post(f"{server.url}{path}", json={"query": "wing flow", field: docs}).json()
                results = body if isinstance(body, list) else body["results"]
                return [(docs[r["index"]], r[score]) for r in results]

            _same_for_every_order(route)


def test_the_cli_and_batch_rank_a_set(
    tiny_bert: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crossrank.cli import main

    model = ["-m", str(tiny_bert), "--cache-dir", str(cache_dir), "--cascade-keep", "3", "--cascade-length", "16"]
    runs = iter(range(100))

    def cli(docs: list[str]) -> list[tuple[str, float]]:
        path = tmp_path / f"docs-{next(runs)}.jsonl"
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
        assert main(["rerank", "-q", "wing flow", "-d", str(path), "--json", *model]) == 0
        return [(docs[r["index"]], r["score"]) for r in json.loads(capsys.readouterr().out)["results"]]

    def batch(docs: list[str]) -> list[tuple[str, float]]:
        n = next(runs)
        rows = tmp_path / f"rows-{n}.jsonl"
        rows.write_text(json.dumps({"query": "wing flow", "documents": docs}) + "\n")
        assert main(["batch", str(rows), "--out", str(tmp_path / f"out-{n}"), *model]) == 0
        record = json.loads((tmp_path / f"out-{n}" / "results.jsonl").read_text().splitlines()[0])
        return [(docs[r["index"]], r["score"]) for r in record["results"]]

    _same_for_every_order(cli)
    _same_for_every_order(batch)
