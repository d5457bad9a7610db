"""`crossrank batch`: the same results as `Reranker.rerank`, resumable chunk by chunk, the same output on Ray, and
a Ray actor killed mid-job costs nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from crossrank import InputError, Reranker
from crossrank.batch import Workers, rerank_file, rerank_trec
from crossrank.cli import main
from crossrank.errors import OutputRefused
from crossrank.settings import ModelSettings
from tests.tiny_models import CORPUS

QUERIES = ["wing flow", "cat on a mat", "rain at night", "supersonic wind tunnel", "garden dogs", "heat transfer"]


def write_rows(path: Path, count: int = len(QUERIES), *, repeat: int = 1) -> Path:
    """Rows alternating plain-text documents and objects with ids, one query each (the corpus `repeat` times)."""
    rows = []
    texts = [f"{t} ({n})" for n in range(repeat) for t in CORPUS] if repeat > 1 else list(CORPUS)
    for i in range(count):
        query = QUERIES[i % len(QUERIES)]
        documents: list[object] = list(texts) if i % 2 else [{"id": f"d{j}", "text": t} for j, t in enumerate(texts)]
        rows.append({"id": f"q{i}", "query": query, "documents": documents})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_results(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_results_equal_rerank_and_every_row_appears_once(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl", count=7)
    settings = ModelSettings(model=str(tiny_bert))
    report = rerank_file(rows, tmp_path / "out", model=settings, chunk_rows=3, top_k=4)
    assert (report.rows, report.chunks, report.chunks_done_before, report.results) == (7, 3, 0, 28)
    results = read_results(report.path)
    assert [r["row"] for r in results] == list(range(7)) and [r["id"] for r in results] == [f"q{i}" for i in range(7)]
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    for i, record in enumerate(results):
        expected = reranker.rerank(QUERIES[i % len(QUERIES)], CORPUS, top_k=4)
        assert [(r["index"], r["score"]) for r in record["results"]] == [(e.index, e.score) for e in expected]  # type: ignore[union-attr]
        assert all(("id" in r) == (i % 2 == 0) for r in record["results"])  # type: ignore[union-attr]


def test_a_rerun_continues_where_it_stopped_and_changed_settings_start_over(tiny_bert: Path, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl")
    settings = ModelSettings(model=str(tiny_bert))
    out = tmp_path / "out"
    first = rerank_file(rows, out, model=settings, chunk_rows=2)
    whole = first.path.read_bytes()
    parts = sorted((out / "parts").iterdir())
    assert len(parts) == 3
    parts[1].unlink()  # as if the job had been stopped before its second chunk
    stamp = {p: p.stat().st_mtime_ns for p in (parts[0], parts[2])}
    second = rerank_file(rows, out, model=settings, chunk_rows=2)
    assert second.chunks_done_before == 2 and second.path.read_bytes() == whole
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())  # done chunks were not scored again
    third = rerank_file(rows, out, model=settings, chunk_rows=2, top_k=1)  # another job: no part is reused
    assert third.chunks_done_before == 0 and third.results == len(QUERIES)


def test_bad_rows_and_foreign_outputs_are_refused_before_any_work(tiny_bert: Path, tmp_path: Path) -> None:
    settings = ModelSettings(model=str(tiny_bert))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "documents": ["a"]}\n{"query": "q", "documents": "not a list"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: needs a list 'documents'"):
        rerank_file(bad, tmp_path / "out", model=settings)
    assert not (tmp_path / "out").exists()  # nothing is created for rows that cannot be read
    bad.write_text("[1, 2]\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1"):
        rerank_file(bad, tmp_path / "out", model=settings)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="holds no rows"):
        rerank_file(empty, tmp_path / "out", model=settings)
    assert not (tmp_path / "out").exists()
    bad.write_text('{"query": "q", "documents": ["a", 3]}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1: documents\[1\] must be a string or a mapping"):
        rerank_file(bad, tmp_path / "out2", model=settings)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(OutputRefused, match="mine holds 1 entry"):
        rerank_file(write_rows(tmp_path / "rows.jsonl"), foreign, model=settings)
    assert (foreign / "notes.txt").read_text() == "keep me" and len(list(foreign.iterdir())) == 1


def test_trec_run_in_trec_run_out(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n" for i, t in enumerate(CORPUS))
    )
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"_id": f"q{i}", "text": q}) + "\n" for i, q in enumerate(QUERIES[:2])))
    run = tmp_path / "bm25.run"
    run.write_text("".join(f"q{q} Q0 d{d} {d + 1} {10 - d} bm25\n" for q in range(2) for d in range(len(CORPUS))))
    report = rerank_trec(run, corpus, queries, tmp_path / "out", k=5, model=ModelSettings(model=str(tiny_bert)))
    lines = report.path.read_text().splitlines()
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    for q in range(2):
        expected = reranker.rerank(QUERIES[q], CORPUS[:5])
        assert [line.split()[2] for line in lines if line.startswith(f"q{q} ")] == [f"d{e.index}" for e in expected]
    run.write_text("q0 Q0 d0 1 1 x\nq1 Q0 d0 1 1 x\nq0 Q0 d1 2 0.5 x\n")
    with pytest.raises(InputError, match="query 'q0' appears again after other queries"):
        rerank_trec(run, corpus, queries, tmp_path / "out2", model=ModelSettings(model=str(tiny_bert)))
    assert not (tmp_path / "out2").exists()


def test_an_unreachable_ray_cluster_is_refused_at_once_naming_it(tiny_bert: Path, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl")
    started = time.monotonic()
    with pytest.raises(InputError, match=r"cannot reach a Ray cluster at 127.0.0.1:1 \("):
        rerank_file(rows, tmp_path / "out", model=ModelSettings(model=str(tiny_bert)), workers=Workers("127.0.0.1:1"))
    assert time.monotonic() - started < 30 and not (tmp_path / "out").exists()


def test_cli_batch(tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = write_rows(tmp_path / "rows.jsonl")
    assert main(["batch", str(rows), "--out", str(tmp_path / "out"), "-m", str(tiny_bert), "--chunk-rows", "4"]) == 0
    assert f"reranked {len(QUERIES)} rows" in capsys.readouterr().err
    assert len(read_results(tmp_path / "out" / "results.jsonl")) == len(QUERIES)
    assert main(["batch", "--out", str(tmp_path / "o2"), "--run", str(rows)]) == 2
    assert "a TREC run with --run, --corpus and --queries" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_output_equals_local_and_survives_a_killed_actor(tiny_bert: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    rows = write_rows(tmp_path / "rows.jsonl", count=16, repeat=40)  # 360 documents a row: chunks take a while
    settings = ModelSettings(model=str(tiny_bert))
    local = rerank_file(rows, tmp_path / "local", model=settings, chunk_rows=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        workers = Workers(ray_address="local", actors=2, cpus_per_actor=1)
        on_ray = rerank_file(rows, tmp_path / "ray", model=settings, chunk_rows=2, workers=workers)
        assert on_ray.path.read_bytes() == local.path.read_bytes()
        killed = _kill_one_actor_when_a_part_appears(tmp_path / "killed" / "parts")
        again = rerank_file(rows, tmp_path / "killed", model=settings, chunk_rows=1, workers=workers)
        assert killed.wait(0) and killed.pid is not None, "no actor was killed: the test did not test anything"
        results = read_results(again.path)
        assert [r["row"] for r in results] == list(range(16))  # every row once: none lost, none twice
        assert again.path.read_bytes() != b"" and [r["results"] for r in results] == [
            r["results"] for r in read_results(local.path)
        ]
    finally:
        ray.shutdown()


class _Kill(threading.Event):
    pid: int | None = None


def _kill_one_actor_when_a_part_appears(parts: Path) -> _Kill:
    """A thread that SIGKILLs one of the batch's actor processes (Ray titles them `ray::_ChunkActor...`) once
    the job has written its first part."""
    import psutil

    done = _Kill()

    def actor_pids() -> list[int]:
        return [
            proc.info["pid"]
            for proc in psutil.process_iter(["pid", "cmdline"])
            if any("_ChunkActor" in part for part in proc.info["cmdline"] or [])
        ]

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if parts.is_dir() and any(parts.iterdir()):
                pids = actor_pids()
                if pids:
                    done.pid = pids[0]
                    os.kill(pids[0], signal.SIGKILL)
                    break
            time.sleep(0.05)
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    return done


def _ray_processes() -> list[str]:
    import psutil

    names = ("raylet", "gcs_server", "ray::")
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if any(name in line for name in names):
            found.append(line[:80])
    return found


@pytest.mark.slow  # ~40 s: Ray starts twice
def test_ray_keeps_its_noise_to_itself_and_ctrl_c_leaves_nothing_running(tiny_bert: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    pytest.importorskip("ray")
    assert not _ray_processes(), "another Ray is running; this test needs the machine to itself"
    rows = write_rows(tmp_path / "rows.jsonl")
    command = [sys.executable, "-m", "crossrank.cli", "batch", str(rows), "-m", str(tiny_bert), "--ray", "local"]
    done = subprocess.run([*command, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line: "reranked ..."
    assert "reranked 6 rows" in done.stderr and (tmp_path / "out" / "ray.log").is_file()
    assert len(read_results(tmp_path / "out" / "results.jsonl")) == 6
    assert main(["batch", str(rows), "--out", str(tmp_path / "out"), "-m", str(tiny_bert)]) == 0  # its own output
    deadline = time.monotonic() + 30
    while _ray_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_processes()

    interrupted = subprocess.Popen(
        [*command, "--out", str(tmp_path / "stopped")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C reaches the whole group, as from a terminal
    )
    deadline = time.monotonic() + 60
    while not _ray_processes() and time.monotonic() < deadline:  # Ray is starting
        time.sleep(0.1)
    os.killpg(interrupted.pid, signal.SIGINT)
    _, err = interrupted.communicate(timeout=120)
    assert interrupted.returncode == 130, err
    assert "crossrank: interrupted" in err and "Traceback" not in err and "core_worker" not in err
    deadline = time.monotonic() + 30
    while _ray_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_processes(), "Ray processes outlived the interrupted command"


def test_a_cascade_job_returns_every_document_of_every_row(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl", count=3)
    settings = ModelSettings(model=str(tiny_bert), cascade_keep=2, cascade_length=32)
    report = rerank_file(rows, tmp_path / "out", model=settings)
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=2, cascade_length=32)
    for i, record in enumerate(read_results(report.path)):
        expected = cascade.rerank(QUERIES[i], CORPUS)
        assert [(r["index"], r["score"]) for r in record["results"]] == [(e.index, e.score) for e in expected]  # type: ignore[union-attr]
        assert len(record["results"]) == len(CORPUS)  # type: ignore[arg-type]
