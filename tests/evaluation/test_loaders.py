"""Loaders: a tiny BEIR folder, Cranfield's traps, and specific messages for malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank import InputError
from crossrank.corpora import load_cranfield, load_dataset
from tests.conftest import CRANFIELD, write_beir


def test_beir_folder(tmp_path: Path) -> None:
    data = load_dataset(write_beir(tmp_path / "tiny"))
    assert list(data.corpus) == ["d1", "d2", "d3", "d4"]
    assert data.corpus["d1"].full_text == "Cats. the cat sat on the mat"
    assert data.corpus["d2"].full_text == "dogs chase cats in the garden"
    assert data.queries == {"q1": "where did the cat sit", "q2": "supersonic wing"}  # only judged queries
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d4": 2, "d3": 0}}
    assert len(data.checksum) == 16


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test.tsv:2: expected 3 tab-separated fields, got 2"),
        ("query-id\tcorpus-id\tscore\nq1\td1\t1\t0\n", r"test.tsv:2: expected 3 tab-separated fields, got 4"),
        ("q1\td1\thigh\n", r"test.tsv:1: relevance grade 'high' is not an integer"),
        ("q1\td9\t1\n", r"judgements for query 'q1' name unknown document id\(s\): \['d9'\]"),
        ("q7\td1\t1\n", r"judgements name query 'q7', which is not among the queries"),
    ],
)
def test_malformed_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_dataset(write_beir(tmp_path / "bad", qrels=qrels))


def test_missing_files_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(InputError, match="neither a BEIR folder"):
        load_dataset(tmp_path)
    folder = write_beir(tmp_path / "x")
    (folder / "queries.jsonl").unlink()
    with pytest.raises(InputError, match=r"missing file: .*queries.jsonl"):
        load_dataset(folder)
    folder = write_beir(tmp_path / "y")
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n')
    with pytest.raises(InputError, match=r"corpus.jsonl:2: invalid JSON"):
        load_dataset(folder)
    with pytest.raises(InputError, match=r"missing file: .*dev.tsv"):
        load_dataset(write_beir(tmp_path / "z"), split="dev")


def test_cranfield_smart_traps(tmp_path: Path) -> None:
    folder = tmp_path / "cran"
    folder.mkdir()
    (folder / "cran.all.1400").write_text(
        ".I 1\n.T\nfirst title .\n.A\nsomeone\n.B\nj. 1\n.W\nfirst title .\nbody one .\n"
        ".I 2\n.T\nsecond .\n.W\nsecond .\nbody two .\n"
    )
    # .I numbers skip (001, 004): the judgements number queries 1, 2 in file order.
    (folder / "cran.qry").write_text(".I 001\n.W\nwhat about one .\n.I 004\n.W\nwhat about\ntwo .\n")
    (folder / "cranqrel").write_text("1 1 4\n 2 2 -1\n2 1 1\n")
    data = load_cranfield(folder)
    assert data.corpus["1"].full_text == "first title . body one ."
    assert data.queries == {"1": "what about one .", "2": "what about two ."}
    assert data.qrels == {"1": {"1": 4}, "2": {"2": 0, "1": 1}}  # -1 (no interest) is gain 0
    (folder / "cranqrel").write_text("1 1 4\n2 1\n")
    with pytest.raises(InputError, match=r"cranqrel:2: expected 'query doc grade', got 2 fields"):
        load_cranfield(folder)
    (folder / "cranqrel").write_text("1 1 5\n")
    with pytest.raises(InputError, match=r"grade 5 is outside"):
        load_cranfield(folder)


@pytest.mark.skipif(not CRANFIELD.is_dir(), reason="../shared/datasets/cranfield is not beside the project")
def test_real_cranfield_counts() -> None:
    data = load_cranfield(CRANFIELD)
    assert (len(data.corpus), len(data.queries), sum(len(v) for v in data.qrels.values())) == (1400, 225, 1837)
    grades = [g for v in data.qrels.values() for g in v.values()]
    assert grades.count(4) == 363 and grades.count(0) == 225  # 225 lines graded -1
