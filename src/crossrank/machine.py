"""What machine a figure was measured on: the CPU's name, family and the instruction-set facts that decide speed.

int8 matrix products are fastest with VNNI (AVX-512 VNNI, AVX-VNNI) or AMX. Without them it depends on the core:
on an AMD EPYC of family 23 (Zen 2) ONNX Runtime's int8 kernels ran at fp32's speed, on one of family 25 (Zen 3,
AVX2 only as well) at twice it. So every benchmark and evaluation report prints the family beside the flags.
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


def _cpuinfo(text: str | None = None) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (or of `text`), keyed by their exact names."""
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the end of the first processor's block
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_name(text: str | None = None) -> str:
    """The CPU model as /proc/cpuinfo names it (the machine's architecture where there is none)."""
    return _cpuinfo(text).get("model name") or platform.machine()


def cpu_family(text: str | None = None) -> str | None:
    """'family F, model M' on x86 (what tells an AMD Zen 2 from a Zen 3 when both say 'AMD EPYC'), else None."""
    fields = _cpuinfo(text)
    if "cpu family" not in fields or "model" not in fields:
        return None
    return f"family {fields['cpu family']}, model {fields['model']}"


def cpu_features(text: str | None = None) -> list[str]:
    """The speed-relevant instruction sets this CPU has (AVX2, AVX-512, VNNI, AMX), in a fixed order."""
    flags = set(_cpuinfo(text).get("flags", "").split())
    return [label for flag, label in _FLAGS.items() if flag in flags]


def describe(text: str | None = None) -> str:
    """One line for reports: name, family and instruction sets."""
    features = ", ".join(cpu_features(text)) or "no AVX2"
    family = cpu_family(text)
    return f"{cpu_name(text)} ({family}; {features})" if family else f"{cpu_name(text)} ({features})"
