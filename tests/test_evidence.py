"""The part that matched: each result's evidence is the character span of the window its score came from."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.errors import InputError
from crossrank.server.config import ServerConfig
from crossrank.types import Evidence
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS

WORDS = sorted({w for line in CORPUS for w in line.split() if w.isalpha()})
QUERY = "supersonic wing flow"


def long_document() -> str:
    """Whole words the tiny vocabulary holds as single tokens, so a span's text tokenizes to its window."""
    return " ".join(WORDS[(i * 7) % len(WORDS)] for i in range(160))


def test_the_evidence_is_the_best_window(tiny_bert: Path, cache_dir: Path) -> None:
    windows = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32, long_documents="window", window_overlap=8)
    alone = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32)  # scores one window's text as it is
    doc, short = long_document(), CORPUS[0]
    results = {r.index: r for r in windows.rerank(QUERY, [doc, short], return_evidence=True)}
    assert results[1].evidence == Evidence(0, len(short))  # fits one window: the whole text
    spans = []
    for k in range(40):
        start, end = windows.encoder.window_spans(QUERY, window_overlap=8)(doc, k)
        spans.append((start, end))
        if end == len(doc):
            break
    scores = alone.score([(QUERY, doc[s:e]) for s, e in spans])
    best = max(range(len(spans)), key=lambda k: (scores[k], -k))
    assert results[0].score == scores[best]  # the window's own score, bit for bit
    assert results[0].evidence == Evidence(*spans[best])
    assert all(r.evidence is None for r in windows.rerank(QUERY, [doc, short]))  # only when asked


def test_a_head_is_the_evidence_without_windows_and_for_the_first_pass(tiny_bert: Path, cache_dir: Path) -> None:
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32, cascade_keep=1, cascade_length=16)
    doc = long_document()
    results = cascade.rerank(QUERY, [doc, doc + " flow", *CORPUS], return_evidence=True)
    for r in results:
        text = ([doc, doc + " flow", *CORPUS])[r.index]
        assert r.evidence is not None and r.evidence.start == 0 and r.evidence.end <= len(text)
        if r.scored_by == cascade.spec.name:
            window = cascade.encoder.window_spans(QUERY, window_overlap=None)(text, 0)
        else:
            assert cascade.cascade is not None
            window = cascade.cascade.encoder.window_spans(QUERY, window_overlap=None)(text, 0)
        assert (r.evidence.start, r.evidence.end) == window
    assert results[-1].evidence is not None


def test_every_route_returns_evidence_only_when_asked(tiny_bert: Path, cache_dir: Path) -> None:
    reranker = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32, long_documents="window", window_overlap=8)
    docs = [long_document(), CORPUS[0]]
    expected = {r.index: r.evidence for r in reranker.rerank(QUERY, docs, return_evidence=True)}
    with LiveServer(reranker, ServerConfig()) as live:
        for path, field, score in (("/v2/rerank", "documents", "relevance_score"), ("/rerank", "texts", "score")):
            body = {"query": QUERY, field: docs, **({"truncate": True} if path == "/rerank" else {})}
            plain = httpx.post(f"{live.url}{path}", json=body).json()
            asked = httpx.post(f"{live.url}{path}", json={**body, "return_evidence": True}).json()
            plain_results = plain if isinstance(plain, list) else plain["results"]
            asked_results = asked if isinstance(asked, list) else asked["results"]
            assert all("evidence" not in r for r in plain_results)
            assert {r["index"]: Evidence(**r["evidence"]) for r in asked_results} == expected
            assert [r[score] for r in asked_results] == [r[score] for r in plain_results]
        schema = httpx.get(f"{live.url}/openapi.json").json()["components"]["schemas"]
        assert "crossrank extension" in schema["CohereRerankRequest"]["properties"]["return_evidence"]["description"]


def test_the_cli_shows_the_evidence(
    tiny_bert: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from crossrank.cli import main

    docs = tmp_path / "docs.txt"
    docs.write_text(long_document() + "\n" + CORPUS[0] + "\n")
    model = ["-m", str(tiny_bert), "--cache-dir", str(cache_dir), "--max-length", "32", "--window"]
    assert main(["rerank", "-q", QUERY, "-d", str(docs), "--json", "--evidence", *model]) == 0
    shown = {r["index"]: r["evidence"] for r in json.loads(capsys.readouterr().out)["results"]}
    reranker = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32, long_documents="window")
    expected = reranker.rerank(QUERY, [long_document(), CORPUS[0]], return_evidence=True)
    assert shown == {r.index: {"start": r.evidence.start, "end": r.evidence.end} for r in expected if r.evidence}


def test_a_budget_counting_evidence_holds_more_documents(tiny_bert: Path, cache_dir: Path) -> None:
    """`budget_counts="evidence"` spends only each result's matching window, so a budget too small for two whole
    long documents holds several of their windows; the library, both HTTP routes and the CLI agree."""
    reranker = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32, long_documents="window", window_overlap=8)
    docs = [long_document(), " ".join(reversed(long_document().split())), *CORPUS[:3]]
    budget = 60
    whole = reranker.rerank(QUERY, docs, max_tokens=budget)
    parts = reranker.rerank(QUERY, docs, max_tokens=budget, budget_counts="evidence")
    full = reranker.rerank(QUERY, docs, return_evidence=True)
    assert [r.index for r in parts] == [r.index for r in full[: len(parts)]]  # the same order, cut later
    assert len(parts) > len(whole)
    spent = reranker.count_tokens([docs[r.index][r.evidence.start : r.evidence.end] for r in parts if r.evidence])
    assert sum(spent) <= budget < sum(spent) + reranker.count_tokens([docs[full[len(parts)].index]])[0]
    with pytest.raises(InputError, match="budget_counts must be 'documents' or 'evidence', got 'windows'"):
        reranker.rerank(QUERY, docs, max_tokens=budget, budget_counts="windows")  # type: ignore[arg-type]
    expected = [(r.index, Evidence(r.evidence.start, r.evidence.end) if r.evidence else None) for r in parts]
    with LiveServer(reranker, ServerConfig()) as live:
        for path, field in (("/v2/rerank", "documents"), ("/rerank", "texts")):
            body = {"query": QUERY, field: docs, "max_tokens": budget, "budget_counts": "evidence"}
            answer = httpx.post(f"{live.url}{path}", json={**body, **({"truncate": True} if field == "texts" else {})})
            results = answer.json() if field == "texts" else answer.json()["results"]
            assert [(r["index"], Evidence(**r["evidence"])) for r in results] == expected
            wrong = httpx.post(f"{live.url}{path}", json={**body, "budget_counts": "windows", "truncate": True})
            assert wrong.status_code in (400, 422) and "budget_counts" in wrong.text
