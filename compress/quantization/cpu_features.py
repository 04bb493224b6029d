"""Which int8 format suits this CPU: activation signedness and ``reduce_range``.

ONNX Runtime's x86 int8 kernels (MLAS) multiply *unsigned* activations by signed
weights (u8 x s8). Signed int8 activations (ORT's QDQ default) are shifted to u8 on the
fly, which costs time: on the AVX2 development machine a VGG11 DeepLab at 360x480 ran
int8 in 0.77-0.80x of fp32 latency with s8 activations and in 0.60x with u8 (timed
interleaved in one process; benchmarks/RESULTS.md). So x86 CPUs get u8 activations and
s8 per-channel weights.

Without VNNI, MLAS uses ``vpmaddubsw``, which adds two u8 x s8 products into a saturating
int16: full-range weights can overflow there, and ONNX Runtime's documentation advises
7-bit weights (``reduce_range``). Measured on the same machine, reduce_range changed
neither latency (0.60x either way) nor accuracy, so it stays on for non-VNNI x86 CPUs as
the documented guard. CPUs with AVX512-VNNI, AVX-VNNI or AMX accumulate in int32 and need
no such cut. The decision and its reason are recorded in every quantize result, with the
weight precision it means: ``weight_bits`` 8 (symmetric ``[-127, 127]``, scale
``max|w| / 127``) or 7 (``[-64, 64]``, scale ``max|w| / 64``), the grid ONNX Runtime's
quantizer uses and that bias correction simulates. On CamVid DeepLab-MobileNetV3, 7-bit
weights scored 0.4 point more val mIoU but agreed less with fp32 pixel by pixel than
8-bit ones (docs/quantization.md): no consistent winner, so the flags still decide;
``reduce_range: off`` gives 8-bit weights on any CPU.
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
    activation_type: str  # "uint8" on x86 (MLAS's u8 x s8 kernels), else "int8"
    weight_type: str  # "int8" (signed, symmetric)
    reduce_range: bool
    reason: str
    cpu_flags: tuple[str, ...]
    forced: bool = False  # reduce_range was given by the user, not detected
    weight_bits: int = 8  # 7 with reduce_range (ONNX Runtime's [-64, 64] weight grid)

    @property
    def weight_qmax(self) -> int:
        """The largest int8 weight level: 64 with ``reduce_range``, else 127."""
        return 64 if self.reduce_range else 127

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
        from compress.measure.environment import cpu_info

        flags = cpu_info().flags
    relevant = tuple(f for f in (*X86_SIMD_FLAGS, *VNNI_FLAGS) if f in flags)
    x86 = "avx2" in flags or "avx512f" in flags
    activations = "uint8" if x86 else "int8"
    if reduce_range is not None:
        bits = "7-bit" if reduce_range else "8-bit"
        reason = f"reduce_range={reduce_range} was requested explicitly: {bits} weights"
        chosen, forced = reduce_range, True
    elif has_vnni(flags):
        found = ", ".join(f for f in VNNI_FLAGS if f in flags)
        reason = f"CPU has {found}: int8 dot products accumulate in int32: 8-bit weights"
        chosen, forced = False, False
    elif x86:
        reason = (
            "x86 CPU without VNNI/AMX: u8 activations x s8 weights (ONNX Runtime's x86 "
            "kernels); 7-bit weights (reduce_range) so vpmaddubsw's int16 sums cannot "
            "saturate, as ONNX Runtime's documentation advises (reduce_range: off for 8 bits)"
        )
        chosen, forced = True, False
    else:
        reason = "no x86 AVX2/AVX-512 flags found (e.g. ARM): signed int8: 8-bit weights"
        chosen, forced = False, False
    return Int8Format(
        quant_format="QDQ",
        activation_type=activations,
        weight_type="int8",
        reduce_range=chosen,
        reason=reason,
        cpu_flags=relevant,
        forced=forced,
        weight_bits=7 if chosen else 8,
    )
