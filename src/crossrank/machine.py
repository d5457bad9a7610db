"""What machine a figure was measured on: the CPU's name and the instruction-set facts that decide speed.

int8 matrix products are fast only with VNNI (AVX-512 VNNI, AVX-VNNI) or AMX; without them ONNX Runtime's
int8 kernels run at about fp32's speed. Every benchmark and evaluation report prints these facts.
"""

from __future__ import annotations

import platform
from pathlib import Path

# /proc/cpuinfo flag -> how reports name it
_FLAGS = {
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_int8": "AMX-INT8",
}


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (the machine's architecture where there is none)."""
    return _cpuinfo_field("model name") or platform.machine()


def cpu_features() -> list[str]:
    """The speed-relevant instruction sets this CPU has (AVX2, AVX-512, VNNI, AMX), in a fixed order."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return [label for flag, label in _FLAGS.items() if flag in flags]


def int8_accelerated() -> bool:
    """Whether the CPU has an int8 dot-product unit (VNNI or AMX), the only case where int8 buys speed."""
    return any(f in cpu_features() for f in ("AVX-512 VNNI", "AVX-VNNI", "AMX-INT8"))


def describe() -> str:
    """One line for reports: name and instruction sets."""
    features = cpu_features()
    return f"{cpu_name()} ({', '.join(features) if features else 'no AVX2'})"
