"""Model discovery and config reading: what is accepted, what is refused and how it is said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossrank import ModelError
from crossrank.models import read_spec, resolve_model


def test_specs_read_from_config(tiny_bert: Path, tiny_bert_two_logits: Path, tiny_xlmr: Path) -> None:
    one = read_spec(tiny_bert)
    assert (one.model_type, one.num_labels, one.activation, one.max_length) == ("bert", 1, "sigmoid", 128)
    two = read_spec(tiny_bert_two_logits)
    assert (two.num_labels, two.activation) == (2, "softmax")
    xlmr = read_spec(tiny_xlmr)
    assert (xlmr.model_type, xlmr.max_length) == ("xlm-roberta", 128)  # 130 positions minus the padding offset
    assert read_spec(tiny_bert, max_length=64).max_length == 64
    with pytest.raises(ModelError, match="exceeds the model's 128 position embeddings"):
        read_spec(tiny_bert, max_length=1000)


def _copy_with_config(src: Path, dst: Path, **changes: object) -> Path:
    dst.mkdir()
    for item in src.iterdir():
        (dst / item.name).write_bytes(item.read_bytes())
    config = json.loads((src / "config.json").read_text())
    config.update(changes)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_refuses_models_that_are_not_rerankers(tiny_bert: Path, tmp_path: Path) -> None:
    encoder = _copy_with_config(tiny_bert, tmp_path / "encoder", architectures=["BertModel"])
    with pytest.raises(ModelError, match=r"not a sequence-classification model \(architectures: \['BertModel'\]\)"):
        read_spec(encoder)
    nli = _copy_with_config(
        tiny_bert, tmp_path / "nli", id2label={"0": "contradiction", "1": "neutral", "2": "entailment"}
    )
    with pytest.raises(ModelError, match="has 3 output labels"):
        read_spec(nli)
    with pytest.raises(ModelError, match="has no config.json"):
        read_spec(tmp_path)


def test_identity_activation_from_sentence_transformers_config(tiny_bert: Path, tmp_path: Path) -> None:
    folder = _copy_with_config(
        tiny_bert, tmp_path / "st", sentence_transformers={"activation_fn": "torch.nn.modules.linear.Identity"}
    )
    assert read_spec(folder).activation == "identity"


def test_resolve_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(tmp_path / "missing")
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        resolve_model(tmp_path / "file.bin")
    assert resolve_model(tmp_path) == tmp_path


def test_unreachable_hub_names_the_offline_ways(tmp_path: Path) -> None:
    """A hub id on a machine without the hub: clear message, exit 2, no traceback."""
    docs = tmp_path / "docs.txt"
    docs.write_text("one\ntwo\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossrank.cli",
            "rerank",
            "--model",
            "someorg/some-reranker",
            "-q",
            "x",
            "-d",
            str(docs),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "could not load model 'someorg/some-reranker'" in proc.stderr
    assert "built-in default" in proc.stderr and "--model PATH" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # ~8 s: a model export or two training runs
def test_hub_id_resolves_from_the_hub_cache(tiny_bert: Path, tmp_path: Path) -> None:
    """The real hub path: a model already in the Hugging Face cache loads by its id with the hub offline."""
    snapshot = tmp_path / "hf" / "hub" / "models--someorg--tiny-reranker" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    for item in tiny_bert.iterdir():
        (snapshot / item.name).write_bytes(item.read_bytes())
    refs = snapshot.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("a" * 40)
    docs = tmp_path / "docs.txt"
    docs.write_text("the cat sat on the mat\nrain falls on the city at night\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "CROSSRANK_CACHE": str(tmp_path / "c")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossrank.cli",
            "rerank",
            "-m",
            "someorg/tiny-reranker",
            "-b",
            "torch",
            "-q",
            "cat",
            "-d",
            str(docs),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "tiny-reranker"
