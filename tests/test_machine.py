"""What benchmarks say of the machine: name, family and instruction sets, read from /proc/cpuinfo's text."""

from __future__ import annotations

from crossrank.machine import cpu_family, cpu_features, describe

ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx fma avx2 f16c

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 23
model\t\t: 49
model name\t: something else
flags\t\t: avx512f
"""

XEON = """processor\t: 0
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_int8
"""

ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd
"""


def test_an_amd_epyc_is_told_apart_by_its_family_and_the_first_processor_alone_counts() -> None:
    # "model" must not be mistaken for "model name", nor the second processor's block read.
    assert cpu_family(ZEN3) == "family 25, model 1"
    assert cpu_features(ZEN3) == ["AVX2", "FMA"]
    assert describe(ZEN3) == "AMD EPYC (family 25, model 1; AVX2, FMA)"


def test_a_xeon_with_amx_lists_every_int8_unit_in_a_fixed_order() -> None:
    assert describe(XEON) == (
        "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz "
        "(family 6, model 143; AVX2, FMA, AVX-512, AVX-512 VNNI, AVX-512 BF16, AMX-INT8)"
    )


def test_a_cpu_without_x86_fields_falls_back_to_the_architecture() -> None:
    assert cpu_family(ARM) is None
    assert cpu_features(ARM) == []
    assert describe(ARM).endswith("(no AVX2)")
