from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_models import build_bert_family, build_xlmr

CROSS_CPU_BOUND = 2e-4
"""How far float32 arithmetic may move a score between CPU kinds (benchmarks/cross_cpu.py measured 1.4e-5)."""
CROSS_CPU_BOUND_INT8 = 0.03
"""The same for dynamic int8, where fp32 noise flips 8-bit roundings (measured up to 0.024)."""


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crossrank-cache")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_family(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_bert_two_logits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_family(tmp_path_factory.mktemp("tiny-bert-2"), num_labels=2, seed=1)


@pytest.fixture(scope="session")
def tiny_electra(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_family(tmp_path_factory.mktemp("tiny-electra"), kind="electra", seed=4)


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_xlmr(tmp_path_factory.mktemp("tiny-xlmr"), seed=3)
