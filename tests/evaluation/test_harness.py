"""The harness end to end: known runs give known metrics; reranking only touches first-stage candidates."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from crossrank import Reranker
from crossrank.cli import main
from crossrank.corpora import load_cranfield, load_dataset
from crossrank.errors import InputError
from crossrank.evaluation.harness import build_retrievers, evaluate, head_to_head
from crossrank.fusion import fuse_runs
from crossrank.types import Hits, RankedResult
from tests.conftest import CRANFIELD, write_beir


class FixedRetriever:
    """Returns a fixed ranking (corpus positions) per query, to give the harness a run of known order."""

    name = "fixed"

    def __init__(self, rankings: list[list[int]]) -> None:
        self.rankings = rankings

    def retrieve(self, queries: Sequence[str], *, k: int, show_progress: bool = False) -> list[Hits]:
        return [
            Hits(np.array(r[:k], dtype=np.int64), np.arange(len(r[:k]), 0, -1, dtype=np.float64)) for r in self.rankings
        ]


def test_known_run_gives_exact_metrics(tmp_path: Path) -> None:
    data = load_dataset(write_beir(tmp_path / "tiny"))
    # q1 -> d2, d1 (relevant d1 at rank 2); q2 -> d4 (grade 2) first, d3 (grade 0) second
    stage = evaluate(data, {"fixed": FixedRetriever([[1, 0], [3, 2]])}, k=10)[0]
    assert stage.per_query["nDCG@10"] == pytest.approx({"q1": 1 / math.log2(3), "q2": 1.0})
    assert stage.per_query["RR@10"] == pytest.approx({"q1": 0.5, "q2": 1.0})
    assert stage.scores["nDCG@10"] == pytest.approx((1 / math.log2(3) + 1) / 2)


class KeywordReranker:
    """A transparent baseline: candidates containing `word` first, the rest after, each in their given order."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.name = f"has-{word}"

    def rerank(
        self, query: str, documents: Sequence[str], *, return_documents: bool = True, ranked_input: bool = False
    ) -> list[RankedResult]:
        assert ranked_input  # the harness hands over its first stage's order
        scores = [float(self.word in d) - i / 100 for i, d in enumerate(documents)]
        order = sorted(range(len(documents)), key=lambda i: -scores[i])
        return [RankedResult(index=i, score=scores[i]) for i in order]


def test_head_to_head_pairs_rerankers_over_the_same_candidates(tmp_path: Path) -> None:
    data = load_dataset(write_beir(tmp_path / "tiny"))
    # first stage puts the relevant document last for both queries (q1: d1, q2: d4)
    results = evaluate(
        data,
        {"fixed": FixedRetriever([[1, 2, 0], [2, 3]])},
        rerankers=[KeywordReranker("mat"), KeywordReranker("wing"), KeywordReranker("zebra")],
        k=10,
    )
    assert [s.name for s in results] == ["fixed", "fixed > has-mat", "fixed > has-wing", "fixed > has-zebra"]
    comparisons = head_to_head(results)
    assert [(c.stage, c.against) for c in comparisons] == [
        ("fixed > has-mat", "fixed > has-wing"),
        ("fixed > has-mat", "fixed > has-zebra"),
        ("fixed > has-wing", "fixed > has-zebra"),
    ]
    # has-mat fixes q1 only (nDCG 1 - 1/log2(4) = 0.5 gained), has-wing fixes q2 only (1 - 1/log2(3) gained)
    gain_q1, gain_q2 = 1 - 1 / math.log2(4), 1 - 1 / math.log2(3)
    assert comparisons[0].significance["nDCG@10"].delta == pytest.approx((gain_q1 - gain_q2) / 2)
    assert comparisons[1].significance["nDCG@10"].delta == pytest.approx(gain_q1 / 2)
    assert comparisons[2].significance["nDCG@10"].delta == pytest.approx(gain_q2 / 2)
    assert head_to_head(results[:2]) == []  # one reranker: nothing to pair


def test_fuse_runs_is_reciprocal_rank_fusion_with_reranker_order_on_ties() -> None:
    first = {"q": {"a": 9.0, "b": 8.0, "c": 7.0, "d": 6.0}}
    reranked = {"q": {"d": 0.9, "c": 0.8, "a": 0.7, "b": 0.1}}
    fused = fuse_runs(reranked, first, constant=1)
    # a: 1/4 + 1/2, c: 1/3 + 1/4, d: 1/2 + 1/5, b: 1/5 + 1/3
    assert sorted(fused["q"], key=fused["q"].__getitem__, reverse=True) == ["a", "d", "c", "b"]
    assert fused["q"]["a"] == pytest.approx(0.75, abs=1e-9)
    # equal sums (each document first in one ranking, second in the other) keep the reranker's order
    swapped = fuse_runs({"q": {"y": 2.0, "x": 1.0}}, {"q": {"x": 2.0, "y": 1.0}})
    assert swapped["q"]["y"] > swapped["q"]["x"]


def test_fuse_adds_a_fused_stage_after_each_reranking(tmp_path: Path) -> None:
    data = load_dataset(write_beir(tmp_path / "tiny"))
    results = evaluate(
        data,
        {"fixed": FixedRetriever([[1, 2, 0], [2, 3]])},
        rerankers=[KeywordReranker("mat"), KeywordReranker("zebra")],
        k=10,
        fuse=True,
    )
    assert [s.name for s in results] == [
        "fixed",
        "fixed > has-mat",
        "fixed > has-mat + fixed rrf",
        "fixed > has-zebra",
        "fixed > has-zebra + fixed rrf",
    ]
    first, mat, mat_fused = results[:3]
    assert mat_fused.run == fuse_runs(mat.run, first.run)
    assert mat_fused.versus == "fixed" and mat_fused.latency_ms == mat.latency_ms
    # q1: the first stage ranks d2, d3, d1, has-mat d1, d2, d3: d2 (1st + 2nd) > d1 (3rd + 1st) > d3 (2nd + 3rd)
    assert sorted(mat_fused.run["q1"], key=mat_fused.run["q1"].__getitem__, reverse=True) == ["d2", "d1", "d3"]
    assert len(head_to_head(results)) == 6
    with pytest.raises(InputError, match="fuse=True fuses each reranking with its first stage"):
        evaluate(data, {"fixed": FixedRetriever([[1, 2, 0], [2, 3]])}, k=10, fuse=True)


def test_reranking_never_adds_judged_documents(tmp_path: Path, tiny_bert: Path, cache_dir: Path) -> None:
    data = load_dataset(write_beir(tmp_path / "tiny"))
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    # q1's first stage misses its relevant d1 entirely; q2 gets d3 only.
    first, reranked = evaluate(data, {"fixed": FixedRetriever([[1, 2], [2]])}, rerankers=[reranker], k=10)
    for qid in data.queries:
        assert set(reranked.run[qid]) == set(first.run[qid])
    assert reranked.per_query["nDCG@10"] == {"q1": 0.0, "q2": 0.0}
    assert len(reranked.latency_ms) == 2 and reranked.versus == "fixed"
    expected = reranker.rerank(data.queries["q1"], [data.corpus["d2"].full_text, data.corpus["d3"].full_text])
    assert list(reranked.run["q1"]) == [["d2", "d3"][r.index] for r in expected]


def test_a_cascade_is_evaluated_in_the_order_it_returns_every_candidate(
    tmp_path: Path, tiny_bert: Path, cache_dir: Path
) -> None:
    data = load_dataset(write_beir(tmp_path / "tiny"))
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=1, cascade_length=32)
    first, reranked = evaluate(data, {"fixed": FixedRetriever([[3, 2, 1, 0], [0, 1, 2, 3]])}, rerankers=[cascade])
    for qid, query in data.queries.items():
        ranking = sorted(reranked.run[qid], key=reranked.run[qid].__getitem__, reverse=True)
        candidates = list(first.run[qid])
        returned = cascade.rerank(query, [data.corpus[d].full_text for d in candidates], return_documents=False)
        assert ranking == [candidates[r.index] for r in returned] and len(ranking) == 4


def _independent_ndcg10(qrels: dict[str, int], ranking: list[str]) -> float:
    """nDCG@10 as trec_eval computes it (linear gains, log2 discount), written independently of the harness."""
    dcg = sum(max(qrels.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:10]))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


@pytest.mark.skipif(not CRANFIELD.is_dir(), reason="../shared/datasets/cranfield is not beside the project")
def test_cranfield_bm25_ndcg_matches_an_independent_computation() -> None:
    data = load_cranfield(CRANFIELD)
    stage = evaluate(data, build_retrievers(data, ["bm25"]), k=100)[0]
    independent = []
    for qid, docs in stage.run.items():
        ranking = [d for d, _ in sorted(docs.items(), key=lambda item: (-item[1], item[0]))]
        independent.append(_independent_ndcg10(data.qrels[qid], ranking))
        assert stage.per_query["nDCG@10"][qid] == pytest.approx(independent[-1], abs=1e-9)
    assert len(independent) == 225
    assert stage.scores["nDCG@10"] == pytest.approx(0.3320, abs=5e-4)  # pins BM25 settings and the loader


def test_eval_cli_writes_every_output(
    tmp_path: Path,
    tiny_bert: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    folder = write_beir(tmp_path / "tiny")
    out = tmp_path / "out"
    argv = ["eval", "--dataset", str(folder), "--model", str(tiny_bert), "--k", "3", "--baselines", "splade"]
    code = main([*argv, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "bm25" in printed and "nDCG@10" in printed and "head to head" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["k"] == 3 and report["settings"]["backend"] == "onnx-int8"
    assert report["settings"]["dataset_checksum"] == load_dataset(folder).checksum
    assert [s["name"] for s in report["stages"]] == ["bm25", f"bm25 > {tiny_bert.name}", "bm25 > splade-tiny"]
    [comparison] = report["comparisons"]
    assert (comparison["stage"], comparison["against"]) == (f"bm25 > {tiny_bert.name}", "bm25 > splade-tiny")
    model, splade = (report["stages"][i]["scores"]["nDCG@10"] for i in (1, 2))
    assert comparison["significance"]["nDCG@10"]["delta"] == pytest.approx(model - splade)
    assert set(report["stages"][0]["per_query"]["nDCG@10"]) == {"q1", "q2"}
    assert (out / "bm25.run").read_text().splitlines()[0].split()[:4] == ["q1", "Q0", "d1", "1"]
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_cli_fuse_reports_fused_stages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_beir(tmp_path / "tiny")
    out = tmp_path / "out"
    argv = ["eval", "--dataset", str(folder), "--no-rerank", "--baselines", "splade", "--fuse", "--out", str(out)]
    assert main(argv) == 0
    assert "bm25 > splade-tiny + bm25 rrf" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["fuse"] == "rrf, constant 60"
    assert [s["name"] for s in report["stages"]] == ["bm25", "bm25 > splade-tiny", "bm25 > splade-tiny + bm25 rrf"]
    assert (out / "bm25__splade-tiny___bm25_rrf.run").read_text().split()[:2] == ["q1", "Q0"]


def test_eval_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_beir(tmp_path / "tiny")
    assert main(["eval", "--dataset", str(folder), "--first-stage", "magic", "--no-rerank"]) == 2
    assert "unknown first stage 'magic'" in capsys.readouterr().err
    assert main(["eval", "--dataset", str(folder), "--no-rerank", "--fuse"]) == 2
    assert "--fuse fuses each reranking" in capsys.readouterr().err
    write_beir(folder, qrels="q1\td1\n")
    assert main(["eval", "--dataset", str(folder), "--no-rerank"]) == 2
    assert "test.tsv:1: expected 3 tab-separated fields, got 2" in capsys.readouterr().err
