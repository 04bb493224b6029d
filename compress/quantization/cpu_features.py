"""Which int8 format suits this CPU: ``reduce_range`` on x86 CPUs without VNNI.

ONNX Runtime's x86 int8 kernels (MLAS) multiply u8 x s8 pairs with ``vpmaddubsw`` on
AVX2/AVX-512 CPUs that lack VNNI; that instruction adds two products into a saturating
int16, which overflows when both operands use the full 8-bit range. ONNX Runtime's
guidance is to quantize weights to 7 bits (``reduce_range``) there. CPUs with
AVX512-VNNI, AVX-VNNI or AMX accumulate in int32 and need no such cut. The decision and
its reason are recorded in every quantize result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "amx_tile")
X86_SIMD_FLAGS = ("avx2", "avx512f", "avx512bw")


@dataclass(frozen=True)
class Int8Format:
    """The int8 format chosen for this CPU and why."""

    quant_format: str  # always "QDQ": ONNX Runtime's documented default for static int8
    activation_type: str  # "int8" (signed)
    weight_type: str  # "int8" (signed, symmetric)
    reduce_range: bool
    reason: str
    cpu_flags: tuple[str, ...]
    forced: bool = False  # reduce_range was given by the user, not detected

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu_flags"] = list(self.cpu_flags)
        return data


def has_vnni(flags: frozenset[str] | set[str]) -> bool:
    """True when the CPU has an int8 dot-product instruction (VNNI or AMX)."""
    return any(flag in flags for flag in VNNI_FLAGS)


def choose_int8_format(
    flags: frozenset[str] | set[str] | None = None, *, reduce_range: bool | None = None
) -> Int8Format:
    """Pick ``reduce_range`` from the CPU flags (``/proc/cpuinfo`` when ``flags`` is None).

    ``reduce_range`` True/False overrides the detection (recorded as forced).
    """
    if flags is None:
        from compress.environment import cpu_info

        flags = cpu_info().flags
    relevant = tuple(f for f in (*X86_SIMD_FLAGS, *VNNI_FLAGS) if f in flags)
    if reduce_range is not None:
        reason = f"reduce_range={reduce_range} was requested explicitly"
        chosen, forced = reduce_range, True
    elif has_vnni(flags):
        found = ", ".join(f for f in VNNI_FLAGS if f in flags)
        reason = f"CPU has {found}: int8 dot products accumulate in int32, full 8-bit weights"
        chosen, forced = False, False
    elif "avx2" in flags or "avx512f" in flags:
        reason = (
            "x86 CPU without VNNI/AMX: ONNX Runtime's u8 x s8 kernels can saturate int16 "
            "sums, so weights use 7 bits (reduce_range), as its documentation advises"
        )
        chosen, forced = True, False
    else:
        reason = "no x86 AVX2/AVX-512 flags found (e.g. ARM): full 8-bit weights"
        chosen, forced = False, False
    return Int8Format(
        quant_format="QDQ",
        activation_type="int8",
        weight_type="int8",
        reduce_range=chosen,
        reason=reason,
        cpu_flags=relevant,
        forced=forced,
    )
