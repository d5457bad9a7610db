"""The cache: atomic folders, content keys, and an export reused instead of redone."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank import Reranker
from crossrank.cache import build_once, cache_root, content_key
from crossrank.export import onnx as onnx_build


def test_build_once_is_atomic(tmp_path: Path) -> None:
    final = tmp_path / "entry"

    def broken(tmp: Path) -> None:
        (tmp / "half.onnx").write_bytes(b"partial")
        raise RuntimeError("killed midway")

    with pytest.raises(RuntimeError):
        build_once(final, broken)
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary leftovers
    build_once(final, lambda tmp: (tmp / "model.onnx").write_bytes(b"done"))
    build_once(final, broken)  # already built: not called again
    assert (final / "model.onnx").read_bytes() == b"done"


def test_content_key_follows_bytes_and_settings(tmp_path: Path) -> None:
    a = tmp_path / "config.json"
    a.write_text("{}")
    first = content_key([a], "opset18")
    assert content_key([a], "opset18") == first
    assert content_key([a], "opset17") != first
    a.write_text('{"x": 1}')
    assert content_key([a], "opset18") != first


def test_cache_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(tmp_path / "env"))
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert cache_root() == tmp_path / "env"
    monkeypatch.delenv("CROSSRANK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "crossrank"


def test_export_is_cached_and_safe_to_delete(tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = Reranker(tiny_bert, backend="onnx", cache_dir=cache)
    scores = first.score([("cat", "the cat sat on the mat")])
    assert sorted(p.name for p in next((cache / "onnx").iterdir()).iterdir()) == ["fp32"]

    def no_export(folder: Path, out: Path, *, task: str = "classify") -> None:
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(onnx_build, "export", no_export)
    assert Reranker(tiny_bert, backend="onnx", cache_dir=cache).score([("cat", "the cat sat on the mat")]) == scores
    monkeypatch.undo()
    import shutil

    shutil.rmtree(cache)
    assert Reranker(tiny_bert, backend="onnx", cache_dir=cache).score([("cat", "the cat sat on the mat")]) == scores


@pytest.mark.slow
def test_a_model_loaded_for_int8_is_optimised_once_into_the_cache(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = Reranker(tiny_bert, cache_dir=cache)  # the default backend: optimised
    scores = first.score([("cat", "the cat sat on the mat")])
    (entry,) = (cache / "optimized").iterdir()
    assert Path(first.spec.path) == entry and first.backend.arithmetic == "static int8"
    assert sorted(p.name for p in (entry / "onnx").iterdir()) == ["activation_scales.json", "model_int8.onnx"]

    def no_export(folder: Path, out: Path, *, task: str = "classify") -> None:
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(onnx_build, "export", no_export)
    assert (
        Reranker(tiny_bert, backend="onnx-int8", cache_dir=cache).score([("cat", "the cat sat on the mat")]) == scores
    )
    monkeypatch.undo()
    import shutil

    shutil.rmtree(cache)
    assert (
        Reranker(tiny_bert, backend="onnx-int8", cache_dir=cache).score([("cat", "the cat sat on the mat")]) == scores
    )
