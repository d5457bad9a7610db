"""The same pair scores the same on another CPU kind: the pinned pairs scored here and on an emulated AVX2 CPU
without AVX-512 (`qemu-x86_64 -cpu EPYC-Rome`, where ONNX Runtime dispatches its AVX2 kernels), per arithmetic
path, within the bounds the pins promise. On an AVX2-only host both runs take the same kernels."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CROSS_CPU_BOUND, CROSS_CPU_BOUND_INT8

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cross_cpu.py"


@pytest.mark.slow  # ~1-2 min: Python and three ONNX Runtime sessions under emulation
@pytest.mark.skipif(platform.machine() != "x86_64" or shutil.which("qemu-x86_64") is None, reason="needs qemu-user")
def test_static_int8_and_float32_hold_their_bounds_on_an_emulated_avx2_cpu(tmp_path: Path) -> None:
    native, emulated = tmp_path / "native.npz", tmp_path / "emulated.npz"
    subprocess.run([sys.executable, str(SCRIPT), "--scores-to", str(native)], check=True, timeout=300)
    command = ["qemu-x86_64", "-cpu", "EPYC-Rome", sys.executable, str(SCRIPT), "--scores-to", str(emulated)]
    subprocess.run(command, check=True, timeout=1200, stderr=subprocess.DEVNULL)
    here, there = np.load(native), np.load(emulated)
    moved = {name: float(np.abs(here[name] - there[name]).max()) for name in here.files}
    assert moved["onnx-int8 (static int8, the default)"] <= CROSS_CPU_BOUND_INT8, moved
    assert moved["onnx (float32)"] <= CROSS_CPU_BOUND, moved
