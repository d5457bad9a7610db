"""Text in, defined behaviour out: every way text reaches crossrank (CLI arguments, text and JSONL files, stdin,
library calls) either scores or fails with a message naming the item; never a traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossrank import InputError, Reranker
from crossrank.cli import main
from crossrank.documents import read_documents


@pytest.fixture(scope="module")
def reranker(tiny_bert: Path, cache_dir: Path) -> Reranker:
    return Reranker(tiny_bert, cache_dir=cache_dir)


@pytest.fixture(autouse=True)
def _cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))


def _rerank(tiny_bert: Path, docs: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["rerank", "-m", str(tiny_bert), "-q", "lift", "-d", str(docs), "--json", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_lone_surrogate_in_jsonl_text_or_any_field(
    tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for line in ['"bad \\ud800"', '{"text": "x", "\\ud800": 1}', '{"text": "x", "meta": ["\\udfff"]}']:
        path = tmp_path / "s.jsonl"
        path.write_text(line + "\n")
        code, out, err = _rerank(tiny_bert, path, capsys)
        assert (code, out) == (2, "")
        assert f"{path}:1: holds a lone surrogate escape" in err and "Traceback" not in err


def test_query_with_bytes_that_are_not_utf8(tmp_path: Path, tiny_bert: Path) -> None:
    docs = tmp_path / "d.txt"
    docs.write_text("wings make lift\n")
    proc = subprocess.run(
        [sys.executable, "-m", "crossrank.cli", "rerank", "-m", str(tiny_bert), "-q", b"caf\xe9", "-d", str(docs)],
        capture_output=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode() == "crossrank: error: --query is not UTF-8 text (byte 0xe9 at character 3)\n"


def test_text_files_split_at_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_bytes("line one\x0cwith a form feed\x0b and\x1c more\u2028 text\r\nline two\n".encode())
    loaded = read_documents(str(path))
    assert loaded.documents == ["line one\x0cwith a form feed\x0b and\x1c more\u2028 text", "line two"]
    assert loaded.lines == [1, 2]


def test_bom_is_dropped_from_text_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_bytes(b"\xef\xbb\xbffirst\nsecond\n")
    assert read_documents(str(tmp_path / "d.txt")).documents == ["first", "second"]
    (tmp_path / "d.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "first"}\n"second"\r\n')
    assert read_documents(str(tmp_path / "d.jsonl")).documents == [{"text": "first"}, "second"]


def test_empty_and_blank_inputs_say_so(tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n  \n\t\n")
    for name, message in [("empty.txt", "is empty; nothing to rerank"), ("blank.txt", "only 3 blank line(s)")]:
        code, out, err = _rerank(tiny_bert, tmp_path / name, capsys)
        assert (code, out) == (2, "") and message in err


def test_directory_nul_and_invalid_utf8(tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _rerank(tiny_bert, tmp_path, capsys)
    assert code == 2 and "is a directory" in err
    (tmp_path / "nul.txt").write_bytes(b"fine\nbinary\x00data\n")
    code, _, err = _rerank(tiny_bert, tmp_path / "nul.txt", capsys)
    assert code == 2 and "nul.txt:2: holds a NUL character" in err
    (tmp_path / "nul.jsonl").write_text('{"text": "fine"}\n"esc\\u0000aped"\n{"text": "a\\u0000b"}\n')
    code, _, err = _rerank(tiny_bert, tmp_path / "nul.jsonl", capsys)  # a NUL spelled as a JSON escape
    assert code == 2 and "nul.jsonl:2: holds a NUL character" in err
    (tmp_path / "nul.json").write_text('["fine", {"text": "a\\u0000b"}]')
    code, _, err = _rerank(tiny_bert, tmp_path / "nul.json", capsys)
    assert code == 2 and "nul.json item:2: holds a NUL character" in err
    (tmp_path / "bad.txt").write_bytes(b"fine\nbad \xff byte\n")
    code, _, err = _rerank(tiny_bert, tmp_path / "bad.txt", capsys)
    assert code == 2 and "bad.txt is not UTF-8 text (line 2: byte 0xff at offset 9)" in err


def test_json_output_survives_an_ascii_stdout(
    tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d.txt").write_text("café au lait ☕\n東京\n")
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["rerank", "-m", str(tiny_bert), "-q", "lift", "-d", str(tmp_path / "d.txt"), "--json"]) == 0
    out.flush()
    results = json.loads(out.buffer.getvalue())["results"]  # type: ignore[attr-defined]
    assert sorted(r["document"] for r in results) == ["café au lait ☕", "東京"]


def test_library_names_the_bad_item(reranker: Reranker) -> None:
    with pytest.raises(InputError, match=r"documents\[1\] holds a lone surrogate \(U\+D800\) at character 4"):
        reranker.rerank("q", ["ok", "bad \ud800"])
    with pytest.raises(InputError, match=r"documents\[0\]\['body'\] holds a lone surrogate"):
        reranker.rerank("q", [{"body": "\udfff"}], text_field="body")
    with pytest.raises(InputError, match=r"pairs\[0\]\[1\] holds a lone surrogate"):
        reranker.score([("q", "\udc80")])
    with pytest.raises(InputError, match=r"^query holds a lone surrogate"):
        reranker.rerank("q\udce9", ["x"])
    # NUL is binary data here as in a file; other control characters are text (the normaliser drops them)
    with pytest.raises(InputError, match=r"documents\[1\] holds a NUL character \(U\+0000\) at character 1"):
        reranker.rerank("q", ["ok", "a\x00b"])
    with pytest.raises(InputError, match=r"^query holds a NUL character"):
        reranker.rerank("q\x00", ["x"])
    assert reranker.score([("q", "ab\x0c\u2028c")]) == reranker.score([("q", "ab\x0c\u2028c")])


def test_nul_in_jsonl_is_refused_as_in_a_text_file(
    tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nul.jsonl").write_text('"fine"\n"binary\\u0000data"\n')
    code, _, err = _rerank(tiny_bert, tmp_path / "nul.jsonl", capsys)
    assert code == 2 and "nul.jsonl:2: holds a NUL character" in err  # the file and line, as for any input error


TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)  # surrogates and controls included


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=TEXT, documents=st.lists(TEXT, max_size=4))
def test_library_never_fails_other_than_input_error(reranker: Reranker, query: str, documents: list[str]) -> None:
    try:
        results = reranker.rerank(query, documents)
    except InputError:
        return
    assert sorted(r.index for r in results) == list(range(len(documents)))
    assert all(0.0 <= r.score <= 1.0 for r in results)


@settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), jsonl=st.booleans())
def test_cli_readers_never_fail_other_than_input_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, jsonl: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / ("d.jsonl" if jsonl else "d.txt")
    path.write_bytes(data)
    try:
        loaded = read_documents(str(path))
    except InputError:
        return
    assert loaded.documents and len(loaded.documents) == len(loaded.lines)
    json.dumps(loaded.documents, ensure_ascii=False).encode("utf-8")  # --json can print whatever was read


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=120), query=TEXT)
def test_cli_end_to_end_exits_0_or_2_without_traceback(
    tiny_bert: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    query: str,
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "d.jsonl"
    path.write_bytes(data)
    code = main(["rerank", "-m", str(tiny_bert), f"--query={query}", "-d", str(path), "--json"])  # = : may start with -
    out, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 0:
        json.loads(out)
    else:
        assert err.startswith("crossrank: error: ") and "Traceback" not in err


def test_a_json_file_is_read_as_one_array(tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.json").write_text('[\n  "cat on the mat",\n  {"text": "rain at night", "id": 7}\n]\n')
    loaded = read_documents(str(tmp_path / "d.json"))
    assert loaded.documents == ["cat on the mat", {"text": "rain at night", "id": 7}] and loaded.lines == [1, 2]
    code, out, _ = _rerank(tiny_bert, tmp_path / "d.json", capsys)
    assert code == 0 and sorted(r["index"] for r in json.loads(out)["results"]) == [0, 1]
    (tmp_path / "o.json").write_text('{"documents": ["a"]}')
    code, _, err = _rerank(tiny_bert, tmp_path / "o.json", capsys)
    assert code == 2 and "o.json holds a JSON dict, not an array" in err and ".jsonl file as one document" in err
    (tmp_path / "bad.json").write_text('["a", 3]')
    code, _, err = _rerank(tiny_bert, tmp_path / "bad.json", capsys)
    assert code == 2 and "bad.json item:2: expected a JSON string or object, got int" in err
