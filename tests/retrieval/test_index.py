"""Two-stage search over a folder: build, search with reranking, interrupted builds, incremental rebuilds,
and the same nDCG@10 as `crossrank eval` on Cranfield."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from crossrank import InputError, Reranker
from crossrank.cli import main
from crossrank.corpora import SourceDocument, html_text
from crossrank.errors import IndexUnusable
from crossrank.retrieval import index as index_module
from crossrank.retrieval.index import Index, fuses
from crossrank.retrieval.passages import split_passages
from tests.conftest import CRANFIELD


class KeywordReranker:
    """A transparent reranker for the test: relevance = the passage mentions 'glacier caves form'."""

    name = "keyword"

    def rerank(
        self, query: str, documents: list[str], *, return_documents: bool = False, ranked_input: bool = False
    ) -> list[object]:
        assert ranked_input  # search hands over its first stage's order
        from crossrank.types import RankedResult

        scores = [1.0 if "glacier caves form" in d else 0.0 for d in documents]
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
        return [RankedResult(index=i, score=scores[i]) for i in order]


def make_corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "caves.md").write_text(
        "# Caves\n\nGlacier caves are caves in ice. Glacier glacier glacier caves caves.\n\n"
        "Meltwater running through the ice is how glacier caves form over many years.\n"
    )
    (folder / "weather.txt").write_text("Rain falls on the city at night.\n\nWind moves the clouds.\n")
    (folder / "page.html").write_text("<html><body><p>Caves of limestone.</p><script>var x;</script></body></html>")
    (folder / "bad.txt").write_bytes(b"caf\xe9 latin-1")
    return folder


def test_search_reranks_and_reports_unreadable_files(tmp_path: Path, cache_dir: Path) -> None:
    docs = make_corpus(tmp_path / "docs")
    report = Index.build(docs, tmp_path / "idx", passage_words=12, overlap_words=0, cache_dir=cache_dir)
    assert report.skipped == [("bad.txt", "not utf-8 text (invalid continuation byte at byte 3; see --encoding)")]
    index = Index.open(tmp_path / "idx", cache_dir=cache_dir)
    first = index.search("glacier caves", first_stage="bm25", top_k=3)
    answer = next(h for h in first if "glacier caves form" in h.text)
    assert answer.rank > 1, "BM25 alone prefers the keyword-stuffed passage"
    reranked = index.search("glacier caves", first_stage="bm25", top_k=3, reranker=KeywordReranker())
    assert "glacier caves form" in reranked[0].text
    assert reranked[0].first_stage_rank == answer.rank and reranked[0].source == "caves.md"
    assert [h.rerank_score for h in reranked] == [h.score for h in reranked] and first[0].rerank_score is None
    # fused: every passage's RRF of its reranked and first-stage ranks, computed here from the two unfused lists
    plain = index.search("glacier caves", first_stage="bm25", top_k=100)
    keyword = index.search("glacier caves", first_stage="bm25", top_k=100, reranker=KeywordReranker())
    fused = index.search("glacier caves", first_stage="bm25", top_k=100, reranker=KeywordReranker(), fuse=True)
    first_rank = {h.text: h.rank for h in plain}
    expected = {h.text: 1 / (60 + h.rank) + 1 / (60 + first_rank[h.text]) for h in keyword}
    assert [h.text for h in fused] == sorted(expected, key=lambda t: -expected[t])
    assert [h.text for h in fused] != [h.text for h in keyword], "the first stage's order must count"
    assert [h.score for h in fused] == pytest.approx([expected[h.text] for h in fused])
    assert {h.text: h.rerank_score for h in fused} == {h.text: h.rerank_score for h in keyword}
    with pytest.raises(InputError, match="fuse .* needs a reranker"):
        index.search("glacier caves", first_stage="bm25", fuse=True)


def test_search_fuses_by_default_for_the_built_in_model_only(tmp_path: Path, cache_dir: Path, tiny_bert: Path) -> None:
    docs = make_corpus(tmp_path / "docs")
    Index.build(docs, tmp_path / "idx", passage_words=12, overlap_words=0, dense=False, cache_dir=cache_dir)
    index = Index.open(tmp_path / "idx", cache_dir=cache_dir)
    built_in, other = Reranker(), Reranker(tiny_bert, cache_dir=cache_dir)
    assert built_in.built_in and not other.built_in
    assert fuses(built_in, None) and not fuses(other, None) and not fuses(built_in, False) and fuses(other, True)

    def order(reranker: Reranker, fuse: bool | None) -> list[tuple[str, float]]:
        return [(h.text, h.score) for h in index.search("glacier caves", top_k=100, reranker=reranker, fuse=fuse)]

    assert order(built_in, None) == order(built_in, True) != order(built_in, False)
    assert order(other, None) == order(other, False)


def test_interrupted_build_keeps_the_old_index(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_corpus(tmp_path / "docs")
    Index.build(docs, tmp_path / "idx", passage_words=12, overlap_words=0, dense=False)
    before = [h.text for h in Index.open(tmp_path / "idx").search("rain", first_stage="bm25")]
    (docs / "new.txt").write_text("Rain again and again.\n")

    def crash(path: Path, chunks: list[object]) -> None:
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(index_module, "write_passages", crash)
    with pytest.raises(KeyboardInterrupt):
        Index.build(docs, tmp_path / "idx", passage_words=12, overlap_words=0, dense=False)
    monkeypatch.undo()
    assert [h.text for h in Index.open(tmp_path / "idx").search("rain", first_stage="bm25")] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "idx"]  # no half-built folder left


def test_rebuild_embeds_only_what_changed(tmp_path: Path, cache_dir: Path) -> None:
    docs = make_corpus(tmp_path / "docs")
    first = Index.build(docs, tmp_path / "idx", passage_words=12, overlap_words=0, cache_dir=cache_dir)
    (docs / "weather.txt").write_text("Snow falls on the mountains.\n")
    second = Index.build(docs, tmp_path / "idx", passage_words=12, overlap_words=0, cache_dir=cache_dir)
    assert first.reused == 0 and second.embedded == 1 and second.reused == second.passages - 1
    fresh = Index.build(docs, tmp_path / "fresh", passage_words=12, overlap_words=0, cache_dir=cache_dir)
    a = np.load(tmp_path / "idx" / "vectors.npy")
    b = np.load(tmp_path / "fresh" / "vectors.npy")
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert fresh.embedded == fresh.passages


def test_corrupt_or_foreign_index(tmp_path: Path) -> None:
    with pytest.raises(IndexUnusable, match="not a crossrank index"):
        Index.open(tmp_path)
    docs = make_corpus(tmp_path / "docs")
    Index.build(docs, tmp_path / "idx", dense=False)
    (tmp_path / "idx" / "passages.sqlite").write_bytes(b"garbage")
    with pytest.raises(IndexUnusable, match="is corrupt"):
        Index.open(tmp_path / "idx")
    Index.build(docs, tmp_path / "idx2", dense=False)
    manifest = json.loads((tmp_path / "idx2" / "manifest.json").read_text())
    manifest["embedder"] = "some-other-model"
    (tmp_path / "idx2" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "idx2" / "vectors.npy").write_bytes(b"")
    with pytest.raises(IndexUnusable, match="built with embedding model 'some-other-model'"):
        Index.open(tmp_path / "idx2")
    Index.build(docs, tmp_path / "idx3", dense=False)
    with pytest.raises(InputError, match="without embeddings"):
        Index.open(tmp_path / "idx3").search("rain", first_stage="dense")


def test_passage_splitting() -> None:
    text = "One two three. Four five six.\n\nSeven eight nine ten. Eleven twelve."
    chunks = split_passages(SourceDocument("d", "d.txt", "", text, "f"), words=7, overlap=3)
    assert [c.text for c in chunks] == [
        "One two three. Four five six.",
        "Four five six. Seven eight nine ten.",
        "Eleven twelve.",
    ]  # a 4-word sentence is over the 3-word overlap
    assert [c.passage_number for c in chunks] == [0, 1, 2]
    assert html_text("<p>a</p><style>x{}</style><p>b</p>") == "a\n\nb"


def test_cli_index_and_search(
    tmp_path: Path,
    tiny_bert: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    docs = make_corpus(tmp_path / "docs")
    assert (
        main(
            [
                "index",
                str(docs),
                "--out",
                str(tmp_path / "idx"),
                "--no-dense",
                "--passage-words",
                "12",
                "--overlap-words",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "skipped bad.txt" in out.err and "indexed 3 documents" in out.out
    assert (
        main(
            [
                "search",
                str(tmp_path / "idx"),
                "glacier caves",
                "--first-stage",
                "bm25",
                "-m",
                str(tiny_bert),
                "--json",
                "--top-k",
                "2",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["results"]) == 2 and payload["reranker"] == tiny_bert.name and payload["fuse"] is False
    assert (
        main(["search", str(tmp_path / "idx"), "glacier caves", "--first-stage", "bm25", "--no-rerank", "--fuse"]) == 2
    )
    assert "needs a reranker" in capsys.readouterr().err
    args = ["search", str(tmp_path / "idx"), "glacier caves", "--first-stage", "bm25", "-m", str(tiny_bert)]
    assert main([*args, "--fuse", "--top-k", "1"]) == 0
    assert re.match(r"#1  0\.\d{4} \(ordered by fusion with the first stage, 0\.0\d{3}\)  ", capsys.readouterr().out)
    assert main(["search", str(tmp_path / "idx"), "rain", "--first-stage", "dense", "--no-rerank"]) == 2
    assert "built without embeddings (--no-dense); search it with first stage bm25 (--first-stage bm25)" in (
        capsys.readouterr().err
    )


@pytest.mark.skipif(not CRANFIELD.is_dir(), reason="../shared/datasets/cranfield is not beside the project")
def test_cranfield_through_the_index_matches_eval(tmp_path: Path) -> None:
    from crossrank.corpora import load_cranfield
    from crossrank.evaluation.harness import build_retrievers, evaluate
    from crossrank.evaluation.metrics import mean, per_query

    data = load_cranfield(CRANFIELD)
    jsonl = tmp_path / "cran.jsonl"
    jsonl.write_text("\n".join(json.dumps({"id": d, "text": p.text}) for d, p in data.corpus.items()))
    Index.build(jsonl, tmp_path / "idx", passage_words=100_000, overlap_words=0, dense=False)
    index = Index.open(tmp_path / "idx")
    hits = index.retrieve(list(data.queries.values()), k=100, first_stage="bm25")
    run = {
        q: {index.chunks[p].doc_id: float(s) for p, s in zip(h.positions, h.scores, strict=True)}
        for q, h in zip(data.queries, hits, strict=True)
    }
    through_index = mean(per_query(data.qrels, run)["nDCG@10"])
    through_eval = evaluate(data, build_retrievers(data, ["bm25"]), k=100)[0].scores["nDCG@10"]
    assert through_index == pytest.approx(through_eval, abs=1e-9)


def test_empty_and_blank_files_are_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "real.txt").write_text("Glaciers carve valleys as they move downhill.\n")
    (docs / "empty.md").write_text("")
    (docs / "blank.txt").write_text("\n   \n")
    assert main(["index", str(docs), "--out", str(tmp_path / "idx"), "--no-dense", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "skipped 2 empty files (blank.txt, empty.md)" in out.err
    assert "indexed 1 document as 1 passage into" in out.out and "2 skipped" in out.out
    index = Index.open(tmp_path / "idx")
    hits = index.search("glaciers", k=10, top_k=10, first_stage="bm25", reranker=None, fuse=False)
    assert [h.source for h in hits] == ["real.txt"]


def test_other_file_types_are_counted_and_named_and_an_encoding_can_be_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    (docs / ".git").mkdir(parents=True)
    (docs / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # hidden: not a document, not a skip
    (docs / "real.txt").write_text("Glaciers carve valleys as they move downhill.\n")
    (docs / "report.pdf").write_bytes(b"%PDF-1.7 binary")
    (docs / "photo.JPG").write_bytes(b"\xff\xd8")
    (docs / "cafe.txt").write_bytes("Caf\xe9 cr\xe8me: the menu of the caf\xe9.\n".encode("latin-1"))
    out_dir = tmp_path / "idx"
    assert main(["index", str(docs), "--out", str(out_dir), "--no-dense", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "skipped cafe.txt: not utf-8 text" in err and "see --encoding" in err
    assert "skipped 2 files of a type crossrank does not read (photo.JPG, report.pdf)" in err and "HEAD" not in err
    out_dir = tmp_path / "idx2"
    assert (
        main(["index", str(docs), "--out", str(out_dir), "--no-dense", "--no-progress", "--encoding", "latin-1"]) == 0
    )
    assert "cafe.txt" not in capsys.readouterr().err
    hits = Index.open(out_dir).search("café crème", first_stage="bm25", top_k=1)
    assert "Café crème" in hits[0].text
    assert main(["index", str(docs), "--out", str(tmp_path / "idx3"), "--no-dense", "--encoding", "klingon"]) == 2
    assert "unknown text encoding 'klingon'" in capsys.readouterr().err
