"""`crossrank rerank` end to end: formats, output, and errors with a message and exit code 2."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from crossrank import Reranker
from crossrank.cli import main
from tests.tiny_models import CORPUS


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_matches_the_library(
    tiny_bert: Path,
    cache_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    docs = tmp_path / "docs.txt"
    docs.write_text(CORPUS[0] + "\n\n" + "\n".join(CORPUS[1:]) + "\n")
    code, out, err = _run(["rerank", "-m", str(tiny_bert), "-q", "wing flow", "-d", str(docs), "--json"], capsys)
    assert code == 0
    assert "skipped 1 blank line(s)" in err
    payload = json.loads(out)
    expected = Reranker(tiny_bert, cache_dir=cache_dir).rerank("wing flow", CORPUS)
    assert [r["index"] for r in payload["results"]] == [r.index for r in expected]
    assert [r["document"] for r in payload["results"]] == [r.document for r in expected]
    assert [r["line"] for r in payload["results"]] == [i + 1 if i == 0 else i + 2 for i in (r.index for r in expected)]
    assert payload["backend"] == "onnx-int8"  # a model of float weights runs optimised


@pytest.mark.filterwarnings("default::crossrank.QueryTruncatedWarning")
def test_warnings_are_one_line_for_the_user(
    tiny_bert: Path,
    cache_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(CORPUS) + "\n")
    long_query = " ".join(["wing flow"] * 40)
    code, _, err = _run(
        ["rerank", "-m", str(tiny_bert), "-q", long_query, "-d", str(docs), "--max-length", "32"], capsys
    )
    assert code == 0
    assert re.search(r"^crossrank: warning: query of \d+ tokens cut to \d+", err, re.MULTILINE)
    assert ".py:" not in err  # no source location, no code line


def test_cascade_flags_return_the_cascade_ranking(
    tiny_bert: Path,
    cache_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(CORPUS) + "\n")
    args = ["rerank", "-m", str(tiny_bert), "-q", "wing flow", "-d", str(docs), "--json", "--cascade-keep", "3"]
    code, out, err = _run([*args, "--cascade-length", "32"], capsys)
    assert code == 0
    assert json.loads(out)["model"].endswith(" cascade 3@32")
    scored_by = [r["scored_by"] for r in json.loads(out)["results"]]  # every document back, who scored it said
    assert scored_by == [tiny_bert.name] * 3 + [f"{tiny_bert.name}@32"] * (len(CORPUS) - 3)
    expected = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=3, cascade_length=32).rerank("wing flow", CORPUS)
    assert [r["index"] for r in json.loads(out)["results"]] == [r.index for r in expected]
    code, _, err = _run([*args, "--cascade-length", "500"], capsys)
    assert code == 2 and "cascade_length must be at least 8 and below the 128-token window" in err


def test_cascade_model_flag(
    tiny_bert: Path, tiny_electra: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(CORPUS) + "\n")
    args = ["rerank", "-m", str(tiny_bert), "-q", "wing flow", "-d", str(docs), "--json", "--cascade-keep", "3"]
    code, out, err = _run([*args, "--cascade-model", str(tiny_electra)], capsys)
    assert code == 0, err
    assert len(json.loads(out)["results"]) == len(CORPUS)
    expected = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=3, cascade_model=tiny_electra)
    assert json.loads(out)["model"] == expected.name
    assert [r["index"] for r in json.loads(out)["results"]] == [r.index for r in expected.rerank("wing flow", CORPUS)]
    code, _, err = _run(["rerank", "-q", "x", "-d", str(docs), "--cascade-length", "32"], capsys)
    assert code == 2 and "cascade_length needs cascade_keep" in err


def test_jsonl_from_stdin_with_top_k_and_a_table(
    tiny_bert: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    lines = "\n".join(json.dumps({"id": i, "body": t}) for i, t in enumerate(CORPUS))
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, _ = _run(
        ["rerank", "-m", str(tiny_bert), "-q", "cat", "-d", "-", "--text-field", "body", "--top-k", "2", "--json"],
        capsys,
    )
    assert code == 0
    results = json.loads(out)["results"]
    assert len(results) == 2 and results[0]["document"]["id"] == results[0]["index"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(CORPUS)))
    code, out, _ = _run(["rerank", "-m", str(tiny_bert), "-q", "cat", "-d", "-"], capsys)
    assert code == 0 and "rank" in out and "score" in out


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ('{"text": "ok"}\n{"text": \n', "bad.jsonl", r"bad.jsonl:2: invalid JSON"),
        (
            '{"text": "ok"}\n{"title": "no text"}\n',
            "notext.jsonl",
            r"notext.jsonl:2: object has no string field 'text'",
        ),
        ("[1, 2]\n", "list.jsonl", "list.jsonl:1: expected a JSON string or object, got list"),
    ],
)
def test_malformed_documents_fail_with_file_and_line(
    tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    code, _, err = _run(["rerank", "-m", str(tiny_bert), "-q", "x", "-d", str(path)], capsys)
    assert code == 2
    assert "crossrank: error:" in err
    assert re.search(message, err), err


def test_missing_file_empty_query_and_bad_numbers(
    tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["rerank", "-m", str(tiny_bert), "-q", "x", "-d", str(tmp_path / "none.txt")], capsys)
    assert code == 2 and "does not exist" in err
    docs = tmp_path / "d.txt"
    docs.write_text("a\n")
    code, _, err = _run(["rerank", "-m", str(tiny_bert), "-q", " ", "-d", str(docs)], capsys)
    assert code == 2 and "query is empty" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["rerank", "-q", "x", "-d", str(docs), "--top-k", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive integer, got '0'" in capsys.readouterr().err
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    code, _, err = _run(["rerank", "-m", str(tiny_bert), "-q", "x", "-d", str(tmp_path / "latin1.txt")], capsys)
    assert code == 2 and "is not UTF-8 text" in err


@pytest.mark.parametrize(
    ("teachers", "expected"),
    [
        ("cohere", "teachers are default, biencoder, e5, mpnet, splade-tiny, bm25 (each may end in :weight)"),
        ("biencoder,tfidf", "got 'tfidf'"),
        (",", "got none"),
        ("mpnet,default:0", "a teacher's weight is a positive number, got 'default:0'"),
        ("mpnet,mpnet", "teacher 'mpnet' is named twice"),
    ],
)
def test_train_rejects_teachers_it_cannot_fuse(
    teachers: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--teacher", teachers])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and f"(in {teachers!r})" in err


def test_version_and_every_default_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from crossrank import __version__
    from crossrank.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out == f"crossrank {__version__}\n"
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, command in commands.items():
        for action in command._actions:
            if not action.option_strings:
                assert action.help, f"{name}'s argument {action.dest} has no help"
                continue
            if action.dest == "help":
                continue
            assert action.help, f"{name} {action.option_strings[0]} has no help"
            shown = command.formatter_class(prog=name)._get_help_string(action) or ""  # type: ignore[attr-defined]
            if action.default not in (None, False) and not action.required:
                assert "default" in shown, f"{name} {action.option_strings[0]} hides its default"


def test_a_reader_that_goes_away_is_a_quiet_exit(tmp_path: Path, tiny_bert: Path) -> None:
    import subprocess
    import sys

    docs = tmp_path / "d.txt"
    docs.write_text("\n".join(CORPUS * 40) + "\n")
    command = [sys.executable, "-m", "crossrank.cli", "rerank", "-m", str(tiny_bert), "-q", "rain", "-d", str(docs)]
    pipeline = subprocess.run(
        f"{' '.join(map(str, command))} --json | head -2", shell=True, capture_output=True, text=True, timeout=120
    )
    assert pipeline.stdout.splitlines()[0] == "{"
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr, pipeline.stderr


def test_serve_refuses_a_bad_port_before_saying_it_serves(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    code, _, err = _run(["serve", "--port", "70000"], capsys)
    assert code == 2 and "crossrank: error: cannot listen on 127.0.0.1:70000: a TCP port is 1-65535" in err
    assert "serving" not in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = _run(["serve", "--port", str(port)], capsys)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}: the port is already in use" in err
    assert "serving" not in err


def test_serve_on_every_interface_without_a_key_warns(tiny_bert: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "crossrank.cli", "serve", "-m", str(tiny_bert), "--host", "0.0.0.0"]
    server = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        lines = [server.stderr.readline(), server.stderr.readline()]
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
    assert "warning: --host 0.0.0.0 serves every network interface with no --api-key" in lines[0]
    assert "serving" in lines[1]


def test_serve_refuses_a_model_it_cannot_load_and_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["serve", "--model", "/nonexistent"], capsys)
    assert code == 2 and "crossrank: error: model folder '/nonexistent' does not exist" in err
    assert "serving" not in err
    for bad in ("nan", "0", "-5", "inf"):
        with pytest.raises(SystemExit) as exit_info:
            main(["serve", "--timeout", bad])
        assert exit_info.value.code == 2
        assert f"argument --timeout: expected a positive number, got '{bad}'" in capsys.readouterr().err


def test_serve_exits_2_when_a_hub_model_cannot_load(tmp_path: Path) -> None:
    """A hub id loads in the background; offline it fails: the process says why and exits 2 (no endless 503)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "CROSSRANK_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "crossrank.cli", "serve", "--model", "no-such-org/no-such-model", "--port", port],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "crossrank: error: the model could not load, so the server stopped:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_labels_say_what_ran(
    tiny_bert: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cascade's name only where its first pass ran: three documents under a keep of five are the model's."""
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(CORPUS[:3]) + "\n")
    model = ["-m", str(tiny_bert), "--cache-dir", str(cache_dir), "--cascade-keep", "5", "--cascade-length", "16"]
    code, out, _ = _run(["rerank", "-q", "wing flow", "-d", str(docs), "--json", *model], capsys)
    assert code == 0 and json.loads(out)["model"] == Reranker(tiny_bert, cache_dir=cache_dir).spec.name
    docs.write_text("\n".join(CORPUS) + "\n")
    code, out, _ = _run(["rerank", "-q", "wing flow", "-d", str(docs), "--json", *model], capsys)
    assert code == 0 and json.loads(out)["model"].endswith("cascade 5@16")
    from crossrank.training.trainer import EpochResult

    assert str(EpochResult(2, 0.5, 0.75, 0.8, 12.0)) == (
        "epoch 2: loss 0.5000, held-out accuracy 0.750, MRR 0.800 (12 s)"
    )


@pytest.mark.parametrize("as_json", [True, False])
def test_a_reader_that_leaves_early_ends_the_command_with_0(tmp_path: Path, as_json: bool) -> None:
    """`crossrank rerank ... | head -1`: the same exit status after --json and after the table, whatever the size."""
    import subprocess
    import sys

    docs = tmp_path / "docs.txt"
    docs.write_text("".join(f"passage {i} about wings, lift and the flow of air over a wing\n" for i in range(3000)))
    command = [sys.executable, "-m", "crossrank.cli", "rerank", "-m", "crossrank-tiny", "-q", "lift", "-d", str(docs)]
    env = {"HF_HUB_OFFLINE": "1", "CROSSRANK_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [*command, *(["--json"] if as_json else [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # the reader goes away with most of the output unread
    code, err = proc.wait(timeout=120), proc.stderr.read()
    proc.stderr.close()
    assert code == 0, err.decode()
    assert b"Traceback" not in err


def test_serve_sizes_the_score_cache_by_memory() -> None:
    from crossrank.cli import build_parser
    from crossrank.cli.serve import served_settings
    from crossrank.score_cache import entries_for

    parser = build_parser()
    assert served_settings(parser.parse_args(["serve"])).cache_size == entries_for(64)
    assert served_settings(parser.parse_args(["serve", "--cache-mb", "0"])).cache_size is None
    assert served_settings(parser.parse_args(["serve", "--cache-size", "10"])).cache_size == 10
    assert served_settings(parser.parse_args(["serve", "--backend", "torch"])).cache_size is None


def test_serve_s_defaults_are_the_server_s_own() -> None:
    """The server's limits are declared once (`ServerConfig`); `crossrank serve` takes its defaults from there."""
    from dataclasses import fields

    from crossrank.cli import build_parser
    from crossrank.server.config import ServerConfig

    args = build_parser().parse_args(["serve"])
    given = {
        "max_documents": args.max_documents,
        "max_request_bytes": args.max_request_bytes,
        "max_query_chars": args.max_query_chars,
        "request_timeout_s": args.timeout,
        "max_queue": args.max_queue,
    }
    defaults = {f.name: f.default for f in fields(ServerConfig)}
    assert given == {name: defaults[name] for name in given}


def test_serve_refuses_a_model_named_twice(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["serve", "--model", "crossrank-tiny", "--model", "crossrank-tiny"], capsys)
    assert code == 2 and "crossrank-tiny is served already" in err
    code, _, err = _run(["serve", "--model", "crossrank-tiny", "--model", "/no/such", "--ray-replicas", "2"], capsys)
    assert code == 2 and "model folder '/no/such' does not exist" in err
